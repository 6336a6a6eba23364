/*
 * collectives_gpu: NCCL collectives and the cross-device scan on the GPUs
 * present (one GPU still makes a one-rank NCCL communicator), and logical
 * GPUs sharing one card, which NCCL cannot serve (the host transport
 * takes them). Every operation, type and operator is checked against the
 * reference. Without a GPU it prints the TAP plan "1..0 # SKIP" and
 * exits 0, which meson reports as SKIP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    };
    rc = cmocka_run_group_tests_name("collectives_gpu", tests, NULL, NULL);
    if (flo_finalize(rt) != FLO_OK)
        rc++;
    return rc;
}
