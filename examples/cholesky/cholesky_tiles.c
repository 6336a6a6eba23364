/*
 * Tiled fp64 Cholesky - layouts, generator, residual, host kernels and
 * the task graph (see cholesky_tiles.h).
 */
#include "cholesky_tiles.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <lapacke.h>

/* ---- Layouts ------------------------------------------------------------ */

size_t chol_tile_count(int nt)
{
    return (size_t)nt * ((size_t)nt + 1) / 2;
}

size_t chol_tile_index(int i, int j)
{
    return (size_t)i * ((size_t)i + 1) / 2 + (size_t)j;
}

size_t chol_matrix_bytes(int n, int nb, int full)
{
    if (full)
        return (size_t)n * (size_t)n * sizeof(double);
    return chol_tile_count(n / nb) * (size_t)nb * (size_t)nb * sizeof(double);
}

double *chol_tile(const chol_matrix *m, int i, int j, int *ld)
{
    if (m->full) {
        *ld = m->n;
        return m->data + (size_t)j * m->nb * m->n + (size_t)i * m->nb;
    }
    *ld = m->nb;
    if (m->tiles != NULL)
        return m->tiles[chol_tile_index(i, j)];
    return m->data + chol_tile_index(i, j) * m->nb * m->nb;
}

/* ---- Generator ---------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    /* splitmix64's finaliser: a bijection with good avalanche. */
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static double unit(uint64_t z)
{
    return (double)(z >> 11) * 0x1.0p-53;
}

/* chol_entry with mix64(seed) already computed (hs). */
static inline double entry(uint64_t hs, int n, int i, int j)
{
    if (i < j) {
        int t = i;
        i = j;
        j = t;
    }
    uint64_t key = hs ^ ((uint64_t)i * (uint64_t)n + (uint64_t)j);
    double u = unit(mix64(key));
    return i == j ? (double)n + u : u - 0.5;
}

double chol_entry(uint64_t seed, int n, int i, int j)
{
    return entry(mix64(seed), n, i, j);
}

void chol_fill_tile(double *dst, uint64_t seed, int n, int nb, int i, int j)
{
    const uint64_t hs = mix64(seed);
    for (int c = 0; c < nb; c++)
        for (int r = 0; r < nb; r++)
            dst[(size_t)c * nb + r] = entry(hs, n, i * nb + r, j * nb + c);
}

/* ---- Threads ------------------------------------------------------------ */

typedef struct pfor {
    atomic_long next;
    long nitems;
    chol_item_fn fn;
    void *arg;
} pfor;

typedef struct pfor_thread {
    pfor *job;
    int index;
} pfor_thread;

static void *pfor_main(void *p)
{
    pfor_thread *t = p;
    for (;;) {
        long item = atomic_fetch_add(&t->job->next, 1);
        if (item >= t->job->nitems)
            break;
        t->job->fn(t->job->arg, item, t->index);
    }
    return NULL;
}

static int default_threads(int threads)
{
    if (threads > 0)
        return threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < 256 ? n : 256) : 1;
}

