/*
 * collectives_comm: communicators and the in-process host transport on a
 * host-only runtime. Several host participants in one process exchange
 * through shared memory; every operation, type and operator is checked
 * against the reference of coll_ref.h, with counts that do not divide
 * evenly and empty parts; then ordering with surrounding tasks, and bad
 * arguments (clear status, nothing submitted, nothing changed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flo_build_config.h"
#include "flotilla.h"
#include "tests/collectives/coll_ref.h"

typedef struct fixture {
    flo_runtime *rt;
    flo_comm *c4; /* Four host participants. */
} fixture;

static int setup(void **state)
{
    static fixture f;
    flo_config cfg = FLO_CONFIG_INIT;
    int devs[4] = {0, 0, 0, 0};

    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 2;
    cfg.ignore_env = 1;
    cfg.no_bind = 1;
    if (flo_init(&cfg, &f.rt) != FLO_OK)
        return -1;
    if (flo_comm_create_devices(f.rt, devs, 4, &f.c4) != FLO_OK)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    int rc = 0;

    if (flo_comm_destroy(f->c4) != FLO_OK)
        rc = -1;
    if (flo_finalize(f->rt) != FLO_OK)
        rc = -1;
    return rc;
}

static const size_t counts[] = {0, 1, 7, 1001};

/* Every kind x type x operator x count on comm c, with the inputs of
 * `values` (enum ck_values; CK_WRAP: the integer types only). */
static void run_matrix(flo_runtime *rt, flo_comm *c, bool in_place, int values)
{
    char what[128];

    for (int k = 0; k < CK_KIND_COUNT; k++) {
        if (in_place && (k == CK_ALLGATHER || k == CK_REDUCE_SCATTER))
            continue;
        for (int t = 0; t < FLO_DTYPE_COUNT; t++) {
            if (values == CK_WRAP && (t == FLO_F32 || t == FLO_F64))
                continue;
            int nops = k == CK_BCAST || k == CK_ALLGATHER ? 1 : FLO_REDOP_COUNT;
            for (int op = 0; op < nops; op++) {
                for (size_t ci = 0; ci < sizeof(counts) / sizeof(*counts);
                     ci++) {
                    int root = (int)(ci + (size_t)op) % flo_comm_size(c);
                    ck_result r = ck_run(rt, c, k, (flo_dtype)t, (flo_redop)op,
                                         counts[ci], root, in_place, values);
                    snprintf(what, sizeof(what), "%s %s %s count %zu%s%s",
                             ck_names[k], flo_dtype_name((flo_dtype)t),
                             flo_redop_name((flo_redop)op), counts[ci],
                             in_place ? " in place" : "",
                             values == CK_WRAP ? " (wrapping)" : "");
                    if (r.submit != FLO_OK || r.wait != FLO_OK || r.bad != 0)
                        print_error("%s: submit %d wait %d bad %ld\n", what,
                                    r.submit, r.wait, r.bad);
                    assert_int_equal(r.submit, FLO_OK);
                    assert_int_equal(r.wait, FLO_OK);
                    assert_int_equal(r.bad, 0);
                }
            }
        }
    }
}

