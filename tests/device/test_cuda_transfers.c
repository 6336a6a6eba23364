/*
 * gpu suite - transfers: page-locked and pageable registered memory
 * (pin_host on, FLO_DATA_NO_PIN, pin_host off) give the same data through
 * GPU and host tasks alternating on many handles of multi-MB and odd
 * sizes; the staging thread with and without the gate; a host task
 * reading a GPU-written tile while the GPU keeps launching; prefetch then
 * a GPU task; flush then acquire; unregister while a flush is in flight;
 * copies between two logical GPUs, direct and staged.
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

enum { PIN_DEFAULT = 0, PIN_OPTOUT = 1, PIN_OFF = 2 };

static flo_runtime *start(int logical, int pin_host)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.logical_gpus = logical;
    cfg.no_pin_host = !pin_host;
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_true(flo_device_count(rt) >= 1 + logical);
    return rt;
}

static flo_event submit(flo_runtime *rt, const flo_kernel *k, int device,
                        const flo_access_desc *acc, int nacc, uint32_t kv)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_test_args a = {kv, nacc};
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

static const flo_kernel k_mix = {"mix", flo_test_host_mix, flo_test_cuda_mix};
static const flo_kernel k_set = {"set", flo_test_host_set, flo_test_cuda_set};
static const flo_kernel k_xor = {"xor", flo_test_host_xor, flo_test_cuda_xor};
static const flo_kernel k_spin = {"spin", NULL, flo_test_cuda_spin};

/* Host only: reads buffer 0 (a checksum nobody checks: it must not
 * crash or see a half-filled host copy under the sanitizers). */
static volatile uint32_t touch_sink;
static void host_touch(flo_task_ctx *ctx)
{
    const uint32_t *x = flo_task_buffer(ctx, 0);
    size_t n = flo_task_buffer_size(ctx, 0) / 4;
    uint32_t s = 0;
    for (size_t i = 0; i < n; i += 1024)
        s += x[i];
    touch_sink = s;
}
static const flo_kernel k_touch = {"touch", host_touch, NULL};

static void ref_mix(uint32_t *x, size_t n, uint32_t k)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] * 3u + k + (uint32_t)i;
}

static void ref_set(uint32_t *x, size_t n, uint32_t k)
{
    for (size_t i = 0; i < n; i++)
        x[i] = k ^ (uint32_t)(i * 2654435761u);
}

/* Sizes in uint32 words: multi-MB (several staging chunks, not a
 * multiple of them), odd, one word. */
static const size_t sizes[] = {
    (5u << 20) / 4 + 3, 777777, 1, (9u << 20) / 4, 4099, 1u << 20, 12345, 3,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void check_equal(const uint32_t *got, const uint32_t *want, size_t n,
                        const char *what, int h)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s: handle %d word %zu of %zu: %u, expected %u", what, h,
                     i, n, got[i], want[i]);
}

/*
 * Handles of every size; rounds of read-write tasks that alternate
 * between the host and each GPU (so every round moves every handle), with
 * a reference computed on the host.
 */
static void run_alternating(flo_runtime *rt, int ngpu, unsigned reg_flags,
                            int rounds, const char *what)
{
    uint32_t *buf[NSIZES], *ref[NSIZES];
    flo_data h[NSIZES];
    uint64_t seed = 42;
    for (size_t j = 0; j < NSIZES; j++) {
        buf[j] = malloc(sizes[j] * 4);
        ref[j] = malloc(sizes[j] * 4);
        assert_non_null(buf[j]);
        assert_non_null(ref[j]);
        for (size_t i = 0; i < sizes[j]; i++)
            buf[j][i] = ref[j][i] = (uint32_t)flo_test_rand(&seed);
        assert_int_equal(
            flo_data_register_flags(rt, buf[j], sizes[j] * 4, reg_flags, &h[j]),
            FLO_OK);
    }
    for (int r = 0; r < rounds; r++)
        for (size_t j = 0; j < NSIZES; j++) {
            int dev = (int)((r + (int)j) % (ngpu + 1)); /* 0 = host */
            uint32_t k = (uint32_t)(r * 131 + (int)j);
            flo_access_desc acc = {h[j], FLO_READ_WRITE};
            submit(rt, &k_mix, dev, &acc, 1, k);
            ref_mix(ref[j], sizes[j], k);
        }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    /* Half through acquire, half through unregister's write-back. */
    for (size_t j = 0; j < NSIZES; j++) {
        if (j % 2 == 0) {
            void *p = NULL;
            assert_int_equal(flo_data_acquire(rt, h[j], FLO_READ, &p), FLO_OK);
            check_equal(p, ref[j], sizes[j], what, (int)j);
            assert_int_equal(flo_data_release(rt, h[j]), FLO_OK);
        }
        assert_int_equal(flo_data_unregister(rt, h[j]), FLO_OK);
        check_equal(buf[j], ref[j], sizes[j], what, (int)j);
        free(buf[j]);
        free(ref[j]);
    }
}

