/*
 * Flotilla - tasks: submission, dependencies, completion, events, waits.
 *
 * Life of a task record. It comes from the submitting thread's cache
 * (flo__tcache), starts with refs = 1 (dropped at completion) plus one per
 * data handle that names it as last writer or reader, and pending = 1 (the
 * submission guard) plus one per unfinished predecessor. Whoever brings
 * pending to zero makes it ready. At completion its successor list is
 * closed (FLO__EDGES_CLOSED) and each successor's pending is decremented.
 * When refs reaches zero the record's generation is bumped (events of the
 * old generation now read as "finished long ago") and it returns to the
 * freeing thread's cache. Records are never returned to malloc before
 * finalize, so a stale event or reference reads valid memory.
 *
 * Lock order: data dep_lock, then pool_mu. wait_mu and fail_mu are leaves.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched.h"
#include "scheduler/graph.h"

struct flo_task_ctx {
    flo_runtime *rt;
    flo__worker *w;
    flo__task *t;
    void *stream;
    flo_status failed;
};

/* Handle encoding: see scheduler/sched.h (flo__id_make). An event is (id,
 * gen): id names the runtime and the task record's slot, gen the
 * record's incarnation. */

static inline flo_event make_event(const flo_runtime *rt, const flo__task *t)
{
    flo_event ev;
    ev.id = flo__id_make(rt->serial, t->index);
    ev.gen = atomic_load_explicit(&t->gen, memory_order_relaxed);
    return ev;
}

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

/* ---- Task names --------------------------------------------------------- */

/* The interned copy of a task's name, through the thread's small cache
 * (most programs submit a handful of names from string literals). */
