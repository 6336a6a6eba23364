/*
 * Collectives tests: input generation and a reference written apart from
 * the library (typed values, one switch per type), shared by the unit,
 * MPI and GPU tests.
 *
 * Two sets of inputs (ck_values):
 * - CK_SMALL: small integers chosen so that every type holds them and
 *   every result exactly: sums of values in [-9, 9], products of +-1 (3
 *   for unsigned types), min/max of values in [-500, 500). Results
 *   therefore compare exactly, floats included, whatever order an
 *   implementation combines them in.
 * - CK_WRAP: integers next to the ends of their type, so that every sum
 *   and product of two or more of them overflows; the documented result
 *   is the one modulo 2^bits (two's complement for signed types), which
 *   is also order-independent. Float types get the small inputs.
 * The reference computes integer sums and products in the unsigned type
 * of the same width, so it has no undefined behaviour of its own.
 */
#ifndef TESTS_COLL_REF_H
#define TESTS_COLL_REF_H

#include <math.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "flotilla.h"

typedef union tval {
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    uint64_t u64;
    float f32;
    double f64;
} tval;

static inline bool ref_unsigned(flo_dtype t)
{
    return t == FLO_U32 || t == FLO_U64;
}

enum ck_values { CK_SMALL, CK_WRAP };

/* CK_WRAP input of participant p at index i of an integer type, as the
 * int64_t that tv_from converts (modulo 2^bits for unsigned types). */
static inline int64_t ref_gen_wrap(flo_dtype t, flo_redop op, int p, size_t i)
{
    bool u = ref_unsigned(t), w64 = t == FLO_I64 || t == FLO_U64;
    int64_t k = (int64_t)(((uint64_t)p * 131 + i * 17) % 19);
    int64_t hi = u ? -1 : w64 ? INT64_MAX : INT32_MAX;
    int64_t lo = u ? 0 : w64 ? INT64_MIN : INT32_MIN;

    switch (op) {
    case FLO_SUM: return hi - k;
    /* Odd factors: a product of even ones soon becomes 0 mod 2^bits. */
    case FLO_PROD: return hi - 2 * k;
    default: return (p + (int)i) % 2 ? hi - k : lo + k;
    }
}

/* Input value of participant p at index i. */
static inline int64_t ref_gen_v(flo_dtype t, flo_redop op, int p, size_t i,
                                int values)
{
    bool u = ref_unsigned(t);
    uint64_t pu = (uint64_t)p;

    if (values == CK_WRAP && t != FLO_F32 && t != FLO_F64)
        return ref_gen_wrap(t, op, p, i);
    switch (op) {
    case FLO_SUM: return (int64_t)((pu * 131 + i * 17) % 19) - (u ? 0 : 9);
    case FLO_PROD: return (pu * 31 + i * 7) % 13 == 0 ? (u ? 3 : -1) : 1;
    default: return (int64_t)((pu * 7919 + i * 104729) % 1000) - (u ? 0 : 500);
    }
}

static inline tval tv_from(flo_dtype t, int64_t v)
{
    tval r;
    memset(&r, 0, sizeof(r));
    switch (t) {
    case FLO_I32: r.i32 = (int32_t)v; break;
    case FLO_I64: r.i64 = v; break;
    case FLO_U32: r.u32 = (uint32_t)v; break;
    case FLO_U64: r.u64 = (uint64_t)v; break;
    case FLO_F32: r.f32 = (float)v; break;
    default: r.f64 = (double)v; break;
    }
    return r;
}

