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

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/**
 * A data handle: a small value (copy it freely). It encodes the runtime,
 * a slot and the slot's 64-bit generation, so a handle used after
 * flo_data_unregister returns FLO_ESTALE and one used with another
 * runtime FLO_EFOREIGN (FLO_ESTALE after 2^40 flo_init calls in one
 * process); neither is undefined behaviour, and a stale handle never
 * names data registered later. The zero value is never a valid handle.
 * Compare handles with flo_data_equal.
 */
typedef struct flo_data {
    uint64_t id;  /**< Runtime and slot. */
    uint64_t gen; /**< Generation of the slot. */
} flo_data;

/** The null handle. */
#define FLO_DATA_NULL ((flo_data){0, 0})

/** Whether two handles name the same registration. */
static inline int flo_data_equal(flo_data a, flo_data b)
{
    return a.id == b.id && a.gen == b.gen;
}

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

/** flo_data_register_flags: leave this memory pageable (no
 *  cudaHostRegister), whatever flo_config.no_pin_host says. */
#define FLO_DATA_NO_PIN 0x1u

/**
 * Register user host memory like flo_data_register, with flags.
 *
 * When GPUs are in use and flo_config.no_pin_host is 0 (the default;
 * FLO_PIN_HOST=0 turns pinning off), registered memory is page-locked
 * (cudaHostRegister) so that copies to and from GPUs are direct and
 * asynchronous; flo_data_unregister unpins it. Memory the program already
 * page-locked itself (cudaMallocHost, its own cudaHostRegister) is used as
 * is and never unpinned by the runtime. If pinning fails (limits), the
 * memory stays pageable, silently: copies then go through a per-GPU
 * staging thread. Pinning costs a system call proportional to the size;
 * FLO_DATA_NO_PIN skips it for buffers used once.
 *
 * @param flags  0 or FLO_DATA_NO_PIN.
 * @return FLO_OK; FLO_EINVAL for NULL rt/ptr/out, bytes == 0 or unknown
 *         flags; FLO_ESTALE after finalize began; FLO_ENOMEM.
 * Thread-safe.
 */
flo_status flo_data_register_flags(flo_runtime *rt, void *ptr, size_t bytes,
                                   unsigned flags, flo_data *out);

/**
 * Register n buffers of user host memory at once: [ptrs[i], ptrs[i] +
 * sizes[i]) becomes handle out[i], as n calls of flo_data_register_flags
 * would make them, but all or nothing and cheaper: the handle table's
 * lock is taken once for all n, and when pinning applies the memory is
 * page-locked in one pass (one device switch). Meant for programs with
 * thousands of tiles or blocks.
 *
 * @param n      number of buffers; 0 does nothing (FLO_OK).
 * @param ptrs   n non-NULL addresses.
 * @param sizes  n sizes in bytes, none 0.
 * @param flags  0 or FLO_DATA_NO_PIN (for all n).
 * @param out    n handles; written only on success, all at once.
 * @return FLO_OK; FLO_EINVAL for a NULL rt, NULL arrays with n > 0, a
 *         NULL pointer or a size of 0 anywhere in the arrays, or unknown
 *         flags; FLO_ESTALE after finalize began; FLO_ENOMEM when the
 *         runtime cannot hold n more handles (16,776,192 at most) or
 *         memory runs out; FLO_ESYS. On error nothing is registered and
 *         out is untouched.
 * Thread-safe; may be called from inside a task.
 */
flo_status flo_data_register_many(flo_runtime *rt, size_t n,
                                  void *const *ptrs, const size_t *sizes,
                                  unsigned flags, flo_data *out);

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
 *         a task; FLO_EDEADLK when the calling thread already holds an
 *         acquire of d that this one would wait for (any acquire after a
 *         write acquire, a write after a read, or a read after a read
 *         with a writer submitted in between; nothing is acquired);
 *         FLO_ECANCELED or the error of the last writer when it failed
 *         (the data is still acquired; release it).
 * Thread-safe: concurrent acquires of one handle by several threads are
 * ordered like submissions.
 */
