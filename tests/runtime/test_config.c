/*
 * runtime_config: configuration defaults, FLO_* environment overrides,
 * invalid configurations, synthetic topologies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flo_build_config.h"
#include "scheduler/sched.h"
#include <math.h>
#include <pthread.h>

#include "tests/scheduler/testutil.h"

static int setup(void **state)
{
    (void)state;
    flot_clear_env();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    flot_clear_env();
    return 0;
}

static void assert_config_equal(const flo_config *a, const flo_config *b)
{
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->host_workers, b->host_workers);
    assert_int_equal(a->sched, b->sched);
    assert_int_equal(a->devices, b->devices);
    assert_int_equal(a->no_bind, b->no_bind);
    assert_ptr_equal(a->trace_path, b->trace_path);
    assert_int_equal(a->stats, b->stats);
    assert_int_equal(a->gpus, b->gpus);
    assert_ptr_equal(a->gpu_list, b->gpu_list);
    assert_int_equal(a->streams_per_gpu, b->streams_per_gpu);
    assert_int_equal(a->gpu_mem_limit, b->gpu_mem_limit);
    assert_int_equal(a->logical_gpus, b->logical_gpus);
    assert_ptr_equal(a->topology, b->topology);
    assert_int_equal(a->log_level, b->log_level);
    assert_int_equal(a->ignore_env, b->ignore_env);
    assert_int_equal(a->mpi_comm.valid, b->mpi_comm.valid);
    assert_memory_equal(a->mpi_comm.value, b->mpi_comm.value,
                        sizeof(a->mpi_comm.value));
    assert_true(a->coll_timeout_s == b->coll_timeout_s);
    assert_int_equal(a->no_pin_host, b->no_pin_host);
}

static void test_config_init_matches_macro(void **state)
{
    (void)state;
    flo_config m = FLO_CONFIG_INIT;
    flo_config f;
    memset(&f, 0xa5, sizeof(f));
    assert_int_equal(flo_config_init(&f), FLO_OK);
    assert_config_equal(&m, &f);
    assert_int_equal(m.size, sizeof(flo_config));
    assert_int_equal(m.version, FLO_VERSION);
    assert_int_equal(flo_config_init(NULL), FLO_EINVAL);

    /* Apart from its header, the default configuration is all zeros. */
    flo_config z;
    memset(&z, 0, sizeof(z));
    z.size = m.size;
    z.version = m.version;
    assert_config_equal(&m, &z);
}

/* A trivial task to prove a runtime works. */
static atomic_int ran;
static void k_count(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_fetch_add(&ran, 1);
}
static const flo_kernel kcount = {"count", k_count, NULL};

static void run_some(flo_runtime *rt, int n)
{
    atomic_store(&ran, 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(flot_submit(rt, &kcount, NULL, 0, NULL, 0, NULL),
                         FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&ran), n);
}

/* A zeroed flo_config (size 0 included: the library's own layout) is the
 * default configuration: flo_init accepts it and resolves every field to
 * the value in use. */
