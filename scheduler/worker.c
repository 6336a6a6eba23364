/*
 * Flotilla - worker threads: the loop every worker runs, sleeping and
 * waking.
 *
 * Sleeping protocol (flo__sched_park). A worker that finds no task spins
 * briefly (waking a sleeping thread costs tens of microseconds on a VM),
 * then announces itself (parker.sleeping = 1, rt->nsleeping++), looks for
 * work once more and parks. A thread that makes a task ready publishes it
 * first and then reads rt->nsleeping (flo__sched_wake_for); both sides
 * use sequentially consistent operations, so either the worker sees the
 * task or the publisher sees the sleeper. A GPU worker with work in
 * flight parks through the same function, with a bound (its backend's
 * wait_progress).
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched.h"

#define SPIN_ITERS 4000       /* ~20-40 us of pause instructions. */
#define GPU_WAIT_NS 200000ull /* Bound on one wait_progress call. */

flo_status flo__worker_create(flo_runtime *rt, flo__device *dev, int core,
                              flo__worker **out)
{
    flo__worker *w;

    if (rt->nworkers >= FLO__MAX_WORKERS)
        return FLO_ERANGE;
    w = flo__calloc_aligned(1, sizeof(*w), _Alignof(flo__worker));
    if (!w)
        return FLO_ENOMEM;
    if (flo__parker_init(&w->parker)) {
        free(w);
        return FLO_ESYS;
    }
    w->id = rt->nworkers;
    w->device = dev->index;
    w->kind = dev->kind;
    w->core = core;
    w->rt = rt;
    w->dev = dev;
    w->cache.rt = rt;
    atomic_init(&w->in_task, 0);
    atomic_init(&w->ready_at, 0);
    if (dev->nworkers == 0)
        dev->first_worker = w->id;
    dev->nworkers++;
    dev->info.workers = dev->nworkers;
    rt->workers[rt->nworkers++] = w;
    if (w->kind == FLO_DEVICE_HOST)
        rt->nhost_workers++;
    else
        rt->ngpu_workers++;
    *out = w;
    return FLO_OK;
}

/* ---- What a backend may ask of its worker (device/device.h) ------------ */

flo__device *flo__worker_device(const flo__worker *w)
{
    return w->dev;
}

flo__trace_buf *flo__worker_trace(flo__worker *w)
{
    return &w->trace;
}

void flo__worker_add_busy(flo__worker *w, uint64_t ns)
{
    FLO__STAT_ADD(w->st.busy_ns, ns);
}

flo__device *flo__self_device(const flo_runtime *rt)
{
    flo__worker *w = flo__self_worker(rt);
    return w ? w->dev : NULL;
}

/* ---- Waking ------------------------------------------------------------- */

bool flo__sched_wake(flo__worker *w)
{
    return flo__parker_wake(&w->parker);
}

void flo__sched_wake_for(flo_runtime *rt, unsigned elig)
{
    /* Pairs with the sleeper's fence in flo__sched_park: the task was
     * published before this load. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&rt->nsleeping, memory_order_relaxed) == 0)
        return;
    for (int i = 0; i < rt->nworkers; i++) {
        flo__worker *w = rt->workers[i];
        unsigned kind =
            w->kind == FLO_DEVICE_HOST ? FLO__ELIG_HOST : FLO__ELIG_CUDA;
        if (!(elig & kind))
            continue;
        /* The worker of a lost device takes no work: waking it would
         * leave the task to a sleeper nobody wakes. */
        if (FLO__UNLIKELY(atomic_load_explicit(&w->dead, memory_order_relaxed)))
            continue;
        if (atomic_load_explicit(&w->parker.sleeping, memory_order_relaxed) &&
            flo__parker_wake(&w->parker))
            return;
    }
}

