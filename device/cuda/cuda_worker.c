/*
 * Flotilla CUDA backend - the per-GPU worker: launching tasks, observing
 * their completion through events, waiting without spinning.
 *
 * Everything here runs on the device's worker thread (one per logical
 * GPU), so the in-flight FIFOs, the stream cursor and the staging buffers
 * need no lock. Tasks on one compute stream complete in launch order:
 * progress only queries the oldest event of each stream, and an event
 * completes every task launched before it on that stream.
 *
 * Scheduling on the GPU. The policy's pop hands a GPU worker its most
 * urgent ready task; the worker keeps at most cd->window tasks in flight
 * (can_accept), so a task that becomes ready is launched after at most a
 * window of already-launched ones. A task more urgent than everything in
 * flight on the normal streams goes to a high-priority stream, whose
 * blocks the GPU schedules before those of the normal streams.
 *
 * Measurements without tracing: busy_ns is the host time during which
 * at least one task was in flight (launched, completion not yet
 * observed); sampled tasks (see want_timing) get timed events whose
 * difference is the GPU time of their work, given to the policy through
 * t_start/t_end.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "device/cuda/cuda_backend.h"
#include "flotilla/cuda.h"

/* NVTX is header-only; its loader casts a data pointer to a function
 * pointer, which ISO C frowns upon. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#include <nvtx3/nvToolsExt.h>
#pragma GCC diagnostic pop

static inline flo__cuda_dev *wdev(flo__worker *w)
{
    return flo__worker_device(w)->priv;
}

/* Every compute stream: the normal ones, then the high-priority ones. */
static inline int nall(const flo__cuda_dev *cd)
{
    return cd->nstreams + cd->nhi;
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

/* Invariant: an op with t_start (tracing or a sample) has its own timed
 * done event from tevents; c_start/c_end only when tracing. */
static void op_events_put(flo__cuda_dev *cd, flo__cuda_op *op)
{
    flo__cuda_evpool *tp = &cd->tevents;
    if (op->t_start) {
        flo__cuda_ev_put(tp, op->t_start);
        if (op->c_start)
            flo__cuda_ev_put(tp, op->c_start);
        if (op->c_end)
            flo__cuda_ev_put(tp, op->c_end);
        flo__cuda_ev_put(tp, op->done);
    } else if (op->done) {
        flo__cuda_ev_put(&cd->events, op->done);
    }
    op->t_start = op->c_start = op->c_end = op->done = NULL;
}

/* Events of an op: all four when tracing; a timed start and done pair
 * when sampled; else a completion event only if want_done. */
static flo_status op_events_get(flo__cuda_dev *cd, flo__cuda_op *op,
                                bool want_done, bool sampled)
{
    flo_status st;
    flo__cuda_evpool *tp = &cd->tevents;
    op->t_start = op->c_start = op->c_end = op->done = NULL;
    if (!cd->plat->trace && sampled) {
        if ((st = flo__cuda_ev_get(tp, &op->t_start)))
            goto fail;
        if ((st = flo__cuda_ev_get(tp, &op->done)))
            goto fail_t;
        return FLO_OK;
    }
    if (!cd->plat->trace)
        return want_done ? flo__cuda_ev_get(&cd->events, &op->done) : FLO_OK;
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
        flo__trace_record(flo__worker_trace(w), cd->row_compute[s],
                          flo__task_name(t), "kernel", t0, t1, 0);
    }
    if (op->c_bytes) {
        uint64_t c0 = gpu_time(cd, op->c_start);
        uint64_t c1 = gpu_time(cd, op->c_end);
        if (c0 && c1 >= c0)
            flo__trace_record(flo__worker_trace(w), op->c_row,
                              flo__task_name(t), "copy", c0, c1, op->c_bytes);
    }
}

/* A sampled op (not tracing): the GPU time between its timed events is
 * the time of the work its entry point enqueued (the start event is
 * recorded after the waits for its input copies). Given to the policy as
 * t_start/t_end, ending at the host time of observation. */
static void op_sample(flo__cuda_op *op)
{
    float ms = 0.0f;
    if (cudaEventElapsedTime(&ms, op->t_start, op->done) != cudaSuccess) {
        (void)cudaGetLastError();
        return;
    }
    uint64_t ns = ms > 0.0f ? (uint64_t)((double)ms * 1e6) : 0;
    uint64_t now = flo__now_ns();
    if (ns > 0 && ns < now)
        flo__task_set_times(op->task, now - ns, now);
}

