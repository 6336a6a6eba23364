/*
 * Flotilla - the names and sizes of the element types and reduction
 * operators (flotilla/types.h).
 */
#include "flotilla/types.h"

#include <stdint.h>

size_t flo_dtype_size(flo_dtype t)
{
    switch (t) {
    case FLO_I32:
    case FLO_U32:
    case FLO_F32: return 4;
    case FLO_I64:
    case FLO_U64:
    case FLO_F64: return 8;
    default: return 0;
    }
}

const char *flo_dtype_name(flo_dtype t)
{
    static const char *const names[FLO_DTYPE_COUNT] = {
        [FLO_I32] = "i32", [FLO_I64] = "i64", [FLO_U32] = "u32",
        [FLO_U64] = "u64", [FLO_F32] = "f32", [FLO_F64] = "f64",
    };
    if ((unsigned)t >= FLO_DTYPE_COUNT)
        return "?";
    return names[t];
}

const char *flo_redop_name(flo_redop op)
{
    static const char *const names[FLO_REDOP_COUNT] = {
        [FLO_SUM] = "sum",
        [FLO_PROD] = "prod",
        [FLO_MIN] = "min",
        [FLO_MAX] = "max",
    };
    if ((unsigned)op >= FLO_REDOP_COUNT)
        return "?";
    return names[op];
}
