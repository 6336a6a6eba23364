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

/**
 * No device or worker preference, for functions that take a device or
 * worker index (FLO_DEVICE(FLO_ANY) and FLO_WORKER(FLO_ANY) are 0: any).
 */
#define FLO_ANY (-1)

/** flo_task_desc.on_device: run on device d (0 host, >= 1 GPU). */
#define FLO_DEVICE(d) ((d) + 1)
/** flo_task_desc.on_worker: run on worker w (0 .. flo_worker_count - 1). */
#define FLO_WORKER(w) ((w) + 1)

/**
 * A task description. Every field may be left zero: a zero-initialised
 * descriptor (FLO_TASK_DESC_INIT, `flo_task_desc d = {0}`, or designated
 * initialisers such as `{.kernel = &k, .access = acc, .naccess = 2}`) is
 * a task with default priority that runs wherever the scheduling policy
 * chooses. The runtime copies what it needs (accesses, arguments,
 * predecessors) before flo_task_submit returns.
 */
typedef struct flo_task_desc {
    /** sizeof(flo_task_desc), or 0 for "the layout of this header". */
    size_t size;
    const flo_kernel *kernel;       /**< Entry points and name. */
    const flo_access_desc *access;  /**< Buffers, in the order seen by
                                         flo_task_buffer(ctx, i). */
    int naccess;                    /**< 0 .. FLO_TASK_MAX_ACCESS. */
    const void *args;               /**< Copied by value. */
    size_t args_size;
    int priority;                   /**< Higher runs first; default 0. */
    /** 0: any device; FLO_DEVICE(d) (= d + 1) runs it on device d. */
    int on_device;
    /** 0: any worker; FLO_WORKER(w) (= w + 1) runs it on worker w. */
    int on_worker;
    const flo_event *deps;          /**< Explicit predecessors. */
    int ndeps;
    flo_task_callback callback;     /**< Completion callback, or NULL. */
    void *callback_arg;
    const char *name;               /**< Overrides kernel->name in traces. */
} flo_task_desc;

/** A descriptor with every field at its default (all zero). */
#ifdef __cplusplus
#define FLO_TASK_DESC_INIT {}
#else
#define FLO_TASK_DESC_INIT {.size = sizeof(flo_task_desc)}
#endif

/**
 * Limits checked by flo_task_submit. FLO_TASK_MAX_ACCESS is a sanity
 * bound, not a cost: a few buffers live in the task record itself, more
 * in an array that the record keeps and reuses, so that a task with many
 * buffers allocates only the first time its record is that large.
 */
#define FLO_TASK_MAX_ACCESS (1 << 20)
#define FLO_TASK_MAX_ARGS (64 * 1024)
#define FLO_TASK_MAX_DEPS 1024

/**
 * Submit a task. It runs once its predecessors (inferred from data access
 * modes in submission order, plus desc->deps) have finished. If one of them
 * failed, the task is not run and finishes with FLO_ECANCELED.
 *
 * A handle may appear several times in desc->access, with any modes: the
 * task then depends on it once, with the union of the modes, and every
 * entry gives the same buffer inside the task.
 *
 * @param rt   the runtime.
 * @param desc the task; read only during the call.
 * @param out  the task's event, or NULL if not wanted; written only on
 *             success.
 * @return FLO_OK; FLO_EINVAL (NULL rt or desc, desc->size neither 0 nor
 *         sizeof(flo_task_desc), no entry point, naccess or ndeps out of
 *         range, access or deps NULL with a count, bad access mode,
 *         args_size too large or args NULL with a size, on_device or
 *         on_worker out of range); FLO_ESTALE / FLO_EFOREIGN for a bad
 *         data handle or an event of another runtime; FLO_ENODEV when no
 *         worker can run the kernel (CUDA-only kernel without GPUs, or a
 *         placement whose device or worker lacks the entry point);
 *         FLO_ESTALE after finalize began or when a handle is
 *         unregistered concurrently; FLO_ENOMEM. On error nothing was
 *         submitted.
 * Thread-safe; callable from inside a running task. Concurrent
 * submissions take effect atomically: each is ordered against every
 * other one on all of its handles at once (as if the submissions had
 * happened one at a time, in an order that respects each thread's own
 * order), so tasks of several threads sharing several handles never wait
 * for each other in a cycle.
 */
flo_status flo_task_submit(flo_runtime *rt, const flo_task_desc *desc,
                           flo_event *out);

/* ---- One-call submission ---------------------------------------------- */

/**
 * Buffer entries for FLO_ACCESS (and for arrays of flo_access_desc): the
 * handle h read, written, or read and written.
 */
#ifdef __cplusplus
#define FLO_R(h) (flo_access_desc{(h), FLO_READ})
#define FLO_W(h) (flo_access_desc{(h), FLO_WRITE})
#define FLO_RW(h) (flo_access_desc{(h), FLO_READ_WRITE})
#else
#define FLO_R(h) ((flo_access_desc){.data = (h), .mode = FLO_READ})
#define FLO_W(h) ((flo_access_desc){.data = (h), .mode = FLO_WRITE})
#define FLO_RW(h) ((flo_access_desc){.data = (h), .mode = FLO_READ_WRITE})
#endif