static void test_pinned(void **state)
{
    (void)state;
    flo_runtime *rt = start(1, 1);
    run_alternating(rt, 1, 0, 6, "pinned");
    flo_finalize(rt);
}

static void test_register_no_pin(void **state)
{
    (void)state;
    flo_runtime *rt = start(1, 1);
    run_alternating(rt, 1, FLO_DATA_NO_PIN, 6, "FLO_DATA_NO_PIN");
    flo_finalize(rt);
}

static void test_pin_host_off(void **state)
{
    (void)state;
    flo_runtime *rt = start(1, 0);
    run_alternating(rt, 1, 0, 6, "pin_host=0");
    flo_finalize(rt);
}

/* Pageable memory without stream memory operations: the worker waits
 * for the staging thread (the fallback path) - same data. */
static void test_no_gate(void **state)
{
    (void)state;
    flo_runtime *rt = start(1, 0);
    flo__cuda_dev_get(&rt->plat, 1)->gate_ok = false; /* Before any work. */
    run_alternating(rt, 1, 0, 4, "no gate");
    flo_finalize(rt);
}

/* Memory the program page-locked itself is used as is (and stays
 * page-locked after unregister: cudaHostUnregister is not ours). */
static void test_user_pinned(void **state)
{
    (void)state;
    flo_runtime *rt = start(1, 1);
    size_t n = (3u << 20) / 4 + 1;
    uint32_t *p = NULL, *ref = malloc(n * 4);
    assert_non_null(ref);
    assert_int_equal(cudaMallocHost((void **)&p, n * 4), cudaSuccess);
    for (size_t i = 0; i < n; i++)
        p[i] = ref[i] = (uint32_t)i;
    flo_data h;
    assert_int_equal(flo_data_register(rt, p, n * 4, &h), FLO_OK);
    for (int r = 0; r < 4; r++) {
        flo_access_desc acc = {h, FLO_READ_WRITE};
        submit(rt, &k_mix, r % 2, &acc, 1, (uint32_t)r);
        ref_mix(ref, n, (uint32_t)r);
    }
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    check_equal(p, ref, n, "cudaMallocHost", 0);
    assert_int_equal(cudaFreeHost(p), cudaSuccess);
    free(ref);
    flo_finalize(rt);
}

/* Host tasks read tiles the GPU just wrote while the GPU worker keeps
 * launching long kernels on other data (correctness only; the copy home
 * holds no lock the worker needs). */
