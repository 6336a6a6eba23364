/*
 * Flotilla tests - identifiers never alias.
 *
 * Handles and events carry a 64-bit slot generation and a 40-bit runtime
 * serial. The limits they replace (24-bit generations, 16-bit serials)
 * took 2^24 cycles or 65,536 runtimes to reach; the test hooks
 * FLO__TEST_GEN_BASE and FLO__TEST_SERIAL_NEXT (docs/architecture.md)
 * start the counters just below those limits so that crossing them takes
 * a handful of cycles. Values a stale handle would have had under the old
 * encodings (the generation modulo 2^24 or 2^32) are also forged and
 * must be refused.
 */
#include "testutil.h"

static atomic_int nop_runs;
static void k_nop(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_fetch_add(&nop_runs, 1);
}
static const flo_kernel knop = {"nop", k_nop, NULL};

static flo_runtime *rt_with_gen_base(uint64_t base)
{
    char v[32];
    flo_runtime *rt;
    snprintf(v, sizeof(v), "%llu", (unsigned long long)base);
    setenv("FLO__TEST_GEN_BASE", v, 1);
    rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    unsetenv("FLO__TEST_GEN_BASE");
    return rt;
}

/* Register/unregister on one slot across the 2^24 and 2^32 generation
 * boundaries: every old handle stays stale, the live one works. */
