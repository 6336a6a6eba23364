/*
 * Flotilla - task records and edges: the calling thread's worker and
 * cache, the slabs and pools records and edges come from, the record an
 * event names, the setup every new record starts with, and teardown.
 * The life of a record is described in scheduler/tasks.h.
 */
#include <stdlib.h>
#include <string.h>

#include "scheduler/tasks.h"

/* ---- Thread caches ------------------------------------------------------- */

static _Thread_local flo__worker *tls_worker;
static _Thread_local flo__tcache *tls_cache;
static _Thread_local const flo_runtime *tls_cache_rt;
static _Thread_local uint64_t tls_cache_serial;

void flo__set_self_worker(flo__worker *w)
{
    tls_worker = w;
}

flo__worker *flo__self_worker(const flo_runtime *rt)
{
    flo__worker *w = tls_worker;
    return (w && w->rt == rt) ? w : NULL;
}

flo__tcache *flo__tcache_get(flo_runtime *rt)
{
    flo__worker *w = flo__self_worker(rt);
    flo__tcache *c;
    pthread_t self = pthread_self();

    if (w)
        return &w->cache;
    if (tls_cache_rt == rt && tls_cache_serial == rt->serial)
        return tls_cache;
    /* A thread new to this runtime, or one that alternates runtimes. */
    pthread_mutex_lock(&rt->mu);
    for (c = rt->caches; c; c = c->next_all)
        if (pthread_equal(c->owner, self))
            break;
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (c) {
            c->rt = rt;
            c->owner = self;
            c->next_all = rt->caches;
            rt->caches = c;
        }
    }
    pthread_mutex_unlock(&rt->mu);
    if (c) {
        tls_cache = c;
        tls_cache_rt = rt;
        tls_cache_serial = rt->serial;
    }
    return c;
}

/* ---- Task and edge pools --------------------------------------------- */

#define CACHE_HIGH 256 /* Give half back to the pool above this. */
#define CACHE_BATCH 128

static bool task_slab_new(flo_runtime *rt, flo__tcache *c)
{
    int k = atomic_load_explicit(&rt->ntask_slabs, memory_order_relaxed);
    flo__task *slab;

    if (k >= FLO__TASK_MAX_SLABS)
        return false;
    slab =
        flo__calloc_aligned(FLO__TASK_SLAB, sizeof(flo__task), FLO__CACHELINE);
    if (!slab)
        return false;
    for (int i = FLO__TASK_SLAB - 1; i >= 0; i--) {
        flo__task *t = &slab[i];
        t->index = (uint32_t)(k * FLO__TASK_SLAB + i);
        atomic_init(&t->gen, rt->gen_base);
        t->next = c->tasks;
        c->tasks = t;
        c->ntasks++;
    }
    atomic_store_explicit(&rt->task_slabs[k], slab, memory_order_release);
    atomic_store_explicit(&rt->ntask_slabs, k + 1, memory_order_release);
    return true;
}

flo__task *flo__task_alloc(flo_runtime *rt, flo__tcache *c)
{
    flo__task *t = c->tasks;

    if (FLO__UNLIKELY(!t)) {
        pthread_mutex_lock(&rt->pool_mu);
        for (int i = 0; i < CACHE_BATCH && rt->task_pool; i++) {
            flo__task *x = rt->task_pool;
            rt->task_pool = x->next;
            x->next = c->tasks;
            c->tasks = x;
            c->ntasks++;
        }
        if (!c->tasks)
            task_slab_new(rt, c);
        pthread_mutex_unlock(&rt->pool_mu);
        t = c->tasks;
        if (!t)
            return NULL;
    }
    c->tasks = t->next;
    c->ntasks--;
    /* The next record was most likely last written by another core:
     * start fetching it now, for the next submission. */
    if (c->tasks)
        __builtin_prefetch(c->tasks, 1, 3);
    return t;
}

void flo__task_free(flo_runtime *rt, flo__tcache *c, flo__task *t)
{
    if (t->msg) {
        free(t->msg);
        t->msg = NULL;
    }
    /* Generation first, then the state (release): a reader that sees
     * FREE also sees the new generation, so it never mistakes a recycled
     * record for an invalid event. */
    atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
    atomic_store_explicit(&t->state, FLO__TASK_FREE, memory_order_release);
    if (!c) {
        pthread_mutex_lock(&rt->pool_mu);
        t->next = rt->task_pool;
        rt->task_pool = t;
        pthread_mutex_unlock(&rt->pool_mu);
        return;
    }
    t->next = c->tasks;
    c->tasks = t;
    if (++c->ntasks > CACHE_HIGH) {
        pthread_mutex_lock(&rt->pool_mu);
        for (int i = 0; i < CACHE_BATCH; i++) {
            flo__task *x = c->tasks;
            c->tasks = x->next;
            x->next = rt->task_pool;
            rt->task_pool = x;
        }
        c->ntasks -= CACHE_BATCH;
        pthread_mutex_unlock(&rt->pool_mu);
    }
}

#define EDGE_SLAB 1024

