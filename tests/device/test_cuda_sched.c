/*
 * gpu suite - scheduling on GPU workers: ready tasks launched by priority
 * within a bounded launch window (each policy), busy time without
 * tracing, and device status words (flo_task_cuda_status_word).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cuda_test_util.h"
#include "device/cuda/cuda_backend.h"
#include "flotilla/cuda.h"
#include "scheduler/sched.h"

static flo_runtime *start(flo_sched_policy sched)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1; /* Default window, streams and sampling. */
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.gpus = 1;
    cfg.streams_per_gpu = 2;
    cfg.sched = sched;
    flo_runtime *rt = NULL;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_true(flo_device_count(rt) >= 2);
    return rt;
}

static flo_event submit(flo_runtime *rt, const flo_kernel *k, int device,
                        int priority, const flo_access_desc *acc, int nacc,
                        const void *args, size_t args_size)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_event ev = FLO_EVENT_NULL;
    d.kernel = k;
    d.access = acc;
    d.naccess = nacc;
    d.args = args;
    d.args_size = args_size;
    d.on_device = FLO_DEVICE(device);
    d.priority = priority;
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    return ev;
}

/* ---- Priorities ---------------------------------------------------------- */

enum { NLOW = 200 };

/*
 * NLOW low-priority tasks, then one high-priority task, all ready at once
 * and all CUDA-only. Every task's kernel waits on a host-mapped flag the
 * test raises only after submitting everything, so no task can complete
 * before the high-priority one is ready: the GPU worker can have launched
 * at most a window of low ones by then. Each kernel takes a ticket from
 * a device counter once released; the high-priority task must get one
 * within the window (plus a few for tasks launched right after it on
 * other streams), far ahead of most low ones. No timing is assumed.
 */
static void priority_case(flo_sched_policy sched, int device)
{
    flo_runtime *rt = start(sched);
    static const flo_kernel k_ticket = {"ticket", NULL, flo_test_cuda_ticket};
    flo__cuda_dev *cd = flo__cuda_dev_get(&rt->plat, 1);
    assert_non_null(cd);
    int window = cd->window;
    assert_true(window >= 1 && window < NLOW / 4);

    int *flag_h = NULL, *flag_d = NULL;
    unsigned *counter = NULL, *slots = NULL;
    assert_int_equal(flo_test_mapped_int(&flag_h, &flag_d), 0);
    assert_int_equal(flo_test_dev_zalloc((void **)&counter, sizeof *counter),
                     0);
    assert_int_equal(
        flo_test_dev_zalloc((void **)&slots, (NLOW + 1) * sizeof *slots), 0);

    for (int i = 0; i < NLOW; i++) {
        flo_test_ticket_args a = {flag_d, counter, &slots[i]};
        submit(rt, &k_ticket, device, 0, NULL, 0, &a, sizeof a);
    }
    flo_test_ticket_args hi = {flag_d, counter, &slots[NLOW]};
    flo_event ev_hi =
        submit(rt, &k_ticket, device, 10, NULL, 0, &hi, sizeof hi);
    /* Release: every task is ready (or launched and spinning). */
    __atomic_store_n(flag_h, 1, __ATOMIC_SEQ_CST);
    flo_status st_hi = flo_event_wait(rt, ev_hi);
    flo_status st_all = flo_wait_all(rt);

    unsigned got[NLOW + 1];
    int rd = flo_test_dev_read(got, slots, sizeof got);
    flo_test_dev_free(slots);
    flo_test_dev_free(counter);
    flo_test_mapped_free(flag_h);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    assert_int_equal(st_hi, FLO_OK);
    assert_int_equal(st_all, FLO_OK);
    assert_int_equal(rd, 0);
    /* Every task ran once: tickets are a permutation of 1..NLOW+1. */
    static unsigned char seen[NLOW + 2];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i <= NLOW; i++) {
        assert_true(got[i] >= 1 && got[i] <= NLOW + 1);
        assert_int_equal(seen[got[i]], 0);
        seen[got[i]] = 1;
    }
    unsigned bound = (unsigned)window + 1 + 8;
    if (got[NLOW] > bound)
        fail_msg("policy %d, device %d: the high-priority task ran %u-th "
                 "of %d (window %d, bound %u)",
                 (int)sched, device, got[NLOW], NLOW + 1, window, bound);
}

