/*
 * gpu suite - task graphs (include/flotilla/graph.h) on GPUs: a recorded
 * sequence captured into a CUDA graph and replayed gives the same data as
 * the same tasks launched one by one (and as a sequential run on the
 * host), ordered against the tasks around it; an entry point that cannot
 * be captured falls back to plain launches; a status word or a failing
 * entry point fails the launch.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cuda_test_util.h"

static const flo_kernel k_mix_gpu = {"g_mix", NULL, flo_test_cuda_mix};
static const flo_kernel k_set_gpu = {"g_set", NULL, flo_test_cuda_set};
static const flo_kernel k_xor_gpu = {"g_xor", NULL, flo_test_cuda_xor};
static const flo_kernel k_mix_host = {"h_mix", flo_test_host_mix, NULL};
static const flo_kernel k_sync = {"g_mix_sync", NULL, flo_test_cuda_mix_sync};
static const flo_kernel k_status = {"g_status", NULL, flo_test_cuda_status};
static const flo_kernel k_fail = {"g_refuser", NULL, flo_test_cuda_fail};

enum { H = 6, N = 1000 };

static flo_runtime *start(int logical)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.logical_gpus = logical;
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 1 + logical);
    return rt;
}

static void submit(flo_runtime *rt, const flo_kernel *k, int device,
                   const flo_access_desc *acc, int nacc, uint32_t kk)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_test_args a = {kk, nacc};
    flo_event ev = {1, 1};
    d.kernel = k;
    d.access = acc;
    d.naccess = nacc;
    d.args = &a;
    d.args_size = sizeof a;
    d.on_device = FLO_DEVICE(device);
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    (void)ev;
}

/* Host twins of the GPU kernels, on the reference arrays. */
static void ref_mix(uint32_t *x, const uint32_t *b, uint32_t k)
{
    for (size_t i = 0; i < N; i++)
        x[i] = x[i] * 3u + (b ? b[i] : 0u) + k + (uint32_t)i;
}
static void ref_set(uint32_t *x, uint32_t k)
{
    for (size_t i = 0; i < N; i++)
        x[i] = k ^ (uint32_t)(i * 2654435761u);
}
static void ref_xor(uint32_t *c, const uint32_t *a, uint32_t k)
{
    for (size_t i = 0; i < N; i++)
        c[i] = a[i] ^ k;
}

/* One recorded step: which kernel, on which handles. */
typedef struct step {
    int kind; /* 0 mix RW a (+R b), 1 set W a, 2 xor W a R b */
    int a, b;
    uint32_t k;
} step;

static void step_submit(flo_runtime *rt, flo_data *h, const step *s, int dev,
                        const flo_kernel *sync_kernel)
{
    if (s->kind == 0) {
        const flo_kernel *k = sync_kernel ? sync_kernel : &k_mix_gpu;
        if (s->a == s->b) {
            flo_access_desc acc = {h[s->a], FLO_READ_WRITE};
            submit(rt, k, dev, &acc, 1, s->k);
        } else {
            flo_access_desc acc[2] = {{h[s->a], FLO_READ_WRITE},
                                      {h[s->b], FLO_READ}};
            submit(rt, k, dev, acc, 2, s->k);
        }
    } else if (s->kind == 1) {
        flo_access_desc acc = {h[s->a], FLO_WRITE};
        submit(rt, &k_set_gpu, dev, &acc, 1, s->k);
    } else {
        flo_access_desc acc[2] = {{h[s->a], FLO_WRITE}, {h[s->b], FLO_READ}};
        submit(rt, &k_xor_gpu, dev, acc, 2, s->k);
    }
}

static void step_ref(uint32_t **ref, const step *s)
{
    if (s->kind == 0)
        ref_mix(ref[s->a], s->a == s->b ? NULL : ref[s->b], s->k);
    else if (s->kind == 1)
        ref_set(ref[s->a], s->k);
    else
        ref_xor(ref[s->a], ref[s->b], s->k);
}

/*
 * A random graph of 60 GPU tasks over H handles, launched 12 times with
 * host tasks between the launches on the same handles. flags: 0 or
 * FLO_GRAPH_NO_CAPTURE; dev: FLO_ANY or a device for every task; sync:
 * the first mix uses an entry point that cannot be captured.
 */
