/*
 * scheduler_stress: many threads submitting at once on shared data, for
 * every policy; idle workers waking promptly after sleeping.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/scheduler/testutil.h"

#define NSHARED 8
#define NTHREADS 4

static void k_add(flo_task_ctx *ctx)
{
    const int64_t *a = flo_task_args(ctx, NULL);
    int64_t *p = flo_task_buffer(ctx, 0);
    *p += *a;
}
static const flo_kernel kadd = {"add", k_add, NULL};

/* buffer 0 (R) is copied into buffer 1 (W) plus the argument, and the
 * task checks that what it read is not torn. */
static atomic_long torn;
static void k_read(flo_task_ctx *ctx)
{
    const int64_t *src = flo_task_buffer(ctx, 0);
    int64_t *dst = flo_task_buffer(ctx, 1);
    int64_t v = src[0];
    if (src[1] != -v)
        atomic_fetch_add(&torn, 1);
    dst[0] += 1;
}
static const flo_kernel kread = {"read", k_read, NULL};

static void k_add_pair(flo_task_ctx *ctx)
{
    const int64_t *a = flo_task_args(ctx, NULL);
    int64_t *p = flo_task_buffer(ctx, 0);
    p[0] += *a;
    p[1] -= *a;
}
static const flo_kernel kadd_pair = {"add_pair", k_add_pair, NULL};

typedef struct sub_thread {
    flo_runtime *rt;
    flo_data *shared; /* NSHARED pair handles (int64[2]). */
    flo_data own;     /* This thread's counter of read tasks. */
    int idx;
    long n;
    int64_t expect[NSHARED]; /* What this thread added to each. */
    long nread;
    long errors;
    flo_event last;
} sub_thread;

static void *submitter(void *p)
{
    sub_thread *t = p;
    uint64_t seed = 1000 + (uint64_t)t->idx;
    for (long i = 0; i < t->n; i++) {
        uint64_t r = flot_rand(&seed);
        int h = (int)(r % NSHARED);
        flo_status st;
        if ((r >> 8) % 4 == 0) {
            flo_access_desc acc[2] = {{t->shared[h], FLO_READ},
                                      {t->own, FLO_READ_WRITE}};
            st = flot_submit(t->rt, &kread, acc, 2, NULL, 0, &t->last);
            t->nread++;
        } else {
            int64_t add = (int64_t)((r >> 16) % 1000);
            flo_access_desc acc = {t->shared[h], FLO_READ_WRITE};
            flo_task_desc d = FLO_TASK_DESC_INIT;
            d.kernel = &kadd_pair;
            d.access = &acc;
            d.naccess = 1;
            d.args = &add;
            d.args_size = sizeof(add);
            d.priority = (int)((r >> 32) % 3);
            st = flo_task_submit(t->rt, &d, &t->last);
            t->expect[h] += add;
        }
        if (st != FLO_OK)
            t->errors++;
        /* Now and then wait for one's own last task, while the others
         * keep submitting. */
        if (i % 10007 == 10006 && flo_event_wait(t->rt, t->last) != FLO_OK)
            t->errors++;
    }
    return NULL;
}

static void many_submitters(flo_sched_policy pol, int workers)
{
    flo_runtime *rt = flot_rt(pol, workers);
    static int64_t pairs[NSHARED][2];
    static int64_t own[NTHREADS];
    flo_data shared[NSHARED];
    sub_thread th[NTHREADS];
    pthread_t tid[NTHREADS];
    long n = flot_scaled(50000, 3000);

    assert_non_null(rt);
    atomic_store(&torn, 0);
    for (int h = 0; h < NSHARED; h++) {
        pairs[h][0] = pairs[h][1] = 0;
        assert_int_equal(
            flo_data_register(rt, pairs[h], sizeof(pairs[h]), &shared[h]),
            FLO_OK);
    }
    for (int i = 0; i < NTHREADS; i++) {
        memset(&th[i], 0, sizeof(th[i]));
        own[i] = 0;
        th[i].rt = rt;
        th[i].shared = shared;
        th[i].idx = i;
        th[i].n = n;
        assert_int_equal(flo_data_register(rt, &own[i], 8, &th[i].own), FLO_OK);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, submitter, &th[i]), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(tid[i], NULL);
    assert_int_equal(flo_wait_all(rt), FLO_OK);

    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(th[i].errors, 0);
        assert_int_equal(flo_data_unregister(rt, th[i].own), FLO_OK);
        assert_int_equal(own[i], th[i].nread);
    }
    for (int h = 0; h < NSHARED; h++) {
        int64_t want = 0;
        for (int i = 0; i < NTHREADS; i++)
            want += th[i].expect[h];
        assert_int_equal(flo_data_unregister(rt, shared[h]), FLO_OK);
        if (pairs[h][0] != want || pairs[h][1] != -want)
            fail_msg("%s: handle %d is (%lld, %lld), expected (%lld, %lld)",
                     flot_sched_name(pol), h, (long long)pairs[h][0],
                     (long long)pairs[h][1], (long long)want, (long long)-want);
    }
    assert_int_equal(atomic_load(&torn), 0);
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_submitted, (uint64_t)(NTHREADS * n));
    assert_int_equal(st.tasks_completed, (uint64_t)(NTHREADS * n));
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_submitters_eager(void **s)
{
    (void)s;
    many_submitters(FLO_SCHED_EAGER, 4);
}
static void test_submitters_ws(void **s)
{
    (void)s;
    many_submitters(FLO_SCHED_WS, 4);
}
static void test_submitters_locality(void **s)
{
    (void)s;
    many_submitters(FLO_SCHED_LOCALITY, 4);
}
static void test_submitters_one_worker(void **s)
{
    (void)s;
    many_submitters(FLO_SCHED_WS, 1);
    many_submitters(FLO_SCHED_EAGER, 1);
}

