/*
 * Flotilla - the NCCL transport: GPU memory collectives.
 *
 * One NCCL rank per local GPU participant (one per GPU worker). All local
 * GPUs are initialised together: ncclCommInitAll in a single process, or
 * ncclGroupStart + ncclCommInitRank per GPU with the unique id broadcast
 * over MPI across processes.
 *
 * A collective is one task per local GPU, pinned to it, whose CUDA entry
 * point enqueues the NCCL call on the task's stream. Each of these tasks
 * also accesses its device's hidden sequence handle (flo__coll_reg.seq)
 * in READ_WRITE mode, and submissions are serialised runtime-wide, so the
 * collectives of every communicator enter every GPU's stream in
 * submission order: the order NCCL needs on every rank. A last host task
 * (the "join", after the per-GPU tasks) completes the event the user gets
 * and turns asynchronous NCCL errors and timeouts into a failure.
 *
 * A watchdog thread per communicator polls ncclCommGetAsyncError and the
 * age of the oldest collective in flight; on an error, or after the
 * timeout, it breaks the communicator and aborts its NCCL communicators
 * (ncclCommAbort makes the stuck kernels return), so nothing hangs.
 * flo_comm_abort does the same at once (nccl_abort).
 *
 * Across processes the NCCL communicators are non-blocking
 * (config.blocking = 0): their creation is polled with
 * ncclCommGetAsyncError against the timeout, so a rank that dies during
 * flo_comm_create cannot hang the others, and every NCCL call on them may
 * return ncclInProgress before its kernel is enqueued, so an entry point
 * polls until it is (enqueue_wait) before its task's stream moves on.
 * flo_comm_shrink makes the survivors' communicators with ncclCommShrink
 * (NCCL >= 2.27) while the old ones were not aborted and a rank is left
 * out, and anew otherwise (nccl_shrink).
 */
#include <cuda_runtime.h>
#include <errno.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/comm/comm_internal.h"
#include "collectives/comm/nccl_kernels.h"
#include "device/cuda/cuda_backend.h"

/* Check a NCCL call: log the call, file and line; map to FLO_ECOMM.
 * CUDA calls go through FLO__CUDA (device/cuda/cuda_backend.h). */
#define FLO__NCCL_CHECK(call) flo__nccl_check((call), #call, __FILE__, __LINE__)

static flo_status flo__nccl_check(ncclResult_t r, const char *what,
                                  const char *file, int line)
{
    if (r == ncclSuccess)
        return FLO_OK;
    FLO__ERR("%s failed (%s:%d): %s", what, file, line, ncclGetErrorString(r));
    return FLO_ECOMM;
}

/* Per-collective tracking of one device, for the watchdog. A slot is
 * claimed at submit (cid), stamped by the entry point when it launches,
 * and released by the task's completion callback, whatever the task's
 * fate (canceled tasks never launch and are simply released). */
#define TRACK_RING 1024
enum { SLOT_FREE = 0, SLOT_SUBMITTED = 1, SLOT_LAUNCHED = 2 };

struct nccl_dev;
typedef struct track_slot {
    struct nccl_dev *d;
    _Atomic uint64_t cid;
    _Atomic uint64_t launch_ns;
    atomic_int state;
} track_slot;

typedef struct nccl_dev {
    struct nccl_state *ns;
    flo_comm *c;
    int li;      /* Local participant index. */
    int ordinal; /* CUDA ordinal. */
    ncclComm_t comm;
    flo_data scratch; /* Scan totals and partials (on the GPU). */
    /* Indexed by cid % TRACK_RING. A slot still in use when its index
     * comes round again (more than TRACK_RING collectives in flight) is
     * left alone: that collective is then not timed. */
    track_slot track[TRACK_RING];
} nccl_dev;

typedef struct nccl_state {
    flo_comm *c;
    int n;
    nccl_dev dev[FLO_COMM_MAX_LOCAL];
    /* Read-held by entry points around NCCL calls; write-held by the
     * watchdog to abort and by a shrink. aborted and retired are written
     * under the write lock. */
    pthread_rwlock_t lock;
    bool aborted;
    /* Set by abort_all before it takes the write lock: an entry point
     * polling an enqueue (enqueue_wait) lets go of the read lock, so that
     * the comms are never aborted (and freed) under its polling. */
    atomic_int abort_wanted;
    /* The comms were shrunk from (flo_comm_shrink): fini aborts them
     * rather than destroying them, which could wait for operations that
     * NCCL_SHRINK_ABORT ended. */
    bool retired;
    pthread_t watchdog;
    bool wd_started;
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;
    bool wd_stop; /* Under wd_mu. */
} nccl_state;

/* Argument blobs (copied at submit). */
typedef struct nccl_args {
    flo_comm *c;
    uint64_t cid;
    int li;
    int kind;
    flo_dtype dtype;
    flo_redop op;
    int root;
    int exclusive;
    size_t count;
    int sidx, ridx, xidx; /* Access indices (-1: none). */
    track_slot *slot;     /* Or NULL when not tracked. */
    int fault;            /* FLO__CFAULT_* injected (flo__comm_fault). */
    uint32_t stall_ms;    /* Its stall. */
} nccl_args;

typedef struct join_args {
    flo_comm *c;
    uint64_t cid;
} join_args;

