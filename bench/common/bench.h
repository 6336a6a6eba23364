/*
 * Flotilla benchmarks - shared harness: argument parsing, medians, the
 * human table on stdout and the JSON file (format: docs/style.md,
 * "Benchmarks").
 */
#ifndef FLO_BENCH_H
#define FLO_BENCH_H

#include <stddef.h>

typedef struct flo_bench flo_bench;

/* Parse the common flags: --json PATH, --reps N, --warmup N, --help.
 * Unknown flags are left for the caller: flo_bench_arg looks them up.
 * usage is printed (with the common flags) for --help, and then the
 * function returns NULL: the caller exits 0. */
flo_bench *flo_bench_open(const char *name, const char *usage, int argc,
                          char **argv);
/* Value of "--flag V" or "--flag=V", or NULL. */
const char *flo_bench_arg(flo_bench *b, const char *flag);
long flo_bench_arg_long(flo_bench *b, const char *flag, long dflt);
int flo_bench_reps(flo_bench *b, int dflt);
int flo_bench_warmup(flo_bench *b, int dflt);
/* Device name for the JSON ("device" is null until set). */
void flo_bench_set_device(flo_bench *b, const char *device);
/* One result row. ratio = value / baseline_value is computed here. */
void flo_bench_result(flo_bench *b, const char *case_name, const char *unit,
                      double value, const char *baseline, double baseline_value,
                      int higher_is_better);
/* Print the table, write JSON if --json, free. Returns 0 or 1 on error. */
int flo_bench_close(flo_bench *b);

/* Median of v[0..n) (sorts v). */
double flo_bench_median(double *v, int n);
/* Monotonic seconds. */
double flo_bench_now(void);

#endif
