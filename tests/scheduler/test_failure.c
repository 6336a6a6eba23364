/*
 * scheduler_failure: flo_task_fail, cancellation of dependents through
 * data and events, error reporting (flo_event_wait, flo_wait_all,
 * flo_error_message), completion callbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/sched.h"
#include "tests/scheduler/testutil.h"

#define MAXT 2048

static atomic_int body_runs[MAXT];
static atomic_int cb_count[MAXT];
static atomic_int cb_status[MAXT];

typedef struct fargs {
    int id;
    int fail; /* 1: call flo_task_fail. */
    flo_status code;
    int twice; /* Call flo_task_fail a second time. */
    long sleep_us;
    int readonly; /* Its buffers are read-only: do not touch them. */
    char msg[48];
} fargs;

static void k_task(flo_task_ctx *ctx)
{
    const fargs *a = flo_task_args(ctx, NULL);
    atomic_fetch_add(&body_runs[a->id], 1);
    if (a->sleep_us)
        flot_sleep_us(a->sleep_us);
    /* Touch the buffers so that a read-write chain has an effect. */
    for (int i = 0; i < 2 && !a->readonly; i++) {
        if (flo_task_buffer_size(ctx, i) == 8)
            (*(int64_t *)flo_task_buffer(ctx, i))++;
        else
            break;
    }
    if (a->fail) {
        flo_task_fail(ctx, a->code, "%s (task %d)", a->msg, a->id);
        if (a->twice)
            flo_task_fail(ctx, FLO_EINVAL, "second failure ignored");
    }
}
static const flo_kernel ktask = {"task", k_task, NULL};

static void cb(void *user, flo_status st)
{
    int id = (int)(intptr_t)user;
    atomic_store(&cb_status[id], st);
    atomic_fetch_add(&cb_count[id], 1);
}

static void reset(void)
{
    for (int i = 0; i < MAXT; i++) {
        atomic_store(&body_runs[i], 0);
        atomic_store(&cb_count[i], 0);
        atomic_store(&cb_status[i], 12345);
    }
}

/* Submit task id accessing up to two handles, with explicit deps. */
static flo_status sub(flo_runtime *rt, int id, const flo_access_desc *acc,
                      int nacc, const flo_event *deps, int ndeps, int fail,
                      flo_status code, long sleep_us, flo_event *ev)
{
    fargs a;
    flo_task_desc d = FLO_TASK_DESC_INIT;
    memset(&a, 0, sizeof(a));
    a.id = id;
    a.fail = fail;
    a.code = code;
    a.sleep_us = sleep_us;
    snprintf(a.msg, sizeof(a.msg), "boom %d", 40 + id);
    d.kernel = &ktask;
    d.access = acc;
    d.naccess = nacc;
    d.args = &a;
    d.args_size = sizeof(a);
    d.deps = deps;
    d.ndeps = ndeps;
    d.callback = cb;
    d.callback_arg = (void *)(intptr_t)id;
    return flo_task_submit(rt, &d, ev);
}

