/*
 * Flotilla CUDA backend - error checking, event pools, the per-device
 * memory pool (cudaMemPool fronted by a size-class cache) and eviction.
 *
 * Memory accounting, under cd->mem_mu: `held` counts every byte taken
 * from the cudaMemPool and not yet given back (cached blocks and live
 * ones), `in_use` the live ones. A block's size is its class size,
 * recomputed from the requested size on free, so blocks carry no header.
 * held never exceeds cd->limit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device/cuda/cuda_backend.h"

/* ---- Errors ----------------------------------------------------------- */

flo_status flo__cuda_status(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return FLO_OK;
    case cudaErrorMemoryAllocation: return FLO_ENOMEM;
    case cudaErrorNoDevice:
    case cudaErrorInvalidDevice:
    case cudaErrorInsufficientDriver: return FLO_ENODEV;
    default: return FLO_EDEVICE;
    }
}

flo_status flo__cuda_report(cudaError_t e, const char *call, const char *file,
                            int line)
{
    flo__log(FLO__LOG_ERROR, file, line, "%s failed: %s (%s)", call,
             cudaGetErrorName(e), cudaGetErrorString(e));
    (void)cudaGetLastError();
    return flo__cuda_status(e);
}

bool flo__cuda_error_is_sticky(cudaError_t e)
{
    switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorContextIsDestroyed:
    case cudaErrorDevicesUnavailable:
    case cudaErrorUnknown: return true;
    default: return false;
    }
}

void flo__cuda_dev_fail(flo__cuda_dev *cd, cudaError_t e, const char *what)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&cd->failed, &expect, 2))
        return;
    /* failed == 2 while the message is written, 1 once readable. */
    cd->failed_err = e;
    snprintf(cd->failed_msg, sizeof cd->failed_msg,
             "GPU %d (cuda %d) failed: %s (%s) during %s", cd->node,
             cd->ordinal, cudaGetErrorName(e), cudaGetErrorString(e), what);
    atomic_store(&cd->failed, 1);
    /* The scheduler moves its tasks to the other devices. */
    flo__device_lost(cd->dev, cd->failed_msg);
}

void flo__cuda_release(flo__cuda_dev *cd, cudaError_t e, const char *what)
{
    if (FLO__LIKELY(e == cudaSuccess))
        return;
    (void)cudaGetLastError();
    if (atomic_load(&cd->failed))
        return;
    if (flo__cuda_error_is_sticky(e))
        flo__cuda_dev_fail(cd, e, what);
    else
        FLO__ERR("GPU %d (cuda %d): %s failed: %s (%s)", cd->node, cd->ordinal,
                 what, cudaGetErrorName(e), cudaGetErrorString(e));
}

/* ---- Event pools ------------------------------------------------------ */

static flo_status evpool_grow(flo__cuda_evpool *p, int n)
{
    if (p->n + n > p->cap) {
        int cap = p->cap ? p->cap : 64;
        while (cap < p->n + n)
            cap *= 2;
        cudaEvent_t *ev = realloc(p->ev, (size_t)cap * sizeof *ev);
        if (!ev)
            return FLO_ENOMEM;
        p->ev = ev;
        p->cap = cap;
    }
    for (int i = 0; i < n; i++) {
        flo_status st =
            FLO__CUDA(cudaEventCreateWithFlags(&p->ev[p->n], p->flags));
        if (st)
            return st;
        p->n++;
    }
    return FLO_OK;
}

flo_status flo__cuda_evpool_init(flo__cuda_evpool *p, int ordinal,
                                 unsigned flags, int n)
{
    memset(p, 0, sizeof *p);
    p->lock = (flo__spinlock)FLO__SPINLOCK_INIT;
    p->flags = flags;
    p->ordinal = ordinal;
    flo_status st = evpool_grow(p, n);
    if (st) /* The failure was reported: the cleanup's would repeat it. */
        (void)flo__cuda_evpool_fini(p);
    return st;
}

cudaError_t flo__cuda_evpool_fini(flo__cuda_evpool *p)
{
    cudaError_t first = cudaSuccess;
    for (int i = 0; i < p->n; i++) {
        cudaError_t e = cudaEventDestroy(p->ev[i]);
        if (e != cudaSuccess && first == cudaSuccess)
            first = e;
    }
    free(p->ev);
    p->ev = NULL;
    p->n = p->cap = 0;
    return first;
}

