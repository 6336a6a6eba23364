/*
 * Flotilla CUDA backend - making a data handle valid on a GPU, and the
 * synchronous copy back to the host.
 *
 * A replica becomes valid (SHARED) when the copy that fills it is
 * enqueued, not when it finishes: r->ready holds an event recorded after
 * that copy, and every later user (a compute stream on this GPU, a peer
 * copy to another GPU, the host) orders itself after it. The event is
 * released once observed complete, or when the replica is refilled or
 * freed. Only cd's worker enqueues copies into cd's replicas, so
 * r->ready of a replica on node g is always an event of g's pool.
 *
 * Host-to-GPU copies from page-locked host memory (registered memory is
 * pinned by default, see flo__data.host_pin) are one cudaMemcpyAsync on
 * the h2d stream. Pageable memory, and GPUs without peer access, go
 * through the staging thread (cuda_stage.c): the worker only queues the
 * request and gets the gate stream to record the ready event on, so it
 * never copies or waits itself. The worker holds d->coh_lock for all of
 * this (it only enqueues).
 */
#include <stdlib.h>
#include <string.h>

#include "device/cuda/cuda_backend.h"

flo_status flo__cuda_op_pin(flo__cuda_op *op, flo__data *d, int node)
{
    if (op->npin == op->cap_pin) {
        int cap = op->cap_pin ? 2 * op->cap_pin : 8;
        flo__cuda_pin *p = realloc(op->pin, (size_t)cap * sizeof *p);
        if (!p)
            return FLO_ENOMEM;
        op->pin = p;
        op->cap_pin = cap;
    }
    op->pin[op->npin].d = d;
    op->pin[op->npin].node = node;
    op->npin++;
    return FLO_OK;
}

/* Timing of the copies (tracing only). A failed record leaves the op
 * untimed: the copy itself goes on, and reports its own errors. */
static void trace_copy_begin(flo__cuda_op *op, cudaStream_t s, int row)
{
    if (!op->c_start || op->untimed)
        return;
    if (op->c_bytes == 0) {
        if (FLO__CUDA(cudaEventRecord(op->c_start, s)))
            op->untimed = true;
        op->c_row = row;
    }
}

static void trace_copy_end(flo__cuda_op *op, cudaStream_t s, size_t bytes)
{
    if (!op->c_start || op->untimed)
        return;
    if (FLO__CUDA(cudaEventRecord(op->c_end, s)))
        op->untimed = true;
    op->c_bytes += bytes;
}

/* Pick the replica to copy from: another logical device of the same GPU,
 * then a peer GPU, then the host, then any GPU (staged). -1 if none. */
static int pick_source(flo__cuda_dev *cd, const flo__data *d)
{
    flo__platform *plat = cd->plat;
    int host = -1, peer = -1, same = -1, other = -1;
    for (int n = 0; n < plat->ndevices && n < FLO__MAX_NODES; n++) {
        if (n == cd->node || d->rep[n].state == FLO__REP_INVALID)
            continue;
        if (n == 0) {
            if (d->rep[0].ptr)
                host = 0;
            continue;
        }
        flo__cuda_dev *cs = flo__cuda_dev_get(plat, n);
        if (!cs || !d->rep[n].ptr || atomic_load(&cs->failed))
            continue;
        if (cd->p2p_enabled && cs->ordinal == cd->ordinal)
            same = n;
        else if (cd->p2p_enabled && cd->peer[n])
            peer = n;
        else
            other = n;
    }
    if (same >= 0)
        return same;
    if (peer >= 0)
        return peer;
    if (host >= 0)
        return host;
    return other;
}

/* Fill r = d->rep[cd->node] from a valid replica (or zeros); returns the
 * stream the copy went on in *used. */
