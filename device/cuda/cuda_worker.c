/*
 * Flotilla CUDA backend - the per-GPU worker: launching tasks, observing
 * their completion through events, waiting without spinning.
 *
 * Everything here runs on the device's worker thread (one per logical
 * GPU), so the in-flight FIFOs, the stream cursor and the staging buffers
 * need no lock. Tasks on one compute stream complete in launch order:
 * progress only queries the oldest event of each stream, and an event
 * completes every task launched before it on that stream.
 */
#include <stdio.h>
#include <string.h>

#include "device/cuda/cuda_backend.h"
#include "runtime/rt.h"

/* NVTX is header-only; its loader casts a data pointer to a function
 * pointer, which ISO C frowns upon. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <nvtx3/nvToolsExt.h>
#pragma GCC diagnostic pop

static inline flo__cuda_dev *wdev(flo__worker *w)
{
    return w->dev_priv;
}

static void unpin_all(flo__cuda_op *op)
{
    for (int i = 0; i < op->npin; i++) {
        flo__data *d = op->pin[i].d;
        pthread_mutex_lock(&d->coh_lock);
        d->rep[op->pin[i].node].users--;
        pthread_mutex_unlock(&d->coh_lock);
    }
    op->npin = 0;
}

static void op_events_put(flo__cuda_dev *cd, flo__cuda_op *op)
{
    flo__cuda_evpool *tp = &cd->tevents;
    if (op->t_start) {
        flo__cuda_ev_put(tp, op->t_start);
        flo__cuda_ev_put(tp, op->c_start);
        flo__cuda_ev_put(tp, op->c_end);
        flo__cuda_ev_put(tp, op->done);
    } else if (op->done) {
        flo__cuda_ev_put(&cd->events, op->done);
    }
    op->t_start = op->c_start = op->c_end = op->done = NULL;
}

/* Events of an op: all four when tracing, else a completion event only
 * if want_done. */
static flo_status op_events_get(flo__cuda_dev *cd, flo__cuda_op *op,
                                bool want_done)
{
    flo_status st;
    op->t_start = op->c_start = op->c_end = op->done = NULL;
    if (!cd->rt->trace)
        return want_done ? flo__cuda_ev_get(&cd->events, &op->done) : FLO_OK;
    flo__cuda_evpool *tp = &cd->tevents;
    if ((st = flo__cuda_ev_get(tp, &op->t_start)))
        goto fail;
    if ((st = flo__cuda_ev_get(tp, &op->c_start)))
        goto fail_t;
    if ((st = flo__cuda_ev_get(tp, &op->c_end)))
        goto fail_c;
    if ((st = flo__cuda_ev_get(tp, &op->done)))
        goto fail_ce;
    return FLO_OK;
fail_ce:
    flo__cuda_ev_put(tp, op->c_end);
fail_c:
    flo__cuda_ev_put(tp, op->c_start);
fail_t:
    flo__cuda_ev_put(tp, op->t_start);
fail:
    op->t_start = op->c_start = op->c_end = op->done = NULL;
    return st;
}

/* GPU time of ev as host CLOCK_MONOTONIC ns (tracing only). */
static uint64_t gpu_time(flo__cuda_dev *cd, cudaEvent_t ev)
{
    float ms = 0.0f;
    if (cudaEventElapsedTime(&ms, cd->t_ref, ev) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return cd->t_ref_ns + (uint64_t)((double)ms * 1e6);
}

static void op_trace(flo__cuda_dev *cd, flo__worker *w, int s, flo__cuda_op *op)
{
    flo__task *t = op->task;
    uint64_t t0 = gpu_time(cd, op->t_start), t1 = gpu_time(cd, op->done);
    if (t0 && t1 >= t0) {
        flo__task_set_times(t, t0, t1);
        flo__trace_record(&w->trace, cd->row_compute[s], flo__task_name(t),
                          "kernel", t0, t1, 0);
    }
    if (op->c_bytes) {
        uint64_t c0 = gpu_time(cd, op->c_start);
        uint64_t c1 = gpu_time(cd, op->c_end);
        if (c0 && c1 >= c0)
            flo__trace_record(&w->trace, op->c_row, flo__task_name(t), "copy",
                              c0, c1, op->c_bytes);
    }
}

/* Finish the oldest op of stream s with status st. */
static void op_complete(flo__cuda_dev *cd, flo__worker *w, int s, flo_status st)
{
    flo__cuda_fifo *f = &cd->fifo[s];
    flo__cuda_op *op = &f->ops[f->head & (f->cap - 1)];
    flo__task *t = op->task;
    if (st == FLO_OK && op->t_start)
        op_trace(cd, w, s, op);
    unpin_all(op);
    op_events_put(cd, op);
    op->task = NULL;
    f->head++;
    cd->inflight--;
    flo__task_complete(w, t, st);
}

/* Record an event after the newest op of every stream that has none, so
 * that everything in flight can be observed. Called when the worker is
 * about to wait (no ready task) and before draining. */
static void seal(flo__cuda_dev *cd)
{
    for (int s = 0; s < cd->nstreams; s++) {
        flo__cuda_fifo *f = &cd->fifo[s];
        if (f->head == f->tail)
            continue;
        flo__cuda_op *last = &f->ops[(f->tail - 1) & (f->cap - 1)];
        if (last->done)
            continue;
        cudaEvent_t ev;
        if (flo__cuda_ev_get(&cd->events, &ev) != FLO_OK)
            continue; /* Retried at the next wait. */
        cudaError_t e = cudaEventRecord(ev, cd->compute[s]);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            flo__cuda_ev_put(&cd->events, ev);
            if (flo__cuda_error_is_sticky(e))
                flo__cuda_dev_fail(cd, e, "recording an event");
            continue;
        }
        last->done = ev;
        f->since_ev = 0;
    }
}

