/*
 * scheduler_deps: ordering inferred from access modes (every combination
 * of modes between two and three tasks on one or two handles), the values
 * each task sees, and explicit event dependencies.
 *
 * Each task records a start and an end stamp from one atomic clock and
 * the values it read; the main thread checks, after flo_wait_all, that
 * every pair of conflicting tasks ran in submission order and that each
 * task saw what sequential execution would have shown it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/scheduler/testutil.h"

#define MAXT 64
#define NH 2

static atomic_long clk;
static long t_start[MAXT], t_end[MAXT];
static int64_t seen[MAXT][NH];
static atomic_int runs[MAXT];

typedef struct rec_args {
    int id;
    int nacc;
    int h[NH]; /* Handle index of access i. */
    flo_access mode[NH];
    long sleep_us;
} rec_args;

static void k_rec(flo_task_ctx *ctx)
{
    const rec_args *a = flo_task_args(ctx, NULL);
    int id = a->id;

    t_start[id] = atomic_fetch_add(&clk, 1);
    atomic_fetch_add(&runs[id], 1);
    if (a->sleep_us)
        flot_sleep_us(a->sleep_us);
    for (int i = 0; i < a->nacc; i++) {
        int64_t *p = flo_task_buffer(ctx, i);
        switch (a->mode[i]) {
        case FLO_READ: seen[id][a->h[i]] = *p; break;
        case FLO_WRITE: *p = 1000 * (id + 1) + a->h[i]; break;
        case FLO_READ_WRITE:
            seen[id][a->h[i]] = *p;
            *p = *p * 3 + id + 1;
            break;
        }
    }
    t_end[id] = atomic_fetch_add(&clk, 1);
}
static const flo_kernel krec = {"rec", k_rec, NULL};

static void reset_records(void)
{
    atomic_store(&clk, 0);
    for (int i = 0; i < MAXT; i++) {
        t_start[i] = t_end[i] = -1;
        seen[i][0] = seen[i][1] = INT64_MIN;
        atomic_store(&runs[i], 0);
    }
}

static bool writes(flo_access m)
{
    return m == FLO_WRITE || m == FLO_READ_WRITE;
}

/*
 * Run n tasks; task i accesses handle h with mode modes[i][h] (0: not at
 * all). Checks order and values against sequential execution.
 */
static void run_case(flo_runtime *rt, int n, flo_access modes[][NH],
                     const char *label)
{
    int64_t val[NH] = {7, 11};
    int64_t ref[NH] = {7, 11};
    int64_t ref_seen[MAXT][NH];
    flo_data d[NH];
    rec_args args[MAXT];

    reset_records();
    for (int h = 0; h < NH; h++)
        assert_int_equal(flo_data_register(rt, &val[h], 8, &d[h]), FLO_OK);

    for (int i = 0; i < n; i++) {
        flo_access_desc acc[NH];
        rec_args *a = &args[i];
        memset(a, 0, sizeof(*a));
        a->id = i;
        /* Earlier tasks sleep longer, so that a missing dependency shows
         * as a later task starting before an earlier one ended. */
        a->sleep_us = (n - i) * 400;
        for (int h = 0; h < NH; h++) {
            ref_seen[i][h] = INT64_MIN;
            if (!modes[i][h])
                continue;
            acc[a->nacc].data = d[h];
            acc[a->nacc].mode = modes[i][h];
            a->h[a->nacc] = h;
            a->mode[a->nacc] = modes[i][h];
            a->nacc++;
            /* Sequential reference. */
            switch (modes[i][h]) {
            case FLO_READ: ref_seen[i][h] = ref[h]; break;
            case FLO_WRITE: ref[h] = 1000 * (i + 1) + h; break;
            case FLO_READ_WRITE:
                ref_seen[i][h] = ref[h];
                ref[h] = ref[h] * 3 + i + 1;
                break;
            }
        }
        assert_int_equal(
            flot_submit(rt, &krec, acc, a->nacc, a, sizeof(*a), NULL), FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);

    for (int i = 0; i < n; i++) {
        if (atomic_load(&runs[i]) != 1)
            fail_msg("%s: task %d ran %d times", label, i,
                     atomic_load(&runs[i]));
        for (int h = 0; h < NH; h++)
            if (seen[i][h] != ref_seen[i][h])
                fail_msg("%s: task %d saw %lld on handle %d, expected %lld",
                         label, i, (long long)seen[i][h], h,
                         (long long)ref_seen[i][h]);
    }
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            bool conflict = false;
            for (int h = 0; h < NH; h++)
                if (modes[i][h] && modes[j][h] &&
                    (writes(modes[i][h]) || writes(modes[j][h])))
                    conflict = true;
            if (conflict && !(t_end[i] < t_start[j]))
                fail_msg("%s: task %d [%ld,%ld] overlaps or follows "
                         "task %d [%ld,%ld]",
                         label, i, t_start[i], t_end[i], j, t_start[j],
                         t_end[j]);
        }
    }
    for (int h = 0; h < NH; h++)
        assert_int_equal(flo_data_unregister(rt, d[h]), FLO_OK);
    for (int h = 0; h < NH; h++)
        if (val[h] != ref[h])
            fail_msg("%s: handle %d ends as %lld, expected %lld", label, h,
                     (long long)val[h], (long long)ref[h]);
}

