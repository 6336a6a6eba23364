/*
 * Flotilla - coherence of data replicas, the host side. A data handle has
 * a replica per memory node; each is INVALID, SHARED (valid, maybe with
 * others) or OWNER (the only valid one). Transitions happen under the
 * handle's coh_lock. The dependency rules guarantee that a writer never
 * runs concurrently with another task using the same handle, so a task
 * that finds its replica already valid needs no lock.
 *
 * No lock is held across a copy: the host side takes coh_lock to decide
 * and to publish a copy home, and waits for it unlocked (see the
 * home_* fields of flo__data). Lock order: coh_lock, then a backend's
 * locks (mem_mu or the staging queue lock, never both), then an event
 * pool's spin lock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "device/device.h"

void flo__coh_mark_written(flo__data *d, int node)
{
    /* The host memory keeps the version it had when it is invalidated
     * (see flo__data.host_ver). */
    if (node != 0 &&
        atomic_load_explicit(&d->rep[0].state, memory_order_relaxed) !=
            FLO__REP_INVALID)
        d->host_ver = d->ver;
    for (int i = 0; i < FLO__MAX_NODES; i++) {
        if (i == node)
            continue;
        if (atomic_load_explicit(&d->rep[i].state, memory_order_relaxed) !=
            FLO__REP_INVALID)
            atomic_store_explicit(&d->rep[i].state, FLO__REP_INVALID,
                                  memory_order_relaxed);
    }
    atomic_store_explicit(&d->rep[node].state, FLO__REP_OWNER,
                          memory_order_release);
    d->ever_written = true;
}

flo__device *flo__coh_xfer_dev(const flo__platform *plat)
{
    for (int i = 1; plat && i < plat->ndevices; i++)
        if (plat->devices[i] && plat->devices[i]->xfer)
            return plat->devices[i];
    return NULL;
}

/*
 * Runtime-owned host memory without pinning. Large blocks come straight
 * from mmap: the kernel answers an impossible size with ENOMEM, whereas
 * malloc under AddressSanitizer aborts the process above its own limit
 * (a user's flo_data_alloc of 2^62 bytes must fail the task with
 * FLO_ENOMEM, not kill the program). Small blocks: aligned_alloc.
 */
#define HOST_MMAP_MIN ((size_t)1 << 20)

static void *host_mem_alloc(size_t bytes)
{
    if (bytes >= HOST_MMAP_MIN) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    return aligned_alloc(FLO__CACHELINE, (bytes + FLO__CACHELINE - 1) /
                                             FLO__CACHELINE * FLO__CACHELINE);
}

static void host_mem_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes >= HOST_MMAP_MIN)
        munmap(p, bytes);
    else
        free(p);
}

flo_status flo__coh_host_mem(flo__platform *plat, flo__data *d)
{
    flo__replica *r = &d->rep[0];
    flo__device *x;

    if (r->ptr)
        return FLO_OK;
    if (d->user_ptr) {
        r->ptr = d->user_ptr;
        return FLO_OK;
    }
    x = plat->cfg->no_pin_host ? NULL : flo__coh_xfer_dev(plat);
    if (d->bytes > SIZE_MAX - FLO__CACHELINE)
        return FLO_ENOMEM;
    if (x) {
        r->ptr = x->xfer->host_alloc(x, d->bytes);
        if (r->ptr) {
            d->host_pin = FLO__PIN_ALLOC;
            return FLO_OK;
        }
    }
    r->ptr = host_mem_alloc(d->bytes);
    d->host_pin = x ? FLO__PIN_FAILED : FLO__PIN_NONE;
    return r->ptr ? FLO_OK : FLO_ENOMEM;
}

/* The copy home in flight finished with st: publish it (once; caller
 * holds d->coh_lock). The host memory holds version home_ver; it is the
 * current copy unless a writer took a new version since (write-through
 * at rest: the copy started behind its task, not under a dependency). */
static void home_publish(flo__platform *plat, flo__data *d, flo_status st)
{
    int src = d->home_src;

    d->home_done = true;
    d->home_st = st;
    d->rep[src].users--;
    if (st != FLO_OK) {
        d->host_torn = true; /* Part of it may have landed. */
        return;
    }
    atomic_fetch_add_explicit(&plat->bytes_d2h, d->bytes, memory_order_relaxed);
    if (d->ver != d->home_ver) {
        /* Overwritten since it started (write-through at rest): stale,
         * but a base for lineage replay. */
        d->host_ver = d->home_ver;
        d->host_torn = false;
        return;
    }
    flo__coh_host_copied(d, src);
}

/* Release d's hold on the copy home (caller holds d->coh_lock). */
static void home_drop(flo__platform *plat, flo__data *d)
{
    flo__device *dev = plat->devices[d->home_src];
    dev->xfer->home_release(dev, d->home_tok);
    d->home_tok = NULL;
    d->home_done = false;
}

/*
 * Wait for the copy home in flight (d->home_tok) without the lock; the
 * first waiter back publishes the result. Called and returns with
 * d->coh_lock held; the status of the copy.
 */
