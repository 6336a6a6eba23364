/*
 * scheduler_data_device: flo_data_register_device where no GPU can take
 * it (a host-only runtime, or a build without CUDA): every refusal has
 * its status, and a refused call changes nothing (no handle reserved,
 * the output untouched), from several threads at once too. The GPU cases
 * are in tests/device/test_cuda_register_device.c (suite gpu).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "flo_build_config.h"
#include "tests/scheduler/testutil.h"

/* What a GPU index gets in a runtime without GPUs. */
#if FLO_HAVE_CUDA
#define NO_GPU FLO_ENODEV
#else
#define NO_GPU FLO_ENOTSUP
#endif

static const flo_data sentinel = {0x5151, 0x7777};

static void check_untouched(flo_data h)
{
    assert_true(flo_data_equal(h, sentinel));
}

static void test_bad_arguments(void **state)
{
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 1);
    static char mem[64];
    flo_data h = sentinel;

    (void)state;
    assert_non_null(rt);
    assert_int_equal(flo_data_register_device(NULL, 1, mem, 64, &h),
                     FLO_EINVAL);
    assert_int_equal(flo_data_register_device(rt, 1, NULL, 64, &h), FLO_EINVAL);
    assert_int_equal(flo_data_register_device(rt, 1, mem, 0, &h), FLO_EINVAL);
    assert_int_equal(flo_data_register_device(rt, 1, mem, 64, NULL),
                     FLO_EINVAL);
    check_untouched(h);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A runtime of host workers only: the host is not a GPU, and there is
 * no GPU to name (FLO_ENOTSUP first in a build without CUDA). */
static void test_no_gpu(void **state)
{
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 1);
    static char mem[64];
    flo_data h = sentinel;
    const int devices[] = {0, 1, -1, 2, 33, 1 << 20};

    (void)state;
    assert_non_null(rt);
    assert_int_equal(flo_device_count(rt), 1);
    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
        assert_int_equal(flo_data_register_device(rt, devices[i], mem, 64, &h),
                         NO_GPU);
    check_untouched(h);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Nothing reserved by a refusal: with room for exactly one handle
 * (FLO__TEST_DATA_LIMIT=1), a host registration still succeeds after
 * many refused ones. */
static void test_refusal_reserves_nothing(void **state)
{
    static char mem[64];
    flo_runtime *rt;
    flo_data h = sentinel, h2;

    (void)state;
    setenv("FLO__TEST_DATA_LIMIT", "1", 1);
    rt = flot_rt(FLO_SCHED_WS, 1);
    unsetenv("FLO__TEST_DATA_LIMIT");
    assert_non_null(rt);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(flo_data_register_device(rt, 1, mem, 64, &h), NO_GPU);
        assert_int_equal(flo_data_register_device(rt, 0, mem, 64, &h), NO_GPU);
    }
    check_untouched(h);
    assert_int_equal(flo_data_register(rt, mem, 64, &h2), FLO_OK);
    /* The table is full now: the limit holds (the hook works). */
    assert_int_equal(flo_data_alloc(rt, 64, &h), FLO_ENOMEM);
    check_untouched(h);
    assert_int_equal(flo_data_unregister(rt, h2), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Several threads at once, refused alike, while others register host
 * memory: the refusals never disturb the registrations. */
#define NTH 4

typedef struct th_arg {
    flo_runtime *rt;
    int id, rounds;
    int wrong; /* Statuses that were not the expected ones. */
} th_arg;

static void *th_main(void *p)
{
    th_arg *a = p;
    char mem[32];

    for (int r = 0; r < a->rounds; r++) {
        flo_data h = sentinel;
        if (a->id % 2 == 0) {
            if (flo_data_register_device(a->rt, 1 + r % 3, mem, sizeof(mem),
                                         &h) != NO_GPU ||
                !flo_data_equal(h, sentinel))
                a->wrong++;
        } else {
            if (flo_data_register(a->rt, mem, sizeof(mem), &h) != FLO_OK ||
                flo_data_unregister(a->rt, h) != FLO_OK)
                a->wrong++;
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    pthread_t th[NTH];
    th_arg a[NTH];

    (void)state;
    assert_non_null(rt);
    for (int i = 0; i < NTH; i++) {
        a[i].rt = rt;
        a[i].id = i;
        a[i].rounds = (int)flot_scaled(2000, 100);
        a[i].wrong = 0;
        assert_int_equal(pthread_create(&th[i], NULL, th_main, &a[i]), 0);
    }
    for (int i = 0; i < NTH; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].wrong, 0);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_no_gpu),
        cmocka_unit_test(test_refusal_reserves_nothing),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
