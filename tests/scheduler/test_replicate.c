/*
 * scheduler_replicate: replicated tasks (flo_task_submit_replicated) on
 * host workers. A copy knows which copy it is only through its worker:
 * on a host-only runtime with at least as many workers as copies, copy k
 * runs on worker k (the placement resilience.h documents), so the entry
 * points below corrupt their result or fail on chosen workers. The
 * private versions are checked to be released through the data table
 * (white-box: slots in use).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flotilla/graph.h"
#include "flotilla/resilience.h"
#include "scheduler/sched.h"
#include "tests/scheduler/testutil.h"

#define N 64
#define MAXW 8

/* What the entry points saw, per worker (workers record, the main thread
 * asserts). */
static atomic_int ran_on[MAXW];
static atomic_int bad_start; /* A copy found its buffers not as expected. */

static void reset_records(void)
{
    for (int i = 0; i < MAXW; i++)
        atomic_store(&ran_on[i], 0);
    atomic_store(&bad_start, 0);
}

static int ran_mask(void)
{
    int m = 0;
    for (int i = 0; i < MAXW; i++)
        if (atomic_load(&ran_on[i]))
            m |= 1 << i;
    return m;
}

/* y = y * factor + x (buffer 0: x, read; buffer 1: y, read and
 * written). Worker w corrupts its result when bit w of corrupt is set
 * (one bit flipped, or, with distinct, a value of its own), and fails
 * when bit w of fail is set. y0: y's contents before the task, which
 * every copy must start from (NULL: not checked). */
typedef struct axpy_args {
    double factor;
    int corrupt, fail, distinct;
    const double *y0;
} axpy_args;

static void k_axpy(flo_task_ctx *ctx)
{
    const axpy_args *a = FLO_TASK_ARGS(ctx, axpy_args);
    const double *x = FLO_TASK_BUFFER(ctx, 0, double);
    double *y = FLO_TASK_BUFFER(ctx, 1, double);
    int w = flo_task_worker(ctx);

    atomic_fetch_add(&ran_on[w], 1);
    if (a->y0 && memcmp(y, a->y0, N * sizeof(double)) != 0)
        atomic_fetch_add(&bad_start, 1);
    for (int i = 0; i < N; i++)
        y[i] = y[i] * a->factor + x[i];
    if (a->corrupt & (1 << w)) {
        if (a->distinct) {
            y[N / 2] += 1000.0 * (w + 1);
        } else {
            uint64_t bits;
            memcpy(&bits, &y[N / 3], sizeof(bits));
            bits ^= 1; /* The least significant bit: a silent error. */
            memcpy(&y[N / 3], &bits, sizeof(bits));
        }
    }
    if (a->fail & (1 << w))
        flo_task_fail(ctx, FLO_ETASK, "copy on worker %d broke", w);
}
static const flo_kernel kaxpy = {.name = "axpy", .host = k_axpy};

/* Accepts a result equal to *expected (one buffer of N doubles); records
 * each call and rejection per copy. */
typedef struct vcheck {
    const double *expected;
    atomic_int calls[FLO_REPLICATE_MAX];
    atomic_int rejected[FLO_REPLICATE_MAX];
    atomic_int bad_args; /* Buffers not as the task writes them. */
} vcheck;

static int v_expected(void *arg, int copy, const void *const *bufs,
                      const size_t *sizes, int nbufs)
{
    vcheck *v = arg;
    int ok;

    atomic_fetch_add(&v->calls[copy], 1);
    if (nbufs != 1 || sizes[0] != N * sizeof(double) || !bufs[0]) {
        atomic_fetch_add(&v->bad_args, 1);
        return 0;
    }
    ok = memcmp(bufs[0], v->expected, N * sizeof(double)) == 0;
    if (!ok)
        atomic_fetch_add(&v->rejected[copy], 1);
    return ok;
}

static int v_none(void *arg, int copy, const void *const *bufs,
                  const size_t *sizes, int nbufs)
{
    (void)arg;
    (void)copy;
    (void)bufs;
    (void)sizes;
    (void)nbufs;
    return 0;
}

/* Handles in use in rt's table (white-box). */
static long live_handles(flo_runtime *rt)
{
    long n;
    pthread_mutex_lock(&rt->data_mu);
    n = (long)rt->data_next - rt->ndata_free;
    pthread_mutex_unlock(&rt->data_mu);
    return n;
}

static uint64_t submitted(flo_runtime *rt)
{
    flo_stats s;
    assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
    return s.tasks_submitted;
}