static inline tval tv_identity(flo_dtype t, flo_redop op)
{
    tval r;
    memset(&r, 0, sizeof(r));
    if (op == FLO_SUM)
        return tv_from(t, 0);
    if (op == FLO_PROD)
        return tv_from(t, 1);
    bool mn = op == FLO_MIN;
    switch (t) {
    case FLO_I32: r.i32 = mn ? INT32_MAX : INT32_MIN; break;
    case FLO_I64: r.i64 = mn ? INT64_MAX : INT64_MIN; break;
    case FLO_U32: r.u32 = mn ? UINT32_MAX : 0; break;
    case FLO_U64: r.u64 = mn ? UINT64_MAX : 0; break;
    case FLO_F32: r.f32 = mn ? INFINITY : -INFINITY; break;
    default: r.f64 = mn ? INFINITY : -INFINITY; break;
    }
    return r;
}

/* W: the type sums and products are computed in (for integers, the
 * unsigned type of the same width: they wrap). */
#define TV_APPLY(F, W, a, b, op)                                               \
    ((op) == FLO_SUM    ? (W)((W)(a).F + (W)(b).F)                             \
     : (op) == FLO_PROD ? (W)((W)(a).F * (W)(b).F)                             \
     : (op) == FLO_MIN  ? (W)((a).F < (b).F ? (a).F : (b).F)                   \
                        : (W)((a).F > (b).F ? (a).F : (b).F))

static inline tval tv_op(flo_dtype t, flo_redop op, tval a, tval b)
{
    tval r;
    memset(&r, 0, sizeof(r));
    switch (t) {
    case FLO_I32: r.i32 = (int32_t)TV_APPLY(i32, uint32_t, a, b, op); break;
    case FLO_I64: r.i64 = (int64_t)TV_APPLY(i64, uint64_t, a, b, op); break;
    case FLO_U32: r.u32 = TV_APPLY(u32, uint32_t, a, b, op); break;
    case FLO_U64: r.u64 = TV_APPLY(u64, uint64_t, a, b, op); break;
    case FLO_F32: r.f32 = TV_APPLY(f32, float, a, b, op); break;
    default: r.f64 = TV_APPLY(f64, double, a, b, op); break;
    }
    return r;
}

static inline tval tv_load(const void *buf, size_t i, flo_dtype t)
{
    tval r;
    size_t es = flo_dtype_size(t);
    memset(&r, 0, sizeof(r));
    memcpy(&r, (const char *)buf + i * es, es);
    return r;
}

static inline void tv_store(void *buf, size_t i, flo_dtype t, tval v)
{
    size_t es = flo_dtype_size(t);
    memcpy((char *)buf + i * es, &v, es);
}

static inline bool tv_eq(flo_dtype t, tval a, tval b)
{
    switch (t) {
    case FLO_I32: return a.i32 == b.i32;
    case FLO_I64: return a.i64 == b.i64;
    case FLO_U32: return a.u32 == b.u32;
    case FLO_U64: return a.u64 == b.u64;
    case FLO_F32: return a.f32 == b.f32;
    default: return a.f64 == b.f64;
    }
}

/* Fill buf[0..n) with participant p's input. */
static inline void ref_fill(void *buf, size_t n, flo_dtype t, flo_redop op,
                            int p, int values)
{
    for (size_t i = 0; i < n; i++)
        tv_store(buf, i, t, tv_from(t, ref_gen_v(t, op, p, i, values)));
}

/* Reduction over participants [0, size) of element i. */
static inline tval ref_reduce_at(flo_dtype t, flo_redop op, int size, size_t i,
                                 int values)
{
    tval acc = tv_from(t, ref_gen_v(t, op, 0, i, values));
    for (int p = 1; p < size; p++)
        acc = tv_op(t, op, acc, tv_from(t, ref_gen_v(t, op, p, i, values)));
    return acc;
}

/* Count of elements of buf[0..n) that differ from want(i). */
#define REF_COUNT_BAD(bad, buf, n, t, want_expr)                               \
    do {                                                                       \
        for (size_t i_ = 0; i_ < (n); i_++) {                                  \
            size_t i = i_;                                                     \
            tval w_ = (want_expr);                                             \
            if (!tv_eq((t), tv_load((buf), i, (t)), w_))                       \
                (bad)++;                                                       \
        }                                                                      \
    } while (0)

