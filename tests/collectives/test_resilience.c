/*
 * collectives_resilience: what a failed communicator does within one
 * process (the host transport): flo_comm_status before and after a
 * failure, flo_comm_abort (also against collectives in flight, from
 * several threads at once, and inside a task), flo_comm_shrink as a
 * rebuild of a broken or healthy communicator, and their bad arguments
 * (a clear status, nothing created, the communicator unchanged). The
 * failures of ranks are in test_resilience_mpi.c.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flotilla.h"

static flo_runtime *rt;

static int setup(void **state)
{
    flo_config cfg = FLO_CONFIG_INIT;

    (void)state;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 2;
    cfg.ignore_env = 1;
    cfg.no_bind = 1;
    return flo_init(&cfg, &rt) == FLO_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return flo_finalize(rt) == FLO_OK ? 0 : -1;
}

/* A communicator of n host participants. */
static flo_comm *host_comm(int n)
{
    int devs[8] = {0};
    flo_comm *c = NULL;

    assert_true(n <= 8);
    assert_int_equal(flo_comm_create_devices(rt, devs, n, &c), FLO_OK);
    return c;
}

/* An all-reduce (sum) over c's n participants, participant i holding
 * i + 1 + k in every element: checks the result, returns the statuses
 * of the submission and of the wait. */
static flo_status sum_check(flo_comm *c, int k, flo_status *wait_st)
{
    enum { N = 33 };
    int n = flo_comm_local_size(c);
    int64_t v[8][N];
    flo_data h[8];
    flo_event ev;
    flo_status st;
    int64_t want = 0;

    for (int i = 0; i < n; i++) {
        want += i + 1 + k;
        for (int j = 0; j < N; j++)
            v[i][j] = i + 1 + k;
        assert_int_equal(flo_data_register(rt, v[i], sizeof(v[i]), &h[i]),
                         FLO_OK);
    }
    st = flo_coll_allreduce(c, h, h, N, FLO_I64, FLO_SUM, &ev);
    *wait_st = st == FLO_OK ? flo_event_wait(rt, ev) : st;
    for (int i = 0; i < n; i++)
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
    if (st == FLO_OK && *wait_st == FLO_OK)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < N; j++)
                assert_int_equal(v[i][j], want);
    return st;
}

static void test_status_and_abort(void **state)
{
    flo_comm *c = host_comm(2);
    char msg[128];
    flo_status w;

    (void)state;
    assert_int_equal(flo_comm_rank(c), 0);
    assert_int_equal(flo_comm_nranks(c), 1);
    assert_int_equal(flo_comm_rank(NULL), -1);
    assert_int_equal(flo_comm_nranks(NULL), -1);

    memset(msg, 'x', sizeof(msg));
    assert_int_equal(flo_comm_status(c, msg, sizeof(msg)), FLO_OK);
    assert_string_equal(msg, "");
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_OK);
    assert_int_equal(flo_comm_status(NULL, msg, sizeof(msg)), FLO_EINVAL);
    assert_int_equal(flo_comm_status(c, NULL, 8), FLO_EINVAL);
    assert_int_equal(flo_comm_abort(NULL), FLO_EINVAL);
    assert_int_equal(sum_check(c, 0, &w), FLO_OK);
    assert_int_equal(w, FLO_OK);

    assert_int_equal(flo_comm_abort(c), FLO_OK);
    assert_int_equal(flo_comm_status(c, msg, sizeof(msg)), FLO_ECOMM);
    assert_non_null(strstr(msg, "flo_comm_abort"));
    /* Truncated to the buffer, NUL-terminated. */
    assert_int_equal(flo_comm_status(c, msg, 4), FLO_ECOMM);
    assert_int_equal(strlen(msg), 3);
    /* Refused: nothing submitted. */
    assert_int_equal(sum_check(c, 0, &w), FLO_ECOMM);
    /* A second abort changes nothing. */
    assert_int_equal(flo_comm_abort(c), FLO_OK);
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_ECOMM);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

/* An abort while collectives are queued: each one either finished before
 * it (FLO_OK, right values), fails with FLO_ECOMM, or is canceled behind
 * one that failed (FLO_ECANCELED: they share their handles); none
 * hangs. */