/* x[i] = i + 1, y[i] = 0.5 * i. */
static void fill(double *x, double *y)
{
    for (int i = 0; i < N; i++) {
        x[i] = i + 1;
        y[i] = 0.5 * i;
    }
}

static void axpy_host(double *y, const double *x, double factor)
{
    for (int i = 0; i < N; i++)
        y[i] = y[i] * factor + x[i];
}

/* Submit y = 2y + x replicated. */
static flo_status submit_axpy(flo_runtime *rt, flo_data hx, flo_data hy,
                              const axpy_args *a, int copies,
                              flo_replicate_vote vote,
                              flo_replicate_validate_fn validate, void *varg,
                              flo_event *ev)
{
    flo_access_desc acc[2] = {FLO_R(hx), FLO_RW(hy)};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_replicate_desc r = {sizeof(r), copies, vote, validate, varg};

    d.kernel = &kaxpy;
    d.access = acc;
    d.naccess = 2;
    d.args = a;
    d.args_size = sizeof(*a);
    return flo_task_submit_replicated(rt, &d, &r, ev);
}

/* y's contents now (acquire and release on the calling thread). */
static void read_y(flo_runtime *rt, flo_data hy, double *out)
{
    void *p;
    assert_int_equal(flo_data_acquire(rt, hy, FLO_READ, &p), FLO_OK);
    memcpy(out, p, N * sizeof(double));
    assert_int_equal(flo_data_release(rt, hy), FLO_OK);
}

/* FIRST, with copy 0 (worker 0) corrupting its result: validate rejects
 * it whenever it is examined, and the whole writes a correct result;
 * repeated as a chain, so that each task starts from the previous
 * result. Then two copies, copy 0 corrupt and copy 1 failing: copy 0 is
 * necessarily examined, rejected, and the whole fails with FLO_ETASK,
 * naming both, with y left as it was. */
static void test_first_validate_rejects_copy0(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 3);
    double x[N], y[N], want[N], start[N], got[N];
    flo_data hx, hy;
    long live0;
    const int iters = (int)flot_scaled(20, 4);

    assert_non_null(rt);
    fill(x, y);
    memcpy(want, y, sizeof(y));
    assert_int_equal(flo_data_register(rt, x, sizeof(x), &hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, y, sizeof(y), &hy), FLO_OK);
    live0 = live_handles(rt);

    for (int it = 0; it < iters; it++) {
        static vcheck v;
        flo_event ev;
        axpy_args a = {.factor = 2.0, .corrupt = 1, .y0 = start};
        memset(&v, 0, sizeof(v));
        reset_records();
        memcpy(start, want, sizeof(want));
        axpy_host(want, x, 2.0);
        v.expected = want;
        assert_int_equal(submit_axpy(rt, hx, hy, &a, 3, FLO_REPLICATE_FIRST,
                                     v_expected, &v, &ev),
                         FLO_OK);
        assert_int_equal(flot_wait_timeout(rt, ev, 60000), FLO_OK);
        read_y(rt, hy, got);
        assert_memory_equal(got, want, sizeof(want));
        /* Copy k ran on worker k, each from y's contents. */
        assert_int_equal(ran_mask(), 7);
        assert_int_equal(atomic_load(&bad_start), 0);
        assert_int_equal(atomic_load(&v.bad_args), 0);
        /* Copy 0 was never accepted; the others were never rejected. */
        assert_int_equal(atomic_load(&v.rejected[0]), atomic_load(&v.calls[0]));
        assert_int_equal(atomic_load(&v.rejected[1]), 0);
        assert_int_equal(atomic_load(&v.rejected[2]), 0);
        assert_true(atomic_load(&v.calls[1]) + atomic_load(&v.calls[2]) >= 1);
    }

    {
        static vcheck v;
        flo_event ev;
        char msg[512];
        axpy_args a = {.factor = 2.0, .corrupt = 1, .fail = 2};
        memset(&v, 0, sizeof(v));
        memcpy(start, want, sizeof(want));
        axpy_host(start, x, 2.0);
        v.expected = start;
        assert_int_equal(submit_axpy(rt, hx, hy, &a, 2, FLO_REPLICATE_FIRST,
                                     v_expected, &v, &ev),
                         FLO_OK);
        assert_int_equal(flot_wait_timeout(rt, ev, 60000), FLO_ETASK);
        assert_int_equal(atomic_load(&v.calls[0]), 1);
        assert_int_equal(atomic_load(&v.rejected[0]), 1);
        assert_int_equal(atomic_load(&v.calls[1]), 0);
        assert_int_equal(flo_error_message(rt, ev, msg, sizeof(msg)), FLO_OK);
        assert_non_null(strstr(msg, "no copy accepted"));
        assert_non_null(
            strstr(msg, "copy 0 on device 0: rejected by validate"));
        assert_non_null(strstr(msg, "copy 1 on device 0: FLO_ETASK"));
        assert_non_null(strstr(msg, "copy on worker 1 broke"));
        assert_int_equal(flo_wait_all(rt), FLO_ETASK);
        read_y(rt, hy, got);
        assert_memory_equal(got, want, sizeof(want));
    }
    assert_int_equal(live_handles(rt), live0);
    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* MAJORITY: one of three copies flips a bit, and the correct result wins
 * bit for bit (with and without a validate function that accepts all);
 * five copies with two distinct corruptions, three agreeing. */
