/*
 * Flotilla - worker-local storage and running a function on every
 * worker (include/flotilla/worker.h).
 *
 * Everything that must happen on a worker's own thread (a key's init and
 * fini, flo_execute_on_each_worker's function) is a task pinned to that
 * worker, submitted through submit_pinned - the one place that places a
 * task on a worker - and waited for by the calling thread, which is
 * therefore never a worker thread (FLO_EDEADLK).
 *
 * Keys live in a fixed table of FLO_WORKER_LOCAL_MAX slots per runtime.
 * A slot is FREE, BUSY (a create or destroy is running its tasks), LIVE
 * or RETIRED (a fini could not be submitted on some worker, whose value
 * then stays in place: the slot is never reused, so that no later key
 * finds that value). State changes happen under rt->wl_mu, which is
 * never held while tasks run. Values live in the workers
 * (flo__worker.wl[slot]) and are touched only by their worker's thread:
 * set by the init task, cleared by the fini task, read by
 * flo_worker_local_get. A value is non-NULL only while the key of its
 * slot that stored it is live or being destroyed.
 *
 * flo_worker_local_get reads one word, the slot's live word
 * ((generation << 2) | worker kinds, or 0), with acquire ordering: a key
 * whose generation and kind match is live for that worker, and the value
 * was written earlier by the same thread.
 */
#include <stdlib.h>
#include <string.h>

#include "scheduler/graph.h"
#include "scheduler/sched.h"

enum { FLO__WL_FREE = 0, FLO__WL_BUSY, FLO__WL_LIVE, FLO__WL_RETIRED };

/* Generations of a slot: 62 bits (the live word keeps two for kinds). */
#define WL_GEN_MASK ((UINT64_C(1) << 62) - 1)

/* What a pinned task of this file receives (its argument blob, a
 * pointer: the blob fits the task record's inline arguments). */
typedef struct wl_run {
    flo_runtime *rt;
    uint32_t slot;
    flo_worker_local_init_fn init;
    flo_worker_local_fini_fn fini;
    void *user;
    /* Per worker: init's status (written by that worker's init task), or
     * FLO_INPROGRESS while it has not run (an init's positive return is
     * stored as FLO_ETASK, so a run init never leaves that value). */
    flo_status st[];
} wl_run;

/* The kind bit (FLO_WORKERS_*) of a worker. */
static unsigned worker_kind(const flo__worker *w)
{
    return w->kind == FLO_DEVICE_HOST ? FLO_WORKERS_HOST : FLO_WORKERS_CUDA;
}

static bool on_worker_thread(flo_runtime *rt)
{
    return flo__self_worker(rt) != NULL;
}

/*
 * Submit a task of kernel k pinned to worker `worker`, with args copied.
 * The only place in this file that names a task's worker or device.
 */
static flo_status submit_pinned(flo_runtime *rt, const flo_kernel *k,
                                int worker, const void *args, size_t args_size,
                                flo_event *ev)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;

    d.kernel = k;
    d.args = args;
    d.args_size = args_size;
    d.on_worker = FLO_WORKER(worker);
    return flo_task_submit(rt, &d, ev);
}

/* ---- The tasks ----------------------------------------------------------- */

static wl_run *run_of(flo_task_ctx *ctx)
{
    wl_run *const *p = flo_task_args(ctx, NULL);
    return *p;
}

static void init_task(flo_task_ctx *ctx)
{
    wl_run *r = run_of(ctx);
    int id = flo_task_worker(ctx);
    void *v = NULL;
    flo_status st = r->init(ctx, r->user, &v);

    if (st == FLO_OK)
        r->rt->workers[id]->wl[r->slot] = v;
    else if (st > 0)
        st = FLO_ETASK;
    r->st[id] = st;
}

static void fini_task(flo_task_ctx *ctx)
{
    wl_run *r = run_of(ctx);
    flo__worker *w = r->rt->workers[flo_task_worker(ctx)];
    void *v = w->wl[r->slot];

    w->wl[r->slot] = NULL;
    if (r->fini)
        r->fini(ctx, r->user, v);
}

static const flo_kernel init_kernel = {"flo:worker_local_init", init_task,
                                       init_task};
