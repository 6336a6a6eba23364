/*
 * scheduler_data: data handles - register, alloc, acquire, release,
 * unregister - and their error paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>

#include "tests/scheduler/testutil.h"

/* ---- Kernels ----------------------------------------------------------- */

typedef struct add_args {
    int64_t add;
    long sleep_us;
} add_args;

/* buffer 0 (int64 array, RW): every element += add. */
static void k_add(flo_task_ctx *ctx)
{
    const add_args *a = flo_task_args(ctx, NULL);
    int64_t *p = flo_task_buffer(ctx, 0);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);
    if (a->sleep_us)
        flot_sleep_us(a->sleep_us);
    for (size_t i = 0; i < n; i++)
        p[i] += a->add;
}
static const flo_kernel kadd = {"add", k_add, NULL};

/* buffer 0 (int64 array, W): element i = add * i. */
static void k_fill(flo_task_ctx *ctx)
{
    const add_args *a = flo_task_args(ctx, NULL);
    int64_t *p = flo_task_buffer(ctx, 0);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);
    if (a->sleep_us)
        flot_sleep_us(a->sleep_us);
    for (size_t i = 0; i < n; i++)
        p[i] = a->add * (int64_t)i;
}
static const flo_kernel kfill = {"fill", k_fill, NULL};

/* What a reader saw. */
static atomic_int observed_runs;
static int64_t observed_first;
static long observed_nonzero;
static size_t observed_size;

/* buffer 0 (R): record its first element and how many bytes are not 0. */
static void k_observe(flo_task_ctx *ctx)
{
    const unsigned char *p = flo_task_buffer(ctx, 0);
    size_t n = flo_task_buffer_size(ctx, 0);
    long nz = 0;
    for (size_t i = 0; i < n; i++)
        nz += p[i] != 0;
    memcpy(&observed_first, p, sizeof(int64_t));
    observed_nonzero = nz;
    observed_size = n;
    atomic_fetch_add(&observed_runs, 1);
}
static const flo_kernel kobserve = {"observe", k_observe, NULL};

static void k_fail(flo_task_ctx *ctx)
{
    flo_task_fail(ctx, FLO_ETASK, "writer failed on purpose");
}
static const flo_kernel kfail = {"fail", k_fail, NULL};

static flo_status submit1(flo_runtime *rt, const flo_kernel *k, flo_data d,
                          flo_access mode, int64_t add, long sleep_us,
                          flo_event *ev)
{
    flo_access_desc acc = {d, mode};
    add_args a = {add, sleep_us};
    return flot_submit(rt, k, &acc, 1, &a, sizeof(a), ev);
}

static int setup(void **state)
{
    flot_clear_env();
    *state = flot_rt(FLO_SCHED_DEFAULT, 3);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    return flo_finalize(*state) == FLO_OK ? 0 : -1;
}

/* ---- Semantics --------------------------------------------------------- */

static void test_acquire_read_sees_writers(void **state)
{
    flo_runtime *rt = *state;
    int64_t x[4] = {0, 0, 0, 0};
    flo_data d;
    void *p = NULL;

    assert_int_equal(flo_data_register(rt, x, sizeof(x), &d), FLO_OK);
    for (int i = 1; i <= 10; i++)
        assert_int_equal(
            submit1(rt, &kadd, d, FLO_READ_WRITE, i, i == 1 ? 20000 : 0, NULL),
            FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
    assert_non_null(p);
    for (int i = 0; i < 4; i++)
        assert_int_equal(((int64_t *)p)[i], 55);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);

    /* An acquire for writing: the change is seen by later tasks. */
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ_WRITE, &p), FLO_OK);
    assert_int_equal(((int64_t *)p)[2], 55);
    ((int64_t *)p)[2] = 100;
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, NULL), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x[0], 56);
    assert_int_equal(x[2], 101);
    assert_int_equal(x[3], 56);
}

