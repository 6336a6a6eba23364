/**
 * @file
 * @brief Distributed arrays and the transform / reduce / scan
 * algorithms.
 *
 * A flo_array is a typed vector of up to 2^40 elements cut into contiguous
 * blocks; each block is a data handle placed on one device. Every
 * algorithm is submitted as tasks (one or two per block, plus a small
 * combine task on the host where blocks must be joined) and returns an
 * event; the *_sync forms wait for it. Because blocks are ordinary data
 * handles, user tasks can read and write them between algorithms and the
 * runtime orders everything by data access (see flo_array_block).
 *
 * Element order, float accuracy and the memory traffic of each algorithm
 * are described in docs/algorithms.md.
 *
 * The algorithms that submit (transform, map, reduce, scan) check their
 * arguments first: on an argument error nothing is submitted. A
 * flo_task_submit error after that (FLO_ENOMEM, say) is returned as is,
 * and the tasks of the blocks submitted before it still run.
 */
#ifndef FLOTILLA_ARRAY_H
#define FLOTILLA_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "flotilla/task.h"
#include "flotilla/types.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/**
 * @brief A distributed array (opaque): a typed vector cut into blocks,
 * each a data handle on one device.
 */
typedef struct flo_array flo_array;

/** @brief Largest number of elements of one array (2^40). */
#define FLO_ARRAY_MAX_ELEMS (UINT64_C(1) << 40)
/** @brief Largest number of blocks of one array. */
#define FLO_ARRAY_MAX_BLOCKS 60

/**
 * @brief How an array is cut into blocks.
 *
 * Start from FLO_ARRAY_LAYOUT_INIT (or
 * a zeroed struct: as with flo_config, every field's zero is its default
 * and a size of 0 stands for the library's own layout).
 *
 * - nblocks 0: one block per device in use: every GPU when the runtime
 *   has GPUs, else the host cut into one block per host worker (fewer for
 *   small arrays, so that no block is tiny). devices and weights must then
 *   be NULL.
 * - nblocks > 0: that many blocks; devices[i] is block i's device (NULL:
 *   the devices in use, round robin); weights[i] > 0 is its share of the
 *   elements (NULL: even). Block i covers [offset_i, offset_i + count_i)
 *   with offsets increasing; a block may be empty when n is small.
 */
typedef struct flo_array_layout {
    size_t size;           /**< sizeof(flo_array_layout), or 0. */
    int nblocks;           /**< 0 .. FLO_ARRAY_MAX_BLOCKS. */
    const int *devices;    /**< nblocks device indices, or NULL. */
    const double *weights; /**< nblocks positive weights, or NULL. */
} flo_array_layout;

/** @brief The default layout, as an initializer: size set, every other
 *  field zero (in C++ a value-initialised struct with the size set, as
 *  FLO_CONFIG_INIT). */
#ifdef __cplusplus
static inline flo_array_layout flo__array_layout_init_cxx(void)
{
    flo_array_layout l = flo_array_layout();
    l.size = sizeof(flo_array_layout);
    return l;
}
#define FLO_ARRAY_LAYOUT_INIT (flo__array_layout_init_cxx())
#else
#define FLO_ARRAY_LAYOUT_INIT                                                  \
    {                                                                          \
        .size = sizeof(flo_array_layout)                                       \
    }
#endif

/** @brief One block of an array (see flo_array_block). */
typedef struct flo_array_block_info {
    flo_data data;   /**< The block's handle; FLO_DATA_NULL if empty. */
    int device;      /**< Device the block's tasks run on. */
    uint64_t offset; /**< Global index of the block's first element. */
    uint64_t count;  /**< Elements in the block. */
} flo_array_block_info;