static ncclDataType_t nccl_type(flo_dtype t)
{
    switch (t) {
    case FLO_I32: return ncclInt32;
    case FLO_I64: return ncclInt64;
    case FLO_U32: return ncclUint32;
    case FLO_U64: return ncclUint64;
    case FLO_F32: return ncclFloat32;
    default: return ncclFloat64;
    }
}

static ncclRedOp_t nccl_op(flo_redop op)
{
    switch (op) {
    case FLO_SUM: return ncclSum;
    case FLO_PROD: return ncclProd;
    case FLO_MIN: return ncclMin;
    default: return ncclMax;
    }
}

/* Scratch layout: [0, 8) own total; [8, 8 + 8 * size) gathered totals;
 * then FLO__SCAN_MAX_BLOCKS partials of 8 bytes. */
static size_t scratch_bytes(const flo_comm *c)
{
    return 8 + 8 * (size_t)c->size + 8 * (size_t)FLO__SCAN_MAX_BLOCKS;
}

/* ---- Failure: break and abort ----------------------------------------- */

/* Abort ns's communicators, once. A failed abort is logged; there is
 * nothing else to do: they are never used again. */
static void abort_comms(nccl_state *ns)
{
    if (ns->aborted)
        return;
    for (int i = 0; i < ns->n; i++)
        (void)FLO__NCCL_CHECK(ncclCommAbort(ns->dev[i].comm));
    ns->aborted = true;
}

static void abort_all(nccl_state *ns, flo_status st, const char *msg)
{
    struct timespec until;
    uint64_t from = UINT64_MAX;
    bool locked;

    /* The first collective not finished everywhere. */
    for (int i = 0; i < ns->n; i++)
        for (int k = 0; k < TRACK_RING; k++)
            if (atomic_load(&ns->dev[i].track[k].state) != SLOT_FREE)
                from = FLO__MIN(from, atomic_load(&ns->dev[i].track[k].cid));
    if (from == UINT64_MAX)
        from = 0;
    flo__comm_break(ns->c, st, from, "%s", msg);
    atomic_store(&ns->abort_wanted, 1);
    /* An entry point stuck inside a NCCL call holds the read lock; abort
     * is what unblocks it, so do not wait for it more than 2 s. */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    locked = pthread_rwlock_timedwrlock(&ns->lock, &until) == 0;
    abort_comms(ns);
    if (locked)
        pthread_rwlock_unlock(&ns->lock);
}

/* flo_comm_abort (c is broken already). */
static void nccl_abort(flo_comm *c)
{
    nccl_state *ns = c->tpriv;

    if (ns != NULL)
        abort_all(ns, FLO_ECOMM, "aborted by flo_comm_abort");
}

/* A NCCL call on a non-blocking communicator returned ncclInProgress:
 * poll d's communicator until it is done (its kernel enqueued), at most
 * the timeout, or until an abort is wanted (ncclInProgress is then
 * returned: the caller lets go of the read lock, and abort_all may
 * abort the comms, which ends the operation). The caller holds the read
 * lock. Returns the call's final result; *timed_out set when the timeout
 * ended the wait. */
static ncclResult_t enqueue_wait(nccl_dev *d, ncclResult_t r, bool *timed_out)
{
    uint64_t t0 = flo__now_ns(), tmo = flo__comm_timeout_ns(d->c);
    unsigned long spins = 0;
    struct timespec pause = {0, 20000};

    *timed_out = false;
    while (r == ncclInProgress) {
        ncclResult_t ae = ncclSuccess;
        r = ncclCommGetAsyncError(d->comm, &ae);
        if (r != ncclSuccess)
            return r;
        r = ae;
        if (r != ncclInProgress || atomic_load(&d->ns->abort_wanted))
            break;
        if (flo__now_ns() - t0 > tmo) {
            *timed_out = true;
            break;
        }
        if (++spins < 2000)
            flo__cpu_relax();
        else
            nanosleep(&pause, NULL);
    }
    return r;
}

static void *watchdog_main(void *arg)
{
    nccl_state *ns = arg;
    uint64_t tmo = flo__comm_timeout_ns(ns->c);
    char msg[200];

    pthread_mutex_lock(&ns->wd_mu);
    while (!ns->wd_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ns->wd_cv, &ns->wd_mu, &until);
        if (ns->wd_stop || ns->aborted)
            continue;
        pthread_mutex_unlock(&ns->wd_mu);

        msg[0] = '\0';
        flo_status st = FLO_OK;
        uint64_t now = flo__now_ns();
        if (pthread_rwlock_tryrdlock(&ns->lock) == 0) {
            for (int i = 0; i < ns->n && st == FLO_OK && !ns->aborted; i++) {
                ncclResult_t ae = ncclSuccess;
                if (ncclCommGetAsyncError(ns->dev[i].comm, &ae) ==
                        ncclSuccess &&
                    ae != ncclSuccess && ae != ncclInProgress) {
                    st = FLO_ECOMM;
                    snprintf(msg, sizeof(msg),
                             "NCCL asynchronous error on "
                             "GPU %d: %s",
                             ns->dev[i].ordinal, ncclGetErrorString(ae));
                }
            }
            pthread_rwlock_unlock(&ns->lock);
        }
        for (int i = 0; i < ns->n && st == FLO_OK; i++) {
            nccl_dev *d = &ns->dev[i];
            for (int k = 0; k < TRACK_RING && st == FLO_OK; k++) {
                track_slot *t = &d->track[k];
                uint64_t t0;
                if (atomic_load(&t->state) != SLOT_LAUNCHED)
                    continue;
                t0 = atomic_load(&t->launch_ns);
                if (now <= t0 || now - t0 <= tmo)
                    continue;
                st = FLO_ETIMEDOUT;
                snprintf(msg, sizeof(msg),
                         "NCCL collective on GPU %d did "
                         "not complete within %.1f s (FLO_COLL_TIMEOUT): a "
                         "rank died or did not issue the same collectives "
                         "in the same order",
                         d->ordinal, (double)tmo / 1e9);
            }
        }
        if (st != FLO_OK)
            abort_all(ns, st, msg);
        pthread_mutex_lock(&ns->wd_mu);
    }
    pthread_mutex_unlock(&ns->wd_mu);
    return NULL;
}

