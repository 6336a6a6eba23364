/*
 * Flotilla tests - several threads submitting at once.
 *
 * The oracle of test_submitters_*: every submission must take effect as
 * if the submissions had happened one at a time, in some order consistent
 * with each thread's own order. Each task records, for every handle it
 * names, which task wrote the value it found there, and writes its own id
 * into the handles it may write. From the records the test builds the
 * graph a serial order must respect - writer before its readers, readers
 * before the next writer, writers of a handle in a chain, each thread's
 * tasks in submission order, explicit event predecessors first - and
 * checks that every chain is complete (no lost write) and the graph has
 * no cycle (Kahn's algorithm). The old per-handle locking deadlocked here
 * (a dependency cycle between two submissions): flo_wait_all never
 * returned and meson's timeout failed the test.
 *
 * test_unregister_races_submit: a thread unregisters a handle while
 * others submit tasks on it and acquire it; every call either takes
 * effect before the unregister (and its task runs, and its effect is in
 * the written-back data) or fails with FLO_ESTALE / FLO_EBUSY, never
 * anything in between.
 */
#include <pthread.h>

#include "testutil.h"

/* ---- Concurrent submitters ---------------------------------------------- */

#define MAXH 4 /* Handles per task. */

typedef struct cs_task {
    int nh;
    int h[MAXH]; /* Handle indices. */
    flo_access mode[MAXH];
    uint64_t seen[MAXH]; /* Writer id found (written by the task). */
    uint64_t dep;        /* Task id of an explicit predecessor, or 0. */
    atomic_int runs;
} cs_task;

typedef struct cs_run {
    int nthreads, per_thread, nhandles;
    uint64_t seed;
    flo_runtime *rt;
    uint64_t *buf; /* Per handle: id of its last writer. */
    flo_data *h;
    cs_task *tasks;       /* Indexed by task id - 1. */
    flo_event *events;    /* Indexed by task id - 1 (set by submitters). */
    atomic_int published; /* Events readable by other threads: [0, n). */
    atomic_int submit_errors;
} cs_run;

typedef struct cs_args {
    cs_run *run;
    uint64_t id;
} cs_args;

static void k_cs(flo_task_ctx *ctx)
{
    const cs_args *a = flo_task_args(ctx, NULL);
    cs_task *t = &a->run->tasks[a->id - 1];
    for (int i = 0; i < t->nh; i++) {
        uint64_t *p = flo_task_buffer(ctx, i);
        /* Registered host memory on host workers: even a write-only task
         * finds the previous value there, which the oracle uses. */
        t->seen[i] = *p;
        if (t->mode[i] & FLO_WRITE)
            *p = a->id;
    }
    atomic_fetch_add(&t->runs, 1);
}
static const flo_kernel kcs = {"cs", k_cs, NULL};

typedef struct cs_thread {
    cs_run *run;
    int index;
} cs_thread;

static void *cs_submitter(void *arg)
{
    cs_thread *th = arg;
    cs_run *r = th->run;
    uint64_t s = r->seed * 1000003u + (uint64_t)th->index;

    for (int k = 0; k < r->per_thread; k++) {
        /* Task ids: thread-major, so a thread's tasks are consecutive. */
        uint64_t id =
            (uint64_t)th->index * (uint64_t)r->per_thread + (uint64_t)k + 1;
        cs_task *t = &r->tasks[id - 1];
        flo_access_desc acc[MAXH];
        flo_task_desc d = FLO_TASK_DESC_INIT;
        cs_args a = {r, id};
        flo_event dep;

        t->nh = 1 + (int)(flot_rand(&s) % MAXH);
        for (int i = 0; i < t->nh; i++) {
            int x;
            bool dup;
            do { /* Distinct handles, in random order. */
                x = (int)(flot_rand(&s) % (uint64_t)r->nhandles);
                dup = false;
                for (int j = 0; j < i; j++)
                    dup |= t->h[j] == x;
            } while (dup);
            uint64_t m = flot_rand(&s) % 8;
            t->h[i] = x;
            t->mode[i] = m < 3 ? FLO_READ : m < 7 ? FLO_READ_WRITE : FLO_WRITE;
            acc[i].data = r->h[x];
            acc[i].mode = t->mode[i];
        }
        t->dep = 0;
        /* Now and then an explicit predecessor: one of the tasks any
         * thread has published. */
        int np = atomic_load_explicit(&r->published, memory_order_acquire);
        if (np > 0 && flot_rand(&s) % 16 == 0) {
            uint64_t pid = 1 + flot_rand(&s) % (uint64_t)np;
            dep = r->events[pid - 1];
            if (dep.id != 0) {
                t->dep = pid;
                d.deps = &dep;
                d.ndeps = 1;
            }
        }
        d.kernel = &kcs;
        d.access = acc;
        d.naccess = t->nh;
        d.args = &a;
        d.args_size = sizeof(a);
        flo_event ev;
        if (flo_task_submit(r->rt, &d, &ev) != FLO_OK) {
            atomic_fetch_add(&r->submit_errors, 1);
            continue;
        }
        r->events[id - 1] = ev;
        /* Publish only thread 0's events, in order: the published range
         * is then always fully written. */
        if (th->index == 0)
            atomic_store_explicit(&r->published, (int)id, memory_order_release);
    }
    return NULL;
}

