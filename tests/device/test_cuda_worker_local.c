/*
 * gpu suite - worker-local keys and flo_execute_on_each_worker on GPU
 * workers: init and fini run on the GPU worker's thread with its device
 * current and a stream to use; the value (device memory here, a cuBLAS
 * handle in a real program) is what tasks on that worker get. Skips
 * visibly without a GPU.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cuda_runtime.h>

#include "cuda_test_util.h"
#include "flotilla/cuda.h"

#define MAXW 64

typedef struct rec {
    atomic_int inits[MAXW], finis[MAXW];
    atomic_int bad; /* Wrong device, no stream, CUDA error. */
    pthread_t init_thread[MAXW], fini_thread[MAXW];
    int host_val[MAXW];       /* Host workers' values. */
    unsigned char seen[MAXW]; /* Byte read back from GPU values at fini. */
    int fail_worker;          /* Init fails there (-1: nowhere). */
} rec;

static flo_runtime *start(void)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.logical_gpus = 2; /* Two GPU workers on one GPU. */
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 3);
    return rt;
}

static bool device_current(flo_task_ctx *ctx)
{
    int dev = -1;
    return cudaGetDevice(&dev) == cudaSuccess &&
           dev == flo_task_cuda_ordinal(ctx);
}

static flo_status init_cb(flo_task_ctx *ctx, void *user, void **value)
{
    rec *r = user;
    int w = flo_task_worker(ctx);

    r->init_thread[w] = pthread_self();
    atomic_fetch_add(&r->inits[w], 1);
    if (w == r->fail_worker)
        return FLO_EDEVICE;
    if (flo_task_device(ctx) == 0) {
        *value = &r->host_val[w];
        return FLO_OK;
    }
    if (!device_current(ctx) || flo_task_cuda_stream(ctx) == NULL) {
        atomic_fetch_add(&r->bad, 1);
        return FLO_EINTERNAL;
    }
    void *p = NULL;
    if (cudaMalloc(&p, 256) != cudaSuccess ||
        cudaMemsetAsync(p, 0, 256, flo_task_cuda_stream(ctx)) != cudaSuccess) {
        atomic_fetch_add(&r->bad, 1);
        return FLO_EDEVICE;
    }
    *value = p;
    return FLO_OK;
}

static void fini_cb(flo_task_ctx *ctx, void *user, void *value)
{
    rec *r = user;
    int w = flo_task_worker(ctx);

    r->fini_thread[w] = pthread_self();
    atomic_fetch_add(&r->finis[w], 1);
    if (flo_task_device(ctx) == 0) {
        if (value != &r->host_val[w])
            atomic_fetch_add(&r->bad, 1);
        return;
    }
    /* Work earlier tasks enqueued with the value may still run: wait for
     * the device, then read the byte they wrote and free it. */
    if (!device_current(ctx) || cudaDeviceSynchronize() != cudaSuccess ||
        cudaMemcpy(&r->seen[w], value, 1, cudaMemcpyDeviceToHost) !=
            cudaSuccess ||
        cudaFree(value) != cudaSuccess)
        atomic_fetch_add(&r->bad, 1);
}

typedef struct use_arg {
    flo_worker_local key;
    rec *r;
    atomic_int *gpu_runs, *host_runs;
} use_arg;

/* On each worker: a GPU worker writes its id + 1 into its value, with
 * its stream; a host worker checks its value. */
static void use_cuda(flo_task_ctx *ctx)
{
    const use_arg *a = flo_task_args(ctx, NULL);
    int w = flo_task_worker(ctx);
    void *v = flo_worker_local_get(ctx, a->key);
    if (!v || !device_current(ctx) ||
        cudaMemsetAsync(v, w + 1, 1, flo_task_cuda_stream(ctx)) != cudaSuccess)
        atomic_fetch_add(&a->r->bad, 1);
    atomic_fetch_add(a->gpu_runs, 1);
}

static void use_host(flo_task_ctx *ctx)
{
    const use_arg *a = flo_task_args(ctx, NULL);
    int w = flo_task_worker(ctx);
    if (flo_worker_local_get(ctx, a->key) != &a->r->host_val[w])
        atomic_fetch_add(&a->r->bad, 1);
    atomic_fetch_add(a->host_runs, 1);
}