/* ---- Independent tasks from many threads, with data churn ---------- */

typedef struct churn_arg {
    flo_runtime *rt;
    long n;
    long errors;
    int64_t sum;
} churn_arg;

/* Each thread registers, uses and unregisters its own short-lived
 * handles while the others do the same. */
static void *churner(void *p)
{
    churn_arg *a = p;
    for (long i = 0; i < a->n; i++) {
        int64_t x = i;
        flo_data d;
        if (flo_data_register(a->rt, &x, 8, &d) != FLO_OK) {
            a->errors++;
            continue;
        }
        int64_t add = 2;
        for (int k = 0; k < 3; k++) {
            flo_access_desc acc = {d, FLO_READ_WRITE};
            if (flot_submit(a->rt, &kadd, &acc, 1, &add, sizeof(add), NULL) !=
                FLO_OK)
                a->errors++;
        }
        if (flo_data_unregister(a->rt, d) != FLO_OK)
            a->errors++;
        if (x != i + 6)
            a->errors++;
        a->sum += x;
    }
    return NULL;
}

static void test_handle_churn(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    long n = flot_scaled(5000, 500);
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 3);
        pthread_t tid[NTHREADS];
        churn_arg a[NTHREADS];
        assert_non_null(rt);
        for (int i = 0; i < NTHREADS; i++) {
            a[i] = (churn_arg){rt, n, 0, 0};
            assert_int_equal(pthread_create(&tid[i], NULL, churner, &a[i]), 0);
        }
        for (int i = 0; i < NTHREADS; i++) {
            pthread_join(tid[i], NULL);
            assert_int_equal(a[i].errors, 0);
            assert_int_equal(a[i].sum, n * (n - 1) / 2 + 6 * n);
        }
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/* ---- Idle workers wake up promptly ---------------------------------- */

