/*
 * Flotilla - element-wise transforms and user block kernels: one task
 * per non-empty block, on the output block's device.
 */
#include <stdalign.h>
#include <string.h>

#include "collectives/algo/algo.h"
#include "collectives/algo/algo_cuda.h"
#include "runtime/internal.h"

static const flo_kernel xf_kernel = {
    .name = "flo.array.transform",
    .host = flo__algo_xf_host,
#if FLO_HAVE_CUDA
    .cuda = flo__algo_xf_cuda,
#endif
};

static const flo_kernel map_kernel = {
    .name = "flo.array.map",
    .host = flo__algo_map_host,
#if FLO_HAVE_CUDA
    .cuda = flo__algo_map_cuda,
#endif
};

/* A user kernel without a host entry point: it may only run on GPUs. */
static const flo_kernel map_kernel_cuda = {
    .name = "flo.array.map",
#if FLO_HAVE_CUDA
    .cuda = flo__algo_map_cuda,
#endif
};

void flo__algo_xf_host(flo_task_ctx *ctx)
{
    const flo__xf_args *a = flo_task_args(ctx, NULL);
    flo__host_transform(a->op, (flo_dtype)a->dt_out, (flo_dtype)a->dt_in,
                        flo_task_buffer(ctx, a->iout),
                        a->ix >= 0 ? flo_task_buffer(ctx, a->ix) : NULL,
                        a->iy >= 0 ? flo_task_buffer(ctx, a->iy) : NULL,
                        a->count, &a->alpha);
}

#if FLO_HAVE_CUDA
void flo__algo_xf_cuda(flo_task_ctx *ctx)
{
    const flo__xf_args *a = flo_task_args(ctx, NULL);
    int err = flo__algo_cuda_transform(
        a->op, a->dt_out, a->dt_in, flo_task_buffer(ctx, a->iout),
        a->ix >= 0 ? flo_task_buffer(ctx, a->ix) : NULL,
        a->iy >= 0 ? flo_task_buffer(ctx, a->iy) : NULL, a->count, &a->alpha,
        flo_task_stream(ctx));
    if (err != 0)
        flo_task_fail(ctx, FLO_EDEVICE, "array transform: %s",
                      flo__algo_cuda_strerror(err));
}
#endif

static void map_run(flo_task_ctx *ctx, bool cuda)
{
    const flo__map_args *a = flo_task_args(ctx, NULL);
    flo_array_span s;
    s.out = flo_task_buffer(ctx, a->iout);
    s.in[0] = a->ix >= 0 ? flo_task_buffer(ctx, a->ix) : NULL;
    s.in[1] = a->iy >= 0 ? flo_task_buffer(ctx, a->iy) : NULL;
    s.count = a->count;
    s.offset = a->offset;
    s.args = a->user_size > 0 ? (const void *)(a + 1) : NULL;
    s.args_size = a->user_size;
    s.stream = flo_task_stream(ctx);
    s.ctx = ctx;
    if (cuda)
        a->cuda(&s);
    else
        a->host(&s);
}

void flo__algo_map_host(flo_task_ctx *ctx)
{
    map_run(ctx, false);
}

#if FLO_HAVE_CUDA
void flo__algo_map_cuda(flo_task_ctx *ctx)
{
    map_run(ctx, true);
}
#endif

/* Check an input against out: same runtime and block boundaries. */
static bool input_ok(const flo_array *out, const flo_array *in)
{
    return in != NULL && flo__array_same_shape(out, in);
}

/* Fill acc[] for block i: out first, then x and y unless they alias an
 * earlier entry. Sets the buffer indices; returns the entry count. */
static int block_access(flo_array *out, flo_array *x, flo_array *y, int i,
                        flo_access_desc *acc, int32_t *ix, int32_t *iy)
{
    int n = 0;
    bool rw = out == x || out == y;
    acc[n].data = out->blk[i].data;
    acc[n++].mode = rw ? FLO_READ_WRITE : FLO_WRITE;
    *ix = *iy = -1;
    if (x != NULL) {
        if (x == out) {
            *ix = 0;
        } else {
            *ix = n;
            acc[n].data = x->blk[i].data;
            acc[n++].mode = FLO_READ;
        }
    }
    if (y != NULL) {
        if (y == out) {
            *iy = 0;
        } else if (y == x) {
            *iy = *ix;
        } else {
            *iy = n;
            acc[n].data = y->blk[i].data;
            acc[n++].mode = FLO_READ;
        }
    }
    return n;
}

static bool op_binary(flo_transform_op op)
{
    return op == FLO_XF_AXPY || op == FLO_XF_ADD || op == FLO_XF_SUB ||
           op == FLO_XF_MUL || op == FLO_XF_DIV || op == FLO_XF_MIN ||
           op == FLO_XF_MAX;
}

