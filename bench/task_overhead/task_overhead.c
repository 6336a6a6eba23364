/*
 * task_overhead - what an empty task costs on the host backend.
 *
 * Cases (N = host workers, once with 1 and once with all of them):
 *   independent/workers=N  N tasks with no data and no dependencies,
 *                          submitted back to back, then flo_wait_all;
 *                          ns per task, amortised.
 *   chain/workers=N        a chain of tasks through one data handle in
 *                          read-write mode; ns per hop.
 *   fanout/workers=N       a root task, --fanout readers of its data, and
 *                          a join task that writes it again, repeated;
 *                          ns per task.
 *   event_chain/workers=N  a chain of tasks ordered by explicit events
 *                          (each task depends on the previous one's
 *                          event); ns per hop.
 *
 * The baseline, measured in the same process: streaming items from one
 * pthread to another through a mutex + condition-variable queue, ns per
 * item, which is what a user writes by hand instead of a task runtime.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flotilla.h>

#include "bench.h"

#define BASELINE_NAME "mutex+condvar hand-off"

static const char usage[] =
    "Empty-task overhead of the host backend, with a mutex+condvar\n"
    "hand-off between two pthreads as the baseline.\n"
    "  --tasks N     tasks per timed repetition (default 100000)\n"
    "  --fanout W    readers per fan-out stage (default 64)\n"
    "  --workers N   the 'all workers' count (default: one per core)\n"
    "  --sched NAME  eager | ws | locality | default (default)\n";

/* ---- The baseline: a bounded queue with a mutex and two condvars ------
 * Written as a careful user would: a side signals only when the other
 * sleeps, so a streaming hand-off costs a lock round trip per item, not a
 * futex wake-up. */

#define QCAP 1024

typedef struct handoff {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    uint64_t items[QCAP];
    size_t head, tail;  /* head == tail: empty; protected by lock. */
    int consumer_waits; /* Threads asleep on not_empty / not_full, */
    int producer_waits; /* so that a signal is sent only when needed. */
    long n;             /* Items the consumer expects. */
    uint64_t sum;       /* Consumer's checksum, read after join. */
} handoff;

static void *consumer_main(void *arg)
{
    handoff *q = arg;
    uint64_t sum = 0;
    for (long i = 0; i < q->n; i++) {
        pthread_mutex_lock(&q->lock);
        while (q->head == q->tail) {
            q->consumer_waits++;
            pthread_cond_wait(&q->not_empty, &q->lock);
            q->consumer_waits--;
        }
        sum += q->items[q->head % QCAP];
        q->head++;
        if (q->producer_waits)
            pthread_cond_signal(&q->not_full);
        pthread_mutex_unlock(&q->lock);
    }
    q->sum = sum;
    return NULL;
}

/* Time to stream n items from this thread to a consumer thread, in ns per
 * item, from the first push to the consumer having taken the last one.
 * Negative on failure. */
static double handoff_run(long n)
{
    handoff *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -1.0;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->n = n;

    pthread_t th;
    double ns = -1.0;
    if (pthread_create(&th, NULL, consumer_main, q) != 0)
        goto out;
    double t0 = flo_bench_now();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&q->lock);
        while (q->tail - q->head == QCAP) {
            q->producer_waits++;
            pthread_cond_wait(&q->not_full, &q->lock);
            q->producer_waits--;
        }
        q->items[q->tail % QCAP] = (uint64_t)i;
        q->tail++;
        if (q->consumer_waits)
            pthread_cond_signal(&q->not_empty);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_join(th, NULL);
    double t1 = flo_bench_now();
    if (q->sum == (uint64_t)n * (uint64_t)(n - 1) / 2)
        ns = (t1 - t0) * 1e9 / (double)n;
    else
        fprintf(stderr, "task_overhead: hand-off checksum mismatch\n");
out:
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q);
    return ns;
}

/* ---- Flotilla cases ----------------------------------------------------- */

static void empty_task(flo_task_ctx *ctx)
{
    (void)ctx;
}

/* The chain's tasks count their hops so that the run checks its order. */
static void count_task(flo_task_ctx *ctx)
{
    uint64_t *c = flo_task_buffer(ctx, 0);
    (*c)++;
}

static const flo_kernel k_empty = {.name = "empty", .host = empty_task};
static const flo_kernel k_count = {.name = "count", .host = count_task};

