/*
 * scheduler_api: the task-submission API as a program writes it -
 * zero-initialised descriptors (placement "anywhere", size 0), the
 * FLO_DEVICE / FLO_WORKER placement macros, the one-call flo_submit with
 * FLO_ACCESS / FLO_ARGS / FLO_DEPS, and the typed accessors used inside
 * tasks (FLO_TASK_ARGS, FLO_TASK_BUFFER, flo_task_buffer_count),
 * including their misuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/scheduler/testutil.h"

_Static_assert(FLO_DEVICE(FLO_ANY) == 0 && FLO_WORKER(FLO_ANY) == 0,
               "FLO_DEVICE(FLO_ANY) and FLO_WORKER(FLO_ANY) mean any");

static uint64_t submitted(flo_runtime *rt)
{
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    return st.tasks_submitted;
}

/* ---- A zero-initialised descriptor runs anywhere ---------------------- */

/* The gate holds its worker until the free task has run (or, if that
 * never happens while it holds it, for FLOT_GUARANTEE_NS). */
static atomic_int gate_started, free_ran, free_worker;
static void k_gate(flo_task_ctx *ctx)
{
    uint64_t end = flot_now_ns() + FLOT_GUARANTEE_NS;
    (void)ctx;
    atomic_store(&gate_started, 1);
    while (!atomic_load(&free_ran) && flot_now_ns() < end)
        flot_sleep_us(100);
}
static const flo_kernel kgate = {"gate", k_gate, NULL};

static void k_free(flo_task_ctx *ctx)
{
    atomic_store(&free_worker, flo_task_worker(ctx));
    atomic_store(&free_ran, 1);
}
static const flo_kernel kfree_ = {"free", k_free, NULL};

/* With worker `busy` held by a task pinned there, a descriptor that says
 * nothing about placement must run on the other worker: it cannot have
 * been pinned to worker 0 (the old meaning of a zeroed descriptor). */
static void runs_elsewhere(flo_sched_policy pol, int busy, int how)
{
    flo_runtime *rt = flot_rt(pol, 2);
    flo_event gev, ev = FLO_EVENT_NULL;
    assert_non_null(rt);
    atomic_store(&gate_started, 0);
    atomic_store(&free_ran, 0);
    atomic_store(&free_worker, -1);
    assert_int_equal(
        flo_submit(rt, &gev, .kernel = &kgate, .on_worker = FLO_WORKER(busy)),
        FLO_OK);
    uint64_t end = flot_now_ns() + FLOT_GUARANTEE_NS;
    while (!atomic_load(&gate_started) && flot_now_ns() < end)
        flot_sleep_us(100);
    assert_int_equal(atomic_load(&gate_started), 1);

    if (how == 0) {
        flo_task_desc d = {.kernel = &kfree_};
        assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    } else if (how == 1) {
        flo_task_desc d = {0};
        d.kernel = &kfree_;
        assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    } else if (how == 2) {
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &kfree_;
        assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    } else {
        assert_int_equal(flo_submit(rt, &ev, .kernel = &kfree_), FLO_OK);
    }
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, gev), FLO_OK);
    if (atomic_load(&free_worker) != 1 - busy)
        fail_msg("%s, descriptor form %d: with worker %d busy, the task "
                 "ran on worker %d",
                 flot_sched_name(pol), how, busy, atomic_load(&free_worker));
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_zero_desc_anywhere(void **s)
{
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    (void)s;
    for (int p = 0; p < 3; p++)
        for (int how = 0; how < 4; how++)
            for (int busy = 0; busy < 2; busy++)
                runs_elsewhere(pols[p], busy, how);
}

/* ---- size and placement ----------------------------------------------- */

static atomic_int pl_runs, pl_worker, pl_device;
static void k_where(flo_task_ctx *ctx)
{
    atomic_store(&pl_worker, flo_task_worker(ctx));
    atomic_store(&pl_device, flo_task_device(ctx));
    atomic_fetch_add(&pl_runs, 1);
}
static const flo_kernel kwhere = {"where", k_where, NULL};

static void expect_refused(flo_runtime *rt, const flo_task_desc *d,
                           flo_status want, const char *what)
{
    flo_event ev = {0xabcdef, 0};
    uint64_t before = submitted(rt);
    flo_status st = flo_task_submit(rt, d, &ev);
    if (st != want)
        fail_msg("%s: got %s, expected %s", what, flo_status_str(st),
                 flo_status_str(want));
    if (ev.id != 0xabcdef)
        fail_msg("%s: the event was written on error", what);
    if (submitted(rt) != before)
        fail_msg("%s: a task was counted as submitted", what);
}

