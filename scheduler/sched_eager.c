/*
 * Flotilla - the `eager` policy: shared priority queues, one for tasks
 * only host workers can run, one for GPU-only tasks and one for tasks any
 * worker can run. Pinned tasks go to their worker's private FIFO. Simple
 * and strictly priority-ordered; every push and pop takes a queue's lock.
 *
 * A host worker serves its pinned FIFO first, then the shared heaps. A
 * GPU worker moves its pinned tasks into a private heap (no lock) and
 * serves whichever of that heap and the two shared heaps has the highest
 * priority at its head (ties: pinned, then GPU-only, then either), so a
 * GPU launches the most urgent ready task it may run.
 */
#include <limits.h>
#include <stdlib.h>

#include "scheduler/queues.h"

typedef struct eager {
    flo__heap q[3]; /* [0] host only, [1] GPU only, [2] either. */
    flo__pinq *pinned;
    flo__lheap *gpu_pinned; /* [worker id]: GPU workers' private heaps. */
    FLO__ALIGNED atomic_uint rr_dev;
} eager;

static flo_status eager_init(flo_runtime *rt, void **priv)
{
    eager *e = flo__calloc_aligned(1, sizeof(*e), _Alignof(eager));

    if (!e)
        return FLO_ENOMEM;
    e->pinned = flo__calloc_aligned((size_t)rt->nworkers, sizeof(flo__pinq),
                                    _Alignof(flo__pinq));
    if (!e->pinned) {
        free(e);
        return FLO_ENOMEM;
    }
    e->gpu_pinned = calloc((size_t)rt->nworkers, sizeof(flo__lheap));
    if (!e->gpu_pinned) {
        free(e->pinned);
        free(e);
        return FLO_ENOMEM;
    }
    for (int i = 0; i < rt->nworkers; i++)
        if (rt->workers[i]->kind != FLO_DEVICE_HOST)
            (void)flo__lheap_init(&e->gpu_pinned[i], 256); /* Else grows. */
    for (int k = 0; k < 3; k++)
        flo__heap_init(&e->q[k]);
    *priv = e;
    return FLO_OK;
}

static void eager_fini(flo_runtime *rt, void *priv)
{
    eager *e = priv;
    for (int k = 0; k < 3; k++)
        flo__heap_destroy(&e->q[k]);
    for (int i = 0; i < rt->nworkers; i++)
        flo__lheap_destroy(&e->gpu_pinned[i]);
    free(e->gpu_pinned);
    free(e->pinned);
    free(e);
}

static void eager_push(flo_runtime *rt, flo__worker *self, flo__task *t)
{
    eager *e = rt->sched;
    flo__worker *w = NULL;
    unsigned elig;
    int k;

    FLO__UNUSED(self);
    if (t->worker >= 0)
        w = rt->workers[t->worker];
    else if (t->device >= 0)
        w = flo__pick_device_worker(rt, t->device, &e->rr_dev);
    if (w) {
        flo__inbox_push(&e->pinned[w->id].in, t);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&w->parker.sleeping, memory_order_relaxed))
            flo__sched_wake(w);
        return;
    }
    elig = t->eligible;
    k = elig == FLO__ELIG_HOST ? 0 : elig == FLO__ELIG_CUDA ? 1 : 2;
    while (!flo__heap_push(&e->q[k], t)) {
        /* Out of memory growing the queue: the task must not be lost. */
        flo__cpu_relax();
    }
    flo__sched_wake_for(rt, elig);
}

static inline int heap_top(flo__heap *h)
{
    if (atomic_load_explicit(&h->count, memory_order_relaxed) == 0)
        return INT_MIN;
    return atomic_load_explicit(&h->top_prio, memory_order_relaxed);
}

/* A GPU worker: the best head among its pinned tasks and the two shared
 * heaps it may serve. The shared heads are read without their locks: a
 * concurrent pop may take the task first, then the next source is
 * tried. */
static flo__task *eager_pop_gpu(eager *e, flo__worker *w)
{
    flo__pinq *pq = &e->pinned[w->id];
    flo__lheap *ph = &e->gpu_pinned[w->id];
    flo__heap *own = &e->q[1], *any = &e->q[2];
    int pp = flo__pinq_top(pq, ph);
    int po = heap_top(own), pa = heap_top(any);
    flo__task *t;

    if (pp == INT_MIN && po == INT_MIN && pa == INT_MIN)
        return NULL;
    if (pp >= po && pp >= pa)
        return flo__pinq_pop_best(pq, ph);
    if (po >= pa) {
        if ((t = flo__heap_pop(own)))
            return t;
    } else if ((t = flo__heap_pop(any))) {
        return t;
    }
    /* Lost a race for a shared head: take whatever is left. */
    if ((t = flo__pinq_pop_best(pq, ph)))
        return t;
    if ((t = flo__heap_pop(own)))
        return t;
    return flo__heap_pop(any);
}

static flo__task *eager_pop(flo_runtime *rt, flo__worker *w)
{
    eager *e = rt->sched;
    if (w->kind != FLO_DEVICE_HOST)
        return eager_pop_gpu(e, w);
    flo__task *t = flo__pinq_pop(&e->pinned[w->id]);
    flo__heap *own = &e->q[w->kind == FLO_DEVICE_HOST ? 0 : 1];
    flo__heap *any = &e->q[2];
    long no, na;

    if (t)
        return t;
    no = atomic_load_explicit(&own->count, memory_order_relaxed);
    na = atomic_load_explicit(&any->count, memory_order_relaxed);
    if (no && na) {
        /* Serve the higher priority of the two heads. */
        if (atomic_load(&any->top_prio) > atomic_load(&own->top_prio)) {
            if ((t = flo__heap_pop(any)))
                return t;
        }
        if ((t = flo__heap_pop(own)))
            return t;
        return flo__heap_pop(any);
    }
    if (no)
        return flo__heap_pop(own);
    if (na)
        return flo__heap_pop(any);
    return NULL;
}

static flo__task *eager_take_own(flo_runtime *rt, flo__worker *w)
{
    eager *e = rt->sched;
    if (w->kind != FLO_DEVICE_HOST)
        return flo__pinq_pop_best(&e->pinned[w->id], &e->gpu_pinned[w->id]);
    return flo__pinq_pop(&e->pinned[w->id]);
}

const flo__sched_ops flo__sched_eager = {
    .name = "eager",
    .init = eager_init,
    .fini = eager_fini,
    .push = eager_push,
    .pop = eager_pop,
    .done = NULL,
    .take_own = eager_take_own,
};
