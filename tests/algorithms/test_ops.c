/*
 * Flotilla tests - transform, reduce and scan against a sequential
 * reference, for every type and operation, on sizes 0, 1, small primes
 * and sizes not divisible by the block count, over 1, 2 and 3 blocks;
 * integer reduce and scan also on values that overflow (they wrap).
 *
 * Built twice: as algorithms_ops (host workers, layouts of 1..3 blocks)
 * and, with FLO_TEST_GPU, as algorithms_ops_gpu (1, 2 and 3 logical GPUs
 * and one array above 2^31 elements), which skips without a GPU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "algo_ref.h"
#include "flotilla.h"
#if FLO_TEST_GPU
#include "algo_test_kernels.h"
#endif

#ifndef FLO_TEST_GPU
#define FLO_TEST_GPU 0
#endif

static const uint64_t sizes[] = {0, 1, 7, 1009, 100003};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Layouts: default, and 1, 2, 3 blocks (the last weighted 1:2:3, so no
 * size is evenly divided). */
static const double w3[3] = {1.0, 2.0, 3.0};
#define NLAYOUTS 4
static flo_array_layout layout_of(int k)
{
    flo_array_layout l = FLO_ARRAY_LAYOUT_INIT;
    l.nblocks = k;
    if (k == 3)
        l.weights = w3;
    return l;
}

typedef void (*case_fn)(flo_runtime *rt, const char *what);

/* Run fn on every runtime configuration of this build. */
static void for_each_runtime(case_fn fn)
{
#if FLO_TEST_GPU
    int ran = 0;
    for (int lg = 1; lg <= 3; lg++) {
        flo_config cfg = FLO_CONFIG_INIT;
        flo_runtime *rt;
        char what[64];
        cfg.devices = FLO_DEVICES_CUDA;
        cfg.logical_gpus = lg;
        cfg.gpus = 1;
        cfg.host_workers = 2;
        if (flo_init(&cfg, &rt) != FLO_OK)
            continue;
        snprintf(what, sizeof(what), "%d logical GPU(s)", lg);
        fn(rt, what);
        assert_int_equal(flo_finalize(rt), FLO_OK);
        ran++;
    }
    if (ran == 0)
        skip();
#else
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 3;
    cfg.no_bind = 1;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    fn(rt, "host");
    assert_int_equal(flo_finalize(rt), FLO_OK);
#endif
}

static void *xalloc(uint64_t n, size_t es)
{
    void *p = malloc(n * es + 8);
    assert_non_null(p);
    return p;
}

/* Compare n elements; fail with the first mismatch. */
static void expect_same(flo_dtype t, const void *got, const void *want,
                        uint64_t n, const char *what)
{
    for (uint64_t i = 0; i < n; i++) {
        ref_val g = ref_get(t, got, i), w = ref_get(t, want, i);
        if (!ref_eq(t, g, w))
            fail_msg("%s: element %llu: got %g/%lld/%llu want %g/%lld/%llu",
                     what, (unsigned long long)i, g.f, (long long)g.i,
                     (unsigned long long)g.u, w.f, (long long)w.i,
                     (unsigned long long)w.u);
    }
}

