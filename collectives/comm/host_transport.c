/*
 * Flotilla - the host transport: shared memory within the process, MPI
 * between processes.
 *
 * A collective is one host task that accesses every local participant's
 * send and receive handles (the runtime brings them to host memory) and
 * the host's hidden sequence handle (flo__coll_reg.seq[0]) in READ_WRITE
 * mode. The sequence handle serialises the host collectives of every
 * communicator in submission order, which is what lets the task use MPI
 * collectives (every rank issues them in the same order) and the
 * communicator's scratch buffer without a lock. Because the local
 * exchange happens inside one task, no task ever waits for another one to
 * arrive: the transport cannot deadlock however few host workers there
 * are.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/comm/comm_internal.h"

typedef struct host_state {
    int *mcounts;   /* nranks entries: MPI counts (task use only). */
    int *mdispls;
    flo__scalar tot[FLO_COMM_MAX_LOCAL]; /* Scan totals. */
} host_state;

/* The task's argument blob (copied at submit). */
typedef struct host_args {
    flo_comm *c;
    uint64_t cid;
    int kind;
    flo_dtype dtype;
    flo_redop op;
    int root;
    int exclusive;
    int nlocal;
    size_t count;
    int8_t sidx[FLO_COMM_MAX_LOCAL]; /* Access index of send i, or -1. */
    int8_t ridx[FLO_COMM_MAX_LOCAL]; /* Access index of recv i, or -1. */
    size_t counts[FLO_COMM_MAX_LOCAL];
} host_args;

static void copy_if(void *dst, const void *src, size_t bytes)
{
    if (dst != src && bytes > 0)
        memcpy(dst, src, bytes);
}

static int root_rank(const flo_comm *c, int root)
{
    int r = 0;

    while (r + 1 < c->nranks && c->rank_first[r + 1] <= root)
        r++;
    return r;
}