/* ---- Tasks --------------------------------------------------------------- */

/* Completion callback of a per-GPU task (arg: its nccl_dev, or its
 * tracking slot; see nccl_submit). */
static void dev_task_done(void *arg, flo_status st)
{
    track_slot *t = arg;

    atomic_store(&t->state, SLOT_FREE);
    flo__comm_task_done(t->d->c, st);
}

static void dev_task_done_untracked(void *arg, flo_status st)
{
    nccl_dev *d = arg;

    flo__comm_task_done(d->c, st);
}

static void nccl_dev_task(flo_task_ctx *ctx)
{
    const nccl_args *a = flo_task_args(ctx, NULL);
    flo_comm *c = a->c;
    nccl_state *ns = c->tpriv;
    nccl_dev *d = &ns->dev[a->li];
    void *stream = flo_task_stream(ctx);
    cudaStream_t s = (cudaStream_t)stream;
    ncclDataType_t nt = nccl_type(a->dtype);
    ncclRedOp_t no = nccl_op(a->op);
    void *sbuf = a->sidx >= 0 ? flo_task_buffer(ctx, a->sidx) : NULL;
    void *rbuf = a->ridx >= 0 ? flo_task_buffer(ctx, a->ridx) : NULL;
    ncclResult_t r = ncclSuccess, ae = ncclSuccess;
    bool timed_out = false;
    const char *what = "";

    if (atomic_load(&c->broken)) {
        /* The break's own status (FLO_ETIMEDOUT, FLO_ECOMM, ...), which
         * the collective's join then reports. */
        flo_task_fail(ctx, c->broken_status, "communicator broken: %s",
                      c->broken_msg);
        return;
    }
    if (a->fault != 0 && flo__comm_fault(c, ctx, a->cid, a->fault, a->stall_ms))
        return;
    pthread_rwlock_rdlock(&ns->lock);
    if (ns->aborted) {
        pthread_rwlock_unlock(&ns->lock);
        flo_task_fail(ctx, FLO_ECOMM, "communicator aborted: %s",
                      c->broken_msg);
        return;
    }
    if (ncclCommGetAsyncError(d->comm, &ae) == ncclSuccess &&
        ae != ncclSuccess && ae != ncclInProgress) {
        pthread_rwlock_unlock(&ns->lock);
        flo__comm_break(c, FLO_ECOMM, a->cid,
                        "NCCL asynchronous error on "
                        "GPU %d: %s",
                        d->ordinal, ncclGetErrorString(ae));
        flo_task_fail(ctx, FLO_ECOMM, "NCCL asynchronous error: %s",
                      ncclGetErrorString(ae));
        return;
    }

    switch (a->kind) {
    case FLO__COLL_ALLREDUCE:
        what = "ncclAllReduce";
        if (a->count > 0)
            r = ncclAllReduce(sbuf, rbuf, a->count, nt, no, d->comm, s);
        break;
    case FLO__COLL_REDUCE:
        what = "ncclReduce";
        if (a->count > 0)
            r = ncclReduce(sbuf, rbuf, a->count, nt, no, a->root, d->comm, s);
        break;
    case FLO__COLL_BCAST: {
        void *b = sbuf != NULL ? sbuf : rbuf;
        what = "ncclBroadcast";
        if (a->count > 0)
            r = ncclBroadcast(b, b, a->count, nt, a->root, d->comm, s);
        break;
    }
    case FLO__COLL_ALLGATHER:
        what = "ncclAllGather";
        if (a->count > 0)
            r = ncclAllGather(sbuf, rbuf, a->count, nt, d->comm, s);
        break;
    case FLO__COLL_REDUCE_SCATTER:
        what = "ncclReduceScatter";
        if (a->count > 0)
            r = ncclReduceScatter(sbuf, rbuf, a->count, nt, no, d->comm, s);
        break;
    case FLO__COLL_SCAN: {
        /* Local totals -> all-gather of the totals -> scan with the carry
         * (the fold of the totals of lower participants) in one pass. */
        char *x = flo_task_buffer(ctx, a->xidx);
        char *totals = x + 8, *part = x + 8 + 8 * (size_t)c->size;
        int nb = flo__cu_scan_partials(sbuf, a->count, a->dtype, a->op, part, x,
                                       stream);
        int e = 0;
        what = "ncclAllGather (scan totals)";
        if (nb < 0) {
            e = -nb;
        } else {
            r = ncclAllGather(x, totals, 1, nt, d->comm, s);
            if (r == ncclInProgress)
                r = enqueue_wait(d, r, &timed_out);
            if (r == ncclSuccess)
                e = -flo__cu_scan_apply(sbuf, rbuf, a->count, a->dtype, a->op,
                                        a->exclusive, totals, c->first + a->li,
                                        part, nb, stream);
        }
        if (e != 0) {
            pthread_rwlock_unlock(&ns->lock);
            flo_task_fail(ctx, FLO_EDEVICE, "scan kernel launch failed: %s",
                          cudaGetErrorString((cudaError_t)e));
            return;
        }
        break;
    }
    default:
        pthread_rwlock_unlock(&ns->lock);
        flo_task_fail(ctx, FLO_EINTERNAL, "unknown collective %d", a->kind);
        return;
    }
    if (r == ncclInProgress && !timed_out)
        r = enqueue_wait(d, r, &timed_out);
    if (timed_out) {
        pthread_rwlock_unlock(&ns->lock);
        flo__comm_break(c, FLO_ETIMEDOUT, a->cid,
                        "%s on GPU %d was not enqueued within %.1f s "
                        "(FLO_COLL_TIMEOUT)",
                        what, d->ordinal,
                        (double)flo__comm_timeout_ns(c) / 1e9);
        flo_task_fail(ctx, FLO_ETIMEDOUT, "%s on GPU %d: not enqueued in time",
                      what, d->ordinal);
        return;
    }
    if (r == ncclInProgress) {
        /* enqueue_wait gave up for an abort (c is broken already). */
        pthread_rwlock_unlock(&ns->lock);
        flo_task_fail(ctx, c->broken_status,
                      "%s on GPU %d: aborted before it was enqueued: %s", what,
                      d->ordinal, c->broken_msg);
        return;
    }
    if (r != ncclSuccess) {
        pthread_rwlock_unlock(&ns->lock);
        flo__comm_break(c, FLO_ECOMM, a->cid, "%s failed on GPU %d: %s", what,
                        d->ordinal, ncclGetErrorString(r));
        flo_task_fail(ctx, FLO_ECOMM, "%s failed on GPU %d: %s", what,
                      d->ordinal, ncclGetErrorString(r));
        return;
    }
    if (a->slot != NULL) {
        atomic_store(&a->slot->launch_ns, flo__now_ns());
        atomic_store(&a->slot->state, SLOT_LAUNCHED);
    }
    pthread_rwlock_unlock(&ns->lock);
}

