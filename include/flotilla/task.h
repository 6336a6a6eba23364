/**
 * @file
 * @brief Tasks and events: submitting work, waiting for it, and what a
 * running task sees.
 *
 * A task runs a kernel's entry point on a worker once its predecessors
 * have finished: the tasks submitted before it that access the same
 * handles in conflicting modes (a reader after the last writer, a
 * writer after the readers and the writer before it), plus explicit
 * event dependencies. Its event tells when it has finished and how.
 *
 * "In a task" below means on one of the runtime's worker threads while
 * it runs a task's entry point or a completion callback (worker-local
 * init and fini callbacks and the functions of flo_execute_on_each_worker
 * are entry points too). Calls that wait refuse to run there
 * (FLO_EDEADLK): the worker would wait for work that may need it.
 */
#ifndef FLOTILLA_TASK_H
#define FLOTILLA_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "flotilla/data.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/**
 * @brief What a running task sees (opaque): its buffers, arguments,
 * worker, stream.
 *
 * Passed to the entry point; valid only during that call, on the worker
 * running it. The flo_task_* accessors below read it.
 */
typedef struct flo_task_ctx flo_task_ctx;

/**
 * @brief An entry point.
 *
 * A host entry point does the work and returns. A CUDA entry point only
 * enqueues work on flo_task_stream(ctx) and returns; the task completes when
 * that work has finished on the GPU.
 */
typedef void (*flo_task_fn)(flo_task_ctx *ctx);

/** @brief A kernel: a name (for traces and the performance model) and
 *  entry points per backend; at least one must be set. */
typedef struct flo_kernel {
    const char *name; /**< For traces and the placement model; NULL:
                           "task". */
    flo_task_fn host; /**< Runs on a host worker. */
    flo_task_fn cuda; /**< Runs on a GPU worker. */
} flo_kernel;

/** @brief One buffer a task uses and how (an entry of
 *  flo_task_desc.access). */
typedef struct flo_access_desc {
    flo_data data;   /**< The handle. */
    flo_access mode; /**< How the task uses it. */
} flo_access_desc;

/**
 * @brief A completed-or-pending task, as a value.
 *
 * The zero value (FLO_EVENT_NULL) is an event that has always completed.
 * Events stay meaningful after the task's record is recycled: waiting on them
 * returns at once, with the task's error if it failed or was canceled. The
 * outcome of every failed or canceled task is remembered until flo_finalize,
 * whatever fails after it: memory grows by about 48 bytes per failed or
 * canceled task (plus the message of a failure) and nothing else. An event
 * never aliases a later task: its record's generation has 64 bits.
 */
typedef struct flo_event {
    uint64_t id;  /**< Runtime and task slot. */
    uint64_t gen; /**< Generation of the slot. */
} flo_event;

/** @brief The null event: a task that has always completed, with
 *  FLO_OK. */
#define FLO_EVENT_NULL ((flo_event){0, 0})

/**
 * @brief Whether two events name the same task.
 *
 * @param[in] a  an event.
 * @param[in] b  another event.
 * @return 1 if @p a and @p b are the same value, else 0.
 *
 * @par Thread-safety:
 * Thread-safe (compares two values).
 * @par In a task:
 * Allowed.
 */
static inline int flo_event_equal(flo_event a, flo_event b)
{
    return a.id == b.id && a.gen == b.gen;
}

/**
 * @brief A completion callback: called once when a task has finished,
 * failed or been canceled, with the task's status.
 *
 * It runs on a worker thread, before the task's event completes: keep it
 * short; it may submit tasks but not wait (the waiting calls return
 * FLO_EDEADLK there).
 *
 * @param user    flo_task_desc.callback_arg.
 * @param status  the task's status: FLO_OK or its error.
 */
typedef void (*flo_task_callback)(void *user, flo_status status);

/**
 * @brief No device or worker preference, for functions that take a
 * device or worker index (FLO_DEVICE(FLO_ANY) and FLO_WORKER(FLO_ANY) are
 * 0: any).
 */
#define FLO_ANY (-1)

/**
 * @brief A value of flo_task_desc.on_device: run on device d.
 * @param d  a device index (0 host, >= 1 GPU), or FLO_ANY.
 */
