/*
 * Flotilla CUDA backend - finding GPUs, creating one logical device and
 * its worker per GPU (or several per GPU in the logical_gpus debug mode),
 * with every stream, event, pool and staging buffer the worker will use
 * (and its staging thread, cuda_stage.c);
 * tearing them down; bandwidth figures.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>
#include <hwloc/cudart.h>

#include "device/cuda/cuda_backend.h"

/* Nominal bandwidths, bytes per ns (= GB/s): PCIe host links, a device's
 * own memory (copies between logical devices of one GPU), NVLink-class
 * peer links. Used by placement; flo-info --bandwidth measures them. */
#define FLO__CUDA_BW_HOST 25.0
#define FLO__CUDA_BW_SAME 1000.0
#define FLO__CUDA_BW_PEER 100.0

#define FLO__CUDA_DEFAULT_INFLIGHT 1024
#define FLO__CUDA_DEFAULT_STAGE (4u << 20)
#define FLO__CUDA_EVENTS 2048

static int next_pow2(int x)
{
    int p = 1;
    while (p < x)
        p *= 2;
    return p;
}

flo__cuda_dev *flo__cuda_dev_get(const flo__platform *plat, int dev)
{
    if (!plat || dev <= 0 || dev >= plat->ndevices || dev >= FLO__MAX_NODES)
        return NULL;
    flo__device *d = plat->devices[dev];
    if (!d || d->kind != FLO_DEVICE_CUDA || d->ops != &flo__cuda_ops)
        return NULL;
    return d->priv;
}

bool flo__cuda_can_peer(int a, int b)
{
    if (a == b)
        return true;
    int ok = 0;
    if (cudaDeviceCanAccessPeer(&ok, a, b) != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return ok != 0;
}

double flo__cuda_link_bw(const flo__platform *plat, int src, int dst)
{
    if (!plat || src < 0 || dst < 0 || src >= plat->ndevices ||
        dst >= plat->ndevices)
        return 0.0;
    if (src == dst)
        return FLO__CUDA_BW_SAME;
    flo__cuda_dev *s = flo__cuda_dev_get(plat, src);
    flo__cuda_dev *d = flo__cuda_dev_get(plat, dst);
    if (!s && !d)
        return 0.0; /* Host to host. */
    if (!s)
        return plat->devices[dst]->h2d_bw;
    if (!d)
        return plat->devices[src]->d2h_bw;
    if (d->p2p_enabled && d->peer[src])
        return s->ordinal == d->ordinal ? FLO__CUDA_BW_SAME : FLO__CUDA_BW_PEER;
    /* Staged: a synchronous read then a write through the host. */
    double a = plat->devices[src]->d2h_bw, b = plat->devices[dst]->h2d_bw;
    return a * b / (a + b);
}

/* ---- Choosing GPUs ---------------------------------------------------- */

/* Parse "0,2,3" into ordinals; FLO_EINVAL for junk, out-of-range or
 * repeated ordinals. */
static flo_status parse_list(const char *s, int ngpu, int *out, int *n)
{
    int k = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v >= ngpu) {
            FLO__ERR("gpu_list \"%s\": bad or absent CUDA ordinal at \"%s\" "
                     "(%d GPUs visible)",
                     s, p, ngpu);
            return FLO_EINVAL;
        }
        for (int j = 0; j < k; j++)
            if (out[j] == (int)v) {
                FLO__ERR("gpu_list \"%s\": ordinal %ld twice", s, v);
                return FLO_EINVAL;
            }
        if (k == FLO__MAX_NODES - 1)
            return FLO_ERANGE;
        out[k++] = (int)v;
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    if (k == 0)
        return FLO_EINVAL;
    *n = k;
    return FLO_OK;
}

