/*
 * Flotilla - CUDA transforms: CUB DeviceTransform per type and
 * operation (64-bit counts), conversions, fill.
 */
#include "collectives/algo/algo_cuda.cuh"

using namespace flo_algo;

namespace
{

/* ---- Transform functors ---------------------------------------------------
 * Integer arithmetic goes through the unsigned type (wraps); division by
 * zero gives 0 and MIN / -1 wraps, as on the host. */

template <class T> __device__ inline T wmul(T a, T b)
{
    using W = typename wrap_of<T>::type;
    return (T)((W)a * (W)b);
}
template <class T> __device__ inline T wadd(T a, T b)
{
    using W = typename wrap_of<T>::type;
    return (T)((W)a + (W)b);
}
template <class T> __device__ inline T wsub(T a, T b)
{
    using W = typename wrap_of<T>::type;
    return (T)((W)a - (W)b);
}
template <class T> __device__ inline T wdiv(T a, T b)
{
    if constexpr (cuda::std::is_floating_point_v<T>) {
        return a / b;
    } else if constexpr (cuda::std::is_signed_v<T>) {
        using W = typename wrap_of<T>::type;
        return b == 0 ? T(0) : b == T(-1) ? (T)((W)0 - (W)a) : (T)(a / b);
    } else {
        return b == 0 ? T(0) : (T)(a / b);
    }
}
template <class T> __device__ inline T wabs(T a)
{
    if constexpr (cuda::std::is_same_v<T, float>) {
        return fabsf(a);
    } else if constexpr (cuda::std::is_same_v<T, double>) {
        return fabs(a);
    } else if constexpr (cuda::std::is_signed_v<T>) {
        using W = typename wrap_of<T>::type;
        return a < 0 ? (T)((W)0 - (W)a) : a;
    } else {
        return a;
    }
}

template <class T> struct f_scale {
    T al;
    __device__ T operator()(T x) const
    {
        return wmul(al, x);
    }
};
template <class T> struct f_axpy {
    T al;
    __device__ T operator()(T x, T y) const
    {
        return wadd(wmul(al, x), y);
    }
};
template <class T> struct f_add {
    __device__ T operator()(T x, T y) const
    {
        return wadd(x, y);
    }
};
template <class T> struct f_sub {
    __device__ T operator()(T x, T y) const
    {
        return wsub(x, y);
    }
};
template <class T> struct f_mul {
    __device__ T operator()(T x, T y) const
    {
        return wmul(x, y);
    }
};
template <class T> struct f_div {
    __device__ T operator()(T x, T y) const
    {
        return wdiv(x, y);
    }
};
template <class T> struct f_min {
    __device__ T operator()(T x, T y) const
    {
        return y < x ? y : x;
    }
};
template <class T> struct f_max {
    __device__ T operator()(T x, T y) const
    {
        return x < y ? y : x;
    }
};
template <class T> struct f_abs {
    __device__ T operator()(T x) const
    {
        return wabs(x);
    }
};

/* C conversions, except float to integer: truncate, saturate, NaN -> 0
 * (the host loops do the same). */
template <class To, class From> struct f_convert {
    __device__ To operator()(From v) const
    {
        if constexpr (cuda::std::is_floating_point_v<From> &&
                      !cuda::std::is_floating_point_v<To>) {
            using lim = cuda::std::numeric_limits<To>;
            double d = (double)v;
            if (d != d)
                return To(0);
            if (d <= (double)lim::lowest())
                return lim::lowest();
            if (d >= (double)lim::max())
                return lim::max();
            return (To)d;
        } else {
            return (To)v;
        }
    }
};

template <class T> __global__ void fill_kernel(T *o, uint64_t n, T v)
{
    uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += stride)
        o[i] = v;
}

template <class T, class F>
cudaError_t unary(T *o, const void *x, uint64_t n, F f, cudaStream_t s)
{
    return cub::DeviceTransform::Transform(cuda::std::make_tuple((const T *)x),
                                           o, (int64_t)n, f, s);
}

