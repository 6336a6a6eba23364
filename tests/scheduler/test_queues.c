/*
 * Flotilla tests - the ready-queue building blocks (scheduler/queues.c),
 * white-box: the Chase-Lev deque with its owner pushing and popping while
 * thieves steal (growth of its array included), and the lock-free inbox
 * with many producers and one or two consumers.
 *
 * The elements are task records of one array; every thread records what
 * it took, in order, and the main thread checks after joining that each
 * element was taken exactly once (none lost, none duplicated) and in the
 * order the structure promises. Several seeds and sizes; iteration
 * counts scale with FLOTILLA_TEST_SCALE (0.1 under TSan).
 */
#include <pthread.h>
#include <sched.h>

#include "scheduler/queues.h"
#include "testutil.h"

#define NTHIEVES 3

static flo__task *tasks_new(long n)
{
    flo__task *t =
        flo__calloc_aligned((size_t)n, sizeof(flo__task), _Alignof(flo__task));
    assert_non_null(t);
    return t;
}

/* Index of t in the array [base, base + n), or -1 if t is not in it. */
static long index_of(const flo__task *base, long n, const flo__task *t)
{
    if (t < base || t >= base + n)
        return -1;
    return (long)(t - base);
}

/* ---- The deque, one thread ----------------------------------------------- */

/* The owner pops newest first, thieves take oldest first, across the
 * growths of a deque of initial capacity 2; empty gives NULL. */
static void test_deque_sequential(void **state)
{
    (void)state;
    enum { N = 9 };
    flo__task *t = tasks_new(N);
    flo__deque *q = flo__calloc_aligned(1, sizeof(*q), _Alignof(flo__deque));
    assert_non_null(q);
    assert_int_equal(flo__deque_init(q, 2), FLO_OK);
    assert_null(flo__deque_pop(q));
    assert_null(flo__deque_steal(q));
    assert_false(flo__deque_maybe_nonempty(q));

    for (int i = 0; i < N; i++)
        assert_true(flo__deque_push(q, &t[i]));
    assert_true(atomic_load(&q->ring)->cap >= N);
    assert_true(flo__deque_maybe_nonempty(q));
    assert_ptr_equal(flo__deque_steal(q), &t[0]);
    assert_ptr_equal(flo__deque_steal(q), &t[1]);
    assert_ptr_equal(flo__deque_pop(q), &t[8]);
    assert_ptr_equal(flo__deque_pop(q), &t[7]);
    assert_ptr_equal(flo__deque_steal(q), &t[2]);
    /* Pushes after pops and steals reuse the slots. */
    assert_true(flo__deque_push(q, &t[7]));
    assert_ptr_equal(flo__deque_pop(q), &t[7]);
    for (int i = 6; i >= 4; i--)
        assert_ptr_equal(flo__deque_pop(q), &t[i]);
    /* The last element: pop takes it through the top. */
    assert_ptr_equal(flo__deque_pop(q), &t[3]);
    assert_null(flo__deque_pop(q));
    assert_null(flo__deque_steal(q));
    assert_false(flo__deque_maybe_nonempty(q));

    flo__deque_destroy(q);
    free(q);
    free(t);
}

/* ---- The deque: one owner, several thieves ------------------------------- */

typedef struct dq_run {
    flo__deque *q;
    flo__task *tasks;
    long n;
    long prefill;   /* Pushed before the thieves start (grows the array). */
    long burst_max; /* Later pushes come in bursts of 1..burst_max. */
    uint64_t seed;
    pthread_barrier_t go;
    atomic_int owner_done;
    /* Written by one thread each, read by the main thread after join. */
    flo__task **took[NTHIEVES + 1]; /* [0] owner, [1..] thieves. */
    long ntook[NTHIEVES + 1];
    long push_failed;
} dq_run;

typedef struct dq_thief {
    dq_run *r;
    int id;
} dq_thief;

static void dq_record(dq_run *r, int who, flo__task *t)
{
    /* More than n records means duplicates: keep the count, drop the
     * entry (the main thread reports it). */
    if (r->ntook[who] < r->n)
        r->took[who][r->ntook[who]] = t;
    r->ntook[who]++;
}

