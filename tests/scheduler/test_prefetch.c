/*
 * scheduler_prefetch: the lookahead hints (flo_data_prefetch,
 * flo_data_flush) and flo_data_register_flags on a host-only runtime:
 * no-ops that succeed, and their error paths (bad handle, bad device,
 * bad flags). The GPU side is in tests/device/test_cuda_transfers.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/scheduler/testutil.h"

static int setup(void **state)
{
    *state = flot_rt(FLO_SCHED_WS, 2);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    return flo_finalize(*state) == FLO_OK ? 0 : -1;
}

static void k_inc(flo_task_ctx *ctx)
{
    int64_t *p = flo_task_buffer(ctx, 0);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(int64_t);
    for (size_t i = 0; i < n; i++)
        p[i] += 1;
}
static const flo_kernel kinc = {"inc", k_inc, NULL};

static flo_status submit_inc(flo_runtime *rt, flo_data d)
{
    flo_access_desc acc = {d, FLO_READ_WRITE};
    return flot_submit(rt, &kinc, &acc, 1, NULL, 0, NULL);
}

/* Host-only: prefetch to the host and flush are no-ops that succeed, and
 * the data is untouched and still usable. */
static void test_hints_host_only(void **state)
{
    flo_runtime *rt = *state;
    int64_t v[16] = {0};
    flo_data d;
    assert_int_equal(flo_device_count(rt), 1);
    assert_int_equal(flo_data_register(rt, v, sizeof v, &d), FLO_OK);
    assert_int_equal(flo_data_prefetch(rt, d, 0), FLO_OK);
    assert_int_equal(flo_data_flush(rt, d), FLO_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(submit_inc(rt, d), FLO_OK);
        assert_int_equal(flo_data_prefetch(rt, d, 0), FLO_OK);
        assert_int_equal(flo_data_flush(rt, d), FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    void *p = NULL;
    assert_int_equal(flo_data_acquire(rt, d, FLO_READ, &p), FLO_OK);
    assert_ptr_equal(p, v);
    assert_int_equal(flo_data_release(rt, d), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    for (int i = 0; i < 16; i++)
        assert_int_equal(v[i], 3);

    /* Runtime-owned data, never written: also fine. */
    assert_int_equal(flo_data_alloc(rt, 4096, &d), FLO_OK);
    assert_int_equal(flo_data_prefetch(rt, d, 0), FLO_OK);
    assert_int_equal(flo_data_flush(rt, d), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
}

static void test_hint_errors(void **state)
{
    flo_runtime *rt = *state;
    int64_t x = 0;
    flo_data d;
    assert_int_equal(flo_data_register(rt, &x, sizeof x, &d), FLO_OK);

    /* A device index out of range: GPUs are absent here. */
    assert_int_equal(flo_data_prefetch(rt, d, 1), FLO_EINVAL);
    assert_int_equal(flo_data_prefetch(rt, d, -1), FLO_EINVAL);
    assert_int_equal(flo_data_prefetch(rt, d, 1000), FLO_EINVAL);
    /* NULL runtime, null handle. */
    assert_int_equal(flo_data_prefetch(NULL, d, 0), FLO_EINVAL);
    assert_int_equal(flo_data_flush(NULL, d), FLO_EINVAL);
    assert_int_equal(flo_data_prefetch(rt, FLO_DATA_NULL, 0), FLO_EINVAL);
    assert_int_equal(flo_data_flush(rt, FLO_DATA_NULL), FLO_EINVAL);

    /* A stale handle. */
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(flo_data_prefetch(rt, d, 0), FLO_ESTALE);
    assert_int_equal(flo_data_flush(rt, d), FLO_ESTALE);

    /* A handle of another runtime. */
    flo_runtime *other = flot_rt(FLO_SCHED_EAGER, 1);
    assert_non_null(other);
    flo_data od;
    assert_int_equal(flo_data_register(other, &x, sizeof x, &od), FLO_OK);
    assert_int_equal(flo_data_prefetch(rt, od, 0), FLO_EFOREIGN);
    assert_int_equal(flo_data_flush(rt, od), FLO_EFOREIGN);
    assert_int_equal(flo_data_unregister(other, od), FLO_OK);
    assert_int_equal(flo_finalize(other), FLO_OK);
}

static void test_register_flags(void **state)
{
    flo_runtime *rt = *state;
    int64_t v[4] = {1, 2, 3, 4};
    flo_data d;
    assert_int_equal(flo_data_register_flags(rt, NULL, 8, 0, &d), FLO_EINVAL);
    assert_int_equal(flo_data_register_flags(rt, v, 0, 0, &d), FLO_EINVAL);
    assert_int_equal(flo_data_register_flags(rt, v, sizeof v, 0x80u, &d),
                     FLO_EINVAL);
    assert_int_equal(flo_data_register_flags(NULL, v, sizeof v, 0, &d),
                     FLO_EINVAL);
    assert_int_equal(flo_data_register_flags(rt, v, sizeof v, 0, NULL),
                     FLO_EINVAL);
    assert_int_equal(
        flo_data_register_flags(rt, v, sizeof v, FLO_DATA_NO_PIN, &d), FLO_OK);
    assert_int_equal(submit_inc(rt, d), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(v[i], i + 2);
}

/* no_pin_host is validated like the other fields. */
static void test_pin_host_config(void **state)
{
    (void)state;
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    assert_int_equal(cfg.no_pin_host, 0);
    cfg.ignore_env = 1;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 1;
    cfg.no_pin_host = 7;
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    cfg.no_pin_host = 1;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    flot_apply_filter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hints_host_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hint_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_flags, setup, teardown),
        cmocka_unit_test(test_pin_host_config),
    };
    return cmocka_run_group_tests_name("scheduler_prefetch", tests, NULL, NULL);
}