int chol_parallel_for(long nitems, int threads, chol_item_fn fn, void *arg)
{
    threads = default_threads(threads);
    if (threads > nitems)
        threads = nitems > 0 ? (int)nitems : 1;
    pfor job = {.nitems = nitems, .fn = fn, .arg = arg};
    atomic_init(&job.next, 0);
    pthread_t *tid = calloc((size_t)threads, sizeof(*tid));
    pfor_thread *ts = calloc((size_t)threads, sizeof(*ts));
    if (tid == NULL || ts == NULL) {
        free(tid);
        free(ts);
        return -1;
    }
    /* Thread 0 is the caller; the others are started here. */
    int started = 1;
    for (int t = 0; t < threads; t++)
        ts[t] = (pfor_thread){&job, t};
    for (int t = 1; t < threads; t++, started++)
        if (pthread_create(&tid[t], NULL, pfor_main, &ts[t]) != 0)
            break;
    pfor_main(&ts[0]);
    for (int t = 1; t < started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    free(ts);
    return started;
}

typedef struct fill_job {
    const chol_matrix *m;
    uint64_t seed;
} fill_job;

static void fill_item(void *arg, long item, int thread)
{
    const fill_job *f = arg;
    const chol_matrix *m = f->m;
    (void)thread;
    if (m->full) {
        /* One column per item. */
        double *col = m->data + (size_t)item * m->n;
        const uint64_t hs = mix64(f->seed);
        for (int r = 0; r < m->n; r++)
            col[r] = entry(hs, m->n, r, (int)item);
        return;
    }
    /* One tile per item, in packed order. */
    int i = 0;
    while (chol_tile_index(i + 1, 0) <= (size_t)item)
        i++;
    int j = (int)((size_t)item - chol_tile_index(i, 0));
    int ld;
    chol_fill_tile(chol_tile(m, i, j, &ld), f->seed, m->n, m->nb, i, j);
}

int chol_fill(const chol_matrix *m, uint64_t seed, int threads)
{
    fill_job f = {m, seed};
    long items = m->full ? m->n : (long)chol_tile_count(m->nt);
    return chol_parallel_for(items, threads, fill_item, &f) > 0 ? 0 : -1;
}

/* ---- Residual ----------------------------------------------------------- */

/* Columns are handled in chunks of at most this many: a work item is one
 * tile row times one chunk, which bounds the per-thread buffers. */
#define CHOL_CHUNK 256

typedef struct resid_job {
    const chol_matrix *m;
    uint64_t seed;
    int ncols;
    const int *cols; /* The sampled columns. */
    double *x;       /* n x ncols, ld n: x(k, s) = L(cols[s], k). */
    int nchunks;
    double **ybuf, **tbuf; /* Per thread: nb x CHOL_CHUNK each. */
    double *rsum, *asum;   /* Per thread, padded by 8. */
    int failed;
} resid_job;

/* Row `cols[s]` of L, transposed, into column s of x (zeros past it). */
static void resid_gather(void *arg, long s, int thread)
{
    resid_job *r = arg;
    const chol_matrix *m = r->m;
    const int n = m->n, nb = m->nb, c = r->cols[s];
    const int tc = c / nb, rc = c % nb;
    double *xs = r->x + (size_t)s * n;
    (void)thread;
    for (int tk = 0; tk <= tc; tk++) {
        int ld;
        const double *t = chol_tile(m, tc, tk, &ld);
        int last = tk == tc ? rc : nb - 1;
        for (int kk = 0; kk < nb; kk++)
            xs[(size_t)tk * nb + kk] =
                kk <= last ? t[(size_t)kk * ld + rc] : 0.0;
    }
    for (size_t k = (size_t)(tc + 1) * nb; k < (size_t)n; k++)
        xs[k] = 0.0;
}

/* Item = tile row ti (largest first: they cost most) x column chunk. */
static void resid_block(void *arg, long item, int thread)
{
    resid_job *r = arg;
    const chol_matrix *m = r->m;
    const int n = m->n, nb = m->nb;
    const int ti = m->nt - 1 - (int)(item / r->nchunks);
    const int s0 = (int)(item % r->nchunks) * CHOL_CHUNK;
    const int ns = r->ncols - s0 < CHOL_CHUNK ? r->ncols - s0 : CHOL_CHUNK;
    double *y = r->ybuf[thread], *t = r->tbuf[thread];
    const double *x = r->x + (size_t)s0 * n;
    if (y == NULL || t == NULL)
        return;

    /* y = A(rows of ti, chunk) - sum_{tk < ti} L(ti, tk) x(tk rows). */
    double asum = 0.0;
    const uint64_t hs = mix64(r->seed);
    for (int s = 0; s < ns; s++)
        for (int rr = 0; rr < nb; rr++) {
            double a = entry(hs, n, ti * nb + rr, r->cols[s0 + s]);
            y[(size_t)s * nb + rr] = a;
            asum += a * a;
        }
    for (int tk = 0; tk < ti; tk++) {
        int ld;
        const double *l = chol_tile(m, ti, tk, &ld);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, nb, ns, nb, -1.0,
                    l, ld, x + (size_t)tk * nb, n, 1.0, y, nb);
    }
    /* The diagonal tile is triangular: its strict upper part is not L. */
    int ld;
    const double *l = chol_tile(m, ti, ti, &ld);
    for (int s = 0; s < ns; s++)
        memcpy(t + (size_t)s * nb, x + (size_t)s * n + (size_t)ti * nb,
               (size_t)nb * sizeof(double));
    cblas_dtrmm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans,
                CblasNonUnit, nb, ns, 1.0, l, ld, t, nb);
    double rsum = 0.0;
    for (size_t e = 0; e < (size_t)nb * ns; e++) {
        double d = y[e] - t[e];
        rsum += d * d;
    }
    r->rsum[(size_t)thread * 8] += rsum;
    r->asum[(size_t)thread * 8] += asum;
}