static flo_status fill(flo__cuda_dev *cd, flo__data *d, flo__cuda_op *op,
                       cudaStream_t *used)
{
    flo__platform *plat = cd->plat;
    flo__replica *r = &d->rep[cd->node];
    int src = pick_source(cd, d);
    flo_status st;

    if (src < 0) {
        if (d->ever_written) {
            /* Its only copy was on a GPU that failed. */
            FLO__ERR("data handle %u: no valid copy left", d->slot);
            return FLO_EDEVICE;
        }
        /* Never written anywhere: it reads as zeros. */
        *used = cd->h2d;
        return FLO__CUDA(cudaMemsetAsync(r->ptr, 0, d->bytes, cd->h2d));
    }
    if (src == 0) {
        /* The host copy is valid and no host task writes it while this
         * reader runs (dependencies), so it may be read asynchronously. */
        *used = cd->h2d;
        trace_copy_begin(op, cd->h2d, cd->row_h2d);
        if (flo__pin_is_locked(d->host_pin))
            st = FLO__CUDA(cudaMemcpyAsync(r->ptr, d->rep[0].ptr, d->bytes,
                                           cudaMemcpyHostToDevice, cd->h2d));
        else
            st = flo__cuda_stage_fill(cd, FLO__XREQ_H2D, r->ptr, d->rep[0].ptr,
                                      d->bytes, NULL, used);
        trace_copy_end(op, *used, d->bytes);
        atomic_fetch_add_explicit(&plat->bytes_h2d, d->bytes,
                                  memory_order_relaxed);
        return st;
    }

    flo__cuda_dev *cs = flo__cuda_dev_get(plat, src);
    flo__replica *rs = &d->rep[src];
    bool direct = cd->p2p_enabled && cd->peer[src];
    /* The source stays allocated until this task completes (a staged
     * copy reads it from the staging thread, before the gate opens). */
    st = flo__cuda_op_pin(op, d, src);
    if (st)
        return st;
    rs->users++;
    if (!direct) {
        *used = cd->h2d;
        trace_copy_begin(op, cd->h2d, cd->row_h2d);
        st = flo__cuda_stage_fill(cd, FLO__XREQ_D2D, r->ptr, rs->ptr, d->bytes,
                                  (cudaEvent_t)rs->ready, used);
        trace_copy_end(op, *used, d->bytes);
        atomic_fetch_add_explicit(&plat->bytes_d2h, d->bytes,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&plat->bytes_h2d, d->bytes,
                                  memory_order_relaxed);
        return st;
    }
    if (rs->ready) {
        st = FLO__CUDA(cudaStreamWaitEvent(cd->p2p, (cudaEvent_t)rs->ready, 0));
        if (st)
            return st;
    }
    trace_copy_begin(op, cd->p2p, cd->row_p2p);
    if (cs->ordinal == cd->ordinal)
        st = FLO__CUDA(cudaMemcpyAsync(r->ptr, rs->ptr, d->bytes,
                                       cudaMemcpyDeviceToDevice, cd->p2p));
    else
        st = FLO__CUDA(cudaMemcpyPeerAsync(r->ptr, cd->ordinal, rs->ptr,
                                           cs->ordinal, d->bytes, cd->p2p));
    trace_copy_end(op, cd->p2p, d->bytes);
    atomic_fetch_add_explicit(&plat->bytes_p2p, d->bytes, memory_order_relaxed);
    *used = cd->p2p;
    return st;
}

flo_status flo__cuda_prepare(flo__cuda_dev *cd, flo__data *d, flo_access mode,
                             cudaStream_t stream, flo__cuda_op *op)
{
    flo__replica *r = &d->rep[cd->node];
    flo_status st;

    /* Pin first so that the unwinding of a failed task is uniform. */
    st = flo__cuda_op_pin(op, d, cd->node);
    if (st)
        return st;
    r->users++;

    if (r->state != FLO__REP_INVALID) {
        if (r->ready) {
            cudaError_t e = cudaEventQuery((cudaEvent_t)r->ready);
            if (e == cudaSuccess) {
                flo__cuda_ev_put(&cd->events, (cudaEvent_t)r->ready);
                r->ready = NULL;
            } else {
                if (e != cudaErrorNotReady)
                    return FLO__CUDA(e);
                st = FLO__CUDA(
                    cudaStreamWaitEvent(stream, (cudaEvent_t)r->ready, 0));
                if (st)
                    return st;
            }
        }
    } else {
        if (!r->ptr) {
            st = flo__cuda_replica_alloc(cd, d);
            if (st)
                return st;
        }
        if (r->ready) {
            flo__cuda_ev_put(&cd->events, (cudaEvent_t)r->ready);
            r->ready = NULL;
        }
        if (mode & FLO_READ) {
            cudaStream_t used;
            cudaEvent_t ev;
            st = fill(cd, d, op, &used);
            if (st)
                return st;
            st = flo__cuda_ev_get(&cd->events, &ev);
            if (st)
                return st;
            st = FLO__CUDA(cudaEventRecord(ev, used));
            if (st == FLO_OK)
                st = FLO__CUDA(cudaStreamWaitEvent(stream, ev, 0));
            if (st) {
                flo__cuda_ev_put(&cd->events, ev);
                return st;
            }
            r->ready = ev;
            /* Every valid copy is now one of several. */
            for (int n = 0; n < FLO__MAX_NODES; n++)
                if (d->rep[n].state == FLO__REP_OWNER)
                    d->rep[n].state = FLO__REP_SHARED;
            r->state = FLO__REP_SHARED;
        }
        /* A write-only replica stays invalid (its bytes are stale) until
         * the task's flo__coh_mark_written. */
    }
    r->last_use = ++cd->lru_clock;
    /* A writer's flo__coh_mark_written comes later, once every buffer of
     * the task is ready: a task that fails here leaves the data intact. */
    return FLO_OK;
}