/* After every per-GPU task of one collective: report a failure that hit
 * it after its tasks were launched (asynchronous error, timeout). */
static void join_task(flo_task_ctx *ctx)
{
    const join_args *a = flo_task_args(ctx, NULL);
    flo_comm *c = a->c;

    if (atomic_load(&c->broken) && a->cid >= c->broken_from)
        flo_task_fail(ctx, c->broken_status, "collective #%llu: %s",
                      (unsigned long long)a->cid, c->broken_msg);
}

static const flo_kernel dev_kernels[FLO__COLL_KIND_COUNT] = {
    {.name = "nccl_allreduce", .cuda = nccl_dev_task},
    {.name = "nccl_reduce", .cuda = nccl_dev_task},
    {.name = "nccl_broadcast", .cuda = nccl_dev_task},
    {.name = "nccl_allgather", .cuda = nccl_dev_task},
    {.name = "nccl_reduce_scatter", .cuda = nccl_dev_task},
    {.name = "nccl_scan", .cuda = nccl_dev_task},
};

static const flo_kernel join_kernel = {.name = "coll_join", .host = join_task};

/* ---- Submission ----------------------------------------------------------
 * One task per local GPU (dev_task_submit: its arguments and accesses,
 * dev_task_build; its tracking slot, track_claim), then the join
 * (join_submit). */

/* The argument blob and access list of local participant i's task for
 * op: its send and receive handles (one READ_WRITE entry in place; for a
 * broadcast the one buffer, read on the root), the scratch handle for a
 * scan, and its GPU's sequence handle. Returns the number of accesses
 * (at most 4). */