#define CHECK(call)                                                            \
    do {                                                                       \
        flo_status st_ = (call);                                               \
        if (st_ != FLO_OK) {                                                   \
            fprintf(stderr, "task_overhead: %s failed: %s (line %d)\n", #call, \
                    flo_status_str(st_), __LINE__);                            \
            return -1.0;                                                       \
        }                                                                      \
    } while (0)

static double case_independent(flo_runtime *rt, long n)
{
    flo_task_desc desc = FLO_TASK_DESC_INIT;
    desc.kernel = &k_empty;
    double t0 = flo_bench_now();
    for (long i = 0; i < n; i++)
        CHECK(flo_task_submit(rt, &desc, NULL));
    CHECK(flo_wait_all(rt));
    return (flo_bench_now() - t0) * 1e9 / (double)n;
}

static double case_chain(flo_runtime *rt, long n)
{
    uint64_t counter = 0;
    flo_data d;
    CHECK(flo_data_register(rt, &counter, sizeof(counter), &d));
    flo_access_desc acc = {d, FLO_READ_WRITE};
    flo_task_desc desc = FLO_TASK_DESC_INIT;
    desc.kernel = &k_count;
    desc.access = &acc;
    desc.naccess = 1;
    double t0 = flo_bench_now();
    for (long i = 0; i < n; i++)
        CHECK(flo_task_submit(rt, &desc, NULL));
    CHECK(flo_wait_all(rt));
    double ns = (flo_bench_now() - t0) * 1e9 / (double)n;
    CHECK(flo_data_unregister(rt, d));
    if (counter != (uint64_t)n) {
        fprintf(stderr, "task_overhead: chain counted %llu of %ld hops\n",
                (unsigned long long)counter, n);
        return -1.0;
    }
    return ns;
}

static double case_fanout(flo_runtime *rt, long n, int width)
{
    uint64_t value = 0;
    flo_data d;
    CHECK(flo_data_register(rt, &value, sizeof(value), &d));
    flo_access_desc rw = {d, FLO_READ_WRITE};
    flo_access_desc rd = {d, FLO_READ};
    flo_task_desc root = FLO_TASK_DESC_INIT;
    root.kernel = &k_empty;
    root.access = &rw;
    root.naccess = 1;
    flo_task_desc leaf = root;
    leaf.access = &rd;

    /* Each stage is the join of the previous one and the root of the
     * next: 1 + width tasks per stage, plus the final join. */
    long stages = n / (width + 1);
    if (stages < 1)
        stages = 1;
    long tasks = stages * (width + 1) + 1;
    double t0 = flo_bench_now();
    CHECK(flo_task_submit(rt, &root, NULL));
    for (long s = 0; s < stages; s++) {
        for (int i = 0; i < width; i++)
            CHECK(flo_task_submit(rt, &leaf, NULL));
        CHECK(flo_task_submit(rt, &root, NULL));
    }
    CHECK(flo_wait_all(rt));
    double ns = (flo_bench_now() - t0) * 1e9 / (double)tasks;
    CHECK(flo_data_unregister(rt, d));
    return ns;
}

static double case_event_chain(flo_runtime *rt, long n)
{
    flo_event prev = FLO_EVENT_NULL;
    flo_task_desc desc = FLO_TASK_DESC_INIT;
    desc.kernel = &k_empty;
    desc.deps = &prev;
    desc.ndeps = 1;
    double t0 = flo_bench_now();
    for (long i = 0; i < n; i++) {
        flo_event next;
        CHECK(flo_task_submit(rt, &desc, &next));
        prev = next;
    }
    CHECK(flo_event_wait(rt, prev));
    CHECK(flo_wait_all(rt));
    return (flo_bench_now() - t0) * 1e9 / (double)n;
}

#undef CHECK

enum { C_INDEPENDENT, C_CHAIN, C_FANOUT, C_EVENT_CHAIN, C_COUNT };
static const char *const case_names[C_COUNT] = {"independent", "chain",
                                                "fanout", "event_chain"};
static const char *const case_units[C_COUNT] = {"ns/task", "ns/hop", "ns/task",
                                                "ns/hop"};

typedef struct params {
    long tasks;
    int fanout;
    int reps;
    int warmup;
    flo_sched_policy sched;
} params;

static double run_case(flo_runtime *rt, int c, const params *p, long n)
{
    switch (c) {
    case C_INDEPENDENT: return case_independent(rt, n);
    case C_CHAIN: return case_chain(rt, n);
    case C_FANOUT: return case_fanout(rt, n, p->fanout);
    case C_EVENT_CHAIN: return case_event_chain(rt, n);
    default: return -1.0;
    }
}