/*
 * Complete finished ops. Ops on one stream finish in order, and not every
 * op records an event (see execute): the oldest event at or after the
 * head covers every op up to it. Ops past the newest event wait for
 * seal().
 */
static int cuda_progress(flo__worker *w)
{
    flo__cuda_dev *cd = wdev(w);
    int done = 0;
    for (int s = 0; s < cd->nstreams; s++) {
        flo__cuda_fifo *f = &cd->fifo[s];
        unsigned mask = f->cap - 1;
        while (f->head != f->tail) {
            unsigned i = f->head;
            while (i != f->tail && !f->ops[i & mask].done)
                i++;
            cudaError_t e;
            if (i == f->tail) {
                if (atomic_load(&cd->failed) != 1)
                    break;          /* Not observable until sealed. */
                e = cd->failed_err; /* A dead device. */
                i = f->tail - 1;
            } else {
                e = cudaEventQuery(f->ops[i & mask].done);
                if (e == cudaErrorNotReady)
                    break;
            }
            if (e != cudaSuccess) {
                /* An asynchronous error surfaces on the first event
                 * queried after it: it may come from any task up to this
                 * one on this GPU. */
                (void)cudaGetLastError();
                if (flo__cuda_error_is_sticky(e))
                    flo__cuda_dev_fail(cd, e, "a task");
            }
            for (unsigned last = i; f->head != last + 1;) {
                flo__cuda_op *op = &f->ops[f->head & mask];
                flo_status st = op->status;
                if (e != cudaSuccess) {
                    flo__task_set_error(
                        op->task, FLO_EDEVICE,
                        "CUDA error %s (%s) in or before "
                        "task '%s' on GPU %d (cuda %d)",
                        cudaGetErrorName(e), cudaGetErrorString(e),
                        flo__task_name(op->task), cd->node, cd->ordinal);
                    st = FLO_EDEVICE;
                }
                op_complete(cd, w, s, st);
                done++;
            }
        }
    }
    if (done)
        cd->wait_since = 0; /* A new wait stretch starts with a spin. */
    return done;
}

static int cuda_inflight(flo__worker *w)
{
    return wdev(w)->inflight;
}

static bool cuda_can_accept(flo__worker *w)
{
    flo__cuda_dev *cd = wdev(w);
    return cd->inflight < cd->max_inflight;
}

/* Complete every task in flight (blocking): frees memory they pin. */
static void drain(flo__cuda_dev *cd, flo__worker *w)
{
    seal(cd);
    for (int s = 0; s < cd->nstreams; s++) {
        cudaError_t e = cudaStreamSynchronize(cd->compute[s]);
        if (e != cudaSuccess && flo__cuda_error_is_sticky(e))
            flo__cuda_dev_fail(cd, e, "waiting for tasks");
    }
    /* Every event is now complete or reports the error, so this ends. */
    while (cd->inflight > 0)
        if (cuda_progress(w) == 0)
            flo__cpu_relax();
}

