/*
 * Tiled fp64 Cholesky - CUDA entry points (see cholesky_cuda.h).
 *
 * Library state. cuBLAS and cuSOLVER handles are created lazily, one pair
 * per (worker thread, physical GPU): a GPU worker thread is the only one
 * that uses its pair, so calls on one handle never race, and the pair is
 * pointed at the task's stream before every call. Per (thread, GPU,
 * stream), a cuBLAS workspace and a POTRF workspace are allocated once and
 * grown only when a larger tile needs it: no task allocates device
 * memory in the steady state, and kernels that run at the same time on
 * two streams never share a workspace. Every state is also on a global
 * list, so that the main thread can read the POTRF status words and free
 * everything once the workers are done.
 */
#include "cholesky_cuda.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <flotilla/cuda.h>

#include "cholesky_tiles.h"

#define CHOL_MAX_GPUS 64
#define CHOL_MAX_STREAMS 64
/* cuBLAS's recommended workspace on Hopper and later. */
#define CHOL_BLAS_WS_BYTES ((size_t)32 << 20)

typedef struct chol_stream {
    cudaStream_t stream;
    void *blas_ws; /* CHOL_BLAS_WS_BYTES. */
    double *potrf_ws;
    int potrf_lwork; /* Elements of potrf_ws. */
    int lwork_nb;    /* Tile side lwork_for was queried for; 0: none. */
    int lwork_for;
} chol_stream;

typedef struct chol_gpu {
    struct chol_gpu *next; /* Global list, under registry_lock. */
    int ordinal;
    cublasHandle_t blas;
    cusolverDnHandle_t solver;
    int *d_info;  /* info_cap ints on the GPU; slot k: POTRF of step k. */
    int info_cap; /* Never shrinks; slots >= every submitted nt are 0. */
    chol_stream streams[CHOL_MAX_STREAMS];
    int nstreams;
} chol_gpu;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static chol_gpu *registry;
/* Bumped by chol_cuda_release: thread-local pointers of an older
 * generation point to freed states. */
static atomic_uint generation = 1;

typedef struct chol_tls {
    chol_gpu *gpu;
    unsigned gen;
} chol_tls;

static _Thread_local chol_tls tls[CHOL_MAX_GPUS];

static int cu_ok(flo_task_ctx *ctx, cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 1;
    flo_task_fail(ctx, FLO_EDEVICE, "cholesky: %s: %s", what,
                  cudaGetErrorString(e));
    return 0;
}

static int blas_ok(flo_task_ctx *ctx, cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 1;
    flo_task_fail(ctx, FLO_EDEVICE, "cholesky: %s: %s", what,
                  cublasGetStatusString(s));
    return 0;
}

static int solver_ok(flo_task_ctx *ctx, cusolverStatus_t s, const char *what)
{
    if (s == CUSOLVER_STATUS_SUCCESS)
        return 1;
    flo_task_fail(ctx, FLO_EDEVICE, "cholesky: %s: cusolver status %d", what,
                  (int)s);
    return 0;
}

static void gpu_free(chol_gpu *g)
{
    for (int i = 0; i < g->nstreams; i++) {
        cudaFree(g->streams[i].blas_ws);
        cudaFree(g->streams[i].potrf_ws);
    }
    cudaFree(g->d_info);
    if (g->blas != NULL)
        cublasDestroy(g->blas);
    if (g->solver != NULL)
        cusolverDnDestroy(g->solver);
    free(g);
}

/* This thread's state for the task's GPU, created on first use. */
static chol_gpu *gpu_state(flo_task_ctx *ctx)
{
    int ord = flo_task_cuda_ordinal(ctx);
    if (ord < 0 || ord >= CHOL_MAX_GPUS) {
        flo_task_fail(ctx, FLO_EDEVICE,
                      "cholesky: GPU ordinal %d out of "
                      "range",
                      ord);
        return NULL;
    }
    unsigned gen = atomic_load(&generation);
    if (tls[ord].gpu != NULL && tls[ord].gen == gen)
        return tls[ord].gpu;

    int cur = -1;
    if (!cu_ok(ctx, cudaGetDevice(&cur), "cudaGetDevice"))
        return NULL;
    if (cur != ord && !cu_ok(ctx, cudaSetDevice(ord), "cudaSetDevice"))
        return NULL;
    chol_gpu *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        flo_task_fail(ctx, FLO_ENOMEM, "cholesky: out of host memory");
        return NULL;
    }
    g->ordinal = ord;
    if (!blas_ok(ctx, cublasCreate(&g->blas), "cublasCreate") ||
        !solver_ok(ctx, cusolverDnCreate(&g->solver), "cusolverDnCreate")) {
        gpu_free(g);
        return NULL;
    }
    pthread_mutex_lock(&registry_lock);
    g->next = registry;
    registry = g;
    pthread_mutex_unlock(&registry_lock);
    tls[ord] = (chol_tls){g, gen};
    return g;
}

