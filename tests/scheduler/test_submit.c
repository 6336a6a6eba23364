/*
 * scheduler_submit: task descriptors (valid and invalid), worker and
 * device affinity, priorities, submission from running tasks, waiting
 * inside a task, events (query, validity after recycling).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/scheduler/testutil.h"

static atomic_int count_runs;
static void k_count(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_fetch_add(&count_runs, 1);
}
static const flo_kernel kcount = {"count", k_count, NULL};

static uint64_t submitted(flo_runtime *rt)
{
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    return st.tasks_submitted;
}

/* ---- Invalid descriptors --------------------------------------------- */

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

static void k_cuda_only(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_fetch_add(&count_runs, 1000);
}

static void test_invalid_desc(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    int64_t x = 5;
    flo_data d, stale;
    static const flo_kernel knone = {"none", NULL, NULL};
    static const flo_kernel kcuda = {"cuda_only", NULL, k_cuda_only};
    static char big[FLO_TASK_MAX_ARGS + 1];
    /* Every entry names d: the most entries, one handle. */
    flo_access_desc *many = calloc(FLO_TASK_MAX_ACCESS + 1, sizeof(*many));
    static flo_event deps[FLO_TASK_MAX_DEPS + 1];
    flo_access_desc acc;
    flo_task_desc t;
    int arg = 1;

    assert_non_null(rt);
    assert_non_null(many);
    atomic_store(&count_runs, 0);
    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    assert_int_equal(flo_data_register(rt, &arg, sizeof(arg), &stale), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, stale), FLO_OK);
    for (int i = 0; i <= FLO_TASK_MAX_ACCESS; i++) {
        many[i].data = d;
        many[i].mode = FLO_READ;
    }

    flo_task_desc base = FLO_TASK_DESC_INIT;
    base.kernel = &kcount;

    expect_refused(rt, NULL, FLO_EINVAL, "NULL desc");
    assert_int_equal(flo_task_submit(NULL, &base, NULL), FLO_EINVAL);

    t = base;
    t.kernel = NULL;
    expect_refused(rt, &t, FLO_EINVAL, "no kernel");
    t = base;
    t.kernel = &knone;
    expect_refused(rt, &t, FLO_EINVAL, "no entry point");
    t = base;
    t.kernel = &kcuda;
    expect_refused(rt, &t, FLO_ENODEV, "CUDA-only kernel on host");

    t = base;
    t.naccess = -1;
    t.access = many;
    expect_refused(rt, &t, FLO_EINVAL, "naccess -1");
    t = base;
    t.naccess = FLO_TASK_MAX_ACCESS + 1;
    t.access = many;
    expect_refused(rt, &t, FLO_EINVAL, "naccess > max");
    t = base;
    t.naccess = 1;
    t.access = NULL;
    expect_refused(rt, &t, FLO_EINVAL, "access NULL");

    static const int bad_modes[] = {0, 4, 7, -1};
    for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
        char what[32];
        /* A good first entry and a bad second one: nothing must stay
         * registered from the first. */
        flo_access_desc two[2] = {{d, FLO_READ_WRITE},
                                  {d, (flo_access)bad_modes[i]}};
        t = base;
        t.access = two;
        t.naccess = 2;
        snprintf(what, sizeof(what), "access mode %d", bad_modes[i]);
        expect_refused(rt, &t, FLO_EINVAL, what);
    }

    acc.data = stale;
    acc.mode = FLO_READ;
    t = base;
    t.access = &acc;
    t.naccess = 1;
    expect_refused(rt, &t, FLO_ESTALE, "stale handle");
    flo_access_desc good_stale[2] = {{d, FLO_WRITE}, {stale, FLO_READ}};
    t.access = good_stale;
    t.naccess = 2;
    expect_refused(rt, &t, FLO_ESTALE, "good then stale handle");
    acc.data = FLO_DATA_NULL;
    t.access = &acc;
    t.naccess = 1;
    {
        flo_event ev = {0xabcdef, 0};
        uint64_t before = submitted(rt);
        assert_true(flo_task_submit(rt, &t, &ev) < 0);
        assert_int_equal(ev.id, 0xabcdef);
        assert_int_equal(submitted(rt), before);
    }

    t = base;
    t.args = NULL;
    t.args_size = 8;
    expect_refused(rt, &t, FLO_EINVAL, "args NULL with a size");
    t = base;
    t.args = big;
    t.args_size = FLO_TASK_MAX_ARGS + 1;
    expect_refused(rt, &t, FLO_EINVAL, "args too large");

    t = base;
    t.on_device = FLO_DEVICE(1);
    expect_refused(rt, &t, FLO_EINVAL, "device 1 of 1");
    t.on_device = -1;
    expect_refused(rt, &t, FLO_EINVAL, "on_device -1");
    t.on_device = FLO_DEVICE(1000);
    expect_refused(rt, &t, FLO_EINVAL, "device 1000");
    t = base;
    t.on_worker = FLO_WORKER(2);
    expect_refused(rt, &t, FLO_EINVAL, "worker 2 of 2");
    t.on_worker = -1;
    expect_refused(rt, &t, FLO_EINVAL, "on_worker -1");
    t.on_worker = FLO_WORKER(1 << 20);
    expect_refused(rt, &t, FLO_EINVAL, "worker huge");
    t.on_worker = FLO_WORKER(0);
    t.on_device = FLO_DEVICE(1);
    expect_refused(rt, &t, FLO_EINVAL, "good worker, device out of range");

    t = base;
    t.size = sizeof(flo_task_desc) - 8;
    expect_refused(rt, &t, FLO_EINVAL, "desc.size too small");
    t.size = sizeof(flo_task_desc) + 8;
    expect_refused(rt, &t, FLO_EINVAL, "desc.size too large");
    t.size = 1;
    expect_refused(rt, &t, FLO_EINVAL, "desc.size 1");

    /* An event of another runtime as a predecessor. */
    {
        flo_runtime *other = flot_rt(FLO_SCHED_DEFAULT, 1);
        flo_event oev;
        assert_non_null(other);
        assert_int_equal(flot_submit(other, &kcount, NULL, 0, NULL, 0, &oev),
                         FLO_OK);
        assert_int_equal(flo_event_wait(other, oev), FLO_OK);
        t = base;
        t.deps = &oev;
        t.ndeps = 1;
        expect_refused(rt, &t, FLO_EFOREIGN, "event of another runtime");
        assert_int_equal(flo_finalize(other), FLO_OK);
        atomic_store(&count_runs, 0);
    }

    t = base;
    t.ndeps = -1;
    t.deps = deps;
    expect_refused(rt, &t, FLO_EINVAL, "ndeps -1");
    t.ndeps = FLO_TASK_MAX_DEPS + 1;
    expect_refused(rt, &t, FLO_EINVAL, "ndeps > max");
    t.ndeps = 1;
    t.deps = NULL;
    expect_refused(rt, &t, FLO_EINVAL, "deps NULL");

    /* Nothing ran, and d has no phantom writer or reader: a writer task
     * and an acquire complete (a leftover dependency would hang). */
    flot_sleep_us(20000);
    assert_int_equal(atomic_load(&count_runs), 0);
    acc.data = d;
    acc.mode = FLO_READ_WRITE;
    flo_event ev;
    assert_int_equal(flot_submit(rt, &kcount, &acc, 1, NULL, 0, &ev), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, ev, 10000), FLO_OK);
    void *p;
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ_WRITE, &p), FLO_OK);
    assert_int_equal(*(int64_t *)p, 5);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(atomic_load(&count_runs), 1);

    /* The largest legal values are accepted. */
    t = base;
    t.access = many;
    t.naccess = FLO_TASK_MAX_ACCESS;
    t.args = big;
    t.args_size = FLO_TASK_MAX_ARGS;
    for (int i = 0; i < FLO_TASK_MAX_DEPS; i++)
        deps[i] = ev;
    t.deps = deps;
    t.ndeps = FLO_TASK_MAX_DEPS;
    t.on_worker = FLO_WORKER(1);
    t.on_device = FLO_DEVICE(0);
    assert_int_equal(flo_task_submit(rt, &t, &ev), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, ev, 10000), FLO_OK);
    /* Empty args with a size of zero and a NULL pointer are fine. */
    t = base;
    t.args = NULL;
    t.args_size = 0;
    t.access = NULL;
    t.naccess = 0;
    assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&count_runs), 3);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    free(many);
}

