/*
 * Flotilla - dependency inference: edges between tasks, a data handle's
 * last writer and readers, and stream-ordered dependencies (a successor
 * released when its predecessor is launched on a GPU).
 */
#include "scheduler/dag.h"
#include "scheduler/tasks.h"

/* ---- Stream-ordered dependencies ------------------------------------- */

/* Whether s can run only on GPU worker w, so that it may be launched
 * behind w's work in stream order. A task free to run on any GPU is
 * kept free when there are several (its placement is the policy's). */
static bool gpu_only_on(const flo_runtime *rt, const flo__task *s,
                        const flo__worker *w)
{
    if (w->kind == FLO_DEVICE_HOST || !(s->eligible & FLO__ELIG_CUDA))
        return false;
    if (s->worker >= 0)
        return s->worker == w->id;
    if (s->device >= 0)
        return s->device == w->device && w->dev->nworkers == 1;
    return s->eligible == FLO__ELIG_CUDA && rt->ngpu_workers == 1;
}

/* Record p (launched on worker wid, referenced by the caller) as an early
 * predecessor of s. False if s cannot take it: s must then wait for p's
 * completion as usual. */
static bool try_early(flo_runtime *rt, flo__task *p, flo__task *s, bool hard,
                      int wid)
{
    flo__worker *w;
    int exp = -1, idx;

    if (wid < 0 || wid >= rt->nworkers)
        return false;
    w = rt->workers[wid];
    if (!gpu_only_on(rt, s, w) ||
        atomic_load_explicit(&w->dead, memory_order_seq_cst))
        return false;
    if (!atomic_compare_exchange_strong(&s->early_worker, &exp, wid) &&
        exp != wid)
        return false; /* Already bound to another GPU's stream order. */
    idx = atomic_fetch_add_explicit(&s->nearly, 1, memory_order_relaxed);
    if (idx >= FLO__EARLY_MAX)
        return false;
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    s->early[idx] = p;
    s->early_hard[idx] = hard;
    atomic_fetch_add_explicit(&rt->n_stream_ordered, 1, memory_order_relaxed);
    return true;
}

void flo__task_launched(flo__worker *w, flo__task *t)
{
    flo_runtime *rt = w->rt;
    flo__edge *e;

    /* Flag first, then the snapshot of the successor list: a successor
     * added after the snapshot either saw the flag (and took the early
     * path in flo__add_edge) or waits for the completion. Both are correct. */
    atomic_fetch_or_explicit(&t->flags, FLO__TF_LAUNCHED, memory_order_seq_cst);
    e = atomic_load_explicit(&t->succ, memory_order_seq_cst);
    for (; e && e != FLO__EDGES_CLOSED; e = e->next) {
        flo__task *s = e->task;
        if (e->early || !try_early(rt, t, s, e->hard, w->id))
            continue;
        /* Only this worker reads e->early (at t's completion). Released
         * now, s may finish before t (if it fails to launch): the edge
         * keeps a reference so that t's completion still finds it. */
        e->early = true;
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
        if (atomic_fetch_sub_explicit(&s->pending, 1, memory_order_acq_rel) ==
            1)
            flo__task_ready(rt, w, s);
    }
}

int flo__task_early(const flo__task *t, flo__task *const **out)
{
    int n = atomic_load_explicit(&t->nearly, memory_order_relaxed);
    *out = t->early;
    return n < FLO__EARLY_MAX ? n : FLO__EARLY_MAX;
}

bool flo__task_is_done(const flo__task *t)
{
    return atomic_load_explicit(&t->state, memory_order_acquire) ==
               FLO__TASK_DONE ||
           (atomic_load_explicit(&t->flags, memory_order_relaxed) &
            FLO__TF_EVAC);
}

/* Before t runs: FLO_ECANCELED if an early predecessor already finished
 * with a failure that cancels t (the rule of flo__add_edge). */
flo_status flo__task_early_check(flo__task *t)
{
    flo__task *const *ep;
    int n = flo__task_early(t, &ep);
    for (int i = 0; i < n; i++) {
        flo__task *p = ep[i];
        if (flo__task_is_done(p) && p->status != FLO_OK &&
            flo__failure_cancels(p, t, t->early_hard[i]))
            return FLO_ECANCELED;
    }
    return FLO_OK;
}

/* ---- Edges and data dependencies -------------------------------------- */

