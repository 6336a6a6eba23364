/*
 * Flotilla - ready-queue building blocks shared by the policies:
 * a Chase-Lev work-stealing deque, a multi-producer inbox with a single
 * consumer, and a locked priority heap.
 */
#ifndef FLO_SCHEDULER_QUEUES_H
#define FLO_SCHEDULER_QUEUES_H

#include "scheduler/sched.h"

/* ---- Chase-Lev deque (Le, Pop, Cohen, Zappa Nardelli, PPoPP 2013).
 * The owner pushes and pops at the bottom; thieves take from the top.
 * Grown arrays are kept until the deque is destroyed, since a thief may
 * still read the old one. --------------------------------------------- */

typedef struct flo__ring {
    long cap; /* Power of two. */
    struct flo__ring *prev;
    _Atomic(flo__task *) buf[];
} flo__ring;

typedef struct flo__deque {
    FLO__ALIGNED atomic_long top;
    FLO__ALIGNED atomic_long bottom;
    _Atomic(flo__ring *) ring;
} flo__deque;

flo_status flo__deque_init(flo__deque *q, long cap);
void flo__deque_destroy(flo__deque *q);
/* Owner only. Returns false if growing failed (out of memory). */
bool flo__deque_push(flo__deque *q, flo__task *t);
flo__task *flo__deque_pop(flo__deque *q);
/* Any thread. NULL if empty or lost a race. */
flo__task *flo__deque_steal(flo__deque *q);
static inline bool flo__deque_maybe_nonempty(flo__deque *q)
{
    return atomic_load_explicit(&q->bottom, memory_order_relaxed) >
           atomic_load_explicit(&q->top, memory_order_relaxed);
}

/* ---- Inbox: producers push onto a lock-free stack; a consumer takes
 * the whole stack at once (an exchange, so several consumers are safe and
 * there is no ABA). take_fifo reverses it into submission order. ------- */

typedef struct flo__inbox {
    FLO__ALIGNED _Atomic(flo__task *) head;
} flo__inbox;

static inline void flo__inbox_push(flo__inbox *b, flo__task *t)
{
    flo__task *h = atomic_load_explicit(&b->head, memory_order_relaxed);
    do {
        t->next = h;
    } while (!atomic_compare_exchange_weak_explicit(
        &b->head, &h, t, memory_order_release, memory_order_relaxed));
}

static inline bool flo__inbox_empty(flo__inbox *b)
{
    return !atomic_load_explicit(&b->head, memory_order_relaxed);
}

/* Everything pushed so far, oldest first (linked by next), or NULL. */
static inline flo__task *flo__inbox_take_fifo(flo__inbox *b)
{
    flo__task *h, *t = NULL;
    if (flo__inbox_empty(b))
        return NULL;
    h = atomic_exchange_explicit(&b->head, NULL, memory_order_acquire);
    while (h) {
        flo__task *n = h->next;
        h->next = t;
        t = h;
        h = n;
    }
    return t;
}

/* A worker's private FIFO of tasks pinned to it: producers push into
 * `in`; only the owner consumes, through `local`. */
typedef struct flo__pinq {
    flo__inbox in;
    flo__task *local;
} flo__pinq;

static inline flo__task *flo__pinq_pop(flo__pinq *q)
{
    flo__task *t = q->local;
    if (!t) {
        t = flo__inbox_take_fifo(&q->in);
        if (!t)
            return NULL;
    }
    q->local = t->next;
    return t;
}

/* Round-robin choice of a worker of device dev. */
flo__worker *flo__pick_device_worker(flo_runtime *rt, int dev, atomic_uint *rr);

/* ---- Priority heap under a mutex: highest priority first, FIFO among
 * equals. ------------------------------------------------------------ */

typedef struct flo__heap_ent {
    int prio;
    uint64_t seq;
    flo__task *t;
} flo__heap_ent;

typedef struct flo__heap {
    pthread_mutex_t mu;
    flo__heap_ent *v;
    long n, cap;
    uint64_t seq;
    FLO__ALIGNED atomic_long count; /* Readable without the lock. */
    atomic_int top_prio;            /* Priority of v[0] when count > 0. */
} flo__heap;

flo_status flo__heap_init(flo__heap *h);
void flo__heap_destroy(flo__heap *h);
bool flo__heap_push(flo__heap *h, flo__task *t);
/* Pop the best task, or NULL. */
flo__task *flo__heap_pop(flo__heap *h);

/* ---- Owner-only priority heap (no lock): highest priority first, FIFO
 * among equals. GPU workers move the tasks pinned to them (a pinq) into
 * one so that they launch the most urgent first. The array grows by
 * doubling and is never shrunk: no allocation per task in steady state.
 * --------------------------------------------------------------------- */

typedef struct flo__lheap {
    flo__heap_ent *v;
    long n, cap;
    uint64_t seq;
} flo__lheap;

/* Reserve cap entries (0: none yet). FLO_ENOMEM if that fails. */
flo_status flo__lheap_init(flo__lheap *h, long cap);
void flo__lheap_destroy(flo__lheap *h);
/* False if growing failed (t was not added). */
bool flo__lheap_push(flo__lheap *h, flo__task *t);
flo__task *flo__lheap_pop(flo__lheap *h);

/* Priority of the best task pinned to q's owner, after moving what was
 * pushed since into h (oldest first); INT_MIN if none. Owner only. If h
 * cannot grow, the rest stays in q->local, served after h empties. */
int flo__pinq_top(flo__pinq *q, flo__lheap *h);
/* The best task pinned to the owner (call flo__pinq_top first), or
 * NULL. Owner only. */
flo__task *flo__pinq_pop_best(flo__pinq *q, flo__lheap *h);

/* ---- The work-stealing policy's engine, reused by `locality` for the
 * tasks it places on the host and for pinned tasks. ------------------- */

typedef struct flo__ws flo__ws;
flo_status flo__ws_create(flo_runtime *rt, flo__ws **out);
void flo__ws_destroy(flo_runtime *rt, flo__ws *ws);
void flo__ws_push(flo_runtime *rt, flo__ws *ws, flo__worker *self,
                  flo__task *t);
/* Queue t for worker w only (w must be able to run it), and wake w. */
void flo__ws_push_to(flo_runtime *rt, flo__ws *ws, flo__worker *w,
                     flo__task *t);
flo__task *flo__ws_pop(flo_runtime *rt, flo__ws *ws, flo__worker *w);
/* A task queued for w alone (pinned, its deque, its inbox), or NULL. */
flo__task *flo__ws_take_own(flo_runtime *rt, flo__ws *ws, flo__worker *w);

#endif