static const flo_kernel fini_kernel = {"flo:worker_local_fini", fini_task,
                                       fini_task};

/*
 * Run kernel k once on each worker i with sel[i] set, wait for all of
 * them and return the first error in worker order: a submission error,
 * or a task's status (into tst[i] when tst is given). Workers whose task
 * could not be submitted are cleared in sel.
 */
static flo_status run_on(flo_runtime *rt, const flo_kernel *k, bool *sel,
                         const void *args, size_t args_size, flo_status *tst)
{
    flo_event *ev = calloc((size_t)rt->nworkers, sizeof(*ev));
    flo_status first = FLO_OK;

    if (!ev)
        return FLO_ENOMEM;
    for (int i = 0; i < rt->nworkers; i++) {
        flo_status st;
        if (!sel[i])
            continue;
        st = submit_pinned(rt, k, i, args, args_size, &ev[i]);
        if (st != FLO_OK) {
            sel[i] = false;
            if (tst)
                tst[i] = st;
            if (first == FLO_OK)
                first = st;
        }
    }
    for (int i = 0; i < rt->nworkers; i++) {
        flo_status st;
        if (!sel[i])
            continue;
        st = flo_event_wait(rt, ev[i]);
        if (tst)
            tst[i] = st;
        if (st != FLO_OK && first == FLO_OK)
            first = st;
    }
    free(ev);
    return first;
}

/* sel[i] = worker i is of a kind in which; returns how many are. */
static int select_workers(const flo_runtime *rt, unsigned which, bool *sel)
{
    int n = 0;

    for (int i = 0; i < rt->nworkers; i++) {
        sel[i] = (worker_kind(rt->workers[i]) & which) != 0;
        n += sel[i];
    }
    return n;
}

/* Run fini on the workers in sel (their values are cleared). Returns the
 * first error; *all is false when a fini could not be submitted on some
 * worker (its value stays: the caller retires the slot). */
static flo_status fini_on(flo_runtime *rt, wl_run *r, bool *sel, bool *all)
{
    bool *want = malloc((size_t)rt->nworkers * sizeof(*want));
    flo_status st;

    if (!want) {
        *all = false;
        return FLO_ENOMEM;
    }
    memcpy(want, sel, (size_t)rt->nworkers * sizeof(*want));
    st = run_on(rt, &fini_kernel, sel, &r, sizeof(r), NULL);
    *all = true;
    for (int i = 0; i < rt->nworkers; i++)
        if (want[i] && !sel[i])
            *all = false;
    free(want);
    return st;
}

static wl_run *run_new(flo_runtime *rt, uint32_t slot,
                       flo_worker_local_init_fn init,
                       flo_worker_local_fini_fn fini, void *user)
{
    wl_run *r = malloc(sizeof(*r) + (size_t)rt->nworkers * sizeof(r->st[0]));

    if (!r)
        return NULL;
    r->rt = rt;
    r->slot = slot;
    r->init = init;
    r->fini = fini;
    r->user = user;
    for (int i = 0; i < rt->nworkers; i++)
        r->st[i] = FLO_INPROGRESS;
    return r;
}

/* Back to FREE, or RETIRED when a value may be left on some worker. */
static void slot_release(flo_runtime *rt, uint32_t slot, bool clean)
{
    pthread_mutex_lock(&rt->wl_mu);
    rt->wl_keys[slot].state = clean ? FLO__WL_FREE : FLO__WL_RETIRED;
    pthread_mutex_unlock(&rt->wl_mu);
}

/* ---- The API ------------------------------------------------------------- */

