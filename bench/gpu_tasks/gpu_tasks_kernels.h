/*
 * bench/gpu_tasks - C view of gpu_tasks_kernels.cu. Timings are seconds
 * (negative on a CUDA error).
 */
#ifndef FLO_BENCH_GPU_TASKS_KERNELS_H
#define FLO_BENCH_GPU_TASKS_KERNELS_H

#include <stddef.h>

#include "flotilla.h"

#ifdef __cplusplus
extern "C" {
#endif

int gb_gpu_count(void);

/* Entry points. */
void gb_cuda_empty(flo_task_ctx *ctx);
void gb_cuda_touch(flo_task_ctx *ctx);     /* buffer 0 (RW): p[0]++ */
void gb_cuda_read_spin(flo_task_ctx *ctx); /* buffer 0 (READ); args:
                                              long long cycles */

/* Raw baselines. */
double gb_raw_empty(int ordinal, int n);
double gb_raw_roundtrip(int ordinal, int n);
double gb_raw_chain(int ordinal, int n);
/* A CUDA graph of len dependent k_touch kernels, replayed reps times
 * (after one untimed launch). */
double gb_raw_graph_chain(int ordinal, int len, int reps);
double gb_raw_malloc(int ordinal, size_t bytes, int n);
double gb_raw_malloc_async(int ordinal, size_t bytes, int n);
double gb_raw_serial_copy_kernel(int ordinal, void *const *host, int ntasks,
                                 size_t bytes, long long cycles);
/* Duration of one read_spin kernel of `cycles`. */
double gb_kernel_time(int ordinal, long long cycles);

#ifdef __cplusplus
}
#endif
#endif
