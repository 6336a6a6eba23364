/*
 * scheduler_dag: random task graphs over shared data, compared with the
 * sequential execution of the same program on plain arrays, for every
 * scheduling policy and several seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/scheduler/testutil.h"

#define NHANDLES 64
#define MAXACC 5

typedef struct dag_args {
    uint64_t id;
    int n;
    uint8_t h[MAXACC];
    uint8_t mode[MAXACC]; /* flo_access */
} dag_args;

/* The task's function, shared by the kernel and the reference: read
 * every readable buffer, then update every writable one. */
static void dag_apply(const dag_args *a, uint64_t *const v[MAXACC])
{
    uint64_t sum = a->id * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < a->n; i++)
        if (a->mode[i] & FLO_READ)
            sum = sum * 31 + *v[i];
    for (int i = 0; i < a->n; i++) {
        if (a->mode[i] == FLO_READ_WRITE)
            *v[i] = *v[i] * 6364136223846793005ull + sum + a->h[i];
        else if (a->mode[i] == FLO_WRITE)
            *v[i] = sum ^ ((uint64_t)a->h[i] << 32);
    }
}

static atomic_long dag_runs;

static void k_dag(flo_task_ctx *ctx)
{
    size_t sz = 0;
    const dag_args *a = flo_task_args(ctx, &sz);
    uint64_t *v[MAXACC];
    if (sz != sizeof(*a))
        return; /* Shows as a wrong result. */
    for (int i = 0; i < a->n; i++)
        v[i] = flo_task_buffer(ctx, i);
    dag_apply(a, v);
    atomic_fetch_add_explicit(&dag_runs, 1, memory_order_relaxed);
}
static const flo_kernel kdag = {"dag", k_dag, NULL};

/* Build task k of the program from the seed state. */
static void dag_make(uint64_t *seed, uint64_t k, dag_args *a)
{
    int nread = (int)(flot_rand(seed) % 4);      /* 0..3 */
    int nwrite = 1 + (int)(flot_rand(seed) % 2); /* 1..2 */
    memset(a, 0, sizeof(*a));
    a->id = k;
    while (a->n < nread + nwrite) {
        uint8_t h = (uint8_t)(flot_rand(seed) % NHANDLES);
        bool dup = false;
        for (int i = 0; i < a->n; i++)
            dup |= a->h[i] == h;
        if (dup)
            continue;
        a->h[a->n] = h;
        if (a->n < nread)
            a->mode[a->n] = FLO_READ;
        else
            a->mode[a->n] =
                flot_rand(seed) % 4 == 0 ? FLO_WRITE : FLO_READ_WRITE;
        a->n++;
    }
}