/* ---- Arguments and buffers as seen by the task ------------------------- */

static atomic_int args_bad;
static void k_args(flo_task_ctx *ctx)
{
    size_t sz = 0;
    const unsigned char *a = flo_task_args(ctx, &sz);
    unsigned seed = a ? a[0] : 0;
    for (size_t i = 0; i < sz; i++)
        if (a[i] != (unsigned char)(seed + i * 7))
            atomic_fetch_add(&args_bad, 1);
    if (flo_task_device(ctx) != 0 || flo_task_stream(ctx) != NULL)
        atomic_fetch_add(&args_bad, 1000);
    if (flo_task_runtime(ctx) == NULL)
        atomic_fetch_add(&args_bad, 100000);
    /* No buffers: out-of-range indices give NULL and 0. */
    if (flo_task_buffer(ctx, 0) != NULL || flo_task_buffer(ctx, -1) != NULL ||
        flo_task_buffer_size(ctx, 0) != 0)
        atomic_fetch_add(&args_bad, 10000000);
}
static const flo_kernel kargs = {"args", k_args, NULL};

static void test_args_copied(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    static unsigned char buf[FLO_TASK_MAX_ARGS];
    static const size_t sizes[] = {1, 7, 63, 64, 65, 4096, FLO_TASK_MAX_ARGS};
    assert_non_null(rt);
    atomic_store(&args_bad, 0);
    for (int rep = 0; rep < 20; rep++) {
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            for (size_t i = 0; i < sizes[k]; i++)
                buf[i] = (unsigned char)(rep + k + i * 7);
            assert_int_equal(
                flot_submit(rt, &kargs, NULL, 0, buf, sizes[k], NULL), FLO_OK);
            /* The blob was copied: scribbling now changes nothing. */
            memset(buf, 0xee, sizes[k]);
        }
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&args_bad), 0);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Worker and device affinity --------------------------------------- */

