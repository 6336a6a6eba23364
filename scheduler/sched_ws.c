/*
 * Flotilla - the `ws` policy: per-worker Chase-Lev deques with stealing.
 *
 * Where a ready task goes:
 * - pinned to a worker or a device: that worker's private FIFO (pinq);
 * - priority != 0: the shared heap of its worker kind (a lock, taken only
 *   for prioritised tasks); a positive priority is served before the
 *   deques, a negative one after them and after stealing;
 * - made ready by a worker that can run it: that worker's deque (LIFO,
 *   cache-warm), from which idle workers of the same kind steal;
 * - otherwise (another thread): the `shared` inbox of a worker chosen
 *   round-robin; its owner or any thief moves the batch into a deque.
 *
 * A GPU worker serves by priority: it moves its pinned tasks into a
 * private heap (no lock) and takes the best of that heap's head and the
 * GPU heap's head when it is positive; then pinned tasks of priority 0,
 * its deque, inboxes and stealing (whose tasks have priority 0: nonzero
 * ones went to a heap); then the negative rest, best first. Host workers
 * keep the order above (pinned FIFO first): their path is unchanged.
 */
#include <limits.h>
#include <stdlib.h>

#include "scheduler/queues.h"

typedef struct ws_worker {
    flo__deque dq;
    flo__pinq pinned;
    flo__lheap gpu_pinned; /* GPU workers: pinned tasks by priority. */
    flo__inbox shared;
    unsigned rng;
} ws_worker;

struct flo__ws {
    ws_worker *pw[FLO__MAX_WORKERS];
    flo__heap prio[2]; /* [0] host-runnable, [1] GPU-only. */
    FLO__ALIGNED atomic_uint rr;
    atomic_uint rr_dev;
};

flo_status flo__ws_create(flo_runtime *rt, flo__ws **out)
{
    flo__ws *ws = flo__calloc_aligned(1, sizeof(*ws), _Alignof(flo__ws));

    if (!ws)
        return FLO_ENOMEM;
    for (int k = 0; k < 2; k++)
        flo__heap_init(&ws->prio[k]);
    for (int i = 0; i < rt->nworkers; i++) {
        ws_worker *p = flo__calloc_aligned(1, sizeof(*p), _Alignof(ws_worker));
        if (!p || flo__deque_init(&p->dq, 1024) != FLO_OK) {
            free(p);
            flo__ws_destroy(rt, ws);
            return FLO_ENOMEM;
        }
        atomic_init(&p->pinned.in.head, NULL);
        p->pinned.local = NULL;
        /* GPU workers start with room for 256 pinned tasks (it grows). */
        (void)flo__lheap_init(
            &p->gpu_pinned, rt->workers[i]->kind != FLO_DEVICE_HOST ? 256 : 0);
        atomic_init(&p->shared.head, NULL);
        p->rng = 0x9e3779b9u * (unsigned)(i + 1);
        ws->pw[i] = p;
    }
    *out = ws;
    return FLO_OK;
}

void flo__ws_destroy(flo_runtime *rt, flo__ws *ws)
{
    for (int i = 0; i < rt->nworkers; i++) {
        if (ws->pw[i]) {
            flo__deque_destroy(&ws->pw[i]->dq);
            flo__lheap_destroy(&ws->pw[i]->gpu_pinned);
            free(ws->pw[i]);
        }
    }
    for (int k = 0; k < 2; k++)
        flo__heap_destroy(&ws->prio[k]);
    free(ws);
}

static inline int heap_of(const flo__task *t)
{
    return (t->eligible & FLO__ELIG_HOST) ? 0 : 1;
}

void flo__ws_push_to(flo_runtime *rt, flo__ws *ws, flo__worker *w, flo__task *t)
{
    FLO__UNUSED(rt);
    flo__inbox_push(&ws->pw[w->id]->pinned.in, t);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->parker.sleeping, memory_order_relaxed))
        flo__sched_wake(w);
}

