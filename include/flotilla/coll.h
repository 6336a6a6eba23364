/**
 * @file
 * @brief Communicators and collectives.
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
 * FLO_ETIMEDOUT. Either breaks the communicator: every later collective
 * on it fails with FLO_ECOMM, and flo_comm_status returns the failure.
 * A rank that dies therefore makes every survivor's collective fail
 * within the timeout instead of hanging (under Open MPI only when mpirun
 * was told to let the others run: docs/resilience.md). The survivors go
 * on with flo_comm_shrink, which makes a communicator of themselves; a
 * program can also break a communicator itself (flo_comm_abort).
 */
#ifndef FLOTILLA_COLL_H
#define FLOTILLA_COLL_H

#include <stddef.h>

#include "flotilla/array.h"
#include "flotilla/task.h"
#include "flotilla/types.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/**
 * @brief A communicator (opaque): a group of participants, each a
 * device of some rank, and the transport between them.
 */
typedef struct flo_comm flo_comm;

/** @brief Most local participants of one communicator. */
#define FLO_COMM_MAX_LOCAL 32

/**
 * @brief Create a communicator over every device of the process (and of
 * every rank).
 *
 * Its local participants are the GPUs when the CUDA backend is in use
 * (at most FLO_COMM_MAX_LOCAL of them), else the host device (device 0);
 * and, when rt was initialised with an MPI communicator, it spans those
 * of every rank. The transport is chosen as flo_comm_create_devices
 * does.
 *
 * Collective across ranks: every rank of the runtime's MPI communicator
 * must call it (in the same order as other collective creations).
 *
 * @param[in]  rt   the runtime.
 * @param[out] out  the communicator; written only on success.
 * @return FLO_OK; FLO_EINVAL for NULL arguments; FLO_EDEADLK from one of
 *         @p rt's worker threads; FLO_ETIMEDOUT when another rank did not
 *         take part within coll_timeout_s (it died, or does not call:
 *         every exchange of the creation, NCCL's included, is
 *         non-blocking and polled, so the call does not hang); FLO_ECOMM
 *         if NCCL or MPI failed to set up; FLO_ENOTSUP when
 * FLO_COLL_TRANSPORT=nccl asks for NCCL and the participants cannot use it;
 * FLO_EDEVICE for a CUDA error while NCCL is set up; FLO_ENOMEM, FLO_ESYS.
 * Nothing is left over on error.
 *
 * @par Thread-safety:
 * Thread-safe. Under MPI, the ranks must create their communicators in
 * the same order: threads of one rank that create communicators
 * concurrently make that order a race.
 * @par In a task:
 * Refused with FLO_EDEADLK (on any of @p rt's worker threads).
 */
flo_status flo_comm_create(flo_runtime *rt, flo_comm **out);

/**
 * @brief Create a communicator over chosen devices of this process.
 *
 * Its local participants are devs[0..n) (device indices as in
 * flo_device_count). A device may be listed more than once:
 * each listing is a participant of its own (e.g. several host
 * participants exchanging through shared memory). Ranks may pass
 * different n. When every participant of every rank is a GPU, listed
 * once and physically distinct from the others of its process, the
 * communicator uses NCCL; otherwise the host transport (data moves to
 * host memory). FLO_COLL_TRANSPORT=host forces the host transport.
 *
 * Collective across ranks, as flo_comm_create.
 *
 * @param[in]  rt    the runtime.
 * @param[in]  devs  n device indices, 0 .. flo_device_count(rt) - 1.
 * @param[in]  n     number of local participants, 1 ..
 *                   FLO_COMM_MAX_LOCAL.
 * @param[out] out   the communicator; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt, @p devs or @p out, n < 1,
 *         n > FLO_COMM_MAX_LOCAL or a device index out of range; as
 *         flo_comm_create otherwise.
 *
 * @par Thread-safety:
 * As flo_comm_create.
 * @par In a task:
 * Refused with FLO_EDEADLK (on any of @p rt's worker threads).
 */
flo_status flo_comm_create_devices(flo_runtime *rt, const int *devs, int n,
                                   flo_comm **out);