/**
 * @brief Create an array of n elements of type dtype.
 *
 * Storage is allocated
 * lazily, on the block's device, by the first task that writes it; the
 * contents are zeros until written.
 *
 * @param[in]  rt      runtime.
 * @param[in]  dtype   element type.
 * @param[in]  n       number of elements, 0 .. FLO_ARRAY_MAX_ELEMS.
 * @param[in]  layout  block layout, or NULL for the default (nblocks 0);
 *                     read only during the call.
 * @param[out] out     the new array; written only on success.
 * @return FLO_OK; FLO_EINVAL (NULL rt/out, bad dtype, bad layout: size,
 *         nblocks out of range, devices or weights with nblocks 0, a
 *         device out of range, a weight <= 0 or not finite, weights whose
 *         sum is not finite); FLO_ERANGE (n > FLO_ARRAY_MAX_ELEMS);
 *         FLO_ENOMEM; FLO_ESYS; FLO_EDEVICE if the CUDA scratch size
 *         query failed; FLO_ESTALE when the call races with flo_finalize.
 *         Nothing is left over on error.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_array_create(flo_runtime *rt, flo_dtype dtype, uint64_t n,
                            const flo_array_layout *layout, flo_array **out);

/**
 * @brief flo_array_create, then copy n elements from host memory src
 * into it (flo_array_from_host).
 *
 * @param[in]  rt      runtime.
 * @param[in]  dtype   element type.
 * @param[in]  n       number of elements, 0 .. FLO_ARRAY_MAX_ELEMS.
 * @param[in]  src     n elements of type dtype (NULL allowed when n is
 *                     0).
 * @param[in]  layout  block layout, or NULL for the default.
 * @param[out] out     the new array; written only on success.
 * @return as flo_array_create; FLO_EINVAL for NULL src with n > 0; the
 *         errors of flo_array_from_host (the array is destroyed then).
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Must not be called: the copy waits (FLO_EDEADLK).
 */
flo_status flo_array_create_from_host(flo_runtime *rt, flo_dtype dtype,
                                      uint64_t n, const void *src,
                                      const flo_array_layout *layout,
                                      flo_array **out);

/**
 * @brief Wait for every task using the array, then free it and its
 * handles.
 *
 * @param[in] a  the array; invalid once the call returned FLO_OK.
 * @return FLO_OK; FLO_EINVAL for NULL; FLO_EBUSY if a block is acquired
 *         (nothing is freed then); FLO_ESTALE if the program unregistered
 *         a block's handle itself (nothing is freed); FLO_EDEADLK from
 *         one of the runtime's worker threads (nothing is freed).
 *
 * Destroy every array before flo_finalize of its runtime (which frees
 * the blocks' handles but not the array object).
 *
 * @par Thread-safety:
 * Not thread-safe with other uses of the same array: the program stops
 * using a (on every thread) before it destroys it.
 * @par In a task:
 * Refused with FLO_EDEADLK (also in a completion callback).
 */
flo_status flo_array_destroy(flo_array *a);

/**
 * @brief Number of elements of an array.
 *
 * @param[in] a  the array.
 * @return the number of elements; 0 for NULL.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
uint64_t flo_array_size(const flo_array *a);

/**
 * @brief Element type of an array.
 *
 * @param[in] a  the array.
 * @return its element type; FLO_DTYPE_COUNT for NULL.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
flo_dtype flo_array_dtype(const flo_array *a);

/**
 * @brief Number of blocks of an array (empty ones included).
 *
 * @param[in] a  the array.
 * @return the number of blocks; 0 for NULL.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
int flo_array_nblocks(const flo_array *a);

/**
 * @brief Describe one block of an array, so that a user task can read or
 * write it.
 *
 * Give info.data in the task's access list (and, usually, info.device
 * as the task's device). Tasks and algorithms are ordered by those
 * accesses.
 *
 * @param[in]  a     the array.
 * @param[in]  i     block index, 0 .. flo_array_nblocks(a) - 1.
 * @param[out] info  the block; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p a or @p info; FLO_ERANGE for
 *         a bad index.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at creation).
 * @par In a task:
 * Allowed.
 */
flo_status flo_array_block(const flo_array *a, int i,
                           flo_array_block_info *info);