static const char *intern_name(flo__tcache *c, const char *name)
{
    uintptr_t k = (uintptr_t)name;
    unsigned i = (unsigned)((k >> 3) ^ (k >> 9)) & 31u;
    const char *in;

    if (c->names[i].ptr == name && strcmp(c->names[i].interned, name) == 0)
        return c->names[i].interned;
    in = flo__name_intern(name);
    if (!in)
        return "task";
    c->names[i].ptr = name;
    c->names[i].interned = in;
    return in;
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
    slab = flo__calloc_aligned(FLO__TASK_SLAB, sizeof(flo__task),
                               FLO__CACHELINE);
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

static flo__task *task_alloc(flo_runtime *rt, flo__tcache *c)
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

static void task_free(flo_runtime *rt, flo__tcache *c, flo__task *t)
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

static flo__edge *edge_alloc(flo_runtime *rt, flo__tcache *c)
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
                void **ns = realloc(rt->edge_slabs,
                                    (size_t)cap * sizeof(*ns));
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

static void edge_free(flo_runtime *rt, flo__tcache *c, flo__edge *e)
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

void flo__edge_release(flo_runtime *rt, flo__tcache *c, flo__edge *e)
{
    edge_free(rt, c, e);
}

void flo__task_unref(flo_runtime *rt, flo__tcache *c, flo__task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        task_free(rt, c, t);
}

/* The record an event's id points at, or NULL if it names none. */
static flo__task *event_record(flo_runtime *rt, flo_event ev)
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

/* Take a reference on the task an event names, if that task is still the
 * same incarnation; NULL when it finished and was recycled. */
static flo__task *task_from_event(flo_runtime *rt, flo_event ev)
{
    flo__task *t = event_record(rt, ev);
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

/* ---- Failures ------------------------------------------------------------ */

/*
 * Every failed or canceled task leaves a record keyed by its event, kept
 * until finalize: an event's outcome must survive the recycling of its
 * task record, and no number of later failures may push it out. The
 * table is open addressing with linear probing, grown at half load; it is
 * touched only on failure paths and by lookups of recycled events, under
 * fail_mu.
 */

static inline size_t fail_hash(uint64_t id, uint64_t gen)
{
    uint64_t h = (id ^ (gen * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return (size_t)(h ^ (h >> 31));
}

static flo__failure *fail_find(flo_runtime *rt, uint64_t id, uint64_t gen)
{
    size_t mask, i;

    if (!rt->fails_cap)
        return NULL;
    mask = rt->fails_cap - 1;
    for (i = fail_hash(id, gen) & mask;; i = (i + 1) & mask) {
        flo__failure *f = &rt->fails[i];
        if (f->id == 0)
            return NULL;
        if (f->id == id && f->gen == gen)
            return f;
    }
}

/* A free slot for (id, gen), growing the table first if needed; NULL
 * when memory is short. */
static flo__failure *fail_insert(flo_runtime *rt, uint64_t id, uint64_t gen)
{
    size_t mask, i;

    if (2 * (rt->nfails + 1) > rt->fails_cap) {
        size_t cap = rt->fails_cap ? 2 * rt->fails_cap : 256;
        flo__failure *nf = calloc(cap, sizeof(*nf));
        if (!nf)
            return NULL;
        for (size_t k = 0; k < rt->fails_cap; k++) {
            flo__failure *o = &rt->fails[k];
            if (o->id == 0)
                continue;
            for (i = fail_hash(o->id, o->gen) & (cap - 1); nf[i].id;
                 i = (i + 1) & (cap - 1))
                ;
            nf[i] = *o;
        }
        free(rt->fails);
        rt->fails = nf;
        rt->fails_cap = cap;
    }
    mask = rt->fails_cap - 1;
    for (i = fail_hash(id, gen) & mask; rt->fails[i].id;
         i = (i + 1) & mask)
        ;
    rt->nfails++;
    return &rt->fails[i];
}

static void record_failure(flo_runtime *rt, flo__task *t, flo_status st)
{
    flo_event ev = make_event(rt, t);
    flo__failure *f;
    const char *msg = t->msg ? t->msg : "";

    pthread_mutex_lock(&rt->fail_mu);
    f = fail_insert(rt, ev.id, ev.gen);
    if (f) {
        f->id = ev.id;
        f->gen = ev.gen;
        f->seq = ++rt->fail_seq;
        f->status = st;
        f->reported = false;
        /* A cancellation's message is rebuilt from its status: most
         * failures are cancellations, keep them small. */
        f->msg = st == FLO_ECANCELED ? NULL : strdup(msg);
    } else {
        FLO__ERR("out of memory recording the failure of task '%s'",
                 t->name);
    }
    if (!atomic_load_explicit(&rt->have_first_error, memory_order_relaxed)) {
        rt->first_error = st;
        free(rt->first_error_msg);
        rt->first_error_msg = strdup(msg);
        atomic_store(&rt->have_first_error, 1);
    }
    pthread_mutex_unlock(&rt->fail_mu);
}

/* Status of a finished task whose record was recycled: its failure, or
 * FLO_OK when none was recorded. With mark, a failure counts as reported
 * to the program (flo_finalize does not report it again). */
static flo_status failure_lookup(flo_runtime *rt, flo_event ev, char *buf,
                                 size_t len, bool *found, bool mark)
{
    flo_status st = FLO_OK;
    flo__failure *f;

    *found = false;
    pthread_mutex_lock(&rt->fail_mu);
    f = fail_find(rt, ev.id, ev.gen);
    if (f) {
        st = f->status;
        *found = true;
        if (mark)
            f->reported = true;
        if (buf && len)
            snprintf(buf, len, "%s",
                     f->msg ? f->msg
                            : "task canceled: a predecessor failed");
    }
    pthread_mutex_unlock(&rt->fail_mu);
    return st;
}

/* A failure returned to the program by an event query: not reported
 * again by flo_finalize. */
static void failure_mark_reported(flo_runtime *rt, flo__task *t)
{
    flo_event ev = make_event(rt, t);
    flo__failure *f;

    pthread_mutex_lock(&rt->fail_mu);
    f = fail_find(rt, ev.id, ev.gen);
    if (f)
        f->reported = true;
    pthread_mutex_unlock(&rt->fail_mu);
}

/* The status of the earliest failure (not a cancellation) since the last
 * flo_wait_all that reported errors which no call returned; FLO_OK if
 * none. For flo_finalize. */
flo_status flo__failures_unreported(flo_runtime *rt)
{
    flo__failure *first = NULL;
    flo_status st;

    pthread_mutex_lock(&rt->fail_mu);
    for (size_t i = 0; i < rt->fails_cap; i++) {
        flo__failure *f = &rt->fails[i];
        if (f->id == 0 || f->reported || f->seq <= rt->ack_seq ||
            f->status == FLO_ECANCELED)
            continue;
        if (!first || f->seq < first->seq)
            first = f;
    }
    st = first ? first->status : FLO_OK;
    pthread_mutex_unlock(&rt->fail_mu);
    return st;
}

/* ---- Dependencies -------------------------------------------------------- */

/* The task will finish with st instead of running (first reason wins). */
static inline void set_cancel_status(flo__task *s, flo_status st)
{
    int zero = 0;
    atomic_compare_exchange_strong(&s->cancel, &zero, st);
}

static inline void set_cancel(flo__task *s)
{
    set_cancel_status(s, FLO_ECANCELED);
}

/* s depends on p, which finished with pst != FLO_OK. A task is canceled;
 * an acquire's pseudo-task takes p's own status instead, which
 * flo_data_acquire returns (the error of the writer that failed, or
 * FLO_ECANCELED if that writer was itself canceled). */
static inline void cancel_dependent(flo__task *s, flo_status pst)
{
    if (atomic_load_explicit(&s->flags, memory_order_relaxed) &
        FLO__TF_ACQUIRE)
        set_cancel_status(s, pst);
    else
        set_cancel(s);
}

/* Make s wait for p. The caller holds a reference on p. */
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
    if (!gpu_only_on(rt, s, w))
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
     * path in add_edge) or waits for the completion. Both are correct. */
    atomic_fetch_or_explicit(&t->flags, FLO__TF_LAUNCHED,
                             memory_order_seq_cst);
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
        if (atomic_fetch_sub_explicit(&s->pending, 1,
                                      memory_order_acq_rel) == 1)
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
           FLO__TASK_DONE;
}

/* Before t runs: FLO_ECANCELED if an early predecessor already finished
 * with a failure that cancels t (the rule of add_edge). */
flo_status flo__task_early_check(flo__task *t)
{
    flo__task *const *ep;
    int n = flo__task_early(t, &ep);
    for (int i = 0; i < n; i++) {
        flo__task *p = ep[i];
        if (flo__task_is_done(p) && p->status != FLO_OK &&
            (t->early_hard[i] || p->epoch == t->epoch))
            return FLO_ECANCELED;
    }
    return FLO_OK;
}

/* Make s wait for p. The caller holds a reference on p. */
static flo_status add_edge(flo_runtime *rt, flo__tcache *c, flo__task *p,
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
    e = edge_alloc(rt, c);
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
            edge_free(rt, c, e);
            goto finished;
        }
        e->next = head;
    } while (!atomic_compare_exchange_weak_explicit(
        &p->succ, &head, e, memory_order_acq_rel, memory_order_acquire));
    return FLO_OK;

finished:
    /* p completed; its status was written before the list was closed. */
    if (p->status != FLO_OK && (hard || p->epoch == s->epoch))
        cancel_dependent(s, (flo_status)p->status);
    return FLO_OK;
}

/* Drop completed readers so that long read-only phases stay O(1)
 * amortised. Caller holds d->dep_lock. */
static void compact_readers(flo_runtime *rt, flo__tcache *c, flo__data *d)
{
    flo__edge **pp = &d->readers;
    int n = 0;

    while (*pp) {
        flo__edge *e = *pp;
        if (atomic_load_explicit(&e->task->state, memory_order_acquire) ==
            FLO__TASK_DONE) {
            *pp = e->next;
            flo__task_unref(rt, c, e->task);
            edge_free(rt, c, e);
        } else {
            pp = &e->next;
            n++;
        }
    }
    d->nreaders = n;
    d->reader_compact_at = FLO__MAX(64, 2 * n);
}