static void cancel_case(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 4);
    int64_t x = 0, y = 0, z = 0;
    flo_data dx, dy, dz;
    flo_event e[8];
    char buf[256];
    assert_non_null(rt);
    reset();
    assert_int_equal(flo_data_register(rt, &x, 8, &dx), FLO_OK);
    assert_int_equal(flo_data_register(rt, &y, 8, &dy), FLO_OK);
    assert_int_equal(flo_data_register(rt, &z, 8, &dz), FLO_OK);

    flo_access_desc wx = {dx, FLO_READ_WRITE};
    flo_access_desc rx = {dx, FLO_READ};
    flo_access_desc wy = {dy, FLO_READ_WRITE};
    flo_access_desc ry = {dy, FLO_READ};
    flo_access_desc wz = {dz, FLO_WRITE};
    flo_access_desc rx_wz[2] = {{dx, FLO_READ}, {dz, FLO_READ_WRITE}};

    /* 0: RW(x), fails after a while.
     * 1: R(x)          -> canceled (data).
     * 2: RW(y), deps 1 -> canceled (event, transitively).
     * 3: R(y)          -> canceled (data, transitively).
     * 4: W(z)          -> runs (independent).
     * 5: R(x) RW(z)    -> canceled; z's value stays from task 4.
     * 6: deps {4}      -> runs.
     * 7: R(y), deps {6} -> canceled (y's writer 2 was). */
    assert_int_equal(sub(rt, 0, &wx, 1, NULL, 0, 1, FLO_ETASK, 20000, &e[0]),
                     FLO_OK);
    assert_int_equal(sub(rt, 1, &rx, 1, NULL, 0, 0, 0, 0, &e[1]), FLO_OK);
    assert_int_equal(sub(rt, 2, &wy, 1, &e[1], 1, 0, 0, 0, &e[2]), FLO_OK);
    assert_int_equal(sub(rt, 3, &ry, 1, NULL, 0, 0, 0, 0, &e[3]), FLO_OK);
    assert_int_equal(sub(rt, 4, &wz, 1, NULL, 0, 0, 0, 0, &e[4]), FLO_OK);
    assert_int_equal(sub(rt, 5, rx_wz, 2, NULL, 0, 0, 0, 0, &e[5]), FLO_OK);
    assert_int_equal(sub(rt, 6, NULL, 0, &e[4], 1, 0, 0, 0, &e[6]), FLO_OK);
    assert_int_equal(sub(rt, 7, &ry, 1, &e[6], 1, 0, 0, 0, &e[7]), FLO_OK);

    assert_int_equal(flo_event_wait(rt, e[0]), FLO_ETASK);
    assert_int_equal(flo_event_wait(rt, e[1]), FLO_ECANCELED);
    assert_int_equal(flo_event_wait(rt, e[2]), FLO_ECANCELED);
    assert_int_equal(flo_event_wait(rt, e[3]), FLO_ECANCELED);
    assert_int_equal(flo_event_wait(rt, e[4]), FLO_OK);
    assert_int_equal(flo_event_wait(rt, e[5]), FLO_ECANCELED);
    assert_int_equal(flo_event_wait(rt, e[6]), FLO_OK);
    assert_int_equal(flo_event_wait(rt, e[7]), FLO_ECANCELED);
    assert_int_equal(flo_event_query(rt, e[0]), FLO_ETASK);
    assert_int_equal(flo_event_query(rt, e[3]), FLO_ECANCELED);

    memset(buf, 'x', sizeof(buf));
    assert_int_equal(flo_error_message(rt, e[0], buf, sizeof(buf)), FLO_OK);
    if (!strstr(buf, "boom 40 (task 0)"))
        fail_msg("message of the failed task: \"%s\"", buf);

    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(flo_error_message(rt, FLO_EVENT_NULL, buf, sizeof(buf)),
                     FLO_OK);
    if (!strstr(buf, "boom 40 (task 0)"))
        fail_msg("message of flo_wait_all's error: \"%s\"", buf);

    static const int ran[8] = {1, 0, 0, 0, 1, 0, 1, 0};
    static const flo_status want[8] = {
        FLO_ETASK, FLO_ECANCELED, FLO_ECANCELED, FLO_ECANCELED,
        FLO_OK,    FLO_ECANCELED, FLO_OK,        FLO_ECANCELED};
    for (int i = 0; i < 8; i++) {
        if (atomic_load(&body_runs[i]) != ran[i])
            fail_msg("%s: task %d body ran %d times, expected %d",
                     flot_sched_name(pol), i, atomic_load(&body_runs[i]),
                     ran[i]);
        if (atomic_load(&cb_count[i]) != 1)
            fail_msg("%s: callback of task %d called %d times",
                     flot_sched_name(pol), i, atomic_load(&cb_count[i]));
        if (atomic_load(&cb_status[i]) != (int)want[i])
            fail_msg("%s: callback of task %d got %d, expected %d",
                     flot_sched_name(pol), i, atomic_load(&cb_status[i]),
                     (int)want[i]);
    }

    /* The error was reported once: the next wait_all is clean. */
    assert_int_equal(flo_wait_all(rt), FLO_OK);

    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_submitted, 8);
    assert_int_equal(st.tasks_failed, 1);
    assert_int_equal(st.tasks_canceled, 5);

    /* z: task 4 wrote it, task 5 (canceled) did not touch it. */
    assert_int_equal(flo_data_unregister(rt, dz), FLO_OK);
    assert_int_equal(z, 1);
    /* Task 0 incremented x before failing: the data holds what the
     * failed task left in it (docs/guide.md); no canceled task touched
     * x or y. */
    assert_int_equal(flo_data_unregister(rt, dx), FLO_OK);
    assert_int_equal(x, 1);
    assert_int_equal(flo_data_unregister(rt, dy), FLO_OK);
    assert_int_equal(y, 0);

    /* The runtime stays usable: new data, new tasks. */
    int64_t w = 0;
    flo_data dw;
    assert_int_equal(flo_data_register(rt, &w, 8, &dw), FLO_OK);
    flo_access_desc rww = {dw, FLO_READ_WRITE};
    reset();
    for (int i = 0; i < 200; i++)
        assert_int_equal(sub(rt, i, &rww, 1, NULL, 0, 0, 0, 0, NULL), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(atomic_load(&body_runs[i]), 1);
        assert_int_equal(atomic_load(&cb_count[i]), 1);
        assert_int_equal(atomic_load(&cb_status[i]), FLO_OK);
    }
    assert_int_equal(flo_data_unregister(rt, dw), FLO_OK);
    assert_int_equal(w, 200);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_cancel_eager(void **s)
{
    (void)s;
    cancel_case(FLO_SCHED_EAGER);
}
static void test_cancel_ws(void **s)
{
    (void)s;
    cancel_case(FLO_SCHED_WS);
}
static void test_cancel_locality(void **s)
{
    (void)s;
    cancel_case(FLO_SCHED_LOCALITY);
}