static void test_acquire_write_blocks_later_tasks(void **state)
{
    flo_runtime *rt = *state;
    flo_data d;
    flo_event ev;
    void *p = NULL;

    assert_int_equal(flo_data_alloc(rt, 8 * sizeof(int64_t), &d), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_WRITE, &p), FLO_OK);
    assert_non_null(p);
    atomic_store(&observed_runs, 0);
    assert_int_equal(submit1(rt, &kobserve, d, FLO_READ, 0, 0, &ev), FLO_OK);
    flot_sleep_us(50000);
    /* The reader waits for the release. */
    assert_int_equal(flo_event_query(rt, ev), FLO_INPROGRESS);
    assert_int_equal(atomic_load(&observed_runs), 0);
    for (int i = 0; i < 8; i++)
        ((int64_t *)p)[i] = 7;
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(atomic_load(&observed_runs), 1);
    assert_int_equal(observed_first, 7);

    /* An acquire for reading blocks a later writer, not the data. */
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 5, 0, &ev), FLO_OK);
    flot_sleep_us(50000);
    assert_int_equal(flo_event_query(rt, ev), FLO_INPROGRESS);
    assert_int_equal(((int64_t *)p)[3], 7);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
    assert_int_equal(((int64_t *)p)[3], 12);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
}

static void test_unregister_writes_back_and_waits(void **state)
{
    flo_runtime *rt = *state;
    enum { N = 1024 };
    static int64_t x[N];
    flo_data d;

    memset(x, 0, sizeof(x));
    assert_int_equal(flo_data_register(rt, x, sizeof(x), &d), FLO_OK);
    assert_int_equal(submit1(rt, &kfill, d, FLO_WRITE, 3, 30000, NULL), FLO_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, NULL),
                         FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(x[i], 3 * i + 100);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
}

static void test_alloc_reads_zeros(void **state)
{
    flo_runtime *rt = *state;
    flo_data d;
    flo_event ev;
    void *p = NULL;
    size_t sz = 0;

    /* A reader task first. */
    assert_int_equal(flo_data_alloc(rt, 65536, &d), FLO_OK);
    assert_int_equal(flo_data_size(rt, d, &sz), FLO_OK);
    assert_int_equal(sz, 65536);
    atomic_store(&observed_runs, 0);
    observed_nonzero = -1;
    assert_int_equal(submit1(rt, &kobserve, d, FLO_READ, 0, 0, &ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(atomic_load(&observed_runs), 1);
    assert_int_equal(observed_nonzero, 0);
    assert_int_equal(observed_size, 65536);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);

    /* An acquire first. */
    assert_int_equal(flo_data_alloc(rt, 12345, &d), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
    for (size_t i = 0; i < 12345; i++)
        if (((unsigned char *)p)[i] != 0)
            fail_msg("byte %zu of new data is %d", i, ((unsigned char *)p)[i]);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);

    /* A read-write task first sees zeros too. */
    assert_int_equal(flo_data_alloc(rt, 16 * sizeof(int64_t), &d), FLO_OK);
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 9, 0, NULL), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
    for (int i = 0; i < 16; i++)
        assert_int_equal(((int64_t *)p)[i], 9);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
}

/* ---- Error paths ------------------------------------------------------ */

#define SENTINEL_ID 0x5eedull

static void test_register_alloc_errors(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 42;
    flo_data d = {SENTINEL_ID, 0};

    assert_int_equal(flo_data_register(NULL, &x, 8, &d), FLO_EINVAL);
    assert_int_equal(flo_data_register(rt, NULL, 8, &d), FLO_EINVAL);
    assert_int_equal(flo_data_register(rt, &x, 0, &d), FLO_EINVAL);
    assert_int_equal(flo_data_register(rt, &x, 8, NULL), FLO_EINVAL);
    assert_int_equal(flo_data_alloc(NULL, 8, &d), FLO_EINVAL);
    assert_int_equal(flo_data_alloc(rt, 0, &d), FLO_EINVAL);
    assert_int_equal(flo_data_alloc(rt, 8, NULL), FLO_EINVAL);
    assert_int_equal(d.id, SENTINEL_ID);
    assert_int_equal(x, 42);

    /* Still usable. */
    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    assert_int_not_equal(d.id, 0);
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, NULL), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 43);
}