/* ---- Synchronous copy to the host (any thread; eviction write-back) --- */

flo_status flo__cuda_copy_to_host(flo__device *dev, void *dst, const void *src,
                                  size_t bytes)
{
    flo__cuda_dev *cd = dev ? dev->priv : NULL;
    if (!cd || (!dst && bytes) || (!src && bytes))
        return FLO_EINVAL;
    if (bytes == 0)
        return FLO_OK;
    if (atomic_load(&cd->failed))
        return FLO_EDEVICE;

    flo_status st = FLO_OK;
    pthread_mutex_lock(&cd->d2h_mu);
    int old = flo__cuda_use_device(cd->ordinal);

    /* The source may be a replica whose filling copy is still queued on
     * a copy stream or behind the gate: wait for those streams (cheap
     * when idle; the gate opens once the staging thread, which takes no
     * lock the caller may hold, has copied). */
    st = FLO__CUDA(cudaStreamSynchronize(cd->h2d));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaStreamSynchronize(cd->p2p));
    if (st == FLO_OK && cd->gate)
        st = FLO__CUDA(cudaStreamSynchronize(cd->gate));

    /* Double-buffered: chunk i is copied into dstage[i & 1] while chunk
     * i - 1 is copied out of the other buffer by this thread. */
    size_t chunk = cd->stage_bytes;
    size_t nchunks = (bytes + chunk - 1) / chunk;
    for (size_t i = 0; st == FLO_OK && i <= nchunks; i++) {
        if (i < nchunks) {
            size_t off = i * chunk, n = FLO__MIN(chunk, bytes - off);
            st = FLO__CUDA(cudaMemcpyAsync(cd->dstage[i & 1],
                                           (const char *)src + off, n,
                                           cudaMemcpyDeviceToHost, cd->d2h));
            if (st == FLO_OK)
                st = FLO__CUDA(cudaEventRecord(cd->dstage_ev[i & 1], cd->d2h));
        }
        if (st == FLO_OK && i > 0) {
            size_t j = i - 1, off = j * chunk;
            size_t n = FLO__MIN(chunk, bytes - off);
            cudaError_t e = cudaEventSynchronize(cd->dstage_ev[j & 1]);
            if (e != cudaSuccess) {
                st = flo__cuda_report(e, "cudaEventSynchronize(dstage_ev)",
                                      __FILE__, __LINE__);
                if (flo__cuda_error_is_sticky(e))
                    flo__cuda_dev_fail(cd, e, "a copy to the host");
            } else {
                memcpy((char *)dst + off, cd->dstage[j & 1], n);
            }
        }
    }
    flo__cuda_restore_device(old, cd->ordinal);
    pthread_mutex_unlock(&cd->d2h_mu);
    return st;
}

/* ---- Device memory of the program's (flo_data_register_device) -------- */

/* Whether p is device memory of ordinal, or managed memory; EINVAL
 * otherwise, EDEVICE when CUDA cannot say. The caller has a device
 * current. */
