/*
 * Flotilla - element kernels: one instance per element type, generated
 * from the type list below; the semantics are stated in elem.h.
 *
 * Integer sums and products go through W, the unsigned type of the same
 * width, so that they wrap instead of overflowing; the conversion back to
 * a signed type is modulo 2^bits on every compiler Flotilla builds with
 * (GCC, Clang and nvcc define it so). Loops carry no branch on the
 * operator, so that the compiler vectorises the ones that can be.
 */
#include "collectives/elem/elem.h"

#include <math.h>
#include <string.h>

/* Leaf size of the pairwise float sum: 8 lanes over at most this many
 * elements, then halves added recursively. */
#define FLO__PAIRWISE_LEAF 1024

/* X(enum, suffix, T, W, largest, lowest, whole-buffer sum) for every
 * element type. The suffix names the flo__scalar member. */
#define ELEM_TYPES(X)                                                          \
    X(FLO_I32, i32, int32_t, uint32_t, INT32_MAX, INT32_MIN, wsum)             \
    X(FLO_I64, i64, int64_t, uint64_t, INT64_MAX, INT64_MIN, wsum)             \
    X(FLO_U32, u32, uint32_t, uint32_t, UINT32_MAX, 0, wsum)                   \
    X(FLO_U64, u64, uint64_t, uint64_t, UINT64_MAX, 0, wsum)                   \
    X(FLO_F32, f32, float, float, INFINITY, -INFINITY, psum)                   \
    X(FLO_F64, f64, double, double, INFINITY, -INFINITY, psum)

/* The operators on one value: a op x. */
#define E_SUM(T, W, a, x) ((T)((W)(a) + (W)(x)))
#define E_PROD(T, W, a, x) ((T)((W)(a) * (W)(x)))
#define E_MIN(T, W, a, x) ((x) < (a) ? (x) : (a))
#define E_MAX(T, W, a, x) ((a) < (x) ? (x) : (a))

/* LOOP(E, T, W) once per operator, chosen outside the loop. */
#define BY_OP(op, LOOP, T, W)                                                  \
    switch (op) {                                                              \
    case FLO_SUM: LOOP(E_SUM, T, W); break;                                    \
    case FLO_PROD: LOOP(E_PROD, T, W); break;                                  \
    case FLO_MIN: LOOP(E_MIN, T, W); break;                                    \
    case FLO_MAX: LOOP(E_MAX, T, W); break;                                    \
    default: break;                                                            \
    }

/* ---- Whole-buffer sums ----------------------------------------------------
 * Integers: one wrapping accumulator, which the compiler vectorises.
 * Floats: pairwise, leaves of FLO__PAIRWISE_LEAF elements summed in 8
 * interleaved lanes, then the halves added recursively; the error is
 * bounded by about (log2(n / leaf) + leaf / 8) * eps * sum |x_i|. */

#define DEFINE_WSUM(S, T, W)                                                   \
    static T wsum_##S(const T *x, uint64_t n)                                  \
    {                                                                          \
        W a = 0;                                                               \
        for (uint64_t i = 0; i < n; i++)                                       \
            a = (W)(a + (W)x[i]);                                              \
        return (T)a;                                                           \
    }

