/*
 * bench/algorithms - transform (axpy), reduce (sum) and inclusive scan
 * (sum) of f32 and f64 over Flotilla arrays, next to the baselines in the
 * same run:
 *   GPU:  CUB called directly (DeviceTransform, DeviceReduce::Sum,
 *         DeviceScan::InclusiveSum) and cudaMemcpy device to device, on
 *         one GPU; with --devices N, Flotilla on 1..N GPUs (speed-up over
 *         one GPU).
 *   host: a plain single-threaded loop.
 * GB/s counts the bytes each operation must move: axpy 3n, reduce n,
 * scan 2n elements (copy 2n). Times are per operation: `reps` operations
 * submitted back to back then waited for (CUDA events for the
 * baselines), median over `trials`. axpy (y = 2x + y, in place) and scan
 * (z = scan(x)) form dependency chains, as they do on the baseline's
 * stream; reductions go to NRES result handles in turn.
 *
 * Exits 77 when the GPU part could not run (no GPU, or a build without
 * CUDA), after the host part ran.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "flo_build_config.h"
#include "flotilla.h"
#if FLO_HAVE_CUDA
#include "algo_baseline.h"
#endif

static const char usage[] =
    "bench_algorithms: Flotilla transform/reduce/scan vs CUB, cudaMemcpy "
    "and a plain loop\n"
    "  --min-log K    smallest size 2^K elements (default 20)\n"
    "  --max-log K    largest GPU size 2^K (default 22; full run: 30)\n"
    "  --host-max-log K  largest host size 2^K (default 22; full: 26)\n"
    "  --devices N    also run Flotilla on 1..N GPUs (default 1)\n"
    "  --trials N     timed trials, median reported (default 5)\n"
    "  --no-gpu / --no-host  skip a part\n";

enum { OP_AXPY = 0, OP_REDUCE = 1, OP_SCAN = 2, NOPS = 3 };
static const char *const op_name[NOPS] = {"axpy", "reduce", "scan"};
/* Elements moved per element of the array. */
static const double op_traffic[NOPS] = {3.0, 1.0, 2.0};

/* Reductions write into NRES result handles in turn, so that
 * back-to-back reductions are independent (as back-to-back CUB calls
 * are: stream order, no host round trip) instead of a chain through one
 * handle. */
#define NRES 4

typedef struct arrays {
    flo_array *x, *y, *z;
    flo_data res[NRES];
    unsigned next;
} arrays;

static flo_status arrays_make(flo_runtime *rt, flo_dtype t, uint64_t n,
                              arrays *a)
{
    double one = 1.0, two = 2.0;
    float onef = 1.0f, twof = 2.0f;
    const void *v1 = t == FLO_F64 ? (const void *)&one : (const void *)&onef;
    const void *v2 = t == FLO_F64 ? (const void *)&two : (const void *)&twof;
    flo_status st;
    memset(a, 0, sizeof(*a));
    st = flo_array_create(rt, t, n, NULL, &a->x);
    if (st == FLO_OK)
        st = flo_array_create(rt, t, n, NULL, &a->y);
    if (st == FLO_OK)
        st = flo_array_create(rt, t, n, NULL, &a->z);
    for (int i = 0; i < NRES && st == FLO_OK; i++)
        st = flo_data_alloc(rt, 16, &a->res[i]);
    /* Fill where the blocks live: the data never crosses PCIe. */
    if (st == FLO_OK)
        st = flo_array_fill(a->x, v1, NULL);
    if (st == FLO_OK)
        st = flo_array_fill(a->y, v2, NULL);
    if (st == FLO_OK)
        st = flo_array_fill(a->z, v2, NULL);
    if (st == FLO_OK)
        st = flo_wait_all(rt);
    return st;
}

static void arrays_free(flo_runtime *rt, arrays *a)
{
    if (a->z != NULL)
        flo_array_destroy(a->z);
    if (a->y != NULL)
        flo_array_destroy(a->y);
    if (a->x != NULL)
        flo_array_destroy(a->x);
    for (int i = 0; i < NRES; i++)
        if (a->res[i].id != 0)
            flo_data_unregister(rt, a->res[i]);
}