static int v_all(void *arg, int copy, const void *const *bufs,
                 const size_t *sizes, int nbufs)
{
    (void)arg;
    (void)copy;
    (void)bufs;
    (void)sizes;
    return nbufs == 1;
}

static void test_majority_one_corrupt(void **state)
{
    (void)state;
    struct {
        int workers, copies, corrupt, distinct;
        flo_replicate_validate_fn validate;
    } cases[] = {
        {3, 3, 1 << 1, 0, NULL},
        {3, 3, 1 << 2, 0, v_all},
        {5, 5, (1 << 1) | (1 << 3), 1, NULL},
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        flo_runtime *rt = flot_rt(FLO_SCHED_WS, cases[c].workers);
        double x[N], y[N], want[N], got[N], start[N];
        flo_data hx, hy;
        flo_event ev;
        axpy_args a = {.factor = 2.0,
                       .corrupt = cases[c].corrupt,
                       .distinct = cases[c].distinct,
                       .y0 = start};
        long live0;

        assert_non_null(rt);
        fill(x, y);
        memcpy(start, y, sizeof(y));
        memcpy(want, y, sizeof(y));
        axpy_host(want, x, 2.0);
        assert_int_equal(flo_data_register(rt, x, sizeof(x), &hx), FLO_OK);
        assert_int_equal(flo_data_register(rt, y, sizeof(y), &hy), FLO_OK);
        live0 = live_handles(rt);
        reset_records();
        assert_int_equal(submit_axpy(rt, hx, hy, &a, cases[c].copies,
                                     FLO_REPLICATE_MAJORITY, cases[c].validate,
                                     NULL, &ev),
                         FLO_OK);
        assert_int_equal(flot_wait_timeout(rt, ev, 60000), FLO_OK);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        read_y(rt, hy, got);
        assert_memory_equal(got, want, sizeof(want));
        assert_int_equal(ran_mask(), (1 << cases[c].copies) - 1);
        assert_int_equal(atomic_load(&bad_start), 0);
        assert_int_equal(live_handles(rt), live0);
        assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
        assert_memory_equal(y, want, sizeof(want));
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/* No majority: every copy corrupts differently (3 copies), two pairs
 * disagree (4 copies: 2 against 2), or validate rejects everything. The
 * whole fails with FLO_ETASK, its successors (through data and through
 * its event) are canceled, and y is unchanged. */
static void k_plus1(flo_task_ctx *ctx)
{
    double *z = FLO_TASK_BUFFER(ctx, 0, double);
    z[0] += 1;
}
static const flo_kernel kplus1 = {.name = "plus1", .host = k_plus1};

static void test_majority_none(void **state)
{
    (void)state;
    struct {
        int copies, corrupt, distinct;
        flo_replicate_validate_fn validate;
        const char *says;
    } cases[] = {
        {3, 7, 1, NULL, "at most 1 agree, 2 needed"},
        {4, (1 << 2) | (1 << 3), 0, NULL, "at most 2 agree, 3 needed"},
        {3, 0, 0, v_none, "copy 2 on device 0: rejected by validate"},
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        flo_runtime *rt = flot_rt(FLO_SCHED_WS, 4);
        double x[N], y[N], y_before[N], got[N], z = 0;
        flo_data hx, hy, hz;
        flo_event ev, after_data, after_event;
        axpy_args a = {.factor = 2.0,
                       .corrupt = cases[c].corrupt,
                       .distinct = cases[c].distinct};
        char msg[512];
        long live0;

        assert_non_null(rt);
        fill(x, y);
        memcpy(y_before, y, sizeof(y));
        assert_int_equal(flo_data_register(rt, x, sizeof(x), &hx), FLO_OK);
        assert_int_equal(flo_data_register(rt, y, sizeof(y), &hy), FLO_OK);
        assert_int_equal(flo_data_register(rt, &z, sizeof(z), &hz), FLO_OK);
        live0 = live_handles(rt);
        assert_int_equal(submit_axpy(rt, hx, hy, &a, cases[c].copies,
                                     FLO_REPLICATE_MAJORITY, cases[c].validate,
                                     NULL, &ev),
                         FLO_OK);
        /* A reader of y (data) and a task on other data after the event. */
        assert_int_equal(flo_submit(rt, &after_data, .kernel = &kaxpy,
                                    FLO_ACCESS(FLO_R(hy), FLO_RW(hx)),
                                    FLO_ARGS(a)),
                         FLO_OK);
        assert_int_equal(flo_submit(rt, &after_event, .kernel = &kplus1,
                                    FLO_ACCESS(FLO_RW(hz)), FLO_DEPS(ev)),
                         FLO_OK);
        assert_int_equal(flot_wait_timeout(rt, ev, 60000), FLO_ETASK);
        assert_int_equal(flot_wait_timeout(rt, after_data, 60000),
                         FLO_ECANCELED);
        assert_int_equal(flot_wait_timeout(rt, after_event, 60000),
                         FLO_ECANCELED);
        assert_int_equal(flo_error_message(rt, ev, msg, sizeof(msg)), FLO_OK);
        assert_non_null(strstr(msg, "replicated task 'axpy'"));
        assert_non_null(strstr(msg, cases[c].says));
        assert_int_equal(flo_wait_all(rt), FLO_ETASK);
        read_y(rt, hy, got);
        assert_memory_equal(got, y_before, sizeof(got));
        assert_int_equal(live_handles(rt), live0);
        assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, hz), FLO_OK);
        assert_true(z == 0);
        assert_memory_equal(y, y_before, sizeof(y));
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/*
 * What copies start from: a FLO_READ_WRITE buffer's contents, a
 * FLO_WRITE buffer's zeros (bytes a copy leaves alone compare, and are
 * written back, as zeros), a buffer named twice (read, then read-write)
 * one buffer. Buffers: 0 x (read), 1 y (read-write), 2 z (write), 3 y
 * again (read). y += x; z[even] = 3 * y.
 */
static void k_mixed(flo_task_ctx *ctx)
{
    const double *const *y0 = FLO_TASK_ARGS(ctx, const double *);
    const double *x = FLO_TASK_BUFFER(ctx, 0, double);
    double *y = FLO_TASK_BUFFER(ctx, 1, double);
    double *z = FLO_TASK_BUFFER(ctx, 2, double);
    static const double zeros[N];

    atomic_fetch_add(&ran_on[flo_task_worker(ctx)], 1);
    if (!y0 || memcmp(y, *y0, sizeof(zeros)) != 0 ||
        memcmp(z, zeros, sizeof(zeros)) != 0 ||
        flo_task_buffer(ctx, 3) != (void *)y)
        atomic_fetch_add(&bad_start, 1);
    for (int i = 0; i < N; i++)
        y[i] += x[i];
    for (int i = 0; i < N; i += 2)
        z[i] = 3 * y[i];
}
static const flo_kernel kmixed = {.name = "mixed", .host = k_mixed};

typedef struct vmixed {
    atomic_int calls, bad;
} vmixed;

static int v_mixed(void *arg, int copy, const void *const *bufs,
                   const size_t *sizes, int nbufs)
{
    vmixed *v = arg;
    (void)copy;
    atomic_fetch_add(&v->calls, 1);
    /* y then z: the written handles in the order of their first entry. */
    if (nbufs != 2 || sizes[0] != N * sizeof(double) ||
        sizes[1] != N * sizeof(double) || !bufs[0] || !bufs[1] ||
        bufs[0] == bufs[1])
        atomic_fetch_add(&v->bad, 1);
    return 1;
}

static void test_rw_and_w_start(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_LOCALITY, 3);
    double x[N], y[N], z[N], y0[N], wy[N], wz[N];
    const double *y0p = y0;
    flo_data hx, hy, hz;
    flo_event ev;
    static vmixed v;
    flo_replicate_desc r = {0, 3, FLO_REPLICATE_MAJORITY, v_mixed, &v};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_access_desc acc[4];

    assert_non_null(rt);
    memset(&v, 0, sizeof(v));
    reset_records();
    fill(x, y);
    memset(z, 0xff, sizeof(z)); /* Not what the copies start from. */
    memcpy(y0, y, sizeof(y));
    for (int i = 0; i < N; i++) {
        wy[i] = y[i] + x[i];
        wz[i] = i % 2 ? 0 : 3 * wy[i];
    }
    assert_int_equal(flo_data_register(rt, x, sizeof(x), &hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, y, sizeof(y), &hy), FLO_OK);
    assert_int_equal(flo_data_register(rt, z, sizeof(z), &hz), FLO_OK);
    acc[0] = FLO_R(hx);
    acc[1] = FLO_RW(hy);
    acc[2] = FLO_W(hz);
    acc[3] = FLO_R(hy);
    d.kernel = &kmixed;
    d.access = acc;
    d.naccess = 4;
    d.args = &y0p;
    d.args_size = sizeof(y0p);
    assert_int_equal(flo_task_submit_replicated(rt, &d, &r, &ev), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, ev, 60000), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(ran_mask(), 7);
    assert_int_equal(atomic_load(&bad_start), 0);
    assert_int_equal(atomic_load(&v.calls), 3);
    assert_int_equal(atomic_load(&v.bad), 0);
    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hz), FLO_OK);
    assert_memory_equal(y, wy, sizeof(y));
    assert_memory_equal(z, wz, sizeof(z));
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/*
 * Later tasks see the result (through data and through the event), the
 * program's callback runs once with the whole's status, and a copy that
 * fails is contained: the majority of the others wins, flo_wait_all
 * reports nothing and a later writer of the task's input runs.
 */
