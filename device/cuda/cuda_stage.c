/*
 * Flotilla CUDA backend - transfers that never block the GPU worker:
 * the per-GPU staging thread for pageable host memory, the gate that
 * orders the worker's streams after it, page-locking of host memory, and
 * the asynchronous copy home used by host tasks, acquire and unregister.
 *
 * Staging thread. The worker never memcpy's pageable memory: it queues a
 * request (under stage_mu) and goes on launching. The thread copies the
 * source chunk by chunk into pinned buffers and enqueues the chunks on
 * its own streams (four buffers round-robin towards the GPU, two double-
 * buffered towards the host), then writes the request's sequence number
 * into gate_flag on the same stream. The worker made its gate stream wait
 * for that value (cuStreamWaitValue32, a cyclic >= comparison) and
 * records the replica's ready event after the wait, so every user of the
 * replica orders itself after the staged copy exactly as after a direct
 * one - without a host round trip.
 *
 * Why no deadlock: the thread takes requests in FIFO order. A request's
 * src_ready event is recorded on cd->d2h in the same stage_mu critical
 * section that queues it, after a wait on the source replica's ready
 * event. Everything on d2h before it waits only on fills whose requests
 * were queued before (a replica's ready event is published after its
 * request was queued), so it never waits on a request behind itself.
 *
 * Copy home (home_start/home_wait/home_release, called by the core's
 * coherence code): into page-locked memory a direct cudaMemcpyAsync on
 * d2h with an event; into pageable memory a D2H request for the staging
 * thread, which the requesters wait for on stage_done_cv. No coherence
 * lock is held while waiting.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuda.h>

#include "device/cuda/cuda_backend.h"

/* ---- Stream memory operations (driver entry points) --------------------- */

typedef CUresult (*memop32_fn)(CUstream, CUdeviceptr, cuuint32_t, unsigned int);
static memop32_fn wait_value32, write_value32;
static pthread_once_t memops_once = PTHREAD_ONCE_INIT;