#ifndef __cplusplus
/**
 * Submit a task in one call, C only (C++: flotilla.hpp):
 *
 *     flo_submit(rt, &ev, .kernel = &k_axpy,
 *                FLO_ACCESS(FLO_R(x), FLO_RW(y)), FLO_ARGS(alpha),
 *                .priority = 2, .on_device = FLO_DEVICE(1));
 *
 * The arguments after ev are designated initialisers of a flo_task_desc
 * (a compound literal: fields left out are zero, their defaults), so the
 * compiler checks every field name and type. It expands to a call of
 * flo_task_submit and returns its flo_status; ev (a flo_event *) may be
 * NULL. Same errors, thread-safety and contexts as flo_task_submit.
 */
#define flo_submit(rt, ev, ...)                                            \
    flo_task_submit((rt), &(const flo_task_desc){__VA_ARGS__}, (ev))

/**
 * .access and .naccess for flo_submit, from one or more FLO_R / FLO_W /
 * FLO_RW entries (or flo_access_desc values), in flo_task_buffer order.
 * The array is a compound literal that lives until the end of the
 * enclosing block; the count is computed at compile time. Leave
 * FLO_ACCESS out for a task without buffers (it needs one entry at least).
 */
#define FLO_ACCESS(...)                                                    \
    .access = (const flo_access_desc[]){__VA_ARGS__},                      \
    .naccess = (int)(sizeof((const flo_access_desc[]){__VA_ARGS__}) /      \
                     sizeof(flo_access_desc))

/** .deps and .ndeps for flo_submit, from one or more flo_event values. */
#define FLO_DEPS(...)                                                      \
    .deps = (const flo_event[]){__VA_ARGS__},                              \
    .ndeps = (int)(sizeof((const flo_event[]){__VA_ARGS__}) /              \
                   sizeof(flo_event))

/**
 * .args and .args_size for flo_submit: the bytes of v, copied at submit.
 * v must be an lvalue: a variable, an array, a struct member, or a
 * compound literal such as `FLO_ARGS((struct axpy_args){2.0, n})` (the
 * macro is variadic so that the commas of a compound literal need no
 * extra parentheses); `FLO_ARGS(2.0)` does not compile. For a pointer
 * variable the pointer itself is copied, not what it points to. Read it
 * in the task with FLO_TASK_ARGS(ctx, T) where T is the type of v.
 */
#define FLO_ARGS(...) .args = &(__VA_ARGS__), .args_size = sizeof(__VA_ARGS__)
#endif /* !__cplusplus */

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

/*
 * The functions below take the context passed to a task's entry point and
 * are valid only inside that entry point, on the worker running it. With
 * a NULL context they return NULL, 0 or -1.
 */

/** Address of buffer i (in desc->access order) on the task's device;
 *  NULL for an index out of range. */
void *flo_task_buffer(flo_task_ctx *ctx, int i);

/** Size in bytes of buffer i; 0 for an index out of range. */
size_t flo_task_buffer_size(flo_task_ctx *ctx, int i);

/**
 * Number of elements of elem_size bytes in buffer i.
 * @return the count; 0 when i is out of range, elem_size is 0, or the
 *         buffer's size is not a multiple of elem_size (the buffer is
 *         not an array of such elements).
 */
size_t flo_task_buffer_count(flo_task_ctx *ctx, int i, size_t elem_size);

/**
 * Buffer i as an array of elements of elem_size bytes and alignment
 * align (use FLO_TASK_BUFFER).
 * @return its address; NULL when i is out of range, elem_size is 0, the
 *         buffer's size is not a multiple of elem_size, align is not a
 *         power of two, or the address is not a multiple of align.
 */
void *flo_task_buffer_as(flo_task_ctx *ctx, int i, size_t elem_size,
                         size_t align);

/**
 * Buffer i as `type *` (of flo_task_buffer_count(ctx, i, sizeof(type))
 * elements), or NULL when it is not an array of `type` (see
 * flo_task_buffer_as).
 */
#ifdef __cplusplus
#define FLO_TASK_BUFFER(ctx, i, type)                                      \
    (static_cast<type *>(                                                  \
        flo_task_buffer_as((ctx), (i), sizeof(type), alignof(type))))
#else
#define FLO_TASK_BUFFER(ctx, i, type)                                      \
    ((type *)flo_task_buffer_as((ctx), (i), sizeof(type), _Alignof(type)))
#endif

/** The argument blob (copy made at submit) and its size; NULL (size 0)
 *  when the task has none. Aligned for any type of fundamental
 *  alignment. */
const void *flo_task_args(flo_task_ctx *ctx, size_t *size);

/**
 * The argument blob if it is exactly size bytes (use FLO_TASK_ARGS).
 * @return the blob; NULL when the task has no arguments, size is 0, or
 *         the blob's size differs from size.
 */
const void *flo_task_args_as(flo_task_ctx *ctx, size_t size);

/** The arguments as `type const *` (a pointer to a const `type`, also
 *  when `type` is itself a pointer type), or NULL when the task's
 *  argument blob is not exactly sizeof(type) bytes (see FLO_ARGS). */
#ifdef __cplusplus
#define FLO_TASK_ARGS(ctx, type)                                           \
    (static_cast<type const *>(flo_task_args_as((ctx), sizeof(type))))
#else
#define FLO_TASK_ARGS(ctx, type)                                           \
    ((type const *)flo_task_args_as((ctx), sizeof(type)))
#endif

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