static void test_size_and_placement(void **s)
{
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 3);
    flo_task_desc d = {.kernel = &kwhere};
    flo_event ev;
    (void)s;
    assert_non_null(rt);
    atomic_store(&pl_runs, 0);

    /* size: 0 (this header's layout) and sizeof are accepted. */
    assert_int_equal(d.size, 0);
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
    d.size = sizeof(flo_task_desc);
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
    {
        flo_task_desc init = FLO_TASK_DESC_INIT;
        assert_int_equal(init.size, sizeof(flo_task_desc));
        assert_int_equal(init.on_device, 0);
        assert_int_equal(init.on_worker, 0);
        assert_null(init.kernel);
    }
    d.size = sizeof(flo_task_desc) - 1;
    expect_refused(rt, &d, FLO_EINVAL, "size - 1");
    d.size = 2 * sizeof(flo_task_desc);
    expect_refused(rt, &d, FLO_EINVAL, "size * 2");
    d.size = 0;
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&pl_runs), 2);

    /* Each worker and the host device, by the macros. */
    for (int w = 0; w < 3; w++) {
        d.on_worker = FLO_WORKER(w);
        d.on_device = w == 1 ? FLO_DEVICE(0) : 0;
        assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
        assert_int_equal(atomic_load(&pl_worker), w);
        assert_int_equal(atomic_load(&pl_device), 0);
    }

    /* Out of range: refused, nothing submitted. */
    d.on_device = 0;
    d.on_worker = FLO_WORKER(3);
    expect_refused(rt, &d, FLO_EINVAL, "FLO_WORKER(3) of 3");
    d.on_worker = FLO_WORKER(-2);
    expect_refused(rt, &d, FLO_EINVAL, "FLO_WORKER(-2)");
    d.on_worker = -100;
    expect_refused(rt, &d, FLO_EINVAL, "on_worker -100");
    d.on_worker = 0;
    d.on_device = FLO_DEVICE(flo_device_count(rt));
    expect_refused(rt, &d, FLO_EINVAL, "FLO_DEVICE(device count)");
    d.on_device = FLO_DEVICE(-2);
    expect_refused(rt, &d, FLO_EINVAL, "FLO_DEVICE(-2)");
    assert_int_equal(
        flo_submit(rt, &ev, .kernel = &kwhere, .on_worker = FLO_WORKER(7)),
        FLO_EINVAL);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&pl_runs), 5);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- One-call submission ---------------------------------------------- */

typedef struct axpy_args {
    double alpha;
    int n;
} axpy_args;

static atomic_int api_bad;

/* y = alpha * x + y over n doubles. */
static void k_axpy(flo_task_ctx *ctx)
{
    const axpy_args *a = FLO_TASK_ARGS(ctx, axpy_args);
    const double *x = FLO_TASK_BUFFER(ctx, 0, double);
    double *y = FLO_TASK_BUFFER(ctx, 1, double);
    size_t n = flo_task_buffer_count(ctx, 1, sizeof(double));

    if (!a || !x || !y || n != (size_t)a->n ||
        flo_task_buffer_count(ctx, 0, sizeof(double)) != n) {
        atomic_fetch_add(&api_bad, 1);
        return;
    }
    for (size_t i = 0; i < n; i++)
        y[i] += a->alpha * x[i];
}
static const flo_kernel kaxpy = {"axpy", k_axpy, NULL};

/* y *= *scale, with the scale passed as a plain double. */
static void k_scale(flo_task_ctx *ctx)
{
    const double *f = FLO_TASK_ARGS(ctx, double);
    double *y = FLO_TASK_BUFFER(ctx, 0, double);
    size_t n = flo_task_buffer_count(ctx, 0, sizeof(double));
    if (!f || !y) {
        atomic_fetch_add(&api_bad, 1);
        return;
    }
    for (size_t i = 0; i < n; i++)
        y[i] *= *f;
}
static const flo_kernel kscale = {"scale", k_scale, NULL};

static atomic_int order_clock;
static int order_seen[3];
static void k_order(flo_task_ctx *ctx)
{
    const int *id = FLO_TASK_ARGS(ctx, int);
    if (!id) {
        atomic_fetch_add(&api_bad, 1);
        return;
    }
    order_seen[*id] = atomic_fetch_add(&order_clock, 1);
}
static const flo_kernel korder = {"order", k_order, NULL};

