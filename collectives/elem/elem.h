/*
 * Flotilla - element kernels: the identity, the combination of two
 * values and the host loops (accumulate, fold, scan) of every element
 * type (flo_dtype) and reduction operator (flo_redop). The one definition
 * of what a reduction computes, used by the array algorithms
 * (collectives/algo) and the collectives (collectives/comm) alike; the
 * device side of the same rules is elem_cuda.cuh. Not installed.
 *
 * Semantics (docs/internals-collectives.md, "Element semantics"):
 * - FLO_SUM and FLO_PROD of integers wrap modulo 2^bits: they are
 *   computed in the unsigned type of the same width, and a signed result
 *   is the two's complement reading of those bits (INT32_MAX + 1 is
 *   INT32_MIN). Never undefined behaviour, and independent of the order
 *   in which values are combined.
 * - FLO_MIN / FLO_MAX compare with <: the accumulated value is replaced
 *   only by a strictly smaller (larger) one. With a NaN operand the
 *   result is one of the operands, unspecified which.
 * - Identities: 0; 1; the type's largest value (+inf for floats); its
 *   lowest (-inf for floats).
 * - flo__elem_fold sums floats pairwise; every other loop combines left
 *   to right.
 *
 * Preconditions of every function: t and op are valid (the callers
 * validate them first; with an invalid one nothing is read or written
 * and the value returned is all zero bytes), and buffers hold elements
 * of type t at their natural alignment. The functions keep no state:
 * they are thread-safe on distinct outputs, never allocate, and may be
 * called inside tasks.
 */
#ifndef FLO_ELEM_H
#define FLO_ELEM_H

#include <stdbool.h>
#include <stdint.h>

#include "flotilla/types.h"

/* One value of any element type, at the start of 8 bytes; the member
 * names are the type suffixes (flo_dtype_name). Partials, carries and
 * immediate values travel in such 8-byte slots. */
typedef union flo__scalar {
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    uint64_t u64;
    float f32;
    double f64;
    unsigned char b[8];
} flo__scalar;

/* The identity of op for t. */
flo__scalar flo__elem_identity(flo_dtype t, flo_redop op);

/* *out = the element of type t at v (any alignment), the bytes past it
 * zero. */
void flo__elem_load(flo_dtype t, const void *v, flo__scalar *out);

/* *acc = *acc op *x. */
void flo__elem_combine(flo_dtype t, flo_redop op, flo__scalar *acc,
                       const flo__scalar *x);

/* *a < *b for values of type t. */
bool flo__elem_less(flo_dtype t, const flo__scalar *a, const flo__scalar *b);

/* acc[i] = acc[i] op x[i] for i < n. acc and x do not overlap. */
void flo__elem_accum(flo_dtype t, flo_redop op, void *acc, const void *x,
                     uint64_t n);

/* The identity of op combined with x[0], ..., x[n-1]. */
flo__scalar flo__elem_fold(flo_dtype t, flo_redop op, const void *x,
                           uint64_t n);

/* For FLO_MIN / FLO_MAX: *value = the extremum of x[0..n) and *index =
 * the index of its first occurrence (the identity and -1 for n == 0).
 * For FLO_SUM / FLO_PROD: the fold, and -1. */
void flo__elem_argfold(flo_dtype t, flo_redop op, const void *x, uint64_t n,
                       flo__scalar *value, int64_t *index);

/* Scan of x[0..n) into out[0..n) seeded with *carry: inclusive, out[i] =
 * carry op x[0] op ... op x[i]; exclusive, out[0] = carry and out[i] =
 * carry op x[0] op ... op x[i-1]. out may be x (in place); no other
 * overlap. */
void flo__elem_scan(flo_dtype t, flo_redop op, bool exclusive,
                    const flo__scalar *carry, const void *x, uint64_t n,
                    void *out);

#endif
