/*
 * Flotilla tests - helpers shared by the runtime and scheduler suites.
 *
 * Worker threads only record (atomics, plain arrays indexed by task); the
 * main thread asserts after waiting, because CMocka is not thread-safe.
 */
#ifndef FLO_TESTS_TESTUTIL_H
#define FLO_TESTS_TESTUTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "flotilla.h"

#if defined(__SANITIZE_THREAD__)
#define FLOT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FLOT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FLOT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FLOT_ASAN 1
#endif
#endif

/*
 * Iteration scale: FLOTILLA_TEST_SCALE (a positive number) if set, else
 * 0.1 under TSan, 0.5 under ASan, 1 otherwise.
 */
static inline double flot_scale(void)
{
    const char *s = getenv("FLOTILLA_TEST_SCALE");
    if (s != NULL) {
        double v = strtod(s, NULL);
        if (v > 0)
            return v;
    }
#if defined(FLOT_TSAN)
    return 0.1;
#elif defined(FLOT_ASAN)
    return 0.5;
#else
    return 1.0;
#endif
}

/* Time allowances grow as the iteration counts shrink (sanitizers). */
static inline uint64_t flot_slack_ns(uint64_t ns)
{
    double sc = flot_scale();
    return sc >= 1 ? ns : (uint64_t)((double)ns / sc);
}

/*
 * How long a test waits for something the runtime guarantees will happen
 * (a sleeping worker picking up a ready task, say) before calling it a
 * failure: far beyond any delay a loaded machine causes, so the outcome
 * depends on the guarantee, not on scheduling luck; a broken runtime
 * still fails in bounded time.
 */
#define FLOT_GUARANTEE_NS 60000000000ull

/* n scaled, at least min. */
static inline long flot_scaled(long n, long min)
{
    long v = (long)((double)n * flot_scale());
    return v < min ? min : v;
}

static inline uint64_t flot_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void flot_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Remove every FLO_* variable the runtime reads, so that the
 * environment of whoever runs the tests cannot change their outcome. */
static inline void flot_clear_env(void)
{
    static const char *const vars[] = {
        "FLO_HOST_WORKERS", "FLO_SCHED",           "FLO_DEVICES",
        "FLO_BIND",         "FLO_TRACE",           "FLO_STATS",
        "FLO_GPUS",         "FLO_GPU_LIST",        "FLO_LOG_LEVEL",
        "FLO_TOPOLOGY",     "FLO_STREAMS_PER_GPU", "FLO_GPU_MEM_LIMIT",
        "FLO_LOGICAL_GPUS", "FLO_COLL_TIMEOUT",    "FLO_PIN_HOST",
        "FLO_FAULTS",       "FLO_WRITE_THROUGH",   "FLO_LINEAGE",
        "FLO_DAG",
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

/* A host-only runtime with `workers` host workers and the policy, not
 * reading the environment. NULL on failure. */
static inline flo_runtime *flot_rt(flo_sched_policy sched, int workers)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.host_workers = workers;
    cfg.sched = sched;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.ignore_env = 1;
    if (flo_init(&cfg, &rt) != FLO_OK)
        return NULL;
    return rt;
}

static inline const char *flot_sched_name(flo_sched_policy p)
{
    switch (p) {
    case FLO_SCHED_EAGER: return "eager";
    case FLO_SCHED_WS: return "ws";
    case FLO_SCHED_LOCALITY: return "locality";
    default: return "default";
    }
}

/* FLOTILLA_TEST_FILTER=pattern runs only the matching tests (cmocka
 * wildcard syntax), e.g. to rerun one case under a sanitizer. */
static inline void flot_apply_filter(void)
{
    const char *f = getenv("FLOTILLA_TEST_FILTER");
    if (f && *f)
        cmocka_set_test_filter(f);
}

/* Small deterministic generator (splitmix64). */
static inline uint64_t flot_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Submit a task with one host entry point and up to 4 accesses. */
static inline flo_status flot_submit(flo_runtime *rt, const flo_kernel *k,
                                     const flo_access_desc *acc, int nacc,
                                     const void *args, size_t args_size,
                                     flo_event *ev)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = k;
    d.access = acc;
    d.naccess = nacc;
    d.args = args;
    d.args_size = args_size;
    return flo_task_submit(rt, &d, ev);
}

/* Poll ev until it finishes or timeout_ms passes; returns its status,
 * or FLO_INPROGRESS on timeout (the test then fails without hanging). */
static inline flo_status flot_wait_timeout(flo_runtime *rt, flo_event ev,
                                           long timeout_ms)
{
    uint64_t end = flot_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        flo_status st = flo_event_query(rt, ev);
        if (st != FLO_INPROGRESS)
            return st;
        if (flot_now_ns() > end)
            return FLO_INPROGRESS;
        flot_sleep_us(200);
    }
}

#endif
