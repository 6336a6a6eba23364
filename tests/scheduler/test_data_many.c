/*
 * scheduler_data_many: flo_data_register_many and flo_data_unregister_many
 * - thousands of buffers in one call, all or nothing on every error
 * (nothing registered, nothing unregistered), and several threads at
 * once, also against concurrent submissions to the same handles.
 */
#include <pthread.h>

#include "scheduler/sched.h"
#include "testutil.h"

/* buffer 0 (int64 array, RW): every element += 1. */
static void k_inc(flo_task_ctx *ctx)
{
    int64_t *p = flo_task_buffer(ctx, 0);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);
    for (size_t i = 0; i < n; i++)
        p[i] += 1;
}
static const flo_kernel kinc = {"inc", k_inc, NULL};

static flo_status submit_inc(flo_runtime *rt, flo_data h)
{
    flo_access_desc acc = {h, FLO_READ_WRITE};
    return flot_submit(rt, &kinc, &acc, 1, NULL, 0, NULL);
}

/* The table's bookkeeping, to show that a failed call changed nothing. */
typedef struct table_state {
    uint32_t next;
    int nfree;
    uint32_t free_top[8];
} table_state;

static table_state table_of(flo_runtime *rt)
{
    table_state t;
    memset(&t, 0, sizeof(t));
    pthread_mutex_lock(&rt->data_mu);
    t.next = rt->data_next;
    t.nfree = rt->ndata_free;
    for (int i = 0; i < 8 && i < t.nfree; i++)
        t.free_top[i] = rt->data_free[t.nfree - 1 - i];
    pthread_mutex_unlock(&rt->data_mu);
    return t;
}

static void assert_table_equal(table_state a, table_state b)
{
    assert_int_equal(a.next, b.next);
    assert_int_equal(a.nfree, b.nfree);
    assert_memory_equal(a.free_top, b.free_top, sizeof(a.free_top));
}

/* n buffers of 1 + i % 7 int64 elements, all set to i. */
typedef struct bufs {
    size_t n;
    int64_t **p;
    size_t *sizes;
    flo_data *h;
} bufs;

/* false if out of memory (no CMocka call: threads use it too). */
static bool bufs_try_make(bufs *b, size_t n)
{
    b->n = n;
    b->p = calloc(n, sizeof(*b->p));
    b->sizes = calloc(n, sizeof(*b->sizes));
    b->h = calloc(n, sizeof(*b->h));
    if (!b->p || !b->sizes || !b->h)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t k = 1 + i % 7;
        b->p[i] = malloc(k * sizeof(int64_t));
        if (!b->p[i])
            return false;
        for (size_t j = 0; j < k; j++)
            b->p[i][j] = (int64_t)i;
        b->sizes[i] = k * sizeof(int64_t);
    }
    return true;
}

static void bufs_make(bufs *b, size_t n)
{
    assert_true(bufs_try_make(b, n));
}

static void bufs_free(bufs *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->p[i]);
    free(b->p);
    free(b->sizes);
    free(b->h);
}

/* Every buffer holds i + add, in every element. */
static bool bufs_check(const bufs *b, int64_t add)
{
    for (size_t i = 0; i < b->n; i++)
        for (size_t j = 0; j < b->sizes[i] / sizeof(int64_t); j++)
            if (b->p[i][j] != (int64_t)i + add)
                return false;
    return true;
}

/* Thousands of buffers: distinct live handles of the right sizes, usable
 * by tasks, written back by unregister_many. */