/* The status words of a finished op: its copies into the stream's
 * pinned slots came before any later event of the stream, and an event
 * at or after the op completed, so the values are in host memory. */
static flo_status op_check_words(flo__cuda_dev *cd, flo__cuda_fifo *f,
                                 flo__cuda_op *op, unsigned idx)
{
    const volatile int *slot =
        f->sw_host + (size_t)(idx & (f->cap - 1)) * FLO__CUDA_OP_WORDS;
    flo_status st = FLO_OK;
    for (int k = 0; k < op->nsw && st == FLO_OK; k++) {
        int v = slot[k];
        if (v != 0) {
            flo__task_set_error(op->task, FLO_ETASK,
                                "task '%s' failed on GPU %d (cuda %d): "
                                "%s = %d",
                                flo__task_name(op->task), cd->node, cd->ordinal,
                                op->sw_what[k], v);
            st = FLO_ETASK;
        }
    }
    op->nsw = 0;
    return st;
}

static void wt_publish(flo__cuda_dev *cd, flo__task *t);
static void rest_poll(flo__cuda_dev *cd, bool wait);

/* Retire the oldest op of f: release what it holds and free its slot.
 * Its task is the caller's to complete or hand back. */
static void op_pop(flo__cuda_dev *cd, flo__worker *w, flo__cuda_fifo *f)
{
    flo__cuda_op *op = &f->ops[f->head & (f->cap - 1)];
    unpin_all(op);
    op_events_put(cd, op);
    op->task = NULL;
    op->nsw = 0;
    op->wt = op->rest = false;
    f->head++;
    if (--cd->inflight == 0) {
        /* The end of a busy stretch: counted before the task completes,
         * so whoever observes the completion also sees the time. */
        flo__worker_add_busy(w, flo__now_ns() - cd->busy_since);
    }
}

/* Finish the oldest op of stream s with status st. */
static void op_complete(flo__cuda_dev *cd, flo__worker *w, int s, flo_status st)
{
    flo__cuda_fifo *f = &cd->fifo[s];
    flo__cuda_op *op = &f->ops[f->head & (f->cap - 1)];
    flo__task *t = op->task;
    if (st == FLO_OK && op->nsw > 0)
        st = op_check_words(cd, f, op, f->head);
    op->nsw = 0;
    if (st == FLO_OK && op->t_start && !op->untimed) {
        if (cd->plat->trace)
            op_trace(cd, w, s, op);
        else
            op_sample(op);
    }
    bool kept = (op->wt || op->rest) && st == FLO_OK;
    if (op->wt && st == FLO_OK)
        wt_publish(cd, t);
    op_pop(cd, w, f);
    /* What it wrote reached the host (or is on its way, at rest: the
     * host memory may hold it, so it must not run again on its inputs;
     * what did not reach home is recomputed from the lineage): its
     * results stand even if this device is lost before the scheduler
     * sees it complete. */
    if (kept)
        flo__task_complete_kept(w, t, st);
    else
        flo__task_complete(w, t, st);
}

/* Record an event after the newest op of every stream that has none, so
 * that everything in flight can be observed. Called when the worker is
 * about to wait (no ready task) and before draining. */
