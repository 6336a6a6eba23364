/*
 * Flotilla - distributed arrays: private state shared by the algorithm
 * files, task argument layouts, the host transforms and the entry
 * points.
 * Not installed.
 */
#ifndef FLO_ALGO_H
#define FLO_ALGO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectives/elem/elem.h"
#include "flo_build_config.h"
#include "flotilla.h"

/* A partial result (reduce, argreduce): the layout of result handles. */
typedef struct flo__partial {
    flo__scalar value; /* Byte 0. */
    int64_t index;     /* Byte 8: global index, -1 if none. */
} flo__partial;

#define FLO__PARTIAL_BYTES 16
#define FLO__SCRATCH_SLOTS 2

typedef struct flo__ablock {
    flo_data data; /* NULL when count == 0. */
    int device;
    bool gpu;
    uint64_t offset, count;
    flo_data partial; /* FLO__PARTIAL_BYTES; NULL when empty. */
    /* CUB temporary storage (GPU blocks), or NULL. Two of them, used by
     * alternate algorithms, so that two independent reductions or scans
     * of the same array need not wait for each other's scratch. */
    flo_data scratch[FLO__SCRATCH_SLOTS];
    size_t scratch_bytes;
} flo__ablock;

struct flo_array {
    flo_runtime *rt;
    flo_dtype dtype;
    size_t esize;
    uint64_t n;
    int nblocks;
    int nactive;      /* Non-empty blocks. */
    flo_data carries; /* FLO_ARRAY_MAX_BLOCKS + 1 slots of 8 bytes. */
    atomic_uint turn; /* Picks the scratch slot of the next algorithm. */
    /* Held while one algorithm submits its tasks, so that the partial and
     * carry handles of two concurrent algorithms on the same array are
     * not interleaved (the handles then order the tasks correctly). */
    pthread_mutex_t mu;
    flo__ablock blk[FLO_ARRAY_MAX_BLOCKS];
};

/* ---- Task argument blobs (copied by value at submit) ----------------- */

typedef struct flo__xf_args {
    int32_t op, dt_out, dt_in;
    int32_t iout, ix, iy; /* Buffer indices; -1 when absent. */
    uint64_t count;
    flo__scalar alpha;
} flo__xf_args;

typedef struct flo__map_args {
    flo_array_fn host, cuda;
    int32_t iout, ix, iy;
    uint64_t count, offset;
    size_t user_size;
    /* user_size bytes of user arguments follow. */
} flo__map_args;

/* Buffers: 0 input block, 1 partial/result, 2 scratch (GPU only). */
typedef struct flo__red_args {
    int32_t op, dtype, arg;
    uint64_t count, offset;
} flo__red_args;

/* Buffers: 0 .. nparts-1 partials (block order), nparts the result. */
typedef struct flo__comb_args {
    int32_t op, dtype, arg, nparts;
} flo__comb_args;

enum { FLO__CARRY_NONE = 0, FLO__CARRY_VALUE = 1, FLO__CARRY_DATA = 2 };

/* Buffers: 0 .. nparts-1 partials, then the user carry handle when
 * carry_mode is FLO__CARRY_DATA, then the carries handle (last).
 * Carry k (k = 0 .. nparts) goes to slot k. */
typedef struct flo__carry_args {
    int32_t op, dtype, nparts, carry_mode;
    flo__scalar carry;
} flo__carry_args;

/* Buffers: iin, iout (same when in place), icarry (-1: none), iscratch
 * (-1: none). The carry is slot carry_slot of buffer icarry, or the
 * immediate value when icarry is -1 and has_value is set, else the
 * identity. */
typedef struct flo__scan_args {
    int32_t op, dtype, exclusive;
    int32_t iin, iout, icarry, iscratch, has_value;
    uint64_t count;
    uint32_t carry_slot;
    flo__scalar carry;
} flo__scan_args;

/* ---- Shared helpers (array.c) --------------------------------------- */

bool flo__algo_dtype_ok(flo_dtype t);
/* Same length and block boundaries. */
bool flo__array_same_shape(const flo_array *a, const flo_array *b);
/* Submit an empty host task depending on evs (n >= 1) and return its
 * event; with n == 1 the event itself. */
flo_status flo__algo_join(flo_runtime *rt, const flo_event *evs, int n,
                          flo_event *out);
/* Submit the partial task of block b of a into dst (8 bytes, or 16 for
 * arg), with scratch slot `slot`. Caller holds a->mu when dst is the
 * block's partial handle. */
flo_status flo__algo_reduce_block(flo_array *a, int b, flo_redop op, bool arg,
                                  flo_data dst, unsigned slot, flo_event *ev);
/* The scratch slot of the next algorithm on a. */
static inline unsigned flo__algo_slot(flo_array *a)
{
    return atomic_fetch_add_explicit(&a->turn, 1, memory_order_relaxed) %
           FLO__SCRATCH_SLOTS;
}

/* ---- Host loops --------------------------------------------------------
 * Reductions, combinations and scans are the element kernels of
 * collectives/elem/elem.h; the transforms are the algorithms' own. */

/* out[0..n) = op(x, y); x of type dt_in (only COPY converts)
 * (host_kernels.c). */
void flo__host_transform(int op, flo_dtype dt_out, flo_dtype dt_in, void *out,
                         const void *x, const void *y, uint64_t n,
                         const flo__scalar *alpha);

/* ---- Task entry points ------------------------------------------------ */

void flo__algo_xf_host(flo_task_ctx *ctx);
void flo__algo_map_host(flo_task_ctx *ctx);
void flo__algo_red_host(flo_task_ctx *ctx);
void flo__algo_comb_host(flo_task_ctx *ctx);
void flo__algo_carry_host(flo_task_ctx *ctx);
void flo__algo_scan_host(flo_task_ctx *ctx);
void flo__algo_join_host(flo_task_ctx *ctx);
#if FLO_HAVE_CUDA
void flo__algo_xf_cuda(flo_task_ctx *ctx);
void flo__algo_map_cuda(flo_task_ctx *ctx);
void flo__algo_red_cuda(flo_task_ctx *ctx);
void flo__algo_scan_cuda(flo_task_ctx *ctx);
#endif

#endif
