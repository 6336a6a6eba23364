/*
 * Flotilla - CUDA launchers of the array algorithms (algo_*.cu). Plain C
 * declarations: no CUDA type crosses this header. Each launcher only
 * enqueues work on stream (a cudaStream_t) and returns 0 or a
 * cudaError_t; flo__algo_cuda_strerror names it.
 */
#ifndef FLO_ALGO_CUDA_H
#define FLO_ALGO_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[0..n) = op(x, y) (flo_transform_op); alpha: one value of dt_out. */
int flo__algo_cuda_transform(int op, int dt_out, int dt_in, void *out,
                             const void *x, const void *y, uint64_t n,
                             const void *alpha, void *stream);

/* Reduce in[0..n) with op (flo_redop) into result: the value at byte 0;
 * with arg, the int64 index (+ offset) of the first extremum at byte 8.
 * temp: temp_bytes of device memory (flo__algo_cuda_temp_bytes). */
int flo__algo_cuda_reduce(int op, int dt, int arg, const void *in, uint64_t n,
                          uint64_t offset, void *result, void *temp,
                          size_t temp_bytes, void *stream);

/* Single-pass scan of in[0..n) into out (may alias), seeded with the
 * device value *carry_dev when non-NULL, else the host value *carry_val
 * when non-NULL, else the identity. */
int flo__algo_cuda_scan(int op, int dt, int exclusive, const void *in,
                        void *out, uint64_t n, const void *carry_dev,
                        const void *carry_val, void *temp, size_t temp_bytes,
                        void *stream);

/* Largest temporary storage any reduce or scan of n elements of dt
 * needs, queried on CUDA device ordinal (the current device is
 * restored). */
int flo__algo_cuda_temp_bytes(int dt, uint64_t n, int ordinal, size_t *bytes);

const char *flo__algo_cuda_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