static flo_status check_byte(const void *p, int ordinal)
{
    struct cudaPointerAttributes a;
    cudaError_t e = cudaPointerGetAttributes(&a, p);

    if (e == cudaErrorInvalidValue) {
        /* Memory CUDA does not know (older runtimes answer so for plain
         * host memory): not device memory. */
        (void)cudaGetLastError();
        return FLO_EINVAL;
    }
    if (e != cudaSuccess)
        return FLO__CUDA(e);
    if (a.type == cudaMemoryTypeManaged)
        return FLO_OK;
    if (a.type == cudaMemoryTypeDevice && a.device == ordinal)
        return FLO_OK;
    return FLO_EINVAL;
}

flo_status flo__cuda_user_mem_check(flo__device *dev, const void *ptr,
                                    size_t bytes)
{
    flo__cuda_dev *cd = dev->priv;
    flo_status st;
    int old;

    if (atomic_load(&cd->failed))
        return FLO_EDEVICE;
    old = flo__cuda_use_device(cd->ordinal);
    st = check_byte(ptr, cd->ordinal);
    if (st == FLO_OK && bytes > 1)
        st = check_byte((const char *)ptr + (bytes - 1), cd->ordinal);
    flo__cuda_restore_device(old, cd->ordinal);
    if (st == FLO_EINVAL)
        FLO__ERR("flo_data_register_device: [%p, +%zu) is not device memory "
                 "of GPU %d (cuda %d) nor managed memory",
                 ptr, bytes, cd->node, cd->ordinal);
    return st;
}

/* The status of a copy of the write-back; a sticky error fails cd. */
static flo_status copy_status(flo__cuda_dev *cd, cudaError_t e,
                              const char *call)
{
    flo_status st;

    if (e == cudaSuccess)
        return FLO_OK;
    st = flo__cuda_report(e, call, __FILE__, __LINE__);
    if (flo__cuda_error_is_sticky(e))
        flo__cuda_dev_fail(cd, e, "a write-back into registered memory");
    return st;
}

/*
 * The write-back into the program's device memory at unregister: a
 * plain synchronous cudaMemcpy (Peer) from any thread. No task uses the
 * data any more, so no copy into either replica can be in flight but
 * those their ready events mark: waited for first. The source's event
 * belongs to its own device's worker and is only waited for here.
 */
flo_status flo__cuda_pull_sync(flo__device *dev, flo__data *d, int src)
{
    flo__cuda_dev *cd = dev->priv;
    flo__replica *r = &d->rep[cd->node], *rs = &d->rep[src];
    flo_status st = FLO_OK;
    int old;

    if (atomic_load(&cd->failed))
        return FLO_EDEVICE;
    if (!r->ptr || !rs->ptr)
        return FLO_EINTERNAL;
    old = flo__cuda_use_device(cd->ordinal);
    if (r->ready) {
        /* A copy that once filled this replica (it is stale now). */
        st = FLO__CUDA(cudaEventSynchronize((cudaEvent_t)r->ready));
        flo__cuda_ev_put(&cd->events, (cudaEvent_t)r->ready);
        r->ready = NULL;
    }
    if (st == FLO_OK && src == 0) {
        st = copy_status(
            cd, cudaMemcpy(r->ptr, rs->ptr, d->bytes, cudaMemcpyHostToDevice),
            "cudaMemcpy(host to registered device memory)");
    } else if (st == FLO_OK) {
        flo__cuda_dev *cs = flo__cuda_dev_get(cd->plat, src);
        if (!cs || atomic_load(&cs->failed))
            st = FLO_EDEVICE;
        if (st == FLO_OK && rs->ready)
            st = FLO__CUDA(cudaEventSynchronize((cudaEvent_t)rs->ready));
        if (st == FLO_OK && cs->ordinal == cd->ordinal)
            st = copy_status(
                cd,
                cudaMemcpy(r->ptr, rs->ptr, d->bytes, cudaMemcpyDeviceToDevice),
                "cudaMemcpy(to registered device memory)");
        else if (st == FLO_OK)
            st = copy_status(cd,
                             cudaMemcpyPeer(r->ptr, cd->ordinal, rs->ptr,
                                            cs->ordinal, d->bytes),
                             "cudaMemcpyPeer(to registered device memory)");
    }
    flo__cuda_restore_device(old, cd->ordinal);
    return st;
}
