/*
 * gpu suite - device memory the program registers
 * (flo_data_register_device): tasks on its GPU use it in place, host
 * tasks and acquires get a host copy, another GPU a copy of its own;
 * unregister writes the latest contents back into it, from the host or
 * from another GPU; the runtime never frees it, also when eviction runs
 * under a small memory limit; refusals on a GPU machine; several threads
 * at once. Prints a TAP skip without a GPU.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cuda_runtime.h>

#include "cuda_test_util.h"
#include "device/cuda/cuda_backend.h"
#include "scheduler/sched.h"

static const flo_kernel k_mix = {
    .name = "mix", .host = flo_test_host_mix, .cuda = flo_test_cuda_mix};
static const flo_kernel k_mix_host = {.name = "mix_host",
                                      .host = flo_test_host_mix};
static const flo_kernel k_mix_gpu = {.name = "mix_gpu",
                                     .cuda = flo_test_cuda_mix};

/* The buffer a CUDA entry point was handed, seen from the host (it
 * enqueues nothing: the task completes at once). */
static _Atomic(uintptr_t) seen_ptr;
static void cuda_note_ptr(flo_task_ctx *ctx)
{
    atomic_store(&seen_ptr, (uintptr_t)flo_task_buffer(ctx, 0));
}
static const flo_kernel k_note = {.name = "note", .cuda = cuda_note_ptr};

static flo_runtime *start(int logical, size_t mem_limit)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.logical_gpus = logical;
    cfg.gpu_mem_limit = mem_limit;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 1 + logical);
    return rt;
}

static int ordinal_of(flo_runtime *rt, int dev)
{
    flo_device_info in;
    assert_int_equal(flo_device_get_info(rt, dev, &in), FLO_OK);
    return in.ordinal;
}

/* n uint32 on the GPU of device dev, holding init[]. */
static uint32_t *dev_buffer(flo_runtime *rt, int dev, const uint32_t *init,
                            size_t n)
{
    void *p = NULL;
    assert_int_equal(cudaSetDevice(ordinal_of(rt, dev)), cudaSuccess);
    assert_int_equal(cudaMalloc(&p, n * 4), cudaSuccess);
    assert_int_equal(cudaMemcpy(p, init, n * 4, cudaMemcpyHostToDevice),
                     cudaSuccess);
    return p;
}

static void dev_read(uint32_t *dst, const uint32_t *src, size_t n)
{
    assert_int_equal(cudaMemcpy(dst, src, n * 4, cudaMemcpyDeviceToHost),
                     cudaSuccess);
}

static flo_event mix(flo_runtime *rt, const flo_kernel *k, flo_data h,
                     int device, uint32_t kv)
{
    flo_access_desc acc = {h, FLO_READ_WRITE};
    flo_test_args a = {kv, 1};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_event ev = FLO_EVENT_NULL;
    d.kernel = k;
    d.access = &acc;
    d.naccess = 1;
    d.args = &a;
    d.args_size = sizeof a;
    d.on_device = FLO_DEVICE(device);
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    return ev;
}

/* The host twin of one mix step on ref. */
static void ref_mix(uint32_t *x, size_t n, uint32_t k)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] * 3u + k + (uint32_t)i;
}

static void fill_pattern(uint32_t *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        x[i] = seed * 2654435761u + (uint32_t)i * 40503u;
}

static void check_freed_by_us(uint32_t *p)
{
    /* The runtime never freed it: ours to free, exactly once. */
    struct cudaPointerAttributes a;
    assert_int_equal(cudaPointerGetAttributes(&a, p), cudaSuccess);
    assert_int_equal(a.type, cudaMemoryTypeDevice);
    assert_int_equal(cudaFree(p), cudaSuccess);
}

/* GPU tasks in place, a host task between them (host copy made by the
 * runtime), unregister: the device memory holds the result. */
