/*
 * Flotilla - resilience: fault injection at run time, retries after
 * FLO_EAGAIN, and the loss of a device (docs/resilience.md).
 *
 * Retries. A task with a retry budget whose attempt fails with
 * FLO_EAGAIN does not complete: it goes back to the policy, as a ready
 * task, to run again on whichever worker takes it. Its buffers written
 * in read-write mode were saved before the attempt and written back
 * after it (flo__task_invoke), so the next attempt reads what the first
 * one read. Nothing downstream noticed: the task completes once.
 *
 * Losing a device. flo__device_lost marks the device and its worker
 * dead and wakes that worker, which from then on runs nothing: every
 * task it would run, every task in flight on it (its backend's abandon)
 * and every task queued for it alone is handed back (w->evac) and, at
 * the top of its loop, evacuated (flo__resil_evacuate):
 *   1. Data first. The replicas on the lost node are invalidated. A
 *      handle whose writers were in flight there is rolled back to the
 *      version before the first of them (they run again). Where no
 *      surviving replica holds the version needed, the host memory may:
 *      it keeps the version it held when it was last invalidated
 *      (flo__data.host_ver), so a handle the GPU only read-modified
 *      since the host had it is recovered from there. Otherwise the
 *      handle is recomputed from its lineage where it can be
 *      (scheduler/lineage.c, flo_config.lineage), else it is lost: tasks
 *      that read it fail with FLO_EDATALOSS. Write-through
 *      (flo_config.write_through) keeps the host copy current, so
 *      nothing is lost.
 *   2. Then each handed-back task is made a ready-to-place task again:
 *      its stream-ordered predecessors (flo__task_launched) become
 *      ordinary dependencies (flo__add_edge: a predecessor that is
 *      running again elsewhere is waited for, one that finished is not),
 *      placement on the lost device is dropped, and it goes back to the
 *      policy, which never gives a task to a dead worker
 *      (flo__worker_can_run).
 * A task whose kernel no surviving worker can run finishes with
 * FLO_ENODEV. The worker of a lost device keeps looking at its own
 * queues (a task pinned to it may still arrive) until finalize.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/tasks.h"

/* Times a task runs again after the device it ran on was lost. */
#define FLO__REEXEC_MAX 1

static flo_runtime *dev_runtime(flo__device *dev)
{
    return (flo_runtime *)((char *)dev->plat - offsetof(flo_runtime, plat));
}

void flo__task_complete_kept(flo__worker *w, flo__task *t, flo_status st)
{
    atomic_fetch_or(&t->flags, FLO__TF_KEEP);
    flo__task_complete(w, t, st);
}

void flo__task_mark_unsure(flo__task *t)
{
    atomic_fetch_or(&t->flags, FLO__TF_UNSURE);
}

/* ---- Fault injection ----------------------------------------------------- */

void flo__resil_submit(flo_runtime *rt, flo__task *t)
{
    flo__faults *f = atomic_load_explicit(&rt->faults, memory_order_acquire);
    t->fault = flo__faults_task(f, t->name);
}

flo_status flo_fault_inject(flo_runtime *rt, const char *spec)
{
    flo__faults *f;
    flo_status st;

    if (!rt || !spec)
        return FLO_EINVAL;
    st = flo__faults_parse(spec, &f);
    if (st != FLO_OK || !f)
        return st;
    pthread_mutex_lock(&rt->mu);
    flo__faults_chain(f, atomic_load(&rt->faults));
    atomic_store_explicit(&rt->faults, f, memory_order_release);
    pthread_mutex_unlock(&rt->mu);
    return FLO_OK;
}

flo_status flo_fault_clear(flo_runtime *rt)
{
    flo__faults *f, *last;

    if (!rt)
        return FLO_EINVAL;
    pthread_mutex_lock(&rt->mu);
    f = atomic_exchange(&rt->faults, NULL);
    if (f) {
        /* Readers may still walk it: kept until finalize. */
        for (last = f; flo__faults_next(last); last = flo__faults_next(last))
            ;
        flo__faults_chain(last, rt->faults_old);
        rt->faults_old = f;
    }
    pthread_mutex_unlock(&rt->mu);
    return FLO_OK;
}