static void reduce_cases(flo_runtime *rt, const char *where)
{
    for (int t = 0; t < FLO_DTYPE_COUNT; t++)
        for (size_t si = 0; si < NSIZES; si++)
            for (int li = 0; li < NLAYOUTS; li++)
                for (int prod = 0; prod < 2; prod++) {
                    uint64_t n = sizes[si];
                    size_t es = flo_dtype_size((flo_dtype)t);
                    void *x = xalloc(n, es);
                    flo_array_layout l = layout_of(li);
                    flo_array *a;
                    char what[160];
                    ref_fill((flo_dtype)t, x, n, n + (uint64_t)li, prod);
                    assert_int_equal(
                        flo_array_create_from_host(rt, (flo_dtype)t, n, x,
                                                   li ? &l : NULL, &a),
                        FLO_OK);
                    for (int op = 0; op < FLO_REDOP_COUNT; op++) {
                        if ((op == FLO_PROD) != (prod == 1))
                            continue;
                        unsigned char got[8];
                        int64_t idx, ridx;
                        ref_val want = ref_reduce((flo_dtype)t, (flo_redop)op,
                                                  x, n, &ridx);
                        snprintf(what, sizeof(what),
                                 "%s reduce %s %s n=%llu layout %d", where,
                                 flo_redop_name((flo_redop)op),
                                 flo_dtype_name((flo_dtype)t),
                                 (unsigned long long)n, li);
                        assert_int_equal(
                            flo_array_reduce_sync(a, (flo_redop)op, got),
                            FLO_OK);
                        if (!ref_eq((flo_dtype)t, ref_get((flo_dtype)t, got, 0),
                                    want))
                            fail_msg("%s: wrong value", what);
                        if (op < FLO_MIN)
                            continue;
                        assert_int_equal(flo_array_argreduce_sync(
                                             a, (flo_redop)op, got, &idx),
                                         FLO_OK);
                        if (idx != ridx ||
                            !ref_eq((flo_dtype)t, ref_get((flo_dtype)t, got, 0),
                                    want))
                            fail_msg("%s: arg: index %lld want %lld", what,
                                     (long long)idx, (long long)ridx);
                    }
                    assert_int_equal(flo_array_destroy(a), FLO_OK);
                    free(x);
                }
}

static void scan_cases(flo_runtime *rt, const char *where)
{
    for (int t = 0; t < FLO_DTYPE_COUNT; t++)
        for (size_t si = 0; si < NSIZES; si++)
            for (int li = 0; li < NLAYOUTS; li++)
                for (int op = 0; op < FLO_REDOP_COUNT; op++) {
                    uint64_t n = sizes[si];
                    flo_dtype dt = (flo_dtype)t;
                    size_t es = flo_dtype_size(dt);
                    void *x = xalloc(n, es), *want = xalloc(n, es);
                    void *got = xalloc(n, es);
                    flo_array_layout l = layout_of(li);
                    flo_array *a, *o;
                    ref_fill(dt, x, n, n * 3 + (uint64_t)op, op == FLO_PROD);
                    assert_int_equal(flo_array_create_from_host(
                                         rt, dt, n, x, li ? &l : NULL, &a),
                                     FLO_OK);
                    assert_int_equal(
                        flo_array_create(rt, dt, n, li ? &l : NULL, &o),
                        FLO_OK);
                    for (int v = 0; v < 5; v++) {
                        /* v: 0 inclusive, 1 exclusive, 2 inclusive with a
                         * carry-in, 3 exclusive with the carry in a data
                         * handle, 4 exclusive in place with a carry-in
                         * (last: it overwrites the input). */
                        bool excl = v == 1 || v >= 3;
                        unsigned char cbuf[8];
                        ref_val c = ref_identity(dt, (flo_redop)op);
                        const void *carry = NULL;
                        char what[160];
                        if (v >= 2) {
                            ref_val k = {op == FLO_PROD ? 2 : 5,
                                         op == FLO_PROD ? 2 : 5,
                                         op == FLO_PROD ? 2.0 : 5.0};
                            ref_put(dt, cbuf, 0, k);
                            c = ref_get(dt, cbuf, 0);
                            carry = cbuf;
                        }
                        snprintf(what, sizeof(what),
                                 "%s scan v%d %s %s n=%llu layout %d", where, v,
                                 flo_redop_name((flo_redop)op),
                                 flo_dtype_name(dt), (unsigned long long)n, li);
                        ref_scan(dt, (flo_redop)op, excl, x, want, n, c);
                        flo_array *dst = v == 4 ? a : o;
                        if (v == 3) {
                            flo_data ch;
                            flo_event ev;
                            void *p;
                            assert_int_equal(flo_data_alloc(rt, 8, &ch),
                                             FLO_OK);
                            assert_int_equal(
                                flo_data_acquire(rt, ch, FLO_WRITE, &p),
                                FLO_OK);
                            memcpy(p, cbuf, 8);
                            assert_int_equal(flo_data_release(rt, ch), FLO_OK);
                            assert_int_equal(flo_array_scan_carry(
                                                 dst, a, (flo_redop)op,
                                                 FLO_SCAN_EXCLUSIVE, ch, &ev),
                                             FLO_OK);
                            assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
                            assert_int_equal(flo_data_unregister(rt, ch),
                                             FLO_OK);
                        } else {
                            assert_int_equal(
                                flo_array_scan_sync(dst, a, (flo_redop)op,
                                                    excl ? FLO_SCAN_EXCLUSIVE
                                                         : FLO_SCAN_INCLUSIVE,
                                                    carry),
                                FLO_OK);
                        }
                        assert_int_equal(flo_array_to_host(dst, got), FLO_OK);
                        expect_same(dt, got, want, n, what);
                    }
                    assert_int_equal(flo_array_destroy(o), FLO_OK);
                    assert_int_equal(flo_array_destroy(a), FLO_OK);
                    free(x), free(want), free(got);
                }
}

