/*
 * Flotilla - completion: a task's status, callback and successors, the
 * count of outstanding tasks, and making a task ready.
 */
#include "scheduler/dag.h"
#include "scheduler/tasks.h"

/* ---- Completion ------------------------------------------------------- */

void flo__tcache_flush(flo_runtime *rt, flo__tcache *c)
{
    long n = (long)c->done_local;
    if (!n)
        return;
    c->done_local = 0;
    if (atomic_fetch_sub(&rt->outstanding, n) == n &&
        atomic_load(&rt->all_waiters) > 0) {
        pthread_mutex_lock(&rt->wait_mu);
        pthread_cond_broadcast(&rt->wait_cv);
        pthread_mutex_unlock(&rt->wait_mu);
    }
}

void flo__worker_flush(flo__worker *w)
{
    flo__tcache_flush(w->rt, &w->cache);
}

void flo__task_complete(flo__worker *w, flo__task *t, flo_status st)
{
    /* Only acquire pseudo-tasks complete off a worker; their runtime is
     * that of their data. */
    flo__task_complete_rt(w ? w->rt : t->acc[0].d->rt, w, t, st);
}

void flo__task_complete_rt(flo_runtime *rt, flo__worker *w, flo__task *t,
                           flo_status st)
{
    flo__tcache *c;
    flo__edge *e;
    unsigned flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
    bool pseudo = flags & FLO__TF_ACQUIRE;

    if (FLO__UNLIKELY(st == FLO__EHOLD)) {
        /* Its buffers are being recomputed: it runs after the replay. */
        flo__lineage_hold(w, t);
        return;
    }
    if (FLO__UNLIKELY(
            st == FLO_EAGAIN ||
            (w && atomic_load_explicit(&w->dead, memory_order_relaxed))) &&
        flo__resil_again(w, t, st))
        return;
    if (FLO__UNLIKELY(rt->lineage > 0 || (flags & FLO__TF_REPLAY)))
        flo__lineage_done(rt, w, t, st);
    c = w ? &w->cache : flo__tcache_get(rt);
    /* Launched behind a predecessor that then failed (its failure was
     * only known at its completion, e.g. a device status word): the task
     * ran, but its inputs were wrong - canceled, like any dependent. The
     * backend completed such predecessors first. */
    if (st == FLO_OK &&
        atomic_load_explicit(&t->nearly, memory_order_relaxed) > 0)
        st = flo__task_early_check(t);
    if (st != FLO_OK) {
        if (st == FLO_ECANCELED) {
            atomic_fetch_add_explicit(&rt->n_canceled, 1, memory_order_relaxed);
            if (!t->msg)
                flo__task_set_error(t, st,
                                    "task '%s' canceled: a "
                                    "predecessor failed",
                                    t->name);
        } else {
            atomic_fetch_add_explicit(&rt->n_failed, 1, memory_order_relaxed);
        }
        if (w) {
            if (st == FLO_ECANCELED)
                FLO__STAT_ADD(w->st.canceled, 1);
            else
                FLO__STAT_ADD(w->st.failed, 1);
        }
        /* A contained failure is judged (and reported) by the task that
         * contains it: it is not the program's. */
        if (!pseudo && !(flags & FLO__TF_CONTAINED))
            flo__failure_record(rt, t, st);
    }
    /* Before state = DONE (a sequentially consistent store below), which
     * readers load before the status. */
    atomic_store_explicit(&t->status, st, memory_order_relaxed);
    flo__dag_task_done(rt, w, c, t, st);
    if (t->cb) {
        /* A callback runs on a worker: waiting there is refused too. */
        if (w)
            atomic_store_explicit(&w->in_task, 1, memory_order_relaxed);
        t->cb(t->cb_arg, st);
        if (w)
            atomic_store_explicit(&w->in_task, 0, memory_order_relaxed);
    }
    if (rt->sched_ops->done && w)
        rt->sched_ops->done(rt, w, t);
    atomic_store(&t->state, FLO__TASK_DONE);

    e = atomic_exchange_explicit(&t->succ, FLO__EDGES_CLOSED,
                                 memory_order_acq_rel);
    while (e) {
        flo__edge *n = e->next;
        flo__task *s = e->task;
        if (st != FLO_OK && flo__failure_cancels(t, s, e->hard))
            flo__cancel_dependent(s, t, st);
        /* A successor released at launch was counted then (and the edge
         * holds a reference on it). */
        if (e->early)
            flo__task_unref(rt, c, s);
        else if (atomic_fetch_sub_explicit(&s->pending, 1,
                                           memory_order_acq_rel) == 1)
            flo__task_ready(rt, w, s);
        flo__edge_free(rt, c, e);
        e = n;
    }
    if (FLO__UNLIKELY(atomic_load_explicit(&t->nearly, memory_order_relaxed) >
                      0)) {
        /* The early predecessors' references (the backend completed
         * them before this task). */
        flo__task *const *ep;
        int ne = flo__task_early(t, &ep);
        for (int i = 0; i < ne; i++)
            flo__task_unref(rt, c, ep[i]);
        atomic_store_explicit(&t->nearly, 0, memory_order_relaxed);
    }
    if (atomic_load(&t->flags) & FLO__TF_WAITED) {
        pthread_mutex_lock(&rt->wait_mu);
        pthread_cond_broadcast(&rt->wait_cv);
        pthread_mutex_unlock(&rt->wait_mu);
    }
    if (!pseudo) {
        if (c) {
            c->done_local++;
            if (!w || c->done_local >= 64)
                flo__tcache_flush(rt, c);
        } else {
            c = NULL;
            if (atomic_fetch_sub(&rt->outstanding, 1) == 1 &&
                atomic_load(&rt->all_waiters) > 0) {
                pthread_mutex_lock(&rt->wait_mu);
                pthread_cond_broadcast(&rt->wait_cv);
                pthread_mutex_unlock(&rt->wait_mu);
            }
        }
    }
    flo__task_unref(rt, c, t);
}

void flo__task_ready(flo_runtime *rt, flo__worker *self, flo__task *t)
{
    if (atomic_load_explicit(&t->flags, memory_order_relaxed) &
        FLO__TF_ACQUIRE) {
        atomic_store(&t->state, FLO__TASK_READY);
        pthread_mutex_lock(&rt->wait_mu);
        pthread_cond_broadcast(&rt->wait_cv);
        pthread_mutex_unlock(&rt->wait_mu);
        return;
    }
    if (FLO__UNLIKELY(atomic_load_explicit(&t->flags, memory_order_relaxed) &
                      FLO__TF_JOIN)) {
        flo__lineage_join(rt, self, t);
        return;
    }
    {
        /* Bound to the stream order of a GPU worker (try_early). */
        int ew = atomic_load_explicit(&t->early_worker, memory_order_relaxed);
        if (ew >= 0)
            t->worker = ew;
    }
    if (FLO__UNLIKELY(atomic_load_explicit(&rt->ndead, memory_order_relaxed)))
        flo__resil_replace(rt, t);
    atomic_store_explicit(&t->state, FLO__TASK_READY, memory_order_relaxed);
    rt->sched_ops->push(rt, self, t);
}
