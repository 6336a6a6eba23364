/*
 * collectives - Flotilla's NCCL collectives next to a raw NCCL loop, in
 * the same process, on the same GPUs.
 *
 * For each operation and size: Flotilla submits --iters collectives as
 * tasks (one per GPU plus the join) and waits for the last; the baseline
 * runs ncclCommInitAll communicators of its own with one grouped call per
 * iteration (ncclGroupStart, one call per GPU, ncclGroupEnd) and
 * synchronises the streams. Both are timed with the wall clock around the
 * whole loop; the median of --reps repetitions is reported, with
 * nccl-tests' bandwidths: algbw = size / time; busbw = algbw * 2(n-1)/n
 * (all-reduce), algbw * (n-1)/n (all-gather, reduce-scatter). Sizes
 * follow nccl-tests: the all-reduce buffer, the all-gather output, the
 * reduce-scatter input. The scan's size is its part per GPU; its
 * baseline is the same algorithm launched raw (Flotilla's scan kernels
 * and ncclAllGather of the totals on plain streams), so the ratio shows
 * what the task layer costs.
 *
 * Exits 77 without a GPU.
 */
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "collectives/comm/nccl_kernels.h"
#include "flotilla.h"

static const char usage[] =
    "usage: coll_bench [--min-bytes B] [--max-bytes B] [--iters N]\n"
    "                  [--only allreduce|allgather|reduce_scatter|scan]\n"
    "  --min-bytes B  smallest size (default 8)\n"
    "  --max-bytes B  largest size (default 1048576; 1073741824 for the\n"
    "                 full sweep); sizes double from min to max\n"
    "  --iters N      collectives per timed loop (default 20)\n";

enum { OP_ALLREDUCE, OP_ALLGATHER, OP_REDUCE_SCATTER, OP_SCAN, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"allreduce", "allgather",
                                               "reduce_scatter", "scan"};

#define NCHECK(call)                                                           \
    do {                                                                       \
        ncclResult_t r_ = (call);                                              \
        if (r_ != ncclSuccess) {                                               \
            fprintf(stderr, "%s: %s\n", #call, ncclGetErrorString(r_));        \
            return -1;                                                         \
        }                                                                      \
    } while (0)
#define CCHECK(call)                                                           \
    do {                                                                       \
        cudaError_t e_ = (call);                                               \
        if (e_ != cudaSuccess) {                                               \
            fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(e_));        \
            return -1;                                                         \
        }                                                                      \
    } while (0)

typedef struct raw {
    int n;
    int ord[32];
    ncclComm_t comm[32];
    cudaStream_t stream[32];
    void *send[32], *recv[32], *scratch[32];
} raw;

static int raw_init(raw *r, size_t bytes)
{
    NCHECK(ncclCommInitAll(r->comm, r->n, r->ord));
    for (int g = 0; g < r->n; g++) {
        CCHECK(cudaSetDevice(r->ord[g]));
        CCHECK(cudaStreamCreateWithFlags(&r->stream[g], cudaStreamNonBlocking));
        CCHECK(cudaMalloc(&r->send[g], bytes));
        CCHECK(cudaMalloc(&r->recv[g], bytes));
        CCHECK(cudaMalloc(&r->scratch[g],
                          8 + 8 * (size_t)r->n + 8 * FLO__SCAN_MAX_BLOCKS));
        CCHECK(cudaMemset(r->send[g], 0, bytes));
    }
    return 0;
}

static void raw_fini(raw *r)
{
    for (int g = 0; g < r->n; g++) {
        cudaSetDevice(r->ord[g]);
        cudaFree(r->send[g]);
        cudaFree(r->recv[g]);
        cudaFree(r->scratch[g]);
        cudaStreamDestroy(r->stream[g]);
        ncclCommDestroy(r->comm[g]);
    }
}