/* Integers next to the ends of type t: every sum and product of two of
 * them overflows (odd values, so that products do not soon become 0). */
static void fill_wrap(flo_dtype t, void *p, uint64_t n, uint64_t seed)
{
    bool w64 = t == FLO_I64 || t == FLO_U64;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = ((i + seed) * 2654435761u) % 97;
        ref_val v = {0, 0, 0.0};
        if (ref_is_signed(t))
            v.i = (i + seed) % 3 == 0
                      ? (w64 ? INT64_MIN : INT32_MIN) + (int64_t)(2 * k + 1)
                      : (w64 ? INT64_MAX : INT32_MAX) - (int64_t)(2 * k);
        else
            v.u = (w64 ? UINT64_MAX : UINT32_MAX) - 2 * k;
        ref_put(t, p, i, v);
    }
}

/* Reduce and scan of such integers: the results wrap modulo 2^bits, the
 * same on every layout (the reference combines left to right). */
static void wrap_cases(flo_runtime *rt, const char *where)
{
    static const flo_dtype types[] = {FLO_I32, FLO_I64, FLO_U32, FLO_U64};
    for (size_t ti = 0; ti < 4; ti++)
        for (size_t si = 1; si < NSIZES; si++)
            for (int li = 0; li < NLAYOUTS; li++) {
                flo_dtype dt = types[ti];
                uint64_t n = sizes[si];
                size_t es = flo_dtype_size(dt);
                void *x = xalloc(n, es), *want = xalloc(n, es);
                void *got = xalloc(n, es);
                flo_array_layout l = layout_of(li);
                flo_array *a, *o;
                char what[160];
                fill_wrap(dt, x, n, n + (uint64_t)li);
                assert_int_equal(flo_array_create_from_host(rt, dt, n, x,
                                                            li ? &l : NULL, &a),
                                 FLO_OK);
                assert_int_equal(
                    flo_array_create(rt, dt, n, li ? &l : NULL, &o), FLO_OK);
                for (int op = 0; op < FLO_REDOP_COUNT; op++) {
                    uint64_t r, cbuf; /* Aligned for every type. */
                    int64_t idx, ridx;
                    ref_val want1 = ref_reduce(dt, (flo_redop)op, x, n, &ridx);
                    snprintf(what, sizeof(what),
                             "%s wrap %s %s n=%llu "
                             "layout %d",
                             where, flo_redop_name((flo_redop)op),
                             flo_dtype_name(dt), (unsigned long long)n, li);
                    assert_int_equal(
                        flo_array_reduce_sync(a, (flo_redop)op, &r), FLO_OK);
                    if (!ref_eq(dt, ref_get(dt, &r, 0), want1))
                        fail_msg("%s: wrong reduce", what);
                    if (op >= FLO_MIN) {
                        assert_int_equal(flo_array_argreduce_sync(
                                             a, (flo_redop)op, &r, &idx),
                                         FLO_OK);
                        if (idx != ridx)
                            fail_msg("%s: argreduce index %lld want %lld", what,
                                     (long long)idx, (long long)ridx);
                    }
                    /* A carry-in next to the end of the type as well. */
                    fill_wrap(dt, &cbuf, 1, 5);
                    for (int excl = 0; excl < 2; excl++) {
                        ref_scan(dt, (flo_redop)op, excl, x, want, n,
                                 ref_get(dt, &cbuf, 0));
                        assert_int_equal(
                            flo_array_scan_sync(o, a, (flo_redop)op,
                                                excl ? FLO_SCAN_EXCLUSIVE
                                                     : FLO_SCAN_INCLUSIVE,
                                                &cbuf),
                            FLO_OK);
                        assert_int_equal(flo_array_to_host(o, got), FLO_OK);
                        expect_same(dt, got, want, n, what);
                    }
                }
                assert_int_equal(flo_array_destroy(o), FLO_OK);
                assert_int_equal(flo_array_destroy(a), FLO_OK);
                free(x), free(want), free(got);
            }
}

