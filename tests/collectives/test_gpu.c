/*
 * collectives_gpu: NCCL collectives and the cross-device scan on the GPUs
 * present (one GPU still makes a one-rank NCCL communicator), and logical
 * GPUs sharing one card, which NCCL cannot serve (the host transport
 * takes them). Every operation, type and operator is checked against the
 * reference. Then the resilience of NCCL communicators in one process
 * (flo_comm_status, flo_comm_abort with collectives in flight,
 * flo_comm_shrink as a rebuild, injected faults and the watchdog's
 * timeout): the host-transport version of these is test_resilience.c,
 * the ranks that die test_resilience_mpi.c. Without a GPU it prints the
 * TAP plan "1..0 # SKIP" and exits 0, which meson reports as SKIP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "flo_build_config.h"
#include "flotilla.h"
#include "tests/collectives/coll_ref.h"

static flo_runtime *rt;

static flo_status gpu_init(int logical, flo_runtime **out)
{
    flo_config cfg = FLO_CONFIG_INIT;

    cfg.devices = FLO_DEVICES_CUDA;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.logical_gpus = logical;
    cfg.coll_timeout_s = 60;
    return flo_init(&cfg, out);
}

/* Every kind x type x operator x count with the inputs of `values`
 * (enum ck_values; CK_WRAP: the integer types only). */
static long run_matrix(flo_runtime *r, flo_comm *c, const size_t *counts,
                       int ncounts, bool in_place, int values)
{
    long failed = 0;

    for (int k = 0; k < CK_KIND_COUNT; k++) {
        if (in_place && (k == CK_ALLGATHER || k == CK_REDUCE_SCATTER))
            continue;
        for (int t = 0; t < FLO_DTYPE_COUNT; t++) {
            if (values == CK_WRAP && (t == FLO_F32 || t == FLO_F64))
                continue;
            int nops = k == CK_BCAST || k == CK_ALLGATHER ? 1 : FLO_REDOP_COUNT;
            for (int op = 0; op < nops; op++) {
                for (int ci = 0; ci < ncounts; ci++) {
                    /* Large sizes for two types only: time. */
                    if (counts[ci] > 100000 && t != FLO_I64 && t != FLO_F32)
                        continue;
                    int root = (ci + op) % flo_comm_size(c);
                    ck_result res = ck_run(r, c, k, (flo_dtype)t, (flo_redop)op,
                                           counts[ci], root, in_place, values);
                    if (res.submit != FLO_OK || res.wait != FLO_OK ||
                        res.bad != 0) {
                        char msg[256] = "";
                        flo_error_message(r, FLO_EVENT_NULL, msg, sizeof(msg));
                        print_error("%s %s %s count %zu%s%s: submit %s "
                                    "wait %s bad %ld (%s)\n",
                                    ck_names[k], flo_dtype_name((flo_dtype)t),
                                    flo_redop_name((flo_redop)op), counts[ci],
                                    in_place ? " in place" : "",
                                    values == CK_WRAP ? " (wrapping)" : "",
                                    flo_status_str(res.submit),
                                    flo_status_str(res.wait), res.bad, msg);
                        failed++;
                        flo_wait_all(r);
                    }
                }
            }
        }
    }
    return failed;
}

