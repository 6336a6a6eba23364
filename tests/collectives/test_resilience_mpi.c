/*
 * collectives_resilience_mpi: a rank that dies during a loop of
 * collectives (run under mpirun -np 3 or -np 2 with Open MPI's
 * orte_enable_recovery, so that mpirun lets the survivors run: without it
 * Open MPI kills the whole job). One scenario per run, named by the first
 * argument; "the last rank" is rank nranks - 1:
 *
 *   kill         the last rank kills itself (SIGKILL) at iteration K;
 *                the survivors' collective K fails with FLO_ETIMEDOUT
 *                (or FLO_ECOMM), flo_comm_status says so, every later
 *                collective is refused with FLO_ECOMM; nobody hangs.
 *   kill-shrink  the same, then the survivors shrink the communicator
 *                excluding that rank and finish the loop on it.
 *   drop-detect  the last rank dies by an injected fault
 *                (coll:...,action=drop: _exit at its collective K), and
 *                the survivors shrink without naming it (they find it).
 *   stall        rank 1 stalls (injected) longer than the timeout at
 *                collective K: the others time out; then all of them
 *                rebuild the communicator (shrink excluding nobody) and
 *                finish the loop.
 *   abort        rank 0 issues a collective that the others never join,
 *                with a timeout far longer than the test's, and aborts
 *                the communicator: the collective fails with FLO_ECOMM
 *                (the abort), not FLO_ETIMEDOUT.
 *   exclude      the last rank kills itself between iterations K - 1 and
 *                K; the survivors, whose communicator nothing broke,
 *                exclude it at once (no collective fails) and finish the
 *                loop on the shrunk one (over NCCL: ncclCommShrink).
 *   exclude-broken  the same, but the survivors' collective K fails first
 *                by an injected error (coll:...,action=error): the
 *                communicator they shrink is broken (over NCCL:
 *                ncclCommShrink with NCCL_SHRINK_ABORT).
 *
 * GPU mode (FLO__TEST_MPI_GPU=1, set by meson for the _gpu_ variants):
 * each rank takes one GPU of its node (the runtime splits the node's GPUs
 * by node-local rank) and the communicator must be NCCL; the data stays
 * host memory registered with the runtime, which moves it. Without a GPU
 * for every rank (flo_init fails with FLO_ENODEV on some rank) or without
 * NCCL, rank 0 prints a TAP skip. What differs over NCCL:
 *  - stall: rank 1's collective K either completes against what the
 *    others had posted before they aborted their NCCL communicators at
 *    their timeout, or fails after its own timeout. Seen on two H200s
 *    with two ranks: it completed, FLO_OK, with half of its elements
 *    wrong. NCCL cannot tell a rank that a peer gave up on a collective
 *    its own kernel finished: after a collective failed on any rank,
 *    its results are undefined on every rank, and the test does not
 *    check rank 1's. Every rank meets the others at a barrier before the
 *    rebuild, whose rounds would otherwise time out waiting for rank 1.
 *    After the loop on the rebuilt communicator, it is rebuilt once more
 *    while healthy, and the loop goes on.
 *  - abort: the event of a collective is its join task's, which takes
 *    the status of a GPU task that fails before its NCCL call (an abort
 *    that finds rank 0's NCCL call not yet enqueued: NCCL makes a
 *    communicator's connections at its first collective, with every
 *    rank); either way the event says FLO_ECOMM, as over MPI.
 *
 * Results: every survivor counts its failed checks; their sum is taken
 * over the survivors only (a communicator of theirs, made with
 * MPI_Comm_create_group on MPI_COMM_WORLD, since a collective over the
 * world would wait for the dead rank) and rank 0 asserts it is zero and
 * prints TAP. Survivors skip MPI_Finalize after a rank died: Open MPI
 * 4.1's waits for every process of the job, the dead one included
 * (docs/resilience.md). Without 2 ranks or more (16 at most), or without
 * the recovery setting (FLO__TEST_MPI_RECOVERY, set by meson), the
 * program prints a TAP skip.
 */
#include <mpi.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flotilla.h"
#include "flotilla/mpi.h"

enum { N = 64, ITERS = 8, K = 3 };

static flo_runtime *rt;
static int rank, nranks;
static const char *mode;
/* FLO__TEST_MPI_GPU=1: one GPU per rank, NCCL. */
static int gpu_mode;
/* MPI holds a request that will never complete: skip MPI_Finalize. */
static int unclean;
/* Original ranks alive at the end (1) or dead (0). */
static int alive[16];