void flo__ws_push(flo_runtime *rt, flo__ws *ws, flo__worker *self, flo__task *t)
{
    flo__worker *target = NULL;
    unsigned elig;

    if (t->worker >= 0) {
        flo__ws_push_to(rt, ws, rt->workers[t->worker], t);
        return;
    }
    if (t->device >= 0) {
        flo__ws_push_to(rt, ws,
                        flo__pick_device_worker(rt, t->device, &ws->rr_dev), t);
        return;
    }
    elig = t->eligible;
    /* Read before publishing: once pushed, t may run and be recycled. */
    int hk = heap_of(t);
    if (t->priority != 0 && flo__heap_push(&ws->prio[hk], t)) {
        /* Only workers of the heap's kind look into it: waking another
         * kind (a GPU worker for a task that host workers may run too)
         * would leave the task there with every host worker asleep. */
        flo__sched_wake_for(rt, hk == 0 ? FLO__ELIG_HOST : FLO__ELIG_CUDA);
        return;
    }
    if (self && flo__worker_can_run(self, t) &&
        flo__deque_push(&ws->pw[self->id]->dq, t)) {
        /* A worker releasing successors after its task (not inside it)
         * runs the first one itself next: wake a thief only for surplus
         * work, or when the task that pushed keeps the worker busy. */
        flo__deque *dq = &ws->pw[self->id]->dq;
        if (atomic_load_explicit(&self->in_task, memory_order_relaxed) ||
            atomic_load_explicit(&dq->bottom, memory_order_relaxed) -
                    atomic_load_explicit(&dq->top, memory_order_relaxed) >=
                2)
            flo__sched_wake_for(rt, elig);
        return;
    }
    /* Round-robin over the workers that can run it. (Runs of several
     * tasks per inbox measured no better on 2 cores.) */
    for (int i = 0; i < rt->nworkers; i++) {
        unsigned k =
            atomic_fetch_add_explicit(&ws->rr, 1, memory_order_relaxed);
        target = rt->workers[k % (unsigned)rt->nworkers];
        if (flo__worker_can_run(target, t))
            break;
        target = NULL;
    }
    if (!target) {
        /* flo__task_desc_check guarantees some worker can run it. */
        for (int i = 0; i < rt->nworkers && !target; i++)
            if (flo__worker_can_run(rt->workers[i], t))
                target = rt->workers[i];
    }
    flo__inbox_push(&ws->pw[target->id]->shared, t);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&target->parker.sleeping, memory_order_relaxed))
        flo__sched_wake(target);
    else
        flo__sched_wake_for(rt, elig);
}

/* Move a batch taken from an inbox into w's deque, keep the first. When
 * more than one task arrives, wake a sleeper to steal the rest: the batch
 * may have been meant for a worker that now sleeps. */
static flo__task *adopt(flo_runtime *rt, ws_worker *p, flo__task *chain)
{
    flo__task *first = chain;
    int extra = 0;
    unsigned elig = 0;

    if (!chain)
        return NULL;
    chain = chain->next;
    while (chain) {
        flo__task *n = chain->next;
        unsigned e = chain->eligible; /* Read before a thief can take it. */
        if (!flo__deque_push(&p->dq, chain)) {
            /* Out of memory growing the deque: keep the rest in the
             * shared inbox for later. */
            while (chain) {
                n = chain->next;
                flo__inbox_push(&p->shared, chain);
                chain = n;
            }
            break;
        }
        elig |= e;
        extra++;
        chain = n;
    }
    /* The batch may have been meant for several workers that now sleep:
     * wake one per extra task (each call returns at once when nobody
     * sleeps). */
    for (int i = 0; i < extra && i < rt->nworkers; i++)
        flo__sched_wake_for(rt, elig);
    return first;
}

static flo__task *steal(flo_runtime *rt, flo__ws *ws, flo__worker *w)
{
    ws_worker *me = ws->pw[w->id];
    int n = rt->nworkers;
    unsigned start;

    me->rng = me->rng * 1664525u + 1013904223u;
    start = me->rng >> 8;
    for (int i = 0; i < n; i++) {
        flo__worker *v = rt->workers[(start + (unsigned)i) % (unsigned)n];
        ws_worker *pv;
        flo__task *t;
        if (v == w || v->kind != w->kind)
            continue;
        pv = ws->pw[v->id];
        if (flo__deque_maybe_nonempty(&pv->dq) &&
            (t = flo__deque_steal(&pv->dq))) {
            FLO__STAT_ADD(w->st.steals, 1);
            /* More left there: wake another thief (wake-up chain). */
            if (flo__deque_maybe_nonempty(&pv->dq))
                flo__sched_wake_for(rt, w->kind == FLO_DEVICE_HOST
                                            ? FLO__ELIG_HOST
                                            : FLO__ELIG_CUDA);
            return t;
        }
        if (!flo__inbox_empty(&pv->shared) &&
            (t = adopt(rt, me, flo__inbox_take_fifo(&pv->shared)))) {
            FLO__STAT_ADD(w->st.steals, 1);
            return t;
        }
    }
    return NULL;
}