static const flo_access mode3[3] = {FLO_READ, FLO_WRITE, FLO_READ_WRITE};
static const char *mode_name(flo_access m)
{
    return m == FLO_READ         ? "R"
           : m == FLO_WRITE      ? "W"
           : m == FLO_READ_WRITE ? "RW"
                                 : "-";
}

static void label_of(char *buf, size_t len, int n, flo_access modes[][NH])
{
    size_t o = 0;
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s(%s,%s)", i ? " " : "",
                              mode_name(modes[i][0]), mode_name(modes[i][1]));
}

static void run_policy_one_handle(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 4);
    flo_access modes[3][NH];
    char label[128];
    assert_non_null(rt);

    /* Two tasks, one handle. */
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
            memset(modes, 0, sizeof(modes));
            modes[0][0] = mode3[a];
            modes[1][0] = mode3[b];
            label_of(label, sizeof(label), 2, modes);
            run_case(rt, 2, modes, label);
        }
    }
    /* Three tasks, one handle. */
    for (int c = 0; c < 27; c++) {
        memset(modes, 0, sizeof(modes));
        modes[0][0] = mode3[c % 3];
        modes[1][0] = mode3[(c / 3) % 3];
        modes[2][0] = mode3[c / 9];
        label_of(label, sizeof(label), 3, modes);
        run_case(rt, 3, modes, label);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Modes of one task on two handles: 15 non-empty combinations. */
static void combo2(int c, flo_access out[NH])
{
    static const flo_access m4[4] = {(flo_access)0, FLO_READ, FLO_WRITE,
                                     FLO_READ_WRITE};
    c += 1; /* Skip (none, none). */
    out[0] = m4[c % 4];
    out[1] = m4[c / 4];
}

static void run_policy_two_handles(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 4);
    flo_access modes[3][NH];
    char label[128];
    uint64_t seed = 0x1234 + (uint64_t)pol;
    assert_non_null(rt);

    /* Every pair of tasks over two handles. */
    for (int a = 0; a < 15; a++) {
        for (int b = 0; b < 15; b++) {
            combo2(a, modes[0]);
            combo2(b, modes[1]);
            label_of(label, sizeof(label), 2, modes);
            run_case(rt, 2, modes, label);
        }
    }
    /* A sample of the 3375 triples. */
    long ntrip = flot_scaled(150, 30);
    for (long k = 0; k < ntrip; k++) {
        for (int i = 0; i < 3; i++)
            combo2((int)(flot_rand(&seed) % 15), modes[i]);
        label_of(label, sizeof(label), 3, modes);
        run_case(rt, 3, modes, label);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_one_handle_eager(void **s)
{
    (void)s;
    run_policy_one_handle(FLO_SCHED_EAGER);
}
static void test_one_handle_ws(void **s)
{
    (void)s;
    run_policy_one_handle(FLO_SCHED_WS);
}
static void test_one_handle_locality(void **s)
{
    (void)s;
    run_policy_one_handle(FLO_SCHED_LOCALITY);
}
static void test_two_handles_eager(void **s)
{
    (void)s;
    run_policy_two_handles(FLO_SCHED_EAGER);
}
static void test_two_handles_ws(void **s)
{
    (void)s;
    run_policy_two_handles(FLO_SCHED_WS);
}
static void test_two_handles_locality(void **s)
{
    (void)s;
    run_policy_two_handles(FLO_SCHED_LOCALITY);
}

/* Longer chains: W R R R RW R R W R ... on one handle, many readers in a
 * row between writers (exercises the reader lists). */
static void test_long_mixed_chain(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 4);
    flo_access modes[MAXT][NH];
    uint64_t seed = 99;
    assert_non_null(rt);
    for (int rep = 0; rep < 10; rep++) {
        memset(modes, 0, sizeof(modes));
        for (int i = 0; i < 40; i++) {
            uint64_t r = flot_rand(&seed) % 10;
            modes[i][0] = r < 6 ? FLO_READ : r < 8 ? FLO_READ_WRITE : FLO_WRITE;
            r = flot_rand(&seed) % 4;
            modes[i][1] = r == 0 ? (flo_access)0 : mode3[r - 1];
        }
        char label[32];
        snprintf(label, sizeof(label), "chain %d", rep);
        run_case(rt, 40, modes, label);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Readers run concurrently --------------------------------------- */

static atomic_int rr_started;
static atomic_int rr_saw_other;

static void k_reader_meet(flo_task_ctx *ctx)
{
    (void)ctx;
    uint64_t end = flot_now_ns() + flot_slack_ns(1000000000ull);
    atomic_fetch_add(&rr_started, 1);
    while (atomic_load(&rr_started) < 2 && flot_now_ns() < end)
        flot_sleep_us(50);
    if (atomic_load(&rr_started) >= 2)
        atomic_fetch_add(&rr_saw_other, 1);
}
static const flo_kernel kmeet = {"reader_meet", k_reader_meet, NULL};

static void readers_concurrent(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 2);
    int64_t x = 0;
    flo_data d;
    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    for (int rep = 0; rep < 3; rep++) {
        flo_access_desc acc = {d, FLO_READ};
        atomic_store(&rr_started, 0);
        atomic_store(&rr_saw_other, 0);
        assert_int_equal(flot_submit(rt, &kmeet, &acc, 1, NULL, 0, NULL),
                         FLO_OK);
        assert_int_equal(flot_submit(rt, &kmeet, &acc, 1, NULL, 0, NULL),
                         FLO_OK);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        if (atomic_load(&rr_saw_other) != 2)
            fail_msg("%s: two readers of one handle did not run at once "
                     "on 2 workers (rep %d)",
                     flot_sched_name(pol), rep);
    }
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_readers_concurrent(void **s)
{
    (void)s;
    readers_concurrent(FLO_SCHED_EAGER);
    readers_concurrent(FLO_SCHED_WS);
    readers_concurrent(FLO_SCHED_LOCALITY);
}

/* ---- One task naming a handle twice ---------------------------------- */

static int64_t dup_seen0;
static void k_dup(flo_task_ctx *ctx)
{
    const int64_t *r = flo_task_buffer(ctx, 0);
    int64_t *w = flo_task_buffer(ctx, 1);
    dup_seen0 = *r;
    *w += 1;
}
static const flo_kernel kdup = {"dup", k_dup, NULL};

static void test_same_handle_twice(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 4);
    int64_t x = 0;
    flo_data d;
    rec_args a;
    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    for (int i = 0; i < 20; i++) {
        flo_access_desc acc1 = {d, FLO_WRITE};
        memset(&a, 0, sizeof(a));
        a.id = 0;
        a.nacc = 1;
        a.mode[0] = FLO_WRITE;
        a.sleep_us = 2000;
        reset_records();
        assert_int_equal(flot_submit(rt, &krec, &acc1, 1, &a, sizeof(a), NULL),
                         FLO_OK);
        flo_access_desc acc2[2] = {{d, FLO_READ}, {d, FLO_READ_WRITE}};
        dup_seen0 = -1;
        assert_int_equal(flot_submit(rt, &kdup, acc2, 2, NULL, 0, NULL),
                         FLO_OK);
        assert_int_equal(flot_submit(rt, &kdup, acc2, 2, NULL, 0, NULL),
                         FLO_OK);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        assert_int_equal(dup_seen0, 1001);
        void *p;
        assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
        assert_int_equal(*(int64_t *)p, 1002);
        assert_int_equal(flo_data_release(rt, d), FLO_OK);
    }
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 1002);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Explicit event dependencies ------------------------------------- */

static void explicit_chain(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 4);
    flo_event ev[MAXT];
    rec_args a[MAXT];
    assert_non_null(rt);

    reset_records();
    /* A chain 0 <- 1 <- ... <- 31 through events only, then a fan-in
     * task 32 after every one of them and a task 33 after 32 and the
     * null event. */
    for (int i = 0; i < 32; i++) {
        flo_task_desc d = FLO_TASK_DESC_INIT;
        memset(&a[i], 0, sizeof(a[i]));
        a[i].id = i;
        a[i].sleep_us = i % 4 == 0 ? 2000 : 0;
        d.kernel = &krec;
        d.args = &a[i];
        d.args_size = sizeof(a[i]);
        d.deps = i ? &ev[i - 1] : NULL;
        d.ndeps = i ? 1 : 0;
        assert_int_equal(flo_task_submit(rt, &d, &ev[i]), FLO_OK);
    }
    flo_task_desc fan = FLO_TASK_DESC_INIT;
    memset(&a[32], 0, sizeof(a[32]));
    a[32].id = 32;
    fan.kernel = &krec;
    fan.args = &a[32];
    fan.args_size = sizeof(a[32]);
    fan.deps = ev;
    fan.ndeps = 32;
    assert_int_equal(flo_task_submit(rt, &fan, &ev[32]), FLO_OK);

    flo_event deps33[3] = {FLO_EVENT_NULL, ev[32], ev[0]};
    flo_task_desc t33 = FLO_TASK_DESC_INIT;
    memset(&a[33], 0, sizeof(a[33]));
    a[33].id = 33;
    t33.kernel = &krec;
    t33.args = &a[33];
    t33.args_size = sizeof(a[33]);
    t33.deps = deps33;
    t33.ndeps = 3;
    assert_int_equal(flo_task_submit(rt, &t33, &ev[33]), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev[33]), FLO_OK);
    /* Everything before 33 finished once 33 did. */
    for (int i = 0; i <= 33; i++) {
        assert_int_equal(atomic_load(&runs[i]), 1);
        assert_int_equal(flo_event_query(rt, ev[i]), FLO_OK);
    }
    for (int i = 1; i < 32; i++)
        if (!(t_end[i - 1] < t_start[i]))
            fail_msg("%s: chain task %d started before %d ended",
                     flot_sched_name(pol), i, i - 1);
    for (int i = 0; i < 32; i++)
        assert_true(t_end[i] < t_start[32]);
    assert_true(t_end[32] < t_start[33]);

    /* Dependencies on events that completed long ago, and duplicates. */
    reset_records();
    flo_event old[4] = {ev[3], ev[3], ev[33], FLO_EVENT_NULL};
    flo_task_desc t = FLO_TASK_DESC_INIT;
    memset(&a[0], 0, sizeof(a[0]));
    t.kernel = &krec;
    t.args = &a[0];
    t.args_size = sizeof(a[0]);
    t.deps = old;
    t.ndeps = 4;
    flo_event e;
    assert_int_equal(flo_task_submit(rt, &t, &e), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, e, 10000), FLO_OK);
    assert_int_equal(atomic_load(&runs[0]), 1);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_explicit_deps(void **s)
{
    (void)s;
    explicit_chain(FLO_SCHED_EAGER);
    explicit_chain(FLO_SCHED_WS);
    explicit_chain(FLO_SCHED_LOCALITY);
}