/* Sum of v over the ranks still alive (alive[]), from every one of them. */
static long survivors_sum(long v)
{
    MPI_Group world, live;
    MPI_Comm comm;
    int ranks[16], n = 0;

    for (int r = 0; r < nranks; r++)
        if (alive[r])
            ranks[n++] = r;
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    MPI_Group_incl(world, n, ranks, &live);
    /* Collective over the survivors only. */
    MPI_Comm_create_group(MPI_COMM_WORLD, live, 99, &comm);
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_LONG, MPI_SUM, comm);
    MPI_Comm_free(&comm);
    MPI_Group_free(&live);
    MPI_Group_free(&world);
    return v;
}

/* Iterations [from, to) of the loop on c: an in-place all-reduce (sum)
 * of (original rank + 1) * (it + 1) + i, checked against the sum over
 * the ranks taking part (part[]). The rank `victim` dies at iteration K
 * when `kill_at_k`. Returns the number of wrong values; *failed_it gets
 * the first iteration that failed (-1: none), *why its status. */
/* An iteration whose values loop does not check (-1: none): see stall. */
static int unchecked_it = -1;

static long loop(flo_comm *c, const int *part, int from, int to, int victim,
                 bool kill_at_k, int *failed_it, flo_status *why)
{
    int64_t v[N];
    long bad = 0;
    flo_data h;

    *failed_it = -1;
    *why = FLO_OK;
    assert_int_equal(flo_data_register(rt, v, sizeof(v), &h), FLO_OK);
    for (int it = from; it < to; it++) {
        int64_t want_base = 0;
        flo_event ev;
        flo_status st;
        void *p = NULL;
        if (kill_at_k && it == K && rank == victim)
            kill(getpid(), SIGKILL);
        assert_int_equal(flo_data_acquire(rt, h, FLO_WRITE, &p), FLO_OK);
        for (int i = 0; i < N; i++)
            ((int64_t *)p)[i] = (int64_t)(rank + 1) * (it + 1) + i;
        assert_int_equal(flo_data_release(rt, h), FLO_OK);
        for (int r = 0; r < nranks; r++)
            if (part[r])
                want_base += (int64_t)(r + 1) * (it + 1);
        st = flo_coll_allreduce(c, &h, &h, N, FLO_I64, FLO_SUM, &ev);
        if (st == FLO_OK)
            st = flo_event_wait(rt, ev);
        if (st != FLO_OK) {
            *failed_it = it;
            *why = st;
            break;
        }
        if (it != unchecked_it) {
            int64_t npart = 0;
            for (int r = 0; r < nranks; r++)
                npart += part[r];
            assert_int_equal(flo_data_acquire(rt, h, FLO_READ, &p), FLO_OK);
            for (int i = 0; i < N; i++)
                bad += ((const int64_t *)p)[i] != want_base + npart * i;
            assert_int_equal(flo_data_release(rt, h), FLO_OK);
        }
    }
    (void)flo_wait_all(rt); /* Clear a reported failure. */
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    return bad;
}

/* The checks after the collective that a dead or late rank made fail:
 * FLO_ETIMEDOUT (a late rank), or also FLO_ECOMM (a dead one: MPI may
 * notice before the timeout). */
static long check_failed(flo_comm *c, int failed_it, flo_status why,
                         bool timeout_only)
{
    long bad = 0;
    char msg[256];
    flo_status st;
    int32_t x = 0;
    flo_data h;

    bad += failed_it != K;
    bad += timeout_only ? why != FLO_ETIMEDOUT
                        : (why != FLO_ETIMEDOUT && why != FLO_ECOMM);
    st = flo_comm_status(c, msg, sizeof(msg));
    bad += st != why;
    bad += msg[0] == '\0';
    /* Every later collective is refused. */
    assert_int_equal(flo_data_register(rt, &x, sizeof(x), &h), FLO_OK);
    bad +=
        flo_coll_allreduce(c, &h, &h, 1, FLO_I32, FLO_SUM, NULL) != FLO_ECOMM;
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    if (bad != 0)
        fprintf(stderr,
                "rank %d: failed at iteration %d (want %d) with %s; status "
                "%s: %s\n",
                rank, failed_it, K, flo_status_str(why), flo_status_str(st),
                msg);
    return bad;
}

/* Ranks die or stall at iteration K; the survivors check the failure,
 * then (shrink) go on with a communicator of theirs. */