static void test_nccl_matrix(void **state)
{
    static const size_t counts[] = {0, 1, 7, 1001, (1u << 20) + 3};
    int ngpu = flo_device_count(rt) - 1;
    flo_comm *c;

    (void)state;
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    assert_int_equal(flo_comm_size(c), ngpu);
    assert_int_equal(flo_comm_local_size(c), ngpu);
#if FLO_HAVE_NCCL
    assert_string_equal(flo_comm_transport(c), "nccl");
#else
    assert_string_equal(flo_comm_transport(c), "host");
#endif
    assert_int_equal(run_matrix(rt, c, counts, 5, false, CK_SMALL), 0);
    assert_int_equal(run_matrix(rt, c, counts, 4, true, CK_SMALL), 0);
    /* Integer overflow wraps in NCCL and in the cross-device scan too. */
    assert_int_equal(run_matrix(rt, c, counts, 5, false, CK_WRAP), 0);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

/* Large uneven parts: the scan's blocks, carries between blocks and
 * between GPUs. */
static void test_scan_large(void **state)
{
    int ngpu = flo_device_count(rt) - 1;
    flo_comm *c;
    int64_t *buf[FLO_COMM_MAX_LOCAL];
    size_t cnt[FLO_COMM_MAX_LOCAL];
    flo_data h[FLO_COMM_MAX_LOCAL];
    flo_event ev;
    int64_t acc = 0;
    long bad = 0;

    (void)state;
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    for (int g = 0; g < ngpu; g++) {
        cnt[g] = (size_t)5000000 + (size_t)g * 777777;
        buf[g] = malloc(cnt[g] * sizeof(int64_t));
        for (size_t i = 0; i < cnt[g]; i++)
            buf[g][i] = (int64_t)((i * 13 + (size_t)g) % 7) - 3;
        assert_int_equal(flo_data_register(rt, buf[g], cnt[g] * 8, &h[g]),
                         FLO_OK);
    }
    assert_int_equal(
        flo_coll_scan(c, h, h, cnt, FLO_I64, FLO_SUM, FLO_SCAN_INCLUSIVE, &ev),
        FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    for (int g = 0; g < ngpu; g++) {
        assert_int_equal(flo_data_unregister(rt, h[g]), FLO_OK);
        for (size_t i = 0; i < cnt[g]; i++) {
            acc += (int64_t)((i * 13 + (size_t)g) % 7) - 3;
            bad += buf[g][i] != acc;
        }
        free(buf[g]);
    }
    assert_int_equal(bad, 0);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

/* Two logical GPUs per card: not NCCL material. */
static void test_logical_gpus(void **state)
{
    static const size_t counts[] = {0, 7, 1001};
    flo_runtime *r2;
    flo_comm *c;

    (void)state;
    assert_int_equal(gpu_init(2, &r2), FLO_OK);
    assert_int_equal(flo_comm_create(r2, &c), FLO_OK);
    assert_int_equal(flo_comm_size(c), flo_device_count(r2) - 1);
    assert_string_equal(flo_comm_transport(c), "host");
    assert_int_equal(run_matrix(r2, c, counts, 3, false, CK_SMALL), 0);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    assert_int_equal(flo_finalize(r2), FLO_OK);
}

/* ---- Resilience of NCCL communicators, in one process -----------------
 *
 * What one process cannot show, and what these tests assert instead:
 *  - An injected stall (coll:...,action=stall) stalls every local
 *    participant of the collective (the rules pick collectives, not
 *    participants), before its NCCL call; the timeout runs from the
 *    launch. With no other rank to be late for, the collective is only
 *    late: it succeeds after the stall (FLO_OK, right values).
 *  - The watchdog's timeout needs a participant that waits for another:
 *    with two GPUs or more, one participant is held back by a host task
 *    that holds its buffer for longer than the timeout. A one-rank NCCL
 *    communicator (one GPU) waits for nobody: that part is left out.
 *  - The event of a collective is that of its join task, which depends
 *    on one task per GPU: when a GPU's task fails before its NCCL call
 *    (the communicator was broken or aborted by then, or an injected
 *    error), the join finishes with that task's status and message
 *    (flo__task_submit_inherit), not FLO_ECANCELED; a failure found after
 *    the launch (abort, timeout) fails the join with it.
 *  - No rank can be left out: flo_comm_shrink rebuilds (NULL, or the
 *    empty list), from new NCCL communicators.
 */

enum { RN = 1000, HOLD_MS = 3000 };

/* Keep a buffer (and the GPU task that waits for it) for HOLD_MS. */
static void k_hold_fn(flo_task_ctx *ctx)
{
    struct timespec t = {HOLD_MS / 1000, (HOLD_MS % 1000) * 1000000L};

    (void)ctx;
    while (nanosleep(&t, &t) != 0)
        ;
}

static const flo_kernel k_hold = {.name = "hold_participant",
                                  .host = k_hold_fn};

/* Skip without NCCL, else check that c uses it. */
static void need_nccl(flo_comm *c)
{
#if !FLO_HAVE_NCCL
    (void)c;
    skip();
#else
    assert_string_equal(flo_comm_transport(c), "nccl");
#endif
}

/* An in-place all-reduce (sum) over c's local participants, from host
 * memory (the runtime moves it to the GPUs): participant i holds
 * i + 1 + k + j at index j. Participant `held` (-1: none) is held back
 * by a host task for HOLD_MS. Checks the values after a success; clears
 * a reported failure. Returns the submission's status, *wait_st the
 * event's (or the submission's). */
static flo_status nccl_sum(flo_runtime *r, flo_comm *c, int k, int held,
                           flo_status *wait_st)
{
    int n = flo_comm_local_size(c);
    int64_t *v[FLO_COMM_MAX_LOCAL];
    flo_data h[FLO_COMM_MAX_LOCAL];
    int64_t want = 0;
    flo_event ev;
    flo_status st;
    long bad = 0;

    assert_true(n >= 1 && n <= FLO_COMM_MAX_LOCAL);
    for (int i = 0; i < n; i++) {
        want += i + 1 + k;
        v[i] = malloc(RN * sizeof(int64_t));
        assert_non_null(v[i]);
        for (int j = 0; j < RN; j++)
            v[i][j] = i + 1 + k + j;
        assert_int_equal(
            flo_data_register(r, v[i], RN * sizeof(int64_t), &h[i]), FLO_OK);
    }
    if (held >= 0) {
        assert_true(held < n);
        assert_int_equal(
            flo_submit(r, NULL, .kernel = &k_hold, FLO_ACCESS(FLO_RW(h[held]))),
            FLO_OK);
    }
    st = flo_coll_allreduce(c, h, h, RN, FLO_I64, FLO_SUM, &ev);
    *wait_st = st == FLO_OK ? flo_event_wait(r, ev) : st;
    if (*wait_st != FLO_OK || held >= 0)
        (void)flo_wait_all(r); /* Clear the reported failure. */
    for (int i = 0; i < n; i++)
        assert_int_equal(flo_data_unregister(r, h[i]), FLO_OK);
    for (int i = 0; i < n; i++) {
        if (st == FLO_OK && *wait_st == FLO_OK)
            for (int j = 0; j < RN; j++)
                bad += v[i][j] != want + (int64_t)n * j;
        free(v[i]);
    }
    assert_int_equal(bad, 0);
    return st;
}

/* nccl_sum, expected to succeed. */
static void nccl_sum_ok(flo_runtime *r, flo_comm *c, int k)
{
    flo_status w;

    assert_int_equal(nccl_sum(r, c, k, -1, &w), FLO_OK);
    assert_int_equal(w, FLO_OK);
}

/* A communicator that shrink made: same participants, one rank, NCCL,
 * usable. */
static void check_rebuilt(flo_runtime *r, flo_comm *old, flo_comm *nc)
{
    int d1[FLO_COMM_MAX_LOCAL], d2[FLO_COMM_MAX_LOCAL];

    assert_non_null(nc);
    assert_int_equal(flo_comm_size(nc), flo_comm_size(old));
    assert_int_equal(flo_comm_local_size(nc), flo_comm_local_size(old));
    assert_int_equal(flo_comm_nranks(nc), 1);
    assert_int_equal(flo_comm_rank(nc), 0);
    assert_int_equal(flo_comm_first(nc), 0);
    assert_int_equal(flo_comm_local_devices(old, d1), FLO_OK);
    assert_int_equal(flo_comm_local_devices(nc, d2), FLO_OK);
    assert_memory_equal(d1, d2, (size_t)flo_comm_local_size(nc) * sizeof(int));
    assert_string_equal(flo_comm_transport(nc), "nccl");
    assert_int_equal(flo_comm_status(nc, NULL, 0), FLO_OK);
    (void)r;
}

/* (a) Status, then flo_comm_abort: broken with a message, later
 * collectives refused, a second abort changes nothing. */
static void test_nccl_abort(void **state)
{
    flo_comm *c;
    char msg[256];
    flo_status w;

    (void)state;
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    need_nccl(c);
    assert_int_equal(flo_comm_nranks(c), 1);
    assert_int_equal(flo_comm_rank(c), 0);
    memset(msg, 'x', sizeof(msg));
    assert_int_equal(flo_comm_status(c, msg, sizeof(msg)), FLO_OK);
    assert_string_equal(msg, "");
    for (int k = 0; k < 3; k++)
        nccl_sum_ok(rt, c, k);
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_OK);

    assert_int_equal(flo_comm_abort(c), FLO_OK);
    assert_int_equal(flo_comm_status(c, msg, sizeof(msg)), FLO_ECOMM);
    assert_non_null(strstr(msg, "flo_comm_abort"));
    /* Refused: nothing submitted. */
    assert_int_equal(nccl_sum(rt, c, 0, -1, &w), FLO_ECOMM);
    assert_int_equal(w, FLO_ECOMM);
    assert_int_equal(flo_comm_abort(c), FLO_OK);
    assert_int_equal(flo_comm_status(c, msg, sizeof(msg)), FLO_ECOMM);
    assert_non_null(strstr(msg, "flo_comm_abort"));
    assert_int_equal(nccl_sum(rt, c, 1, -1, &w), FLO_ECOMM);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
}

/* (b) An abort while collectives are queued and in flight: each one
 * finished before it (FLO_OK), failed (FLO_ECOMM) or was canceled
 * (FLO_ECANCELED: its GPU tasks were behind a failed one on the same
 * buffers); none hangs. Max is idempotent: the values stay 7
 * whatever ran. */
static void test_nccl_abort_in_flight(void **state)
{
    enum { ROUNDS = 200, AN = 1 << 16 };
    int n;
    flo_comm *c;
    int64_t *v[FLO_COMM_MAX_LOCAL];
    flo_data h[FLO_COMM_MAX_LOCAL];
    flo_event *ev = calloc(ROUNDS, sizeof(flo_event));
    long ok = 0, failed = 0, bad = 0;

    (void)state;
    assert_non_null(ev);
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    need_nccl(c);
    n = flo_comm_local_size(c);
    for (int i = 0; i < n; i++) {
        v[i] = malloc(AN * sizeof(int64_t));
        assert_non_null(v[i]);
        for (int j = 0; j < AN; j++)
            v[i][j] = 7;
        assert_int_equal(
            flo_data_register(rt, v[i], AN * sizeof(int64_t), &h[i]), FLO_OK);
    }
    /* NCCL makes the connections of a kind of collective at its first
     * one: made before the abort, which then finds kernels, not a
     * connection in progress. */
    assert_int_equal(flo_coll_allreduce(c, h, h, AN, FLO_I64, FLO_MAX, &ev[0]),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev[0]), FLO_OK);
    for (int r = 0; r < ROUNDS; r++)
        assert_int_equal(
            flo_coll_allreduce(c, h, h, AN, FLO_I64, FLO_MAX, &ev[r]), FLO_OK);
    assert_int_equal(flo_comm_abort(c), FLO_OK);
    for (int r = 0; r < ROUNDS; r++) {
        flo_status st = flo_event_wait(rt, ev[r]);
        if (st != FLO_OK && st != FLO_ECOMM && st != FLO_ECANCELED)
            print_error("collective %d: %s\n", r, flo_status_str(st));
        assert_true(st == FLO_OK || st == FLO_ECOMM || st == FLO_ECANCELED);
        ok += st == FLO_OK;
        failed += st != FLO_OK;
    }
    assert_int_equal(ok + failed, ROUNDS);
    (void)flo_wait_all(rt); /* Clear the reported error. */
    for (int i = 0; i < n; i++) {
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
        for (int j = 0; j < AN; j++)
            bad += v[i][j] != 7;
        free(v[i]);
    }
    assert_int_equal(bad, 0);
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_ECOMM);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    free(ev);
}

