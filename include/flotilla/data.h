/**
 * @file
 * @brief Data handles: buffers that tasks read and write.
 *
 * A data handle names a contiguous buffer that tasks read and write. The
 * runtime orders tasks by the handles they access, keeps one copy per
 * memory node (host, each GPU) coherent, and moves data where a task runs.
 *
 * Every call that takes a handle checks it: FLO_EINVAL for the null
 * handle (FLO_DATA_NULL) or a malformed one, FLO_ESTALE for a handle
 * unregistered since, FLO_EFOREIGN for a handle of another runtime. The
 * lists of errors below call these "a bad handle".
 */
#ifndef FLOTILLA_DATA_H
#define FLOTILLA_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "flotilla/runtime.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/**
 * @brief A data handle: a small value (copy it freely).
 *
 * It encodes the runtime, a slot and the slot's 64-bit generation, so a
 * handle used after flo_data_unregister returns FLO_ESTALE and one used
 * with another runtime FLO_EFOREIGN (FLO_ESTALE after 2^40 flo_init
 * calls in one process); neither is undefined behaviour, and a stale
 * handle never names data registered later. The zero value is never a
 * valid handle. Compare handles with flo_data_equal.
 */
typedef struct flo_data {
    uint64_t id;  /**< Runtime and slot. */
    uint64_t gen; /**< Generation of the slot. */
} flo_data;

/** @brief The null handle: names no data (FLO_EINVAL where a handle is
 *  expected). */
#define FLO_DATA_NULL ((flo_data){0, 0})

/**
 * @brief Whether two handles name the same registration.
 *
 * @param[in] a  a handle.
 * @param[in] b  another handle.
 * @return 1 if @p a and @p b are the same value, else 0. Handles of one
 *         buffer registered twice (or again after an unregister) differ.
 *
 * @par Thread-safety:
 * Thread-safe (compares two values).
 * @par In a task:
 * Allowed.
 */
static inline int flo_data_equal(flo_data a, flo_data b)
{
    return a.id == b.id && a.gen == b.gen;
}

/** @brief Access modes: how a task (or an acquire) uses a handle. */
typedef enum flo_access {
    FLO_READ = 1,      /**< Read only. */
    FLO_WRITE = 2,     /**< Write only: previous contents are not fetched. */
    FLO_READ_WRITE = 3 /**< Read and write. */
} flo_access;

/**
 * @brief Register user host memory [ptr, ptr + bytes) as a data handle.
 *
 * The runtime may copy it to devices; the program must not touch it
 * except between flo_data_acquire and flo_data_release, until
 * flo_data_unregister (or flo_finalize) returns, which writes the data
 * back. The same as flo_data_register_flags with flags 0: when GPUs are
 * in use, the memory is page-locked unless flo_config.no_pin_host says
 * otherwise.
 *
 * @param[in]  rt     the runtime.
 * @param[in]  ptr    the memory; it must stay allocated until the handle
 *                    is unregistered.
 * @param[in]  bytes  its size, > 0.
 * @param[out] out    the new handle; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt, @p ptr or @p out, or
 *         @p bytes 0; FLO_ENOMEM when the runtime holds as many handles as
 *         it can (16,776,192) or memory runs out; FLO_ESYS when a lock
 *         cannot be made; FLO_ESTALE when the call races with
 *         flo_finalize.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_data_register(flo_runtime *rt, void *ptr, size_t bytes,
                             flo_data *out);

/** @brief Flag of flo_data_register_flags and flo_data_register_many:
 *  leave this memory pageable (no cudaHostRegister), whatever
 *  flo_config.no_pin_host says. */
#define FLO_DATA_NO_PIN 0x1u