static void seal(flo__cuda_dev *cd)
{
    for (int s = 0; s < nall(cd); s++) {
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

static void settle_early(flo__cuda_dev *cd, flo__worker *w, flo__task *t);

/* Complete the ops of stream si up to and including target, whose work
 * is known to have finished (a later op waited for it in stream order
 * and has finished). */
static void complete_through(flo__cuda_dev *cd, flo__worker *w, int si,
                             const flo__cuda_op *target)
{
    flo__cuda_fifo *f = &cd->fifo[si];
    while (f->head != f->tail) {
        flo__cuda_op *op = &f->ops[f->head & (f->cap - 1)];
        bool last = op == target;
        flo_status st = op->status;
        settle_early(cd, w, op->task);
        if (atomic_load(&cd->failed) == 1) {
            flo__task_set_error(op->task, FLO_EDEVICE,
                                "%s; task '%s' did not complete",
                                cd->failed_msg, flo__task_name(op->task));
            st = FLO_EDEVICE;
        }
        op_complete(cd, w, si, st);
        if (last)
            break;
    }
}

/* Before t completes: complete its early predecessors still in flight
 * (flo__task_launched), so that the core sees them finish first. They
 * ran on this worker and t's stream waited for them. */
static void settle_early(flo__cuda_dev *cd, flo__worker *w, flo__task *t)
{
    flo__task *const *ep;
    int n = flo__task_early(t, &ep);
    for (int i = 0; i < n; i++) {
        flo__task *p = ep[i];
        if (flo__task_is_done(p))
            continue;
        flo__cuda_op *pop = *flo__task_dev_slot(p);
        complete_through(cd, w, pop->stream, pop);
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
    for (int s = 0; s < nall(cd); s++) {
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
                settle_early(cd, w, op->task);
                op_complete(cd, w, s, st);
                done++;
            }
        }
    }
    if (cd->rest_head != cd->rest_tail)
        rest_poll(cd, false);
    if (done)
        cd->wait_since = 0; /* A new wait stretch starts with a spin. */
    return done;
}

/* Tasks in flight, and copies home of versions at rest not yet settled:
 * the worker keeps polling for those too, so that the host copies they
 * make are published (and their sources unpinned) without waiting for
 * its next task. */
static int cuda_inflight(flo__worker *w)
{
    flo__cuda_dev *cd = wdev(w);
    return cd->inflight + (int)(cd->rest_tail - cd->rest_head);
}

/* The launch window (cd->window <= max_inflight, the fifo capacity). */
static bool cuda_can_accept(flo__worker *w)
{
    flo__cuda_dev *cd = wdev(w);
    return cd->inflight < cd->window;
}

/* Complete every task in flight (blocking): frees memory they pin. */
static void drain(flo__cuda_dev *cd, flo__worker *w)
{
    seal(cd);
    for (int s = 0; s < nall(cd); s++) {
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
        if (flo__task_access_lead(t, i) != i) {
            /* The first entry already made it valid (merged mode). */
            flo__task_set_buffer(t, i, d->rep[cd->node].ptr);
            continue;
        }
        /* The first entry's mode is the union of all entries for d. */
        flo_access mode = flo__task_access_mode(t, i);
        pthread_mutex_lock(&d->coh_lock);
        if (flo__replay_waits(t, d, mode)) {
            /* Being recomputed (scheduler/lineage.c): t waits. */
            pthread_mutex_unlock(&d->coh_lock);
            unpin_all(op);
            return FLO__EHOLD;
        }
        if (FLO__UNLIKELY(d->lost) && (mode & FLO_READ)) {
            int lost = d->lost_node;
            pthread_mutex_unlock(&d->coh_lock);
            unpin_all(op);
            flo__task_set_error(t, FLO_EDATALOSS,
                                "task '%s': buffer %d (data handle %u, %zu "
                                "bytes) was lost with device %d",
                                flo__task_name(t), i, d->slot, d->bytes, lost);
            return FLO_EDATALOSS;
        }
        flo_status st = flo__cuda_prepare(cd, d, mode, stream, op);
        if (st == FLO_OK && (mode & FLO_WRITE) && d->home_tok &&
            d->home_src == cd->node) {
            /* A copy home of the version it overwrites is in flight
             * (write-through at rest): it reads this replica first. */
            st = flo__cuda_home_order(d->home_tok, stream);
        }
        void *ptr = d->rep[cd->node].ptr;
        flo__task_set_rversion(t, i, d->ver);
        pthread_mutex_unlock(&d->coh_lock);
        if (st) {
            unpin_all(op);
            return st;
        }
        flo__task_set_buffer(t, i, ptr);
    }
    /* All buffers are in place: writers now own their data here. The
     * versions read (above) and written are the lineage's
     * (scheduler/lineage.c).
     * A replay that started since the check above holds a writer here; a
     * version taken already stays (its replica holds the contents it read;
     * one only written is the limit docs/resilience.md states). */
    for (int i = 0; i < n; i++) {
        flo__data *d = flo__task_access_data(t, i);
        flo_access mode = flo__task_access_mode(t, i);
        if (!(mode & FLO_WRITE))
            continue;
        pthread_mutex_lock(&d->coh_lock);
        if (flo__replay_waits(t, d, mode)) {
            pthread_mutex_unlock(&d->coh_lock);
            unpin_all(op);
            return FLO__EHOLD;
        }
        if (d->rep[cd->node].state != FLO__REP_OWNER)
            flo__coh_mark_written(d, cd->node);
        d->ever_written = true;
        if (flo__task_access_lead(t, i) == i) {
            flo__coh_new_version(d, cd->node);
            flo__task_set_version(t, i, d->ver);
        }
        pthread_mutex_unlock(&d->coh_lock);
    }
    return FLO_OK;
}

/*
 * The compute stream for task t: among the normal streams, or the
 * high-priority ones when t is more urgent than every task in flight on
 * the normal streams (so that it would otherwise queue behind less
 * urgent work), the one with the fewest ops in flight, ties broken
 * round-robin. Looks at most SCAN ops per stream (the whole window by
 * default).
 */
#define SCAN 32
static int pick_stream(flo__cuda_dev *cd, int prio)
{
    int base = 0, n = cd->nstreams;
    if (cd->nhi > 0) {
        bool urgent = false;
        for (int s = 0; s < cd->nstreams; s++) {
            flo__cuda_fifo *f = &cd->fifo[s];
            unsigned lo = f->tail - f->head > SCAN ? f->tail - SCAN : f->head;
            for (unsigned i = lo; i != f->tail; i++) {
                urgent = true;
                if (f->ops[i & (f->cap - 1)].prio >= prio) {
                    urgent = false;
                    goto decided;
                }
            }
        }
    decided:
        if (urgent) {
            base = cd->nstreams;
            n = cd->nhi;
        }
    }
    unsigned start = cd->next_stream++;
    int best = base;
    unsigned best_q = UINT_MAX;
    for (int i = 0; i < n; i++) {
        int s = base + (int)((start + (unsigned)i) % (unsigned)n);
        unsigned q = cd->fifo[s].tail - cd->fifo[s].head;
        if (q < best_q) {
            best = s;
            best_q = q;
            if (q == 0)
                break;
        }
    }
    return best;
}
#undef SCAN

/* Whether to time t's work (sampling for the policy's model, without
 * tracing): the first 4 tasks of each name, then one in time_every.
 * Counters are per name pointer (interned at submit), direct-mapped: a
 * collision restarts a name's count, which only samples more. */
static bool want_timing(flo__cuda_dev *cd, const char *name)
{
    if (!cd->time_on)
        return false;
    uintptr_t k = (uintptr_t)name;
    unsigned i = (unsigned)((k >> 4) ^ (k >> 12)) & 63u;
    if (cd->samp[i].name != name) {
        cd->samp[i].name = name;
        cd->samp[i].n = 0;
    }
    uint32_t n = ++cd->samp[i].n;
    return n <= 4 || n % (uint32_t)cd->time_every == 0;
}

/* Enqueue the copies of op's status words into its pinned slots, after
 * the work of its entry point and before its completion event. */
static flo_status copy_words(flo__cuda_dev *cd, flo__cuda_fifo *f,
                             flo__cuda_op *op, cudaStream_t stream)
{
    int *slot =
        f->sw_host + (size_t)(f->tail & (f->cap - 1)) * FLO__CUDA_OP_WORDS;
    for (int k = 0; k < op->nsw; k++) {
        slot[k] = 0; /* Free: the op that used it last has completed. */
        cudaError_t e = cudaMemcpyAsync(&slot[k], op->sw_dev[k], sizeof(int),
                                        cudaMemcpyDefault, stream);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();
            if (flo__cuda_error_is_sticky(e))
                flo__cuda_dev_fail(cd, e, "reading a status word");
            flo__task_set_error(op->task, FLO_EDEVICE,
                                "task '%s': cannot read its status word "
                                "'%s' on GPU %d: %s (%s)",
                                flo__task_name(op->task), op->sw_what[k],
                                cd->node, cudaGetErrorName(e),
                                cudaGetErrorString(e));
            op->nsw = 0;
            return FLO_EDEVICE;
        }
    }
    return FLO_OK;
}

