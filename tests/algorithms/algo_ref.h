/*
 * Flotilla tests - sequential references for the array algorithms,
 * written independently of the library's loops: plain element-by-element
 * C over values widened to int64/uint64/double, with the documented
 * semantics (integers wrap, integer x / 0 == 0, float to integer
 * saturates).
 */
#ifndef FLO_TESTS_ALGO_REF_H
#define FLO_TESTS_ALGO_REF_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"

/* A value of any type, widened. */
typedef struct ref_val {
    int64_t i;  /* Signed types. */
    uint64_t u; /* Unsigned types. */
    double f;   /* Float types. */
} ref_val;

static inline bool ref_is_float(flo_dtype t)
{
    return t == FLO_F32 || t == FLO_F64;
}

static inline bool ref_is_signed(flo_dtype t)
{
    return t == FLO_I32 || t == FLO_I64;
}

static inline ref_val ref_get(flo_dtype t, const void *p, uint64_t i)
{
    ref_val v = {0, 0, 0.0};
    switch (t) {
    case FLO_I32: v.i = ((const int32_t *)p)[i]; break;
    case FLO_I64: v.i = ((const int64_t *)p)[i]; break;
    case FLO_U32: v.u = ((const uint32_t *)p)[i]; break;
    case FLO_U64: v.u = ((const uint64_t *)p)[i]; break;
    case FLO_F32: v.f = ((const float *)p)[i]; break;
    default: v.f = ((const double *)p)[i]; break;
    }
    return v;
}

/* Store with wrap-around (integers are reduced modulo 2^bits). */
static inline void ref_put(flo_dtype t, void *p, uint64_t i, ref_val v)
{
    switch (t) {
    case FLO_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)v.i; break;
    case FLO_I64: ((int64_t *)p)[i] = v.i; break;
    case FLO_U32: ((uint32_t *)p)[i] = (uint32_t)v.u; break;
    case FLO_U64: ((uint64_t *)p)[i] = v.u; break;
    case FLO_F32: ((float *)p)[i] = (float)v.f; break;
    default: ((double *)p)[i] = v.f; break;
    }
}

/* Keep a widened value inside its type (wrap, or round to float). */
static inline ref_val ref_norm(flo_dtype t, ref_val v)
{
    unsigned char b[8];
    ref_put(t, b, 0, v);
    return ref_get(t, b, 0);
}

static inline ref_val ref_op(flo_dtype t, flo_redop op, ref_val a, ref_val b)
{
    ref_val r = a;
    if (ref_is_float(t)) {
        switch (op) {
        case FLO_SUM: r.f = a.f + b.f; break;
        case FLO_PROD: r.f = a.f * b.f; break;
        case FLO_MIN: r.f = b.f < a.f ? b.f : a.f; break;
        default: r.f = a.f < b.f ? b.f : a.f; break;
        }
    } else if (ref_is_signed(t)) {
        switch (op) {
        case FLO_SUM: r.i = (int64_t)((uint64_t)a.i + (uint64_t)b.i); break;
        case FLO_PROD: r.i = (int64_t)((uint64_t)a.i * (uint64_t)b.i); break;
        case FLO_MIN: r.i = b.i < a.i ? b.i : a.i; break;
        default: r.i = a.i < b.i ? b.i : a.i; break;
        }
    } else {
        switch (op) {
        case FLO_SUM: r.u = a.u + b.u; break;
        case FLO_PROD: r.u = a.u * b.u; break;
        case FLO_MIN: r.u = b.u < a.u ? b.u : a.u; break;
        default: r.u = a.u < b.u ? b.u : a.u; break;
        }
    }
    return ref_norm(t, r);
}

static inline ref_val ref_identity(flo_dtype t, flo_redop op)
{
    ref_val v = {0, 0, 0.0};
    if (op == FLO_PROD) {
        v.i = 1, v.u = 1, v.f = 1.0;
    } else if (op == FLO_MIN) {
        v.i = t == FLO_I32 ? INT32_MAX : INT64_MAX;
        v.u = t == FLO_U32 ? UINT32_MAX : UINT64_MAX;
        v.f = INFINITY;
    } else if (op == FLO_MAX) {
        v.i = t == FLO_I32 ? INT32_MIN : INT64_MIN;
        v.u = 0;
        v.f = -INFINITY;
    }
    return v;
}

static inline bool ref_eq(flo_dtype t, ref_val a, ref_val b)
{
    if (ref_is_float(t))
        return (isnan(a.f) && isnan(b.f)) || a.f == b.f;
    return ref_is_signed(t) ? a.i == b.i : a.u == b.u;
}

static inline bool ref_lt(flo_dtype t, ref_val a, ref_val b)
{
    if (ref_is_float(t))
        return a.f < b.f;
    return ref_is_signed(t) ? a.i < b.i : a.u < b.u;
}

/* Sequential reduce; *index: first extremum (arg), -1 if n == 0. */
static inline ref_val ref_reduce(flo_dtype t, flo_redop op, const void *x,
                                 uint64_t n, int64_t *index)
{
    ref_val acc = ref_identity(t, op);
    int64_t idx = -1;
    for (uint64_t i = 0; i < n; i++) {
        ref_val v = ref_get(t, x, i);
        bool better = op == FLO_MIN ? ref_lt(t, v, acc) : ref_lt(t, acc, v);
        if (idx < 0 || better)
            idx = (int64_t)i;
        acc = ref_op(t, op, acc, v);
    }
    if (index != NULL)
        *index = idx;
    return acc;
}

