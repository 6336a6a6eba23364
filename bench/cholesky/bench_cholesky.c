/*
 * bench/cholesky - tiled fp64 Cholesky on Flotilla (examples/cholesky)
 * next to cuSOLVER, in one process and one run (TFLOP/s, n^3/3 flops):
 *
 *   flotilla_host_to_host  tiles in host memory, factor back in host
 *                          memory: submit + flo_wait_all + acquiring every
 *                          tile for reading (which brings it home).
 *   flotilla_on_gpu        the tiles already on the GPU(s) (an untimed
 *                          read-write no-op task per tile, pinned to a
 *                          GPU), factorisation alone: submit + wait_all.
 *   cusolver_potrf         baseline: cusolverDnDpotrf on the full n x n
 *                          matrix already on GPU 0, timed with CUDA events.
 *   cusolver_pinned_copies cusolverDnDpotrf with the pinned H2D copy of
 *                          the full matrix before and the D2H copy after.
 *
 * Ratios are to cusolver_potrf (the figure issue 10 sets its goals by).
 * Flotilla kernels have CUDA entry points only, so every tile task runs
 * on a GPU; with --logical-gpus K each GPU is presented as K devices
 * (FLO_LOGICAL_GPUS). Every result is checked (info words, and a sampled
 * residual of the last repetition). Without a GPU: a message, exit 0.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <cusolverDn.h>

#include "bench.h"
#include "cholesky_cuda.h"
#include "cholesky_tiles.h"

static const char usage[] =
    "usage: bench_cholesky [--n N] [--nb B[,B...]] [--logical-gpus K]\n"
    "                      [--check-cols C] [--only flotilla|cusolver]\n"
    "  --n N             matrix order, a multiple of every --nb (default "
    "4096;\n"
    "                    issue 10's figure: 32768)\n"
    "  --nb LIST         tile sides, comma-separated (default 512; issue "
    "10:\n"
    "                    1024,2048)\n"
    "  --logical-gpus K  present each GPU as K devices (FLO_LOGICAL_GPUS)\n"
    "  --check-cols C    columns of the sampled residual check (default "
    "32;\n"
    "                    0: no residual check)\n"
    "  --only WHAT       run only the Flotilla or only the cuSOLVER cases\n"
    "  --seed S          matrix seed (default 1)\n";

#define MAX_NB 16

typedef struct bench_opts {
    int n, nnb, nb[MAX_NB], logical, check_cols, reps, warmup;
    int do_flo, do_cusolver;
    uint64_t seed;
} bench_opts;

static double tflops(int n, double seconds)
{
    return seconds > 0 ? 1e-12 * chol_flops(n) / seconds : NAN;
}

static int cu_check(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    fprintf(stderr, "bench_cholesky: %s: %s\n", what, cudaGetErrorString(e));
    return 1;
}

static int flo_check(flo_status st, const char *what)
{
    if (st == FLO_OK)
        return 0;
    fprintf(stderr, "bench_cholesky: %s: %s\n", what, flo_status_str(st));
    return 1;
}

static int residual_ok(const chol_matrix *m, uint64_t seed, int cols,
                       const char *what)
{
    if (cols <= 0)
        return 1;
    double res = chol_residual(m, seed, cols, -1);
    double tol = chol_tolerance(m->n);
    printf("check %s: residual %.3g over %d sampled columns (tolerance "
           "%.3g): %s\n",
           what, res, cols, tol, res <= tol ? "OK" : "WRONG");
    return res <= tol;
}

/* ---- Baselines: cuSOLVER on the full matrix, GPU 0 ----------------------- */

typedef struct cusolver_result {
    double potrf_s, copies_s; /* Medians. */
} cusolver_result;