static void run_failure(bool kill_at_k, bool shrink, bool detect, int victim)
{
    int part[16], failed_it = -1;
    flo_comm *c = NULL, *c2 = NULL;
    flo_status why = FLO_OK;
    long bad = 0;

    for (int r = 0; r < nranks; r++)
        part[r] = alive[r] = 1;
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    assert_int_equal(flo_comm_nranks(c), nranks);
    bad += loop(c, part, 0, ITERS, victim, kill_at_k, &failed_it, &why);
    /* Only survivors get here. */
    if (victim >= 0)
        alive[victim] = 0;
    bad += check_failed(c, failed_it, why, false);
    if (shrink) {
        int ex = victim;
        flo_status st = flo_comm_shrink(c, detect ? NULL : &ex,
                                        detect || victim < 0 ? 0 : 1, &c2);
        if (st != FLO_OK) {
            fprintf(stderr, "rank %d: flo_comm_shrink: %s\n", rank,
                    flo_status_str(st));
            bad++;
        } else {
            int newrank = 0;
            for (int r = 0; r < rank; r++)
                newrank += alive[r];
            bad += flo_comm_nranks(c2) != nranks - (victim >= 0);
            bad += flo_comm_rank(c2) != newrank;
            bad += flo_comm_size(c2) != nranks - (victim >= 0);
            bad += flo_comm_status(c2, NULL, 0) != FLO_OK;
            for (int r = 0; r < nranks; r++)
                part[r] = alive[r];
            bad += loop(c2, part, K, ITERS, -1, false, &failed_it, &why);
            bad += failed_it != -1;
            if (failed_it != -1)
                fprintf(stderr, "rank %d: shrunk loop failed at %d: %s\n", rank,
                        failed_it, flo_status_str(why));
            assert_int_equal(flo_comm_destroy(c2), FLO_OK);
        }
    }
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    assert_int_equal(survivors_sum(bad), 0);
}

static void test_kill(void **state)
{
    (void)state;
    run_failure(true, false, false, nranks - 1);
}

static void test_kill_shrink(void **state)
{
    (void)state;
    run_failure(true, true, false, nranks - 1);
}

static void test_drop_detect(void **state)
{
    (void)state;
    run_failure(false, true, true, nranks - 1);
}

/* Rebuild a healthy communicator c (nobody excluded: new NCCL
 * communicators, c's destroyed at its end) and run K iterations on the
 * new one (fewer than the stall rule's nth: it counts the collectives of
 * each communicator). Returns the number of failed checks. */
static long rebuild_healthy(flo_comm *c, const int *part)
{
    int none[1] = {0}, failed_it = -1;
    flo_comm *c3 = NULL;
    flo_status why = FLO_OK, st = flo_comm_shrink(c, none, 0, &c3);
    char msg[256];
    long bad = 0;

    if (st != FLO_OK) {
        fprintf(stderr, "rank %d: healthy rebuild: %s\n", rank,
                flo_status_str(st));
        return 1;
    }
    bad += flo_comm_nranks(c3) != flo_comm_nranks(c);
    bad += flo_comm_rank(c3) != flo_comm_rank(c);
    bad += strcmp(flo_comm_transport(c3), flo_comm_transport(c)) != 0;
    bad += flo_comm_status(c, msg, sizeof(msg)) != FLO_ECOMM;
    bad += strstr(msg, "flo_comm_shrink") == NULL;
    bad += loop(c3, part, 2 * K, 3 * K, -1, false, &failed_it, &why);
    if (failed_it != -1) {
        fprintf(stderr,
                "rank %d: loop after the healthy rebuild failed at %d: "
                "%s\n",
                rank, failed_it, flo_status_str(why));
        bad++;
    }
    assert_int_equal(flo_comm_destroy(c3), FLO_OK);
    return bad;
}