static atomic_int woke;
static void k_mark(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_store(&woke, 1);
}
static const flo_kernel kmark = {"mark", k_mark, NULL};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void wake_latency(flo_sched_policy pol, int workers)
{
    enum { REPS = 20 };
    flo_runtime *rt = flot_rt(pol, workers);
    uint64_t lat[REPS];
    assert_non_null(rt);
    for (int r = 0; r < REPS; r++) {
        /* Long enough for every worker to go to sleep. */
        flot_sleep_us(50000);
        atomic_store(&woke, 0);
        uint64_t t0 = flot_now_ns();
        flo_event ev;
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &kmark;
        /* Half of the time on a given worker, which must be woken
         * itself. */
        d.on_worker = r % 2 ? FLO_WORKER(r % workers) : 0;
        assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
        while (!atomic_load(&woke) && flot_now_ns() - t0 < 5000000000ull)
            flot_sleep_us(20);
        lat[r] = flot_now_ns() - t0;
        assert_int_equal(atomic_load(&woke), 1);
        assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    }
    qsort(lat, REPS, sizeof(lat[0]), cmp_u64);
    /* Thresholds well above a healthy wake-up (tens of microseconds)
     * and well below a wake-up lost to a polling timeout. */
    double slack = flot_scale() < 1 ? 5 : 1;
    if ((double)lat[REPS / 2] > 20e6 * slack ||
        (double)lat[REPS - 1] > 500e6 * slack)
        fail_msg("%s, %d workers: wake-up latency median %.2f ms, "
                 "max %.2f ms",
                 flot_sched_name(pol), workers, (double)lat[REPS / 2] / 1e6,
                 (double)lat[REPS - 1] / 1e6);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_wake_after_idle(void **s)
{
    (void)s;
    wake_latency(FLO_SCHED_EAGER, 1);
    wake_latency(FLO_SCHED_EAGER, 4);
    wake_latency(FLO_SCHED_WS, 1);
    wake_latency(FLO_SCHED_WS, 4);
    wake_latency(FLO_SCHED_LOCALITY, 4);
}

/* Waiting on an event while its task completes and its record is
 * recycled must give the task's status, never an error. */
typedef struct waiter_arg {
    flo_runtime *rt;
    long n;
    long bad;
    int last_bad;
} waiter_arg;

static void *waiter(void *p)
{
    waiter_arg *a = p;
    for (long i = 0; i < a->n; i++) {
        flo_event ev;
        if (flot_submit(a->rt, &kmark, NULL, 0, NULL, 0, &ev) != FLO_OK) {
            a->bad++;
            continue;
        }
        /* Alternate a blocking wait and polling. */
        flo_status st = i % 2 ? flo_event_wait(a->rt, ev)
                              : flot_wait_timeout(a->rt, ev, 10000);
        if (st != FLO_OK) {
            a->bad++;
            a->last_bad = st;
        }
    }
    return NULL;
}

static void test_wait_while_recycling(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    long n = flot_scaled(30000, 5000);
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 2);
        pthread_t tid[2];
        waiter_arg a[2];
        assert_non_null(rt);
        for (int i = 0; i < 2; i++) {
            a[i] = (waiter_arg){rt, n, 0, 0};
            assert_int_equal(pthread_create(&tid[i], NULL, waiter, &a[i]), 0);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(tid[i], NULL);
        assert_int_equal(flo_finalize(rt), FLO_OK);
        for (int i = 0; i < 2; i++)
            if (a[i].bad)
                fail_msg("%s: %ld of %ld waits on a finished task returned "
                         "an error (last: %s)",
                         flot_sched_name(pols[p]), a[i].bad, n,
                         flo_status_str(a[i].last_bad));
    }
}

/* ---- Acquire and release racing with tasks on the same handle ------- */

typedef struct acq_arg {
    flo_runtime *rt;
    flo_data d;
    long n;
    long errors;
    int64_t added;
} acq_arg;

static void *acquirer(void *p)
{
    acq_arg *a = p;
    for (long i = 0; i < a->n; i++) {
        void *ptr;
        flo_access mode = i % 3 == 0 ? FLO_READ : FLO_READ_WRITE;
        if (flo_data_acquire(a->rt, a->d, mode, &ptr) != FLO_OK) {
            a->errors++;
            continue;
        }
        int64_t *v = ptr;
        if (v[1] != -v[0])
            a->errors++;
        if (mode == FLO_READ_WRITE) {
            v[0] += 3;
            v[1] -= 3;
            a->added += 3;
        }
        if (flo_data_release(a->rt, a->d) != FLO_OK)
            a->errors++;
    }
    return NULL;
}

static void *task_adder(void *p)
{
    acq_arg *a = p;
    for (long i = 0; i < a->n * 10; i++) {
        int64_t add = 1;
        flo_access_desc acc = {a->d, FLO_READ_WRITE};
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &kadd_pair;
        d.access = &acc;
        d.naccess = 1;
        d.args = &add;
        d.args_size = sizeof(add);
        if (flo_task_submit(a->rt, &d, NULL) != FLO_OK)
            a->errors++;
        else
            a->added += 1;
    }
    return NULL;
}

static void test_acquire_vs_tasks(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    long n = flot_scaled(3000, 300);
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 3);
        int64_t pair[2] = {0, 0};
        flo_data d;
        pthread_t tid[4];
        acq_arg a[4];
        assert_non_null(rt);
        assert_int_equal(flo_data_register(rt, pair, sizeof(pair), &d), FLO_OK);
        for (int i = 0; i < 4; i++) {
            a[i] = (acq_arg){rt, d, n, 0, 0};
            assert_int_equal(pthread_create(&tid[i], NULL,
                                            i < 2 ? acquirer : task_adder,
                                            &a[i]),
                             0);
        }
        int64_t want = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(tid[i], NULL);
            assert_int_equal(a[i].errors, 0);
            want += a[i].added;
        }
        assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
        assert_int_equal(pair[0], want);
        assert_int_equal(pair[1], -want);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/* ---- flo_wait_all and flo_event_wait from several threads at once ---- */

