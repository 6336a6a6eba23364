/*
 * Flotilla - prefix scans over arrays.
 *
 * One non-empty block: a single scan task seeded with the carry-in (2n
 * memory traffic). k blocks: reduce-then-scan. Blocks 0..k-2 are reduced
 * in parallel (the last block's total is never needed), one host task
 * scans those totals into per-block carries, and each block is scanned
 * once, seeded with its carry, so no fix-up pass follows: 3n - n/k
 * traffic instead of the 4n of scan-then-fix-up.
 */
#include <string.h>

#include "collectives/algo/algo.h"
#include "collectives/algo/algo_cuda.h"
#include "runtime/internal.h"

static const flo_kernel scan_kernel = {
    .name = "flo.array.scan",
    .host = flo__algo_scan_host,
#if FLO_HAVE_CUDA
    .cuda = flo__algo_scan_cuda,
#endif
};

static const flo_kernel carry_kernel = {.name = "flo.array.carry",
                                        .host = flo__algo_carry_host};

void flo__algo_carry_host(flo_task_ctx *ctx)
{
    const flo__carry_args *a = flo_task_args(ctx, NULL);
    flo_redop op = (flo_redop)a->op;
    flo_dtype t = (flo_dtype)a->dtype;
    int last = a->nparts + (a->carry_mode == FLO__CARRY_DATA ? 1 : 0);
    unsigned char *slots = flo_task_buffer(ctx, last);
    flo__scalar c;

    if (a->carry_mode == FLO__CARRY_DATA)
        flo__elem_load(t, flo_task_buffer(ctx, a->nparts), &c);
    else if (a->carry_mode == FLO__CARRY_VALUE)
        c = a->carry;
    else
        c = flo__elem_identity(t, op);
    /* Carries accumulate left to right, in block order. */
    memcpy(slots, &c, 8);
    for (int i = 0; i < a->nparts; i++) {
        flo__scalar p;
        memcpy(&p, flo_task_buffer(ctx, i), sizeof(p));
        flo__elem_combine(t, op, &c, &p);
        memcpy(slots + 8 * (size_t)(i + 1), &c, 8);
    }
}

void flo__algo_scan_host(flo_task_ctx *ctx)
{
    const flo__scan_args *a = flo_task_args(ctx, NULL);
    flo_dtype t = (flo_dtype)a->dtype;
    flo__scalar c;

    if (a->icarry >= 0) {
        const unsigned char *s = flo_task_buffer(ctx, a->icarry);
        flo__elem_load(t, s + 8 * (size_t)a->carry_slot, &c);
    } else if (a->has_value) {
        c = a->carry;
    } else {
        c = flo__elem_identity(t, (flo_redop)a->op);
    }
    flo__elem_scan(t, (flo_redop)a->op, a->exclusive != 0, &c,
                   flo_task_buffer(ctx, a->iin), a->count,
                   flo_task_buffer(ctx, a->iout));
}

#if FLO_HAVE_CUDA
void flo__algo_scan_cuda(flo_task_ctx *ctx)
{
    const flo__scan_args *a = flo_task_args(ctx, NULL);
    const void *cdev = NULL;
    if (a->icarry >= 0)
        cdev = (const unsigned char *)flo_task_buffer(ctx, a->icarry) +
               8 * (size_t)a->carry_slot;
    int err = flo__algo_cuda_scan(
        a->op, a->dtype, a->exclusive, flo_task_buffer(ctx, a->iin),
        flo_task_buffer(ctx, a->iout), a->count, cdev,
        a->has_value ? &a->carry : NULL, flo_task_buffer(ctx, a->iscratch),
        flo_task_buffer_size(ctx, a->iscratch), flo_task_stream(ctx));
    if (err != 0)
        flo_task_fail(ctx, FLO_EDEVICE, "array scan: %s",
                      flo__algo_cuda_strerror(err));
}
#endif

/* Submit the scan task of block b. carry: a handle and slot, or
 * FLO_DATA_NULL with (value or NULL). */
static flo_status scan_block(flo_array *out, flo_array *x, int b,
                             const flo__scan_args *proto, flo_data carry,
                             uint32_t slot, unsigned scratch, flo_event *ev)
{
    const flo__ablock *xb = &x->blk[b];
    flo_access_desc acc[4];
    flo__scan_args args = *proto;
    int n = 0;

    acc[n].data = xb->data;
    acc[n++].mode = out == x ? FLO_READ_WRITE : FLO_READ;
    args.iin = 0;
    args.iout = 0;
    if (out != x) {
        args.iout = n;
        acc[n].data = out->blk[b].data;
        acc[n++].mode = FLO_WRITE;
    }
    args.icarry = -1;
    if (carry.id != 0) {
        args.icarry = n;
        args.carry_slot = slot;
        acc[n].data = carry;
        acc[n++].mode = FLO_READ;
    }
    args.iscratch = -1;
    if (out->blk[b].gpu) {
        args.iscratch = n;
        acc[n].data = out->blk[b].scratch[scratch];
        acc[n++].mode = FLO_WRITE;
    }
    args.count = xb->count;
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &scan_kernel;
    d.access = acc;
    d.naccess = n;
    d.args = &args;
    d.args_size = sizeof(args);
    d.on_device = FLO_DEVICE(out->blk[b].device);
    return flo_task_submit(out->rt, &d, ev);
}