/* A long read-write chain behind a failure: everything canceled. */
static void test_cancel_long_chain(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 4);
    int64_t x = 0, y = 0;
    flo_data dx, dy;
    flo_event first, last = FLO_EVENT_NULL;
    enum { N = 1500 };
    assert_non_null(rt);
    reset();
    assert_int_equal(flo_data_register(rt, &x, 8, &dx), FLO_OK);
    assert_int_equal(flo_data_register(rt, &y, 8, &dy), FLO_OK);
    flo_access_desc wx = {dx, FLO_READ_WRITE};
    assert_int_equal(sub(rt, 0, &wx, 1, NULL, 0, 1, FLO_ETASK, 10000, &first),
                     FLO_OK);
    for (int i = 1; i < N; i++) {
        /* Alternate data and event edges; every third task also writes
         * y, which carries the cancellation on to later y users. */
        flo_access_desc acc[2] = {{dx, FLO_READ_WRITE}, {dy, FLO_WRITE}};
        if (i % 2)
            assert_int_equal(
                sub(rt, i, acc, i % 3 ? 1 : 2, NULL, 0, 0, 0, 0, &last),
                FLO_OK);
        else
            assert_int_equal(sub(rt, i, &acc[1], 1, &last, 1, 0, 0, 0, &last),
                             FLO_OK);
    }
    assert_int_equal(flo_event_wait(rt, last), FLO_ECANCELED);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    for (int i = 1; i < N; i++) {
        if (atomic_load(&body_runs[i]) != 0)
            fail_msg("canceled task %d ran", i);
        if (atomic_load(&cb_count[i]) != 1 ||
            atomic_load(&cb_status[i]) != FLO_ECANCELED)
            fail_msg("task %d: callback count %d status %d", i,
                     atomic_load(&cb_count[i]), atomic_load(&cb_status[i]));
    }
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_canceled, N - 1);
    assert_int_equal(st.tasks_failed, 1);
    assert_int_equal(flo_data_unregister(rt, dy), FLO_OK);
    assert_int_equal(y, 0);
    assert_int_equal(flo_data_unregister(rt, dx), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* The code passed to flo_task_fail; the first call wins. */
static void test_fail_codes(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    static const struct {
        flo_status code, want;
        int twice;
    } cases[] = {
        {FLO_ETASK, FLO_ETASK, 0},     {FLO_OK, FLO_ETASK, 0},
        {(flo_status)5, FLO_ETASK, 0}, {FLO_INPROGRESS, FLO_ETASK, 0},
        {FLO_ERANGE, FLO_ERANGE, 0},   {FLO_EDEVICE, FLO_EDEVICE, 0},
        {FLO_ENOMEM, FLO_ENOMEM, 1},   {FLO_ETASK, FLO_ETASK, 1},
    };
    char buf[128];
    assert_non_null(rt);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fargs a;
        flo_task_desc d = FLO_TASK_DESC_INIT;
        flo_event ev;
        memset(&a, 0, sizeof(a));
        a.id = (int)i;
        a.fail = 1;
        a.code = cases[i].code;
        a.twice = cases[i].twice;
        snprintf(a.msg, sizeof(a.msg), "code case %zu", i);
        d.kernel = &ktask;
        d.args = &a;
        d.args_size = sizeof(a);
        assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), cases[i].want);
        assert_int_equal(flo_error_message(rt, ev, buf, sizeof(buf)), FLO_OK);
        char want[64];
        snprintf(want, sizeof(want), "code case %zu (task %zu)", i, i);
        if (!strstr(buf, want))
            fail_msg("case %zu: message \"%s\"", i, buf);
        assert_null(strstr(buf, "second failure"));
        assert_int_equal(flo_wait_all(rt), cases[i].want);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* flo_wait_all reports the first failure since the previous call. */