static void transform_cases(flo_runtime *rt, const char *where)
{
    for (int t = 0; t < FLO_DTYPE_COUNT; t++)
        for (size_t si = 0; si < NSIZES; si++)
            for (int li = 0; li < NLAYOUTS; li += 3) {
                uint64_t n = sizes[si];
                flo_dtype dt = (flo_dtype)t;
                size_t es = flo_dtype_size(dt);
                void *x = xalloc(n, es), *y = xalloc(n, es);
                void *want = xalloc(n, es), *got = xalloc(n, es);
                flo_array_layout l = layout_of(li);
                const flo_array_layout *lp = li ? &l : NULL;
                flo_array *ax, *ay, *ao;
                unsigned char al[8];
                ref_val alv = {3, 3, 2.5};
                ref_put(dt, al, 0, alv);
                alv = ref_get(dt, al, 0);
                ref_fill(dt, x, n, n + 11, false);
                ref_fill(dt, y, n, n + 12, false);
                assert_int_equal(
                    flo_array_create_from_host(rt, dt, n, x, lp, &ax), FLO_OK);
                assert_int_equal(
                    flo_array_create_from_host(rt, dt, n, y, lp, &ay), FLO_OK);
                assert_int_equal(flo_array_create(rt, dt, n, lp, &ao), FLO_OK);
                for (int op = 0; op < FLO_XF_OP_COUNT; op++) {
                    bool bin = op == FLO_XF_AXPY || op == FLO_XF_ADD ||
                               op == FLO_XF_SUB || op == FLO_XF_MUL ||
                               op == FLO_XF_DIV || op == FLO_XF_MIN ||
                               op == FLO_XF_MAX;
                    char what[160];
                    for (uint64_t i = 0; i < n; i++)
                        ref_put(dt, want, i,
                                ref_xf(dt, (flo_transform_op)op,
                                       ref_get(dt, x, i), ref_get(dt, y, i),
                                       alv));
                    snprintf(what, sizeof(what),
                             "%s transform %d %s n=%llu layout %d", where, op,
                             flo_dtype_name(dt), (unsigned long long)n, li);
                    assert_int_equal(
                        flo_array_transform_sync(ao, (flo_transform_op)op,
                                                 op == FLO_XF_FILL ? NULL : ax,
                                                 bin ? ay : NULL, al),
                        FLO_OK);
                    assert_int_equal(flo_array_to_host(ao, got), FLO_OK);
                    expect_same(dt, got, want, n, what);
                }
                /* In place: y = alpha * x + y. */
                for (uint64_t i = 0; i < n; i++)
                    ref_put(dt, want, i,
                            ref_xf(dt, FLO_XF_AXPY, ref_get(dt, x, i),
                                   ref_get(dt, y, i), alv));
                assert_int_equal(
                    flo_array_transform_sync(ay, FLO_XF_AXPY, ax, ay, al),
                    FLO_OK);
                assert_int_equal(flo_array_to_host(ay, got), FLO_OK);
                expect_same(dt, got, want, n, "in-place axpy");
                /* Conversions from every type into dt. */
                for (int s = 0; s < FLO_DTYPE_COUNT; s++) {
                    flo_dtype st = (flo_dtype)s;
                    void *xs = xalloc(n, flo_dtype_size(st));
                    flo_array *as;
                    char what2[160];
                    ref_fill(st, xs, n, n + 13, false);
                    if (ref_is_float(st))
                        for (uint64_t i = 0; i < n; i++) {
                            /* Out-of-range and fractional values too. */
                            ref_val v = ref_get(st, xs, i);
                            v.f = v.f * 1.37e8 + 0.75;
                            ref_put(st, xs, i, v);
                        }
                    for (uint64_t i = 0; i < n; i++)
                        ref_put(dt, want, i,
                                ref_convert(dt, st, ref_get(st, xs, i)));
                    assert_int_equal(
                        flo_array_create_from_host(rt, st, n, xs, lp, &as),
                        FLO_OK);
                    assert_int_equal(flo_array_transform_sync(ao, FLO_XF_COPY,
                                                              as, NULL, NULL),
                                     FLO_OK);
                    assert_int_equal(flo_array_to_host(ao, got), FLO_OK);
                    snprintf(what2, sizeof(what2), "%s convert %s->%s n=%llu",
                             where, flo_dtype_name(st), flo_dtype_name(dt),
                             (unsigned long long)n);
                    expect_same(dt, got, want, n, what2);
                    assert_int_equal(flo_array_destroy(as), FLO_OK);
                    free(xs);
                }
                assert_int_equal(flo_array_destroy(ao), FLO_OK);
                assert_int_equal(flo_array_destroy(ay), FLO_OK);
                assert_int_equal(flo_array_destroy(ax), FLO_OK);
                free(x), free(y), free(want), free(got);
            }
}