static flo_status select_gpus(flo__platform *plat, int ngpu, int *ord, int *n)
{
    const flo_config *cfg = plat->cfg;
    int k = 0;
    if (cfg->gpu_list && cfg->gpu_list[0]) {
        flo_status st = parse_list(cfg->gpu_list, ngpu, ord, &k);
        if (st)
            return st;
    } else {
        int size = plat->node_size > 1 ? plat->node_size : 1;
        int rank = plat->node_size > 1 ? plat->node_rank : 0;
        for (int i = 0; i < ngpu && k < FLO__MAX_NODES - 1; i++)
            if (i % size == rank)
                ord[k++] = i;
    }
    if (cfg->gpus > 0 && cfg->gpus < k)
        k = cfg->gpus;
    else if (cfg->gpus > k)
        FLO__WARN("%d GPUs asked for, %d available: using %d", cfg->gpus, k, k);
    if (k == 0)
        return FLO_ENODEV;
    *n = k;
    return FLO_OK;
}

/* ---- Creating a logical device ---------------------------------------- */

static long env_long(flo__platform *plat, const char *name, long dflt)
{
    long v;
    if (plat->cfg->ignore_env || !flo__env_int(name, &v))
        return dflt;
    return v;
}

/* Teardown: every release is checked through flo__cuda_release (silent
 * on a device that already failed, where every call fails). */
static void dev_destroy(flo__cuda_dev *cd)
{
    int old = flo__cuda_use_device(cd->ordinal);
    for (int s = 0; s < cd->nstreams + cd->nhi; s++)
        if (cd->compute[s])
            flo__cuda_release(cd, cudaStreamSynchronize(cd->compute[s]),
                              "waiting for a compute stream");
    /* The staging thread drains its queue and stops before the buffers,
     * events and streams it uses go away. */
    flo__cuda_stage_fini(cd);
    flo__cuda_mem_fini(cd);
    free(cd->rest); /* Settled when the worker stopped. */
    for (int i = 0; i < FLO__CUDA_NSTAGE; i++) {
        if (cd->stage[i])
            flo__cuda_release(cd, cudaFreeHost(cd->stage[i]),
                              "freeing a staging buffer");
        if (cd->stage_ev[i])
            flo__cuda_release(cd, cudaEventDestroy(cd->stage_ev[i]),
                              "destroying a staging event");
    }
    for (int i = 0; i < 2; i++) {
        if (cd->dstage[i])
            flo__cuda_release(cd, cudaFreeHost(cd->dstage[i]),
                              "freeing a staging buffer");
        if (cd->dstage_ev[i])
            flo__cuda_release(cd, cudaEventDestroy(cd->dstage_ev[i]),
                              "destroying a staging event");
    }
    /* Events still referenced by replicas went back to the pool in
     * replica_free / mem_fini; those of finished ops are in the pool. */
    flo__cuda_release(cd, flo__cuda_evpool_fini(&cd->events),
                      "destroying the event pool");
    flo__cuda_release(cd, flo__cuda_evpool_fini(&cd->tevents),
                      "destroying the timed event pool");
    if (cd->t_ref)
        flo__cuda_release(cd, cudaEventDestroy(cd->t_ref),
                          "destroying the trace's reference event");
    for (int s = 0; s < cd->nstreams + cd->nhi; s++) {
        if (cd->compute[s])
            flo__cuda_release(cd, cudaStreamDestroy(cd->compute[s]),
                              "destroying a compute stream");
        for (unsigned i = 0; cd->fifo[s].ops && i < cd->fifo[s].cap; i++)
            free(cd->fifo[s].ops[i].pin);
        free(cd->fifo[s].ops);
        if (cd->fifo[s].sw_host)
            flo__cuda_release(cd, cudaFreeHost(cd->fifo[s].sw_host),
                              "freeing the status-word slots");
    }
    cudaStream_t *cs[] = {&cd->h2d, &cd->d2h, &cd->p2p, &cd->alloc};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        if (*cs[i])
            flo__cuda_release(cd, cudaStreamDestroy(*cs[i]),
                              "destroying a copy stream");
    pthread_mutex_destroy(&cd->mem_mu);
    pthread_mutex_destroy(&cd->d2h_mu);
    flo__cuda_restore_device(old, cd->ordinal);
    free(cd);
}

void flo__cuda_fini(flo__device *dev)
{
    /* The core frees dev itself after every device's fini. */
    if (dev && dev->priv)
        dev_destroy(dev->priv);
    if (dev)
        dev->priv = NULL;
}