/* Sequential consistency per handle: a writer waits for the last writer
 * and the readers since; a reader waits for the last writer. Caller holds
 * d->dep_lock. */
static flo_status dep_add_data(flo_runtime *rt, flo__tcache *c,
                               flo__task *t, flo__data *d, flo_access mode)
{
    flo_status st = FLO_OK;

    if (mode & FLO_WRITE) {
        if (d->readers) {
            flo__edge *e = d->readers;
            while (e) {
                flo__edge *n = e->next;
                if (st == FLO_OK)
                    st = add_edge(rt, c, e->task, t, false);
                flo__task_unref(rt, c, e->task);
                edge_free(rt, c, e);
                e = n;
            }
            d->readers = NULL;
            d->nreaders = 0;
            d->reader_compact_at = 64;
        } else if (d->last_writer) {
            st = add_edge(rt, c, d->last_writer, t, false);
        }
        if (d->last_writer)
            flo__task_unref(rt, c, d->last_writer);
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        d->last_writer = t;
    } else {
        flo__edge *e;
        if (d->last_writer)
            st = add_edge(rt, c, d->last_writer, t, false);
        e = edge_alloc(rt, c);
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

/*
 * Atomic submission. A task's dependencies on all of its handles are
 * recorded while it holds the dep_lock of every one of them, taken in one
 * global order (address of the flo__data): two-phase locking, so every
 * submission takes effect at one point (while it holds all its locks) and
 * the dependencies it records are those of a serial execution of the
 * submissions in the order of those points - the order of each thread's
 * own submissions included. The canonical order excludes lock cycles. No
 * lock is shared by submissions with disjoint handles.
 */
static void lock_datas(const flo__lockent *v, int n)
{
    for (int i = 0; i < n; i++)
        flo__spin_lock(&v[i].d->dep_lock);
}

static void unlock_datas(const flo__lockent *v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        flo__spin_unlock(&v[i].d->dep_lock);
}

/* The canonical order: by address of the handle's record, then by entry
 * index, so that a handle's first entry leads its run of duplicates. */
static inline bool ent_before(const flo__lockent *a, const flo__lockent *b)
{
    return (uintptr_t)a->d < (uintptr_t)b->d ||
           (a->d == b->d && a->idx < b->idx);
}

static void ent_sift_down(flo__lockent *v, int root, int n)
{
    for (;;) {
        int c = 2 * root + 1;
        flo__lockent x;
        if (c >= n)
            return;
        if (c + 1 < n && ent_before(&v[c], &v[c + 1]))
            c++;
        if (!ent_before(&v[root], &v[c]))
            return;
        x = v[root];
        v[root] = v[c];
        v[c] = x;
        root = c;
    }
}

/* Up to this many entries, quadratic loops beat sorting. */
#define FEW_ACCESSES 16

/* Sort in the canonical order, in place and without allocating: an
 * insertion sort for the usual few handles, a heap sort beyond (a task
 * may name any number of handles, see FLO_TASK_MAX_ACCESS). */
static void sort_lockents(flo__lockent *v, int n)
{
    if (n <= FEW_ACCESSES) {
        for (int i = 1; i < n; i++) {
            flo__lockent x = v[i];
            int j = i;
            for (; j > 0 && ent_before(&x, &v[j - 1]); j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    for (int i = n / 2 - 1; i >= 0; i--)
        ent_sift_down(v, i, n);
    for (int i = n - 1; i > 0; i--) {
        flo__lockent x = v[0];
        v[0] = v[i];
        v[i] = x;
        ent_sift_down(v, 0, i);
    }
}

/* Under d->dep_lock: d is still the registration the handle named.
 * flo_data_unregister clears alive before it records its final
 * pseudo-task under the same lock, and the generation only grows, so a
 * submission that passes this check is ordered before the unregister. */
static inline bool data_current(const flo__data *d, uint64_t gen)
{
    return atomic_load_explicit(&d->alive, memory_order_acquire) &&
           atomic_load_explicit(&d->gen, memory_order_acquire) == gen;
}

/* ---- Submission ---------------------------------------------------------- */

static flo_status validate_desc(flo_runtime *rt, const flo_task_desc *desc,
                                unsigned *elig)
{
    const flo_kernel *k;
    unsigned e = 0;
    int dev, wk;

    if (desc->size != 0 && desc->size != sizeof(flo_task_desc)) {
        FLO__ERR("flo_task_desc.size is %zu, expected %zu (or 0): start "
                 "from FLO_TASK_DESC_INIT", desc->size,
                 sizeof(flo_task_desc));
        return FLO_EINVAL;
    }
    k = desc->kernel;
    if (!k || (!k->host && !k->cuda))
        return FLO_EINVAL;
    if (desc->naccess < 0 || desc->naccess > FLO_TASK_MAX_ACCESS ||
        (desc->naccess > 0 && !desc->access))
        return FLO_EINVAL;
    if (desc->args_size > FLO_TASK_MAX_ARGS ||
        (desc->args_size > 0 && !desc->args))
        return FLO_EINVAL;
    if (desc->ndeps < 0 || desc->ndeps > FLO_TASK_MAX_DEPS ||
        (desc->ndeps > 0 && !desc->deps))
        return FLO_EINVAL;
    /* on_device / on_worker: 0 for any, index + 1 otherwise. */
    if (desc->on_device < 0 || desc->on_device > rt->ndevices)
        return FLO_EINVAL;
    if (desc->on_worker < 0 || desc->on_worker > rt->nworkers)
        return FLO_EINVAL;
    dev = desc->on_device - 1;
    wk = desc->on_worker - 1;

    if (k->host && rt->nhost_workers > 0)
        e |= FLO__ELIG_HOST;
    if (k->cuda && rt->ngpu_workers > 0)
        e |= FLO__ELIG_CUDA;
    if (dev >= 0)
        e &= rt->devices[dev]->kind == FLO_DEVICE_HOST ? FLO__ELIG_HOST
                                                       : FLO__ELIG_CUDA;
    if (wk >= 0) {
        flo__worker *w = rt->workers[wk];
        e &= w->kind == FLO_DEVICE_HOST ? FLO__ELIG_HOST : FLO__ELIG_CUDA;
        if (dev >= 0 && dev != w->device)
            e = 0;
    }
    if (!e)
        return FLO_ENODEV;

    for (int i = 0; i < desc->naccess; i++) {
        flo_access m = desc->access[i].mode;
        if (m != FLO_READ && m != FLO_WRITE && m != FLO_READ_WRITE)
            return FLO_EINVAL;
    }
    for (int i = 0; i < desc->ndeps; i++) {
        uint64_t id = desc->deps[i].id;
        if (id == 0)
            continue;
        if (flo__id_serial(id) != rt->serial)
            return FLO_EFOREIGN;
        if ((id & FLO__ID_INDEX_MASK) == 0)
            return FLO_EINVAL;
    }
    *elig = e;
    return FLO_OK;
}

/*
 * Fill t's n accesses (their handles already looked up into t->acc[].d)
 * from desc, merge the entries naming one handle into its first entry,
 * and list the distinct handles in ent, sorted in the canonical order of
 * the locked phase. Returns their number. ent has room for n entries.
 */
static int plan_accesses(flo__task *t, const flo_task_desc *desc, int n,
                         flo__lockent *ent)
{
    int nlocks = 0;

    t->bytes = 0;
    for (int i = 0; i < n; i++) {
        flo__acc *a = &t->acc[i];
        a->mode = (uint8_t)desc->access[i].mode;
        a->merged = a->mode;
        a->first = true;
        a->lead = i;
        a->ptr = NULL;
    }
    if (n <= FEW_ACCESSES) {
        /* A few entries: compare each with those before it. */
        for (int i = 0; i < n; i++) {
            flo__acc *a = &t->acc[i];
            for (int j = 0; j < i; j++) {
                if (t->acc[j].d == a->d && t->acc[j].first) {
                    a->first = false;
                    a->lead = j;
                    t->acc[j].merged |= a->mode;
                    break;
                }
            }
            if (a->first) {
                t->bytes += a->d->bytes;
                ent[nlocks].d = a->d;
                ent[nlocks].gen = desc->access[i].data.gen;
                ent[nlocks++].idx = i;
            }
        }
        sort_lockents(ent, nlocks);
        return nlocks;
    }
    /* Many entries: sort them all, so that the entries of one handle are
     * adjacent with the first one leading, then keep one per handle. */
    for (int i = 0; i < n; i++) {
        ent[i].d = t->acc[i].d;
        ent[i].gen = desc->access[i].data.gen;
        ent[i].idx = i;
    }
    sort_lockents(ent, n);
    for (int g = 0; g < n;) {
        flo__acc *lead = &t->acc[ent[g].idx];
        int h = g + 1;
        for (; h < n && ent[h].d == ent[g].d; h++) {
            flo__acc *a = &t->acc[ent[h].idx];
            a->first = false;
            a->lead = ent[g].idx;
            lead->merged |= a->mode;
        }
        t->bytes += lead->d->bytes;
        ent[nlocks++] = ent[g];
        g = h;
    }
    return nlocks;
}

flo_status flo_task_submit(flo_runtime *rt, const flo_task_desc *desc,
                           flo_event *out)
{
    flo__lockent ent_inline[FLO__TASK_INLINE_ACC];
    flo__lockent *locks;
    flo__tcache *c;
    flo__task *t;
    unsigned elig = 0;
    flo_status st;
    flo_event ev;
    int n, nlocks;

    if (!rt || !desc)
        return FLO_EINVAL;
    if (flo__graph_rec && flo__graph_rec->rt == rt)
        return flo__graph_record(flo__graph_rec, desc, out);
    if (atomic_load_explicit(&rt->stopping, memory_order_relaxed))
        return FLO_ESTALE;
    st = validate_desc(rt, desc, &elig);
    if (st != FLO_OK)
        return st;
    c = flo__tcache_get(rt);
    if (!c)
        return FLO_ENOMEM;
    t = task_alloc(rt, c);
    if (!t)
        return FLO_ENOMEM;

    n = desc->naccess;
    if (n <= FLO__TASK_INLINE_ACC) {
        t->acc = t->acc_inline;
        locks = ent_inline;
    } else {
        if (t->acc_ext_cap < n) {
            /* Accesses and lock entries in one block (see flo__task). */
            void *a = realloc(t->acc_ext, (size_t)n * (sizeof(flo__acc) +
                                                       sizeof(flo__lockent)));
            if (!a)
                goto fail_nomem;
            t->acc_ext = a;
            t->acc_ext_cap = n;
        }
        t->acc = t->acc_ext;
        locks = (flo__lockent *)(t->acc_ext + t->acc_ext_cap);
    }
    for (int i = 0; i < n; i++) {
        t->acc[i].d = flo__data_lookup(rt, desc->access[i].data, &st);
        if (!t->acc[i].d) {
            task_free(rt, c, t);
            return st;
        }
    }
    if (desc->args_size <= FLO__TASK_INLINE_ARGS) {
        t->args = t->args_inline;
    } else {
        if (t->args_ext_cap < desc->args_size) {
            void *a = realloc(t->args_ext, desc->args_size);
            if (!a)
                goto fail_nomem;
            t->args_ext = a;
            t->args_ext_cap = desc->args_size;
        }
        t->args = t->args_ext;
    }
    if (desc->args_size)
        memcpy(t->args, desc->args, desc->args_size);
    t->args_size = desc->args_size;

    t->naccess = n;
    nlocks = plan_accesses(t, desc, n, locks);

    t->next = NULL;
    atomic_store_explicit(&t->pending, 1, memory_order_relaxed);
    atomic_store_explicit(&t->refs, 1, memory_order_relaxed);
    atomic_store_explicit(&t->succ, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->flags, 0, memory_order_relaxed);
    atomic_store_explicit(&t->cancel, 0, memory_order_relaxed);
    atomic_store_explicit(&t->nearly, 0, memory_order_relaxed);
    atomic_store_explicit(&t->early_worker, -1, memory_order_relaxed);
    /* Relaxed: published with the record (a plain assignment to an
     * atomic is a sequentially consistent store, a full fence per task). */
    atomic_store_explicit(&t->status, FLO_OK, memory_order_relaxed);
    t->epoch = atomic_load_explicit(&rt->fail_epoch, memory_order_relaxed);
    t->priority = desc->priority;
    t->device = desc->on_device - 1; /* -1: any (FLO_ANY). */
    t->worker = desc->on_worker - 1;
    t->eligible = elig;
    t->host_fn = desc->kernel->host;
    t->cuda_fn = desc->kernel->cuda;
    t->name = desc->name ? desc->name
                         : (desc->kernel->name ? desc->kernel->name : "task");
    /* The caller's string may not outlive the call (a stack buffer): keep
     * the interned copy, which also keys the placement model. */
    t->name = intern_name(c, t->name);
    t->cb = desc->callback;
    t->cb_arg = desc->callback_arg;
    t->msg = NULL;
    t->t_start = t->t_end = 0;
    t->ran_on = -1;
    t->est_ns = 0;
    t->dev_slot = NULL;
    atomic_store_explicit(&t->state, FLO__TASK_PENDING, memory_order_relaxed);
    ev = make_event(rt, t);

    /* The locked phase (see lock_datas): check that every handle is still
     * registered, then record every dependency, all under all the locks.
     * A handle unregistered since validation makes the call fail with
     * FLO_ESTALE having recorded nothing. locks is sorted (plan_accesses)
     * and lives in t or on this stack: nothing else touches it. */
    lock_datas(locks, nlocks);
    for (int i = 0; i < nlocks; i++) {
        if (!data_current(locks[i].d, locks[i].gen)) {
            unlock_datas(locks, nlocks);
            task_free(rt, c, t);
            return FLO_ESTALE;
        }
    }
    /* From here on the task is committed: allocation failures while wiring
     * dependencies fail the task (reported through its event) instead of
     * the call, so no dependency is half-recorded. */
    for (int i = 0; i < nlocks; i++) {
        st = dep_add_data(rt, c, t, locks[i].d,
                          t->acc[locks[i].idx].merged);
        if (st != FLO_OK)
            set_cancel_status(t, st);
    }
    unlock_datas(locks, nlocks);

    atomic_fetch_add_explicit(&rt->outstanding, 1, memory_order_relaxed);
    atomic_store_explicit(&c->submitted,
                          atomic_load_explicit(&c->submitted,
                                               memory_order_relaxed) + 1,
                          memory_order_relaxed);

    for (int i = 0; i < desc->ndeps; i++) {
        flo_event dep = desc->deps[i];
        flo__task *p;
        if (dep.id == 0)
            continue;
        p = task_from_event(rt, dep);
        if (p) {
            st = add_edge(rt, c, p, t, true);
            if (st != FLO_OK)
                set_cancel_status(t, st);
            flo__task_unref(rt, c, p);
        } else {
            bool found;
            if (failure_lookup(rt, dep, NULL, 0, &found, false) != FLO_OK)
                set_cancel(t);
        }
    }
    if (atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel) == 1)
        flo__task_ready(rt, flo__self_worker(rt), t);
    if (out)
        *out = ev;
    return FLO_OK;

fail_nomem:
    task_free(rt, c, t);
    return FLO_ENOMEM;
}

/* ---- Completion ------------------------------------------------------- */

static void flush_done(flo_runtime *rt, flo__tcache *c)
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
    flush_done(w->rt, &w->cache);
}

void flo__task_complete(flo__worker *w, flo__task *t, flo_status st)
{
    flo_runtime *rt = w ? w->rt : NULL;
    flo__tcache *c;
    flo__edge *e;
    bool pseudo = atomic_load_explicit(&t->flags, memory_order_relaxed) &
                  FLO__TF_ACQUIRE;

    if (!rt) {
        /* Only acquire pseudo-tasks complete off a worker; their runtime
         * is that of their data. */
        rt = t->acc[0].d->rt;
    }
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
            atomic_fetch_add_explicit(&rt->n_canceled, 1,
                                      memory_order_relaxed);
            if (!t->msg)
                flo__task_set_error(t, st, "task '%s' canceled: a "
                                           "predecessor failed", t->name);
        } else {
            atomic_fetch_add_explicit(&rt->n_failed, 1,
                                      memory_order_relaxed);
        }
        if (w) {
            if (st == FLO_ECANCELED)
                FLO__STAT_ADD(w->st.canceled, 1);
            else
                FLO__STAT_ADD(w->st.failed, 1);
        }
        if (!pseudo)
            record_failure(rt, t, st);
    }
    /* Before state = DONE (a sequentially consistent store below), which
     * readers load before the status. */
    atomic_store_explicit(&t->status, st, memory_order_relaxed);
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
        if (st != FLO_OK && (e->hard || s->epoch == t->epoch))
            cancel_dependent(s, st);
        /* A successor released at launch was counted then (and the edge
         * holds a reference on it). */
        if (e->early)
            flo__task_unref(rt, c, s);
        else if (atomic_fetch_sub_explicit(&s->pending, 1,
                                           memory_order_acq_rel) == 1)
            flo__task_ready(rt, w, s);
        edge_free(rt, c, e);
        e = n;
    }
    if (FLO__UNLIKELY(atomic_load_explicit(&t->nearly,
                                           memory_order_relaxed) > 0)) {
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
                flush_done(rt, c);
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
    {
        /* Bound to the stream order of a GPU worker (try_early). */
        int ew = atomic_load_explicit(&t->early_worker, memory_order_relaxed);
        if (ew >= 0)
            t->worker = ew;
    }
    atomic_store_explicit(&t->state, FLO__TASK_READY, memory_order_relaxed);
    rt->sched_ops->push(rt, self, t);
}

/* ---- Acquire pseudo-tasks (used by data.c) -------------------------------- */

/*
 * The pseudo-task of an acquire (a != NULL: flo_data_acquire, checked
 * against handle generation gen and linked into d->acqs) or of an
 * unregister's final wait (a == NULL). Returns once its predecessors
 * finished; *out is the pseudo-task, to be completed by
 * flo__acquire_end. Fails, having changed nothing, with FLO_ESTALE when
 * d was unregistered and with FLO_EDEADLK when the calling thread holds
 * an acquire of d that this one would wait for (directly or through a
 * writer submitted since).
 */
flo_status flo__acquire_begin(flo_runtime *rt, flo__data *d, flo_access mode,
                              uint64_t gen, flo__acq *a, flo__task **out)
{
    flo__tcache *c = flo__tcache_get(rt);
    flo__task *t;
    flo_status st;

    if (!c)
        return FLO_ENOMEM;
    t = task_alloc(rt, c);
    if (!t)
        return FLO_ENOMEM;
    t->acc = t->acc_inline;
    t->naccess = 1;
    t->acc[0].d = d;
    t->acc[0].mode = mode;
    t->acc[0].merged = mode;
    t->acc[0].first = true;
    t->acc[0].lead = 0;
    t->acc[0].ptr = NULL;
    t->args = t->args_inline;
    t->args_size = 0;
    t->next = NULL;
    atomic_store(&t->pending, 1);
    atomic_store(&t->refs, 1);
    atomic_store(&t->succ, NULL);
    atomic_store(&t->flags, FLO__TF_ACQUIRE);
    atomic_store(&t->cancel, 0);
    atomic_store(&t->nearly, 0);
    atomic_store(&t->early_worker, -1);
    atomic_store_explicit(&t->status, FLO_OK, memory_order_relaxed);
    t->epoch = atomic_load_explicit(&rt->fail_epoch, memory_order_relaxed);
    t->priority = 0;
    t->device = t->worker = FLO_ANY;
    t->eligible = 0;
    t->host_fn = t->cuda_fn = NULL;
    t->name = "acquire";
    t->cb = NULL;
    t->msg = NULL;
    t->dev_slot = NULL;
    atomic_store(&t->state, FLO__TASK_PENDING);

    flo__spin_lock(&d->dep_lock);
    if (a) {
        pthread_t self = pthread_self();
        if (!data_current(d, gen)) {
            flo__spin_unlock(&d->dep_lock);
            task_free(rt, c, t);
            return FLO_ESTALE;
        }
        for (flo__acq *o = d->acqs; o; o = o->next) {
            if (!pthread_equal(o->thread, self))
                continue;
            /* Two read acquires with no writer between them do not wait
             * for each other; anything else would wait forever. */
            if ((o->mode & FLO_WRITE) || (mode & FLO_WRITE) ||
                d->last_writer != o->writer) {
                flo__spin_unlock(&d->dep_lock);
                task_free(rt, c, t);
                return FLO_EDEADLK;
            }
        }
    }
    st = dep_add_data(rt, c, t, d, mode);
    if (st != FLO_OK)
        set_cancel_status(t, st);
    if (a) {
        a->task = t;
        a->thread = pthread_self();
        a->mode = mode;
        a->writer = d->last_writer;
        a->next = d->acqs;
        d->acqs = a;
    }
    flo__spin_unlock(&d->dep_lock);
    if (atomic_fetch_sub(&t->pending, 1) == 1)
        flo__task_ready(rt, NULL, t);
    /* Wait until it is ready (its predecessors finished). */
    pthread_mutex_lock(&rt->wait_mu);
    while (atomic_load(&t->state) != FLO__TASK_READY)
        pthread_cond_wait(&rt->wait_cv, &rt->wait_mu);
    pthread_mutex_unlock(&rt->wait_mu);
    *out = t;
    return (flo_status)atomic_load(&t->cancel);
}

void flo__acquire_end(flo__task *t)
{
    flo__task_complete(NULL, t, FLO_OK);
}

/* ---- Waiting ------------------------------------------------------------ */

static bool inside_task(flo_runtime *rt)
{
    flo__worker *w = flo__self_worker(rt);
    return w && atomic_load_explicit(&w->in_task, memory_order_relaxed);
}

static flo_status event_check(flo_runtime *rt, flo_event ev, bool block)
{
    flo__task *t;
    bool found;

    if (!rt)
        return FLO_EINVAL;
    if (ev.id == 0)
        return FLO_OK;
    if (flo__id_serial(ev.id) != rt->serial)
        return FLO_EFOREIGN;
    t = event_record(rt, ev);
    if (!t)
        return FLO_EINVAL;

    for (int spins = 0;; spins++) {
        /* Read the generation on both sides of the state: if it moved,
         * the record was recycled (the task finished long ago), and the
         * state read may belong to a later task. */
        uint64_t g1 = atomic_load_explicit(&t->gen, memory_order_acquire);
        int s = atomic_load_explicit(&t->state, memory_order_acquire);
        flo_status st = atomic_load_explicit(&t->status,
                                             memory_order_relaxed);
        uint64_t g2 = atomic_load_explicit(&t->gen, memory_order_acquire);
        if (g1 != ev.gen || g2 != g1) {
            if (g1 < ev.gen)
                return FLO_EINVAL; /* Never issued. */
            return failure_lookup(rt, ev, NULL, 0, &found, true);
        }
        if (s == FLO__TASK_FREE)
            return FLO_EINVAL; /* Never a live task of this runtime. */
        if (s == FLO__TASK_DONE) {
            if (st != FLO_OK)
                failure_mark_reported(rt, t);
            return st;
        }
        if (!block)
            return FLO_INPROGRESS;
        if (spins < 200) {
            flo__cpu_relax();
            continue;
        }
        atomic_fetch_or(&t->flags, FLO__TF_WAITED);
        pthread_mutex_lock(&rt->wait_mu);
        if (atomic_load(&t->gen) == ev.gen &&
            atomic_load(&t->state) != FLO__TASK_DONE &&
            atomic_load(&t->state) != FLO__TASK_FREE)
            pthread_cond_wait(&rt->wait_cv, &rt->wait_mu);
        pthread_mutex_unlock(&rt->wait_mu);
    }
}

flo_status flo_event_wait(flo_runtime *rt, flo_event ev)
{
    if (rt && inside_task(rt))
        return FLO_EDEADLK;
    return event_check(rt, ev, true);
}

flo_status flo_event_query(flo_runtime *rt, flo_event ev)
{
    return event_check(rt, ev, false);
}

flo_status flo__wait_quiescent(flo_runtime *rt)
{
    flo__tcache *c = flo__tcache_get(rt);

    if (c)
        flush_done(rt, c);
    atomic_fetch_add(&rt->all_waiters, 1);
    pthread_mutex_lock(&rt->wait_mu);
    while (atomic_load(&rt->outstanding) != 0)
        pthread_cond_wait(&rt->wait_cv, &rt->wait_mu);
    pthread_mutex_unlock(&rt->wait_mu);
    atomic_fetch_sub(&rt->all_waiters, 1);
    return FLO_OK;
}

flo_status flo_wait_all(flo_runtime *rt)
{
    flo_status st = FLO_OK;

    if (!rt)
        return FLO_EINVAL;
    if (inside_task(rt))
        return FLO_EDEADLK;
    flo__wait_quiescent(rt);
    pthread_mutex_lock(&rt->fail_mu);
    if (atomic_load(&rt->have_first_error)) {
        st = rt->first_error;
        free(rt->last_reported_msg);
        rt->last_reported_msg = rt->first_error_msg;
        rt->first_error_msg = NULL;
        atomic_store(&rt->have_first_error, 0);
        atomic_fetch_add(&rt->fail_epoch, 1);
        /* Everything failed so far was reported by this call. */
        rt->ack_seq = rt->fail_seq;
    } else {
        /* This call reported nothing: flo_error_message(FLO_EVENT_NULL)
         * has no message until a later one does. */
        free(rt->last_reported_msg);
        rt->last_reported_msg = NULL;
    }
    pthread_mutex_unlock(&rt->fail_mu);
    return st;
}

flo_status flo_error_message(flo_runtime *rt, flo_event ev, char *buf,
                             size_t len)
{
    flo__task *t;
    bool found = false;

    if (!rt || !buf || !len)
        return FLO_EINVAL;
    buf[0] = '\0';
    if (ev.id == 0) {
        pthread_mutex_lock(&rt->fail_mu);
        if (rt->last_reported_msg) {
            snprintf(buf, len, "%s", rt->last_reported_msg);
            found = true;
        }
        pthread_mutex_unlock(&rt->fail_mu);
        return found ? FLO_OK : FLO_ERANGE;
    }
    if (flo__id_serial(ev.id) != rt->serial)
        return FLO_EFOREIGN;
    t = task_from_event(rt, ev);
    if (t) {
        /* msg is written before the task is DONE and freed only when the
         * record is recycled, which our reference prevents. */
        if (atomic_load(&t->state) == FLO__TASK_DONE && t->msg) {
            snprintf(buf, len, "%s", t->msg);
            found = true;
        }
        flo__task_unref(rt, flo__tcache_get(rt), t);
        return found ? FLO_OK : FLO_ERANGE;
    }
    failure_lookup(rt, ev, buf, len, &found, false);
    return found ? FLO_OK : FLO_ERANGE;
}

/* ---- Task context --------------------------------------------------------- */

void *flo_task_buffer(flo_task_ctx *ctx, int i)
{
    if (!ctx || i < 0 || i >= ctx->t->naccess)
        return NULL;
    return ctx->t->acc[i].ptr;
}

size_t flo_task_buffer_size(flo_task_ctx *ctx, int i)
{
    if (!ctx || i < 0 || i >= ctx->t->naccess)
        return 0;
    return ctx->t->acc[i].d->bytes;
}

size_t flo_task_buffer_count(flo_task_ctx *ctx, int i, size_t elem_size)
{
    size_t bytes;

    if (!ctx || i < 0 || i >= ctx->t->naccess || elem_size == 0)
        return 0;
    bytes = ctx->t->acc[i].d->bytes;
    return bytes % elem_size == 0 ? bytes / elem_size : 0;
}

void *flo_task_buffer_as(flo_task_ctx *ctx, int i, size_t elem_size,
                         size_t align)
{
    void *p;

    if (!ctx || i < 0 || i >= ctx->t->naccess || elem_size == 0 ||
        align == 0 || (align & (align - 1)) != 0 ||
        ctx->t->acc[i].d->bytes % elem_size != 0)
        return NULL;
    p = ctx->t->acc[i].ptr;
    return (uintptr_t)p % align == 0 ? p : NULL;
}

const void *flo_task_args(flo_task_ctx *ctx, size_t *size)
{
    if (!ctx)
        return NULL;
    if (size)
        *size = ctx->t->args_size;
    return ctx->t->args_size ? ctx->t->args : NULL;
}

const void *flo_task_args_as(flo_task_ctx *ctx, size_t size)
{
    if (!ctx || size == 0 || ctx->t->args_size != size)
        return NULL;
    return ctx->t->args;
}

int flo_task_worker(flo_task_ctx *ctx)
{
    return ctx ? ctx->w->id : -1;
}

int flo_task_device(flo_task_ctx *ctx)
{
    return ctx ? ctx->w->device : -1;
}

flo_runtime *flo_task_runtime(flo_task_ctx *ctx)
{
    return ctx ? ctx->rt : NULL;
}

void *flo_task_stream(flo_task_ctx *ctx)
{
    return ctx ? ctx->stream : NULL;
}

/* Declared in flotilla/cuda.h, which needs the CUDA headers: declared
 * again here, exported like the rest of the public API. */
FLO_BEGIN_DECLS
int flo_task_cuda_ordinal(flo_task_ctx *ctx);
FLO_END_DECLS

int flo_task_cuda_ordinal(flo_task_ctx *ctx)
{
    if (!ctx || ctx->w->kind != FLO_DEVICE_CUDA)
        return -1;
    return ctx->w->dev->info.ordinal;
}

void flo__task_vset_error(flo__task *t, flo_status st, const char *fmt,
                          va_list ap)
{
    char buf[512];

    /* Only a failure has a message (flo_error_message reports it). */
    if (st >= 0)
        return;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (t->msg) {
        /* The first reason wins; later ones only reach the debug log. */
        FLO__DEBUG("task '%s': %s (%s; its first failure is kept)",
                   t->name ? t->name : "?", buf, flo_status_str(st));
        return;
    }
    t->msg = strdup(buf);
}

void flo__task_set_error(flo__task *t, flo_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flo__task_vset_error(t, st, fmt, ap);
    va_end(ap);
}

void flo_task_fail(flo_task_ctx *ctx, flo_status code, const char *fmt, ...)
{
    va_list ap;

    if (!ctx || ctx->failed != FLO_OK)
        return;
    ctx->failed = code < 0 ? code : FLO_ETASK;
    va_start(ap, fmt);
    flo__task_vset_error(ctx->t, ctx->failed, fmt ? fmt : "task failed", ap);
    va_end(ap);
}

flo_status flo__task_invoke(flo__worker *w, flo__task *t, flo_task_fn fn,
                            void *stream)
{
    flo_task_ctx ctx = {w->rt, w, t, stream, FLO_OK};

    atomic_store_explicit(&w->in_task, 1, memory_order_relaxed);
    fn(&ctx);
    atomic_store_explicit(&w->in_task, 0, memory_order_relaxed);
    if (ctx.failed != FLO_OK && !t->msg)
        flo__task_set_error(t, ctx.failed, "task '%s' failed", t->name);
    return ctx.failed;
}

/*
 * Run fn as one of the tasks recorded in a graph, inside the graph's
 * launch task (parent): its buffers are the parent's buffers uidx[0..n),
 * its arguments args. The context is a scratch record on this stack,
 * valid only during the call. A failure of fn fails the parent with fn's
 * message.
 */
flo_status flo__task_invoke_inner(flo_task_ctx *parent, flo_task_fn fn,
                                  int n, const int *uidx, const void *args,
                                  size_t args_size, const char *name,
                                  void *stream)
{
    flo__acc inl[16];
    flo__acc *acc = n <= 16 ? inl : malloc((size_t)n * sizeof(*acc));
    flo__task t;

    if (!acc)
        return FLO_ENOMEM;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < n; i++) {
        acc[i] = parent->t->acc[uidx[i]];
        acc[i].first = false;
    }
    t.acc = acc;
    t.naccess = n;
    t.args = (void *)args;
    t.args_size = args_size;
    t.name = name;
    t.priority = parent->t->priority;
    t.device = parent->t->device;
    t.worker = parent->t->worker;
    flo_task_ctx ctx = {parent->rt, parent->w, &t, stream, FLO_OK};
    fn(&ctx);
    if (ctx.failed != FLO_OK)
        flo_task_fail(parent, ctx.failed, "%s",
                      t.msg ? t.msg : "a task of the graph failed");
    free(t.msg);
    if (acc != inl)
        free(acc);
    return ctx.failed;
}