/* ---- One collective, checked ------------------------------------------ */

enum {
    CK_ALLREDUCE,
    CK_REDUCE,
    CK_BCAST,
    CK_ALLGATHER,
    CK_REDUCE_SCATTER,
    CK_SCAN,
    CK_EXSCAN,
    CK_KIND_COUNT
};

static const char *const ck_names[CK_KIND_COUNT] = {
    "allreduce",      "reduce", "broadcast", "allgather",
    "reduce_scatter", "scan",   "exscan"};

/* Length of participant p's part in the scan tests: uneven, some 0. */
static inline size_t ck_scan_count(int p, size_t count)
{
    return p % 3 == 1 ? 0 : count + (size_t)p * 3;
}

#define CK_SENTINEL 0xA5
#define CK_TAIL 8

typedef struct ck_result {
    flo_status submit; /* What the call returned. */
    flo_status wait;   /* What the event returned. */
    long bad;          /* Wrong elements (including clobbered tails). */
} ck_result;

static inline bool ck_tail_ok(const unsigned char *b, size_t from)
{
    for (size_t k = 0; k < CK_TAIL; k++)
        if (b[from + k] != CK_SENTINEL)
            return false;
    return true;
}

/*
 * Run one collective of kind on c (local participants first..first+n-1
 * of size) with inputs from the set `values` (enum ck_values) and check
 * every local result against the reference. Receive handles of odd
 * participants get CK_TAIL extra bytes that must survive.
 */
