/*
 * Flotilla - the element rules of elem.h on the device: identities, and
 * the type each operator computes in. Included only by .cu files (the
 * CUB launchers of collectives/algo and the cross-device scan of
 * collectives/comm/nccl_kernels.cu); C code uses elem.h. Not installed.
 *
 * As on the host, FLO_SUM and FLO_PROD of signed integers are computed in
 * the unsigned type of the same width: kernels read and write the buffers
 * of T through that type (C++ lets the signed and unsigned variants of a
 * type alias), so overflow wraps by the language's rules and the bits are
 * those of two's complement arithmetic in T. FLO_MIN and FLO_MAX compare
 * in T itself.
 */
#ifndef FLO_ELEM_CUDA_CUH
#define FLO_ELEM_CUDA_CUH

#include <cuda/std/limits>
#include <cuda/std/type_traits>
#include <stdint.h>

#include "flotilla/types.h"

namespace flo_elem
{

/* W of elem.c: the unsigned type of the same width for integers, the
 * type itself otherwise. */
template <class T> struct wrap_of {
    using type = T;
};
template <> struct wrap_of<int32_t> {
    using type = uint32_t;
};
template <> struct wrap_of<int64_t> {
    using type = uint64_t;
};
template <class T> using wrap_t = typename wrap_of<T>::type;

/* True for the types a sum or product may be computed in: never a
 * signed integer type. */
template <class T>
inline constexpr bool wraps_v =
    !cuda::std::is_integral_v<T> || cuda::std::is_unsigned_v<T>;

/* The identity of op for T: 0; 1; the largest value (+inf for floats);
 * the lowest (-inf for floats). */
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

} // namespace flo_elem

#endif