double chol_residual(const chol_matrix *m, uint64_t seed, int ncols,
                     int threads)
{
    const int n = m->n;
    if (ncols >= n || ncols <= 0)
        ncols = n;
    threads = default_threads(threads);
    double result = -1.0;
    resid_job r = {.m = m, .seed = seed, .ncols = ncols};
    int *cols = malloc((size_t)ncols * sizeof(*cols));
    r.x = malloc((size_t)n * (size_t)ncols * sizeof(double));
    r.ybuf = calloc((size_t)threads, sizeof(double *));
    r.tbuf = calloc((size_t)threads, sizeof(double *));
    r.rsum = calloc((size_t)threads * 8, sizeof(double));
    r.asum = calloc((size_t)threads * 8, sizeof(double));
    if (!cols || !r.x || !r.ybuf || !r.tbuf || !r.rsum || !r.asum)
        goto out;
    for (int t = 0; t < threads; t++) {
        size_t e = (size_t)m->nb * CHOL_CHUNK;
        r.ybuf[t] = malloc(e * sizeof(double));
        r.tbuf[t] = malloc(e * sizeof(double));
        if (!r.ybuf[t] || !r.tbuf[t])
            goto out;
    }
    if (ncols == n) {
        for (int s = 0; s < n; s++)
            cols[s] = s;
    } else {
        /* Stratified: one column per stratum, the last one pinned. */
        for (int s = 0; s < ncols; s++) {
            long lo = (long)s * n / ncols, hi = (long)(s + 1) * n / ncols;
            cols[s] = (int)(lo + (long)(mix64(seed + 77u + (uint64_t)s) %
                                        (uint64_t)(hi - lo)));
        }
        cols[ncols - 1] = n - 1;
    }
    r.cols = cols;
    r.nchunks = (ncols + CHOL_CHUNK - 1) / CHOL_CHUNK;
    if (chol_parallel_for(ncols, threads, resid_gather, &r) < 0 ||
        chol_parallel_for((long)m->nt * r.nchunks, threads, resid_block, &r) <
            0)
        goto out;
    double rs = 0.0, as = 0.0;
    for (int t = 0; t < threads; t++) {
        rs += r.rsum[(size_t)t * 8];
        as += r.asum[(size_t)t * 8];
    }
    result = sqrt(rs) / sqrt(as);
out:
    if (r.ybuf && r.tbuf)
        for (int t = 0; t < threads; t++) {
            free(r.ybuf[t]);
            free(r.tbuf[t]);
        }
    free(r.ybuf);
    free(r.tbuf);
    free(r.rsum);
    free(r.asum);
    free(r.x);
    free(cols);
    return result;
}

double chol_tolerance(int n)
{
    /* The backward error of Cholesky is bounded by a modest multiple of
     * n * eps; on this well-conditioned matrix the observed figure is
     * around 1e-16, so this bound only catches real errors. */
    return 10.0 * (double)n * DBL_EPSILON;
}

/* OpenBLAS's switch, resolved at run time when that library is linked. */
extern void openblas_set_num_threads(int n) __attribute__((weak));

void chol_blas_single_thread(void)
{
    if (openblas_set_num_threads != NULL)
        openblas_set_num_threads(1);
}

double chol_flops(int n)
{
    return (double)n * (double)n * (double)n / 3.0;
}

/* ---- Host kernels ------------------------------------------------------- */

static const chol_args *args_of(flo_task_ctx *ctx)
{
    size_t size = 0;
    const chol_args *a = flo_task_args(ctx, &size);
    if (a == NULL || size != sizeof(*a)) {
        flo_task_fail(ctx, FLO_EINVAL, "cholesky: bad task arguments");
        return NULL;
    }
    return a;
}

void chol_host_potrf(flo_task_ctx *ctx)
{
    const chol_args *a = args_of(ctx);
    if (a == NULL)
        return;
    lapack_int info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', a->nb,
                                          flo_task_buffer(ctx, 0), a->nb);
    if (info > 0)
        flo_task_fail(ctx, FLO_ETASK,
                      "cholesky: matrix not positive definite (leading "
                      "minor %ld of tile %d)",
                      (long)a->k * a->nb + (long)info, a->k);
    else if (info < 0)
        flo_task_fail(ctx, FLO_ETASK, "cholesky: dpotrf argument %d bad",
                      (int)-info);
}

void chol_host_trsm(flo_task_ctx *ctx)
{
    const chol_args *a = args_of(ctx);
    if (a == NULL)
        return;
    /* A(i,k) <- A(i,k) L(k,k)^-T */
    cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
                a->nb, a->nb, 1.0, flo_task_buffer(ctx, 0), a->nb,
                flo_task_buffer(ctx, 1), a->nb);
}