/* Entry i of t is the first naming a handle t writes (write-through
 * copies each such handle once). */
static bool writes_lead(const flo__task *t, int i)
{
    return flo__task_access_lead(t, i) == i &&
           (flo__task_access_mode(t, i) & FLO_WRITE);
}

/*
 * Write-through: copy what t writes into host memory after its work, on
 * its stream (the completion then covers the copies), so that the host
 * copy can be made valid at completion (wt_publish) and losing this GPU
 * loses nothing. False if a copy could not be enqueued (the host copy
 * then stays invalid: the data is as safe as without write-through).
 */
static bool write_through(flo__cuda_dev *cd, flo__task *t, cudaStream_t stream)
{
    int n = flo__task_naccess(t);
    for (int i = 0; i < n; i++) {
        flo__data *d = flo__task_access_data(t, i);
        if (!writes_lead(t, i))
            continue;
        pthread_mutex_lock(&d->coh_lock);
        flo_status st = flo__coh_host_mem(cd->plat, d);
        void *host = d->rep[0].ptr, *dev = d->rep[cd->node].ptr;
        pthread_mutex_unlock(&d->coh_lock);
        if (st != FLO_OK ||
            FLO__CUDA(cudaMemcpyAsync(host, dev, d->bytes,
                                      cudaMemcpyDeviceToHost, stream)))
            return false;
        atomic_fetch_add_explicit(&cd->plat->bytes_d2h, d->bytes,
                                  memory_order_relaxed);
    }
    return true;
}

