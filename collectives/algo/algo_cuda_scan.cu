/*
 * Flotilla - CUDA scans: CUB DeviceScan (decoupled look-back, one pass)
 * seeded with an immediate or device-resident carry; 64-bit counts.
 */
#include "collectives/algo/algo_cuda.cuh"

using namespace flo_algo;

namespace
{

/* ---- Scan ------------------------------------------------------------------
 * One dispatch per (type, op, kind): the seed is a cub InputValue, which
 * holds either an immediate value or a device pointer read when the
 * kernel runs (FutureValue), so a carry computed by an earlier task needs
 * no host round trip. Inclusive scans with a seed use CUB's internal
 * DispatchScan with ForceInclusive::Yes, the path of InclusiveScanInit
 * (whose public form takes only an immediate seed). */

template <class T, cub::ForceInclusive Inc, class Op>
cudaError_t scan_dispatch(const T *in, T *out, uint64_t n, const T *cdev,
                          T cval, Op op, void *temp, size_t &bytes,
                          cudaStream_t s)
{
    using Off = cub::detail::choose_offset_t<int64_t>;
    using IV = cub::detail::InputValue<T>;
    IV init = cdev != nullptr ? IV(cub::FutureValue<T>(const_cast<T *>(cdev)))
                              : IV(cval);
    return cub::DispatchScan<const T *, T *, Op, IV, Off, T, Inc>::Dispatch(
        temp, bytes, in, out, op, init, (Off)n, s);
}

template <class T>
cudaError_t scan_t(int op, int excl, const T *in, T *out, uint64_t n,
                   const T *cdev, const T *cval, void *temp, size_t &bytes,
                   cudaStream_t s)
{
    T v = cval != nullptr ? *cval : identity<T>(op);
    return by_op<T>(op, [&](auto f, auto *rp) {
        using R = cuda::std::remove_pointer_t<decltype(rp)>;
        const R *ri = (const R *)in, *rc = (const R *)cdev;
        R *ro = (R *)out;
        if (excl)
            return scan_dispatch<R, cub::ForceInclusive::No>(
                ri, ro, n, rc, (R)v, f, temp, bytes, s);
        return scan_dispatch<R, cub::ForceInclusive::Yes>(ri, ro, n, rc, (R)v,
                                                          f, temp, bytes, s);
    });
}

} // namespace

extern "C" int flo__algo_cuda_scan(int op, int dt, int exclusive,
                                   const void *in, void *out, uint64_t n,
                                   const void *carry_dev, const void *carry_val,
                                   void *temp, size_t temp_bytes, void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    size_t bytes = temp_bytes;
    if (temp == nullptr)
        return (int)cudaErrorInvalidValue;
    return (int)by_type(dt, [&](auto *tp) {
        using T = cuda::std::remove_pointer_t<decltype(tp)>;
        return scan_t<T>(op, exclusive, (const T *)in, (T *)out, n,
                         (const T *)carry_dev, (const T *)carry_val, temp,
                         bytes, s);
    });
}

cudaError_t flo_algo::scan_temp(int dt, int op, int excl, int future,
                                uint64_t n, size_t *bytes)
{
    size_t b = 0;
    cudaError_t e = by_type(dt, [&](auto *tp) {
        using T = cuda::std::remove_pointer_t<decltype(tp)>;
        /* A non-null dummy seed pointer: the size query reads no memory,
         * and a future seed must not be mistaken for none. */
        const T *fake = future ? (const T *)(uintptr_t)256 : nullptr;
        return scan_t<T>(op, excl, nullptr, nullptr, n, fake, nullptr, nullptr,
                         b, nullptr);
    });
    if (e == cudaSuccess)
        *bytes = b;
    return e;
}