/**
 * @brief Copy all elements from host memory into the array.
 *
 * Blocking: acquires every block for writing (flo_data_acquire), which
 * waits for the tasks using it, copies, and releases it.
 *
 * @param[in] a    the array.
 * @param[in] src  flo_array_size(a) elements of the array's type (NULL
 *                 allowed for an empty array).
 * @return FLO_OK; FLO_EINVAL for a NULL @p a, or NULL @p src with
 *         elements; otherwise the first error of flo_data_acquire among
 *         the blocks (the error of a block's last writer when it failed,
 *         FLO_EDEADLK in a task, FLO_ENOMEM). A block whose acquire fails
 *         is not copied; the others are.
 *
 * @par Thread-safety:
 * Thread-safe: ordered with other uses of the blocks like an acquire.
 * @par In a task:
 * Refused with FLO_EDEADLK (nothing is copied).
 */
flo_status flo_array_from_host(flo_array *a, const void *src);

/**
 * @brief Copy all elements of the array to host memory.
 *
 * Blocking: acquires every block for reading (flo_data_acquire), which
 * waits for the tasks that write it, copies, and releases it.
 *
 * @param[in]  a    the array.
 * @param[out] dst  room for flo_array_size(a) elements of the array's
 *                  type (NULL allowed for an empty array).
 * @return FLO_OK; FLO_EINVAL for a NULL @p a, or NULL @p dst with
 *         elements; otherwise the first error of flo_data_acquire among
 *         the blocks: the error of a block's last writer when it failed,
 *         FLO_EDEADLK in a task, FLO_ENOMEM, FLO_EDEVICE. A block whose
 *         acquire fails is not copied; the others are.
 *
 * @par Thread-safety:
 * Thread-safe: ordered with other uses of the blocks like an acquire.
 * @par In a task:
 * Refused with FLO_EDEADLK (nothing is copied).
 */
flo_status flo_array_to_host(flo_array *a, void *dst);

/* ---- Transform --------------------------------------------------------- */

/**
 * @brief Built-in element-wise operations: out[i] = f(x[i], y[i]).
 *
 * alpha points
 * to one value of out's type. Integer arithmetic wraps (two's
 * complement); integer division by zero gives 0. Conversions follow C,
 * except that float to integer saturates and NaN gives 0.
 */
typedef enum flo_transform_op {
    FLO_XF_COPY = 0,  /**< out = x; converts when the types differ. */
    FLO_XF_FILL = 1,  /**< out = alpha (no input). */
    FLO_XF_SCALE = 2, /**< out = alpha * x. */
    FLO_XF_AXPY = 3,  /**< out = alpha * x + y. */
    FLO_XF_ADD = 4,   /**< out = x + y. */
    FLO_XF_SUB = 5,   /**< out = x - y. */
    FLO_XF_MUL = 6,   /**< out = x * y. */
    FLO_XF_DIV = 7,   /**< out = x / y. */
    FLO_XF_MIN = 8,   /**< out = min(x, y). */
    FLO_XF_MAX = 9,   /**< out = max(x, y). */
    FLO_XF_ABS = 10,  /**< out = |x|. */
    FLO_XF_OP_COUNT = 11
} flo_transform_op;

/**
 * @brief Submit out = op(x, y) over every block.
 *
 * Inputs must have the same length and block boundaries as out (out may
 * be x or y: in place). All arrays have out's type, except x for
 * FLO_XF_COPY, which converts. Each block runs on out's block's device.
 *
 * @param[in]  out    output array.
 * @param[in]  op     operation.
 * @param[in]  x      first input; NULL for FILL, required otherwise.
 * @param[in]  y      second input for AXPY, ADD, SUB, MUL, DIV, MIN,
 *                    MAX; must be NULL for the others.
 * @param[in]  alpha  value of out's type for FILL, SCALE, AXPY (copied
 *                    at submit); else ignored.
 * @param[out] ev     event of the whole transform, or NULL
 *                    (FLO_EVENT_NULL for an empty array).
 * @return FLO_OK; FLO_EINVAL (NULL out, bad op, missing or extra input,
 *         NULL alpha where it is needed, type mismatch, different length
 *         or layout, arrays of another runtime); errors of
 *         flo_task_submit (see the file description).
 *
 * @par Thread-safety:
 * Thread-safe: calls on one array from several threads are ordered like
 * any submissions (by the blocks' handles).
 * @par In a task:
 * Allowed (it submits tasks and waits for nothing).
 */