static void run_dag(flo_sched_policy pol, int workers, uint64_t seed0,
                    long ntasks, bool with_events)
{
    static uint64_t user[NHANDLES / 2];
    uint64_t ref[NHANDLES];
    flo_data d[NHANDLES];
    flo_event ring[256];
    int nring = 0;
    flo_runtime *rt = flot_rt(pol, workers);
    uint64_t seed = seed0;

    assert_non_null(rt);
    atomic_store(&dag_runs, 0);
    for (int h = 0; h < NHANDLES; h++) {
        if (h % 2 == 0) {
            user[h / 2] = (uint64_t)h * 1000003u;
            ref[h] = user[h / 2];
            assert_int_equal(flo_data_register(rt, &user[h / 2], 8, &d[h]),
                             FLO_OK);
        } else {
            ref[h] = 0; /* Runtime-allocated data reads as zeros. */
            assert_int_equal(flo_data_alloc(rt, 8, &d[h]), FLO_OK);
        }
    }

    for (long k = 0; k < ntasks; k++) {
        dag_args a;
        flo_access_desc acc[MAXACC];
        uint64_t *v[MAXACC];
        flo_task_desc td = FLO_TASK_DESC_INIT;
        flo_event dep, ev;

        dag_make(&seed, (uint64_t)k, &a);
        for (int i = 0; i < a.n; i++) {
            acc[i].data = d[a.h[i]];
            acc[i].mode = (flo_access)a.mode[i];
            v[i] = &ref[a.h[i]];
        }
        dag_apply(&a, v);

        td.kernel = &kdag;
        td.access = acc;
        td.naccess = a.n;
        td.args = &a;
        td.args_size = sizeof(a);
        td.priority = (int)(k % 3) - 1;
        if (with_events && nring > 0 && k % 7 == 0) {
            dep = ring[flot_rand(&seed) % (uint64_t)nring];
            td.deps = &dep;
            td.ndeps = 1;
        }
        flo_status st = flo_task_submit(rt, &td, &ev);
        if (st != FLO_OK)
            fail_msg("%s seed %llu: submit of task %ld failed: %s",
                     flot_sched_name(pol), (unsigned long long)seed0, k,
                     flo_status_str(st));
        if (with_events) {
            if (nring < 256)
                ring[nring++] = ev;
            else
                ring[k % 256] = ev;
        }
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&dag_runs), ntasks);

    for (int h = 0; h < NHANDLES; h++) {
        uint64_t got;
        if (h % 2 == 0) {
            assert_int_equal(flo_data_unregister(rt, d[h]), FLO_OK);
            got = user[h / 2];
        } else {
            void *p;
            assert_int_equal(flo_data_acquire(rt, d[h], FLO_READ, &p), FLO_OK);
            got = *(uint64_t *)p;
            assert_int_equal(flo_data_release(rt, d[h]), FLO_OK);
            assert_int_equal(flo_data_unregister(rt, d[h]), FLO_OK);
        }
        if (got != ref[h])
            fail_msg("%s seed %llu: handle %d is %llx, sequential %llx",
                     flot_sched_name(pol), (unsigned long long)seed0, h,
                     (unsigned long long)got, (unsigned long long)ref[h]);
    }
    flo_stats st;
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_submitted, (uint64_t)ntasks);
    assert_int_equal(st.tasks_failed, 0);
    assert_int_equal(st.tasks_canceled, 0);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static const uint64_t seeds[] = {1, 0xfeedbeef, 20261125};

static void dag_policy(flo_sched_policy pol)
{
    long n = flot_scaled(100000, 5000);
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        run_dag(pol, 4, seeds[i], n, i == 2);
}

static void test_dag_eager(void **s)
{
    (void)s;
    dag_policy(FLO_SCHED_EAGER);
}
static void test_dag_ws(void **s)
{
    (void)s;
    dag_policy(FLO_SCHED_WS);
}
static void test_dag_locality(void **s)
{
    (void)s;
    dag_policy(FLO_SCHED_LOCALITY);
}
static void test_dag_default(void **s)
{
    (void)s;
    run_dag(FLO_SCHED_DEFAULT, 3, 42, flot_scaled(100000, 5000), true);
}

/* One worker: the same graph runs in some order consistent with it. */
static void test_dag_one_worker(void **s)
{
    (void)s;
    run_dag(FLO_SCHED_WS, 1, 7, flot_scaled(20000, 2000), true);
    run_dag(FLO_SCHED_EAGER, 1, 8, flot_scaled(20000, 2000), false);
}

/* More workers than cores: preemption in the middle of the runtime's
 * critical sections. */
static void test_dag_oversubscribed(void **s)
{
    (void)s;
    run_dag(FLO_SCHED_WS, 8, 9, flot_scaled(30000, 3000), true);
    run_dag(FLO_SCHED_EAGER, 8, 10, flot_scaled(30000, 3000), false);
    run_dag(FLO_SCHED_LOCALITY, 8, 11, flot_scaled(30000, 3000), false);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dag_eager),
        cmocka_unit_test(test_dag_ws),
        cmocka_unit_test(test_dag_locality),
        cmocka_unit_test(test_dag_default),
        cmocka_unit_test(test_dag_one_worker),
        cmocka_unit_test(test_dag_oversubscribed),
    };
    return cmocka_run_group_tests_name("scheduler_dag", tests, NULL, NULL);
}
