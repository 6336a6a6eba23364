/*
 * flo-demo, part 2: transform -> reduce -> scan over one array spread
 * across every device present (every GPU, or the host workers when there
 * is none), checked against a host computation.
 *
 *   y = 2 x + y          flo_array_transform (FLO_XF_AXPY)
 *   s = sum(y)           flo_array_reduce_sync (FLO_SUM)
 *   z = inclusive scan   flo_array_scan_sync (FLO_SUM)
 *
 * The data are small integers stored as doubles, so every sum is exact
 * whatever the order, and the check is bit for bit. GB/s counts the bytes
 * each step must move at least (axpy 3n, reduce n, scan 2n elements); the
 * per-device figure is that device's share of the bytes over the step's
 * wall time (devices work concurrently).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <flotilla.h>

int flo_demo_algorithms(flo_runtime *rt, uint64_t n);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_step(const char *name, flo_array *a, double bytes_per_el,
                       double secs)
{
    uint64_t n = flo_array_size(a);
    printf("    %-8s %9.3f ms  %8.2f GB/s total\n", name, 1e3 * secs,
           secs > 0 ? 1e-9 * bytes_per_el * (double)n / secs : 0.0);
    for (int b = 0; b < flo_array_nblocks(a); b++) {
        flo_array_block_info bi;
        if (flo_array_block(a, b, &bi) != FLO_OK || bi.count == 0)
            continue;
        printf("      block %d on device %d: %12" PRIu64
               " elements, %8.2f GB/s\n",
               b, bi.device, bi.count,
               secs > 0 ? 1e-9 * bytes_per_el * (double)bi.count / secs : 0.0);
    }
}

int flo_demo_algorithms(flo_runtime *rt, uint64_t n)
{
    double *x = malloc(n * sizeof(double));
    double *y = malloc(n * sizeof(double));
    double *z = malloc(n * sizeof(double));
    flo_array *ax = NULL, *ay = NULL, *az = NULL;
    double two = 2.0, sum = 0.0, ref_sum = 0.0, acc = 0.0, t0, t;
    flo_event ev;
    flo_status st;
    int rc = 1;

    if (x == NULL || y == NULL || z == NULL) {
        fprintf(stderr, "    out of host memory for %" PRIu64 " elements\n", n);
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        x[i] = (double)((int64_t)(i % 17) - 8);
        y[i] = (double)((int64_t)(i % 5) - 2);
    }
    st = flo_array_create_from_host(rt, FLO_F64, n, x, NULL, &ax);
    if (st == FLO_OK)
        st = flo_array_create_from_host(rt, FLO_F64, n, y, NULL, &ay);
    if (st == FLO_OK)
        st = flo_array_create(rt, FLO_F64, n, NULL, &az);
    if (st != FLO_OK) {
        fprintf(stderr, "    array: %s\n", flo_status_str(st));
        goto out;
    }
    printf("    %d block(s):", flo_array_nblocks(ax));
    for (int b = 0; b < flo_array_nblocks(ax); b++) {
        flo_array_block_info bi;
        flo_device_info di;
        if (flo_array_block(ax, b, &bi) == FLO_OK &&
            flo_device_get_info(rt, bi.device, &di) == FLO_OK)
            printf(" [%d: %s]", bi.device, di.name);
    }
    printf("\n");

    /* Move the inputs to their devices first (untimed): the runtime
     * copies a block where its first task runs. */
    if (flo_array_reduce_sync(ax, FLO_MAX, &t) != FLO_OK ||
        flo_array_reduce_sync(ay, FLO_MAX, &t) != FLO_OK ||
        flo_array_fill(az, &two, NULL) != FLO_OK ||
        flo_wait_all(rt) != FLO_OK) {
        fprintf(stderr, "    warm-up failed\n");
        goto out;
    }

    t0 = now_s();
    st = flo_array_transform(ay, FLO_XF_AXPY, ax, ay, &two, &ev);
    if (st == FLO_OK)
        st = flo_event_wait(rt, ev);
    t = now_s() - t0;
    if (st != FLO_OK)
        goto fail;
    print_step("axpy", ay, 24.0, t);

    t0 = now_s();
    st = flo_array_reduce_sync(ay, FLO_SUM, &sum);
    t = now_s() - t0;
    if (st != FLO_OK)
        goto fail;
    print_step("reduce", ay, 8.0, t);

    t0 = now_s();
    st = flo_array_scan_sync(az, ay, FLO_SUM, FLO_SCAN_INCLUSIVE, NULL);
    t = now_s() - t0;
    if (st != FLO_OK)
        goto fail;
    print_step("scan", ay, 16.0, t);

    st = flo_array_to_host(az, z);
    if (st != FLO_OK)
        goto fail;
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        double v = 2.0 * x[i] + y[i];
        ref_sum += v;
        acc += v;
        if (z[i] != acc && bad++ == 0)
            fprintf(stderr, "    scan[%" PRIu64 "] = %.17g, expected %.17g\n",
                    i, z[i], acc);
    }
    printf("    sum %.17g (host %.17g), scan mismatches %" PRIu64 "\n", sum,
           ref_sum, bad);
    rc = (sum == ref_sum && bad == 0) ? 0 : 1;
    goto out;

fail:
    fprintf(stderr, "    step failed: %s\n", flo_status_str(st));
out:
    if (az != NULL)
        flo_array_destroy(az);
    if (ay != NULL)
        flo_array_destroy(ay);
    if (ax != NULL)
        flo_array_destroy(ax);
    free(x);
    free(y);
    free(z);
    return rc;
}