/* A write-through task completed: its host copies are valid, unless a
 * later write (launched in stream order since) made a newer version. */
static void wt_publish(flo__cuda_dev *cd, flo__task *t)
{
    int n = flo__task_naccess(t);
    for (int i = 0; i < n; i++) {
        flo__data *d = flo__task_access_data(t, i);
        if (!writes_lead(t, i))
            continue;
        pthread_mutex_lock(&d->coh_lock);
        if (d->ver == flo__task_version(t, i) &&
            atomic_load(&d->rep[cd->node].state) == FLO__REP_OWNER)
            flo__coh_host_copied(d, cd->node);
        pthread_mutex_unlock(&d->coh_lock);
    }
}

/* ---- Write-through at rest (FLO_WRITE_THROUGH_REST) ---------------------
 *
 * A version no submitted task overwrites is copied home behind its task
 * (d2h waits for the task's done event): the task completes without
 * waiting for the copy. The copy is a copy-home token of the handle's
 * (device/coherence.c) with no waiter: a thread that needs the host copy
 * meanwhile joins it; the worker settles it once done (rest_poll). A
 * version lost before its copy finished is recomputed by lineage
 * replay, which this mode turns on. */

/* Room for one more entry in cd's ring. */
static bool rest_reserve(flo__cuda_dev *cd)
{
    unsigned n = cd->rest_tail - cd->rest_head;
    if (n < cd->rest_cap)
        return true;
    unsigned cap = cd->rest_cap ? 2 * cd->rest_cap : 64;
    flo__cuda_rest *r = malloc(sizeof(*r) * cap);
    if (!r)
        return false;
    for (unsigned i = 0; i < n; i++)
        r[i] = cd->rest[(cd->rest_head + i) & (cd->rest_cap - 1)];
    free(cd->rest);
    cd->rest = r;
    cd->rest_cap = cap;
    cd->rest_head = 0;
    cd->rest_tail = n;
    return true;
}

/* t was launched on stream; done follows its work: copy home what it
 * wrote that no later task overwrites. Best effort: a copy not started
 * leaves the version to lineage replay, as without write-through. */
static bool wt_rest(flo__cuda_dev *cd, flo__task *t, cudaEvent_t done)
{
    int n = flo__task_naccess(t);
    bool any = false;
    for (int i = 0; i < n; i++) {
        flo__data *d = flo__task_access_data(t, i);
        if (!writes_lead(t, i) || flo__task_superseded(t, i) ||
            !rest_reserve(cd))
            continue;
        pthread_mutex_lock(&d->coh_lock);
        bool ok = !d->home_tok && d->ver == flo__task_version(t, i) &&
                  flo__coh_host_mem(cd->plat, d) == FLO_OK;
        /* Only direct copies: a writer of the replica can be ordered
         * after them on the GPU. */
        void *tok = NULL;
        if (ok && flo__pin_is_locked(d->host_pin) &&
            flo__cuda_home_enqueue(cd, d, d->rep[0].ptr, true, done, 2, &tok) ==
                FLO_OK) {
            flo__coh_home_begin(d, cd->node, tok);
            cd->rest[cd->rest_tail++ & (cd->rest_cap - 1)] =
                (flo__cuda_rest){d, tok};
            any = true;
        }
        pthread_mutex_unlock(&d->coh_lock);
    }
    return any;
}

/* Settle the copies home that finished (all of them, waiting, with
 * wait): oldest first, they complete in order. */