/* Check the records against a serial order. */
static void cs_check(cs_run *r)
{
    int n = r->nthreads * r->per_thread;
    /* next[h][w]: the writer that overwrote writer w on handle h (task
     * ids, 0 = the initial value), from the records of RW/W tasks. */
    uint64_t *next =
        calloc((size_t)r->nhandles * (size_t)(n + 1), sizeof(uint64_t));
    int *nwriters = calloc((size_t)r->nhandles, sizeof(int));
    /* Edges: up to (MAXH * 2 + 2) per task. */
    size_t cap = (size_t)n * (MAXH * 2 + 2) + 16, ne = 0;
    uint32_t *ea = malloc(cap * sizeof(uint32_t));
    uint32_t *eb = malloc(cap * sizeof(uint32_t));
    assert_non_null(next);
    assert_non_null(nwriters);
    assert_non_null(ea);
    assert_non_null(eb);
#define NEXT(h, w) next[(size_t)(h) * (size_t)(n + 1) + (size_t)(w)]

    for (int i = 0; i < n; i++) {
        cs_task *t = &r->tasks[i];
        if (atomic_load(&t->runs) != 1)
            fail_msg("task %d ran %d times", i + 1, atomic_load(&t->runs));
        for (int k = 0; k < t->nh; k++) {
            if (!(t->mode[k] & FLO_WRITE))
                continue;
            uint64_t prev = t->seen[k];
            if (NEXT(t->h[k], prev) != 0)
                fail_msg("handle %d: tasks %llu and %d both overwrote "
                         "the value of task %llu (a lost write)",
                         t->h[k], (unsigned long long)NEXT(t->h[k], prev),
                         i + 1, (unsigned long long)prev);
            NEXT(t->h[k], prev) = (uint64_t)i + 1;
            nwriters[t->h[k]]++;
        }
    }
    /* Every chain starts at the initial value and ends at the final
     * value, through every writer. */
    for (int h = 0; h < r->nhandles; h++) {
        uint64_t w = 0;
        int len = 0;
        while (NEXT(h, w) != 0 && len <= n) {
            w = NEXT(h, w);
            len++;
        }
        if (len != nwriters[h])
            fail_msg("handle %d: chain of %d writers, %d wrote it", h, len,
                     nwriters[h]);
        if (r->buf[h] != w)
            fail_msg("handle %d: final value from task %llu, chain ends "
                     "at %llu",
                     h, (unsigned long long)r->buf[h], (unsigned long long)w);
    }
    /* The graph (node 0 is the initial state). */
    for (int i = 0; i < n; i++) {
        cs_task *t = &r->tasks[i];
        uint32_t me = (uint32_t)i + 1;
        if (i % r->per_thread != 0) {
            ea[ne] = me - 1; /* Program order. */
            eb[ne++] = me;
        }
        if (t->dep) {
            ea[ne] = (uint32_t)t->dep;
            eb[ne++] = me;
        }
        for (int k = 0; k < t->nh; k++) {
            uint64_t prev = t->seen[k];
            ea[ne] = (uint32_t)prev; /* Reads from (writers too). */
            eb[ne++] = me;
            if (!(t->mode[k] & FLO_WRITE)) {
                uint64_t nw = NEXT(t->h[k], prev);
                if (nw) { /* Read before the next write. */
                    ea[ne] = me;
                    eb[ne++] = (uint32_t)nw;
                }
            }
        }
    }
    assert_true(ne <= cap);
    /* Kahn: every node must come out. */
    int *indeg = calloc((size_t)n + 1, sizeof(int));
    int *start = calloc((size_t)n + 2, sizeof(int));
    uint32_t *adj = malloc((ne + 1) * sizeof(uint32_t));
    uint32_t *queue = malloc(((size_t)n + 1) * sizeof(uint32_t));
    assert_non_null(indeg);
    assert_non_null(start);
    assert_non_null(adj);
    assert_non_null(queue);
    for (size_t e = 0; e < ne; e++) {
        start[ea[e] + 1]++;
        indeg[eb[e]]++;
    }
    for (int v = 0; v <= n; v++)
        start[v + 1] += start[v];
    {
        int *fill = calloc((size_t)n + 1, sizeof(int));
        assert_non_null(fill);
        for (size_t e = 0; e < ne; e++)
            adj[start[ea[e]] + fill[ea[e]]++] = eb[e];
        free(fill);
    }
    int qh = 0, qt = 0;
    for (int v = 0; v <= n; v++)
        if (indeg[v] == 0)
            queue[qt++] = (uint32_t)v;
    while (qh < qt) {
        uint32_t v = queue[qh++];
        for (int e = start[v]; e < start[v + 1]; e++)
            if (--indeg[adj[e]] == 0)
                queue[qt++] = adj[e];
    }
    if (qt != n + 1)
        fail_msg("no serial order explains the run: %d of %d tasks are "
                 "on a cycle",
                 n + 1 - qt, n);
#undef NEXT
    free(indeg);
    free(start);
    free(adj);
    free(queue);
    free(ea);
    free(eb);
    free(next);
    free(nwriters);
}