static atomic_int cb_calls, cb_status;

static void on_done(void *arg, flo_status st)
{
    (void)arg;
    atomic_store(&cb_status, st);
    atomic_fetch_add(&cb_calls, 1);
}

static void test_later_tasks_and_failed_copy(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_EAGER, 3);
    double x[N], y[N], want[N], x_after[N];
    flo_data hx, hy;
    flo_event ev, e1, e2;
    axpy_args a = {.factor = 2.0, .fail = 1 << 2};
    axpy_args b = {.factor = 3.0};
    flo_access_desc acc[2];
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_replicate_desc r = {0, 3, FLO_REPLICATE_MAJORITY, NULL, NULL};

    assert_non_null(rt);
    fill(x, y);
    memcpy(want, y, sizeof(y));
    axpy_host(want, x, 2.0); /* The replicated task. */
    memcpy(x_after, x, sizeof(x));
    axpy_host(x_after, want, 3.0); /* x = 3x + y, after it. */
    axpy_host(want, x_after, 2.0); /* And replicated again. */
    assert_int_equal(flo_data_register(rt, x, sizeof(x), &hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, y, sizeof(y), &hy), FLO_OK);
    atomic_store(&cb_calls, 0);
    atomic_store(&cb_status, 1);

    acc[0] = FLO_R(hx);
    acc[1] = FLO_RW(hy);
    d.kernel = &kaxpy;
    d.access = acc;
    d.naccess = 2;
    d.args = &a;
    d.args_size = sizeof(a);
    d.callback = on_done;
    assert_int_equal(flo_task_submit_replicated(rt, &d, &r, &ev), FLO_OK);
    /* A writer of the input (after the copies that read it) and an
     * explicit dependent of the whole. */
    assert_int_equal(flo_submit(rt, &e1, .kernel = &kaxpy,
                                FLO_ACCESS(FLO_R(hy), FLO_RW(hx)), FLO_ARGS(b),
                                FLO_DEPS(ev)),
                     FLO_OK);
    a.fail = 0;
    d.callback = NULL;
    d.deps = &e1;
    d.ndeps = 1;
    assert_int_equal(flo_task_submit_replicated(rt, &d, &r, &e2), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, e2, 60000), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, e1), FLO_OK);
    assert_int_equal(atomic_load(&cb_calls), 1);
    assert_int_equal(atomic_load(&cb_status), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    assert_memory_equal(x, x_after, sizeof(x));
    assert_memory_equal(y, want, sizeof(y));
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A failed writer of the input cancels the whole (its callback still
 * runs, and the private versions are released); every copy failing fails
 * it with FLO_ETASK naming each. */
static void k_fail(flo_task_ctx *ctx)
{
    flo_task_fail(ctx, FLO_ETASK, "input broken");
}
static const flo_kernel kfail = {.name = "fail", .host = k_fail};

static void test_canceled_and_all_failed(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 3);
    double x[N], y[N], y_before[N], got[N];
    flo_data hx, hy;
    flo_event bad, ev;
    axpy_args a = {.factor = 2.0};
    flo_access_desc acc[2];
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_replicate_desc r = {0, 3, FLO_REPLICATE_FIRST, NULL, NULL};
    char msg[512];
    long live0;

    assert_non_null(rt);
    fill(x, y);
    memcpy(y_before, y, sizeof(y));
    assert_int_equal(flo_data_register(rt, x, sizeof(x), &hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, y, sizeof(y), &hy), FLO_OK);
    live0 = live_handles(rt);
    atomic_store(&cb_calls, 0);
    atomic_store(&cb_status, 0);
    reset_records();

    assert_int_equal(
        flo_submit(rt, &bad, .kernel = &kfail, FLO_ACCESS(FLO_RW(hx))), FLO_OK);
    acc[0] = FLO_R(hx);
    acc[1] = FLO_RW(hy);
    d.kernel = &kaxpy;
    d.access = acc;
    d.naccess = 2;
    d.args = &a;
    d.args_size = sizeof(a);
    d.callback = on_done;
    assert_int_equal(flo_task_submit_replicated(rt, &d, &r, &ev), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, ev, 60000), FLO_ECANCELED);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(ran_mask(), 0);
    assert_int_equal(atomic_load(&cb_calls), 1);
    assert_int_equal(atomic_load(&cb_status), FLO_ECANCELED);
    assert_int_equal(live_handles(rt), live0);

    a.fail = 7;
    d.callback = NULL;
    assert_int_equal(flo_task_submit_replicated(rt, &d, &r, &ev), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, ev, 60000), FLO_ETASK);
    assert_int_equal(flo_error_message(rt, ev, msg, sizeof(msg)), FLO_OK);
    for (int k = 0; k < 3; k++) {
        char want[64];
        snprintf(want, sizeof(want), "copy on worker %d broke", k);
        assert_non_null(strstr(msg, want));
    }
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    read_y(rt, hy, got);
    assert_memory_equal(got, y_before, sizeof(got));
    assert_int_equal(live_handles(rt), live0);
    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/*
 * Four threads at once, each submitting replicated and plain increments
 * of one shared counter (every whole takes effect at one point, so no
 * update is lost: the count is exact) and a replicated chain of its own
 * (exact values); one worker of three corrupts, the majority wins.
 */
