/*
 * Flotilla - MPI: the runtime's MPI setup (ranks, node-local ranks) and
 * the MPI side of the host transport, as the MPI transport's ops table
 * (flo__mpi_transport, reached through the flo__cmpi_* functions of
 * cmpi.c). Built only with MPI.
 *
 * Threading: the user initialises MPI. With MPI_THREAD_MULTIPLE, worker
 * threads call MPI directly; with MPI_THREAD_SERIALIZED every MPI call of
 * this runtime is made under one mutex (held only for the duration of a
 * non-blocking call, never while waiting), so calls are serialised across
 * threads. FUNNELED and SINGLE cannot work (collectives run on worker
 * threads): flo_init then fails with FLO_ENOTSUP.
 *
 * Collectives of tasks are non-blocking MPI calls completed by polling
 * MPI_Test, so that a rank that died or never joins ends the task with
 * FLO_ETIMEDOUT instead of hanging the worker forever.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/comm/comm_internal.h"
#include "flotilla/mpi.h"

/* rt->mpi: the runtime's MPI state. */
typedef struct flo__rt_mpi {
    MPI_Comm comm;  /* Duplicate of the user's communicator. */
    MPI_Comm node;  /* Ranks sharing this node. */
    int level;      /* Thread level MPI provides. */
    bool serialize; /* level < MULTIPLE: calls under mu. */
    pthread_mutex_t mu;
} flo__rt_mpi;

struct flo__cmpi {
    flo__rt_mpi *g;
    MPI_Comm comm; /* The communicator's own duplicate. */
    int rank, size;
};

static void lock(flo__rt_mpi *g)
{
    if (g->serialize)
        pthread_mutex_lock(&g->mu);
}

static void unlock(flo__rt_mpi *g)
{
    if (g->serialize)
        pthread_mutex_unlock(&g->mu);
}

static void mpi_errstr(int rc, const char *what, char *err, size_t len)
{
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;

    if (MPI_Error_string(rc, s, &n) != MPI_SUCCESS)
        snprintf(s, sizeof(s), "error %d", rc);
    if (err != NULL && len > 0)
        snprintf(err, len, "%s: %s", what, s);
}

static void mpi_fini(flo_runtime *rt)
{
    flo__rt_mpi *g = rt->mpi;
    int fin = 0;

    if (g == NULL)
        return;
    MPI_Finalized(&fin);
    if (!fin) {
        MPI_Comm_free(&g->node);
        MPI_Comm_free(&g->comm);
    } else {
        FLO__WARN("MPI was finalized before flo_finalize: call "
                  "flo_finalize first");
    }
    pthread_mutex_destroy(&g->mu);
    free(g);
    rt->mpi = NULL;
    rt->mpi_fini = NULL;
}

static flo_status cm_setup(flo_runtime *rt)
{
    MPI_Comm user;
    flo__rt_mpi *g;
    int init = 0, fin = 0;
    flo_status st = FLO_ECOMM;

    if (rt == NULL || !rt->cfg.mpi_comm.valid)
        return FLO_EINVAL;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin) {
        FLO__ERR("flo_init: cfg.mpi_comm is set but MPI is %s; call "
                 "MPI_Init_thread first",
                 fin ? "finalized"
                     : "not "
                       "initialised");
        return FLO_EINVAL;
    }
    user = flo_mpi_comm_unwrap(rt->cfg.mpi_comm);
    if (user == MPI_COMM_NULL)
        return FLO_EINVAL;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return FLO_ENOMEM;
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        return FLO_ESYS;
    }
    MPI_Query_thread(&g->level);
    if (g->level < MPI_THREAD_SERIALIZED) {
        FLO__ERR("flo_init: MPI provides thread level %d; Flotilla's "
                 "collectives run on worker threads and need "
                 "MPI_THREAD_SERIALIZED or MPI_THREAD_MULTIPLE "
                 "(MPI_Init_thread)",
                 g->level);
        st = FLO_ENOTSUP;
        goto fail_mu;
    }
    g->serialize = g->level < MPI_THREAD_MULTIPLE;
    if (MPI_Comm_dup(user, &g->comm) != MPI_SUCCESS)
        goto fail_mu;
    MPI_Comm_set_errhandler(g->comm, MPI_ERRORS_RETURN);
    if (MPI_Comm_rank(g->comm, &rt->mpi_rank) != MPI_SUCCESS ||
        MPI_Comm_size(g->comm, &rt->mpi_size) != MPI_SUCCESS)
        goto fail_comm;
    if (MPI_Comm_split_type(g->comm, MPI_COMM_TYPE_SHARED, rt->mpi_rank,
                            MPI_INFO_NULL, &g->node) != MPI_SUCCESS)
        goto fail_comm;
    if (MPI_Comm_rank(g->node, &rt->plat.node_rank) != MPI_SUCCESS ||
        MPI_Comm_size(g->node, &rt->plat.node_size) != MPI_SUCCESS)
        goto fail_node;
    rt->mpi = g;
    rt->mpi_fini = mpi_fini;
    FLO__INFO("MPI: rank %d of %d, node rank %d of %d, thread level %d",
              rt->mpi_rank, rt->mpi_size, rt->plat.node_rank,
              rt->plat.node_size, g->level);
    return FLO_OK;

