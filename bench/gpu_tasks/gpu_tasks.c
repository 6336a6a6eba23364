/*
 * bench/gpu_tasks - the cost of a GPU task next to the raw CUDA a user
 * would otherwise write, measured in one process and one run:
 *
 *   empty_kernels   N empty kernels as Flotilla tasks vs launched raw in a
 *                   loop on one stream (ns per kernel).
 *   chain           N dependent tasks (read-write on one handle) vs raw
 *                   launch + cudaStreamSynchronize (ns per round trip).
 *   alloc           allocate + free through the backend's pool vs
 *                   cudaMalloc/cudaFree and cudaMallocAsync/cudaFreeAsync
 *                   (ns per pair).
 *   overlap         tasks each reading a fresh host buffer and running a
 *                   kernel of about the copy's length, vs serialised
 *                   memcpy + kernel + sync: with copies of task N+1 under
 *                   the kernel of task N, the ratio approaches 0.5.
 *
 * Exits 77 (skip) without a GPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "device/cuda/cuda_backend.h"
#include "gpu_tasks_kernels.h"
#include "scheduler/sched.h"

static const char usage[] =
    "usage: gpu_tasks [--tasks N] [--chain N] [--allocs N] [--alloc-bytes B]\n"
    "                 [--overlap-tasks N] [--overlap-bytes B]\n"
    "                 [--devices N] [--streams N] [--trace PATH]\n"
    "                 [--only empty|chain|graph|alloc|overlap]\n"
    "  --tasks N          empty kernels per repetition (default 20000;\n"
    "                     the issue's figure uses 100000)\n"
    "  --chain N          dependent tasks per repetition (default 2000)\n"
    "  --allocs N         allocate/free pairs (default 20000)\n"
    "  --alloc-bytes B    bytes per allocation (default 1048576)\n"
    "  --overlap-tasks N  tasks in the overlap case (default 32)\n"
    "  --overlap-bytes B  bytes each overlap task reads (default 8 MiB)\n"
    "  --devices N        GPUs the runtime uses (default 1); empty kernels\n"
    "                     are spread over them\n"
    "  --streams N        compute streams per GPU (default: runtime's)\n"
    "  --trace PATH       write a Chrome trace of the overlap case\n";

static const flo_kernel k_empty = {"empty", NULL, gb_cuda_empty};
static const flo_kernel k_touch = {"touch", NULL, gb_cuda_touch};
static const flo_kernel k_spin = {"read_spin", NULL, gb_cuda_read_spin};

static flo_runtime *start(int devices, int streams, const char *trace)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = devices;
    cfg.host_workers = 1;
    if (streams > 0)
        cfg.streams_per_gpu = streams;
    cfg.trace_path = trace;
    flo_runtime *rt = NULL;
    flo_status st = flo_init(&cfg, &rt);
    if (st != FLO_OK) {
        fprintf(stderr, "gpu_tasks: flo_init: %s\n", flo_status_str(st));
        return NULL;
    }
    return rt;
}

static int check(flo_status st, const char *what)
{
    if (st == FLO_OK)
        return 0;
    fprintf(stderr, "gpu_tasks: %s: %s\n", what, flo_status_str(st));
    return 1;
}

/* (a) Empty kernels: seconds for n tasks. */
static double flo_empty(flo_runtime *rt, int n, int device)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &k_empty;
    d.on_device = FLO_DEVICE(device);
    double t0 = flo_bench_now();
    for (int i = 0; i < n; i++)
        if (check(flo_task_submit(rt, &d, NULL), "submit"))
            return -1.0;
    if (check(flo_wait_all(rt), "wait_all"))
        return -1.0;
    return flo_bench_now() - t0;
}

/* (b) A chain of n dependent read-write tasks on one small handle. */
static double flo_chain(flo_runtime *rt, int n, int device)
{
    flo_data h;
    if (check(flo_data_alloc(rt, sizeof(unsigned), &h), "data_alloc"))
        return -1.0;
    flo_access_desc acc = {h, FLO_READ_WRITE};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &k_touch;
    d.access = &acc;
    d.naccess = 1;
    d.on_device = FLO_DEVICE(device);
    /* Make the replica resident first: the chain measures the round
     * trip, not the first zero-fill. */
    flo_task_submit(rt, &d, NULL);
    flo_wait_all(rt);
    double t0 = flo_bench_now();
    for (int i = 0; i < n; i++)
        if (check(flo_task_submit(rt, &d, NULL), "submit"))
            return -1.0;
    if (check(flo_wait_all(rt), "wait_all"))
        return -1.0;
    double t = flo_bench_now() - t0;
    unsigned *p = NULL;
    if (check(flo_data_acquire(rt, h, FLO_READ, (void **)&p), "acquire"))
        return -1.0;
    unsigned v = *p;
    flo_data_release(rt, h);
    flo_data_unregister(rt, h);
    if (v != (unsigned)n + 1) {
        fprintf(stderr, "gpu_tasks: chain counted %u, expected %d\n", v, n + 1);
        return -1.0;
    }
    return t;
}