flo_status flo__cuda_ev_get(flo__cuda_evpool *p, cudaEvent_t *out)
{
    flo__spin_lock(&p->lock);
    if (FLO__UNLIKELY(p->n == 0)) {
        /* Rare: more events live than the pool was sized for. Events
         * belong to the device current when created: the worker and
         * staging threads have it current, and other threads (copy home)
         * make it current before taking events. */
        flo_status st = evpool_grow(p, 64);
        if (st || p->n == 0) {
            flo__spin_unlock(&p->lock);
            return st ? st : FLO_ENOMEM;
        }
    }
    *out = p->ev[--p->n];
    flo__spin_unlock(&p->lock);
    return FLO_OK;
}

void flo__cuda_ev_put(flo__cuda_evpool *p, cudaEvent_t ev)
{
    flo__spin_lock(&p->lock);
    if (p->n < p->cap) {
        p->ev[p->n++] = ev;
        ev = NULL;
    }
    flo__spin_unlock(&p->lock);
    if (ev) /* Cannot happen: the array holds every event created. */
        (void)FLO__CUDA(cudaEventDestroy(ev));
}

/* ---- Size classes ----------------------------------------------------- */

/* Class of a request and its size; -1 above 4 GiB (not cached). */
static int size_class(size_t b, size_t *csize)
{
    if (b <= 256) {
        *csize = 256;
        return 0;
    }
    if (b > ((size_t)1 << 32)) {
        *csize = (b + 4095) & ~(size_t)4095;
        return -1;
    }
    int e = 63 - __builtin_clzll((unsigned long long)(b - 1));
    size_t base = (size_t)1 << e, q = base / 4;
    size_t step = (b - base + q - 1) / q; /* 1..4 */
    *csize = base + step * q;
    return (e - 8) * 4 + (int)step;
}

static size_t class_size(int c)
{
    if (c == 0)
        return 256;
    int e = (c - 1) / 4 + 8, step = (c - 1) % 4 + 1;
    return ((size_t)1 << e) + (size_t)step * (((size_t)1 << e) / 4);
}

/* Give every cached block back to the pool. Caller holds mem_mu and has
 * the device current. */
static void cache_drop_all(flo__cuda_dev *cd)
{
    for (int c = 0; c < FLO__CUDA_NCLASS; c++) {
        flo__cuda_class *k = &cd->cls[c];
        while (k->n > 0) {
            flo__cuda_release(cd, cudaFreeAsync(k->blk[--k->n], cd->alloc),
                              "freeing a cached block");
            cd->held -= class_size(c);
        }
    }
}

/* ---- Resident list (LRU candidates) ----------------------------------- */

static void resident_add(flo__cuda_dev *cd, flo__replica *r)
{
    r->lru_prev = NULL;
    r->lru_next = cd->resident;
    if (cd->resident)
        cd->resident->lru_prev = r;
    cd->resident = r;
}

static void resident_del(flo__cuda_dev *cd, flo__replica *r)
{
    if (r->lru_prev)
        r->lru_prev->lru_next = r->lru_next;
    else if (cd->resident == r)
        cd->resident = r->lru_next;
    if (r->lru_next)
        r->lru_next->lru_prev = r->lru_prev;
    r->lru_prev = r->lru_next = NULL;
}

/* Put a block back in the cache (or give it back to the pool). Caller
 * holds mem_mu. */
static void block_release(flo__cuda_dev *cd, void *p, size_t bytes)
{
    size_t csize;
    int c = size_class(bytes, &csize);
    cd->in_use -= csize;
    if (c >= 0) {
        flo__cuda_class *k = &cd->cls[c];
        if (k->n == k->cap) {
            int cap = k->cap ? 2 * k->cap : 16;
            void **blk = realloc(k->blk, (size_t)cap * sizeof *blk);
            if (blk) {
                k->blk = blk;
                k->cap = cap;
            }
        }
        if (k->n < k->cap) {
            k->blk[k->n++] = p;
            return;
        }
    }
    flo__cuda_release(cd, cudaFreeAsync(p, cd->alloc), "freeing a block");
    cd->held -= csize;
}

/* Give a replica's memory back. Caller holds mem_mu (and, when the data
 * can still be used, its coh_lock). */