static void test_acquire_errors(void **state)
{
    flo_runtime *rt = *state;
    int64_t x[2] = {5, 6};
    flo_data d;
    void *p = (void *)(uintptr_t)0x77;
    size_t sz = 99;

    assert_int_equal(flo_data_register(rt, x, sizeof(x), &d), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, (flo_access)0, &p), FLO_EINVAL);
    assert_int_equal(flo_data_acquire(rt, d, (flo_access)7, &p), FLO_EINVAL);
    assert_int_equal(flo_data_acquire(rt, d, (flo_access)-1, &p), FLO_EINVAL);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, NULL), FLO_EINVAL);
    assert_int_equal(flo_data_acquire(NULL, d, FLO_READ, &p), FLO_EINVAL);
    assert_ptr_equal(p, (void *)(uintptr_t)0x77);
    assert_true(flo_data_acquire(rt, FLO_DATA_NULL, FLO_READ, &p) < 0);
    assert_true(flo_data_size(rt, FLO_DATA_NULL, &sz) < 0);
    assert_true(flo_data_unregister(rt, FLO_DATA_NULL) < 0);
    assert_ptr_equal(p, (void *)(uintptr_t)0x77);
    assert_int_equal(sz, 99);
    /* Release without acquire. */
    assert_int_equal(flo_data_release(rt, d), FLO_EINVAL);
    assert_int_equal(flo_data_size(rt, d, NULL), FLO_EINVAL);

    /* Nothing changed: a task and an acquire still work. */
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 10, 0, NULL),
                     FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
    assert_int_equal(((int64_t *)p)[0], 15);
    assert_int_equal(((int64_t *)p)[1], 16);
    /* A second release of the same acquire is an error. */
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_data_release(rt, d), FLO_EINVAL);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x[0], 15);
}

static void test_stale_handle(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 1, y = 2;
    flo_data d, d2;
    void *p = NULL;
    size_t sz = 0;
    flo_event ev = {12345, 0};

    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_ESTALE);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_ESTALE);
    assert_int_equal(flo_data_release(rt, d), FLO_ESTALE);
    assert_int_equal(flo_data_size(rt, d, &sz), FLO_ESTALE);
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, &ev),
                     FLO_ESTALE);
    assert_int_equal(ev.id, 12345);
    assert_int_equal(x, 1);

    /* The slot is reused by a new handle; the old one stays stale. */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(flo_data_register(rt, &y, 8, &d2), FLO_OK);
        assert_false(flo_data_equal(d2, d));
        assert_int_equal(flo_data_unregister(rt, d), FLO_ESTALE);
        assert_int_equal(flo_data_acquire(rt, d, FLO_WRITE, &p), FLO_ESTALE);
        assert_int_equal(submit1(rt, &kadd, d2, FLO_READ_WRITE, 1, 0, NULL),
                         FLO_OK);
        assert_int_equal(flo_data_unregister(rt, d2), FLO_OK);
    }
    assert_int_equal(y, 6);
    assert_int_equal(x, 1);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
}

/* Two read views at once (same thread) and a writer behind them. */
static void test_nested_read_acquires(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 21;
    flo_data d;
    flo_event ev;
    void *p1 = NULL, *p2 = NULL;

    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p1), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p2), FLO_OK);
    assert_int_equal(*(int64_t *)p1, 21);
    assert_int_equal(*(int64_t *)p2, 21);
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, &ev), FLO_OK);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    flot_sleep_us(20000);
    /* One view is still held: the writer waits. */
    assert_int_equal(flo_event_query(rt, ev), FLO_INPROGRESS);
    assert_int_equal(flo_data_unregister(rt, d), FLO_EBUSY);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_data_release(rt, d), FLO_EINVAL);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 22);
}

