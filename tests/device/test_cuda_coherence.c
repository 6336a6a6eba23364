/*
 * gpu suite - coherence of data across the host and (logical) GPUs.
 *
 * Each case runs the same pseudo-random sequence of tasks twice: once on
 * host workers only (the reference) and once spread over the host and
 * cfg.logical_gpus devices of one GPU, then compares every byte. Variants
 * force the peer (device-to-device) path, the staged path through the
 * host, and eviction under a small memory limit.
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

#define MAX_DATA 16

static const flo_kernel k_mix = {"mix", flo_test_host_mix, flo_test_cuda_mix};
static const flo_kernel k_set = {"set", flo_test_host_set, flo_test_cuda_set};
static const flo_kernel k_xor = {"xor", flo_test_host_xor, flo_test_cuda_xor};

typedef struct seq_cfg {
    bool gpu;         /* false: the host-only reference run. */
    int logical;      /* Logical devices per GPU. */
    size_t mem_limit; /* cfg.gpu_mem_limit. */
    bool staged;      /* Disable peer/D2D copies. */
    bool gpu_only;    /* Place every task on a GPU (no host tasks). */
    int ntasks;
    uint64_t seed;
    size_t elems; /* uint32 per handle. */
    int ndata;
} seq_cfg;

typedef struct seq_out {
    uint32_t *data[MAX_DATA];
    flo_stats st;
    int ngpu;
} seq_out;

static flo_status submit(flo_runtime *rt, const flo_kernel *k, flo_data a,
                         flo_access ma, flo_data b, flo_access mb, int nbuf,
                         uint32_t kval, int device)
{
    flo_access_desc acc[2] = {{a, ma}, {b, mb}};
    flo_test_args args = {kval, nbuf};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = k;
    d.access = acc;
    d.naccess = nbuf;
    d.args = &args;
    d.args_size = sizeof args;
    d.on_device = FLO_DEVICE(device);
    return flo_task_submit(rt, &d, NULL);
}

