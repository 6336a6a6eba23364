/*
 * gpu suite - lineage replay (docs/resilience.md, scheduler/lineage.c):
 * data whose only copy was on a lost logical GPU is recomputed by running
 * again the tasks that wrote it, without write-through.
 *
 * The graphs are partitioned: three groups of handles, each worked on by
 * tasks placed on its own logical GPU (CUDA entry points only, so the
 * host memory keeps the registration's contents), each task updating
 * one handle of its group from up to two others of the same group. When
 * GPU 2 goes, every handle of its group survives nowhere; its lineage
 * holds every writer since registration, and what they read is in the
 * same group: all of it is recomputed, and the final data equals the
 * sequential reference bit for bit. Cases: the device disabled between
 * two halves; disabled from another thread in the middle of the run,
 * once a given task of its group has finished (also with write-through
 * at rest, where the lineage covers what had not reached the host);
 * a lineage too short to reach the registration (the data is lost:
 * FLO_EDATALOSS); and an unpartitioned random graph with a device rule,
 * where some writers read versions overwritten since (recomputed, or
 * FLO_EDATALOSS, never a wrong result or a hang).
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cuda_test_util.h"
#include "tests/scheduler/resil_dag.h"

#define NG 3  /* Groups, one per logical GPU. */
#define HG 16 /* Handles per group. */
#define NH (NG * HG)
#define NT 6000 /* Tasks, NT / NG per group. */

static const flo_kernel k_rd_gpu = {"rd", NULL, flo_test_cuda_rd};

static flo_runtime *start_wt(int lineage, int write_through, const char *faults)
{
    flo_config cfg = flo_test_gpu_config(NG);
    flo_runtime *rt = NULL;
    cfg.lineage = lineage;
    cfg.write_through = write_through;
    cfg.faults = faults;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    return rt;
}

static flo_runtime *start(int lineage, const char *faults)
{
    return start_wt(lineage, FLO_WRITE_THROUGH_OFF, faults);
}

typedef struct part_run {
    rd_task *t;
    int *group; /* Task i's group (its logical GPU is group + 1). */
    uint64_t *ref, *mem;
    flo_data h[NH];
} part_run;

/* A partitioned graph: task i belongs to group i % NG and names handles
 * of that group only. */
static void part_begin(flo_runtime *rt, part_run *r, uint64_t seed)
{
    r->t = malloc(sizeof(rd_task) * NT);
    r->group = malloc(sizeof(int) * NT);
    r->ref = malloc(sizeof(uint64_t) * NH * RD_NE);
    r->mem = malloc(sizeof(uint64_t) * NH * RD_NE);
    assert_non_null(r->t);
    assert_non_null(r->group);
    assert_non_null(r->ref);
    assert_non_null(r->mem);
    rd_make(r->t, NT, HG, seed);
    for (int i = 0; i < NT; i++) {
        int g = i % NG;
        r->group[i] = g;
        r->t[i].out += g * HG;
        for (int k = 0; k < r->t[i].nin; k++)
            r->t[i].in[k] += g * HG;
    }
    rd_reference(r->ref, r->t, NT, NH);
    for (int i = 0; i < NH; i++) {
        rd_init(r->mem + (size_t)i * RD_NE, i);
        assert_int_equal(flo_data_register(rt, r->mem + (size_t)i * RD_NE,
                                           RD_NE * sizeof(uint64_t), &r->h[i]),
                         FLO_OK);
    }
}

static flo_status part_submit(flo_runtime *rt, part_run *r, int i,
                              flo_event *ev)
{
    const rd_task *t = &r->t[i];
    flo_access_desc acc[3];
    rd_args a = {t->mul, t->add, t->nin};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    acc[0].data = r->h[t->out];
    acc[0].mode = FLO_READ_WRITE;
    for (int k = 0; k < t->nin; k++) {
        acc[1 + k].data = r->h[t->in[k]];
        acc[1 + k].mode = FLO_READ;
    }
    d.kernel = &k_rd_gpu;
    d.access = acc;
    d.naccess = 1 + t->nin;
    d.args = &a;
    d.args_size = sizeof(a);
    d.on_device = FLO_DEVICE(1 + r->group[i]);
    return flo_task_submit(rt, &d, ev);
}

/* Unregister (the data comes home), compare every group but `lost` (-1:
 * none) with the reference, free. */
