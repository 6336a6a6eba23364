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

/* ---- A task with the most accesses ------------------------------------ */

static void k_sum64(flo_task_ctx *ctx)
{
    /* Buffers 0..62 are read, 63 gets their sum; each reader buffer i
     * is then incremented by the next task writing it. */
    int64_t sum = 0;
    for (int i = 0; i < FLO_TASK_MAX_ACCESS - 1; i++)
        sum += *(int64_t *)flo_task_buffer(ctx, i);
    *(int64_t *)flo_task_buffer(ctx, FLO_TASK_MAX_ACCESS - 1) = sum;
}
static const flo_kernel ksum64 = {"sum64", k_sum64, NULL};

static void k_inc(flo_task_ctx *ctx)
{
    int64_t *p = flo_task_buffer(ctx, 0);
    flot_sleep_us(50);
    *p += 1;
}
static const flo_kernel kinc = {"inc", k_inc, NULL};

static void test_max_accesses(void **s)
{
    (void)s;
    enum { N = FLO_TASK_MAX_ACCESS };
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 4);
    static int64_t v[N];
    flo_data d[N];
    flo_access_desc acc[N];
    assert_non_null(rt);
    for (int i = 0; i < N; i++) {
        v[i] = i;
        assert_int_equal(flo_data_register(rt, &v[i], 8, &d[i]), FLO_OK);
        acc[i].data = d[i];
        acc[i].mode = i == N - 1 ? FLO_WRITE : FLO_READ;
    }
    int64_t want = 0;
    for (int rep = 0; rep < 5; rep++) {
        /* Writers of every input first: the sum task waits for all. */
        for (int i = 0; i < N - 1; i++) {
            flo_access_desc w = {d[i], FLO_READ_WRITE};
            assert_int_equal(flot_submit(rt, &kinc, &w, 1, NULL, 0, NULL),
                             FLO_OK);
        }
        assert_int_equal(flot_submit(rt, &ksum64, acc, N, NULL, 0, NULL),
                         FLO_OK);
        want = 0;
        for (int i = 0; i < N - 1; i++)
            want += i + rep + 1;
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(flo_data_unregister(rt, d[i]), FLO_OK);
    assert_int_equal(v[N - 1], want);
    assert_int_equal(v[0], 5);
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
        cmocka_unit_test(test_max_accesses),
    };
    return cmocka_run_group_tests_name("scheduler_deps", tests, NULL, NULL);
}