static flo_status submit_op(int op, flo_dtype t, arrays *a)
{
    double two = 2.0;
    float twof = 2.0f;
    const void *al = t == FLO_F64 ? (const void *)&two : (const void *)&twof;
    switch (op) {
    case OP_AXPY:
        return flo_array_transform(a->y, FLO_XF_AXPY, a->x, a->y, al, NULL);
    case OP_REDUCE:
        return flo_array_reduce(a->x, FLO_SUM, a->res[a->next++ % NRES], NULL);
    default:
        return flo_array_scan(a->z, a->x, FLO_SUM, FLO_SCAN_INCLUSIVE, NULL,
                              NULL);
    }
}

/* Median seconds per op: trials of reps ops submitted back to back. */
static flo_status time_flo(flo_runtime *rt, int op, flo_dtype t, arrays *a,
                           int warmup, int reps, int trials, double *sec)
{
    double v[64];
    flo_status st = FLO_OK;
    if (trials > 64)
        trials = 64;
    for (int i = 0; i < warmup && st == FLO_OK; i++)
        st = submit_op(op, t, a);
    if (st == FLO_OK)
        st = flo_wait_all(rt);
    for (int k = 0; k < trials && st == FLO_OK; k++) {
        double t0 = flo_bench_now();
        for (int r = 0; r < reps && st == FLO_OK; r++)
            st = submit_op(op, t, a);
        if (st == FLO_OK)
            st = flo_wait_all(rt);
        v[k] = (flo_bench_now() - t0) / reps;
    }
    if (st == FLO_OK)
        *sec = flo_bench_median(v, trials);
    return st;
}

/* Reps so that one trial moves about 8 GB (GPU) or 1 GB (host): enough
 * to hide the submission of the first op, bounded for small sizes. */
static int reps_for(uint64_t bytes, double target, int dflt)
{
    double r = target / (double)bytes;
    if (dflt > 0)
        return dflt;
    if (r < 2)
        return 2;
    return r > 200 ? 200 : (int)r;
}

/* ---- Host part -------------------------------------------------------- */

static double plain_loop(int op, flo_dtype t, void *x, void *y, void *z,
                         uint64_t n)
{
    double sink = 0.0;
    if (t == FLO_F64) {
        double *a = x, *b = y, *c = z, s = 0.0;
        if (op == OP_AXPY)
            for (uint64_t i = 0; i < n; i++)
                b[i] = 2.0 * a[i] + b[i];
        else if (op == OP_REDUCE)
            for (uint64_t i = 0; i < n; i++)
                s += a[i];
        else
            for (uint64_t i = 0; i < n; i++)
                c[i] = s += a[i];
        sink = s + b[n / 2];
    } else {
        float *a = x, *b = y, *c = z, s = 0.0f;
        if (op == OP_AXPY)
            for (uint64_t i = 0; i < n; i++)
                b[i] = 2.0f * a[i] + b[i];
        else if (op == OP_REDUCE)
            for (uint64_t i = 0; i < n; i++)
                s += a[i];
        else
            for (uint64_t i = 0; i < n; i++)
                c[i] = s += a[i];
        sink = s + b[n / 2];
    }
    return sink;
}