/* One raw collective over every GPU, grouped. */
static int raw_once(raw *r, int op, size_t count)
{
    NCHECK(ncclGroupStart());
    for (int g = 0; g < r->n; g++) {
        switch (op) {
        case OP_ALLREDUCE:
            NCHECK(ncclAllReduce(r->send[g], r->recv[g], count, ncclFloat32,
                                 ncclSum, r->comm[g], r->stream[g]));
            break;
        case OP_ALLGATHER:
            NCHECK(ncclAllGather(r->send[g], r->recv[g], count, ncclFloat32,
                                 r->comm[g], r->stream[g]));
            break;
        case OP_REDUCE_SCATTER:
            NCHECK(ncclReduceScatter(r->send[g], r->recv[g], count, ncclFloat32,
                                     ncclSum, r->comm[g], r->stream[g]));
            break;
        default: {
            char *x = r->scratch[g];
            char *part = x + 8 + 8 * (size_t)r->n;
            CCHECK(cudaSetDevice(r->ord[g]));
            int nb = flo__cu_scan_partials(r->send[g], count, FLO_F32, FLO_SUM,
                                           part, x, r->stream[g]);
            if (nb < 0)
                return -1;
            NCHECK(ncclAllGather(x, x + 8, 1, ncclFloat32, r->comm[g],
                                 r->stream[g]));
            if (flo__cu_scan_apply(r->send[g], r->recv[g], count, FLO_F32,
                                   FLO_SUM, 0, x + 8, g, part, nb,
                                   r->stream[g]) != 0)
                return -1;
            break;
        }
        }
    }
    NCHECK(ncclGroupEnd());
    return 0;
}

static double raw_loop(raw *r, int op, size_t count, int iters)
{
    double t0 = flo_bench_now();
    for (int i = 0; i < iters; i++)
        if (raw_once(r, op, count) != 0)
            return -1;
    for (int g = 0; g < r->n; g++) {
        cudaSetDevice(r->ord[g]);
        if (cudaStreamSynchronize(r->stream[g]) != cudaSuccess)
            return -1;
    }
    return (flo_bench_now() - t0) / iters;
}

typedef struct flo_side {
    flo_runtime *rt;
    flo_comm *comm;
    int n;
    flo_data send[32], recv[32];
    size_t cnt[32];
} flo_side;

static double flo_loop(flo_side *f, int op, size_t count, int iters)
{
    flo_event ev = FLO_EVENT_NULL;
    flo_status st = FLO_OK;
    double t0 = flo_bench_now();

    for (int g = 0; g < f->n; g++)
        f->cnt[g] = count;
    for (int i = 0; i < iters && st == FLO_OK; i++) {
        switch (op) {
        case OP_ALLREDUCE:
            st = flo_coll_allreduce(f->comm, f->send, f->recv, count, FLO_F32,
                                    FLO_SUM, &ev);
            break;
        case OP_ALLGATHER:
            st = flo_coll_allgather(f->comm, f->send, f->recv, count, FLO_F32,
                                    &ev);
            break;
        case OP_REDUCE_SCATTER:
            st = flo_coll_reduce_scatter(f->comm, f->send, f->recv, count,
                                         FLO_F32, FLO_SUM, &ev);
            break;
        default:
            st = flo_coll_scan(f->comm, f->send, f->recv, f->cnt, FLO_F32,
                               FLO_SUM, FLO_SCAN_INCLUSIVE, &ev);
            break;
        }
    }
    if (st == FLO_OK)
        st = flo_event_wait(f->rt, ev);
    if (st != FLO_OK) {
        fprintf(stderr, "coll_bench: %s: %s\n", op_names[op],
                flo_status_str(st));
        return -1;
    }
    return (flo_bench_now() - t0) / iters;
}