/* Rank 1 is late, not dead: everybody stays, and rebuilds. */
static void test_stall(void **state)
{
    int part[16], failed_it = -1;
    flo_comm *c = NULL, *c2 = NULL;
    flo_status why = FLO_OK, st;
    int none[1] = {0};
    long bad = 0;

    (void)state;
    for (int r = 0; r < nranks; r++)
        part[r] = alive[r] = 1;
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    /* Up to collective K: everyone stops there (rank 1 may see its own
     * succeed, and must not start the next one alone). Over NCCL rank
     * 1's collective K may complete with undefined contents (see the
     * top): its values are not checked. */
    if (gpu_mode && rank == 1)
        unchecked_it = K;
    bad += loop(c, part, 0, K + 1, -1, false, &failed_it, &why);
    unchecked_it = -1;
    /* The others timed out waiting for rank 1; rank 1 itself may have
     * found its collective completed by their abandoned ones, or (NCCL)
     * failed after its own timeout (see the top). */
    if (rank != 1)
        bad += check_failed(c, failed_it, why, true);
    else if (gpu_mode && failed_it != -1)
        bad += check_failed(c, failed_it, why, false);
    else
        bad += failed_it != -1 && failed_it != K;
    if (gpu_mode)
        MPI_Barrier(MPI_COMM_WORLD); /* Rank 1 failed later. */
    st = flo_comm_shrink(c, none, 0, &c2);
    if (st != FLO_OK) {
        fprintf(stderr, "rank %d: rebuild: %s\n", rank, flo_status_str(st));
        bad++;
    } else {
        bad += flo_comm_nranks(c2) != nranks;
        bad += flo_comm_rank(c2) != rank;
        /* K collectives, fewer than the rule's nth: the rule counts the
         * collectives of each communicator, c2's too. */
        bad += loop(c2, part, K, 2 * K, -1, false, &failed_it, &why);
        bad += failed_it != -1;
        if (gpu_mode)
            bad += rebuild_healthy(c2, part);
        assert_int_equal(flo_comm_destroy(c2), FLO_OK);
    }
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    /* Abandoned requests (completed late, but MPI may not know yet). */
    unclean = 1;
    assert_int_equal(survivors_sum(bad), 0);
}

/* Rank 0 alone in a collective whose timeout (600 s) the test would not
 * survive: only flo_comm_abort can end it. */
static void test_abort(void **state)
{
    int32_t v[N];
    long codes[3] = {0, 0, 0};
    flo_comm *c;
    flo_data h;
    flo_event ev;

    (void)state;
    for (int i = 0; i < N; i++)
        v[i] = 1;
    for (int r = 0; r < nranks; r++)
        alive[r] = 1;
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    assert_int_equal(flo_data_register(rt, v, sizeof(v), &h), FLO_OK);
    if (rank == 0) {
        codes[0] = flo_coll_allreduce(c, &h, &h, N, FLO_I32, FLO_SUM, &ev);
        /* Give the task time to reach its MPI wait, the case this test
         * is for; an abort before it starts gives the same outcome. */
        usleep(200 * 1000);
        codes[1] = flo_comm_abort(c);
        if (codes[0] == FLO_OK)
            codes[0] = flo_event_wait(rt, ev);
        codes[2] = flo_comm_status(c, NULL, 0);
        (void)flo_wait_all(rt);
    }
    MPI_Bcast(codes, 3, MPI_LONG, 0, MPI_COMM_WORLD);
    /* Rank 0's request, if it reached MPI, stays abandoned: the others
     * cannot know whether to complete it. */
    unclean = 1;
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    if (gpu_mode && rank == 0 && codes[0] != FLO_ECOMM)
        fprintf(stderr, "abort over NCCL: the collective's event: %s\n",
                flo_status_str((flo_status)codes[0]));
    assert_int_equal(codes[0], FLO_ECOMM);
    assert_int_equal(codes[1], FLO_OK);
    assert_int_equal(codes[2], FLO_ECOMM);
}

/* The last rank dies between iterations K - 1 and K; the survivors
 * exclude it from their communicator at once: a healthy one, or (broken)
 * one that an injected error at collective K broke (over NCCL: without
 * aborting its NCCL communicators, so that the shrink is
 * ncclCommShrink with NCCL_SHRINK_ABORT). */
