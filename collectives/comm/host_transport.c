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
 *
 * Everything MPI reads or writes during an exchange (data, counts) is in
 * the communicator's scratch buffer, never in a task's buffer or on its
 * stack: when an exchange fails its request is abandoned to MPI, which a
 * late rank may still complete, and the scratch buffer goes with it
 * (flo__comm_scratch_abandon).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/comm/comm_internal.h"

typedef struct host_state {
    flo__scalar tot[FLO_COMM_MAX_LOCAL]; /* Scan totals (task use only). */
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
    int fault;         /* FLO__CFAULT_* injected (flo__comm_fault). */
    uint32_t stall_ms; /* Its stall. */
    int8_t sidx[FLO_COMM_MAX_LOCAL]; /* Access index of send i, or -1. */
    int8_t ridx[FLO_COMM_MAX_LOCAL]; /* Access index of recv i, or -1. */
    size_t counts[FLO_COMM_MAX_LOCAL];
} host_args;

/* What the collective functions below work on: the task's arguments and
 * buffers, gathered once by host_coll_task. */
typedef struct coll_run {
    const host_args *a;
    flo_comm *c;
    host_state *hs;
    size_t es;    /* Element size. */
    uint64_t tmo; /* Timeout of an MPI exchange (ns). */
    bool mpi;     /* Several ranks: exchange over MPI. */
    void *S[FLO_COMM_MAX_LOCAL], *R[FLO_COMM_MAX_LOCAL]; /* Or NULL. */
    char err[200]; /* Why an exchange failed. */
} coll_run;

/* One collective for this process. Returns FLO_OK; FLO_ENOMEM when the
 * scratch buffer could not grow (nothing was exchanged); another status,
 * with r->err set, when the exchange failed. */
typedef flo_status (*coll_fn)(coll_run *r);

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

/* The local index of the root, or -1 when another rank holds it. */
static int local_root(const coll_run *r)
{
    int rl = r->a->root - r->c->first;

    return rl >= 0 && rl < r->a->nlocal ? rl : -1;
}

/* Reduce the n elements of every local send into the scratch buffer
 * (first, since a receive may alias a send), which is grown to hold
 * extra more bytes after them; *out: the scratch buffer. */
static flo_status reduce_local(coll_run *r, size_t n, size_t extra, void **out)
{
    const host_args *a = r->a;
    void *tmp;
    flo_status st = flo__comm_scratch(r->c, n * r->es + extra, &tmp);

    if (st != FLO_OK)
        return st;
    memcpy(tmp, r->S[0], n * r->es);
    for (int i = 1; i < a->nlocal; i++)
        flo__elem_accum(a->dtype, a->op, tmp, r->S[i], n);
    *out = tmp;
    return FLO_OK;
}

/* Bytes of scratch for the MPI counts and displacements of every rank,
 * placed after `at` bytes of data (rounded up to 8). */
static size_t layout_bytes(const coll_run *r, size_t at)
{
    return (at + 7) / 8 * 8 + 2 * (size_t)r->c->nranks * sizeof(int);
}

/* Write those counts (then the displacements) of a block of per elements
 * for each participant, rank by rank, at byte `at` (rounded up to 8) of
 * the scratch buffer base; returns the counts. */
static int *rank_layout(coll_run *r, void *base, size_t at, size_t per)
{
    const flo_comm *c = r->c;
    int *counts = (int *)((char *)base + (at + 7) / 8 * 8);
    int *displs = counts + c->nranks;

    for (int k = 0; k < c->nranks; k++) {
        counts[k] = (c->rank_first[k + 1] - c->rank_first[k]) * (int)per;
        displs[k] = c->rank_first[k] * (int)per;
    }
    return counts;
}

static flo_status coll_allreduce(coll_run *r)
{
    const host_args *a = r->a;
    flo_status st;
    void *tmp;

    if (a->count == 0)
        return FLO_OK;
    st = reduce_local(r, a->count, 0, &tmp);
    if (st == FLO_OK && r->mpi)
        st = flo__cmpi_allreduce(r->c->mpi, tmp, a->count, a->dtype, a->op,
                                 r->tmo, r->err, sizeof(r->err));
    if (st == FLO_OK)
        for (int i = 0; i < a->nlocal; i++)
            copy_if(r->R[i], tmp, a->count * r->es);
    return st;
}