/**
 * @brief Register user host memory like flo_data_register, with flags.
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
 * @param[in]  rt     the runtime.
 * @param[in]  ptr    the memory; it must stay allocated until the handle
 *                    is unregistered.
 * @param[in]  bytes  its size, > 0.
 * @param[in]  flags  0 or FLO_DATA_NO_PIN.
 * @param[out] out    the new handle; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt, @p ptr or @p out,
 *         @p bytes 0 or unknown flags; FLO_ENOMEM when the runtime holds
 *         as many handles as it can (16,776,192) or memory runs out;
 *         FLO_ESYS when a lock cannot be made; FLO_ESTALE when the call
 *         races with flo_finalize. A failure to page-lock is not an
 *         error (see above).
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_data_register_flags(flo_runtime *rt, void *ptr, size_t bytes,
                                   unsigned flags, flo_data *out);

/**
 * @brief Register n buffers of user host memory at once, all or nothing.
 *
 * [ptrs[i], ptrs[i] + sizes[i]) becomes handle out[i], as n calls of
 * flo_data_register_flags would make them, but all or nothing and cheaper: the
 * handle table's lock is taken once for all n, and when pinning applies the
 * memory is page-locked in one pass (one device switch). Meant for programs
 * with thousands of tiles or blocks.
 *
 * @param[in]  rt     the runtime.
 * @param[in]  n      number of buffers; 0 does nothing (FLO_OK).
 * @param[in]  ptrs   n non-NULL addresses.
 * @param[in]  sizes  n sizes in bytes, none 0.
 * @param[in]  flags  0 or FLO_DATA_NO_PIN (for all n).
 * @param[out] out    n handles; written only on success, all at once.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt, NULL arrays with n > 0,
 *         a NULL pointer or a size of 0 anywhere in the arrays, or
 *         unknown flags; FLO_ENOMEM when the runtime cannot hold n more
 *         handles (16,776,192 at most) or memory runs out; FLO_ESYS when
 *         a lock cannot be made; FLO_ESTALE when the call races with
 *         flo_finalize. On error nothing is registered and @p out is
 *         untouched.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_data_register_many(flo_runtime *rt, size_t n, void *const *ptrs,
                                  const size_t *sizes, unsigned flags,
                                  flo_data *out);

/**
 * @brief Register memory already allocated on a GPU as a data handle,
 * without a copy (zero-copy interop with CuPy, PyTorch, cudaMalloc).
 *
 * [dev_ptr, dev_ptr + bytes) is device memory of GPU @p device (a device
 * index as flo_device_count counts them, 1 or more; the memory belongs to
 * that device's CUDA ordinal, e.g. from cudaMalloc with it current) or
 * CUDA managed memory. It becomes the handle's only valid copy: tasks
 * that run on @p device use it in place; a task on another GPU gets a
 * copy of it, and a host task or flo_data_acquire a host copy that the
 * runtime allocates when first needed (and frees at unregister). The
 * runtime never frees this memory and never evicts it under memory
 * pressure, nor counts it against flo_config.gpu_mem_limit.
 * flo_data_unregister (or flo_finalize) writes the latest contents back
 * into it, from wherever the valid copy is, and the memory is the
 * program's again: free it afterwards, never before.
 *
 * As with host memory, the program must not touch the memory while it is
 * registered, and its contents must be complete when the handle is
 * registered: synchronize the stream that wrote it first (the runtime's
 * streams are not ordered after the program's).
 *
 * @param[in]  rt       the runtime.
 * @param[in]  device   the GPU the memory is on, 1 .. flo_device_count(rt)
 *                      - 1.
 * @param[in]  dev_ptr  the device memory; it must stay allocated until
 *                      the handle is unregistered.
 * @param[in]  bytes    its size, > 0.
 * @param[out] out      the new handle; written only on success.
 * @return FLO_OK, or (nothing is registered, @p out is untouched):
 *   - FLO_EINVAL: a NULL @p rt, @p dev_ptr or @p out, @p bytes 0, or
 *     memory that is neither device memory of that GPU's CUDA ordinal
 *     nor managed memory (first and last byte checked, logged);
 *   - FLO_ENOTSUP: a build without CUDA;
 *   - FLO_ENODEV: @p device is the host (0) or out of range (a runtime
 *     without GPUs has only the host);
 *   - FLO_EDEVICE: the GPU failed, or CUDA could not describe the memory;
 *   - FLO_ENOMEM: the runtime holds as many handles as it can
 *     (16,776,192), or memory runs out;
 *   - FLO_ESYS: a lock cannot be made;
 *   - FLO_ESTALE: the call races with flo_finalize.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_data_register_device(flo_runtime *rt, int device, void *dev_ptr,
                                    size_t bytes, flo_data *out);

/**
 * @brief Make a handle of data owned by the runtime.
 *
 * The memory (bytes of it) is allocated lazily, on first use, on the
 * node of the first task that touches it; its contents are zeros until
 * written. flo_data_unregister frees it (nothing is written back).
 *
 * @param[in]  rt     the runtime.
 * @param[in]  bytes  size, > 0.
 * @param[out] out    the new handle; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt or @p out, or @p bytes 0;
 *         FLO_ENOMEM for @p bytes above PTRDIFF_MAX, when the runtime
 *         holds as many handles as it can (16,776,192) or memory runs
 *         out; FLO_ESYS when a lock cannot be made; FLO_ESTALE when the
 *         call races with flo_finalize.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_data_alloc(flo_runtime *rt, size_t bytes, flo_data *out);

/**
 * @brief Give the calling thread access to a handle's data in host
 * memory, in submission order.
 *
 * Wait until every task submitted before that writes d (and, for
 * FLO_WRITE or FLO_READ_WRITE, every task that reads it) has finished,
 * bring a valid copy to host memory, and return its address in *ptr.
 * Tasks submitted afterwards that conflict with the mode wait for
 * flo_data_release. Runtime-owned data (flo_data_alloc) gets its host
 * memory here if it has none yet; with FLO_WRITE the previous contents
 * are not fetched.
 *
 * @param[in]  rt    the runtime.
 * @param[in]  d     the handle.
 * @param[in]  mode  FLO_READ, FLO_WRITE or FLO_READ_WRITE.
 * @param[out] ptr   the host address of the data, valid until
 *                   flo_data_release; written when the data is acquired
 *                   (FLO_OK, and the errors after which it is held).
 * @return FLO_OK, or, with nothing acquired:
 *   - FLO_EINVAL: a bad mode, a NULL @p ptr or @p rt;
 *   - FLO_ESTALE / FLO_EFOREIGN / FLO_EINVAL: a bad handle (FLO_ESTALE
 *     also for one unregistered concurrently);
 *   - FLO_EDEADLK: called from inside a task; or the calling thread
 *     already holds an acquire of d that this one would wait for (any
 *     acquire after a write acquire, a write after a read, or a read
 *     after a read with a writer submitted in between);
 *   - FLO_ENOMEM: no memory to record the acquire;
 *
 *   or, with the data acquired all the same (release it):
 *   - FLO_ECANCELED or the error of the last writer, when it failed
 *     (the contents are what it left);
 *   - FLO_ENOMEM: no host memory for runtime-owned data (@p ptr is
 *     NULL), or no memory to record a dependency;
 *   - FLO_EDEVICE: the copy to host memory failed.
 *
 * @par Thread-safety:
 * Thread-safe: concurrent acquires of one handle by several threads are
 * ordered like submissions. Each thread releases its own acquires.
 * @par In a task:
 * Refused with FLO_EDEADLK (also in a completion callback): a task gets
 * its data through its access list instead.
 */
