/*
 * Flotilla - CUDA reductions: CUB DeviceReduce (Reduce, ArgMin,
 * ArgMax) with 64-bit counts.
 */
#include "collectives/algo/algo_cuda.cuh"

using namespace flo_algo;

namespace
{

/* ---- Reduce ------------------------------------------------------------- */

__global__ void add_offset_kernel(int64_t *idx, uint64_t off)
{
    if (*idx >= 0)
        *idx += (int64_t)off;
}

template <class T>
cudaError_t reduce_t(int op, int arg, const T *in, uint64_t n, uint64_t offset,
                     void *result, void *temp, size_t &bytes, cudaStream_t s)
{
    if (arg) {
        int64_t *idx = (int64_t *)((char *)result + 8);
        cudaError_t e =
            op == FLO_MIN
                ? cub::DeviceReduce::ArgMin(temp, bytes, in, (T *)result, idx,
                                            (int64_t)n, s)
                : cub::DeviceReduce::ArgMax(temp, bytes, in, (T *)result, idx,
                                            (int64_t)n, s);
        if (e != cudaSuccess || temp == nullptr || offset == 0)
            return e;
        add_offset_kernel<<<1, 1, 0, s>>>(idx, offset);
        return cudaGetLastError();
    }
    return by_op<T>(op, [&](auto f, auto *rp) {
        using R = cuda::std::remove_pointer_t<decltype(rp)>;
        return cub::DeviceReduce::Reduce(temp, bytes, (const R *)in,
                                         (R *)result, (int64_t)n, f,
                                         (R)identity<T>(op), s);
    });
}

} // namespace

extern "C" int flo__algo_cuda_reduce(int op, int dt, int arg, const void *in,
                                     uint64_t n, uint64_t offset, void *result,
                                     void *temp, size_t temp_bytes,
                                     void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t bytes = temp_bytes;
    if (temp == nullptr)
        return (int)cudaErrorInvalidValue;
    return (int)by_type(dt, [&](auto *tp) {
        using T = cuda::std::remove_pointer_t<decltype(tp)>;
        return reduce_t<T>(op, arg, (const T *)in, n, offset, result, temp,
                           bytes, s);
    });
}

cudaError_t flo_algo::reduce_temp(int dt, int op, int arg, uint64_t n,
                                  size_t *bytes)
{
    size_t b = 0;
    cudaError_t e = by_type(dt, [&](auto *tp) {
        using T = cuda::std::remove_pointer_t<decltype(tp)>;
        return reduce_t<T>(op, arg, nullptr, n, 0, nullptr, nullptr, b,
                           nullptr);
    });
    if (e == cudaSuccess)
        *bytes = b;
    return e;
}