static int host_part(flo_bench *b, int min_log, int max_log, int warmup,
                     int trials)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt;
    volatile double sink = 0.0;
    cfg.devices = FLO_DEVICES_HOST;
    if (flo_init(&cfg, &rt) != FLO_OK) {
        fprintf(stderr, "host runtime failed to start\n");
        return 1;
    }
    int workers = flo_worker_count(rt);
    for (int ti = 0; ti < 2; ti++) {
        flo_dtype t = ti ? FLO_F64 : FLO_F32;
        size_t es = flo_dtype_size(t);
        for (int lg = min_log; lg <= max_log; lg += 2) {
            uint64_t n = (uint64_t)1 << lg;
            void *x = malloc(n * es), *y = malloc(n * es), *z = malloc(n * es);
            arrays a;
            if (x == NULL || y == NULL || z == NULL) {
                free(x), free(y), free(z);
                break;
            }
            memset(x, 0, n * es), memset(y, 0, n * es), memset(z, 0, n * es);
            if (arrays_make(rt, t, n, &a) != FLO_OK) {
                arrays_free(rt, &a);
                free(x), free(y), free(z);
                break;
            }
            for (int op = 0; op < NOPS; op++) {
                double bytes = op_traffic[op] * (double)n * (double)es;
                int reps = reps_for((uint64_t)bytes, 1e9, 0);
                double fs = 0, ps, v[64];
                char name[96], base[96];
                if (time_flo(rt, op, t, &a, warmup, reps, trials, &fs) !=
                    FLO_OK)
                    continue;
                for (int k = 0; k < trials && k < 64; k++) {
                    double t0 = flo_bench_now();
                    for (int r = 0; r < reps; r++)
                        sink += plain_loop(op, t, x, y, z, n);
                    v[k] = (flo_bench_now() - t0) / reps;
                }
                ps = flo_bench_median(v, trials < 64 ? trials : 64);
                snprintf(name, sizeof(name), "host/%s/%s/2^%d", op_name[op],
                         flo_dtype_name(t), lg);
                snprintf(base, sizeof(base),
                         "plain loop, 1 thread (%d "
                         "workers)",
                         workers);
                flo_bench_result(b, name, "GB/s", 1e-9 * bytes / fs, base,
                                 1e-9 * bytes / ps, 1);
            }
            arrays_free(rt, &a);
            free(x), free(y), free(z);
        }
    }
    (void)sink;
    flo_finalize(rt);
    return 0;
}

/* ---- GPU part ------------------------------------------------------------ */

#if FLO_HAVE_CUDA
static flo_status gpu_flo(int ngpus, flo_dtype t, uint64_t n, int op,
                          int warmup, int trials, double *sec,
                          flo_runtime **rtp)
{
    flo_runtime *rt = *rtp;
    arrays a;
    flo_status st;
    double bytes = op_traffic[op] * (double)n * (double)flo_dtype_size(t);
    if (rt == NULL) {
        flo_config cfg = FLO_CONFIG_INIT;
        cfg.devices = FLO_DEVICES_CUDA;
        cfg.gpus = ngpus;
        st = flo_init(&cfg, &rt);
        if (st != FLO_OK)
            return st;
        *rtp = rt;
    }
    st = arrays_make(rt, t, n, &a);
    if (st == FLO_OK)
        st = time_flo(rt, op, t, &a, warmup, reps_for((uint64_t)bytes, 8e9, 0),
                      trials, sec);
    arrays_free(rt, &a);
    return st;
}