/* ---- Accessors for backends ------------------------------------------- */

int flo__task_naccess(const flo__task *t) { return t->naccess; }
flo__data *flo__task_access_data(const flo__task *t, int i)
{
    return t->acc[i].d;
}
flo_access flo__task_access_mode(const flo__task *t, int i)
{
    /* The merged mode, so a handle named twice is prepared once with the
     * union of its modes; later entries just share the pointer. */
    return t->acc[t->acc[i].lead].merged;
}
int flo__task_access_lead(const flo__task *t, int i)
{
    return t->acc[i].lead;
}
void flo__task_set_buffer(flo__task *t, int i, void *ptr)
{
    t->acc[i].ptr = ptr;
}
const char *flo__task_name(const flo__task *t) { return t->name; }
flo_task_fn flo__task_host_fn(const flo__task *t) { return t->host_fn; }
flo_task_fn flo__task_cuda_fn(const flo__task *t) { return t->cuda_fn; }
void **flo__task_dev_slot(flo__task *t) { return &t->dev_slot; }
void flo__task_set_times(flo__task *t, uint64_t t0, uint64_t t1)
{
    t->t_start = t0;
    t->t_end = t1;
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
    for (size_t i = 0; i < rt->fails_cap; i++)
        free(rt->fails[i].msg);
    free(rt->fails);
    rt->fails = NULL;
    rt->fails_cap = rt->nfails = 0;
    free(rt->first_error_msg);
    free(rt->last_reported_msg);
    /* Forget a cached pointer to this runtime's caches on this thread. */
    if (tls_cache_rt == rt)
        tls_cache_rt = NULL;
}