static void *dq_owner(void *arg)
{
    dq_run *r = arg;
    uint64_t s = r->seed;
    long pushed = 0;

    for (; pushed < r->prefill; pushed++)
        if (!flo__deque_push(r->q, &r->tasks[pushed]))
            r->push_failed++;
    pthread_barrier_wait(&r->go);
    while (pushed < r->n) {
        long k = 1 + (long)(flot_rand(&s) % (uint64_t)r->burst_max);
        for (long i = 0; i < k && pushed < r->n; i++, pushed++)
            if (!flo__deque_push(r->q, &r->tasks[pushed]))
                r->push_failed++;
        /* Pop some back: up to the burst, racing the thieves for the
         * last element when the deque runs low. */
        long m = (long)(flot_rand(&s) % (uint64_t)(k + 1));
        for (long i = 0; i < m; i++) {
            flo__task *t = flo__deque_pop(r->q);
            if (!t)
                break;
            dq_record(r, 0, t);
        }
        if (flot_rand(&s) % 64 == 0)
            sched_yield(); /* Let the thieves catch up now and then. */
    }
    /* Drain. NULL means empty (or a thief won the last element). */
    for (flo__task *t; (t = flo__deque_pop(r->q)) != NULL;)
        dq_record(r, 0, t);
    atomic_store_explicit(&r->owner_done, 1, memory_order_release);
    return NULL;
}

static void *dq_thief_main(void *arg)
{
    dq_thief *th = arg;
    dq_run *r = th->r;
    int misses = 0;

    pthread_barrier_wait(&r->go);
    for (;;) {
        flo__task *t = flo__deque_steal(r->q);
        if (t) {
            dq_record(r, th->id, t);
            misses = 0;
            continue;
        }
        /* The owner drained the deque before setting owner_done: once it
         * is set and the deque looks empty, nothing is left to take. */
        if (atomic_load_explicit(&r->owner_done, memory_order_acquire) &&
            !flo__deque_maybe_nonempty(r->q))
            break;
        if (++misses % 16 == 0)
            sched_yield(); /* Two cores shared by four threads. */
    }
    return NULL;
}

static void deque_case(long n, long cap, long prefill, long burst_max,
                       uint64_t seed)
{
    dq_run r;
    dq_thief th[NTHIEVES];
    pthread_t tid[NTHIEVES + 1];
    int *count;

    memset(&r, 0, sizeof(r));
    r.q = flo__calloc_aligned(1, sizeof(*r.q), _Alignof(flo__deque));
    assert_non_null(r.q);
    assert_int_equal(flo__deque_init(r.q, cap), FLO_OK);
    r.tasks = tasks_new(n);
    r.n = n;
    r.prefill = prefill < n ? prefill : n;
    r.burst_max = burst_max;
    r.seed = seed;
    atomic_init(&r.owner_done, 0);
    for (int i = 0; i <= NTHIEVES; i++) {
        r.took[i] = calloc((size_t)n, sizeof(flo__task *));
        assert_non_null(r.took[i]);
    }
    assert_int_equal(pthread_barrier_init(&r.go, NULL, NTHIEVES + 1), 0);

    assert_int_equal(pthread_create(&tid[0], NULL, dq_owner, &r), 0);
    for (int i = 0; i < NTHIEVES; i++) {
        th[i].r = &r;
        th[i].id = i + 1;
        assert_int_equal(
            pthread_create(&tid[i + 1], NULL, dq_thief_main, &th[i]), 0);
    }
    for (int i = 0; i <= NTHIEVES; i++)
        assert_int_equal(pthread_join(tid[i], NULL), 0);

    assert_int_equal(r.push_failed, 0);
    /* The prefill alone outgrew the initial array. */
    if (r.prefill > cap)
        assert_true(atomic_load(&r.q->ring)->cap >= r.prefill);

    long total = 0;
    for (int w = 0; w <= NTHIEVES; w++) {
        if (r.ntook[w] > n)
            fail_msg("seed %llu: thread %d took %ld elements of %ld",
                     (unsigned long long)seed, w, r.ntook[w], n);
        total += r.ntook[w];
    }
    count = calloc((size_t)n, sizeof(int));
    assert_non_null(count);
    for (int w = 0; w <= NTHIEVES; w++) {
        long prev = -1;
        for (long i = 0; i < r.ntook[w]; i++) {
            long k = index_of(r.tasks, n, r.took[w][i]);
            if (k < 0)
                fail_msg("seed %llu: thread %d took a pointer that was "
                         "never pushed",
                         (unsigned long long)seed, w);
            count[k]++;
            /* Thieves take the oldest element: elements are pushed in
             * index order, so each thief's are increasing. */
            if (w > 0 && k <= prev)
                fail_msg("seed %llu: thief %d took %ld after %ld",
                         (unsigned long long)seed, w, k, prev);
            prev = k;
        }
    }
    for (long k = 0; k < n; k++)
        if (count[k] != 1)
            fail_msg("seed %llu, n %ld, cap %ld: element %ld taken %d "
                     "times",
                     (unsigned long long)seed, n, cap, k, count[k]);
    assert_int_equal(total, n);
    assert_null(flo__deque_pop(r.q));
    assert_null(flo__deque_steal(r.q));

    free(count);
    pthread_barrier_destroy(&r.go);
    for (int i = 0; i <= NTHIEVES; i++)
        free(r.took[i]);
    free(r.tasks);
    flo__deque_destroy(r.q);
    free(r.q);
}

