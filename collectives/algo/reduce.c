/*
 * Flotilla - reductions over arrays: a partial task per non-empty block
 * on the block's device, and (with more than one block) a host task that
 * combines the partials in block order.
 */
#include <string.h>

#include "collectives/algo/algo.h"
#include "collectives/algo/algo_cuda.h"
#include "runtime/internal.h"

static const flo_kernel red_kernel = {
    .name = "flo.array.reduce",
    .host = flo__algo_red_host,
#if FLO_HAVE_CUDA
    .cuda = flo__algo_red_cuda,
#endif
};

static const flo_kernel comb_kernel = {.name = "flo.array.combine",
                                       .host = flo__algo_comb_host};

/* Write a partial into a result buffer: the value slot, and the index for
 * arg reductions (the buffer then has at least 16 bytes). */
static void put_partial(flo_task_ctx *ctx, int i, const flo__partial *p,
                        bool arg)
{
    unsigned char *dst = flo_task_buffer(ctx, i);
    memcpy(dst, &p->value, 8);
    if (arg)
        memcpy(dst + 8, &p->index, 8);
}

void flo__algo_red_host(flo_task_ctx *ctx)
{
    const flo__red_args *a = flo_task_args(ctx, NULL);
    flo_dtype t = (flo_dtype)a->dtype;
    flo_redop op = (flo_redop)a->op;
    const void *in = flo_task_buffer(ctx, 0);
    flo__partial p;

    if (a->arg) {
        flo__elem_argfold(t, op, in, a->count, &p.value, &p.index);
    } else {
        p.value = flo__elem_fold(t, op, in, a->count);
        p.index = -1;
    }
    if (p.index >= 0)
        p.index += (int64_t)a->offset;
    put_partial(ctx, 1, &p, a->arg != 0);
}

#if FLO_HAVE_CUDA
void flo__algo_red_cuda(flo_task_ctx *ctx)
{
    const flo__red_args *a = flo_task_args(ctx, NULL);
    int err = flo__algo_cuda_reduce(
        a->op, a->dtype, a->arg, flo_task_buffer(ctx, 0), a->count, a->offset,
        flo_task_buffer(ctx, 1), flo_task_buffer(ctx, 2),
        flo_task_buffer_size(ctx, 2), flo_task_stream(ctx));
    if (err != 0)
        flo_task_fail(ctx, FLO_EDEVICE, "array reduce: %s",
                      flo__algo_cuda_strerror(err));
}
#endif

void flo__algo_comb_host(flo_task_ctx *ctx)
{
    const flo__comb_args *a = flo_task_args(ctx, NULL);
    flo_redop op = (flo_redop)a->op;
    flo_dtype t = (flo_dtype)a->dtype;
    flo__partial acc;

    acc.value = flo__elem_identity(t, op);
    acc.index = -1;
    for (int i = 0; i < a->nparts; i++) {
        flo__partial p;
        memcpy(&p, flo_task_buffer(ctx, i), sizeof(p));
        if (!a->arg) {
            flo__elem_combine(t, op, &acc.value, &p.value);
            continue;
        }
        /* Blocks come in index order: a strictly better value wins, so
         * the first occurrence of the extremum is kept. */
        bool better = op == FLO_MIN ? flo__elem_less(t, &p.value, &acc.value)
                                    : flo__elem_less(t, &acc.value, &p.value);
        if (acc.index < 0 || better) {
            acc.value = p.value;
            acc.index = p.index;
        }
    }
    put_partial(ctx, a->nparts, &acc, a->arg != 0);
}

flo_status flo__algo_reduce_block(flo_array *a, int b, flo_redop op, bool arg,
                                  flo_data dst, unsigned slot, flo_event *ev)
{
    const flo__ablock *blk = &a->blk[b];
    flo_access_desc acc[3] = {{blk->data, FLO_READ},
                              {dst, FLO_WRITE},
                              {blk->scratch[slot], FLO_WRITE}};
    flo__red_args args = {.op = op,
                          .dtype = a->dtype,
                          .arg = arg,
                          .count = blk->count,
                          .offset = blk->offset};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &red_kernel;
    d.access = acc;
    d.naccess = blk->gpu ? 3 : 2;
    d.args = &args;
    d.args_size = sizeof(args);
    d.on_device = FLO_DEVICE(blk->device);
    return flo_task_submit(a->rt, &d, ev);
}

