/*
 * Flotilla - data handles.
 *
 * A data handle names a contiguous buffer that tasks read and write. The
 * runtime orders tasks by the handles they access, keeps one copy per
 * memory node (host, each GPU) coherent, and moves data where a task runs.
 */
#ifndef FLOTILLA_DATA_H
#define FLOTILLA_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "flotilla/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A data handle: a small value (copy it freely). It encodes the runtime,
 * a slot and a generation, so a handle used after flo_data_unregister
 * returns FLO_ESTALE and one used with another runtime FLO_EFOREIGN;
 * neither is undefined behaviour. The zero value is never a valid handle.
 */
typedef struct flo_data {
    uint64_t id;
} flo_data;

/** The null handle. */
#define FLO_DATA_NULL ((flo_data){0})

/** Access modes. */
typedef enum flo_access {
    FLO_READ = 1,      /**< Read only. */
    FLO_WRITE = 2,     /**< Write only: previous contents are not fetched. */
    FLO_READ_WRITE = 3 /**< Read and write. */
} flo_access;

/**
 * Register user host memory [ptr, ptr + bytes). The runtime may copy it to
 * devices; the user must not touch it except between flo_data_acquire and
 * flo_data_release, until flo_data_unregister returns.
 *
 * @return FLO_EINVAL for NULL rt/ptr/out or bytes == 0.
 * Thread-safe.
 */
flo_status flo_data_register(flo_runtime *rt, void *ptr, size_t bytes,
                             flo_data *out);

/**
 * Data owned by the runtime: bytes of host memory (allocated lazily, on
 * first use, on the node of the first task that touches it), zero-filled
 * only if a task reads it before any writes it.
 * @return FLO_EINVAL for bytes == 0 or NULL; FLO_ENOMEM.
 */
flo_status flo_data_alloc(flo_runtime *rt, size_t bytes, flo_data *out);

/**
 * Wait until every task submitted before that writes d (and, for FLO_WRITE
 * or FLO_READ_WRITE, every task that reads it) has finished, bring a valid
 * copy to host memory, and return its address in *ptr. Tasks submitted
 * afterwards that conflict with the mode wait for flo_data_release.
 *
 * @return FLO_OK; FLO_ESTALE / FLO_EFOREIGN for a bad handle; FLO_EINVAL
 *         for a bad mode or NULL ptr; FLO_EDEADLK when called from inside
 *         a task; FLO_ECANCELED or the error of the last writer when it
 *         failed (the data is still acquired; release it).
 */
flo_status flo_data_acquire(flo_runtime *rt, flo_data d, flo_access mode,
                            void **ptr);

/** End an acquire. FLO_EINVAL if d is not acquired by the caller's call. */
flo_status flo_data_release(flo_runtime *rt, flo_data d);

/**
 * Wait for all tasks using d, write the data back to the user's memory
 * (registered data), free device copies and the handle.
 * @return FLO_ESTALE if already unregistered; FLO_EBUSY while acquired.
 */
flo_status flo_data_unregister(flo_runtime *rt, flo_data d);

/** Size in bytes, or FLO_ESTALE / FLO_EFOREIGN. */
flo_status flo_data_size(const flo_runtime *rt, flo_data d, size_t *bytes);

#ifdef __cplusplus
}
#endif
#endif