flo_status flo__add_edge(flo_runtime *rt, flo__tcache *c, flo__task *p,
                         flo__task *s, bool hard)
{
    flo__edge *e;
    flo__edge *head;

    if (p == s)
        return FLO_OK;
    head = atomic_load_explicit(&p->succ, memory_order_acquire);
    if (head == FLO__EDGES_CLOSED)
        goto finished;
    /* p is in flight on a GPU: s may follow it in stream order. */
    if ((atomic_load_explicit(&p->flags, memory_order_seq_cst) &
         FLO__TF_LAUNCHED) &&
        try_early(rt, p, s, hard, p->ran_on))
        return FLO_OK;
    e = flo__edge_alloc(rt, c);
    if (!e)
        return FLO_ENOMEM;
    e->task = s;
    e->hard = hard;
    e->early = false;
    /* Count the edge before publishing it: s cannot become ready early
     * because its submission guard is still held. */
    atomic_fetch_add_explicit(&s->pending, 1, memory_order_relaxed);
    do {
        if (head == FLO__EDGES_CLOSED) {
            atomic_fetch_sub_explicit(&s->pending, 1, memory_order_relaxed);
            flo__edge_free(rt, c, e);
            goto finished;
        }
        e->next = head;
    } while (!atomic_compare_exchange_weak_explicit(
        &p->succ, &head, e, memory_order_acq_rel, memory_order_acquire));
    return FLO_OK;

finished:
    /* p completed; its status was written before the list was closed. */
    if (p->status != FLO_OK && flo__failure_cancels(p, s, hard))
        flo__cancel_dependent(s, p, (flo_status)p->status);
    return FLO_OK;
}

void flo__task_rewait(flo__worker *w, flo__task *t, flo__task *extra)
{
    flo_runtime *rt = w->rt;
    flo__task *early[FLO__EARLY_MAX];
    bool hard[FLO__EARLY_MAX];
    flo__task *const *ep;
    int n = flo__task_early(t, &ep);

    /* Held (pending + 1) while its dependencies are rebuilt. */
    atomic_fetch_add(&t->pending, 1);
    for (int i = 0; i < n; i++) {
        early[i] = ep[i];
        hard[i] = t->early_hard[i];
    }
    atomic_store(&t->nearly, 0);
    atomic_store(&t->early_worker, -1);
    atomic_store(&t->state, FLO__TASK_PENDING);
    if (extra && flo__add_edge(rt, &w->cache, extra, t, false) != FLO_OK)
        flo__set_cancel_status(t, FLO_ENOMEM);
    for (int i = 0; i < n; i++) {
        if (flo__add_edge(rt, &w->cache, early[i], t, hard[i]) != FLO_OK)
            flo__set_cancel_status(t, FLO_ENOMEM);
        flo__task_unref(rt, &w->cache, early[i]);
    }
    if (atomic_fetch_sub(&t->pending, 1) == 1)
        flo__task_ready(rt, w, t);
}

/* Drop completed readers so that long read-only phases stay O(1)
 * amortised. Caller holds d->dep_lock. */
static void compact_readers(flo_runtime *rt, flo__tcache *c, flo__dslot *d)
{
    flo__edge **pp = &d->readers;
    int n = 0;

    while (*pp) {
        flo__edge *e = *pp;
        if (atomic_load_explicit(&e->task->state, memory_order_acquire) ==
            FLO__TASK_DONE) {
            *pp = e->next;
            flo__task_unref(rt, c, e->task);
            flo__edge_free(rt, c, e);
        } else {
            pp = &e->next;
            n++;
        }
    }
    d->nreaders = n;
    d->reader_compact_at = FLO__MAX(64, 2 * n);
}

flo_status flo__dep_add_data(flo_runtime *rt, flo__tcache *c, flo__task *t,
                             flo__dslot *d, flo_access mode)
{
    flo_status st = FLO_OK;

    flo__dag_data_dep(rt, c, t, d, mode);
    if (mode & FLO_WRITE) {
        if (d->readers) {
            flo__edge *e = d->readers;
            while (e) {
                flo__edge *n = e->next;
                if (st == FLO_OK)
                    st = flo__add_edge(rt, c, e->task, t, false);
                flo__task_unref(rt, c, e->task);
                flo__edge_free(rt, c, e);
                e = n;
            }
            d->readers = NULL;
            d->nreaders = 0;
            d->reader_compact_at = 64;
        } else if (d->last_writer) {
            st = flo__add_edge(rt, c, d->last_writer, t, false);
        }
        if (d->last_writer)
            flo__task_unref(rt, c, d->last_writer);
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        d->last_writer = t;
    } else {
        flo__edge *e;
        if (d->last_writer)
            st = flo__add_edge(rt, c, d->last_writer, t, false);
        e = flo__edge_alloc(rt, c);
        if (!e) {
            st = FLO_ENOMEM;
        } else {
            atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
            e->task = t;
            e->hard = false;
            e->next = d->readers;
            d->readers = e;
            if (++d->nreaders >= d->reader_compact_at)
                compact_readers(rt, c, d);
        }
    }
    return st;
}
