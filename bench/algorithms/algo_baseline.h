/*
 * Flotilla benchmarks - raw CUDA baselines of bench/algorithms: CUB
 * called directly and cudaMemcpy device to device (algo_baseline.cu).
 * Plain C: no CUDA type crosses this header.
 */
#ifndef FLO_BENCH_ALGO_BASELINE_H
#define FLO_BENCH_ALGO_BASELINE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { BASE_AXPY = 0, BASE_REDUCE = 1, BASE_SCAN = 2, BASE_COPY = 3 };

/*
 * Time `what` on n elements (f64 when is_f64, else f32) on CUDA device
 * ordinal: buffers allocated once, warmup launches, then `trials` trials
 * of `reps` back-to-back launches on one stream timed with CUDA events.
 * *sec gets the median seconds per launch. Returns 0, or a cudaError_t
 * (*msg then names it).
 */
int base_run(int what, int is_f64, uint64_t n, int ordinal, int warmup,
             int reps, int trials, double *sec, const char **msg);

/* Name of device ordinal (static buffer), or NULL without a GPU. */
const char *base_device_name(int ordinal);

#ifdef __cplusplus
}
#endif
#endif
