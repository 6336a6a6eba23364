/*
 * flo-dag-example - the task graph of a small pipeline, written as a
 * Graphviz file at flo_finalize (flo_config.dag_path; FLO_DAG=path does
 * the same for any program, without recompiling it).
 *
 *   flo-dag-example [OUT.dot]          (default flo-dag-example.dot)
 *   dot -Tsvg OUT.dot -o graph.svg     (apt-get install graphviz)
 *
 * Four blocks of a vector are filled and scaled, summed pairwise, then
 * into a total; a report waits for the total through its event (a dashed
 * edge). A validation task fails on purpose, which cancels the task that
 * reads its output and the one that waits for its event. The picture in
 * docs/img/dag-example.svg is this program's graph.
 *
 * Exits 0 when the sums are right and exactly the expected task failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <flotilla.h>

#define NBLK 4
#define BLK 1024

static void fill(flo_task_ctx *ctx)
{
    double *x = flo_task_buffer(ctx, 0);
    const int *b = flo_task_args(ctx, NULL);
    for (int i = 0; i < BLK; i++)
        x[i] = (double)(*b * BLK + i);
}

static void scale(flo_task_ctx *ctx)
{
    double *x = flo_task_buffer(ctx, 0);
    for (int i = 0; i < BLK; i++)
        x[i] *= 2.0;
}

/* out[0] = the sum of every element of the buffers 0 .. n - 2. */
static void sum(flo_task_ctx *ctx)
{
    const size_t *n = flo_task_args(ctx, NULL);
    double *out = flo_task_buffer(ctx, (int)*n - 1);
    double s = 0;
    for (size_t k = 0; k + 1 < *n; k++) {
        const double *x = flo_task_buffer(ctx, (int)k);
        size_t m = flo_task_buffer_size(ctx, (int)k) / sizeof(double);
        for (size_t i = 0; i < m; i++)
            s += x[i];
    }
    out[0] = s;
}

static void report(flo_task_ctx *ctx)
{
    (void)ctx;
}

/* Fails on purpose: the graph shows it with a red border. */
static void validate(flo_task_ctx *ctx)
{
    const double *total = flo_task_buffer(ctx, 0);
    flo_task_fail(ctx, FLO_ETASK, "total %g above the (made-up) limit 1000",
                  total[0]);
}

static flo_event submit(flo_runtime *rt, const char *name, flo_task_fn fn,
                        const flo_access_desc *acc, int nacc, const void *args,
                        size_t args_size, const flo_event *deps, int ndeps)
{
    flo_kernel k = {.name = name, .host = fn};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_event ev = {0, 0};
    flo_status st;

    d.kernel = &k;
    d.name = name;
    d.access = acc;
    d.naccess = nacc;
    d.args = args;
    d.args_size = args_size;
    d.deps = deps;
    d.ndeps = ndeps;
    st = flo_task_submit(rt, &d, &ev);
    if (st != FLO_OK)
        fprintf(stderr, "submitting %s: %s\n", name, flo_status_str(st));
    return ev;
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : "flo-dag-example.dot";
    static double blk[NBLK][BLK];
    double part[2], total = 0, flag = 0;
    flo_data hb[NBLK], hp[2], ht, hf;
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt;
    flo_event ev_total, ev_valid;
    flo_status st;
    double want = 0;
    int ok = 1;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [OUT.dot]\n", argv[0]);
        return 2;
    }
    cfg.dag_path = out;
    st = flo_init(&cfg, &rt);
    if (st != FLO_OK) {
        fprintf(stderr, "flo_init: %s\n", flo_status_str(st));
        return 1;
    }
    for (int b = 0; b < NBLK; b++)
        flo_data_register(rt, blk[b], sizeof(blk[b]), &hb[b]);
    flo_data_register(rt, &part[0], sizeof(double), &hp[0]);
    flo_data_register(rt, &part[1], sizeof(double), &hp[1]);
    flo_data_register(rt, &total, sizeof(double), &ht);
    flo_data_register(rt, &flag, sizeof(double), &hf);

    for (int b = 0; b < NBLK; b++) {
        submit(rt, "fill", fill, (flo_access_desc[]){FLO_W(hb[b])}, 1, &b,
               sizeof(b), NULL, 0);
        submit(rt, "scale", scale, (flo_access_desc[]){FLO_RW(hb[b])}, 1, NULL,
               0, NULL, 0);
    }
    for (int p = 0; p < 2; p++) {
        size_t n = 3;
        submit(rt, "partial", sum,
               (flo_access_desc[]){FLO_R(hb[2 * p]), FLO_R(hb[2 * p + 1]),
                                   FLO_W(hp[p])},
               3, &n, sizeof(n), NULL, 0);
    }
    {
        size_t n = 3;
        ev_total =
            submit(rt, "total", sum,
                   (flo_access_desc[]){FLO_R(hp[0]), FLO_R(hp[1]), FLO_W(ht)},
                   3, &n, sizeof(n), NULL, 0);
    }
    /* Ordered after the total by its event alone (no data in common). */
    submit(rt, "report", report, NULL, 0, NULL, 0, &ev_total, 1);
    ev_valid =
        submit(rt, "validate", validate,
               (flo_access_desc[]){FLO_R(ht), FLO_W(hf)}, 2, NULL, 0, NULL, 0);
    /* Both canceled: one reads what validate writes, one waits for it. */
    submit(rt, "publish", report, (flo_access_desc[]){FLO_R(hf)}, 1, NULL, 0,
           NULL, 0);
    submit(rt, "notify", report, NULL, 0, NULL, 0, &ev_valid, 1);

    st = flo_wait_all(rt);
    if (st != FLO_ETASK) {
        fprintf(stderr, "expected validate to fail, got %s\n",
                flo_status_str(st));
        ok = 0;
    }
    flo_data_unregister(rt, ht);
    for (int b = 0; b < NBLK; b++)
        for (int i = 0; i < BLK; i++)
            want += 2.0 * (double)(b * BLK + i);
    if (total != want) {
        fprintf(stderr, "total %g, expected %g\n", total, want);
        ok = 0;
    }
    /* The graph is written here (the other handles are unregistered by
     * flo_finalize). */
    st = flo_finalize(rt);
    if (st != FLO_OK) {
        fprintf(stderr, "flo_finalize: %s\n", flo_status_str(st));
        ok = 0;
    }
    printf("task graph written to %s; render it with\n"
           "  dot -Tsvg %s -o graph.svg\n",
           out, out);
    return ok ? 0 : 1;
}