#define FLO_DEVICE(d) ((d) + 1)
/**
 * @brief A value of flo_task_desc.on_worker: run on worker w.
 * @param w  a worker index (0 .. flo_worker_count - 1), or FLO_ANY.
 */
#define FLO_WORKER(w) ((w) + 1)

/**
 * @brief A task description, read by flo_task_submit.
 *
 * Every field but kernel may be left zero: a descriptor that is zero but
 * for its kernel (FLO_TASK_DESC_INIT or `flo_task_desc d = {0}` and then
 * .kernel, or designated initialisers such as
 * `{.kernel = &k, .access = acc, .naccess = 2}`) is a task with default
 * priority that runs wherever the scheduling policy chooses. The runtime
 * copies what it needs (accesses, arguments, predecessors) before
 * flo_task_submit returns.
 */
typedef struct flo_task_desc {
    /** sizeof(flo_task_desc), or 0 for "the layout of this header". */
    size_t size;
    const flo_kernel *kernel;      /**< Entry points and name. */
    const flo_access_desc *access; /**< Buffers, in the order seen by
                                        flo_task_buffer(ctx, i). */
    int naccess;                   /**< 0 .. FLO_TASK_MAX_ACCESS. */
    const void *args;              /**< Argument bytes, copied at submit
                                        (flo_task_args), or NULL. */
    size_t args_size;              /**< Their size, at most
                                        FLO_TASK_MAX_ARGS. */
    int priority;                  /**< Higher runs first; default 0. */
    /** 0: any device; FLO_DEVICE(d) (= d + 1) runs it on device d. */
    int on_device;
    /** 0: any worker; FLO_WORKER(w) (= w + 1) runs it on worker w. */
    int on_worker;
    const flo_event *deps;      /**< Explicit predecessors. */
    int ndeps;                  /**< Their number, at most
                                     FLO_TASK_MAX_DEPS. */
    flo_task_callback callback; /**< Completion callback, or NULL. */
    void *callback_arg;         /**< Its first argument. */
    const char *name;           /**< Overrides kernel->name in traces. */
    /**
     * Retry budget, 0 .. FLO_TASK_MAX_RETRIES (0: none). A
     * task whose attempt fails with FLO_EAGAIN (reported by its entry
     * point, or an injected transient fault) runs again, up to this
     * many more times, on the same or another worker; the buffers it
     * writes are restored to their contents before the attempt. The
     * runtime keeps a copy of every buffer the task writes in
     * FLO_READ_WRITE mode until an attempt succeeds: a cost paid only by
     * tasks with a budget (docs/resilience.md).
     */
    int retries;
} flo_task_desc;

/** @brief A descriptor with every field at its default (all zero), as
 *  an initializer. */
#ifdef __cplusplus
#define FLO_TASK_DESC_INIT                                                     \
    {                                                                          \
    }
#else
#define FLO_TASK_DESC_INIT                                                     \
    {                                                                          \
        .size = sizeof(flo_task_desc)                                          \
    }
#endif

/**
 * @brief Most buffers of one task (flo_task_desc.naccess).
 *
 * A sanity bound, not a cost: a few buffers live in the task record
 * itself, more in an array that the record keeps and reuses, so that a
 * task with many buffers allocates only the first time its record is
 * that large.
 */
#define FLO_TASK_MAX_ACCESS (1 << 20)
/** @brief Most argument bytes of one task (flo_task_desc.args_size). */
#define FLO_TASK_MAX_ARGS (64 * 1024)
/** @brief Largest retry budget (flo_task_desc.retries). */
#define FLO_TASK_MAX_RETRIES 1000
/** @brief Most explicit predecessors of one task (flo_task_desc.ndeps). */
#define FLO_TASK_MAX_DEPS 1024