static void test_unregister_while_acquired(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 3;
    flo_data d;
    void *p = NULL;
    static const flo_access modes[] = {FLO_READ, FLO_WRITE, FLO_READ_WRITE};

    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    for (int m = 0; m < 3; m++) {
        assert_int_equal(flo_data_acquire(rt, d, modes[m], &p), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, d), FLO_EBUSY);
        /* The handle still works. */
        if (modes[m] != FLO_READ)
            *(int64_t *)p += 1;
        assert_int_equal(flo_data_release(rt, d), FLO_OK);
    }
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 10, 0, NULL),
                     FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 15);
}

static void test_foreign_handle(void **state)
{
    flo_runtime *rt = *state;
    flo_runtime *rt2 = flot_rt(FLO_SCHED_DEFAULT, 2);
    int64_t x = 4, y = 8;
    flo_data d, d2;
    void *p = NULL;
    size_t sz = 0;
    flo_event ev = {777, 0}, ev1;

    assert_non_null(rt2);
    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    assert_int_equal(flo_data_register(rt2, &y, 8, &d2), FLO_OK);

    assert_int_equal(flo_data_acquire(rt2, d, FLO_READ, &p), FLO_EFOREIGN);
    assert_int_equal(flo_data_release(rt2, d), FLO_EFOREIGN);
    assert_int_equal(flo_data_size(rt2, d, &sz), FLO_EFOREIGN);
    assert_int_equal(flo_data_unregister(rt2, d), FLO_EFOREIGN);
    assert_int_equal(submit1(rt2, &kadd, d, FLO_READ_WRITE, 1, 0, &ev),
                     FLO_EFOREIGN);
    assert_int_equal(ev.id, 777);
    assert_int_equal(flo_data_unregister(rt, d2), FLO_EFOREIGN);

    /* A task mixing handles of both runtimes is refused as a whole. */
    flo_access_desc acc[2] = {{d2, FLO_READ_WRITE}, {d, FLO_READ}};
    add_args a = {1, 0};
    assert_int_equal(flot_submit(rt2, &kadd, acc, 2, &a, sizeof(a), &ev),
                     FLO_EFOREIGN);

    /* An event of one runtime waited on in another. */
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, &ev1), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev1), FLO_OK);
    assert_int_equal(flo_event_wait(rt2, ev1), FLO_EFOREIGN);

    /* Both handles are intact. */
    assert_int_equal(submit1(rt2, &kadd, d2, FLO_READ_WRITE, 1, 0, NULL),
                     FLO_OK);
    assert_int_equal(flo_data_unregister(rt2, d2), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 5);
    assert_int_equal(y, 9);
    assert_int_equal(flo_finalize(rt2), FLO_OK);
}

static void test_handle_after_finalize(void **state)
{
    (void)state;
    int64_t x = 1, y = 2;
    flo_data d, d2;
    void *p = NULL;
    size_t sz = 0;
    flo_status st;

    for (int round = 0; round < 3; round++) {
        flo_runtime *rt1 = flot_rt(FLO_SCHED_DEFAULT, 2);
        flo_event old_ev;
        assert_non_null(rt1);
        assert_int_equal(flo_data_register(rt1, &x, 8, &d), FLO_OK);
        assert_int_equal(submit1(rt1, &kadd, d, FLO_READ_WRITE, 1, 0, &old_ev),
                         FLO_OK);
        /* Finalize writes the still-registered data back. */
        assert_int_equal(flo_finalize(rt1), FLO_OK);
        assert_int_equal(x, 2 + round);

        flo_runtime *rt2 = flot_rt(FLO_SCHED_DEFAULT, 2);
        assert_non_null(rt2);
        assert_int_equal(flo_data_register(rt2, &y, 8, &d2), FLO_OK);
        /* Another runtime's handles and events: FLO_EFOREIGN (the
         * serials differ), whether or not that runtime still lives. */
        st = flo_data_acquire(rt2, d, FLO_READ, &p);
        assert_int_equal(st, FLO_EFOREIGN);
        st = flo_data_size(rt2, d, &sz);
        assert_int_equal(st, FLO_EFOREIGN);
        st = flo_data_unregister(rt2, d);
        assert_int_equal(st, FLO_EFOREIGN);
        st = submit1(rt2, &kadd, d, FLO_READ_WRITE, 100, 0, NULL);
        assert_int_equal(st, FLO_EFOREIGN);
        /* An event of the finalized runtime. */
        st = flo_event_wait(rt2, old_ev);
        assert_int_equal(st, FLO_EFOREIGN);
        st = flo_event_query(rt2, old_ev);
        assert_int_equal(st, FLO_EFOREIGN);
        assert_int_equal(submit1(rt2, &kadd, d2, FLO_READ_WRITE, 1, 0, NULL),
                         FLO_OK);
        assert_int_equal(flo_data_unregister(rt2, d2), FLO_OK);
        assert_int_equal(flo_finalize(rt2), FLO_OK);
        assert_int_equal(y, 3 + round);
    }
    assert_int_equal(x, 4);
}