int main(int argc, char **argv)
{
    flo_bench *b = flo_bench_open("collectives", usage, argc, argv);
    flo_config cfg = FLO_CONFIG_INIT;
    flo_side f;
    raw r;
    flo_device_info info;
    flo_status st;
    int rc = 1;

    if (b == NULL)
        return 0;
    size_t minb = (size_t)flo_bench_arg_long(b, "--min-bytes", 8);
    size_t maxb = (size_t)flo_bench_arg_long(b, "--max-bytes", 1 << 20);
    int iters = (int)flo_bench_arg_long(b, "--iters", 20);
    const char *only = flo_bench_arg(b, "--only");
    int reps = flo_bench_reps(b, 5), warm = flo_bench_warmup(b, 2);
    if (minb < 4 || maxb < minb || iters < 1 || reps < 1) {
        fprintf(stderr, "coll_bench: bad arguments\n%s", usage);
        flo_bench_close(b);
        return 2;
    }

    memset(&f, 0, sizeof(f));
    memset(&r, 0, sizeof(r));
    cfg.devices = FLO_DEVICES_CUDA;
    st = flo_init(&cfg, &f.rt);
    if (st == FLO_ENODEV || st == FLO_ENOTSUP) {
        printf("coll_bench: no GPU (%s): skipped\n", flo_status_str(st));
        flo_bench_close(b);
        return 77;
    }
    if (st != FLO_OK || flo_comm_create(f.rt, &f.comm) != FLO_OK)
        goto out;
    if (strcmp(flo_comm_transport(f.comm), "nccl") != 0) {
        printf("coll_bench: the communicator is not over NCCL (%s): "
               "skipped\n",
               flo_comm_transport(f.comm));
        rc = 77;
        goto out;
    }
    f.n = r.n = flo_comm_local_size(f.comm);
    for (int g = 0; g < f.n; g++) {
        int dev[32];
        flo_comm_local_devices(f.comm, dev);
        flo_device_get_info(f.rt, dev[g], &info);
        r.ord[g] = info.ordinal;
        if (flo_data_alloc(f.rt, maxb, &f.send[g]) != FLO_OK ||
            flo_data_alloc(f.rt, maxb, &f.recv[g]) != FLO_OK)
            goto out;
    }
    flo_bench_set_device(b, info.name);
    if (raw_init(&r, maxb) != 0)
        goto out;

    int n = f.n;
    printf("%d GPU(s), %s, %d iterations per loop, median of %d\n", n,
           info.name, iters, reps);
    printf("%-15s %12s | %10s %9s %9s | %10s %9s %9s | %6s\n", "op", "bytes",
           "flo us", "algbw", "busbw", "nccl us", "algbw", "busbw", "ratio");
    for (int op = 0; op < OP_COUNT; op++) {
        if (only != NULL && strcmp(only, op_names[op]) != 0)
            continue;
        double factor = op == OP_ALLREDUCE ? 2.0 * (n - 1) / n
                        : op == OP_SCAN    ? 1.0
                                           : (double)(n - 1) / n;
        for (size_t bytes = minb; bytes <= maxb; bytes *= 2) {
            /* Element count per call, per nccl-tests' conventions. */
            size_t count = bytes / 4;
            if (op == OP_ALLGATHER || op == OP_REDUCE_SCATTER)
                count /= (size_t)n;
            if (count == 0)
                continue;
            double *tf = calloc((size_t)reps, sizeof(double));
            double *tr = calloc((size_t)reps, sizeof(double));
            for (int i = 0; i < warm; i++) {
                if (flo_loop(&f, op, count, iters) < 0 ||
                    raw_loop(&r, op, count, iters) < 0)
                    goto out;
            }
            for (int i = 0; i < reps; i++) {
                tf[i] = flo_loop(&f, op, count, iters);
                tr[i] = raw_loop(&r, op, count, iters);
                if (tf[i] < 0 || tr[i] < 0)
                    goto out;
            }
            double mf = flo_bench_median(tf, reps);
            double mr = flo_bench_median(tr, reps);
            free(tf);
            free(tr);
            double bw_f = (double)bytes / mf / 1e9;
            double bw_r = (double)bytes / mr / 1e9;
            printf("%-15s %12zu | %10.2f %9.2f %9.2f | %10.2f %9.2f %9.2f "
                   "| %6.3f\n",
                   op_names[op], bytes, mf * 1e6, bw_f, bw_f * factor, mr * 1e6,
                   bw_r, bw_r * factor, bw_f / bw_r);
            char name[96];
            snprintf(name, sizeof(name), "%s/f32/%zu/time", op_names[op],
                     bytes);
            flo_bench_result(b, name, "us", mf * 1e6,
                             op == OP_SCAN ? "raw scan kernels + "
                                             "ncclAllGather"
                                           : "raw grouped NCCL loop",
                             mr * 1e6, 0);
            snprintf(name, sizeof(name), "%s/f32/%zu/busbw", op_names[op],
                     bytes);
            flo_bench_result(b, name, "GB/s", bw_f * factor,
                             op == OP_SCAN ? "raw scan kernels + "
                                             "ncclAllGather"
                                           : "raw grouped NCCL loop",
                             bw_r * factor, 1);
            if (bytes > maxb / 2)
                break; /* No overflow of bytes *= 2 near SIZE_MAX. */
        }
    }
    rc = 0;

out:
    if (r.n > 0)
        raw_fini(&r);
    if (f.comm != NULL)
        flo_comm_destroy(f.comm);
    if (f.rt != NULL)
        flo_finalize(f.rt);
    if (flo_bench_close(b) != 0 && rc == 0)
        rc = 1;
    return rc;
}