/* Explicit deps combined with data deps: W(a) -> [dep] R(b)... */
static void test_explicit_and_data(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 4);
    int64_t va = 0, vb = 0;
    flo_data da, db;
    rec_args a0, a1, a2;
    flo_event e0, e1;
    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &va, 8, &da), FLO_OK);
    assert_int_equal(flo_data_register(rt, &vb, 8, &db), FLO_OK);
    reset_records();

    /* 0: W(a), slow. 1: W(b), after 0 by event only. 2: R(b). */
    memset(&a0, 0, sizeof(a0));
    a0.id = 0;
    a0.nacc = 1;
    a0.h[0] = 0;
    a0.mode[0] = FLO_WRITE;
    a0.sleep_us = 20000;
    flo_access_desc acc0 = {da, FLO_WRITE};
    assert_int_equal(flot_submit(rt, &krec, &acc0, 1, &a0, sizeof(a0), &e0),
                     FLO_OK);
    memset(&a1, 0, sizeof(a1));
    a1.id = 1;
    a1.nacc = 1;
    a1.h[0] = 1;
    a1.mode[0] = FLO_WRITE;
    flo_access_desc acc1 = {db, FLO_WRITE};
    flo_task_desc d1 = FLO_TASK_DESC_INIT;
    d1.kernel = &krec;
    d1.access = &acc1;
    d1.naccess = 1;
    d1.args = &a1;
    d1.args_size = sizeof(a1);
    d1.deps = &e0;
    d1.ndeps = 1;
    assert_int_equal(flo_task_submit(rt, &d1, &e1), FLO_OK);
    memset(&a2, 0, sizeof(a2));
    a2.id = 2;
    a2.nacc = 1;
    a2.h[0] = 1;
    a2.mode[0] = FLO_READ;
    flo_access_desc acc2 = {db, FLO_READ};
    assert_int_equal(flot_submit(rt, &krec, &acc2, 1, &a2, sizeof(a2), NULL),
                     FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_true(t_end[0] < t_start[1]);
    assert_true(t_end[1] < t_start[2]);
    assert_int_equal(seen[2][1], 2001);
    assert_int_equal(flo_data_unregister(rt, da), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, db), FLO_OK);
    assert_int_equal(va, 1000);
    assert_int_equal(vb, 2001);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Many readers between writers ------------------------------------ */

