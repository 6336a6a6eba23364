/*
 * unit suite - task graphs (include/flotilla/graph.h) on host workers:
 * a recorded random graph launched many times, with tasks around it on
 * the same handles, gives the result of a sequential run; launches from
 * several threads at once and from inside tasks; recording from several
 * threads at once; every refused call changes nothing.
 */
#include <pthread.h>

#include "testutil.h"

/* x[0] = x[0] * 3 + (b ? b[0] : 0) + k over uint64 cells (wrapping). */
typedef struct mix_args {
    int64_t k;
} mix_args;

static void host_mix(flo_task_ctx *ctx)
{
    const mix_args *a = flo_task_args(ctx, NULL);
    uint64_t *x = flo_task_buffer(ctx, 0);
    const uint64_t *b = flo_task_buffer(ctx, 1);
    x[0] = x[0] * 3u + (b ? b[0] : 0u) + (uint64_t)a->k;
}

static void host_set(flo_task_ctx *ctx)
{
    const mix_args *a = flo_task_args(ctx, NULL);
    *(int64_t *)flo_task_buffer(ctx, 0) = a->k;
}

static void host_add(flo_task_ctx *ctx)
{
    const mix_args *a = flo_task_args(ctx, NULL);
    int64_t *x = flo_task_buffer(ctx, 0);
    const int64_t *b = flo_task_buffer(ctx, 1);
    /* Commutative: launches in any order give the same total. */
    __atomic_fetch_add(x, a->k + (b ? b[0] : 0), __ATOMIC_RELAXED);
}

static const flo_kernel k_mix = {"mix", host_mix, NULL};
static const flo_kernel k_set = {"set", host_set, NULL};
static const flo_kernel k_add = {"add", host_add, NULL};

static flo_status sub(flo_runtime *rt, const flo_kernel *k, flo_data a,
                      flo_access ma, const flo_data *b, int64_t kk,
                      flo_event *ev)
{
    flo_access_desc acc[2] = {{a, ma}, {b ? *b : a, FLO_READ}};
    mix_args m = {kk};
    return flot_submit(rt, k, acc, b ? 2 : 1, &m, sizeof m, ev);
}

enum { H = 5 };

/* Random steps over H handles; mirrored on ref. */
static void random_steps(flo_runtime *rt, flo_data *h, uint64_t *ref, int n,
                         uint64_t *s, bool submit)
{
    for (int t = 0; t < n; t++) {
        int a = (int)(flot_rand(s) % H), b = (int)(flot_rand(s) % H);
        int64_t k = (int64_t)(flot_rand(s) % 1000);
        if (flot_rand(s) % 4 == 0) {
            if (submit)
                assert_int_equal(
                    sub(rt, &k_set, h[a], FLO_WRITE, NULL, k, NULL), FLO_OK);
            ref[a] = (uint64_t)k;
        } else {
            if (submit)
                assert_int_equal(sub(rt, &k_mix, h[a], FLO_READ_WRITE,
                                     a == b ? NULL : &h[b], k, NULL),
                                 FLO_OK);
            ref[a] = ref[a] * 3u + (a == b ? 0u : ref[b]) + (uint64_t)k;
        }
    }
}