flo_status flo_data_acquire(flo_runtime *rt, flo_data d, flo_access mode,
                            void **ptr);

/**
 * @brief End an acquire made by the calling thread (its most recent one
 * of d).
 *
 * Tasks waiting for the acquire may then run; the address it gave is no
 * longer the program's.
 *
 * @param[in] rt  the runtime.
 * @param[in] d   the handle.
 * @return FLO_OK; FLO_EINVAL if the calling thread holds no acquire of d
 *         (another thread's acquire cannot be released here: it stays
 *         held); FLO_EINVAL, FLO_ESTALE or FLO_EFOREIGN for a NULL
 *         @p rt or a bad handle.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed, but a task holds no acquire (flo_data_acquire refuses them
 * there): FLO_EINVAL.
 */
flo_status flo_data_release(flo_runtime *rt, flo_data d);

/**
 * @brief Wait for all tasks using d, write the data back to the user's
 * memory (registered data), free device copies and the handle.
 *
 * Registered memory that was page-locked is unpinned; runtime-owned
 * memory is freed. Device memory registered with
 * flo_data_register_device gets the latest contents and is the
 * program's again (never freed by the runtime). The handle is stale
 * afterwards (FLO_ESTALE).
 *
 * @param[in] rt  the runtime.
 * @param[in] d   the handle.
 * @return FLO_OK; FLO_EBUSY while d is acquired (by any thread; nothing
 *         changes); FLO_EDEADLK from inside a task (nothing changes);
 *         FLO_ESTALE if already unregistered (also by a concurrent
 *         call); FLO_EINVAL or FLO_EFOREIGN for a NULL @p rt or a bad
 *         handle.
 *
 * @par Thread-safety:
 * Thread-safe, also against concurrent use of d: every flo_task_submit
 * or flo_data_acquire naming d on another thread either takes effect
 * before the unregister (its task runs, and its effect is in the data
 * written back, before this call returns) or fails with FLO_ESTALE having
 * changed nothing. Of two concurrent unregisters of d, one succeeds and
 * the other returns FLO_ESTALE.
 * @par In a task:
 * Refused with FLO_EDEADLK (also in a completion callback).
 */
