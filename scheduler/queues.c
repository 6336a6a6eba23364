/*
 * Flotilla - ready-queue building blocks (see queues.h).
 */
#include <limits.h>
#include <stdlib.h>

#include "scheduler/queues.h"

static flo__ring *ring_new(long cap)
{
    flo__ring *r = malloc(sizeof(*r) + (size_t)cap * sizeof(r->buf[0]));
    if (!r)
        return NULL;
    r->cap = cap;
    r->prev = NULL;
    return r;
}

flo_status flo__deque_init(flo__deque *q, long cap)
{
    flo__ring *r = ring_new(cap);
    if (!r)
        return FLO_ENOMEM;
    atomic_init(&q->top, 0);
    atomic_init(&q->bottom, 0);
    atomic_init(&q->ring, r);
    return FLO_OK;
}

void flo__deque_destroy(flo__deque *q)
{
    flo__ring *r = atomic_load(&q->ring);
    while (r) {
        flo__ring *p = r->prev;
        free(r);
        r = p;
    }
}

bool flo__deque_push(flo__deque *q, flo__task *t)
{
    long b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
    long tp = atomic_load_explicit(&q->top, memory_order_acquire);
    flo__ring *r = atomic_load_explicit(&q->ring, memory_order_relaxed);

    if (b - tp > r->cap - 1) {
        flo__ring *nr = ring_new(r->cap * 2);
        if (!nr)
            return false;
        for (long i = tp; i < b; i++)
            atomic_store_explicit(
                &nr->buf[i & (nr->cap - 1)],
                atomic_load_explicit(&r->buf[i & (r->cap - 1)],
                                     memory_order_relaxed),
                memory_order_relaxed);
        nr->prev = r;
        atomic_store_explicit(&q->ring, nr, memory_order_release);
        r = nr;
    }
    atomic_store_explicit(&r->buf[b & (r->cap - 1)], t, memory_order_relaxed);
    /* Release: a thief that reads the new bottom (acquire) sees the
     * slot and the task's fields. */
    atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
    return true;
}

