/*
 * gpu suite - stream-ordered dependencies: a GPU-only task whose
 * predecessors are in flight on its GPU is launched behind them at once
 * (no host round trip). Results must equal a sequential run on the host;
 * the statistics show that the dependencies were resolved in stream
 * order; a failure in a chain cancels what was launched behind it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cuda_test_util.h"

static const flo_kernel k_mix = {"mix", flo_test_host_mix, flo_test_cuda_mix};
static const flo_kernel k_mix_gpu = {"mix_gpu", NULL, flo_test_cuda_mix};
static const flo_kernel k_spin = {"spin", NULL, flo_test_cuda_spin};
static const flo_kernel k_fail = {"refuser", NULL, flo_test_cuda_fail};

static flo_runtime *start(int logical, flo_sched_policy sched)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.logical_gpus = logical;
    cfg.sched = sched;
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 1 + logical);
    return rt;
}

static flo_event submit(flo_runtime *rt, const flo_kernel *k, int device,
                        const flo_access_desc *acc, int nacc, uint32_t kk)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_test_args a = {kk, nacc};
    flo_event ev = FLO_EVENT_NULL;
    d.kernel = k;
    d.access = acc;
    d.naccess = nacc;
    d.args = &a;
    d.args_size = sizeof a;
    d.on_device = FLO_DEVICE(device);
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    return ev;
}

/* The host version of one mix step (flo_test_cuda_mix). */
static void ref_mix(uint32_t *x, const uint32_t *b, size_t n, uint32_t k)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] * 3u + (b ? b[i] : 0u) + k + (uint32_t)i;
}

/* A chain of GPU-only tasks on one handle behind a long kernel: every
 * link but the first is resolved in stream order. */