flo_status flo_array_transform(flo_array *out, flo_transform_op op,
                               flo_array *x, flo_array *y, const void *alpha,
                               flo_event *ev);

/**
 * @brief flo_array_transform, then wait for it.
 *
 * @param[in] out    output array.
 * @param[in] op     operation.
 * @param[in] x      first input, as flo_array_transform.
 * @param[in] y      second input, as flo_array_transform.
 * @param[in] alpha  value of out's type, as flo_array_transform.
 * @return the errors of flo_array_transform; else the transform's
 *         status (flo_event_wait: FLO_OK or a task's error).
 *
 * @par Thread-safety:
 * Thread-safe, as the form that submits.
 * @par In a task:
 * Must not be called: it waits (FLO_EDEADLK), after the work was
 * submitted.
 */
flo_status flo_array_transform_sync(flo_array *out, flo_transform_op op,
                                    flo_array *x, flo_array *y,
                                    const void *alpha);

/**
 * @brief Submit a fill of every element with *value: flo_array_transform
 * with FLO_XF_FILL.
 *
 * @param[in]  a      the array.
 * @param[in]  value  one element of the array's type (copied at submit).
 * @param[out] ev     event of the fill, or NULL.
 * @return as flo_array_transform (FLO_EINVAL for a NULL @p a or
 *         @p value).
 *
 * @par Thread-safety:
 * Thread-safe: calls on one array from several threads are ordered like
 * any submissions (by the blocks' handles).
 * @par In a task:
 * Allowed (it submits tasks and waits for nothing).
 */
flo_status flo_array_fill(flo_array *a, const void *value, flo_event *ev);

/** @brief What a user block function sees (see flo_array_map). */
typedef struct flo_array_span {
    void *out;         /**< out's block (device memory on a GPU). */
    const void *in[2]; /**< x's and y's blocks, NULL when absent. */
    uint64_t count;    /**< Elements in the block. */
    uint64_t offset;   /**< Global index of the block's first element. */
    const void *args;  /**< The user's argument blob (may be NULL). */
    size_t args_size;  /**< Its size in bytes. */
    void *stream;      /**< cudaStream_t on a GPU, NULL on the host. */
    flo_task_ctx *ctx; /**< The task (flo_task_fail, flo_task_device). */
} flo_array_span;

/**
 * @brief A user block function: on the host it does the work; the CUDA
 * one only enqueues kernels on span->stream.
 *
 * Report failure with flo_task_fail(span->ctx, ...).
 *
 * @param span  the block, its inputs and the arguments; valid during
 *              the call.
 */
typedef void (*flo_array_fn)(const flo_array_span *span);

/** @brief A user element kernel: entry points per backend (one at
 *  least). */
typedef struct flo_array_kernel {
    const char *name;  /**< For traces. */
    flo_array_fn host; /**< Runs on a host worker. */
    flo_array_fn cuda; /**< Launches on a GPU worker's stream. */
} flo_array_kernel;

/** @brief Largest argument blob of flo_array_map. */
#define FLO_ARRAY_MAX_ARGS 4096

/**
 * @brief Submit a user kernel over every block of out.
 *
 * One task per block, on
 * out's block's device when the kernel has an entry point for it (a
 * block on a GPU runs on the host when k->cuda is NULL, and its data
 * moves there). x and y (optional, same length and boundaries as out, of
 * any type) are read; out is written (read too if it is x or y).
 *
 * @param[in]  out        output array (read and written).
 * @param[in]  k          the kernel; read only during the call.
 * @param[in]  x          first input, or NULL.
 * @param[in]  y          second input, or NULL (NULL when x is).
 * @param[in]  args       copied at submit; NULL when args_size is 0.
 * @param[in]  args_size  at most FLO_ARRAY_MAX_ARGS.
 * @param[out] ev         event of the whole map, or NULL
 *                        (FLO_EVENT_NULL for an empty array).
 * @return as flo_array_transform; FLO_EINVAL also for a kernel without
 *         entry points, one without a host entry point when a non-empty
 *         block is on the host, args too large or NULL with a size, or
 *         y without x.
 *
 * @par Thread-safety:
 * Thread-safe: calls on one array from several threads are ordered like
 * any submissions (by the blocks' handles).
 * @par In a task:
 * Allowed (it submits tasks and waits for nothing).
 */