static int dev_task_build(flo_comm *c, const flo__coll_op *op, int i,
                          nccl_args *a, flo_access_desc *acc)
{
    nccl_state *ns = c->tpriv;
    size_t es = flo_dtype_size(op->dtype);
    int p = c->first + i, n = 0;
    size_t nr = op->count * es;

    memset(a, 0, sizeof(*a));
    a->c = c;
    a->cid = c->ncoll;
    a->li = i;
    a->kind = op->kind;
    a->dtype = op->dtype;
    a->op = op->op;
    a->root = op->root;
    a->exclusive = op->exclusive;
    a->fault = op->fault;
    a->stall_ms = op->stall_ms;
    a->count = op->kind == FLO__COLL_SCAN ? op->counts[i] : op->count;
    a->sidx = a->ridx = a->xidx = -1;
    if (op->kind == FLO__COLL_ALLGATHER)
        nr *= (size_t)c->size;
    else if (op->kind == FLO__COLL_SCAN)
        nr = a->count * es;

    if (op->kind == FLO__COLL_BCAST) {
        acc[n].data = op->send[i];
        acc[n].mode =
            p == op->root ? FLO_READ : flo__comm_write_mode(c, op->send[i], nr);
        if (p == op->root)
            a->sidx = n++;
        else
            a->ridx = n++;
    } else {
        acc[n].data = op->send[i];
        acc[n].mode = FLO_READ;
        a->sidx = n++;
        if (op->kind != FLO__COLL_REDUCE || p == op->root) {
            if (op->recv[i].id == op->send[i].id) {
                acc[a->sidx].mode = FLO_READ_WRITE; /* In place. */
                a->ridx = a->sidx;
            } else {
                acc[n].data = op->recv[i];
                acc[n].mode = flo__comm_write_mode(c, op->recv[i], nr);
                a->ridx = n++;
            }
        }
    }
    if (op->kind == FLO__COLL_SCAN) {
        acc[n].data = ns->dev[i].scratch;
        acc[n].mode = FLO_READ_WRITE;
        a->xidx = n++;
    }
    acc[n].data = c->reg->seq[c->devs[i]];
    acc[n].mode = FLO_READ_WRITE;
    n++;
    return n;
}

/* Claim the tracking slot of collective c->ncoll on local participant
 * i's device and set the task's completion callback to match: tracked
 * (a->slot, dev_task_done) when the slot is free, else untracked (NULL,
 * dev_task_done_untracked), and the watchdog does not time it. */
static void track_claim(flo_comm *c, int i, nccl_args *a, flo_task_desc *desc)
{
    nccl_state *ns = c->tpriv;
    track_slot *t = &ns->dev[i].track[c->ncoll % TRACK_RING];
    int expect = SLOT_FREE;

    if (atomic_compare_exchange_strong(&t->state, &expect, SLOT_SUBMITTED)) {
        atomic_store(&t->cid, c->ncoll);
        a->slot = t;
        desc->callback = dev_task_done;
        desc->callback_arg = t;
    } else {
        a->slot = NULL;
        desc->callback = dev_task_done_untracked;
        desc->callback_arg = &ns->dev[i];
    }
}

/* Submit local participant i's task for op, pinned to its GPU; *ev gets
 * its event. On failure nothing was submitted and the tracking slot is
 * free again. */
static flo_status dev_task_submit(flo_comm *c, const flo__coll_op *op, int i,
                                  flo_event *ev)
{
    flo_access_desc acc[4];
    flo_task_desc desc = FLO_TASK_DESC_INIT;
    nccl_args a;
    flo_status st;

    desc.kernel = &dev_kernels[op->kind];
    desc.access = acc;
    desc.naccess = dev_task_build(c, op, i, &a, acc);
    desc.args = &a;
    desc.args_size = sizeof(a);
    desc.on_device = FLO_DEVICE(c->devs[i]);
    /* Before the submission: it copies a, slot included. */
    track_claim(c, i, &a, &desc);
    st = flo__comm_submit(c, &desc, ev);
    if (st != FLO_OK && a.slot != NULL)
        atomic_store(&a.slot->state, SLOT_FREE);
    return st;
}

/* Submit the join of collective c->ncoll after the events evs of its
 * c->nlocal GPU tasks; *out (if not NULL) gets its event. If the join
 * cannot be submitted the GPU tasks are in and the collective goes on,
 * unobserved: *out gets the last GPU task's event. */
static void join_submit(flo_comm *c, const flo_event *evs, flo_event *out)
{
    join_args ja = {.c = c, .cid = c->ncoll};
    flo_task_desc desc = FLO_TASK_DESC_INIT;
    flo_status st;

    desc.kernel = &join_kernel;
    desc.args = &ja;
    desc.args_size = sizeof(ja);
    desc.deps = evs;
    desc.ndeps = c->nlocal;
    desc.on_device = FLO_DEVICE(0);
    desc.callback = flo__comm_task_done;
    desc.callback_arg = c;
    st = flo__comm_submit_join(c, &desc, out);
    if (st != FLO_OK) {
        FLO__WARN("collective #%llu: join task not submitted (%s)",
                  (unsigned long long)c->ncoll, flo_status_str(st));
        if (out != NULL)
            *out = evs[c->nlocal - 1];
    }
}

static flo_status nccl_submit(flo_comm *c, const flo__coll_op *op,
                              flo_event *out)
{
    flo_event evs[FLO_COMM_MAX_LOCAL];
    flo_status st = FLO_OK;
    int i;

    for (i = 0; i < c->nlocal; i++) {
        st = dev_task_submit(c, op, i, &evs[i]);
        if (st != FLO_OK)
            break;
    }
    if (st != FLO_OK) {
        /* Some GPUs got this collective and others not: their NCCL
         * sequences now differ, so the communicator cannot be used. */
        if (i > 0)
            flo__comm_break(c, st, c->ncoll,
                            "submitting collective #%llu "
                            "failed after %d of %d GPUs: %s",
                            (unsigned long long)c->ncoll, i, c->nlocal,
                            flo_status_str(st));
        return st;
    }
    join_submit(c, evs, out);
    return FLO_OK;
}

