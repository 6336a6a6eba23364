/*
 * Flotilla - device kernels of the cross-device scan: block partials and
 * the local total (before the exchange of totals), then the scan with the
 * carry applied in the same pass (after it).
 *
 * The local part of n elements is cut into nb contiguous chunks, one per
 * block. Pass 1 folds each chunk (part[b]) and the whole (total). After
 * the all-gather of the participants' totals, pass 2 gives block b the
 * carry fold(totals[0..p)) op fold(part[0..b)) and scans its chunk tile by
 * tile, so the input is read twice and the output written once.
 */
#include <cuda_runtime.h>
#include <stdint.h>

#include "collectives/comm/nccl_kernels.h"
#include "collectives/elem/elem_cuda.cuh"

namespace
{

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
/* Smallest chunk worth a block. */
constexpr size_t kMinChunk = 16 * kThreads;

/* The operators, with the identities and rules of collectives/elem. Sum
 * and Prod are instantiated only on unsigned or floating types: the
 * dispatch below runs signed sums and products on the unsigned type of
 * the same width (flo_elem::wrap_t), so that they wrap. */
template <typename T> struct Sum {
    static_assert(flo_elem::wraps_v<T>, "signed sums go through wrap_t");
    __device__ static T id()
    {
        return flo_elem::identity<T>(FLO_SUM);
    }
    __device__ static T f(T a, T b)
    {
        return a + b;
    }
};
template <typename T> struct Prod {
    static_assert(flo_elem::wraps_v<T>, "signed products go through wrap_t");
    __device__ static T id()
    {
        return flo_elem::identity<T>(FLO_PROD);
    }
    __device__ static T f(T a, T b)
    {
        return a * b;
    }
};
template <typename T> struct Min {
    __device__ static T id()
    {
        return flo_elem::identity<T>(FLO_MIN);
    }
    __device__ static T f(T a, T b)
    {
        return b < a ? b : a;
    }
};
template <typename T> struct Max {
    __device__ static T id()
    {
        return flo_elem::identity<T>(FLO_MAX);
    }
    __device__ static T f(T a, T b)
    {
        return b > a ? b : a;
    }
};

/* Reduce one value per thread; the result is valid in every thread. */
template <typename T, typename Op> __device__ T block_reduce(T x, T *sh)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;

    for (int o = 16; o > 0; o >>= 1)
        x = Op::f(x, __shfl_down_sync(0xffffffffu, x, o));
    if (lane == 0)
        sh[wid] = x;
    __syncthreads();
    if (wid == 0) {
        x = lane < kWarps ? sh[lane] : Op::id();
        for (int o = 16; o > 0; o >>= 1)
            x = Op::f(x, __shfl_down_sync(0xffffffffu, x, o));
        if (lane == 0)
            sh[0] = x;
    }
    __syncthreads();
    x = sh[0];
    __syncthreads(); /* sh may be reused at once. */
    return x;
}

/* Inclusive scan of one value per thread; *tile_total gets the last. */
template <typename T, typename Op>
__device__ T block_scan(T x, T *sh, T *tile_total)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;

    for (int o = 1; o < 32; o <<= 1) {
        T y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o)
            x = Op::f(y, x);
    }
    if (lane == 31)
        sh[wid] = x;
    __syncthreads();
    if (wid == 0) {
        T w = lane < kWarps ? sh[lane] : Op::id();
        for (int o = 1; o < 32; o <<= 1) {
            T y = __shfl_up_sync(0xffffffffu, w, o);
            if (lane >= o)
                w = Op::f(y, w);
        }
        if (lane < kWarps)
            sh[lane] = w;
    }
    __syncthreads();
    if (wid > 0)
        x = Op::f(sh[wid - 1], x);
    *tile_total = sh[kWarps - 1];
    __syncthreads();
    return x;
}