/* Random reals: float sums are not exact; check the documented bound
 * (pairwise on the host, CUB's tree on GPUs, block partials in order). */
static void accuracy_cases(flo_runtime *rt, const char *where)
{
    const uint64_t n = 200003;
    float *x = xalloc(n, 4), *s = xalloc(n, 4);
    double ref = 0.0, abs_sum = 0.0;
    uint64_t r = 88172645463325252ull;
    for (uint64_t i = 0; i < n; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.3);
        ref += x[i];
        abs_sum += fabs(x[i]);
    }
    for (int li = 0; li < NLAYOUTS; li++) {
        flo_array_layout l = layout_of(li);
        flo_array *a;
        float got;
        assert_int_equal(
            flo_array_create_from_host(rt, FLO_F32, n, x, li ? &l : NULL, &a),
            FLO_OK);
        assert_int_equal(flo_array_reduce_sync(a, FLO_SUM, &got), FLO_OK);
        /* Pairwise / tree: about log2(n) * eps * sum |x|; allow 64x. */
        if (fabs(got - ref) > 64 * 18 * 6e-8 * abs_sum)
            fail_msg("%s: f32 sum %.9g vs %.9g", where, got, ref);
        /* Scans are sequential within a host block: n * eps bound. */
        assert_int_equal(
            flo_array_scan_sync(a, a, FLO_SUM, FLO_SCAN_INCLUSIVE, NULL),
            FLO_OK);
        assert_int_equal(flo_array_to_host(a, s), FLO_OK);
        if (fabs(s[n - 1] - ref) > (double)n * 6e-8 * abs_sum)
            fail_msg("%s: f32 scan end %.9g vs %.9g", where, s[n - 1], ref);
        assert_int_equal(flo_array_destroy(a), FLO_OK);
    }
    free(x), free(s);
}

