/*
 * flo-demo - Flotilla's job in miniature.
 *
 * Part 1: a tiled 2D heat-diffusion (Jacobi) stencil as a task graph.
 * The grid is cut into tiles; every tile of the two ping-pong grids is a
 * data handle. The task that computes tile (i, j) of step s + 1 reads tile
 * (i, j) and its four neighbours of step s and writes tile (i, j) of the
 * other grid. From these access modes alone the runtime derives the graph:
 * a tile of step s + 1 can start as soon as its five inputs of step s are
 * done (and its output's readers of step s - 1 are), so steps overlap in a
 * wavefront instead of meeting at a barrier. The result is checked against
 * a sequential computation, the timings are printed, and a Chrome/Perfetto
 * trace is written (open it in https://ui.perfetto.dev).
 *
 * Part 2: transform -> reduce -> scan over an array spread across every
 * device (examples/demo_algorithms.c).
 *
 * Exits non-zero if any check fails.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <flotilla.h>

#ifndef FLO_DEMO_HAVE_ALGORITHMS
#define FLO_DEMO_HAVE_ALGORITHMS 0
#endif

/* examples/demo_algorithms.c: transform -> reduce -> scan across all
 * devices, checked on the host; 0 on success. */
int flo_demo_algorithms(flo_runtime *rt, uint64_t n);

/* Fixed temperatures outside the grid: a hot top edge, cold elsewhere. */
enum { EDGE_N, EDGE_S, EDGE_W, EDGE_E };
static const double edge_value[4] = {1.0, 0.0, 0.0, 0.0};

/* The one update rule, shared by the tasks and the sequential reference
 * so that both compute bit for bit the same values. */
static inline double heat(double c, double n, double s, double w, double e,
                          double alpha)
{
    return c + alpha * ((n + s) + (w + e) - 4.0 * c);
}

/* ---- The tile task ------------------------------------------------------ */

/* Arguments of one tile task. Buffers: 0 the output tile (write), 1 the
 * input tile (read), then the neighbours that exist (read); nb[d] is the
 * buffer index of the neighbour in direction d, or -1 at the grid edge. */
typedef struct tile_args {
    int t;     /* Tile side, in cells. */
    int nb[4]; /* EDGE_N, EDGE_S, EDGE_W, EDGE_E. */
    double alpha;
} tile_args;

/* One Jacobi step on a t x t block stored row-major: out from in. hn, hs
 * point to the row just above / below the block, hw, he to the column
 * just left / right of it (stride t), each NULL at the grid's edge, where
 * the fixed edge value is used. The sequential reference runs the same
 * function on the whole grid as one block. */
static void heat_block(double *out, const double *in, int t, const double *hn,
                       const double *hs, const double *hw, const double *he,
                       double alpha)
{
    for (int y = 0; y < t; y++) {
        const double *row = in + (size_t)y * t;
        double *orow = out + (size_t)y * t;
        const double *up = y > 0 ? row - t : hn;
        const double *dn = y < t - 1 ? row + t : hs;
        double w0 = hw ? hw[(size_t)y * t] : edge_value[EDGE_W];
        double e0 = he ? he[(size_t)y * t] : edge_value[EDGE_E];
        for (int x = 0; x < t; x++) {
            double n = up ? up[x] : edge_value[EDGE_N];
            double s = dn ? dn[x] : edge_value[EDGE_S];
            double w = x > 0 ? row[x - 1] : w0;
            double e = x < t - 1 ? row[x + 1] : e0;
            orow[x] = heat(row[x], n, s, w, e, alpha);
        }
    }
}

static void tile_step(flo_task_ctx *ctx)
{
    const tile_args *a = flo_task_args(ctx, NULL);
    const int t = a->t;
    const double *nb[4];
    for (int d = 0; d < 4; d++)
        nb[d] = a->nb[d] >= 0 ? flo_task_buffer(ctx, a->nb[d]) : NULL;
    heat_block(flo_task_buffer(ctx, 0), flo_task_buffer(ctx, 1), t,
               nb[EDGE_N] ? nb[EDGE_N] + (size_t)(t - 1) * t : NULL, nb[EDGE_S],
               nb[EDGE_W] ? nb[EDGE_W] + (t - 1) : NULL, nb[EDGE_E], a->alpha);
}

