/*
 * Flotilla - distributed arrays and the transform / reduce / scan
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
 */
#ifndef FLOTILLA_ARRAY_H
#define FLOTILLA_ARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "flotilla/task.h"
#include "flotilla/types.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** A distributed array (opaque). */
typedef struct flo_array flo_array;

/** Largest number of elements of one array (2^40). */
#define FLO_ARRAY_MAX_ELEMS (UINT64_C(1) << 40)
/** Largest number of blocks of one array. */
#define FLO_ARRAY_MAX_BLOCKS 60

/**
 * How an array is cut into blocks. Start from FLO_ARRAY_LAYOUT_INIT (or
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

/** The default layout: size set, every other field zero (in C++ a
 *  value-initialised struct with the size set, as FLO_CONFIG_INIT). */
#ifdef __cplusplus
static inline flo_array_layout flo__array_layout_init_cxx(void)
{
    flo_array_layout l = flo_array_layout();
    l.size = sizeof(flo_array_layout);
    return l;
}
#define FLO_ARRAY_LAYOUT_INIT (flo__array_layout_init_cxx())
#else
#define FLO_ARRAY_LAYOUT_INIT {.size = sizeof(flo_array_layout)}
#endif

/** One block of an array (see flo_array_block). */
typedef struct flo_array_block_info {
    flo_data data;   /**< The block's handle; FLO_DATA_NULL if empty. */
    int device;      /**< Device the block's tasks run on. */
    uint64_t offset; /**< Global index of the block's first element. */
    uint64_t count;  /**< Elements in the block. */
} flo_array_block_info;

/**
 * Create an array of n elements of type dtype. Storage is allocated
 * lazily, on the block's device, by the first task that writes it; the
 * contents are zeros until written.
 *
 * @param rt      runtime.
 * @param dtype   element type.
 * @param n       number of elements, 0 .. FLO_ARRAY_MAX_ELEMS.
 * @param layout  block layout, or NULL for the default (nblocks 0).
 * @param out     the new array; written only on success.
 * @return FLO_OK; FLO_EINVAL (NULL rt/out, bad dtype, bad layout: size,
 *         nblocks out of range, a device out of range, a weight <= 0 or
 *         not finite); FLO_ERANGE (n > FLO_ARRAY_MAX_ELEMS);
 *         FLO_ENOMEM; FLO_EDEVICE if the CUDA scratch size query failed.
 * Thread-safe.
 */
flo_status flo_array_create(flo_runtime *rt, flo_dtype dtype, uint64_t n,
                            const flo_array_layout *layout, flo_array **out);

/**
 * flo_array_create, then copy n elements from host memory src into it.
 * @return as flo_array_create; FLO_EINVAL for NULL src with n > 0.
 */
flo_status flo_array_create_from_host(flo_runtime *rt, flo_dtype dtype,
                                      uint64_t n, const void *src,
                                      const flo_array_layout *layout,
                                      flo_array **out);

/**
 * Wait for every task using the array, then free it and its handles.
 * @return FLO_OK; FLO_EINVAL for NULL; FLO_EBUSY if a block is acquired
 *         (nothing is freed then); FLO_EDEADLK from inside a task.
 * Not thread-safe with other uses of the same array.
 */
flo_status flo_array_destroy(flo_array *a);

/** Number of elements. 0 for NULL. */
uint64_t flo_array_size(const flo_array *a);

/** Element type. FLO_DTYPE_COUNT for NULL. */
flo_dtype flo_array_dtype(const flo_array *a);

/** Number of blocks (empty ones included). 0 for NULL. */
int flo_array_nblocks(const flo_array *a);

/**
 * Describe block i, so that a user task can read or write it: give
 * info.data in the task's access list (and, usually, info.device as the
 * task's device). Tasks and algorithms are ordered by those accesses.
 * @return FLO_OK; FLO_EINVAL for NULL; FLO_ERANGE for a bad index.
 * Thread-safe.
 */
flo_status flo_array_block(const flo_array *a, int i,
                           flo_array_block_info *info);

/**
 * Copy all elements from host memory src (n elements of the array's
 * type) into the array. Blocking: waits for tasks using the array.
 * @return FLO_OK; FLO_EINVAL for NULL; a task error of an earlier writer.
 */
flo_status flo_array_from_host(flo_array *a, const void *src);

/**
 * Copy all elements to host memory dst. Blocking: waits for the tasks
 * that write the array.
 * @return FLO_OK; FLO_EINVAL for NULL; a task error of an earlier writer.
 */
flo_status flo_array_to_host(flo_array *a, void *dst);

/* ---- Transform --------------------------------------------------------- */

/**
 * Built-in element-wise operations: out[i] = f(x[i], y[i]). alpha points
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
 * Submit out = op(x, y) over every block.
 *
 * Inputs must have the same length and block boundaries as out (out may
 * be x or y: in place). All arrays have out's type, except x for
 * FLO_XF_COPY, which converts. Each block runs on out's block's device.
 *
 * @param out    output array.
 * @param op     operation.
 * @param x      first input; NULL for FILL, required otherwise.
 * @param y      second input for AXPY, ADD, SUB, MUL, DIV, MIN, MAX;
 *               must be NULL for the others.
 * @param alpha  value of out's type for FILL, SCALE, AXPY; else ignored.
 * @param ev     event of the whole transform, or NULL.
 * @return FLO_OK; FLO_EINVAL (NULL, bad op, missing or extra input,
 *         type mismatch, different length or layout, arrays of another
 *         runtime); errors of flo_task_submit. Nothing is submitted on
 *         error. Thread-safe (submissions on one array are ordered).
 */