static void test_abort_in_flight(void **state)
{
    enum { ROUNDS = 200, N = 16 };
    flo_comm *c = host_comm(3);
    int64_t v[3][N];
    flo_data h[3];
    flo_event ev[ROUNDS];
    long ok = 0, failed = 0;

    (void)state;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < N; j++)
            v[i][j] = 7;
        assert_int_equal(flo_data_register(rt, v[i], sizeof(v[i]), &h[i]),
                         FLO_OK);
    }
    /* Max is idempotent: whatever ran, the values stay 7. */
    for (int r = 0; r < ROUNDS; r++)
        assert_int_equal(
            flo_coll_allreduce(c, h, h, N, FLO_I64, FLO_MAX, &ev[r]), FLO_OK);
    assert_int_equal(flo_comm_abort(c), FLO_OK);
    for (int r = 0; r < ROUNDS; r++) {
        flo_status st = flo_event_wait(rt, ev[r]);
        assert_true(st == FLO_OK || st == FLO_ECOMM || st == FLO_ECANCELED);
        ok += st == FLO_OK;
        failed += st != FLO_OK;
    }
    assert_int_equal(ok + failed, ROUNDS);
    (void)flo_wait_all(rt); /* Clear the reported error. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < N; j++)
            assert_int_equal(v[i][j], 7);
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_ECOMM);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

/* Several threads: two abort, two submit until refused. */
enum { SUBMITTERS = 2, ABORTERS = 2, MAX_SUBMITS = 4096 };

typedef struct thr_arg {
    flo_comm *c;
    flo_data h;
    atomic_int *go;
    long submitted;            /* Collectives accepted. */
    long refused;              /* FLO_ECOMM refusals (1 at the end). */
    long other;                /* Any other return: a failure. */
    flo_event ev[MAX_SUBMITS]; /* Events of the accepted ones. */
    flo_status abort_rc;       /* Aborters: a return other than OK. */
} thr_arg;

static void *submitter(void *p)
{
    thr_arg *a = p;

    while (!atomic_load(a->go))
        ;
    while (a->submitted < MAX_SUBMITS) {
        flo_status st = flo_coll_allreduce(a->c, &a->h, &a->h, 4, FLO_I32,
                                           FLO_MAX, &a->ev[a->submitted]);
        if (st == FLO_OK) {
            a->submitted++;
        } else {
            a->refused += st == FLO_ECOMM;
            a->other += st != FLO_ECOMM;
            break;
        }
    }
    return NULL;
}

static void *aborter(void *p)
{
    thr_arg *a = p;

    a->abort_rc = FLO_OK;
    while (!atomic_load(a->go))
        ;
    for (int i = 0; i < 100; i++) {
        flo_status st = flo_comm_abort(a->c);
        if (st != FLO_OK)
            a->abort_rc = st;
    }
    return NULL;
}

static void test_abort_threads(void **state)
{
    flo_comm *c = host_comm(1);
    int32_t v[SUBMITTERS][4] = {{0}};
    thr_arg *args = calloc(SUBMITTERS + ABORTERS, sizeof(thr_arg));
    pthread_t th[SUBMITTERS + ABORTERS];
    atomic_int go = 0;

    (void)state;
    assert_non_null(args);
    for (int t = 0; t < SUBMITTERS + ABORTERS; t++) {
        args[t].c = c;
        args[t].go = &go;
        if (t < SUBMITTERS)
            assert_int_equal(
                flo_data_register(rt, v[t], sizeof(v[t]), &args[t].h), FLO_OK);
        assert_int_equal(pthread_create(&th[t], NULL,
                                        t < SUBMITTERS ? submitter : aborter,
                                        &args[t]),
                         0);
    }
    atomic_store(&go, 1);
    for (int t = 0; t < SUBMITTERS + ABORTERS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < SUBMITTERS; t++) {
        /* Every submitter was refused at last (the aborts end before
         * MAX_SUBMITS only on a very slow machine: then it stopped). */
        assert_int_equal(args[t].other, 0);
        assert_true(args[t].refused == 1 || args[t].submitted == MAX_SUBMITS);
        for (long i = 0; i < args[t].submitted; i++) {
            flo_status st = flo_event_wait(rt, args[t].ev[i]);
            assert_true(st == FLO_OK || st == FLO_ECOMM || st == FLO_ECANCELED);
        }
    }
    for (int t = SUBMITTERS; t < SUBMITTERS + ABORTERS; t++)
        assert_int_equal(args[t].abort_rc, FLO_OK);
    (void)flo_wait_all(rt);
    for (int t = 0; t < SUBMITTERS; t++)
        assert_int_equal(flo_data_unregister(rt, args[t].h), FLO_OK);
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_ECOMM);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    free(args);
}

