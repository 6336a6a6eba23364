/*
 * scheduler_park: the sleeping protocol every worker uses
 * (flo__sched_park, flo__sched_wake, flo__sched_wake_for), white-box, on
 * a bare runtime record with host workers that no thread runs: the test
 * threads play the workers.
 *
 * A worker announces itself, looks for work once more (recheck) and
 * parks; a thread that publishes work wakes a sleeper. No wake-up may be
 * lost, and a wake-up that arrives while a worker takes its announcement
 * back is consumed (never left to make its next park return at once) and
 * passed on to another sleeper when the worker found work.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scheduler/sched.h"
#include "tests/scheduler/testutil.h"

#define MAXW 8

typedef struct park_rt {
    flo_runtime *rt;
    flo__device dev;
    flo__worker *w[MAXW];
    int n;
} park_rt;

/* A runtime record with n host workers (not started). */
static void park_rt_make(park_rt *p, int n)
{
    memset(p, 0, sizeof(*p));
    p->rt = flo__calloc_aligned(1, sizeof(flo_runtime), FLO__CACHELINE);
    assert_non_null(p->rt);
    p->dev.kind = FLO_DEVICE_HOST;
    assert_int_equal(flo__platform_add(&p->rt->plat, &p->dev), FLO_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(flo__worker_create(p->rt, &p->dev, -1, &p->w[i]),
                         FLO_OK);
    p->n = n;
}

static void park_rt_free(park_rt *p)
{
    assert_int_equal(atomic_load(&p->rt->nsleeping), 0);
    for (int i = 0; i < p->n; i++) {
        flo__parker_destroy(&p->w[i]->parker);
        free(p->w[i]);
    }
    free(p->rt);
}

/* Pretend that w sleeps (announced and parked, as far as wakers see). */
static void announce(park_rt *p, flo__worker *w)
{
    atomic_store(&w->parker.sleeping, 1);
    atomic_fetch_add(&p->rt->nsleeping, 1);
}

static void unannounce(park_rt *p, flo__worker *w)
{
    pthread_mutex_lock(&w->parker.mu);
    w->parker.signaled = 0;
    atomic_store(&w->parker.sleeping, 0);
    pthread_mutex_unlock(&w->parker.mu);
    atomic_fetch_sub(&p->rt->nsleeping, 1);
}

typedef struct recheck_arg {
    int calls;
    bool found;
    bool wake_self; /* Act as a waker that picked w meanwhile. */
    bool woke;      /* flo__sched_wake's answer then. */
    int sleeping;   /* w's announcement, as recheck saw it. */
} recheck_arg;

static bool recheck(flo__worker *w, void *arg)
{
    recheck_arg *a = arg;
    a->calls++;
    a->sleeping = atomic_load(&w->parker.sleeping);
    if (a->wake_self)
        a->woke = flo__sched_wake(w);
    return a->found;
}

/* Work found on the last look: no park, the announcement is gone. */
static void test_found_no_park(void **s)
{
    (void)s;
    park_rt p;
    park_rt_make(&p, 1);
    recheck_arg a = {.found = true};
    uint64_t ns = 12345;
    assert_false(flo__sched_park(p.w[0], 0, recheck, &a, &ns));
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.sleeping, 1); /* Announced before the look. */
    assert_int_equal(atomic_load(&p.w[0]->parker.sleeping), 0);
    assert_int_equal(atomic_load(&p.rt->nsleeping), 0);
    assert_true(ns == 12345); /* Not parked: not written. */
    park_rt_free(&p);
}

/* Nothing found: it parks until the bound, then is no longer counted. */
static void test_parks_until_timeout(void **s)
{
    (void)s;
    park_rt p;
    park_rt_make(&p, 1);
    recheck_arg a = {.found = false};
    uint64_t ns = 0;
    assert_true(flo__sched_park(p.w[0], 1000000, recheck, &a, &ns));
    assert_int_equal(a.calls, 1);
    assert_int_equal(atomic_load(&p.w[0]->parker.sleeping), 0);
    assert_int_equal(atomic_load(&p.rt->nsleeping), 0);
    park_rt_free(&p);
}

/* A stopping runtime: no park even when nothing was found. */
static void test_stopping_no_park(void **s)
{
    (void)s;
    park_rt p;
    park_rt_make(&p, 1);
    atomic_store(&p.rt->stopping, 1);
    recheck_arg a = {.found = false};
    assert_false(flo__sched_park(p.w[0], 0, recheck, &a, NULL));
    assert_int_equal(atomic_load(&p.rt->nsleeping), 0);
    park_rt_free(&p);
}

/*
 * A waker picks w while w looks for work and finds some: the wake-up is
 * consumed (w's parker is left without a signal, so its next park really
 * sleeps) and passed on to another sleeper, which the waker would have
 * woken had it not picked w. The GPU worker's former copy of the
 * protocol left the signal set and passed nothing on.
 */
static void test_stray_wake_passed_on(void **s)
{
    (void)s;
    park_rt p;
    park_rt_make(&p, 2);
    announce(&p, p.w[1]);
    recheck_arg a = {.found = true, .wake_self = true};
    assert_false(flo__sched_park(p.w[0], 0, recheck, &a, NULL));
    assert_true(a.woke);
    assert_int_equal(p.w[0]->parker.signaled, 0);
    assert_int_equal(atomic_load(&p.w[0]->parker.sleeping), 0);
    assert_int_equal(p.w[1]->parker.signaled, 1);
    unannounce(&p, p.w[1]);
    park_rt_free(&p);
}

