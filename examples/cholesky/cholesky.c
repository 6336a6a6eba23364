/*
 * flo-cholesky - a tiled fp64 Cholesky factorisation A = L L^T on
 * Flotilla, host and GPU, checked.
 *
 * The n x n symmetric positive definite matrix is cut into nb x nb tiles;
 * only the lower triangle of tiles is stored, tile after tile, and each
 * tile is one data handle registered over host memory. The right-looking
 * algorithm is four tile kernels:
 *
 *   for k:  POTRF  A(k,k) = L(k,k) L(k,k)^T                 RW A(k,k)
 *     i>k:  TRSM   A(i,k) = A(i,k) L(k,k)^-T      R A(k,k), RW A(i,k)
 *     i>k:  SYRK   A(i,i) -= A(i,k) A(i,k)^T      R A(i,k), RW A(i,i)
 *   i>j>k:  GEMM   A(i,j) -= A(i,k) A(j,k)^T   R A(i,k), A(j,k), RW A(i,j)
 *
 * All tasks are submitted at once; the runtime derives the graph from the
 * access modes and runs each kernel on a host worker (LAPACKE / CBLAS) or
 * a GPU (cuSOLVER / cuBLAS on the task's stream). Priorities put the
 * critical path (POTRF and TRSM of the next panel) before the GEMMs.
 * Unregistering the tiles brings the factor home; it is then checked with
 * ||A - L L^T||_F / ||A||_F. Exits 1 on a wrong result or any error.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <flotilla.h>

#include "cholesky_tiles.h"
#if CHOL_HAVE_CUDA
#include "cholesky_cuda.h"
#endif

typedef enum devices { DEV_ANY, DEV_HOST, DEV_GPU } devices;

typedef struct options {
    int n, nb, workers, tap, indefinite;
    int check_cols; /* 0: none; >= n: full. */
    devices dev;
    unsigned long long seed;
} options;

static int tap_mode;

/* Diagnostics: TAP comments in --tap mode, so that meson shows them. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (tap_mode)
        fputs("# ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: flo-cholesky [options]\n"
            "  --n N          matrix order, a multiple of --nb (default 4096)\n"
            "  --nb B         tile side (default 512)\n"
            "  --devices D    host | gpu | any (default any): where the "
            "tile\n"
            "                 kernels may run\n"
            "  --check C      auto | full | sample | none | a column count:\n"
            "                 full computes ||A - L L^T|| exactly (about n^3\n"
            "                 flops); sample does it on 64 columns, the last\n"
            "                 one included; auto: full up to n = 8192\n"
            "  --workers W    host workers (default: one per core)\n"
            "  --seed S       matrix seed (default 1)\n"
            "  --indefinite   make A indefinite (tests the error path)\n"
            "  --tap          report as TAP (meson); skip without a GPU\n"
            "FLO_* environment variables apply (docs/configuration.md).\n");
}

static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.n = 4096,
                   .nb = 512,
                   .workers = 0,
                   .check_cols = -1,
                   .dev = DEV_ANY,
                   .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(f, "--tap")) {
            o->tap = 1;
            continue;
        }
        if (!strcmp(f, "--indefinite")) {
            o->indefinite = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "flo-cholesky: %s needs a value\n", f);
            return -1;
        }
        const char *v = argv[++i];
        long long x = 0;
        int bad = 0;
        if (!strcmp(f, "--n")) {
            bad = parse_ll(v, 1, 1 << 20, &x);
            o->n = (int)x;
        } else if (!strcmp(f, "--nb")) {
            bad = parse_ll(v, 1, 1 << 16, &x);
            o->nb = (int)x;
        } else if (!strcmp(f, "--workers")) {
            bad = parse_ll(v, 0, 4096, &x);
            o->workers = (int)x;
        } else if (!strcmp(f, "--seed")) {
            bad = parse_ll(v, 0, (1LL << 62), &x);
            o->seed = (unsigned long long)x;
        } else if (!strcmp(f, "--devices")) {
            if (!strcmp(v, "host"))
                o->dev = DEV_HOST;
            else if (!strcmp(v, "gpu"))
                o->dev = DEV_GPU;
            else if (!strcmp(v, "any"))
                o->dev = DEV_ANY;
            else
                bad = 1;
        } else if (!strcmp(f, "--check")) {
            if (!strcmp(v, "auto"))
                o->check_cols = -1;
            else if (!strcmp(v, "full"))
                o->check_cols = 1 << 30;
            else if (!strcmp(v, "sample"))
                o->check_cols = 64;
            else if (!strcmp(v, "none"))
                o->check_cols = 0;
            else {
                bad = parse_ll(v, 1, 1 << 30, &x);
                o->check_cols = (int)x;
            }
        } else {
            fprintf(stderr, "flo-cholesky: unknown option %s\n", f);
            usage(stderr);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "flo-cholesky: bad value '%s' for %s\n", v, f);
            return -1;
        }
    }
    if (o->n % o->nb != 0) {
        fprintf(stderr, "flo-cholesky: --nb must divide --n\n");
        return -1;
    }
    if (o->check_cols < 0)
        o->check_cols = o->n <= 8192 ? o->n : 64;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Print the TAP plan or skip line first (TAP wants the plan up front when
 * the run may be skipped). Returns 1 if the run is to be skipped. */