flo_status flo_data_acquire(flo_runtime *rt, flo_data d, flo_access mode,
                            void **ptr);

/**
 * End an acquire made by the calling thread (its most recent one of d).
 * @return FLO_OK; FLO_EINVAL if the calling thread holds no acquire of d
 *         (another thread's acquire cannot be released here: it stays
 *         held); FLO_ESTALE / FLO_EFOREIGN for a bad handle.
 * Thread-safe.
 */
flo_status flo_data_release(flo_runtime *rt, flo_data d);

/**
 * Wait for all tasks using d, write the data back to the user's memory
 * (registered data), free device copies and the handle.
 * @return FLO_ESTALE if already unregistered; FLO_EBUSY while acquired;
 *         FLO_EDEADLK from inside a task.
 * Thread-safe, also against concurrent use of d: every flo_task_submit
 * or flo_data_acquire naming d on another thread either takes effect
 * before the unregister (its task runs, and its effect is in the data
 * written back, before this call returns) or fails with FLO_ESTALE having
 * changed nothing.
 */
flo_status flo_data_unregister(flo_runtime *rt, flo_data d);

/**
 * Unregister n handles at once, all or nothing: as flo_data_unregister
 * for each (wait for their tasks, write the data back, free the copies),
 * after checking every one of them under one lock hold each, taken in a
 * global order, so that either all are unregistered or none is.
 *
 * @param n   number of handles; 0 does nothing (FLO_OK).
 * @param hs  n handles, each listed once.
 * @return FLO_OK; FLO_EINVAL for a NULL rt or hs with n > 0, or a handle
 *         listed twice; FLO_ESTALE / FLO_EFOREIGN / FLO_EINVAL for a bad
 *         handle (also one unregistered concurrently); FLO_EBUSY when one
 *         is acquired; FLO_EDEADLK from inside a task; FLO_ENOMEM. On
 *         error no handle is unregistered.
 * Thread-safe, also against concurrent use of the handles: a
 * submission, acquire or unregister naming any of them on another thread
 * takes effect entirely before this call (its effect is in the data
 * written back) or fails with FLO_ESTALE.
 */
flo_status flo_data_unregister_many(flo_runtime *rt, size_t n,
                                    const flo_data *hs);

/**
 * Lookahead hint: start making d valid on device in the background,
 * ordered after every task already submitted that writes d, so that a
 * later task there finds it in place. Returns at once. Internally a
 * read-only task bound to that device (it takes part in the dependency
 * order like any reader: a writer submitted later waits for it). On the
 * host (device 0) it brings the data home, like flo_data_flush.
 *
 * @param device  a device index, 0 .. flo_device_count(rt) - 1.
 * @return FLO_OK (also when d is already valid there, and on host-only
 *         runtimes for device 0); FLO_ESTALE / FLO_EFOREIGN for a bad
 *         handle; FLO_EINVAL for NULL rt or a device out of range;
 *         FLO_ENOMEM. A failure of the transfer itself is not reported
 *         here: the task that needs the data still makes it valid.
 * Thread-safe; may be called from inside a task.
 */
flo_status flo_data_prefetch(flo_runtime *rt, flo_data d, int device);

/**
 * Write-back hint: start copying d home to host memory in the
 * background, after every task already submitted that writes d, while
 * other work continues; a later flo_data_acquire or flo_data_unregister
 * then finds the host copy valid. Returns at once. Internally a
 * read-only host task (it orders like any reader). A no-op in effect
 * when the host copy is already valid (host-only runtimes).
 *
 * @return FLO_OK; FLO_ESTALE / FLO_EFOREIGN for a bad handle; FLO_EINVAL
 *         for NULL rt; FLO_ENOMEM.
 * Thread-safe; may be called from inside a task.
 */
flo_status flo_data_flush(flo_runtime *rt, flo_data d);

/** Size in bytes, or FLO_ESTALE / FLO_EFOREIGN. */
flo_status flo_data_size(const flo_runtime *rt, flo_data d, size_t *bytes);

FLO_END_DECLS
#endif