/**
 * @brief Submit a task.
 *
 * It runs once its predecessors (inferred from data access modes in
 * submission order, plus desc->deps) have finished. If one of them
 * failed, the task is not run and finishes with FLO_ECANCELED. An event
 * in desc->deps that is FLO_EVENT_NULL, or whose task finished long ago,
 * is a predecessor that has finished (with its recorded status).
 *
 * A handle may appear several times in desc->access, with any modes: the
 * task then depends on it once, with the union of the modes, and every
 * entry gives the same buffer inside the task.
 *
 * While the calling thread records a graph of @p rt (flo_graph_begin,
 * flotilla/graph.h), the task is recorded instead of submitted: the
 * description is checked and copied, nothing runs, *out is
 * FLO_EVENT_NULL, and desc->deps and desc->callback are refused
 * (FLO_EINVAL); whether a worker can run the kernel is checked at
 * launch.
 *
 * @param[in]  rt    the runtime.
 * @param[in]  desc  the task; read only during the call.
 * @param[out] out   the task's event, or NULL if not wanted; written
 *                   only on success.
 * @return FLO_OK, or (nothing was submitted):
 *   - FLO_EINVAL: NULL @p rt or @p desc; desc->size neither 0 nor
 *     sizeof(flo_task_desc); no kernel or no entry point; naccess or
 *     ndeps out of range; access or deps NULL with a count; a bad access
 *     mode; args_size above FLO_TASK_MAX_ARGS or args NULL with a size;
 *     on_device or on_worker out of range; a malformed event in deps; a
 *     null or malformed data handle;
 *   - FLO_EFOREIGN: a data handle or an event of another runtime;
 *   - FLO_ESTALE: a data handle unregistered (also concurrently); or the
 *     call races with flo_finalize;
 *   - FLO_ENODEV: no worker can run the kernel (a CUDA-only kernel
 *     without GPUs, or a placement whose device or worker lacks the
 *     entry point, or an on_worker not on on_device);
 *   - FLO_ENOMEM: no memory for the task record, its buffer list or its
 *     arguments.
 *
 * Once submitted, a task that cannot record one of its dependencies for
 * lack of memory fails with FLO_ENOMEM through its event, instead of
 * running with a dependency missing.
 *
 * @par Thread-safety:
 * Thread-safe. Concurrent submissions take effect atomically: each is
 * ordered against every other one on all of its handles at once (as if
 * the submissions had happened one at a time, in an order that respects
 * each thread's own order), so tasks of several threads sharing several
 * handles never wait for each other in a cycle.
 * @par In a task:
 * Allowed (with flo_task_runtime(ctx)), also in a completion callback:
 * that is how recursive and dynamic task graphs are built.
 */
flo_status flo_task_submit(flo_runtime *rt, const flo_task_desc *desc,
                           flo_event *out);

/* ---- One-call submission ---------------------------------------------- */

#ifdef __cplusplus
#define FLO_R(h) (flo_access_desc{(h), FLO_READ})
#define FLO_W(h) (flo_access_desc{(h), FLO_WRITE})
#define FLO_RW(h) (flo_access_desc{(h), FLO_READ_WRITE})
#else
/**
 * @brief A buffer entry (flo_access_desc) for FLO_ACCESS or an array of
 * entries: handle h, read.
 * @param h  a flo_data.
 */
#define FLO_R(h) ((flo_access_desc){.data = (h), .mode = FLO_READ})
/**
 * @brief A buffer entry: handle h, written (its previous contents are
 * not fetched).
 * @param h  a flo_data.
 */
#define FLO_W(h) ((flo_access_desc){.data = (h), .mode = FLO_WRITE})
/**
 * @brief A buffer entry: handle h, read and written.
 * @param h  a flo_data.
 */
#define FLO_RW(h) ((flo_access_desc){.data = (h), .mode = FLO_READ_WRITE})
#endif

#ifndef __cplusplus
/**
 * @brief Submit a task in one call, C only (C++: flotilla.hpp).
 *
 *     flo_submit(rt, &ev, .kernel = &k_axpy,
 *                FLO_ACCESS(FLO_R(x), FLO_RW(y)), FLO_ARGS(alpha),
 *                .priority = 2, .on_device = FLO_DEVICE(1));
 *
 * The arguments after ev are designated initialisers of a flo_task_desc
 * (a compound literal: fields left out are zero, their defaults), so the
 * compiler checks every field name and type. It expands to a call of
 * flo_task_submit and returns its flo_status.
 *
 * @param rt   the runtime (flo_runtime *).
 * @param ev   where to store the task's event (flo_event *), or NULL.
 * @param ...  designated initialisers of flo_task_desc fields, and
 *             FLO_ACCESS, FLO_ARGS, FLO_DEPS.
 * @return as flo_task_submit.
 *
 * @par Thread-safety:
 * As flo_task_submit: thread-safe.
 * @par In a task:
 * As flo_task_submit: allowed.
 */
