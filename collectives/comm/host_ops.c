/*
 * Flotilla - element-wise reduction, fold and scan on host memory, for
 * every flo_dtype and flo_redop. Used by the host transport.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "collectives/comm/comm_internal.h"

#define OP_SUM(a, b) ((a) + (b))
#define OP_PROD(a, b) ((a) * (b))
#define OP_MIN(a, b) ((b) < (a) ? (b) : (a))
#define OP_MAX(a, b) ((b) > (a) ? (b) : (a))

/* One set of loops per (type, operator). The compiler vectorises the
 * accumulate loop; fold and scan are sequential by nature. */
#define DEFINE_OPS(T, NAME, OPNAME, OP)                                    \
    static void accum_##NAME##_##OPNAME(void *dst, const void *src,       \
                                        size_t n)                         \
    {                                                                      \
        T *restrict d = dst;                                               \
        const T *restrict s = src;                                         \
        for (size_t i = 0; i < n; i++)                                     \
            d[i] = OP(d[i], s[i]);                                         \
    }                                                                      \
    static void fold_##NAME##_##OPNAME(void *total, const void *src,      \
                                       size_t n)                          \
    {                                                                      \
        const T *s = src;                                                  \
        T acc;                                                             \
        memcpy(&acc, total, sizeof(T));                                    \
        for (size_t i = 0; i < n; i++)                                     \
            acc = OP(acc, s[i]);                                           \
        memcpy(total, &acc, sizeof(T));                                    \
    }                                                                      \
    static void scan_##NAME##_##OPNAME(void *dst, const void *src,        \
                                       size_t n, const void *carry,        \
                                       int exclusive)                      \
    {                                                                      \
        T *d = dst;                                                        \
        const T *s = src;                                                  \
        T acc;                                                             \
        memcpy(&acc, carry, sizeof(T));                                    \
        if (exclusive) {                                                   \
            for (size_t i = 0; i < n; i++) {                               \
                T x = s[i]; /* Read first: dst may alias src. */          \
                d[i] = acc;                                                \
                acc = OP(acc, x);                                          \
            }                                                              \
        } else {                                                           \
            for (size_t i = 0; i < n; i++) {                               \
                acc = OP(acc, s[i]);                                       \
                d[i] = acc;                                                \
            }                                                              \
        }                                                                  \
    }

#define DEFINE_TYPE(T, NAME)                                               \
    DEFINE_OPS(T, NAME, sum, OP_SUM)                                       \
    DEFINE_OPS(T, NAME, prod, OP_PROD)                                     \
    DEFINE_OPS(T, NAME, min, OP_MIN)                                       \
    DEFINE_OPS(T, NAME, max, OP_MAX)

DEFINE_TYPE(int32_t, i32)
DEFINE_TYPE(int64_t, i64)
DEFINE_TYPE(uint32_t, u32)
DEFINE_TYPE(uint64_t, u64)
DEFINE_TYPE(float, f32)
DEFINE_TYPE(double, f64)

typedef void (*accum_fn)(void *, const void *, size_t);
typedef void (*fold_fn)(void *, const void *, size_t);
typedef void (*scan_fn)(void *, const void *, size_t, const void *, int);

#define ROW(NAME, KIND)                                                    \
    {KIND##_##NAME##_sum, KIND##_##NAME##_prod, KIND##_##NAME##_min,      \
     KIND##_##NAME##_max}
#define TABLE(KIND)                                                        \
    {ROW(i32, KIND), ROW(i64, KIND), ROW(u32, KIND), ROW(u64, KIND),      \
     ROW(f32, KIND), ROW(f64, KIND)}

/* Indexed [dtype][op], in the order of the enums. */
static const accum_fn accum_tab[FLO_DTYPE_COUNT][FLO_REDOP_COUNT] =
    TABLE(accum);
static const fold_fn fold_tab[FLO_DTYPE_COUNT][FLO_REDOP_COUNT] =
    TABLE(fold);
static const scan_fn scan_tab[FLO_DTYPE_COUNT][FLO_REDOP_COUNT] =
    TABLE(scan);

void flo__red_accum(void *dst, const void *src, size_t n, flo_dtype t,
                    flo_redop op)
{
    accum_tab[t][op](dst, src, n);
}

void flo__red_identity(void *out, flo_dtype t, flo_redop op)
{
    /* One variable per type; memcpy keeps the aliasing rules happy. */
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    uint64_t u64;
    float f32;
    double f64;

    switch (op) {
    case FLO_SUM:
        i32 = 0; i64 = 0; u32 = 0; u64 = 0; f32 = 0.0f; f64 = 0.0;
        break;
    case FLO_PROD:
        i32 = 1; i64 = 1; u32 = 1; u64 = 1; f32 = 1.0f; f64 = 1.0;
        break;
    case FLO_MIN:
        i32 = INT32_MAX; i64 = INT64_MAX; u32 = UINT32_MAX;
        u64 = UINT64_MAX; f32 = INFINITY; f64 = INFINITY;
        break;
    default: /* FLO_MAX */
        i32 = INT32_MIN; i64 = INT64_MIN; u32 = 0; u64 = 0;
        f32 = -INFINITY; f64 = -INFINITY;
        break;
    }
    switch (t) {
    case FLO_I32: memcpy(out, &i32, sizeof(i32)); break;
    case FLO_I64: memcpy(out, &i64, sizeof(i64)); break;
    case FLO_U32: memcpy(out, &u32, sizeof(u32)); break;
    case FLO_U64: memcpy(out, &u64, sizeof(u64)); break;
    case FLO_F32: memcpy(out, &f32, sizeof(f32)); break;
    default: memcpy(out, &f64, sizeof(f64)); break;
    }
}

void flo__red_fold(void *total, const void *src, size_t n, flo_dtype t,
                   flo_redop op)
{
    flo__red_identity(total, t, op);
    fold_tab[t][op](total, src, n);
}

void flo__red_scan(void *dst, const void *src, size_t n, flo_dtype t,
                   flo_redop op, const void *carry, int exclusive)
{
    scan_tab[t][op](dst, src, n, carry, exclusive);
}

void flo__red_combine1(void *a, const void *b, flo_dtype t, flo_redop op)
{
    accum_tab[t][op](a, b, 1);
}