static void test_acquire_after_failed_writer(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 11;
    flo_data d;
    void *p = NULL;
    flo_status st;

    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    assert_int_equal(submit1(rt, &kfail, d, FLO_READ_WRITE, 0, 5000, NULL),
                     FLO_OK);
    /* The acquire reports the writer's own error, not a cancellation. */
    st = flo_data_acquire(rt, d, FLO_READ, &p);
    assert_int_equal(st, FLO_ETASK);
    /* The data is acquired even so: release it. */
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 11);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
}

/* A second acquire that would wait for the caller's own acquire is
 * refused with FLO_EDEADLK (it used to block forever); one that would not
 * wait (read after read, no writer between) is granted. Nothing changes
 * on refusal. */
static void test_acquire_self_deadlock(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 3;
    flo_data d;
    flo_event ev;
    void *p = NULL, *q = (void *)(uintptr_t)0x55;

    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    /* Write then anything. */
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ_WRITE, &p), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ_WRITE, &q), FLO_EDEADLK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &q), FLO_EDEADLK);
    assert_ptr_equal(q, (void *)(uintptr_t)0x55);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    /* Read then write. */
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_WRITE, &q), FLO_EDEADLK);
    /* Read then read: granted. */
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &q), FLO_OK);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    /* Read, a writer submitted since, then read: the second read would
     * wait for the writer, which waits for the first read. */
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, &ev), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &q), FLO_EDEADLK);
    assert_int_equal(flo_event_query(rt, ev), FLO_INPROGRESS);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    /* Nothing is held any more. */
    assert_int_equal(flo_data_release(rt, d), FLO_EINVAL);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 4);
}

/* Only the acquiring thread may release (data.h): another thread's
 * release is FLO_EINVAL and the acquire stays held. */
typedef struct rel_arg {
    flo_runtime *rt;
    flo_data d;
    flo_status st;
} rel_arg;

static void *release_elsewhere(void *arg)
{
    rel_arg *r = arg;
    r->st = flo_data_release(r->rt, r->d);
    return NULL;
}

static void test_release_other_thread(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 9;
    flo_data d;
    flo_event ev;
    void *p = NULL;
    pthread_t th;

    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ_WRITE, &p), FLO_OK);
    rel_arg r = {rt, d, FLO_OK};
    assert_int_equal(pthread_create(&th, NULL, release_elsewhere, &r), 0);
    pthread_join(th, NULL);
    assert_int_equal(r.st, FLO_EINVAL);
    /* Still acquired: a writer waits, unregister is refused. */
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, &ev), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_EBUSY);
    assert_int_equal(flo_event_query(rt, ev), FLO_INPROGRESS);
    *(int64_t *)p = 20;
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 21);
}

static void test_acquire_from_task_deadlocks(void **state);
static void test_alloc_huge(void **state);

