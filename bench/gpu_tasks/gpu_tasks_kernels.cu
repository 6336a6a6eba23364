/*
 * bench/gpu_tasks - kernels, Flotilla entry points, and the raw CUDA
 * baselines (timed here so that gpu_tasks.c needs no CUDA types).
 */
#include <chrono>
#include <cstdint>
#include <cstring>

#include <cuda_runtime.h>

#include "flotilla.h"
#include "flotilla/cuda.h"
#include "gpu_tasks_kernels.h"

namespace
{

__global__ void k_empty()
{
}

__global__ void k_touch(unsigned *p)
{
    p[0] += 1u;
}

__global__ void k_read_spin(const unsigned *in, size_t n, long long cycles,
                            unsigned *sink)
{
    /* Read a few words of the input so the dependency is real, then
     * spin: the kernel's duration is set by cycles, not by the size. */
    unsigned acc = 0;
    for (size_t i = threadIdx.x; i < n && i < 4096; i += blockDim.x)
        acc += in[i];
    long long t0 = clock64();
    while (clock64() - t0 < cycles) {
    }
    if (sink && acc == 0xdeadbeefu)
        *sink = acc;
}

double now_s()
{
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

} // namespace

extern "C" {

int gb_gpu_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

void gb_cuda_empty(flo_task_ctx *ctx)
{
    k_empty<<<1, 1, 0, flo_task_cuda_stream(ctx)>>>();
}

void gb_cuda_touch(flo_task_ctx *ctx)
{
    k_touch<<<1, 1, 0, flo_task_cuda_stream(ctx)>>>(
        (unsigned *)flo_task_buffer(ctx, 0));
}

void gb_cuda_read_spin(flo_task_ctx *ctx)
{
    size_t sz = 0;
    const long long *cycles = (const long long *)flo_task_args(ctx, &sz);
    k_read_spin<<<1, 128, 0, flo_task_cuda_stream(ctx)>>>(
        (const unsigned *)flo_task_buffer(ctx, 0),
        flo_task_buffer_size(ctx, 0) / sizeof(unsigned),
        sz == sizeof(long long) ? *cycles : 0, nullptr);
}

double gb_raw_empty(int ordinal, int n)
{
    cudaStream_t s;
    cudaSetDevice(ordinal);
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess)
        return -1.0;
    k_empty<<<1, 1, 0, s>>>();
    cudaStreamSynchronize(s);
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        k_empty<<<1, 1, 0, s>>>();
    cudaError_t e = cudaStreamSynchronize(s);
    double t = now_s() - t0;
    cudaStreamDestroy(s);
    return e == cudaSuccess ? t : -1.0;
}

/* n dependent k_touch launches on one stream; with sync_each the host
 * waits for each (the round trip a runtime without stream-ordered
 * dependencies pays), else once at the end. */
static double raw_touch_chain(int ordinal, int n, bool sync_each)
{
    cudaStream_t s;
    unsigned *p = nullptr;
    cudaSetDevice(ordinal);
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess)
        return -1.0;
    if (cudaMalloc(&p, sizeof *p) != cudaSuccess) {
        cudaStreamDestroy(s);
        return -1.0;
    }
    cudaMemsetAsync(p, 0, sizeof *p, s);
    cudaStreamSynchronize(s);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        k_touch<<<1, 1, 0, s>>>(p);
        if (sync_each)
            cudaStreamSynchronize(s);
    }
    cudaError_t e = cudaStreamSynchronize(s);
    double t = now_s() - t0;
    unsigned v = 0;
    cudaMemcpy(&v, p, sizeof v, cudaMemcpyDeviceToHost);
    cudaFree(p);
    cudaStreamDestroy(s);
    return e == cudaSuccess && v == (unsigned)n ? t : -1.0;
}