void flo__resil_fini(flo_runtime *rt)
{
    flo__faults_free(atomic_exchange(&rt->faults, NULL));
    flo__faults_free(rt->faults_old);
    rt->faults_old = NULL;
}

/* ---- Losing a device --------------------------------------------- */

void flo__device_lost(flo__device *dev, const char *why)
{
    flo_runtime *rt = dev_runtime(dev);
    int zero = 0;

    if (dev->kind == FLO_DEVICE_HOST ||
        !atomic_compare_exchange_strong(&dev->lost, &zero, 1))
        return;
    dev->info.failed = 1;
    pthread_mutex_lock(&rt->mu);
    snprintf(rt->loss_msg, sizeof(rt->loss_msg), "device %d lost: %s",
             dev->index, why);
    pthread_mutex_unlock(&rt->mu);
    atomic_store(&rt->t_lost, flo__now_ns());
    atomic_fetch_add(&rt->ndead, 1);
    FLO__ERR("device %d (%s) lost: %s; its tasks move to the other devices",
             dev->index, dev->info.name, why);
    for (int i = 0; i < dev->nworkers; i++) {
        flo__worker *w = rt->workers[dev->first_worker + i];
        /* Its first evacuation counts as outstanding work until it is
         * done: a wait that returns has seen the data handed back (and a
         * lineage replay counted). */
        atomic_fetch_add(&rt->outstanding, 1);
        atomic_store(&w->dead, 1);
        flo__sched_wake(w);
    }
}

flo_status flo_device_disable(flo_runtime *rt, int device)
{
    if (!rt)
        return FLO_EINVAL;
    if (device < 1 || device >= rt->plat.ndevices ||
        rt->plat.devices[device]->kind == FLO_DEVICE_HOST)
        return FLO_ENODEV;
    flo__device_lost(rt->plat.devices[device], "disabled by the program");
    return FLO_OK;
}

/* The workers t's entry points can run on, wherever it was placed. */
static unsigned entry_points(const flo__task *t)
{
    return (t->host_fn ? FLO__ELIG_HOST : 0u) |
           (t->cuda_fn ? FLO__ELIG_CUDA : 0u);
}

/* Hand t back to its worker's evacuation (w's thread). */
static void hand_back(flo__worker *w, flo__task *t)
{
    atomic_fetch_or(&t->flags, FLO__TF_EVAC);
    t->evac_next = w->evac;
    w->evac = t;
}

void flo__resil_replace(flo_runtime *rt, flo__task *t)
{
    flo__task *const *ep;
    int n = flo__task_early(t, &ep);
    bool ok = false;

    /* Bound to a dead worker's stream order behind a task still in
     * flight there: that worker's evacuation places it. */
    for (int i = 0; i < n; i++)
        if (atomic_load(&ep[i]->state) != FLO__TASK_DONE)
            return;
    if (t->worker >= 0 && atomic_load(&rt->workers[t->worker]->dead)) {
        t->worker = -1;
        t->eligible = entry_points(t);
    }
    if (t->device >= 0 && atomic_load(&rt->plat.devices[t->device]->lost)) {
        /* Placed on the lost device: now wherever its entry points can
         * run. */
        t->device = -1;
        t->eligible = entry_points(t);
        atomic_fetch_add(&rt->n_replaced, 1);
    }
    /* The host never fails: a task free to run there always can. */
    ok = t->worker < 0 && t->device < 0 && (t->eligible & FLO__ELIG_HOST) &&
         rt->nhost_workers > 0;
    for (int i = 0; i < rt->nworkers && !ok; i++)
        ok = flo__worker_can_run(rt->workers[i], t);
    if (ok)
        return;
    /* Nobody left to run it: it finishes with FLO_ENODEV on a host
     * worker, without running. */
    if (!t->msg) {
        char why[256];
        pthread_mutex_lock(&rt->mu);
        memcpy(why, rt->loss_msg, sizeof(why));
        pthread_mutex_unlock(&rt->mu);
        flo__task_set_error(t, FLO_ENODEV,
                            "task '%s': no surviving device can run it (%s)",
                            t->name, why);
    }
    flo__set_cancel_status(t, FLO_ENODEV);
    t->device = -1;
    t->worker = rt->plat.devices[0]->first_worker;
    t->eligible |= FLO__ELIG_HOST;
}

