/*
 * Flotilla - optional CUDA helpers. Include only from code built with the
 * CUDA toolkit; flotilla.h never includes it.
 */
#ifndef FLOTILLA_CUDA_H
#define FLOTILLA_CUDA_H

#include <cuda_runtime.h>

#include "flotilla/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The stream a CUDA entry point enqueues its work on. */
static inline cudaStream_t flo_task_cuda_stream(flo_task_ctx *ctx)
{
    return (cudaStream_t)flo_task_stream(ctx);
}

/** CUDA ordinal of the physical GPU the task runs on; -1 on the host. */
int flo_task_cuda_ordinal(flo_task_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