static void run_host_reads(int pin_host)
{
    flo_runtime *rt = start(1, pin_host);
    enum { NT = 12, NSPIN = 64 };
    size_t n = (8u << 20) / 4;
    uint32_t *tile[NT], *out[NT], *want = malloc(n * 4);
    flo_data ht[NT], ho[NT], hs;
    uint64_t spin_word = 0;
    assert_non_null(want);
    assert_int_equal(flo_data_register(rt, &spin_word, sizeof spin_word, &hs),
                     FLO_OK);
    for (int t = 0; t < NT; t++) {
        tile[t] = calloc(n, 4);
        out[t] = calloc(n, 4);
        assert_non_null(tile[t]);
        assert_non_null(out[t]);
        assert_int_equal(flo_data_register(rt, tile[t], n * 4, &ht[t]), FLO_OK);
        assert_int_equal(flo_data_register(rt, out[t], n * 4, &ho[t]), FLO_OK);
    }
    for (int t = 0; t < NT; t++) {
        flo_access_desc w = {ht[t], FLO_WRITE};
        submit(rt, &k_set, 1, &w, 1, (uint32_t)(t + 1));
        /* The GPU keeps busy meanwhile (about 1 ms each on an H200). */
        for (int s = 0; s < NSPIN / NT; s++) {
            flo_access_desc a = {hs, FLO_READ};
            submit(rt, &k_spin, 1, &a, 1, 2000000u);
        }
        flo_access_desc x[2] = {{ho[t], FLO_WRITE}, {ht[t], FLO_READ}};
        submit(rt, &k_xor, 0, x, 2, 0x5a5a5a5au);
        /* A second host reader of the same tile joins the same copy
         * home or finds it valid. */
        flo_access_desc rd = {ht[t], FLO_READ};
        submit(rt, &k_touch, 0, &rd, 1, 0u);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int t = 0; t < NT; t++) {
        assert_int_equal(flo_data_unregister(rt, ho[t]), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, ht[t]), FLO_OK);
        ref_set(want, n, (uint32_t)(t + 1));
        check_equal(tile[t], want, n, "tile", t);
        for (size_t i = 0; i < n; i++)
            want[i] ^= 0x5a5a5a5au;
        check_equal(out[t], want, n, "host read", t);
        free(tile[t]);
        free(out[t]);
    }
    assert_int_equal(flo_data_unregister(rt, hs), FLO_OK);
    free(want);
    flo_finalize(rt);
}

static void test_host_reads_while_gpu_busy(void **state)
{
    (void)state;
    run_host_reads(1);
    run_host_reads(0);
}