static void replica_release(flo__cuda_dev *cd, flo__replica *r, size_t bytes)
{
    if (!r->ptr)
        return;
    resident_del(cd, r);
    if (r->ready) {
        /* A copy into r may still run if a task that used r failed
         * before completion was observed; wait for it. */
        cudaEventSynchronize((cudaEvent_t)r->ready);
        flo__cuda_ev_put(&cd->events, (cudaEvent_t)r->ready);
        r->ready = NULL;
    }
    block_release(cd, r->ptr, bytes);
    r->ptr = NULL;
    r->state = FLO__REP_INVALID;
}

/* Synchronous copy of a replica on cd to host memory (eviction). */
static flo_status writeback(flo__cuda_dev *cd, flo__data *e, flo__replica *r)
{
    flo__replica *h = &e->rep[0];
    /* Runtime-owned data never touched on the host gets its host copy
     * here (the core frees it according to e->host_pin). */
    flo_status ast = flo__coh_host_mem(cd->plat, e);
    if (ast)
        return ast;
    if (e->home_tok)
        return FLO_EBUSY; /* A copy home in flight: cannot happen while
                             r is unused (it holds r), kept as a guard. */
    flo_status st = flo__cuda_copy_to_host(cd->dev, h->ptr, r->ptr, e->bytes);
    if (st)
        return st;
    atomic_fetch_add_explicit(&cd->plat->bytes_d2h, e->bytes,
                              memory_order_relaxed);
    h->state = FLO__REP_OWNER;
    return FLO_OK;
}

static bool other_valid(const flo__data *e, int node)
{
    for (int n = 0; n < FLO__MAX_NODES; n++)
        if (n != node && e->rep[n].state != FLO__REP_INVALID)
            return true;
    return false;
}

/*
 * Evict one replica of cd: invalid ones first, then clean ones (another
 * valid copy exists) least recently used first, then dirty ones after a
 * write-back. Replicas in use by tasks and those whose handle is locked
 * by another thread are skipped. Caller holds mem_mu and maybe the
 * coh_lock of `self` (skipped). Returns FLO_OK if one was evicted,
 * FLO_ENOMEM if none could be.
 */
static flo_status evict_one(flo__cuda_dev *cd, const flo__data *self)
{
    bool busy = false;

    for (int pass = 0; pass < 3; pass++) {
        flo__replica *best = NULL;
        uint64_t best_use = UINT64_MAX;
        for (flo__replica *r = cd->resident; r; r = r->lru_next) {
            flo__data *e = flo__cuda_rep_data(r, cd->node);
            if (e == self)
                continue;
            if (pthread_mutex_trylock(&e->coh_lock) != 0) {
                busy = true;
                continue;
            }
            bool ok = r->users == 0;
            if (!ok)
                busy = true;
            if (ok) {
                bool clean = other_valid(e, cd->node);
                if (pass == 0)
                    ok = r->state == FLO__REP_INVALID;
                else if (pass == 1)
                    ok = r->state != FLO__REP_INVALID && clean;
                else
                    ok = !clean;
            }
            if (ok && (pass == 0 || r->last_use < best_use)) {
                best = r;
                best_use = r->last_use;
            }
            pthread_mutex_unlock(&e->coh_lock);
            if (ok && pass == 0)
                break;
        }
        if (!best)
            continue;
        flo__data *e = flo__cuda_rep_data(best, cd->node);
        if (pthread_mutex_trylock(&e->coh_lock) != 0)
            return FLO_OK; /* Lost it: let the caller retry. */
        flo_status st = FLO_OK;
        if (best->users != 0) {
            pthread_mutex_unlock(&e->coh_lock);
            return FLO_OK;
        }
        if (best->state != FLO__REP_INVALID && !other_valid(e, cd->node))
            st = writeback(cd, e, best);
        if (st == FLO_OK) {
            replica_release(cd, best, e->bytes);
            atomic_fetch_add_explicit(&cd->plat->evictions, 1,
                                      memory_order_relaxed);
            FLO__DEBUG("GPU %d: evicted %zu bytes (pass %d)", cd->node,
                       e->bytes, pass);
        }
        pthread_mutex_unlock(&e->coh_lock);
        return st;
    }
    /* Replicas in use by tasks in flight (here, or as the source of a
     * peer copy to another GPU) or locked by another worker will become
     * free: say so, so that the caller waits instead of failing. */
    return busy ? FLO_EBUSY : FLO_ENOMEM;
}

