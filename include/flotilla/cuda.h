/**
 * @file
 * @brief Optional CUDA helpers, for CUDA entry points.
 *
 * Include only from code built with the CUDA toolkit; flotilla.h never
 * includes it. flo_task_cuda_ordinal and flo_task_cuda_status_word exist
 * in builds with the CUDA backend only.
 */
#ifndef FLOTILLA_CUDA_H
#define FLOTILLA_CUDA_H

#include <cuda_runtime.h>

#include "flotilla/task.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/**
 * @brief The stream a CUDA entry point enqueues its work on
 * (flo_task_stream with its CUDA type).
 *
 * @param[in] ctx  the task's context.
 * @return the stream; NULL on a host worker or for a NULL @p ctx.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
static inline cudaStream_t flo_task_cuda_stream(flo_task_ctx *ctx)
{
    return (cudaStream_t)flo_task_stream(ctx);
}

/**
 * @brief CUDA ordinal of the physical GPU the task runs on.
 *
 * Logical GPUs (flo_config.logical_gpus) of one physical GPU share its
 * ordinal.
 *
 * @param[in] ctx  the task's context.
 * @return the CUDA ordinal; -1 on a host worker or for a NULL @p ctx.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
int flo_task_cuda_ordinal(flo_task_ctx *ctx);

/**
 * @brief Attach a device status word to the running task.
 *
 * Once the work the
 * entry point enqueued on its stream has completed, the runtime reads
 * the int at @p dev_word; a non-zero value fails the task, like a
 * solver's `info` output (cuSOLVER's `devInfo`).
 *
 * The word is read after everything the entry point enqueued before
 * returning, so the kernel that computes it may be launched before or
 * after this call, as long as it is launched before the entry point
 * returns. The runtime copies it asynchronously, on the task's stream,
 * into page-locked host memory; the check costs a 4-byte copy and no
 * synchronisation.
 *
 * On a non-zero value the task completes with ::FLO_ETASK and the message
 * "task 'NAME' failed on GPU G (cuda C): WHAT = VALUE" (see
 * flo_error_message); its dependents are canceled as for any failure.
 * A task that already failed otherwise (flo_task_fail, a launch or device
 * error) keeps that failure and its words are not read.
 *
 * @param[in] ctx      The context passed to the CUDA entry point.
 * @param[in] dev_word Address of an int the task's work writes: device
 *                     memory of the task's GPU (e.g. in one of its
 *                     buffers or a workspace), managed or mapped host
 *                     memory. It must stay allocated until the task
 *                     completes.
 * @param[in] what     A label for the message (e.g. "potrf info");
 *                     copied, so it may be a temporary. NULL: "status
 *                     word".
 * @return ::FLO_OK; ::FLO_EINVAL if @p ctx or @p dev_word is NULL or the
 *         call is not made from within a CUDA entry point of @p ctx's
 *         task (a host entry point, another thread, after it returned);
 *         ::FLO_ERANGE if the task already attached 4 words;
 *         ::FLO_ENOMEM or ::FLO_EDEVICE if the host slots for the words
 *         cannot be allocated.
 *
 * @par Thread-safety:
 * Only from the CUDA entry point's own call (the GPU worker's thread),
 * during that call. Available in builds with the CUDA backend.
 * @par In a task:
 * Only in a CUDA entry point (FLO_EINVAL elsewhere).
 */
flo_status flo_task_cuda_status_word(flo_task_ctx *ctx, const int *dev_word,
                                     const char *what);

FLO_END_DECLS
#endif