static flo_status home_wait(flo__platform *plat, flo__data *d)
{
    void *tok = d->home_tok;
    flo__device *dev = plat->devices[d->home_src];
    flo_status st;

    d->home_waiters++;
    pthread_mutex_unlock(&d->coh_lock);
    st = dev->xfer->home_wait(dev, tok);
    pthread_mutex_lock(&d->coh_lock);
    if (!d->home_done)
        home_publish(plat, d, st);
    st = d->home_st;
    if (--d->home_waiters == 0)
        home_drop(plat, d);
    return st;
}

/* Wait until no copy home is in flight (caller holds d->coh_lock): before
 * host memory is written or freed. */
static void home_quiesce(flo__platform *plat, flo__data *d)
{
    while (d->home_tok)
        (void)home_wait(plat, d);
}

void flo__coh_home_begin(flo__data *d, int src, void *tok)
{
    d->home_tok = tok;
    d->home_src = src;
    d->home_ver = d->ver;
    d->home_waiters = 0;
    d->home_done = false;
    /* The source stays allocated (not evictable) until published. */
    d->rep[src].users++;
}

void flo__coh_home_settle(flo__platform *plat, flo__data *d, void *tok,
                          flo_status st)
{
    pthread_mutex_lock(&d->coh_lock);
    if (d->home_tok == tok && d->home_waiters == 0) {
        if (!d->home_done)
            home_publish(plat, d, st);
        home_drop(plat, d);
    }
    pthread_mutex_unlock(&d->coh_lock);
}

/* Start a copy home from a valid GPU replica (caller holds coh_lock and
 * found none in flight). FLO_OK with d->home_tok set; or the error of the
 * last source tried. Backends without transfer services copy
 * synchronously (under the lock) and publish here. */
static flo_status home_start(flo__platform *plat, flo__data *d)
{
    flo__replica *r = &d->rep[0];
    flo_status st = FLO_EINTERNAL;
    int src = -1;

    for (int i = 1; i < plat->ndevices && st != FLO_OK; i++) {
        flo__device *dev = plat->devices[i];
        flo__replica *rs = &d->rep[i];
        if (atomic_load_explicit(&rs->state, memory_order_relaxed) ==
            FLO__REP_INVALID)
            continue;
        src = i;
        if (!dev->xfer) {
            st = dev->ops->copy_to_host(dev, r->ptr, rs->ptr, d->bytes);
            if (st == FLO_OK) {
                atomic_fetch_add_explicit(&plat->bytes_d2h, d->bytes,
                                          memory_order_relaxed);
                flo__coh_host_copied(d, i);
            }
            continue;
        }
        void *tok = NULL;
        st = dev->xfer->home_start(dev, d, r->ptr,
                                   flo__pin_is_locked(d->host_pin), &tok);
        if (st == FLO_OK)
            flo__coh_home_begin(d, i, tok);
    }
    if (src < 0)
        FLO__ERR("data handle %u: no valid replica", d->slot);
    return st;
}

/*
 * Lock discipline: coh_lock is held to decide and to publish, never
 * across a copy: a GPU worker preparing another task on this handle
 * takes it too. While a copy home is in flight rep[0] stays INVALID, so
 * no GPU picks the host as a source and no reader on the host uses it.
 */
flo_status flo__coh_host_prepare(flo__platform *plat, flo__data *d,
                                 flo_access mode, void **ptr, flo__task *t)
{
    flo__replica *r = &d->rep[0];
    int s = atomic_load_explicit(&r->state, memory_order_acquire);
    flo_status st = FLO_OK;

    /* Fast path: valid for reading, or already the only copy (and not
     * being recomputed: the replay's base version may be valid here). */
    if (((s == FLO__REP_OWNER) ||
         (s == FLO__REP_SHARED && !(mode & FLO_WRITE))) &&
        !atomic_load_explicit(&d->replay, memory_order_relaxed)) {
        *ptr = r->ptr;
        return FLO_OK;
    }
    pthread_mutex_lock(&d->coh_lock);
    while (
        FLO__UNLIKELY(atomic_load_explicit(&d->replay, memory_order_relaxed))) {
        /* Being recomputed (scheduler/lineage.c). */
        if (t) {
            if (flo__replay_holds(t, d, mode)) {
                st = FLO__EHOLD;
                goto out;
            }
            break;
        }
        if (d->replay_rd && !(mode & FLO_WRITE))
            break;
        pthread_mutex_unlock(&d->coh_lock);
        flo__replay_wait(d);
        pthread_mutex_lock(&d->coh_lock);
    }
    if (FLO__UNLIKELY(d->lost)) {
        if (mode & FLO_READ) {
            st = FLO_EDATALOSS;
            goto out;
        }
    }
    if ((st = flo__coh_host_mem(plat, d)) != FLO_OK)
        goto out;
    while ((mode & FLO_READ) &&
           atomic_load_explicit(&r->state, memory_order_relaxed) ==
               FLO__REP_INVALID) {
        if (!d->ever_written) {
            memset(r->ptr, 0, d->bytes);
            flo__coh_host_valid(d);
            atomic_store_explicit(&r->state, FLO__REP_SHARED,
                                  memory_order_release);
            break;
        }
        if (!d->home_tok) {
            /* Published synchronously (no transfer services)? */
            st = home_start(plat, d);
            if (st != FLO_OK)
                goto out;
            if (!d->home_tok)
                continue;
        } else if (d->home_done && d->home_st != FLO_OK) {
            st = d->home_st; /* A failed copy others still wait on. */
            goto out;
        }
        /* Join the copy in flight (ours or another thread's). */
        st = home_wait(plat, d);
        if (st != FLO_OK)
            goto out;
    }
    if (mode & FLO_WRITE) {
        /* A copy home a GPU started on its own must not land on top of
         * what this writer writes. */
        home_quiesce(plat, d);
        flo__coh_mark_written(d, 0);
        flo__coh_new_version(d, 0);
    }
    *ptr = r->ptr;
out:
    pthread_mutex_unlock(&d->coh_lock);
    return st;
}