/* A compute stream's in-flight queue of cap ops, and its status-word
 * slots when small (else allocated on first use by the worker). */
static flo_status fifo_init(flo__cuda_fifo *f, unsigned cap)
{
    f->cap = cap;
    f->ops = calloc(cap, sizeof(flo__cuda_op));
    if (!f->ops)
        return FLO_ENOMEM;
    size_t sw = (size_t)cap * FLO__CUDA_OP_WORDS * sizeof(int);
    if (sw <= (64u << 10)) {
        void *p = NULL;
        flo_status st = FLO__CUDA(cudaMallocHost(&p, sw));
        if (st)
            return st;
        f->sw_host = p;
    }
    return FLO_OK;
}

/*
 * Scheduling on the GPU (see cuda_worker.c), after the normal streams:
 * - FLO_GPU_WINDOW: tasks in flight per GPU (default 4 per normal
 *   compute stream; 0 or more than FLO_CUDA_MAX_INFLIGHT: that maximum).
 *   A bounded window also records completion events often enough (every
 *   half window per stream) for the queue to refill before it drains.
 * - FLO_CUDA_WINDOW_SPIN_NS: how long a worker with a full window polls
 *   before sleeping (default 1 ms).
 * - FLO_CUDA_PRIO_STREAMS: high-priority compute streams (default as
 *   many as normal ones, within FLO__CUDA_MAX_STREAMS in all; 0: none;
 *   none either when the GPU has a single stream priority).
 * - FLO_CUDA_TIME_EVERY: without tracing, time the first 4 tasks of each
 *   name and one in n after (default 16; 0: never) when the policy
 *   learns from task times.
 */
static flo_status sched_setup(flo__platform *plat, flo__cuda_dev *cd,
                              unsigned cap)
{
    long win = env_long(plat, "FLO_GPU_WINDOW", 4L * cd->nstreams);
    if (win <= 0 || win > cd->max_inflight)
        win = cd->max_inflight;
    cd->window = (int)win;
    if (cd->window < cd->max_inflight) {
        int half = cd->window / cd->nstreams / 2;
        if (half < 1)
            half = 1;
        if (cd->event_every > half)
            cd->event_every = half;
    }
    long sp = env_long(plat, "FLO_CUDA_WINDOW_SPIN_NS", 1000000);
    cd->window_spin_ns = sp > 0 ? (uint64_t)sp : 0;
    long te = env_long(plat, "FLO_CUDA_TIME_EVERY", 16);
    cd->time_every = te > 0 && te < (1L << 30) ? (int)te : 0;

    long nhi = env_long(plat, "FLO_CUDA_PRIO_STREAMS", cd->nstreams);
    if (nhi < 0)
        nhi = 0;
    if (nhi > FLO__CUDA_MAX_STREAMS - cd->nstreams)
        nhi = FLO__CUDA_MAX_STREAMS - cd->nstreams;
    int least = 0, greatest = 0;
    if (nhi > 0 &&
        cudaDeviceGetStreamPriorityRange(&least, &greatest) != cudaSuccess) {
        (void)cudaGetLastError();
        greatest = least;
    }
    if (greatest == least)
        nhi = 0; /* No priorities on this GPU. */
    for (int i = 0; i < (int)nhi; i++) {
        int s = cd->nstreams + i;
        flo_status st = FLO__CUDA(cudaStreamCreateWithPriority(
            &cd->compute[s], cudaStreamNonBlocking, greatest));
        if (st)
            return st;
        cd->nhi = i + 1;
        if ((st = fifo_init(&cd->fifo[s], cap)))
            return st;
    }
    return FLO_OK;
}

/* Create the CUDA state of one logical device (the caller made its GPU
 * current). */