static const flo_kernel k_tile = {.name = "heat_tile", .host = tile_step};

/* ---- Sequential reference ----------------------------------------------- */

static void reference(double *a, double *b, int n, int steps, double alpha)
{
    for (int s = 0; s < steps; s++) {
        heat_block(b, a, n, NULL, NULL, NULL, NULL, alpha);
        double *tmp = a;
        a = b;
        b = tmp;
    }
}

/* Initial state: cold, with a hot square in the middle. */
static double initial(int n, int y, int x)
{
    return (y >= n / 4 && y < n / 2 && x >= n / 4 && x < n / 2) ? 1.0 : 0.0;
}

/* Offset of cell (y, x) in the tiled layout (tiles stored one after the
 * other, each row-major). */
static size_t tiled_index(int n, int t, int y, int x)
{
    int nt = n / t;
    size_t tile = (size_t)(y / t) * nt + (size_t)(x / t);
    return tile * t * t + (size_t)(y % t) * t + (size_t)(x % t);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- Options ---------------------------------------------------------- */

typedef struct options {
    int size, tile, steps, workers;
    long long alg_n;
    const char *trace;
} options;

static void usage(FILE *f)
{
    fprintf(f, "usage: flo-demo [options]\n"
               "  --size N     grid side in cells (default 2048)\n"
               "  --tile T     tile side, divides N (default 128)\n"
               "  --steps S    time steps (default 100)\n"
               "  --workers W  host workers (default: one per core)\n"
               "  --alg-n M    elements for transform/reduce/scan "
               "(default 4194304)\n"
               "  --trace PATH trace file (default flo-demo-trace.json)\n"
               "FLO_* environment variables apply (docs/configuration.md).\n");
}

static int parse_long(const char *s, long long lo, long long hi, long long *out)
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
    *o = (options){.size = 2048,
                   .tile = 128,
                   .steps = 100,
                   .workers = 0,
                   .alg_n = 4194304,
                   .trace = "flo-demo-trace.json"};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "flo-demo: %s needs a value\n", f);
            return -1;
        }
        const char *v = argv[++i];
        long long x = 0;
        int bad = 0;
        if (strcmp(f, "--trace") == 0) {
            o->trace = v[0] ? v : NULL;
        } else if (strcmp(f, "--size") == 0) {
            bad = parse_long(v, 1, 1 << 16, &x);
            o->size = (int)x;
        } else if (strcmp(f, "--tile") == 0) {
            bad = parse_long(v, 1, 1 << 16, &x);
            o->tile = (int)x;
        } else if (strcmp(f, "--steps") == 0) {
            bad = parse_long(v, 0, 1 << 20, &x);
            o->steps = (int)x;
        } else if (strcmp(f, "--workers") == 0) {
            bad = parse_long(v, 0, 4096, &x);
            o->workers = (int)x;
        } else if (strcmp(f, "--alg-n") == 0) {
            bad = parse_long(v, 0, 1LL << 40, &x);
            o->alg_n = x;
        } else {
            fprintf(stderr, "flo-demo: unknown option %s\n", f);
            usage(stderr);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "flo-demo: bad value '%s' for %s\n", v, f);
            return -1;
        }
    }
    if (o->size % o->tile != 0) {
        fprintf(stderr, "flo-demo: --tile must divide --size\n");
        return -1;
    }
    return 0;
}

/* ---- The stencil on Flotilla ------------------------------------------ */