static void test_priority_eager_pinned(void **state)
{
    (void)state;
    priority_case(FLO_SCHED_EAGER, 1);
}

static void test_priority_eager_shared(void **state)
{
    (void)state;
    priority_case(FLO_SCHED_EAGER, FLO_ANY);
}

static void test_priority_ws_pinned(void **state)
{
    (void)state;
    priority_case(FLO_SCHED_WS, 1);
}

static void test_priority_ws_shared(void **state)
{
    (void)state;
    priority_case(FLO_SCHED_WS, FLO_ANY);
}

static void test_priority_locality(void **state)
{
    (void)state;
    priority_case(FLO_SCHED_LOCALITY, FLO_ANY);
}

/* ---- Statistics and sampling without tracing ---------------------------- */

static void test_busy_time(void **state)
{
    (void)state;
    flo_runtime *rt = start(FLO_SCHED_LOCALITY);
    static const flo_kernel k_spin = {"spin", NULL, flo_test_cuda_spin};
    flo__cuda_dev *cd = flo__cuda_dev_get(&rt->plat, 1);
    assert_non_null(cd);
    assert_null(rt->plat.trace);
    /* 40 kernels of 400k clock cycles, one after the other (a chain on
     * one handle): a kernel cannot spin 400k cycles in less than
     * 400k / 2.5 GHz = 0.16 ms on any GPU clocked at most 2.5 GHz, so the
     * GPU was busy for at least 6.4 ms, whatever else runs. */
    flo_test_args spin = {400000, 1};
    unsigned cell = 0;
    flo_data hc;
    assert_int_equal(flo_data_register(rt, &cell, sizeof cell, &hc), FLO_OK);
    flo_access_desc rw = {hc, FLO_READ_WRITE};
    for (int i = 0; i < 40; i++)
        submit(rt, &k_spin, 1, 0, &rw, 1, &spin, sizeof spin);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hc), FLO_OK);
    /* The locality policy learns from task times: kernels are sampled.
     * (The worker sets this when it starts: read after its tasks.) */
    assert_true(cd->time_on);
    uint64_t busy = 0, tasks = 0;
    for (int i = 0; i < rt->nworkers; i++) {
        flo__worker *w = rt->workers[i];
        if (w->kind != FLO_DEVICE_CUDA)
            continue;
        busy += FLO__STAT_GET(w->st.busy_ns);
        tasks += FLO__STAT_GET(w->st.tasks);
    }
    assert_int_equal(tasks, 40);
    if (busy < 6400000)
        fail_msg("GPU busy time %.3f ms for 40 chained kernels of >= "
                 "0.16 ms",
                 (double)busy / 1e6);
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_completed, 40);
    assert_int_equal(flo_finalize(rt), FLO_OK);

    /* Without a policy that learns, nothing is sampled (checked once the
     * worker has run a task, so that it has started). */
    rt = start(FLO_SCHED_EAGER);
    submit(rt, &k_spin, 1, 0, NULL, 0, &spin, sizeof spin);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_false(flo__cuda_dev_get(&rt->plat, 1)->time_on);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- Device status words ---------------------------------------------- */