int main(void)
{
    flot_apply_filter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_acquire_read_sees_writers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acquire_write_blocks_later_tasks,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unregister_writes_back_and_waits,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_reads_zeros, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_register_alloc_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acquire_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unregister_while_acquired, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nested_read_acquires, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_foreign_handle, setup, teardown),
        cmocka_unit_test(test_handle_after_finalize),
        cmocka_unit_test_setup_teardown(test_acquire_self_deadlock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_release_other_thread, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acquire_after_failed_writer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_acquire_from_task_deadlocks, setup,
                                        teardown),
        /* Last: a failure here may crash the process. */
        cmocka_unit_test_setup_teardown(test_alloc_huge, setup, teardown),
    };
    return cmocka_run_group_tests_name("scheduler_data", tests, NULL, NULL);
}

/* flo_data_acquire from inside a task: FLO_EDEADLK, data unchanged. */
static atomic_int deadlk_status;
static flo_data deadlk_data;
static void k_acquire_inside(flo_task_ctx *ctx)
{
    void *p = NULL;
    flo_runtime *rt = flo_task_runtime(ctx);
    atomic_store(&deadlk_status,
                 flo_data_acquire(rt, deadlk_data, FLO_READ, &p));
}
static const flo_kernel kacq_inside = {"acquire_inside", k_acquire_inside,
                                       NULL};

static void test_acquire_from_task_deadlocks(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 1;
    flo_event ev;

    assert_int_equal(flo_data_register(rt, &x, 8, &deadlk_data), FLO_OK);
    atomic_store(&deadlk_status, 1000);
    assert_int_equal(flot_submit(rt, &kacq_inside, NULL, 0, NULL, 0, &ev),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(atomic_load(&deadlk_status), FLO_EDEADLK);
    assert_int_equal(
        submit1(rt, &kadd, deadlk_data, FLO_READ_WRITE, 1, 0, NULL), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, deadlk_data), FLO_OK);
    assert_int_equal(x, 2);
}

/* Sizes no machine can hold: refused at flo_data_alloc, or the first use
 * fails with FLO_ENOMEM - never a crash (sizes near SIZE_MAX must not
 * wrap around when rounded up). */
static void test_alloc_huge(void **state)
{
    flo_runtime *rt = *state;
    /* Every build, sanitizers included: runtime-owned host memory this
     * large comes from mmap, which refuses it (malloc under ASan would
     * abort the process instead of returning NULL). */
    static const size_t sizes[] = {
        SIZE_MAX,        SIZE_MAX - 10,   SIZE_MAX / 2 + 1,
        (size_t)1 << 62, (size_t)1 << 50,
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        flo_data d;
        flo_event ev;
        void *p = NULL;
        flo_status st = flo_data_alloc(rt, sizes[i], &d);
        /* Beyond PTRDIFF_MAX no allocator can succeed: refused at once.
         * Below, the memory is allocated at first use, which fails. */
        if (sizes[i] > PTRDIFF_MAX) {
            assert_int_equal(st, FLO_ENOMEM);
            continue;
        }
        assert_int_equal(st, FLO_OK);
        atomic_store(&observed_runs, 0);
        assert_int_equal(submit1(rt, &kobserve, d, FLO_READ, 0, 0, &ev),
                         FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), FLO_ENOMEM);
        assert_int_equal(atomic_load(&observed_runs), 0);
        /* The failed task only read d: the acquire is not canceled, it
         * fails to allocate the host copy itself. */
        st = flo_data_acquire(rt, d, FLO_READ, &p);
        assert_int_equal(st, FLO_ENOMEM);
        assert_int_equal(flo_data_release(rt, d), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
        assert_int_equal(flo_wait_all(rt), FLO_ENOMEM);
    }
    /* The runtime is fine afterwards. */
    int64_t x = 1;
    flo_data d;
    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    assert_int_equal(submit1(rt, &kadd, d, FLO_READ_WRITE, 1, 0, NULL), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 2);
}