static flo_status dev_create(flo__platform *plat, int ordinal, int logical,
                             const struct cudaDeviceProp *prop,
                             flo__cuda_dev **out)
{
    flo_status st = FLO_ENOMEM;
    flo__cuda_dev *cd = calloc(1, sizeof *cd);
    if (!cd)
        return FLO_ENOMEM;
    cd->plat = plat;
    cd->ordinal = ordinal;
    cd->logical = logical;
    cd->sms = prop->multiProcessorCount;
    cd->mem_total = prop->totalGlobalMem;
    if (cudaDeviceGetPCIBusId(cd->pci, sizeof cd->pci, ordinal) !=
        cudaSuccess) {
        (void)cudaGetLastError();
        snprintf(cd->pci, sizeof cd->pci, "?");
    }
    if (pthread_mutex_init(&cd->mem_mu, NULL)) {
        free(cd);
        return FLO_ESYS;
    }
    if (pthread_mutex_init(&cd->d2h_mu, NULL)) {
        pthread_mutex_destroy(&cd->mem_mu);
        free(cd);
        return FLO_ESYS;
    }
    cd->p2p_enabled = env_long(plat, "FLO_CUDA_P2P", 1) != 0;
    cd->spin_ns = (uint64_t)env_long(plat, "FLO_CUDA_SPIN_NS", 20000);
    cd->max_inflight = (int)env_long(plat, "FLO_CUDA_MAX_INFLIGHT",
                                     FLO__CUDA_DEFAULT_INFLIGHT);
    if (cd->max_inflight < 1 || cd->max_inflight > (1 << 20))
        cd->max_inflight = FLO__CUDA_DEFAULT_INFLIGHT;
    cd->event_every = (int)env_long(plat, "FLO_CUDA_EVENT_EVERY", 8);
    if (cd->event_every < 1 || cd->event_every > 1024)
        cd->event_every = 8;
    long sb = env_long(plat, "FLO_CUDA_STAGE_BYTES", FLO__CUDA_DEFAULT_STAGE);
    cd->stage_bytes = sb >= 4096 ? (size_t)sb : FLO__CUDA_DEFAULT_STAGE;

    int ns = plat->cfg->streams_per_gpu > 0 ? plat->cfg->streams_per_gpu : 2;
    if (ns > FLO__CUDA_MAX_STREAMS)
        ns = FLO__CUDA_MAX_STREAMS;
    unsigned cap = (unsigned)next_pow2(cd->max_inflight);
    for (int s = 0; s < ns; s++) {
        st = FLO__CUDA(
            cudaStreamCreateWithFlags(&cd->compute[s], cudaStreamNonBlocking));
        cd->nstreams = s + 1;
        if (st)
            goto fail;
        if ((st = fifo_init(&cd->fifo[s], cap)))
            goto fail;
    }
    /* Scheduling knobs, then the high-priority streams. */
    if ((st = sched_setup(plat, cd, cap)))
        goto fail;
    cudaStream_t *cs[] = {&cd->h2d, &cd->d2h, &cd->p2p, &cd->alloc};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        if ((st = FLO__CUDA(
                 cudaStreamCreateWithFlags(cs[i], cudaStreamNonBlocking))))
            goto fail;

    if ((st = flo__cuda_evpool_init(&cd->events, ordinal,
                                    cudaEventDisableTiming, FLO__CUDA_EVENTS)))
        goto fail;
    if ((st = flo__cuda_evpool_init(&cd->tevents, ordinal, cudaEventDefault,
                                    plat->trace ? 4 * cd->max_inflight + 64
                                                : 0)))
        goto fail;
    if ((st = FLO__CUDA(cudaEventCreate(&cd->t_ref))))
        goto fail;
    for (int i = 0; i < FLO__CUDA_NSTAGE; i++) {
        if ((st = FLO__CUDA(cudaMallocHost(&cd->stage[i], cd->stage_bytes))))
            goto fail;
        if ((st = FLO__CUDA(cudaEventCreateWithFlags(&cd->stage_ev[i],
                                                     cudaEventDisableTiming))))
            goto fail;
    }
    for (int i = 0; i < 2; i++) {
        if ((st = FLO__CUDA(cudaMallocHost(&cd->dstage[i], cd->stage_bytes))))
            goto fail;
        if ((st = FLO__CUDA(cudaEventCreateWithFlags(&cd->dstage_ev[i],
                                                     cudaEventDisableTiming))))
            goto fail;
    }
    if ((st = flo__cuda_mem_init(cd)))
        goto fail;
    /* Staging thread, its streams and buffers, the gate (off unless
     * FLO_CUDA_STAGE_GATE=1: staged copies then block the worker). */
    if ((st = flo__cuda_stage_init(cd)))
        goto fail;
    *out = cd;
    return FLO_OK;
fail:
    dev_destroy(cd);
    return st;
}