fail_node:
    MPI_Comm_free(&g->node);
fail_comm:
    MPI_Comm_free(&g->comm);
    FLO__ERR("flo_init: setting up MPI communicators failed");
fail_mu:
    pthread_mutex_destroy(&g->mu);
    free(g);
    rt->mpi_rank = 0;
    rt->mpi_size = 1;
    rt->plat.node_rank = 0;
    rt->plat.node_size = 1;
    return st;
}

/* ---- Per-communicator MPI ------------------------------------------- */

static flo_status cm_create(flo_runtime *rt, flo__cmpi **out)
{
    flo__rt_mpi *g = rt->mpi;
    flo__cmpi *m;
    int rc;

    if (g == NULL)
        return FLO_ENOTSUP;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return FLO_ENOMEM;
    m->g = g;
    lock(g);
    rc = MPI_Comm_dup(g->comm, &m->comm);
    if (rc == MPI_SUCCESS) {
        MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
        MPI_Comm_rank(m->comm, &m->rank);
        MPI_Comm_size(m->comm, &m->size);
    }
    unlock(g);
    if (rc != MPI_SUCCESS) {
        free(m);
        return FLO_ECOMM;
    }
    *out = m;
    return FLO_OK;
}

static void cm_destroy(flo__cmpi *m)
{
    int fin = 0;

    MPI_Finalized(&fin);
    if (!fin) {
        lock(m->g);
        MPI_Comm_free(&m->comm);
        unlock(m->g);
    }
    free(m);
}

static int cm_rank(const flo__cmpi *m)
{
    return m->rank;
}

static int cm_size(const flo__cmpi *m)
{
    return m->size;
}

static flo_status cm_get(const flo__cmpi *m, flo_mpi_comm *out)
{
    *out = flo_mpi_comm_wrap(m->comm);
    return FLO_OK;
}

static flo_status cm_allgather_int(flo__cmpi *m, int v, int *all)
{
    int rc;

    lock(m->g);
    rc = MPI_Allgather(&v, 1, MPI_INT, all, 1, MPI_INT, m->comm);
    unlock(m->g);
    return rc == MPI_SUCCESS ? FLO_OK : FLO_ECOMM;
}

static flo_status cm_allreduce_min_int(flo__cmpi *m, int *v)
{
    int rc, r = *v;

    lock(m->g);
    rc = MPI_Allreduce(MPI_IN_PLACE, &r, 1, MPI_INT, MPI_MIN, m->comm);
    unlock(m->g);
    if (rc != MPI_SUCCESS)
        return FLO_ECOMM;
    *v = r;
    return FLO_OK;
}

