/*
 * Flotilla - tasks and events.
 */
#ifndef FLOTILLA_TASK_H
#define FLOTILLA_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "flotilla/data.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** What a running task sees: its buffers, arguments, worker, stream. */
typedef struct flo_task_ctx flo_task_ctx;

/**
 * An entry point. A host entry point does the work and returns. A CUDA
 * entry point only enqueues work on flo_task_stream(ctx) and returns; the
 * task completes when that work has finished on the GPU.
 */
typedef void (*flo_task_fn)(flo_task_ctx *ctx);

/** A kernel: a name (for traces and the performance model) and entry
 *  points per backend; at least one must be set. */
typedef struct flo_kernel {
    const char *name;
    flo_task_fn host; /**< Runs on a host worker. */
    flo_task_fn cuda; /**< Runs on a GPU worker. */
} flo_kernel;

/** One buffer a task uses and how. */
typedef struct flo_access_desc {
    flo_data data;
    flo_access mode;
} flo_access_desc;

/**
 * A completed-or-pending task, as a value. The zero value (FLO_EVENT_NULL)
 * is an event that has always completed. Events stay meaningful after the
 * task's record is recycled: waiting on them returns at once, with the
 * task's error if it failed or was canceled. The outcome of every failed
 * or canceled task is remembered until flo_finalize, whatever fails
 * after it: memory grows by about 48 bytes per failed or canceled task
 * (plus the message of a failure) and nothing else. An event never
 * aliases a later task: its record's generation has 64 bits.
 */
typedef struct flo_event {
    uint64_t id;  /**< Runtime and task slot. */
    uint64_t gen; /**< Generation of the slot. */
} flo_event;

#define FLO_EVENT_NULL ((flo_event){0, 0})

/** Whether two events name the same task. */
static inline int flo_event_equal(flo_event a, flo_event b)
{
    return a.id == b.id && a.gen == b.gen;
}

/** Called once when a task has finished, failed or been canceled. Runs on
 *  a worker thread: keep it short; it may submit tasks but not wait. */
typedef void (*flo_task_callback)(void *user, flo_status status);

/** No device or worker preference. */
#define FLO_ANY (-1)

/**
 * A task description. Start from FLO_TASK_DESC_INIT; the runtime copies
 * what it needs (accesses, arguments, predecessors) before submit returns.
 */
typedef struct flo_task_desc {
    size_t size;                    /**< sizeof(flo_task_desc). */
    const flo_kernel *kernel;       /**< Entry points and name. */
    const flo_access_desc *access;  /**< Buffers, in the order seen by
                                         flo_task_buffer(ctx, i). */
    int naccess;
    const void *args;               /**< Copied by value. */
    size_t args_size;
    int priority;                   /**< Higher runs first; default 0. */
    int device;                     /**< Device to run on, or FLO_ANY. */
    int worker;                     /**< Worker to run on, or FLO_ANY. */
    const flo_event *deps;          /**< Explicit predecessors. */
    int ndeps;
    flo_task_callback callback;     /**< Completion callback, or NULL. */
    void *callback_arg;
    const char *name;               /**< Overrides kernel->name in traces. */
} flo_task_desc;

#define FLO_TASK_DESC_INIT                                                 \
    {                                                                      \
        sizeof(flo_task_desc), NULL, NULL, 0, NULL, 0, 0, FLO_ANY,         \
            FLO_ANY, NULL, 0, NULL, NULL, NULL                             \
    }

/** Limits checked by flo_task_submit. */
#define FLO_TASK_MAX_ACCESS 64
#define FLO_TASK_MAX_ARGS (64 * 1024)
#define FLO_TASK_MAX_DEPS 1024

/**
 * Submit a task. It runs once its predecessors (inferred from data access
 * modes in submission order, plus desc->deps) have finished. If one of them
 * failed, the task is not run and finishes with FLO_ECANCELED.
 *
 * @param out  the task's event, or NULL if not wanted.
 * @return FLO_OK; FLO_EINVAL (NULL, no entry point, naccess or ndeps out of
 *         range, bad access mode, args_size too large or args NULL with a
 *         size, device/worker out of range); FLO_ESTALE / FLO_EFOREIGN for a
 *         bad data handle; FLO_ENODEV when no worker can run the kernel
 *         (CUDA-only kernel without GPUs); FLO_ESTALE after finalize began
 *         or when a handle is unregistered concurrently. On error nothing
 *         was submitted.
 * Thread-safe; callable from inside a running task. Concurrent
 * submissions take effect atomically: each is ordered against every
 * other one on all of its handles at once (as if the submissions had
 * happened one at a time, in an order that respects each thread's own
 * order), so tasks of several threads sharing several handles never wait
 * for each other in a cycle.
 */
flo_status flo_task_submit(flo_runtime *rt, const flo_task_desc *desc,
                           flo_event *out);

/**
 * Wait for one event. @return the task's status: FLO_OK, FLO_ETASK (it
 * reported failure), FLO_ECANCELED, FLO_EDEVICE...; FLO_EDEADLK from inside
 * a task; FLO_EFOREIGN for an event of another runtime.
 */
flo_status flo_event_wait(flo_runtime *rt, flo_event ev);

/** FLO_OK / error if finished, FLO_INPROGRESS if not. Never blocks. */
flo_status flo_event_query(flo_runtime *rt, flo_event ev);

/**
 * Wait until every task submitted so far (and any they submit) finished.
 * @return FLO_OK, or the first error among tasks that failed since the
 *         last flo_wait_all; its message: flo_error_message.
 */
flo_status flo_wait_all(flo_runtime *rt);

/**
 * Copy the message of the failure of ev (or, with FLO_EVENT_NULL, of the
 * first failure reported by the last flo_wait_all) into buf.
 * @return FLO_OK; FLO_ERANGE if no message is known (buf gets "").
 */
flo_status flo_error_message(flo_runtime *rt, flo_event ev, char *buf,
                             size_t len);

/* ---- Inside a task ---------------------------------------------------- */

/** Address of buffer i (in desc->access order) on the task's device. */
void *flo_task_buffer(flo_task_ctx *ctx, int i);

/** Size in bytes of buffer i. */
size_t flo_task_buffer_size(flo_task_ctx *ctx, int i);

/** The argument blob (copy made at submit) and its size. */
const void *flo_task_args(flo_task_ctx *ctx, size_t *size);

/** Index of the worker running the task (0 .. flo_worker_count - 1). */
int flo_task_worker(flo_task_ctx *ctx);

/** Device the task runs on (0 host, >= 1 GPU). */
int flo_task_device(flo_task_ctx *ctx);

/** The runtime (to submit tasks from inside a task). */
flo_runtime *flo_task_runtime(flo_task_ctx *ctx);

/**
 * On a GPU worker: the cudaStream_t to enqueue on (see flotilla/cuda.h).
 * NULL on a host worker.
 */
void *flo_task_stream(flo_task_ctx *ctx);

/**
 * Report failure: the task finishes with code (FLO_ETASK if code is not a
 * negative error), dependents are canceled, waiters see the message.
 * The first call wins. Only from the task's own entry point.
 */
void flo_task_fail(flo_task_ctx *ctx, flo_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

FLO_END_DECLS
#endif