/* The same wake-up while the runtime stops, nothing found: consumed, and
 * passed on to nobody (everyone is being stopped). */
static void test_stray_wake_stopping(void **s)
{
    (void)s;
    park_rt p;
    park_rt_make(&p, 2);
    announce(&p, p.w[1]);
    atomic_store(&p.rt->stopping, 1);
    recheck_arg a = {.found = false, .wake_self = true};
    assert_false(flo__sched_park(p.w[0], 0, recheck, &a, NULL));
    assert_true(a.woke);
    assert_int_equal(p.w[0]->parker.signaled, 0);
    assert_int_equal(p.w[1]->parker.signaled, 0);
    unannounce(&p, p.w[1]);
    park_rt_free(&p);
}

/* A wake-up for w that arrives during its last look, which finds
 * nothing: it is w's to take, so the park returns at once (unbounded
 * park: a lost wake-up would hang here, and the test's timeout fails). */
static void test_wake_during_recheck_parks_short(void **s)
{
    (void)s;
    park_rt p;
    park_rt_make(&p, 1);
    recheck_arg a = {.found = false, .wake_self = true};
    assert_true(flo__sched_park(p.w[0], 0, recheck, &a, NULL));
    assert_true(a.woke);
    assert_int_equal(p.w[0]->parker.signaled, 0);
    assert_int_equal(atomic_load(&p.rt->nsleeping), 0);
    park_rt_free(&p);
}

/* ---- Several threads: producers publish items, parked workers take
 * them. Parks are unbounded, so a lost wake-up leaves an item untaken
 * and the producer waiting forever (the test's timeout). ------------- */

typedef struct pool_state {
    park_rt *p;
    atomic_long items; /* Published, not yet taken. */
    atomic_long taken;
    long total;
    long per_worker[MAXW];
} pool_state;

static pool_state pool;

static bool take(void)
{
    long n = atomic_load(&pool.items);
    while (n > 0)
        if (atomic_compare_exchange_weak(&pool.items, &n, n - 1))
            return true;
    return false;
}

static bool recheck_take(flo__worker *w, void *arg)
{
    (void)w;
    bool *got = arg;
    *got = take();
    return *got;
}

typedef struct wk_arg {
    int i;
} wk_arg;

static void *worker_thread(void *arg)
{
    int i = ((wk_arg *)arg)->i;
    flo__worker *w = pool.p->w[i];
    for (;;) {
        bool got = take();
        if (!got && !atomic_load(&pool.p->rt->stopping))
            flo__sched_park(w, 0, recheck_take, &got, NULL);
        if (got) {
            pool.per_worker[i]++;
            atomic_fetch_add(&pool.taken, 1);
            continue;
        }
        if (atomic_load(&pool.p->rt->stopping))
            return NULL;
    }
}

static void test_no_lost_wakeup_threads(void **s)
{
    (void)s;
    park_rt p;
    pthread_t th[MAXW];
    wk_arg args[MAXW];
    int nw = 4;

    park_rt_make(&p, nw);
    memset(&pool, 0, sizeof(pool));
    pool.p = &p;
    pool.total = flot_scaled(20000, 2000);
    for (int i = 0; i < nw; i++) {
        args[i].i = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker_thread, &args[i]),
                         0);
    }
    /* Publish one item at a time, sometimes a burst, and wake a
     * sleeper after each (the policies' push does the same). */
    for (long k = 0; k < pool.total;) {
        long burst = (k % 7 == 0) ? 3 : 1;
        if (burst > pool.total - k)
            burst = pool.total - k;
        for (long b = 0; b < burst; b++) {
            atomic_fetch_add(&pool.items, 1);
            flo__sched_wake_for(p.rt, FLO__ELIG_HOST | FLO__ELIG_CUDA);
        }
        k += burst;
        if (k % 64 == 0)
            sched_yield();
    }
    /* Every item is taken before anyone is told to stop: a lost
     * wake-up would leave one here for good. */
    while (atomic_load(&pool.taken) < pool.total)
        sched_yield();
    atomic_store(&p.rt->stopping, 1);
    for (int i = 0; i < nw; i++) {
        /* As flo__sched_stop_workers does: signal even a worker that
         * has not announced itself yet. */
        pthread_mutex_lock(&p.w[i]->parker.mu);
        p.w[i]->parker.signaled = 1;
        pthread_cond_signal(&p.w[i]->parker.cv);
        pthread_mutex_unlock(&p.w[i]->parker.mu);
    }
    for (int i = 0; i < nw; i++)
        pthread_join(th[i], NULL);
    long sum = 0;
    for (int i = 0; i < nw; i++)
        sum += pool.per_worker[i];
    assert_int_equal(sum, pool.total);
    assert_int_equal(atomic_load(&pool.items), 0);
    for (int i = 0; i < nw; i++)
        p.w[i]->parker.signaled = 0;
    park_rt_free(&p);
}

int main(void)
{
    flot_apply_filter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found_no_park),
        cmocka_unit_test(test_parks_until_timeout),
        cmocka_unit_test(test_stopping_no_park),
        cmocka_unit_test(test_stray_wake_passed_on),
        cmocka_unit_test(test_stray_wake_stopping),
        cmocka_unit_test(test_wake_during_recheck_parks_short),
        cmocka_unit_test(test_no_lost_wakeup_threads),
    };
    return cmocka_run_group_tests_name("scheduler_park", tests, NULL, NULL);
}