static flo_status coll_reduce(coll_run *r)
{
    const host_args *a = r->a;
    int rl = local_root(r);
    flo_status st;
    void *tmp;

    if (a->count == 0)
        return FLO_OK;
    st = reduce_local(r, a->count, 0, &tmp);
    if (st == FLO_OK && r->mpi)
        st = flo__cmpi_reduce(r->c->mpi, tmp, a->count, a->dtype, a->op,
                              root_rank(r->c, a->root), r->tmo, r->err,
                              sizeof(r->err));
    if (st == FLO_OK && rl >= 0)
        copy_if(r->R[rl], tmp, a->count * r->es);
    return st;
}

static flo_status coll_bcast(coll_run *r)
{
    const host_args *a = r->a;
    int rl = local_root(r);
    size_t bytes = a->count * r->es;
    flo_status st = FLO_OK;
    void *src;

    if (a->count == 0)
        return FLO_OK;
    if (rl >= 0) {
        src = r->S[rl];
    } else {
        /* Another process holds the root: the data arrives in scratch. */
        st = flo__comm_scratch(r->c, bytes, &src);
        if (st != FLO_OK)
            return st;
    }
    if (r->mpi) {
        void *tmp = src;
        if (rl >= 0) {
            st = flo__comm_scratch(r->c, bytes, &tmp);
            if (st != FLO_OK)
                return st;
            memcpy(tmp, src, bytes);
        }
        st = flo__cmpi_bcast(r->c->mpi, tmp, a->count, a->dtype,
                             root_rank(r->c, a->root), r->tmo, r->err,
                             sizeof(r->err));
    }
    if (st == FLO_OK)
        for (int i = 0; i < a->nlocal; i++)
            if (i != rl)
                copy_if(r->R[i], src, bytes);
    return st;
}

static flo_status coll_allgather(coll_run *r)
{
    const host_args *a = r->a;
    const flo_comm *c = r->c;
    size_t blk = a->count * r->es, total = (size_t)c->size * blk;
    flo_status st;
    void *tmp;

    if (a->count == 0)
        return FLO_OK;
    st = flo__comm_scratch(r->c, r->mpi ? layout_bytes(r, total) : total, &tmp);
    if (st != FLO_OK)
        return st;
    for (int i = 0; i < a->nlocal; i++)
        memcpy((char *)tmp + (size_t)(c->first + i) * blk, r->S[i], blk);
    if (r->mpi) {
        int *counts = rank_layout(r, tmp, total, a->count);
        st = flo__cmpi_allgatherv(c->mpi, tmp, counts, counts + c->nranks,
                                  a->dtype, r->tmo, r->err, sizeof(r->err));
    }
    if (st == FLO_OK)
        for (int i = 0; i < a->nlocal; i++)
            copy_if(r->R[i], tmp, total);
    return st;
}

static flo_status coll_reduce_scatter(coll_run *r)
{
    const host_args *a = r->a;
    const flo_comm *c = r->c;
    size_t n = (size_t)c->size * a->count, blk = a->count * r->es;
    flo_status st;
    char *mine;
    void *tmp;

    if (a->count == 0)
        return FLO_OK;
    /* [0, n): the local reduction; [n, n + nlocal * count): this rank's
     * block after the exchange; then the MPI counts. */
    size_t data = n * r->es + (size_t)a->nlocal * blk;
    st = reduce_local(r, n, layout_bytes(r, data) - n * r->es, &tmp);
    if (st != FLO_OK)
        return st;
    if (r->mpi) {
        int *counts = rank_layout(r, tmp, data, a->count);
        mine = (char *)tmp + n * r->es;
        st = flo__cmpi_reduce_scatter(c->mpi, tmp, mine, counts, a->dtype,
                                      a->op, r->tmo, r->err, sizeof(r->err));
    } else {
        mine = (char *)tmp + (size_t)c->first * blk;
    }
    if (st == FLO_OK)
        for (int i = 0; i < a->nlocal; i++)
            copy_if(r->R[i], mine + (size_t)i * blk, blk);
    return st;
}

/* The totals of the local parts, an exclusive scan of the per-rank
 * totals over MPI (the carry of this rank), then each local part
 * scanned with the running carry. */
