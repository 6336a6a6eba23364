/*
 * Flotilla tests - distributed arrays: layouts, blocks, host copies,
 * argument errors, user block kernels and raw tasks chained between
 * algorithms (they read and write blocks through flo_array_block).
 *
 * Worker threads only record into per-block slots; the main thread
 * asserts after waiting (CMocka is not thread-safe).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flotilla.h"

static int setup(void **state)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 3;
    cfg.no_bind = 1;
    if (flo_init(&cfg, &rt) != FLO_OK)
        return -1;
    *state = rt;
    return 0;
}

static int teardown(void **state)
{
    return flo_finalize(*state) == FLO_OK ? 0 : -1;
}

static void test_types(void **state)
{
    (void)state;
    assert_int_equal(flo_dtype_size(FLO_I32), 4);
    assert_int_equal(flo_dtype_size(FLO_U64), 8);
    assert_int_equal(flo_dtype_size(FLO_F32), 4);
    assert_int_equal(flo_dtype_size(FLO_DTYPE_COUNT), 0);
    assert_string_equal(flo_dtype_name(FLO_F64), "f64");
    assert_string_equal(flo_dtype_name((flo_dtype)99), "?");
    assert_string_equal(flo_redop_name(FLO_PROD), "prod");
    assert_string_equal(flo_redop_name(FLO_REDOP_COUNT), "?");
}

static void test_layouts(void **state)
{
    flo_runtime *rt = *state;
    flo_array *a;
    flo_array_block_info bi;
    double w[3] = {1.0, 1.0, 2.0};
    flo_array_layout l = FLO_ARRAY_LAYOUT_INIT;

    /* Default on the host: blocks cover [0, n) in order. */
    assert_int_equal(flo_array_create(rt, FLO_F64, 1000003, NULL, &a), FLO_OK);
    assert_true(flo_array_nblocks(a) >= 1);
    uint64_t next = 0;
    for (int i = 0; i < flo_array_nblocks(a); i++) {
        assert_int_equal(flo_array_block(a, i, &bi), FLO_OK);
        assert_int_equal(bi.offset, next);
        assert_int_equal(bi.device, 0);
        next += bi.count;
    }
    assert_int_equal(next, 1000003);
    assert_int_equal(flo_array_block(a, -1, &bi), FLO_ERANGE);
    assert_int_equal(flo_array_block(a, flo_array_nblocks(a), &bi), FLO_ERANGE);
    assert_int_equal(flo_array_destroy(a), FLO_OK);

    /* Weighted: 1:1:2 of 100. */
    l.nblocks = 3;
    l.weights = w;
    assert_int_equal(flo_array_create(rt, FLO_I32, 100, &l, &a), FLO_OK);
    assert_int_equal(flo_array_nblocks(a), 3);
    assert_int_equal(flo_array_block(a, 0, &bi), FLO_OK);
    assert_int_equal(bi.count, 25);
    assert_int_equal(flo_array_block(a, 2, &bi), FLO_OK);
    assert_int_equal(bi.offset, 50);
    assert_int_equal(bi.count, 50);
    assert_int_equal(flo_array_size(a), 100);
    assert_int_equal(flo_array_dtype(a), FLO_I32);
    assert_int_equal(flo_array_destroy(a), FLO_OK);

    /* More blocks than elements: some are empty and have no handle. */
    l.weights = NULL;
    assert_int_equal(flo_array_create(rt, FLO_I32, 2, &l, &a), FLO_OK);
    int empty = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(flo_array_block(a, i, &bi), FLO_OK);
        if (bi.count == 0) {
            empty++;
            assert_int_equal(bi.data.id, 0);
        }
    }
    assert_int_equal(empty, 1);
    int32_t v;
    int64_t idx;
    assert_int_equal(flo_array_argreduce_sync(a, FLO_MAX, &v, &idx), FLO_OK);
    assert_int_equal(idx, 0);
    assert_int_equal(flo_array_destroy(a), FLO_OK);
}