flo_status flo_worker_local_create(flo_runtime *rt,
                                   const flo_worker_local_desc *desc,
                                   flo_worker_local *out)
{
    flo__wl_key *k;
    uint32_t slot;
    uint64_t gen;
    wl_run *r = NULL;
    bool *sel = NULL;
    flo_status *tst = NULL;
    flo_status st = FLO_OK;

    if (!rt || !desc || !out || !desc->init || desc->which == 0 ||
        (desc->which & ~FLO_WORKERS_ALL) ||
        (desc->size != 0 && desc->size != sizeof(*desc)))
        return FLO_EINVAL;
    if (on_worker_thread(rt))
        return FLO_EDEADLK;
    if (flo__graph_recording(rt))
        return FLO_EBUSY; /* Its tasks would be recorded, not run. */
    if (atomic_load(&rt->stopping))
        return FLO_ESTALE;
    sel = malloc((size_t)rt->nworkers * sizeof(*sel));
    tst = malloc((size_t)rt->nworkers * sizeof(*tst));
    if (!sel || !tst) {
        st = FLO_ENOMEM;
        goto out;
    }

    pthread_mutex_lock(&rt->wl_mu);
    for (slot = 0; slot < FLO_WORKER_LOCAL_MAX; slot++)
        if (rt->wl_keys[slot].state == FLO__WL_FREE)
            break;
    if (slot == FLO_WORKER_LOCAL_MAX) {
        pthread_mutex_unlock(&rt->wl_mu);
        st = FLO_ERANGE;
        goto out;
    }
    k = &rt->wl_keys[slot];
    r = run_new(rt, slot, desc->init, desc->fini, desc->user);
    if (!r) {
        pthread_mutex_unlock(&rt->wl_mu);
        st = FLO_ENOMEM;
        goto out;
    }
    k->state = FLO__WL_BUSY;
    k->gen = (k->gen + 1) & WL_GEN_MASK;
    if (k->gen == 0)
        k->gen = 1;
    gen = k->gen;
    k->which = desc->which;
    k->fini = desc->fini;
    k->user = desc->user;
    pthread_mutex_unlock(&rt->wl_mu);

    for (int i = 0; i < rt->nworkers; i++)
        tst[i] = FLO_OK;
    select_workers(rt, desc->which, sel);
    run_on(rt, &init_kernel, sel, &r, sizeof(r), tst);
    /* A worker failed if its init did not return FLO_OK or its task did
     * not complete (not submitted, a device error in work it enqueued).
     * The first failure in worker order is the result; an init that
     * returned FLO_OK stored a value, which its fini releases. */
    for (int i = 0; i < rt->nworkers && st == FLO_OK; i++) {
        if (r->st[i] != FLO_OK && r->st[i] != FLO_INPROGRESS)
            st = r->st[i];
        else if (tst[i] != FLO_OK)
            st = tst[i];
    }
    if (st == FLO_OK) {
        pthread_mutex_lock(&rt->wl_mu);
        k->state = FLO__WL_LIVE;
        atomic_store_explicit(&k->live, (gen << 2) | desc->which,
                              memory_order_release);
        pthread_mutex_unlock(&rt->wl_mu);
        out->id = flo__id_make(rt->serial, slot);
        out->gen = gen;
    } else {
        bool clean;
        for (int i = 0; i < rt->nworkers; i++)
            sel[i] = r->st[i] == FLO_OK;
        fini_on(rt, r, sel, &clean);
        slot_release(rt, slot, clean);
    }
out:
    free(tst);
    free(sel);
    free(r);
    return st;
}

flo_status flo_worker_local_destroy(flo_runtime *rt, flo_worker_local key)
{
    uint32_t slot;
    flo__wl_key *k;
    wl_run *r;
    bool *sel;
    bool clean;
    flo_status st;

    if (!rt || key.id == 0 || (key.id & FLO__ID_INDEX_MASK) == 0)
        return FLO_EINVAL;
    if (flo__id_serial(key.id) != rt->serial)
        return FLO_EFOREIGN;
    slot = flo__id_index(key.id);
    if (slot >= FLO_WORKER_LOCAL_MAX)
        return FLO_EINVAL;
    if (on_worker_thread(rt))
        return FLO_EDEADLK;
    if (flo__graph_recording(rt))
        return FLO_EBUSY; /* Its tasks would be recorded, not run. */
    k = &rt->wl_keys[slot];
    r = run_new(rt, slot, NULL, NULL, NULL);
    sel = malloc((size_t)rt->nworkers * sizeof(*sel));
    if (!r || !sel) {
        st = FLO_ENOMEM;
        goto out;
    }

    pthread_mutex_lock(&rt->wl_mu);
    if (k->state != FLO__WL_LIVE || k->gen != key.gen) {
        pthread_mutex_unlock(&rt->wl_mu);
        st = FLO_ESTALE;
        goto out;
    }
    r->fini = k->fini;
    r->user = k->user;
    k->state = FLO__WL_BUSY;
    atomic_store_explicit(&k->live, 0, memory_order_release);
    select_workers(rt, k->which, sel);
    pthread_mutex_unlock(&rt->wl_mu);

    st = fini_on(rt, r, sel, &clean);
    slot_release(rt, slot, clean);
out:
    free(sel);
    free(r);
    return st;
}

