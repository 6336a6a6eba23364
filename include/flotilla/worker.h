/**
 * @file
 * @brief Worker-local storage and running a function on every worker.
 *
 * Libraries used inside tasks often need one handle per worker thread:
 * a cuBLAS or cuSOLVER handle bound to the GPU worker's device, a scratch
 * buffer per host worker. A worker-local key holds one pointer per
 * worker. It is created once (an init callback runs on every selected
 * worker, on that worker's thread), read inside tasks with
 * flo_worker_local_get (no lock, no call into the scheduler), and
 * destroyed once (a fini callback runs on every such worker, on its
 * thread). flo_execute_on_each_worker runs a function once on every
 * selected worker and waits for all of them.
 *
 * A runtime holds at most FLO_WORKER_LOCAL_MAX keys at a time.
 */
#ifndef FLOTILLA_WORKER_H
#define FLOTILLA_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "flotilla/task.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** @brief Which workers a call concerns (a bit mask): the host
 *  workers. */
#define FLO_WORKERS_HOST 0x1u
/** @brief Which workers a call concerns (a bit mask): the GPU workers. */
#define FLO_WORKERS_CUDA 0x2u
/** @brief Which workers a call concerns (a bit mask): all of them. */
#define FLO_WORKERS_ALL (FLO_WORKERS_HOST | FLO_WORKERS_CUDA)

/** @brief Most worker-local keys one runtime holds at a time. */
#define FLO_WORKER_LOCAL_MAX 64

/**
 * @brief A worker-local key, as a value (like flo_data).
 *
 * It holds the runtime, a slot of the runtime's key table and the slot's
 * generation, so a key used after flo_worker_local_destroy is FLO_ESTALE (or
 * NULL from flo_worker_local_get), never another key created later in the same
 * slot. The zero value, FLO_WORKER_LOCAL_NULL, is never a valid key.
 */
typedef struct flo_worker_local {
    uint64_t id;  /**< Runtime and slot. */
    uint64_t gen; /**< Generation of the slot. */
} flo_worker_local;

/** @brief The null key: names no key (FLO_EINVAL where a key is
 *  expected). */
#define FLO_WORKER_LOCAL_NULL ((flo_worker_local){0, 0})

/**
 * @brief The init callback of a worker-local key: creates a worker's
 * value.
 *
 * Runs on the worker's own thread, inside a task pinned to it: ctx gives
 * flo_task_worker, flo_task_device, flo_task_runtime and, on a GPU worker,
 * flo_task_stream (the CUDA device of the worker is current, so this is where
 * a cuBLAS handle is created and bound with cublasSetStream). Store the value
 * in *value and return FLO_OK; return a negative flo_status to fail the
 * creation (anything else but FLO_OK counts as FLO_ETASK). It must not wait
 * (flo_event_wait, flo_wait_all: FLO_EDEADLK) and should not call
 * flo_task_fail.
 *
 * @param ctx    the context of the task that runs it.
 * @param user   flo_worker_local_desc.user.
 * @param value  where to store the worker's value (NULL beforehand).
 * @return FLO_OK, or a negative flo_status to fail the creation.
 */
typedef flo_status (*flo_worker_local_init_fn)(flo_task_ctx *ctx, void *user,
                                               void **value);

/**
 * @brief The fini callback of a worker-local key: releases a worker's
 * value.
 *
 * It gets the value its init stored (the value is NULL for no worker unless
 * init stored NULL). Runs on the worker's own thread, inside a task pinned to
 * it, as init does. On a GPU worker, work that earlier tasks enqueued with the
 * value may still be in flight on the worker's streams: synchronise
 * (cudaStreamSynchronize on flo_task_stream, or cudaDeviceSynchronize) before
 * freeing memory that work uses. cublasDestroy and cusolverDnDestroy
 * synchronise themselves.
 *
 * @param ctx    the context of the task that runs it.
 * @param user   flo_worker_local_desc.user.
 * @param value  the worker's value.
 */
