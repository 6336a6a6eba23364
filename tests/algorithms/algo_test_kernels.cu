/* Flotilla tests - user element kernel launched on the task's stream. */
#include <cuda_runtime.h>

#include "algo_test_kernels.h"

__global__ static void iota_kernel(int64_t *o, const int64_t *x, uint64_t n,
                                   uint64_t off, int64_t k)
{
    uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += stride)
        o[i] = x[i] * k + (int64_t)(off + i);
}

extern "C" void algo_test_iota_cuda(const flo_array_span *s)
{
    int64_t k = *(const int64_t *)s->args;
    unsigned blocks = (unsigned)((s->count + 255) / 256);
    if (blocks > 4096)
        blocks = 4096;
    iota_kernel<<<blocks, 256, 0, (cudaStream_t)s->stream>>>(
        (int64_t *)s->out, (const int64_t *)s->in[0], s->count, s->offset, k);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        flo_task_fail(s->ctx, FLO_EDEVICE, "iota: %s", cudaGetErrorString(e));
}
