/*
 * Flotilla - device kernels of the cross-device scan (nccl_kernels.cu).
 * Plain C declarations (no CUDA types), shared by C and CUDA C++. All
 * calls only enqueue work on stream (a cudaStream_t) and return.
 */
#ifndef FLO_COLL_NCCL_KERNELS_H
#define FLO_COLL_NCCL_KERNELS_H

#include <stddef.h>

#include "flotilla/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most blocks of a scan: the partials need this many elements. */
#define FLO__SCAN_MAX_BLOCKS 1024

/* Fold src[0..n) per block into part[0..nblocks) and the whole into
 * *total (identity for n == 0). Returns nblocks (> 0), or a negative
 * cudaError_t if a launch failed. */
int flo__cu_scan_partials(const void *src, size_t n, flo_dtype t, flo_redop op,
                          void *part, void *total, void *stream);

/* dst = scan of src[0..n) (exclusive or inclusive) where block b starts
 * from the carry fold(totals[0..p)) op fold(part[0..b)); nblocks as
 * returned by flo__cu_scan_partials for the same n. dst may be src.
 * Returns 0 or a negative cudaError_t. */
int flo__cu_scan_apply(const void *src, void *dst, size_t n, flo_dtype t,
                       flo_redop op, int exclusive, const void *totals, int p,
                       const void *part, int nblocks, void *stream);

#ifdef __cplusplus
}
#endif
#endif