/* Runs on a host worker: the whole collective for this process. */
static void host_coll_task(flo_task_ctx *ctx)
{
    const host_args *a = flo_task_args(ctx, NULL);
    flo_comm *c = a->c;
    host_state *hs = c->tpriv;
    size_t es = flo_dtype_size(a->dtype);
    uint64_t tmo = flo__comm_timeout_ns(c);
    bool mpi = c->nranks > 1;
    char err[200] = "";
    flo_status st = FLO_OK;
    void *tmp = NULL;
    void *S[FLO_COMM_MAX_LOCAL], *R[FLO_COMM_MAX_LOCAL];

    if (atomic_load(&c->broken)) {
        flo_task_fail(ctx, FLO_ECOMM, "communicator broken: %s",
                      c->broken_msg);
        return;
    }
    for (int i = 0; i < a->nlocal; i++) {
        S[i] = a->sidx[i] >= 0 ? flo_task_buffer(ctx, a->sidx[i]) : NULL;
        R[i] = a->ridx[i] >= 0 ? flo_task_buffer(ctx, a->ridx[i]) : NULL;
    }

    switch (a->kind) {
    case FLO__COLL_ALLREDUCE:
    case FLO__COLL_REDUCE: {
        size_t bytes = a->count * es;
        int rl = a->root - c->first;
        if (a->count == 0)
            break;
        st = flo__comm_scratch(c, bytes, &tmp);
        if (st != FLO_OK)
            break;
        /* Reduce into scratch first: a recv may alias a send. */
        memcpy(tmp, S[0], bytes);
        for (int i = 1; i < a->nlocal; i++)
            flo__elem_accum(a->dtype, a->op, tmp, S[i], a->count);
        if (a->kind == FLO__COLL_ALLREDUCE) {
            if (mpi)
                st = flo__cmpi_allreduce(c->mpi, tmp, a->count, a->dtype,
                                         a->op, tmo, err, sizeof(err));
            if (st == FLO_OK)
                for (int i = 0; i < a->nlocal; i++)
                    copy_if(R[i], tmp, bytes);
        } else {
            if (mpi)
                st = flo__cmpi_reduce(c->mpi, tmp, a->count, a->dtype,
                                      a->op, root_rank(c, a->root), tmo,
                                      err, sizeof(err));
            if (st == FLO_OK && rl >= 0 && rl < a->nlocal)
                copy_if(R[rl], tmp, bytes);
        }
        break;
    }
    case FLO__COLL_BCAST: {
        size_t bytes = a->count * es;
        int rl = a->root - c->first;
        bool local_root = rl >= 0 && rl < a->nlocal;
        void *src;
        if (a->count == 0)
            break;
        /* Non-root processes receive into their first buffer. */
        src = local_root ? S[rl] : R[0];
        if (mpi)
            st = flo__cmpi_bcast(c->mpi, src, a->count, a->dtype,
                                 root_rank(c, a->root), tmo, err,
                                 sizeof(err));
        if (st == FLO_OK)
            for (int i = 0; i < a->nlocal; i++)
                if (i != rl)
                    copy_if(R[i], src, bytes);
        break;
    }
    case FLO__COLL_ALLGATHER: {
        size_t blk = a->count * es;
        size_t total = (size_t)c->size * blk;
        if (a->count == 0)
            break;
        st = flo__comm_scratch(c, total, &tmp);
        if (st != FLO_OK)
            break;
        for (int i = 0; i < a->nlocal; i++)
            memcpy((char *)tmp + (size_t)(c->first + i) * blk, S[i], blk);
        if (mpi) {
            for (int r = 0; r < c->nranks; r++) {
                hs->mcounts[r] = (c->rank_first[r + 1] - c->rank_first[r]) *
                                 (int)a->count;
                hs->mdispls[r] = c->rank_first[r] * (int)a->count;
            }
            st = flo__cmpi_allgatherv(c->mpi, tmp, hs->mcounts, hs->mdispls,
                                      a->dtype, tmo, err, sizeof(err));
        }
        if (st == FLO_OK)
            for (int i = 0; i < a->nlocal; i++)
                copy_if(R[i], tmp, total);
        break;
    }
    case FLO__COLL_REDUCE_SCATTER: {
        size_t n = (size_t)c->size * a->count;
        size_t blk = a->count * es;
        char *mine;
        if (a->count == 0)
            break;
        /* [0, n): the local reduction; [n, n + nlocal * count): this
         * rank's block after the exchange. */
        st = flo__comm_scratch(c, (n + (size_t)a->nlocal * a->count) * es,
                               &tmp);
        if (st != FLO_OK)
            break;
        memcpy(tmp, S[0], n * es);
        for (int i = 1; i < a->nlocal; i++)
            flo__elem_accum(a->dtype, a->op, tmp, S[i], n);
        if (mpi) {
            mine = (char *)tmp + n * es;
            for (int r = 0; r < c->nranks; r++)
                hs->mcounts[r] = (c->rank_first[r + 1] - c->rank_first[r]) *
                                 (int)a->count;
            st = flo__cmpi_reduce_scatter(c->mpi, tmp, mine, hs->mcounts,
                                          a->dtype, a->op, tmo, err,
                                          sizeof(err));
        } else {
            mine = (char *)tmp + (size_t)c->first * blk;
        }
        if (st == FLO_OK)
            for (int i = 0; i < a->nlocal; i++)
                copy_if(R[i], mine + (size_t)i * blk, blk);
        break;
    }
    case FLO__COLL_SCAN: {
        flo__scalar rank_tot, carry;
        /* Totals first: the scans below may overwrite a send in place. */
        rank_tot = flo__elem_identity(a->dtype, a->op);
        for (int i = 0; i < a->nlocal; i++) {
            hs->tot[i] = flo__elem_fold(a->dtype, a->op, S[i], a->counts[i]);
            flo__elem_combine(a->dtype, a->op, &rank_tot, &hs->tot[i]);
        }
        if (mpi)
            st = flo__cmpi_exscan(c->mpi, &rank_tot, &carry, a->dtype, a->op,
                                  tmo, err, sizeof(err));
        else
            carry = flo__elem_identity(a->dtype, a->op);
        if (st != FLO_OK)
            break;
        for (int i = 0; i < a->nlocal; i++) {
            flo__elem_scan(a->dtype, a->op, a->exclusive != 0, &carry, S[i],
                           a->counts[i], R[i]);
            flo__elem_combine(a->dtype, a->op, &carry, &hs->tot[i]);
        }
        break;
    }
    default:
        st = FLO_EINTERNAL;
        snprintf(err, sizeof(err), "unknown collective %d", a->kind);
        break;
    }

    if (st == FLO_ENOMEM) {
        flo_task_fail(ctx, st, "collective: out of host memory for the "
                      "scratch buffer");
    } else if (st != FLO_OK) {
        /* The ranks may now disagree on what was exchanged: no later
         * collective on this communicator can be trusted. */
        flo__comm_break(c, st, a->cid, "collective #%llu: %s",
                        (unsigned long long)a->cid, err);
        flo_task_fail(ctx, st, "collective #%llu failed: %s",
                      (unsigned long long)a->cid, err);
    }
}