static void test_gpu_values(void **state)
{
    (void)state;
    flo_runtime *rt = start();
    static rec r;
    flo_worker_local key;
    atomic_int gpu_runs = 0, host_runs = 0;
    int nw = flo_worker_count(rt);
    assert_true(nw <= MAXW);
    memset(&r, 0, sizeof(r));
    r.fail_worker = -1;

    flo_worker_local_desc d = FLO_WORKER_LOCAL_DESC_INIT;
    d.which = FLO_WORKERS_ALL;
    d.init = init_cb;
    d.fini = fini_cb;
    d.user = &r;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_OK);
    for (int w = 0; w < nw; w++)
        assert_int_equal(atomic_load(&r.inits[w]), 1);
    assert_int_equal(atomic_load(&r.bad), 0);

    use_arg a = {key, &r, &gpu_runs, &host_runs};
    assert_int_equal(flo_execute_on_each_worker(rt, use_host, use_cuda, &a,
                                                sizeof(a), FLO_WORKERS_ALL),
                     FLO_OK);
    assert_int_equal(atomic_load(&gpu_runs), 2);
    assert_int_equal(atomic_load(&host_runs), 2);

    /* Ordinary GPU tasks placed on either GPU see their worker's value. */
    static const flo_kernel k_use = {"wl_use", NULL, use_cuda};
    for (int i = 0; i < 50; i++) {
        flo_task_desc t = FLO_TASK_DESC_INIT;
        t.kernel = &k_use;
        t.args = &a;
        t.args_size = sizeof(a);
        assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&gpu_runs), 52);

    assert_int_equal(flo_worker_local_destroy(rt, key), FLO_OK);
    assert_int_equal(atomic_load(&r.bad), 0);
    for (int w = 0; w < nw; w++) {
        assert_int_equal(atomic_load(&r.finis[w]), 1);
        assert_true(pthread_equal(r.init_thread[w], r.fini_thread[w]));
        if (flo_worker_device(rt, w) != 0)
            assert_int_equal(r.seen[w], w + 1);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* A failing init on one GPU worker: fini on every other worker, on its
 * thread (GPU values freed there), no key. */
static void test_gpu_init_failure(void **state)
{
    (void)state;
    flo_runtime *rt = start();
    static rec r;
    flo_worker_local key = {9, 9};
    int nw = flo_worker_count(rt), gpu0 = -1;
    memset(&r, 0, sizeof(r));
    for (int w = 0; w < nw && gpu0 < 0; w++)
        if (flo_worker_device(rt, w) != 0)
            gpu0 = w;
    assert_true(gpu0 >= 0);
    r.fail_worker = gpu0;

    flo_worker_local_desc d = FLO_WORKER_LOCAL_DESC_INIT;
    d.which = FLO_WORKERS_ALL;
    d.init = init_cb;
    d.fini = fini_cb;
    d.user = &r;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_EDEVICE);
    assert_int_equal(key.id, 9);
    for (int w = 0; w < nw; w++) {
        assert_int_equal(atomic_load(&r.inits[w]), 1);
        assert_int_equal(atomic_load(&r.finis[w]), w == gpu0 ? 0 : 1);
    }
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_int_equal(flo_wait_all(rt), FLO_OK);

    /* GPU workers only: the host workers are left alone. */
    memset(&r, 0, sizeof(r));
    r.fail_worker = -1;
    d.which = FLO_WORKERS_CUDA;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_OK);
    /* The workers' devices, read while the runtime lives. */
    int on_gpu[64];
    assert_true(nw <= 64);
    for (int w = 0; w < nw; w++) {
        on_gpu[w] = flo_worker_device(rt, w) != 0;
        assert_int_equal(atomic_load(&r.inits[w]), on_gpu[w]);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
    for (int w = 0; w < nw; w++)
        assert_int_equal(atomic_load(&r.finis[w]), on_gpu[w]);
    assert_int_equal(atomic_load(&r.bad), 0);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpu_values),
        cmocka_unit_test(test_gpu_init_failure),
    };
    return cmocka_run_group_tests_name("device_cuda_worker_local", tests, NULL,
                                       NULL);
}
