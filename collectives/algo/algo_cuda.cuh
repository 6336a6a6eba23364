/*
 * Flotilla - shared templates of the CUDA launchers (algo_cuda_*.cu):
 * dispatch on type and operator; the element rules (identities, the
 * wrapping type) are collectives/elem/elem_cuda.cuh. Included only
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
#include "collectives/elem/elem_cuda.cuh"
#include "flotilla/array.h"
#include "flotilla/types.h"

namespace flo_algo
{

/* ---- Element types: the rules of collectives/elem ---------------------- */

using flo_elem::identity;
using flo_elem::wrap_of;

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

/* Dispatch on the reduction operator: f(functor, (R *)nullptr), R the
 * type the operator computes in (elem_cuda.cuh): for sums and products
 * of signed integers the unsigned type of the same width, so that
 * overflow wraps as elem.h defines instead of being undefined; the
 * caller reads and writes its buffers of T as R. The functors are the
 * standard ones (those DeviceReduce::Sum and DeviceScan::InclusiveSum
 * use), so that CUB picks the same tuned policies as for a direct
 * call. */
template <class T, class F> cudaError_t by_op(int op, F f)
{
    using W = flo_elem::wrap_t<T>;
    switch (op) {
    case FLO_SUM: return f(cuda::std::plus<>{}, (W *)nullptr);
    case FLO_PROD: return f(cuda::std::multiplies<>{}, (W *)nullptr);
    case FLO_MIN: return f(cuda::minimum<>{}, (T *)nullptr);
    case FLO_MAX: return f(cuda::maximum<>{}, (T *)nullptr);
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