/**
 * @brief Wait for the collectives submitted on a communicator, then free
 * it (and its NCCL communicators).
 *
 * Collective across ranks when comm spans several. A hung collective
 * ends at the latest when it times out (coll_timeout_s), so the wait is
 * bounded. The collectives' own failures are not returned here: they
 * are in their events. Communicators left at flo_finalize are freed
 * there.
 *
 * @param[in] comm  the communicator; invalid once the call returned
 *                  FLO_OK.
 * @return FLO_OK; FLO_EINVAL for NULL; FLO_EDEADLK from one of its
 *         runtime's worker threads (nothing changes).
 *
 * @par Thread-safety:
 * Not thread-safe against other calls on the same communicator: the
 * program stops using comm (on every thread) before it destroys it.
 * @par In a task:
 * Refused with FLO_EDEADLK (on any of the runtime's worker threads).
 */
flo_status flo_comm_destroy(flo_comm *comm);

/**
 * @brief Abort a communicator: break it, and end its collectives in
 * flight.
 *
 * Every collective of comm not yet finished fails with FLO_ECOMM (its
 * event says so), every later one is refused with FLO_ECOMM, and
 * flo_comm_status returns FLO_ECOMM (or the failure that had broken comm
 * already). NCCL communicators are aborted (ncclCommAbort), which ends
 * their kernels; a host-transport collective waiting for MPI stops
 * waiting at its next poll and abandons its MPI request. Local: the other
 * ranks see their collectives time out (or fail) and should shrink or
 * abort as well. comm stays to be destroyed (flo_comm_destroy) or shrunk
 * (flo_comm_shrink).
 *
 * @param[in] comm  the communicator.
 * @return FLO_OK (also when comm was broken or aborted already);
 *         FLO_EINVAL for a NULL @p comm.
 *
 * @par Thread-safety:
 * Thread-safe, also against collectives on comm from other threads.
 * @par In a task:
 * Allowed (it waits for no task; aborting NCCL communicators may take
 * as long as NCCL takes to stop their kernels).
 */
flo_status flo_comm_abort(flo_comm *comm);