flo__task *flo__deque_pop(flo__deque *q)
{
    long b = atomic_load_explicit(&q->bottom, memory_order_relaxed) - 1;
    flo__ring *r = atomic_load_explicit(&q->ring, memory_order_relaxed);
    long tp;
    flo__task *x;

    atomic_store_explicit(&q->bottom, b, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    tp = atomic_load_explicit(&q->top, memory_order_relaxed);
    if (tp > b) {
        atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    x = atomic_load_explicit(&r->buf[b & (r->cap - 1)], memory_order_relaxed);
    if (tp == b) {
        /* Last element: race with thieves for it. */
        if (!atomic_compare_exchange_strong_explicit(&q->top, &tp, tp + 1,
                                                     memory_order_seq_cst,
                                                     memory_order_relaxed))
            x = NULL;
        atomic_store_explicit(&q->bottom, b + 1, memory_order_relaxed);
    }
    return x;
}

flo__task *flo__deque_steal(flo__deque *q)
{
    long tp = atomic_load_explicit(&q->top, memory_order_acquire);
    long b;
    flo__ring *r;
    flo__task *x;

    atomic_thread_fence(memory_order_seq_cst);
    b = atomic_load_explicit(&q->bottom, memory_order_acquire);
    if (tp >= b)
        return NULL;
    r = atomic_load_explicit(&q->ring, memory_order_acquire);
    x = atomic_load_explicit(&r->buf[tp & (r->cap - 1)], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(
            &q->top, &tp, tp + 1, memory_order_seq_cst, memory_order_relaxed))
        return NULL;
    return x;
}

flo__worker *flo__pick_device_worker(flo_runtime *rt, int dev, atomic_uint *rr)
{
    flo__device *d = rt->plat.devices[dev];
    unsigned k = atomic_fetch_add_explicit(rr, 1, memory_order_relaxed);
    return rt->workers[d->first_worker + (int)(k % (unsigned)d->nworkers)];
}

/* ---- Heap ---------------------------------------------------------------- */

flo_status flo__heap_init(flo__heap *h)
{
    if (pthread_mutex_init(&h->mu, NULL))
        return FLO_ESYS;
    h->v = NULL;
    h->n = h->cap = 0;
    h->seq = 0;
    atomic_init(&h->count, 0);
    atomic_init(&h->top_prio, 0);
    return FLO_OK;
}

void flo__heap_destroy(flo__heap *h)
{
    free(h->v);
    pthread_mutex_destroy(&h->mu);
}

static inline bool before(const flo__heap_ent *a, const flo__heap_ent *b)
{
    return a->prio > b->prio || (a->prio == b->prio && a->seq < b->seq);
}

/* Append t to the binary heap (*v, *n, *cap), growing the array by
 * doubling from first_cap; equal priorities keep their order (seq).
 * False when memory is short (nothing changed). Caller serialises. */
static bool heap_insert(flo__heap_ent **v, long *n, long *cap, uint64_t *seq,
                        long first_cap, flo__task *t)
{
    long i;
    if (*n == *cap) {
        long nc = *cap ? 2 * *cap : first_cap;
        flo__heap_ent *nv = realloc(*v, (size_t)nc * sizeof(*nv));
        if (!nv)
            return false;
        *v = nv;
        *cap = nc;
    }
    i = (*n)++;
    (*v)[i] = (flo__heap_ent){t->priority, (*seq)++, t};
    while (i > 0) {
        long p = (i - 1) / 2;
        flo__heap_ent tmp;
        if (!before(&(*v)[i], &(*v)[p]))
            break;
        tmp = (*v)[i];
        (*v)[i] = (*v)[p];
        (*v)[p] = tmp;
        i = p;
    }
    return true;
}

/* Remove and return the top of the non-empty binary heap (v, *n).
 * Caller serialises. */
static flo__task *heap_take_top(flo__heap_ent *v, long *n)
{
    flo__task *t = v[0].t;
    long i = 0;

    v[0] = v[--*n];
    for (;;) {
        long l = 2 * i + 1, r = l + 1, m = i;
        flo__heap_ent tmp;
        if (l < *n && before(&v[l], &v[m]))
            m = l;
        if (r < *n && before(&v[r], &v[m]))
            m = r;
        if (m == i)
            break;
        tmp = v[i];
        v[i] = v[m];
        v[m] = tmp;
        i = m;
    }
    return t;
}

bool flo__heap_push(flo__heap *h, flo__task *t)
{
    pthread_mutex_lock(&h->mu);
    if (!heap_insert(&h->v, &h->n, &h->cap, &h->seq, 256, t)) {
        pthread_mutex_unlock(&h->mu);
        return false;
    }
    atomic_store(&h->top_prio, h->v[0].prio);
    atomic_store(&h->count, h->n);
    pthread_mutex_unlock(&h->mu);
    return true;
}

flo__task *flo__heap_pop(flo__heap *h)
{
    flo__task *t = NULL;

    if (atomic_load_explicit(&h->count, memory_order_relaxed) == 0)
        return NULL;
    pthread_mutex_lock(&h->mu);
    if (h->n > 0) {
        t = heap_take_top(h->v, &h->n);
        if (h->n)
            atomic_store(&h->top_prio, h->v[0].prio);
        atomic_store(&h->count, h->n);
    }
    pthread_mutex_unlock(&h->mu);
    return t;
}

/* ---- Owner-only heap ----------------------------------------------------- */

flo_status flo__lheap_init(flo__lheap *h, long cap)
{
    h->v = NULL;
    h->n = h->cap = 0;
    h->seq = 0;
    if (cap > 0) {
        h->v = malloc((size_t)cap * sizeof(*h->v));
        if (!h->v)
            return FLO_ENOMEM;
        h->cap = cap;
    }
    return FLO_OK;
}

void flo__lheap_destroy(flo__lheap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

bool flo__lheap_push(flo__lheap *h, flo__task *t)
{
    return heap_insert(&h->v, &h->n, &h->cap, &h->seq, 64, t);
}

flo__task *flo__lheap_pop(flo__lheap *h)
{
    if (h->n == 0)
        return NULL;
    return heap_take_top(h->v, &h->n);
}

int flo__pinq_top(flo__pinq *q, flo__lheap *h)
{
    flo__task *in = flo__inbox_take_fifo(&q->in);

    if (in) {
        /* Keep submission order: leftovers of an earlier failed move
         * (q->local) go first. */
        if (q->local) {
            flo__task *last = q->local;
            while (last->next)
                last = last->next;
            last->next = in;
        } else {
            q->local = in;
        }
    }
    while (q->local && flo__lheap_push(h, q->local))
        q->local = q->local->next;
    if (h->n > 0)
        return h->v[0].prio;
    return q->local ? q->local->priority : INT_MIN;
}

flo__task *flo__pinq_pop_best(flo__pinq *q, flo__lheap *h)
{
    flo__task *t = flo__lheap_pop(h);
    if (t)
        return t;
    t = q->local;
    if (t)
        q->local = t->next;
    return t;
}