static void run_seq(const seq_cfg *c, seq_out *o)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    if (c->gpu) {
        cfg.devices = FLO_DEVICES_CUDA;
        cfg.gpus = 1;
        cfg.logical_gpus = c->logical;
        cfg.gpu_mem_limit = c->mem_limit;
    } else {
        cfg.devices = FLO_DEVICES_HOST;
    }
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    int ndev = flo_device_count(rt);
    o->ngpu = ndev - 1;
    if (c->gpu) {
        assert_int_equal(ndev, 1 + c->logical);
        for (int i = 1; i < ndev; i++) {
            flo__cuda_dev *cd = flo__cuda_dev_get(&rt->plat, i);
            assert_non_null(cd);
            if (c->staged)
                cd->p2p_enabled = false;
        }
    }

    size_t bytes = c->elems * sizeof(uint32_t);
    flo_data h[MAX_DATA];
    uint32_t *user[MAX_DATA] = {0};
    for (int i = 0; i < c->ndata; i++) {
        if (i % 2 == 0) {
            user[i] = malloc(bytes);
            assert_non_null(user[i]);
            for (size_t j = 0; j < c->elems; j++)
                user[i][j] = (uint32_t)(i * 1000003u + j);
            assert_int_equal(flo_data_register(rt, user[i], bytes, &h[i]),
                             FLO_OK);
        } else {
            assert_int_equal(flo_data_alloc(rt, bytes, &h[i]), FLO_OK);
        }
    }

    uint64_t s = c->seed;
    for (int t = 0; t < c->ntasks; t++) {
        int kind = (int)(flo_test_rand(&s) % 4);
        int a = (int)(flo_test_rand(&s) % (uint64_t)c->ndata);
        int b = (int)(flo_test_rand(&s) % (uint64_t)(c->ndata - 1));
        if (b >= a)
            b++;
        uint32_t kval = (uint32_t)flo_test_rand(&s);
        int choice = (int)(flo_test_rand(&s) % (uint64_t)(c->logical + 2));
        int dev = FLO_ANY;
        if (c->gpu) {
            if (c->gpu_only)
                dev = 1 + choice % c->logical;
            else if (choice <= c->logical)
                dev = choice; /* 0 is the host. */
        }
        flo_status st;
        switch (kind) {
        case 0:
            st = submit(rt, &k_mix, h[a], FLO_READ_WRITE, h[b], FLO_READ, 2,
                        kval, dev);
            break;
        case 1:
            st = submit(rt, &k_mix, h[a], FLO_READ_WRITE, h[b], FLO_READ, 1,
                        kval, dev);
            break;
        case 2:
            st = submit(rt, &k_set, h[a], FLO_WRITE, h[b], FLO_READ, 1, kval,
                        dev);
            break;
        default:
            st = submit(rt, &k_xor, h[a], FLO_WRITE, h[b], FLO_READ, 2, kval,
                        dev);
            break;
        }
        assert_int_equal(st, FLO_OK);
        if (flo_test_rand(&s) % 16 == 0) {
            /* The host reads and writes in the middle of the sequence:
             * brings the data home and invalidates device copies. */
            uint32_t *p = NULL;
            flo_status ast =
                flo_data_acquire(rt, h[a], FLO_READ_WRITE, (void **)&p);
            if (ast != FLO_OK) {
                char m[256];
                flo_wait_all(rt);
                flo_error_message(rt, FLO_EVENT_NULL, m, sizeof m);
                fail_msg("acquire after task %d: %s; first task error: %s", t,
                         flo_status_str(ast), m);
            }
            p[c->elems / 2] += 7u;
            assert_int_equal(flo_data_release(rt, h[a]), FLO_OK);
        }
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < c->ndata; i++) {
        void *p = NULL;
        o->data[i] = malloc(bytes);
        assert_non_null(o->data[i]);
        assert_int_equal(flo_data_acquire(rt, h[i], FLO_READ, &p), FLO_OK);
        memcpy(o->data[i], p, bytes);
        assert_int_equal(flo_data_release(rt, h[i]), FLO_OK);
    }
    /* Unregister writes registered data back to the user's memory. */
    for (int i = 0; i < c->ndata; i++)
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
    for (int i = 0; i < c->ndata; i++)
        if (user[i]) {
            assert_memory_equal(user[i], o->data[i], bytes);
            free(user[i]);
        }
    assert_int_equal(flo_stats_get(rt, &o->st), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void free_out(seq_out *o)
{
    for (int i = 0; i < MAX_DATA; i++)
        free(o->data[i]);
}

/* Run c on the GPU and on the host; assert identical results. */
static void compare(seq_cfg c, seq_out *gpu_out)
{
    seq_out ref = {0};
    seq_cfg h = c;
    h.gpu = false;
    run_seq(&h, &ref);
    c.gpu = true;
    run_seq(&c, gpu_out);
    for (int i = 0; i < c.ndata; i++)
        assert_memory_equal(ref.data[i], gpu_out->data[i],
                            c.elems * sizeof(uint32_t));
    free_out(&ref);
}

static void test_random_host_and_logical_gpus(void **state)
{
    (void)state;
    seq_cfg c = {.logical = 3,
                 .ntasks = 800,
                 .seed = 12345,
                 .elems = 4096 + 17,
                 .ndata = 8};
    seq_out o = {0};
    compare(c, &o);
    assert_int_equal(o.ngpu, 3);
    assert_true(o.st.bytes_h2d > 0);
    assert_true(o.st.bytes_d2h > 0);
    free_out(&o);
}

static void test_peer_path(void **state)
{
    (void)state;
    seq_cfg c = {.logical = 3,
                 .gpu_only = true,
                 .ntasks = 400,
                 .seed = 7,
                 .elems = 1 << 14,
                 .ndata = 6};
    seq_out o = {0};
    compare(c, &o);
    /* Logical devices of one GPU reach each other directly. */
    assert_true(o.st.bytes_p2p > 0);
    free_out(&o);
}

static void test_staged_path(void **state)
{
    (void)state;
    seq_cfg c = {.logical = 3,
                 .gpu_only = true,
                 .staged = true,
                 .ntasks = 400,
                 .seed = 7,
                 .elems = 1 << 14,
                 .ndata = 6};
    seq_out o = {0};
    compare(c, &o);
    assert_int_equal(o.st.bytes_p2p, 0);
    assert_true(o.st.bytes_d2h > 0);
    free_out(&o);
}

static void test_staged_multi_chunk(void **state)
{
    (void)state;
    /* 6 MiB handles: larger than one 4 MiB staging buffer. */
    seq_cfg c = {.logical = 2,
                 .gpu_only = true,
                 .staged = true,
                 .ntasks = 40,
                 .seed = 99,
                 .elems = (6u << 20) / 4 + 5,
                 .ndata = 3};
    seq_out o = {0};
    compare(c, &o);
    free_out(&o);
}

static void test_eviction_small_limit(void **state)
{
    (void)state;
    /* 12 handles of 256 KiB, 1 MiB per device: a task needs at most two
     * handles, so it always fits once others are evicted. */
    seq_cfg c = {.logical = 1,
                 .gpu_only = true,
                 .mem_limit = 1 << 20,
                 .ntasks = 300,
                 .seed = 2024,
                 .elems = (256u << 10) / 4,
                 .ndata = 12};
    seq_out o = {0};
    compare(c, &o);
    assert_true(o.st.evictions > 0);
    free_out(&o);
}

static void test_eviction_logical_peers(void **state)
{
    (void)state;
    seq_cfg c = {.logical = 3,
                 .mem_limit = 1 << 20,
                 .ntasks = 500,
                 .seed = 31337,
                 .elems = (256u << 10) / 4,
                 .ndata = 10};
    seq_out o = {0};
    compare(c, &o);
    assert_true(o.st.evictions > 0);
    free_out(&o);
}

static void test_own_buffers_too_big(void **state)
{
    (void)state;
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 1;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.gpu_mem_limit = 1 << 20;
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    flo_data a, b;
    assert_int_equal(flo_data_alloc(rt, 768u << 10, &a), FLO_OK);
    assert_int_equal(flo_data_alloc(rt, 768u << 10, &b), FLO_OK);
    flo_access_desc acc[2] = {{a, FLO_READ_WRITE}, {b, FLO_READ}};
    flo_test_args args = {1, 2};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &k_mix;
    d.access = acc;
    d.naccess = 2;
    d.args = &args;
    d.args_size = sizeof args;
    d.on_device = FLO_DEVICE(1);
    flo_event ev;
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_ENOMEM);
    char msg[256];
    assert_int_equal(flo_error_message(rt, ev, msg, sizeof msg), FLO_OK);
    assert_non_null(strstr(msg, "mix"));
    assert_int_equal(flo_wait_all(rt), FLO_ENOMEM);
    /* One of them alone fits: the device is still usable. */
    d.naccess = 1;
    args.nbuf = 1;
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, a), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, b), FLO_OK);
    flo_finalize(rt);
}