static void run_exclude(bool broken)
{
    int part[16], failed_it = -1, victim = nranks - 1, newrank = 0;
    flo_comm *c = NULL, *c2 = NULL;
    flo_status why = FLO_OK, st;
    char msg[256];
    long bad = 0;

    for (int r = 0; r < nranks; r++)
        part[r] = alive[r] = 1;
    assert_int_equal(flo_comm_create(rt, &c), FLO_OK);
    bad += loop(c, part, 0, K, -1, false, &failed_it, &why);
    bad += failed_it != -1;
    if (rank == victim)
        kill(getpid(), SIGKILL);
    alive[victim] = part[victim] = 0;
    if (broken) {
        /* The error fails it at once (no timeout): FLO_ECOMM. */
        bad += loop(c, part, K, K + 1, -1, false, &failed_it, &why);
        bad += failed_it != K;
        bad += why != FLO_ECOMM;
        bad += flo_comm_status(c, msg, sizeof(msg)) != FLO_ECOMM;
        bad += strstr(msg, "injected error") == NULL;
        if (bad != 0)
            fprintf(stderr, "rank %d: injected error: iteration %d, %s; %s\n",
                    rank, failed_it, flo_status_str(why), msg);
        /* The rule would fire on the shrunk communicator too. */
        assert_int_equal(flo_fault_clear(rt), FLO_OK);
    } else {
        /* Nothing failed: c is healthy until the shrink replaces it. */
        bad += flo_comm_status(c, NULL, 0) != FLO_OK;
    }
    st = flo_comm_shrink(c, &victim, 1, &c2);
    if (st != FLO_OK) {
        fprintf(stderr, "rank %d: flo_comm_shrink: %s\n", rank,
                flo_status_str(st));
        bad++;
    } else {
        for (int r = 0; r < rank; r++)
            newrank += alive[r];
        bad += flo_comm_nranks(c2) != nranks - 1;
        bad += flo_comm_rank(c2) != newrank;
        bad += flo_comm_size(c2) != nranks - 1;
        bad += strcmp(flo_comm_transport(c2), flo_comm_transport(c)) != 0;
        bad += flo_comm_status(c2, NULL, 0) != FLO_OK;
        bad += flo_comm_status(c, msg, sizeof(msg)) != FLO_ECOMM;
        bad +=
            strstr(msg, broken ? "injected error" : "flo_comm_shrink") == NULL;
        bad += loop(c2, part, K, ITERS, -1, false, &failed_it, &why);
        if (failed_it != -1) {
            fprintf(stderr, "rank %d: shrunk loop failed at %d: %s\n", rank,
                    failed_it, flo_status_str(why));
            bad++;
        }
        assert_int_equal(flo_comm_destroy(c2), FLO_OK);
    }
    assert_int_equal(flo_comm_destroy(c), FLO_OK);
    assert_int_equal(survivors_sum(bad), 0);
}

static void test_exclude(void **state)
{
    (void)state;
    run_exclude(false);
}

static void test_exclude_broken(void **state)
{
    (void)state;
    run_exclude(true);
}

/* GPU mode, after flo_init (st; rt on success): every rank has its GPU
 * and the communicators are NCCL (0), or not: then every rank finalises
 * its runtime and MPI, rank 0 prints a TAP skip (1: a rank without a GPU;
 * 2: no NCCL) or a failure (3: another error of flo_init or of
 * flo_comm_create), and the result is returned. Collective over
 * MPI_COMM_WORLD. */