static atomic_int readers_done;
static atomic_int reader_bad;
static int writer_saw[8];

typedef struct rw_args {
    int writer; /* Index of the writer, or -1 for a reader. */
    int64_t expect;
} rw_args;

static void k_rw(flo_task_ctx *ctx)
{
    const rw_args *a = flo_task_args(ctx, NULL);
    int64_t *p = flo_task_buffer(ctx, 0);
    if (a->writer >= 0) {
        writer_saw[a->writer] = atomic_load(&readers_done);
        flot_sleep_us(1000);
        *p += 1;
    } else {
        if (*p != a->expect)
            atomic_fetch_add(&reader_bad, 1);
        atomic_fetch_add(&readers_done, 1);
    }
}
static const flo_kernel krw = {"rw", k_rw, NULL};

/* W, then many readers, then W, ...: each writer starts after every
 * reader before it ended, each reader sees the value of the writer
 * before it. Half the time the readers have finished before the next
 * writer is submitted (completed readers must not be waited for). */
static void many_readers(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 4);
    int64_t x = 0;
    flo_data d;
    int nr = (int)flot_scaled(5000, 500);
    assert_non_null(rt);
    atomic_store(&readers_done, 0);
    atomic_store(&reader_bad, 0);
    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    for (int k = 0; k < 8; k++) {
        flo_access_desc w = {d, FLO_READ_WRITE};
        flo_access_desc r = {d, FLO_READ};
        rw_args a = {k, 0};
        writer_saw[k] = -1;
        assert_int_equal(flot_submit(rt, &krw, &w, 1, &a, sizeof(a), NULL),
                         FLO_OK);
        a.writer = -1;
        a.expect = k + 1;
        for (int i = 0; i < nr; i++)
            assert_int_equal(flot_submit(rt, &krw, &r, 1, &a, sizeof(a), NULL),
                             FLO_OK);
        if (k % 2)
            assert_int_equal(flo_wait_all(rt), FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int k = 0; k < 8; k++)
        if (writer_saw[k] != k * nr)
            fail_msg("%s: writer %d started after %d readers ended, "
                     "expected %d",
                     flot_sched_name(pol), k, writer_saw[k], k * nr);
    assert_int_equal(atomic_load(&reader_bad), 0);
    assert_int_equal(atomic_load(&readers_done), 8 * nr);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(x, 8);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_many_readers(void **s)
{
    (void)s;
    many_readers(FLO_SCHED_EAGER);
    many_readers(FLO_SCHED_WS);
    many_readers(FLO_SCHED_LOCALITY);
}

/* ---- A task with many buffers ----------------------------------------- */

/*
 * A task with NE = 1000 buffer entries over NHB = 350 handles (entry i
 * names handle (11 * i) % NHB, so each handle appears two or three times,
 * in scrambled address order). By handle k:
 *   k <  100: read only          - the task sums them into S;
 *   k <  200: read and write     - entries alternate FLO_READ / FLO_WRITE,
 *                                  the task adds 1000;
 *   k <  300: write only         - the task stores S + k;
 *   k <  350: read and write     - shared by every submitting thread (the
 *                                  task adds 1).
 * Around it, tasks on single handles: an increment of every handle before
 * it, a reader of each write-only handle and a doubling of each read-only
 * handle after it. The values they leave are those of sequential
 * execution only if the big task waited for and was waited for by each.
 */
#define NE 1000
#define NHB 350
#define NPRIV 300
#define MB_ROUNDS 5
#define MB_THREADS 4

static atomic_int mb_bad;
static int64_t mb_obs[MB_THREADS][MB_ROUNDS][100];

static inline int mb_handle(int i)
{
    return (11 * i) % NHB;
}

static inline flo_access mb_mode(int i)
{
    int k = mb_handle(i);
    if (k < 100)
        return FLO_READ;
    if (k < 200 || k >= NPRIV)
        return (i / NHB) % 2 ? FLO_WRITE : FLO_READ;
    return FLO_WRITE;
}

static void k_big(flo_task_ctx *ctx)
{
    int64_t *p[NHB] = {NULL};
    int64_t sum = 0;

    if (flo_task_buffer_size(ctx, NE - 1) != sizeof(int64_t) ||
        flo_task_buffer(ctx, NE) != NULL) {
        atomic_fetch_add(&mb_bad, 1);
        return;
    }
    for (int i = 0; i < NE; i++) {
        int64_t *q = FLO_TASK_BUFFER(ctx, i, int64_t);
        int k = mb_handle(i);
        /* Every entry of a handle gives the same buffer. */
        if (!q || flo_task_buffer_count(ctx, i, sizeof(int64_t)) != 1 ||
            (p[k] && p[k] != q)) {
            atomic_fetch_add(&mb_bad, 1);
            return;
        }
        p[k] = q;
    }
    for (int k = 0; k < 100; k++)
        sum += *p[k];
    for (int k = 100; k < 200; k++)
        *p[k] += 1000;
    for (int k = 200; k < NPRIV; k++)
        *p[k] = sum + k;
    for (int k = NPRIV; k < NHB; k++)
        *p[k] += 1;
}
static const flo_kernel kbig = {"big", k_big, NULL};

static void k_inc1(flo_task_ctx *ctx)
{
    *FLO_TASK_BUFFER(ctx, 0, int64_t) += 1;
}
static const flo_kernel kinc1 = {"inc1", k_inc1, NULL};

static void k_double(flo_task_ctx *ctx)
{
    *FLO_TASK_BUFFER(ctx, 0, int64_t) *= 2;
}
static const flo_kernel kdouble = {"double", k_double, NULL};

static void k_observe(flo_task_ctx *ctx)
{
    int64_t *dst = *FLO_TASK_ARGS(ctx, int64_t *);
    *dst = *FLO_TASK_BUFFER(ctx, 0, int64_t);
}
static const flo_kernel kobserve = {"observe", k_observe, NULL};

typedef struct mb_thread {
    flo_runtime *rt;
    int id;
    flo_data h[NHB]; /* Private handles, then the shared ones. */
    int nerr;        /* Submissions refused. */
} mb_thread;

static void *mb_submitter(void *arg)
{
    mb_thread *m = arg;
    flo_access_desc acc[NE];

    for (int i = 0; i < NE; i++) {
        acc[i].data = m->h[mb_handle(i)];
        acc[i].mode = mb_mode(i);
    }
    for (int r = 0; r < MB_ROUNDS; r++) {
        for (int k = 0; k < NHB; k++)
            m->nerr += flo_submit(m->rt, NULL, .kernel = &kinc1,
                                  FLO_ACCESS(FLO_RW(m->h[k]))) != FLO_OK;
        m->nerr += flo_submit(m->rt, NULL, .kernel = &kbig, .access = acc,
                              .naccess = NE) != FLO_OK;
        for (int j = 0; j < 100; j++) {
            int64_t *dst = &mb_obs[m->id][r][j];
            m->nerr += flo_submit(m->rt, NULL, .kernel = &kobserve,
                                  FLO_ACCESS(FLO_R(m->h[200 + j])),
                                  FLO_ARGS(dst)) != FLO_OK;
            m->nerr += flo_submit(m->rt, NULL, .kernel = &kdouble,
                                  FLO_ACCESS(FLO_RW(m->h[j]))) != FLO_OK;
        }
    }
    return NULL;
}

static void many_buffers(flo_sched_policy pol, int nthreads)
{
    flo_runtime *rt = flot_rt(pol, 4);
    static int64_t priv[MB_THREADS][NPRIV], shared[NHB - NPRIV];
    static mb_thread th[MB_THREADS];
    pthread_t tid[MB_THREADS];

    assert_non_null(rt);
    atomic_store(&mb_bad, 0);
    memset(mb_obs, 0xff, sizeof(mb_obs));
    for (int k = NPRIV; k < NHB; k++) {
        shared[k - NPRIV] = 0;
        assert_int_equal(
            flo_data_register(rt, &shared[k - NPRIV], 8, &th[0].h[k]), FLO_OK);
    }
    for (int t = 0; t < nthreads; t++) {
        th[t].rt = rt;
        th[t].id = t;
        th[t].nerr = 0;
        for (int k = 0; k < NPRIV; k++) {
            priv[t][k] = k + 1000 * t;
            assert_int_equal(flo_data_register(rt, &priv[t][k], 8, &th[t].h[k]),
                             FLO_OK);
        }
        for (int k = NPRIV; k < NHB; k++)
            th[t].h[k] = th[0].h[k];
    }
    for (int t = 0; t < nthreads; t++)
        assert_int_equal(pthread_create(&tid[t], NULL, mb_submitter, &th[t]),
                         0);
    for (int t = 0; t < nthreads; t++)
        pthread_join(tid[t], NULL);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int t = 0; t < nthreads; t++) {
        assert_int_equal(th[t].nerr, 0);
        for (int k = 0; k < NHB; k++)
            if (k < NPRIV || t == 0)
                assert_int_equal(flo_data_unregister(rt, th[t].h[k]), FLO_OK);
    }
    assert_int_equal(atomic_load(&mb_bad), 0);

    /* Sequential execution, thread by thread (their private handles do
     * not interact; the shared ones only add). */
    for (int t = 0; t < nthreads; t++) {
        int64_t v[NPRIV];
        for (int k = 0; k < NPRIV; k++)
            v[k] = k + 1000 * t;
        for (int r = 0; r < MB_ROUNDS; r++) {
            int64_t sum = 0;
            for (int k = 0; k < NPRIV; k++)
                v[k] += 1;
            for (int k = 0; k < 100; k++)
                sum += v[k];
            for (int k = 100; k < 200; k++)
                v[k] += 1000;
            for (int k = 200; k < NPRIV; k++)
                v[k] = sum + k;
            for (int j = 0; j < 100; j++) {
                if (mb_obs[t][r][j] != v[200 + j])
                    fail_msg("%s, %d threads: thread %d round %d: the "
                             "reader of handle %d saw %lld, expected %lld",
                             flot_sched_name(pol), nthreads, t, r, 200 + j,
                             (long long)mb_obs[t][r][j], (long long)v[200 + j]);
                v[j] *= 2;
            }
        }
        for (int k = 0; k < NPRIV; k++)
            if (priv[t][k] != v[k])
                fail_msg("%s, %d threads: thread %d handle %d is %lld, "
                         "expected %lld",
                         flot_sched_name(pol), nthreads, t, k,
                         (long long)priv[t][k], (long long)v[k]);
    }
    for (int k = NPRIV; k < NHB; k++)
        assert_int_equal(shared[k - NPRIV], 2 * nthreads * MB_ROUNDS);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_many_buffers(void **s)
{
    (void)s;
    many_buffers(FLO_SCHED_EAGER, 1);
    many_buffers(FLO_SCHED_WS, 1);
    many_buffers(FLO_SCHED_LOCALITY, 1);
}

/* Several threads submit 1000-buffer tasks that share 50 handles: each
 * submission takes effect atomically on all of them (no cycle, no lost
 * update; TSan sees every pair of conflicting tasks ordered). */
static void test_many_buffers_threads(void **s)
{
    (void)s;
    many_buffers(FLO_SCHED_WS, MB_THREADS);
    many_buffers(FLO_SCHED_LOCALITY, MB_THREADS);
}

/* ---- Merged modes order later tasks, at every size --------------------- */

/*
 * Task A names handle h twice, once read and once written (first or
 * last), among n entries on three read-only padding handles, and holds
 * its worker until the gate opens. A reader B of h submitted after it
 * must not run before A finished, whatever n: B still pending while A is
 * held is a guarantee (B never can run then), not a timing.
 */
static atomic_int mm_gate, mm_started;
static int64_t mm_saw;

static void k_mm_writer(flo_task_ctx *ctx)
{
    const int *w = FLO_TASK_ARGS(ctx, int); /* Index of the write entry. */
    int64_t *p = w ? FLO_TASK_BUFFER(ctx, *w, int64_t) : NULL;
    uint64_t end = flot_now_ns() + FLOT_GUARANTEE_NS;
    atomic_store(&mm_started, 1);
    while (!atomic_load(&mm_gate) && flot_now_ns() < end)
        flot_sleep_us(100);
    if (p)
        *p += 1;
}
static const flo_kernel kmm_writer = {"mm_writer", k_mm_writer, NULL};

static void k_mm_reader(flo_task_ctx *ctx)
{
    mm_saw = *FLO_TASK_BUFFER(ctx, 0, int64_t);
}
static const flo_kernel kmm_reader = {"mm_reader", k_mm_reader, NULL};

static void test_merged_modes_order(void **s)
{
    static const int sizes[] = {2, 4, 5, 16, 17, 100};
    static flo_access_desc acc[100];
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    int64_t x = 0, pad[3] = {0, 0, 0}, expect = 0;
    flo_data h, hp[3];
    (void)s;

    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &x, 8, &h), FLO_OK);
    for (int k = 0; k < 3; k++)
        assert_int_equal(flo_data_register(rt, &pad[k], 8, &hp[k]), FLO_OK);
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
        for (int write_last = 0; write_last < 2; write_last++) {
            int n = sizes[z], w = write_last ? n - 1 : 0;
            flo_event a, b;
            for (int i = 0; i < n; i++)
                acc[i] = FLO_R(hp[i % 3]);
            acc[w] = FLO_W(h);
            acc[write_last ? 0 : n - 1] = FLO_R(h);
            atomic_store(&mm_gate, 0);
            atomic_store(&mm_started, 0);
            mm_saw = -1;
            assert_int_equal(flo_submit(rt, &a, .kernel = &kmm_writer,
                                        .access = acc, .naccess = n,
                                        FLO_ARGS(w)),
                             FLO_OK);
            uint64_t end = flot_now_ns() + FLOT_GUARANTEE_NS;
            while (!atomic_load(&mm_started) && flot_now_ns() < end)
                flot_sleep_us(100);
            assert_int_equal(atomic_load(&mm_started), 1);
            assert_int_equal(
                flo_submit(rt, &b, .kernel = &kmm_reader, FLO_ACCESS(FLO_R(h))),
                FLO_OK);
            flot_sleep_us(20000); /* Room for a wrongly free B to run. */
            if (flo_event_query(rt, b) != FLO_INPROGRESS) {
                atomic_store(&mm_gate, 1);
                fail_msg("%d entries, write entry %d: a reader of the "
                         "handle ran while the task writing it was held",
                         n, w);
            }
            atomic_store(&mm_gate, 1);
            assert_int_equal(flo_event_wait(rt, b), FLO_OK);
            assert_int_equal(flo_event_wait(rt, a), FLO_OK);
            assert_int_equal(mm_saw, ++expect); /* A's write, seen by B. */
        }
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    for (int k = 0; k < 3; k++)
        assert_int_equal(flo_data_unregister(rt, hp[k]), FLO_OK);
    assert_int_equal(x, 12);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Repeated handles, any count --------------------------------------- */

