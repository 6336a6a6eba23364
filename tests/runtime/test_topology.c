/*
 * runtime_topology: the hwloc topology probe on synthetic machines
 * (white-box).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/topology.h"
#include "tests/scheduler/testutil.h"

static void test_synthetic_counts(void **s)
{
    (void)s;
    static const struct {
        const char *desc;
        int ncores, npus, nnuma;
    } cases[] = {
        {"pack:2 core:4 pu:1", 8, 8, 1},
        {"pack:2 numa:2 core:4 pu:2", 16, 32, 4},
        {"pack:1 core:1 pu:1", 1, 1, 1},
        {"pack:4 numa:1 core:8 pu:2", 32, 64, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flo__topology t;
        memset(&t, 0, sizeof(t));
        assert_int_equal(flo__topology_load(&t, cases[i].desc), FLO_OK);
        assert_true(t.synthetic);
        assert_int_equal(t.ncores, cases[i].ncores);
        assert_int_equal(t.npus, cases[i].npus);
        assert_int_equal(t.nnuma, cases[i].nnuma);
        /* Cores are numbered in NUMA order: NUMA index never decreases
         * and each node has the same number of cores. */
        int per = cases[i].ncores / cases[i].nnuma;
        for (int c = 0; c < t.ncores; c++)
            assert_int_equal(t.core_numa[c], c / per);
        /* Binding is skipped on synthetic machines. */
        assert_int_equal(flo__topology_bind_core(&t, 0), FLO_ENOTSUP);
        /* The first PU of each core. */
        int pus_per_core = cases[i].npus / cases[i].ncores;
        for (int c = 0; c < t.ncores; c++)
            assert_int_equal(flo__topology_core_os_index(&t, c),
                             c * pus_per_core);
        assert_int_equal(flo__topology_core_os_index(&t, t.ncores), -1);
        assert_int_equal(flo__topology_core_os_index(&t, -1), -1);
        flo__topology_destroy(&t);
    }
}

static void test_claim_cores(void **s)
{
    (void)s;
    flo__topology t;
    bool seen[16];
    memset(&t, 0, sizeof(t));
    memset(seen, 0, sizeof(seen));
    assert_int_equal(flo__topology_load(&t, "pack:2 numa:2 core:4 pu:1"),
                     FLO_OK);
    assert_int_equal(t.ncores, 16);

    /* Near NUMA node 1 of package 0 (cores 4..7): those come first. */
    hwloc_obj_t numa = hwloc_get_obj_by_type(t.topo, HWLOC_OBJ_NUMANODE, 1);
    assert_non_null(numa);
    for (int k = 0; k < 4; k++) {
        int c = flo__topology_claim_core(&t, numa->cpuset);
        assert_true(c >= 4 && c < 8);
        assert_false(seen[c]);
        seen[c] = true;
        assert_true(t.core_taken[c]);
    }
    /* The node is full: other cores are given out, each once. */
    for (int k = 0; k < 12; k++) {
        int c = flo__topology_claim_core(&t, numa->cpuset);
        assert_true(c >= 0 && c < 16);
        assert_false(seen[c]);
        seen[c] = true;
    }
    assert_int_equal(flo__topology_claim_core(&t, NULL), -1);
    assert_int_equal(flo__topology_claim_core(&t, numa->cpuset), -1);
    flo__topology_destroy(&t);

    /* Without a preference: every core once, core 0 last. */
    memset(&t, 0, sizeof(t));
    memset(seen, 0, sizeof(seen));
    assert_int_equal(flo__topology_load(&t, "pack:1 core:6 pu:1"), FLO_OK);
    int last = -1;
    for (int k = 0; k < 6; k++) {
        int c = flo__topology_claim_core(&t, NULL);
        assert_true(c >= 0 && c < 6);
        assert_false(seen[c]);
        seen[c] = true;
        last = c;
    }
    assert_int_equal(last, 0);
    assert_int_equal(flo__topology_claim_core(&t, NULL), -1);
    flo__topology_destroy(&t);
}

static void test_invalid_and_real(void **s)
{
    (void)s;
    flo__topology t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(flo__topology_load(&t, "pack:two"), FLO_EINVAL);
    assert_null(t.topo);
    assert_null(t.core_numa);
    /* Destroying a failed load is harmless. */
    flo__topology_destroy(&t);

    /* The real machine loads and has at least one core. */
    memset(&t, 0, sizeof(t));
    assert_int_equal(flo__topology_load(&t, NULL), FLO_OK);
    assert_false(t.synthetic);
    assert_true(t.ncores >= 1);
    assert_true(t.npus >= t.ncores);
    assert_true(t.nnuma >= 1);
    assert_int_equal(flo__topology_bind_core(&t, -1), FLO_ENOTSUP);
    assert_int_equal(flo__topology_bind_core(&t, t.ncores), FLO_ENOTSUP);
    flo__topology_destroy(&t);
}

int main(void)
{
    flot_apply_filter();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_counts),
        cmocka_unit_test(test_claim_cores),
        cmocka_unit_test(test_invalid_and_real),
    };
    return cmocka_run_group_tests_name("runtime_topology", tests, NULL, NULL);
}