flo_status flo_array_map(flo_array *out, const flo_array_kernel *k,
                         flo_array *x, flo_array *y, const void *args,
                         size_t args_size, flo_event *ev);

/* ---- Reduce ------------------------------------------------------------ */

/**
 * @brief Submit a reduction of the whole array with op.
 *
 * One task per block
 * computes a partial result on the block's device; a host task combines
 * them in block order (skipped with one block) into result.
 *
 * @param[in]  a       the array.
 * @param[in]  op      reduction operator.
 * @param[in]  result  handle of at least 8 bytes: receives one value of
 *                     the array's type at offset 0. An empty array gives
 *                     the identity (0, 1, the type's max, the type's
 *                     lowest).
 * @param[out] ev      event of the reduction, or NULL.
 * @return FLO_OK; FLO_EINVAL (NULL @p a, bad op, @p result too small,
 *         null or malformed); FLO_ESTALE / FLO_EFOREIGN for a stale
 *         @p result or one of another runtime; errors of flo_task_submit
 *         (see the file description).
 *
 * @par Thread-safety:
 * Thread-safe: calls on one array from several threads are ordered like
 * any submissions (by the blocks' handles).
 * @par In a task:
 * Allowed (it submits tasks and waits for nothing).
 */
flo_status flo_array_reduce(flo_array *a, flo_redop op, flo_data result,
                            flo_event *ev);

/**
 * @brief Blocking reduce: *value gets the result.
 *
 * @param[in]  a      the array.
 * @param[in]  op     reduction operator.
 * @param[out] value  one element of the array's type; written only on
 *                    success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p a or @p value; the errors of
 *         flo_data_alloc and flo_array_reduce; else the reduction's
 *         status (a task's error, as flo_data_acquire returns it).
 *
 * @par Thread-safety:
 * Thread-safe, as the form that submits.
 * @par In a task:
 * Must not be called: it waits (FLO_EDEADLK), after the work was
 * submitted.
 */
flo_status flo_array_reduce_sync(flo_array *a, flo_redop op, void *value);

/**
 * @brief Submit a search for the minimum (op FLO_MIN) or maximum
 * (FLO_MAX) and the index of its first occurrence.
 *
 * @param[in]  a       the array.
 * @param[in]  op      FLO_MIN or FLO_MAX.
 * @param[in]  result  handle of at least 16 bytes: the value (array's
 *                     type) at offset 0, the int64_t index at offset 8
 *                     (-1 for an empty array).
 * @param[out] ev      event of the search, or NULL.
 * @return as flo_array_reduce; FLO_EINVAL for op SUM or PROD.
 *
 * @par Thread-safety:
 * Thread-safe: calls on one array from several threads are ordered like
 * any submissions (by the blocks' handles).
 * @par In a task:
 * Allowed (it submits tasks and waits for nothing).
 */
flo_status flo_array_argreduce(flo_array *a, flo_redop op, flo_data result,
                               flo_event *ev);

/**
 * @brief Blocking argreduce: the minimum or maximum and the index of its
 * first occurrence.
 *
 * @param[in]  a      the array.
 * @param[in]  op     FLO_MIN or FLO_MAX.
 * @param[out] value  one element of the array's type, or NULL if not
 *                    wanted; written only on success.
 * @param[out] index  the index (-1 for an empty array), or NULL if not
 *                    wanted; written only on success.
 * @return as flo_array_reduce_sync (a NULL @p value is allowed here).
 *
 * @par Thread-safety:
 * Thread-safe, as the form that submits.
 * @par In a task:
 * Must not be called: it waits (FLO_EDEADLK), after the work was
 * submitted.
 */