/*
 * Tasks of 1 to 40 entries (across the sizes where the entries live in
 * the record or outside it, and where duplicates are found by scanning or
 * by sorting) naming handles of a pool of 6, each with a random mode. A
 * task applies to each handle it names, once, the effect of the union of
 * its modes: read and write - add 1; write only - store -(task + 1); read
 * only - record the value. Sequential execution of the same program gives
 * the values every task must see and the final ones.
 */
#define RD_POOL 6
#define RD_MAXE 40
#define RD_TASKS 400

typedef struct rd_args {
    int id, n;
    int8_t h[RD_MAXE];
    int8_t mode[RD_MAXE];
} rd_args;

static int64_t rd_seen[RD_TASKS][RD_POOL];
static atomic_int rd_bad;

static unsigned rd_union(const rd_args *a, int k)
{
    unsigned m = 0;
    for (int i = 0; i < a->n; i++)
        if (a->h[i] == k)
            m |= (unsigned)a->mode[i];
    return m;
}

static void rd_apply(const rd_args *a, int64_t *const p[RD_POOL],
                     int64_t seen[RD_POOL])
{
    for (int k = 0; k < RD_POOL; k++) {
        unsigned m = rd_union(a, k);
        if (m == FLO_READ_WRITE)
            *p[k] += 1;
        else if (m == FLO_WRITE)
            *p[k] = -(a->id + 1);
        else if (m == FLO_READ)
            seen[k] = *p[k];
    }
}