/* Make task t's buffers valid here; on failure nothing stays pinned. */
static flo_status prepare_buffers(flo__cuda_dev *cd, flo__task *t,
                                  cudaStream_t stream, flo__cuda_op *op)
{
    int n = flo__task_naccess(t);
    for (int i = 0; i < n; i++) {
        flo__data *d = flo__task_access_data(t, i);
        int first = i;
        for (int j = 0; j < i; j++)
            if (flo__task_access_data(t, j) == d) {
                first = j;
                break;
            }
        if (first != i) {
            /* The first entry already made it valid (merged mode). */
            flo__task_set_buffer(t, i, d->rep[cd->node].ptr);
            continue;
        }
        unsigned mode = 0;
        for (int j = i; j < n; j++)
            if (flo__task_access_data(t, j) == d)
                mode |= (unsigned)flo__task_access_mode(t, j);
        pthread_mutex_lock(&d->coh_lock);
        flo_status st = flo__cuda_prepare(cd, d, (flo_access)mode, stream, op);
        void *ptr = d->rep[cd->node].ptr;
        pthread_mutex_unlock(&d->coh_lock);
        if (st) {
            unpin_all(op);
            return st;
        }
        flo__task_set_buffer(t, i, ptr);
    }
    /* All buffers are in place: writers now own their data here. */
    for (int i = 0; i < n; i++) {
        flo__data *d = flo__task_access_data(t, i);
        if (!(flo__task_access_mode(t, i) & FLO_WRITE))
            continue;
        pthread_mutex_lock(&d->coh_lock);
        if (d->rep[cd->node].state != FLO__REP_OWNER)
            flo__coh_mark_written(d, cd->node);
        d->ever_written = true;
        pthread_mutex_unlock(&d->coh_lock);
    }
    return FLO_OK;
}

static flo_status cuda_execute(flo__worker *w, flo__task *t)
{
    flo__cuda_dev *cd = wdev(w);
    const char *name = flo__task_name(t);
    flo_task_fn fn = flo__task_cuda_fn(t);

    if (atomic_load_explicit(&cd->failed, memory_order_acquire)) {
        while (atomic_load(&cd->failed) == 2) /* Message being written. */
            flo__cpu_relax();
        flo__task_set_error(t, FLO_EDEVICE, "%s; task '%s' not run",
                            cd->failed_msg, name);
        return FLO_EDEVICE;
    }
    if (!fn) {
        flo__task_set_error(t, FLO_EINVAL, "task '%s' has no CUDA entry point",
                            name);
        return FLO_EINVAL;
    }

    int s = (int)(cd->next_stream++ % (unsigned)cd->nstreams);
    cudaStream_t stream = cd->compute[s];
    flo__cuda_fifo *f = &cd->fifo[s];
    flo__cuda_op *op = &f->ops[f->tail & (f->cap - 1)];
    op->task = t;
    op->npin = 0;
    op->status = FLO_OK;
    op->c_bytes = 0;
    /* Not every task records an event: an event recorded after task N
     * also tells that the tasks before it on the stream are done. One in
     * event_every, plus the newest when the worker waits (seal), keeps
     * completions observable at a fraction of the cost. */
    bool want = ++f->since_ev >= cd->event_every;
    if (want)
        f->since_ev = 0;
    flo_status st = op_events_get(cd, op, want);
    if (st) {
        flo__task_set_error(t, st, "task '%s': no CUDA event", name);
        return st;
    }

    st = prepare_buffers(cd, t, stream, op);
    if (st == FLO_ENOMEM && cd->inflight > 0) {
        /* Tasks in flight may hold the memory this one needs: finish
         * them, then try again with only this task's buffers pinned. */
        drain(cd, w);
        op->c_bytes = 0;
        st = prepare_buffers(cd, t, stream, op);
    }
    if (st) {
        op_events_put(cd, op);
        size_t total = 0;
        for (int i = 0; i < flo__task_naccess(t); i++)
            total += flo__task_access_data(t, i)->bytes;
        flo__task_set_error(t, st,
                            "task '%s': cannot make its buffers (%zu bytes) "
                            "valid on GPU %d (cuda %d): %s",
                            name, total, cd->node, cd->ordinal,
                            flo_status_str(st));
        return st;
    }

    if (op->t_start)
        cudaEventRecord(op->t_start, stream);
    /* Errors of the runtime's own calls were handled where they
     * happened; what cudaGetLastError reports below is the task's. */
    (void)cudaGetLastError();
    nvtxRangePushA(name ? name : "task");
    st = flo__task_invoke(w, t, fn, stream);
    nvtxRangePop();

    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) {
        if (flo__cuda_error_is_sticky(e))
            flo__cuda_dev_fail(cd, e, "a launch");
        flo__task_set_error(t, FLO_EDEVICE,
                            "CUDA launch error %s (%s) in task '%s' on "
                            "GPU %d (cuda %d)",
                            cudaGetErrorName(e), cudaGetErrorString(e), name,
                            cd->node, cd->ordinal);
        op->status = FLO_EDEVICE;
    } else if (st != FLO_OK) {
        op->status = st; /* The entry point called flo_task_fail. */
    }

    /* Even a failed task completes through an event: the copies and
     * whatever it enqueued must finish before its buffers are released. */
    e = op->done ? cudaEventRecord(op->done, stream) : cudaSuccess;
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (flo__cuda_error_is_sticky(e))
            flo__cuda_dev_fail(cd, e, "recording a task's event");
        cudaStreamSynchronize(stream);
        unpin_all(op);
        op_events_put(cd, op);
        op->task = NULL;
        flo__task_set_error(
            t, FLO_EDEVICE, "CUDA error %s (%s) after task '%s' on GPU %d",
            cudaGetErrorName(e), cudaGetErrorString(e), name, cd->node);
        return FLO_EDEVICE;
    }
    f->tail++;
    cd->inflight++;
    cd->wait_since = 0;
    return FLO_INPROGRESS;
}