static int tap_begin(const options *o)
{
    if (!o->tap)
        return 0;
    /* Without a GPU, --devices any would silently test the host only. */
    if (o->dev != DEV_HOST) {
#if CHOL_HAVE_CUDA
        if (chol_cuda_gpu_count() <= 0) {
            printf("1..0 # SKIP no CUDA GPU visible\n");
            return 1;
        }
#else
        printf("1..0 # SKIP built without CUDA\n");
        return 1;
#endif
    }
    printf("1..1\n");
    return 0;
}

/* The kernels for the chosen devices. */
static int pick_kernels(const options *o, chol_kernels *ks)
{
    *ks = (chol_kernels){{"chol_potrf", NULL, NULL},
                         {"chol_trsm", NULL, NULL},
                         {"chol_syrk", NULL, NULL},
                         {"chol_gemm", NULL, NULL}};
    if (o->dev != DEV_GPU) {
        ks->potrf.host = chol_host_potrf;
        ks->trsm.host = chol_host_trsm;
        ks->syrk.host = chol_host_syrk;
        ks->gemm.host = chol_host_gemm;
    }
#if CHOL_HAVE_CUDA
    if (o->dev != DEV_HOST) {
        ks->potrf.cuda = chol_cuda_potrf;
        ks->trsm.cuda = chol_cuda_trsm;
        ks->syrk.cuda = chol_cuda_syrk;
        ks->gemm.cuda = chol_cuda_gemm;
    }
#else
    if (o->dev == DEV_GPU) {
        fprintf(stderr, "flo-cholesky: this build has no CUDA\n");
        return -1;
    }
#endif
    return 0;
}

/* Factorise m on rt: register, submit, wait, unregister (which brings
 * every tile home). 0, or -1 after printing why. */