template <class T, class F>
cudaError_t binary(T *o, const void *x, const void *y, uint64_t n, F f,
                   cudaStream_t s)
{
    return cub::DeviceTransform::Transform(
        cuda::std::make_tuple((const T *)x, (const T *)y), o, (int64_t)n, f, s);
}

template <class T>
cudaError_t transform_t(int op, T *o, const void *x, const void *y, uint64_t n,
                        T al, cudaStream_t s)
{
    switch (op) {
    case FLO_XF_COPY:
        if ((const void *)o == x)
            return cudaSuccess;
        return cudaMemcpyAsync(o, x, n * sizeof(T), cudaMemcpyDeviceToDevice,
                               s);
    case FLO_XF_FILL: {
        uint64_t blocks = (n + 255) / 256;
        if (blocks > 16384)
            blocks = 16384;
        fill_kernel<T><<<(unsigned)blocks, 256, 0, s>>>(o, n, al);
        return cudaGetLastError();
    }
    case FLO_XF_SCALE: return unary(o, x, n, f_scale<T>{al}, s);
    case FLO_XF_AXPY: return binary(o, x, y, n, f_axpy<T>{al}, s);
    case FLO_XF_ADD: return binary(o, x, y, n, f_add<T>{}, s);
    case FLO_XF_SUB: return binary(o, x, y, n, f_sub<T>{}, s);
    case FLO_XF_MUL: return binary(o, x, y, n, f_mul<T>{}, s);
    case FLO_XF_DIV: return binary(o, x, y, n, f_div<T>{}, s);
    case FLO_XF_MIN: return binary(o, x, y, n, f_min<T>{}, s);
    case FLO_XF_MAX: return binary(o, x, y, n, f_max<T>{}, s);
    case FLO_XF_ABS: return unary(o, x, n, f_abs<T>{}, s);
    default: return cudaErrorInvalidValue;
    }
}

/* Conversions are not bandwidth-critical: one grid-stride kernel per
 * type pair instead of 30 more DeviceTransform instantiations, which
 * keeps this file's compile time in check. */
template <class To, class From>
__global__ void convert_kernel(To *o, const From *x, uint64_t n)
{
    f_convert<To, From> f;
    uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += stride)
        o[i] = f(x[i]);
}

template <class To, class From>
cudaError_t convert_launch(To *o, const void *x, uint64_t n, cudaStream_t s)
{
    uint64_t blocks = (n + 255) / 256;
    if (blocks > 16384)
        blocks = 16384;
    convert_kernel<To, From>
        <<<(unsigned)blocks, 256, 0, s>>>(o, (const From *)x, n);
    return cudaGetLastError();
}

template <class To>
cudaError_t convert_to(int dt_in, To *o, const void *x, uint64_t n,
                       cudaStream_t s)
{
    switch (dt_in) {
    case FLO_I32: return convert_launch<To, int32_t>(o, x, n, s);
    case FLO_I64: return convert_launch<To, int64_t>(o, x, n, s);
    case FLO_U32: return convert_launch<To, uint32_t>(o, x, n, s);
    case FLO_U64: return convert_launch<To, uint64_t>(o, x, n, s);
    case FLO_F32: return convert_launch<To, float>(o, x, n, s);
    case FLO_F64: return convert_launch<To, double>(o, x, n, s);
    default: return cudaErrorInvalidValue;
    }
}

} // namespace

extern "C" int flo__algo_cuda_transform(int op, int dt_out, int dt_in,
                                        void *out, const void *x, const void *y,
                                        uint64_t n, const void *alpha,
                                        void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (n == 0)
        return 0;
    return (int)by_type(dt_out, [&](auto *tp) {
        using T = cuda::std::remove_pointer_t<decltype(tp)>;
        T *o = (T *)out;
        if (op == FLO_XF_COPY && dt_in != dt_out)
            return convert_to<T>(dt_in, o, x, n, s);
        T al = alpha != nullptr ? *(const T *)alpha : T(0);
        return transform_t<T>(op, o, x, y, n, al, s);
    });
}