typedef struct ww_arg {
    flo_runtime *rt;
    flo_event gate;
    long n;
    long errors;
} ww_arg;

static atomic_int ww_gate_open;
static void k_ww_gate(flo_task_ctx *ctx)
{
    (void)ctx;
    uint64_t end = flot_now_ns() + 10000000000ull;
    while (!atomic_load(&ww_gate_open) && flot_now_ns() < end)
        flot_sleep_us(100);
}
static const flo_kernel kww_gate = {"gate", k_ww_gate, NULL};

static void *gate_waiter(void *p)
{
    ww_arg *a = p;
    if (flo_event_wait(a->rt, a->gate) != FLO_OK)
        a->errors++;
    if (!atomic_load(&ww_gate_open))
        a->errors += 1000; /* Returned before the task finished. */
    return NULL;
}

static void *submit_and_wait_all(void *p)
{
    ww_arg *a = p;
    for (long i = 0; i < a->n; i++) {
        if (flot_submit(a->rt, &kmark, NULL, 0, NULL, 0, NULL) != FLO_OK)
            a->errors++;
        if (i % 100 == 99 && flo_wait_all(a->rt) != FLO_OK)
            a->errors++;
    }
    if (flo_wait_all(a->rt) != FLO_OK)
        a->errors++;
    return NULL;
}