/* (c) Shrink as a rebuild: of a healthy communicator (NULL, then the
 * empty list) and of an aborted one (NULL, then the empty list). Each
 * time the new one works and the old one is broken. */
static void test_nccl_shrink(void **state)
{
    flo_comm *c[5] = {NULL};
    int none[1] = {0};
    char msg[256];
    flo_status w;

    (void)state;
    assert_int_equal(flo_comm_create(rt, &c[0]), FLO_OK);
    need_nccl(c[0]);
    nccl_sum_ok(rt, c[0], 0);
    for (int s = 0; s < 4; s++) {
        bool aborted = s >= 2, with_list = s % 2 == 1;
        if (aborted) {
            assert_int_equal(flo_comm_abort(c[s]), FLO_OK);
            assert_int_equal(nccl_sum(rt, c[s], 0, -1, &w), FLO_ECOMM);
        }
        assert_int_equal(
            flo_comm_shrink(c[s], with_list ? none : NULL, 0, &c[s + 1]),
            FLO_OK);
        check_rebuilt(rt, c[s], c[s + 1]);
        for (int k = 0; k < 3; k++)
            nccl_sum_ok(rt, c[s + 1], k + s);
        /* The old one: broken, by the abort or by being replaced. */
        assert_int_equal(flo_comm_status(c[s], msg, sizeof(msg)), FLO_ECOMM);
        assert_non_null(
            strstr(msg, aborted ? "flo_comm_abort" : "flo_comm_shrink"));
        assert_int_equal(nccl_sum(rt, c[s], 1, -1, &w), FLO_ECOMM);
    }
    for (int s = 4; s >= 0; s--)
        assert_int_equal(flo_comm_destroy(c[s]), FLO_OK);
}