#define NAFF 4000
static int aff_ran_on[NAFF];
static int aff_dev[NAFF];

static void k_aff(flo_task_ctx *ctx)
{
    const int *id = flo_task_args(ctx, NULL);
    aff_ran_on[*id] = flo_task_worker(ctx);
    aff_dev[*id] = flo_task_device(ctx);
}
static const flo_kernel kaff = {"aff", k_aff, NULL};

static void affinity(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 4);
    int64_t x = 0;
    flo_data d;
    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    for (int i = 0; i < NAFF; i++) {
        flo_task_desc t = FLO_TASK_DESC_INIT;
        flo_access_desc acc = {d, i % 5 == 0 ? FLO_READ_WRITE : FLO_READ};
        aff_ran_on[i] = -100;
        t.kernel = &kaff;
        t.args = &i;
        t.args_size = sizeof(i);
        t.on_worker = i % 3 == 0 ? 0 : FLO_WORKER((i * 7) % 4);
        t.on_device = i % 2 ? FLO_DEVICE(0) : 0;
        t.access = &acc;
        t.naccess = i % 2;
        t.priority = i % 4;
        assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    int per_worker[4] = {0, 0, 0, 0};
    for (int i = 0; i < NAFF; i++) {
        if (aff_ran_on[i] < 0 || aff_ran_on[i] >= 4)
            fail_msg("%s: task %d ran on worker %d", flot_sched_name(pol), i,
                     aff_ran_on[i]);
        if (i % 3 != 0 && aff_ran_on[i] != (i * 7) % 4)
            fail_msg("%s: task %d for worker %d ran on %d",
                     flot_sched_name(pol), i, (i * 7) % 4, aff_ran_on[i]);
        assert_int_equal(aff_dev[i], 0);
        per_worker[aff_ran_on[i]]++;
    }
    for (int w = 0; w < 4; w++)
        assert_true(per_worker[w] > 0);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_affinity(void **s)
{
    (void)s;
    affinity(FLO_SCHED_EAGER);
    affinity(FLO_SCHED_WS);
    affinity(FLO_SCHED_LOCALITY);
}

/* ---- Priorities ------------------------------------------------------- */

static atomic_int gate_open, gate_started;
static void k_gate(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_store(&gate_started, 1);
    uint64_t end = flot_now_ns() + 20000000000ull;
    while (!atomic_load(&gate_open) && flot_now_ns() < end)
        flot_sleep_us(100);
}
static const flo_kernel kgate = {"gate", k_gate, NULL};

#define NPRIO 200
static atomic_int prio_clock;
static int prio_order[NPRIO];
static void k_prio(flo_task_ctx *ctx)
{
    const int *id = flo_task_args(ctx, NULL);
    prio_order[*id] = atomic_fetch_add(&prio_clock, 1);
}
static const flo_kernel kprio = {"prio", k_prio, NULL};

/* The same, submitted by a running task (onto its own worker). */
static int spawn_prio[NPRIO];
static void k_prio_spawner(flo_task_ctx *ctx)
{
    for (int i = 0; i < NPRIO; i++) {
        flo_task_desc t = FLO_TASK_DESC_INIT;
        t.kernel = &kprio;
        t.args = &i;
        t.args_size = sizeof(i);
        t.priority = spawn_prio[i];
        flo_task_submit(flo_task_runtime(ctx), &t, NULL);
    }
}
static const flo_kernel kprio_spawner = {"prio_spawner", k_prio_spawner, NULL};

static void priorities_from_task(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 1);
    assert_non_null(rt);
    atomic_store(&prio_clock, 0);
    for (int i = 0; i < NPRIO; i++) {
        spawn_prio[i] = (i * 5) % 3 - 1;
        prio_order[i] = -1;
    }
    assert_int_equal(flot_submit(rt, &kprio_spawner, NULL, 0, NULL, 0, NULL),
                     FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < NPRIO; i++) {
        assert_true(prio_order[i] >= 0);
        for (int j = 0; j < NPRIO; j++)
            if (spawn_prio[i] > spawn_prio[j] && prio_order[i] > prio_order[j])
                fail_msg("%s, from a task: task %d (priority %d) ran at "
                         "%d, after task %d (priority %d) at %d",
                         flot_sched_name(pol), i, spawn_prio[i], prio_order[i],
                         j, spawn_prio[j], prio_order[j]);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Open the gate task on the only worker, submit tasks of mixed
 * priorities behind it, open it: higher priorities run first. */
static void priorities(flo_sched_policy pol, bool three_levels)
{
    flo_runtime *rt = flot_rt(pol, 1);
    flo_event gev;
    assert_non_null(rt);
    atomic_store(&gate_open, 0);
    atomic_store(&gate_started, 0);
    atomic_store(&prio_clock, 0);
    assert_int_equal(flot_submit(rt, &kgate, NULL, 0, NULL, 0, &gev), FLO_OK);
    uint64_t end = flot_now_ns() + 10000000000ull;
    while (!atomic_load(&gate_started) && flot_now_ns() < end)
        flot_sleep_us(100);
    assert_int_equal(atomic_load(&gate_started), 1);

    int prio[NPRIO];
    for (int i = 0; i < NPRIO; i++) {
        flo_task_desc t = FLO_TASK_DESC_INIT;
        prio[i] = three_levels ? (i * 7) % 3 - 1 : (i % 2 ? 10 : 0);
        prio_order[i] = -1;
        t.kernel = &kprio;
        t.args = &i;
        t.args_size = sizeof(i);
        t.priority = prio[i];
        assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
    }
    atomic_store(&gate_open, 1);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < NPRIO; i++) {
        assert_true(prio_order[i] >= 0);
        for (int j = 0; j < NPRIO; j++)
            if (prio[i] > prio[j] && prio_order[i] > prio_order[j])
                fail_msg("%s: task %d (priority %d) ran at %d, after task "
                         "%d (priority %d) at %d",
                         flot_sched_name(pol), i, prio[i], prio_order[i], j,
                         prio[j], prio_order[j]);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_priority_eager(void **s)
{
    (void)s;
    priorities(FLO_SCHED_EAGER, false);
    priorities(FLO_SCHED_EAGER, true);
    priorities_from_task(FLO_SCHED_EAGER);
}
static void test_priority_ws(void **s)
{
    (void)s;
    priorities(FLO_SCHED_WS, false);
    priorities(FLO_SCHED_WS, true);
    priorities_from_task(FLO_SCHED_WS);
}

/* ---- Submission from running tasks ----------------------------------- */

#define NTREE 10000
static atomic_int tree_seen[NTREE];
static atomic_int tree_err;

static void k_tree(flo_task_ctx *ctx)
{
    const int *idp = flo_task_args(ctx, NULL);
    int id = *idp;
    static const flo_kernel self = {"tree", k_tree, NULL};
    atomic_fetch_add(&tree_seen[id], 1);
    for (int c = 2 * id + 1; c <= 2 * id + 2 && c < NTREE; c++) {
        flo_task_desc t = FLO_TASK_DESC_INIT;
        t.kernel = &self;
        t.args = &c;
        t.args_size = sizeof(c);
        if (flo_task_submit(flo_task_runtime(ctx), &t, NULL) != FLO_OK)
            atomic_fetch_add(&tree_err, 1);
    }
}

static void tree(flo_sched_policy pol)
{
    flo_runtime *rt = flot_rt(pol, 4);
    int root = 0;
    static const flo_kernel ktree = {"tree", k_tree, NULL};
    assert_non_null(rt);
    for (int i = 0; i < NTREE; i++)
        atomic_store(&tree_seen[i], 0);
    atomic_store(&tree_err, 0);
    assert_int_equal(
        flot_submit(rt, &ktree, NULL, 0, &root, sizeof(root), NULL), FLO_OK);
    /* flo_wait_all waits for what tasks submit too. */
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&tree_err), 0);
    for (int i = 0; i < NTREE; i++)
        if (atomic_load(&tree_seen[i]) != 1)
            fail_msg("%s: tree node %d ran %d times", flot_sched_name(pol), i,
                     atomic_load(&tree_seen[i]));
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_submitted, NTREE);
    assert_int_equal(st.tasks_completed, NTREE);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_recursive_submit(void **s)
{
    (void)s;
    tree(FLO_SCHED_EAGER);
    tree(FLO_SCHED_WS);
    tree(FLO_SCHED_LOCALITY);
}

/* Children that depend on data written by their parent's siblings. */
static void k_chain_child(flo_task_ctx *ctx)
{
    int64_t *p = flo_task_buffer(ctx, 0);
    *p += 1;
}
static const flo_kernel kchild = {"child", k_chain_child, NULL};
static flo_data chain_data;
static void k_spawner(flo_task_ctx *ctx)
{
    for (int i = 0; i < 100; i++) {
        flo_access_desc acc = {chain_data, FLO_READ_WRITE};
        if (flot_submit(flo_task_runtime(ctx), &kchild, &acc, 1, NULL, 0,
                        NULL) != FLO_OK)
            atomic_fetch_add(&tree_err, 1);
    }
}
static const flo_kernel kspawner = {"spawner", k_spawner, NULL};

static void test_submit_data_from_task(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 4);
    int64_t x = 0;
    assert_non_null(rt);
    atomic_store(&tree_err, 0);
    assert_int_equal(flo_data_register(rt, &x, 8, &chain_data), FLO_OK);
    for (int i = 0; i < 20; i++)
        assert_int_equal(flot_submit(rt, &kspawner, NULL, 0, NULL, 0, NULL),
                         FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&tree_err), 0);
    assert_int_equal(flo_data_unregister(rt, chain_data), FLO_OK);
    assert_int_equal(x, 2000);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Waiting inside a task -------------------------------------------- */