/**
 * @brief Whether a communicator is usable, and if not, why.
 *
 * A communicator breaks at its first failure (a collective that failed or
 * timed out, flo_comm_abort, an injected fault, flo_comm_shrink having
 * replaced it) and stays broken: this returns that failure's status from
 * then on.
 *
 * @param[in]  comm  the communicator.
 * @param[out] msg   buffer for the failure's message ("" while usable),
 *                   or NULL when @p len is 0.
 * @param[in]  len   size of @p msg in bytes (the message is truncated to
 *                   fit, NUL-terminated).
 * @return FLO_OK while comm is usable; FLO_ETIMEDOUT (a collective did
 *         not complete within coll_timeout_s) or FLO_ECOMM (an NCCL or
 *         MPI error, flo_comm_abort, an injected error, replaced by
 *         flo_comm_shrink), or the submission error that broke it, once
 *         broken; FLO_EINVAL for a NULL @p comm, or a NULL @p msg with a
 *         nonzero @p len.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_comm_status(flo_comm *comm, char *msg, size_t len);

/**
 * @brief Make a communicator of the surviving ranks of comm, to go on
 * after a rank died.
 *
 * The new communicator has the ranks of comm less the excluded ones, in
 * the same order (renumbered from 0), each with the same local
 * participants as in comm; its participants are numbered as usual over
 * the new ranks. Collective over the survivors: each of them calls it
 * (its collectives on comm finished or failed, typically after one failed
 * with FLO_ETIMEDOUT), within coll_timeout_s of the others.
 *
 * With @p exclude_ranks NULL (and n 0) the survivors find each other:
 * a rank that does not answer within coll_timeout_s is left out, so the
 * call takes that long when a rank died. With a list, every survivor
 * must pass the same ranks (the empty list, n 0, rebuilds comm over all
 * its ranks, after a failure that killed nobody); the call checks that
 * the survivors agree before it creates anything. Over MPI the survivors
 * agree by point-to-point messages bounded by coll_timeout_s, then
 * create their MPI communicator with MPI_Comm_create_group. Over NCCL
 * the communicators are shrunk with ncclCommShrink (NCCL 2.27 and later;
 * NCCL_SHRINK_ABORT when comm is broken) while comm's were not aborted
 * and a rank is left out, else created anew; with one process (no MPI) only the
 * rebuild is possible (there is no other rank).
 *
 * On success comm is replaced: it is broken (FLO_ECOMM, unless a failure
 * broke it before) and stays to be destroyed (flo_comm_destroy), which
 * waits for its collectives in flight as usual. On failure nothing is
 * created and comm is as it was, except that a failed NCCL shrink aborts
 * comm's NCCL communicators.
 *
 * @param[in]  comm           the communicator (broken or not).
 * @param[in]  exclude_ranks  ranks of comm (0 .. flo_comm_nranks(comm) -
 *                            1, each once, not the caller's) to leave
 *                            out, or NULL to leave out those that do not
 *                            answer.
 * @param[in]  n              number of entries of @p exclude_ranks (0
 *                            when it is NULL), less than
 *                            flo_comm_nranks(comm).
 * @param[out] out            the new communicator; written only on
 *                            success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p comm or @p out, a bad list
 *         (out of range, the caller's own rank, a duplicate, n < 0, n not
 *         0 with a NULL list, or every rank excluded); FLO_EDEADLK from
 *         one of the runtime's worker threads; FLO_ETIMEDOUT when a rank
 *         counted as a survivor did not answer within coll_timeout_s;
 *         FLO_ECOMM when the survivors disagree on who survives or MPI or
 *         NCCL failed; FLO_EDEVICE for a CUDA error; FLO_ENOMEM, FLO_ESYS.
 *
 * @par Thread-safety:
 * Thread-safe against calls on other communicators. Not against other
 * calls on comm: the program stops submitting collectives on comm (on
 * every thread) before it shrinks it.
 * @par In a task:
 * Refused with FLO_EDEADLK (on any of the runtime's worker threads).
 */
flo_status flo_comm_shrink(flo_comm *comm, const int *exclude_ranks, int n,
                           flo_comm **out);

/**
 * @brief This process's rank in the communicator.
 *
 * The rank among the processes of comm (its MPI communicator's rank; 0
 * without MPI). A shrunk communicator numbers its ranks anew.
 *
 * @param[in] comm  the communicator.
 * @return the rank; -1 for a NULL @p comm.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
int flo_comm_rank(const flo_comm *comm);

/**
 * @brief Number of processes (ranks) of the communicator.
 *
 * @param[in] comm  the communicator.
 * @return the number of ranks (1 without MPI); -1 for a NULL @p comm.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
int flo_comm_nranks(const flo_comm *comm);

/**
 * @brief Number of participants over all ranks.
 *
 * @param[in] comm  the communicator.
 * @return the number of participants; -1 for a NULL @p comm.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
int flo_comm_size(const flo_comm *comm);

/**
 * @brief Number of participants of this process (local participants).
 *
 * @param[in] comm  the communicator.
 * @return the number of local participants; -1 for a NULL @p comm.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
int flo_comm_local_size(const flo_comm *comm);

/**
 * @brief Global index of this process's first participant.
 *
 * Local participant i has global index flo_comm_first(comm) + i.
 *
 * @param[in] comm  the communicator.
 * @return the index; -1 for a NULL @p comm.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
int flo_comm_first(const flo_comm *comm);

/**
 * @brief Device of each local participant.
 *
 * @param[in]  comm  the communicator.
 * @param[out] devs  array of at least flo_comm_local_size(comm) entries:
 *                   the device index of each local participant, in local
 *                   order.
 * @return FLO_OK; FLO_EINVAL for a NULL @p comm or @p devs.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
flo_status flo_comm_local_devices(const flo_comm *comm, int *devs);

/**
 * @brief Name of the transport in use.
 *
 * @param[in] comm  the communicator.
 * @return a static string: "nccl" or "host"; "?" for a NULL @p comm.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
const char *flo_comm_transport(const flo_comm *comm);

/**
 * @brief The communicator's own MPI communicator, for the program's own
 * MPI calls on the same ranks.
 *
 * A duplicate, owned by comm: do not free it; it is freed with comm.
 * Read it with flo_mpi_comm_unwrap (flotilla/mpi.h).
 *
 * @param[in]  comm  the communicator.
 * @param[out] out   the MPI communicator; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p comm or @p out; FLO_ENOTSUP
 *         when the build has no MPI or the runtime was not initialised
 *         with an MPI communicator.
 *
 * @par Thread-safety:
 * Thread-safe. What the program does with the MPI communicator follows
 * MPI's rules (Flotilla uses it only to create and free it).
 * @par In a task:
 * Allowed.
 */