static void test_wait_all_first_error(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    flo_event e0, e1, ok;
    char buf[128];
    assert_non_null(rt);
    reset();
    assert_int_equal(sub(rt, 0, NULL, 0, NULL, 0, 1, FLO_ERANGE, 0, &e0),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, e0), FLO_ERANGE);
    assert_int_equal(sub(rt, 1, NULL, 0, NULL, 0, 1, FLO_ETASK, 0, &e1),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, e1), FLO_ETASK);
    assert_int_equal(sub(rt, 2, NULL, 0, NULL, 0, 0, 0, 0, &ok), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ERANGE);
    assert_int_equal(flo_error_message(rt, FLO_EVENT_NULL, buf, sizeof(buf)),
                     FLO_OK);
    if (!strstr(buf, "boom 40 (task 0)"))
        fail_msg("first error's message: \"%s\"", buf);
    /* Each event keeps its own message. */
    assert_int_equal(flo_error_message(rt, e1, buf, sizeof(buf)), FLO_OK);
    assert_non_null(strstr(buf, "boom 41 (task 1)"));
    /* A task that succeeded has no message. */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(flo_error_message(rt, ok, buf, sizeof(buf)), FLO_ERANGE);
    assert_string_equal(buf, "");
    /* A short buffer gets a terminated prefix. */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(flo_error_message(rt, e1, buf, 5), FLO_OK);
    assert_int_equal(buf[4], '\0');
    assert_int_equal(strncmp(buf, "boom", 4), 0);
    assert_int_equal(buf[5], 'x');
    assert_int_equal(flo_error_message(rt, e1, NULL, 10), FLO_EINVAL);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    /* The last flo_wait_all reported nothing: no message. */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(flo_error_message(rt, FLO_EVENT_NULL, buf, sizeof(buf)),
                     FLO_ERANGE);
    assert_string_equal(buf, "");
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* flo_finalize returns the first error no wait reported. */
static void test_finalize_reports_error(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    assert_non_null(rt);
    reset();
    assert_int_equal(sub(rt, 0, NULL, 0, NULL, 0, 1, FLO_EDEVICE, 5000, NULL),
                     FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_EDEVICE);
    assert_int_equal(atomic_load(&cb_count[0]), 1);
    assert_int_equal(atomic_load(&cb_status[0]), FLO_EDEVICE);
}

