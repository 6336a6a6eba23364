/*
 * scheduler_resilience: fault injection (FLO_FAULTS rules,
 * flo_fault_inject), retries after FLO_EAGAIN with read-write buffers
 * restored, random graphs of 10,000 tasks with faults injected at random
 * points (bit for bit equal to the fault-free run with retries; the first
 * error reported and nothing hung without), the refusals of the
 * resilience calls. Host workers; tests/device/test_cuda_resilience.c
 * loses GPUs.
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

#include "tests/scheduler/resil_dag.h"
#include "tests/scheduler/testutil.h"

static const flo_kernel krd = {"rd", rd_host, NULL};

static flo_runtime *rt_faults(flo_sched_policy p, int workers, const char *spec)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.host_workers = workers;
    cfg.sched = p;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.ignore_env = 1;
    cfg.faults = spec;
    if (flo_init(&cfg, &rt) != FLO_OK)
        return NULL;
    return rt;
}

/* ---- The rule language -------------------------------------------------- */

static void test_fault_spec(void **state)
{
    static const char *const good[] = {
        "",
        "seed=7",
        "task:kernel=gemm,nth=100,error=transient",
        " seed = 3 ; task : frac=0.5 , error = fail ;",
        "task:nth=2,every=3,error=transient,times=4",
        "device:dev=1,at_task=500",
        "device:dev=2,after_ms=20",
        "coll:rank=1,nth=3,action=stall,ms=50",
        "coll:nth=1,every=2,action=error",
        "rank:rank=2,at_coll=5",
        "task:kernel=a,nth=1,error=device;device:dev=3,at_task=1",
    };
    static const char *const bad[] = {
        "seed=-1",
        "seed=x",
        "task:",
        "task:nth=0",
        "task:kernel=a",
        "task:nth=1,frac=0.5",
        "task:frac=1.5",
        "task:every=2",
        "task:nth=1,error=boom",
        "task:nth=1,times=0",
        "device:at_task=3",
        "device:dev=0,at_task=3",
        "device:dev=1",
        "device:dev=1,at_task=2,after_ms=3",
        "coll:rank=1",
        "coll:nth=1,action=explode",
        "rank:rank=1",
        "rank:rank=1,at_coll=2,ms=5",
        "disk:nth=1",
        "task:nth=1,dev=2",
        "task:nth=1;;bogus",
    };
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    (void)state;
    assert_non_null(rt);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (flo_fault_inject(rt, good[i]) != FLO_OK)
            fail_msg("refused a valid rule: '%s'", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (flo_fault_inject(rt, bad[i]) != FLO_EINVAL)
            fail_msg("accepted an invalid rule: '%s'", bad[i]);
    }
    assert_int_equal(flo_fault_inject(NULL, "seed=1"), FLO_EINVAL);
    assert_int_equal(flo_fault_inject(rt, NULL), FLO_EINVAL);
    assert_int_equal(flo_fault_clear(NULL), FLO_EINVAL);
    assert_int_equal(flo_fault_clear(rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    /* A bad rule in the configuration refuses the runtime. */
    assert_null(rt_faults(FLO_SCHED_WS, 2, "task:nth=0"));
    rt = rt_faults(FLO_SCHED_WS, 2, "task:kernel=none,nth=1");
    assert_non_null(rt);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Retries ------------------------------------------------------------- */

static atomic_int attempts;

typedef struct rargs {
    int fail_first; /* Attempts that corrupt the buffer, then fail. */
    flo_status code;
} rargs;

/* Corrupts its buffer on its first fail_first attempts, then reports
 * code; else adds 1 to each word. */
static void k_flaky(flo_task_ctx *ctx)
{
    const rargs *a = flo_task_args(ctx, NULL);
    int64_t *v = flo_task_buffer(ctx, 0);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);
    int k = atomic_fetch_add(&attempts, 1);
    if (k < a->fail_first) {
        for (size_t i = 0; i < n; i++)
            v[i] = -777;
        flo_task_fail(ctx, a->code, "attempt %d fails", k);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] += 1;
}
static const flo_kernel kflaky = {"flaky", k_flaky, NULL};

static void k_incr(flo_task_ctx *ctx)
{
    int64_t *v = flo_task_buffer(ctx, 0);
    v[0] += 1000;
}
static const flo_kernel kincr = {"incr", k_incr, NULL};

static flo_status submit_flaky(flo_runtime *rt, flo_data h, int fail_first,
                               flo_status code, int retries, flo_event *ev)
{
    rargs a = {fail_first, code};
    flo_access_desc acc = FLO_RW(h);
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &kflaky;
    d.access = &acc;
    d.naccess = 1;
    d.args = &a;
    d.args_size = sizeof(a);
    d.retries = retries;
    return flo_task_submit(rt, &d, ev);
}

static void test_retry_restores(void **state)
{
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    (void)state;
    for (size_t p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 3);
        int64_t buf[64];
        flo_data h;
        flo_event ev, ev2;
        flo_stats s0, s1;
        assert_non_null(rt);
        for (int i = 0; i < 64; i++)
            buf[i] = i;
        assert_int_equal(flo_data_register(rt, buf, sizeof(buf), &h), FLO_OK);

        /* Two failed attempts, a budget of 3: the third succeeds and
         * reads what the first read. */
        atomic_store(&attempts, 0);
        flo_stats_get(rt, &s0);
        assert_int_equal(submit_flaky(rt, h, 2, FLO_EAGAIN, 3, &ev), FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
        assert_int_equal(atomic_load(&attempts), 3);
        flo_stats_get(rt, &s1);
        assert_int_equal(s1.retries - s0.retries, 2);
        assert_int_equal(s1.tasks_failed - s0.tasks_failed, 0);
        assert_int_equal(flo_data_acquire(rt, h, FLO_READ, &(void *){NULL}),
                         FLO_OK);
        for (int i = 0; i < 64; i++)
            assert_int_equal(buf[i], i + 1);
        assert_int_equal(flo_data_release(rt, h), FLO_OK);

        /* Budget exhausted: the task fails with FLO_EAGAIN, its
         * successor is canceled, and the corruption is undone. */
        atomic_store(&attempts, 0);
        assert_int_equal(submit_flaky(rt, h, 5, FLO_EAGAIN, 2, &ev), FLO_OK);
        assert_int_equal(flot_submit(rt, &kincr, (flo_access_desc[]){FLO_RW(h)},
                                     1, NULL, 0, &ev2),
                         FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), FLO_EAGAIN);
        assert_int_equal(flo_event_wait(rt, ev2), FLO_ECANCELED);
        assert_int_equal(atomic_load(&attempts), 3);
        assert_int_equal(flo_wait_all(rt), FLO_EAGAIN);
        assert_int_equal(flo_data_acquire(rt, h, FLO_READ, &(void *){NULL}),
                         FLO_OK);
        for (int i = 0; i < 64; i++)
            assert_int_equal(buf[i], i + 1);
        assert_int_equal(flo_data_release(rt, h), FLO_OK);

        /* Another error is not retried. */
        atomic_store(&attempts, 0);
        assert_int_equal(submit_flaky(rt, h, 1, FLO_ETASK, 4, &ev), FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), FLO_ETASK);
        assert_int_equal(atomic_load(&attempts), 1);
        assert_int_equal(flo_wait_all(rt), FLO_ETASK);

        assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/* Retried tasks from 4 threads at once, each on its own chain. */
typedef struct thr {
    flo_runtime *rt;
    int id;
    flo_status st;
    uint64_t val;
} thr;

static atomic_int tcount[4];

static void k_count_flaky(flo_task_ctx *ctx)
{
    const int *who = flo_task_args(ctx, NULL);
    uint64_t *v = flo_task_buffer(ctx, 0); /* Wraps: exact all the same. */
    int k = atomic_fetch_add(&tcount[*who], 1);
    *v = *v * 3 + 1;
    if (k % 2 == 0)
        flo_task_fail(ctx, FLO_EAGAIN, "every other attempt fails");
}
static const flo_kernel kcflaky = {"cflaky", k_count_flaky, NULL};

static void *thr_main(void *arg)
{
    thr *t = arg;
    uint64_t v = (uint64_t)t->id;
    flo_data h;
    t->st = flo_data_register(t->rt, &v, sizeof(v), &h);
    for (int i = 0; i < 200 && t->st == FLO_OK; i++) {
        flo_access_desc acc = FLO_RW(h);
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &kcflaky;
        d.access = &acc;
        d.naccess = 1;
        d.args = &t->id;
        d.args_size = sizeof(int);
        d.retries = 1;
        t->st = flo_task_submit(t->rt, &d, NULL);
    }
    if (t->st == FLO_OK)
        t->st = flo_data_unregister(t->rt, h);
    t->val = v;
    return NULL;
}

static void test_retry_threads(void **state)
{
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 3);
    pthread_t th[4];
    thr a[4];
    uint64_t want;
    flo_stats s;
    (void)state;
    assert_non_null(rt);
    for (int i = 0; i < 4; i++) {
        a[i] = (thr){rt, i, FLO_OK, 0};
        atomic_store(&tcount[i], 0);
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(a[i].st, FLO_OK);
        want = i;
        for (int k = 0; k < 200; k++)
            want = want * 3 + 1;
        assert_true(a[i].val == want);
        assert_int_equal(atomic_load(&tcount[i]), 400);
    }
    assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
    assert_int_equal(s.retries, 800);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_retry_refused(void **state)
{
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    int64_t v = 0;
    flo_data h;
    flo_stats s0, s1;
    (void)state;
    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &v, sizeof(v), &h), FLO_OK);
    flo_stats_get(rt, &s0);
    assert_int_equal(submit_flaky(rt, h, 0, FLO_OK, -1, NULL), FLO_EINVAL);
    assert_int_equal(
        submit_flaky(rt, h, 0, FLO_OK, FLO_TASK_MAX_RETRIES + 1, NULL),
        FLO_EINVAL);
    flo_stats_get(rt, &s1);
    assert_int_equal(s1.tasks_submitted, s0.tasks_submitted);
    assert_int_equal(submit_flaky(rt, h, 0, FLO_OK, FLO_TASK_MAX_RETRIES, NULL),
                     FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(v, 1);

    /* Devices: the host cannot be disabled, nor a device that is not. */
    assert_int_equal(flo_device_disable(NULL, 1), FLO_EINVAL);
    assert_int_equal(flo_device_disable(rt, 0), FLO_ENODEV);
    assert_int_equal(flo_device_disable(rt, 1), FLO_ENODEV);
    assert_int_equal(flo_device_disable(rt, -1), FLO_ENODEV);
    flo_stats_get(rt, &s1);
    assert_int_equal(s1.devices_lost, 0);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Random graphs with injected faults --------------------------------- */

#define NH 48

static void run_dag(flo_sched_policy p, uint64_t seed, int nt, const char *spec,
                    int retries, bool expect_ok)
{
    rd_task *t = malloc((size_t)nt * sizeof(*t));
    uint64_t *ref = malloc(sizeof(uint64_t) * NH * RD_NE);
    uint64_t *mem = malloc(sizeof(uint64_t) * NH * RD_NE);
    flo_data h[NH];
    flo_runtime *rt = rt_faults(p, 3, spec);
    flo_stats s;
    flo_status st;

    assert_non_null(t);
    assert_non_null(ref);
    assert_non_null(mem);
    assert_non_null(rt);
    rd_make(t, nt, NH, seed);
    rd_reference(ref, t, nt, NH);
    for (int i = 0; i < NH; i++) {
        rd_init(mem + (size_t)i * RD_NE, i);
        assert_int_equal(flo_data_register(rt, mem + (size_t)i * RD_NE,
                                           RD_NE * sizeof(uint64_t), &h[i]),
                         FLO_OK);
    }
    for (int i = 0; i < nt; i++)
        assert_int_equal(rd_submit(rt, &krd, h, &t[i], retries, NULL), FLO_OK);
    st = flo_wait_all(rt);
    assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
    if (expect_ok) {
        if (st != FLO_OK)
            fail_msg("seed %llu policy %s: %s", (unsigned long long)seed,
                     flot_sched_name(p), flo_status_str(st));
        assert_true(s.faults_injected > 0);
        assert_int_equal(s.retries, s.faults_injected);
    } else {
        /* The first error, reported; nothing hung. */
        assert_int_equal(st, FLO_ETASK);
        assert_true(s.faults_injected > 0);
        assert_true(s.tasks_failed >= 1);
        assert_int_equal(s.tasks_failed, s.faults_injected);
    }
    for (int i = 0; i < NH; i++)
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    if (expect_ok)
        assert_memory_equal(mem, ref, sizeof(uint64_t) * NH * RD_NE);
    free(t);
    free(ref);
    free(mem);
}

static void test_dag_transient(void **state)
{
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    char spec[160];
    (void)state;
    for (int k = 0; k < 3; k++) {
        uint64_t seed = 1000 + (uint64_t)k * 77;
        /* 5% of the tasks fail transiently, some of them twice; one more
         * rule picks every 997th task. */
        snprintf(spec, sizeof(spec),
                 "seed=%llu; task:kernel=rd,frac=0.05,error=transient,"
                 "times=2; task:nth=3,every=997,error=transient",
                 (unsigned long long)seed);
        run_dag(pols[k], seed, 10000, spec, 2, true);
    }
}

static void test_dag_fail(void **state)
{
    (void)state;
    /* Without retries a permanent fault is reported, not hidden. */
    run_dag(FLO_SCHED_WS, 4242, 10000,
            "seed=9; task:kernel=rd,frac=0.002,error=fail", 0, false);
    /* A permanent fault is not retried, whatever the budget. */
    run_dag(FLO_SCHED_EAGER, 99, 2000, "task:nth=500,error=fail", 3, false);
}

/* A device rule on a host-only runtime changes nothing: the host does
 * not fail. */
static void test_device_rule_on_host(void **state)
{
    (void)state;
    flo_runtime *rt =
        rt_faults(FLO_SCHED_WS, 2, "task:kernel=incr,nth=1,error=device");
    int64_t v = 0;
    flo_data h;
    flo_stats s;
    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &v, sizeof(v), &h), FLO_OK);
    assert_int_equal(flot_submit(rt, &kincr, (flo_access_desc[]){FLO_RW(h)}, 1,
                                 NULL, 0, NULL),
                     FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(v, 1000);
    flo_stats_get(rt, &s);
    assert_int_equal(s.devices_lost, 0);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_spec),
        cmocka_unit_test(test_retry_restores),
        cmocka_unit_test(test_retry_threads),
        cmocka_unit_test(test_retry_refused),
        cmocka_unit_test(test_dag_transient),
        cmocka_unit_test(test_dag_fail),
        cmocka_unit_test(test_device_rule_on_host),
    };
    flot_clear_env();
    flot_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
