/*
 * Flotilla - communicators and collectives.
 *
 * A communicator groups participants: by default every device of the
 * process (the GPUs, or the host when there is none) and, when the runtime
 * was initialised with an MPI communicator, every such device of every
 * rank. Participants are numbered globally: rank 0's local participants
 * first (in local order), then rank 1's, and so on.
 *
 * A collective takes one data handle per local participant (in local
 * order) and is submitted as tasks on those handles, so it is ordered with
 * the tasks around it by the usual access-mode rules: a task submitted
 * before that writes a send buffer runs first, a task submitted after that
 * reads a receive buffer waits for the collective. GPU memory goes over
 * NCCL; host memory over the host transport (shared memory within the
 * process, MPI between processes).
 *
 * Ordering rule (as with MPI and NCCL): every rank must issue the
 * collectives of one communicator in the same order. Within a process,
 * collective calls on one communicator are serialised.
 *
 * Failure: NCCL asynchronous errors and MPI errors fail the collective
 * (FLO_ECOMM); a collective that does not complete within the runtime's
 * coll_timeout_s (FLO_COLL_TIMEOUT, default 300 s) fails with
 * FLO_ETIMEDOUT and breaks the communicator: every later collective on it
 * fails with FLO_ECOMM. Destroy it and create a new one.
 */
#ifndef FLOTILLA_COLL_H
#define FLOTILLA_COLL_H

#include <stddef.h>

#include "flotilla/array.h"
#include "flotilla/task.h"
#include "flotilla/types.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** A communicator (opaque). */
typedef struct flo_comm flo_comm;

/** Most local participants of one communicator. */
#define FLO_COMM_MAX_LOCAL 32

/**
 * Create a communicator over every device of the process: the GPUs when
 * the CUDA backend is in use, else the host device (device 0); and, when
 * rt was initialised with an MPI communicator, over those of every rank.
 *
 * Collective across ranks: every rank of the runtime's MPI communicator
 * must call it (in the same order as other collective creations).
 *
 * @param rt   the runtime.
 * @param out  the communicator; written only on success.
 * @return FLO_OK; FLO_EINVAL for NULL arguments; FLO_ECOMM if NCCL or MPI
 *         failed to set up; FLO_ENOMEM. Nothing is left over on error.
 * Thread-safe; not from inside a task (FLO_EDEADLK).
 */
flo_status flo_comm_create(flo_runtime *rt, flo_comm **out);

/**
 * Create a communicator whose local participants are devs[0..n) (device
 * indices as in flo_device_count). A device may be listed more than once:
 * each listing is a participant of its own (e.g. several host
 * participants exchanging through shared memory). Ranks may pass
 * different n. When every participant of every rank is a GPU, listed
 * once and physically distinct from the others of its process, the
 * communicator uses NCCL; otherwise the host transport (data moves to
 * host memory). FLO_COLL_TRANSPORT=host forces the host transport.
 *
 * @return FLO_OK; FLO_EINVAL for NULL, n < 1, n > FLO_COMM_MAX_LOCAL or a
 *         device index out of range; as flo_comm_create otherwise.
 * Thread-safe; collective across ranks; not from inside a task.
 */
flo_status flo_comm_create_devices(flo_runtime *rt, const int *devs, int n,
                                   flo_comm **out);

/**
 * Wait for the collectives submitted on comm, then free it (and its NCCL
 * communicators). Collective across ranks when comm spans several.
 * @return FLO_OK, FLO_EINVAL for NULL, FLO_EDEADLK from inside a task.
 */
flo_status flo_comm_destroy(flo_comm *comm);

/** Participants over all ranks, or -1 for NULL. */
int flo_comm_size(const flo_comm *comm);

/** Participants of this process, or -1 for NULL. */
int flo_comm_local_size(const flo_comm *comm);

/** Global index of this process's first participant, or -1 for NULL. */
int flo_comm_first(const flo_comm *comm);

/**
 * Device of each local participant.
 * @param devs  array of at least flo_comm_local_size(comm) entries.
 * @return FLO_OK, FLO_EINVAL for NULL.
 */
flo_status flo_comm_local_devices(const flo_comm *comm, int *devs);

/** Name of the transport in use: "nccl" or "host". */
const char *flo_comm_transport(const flo_comm *comm);

/**
 * The communicator's own MPI communicator (a duplicate, owned by comm:
 * do not free it), for the program's own MPI calls on the same ranks.
 * Read it with flo_mpi_comm_unwrap (flotilla/mpi.h).
 *
 * @param out  written only on success.
 * @return FLO_OK; FLO_EINVAL for NULL; FLO_ENOTSUP when the build has no
 *         MPI or the runtime was not initialised with an MPI communicator.
 * Thread-safe; may be called from inside a task.
 */
flo_status flo_comm_get_mpi(const flo_comm *comm, flo_mpi_comm *out);

