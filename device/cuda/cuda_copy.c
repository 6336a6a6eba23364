/*
 * Flotilla CUDA backend - the entry point of a copy task
 * (flo__device_ops.copy_entry): buffers copied into others on the GPU
 * the task runs on, enqueued on its stream like any CUDA entry point's
 * work, so that the data never leaves the device. Replicated tasks
 * (scheduler/replicate.c) start each copy's private versions with it.
 */
#include "device/cuda/cuda_backend.h"

void flo__cuda_copy_entry(flo_task_ctx *ctx)
{
    const flo__copy_args *a = FLO_TASK_ARGS(ctx, flo__copy_args);
    cudaStream_t s = (cudaStream_t)flo_task_stream(ctx);

    if (!a || !s) {
        flo_task_fail(ctx, FLO_EINTERNAL,
                      "copy task without arguments or stream");
        return;
    }
    for (int i = 0; i < a->n; i++) {
        size_t bytes = flo_task_buffer_size(ctx, i);
        flo_status st = FLO__CUDA(cudaMemcpyAsync(
            flo_task_buffer(ctx, a->n + i), flo_task_buffer(ctx, i), bytes,
            cudaMemcpyDeviceToDevice, s));
        if (st != FLO_OK) {
            flo_task_fail(ctx, st,
                          "copy task on GPU %d: buffer %d (%zu bytes): %s",
                          flo_task_device(ctx), i, bytes, flo_status_str(st));
            return;
        }
    }
}
