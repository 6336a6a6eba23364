/*
 * gpu suite - a kernel that faults (illegal address). The fault poisons
 * the CUDA context for the whole process, so this runs in its own binary
 * and last: the device is lost (docs/resilience.md); the task, which can
 * run nowhere else, fails with FLO_ENODEV naming the CUDA error and the
 * task; a later task pinned to the device moves to the host; waiters and
 * finalize return instead of hanging. test_cuda_resilience.c loses
 * logical GPUs in the middle of a run.
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

static void test_illegal_address(void **state)
{
    (void)state;
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 1;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);

    static const flo_kernel k_bad = {"wild-write", NULL, flo_test_cuda_illegal};
    static const flo_kernel k_count = {"count", flo_test_host_count,
                                       flo_test_cuda_count};
    flo_data buf, other;
    assert_int_equal(flo_data_alloc(rt, 4096, &buf), FLO_OK);
    uint64_t counter = 0;
    assert_int_equal(flo_data_register(rt, &counter, sizeof counter, &other),
                     FLO_OK);

    flo_access_desc acc = {buf, FLO_READ_WRITE};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &k_bad;
    d.access = &acc;
    d.naccess = 1;
    d.on_device = FLO_DEVICE(1);
    flo_event bad;
    assert_int_equal(flo_task_submit(rt, &d, &bad), FLO_OK);
    /* The device is lost under it; the task, CUDA-only, has nowhere
     * else to run: FLO_ENODEV, naming the loss and its CUDA error. */
    assert_int_equal(flo_event_wait(rt, bad), FLO_ENODEV);
    char msg[512];
    assert_int_equal(flo_error_message(rt, bad, msg, sizeof msg), FLO_OK);
    assert_non_null(strstr(msg, "cudaErrorIllegalAddress"));
    assert_non_null(strstr(msg, "wild-write"));
    flo_device_info info;
    assert_int_equal(flo_device_get_info(rt, 1, &info), FLO_OK);
    assert_int_equal(info.failed, 1);
    assert_true(atomic_load(&flo__cuda_dev_get(&rt->plat, 1)->failed) != 0);

    /* A task pinned to the lost device, which has a host entry point,
     * moves to the host and runs. */
    flo_access_desc acc2 = {other, FLO_READ_WRITE};
    d.kernel = &k_count;
    d.access = &acc2;
    flo_event later;
    assert_int_equal(flo_task_submit(rt, &d, &later), FLO_OK);
    assert_int_equal(flo_event_wait(rt, later), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ENODEV);
    flo_stats s;
    assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
    assert_int_equal(s.devices_lost, 1);
    assert_true(s.replaced >= 1);

    /* The host still works. */
    d.on_device = FLO_DEVICE(0);
    flo_event host;
    assert_int_equal(flo_task_submit(rt, &d, &host), FLO_OK);
    assert_int_equal(flo_event_wait(rt, host), FLO_OK);

    /* Finalize returns (the GPU's replicas are lost); every failure was
     * reported by a wait already. */
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_int_equal(counter, 2);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_illegal_address),
    };
    return cmocka_run_group_tests_name("device_cuda_illegal", tests, NULL,
                                       NULL);
}