flo_status flo_comm_get_mpi(const flo_comm *comm, flo_mpi_comm *out);

/**
 * @name Collectives
 *
 * The collectives, all named flo_coll_<operation>. In all of them:
 *  - send / recv / buf are arrays of flo_comm_local_size(comm) handles,
 *    one per local participant, in local order;
 *  - count is in elements of dtype; a handle must hold at least the bytes
 *    the operation touches in it (only that prefix is read or written);
 *  - count may be 0 (the collective still orders with other tasks);
 *  - a send and a recv handle may be the same handle (in place);
 *  - out receives an event that completes when the collective has
 *    finished on every local participant (NULL if not wanted).
 *
 * Return codes: FLO_OK; FLO_EINVAL for a NULL comm or array, a bad dtype,
 * op or root, a NULL or too-small handle (a count whose size in bytes
 * overflows included); FLO_ERANGE when a host-transport collective
 * between ranks would exceed MPI's int counts; FLO_ESTALE / FLO_EFOREIGN
 * for a bad handle; FLO_ECOMM when the communicator is broken; the
 * errors of flo_task_submit (FLO_ENOMEM, ...). On error nothing was
 * submitted, except when a submission fails after part of the collective
 * was submitted (some GPUs of an NCCL communicator): the call then
 * breaks the communicator (later collectives on it: FLO_ECOMM). Failures
 * of the collective itself are reported through the event (FLO_ECOMM,
 * FLO_ETIMEDOUT, FLO_EDEVICE).
 *
 * Thread-safety: thread-safe; the submissions of collectives are
 * serialised per runtime. In a task: allowed (they submit tasks and wait
 * for nothing).
 * @{
 */

/**
 * @brief All-reduce: recv_p[i] = op over all participants q of
 * send_q[i], for i < count.
 *
 * @param[in]  comm   the communicator.
 * @param[in]  send   one handle per local participant: count elements
 *                    read.
 * @param[in]  recv   one handle per local participant: count elements
 *                    written (may be the send handle: in place).
 * @param[in]  count  elements per participant.
 * @param[in]  dtype  element type.
 * @param[in]  op     reduction operator.
 * @param[out] out    event of the collective, or NULL.
 * @return see Collectives above.
 *
 * @par Thread-safety:
 * Thread-safe (see Collectives above).
 * @par In a task:
 * Allowed.
 */
flo_status flo_coll_allreduce(flo_comm *comm, const flo_data *send,
                              const flo_data *recv, size_t count,
                              flo_dtype dtype, flo_redop op, flo_event *out);

/**
 * @brief Reduce to one participant: as flo_coll_allreduce, but only
 * participant root (a global index) receives.
 *
 * @param[in]  comm   the communicator.
 * @param[in]  send   one handle per local participant: count elements
 *                    read.
 * @param[in]  recv   one handle per local participant; only root's is
 *                    written (count elements), the others are ignored
 *                    (FLO_DATA_NULL is fine).
 * @param[in]  count  elements per participant.
 * @param[in]  dtype  element type.
 * @param[in]  op     reduction operator.
 * @param[in]  root   global index of the receiving participant, 0 ..
 *                    flo_comm_size(comm) - 1.
 * @param[out] out    event of the collective, or NULL.
 * @return see Collectives above.
 *
 * @par Thread-safety:
 * Thread-safe (see Collectives above).
 * @par In a task:
 * Allowed.
 */