/* (e) A chain of len read-write tasks recorded as a graph, launched reps
 * times (after one untimed launch, which captures it). */
static double flo_graph_chain(flo_runtime *rt, int len, int reps,
                              unsigned flags)
{
    flo_data h;
    flo_graph *g = NULL;
    if (check(flo_data_alloc(rt, sizeof(unsigned), &h), "data_alloc"))
        return -1.0;
    flo_access_desc acc = {h, FLO_READ_WRITE};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &k_touch;
    d.access = &acc;
    d.naccess = 1;
    d.on_device = FLO_DEVICE(1);
    if (check(flo_graph_begin(rt, "touch_chain", flags, &g), "graph_begin"))
        return -1.0;
    for (int i = 0; i < len; i++)
        if (check(flo_task_submit(rt, &d, NULL), "record"))
            return -1.0;
    if (check(flo_graph_end(rt, g), "graph_end") ||
        check(flo_graph_launch(rt, g, NULL, 0, NULL), "launch") ||
        check(flo_wait_all(rt), "wait_all"))
        return -1.0;
    double t0 = flo_bench_now();
    for (int r = 0; r < reps; r++)
        if (check(flo_graph_launch(rt, g, NULL, 0, NULL), "launch"))
            return -1.0;
    if (check(flo_wait_all(rt), "wait_all"))
        return -1.0;
    double t = flo_bench_now() - t0;
    unsigned *p = NULL;
    if (check(flo_data_acquire(rt, h, FLO_READ, (void **)&p), "acquire"))
        return -1.0;
    unsigned v = *p;
    flo_data_release(rt, h);
    flo_data_unregister(rt, h);
    flo_graph_destroy(rt, g);
    if (v != (unsigned)(len * (reps + 1))) {
        fprintf(stderr, "gpu_tasks: graph chain counted %u, expected %d\n", v,
                len * (reps + 1));
        return -1.0;
    }
    return t;
}

/* (c) Pool allocate + free pairs through the internal API. */
static double flo_alloc(flo_runtime *rt, int n, size_t bytes)
{
    flo__cuda_dev *cd = flo__cuda_dev_get(&rt->plat, 1);
    void *p = NULL;
    if (!cd || check(flo__cuda_pool_alloc(cd, bytes, &p), "pool_alloc"))
        return -1.0;
    flo__cuda_pool_free(cd, p, bytes);
    double t0 = flo_bench_now();
    for (int i = 0; i < n; i++) {
        if (flo__cuda_pool_alloc(cd, bytes, &p) != FLO_OK)
            return -1.0;
        flo__cuda_pool_free(cd, p, bytes);
    }
    return flo_bench_now() - t0;
}

/* (d) ntasks tasks, each reading its own fresh host buffer. */
static double flo_overlap(flo_runtime *rt, void *const *host, int ntasks,
                          size_t bytes, long long cycles, int device)
{
    flo_data *h = calloc((size_t)ntasks, sizeof *h);
    if (!h)
        return -1.0;
    double t = -1.0;
    int nreg = 0;
    for (; nreg < ntasks; nreg++)
        if (check(flo_data_register(rt, host[nreg], bytes, &h[nreg]),
                  "register"))
            goto out;
    double t0 = flo_bench_now();
    for (int i = 0; i < ntasks; i++) {
        flo_access_desc acc = {h[i], FLO_READ};
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &k_spin;
        d.access = &acc;
        d.naccess = 1;
        d.args = &cycles;
        d.args_size = sizeof cycles;
        d.on_device = FLO_DEVICE(device);
        if (check(flo_task_submit(rt, &d, NULL), "submit"))
            goto out;
    }
    if (check(flo_wait_all(rt), "wait_all"))
        goto out;
    t = flo_bench_now() - t0;
out:
    for (int i = 0; i < nreg; i++)
        flo_data_unregister(rt, h[i]);
    free(h);
    return t;
}

typedef struct series {
    double *v;
    int n;
} series;

static void add(series *s, double x)
{
    s->v[s->n++] = x;
}