static void fill_info(flo__cuda_dev *cd, flo__device *dev,
                      const struct cudaDeviceProp *prop)
{
    dev->kind = FLO_DEVICE_CUDA;
    dev->ops = &flo__cuda_ops;
    dev->priv = cd;
    dev->info.kind = FLO_DEVICE_CUDA;
    dev->info.ordinal = cd->ordinal;
    dev->info.logical_index = cd->logical;
    dev->info.workers = 1;
    dev->info.memory_bytes = prop->totalGlobalMem;
    size_t len = strnlen(prop->name, sizeof dev->info.name - 1);
    memcpy(dev->info.name, prop->name, len); /* Truncated if longer. */
    dev->info.name[len] = '\0';
    dev->h2d_bw = FLO__CUDA_BW_HOST;
    dev->d2h_bw = FLO__CUDA_BW_HOST;
    dev->xfer = &flo__cuda_xfer_ops;
    cd->dev = dev;
}

/* The worker's core: a free one near the GPU when hwloc knows. */
static int pick_core(flo__platform *plat, int ordinal)
{
    if (plat->cfg->no_bind)
        return -1;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    bool near =
        set && !plat->topo->synthetic &&
        hwloc_cudart_get_device_cpuset(plat->topo->topo, ordinal, set) == 0 &&
        !hwloc_bitmap_iszero(set);
    int core = flo__topology_claim_core(plat->topo, near ? set : NULL);
    if (set)
        hwloc_bitmap_free(set);
    return core;
}

static void trace_rows(flo__platform *plat, flo__cuda_dev *cd)
{
    char name[96];
    for (int s = 0; s < cd->nstreams + cd->nhi; s++) {
        snprintf(name, sizeof name, "gpu %d (cuda %d.%d) stream %d%s", cd->node,
                 cd->ordinal, cd->logical, s,
                 s >= cd->nstreams ? " (high priority)" : "");
        cd->row_compute[s] = flo__trace_row(plat->trace, name);
    }
    snprintf(name, sizeof name, "gpu %d (cuda %d.%d) h2d copies", cd->node,
             cd->ordinal, cd->logical);
    cd->row_h2d = flo__trace_row(plat->trace, name);
    snprintf(name, sizeof name, "gpu %d (cuda %d.%d) peer copies", cd->node,
             cd->ordinal, cd->logical);
    cd->row_p2p = flo__trace_row(plat->trace, name);
}

/* Peer access between the physical GPUs in use, and the matching access
 * to each other's memory pools. Failures only disable the direct path. */
static void enable_peers(flo__platform *plat, int first, int last)
{
    for (int a = first; a <= last; a++) {
        flo__cuda_dev *ca = flo__cuda_dev_get(plat, a);
        for (int b = first; b <= last; b++) {
            flo__cuda_dev *cb = flo__cuda_dev_get(plat, b);
            if (a == b)
                continue;
            if (ca->ordinal == cb->ordinal) {
                ca->peer[b] = true;
                continue;
            }
            if (!flo__cuda_can_peer(ca->ordinal, cb->ordinal) ||
                FLO__CUDA(cudaSetDevice(ca->ordinal)))
                continue;
            cudaError_t e = cudaDeviceEnablePeerAccess(cb->ordinal, 0);
            if (e == cudaErrorPeerAccessAlreadyEnabled)
                e = cudaSuccess;
            (void)cudaGetLastError();
            struct cudaMemAccessDesc acc;
            memset(&acc, 0, sizeof acc);
            acc.location.type = cudaMemLocationTypeDevice;
            acc.location.id = ca->ordinal;
            acc.flags = cudaMemAccessFlagsProtReadWrite;
            if (e == cudaSuccess)
                e = cudaMemPoolSetAccess(cb->pool, &acc, 1);
            if (e == cudaSuccess)
                ca->peer[b] = true;
            else {
                FLO__WARN("peer access cuda %d -> %d: %s; staging through "
                          "the host",
                          ca->ordinal, cb->ordinal, cudaGetErrorName(e));
                (void)cudaGetLastError();
            }
        }
    }
}