flo_status flo_coll_reduce(flo_comm *comm, const flo_data *send,
                           const flo_data *recv, size_t count, flo_dtype dtype,
                           flo_redop op, int root, flo_event *out);

/**
 * @brief Broadcast, in place: buf_p[i] = buf_root[i] for every
 * participant p and i < count.
 *
 * @param[in]  comm   the communicator.
 * @param[in]  buf    one handle per local participant: count elements,
 *                    read at root, written elsewhere.
 * @param[in]  count  elements.
 * @param[in]  dtype  element type.
 * @param[in]  root   global index of the sending participant, 0 ..
 *                    flo_comm_size(comm) - 1.
 * @param[out] out    event of the collective, or NULL.
 * @return see Collectives above.
 *
 * @par Thread-safety:
 * Thread-safe (see Collectives above).
 * @par In a task:
 * Allowed.
 */
flo_status flo_coll_broadcast(flo_comm *comm, const flo_data *buf, size_t count,
                              flo_dtype dtype, int root, flo_event *out);

/**
 * @brief All-gather: recv_p[q * count + i] = send_q[i].
 *
 * @param[in]  comm   the communicator.
 * @param[in]  send   one handle per local participant: count elements
 *                    read.
 * @param[in]  recv   one handle per local participant:
 *                    flo_comm_size(comm) * count elements written.
 * @param[in]  count  elements each participant contributes.
 * @param[in]  dtype  element type.
 * @param[out] out    event of the collective, or NULL.
 * @return see Collectives above.
 *
 * @par Thread-safety:
 * Thread-safe (see Collectives above).
 * @par In a task:
 * Allowed.
 */
flo_status flo_coll_allgather(flo_comm *comm, const flo_data *send,
                              const flo_data *recv, size_t count,
                              flo_dtype dtype, flo_event *out);

/**
 * @brief Reduce-scatter: recv_p[i] = op over q of send_q[p * count + i].
 *
 * @param[in]  comm   the communicator.
 * @param[in]  send   one handle per local participant:
 *                    flo_comm_size(comm) * count elements read.
 * @param[in]  recv   one handle per local participant: count elements
 *                    written.
 * @param[in]  count  elements each participant receives.
 * @param[in]  dtype  element type.
 * @param[in]  op     reduction operator.
 * @param[out] out    event of the collective, or NULL.
 * @return see Collectives above.
 *
 * @par Thread-safety:
 * Thread-safe (see Collectives above).
 * @par In a task:
 * Allowed.
 */
flo_status flo_coll_reduce_scatter(flo_comm *comm, const flo_data *send,
                                   const flo_data *recv, size_t count,
                                   flo_dtype dtype, flo_redop op,
                                   flo_event *out);

/**
 * @brief Prefix scan across participants.
 *
 * The sequence is the concatenation, in global
 * participant order, of the first counts[i] elements of every send_i;
 * participant i's part of the scanned sequence goes to recv_i. Parts may
 * differ in length and may be empty (counts[i] == 0). FLO_SCAN_INCLUSIVE
 * or FLO_SCAN_EXCLUSIVE: the first element of the exclusive scan is op's
 * identity (0; 1; the largest value, +inf for floating types; the
 * lowest, -inf for floating types).
 *
 * @param[in]  comm    the communicator.
 * @param[in]  send    one handle per local participant: counts[i]
 *                     elements read.
 * @param[in]  recv    one handle per local participant: counts[i]
 *                     elements written.
 * @param[in]  counts  one count per local participant.
 * @param[in]  dtype   element type.
 * @param[in]  op      reduction operator.
 * @param[in]  kind    FLO_SCAN_INCLUSIVE or FLO_SCAN_EXCLUSIVE (any other
 *                     value: FLO_EINVAL).
 * @param[out] out     event of the collective, or NULL.
 * @return see Collectives above; FLO_EINVAL for a NULL @p counts.
 *
 * @par Thread-safety:
 * Thread-safe (see Collectives above).
 * @par In a task:
 * Allowed.
 */
