/*
 * Entry points of tests/device/cuda_test_kernels.cu (C linkage) and the
 * host twins' shared argument block.
 */
#ifndef FLO_TEST_CUDA_KERNELS_H
#define FLO_TEST_CUDA_KERNELS_H

#include <stdint.h>

#include "flotilla.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct flo_test_args {
    uint32_t k; /* Constant mixed in (spin: clock cycles). */
    int nbuf;   /* Buffers the task names. */
} flo_test_args;

/* a[i] = a[i] * 3 + (b ? b[i] : 0) + k + i  (buffer 0 RW, 1 READ) */
void flo_test_cuda_mix(flo_task_ctx *ctx);
/* a[i] = k ^ (i * 2654435761)  (buffer 0 WRITE) */
void flo_test_cuda_set(flo_task_ctx *ctx);
/* c[i] = a[i] ^ k  (buffer 0 WRITE, buffer 1 READ) */
void flo_test_cuda_xor(flo_task_ctx *ctx);
/* flo_test_cuda_mix, then cudaStreamSynchronize on the task's stream
 * (which stream capture forbids: graphs fall back to plain launches). */
void flo_test_cuda_mix_sync(flo_task_ctx *ctx);
void flo_test_cuda_empty(flo_task_ctx *ctx);
/* Atomically adds 1 to the uint64 in buffer 0. */
void flo_test_cuda_count(flo_task_ctx *ctx);
/* Spins k clock cycles. */
void flo_test_cuda_spin(flo_task_ctx *ctx);
/* Enqueues an empty kernel, then calls flo_task_fail(FLO_ETASK). */
void flo_test_cuda_fail(flo_task_ctx *ctx);
/* An invalid launch configuration (cudaErrorInvalidConfiguration). */
void flo_test_cuda_bad_launch(flo_task_ctx *ctx);
/* A kernel that writes far out of bounds (cudaErrorIllegalAddress). */
void flo_test_cuda_illegal(flo_task_ctx *ctx);
/* Writes flo_task_cuda_ordinal(ctx) + 1 into byte 0 of buffer 0. */
void flo_test_cuda_ordinal(flo_task_ctx *ctx);
/* The random graph's task (tests/scheduler/resil_dag.h) on the GPU. */
void flo_test_cuda_rd(flo_task_ctx *ctx);
/* Arguments of flo_test_cuda_flaky. */
typedef struct flo_test_flaky_args {
    int *attempts; /* Host counter of attempts. */
    int fail_first;
} flo_test_flaky_args;
/* Attempts below fail_first overwrite buffer 0 (int64) with -777 on the
 * GPU, then fail with FLO_EAGAIN; later ones add 1 to each word. */
void flo_test_cuda_flaky(flo_task_ctx *ctx);
/* Visible CUDA devices (0 without a driver). */
int flo_test_gpu_count(void);

/* ---- Scheduling tests (test_cuda_sched.c) ---- */

/* Arguments of flo_test_cuda_ticket (device addresses). */
typedef struct flo_test_ticket_args {
    const int *flag;   /* A mapped host int, or NULL: do not wait. */
    unsigned *counter; /* Device memory, shared by the tasks. */
    unsigned *slot;    /* Device memory, this task's. */
} flo_test_ticket_args;

/* Waits until *flag is non-zero (bounded: about 30 s of GPU clock),
 * then stores 1 + atomicAdd(counter, 1) into *slot: the order in which
 * tasks ran on the GPU. */
void flo_test_cuda_ticket(flo_task_ctx *ctx);
/* Writes (int)k into the int of buffer 0 and attaches it as the device
 * status word "test info" (nbuf 2: attaches before launching the
 * kernel). If attaching fails, fails the task with FLO_EINTERNAL. */
void flo_test_cuda_status(flo_task_ctx *ctx);
/* Calls flo_task_cuda_status_word from wherever it runs and stores its
 * return value into the int of buffer 0 (a host entry point). */
void flo_test_host_status(flo_task_ctx *ctx);

/* Host helpers (0 on success): a mapped, portable page-locked int (host
 * address and device alias), device memory zeroed, a copy to the host. */
int flo_test_mapped_int(int **host, int **dev);
void flo_test_mapped_free(int *host);
int flo_test_dev_zalloc(void **p, size_t bytes);
int flo_test_dev_read(void *dst, const void *src, size_t bytes);
void flo_test_dev_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