int main(int argc, char **argv)
{
    flo_bench *b = flo_bench_open("gpu_tasks", usage, argc, argv);
    if (!b)
        return 0;
    if (gb_gpu_count() <= 0) {
        printf("gpu_tasks: no CUDA GPU visible: skipped\n");
        flo_bench_close(b);
        return 77;
    }
    int ntasks = (int)flo_bench_arg_long(b, "--tasks", 20000);
    int nchain = (int)flo_bench_arg_long(b, "--chain", 2000);
    int nallocs = (int)flo_bench_arg_long(b, "--allocs", 20000);
    size_t abytes = (size_t)flo_bench_arg_long(b, "--alloc-bytes", 1 << 20);
    int novl = (int)flo_bench_arg_long(b, "--overlap-tasks", 32);
    size_t obytes = (size_t)flo_bench_arg_long(b, "--overlap-bytes", 8 << 20);
    int devices = (int)flo_bench_arg_long(b, "--devices", 1);
    int streams = (int)flo_bench_arg_long(b, "--streams", 0);
    const char *trace = flo_bench_arg(b, "--trace");
    const char *only = flo_bench_arg(b, "--only");
    int reps = flo_bench_reps(b, 5);
    int warmup = flo_bench_warmup(b, 1);
    if (ntasks < 1 || nchain < 1 || nallocs < 1 || abytes == 0 || novl < 1 ||
        obytes < 4096 || devices < 1 || reps < 1) {
        fprintf(stderr, "gpu_tasks: bad arguments\n%s", usage);
        flo_bench_close(b);
        return 2;
    }
    int rc = 1;
    double *buf = calloc((size_t)(reps + warmup) * 2, sizeof *buf);
    void **host = calloc((size_t)novl, sizeof *host);
    flo_runtime *rt = start(devices, streams, NULL);
    if (!buf || !host || !rt)
        goto out;
    flo_device_info info;
    if (check(flo_device_get_info(rt, 1, &info), "device_get_info"))
        goto out;
    flo_bench_set_device(b, info.name);
    int ord = info.ordinal;
    int ngpu = flo_device_count(rt) - 1;
    char name[96];

    /* (a) */
    if (!only || !strcmp(only, "empty")) {
        series f = {buf, 0}, r = {buf + reps + warmup, 0};
        for (int i = 0; i < warmup + reps; i++) {
            double tf = flo_empty(rt, ntasks, devices > 1 ? FLO_ANY : 1);
            double tr = gb_raw_empty(ord, ntasks);
            if (tf < 0 || tr < 0)
                goto out;
            if (i >= warmup) {
                add(&f, tf * 1e9 / ntasks);
                add(&r, tr * 1e9 / ntasks);
            }
        }
        snprintf(name, sizeof name, "empty_kernels/devices=%d", ngpu);
        flo_bench_result(b, name, "ns/kernel", flo_bench_median(f.v, f.n),
                         "raw launch loop, one stream, one GPU",
                         flo_bench_median(r.v, r.n), 0);
    }
    /* (b) */
    if (!only || !strcmp(only, "chain")) {
        series f = {buf, 0}, r = {buf + reps + warmup, 0};
        double *rc = calloc((size_t)(reps + warmup), sizeof *rc);
        int nrc = 0;
        if (!rc)
            goto out;
        for (int i = 0; i < warmup + reps; i++) {
            double tf = flo_chain(rt, nchain, 1);
            double tr = gb_raw_roundtrip(ord, nchain);
            double tc = gb_raw_chain(ord, nchain);
            if (tf < 0 || tr < 0 || tc < 0) {
                free(rc);
                goto out;
            }
            if (i >= warmup) {
                add(&f, tf * 1e9 / nchain);
                add(&r, tr * 1e9 / nchain);
                rc[nrc++] = tc * 1e9 / nchain;
            }
        }
        /* The chain's tasks follow each other in stream order (no host
         * round trip): compared with the round trip it replaces, and
         * with the raw loop it should match. */
        flo_bench_result(b, "chain/read_write", "ns/task",
                         flo_bench_median(f.v, f.n),
                         "raw launch + cudaStreamSynchronize",
                         flo_bench_median(r.v, r.n), 0);
        flo_bench_result(b, "chain/stream_ordered", "ns/task",
                         flo_bench_median(f.v, f.n),
                         "raw dependent launches, one stream, one sync",
                         flo_bench_median(rc, nrc), 0);
        free(rc);
    }
    /* (e) */
    if (!only || !strcmp(only, "graph")) {
        enum { LEN = 100 };
        int greps = nchain / LEN > 0 ? nchain / LEN : 1;
        int n = warmup + reps;
        double *v = calloc((size_t)(4 * n), sizeof *v);
        int nv = 0;
        if (!v)
            goto out;
        for (int i = 0; i < n; i++) {
            double tg = flo_graph_chain(rt, LEN, greps, 0);
            double tp = flo_graph_chain(rt, LEN, greps, FLO_GRAPH_NO_CAPTURE);
            double tr = gb_raw_graph_chain(ord, LEN, greps);
            double tc = gb_raw_chain(ord, LEN * greps);
            if (tg < 0 || tp < 0 || tr < 0 || tc < 0) {
                free(v);
                goto out;
            }
            if (i >= warmup) {
                double per = 1e9 / (LEN * (double)greps);
                v[nv] = tg * per;
                v[n + nv] = tp * per;
                v[2 * n + nv] = tr * per;
                v[3 * n + nv] = tc * per;
                nv++;
            }
        }
        double mg = flo_bench_median(v, nv);
        flo_bench_result(b, "graph/replay_chain=100", "ns/task", mg,
                         "raw CUDA graph of the same 100 kernels, replayed",
                         flo_bench_median(v + 2 * n, nv), 0);
        flo_bench_result(b, "graph/replay_vs_launches", "ns/task", mg,
                         "raw dependent launches, one stream, one sync",
                         flo_bench_median(v + 3 * n, nv), 0);
        flo_bench_result(b, "graph/no_capture_chain=100", "ns/task",
                         flo_bench_median(v + n, nv),
                         "raw dependent launches, one stream, one sync",
                         flo_bench_median(v + 3 * n, nv), 0);
        free(v);
    }
    /* (c) */
    if (!only || !strcmp(only, "alloc")) {
        series f = {buf, 0}, r = {buf + reps + warmup, 0};
        double *ra = calloc((size_t)(reps + warmup), sizeof *ra);
        int nra = 0;
        if (!ra)
            goto out;
        int nslow = nallocs / 20 > 0 ? nallocs / 20 : 1;
        for (int i = 0; i < warmup + reps; i++) {
            double tf = flo_alloc(rt, nallocs, abytes);
            double tr = gb_raw_malloc(ord, abytes, nslow);
            double ta = gb_raw_malloc_async(ord, abytes, nallocs);
            if (tf < 0 || tr < 0 || ta < 0) {
                free(ra);
                goto out;
            }
            if (i >= warmup) {
                add(&f, tf * 1e9 / nallocs);
                add(&r, tr * 1e9 / nslow);
                ra[nra++] = ta * 1e9 / nallocs;
            }
        }
        double pool = flo_bench_median(f.v, f.n);
        snprintf(name, sizeof name, "alloc/bytes=%zu/vs_cudaMalloc", abytes);
        flo_bench_result(b, name, "ns/pair", pool, "cudaMalloc + cudaFree",
                         flo_bench_median(r.v, r.n), 0);
        snprintf(name, sizeof name, "alloc/bytes=%zu/vs_cudaMallocAsync",
                 abytes);
        flo_bench_result(b, name, "ns/pair", pool,
                         "cudaMallocAsync + cudaFreeAsync (pool kept)",
                         flo_bench_median(ra, nra), 0);
        free(ra);
    }
    /* (d) */
    if (!only || !strcmp(only, "overlap")) {
        for (int i = 0; i < novl; i++) {
            host[i] = malloc(obytes);
            if (!host[i])
                goto out;
            memset(host[i], i, obytes);
        }
        /* A kernel about as long as one task's copy: calibrate with the
         * serialised baseline's copy of one buffer. */
        double tcopy = gb_raw_serial_copy_kernel(ord, host, 1, obytes, 0);
        long long cycles = 1000000;
        double tk = gb_kernel_time(ord, cycles);
        if (tcopy > 0 && tk > 0)
            cycles = (long long)((double)cycles * tcopy / tk);
        if (trace) {
            /* A separate runtime writes the trace at finalize. */
            flo_runtime *tr = start(1, streams, trace);
            if (!tr || flo_overlap(tr, host, novl, obytes, cycles, 1) < 0)
                goto out;
            flo_finalize(tr);
        }
        series f = {buf, 0}, r = {buf + reps + warmup, 0};
        for (int i = 0; i < warmup + reps; i++) {
            double tf = flo_overlap(rt, host, novl, obytes, cycles, 1);
            double tr =
                gb_raw_serial_copy_kernel(ord, host, novl, obytes, cycles);
            if (tf < 0 || tr < 0)
                goto out;
            if (i >= warmup) {
                add(&f, tf * 1e6 / novl);
                add(&r, tr * 1e6 / novl);
            }
        }
        snprintf(name, sizeof name, "overlap/bytes=%zu", obytes);
        flo_bench_result(b, name, "us/task", flo_bench_median(f.v, f.n),
                         "serialised memcpy + kernel + sync",
                         flo_bench_median(r.v, r.n), 0);
        printf("overlap: kernel %.1f us, copy %.1f us per task (calibrated)"
               "\n",
               gb_kernel_time(ord, cycles) * 1e6, tcopy * 1e6);
    }
    rc = 0;
out:
    if (rt && flo_finalize(rt) != FLO_OK)
        rc = 1;
    if (host)
        for (int i = 0; i < novl; i++)
            free(host[i]);
    free(host);
    free(buf);
    if (flo_bench_close(b))
        rc = 1;
    return rc;
}