/* ---- Chained with user code ----------------------------------------------
 * fill -> user kernel (CUDA entry on GPUs) -> a raw task per block ->
 * scan -> reduce, submitted without waiting: data accesses order them. */

static void iota_host(const flo_array_span *s)
{
    const int64_t *x = s->in[0];
    int64_t *o = s->out;
    int64_t k;
    memcpy(&k, s->args, sizeof(k));
    for (uint64_t i = 0; i < s->count; i++)
        o[i] = x[i] * k + (int64_t)(s->offset + i);
}

/* Raw host task on one block: add the block's first global index to
 * every element (it may run where the block is not: data moves). */
static void add_offset(flo_task_ctx *ctx)
{
    const uint64_t *off = flo_task_args(ctx, NULL);
    int64_t *p = flo_task_buffer(ctx, 0);
    uint64_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);
    for (uint64_t i = 0; i < n; i++)
        p[i] += (int64_t)*off;
}

static void chain_cases(flo_runtime *rt, const char *where)
{
    static const flo_kernel raw = {"add_offset", add_offset, NULL};
#if FLO_TEST_GPU
    const flo_array_kernel iota = {"iota", iota_host, algo_test_iota_cuda};
#else
    const flo_array_kernel iota = {"iota", iota_host, NULL};
#endif
    const uint64_t n = 250007;
    int64_t two = 2, k = 3, sum, total = 0, acc = 0;
    int64_t *h = xalloc(n, 8), *want = xalloc(n, 8);
    for (int li = 0; li < NLAYOUTS; li++) {
        flo_array_layout l = layout_of(li);
        flo_array *x, *y;
        flo_event ev;
        assert_int_equal(flo_array_create(rt, FLO_I64, n, li ? &l : NULL, &x),
                         FLO_OK);
        assert_int_equal(flo_array_create(rt, FLO_I64, n, li ? &l : NULL, &y),
                         FLO_OK);
        assert_int_equal(flo_array_fill(x, &two, NULL), FLO_OK);
        assert_int_equal(flo_array_map(y, &iota, x, NULL, &k, sizeof(k), NULL),
                         FLO_OK);
        for (int b = 0; b < flo_array_nblocks(y); b++) {
            flo_array_block_info bi;
            flo_access_desc a;
            flo_task_desc d = FLO_TASK_DESC_INIT;
            assert_int_equal(flo_array_block(y, b, &bi), FLO_OK);
            if (bi.count == 0)
                continue;
            a.data = bi.data;
            a.mode = FLO_READ_WRITE;
            d.kernel = &raw;
            d.access = &a;
            d.naccess = 1;
            d.args = &bi.offset;
            d.args_size = sizeof(bi.offset);
            assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
        }
        assert_int_equal(
            flo_array_scan(x, y, FLO_SUM, FLO_SCAN_INCLUSIVE, NULL, &ev),
            FLO_OK);
        assert_int_equal(flo_array_reduce_sync(y, FLO_SUM, &sum), FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
        assert_int_equal(flo_array_to_host(x, h), FLO_OK);
        total = 0;
        acc = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t off = 0;
            for (int b = 0; b < flo_array_nblocks(y); b++) {
                flo_array_block_info bi;
                assert_int_equal(flo_array_block(y, b, &bi), FLO_OK);
                if (i >= bi.offset && i < bi.offset + bi.count)
                    off = bi.offset;
            }
            int64_t v = 6 + (int64_t)i + (int64_t)off;
            acc += v;
            want[i] = acc;
            total += v;
        }
        if (sum != total)
            fail_msg("%s: chain sum %lld want %lld", where, (long long)sum,
                     (long long)total);
        expect_same(FLO_I64, h, want, n, where);
        assert_int_equal(flo_array_destroy(y), FLO_OK);
        assert_int_equal(flo_array_destroy(x), FLO_OK);
    }
    free(h), free(want);
}

