/*
 * gpu suite - a real GPU lost to a kernel that faults (an illegal
 * address: a sticky error that poisons the CUDA context, hence its own
 * binary, run last). With write-through, the random graph's tasks before
 * the fault and after it produce the same data as the fault-free run
 * (the fault happens with no other GPU writer in flight):
 * what the GPU wrote had reached the host, and the rest runs on the host
 * workers. The faulting task itself, CUDA-only, fails with FLO_ENODEV
 * naming the CUDA error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cuda_test_util.h"
#include "tests/scheduler/resil_dag.h"

#define NH 48
#define NT 10000

static void test_sticky_midrun(void **state)
{
    (void)state;
    static const flo_kernel k_rd = {"rd", rd_host, flo_test_cuda_rd};
    static const flo_kernel k_bad = {"wild-write", NULL, flo_test_cuda_illegal};
    flo_config cfg = flo_test_gpu_config(0);
    flo_runtime *rt = NULL;
    cfg.write_through = FLO_WRITE_THROUGH_ALL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);

    rd_task *t = malloc(sizeof(rd_task) * NT);
    uint64_t *ref = malloc(sizeof(uint64_t) * NH * RD_NE);
    uint64_t *mem = malloc(sizeof(uint64_t) * NH * RD_NE);
    flo_data h[NH], junk;
    assert_non_null(t);
    assert_non_null(ref);
    assert_non_null(mem);
    rd_make(t, NT, NH, 31337);
    rd_reference(ref, t, NT, NH);
    for (int i = 0; i < NH; i++) {
        rd_init(mem + (size_t)i * RD_NE, i);
        assert_int_equal(flo_data_register(rt, mem + (size_t)i * RD_NE,
                                           RD_NE * sizeof(uint64_t), &h[i]),
                         FLO_OK);
    }
    assert_int_equal(flo_data_alloc(rt, 4096, &junk), FLO_OK);
    /* The first half; then, once it finished, the faulting kernel alone,
     * and once the device is lost the second half: no other writer may be
     * in flight when the context dies (docs/resilience.md says why). */
    for (int i = 0; i < NT / 2; i++)
        assert_int_equal(rd_submit(rt, &k_rd, h, &t[i], 0, NULL), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    flo_access_desc acc = {junk, FLO_READ_WRITE};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &k_bad;
    d.access = &acc;
    d.naccess = 1;
    d.on_device = FLO_DEVICE(1);
    flo_event bad;
    assert_int_equal(flo_task_submit(rt, &d, &bad), FLO_OK);
    assert_int_equal(flo_event_wait(rt, bad), FLO_ENODEV);
    for (int i = NT / 2; i < NT; i++)
        assert_int_equal(rd_submit(rt, &k_rd, h, &t[i], 0, NULL), FLO_OK);
    char msg[512];
    assert_int_equal(flo_error_message(rt, bad, msg, sizeof msg), FLO_OK);
    assert_non_null(strstr(msg, "cudaErrorIllegalAddress"));
    assert_int_equal(flo_wait_all(rt), FLO_ENODEV);
    flo_stats s;
    assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
    printf("# %llu moved, %llu run again, %llu handles lost\n",
           (unsigned long long)s.replaced, (unsigned long long)s.reexecuted,
           (unsigned long long)s.data_lost);
    assert_int_equal(s.devices_lost, 1);
    for (int i = 0; i < NH; i++)
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
    assert_memory_equal(mem, ref, sizeof(uint64_t) * NH * RD_NE);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    free(t);
    free(ref);
    free(mem);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sticky_midrun),
    };
    return cmocka_run_group_tests_name("device_cuda_lost_dag", tests, NULL,
                                       NULL);
}
