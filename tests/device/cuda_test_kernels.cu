/*
 * Kernels and CUDA entry points for the gpu suite (tests/device). Each
 * entry point only enqueues work on the task's stream. Host twins of the
 * arithmetic live in the C tests; both use uint32_t arithmetic that wraps
 * identically, so GPU and host runs give bit-identical results.
 */
#include <cstdint>

#include "flotilla.h"
#include "flotilla/cuda.h"
#include "cuda_test_kernels.h"

namespace
{

__global__ void k_mix(uint32_t *a, const uint32_t *b, size_t n, uint32_t k)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        a[i] = a[i] * 3u + (b ? b[i] : 0u) + k + (uint32_t)i;
}

__global__ void k_set(uint32_t *a, size_t n, uint32_t k)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        a[i] = k ^ (uint32_t)(i * 2654435761u);
}

__global__ void k_xor(uint32_t *c, const uint32_t *a, size_t n, uint32_t k)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] ^ k;
}

__global__ void k_empty()
{
}

__global__ void k_count(unsigned long long *c)
{
    atomicAdd(c, 1ull);
}

__global__ void k_spin(long long cycles)
{
    long long t0 = clock64();
    while (clock64() - t0 < cycles) {
    }
}

__global__ void k_illegal(int *p)
{
    /* An address no allocation covers: an illegal-address fault. */
    p[threadIdx.x + (1ll << 40) / sizeof(int)] = 1;
}

__global__ void k_ticket(const volatile int *flag, unsigned *counter,
                         unsigned *slot)
{
    if (flag) {
        /* Bounded so that a broken test fails instead of hanging. */
        long long t0 = clock64();
        while (*flag == 0 && clock64() - t0 < (1ll << 36)) {
        }
    }
    *slot = atomicAdd(counter, 1u) + 1u;
}

__global__ void k_store_int(int *p, int v)
{
    *p = v;
}

unsigned blocks(size_t n)
{
    return (unsigned)((n + 255) / 256);
}

const flo_test_args *args_of(flo_task_ctx *ctx)
{
    size_t sz = 0;
    const void *a = flo_task_args(ctx, &sz);
    return sz == sizeof(flo_test_args) ? (const flo_test_args *)a : nullptr;
}

} // namespace

/* The random graph of the resilience tests (tests/scheduler/resil_dag.h,
 * whose rd_args this mirrors): out[j] = out[j] * mul + add + the inputs'
 * words (j + 1) % 16. */
struct rd_args_mirror {
    uint64_t mul, add;
    int nin;
};

__global__ void k_rd(uint64_t *out, const uint64_t *a, const uint64_t *b,
                     int nin, uint64_t mul, uint64_t add)
{
    int j = threadIdx.x;
    uint64_t v = out[j] * mul + add;
    if (nin > 0)
        v += a[(j + 1) % 16];
    if (nin > 1)
        v += b[(j + 1) % 16];
    out[j] = v;
}

__global__ void k_poison(int64_t *v, int n)
{
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        v[i] = -777;
}

__global__ void k_add1(int64_t *v, int n)
{
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        v[i] += 1;
}

