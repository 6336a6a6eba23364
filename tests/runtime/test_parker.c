/*
 * runtime_parker: the parker (white-box). No wake-up may be lost: a
 * sleeper that announced itself and re-checked for work is woken by a
 * waker that published work after it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/internal.h"
#include "tests/scheduler/testutil.h"

static void test_wake_not_sleeping(void **s)
{
    (void)s;
    flo__parker p;
    assert_int_equal(flo__parker_init(&p), 0);
    /* Nobody sleeps: nothing to wake. */
    assert_false(flo__parker_wake(&p));
    /* A timed park with nobody waking returns after about the timeout. */
    atomic_store(&p.sleeping, 1);
    uint64_t t0 = flot_now_ns();
    flo__parker_park(&p, 20000000);
    uint64_t dt = flot_now_ns() - t0;
    assert_true(dt >= 15000000);
    assert_true(dt < 2000000000);
    assert_int_equal(atomic_load(&p.sleeping), 0);
    flo__parker_destroy(&p);
}

static void test_wake_before_park(void **s)
{
    (void)s;
    flo__parker p;
    assert_int_equal(flo__parker_init(&p), 0);
    /* Announced, then woken before it actually waits: park returns at
     * once instead of sleeping for the whole timeout. */
    atomic_store(&p.sleeping, 1);
    assert_true(flo__parker_wake(&p));
    uint64_t t0 = flot_now_ns();
    flo__parker_park(&p, 5000000000ull);
    assert_true(flot_now_ns() - t0 < 1000000000ull);
    assert_int_equal(atomic_load(&p.sleeping), 0);
    /* The signal was consumed: the next park sleeps until its timeout. */
    atomic_store(&p.sleeping, 1);
    t0 = flot_now_ns();
    flo__parker_park(&p, 10000000);
    assert_true(flot_now_ns() - t0 >= 8000000);
    flo__parker_destroy(&p);
}

/* A sleeper already woken is not woken again: a second waker is told
 * so (false) and must look for another sleeper. Otherwise two tasks made
 * ready in a row both "wake" the same worker and the second one waits
 * while other workers sleep on. */
static void test_double_wake(void **s)
{
    (void)s;
    flo__parker p;
    assert_int_equal(flo__parker_init(&p), 0);
    atomic_store(&p.sleeping, 1);
    assert_true(flo__parker_wake(&p));
    if (flo__parker_wake(&p))
        fail_msg("flo__parker_wake returned true twice for one sleeper: "
                 "the second wake-up was lost");
    flo__parker_park(&p, 1000000000ull);
    flo__parker_destroy(&p);
}

/* Ping-pong: two threads hand a token back and forth, each parking
 * (with a long timeout) until the token is its own. A lost wake-up
 * shows as a round that took about the timeout. */
typedef struct pp {
    flo__parker park[2];
    atomic_int token;
    atomic_long rounds_left;
    uint64_t worst_ns[2];
    long slow_rounds[2];
} pp;

static pp ping;

static void pp_side(int me)
{
    flo__parker *mine = &ping.park[me];
    for (;;) {
        uint64_t t0 = flot_now_ns();
        while (atomic_load(&ping.token) != me) {
            if (atomic_load(&ping.rounds_left) <= 0)
                return;
            /* Announce, re-check, then sleep. */
            atomic_store(&mine->sleeping, 1);
            if (atomic_load(&ping.token) == me ||
                atomic_load(&ping.rounds_left) <= 0) {
                atomic_store(&mine->sleeping, 0);
                continue;
            }
            flo__parker_park(mine, 1000000000ull);
        }
        uint64_t dt = flot_now_ns() - t0;
        if (dt > ping.worst_ns[me])
            ping.worst_ns[me] = dt;
        if (dt > 500000000ull)
            ping.slow_rounds[me]++;
        if (atomic_fetch_sub(&ping.rounds_left, 1) <= 0) {
            atomic_store(&ping.token, 1 - me);
            flo__parker_wake(&ping.park[1 - me]);
            return;
        }
        atomic_store(&ping.token, 1 - me);
        flo__parker_wake(&ping.park[1 - me]);
    }
}

static void *pp_thread(void *arg)
{
    (void)arg;
    pp_side(1);
    return NULL;
}

static void test_ping_pong(void **s)
{
    (void)s;
    pthread_t th;
    long rounds = flot_scaled(20000, 2000);
    memset(&ping, 0, sizeof(ping));
    assert_int_equal(flo__parker_init(&ping.park[0]), 0);
    assert_int_equal(flo__parker_init(&ping.park[1]), 0);
    atomic_store(&ping.token, 0);
    atomic_store(&ping.rounds_left, rounds);
    assert_int_equal(pthread_create(&th, NULL, pp_thread, NULL), 0);
    pp_side(0);
    /* Let the other side see the end. */
    atomic_store(&ping.rounds_left, 0);
    flo__parker_wake(&ping.park[1]);
    pthread_join(th, NULL);
    if (ping.slow_rounds[0] || ping.slow_rounds[1])
        fail_msg("lost wake-ups: %ld and %ld rounds waited > 0.5 s "
                 "(worst %.1f ms, %.1f ms)",
                 ping.slow_rounds[0], ping.slow_rounds[1],
                 (double)ping.worst_ns[0] / 1e6,
                 (double)ping.worst_ns[1] / 1e6);
    flo__parker_destroy(&ping.park[0]);
    flo__parker_destroy(&ping.park[1]);
}

int main(void)
{
    flot_apply_filter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wake_not_sleeping),
        cmocka_unit_test(test_wake_before_park),
        cmocka_unit_test(test_double_wake),
        cmocka_unit_test(test_ping_pong),
    };
    return cmocka_run_group_tests_name("runtime_parker", tests, NULL, NULL);
}