static int gpu_ready(flo_status st)
{
    int why = st == FLO_OK ? 0 : st == FLO_ENODEV || st == FLO_ENOTSUP ? 1 : 3;
    flo_status fail = st;

    MPI_Allreduce(MPI_IN_PLACE, &why, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (why == 0) {
        /* Every rank has a GPU: is the transport NCCL? (The ranks agree
         * on it, so every rank sees the same.) */
        flo_comm *c = NULL;
        fail = flo_comm_create(rt, &c);
        if (fail != FLO_OK)
            why = 3;
        else if (strcmp(flo_comm_transport(c), "nccl") != 0)
            why = 2;
        if (c != NULL && flo_comm_destroy(c) != FLO_OK)
            why = 3;
        MPI_Allreduce(MPI_IN_PLACE, &why, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    }
    if (why == 0)
        return 0;
    if (st == FLO_OK)
        (void)flo_finalize(rt);
    if (rank == 0) {
        if (why == 1)
            printf("1..0 # SKIP GPU mode needs a GPU for each of the %d "
                   "ranks (flo_init failed with FLO_ENODEV or FLO_ENOTSUP "
                   "on some rank)\n",
                   nranks);
        else if (why == 2)
            printf("1..0 # SKIP GPU mode needs NCCL (this build or these "
                   "GPUs use the host transport)\n");
        else
            printf("1..1\nnot ok 1 - GPU mode: flo_init or flo_comm_create "
                   "failed on some rank (rank 0: %s)\n",
                   flo_status_str(fail));
    }
    MPI_Finalize();
    return why;
}

int main(int argc, char **argv)
{
    flo_config cfg = FLO_CONFIG_INIT;
    int provided = 0, rc, died;
    char faults[128] = "";
    const char *recovery = getenv("FLO__TEST_MPI_RECOVERY");
    const char *gpu = getenv("FLO__TEST_MPI_GPU");
    struct CMUnitTest t = {0};
    flo_status st;

    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rank != 0 && freopen("/dev/null", "w", stdout) == NULL)
        return 1;
    mode = argc > 1 ? argv[1] : "";
    gpu_mode = gpu != NULL && strcmp(gpu, "1") == 0;
    if (nranks < 2 || nranks > 16 || recovery == NULL ||
        strcmp(recovery, "1") != 0) {
        if (rank == 0)
            printf("1..0 # SKIP needs 2 to 16 ranks under an mpirun that lets "
                   "the survivors of a rank run (FLO__TEST_MPI_RECOVERY=1)\n");
        MPI_Finalize();
        return 0;
    }
    /* One GPU per rank (cfg.gpus: of those the runtime gives this rank
     * on its node), or the host. */
    cfg.devices = gpu_mode ? FLO_DEVICES_CUDA : FLO_DEVICES_HOST;
    cfg.gpus = gpu_mode ? 1 : 0;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.ignore_env = 1;
    cfg.mpi_comm = flo_mpi_comm_wrap(MPI_COMM_WORLD);
    /* Short, so that a dead rank is found quickly; the abort test's is
     * longer than the test may run. */
    cfg.coll_timeout_s = strcmp(mode, "abort") == 0 ? 600.0 : 3.0;
    if (strcmp(mode, "kill") == 0) {
        t = (struct CMUnitTest)cmocka_unit_test(test_kill);
    } else if (strcmp(mode, "kill-shrink") == 0) {
        t = (struct CMUnitTest)cmocka_unit_test(test_kill_shrink);
    } else if (strcmp(mode, "drop-detect") == 0) {
        t = (struct CMUnitTest)cmocka_unit_test(test_drop_detect);
        /* The victim's collective K (1-based: K + 1) ends its process. */
        snprintf(faults, sizeof(faults), "coll:rank=%d,nth=%d,action=drop",
                 nranks - 1, K + 1);
    } else if (strcmp(mode, "stall") == 0) {
        t = (struct CMUnitTest)cmocka_unit_test(test_stall);
        /* Longer than the timeout, shorter than the timeout of the
         * rebuild's rounds that wait for rank 1 after it. */
        snprintf(faults, sizeof(faults),
                 "coll:rank=1,nth=%d,action=stall,ms=4000", K + 1);
    } else if (strcmp(mode, "abort") == 0) {
        t = (struct CMUnitTest)cmocka_unit_test(test_abort);
    } else if (strcmp(mode, "exclude") == 0) {
        t = (struct CMUnitTest)cmocka_unit_test(test_exclude);
    } else if (strcmp(mode, "exclude-broken") == 0) {
        t = (struct CMUnitTest)cmocka_unit_test(test_exclude_broken);
        /* The survivors' collective K (the victim is dead by then). */
        snprintf(faults, sizeof(faults), "coll:nth=%d,action=error", K + 1);
    } else {
        if (rank == 0)
            fprintf(stderr, "unknown scenario '%s'\n", mode);
        MPI_Finalize();
        return 1;
    }
    if (faults[0] != '\0')
        cfg.faults = faults;
    st = flo_init(&cfg, &rt);
    if (gpu_mode) {
        int why = gpu_ready(st);
        if (why != 0)
            return why == 3;
    }
    if (st != FLO_OK) {
        if (rank == 0)
            printf("1..0 # SKIP flo_init with MPI failed: %s\n",
                   flo_status_str(st));
        MPI_Finalize();
        return st == FLO_ENOTSUP ? 0 : 1;
    }
    rc = _cmocka_run_group_tests("collectives_resilience_mpi", &t, 1, NULL,
                                 NULL);
    if (flo_finalize(rt) != FLO_OK)
        rc++;
    died = 0;
    for (int r = 0; r < nranks; r++)
        died += !alive[r];
    if (died == 0 && !unclean) {
        MPI_Finalize();
        return rc;
    }
    /* A rank died: Open MPI's MPI_Finalize would wait for it forever
     * (and an abandoned request may keep it waiting too).
     * rank 0's TAP carries the result; the exit code is for the log. */
    fflush(stdout);
    fflush(stderr);
    _exit(rc != 0);
}