static void test_deque_owner_and_thieves(void **state)
{
    (void)state;
    const long big = flot_scaled(50000, 5000);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        /* Capacity 2: grown by the prefill, then again and again while
         * thieves steal from the older arrays. */
        deque_case(1000, 2, 64, 64, seed);
        deque_case(big, 2, 256, 512, seed);
        /* Bursts within the capacity: no growth; many races for the
         * last element. */
        deque_case(big, 1024, 0, 4, seed);
    }
}

/* ---- The inbox: many producers, one or two consumers --------------------- */

#define NPROD 4
#define MAXCONS 2

typedef struct ib_run {
    flo__inbox *in;
    flo__task *tasks;
    long per; /* Elements per producer: producer p owns [p * per, ...). */
    int nconsumers;
    uint64_t seed;
    pthread_barrier_t go;
    atomic_int producers_done;
    flo__task **took[MAXCONS];
    long ntook[MAXCONS];
    long batches[MAXCONS];
} ib_run;

typedef struct ib_arg {
    ib_run *r;
    int id;
} ib_arg;

static void *ib_producer(void *arg)
{
    ib_arg *a = arg;
    ib_run *r = a->r;
    uint64_t s = r->seed * 1000 + (uint64_t)a->id;

    pthread_barrier_wait(&r->go);
    for (long j = 0; j < r->per; j++) {
        flo__inbox_push(r->in, &r->tasks[a->id * r->per + j]);
        if (flot_rand(&s) % 256 == 0)
            sched_yield();
    }
    atomic_fetch_add_explicit(&r->producers_done, 1, memory_order_release);
    return NULL;
}

static void ib_take(ib_run *r, int c)
{
    flo__task *t = flo__inbox_take_fifo(r->in);
    if (t)
        r->batches[c]++;
    for (; t; t = t->next) {
        if (r->ntook[c] < (long)NPROD * r->per)
            r->took[c][r->ntook[c]] = t;
        r->ntook[c]++;
    }
}

static void *ib_consumer(void *arg)
{
    ib_arg *a = arg;
    ib_run *r = a->r;

    pthread_barrier_wait(&r->go);
    while (atomic_load_explicit(&r->producers_done, memory_order_acquire) <
           NPROD) {
        if (flo__inbox_empty(r->in))
            sched_yield();
        else
            ib_take(r, a->id);
    }
    /* Every push happened before its producer counted itself done. */
    ib_take(r, a->id);
    return NULL;
}

