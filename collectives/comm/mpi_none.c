/*
 * Flotilla - the MPI layer of a build without MPI: every operation that
 * needs MPI reports FLO_ENOTSUP. (flo_init refuses cfg.mpi_comm in such a
 * build, so a communicator never reaches the data calls below; they fail
 * cleanly all the same.)
 */
#include <stdio.h>

#include "collectives/comm/comm_internal.h"

flo_status flo__cmpi_create(flo_runtime *rt, flo__cmpi **out)
{
    FLO__UNUSED(rt);
    FLO__UNUSED(out);
    return FLO_ENOTSUP;
}

void flo__cmpi_destroy(flo__cmpi *m)
{
    FLO__UNUSED(m);
}

int flo__cmpi_rank(const flo__cmpi *m)
{
    FLO__UNUSED(m);
    return 0;
}

int flo__cmpi_size(const flo__cmpi *m)
{
    FLO__UNUSED(m);
    return 1;
}

flo_status flo__cmpi_get(const flo__cmpi *m, flo_mpi_comm *out)
{
    FLO__UNUSED(m);
    FLO__UNUSED(out);
    return FLO_ENOTSUP;
}

flo_status flo__cmpi_allgather_int(flo__cmpi *m, int v, int *all)
{
    FLO__UNUSED(m);
    FLO__UNUSED(v);
    FLO__UNUSED(all);
    return FLO_ENOTSUP;
}

flo_status flo__cmpi_allreduce_min_int(flo__cmpi *m, int *v)
{
    FLO__UNUSED(m);
    FLO__UNUSED(v);
    return FLO_ENOTSUP;
}

flo_status flo__cmpi_node_unique(flo__cmpi *m, const uint64_t *ids, int n,
                                 int *unique)
{
    FLO__UNUSED(m);
    FLO__UNUSED(ids);
    FLO__UNUSED(n);
    FLO__UNUSED(unique);
    return FLO_ENOTSUP;
}

flo_status flo__cmpi_bcast_bytes(flo__cmpi *m, void *buf, size_t bytes,
                                 int root)
{
    FLO__UNUSED(m);
    FLO__UNUSED(buf);
    FLO__UNUSED(bytes);
    FLO__UNUSED(root);
    return FLO_ENOTSUP;
}

#define NO_MPI(...)                                                        \
    do {                                                                   \
        if (err != NULL && len > 0)                                        \
            snprintf(err, len, "this build of Flotilla has no MPI");       \
        return FLO_ENOTSUP;                                                \
    } while (0)

flo_status flo__cmpi_allreduce(flo__cmpi *m, void *buf, size_t n,
                               flo_dtype t, flo_redop op,
                               uint64_t timeout_ns, char *err, size_t len)
{
    (void)m, (void)buf, (void)n, (void)t, (void)op, (void)timeout_ns;
    NO_MPI();
}

flo_status flo__cmpi_reduce(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                            flo_redop op, int root, uint64_t timeout_ns,
                            char *err, size_t len)
{
    (void)m, (void)buf, (void)n, (void)t, (void)op, (void)root;
    (void)timeout_ns;
    NO_MPI();
}

flo_status flo__cmpi_bcast(flo__cmpi *m, void *buf, size_t n, flo_dtype t,
                           int root, uint64_t timeout_ns, char *err,
                           size_t len)
{
    (void)m, (void)buf, (void)n, (void)t, (void)root, (void)timeout_ns;
    NO_MPI();
}

flo_status flo__cmpi_allgatherv(flo__cmpi *m, void *buf, const int *counts,
                                const int *displs, flo_dtype t,
                                uint64_t timeout_ns, char *err, size_t len)
{
    (void)m, (void)buf, (void)counts, (void)displs, (void)t;
    (void)timeout_ns;
    NO_MPI();
}

flo_status flo__cmpi_reduce_scatter(flo__cmpi *m, const void *send,
                                    void *recv, const int *counts,
                                    flo_dtype t, flo_redop op,
                                    uint64_t timeout_ns, char *err,
                                    size_t len)
{
    (void)m, (void)send, (void)recv, (void)counts, (void)t, (void)op;
    (void)timeout_ns;
    NO_MPI();
}

flo_status flo__cmpi_exscan(flo__cmpi *m, const void *in, void *out,
                            flo_dtype t, flo_redop op, uint64_t timeout_ns,
                            char *err, size_t len)
{
    (void)m, (void)in, (void)out, (void)t, (void)op, (void)timeout_ns;
    NO_MPI();
}