static void run_task(flo__worker *w, flo__task *t)
{
    flo_runtime *rt = w->rt;
    flo_status st;
    uint64_t t0, t1;
    bool timed;

    st = (flo_status)atomic_load_explicit(&t->cancel, memory_order_acquire);
    if (st == FLO_OK && atomic_load_explicit(&t->nearly, memory_order_relaxed))
        st = flo__task_early_check(t);
    if (st != FLO_OK) {
        flo__task_complete(w, t, st);
        return;
    }
    /* Injected faults, a lost device (scheduler/resilience.c). */
    if (FLO__UNLIKELY(
            t->fault.kind ||
            atomic_load_explicit(&w->dead, memory_order_relaxed) ||
            atomic_load_explicit(&rt->faults, memory_order_relaxed)) &&
        flo__resil_before_run(w, t))
        return;
    atomic_store_explicit(&t->state, FLO__TASK_RUNNING, memory_order_relaxed);
    t->ran_on = w->id;
    /* Clock reads cost tens of ns on some VMs: take them only when the
     * trace, the statistics or the placement model will use them. */
    timed = rt->plat.trace || rt->cfg.stats ||
            (t->eligible == (FLO__ELIG_HOST | FLO__ELIG_CUDA));
    t0 = timed ? flo__now_ns() : 0;
    t->t_start = t0;
    st = w->dev->ops->execute(w, t);
    FLO__STAT_ADD(w->st.tasks, 1);
    if (st == FLO_INPROGRESS)
        return; /* The backend completes it from progress(). */
    if (timed) {
        t1 = flo__now_ns();
        t->t_end = t1;
        FLO__STAT_ADD(w->st.busy_ns, t1 - t0);
        if (rt->plat.trace)
            flo__trace_record(&w->trace, w->trace_row, t->name, "task", t0, t1,
                              t->bytes);
    }
    flo__task_complete(w, t, st);
}

static int inflight(flo__worker *w)
{
    return w->dev->ops->inflight ? w->dev->ops->inflight(w) : 0;
}

static flo__task *try_pop(flo__worker *w)
{
    flo_runtime *rt = w->rt;
    if (w->dev->ops->can_accept && !w->dev->ops->can_accept(w))
        return NULL;
    return rt->sched_ops->pop(rt, w);
}

/*
 * The sleeping protocol, for the scheduler's loop and a backend's
 * wait_progress alike: announce (parker.sleeping, nsleeping), a full
 * fence, one more look for work (recheck), then park, or take the
 * announcement back if work was found or the runtime stops.
 */