void *flo_worker_local_get(flo_task_ctx *ctx, flo_worker_local key)
{
    flo_runtime *rt = flo_task_runtime(ctx);
    uint32_t slot = flo__id_index(key.id);
    flo__worker *w;
    uint64_t live;

    if (!rt || flo__id_serial(key.id) != rt->serial ||
        slot >= FLO_WORKER_LOCAL_MAX)
        return NULL;
    live = atomic_load_explicit(&rt->wl_keys[slot].live, memory_order_acquire);
    w = rt->workers[flo_task_worker(ctx)];
    if ((live >> 2) != key.gen || !(live & worker_kind(w)))
        return NULL;
    return w->wl[slot];
}

void flo__worker_local_fini_all(flo_runtime *rt)
{
    bool *sel = malloc((size_t)rt->nworkers * sizeof(*sel));

    if (!sel)
        FLO__ERR("out of memory: worker-local values are not released");
    for (uint32_t slot = 0; sel && slot < FLO_WORKER_LOCAL_MAX; slot++) {
        flo__wl_key *k = &rt->wl_keys[slot];
        wl_run *r;
        bool clean;
        /* As flo_worker_local_destroy (no other call may run on rt during
         * finalize, but the lock costs nothing here). */
        pthread_mutex_lock(&rt->wl_mu);
        if (k->state != FLO__WL_LIVE ||
            !(r = run_new(rt, slot, NULL, k->fini, k->user))) {
            if (k->state == FLO__WL_LIVE)
                FLO__ERR("out of memory: worker-local values of key %u "
                         "are not released",
                         slot);
            pthread_mutex_unlock(&rt->wl_mu);
            continue;
        }
        atomic_store_explicit(&k->live, 0, memory_order_release);
        k->state = FLO__WL_BUSY;
        select_workers(rt, k->which, sel);
        pthread_mutex_unlock(&rt->wl_mu);
        fini_on(rt, r, sel, &clean);
        slot_release(rt, slot, clean);
        free(r);
    }
    free(sel);
}

flo_status flo_execute_on_each_worker(flo_runtime *rt, flo_task_fn host_fn,
                                      flo_task_fn cuda_fn, const void *arg,
                                      size_t arg_size, unsigned which)
{
    flo_kernel k = {"flo:each_worker", NULL, NULL};
    bool *sel;
    flo_status st;

    if (!rt || which == 0 || (which & ~FLO_WORKERS_ALL) ||
        ((which & FLO_WORKERS_HOST) && !host_fn) ||
        ((which & FLO_WORKERS_CUDA) && !cuda_fn) ||
        arg_size > FLO_TASK_MAX_ARGS || (arg_size > 0 && !arg))
        return FLO_EINVAL;
    if (on_worker_thread(rt))
        return FLO_EDEADLK;
    if (flo__graph_recording(rt))
        return FLO_EBUSY; /* Its tasks would be recorded, not run. */
    if (atomic_load(&rt->stopping))
        return FLO_ESTALE;
    /* Each kind's entry point only where that kind is selected. */
    if (which & FLO_WORKERS_HOST)
        k.host = host_fn;
    if (which & FLO_WORKERS_CUDA)
        k.cuda = cuda_fn;
    sel = malloc((size_t)rt->nworkers * sizeof(*sel));
    if (!sel)
        return FLO_ENOMEM;
    if (select_workers(rt, which, sel) == 0) {
        free(sel);
        return FLO_OK;
    }
    st = run_on(rt, &k, sel, arg, arg_size, NULL);
    free(sel);
    return st;
}