static void test_create_default(void **state)
{
    fixture *f = *state;
    flo_comm *c = NULL;
    int dev = -1;

    assert_int_equal(flo_comm_create(f->rt, &c), FLO_OK);
    assert_int_equal(flo_comm_size(c), 1);
    assert_int_equal(flo_comm_local_size(c), 1);
    assert_int_equal(flo_comm_first(c), 0);
    assert_int_equal(flo_comm_local_devices(c, &dev), FLO_OK);
    assert_int_equal(dev, 0);
    assert_string_equal(flo_comm_transport(c), "host");
    /* A one-participant communicator still computes (copies). */
    run_matrix(f->rt, c, false, CK_SMALL);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

static void test_matrix_four(void **state)
{
    fixture *f = *state;

    assert_int_equal(flo_comm_size(f->c4), 4);
    assert_int_equal(flo_comm_local_size(f->c4), 4);
    assert_string_equal(flo_comm_transport(f->c4), "host");
    run_matrix(f->rt, f->c4, false, CK_SMALL);
}

static void test_matrix_in_place(void **state)
{
    fixture *f = *state;

    run_matrix(f->rt, f->c4, true, CK_SMALL);
}

/* Integer sums and products that overflow wrap modulo 2^bits (two's
 * complement for signed types), whatever the order of combination. */
static void test_matrix_wrap(void **state)
{
    fixture *f = *state;

    run_matrix(f->rt, f->c4, false, CK_WRAP);
    run_matrix(f->rt, f->c4, true, CK_WRAP);
}

/* ---- Wrapping: the collectives and the array algorithms agree ----------- */

/* All-reduce of one element from the four participants (participant p
 * sends in[p]) and the reduce of the host array in[0..4) (two blocks);
 * both results must be want. */
static void wrap_one(flo_runtime *rt, flo_comm *c, flo_dtype t, flo_redop op,
                     const void *in, const void *want)
{
    size_t es = flo_dtype_size(t);
    uint64_t buf[4], got = 0; /* Aligned for every type. */
    flo_data h[4];
    flo_event ev;
    flo_array *a;
    flo_array_layout l = FLO_ARRAY_LAYOUT_INIT;

    for (int p = 0; p < 4; p++) {
        memcpy(&buf[p], (const char *)in + (size_t)p * es, es);
        assert_int_equal(flo_data_register(rt, &buf[p], es, &h[p]), FLO_OK);
    }
    assert_int_equal(flo_coll_allreduce(c, h, h, 1, t, op, &ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    for (int p = 0; p < 4; p++) {
        assert_int_equal(flo_data_unregister(rt, h[p]), FLO_OK);
        assert_memory_equal(&buf[p], want, es);
    }
    l.nblocks = 2;
    assert_int_equal(flo_array_create_from_host(rt, t, 4, in, &l, &a), FLO_OK);
    assert_int_equal(flo_array_reduce_sync(a, op, &got), FLO_OK);
    assert_memory_equal(&got, want, es);
    assert_int_equal(flo_array_destroy(a), FLO_OK);
}

/* The scan collective over parts of lengths cnt[] of x, the scan of the
 * host array x (three blocks) and the reference: the same values. */
static void wrap_scan(flo_runtime *rt, flo_comm *c, flo_dtype t, flo_redop op,
                      flo_scan_kind kind, const void *x, size_t n,
                      const size_t *cnt)
{
    size_t es = flo_dtype_size(t), off = 0;
    unsigned char *coll = malloc(n * es), *arr = malloc(n * es);
    flo_data h[4];
    flo_event ev;
    flo_array *a, *o;
    flo_array_layout l = FLO_ARRAY_LAYOUT_INIT;
    uint64_t spare;
    tval acc = tv_identity(t, op);

    assert_non_null(coll);
    assert_non_null(arr);
    memcpy(coll, x, n * es);
    for (int p = 0; p < 4; p++) {
        /* An empty part still needs a handle, never touched. */
        void *part = cnt[p] > 0 ? (void *)(coll + off * es) : &spare;
        assert_int_equal(
            flo_data_register(rt, part,
                              cnt[p] > 0 ? cnt[p] * es : sizeof(spare), &h[p]),
            FLO_OK);
        off += cnt[p];
    }
    assert_int_equal(off, n);
    assert_int_equal(flo_coll_scan(c, h, h, cnt, t, op, kind, &ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    for (int p = 0; p < 4; p++)
        assert_int_equal(flo_data_unregister(rt, h[p]), FLO_OK);

    l.nblocks = 3;
    assert_int_equal(flo_array_create_from_host(rt, t, n, x, &l, &a), FLO_OK);
    assert_int_equal(flo_array_create(rt, t, n, &l, &o), FLO_OK);
    assert_int_equal(flo_array_scan_sync(o, a, op, kind, NULL), FLO_OK);
    assert_int_equal(flo_array_to_host(o, arr), FLO_OK);
    assert_int_equal(flo_array_destroy(o), FLO_OK);
    assert_int_equal(flo_array_destroy(a), FLO_OK);

    for (size_t i = 0; i < n; i++) {
        tval v = tv_load(x, i, t);
        if (kind == FLO_SCAN_INCLUSIVE)
            acc = tv_op(t, op, acc, v);
        assert_true(tv_eq(t, tv_load(coll, i, t), acc));
        assert_true(tv_eq(t, tv_load(arr, i, t), acc));
        if (kind == FLO_SCAN_EXCLUSIVE)
            acc = tv_op(t, op, acc, v);
    }
    free(arr);
    free(coll);
}

/* Known overflows give the wrapped value in the host collectives and in
 * the host array reduce and scan alike. */
static void test_wrap_anchors(void **state)
{
    fixture *f = *state;
    flo_comm *c = f->c4;
    const int32_t sum32[4] = {INT32_MAX, 1, 0, 0}, min32 = INT32_MIN;
    const int32_t neg32[4] = {INT32_MIN, -1, 0, 0}, max32 = INT32_MAX;
    const int32_t prod32[4] = {INT32_MAX, 2, 1, 1}, m2 = -2;
    const int64_t sum64[4] = {INT64_MAX, 1, 0, 0}, min64 = INT64_MIN;
    const int64_t prod64[4] = {INT64_MIN, -1, 1, 1};
    const uint32_t sumu32[4] = {UINT32_MAX, 1, 0, 0}, zero32 = 0;
    const uint64_t produ64[4] = {UINT64_C(1) << 32, UINT64_C(1) << 32, 3, 1};
    const uint64_t zero64 = 0;
    const size_t cnt[4] = {3, 0, 5, 2};
    int32_t x32[10];
    int64_t x64[10];

    wrap_one(f->rt, c, FLO_I32, FLO_SUM, sum32, &min32);
    wrap_one(f->rt, c, FLO_I32, FLO_SUM, neg32, &max32);
    wrap_one(f->rt, c, FLO_I32, FLO_PROD, prod32, &m2);
    wrap_one(f->rt, c, FLO_I64, FLO_SUM, sum64, &min64);
    wrap_one(f->rt, c, FLO_I64, FLO_PROD, prod64, &min64);
    wrap_one(f->rt, c, FLO_U32, FLO_SUM, sumu32, &zero32);
    wrap_one(f->rt, c, FLO_U64, FLO_PROD, produ64, &zero64);

    for (int i = 0; i < 10; i++) {
        x32[i] = i % 3 ? INT32_MAX - i : INT32_MIN + i;
        x64[i] = i % 3 ? INT64_MAX - i : INT64_MIN + i;
    }
    for (int k = 0; k < 2; k++) {
        flo_scan_kind kind = k ? FLO_SCAN_EXCLUSIVE : FLO_SCAN_INCLUSIVE;
        wrap_scan(f->rt, c, FLO_I32, FLO_SUM, kind, x32, 10, cnt);
        wrap_scan(f->rt, c, FLO_I32, FLO_PROD, kind, x32, 10, cnt);
        wrap_scan(f->rt, c, FLO_I64, FLO_SUM, kind, x64, 10, cnt);
        wrap_scan(f->rt, c, FLO_I64, FLO_PROD, kind, x64, 10, cnt);
    }
}

/* ---- Ordering with the tasks around a collective ------------------------ */

static void k_fill(flo_task_ctx *ctx)
{
    int64_t *p = flo_task_buffer(ctx, 0);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);
    const int64_t *v = flo_task_args(ctx, NULL);

    for (size_t i = 0; i < n; i++)
        p[i] = *v + (int64_t)i;
}
static const flo_kernel kfill = {"fill", k_fill, NULL};

/* out[i] = in[i] * 10 */
static void k_times10(flo_task_ctx *ctx)
{
    const int64_t *in = flo_task_buffer(ctx, 0);
    int64_t *out = flo_task_buffer(ctx, 1);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);

    for (size_t i = 0; i < n; i++)
        out[i] = in[i] * 10;
}
static const flo_kernel ktimes10 = {"times10", k_times10, NULL};

static void test_ordering(void **state)
{
    fixture *f = *state;
    enum { N = 513, ROUNDS = 20 };
    int64_t *send[4], *recv[4], out[N];
    flo_data sh[4], rh[4], oh;

    for (int p = 0; p < 4; p++) {
        send[p] = calloc(N, sizeof(int64_t));
        recv[p] = calloc(N, sizeof(int64_t));
        assert_int_equal(flo_data_register(f->rt, send[p], N * 8, &sh[p]),
                         FLO_OK);
        assert_int_equal(flo_data_register(f->rt, recv[p], N * 8, &rh[p]),
                         FLO_OK);
    }
    assert_int_equal(flo_data_register(f->rt, out, sizeof(out), &oh), FLO_OK);
    /* Writers before, readers after, and the next round's writers
     * overwrite the sends while earlier collectives may still read them:
     * only the dependency rules make the final result right. */
    for (int r = 0; r < ROUNDS; r++) {
        for (int p = 0; p < 4; p++) {
            flo_access_desc a = {sh[p], FLO_WRITE};
            flo_task_desc d = FLO_TASK_DESC_INIT;
            int64_t v = 1000 * r + p;
            d.kernel = &kfill;
            d.access = &a;
            d.naccess = 1;
            d.args = &v;
            d.args_size = sizeof(v);
            assert_int_equal(flo_task_submit(f->rt, &d, NULL), FLO_OK);
        }
        assert_int_equal(
            flo_coll_allreduce(f->c4, sh, rh, N, FLO_I64, FLO_SUM, NULL),
            FLO_OK);
        flo_access_desc a2[2] = {{rh[r % 4], FLO_READ}, {oh, FLO_WRITE}};
        flo_task_desc d2 = FLO_TASK_DESC_INIT;
        d2.kernel = &ktimes10;
        d2.access = a2;
        d2.naccess = 2;
        assert_int_equal(flo_task_submit(f->rt, &d2, NULL), FLO_OK);
    }
    assert_int_equal(flo_wait_all(f->rt), FLO_OK);
    assert_int_equal(flo_data_unregister(f->rt, oh), FLO_OK);
    for (int i = 0; i < N; i++) {
        int64_t r = ROUNDS - 1;
        int64_t want = 10 * (4 * (1000 * r + i) + 0 + 1 + 2 + 3);
        assert_int_equal(out[i], want);
    }
    for (int p = 0; p < 4; p++) {
        flo_data_unregister(f->rt, sh[p]);
        flo_data_unregister(f->rt, rh[p]);
        free(send[p]);
        free(recv[p]);
    }
}

/* ---- Bad arguments ----------------------------------------------------- */

static uint64_t submitted(flo_runtime *rt)
{
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    return st.tasks_submitted;
}

static void test_bad_args(void **state)
{
    fixture *f = *state;
    enum { N = 16 };
    int32_t buf[4][N], big[4][4 * N];
    flo_data h[4], hb[4], stale, mixed[4];
    flo_comm *c = NULL;
    size_t cnt[4] = {N, N, N, N};
    int devs[2] = {0, 99};
    flo_mpi_comm mpi_out;
    uint64_t before;

    memset(buf, 0x11, sizeof(buf));
    for (int p = 0; p < 4; p++) {
        assert_int_equal(
            flo_data_register(f->rt, buf[p], sizeof(buf[p]), &h[p]), FLO_OK);
        assert_int_equal(
            flo_data_register(f->rt, big[p], sizeof(big[p]), &hb[p]), FLO_OK);
    }
    assert_int_equal(flo_data_alloc(f->rt, 64, &stale), FLO_OK);
    assert_int_equal(flo_data_unregister(f->rt, stale), FLO_OK);
    assert_int_equal(flo_wait_all(f->rt), FLO_OK);
    before = submitted(f->rt);

    /* Communicator creation. */
    assert_int_equal(flo_comm_create(NULL, &c), FLO_EINVAL);
    assert_int_equal(flo_comm_create(f->rt, NULL), FLO_EINVAL);
    assert_int_equal(flo_comm_create_devices(f->rt, devs, 0, &c), FLO_EINVAL);
    assert_int_equal(flo_comm_create_devices(f->rt, devs, 2, &c), FLO_EINVAL);
    assert_int_equal(
        flo_comm_create_devices(f->rt, devs, FLO_COMM_MAX_LOCAL + 1, &c),
        FLO_EINVAL);
    assert_null(c);
    assert_int_equal(flo_comm_destroy(NULL), FLO_EINVAL);
    assert_int_equal(flo_comm_size(NULL), -1);
    assert_int_equal(flo_comm_local_devices(NULL, devs), FLO_EINVAL);
    /* No MPI communicator in this runtime (or no MPI in the build). */
    assert_int_equal(flo_comm_get_mpi(f->c4, &mpi_out), FLO_ENOTSUP);
    assert_int_equal(flo_comm_get_mpi(NULL, &mpi_out), FLO_EINVAL);

    /* Collectives. */
    assert_int_equal(flo_coll_allreduce(NULL, h, h, N, FLO_I32, FLO_SUM, NULL),
                     FLO_EINVAL);
    assert_int_equal(
        flo_coll_allreduce(f->c4, NULL, h, N, FLO_I32, FLO_SUM, NULL),
        FLO_EINVAL);
    assert_int_equal(
        flo_coll_allreduce(f->c4, h, NULL, N, FLO_I32, FLO_SUM, NULL),
        FLO_EINVAL);
    assert_int_equal(
        flo_coll_allreduce(f->c4, h, h, N, FLO_DTYPE_COUNT, FLO_SUM, NULL),
        FLO_EINVAL);
    assert_int_equal(
        flo_coll_allreduce(f->c4, h, h, N, (flo_dtype)-1, FLO_SUM, NULL),
        FLO_EINVAL);
    assert_int_equal(
        flo_coll_allreduce(f->c4, h, h, N, FLO_I32, FLO_REDOP_COUNT, NULL),
        FLO_EINVAL);
    /* Too many elements for the handles. */
    assert_int_equal(
        flo_coll_allreduce(f->c4, h, h, N + 1, FLO_I32, FLO_SUM, NULL),
        FLO_EINVAL);
    assert_int_equal(flo_coll_allreduce(f->c4, h, h, N, FLO_I64, FLO_SUM, NULL),
                     FLO_EINVAL);
    /* A count whose size in bytes overflows: no handle is that large. */
    assert_int_equal(
        flo_coll_allreduce(f->c4, h, h, SIZE_MAX / 2, FLO_I32, FLO_SUM, NULL),
        FLO_EINVAL);
    /* allgather's recv must hold size * count. */
    assert_int_equal(flo_coll_allgather(f->c4, h, h, N, FLO_I32, NULL),
                     FLO_EINVAL);
    assert_int_equal(
        flo_coll_reduce_scatter(f->c4, h, hb, N, FLO_I32, FLO_SUM, NULL),
        FLO_EINVAL);
    /* Root out of range. */
    assert_int_equal(flo_coll_reduce(f->c4, h, h, N, FLO_I32, FLO_SUM, 4, NULL),
                     FLO_EINVAL);
    assert_int_equal(
        flo_coll_reduce(f->c4, h, h, N, FLO_I32, FLO_SUM, -1, NULL),
        FLO_EINVAL);
    assert_int_equal(flo_coll_broadcast(f->c4, h, N, FLO_I32, 7, NULL),
                     FLO_EINVAL);
    /* Null, stale handles. */
    memcpy(mixed, h, sizeof(mixed));
    mixed[2] = FLO_DATA_NULL;
    assert_int_equal(
        flo_coll_allreduce(f->c4, h, mixed, N, FLO_I32, FLO_SUM, NULL),
        FLO_EINVAL);
    mixed[2] = stale;
    assert_int_equal(
        flo_coll_allreduce(f->c4, mixed, h, N, FLO_I32, FLO_SUM, NULL),
        FLO_ESTALE);
    /* Scan: counts NULL, or a count too large for its handle. */
    assert_int_equal(flo_coll_scan(f->c4, h, h, NULL, FLO_I32, FLO_SUM,
                                   FLO_SCAN_INCLUSIVE, NULL),
                     FLO_EINVAL);
    /* A scan kind that is neither inclusive nor exclusive. */
    assert_int_equal(flo_coll_scan(f->c4, h, h, cnt, FLO_I32, FLO_SUM,
                                   (flo_scan_kind)2, NULL),
                     FLO_EINVAL);
    cnt[3] = N + 1;
    assert_int_equal(flo_coll_scan(f->c4, h, h, cnt, FLO_I32, FLO_SUM,
                                   FLO_SCAN_INCLUSIVE, NULL),
                     FLO_EINVAL);

    /* Nothing was submitted and nothing changed. */
    assert_int_equal(submitted(f->rt), before);
    for (int p = 0; p < 4; p++) {
        assert_int_equal(flo_data_unregister(f->rt, h[p]), FLO_OK);
        assert_int_equal(flo_data_unregister(f->rt, hb[p]), FLO_OK);
        for (int i = 0; i < N; i++)
            assert_int_equal((uint32_t)buf[p][i], 0x11111111u);
    }
}

/* ---- Arrays (one rank: the global algorithms are the local ones) -------- */

static void test_array_global_one_rank(void **state)
{
    fixture *f = *state;
    enum { N = 3001 };
    int64_t *in = malloc(N * sizeof(int64_t));
    int64_t *out = malloc(N * sizeof(int64_t));
    int64_t sum = 0, got = -1, acc = 0;
    flo_array *x, *y;
    flo_comm *c;
    flo_event ev;

    for (int i = 0; i < N; i++) {
        in[i] = (i * 37) % 101 - 50;
        sum += in[i];
    }
    assert_int_equal(flo_comm_create(f->rt, &c), FLO_OK);
    assert_int_equal(
        flo_array_create_from_host(f->rt, FLO_I64, N, in, NULL, &x), FLO_OK);
    assert_int_equal(flo_array_create(f->rt, FLO_I64, N, NULL, &y), FLO_OK);
    assert_int_equal(flo_array_reduce_global_sync(c, x, FLO_SUM, &got), FLO_OK);
    assert_int_equal(got, sum);
    assert_int_equal(
        flo_array_scan_global(c, y, x, FLO_SUM, FLO_SCAN_EXCLUSIVE, &ev),
        FLO_OK);
    assert_int_equal(flo_event_wait(f->rt, ev), FLO_OK);
    assert_int_equal(flo_array_to_host(y, out), FLO_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i], acc);
        acc += in[i];
    }
    /* Bad arguments. */
    assert_int_equal(
        flo_array_scan_global(NULL, y, x, FLO_SUM, FLO_SCAN_INCLUSIVE, NULL),
        FLO_EINVAL);
    assert_int_equal(flo_array_scan_global(c, y, x, FLO_REDOP_COUNT,
                                           FLO_SCAN_INCLUSIVE, NULL),
                     FLO_EINVAL);
    assert_int_equal(
        flo_array_reduce_global(c, x, FLO_SUM, FLO_DATA_NULL, NULL),
        FLO_EINVAL);
    assert_int_equal(flo_array_destroy(y), FLO_OK);
    assert_int_equal(flo_array_destroy(x), FLO_OK);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    free(in);
    free(out);
}

/* A communicator the user forgot is freed by flo_finalize. */
static void test_forgotten_comm(void **state)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt;
    flo_comm *c;
    int32_t v[8] = {0};
    flo_data h;

    (void)state;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 1;
    cfg.ignore_env = 1;
    cfg.no_bind = 1;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    assert_int_equal(flo_data_register(rt, v, sizeof(v), &h), FLO_OK);
    assert_int_equal(flo_coll_allreduce(c, &h, &h, 8, FLO_I32, FLO_SUM, NULL),
                     FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

#if !FLO_HAVE_MPI
/* MPI-backed operations in a build without MPI: FLO_ENOTSUP. (With MPI
 * the test is not registered: CMocka's TAP skip reads as a failure.) */
static void test_no_mpi(void **state)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *r = NULL;
    flo_mpi_comm out = FLO_MPI_COMM_NONE;
    fixture *f = *state;

    cfg.devices = FLO_DEVICES_HOST;
    cfg.ignore_env = 1;
    /* What flo_mpi_comm_wrap makes of some communicator. */
    cfg.mpi_comm.valid = 1;
    cfg.mpi_comm.value[0] = 0x44000000;
    assert_int_equal(flo_init(&cfg, &r), FLO_ENOTSUP);
    assert_null(r);
    assert_int_equal(flo_comm_get_mpi(f->c4, &out), FLO_ENOTSUP);
    assert_int_equal(out.valid, 0);
    assert_int_equal(flo_comm_get_mpi(f->c4, NULL), FLO_EINVAL);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_default),
        cmocka_unit_test(test_matrix_four),
        cmocka_unit_test(test_matrix_in_place),
        cmocka_unit_test(test_matrix_wrap),
        cmocka_unit_test(test_wrap_anchors),
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_array_global_one_rank),
        cmocka_unit_test(test_forgotten_comm),
#if !FLO_HAVE_MPI
        cmocka_unit_test(test_no_mpi),
#endif
    };
    return cmocka_run_group_tests_name("collectives_comm", tests, setup,
                                       teardown);
}