/*
 * The collectives, all named flo_coll_<operation>. In all of them:
 *  - send / recv / buf are arrays of flo_comm_local_size(comm) handles,
 *    one per local participant, in local order;
 *  - count is in elements of dtype; a handle must hold at least the bytes
 *    the operation touches in it (only that prefix is read or written);
 *  - count may be 0 (the collective still orders with other tasks);
 *  - a send and a recv handle may be the same handle (in place);
 *  - out receives an event that completes when the collective has
 *    finished on every local participant (NULL if not wanted).
 * Return codes: FLO_OK; FLO_EINVAL for a NULL comm or array, a bad dtype,
 * op or root, a NULL or too-small handle (a count whose size in bytes
 * overflows included); FLO_ERANGE when a host-transport collective
 * between ranks would exceed MPI's int counts; FLO_ESTALE / FLO_EFOREIGN
 * for a bad handle; FLO_ECOMM when the communicator is broken. On error nothing
 * was submitted. Thread-safe (serialised per communicator); callable from
 * inside a task. Failures of the collective itself are reported through
 * the event (FLO_ECOMM, FLO_ETIMEDOUT, FLO_EDEVICE).
 */

/** recv_p[i] = op over all participants q of send_q[i], i < count. */
flo_status flo_coll_allreduce(flo_comm *comm, const flo_data *send,
                              const flo_data *recv, size_t count,
                              flo_dtype dtype, flo_redop op, flo_event *out);

/**
 * As flo_coll_allreduce, but only participant root (a global index)
 * receives. recv entries of other participants are ignored
 * (FLO_DATA_NULL is fine).
 */
flo_status flo_coll_reduce(flo_comm *comm, const flo_data *send,
                           const flo_data *recv, size_t count,
                           flo_dtype dtype, flo_redop op, int root,
                           flo_event *out);

/** In place: buf_p[i] = buf_root[i] for every participant p. */
flo_status flo_coll_broadcast(flo_comm *comm, const flo_data *buf,
                              size_t count, flo_dtype dtype, int root,
                              flo_event *out);

/**
 * recv_p[q * count + i] = send_q[i]: recv handles hold size * count
 * elements, send handles count.
 */
flo_status flo_coll_allgather(flo_comm *comm, const flo_data *send,
                              const flo_data *recv, size_t count,
                              flo_dtype dtype, flo_event *out);

/**
 * recv_p[i] = op over q of send_q[p * count + i]: send handles hold
 * size * count elements, recv handles count.
 */
flo_status flo_coll_reduce_scatter(flo_comm *comm, const flo_data *send,
                                   const flo_data *recv, size_t count,
                                   flo_dtype dtype, flo_redop op,
                                   flo_event *out);

/**
 * Scan across participants: the sequence is the concatenation, in global
 * participant order, of the first counts[i] elements of every send_i;
 * participant i's part of the scanned sequence goes to recv_i. Parts may
 * differ in length and may be empty (counts[i] == 0). FLO_SCAN_INCLUSIVE
 * or FLO_SCAN_EXCLUSIVE: the first element of the exclusive scan is op's
 * identity (0; 1; the largest value, +inf for floating types; the
 * lowest, -inf for floating types).
 *
 * @param counts  one count per local participant.
 * @param kind    FLO_SCAN_INCLUSIVE or FLO_SCAN_EXCLUSIVE (any other
 *                value: FLO_EINVAL).
 */
flo_status flo_coll_scan(flo_comm *comm, const flo_data *send,
                         const flo_data *recv, const size_t *counts,
                         flo_dtype dtype, flo_redop op, flo_scan_kind kind,
                         flo_event *out);

/* ---- Arrays spread across ranks ---------------------------------------- */

/*
 * Under MPI each rank holds its part of a global array as a flo_array of
 * its own elements (any length, 0 included); the global array is the
 * concatenation of the parts in rank order. These calls are collective
 * over comm's ranks (same order on every rank, like the collectives
 * above); with one rank they are the local algorithm.
 */

/**
 * Reduce the global array: the local reduction (flo_array_reduce), then
 * an all-reduce of the per-rank values between ranks. Every rank gets the
 * global result in result (one value of a's type at offset 0; the
 * identity when the global array is empty).
 *
 * @return FLO_OK; FLO_EINVAL (NULL, bad op, result too small); errors of
 *         flo_array_reduce; FLO_ECOMM when comm is broken. Thread-safe.
 */
flo_status flo_array_reduce_global(flo_comm *comm, flo_array *a,
                                   flo_redop op, flo_data result,
                                   flo_event *ev);

/** Blocking form of flo_array_reduce_global: *value gets the result. */
flo_status flo_array_reduce_global_sync(flo_comm *comm, flo_array *a,
                                        flo_redop op, void *value);

/**
 * Scan the global array: local totals (flo_array_reduce), an exclusive
 * scan of the totals between ranks (rank 0 gets the identity), and the
 * local scan seeded with that carry (flo_array_scan_carry) in one pass.
 * out and x are this rank's parts (out may be x).
 *
 * @return as flo_array_scan; FLO_ECOMM when comm is broken. Thread-safe.
 */
flo_status flo_array_scan_global(flo_comm *comm, flo_array *out,
                                 flo_array *x, flo_redop op,
                                 flo_scan_kind kind, flo_event *ev);

FLO_END_DECLS
#endif