typedef void (*flo_worker_local_fini_fn)(flo_task_ctx *ctx, void *user,
                                         void *value);

/** @brief How to create a key (flo_worker_local_create). Start from
 *  FLO_WORKER_LOCAL_DESC_INIT or zero. */
typedef struct flo_worker_local_desc {
    size_t size;                   /**< sizeof(flo_worker_local_desc), or 0. */
    unsigned which;                /**< FLO_WORKERS_HOST, _CUDA or _ALL. */
    flo_worker_local_init_fn init; /**< Required. */
    flo_worker_local_fini_fn fini; /**< Optional (NULL: nothing to free). */
    void *user;                    /**< Passed to init and fini. */
} flo_worker_local_desc;

/** @brief A flo_worker_local_desc with every field at its default (size
 *  set, the rest zero), as an initializer. */
#ifdef __cplusplus
static inline flo_worker_local_desc flo__worker_local_desc_init_cxx(void)
{
    flo_worker_local_desc d = flo_worker_local_desc();
    d.size = sizeof(flo_worker_local_desc);
    return d;
}
#define FLO_WORKER_LOCAL_DESC_INIT (flo__worker_local_desc_init_cxx())
#else
#define FLO_WORKER_LOCAL_DESC_INIT                                             \
    {                                                                          \
        .size = sizeof(flo_worker_local_desc)                                  \
    }
#endif

/**
 * @brief Create a worker-local key: run its init on every selected
 * worker.
 *
 * Run desc->init once on every worker that desc->which selects (each on its
 * own thread, concurrently), and return once all of them have run. Workers of
 * a kind the runtime does not have are skipped: a key of GPU workers on a
 * runtime without GPUs is created, and flo_worker_local_get gives NULL
 * everywhere.
 *
 * If init fails on any worker, the creation fails cleanly: desc->fini
 * runs on the workers whose init succeeded (and only there), no key is
 * created and *out is not written. Such a failure is not a task failure:
 * flo_wait_all does not report it.
 *
 * @param[in]  rt    the runtime.
 * @param[in]  desc  which workers, the callbacks and their argument;
 *                   read only during the call.
 * @param[out] out   the key; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL rt, desc or out, a desc->size other
 *         than 0 and sizeof(flo_worker_local_desc), which 0 or with unknown
 *         bits, or a NULL init; FLO_ERANGE when the runtime already holds
 *         FLO_WORKER_LOCAL_MAX keys; FLO_EDEADLK when called from a worker
 *         thread (inside a task or a callback); FLO_EBUSY when the calling
 *         thread records a graph (flo_graph_begin); FLO_ESTALE when the call
 * races with flo_finalize; the status the failing init returned, or its task's
 * failure (FLO_EDEVICE, a code given to flo_task_fail), the one of the
 * lowest-numbered worker when several failed; FLO_ENOMEM or another
 * flo_task_submit error when the init tasks cannot be submitted. Nothing is
 * left over on error.
 *
 * @par Thread-safety:
 * Thread-safe: several threads may create and destroy keys at once. Not
 * while the calling thread records a graph (flotilla/graph.h): the init
 * tasks would be recorded, not run.
 * @par In a task:
 * Refused with FLO_EDEADLK (on any of @p rt's worker threads: in a
 * task, a completion callback, or an init or fini callback).
 */
flo_status flo_worker_local_create(flo_runtime *rt,
                                   const flo_worker_local_desc *desc,
                                   flo_worker_local *out);