static void test_flo_submit(void **s)
{
    enum { N = 100 };
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    static double x[N], y[N];
    double want[N];
    flo_data hx, hy, stale;
    flo_event ev = FLO_EVENT_NULL, e0, e1;
    double alpha = 2.0;
    int one = 1;
    (void)s;

    assert_non_null(rt);
    atomic_store(&api_bad, 0);
    for (int i = 0; i < N; i++) {
        x[i] = i;
        y[i] = 1.0;
        want[i] = 1.0;
    }
    assert_int_equal(flo_data_register(rt, x, sizeof(x), &hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, y, sizeof(y), &hy), FLO_OK);
    assert_int_equal(flo_data_register(rt, &one, sizeof(one), &stale), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, stale), FLO_OK);

    /* Every form: a compound-literal argument, an lvalue, priorities,
     * placement, with and without the event. The tasks chain through y
     * (read-write), so the result is that of this order. */
    for (int rep = 0; rep < 10; rep++) {
        assert_int_equal(
            flo_submit(rt, &ev, .kernel = &kaxpy,
                       FLO_ACCESS(FLO_R(hx), FLO_RW(hy)),
                       FLO_ARGS((axpy_args){.alpha = alpha, .n = N}),
                       .priority = rep % 3, .on_device = FLO_DEVICE(0)),
            FLO_OK);
        assert_int_not_equal(ev.id, 0);
        assert_int_equal(flo_submit(rt, NULL, .kernel = &kscale,
                                    FLO_ACCESS(FLO_RW(hy)), FLO_ARGS(alpha),
                                    .name = "scale by alpha"),
                         FLO_OK);
        for (int i = 0; i < N; i++)
            want[i] = (want[i] + alpha * x[i]) * alpha;
        alpha += 0.5; /* The copy made at submit is what the task sees. */
    }
    /* One handle named twice, write-only then read-write: the task
     * depends on it once, read-write (the old contents are kept). */
    assert_int_equal(flo_submit(rt, &ev, .kernel = &kscale,
                                FLO_ACCESS(FLO_W(hy), FLO_RW(hy)),
                                FLO_ARGS(alpha)),
                     FLO_OK);
    for (int i = 0; i < N; i++)
        want[i] *= alpha;
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);

    /* FLO_DEPS: explicit order between tasks sharing no data. */
    atomic_store(&order_clock, 0);
    int ids[3] = {0, 1, 2};
    assert_int_equal(flo_submit(rt, &e0, .kernel = &korder, FLO_ARGS(ids[0]),
                                .on_worker = FLO_WORKER(0)),
                     FLO_OK);
    assert_int_equal(
        flo_submit(rt, &e1, .kernel = &korder, FLO_ARGS(ids[1]), FLO_DEPS(e0)),
        FLO_OK);
    assert_int_equal(flo_submit(rt, NULL, .kernel = &korder, FLO_ARGS(ids[2]),
                                FLO_DEPS(e1, e0, FLO_EVENT_NULL)),
                     FLO_OK);

    /* Errors come back as the status; the event is left alone. */
    flo_event keep = {0x1234, 5};
    assert_int_equal(flo_submit(rt, &keep, .kernel = &kaxpy,
                                FLO_ACCESS(FLO_R(hx), FLO_RW(stale))),
                     FLO_ESTALE);
    assert_int_equal(flo_submit(rt, &keep, .kernel = NULL), FLO_EINVAL);
    assert_int_equal(
        flo_submit(rt, &keep, .kernel = &kaxpy, .access = NULL, .naccess = 1),
        FLO_EINVAL);
    assert_int_equal(flo_submit(NULL, &keep, .kernel = &kaxpy), FLO_EINVAL);
    assert_int_equal(keep.id, 0x1234);
    assert_int_equal(keep.gen, 5);

    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&api_bad), 0);
    assert_true(order_seen[0] < order_seen[1]);
    assert_true(order_seen[1] < order_seen[2]);
    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    for (int i = 0; i < N; i++)
        if (y[i] != want[i])
            fail_msg("y[%d] = %g, expected %g", i, y[i], want[i]);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Typed accessors, and their misuse -------------------------------- */

typedef struct args16 {
    int64_t a, b;
} args16;

/* Bit k of acc_bad: check k failed. */
static atomic_int acc_bad, acc_runs;
#define CHECK(k, cond)                                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            atomic_fetch_or(&acc_bad, 1 << (k));                               \
    } while (0)

/* Buffers: 0 = three doubles, 1 = ten bytes, 2 = eight bytes at an odd
 * address. Arguments: an args16 {7, -3}. */
