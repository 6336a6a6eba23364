/*
 * Flotilla benchmarks - the baselines a user would otherwise write: CUB's
 * DeviceTransform (axpy), DeviceReduce::Sum and DeviceScan::InclusiveSum
 * called directly, and cudaMemcpyAsync device to device, each timed with
 * CUDA events over back-to-back launches.
 */
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_transform.cuh>
#include <cuda/std/tuple>
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "algo_baseline.h"

namespace
{

template <class T> struct axpy_op {
    T a;
    __device__ T operator()(T x, T y) const
    {
        return a * x + y;
    }
};

template <class T> __global__ void init_kernel(T *p, uint64_t n, T v)
{
    uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += stride)
        p[i] = v;
}

#define CK(call)                                                               \
    do {                                                                       \
        cudaError_t e_ = (call);                                               \
        if (e_ != cudaSuccess) {                                               \
            err = e_;                                                          \
            goto out;                                                          \
        }                                                                      \
    } while (0)

template <class T>
cudaError_t run(int what, uint64_t n, int warmup, int reps, int trials,
                double *sec)
{
    cudaError_t err = cudaSuccess;
    T *x = nullptr, *y = nullptr, *r = nullptr;
    void *tmp = nullptr;
    size_t tmp_bytes = 0;
    cudaStream_t s = nullptr;
    cudaEvent_t e0 = nullptr, e1 = nullptr;
    std::vector<double> t;
    int64_t nn = (int64_t)n;

    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    CK(cudaMalloc(&x, n * sizeof(T)));
    CK(cudaMalloc(&y, n * sizeof(T)));
    CK(cudaMalloc(&r, sizeof(T)));
    init_kernel<T><<<4096, 256, 0, s>>>(x, n, T(1));
    init_kernel<T><<<4096, 256, 0, s>>>(y, n, T(2));
    if (what == BASE_REDUCE)
        CK(cub::DeviceReduce::Sum(nullptr, tmp_bytes, x, r, nn, s));
    if (what == BASE_SCAN)
        CK(cub::DeviceScan::InclusiveSum(nullptr, tmp_bytes, x, y, nn, s));
    if (tmp_bytes > 0)
        CK(cudaMalloc(&tmp, tmp_bytes));
    for (int i = -warmup; i < trials * reps; i++) {
        if (i >= 0 && i % reps == 0)
            CK(cudaEventRecord(e0, s));
        switch (what) {
        case BASE_AXPY:
            CK(cub::DeviceTransform::Transform(
                cuda::std::make_tuple((const T *)x, (const T *)y), y, nn,
                axpy_op<T>{T(2)}, s));
            break;
        case BASE_REDUCE:
            CK(cub::DeviceReduce::Sum(tmp, tmp_bytes, x, r, nn, s));
            break;
        case BASE_SCAN:
            CK(cub::DeviceScan::InclusiveSum(tmp, tmp_bytes, x, y, nn, s));
            break;
        default:
            CK(cudaMemcpyAsync(y, x, n * sizeof(T), cudaMemcpyDeviceToDevice,
                               s));
            break;
        }
        if (i >= 0 && i % reps == reps - 1) {
            float ms = 0;
            CK(cudaEventRecord(e1, s));
            CK(cudaEventSynchronize(e1));
            CK(cudaEventElapsedTime(&ms, e0, e1));
            t.push_back(1e-3 * ms / reps);
        }
    }
    std::sort(t.begin(), t.end());
    *sec = t.empty() ? 0.0 : t[t.size() / 2];
out:
    if (s != nullptr)
        cudaStreamSynchronize(s);
    cudaFree(tmp);
    cudaFree(r);
    cudaFree(y);
    cudaFree(x);
    if (e1 != nullptr)
        cudaEventDestroy(e1);
    if (e0 != nullptr)
        cudaEventDestroy(e0);
    if (s != nullptr)
        cudaStreamDestroy(s);
    return err;
}

} // namespace

extern "C" int base_run(int what, int is_f64, uint64_t n, int ordinal,
                        int warmup, int reps, int trials, double *sec,
                        const char **msg)
{
    int prev = 0;
    cudaError_t e = cudaGetDevice(&prev);
    if (e == cudaSuccess)
        e = cudaSetDevice(ordinal);
    if (e == cudaSuccess)
        e = is_f64 ? run<double>(what, n, warmup, reps, trials, sec)
                   : run<float>(what, n, warmup, reps, trials, sec);
    cudaSetDevice(prev);
    if (e != cudaSuccess && msg != nullptr)
        *msg = cudaGetErrorString(e);
    return (int)e;
}

extern "C" const char *base_device_name(int ordinal)
{
    static cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, ordinal) != cudaSuccess)
        return nullptr;
    return p.name;
}