#define THREADS 4

typedef struct inc_args {
    int corrupt;
} inc_args;

static void k_inc(flo_task_ctx *ctx)
{
    const inc_args *a = FLO_TASK_ARGS(ctx, inc_args);
    int64_t *c = FLO_TASK_BUFFER(ctx, 0, int64_t);
    uint64_t *own = FLO_TASK_BUFFER(ctx, 1, uint64_t);

    c[0] += 1;
    own[0] = own[0] * 3 + 1;
    if (a->corrupt & (1 << flo_task_worker(ctx)))
        c[0] += 100;
}
static const flo_kernel kinc = {.name = "inc", .host = k_inc};

static void k_inc_plain(flo_task_ctx *ctx)
{
    int64_t *c = FLO_TASK_BUFFER(ctx, 0, int64_t);
    c[0] += 1;
}
static const flo_kernel kinc_plain = {.name = "inc_plain", .host = k_inc_plain};

typedef struct thr {
    flo_runtime *rt;
    flo_data shared, own;
    int iters;
    atomic_int errors;
} thr;

static void *submitter(void *arg)
{
    thr *t = arg;
    inc_args a = {.corrupt = 1 << 1};
    flo_access_desc acc[2] = {FLO_RW(t->shared), FLO_RW(t->own)};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_replicate_desc r = {0, 3, FLO_REPLICATE_MAJORITY, NULL, NULL};

    d.kernel = &kinc;
    d.access = acc;
    d.naccess = 2;
    d.args = &a;
    d.args_size = sizeof(a);
    for (int i = 0; i < t->iters; i++) {
        if (flo_task_submit_replicated(t->rt, &d, &r, NULL) != FLO_OK)
            atomic_fetch_add(&t->errors, 1);
        if (flo_submit(t->rt, NULL, .kernel = &kinc_plain,
                       FLO_ACCESS(FLO_RW(t->shared))) != FLO_OK)
            atomic_fetch_add(&t->errors, 1);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 3);
    int64_t shared = 0;
    uint64_t own[THREADS] = {0};
    thr t[THREADS];
    pthread_t th[THREADS];
    const int iters = (int)flot_scaled(100, 10);
    flo_data hs;
    long live0;

    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &shared, sizeof(shared), &hs),
                     FLO_OK);
    for (int i = 0; i < THREADS; i++) {
        t[i].rt = rt;
        t[i].shared = hs;
        t[i].iters = iters;
        atomic_init(&t[i].errors, 0);
        assert_int_equal(
            flo_data_register(rt, &own[i], sizeof(own[i]), &t[i].own), FLO_OK);
    }
    live0 = live_handles(rt);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, submitter, &t[i]), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(live_handles(rt), live0);
    assert_int_equal(flo_data_unregister(rt, hs), FLO_OK);
    assert_int_equal(shared, (int64_t)THREADS * 2 * iters);
    for (int i = 0; i < THREADS; i++) {
        uint64_t want = 0;
        assert_int_equal(atomic_load(&t[i].errors), 0);
        assert_int_equal(flo_data_unregister(rt, t[i].own), FLO_OK);
        for (int k = 0; k < iters; k++)
            want = want * 3 + 1;
        assert_int_equal(own[i], want);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Submitted from inside a task (allowed). */
typedef struct inner_args {
    flo_data hx, hy;
} inner_args;

static atomic_int inner_status;

static void k_outer(flo_task_ctx *ctx)
{
    const inner_args *ia = FLO_TASK_ARGS(ctx, inner_args);
    axpy_args a = {.factor = 2.0, .corrupt = 1};
    flo_access_desc acc[2] = {FLO_R(ia->hx), FLO_RW(ia->hy)};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_replicate_desc r = {0, 3, FLO_REPLICATE_MAJORITY, NULL, NULL};

    d.kernel = &kaxpy;
    d.access = acc;
    d.naccess = 2;
    d.args = &a;
    d.args_size = sizeof(a);
    atomic_store(&inner_status, flo_task_submit_replicated(
                                    flo_task_runtime(ctx), &d, &r, NULL));
}
static const flo_kernel kouter = {.name = "outer", .host = k_outer};

static void test_in_task(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 3);
    double x[N], y[N], want[N];
    inner_args ia;

    assert_non_null(rt);
    fill(x, y);
    memcpy(want, y, sizeof(y));
    axpy_host(want, x, 2.0);
    assert_int_equal(flo_data_register(rt, x, sizeof(x), &ia.hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, y, sizeof(y), &ia.hy), FLO_OK);
    atomic_store(&inner_status, 1);
    assert_int_equal(flo_submit(rt, NULL, .kernel = &kouter, FLO_ARGS(ia)),
                     FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&inner_status), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, ia.hx), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, ia.hy), FLO_OK);
    assert_memory_equal(y, want, sizeof(y));
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/*
 * Every refusal changes nothing: no task submitted (tasks_submitted),
 * no handle left (slots in use), the event not written. The last case
 * runs out of handles while making the private versions (the table is
 * capped through FLO__TEST_DATA_LIMIT): those made are given back.
 */