flo_status flo__coh_user_sync(flo__platform *plat, flo__data *d)
{
    int node = d->user_node, src = -1;
    flo__replica *r;
    flo__device *dev;
    flo_status st;
    void *p;

    if (d->user_ptr)
        return flo__coh_host_prepare(plat, d, FLO_READ, &p, NULL);
    if (node <= 0 || node >= plat->ndevices)
        return FLO_OK;
    dev = plat->devices[node];
    r = &d->rep[node];
    pthread_mutex_lock(&d->coh_lock);
    if (atomic_load_explicit(&r->state, memory_order_relaxed) !=
        FLO__REP_INVALID) {
        pthread_mutex_unlock(&d->coh_lock);
        return FLO_OK; /* The program's memory holds the latest. */
    }
    /* Another GPU's copy first (device to device), else the host's. */
    for (int i = 1; i < plat->ndevices && src < 0; i++)
        if (i != node && d->rep[i].ptr &&
            atomic_load_explicit(&d->rep[i].state, memory_order_relaxed) !=
                FLO__REP_INVALID)
            src = i;
    if (src < 0 && d->rep[0].ptr &&
        atomic_load_explicit(&d->rep[0].state, memory_order_relaxed) !=
            FLO__REP_INVALID)
        src = 0;
    if (src < 0) {
        pthread_mutex_unlock(&d->coh_lock);
        FLO__ERR("data handle %u: no valid copy left to write back into its "
                 "memory on GPU %d",
                 d->slot, node);
        return FLO_EDATALOSS;
    }
    /* The source stays allocated (not evictable) during the copy, which
     * runs without the lock (nothing else uses d: its tasks finished). */
    d->rep[src].users++;
    pthread_mutex_unlock(&d->coh_lock);
    st = dev->xfer && dev->xfer->pull_sync ? dev->xfer->pull_sync(dev, d, src)
                                           : FLO_ENOTSUP;
    pthread_mutex_lock(&d->coh_lock);
    d->rep[src].users--;
    if (st == FLO_OK) {
        atomic_fetch_add_explicit(src == 0 ? &plat->bytes_h2d
                                           : &plat->bytes_p2p,
                                  d->bytes, memory_order_relaxed);
        for (int i = 0; i < plat->ndevices; i++)
            if (atomic_load_explicit(&d->rep[i].state, memory_order_relaxed) ==
                FLO__REP_OWNER)
                atomic_store_explicit(&d->rep[i].state, FLO__REP_SHARED,
                                      memory_order_relaxed);
        atomic_store_explicit(&r->state, FLO__REP_SHARED, memory_order_release);
    }
    pthread_mutex_unlock(&d->coh_lock);
    if (st != FLO_OK)
        FLO__ERR("data handle %u: writing it back into its memory on GPU %d "
                 "failed: %s",
                 d->slot, node, flo_status_str(st));
    return st;
}

void flo__coh_free_replicas(flo__platform *plat, flo__data *d)
{
    pthread_mutex_lock(&d->coh_lock);
    home_quiesce(plat, d);
    for (int i = 1; i < plat->ndevices; i++) {
        flo__replica *r = &d->rep[i];
        if (r->ptr)
            plat->devices[i]->ops->replica_free(plat->devices[i], r, d->bytes);
        r->ptr = NULL;
        atomic_store(&r->state, FLO__REP_INVALID);
    }
    /* Every task and copy using the host memory has finished (retire
     * waited for them), so it may be unpinned or freed. */
    flo__device *x = flo__coh_xfer_dev(plat);
    if (d->owned && d->host_pin == FLO__PIN_ALLOC && x)
        x->xfer->host_free(x, d->rep[0].ptr);
    else if (d->owned)
        host_mem_free(d->rep[0].ptr, d->bytes);
    else if (d->host_pin == FLO__PIN_REG && x)
        x->xfer->host_unpin(x, d->user_ptr);
    d->host_pin = FLO__PIN_NONE;
    d->rep[0].ptr = NULL;
    atomic_store(&d->rep[0].state, FLO__REP_INVALID);
    pthread_mutex_unlock(&d->coh_lock);
}