/* A dependency on an event that already failed: canceled at once. */
static void test_dep_on_failed_event(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    flo_event bad, e;
    assert_non_null(rt);
    reset();
    assert_int_equal(sub(rt, 0, NULL, 0, NULL, 0, 1, FLO_ETASK, 0, &bad),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, bad), FLO_ETASK);
    assert_int_equal(sub(rt, 1, NULL, 0, &bad, 1, 0, 0, 0, &e), FLO_OK);
    assert_int_equal(flo_event_wait(rt, e), FLO_ECANCELED);
    assert_int_equal(atomic_load(&body_runs[1]), 0);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(atomic_load(&cb_count[1]), 1);
    assert_int_equal(atomic_load(&cb_status[1]), FLO_ECANCELED);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A join (flo__task_submit_inherit, a collective's): predecessors that
 * fail at once on several workers, or before the join is submitted,
 * finish it with the status and message of one of them, not
 * FLO_ECANCELED; its body never runs. A plain task is canceled. */
static void test_join_inherits(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 4);
    assert_non_null(rt);
    for (int rep = 0; rep < 50; rep++) {
        flo_event pre[4], join, plain;
        flo_task_desc d = FLO_TASK_DESC_INIT;
        fargs a;
        char msg[128];
        reset();
        /* Two fail with FLO_ECOMM, two succeed; all overlap (sleep). On
         * odd repetitions they have finished before the join exists. */
        for (int i = 0; i < 4; i++)
            assert_int_equal(sub(rt, i, NULL, 0, NULL, 0, i < 2, FLO_ECOMM,
                                 rep % 2 ? 0 : 2000, &pre[i]),
                             FLO_OK);
        if (rep % 2)
            for (int i = 0; i < 4; i++)
                (void)flo_event_wait(rt, pre[i]);
        memset(&a, 0, sizeof(a));
        a.id = 10;
        d.kernel = &ktask;
        d.args = &a;
        d.args_size = sizeof(a);
        d.deps = pre;
        d.ndeps = 4;
        d.callback = cb;
        d.callback_arg = (void *)(intptr_t)10;
        assert_int_equal(flo__task_submit_inherit(rt, &d, &join), FLO_OK);
        a.id = 11;
        d.callback_arg = (void *)(intptr_t)11;
        assert_int_equal(flo_task_submit(rt, &d, &plain), FLO_OK);
        assert_int_equal(flo_event_wait(rt, join), FLO_ECOMM);
        assert_int_equal(flo_error_message(rt, join, msg, sizeof(msg)), FLO_OK);
        if (strcmp(msg, "boom 40 (task 0)") != 0 &&
            strcmp(msg, "boom 41 (task 1)") != 0)
            fail_msg("message of the join: \"%s\"", msg);
        assert_int_equal(flo_event_wait(rt, plain), FLO_ECANCELED);
        assert_int_equal(flo_wait_all(rt), FLO_ECOMM);
        assert_int_equal(atomic_load(&body_runs[10]), 0);
        assert_int_equal(atomic_load(&body_runs[11]), 0);
        assert_int_equal(atomic_load(&cb_status[10]), FLO_ECOMM);
        assert_int_equal(atomic_load(&cb_status[11]), FLO_ECANCELED);
    }
    /* Bad input is refused as by flo_task_submit. */
    assert_int_equal(flo__task_submit_inherit(rt, NULL, NULL), FLO_EINVAL);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Callbacks: exactly once, with the status, for many tasks; a callback
 * may submit a task, which flo_wait_all then waits for. */
static flo_runtime *cb_rt;
static void cb_submit(void *user, flo_status st)
{
    int id = (int)(intptr_t)user;
    cb(user, st);
    if (id < MAXT / 2)
        sub(cb_rt, id + MAXT / 2, NULL, 0, NULL, 0, 0, 0, 0, NULL);
}

static void test_callbacks(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 4);
    int64_t x = 0;
    flo_data dx;
    assert_non_null(rt);
    cb_rt = rt;
    assert_int_equal(flo_data_register(rt, &x, 8, &dx), FLO_OK);
    for (int rep = 0; rep < 20; rep++) {
        int n = MAXT / 2;
        reset();
        for (int i = 0; i < n; i++) {
            fargs a;
            flo_task_desc d = FLO_TASK_DESC_INIT;
            flo_access_desc acc = {dx, FLO_READ};
            memset(&a, 0, sizeof(a));
            a.id = i;
            a.readonly = 1; /* Readers run concurrently. */
            a.fail = i % 97 == 0;
            a.code = FLO_ETASK;
            d.kernel = &ktask;
            d.args = &a;
            d.args_size = sizeof(a);
            d.access = &acc;
            d.naccess = i % 2;
            d.callback = cb_submit;
            d.callback_arg = (void *)(intptr_t)i;
            assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
        }
        assert_int_equal(flo_wait_all(rt), FLO_ETASK);
        for (int i = 0; i < MAXT; i++) {
            int want = i < n && i % 97 == 0 ? FLO_ETASK : FLO_OK;
            if (atomic_load(&cb_count[i]) != 1)
                fail_msg("rep %d: callback of task %d called %d times", rep, i,
                         atomic_load(&cb_count[i]));
            if (atomic_load(&cb_status[i]) != want)
                fail_msg("rep %d: callback of task %d got %d", rep, i,
                         atomic_load(&cb_status[i]));
            assert_int_equal(atomic_load(&body_runs[i]), 1);
        }
    }
    assert_int_equal(flo_data_unregister(rt, dx), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Every failure stays known after its record was reused, however many
 * fail after it. */
static void k_fail_n(flo_task_ctx *ctx)
{
    const int *n = flo_task_args(ctx, NULL);
    flo_task_fail(ctx, FLO_ETASK, "failure number %d", *n);
}
static const flo_kernel kfail_n = {"fail_n", k_fail_n, NULL};
static void k_nothing(flo_task_ctx *ctx)
{
    (void)ctx;
}
static const flo_kernel knothing = {"nothing", k_nothing, NULL};

static void test_failure_memory(void **s)
{
    (void)s;
    enum { NF = 5000 };
    static flo_event ev[NF];
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    char buf[64], want[64];
    assert_non_null(rt);
    for (int i = 0; i < NF; i++)
        assert_int_equal(
            flot_submit(rt, &kfail_n, NULL, 0, &i, sizeof(i), &ev[i]), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    /* Reuse every record many times over. */
    long n = flot_scaled(100000, 30000);
    for (long i = 0; i < n; i++)
        assert_int_equal(flot_submit(rt, &knothing, NULL, 0, NULL, 0, NULL),
                         FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < NF; i++) {
        flo_status st = flo_event_wait(rt, ev[i]);
        if (st != FLO_ETASK)
            fail_msg("failure %d of %d: wait gives %s", i, NF,
                     flo_status_str(st));
        assert_int_equal(flo_event_query(rt, ev[i]), FLO_ETASK);
        assert_int_equal(flo_error_message(rt, ev[i], buf, sizeof(buf)),
                         FLO_OK);
        snprintf(want, sizeof(want), "failure number %d", i);
        if (!strstr(buf, want))
            fail_msg("failure %d: message \"%s\"", i, buf);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A failure followed by many canceled dependents (more than the 4096
 * entries the failure memory once had) is not pushed out by them: its
 * event reports the failure with its message, and a task depending on it
 * explicitly is canceled, not run. */
static atomic_int late_runs;
static void k_late(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_fetch_add(&late_runs, 1);
}
static const flo_kernel klate = {"late", k_late, NULL};

static void test_failure_not_evicted_by_cancels(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    int64_t x = 0;
    flo_data dx;
    flo_event bad, after;
    char buf[64];
    int root = 7;
    long ncancel = flot_scaled(10000, 5000);
    assert_non_null(rt);
    atomic_store(&late_runs, 0);
    assert_int_equal(flo_data_register(rt, &x, sizeof(x), &dx), FLO_OK);
    flo_access_desc rw = {dx, FLO_READ_WRITE};
    assert_int_equal(
        flot_submit(rt, &kfail_n, &rw, 1, &root, sizeof(root), &bad), FLO_OK);
    for (long i = 0; i < ncancel; i++)
        assert_int_equal(flot_submit(rt, &knothing, &rw, 1, NULL, 0, NULL),
                         FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    /* Recycle the records too. */
    for (long i = 0; i < ncancel; i++)
        assert_int_equal(flot_submit(rt, &knothing, NULL, 0, NULL, 0, NULL),
                         FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_event_wait(rt, bad), FLO_ETASK);
    assert_int_equal(flo_error_message(rt, bad, buf, sizeof(buf)), FLO_OK);
    assert_non_null(strstr(buf, "failure number 7"));
    flo_task_desc t = FLO_TASK_DESC_INIT;
    t.kernel = &klate;
    t.deps = &bad;
    t.ndeps = 1;
    assert_int_equal(flo_task_submit(rt, &t, &after), FLO_OK);
    assert_int_equal(flo_event_wait(rt, after), FLO_ECANCELED);
    assert_int_equal(atomic_load(&late_runs), 0);
    flo_wait_all(rt);
    assert_int_equal(flo_data_unregister(rt, dx), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* flo_finalize does not report again a failure that flo_event_wait
 * returned, nor the cancellations that followed from it. */
static void test_finalize_after_event_wait(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    int64_t x = 0;
    flo_data dx;
    flo_event bad, dep;
    int root = 1;
    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &x, sizeof(x), &dx), FLO_OK);
    flo_access_desc rw = {dx, FLO_READ_WRITE};
    assert_int_equal(
        flot_submit(rt, &kfail_n, &rw, 1, &root, sizeof(root), &bad), FLO_OK);
    assert_int_equal(flot_submit(rt, &knothing, &rw, 1, NULL, 0, &dep), FLO_OK);
    assert_int_equal(flo_event_wait(rt, bad), FLO_ETASK);
    assert_int_equal(flo_event_wait(rt, dep), FLO_ECANCELED);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    /* Another failure nobody waited for is still reported. */
    rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    assert_non_null(rt);
    assert_int_equal(
        flot_submit(rt, &kfail_n, NULL, 0, &root, sizeof(root), &bad), FLO_OK);
    assert_int_equal(
        flot_submit(rt, &kfail_n, NULL, 0, &root, sizeof(root), &dep), FLO_OK);
    assert_int_equal(flo_event_wait(rt, bad), FLO_ETASK);
    assert_int_equal(flo_finalize(rt), FLO_ETASK);
}

/* A long message is kept whole (or cut cleanly) and copied safely. */
static void k_fail_long(flo_task_ctx *ctx)
{
    static char big[10000];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    flo_task_fail(ctx, FLO_ETASK, "start %s end", big);
}
static const flo_kernel kfail_long = {"fail_long", k_fail_long, NULL};

static void test_long_message(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    static char buf[20000];
    flo_event ev;
    assert_non_null(rt);
    assert_int_equal(flot_submit(rt, &kfail_long, NULL, 0, NULL, 0, &ev),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_ETASK);
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(flo_error_message(rt, ev, buf, sizeof(buf)), FLO_OK);
    assert_non_null(memchr(buf, '\0', sizeof(buf)));
    assert_int_equal(strncmp(buf, "start mmm", 9), 0);
    size_t l = strlen(buf);
    assert_true(l >= 200);
    for (size_t i = 6; i < l && i < 9000; i++)
        if (buf[i] != 'm' && strcmp(buf + i, " end") != 0)
            fail_msg("message corrupted at %zu", i);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    /* The same once the task's record was reused (the message now comes
     * from the failure ring). */
    for (int i = 0; i < 20000; i++)
        assert_int_equal(flot_submit(rt, &knothing, NULL, 0, NULL, 0, NULL),
                         FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(flo_error_message(rt, ev, buf, sizeof(buf)), FLO_OK);
    assert_int_equal(strncmp(buf, "start mmm", 9), 0);
    assert_true(strlen(buf) == l);
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(flo_error_message(rt, ev, buf, 10), FLO_OK);
    assert_string_equal(buf, "start mmm");
    memset(buf, 'x', sizeof(buf));
    if (flo_error_message(rt, ev, buf, 1) != FLO_OK)
        fail_msg("flo_error_message with len 1 for a known message: not "
                 "FLO_OK once the record was recycled");
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x');
    /* The first error of the next wait_all: make one. */
    assert_int_equal(flot_submit(rt, &kfail_long, NULL, 0, NULL, 0, &ev),
                     FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(flo_error_message(rt, FLO_EVENT_NULL, buf, 100), FLO_OK);
    assert_int_equal(strlen(buf), 99);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A callback chain: each completion submits the next task; flo_wait_all
 * returns only at the end of the chain. */
static atomic_int chain_left;
static void chain_cb(void *user, flo_status st)
{
    flo_runtime *rt = user;
    (void)st;
    if (atomic_fetch_sub(&chain_left, 1) > 1) {
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &knothing;
        d.callback = chain_cb;
        d.callback_arg = rt;
        flo_task_submit(rt, &d, NULL);
    }
}

static void test_callback_chain(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 2);
        assert_non_null(rt);
        for (int rep = 0; rep < 5; rep++) {
            flo_task_desc d = FLO_TASK_DESC_INIT;
            atomic_store(&chain_left, 1000);
            d.kernel = &knothing;
            d.callback = chain_cb;
            d.callback_arg = rt;
            assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
            assert_int_equal(flo_wait_all(rt), FLO_OK);
            if (atomic_load(&chain_left) != 0)
                fail_msg("%s: flo_wait_all returned with %d tasks of a "
                         "callback chain left",
                         flot_sched_name(pols[p]), atomic_load(&chain_left));
        }
        flo_stats st;
        assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
        assert_int_equal(st.tasks_submitted, 5000);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/* Data that saw a failure is usable again once flo_wait_all reported
 * the error; an explicit dependency on the failed event still cancels. */
static void test_data_usable_after_ack(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 2);
        int64_t x = 5;
        flo_data dx;
        flo_event bad, e1, e2, e3;
        void *ptr;
        assert_non_null(rt);
        reset();
        assert_int_equal(flo_data_register(rt, &x, 8, &dx), FLO_OK);
        flo_access_desc rw = {dx, FLO_READ_WRITE};
        flo_access_desc r = {dx, FLO_READ};
        /* The failing task does not touch x (no buffer of size 8 is
         * incremented: it has none). */
        assert_int_equal(sub(rt, 0, NULL, 0, NULL, 0, 1, FLO_ETASK, 2000, &bad),
                         FLO_OK);
        /* Make x depend on the failure: a writer after it by event. */
        assert_int_equal(sub(rt, 1, &rw, 1, &bad, 1, 0, 0, 0, &e1), FLO_OK);
        assert_int_equal(sub(rt, 2, &r, 1, NULL, 0, 0, 0, 0, &e2), FLO_OK);
        assert_int_equal(flo_event_wait(rt, e1), FLO_ECANCELED);
        assert_int_equal(flo_event_wait(rt, e2), FLO_ECANCELED);
        assert_int_equal(flo_wait_all(rt), FLO_ETASK);

        /* Acknowledged: new users of x run. */
        assert_int_equal(sub(rt, 3, &rw, 1, NULL, 0, 0, 0, 0, &e3), FLO_OK);
        if (flo_event_wait(rt, e3) != FLO_OK)
            fail_msg("%s: a writer of x submitted after flo_wait_all "
                     "reported the failure was canceled",
                     flot_sched_name(pols[p]));
        assert_int_equal(atomic_load(&body_runs[3]), 1);
        assert_int_equal(flo_data_acquire(rt, dx, FLO_READ, &ptr), FLO_OK);
        assert_int_equal(*(int64_t *)ptr, 6);
        assert_int_equal(flo_data_release(rt, dx), FLO_OK);

        /* An explicit dependency on the failed event still cancels. */
        assert_int_equal(sub(rt, 4, NULL, 0, &bad, 1, 0, 0, 0, &e1), FLO_OK);
        assert_int_equal(flo_event_wait(rt, e1), FLO_ECANCELED);
        assert_int_equal(atomic_load(&body_runs[4]), 0);
        /* The cancellation is an error of its own since the last
         * flo_wait_all. */
        assert_int_equal(flo_wait_all(rt), FLO_ECANCELED);
        assert_int_equal(flo_data_unregister(rt, dx), FLO_OK);
        assert_int_equal(x, 6);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_eager),
        cmocka_unit_test(test_cancel_ws),
        cmocka_unit_test(test_cancel_locality),
        cmocka_unit_test(test_cancel_long_chain),
        cmocka_unit_test(test_fail_codes),
        cmocka_unit_test(test_wait_all_first_error),
        cmocka_unit_test(test_finalize_reports_error),
        cmocka_unit_test(test_dep_on_failed_event),
        cmocka_unit_test(test_join_inherits),
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_failure_memory),
        cmocka_unit_test(test_failure_not_evicted_by_cancels),
        cmocka_unit_test(test_finalize_after_event_wait),
        cmocka_unit_test(test_long_message),
        cmocka_unit_test(test_callback_chain),
        cmocka_unit_test(test_data_usable_after_ack),
    };
    return cmocka_run_group_tests_name("scheduler_failure", tests, NULL, NULL);
}