static flo_status reduce_submit(flo_array *a, flo_redop op, bool arg,
                                flo_data result, flo_event *ev)
{
    flo_access_desc acc[FLO_ARRAY_MAX_BLOCKS + 1];
    flo_event e = FLO_EVENT_NULL;
    flo_status st = FLO_OK;
    size_t bytes;
    int np = 0;

    if (a == NULL || (unsigned)op >= FLO_REDOP_COUNT)
        return FLO_EINVAL;
    if (arg && op != FLO_MIN && op != FLO_MAX)
        return FLO_EINVAL;
    st = flo_data_size(a->rt, result, &bytes);
    if (st != FLO_OK)
        return st == FLO_ESTALE || st == FLO_EFOREIGN ? st : FLO_EINVAL;
    if (bytes < (arg ? (size_t)FLO__PARTIAL_BYTES : 8))
        return FLO_EINVAL;

    unsigned slot = flo__algo_slot(a);
    pthread_mutex_lock(&a->mu);
    if (a->nactive == 1) {
        for (int i = 0; i < a->nblocks; i++)
            if (a->blk[i].count > 0)
                st = flo__algo_reduce_block(a, i, op, arg, result, slot, &e);
        goto out;
    }
    for (int i = 0; i < a->nblocks; i++) {
        if (a->blk[i].count == 0)
            continue;
        st = flo__algo_reduce_block(a, i, op, arg, a->blk[i].partial, slot,
                                    NULL);
        if (st != FLO_OK)
            goto out;
        acc[np].data = a->blk[i].partial;
        acc[np++].mode = FLO_READ;
    }
    acc[np].data = result;
    acc[np].mode = FLO_WRITE;
    flo__comb_args cargs = {
        .op = op, .dtype = a->dtype, .arg = arg, .nparts = np};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &comb_kernel;
    d.access = acc;
    d.naccess = np + 1;
    d.args = &cargs;
    d.args_size = sizeof(cargs);
    d.on_device = FLO_DEVICE(0);
    st = flo_task_submit(a->rt, &d, &e);
out:
    pthread_mutex_unlock(&a->mu);
    if (st == FLO_OK && ev != NULL)
        *ev = e;
    return st;
}

flo_status flo_array_reduce(flo_array *a, flo_redop op, flo_data result,
                            flo_event *ev)
{
    return reduce_submit(a, op, false, result, ev);
}

flo_status flo_array_argreduce(flo_array *a, flo_redop op, flo_data result,
                               flo_event *ev)
{
    return reduce_submit(a, op, true, result, ev);
}

/* Blocking forms: a private 16-byte result handle per call, so that
 * concurrent callers never share one. */
static flo_status reduce_sync(flo_array *a, flo_redop op, bool arg, void *value,
                              int64_t *index)
{
    flo_data res;
    flo_status st, st2;
    void *p;

    if (a == NULL)
        return FLO_EINVAL;
    st = flo_data_alloc(a->rt, FLO__PARTIAL_BYTES, &res);
    if (st != FLO_OK)
        return st;
    st = reduce_submit(a, op, arg, res, NULL);
    if (st != FLO_OK)
        goto out;
    st = flo_data_acquire(a->rt, res, FLO_READ, &p);
    if (st == FLO_OK) {
        if (value != NULL)
            memcpy(value, p, a->esize);
        if (index != NULL)
            memcpy(index, (char *)p + 8, sizeof(*index));
    }
    if (st != FLO_EINVAL && st != FLO_EDEADLK)
        flo_data_release(a->rt, res);
out:
    st2 = flo_data_unregister(a->rt, res);
    return st != FLO_OK ? st : st2;
}

flo_status flo_array_reduce_sync(flo_array *a, flo_redop op, void *value)
{
    if (value == NULL)
        return FLO_EINVAL;
    return reduce_sync(a, op, false, value, NULL);
}

flo_status flo_array_argreduce_sync(flo_array *a, flo_redop op, void *value,
                                    int64_t *index)
{
    return reduce_sync(a, op, true, value, index);
}