static flo_status pool_alloc_locked(flo__cuda_dev *cd, size_t bytes,
                                    const flo__data *self, void **out)
{
    size_t csize;
    int c = size_class(bytes, &csize);
    bool trimmed = false;
    for (;;) {
        if (c >= 0 && cd->cls[c].n > 0) {
            *out = cd->cls[c].blk[--cd->cls[c].n];
            cd->in_use += csize;
            return FLO_OK;
        }
        if (cd->held + csize <= cd->limit) {
            void *p = NULL;
            cudaError_t e =
                cudaMallocFromPoolAsync(&p, csize, cd->pool, cd->alloc);
            if (e == cudaSuccess)
                e = cudaStreamSynchronize(cd->alloc);
            if (e == cudaSuccess) {
                cd->held += csize;
                cd->in_use += csize;
                *out = p;
                return FLO_OK;
            }
            if (e != cudaErrorMemoryAllocation)
                return FLO__CUDA(e);
            (void)cudaGetLastError(); /* Not sticky: clear it. */
        }
        /* Reclaim: cached blocks of other classes first, then replicas. */
        if (cd->held > cd->in_use) {
            cache_drop_all(cd);
            /* The frees must have happened for the retry to find room. */
            flo_status st = FLO__CUDA(cudaStreamSynchronize(cd->alloc));
            if (st)
                return st;
            continue;
        }
        flo_status st = evict_one(cd, self);
        if (st == FLO_ENOMEM && !trimmed && cd->held + csize <= cd->limit) {
            /* The GPU itself is full: the pool may keep memory freed
             * above; give it back to the driver once, then retry (a
             * failed trim leaves only the retry's chances lower). */
            if ((st = FLO__CUDA(cudaStreamSynchronize(cd->alloc))))
                return st;
            (void)FLO__CUDA(cudaMemPoolTrimTo(cd->pool, 0));
            trimmed = true;
            continue;
        }
        if (st)
            return st;
    }
}

flo_status flo__cuda_pool_alloc(flo__cuda_dev *cd, size_t bytes, void **out)
{
    if (!cd || !out || bytes == 0)
        return FLO_EINVAL;
    if (atomic_load_explicit(&cd->failed, memory_order_relaxed))
        return FLO_EDEVICE;
    void *p = NULL;
    pthread_mutex_lock(&cd->mem_mu);
    size_t csize;
    int c = size_class(bytes, &csize);
    flo_status st;
    if (c >= 0 && cd->cls[c].n > 0) {
        /* Fast path: no driver call. */
        p = cd->cls[c].blk[--cd->cls[c].n];
        cd->in_use += csize;
        st = FLO_OK;
    } else {
        int old = flo__cuda_use_device(cd->ordinal);
        st = pool_alloc_locked(cd, bytes, NULL, &p);
        flo__cuda_restore_device(old, cd->ordinal);
        if (st == FLO_EBUSY)
            st = FLO_ENOMEM;
    }
    pthread_mutex_unlock(&cd->mem_mu);
    if (st == FLO_OK)
        *out = p;
    return st;
}

void flo__cuda_pool_free(flo__cuda_dev *cd, void *ptr, size_t bytes)
{
    if (!cd || !ptr)
        return;
    pthread_mutex_lock(&cd->mem_mu);
    size_t csize;
    int c = size_class(bytes, &csize);
    if (c >= 0 && cd->cls[c].n < cd->cls[c].cap) {
        block_release(cd, ptr, bytes); /* Into the cache: no driver call. */
    } else {
        int old = flo__cuda_use_device(cd->ordinal);
        block_release(cd, ptr, bytes);
        flo__cuda_restore_device(old, cd->ordinal);
    }
    pthread_mutex_unlock(&cd->mem_mu);
}

void flo__cuda_pool_usage(flo__cuda_dev *cd, size_t *held, size_t *in_use)
{
    pthread_mutex_lock(&cd->mem_mu);
    if (held)
        *held = cd->held;
    if (in_use)
        *in_use = cd->in_use;
    pthread_mutex_unlock(&cd->mem_mu);
}

/* How long an allocation waits for replicas pinned by tasks in flight
 * before it fails with FLO_ENOMEM. Bounded: the worker that could
 * release them may itself wait for a lock this caller holds. */
#define ALLOC_WAIT_NS (500ull * 1000 * 1000)