/**
 * @brief Destroy a worker-local key: run its fini on every worker its
 * init ran on.
 *
 * Run its fini once on every worker its init ran on (each on its own thread),
 * wait for them, and free the key's slot. From the moment it is called,
 * flo_worker_local_get of this key returns NULL. The program must have waited
 * for the tasks that use the key (fini may run on a worker while other workers
 * still run such tasks: a task on worker w that already got the value is,
 * however, always finished before fini runs on w).
 *
 * @param[in] rt   the runtime.
 * @param[in] key  the key.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt, FLO_WORKER_LOCAL_NULL or
 *         a malformed key; FLO_ESTALE for a key already destroyed (or
 *         being destroyed, or whose creation has not returned);
 *         FLO_EFOREIGN for a key of another runtime; FLO_EDEADLK from a
 *         worker thread (nothing changes); FLO_EBUSY while the calling
 *         thread records a graph (nothing changes); FLO_ENOMEM (nothing
 * changes); the first failure of a fini task in worker order (FLO_EDEVICE, a
 * code a fini gave to flo_task_fail, or a flo_task_submit error when a fini
 * task cannot be submitted, whose worker then keeps its value): the key is
 * destroyed all the same.
 *
 * @par Thread-safety:
 * Thread-safe: of two concurrent destroys of one key, one succeeds and
 * the other returns FLO_ESTALE.
 * @par In a task:
 * Refused with FLO_EDEADLK (on any of @p rt's worker threads).
 */
flo_status flo_worker_local_destroy(flo_runtime *rt, flo_worker_local key);

/**
 * @brief The calling worker's value of a key, from inside a task (or an
 * init or fini callback of another key): O(1), no lock, no allocation.
 *
 * @param[in] ctx  the running task's context.
 * @param[in] key  the key.
 * @return the value init stored on this worker; NULL for a NULL ctx, a
 *         key that is not (or no longer) live, a key of another runtime,
 *         or a worker the key does not cover (a host worker for a key of
 *         GPU workers, say).
 *
 * @par Thread-safety:
 * Only from a task's entry point, with its own ctx (on its worker).
 * @par In a task:
 * Only there.
 */
void *flo_worker_local_get(flo_task_ctx *ctx, flo_worker_local key);

/**
 * @brief Run a function once on every selected worker, each on its own
 * thread, and wait for all of them.
 *
 * Run a function once on every worker that which selects, each on its
 * own thread (host_fn on host workers, cuda_fn on GPU workers, with the
 * worker's stream: it enqueues work and returns, as a CUDA entry point
 * does), and return when all of them have finished. arg is copied first
 * (flo_task_args gives the copy). The functions run as tasks pinned to
 * their workers: they may use flo_worker_local_get, report failure with
 * flo_task_fail and must not wait.
 *
 * A failure is a failed task like any other: besides being returned
 * here, it is reported by the next flo_wait_all.
 *
 * @param[in] rt        the runtime.
 * @param[in] host_fn   required when which has FLO_WORKERS_HOST.
 * @param[in] cuda_fn   required when which has FLO_WORKERS_CUDA (even on
 *                      a runtime without GPUs, so that a program behaves
 *                      the same everywhere).
 * @param[in] arg       arg_size bytes, or NULL when arg_size is 0.
 * @param[in] arg_size  at most FLO_TASK_MAX_ARGS.
 * @param[in] which     FLO_WORKERS_HOST, _CUDA or _ALL.
 * @return FLO_OK (also when no worker of the selected kinds exists); the first
 *         failure in worker order (FLO_ETASK, a code given to flo_task_fail,
 *         FLO_EDEVICE); FLO_EINVAL for a NULL rt, which 0 or with unknown
 *         bits, a missing function, arg_size too large or NULL arg with a
 *         size; FLO_EDEADLK from a worker thread (nothing runs); FLO_EBUSY
 *         while the calling thread records a graph (nothing runs); FLO_ESTALE
 *         when the call races with flo_finalize; a flo_task_submit error (the
 *         functions submitted before it still ran); FLO_ENOMEM.
 *
 * @par Thread-safety:
 * Thread-safe. Not while the calling thread records a graph
 * (flotilla/graph.h): the functions would be recorded, not run.
 * @par In a task:
 * Refused with FLO_EDEADLK (on any of @p rt's worker threads).
 */
flo_status flo_execute_on_each_worker(flo_runtime *rt, flo_task_fn host_fn,
                                      flo_task_fn cuda_fn, const void *arg,
                                      size_t arg_size, unsigned which);

FLO_END_DECLS
#endif