template <typename T, typename Op>
__global__ void partials_kernel(const T *src, size_t n, size_t chunk, T *part)
{
    __shared__ T sh[kWarps];
    size_t lo = (size_t)blockIdx.x * chunk;
    size_t hi = lo + chunk < n ? lo + chunk : n;
    T acc = Op::id();

    for (size_t i = lo + threadIdx.x; i < hi; i += kThreads)
        acc = Op::f(acc, src[i]);
    acc = block_reduce<T, Op>(acc, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = acc;
}

template <typename T, typename Op>
__global__ void total_kernel(const T *part, int nb, T *total)
{
    __shared__ T sh[kWarps];
    T acc = Op::id();

    for (int i = threadIdx.x; i < nb; i += kThreads)
        acc = Op::f(acc, part[i]);
    acc = block_reduce<T, Op>(acc, sh);
    if (threadIdx.x == 0)
        *total = acc;
}

template <typename T, typename Op>
__global__ void apply_kernel(const T *src, T *dst, size_t n, size_t chunk,
                             const T *totals, int p, const T *part,
                             int exclusive)
{
    __shared__ T sh[kWarps];
    __shared__ T prev[kThreads];
    size_t lo = (size_t)blockIdx.x * chunk;
    size_t hi = lo + chunk < n ? lo + chunk : n;
    T carry = Op::id(), tile_total;

    /* Carry: lower participants, then lower blocks of this one. */
    for (int i = threadIdx.x; i < p; i += kThreads)
        carry = Op::f(carry, totals[i]);
    for (unsigned i = threadIdx.x; i < blockIdx.x; i += kThreads)
        carry = Op::f(carry, part[i]);
    carry = block_reduce<T, Op>(carry, sh);

    for (size_t base = lo; base < hi; base += kThreads) {
        size_t i = base + threadIdx.x;
        T x = i < hi ? src[i] : Op::id();
        T incl = block_scan<T, Op>(x, sh, &tile_total);
        T out;
        if (exclusive) {
            prev[threadIdx.x] = incl;
            __syncthreads();
            out =
                threadIdx.x == 0 ? carry : Op::f(carry, prev[threadIdx.x - 1]);
            __syncthreads();
        } else {
            out = Op::f(carry, incl);
        }
        if (i < hi)
            dst[i] = out;
        carry = Op::f(carry, tile_total);
    }
}

int pick_blocks(size_t n, size_t *chunk)
{
    size_t nb = (n + kMinChunk - 1) / kMinChunk;

    if (nb < 1)
        nb = 1;
    if (nb > FLO__SCAN_MAX_BLOCKS)
        nb = FLO__SCAN_MAX_BLOCKS;
    *chunk = (n + nb - 1) / nb;
    return (int)nb;
}

template <typename T, typename Op>
int partials(const void *src, size_t n, void *part, void *total, cudaStream_t s)
{
    size_t chunk;
    int nb = pick_blocks(n, &chunk);

    partials_kernel<T, Op><<<nb, kThreads, 0, s>>>(
        static_cast<const T *>(src), n, chunk, static_cast<T *>(part));
    total_kernel<T, Op><<<1, kThreads, 0, s>>>(static_cast<const T *>(part), nb,
                                               static_cast<T *>(total));
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? nb : -(int)e;
}

template <typename T, typename Op>
int apply(const void *src, void *dst, size_t n, int exclusive,
          const void *totals, int p, const void *part, int nb, cudaStream_t s)
{
    size_t chunk = (n + (size_t)nb - 1) / (size_t)nb;

    apply_kernel<T, Op><<<nb, kThreads, 0, s>>>(
        static_cast<const T *>(src), static_cast<T *>(dst), n, chunk,
        static_cast<const T *>(totals), p, static_cast<const T *>(part),
        exclusive);
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : -(int)e;
}

/* Buffers of T are read and written as W for sums and products. */
template <typename T>
int partials_t(const void *src, size_t n, flo_redop op, void *part, void *total,
               cudaStream_t s)
{
    using W = flo_elem::wrap_t<T>;

    switch (op) {
    case FLO_SUM: return partials<W, Sum<W>>(src, n, part, total, s);
    case FLO_PROD: return partials<W, Prod<W>>(src, n, part, total, s);
    case FLO_MIN: return partials<T, Min<T>>(src, n, part, total, s);
    default: return partials<T, Max<T>>(src, n, part, total, s);
    }
}

template <typename T>
int apply_t(const void *src, void *dst, size_t n, flo_redop op, int exclusive,
            const void *totals, int p, const void *part, int nb, cudaStream_t s)
{
    using W = flo_elem::wrap_t<T>;

    switch (op) {
    case FLO_SUM:
        return apply<W, Sum<W>>(src, dst, n, exclusive, totals, p, part, nb, s);
    case FLO_PROD:
        return apply<W, Prod<W>>(src, dst, n, exclusive, totals, p, part, nb,
                                 s);
    case FLO_MIN:
        return apply<T, Min<T>>(src, dst, n, exclusive, totals, p, part, nb, s);
    default:
        return apply<T, Max<T>>(src, dst, n, exclusive, totals, p, part, nb, s);
    }
}

} // namespace

extern "C" int flo__cu_scan_partials(const void *src, size_t n, flo_dtype t,
                                     flo_redop op, void *part, void *total,
                                     void *stream)
{
    cudaStream_t s = static_cast<cudaStream_t>(stream);

    switch (t) {
    case FLO_I32: return partials_t<int32_t>(src, n, op, part, total, s);
    case FLO_I64: return partials_t<int64_t>(src, n, op, part, total, s);
    case FLO_U32: return partials_t<uint32_t>(src, n, op, part, total, s);
    case FLO_U64: return partials_t<uint64_t>(src, n, op, part, total, s);
    case FLO_F32: return partials_t<float>(src, n, op, part, total, s);
    default: return partials_t<double>(src, n, op, part, total, s);
    }
}

extern "C" int flo__cu_scan_apply(const void *src, void *dst, size_t n,
                                  flo_dtype t, flo_redop op, int exclusive,
                                  const void *totals, int p, const void *part,
                                  int nb, void *stream)
{
    cudaStream_t s = static_cast<cudaStream_t>(stream);

    switch (t) {
    case FLO_I32:
        return apply_t<int32_t>(src, dst, n, op, exclusive, totals, p, part, nb,
                                s);
    case FLO_I64:
        return apply_t<int64_t>(src, dst, n, op, exclusive, totals, p, part, nb,
                                s);
    case FLO_U32:
        return apply_t<uint32_t>(src, dst, n, op, exclusive, totals, p, part,
                                 nb, s);
    case FLO_U64:
        return apply_t<uint64_t>(src, dst, n, op, exclusive, totals, p, part,
                                 nb, s);
    case FLO_F32:
        return apply_t<float>(src, dst, n, op, exclusive, totals, p, part, nb,
                              s);
    default:
        return apply_t<double>(src, dst, n, op, exclusive, totals, p, part, nb,
                               s);
    }
}