static void test_chain(void **state)
{
    (void)state;
    enum { N = 4096, STEPS = 400 };
    flo_runtime *rt = start(1, FLO_SCHED_DEFAULT);
    uint32_t *x = calloc(N, sizeof *x), *ref = calloc(N, sizeof *ref);
    flo_data h;
    flo_stats st;
    assert_non_null(x);
    assert_non_null(ref);
    assert_int_equal(flo_data_register(rt, x, N * sizeof *x, &h), FLO_OK);
    flo_access_desc rw = {h, FLO_READ_WRITE};
    /* 20 ms of spinning holds the chain's head in flight. */
    submit(rt, &k_spin, 1, &rw, 1, 40000000u);
    for (uint32_t s = 0; s < STEPS; s++) {
        submit(rt, &k_mix_gpu, 1, &rw, 1, s);
        ref_mix(ref, NULL, N, s);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_memory_equal(x, ref, N * sizeof *x);
    /* At least the links submitted while the spin ran. */
    if (st.stream_ordered < STEPS / 2)
        fail_msg("only %llu of %d dependencies in stream order",
                 (unsigned long long)st.stream_ordered, STEPS);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    free(x);
    free(ref);
}

/* Random tasks over a few handles: GPU-only tasks on either logical GPU
 * (stream order within one, events across), host tasks in between
 * (which must see completed data). Compared with a sequential replay. */
static void run_random(int logical, flo_sched_policy sched, uint64_t seed)
{
    enum { H = 5, N = 1000, TASKS = 3000 };
    flo_runtime *rt = start(logical, sched);
    uint32_t *x[H], *ref[H];
    flo_data h[H];
    for (int i = 0; i < H; i++) {
        x[i] = calloc(N, sizeof(uint32_t));
        ref[i] = calloc(N, sizeof(uint32_t));
        assert_non_null(x[i]);
        assert_non_null(ref[i]);
        for (int j = 0; j < N; j++)
            x[i][j] = ref[i][j] = (uint32_t)(i * 7919 + j);
        assert_int_equal(
            flo_data_register(rt, x[i], N * sizeof(uint32_t), &h[i]), FLO_OK);
    }
    uint64_t s = seed;
    for (int t = 0; t < TASKS; t++) {
        int a = (int)(flo_test_rand(&s) % H);
        int b = (int)(flo_test_rand(&s) % H);
        uint64_t kind = flo_test_rand(&s) % 10;
        /* 80% GPU-only pinned to a GPU, 20% anywhere (host or GPU). */
        int dev = kind < 8 ? 1 + (int)(flo_test_rand(&s) % (uint64_t)logical)
                           : FLO_ANY;
        const flo_kernel *k = kind < 8 ? &k_mix_gpu : &k_mix;
        uint32_t kk = (uint32_t)t;
        if (a == b) {
            flo_access_desc acc = {h[a], FLO_READ_WRITE};
            submit(rt, k, dev, &acc, 1, kk);
            ref_mix(ref[a], NULL, N, kk);
        } else {
            flo_access_desc acc[2] = {{h[a], FLO_READ_WRITE}, {h[b], FLO_READ}};
            submit(rt, k, dev, acc, 2, kk);
            ref_mix(ref[a], ref[b], N, kk);
        }
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < H; i++) {
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
        if (memcmp(x[i], ref[i], N * sizeof(uint32_t)) != 0)
            fail_msg("handle %d differs from the sequential run (logical "
                     "GPUs %d, seed %llu)",
                     i, logical, (unsigned long long)seed);
        free(x[i]);
        free(ref[i]);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_random_one_gpu(void **state)
{
    (void)state;
    run_random(1, FLO_SCHED_DEFAULT, 1);
    run_random(1, FLO_SCHED_WS, 2);
    run_random(1, FLO_SCHED_EAGER, 3);
}

static void test_random_logical_gpus(void **state)
{
    (void)state;
    run_random(2, FLO_SCHED_DEFAULT, 4);
    run_random(3, FLO_SCHED_LOCALITY, 5);
}

/* A task that fails in the middle of a chain launched in stream order:
 * what was launched behind it finishes with FLO_ECANCELED, what came
 * before is unaffected, and the error reaches flo_wait_all. */
static void test_failure_in_chain(void **state)
{
    (void)state;
    enum { N = 256, BEFORE = 20, AFTER = 50 };
    flo_runtime *rt = start(1, FLO_SCHED_DEFAULT);
    uint32_t *x = calloc(N, sizeof *x);
    flo_data h;
    flo_event before[BEFORE], bad, after[AFTER];
    assert_non_null(x);
    assert_int_equal(flo_data_register(rt, x, N * sizeof *x, &h), FLO_OK);
    flo_access_desc rw = {h, FLO_READ_WRITE};
    submit(rt, &k_spin, 1, &rw, 1, 20000000u);
    for (int i = 0; i < BEFORE; i++)
        before[i] = submit(rt, &k_mix_gpu, 1, &rw, 1, (uint32_t)i);
    bad = submit(rt, &k_fail, 1, &rw, 1, 0);
    for (int i = 0; i < AFTER; i++)
        after[i] = submit(rt, &k_mix_gpu, 1, &rw, 1, (uint32_t)i);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    for (int i = 0; i < BEFORE; i++)
        assert_int_equal(flo_event_query(rt, before[i]), FLO_OK);
    assert_int_equal(flo_event_query(rt, bad), FLO_ETASK);
    for (int i = 0; i < AFTER; i++)
        assert_int_equal(flo_event_query(rt, after[i]), FLO_ECANCELED);
    /* The handle is usable again after the error was reported. */
    flo_event again = submit(rt, &k_mix_gpu, 1, &rw, 1, 1);
    assert_int_equal(flo_event_wait(rt, again), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    free(x);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_random_one_gpu),
        cmocka_unit_test(test_random_logical_gpus),
        cmocka_unit_test(test_failure_in_chain),
    };
    return cmocka_run_group_tests_name("device_cuda_streamorder", tests, NULL,
                                       NULL);
}