static flo_status cuda_probe(flo__platform *plat, int *ngpus)
{
    if (!plat || !ngpus)
        return FLO_EINVAL;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        (void)cudaGetLastError();
        FLO__INFO("CUDA: no GPU visible (%s)",
                  e == cudaSuccess ? "0 devices" : cudaGetErrorName(e));
        return FLO_ENODEV;
    }
    int ord[FLO__MAX_NODES], nsel = 0;
    flo_status st = select_gpus(plat, n, ord, &nsel);
    if (st)
        return st;
    int logical = plat->cfg->logical_gpus > 0 ? plat->cfg->logical_gpus : 1;
    int room = FLO__MAX_NODES - plat->ndevices;
    if (room <= 0)
        return FLO_ERANGE;
    if (nsel * logical > room) {
        FLO__WARN("%d GPUs x %d logical devices exceed %d memory nodes; "
                  "using %d",
                  nsel, logical, FLO__MAX_NODES, room);
        if (logical > room)
            logical = room;
        if (nsel * logical > room)
            nsel = room / logical;
    }

    int old = -1;
    if (cudaGetDevice(&old) != cudaSuccess)
        old = -1;
    int first = -1, last = -1, made = 0;
    for (int i = 0; i < nsel; i++) {
        struct cudaDeviceProp prop;
        if ((st = FLO__CUDA(cudaGetDeviceProperties(&prop, ord[i]))))
            goto out;
        if ((st = FLO__CUDA(cudaSetDevice(ord[i]))))
            goto out;
        for (int l = 0; l < logical; l++) {
            flo__cuda_dev *cd = NULL;
            if ((st = dev_create(plat, ord[i], l, &prop, &cd)))
                goto out;
            flo__device *dev = calloc(1, sizeof *dev);
            if (!dev) {
                dev_destroy(cd);
                st = FLO_ENOMEM;
                goto out;
            }
            fill_info(cd, dev, &prop);
            if ((st = flo__platform_add(plat, dev))) {
                dev_destroy(cd);
                free(dev);
                goto out;
            }
            /* From here the platform owns dev: flo__platform_fini calls
             * ops->fini on it. flo_init makes its worker, bound to the
             * core claimed here. */
            cd->node = dev->index;
            if (first < 0)
                first = dev->index;
            last = dev->index;
            if (plat->trace)
                trace_rows(plat, cd);
            dev->worker_core = pick_core(plat, ord[i]);
            made++;
            FLO__INFO("GPU %d: %s (cuda %d.%d, %s, %d SMs, %zu MiB), "
                      "worker on core %d",
                      cd->node, prop.name, ord[i], l, cd->pci, cd->sms,
                      cd->mem_total >> 20, dev->worker_core);
        }
    }
    if (first >= 0)
        enable_peers(plat, first, last);
out:
    flo__cuda_restore_device(old, -1);
    if (st == FLO_OK)
        *ngpus = made;
    return st;
}

const flo__backend flo__cuda_backend = {
    .name = "cuda",
    .kind = FLO_DEVICE_CUDA,
    .probe = cuda_probe,
};

/* ---- Bandwidth measurement (flo-info --bandwidth) --------------------- */

/* A release after the measurement: its failure (a leak, or a broken
 * device) is the result when nothing failed before. */
static flo_status then(flo_status st, flo_status release)
{
    return st != FLO_OK ? st : release;
}