static const flo_kernel host_kernels[FLO__COLL_KIND_COUNT] = {
    {.name = "allreduce", .host = host_coll_task},
    {.name = "reduce", .host = host_coll_task},
    {.name = "broadcast", .host = host_coll_task},
    {.name = "allgather", .host = host_coll_task},
    {.name = "reduce_scatter", .host = host_coll_task},
    {.name = "scan", .host = host_coll_task},
};

/* Append (h, mode) to the access list, merging with an earlier entry for
 * the same handle; returns its index. */
static int acc_add(flo_access_desc *acc, int *n, flo_data h, flo_access m)
{
    for (int i = 0; i < *n; i++) {
        if (acc[i].data.id == h.id) {
            acc[i].mode = (flo_access)(acc[i].mode | m);
            return i;
        }
    }
    acc[*n].data = h;
    acc[*n].mode = m;
    return (*n)++;
}

static flo_status host_submit(flo_comm *c, const flo__coll_op *op,
                              flo_event *out)
{
    flo_access_desc acc[2 * FLO_COMM_MAX_LOCAL + 1];
    flo_task_desc desc = FLO_TASK_DESC_INIT;
    host_args a;
    size_t es = flo_dtype_size(op->dtype);
    size_t sz = (size_t)c->size;
    int n = 0;

    if (c->nranks > 1) {
        /* MPI counts are ints. */
        size_t most = op->count;
        if (op->kind == FLO__COLL_ALLGATHER ||
            op->kind == FLO__COLL_REDUCE_SCATTER)
            most = op->count > INT_MAX / sz ? (size_t)INT_MAX + 1
                                            : op->count * sz;
        if (most > INT_MAX)
            return FLO_ERANGE;
    }

    memset(&a, 0, sizeof(a));
    a.c = c;
    a.cid = c->ncoll;
    a.kind = op->kind;
    a.dtype = op->dtype;
    a.op = op->op;
    a.root = op->root;
    a.exclusive = op->exclusive;
    a.nlocal = c->nlocal;
    a.count = op->count;
    for (int i = 0; i < c->nlocal; i++) {
        int p = c->first + i;
        size_t ns = op->count * es, nr = op->count * es;
        if (op->kind == FLO__COLL_ALLGATHER)
            nr *= sz;
        else if (op->kind == FLO__COLL_REDUCE_SCATTER)
            ns *= sz;
        else if (op->kind == FLO__COLL_SCAN)
            ns = nr = op->counts[i] * es;
        a.counts[i] = op->kind == FLO__COLL_SCAN ? op->counts[i] : 0;
        a.sidx[i] = a.ridx[i] = -1;
        if (op->kind == FLO__COLL_BCAST) {
            if (p == op->root)
                a.sidx[i] = (int8_t)acc_add(acc, &n, op->send[i], FLO_READ);
            else
                a.ridx[i] = (int8_t)acc_add(
                    acc, &n, op->recv[i],
                    flo__comm_write_mode(c, op->recv[i], nr));
            continue;
        }
        a.sidx[i] = (int8_t)acc_add(acc, &n, op->send[i], FLO_READ);
        if (op->kind == FLO__COLL_REDUCE && p != op->root)
            continue;
        a.ridx[i] = (int8_t)acc_add(acc, &n, op->recv[i],
                                    flo__comm_write_mode(c, op->recv[i], nr));
    }
    acc_add(acc, &n, c->reg->seq[0], FLO_READ_WRITE);

    desc.kernel = &host_kernels[op->kind];
    desc.access = acc;
    desc.naccess = n;
    desc.args = &a;
    desc.args_size = sizeof(a);
    desc.on_device = FLO_DEVICE(0);
    desc.callback = flo__comm_task_done;
    desc.callback_arg = c;
    return flo__comm_submit(c, &desc, out);
}

static flo_status host_init(flo_comm *c)
{
    host_state *hs = calloc(1, sizeof(*hs));

    if (hs == NULL)
        return FLO_ENOMEM;
    hs->mcounts = calloc((size_t)c->nranks, sizeof(int));
    hs->mdispls = calloc((size_t)c->nranks, sizeof(int));
    if (hs->mcounts == NULL || hs->mdispls == NULL) {
        free(hs->mdispls);
        free(hs->mcounts);
        free(hs);
        return FLO_ENOMEM;
    }
    c->tpriv = hs;
    return FLO_OK;
}

static void host_fini(flo_comm *c)
{
    host_state *hs = c->tpriv;

    if (hs == NULL)
        return;
    free(hs->mdispls);
    free(hs->mcounts);
    free(hs);
    c->tpriv = NULL;
}

const flo__transport_ops flo__transport_host = {
    .name = "host",
    .init = host_init,
    .fini = host_fini,
    .submit = host_submit,
};