static int run_cusolver(const bench_opts *o, cusolver_result *out)
{
    const int n = o->n;
    const size_t bytes = chol_matrix_bytes(n, 1, 1);
    const int total = o->warmup + o->reps;
    double *h_a = NULL, *h_r = NULL, *d_a = NULL, *d_work = NULL;
    int *d_info = NULL, lwork = 0, rc = 1;
    double *tp = calloc((size_t)total, sizeof(double));
    double *tc = calloc((size_t)total, sizeof(double));
    cudaStream_t s = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    cusolverDnHandle_t h = NULL;
    if (!tp || !tc)
        goto out;
    if (cu_check(cudaSetDevice(0), "cudaSetDevice") ||
        cu_check(cudaMallocHost((void **)&h_a, bytes), "cudaMallocHost") ||
        cu_check(cudaMallocHost((void **)&h_r, bytes), "cudaMallocHost") ||
        cu_check(cudaMalloc((void **)&d_a, bytes), "cudaMalloc") ||
        cu_check(cudaMalloc((void **)&d_info, sizeof(int)), "cudaMalloc") ||
        cu_check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking),
                 "cudaStreamCreate") ||
        cu_check(cudaEventCreate(&e0), "cudaEventCreate") ||
        cu_check(cudaEventCreate(&e1), "cudaEventCreate"))
        goto out;
    if (cusolverDnCreate(&h) != CUSOLVER_STATUS_SUCCESS ||
        cusolverDnSetStream(h, s) != CUSOLVER_STATUS_SUCCESS ||
        cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_LOWER, n, d_a, n,
                                    &lwork) != CUSOLVER_STATUS_SUCCESS) {
        fprintf(stderr, "bench_cholesky: cuSOLVER setup failed\n");
        goto out;
    }
    if (cu_check(cudaMalloc((void **)&d_work,
                            (size_t)(lwork > 0 ? lwork : 1) * sizeof(double)),
                 "cudaMalloc"))
        goto out;
    chol_matrix full = {n, o->nb[0], n / o->nb[0], 1, h_a, NULL};
    if (chol_fill(&full, o->seed, -1) != 0)
        goto out;

    for (int pass = 0; pass < 2; pass++) {
        double *t = pass == 0 ? tp : tc;
        for (int r = 0; r < total; r++) {
            float ms = 0.0f;
            int info = -1;
            cusolverStatus_t cs = CUSOLVER_STATUS_SUCCESS;
            if (pass == 0 &&
                cu_check(
                    cudaMemcpyAsync(d_a, h_a, bytes, cudaMemcpyHostToDevice, s),
                    "cudaMemcpyAsync"))
                goto out;
            if (cu_check(cudaEventRecord(e0, s), "cudaEventRecord"))
                goto out;
            if (pass == 1 &&
                cu_check(
                    cudaMemcpyAsync(d_a, h_a, bytes, cudaMemcpyHostToDevice, s),
                    "cudaMemcpyAsync"))
                goto out;
            cs = cusolverDnDpotrf(h, CUBLAS_FILL_MODE_LOWER, n, d_a, n, d_work,
                                  lwork, d_info);
            if (cs != CUSOLVER_STATUS_SUCCESS) {
                fprintf(stderr, "bench_cholesky: cusolverDnDpotrf: %d\n",
                        (int)cs);
                goto out;
            }
            if ((pass == 1 &&
                 cu_check(cudaMemcpyAsync(h_r, d_a, bytes,
                                          cudaMemcpyDeviceToHost, s),
                          "cudaMemcpyAsync")) ||
                cu_check(cudaEventRecord(e1, s), "cudaEventRecord") ||
                cu_check(cudaStreamSynchronize(s), "cudaStreamSynchronize") ||
                cu_check(cudaEventElapsedTime(&ms, e0, e1), "elapsed") ||
                cu_check(cudaMemcpy(&info, d_info, sizeof(int),
                                    cudaMemcpyDeviceToHost),
                         "cudaMemcpy"))
                goto out;
            if (info != 0) {
                fprintf(stderr, "bench_cholesky: cuSOLVER info %d\n", info);
                goto out;
            }
            t[r] = 1e-3 * (double)ms;
        }
    }
    out->potrf_s = flo_bench_median(tp + o->warmup, o->reps);
    out->copies_s = flo_bench_median(tc + o->warmup, o->reps);
    printf("cuSOLVER n %d: potrf %.4f s, with pinned copies %.4f s\n", n,
           out->potrf_s, out->copies_s);
    full.data = h_r;
    rc = residual_ok(&full, o->seed, o->check_cols, "cuSOLVER") ? 0 : 1;
out:
    if (h != NULL)
        cusolverDnDestroy(h);
    if (e0 != NULL)
        cudaEventDestroy(e0);
    if (e1 != NULL)
        cudaEventDestroy(e1);
    if (s != NULL)
        cudaStreamDestroy(s);
    cudaFree(d_work);
    cudaFree(d_info);
    cudaFree(d_a);
    cudaFreeHost(h_a);
    cudaFreeHost(h_r);
    free(tp);
    free(tc);
    return rc;
}

/* ---- Flotilla ------------------------------------------------------------ */