bool flo__sched_park(flo__worker *w, uint64_t timeout_ns,
                     bool (*recheck)(flo__worker *w, void *arg), void *arg,
                     uint64_t *parked_ns)
{
    flo_runtime *rt = w->rt;
    uint64_t t0;
    bool found;

    atomic_store(&w->parker.sleeping, 1);
    atomic_fetch_add(&rt->nsleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    found = recheck(w, arg);
    if (found || atomic_load(&rt->stopping)) {
        /* Take the announcement back. A waker may have signaled us in
         * between for another task and stopped looking: pass its
         * wake-up on if we are about to be busy with what we found, and
         * in any case leave no signal behind, which would make the next
         * park return at once. */
        bool passed = false;
        pthread_mutex_lock(&w->parker.mu);
        if (w->parker.signaled) {
            w->parker.signaled = 0;
            passed = true;
        }
        atomic_store(&w->parker.sleeping, 0);
        pthread_mutex_unlock(&w->parker.mu);
        atomic_fetch_sub(&rt->nsleeping, 1);
        if (passed && found)
            flo__sched_wake_for(rt, FLO__ELIG_HOST | FLO__ELIG_CUDA);
        return false;
    }
    t0 = parked_ns ? flo__now_ns() : 0;
    flo__parker_park(&w->parker, timeout_ns);
    atomic_fetch_sub(&rt->nsleeping, 1);
    if (parked_ns)
        *parked_ns = flo__now_ns() - t0;
    return true;
}

/* worker_sleep's last look for work: a task goes to *arg. */
static bool recheck_pop(flo__worker *w, void *arg)
{
    flo__task **t = arg;
    /* Its device lost while it was going to sleep: flo__device_lost set
     * dead before looking for a sleeper to wake, and this load follows
     * the announcement, so one of the two sees the other. */
    if (FLO__UNLIKELY(atomic_load(&w->dead)))
        return true;
    *t = try_pop(w);
    return *t != NULL;
}

/* Park until woken. Returns a task found on the last check, if any. */
static flo__task *worker_sleep(flo__worker *w)
{
    flo__task *t = NULL;
    uint64_t ns;

    if (flo__sched_park(w, 0, recheck_pop, &t, &ns))
        FLO__STAT_ADD(w->st.idle_ns, ns);
    return t;
}

static void *worker_main(void *arg)
{
    flo__worker *w = arg;
    flo_runtime *rt = w->rt;
    const flo__device_ops *ops = w->dev->ops;
    flo_status st;

    flo__set_self_worker(w);
    if (!rt->cfg.no_bind && w->core >= 0)
        flo__topology_bind_core(&rt->topo, w->core);
    st = ops->worker_start(w);
    if (st != FLO_OK)
        FLO__ERR("worker %d (%s) failed to start: %s", w->id, ops->name,
                 flo_status_str(st));

    for (int since_progress = 0;;) {
        flo__task *t;
        int spins;

        if (FLO__UNLIKELY(
                atomic_load_explicit(&w->dead, memory_order_relaxed))) {
            /* Its device was lost: hand everything back, then keep an eye
             * on its own queues (a task pinned to it may still come). */
            flo__resil_evacuate(w);
            flo__worker_flush(w);
            if (atomic_load(&rt->stopping))
                break;
            /* Never announced as a sleeper: no waker picks it for work
             * (flo__sched_wake_for skips it, flo__parker_wake finds it
             * awake); flo__sched_stop_workers still ends the wait. */
            flo__parker_park(&w->parker, 1000000);
            continue;
        }
        /* Polling for finished device work costs a driver call: do it
         * when there is nothing to launch, or every 16 launches. */
        t = try_pop(w);
        if (t) {
            run_task(w, t);
            if (!ops->progress || ++since_progress < 16)
                continue;
        }
        since_progress = 0;
        if (ops->progress && ops->progress(w) > 0 && !t)
            continue;
        if (t)
            continue;
        flo__worker_flush(w);
        if (inflight(w) > 0) {
            if (ops->wait_progress)
                ops->wait_progress(w, GPU_WAIT_NS);
            continue;
        }
        /* Spin, then keep looking while yielding the core: on a machine
         * with more runnable threads than cores (the submitting thread
         * plus one worker per core) a pure spin would take the CPU from
         * the thread that is about to hand us work. */
        for (spins = 0; spins < SPIN_ITERS; spins++) {
            flo__cpu_relax();
            if ((spins & 63) == 63) {
                if ((t = try_pop(w)))
                    break;
                /* On an overloaded machine each yield may cost a whole
                 * scheduling round: notice a stop at once. */
                if (atomic_load_explicit(&rt->stopping, memory_order_relaxed))
                    break;
                if (spins >= SPIN_ITERS / 4)
                    sched_yield();
            }
        }
        if (t) {
            run_task(w, t);
            continue;
        }
        if (atomic_load(&rt->stopping) && inflight(w) == 0)
            break;
        t = worker_sleep(w);
        if (t)
            run_task(w, t);
    }
    flo__worker_flush(w);
    ops->worker_stop(w);
    flo__set_self_worker(NULL);
    return NULL;
}

flo_status flo__sched_start_workers(flo_runtime *rt)
{
    for (int i = 0; i < rt->nworkers; i++) {
        flo__worker *w = rt->workers[i];
        char name[96];
        if (rt->plat.trace) {
            if (w->kind == FLO_DEVICE_HOST)
                snprintf(name, sizeof(name), "worker %d (host, core %d)", w->id,
                         flo__topology_core_os_index(&rt->topo, w->core));
            else
                snprintf(name, sizeof(name), "worker %d (gpu %d, core %d)",
                         w->id, w->device,
                         flo__topology_core_os_index(&rt->topo, w->core));
            w->trace_row = flo__trace_row(rt->plat.trace, name);
            flo__trace_buf_add(rt->plat.trace, &w->trace);
        }
    }
    for (int i = 0; i < rt->nworkers; i++) {
        flo__worker *w = rt->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w)) {
            FLO__ERR("cannot start worker thread %d", i);
            return FLO_ESYS;
        }
        w->started = true;
    }
    return FLO_OK;
}

void flo__sched_stop_workers(flo_runtime *rt)
{
    atomic_store(&rt->stopping, 1);
    for (int i = 0; i < rt->nworkers; i++) {
        flo__worker *w = rt->workers[i];
        /* Wake it even if it has not announced sleep yet: the stopping
         * flag is checked again before parking. */
        pthread_mutex_lock(&w->parker.mu);
        w->parker.signaled = 1;
        pthread_cond_signal(&w->parker.cv);
        pthread_mutex_unlock(&w->parker.mu);
    }
    for (int i = 0; i < rt->nworkers; i++) {
        flo__worker *w = rt->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        w->started = false;
    }
}