static inline void ref_scan(flo_dtype t, flo_redop op, bool excl, const void *x,
                            void *out, uint64_t n, ref_val carry)
{
    ref_val acc = carry;
    for (uint64_t i = 0; i < n; i++) {
        ref_val v = ref_get(t, x, i);
        if (excl) {
            ref_put(t, out, i, acc);
            acc = ref_op(t, op, acc, v);
        } else {
            acc = ref_op(t, op, acc, v);
            ref_put(t, out, i, acc);
        }
    }
}

static inline int64_t ref_sat(double v, double lo, double hi, int64_t ilo,
                              int64_t ihi)
{
    if (isnan(v))
        return 0;
    if (v <= lo)
        return ilo;
    if (v >= hi)
        return ihi;
    return (int64_t)v;
}

/* Convert one value from type s to type t. */
static inline ref_val ref_convert(flo_dtype t, flo_dtype s, ref_val v)
{
    ref_val r = {0, 0, 0.0};
    if (ref_is_float(s)) {
        double f = v.f;
        switch (t) {
        case FLO_I32:
            r.i = ref_sat(f, -2147483648.0, 2147483647.0, INT32_MIN, INT32_MAX);
            break;
        case FLO_I64:
            r.i = ref_sat(f, -9223372036854775808.0, 9223372036854775808.0,
                          INT64_MIN, INT64_MAX);
            break;
        case FLO_U32:
            r.u = isnan(f) || f <= 0  ? 0
                  : f >= 4294967295.0 ? UINT32_MAX
                                      : (uint64_t)f;
            break;
        case FLO_U64:
            r.u = isnan(f) || f <= 0            ? 0
                  : f >= 18446744073709551616.0 ? UINT64_MAX
                                                : (uint64_t)f;
            break;
        case FLO_F32: r.f = (float)f; break;
        default: r.f = f; break;
        }
        return r;
    }
    bool sg = ref_is_signed(s);
    switch (t) {
    case FLO_I32:
    case FLO_I64: r.i = sg ? v.i : (int64_t)v.u; break;
    case FLO_U32:
    case FLO_U64: r.u = sg ? (uint64_t)v.i : v.u; break;
    case FLO_F32: r.f = sg ? (double)(float)v.i : (double)(float)v.u; break;
    default: r.f = sg ? (double)v.i : (double)v.u; break;
    }
    return ref_norm(t, r);
}

/* out = op(x, y) for one element, out's type t. */
static inline ref_val ref_xf(flo_dtype t, flo_transform_op op, ref_val x,
                             ref_val y, ref_val al)
{
    ref_val r = x;
    bool f = ref_is_float(t), sg = ref_is_signed(t);
    switch (op) {
    case FLO_XF_COPY: break;
    case FLO_XF_FILL: r = al; break;
    case FLO_XF_SCALE: r = ref_op(t, FLO_PROD, al, x); break;
    case FLO_XF_AXPY:
        r = ref_op(t, FLO_SUM, ref_op(t, FLO_PROD, al, x), y);
        break;
    case FLO_XF_ADD: r = ref_op(t, FLO_SUM, x, y); break;
    case FLO_XF_SUB:
        if (f)
            r.f = x.f - y.f;
        else if (sg)
            r.i = (int64_t)((uint64_t)x.i - (uint64_t)y.i);
        else
            r.u = x.u - y.u;
        break;
    case FLO_XF_MUL: r = ref_op(t, FLO_PROD, x, y); break;
    case FLO_XF_DIV:
        if (f)
            r.f = x.f / y.f;
        else if (sg)
            r.i = y.i == 0    ? 0
                  : y.i == -1 ? (int64_t)(0 - (uint64_t)x.i)
                              : x.i / y.i;
        else
            r.u = y.u == 0 ? 0 : x.u / y.u;
        break;
    case FLO_XF_MIN: r = ref_op(t, FLO_MIN, x, y); break;
    case FLO_XF_MAX: r = ref_op(t, FLO_MAX, x, y); break;
    default:
        if (f)
            r.f = fabs(x.f);
        else if (sg)
            r.i = x.i < 0 ? (int64_t)(0 - (uint64_t)x.i) : x.i;
        break;
    }
    return ref_norm(t, r);
}

/* Deterministic data: small integers (sums of up to 2^17 of them are
 * exact even in f32), mostly +-1 with a few 2 and 1/2 for products. */
static inline void ref_fill(flo_dtype t, void *p, uint64_t n, uint64_t seed,
                            bool for_prod)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        ref_val v = {0, 0, 0.0};
        int64_t k = (int64_t)(s % 129) - 64;
        if (for_prod) {
            unsigned c = (unsigned)(s % 100);
            k = c < 48 ? 1 : c < 96 ? -1 : c < 98 ? 2 : 3;
            v.f = c < 98 ? (double)k : 0.5;
        } else {
            v.f = (double)k;
        }
        v.i = k;
        v.u = ref_is_signed(t) || ref_is_float(t) ? 0 : (uint64_t)(k + 64);
        if (for_prod && !ref_is_float(t))
            v.u = (uint64_t)(k < 0 ? 1 : k);
        ref_put(t, p, i, v);
    }
}

#endif