static inline ck_result ck_run(flo_runtime *rt, flo_comm *c, int kind,
                               flo_dtype t, flo_redop op, size_t count,
                               int root, bool in_place, int values)
{
    ck_result res = {FLO_OK, FLO_OK, 0};
    int n = flo_comm_local_size(c), size = flo_comm_size(c);
    int first = flo_comm_first(c);
    size_t es = flo_dtype_size(t);
    unsigned char *sb[FLO_COMM_MAX_LOCAL], *rb[FLO_COMM_MAX_LOCAL];
    size_t sbytes[FLO_COMM_MAX_LOCAL], rbytes[FLO_COMM_MAX_LOCAL];
    size_t rneed[FLO_COMM_MAX_LOCAL], counts[FLO_COMM_MAX_LOCAL];
    flo_data sh[FLO_COMM_MAX_LOCAL], rh[FLO_COMM_MAX_LOCAL];
    flo_event ev = FLO_EVENT_NULL;
    bool scan = kind == CK_SCAN || kind == CK_EXSCAN;
    flo_redop gop = kind == CK_BCAST || kind == CK_ALLGATHER ? FLO_SUM : op;

    if (kind == CK_BCAST)
        in_place = true;
    for (int li = 0; li < n; li++) {
        int p = first + li;
        size_t ns = count, nr = count;
        if (kind == CK_ALLGATHER)
            nr = count * (size_t)size;
        else if (kind == CK_REDUCE_SCATTER)
            ns = count * (size_t)size;
        else if (scan)
            ns = nr = counts[li] = ck_scan_count(p, count);
        if (in_place)
            ns = nr = ns > nr ? ns : nr;
        rneed[li] = nr * es;
        rbytes[li] = nr * es + ((p % 2 || nr == 0) ? CK_TAIL : 0);
        if (in_place) {
            /* One buffer: the input in front, then the tail. */
            sbytes[li] = rbytes[li];
            sb[li] = rb[li] = malloc(rbytes[li]);
            memset(rb[li], CK_SENTINEL, rbytes[li]);
        } else {
            sbytes[li] = ns * es > 0 ? ns * es : 8;
            sb[li] = malloc(sbytes[li]);
            rb[li] = malloc(rbytes[li]);
            memset(sb[li], CK_SENTINEL, sbytes[li]);
            memset(rb[li], CK_SENTINEL, rbytes[li]);
        }
        if (kind != CK_BCAST || p == root)
            ref_fill(sb[li], ns, t, gop, p, values);
        flo_data_register(rt, sb[li], sbytes[li], &sh[li]);
        rh[li] = sh[li];
        if (!in_place)
            flo_data_register(rt, rb[li], rbytes[li], &rh[li]);
    }

    switch (kind) {
    case CK_ALLREDUCE:
        res.submit = flo_coll_allreduce(c, sh, rh, count, t, op, &ev);
        break;
    case CK_REDUCE:
        res.submit = flo_coll_reduce(c, sh, rh, count, t, op, root, &ev);
        break;
    case CK_BCAST:
        res.submit = flo_coll_broadcast(c, sh, count, t, root, &ev);
        break;
    case CK_ALLGATHER:
        res.submit = flo_coll_allgather(c, sh, rh, count, t, &ev);
        break;
    case CK_REDUCE_SCATTER:
        res.submit = flo_coll_reduce_scatter(c, sh, rh, count, t, op, &ev);
        break;
    default:
        res.submit = flo_coll_scan(
            c, sh, rh, counts, t, op,
            kind == CK_EXSCAN ? FLO_SCAN_EXCLUSIVE : FLO_SCAN_INCLUSIVE, &ev);
        break;
    }
    if (res.submit == FLO_OK)
        res.wait = flo_event_wait(rt, ev);
    for (int li = 0; li < n; li++) {
        flo_data_unregister(rt, sh[li]);
        if (!in_place)
            flo_data_unregister(rt, rh[li]);
    }

    /* The scan reference: the fold of every earlier participant's part. */
    tval carry = tv_identity(t, op);
    if (scan)
        for (int q = 0; q < first; q++)
            for (size_t j = 0; j < ck_scan_count(q, count); j++)
                carry = tv_op(t, op, carry,
                              tv_from(t, ref_gen_v(t, op, q, j, values)));

    for (int li = 0; li < n && res.submit == FLO_OK; li++) {
        int p = first + li;
        unsigned char *r = rb[li];
        size_t nr = rneed[li] / es;
        switch (kind) {
        case CK_ALLREDUCE:
            REF_COUNT_BAD(res.bad, r, nr, t,
                          ref_reduce_at(t, op, size, i, values));
            break;
        case CK_REDUCE:
            if (p == root) {
                REF_COUNT_BAD(res.bad, r, nr, t,
                              ref_reduce_at(t, op, size, i, values));
            } else if (!in_place) {
                for (size_t k = 0; k < rbytes[li]; k++)
                    if (r[k] != CK_SENTINEL)
                        res.bad++;
            }
            break;
        case CK_BCAST:
            REF_COUNT_BAD(res.bad, r, count, t,
                          tv_from(t, ref_gen_v(t, FLO_SUM, root, i, values)));
            break;
        case CK_ALLGATHER:
            REF_COUNT_BAD(res.bad, r, nr, t,
                          tv_from(t, ref_gen_v(t, FLO_SUM, (int)(i / count),
                                               i % count, values)));
            break;
        case CK_REDUCE_SCATTER:
            REF_COUNT_BAD(
                res.bad, r, nr, t,
                ref_reduce_at(t, op, size, (size_t)p * count + i, values));
            break;
        default:
            for (size_t i = 0; i < counts[li]; i++) {
                tval x = tv_from(t, ref_gen_v(t, op, p, i, values));
                tval want = kind == CK_EXSCAN ? carry : tv_op(t, op, carry, x);
                if (!tv_eq(t, tv_load(r, i, t), want))
                    res.bad++;
                carry = tv_op(t, op, carry, x);
            }
            break;
        }
        if (rbytes[li] > rneed[li] && !ck_tail_ok(r, rneed[li]))
            res.bad++;
    }
    for (int li = 0; li < n; li++) {
        if (!in_place)
            free(rb[li]);
        free(sb[li]);
    }
    return res;
}

#endif