flo_status flo_array_argreduce_sync(flo_array *a, flo_redop op, void *value,
                                    int64_t *index);

/* ---- Scan -------------------------------------------------------------- */

/**
 * @brief Submit a prefix scan of x into out (out may be x: in place),
 * seeded with the carry-in c (the identity when none is given).
 *
 * With one non-empty block this is one single-pass scan (CUB's
 * decoupled look-back on a GPU): 2n memory traffic. With k blocks, the
 * blocks 0..k-2 are reduced in parallel, a host task scans the k-1
 * partials into per-block carries, and every block is scanned once,
 * seeded with its carry: no fix-up pass, 3n - n/k traffic.
 *
 * @param[in]  out       output array (written).
 * @param[in]  x         input array (read), of out's type, length and
 *                       block boundaries.
 * @param[in]  op        reduction operator.
 * @param[in]  kind      FLO_SCAN_INCLUSIVE or FLO_SCAN_EXCLUSIVE.
 * @param[in]  carry_in  NULL, or one value of the array's type, copied
 *                       at submit.
 * @param[out] ev        event of the whole scan, or NULL
 *                       (FLO_EVENT_NULL for an empty array).
 * @return FLO_OK; FLO_EINVAL (NULL, bad op or kind, type or layout
 *         mismatch); errors of flo_task_submit (see the file
 *         description).
 *
 * @par Thread-safety:
 * Thread-safe: calls on one array from several threads are ordered like
 * any submissions (by the blocks' handles).
 * @par In a task:
 * Allowed (it submits tasks and waits for nothing).
 */
flo_status flo_array_scan(flo_array *out, flo_array *x, flo_redop op,
                          flo_scan_kind kind, const void *carry_in,
                          flo_event *ev);

/**
 * @brief As flo_array_scan, with the carry-in read from a data handle
 * when the scan runs.
 *
 * The carry is the handle's first value of the array's type: the scan
 * composes with the task that computes it (e.g. a cross-rank exclusive
 * scan of the local totals).
 *
 * @param[in]  out    output array (written).
 * @param[in]  x      input array (read).
 * @param[in]  op     reduction operator.
 * @param[in]  kind   FLO_SCAN_INCLUSIVE or FLO_SCAN_EXCLUSIVE.
 * @param[in]  carry  handle of at least one element of the array's type
 *                    (read).
 * @param[out] ev     event of the whole scan, or NULL.
 * @return as flo_array_scan; FLO_EINVAL for a null, malformed or too
 *         small @p carry; FLO_ESTALE / FLO_EFOREIGN for a stale
 *         @p carry or one of another runtime.
 *
 * @par Thread-safety:
 * Thread-safe: calls on one array from several threads are ordered like
 * any submissions (by the blocks' handles).
 * @par In a task:
 * Allowed (it submits tasks and waits for nothing).
 */
flo_status flo_array_scan_carry(flo_array *out, flo_array *x, flo_redop op,
                                flo_scan_kind kind, flo_data carry,
                                flo_event *ev);

/**
 * @brief Blocking scan: flo_array_scan, then wait for it.
 *
 * @param[in] out       output array (written).
 * @param[in] x         input array (read).
 * @param[in] op        reduction operator.
 * @param[in] kind      FLO_SCAN_INCLUSIVE or FLO_SCAN_EXCLUSIVE.
 * @param[in] carry_in  NULL, or one value of the array's type.
 * @return the errors of flo_array_scan; else the scan's status
 *         (flo_event_wait).
 *
 * @par Thread-safety:
 * Thread-safe, as the form that submits.
 * @par In a task:
 * Must not be called: it waits (FLO_EDEADLK), after the work was
 * submitted.
 */
flo_status flo_array_scan_sync(flo_array *out, flo_array *x, flo_redop op,
                               flo_scan_kind kind, const void *carry_in);

FLO_END_DECLS
#endif