#define flo_submit(rt, ev, ...)                                                \
    flo_task_submit((rt), &(const flo_task_desc){__VA_ARGS__}, (ev))

/**
 * @brief The .access and .naccess fields for flo_submit.
 *
 * From one or more FLO_R / FLO_W / FLO_RW entries (or flo_access_desc values),
 * in flo_task_buffer order. The array is a compound literal that lives until
 * the end of the enclosing block; the count is computed at compile time. Leave
 * FLO_ACCESS out for a task without buffers (it needs one entry at least).
 *
 * @param ...  one or more flo_access_desc values.
 */
#define FLO_ACCESS(...)                                                        \
    .access = (const flo_access_desc[]){__VA_ARGS__},                          \
    .naccess = (int)(sizeof((const flo_access_desc[]){__VA_ARGS__}) /          \
                     sizeof(flo_access_desc))

/**
 * @brief The .deps and .ndeps fields for flo_submit, from one or more
 * flo_event values.
 *
 * @param ...  one or more flo_event values (a compound literal array that
 *             lives until the end of the enclosing block).
 */
#define FLO_DEPS(...)                                                          \
    .deps = (const flo_event[]){__VA_ARGS__},                                  \
    .ndeps =                                                                   \
        (int)(sizeof((const flo_event[]){__VA_ARGS__}) / sizeof(flo_event))

/**
 * @brief The .args and .args_size fields for flo_submit: the bytes of v,
 * copied at submit.
 *
 * v must be an lvalue: a variable, an array, a struct member, or a
 * compound literal such as `FLO_ARGS((struct axpy_args){2.0, n})` (the
 * macro is variadic so that the commas of a compound literal need no
 * extra parentheses); `FLO_ARGS(2.0)` does not compile. For a pointer
 * variable the pointer itself is copied, not what it points to. Read it
 * in the task with FLO_TASK_ARGS(ctx, T) where T is the type of v.
 *
 * @param ...  v, an lvalue of at most FLO_TASK_MAX_ARGS bytes.
 */
#define FLO_ARGS(...) .args = &(__VA_ARGS__), .args_size = sizeof(__VA_ARGS__)
#endif /* !__cplusplus */

/**
 * @brief Wait until an event's task has finished, and return its status.
 *
 * A failure returned here counts as reported to the program:
 * flo_finalize does not return it again (flo_wait_all still does, once).
 *
 * @param[in] rt  the runtime.
 * @param[in] ev  an event of @p rt, or FLO_EVENT_NULL (FLO_OK at once).
 * @return the task's status: FLO_OK, or the error it finished with
 *         (FLO_ETASK or the code given to flo_task_fail, FLO_ECANCELED,
 *         FLO_EDEVICE, FLO_ENOMEM, FLO_ECOMM, FLO_ETIMEDOUT, ...); or
 *         FLO_EINVAL for a NULL @p rt or an event @p rt never issued;
 *         FLO_EFOREIGN for an event of another runtime; FLO_EDEADLK
 *         from inside a task (nothing waited for).
 *
 * @par Thread-safety:
 * Thread-safe: several threads may wait for one event.
 * @par In a task:
 * Refused with FLO_EDEADLK (also in a completion callback): order the
 * work with dependencies instead.
 */
flo_status flo_event_wait(flo_runtime *rt, flo_event ev);

/**
 * @brief Whether an event's task has finished, and how; never blocks.
 *
 * A failure returned here counts as reported, as with flo_event_wait.
 *
 * @param[in] rt  the runtime.
 * @param[in] ev  an event of @p rt, or FLO_EVENT_NULL (FLO_OK).
 * @return FLO_INPROGRESS while the task has not finished; once it has,
 *         its status as flo_event_wait returns it; FLO_EINVAL for a NULL
 *         @p rt or an event @p rt never issued; FLO_EFOREIGN for an
 *         event of another runtime.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed (it does not wait).
 */
flo_status flo_event_query(flo_runtime *rt, flo_event ev);

