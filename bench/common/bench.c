/*
 * Flotilla benchmarks - the shared harness (see bench.h and
 * docs/style.md for the JSON format).
 *
 * The harness owns a copy of argv and a growable array of result rows.
 * Nothing here is thread-safe: benchmarks call it from their main thread.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flo_build_config.h"

typedef struct bench_row {
    char *case_name;
    char *unit;
    double value;
    char *baseline; /* NULL: no baseline for this row. */
    double baseline_value;
    int higher_is_better;
    double ratio; /* NAN when there is no baseline or it is zero. */
} bench_row;

struct flo_bench {
    char *name;
    char *json_path; /* NULL: no JSON file asked for. */
    char *device;    /* NULL: written as JSON null. */
    int reps;        /* -1: not given. */
    int warmup;      /* -1: not given. */
    int argc;
    char **argv; /* Borrowed from main; lives as long as the process. */
    bench_row *rows;
    int nrows;
    int cap;
    int failed; /* An allocation failed: close reports an error. */
};

static char *dup_str(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* Match "--flag" followed by a separate value, or "--flag=value". Sets
 * *value and returns the number of argv slots consumed (1 or 2), or 0. */
static int match_flag(int argc, char **argv, int i, const char *flag,
                      const char **value)
{
    size_t n = strlen(flag);
    if (strncmp(argv[i], flag, n) != 0)
        return 0;
    if (argv[i][n] == '=') {
        *value = argv[i] + n + 1;
        return 1;
    }
    if (argv[i][n] == '\0' && i + 1 < argc) {
        *value = argv[i + 1];
        return 2;
    }
    return 0;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1000000000)
        return -1;
    *out = (int)v;
    return 0;
}

flo_bench *flo_bench_open(const char *name, const char *usage, int argc,
                          char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [options]\n", name ? name : "bench");
            if (usage != NULL && usage[0] != '\0')
                printf("%s%s", usage,
                       usage[strlen(usage) - 1] == '\n' ? "" : "\n");
            printf("common options:\n"
                   "  --json PATH   write the results as JSON to PATH\n"
                   "  --reps N      timed repetitions (median reported)\n"
                   "  --warmup N    untimed repetitions first\n"
                   "  --help        this text\n");
            return NULL;
        }
    }

    flo_bench *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->name = dup_str(name ? name : "bench");
    b->reps = -1;
    b->warmup = -1;
    b->argc = argc;
    b->argv = argv;
    if (b->name == NULL) {
        free(b);
        return NULL;
    }

    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int used;
        if ((used = match_flag(argc, argv, i, "--json", &v)) > 0) {
            free(b->json_path);
            b->json_path = dup_str(v);
            if (b->json_path == NULL)
                b->failed = 1;
        } else if ((used = match_flag(argc, argv, i, "--reps", &v)) > 0) {
            if (parse_int(v, &b->reps) != 0 || b->reps < 1) {
                fprintf(stderr, "%s: bad --reps '%s'\n", b->name, v);
                b->reps = -1;
            }
        } else if ((used = match_flag(argc, argv, i, "--warmup", &v)) > 0) {
            if (parse_int(v, &b->warmup) != 0) {
                fprintf(stderr, "%s: bad --warmup '%s'\n", b->name, v);
                b->warmup = -1;
            }
        } else {
            used = 1;
        }
        i += used - 1;
    }
    return b;
}

const char *flo_bench_arg(flo_bench *b, const char *flag)
{
    if (b == NULL || flag == NULL)
        return NULL;
    const char *found = NULL;
    /* The last occurrence wins, as with most command-line tools. */
    for (int i = 1; i < b->argc; i++) {
        const char *v = NULL;
        int used = match_flag(b->argc, b->argv, i, flag, &v);
        if (used > 0) {
            found = v;
            i += used - 1;
        }
    }
    return found;
}

long flo_bench_arg_long(flo_bench *b, const char *flag, long dflt)
{
    const char *s = flo_bench_arg(b, flag);
    if (s == NULL)
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 0);
    if (errno != 0 || end == s) {
        fprintf(stderr, "%s: bad value '%s' for %s, using %ld\n", b->name, s,
                flag, dflt);
        return dflt;
    }
    /* Accept k/M/G suffixes (powers of 1000 for counts). */
    switch (*end) {
    case 'k':
    case 'K':
        v *= 1000L;
        end++;
        break;
    case 'm':
    case 'M':
        v *= 1000000L;
        end++;
        break;
    case 'g':
    case 'G':
        v *= 1000000000L;
        end++;
        break;
    default: break;
    }
    if (*end != '\0') {
        fprintf(stderr, "%s: bad value '%s' for %s, using %ld\n", b->name, s,
                flag, dflt);
        return dflt;
    }
    return v;
}

int flo_bench_reps(flo_bench *b, int dflt)
{
    return (b != NULL && b->reps >= 1) ? b->reps : dflt;
}

int flo_bench_warmup(flo_bench *b, int dflt)
{
    return (b != NULL && b->warmup >= 0) ? b->warmup : dflt;
}

void flo_bench_set_device(flo_bench *b, const char *device)
{
    if (b == NULL)
        return;
    char *d = dup_str(device);
    if (device != NULL && d == NULL)
        b->failed = 1;
    free(b->device);
    b->device = d;
}

