/*
 * gpu suite - resilience on GPUs (docs/resilience.md): a logical GPU
 * lost in the middle of a random graph of 10,000 tasks (an injected
 * device rule, or flo_device_disable from another thread) leaves the
 * same final data on the survivors with write-through, and without it
 * (or with write-through at rest, and its lineage) either the same data
 * or FLO_EDATALOSS, never a hang or a wrong result;
 * transient faults on GPU tasks with retries; a CUDA entry point that
 * corrupts its buffer and reports FLO_EAGAIN is undone on the GPU; with
 * every GPU lost, CUDA-only tasks fail with FLO_ENODEV and the others
 * run on the host. test_cuda_lost_dag.c loses a real GPU to a kernel
 * that faults.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cuda_test_util.h"
#include "tests/scheduler/resil_dag.h"

#define NH 48
#define NT 10000

static const flo_kernel k_rd = {"rd", rd_host, flo_test_cuda_rd};
static const flo_kernel k_rd_gpu = {"rd", NULL, flo_test_cuda_rd};

static flo_runtime *start(int logical, int write_through, const char *faults)
{
    flo_config cfg = flo_test_gpu_config(logical);
    flo_runtime *rt = NULL;
    cfg.write_through = write_through;
    cfg.faults = faults;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    return rt;
}

typedef struct dag_run {
    rd_task *t;
    uint64_t *ref, *mem;
    flo_data h[NH];
} dag_run;

static void dag_begin(flo_runtime *rt, dag_run *r, uint64_t seed)
{
    r->t = malloc(sizeof(rd_task) * NT);
    r->ref = malloc(sizeof(uint64_t) * NH * RD_NE);
    r->mem = malloc(sizeof(uint64_t) * NH * RD_NE);
    assert_non_null(r->t);
    assert_non_null(r->ref);
    assert_non_null(r->mem);
    rd_make(r->t, NT, NH, seed);
    rd_reference(r->ref, r->t, NT, NH);
    for (int i = 0; i < NH; i++) {
        rd_init(r->mem + (size_t)i * RD_NE, i);
        assert_int_equal(flo_data_register(rt, r->mem + (size_t)i * RD_NE,
                                           RD_NE * sizeof(uint64_t), &r->h[i]),
                         FLO_OK);
    }
}

/* A logical GPU lost at its 300th task (a device rule). */
static void test_lose_logical(void **state)
{
    (void)state;
    for (int wt = FLO_WRITE_THROUGH_REST; wt >= 0; wt--) {
        flo_runtime *rt = start(3, wt, "device:dev=2,at_task=300");
        dag_run r;
        flo_stats s;
        flo_device_info info;
        dag_begin(rt, &r, 77 + (uint64_t)wt);
        for (int i = 0; i < NT; i++)
            assert_int_equal(rd_submit(rt, &k_rd, r.h, &r.t[i], 0, NULL),
                             FLO_OK);
        flo_status st = flo_wait_all(rt);
        assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
        assert_int_equal(s.devices_lost, 1);
        assert_int_equal(flo_device_get_info(rt, 2, &info), FLO_OK);
        assert_int_equal(info.failed, 1);
        printf("# write-through %d: %s, %llu moved, %llu run again, %llu "
               "handles lost\n",
               wt, flo_status_str(st), (unsigned long long)s.replaced,
               (unsigned long long)s.reexecuted,
               (unsigned long long)s.data_lost);
        if (wt == FLO_WRITE_THROUGH_ALL) {
            /* Nothing is lost: the same data as the fault-free run. */
            assert_int_equal(st, FLO_OK);
            assert_int_equal(s.data_lost, 0);
        } else {
            /* Either nothing the program needed was lost (or it was
             * recomputed), or the tasks that needed it failed with
             * FLO_EDATALOSS. */
            assert_true(st == FLO_OK || st == FLO_EDATALOSS);
            if (st == FLO_EDATALOSS)
                assert_true(s.data_lost > 0);
        }
        for (int i = 0; i < NH; i++)
            assert_int_equal(flo_data_unregister(rt, r.h[i]), FLO_OK);
        if (st == FLO_OK)
            assert_memory_equal(r.mem, r.ref, sizeof(uint64_t) * NH * RD_NE);
        free(r.t);
        free(r.ref);
        free(r.mem);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/* flo_device_disable from another thread while the graph runs. */
typedef struct dis {
    flo_runtime *rt;
    flo_status st;
} dis;

static void *disabler(void *arg)
{
    dis *d = arg;
    /* Some tasks first: the loss then lands in the middle of the run. */
    for (int i = 0; i < 2000; i++)
        sched_yield();
    d->st = flo_device_disable(d->rt, 1);
    return NULL;
}

static void check_dag(flo_runtime *rt, uint64_t seed, int retries, bool disable,
                      bool gpu_only_ok)
{
    dag_run r;
    pthread_t th;
    dis d = {rt, FLO_EINTERNAL};
    dag_begin(rt, &r, seed);
    if (disable)
        assert_int_equal(pthread_create(&th, NULL, disabler, &d), 0);
    for (int i = 0; i < NT; i++)
        assert_int_equal(rd_submit(rt, gpu_only_ok ? &k_rd_gpu : &k_rd, r.h,
                                   &r.t[i], retries, NULL),
                         FLO_OK);
    if (disable) {
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(d.st, FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < NH; i++)
        assert_int_equal(flo_data_unregister(rt, r.h[i]), FLO_OK);
    assert_memory_equal(r.mem, r.ref, sizeof(uint64_t) * NH * RD_NE);
    free(r.t);
    free(r.ref);
    free(r.mem);
}

static void test_disable_midrun(void **state)
{
    (void)state;
    flo_runtime *rt = start(2, 1, NULL);
    flo_stats s;
    check_dag(rt, 5, 0, true, false);
    assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
    assert_int_equal(s.devices_lost, 1);
    assert_int_equal(s.data_lost, 0);
    /* Disabling it again is a no-op. */
    assert_int_equal(flo_device_disable(rt, 1), FLO_OK);
    assert_int_equal(flo_device_disable(rt, 0), FLO_ENODEV);
    assert_int_equal(flo_device_disable(rt, 3), FLO_ENODEV);
    /* The run continues on the survivors. */
    check_dag(rt, 6, 0, false, false);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Transient faults on GPU tasks, retried. */
static void test_transient_gpu(void **state)
{
    (void)state;
    flo_runtime *rt =
        start(2, 0, "seed=11; task:kernel=rd,frac=0.05,error=transient");
    flo_stats s;
    check_dag(rt, 9, 1, false, true);
    assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
    assert_true(s.faults_injected > 0);
    assert_int_equal(s.retries, s.faults_injected);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A CUDA entry point that overwrites its buffer and then reports
 * FLO_EAGAIN: the retry sees the original contents. */
static void test_retry_restores_gpu(void **state)
{
    (void)state;
    static const flo_kernel k_flaky = {"flaky", NULL, flo_test_cuda_flaky};
    flo_runtime *rt = start(1, 0, NULL);
    int64_t v[1000];
    int attempts = 0;
    flo_data h;
    flo_event ev;
    for (int i = 0; i < 1000; i++)
        v[i] = i;
    assert_int_equal(flo_data_register(rt, v, sizeof(v), &h), FLO_OK);
    flo_test_flaky_args a = {&attempts, 2};
    flo_access_desc acc = {h, FLO_READ_WRITE};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &k_flaky;
    d.access = &acc;
    d.naccess = 1;
    d.args = &a;
    d.args_size = sizeof(a);
    d.retries = 2;
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(attempts, 3);
    /* Out of budget: the last attempt's damage is undone too. */
    a.fail_first = 10;
    attempts = 0;
    d.retries = 1;
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_EAGAIN);
    assert_int_equal(attempts, 2);
    assert_int_equal(flo_wait_all(rt), FLO_EAGAIN);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(v[i], i + 1);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Every GPU lost: CUDA-only work fails with FLO_ENODEV, the rest runs on
 * the host. */
static void test_all_lost(void **state)
{
    (void)state;
    flo_runtime *rt = start(2, 1, NULL);
    uint64_t v[RD_NE], w[RD_NE];
    flo_data h, g;
    flo_event e1, e2;
    rd_task t = {0, {0, 0}, 0, 3, 5};
    rd_init(v, 0);
    rd_init(w, 0);
    assert_int_equal(flo_data_register(rt, v, sizeof(v), &h), FLO_OK);
    assert_int_equal(flo_data_register(rt, w, sizeof(w), &g), FLO_OK);
    assert_int_equal(flo_device_disable(rt, 1), FLO_OK);
    assert_int_equal(flo_device_disable(rt, 2), FLO_OK);
    assert_int_equal(rd_submit(rt, &k_rd_gpu, &h, &t, 0, &e1), FLO_OK);
    assert_int_equal(rd_submit(rt, &k_rd, &g, &t, 0, &e2), FLO_OK);
    assert_int_equal(flo_event_wait(rt, e1), FLO_ENODEV);
    assert_int_equal(flo_event_wait(rt, e2), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ENODEV);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, g), FLO_OK);
    uint64_t want[RD_NE];
    const uint64_t *none[1] = {NULL};
    rd_init(want, 0);
    rd_apply(want, none, 0, 3, 5);
    assert_memory_equal(w, want, sizeof(w));
    rd_init(want, 0);
    assert_memory_equal(v, want, sizeof(v));
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Each case's time, as a TAP comment (10,000 tasks per graph: a slow
 * case shows here before it meets the suite's timeout). */
static double t_case;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int case_start(void **state)
{
    (void)state;
    t_case = now_s();
    return 0;
}

static int case_end(void **state)
{
    (void)state;
    printf("# %.2f s\n", now_s() - t_case);
    fflush(stdout);
    return 0;
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lose_logical, case_start,
                                        case_end),
        cmocka_unit_test_setup_teardown(test_disable_midrun, case_start,
                                        case_end),
        cmocka_unit_test_setup_teardown(test_transient_gpu, case_start,
                                        case_end),
        cmocka_unit_test_setup_teardown(test_retry_restores_gpu, case_start,
                                        case_end),
        cmocka_unit_test_setup_teardown(test_all_lost, case_start, case_end),
    };
    return cmocka_run_group_tests_name("device_cuda_resilience", tests, NULL,
                                       NULL);
}