static void run_submitters(int nthreads, uint64_t seed, flo_sched_policy p)
{
    cs_run r;
    pthread_t th[8];
    cs_thread ta[8];

    memset(&r, 0, sizeof(r));
    r.nthreads = nthreads;
    r.per_thread = (int)flot_scaled(20000, 1000);
    r.nhandles = 6;
    r.seed = seed;
    r.rt = flot_rt(p, 2);
    assert_non_null(r.rt);
    int n = nthreads * r.per_thread;
    r.buf = calloc((size_t)r.nhandles, sizeof(uint64_t));
    r.h = calloc((size_t)r.nhandles, sizeof(flo_data));
    r.tasks = calloc((size_t)n, sizeof(cs_task));
    r.events = calloc((size_t)n, sizeof(flo_event));
    assert_non_null(r.buf);
    assert_non_null(r.h);
    assert_non_null(r.tasks);
    assert_non_null(r.events);
    for (int i = 0; i < r.nhandles; i++)
        assert_int_equal(
            flo_data_register(r.rt, &r.buf[i], sizeof(uint64_t), &r.h[i]),
            FLO_OK);
    for (int i = 0; i < nthreads; i++) {
        ta[i].run = &r;
        ta[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, cs_submitter, &ta[i]), 0);
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.submit_errors), 0);
    assert_int_equal(flo_wait_all(r.rt), FLO_OK);
    for (int i = 0; i < r.nhandles; i++)
        assert_int_equal(flo_data_unregister(r.rt, r.h[i]), FLO_OK);
    cs_check(&r);
    assert_int_equal(flo_finalize(r.rt), FLO_OK);
    free(r.buf);
    free(r.h);
    free(r.tasks);
    free(r.events);
}

static void test_submitters_2(void **s)
{
    (void)s;
    for (uint64_t seed = 1; seed <= 3; seed++)
        run_submitters(2, seed, FLO_SCHED_DEFAULT);
}

static void test_submitters_4(void **s)
{
    (void)s;
    for (uint64_t seed = 1; seed <= 2; seed++)
        run_submitters(4, seed, FLO_SCHED_DEFAULT);
    run_submitters(4, 3, FLO_SCHED_EAGER);
}

static void test_submitters_8(void **s)
{
    (void)s;
    run_submitters(8, 1, FLO_SCHED_DEFAULT);
    run_submitters(8, 2, FLO_SCHED_LOCALITY);
}

/* The case of the report: two threads, the same two handles in
 * read-write mode, listed in the same or the opposite order. */
typedef struct pair_arg {
    flo_runtime *rt;
    flo_data a, b;
    bool swap;
    int n;
    atomic_int *errors;
} pair_arg;

static void k_pair(flo_task_ctx *ctx)
{
    int64_t *x = flo_task_buffer(ctx, 0), *y = flo_task_buffer(ctx, 1);
    (*x)++;
    (*y)++;
}
static const flo_kernel kpair = {"pair", k_pair, NULL};

static void *pair_thread(void *arg)
{
    pair_arg *p = arg;
    flo_access_desc acc[2] = {{p->swap ? p->b : p->a, FLO_READ_WRITE},
                              {p->swap ? p->a : p->b, FLO_READ_WRITE}};
    for (int i = 0; i < p->n; i++)
        if (flot_submit(p->rt, &kpair, acc, 2, NULL, 0, NULL) != FLO_OK)
            atomic_fetch_add(p->errors, 1);
    return NULL;
}