/* Run every case with a runtime of `workers` host workers (0: the
 * default), unless it has skip_if workers (already measured). Returns 0,
 * or 1 on failure. */
static int run_workers(flo_bench *b, const params *p, int workers, int skip_if,
                       double baseline_ns, int *out_workers)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = workers;
    cfg.sched = p->sched;
    cfg.ignore_env = 1;
    flo_runtime *rt;
    flo_status st = flo_init(&cfg, &rt);
    if (st != FLO_OK) {
        fprintf(stderr, "task_overhead: flo_init: %s\n", flo_status_str(st));
        return 1;
    }
    int nw = flo_worker_count(rt);
    *out_workers = nw;
    if (nw == skip_if)
        return flo_finalize(rt) == FLO_OK ? 0 : 1;

    int rc = 0;
    double *v = calloc((size_t)p->reps, sizeof(*v));
    if (v == NULL) {
        flo_finalize(rt);
        return 1;
    }
    for (int c = 0; c < C_COUNT && rc == 0; c++) {
        long warm_n = p->tasks / 10 > 100 ? p->tasks / 10 : 100;
        for (int w = 0; w < p->warmup && rc == 0; w++)
            if (run_case(rt, c, p, warm_n) < 0)
                rc = 1;
        for (int r = 0; r < p->reps && rc == 0; r++)
            if ((v[r] = run_case(rt, c, p, p->tasks)) < 0)
                rc = 1;
        if (rc != 0)
            break;
        char name[64];
        snprintf(name, sizeof(name), "%s/workers=%d", case_names[c], nw);
        flo_bench_result(b, name, case_units[c], flo_bench_median(v, p->reps),
                         BASELINE_NAME, baseline_ns, 0);
    }
    free(v);
    st = flo_finalize(rt);
    if (st != FLO_OK) {
        fprintf(stderr, "task_overhead: flo_finalize: %s\n",
                flo_status_str(st));
        rc = 1;
    }
    return rc;
}

static int parse_sched(const char *s, flo_sched_policy *out)
{
    if (s == NULL || strcmp(s, "default") == 0)
        *out = FLO_SCHED_DEFAULT;
    else if (strcmp(s, "eager") == 0)
        *out = FLO_SCHED_EAGER;
    else if (strcmp(s, "ws") == 0)
        *out = FLO_SCHED_WS;
    else if (strcmp(s, "locality") == 0)
        *out = FLO_SCHED_LOCALITY;
    else
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    flo_bench *b = flo_bench_open("task_overhead", usage, argc, argv);
    if (b == NULL)
        return 0;

    params p;
    p.tasks = flo_bench_arg_long(b, "--tasks", 100000);
    p.fanout = (int)flo_bench_arg_long(b, "--fanout", 64);
    p.reps = flo_bench_reps(b, 5);
    p.warmup = flo_bench_warmup(b, 1);
    long all = flo_bench_arg_long(b, "--workers", 0);
    if (p.tasks < 1 || p.fanout < 1 || p.fanout > 1000000 || all < 0 ||
        all > 4096 || parse_sched(flo_bench_arg(b, "--sched"), &p.sched) != 0) {
        fprintf(stderr, "task_overhead: bad arguments (see --help)\n");
        flo_bench_close(b);
        return 2;
    }

    /* The baseline first, then each runtime; all in this process. */
    double *v = calloc((size_t)p.reps, sizeof(*v));
    if (v == NULL)
        return 1;
    for (int w = 0; w < p.warmup; w++)
        handoff_run(p.tasks / 10 > 100 ? p.tasks / 10 : 100);
    for (int r = 0; r < p.reps; r++) {
        if ((v[r] = handoff_run(p.tasks)) < 0) {
            free(v);
            flo_bench_close(b);
            return 1;
        }
    }
    double baseline_ns = flo_bench_median(v, p.reps);
    free(v);

    int rc = 0, nw1 = 0, nwall = 0;
    rc |= run_workers(b, &p, 1, -1, baseline_ns, &nw1);
    /* The second runtime is skipped when "all" is one worker too. */
    if (rc == 0)
        rc |= run_workers(b, &p, (int)all, nw1, baseline_ns, &nwall);
    flo_bench_result(b, "handoff", "ns/item", baseline_ns, BASELINE_NAME,
                     baseline_ns, 0);
    rc |= flo_bench_close(b);
    return rc;
}
