/*
 * Flotilla - communicators: private state shared by the transports
 * (host, nccl) and the MPI layer. Element-wise arithmetic is that of
 * collectives/elem/elem.h. Not installed.
 */
#ifndef FLO_COLL_COMM_INTERNAL_H
#define FLO_COLL_COMM_INTERNAL_H

#include "collectives/elem/elem.h"
#include "flo_build_config.h"
#include "scheduler/sched.h"

typedef struct flo__cmpi flo__cmpi;

enum flo__coll_kind {
    FLO__COLL_ALLREDUCE = 0,
    FLO__COLL_REDUCE,
    FLO__COLL_BCAST,
    FLO__COLL_ALLGATHER,
    FLO__COLL_REDUCE_SCATTER,
    FLO__COLL_SCAN,
    FLO__COLL_KIND_COUNT
};

/* A validated collective call, as the transports receive it. */
typedef struct flo__coll_op {
    int kind;
    flo_dtype dtype;
    flo_redop op;
    int root;      /* Global participant index (reduce, bcast). */
    int exclusive; /* Scan. */
    size_t count;  /* As passed (per-participant counts for scan). */
    const flo_data *send, *recv; /* recv == send for broadcast. */
    const size_t *counts;        /* Scan only. */
    int fault;         /* FLO__CFAULT_* injected into it (flo__comm_fault). */
    uint32_t stall_ms; /* Its stall (FLO__CFAULT_STALL). */
} flo__coll_op;

typedef struct flo__transport_ops {
    const char *name;
    /* Set up transport state in c->tpriv (collective across ranks). */
    flo_status (*init)(flo_comm *c);
    /* Called once no task of c is left (c->users == 0). */
    void (*fini)(flo_comm *c);
    /* Submit op's tasks. Called under c->submit_mu, after validation. */
    flo_status (*submit)(flo_comm *c, const flo__coll_op *op, flo_event *out);
    /* Optional. Make the tasks of c that are stuck in a transfer end
     * soon (c is broken already). NULL: they watch c->broken. Any
     * thread; must not wait for tasks. */
    void (*abort)(flo_comm *c);
    /* Optional. Set up c (a communicator of the survivors of parent,
     * whose layout is known) from parent's transport state; gone[r] for
     * every rank r of parent that is not in c. Collective across c's
     * ranks. NULL: init. */
    flo_status (*shrink)(flo_comm *c, flo_comm *parent, const uint8_t *gone);
} flo__transport_ops;

extern const flo__transport_ops flo__transport_host;
#if FLO_HAVE_NCCL
extern const flo__transport_ops flo__transport_nccl;
/* A process-independent id of each GPU (from its PCI bus id), so that
 * ranks can tell whether they share a GPU. FLO_OK or FLO_EDEVICE. */
flo_status flo__nccl_gpu_ids(const int *ordinals, int n, uint64_t *ids);
#endif

/* Process-wide collectives state of one runtime (rt->coll). */
typedef struct flo__coll_reg {
    pthread_mutex_t mu; /* Guards head and seq[] creation. */
    flo_comm *head;     /* Live communicators. */
    /* Serialises the submissions of every communicator, so that the
     * collective tasks of all communicators enter each device in one
     * order: NCCL kernels of two communicators on one GPU, or MPI calls
     * of two communicators on one host worker, can then never wait for
     * each other in a cycle. Lock order: submit_mu, then mu. */
    pthread_mutex_t submit_mu;
    /* Per device (memory node): a hidden 64-byte handle that every
     * collective task on that device accesses in READ_WRITE mode. */
    flo_data seq[FLO__MAX_NODES];
} flo__coll_reg;

struct flo_comm {
    flo_runtime *rt;
    flo__coll_reg *reg;
    const flo__transport_ops *ops;
    int nlocal;                   /* Local participants. */
    int devs[FLO_COMM_MAX_LOCAL]; /* Their devices. */
    int size;                     /* Participants over all ranks. */
    int first;                    /* Global index of local 0. */
    int rank, nranks;             /* MPI rank / size (0 / 1). */
    int *rank_first;              /* nranks + 1 participant offsets. */
    flo__cmpi *mpi;               /* Per-communicator MPI, or NULL. */
    void *tpriv;                  /* Transport state. */

    uint64_t ncoll; /* Collectives submitted (reg->submit_mu). */

    /* Tasks of c not yet completed (their callbacks decrement it):
     * destroy waits for 0 before freeing what they point to. */
    atomic_long users;

    /* Once set (first failure wins, under broken_mu), every collective
     * fails with FLO_ECOMM. broken_from: first collective number that
     * the failure may have affected. */
    atomic_int broken;
    pthread_mutex_t broken_mu;
    flo_status broken_status;
    uint64_t broken_from;
    char broken_msg[256];

    /* Host transport scratch: used only by the host tasks of c, and
     * those are serialised by the host's sequence handle: no lock. */
    void *scratch;
    size_t scratch_bytes;