static void inbox_case(long per, int nconsumers, uint64_t seed)
{
    ib_run r;
    ib_arg pa[NPROD], ca[MAXCONS];
    pthread_t pt[NPROD], ct[MAXCONS];
    const long n = (long)NPROD * per;
    int *count;

    memset(&r, 0, sizeof(r));
    r.in = flo__calloc_aligned(1, sizeof(*r.in), _Alignof(flo__inbox));
    assert_non_null(r.in);
    atomic_init(&r.in->head, NULL);
    r.tasks = tasks_new(n);
    r.per = per;
    r.nconsumers = nconsumers;
    r.seed = seed;
    atomic_init(&r.producers_done, 0);
    for (int c = 0; c < nconsumers; c++) {
        r.took[c] = calloc((size_t)n, sizeof(flo__task *));
        assert_non_null(r.took[c]);
    }
    assert_int_equal(
        pthread_barrier_init(&r.go, NULL, (unsigned)(NPROD + nconsumers)), 0);
    for (int c = 0; c < nconsumers; c++) {
        ca[c].r = &r;
        ca[c].id = c;
        assert_int_equal(pthread_create(&ct[c], NULL, ib_consumer, &ca[c]), 0);
    }
    for (int p = 0; p < NPROD; p++) {
        pa[p].r = &r;
        pa[p].id = p;
        assert_int_equal(pthread_create(&pt[p], NULL, ib_producer, &pa[p]), 0);
    }
    for (int p = 0; p < NPROD; p++)
        assert_int_equal(pthread_join(pt[p], NULL), 0);
    for (int c = 0; c < nconsumers; c++)
        assert_int_equal(pthread_join(ct[c], NULL), 0);

    count = calloc((size_t)n, sizeof(int));
    assert_non_null(count);
    long total = 0;
    for (int c = 0; c < nconsumers; c++) {
        long last[NPROD];
        if (r.ntook[c] > n)
            fail_msg("seed %llu: consumer %d took %ld elements of %ld",
                     (unsigned long long)seed, c, r.ntook[c], n);
        for (int p = 0; p < NPROD; p++)
            last[p] = -1;
        for (long i = 0; i < r.ntook[c]; i++) {
            long k = index_of(r.tasks, n, r.took[c][i]);
            if (k < 0)
                fail_msg("seed %llu: consumer %d took a pointer that was "
                         "never pushed",
                         (unsigned long long)seed, c);
            count[k]++;
            /* Oldest first: each producer's elements in push order. */
            int p = (int)(k / per);
            if (k <= last[p])
                fail_msg("seed %llu: consumer %d took %ld after %ld of "
                         "producer %d",
                         (unsigned long long)seed, c, k, last[p], p);
            last[p] = k;
        }
        total += r.ntook[c];
    }
    for (long k = 0; k < n; k++)
        if (count[k] != 1)
            fail_msg("seed %llu, %d consumer(s): element %ld taken %d times",
                     (unsigned long long)seed, nconsumers, k, count[k]);
    assert_int_equal(total, n);
    assert_true(flo__inbox_empty(r.in));
    assert_null(flo__inbox_take_fifo(r.in));

    free(count);
    pthread_barrier_destroy(&r.go);
    for (int c = 0; c < nconsumers; c++)
        free(r.took[c]);
    free(r.tasks);
    free(r.in);
}

static void test_inbox_producers(void **state)
{
    (void)state;
    const long big = flot_scaled(15000, 2000);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        inbox_case(10, 1, seed);
        inbox_case(big, 1, seed);
        inbox_case(big, 2, seed);
    }
}

/* An empty inbox; one element; take_fifo gives push order. */
static void test_inbox_sequential(void **state)
{
    (void)state;
    flo__task *t = tasks_new(5);
    flo__inbox *in = flo__calloc_aligned(1, sizeof(*in), _Alignof(flo__inbox));
    assert_non_null(in);
    atomic_init(&in->head, NULL);
    assert_true(flo__inbox_empty(in));
    assert_null(flo__inbox_take_fifo(in));
    flo__inbox_push(in, &t[0]);
    assert_false(flo__inbox_empty(in));
    flo__task *h = flo__inbox_take_fifo(in);
    assert_ptr_equal(h, &t[0]);
    assert_null(h->next);
    for (int i = 1; i < 5; i++)
        flo__inbox_push(in, &t[i]);
    h = flo__inbox_take_fifo(in);
    for (int i = 1; i < 5; i++, h = h->next)
        assert_ptr_equal(h, &t[i]);
    assert_null(h);
    assert_true(flo__inbox_empty(in));
    free(in);
    free(t);
}

int main(void)
{
    flot_apply_filter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deque_sequential),
        cmocka_unit_test(test_deque_owner_and_thieves),
        cmocka_unit_test(test_inbox_sequential),
        cmocka_unit_test(test_inbox_producers),
    };
    return cmocka_run_group_tests_name("scheduler_queues", tests, NULL, NULL);
}