static void rest_poll(flo__cuda_dev *cd, bool wait)
{
    while (cd->rest_head != cd->rest_tail) {
        flo__cuda_rest *e = &cd->rest[cd->rest_head & (cd->rest_cap - 1)];
        flo_status st = flo__cuda_home_query(cd, e->q, wait);
        if (st == FLO_INPROGRESS)
            return;
        flo__coh_home_settle(cd->plat, e->d, e->q, st);
        flo__cuda_xfer_ops.home_release(cd->dev, e->q); /* The worker's. */
        cd->rest_head++;
    }
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

    /* Early predecessors still in flight (stream-ordered dependencies):
     * follow the first on its stream, wait for the others' events. */
    flo__task *const *ep;
    int nep = flo__task_early(t, &ep);
    int s = -1;
    for (int i = 0; i < nep && s < 0; i++)
        if (!flo__task_is_done(ep[i]))
            s = ((flo__cuda_op *)*flo__task_dev_slot(ep[i]))->stream;
    if (s < 0)
        s = pick_stream(cd, flo__task_priority(t));
    cudaStream_t stream = cd->compute[s];
    for (int i = 0; i < nep; i++) {
        if (flo__task_is_done(ep[i]))
            continue;
        flo__cuda_op *pop = *flo__task_dev_slot(ep[i]);
        if (pop->stream == s)
            continue; /* Stream order. */
        flo_status est = FLO_OK;
        if (!pop->done) {
            /* An event after it now (and after what followed it on its
             * stream): a stronger order, still correct. */
            est = flo__cuda_ev_get(&cd->events, &pop->done);
            if (est == FLO_OK) {
                est = FLO__CUDA(
                    cudaEventRecord(pop->done, cd->compute[pop->stream]));
                if (est) {
                    flo__cuda_ev_put(&cd->events, pop->done);
                    pop->done = NULL;
                } else {
                    cd->fifo[pop->stream].since_ev = 0;
                }
            }
        }
        if (est == FLO_OK)
            est = FLO__CUDA(cudaStreamWaitEvent(stream, pop->done, 0));
        if (est) {
            flo__task_set_error(t, est,
                                "task '%s': cannot order it after a task "
                                "in flight on GPU %d",
                                name, cd->node);
            return est;
        }
    }
    flo__cuda_fifo *f = &cd->fifo[s];
    flo__cuda_op *op = &f->ops[f->tail & (f->cap - 1)];
    op->task = t;
    /* pick_stream scans ops, not task records. */
    op->prio = flo__task_priority(t);
    op->npin = 0;
    op->nsw = 0;
    op->status = FLO_OK;
    op->c_bytes = 0;
    op->untimed = false;
    op->stream = s;
    /* Not every task records an event: an event recorded after task N
     * also tells that the tasks before it on the stream are done. One in
     * event_every, plus the newest when the worker waits (seal), keeps
     * completions observable at a fraction of the cost. A sampled task
     * has its own (timed) event. */
    bool sampled = want_timing(cd, name);
    bool want = ++f->since_ev >= cd->event_every || sampled;
    if (want)
        f->since_ev = 0;
    flo_status st = op_events_get(cd, op, want, sampled);
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
    if (st == FLO__EHOLD) {
        op_events_put(cd, op);
        return st; /* Its buffers are being recomputed: requeued. */
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

    if (op->t_start && FLO__CUDA(cudaEventRecord(op->t_start, stream)))
        op->untimed = true; /* Not a reason to fail the task. */
    /* Errors of the runtime's own calls were handled where they
     * happened; what cudaGetLastError reports below is the task's. */
    (void)cudaGetLastError();
    nvtxRangePushA(name ? name : "task");
    cd->cur_op = op; /* For flo_task_cuda_status_word. */
    cd->cur_stream = stream;
    st = flo__task_invoke(w, t, fn, stream);
    cd->cur_op = NULL;
    cd->cur_stream = NULL;
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
        op->nsw = 0;
    } else if (st != FLO_OK) {
        op->status = st; /* The entry point called flo_task_fail. */
        op->nsw = 0;
    } else if (op->nsw > 0) {
        op->status = copy_words(cd, f, op, stream);
    }
    op->wt = op->rest = false;
    bool rest = false;
    int wt = cd->plat->cfg->write_through;
    if (op->status == FLO_OK && FLO__UNLIKELY(wt)) {
        if (wt == FLO_WRITE_THROUGH_ALL) {
            op->wt = write_through(cd, t, stream);
        } else if (op->done ||
                   flo__cuda_ev_get(&cd->events, &op->done) == FLO_OK) {
            rest = true; /* Copies behind the task's own event. */
            f->since_ev = 0;
        }
    }

    /* Even a failed task completes through an event: the copies and
     * whatever it enqueued must finish before its buffers are released. */
    e = op->done ? cudaEventRecord(op->done, stream) : cudaSuccess;
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (flo__cuda_error_is_sticky(e))
            flo__cuda_dev_fail(cd, e, "recording a task's event");
        /* Its buffers are released below: if its work cannot be waited
         * for, it may still use them, and so may anything on cd. */
        cudaError_t se = cudaStreamSynchronize(stream);
        if (se != cudaSuccess)
            flo__cuda_dev_fail(cd, se, "waiting for a failed task's work");
        unpin_all(op);
        op_events_put(cd, op);
        op->task = NULL;
        op->nsw = 0;
        flo__task_set_error(
            t, FLO_EDEVICE, "CUDA error %s (%s) after task '%s' on GPU %d",
            cudaGetErrorName(e), cudaGetErrorString(e), name, cd->node);
        return FLO_EDEVICE;
    }
    f->tail++;
    if (cd->inflight++ == 0)
        cd->busy_since = flo__now_ns(); /* A busy stretch starts. */
    cd->wait_since = 0;
    /* Successors that can only run here may follow it in stream order
     * now, without waiting for its completion to be observed. */
    *flo__task_dev_slot(t) = op;
    if (rest)
        op->rest = wt_rest(cd, t, op->done);
    if (op->status == FLO_OK)
        flo__task_launched(w, t);
    return FLO_INPROGRESS;
}