static const chol_kernels gpu_kernels = {
    {"chol_potrf", NULL, chol_cuda_potrf},
    {"chol_trsm", NULL, chol_cuda_trsm},
    {"chol_syrk", NULL, chol_cuda_syrk},
    {"chol_gemm", NULL, chol_cuda_gemm},
};
static const flo_kernel k_touch = {"chol_touch", NULL, chol_cuda_touch};

typedef struct tile_set {
    chol_matrix m; /* m.tiles: the addresses acquire returned. */
    flo_data *h;
    size_t ntiles;
    uint64_t seed;
} tile_set;

static void fill_one(void *arg, long item, int thread)
{
    tile_set *ts = arg;
    int i = 0;
    (void)thread;
    while (chol_tile_index(i + 1, 0) <= (size_t)item)
        i++;
    int j = (int)((size_t)item - chol_tile_index(i, 0));
    chol_fill_tile(ts->m.tiles[item], ts->seed, ts->m.n, ts->m.nb, i, j);
}

static int acquire_all(flo_runtime *rt, tile_set *ts, flo_access mode)
{
    for (size_t t = 0; t < ts->ntiles; t++) {
        void *p = NULL;
        if (flo_check(flo_data_acquire(rt, ts->h[t], mode, &p),
                      "flo_data_acquire"))
            return 1;
        ts->m.tiles[t] = p;
    }
    return 0;
}

static int release_all(flo_runtime *rt, tile_set *ts)
{
    int bad = 0;
    for (size_t t = 0; t < ts->ntiles; t++)
        bad |= flo_check(flo_data_release(rt, ts->h[t]), "flo_data_release");
    return bad;
}

/* Fresh A in every tile, valid on the host only. Untimed. */
static int regenerate(flo_runtime *rt, tile_set *ts)
{
    if (acquire_all(rt, ts, FLO_WRITE))
        return 1;
    int bad = chol_parallel_for((long)ts->ntiles, -1, fill_one, ts) < 0;
    return release_all(rt, ts) | bad;
}

static int wait_checked(flo_runtime *rt, const char *what)
{
    flo_status st = flo_wait_all(rt);
    if (st == FLO_OK)
        return 0;
    char msg[256];
    if (flo_error_message(rt, FLO_EVENT_NULL, msg, sizeof(msg)) != FLO_OK)
        msg[0] = '\0';
    fprintf(stderr, "bench_cholesky: %s: %s %s\n", what, flo_status_str(st),
            msg);
    return 1;
}

static int info_checked(void)
{
    int k, info;
    int r = chol_cuda_check_info(&k, &info);
    if (r > 0)
        fprintf(stderr, "bench_cholesky: GPU POTRF of tile %d: info %d\n", k,
                info);
    return r != 0;
}

/* One timed factorisation; on_gpu: tiles moved to the GPUs first. The
 * last repetition is checked. Seconds, or -1. */
static double flo_once(flo_runtime *rt, tile_set *ts, int on_gpu, int check,
                       const bench_opts *o)
{
    const int nt = ts->m.nt, ngpu = flo_device_count(rt) - 1;
    long ntasks = 0;
    if (regenerate(rt, ts))
        return -1.0;
    if (on_gpu) {
        for (int i = 0; i < nt; i++)
            for (int j = 0; j <= i; j++) {
                flo_access_desc acc = {ts->h[chol_tile_index(i, j)],
                                       FLO_READ_WRITE};
                flo_task_desc d = FLO_TASK_DESC_INIT;
                d.kernel = &k_touch;
                d.access = &acc;
                d.naccess = 1;
                d.on_device = FLO_DEVICE(1 + (i + j) % ngpu);
                if (flo_check(flo_task_submit(rt, &d, NULL), "submit touch"))
                    return -1.0;
            }
        if (wait_checked(rt, "touch"))
            return -1.0;
    }
    double t0 = flo_bench_now();
    /* Host to host: each tile goes home as soon as it is final
     * (flo_data_flush), overlapping the rest of the factorisation. */
    flo_status st = chol_submit(rt, ts->h, nt, ts->m.nb, &gpu_kernels, FLO_ANY,
                                !on_gpu, &ntasks);
    int bad = flo_check(st, "chol_submit");
    bad |= wait_checked(rt, "factorisation");
    if (!on_gpu)
        bad |= acquire_all(rt, ts, FLO_READ);
    double t = flo_bench_now() - t0;
    if (on_gpu)
        bad |= acquire_all(rt, ts, FLO_READ);
    bad |= info_checked();
    if (!bad && check)
        bad |= !residual_ok(&ts->m, ts->seed, o->check_cols,
                            on_gpu ? "Flotilla on GPU" : "Flotilla host");
    bad |= release_all(rt, ts);
    return bad ? -1.0 : t;
}