/* Host function queued at the tail of a stream before the worker parks:
 * runs on a CUDA thread once everything before it has finished. */
static void CUDART_CB wake_cb(void *arg)
{
    flo__cuda_fifo *f = arg;
    atomic_store(&f->armed, 0);
    flo__parker_wake(&f->w->parker);
}

/*
 * The worker loop calls this when it has tasks in flight and none ready.
 * For the first spin_ns of such a stretch it only polls briefly and
 * returns, so that the loop also picks up newly ready tasks; then it
 * sleeps: a host function at the tail of each busy stream wakes it when
 * that stream drains, a bounded timeout catches earlier completions on
 * long queues, and a new ready task wakes it through the scheduler (it is
 * counted in rt->nsleeping like a parked worker).
 */
static void cuda_wait_progress(flo__worker *w, uint64_t timeout_ns)
{
    flo__cuda_dev *cd = wdev(w);
    flo_runtime *rt = cd->rt;
    seal(cd);
    uint64_t now = flo__now_ns();
    if (cd->wait_since == 0)
        cd->wait_since = now;
    if (now - cd->wait_since < cd->spin_ns) {
        for (int i = 0; i < 64; i++)
            flo__cpu_relax();
        cuda_progress(w);
        return;
    }
    for (int s = 0; s < cd->nstreams; s++) {
        flo__cuda_fifo *f = &cd->fifo[s];
        if (f->head == f->tail || atomic_load(&f->armed))
            continue;
        atomic_store(&f->armed, 1);
        if (cudaLaunchHostFunc(cd->compute[s], wake_cb, f) != cudaSuccess) {
            (void)cudaGetLastError();
            atomic_store(&f->armed, 0);
        }
    }
    /* Announce, then re-check (pairs with the fence in flo__wake_for). */
    atomic_store(&w->parker.sleeping, 1);
    atomic_fetch_add(&rt->nsleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (cuda_progress(w) > 0 || atomic_load(&rt->stopping)) {
        atomic_store(&w->parker.sleeping, 0);
        atomic_fetch_sub(&rt->nsleeping, 1);
        return;
    }
    uint64_t cap = 200000; /* 200 us */
    flo__parker_park(&w->parker,
                     timeout_ns && timeout_ns < cap ? timeout_ns : cap);
    atomic_fetch_sub(&rt->nsleeping, 1);
    cuda_progress(w);
}

static flo_status cuda_worker_start(flo__worker *w)
{
    flo__cuda_dev *cd = wdev(w);
    flo_status st = FLO__CUDA(cudaSetDevice(cd->ordinal));
    if (st) {
        /* Nothing can run here: fail tasks instead of misplacing them. */
        flo__cuda_dev_fail(cd, cudaErrorInvalidDevice, "worker start");
        return st;
    }
    for (int s = 0; s < cd->nstreams; s++)
        cd->fifo[s].w = w;
    if (cd->rt->trace) {
        /* The origin of GPU timestamps: an event and the host clock read
         * right after it completed. */
        st = FLO__CUDA(cudaEventRecord(cd->t_ref, cd->compute[0]));
        if (st == FLO_OK)
            st = FLO__CUDA(cudaEventSynchronize(cd->t_ref));
        cd->t_ref_ns = flo__now_ns();
    }
    return st;
}

static void cuda_worker_stop(flo__worker *w)
{
    flo__cuda_dev *cd = wdev(w);
    /* The core stops workers once every task finished; if some are still
     * in flight (an abort), finish them so that nothing is leaked. */
    drain(cd, w);
    cudaStreamSynchronize(cd->h2d);
    cudaStreamSynchronize(cd->p2p);
}

const flo__device_ops flo__cuda_ops = {
    .name = "cuda",
    .worker_start = cuda_worker_start,
    .worker_stop = cuda_worker_stop,
    .execute = cuda_execute,
    .progress = cuda_progress,
    .inflight = cuda_inflight,
    .can_accept = cuda_can_accept,
    .wait_progress = cuda_wait_progress,
    .copy_to_host = flo__cuda_copy_to_host,
    .replica_free = flo__cuda_replica_free,
    .fini = flo__cuda_fini,
};