/* ---- Device status words (include/flotilla/cuda.h) ---------------------- */

flo_status flo_task_cuda_status_word(flo_task_ctx *ctx, const int *dev_word,
                                     const char *what)
{
    flo_runtime *rt = flo_task_runtime(ctx);
    if (!rt || !dev_word)
        return FLO_EINVAL;
    /* Only a CUDA entry point runs on a GPU worker's thread with cur_op
     * set, and only its own context carries cur_stream. */
    flo__device *dev = flo__self_device(rt);
    if (!dev || dev->kind != FLO_DEVICE_CUDA || dev->ops != &flo__cuda_ops)
        return FLO_EINVAL;
    flo__cuda_dev *cd = dev->priv;
    flo__cuda_op *op = cd->cur_op;
    if (!op || flo_task_stream(ctx) != (void *)cd->cur_stream)
        return FLO_EINVAL;
    if (op->nsw >= FLO__CUDA_OP_WORDS)
        return FLO_ERANGE;
    /* The launch task's stream (cur_stream differs while a graph's
     * entry points are captured: device/cuda/cuda_graph.c). */
    flo__cuda_fifo *f = &cd->fifo[op->stream];
    if (!f->sw_host) {
        /* First status word on this stream: one pinned allocation, kept
         * until the device is destroyed. */
        void *p = NULL;
        flo_status st = FLO__CUDA(cudaMallocHost(
            &p, (size_t)f->cap * FLO__CUDA_OP_WORDS * sizeof(int)));
        if (st)
            return st;
        f->sw_host = p;
    }
    const char *label = flo__name_intern(what ? what : "status word");
    op->sw_dev[op->nsw] = dev_word;
    op->sw_what[op->nsw] = label ? label : "status word";
    op->nsw++;
    return FLO_OK;
}

/* Host function queued at the tail of a stream before the worker parks:
 * runs on a CUDA thread once everything before it has finished. */
static void CUDART_CB wake_cb(void *arg)
{
    flo__cuda_fifo *f = arg;
    atomic_store(&f->armed, 0);
    flo__sched_wake(f->w);
}

/* cuda_wait_progress's last look before parking: completions. */
static bool recheck_progress(flo__worker *w, void *arg)
{
    FLO__UNUSED(arg);
    return cuda_progress(w) > 0;
}

/*
 * The worker loop calls this when it has tasks in flight and none ready.
 * For the first spin_ns of such a stretch it only polls briefly and
 * returns, so that the loop also picks up newly ready tasks; then it
 * sleeps: a host function at the tail of each busy stream wakes it when
 * that stream drains, a bounded timeout catches earlier completions on
 * long queues, and a new ready task wakes it through the scheduler
 * (flo__sched_park: it sleeps like a parked worker).
 */
static void cuda_wait_progress(flo__worker *w, uint64_t timeout_ns)
{
    flo__cuda_dev *cd = wdev(w);
    seal(cd);
    uint64_t now = flo__now_ns();
    if (cd->wait_since == 0)
        cd->wait_since = now;
    /* With the window full the worker can do nothing but wait for the
     * next completion, and a host function can only be queued at a
     * stream's tail (it would wake the worker once the window drained,
     * leaving the GPU without queued work): poll longer, yielding the
     * core past the ordinary spin. */
    uint64_t spin = cd->spin_ns;
    if (cd->inflight >= cd->window && cd->window_spin_ns > spin)
        spin = cd->window_spin_ns;
    if (now - cd->wait_since < spin) {
        for (int i = 0; i < 64; i++)
            flo__cpu_relax();
        if (now - cd->wait_since >= cd->spin_ns)
            sched_yield();
        cuda_progress(w);
        return;
    }
    for (int s = 0; s < nall(cd); s++) {
        flo__cuda_fifo *f = &cd->fifo[s];
        if (f->head == f->tail || atomic_load(&f->armed))
            continue;
        atomic_store(&f->armed, 1);
        if (cudaLaunchHostFunc(cd->compute[s], wake_cb, f) != cudaSuccess) {
            (void)cudaGetLastError();
            atomic_store(&f->armed, 0);
        }
    }
    /* Announce, re-check for completions, park (the scheduler's
     * protocol, flo__sched_park). */
    uint64_t cap = 200000; /* 200 us */
    if (flo__sched_park(w, timeout_ns && timeout_ns < cap ? timeout_ns : cap,
                        recheck_progress, NULL, NULL))
        cuda_progress(w);
}