static int run_flotilla(flo_bench *b, const bench_opts *o, int nb,
                        flo_runtime *rt, const cusolver_result *base,
                        double *out_sh, double *out_sg)
{
    tile_set ts = {.m = {o->n, nb, o->n / nb, 0, NULL, NULL}, .seed = o->seed};
    const size_t tile_elems = (size_t)nb * nb;
    const int total = o->warmup + o->reps;
    size_t nreg = 0;
    int rc = 1;
    double *th = calloc((size_t)total, sizeof(double));
    double *tg = calloc((size_t)total, sizeof(double));
    ts.ntiles = chol_tile_count(ts.m.nt);
    ts.h = calloc(ts.ntiles, sizeof(*ts.h));
    ts.m.tiles = calloc(ts.ntiles, sizeof(*ts.m.tiles));
    if (!th || !tg || !ts.h || !ts.m.tiles ||
        posix_memalign((void **)&ts.m.data, 4096,
                       chol_matrix_bytes(o->n, nb, 0)) != 0) {
        fprintf(stderr, "bench_cholesky: out of memory\n");
        ts.m.data = NULL;
        goto out;
    }
    /* First touch here, so that no timed pass pays for page faults. */
    memset(ts.m.data, 0, chol_matrix_bytes(o->n, nb, 0));
    for (; nreg < ts.ntiles; nreg++)
        if (flo_check(flo_data_register(rt, ts.m.data + nreg * tile_elems,
                                        tile_elems * sizeof(double),
                                        &ts.h[nreg]),
                      "flo_data_register"))
            goto out;
    for (int r = 0; r < total; r++) {
        int last = r == total - 1;
        th[r] = flo_once(rt, &ts, 0, last, o);
        tg[r] = flo_once(rt, &ts, 1, last, o);
        if (th[r] < 0 || tg[r] < 0)
            goto out;
    }
    double sh = flo_bench_median(th + o->warmup, o->reps);
    double sg = flo_bench_median(tg + o->warmup, o->reps);
    if (out_sh)
        *out_sh = sh;
    if (out_sg)
        *out_sg = sg;
    if (!b) {
        rc = 0;
        goto out;
    }
    int ngpu = flo_device_count(rt) - 1;
    printf("Flotilla n %d nb %d on %d GPU(s): host to host %.4f s, on GPU "
           "%.4f s\n",
           o->n, nb, ngpu, sh, sg);
    char name[128];
    const char *bl = "cusolverDnDpotrf, matrix on GPU";
    snprintf(name, sizeof(name), "n=%d/nb=%d/gpus=%d/flotilla_host_to_host",
             o->n, nb, ngpu);
    flo_bench_result(b, name, "TFLOP/s", tflops(o->n, sh), base ? bl : NULL,
                     base ? tflops(o->n, base->potrf_s) : 0.0, 1);
    snprintf(name, sizeof(name), "n=%d/nb=%d/gpus=%d/flotilla_on_gpu", o->n, nb,
             ngpu);
    flo_bench_result(b, name, "TFLOP/s", tflops(o->n, sg), base ? bl : NULL,
                     base ? tflops(o->n, base->potrf_s) : 0.0, 1);
    if (base) {
        snprintf(name, sizeof(name),
                 "n=%d/nb=%d/gpus=%d/flotilla_host_to_host_vs_copies", o->n, nb,
                 ngpu);
        flo_bench_result(b, name, "TFLOP/s", tflops(o->n, sh),
                         "cusolverDnDpotrf with pinned H2D + D2H copies",
                         tflops(o->n, base->copies_s), 1);
    }
    rc = 0;
out:
    for (size_t t = 0; t < nreg; t++)
        if (flo_check(flo_data_unregister(rt, ts.h[t]), "flo_data_unregister"))
            rc = 1;
    free(ts.m.data);
    free(ts.m.tiles);
    free(ts.h);
    free(th);
    free(tg);
    return rc;
}

#ifdef FLO_BENCH_RESILIENCE
/*
 * bench/resilience: the same factorisation with resilience features on,
 * each against resilience off measured in the same process (a runtime
 * per case, same matrix): fault rules present that never fire, a retry
 * budget on every task (each read-write tile saved on the GPU before
 * each task), write-through (each tile a task writes copied to the
 * host). Then a device lost in the middle: two logical GPUs, the second
 * lost at its 200th task (a device rule), write-through on so that
 * nothing is lost; the factor is checked, and the time from the loss to
 * the end of the hand-back (flo_stats.recovery_ns) is reported. Then the
 * same without write-through but with lineage (flo_config.lineage): the
 * cost of remembering the writers, and the loss recovered by
 * recomputing the lost tiles.
 */
