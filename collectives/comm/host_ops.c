/*
 * Flotilla - element-wise reduction, fold and scan on host memory, for
 * every flo_dtype and flo_redop. Used by the host transport.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "collectives/algo/algo.h"
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
    /* One definition of the identities for the whole layer: the array
     * algorithms' (0, 1, the type's max for min, its lowest for max). */
    flo__scalar s = flo__algo_identity(t, op);
    memcpy(out, s.b, flo_dtype_size(t));
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