static void k_rd(flo_task_ctx *ctx)
{
    const rd_args *a = FLO_TASK_ARGS(ctx, rd_args);
    int64_t *p[RD_POOL] = {NULL};

    if (!a) {
        atomic_fetch_add(&rd_bad, 1);
        return;
    }
    for (int i = 0; i < a->n; i++) {
        int64_t *q = FLO_TASK_BUFFER(ctx, i, int64_t);
        if (!q || (p[a->h[i]] && p[a->h[i]] != q)) {
            atomic_fetch_add(&rd_bad, 1);
            return;
        }
        p[a->h[i]] = q;
    }
    rd_apply(a, p, rd_seen[a->id]);
}
static const flo_kernel krd = {"rd", k_rd, NULL};

static void test_random_duplicates(void **s)
{
    static const flo_access modes[] = {FLO_READ, FLO_WRITE, FLO_READ_WRITE};
    static rd_args args[RD_TASKS];
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 4);
    int64_t v[RD_POOL] = {0}, sim[RD_POOL] = {0};
    int64_t *simp[RD_POOL];
    flo_data h[RD_POOL];
    uint64_t seed = 42;
    (void)s;

    assert_non_null(rt);
    atomic_store(&rd_bad, 0);
    for (int k = 0; k < RD_POOL; k++) {
        simp[k] = &sim[k];
        assert_int_equal(flo_data_register(rt, &v[k], 8, &h[k]), FLO_OK);
    }
    for (int t = 0; t < RD_TASKS; t++) {
        rd_args *a = &args[t];
        flo_access_desc acc[RD_MAXE];
        a->id = t;
        a->n = 1 + (int)(flot_rand(&seed) % RD_MAXE);
        for (int i = 0; i < a->n; i++) {
            a->h[i] = (int8_t)(flot_rand(&seed) % RD_POOL);
            a->mode[i] = (int8_t)modes[flot_rand(&seed) % 3];
            acc[i].data = h[a->h[i]];
            acc[i].mode = (flo_access)a->mode[i];
        }
        for (int k = 0; k < RD_POOL; k++)
            rd_seen[t][k] = INT64_MIN;
        assert_int_equal(flo_submit(rt, NULL, .kernel = &krd, .access = acc,
                                    .naccess = a->n, FLO_ARGS(*a)),
                         FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int k = 0; k < RD_POOL; k++)
        assert_int_equal(flo_data_unregister(rt, h[k]), FLO_OK);
    assert_int_equal(atomic_load(&rd_bad), 0);
    for (int t = 0; t < RD_TASKS; t++) {
        int64_t want[RD_POOL];
        for (int k = 0; k < RD_POOL; k++)
            want[k] = INT64_MIN;
        rd_apply(&args[t], simp, want);
        for (int k = 0; k < RD_POOL; k++)
            if (rd_seen[t][k] != want[k])
                fail_msg("task %d (%d entries): handle %d read %lld, "
                         "expected %lld",
                         t, args[t].n, k, (long long)rd_seen[t][k],
                         (long long)want[k]);
    }
    for (int k = 0; k < RD_POOL; k++)
        assert_int_equal(v[k], sim[k]);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_handle_eager),
        cmocka_unit_test(test_one_handle_ws),
        cmocka_unit_test(test_one_handle_locality),
        cmocka_unit_test(test_two_handles_eager),
        cmocka_unit_test(test_two_handles_ws),
        cmocka_unit_test(test_two_handles_locality),
        cmocka_unit_test(test_long_mixed_chain),
        cmocka_unit_test(test_readers_concurrent),
        cmocka_unit_test(test_same_handle_twice),
        cmocka_unit_test(test_explicit_deps),
        cmocka_unit_test(test_explicit_and_data),
        cmocka_unit_test(test_many_readers),
        cmocka_unit_test(test_many_buffers),
        cmocka_unit_test(test_many_buffers_threads),
        cmocka_unit_test(test_random_duplicates),
        cmocka_unit_test(test_merged_modes_order),
    };
    return cmocka_run_group_tests_name("scheduler_deps", tests, NULL, NULL);
}