static void memops_load(void)
{
    enum cudaDriverEntryPointQueryResult q;
    memop32_fn w = NULL, r = NULL;
    if (cudaGetDriverEntryPointByVersion("cuStreamWaitValue32", (void **)&w,
                                         12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
        w = NULL;
    if (cudaGetDriverEntryPointByVersion("cuStreamWriteValue32", (void **)&r,
                                         12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess)
        r = NULL;
    (void)cudaGetLastError();
    if (w && r) {
        wait_value32 = w;
        write_value32 = r;
    }
}

static CUdeviceptr gate_addr(const flo__cuda_dev *cd)
{
    return (CUdeviceptr)(uintptr_t)cd->gate_flag;
}

/* Make ordinal current; returns the caller's device for restore. */
/* A CUDA error of the staging thread: a copy the GPU relies on may be
 * incomplete, so the device is failed whatever the error (later tasks
 * fail with FLO_EDEVICE instead of computing on stale bytes). */
static flo_status stage_error(flo__cuda_dev *cd, cudaError_t e,
                              const char *call)
{
    flo_status st = flo__cuda_report(e, call, __FILE__, __LINE__);
    flo__cuda_dev_fail(cd, e, "a staged copy");
    return st;
}

#define STAGE_CALL(cd, call)                                                   \
    do {                                                                       \
        cudaError_t e_ = (call);                                               \
        if (e_ != cudaSuccess)                                                 \
            return stage_error((cd), e_, #call);                               \
    } while (0)

/* ---- The staging thread ------------------------------------------------ */

/* Towards the GPU: host bytes (or another GPU's, read synchronously by
 * this thread) through the round-robin pinned buffers onto s_h2d. */
static flo_status run_to_gpu(flo__cuda_dev *cd, flo__cuda_xreq *q)
{
    bool from_dev = q->kind == FLO__XREQ_D2D;
    if (q->src_ready)
        STAGE_CALL(cd, cudaEventSynchronize(q->src_ready));
    for (size_t off = 0; off < q->bytes;) {
        size_t n = FLO__MIN(q->bytes - off, cd->stage_bytes);
        int i = cd->stage_next;
        cd->stage_next = (i + 1) % FLO__CUDA_NSTAGE;
        if (cd->stage_busy[i]) {
            STAGE_CALL(cd, cudaEventSynchronize(cd->stage_ev[i]));
            cd->stage_busy[i] = false;
        }
        if (from_dev)
            STAGE_CALL(cd, cudaMemcpy(cd->stage[i], (const char *)q->src + off,
                                      n, cudaMemcpyDefault));
        else
            memcpy(cd->stage[i], (const char *)q->src + off, n);
        STAGE_CALL(cd, cudaMemcpyAsync((char *)q->dst + off, cd->stage[i], n,
                                       cudaMemcpyHostToDevice, cd->s_h2d));
        STAGE_CALL(cd, cudaEventRecord(cd->stage_ev[i], cd->s_h2d));
        cd->stage_busy[i] = true;
        off += n;
    }
    return FLO_OK;
}

/* Towards the host: chunk i is copied into xstage[i & 1] on s_d2h while
 * this thread copies chunk i - 1 out of the other buffer. */
static flo_status run_to_host(flo__cuda_dev *cd, flo__cuda_xreq *q)
{
    size_t chunk = cd->stage_bytes;
    size_t nchunks = (q->bytes + chunk - 1) / chunk;
    if (q->src_ready)
        STAGE_CALL(cd, cudaStreamWaitEvent(cd->s_d2h, q->src_ready, 0));
    for (size_t i = 0; i <= nchunks; i++) {
        if (i < nchunks) {
            size_t off = i * chunk, n = FLO__MIN(chunk, q->bytes - off);
            STAGE_CALL(cd, cudaMemcpyAsync(cd->xstage[i & 1],
                                           (const char *)q->src + off, n,
                                           cudaMemcpyDeviceToHost, cd->s_d2h));
            STAGE_CALL(cd, cudaEventRecord(cd->xstage_ev[i & 1], cd->s_d2h));
        }
        if (i > 0) {
            size_t j = i - 1, off = j * chunk;
            size_t n = FLO__MIN(chunk, q->bytes - off);
            STAGE_CALL(cd, cudaEventSynchronize(cd->xstage_ev[j & 1]));
            memcpy((char *)q->dst + off, cd->xstage[j & 1], n);
        }
    }
    return FLO_OK;
}

static flo_status stage_run(flo__cuda_dev *cd, flo__cuda_xreq *q)
{
    flo_status st;
    if (atomic_load(&cd->failed))
        st = FLO_EDEVICE;
    else if (q->kind == FLO__XREQ_D2H)
        st = run_to_host(cd, q);
    else
        st = run_to_gpu(cd, q);
    if (q->src_ready) {
        flo__cuda_ev_put(&cd->events, q->src_ready);
        q->src_ready = NULL;
    }
    if (q->kind == FLO__XREQ_D2H)
        return st;
    if (q->gated) {
        /* Open the gate even after an error: the worker's streams wait
         * on it (the device is failed then, so nothing uses the bytes). */
        CUresult r = write_value32((CUstream)cd->s_h2d, gate_addr(cd), q->seq,
                                   CU_STREAM_WRITE_VALUE_DEFAULT);
        if (r != CUDA_SUCCESS && st == FLO_OK) {
            FLO__ERR("GPU %d: cuStreamWriteValue32 failed (%d)", cd->node,
                     (int)r);
            flo__cuda_dev_fail(cd, cudaErrorUnknown, "opening the gate");
            st = FLO_EDEVICE;
        }
    } else if (st == FLO_OK) {
        /* The worker waits for done: the copy must be complete. */
        cudaError_t e = cudaStreamSynchronize(cd->s_h2d);
        if (e != cudaSuccess)
            st = stage_error(cd, e, "cudaStreamSynchronize(s_h2d)");
    }
    return st;
}

static void *stage_main(void *arg)
{
    flo__cuda_dev *cd = arg;
    if (cudaSetDevice(cd->ordinal) != cudaSuccess)
        (void)cudaGetLastError(); /* Requests then fail one by one. */
    pthread_mutex_lock(&cd->stage_mu);
    for (;;) {
        while (!cd->stage_head && !cd->stage_stop)
            pthread_cond_wait(&cd->stage_cv, &cd->stage_mu);
        flo__cuda_xreq *q = cd->stage_head;
        if (!q)
            break; /* Stopping, and the queue has drained. */
        cd->stage_head = q->next;
        if (!cd->stage_head)
            cd->stage_tail = NULL;
        pthread_mutex_unlock(&cd->stage_mu);
        flo_status st = stage_run(cd, q);
        pthread_mutex_lock(&cd->stage_mu);
        if (q->kind != FLO__XREQ_D2H && q->gated) {
            free(q); /* Nobody waits on a gated request. */
            continue;
        }
        q->st = st;
        q->done = true;
        pthread_cond_broadcast(&cd->stage_done_cv);
    }
    pthread_mutex_unlock(&cd->stage_mu);
    return NULL;
}

/* Queue q; the caller holds stage_mu (src_ready was recorded in the same
 * critical section: see the FIFO argument at the top). */
static void stage_push_locked(flo__cuda_dev *cd, flo__cuda_xreq *q)
{
    q->next = NULL;
    if (cd->stage_tail)
        cd->stage_tail->next = q;
    else
        cd->stage_head = q;
    cd->stage_tail = q;
    pthread_cond_signal(&cd->stage_cv);
}

/* Caller holds stage_mu; returns with it held. */
static flo_status stage_wait_done_locked(flo__cuda_dev *cd, flo__cuda_xreq *q)
{
    while (!q->done)
        pthread_cond_wait(&cd->stage_done_cv, &cd->stage_mu);
    return q->st;
}

/* Under stage_mu: a private event of cd completed once ready is (a
 * replica's ready event, maybe of another GPU), recorded on d2h. */
static flo_status private_ready_locked(flo__cuda_dev *cd, cudaEvent_t ready,
                                       cudaEvent_t *out)
{
    cudaEvent_t ev;
    flo_status st = flo__cuda_ev_get(&cd->events, &ev);
    if (st)
        return st;
    st = FLO__CUDA(cudaStreamWaitEvent(cd->d2h, ready, 0));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaEventRecord(ev, cd->d2h));
    if (st) {
        flo__cuda_ev_put(&cd->events, ev);
        return st;
    }
    *out = ev;
    return FLO_OK;
}

flo_status flo__cuda_stage_fill(flo__cuda_dev *cd, int kind, void *dst,
                                const void *src, size_t bytes,
                                cudaEvent_t src_ev, cudaStream_t *used)
{
    flo__cuda_xreq *q = calloc(1, sizeof *q);
    flo_status st = FLO_OK;
    if (!q)
        return FLO_ENOMEM;
    q->kind = kind;
    q->dst = dst;
    q->src = src;
    q->bytes = bytes;
    q->gated = cd->gate_ok;

    pthread_mutex_lock(&cd->stage_mu);
    if (src_ev)
        st = private_ready_locked(cd, src_ev, &q->src_ready);
    if (st) {
        pthread_mutex_unlock(&cd->stage_mu);
        free(q);
        return st;
    }
    uint32_t seq = q->gated ? ++cd->gate_seq : 0;
    q->seq = seq;
    stage_push_locked(cd, q);
    if (!q->gated) {
        /* No stream memory operations: wait (correct, but the worker
         * blocks for the copy, as before the staging thread existed). */
        st = stage_wait_done_locked(cd, q);
        pthread_mutex_unlock(&cd->stage_mu);
        free(q);
        *used = cd->h2d;
        return st;
    }
    pthread_mutex_unlock(&cd->stage_mu);
    /* q belongs to the thread now. */
    CUresult r = wait_value32((CUstream)cd->gate, gate_addr(cd), seq,
                              CU_STREAM_WAIT_VALUE_GEQ);
    if (r != CUDA_SUCCESS) {
        FLO__ERR("GPU %d: cuStreamWaitValue32 failed (%d)", cd->node, (int)r);
        /* The copy may still write dst after the task failed and its
         * replica was freed: the device is not trustworthy any more. */
        flo__cuda_dev_fail(cd, cudaErrorUnknown, "waiting on the gate");
        return FLO_EDEVICE;
    }
    *used = cd->gate;
    return FLO_OK;
}

/* ---- Setup and teardown ------------------------------------------------ */

/* Check once that the gate works on this device: write then wait on the
 * gate stream itself and synchronise. */
static bool gate_probe(flo__cuda_dev *cd)
{
    if (!wait_value32 || !write_value32)
        return false;
    if (write_value32((CUstream)cd->gate, gate_addr(cd), 0,
                      CU_STREAM_WRITE_VALUE_DEFAULT) != CUDA_SUCCESS ||
        wait_value32((CUstream)cd->gate, gate_addr(cd), 0,
                     CU_STREAM_WAIT_VALUE_GEQ) != CUDA_SUCCESS ||
        cudaStreamSynchronize(cd->gate) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return true;
}

flo_status flo__cuda_stage_init(flo__cuda_dev *cd)
{
    flo_status st;
    /* The gate is off unless asked for (FLO_CUDA_STAGE_GATE=1): a
     * cuStreamWaitValue32 holds the GPU work queue it is mapped to, and
     * other streams' work mapped to the same hardware queue (this
     * thread's copies and flag writes among them, when streams outnumber
     * CUDA_DEVICE_MAX_CONNECTIONS) waits behind it. On an H200 with two
     * logical GPUs this deadlocked about one run in three of
     * test_cuda_transfers: the thread waited for a copy queued behind a
     * wait for a flag it had yet to write. */
    long v = 0;

    if (pthread_mutex_init(&cd->stage_mu, NULL))
        return FLO_ESYS;
    if (pthread_cond_init(&cd->stage_cv, NULL)) {
        pthread_mutex_destroy(&cd->stage_mu);
        return FLO_ESYS;
    }
    if (pthread_cond_init(&cd->stage_done_cv, NULL)) {
        pthread_cond_destroy(&cd->stage_cv);
        pthread_mutex_destroy(&cd->stage_mu);
        return FLO_ESYS;
    }
    /* From here flo__cuda_stage_fini undoes whatever was made. */
    cd->stage_inited = true;
    cudaStream_t *ss[] = {&cd->s_h2d, &cd->s_d2h, &cd->gate};
    for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++)
        if ((st = FLO__CUDA(
                 cudaStreamCreateWithFlags(ss[i], cudaStreamNonBlocking))))
            return st;
    for (int i = 0; i < 2; i++) {
        if ((st = FLO__CUDA(cudaMallocHost(&cd->xstage[i], cd->stage_bytes))))
            return st;
        if ((st = FLO__CUDA(cudaEventCreateWithFlags(&cd->xstage_ev[i],
                                                     cudaEventDisableTiming))))
            return st;
    }
    if ((st = FLO__CUDA(
             cudaMalloc((void **)&cd->gate_flag, sizeof *cd->gate_flag))))
        return st;
    if ((st = FLO__CUDA(cudaMemset(cd->gate_flag, 0, sizeof *cd->gate_flag))))
        return st;
    cd->gate_seq = 0;
    pthread_once(&memops_once, memops_load);
    if (!cd->plat->cfg->ignore_env)
        flo__env_int("FLO_CUDA_STAGE_GATE", &v);
    cd->gate_ok = v != 0 && gate_probe(cd);
    if (v != 0 && !cd->gate_ok)
        FLO__INFO("GPU %d: no stream memory operations; staged copies "
                  "block the worker",
                  cd->node);
    if (pthread_create(&cd->stage_thread, NULL, stage_main, cd))
        return FLO_ESYS;
    cd->stage_running = true;
    return FLO_OK;
}

void flo__cuda_stage_fini(flo__cuda_dev *cd)
{
    if (!cd->stage_inited)
        return;
    if (cd->stage_running) {
        pthread_mutex_lock(&cd->stage_mu);
        cd->stage_stop = true;
        pthread_cond_signal(&cd->stage_cv);
        pthread_mutex_unlock(&cd->stage_mu);
        pthread_join(cd->stage_thread, NULL);
        cd->stage_running = false;
    }
    cudaStream_t *ss[] = {&cd->s_h2d, &cd->s_d2h, &cd->gate};
    for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++)
        if (*ss[i]) {
            flo__cuda_release(cd, cudaStreamSynchronize(*ss[i]),
                              "waiting for a staging stream");
            flo__cuda_release(cd, cudaStreamDestroy(*ss[i]),
                              "destroying a staging stream");
            *ss[i] = NULL;
        }
    for (int i = 0; i < 2; i++) {
        if (cd->xstage[i])
            flo__cuda_release(cd, cudaFreeHost(cd->xstage[i]),
                              "freeing a staging buffer");
        if (cd->xstage_ev[i])
            flo__cuda_release(cd, cudaEventDestroy(cd->xstage_ev[i]),
                              "destroying a staging event");
        cd->xstage[i] = NULL;
        cd->xstage_ev[i] = NULL;
    }
    if (cd->gate_flag)
        flo__cuda_release(cd, cudaFree(cd->gate_flag), "freeing the gate flag");
    cd->gate_flag = NULL;
    pthread_cond_destroy(&cd->stage_done_cv);
    pthread_cond_destroy(&cd->stage_cv);
    pthread_mutex_destroy(&cd->stage_mu);
    cd->stage_inited = false;
}

/* ---- Transfer services (flo__device_xfer_ops) ------------------------- */

/* Whether [ptr, ptr + bytes) is page-locked already (cudaMallocHost, a
 * registration of the program's own): both ends are host memory CUDA
 * knows. cudaPointerGetAttributes reports plain pageable memory as
 * unregistered without an error. */
static bool host_locked_already(const void *ptr, size_t bytes)
{
    struct cudaPointerAttributes a, b;
    const char *last = (const char *)ptr + bytes - 1;
    bool locked = cudaPointerGetAttributes(&a, ptr) == cudaSuccess &&
                  cudaPointerGetAttributes(&b, last) == cudaSuccess &&
                  a.type == cudaMemoryTypeHost && b.type == cudaMemoryTypeHost;
    (void)cudaGetLastError();
    return locked;
}

/* Page-lock one buffer; the caller made the device current. */
static int host_pin_one(void *ptr, size_t bytes)
{
    int how = FLO__PIN_FAILED;
    /* Asked first, so that memory the program pinned itself is used as
     * is (never unpinned) without a failing registration. */
    if (host_locked_already(ptr, bytes)) {
        how = FLO__PIN_EXT;
    } else {
        cudaError_t e = cudaHostRegister(ptr, bytes, cudaHostRegisterPortable);
        if (e == cudaSuccess) {
            how = FLO__PIN_REG;
        } else {
            (void)cudaGetLastError();
            /* E.g. a page shared with a registration of another handle:
             * pageable from the runtime's point of view. */
            FLO__DEBUG("cudaHostRegister(%zu bytes): %s; pageable", bytes,
                       cudaGetErrorName(e));
        }
    }
    return how;
}

static int xfer_host_pin(flo__device *dev, void *ptr, size_t bytes)
{
    flo__cuda_dev *cd = dev->priv;
    int old = flo__cuda_use_device(cd->ordinal);
    int how = host_pin_one(ptr, bytes);
    flo__cuda_restore_device(old, cd->ordinal);
    return how;
}

static void xfer_host_pin_many(flo__device *dev, size_t n, void *const *ptrs,
                               const size_t *bytes, uint8_t *how)
{
    flo__cuda_dev *cd = dev->priv;
    int old = flo__cuda_use_device(cd->ordinal);
    for (size_t i = 0; i < n; i++)
        how[i] = (uint8_t)host_pin_one(ptrs[i], bytes[i]);
    flo__cuda_restore_device(old, cd->ordinal);
}

static void xfer_host_unpin(flo__device *dev, void *ptr)
{
    flo__cuda_dev *cd = dev->priv;
    int old = flo__cuda_use_device(cd->ordinal);
    if (cudaHostUnregister(ptr) != cudaSuccess)
        (void)cudaGetLastError(); /* The memory stays usable. */
    flo__cuda_restore_device(old, cd->ordinal);
}

static void *xfer_host_alloc(flo__device *dev, size_t bytes)
{
    flo__cuda_dev *cd = dev->priv;
    void *p = NULL;
    int old = flo__cuda_use_device(cd->ordinal);
    if (cudaHostAlloc(&p, bytes, cudaHostAllocPortable) != cudaSuccess) {
        (void)cudaGetLastError();
        p = NULL;
    }
    flo__cuda_restore_device(old, cd->ordinal);
    return p;
}

static void xfer_host_free(flo__device *dev, void *ptr)
{
    flo__cuda_dev *cd = dev->priv;
    int old = flo__cuda_use_device(cd->ordinal);
    if (cudaFreeHost(ptr) != cudaSuccess)
        (void)cudaGetLastError();
    flo__cuda_restore_device(old, cd->ordinal);
}

flo_status flo__cuda_home_enqueue(flo__cuda_dev *cd, flo__data *d, void *dst,
                                  bool dst_locked, cudaEvent_t after, int refs,
                                  void **token)
{
    flo__replica *r = &d->rep[cd->node];
    flo_status st = FLO_OK;
    if (atomic_load(&cd->failed))
        return FLO_EDEVICE;
    if (!r->ptr)
        return FLO_EINTERNAL;
    if (!after)
        after = (cudaEvent_t)r->ready;
    flo__cuda_xreq *q = calloc(1, sizeof *q);
    if (!q)
        return FLO_ENOMEM;
    q->dst = dst;
    q->src = r->ptr;
    q->bytes = d->bytes;
    atomic_init(&q->refs, refs);
    int old = flo__cuda_use_device(cd->ordinal);
    if (dst_locked) {
        /* Direct: d2h waits for what must come first (the copy that
         * filled r, or the task that wrote it), then copies; ev marks the
         * end. */
        q->kind = FLO__XREQ_HOME;
        st = flo__cuda_ev_get(&cd->events, &q->ev);
        if (st == FLO_OK && after)
            st = FLO__CUDA(cudaStreamWaitEvent(cd->d2h, after, 0));
        if (st == FLO_OK)
            st = FLO__CUDA(cudaMemcpyAsync(dst, r->ptr, d->bytes,
                                           cudaMemcpyDeviceToHost, cd->d2h));
        if (st == FLO_OK)
            st = FLO__CUDA(cudaEventRecord(q->ev, cd->d2h));
        if (st && q->ev)
            flo__cuda_ev_put(&cd->events, q->ev);
    } else {
        q->kind = FLO__XREQ_D2H;
        pthread_mutex_lock(&cd->stage_mu);
        if (after)
            st = private_ready_locked(cd, after, &q->src_ready);
        if (st == FLO_OK)
            stage_push_locked(cd, q);
        pthread_mutex_unlock(&cd->stage_mu);
    }
    flo__cuda_restore_device(old, cd->ordinal);
    if (st) {
        free(q);
        return st;
    }
    *token = q;
    return FLO_OK;
}

/* Called under d->coh_lock: only enqueues. */
static flo_status xfer_home_start(flo__device *dev, flo__data *d, void *dst,
                                  bool dst_locked, void **token)
{
    return flo__cuda_home_enqueue(dev->priv, d, dst, dst_locked, NULL, 1,
                                  token);
}

flo_status flo__cuda_home_query(flo__cuda_dev *cd, void *token, bool wait)
{
    flo__cuda_xreq *q = token;
    cudaError_t e = wait ? cudaEventSynchronize(q->ev) : cudaEventQuery(q->ev);
    if (e == cudaSuccess)
        return FLO_OK;
    if (e == cudaErrorNotReady)
        return FLO_INPROGRESS;
    flo_status st = FLO__CUDA(e);
    (void)cudaGetLastError();
    if (flo__cuda_error_is_sticky(e))
        flo__cuda_dev_fail(cd, e, "a copy to the host");
    return st;
}

flo_status flo__cuda_home_order(void *token, cudaStream_t stream)
{
    flo__cuda_xreq *q = token;
    if (q->kind != FLO__XREQ_HOME)
        return FLO_OK;
    return FLO__CUDA(cudaStreamWaitEvent(stream, q->ev, 0));
}

/* No lock held; several threads may wait on one token. */
static flo_status xfer_home_wait(flo__device *dev, void *token)
{
    flo__cuda_dev *cd = dev->priv;
    flo__cuda_xreq *q = token;
    flo_status st;
    if (q->kind == FLO__XREQ_HOME)
        return flo__cuda_home_query(cd, q, true);
    pthread_mutex_lock(&cd->stage_mu);
    st = stage_wait_done_locked(cd, q);
    pthread_mutex_unlock(&cd->stage_mu);
    return st;
}

static void xfer_home_release(flo__device *dev, void *token)
{
    flo__cuda_dev *cd = dev->priv;
    flo__cuda_xreq *q = token;
    if (!q || atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    if (q->ev)
        flo__cuda_ev_put(&cd->events, q->ev);
    free(q);
}

const flo__device_xfer_ops flo__cuda_xfer_ops = {
    .host_pin = xfer_host_pin,
    .host_pin_many = xfer_host_pin_many,
    .host_unpin = xfer_host_unpin,
    .host_alloc = xfer_host_alloc,
    .host_free = xfer_host_free,
    .home_start = xfer_home_start,
    .home_wait = xfer_home_wait,
    .home_release = xfer_home_release,
    .user_mem_check = flo__cuda_user_mem_check,
    .pull_sync = flo__cuda_pull_sync,
};