static void test_status_word(void **state)
{
    (void)state;
    flo_runtime *rt = start(FLO_SCHED_LOCALITY);
    static const flo_kernel k_status = {"solver", NULL, flo_test_cuda_status};
    int word = 0;
    flo_data h;
    assert_int_equal(flo_data_register(rt, &word, sizeof word, &h), FLO_OK);
    flo_access_desc acc = {h, FLO_READ_WRITE};

    flo_test_args zero = {0, 1}, bad = {7, 1}, zero_first = {0, 2};
    flo_event ok1 = submit(rt, &k_status, 1, 0, &acc, 1, &zero, sizeof zero);
    flo_event ok2 =
        submit(rt, &k_status, 1, 0, &acc, 1, &zero_first, sizeof zero_first);
    flo_event fail = submit(rt, &k_status, 1, 0, &acc, 1, &bad, sizeof bad);
    /* A dependent of the failed task is canceled, not run. */
    flo_event dep = submit(rt, &k_status, 1, 0, &acc, 1, &zero, sizeof zero);
    assert_int_equal(flo_event_wait(rt, ok1), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ok2), FLO_OK);
    assert_int_equal(flo_event_wait(rt, fail), FLO_ETASK);
    assert_int_equal(flo_event_wait(rt, dep), FLO_ECANCELED);
    char msg[256];
    assert_int_equal(flo_error_message(rt, fail, msg, sizeof msg), FLO_OK);
    if (!strstr(msg, "test info = 7") || !strstr(msg, "solver"))
        fail_msg("status word message lacks the label, value or task: "
                 "\"%s\"",
                 msg);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);

    /* Attached before its kernel: still read after it. */
    flo_test_args bad_first = {-3 & 0xffffffffu, 2};
    flo_event f2 =
        submit(rt, &k_status, 1, 0, &acc, 1, &bad_first, sizeof bad_first);
    assert_int_equal(flo_event_wait(rt, f2), FLO_ETASK);
    assert_int_equal(flo_error_message(rt, f2, msg, sizeof msg), FLO_OK);
    assert_non_null(strstr(msg, "test info = -3"));
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);

    /* Many independent tasks, most without their own completion event:
     * exactly the one with a non-zero word fails. */
    enum { N = 64, BAD = 37 };
    int words[N];
    flo_data hs[N];
    flo_event evs[N];
    for (int i = 0; i < N; i++) {
        words[i] = 0;
        assert_int_equal(
            flo_data_register(rt, &words[i], sizeof words[i], &hs[i]), FLO_OK);
    }
    for (int i = 0; i < N; i++) {
        flo_access_desc a = {hs[i], FLO_WRITE};
        flo_test_args v = {i == BAD ? 5u : 0u, 1};
        evs[i] = submit(rt, &k_status, 1, 0, &a, 1, &v, sizeof v);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(flo_event_wait(rt, evs[i]),
                         i == BAD ? FLO_ETASK : FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    for (int i = 0; i < N; i++)
        assert_int_equal(flo_data_unregister(rt, hs[i]), FLO_OK);
    for (int i = 0; i < N; i++)
        if (i != BAD)
            assert_int_equal(words[i], 0);

    /* From a host entry point: refused. */
    static const flo_kernel k_host = {"host-status", flo_test_host_status,
                                      NULL};
    int ret = 12345;
    flo_data hr;
    assert_int_equal(flo_data_register(rt, &ret, sizeof ret, &hr), FLO_OK);
    flo_access_desc ar = {hr, FLO_WRITE};
    flo_event eh = submit(rt, &k_host, 0, 0, &ar, 1, NULL, 0);
    assert_int_equal(flo_event_wait(rt, eh), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hr), FLO_OK);
    assert_int_equal(ret, FLO_EINVAL);
    /* Outside any task. */
    assert_int_equal(flo_task_cuda_status_word(NULL, &word, "x"), FLO_EINVAL);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_eager_pinned),
        cmocka_unit_test(test_priority_eager_shared),
        cmocka_unit_test(test_priority_ws_pinned),
        cmocka_unit_test(test_priority_ws_shared),
        cmocka_unit_test(test_priority_locality),
        cmocka_unit_test(test_busy_time),
        cmocka_unit_test(test_status_word),
    };
    return cmocka_run_group_tests_name("device_cuda_sched", tests, NULL, NULL);
}