double gb_raw_graph_chain(int ordinal, int len, int reps)
{
    cudaStream_t s;
    unsigned *p = nullptr;
    cudaGraph_t g = nullptr;
    cudaGraphExec_t x = nullptr;
    cudaSetDevice(ordinal);
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess)
        return -1.0;
    if (cudaMalloc(&p, sizeof *p) != cudaSuccess) {
        cudaStreamDestroy(s);
        return -1.0;
    }
    cudaMemsetAsync(p, 0, sizeof *p, s);
    cudaStreamSynchronize(s);
    cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    for (int i = 0; i < len; i++)
        k_touch<<<1, 1, 0, s>>>(p);
    cudaError_t e = cudaStreamEndCapture(s, &g);
    if (e == cudaSuccess)
        e = cudaGraphInstantiate(&x, g, 0);
    double t = -1.0;
    if (e == cudaSuccess) {
        /* One launch first (uploads the graph), outside the timing. */
        cudaGraphLaunch(x, s);
        cudaStreamSynchronize(s);
        double t0 = now_s();
        for (int r = 0; r < reps; r++)
            cudaGraphLaunch(x, s);
        e = cudaStreamSynchronize(s);
        t = now_s() - t0;
    }
    unsigned v = 0;
    cudaMemcpy(&v, p, sizeof v, cudaMemcpyDeviceToHost);
    if (x)
        cudaGraphExecDestroy(x);
    if (g)
        cudaGraphDestroy(g);
    cudaFree(p);
    cudaStreamDestroy(s);
    return e == cudaSuccess && v == (unsigned)(len * (reps + 1)) ? t : -1.0;
}

double gb_raw_roundtrip(int ordinal, int n)
{
    return raw_touch_chain(ordinal, n, true);
}

double gb_raw_chain(int ordinal, int n)
{
    return raw_touch_chain(ordinal, n, false);
}

double gb_raw_malloc(int ordinal, size_t bytes, int n)
{
    cudaSetDevice(ordinal);
    void *p = nullptr;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        if (cudaMalloc(&p, bytes) != cudaSuccess)
            return -1.0;
        cudaFree(p);
    }
    return now_s() - t0;
}

double gb_raw_malloc_async(int ordinal, size_t bytes, int n)
{
    cudaStream_t s;
    cudaSetDevice(ordinal);
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess)
        return -1.0;
    /* The default pool keeps freed memory (threshold raised), as a user
     * tuning cudaMallocAsync would do. */
    cudaMemPool_t pool;
    cudaDeviceGetDefaultMemPool(&pool, ordinal);
    uint64_t thr = UINT64_MAX;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &thr);
    void *p = nullptr;
    cudaMallocAsync(&p, bytes, s);
    cudaFreeAsync(p, s);
    cudaStreamSynchronize(s);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        if (cudaMallocAsync(&p, bytes, s) != cudaSuccess)
            return -1.0;
        cudaFreeAsync(p, s);
    }
    cudaError_t e = cudaStreamSynchronize(s);
    double t = now_s() - t0;
    cudaStreamDestroy(s);
    return e == cudaSuccess ? t : -1.0;
}

double gb_raw_serial_copy_kernel(int ordinal, void *const *host, int ntasks,
                                 size_t bytes, long long cycles)
{
    cudaStream_t s;
    void *d = nullptr;
    cudaSetDevice(ordinal);
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess)
        return -1.0;
    if (cudaMalloc(&d, bytes) != cudaSuccess) {
        cudaStreamDestroy(s);
        return -1.0;
    }
    double t0 = now_s();
    for (int i = 0; i < ntasks; i++) {
        /* What a user writes without a runtime: copy (pageable memory,
         * synchronous), then the kernel, then wait. */
        cudaMemcpyAsync(d, host[i], bytes, cudaMemcpyHostToDevice, s);
        k_read_spin<<<1, 128, 0, s>>>(
            (const unsigned *)d, bytes / sizeof(unsigned), cycles, nullptr);
        cudaStreamSynchronize(s);
    }
    double t = now_s() - t0;
    cudaFree(d);
    cudaStreamDestroy(s);
    return t;
}

double gb_kernel_time(int ordinal, long long cycles)
{
    cudaStream_t s;
    cudaEvent_t a, b;
    cudaSetDevice(ordinal);
    cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    k_read_spin<<<1, 128, 0, s>>>(nullptr, 0, cycles, nullptr);
    cudaEventRecord(a, s);
    k_read_spin<<<1, 128, 0, s>>>(nullptr, 0, cycles, nullptr);
    cudaEventRecord(b, s);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    cudaStreamDestroy(s);
    return ms * 1e-3;
}

} // extern "C"