flo_status flo_array_transform(flo_array *out, flo_transform_op op,
                               flo_array *x, flo_array *y, const void *alpha,
                               flo_event *ev);

/** flo_array_transform, then wait. Returns the transform's status. */
flo_status flo_array_transform_sync(flo_array *out, flo_transform_op op,
                                    flo_array *x, flo_array *y,
                                    const void *alpha);

/** Fill every element with *value (of the array's type); async. */
flo_status flo_array_fill(flo_array *a, const void *value, flo_event *ev);

/** What a user block function sees (see flo_array_map). */
typedef struct flo_array_span {
    void *out;         /**< out's block (device memory on a GPU). */
    const void *in[2]; /**< x's and y's blocks, NULL when absent. */
    uint64_t count;    /**< Elements in the block. */
    uint64_t offset;   /**< Global index of the block's first element. */
    const void *args;  /**< The user's argument blob (may be NULL). */
    size_t args_size;
    void *stream;      /**< cudaStream_t on a GPU, NULL on the host. */
    flo_task_ctx *ctx; /**< The task (flo_task_fail, flo_task_device). */
} flo_array_span;

/** A user block function: on the host it does the work; the CUDA one
 *  only enqueues kernels on span->stream. Report failure with
 *  flo_task_fail(span->ctx, ...). */
typedef void (*flo_array_fn)(const flo_array_span *span);

/** A user element kernel: entry points per backend (one at least). */
typedef struct flo_array_kernel {
    const char *name;  /**< For traces. */
    flo_array_fn host; /**< Runs on a host worker. */
    flo_array_fn cuda; /**< Launches on a GPU worker's stream. */
} flo_array_kernel;

/** Largest argument blob of flo_array_map. */
#define FLO_ARRAY_MAX_ARGS 4096

/**
 * Submit a user kernel over every block of out: one task per block, on
 * out's block's device when the kernel has an entry point for it (a
 * block on a GPU runs on the host when k->cuda is NULL, and its data
 * moves there). x and y (optional, same length and boundaries as out, of
 * any type) are read; out is written (read too if it is x or y).
 *
 * @param args  copied at submit; args_size <= FLO_ARRAY_MAX_ARGS.
 * @return as flo_array_transform; FLO_EINVAL for a kernel without entry
 *         points or args too large.
 */
flo_status flo_array_map(flo_array *out, const flo_array_kernel *k,
                         flo_array *x, flo_array *y, const void *args,
                         size_t args_size, flo_event *ev);

/* ---- Reduce ------------------------------------------------------------ */

/**
 * Submit a reduction of the whole array with op. One task per block
 * computes a partial result on the block's device; a host task combines
 * them in block order (skipped with one block) into result.
 *
 * @param result  handle of at least 8 bytes: receives one value of the
 *                array's type at offset 0. An empty array gives the
 *                identity (0, 1, the type's max, the type's lowest).
 * @return FLO_OK; FLO_EINVAL (NULL, bad op, result too small or stale);
 *         errors of flo_task_submit. Thread-safe.
 */
flo_status flo_array_reduce(flo_array *a, flo_redop op, flo_data result,
                            flo_event *ev);

/** Blocking reduce: *value (one element of the array's type). */
flo_status flo_array_reduce_sync(flo_array *a, flo_redop op, void *value);

/**
 * Submit a search for the minimum (op FLO_MIN) or maximum (FLO_MAX) and
 * the index of its first occurrence.
 *
 * @param result  handle of at least 16 bytes: the value (array's type) at
 *                offset 0, the int64_t index at offset 8 (-1 for an empty
 *                array).
 * @return as flo_array_reduce; FLO_EINVAL for op SUM or PROD.
 */
flo_status flo_array_argreduce(flo_array *a, flo_redop op, flo_data result,
                               flo_event *ev);

/** Blocking argreduce. value (array's type) or index may be NULL. */
flo_status flo_array_argreduce_sync(flo_array *a, flo_redop op, void *value,
                                    int64_t *index);

/* ---- Scan -------------------------------------------------------------- */

/**
 * Submit a prefix scan of x into out (out may be x: in place), seeded
 * with the carry-in c (the identity when none is given).
 *
 * With one non-empty block this is one single-pass scan (CUB's
 * decoupled look-back on a GPU): 2n memory traffic. With k blocks, the
 * blocks 0..k-2 are reduced in parallel, a host task scans the k-1
 * partials into per-block carries, and every block is scanned once,
 * seeded with its carry: no fix-up pass, 3n - n/k traffic.
 *
 * @param carry_in  NULL, or one value of the array's type, copied at
 *                  submit.
 * @return FLO_OK; FLO_EINVAL (NULL, bad op or kind, type or layout
 *         mismatch); errors of flo_task_submit. Thread-safe.
 */
flo_status flo_array_scan(flo_array *out, flo_array *x, flo_redop op,
                          flo_scan_kind kind, const void *carry_in,
                          flo_event *ev);

/**
 * As flo_array_scan, with the carry-in read from a data handle when the
 * scan runs (its first value of the array's type): the scan composes
 * with the task that computes it (e.g. a cross-rank exclusive scan of
 * the local totals).
 */
flo_status flo_array_scan_carry(flo_array *out, flo_array *x, flo_redop op,
                                flo_scan_kind kind, flo_data carry,
                                flo_event *ev);

/** Blocking scan. */
flo_status flo_array_scan_sync(flo_array *out, flo_array *x, flo_redop op,
                               flo_scan_kind kind, const void *carry_in);

FLO_END_DECLS
#endif