static void run_graph(int logical, unsigned flags, int dev, bool sync,
                      uint64_t seed)
{
    enum { T = 60, LAUNCHES = 12 };
    flo_runtime *rt = start(logical);
    uint32_t *x[H], *ref[H];
    flo_data h[H];
    step steps[T];
    uint64_t s = seed;
    for (int i = 0; i < H; i++) {
        x[i] = malloc(N * sizeof(uint32_t));
        ref[i] = malloc(N * sizeof(uint32_t));
        assert_non_null(x[i]);
        assert_non_null(ref[i]);
        for (int j = 0; j < N; j++)
            x[i][j] = ref[i][j] = (uint32_t)(i * 7919 + j);
        assert_int_equal(
            flo_data_register(rt, x[i], N * sizeof(uint32_t), &h[i]), FLO_OK);
    }
    for (int t = 0; t < T; t++) {
        steps[t].kind = (int)(flo_test_rand(&s) % 3);
        steps[t].a = (int)(flo_test_rand(&s) % H);
        steps[t].b = (int)(flo_test_rand(&s) % H);
        if (steps[t].kind == 2 && steps[t].a == steps[t].b)
            steps[t].kind = 0;
        steps[t].k = (uint32_t)flo_test_rand(&s);
    }
    bool used_sync = false;
    flo_graph *g = NULL;
    assert_int_equal(flo_graph_begin(rt, "random", flags, &g), FLO_OK);
    for (int t = 0; t < T; t++) {
        bool this_sync = sync && !used_sync && steps[t].kind == 0;
        used_sync |= this_sync;
        step_submit(rt, h, &steps[t], dev, this_sync ? &k_sync : NULL);
    }
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);

    for (int l = 0; l < LAUNCHES; l++) {
        flo_event ev = FLO_EVENT_NULL;
        assert_int_equal(flo_graph_launch(rt, g, NULL, 0, &ev), FLO_OK);
        for (int t = 0; t < T; t++)
            step_ref(ref, &steps[t]);
        /* A host task between launches, on a random pair. */
        int a = (int)(flo_test_rand(&s) % H), b = (int)(flo_test_rand(&s) % H);
        uint32_t kk = (uint32_t)l * 77u;
        if (a == b) {
            flo_access_desc acc = {h[a], FLO_READ_WRITE};
            submit(rt, &k_mix_host, FLO_ANY, &acc, 1, kk);
            ref_mix(ref[a], NULL, kk);
        } else {
            flo_access_desc acc[2] = {{h[a], FLO_READ_WRITE}, {h[b], FLO_READ}};
            submit(rt, &k_mix_host, FLO_ANY, acc, 2, kk);
            ref_mix(ref[a], ref[b], kk);
        }
        if (l == LAUNCHES / 2)
            assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);

    flo_graph_info info;
    assert_int_equal(flo_graph_get_info(rt, g, &info), FLO_OK);
    assert_int_equal(info.ntasks, T);
    assert_int_equal(info.launches, LAUNCHES);
    if (flags & FLO_GRAPH_NO_CAPTURE) {
        assert_int_equal(info.captured, 0);
        assert_non_null(info.why);
        assert_int_equal(info.captures + info.replays + info.plain, 0);
    } else {
        assert_int_equal(info.captured, 1);
        if (sync) {
            /* Every launch on a GPU ran the entry points one by one. */
            assert_int_equal(info.replays + info.captures, 0);
            assert_int_equal(info.plain, LAUNCHES);
        } else {
            assert_int_equal(info.plain, 0);
            assert_int_equal(info.captures + info.replays, LAUNCHES);
            assert_true(info.captures >= 1);
            assert_true(info.captures <= (uint64_t)logical + 2);
        }
    }
    assert_int_equal(flo_graph_destroy(rt, g), FLO_OK);
    for (int i = 0; i < H; i++) {
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
        if (memcmp(x[i], ref[i], N * sizeof(uint32_t)) != 0)
            fail_msg("handle %d differs from the sequential run (logical %d, "
                     "flags %u, dev %d, sync %d, seed %llu)",
                     i, logical, flags, dev, (int)sync,
                     (unsigned long long)seed);
        free(x[i]);
        free(ref[i]);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_capture_one_gpu(void **state)
{
    (void)state;
    run_graph(1, 0, FLO_ANY, false, 1);
    run_graph(1, 0, 1, false, 2);
}

static void test_capture_logical(void **state)
{
    (void)state;
    run_graph(2, 0, FLO_ANY, false, 3);
    run_graph(3, 0, 2, false, 4);
}

static void test_no_capture_same_data(void **state)
{
    (void)state;
    run_graph(1, FLO_GRAPH_NO_CAPTURE, FLO_ANY, false, 1);
    run_graph(2, FLO_GRAPH_NO_CAPTURE, FLO_ANY, false, 3);
}

static void test_uncapturable_falls_back(void **state)
{
    (void)state;
    run_graph(1, 0, FLO_ANY, true, 5);
}

/* Two tasks on different devices cannot be one launch: the graph is
 * replayed as tasks, with the same result. */
static void test_mixed_devices(void **state)
{
    (void)state;
    flo_runtime *rt = start(2);
    uint32_t x[N], ref[N];
    flo_data h;
    for (int i = 0; i < N; i++)
        x[i] = ref[i] = (uint32_t)i;
    assert_int_equal(flo_data_register(rt, x, sizeof x, &h), FLO_OK);
    flo_graph *g;
    flo_access_desc rw = {h, FLO_READ_WRITE};
    assert_int_equal(flo_graph_begin(rt, NULL, 0, &g), FLO_OK);
    submit(rt, &k_mix_gpu, 1, &rw, 1, 5);
    submit(rt, &k_mix_gpu, 2, &rw, 1, 6);
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);
    flo_graph_info info;
    assert_int_equal(flo_graph_get_info(rt, g, &info), FLO_OK);
    assert_int_equal(info.captured, 0);
    assert_string_equal(info.why, "tasks name different devices");
    for (int l = 0; l < 5; l++) {
        flo_event ev;
        assert_int_equal(flo_graph_launch(rt, g, NULL, 0, &ev), FLO_OK);
        ref_mix(ref, NULL, 5);
        ref_mix(ref, NULL, 6);
        assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    }
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_memory_equal(x, ref, sizeof x);
    assert_int_equal(flo_finalize(rt), FLO_OK); /* Frees g. */
}