/* Prefetch after a host writer, then a GPU task; bad devices refused. */
static void test_prefetch(void **state)
{
    (void)state;
    flo_runtime *rt = start(1, 1);
    size_t n = (6u << 20) / 4 + 5;
    uint32_t *x = malloc(n * 4), *ref = malloc(n * 4);
    assert_non_null(x);
    assert_non_null(ref);
    flo_data h;
    assert_int_equal(flo_data_register_flags(rt, x, n * 4, FLO_DATA_NO_PIN, &h),
                     FLO_OK);
    assert_int_equal(flo_data_prefetch(rt, h, flo_device_count(rt)),
                     FLO_EINVAL);
    assert_int_equal(flo_data_prefetch(rt, h, -1), FLO_EINVAL);
    flo_access_desc w = {h, FLO_WRITE};
    submit(rt, &k_set, 0, &w, 1, 7u);
    ref_set(ref, n, 7u);
    assert_int_equal(flo_data_prefetch(rt, h, 1), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    /* The prefetch made the GPU copy valid (it ran after the writer). */
    assert_int_not_equal(
        atomic_load(
            &flo__data_lookup(rt, h, &(flo_status){0})->data.rep[1].state),
        FLO__REP_INVALID);
    flo_access_desc rw = {h, FLO_READ_WRITE};
    submit(rt, &k_mix, 1, &rw, 1, 3u);
    ref_mix(ref, n, 3u);
    /* Prefetch a handle that is already there, and to the host. */
    assert_int_equal(flo_data_prefetch(rt, h, 1), FLO_OK);
    assert_int_equal(flo_data_prefetch(rt, h, 0), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    check_equal(x, ref, n, "prefetch", 0);
    assert_int_equal(flo_data_prefetch(rt, h, 1), FLO_ESTALE);
    assert_int_equal(flo_data_flush(rt, h), FLO_ESTALE);
    free(x);
    free(ref);
    flo_finalize(rt);
}

/* Flush after a GPU writer, then acquire; and unregister while a flush
 * is in flight, for pinned and pageable memory and runtime-owned data. */
static void test_flush(void **state)
{
    (void)state;
    for (int pin = 0; pin <= 1; pin++) {
        flo_runtime *rt = start(1, pin);
        size_t n = (16u << 20) / 4 + 1;
        uint32_t *x = malloc(n * 4), *y = malloc(n * 4);
        uint32_t *ref = malloc(n * 4);
        assert_non_null(x);
        assert_non_null(y);
        assert_non_null(ref);
        flo_data hx, hy, hz;
        assert_int_equal(flo_data_register(rt, x, n * 4, &hx), FLO_OK);
        assert_int_equal(flo_data_register(rt, y, n * 4, &hy), FLO_OK);
        assert_int_equal(flo_data_alloc(rt, n * 4, &hz), FLO_OK);
        flo_access_desc wx = {hx, FLO_WRITE}, wy = {hy, FLO_WRITE};
        flo_access_desc wz = {hz, FLO_WRITE};
        submit(rt, &k_set, 1, &wx, 1, 11u);
        submit(rt, &k_set, 1, &wy, 1, 12u);
        submit(rt, &k_set, 1, &wz, 1, 13u);
        assert_int_equal(flo_data_flush(rt, hx), FLO_OK);
        assert_int_equal(flo_data_flush(rt, hy), FLO_OK);
        assert_int_equal(flo_data_flush(rt, hz), FLO_OK);
        /* Unregister at once: the flush may still be copying. */
        assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
        ref_set(ref, n, 12u);
        check_equal(y, ref, n, "unregister during flush", pin);
        void *p = NULL;
        assert_int_equal(flo_data_acquire(rt, hx, FLO_READ, &p), FLO_OK);
        ref_set(ref, n, 11u);
        check_equal(p, ref, n, "flush then acquire", pin);
        assert_int_equal(flo_data_release(rt, hx), FLO_OK);
        assert_int_equal(flo_data_acquire(rt, hz, FLO_READ, &p), FLO_OK);
        ref_set(ref, n, 13u);
        check_equal(p, ref, n, "flush of owned data", pin);
        assert_int_equal(flo_data_release(rt, hz), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, hz), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
        assert_int_equal(flo_data_flush(rt, hx), FLO_ESTALE);
        free(x);
        free(y);
        free(ref);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/* Two logical GPUs: device-to-device copies on one GPU, and the staged
 * path through the staging thread (peer copies disabled). */
static void test_logical_gpus(void **state)
{
    (void)state;
    for (int variant = 0; variant < 4; variant++) {
        bool staged = variant & 1, pinned = variant & 2;
        flo_runtime *rt = start(2, pinned ? 1 : 0);
        if (staged)
            for (int g = 1; g <= 2; g++)
                flo__cuda_dev_get(&rt->plat, g)->p2p_enabled = false;
        run_alternating(rt, 2, 0, 6,
                        staged ? "2 logical GPUs, staged"
                               : "2 logical GPUs, direct");
        /* GPU to GPU only, no host in between. */
        size_t n = (7u << 20) / 4 + 3;
        uint32_t *x = malloc(n * 4), *ref = malloc(n * 4);
        assert_non_null(x);
        assert_non_null(ref);
        flo_data h;
        assert_int_equal(flo_data_register(rt, x, n * 4, &h), FLO_OK);
        flo_access_desc w = {h, FLO_WRITE}, rw = {h, FLO_READ_WRITE};
        submit(rt, &k_set, 1, &w, 1, 5u);
        ref_set(ref, n, 5u);
        for (int r = 0; r < 8; r++) {
            submit(rt, &k_mix, 1 + (r + 1) % 2, &rw, 1, (uint32_t)r);
            ref_mix(ref, n, (uint32_t)r);
        }
        assert_int_equal(flo_data_prefetch(rt, h, 1), FLO_OK);
        assert_int_equal(flo_data_prefetch(rt, h, 2), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
        check_equal(x, ref, n, "GPU to GPU", variant);
        free(x);
        free(ref);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned),
        cmocka_unit_test(test_register_no_pin),
        cmocka_unit_test(test_pin_host_off),
        cmocka_unit_test(test_no_gate),
        cmocka_unit_test(test_user_pinned),
        cmocka_unit_test(test_host_reads_while_gpu_busy),
        cmocka_unit_test(test_prefetch),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_logical_gpus),
    };
    return cmocka_run_group_tests_name("device_cuda_transfers", tests, NULL,
                                       NULL);
}