static void test_shrink_bad_args(void **state)
{
    flo_comm *c = host_comm(2), *out = (flo_comm *)&out;
    int self = 0, other = 1, neg = -1;
    flo_status w;

    (void)state;
    assert_int_equal(flo_comm_shrink(NULL, NULL, 0, &out), FLO_EINVAL);
    assert_int_equal(flo_comm_shrink(c, NULL, 0, NULL), FLO_EINVAL);
    /* The caller's own rank, a rank out of range, a negative one. */
    assert_int_equal(flo_comm_shrink(c, &self, 1, &out), FLO_EINVAL);
    assert_int_equal(flo_comm_shrink(c, &other, 1, &out), FLO_EINVAL);
    assert_int_equal(flo_comm_shrink(c, &neg, 1, &out), FLO_EINVAL);
    /* A count without a list, a negative count. */
    assert_int_equal(flo_comm_shrink(c, NULL, 1, &out), FLO_EINVAL);
    assert_int_equal(flo_comm_shrink(c, &other, -1, &out), FLO_EINVAL);
    /* Nothing written, nothing changed: c still works. */
    assert_ptr_equal(out, (flo_comm *)&out);
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_OK);
    assert_int_equal(sum_check(c, 1, &w), FLO_OK);
    assert_int_equal(w, FLO_OK);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

/* One process has no other rank to lose: shrinking rebuilds. */
static void test_shrink_rebuild(void **state)
{
    flo_comm *c = host_comm(3), *c2 = NULL, *c3 = NULL;
    int none[1] = {0};
    char msg[128];
    flo_status w;

    (void)state;
    /* A broken communicator (aborted), found to be so, rebuilt. */
    assert_int_equal(flo_comm_abort(c), FLO_OK);
    assert_int_equal(sum_check(c, 0, &w), FLO_ECOMM);
    assert_int_equal(flo_comm_shrink(c, NULL, 0, &c2), FLO_OK);
    assert_non_null(c2);
    assert_int_equal(flo_comm_size(c2), 3);
    assert_int_equal(flo_comm_local_size(c2), 3);
    assert_int_equal(flo_comm_nranks(c2), 1);
    assert_int_equal(flo_comm_rank(c2), 0);
    assert_string_equal(flo_comm_transport(c2), "host");
    assert_int_equal(flo_comm_status(c2, NULL, 0), FLO_OK);
    for (int k = 0; k < 5; k++) {
        assert_int_equal(sum_check(c2, k, &w), FLO_OK);
        assert_int_equal(w, FLO_OK);
    }
    /* The old one keeps the failure that broke it. */
    assert_int_equal(flo_comm_status(c, msg, sizeof(msg)), FLO_ECOMM);
    assert_non_null(strstr(msg, "flo_comm_abort"));

    /* A healthy communicator, with an empty list: c2 is replaced. */
    assert_int_equal(flo_comm_shrink(c2, none, 0, &c3), FLO_OK);
    assert_int_equal(flo_comm_status(c2, msg, sizeof(msg)), FLO_ECOMM);
    assert_non_null(strstr(msg, "flo_comm_shrink"));
    assert_int_equal(sum_check(c2, 0, &w), FLO_ECOMM);
    assert_int_equal(sum_check(c3, 2, &w), FLO_OK);
    assert_int_equal(w, FLO_OK);

    assert_int_equal(flo_comm_destroy(c3), FLO_OK);
    assert_int_equal(flo_comm_destroy(c2), FLO_OK);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

/* In a task: shrink would wait (refused), abort waits for nothing. */
typedef struct task_rec {
    flo_comm *c;
    flo_status shrink_rc, abort_rc;
    flo_comm *out;
} task_rec;

static void k_in_task(flo_task_ctx *ctx)
{
    task_rec *r = *(task_rec *const *)flo_task_args(ctx, NULL);

    r->out = NULL;
    r->shrink_rc = flo_comm_shrink(r->c, NULL, 0, &r->out);
    r->abort_rc = flo_comm_abort(r->c);
}

static const flo_kernel k_task = {.name = "comm_in_task", .host = k_in_task};

static void test_in_task(void **state)
{
    flo_comm *c = host_comm(1);
    task_rec rec = {.c = c, .shrink_rc = FLO_OK, .abort_rc = FLO_EINTERNAL};
    task_rec *p = &rec;
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_event ev;

    (void)state;
    d.kernel = &k_task;
    d.args = &p;
    d.args_size = sizeof(p);
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(rec.shrink_rc, FLO_EDEADLK);
    assert_null(rec.out);
    assert_int_equal(rec.abort_rc, FLO_OK);
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_ECOMM);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_and_abort),
        cmocka_unit_test(test_abort_in_flight),
        cmocka_unit_test(test_abort_threads),
        cmocka_unit_test(test_shrink_bad_args),
        cmocka_unit_test(test_shrink_rebuild),
        cmocka_unit_test(test_in_task),
    };
    return cmocka_run_group_tests_name("collectives_resilience", tests, setup,
                                       teardown);
}