static flo_status cm_node_unique(flo__cmpi *m, const uint64_t *ids, int n,
                                 int *unique)
{
    uint64_t mine[FLO_COMM_MAX_LOCAL];
    uint64_t *all;
    int nnode = 0, rc, dup = 0;

    MPI_Comm_size(m->g->node, &nnode);
    all = malloc((size_t)nnode * FLO_COMM_MAX_LOCAL * sizeof(uint64_t));
    if (all == NULL)
        return FLO_ENOMEM;
    memset(mine, 0, sizeof(mine));
    memcpy(mine, ids, (size_t)n * sizeof(uint64_t));
    lock(m->g);
    rc = MPI_Allgather(mine, FLO_COMM_MAX_LOCAL, MPI_UINT64_T, all,
                       FLO_COMM_MAX_LOCAL, MPI_UINT64_T, m->g->node);
    unlock(m->g);
    if (rc != MPI_SUCCESS) {
        free(all);
        return FLO_ECOMM;
    }
    /* Any id present twice on the node (0 is "none"). */
    for (int i = 0; i < nnode * FLO_COMM_MAX_LOCAL && !dup; i++)
        for (int j = i + 1; j < nnode * FLO_COMM_MAX_LOCAL && all[i]; j++)
            if (all[j] == all[i]) {
                dup = 1;
                break;
            }
    free(all);
    *unique = !dup;
    return FLO_OK;
}

static flo_status cm_bcast_bytes(flo__cmpi *m, void *buf, size_t bytes,
                                 int root)
{
    int rc;

    if (bytes > (size_t)INT32_MAX)
        return FLO_ERANGE;
    lock(m->g);
    rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, m->comm);
    unlock(m->g);
    return rc == MPI_SUCCESS ? FLO_OK : FLO_ECOMM;
}

/* ---- Collectives run by tasks ------------------------------------------ */

static MPI_Datatype mpi_type(flo_dtype t)
{
    switch (t) {
    case FLO_I32: return MPI_INT32_T;
    case FLO_I64: return MPI_INT64_T;
    case FLO_U32: return MPI_UINT32_T;
    case FLO_U64: return MPI_UINT64_T;
    case FLO_F32: return MPI_FLOAT;
    default: return MPI_DOUBLE;
    }
}

/* The type a reduction with op runs in: integer sums and products of
 * signed types in the unsigned type of the same width, whose arithmetic
 * wraps in any MPI library (MPI's signed arithmetic is the C library's,
 * undefined on overflow), with the same bits as two's complement
 * (elem.h); everything else in t itself. */
static MPI_Datatype mpi_red_type(flo_dtype t, flo_redop op)
{
    if (op == FLO_SUM || op == FLO_PROD) {
        if (t == FLO_I32)
            return MPI_UINT32_T;
        if (t == FLO_I64)
            return MPI_UINT64_T;
    }
    return mpi_type(t);
}

static MPI_Op mpi_op(flo_redop op)
{
    switch (op) {
    case FLO_SUM: return MPI_SUM;
    case FLO_PROD: return MPI_PROD;
    case FLO_MIN: return MPI_MIN;
    default: return MPI_MAX;
    }
}

/* Poll req to completion. The lock is taken per MPI_Test only, so other
 * threads' MPI calls interleave. Spins briefly (latency of small
 * messages), then sleeps 20 us between tests. */
static flo_status wait_req(flo__cmpi *m, MPI_Request *req, const char *what,
                           uint64_t tmo, char *err, size_t len)
{
    uint64_t t0 = flo__now_ns();
    struct timespec pause = {0, 20000};
    unsigned long spins = 0;

    for (;;) {
        int done = 0, rc;
        lock(m->g);
        rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        unlock(m->g);
        if (rc != MPI_SUCCESS) {
            mpi_errstr(rc, what, err, len);
            return FLO_ECOMM;
        }
        if (done)
            return FLO_OK;
        if (flo__now_ns() - t0 > tmo) {
            /* A started collective cannot be cancelled in MPI: the
             * request is abandoned and the communicator broken. */
            snprintf(err, len,
                     "MPI %s did not complete within %.1f s "
                     "(FLO_COLL_TIMEOUT): a rank died or did not issue the "
                     "same collectives in the same order",
                     what, (double)tmo / 1e9);
            return FLO_ETIMEDOUT;
        }
        if (++spins < 2000)
            flo__cpu_relax();
        else
            nanosleep(&pause, NULL);
    }
}