#define DEFINE_PSUM(S, T)                                                      \
    static T psum_##S(const T *x, uint64_t n)                                  \
    {                                                                          \
        if (n <= FLO__PAIRWISE_LEAF) {                                         \
            T l[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                 \
            uint64_t i = 0;                                                    \
            for (; i + 8 <= n; i += 8)                                         \
                for (int j = 0; j < 8; j++)                                    \
                    l[j] += x[i + j];                                          \
            for (int j = 0; i < n; i++, j++)                                   \
                l[j] += x[i];                                                  \
            return ((l[0] + l[1]) + (l[2] + l[3])) +                           \
                   ((l[4] + l[5]) + (l[6] + l[7]));                            \
        }                                                                      \
        uint64_t h = (n / 2 + 7) & ~(uint64_t)7;                               \
        return psum_##S(x, h) + psum_##S(x + h, n - h);                        \
    }

DEFINE_WSUM(i32, int32_t, uint32_t)
DEFINE_WSUM(i64, int64_t, uint64_t)
DEFINE_WSUM(u32, uint32_t, uint32_t)
DEFINE_WSUM(u64, uint64_t, uint64_t)
DEFINE_PSUM(f32, float)
DEFINE_PSUM(f64, double)

/* ---- The loops of one type ---------------------------------------------- */

#define ACCUM_LOOP(E, T, W)                                                    \
    for (uint64_t i = 0; i < n; i++)                                           \
    a[i] = E(T, W, a[i], x[i])

#define FOLD_LOOP(E, T, W)                                                     \
    for (uint64_t i = 0; i < n; i++)                                           \
    acc = E(T, W, acc, x[i])

#define ONE(E, T, W) a = E(T, W, a, v)

/* In place (o == x) each x[i] is read before o[i] is written. */
#define SCAN_LOOP(E, T, W)                                                     \
    do {                                                                       \
        if (exclusive) {                                                       \
            for (uint64_t i = 0; i < n; i++) {                                 \
                T v = x[i];                                                    \
                o[i] = acc;                                                    \
                acc = E(T, W, acc, v);                                         \
            }                                                                  \
        } else {                                                               \
            for (uint64_t i = 0; i < n; i++) {                                 \
                T v = x[i];                                                    \
                acc = E(T, W, acc, v);                                         \
                o[i] = acc;                                                    \
            }                                                                  \
        }                                                                      \
    } while (0)

#define DEFINE_TYPE(EN, S, T, W, HI, LO, SUMF)                                 \
    static T ident_##S(flo_redop op)                                           \
    {                                                                          \
        return op == FLO_PROD  ? (T)1                                          \
               : op == FLO_MIN ? (T)(HI)                                       \
               : op == FLO_MAX ? (T)(LO)                                       \
                               : (T)0;                                         \
    }                                                                          \
    static void accum_##S(flo_redop op, T *restrict a, const T *restrict x,    \
                          uint64_t n)                                          \
    {                                                                          \
        BY_OP(op, ACCUM_LOOP, T, W)                                            \
    }                                                                          \
    static T combine_##S(flo_redop op, T a, T v)                               \
    {                                                                          \
        BY_OP(op, ONE, T, W)                                                   \
        return a;                                                              \
    }                                                                          \
    static T fold_##S(flo_redop op, const T *x, uint64_t n)                    \
    {                                                                          \
        T acc = ident_##S(op);                                                 \
        if (op == FLO_SUM)                                                     \
            return SUMF##_##S(x, n);                                           \
        BY_OP(op, FOLD_LOOP, T, W)                                             \
        return acc;                                                            \
    }                                                                          \
    /* The first occurrence wins: a later element replaces the current         \
     * extremum only if strictly better (idx < 0 takes the first). */          \
    static int64_t argfold_##S(flo_redop op, const T *x, uint64_t n, T *out)   \
    {                                                                          \
        T acc = ident_##S(op);                                                 \
        int64_t idx = -1;                                                      \
        if (op == FLO_MIN) {                                                   \
            for (uint64_t i = 0; i < n; i++)                                   \
                if (x[i] < acc || idx < 0) {                                   \
                    acc = x[i];                                                \
                    idx = (int64_t)i;                                          \
                }                                                              \
        } else if (op == FLO_MAX) {                                            \
            for (uint64_t i = 0; i < n; i++)                                   \
                if (acc < x[i] || idx < 0) {                                   \
                    acc = x[i];                                                \
                    idx = (int64_t)i;                                          \
                }                                                              \
        } else {                                                               \
            acc = fold_##S(op, x, n);                                          \
        }                                                                      \
        *out = acc;                                                            \
        return idx;                                                            \
    }                                                                          \
    static void scan_##S(flo_redop op, bool exclusive, T acc, const T *x,      \
                         uint64_t n, T *o)                                     \
    {                                                                          \
        BY_OP(op, SCAN_LOOP, T, W)                                             \
    }

ELEM_TYPES(DEFINE_TYPE)

/* ---- Dispatch on the type -------------------------------------------------
 * Each function is one switch over ELEM_TYPES; an invalid type matches no
 * case (see elem.h). */

flo__scalar flo__elem_identity(flo_dtype t, flo_redop op)
{
    flo__scalar s;

    memset(&s, 0, sizeof(s));
    switch (t) {
#define CASE(E, S, T, W, HI, LO, SUMF)                                         \
    case E: s.S = ident_##S(op); break;
        ELEM_TYPES(CASE)
#undef CASE
    default: break;
    }
    return s;
}

void flo__elem_load(flo_dtype t, const void *v, flo__scalar *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->b, v, flo_dtype_size(t));
}

void flo__elem_combine(flo_dtype t, flo_redop op, flo__scalar *acc,
                       const flo__scalar *x)
{
    switch (t) {
#define CASE(E, S, T, W, HI, LO, SUMF)                                         \
    case E: acc->S = combine_##S(op, acc->S, x->S); break;
        ELEM_TYPES(CASE)
#undef CASE
    default: break;
    }
}

bool flo__elem_less(flo_dtype t, const flo__scalar *a, const flo__scalar *b)
{
    switch (t) {
#define CASE(E, S, T, W, HI, LO, SUMF)                                         \
    case E: return a->S < b->S;
        ELEM_TYPES(CASE)
#undef CASE
    default: return false;
    }
}

void flo__elem_accum(flo_dtype t, flo_redop op, void *acc, const void *x,
                     uint64_t n)
{
    switch (t) {
#define CASE(E, S, T, W, HI, LO, SUMF)                                         \
    case E: accum_##S(op, acc, x, n); break;
        ELEM_TYPES(CASE)
#undef CASE
    default: break;
    }
}

flo__scalar flo__elem_fold(flo_dtype t, flo_redop op, const void *x, uint64_t n)
{
    flo__scalar s;

    memset(&s, 0, sizeof(s));
    switch (t) {
#define CASE(E, S, T, W, HI, LO, SUMF)                                         \
    case E: s.S = fold_##S(op, x, n); break;
        ELEM_TYPES(CASE)
#undef CASE
    default: break;
    }
    return s;
}

void flo__elem_argfold(flo_dtype t, flo_redop op, const void *x, uint64_t n,
                       flo__scalar *value, int64_t *index)
{
    memset(value, 0, sizeof(*value));
    *index = -1;
    switch (t) {
#define CASE(E, S, T, W, HI, LO, SUMF)                                         \
    case E: *index = argfold_##S(op, x, n, &value->S); break;
        ELEM_TYPES(CASE)
#undef CASE
    default: break;
    }
}

void flo__elem_scan(flo_dtype t, flo_redop op, bool exclusive,
                    const flo__scalar *carry, const void *x, uint64_t n,
                    void *out)
{
    switch (t) {
#define CASE(E, S, T, W, HI, LO, SUMF)                                         \
    case E: scan_##S(op, exclusive, carry->S, x, n, out); break;
        ELEM_TYPES(CASE)
#undef CASE
    default: break;
    }
}