/**
 * @brief Wait until every task submitted so far (and any they submit)
 * has finished.
 *
 * Tasks that other threads submit while it waits are waited for too:
 * it returns once no task of @p rt is left.
 *
 * @param[in] rt  the runtime.
 * @return FLO_OK, or the status of the first task that failed or was
 *         canceled since the last flo_wait_all returned (its message:
 *         flo_error_message(rt, FLO_EVENT_NULL, ...)); those failures
 *         count as reported from then on. FLO_EINVAL for a NULL @p rt;
 *         FLO_EDEADLK from inside a task (nothing waited for).
 *
 * @par Thread-safety:
 * Thread-safe; a failure is returned by one flo_wait_all only, whichever
 * thread's returns first.
 * @par In a task:
 * Refused with FLO_EDEADLK (also in a completion callback).
 */
flo_status flo_wait_all(flo_runtime *rt);

/**
 * @brief Copy the message of a task's failure into a buffer.
 *
 * The message is the one given to flo_task_fail, or one the runtime
 * wrote (a device error, a cancellation).
 *
 * @param[in]  rt   the runtime.
 * @param[in]  ev   the failed task's event; FLO_EVENT_NULL for the first
 *                  failure reported by the last flo_wait_all.
 * @param[out] buf  the message, NUL-terminated, cut to len - 1 bytes;
 *                  "" when there is none.
 * @param[in]  len  size of @p buf, > 0.
 * @return FLO_OK; FLO_ERANGE if no message is known (the task has not
 *         finished, or did not fail; with FLO_EVENT_NULL, the last
 *         flo_wait_all reported no failure); FLO_EINVAL for a NULL @p rt
 *         or @p buf, or @p len 0; FLO_EFOREIGN for an event of another
 *         runtime.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_error_message(flo_runtime *rt, flo_event ev, char *buf,
                             size_t len);

/* ---- Inside a task ---------------------------------------------------- */

/*
 * The functions below take the context passed to a task's entry point and
 * are valid only inside that entry point, on the worker running it. With
 * a NULL context they return NULL, 0 or -1.
 */

/**
 * @brief Address of one of the running task's buffers, on the task's
 * device.
 *
 * Entries of desc->access that name the same handle give the same
 * address.
 *
 * @param[in] ctx  the task's context.
 * @param[in] i    buffer index, in desc->access order.
 * @return the address (device memory on a GPU worker); NULL for a NULL
 *         @p ctx or @p i out of range.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
void *flo_task_buffer(flo_task_ctx *ctx, int i);

/**
 * @brief Size in bytes of one of the running task's buffers.
 *
 * @param[in] ctx  the task's context.
 * @param[in] i    buffer index, in desc->access order.
 * @return the size of the handle's data; 0 for a NULL @p ctx or @p i out
 *         of range.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
size_t flo_task_buffer_size(flo_task_ctx *ctx, int i);

/**
 * @brief Number of elements of elem_size bytes in one of the running
 * task's buffers.
 *
 * @param[in] ctx        the task's context.
 * @param[in] i          buffer index, in desc->access order.
 * @param[in] elem_size  size of one element in bytes.
 * @return the count; 0 for a NULL @p ctx, when i is out of range,
 *         elem_size is 0, or the buffer's size is not a multiple of
 *         elem_size (the buffer is not an array of such elements).
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
size_t flo_task_buffer_count(flo_task_ctx *ctx, int i, size_t elem_size);

/**
 * @brief One of the running task's buffers as an array of elements of
 * elem_size bytes and alignment align (use FLO_TASK_BUFFER).
 *
 * @param[in] ctx        the task's context.
 * @param[in] i          buffer index, in desc->access order.
 * @param[in] elem_size  size of one element in bytes.
 * @param[in] align      alignment of an element, a power of two.
 * @return its address; NULL for a NULL @p ctx, when i is out of range,
 *         elem_size is 0, the buffer's size is not a multiple of
 *         elem_size, align is not a power of two, or the address is not a
 *         multiple of align.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
void *flo_task_buffer_as(flo_task_ctx *ctx, int i, size_t elem_size,
                         size_t align);

/**
 * @brief Buffer i as `type *` (of flo_task_buffer_count(ctx, i,
 * sizeof(type)) elements), or NULL when it is not an array of `type`
 * (see flo_task_buffer_as).
 *
 * @param ctx   the task's context.
 * @param i     buffer index, in desc->access order.
 * @param type  the element type.
 */