/* The version a handle goes back to: before the first write of a task
 * that runs again (a GPU launch recorded it in acc->ver). */
static bool note_rollback(flo__task *t, int node)
{
    bool unsure = atomic_load(&t->flags) & FLO__TF_UNSURE, any = false;
    for (int i = 0; i < t->naccess; i++) {
        flo__acc *a = &t->acc[i];
        flo__data *d = &a->d->data;
        if (!a->first || !a->ver)
            continue;
        pthread_mutex_lock(&d->coh_lock);
        if (d->roll_node != node + 1) {
            d->roll = a->ver - 1;
            d->roll_unsure = false;
        } else if (a->ver - 1 < d->roll) {
            d->roll = a->ver - 1;
        }
        d->roll_unsure |= unsure;
        d->roll_node = (int16_t)(node + 1);
        pthread_mutex_unlock(&d->coh_lock);
        a->ver = 0;
        any = true;
    }
    return any;
}

typedef struct fix_arg {
    flo_runtime *rt;
    int node;
    flo__replay *plan; /* Lineage replay (NULL: off). */
} fix_arg;

/* Step 1 of an evacuation, for one handle (see the file comment). */
static void fix_data(flo__dslot *ds, void *arg)
{
    fix_arg *fa = arg;
    flo__data *d = &ds->data;
    int node = fa->node;
    bool roll, others = false;
    uint64_t target;

    pthread_mutex_lock(&d->coh_lock);
    roll = d->roll_node == node + 1;
    if (!roll &&
        atomic_load_explicit(&d->rep[node].state, memory_order_relaxed) ==
            FLO__REP_INVALID) {
        pthread_mutex_unlock(&d->coh_lock);
        return;
    }
    target = roll ? d->roll : d->ver;
    bool unsure = roll && d->roll_unsure;
    d->roll_node = 0;
    d->roll_unsure = false;
    atomic_store(&d->rep[node].state, FLO__REP_INVALID);
    if (target == d->ver) {
        for (int i = 0; i < fa->rt->plat.ndevices && !others; i++)
            others = i != node &&
                     !atomic_load(&fa->rt->plat.devices[i]->lost) &&
                     atomic_load(&d->rep[i].state) != FLO__REP_INVALID;
    }
    if (others) {
        pthread_mutex_unlock(&d->coh_lock);
        return;
    }
    /* No surviving replica holds the version: every other one is stale. */
    for (int i = 1; i < fa->rt->plat.ndevices; i++)
        atomic_store(&d->rep[i].state, FLO__REP_INVALID);
    d->ver = target;
    if (!d->ever_written || (target == 0 && !d->user_ptr && !d->rep[0].ptr)) {
        /* Never written anywhere that survives: zeros (or the user's
         * memory, still valid in place). */
        d->ever_written = d->user_ptr != NULL;
        if (d->user_ptr)
            atomic_store(&d->rep[0].state, FLO__REP_OWNER);
    } else if (d->host_ver == target && d->rep[0].ptr && !d->home_tok &&
               !d->host_torn && !unsure) {
        atomic_store(&d->rep[0].state, FLO__REP_OWNER);
    } else if (flo__lineage_candidate(fa->plan, d, target, unsure)) {
        /* Recomputed from its lineage if it can be (flo__lineage_end
         * decides; until then every task that needs it waits). */
        atomic_store(&d->rep[0].state, FLO__REP_INVALID);
    } else {
        d->lost = 1;
        d->lost_node = (int16_t)node;
        atomic_store(&d->rep[0].state, FLO__REP_INVALID);
        atomic_fetch_add(&fa->rt->n_data_lost, 1);
        FLO__ERR("data handle %u (%zu bytes): its only valid copy was on "
                 "lost device %d; tasks that read it fail with "
                 "FLO_EDATALOSS",
                 d->slot, d->bytes, node);
    }
    pthread_mutex_unlock(&d->coh_lock);
}

