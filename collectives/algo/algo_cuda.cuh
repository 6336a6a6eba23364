/*
 * Flotilla - shared templates of the CUDA launchers (algo_cuda_*.cu):
 * element identities and dispatch on type and operator. Included only
 * by those .cu files; split so that the instantiations compile in
 * parallel.
 */
#ifndef FLO_ALGO_CUDA_CUH
#define FLO_ALGO_CUDA_CUH

#include <cub/device/device_reduce.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_transform.cuh>
#include <cuda/functional>
#include <cuda/std/functional>
#include <cuda/std/limits>
#include <cuda/std/tuple>
#include <cuda_runtime.h>

#include <stdint.h>

#include "collectives/algo/algo_cuda.h"
#include "flotilla/array.h"
#include "flotilla/types.h"

namespace flo_algo
{

/* ---- Element types ----------------------------------------------------- */

template <class T> struct wrap_of {
    using type = T;
};
template <> struct wrap_of<int32_t> {
    using type = uint32_t;
};
template <> struct wrap_of<int64_t> {
    using type = uint64_t;
};

template <class T> __host__ __device__ inline T identity(int op)
{
    using lim = cuda::std::numeric_limits<T>;
    switch (op) {
    case FLO_SUM: return T(0);
    case FLO_PROD: return T(1);
    case FLO_MIN: return lim::has_infinity ? lim::infinity() : lim::max();
    default: return lim::has_infinity ? -lim::infinity() : lim::lowest();
    }
}

/* Dispatch on the element type: F is called with a typed null pointer. */
template <class F> cudaError_t by_type(int dt, F f)
{
    switch (dt) {
    case FLO_I32: return f((int32_t *)nullptr);
    case FLO_I64: return f((int64_t *)nullptr);
    case FLO_U32: return f((uint32_t *)nullptr);
    case FLO_U64: return f((uint64_t *)nullptr);
    case FLO_F32: return f((float *)nullptr);
    case FLO_F64: return f((double *)nullptr);
    default: return cudaErrorInvalidValue;
    }
}

/* Dispatch on the reduction operator. The standard functors (the ones
 * DeviceReduce::Sum and DeviceScan::InclusiveSum use) rather than
 * wrapping ones, so that CUB picks the same tuned policies as for a
 * direct call. Signed integer overflow then wraps as the hardware does,
 * which matches the host's explicit unsigned arithmetic. */
template <class T, class F> cudaError_t by_op(int op, F f)
{
    switch (op) {
    case FLO_SUM: return f(cuda::std::plus<>{});
    case FLO_PROD: return f(cuda::std::multiplies<>{});
    case FLO_MIN: return f(cuda::minimum<>{});
    case FLO_MAX: return f(cuda::maximum<>{});
    default: return cudaErrorInvalidValue;
    }
}

/* Temporary storage of one reduce / scan (algo_cuda_reduce.cu,
 * algo_cuda_scan.cu), for flo__algo_cuda_temp_bytes. */
cudaError_t reduce_temp(int dt, int op, int arg, uint64_t n, size_t *bytes);
cudaError_t scan_temp(int dt, int op, int excl, int future, uint64_t n,
                      size_t *bytes);

} // namespace flo_algo

#endif