flo_status flo__nccl_gpu_ids(const int *ordinals, int n, uint64_t *ids)
{
    for (int i = 0; i < n; i++) {
        char bus[32];
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        flo_status st =
            FLO__CUDA(cudaDeviceGetPCIBusId(bus, sizeof(bus), ordinals[i]));
        if (st != FLO_OK)
            return st;
        for (const char *p = bus; *p; p++)
            h = (h ^ (uint64_t)(unsigned char)(*p >= 'a' && *p <= 'f' ? *p - 32
                                                                      : *p)) *
                1099511628211ull;
        ids[i] = h != 0 ? h : 1;
    }
    return FLO_OK;
}

/* ---- Setup and teardown ------------------------------------------------ */

/* What rank 0 broadcasts: whether it got an id, and the id. */
typedef struct id_msg {
    int ok;
    ncclUniqueId id;
} id_msg;

/* Wait until none of comms[0..n) is ncclInProgress any more (a
 * non-blocking creation or shrink), at most tmo ns. FLO_OK; FLO_ECOMM
 * (logged) for an error; FLO_ETIMEDOUT (logged) when one is still in
 * progress at the deadline. */
static flo_status comms_wait(ncclComm_t *comms, int n, uint64_t tmo,
                             const char *what)
{
    uint64_t t0 = flo__now_ns();
    struct timespec pause = {0, 100000};

    for (;;) {
        bool busy = false;
        for (int i = 0; i < n; i++) {
            ncclResult_t ae = ncclSuccess;
            /* A non-blocking shrink inside a group sets the new handle
             * from NCCL's own thread, when its job starts. */
            ncclComm_t comm = __atomic_load_n(&comms[i], __ATOMIC_ACQUIRE);
            if (comm == NULL) {
                busy = true;
                continue;
            }
            if (FLO__NCCL_CHECK(ncclCommGetAsyncError(comm, &ae)) != FLO_OK)
                return FLO_ECOMM;
            if (ae == ncclInProgress) {
                busy = true;
            } else if (ae != ncclSuccess) {
                FLO__ERR("collectives: %s failed: %s", what,
                         ncclGetErrorString(ae));
                return FLO_ECOMM;
            }
        }
        if (!busy)
            return FLO_OK;
        if (flo__now_ns() - t0 > tmo) {
            FLO__ERR("collectives: %s did not complete within %.1f s "
                     "(FLO_COLL_TIMEOUT): a rank died or did not take part",
                     what, (double)tmo / 1e9);
            return FLO_ETIMEDOUT;
        }
        nanosleep(&pause, NULL);
    }
}

/* Abort the communicators of comms[0..n) that were made (not NULL). */
static void comms_abort(ncclComm_t *comms, int n)
{
    for (int i = 0; i < n; i++)
        if (comms[i] != NULL)
            (void)FLO__NCCL_CHECK(ncclCommAbort(comms[i]));
}

/* Every rank must agree before anyone uses new communicators. st is
 * this rank's outcome (on failure its comms were aborted already):
 * returns st, or FLO_ECOMM when another rank failed (or did not answer
 * in time), comms then aborted here. */
static flo_status comms_agree(flo_comm *c, ncclComm_t *comms, int n,
                              flo_status st)
{
    int ok = st == FLO_OK;

    if (flo__cmpi_allreduce_min_int(c->mpi, &ok) == FLO_OK && ok)
        return FLO_OK;
    if (st == FLO_OK) {
        comms_abort(comms, n);
        st = FLO_ECOMM;
    }
    return st;
}

/* Make c's NCCL communicators: ncclCommInitAll in one process; across
 * processes, a unique id from rank 0 over MPI and non-blocking
 * ncclCommInitRankConfig in one group, polled until done or the
 * timeout. */
static flo_status comms_init(flo_comm *c, nccl_state *ns)
{
    ncclComm_t comms[FLO_COMM_MAX_LOCAL];
    int ord[FLO_COMM_MAX_LOCAL];
    int prev = 0;
    flo_status st = FLO_OK;

    for (int i = 0; i < ns->n; i++) {
        ord[i] = ns->dev[i].ordinal;
        comms[i] = NULL;
    }
    if (FLO__CUDA(cudaGetDevice(&prev)) != FLO_OK)
        prev = -1;
    if (c->mpi == NULL) {
        /* One process: no rank can die during the creation. */
        st = FLO__NCCL_CHECK(ncclCommInitAll(comms, ns->n, ord));
    } else {
        ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
        id_msg m;
        cfg.blocking = 0;
        memset(&m, 0, sizeof(m));
        if (c->rank == 0)
            m.ok = FLO__NCCL_CHECK(ncclGetUniqueId(&m.id)) == FLO_OK;
        st = flo__cmpi_bcast_bytes(c->mpi, &m, sizeof(m), 0);
        if (st == FLO_OK && !m.ok)
            st = FLO_ECOMM;
        if (st == FLO_OK)
            st = FLO__NCCL_CHECK(ncclGroupStart());
        /* Once the group started it is ended, whatever failed inside. A
         * group that did not start is not ended, and this rank reports
         * the failure below like any other. Non-blocking: the calls and
         * the group's end may return ncclInProgress. */
        if (st == FLO_OK) {
            ncclResult_t r;
            for (int i = 0; i < ns->n && st == FLO_OK; i++) {
                st = FLO__CUDA(cudaSetDevice(ord[i]));
                if (st != FLO_OK)
                    break;
                r = ncclCommInitRankConfig(&comms[i], c->size, m.id,
                                           c->first + i, &cfg);
                if (r != ncclInProgress)
                    st = FLO__NCCL_CHECK(r);
            }
            r = ncclGroupEnd();
            if (r != ncclInProgress && FLO__NCCL_CHECK(r) != FLO_OK &&
                st == FLO_OK)
                st = FLO_ECOMM;
        }
        if (st == FLO_OK)
            st = comms_wait(comms, ns->n, flo__comm_timeout_ns(c),
                            "ncclCommInitRankConfig");
        if (st != FLO_OK)
            comms_abort(comms, ns->n);
        st = comms_agree(c, comms, ns->n, st);
    }
    flo__cuda_restore_device(prev, -1);
    if (st != FLO_OK)
        return st;
    for (int i = 0; i < ns->n; i++)
        ns->dev[i].comm = comms[i];
    return FLO_OK;
}