static int run_case(flo_bench *b, const bench_opts *o, int nb,
                    const char *label, const flo_config *cfg, int retries,
                    const double base[2], double out[2])
{
    flo_runtime *rt = NULL;
    flo_stats s;
    char name[128];
    int rc;
    chol_task_retries = retries;
    if (flo_check(flo_init(cfg, &rt), "flo_init"))
        return 1;
    rc = run_flotilla(NULL, o, nb, rt, NULL, &out[0], &out[1]);
    flo_stats_get(rt, &s);
    if (flo_check(flo_finalize(rt), "flo_finalize"))
        rc = 1;
    chol_task_retries = 0;
    if (rc)
        return rc;
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof(name), "n=%d/nb=%d/%s/%s", o->n, nb, label,
                 k ? "on_gpu" : "host_to_host");
        flo_bench_result(b, name, "TFLOP/s", tflops(o->n, out[k]),
                         base ? "resilience off, same run" : NULL,
                         base ? tflops(o->n, base[k]) : 0.0, 1);
    }
    if (s.devices_lost) {
        printf("  %s: %llu devices lost, %llu tasks moved, %llu run again, "
               "%llu recomputed, %llu handles lost; loss to hand-back done "
               "%.3f ms\n",
               label, (unsigned long long)s.devices_lost,
               (unsigned long long)s.replaced, (unsigned long long)s.reexecuted,
               (unsigned long long)s.recomputed,
               (unsigned long long)s.data_lost, (double)s.recovery_ns / 1e6);
        snprintf(name, sizeof(name), "n=%d/nb=%d/%s/recovery", o->n, nb, label);
        flo_bench_result(b, name, "ms", (double)s.recovery_ns / 1e6, NULL, 0.0,
                         0);
    }
    return 0;
}

static int run_resilience(flo_bench *b, const bench_opts *o, flo_runtime *rt0)
{
    int rc = 0;
    (void)rt0;
    for (int i = 0; i < o->nnb && rc == 0; i++) {
        int nb = o->nb[i];
        double off[2], t[2];
        flo_config cfg = FLO_CONFIG_INIT;
        cfg.devices = FLO_DEVICES_CUDA;
        if ((rc = run_case(b, o, nb, "off", &cfg, 0, NULL, off)))
            break;
        cfg.faults = "task:kernel=no_such_kernel,nth=1";
        rc |= run_case(b, o, nb, "fault_rules_idle", &cfg, 0, off, t);
        cfg.faults = NULL;
        rc |= run_case(b, o, nb, "retries_1", &cfg, 1, off, t);
        cfg.write_through = FLO_WRITE_THROUGH_ALL;
        rc |= run_case(b, o, nb, "write_through", &cfg, 0, off, t);
        cfg.write_through = FLO_WRITE_THROUGH_REST;
        rc |= run_case(b, o, nb, "write_through_rest", &cfg, 0, off, t);
        /* Two logical GPUs: the same device split, with and without a
         * loss. */
        cfg.logical_gpus = 2;
        cfg.write_through = FLO_WRITE_THROUGH_ALL;
        double off2[2];
        rc |=
            run_case(b, o, nb, "2_logical_write_through", &cfg, 0, NULL, off2);
        cfg.faults = "device:dev=2,at_task=200";
        rc |= run_case(b, o, nb, "2_logical_lose_one", &cfg, 0, off2, t);
        /* At rest: copies of the final tiles only, the rest recomputed
         * from the lineage after a loss. */
        cfg.write_through = FLO_WRITE_THROUGH_REST;
        cfg.faults = NULL;
        rc |= run_case(b, o, nb, "2_logical_write_through_rest", &cfg, 0, NULL,
                       off2);
        cfg.faults = "device:dev=2,at_task=200";
        rc |= run_case(b, o, nb, "2_logical_rest_lose_one", &cfg, 0, off2, t);
        /* Lineage instead of write-through: what it costs to remember
         * the writers, and a loss recovered by recomputing the tiles. */
        double off3[2];
        cfg.write_through = 0;
        cfg.faults = NULL;
        rc |= run_case(b, o, nb, "2_logical", &cfg, 0, NULL, off3);
        cfg.lineage = FLO_LINEAGE_MAX;
        rc |= run_case(b, o, nb, "2_logical_lineage", &cfg, 0, off3, t);
        cfg.faults = "device:dev=2,at_task=200";
        rc |=
            run_case(b, o, nb, "2_logical_lineage_lose_one", &cfg, 0, off3, t);
    }
    return rc;
}
#endif