static void test_two_handles_opposite_order(void **s)
{
    (void)s;
    for (int swap = 0; swap < 2; swap++) {
        flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
        int64_t x = 0, y = 0;
        atomic_int errors = 0;
        pthread_t t[2];
        pair_arg pa[2];
        int n = (int)flot_scaled(100000, 5000);
        assert_non_null(rt);
        flo_data a, b;
        assert_int_equal(flo_data_register(rt, &x, sizeof(x), &a), FLO_OK);
        assert_int_equal(flo_data_register(rt, &y, sizeof(y), &b), FLO_OK);
        for (int i = 0; i < 2; i++) {
            pa[i] = (pair_arg){rt, a, b, swap && i == 1, n, &errors};
            assert_int_equal(pthread_create(&t[i], NULL, pair_thread, &pa[i]),
                             0);
        }
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        assert_int_equal(atomic_load(&errors), 0);
        assert_int_equal(flo_data_unregister(rt, a), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, b), FLO_OK);
        assert_int_equal(x, 2 * (int64_t)n);
        assert_int_equal(y, 2 * (int64_t)n);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

/* ---- Unregister racing submit and acquire ---------------------------- */

typedef struct race {
    flo_runtime *rt;
    flo_data h;
    atomic_int go, stop;
    atomic_long ok, stale, other, runs;
    atomic_long acq_ok, acq_stale, acq_other;
} race;

static void k_incr(flo_task_ctx *ctx)
{
    race *r = *(race *const *)flo_task_args(ctx, NULL);
    int64_t *x = flo_task_buffer(ctx, 0);
    (*x)++;
    atomic_fetch_add(&r->runs, 1);
}
static const flo_kernel kincr = {"incr", k_incr, NULL};

static void *race_submitter(void *arg)
{
    race *r = arg;
    flo_access_desc acc = {r->h, FLO_READ_WRITE};
    while (!atomic_load(&r->go))
        ;
    /* Bounded, so that a round's chain of tasks stays short. */
    for (int i = 0; i < 2000; i++) {
        flo_status st =
            flot_submit(r->rt, &kincr, &acc, 1, &r, sizeof(r), NULL);
        if (st == FLO_OK) {
            atomic_fetch_add(&r->ok, 1);
        } else {
            if (st == FLO_ESTALE)
                atomic_fetch_add(&r->stale, 1);
            else
                atomic_fetch_add(&r->other, 1);
            break;
        }
    }
    return NULL;
}

static void *race_acquirer(void *arg)
{
    race *r = arg;
    while (!atomic_load(&r->go))
        ;
    while (!atomic_load(&r->stop)) {
        void *p;
        flo_status st = flo_data_acquire(r->rt, r->h, FLO_READ, &p);
        if (st == FLO_OK) {
            atomic_fetch_add(&r->acq_ok, 1);
            if (flo_data_release(r->rt, r->h) != FLO_OK)
                atomic_fetch_add(&r->acq_other, 1);
        } else if (st == FLO_ESTALE) {
            atomic_fetch_add(&r->acq_stale, 1);
            break;
        } else {
            atomic_fetch_add(&r->acq_other, 1);
            break;
        }
    }
    return NULL;
}

static void test_unregister_races_submit(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    long rounds = flot_scaled(300, 40);
    uint64_t seed = 42;
    assert_non_null(rt);
    for (long round = 0; round < rounds; round++) {
        race r;
        int64_t x = 0;
        bool owned = round % 2 == 1;
        pthread_t sub[2], acq;
        memset(&r, 0, sizeof(r));
        r.rt = rt;
        if (owned)
            assert_int_equal(flo_data_alloc(rt, sizeof(int64_t), &r.h), FLO_OK);
        else
            assert_int_equal(flo_data_register(rt, &x, sizeof(x), &r.h),
                             FLO_OK);
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&sub[i], NULL, race_submitter, &r),
                             0);
        assert_int_equal(pthread_create(&acq, NULL, race_acquirer, &r), 0);
        atomic_store(&r.go, 1);
        flot_sleep_us((long)(flot_rand(&seed) % 300));
        flo_status st;
        int busy = 0;
        while ((st = flo_data_unregister(rt, r.h)) == FLO_EBUSY)
            busy++; /* The acquirer held it: try again. */
        atomic_store(&r.stop, 1);
        assert_int_equal(st, FLO_OK);
        for (int i = 0; i < 2; i++)
            pthread_join(sub[i], NULL);
        pthread_join(acq, NULL);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        /* Every accepted task ran before unregister returned; the rest
         * were refused as stale. */
        assert_int_equal(atomic_load(&r.other), 0);
        assert_int_equal(atomic_load(&r.acq_other), 0);
        assert_true(atomic_load(&r.stale) <= 2);
        assert_int_equal(atomic_load(&r.runs), atomic_load(&r.ok));
        if (!owned)
            assert_int_equal(x, atomic_load(&r.ok));
        (void)busy;
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_handles_opposite_order),
        cmocka_unit_test(test_submitters_2),
        cmocka_unit_test(test_submitters_4),
        cmocka_unit_test(test_submitters_8),
        cmocka_unit_test(test_unregister_races_submit),
    };
    flot_clear_env();
    flot_apply_filter();
    return cmocka_run_group_tests_name("scheduler_concurrent", tests, NULL,
                                       NULL);
}