static flo_event dl_event;
static atomic_int dl_wait, dl_wait_all, dl_finalize, dl_wait_null;
static void k_deadlock(flo_task_ctx *ctx)
{
    flo_runtime *rt = flo_task_runtime(ctx);
    atomic_store(&dl_wait, flo_event_wait(rt, dl_event));
    atomic_store(&dl_wait_null, flo_event_wait(rt, FLO_EVENT_NULL));
    atomic_store(&dl_wait_all, flo_wait_all(rt));
    atomic_store(&dl_finalize, flo_finalize(rt));
}
static const flo_kernel kdeadlock = {"deadlock", k_deadlock, NULL};

static void test_wait_in_task(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    flo_event ev;
    assert_non_null(rt);
    atomic_store(&gate_open, 0);
    atomic_store(&gate_started, 0);
    /* An event that has not finished: waiting would hang for ever if the
     * call did not refuse. */
    assert_int_equal(flot_submit(rt, &kgate, NULL, 0, NULL, 0, &dl_event),
                     FLO_OK);
    assert_int_equal(flot_submit(rt, &kdeadlock, NULL, 0, NULL, 0, &ev),
                     FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, ev, 10000), FLO_OK);
    assert_int_equal(atomic_load(&dl_wait), FLO_EDEADLK);
    assert_int_equal(atomic_load(&dl_wait_all), FLO_EDEADLK);
    assert_int_equal(atomic_load(&dl_finalize), FLO_EDEADLK);
    /* Any wait from inside a task is refused, even for the null event
     * (which has always completed). */
    assert_int_equal(atomic_load(&dl_wait_null), FLO_EDEADLK);
    atomic_store(&gate_open, 1);
    assert_int_equal(flo_event_wait(rt, dl_event), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    /* The runtime survived the attempts. */
    atomic_store(&count_runs, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(flot_submit(rt, &kcount, NULL, 0, NULL, 0, NULL),
                         FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&count_runs), 100);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Ready tasks wake every sleeping worker they need ----------------- */

static atomic_int meet_started, meet_full;
static int meet_n;
static void k_meet(flo_task_ctx *ctx)
{
    (void)ctx;
    uint64_t end = flot_now_ns() + FLOT_GUARANTEE_NS;
    atomic_fetch_add(&meet_started, 1);
    while (atomic_load(&meet_started) < meet_n && flot_now_ns() < end)
        flot_sleep_us(50);
    if (atomic_load(&meet_started) >= meet_n)
        atomic_fetch_add(&meet_full, 1);
}
static const flo_kernel kmeet = {"meet", k_meet, NULL};

/* n workers asleep; n independent tasks submitted in a burst: each must
 * get a worker of its own (every task waits until all have started).
 * Returns the number of repetitions where they did not. */
static int wake_all(flo_sched_policy pol, int n)
{
    flo_runtime *rt = flot_rt(pol, n);
    int bad = 0;
    assert_non_null(rt);
    meet_n = n;
    for (int rep = 0; rep < 3; rep++) {
        flot_sleep_us(30000); /* Every worker goes to sleep. */
        atomic_store(&meet_started, 0);
        atomic_store(&meet_full, 0);
        for (int i = 0; i < n; i++)
            assert_int_equal(flot_submit(rt, &kmeet, NULL, 0, NULL, 0, NULL),
                             FLO_OK);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        bad += atomic_load(&meet_full) != n;
        if (bad)
            break; /* Each failure took a minute. */
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
    return bad;
}

static void test_burst_wakes_workers(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    char msg[256] = "";
    size_t o = 0;
    for (int p = 0; p < 3; p++) {
        for (int n = 2; n <= 4; n += 2) {
            int bad = wake_all(pols[p], n);
            if (bad)
                o += (size_t)snprintf(msg + o, sizeof(msg) - o,
                                      " %s/%d workers: %d of 3 bursts;",
                                      flot_sched_name(pols[p]), n, bad);
        }
    }
    if (o)
        fail_msg("a burst of n independent tasks did not wake n sleeping "
                 "workers:%s",
                 msg);
}

/* A ready task must not wait behind a busy worker while another
 * worker sleeps: the long task L waits (bounded) for the short task S,
 * submitted either by L itself or by the main thread while L runs. */
static atomic_int s_done, l_started, l_saw_s;
static void k_short(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_store(&s_done, 1);
}
static const flo_kernel kshort = {"short", k_short, NULL};

static void k_long(flo_task_ctx *ctx)
{
    const int *self_submit = flo_task_args(ctx, NULL);
    atomic_store(&l_started, 1);
    if (*self_submit)
        flot_submit(flo_task_runtime(ctx), &kshort, NULL, 0, NULL, 0, NULL);
    uint64_t end = flot_now_ns() + FLOT_GUARANTEE_NS;
    while (!atomic_load(&s_done) && flot_now_ns() < end)
        flot_sleep_us(50);
    atomic_store(&l_saw_s, atomic_load(&s_done));
}
static const flo_kernel klong = {"long", k_long, NULL};

static void test_busy_worker_not_blocking(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    char msg[256] = "";
    size_t o = 0;
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 2);
        assert_non_null(rt);
        for (int rep = 0; rep < 6; rep++) {
            int self_submit = rep % 2;
            flot_sleep_us(20000); /* Both workers go to sleep. */
            atomic_store(&s_done, 0);
            atomic_store(&l_started, 0);
            atomic_store(&l_saw_s, 0);
            assert_int_equal(flot_submit(rt, &klong, NULL, 0, &self_submit,
                                         sizeof(self_submit), NULL),
                             FLO_OK);
            if (!self_submit) {
                uint64_t end = flot_now_ns() + FLOT_GUARANTEE_NS;
                while (!atomic_load(&l_started) && flot_now_ns() < end)
                    flot_sleep_us(50);
                flot_sleep_us(20000); /* The other worker sleeps again. */
                assert_int_equal(
                    flot_submit(rt, &kshort, NULL, 0, NULL, 0, NULL), FLO_OK);
            }
            assert_int_equal(flo_wait_all(rt), FLO_OK);
            if (!atomic_load(&l_saw_s) && o < sizeof(msg)) {
                o += (size_t)snprintf(
                    msg + o, sizeof(msg) - o, " %s (S submitted %s);",
                    flot_sched_name(pols[p]), self_submit ? "by L" : "by main");
                break; /* Each failure took a minute. */
            }
        }
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
    if (o)
        fail_msg("a ready task waited for a busy worker while another "
                 "slept:%s",
                 msg);
}

/* A callback runs on a worker and may not wait either: waiting there
 * must be refused (FLO_EDEADLK), not hang the worker. */
static atomic_int cbw_wait_all, cbw_wait, cbw_done;
static flo_runtime *cbw_rt;
static flo_event cbw_gate;
static void cb_waits(void *user, flo_status st)
{
    (void)user;
    (void)st;
    atomic_store(&cbw_wait, flo_event_wait(cbw_rt, cbw_gate));
    atomic_store(&cbw_wait_all, flo_wait_all(cbw_rt));
    atomic_store(&cbw_done, 1);
}

static void test_wait_in_callback(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    flo_task_desc t = FLO_TASK_DESC_INIT;
    assert_non_null(rt);
    cbw_rt = rt;
    atomic_store(&gate_open, 0);
    atomic_store(&gate_started, 0);
    atomic_store(&cbw_done, 0);
    assert_int_equal(flot_submit(rt, &kgate, NULL, 0, NULL, 0, &cbw_gate),
                     FLO_OK);
    t.kernel = &kcount;
    t.callback = cb_waits;
    assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
    uint64_t end = flot_now_ns() + 5000000000ull;
    while (!atomic_load(&cbw_done) && flot_now_ns() < end)
        flot_sleep_us(200);
    atomic_store(&gate_open, 1);
    if (!atomic_load(&cbw_done)) {
        /* The worker is stuck in the callback: the runtime cannot be
         * finalized; leave it. */
        fail_msg("flo_event_wait / flo_wait_all inside a completion "
                 "callback blocked instead of returning FLO_EDEADLK");
    }
    assert_int_equal(atomic_load(&cbw_wait), FLO_EDEADLK);
    assert_int_equal(atomic_load(&cbw_wait_all), FLO_EDEADLK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Events ------------------------------------------------------------ */

static void k_fail(flo_task_ctx *ctx)
{
    flo_task_fail(ctx, FLO_ETASK, "remember me");
}
static const flo_kernel kfail = {"fail", k_fail, NULL};

static void test_event_query(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    flo_event g, after, bad;
    assert_non_null(rt);
    assert_int_equal(flo_event_query(rt, FLO_EVENT_NULL), FLO_OK);
    assert_int_equal(flo_event_wait(rt, FLO_EVENT_NULL), FLO_OK);
    atomic_store(&gate_open, 0);
    atomic_store(&gate_started, 0);
    assert_int_equal(flot_submit(rt, &kgate, NULL, 0, NULL, 0, &g), FLO_OK);
    flo_task_desc t = FLO_TASK_DESC_INIT;
    t.kernel = &kcount;
    t.deps = &g;
    t.ndeps = 1;
    assert_int_equal(flo_task_submit(rt, &t, &after), FLO_OK);
    assert_int_not_equal(g.id, 0);
    assert_int_not_equal(after.id, 0);
    assert_false(flo_event_equal(g, after));
    for (int i = 0; i < 20; i++) {
        assert_int_equal(flo_event_query(rt, g), FLO_INPROGRESS);
        assert_int_equal(flo_event_query(rt, after), FLO_INPROGRESS);
        flot_sleep_us(1000);
    }
    atomic_store(&gate_open, 1);
    assert_int_equal(flo_event_wait(rt, after), FLO_OK);
    assert_int_equal(flo_event_query(rt, g), FLO_OK);
    assert_int_equal(flo_event_query(rt, after), FLO_OK);
    assert_int_equal(flot_submit(rt, &kfail, NULL, 0, NULL, 0, &bad), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, bad, 10000), FLO_ETASK);
    assert_int_equal(flo_event_query(rt, bad), FLO_ETASK);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(flo_event_query(NULL, g), FLO_EINVAL);
    assert_int_equal(flo_event_wait(NULL, g), FLO_EINVAL);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_event_after_recycling(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    flo_event good, bad, later;
    char buf[64];
    long n = flot_scaled(200000, 20000);
    assert_non_null(rt);
    assert_int_equal(flot_submit(rt, &kcount, NULL, 0, NULL, 0, &good), FLO_OK);
    assert_int_equal(flot_submit(rt, &kfail, NULL, 0, NULL, 0, &bad), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    /* Many later tasks reuse the records of the first ones. */
    for (long i = 0; i < n; i++) {
        assert_int_equal(flot_submit(rt, &kcount, NULL, 0, NULL, 0, &later),
                         FLO_OK);
        if (i % 10000 == 9999)
            assert_int_equal(flo_wait_all(rt), FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_false(flo_event_equal(later, good));
    assert_false(flo_event_equal(later, bad));
    uint64_t t0 = flot_now_ns();
    assert_int_equal(flo_event_wait(rt, good), FLO_OK);
    assert_int_equal(flo_event_query(rt, good), FLO_OK);
    assert_int_equal(flo_event_wait(rt, bad), FLO_ETASK);
    assert_int_equal(flo_event_query(rt, bad), FLO_ETASK);
    assert_int_equal(flo_error_message(rt, bad, buf, sizeof(buf)), FLO_OK);
    assert_non_null(strstr(buf, "remember me"));
    /* A task depending on the old events: the failed one cancels it. */
    flo_task_desc t = FLO_TASK_DESC_INIT;
    flo_event e;
    t.kernel = &kcount;
    t.deps = &good;
    t.ndeps = 1;
    assert_int_equal(flo_task_submit(rt, &t, &e), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, e, 10000), FLO_OK);
    t.deps = &bad;
    assert_int_equal(flo_task_submit(rt, &t, &e), FLO_OK);
    assert_int_equal(flot_wait_timeout(rt, e, 10000), FLO_ECANCELED);
    /* Returned at once, not after a timeout. */
    assert_true(flot_now_ns() - t0 < 5000000000ull);
    /* The cancellation counts as an error of its own. */
    assert_int_equal(flo_wait_all(rt), FLO_ECANCELED);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_desc),
        cmocka_unit_test(test_args_copied),
        cmocka_unit_test(test_affinity),
        cmocka_unit_test(test_priority_eager),
        cmocka_unit_test(test_priority_ws),
        cmocka_unit_test(test_recursive_submit),
        cmocka_unit_test(test_submit_data_from_task),
        cmocka_unit_test(test_wait_in_task),
        cmocka_unit_test(test_wait_in_callback),
        cmocka_unit_test(test_burst_wakes_workers),
        cmocka_unit_test(test_busy_worker_not_blocking),
        cmocka_unit_test(test_event_query),
        cmocka_unit_test(test_event_after_recycling),
    };
    return cmocka_run_group_tests_name("scheduler_submit", tests, NULL, NULL);
}