/* ---- Main --------------------------------------------------------------- */

static int parse_nb(const char *s, bench_opts *o)
{
    o->nnb = 0;
    while (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 65536 || o->nnb == MAX_NB)
            return -1;
        o->nb[o->nnb++] = (int)v;
        if (*end == ',')
            end++;
        else if (*end != '\0')
            return -1;
        s = end;
    }
    return o->nnb > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    flo_bench *b = flo_bench_open("cholesky", usage, argc, argv);
    if (b == NULL)
        return 0;
    if (chol_cuda_gpu_count() <= 0) {
        printf("bench_cholesky: no CUDA GPU visible: skipped\n");
        flo_bench_close(b);
        return 0;
    }
    bench_opts o = {0};
    o.n = (int)flo_bench_arg_long(b, "--n", 4096);
    o.logical = (int)flo_bench_arg_long(b, "--logical-gpus", 0);
    o.check_cols = (int)flo_bench_arg_long(b, "--check-cols", 32);
    o.seed = (uint64_t)flo_bench_arg_long(b, "--seed", 1);
    o.reps = flo_bench_reps(b, 3);
    o.warmup = flo_bench_warmup(b, 1);
    const char *only = flo_bench_arg(b, "--only");
    o.do_flo = !only || !strcmp(only, "flotilla");
    o.do_cusolver = !only || !strcmp(only, "cusolver");
    const char *nbs = flo_bench_arg(b, "--nb");
    int bad = parse_nb(nbs ? nbs : "512", &o) != 0 || o.n < 1 ||
              o.logical < 0 || o.logical > 16 || o.check_cols < 0 ||
              (!o.do_flo && !o.do_cusolver);
    for (int i = 0; i < o.nnb && !bad; i++)
        bad = o.n % o.nb[i] != 0;
    if (bad) {
        fprintf(stderr,
                "bench_cholesky: bad arguments (every --nb must "
                "divide --n)\n%s",
                usage);
        flo_bench_close(b);
        return 2;
    }
    if (o.logical > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", o.logical);
        /* Read by flo_init (docs/configuration.md). */
        if (setenv("FLO_LOGICAL_GPUS", v, 1) != 0) {
            perror("bench_cholesky: setenv");
            flo_bench_close(b);
            return 1;
        }
    }
    chol_blas_single_thread();
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
        flo_bench_set_device(b, prop.name);

    int rc = 0;
    cusolver_result base = {0};
    /* Baselines first: their 2 n^2 doubles of device memory are freed
     * before the runtime's pool starts to grow. */
    if (o.do_cusolver) {
        if (run_cusolver(&o, &base) != 0) {
            rc = 1;
        } else {
            char name[96];
            snprintf(name, sizeof(name), "n=%d/cusolver_potrf", o.n);
            flo_bench_result(b, name, "TFLOP/s", tflops(o.n, base.potrf_s),
                             NULL, 0.0, 1);
            snprintf(name, sizeof(name), "n=%d/cusolver_pinned_copies", o.n);
            flo_bench_result(b, name, "TFLOP/s", tflops(o.n, base.copies_s),
                             "cusolverDnDpotrf, matrix on GPU",
                             tflops(o.n, base.potrf_s), 1);
        }
    }
    if (o.do_flo && rc == 0) {
        flo_config cfg = FLO_CONFIG_INIT;
        cfg.devices = FLO_DEVICES_CUDA;
        flo_runtime *rt = NULL;
        if (flo_check(flo_init(&cfg, &rt), "flo_init")) {
            rc = 1;
        } else {
#ifndef FLO_BENCH_RESILIENCE
            for (int i = 0; i < o.nnb && rc == 0; i++)
                rc = run_flotilla(b, &o, o.nb[i], rt,
                                  o.do_cusolver ? &base : NULL, NULL, NULL);
#else
            rc = run_resilience(b, &o, rt);
#endif
            if (flo_check(flo_finalize(rt), "flo_finalize"))
                rc = 1;
        }
        chol_cuda_release();
    }
    if (flo_bench_close(b))
        rc = 1;
    return rc;
}