/* A status word set by a task inside a captured graph fails the launch,
 * at the capture and at every replay; a graph whose word stays 0 does
 * not fail. */
static void test_status_word(void **state)
{
    (void)state;
    flo_runtime *rt = start(1);
    int word[4] = {0};
    uint32_t y[N];
    flo_data hw, hy;
    memset(y, 0, sizeof y);
    assert_int_equal(flo_data_register(rt, word, sizeof word, &hw), FLO_OK);
    assert_int_equal(flo_data_register(rt, y, sizeof y, &hy), FLO_OK);
    flo_graph *bad, *good;
    for (int v = 0; v < 2; v++) {
        flo_graph **g = v == 0 ? &bad : &good;
        assert_int_equal(flo_graph_begin(rt, v ? "good" : "bad", 0, g), FLO_OK);
        flo_access_desc wy = {hy, FLO_WRITE};
        submit(rt, &k_set_gpu, FLO_ANY, &wy, 1, 3);
        flo_task_desc d = FLO_TASK_DESC_INIT;
        flo_test_args a = {v == 0 ? 42u : 0u, 2};
        flo_access_desc acc[2] = {{hw, FLO_READ_WRITE}, {hy, FLO_READ}};
        d.kernel = &k_status;
        d.access = acc;
        d.naccess = 2;
        d.args = &a;
        d.args_size = sizeof a;
        assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
        assert_int_equal(flo_graph_end(rt, *g), FLO_OK);
    }
    for (int l = 0; l < 3; l++) {
        flo_event ev;
        char msg[256] = "";
        assert_int_equal(flo_graph_launch(rt, bad, NULL, 0, &ev), FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), FLO_ETASK);
        assert_int_equal(flo_error_message(rt, ev, msg, sizeof msg), FLO_OK);
        if (!strstr(msg, "test info") || !strstr(msg, "42"))
            fail_msg("launch %d: message '%s'", l, msg);
        assert_int_equal(flo_wait_all(rt), FLO_ETASK);
        assert_int_equal(flo_graph_launch(rt, good, NULL, 0, &ev), FLO_OK);
        assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    }
    flo_graph_info info;
    assert_int_equal(flo_graph_get_info(rt, bad, &info), FLO_OK);
    assert_int_equal(info.captured, 1);
    assert_int_equal(info.captures + info.replays, 3);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hw), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    assert_int_equal(word[0], 0);
    uint32_t yref[N];
    ref_set(yref, 3);
    assert_memory_equal(y, yref, sizeof y);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* An entry point that fails while captured fails the launch (nothing of
 * it ran); the tasks after the launch on its handle are canceled; the
 * graph can be destroyed and the handle used again. */