/* Shrink the parent's communicators to c's participants (ncclCommShrink:
 * collective over the survivors only). The caller holds the parent's
 * write lock and checked that they were not aborted. */
static flo_status comms_shrink(flo_comm *c, nccl_state *ns, flo_comm *parent,
                               const uint8_t *gone)
{
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 27, 0)
    nccl_state *pns = parent->tpriv;
    ncclComm_t comms[FLO_COMM_MAX_LOCAL];
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    int *excl, nexcl = 0, prev = 0;
    /* A broken parent may have operations in flight: end them first. */
    int flags =
        atomic_load(&parent->broken) ? NCCL_SHRINK_ABORT : NCCL_SHRINK_DEFAULT;
    flo_status st;
    ncclResult_t r;

    excl = malloc((size_t)parent->size * sizeof(int));
    if (excl == NULL)
        return FLO_ENOMEM;
    for (int q = 0; q < parent->nranks; q++)
        if (gone[q])
            for (int p = parent->rank_first[q]; p < parent->rank_first[q + 1];
                 p++)
                excl[nexcl++] = p;
    for (int i = 0; i < ns->n; i++)
        comms[i] = NULL;
    cfg.blocking = 0;
    if (FLO__CUDA(cudaGetDevice(&prev)) != FLO_OK)
        prev = -1;
    st = FLO__NCCL_CHECK(ncclGroupStart());
    if (st == FLO_OK) {
        for (int i = 0; i < ns->n && st == FLO_OK; i++) {
            st = FLO__CUDA(cudaSetDevice(ns->dev[i].ordinal));
            if (st != FLO_OK)
                break;
            r = ncclCommShrink(pns->dev[i].comm, excl, nexcl, &comms[i], &cfg,
                               flags);
            if (r != ncclInProgress)
                st = FLO__NCCL_CHECK(r);
        }
        r = ncclGroupEnd();
        if (r != ncclInProgress && FLO__NCCL_CHECK(r) != FLO_OK && st == FLO_OK)
            st = FLO_ECOMM;
    }
    if (st == FLO_OK)
        st =
            comms_wait(comms, ns->n, flo__comm_timeout_ns(c), "ncclCommShrink");
    if (st != FLO_OK)
        comms_abort(comms, ns->n);
    /* The parent is done with, whatever happened: never destroyed (which
     * could wait for what NCCL_SHRINK_ABORT ended), aborted at its fini. */
    pns->retired = true;
    if (c->mpi != NULL)
        st = comms_agree(c, comms, ns->n, st);
    flo__cuda_restore_device(prev, -1);
    free(excl);
    if (st != FLO_OK)
        return st;
    for (int i = 0; i < ns->n; i++)
        ns->dev[i].comm = comms[i];
    return FLO_OK;
#else
    (void)c;
    (void)ns;
    (void)parent;
    (void)gone;
    return FLO_ENOTSUP;
#endif
}

static void nccl_fini(flo_comm *c);

/* A new transport state for c (its scratch handles allocated); NULL
 * comms until comms_init or comms_shrink. */
static flo_status state_new(flo_comm *c, nccl_state **out)
{
    nccl_state *ns = calloc(1, sizeof(*ns));
    flo_status st;
    int i;

    if (ns == NULL)
        return FLO_ENOMEM;
    ns->c = c;
    ns->n = c->nlocal;
    atomic_init(&ns->abort_wanted, 0);
    for (i = 0; i < ns->n; i++) {
        flo_device_info info;
        nccl_dev *d = &ns->dev[i];
        d->ns = ns;
        d->c = c;
        d->li = i;
        for (int k = 0; k < TRACK_RING; k++) {
            d->track[k].d = d;
            atomic_init(&d->track[k].cid, 0);
            atomic_init(&d->track[k].launch_ns, 0);
            atomic_init(&d->track[k].state, SLOT_FREE);
        }
        st = flo_device_get_info(c->rt, c->devs[i], &info);
        if (st != FLO_OK)
            goto fail_free;
        d->ordinal = info.ordinal;
    }
    if (pthread_rwlock_init(&ns->lock, NULL) != 0) {
        st = FLO_ESYS;
        goto fail_free;
    }
    if (pthread_mutex_init(&ns->wd_mu, NULL) != 0) {
        st = FLO_ESYS;
        goto fail_rw;
    }
    if (pthread_cond_init(&ns->wd_cv, NULL) != 0) {
        st = FLO_ESYS;
        goto fail_mu;
    }
    for (i = 0; i < ns->n; i++) {
        st = flo_data_alloc(c->rt, scratch_bytes(c), &ns->dev[i].scratch);
        if (st != FLO_OK)
            goto fail_scratch;
    }
    *out = ns;
    return FLO_OK;

fail_scratch:
    while (i-- > 0)
        flo_data_unregister(c->rt, ns->dev[i].scratch);
    pthread_cond_destroy(&ns->wd_cv);
fail_mu:
    pthread_mutex_destroy(&ns->wd_mu);
fail_rw:
    pthread_rwlock_destroy(&ns->lock);
fail_free:
    free(ns);
    return st;
}