static void k_cuda_only(flo_task_ctx *ctx)
{
    (void)ctx;
}

static void test_refusals(void **state)
{
    (void)state;
    static const flo_kernel kcuda = {.name = "cuda_only", .cuda = k_cuda_only};
    static const flo_kernel knone = {.name = "none"};
    flo_runtime *rt, *other;
    double x[N], y[N];
    flo_data hx, hy, ho, stale;
    flo_access_desc acc[2], bad[2];
    flo_task_desc d = FLO_TASK_DESC_INIT, e;
    flo_replicate_desc r = {sizeof(r), 3, FLO_REPLICATE_MAJORITY, NULL, NULL};
    flo_replicate_desc q;
    const flo_event sentinel = {0x5151, 0x7272};
    flo_event ev = sentinel;
    axpy_args a = {.factor = 2.0};
    uint64_t sub0;
    long live0;
    flo_graph *g;

    setenv("FLO__TEST_DATA_LIMIT", "8", 1);
    rt = flot_rt(FLO_SCHED_WS, 3);
    unsetenv("FLO__TEST_DATA_LIMIT");
    other = flot_rt(FLO_SCHED_WS, 1);
    assert_non_null(rt);
    assert_non_null(other);
    fill(x, y);
    assert_int_equal(flo_data_register(rt, x, sizeof(x), &hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, y, sizeof(y), &hy), FLO_OK);
    assert_int_equal(flo_data_register(other, y, sizeof(y), &ho), FLO_OK);
    assert_int_equal(flo_data_alloc(rt, 8, &stale), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, stale), FLO_OK);
    acc[0] = FLO_R(hx);
    acc[1] = FLO_RW(hy);
    d.kernel = &kaxpy;
    d.access = acc;
    d.naccess = 2;
    d.args = &a;
    d.args_size = sizeof(a);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    sub0 = submitted(rt);
    live0 = live_handles(rt);