static void k_accessors(flo_task_ctx *ctx)
{
    const args16 *a = FLO_TASK_ARGS(ctx, args16);
    CHECK(0, a && a->a == 7 && a->b == -3);
    CHECK(1, FLO_TASK_ARGS(ctx, double) == NULL);
    CHECK(2, FLO_TASK_ARGS(ctx, char) == NULL);
    CHECK(3, flo_task_args_as(ctx, 0) == NULL);
    CHECK(4, flo_task_args_as(ctx, sizeof(args16) + 1) == NULL);

    CHECK(5, flo_task_buffer_count(ctx, 0, sizeof(double)) == 3);
    CHECK(6, flo_task_buffer_count(ctx, 0, 16) == 0);
    CHECK(7, flo_task_buffer_count(ctx, 0, 0) == 0);
    CHECK(8, flo_task_buffer_count(ctx, 1, 8) == 0);
    CHECK(9, flo_task_buffer_count(ctx, 1, 2) == 5);
    CHECK(10, flo_task_buffer_count(ctx, 3, 1) == 0);
    CHECK(11, flo_task_buffer_count(ctx, -1, 1) == 0);

    double *d0 = FLO_TASK_BUFFER(ctx, 0, double);
    CHECK(12,
          d0 != NULL && (void *)d0 == flo_task_buffer(ctx, 0) && d0[2] == 2.5);
    CHECK(13, FLO_TASK_BUFFER(ctx, 1, double) == NULL);
    CHECK(14, FLO_TASK_BUFFER(ctx, 1, char) == flo_task_buffer(ctx, 1));
    CHECK(15, FLO_TASK_BUFFER(ctx, 1, int16_t) == NULL); /* Odd address. */
    CHECK(16, FLO_TASK_BUFFER(ctx, 2, int64_t) == NULL); /* Misaligned. */
    CHECK(17, FLO_TASK_BUFFER(ctx, 2, char) != NULL);
    CHECK(18, flo_task_buffer_as(ctx, 0, 8, 3) == NULL);
    CHECK(19, flo_task_buffer_as(ctx, 0, 8, 0) == NULL);
    CHECK(20, flo_task_buffer_as(ctx, 0, 0, 8) == NULL);
    CHECK(21, FLO_TASK_BUFFER(ctx, 3, char) == NULL);
    CHECK(22, FLO_TASK_BUFFER(ctx, -1, char) == NULL);
    CHECK(23, flo_task_buffer_as(ctx, 0, 24, 8) == d0);
    atomic_fetch_add(&acc_runs, 1);
}
static const flo_kernel kaccessors = {"accessors", k_accessors, NULL};

static void k_no_args(flo_task_ctx *ctx)
{
    CHECK(24, FLO_TASK_ARGS(ctx, int) == NULL);
    CHECK(25, flo_task_args_as(ctx, 0) == NULL);
    CHECK(26, FLO_TASK_BUFFER(ctx, 0, char) == NULL);
    atomic_fetch_add(&acc_runs, 1);
}
static const flo_kernel kno_args = {"no_args", k_no_args, NULL};

static void test_typed_accessors(void **s)
{
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    static double d0[3] = {0.5, 1.5, 2.5};
    static _Alignas(16) char raw[32];
    flo_data h0, h1, h2;
    (void)s;

    assert_non_null(rt);
    atomic_store(&acc_bad, 0);
    atomic_store(&acc_runs, 0);
    assert_int_equal(flo_data_register(rt, d0, sizeof(d0), &h0), FLO_OK);
    assert_int_equal(flo_data_register(rt, raw + 1, 10, &h1), FLO_OK);
    assert_int_equal(flo_data_register(rt, raw + 17, 8, &h2), FLO_OK);
    assert_int_equal(flo_submit(rt, NULL, .kernel = &kaccessors,
                                FLO_ACCESS(FLO_R(h0), FLO_R(h1), FLO_R(h2)),
                                FLO_ARGS((args16){7, -3})),
                     FLO_OK);
    assert_int_equal(flo_submit(rt, NULL, .kernel = &kno_args), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&acc_runs), 2);
    if (atomic_load(&acc_bad) != 0)
        fail_msg("accessor checks failed: mask 0x%x",
                 (unsigned)atomic_load(&acc_bad));

    /* Without a context: nothing. */
    assert_null(flo_task_args_as(NULL, 4));
    assert_null(flo_task_buffer_as(NULL, 0, 1, 1));
    assert_int_equal(flo_task_buffer_count(NULL, 0, 1), 0);
    assert_null(FLO_TASK_ARGS(NULL, int));
    assert_null(FLO_TASK_BUFFER(NULL, 0, int));

    assert_int_equal(flo_data_unregister(rt, h0), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h1), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h2), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_desc_anywhere),
        cmocka_unit_test(test_size_and_placement),
        cmocka_unit_test(test_flo_submit),
        cmocka_unit_test(test_typed_accessors),
    };
    return cmocka_run_group_tests_name("scheduler_api", tests, NULL, NULL);
}