flo_status flo_data_unregister(flo_runtime *rt, flo_data d);

/**
 * @brief Unregister n handles at once, all or nothing.
 *
 * As flo_data_unregister for each (wait for their tasks, write the data back,
 * free the copies), after checking every one of them under one lock hold each,
 * taken in a global order, so that either all are unregistered or none is.
 *
 * @param[in] rt  the runtime.
 * @param[in] n   number of handles; 0 does nothing (FLO_OK).
 * @param[in] hs  n handles, each listed once.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt, a NULL @p hs with n > 0,
 *         or a handle listed twice; FLO_ESTALE / FLO_EFOREIGN /
 *         FLO_EINVAL for a bad handle (FLO_ESTALE also for one
 *         unregistered concurrently); FLO_EBUSY when one is acquired;
 *         FLO_EDEADLK from inside a task; FLO_ENOMEM. On error no handle
 *         is unregistered.
 *
 * @par Thread-safety:
 * Thread-safe, also against concurrent use of the handles: a
 * submission, acquire or unregister naming any of them on another thread
 * takes effect entirely before this call (its effect is in the data
 * written back) or fails with FLO_ESTALE.
 * @par In a task:
 * Refused with FLO_EDEADLK (also in a completion callback).
 */
flo_status flo_data_unregister_many(flo_runtime *rt, size_t n,
                                    const flo_data *hs);

/**
 * @brief Lookahead hint: start making d valid on a device in the
 * background.
 *
 * Start making d valid on device in the background, ordered after every task
 * already submitted that writes d, so that a later task there finds it in
 * place. Returns at once. Internally a read-only task bound to that device (it
 * takes part in the dependency order like any reader: a writer submitted later
 * waits for it). On the host (device 0) it brings the data home, like
 * flo_data_flush.
 *
 * On a runtime without GPUs it does nothing. When no worker can run the
 * hint on that device, it is dropped (FLO_OK). While the calling thread
 * records a graph of rt (flotilla/graph.h), the hint is recorded into
 * the graph like any task.
 *
 * @param[in] rt      the runtime.
 * @param[in] d       the handle.
 * @param[in] device  a device index, 0 .. flo_device_count(rt) - 1.
 * @return FLO_OK (also when d is already valid there, and on host-only
 *         runtimes); FLO_ESTALE / FLO_EFOREIGN / FLO_EINVAL for a bad
 *         handle (FLO_ESTALE also for one unregistered concurrently);
 *         FLO_EINVAL for a NULL @p rt or a device out of range;
 *         FLO_ENOMEM. A failure of the transfer itself is not reported
 *         here: the task that needs the data still makes it valid.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed (it waits for nothing).
 */
flo_status flo_data_prefetch(flo_runtime *rt, flo_data d, int device);

/**
 * @brief Write-back hint: start copying d home to host memory in the
 * background.
 *
 * Start copying d home to host memory in the background, after every task
 * already submitted that writes d, while other work continues; a later
 * flo_data_acquire or flo_data_unregister then finds the host copy valid.
 * Returns at once. Internally a read-only host task (it orders like any
 * reader). A no-op in effect when the host copy is already valid (host-only
 * runtimes).
 *
 * While the calling thread records a graph of rt, the hint is recorded
 * into the graph like any task.
 *
 * @param[in] rt  the runtime.
 * @param[in] d   the handle.
 * @return FLO_OK (also on host-only runtimes, where it does nothing);
 *         FLO_ESTALE / FLO_EFOREIGN / FLO_EINVAL for a bad handle
 *         (FLO_ESTALE also for one unregistered concurrently);
 *         FLO_EINVAL for a NULL @p rt; FLO_ENOMEM.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed (it waits for nothing).
 */
flo_status flo_data_flush(flo_runtime *rt, flo_data d);

/**
 * @brief Size in bytes of a handle's data.
 *
 * @param[in]  rt     the runtime.
 * @param[in]  d      the handle.
 * @param[out] bytes  its size; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt or @p bytes;
 *         FLO_ESTALE / FLO_EFOREIGN / FLO_EINVAL for a bad handle.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_data_size(const flo_runtime *rt, flo_data d, size_t *bytes);

FLO_END_DECLS
#endif