static void test_in_place_and_host(void **state)
{
    enum { N = 1 << 16 };
    uint32_t *ref = malloc(N * 4), *got = malloc(N * 4), *p;
    flo_runtime *rt = start(1, 0);
    flo_stats st0, st1;
    flo_data h;

    (void)state;
    fill_pattern(ref, N, 7);
    p = dev_buffer(rt, 1, ref, N);
    assert_int_equal(flo_data_register_device(rt, 1, p, N * 4, &h), FLO_OK);
    assert_int_equal(flo_stats_get(rt, &st0), FLO_OK);

    /* Zero copy: the task on device 1 gets the program's pointer. */
    {
        flo_access_desc acc = {h, FLO_READ};
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &k_note;
        d.access = &acc;
        d.naccess = 1;
        d.on_device = FLO_DEVICE(1);
        assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        assert_true(atomic_load(&seen_ptr) == (uintptr_t)p);
    }
    mix(rt, &k_mix_gpu, h, 1, 11);
    ref_mix(ref, N, 11);
    mix(rt, &k_mix_host, h, 0, 12);
    ref_mix(ref, N, 12);
    mix(rt, &k_mix_gpu, h, 1, 13);
    ref_mix(ref, N, 13);
    mix(rt, &k_mix_host, h, 0, 14); /* Last writer: the host. */
    ref_mix(ref, N, 14);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_stats_get(rt, &st1), FLO_OK);
    /* The first host task copied it home, the second GPU task back. */
    assert_true(st1.bytes_d2h - st0.bytes_d2h >= (uint64_t)N * 4);
    assert_true(st1.bytes_h2d - st0.bytes_h2d >= (uint64_t)N * 4);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    dev_read(got, p, N);
    assert_memory_equal(got, ref, N * 4);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    check_freed_by_us(p);
    free(ref);
    free(got);
}

/* An acquire gets the contents on the host; a write acquire's changes
 * reach the device memory at unregister. */
static void test_acquire(void **state)
{
    enum { N = 4096 };
    uint32_t *ref = malloc(N * 4), *got = malloc(N * 4), *p, *v;
    flo_runtime *rt = start(1, 0);
    flo_data h;

    (void)state;
    fill_pattern(ref, N, 3);
    p = dev_buffer(rt, 1, ref, N);
    assert_int_equal(flo_data_register_device(rt, 1, p, N * 4, &h), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, h, FLO_READ, (void **)&v), FLO_OK);
    assert_ptr_not_equal(v, p);
    assert_memory_equal(v, ref, N * 4);
    assert_int_equal(flo_data_release(rt, h), FLO_OK);
    mix(rt, &k_mix_gpu, h, 1, 5);
    ref_mix(ref, N, 5);
    assert_int_equal(flo_data_acquire(rt, h, FLO_READ_WRITE, (void **)&v),
                     FLO_OK);
    assert_memory_equal(v, ref, N * 4);
    for (size_t i = 0; i < N; i++)
        v[i] ^= 0xa5a5a5a5u;
    for (size_t i = 0; i < N; i++)
        ref[i] ^= 0xa5a5a5a5u;
    assert_int_equal(flo_data_release(rt, h), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    dev_read(got, p, N);
    assert_memory_equal(got, ref, N * 4);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    check_freed_by_us(p);
    free(ref);
    free(got);
}

/* Two logical devices of the GPU: the last writer runs on the other
 * one, so unregister pulls device to device; then finalize (not
 * unregister) writes back a handle last written on the host. */
static void test_other_device_and_finalize(void **state)
{
    enum { N = 1 << 14 };
    uint32_t *ra = malloc(N * 4), *rb = malloc(N * 4), *got = malloc(N * 4);
    uint32_t *pa, *pb;
    flo_runtime *rt = start(2, 0);
    flo_data ha, hb;

    (void)state;
    fill_pattern(ra, N, 21);
    fill_pattern(rb, N, 22);
    pa = dev_buffer(rt, 1, ra, N);
    pb = dev_buffer(rt, 2, rb, N);
    assert_int_equal(flo_data_register_device(rt, 1, pa, N * 4, &ha), FLO_OK);
    assert_int_equal(flo_data_register_device(rt, 2, pb, N * 4, &hb), FLO_OK);
    mix(rt, &k_mix_gpu, ha, 2, 1); /* a on the other device */
    ref_mix(ra, N, 1);
    mix(rt, &k_mix_gpu, ha, 2, 2);
    ref_mix(ra, N, 2);
    mix(rt, &k_mix_gpu, hb, 2, 3); /* b in place, then on the host */
    ref_mix(rb, N, 3);
    mix(rt, &k_mix_host, hb, 0, 4);
    ref_mix(rb, N, 4);
    assert_int_equal(flo_data_unregister(rt, ha), FLO_OK);
    dev_read(got, pa, N);
    assert_memory_equal(got, ra, N * 4);
    assert_int_equal(flo_finalize(rt), FLO_OK); /* hb still registered */
    dev_read(got, pb, N);
    assert_memory_equal(got, rb, N * 4);
    check_freed_by_us(pa);
    check_freed_by_us(pb);
    free(ra);
    free(rb);
    free(got);
}