flo_status flo_array_transform(flo_array *out, flo_transform_op op,
                               flo_array *x, flo_array *y, const void *alpha,
                               flo_event *ev)
{
    flo_event evs[FLO_ARRAY_MAX_BLOCKS];
    flo__xf_args args;
    int nev = 0;
    flo_status st = FLO_OK;

    if (out == NULL || (unsigned)op >= FLO_XF_OP_COUNT)
        return FLO_EINVAL;
    if (op == FLO_XF_FILL ? x != NULL : !input_ok(out, x))
        return FLO_EINVAL;
    if (op_binary(op) ? !input_ok(out, y) : y != NULL)
        return FLO_EINVAL;
    if (x != NULL && op != FLO_XF_COPY && x->dtype != out->dtype)
        return FLO_EINVAL;
    if (y != NULL && y->dtype != out->dtype)
        return FLO_EINVAL;
    bool need_alpha =
        op == FLO_XF_FILL || op == FLO_XF_SCALE || op == FLO_XF_AXPY;
    if (need_alpha && alpha == NULL)
        return FLO_EINVAL;

    memset(&args, 0, sizeof(args));
    args.op = op;
    args.dt_out = out->dtype;
    args.dt_in = x != NULL ? x->dtype : out->dtype;
    if (need_alpha)
        flo__elem_load(out->dtype, alpha, &args.alpha);

    for (int i = 0; i < out->nblocks; i++) {
        flo_access_desc acc[3];
        flo_task_desc d = FLO_TASK_DESC_INIT;
        if (out->blk[i].count == 0)
            continue;
        d.naccess = block_access(out, x, y, i, acc, &args.ix, &args.iy);
        args.iout = 0;
        args.count = out->blk[i].count;
        d.kernel = &xf_kernel;
        d.access = acc;
        d.args = &args;
        d.args_size = sizeof(args);
        d.on_device = FLO_DEVICE(out->blk[i].device);
        st = flo_task_submit(out->rt, &d, &evs[nev]);
        if (st != FLO_OK)
            return st;
        nev++;
    }
    if (nev == 0) {
        if (ev != NULL)
            *ev = FLO_EVENT_NULL;
        return FLO_OK;
    }
    if (ev == NULL)
        return FLO_OK;
    return flo__algo_join(out->rt, evs, nev, ev);
}

flo_status flo_array_transform_sync(flo_array *out, flo_transform_op op,
                                    flo_array *x, flo_array *y,
                                    const void *alpha)
{
    flo_event ev;
    flo_status st = flo_array_transform(out, op, x, y, alpha, &ev);
    if (st != FLO_OK)
        return st;
    return flo_event_wait(out->rt, ev);
}

flo_status flo_array_fill(flo_array *a, const void *value, flo_event *ev)
{
    return flo_array_transform(a, FLO_XF_FILL, NULL, NULL, value, ev);
}

flo_status flo_array_map(flo_array *out, const flo_array_kernel *k,
                         flo_array *x, flo_array *y, const void *args,
                         size_t args_size, flo_event *ev)
{
    /* The argument blob: header then the user's bytes, aligned for any
     * type the user may store there. */
    union {
        flo__map_args h;
        max_align_t align;
        unsigned char bytes[sizeof(flo__map_args) + FLO_ARRAY_MAX_ARGS];
    } blob;
    flo_event evs[FLO_ARRAY_MAX_BLOCKS];
    int nev = 0;
    flo_status st;

    if (out == NULL || k == NULL || (k->host == NULL && k->cuda == NULL))
        return FLO_EINVAL;
    if (args_size > FLO_ARRAY_MAX_ARGS || (args == NULL && args_size > 0))
        return FLO_EINVAL;
    if ((x != NULL && !input_ok(out, x)) || (y != NULL && !input_ok(out, y)))
        return FLO_EINVAL;
    if (y != NULL && x == NULL)
        return FLO_EINVAL;
    for (int i = 0; i < out->nblocks; i++) {
        /* A host block needs a host entry point; a GPU block falls back
         * to the host when the kernel has no CUDA entry point. */
        if (out->blk[i].count > 0 && !out->blk[i].gpu && k->host == NULL)
            return FLO_EINVAL;
#if !FLO_HAVE_CUDA
        if (out->blk[i].count > 0 && k->host == NULL)
            return FLO_ENOTSUP;
#endif
    }

    memset(&blob.h, 0, sizeof(blob.h));
    blob.h.host = k->host;
    blob.h.cuda = k->cuda;
    blob.h.user_size = args_size;
    if (args_size > 0)
        memcpy(blob.bytes + sizeof(flo__map_args), args, args_size);

    for (int i = 0; i < out->nblocks; i++) {
        flo_access_desc acc[3];
        flo_task_desc d = FLO_TASK_DESC_INIT;
        const flo__ablock *b = &out->blk[i];
        if (b->count == 0)
            continue;
        d.naccess = block_access(out, x, y, i, acc, &blob.h.ix, &blob.h.iy);
        /* A user kernel may read what it writes: keep out's contents. */
        acc[0].mode = FLO_READ_WRITE;
        blob.h.iout = 0;
        blob.h.count = b->count;
        blob.h.offset = b->offset;
        d.access = acc;
        d.args = blob.bytes;
        d.args_size = sizeof(flo__map_args) + args_size;
        d.name = k->name;
        if (b->gpu && k->cuda != NULL) {
            d.kernel = k->host != NULL ? &map_kernel : &map_kernel_cuda;
            d.on_device = FLO_DEVICE(b->device);
        } else {
            d.kernel = &map_kernel;
            d.on_device = FLO_DEVICE(b->gpu ? 0 : b->device);
        }
        st = flo_task_submit(out->rt, &d, &evs[nev]);
        if (st != FLO_OK)
            return st;
        nev++;
    }
    if (ev == NULL)
        return FLO_OK;
    if (nev == 0) {
        *ev = FLO_EVENT_NULL;
        return FLO_OK;
    }
    return flo__algo_join(out->rt, evs, nev, ev);
}