static void test_replay_matches_sequential(void **state)
{
    (void)state;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    for (int p = 0; p < 3; p++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            flo_runtime *rt = flot_rt(pols[p], 3);
            uint64_t x[H], ref[H];
            flo_data h[H];
            assert_non_null(rt);
            for (int i = 0; i < H; i++) {
                x[i] = ref[i] = i + 1;
                assert_int_equal(
                    flo_data_register(rt, &x[i], sizeof x[i], &h[i]), FLO_OK);
            }
            uint64_t s = seed, s_graph;
            flo_graph *g;
            assert_int_equal(flo_graph_begin(rt, "random", 0, &g), FLO_OK);
            s_graph = s;
            random_steps(rt, h, ref, 40, &s, true);
            /* Nothing ran while recording. */
            for (int i = 0; i < H; i++)
                assert_int_equal(x[i], i + 1);
            assert_int_equal(flo_graph_end(rt, g), FLO_OK);
            for (int i = 0; i < H; i++)
                ref[i] = i + 1;
            long launches = flot_scaled(30, 5);
            for (long l = 0; l < launches; l++) {
                uint64_t sg = s_graph;
                assert_int_equal(flo_graph_launch(rt, g, NULL, 0, NULL),
                                 FLO_OK);
                random_steps(rt, h, ref, 40, &sg, false);
                /* Ordinary tasks between launches. */
                random_steps(rt, h, ref, 3, &s, true);
            }
            assert_int_equal(flo_wait_all(rt), FLO_OK);
            flo_graph_info info;
            assert_int_equal(flo_graph_get_info(rt, g, &info), FLO_OK);
            assert_int_equal(info.ntasks, 40);
            assert_int_equal(info.launches, (uint64_t)launches);
            assert_int_equal(info.captured, 0);
            assert_string_equal(info.why, "no GPU worker");
            assert_true(info.nhandles >= 1 && info.nhandles <= H);
            assert_int_equal(flo_graph_destroy(rt, g), FLO_OK);
            for (int i = 0; i < H; i++) {
                assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
                if (x[i] != ref[i])
                    fail_msg("%s seed %llu: handle %d is %llu, expected "
                             "%llu",
                             flot_sched_name(pols[p]), (unsigned long long)seed,
                             i, (unsigned long long)x[i],
                             (unsigned long long)ref[i]);
            }
            assert_int_equal(flo_finalize(rt), FLO_OK);
        }
}

/* The launch's event covers every recorded task, its deps hold all of
 * them back, and a failure inside fails the event. */
static void host_fail(flo_task_ctx *ctx)
{
    flo_task_fail(ctx, FLO_ETASK, "graph task refuses");
}
static const flo_kernel k_fail = {"refuser", host_fail, NULL};

static void host_gate(flo_task_ctx *ctx)
{
    atomic_int *gate = *(atomic_int *const *)flo_task_args(ctx, NULL);
    uint64_t end = flot_now_ns() + FLOT_GUARANTEE_NS;
    while (!atomic_load(gate) && flot_now_ns() < end)
        flot_sleep_us(100);
}
static const flo_kernel k_gate = {"gate", host_gate, NULL};