static void test_zero_config(void **state)
{
    (void)state;
    flo_config z;
    flo_runtime *rt = NULL;
    memset(&z, 0, sizeof(z));
    setenv("FLO_DEVICES", "host", 1);
    assert_int_equal(flo_init(&z, &rt), FLO_OK);
    assert_int_equal(rt->cfg.size, sizeof(flo_config));
    assert_int_equal(rt->cfg.version, FLO_VERSION);
    assert_int_equal(rt->cfg.streams_per_gpu, 2);
    assert_int_equal(rt->cfg.logical_gpus, 1);
    assert_true(rt->cfg.coll_timeout_s == 300.0);
    assert_int_equal(rt->cfg.no_bind, 0);
    assert_int_equal(rt->cfg.no_pin_host, 0);
    assert_int_equal(rt->cfg.mpi_comm.valid, 0);
    assert_true(flo_worker_count(rt) >= 1);
    run_some(rt, 20);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    /* {0} with a few fields set, as a program writes it. */
    flo_config c = {0};
    c.host_workers = 3;
    c.ignore_env = 1;
    c.devices = FLO_DEVICES_HOST;
    assert_int_equal(flo_init(&c, &rt), FLO_OK);
    assert_int_equal(flo_worker_count(rt), 3);
    run_some(rt, 20);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* The boolean variables map to the negative fields: FLO_BIND=0 is
 * no_bind, FLO_PIN_HOST=0 no_pin_host; FLO_GPUS=0 means no GPU. */
static void test_env_negative_fields(void **state)
{
    (void)state;
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.host_workers = 1;
    cfg.devices = FLO_DEVICES_AUTO;
    setenv("FLO_BIND", "0", 1);
    setenv("FLO_PIN_HOST", "0", 1);
    setenv("FLO_GPUS", "0", 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(rt->cfg.no_bind, 1);
    assert_int_equal(rt->cfg.no_pin_host, 1);
    assert_int_equal(rt->cfg.devices, FLO_DEVICES_HOST);
    assert_int_equal(flo_device_count(rt), 1);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    cfg.no_bind = 1;
    cfg.no_pin_host = 1;
    setenv("FLO_BIND", "1", 1);
    setenv("FLO_PIN_HOST", "1", 1);
    setenv("FLO_GPUS", "2", 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(rt->cfg.no_bind, 0);
    assert_int_equal(rt->cfg.no_pin_host, 0);
    assert_int_equal(rt->cfg.gpus, 2);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    unsetenv("FLO_BIND");
    unsetenv("FLO_PIN_HOST");
    unsetenv("FLO_GPUS");
}

/* FLO_WRITE_THROUGH by name or number; write-through at rest turns the
 * lineage on unless one was asked for; a bad value is refused. */
static void test_env_write_through(void **state)
{
    static const struct {
        const char *env;
        int want;
    } cases[] = {{"off", FLO_WRITE_THROUGH_OFF},
                 {"all", FLO_WRITE_THROUGH_ALL},
                 {"rest", FLO_WRITE_THROUGH_REST},
                 {"1", FLO_WRITE_THROUGH_ALL},
                 {"2", FLO_WRITE_THROUGH_REST}};
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;

    (void)state;
    cfg.host_workers = 1;
    cfg.devices = FLO_DEVICES_HOST;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setenv("FLO_WRITE_THROUGH", cases[i].env, 1);
        assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
        assert_int_equal(rt->cfg.write_through, cases[i].want);
        assert_int_equal(rt->lineage, cases[i].want == FLO_WRITE_THROUGH_REST
                                          ? FLO_WRITE_THROUGH_REST_LINEAGE
                                          : 0);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
    setenv("FLO_LINEAGE", "8", 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(rt->lineage, 8); /* The one asked for. */
    assert_int_equal(flo_finalize(rt), FLO_OK);
    unsetenv("FLO_LINEAGE");
    rt = NULL;
    setenv("FLO_WRITE_THROUGH", "3", 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    assert_null(rt);
    unsetenv("FLO_WRITE_THROUGH");
}

static void test_init_null_cfg(void **state)
{
    (void)state;
    flo_runtime *rt = NULL;
    setenv("FLO_DEVICES", "host", 1);
    assert_int_equal(flo_init(NULL, &rt), FLO_OK);
    assert_non_null(rt);
    assert_true(flo_device_count(rt) >= 1);
    assert_true(flo_worker_count(rt) >= 1);
    assert_int_equal(flo_worker_device(rt, 0), 0);
    run_some(rt, 50);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    assert_int_equal(flo_init(NULL, NULL), FLO_EINVAL);
    assert_int_equal(flo_finalize(NULL), FLO_EINVAL);
}

static void test_worker_count(void **state)
{
    (void)state;
    static const int counts[] = {1, 2, 3, 5, 16};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, counts[i]);
        assert_non_null(rt);
        assert_int_equal(flo_worker_count(rt), counts[i]);
        assert_int_equal(flo_device_count(rt), 1);
        for (int w = 0; w < counts[i]; w++)
            assert_int_equal(flo_worker_device(rt, w), 0);
        assert_int_equal(flo_worker_device(rt, counts[i]), -1);
        assert_int_equal(flo_worker_device(rt, -1), -1);

        flo_device_info info;
        memset(&info, 0x5a, sizeof(info));
        assert_int_equal(flo_device_get_info(rt, 0, &info), FLO_OK);
        assert_int_equal(info.kind, FLO_DEVICE_HOST);
        assert_int_equal(info.ordinal, -1);
        assert_int_equal(info.workers, counts[i]);
        assert_non_null(memchr(info.name, '\0', sizeof(info.name)));
        assert_true(strlen(info.name) > 0);
        assert_int_equal(flo_device_get_info(rt, 1, &info), FLO_EINVAL);
        assert_int_equal(flo_device_get_info(rt, -1, &info), FLO_EINVAL);
        assert_int_equal(flo_device_get_info(rt, 0, NULL), FLO_EINVAL);

        run_some(rt, 100);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

static void test_env_host_workers(void **state)
{
    (void)state;
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.host_workers = 2;
    setenv("FLO_HOST_WORKERS", "3", 1);
    setenv("FLO_DEVICES", "host", 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_worker_count(rt), 3);
    assert_int_equal(rt->cfg.host_workers, 3);
    run_some(rt, 20);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    /* ignore_env: the variable has no effect. */
    cfg.ignore_env = 1;
    cfg.devices = FLO_DEVICES_HOST;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_worker_count(rt), 2);
    run_some(rt, 20);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    /* A malformed value is ignored (logged), not fatal. */
    cfg.ignore_env = 0;
    setenv("FLO_HOST_WORKERS", "lots", 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_worker_count(rt), 2);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    /* A value beyond int (or long) is out of range, not truncated into
     * range (4294967297 once gave 1 worker). */
    static const char *const huge[] = {"4294967297", "-4294967295",
                                       "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        rt = (flo_runtime *)(uintptr_t)0x1;
        setenv("FLO_HOST_WORKERS", huge[i], 1);
        assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
        assert_ptr_equal(rt, (flo_runtime *)(uintptr_t)0x1);
    }
    setenv("FLO_HOST_WORKERS", "2", 1);
    setenv("FLO_STREAMS_PER_GPU", "4294967298", 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    unsetenv("FLO_STREAMS_PER_GPU");
    unsetenv("FLO_HOST_WORKERS");
}

static void test_env_sched(void **state)
{
    (void)state;
    static const struct {
        const char *env;
        const flo__sched_ops *ops;
        flo_sched_policy pol;
    } cases[] = {
        {"eager", &flo__sched_eager, FLO_SCHED_EAGER},
        {"ws", &flo__sched_ws, FLO_SCHED_WS},
        {"locality", &flo__sched_locality, FLO_SCHED_LOCALITY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flo_config cfg = FLO_CONFIG_INIT;
        flo_runtime *rt = NULL;
        cfg.host_workers = 2;
        cfg.devices = FLO_DEVICES_HOST;
        /* Ask for another policy in cfg: the environment wins. */
        cfg.sched = cases[(i + 1) % 3].pol;
        setenv("FLO_SCHED", cases[i].env, 1);
        assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
        assert_ptr_equal(rt->sched_ops, cases[i].ops);
        run_some(rt, 50);
        assert_int_equal(flo_finalize(rt), FLO_OK);

        /* With ignore_env, cfg.sched stands. */
        cfg.ignore_env = 1;
        assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
        assert_ptr_equal(rt->sched_ops, cases[(i + 1) % 3].ops);
        run_some(rt, 50);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
    /* The default policy without GPUs is ws. */
    {
        flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
        assert_non_null(rt);
        assert_ptr_equal(rt->sched_ops, &flo__sched_ws);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
    /* cfg.sched without the environment selects that policy. */
    unsetenv("FLO_SCHED");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flo_runtime *rt = flot_rt(cases[i].pol, 2);
        assert_non_null(rt);
        assert_ptr_equal(rt->sched_ops, cases[i].ops);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

static void test_env_devices_stats_trace(void **state)
{
    (void)state;
    char path[] = "/tmp/flo_test_cfg_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);

    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.host_workers = 2;
    cfg.devices = FLO_DEVICES_AUTO;
    setenv("FLO_DEVICES", "host", 1);
    setenv("FLO_STATS", "1", 1);
    setenv("FLO_TRACE", path, 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(rt->cfg.devices, FLO_DEVICES_HOST);
    assert_int_equal(flo_device_count(rt), 1);
    assert_int_equal(rt->cfg.stats, 1);
    assert_non_null(rt->cfg.trace_path);
    assert_string_equal(rt->cfg.trace_path, path);
    run_some(rt, 10);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    /* The trace was written at finalize. */
    assert_int_equal(access(path, R_OK), 0);
    unlink(path);

    /* ignore_env: no trace, no stats. */
    cfg.ignore_env = 1;
    cfg.devices = FLO_DEVICES_HOST;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(rt->cfg.stats, 0);
    assert_null(rt->cfg.trace_path);
    run_some(rt, 10);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void expect_einval(const flo_config *cfg)
{
    flo_runtime *rt = (flo_runtime *)(uintptr_t)0x1234;
    assert_int_equal(flo_init(cfg, &rt), FLO_EINVAL);
    /* The output is written only on success. */
    assert_ptr_equal(rt, (flo_runtime *)(uintptr_t)0x1234);
}

static void test_bad_config(void **state)
{
    (void)state;
    flo_config base = FLO_CONFIG_INIT;
    base.ignore_env = 1;
    base.devices = FLO_DEVICES_HOST;
    base.host_workers = 2;
    flo_config c;

    c = base;
    c.size = 3;
    expect_einval(&c);
    c = base;
    c.size = sizeof(flo_config) + 8;
    expect_einval(&c);
    c = base;
    c.host_workers = -1;
    expect_einval(&c);
    c = base;
    c.host_workers = 1 << 20;
    expect_einval(&c);
    c = base;
    c.host_workers = FLO__MAX_WORKERS + 1;
    expect_einval(&c);
    c = base;
    c.sched = (flo_sched_policy)99;
    expect_einval(&c);
    c = base;
    c.sched = (flo_sched_policy)-3;
    expect_einval(&c);
    c = base;
    c.devices = (flo_device_mask)42;
    expect_einval(&c);
    c = base;
    c.coll_timeout_s = NAN;
    expect_einval(&c);
    c = base;
    c.coll_timeout_s = INFINITY;
    expect_einval(&c);
    c = base;
    c.coll_timeout_s = -1.0;
    expect_einval(&c);
    c = base;
    c.gpus = -1;
    expect_einval(&c);
    c = base;
    c.streams_per_gpu = -2;
    expect_einval(&c);
    c = base;
    c.streams_per_gpu = 33;
    expect_einval(&c);
    c = base;
    c.logical_gpus = -1;
    expect_einval(&c);
    c = base;
    c.logical_gpus = 17;
    expect_einval(&c);
    c = base;
    c.no_bind = 2;
    expect_einval(&c);
    c = base;
    c.no_pin_host = -1;
    expect_einval(&c);
    c = base;
    c.log_level = 4;
    expect_einval(&c);
    c = base;
    c.write_through = FLO_WRITE_THROUGH_REST + 1;
    expect_einval(&c);
    c = base;
    c.write_through = -1;
    expect_einval(&c);
    c = base;
    c.lineage = -1;
    expect_einval(&c);
    c = base;
    c.lineage = FLO_LINEAGE_MAX + 1;
    expect_einval(&c);
    /* A flo_mpi_comm not made by flo_mpi_comm_wrap. */
    c = base;
    c.mpi_comm.valid = 5;
    expect_einval(&c);
    /* A trace file that cannot be written fails at init, not at
     * finalize when the run's trace would be lost. */
    c = base;
    c.trace_path = "/nonexistent-flotilla-dir/trace.json";
    expect_einval(&c);

    /* Bad values in the configuration are rejected with the environment
     * read too. */
    c = base;
    c.ignore_env = 0;
    c.host_workers = -1;
    expect_einval(&c);

    /* Nothing was left over: a good configuration still works (with
     * lineage on, which host workers alone never use). */
    flo_runtime *rt = NULL;
    base.lineage = FLO_LINEAGE_MAX;
    assert_int_equal(flo_init(&base, &rt), FLO_OK);
    assert_int_equal(flo_worker_count(rt), 2);
    run_some(rt, 10);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Asking for CUDA where there is none: an error and no runtime. */
static void test_cuda_required(void **state)
{
    (void)state;
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = (flo_runtime *)(uintptr_t)0x4321;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.devices = FLO_DEVICES_CUDA;
    flo_status st = flo_init(&cfg, &rt);
#if !FLO_HAVE_CUDA
    /* A backend missing from this build. */
    assert_int_equal(st, FLO_ENOTSUP);
    assert_ptr_equal(rt, (flo_runtime *)(uintptr_t)0x4321);
#else
    if (st == FLO_OK) {
        /* A GPU is visible: then device 1 is a GPU. */
        assert_true(flo_device_count(rt) >= 2);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    } else {
        assert_int_equal(st, FLO_ENODEV);
        assert_ptr_equal(rt, (flo_runtime *)(uintptr_t)0x4321);
    }
#endif
    /* The same through the environment. */
    cfg.ignore_env = 0;
    cfg.devices = FLO_DEVICES_HOST;
    setenv("FLO_DEVICES", "cuda", 1);
    rt = (flo_runtime *)(uintptr_t)0x4321;
    st = flo_init(&cfg, &rt);
#if !FLO_HAVE_CUDA
    assert_int_equal(st, FLO_ENOTSUP);
    assert_ptr_equal(rt, (flo_runtime *)(uintptr_t)0x4321);
#else
    if (st == FLO_OK)
        assert_int_equal(flo_finalize(rt), FLO_OK);
    else
        assert_int_equal(st, FLO_ENODEV);
#endif
    unsetenv("FLO_DEVICES");
}

static void test_synthetic_topology(void **state)
{
    (void)state;
    static const struct {
        const char *desc;
        int workers;
    } cases[] = {
        {"pack:2 core:4 pu:1", 8},
        {"pack:1 core:3 pu:2", 3},
        {"pack:2 numa:2 core:2 pu:2", 8},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flo_config cfg = FLO_CONFIG_INIT;
        flo_runtime *rt = NULL;
        cfg.ignore_env = 1;
        cfg.devices = FLO_DEVICES_HOST;
        cfg.topology = cases[i].desc;
        assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
        assert_true(rt->topo.synthetic);
        assert_int_equal(flo_worker_count(rt), cases[i].workers);
        run_some(rt, 200);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }

    /* An explicit worker count wins over the topology. */
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.ignore_env = 1;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.topology = "pack:2 core:4 pu:1";
    cfg.host_workers = 3;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_worker_count(rt), 3);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    /* A description hwloc rejects fails cleanly. */
    cfg.host_workers = 0;
    cfg.topology = "this is not a topology";
    rt = NULL;
    assert_true(flo_init(&cfg, &rt) < 0);
    assert_null(rt);
}

int main(void)
{
    flot_apply_filter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_init_matches_macro),
        cmocka_unit_test_setup_teardown(test_zero_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_negative_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_env_write_through, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_init_null_cfg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_host_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_sched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_devices_stats_trace, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_synthetic_topology, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cuda_required, setup, teardown),
    };
    return cmocka_run_group_tests_name("runtime_config", tests, NULL, NULL);
}