/* The workspaces of stream s in g, created on first use. */
static chol_stream *stream_state(flo_task_ctx *ctx, chol_gpu *g, cudaStream_t s)
{
    for (int i = 0; i < g->nstreams; i++)
        if (g->streams[i].stream == s)
            return &g->streams[i];
    if (g->nstreams == CHOL_MAX_STREAMS) {
        flo_task_fail(ctx, FLO_EDEVICE, "cholesky: more than %d streams",
                      CHOL_MAX_STREAMS);
        return NULL;
    }
    chol_stream *st = &g->streams[g->nstreams];
    *st = (chol_stream){.stream = s};
    if (!cu_ok(ctx, cudaMalloc(&st->blas_ws, CHOL_BLAS_WS_BYTES),
               "cudaMalloc (cuBLAS workspace)"))
        return NULL;
    g->nstreams++;
    return st;
}

typedef struct chol_call {
    const chol_args *a;
    chol_gpu *g;
    chol_stream *s;
} chol_call;

/* Everything a call needs, with the cuBLAS handle on the task's stream
 * and workspace. 1 on success; 0 after failing the task. */
static int prepare(flo_task_ctx *ctx, chol_call *c)
{
    size_t size = 0;
    c->a = flo_task_args(ctx, &size);
    if (c->a == NULL || size != sizeof(chol_args)) {
        flo_task_fail(ctx, FLO_EINVAL, "cholesky: bad task arguments");
        return 0;
    }
    cudaStream_t stream = flo_task_cuda_stream(ctx);
    if ((c->g = gpu_state(ctx)) == NULL ||
        (c->s = stream_state(ctx, c->g, stream)) == NULL)
        return 0;
    /* cublasSetStream resets the workspace: set it afterwards. */
    return blas_ok(ctx, cublasSetStream(c->g->blas, stream),
                   "cublasSetStream") &&
           blas_ok(ctx,
                   cublasSetWorkspace(c->g->blas, c->s->blas_ws,
                                      CHOL_BLAS_WS_BYTES),
                   "cublasSetWorkspace");
}

/* Make slot k of g's status words exist. Growing synchronises the GPU:
 * it happens at most once per (thread, GPU) and matrix size. */
static int info_reserve(flo_task_ctx *ctx, chol_gpu *g, int nt)
{
    if (nt <= g->info_cap)
        return 1;
    int cap = nt < 64 ? 64 : nt;
    int *d = NULL;
    if (!cu_ok(ctx, cudaDeviceSynchronize(), "cudaDeviceSynchronize") ||
        !cu_ok(ctx, cudaMalloc((void **)&d, (size_t)cap * sizeof(int)),
               "cudaMalloc (info)"))
        return 0;
    if (!cu_ok(ctx, cudaMemset(d, 0, (size_t)cap * sizeof(int)),
               "cudaMemset") ||
        (g->info_cap > 0 &&
         !cu_ok(ctx,
                cudaMemcpy(d, g->d_info, (size_t)g->info_cap * sizeof(int),
                           cudaMemcpyDeviceToDevice),
                "cudaMemcpy (info)")) ||
        !cu_ok(ctx, cudaDeviceSynchronize(), "cudaDeviceSynchronize")) {
        cudaFree(d);
        return 0;
    }
    cudaFree(g->d_info);
    g->d_info = d;
    g->info_cap = cap;
    return 1;
}

void chol_cuda_potrf(flo_task_ctx *ctx)
{
    chol_call c;
    if (!prepare(ctx, &c))
        return;
    const int nb = c.a->nb;
    double *a = flo_task_buffer(ctx, 0);
    cusolverDnHandle_t h = c.g->solver;
    chol_stream *s = c.s;
    if (!solver_ok(ctx, cusolverDnSetStream(h, s->stream),
                   "cusolverDnSetStream") ||
        !info_reserve(ctx, c.g, c.a->nt))
        return;
    if (s->lwork_nb != nb) {
        int lwork = 0;
        if (!solver_ok(ctx,
                       cusolverDnDpotrf_bufferSize(h, CUBLAS_FILL_MODE_LOWER,
                                                   nb, a, nb, &lwork),
                       "cusolverDnDpotrf_bufferSize"))
            return;
        s->lwork_nb = nb;
        s->lwork_for = lwork > 0 ? lwork : 1;
    }
    if (s->potrf_lwork < s->lwork_for) {
        /* Earlier POTRFs on this stream may still read the old one. */
        double *w = NULL;
        if (!cu_ok(ctx, cudaStreamSynchronize(s->stream),
                   "cudaStreamSynchronize") ||
            !cu_ok(
                ctx,
                cudaMalloc((void **)&w, (size_t)s->lwork_for * sizeof(double)),
                "cudaMalloc (potrf workspace)"))
            return;
        cudaFree(s->potrf_ws);
        s->potrf_ws = w;
        s->potrf_lwork = s->lwork_for;
    }
    solver_ok(ctx,
              cusolverDnDpotrf(h, CUBLAS_FILL_MODE_LOWER, nb, a, nb,
                               s->potrf_ws, s->potrf_lwork,
                               &c.g->d_info[c.a->k]),
              "cusolverDnDpotrf");
}