static int gpu_part(flo_bench *b, int min_log, int max_log, int ndev,
                    int warmup, int trials)
{
    flo_runtime *rt1 = NULL;
    flo_device_info info;
    int ordinal = 0;
    {
        flo_config cfg = FLO_CONFIG_INIT;
        cfg.devices = FLO_DEVICES_CUDA;
        cfg.gpus = 1;
        if (flo_init(&cfg, &rt1) != FLO_OK)
            return 77;
        if (flo_device_get_info(rt1, 1, &info) == FLO_OK)
            ordinal = info.ordinal;
        flo_bench_set_device(b, info.name);
    }
    for (int ti = 0; ti < 2; ti++) {
        flo_dtype t = ti ? FLO_F64 : FLO_F32;
        size_t es = flo_dtype_size(t);
        for (int lg = min_log; lg <= max_log; lg += 2) {
            uint64_t n = (uint64_t)1 << lg;
            double copy_s = 0;
            const char *msg = "";
            char name[96];
            int reps = reps_for(2 * n * es, 8e9, 0);
            if (base_run(BASE_COPY, ti, n, ordinal, warmup, reps, trials,
                         &copy_s, &msg) != 0) {
                fprintf(stderr, "cudaMemcpy 2^%d: %s\n", lg, msg);
                continue;
            }
            for (int op = 0; op < NOPS; op++) {
                double bytes = op_traffic[op] * (double)n * (double)es;
                double fs = 0, cs = 0;
                flo_status st;
                reps = reps_for((uint64_t)bytes, 8e9, 0);
                if (base_run(op, ti, n, ordinal, warmup, reps, trials, &cs,
                             &msg) != 0) {
                    fprintf(stderr, "CUB %s 2^%d: %s\n", op_name[op], lg, msg);
                    continue;
                }
                st = gpu_flo(1, t, n, op, warmup, trials, &fs, &rt1);
                if (st != FLO_OK) {
                    fprintf(stderr, "flotilla %s 2^%d: %s\n", op_name[op], lg,
                            flo_status_str(st));
                    continue;
                }
                snprintf(name, sizeof(name), "gpu/%s/%s/2^%d", op_name[op],
                         flo_dtype_name(t), lg);
                flo_bench_result(b, name, "GB/s", 1e-9 * bytes / fs,
                                 op == OP_AXPY     ? "CUB DeviceTransform"
                                 : op == OP_REDUCE ? "CUB DeviceReduce::Sum"
                                                   : "CUB InclusiveSum",
                                 1e-9 * bytes / cs, 1);
                snprintf(name, sizeof(name), "gpu/%s/%s/2^%d/vs_copy",
                         op_name[op], flo_dtype_name(t), lg);
                flo_bench_result(b, name, "GB/s", 1e-9 * bytes / fs,
                                 "cudaMemcpy D2D", 2e-9 * n * es / copy_s, 1);
            }
        }
    }
    flo_finalize(rt1);

    /* Scaling over GPUs: Flotilla on d = 2..ndev GPUs against one, at
     * 2^max_log. One runtime at a time, so that each has the GPUs'
     * memory to itself. */
    if (ndev < 2)
        return 0;
    double one[2][NOPS] = {{0}};
    uint64_t n = (uint64_t)1 << max_log;
    for (int d = 1; d <= ndev; d++) {
        flo_runtime *rt = NULL;
        for (int ti = 0; ti < 2; ti++) {
            flo_dtype t = ti ? FLO_F64 : FLO_F32;
            double es = (double)flo_dtype_size(t);
            for (int op = 0; op < NOPS; op++) {
                double s = 0;
                char name[96];
                if (gpu_flo(d, t, n, op, warmup, trials, &s, &rt) != FLO_OK)
                    continue;
                if (d == 1) {
                    one[ti][op] = s;
                    continue;
                }
                if (one[ti][op] <= 0)
                    continue;
                snprintf(name, sizeof(name), "gpus=%d/%s/%s/2^%d", d,
                         op_name[op], flo_dtype_name(t), max_log);
                flo_bench_result(
                    b, name, "GB/s", 1e-9 * op_traffic[op] * (double)n * es / s,
                    "flotilla on 1 GPU",
                    1e-9 * op_traffic[op] * (double)n * es / one[ti][op], 1);
            }
        }
        if (rt != NULL) {
            if (flo_device_count(rt) - 1 < d)
                fprintf(stderr, "only %d GPU(s) in use for --devices %d\n",
                        flo_device_count(rt) - 1, d);
            flo_finalize(rt);
        }
    }
    return 0;
}
#endif

int main(int argc, char **argv)
{
    flo_bench *b = flo_bench_open("algorithms", usage, argc, argv);
    if (b == NULL)
        return 0;
    int min_log = (int)flo_bench_arg_long(b, "--min-log", 20);
    int max_log = (int)flo_bench_arg_long(b, "--max-log", 22);
    int host_max = (int)flo_bench_arg_long(b, "--host-max-log", 22);
    int ndev = (int)flo_bench_arg_long(b, "--devices", 1);
    int trials = (int)flo_bench_arg_long(b, "--trials", 5);
    int warmup = flo_bench_warmup(b, 2);
    int gpu_rc = 77;

    if (min_log < 0 || max_log > 40 || host_max > 40 || trials < 1 ||
        ndev < 1) {
        fprintf(stderr, "bad arguments\n%s", usage);
        flo_bench_close(b);
        return 2;
    }
    if (flo_bench_arg(b, "--no-host") == NULL)
        host_part(b, min_log, host_max, warmup, trials);
#if FLO_HAVE_CUDA
    if (flo_bench_arg(b, "--no-gpu") == NULL)
        gpu_rc = gpu_part(b, min_log, max_log, ndev, warmup, trials);
#else
    (void)ndev;
#endif
    if (gpu_rc == 77)
        printf("GPU part skipped: no GPU visible (or no CUDA in this "
               "build)\n");
    int rc = flo_bench_close(b);
    return rc != 0 ? rc : gpu_rc == 77 ? 77 : 0;
}
