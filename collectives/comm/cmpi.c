/*
 * Flotilla - the MPI side of the collectives, through the MPI transport's
 * ops table (mpi.c) when this build has MPI. This file is the one place
 * that knows: without MPI, every operation that needs it reports
 * FLO_ENOTSUP here. (flo_init refuses cfg.mpi_comm in such a build, so a
 * communicator never reaches the data calls below; they fail cleanly all
 * the same.)
 */
#include <stdio.h>

#include "collectives/comm/comm_internal.h"

static const flo__mpi_ops *const mpi_ops =
#if FLO_HAVE_MPI
    &flo__mpi_transport;
#else
    NULL;
#endif

/* The answer of a data collective without MPI. */
static flo_status no_mpi(char *err, size_t len)
{
    if (err != NULL && len > 0)
        snprintf(err, len, "this build of Flotilla has no MPI");
    return FLO_ENOTSUP;
}

flo_status flo__coll_mpi_setup(flo_runtime *rt)
{
    if (!mpi_ops) {
        FLO__ERR("flo_config.mpi_comm given, but Flotilla was built "
                 "without MPI");
        return FLO_ENOTSUP;
    }
    return mpi_ops->setup(rt);
}

flo_status flo__cmpi_create(flo_runtime *rt, uint64_t timeout_ns,
                            const atomic_int *cancel, flo__cmpi **out)
{
    return mpi_ops ? mpi_ops->create(rt, timeout_ns, cancel, out) : FLO_ENOTSUP;
}

flo_status flo__cmpi_shrink(flo__cmpi *m, const int *exclude, int nexclude,
                            uint64_t timeout_ns, const atomic_int *cancel,
                            flo__cmpi **out, uint8_t *gone)
{
    if (!mpi_ops)
        return FLO_ENOTSUP;
    return mpi_ops->shrink(m, exclude, nexclude, timeout_ns, cancel, out, gone);
}

void flo__cmpi_destroy(flo__cmpi *m)
{
    if (mpi_ops)
        mpi_ops->destroy(m);
}

int flo__cmpi_rank(const flo__cmpi *m)
{
    return mpi_ops ? mpi_ops->rank(m) : 0;
}

int flo__cmpi_size(const flo__cmpi *m)
{
    return mpi_ops ? mpi_ops->size(m) : 1;
}

flo_status flo__cmpi_get(const flo__cmpi *m, flo_mpi_comm *out)
{
    return mpi_ops ? mpi_ops->get(m, out) : FLO_ENOTSUP;
}

flo_status flo__cmpi_allgather_int(flo__cmpi *m, int v, int *all)
{
    return mpi_ops ? mpi_ops->allgather_int(m, v, all) : FLO_ENOTSUP;
}

flo_status flo__cmpi_allreduce_min_int(flo__cmpi *m, int *v)
{
    return mpi_ops ? mpi_ops->allreduce_min_int(m, v) : FLO_ENOTSUP;
}

flo_status flo__cmpi_node_unique(flo__cmpi *m, const uint64_t *ids, int n,
                                 int *unique)
{
    return mpi_ops ? mpi_ops->node_unique(m, ids, n, unique) : FLO_ENOTSUP;
}

flo_status flo__cmpi_bcast_bytes(flo__cmpi *m, void *buf, size_t bytes,
                                 int root)
{
    return mpi_ops ? mpi_ops->bcast_bytes(m, buf, bytes, root) : FLO_ENOTSUP;
}

flo_status flo__cmpi_allreduce(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                               flo_redop op, uint64_t timeout_ns, char *err,
                               size_t len)
{
    if (!mpi_ops)
        return no_mpi(err, len);
    return mpi_ops->allreduce(m, buf, n, t, op, timeout_ns, err, len);
}

flo_status flo__cmpi_reduce(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                            flo_redop op, int root, uint64_t timeout_ns,
                            char *err, size_t len)
{
    if (!mpi_ops)
        return no_mpi(err, len);
    return mpi_ops->reduce(m, buf, n, t, op, root, timeout_ns, err, len);
}

flo_status flo__cmpi_bcast(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                           int root, uint64_t timeout_ns, char *err, size_t len)
{
    if (!mpi_ops)
        return no_mpi(err, len);
    return mpi_ops->bcast(m, buf, n, t, root, timeout_ns, err, len);
}

flo_status flo__cmpi_allgatherv(flo__cmpi *m, void *buf, const int *counts,
                                const int *displs, flo_dtype t,
                                uint64_t timeout_ns, char *err, size_t len)
{
    if (!mpi_ops)
        return no_mpi(err, len);
    return mpi_ops->allgatherv(m, buf, counts, displs, t, timeout_ns, err, len);
}

flo_status flo__cmpi_reduce_scatter(flo__cmpi *m, const void *send, void *recv,
                                    const int *counts, flo_dtype t,
                                    flo_redop op, uint64_t timeout_ns,
                                    char *err, size_t len)
{
    if (!mpi_ops)
        return no_mpi(err, len);
    return mpi_ops->reduce_scatter(m, send, recv, counts, t, op, timeout_ns,
                                   err, len);
}

flo_status flo__cmpi_exscan(flo__cmpi *m, const void *in, void *out,
                            flo_dtype t, flo_redop op, uint64_t timeout_ns,
                            char *err, size_t len)
{
    if (!mpi_ops)
        return no_mpi(err, len);
    return mpi_ops->exscan(m, in, out, t, op, timeout_ns, err, len);
}