static void part_end(flo_runtime *rt, part_run *r, int lost)
{
    for (int i = 0; i < NH; i++)
        assert_int_equal(flo_data_unregister(rt, r->h[i]), FLO_OK);
    for (int g = 0; g < NG; g++) {
        size_t off = (size_t)g * HG * RD_NE;
        if (g != lost)
            assert_memory_equal(r->mem + off, r->ref + off,
                                sizeof(uint64_t) * HG * RD_NE);
    }
    free(r->t);
    free(r->group);
    free(r->ref);
    free(r->mem);
}

static void print_stats(const char *what, flo_status st, const flo_stats *s)
{
    printf("# %s: %s, %llu moved, %llu run again, %llu recomputed, %llu "
           "handles lost\n",
           what, flo_status_str(st), (unsigned long long)s->replaced,
           (unsigned long long)s->reexecuted, (unsigned long long)s->recomputed,
           (unsigned long long)s->data_lost);
    fflush(stdout);
}

/* flo_device_disable returns before the lost device's worker has handed
 * its data back: wait for that (flo_stats.recovery_ns is set at its
 * end), so that the second half finds the data lost rather than still
 * readable on the disabled device. Bounded: a worker that never does it
 * fails the test. */
static void wait_recovered(flo_runtime *rt)
{
    flo_stats s;
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 60000; i++) {
        assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
        if (s.recovery_ns > 0)
            return;
        nanosleep(&ms, NULL);
    }
    fail_msg("the lost device's data was not handed back within 60 s");
}

/* The first half of the partitioned graph, GPU 2 disabled once it has
 * finished (and its data handed back), then the second half: the final
 * status, and the statistics in *s. */
static flo_status two_halves(flo_runtime *rt, part_run *r, uint64_t seed,
                             const char *label, flo_stats *s)
{
    part_begin(rt, r, seed);
    for (int i = 0; i < NT / 2; i++)
        assert_int_equal(part_submit(rt, r, i, NULL), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_device_disable(rt, 2), FLO_OK);
    wait_recovered(rt);
    for (int i = NT / 2; i < NT; i++)
        assert_int_equal(part_submit(rt, r, i, NULL), FLO_OK);
    flo_status st = flo_wait_all(rt);
    assert_int_equal(flo_stats_get(rt, s), FLO_OK);
    print_stats(label, st, s);
    return st;
}

/* GPU 2 disabled between the halves: its group was written there only
 * (some 60 versions per handle, from the registration's contents). */