static void test_chain(void **state)
{
    (void)state;
    for_each_runtime(chain_cases);
}

static void test_reduce(void **state)
{
    (void)state;
    for_each_runtime(reduce_cases);
}

static void test_scan(void **state)
{
    (void)state;
    for_each_runtime(scan_cases);
}

static void test_wrap(void **state)
{
    (void)state;
    for_each_runtime(wrap_cases);
}

static void test_transform(void **state)
{
    (void)state;
    for_each_runtime(transform_cases);
}

static void test_accuracy(void **state)
{
    (void)state;
    for_each_runtime(accuracy_cases);
}

#if FLO_TEST_GPU
/* One array above 2^31 elements on one GPU: fill, scan in place, reduce,
 * argmin/argmax, all with 64-bit indices. */
static void test_big(void **state)
{
    (void)state;
    const uint64_t n = (UINT64_C(1) << 31) + 5;
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt;
    flo_array *a;
    int32_t one = 1, v;
    int64_t idx;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    if (flo_init(&cfg, &rt) != FLO_OK)
        skip();
    flo_device_info info;
    assert_int_equal(flo_device_get_info(rt, 1, &info), FLO_OK);
    if (info.memory_bytes < (size_t)12 << 30) {
        flo_finalize(rt);
        skip();
    }
    assert_int_equal(flo_array_create(rt, FLO_I32, n, NULL, &a), FLO_OK);
    assert_int_equal(flo_array_fill(a, &one, NULL), FLO_OK);
    assert_int_equal(flo_array_reduce_sync(a, FLO_SUM, &v), FLO_OK);
    assert_int_equal(v, (int32_t)(uint32_t)n);
    /* In place: a[i] = (int32)(i + 1), wrapping past 2^31 - 1. */
    assert_int_equal(
        flo_array_scan_sync(a, a, FLO_SUM, FLO_SCAN_INCLUSIVE, NULL), FLO_OK);
    assert_int_equal(flo_array_argreduce_sync(a, FLO_MAX, &v, &idx), FLO_OK);
    assert_int_equal(v, INT32_MAX);
    assert_int_equal(idx, (int64_t)INT32_MAX - 1);
    assert_int_equal(flo_array_argreduce_sync(a, FLO_MIN, &v, &idx), FLO_OK);
    assert_int_equal(v, INT32_MIN);
    assert_int_equal(idx, (int64_t)INT32_MAX);
    int32_t *h = malloc(n * sizeof(int32_t));
    assert_non_null(h);
    assert_int_equal(flo_array_to_host(a, h), FLO_OK);
    for (uint64_t i = 0; i < n; i++)
        if (h[i] != (int32_t)(uint32_t)(i + 1))
            fail_msg("big scan: element %llu = %d", (unsigned long long)i,
                     h[i]);
    free(h);
    assert_int_equal(flo_array_destroy(a), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}
#endif

int main(void)
{
#if FLO_TEST_GPU
    /* Skip the whole group visibly when no GPU is usable. */
    {
        flo_config cfg = FLO_CONFIG_INIT;
        flo_runtime *rt;
        cfg.devices = FLO_DEVICES_CUDA;
        cfg.gpus = 1;
        if (flo_init(&cfg, &rt) != FLO_OK) {
            printf("1..0 # SKIP no CUDA GPU visible\n");
            return 0;
        }
        flo_finalize(rt);
    }
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_transform),
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_chain),
#if FLO_TEST_GPU
        cmocka_unit_test(test_big),
#endif
    };
#if FLO_TEST_GPU
    return cmocka_run_group_tests_name("algorithms_ops_gpu", tests, NULL, NULL);
#else
    return cmocka_run_group_tests_name("algorithms_ops", tests, NULL, NULL);
#endif
}