/* A memory limit of 1 MiB and 24 handles of 256 KiB cycling through the
 * GPU: replicas are evicted all the time, never the registered memory
 * (larger than the limit itself: it is not counted against it). */
static void test_never_evicted(void **state)
{
    enum { N = 1 << 20, NH = 24, M = 1 << 16 };
    const size_t limit = 1 << 20;
    uint32_t *ref = malloc(N * 4), *got = malloc(N * 4), *p;
    uint32_t *hostv[NH], *refh[NH];
    flo_runtime *rt = start(1, limit);
    flo__cuda_dev *cd = flo__cuda_dev_get(&rt->plat, 1);
    flo_data h, hh[NH];
    flo_stats st;
    size_t held = 0;

    (void)state;
    assert_non_null(cd);
    fill_pattern(ref, N, 99);
    p = dev_buffer(rt, 1, ref, N);
    assert_int_equal(flo_data_register_device(rt, 1, p, N * 4, &h), FLO_OK);
    for (int i = 0; i < NH; i++) {
        hostv[i] = malloc(M * 4);
        refh[i] = malloc(M * 4);
        fill_pattern(hostv[i], M, 1000u + (uint32_t)i);
        memcpy(refh[i], hostv[i], M * 4);
        assert_int_equal(flo_data_register(rt, hostv[i], M * 4, &hh[i]),
                         FLO_OK);
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < NH; i++) {
            uint32_t k = (uint32_t)(round * 100 + i);
            mix(rt, &k_mix_gpu, hh[i], 1, k);
            ref_mix(refh[i], M, k);
        }
        mix(rt, &k_mix_gpu, h, 1, (uint32_t)round);
        ref_mix(ref, N, (uint32_t)round);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        flo__cuda_pool_usage(cd, &held, NULL);
        assert_true(held <= limit);
    }
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_true(st.evictions > 0);
    for (int i = 0; i < NH; i++) {
        assert_int_equal(flo_data_unregister(rt, hh[i]), FLO_OK);
        assert_memory_equal(hostv[i], refh[i], M * 4);
        free(hostv[i]);
        free(refh[i]);
    }
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    dev_read(got, p, N);
    assert_memory_equal(got, ref, N * 4);
    /* Finalize gives the pool back to the driver: had the registered
     * memory gone into it, it would be freed there, and our cudaFree
     * below would fail. */
    assert_int_equal(flo_finalize(rt), FLO_OK);
    check_freed_by_us(p);
    free(ref);
    free(got);
}