static void test_many_roundtrip(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    bufs b;
    size_t n = (size_t)flot_scaled(5000, 500);
    assert_non_null(rt);
    bufs_make(&b, n);
    for (unsigned flags = 0; flags <= FLO_DATA_NO_PIN; flags++) {
        table_state before = table_of(rt);
        assert_int_equal(flo_data_register_many(rt, n, (void *const *)b.p,
                                                b.sizes, flags, b.h),
                         FLO_OK);
        for (size_t i = 0; i < n; i++) {
            size_t sz = 0;
            assert_int_equal(flo_data_size(rt, b.h[i], &sz), FLO_OK);
            assert_int_equal(sz, b.sizes[i]);
            if (i > 0)
                assert_false(flo_data_equal(b.h[i], b.h[i - 1]));
        }
        if (flags == 0)
            assert_int_equal(table_of(rt).next, before.next + n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(submit_inc(rt, b.h[i]), FLO_OK);
        assert_int_equal(flo_data_unregister_many(rt, n, b.h), FLO_OK);
        assert_true(bufs_check(&b, (int64_t)flags + 1));
        for (size_t i = 0; i < n; i++)
            assert_int_equal(flo_data_size(rt, b.h[i], &(size_t){0}),
                             FLO_ESTALE);
    }
    /* The second round reused the first round's slots. */
    assert_int_equal(table_of(rt).nfree, (int)n);
    /* n == 0 does nothing. */
    flo_data sentinel = {1, 2};
    assert_int_equal(flo_data_register_many(rt, 0, NULL, NULL, 0, NULL),
                     FLO_OK);
    assert_int_equal(flo_data_register_many(rt, 0, (void *const *)b.p, b.sizes,
                                            0, &sentinel),
                     FLO_OK);
    assert_int_equal(sentinel.id, 1);
    assert_int_equal(flo_data_unregister_many(rt, 0, NULL), FLO_OK);
    bufs_free(&b);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* One bad entry anywhere: FLO_EINVAL, nothing registered, out untouched. */
static void test_register_many_bad(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    bufs b;
    enum { N = 1000 };
    flo_data *out = calloc(N, sizeof(*out));
    assert_non_null(rt);
    assert_non_null(out);
    bufs_make(&b, N);
    /* A free list to check that it is left in order. */
    assert_int_equal(
        flo_data_register_many(rt, 10, (void *const *)b.p, b.sizes, 0, b.h),
        FLO_OK);
    assert_int_equal(flo_data_unregister_many(rt, 10, b.h), FLO_OK);
    table_state before = table_of(rt);
    memset(out, 0xab, N * sizeof(*out));

    int64_t *saved = b.p[N / 2];
    b.p[N / 2] = NULL;
    assert_int_equal(
        flo_data_register_many(rt, N, (void *const *)b.p, b.sizes, 0, out),
        FLO_EINVAL);
    b.p[N / 2] = saved;
    b.sizes[N - 1] = 0;
    assert_int_equal(
        flo_data_register_many(rt, N, (void *const *)b.p, b.sizes, 0, out),
        FLO_EINVAL);
    b.sizes[N - 1] = sizeof(int64_t);
    assert_int_equal(
        flo_data_register_many(rt, N, (void *const *)b.p, b.sizes, 0x10, out),
        FLO_EINVAL);
    assert_int_equal(
        flo_data_register_many(NULL, N, (void *const *)b.p, b.sizes, 0, out),
        FLO_EINVAL);
    assert_int_equal(flo_data_register_many(rt, N, NULL, b.sizes, 0, out),
                     FLO_EINVAL);
    assert_int_equal(
        flo_data_register_many(rt, N, (void *const *)b.p, NULL, 0, out),
        FLO_EINVAL);
    assert_int_equal(
        flo_data_register_many(rt, N, (void *const *)b.p, b.sizes, 0, NULL),
        FLO_EINVAL);
    for (size_t i = 0; i < N * sizeof(*out); i++)
        assert_int_equal(((unsigned char *)out)[i], 0xab);
    assert_table_equal(table_of(rt), before);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    bufs_free(&b);
    free(out);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A table that cannot take all n: FLO_ENOMEM with the slots already
 * taken from the free list and the fresh ones given back; exactly n
 * that fit then succeed. FLO__TEST_DATA_LIMIT caps the table. */
static void test_register_many_full(void **state)
{
    (void)state;
    enum { LIMIT = 100 };
    flo_runtime *rt;
    bufs b;
    setenv("FLO__TEST_DATA_LIMIT", "100", 1);
    rt = flot_rt(FLO_SCHED_WS, 2);
    unsetenv("FLO__TEST_DATA_LIMIT");
    assert_non_null(rt);
    bufs_make(&b, LIMIT + 1);
    /* 30 registered one by one, 10 of them unregistered: 20 in use, 10
     * slots on the free list, 70 never used. */
    for (int i = 0; i < 30; i++)
        assert_int_equal(flo_data_register(rt, b.p[i], b.sizes[i], &b.h[i]),
                         FLO_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(flo_data_unregister(rt, b.h[i]), FLO_OK);
    table_state before = table_of(rt);
    assert_int_equal(before.nfree, 10);
    assert_int_equal(before.next, 30);

    flo_data *out = calloc(LIMIT + 1, sizeof(*out));
    assert_non_null(out);
    memset(out, 0xcd, (LIMIT + 1) * sizeof(*out));
    assert_int_equal(
        flo_data_register_many(rt, 81, (void *const *)b.p, b.sizes, 0, out),
        FLO_ENOMEM);
    assert_int_equal(flo_data_register_many(rt, LIMIT + 1, (void *const *)b.p,
                                            b.sizes, 0, out),
                     FLO_ENOMEM);
    for (size_t i = 0; i < (LIMIT + 1) * sizeof(*out); i++)
        assert_int_equal(((unsigned char *)out)[i], 0xcd);
    assert_table_equal(table_of(rt), before);
    /* The 20 still registered are untouched. */
    for (int i = 10; i < 30; i++)
        assert_int_equal(flo_data_size(rt, b.h[i], &(size_t){0}), FLO_OK);

    /* Exactly the 80 that fit. */
    assert_int_equal(
        flo_data_register_many(rt, 80, (void *const *)b.p, b.sizes, 0, out),
        FLO_OK);
    flo_data one;
    assert_int_equal(flo_data_register(rt, b.p[0], b.sizes[0], &one),
                     FLO_ENOMEM);
    for (int i = 0; i < 80; i++)
        assert_int_equal(submit_inc(rt, out[i]), FLO_OK);
    assert_int_equal(flo_data_unregister_many(rt, 80, out), FLO_OK);
    assert_int_equal(flo_data_unregister_many(rt, 20, b.h + 10), FLO_OK);
    free(out);
    bufs_free(&b);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void k_unreg_from_task(flo_task_ctx *ctx)
{
    const flo_data *h = flo_task_args(ctx, NULL);
    flo_status *st = flo_task_buffer(ctx, 0);
    *st = flo_data_unregister_many(flo_task_runtime(ctx), 2, h);
}
static const flo_kernel kunreg = {"unreg", k_unreg_from_task, NULL};

/* One bad handle anywhere: an error, and every handle stays registered
 * and usable. */
static void test_unregister_many_bad(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    flo_runtime *rt2 = flot_rt(FLO_SCHED_WS, 1);
    enum { N = 200 };
    bufs b;
    assert_non_null(rt);
    assert_non_null(rt2);
    bufs_make(&b, N);
    assert_int_equal(
        flo_data_register_many(rt, N, (void *const *)b.p, b.sizes, 0, b.h),
        FLO_OK);
    flo_data *v = calloc(N, sizeof(*v));
    assert_non_null(v);

    /* A stale handle in the middle. */
    int64_t x = 0;
    flo_data stale, foreign;
    assert_int_equal(flo_data_register(rt, &x, sizeof(x), &stale), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, stale), FLO_OK);
    memcpy(v, b.h, N * sizeof(*v));
    v[N / 2] = stale;
    assert_int_equal(flo_data_unregister_many(rt, N, v), FLO_ESTALE);
    /* A handle of another runtime, the null handle, a duplicate. */
    assert_int_equal(flo_data_register(rt2, &x, sizeof(x), &foreign), FLO_OK);
    v[N / 2] = foreign;
    assert_int_equal(flo_data_unregister_many(rt, N, v), FLO_EFOREIGN);
    v[N / 2] = FLO_DATA_NULL;
    assert_int_equal(flo_data_unregister_many(rt, N, v), FLO_EINVAL);
    v[N / 2] = b.h[3];
    assert_int_equal(flo_data_unregister_many(rt, N, v), FLO_EINVAL);
    assert_int_equal(flo_data_unregister_many(rt, N, NULL), FLO_EINVAL);
    assert_int_equal(flo_data_unregister_many(NULL, N, b.h), FLO_EINVAL);
    /* An acquired handle. */
    void *p;
    assert_int_equal(flo_data_acquire(rt, b.h[N - 1], FLO_READ, &p), FLO_OK);
    assert_int_equal(flo_data_unregister_many(rt, N, b.h), FLO_EBUSY);
    assert_int_equal(flo_data_release(rt, b.h[N - 1]), FLO_OK);
    /* From inside a task. */
    flo_status tst = FLO_OK;
    flo_data hst;
    assert_int_equal(flo_data_register(rt, &tst, sizeof(tst), &hst), FLO_OK);
    flo_access_desc acc = {hst, FLO_WRITE};
    assert_int_equal(
        flot_submit(rt, &kunreg, &acc, 1, b.h, 2 * sizeof(flo_data), NULL),
        FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hst), FLO_OK);
    assert_int_equal(tst, FLO_EDEADLK);

    /* Nothing was unregistered: all still work, then all go at once. */
    for (int i = 0; i < N; i++)
        assert_int_equal(submit_inc(rt, b.h[i]), FLO_OK);
    assert_int_equal(flo_data_unregister_many(rt, N, b.h), FLO_OK);
    assert_true(bufs_check(&b, 1));
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    free(v);
    bufs_free(&b);
    assert_int_equal(flo_finalize(rt2), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Several threads register, use and unregister batches at once. */
#define TH 4

typedef struct th_arg {
    flo_runtime *rt;
    int rounds;
    size_t n;
    int errors;
} th_arg;

static void *th_main(void *arg)
{
    th_arg *a = arg;
    bufs b;
    if (!bufs_try_make(&b, a->n)) {
        a->errors++;
        bufs_free(&b);
        return NULL;
    }
    for (int r = 0; r < a->rounds; r++) {
        if (flo_data_register_many(a->rt, b.n, (void *const *)b.p, b.sizes, 0,
                                   b.h) != FLO_OK) {
            a->errors++;
            break;
        }
        for (size_t i = 0; i < b.n; i++)
            if (submit_inc(a->rt, b.h[i]) != FLO_OK)
                a->errors++;
        if (flo_data_unregister_many(a->rt, b.n, b.h) != FLO_OK)
            a->errors++;
        if (!bufs_check(&b, r + 1))
            a->errors++;
    }
    bufs_free(&b);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    pthread_t th[TH];
    th_arg a[TH];
    assert_non_null(rt);
    for (int t = 0; t < TH; t++) {
        a[t] = (th_arg){rt, (int)flot_scaled(20, 3),
                        (size_t)flot_scaled(500, 50), 0};
        assert_int_equal(pthread_create(&th[t], NULL, th_main, &a[t]), 0);
    }
    for (int t = 0; t < TH; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < TH; t++)
        assert_int_equal(a[t].errors, 0);
    /* Every slot went back. */
    table_state ts = table_of(rt);
    assert_int_equal((uint32_t)ts.nfree, ts.next);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Two unregister_many calls over overlapping sets race: one takes all of
 * its handles, the other fails with FLO_ESTALE having taken none; a
 * third thread submitting to the handles meanwhile either gets its task
 * run before the unregister (and written back) or FLO_ESTALE. */
enum { RN = 64, OVER = 16 };

typedef struct race {
    flo_runtime *rt;
    flo_data *h; /* 2 * RN - OVER handles. */
    atomic_int go;
    flo_status st[2];
    long ok_submits[2 * RN];
} race;

static void *race_unreg(void *arg)
{
    race *r = ((void **)arg)[0];
    int which = (int)(intptr_t)((void **)arg)[1];
    while (!atomic_load(&r->go))
        ;
    r->st[which] =
        flo_data_unregister_many(r->rt, RN, r->h + (which ? RN - OVER : 0));
    return NULL;
}

static void *race_submit(void *arg)
{
    race *r = arg;
    while (!atomic_load(&r->go))
        ;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2 * RN - OVER; i++) {
            flo_status st = submit_inc(r->rt, r->h[i]);
            if (st == FLO_OK)
                r->ok_submits[i]++;
            else if (st != FLO_ESTALE)
                r->ok_submits[i] = -1000000; /* Fails the check below. */
        }
    return NULL;
}

static void test_unregister_race(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    long rounds = flot_scaled(40, 5);
    enum { M = 2 * RN - OVER };
    assert_non_null(rt);
    for (long round = 0; round < rounds; round++) {
        static race r;
        static int64_t v[M];
        static flo_data h[M];
        void *ptrs[M];
        size_t sizes[M];
        memset(&r, 0, sizeof(r));
        for (int i = 0; i < M; i++) {
            v[i] = 0;
            ptrs[i] = &v[i];
            sizes[i] = sizeof(v[i]);
        }
        assert_int_equal(flo_data_register_many(rt, M, ptrs, sizes, 0, h),
                         FLO_OK);
        r.rt = rt;
        r.h = h;
        pthread_t th[3];
        void *args[2][2] = {{&r, (void *)0}, {&r, (void *)1}};
        assert_int_equal(pthread_create(&th[0], NULL, race_unreg, args[0]), 0);
        assert_int_equal(pthread_create(&th[1], NULL, race_unreg, args[1]), 0);
        assert_int_equal(pthread_create(&th[2], NULL, race_submit, &r), 0);
        atomic_store(&r.go, 1);
        for (int t = 0; t < 3; t++)
            pthread_join(th[t], NULL);
        /* Exactly one of the two won. */
        assert_true((r.st[0] == FLO_OK) != (r.st[1] == FLO_OK));
        int won = r.st[0] == FLO_OK ? 0 : 1;
        assert_int_equal(r.st[1 - won], FLO_ESTALE);
        int lo = won ? RN - OVER : 0, hi = lo + RN;
        /* The winner's handles are gone, with every accepted task's
         * effect written back; the loser's own handles are still there. */
        for (int i = 0; i < M; i++) {
            size_t sz;
            flo_status st = flo_data_size(rt, h[i], &sz);
            if (i >= lo && i < hi) {
                assert_int_equal(st, FLO_ESTALE);
                assert_int_equal(v[i], r.ok_submits[i]);
            } else {
                assert_int_equal(st, FLO_OK);
            }
        }
        int olo = won ? 0 : RN, ohi = won ? RN - OVER : M;
        assert_int_equal(
            flo_data_unregister_many(rt, (size_t)(ohi - olo), h + olo), FLO_OK);
        for (int i = olo; i < ohi; i++)
            assert_int_equal(v[i], r.ok_submits[i]);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_roundtrip),
        cmocka_unit_test(test_register_many_bad),
        cmocka_unit_test(test_register_many_full),
        cmocka_unit_test(test_unregister_many_bad),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_unregister_race),
    };
    return cmocka_run_group_tests_name("scheduler_data_many", tests, NULL,
                                       NULL);
}