#define TRY(call)                                                              \
    do {                                                                       \
        flo_status st_ = (call);                                               \
        if (st_ != FLO_OK) {                                                   \
            fprintf(stderr, "flo-demo: %s: %s\n", #call, flo_status_str(st_)); \
            goto out;                                                          \
        }                                                                      \
    } while (0)

/* Run the stencil on tiled grids g[0], g[1] (the result ends up in
 * g[steps % 2]). Returns 0 or -1. */
static int stencil(flo_runtime *rt, const options *o, double *g[2],
                   double *seconds, long *ntasks)
{
    const int n = o->size, t = o->tile, nt = n / t;
    const size_t tile_bytes = (size_t)t * t * sizeof(double);
    int rc = -1, nreg = 0;
    flo_data *h = calloc(2 * (size_t)nt * nt, sizeof(*h));
    if (h == NULL)
        return -1;

    /* h[b * nt * nt + i * nt + j]: tile (i, j) of grid b. */
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < nt * nt; k++, nreg++)
            TRY(flo_data_register(rt, g[b] + (size_t)k * t * t, tile_bytes,
                                  &h[nreg]));

    double t0 = now_s();
    long count = 0;
    for (int s = 0; s < o->steps; s++) {
        const flo_data *src = h + (size_t)(s % 2) * nt * nt;
        const flo_data *dst = h + (size_t)((s + 1) % 2) * nt * nt;
        for (int i = 0; i < nt; i++) {
            for (int j = 0; j < nt; j++) {
                flo_access_desc acc[6];
                tile_args a = {.t = t, .alpha = 0.2, .nb = {-1, -1, -1, -1}};
                int na = 0;
                acc[na++] = (flo_access_desc){dst[i * nt + j], FLO_WRITE};
                acc[na++] = (flo_access_desc){src[i * nt + j], FLO_READ};
                const int di[4] = {-1, 1, 0, 0}, dj[4] = {0, 0, -1, 1};
                for (int d = 0; d < 4; d++) {
                    int ii = i + di[d], jj = j + dj[d];
                    if (ii < 0 || ii >= nt || jj < 0 || jj >= nt)
                        continue;
                    a.nb[d] = na;
                    acc[na++] = (flo_access_desc){src[ii * nt + jj], FLO_READ};
                }
                flo_task_desc desc = FLO_TASK_DESC_INIT;
                desc.kernel = &k_tile;
                desc.access = acc;
                desc.naccess = na;
                desc.args = &a;
                desc.args_size = sizeof(a);
                TRY(flo_task_submit(rt, &desc, NULL));
                count++;
            }
        }
    }
    TRY(flo_wait_all(rt));
    *seconds = now_s() - t0;
    *ntasks = count;
    rc = 0;
out:
    /* Unregistering writes every tile back to g[0] and g[1]. */
    for (int k = 0; k < nreg; k++) {
        flo_status st = flo_data_unregister(rt, h[k]);
        if (st != FLO_OK && rc == 0) {
            fprintf(stderr, "flo-demo: flo_data_unregister: %s\n",
                    flo_status_str(st));
            rc = -1;
        }
    }
    free(h);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;

    const int n = o.size, t = o.tile;
    const size_t cells = (size_t)n * n;
    double *g[2] = {malloc(cells * sizeof(double)),
                    malloc(cells * sizeof(double))};
    double *r[2] = {malloc(cells * sizeof(double)),
                    malloc(cells * sizeof(double))};
    int failed = 0;
    flo_runtime *rt = NULL;
    if (!g[0] || !g[1] || !r[0] || !r[1]) {
        fprintf(stderr, "flo-demo: out of memory\n");
        failed = 1;
        goto done;
    }
    for (int y = 0; y < n; y++) {
        for (int x = 0; x < n; x++) {
            double v = initial(n, y, x);
            g[0][tiled_index(n, t, y, x)] = v;
            r[0][(size_t)y * n + x] = v;
        }
    }
    /* Touch every page now, so that neither timing pays for it. */
    memset(g[1], 0, cells * sizeof(double));
    memset(r[1], 0, cells * sizeof(double));

    flo_config cfg = FLO_CONFIG_INIT;
    cfg.host_workers = o.workers;
    cfg.trace_path = o.trace;
    flo_status st = flo_init(&cfg, &rt);
    if (st != FLO_OK) {
        fprintf(stderr, "flo-demo: flo_init: %s\n", flo_status_str(st));
        failed = 1;
        goto done;
    }
    int ndev = flo_device_count(rt);
    printf("Flotilla %s: %d worker(s), %d device(s):", flo_version_string(),
           flo_worker_count(rt), ndev);
    for (int d = 0; d < ndev; d++) {
        flo_device_info info;
        if (flo_device_get_info(rt, d, &info) == FLO_OK)
            printf("%s %s", d ? "," : "", info.name);
    }
    printf("\n");

    /* Part 1: the stencil, then the same on one core for reference. */
    int nt = n / t;
    printf("\n[1] heat diffusion: %d x %d cells, %d x %d tiles of %d x %d, "
           "%d steps\n",
           n, n, nt, nt, t, t, o.steps);
    double par_s = 0.0;
    long ntasks = 0;
    if (stencil(rt, &o, g, &par_s, &ntasks) != 0) {
        failed = 1;
        goto done;
    }
    double t0 = now_s();
    reference(r[0], r[1], n, o.steps, 0.2);
    double seq_s = now_s() - t0;

    const double *res = g[o.steps % 2], *ref = r[o.steps % 2];
    double maxdiff = 0.0, sum = 0.0;
    for (int y = 0; y < n; y++) {
        for (int x = 0; x < n; x++) {
            double v = res[tiled_index(n, t, y, x)];
            double d = fabs(v - ref[(size_t)y * n + x]);
            if (!(d <= maxdiff))
                maxdiff = d; /* NaN also lands here and fails below. */
            sum += v;
        }
    }
    double updates = (double)cells * o.steps;
    printf("    tasks      %ld in %.3f s: %.0f tasks/s, %.2f us/task\n", ntasks,
           par_s, par_s > 0 ? ntasks / par_s : 0.0,
           ntasks ? 1e6 * par_s / ntasks : 0.0);
    printf("    throughput %.2f GFLOP/s, %.2f GB/s (7 flop and 16 bytes "
           "per cell update)\n",
           par_s > 0 ? 7e-9 * updates / par_s : 0.0,
           par_s > 0 ? 16e-9 * updates / par_s : 0.0);
    printf("    sequential %.3f s on one core: speed-up %.2fx\n", seq_s,
           par_s > 0 ? seq_s / par_s : 0.0);
    printf("    mean temperature %.6f, max |task - sequential| = %.3g: "
           "%s\n",
           sum / (double)cells, maxdiff, maxdiff <= 1e-12 ? "OK" : "MISMATCH");
    if (!(maxdiff <= 1e-12))
        failed = 1;

    /* Part 2: transform -> reduce -> scan across every device. */
    printf("\n[2] transform -> reduce -> scan, %lld elements\n", o.alg_n);
#if FLO_DEMO_HAVE_ALGORITHMS
    if (o.alg_n > 0 && flo_demo_algorithms(rt, (uint64_t)o.alg_n) != 0) {
        printf("    FAILED\n");
        failed = 1;
    } else {
        printf("    %s\n", o.alg_n > 0 ? "OK" : "skipped (--alg-n 0)");
    }
#else
    printf("    skipped: this build has no examples/demo_algorithms.c\n");
#endif

done:
    if (rt != NULL) {
        flo_stats stats;
        if (flo_stats_get(rt, &stats) == FLO_OK)
            printf("\nstatistics: %llu tasks completed, %llu failed, "
                   "%llu steals\n",
                   (unsigned long long)stats.tasks_completed,
                   (unsigned long long)stats.tasks_failed,
                   (unsigned long long)stats.steals);
        st = flo_finalize(rt);
        if (st != FLO_OK) {
            fprintf(stderr, "flo-demo: flo_finalize: %s\n", flo_status_str(st));
            failed = 1;
        } else {
            const char *env = getenv("FLO_TRACE");
            const char *path = (env && env[0]) ? env : o.trace;
            struct stat sb;
            if (path != NULL && stat(path, &sb) == 0 && sb.st_size > 0) {
                printf("trace: %s (open in https://ui.perfetto.dev)\n", path);
            } else if (path != NULL) {
                fprintf(stderr, "flo-demo: trace %s was not written\n", path);
                failed = 1;
            }
        }
    }
    free(g[0]);
    free(g[1]);
    free(r[0]);
    free(r[1]);
    printf("%s\n", failed ? "flo-demo: FAILED"
                          : "flo-demo: all checks "
                            "passed");
    return failed ? 1 : 0;
}