static void test_between_halves(void **state)
{
    (void)state;
    flo_runtime *rt = start(256, NULL);
    part_run r;
    flo_stats s;
    flo_status st = two_halves(rt, &r, 101, "between halves", &s);
    assert_int_equal(st, FLO_OK);
    assert_int_equal(s.devices_lost, 1);
    assert_int_equal(s.data_lost, 0);
    /* Every write of group 1 in the first half ran again: NT / 2 / NG. */
    assert_int_equal(s.recomputed, NT / 2 / NG);
    part_end(rt, &r, -1);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* flo_device_disable from another thread while the graph runs, once a
 * given task of group 1 (GPU 2's) has finished: what that task wrote
 * lives on GPU 2 only, so something must be recomputed, whatever the
 * threads' timing. */
typedef struct dis {
    flo_runtime *rt;
    flo_event trigger;
    atomic_int ready; /* Set (release) once trigger is written. */
    flo_status wait_st, st;
} dis;

static void *disabler(void *arg)
{
    dis *d = arg;
    while (!atomic_load_explicit(&d->ready, memory_order_acquire))
        sched_yield();
    d->wait_st = flo_event_wait(d->rt, d->trigger);
    d->st = flo_device_disable(d->rt, 2);
    return NULL;
}

/* The disabler against the graph (write-through mode wt, with the
 * lineage it turns on). */
static void midrun(int lineage, int wt, const char *label)
{
    for (int rep = 0; rep < 3; rep++) {
        flo_runtime *rt = start_wt(lineage, wt, NULL);
        part_run r;
        flo_stats s;
        pthread_t th;
        dis d = {rt, FLO_EVENT_NULL, 0, FLO_EINTERNAL, FLO_EINTERNAL};
        /* A task of group 1 a quarter, half, three quarters in. */
        int trigger = (rep + 1) * NT / 4 / NG * NG + 1;
        part_begin(rt, &r, 200 + (uint64_t)rep);
        assert_int_equal(pthread_create(&th, NULL, disabler, &d), 0);
        for (int i = 0; i < NT; i++) {
            assert_int_equal(
                part_submit(rt, &r, i, i == trigger ? &d.trigger : NULL),
                FLO_OK);
            if (i == trigger)
                atomic_store_explicit(&d.ready, 1, memory_order_release);
        }
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(d.wait_st, FLO_OK);
        assert_int_equal(d.st, FLO_OK);
        flo_status st = flo_wait_all(rt);
        assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
        print_stats(label, st, &s);
        assert_int_equal(st, FLO_OK);
        assert_int_equal(s.devices_lost, 1);
        assert_int_equal(s.data_lost, 0);
        if (wt == FLO_WRITE_THROUGH_OFF)
            assert_true(s.recomputed > 0);
        part_end(rt, &r, -1);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

static void test_midrun(void **state)
{
    (void)state;
    midrun(512, FLO_WRITE_THROUGH_OFF, "mid-run");
}

/* Write-through at rest: the versions at rest reached the host, the
 * others are recomputed from the lineage it keeps (the default one). */
static void test_midrun_rest(void **state)
{
    (void)state;
    midrun(0, FLO_WRITE_THROUGH_REST, "mid-run, write-through at rest");
}

/* A lineage of 4 writers cannot reach back to the registration: group
 * 1's handles are lost, and the tasks that read them say so. */
static void test_too_short(void **state)
{
    (void)state;
    flo_runtime *rt = start(4, NULL);
    part_run r;
    flo_stats s;
    flo_status st = two_halves(rt, &r, 303, "lineage of 4", &s);
    assert_int_equal(st, FLO_EDATALOSS);
    assert_int_equal(s.data_lost, HG);
    assert_int_equal(s.recomputed, 0);
    /* The other groups are intact. */
    part_end(rt, &r, 1);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* An unpartitioned random graph (tests/scheduler/resil_dag.h) and a
 * device rule: recomputed where the lineage allows, else FLO_EDATALOSS. */
static void test_random(void **state)
{
    (void)state;
    for (int seed = 0; seed < 3; seed++) {
        flo_runtime *rt = start(1024, "device:dev=2,at_task=400");
        rd_task *t = malloc(sizeof(rd_task) * NT);
        uint64_t *ref = malloc(sizeof(uint64_t) * NH * RD_NE);
        uint64_t *mem = malloc(sizeof(uint64_t) * NH * RD_NE);
        flo_data h[NH];
        flo_stats s;
        assert_non_null(t);
        assert_non_null(ref);
        assert_non_null(mem);
        rd_make(t, NT, NH, 400 + (uint64_t)seed);
        rd_reference(ref, t, NT, NH);
        for (int i = 0; i < NH; i++) {
            rd_init(mem + (size_t)i * RD_NE, i);
            assert_int_equal(flo_data_register(rt, mem + (size_t)i * RD_NE,
                                               RD_NE * sizeof(uint64_t), &h[i]),
                             FLO_OK);
        }
        for (int i = 0; i < NT; i++)
            assert_int_equal(rd_submit(rt, &k_rd_gpu, h, &t[i], 0, NULL),
                             FLO_OK);
        flo_status st = flo_wait_all(rt);
        assert_int_equal(flo_stats_get(rt, &s), FLO_OK);
        print_stats("random graph", st, &s);
        assert_int_equal(s.devices_lost, 1);
        assert_true(st == FLO_OK || st == FLO_EDATALOSS);
        if (st == FLO_EDATALOSS)
            assert_true(s.data_lost > 0);
        for (int i = 0; i < NH; i++)
            assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
        if (st == FLO_OK)
            assert_memory_equal(mem, ref, sizeof(uint64_t) * NH * RD_NE);
        free(t);
        free(ref);
        free(mem);
        assert_int_equal(flo_finalize(rt), FLO_OK);
    }
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_between_halves), cmocka_unit_test(test_midrun),
        cmocka_unit_test(test_midrun_rest),    cmocka_unit_test(test_too_short),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests_name("device_cuda_lineage", tests, NULL,
                                       NULL);
}