static void check_data_wrap(uint64_t base)
{
    flo_runtime *rt = rt_with_gen_base(base);
    enum { N = 12 };
    flo_data old[N];
    int64_t x = 5;
    size_t sz;
    assert_non_null(rt);
    for (int i = 0; i < N; i++) {
        assert_int_equal(flo_data_register(rt, &x, sizeof(x), &old[i]), FLO_OK);
        assert_int_equal(flo_data_unregister(rt, old[i]), FLO_OK);
    }
    flo_data live;
    assert_int_equal(flo_data_register(rt, &x, sizeof(x), &live), FLO_OK);
    for (int i = 0; i < N; i++) {
        /* Same slot (the free list is LIFO), later generation. */
        assert_true(old[i].id == live.id);
        assert_false(flo_data_equal(old[i], live));
        assert_int_equal(flo_data_size(rt, old[i], &sz), FLO_ESTALE);
    }
    /* Forged: what a stale handle looked like under 24- and 32-bit
     * generations, and a generation never issued. */
    flo_data f = live;
    f.gen = live.gen - (UINT64_C(1) << 24);
    assert_int_equal(flo_data_size(rt, f, &sz), FLO_ESTALE);
    f.gen = live.gen - (UINT64_C(1) << 32);
    assert_int_equal(flo_data_size(rt, f, &sz), FLO_ESTALE);
    f.gen = live.gen + (UINT64_C(1) << 24);
    assert_int_equal(flo_data_size(rt, f, &sz), FLO_ESTALE);
    assert_int_equal(flo_data_size(rt, live, &sz), FLO_OK);
    assert_int_equal(sz, sizeof(x));
    /* A stale handle in a task is refused and changes nothing. */
    flo_access_desc acc = {old[N - 1], FLO_READ_WRITE};
    atomic_store(&nop_runs, 0);
    assert_int_equal(flot_submit(rt, &knop, &acc, 1, NULL, 0, NULL),
                     FLO_ESTALE);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(atomic_load(&nop_runs), 0);
    assert_int_equal(flo_data_unregister(rt, live), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_data_generation_wrap(void **s)
{
    (void)s;
    check_data_wrap((UINT64_C(1) << 24) - 5);
    check_data_wrap((UINT64_C(1) << 32) - 5);
    check_data_wrap(UINT64_MAX / 2);
}

static void k_gate(flo_task_ctx *ctx)
{
    atomic_int *gate = *(atomic_int *const *)flo_task_args(ctx, NULL);
    while (!atomic_load(gate))
        flot_sleep_us(50);
}
static const flo_kernel kgate = {"gate", k_gate, NULL};

/* Events across the 2^24 / 2^25 / 2^32 generation boundaries: an old
 * event reads as finished, never as the unrelated task now in its
 * record; a task depending on it does not wait for that task. */
static void check_event_wrap(uint64_t base)
{
    flo_runtime *rt = rt_with_gen_base(base);
    flo_event first, ev;
    atomic_int gate = 0;
    atomic_int *gp = &gate;
    assert_non_null(rt);
    atomic_store(&nop_runs, 0);
    assert_int_equal(flot_submit(rt, &knop, NULL, 0, NULL, 0, &first), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    /* Recycle the records a few times over. */
    for (int i = 0; i < 4 * 256 * 4; i++)
        assert_int_equal(flot_submit(rt, &knop, NULL, 0, NULL, 0, &ev), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    /* A gate task holds some record while it waits. */
    flo_event g;
    assert_int_equal(flot_submit(rt, &kgate, NULL, 0, &gp, sizeof(gp), &g),
                     FLO_OK);
    assert_int_equal(flo_event_query(rt, g), FLO_INPROGRESS);
    /* Old events of every record, the gate's included, are finished. */
    assert_int_equal(flo_event_query(rt, first), FLO_OK);
    static const unsigned shifts[] = {24, 25, 32};
    flo_event forged = g;
    for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
        uint64_t back = UINT64_C(1) << shifts[i];
        if (g.gen < back)
            continue; /* The counter started above; nothing to forge. */
        forged.gen = g.gen - back;
        assert_int_equal(flo_event_query(rt, forged), FLO_OK);
        /* A task after such an old event runs while the gate waits. */
        flo_task_desc d = FLO_TASK_DESC_INIT;
        flo_event after;
        d.kernel = &knop;
        d.deps = &forged;
        d.ndeps = 1;
        assert_int_equal(flo_task_submit(rt, &d, &after), FLO_OK);
        assert_int_equal(flot_wait_timeout(rt, after, 30000), FLO_OK);
        assert_int_equal(flo_event_query(rt, g), FLO_INPROGRESS);
    }
    /* A generation not issued yet is no event of this runtime. */
    forged.gen = g.gen + 1000;
    assert_int_equal(flo_event_query(rt, forged), FLO_EINVAL);
    atomic_store(&gate, 1);
    assert_int_equal(flo_event_wait(rt, g), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

static void test_event_generation_wrap(void **s)
{
    (void)s;
    check_event_wrap((UINT64_C(1) << 24) - 700);
    check_event_wrap((UINT64_C(1) << 25) - 700);
    check_event_wrap((UINT64_C(1) << 32) - 700);
    check_event_wrap((UINT64_C(1) << 33) + 5);
}

/* A runtime created 2^16 (or 2^24, 2^32) serials after a live one does
 * not accept its handles: the old 16-bit serial made it do so after
 * 65,536 flo_init calls. */
static void test_serial_wrap(void **s)
{
    (void)s;
    static const uint64_t steps[] = {UINT64_C(1) << 16, UINT64_C(1) << 24,
                                     UINT64_C(1) << 32};
    flo_runtime *a = flot_rt(FLO_SCHED_DEFAULT, 1);
    int64_t x = 1;
    flo_data ha;
    flo_event ea;
    size_t sz;
    assert_non_null(a);
    assert_int_equal(flo_data_register(a, &x, sizeof(x), &ha), FLO_OK);
    assert_int_equal(flot_submit(a, &knop, NULL, 0, NULL, 0, &ea), FLO_OK);
    uint64_t serial = ha.id >> 24;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char v[32];
        flo_runtime *b;
        flo_data hb;
        snprintf(v, sizeof(v), "%llu", (unsigned long long)(serial + steps[i]));
        setenv("FLO__TEST_SERIAL_NEXT", v, 1);
        b = flot_rt(FLO_SCHED_DEFAULT, 1);
        unsetenv("FLO__TEST_SERIAL_NEXT");
        assert_non_null(b);
        assert_int_equal(flo_data_register(b, &x, sizeof(x), &hb), FLO_OK);
        assert_int_equal(flo_data_size(b, ha, &sz), FLO_EFOREIGN);
        assert_int_equal(flo_data_size(a, hb, &sz), FLO_EFOREIGN);
        assert_int_equal(flo_event_query(b, ea), FLO_EFOREIGN);
        flo_access_desc acc = {ha, FLO_READ};
        assert_int_equal(flot_submit(b, &knop, &acc, 1, NULL, 0, NULL),
                         FLO_EFOREIGN);
        assert_int_equal(flo_data_unregister(b, hb), FLO_OK);
        assert_int_equal(flo_finalize(b), FLO_OK);
    }
    assert_int_equal(flo_data_size(a, ha, &sz), FLO_OK);
    assert_int_equal(flo_data_unregister(a, ha), FLO_OK);
    assert_int_equal(flo_finalize(a), FLO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_generation_wrap),
        cmocka_unit_test(test_event_generation_wrap),
        cmocka_unit_test(test_serial_wrap),
    };
    flot_clear_env();
    flot_apply_filter();
    return cmocka_run_group_tests_name("scheduler_ids", tests, NULL, NULL);
}