#define REFUSED(call, code)                                                    \
    do {                                                                       \
        ev = sentinel;                                                         \
        assert_int_equal((call), (code));                                      \
        assert_true(flo_event_equal(ev, sentinel));                            \
        assert_int_equal(submitted(rt), sub0);                                 \
        assert_int_equal(live_handles(rt), live0);                             \
    } while (0)

    /* NULL arguments and a malformed replication. */
    REFUSED(flo_task_submit_replicated(NULL, &d, &r, &ev), FLO_EINVAL);
    REFUSED(flo_task_submit_replicated(rt, NULL, &r, &ev), FLO_EINVAL);
    REFUSED(flo_task_submit_replicated(rt, &d, NULL, &ev), FLO_EINVAL);
    q = r;
    q.size = sizeof(r) + 8;
    REFUSED(flo_task_submit_replicated(rt, &d, &q, &ev), FLO_EINVAL);
    q = r;
    q.copies = 1;
    REFUSED(flo_task_submit_replicated(rt, &d, &q, &ev), FLO_EINVAL);
    q.copies = FLO_REPLICATE_MAX + 1;
    REFUSED(flo_task_submit_replicated(rt, &d, &q, &ev), FLO_EINVAL);
    q = r;
    q.vote = (flo_replicate_vote)7;
    REFUSED(flo_task_submit_replicated(rt, &d, &q, &ev), FLO_EINVAL);
    /* A pinned task. */
    e = d;
    e.on_device = FLO_DEVICE(0);
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_EINVAL);
    e = d;
    e.on_worker = FLO_WORKER(1);
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_EINVAL);
    /* What flo_task_submit refuses. */
    e = d;
    e.size = 3;
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_EINVAL);
    e = d;
    e.kernel = &knone;
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_EINVAL);
    e = d;
    e.naccess = -1;
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_EINVAL);
    e = d;
    e.access = bad;
    bad[0] = acc[0];
    bad[1] = acc[1];
    bad[1].mode = (flo_access)9;
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_EINVAL);
    bad[1] = FLO_RW(stale);
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_ESTALE);
    bad[1] = FLO_RW(ho);
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_EFOREIGN);
    bad[1] = FLO_RW(FLO_DATA_NULL);
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_EINVAL);
    e = d;
    e.kernel = &kcuda;
    REFUSED(flo_task_submit_replicated(rt, &e, &r, &ev), FLO_ENODEV);
    /* While recording a graph. */
    assert_int_equal(flo_graph_begin(rt, "g", 0, &g), FLO_OK);
    REFUSED(flo_task_submit_replicated(rt, &d, &r, &ev), FLO_ENOTSUP);
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);
    assert_int_equal(flo_graph_destroy(rt, g), FLO_OK);
    /* Out of handles: 8 at most, 2 in use, 16 private versions needed. */
    q = r;
    q.copies = FLO_REPLICATE_MAX;
    REFUSED(flo_task_submit_replicated(rt, &d, &q, &ev), FLO_ENOMEM);
    q.copies = 6; /* Exactly the 6 slots left. */
    assert_int_equal(flo_task_submit_replicated(rt, &d, &q, &ev), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, ev, 60000), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(live_handles(rt), live0);
#undef REFUSED

    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    assert_int_equal(flo_data_unregister(other, ho), FLO_OK);
    assert_int_equal(flo_finalize(other), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_validate_rejects_copy0),
        cmocka_unit_test(test_majority_one_corrupt),
        cmocka_unit_test(test_majority_none),
        cmocka_unit_test(test_rw_and_w_start),
        cmocka_unit_test(test_later_tasks_and_failed_copy),
        cmocka_unit_test(test_canceled_and_all_failed),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_in_task),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("scheduler_replicate", tests, NULL,
                                       NULL);
}