flo_status flo_coll_scan(flo_comm *comm, const flo_data *send,
                         const flo_data *recv, const size_t *counts,
                         flo_dtype dtype, flo_redop op, flo_scan_kind kind,
                         flo_event *out);

/** @} */

/* ---- Arrays spread across ranks ---------------------------------------- */

/**
 * @name Arrays spread across ranks
 *
 * Under MPI each rank holds its part of a global array as a flo_array of
 * its own elements (any length, 0 included); the global array is the
 * concatenation of the parts in rank order. These calls are collective
 * over comm's ranks (same order on every rank, like the collectives
 * above); with one rank they are the local algorithm.
 * @{
 */

/**
 * @brief Reduce an array spread across ranks; every rank gets the
 * result.
 *
 * The local reduction (flo_array_reduce), then
 * an all-reduce of the per-rank values between ranks. Every rank gets the
 * global result in result (one value of a's type at offset 0; the
 * identity when the global array is empty).
 *
 * @param[in]  comm    the communicator (its ranks).
 * @param[in]  a       this rank's part.
 * @param[in]  op      reduction operator.
 * @param[in]  result  handle of at least 8 bytes: receives the result.
 * @param[out] ev      event of the whole reduction, or NULL.
 * @return FLO_OK; FLO_EINVAL for a NULL @p comm or @p a, a bad op, a
 *         @p result smaller than 8 bytes; FLO_ESTALE / FLO_EFOREIGN /
 *         FLO_EINVAL for a bad @p result; FLO_ECOMM when comm is broken;
 *         the errors of flo_array_reduce. A failure to submit the
 *         exchange between ranks, once the local part is submitted,
 *         breaks comm.
 *
 * @par Thread-safety:
 * Thread-safe (serialised with the collectives).
 * @par In a task:
 * Allowed (it waits for nothing).
 */
flo_status flo_array_reduce_global(flo_comm *comm, flo_array *a, flo_redop op,
                                   flo_data result, flo_event *ev);

/**
 * @brief Blocking form of flo_array_reduce_global: *value gets the
 * result.
 *
 * @param[in]  comm   the communicator (its ranks).
 * @param[in]  a      this rank's part.
 * @param[in]  op     reduction operator.
 * @param[out] value  one element of a's type; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p comm or @p value; the errors
 *         of flo_data_register, flo_array_reduce_global and
 *         flo_event_wait (the reduction's status).
 *
 * @par Thread-safety:
 * Thread-safe (serialised with the collectives).
 * @par In a task:
 * Must not be called: it waits (FLO_EDEADLK), after submitting the
 * reduction.
 */
flo_status flo_array_reduce_global_sync(flo_comm *comm, flo_array *a,
                                        flo_redop op, void *value);

/**
 * @brief Prefix scan of an array spread across ranks.
 *
 * Local totals (flo_array_reduce), an exclusive
 * scan of the totals between ranks (rank 0 gets the identity), and the
 * local scan seeded with that carry (flo_array_scan_carry) in one pass.
 * out and x are this rank's parts (out may be x).
 *
 * @param[in]  comm  the communicator (its ranks).
 * @param[in]  out   this rank's part of the output (written).
 * @param[in]  x     this rank's part of the input (read).
 * @param[in]  op    reduction operator.
 * @param[in]  kind  FLO_SCAN_INCLUSIVE or FLO_SCAN_EXCLUSIVE.
 * @param[out] ev    event of the local scan, or NULL.
 * @return as flo_array_scan (FLO_EINVAL also for a NULL @p comm);
 *         FLO_ECOMM when comm is broken. A failure to submit the local
 *         scan after the exchange between ranks breaks comm.
 *
 * @par Thread-safety:
 * Thread-safe (serialised with the collectives).
 * @par In a task:
 * Allowed (it waits for nothing).
 */
flo_status flo_array_scan_global(flo_comm *comm, flo_array *out, flo_array *x,
                                 flo_redop op, flo_scan_kind kind,
                                 flo_event *ev);

/** @} */

FLO_END_DECLS
#endif