static const double one = 1.0, minus_one = -1.0;

void chol_cuda_trsm(flo_task_ctx *ctx)
{
    chol_call c;
    if (!prepare(ctx, &c))
        return;
    const int nb = c.a->nb;
    /* A(i,k) <- A(i,k) L(k,k)^-T */
    blas_ok(ctx,
            cublasDtrsm(c.g->blas, CUBLAS_SIDE_RIGHT, CUBLAS_FILL_MODE_LOWER,
                        CUBLAS_OP_T, CUBLAS_DIAG_NON_UNIT, nb, nb, &one,
                        flo_task_buffer(ctx, 0), nb, flo_task_buffer(ctx, 1),
                        nb),
            "cublasDtrsm");
}

void chol_cuda_syrk(flo_task_ctx *ctx)
{
    chol_call c;
    if (!prepare(ctx, &c))
        return;
    const int nb = c.a->nb;
    blas_ok(ctx,
            cublasDsyrk(c.g->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, nb, nb,
                        &minus_one, flo_task_buffer(ctx, 0), nb, &one,
                        flo_task_buffer(ctx, 1), nb),
            "cublasDsyrk");
}

void chol_cuda_gemm(flo_task_ctx *ctx)
{
    chol_call c;
    if (!prepare(ctx, &c))
        return;
    const int nb = c.a->nb;
    blas_ok(ctx,
            cublasDgemm(c.g->blas, CUBLAS_OP_N, CUBLAS_OP_T, nb, nb, nb,
                        &minus_one, flo_task_buffer(ctx, 0), nb,
                        flo_task_buffer(ctx, 1), nb, &one,
                        flo_task_buffer(ctx, 2), nb),
            "cublasDgemm");
}

void chol_cuda_touch(flo_task_ctx *ctx)
{
    (void)ctx;
}

int chol_cuda_gpu_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

int chol_cuda_check_info(int *bad_k, int *bad_info)
{
    int rc = 0, prev = -1;
    *bad_k = -1;
    *bad_info = 0;
    if (cudaGetDevice(&prev) != cudaSuccess)
        prev = -1;
    pthread_mutex_lock(&registry_lock);
    for (chol_gpu *g = registry; g != NULL && rc >= 0; g = g->next) {
        if (g->info_cap == 0)
            continue;
        int *h = malloc((size_t)g->info_cap * sizeof(int));
        cudaError_t e =
            h == NULL ? cudaErrorMemoryAllocation : cudaSetDevice(g->ordinal);
        if (e == cudaSuccess)
            e = cudaMemcpy(h, g->d_info, (size_t)g->info_cap * sizeof(int),
                           cudaMemcpyDeviceToHost);
        if (e == cudaSuccess)
            e = cudaMemset(g->d_info, 0, (size_t)g->info_cap * sizeof(int));
        if (e == cudaSuccess)
            e = cudaDeviceSynchronize();
        if (e != cudaSuccess) {
            fprintf(stderr, "cholesky: reading POTRF status on GPU %d: %s\n",
                    g->ordinal, cudaGetErrorString(e));
            rc = -1;
        } else {
            for (int k = 0; k < g->info_cap; k++)
                if (h[k] != 0 && (*bad_k < 0 || k < *bad_k)) {
                    *bad_k = k;
                    *bad_info = h[k];
                    rc = 1;
                }
        }
        free(h);
    }
    pthread_mutex_unlock(&registry_lock);
    if (prev >= 0)
        (void)cudaSetDevice(prev);
    return rc;
}

void chol_cuda_release(void)
{
    pthread_mutex_lock(&registry_lock);
    chol_gpu *g = registry;
    registry = NULL;
    atomic_fetch_add(&generation, 1);
    pthread_mutex_unlock(&registry_lock);
    while (g != NULL) {
        chol_gpu *next = g->next;
        if (cudaSetDevice(g->ordinal) == cudaSuccess)
            gpu_free(g);
        else
            free(g); /* The context is gone: so are its allocations. */
        g = next;
    }
}
