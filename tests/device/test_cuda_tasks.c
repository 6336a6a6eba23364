/*
 * gpu suite - GPU task lifecycle: failures reported by the entry point,
 * launch errors, thousands of tasks in flight, dependent chains, and
 * finalize while work is still in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cuda_test_util.h"
#include "device/cuda/cuda_backend.h"
#include "scheduler/sched.h"

static flo_runtime *start(int logical)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.logical_gpus = logical;
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_true(flo_device_count(rt) >= 2);
    return rt;
}

static flo_event submit0(flo_runtime *rt, const flo_kernel *k, int device,
                         const flo_access_desc *acc, int nacc,
                         const flo_test_args *args)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_event ev = FLO_EVENT_NULL;
    d.kernel = k;
    d.access = acc;
    d.naccess = nacc;
    d.args = args;
    d.args_size = args ? sizeof *args : 0;
    d.on_device = FLO_DEVICE(device);
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    return ev;
}

static void test_entry_point_failure(void **state)
{
    (void)state;
    flo_runtime *rt = start(1);
    static const flo_kernel k_fail = {"refuser", NULL, flo_test_cuda_fail};
    static const flo_kernel k_count = {"count", flo_test_host_count,
                                       flo_test_cuda_count};
    uint64_t counter = 0;
    flo_data h;
    assert_int_equal(flo_data_register(rt, &counter, sizeof counter, &h),
                     FLO_OK);
    flo_access_desc acc = {h, FLO_READ_WRITE};
    flo_event bad = submit0(rt, &k_fail, 1, &acc, 1, NULL);
    /* A dependent of the failed task is canceled, not run. */
    flo_event dep = submit0(rt, &k_count, 1, &acc, 1, NULL);
    assert_int_equal(flo_event_wait(rt, bad), FLO_ETASK);
    assert_int_equal(flo_event_wait(rt, dep), FLO_ECANCELED);
    char msg[256];
    assert_int_equal(flo_error_message(rt, bad, msg, sizeof msg), FLO_OK);
    assert_non_null(strstr(msg, "refused input 42"));
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);

    /* The GPU keeps working. */
    flo_event ok = submit0(rt, &k_count, 1, &acc, 1, NULL);
    assert_int_equal(flo_event_wait(rt, ok), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(counter, 1);
    flo_finalize(rt);
}

static void test_launch_error(void **state)
{
    (void)state;
    flo_runtime *rt = start(1);
    static const flo_kernel k_bad = {"bad-launch", NULL,
                                     flo_test_cuda_bad_launch};
    static const flo_kernel k_count = {"count", NULL, flo_test_cuda_count};
    flo_event bad = submit0(rt, &k_bad, 1, NULL, 0, NULL);
    assert_int_equal(flo_event_wait(rt, bad), FLO_EDEVICE);
    char msg[256];
    assert_int_equal(flo_error_message(rt, bad, msg, sizeof msg), FLO_OK);
    /* CUDA 13 reports a block of 4096 threads as cudaErrorInvalidValue,
     * older releases as cudaErrorInvalidConfiguration: either names the
     * launch error; the message must carry it and the task's name. */
    if ((!strstr(msg, "cudaErrorInvalidValue") &&
         !strstr(msg, "cudaErrorInvalidConfiguration")) ||
        !strstr(msg, "launch") || !strstr(msg, "bad-launch"))
        fail_msg("launch error message lacks the CUDA error or the task "
                 "name: \"%s\"",
                 msg);
    assert_int_equal(flo_wait_all(rt), FLO_EDEVICE);

    /* Not sticky: later tasks run. */
    uint64_t counter = 0;
    flo_data h;
    assert_int_equal(flo_data_register(rt, &counter, sizeof counter, &h),
                     FLO_OK);
    flo_access_desc acc = {h, FLO_READ_WRITE};
    for (int i = 0; i < 10; i++)
        submit0(rt, &k_count, 1, &acc, 1, NULL);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(counter, 10);
    flo_finalize(rt);
}

/* Many independent tasks: far more than can be in flight at once. */
static void test_thousands_in_flight(void **state)
{
    (void)state;
    flo_runtime *rt = start(2);
    static const flo_kernel k_count = {"count", flo_test_host_count,
                                       flo_test_cuda_count};
    static const flo_kernel k_empty = {"empty", NULL, flo_test_cuda_empty};
    enum { NH = 16, PER = 500, NEMPTY = 20000 };
    uint64_t counters[NH] = {0};
    flo_data h[NH];
    for (int i = 0; i < NH; i++)
        assert_int_equal(
            flo_data_register(rt, &counters[i], sizeof counters[i], &h[i]),
            FLO_OK);
    for (int i = 0; i < NEMPTY; i++)
        submit0(rt, &k_empty, FLO_ANY, NULL, 0, NULL);
    /* Read-write chains through 16 handles, interleaved. */
    for (int r = 0; r < PER; r++)
        for (int i = 0; i < NH; i++) {
            flo_access_desc acc = {h[i], FLO_READ_WRITE};
            submit0(rt, &k_count, 1 + (r + i) % 2, &acc, 1, NULL);
        }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < NH; i++)
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
    for (int i = 0; i < NH; i++)
        assert_int_equal(counters[i], PER);
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_completed, NEMPTY + NH * PER);
    assert_int_equal(st.tasks_failed, 0);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A chain of read-write tasks alternating between host and two logical
 * GPUs: every hop moves the data. */
static void test_chain_host_gpu(void **state)
{
    (void)state;
    flo_runtime *rt = start(2);
    static const flo_kernel k_count = {"count", flo_test_host_count,
                                       flo_test_cuda_count};
    uint64_t counter = 0;
    flo_data h;
    assert_int_equal(flo_data_register(rt, &counter, sizeof counter, &h),
                     FLO_OK);
    flo_access_desc acc = {h, FLO_READ_WRITE};
    for (int i = 0; i < 3000; i++)
        submit0(rt, &k_count, i % 3, &acc, 1, NULL);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    uint64_t *p;
    assert_int_equal(flo_data_acquire(rt, h, FLO_READ, (void **)&p), FLO_OK);
    assert_int_equal(*p, 3000);
    assert_int_equal(flo_data_release(rt, h), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* flo_finalize with thousands of tasks still queued or running: it waits
 * for them and writes registered data back. */
static void test_finalize_in_flight(void **state)
{
    (void)state;
    flo_runtime *rt = start(1);
    static const flo_kernel k_spin = {"spin", NULL, flo_test_cuda_spin};
    static const flo_kernel k_count = {"count", NULL, flo_test_cuda_count};
    uint64_t counter = 0;
    flo_data h;
    assert_int_equal(flo_data_register(rt, &counter, sizeof counter, &h),
                     FLO_OK);
    flo_test_args spin = {20000, 0}; /* ~10 us each. */
    for (int i = 0; i < 2000; i++)
        submit0(rt, &k_spin, 1, NULL, 0, &spin);
    flo_access_desc acc = {h, FLO_READ_WRITE};
    for (int i = 0; i < 2000; i++)
        submit0(rt, &k_count, 1, &acc, 1, NULL);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_int_equal(counter, 2000);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_point_failure),
        cmocka_unit_test(test_launch_error),
        cmocka_unit_test(test_thousands_in_flight),
        cmocka_unit_test(test_chain_host_gpu),
        cmocka_unit_test(test_finalize_in_flight),
    };
    return cmocka_run_group_tests_name("device_cuda_tasks", tests, NULL, NULL);
}