static void test_launch_event_and_deps(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    uint64_t x = 1, y = 0;
    flo_data hx, hy;
    assert_int_equal(flo_data_register(rt, &x, sizeof x, &hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, &y, sizeof y, &hy), FLO_OK);
    flo_graph *g;
    assert_int_equal(flo_graph_begin(rt, NULL, 0, &g), FLO_OK);
    /* Two independent chains: two sinks. */
    assert_int_equal(sub(rt, &k_mix, hx, FLO_READ_WRITE, NULL, 1, NULL),
                     FLO_OK);
    assert_int_equal(sub(rt, &k_mix, hy, FLO_READ_WRITE, NULL, 2, NULL),
                     FLO_OK);
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);

    /* A gate task on no handle: the launch must wait for it. */
    atomic_int gate = 0;
    atomic_int *gp = &gate;
    flo_event gev, ev;
    assert_int_equal(flot_submit(rt, &k_gate, NULL, 0, &gp, sizeof gp, &gev),
                     FLO_OK);
    assert_int_equal(flo_graph_launch(rt, g, &gev, 1, &ev), FLO_OK);
    assert_int_equal(flo_event_query(rt, ev), FLO_INPROGRESS);
    atomic_store(&gate, 1);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    /* Both chains ran when the event completed. */
    void *p;
    assert_int_equal(flo_data_acquire(rt, hx, FLO_READ, &p), FLO_OK);
    assert_int_equal(x, 4);
    assert_int_equal(flo_data_release(rt, hx), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, hy, FLO_READ, &p), FLO_OK);
    assert_int_equal(y, 2);
    assert_int_equal(flo_data_release(rt, hy), FLO_OK);

    /* A failing recorded task fails the launch's event. */
    flo_graph *bad;
    assert_int_equal(flo_graph_begin(rt, "bad", 0, &bad), FLO_OK);
    assert_int_equal(sub(rt, &k_fail, hx, FLO_READ_WRITE, NULL, 0, NULL),
                     FLO_OK);
    assert_int_equal(sub(rt, &k_mix, hy, FLO_READ_WRITE, &hx, 0, NULL), FLO_OK);
    assert_int_equal(flo_graph_end(rt, bad), FLO_OK);
    assert_int_equal(flo_graph_launch(rt, bad, NULL, 0, &ev), FLO_OK);
    flo_status st = flo_event_wait(rt, ev);
    assert_int_equal(st, FLO_ECANCELED); /* The join after a failure. */
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(flo_graph_destroy(rt, bad), FLO_OK);
    assert_int_equal(flo_graph_destroy(rt, g), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    assert_int_equal(y, 2); /* The canceled mix did not run. */
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Several threads ---------------------------------------------------- */

typedef struct thr {
    flo_runtime *rt;
    flo_graph *shared;
    flo_data own, common;
    int64_t *own_val;
    long launches;
    flo_status st;
} thr;

/* Each thread records its own graph (own handle, reads the common one),
 * then launches it and the shared graph, interleaved. */
static void *thr_main(void *p)
{
    thr *a = p;
    flo_graph *g = NULL;
    flo_status st = flo_graph_begin(a->rt, "own", 0, &g);
    for (int i = 0; st == FLO_OK && i < 3; i++)
        st = sub(a->rt, &k_add, a->own, FLO_READ_WRITE, &a->common, 1, NULL);
    if (st == FLO_OK)
        st = flo_graph_end(a->rt, g);
    for (long l = 0; st == FLO_OK && l < a->launches; l++) {
        st = flo_graph_launch(a->rt, g, NULL, 0, NULL);
        if (st == FLO_OK)
            st = flo_graph_launch(a->rt, a->shared, NULL, 0, NULL);
    }
    if (st == FLO_OK)
        st = flo_wait_all(a->rt);
    if (g && st == FLO_OK)
        st = flo_graph_destroy(a->rt, g);
    a->st = st;
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    enum { T = 4 };
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 3);
    int64_t own[T], common = 10, counter = 0;
    flo_data hown[T], hcommon, hcounter;
    assert_int_equal(flo_data_register(rt, &common, sizeof common, &hcommon),
                     FLO_OK);
    assert_int_equal(flo_data_register(rt, &counter, sizeof counter, &hcounter),
                     FLO_OK);
    flo_graph *shared;
    assert_int_equal(flo_graph_begin(rt, "shared", 0, &shared), FLO_OK);
    assert_int_equal(sub(rt, &k_add, hcounter, FLO_READ_WRITE, NULL, 2, NULL),
                     FLO_OK);
    assert_int_equal(sub(rt, &k_add, hcounter, FLO_READ_WRITE, NULL, 3, NULL),
                     FLO_OK);
    assert_int_equal(flo_graph_end(rt, shared), FLO_OK);
    thr a[T];
    pthread_t tid[T];
    long launches = flot_scaled(50, 5);
    for (int i = 0; i < T; i++) {
        own[i] = 0;
        assert_int_equal(
            flo_data_register(rt, &own[i], sizeof own[i], &hown[i]), FLO_OK);
        a[i] = (thr){rt, shared, hown[i], hcommon, &own[i], launches, FLO_OK};
        assert_int_equal(pthread_create(&tid[i], NULL, thr_main, &a[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(a[i].st, FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < T; i++) {
        assert_int_equal(flo_data_unregister(rt, hown[i]), FLO_OK);
        assert_int_equal(own[i], launches * 3 * (1 + 10));
    }
    assert_int_equal(flo_data_unregister(rt, hcounter), FLO_OK);
    assert_int_equal(counter, T * launches * 5);
    assert_int_equal(flo_data_unregister(rt, hcommon), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK); /* Frees the shared one. */
}

/* A task launches a graph (allowed inside tasks) and cannot record. */
typedef struct in_task_args {
    flo_graph *g;
    atomic_int *begin_st;
} in_task_args;

static void host_launcher(flo_task_ctx *ctx)
{
    const in_task_args *a = flo_task_args(ctx, NULL);
    flo_graph *g2 = NULL;
    atomic_store(a->begin_st,
                 flo_graph_begin(flo_task_runtime(ctx), NULL, 0, &g2));
    if (flo_graph_launch(flo_task_runtime(ctx), a->g, NULL, 0, NULL))
        flo_task_fail(ctx, FLO_ETASK, "launch refused");
}
static const flo_kernel k_launcher = {"launcher", host_launcher, NULL};

static void test_inside_task(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    int64_t x = 0;
    flo_data hx;
    assert_int_equal(flo_data_register(rt, &x, sizeof x, &hx), FLO_OK);
    flo_graph *g;
    assert_int_equal(flo_graph_begin(rt, NULL, 0, &g), FLO_OK);
    assert_int_equal(sub(rt, &k_add, hx, FLO_READ_WRITE, NULL, 7, NULL),
                     FLO_OK);
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);
    atomic_int begin_st = 12345;
    in_task_args ia = {g, &begin_st};
    for (int i = 0; i < 10; i++)
        assert_int_equal(
            flot_submit(rt, &k_launcher, NULL, 0, &ia, sizeof ia, NULL),
            FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&begin_st), FLO_EINVAL);
    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(x, 70);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Refused calls ---------------------------------------------------- */

static void *end_elsewhere(void *p)
{
    void **a = p;
    *(flo_status *)a[2] = flo_graph_end(a[0], a[1]);
    return NULL;
}

static void cb_noop(void *u, flo_status st)
{
    (void)u;
    (void)st;
}

static flo_status wl_init(flo_task_ctx *ctx, void *user, void **value)
{
    (void)ctx;
    (void)user;
    *value = NULL;
    return FLO_OK;
}

static void host_noop(flo_task_ctx *ctx)
{
    (void)ctx;
}

static void test_errors(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    uint64_t x = 5, y = 6;
    flo_data hx, hy;
    flo_graph *g = NULL, *g2 = (flo_graph *)0x1;
    assert_int_equal(flo_data_register(rt, &x, sizeof x, &hx), FLO_OK);
    assert_int_equal(flo_data_register(rt, &y, sizeof y, &hy), FLO_OK);

    assert_int_equal(flo_graph_begin(NULL, NULL, 0, &g), FLO_EINVAL);
    assert_int_equal(flo_graph_begin(rt, NULL, 0, NULL), FLO_EINVAL);
    assert_int_equal(flo_graph_begin(rt, NULL, 0x80, &g), FLO_EINVAL);
    assert_null(g);
    assert_int_equal(flo_graph_begin(rt, "e", 0, &g), FLO_OK);
    assert_int_equal(flo_graph_begin(rt, "e2", 0, &g2), FLO_EBUSY);
    assert_ptr_equal(g2, (flo_graph *)0x1);

    /* What recording refuses; each refusal leaves the graph as it was. */
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_access_desc acc = {hx, FLO_READ_WRITE};
    mix_args m = {1};
    flo_event ev = {3, 3};
    d.kernel = &k_mix;
    d.access = &acc;
    d.naccess = 1;
    d.args = &m;
    d.args_size = sizeof m;
    d.deps = &ev;
    d.ndeps = 1;
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_EINVAL);
    d.ndeps = 0;
    d.callback = cb_noop;
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_EINVAL);
    d.callback = NULL;
    acc.mode = (flo_access)0;
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_EINVAL);
    acc.mode = FLO_READ_WRITE;
    acc.data.gen += 1000;
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_ESTALE);
    acc.data = hx;
    d.on_device = 99;
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_EINVAL);
    d.on_device = 0;
    flo_graph_info info;
    assert_int_equal(flo_graph_get_info(rt, g, &info), FLO_OK);
    assert_int_equal(info.ntasks, 0);
    assert_string_equal(info.why, "still recording");
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    assert_true(flo_event_equal(ev, FLO_EVENT_NULL));

    /* Launching while recording: this graph, or any graph. */
    assert_int_equal(flo_graph_launch(rt, g, NULL, 0, NULL), FLO_EINVAL);
    /* Another thread cannot end it. */
    flo_status other = FLO_OK;
    void *args[3] = {rt, g, &other};
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, end_elsewhere, args), 0);
    pthread_join(tid, NULL);
    assert_int_equal(other, FLO_EINVAL);
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);
    assert_int_equal(flo_graph_end(rt, g), FLO_EINVAL);
    assert_int_equal(x, 5); /* Nothing ran. */

    flo_graph *rec;
    assert_int_equal(flo_graph_begin(rt, "rec", 0, &rec), FLO_OK);
    assert_int_equal(flo_graph_launch(rt, g, NULL, 0, NULL), FLO_EBUSY);
    /* Calls that wait for tasks of their own refuse while recording. */
    flo_worker_local_desc wd = FLO_WORKER_LOCAL_DESC_INIT;
    flo_worker_local key = {4, 4};
    wd.which = FLO_WORKERS_ALL;
    wd.init = wl_init;
    assert_int_equal(flo_worker_local_create(rt, &wd, &key), FLO_EBUSY);
    assert_int_equal(key.id, 4);
    assert_int_equal(flo_execute_on_each_worker(rt, host_noop, NULL, NULL, 0,
                                                FLO_WORKERS_HOST),
                     FLO_EBUSY);
    /* Abandoning a recording. */
    assert_int_equal(flo_graph_destroy(rt, rec), FLO_OK);

    assert_int_equal(flo_graph_launch(rt, g, NULL, -1, NULL), FLO_EINVAL);
    assert_int_equal(flo_graph_launch(rt, g, NULL, 1, NULL), FLO_EINVAL);
    assert_int_equal(flo_graph_launch(NULL, g, NULL, 0, NULL), FLO_EINVAL);
    assert_int_equal(flo_graph_launch(rt, NULL, NULL, 0, NULL), FLO_EINVAL);

    /* A handle unregistered since recording: nothing is launched. */
    flo_graph *g3;
    flo_access_desc acc2[2] = {{hy, FLO_READ_WRITE}, {hx, FLO_READ}};
    d.access = acc2;
    d.naccess = 2;
    assert_int_equal(flo_graph_begin(rt, "g3", 0, &g3), FLO_OK);
    assert_int_equal(flo_task_submit(rt, &d, NULL), FLO_OK);
    assert_int_equal(flo_graph_end(rt, g3), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hx), FLO_OK);
    assert_int_equal(flo_graph_launch(rt, g3, NULL, 0, NULL), FLO_ESTALE);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(y, 6);
    assert_int_equal(flo_graph_launch(rt, g, NULL, 0, NULL), FLO_ESTALE);

    assert_int_equal(flo_graph_destroy(rt, NULL), FLO_EINVAL);
    assert_int_equal(flo_graph_get_info(rt, g3, NULL), FLO_EINVAL);
    assert_int_equal(flo_graph_destroy(rt, g3), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hy), FLO_OK);
    /* g is left to finalize. */
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* An empty graph launches and completes at once. */
static void test_empty(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 1);
    flo_graph *g;
    flo_event ev = {5, 5};
    assert_int_equal(flo_graph_begin(rt, NULL, 0, &g), FLO_OK);
    assert_int_equal(flo_graph_end(rt, g), FLO_OK);
    assert_int_equal(flo_graph_launch(rt, g, NULL, 0, &ev), FLO_OK);
    assert_true(flo_event_equal(ev, FLO_EVENT_NULL));
    flo_graph_info info;
    assert_int_equal(flo_graph_get_info(rt, g, &info), FLO_OK);
    assert_string_equal(info.why, "empty");
    assert_int_equal(flo_graph_destroy(rt, g), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_matches_sequential),
        cmocka_unit_test(test_launch_event_and_deps),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_inside_task),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_empty),
    };
    flot_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
