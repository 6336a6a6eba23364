/*
 * Tiled fp64 Cholesky - the CUDA entry points (cuBLAS / cuSOLVER on the
 * task's stream) and their per-thread library state. Plain C prototypes:
 * callers need no CUDA header. Built only with CUDA (CHOL_HAVE_CUDA).
 */
#ifndef CHOL_CUDA_H
#define CHOL_CUDA_H

#include <flotilla.h>

/* CUDA entry points of the four tile kernels (same buffers as the host
 * ones, see chol_kernels). */
void chol_cuda_potrf(flo_task_ctx *ctx);
void chol_cuda_trsm(flo_task_ctx *ctx);
void chol_cuda_syrk(flo_task_ctx *ctx);
void chol_cuda_gemm(flo_task_ctx *ctx);

/* Enqueues nothing: a read-write task with it moves its buffer to the GPU
 * it is pinned to (and makes that copy the only valid one). */
void chol_cuda_touch(flo_task_ctx *ctx);

/* Visible CUDA devices; 0 when none (or no driver). */
int chol_cuda_gpu_count(void);

/*
 * cusolverDnDpotrf reports a non-positive-definite tile through a device
 * int; each (thread, GPU) keeps one per step k. Call this after
 * flo_wait_all, when no task runs: it copies them all back, resets them
 * to 0 for the next factorisation, and returns 0 if all were 0, 1 if some
 * step failed (*bad_k, *bad_info: the first such step and its info), or
 * -1 on a CUDA error (message on stderr).
 */
int chol_cuda_check_info(int *bad_k, int *bad_info);

/* Free every thread's handles and buffers. Only once no task can run
 * (after flo_finalize). */
void chol_cuda_release(void);

#endif