    /* Per-rank total of flo_array_scan_global (8 bytes), created on
     * first use under reg->submit_mu; successive scans are ordered on it
     * by the usual access rules. */
    flo_data gtotal;

    struct flo_comm *next; /* Registry list (flo__coll_reg). */
};

/* Mark c broken (first call wins). */
void flo__comm_break(flo_comm *c, flo_status st, uint64_t from, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
/* The fault the rules (rt->faults) inject into the collective c is about
 * to submit: its number c->ncoll on c, asked for this process's rank in
 * the runtime's communicator (rt->mpi_rank, which shrinking does not
 * change). FLO__CFAULT_NONE at the cost of one load when there are no
 * rules. Caller holds reg->submit_mu. */
void flo__comm_fault_pick(flo_comm *c, int *fault, uint32_t *stall_ms);
/* Act on the fault injected into collective cid (op.fault, decided at
 * submission), in a task of c about to take part in it: a stall sleeps
 * and returns false; an error breaks c, fails the task with FLO_ECOMM and
 * returns true (the task stops there); a drop ends the process
 * (_exit(86)), as a rank that died. */
bool flo__comm_fault(flo_comm *c, flo_task_ctx *ctx, uint64_t cid, int fault,
                     uint32_t stall_ms);
/* The memory of an MPI exchange that failed (c->scratch) may still be
 * written by MPI (a late rank completes the abandoned request): give it
 * up, never to be freed, so that nothing else uses it. Host task only. */
void flo__comm_scratch_abandon(flo_comm *c);
/* Timeout of collectives in ns (cfg.coll_timeout_s, 0 -> 300 s). */
uint64_t flo__comm_timeout_ns(const flo_comm *c);
/* Completion callback for every task submitted for c: arg is c. */
void flo__comm_task_done(void *arg, flo_status st);
/* Submit a task on c's behalf: c counts it as a user until its callback
 * (which the caller set: flo__comm_task_done or one that ends with the
 * same decrement) runs; nothing is counted when submission fails. */
flo_status flo__comm_submit(flo_comm *c, const flo_task_desc *desc,
                            flo_event *out);
/* The same for the join of a collective's per-GPU tasks: a failed one
 * finishes it with its own status and message (FLO_ECOMM, ...), not
 * FLO_ECANCELED (flo__task_submit_inherit). */
flo_status flo__comm_submit_join(flo_comm *c, const flo_task_desc *desc,
                                 flo_event *out);
/* WRITE when a collective overwrites all of h (bytes == its size), else
 * READ_WRITE so that the bytes past what it writes are kept. */
flo_access flo__comm_write_mode(const flo_comm *c, flo_data h, size_t bytes);
/* Grow c->scratch to at least bytes (host task only). */
flo_status flo__comm_scratch(flo_comm *c, size_t bytes, void **out);

/* ---- MPI ---------------------------------------------------------------
 *
 * The MPI transport is an ops table (flo__mpi_transport, mpi.c, built
 * only with MPI). The functions below reach it through the one place that
 * knows whether this build has it (cmpi.c); without MPI they answer as
 * their comments say (FLO_ENOTSUP, with a message in err for the data
 * collectives). */

typedef struct flo__mpi_ops {
    const char *name;
    flo_status (*setup)(flo_runtime *rt);
    flo_status (*create)(flo_runtime *rt, uint64_t timeout_ns,
                         const atomic_int *cancel, flo__cmpi **out);
    flo_status (*shrink)(flo__cmpi *m, const int *exclude, int nexclude,
                         uint64_t timeout_ns, const atomic_int *cancel,
                         flo__cmpi **out, uint8_t *gone);
    void (*destroy)(flo__cmpi *m);
    int (*rank)(const flo__cmpi *m);
    int (*size)(const flo__cmpi *m);
    flo_status (*get)(const flo__cmpi *m, flo_mpi_comm *out);
    flo_status (*allgather_int)(flo__cmpi *m, int v, int *all);
    flo_status (*allreduce_min_int)(flo__cmpi *m, int *v);
    flo_status (*node_unique)(flo__cmpi *m, const uint64_t *ids, int n,
                              int *unique);
    flo_status (*bcast_bytes)(flo__cmpi *m, void *buf, size_t bytes, int root);
    flo_status (*allreduce)(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                            flo_redop op, uint64_t timeout_ns, char *err,
                            size_t len);
    flo_status (*reduce)(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                         flo_redop op, int root, uint64_t timeout_ns, char *err,
                         size_t len);
    flo_status (*bcast)(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                        int root, uint64_t timeout_ns, char *err, size_t len);
    flo_status (*allgatherv)(flo__cmpi *m, void *buf, const int *counts,
                             const int *displs, flo_dtype t,
                             uint64_t timeout_ns, char *err, size_t len);
    flo_status (*reduce_scatter)(flo__cmpi *m, const void *send, void *recv,
                                 const int *counts, flo_dtype t, flo_redop op,
                                 uint64_t timeout_ns, char *err, size_t len);
    flo_status (*exscan)(flo__cmpi *m, const void *in, void *out, flo_dtype t,
                         flo_redop op, uint64_t timeout_ns, char *err,
                         size_t len);
} flo__mpi_ops;

/* The MPI transport (mpi.c); absent from builds without MPI. */
extern const flo__mpi_ops flo__mpi_transport;

/* The collectives' part of flo_init, called before the devices are
 * probed when rt->cfg.mpi_comm is set: join that communicator, fill
 * rt->mpi_rank/mpi_size and rt->plat.node_rank/node_size (so that each
 * rank picks its share of the node's GPUs) and register rt->mpi and
 * rt->mpi_fini. FLO_ENOTSUP (logged) in a build without MPI. */
flo_status flo__coll_mpi_setup(flo_runtime *rt);

/* Duplicate rt's MPI communicator for c (MPI_Comm_idup). Every exchange
 * of the result (the setup helpers below) ends by timeout_ns, and ends
 * with FLO_ECOMM once *cancel (c->broken) is set, as do the data
 * collectives. FLO_ETIMEDOUT when a rank did not join in time; FLO_ECOMM;
 * FLO_ENOMEM; FLO_ENOTSUP without MPI. */
flo_status flo__cmpi_create(flo_runtime *rt, uint64_t timeout_ns,
                            const atomic_int *cancel, flo__cmpi **out);
/* A communicator of the ranks of m that are alive (flo_comm_shrink):
 * exclude[0..nexclude) names the ranks to leave out, or exclude is NULL
 * to leave out those that do not answer within timeout_ns. The
 * survivors agree by point-to-point messages on m (each round bounded by
 * timeout_ns), then create theirs with MPI_Comm_create_group. gone (m's
 * size entries) gets 1 for each rank left out. FLO_ETIMEDOUT when a rank
 * the others count on did not answer; FLO_ECOMM when the survivors
 * disagree or MPI fails; FLO_ENOMEM; FLO_ENOTSUP without MPI. Nothing
 * of m changes. */
flo_status flo__cmpi_shrink(flo__cmpi *m, const int *exclude, int nexclude,
                            uint64_t timeout_ns, const atomic_int *cancel,
                            flo__cmpi **out, uint8_t *gone);
void flo__cmpi_destroy(flo__cmpi *m);
int flo__cmpi_rank(const flo__cmpi *m);
int flo__cmpi_size(const flo__cmpi *m);
/* Setup helpers (called by flo_comm_create on the user's thread): they
 * wait at most the timeout given at creation (FLO_ETIMEDOUT, logged). */
flo_status flo__cmpi_allgather_int(flo__cmpi *m, int v, int *all);
flo_status flo__cmpi_allreduce_min_int(flo__cmpi *m, int *v);
flo_status flo__cmpi_bcast_bytes(flo__cmpi *m, void *buf, size_t bytes,
                                 int root);
/* Are the n GPU ids (0: none) of this rank distinct from every other
 * id on the node? Collective over the node's ranks. */
flo_status flo__cmpi_node_unique(flo__cmpi *m, const uint64_t *ids, int n,
                                 int *unique);
/* The communicator's MPI_Comm, wrapped (flotilla/mpi.h). */
flo_status flo__cmpi_get(const flo__cmpi *m, flo_mpi_comm *out);

/* Data collectives run by host tasks: they poll for completion and fail
 * with FLO_ETIMEDOUT after timeout_ns, or FLO_ECOMM with err filled.
 * Element counts must fit an int (checked by the caller). */
flo_status flo__cmpi_allreduce(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                               flo_redop op, uint64_t timeout_ns, char *err,
                               size_t len);
flo_status flo__cmpi_reduce(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                            flo_redop op, int root, uint64_t timeout_ns,
                            char *err, size_t len);
flo_status flo__cmpi_bcast(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                           int root, uint64_t timeout_ns, char *err,
                           size_t len);
/* In place: buf holds displs/counts in elements per rank. */
flo_status flo__cmpi_allgatherv(flo__cmpi *m, void *buf, const int *counts,
                                const int *displs, flo_dtype t,
                                uint64_t timeout_ns, char *err, size_t len);
/* send holds sum(counts) elements; rank r gets counts[r] into recv. */
flo_status flo__cmpi_reduce_scatter(flo__cmpi *m, const void *send, void *recv,
                                    const int *counts, flo_dtype t,
                                    flo_redop op, uint64_t timeout_ns,
                                    char *err, size_t len);
/* out = fold of in over lower ranks; identity on rank 0. */
flo_status flo__cmpi_exscan(flo__cmpi *m, const void *in, void *out,
                            flo_dtype t, flo_redop op, uint64_t timeout_ns,
                            char *err, size_t len);

#endif