static flo_status coll_scan(coll_run *r)
{
    const host_args *a = r->a;
    flo__scalar *tot = r->hs->tot, rank_tot, carry;
    flo_status st = FLO_OK;

    /* Totals first: the scans below may overwrite a send in place. */
    rank_tot = flo__elem_identity(a->dtype, a->op);
    for (int i = 0; i < a->nlocal; i++) {
        tot[i] = flo__elem_fold(a->dtype, a->op, r->S[i], a->counts[i]);
        flo__elem_combine(a->dtype, a->op, &rank_tot, &tot[i]);
    }
    if (r->mpi) {
        /* In and out in scratch (see the head of the file). */
        flo__scalar *x;
        st = flo__comm_scratch(r->c, 2 * sizeof(flo__scalar), (void **)&x);
        if (st != FLO_OK)
            return st;
        x[0] = rank_tot;
        st = flo__cmpi_exscan(r->c->mpi, &x[0], &x[1], a->dtype, a->op, r->tmo,
                              r->err, sizeof(r->err));
        carry = x[1];
    } else {
        carry = flo__elem_identity(a->dtype, a->op);
    }
    if (st != FLO_OK)
        return st;
    for (int i = 0; i < a->nlocal; i++) {
        flo__elem_scan(a->dtype, a->op, a->exclusive != 0, &carry, r->S[i],
                       a->counts[i], r->R[i]);
        flo__elem_combine(a->dtype, a->op, &carry, &tot[i]);
    }
    return FLO_OK;
}

static const coll_fn coll_fns[FLO__COLL_KIND_COUNT] = {
    [FLO__COLL_ALLREDUCE] = coll_allreduce,
    [FLO__COLL_REDUCE] = coll_reduce,
    [FLO__COLL_BCAST] = coll_bcast,
    [FLO__COLL_ALLGATHER] = coll_allgather,
    [FLO__COLL_REDUCE_SCATTER] = coll_reduce_scatter,
    [FLO__COLL_SCAN] = coll_scan,
};

/* Runs on a host worker: the whole collective for this process. */
static void host_coll_task(flo_task_ctx *ctx)
{
    const host_args *a = flo_task_args(ctx, NULL);
    flo_comm *c = a->c;
    coll_run r = {.a = a,
                  .c = c,
                  .hs = c->tpriv,
                  .es = flo_dtype_size(a->dtype),
                  .tmo = flo__comm_timeout_ns(c),
                  .mpi = c->nranks > 1};
    flo_status st;

    if (atomic_load(&c->broken)) {
        flo_task_fail(ctx, FLO_ECOMM, "communicator broken: %s", c->broken_msg);
        return;
    }
    if (a->fault != 0 && flo__comm_fault(c, ctx, a->cid, a->fault, a->stall_ms))
        return;
    for (int i = 0; i < a->nlocal; i++) {
        r.S[i] = a->sidx[i] >= 0 ? flo_task_buffer(ctx, a->sidx[i]) : NULL;
        r.R[i] = a->ridx[i] >= 0 ? flo_task_buffer(ctx, a->ridx[i]) : NULL;
    }
    if (a->kind >= 0 && a->kind < FLO__COLL_KIND_COUNT) {
        st = coll_fns[a->kind](&r);
    } else {
        st = FLO_EINTERNAL;
        snprintf(r.err, sizeof(r.err), "unknown collective %d", a->kind);
    }

    if (st == FLO_ENOMEM) {
        flo_task_fail(ctx, st,
                      "collective: out of host memory for the "
                      "scratch buffer");
    } else if (st != FLO_OK) {
        /* MPI may still use the scratch buffer (an abandoned request). */
        if (r.mpi)
            flo__comm_scratch_abandon(c);
        /* The ranks may now disagree on what was exchanged: no later
         * collective on this communicator can be trusted. */
        flo__comm_break(c, st, a->cid, "collective #%llu: %s",
                        (unsigned long long)a->cid, r.err);
        flo_task_fail(ctx, st, "collective #%llu failed: %s",
                      (unsigned long long)a->cid, r.err);
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
            most =
                op->count > INT_MAX / sz ? (size_t)INT_MAX + 1 : op->count * sz;
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
    a.fault = op->fault;
    a.stall_ms = op->stall_ms;
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
                a.ridx[i] =
                    (int8_t)acc_add(acc, &n, op->recv[i],
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
    c->tpriv = hs;
    return FLO_OK;
}

static void host_fini(flo_comm *c)
{
    free(c->tpriv);
    c->tpriv = NULL;
}

const flo__transport_ops flo__transport_host = {
    .name = "host",
    .init = host_init,
    .fini = host_fini,
    .submit = host_submit,
};
