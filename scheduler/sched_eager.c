/*
 * Flotilla - the `eager` policy: shared priority queues, one for tasks
 * only host workers can run, one for GPU-only tasks and one for tasks any
 * worker can run. Pinned tasks go to their worker's private FIFO. Simple
 * and strictly priority-ordered; every push and pop takes a queue's lock.
 */
#include <stdlib.h>

#include "scheduler/queues.h"

typedef struct eager {
    flo__heap q[3]; /* [0] host only, [1] GPU only, [2] either. */
    flo__pinq *pinned;
    FLO__ALIGNED atomic_uint rr_dev;
} eager;

static flo_status eager_init(flo_runtime *rt, void **priv)
{
    eager *e = calloc(1, sizeof(*e));

    if (!e)
        return FLO_ENOMEM;
    e->pinned = calloc((size_t)rt->nworkers, sizeof(flo__pinq));
    if (!e->pinned) {
        free(e);
        return FLO_ENOMEM;
    }
    for (int k = 0; k < 3; k++)
        flo__heap_init(&e->q[k]);
    *priv = e;
    return FLO_OK;
}

static void eager_fini(flo_runtime *rt, void *priv)
{
    eager *e = priv;
    FLO__UNUSED(rt);
    for (int k = 0; k < 3; k++)
        flo__heap_destroy(&e->q[k]);
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
            flo__wake_worker(w);
        return;
    }
    elig = t->eligible;
    k = elig == FLO__ELIG_HOST ? 0 : elig == FLO__ELIG_CUDA ? 1 : 2;
    while (!flo__heap_push(&e->q[k], t)) {
        /* Out of memory growing the queue: the task must not be lost. */
        flo__cpu_relax();
    }
    flo__wake_for(rt, elig);
}

static flo__task *eager_pop(flo_runtime *rt, flo__worker *w)
{
    eager *e = rt->sched;
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

const flo__sched_ops flo__sched_eager = {
    .name = "eager",
    .init = eager_init,
    .fini = eager_fini,
    .push = eager_push,
    .pop = eager_pop,
    .done = NULL,
};