/* Free ns: undo state_new (its comms never made, or destroyed). */
static void state_free(flo_comm *c, nccl_state *ns)
{
    for (int i = 0; i < ns->n; i++)
        flo_data_unregister(c->rt, ns->dev[i].scratch);
    pthread_cond_destroy(&ns->wd_cv);
    pthread_mutex_destroy(&ns->wd_mu);
    pthread_rwlock_destroy(&ns->lock);
    free(ns);
}

/* ns has its comms: make it c's and start its watchdog. */
static flo_status state_start(flo_comm *c, nccl_state *ns)
{
    c->tpriv = ns;
    if (pthread_create(&ns->watchdog, NULL, watchdog_main, ns) != 0) {
        nccl_fini(c);
        return FLO_ESYS;
    }
    ns->wd_started = true;
    return FLO_OK;
}

/* Stop ns's watchdog (a shrink takes over its communicators). */
static void watchdog_stop(nccl_state *ns)
{
    if (!ns->wd_started)
        return;
    pthread_mutex_lock(&ns->wd_mu);
    ns->wd_stop = true;
    pthread_cond_signal(&ns->wd_cv);
    pthread_mutex_unlock(&ns->wd_mu);
    pthread_join(ns->watchdog, NULL);
    ns->wd_started = false;
}

static flo_status nccl_init(flo_comm *c)
{
    nccl_state *ns;
    flo_status st = state_new(c, &ns);

    if (st != FLO_OK)
        return st;
    st = comms_init(c, ns);
    if (st != FLO_OK) {
        state_free(c, ns);
        return st;
    }
    return state_start(c, ns);
}

/* flo_comm_shrink: c's communicators from parent's. With NCCL >= 2.27,
 * parent's not aborted and at least one rank left out, ncclCommShrink
 * (NCCL_SHRINK_ABORT when parent is broken); otherwise (a rebuild over
 * every rank: ncclCommShrink refuses an empty exclusion list) new ones,
 * from a new unique id over c's MPI communicator, or ncclCommInitAll in
 * one process; a broken parent's communicators are aborted first, as
 * NCCL_SHRINK_ABORT would (they may have operations in flight that its
 * stopped watchdog no longer times). Parent's watchdog stops first (the
 * shrink owns its communicators); if the shrink fails, parent is
 * aborted, since the state of its communicators is then unknown. */
static flo_status nccl_shrink(flo_comm *c, flo_comm *parent,
                              const uint8_t *gone)
{
    nccl_state *pns = parent->tpriv, *ns;
    flo_status st = state_new(c, &ns);
    bool from_parent = false;

    if (st != FLO_OK)
        return st;
    watchdog_stop(pns);
    /* Entry points of parent hold the read lock for an enqueue at most
     * (bounded by the timeout). */
    pthread_rwlock_wrlock(&pns->lock);
    for (int q = 0; q < parent->nranks; q++)
        from_parent = from_parent || gone[q] != 0;
    from_parent = from_parent && !pns->aborted;
#if NCCL_VERSION_CODE < NCCL_VERSION(2, 27, 0)
    from_parent = false;
#endif
    if (!from_parent && atomic_load(&parent->broken))
        abort_comms(pns);
    st = from_parent ? comms_shrink(c, ns, parent, gone) : comms_init(c, ns);
    pthread_rwlock_unlock(&pns->lock);
    if (st != FLO_OK) {
        abort_all(pns, FLO_ECOMM, "flo_comm_shrink failed");
        state_free(c, ns);
        return st;
    }
    return state_start(c, ns);
}

static void nccl_fini(flo_comm *c)
{
    nccl_state *ns = c->tpriv;

    if (ns == NULL)
        return;
    watchdog_stop(ns);
    /* No task of c is left (c->users == 0): nothing uses the comms. */
    if (ns->retired)
        abort_comms(ns);
    else if (!ns->aborted)
        for (int i = 0; i < ns->n; i++)
            (void)FLO__NCCL_CHECK(ncclCommDestroy(ns->dev[i].comm));
    state_free(c, ns);
    c->tpriv = NULL;
}

const flo__transport_ops flo__transport_nccl = {
    .name = "nccl",
    .init = nccl_init,
    .fini = nccl_fini,
    .submit = nccl_submit,
    .abort = nccl_abort,
    .shrink = nccl_shrink,
};