#ifdef __cplusplus
#define FLO_TASK_BUFFER(ctx, i, type)                                          \
    (static_cast<type *>(                                                      \
        flo_task_buffer_as((ctx), (i), sizeof(type), alignof(type))))
#else
#define FLO_TASK_BUFFER(ctx, i, type)                                          \
    ((type *)flo_task_buffer_as((ctx), (i), sizeof(type), _Alignof(type)))
#endif

/**
 * @brief The running task's argument bytes (the copy made at submit) and
 * their size.
 *
 * @param[in]  ctx   the task's context.
 * @param[out] size  their size (0 when there are none), or NULL if not
 *                   wanted; not written for a NULL @p ctx.
 * @return the bytes, aligned for any type of fundamental alignment; NULL
 *         when the task has none or @p ctx is NULL.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
const void *flo_task_args(flo_task_ctx *ctx, size_t *size);

/**
 * @brief The running task's argument bytes if there are exactly size of
 * them (use FLO_TASK_ARGS).
 *
 * @param[in] ctx   the task's context.
 * @param[in] size  the expected size in bytes.
 * @return the bytes; NULL for a NULL @p ctx, when the task has no
 *         arguments, size is 0, or the arguments' size differs from size.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
const void *flo_task_args_as(flo_task_ctx *ctx, size_t size);

/**
 * @brief The arguments as `type const *` (a pointer to a const `type`,
 * also when `type` is itself a pointer type), or NULL when the task's
 * argument bytes are not exactly sizeof(type) (see FLO_ARGS).
 *
 * @param ctx   the task's context.
 * @param type  the type of the value given to FLO_ARGS.
 */
#ifdef __cplusplus
#define FLO_TASK_ARGS(ctx, type)                                               \
    (static_cast<type const *>(flo_task_args_as((ctx), sizeof(type))))
#else
#define FLO_TASK_ARGS(ctx, type)                                               \
    ((type const *)flo_task_args_as((ctx), sizeof(type)))
#endif

/**
 * @brief Index of the worker running the task.
 *
 * @param[in] ctx  the task's context.
 * @return 0 .. flo_worker_count - 1; -1 for a NULL @p ctx.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
int flo_task_worker(flo_task_ctx *ctx);

/**
 * @brief Device the task runs on.
 *
 * @param[in] ctx  the task's context.
 * @return 0 for the host, >= 1 for a GPU; -1 for a NULL @p ctx.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
int flo_task_device(flo_task_ctx *ctx);

/**
 * @brief The runtime of the running task, to submit tasks from inside
 * it.
 *
 * @param[in] ctx  the task's context.
 * @return the runtime; NULL for a NULL @p ctx.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
flo_runtime *flo_task_runtime(flo_task_ctx *ctx);

/**
 * @brief The CUDA stream a CUDA entry point enqueues its work on.
 *
 * flo_task_cuda_stream (flotilla/cuda.h) gives it with its CUDA type.
 *
 * @param[in] ctx  the task's context.
 * @return the cudaStream_t, as a pointer, on a GPU worker; NULL on a
 *         host worker or for a NULL @p ctx.
 *
 * @par Thread-safety:
 * Only inside the task's entry point, on its worker.
 * @par In a task:
 * Only there.
 */
void *flo_task_stream(flo_task_ctx *ctx);

/**
 * @brief Report the running task's failure.
 *
 * The task finishes with code (FLO_ETASK if code is not a negative
 * error) once its entry point returns; its dependents are canceled;
 * waiters get the code, and flo_error_message the message. The first
 * call wins: later ones change nothing. The entry point should return
 * soon after.
 *
 * @param[in] ctx   the task's context; NULL does nothing.
 * @param[in] code  a negative flo_status, or anything else for
 *                  FLO_ETASK.
 * @param[in] fmt   printf format of the message (cut to 511 bytes), or
 *                  NULL for "task failed".
 * @param[in] ...   its arguments.
 *
 * @par Thread-safety:
 * Only from the task's own entry point, on its worker.
 * @par In a task:
 * Only there.
 */
void flo_task_fail(flo_task_ctx *ctx, flo_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

FLO_END_DECLS
#endif