/* Step 2: make a handed-back task ready to be placed again. */
static void requeue(flo__worker *w, flo__task *t)
{
    flo_runtime *rt = w->rt;

    atomic_fetch_and(&t->flags, ~(unsigned)(FLO__TF_LAUNCHED | FLO__TF_EVAC |
                                            FLO__TF_UNSURE));
    t->dev_slot = NULL;
    atomic_store(&t->status, FLO_OK);
    if (t->ran_on >= 0 && t->reexecs >= FLO__REEXEC_MAX) {
        /* It was running on every device it was lost with: a task that
         * brings its device down (a kernel that faults) must not take
         * the others with it. It finishes with the error. */
        if (!t->msg)
            flo__task_set_error(t, FLO_EDEVICE,
                                "task '%s' was running on %d devices that "
                                "were lost",
                                t->name, t->reexecs + 1);
        flo__set_cancel_status(t, FLO_EDEVICE);
    } else {
        if (t->msg)
            FLO__INFO("task '%s' runs again: %s", t->name, t->msg);
        free(t->msg);
        t->msg = NULL;
        if (t->ran_on >= 0) {
            t->reexecs++;
            atomic_fetch_add(&rt->n_reexec, 1);
        } else {
            atomic_fetch_add(&rt->n_replaced, 1);
        }
    }
    t->ran_on = -1;
    if (t->worker == w->id)
        t->worker = -1;
    if (t->device == w->device) {
        t->device = -1;
        t->eligible = entry_points(t);
    }
    flo__task_rewait(w, t, NULL);
}

void flo__resil_evacuate(flo__worker *w)
{
    flo_runtime *rt = w->rt;
    const flo__device_ops *ops = w->dev->ops;
    flo__task *list, *t;
    bool launched = false, first = !w->evacuated;

    if (ops->abandon)
        ops->abandon(w, hand_back);
    if (rt->sched_ops->take_own)
        while ((t = rt->sched_ops->take_own(rt, w)))
            hand_back(w, t);
    list = w->evac;
    w->evac = NULL;
    for (t = list; t; t = t->evac_next)
        launched |= note_rollback(t, w->device);
    /* The first evacuation looks at every handle; later ones only when a
     * task they hand back had launched writes. */
    if (first || launched) {
        fix_arg fa = {rt, w->device, flo__lineage_begin(rt, w)};
        flo__data_foreach(rt, fix_data, &fa);
        flo__lineage_end(fa.plan);
        w->evacuated = true;
    }
    while (list) {
        t = list;
        list = t->evac_next;
        t->evac_next = NULL;
        requeue(w, t);
    }
    if (first) {
        /* A wake-up meant for work may have reached this worker before it
         * saw its device lost: pass it on to everyone, once. From now on
         * it never sleeps where a waker can pick it (worker.c). */
        for (int i = 0; i < rt->nworkers; i++)
            if (rt->workers[i] != w)
                flo__sched_wake(rt->workers[i]);
    }
    if (atomic_load(&rt->t_recovered) < atomic_load(&rt->t_lost))
        atomic_store(&rt->t_recovered, flo__now_ns());
    if (first)
        w->cache.done_local++; /* flo__device_lost's count (flushed next). */
}

/* ---- Before and after an attempt --------------------------------- */

