/*
 * mpi_reduce_scan - Flotilla as the "X" of MPI+X.
 *
 * Every rank holds its part of one global array (uneven parts: the first
 * N % size ranks get one element more). The program
 *   1. all-reduces a small histogram of the values (flo_coll_allreduce: one
 *      task per local device, NCCL on GPUs, MPI between host memories),
 *   2. reduces the global array (flo_array_reduce_global),
 *   3. scans it (flo_array_scan_global: local totals, an exclusive scan
 *      of the totals between ranks, the local scan with that carry),
 * and checks all three against closed forms on every rank.
 *
 *   mpirun -np 4 ./flo-mpi-reduce-scan [--n 10000000]
 *   srun -N 2 --ntasks-per-node=8 --gpus-per-node=8 \
 *        ./flo-mpi-reduce-scan --n 100000000
 *
 * Each rank takes the node-local GPUs i with i % ranks_on_node ==
 * node_rank: one rank per GPU needs no CUDA_VISIBLE_DEVICES.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"
#include "flotilla/mpi.h"

#define NBINS 16

/* Element g of the global array. */
static int64_t value(uint64_t g)
{
    return (int64_t)(g % 10);
}

#define CHECK(call)                                                            \
    do {                                                                       \
        flo_status st_ = (call);                                               \
        if (st_ != FLO_OK) {                                                   \
            fprintf(stderr, "rank %d: %s: %s\n", rank, #call,                  \
                    flo_status_str(st_));                                      \
            MPI_Abort(MPI_COMM_WORLD, 1);                                      \
        }                                                                      \
    } while (0)

int main(int argc, char **argv)
{
    MPI_Comm world = MPI_COMM_WORLD;
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt;
    flo_comm *comm;
    flo_array *x, *y;
    int provided, rank, size, nloc, errors = 0, all_errors = 0;
    uint64_t n = 10000000, lo, cnt;

    /* Flotilla calls MPI from its worker threads: MULTIPLE is best;
     * SERIALIZED works (Flotilla then serialises its MPI calls, and the
     * program must not call MPI while collectives are in flight). */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &size);
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--n") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
    if (provided < MPI_THREAD_SERIALIZED) {
        if (rank == 0)
            fprintf(stderr,
                    "MPI gives thread level %d; need "
                    "MPI_THREAD_SERIALIZED or more\n",
                    provided);
        MPI_Finalize();
        return 1;
    }

    cfg.mpi_comm = flo_mpi_comm_wrap(world);
    CHECK(flo_init(&cfg, &rt));
    CHECK(flo_comm_create(rt, &comm));

    /* This rank's part [lo, lo + cnt). */
    cnt = n / (uint64_t)size + ((uint64_t)rank < n % (uint64_t)size);
    lo = (uint64_t)rank * (n / (uint64_t)size) +
         ((uint64_t)rank < n % (uint64_t)size ? (uint64_t)rank
                                              : n % (uint64_t)size);
    int64_t *part = malloc((cnt + 1) * sizeof(int64_t));
    for (uint64_t i = 0; i < cnt; i++)
        part[i] = value(lo + i);
    CHECK(flo_array_create_from_host(rt, FLO_I64, cnt, part, NULL, &x));
    CHECK(flo_array_create(rt, FLO_I64, cnt, NULL, &y));

    /* 1. Histogram: local participant 0 holds this rank's counts, the
     *    others zeros; the all-reduce sums over every participant. */
    nloc = flo_comm_local_size(comm);
    int64_t(*hist)[NBINS] = calloc((size_t)nloc, sizeof(*hist));
    flo_data hh[FLO_COMM_MAX_LOCAL];
    for (uint64_t i = 0; i < cnt; i++)
        hist[0][part[i] % NBINS]++;
    for (int i = 0; i < nloc; i++)
        CHECK(flo_data_register(rt, hist[i], sizeof(hist[i]), &hh[i]));
    flo_event ev;
    CHECK(flo_coll_allreduce(comm, hh, hh, NBINS, FLO_I64, FLO_SUM, &ev));

    /* 2 and 3 are submitted before waiting for 1: they are ordered by
     * their data, not by the program waiting. */
    int64_t sum = 0;
    flo_event scan_ev;
    CHECK(flo_array_scan_global(comm, y, x, FLO_SUM, FLO_SCAN_INCLUSIVE,
                                &scan_ev));
    CHECK(flo_array_reduce_global_sync(comm, x, FLO_SUM, &sum));
    CHECK(flo_event_wait(rt, ev));
    CHECK(flo_event_wait(rt, scan_ev));
    for (int i = 0; i < nloc; i++)
        CHECK(flo_data_unregister(rt, hh[i]));

    /* Checks against closed forms. */
    int64_t want_sum = 45 * (int64_t)(n / 10);
    for (uint64_t r = 0; r < n % 10; r++)
        want_sum += (int64_t)r;
    errors += sum != want_sum;
    for (int i = 0; i < nloc; i++)
        for (int b = 0; b < NBINS; b++) {
            int64_t want =
                b < 10 ? (int64_t)(n / 10 + ((uint64_t)b < n % 10)) : 0;
            errors += hist[i][b] != want;
        }
    CHECK(flo_array_to_host(y, part));
    int64_t acc = 45 * (int64_t)(lo / 10);
    for (uint64_t r = 0; r < lo % 10; r++)
        acc += (int64_t)r;
    for (uint64_t i = 0; i < cnt; i++) {
        acc += value(lo + i);
        errors += part[i] != acc;
    }

    MPI_Reduce(&errors, &all_errors, 1, MPI_INT, MPI_SUM, 0, world);
    if (rank == 0)
        printf("mpi_reduce_scan: %llu elements over %d ranks (%d local "
               "participants on rank 0, transport %s): sum %lld, "
               "histogram and scan %s\n",
               (unsigned long long)n, size, nloc, flo_comm_transport(comm),
               (long long)sum, all_errors == 0 ? "verified" : "WRONG");

    CHECK(flo_array_destroy(y));
    CHECK(flo_array_destroy(x));
    CHECK(flo_comm_destroy(comm));
    CHECK(flo_finalize(rt));
    free(hist);
    free(part);
    MPI_Bcast(&all_errors, 1, MPI_INT, 0, world);
    MPI_Finalize();
    return all_errors == 0 ? 0 : 1;
}