flo__edge *flo__edge_alloc(flo_runtime *rt, flo__tcache *c)
{
    flo__edge *e = c->edges;

    if (FLO__UNLIKELY(!e)) {
        pthread_mutex_lock(&rt->pool_mu);
        for (int i = 0; i < CACHE_BATCH && rt->edge_pool; i++) {
            flo__edge *x = rt->edge_pool;
            rt->edge_pool = x->next;
            x->next = c->edges;
            c->edges = x;
            c->nedges++;
        }
        if (!c->edges) {
            flo__edge *slab = NULL;
            if (rt->nedge_slabs == rt->edge_slabs_cap) {
                int cap = rt->edge_slabs_cap ? 2 * rt->edge_slabs_cap : 64;
                void **ns = realloc(rt->edge_slabs, (size_t)cap * sizeof(*ns));
                if (ns) {
                    rt->edge_slabs = ns;
                    rt->edge_slabs_cap = cap;
                }
            }
            if (rt->nedge_slabs < rt->edge_slabs_cap)
                slab = malloc(EDGE_SLAB * sizeof(flo__edge));
            if (slab) {
                rt->edge_slabs[rt->nedge_slabs++] = slab;
                for (int i = 0; i < EDGE_SLAB; i++) {
                    slab[i].next = c->edges;
                    c->edges = &slab[i];
                }
                c->nedges += EDGE_SLAB;
            }
        }
        pthread_mutex_unlock(&rt->pool_mu);
        e = c->edges;
        if (!e)
            return NULL;
    }
    c->edges = e->next;
    c->nedges--;
    return e;
}

void flo__edge_free(flo_runtime *rt, flo__tcache *c, flo__edge *e)
{
    if (!c) {
        pthread_mutex_lock(&rt->pool_mu);
        e->next = rt->edge_pool;
        rt->edge_pool = e;
        pthread_mutex_unlock(&rt->pool_mu);
        return;
    }
    e->next = c->edges;
    c->edges = e;
    if (++c->nedges > 4 * EDGE_SLAB) {
        pthread_mutex_lock(&rt->pool_mu);
        for (int i = 0; i < EDGE_SLAB; i++) {
            flo__edge *x = c->edges;
            c->edges = x->next;
            x->next = rt->edge_pool;
            rt->edge_pool = x;
        }
        c->nedges -= EDGE_SLAB;
        pthread_mutex_unlock(&rt->pool_mu);
    }
}

void flo__task_unref(flo_runtime *rt, flo__tcache *c, flo__task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        flo__task_free(rt, c, t);
}

flo__task *flo__event_record(flo_runtime *rt, flo_event ev)
{
    uint32_t idx = flo__id_index(ev.id);
    int k;
    flo__task *slab;

    if (idx == UINT32_MAX)
        return NULL;
    k = (int)(idx / FLO__TASK_SLAB);
    if (k >= atomic_load_explicit(&rt->ntask_slabs, memory_order_acquire))
        return NULL;
    slab = atomic_load_explicit(&rt->task_slabs[k], memory_order_acquire);
    return &slab[idx % FLO__TASK_SLAB];
}

flo__task *flo__task_from_event(flo_runtime *rt, flo_event ev)
{
    flo__task *t = flo__event_record(rt, ev);
    int r;

    if (!t)
        return NULL;
    r = atomic_load_explicit(&t->refs, memory_order_relaxed);
    do {
        if (r <= 0)
            return NULL;
    } while (!atomic_compare_exchange_weak_explicit(
        &t->refs, &r, r + 1, memory_order_acq_rel, memory_order_relaxed));
    if (atomic_load_explicit(&t->gen, memory_order_acquire) != ev.gen) {
        flo__task_unref(rt, flo__tcache_get(rt), t);
        return NULL;
    }
    return t;
}

/* ---- A new record ----------------------------------------------------- */

void flo__task_record_init(flo_runtime *rt, flo__task *t, unsigned flags)
{
    t->next = NULL;
    atomic_store_explicit(&t->pending, 1, memory_order_relaxed);
    atomic_store_explicit(&t->refs, 1, memory_order_relaxed);
    atomic_store_explicit(&t->succ, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->flags, flags, memory_order_relaxed);
    atomic_store_explicit(&t->cancel, 0, memory_order_relaxed);
    atomic_store_explicit(&t->nearly, 0, memory_order_relaxed);
    atomic_store_explicit(&t->early_worker, -1, memory_order_relaxed);
    /* Relaxed: published with the record (a plain assignment to an
     * atomic is a sequentially consistent store, a full fence per task). */
    atomic_store_explicit(&t->status, FLO_OK, memory_order_relaxed);
    t->epoch = atomic_load_explicit(&rt->fail_epoch, memory_order_relaxed);
    t->msg = NULL;
    t->t_start = t->t_end = 0;
    t->ran_on = -1;
    t->est_ns = 0;
    t->dev_slot = NULL;
    t->retries = 0;
    t->saving = false;
    t->reexecs = 0;
    t->fault.kind = FLO__FAULT_NONE;
    t->fault.times = 0;
    t->evac_next = NULL;
    t->hold = NULL;
    atomic_store_explicit(&t->state, FLO__TASK_PENDING, memory_order_relaxed);
}

/* ---- Teardown ---------------------------------------------------------- */

void flo__tasks_fini(flo_runtime *rt)
{
    int n = atomic_load(&rt->ntask_slabs);

    for (int k = 0; k < n; k++) {
        flo__task *slab = atomic_load(&rt->task_slabs[k]);
        for (int i = 0; i < FLO__TASK_SLAB; i++) {
            free(slab[i].acc_ext);
            free(slab[i].args_ext);
            free(slab[i].msg);
        }
        free(slab);
    }
    free((void *)rt->task_slabs);
    rt->task_slabs = NULL;
    for (int i = 0; i < rt->nedge_slabs; i++)
        free(rt->edge_slabs[i]);
    free(rt->edge_slabs);
    rt->edge_slabs = NULL;
    while (rt->caches) {
        flo__tcache *c = rt->caches->next_all;
        free(rt->caches);
        rt->caches = c;
    }
    flo__failures_fini(rt);
    /* Forget a cached pointer to this runtime's caches on this thread. */
    if (tls_cache_rt == rt)
        tls_cache_rt = NULL;
}