bool flo__resil_before_run(flo__worker *w, flo__task *t)
{
    flo_runtime *rt = w->rt;
    flo__faults *f;

    if (atomic_load_explicit(&w->dead, memory_order_relaxed)) {
        hand_back(w, t);
        return true;
    }
    f = atomic_load_explicit(&rt->faults, memory_order_acquire);
    if (f && w->kind != FLO_DEVICE_HOST) {
        uint64_t ms = (flo__now_ns() - rt->t_origin) / 1000000u;
        if (flo__faults_device(f, w->device, w->nstarted++, ms)) {
            atomic_fetch_add(&rt->n_faults, 1);
            flo__device_lost(w->dev, "injected fault (device rule)");
            hand_back(w, t);
            return true;
        }
    }
    switch (t->fault.kind) {
    case FLO__FAULT_FAIL:
        t->fault.kind = FLO__FAULT_NONE;
        atomic_fetch_add(&rt->n_faults, 1);
        flo__task_set_error(t, FLO_ETASK, "task '%s': injected fault", t->name);
        flo__task_complete(w, t, FLO_ETASK);
        return true;
    case FLO__FAULT_TRANSIENT:
        if (--t->fault.times == 0)
            t->fault.kind = FLO__FAULT_NONE;
        atomic_fetch_add(&rt->n_faults, 1);
        flo__task_set_error(t, FLO_EAGAIN,
                            "task '%s': injected transient fault", t->name);
        flo__task_complete(w, t, FLO_EAGAIN);
        return true;
    case FLO__FAULT_DEVICE:
        if (w->kind == FLO_DEVICE_HOST)
            return false; /* The host does not fail: it runs. */
        t->fault.kind = FLO__FAULT_NONE;
        atomic_fetch_add(&rt->n_faults, 1);
        flo__device_lost(w->dev, "injected fault (task rule)");
        hand_back(w, t);
        return true;
    default: return false;
    }
}

bool flo__resil_again(flo__worker *w, flo__task *t, flo_status st)
{
    flo_runtime *rt;

    /* A lineage replay's join runs nothing: it completes wherever its
     * last predecessor did, the worker of a lost device included. */
    if (atomic_load_explicit(&t->flags, memory_order_relaxed) &
        (FLO__TF_ACQUIRE | FLO__TF_KEEP | FLO__TF_JOIN))
        return false;
    if (w && atomic_load_explicit(&w->dead, memory_order_relaxed)) {
        /* Whatever it did there is lost with the device. */
        hand_back(w, t);
        return true;
    }
    if (st != FLO_EAGAIN || t->retries <= 0)
        return false;
    if (!w)
        return false;
    rt = w->rt;
    t->retries--;
    atomic_fetch_add(&rt->n_retries, 1);
    FLO__DEBUG("task '%s' runs again (%d retries left): %s", t->name,
               t->retries, t->msg ? t->msg : "FLO_EAGAIN");
    free(t->msg);
    t->msg = NULL;
    t->dev_slot = NULL;
    /* The attempt's writes were undone: so is their version. */
    for (int i = 0; i < t->naccess; i++) {
        flo__acc *a = &t->acc[i];
        if (a->ver) {
            pthread_mutex_lock(&a->d->data.coh_lock);
            if (a->d->data.ver == a->ver)
                a->d->data.ver--;
            pthread_mutex_unlock(&a->d->data.coh_lock);
        }
        a->ver = 0;
    }
    {
        /* Its stream-ordered predecessors completed before it (the
         * backend settles them first): their references go. */
        flo__task *const *ep;
        int n = flo__task_early(t, &ep);
        for (int i = 0; i < n; i++)
            flo__task_unref(rt, &w->cache, ep[i]);
        atomic_store(&t->nearly, 0);
        atomic_store(&t->early_worker, -1);
    }
    atomic_fetch_and(&t->flags, ~(unsigned)FLO__TF_LAUNCHED);
    t->ran_on = -1;
    flo__task_ready(rt, w, t);
    return true;
}
