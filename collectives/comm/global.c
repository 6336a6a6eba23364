/*
 * Flotilla - reduce and scan of arrays spread across ranks, built on the
 * public array algorithms: local reduce -> all-reduce of the per-rank
 * value; local total -> exclusive scan of the totals between ranks ->
 * local scan seeded with that carry.
 *
 * The exchange between ranks is a host task accessing the value's handle
 * and the host's sequence handle, submitted under the runtime-wide
 * submission lock like every other collective, so it takes its place in
 * the one order all ranks follow.
 */
#include <string.h>

#include "collectives/comm/comm_internal.h"

enum { GLOBAL_ALLREDUCE = 0, GLOBAL_EXSCAN = 1 };

typedef struct global_args {
    flo_comm *c;
    uint64_t cid;
    int kind;
    flo_dtype dtype;
    flo_redop op;
    int fault;         /* FLO__CFAULT_* injected (flo__comm_fault). */
    uint32_t stall_ms; /* Its stall. */
} global_args;

static void global_task(flo_task_ctx *ctx)
{
    const global_args *a = flo_task_args(ctx, NULL);
    flo_comm *c = a->c;
    void *buf = flo_task_buffer(ctx, 0);
    uint64_t tmo = flo__comm_timeout_ns(c);
    size_t es = flo_dtype_size(a->dtype);
    char err[200] = "";
    flo__scalar *x;
    flo_status st;

    if (atomic_load(&c->broken)) {
        flo_task_fail(ctx, FLO_ECOMM, "communicator broken: %s", c->broken_msg);
        return;
    }
    if (a->fault != 0 && flo__comm_fault(c, ctx, a->cid, a->fault, a->stall_ms))
        return;
    /* MPI works in the communicator's scratch buffer (host tasks of c
     * are serialised), which an abandoned exchange keeps. */
    if (flo__comm_scratch(c, 2 * sizeof(flo__scalar), (void **)&x) != FLO_OK) {
        flo_task_fail(ctx, FLO_ENOMEM, "collective #%llu: out of memory",
                      (unsigned long long)a->cid);
        return;
    }
    memcpy(&x[0], buf, es);
    if (a->kind == GLOBAL_ALLREDUCE)
        st = flo__cmpi_allreduce(c->mpi, &x[0], 1, a->dtype, a->op, tmo, err,
                                 sizeof(err));
    else
        st = flo__cmpi_exscan(c->mpi, &x[0], &x[1], a->dtype, a->op, tmo, err,
                              sizeof(err));
    if (st == FLO_OK) {
        memcpy(buf, &x[a->kind == GLOBAL_ALLREDUCE ? 0 : 1], es);
    } else {
        flo__comm_scratch_abandon(c);
        flo__comm_break(c, st, a->cid, "collective #%llu: %s",
                        (unsigned long long)a->cid, err);
        flo_task_fail(ctx, st, "collective #%llu failed: %s",
                      (unsigned long long)a->cid, err);
    }
}

static const flo_kernel global_kernels[2] = {
    {.name = "array_allreduce_ranks", .host = global_task},
    {.name = "array_exscan_ranks", .host = global_task},
};

/* Submit the exchange between ranks on h. Caller holds submit_mu. */
static flo_status submit_exchange(flo_comm *c, int kind, flo_dtype t,
                                  flo_redop op, flo_data h, flo_event *ev)
{
    flo_access_desc acc[2] = {{h, FLO_READ_WRITE},
                              {c->reg->seq[0], FLO_READ_WRITE}};
    flo_task_desc desc = FLO_TASK_DESC_INIT;
    global_args a = {
        .c = c, .cid = c->ncoll, .kind = kind, .dtype = t, .op = op};
    flo_status st;

    flo__comm_fault_pick(c, &a.fault, &a.stall_ms);

    desc.kernel = &global_kernels[kind];
    desc.access = acc;
    desc.naccess = 2;
    desc.args = &a;
    desc.args_size = sizeof(a);
    desc.on_device = FLO_DEVICE(0);
    desc.callback = flo__comm_task_done;
    desc.callback_arg = c;
    st = flo__comm_submit(c, &desc, ev);
    if (st != FLO_OK) {
        /* The local part is in but the exchange is not: the other ranks
         * would wait for this one. */
        flo__comm_break(c, st, c->ncoll,
                        "submitting the exchange of "
                        "collective #%llu failed: %s",
                        (unsigned long long)c->ncoll, flo_status_str(st));
        return st;
    }
    c->ncoll++;
    return FLO_OK;
}