/* ---- Resilience (scheduler/resilience.c) ------------------------------- */

/* The device was lost: give every task in flight back to the scheduler.
 * A lost logical GPU still runs its work: wait for it, so that nothing
 * writes into memory the re-executed tasks use; a failed context
 * returns at once. */
static int cuda_abandon(flo__worker *w,
                        void (*give)(flo__worker *w, flo__task *t))
{
    flo__cuda_dev *cd = wdev(w);
    int n = 0;
    bool healthy = !atomic_load(&cd->failed);
    for (int s = 0; s < nall(cd); s++) {
        if (cudaStreamSynchronize(cd->compute[s]) != cudaSuccess) {
            (void)cudaGetLastError();
            healthy = false;
        }
    }
    /* Copies home of versions at rest: what reached the host is safe. */
    rest_poll(cd, true);
    for (int s = 0; s < nall(cd); s++) {
        flo__cuda_fifo *f = &cd->fifo[s];
        for (; f->head != f->tail; n++) {
            flo__cuda_op *op = &f->ops[f->head & (f->cap - 1)];
            flo__task *t = op->task;
            if (healthy && (op->wt || op->rest) && op->status == FLO_OK) {
                /* Its work and its copies to the host are done. */
                settle_early(cd, w, t);
                op_complete(cd, w, s, FLO_OK);
                continue;
            }
            if (op->wt || op->rest)
                flo__task_mark_unsure(t); /* The host may hold its output. */
            op_pop(cd, w, f);
            give(w, t);
        }
    }
    return n;
}

/* Retries: a device copy of a buffer, in stream order. */
static void *cuda_save(flo__worker *w, const void *ptr, size_t bytes,
                       void *stream)
{
    flo__cuda_dev *cd = wdev(w);
    void *p = NULL;
    cudaStream_t s = stream;
    if (cudaMallocAsync(&p, bytes, s) != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    if (cudaMemcpyAsync(p, ptr, bytes, cudaMemcpyDeviceToDevice, s) !=
        cudaSuccess) {
        (void)cudaGetLastError();
        flo__cuda_release(cd, cudaFreeAsync(p, s), "freeing a retry copy");
        return NULL;
    }
    return p;
}

static void cuda_restore(flo__worker *w, void *saved, void *ptr, size_t bytes,
                         void *stream)
{
    flo__cuda_release(wdev(w),
                      cudaMemcpyAsync(ptr, saved, bytes,
                                      cudaMemcpyDeviceToDevice,
                                      (cudaStream_t)stream),
                      "restoring a buffer for a retry");
}

static void cuda_discard(flo__worker *w, void *saved, void *stream)
{
    flo__cuda_release(wdev(w), cudaFreeAsync(saved, (cudaStream_t)stream),
                      "freeing a retry copy");
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
    cd->w = w;
    for (int s = 0; s < nall(cd); s++)
        cd->fifo[s].w = w;
    /* Sample kernel times when the policy learns from task times (the
     * trace times every task anyway). The policy is chosen after the
     * probe, hence here. */
    cd->time_on =
        cd->time_every > 0 && !cd->plat->trace && cd->plat->learn_times;
    if (cd->plat->trace) {
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
    rest_poll(cd, true);
    flo__cuda_release(cd, cudaStreamSynchronize(cd->h2d),
                      "waiting for the copy stream (h2d)");
    flo__cuda_release(cd, cudaStreamSynchronize(cd->p2p),
                      "waiting for the copy stream (p2p)");
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
    .graph_entry = flo__cuda_graph_run,
    .save = cuda_save,
    .restore = cuda_restore,
    .discard = cuda_discard,
    .abandon = cuda_abandon,
    .copy_entry = flo__cuda_copy_entry,
};