/* (d) Injected faults and the watchdog, on a runtime of their own: a
 * stall longer than the timeout (one process: only late, see above),
 * with two GPUs or more a participant held back longer than the timeout
 * (FLO_ETIMEDOUT), an injected error (FLO_ECOMM); after each failure a
 * rebuild goes on correctly, and other communicators are not touched. */
static void test_nccl_faults(void **state)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *r;
    flo_comm *c, *c2, *c3, *c4;
    flo_stats stats;
    char msg[256];
    flo_status w;
    int ngpu;

    (void)state;
    cfg.devices = FLO_DEVICES_CUDA;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.coll_timeout_s = 1.0;
    /* Every communicator's collective #2 stalls 3 s (> 1 s). */
    cfg.faults = "coll:nth=2,action=stall,ms=3000";
    assert_int_equal(flo_init(&cfg, &r), FLO_OK);
    ngpu = flo_device_count(r) - 1;
    assert_int_equal(flo_comm_create(r, &c), FLO_OK);
    need_nccl(c);
    assert_int_equal(flo_comm_local_size(c), ngpu);

    nccl_sum_ok(r, c, 0); /* #1; makes NCCL's connections. */
    nccl_sum_ok(r, c, 1); /* #2: stalled, late but right. */
    assert_int_equal(flo_comm_status(c, NULL, 0), FLO_OK);
    assert_int_equal(flo_stats_get(r, &stats), FLO_OK);
    assert_int_equal(stats.faults_injected, 1);

    if (ngpu >= 2) {
        /* #3: GPU 0's kernel waits for GPU 1's, whose task waits for the
         * host task: the watchdog times it out and aborts. */
        assert_int_equal(nccl_sum(r, c, 2, 1, &w), FLO_OK);
        if (w != FLO_ETIMEDOUT)
            print_error("held collective: %s\n", flo_status_str(w));
        assert_int_equal(w, FLO_ETIMEDOUT);
        assert_int_equal(flo_comm_status(c, msg, sizeof(msg)), FLO_ETIMEDOUT);
        assert_non_null(strstr(msg, "FLO_COLL_TIMEOUT"));
        assert_int_equal(nccl_sum(r, c, 3, -1, &w), FLO_ECOMM);
    }
    assert_int_equal(flo_comm_shrink(c, NULL, 0, &c2), FLO_OK);
    check_rebuilt(r, c, c2);
    for (int k = 0; k < 3; k++) /* #2 stalls again: c2 counts anew. */
        nccl_sum_ok(r, c2, 10 + k);
    assert_int_equal(flo_stats_get(r, &stats), FLO_OK);
    assert_int_equal(stats.faults_injected, 2);
    assert_int_equal(flo_comm_status(c, NULL, 0),
                     ngpu >= 2 ? FLO_ETIMEDOUT : FLO_ECOMM);

    /* An injected error on a new communicator's first collective: it
     * breaks (FLO_ECOMM) without its NCCL communicators being aborted;
     * the rebuild aborts them and makes new ones. */
    assert_int_equal(flo_fault_clear(r), FLO_OK);
    assert_int_equal(flo_fault_inject(r, "coll:nth=1,action=error"), FLO_OK);
    assert_int_equal(flo_comm_create(r, &c3), FLO_OK);
    assert_int_equal(nccl_sum(r, c3, 0, -1, &w), FLO_OK);
    if (w != FLO_ECOMM)
        print_error("injected error: %s\n", flo_status_str(w));
    assert_int_equal(w, FLO_ECOMM);
    assert_int_equal(flo_comm_status(c3, msg, sizeof(msg)), FLO_ECOMM);
    assert_non_null(strstr(msg, "injected error"));
    assert_int_equal(nccl_sum(r, c3, 1, -1, &w), FLO_ECOMM);
    assert_int_equal(flo_fault_clear(r), FLO_OK);
    assert_int_equal(flo_comm_shrink(c3, NULL, 0, &c4), FLO_OK);
    check_rebuilt(r, c3, c4);
    for (int k = 0; k < 3; k++)
        nccl_sum_ok(r, c4, 20 + k);
    /* c2 was never touched by c's or c3's failures. */
    assert_int_equal(flo_comm_status(c2, NULL, 0), FLO_OK);
    nccl_sum_ok(r, c2, 30);

    assert_int_equal(flo_comm_destroy(c4), FLO_OK);
    assert_int_equal(flo_comm_destroy(c3), FLO_OK);
    assert_int_equal(flo_comm_destroy(c2), FLO_OK);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    assert_int_equal(flo_finalize(r), FLO_OK);
}

int main(void)
{
    flo_status st = gpu_init(1, &rt);
    int rc;

    if (st == FLO_ENODEV || st == FLO_ENOTSUP) {
        printf("1..0 # SKIP no GPU (%s)\n", flo_status_str(st));
        return 0;
    }
    if (st != FLO_OK) {
        fprintf(stderr, "flo_init: %s\n", flo_status_str(st));
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nccl_matrix),
        cmocka_unit_test(test_scan_large),
        cmocka_unit_test(test_logical_gpus),
        cmocka_unit_test(test_nccl_abort),
        cmocka_unit_test(test_nccl_abort_in_flight),
        cmocka_unit_test(test_nccl_shrink),
        cmocka_unit_test(test_nccl_faults),
    };
    rc = cmocka_run_group_tests_name("collectives_gpu", tests, NULL, NULL);
    if (flo_finalize(rt) != FLO_OK)
        rc++;
    return rc;
}