static void test_concurrent_waits(void **s)
{
    (void)s;
    enum { NW = 6 };
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 3);
    pthread_t tid[NW];
    ww_arg a[NW];
    flo_event gate;
    assert_non_null(rt);
    atomic_store(&ww_gate_open, 0);
    assert_int_equal(flot_submit(rt, &kww_gate, NULL, 0, NULL, 0, &gate),
                     FLO_OK);
    for (int i = 0; i < NW; i++) {
        a[i] = (ww_arg){rt, gate, flot_scaled(5000, 500), 0};
        assert_int_equal(
            pthread_create(&tid[i], NULL,
                           i < NW / 2 ? gate_waiter : submit_and_wait_all,
                           &a[i]),
            0);
    }
    flot_sleep_us(50000);
    atomic_store(&ww_gate_open, 1);
    for (int i = 0; i < NW; i++) {
        pthread_join(tid[i], NULL);
        if (a[i].errors)
            fail_msg("thread %d: %ld errors", i, a[i].errors);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Many live handles, registered from several threads -------------- */

typedef struct grow_arg {
    flo_runtime *rt;
    int n;
    long errors;
} grow_arg;

static void *grower(void *p)
{
    grow_arg *a = p;
    int64_t *v = calloc((size_t)a->n, sizeof(*v));
    flo_data *d = calloc((size_t)a->n, sizeof(*d));
    int64_t add = 5;
    for (int i = 0; i < a->n; i++) {
        v[i] = i;
        if (i % 2) {
            if (flo_data_register(a->rt, &v[i], 8, &d[i]) != FLO_OK)
                a->errors++;
        } else if (flo_data_alloc(a->rt, 8, &d[i]) != FLO_OK) {
            a->errors++;
        }
        flo_access_desc acc = {d[i], FLO_READ_WRITE};
        if (flot_submit(a->rt, &kadd, &acc, 1, &add, sizeof(add), NULL) !=
            FLO_OK)
            a->errors++;
    }
    for (int i = 0; i < a->n; i++) {
        if (i % 2 == 0) {
            void *ptr;
            if (flo_data_acquire(a->rt, d[i], FLO_READ, &ptr) != FLO_OK ||
                *(int64_t *)ptr != 5)
                a->errors++;
            flo_data_release(a->rt, d[i]);
        }
        if (flo_data_unregister(a->rt, d[i]) != FLO_OK)
            a->errors++;
        if (i % 2 && v[i] != i + 5)
            a->errors++;
    }
    free(v);
    free(d);
    return NULL;
}

static void test_handle_table_growth(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 3);
    pthread_t tid[NTHREADS];
    grow_arg a[NTHREADS];
    assert_non_null(rt);
    for (int rep = 0; rep < 2; rep++) {
        for (int i = 0; i < NTHREADS; i++) {
            a[i] = (grow_arg){rt, (int)flot_scaled(20000, 2000), 0};
            assert_int_equal(pthread_create(&tid[i], NULL, grower, &a[i]), 0);
        }
        for (int i = 0; i < NTHREADS; i++) {
            pthread_join(tid[i], NULL);
            assert_int_equal(a[i].errors, 0);
        }
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Bursts of independent tasks onto idle workers, many times ------
 * Each burst submits one task per worker after a random short pause
 * (workers spinning, announcing sleep or asleep); each task waits until
 * all have started (at most 200 ms). A burst where some task had to wait
 * means a sleeping worker was not woken for a ready task. */
static atomic_int bw_started, bw_late;
static int bw_n;
static void k_bw(flo_task_ctx *ctx)
{
    (void)ctx;
    uint64_t t0 = flot_now_ns();
    atomic_fetch_add(&bw_started, 1);
    while (atomic_load(&bw_started) < bw_n &&
           flot_now_ns() - t0 < flot_slack_ns(200000000ull))
        flot_sleep_us(20);
    if (atomic_load(&bw_started) < bw_n)
        atomic_fetch_add(&bw_late, 1);
}
static const flo_kernel kbw = {"burst", k_bw, NULL};

static void test_repeated_bursts(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    char msg[256] = "";
    size_t o = 0;
    for (int p = 0; p < 3; p++) {
        /* The window is narrow: many bursts (eager showed it most). */
        long reps = flot_scaled(p == 0 ? 4000 : 1000, 150);
        flo_runtime *rt = flot_rt(pols[p], 4);
        uint64_t seed = 5;
        long bad = 0, r;
        assert_non_null(rt);
        bw_n = 4;
        for (r = 0; r < reps; r++) {
            flot_sleep_us((long)(flot_rand(&seed) % 300));
            atomic_store(&bw_started, 0);
            atomic_store(&bw_late, 0);
            for (int i = 0; i < bw_n; i++)
                assert_int_equal(flot_submit(rt, &kbw, NULL, 0, NULL, 0, NULL),
                                 FLO_OK);
            assert_int_equal(flo_wait_all(rt), FLO_OK);
            bad += atomic_load(&bw_late) > 0;
            if (bad >= 5) {
                r++;
                break; /* Enough evidence; each costs 200 ms or more. */
            }
        }
        assert_int_equal(flo_finalize(rt), FLO_OK);
        if (bad)
            o += (size_t)snprintf(msg + o, sizeof(msg) - o,
                                  " %s: %ld of %ld bursts;",
                                  flot_sched_name(pols[p]), bad, r);
    }
    if (o)
        fail_msg("lost wake-ups (a ready task waited while a worker "
                 "slept):%s",
                 msg);
}

/* Bursts separated by idle pauses: each burst completes, none hangs. */
static void test_bursts(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 4);
        int64_t x = 0;
        flo_data d;
        assert_non_null(rt);
        assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
        for (int b = 0; b < 10; b++) {
            int64_t one = 1;
            for (int i = 0; i < 500; i++) {
                flo_access_desc acc = {d, FLO_READ_WRITE};
                if (i % 2)
                    assert_int_equal(flot_submit(rt, &kadd, &acc, 1, &one,
                                                 sizeof(one), NULL),
                                     FLO_OK);
                else
                    assert_int_equal(
                        flot_submit(rt, &kmark, NULL, 0, NULL, 0, NULL),
                        FLO_OK);
            }
            flot_sleep_us(b % 2 ? 30000 : 0);
            flo_event last;
            flo_access_desc acc = {d, FLO_READ_WRITE};
            assert_int_equal(
                flot_submit(rt, &kadd, &acc, 1, &one, sizeof(one), &last),
                FLO_OK);
            assert_int_equal(flot_wait_timeout(rt, last, 20000), FLO_OK);
        }
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
        assert_int_equal(x, 10 * 251);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submitters_eager),
        cmocka_unit_test(test_submitters_ws),
        cmocka_unit_test(test_submitters_locality),
        cmocka_unit_test(test_submitters_one_worker),
        cmocka_unit_test(test_handle_churn),
        cmocka_unit_test(test_wake_after_idle),
        cmocka_unit_test(test_bursts),
        cmocka_unit_test(test_wait_while_recycling),
        cmocka_unit_test(test_repeated_bursts),
        cmocka_unit_test(test_acquire_vs_tasks),
        cmocka_unit_test(test_concurrent_waits),
        cmocka_unit_test(test_handle_table_growth),
    };
    return cmocka_run_group_tests_name("scheduler_stress", tests, NULL, NULL);
}