flo_status flo_array_reduce_global(flo_comm *c, flo_array *a, flo_redop op,
                                   flo_data result, flo_event *ev)
{
    flo_dtype t;
    size_t bytes;
    flo_status st;

    if (c == NULL || a == NULL || (unsigned)op >= FLO_REDOP_COUNT)
        return FLO_EINVAL;
    t = flo_array_dtype(a);
    if ((unsigned)t >= FLO_DTYPE_COUNT)
        return FLO_EINVAL;
    st = flo_data_size(c->rt, result, &bytes);
    if (st != FLO_OK)
        return st;
    if (bytes < 8)
        return FLO_EINVAL;

    pthread_mutex_lock(&c->reg->submit_mu);
    if (atomic_load(&c->broken)) {
        st = FLO_ECOMM;
        goto out;
    }
    st = flo_array_reduce(a, op, result, c->nranks > 1 ? NULL : ev);
    if (st == FLO_OK && c->nranks > 1)
        st = submit_exchange(c, GLOBAL_ALLREDUCE, t, op, result, ev);
out:
    pthread_mutex_unlock(&c->reg->submit_mu);
    return st;
}

flo_status flo_array_reduce_global_sync(flo_comm *c, flo_array *a, flo_redop op,
                                        void *value)
{
    uint64_t buf = 0;
    flo_data h;
    flo_event ev;
    flo_status st, st2;

    if (c == NULL || value == NULL)
        return FLO_EINVAL;
    st = flo_data_register(c->rt, &buf, sizeof(buf), &h);
    if (st != FLO_OK)
        return st;
    st = flo_array_reduce_global(c, a, op, h, &ev);
    if (st == FLO_OK)
        st = flo_event_wait(c->rt, ev);
    /* Unregister writes the result back into buf. */
    st2 = flo_data_unregister(c->rt, h);
    if (st == FLO_OK)
        st = st2;
    if (st == FLO_OK)
        memcpy(value, &buf, flo_dtype_size(flo_array_dtype(a)));
    return st;
}

/* out and x must have the same type and block boundaries, or the local
 * scan would refuse them after the exchange was submitted. */
static flo_status check_scan_arrays(flo_array *out, flo_array *x)
{
    int nb = flo_array_nblocks(x);

    if (flo_array_dtype(out) != flo_array_dtype(x) ||
        (unsigned)flo_array_dtype(x) >= FLO_DTYPE_COUNT ||
        flo_array_size(out) != flo_array_size(x) ||
        flo_array_nblocks(out) != nb)
        return FLO_EINVAL;
    for (int i = 0; i < nb; i++) {
        flo_array_block_info bo, bx;
        if (flo_array_block(out, i, &bo) != FLO_OK ||
            flo_array_block(x, i, &bx) != FLO_OK || bo.offset != bx.offset ||
            bo.count != bx.count)
            return FLO_EINVAL;
    }
    return FLO_OK;
}

flo_status flo_array_scan_global(flo_comm *c, flo_array *out, flo_array *x,
                                 flo_redop op, flo_scan_kind kind,
                                 flo_event *ev)
{
    flo_dtype t;
    flo_status st;

    if (c == NULL || out == NULL || x == NULL ||
        (unsigned)op >= FLO_REDOP_COUNT ||
        (kind != FLO_SCAN_INCLUSIVE && kind != FLO_SCAN_EXCLUSIVE))
        return FLO_EINVAL;
    st = check_scan_arrays(out, x);
    if (st != FLO_OK)
        return st;
    t = flo_array_dtype(x);

    pthread_mutex_lock(&c->reg->submit_mu);
    if (atomic_load(&c->broken)) {
        st = FLO_ECOMM;
        goto out;
    }
    if (c->nranks == 1) {
        st = flo_array_scan(out, x, op, kind, NULL, ev);
        goto out;
    }
    if (c->gtotal.id == 0) {
        st = flo_data_alloc(c->rt, 8, &c->gtotal);
        if (st != FLO_OK)
            goto out;
    }
    st = flo_array_reduce(x, op, c->gtotal, NULL);
    if (st != FLO_OK)
        goto out;
    st = submit_exchange(c, GLOBAL_EXSCAN, t, op, c->gtotal, NULL);
    if (st != FLO_OK)
        goto out;
    st = flo_array_scan_carry(out, x, op, kind, c->gtotal, ev);
    if (st != FLO_OK)
        flo__comm_break(c, st, c->ncoll,
                        "local scan of a global scan not "
                        "submitted: %s",
                        flo_status_str(st));
out:
    pthread_mutex_unlock(&c->reg->submit_mu);
    return st;
}