static void test_device_info_and_ordinal(void **state)
{
    (void)state;
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 1;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.logical_gpus = 2;
    cfg.streams_per_gpu = 3;
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 3);
    for (int i = 1; i < 3; i++) {
        flo_device_info info;
        assert_int_equal(flo_device_get_info(rt, i, &info), FLO_OK);
        assert_int_equal(info.kind, FLO_DEVICE_CUDA);
        assert_int_equal(info.ordinal, 0);
        assert_int_equal(info.logical_index, i - 1);
        assert_int_equal(info.workers, 1);
        assert_true(info.memory_bytes > 0);
        assert_true(strlen(info.name) > 0);
        assert_int_equal(flo__cuda_dev_get(&rt->plat, i)->nstreams, 3);
    }
    int gpu_workers = 0;
    for (int w = 0; w < flo_worker_count(rt); w++)
        gpu_workers += flo_worker_device(rt, w) >= 1;
    assert_int_equal(gpu_workers, 2);

    static const flo_kernel k_ord = {"ordinal", NULL, flo_test_cuda_ordinal};
    unsigned char *buf = calloc(1, 64);
    assert_non_null(buf);
    flo_data h;
    assert_int_equal(flo_data_register(rt, buf, 64, &h), FLO_OK);
    flo_access_desc acc = {h, FLO_READ_WRITE};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &k_ord;
    d.access = &acc;
    d.naccess = 1;
    d.on_device = FLO_DEVICE(2);
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(buf[0], 1); /* Ordinal 0, plus one. */
    free(buf);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_info_and_ordinal),
        cmocka_unit_test(test_random_host_and_logical_gpus),
        cmocka_unit_test(test_peer_path),
        cmocka_unit_test(test_staged_path),
        cmocka_unit_test(test_staged_multi_chunk),
        cmocka_unit_test(test_eviction_small_limit),
        cmocka_unit_test(test_eviction_logical_peers),
        cmocka_unit_test(test_own_buffers_too_big),
    };
    return cmocka_run_group_tests_name("device_cuda_coherence", tests, NULL,
                                       NULL);
}
