/*
 * Finding GPUs: runs everywhere. Without a GPU, FLO_DEVICES_CUDA must fail
 * with FLO_ENODEV and auto must fall back to the host; with one, the GPU
 * selection options are honoured and bad ones rejected with FLO_EINVAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cuda_test_util.h"

static flo_config base(flo_device_mask devices)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 1;
    cfg.no_bind = 1;
    cfg.devices = devices;
    return cfg;
}

/* cmocka's skip() prints "not ok N # SKIP", which meson counts as a
 * failure: each case checks what this machine allows instead. */
static void test_no_gpu(void **state)
{
    (void)state;
    if (flo_test_gpu_count() > 0)
        return; /* Covered by test_selection. */
    flo_config cfg = base(FLO_DEVICES_CUDA);
    flo_runtime *rt = (flo_runtime *)(uintptr_t)1;
    assert_int_equal(flo_init(&cfg, &rt), FLO_ENODEV);
    assert_ptr_equal(rt, (flo_runtime *)(uintptr_t)1); /* Untouched. */
    cfg = base(FLO_DEVICES_AUTO);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 1);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_selection(void **state)
{
    (void)state;
    int n = flo_test_gpu_count();
    if (n <= 0)
        return; /* Covered by test_no_gpu. */
    flo_runtime *rt = NULL;
    flo_config cfg = base(FLO_DEVICES_CUDA);

    cfg.gpu_list = "0,0";
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    cfg.gpu_list = "999";
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    cfg.gpu_list = "zero";
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    assert_null(rt);

    cfg.gpu_list = "0";
    cfg.logical_gpus = 2;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 3);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    cfg = base(FLO_DEVICES_CUDA);
    cfg.gpus = 1;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 2);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    cfg = base(FLO_DEVICES_HOST);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 1);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    cfg = base(FLO_DEVICES_AUTO);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 1 + n);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_gpu),
        cmocka_unit_test(test_selection),
    };
    return cmocka_run_group_tests_name("device_cuda_probe", tests, NULL, NULL);
}