void chol_host_syrk(flo_task_ctx *ctx)
{
    const chol_args *a = args_of(ctx);
    if (a == NULL)
        return;
    /* A(i,i) <- A(i,i) - A(i,k) A(i,k)^T, lower triangle. */
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, a->nb, a->nb, -1.0,
                flo_task_buffer(ctx, 0), a->nb, 1.0, flo_task_buffer(ctx, 1),
                a->nb);
}

void chol_host_gemm(flo_task_ctx *ctx)
{
    const chol_args *a = args_of(ctx);
    if (a == NULL)
        return;
    /* A(i,j) <- A(i,j) - A(i,k) A(j,k)^T */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, a->nb, a->nb, a->nb,
                -1.0, flo_task_buffer(ctx, 0), a->nb, flo_task_buffer(ctx, 1),
                a->nb, 1.0, flo_task_buffer(ctx, 2), a->nb);
}

/* ---- Task graph --------------------------------------------------------- */

int chol_priority(int kind, int nt, int k, int i, int j)
{
    /* Earlier steps and tiles nearer the next panel first (i + j + k
     * small), and at equal distance POTRF > TRSM > SYRK > GEMM: the chain
     * POTRF(k) -> TRSM(k+1,k) -> SYRK(k+1,k+1) -> POTRF(k+1) is the
     * critical path, and a GEMM only feeds it when it updates the next
     * column, which this order also favours. Range [0, 12 nt + 3]. */
    static const int bias[4] = {3, 2, 1, 0};
    return 4 * (3 * nt - (i + j + k)) + bias[kind];
}

int chol_task_retries = 0;

static flo_status submit1(flo_runtime *rt, const flo_kernel *kern,
                          const flo_access_desc *acc, int nacc,
                          const chol_args *a, int prio, int device)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = kern;
    d.access = acc;
    d.naccess = nacc;
    d.args = a;
    d.args_size = sizeof(*a);
    d.priority = prio;
    d.on_device = FLO_DEVICE(device);
    d.retries = chol_task_retries;
    return flo_task_submit(rt, &d, NULL);
}

flo_status chol_submit(flo_runtime *rt, const flo_data *tiles, int nt, int nb,
                       const chol_kernels *ks, int device, int flush,
                       long *ntasks)
{
#define T(i, j) tiles[chol_tile_index((i), (j))]
    long count = 0;
    flo_status st = FLO_OK;
    for (int k = 0; k < nt && st == FLO_OK; k++) {
        chol_args a = {nb, nt, k, k, k};
        flo_access_desc p[1] = {{T(k, k), FLO_READ_WRITE}};
        st = submit1(rt, &ks->potrf, p, 1, &a,
                     chol_priority(CHOL_POTRF, nt, k, k, k), device);
        count += st == FLO_OK;
        /* Tile (k, k) is final. */
        if (st == FLO_OK && flush)
            st = flo_data_flush(rt, T(k, k));
        for (int i = k + 1; i < nt && st == FLO_OK; i++) {
            a = (chol_args){nb, nt, k, i, k};
            flo_access_desc t[2] = {{T(k, k), FLO_READ},
                                    {T(i, k), FLO_READ_WRITE}};
            st = submit1(rt, &ks->trsm, t, 2, &a,
                         chol_priority(CHOL_TRSM, nt, k, i, k), device);
            count += st == FLO_OK;
            /* Tile (i, k) is final. */
            if (st == FLO_OK && flush)
                st = flo_data_flush(rt, T(i, k));
        }
        for (int i = k + 1; i < nt && st == FLO_OK; i++) {
            a = (chol_args){nb, nt, k, i, i};
            flo_access_desc s[2] = {{T(i, k), FLO_READ},
                                    {T(i, i), FLO_READ_WRITE}};
            st = submit1(rt, &ks->syrk, s, 2, &a,
                         chol_priority(CHOL_SYRK, nt, k, i, i), device);
            count += st == FLO_OK;
            for (int j = k + 1; j < i && st == FLO_OK; j++) {
                a = (chol_args){nb, nt, k, i, j};
                flo_access_desc g[3] = {{T(i, k), FLO_READ},
                                        {T(j, k), FLO_READ},
                                        {T(i, j), FLO_READ_WRITE}};
                st = submit1(rt, &ks->gemm, g, 3, &a,
                             chol_priority(CHOL_GEMM, nt, k, i, j), device);
                count += st == FLO_OK;
            }
        }
    }
#undef T
    *ntasks = count;
    return st;
}
