/*
 * Flotilla - element types, reduction operators and scan kinds shared by
 * the array algorithms and the collectives.
 */
#ifndef FLOTILLA_TYPES_H
#define FLOTILLA_TYPES_H

#include <stddef.h>

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** Element types. */
typedef enum flo_dtype {
    FLO_I32 = 0,
    FLO_I64 = 1,
    FLO_U32 = 2,
    FLO_U64 = 3,
    FLO_F32 = 4,
    FLO_F64 = 5,
    FLO_DTYPE_COUNT = 6
} flo_dtype;

/** Reduction operators. */
typedef enum flo_redop {
    FLO_SUM = 0,
    FLO_PROD = 1,
    FLO_MIN = 2,
    FLO_MAX = 3,
    FLO_REDOP_COUNT = 4
} flo_redop;

/** Kinds of prefix scan (flo_array_scan, flo_coll_scan). */
typedef enum flo_scan_kind {
    FLO_SCAN_INCLUSIVE = 0, /**< out[i] = c op x[0] op ... op x[i]. */
    FLO_SCAN_EXCLUSIVE = 1  /**< out[0] = c, out[i] = c op x[0..i-1]. */
} flo_scan_kind;

/** Size in bytes of one element; 0 for an unknown type. */
size_t flo_dtype_size(flo_dtype t);

/** "i32", "f64", ...; "?" for an unknown type. */
const char *flo_dtype_name(flo_dtype t);

/** "sum", "prod", "min", "max"; "?" for an unknown operator. */
const char *flo_redop_name(flo_redop op);

FLO_END_DECLS
#endif
