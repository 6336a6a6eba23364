/*
 * Flotilla - communicators: creation, the registry of live ones, argument
 * validation of every collective, and the dispatch to a transport.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectives/comm/comm_internal.h"

static void comm_free_local(flo_comm *c);

static void coll_fini(flo_runtime *rt)
{
    flo__coll_reg *reg = rt->coll;

    if (reg == NULL)
        return;
    /* Every task has completed; a completion callback may still be
     * finishing, hence the wait for users (short: nothing is pending). */
    while (reg->head != NULL) {
        flo_comm *c = reg->head;
        struct timespec pause = {0, 50000};
        reg->head = c->next;
        while (atomic_load_explicit(&c->users, memory_order_acquire) > 0)
            nanosleep(&pause, NULL);
        FLO__WARN("collectives: communicator %p not destroyed before "
                  "flo_finalize; freeing it",
                  (void *)c);
        comm_free_local(c);
    }
    for (int d = 0; d < FLO__MAX_NODES; d++)
        if (reg->seq[d].id != 0)
            flo_data_unregister(rt, reg->seq[d]);
    pthread_mutex_destroy(&reg->submit_mu);
    pthread_mutex_destroy(&reg->mu);
    free(reg);
    rt->coll = NULL;
}

static flo_status coll_reg_get(flo_runtime *rt, flo__coll_reg **out)
{
    flo__coll_reg *reg = __atomic_load_n(&rt->coll, __ATOMIC_ACQUIRE);
    flo__coll_reg *expected = NULL;

    if (reg != NULL) {
        *out = reg;
        return FLO_OK;
    }
    reg = calloc(1, sizeof(*reg));
    if (reg == NULL)
        return FLO_ENOMEM;
    if (pthread_mutex_init(&reg->mu, NULL) != 0) {
        free(reg);
        return FLO_ESYS;
    }
    if (pthread_mutex_init(&reg->submit_mu, NULL) != 0) {
        pthread_mutex_destroy(&reg->mu);
        free(reg);
        return FLO_ESYS;
    }
    if (!__atomic_compare_exchange_n((void **)&rt->coll, (void **)&expected,
                                     reg, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        /* Another thread won the race: use its registry. */
        pthread_mutex_destroy(&reg->submit_mu);
        pthread_mutex_destroy(&reg->mu);
        free(reg);
        *out = expected;
        return FLO_OK;
    }
    rt->coll_fini = coll_fini;
    *out = reg;
    return FLO_OK;
}

/* ---- Helpers used by the transports ----------------------------------- */

/* Mark c broken with the message fmt/ap (first call wins); logged as an
 * error unless quiet (a communicator retired on purpose). */
static void comm_vbreak(flo_comm *c, flo_status st, uint64_t from, bool quiet,
                        const char *fmt, va_list ap)
{
    pthread_mutex_lock(&c->broken_mu);
    if (!atomic_load(&c->broken)) {
        c->broken_status = st;
        c->broken_from = from;
        vsnprintf(c->broken_msg, sizeof(c->broken_msg), fmt, ap);
        atomic_store(&c->broken, 1);
        if (quiet)
            FLO__INFO("collectives: communicator retired: %s", c->broken_msg);
        else
            FLO__ERR("collectives: communicator broken: %s", c->broken_msg);
    }
    pthread_mutex_unlock(&c->broken_mu);
}

void flo__comm_break(flo_comm *c, flo_status st, uint64_t from, const char *fmt,
                     ...)
{
    va_list ap;

    va_start(ap, fmt);
    comm_vbreak(c, st, from, false, fmt, ap);
    va_end(ap);
}

/* As flo__comm_break, logged as information: c is replaced. */
static void comm_retire(flo_comm *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void comm_retire(flo_comm *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    comm_vbreak(c, FLO_ECOMM, c->ncoll, true, fmt, ap);
    va_end(ap);
}

uint64_t flo__comm_timeout_ns(const flo_comm *c)
{
    double s = c->rt->cfg.coll_timeout_s;

    if (!(s > 0.0))
        s = 300.0;
    return (uint64_t)(s * 1e9);
}

void flo__comm_task_done(void *arg, flo_status st)
{
    flo_comm *c = arg;

    FLO__UNUSED(st);
    atomic_fetch_sub_explicit(&c->users, 1, memory_order_release);
}

static flo_status comm_submit(flo_comm *c, const flo_task_desc *desc,
                              flo_event *out, bool join)
{
    flo_status st;

    atomic_fetch_add(&c->users, 1);
    st = join ? flo__task_submit_inherit(c->rt, desc, out)
              : flo_task_submit(c->rt, desc, out);
    if (st != FLO_OK)
        atomic_fetch_sub(&c->users, 1);
    return st;
}

flo_status flo__comm_submit(flo_comm *c, const flo_task_desc *desc,
                            flo_event *out)
{
    return comm_submit(c, desc, out, false);
}

flo_status flo__comm_submit_join(flo_comm *c, const flo_task_desc *desc,
                                 flo_event *out)
{
    return comm_submit(c, desc, out, true);
}

bool flo__comm_fault(flo_comm *c, flo_task_ctx *ctx, uint64_t cid, int fault,
                     uint32_t stall_ms)
{
    struct timespec pause;

    switch (fault) {
    case FLO__CFAULT_STALL:
        FLO__WARN("collective #%llu: injected stall of %u ms",
                  (unsigned long long)cid, stall_ms);
        pause.tv_sec = stall_ms / 1000;
        pause.tv_nsec = (long)(stall_ms % 1000) * 1000000L;
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
            ;
        return false;
    case FLO__CFAULT_ERROR:
        flo__comm_break(c, FLO_ECOMM, cid,
                        "collective #%llu: injected error (FLO_FAULTS)",
                        (unsigned long long)cid);
        flo_task_fail(ctx, FLO_ECOMM,
                      "collective #%llu: injected error (FLO_FAULTS)",
                      (unsigned long long)cid);
        return true;
    case FLO__CFAULT_DROP:
        /* A rank that dies: no clean-up, no flush, as a crash. */
        FLO__ERR("collective #%llu: injected drop: this rank exits "
                 "(FLO_FAULTS)",
                 (unsigned long long)cid);
        _exit(86);
    default: return false;
    }
}

void flo__comm_fault_pick(flo_comm *c, int *fault, uint32_t *stall_ms)
{
    flo__faults *f = atomic_load_explicit(&c->rt->faults, memory_order_acquire);

    *fault = FLO__CFAULT_NONE;
    *stall_ms = 0;
    if (f == NULL)
        return;
    *fault = flo__faults_coll(f, c->rt->mpi_rank, c->ncoll, stall_ms);
    if (*fault != FLO__CFAULT_NONE)
        atomic_fetch_add_explicit(&c->rt->n_faults, 1, memory_order_relaxed);
}

void flo__comm_scratch_abandon(flo_comm *c)
{
    c->scratch = NULL;
    c->scratch_bytes = 0;
}

flo_access flo__comm_write_mode(const flo_comm *c, flo_data h, size_t bytes)
{
    size_t size = 0;

    if (flo_data_size(c->rt, h, &size) == FLO_OK && size == bytes)
        return FLO_WRITE;
    return FLO_READ_WRITE;
}

flo_status flo__comm_scratch(flo_comm *c, size_t bytes, void **out)
{
    if (bytes > c->scratch_bytes) {
        /* Grow geometrically so that a sweep of sizes reallocates
         * O(log) times. */
        size_t want = FLO__MAX(bytes, 2 * c->scratch_bytes);
        void *p = realloc(c->scratch, want);
        if (p == NULL) {
            want = bytes;
            p = realloc(c->scratch, want);
            if (p == NULL)
                return FLO_ENOMEM;
        }
        c->scratch = p;
        c->scratch_bytes = want;
    }
    *out = c->scratch;
    return FLO_OK;
}

/* ---- Creation and destruction ----------------------------------------- */

static const char *transport_env(const flo_runtime *rt)
{
    if (rt->cfg.ignore_env)
        return NULL;
    return flo__env_str("FLO_COLL_TRANSPORT");
}

/* Can the local participants go over NCCL: all GPUs, each physical GPU
 * at most once (NCCL cannot put two ranks on one GPU). */
static bool nccl_eligible(const flo_comm *c)
{
#if FLO_HAVE_NCCL
    int ord[FLO_COMM_MAX_LOCAL];

    for (int i = 0; i < c->nlocal; i++) {
        flo_device_info info;
        if (flo_device_get_info(c->rt, c->devs[i], &info) != FLO_OK ||
            info.kind != FLO_DEVICE_CUDA)
            return false;
        ord[i] = info.ordinal;
        for (int j = 0; j < i; j++)
            if (ord[j] == ord[i])
                return false;
    }
    return true;
#else
    FLO__UNUSED(c);
    return false;
#endif
}

static flo_status pick_transport(flo_comm *c)
{
    const char *env = transport_env(c->rt);
    int ok = nccl_eligible(c) ? 1 : 0;
    bool want_nccl = env != NULL && strcmp(env, "nccl") == 0;
    flo_status st;

    if (env != NULL && strcmp(env, "host") == 0)
        ok = 0;
    else if (env != NULL && !want_nccl && strcmp(env, "auto") != 0)
        FLO__WARN("FLO_COLL_TRANSPORT=%s: expected host, nccl or auto; "
                  "using auto",
                  env);
    if (c->mpi != NULL) {
        /* NCCL cannot give two ranks one GPU either: ranks of a node
         * that share a GPU (more ranks than GPUs) use the host. */
        uint64_t ids[FLO_COMM_MAX_LOCAL];
        int nids = 0, unique = 1;
#if FLO_HAVE_NCCL
        int ord[FLO_COMM_MAX_LOCAL];
        for (int i = 0; ok && i < c->nlocal; i++) {
            flo_device_info info;
            flo_device_get_info(c->rt, c->devs[i], &info);
            ord[i] = info.ordinal;
        }
        if (ok && flo__nccl_gpu_ids(ord, c->nlocal, ids) == FLO_OK)
            nids = c->nlocal;
        else
            ok = 0;
#endif
        st = flo__cmpi_node_unique(c->mpi, ids, nids, &unique);
        if (st != FLO_OK)
            return st;
        if (ok && !unique) {
            FLO__INFO("collectives: ranks of this node share a GPU; using "
                      "the host transport");
            ok = 0;
        }
        /* Every rank must take the same transport. */
        st = flo__cmpi_allreduce_min_int(c->mpi, &ok);
        if (st != FLO_OK)
            return st;
    }
    if (want_nccl && !ok) {
        FLO__ERR("FLO_COLL_TRANSPORT=nccl, but not every participant is a "
                 "distinct GPU or this build has no NCCL");
        return FLO_ENOTSUP;
    }
#if FLO_HAVE_NCCL
    if (ok) {
        c->ops = &flo__transport_nccl;
        return FLO_OK;
    }
#endif
    c->ops = &flo__transport_host;
    return FLO_OK;
}

/* Free what c owns, without talking to other ranks' tasks: c->users must
 * be 0. */
static void comm_free_local(flo_comm *c)
{
    if (c->ops != NULL && c->ops->fini != NULL)
        c->ops->fini(c);
    if (c->gtotal.id != 0)
        flo_data_unregister(c->rt, c->gtotal);
    if (c->mpi != NULL)
        flo__cmpi_destroy(c->mpi);
    free(c->rank_first);
    free(c->scratch);
    pthread_mutex_destroy(&c->broken_mu);
    free(c);
}

/* The sequence handle of device dev, created on first use. */
static flo_status reg_seq(flo__coll_reg *reg, flo_runtime *rt, int dev)
{
    flo_status st = FLO_OK;

    pthread_mutex_lock(&reg->mu);
    if (reg->seq[dev].id == 0)
        st = flo_data_alloc(rt, 64, &reg->seq[dev]);
    pthread_mutex_unlock(&reg->mu);
    return st;
}

/* A new communicator of rt with local participants devs[0..n), not yet
 * joined to other ranks (one rank of one until comm_layout). */
static flo_status comm_alloc(flo_runtime *rt, const int *devs, int n,
                             flo_comm **out)
{
    flo__coll_reg *reg;
    flo_comm *c;
    flo_status st = coll_reg_get(rt, &reg);

    if (st != FLO_OK)
        return st;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return FLO_ENOMEM;
    c->rt = rt;
    c->reg = reg;
    c->nlocal = n;
    c->rank = 0;
    c->nranks = 1;
    memcpy(c->devs, devs, (size_t)n * sizeof(int));
    atomic_init(&c->users, 0);
    atomic_init(&c->broken, 0);
    if (pthread_mutex_init(&c->broken_mu, NULL) != 0) {
        free(c);
        return FLO_ESYS;
    }
    /* Handles stay until finalize: a few bytes per device. */
    st = reg_seq(reg, rt, 0);
    for (int i = 0; i < n && st == FLO_OK; i++)
        st = reg_seq(reg, rt, devs[i]);
    if (st != FLO_OK) {
        pthread_mutex_destroy(&c->broken_mu);
        free(c);
        return st;
    }
    *out = c;
    return FLO_OK;
}

/* Number the participants: c->rank and nranks from c->mpi (when set),
 * then every rank's count of local participants (collective across
 * ranks, bounded by the timeout). */
static flo_status comm_layout(flo_comm *c)
{
    int *counts;
    flo_status st = FLO_OK;

    if (c->mpi != NULL) {
        c->rank = flo__cmpi_rank(c->mpi);
        c->nranks = flo__cmpi_size(c->mpi);
    }
    c->rank_first = malloc(((size_t)c->nranks + 1) * sizeof(int));
    counts = malloc((size_t)c->nranks * sizeof(int));
    if (c->rank_first == NULL || counts == NULL) {
        free(counts);
        return FLO_ENOMEM;
    }
    if (c->mpi != NULL)
        st = flo__cmpi_allgather_int(c->mpi, c->nlocal, counts);
    else
        counts[0] = c->nlocal;
    if (st == FLO_OK) {
        c->rank_first[0] = 0;
        for (int r = 0; r < c->nranks; r++)
            c->rank_first[r + 1] = c->rank_first[r] + counts[r];
        c->size = c->rank_first[c->nranks];
        c->first = c->rank_first[c->rank];
    }
    free(counts);
    return st;
}

/* Make c live: in the registry (freed at finalize if the program does
 * not destroy it). */
static void comm_register(flo_comm *c)
{
    pthread_mutex_lock(&c->reg->mu);
    c->next = c->reg->head;
    c->reg->head = c;
    pthread_mutex_unlock(&c->reg->mu);
    FLO__INFO("collectives: communicator of %d participants (%d local, "
              "rank %d of %d) over %s",
              c->size, c->nlocal, c->rank, c->nranks, c->ops->name);
}

flo_status flo_comm_create_devices(flo_runtime *rt, const int *devs, int n,
                                   flo_comm **out)
{
    flo_comm *c;
    flo_status st;
    int ndev;

    if (rt == NULL || devs == NULL || out == NULL || n < 1 ||
        n > FLO_COMM_MAX_LOCAL)
        return FLO_EINVAL;
    ndev = flo_device_count(rt);
    for (int i = 0; i < n; i++)
        if (devs[i] < 0 || devs[i] >= ndev)
            return FLO_EINVAL;
    if (flo__self_worker(rt) != NULL)
        return FLO_EDEADLK;
    st = comm_alloc(rt, devs, n, &c);
    if (st != FLO_OK)
        return st;

    if (rt->mpi != NULL) {
        st = flo__cmpi_create(rt, flo__comm_timeout_ns(c), &c->broken, &c->mpi);
        if (st != FLO_OK)
            goto fail;
    }
    st = comm_layout(c);
    if (st != FLO_OK)
        goto fail;
    st = pick_transport(c);
    if (st != FLO_OK)
        goto fail;
    st = c->ops->init(c);
    if (st != FLO_OK) {
        c->ops = NULL; /* init cleaned up after itself. */
        goto fail;
    }
    comm_register(c);
    *out = c;
    return FLO_OK;

fail:
    c->ops = NULL;
    comm_free_local(c);
    return st;
}

flo_status flo_comm_create(flo_runtime *rt, flo_comm **out)
{
    int devs[FLO_COMM_MAX_LOCAL];
    int ndev, n = 0;

    if (rt == NULL || out == NULL)
        return FLO_EINVAL;
    ndev = flo_device_count(rt);
    for (int d = 1; d < ndev && n < FLO_COMM_MAX_LOCAL; d++)
        devs[n++] = d;
    if (n == 0)
        devs[n++] = 0;
    return flo_comm_create_devices(rt, devs, n, out);
}

/* ---- Failure: abort, status, shrink -------------------------------------- */

flo_status flo_comm_abort(flo_comm *c)
{
    if (c == NULL)
        return FLO_EINVAL;
    /* From 0: every collective not yet reported fails, whatever it had
     * done (its data is not to be trusted). */
    flo__comm_break(c, FLO_ECOMM, 0, "aborted by flo_comm_abort");
    if (c->ops != NULL && c->ops->abort != NULL)
        c->ops->abort(c);
    return FLO_OK;
}

flo_status flo_comm_status(flo_comm *c, char *msg, size_t len)
{
    flo_status st = FLO_OK;

    if (c == NULL || (msg == NULL && len > 0))
        return FLO_EINVAL;
    if (len > 0)
        msg[0] = '\0';
    if (!atomic_load(&c->broken))
        return FLO_OK;
    pthread_mutex_lock(&c->broken_mu);
    st = c->broken_status;
    if (len > 0)
        snprintf(msg, len, "%s", c->broken_msg);
    pthread_mutex_unlock(&c->broken_mu);
    return st;
}

/* Check flo_comm_shrink's exclusion list: ranks of c other than the
 * caller's, each once, fewer than all. */
static bool exclude_ok(const flo_comm *c, const int *ex, int n)
{
    if (ex == NULL)
        return n == 0;
    if (n < 0 || n >= c->nranks)
        return false;
    for (int i = 0; i < n; i++) {
        if (ex[i] < 0 || ex[i] >= c->nranks || ex[i] == c->rank)
            return false;
        for (int j = 0; j < i; j++)
            if (ex[j] == ex[i])
                return false;
    }
    return true;
}

flo_status flo_comm_shrink(flo_comm *c, const int *exclude_ranks, int n,
                           flo_comm **out)
{
    uint8_t *gone = NULL;
    flo_comm *nc = NULL;
    flo_status st;

    if (c == NULL || out == NULL || !exclude_ok(c, exclude_ranks, n))
        return FLO_EINVAL;
    if (flo__self_worker(c->rt) != NULL)
        return FLO_EDEADLK;
    gone = calloc((size_t)c->nranks, 1);
    if (gone == NULL)
        return FLO_ENOMEM;
    st = comm_alloc(c->rt, c->devs, c->nlocal, &nc);
    if (st != FLO_OK) {
        free(gone);
        return st;
    }
    if (c->mpi != NULL) {
        st = flo__cmpi_shrink(c->mpi, exclude_ranks, n, flo__comm_timeout_ns(c),
                              &nc->broken, &nc->mpi, gone);
        if (st != FLO_OK)
            goto fail;
    }
    st = comm_layout(nc);
    if (st != FLO_OK)
        goto fail;
    /* Every survivor used c's transport: the new one keeps it. */
    nc->ops = c->ops;
    st = nc->ops->shrink != NULL ? nc->ops->shrink(nc, c, gone)
                                 : nc->ops->init(nc);
    if (st != FLO_OK) {
        nc->ops = NULL;
        goto fail;
    }
    /* c is replaced: its later collectives fail with FLO_ECOMM (a
     * failure that broke it before stays its status). */
    comm_retire(c, "replaced by flo_comm_shrink (%d of %d ranks left)",
                nc->nranks, c->nranks);
    comm_register(nc);
    free(gone);
    *out = nc;
    return FLO_OK;

fail:
    nc->ops = NULL;
    comm_free_local(nc);
    free(gone);
    return st;
}

flo_status flo_comm_destroy(flo_comm *c)
{
    flo__coll_reg *reg;
    struct timespec pause = {0, 50000};

    if (c == NULL)
        return FLO_EINVAL;
    if (flo__self_worker(c->rt) != NULL)
        return FLO_EDEADLK;
    reg = c->rt->coll;
    pthread_mutex_lock(&reg->mu);
    for (flo_comm **pp = &reg->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    /* A hung collective ends at the latest after the timeout (the task
     * polls, or the NCCL watchdog aborts), so this wait is bounded. */
    while (atomic_load_explicit(&c->users, memory_order_acquire) > 0)
        nanosleep(&pause, NULL);
    comm_free_local(c);
    return FLO_OK;
}

int flo_comm_size(const flo_comm *c)
{
    return c == NULL ? -1 : c->size;
}

int flo_comm_local_size(const flo_comm *c)
{
    return c == NULL ? -1 : c->nlocal;
}

int flo_comm_first(const flo_comm *c)
{
    return c == NULL ? -1 : c->first;
}

int flo_comm_rank(const flo_comm *c)
{
    return c == NULL ? -1 : c->rank;
}

int flo_comm_nranks(const flo_comm *c)
{
    return c == NULL ? -1 : c->nranks;
}

flo_status flo_comm_local_devices(const flo_comm *c, int *devs)
{
    if (c == NULL || devs == NULL)
        return FLO_EINVAL;
    memcpy(devs, c->devs, (size_t)c->nlocal * sizeof(int));
    return FLO_OK;
}

const char *flo_comm_transport(const flo_comm *c)
{
    return c == NULL || c->ops == NULL ? "?" : c->ops->name;
}

flo_status flo_comm_get_mpi(const flo_comm *c, flo_mpi_comm *out)
{
    if (c == NULL || out == NULL)
        return FLO_EINVAL;
    if (c->mpi == NULL)
        return FLO_ENOTSUP;
    return flo__cmpi_get(c->mpi, out);
}

/* ---- Validation and dispatch ------------------------------------------- */

/* Check that h is a live handle of c's runtime holding at least need
 * bytes. */
static flo_status check_handle(const flo_comm *c, flo_data h, size_t need)
{
    size_t bytes;
    flo_status st;

    if (h.id == 0)
        return FLO_EINVAL;
    st = flo_data_size(c->rt, h, &bytes);
    if (st != FLO_OK)
        return st;
    return bytes < need ? FLO_EINVAL : FLO_OK;
}

/* n * m * es without overflow, or false. */
static bool mul_ok(size_t n, size_t m, size_t es, size_t *out)
{
    if (m != 0 && n > SIZE_MAX / m)
        return false;
    n *= m;
    if (es != 0 && n > SIZE_MAX / es)
        return false;
    *out = n * es;
    return true;
}

static flo_status validate(const flo_comm *c, const flo__coll_op *op)
{
    size_t es = flo_dtype_size(op->dtype);
    size_t nsend, nrecv, sz = (size_t)c->size;
    flo_status st;

    if ((unsigned)op->dtype >= FLO_DTYPE_COUNT || es == 0)
        return FLO_EINVAL;
    if (op->kind != FLO__COLL_BCAST && op->kind != FLO__COLL_ALLGATHER &&
        (unsigned)op->op >= FLO_REDOP_COUNT)
        return FLO_EINVAL;
    if (op->send == NULL || op->recv == NULL)
        return FLO_EINVAL;
    if ((op->kind == FLO__COLL_REDUCE || op->kind == FLO__COLL_BCAST) &&
        (op->root < 0 || op->root >= c->size))
        return FLO_EINVAL;
    if (op->kind == FLO__COLL_SCAN && op->counts == NULL)
        return FLO_EINVAL;

    for (int i = 0; i < c->nlocal; i++) {
        size_t n = op->kind == FLO__COLL_SCAN ? op->counts[i] : op->count;
        bool ok = true;
        switch (op->kind) {
        case FLO__COLL_ALLGATHER:
            ok = mul_ok(n, 1, es, &nsend) && mul_ok(n, sz, es, &nrecv);
            break;
        case FLO__COLL_REDUCE_SCATTER:
            ok = mul_ok(n, sz, es, &nsend) && mul_ok(n, 1, es, &nrecv);
            break;
        default:
            ok = mul_ok(n, 1, es, &nsend);
            nrecv = nsend;
            break;
        }
        if (!ok)
            return FLO_EINVAL; /* No handle holds that many bytes. */
        st = check_handle(c, op->send[i], nsend);
        if (st != FLO_OK)
            return st;
        if (op->kind == FLO__COLL_REDUCE && c->first + i != op->root)
            continue; /* recv of non-root participants is ignored. */
        if (op->kind == FLO__COLL_BCAST)
            continue; /* recv == send. */
        st = check_handle(c, op->recv[i], nrecv);
        if (st != FLO_OK)
            return st;
    }
    return FLO_OK;
}

static flo_status coll_submit(flo_comm *c, const flo__coll_op *op,
                              flo_event *out)
{
    flo_status st;

    if (c == NULL)
        return FLO_EINVAL;
    st = validate(c, op);
    if (st != FLO_OK)
        return st;
    pthread_mutex_lock(&c->reg->submit_mu);
    if (atomic_load(&c->broken)) {
        st = FLO_ECOMM;
    } else {
        flo__coll_op o = *op;
        flo__comm_fault_pick(c, &o.fault, &o.stall_ms);
        st = c->ops->submit(c, &o, out);
        if (st == FLO_OK)
            c->ncoll++;
    }
    pthread_mutex_unlock(&c->reg->submit_mu);
    return st;
}

flo_status flo_coll_allreduce(flo_comm *comm, const flo_data *send,
                              const flo_data *recv, size_t count,
                              flo_dtype dtype, flo_redop op, flo_event *out)
{
    flo__coll_op o = {.kind = FLO__COLL_ALLREDUCE,
                      .dtype = dtype,
                      .op = op,
                      .count = count,
                      .send = send,
                      .recv = recv};
    return coll_submit(comm, &o, out);
}

flo_status flo_coll_reduce(flo_comm *comm, const flo_data *send,
                           const flo_data *recv, size_t count, flo_dtype dtype,
                           flo_redop op, int root, flo_event *out)
{
    flo__coll_op o = {.kind = FLO__COLL_REDUCE,
                      .dtype = dtype,
                      .op = op,
                      .root = root,
                      .count = count,
                      .send = send,
                      .recv = recv};
    return coll_submit(comm, &o, out);
}

flo_status flo_coll_broadcast(flo_comm *comm, const flo_data *buf, size_t count,
                              flo_dtype dtype, int root, flo_event *out)
{
    flo__coll_op o = {.kind = FLO__COLL_BCAST,
                      .dtype = dtype,
                      .op = FLO_SUM,
                      .root = root,
                      .count = count,
                      .send = buf,
                      .recv = buf};
    return coll_submit(comm, &o, out);
}

flo_status flo_coll_allgather(flo_comm *comm, const flo_data *send,
                              const flo_data *recv, size_t count,
                              flo_dtype dtype, flo_event *out)
{
    flo__coll_op o = {.kind = FLO__COLL_ALLGATHER,
                      .dtype = dtype,
                      .op = FLO_SUM,
                      .count = count,
                      .send = send,
                      .recv = recv};
    return coll_submit(comm, &o, out);
}

flo_status flo_coll_reduce_scatter(flo_comm *comm, const flo_data *send,
                                   const flo_data *recv, size_t count,
                                   flo_dtype dtype, flo_redop op,
                                   flo_event *out)
{
    flo__coll_op o = {.kind = FLO__COLL_REDUCE_SCATTER,
                      .dtype = dtype,
                      .op = op,
                      .count = count,
                      .send = send,
                      .recv = recv};
    return coll_submit(comm, &o, out);
}

flo_status flo_coll_scan(flo_comm *comm, const flo_data *send,
                         const flo_data *recv, const size_t *counts,
                         flo_dtype dtype, flo_redop op, flo_scan_kind kind,
                         flo_event *out)
{
    flo__coll_op o = {.kind = FLO__COLL_SCAN,
                      .dtype = dtype,
                      .op = op,
                      .exclusive = kind == FLO_SCAN_EXCLUSIVE,
                      .send = send,
                      .recv = recv,
                      .counts = counts};

    if (kind != FLO_SCAN_INCLUSIVE && kind != FLO_SCAN_EXCLUSIVE)
        return FLO_EINVAL;
    return coll_submit(comm, &o, out);
}