/* A GPU worker's pop: see the comment at the top. */
static flo__task *ws_pop_gpu(flo_runtime *rt, flo__ws *ws, flo__worker *w)
{
    ws_worker *p = ws->pw[w->id];
    flo__heap *h = &ws->prio[1];
    int pp = flo__pinq_top(&p->pinned, &p->gpu_pinned);
    int hp = INT_MIN;
    flo__task *t;

    if (atomic_load_explicit(&h->count, memory_order_relaxed) > 0)
        hp = atomic_load_explicit(&h->top_prio, memory_order_relaxed);
    if (pp > 0 || hp > 0) {
        if (pp >= hp)
            return flo__pinq_pop_best(&p->pinned, &p->gpu_pinned);
        if ((t = flo__heap_pop(h)))
            return t;
        /* Lost the race for the head: serve the pinned one. */
        if (pp != INT_MIN)
            return flo__pinq_pop_best(&p->pinned, &p->gpu_pinned);
    }
    if (pp == 0)
        return flo__pinq_pop_best(&p->pinned, &p->gpu_pinned);
    if ((t = flo__deque_pop(&p->dq)))
        return t;
    if ((t = adopt(rt, p, flo__inbox_take_fifo(&p->shared))))
        return t;
    if ((t = steal(rt, ws, w)))
        return t;
    /* Only negative priorities (or nothing) left. */
    if (pp != INT_MIN) {
        if (atomic_load_explicit(&h->count, memory_order_relaxed) > 0 &&
            atomic_load_explicit(&h->top_prio, memory_order_relaxed) > pp &&
            (t = flo__heap_pop(h)))
            return t;
        return flo__pinq_pop_best(&p->pinned, &p->gpu_pinned);
    }
    return flo__heap_pop(h);
}

flo__task *flo__ws_pop(flo_runtime *rt, flo__ws *ws, flo__worker *w)
{
    ws_worker *p = ws->pw[w->id];
    flo__heap *h = &ws->prio[w->kind == FLO_DEVICE_HOST ? 0 : 1];
    flo__task *t;

    if (w->kind != FLO_DEVICE_HOST)
        return ws_pop_gpu(rt, ws, w);
    if ((t = flo__pinq_pop(&p->pinned)))
        return t;
    if (atomic_load_explicit(&h->count, memory_order_relaxed) > 0 &&
        atomic_load_explicit(&h->top_prio, memory_order_relaxed) > 0 &&
        (t = flo__heap_pop(h)))
        return t;
    if ((t = flo__deque_pop(&p->dq)))
        return t;
    if ((t = adopt(rt, p, flo__inbox_take_fifo(&p->shared))))
        return t;
    if ((t = steal(rt, ws, w)))
        return t;
    return flo__heap_pop(h);
}

flo__task *flo__ws_take_own(flo_runtime *rt, flo__ws *ws, flo__worker *w)
{
    ws_worker *p = ws->pw[w->id];
    flo__task *t;

    if (w->kind != FLO_DEVICE_HOST) {
        /* The inbox too: tasks pinned here after the worker last looked
         * (bound to its stream order, say) must not stay behind. */
        (void)flo__pinq_top(&p->pinned, &p->gpu_pinned);
        t = flo__pinq_pop_best(&p->pinned, &p->gpu_pinned);
    } else
        t = flo__pinq_pop(&p->pinned);
    if (t)
        return t;
    if ((t = flo__deque_pop(&p->dq)))
        return t;
    return adopt(rt, p, flo__inbox_take_fifo(&p->shared));
}

static flo__task *ws_take_own(flo_runtime *rt, flo__worker *w)
{
    return flo__ws_take_own(rt, rt->sched, w);
}

static flo_status ws_init(flo_runtime *rt, void **priv)
{
    return flo__ws_create(rt, (flo__ws **)priv);
}

static void ws_fini(flo_runtime *rt, void *priv)
{
    flo__ws_destroy(rt, priv);
}

static void ws_push(flo_runtime *rt, flo__worker *self, flo__task *t)
{
    flo__ws_push(rt, rt->sched, self, t);
}

static flo__task *ws_pop(flo_runtime *rt, flo__worker *w)
{
    return flo__ws_pop(rt, rt->sched, w);
}

const flo__sched_ops flo__sched_ws = {
    .name = "ws",
    .init = ws_init,
    .fini = ws_fini,
    .push = ws_push,
    .pop = ws_pop,
    .done = NULL,
    .take_own = ws_take_own,
};