extern "C" {

void flo_test_cuda_mix(flo_task_ctx *ctx)
{
    const flo_test_args *a = args_of(ctx);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(uint32_t);
    const uint32_t *b =
        a && a->nbuf > 1 ? (const uint32_t *)flo_task_buffer(ctx, 1) : nullptr;
    if (n == 0)
        return;
    k_mix<<<blocks(n), 256, 0, flo_task_cuda_stream(ctx)>>>(
        (uint32_t *)flo_task_buffer(ctx, 0), b, n, a ? a->k : 0u);
}

void flo_test_cuda_set(flo_task_ctx *ctx)
{
    const flo_test_args *a = args_of(ctx);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(uint32_t);
    if (n == 0)
        return;
    k_set<<<blocks(n), 256, 0, flo_task_cuda_stream(ctx)>>>(
        (uint32_t *)flo_task_buffer(ctx, 0), n, a ? a->k : 0u);
}

void flo_test_cuda_xor(flo_task_ctx *ctx)
{
    const flo_test_args *a = args_of(ctx);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(uint32_t);
    if (n == 0)
        return;
    k_xor<<<blocks(n), 256, 0, flo_task_cuda_stream(ctx)>>>(
        (uint32_t *)flo_task_buffer(ctx, 0),
        (const uint32_t *)flo_task_buffer(ctx, 1), n, a ? a->k : 0u);
}

void flo_test_cuda_empty(flo_task_ctx *ctx)
{
    k_empty<<<1, 1, 0, flo_task_cuda_stream(ctx)>>>();
}

void flo_test_cuda_count(flo_task_ctx *ctx)
{
    k_count<<<1, 1, 0, flo_task_cuda_stream(ctx)>>>(
        (unsigned long long *)flo_task_buffer(ctx, 0));
}

void flo_test_cuda_spin(flo_task_ctx *ctx)
{
    const flo_test_args *a = args_of(ctx);
    k_spin<<<1, 1, 0, flo_task_cuda_stream(ctx)>>>(a ? (long long)a->k
                                                     : 1000ll);
}

void flo_test_cuda_fail(flo_task_ctx *ctx)
{
    /* Enqueue something first: the task must still fail cleanly. */
    k_empty<<<1, 1, 0, flo_task_cuda_stream(ctx)>>>();
    flo_task_fail(ctx, FLO_ETASK, "kernel refused input %d", 42);
}

void flo_test_cuda_bad_launch(flo_task_ctx *ctx)
{
    /* 4096 threads per block exceeds every GPU's limit (1024). */
    k_empty<<<1, 4096, 0, flo_task_cuda_stream(ctx)>>>();
}

void flo_test_cuda_illegal(flo_task_ctx *ctx)
{
    k_illegal<<<1, 32, 0, flo_task_cuda_stream(ctx)>>>(
        (int *)flo_task_buffer(ctx, 0));
}

void flo_test_cuda_ordinal(flo_task_ctx *ctx)
{
    /* Records the ordinal seen by the entry point in the argument-less
     * buffer through a memset (the value is small and non-negative). */
    int ord = flo_task_cuda_ordinal(ctx);
    cudaMemsetAsync(flo_task_buffer(ctx, 0), ord + 1, 1,
                    flo_task_cuda_stream(ctx));
}

void flo_test_cuda_ticket(flo_task_ctx *ctx)
{
    size_t sz = 0;
    const flo_test_ticket_args *a =
        (const flo_test_ticket_args *)flo_task_args(ctx, &sz);
    if (!a || sz != sizeof *a) {
        flo_task_fail(ctx, FLO_EINVAL, "ticket: bad arguments");
        return;
    }
    k_ticket<<<1, 1, 0, flo_task_cuda_stream(ctx)>>>(a->flag, a->counter,
                                                     a->slot);
}

void flo_test_cuda_status(flo_task_ctx *ctx)
{
    const flo_test_args *a = args_of(ctx);
    int *word = (int *)flo_task_buffer(ctx, 0);
    bool first = a && a->nbuf == 2;
    flo_status st = FLO_OK;
    if (first)
        st = flo_task_cuda_status_word(ctx, word, "test info");
    k_store_int<<<1, 1, 0, flo_task_cuda_stream(ctx)>>>(word,
                                                        a ? (int)a->k : 0);
    if (!first)
        st = flo_task_cuda_status_word(ctx, word, "test info");
    if (st != FLO_OK)
        flo_task_fail(ctx, FLO_EINTERNAL, "status word refused: %d", (int)st);
}

void flo_test_host_status(flo_task_ctx *ctx)
{
    int dummy = 0;
    int *out = (int *)flo_task_buffer(ctx, 0);
    *out = (int)flo_task_cuda_status_word(ctx, &dummy, "host");
}

int flo_test_mapped_int(int **host, int **dev)
{
    void *h = nullptr, *d = nullptr;
    if (cudaHostAlloc(&h, sizeof(int),
                      cudaHostAllocMapped | cudaHostAllocPortable) !=
        cudaSuccess)
        return -1;
    *(volatile int *)h = 0;
    if (cudaHostGetDevicePointer(&d, h, 0) != cudaSuccess) {
        cudaFreeHost(h);
        return -1;
    }
    *host = (int *)h;
    *dev = (int *)d;
    return 0;
}

void flo_test_mapped_free(int *host)
{
    cudaFreeHost(host);
}

int flo_test_dev_zalloc(void **p, size_t bytes)
{
    if (cudaMalloc(p, bytes) != cudaSuccess)
        return -1;
    return cudaMemset(*p, 0, bytes) == cudaSuccess ? 0 : -1;
}

int flo_test_dev_read(void *dst, const void *src, size_t bytes)
{
    return cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost) == cudaSuccess
               ? 0
               : -1;
}

void flo_test_dev_free(void *p)
{
    cudaFree(p);
}

int flo_test_gpu_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

void flo_test_cuda_rd(flo_task_ctx *ctx)
{
    const rd_args_mirror *a = (const rd_args_mirror *)flo_task_args(ctx, NULL);
    k_rd<<<1, 16, 0, flo_task_cuda_stream(ctx)>>>(
        (uint64_t *)flo_task_buffer(ctx, 0),
        a->nin > 0 ? (const uint64_t *)flo_task_buffer(ctx, 1) : NULL,
        a->nin > 1 ? (const uint64_t *)flo_task_buffer(ctx, 2) : NULL, a->nin,
        a->mul, a->add);
}

void flo_test_cuda_flaky(flo_task_ctx *ctx)
{
    const flo_test_flaky_args *a =
        (const flo_test_flaky_args *)flo_task_args(ctx, NULL);
    int n = (int)(flo_task_buffer_size(ctx, 0) / sizeof(int64_t));
    int k = __atomic_fetch_add(a->attempts, 1, __ATOMIC_SEQ_CST);
    int64_t *v = (int64_t *)flo_task_buffer(ctx, 0);
    if (k < a->fail_first) {
        k_poison<<<1, 128, 0, flo_task_cuda_stream(ctx)>>>(v, n);
        flo_task_fail(ctx, FLO_EAGAIN, "attempt %d fails after writing", k);
        return;
    }
    k_add1<<<1, 128, 0, flo_task_cuda_stream(ctx)>>>(v, n);
}

} // extern "C"

void flo_test_cuda_mix_sync(flo_task_ctx *ctx)
{
    flo_test_cuda_mix(ctx);
    /* Legal in an ordinary launch, forbidden during stream capture. */
    if (cudaStreamSynchronize(flo_task_cuda_stream(ctx)) != cudaSuccess)
        (void)cudaGetLastError();
}