void flo_bench_result(flo_bench *b, const char *case_name, const char *unit,
                      double value, const char *baseline, double baseline_value,
                      int higher_is_better)
{
    if (b == NULL)
        return;
    if (b->nrows == b->cap) {
        int cap = b->cap ? 2 * b->cap : 16;
        bench_row *r = realloc(b->rows, (size_t)cap * sizeof(*r));
        if (r == NULL) {
            b->failed = 1;
            return;
        }
        b->rows = r;
        b->cap = cap;
    }
    bench_row *row = &b->rows[b->nrows];
    row->case_name = dup_str(case_name ? case_name : "?");
    row->unit = dup_str(unit ? unit : "");
    row->baseline = dup_str(baseline);
    row->value = value;
    row->baseline_value = baseline_value;
    row->higher_is_better = higher_is_better ? 1 : 0;
    row->ratio =
        (baseline != NULL && baseline_value != 0.0 && isfinite(baseline_value))
            ? value / baseline_value
            : NAN;
    if (row->case_name == NULL || row->unit == NULL ||
        (baseline != NULL && row->baseline == NULL)) {
        free(row->case_name);
        free(row->unit);
        free(row->baseline);
        b->failed = 1;
        return;
    }
    b->nrows++;
}

/* Host description: "<n> cores, <model name>". */
static void host_string(char *buf, size_t len)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    char model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) != 0)
                continue;
            char *colon = strchr(line, ':');
            if (colon == NULL)
                continue;
            colon++;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            size_t m = strcspn(colon, "\n");
            if (m >= sizeof(model))
                m = sizeof(model) - 1;
            memcpy(model, colon, m);
            model[m] = '\0';
            break;
        }
        fclose(f);
    }
    snprintf(buf, len, "%ld %s, %s", n, n == 1 ? "core" : "cores", model);
}

static void json_string(FILE *f, const char *s)
{
    if (s == NULL) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity: write null for them. */
static void json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

static int write_json(const flo_bench *b, const char *host)
{
    FILE *f = fopen(b->json_path, "w");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot write %s: %s\n", b->name, b->json_path,
                strerror(errno));
        return 1;
    }
    fputs("{\n  \"bench\": ", f);
    json_string(f, b->name);
    fputs(",\n  \"version\": ", f);
    json_string(f, FLO_VERSION_STRING);
    fputs(",\n  \"host\": ", f);
    json_string(f, host);
    fputs(",\n  \"device\": ", f);
    json_string(f, b->device);
    fputs(",\n  \"results\": [", f);
    for (int i = 0; i < b->nrows; i++) {
        const bench_row *r = &b->rows[i];
        fputs(i ? ",\n    {" : "\n    {", f);
        fputs("\"case\": ", f);
        json_string(f, r->case_name);
        fputs(", \"unit\": ", f);
        json_string(f, r->unit);
        fputs(", \"value\": ", f);
        json_number(f, r->value);
        fputs(",\n     \"baseline\": ", f);
        json_string(f, r->baseline);
        fputs(", \"baseline_value\": ", f);
        if (r->baseline != NULL)
            json_number(f, r->baseline_value);
        else
            fputs("null", f);
        fprintf(f, ",\n     \"higher_is_better\": %s, \"ratio\": ",
                r->higher_is_better ? "true" : "false");
        json_number(f, r->ratio);
        fputc('}', f);
    }
    fputs(b->nrows ? "\n  ]\n}\n" : "]\n}\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "%s: error writing %s\n", b->name, b->json_path);
        return 1;
    }
    return 0;
}

static int col_width(const flo_bench *b, int col, int minw)
{
    int w = minw;
    for (int i = 0; i < b->nrows; i++) {
        const bench_row *r = &b->rows[i];
        const char *s = col == 0   ? r->case_name
                        : col == 1 ? r->unit
                                   : (r->baseline ? r->baseline : "-");
        int n = (int)strlen(s);
        if (n > w)
            w = n;
    }
    return w;
}

/* The 1-minute load average, or -1: printed with the table because a
 * busy machine is the first suspect when figures jump. */
static double load_average(void)
{
    double load = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1.0;
        fclose(f);
    }
    return load;
}

static void print_table(const flo_bench *b, const char *host)
{
    int wc = col_width(b, 0, 4), wu = col_width(b, 1, 4);
    int wb = col_width(b, 2, 8);
    double load = load_average();
    printf("# %s %s on %s%s%s", b->name, FLO_VERSION_STRING, host,
           b->device ? ", " : "", b->device ? b->device : "");
    if (load >= 0.0)
        printf(" (load average %.2f)", load);
    printf("\n");
    printf("%-*s  %-*s  %12s  %-*s  %14s  %8s\n", wc, "case", wu, "unit",
           "value", wb, "baseline", "baseline value", "ratio");
    for (int i = 0; i < b->nrows; i++) {
        const bench_row *r = &b->rows[i];
        char bv[32] = "-", ratio[32] = "-";
        if (r->baseline != NULL)
            snprintf(bv, sizeof(bv), "%.4g", r->baseline_value);
        if (isfinite(r->ratio))
            snprintf(ratio, sizeof(ratio), "%.3f", r->ratio);
        printf("%-*s  %-*s  %12.4g  %-*s  %14s  %8s\n", wc, r->case_name, wu,
               r->unit, r->value, wb, r->baseline ? r->baseline : "-", bv,
               ratio);
    }
    fflush(stdout);
}

int flo_bench_close(flo_bench *b)
{
    if (b == NULL)
        return 1;
    char host[320];
    host_string(host, sizeof(host));
    print_table(b, host);
    int rc = b->failed;
    if (b->failed)
        fprintf(stderr, "%s: out of memory recording results\n", b->name);
    if (b->json_path != NULL && write_json(b, host) != 0)
        rc = 1;
    for (int i = 0; i < b->nrows; i++) {
        free(b->rows[i].case_name);
        free(b->rows[i].unit);
        free(b->rows[i].baseline);
    }
    free(b->rows);
    free(b->name);
    free(b->json_path);
    free(b->device);
    free(b);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double flo_bench_median(double *v, int n)
{
    if (v == NULL || n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    if (n % 2)
        return v[n / 2];
    return 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double flo_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