static void test_entry_failure(void **state)
{
    (void)state;
    flo_runtime *rt = start(1);
    uint32_t x[N];
    flo_data h;
    memset(x, 0, sizeof x);
    assert_int_equal(flo_data_register(rt, x, sizeof x, &h), FLO_OK);
    flo_access_desc rw = {h, FLO_READ_WRITE};
    flo_graph *g;
    assert_int_equal(flo_graph_begin(rt, "failing", 0, &g), FLO_OK);
    submit(rt, &k_mix_gpu, FLO_ANY, &rw, 1, 1);
    submit(rt, &k_fail, FLO_ANY, &rw, 1, 0);
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);
    flo_event ev, after;
    assert_int_equal(flo_graph_launch(rt, g, NULL, 0, &ev), FLO_OK);
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_test_args a = {9, 1};
    d.kernel = &k_mix_host;
    d.access = &rw;
    d.naccess = 1;
    d.args = &a;
    d.args_size = sizeof a;
    assert_int_equal(flo_task_submit(rt, &d, &after), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_ETASK);
    assert_int_equal(flo_event_wait(rt, after), FLO_ECANCELED);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(flo_graph_destroy(rt, g), FLO_OK);
    /* The handle is usable again and kept its data (nothing ran). */
    assert_int_equal(flo_task_submit(rt, &d, &after), FLO_OK);
    assert_int_equal(flo_event_wait(rt, after), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    uint32_t ref[N];
    memset(ref, 0, sizeof ref);
    ref_mix(ref, NULL, 9);
    assert_memory_equal(x, ref, sizeof x);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Recording rules on a GPU runtime: explicit dependencies and callbacks
 * are refused while recording, events are null, a launch waits for its
 * dependencies. */
static void test_launch_deps(void **state)
{
    (void)state;
    flo_runtime *rt = start(1);
    uint32_t x[N], ref[N];
    flo_data h;
    for (int i = 0; i < N; i++)
        x[i] = ref[i] = (uint32_t)i;
    assert_int_equal(flo_data_register(rt, x, sizeof x, &h), FLO_OK);
    flo_access_desc rw = {h, FLO_READ_WRITE};
    /* A long kernel on another handle: the launch depends on its event. */
    uint32_t y[N];
    flo_data hy;
    memset(y, 0, sizeof y);
    assert_int_equal(flo_data_register(rt, y, sizeof y, &hy), FLO_OK);
    flo_graph *g;
    assert_int_equal(flo_graph_begin(rt, "deps", 0, &g), FLO_OK);
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_test_args a = {4, 1};
    flo_event ev = {7, 7};
    d.kernel = &k_mix_gpu;
    d.access = &rw;
    d.naccess = 1;
    d.args = &a;
    d.args_size = sizeof a;
    d.deps = &ev;
    d.ndeps = 1;
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_EINVAL);
    d.deps = NULL;
    d.ndeps = 0;
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    assert_true(flo_event_equal(ev, FLO_EVENT_NULL));
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);
    flo_access_desc wy = {hy, FLO_WRITE};
    flo_event pre, done;
    flo_task_desc sd = FLO_TASK_DESC_INIT;
    flo_test_args sa = {5, 1};
    sd.kernel = &k_set_gpu;
    sd.access = &wy;
    sd.naccess = 1;
    sd.args = &sa;
    sd.args_size = sizeof sa;
    assert_int_equal(flo_task_submit(rt, &sd, &pre), FLO_OK);
    assert_int_equal(flo_graph_launch(rt, g, &pre, 1, &done), FLO_OK);
    assert_int_equal(flo_event_wait(rt, done), FLO_OK);
    assert_int_equal(flo_event_query(rt, pre), FLO_OK);
    ref_mix(ref, NULL, 4);
    assert_int_equal(flo_graph_destroy(rt, g), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    assert_memory_equal(x, ref, sizeof x);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_one_gpu),
        cmocka_unit_test(test_capture_logical),
        cmocka_unit_test(test_no_capture_same_data),
        cmocka_unit_test(test_uncapturable_falls_back),
        cmocka_unit_test(test_mixed_devices),
        cmocka_unit_test(test_status_word),
        cmocka_unit_test(test_entry_failure),
        cmocka_unit_test(test_launch_deps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