flo_status flo__cuda_replica_alloc(flo__cuda_dev *cd, flo__data *d)
{
    flo__replica *r = &d->rep[cd->node];
    uint64_t t0 = 0;
    void *p = NULL;
    flo_status st;

    for (;;) {
        pthread_mutex_lock(&cd->mem_mu);
        st = pool_alloc_locked(cd, d->bytes, d, &p);
        if (st == FLO_OK) {
            r->ptr = p;
            resident_add(cd, r);
        }
        pthread_mutex_unlock(&cd->mem_mu);
        if (st != FLO_EBUSY)
            return st;
        /* Called by cd's own worker: its tasks in flight may hold what
         * it needs, and only it completes them. Let it drain them first
         * (cuda_execute does, then retries); wait only for others. */
        if (cd->inflight > 0)
            return FLO_ENOMEM;
        if (!t0)
            t0 = flo__now_ns();
        else if (flo__now_ns() - t0 > ALLOC_WAIT_NS)
            return FLO_ENOMEM;
        struct timespec ts = {0, 50000}; /* 50 us */
        nanosleep(&ts, NULL);
    }
}

void flo__cuda_replica_free(flo__device *dev, flo__replica *r, size_t bytes)
{
    flo__cuda_dev *cd = dev->priv;
    if (flo__cuda_rep_data(r, cd->node)->user_node == cd->node) {
        /* The program's memory (flo_data_register_device): not from the
         * pool, never on the resident list; only its ready event, if a
         * copy filled it, is the backend's to release. */
        if (r->ready) {
            int old = flo__cuda_use_device(cd->ordinal);
            flo__cuda_release(cd, cudaEventSynchronize((cudaEvent_t)r->ready),
                              "waiting for a copy into registered memory");
            flo__cuda_ev_put(&cd->events, (cudaEvent_t)r->ready);
            flo__cuda_restore_device(old, cd->ordinal);
            r->ready = NULL;
        }
        r->ptr = NULL;
        r->state = FLO__REP_INVALID;
        return;
    }
    pthread_mutex_lock(&cd->mem_mu);
    if (r->ptr) {
        int old = flo__cuda_use_device(cd->ordinal);
        replica_release(cd, r, bytes);
        flo__cuda_restore_device(old, cd->ordinal);
    }
    pthread_mutex_unlock(&cd->mem_mu);
}

/* ---- Init / fini (the calling thread has cd's device current) ------- */

flo_status flo__cuda_mem_init(flo__cuda_dev *cd)
{
    struct cudaMemPoolProps props;
    memset(&props, 0, sizeof props);
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = cd->ordinal;
    flo_status st = FLO__CUDA(cudaMemPoolCreate(&cd->pool, &props));
    if (st)
        return st;
    /* Keep freed memory in the pool: the driver never gives it back
     * between allocations (only cudaMemPoolTrimTo, under pressure). */
    uint64_t thr = UINT64_MAX;
    st = FLO__CUDA(cudaMemPoolSetAttribute(
        cd->pool, cudaMemPoolAttrReleaseThreshold, &thr));
    if (st) {
        flo__cuda_release(cd, cudaMemPoolDestroy(cd->pool),
                          "destroying the memory pool");
        cd->pool = NULL;
        return st;
    }
    cd->limit =
        cd->plat->cfg->gpu_mem_limit ? cd->plat->cfg->gpu_mem_limit : SIZE_MAX;
    return FLO_OK;
}

void flo__cuda_mem_fini(flo__cuda_dev *cd)
{
    pthread_mutex_lock(&cd->mem_mu);
    /* The core frees every handle's replicas (replica_free) before
     * device fini, and the handles' memory with them: a replica still
     * listed here would be a dangling pointer, so it is not touched. */
    if (cd->resident)
        FLO__WARN("GPU %d: replicas still resident at fini (%zu bytes)",
                  cd->node, cd->in_use);
    cd->resident = NULL;
    if (cd->pool) {
        cache_drop_all(cd);
        flo__cuda_release(cd, cudaStreamSynchronize(cd->alloc),
                          "waiting for the pool's frees");
        flo__cuda_release(cd, cudaMemPoolDestroy(cd->pool),
                          "destroying the memory pool");
        cd->pool = NULL;
    }
    for (int c = 0; c < FLO__CUDA_NCLASS; c++) {
        free(cd->cls[c].blk);
        cd->cls[c].blk = NULL;
        cd->cls[c].n = cd->cls[c].cap = 0;
    }
    pthread_mutex_unlock(&cd->mem_mu);
}
