/**
 * @file
 * @brief Element types, reduction operators and scan kinds shared by the
 * array algorithms and the collectives.
 *
 * The functions of this header need no runtime: they may be called from
 * any thread at any time, inside tasks too.
 */
#ifndef FLOTILLA_TYPES_H
#define FLOTILLA_TYPES_H

#include <stddef.h>

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** @brief Element types of arrays and collectives. */
typedef enum flo_dtype {
    FLO_I32 = 0,        /**< int32_t. */
    FLO_I64 = 1,        /**< int64_t. */
    FLO_U32 = 2,        /**< uint32_t. */
    FLO_U64 = 3,        /**< uint64_t. */
    FLO_F32 = 4,        /**< float (IEEE 754 binary32). */
    FLO_F64 = 5,        /**< double (IEEE 754 binary64). */
    FLO_DTYPE_COUNT = 6 /**< Number of types; not a type (FLO_EINVAL). */
} flo_dtype;

/** @brief Reduction operators of arrays and collectives. */
typedef enum flo_redop {
    FLO_SUM = 0,        /**< Sum; identity 0. */
    FLO_PROD = 1,       /**< Product; identity 1. */
    FLO_MIN = 2,        /**< Minimum; identity the type's largest value
                             (+inf for floating types). */
    FLO_MAX = 3,        /**< Maximum; identity the type's lowest value
                             (-inf for floating types). */
    FLO_REDOP_COUNT = 4 /**< Number of operators; not an operator
                             (FLO_EINVAL). */
} flo_redop;

/** @brief Kinds of prefix scan (flo_array_scan, flo_coll_scan). */
typedef enum flo_scan_kind {
    FLO_SCAN_INCLUSIVE = 0, /**< out[i] = c op x[0] op ... op x[i]. */
    FLO_SCAN_EXCLUSIVE = 1  /**< out[0] = c, out[i] = c op x[0..i-1]. */
} flo_scan_kind;

/**
 * @brief Size in bytes of one element of a type.
 *
 * @param[in] t  an element type.
 * @return 4 or 8; 0 for a value that is no flo_dtype (FLO_DTYPE_COUNT
 *         included).
 *
 * @par Thread-safety:
 * Thread-safe (no state).
 * @par In a task:
 * Allowed.
 */
size_t flo_dtype_size(flo_dtype t);

/**
 * @brief Short name of an element type.
 *
 * @param[in] t  an element type.
 * @return a static string: "i32", "i64", "u32", "u64", "f32" or "f64";
 *         "?" for a value that is no flo_dtype. Never NULL.
 *
 * @par Thread-safety:
 * Thread-safe (no state).
 * @par In a task:
 * Allowed.
 */
const char *flo_dtype_name(flo_dtype t);

/**
 * @brief Short name of a reduction operator.
 *
 * @param[in] op  a reduction operator.
 * @return a static string: "sum", "prod", "min" or "max"; "?" for a
 *         value that is no flo_redop. Never NULL.
 *
 * @par Thread-safety:
 * Thread-safe (no state).
 * @par In a task:
 * Allowed.
 */
const char *flo_redop_name(flo_redop op);

FLO_END_DECLS
#endif