static void test_errors(void **state)
{
    flo_runtime *rt = *state;
    flo_array *a = NULL, *b = NULL, *c = NULL, *f = NULL;
    flo_array_layout l = FLO_ARRAY_LAYOUT_INIT;
    int bad_dev[2] = {0, 7};
    double bad_w[2] = {1.0, -1.0};
    int32_t one = 1;

    assert_int_equal(flo_array_create(NULL, FLO_I32, 4, NULL, &a), FLO_EINVAL);
    assert_int_equal(flo_array_create(rt, FLO_DTYPE_COUNT, 4, NULL, &a),
                     FLO_EINVAL);
    assert_int_equal(
        flo_array_create(rt, FLO_I32, FLO_ARRAY_MAX_ELEMS + 1, NULL, &a),
        FLO_ERANGE);
    l.nblocks = FLO_ARRAY_MAX_BLOCKS + 1;
    assert_int_equal(flo_array_create(rt, FLO_I32, 4, &l, &a), FLO_EINVAL);
    l.nblocks = 2;
    l.devices = bad_dev;
    assert_int_equal(flo_array_create(rt, FLO_I32, 4, &l, &a), FLO_EINVAL);
    l.devices = NULL;
    l.weights = bad_w;
    assert_int_equal(flo_array_create(rt, FLO_I32, 4, &l, &a), FLO_EINVAL);
    l.weights = NULL;
    l.size = 3;
    assert_int_equal(flo_array_create(rt, FLO_I32, 4, &l, &a), FLO_EINVAL);
    assert_null(a);
    /* A zeroed layout (size 0) is the default one. */
    l.size = 0;
    assert_int_equal(flo_array_create(rt, FLO_I32, 4, &l, &a), FLO_OK);
    assert_int_equal(flo_array_nblocks(a), 2);
    assert_int_equal(flo_array_destroy(a), FLO_OK);
    a = NULL;
    l.size = sizeof(l);

    assert_int_equal(flo_array_create(rt, FLO_I32, 10, &l, &a), FLO_OK);
    assert_int_equal(flo_array_create(rt, FLO_I32, 11, &l, &b), FLO_OK);
    assert_int_equal(flo_array_create(rt, FLO_I64, 10, &l, &c), FLO_OK);
    l.nblocks = 3;
    assert_int_equal(flo_array_create(rt, FLO_I32, 10, &l, &f), FLO_OK);
    /* Length, type and layout mismatches, missing and extra inputs. */
    assert_int_equal(flo_array_transform(a, FLO_XF_ADD, a, b, NULL, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_transform(a, FLO_XF_ADD, a, c, NULL, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_transform(a, FLO_XF_ADD, a, f, NULL, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_transform(a, FLO_XF_ADD, a, NULL, NULL, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_transform(a, FLO_XF_ABS, a, a, NULL, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_transform(a, FLO_XF_FILL, a, NULL, &one, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_transform(a, FLO_XF_SCALE, a, NULL, NULL, NULL),
                     FLO_EINVAL);
    assert_int_equal(
        flo_array_transform(a, FLO_XF_OP_COUNT, a, NULL, &one, NULL),
        FLO_EINVAL);
    assert_int_equal(
        flo_array_transform(NULL, FLO_XF_FILL, NULL, NULL, &one, NULL),
        FLO_EINVAL);
    /* Conversion is allowed through COPY only. */
    assert_int_equal(flo_array_transform(a, FLO_XF_SCALE, c, NULL, &one, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_transform_sync(a, FLO_XF_COPY, c, NULL, NULL),
                     FLO_OK);
    assert_int_equal(
        flo_array_scan(a, c, FLO_SUM, FLO_SCAN_INCLUSIVE, NULL, NULL),
        FLO_EINVAL);
    assert_int_equal(
        flo_array_scan(a, a, FLO_REDOP_COUNT, FLO_SCAN_INCLUSIVE, NULL, NULL),
        FLO_EINVAL);
    assert_int_equal(
        flo_array_scan(a, a, FLO_SUM, (flo_scan_kind)5, NULL, NULL),
        FLO_EINVAL);
    assert_int_equal(flo_array_scan_carry(a, a, FLO_SUM, FLO_SCAN_INCLUSIVE,
                                          FLO_DATA_NULL, NULL),
                     FLO_EINVAL);
    int32_t v;
    assert_int_equal(flo_array_reduce_sync(a, FLO_REDOP_COUNT, &v), FLO_EINVAL);
    assert_int_equal(flo_array_argreduce_sync(a, FLO_SUM, &v, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_reduce_sync(NULL, FLO_SUM, &v), FLO_EINVAL);
    flo_data small;
    assert_int_equal(flo_data_alloc(rt, 8, &small), FLO_OK);
    assert_int_equal(flo_array_argreduce(a, FLO_MIN, small, NULL), FLO_EINVAL);
    assert_int_equal(flo_array_reduce(a, FLO_SUM, FLO_DATA_NULL, NULL) < 0, 1);
    assert_int_equal(flo_data_unregister(rt, small), FLO_OK);
    flo_array_kernel nok = {"none", NULL, NULL};
    assert_int_equal(flo_array_map(a, &nok, NULL, NULL, NULL, 0, NULL),
                     FLO_EINVAL);
    assert_int_equal(flo_array_from_host(a, NULL), FLO_EINVAL);
    assert_int_equal(flo_array_destroy(NULL), FLO_EINVAL);

    /* A block held by the user cannot be destroyed under it. */
    flo_array_block_info bi;
    void *p;
    assert_int_equal(flo_array_block(a, 0, &bi), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, bi.data, FLO_READ, &p), FLO_OK);
    assert_int_equal(flo_array_destroy(a), FLO_EBUSY);
    assert_int_equal(flo_data_release(rt, bi.data), FLO_OK);

    assert_int_equal(flo_array_destroy(f), FLO_OK);
    assert_int_equal(flo_array_destroy(c), FLO_OK);
    assert_int_equal(flo_array_destroy(b), FLO_OK);
    assert_int_equal(flo_array_destroy(a), FLO_OK);
}

/* ---- Chaining with user code -------------------------------------------- */

#define CH_N 300007
#define CH_BLOCKS 3

/* What each user task saw, indexed by block: recorded by workers. */
static atomic_ullong seen_offset[CH_BLOCKS];
static atomic_ullong seen_count[CH_BLOCKS];

/* User element kernel: out[i] = x[i] * k + global index (i64). */
static void iota_host(const flo_array_span *s)
{
    const int64_t *x = s->in[0];
    int64_t *o = s->out;
    int64_t k;
    memcpy(&k, s->args, sizeof(k));
    for (uint64_t i = 0; i < s->count; i++)
        o[i] = x[i] * k + (int64_t)(s->offset + i);
}

/* A raw task on one block: negate odd elements, record what it saw. */
typedef struct raw_args {
    int block;
    uint64_t offset;
} raw_args;

static void negate_odd(flo_task_ctx *ctx)
{
    const raw_args *a = flo_task_args(ctx, NULL);
    int64_t *p = flo_task_buffer(ctx, 0);
    uint64_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);
    for (uint64_t i = 0; i < n; i++)
        if ((a->offset + i) & 1)
            p[i] = -p[i];
    atomic_store(&seen_offset[a->block], a->offset);
    atomic_store(&seen_count[a->block], n);
}

static void test_chain(void **state)
{
    flo_runtime *rt = *state;
    flo_array_layout l = FLO_ARRAY_LAYOUT_INIT;
    flo_array *x, *y;
    int64_t two = 2, k = 3, sum, *h = malloc(CH_N * sizeof(int64_t));
    int64_t *want = malloc(CH_N * sizeof(int64_t));
    flo_event ev;
    static const flo_kernel raw = {"negate_odd", negate_odd, NULL};
    const flo_array_kernel iota = {"iota", iota_host, NULL};

    assert_non_null(h);
    assert_non_null(want);
    l.nblocks = CH_BLOCKS;
    assert_int_equal(flo_array_create(rt, FLO_I64, CH_N, &l, &x), FLO_OK);
    assert_int_equal(flo_array_create(rt, FLO_I64, CH_N, &l, &y), FLO_OK);

    /* fill -> user map -> raw tasks per block -> scan -> reduce, all
     * submitted without waiting: only data accesses order them. */
    assert_int_equal(flo_array_fill(x, &two, NULL), FLO_OK);
    assert_int_equal(flo_array_map(y, &iota, x, NULL, &k, sizeof(k), NULL),
                     FLO_OK);
    for (int b = 0; b < CH_BLOCKS; b++) {
        flo_array_block_info bi;
        flo_access_desc acc;
        flo_task_desc d = FLO_TASK_DESC_INIT;
        raw_args ra;
        assert_int_equal(flo_array_block(y, b, &bi), FLO_OK);
        ra.block = b;
        ra.offset = bi.offset;
        acc.data = bi.data;
        acc.mode = FLO_READ_WRITE;
        d.kernel = &raw;
        d.access = &acc;
        d.naccess = 1;
        d.args = &ra;
        d.args_size = sizeof(ra);
        d.on_device = FLO_DEVICE(bi.device);
        assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
    }
    assert_int_equal(
        flo_array_scan(x, y, FLO_SUM, FLO_SCAN_EXCLUSIVE, NULL, &ev), FLO_OK);
    assert_int_equal(flo_array_reduce_sync(y, FLO_SUM, &sum), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_array_to_host(x, h), FLO_OK);

    int64_t acc = 0, total = 0;
    for (uint64_t i = 0; i < CH_N; i++) {
        int64_t v = 6 + (int64_t)i;
        if (i & 1)
            v = -v;
        want[i] = acc;
        acc += v;
        total += v;
    }
    assert_int_equal(sum, total);
    assert_memory_equal(h, want, CH_N * sizeof(int64_t));
    uint64_t covered = 0;
    for (int b = 0; b < CH_BLOCKS; b++) {
        flo_array_block_info bi;
        assert_int_equal(flo_array_block(y, b, &bi), FLO_OK);
        assert_int_equal(atomic_load(&seen_offset[b]), bi.offset);
        assert_int_equal(atomic_load(&seen_count[b]), bi.count);
        covered += bi.count;
    }
    assert_int_equal(covered, CH_N);

    /* A carry held in a data handle, written by a user task. */
    flo_data carry;
    int64_t *cp;
    assert_int_equal(flo_data_alloc(rt, sizeof(int64_t), &carry), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, carry, FLO_WRITE, (void **)&cp),
                     FLO_OK);
    *cp = 1000;
    assert_int_equal(flo_data_release(rt, carry), FLO_OK);
    assert_int_equal(
        flo_array_scan_carry(x, y, FLO_SUM, FLO_SCAN_INCLUSIVE, carry, &ev),
        FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_array_to_host(x, h), FLO_OK);
    for (uint64_t i = 0; i + 1 < CH_N; i++)
        want[i] = want[i + 1] + 1000;
    want[CH_N - 1] = total + 1000;
    assert_memory_equal(h, want, CH_N * sizeof(int64_t));
    assert_int_equal(flo_data_unregister(rt, carry), FLO_OK);

    assert_int_equal(flo_array_destroy(y), FLO_OK);
    assert_int_equal(flo_array_destroy(x), FLO_OK);
    free(h);
    free(want);
}

/* A failing user kernel fails the algorithm's event and cancels what
 * reads its output. */
static void fail_host(const flo_array_span *s)
{
    if (s->offset > 0)
        flo_task_fail(s->ctx, FLO_ETASK, "block at %llu refuses",
                      (unsigned long long)s->offset);
}

static void test_failure(void **state)
{
    flo_runtime *rt = *state;
    flo_array_layout l = FLO_ARRAY_LAYOUT_INIT;
    flo_array *a;
    flo_event ev;
    const flo_array_kernel k = {"fail", fail_host, NULL};
    int32_t v;

    l.nblocks = 2;
    assert_int_equal(flo_array_create(rt, FLO_I32, 1000, &l, &a), FLO_OK);
    assert_int_equal(flo_array_map(a, &k, NULL, NULL, NULL, 0, &ev), FLO_OK);
    assert_true(flo_event_wait(rt, ev) < 0);
    assert_true(flo_array_reduce_sync(a, FLO_SUM, &v) < 0);
    (void)flo_wait_all(rt);
    assert_int_equal(flo_array_destroy(a), FLO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),   cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_errors),  cmocka_unit_test(test_chain),
        cmocka_unit_test(test_failure),
    };
    return cmocka_run_group_tests_name("algorithms_array", tests, setup,
                                       teardown);
}
