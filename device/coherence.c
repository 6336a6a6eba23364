/*
 * Flotilla - coherence of data replicas, the host side. A data handle has
 * a replica per memory node; each is INVALID, SHARED (valid, maybe with
 * others) or OWNER (the only valid one). Transitions happen under the
 * handle's coh_lock. The dependency rules guarantee that a writer never
 * runs concurrently with another task using the same handle, so a task
 * that finds its replica already valid needs no lock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rt.h"

void flo__coh_mark_written(flo__data *d, int node)
{
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

flo_status flo__coh_host_prepare(flo_runtime *rt, flo__data *d,
                                 flo_access mode, void **ptr)
{
    flo__replica *r = &d->rep[0];
    int s = atomic_load_explicit(&r->state, memory_order_acquire);
    flo_status st = FLO_OK;

    /* Fast path: valid for reading, or already the only copy. */
    if ((s == FLO__REP_OWNER) || (s == FLO__REP_SHARED && !(mode &
                                                            FLO_WRITE))) {
        *ptr = r->ptr;
        return FLO_OK;
    }
    pthread_mutex_lock(&d->coh_lock);
    s = atomic_load_explicit(&r->state, memory_order_relaxed);
    if (!r->ptr && !d->user_ptr && d->bytes > SIZE_MAX - FLO__CACHELINE) {
        st = FLO_ENOMEM;
        goto out;
    }
    if (!r->ptr) {
        r->ptr = d->user_ptr ? d->user_ptr
                             : aligned_alloc(FLO__CACHELINE,
                                             (d->bytes + FLO__CACHELINE - 1) /
                                                 FLO__CACHELINE *
                                                 FLO__CACHELINE);
        if (!r->ptr) {
            st = FLO_ENOMEM;
            goto out;
        }
    }
    if (s == FLO__REP_INVALID && (mode & FLO_READ)) {
        if (!d->ever_written) {
            memset(r->ptr, 0, d->bytes);
        } else {
            /* Any valid replica will do; a GPU that failed returns an
             * error, and another valid copy may still be readable. */
            int src = -1;
            st = FLO_EINTERNAL;
            for (int i = 1; i < rt->ndevices && st != FLO_OK; i++) {
                if (atomic_load_explicit(&d->rep[i].state,
                                         memory_order_relaxed) ==
                    FLO__REP_INVALID)
                    continue;
                src = i;
                st = rt->devices[i]->ops->copy_to_host(
                    rt->devices[i], r->ptr, d->rep[i].ptr, d->bytes);
            }
            if (src < 0)
                FLO__ERR("data handle %u: no valid replica", d->slot);
            if (st != FLO_OK)
                goto out;
            atomic_fetch_add_explicit(&rt->bytes_d2h, d->bytes,
                                      memory_order_relaxed);
            if (atomic_load(&d->rep[src].state) == FLO__REP_OWNER)
                atomic_store(&d->rep[src].state, FLO__REP_SHARED);
        }
        atomic_store_explicit(&r->state, FLO__REP_SHARED,
                              memory_order_release);
    }
    if (mode & FLO_WRITE)
        flo__coh_mark_written(d, 0);
    *ptr = r->ptr;
out:
    pthread_mutex_unlock(&d->coh_lock);
    return st;
}

void flo__coh_free_replicas(flo_runtime *rt, flo__data *d)
{
    pthread_mutex_lock(&d->coh_lock);
    for (int i = 1; i < rt->ndevices; i++) {
        flo__replica *r = &d->rep[i];
        if (r->ptr)
            rt->devices[i]->ops->replica_free(rt->devices[i], r, d->bytes);
        r->ptr = NULL;
        atomic_store(&r->state, FLO__REP_INVALID);
    }
    if (d->owned)
        free(d->rep[0].ptr);
    d->rep[0].ptr = NULL;
    atomic_store(&d->rep[0].state, FLO__REP_INVALID);
    pthread_mutex_unlock(&d->coh_lock);
}