/* Refusals on a GPU machine; nothing registered, the output untouched. */
static void test_refused(void **state)
{
    const flo_data sentinel = {0x5151, 0x7777};
    flo_runtime *rt = start(1, 0);
    flo_data h = sentinel;
    void *host = malloc(256), *pinned = NULL, *dp = NULL;

    (void)state;
    assert_int_equal(cudaSetDevice(ordinal_of(rt, 1)), cudaSuccess);
    assert_int_equal(cudaMalloc(&dp, 256), cudaSuccess);
    assert_int_equal(cudaMallocHost(&pinned, 256), cudaSuccess);
    assert_int_equal(flo_data_register_device(rt, 0, dp, 256, &h), FLO_ENODEV);
    assert_int_equal(flo_data_register_device(rt, 2, dp, 256, &h), FLO_ENODEV);
    assert_int_equal(flo_data_register_device(rt, -1, dp, 256, &h), FLO_ENODEV);
    assert_int_equal(flo_data_register_device(rt, 1, host, 256, &h),
                     FLO_EINVAL);
    assert_int_equal(flo_data_register_device(rt, 1, pinned, 256, &h),
                     FLO_EINVAL);
    assert_int_equal(flo_data_register_device(rt, 1, dp, 0, &h), FLO_EINVAL);
    assert_int_equal(flo_data_register_device(rt, 1, NULL, 256, &h),
                     FLO_EINVAL);
    assert_true(flo_data_equal(h, sentinel));
    /* Memory of another physical GPU is not this device's. */
    if (flo_test_gpu_count() > 1) {
        void *other = NULL;
        int o = ordinal_of(rt, 1) == 0 ? 1 : 0;
        assert_int_equal(cudaSetDevice(o), cudaSuccess);
        assert_int_equal(cudaMalloc(&other, 256), cudaSuccess);
        assert_int_equal(flo_data_register_device(rt, 1, other, 256, &h),
                         FLO_EINVAL);
        assert_true(flo_data_equal(h, sentinel));
        assert_int_equal(cudaFree(other), cudaSuccess);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_int_equal(cudaFree(dp), cudaSuccess);
    assert_int_equal(cudaFreeHost(pinned), cudaSuccess);
    free(host);
}

/* Several threads register their own device memory at once, run chains
 * on it (GPU and host) and unregister; the main thread checks. */
#define NTH 4

typedef struct th_arg {
    flo_runtime *rt;
    int id, ordinal;
    uint32_t *p;
    int errors;
} th_arg;

enum { TN = 1 << 14 };

static void *th_main(void *arg)
{
    th_arg *a = arg;
    flo_access_desc acc;
    flo_test_args ta = {0, 1};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_data h;

    if (cudaSetDevice(a->ordinal) != cudaSuccess ||
        flo_data_register_device(a->rt, 1, a->p, TN * 4, &h) != FLO_OK) {
        a->errors++;
        return NULL;
    }
    acc.data = h;
    acc.mode = FLO_READ_WRITE;
    d.access = &acc;
    d.naccess = 1;
    d.args = &ta;
    d.args_size = sizeof ta;
    for (int i = 0; i < 8; i++) {
        ta.k = (uint32_t)(a->id * 10 + i);
        d.kernel = i % 3 == 2 ? &k_mix_host : &k_mix;
        if (flo_task_submit(a->rt, &d, NULL) != FLO_OK)
            a->errors++;
    }
    if (flo_data_unregister(a->rt, h) != FLO_OK)
        a->errors++;
    return NULL;
}

static void test_threads(void **state)
{
    flo_runtime *rt = start(1, 0);
    uint32_t *ref = malloc(TN * 4), *got = malloc(TN * 4);
    pthread_t th[NTH];
    th_arg a[NTH];

    (void)state;
    for (int t = 0; t < NTH; t++) {
        fill_pattern(ref, TN, 500u + (uint32_t)t);
        a[t].rt = rt;
        a[t].id = t;
        a[t].ordinal = ordinal_of(rt, 1);
        a[t].p = dev_buffer(rt, 1, ref, TN);
        a[t].errors = 0;
    }
    for (int t = 0; t < NTH; t++)
        assert_int_equal(pthread_create(&th[t], NULL, th_main, &a[t]), 0);
    for (int t = 0; t < NTH; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < NTH; t++) {
        assert_int_equal(a[t].errors, 0);
        fill_pattern(ref, TN, 500u + (uint32_t)t);
        for (int i = 0; i < 8; i++)
            ref_mix(ref, TN, (uint32_t)(t * 10 + i));
        dev_read(got, a[t].p, TN);
        assert_memory_equal(got, ref, TN * 4);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
    for (int t = 0; t < NTH; t++)
        check_freed_by_us(a[t].p);
    free(ref);
    free(got);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_place_and_host),
        cmocka_unit_test(test_acquire),
        cmocka_unit_test(test_other_device_and_finalize),
        cmocka_unit_test(test_never_evicted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("device_cuda_register_device", tests,
                                       NULL, NULL);
}