static flo_status measure(int dev, void *dst, const void *src, size_t bytes,
                          int reps, int peer_src, int peer_dst, double *out)
{
    cudaStream_t s = NULL;
    cudaEvent_t a = NULL, b = NULL;
    float *ms = calloc((size_t)(reps > 0 ? reps : 1), sizeof *ms);
    flo_status st = ms ? FLO_OK : FLO_ENOMEM;
    if (st == FLO_OK)
        st = FLO__CUDA(cudaSetDevice(dev));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaEventCreate(&a));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaEventCreate(&b));
    for (int i = -1; st == FLO_OK && i < reps; i++) {
        st = FLO__CUDA(cudaEventRecord(a, s));
        if (st == FLO_OK)
            st = peer_src >= 0
                     ? FLO__CUDA(cudaMemcpyPeerAsync(dst, peer_dst, src,
                                                     peer_src, bytes, s))
                     : FLO__CUDA(cudaMemcpyAsync(dst, src, bytes,
                                                 cudaMemcpyDefault, s));
        if (st == FLO_OK)
            st = FLO__CUDA(cudaEventRecord(b, s));
        if (st == FLO_OK)
            st = FLO__CUDA(cudaEventSynchronize(b));
        if (st == FLO_OK && i >= 0)
            st = FLO__CUDA(cudaEventElapsedTime(&ms[i], a, b));
    }
    if (st == FLO_OK) {
        /* Median by insertion sort (reps is small). */
        for (int i = 1; i < reps; i++)
            for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
                float t = ms[j];
                ms[j] = ms[j - 1];
                ms[j - 1] = t;
            }
        double med = ms[reps / 2];
        *out = med > 0 ? (double)bytes / (med * 1e-3) : 0.0;
    }
    if (b)
        st = then(st, FLO__CUDA(cudaEventDestroy(b)));
    if (a)
        st = then(st, FLO__CUDA(cudaEventDestroy(a)));
    if (s)
        st = then(st, FLO__CUDA(cudaStreamDestroy(s)));
    free(ms);
    return st;
}

static flo_status measure_host(int ordinal, size_t bytes, int reps,
                               bool to_device, double *out)
{
    if (bytes == 0 || reps <= 0 || !out)
        return FLO_EINVAL;
    void *h = NULL, *d = NULL;
    flo_status st = FLO__CUDA(cudaSetDevice(ordinal));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaMallocHost(&h, bytes));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaMalloc(&d, bytes));
    if (st == FLO_OK)
        st = to_device ? measure(ordinal, d, h, bytes, reps, -1, -1, out)
                       : measure(ordinal, h, d, bytes, reps, -1, -1, out);
    if (d)
        st = then(st, FLO__CUDA(cudaFree(d)));
    if (h)
        st = then(st, FLO__CUDA(cudaFreeHost(h)));
    return st;
}

flo_status flo__cuda_measure_h2d(int ordinal, size_t bytes, int reps,
                                 double *out)
{
    return measure_host(ordinal, bytes, reps, true, out);
}

flo_status flo__cuda_measure_d2h(int ordinal, size_t bytes, int reps,
                                 double *out)
{
    return measure_host(ordinal, bytes, reps, false, out);
}

flo_status flo__cuda_measure_p2p(int src, int dst, size_t bytes, int reps,
                                 double *out)
{
    if (bytes == 0 || reps <= 0 || !out)
        return FLO_EINVAL;
    void *a = NULL, *b = NULL;
    flo_status st = FLO__CUDA(cudaSetDevice(src));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaMalloc(&a, bytes));
    if (st == FLO_OK && src != dst && flo__cuda_can_peer(dst, src)) {
        cudaError_t e = cudaDeviceEnablePeerAccess(dst, 0);
        if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled)
            st = FLO__CUDA(e);
        (void)cudaGetLastError();
    }
    if (st == FLO_OK)
        st = FLO__CUDA(cudaSetDevice(dst));
    if (st == FLO_OK)
        st = FLO__CUDA(cudaMalloc(&b, bytes));
    if (st == FLO_OK && src != dst && flo__cuda_can_peer(dst, src)) {
        cudaError_t e = cudaDeviceEnablePeerAccess(src, 0);
        if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled)
            st = FLO__CUDA(e);
        (void)cudaGetLastError();
    }
    if (st == FLO_OK)
        st = measure(dst, b, a, bytes, reps, src, dst, out);
    if (b)
        st = then(st, FLO__CUDA(cudaFree(b)));
    if (a) {
        st = then(st, FLO__CUDA(cudaSetDevice(src)));
        st = then(st, FLO__CUDA(cudaFree(a)));
    }
    return st;
}