static flo_status scan_submit(flo_array *out, flo_array *x, flo_redop op,
                              flo_scan_kind kind, const void *carry_val,
                              flo_data carry_data, flo_event *ev)
{
    int act[FLO_ARRAY_MAX_BLOCKS], m = 0;
    flo_event evs[FLO_ARRAY_MAX_BLOCKS];
    flo__scan_args proto;
    flo_status st = FLO_OK;

    if (out == NULL || x == NULL || (unsigned)op >= FLO_REDOP_COUNT)
        return FLO_EINVAL;
    if (kind != FLO_SCAN_INCLUSIVE && kind != FLO_SCAN_EXCLUSIVE)
        return FLO_EINVAL;
    if (out->dtype != x->dtype || !flo__array_same_shape(out, x))
        return FLO_EINVAL;
    if (carry_data.id != 0) {
        size_t bytes;
        st = flo_data_size(out->rt, carry_data, &bytes);
        if (st != FLO_OK)
            return st == FLO_ESTALE || st == FLO_EFOREIGN ? st : FLO_EINVAL;
        if (bytes < x->esize)
            return FLO_EINVAL;
    }
    for (int i = 0; i < x->nblocks; i++)
        if (x->blk[i].count > 0)
            act[m++] = i;

    memset(&proto, 0, sizeof(proto));
    proto.op = op;
    proto.dtype = x->dtype;
    proto.exclusive = kind == FLO_SCAN_EXCLUSIVE;
    if (carry_val != NULL && carry_data.id == 0) {
        proto.has_value = 1;
        flo__elem_load(x->dtype, carry_val, &proto.carry);
    }

    if (m == 0) {
        if (ev != NULL)
            *ev = FLO_EVENT_NULL;
        return FLO_OK;
    }
    unsigned sslot = flo__algo_slot(x);
    if (m == 1) {
        flo_event e;
        st = scan_block(out, x, act[0], &proto, carry_data, 0, sslot, &e);
        if (st == FLO_OK && ev != NULL)
            *ev = e;
        return st;
    }

    /* The partial and carry handles are x's: hold x's lock so that
     * another algorithm on x cannot interleave its tasks on them. */
    pthread_mutex_lock(&x->mu);
    flo_access_desc cacc[FLO_ARRAY_MAX_BLOCKS + 2];
    int nc = 0;
    for (int j = 0; j + 1 < m; j++) {
        st = flo__algo_reduce_block(x, act[j], op, false,
                                    x->blk[act[j]].partial, sslot, NULL);
        if (st != FLO_OK)
            goto out;
        cacc[nc].data = x->blk[act[j]].partial;
        cacc[nc++].mode = FLO_READ;
    }
    flo__carry_args cargs = {.op = op, .dtype = x->dtype, .nparts = m - 1};
    cargs.carry_mode = carry_data.id != 0 ? FLO__CARRY_DATA
                       : proto.has_value  ? FLO__CARRY_VALUE
                                          : FLO__CARRY_NONE;
    cargs.carry = proto.carry;
    if (carry_data.id != 0) {
        cacc[nc].data = carry_data;
        cacc[nc++].mode = FLO_READ;
    }
    cacc[nc].data = x->carries;
    cacc[nc++].mode = FLO_WRITE;
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &carry_kernel;
    d.access = cacc;
    d.naccess = nc;
    d.args = &cargs;
    d.args_size = sizeof(cargs);
    d.on_device = FLO_DEVICE(0);
    st = flo_task_submit(x->rt, &d, NULL);
    if (st != FLO_OK)
        goto out;
    proto.has_value = 0;
    for (int j = 0; j < m; j++) {
        st = scan_block(out, x, act[j], &proto, x->carries, (uint32_t)j, sslot,
                        &evs[j]);
        if (st != FLO_OK)
            goto out;
    }
    if (ev != NULL)
        st = flo__algo_join(x->rt, evs, m, ev);
out:
    pthread_mutex_unlock(&x->mu);
    return st;
}

flo_status flo_array_scan(flo_array *out, flo_array *x, flo_redop op,
                          flo_scan_kind kind, const void *carry_in,
                          flo_event *ev)
{
    return scan_submit(out, x, op, kind, carry_in, FLO_DATA_NULL, ev);
}

flo_status flo_array_scan_carry(flo_array *out, flo_array *x, flo_redop op,
                                flo_scan_kind kind, flo_data carry,
                                flo_event *ev)
{
    if (carry.id == 0)
        return FLO_EINVAL;
    return scan_submit(out, x, op, kind, NULL, carry, ev);
}

flo_status flo_array_scan_sync(flo_array *out, flo_array *x, flo_redop op,
                               flo_scan_kind kind, const void *carry_in)
{
    flo_event ev;
    flo_status st = flo_array_scan(out, x, op, kind, carry_in, &ev);
    if (st != FLO_OK)
        return st;
    return flo_event_wait(out->rt, ev);
}