static int factorise(flo_runtime *rt, const chol_matrix *m,
                     const chol_kernels *ks, double *seconds, long *ntasks)
{
    const size_t ntiles = chol_tile_count(m->nt);
    const size_t tile_bytes = (size_t)m->nb * m->nb * sizeof(double);
    flo_data *h = calloc(ntiles, sizeof(*h));
    size_t nreg = 0;
    int rc = -1;
    flo_status st = FLO_OK;
    double t0 = 0.0;
    if (h == NULL) {
        fprintf(stderr, "flo-cholesky: out of memory\n");
        return -1;
    }
    for (; nreg < ntiles; nreg++) {
        st = flo_data_register(rt, m->data + nreg * m->nb * m->nb, tile_bytes,
                               &h[nreg]);
        if (st != FLO_OK) {
            fprintf(stderr, "flo-cholesky: flo_data_register: %s\n",
                    flo_status_str(st));
            goto out;
        }
    }
    t0 = now_s();
    st = chol_submit(rt, h, m->nt, m->nb, ks, FLO_ANY, 1, ntasks);
    if (st != FLO_OK)
        fprintf(stderr, "flo-cholesky: flo_task_submit: %s\n",
                flo_status_str(st));
    flo_status wst = flo_wait_all(rt);
    if (wst != FLO_OK) {
        char msg[256];
        if (flo_error_message(rt, FLO_EVENT_NULL, msg, sizeof(msg)) != FLO_OK)
            msg[0] = '\0';
        fprintf(stderr, "flo-cholesky: factorisation failed: %s%s%s\n",
                flo_status_str(wst), msg[0] ? ": " : "", msg);
    }
    rc = st == FLO_OK && wst == FLO_OK ? 0 : -1;
out:
    /* Unregistering writes every tile back to m->data. */
    for (size_t t = 0; t < nreg; t++) {
        flo_status ust = flo_data_unregister(rt, h[t]);
        if (ust != FLO_OK && rc == 0) {
            fprintf(stderr, "flo-cholesky: flo_data_unregister: %s\n",
                    flo_status_str(ust));
            rc = -1;
        }
    }
    if (rc == 0)
        *seconds = now_s() - t0;
    free(h);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    tap_mode = o.tap;
    if (tap_begin(&o))
        return 0;
    chol_blas_single_thread();

    chol_kernels ks;
    int failed = 1;
    flo_runtime *rt = NULL;
    chol_matrix m = {o.n, o.nb, o.n / o.nb, 0, NULL, NULL};
    size_t bytes = chol_matrix_bytes(o.n, o.nb, 0);
    if (pick_kernels(&o, &ks) != 0)
        goto done;
    if (posix_memalign((void **)&m.data, 4096, bytes) != 0) {
        fprintf(stderr, "flo-cholesky: cannot allocate %zu bytes\n", bytes);
        m.data = NULL;
        goto done;
    }
    double t0 = now_s();
    if (chol_fill(&m, o.seed, -1) != 0) {
        fprintf(stderr, "flo-cholesky: cannot start threads\n");
        goto done;
    }
    if (o.indefinite) {
        /* A negative pivot in the middle: POTRF of that tile fails. */
        int c = o.n / 2, ld;
        double *t = chol_tile(&m, c / o.nb, c / o.nb, &ld);
        t[(size_t)(c % o.nb) * ld + c % o.nb] = -1.0;
    }
    say("flo-cholesky: n %d, tiles %d x %d of %d (%zu stored, %.2f GB), "
        "generated in %.2f s\n",
        o.n, m.nt, m.nt, o.nb, chol_tile_count(m.nt), 1e-9 * (double)bytes,
        now_s() - t0);

    flo_config cfg = FLO_CONFIG_INIT;
    cfg.host_workers = o.workers;
    cfg.devices = o.dev == DEV_HOST  ? FLO_DEVICES_HOST
                  : o.dev == DEV_GPU ? FLO_DEVICES_CUDA
                                     : FLO_DEVICES_AUTO;
    flo_status st = flo_init(&cfg, &rt);
    if (st != FLO_OK) {
        fprintf(stderr, "flo-cholesky: flo_init: %s\n", flo_status_str(st));
        rt = NULL;
        goto done;
    }
    int ndev = flo_device_count(rt);
    say("runtime: %d worker(s) on", flo_worker_count(rt));
    for (int d = 0; d < ndev; d++) {
        flo_device_info info;
        if (flo_device_get_info(rt, d, &info) == FLO_OK)
            printf("%s %s", d ? "," : "", info.name);
    }
    printf("\n");

    double secs = 0.0;
    long ntasks = 0;
    if (factorise(rt, &m, &ks, &secs, &ntasks) != 0)
        goto done;
#if CHOL_HAVE_CUDA
    if (o.dev != DEV_HOST && ndev > 1) {
        int bad_k, bad_info;
        int r = chol_cuda_check_info(&bad_k, &bad_info);
        if (r != 0) {
            if (r > 0)
                fprintf(stderr,
                        "flo-cholesky: matrix not positive "
                        "definite (leading minor %ld, GPU POTRF of "
                        "tile %d)\n",
                        (long)bad_k * o.nb + bad_info, bad_k);
            goto done;
        }
    }
#endif
    say("factorised: %ld tasks in %.3f s, %.1f GFLOP/s (n^3/3 flops, host "
        "to host)\n",
        ntasks, secs, secs > 0 ? 1e-9 * chol_flops(o.n) / secs : 0.0);

    if (o.check_cols > 0) {
        t0 = now_s();
        double res = chol_residual(&m, o.seed, o.check_cols, -1);
        double tol = chol_tolerance(o.n);
        int cols = o.check_cols < o.n ? o.check_cols : o.n;
        if (res < 0.0) { /* Not NaN: an allocation failed. */
            fprintf(stderr, "flo-cholesky: out of memory in the check\n");
            goto done;
        }
        say("residual ||A - L L^T||_F / ||A||_F = %.3g over %s%d columns, "
            "tolerance %.3g (%.2f s): %s\n",
            res, cols < o.n ? "a sample of " : "all ", cols, tol, now_s() - t0,
            res <= tol ? "OK" : "WRONG");
        if (!(res <= tol))
            goto done; /* NaN lands here too. */
    } else {
        say("residual not checked (--check none)\n");
    }
    failed = 0;

done:
    if (rt != NULL) {
        st = flo_finalize(rt);
        if (st != FLO_OK) {
            fprintf(stderr, "flo-cholesky: flo_finalize: %s\n",
                    flo_status_str(st));
            failed = 1;
        }
    }
#if CHOL_HAVE_CUDA
    chol_cuda_release();
#endif
    free(m.data);
    if (o.tap)
        printf("%s 1 - cholesky n=%d nb=%d\n", failed ? "not ok" : "ok", o.n,
               o.nb);
    return failed;
}
