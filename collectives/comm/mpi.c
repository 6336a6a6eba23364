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
 * Every exchange is a non-blocking MPI call completed by polling MPI_Test
 * against a deadline (the communicator's timeout) and its cancel flag
 * (the communicator's broken flag, which flo_comm_abort sets), so that a
 * rank that died or never joins ends the call with FLO_ETIMEDOUT, or
 * FLO_ECOMM once the communicator is aborted, instead of hanging the
 * thread forever: the collectives of tasks, and the setup exchanges of
 * flo_comm_create (MPI_Comm_idup, then MPI_Iallgather, MPI_Iallreduce,
 * MPI_Ibcast) alike. A started MPI collective cannot be cancelled: an
 * abandoned request stays with MPI, and so does the memory it points to
 * (a late rank may still complete it), which is therefore never freed
 * (abandon_buf). Only MPI_Comm_create_group (flo_comm_shrink) blocks: it
 * runs among ranks that have just answered each other (cm_shrink).
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
    uint64_t host;  /* Hash of MPI_Get_processor_name: the node. */
    /* A request on comm was abandoned (MPI_Comm_idup): comm is never
     * freed (see flo__cmpi.abandoned). */
    atomic_int abandoned;
    pthread_mutex_t mu;
} flo__rt_mpi;

struct flo__cmpi {
    flo__rt_mpi *g;
    MPI_Comm comm; /* The communicator's own duplicate. */
    int rank, size;
    uint64_t tmo;             /* Deadline of each setup exchange (ns). */
    const atomic_int *cancel; /* Nonzero: waits end with FLO_ECOMM. */
    unsigned shrinks;         /* cm_shrink calls so far (their tags). */
    /* A request on comm was abandoned (a timeout or a cancel): comm is
     * then never freed. A late rank may still complete the request, and
     * Open MPI progresses it inside later MPI calls of this process,
     * which crashes once its communicator is freed (seen with 4.1). */
    atomic_int abandoned;
    /* Buffer of the setup exchanges (the user's thread only); given up
     * to MPI, never freed, when an exchange is abandoned. */
    void *buf;
    size_t buf_bytes;
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

/* FNV-1a of s. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (uint64_t)(unsigned char)*s) * 1099511628211ull;
    return h != 0 ? h : 1;
}

static void mpi_errstr(int rc, const char *what, char *err, size_t len)
{
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;

    if (MPI_Error_string(rc, s, &n) != MPI_SUCCESS)
        snprintf(s, sizeof(s), "error %d", rc);
    /* MPI's strings are short in practice; the bound keeps the message
     * within the callers' buffers (200 bytes). */
    if (err != NULL && len > 0)
        snprintf(err, len, "%s: %.120s", what, s);
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
        if (!atomic_load(&g->abandoned))
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
    {
        char name[MPI_MAX_PROCESSOR_NAME + 1];
        int nlen = 0;
        if (MPI_Get_processor_name(name, &nlen) != MPI_SUCCESS)
            nlen = 0;
        name[nlen] = '\0';
        g->host = hash_str(name);
    }
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

/* ---- Waiting ------------------------------------------------------------ */

/* Poll req to completion, until the deadline tmo (ns from now) or until
 * m->cancel is set. The lock is taken per MPI_Test only, so other
 * threads' MPI calls interleave. Spins briefly (latency of small
 * messages), then sleeps 20 us between tests. On FLO_ETIMEDOUT and on a
 * cancel the request is abandoned: MPI cannot cancel a started
 * collective, so the caller gives up the memory it points to. */
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
        if (m->cancel != NULL &&
            atomic_load_explicit(m->cancel, memory_order_relaxed)) {
            atomic_store(&m->abandoned, 1);
            snprintf(err, len,
                     "%s abandoned: the communicator was broken or "
                     "aborted meanwhile",
                     what);
            return FLO_ECOMM;
        }
        if (flo__now_ns() - t0 > tmo) {
            atomic_store(&m->abandoned, 1);
            snprintf(err, len,
                     "%s did not complete within %.1f s "
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

/* m->buf, grown to at least bytes. */
static void *setup_buf(flo__cmpi *m, size_t bytes)
{
    if (bytes > m->buf_bytes) {
        void *p = realloc(m->buf, bytes);
        if (p == NULL)
            return NULL;
        m->buf = p;
        m->buf_bytes = bytes;
    }
    return m->buf;
}

/* An exchange on m->buf failed: MPI may still write into it (a late rank
 * completes the abandoned request), so it is never freed. Bounded: a
 * failed setup exchange fails the creation, which frees m. */
static void abandon_buf(flo__cmpi *m)
{
    m->buf = NULL;
    m->buf_bytes = 0;
}

/* Log the failure of a setup exchange and give up its buffer. */
static flo_status setup_failed(flo__cmpi *m, flo_status st, const char *err)
{
    FLO__ERR("collectives: communicator setup: %s", err);
    abandon_buf(m);
    return st;
}

/* ---- Per-communicator MPI ------------------------------------------- */

/* A new flo__cmpi for comm (already set to return errors). */
static flo__cmpi *cmpi_new(flo__rt_mpi *g, uint64_t tmo,
                           const atomic_int *cancel)
{
    flo__cmpi *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->g = g;
    m->comm = MPI_COMM_NULL;
    m->tmo = tmo;
    m->cancel = cancel;
    return m;
}

static flo_status cm_create(flo_runtime *rt, uint64_t tmo,
                            const atomic_int *cancel, flo__cmpi **out)
{
    flo__rt_mpi *g = rt->mpi;
    char err[200];
    flo__cmpi *m;
    flo_status st;
    int rc;

    if (g == NULL)
        return FLO_ENOTSUP;
    m = cmpi_new(g, tmo, cancel);
    if (m == NULL)
        return FLO_ENOMEM;
    /* Non-blocking, so that a rank that died (or never calls) ends the
     * creation at the deadline instead of hanging this one. */
    {
        MPI_Request req;
        lock(g);
        rc = MPI_Comm_idup(g->comm, &m->comm, &req);
        unlock(g);
        if (rc != MPI_SUCCESS) {
            free(m);
            mpi_errstr(rc, "MPI_Comm_idup", err, sizeof(err));
            FLO__ERR("collectives: %s", err);
            return FLO_ECOMM;
        }
        st = wait_req(m, &req, "MPI_Comm_idup", tmo, err, sizeof(err));
    }
    if (st != FLO_OK) {
        /* MPI may still write the new communicator into m->comm: m is
         * given up to it, and the runtime's communicator kept. */
        atomic_store(&g->abandoned, 1);
        FLO__ERR("collectives: creating a communicator: %s", err);
        return st;
    }
    lock(g);
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &m->rank);
    MPI_Comm_size(m->comm, &m->size);
    unlock(g);
    *out = m;
    return FLO_OK;
}

static void cm_destroy(flo__cmpi *m)
{
    int fin = 0;

    MPI_Finalized(&fin);
    if (!fin && m->comm != MPI_COMM_NULL && !atomic_load(&m->abandoned)) {
        /* Local in practice (MPI frees it once its pending operations,
         * abandoned ones included, are done or never). */
        lock(m->g);
        MPI_Comm_free(&m->comm);
        unlock(m->g);
    }
    free(m->buf);
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

/* The setup exchanges below share one shape: the data goes through
 * m->buf, the call is non-blocking, and a failure gives m->buf up. */
#define SETUP_XCHG(m, what, call)                                              \
    do {                                                                       \
        MPI_Request req_;                                                      \
        char err_[200];                                                        \
        flo_status st_;                                                        \
        int rc_;                                                               \
        lock((m)->g);                                                          \
        rc_ = (call);                                                          \
        unlock((m)->g);                                                        \
        if (rc_ != MPI_SUCCESS) {                                              \
            mpi_errstr(rc_, what, err_, sizeof(err_));                         \
            return setup_failed((m), FLO_ECOMM, err_);                         \
        }                                                                      \
        st_ = wait_req((m), &req_, what, (m)->tmo, err_, sizeof(err_));        \
        if (st_ != FLO_OK)                                                     \
            return setup_failed((m), st_, err_);                               \
    } while (0)

static flo_status cm_allgather_int(flo__cmpi *m, int v, int *all)
{
    int *b = setup_buf(m, (size_t)(m->size + 1) * sizeof(int));

    if (b == NULL)
        return FLO_ENOMEM;
    b[0] = v;
    SETUP_XCHG(
        m, "MPI_Iallgather",
        MPI_Iallgather(b, 1, MPI_INT, b + 1, 1, MPI_INT, m->comm, &req_));
    memcpy(all, b + 1, (size_t)m->size * sizeof(int));
    return FLO_OK;
}

static flo_status cm_allreduce_min_int(flo__cmpi *m, int *v)
{
    int *b = setup_buf(m, sizeof(int));

    if (b == NULL)
        return FLO_ENOMEM;
    b[0] = *v;
    SETUP_XCHG(
        m, "MPI_Iallreduce",
        MPI_Iallreduce(MPI_IN_PLACE, b, 1, MPI_INT, MPI_MIN, m->comm, &req_));
    *v = b[0];
    return FLO_OK;
}

/* Each rank contributes its node (the hash of its processor name) and its
 * FLO_COMM_MAX_LOCAL GPU ids; an id seen twice among the ranks of one
 * node is shared. Over m's own communicator (not a node communicator of
 * the runtime's, which a rank that died would block). */
static flo_status cm_node_unique(flo__cmpi *m, const uint64_t *ids, int n,
                                 int *unique)
{
    enum { W = FLO_COMM_MAX_LOCAL + 1 };
    size_t per = W * sizeof(uint64_t);
    uint64_t *b = setup_buf(m, ((size_t)m->size + 1) * per);
    uint64_t *all;
    int dup = 0;

    if (b == NULL)
        return FLO_ENOMEM;
    memset(b, 0, per);
    b[0] = m->g->host;
    memcpy(b + 1, ids, (size_t)n * sizeof(uint64_t));
    all = b + W;
    SETUP_XCHG(m, "MPI_Iallgather",
               MPI_Iallgather(b, W, MPI_UINT64_T, all, W, MPI_UINT64_T, m->comm,
                              &req_));
    /* Any id (0 is "none") present twice on one node. */
    for (int r = 0; r < m->size && !dup; r++)
        for (int q = r; q < m->size && !dup; q++) {
            const uint64_t *a = all + (size_t)r * W, *b2 = all + (size_t)q * W;
            if (a[0] != b2[0])
                continue;
            for (int i = 1; i < W && !dup; i++)
                for (int j = q == r ? i + 1 : 1; j < W && a[i]; j++)
                    if (b2[j] == a[i]) {
                        dup = 1;
                        break;
                    }
        }
    *unique = !dup;
    return FLO_OK;
}

static flo_status cm_bcast_bytes(flo__cmpi *m, void *buf, size_t bytes,
                                 int root)
{
    void *b;

    if (bytes > (size_t)INT32_MAX)
        return FLO_ERANGE;
    b = setup_buf(m, bytes > 0 ? bytes : 1);
    if (b == NULL)
        return FLO_ENOMEM;
    memcpy(b, buf, bytes);
    SETUP_XCHG(m, "MPI_Ibcast",
               MPI_Ibcast(b, (int)bytes, MPI_BYTE, root, m->comm, &req_));
    memcpy(buf, b, bytes);
    return FLO_OK;
}

/* ---- Shrinking ----------------------------------------------------------
 *
 * The survivors of m agree on who is left, with point-to-point messages
 * on m's communicator (whose collectives may be stuck: p2p traffic with
 * user tags does not mix with theirs), each round bounded by the
 * deadline; then MPI_Comm_create_group, collective over the survivors
 * only, makes their communicator. MPI (without the ULFM extension) has no
 * agreement that tolerates failures: this one is good for ranks that
 * stopped (crashed, killed, exited), which answer nobody, and reports
 * FLO_ECOMM rather than guessing when the survivors disagree. */

/* The tag of round `round` of the current shrink (MPI_TAG_UB >= 32767). */
static int shrink_tag(const flo__cmpi *m, int round)
{
    return 0x6000 + (int)(m->shrinks % 512) * 4 + round;
}

/* One round: send mine (m->size bytes) to every rank r != self with
 * to[r], receive one from each, until all arrived or the deadline (ns,
 * absolute). got: m->size * m->size bytes, row r is r's message; heard[r]
 * set for those that arrived. Messages that did not arrive are cancelled;
 * a send still pending at the end is left to MPI with its buffer.
 * FLO_OK, FLO_ENOMEM, or FLO_ECOMM on an MPI error. */
static flo_status shrink_round(flo__cmpi *m, int round, const uint8_t *to,
                               const uint8_t *mine, uint8_t *got,
                               uint8_t *heard, uint64_t deadline)
{
    int n = m->size, tag = shrink_tag(m, round), pending = 0, rc = 0;
    MPI_Request *rq = malloc(2 * (size_t)n * sizeof(MPI_Request));
    uint8_t *sbuf = malloc((size_t)n);
    struct timespec pause = {0, 50000};
    bool sends_done = true;

    if (rq == NULL || sbuf == NULL) {
        free(rq);
        free(sbuf);
        return FLO_ENOMEM;
    }
    memcpy(sbuf, mine, (size_t)n);
    memset(heard, 0, (size_t)n);
    lock(m->g);
    for (int r = 0; r < n; r++) {
        rq[r] = rq[n + r] = MPI_REQUEST_NULL;
        if (r == m->rank || !to[r] || rc != MPI_SUCCESS)
            continue;
        rc = MPI_Irecv(got + (size_t)r * n, n, MPI_BYTE, r, tag, m->comm,
                       &rq[r]);
        if (rc == MPI_SUCCESS)
            rc = MPI_Isend(sbuf, n, MPI_BYTE, r, tag, m->comm, &rq[n + r]);
        pending++;
    }
    unlock(m->g);
    while (rc == MPI_SUCCESS && pending > 0 && flo__now_ns() < deadline) {
        lock(m->g);
        for (int r = 0; r < n && rc == MPI_SUCCESS; r++) {
            int done = 0;
            if (rq[r] == MPI_REQUEST_NULL)
                continue;
            rc = MPI_Test(&rq[r], &done, MPI_STATUS_IGNORE);
            if (rc == MPI_SUCCESS && done) {
                heard[r] = 1;
                pending--;
            }
        }
        unlock(m->g);
        if (pending > 0)
            nanosleep(&pause, NULL);
    }
    lock(m->g);
    for (int r = 0; r < n; r++) {
        int done = 0;
        if (rq[r] != MPI_REQUEST_NULL) {
            /* Cancelling a receive is local: the wait returns at once. */
            MPI_Cancel(&rq[r]);
            MPI_Wait(&rq[r], MPI_STATUS_IGNORE);
        }
        if (rq[n + r] != MPI_REQUEST_NULL) {
            MPI_Test(&rq[n + r], &done, MPI_STATUS_IGNORE);
            if (!done) {
                /* A send to a rank that died: MPI keeps it, and sbuf. */
                MPI_Request_free(&rq[n + r]);
                sends_done = false;
            }
        }
    }
    unlock(m->g);
    free(rq);
    if (sends_done)
        free(sbuf);
    return rc == MPI_SUCCESS ? FLO_OK : FLO_ECOMM;
}

static flo_status cm_shrink(flo__cmpi *m, const int *exclude, int nexclude,
                            uint64_t tmo, const atomic_int *cancel,
                            flo__cmpi **out, uint8_t *gone)
{
    int n = m->size, nlive = 0, rc, *ranks = NULL;
    uint8_t *live = calloc((size_t)n, 1), *next = calloc((size_t)n, 1);
    uint8_t *heard = calloc((size_t)n, 1);
    uint8_t *got = calloc((size_t)n * (size_t)n, 1);
    MPI_Group grp = MPI_GROUP_NULL, sub = MPI_GROUP_NULL;
    MPI_Comm nc = MPI_COMM_NULL;
    flo_status st = FLO_ENOMEM;
    flo__cmpi *nm = NULL;

    if (live == NULL || next == NULL || heard == NULL || got == NULL)
        goto out;
    m->shrinks++;
    memset(live, 1, (size_t)n);
    if (exclude != NULL) {
        for (int i = 0; i < nexclude; i++)
            live[exclude[i]] = 0;
    } else {
        /* Round 0: who answers within the deadline. */
        st = shrink_round(m, 0, live, live, got, heard, flo__now_ns() + tmo);
        if (st != FLO_OK)
            goto out;
        for (int r = 0; r < n; r++)
            live[r] = r == m->rank || heard[r];
        /* Round 1: what the others heard; a rank that some survivor did
         * not hear is dropped by all. */
        st = shrink_round(m, 1, live, live, got, heard, flo__now_ns() + tmo);
        if (st != FLO_OK)
            goto out;
        memcpy(next, live, (size_t)n);
        for (int r = 0; r < n; r++) {
            if (!live[r] || r == m->rank)
                continue;
            if (!heard[r]) {
                next[r] = 0;
                continue;
            }
            for (int q = 0; q < n; q++)
                next[q] &= got[(size_t)r * n + q];
        }
        next[m->rank] = 1;
        memcpy(live, next, (size_t)n);
    }
    /* Round 2: every survivor must hold the same set (and answer). */
    st = shrink_round(m, 2, live, live, got, heard, flo__now_ns() + tmo);
    if (st != FLO_OK)
        goto out;
    for (int r = 0; r < n && st == FLO_OK; r++) {
        if (!live[r] || r == m->rank)
            continue;
        if (!heard[r]) {
            FLO__ERR("flo_comm_shrink: rank %d did not answer within %.1f s "
                     "(FLO_COLL_TIMEOUT)",
                     r, (double)tmo / 1e9);
            st = FLO_ETIMEDOUT;
        } else if (memcmp(got + (size_t)r * n, live, (size_t)n) != 0) {
            FLO__ERR("flo_comm_shrink: rank %d names other survivors than "
                     "this rank (%d)",
                     r, m->rank);
            st = FLO_ECOMM;
        }
    }
    if (st != FLO_OK)
        goto out;

    ranks = malloc((size_t)n * sizeof(int));
    if (ranks == NULL) {
        st = FLO_ENOMEM;
        goto out;
    }
    for (int r = 0; r < n; r++)
        if (live[r])
            ranks[nlive++] = r;
    nm = cmpi_new(m->g, m->tmo, cancel);
    if (nm == NULL) {
        st = FLO_ENOMEM;
        goto out;
    }
    lock(m->g);
    rc = MPI_Comm_group(m->comm, &grp);
    if (rc == MPI_SUCCESS)
        rc = MPI_Group_incl(grp, nlive, ranks, &sub);
    /* Collective over the survivors only, who all just answered. */
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_create_group(m->comm, sub, shrink_tag(m, 3), &nc);
    if (rc == MPI_SUCCESS) {
        MPI_Comm_set_errhandler(nc, MPI_ERRORS_RETURN);
        MPI_Comm_rank(nc, &nm->rank);
        MPI_Comm_size(nc, &nm->size);
    }
    if (sub != MPI_GROUP_NULL)
        MPI_Group_free(&sub);
    if (grp != MPI_GROUP_NULL)
        MPI_Group_free(&grp);
    unlock(m->g);
    if (rc != MPI_SUCCESS) {
        char err[200];
        mpi_errstr(rc, "MPI_Comm_create_group", err, sizeof(err));
        FLO__ERR("flo_comm_shrink: %s", err);
        free(nm);
        st = FLO_ECOMM;
        goto out;
    }
    nm->comm = nc;
    for (int r = 0; r < n; r++)
        gone[r] = !live[r];
    *out = nm;
    st = FLO_OK;
out:
    free(ranks);
    free(got);
    free(heard);
    free(next);
    free(live);
    return st;
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
    .shrink = cm_shrink,
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