/* Start a non-blocking call (under the lock) and wait for it. */
#define START_AND_WAIT(m, what, call)                                          \
    do {                                                                       \
        MPI_Request req_;                                                      \
        int rc_;                                                               \
        lock((m)->g);                                                          \
        rc_ = (call);                                                          \
        unlock((m)->g);                                                        \
        if (rc_ != MPI_SUCCESS) {                                              \
            mpi_errstr(rc_, what, err, len);                                   \
            return FLO_ECOMM;                                                  \
        }                                                                      \
        return wait_req((m), &req_, what, tmo, err, len);                      \
    } while (0)

static flo_status cm_allreduce(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                               flo_redop op, uint64_t tmo, char *err,
                               size_t len)
{
    START_AND_WAIT(m, "MPI_Iallreduce",
                   MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n,
                                  mpi_red_type(t, op), mpi_op(op), m->comm,
                                  &req_));
}

static flo_status cm_reduce(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                            flo_redop op, int root, uint64_t tmo, char *err,
                            size_t len)
{
    if (m->rank == root)
        START_AND_WAIT(m, "MPI_Ireduce",
                       MPI_Ireduce(MPI_IN_PLACE, buf, (int)n,
                                   mpi_red_type(t, op), mpi_op(op), root,
                                   m->comm, &req_));
    START_AND_WAIT(m, "MPI_Ireduce",
                   MPI_Ireduce(buf, NULL, (int)n, mpi_red_type(t, op),
                               mpi_op(op), root, m->comm, &req_));
}

static flo_status cm_bcast(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                           int root, uint64_t tmo, char *err, size_t len)
{
    START_AND_WAIT(m, "MPI_Ibcast",
                   MPI_Ibcast(buf, (int)n, mpi_type(t), root, m->comm, &req_));
}

static flo_status cm_allgatherv(flo__cmpi *m, void *buf, const int *counts,
                                const int *displs, flo_dtype t, uint64_t tmo,
                                char *err, size_t len)
{
    START_AND_WAIT(m, "MPI_Iallgatherv",
                   MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf,
                                   counts, displs, mpi_type(t), m->comm,
                                   &req_));
}

static flo_status cm_reduce_scatter(flo__cmpi *m, const void *send, void *recv,
                                    const int *counts, flo_dtype t,
                                    flo_redop op, uint64_t tmo, char *err,
                                    size_t len)
{
    START_AND_WAIT(m, "MPI_Ireduce_scatter",
                   MPI_Ireduce_scatter(send, recv, counts, mpi_red_type(t, op),
                                       mpi_op(op), m->comm, &req_));
}

static flo_status cm_exscan(flo__cmpi *m, const void *in, void *out,
                            flo_dtype t, flo_redop op, uint64_t tmo, char *err,
                            size_t len)
{
    flo_status st;
    MPI_Request req;
    int rc;

    lock(m->g);
    rc =
        MPI_Iexscan(in, out, 1, mpi_red_type(t, op), mpi_op(op), m->comm, &req);
    unlock(m->g);
    if (rc != MPI_SUCCESS) {
        mpi_errstr(rc, "MPI_Iexscan", err, len);
        return FLO_ECOMM;
    }
    st = wait_req(m, &req, "MPI_Iexscan", tmo, err, len);
    /* MPI leaves rank 0's result undefined: it is the identity. */
    if (st == FLO_OK && m->rank == 0) {
        flo__scalar id = flo__elem_identity(t, op);
        memcpy(out, id.b, flo_dtype_size(t));
    }
    return st;
}

const flo__mpi_ops flo__mpi_transport = {
    .name = "mpi",
    .setup = cm_setup,
    .create = cm_create,
    .destroy = cm_destroy,
    .rank = cm_rank,
    .size = cm_size,
    .get = cm_get,
    .allgather_int = cm_allgather_int,
    .allreduce_min_int = cm_allreduce_min_int,
    .node_unique = cm_node_unique,
    .bcast_bytes = cm_bcast_bytes,
    .allreduce = cm_allreduce,
    .reduce = cm_reduce,
    .bcast = cm_bcast,
    .allgatherv = cm_allgatherv,
    .reduce_scatter = cm_reduce_scatter,
    .exscan = cm_exscan,
};
