/*
 * runtime_lifecycle: many runtimes one after another and at once,
 * finalize with work in flight, the Chrome trace, statistics.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/scheduler/testutil.h"

/* ---- Kernels ------------------------------------------------------------ */

static void k_inc(flo_task_ctx *ctx)
{
    int64_t *p = flo_task_buffer(ctx, 0);
    *p += 1;
}
static const flo_kernel kinc = {"inc", k_inc, NULL};

static void k_slow_inc(flo_task_ctx *ctx)
{
    int64_t *p = flo_task_buffer(ctx, 0);
    flot_sleep_us(100);
    *p += 1;
}
static const flo_kernel kslow_inc = {"slow_inc", k_slow_inc, NULL};

static atomic_long nop_runs;
static void k_nop(flo_task_ctx *ctx)
{
    (void)ctx;
    atomic_fetch_add(&nop_runs, 1);
}
static const flo_kernel knop = {"nop", k_nop, NULL};

static void k_fail(flo_task_ctx *ctx)
{
    flo_task_fail(ctx, FLO_ETASK, "stats failure");
}
static const flo_kernel kfail = {"fail", k_fail, NULL};

static flo_status inc(flo_runtime *rt, const flo_kernel *k, flo_data d)
{
    flo_access_desc acc = {d, FLO_READ_WRITE};
    return flot_submit(rt, k, &acc, 1, NULL, 0, NULL);
}

/* ---- Many runtimes ------------------------------------------------------ */

static void test_init_finalize_cycles(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    int cycles = (int)flot_scaled(50, 10);
    for (int c = 0; c < cycles; c++) {
        flo_runtime *rt = flot_rt(pols[c % 3], 1 + c % 4);
        int64_t x = c;
        flo_data d, a;
        void *p;
        assert_non_null(rt);
        assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
        assert_int_equal(flo_data_alloc(rt, 8, &a), FLO_OK);
        for (int i = 0; i < 100; i++) {
            assert_int_equal(inc(rt, &kinc, d), FLO_OK);
            assert_int_equal(inc(rt, &kinc, a), FLO_OK);
        }
        assert_int_equal(flo_data_acquire(rt, a, FLO_READ, &p), FLO_OK);
        assert_int_equal(*(int64_t *)p, 100);
        assert_int_equal(flo_data_release(rt, a), FLO_OK);
        /* Every other cycle leaves the handles for finalize to clean. */
        if (c % 2) {
            assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
            assert_int_equal(flo_data_unregister(rt, a), FLO_OK);
        }
        assert_int_equal(flo_finalize(rt), FLO_OK);
        assert_int_equal(x, c + 100);
    }
}

static void test_two_runtimes_interleaved(void **s)
{
    (void)s;
    flo_runtime *r1 = flot_rt(FLO_SCHED_WS, 2);
    flo_runtime *r2 = flot_rt(FLO_SCHED_EAGER, 3);
    int64_t x1 = 0, x2 = 1000;
    flo_data d1, d2;
    assert_non_null(r1);
    assert_non_null(r2);
    assert_int_equal(flo_worker_count(r1), 2);
    assert_int_equal(flo_worker_count(r2), 3);
    assert_int_equal(flo_data_register(r1, &x1, 8, &d1), FLO_OK);
    assert_int_equal(flo_data_register(r2, &x2, 8, &d2), FLO_OK);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(inc(r1, &kinc, d1), FLO_OK);
        assert_int_equal(inc(r2, &kinc, d2), FLO_OK);
        if (i % 500 == 0)
            assert_int_equal(flo_wait_all(r1), FLO_OK);
    }
    /* A failure in one does not show in the other. */
    assert_int_equal(flot_submit(r2, &kfail, NULL, 0, NULL, 0, NULL), FLO_OK);
    assert_int_equal(flo_wait_all(r1), FLO_OK);
    assert_int_equal(flo_wait_all(r2), FLO_ETASK);
    flo_stats st1, st2;
    assert_int_equal(flo_stats_get(r1, &st1), FLO_OK);
    assert_int_equal(flo_stats_get(r2, &st2), FLO_OK);
    assert_int_equal(st1.tasks_submitted, 2000);
    assert_int_equal(st2.tasks_submitted, 2001);
    assert_int_equal(st1.tasks_failed, 0);
    assert_int_equal(st2.tasks_failed, 1);
    /* Finalize in the opposite order of init. */
    assert_int_equal(flo_finalize(r1), FLO_OK);
    assert_int_equal(x1, 2000);
    assert_int_equal(inc(r2, &kinc, d2), FLO_OK);
    assert_int_equal(flo_data_unregister(r2, d2), FLO_OK);
    assert_int_equal(x2, 3001);
    assert_int_equal(flo_finalize(r2), FLO_OK);
}

typedef struct thr_arg {
    int idx;
    long n;
    int64_t result;
    int errors;
} thr_arg;

/* Each thread runs its own runtime from init to finalize. */
static void *runtime_thread(void *p)
{
    thr_arg *a = p;
    flo_runtime *rt = flot_rt(a->idx % 2 ? FLO_SCHED_EAGER : FLO_SCHED_WS, 2);
    int64_t x = 0;
    flo_data d;
    if (!rt) {
        a->errors++;
        return NULL;
    }
    if (flo_data_register(rt, &x, 8, &d) != FLO_OK)
        a->errors++;
    for (long i = 0; i < a->n; i++)
        if (inc(rt, &kinc, d) != FLO_OK)
            a->errors++;
    if (flo_wait_all(rt) != FLO_OK)
        a->errors++;
    if (flo_finalize(rt) != FLO_OK)
        a->errors++;
    a->result = x;
    return NULL;
}

static void test_runtimes_in_threads(void **s)
{
    (void)s;
    enum { NT = 3 };
    pthread_t th[NT];
    thr_arg args[NT];
    long n = flot_scaled(20000, 2000);
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < NT; i++) {
            args[i] = (thr_arg){i, n, -1, 0};
            assert_int_equal(
                pthread_create(&th[i], NULL, runtime_thread, &args[i]), 0);
        }
        for (int i = 0; i < NT; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(args[i].errors, 0);
            assert_int_equal(args[i].result, n);
        }
    }
}

/* ---- Finalize with work in flight ------------------------------------- */

static atomic_int cb_calls;
static void count_cb(void *user, flo_status st)
{
    (void)user;
    if (st == FLO_OK)
        atomic_fetch_add(&cb_calls, 1);
}

static void test_finalize_in_flight(void **s)
{
    (void)s;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 3);
        int64_t x = 0, y = 0;
        flo_data dx, dy;
        assert_non_null(rt);
        atomic_store(&cb_calls, 0);
        atomic_store(&nop_runs, 0);
        assert_int_equal(flo_data_register(rt, &x, 8, &dx), FLO_OK);
        assert_int_equal(flo_data_register(rt, &y, 8, &dy), FLO_OK);
        for (int i = 0; i < 1000; i++) {
            flo_task_desc t = FLO_TASK_DESC_INIT;
            flo_access_desc acc = {i % 2 ? dx : dy, FLO_READ_WRITE};
            t.kernel = i < 200 ? &kslow_inc : &kinc;
            t.access = &acc;
            t.naccess = 1;
            t.callback = count_cb;
            assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
            assert_int_equal(flot_submit(rt, &knop, NULL, 0, NULL, 0, NULL),
                             FLO_OK);
        }
        /* No wait: finalize completes everything and writes back. */
        assert_int_equal(flo_finalize(rt), FLO_OK);
        assert_int_equal(x, 500);
        assert_int_equal(y, 500);
        assert_int_equal(atomic_load(&cb_calls), 1000);
        assert_int_equal(atomic_load(&nop_runs), 1000);
    }
}

/* Tasks that submit tasks while finalize waits: every accepted
 * submission runs; a refused one (FLO_ESTALE, finalize began) is counted
 * and its subtree is simply absent. */
#define NTREE 4000
static atomic_int tree_ran[NTREE];
static atomic_int tree_accepted, tree_refused, tree_other;
static void k_tree(flo_task_ctx *ctx)
{
    static const flo_kernel self = {"tree", k_tree, NULL};
    const int *idp = flo_task_args(ctx, NULL);
    int id = *idp;
    atomic_fetch_add(&tree_ran[id], 1);
    flot_sleep_us(20);
    for (int c = 2 * id + 1; c <= 2 * id + 2 && c < NTREE; c++) {
        flo_status st = flot_submit(flo_task_runtime(ctx), &self, NULL, 0, &c,
                                    sizeof(c), NULL);
        if (st == FLO_OK)
            atomic_fetch_add(&tree_accepted, 1);
        else if (st == FLO_ESTALE)
            atomic_fetch_add(&tree_refused, 1);
        else
            atomic_fetch_add(&tree_other, 1);
    }
}

static void test_finalize_while_tasks_submit(void **s)
{
    (void)s;
    static const flo_kernel ktree = {"tree", k_tree, NULL};
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    for (int p = 0; p < 3; p++) {
        flo_runtime *rt = flot_rt(pols[p], 3);
        int root = 0;
        assert_non_null(rt);
        for (int i = 0; i < NTREE; i++)
            atomic_store(&tree_ran[i], 0);
        atomic_store(&tree_accepted, 0);
        atomic_store(&tree_refused, 0);
        atomic_store(&tree_other, 0);
        assert_int_equal(
            flot_submit(rt, &ktree, NULL, 0, &root, sizeof(root), NULL),
            FLO_OK);
        assert_int_equal(flo_finalize(rt), FLO_OK);
        assert_int_equal(atomic_load(&tree_other), 0);
        /* finalize waits for what running tasks submit: nothing should
         * have been refused. */
        if (atomic_load(&tree_refused))
            fail_msg("%s: %d submissions from running tasks refused during "
                     "finalize",
                     flot_sched_name(pols[p]), atomic_load(&tree_refused));
        /* Every task was accepted and ran exactly once, before finalize
         * returned. */
        assert_int_equal(atomic_load(&tree_accepted), NTREE - 1);
        for (int i = 0; i < NTREE; i++)
            assert_int_equal(atomic_load(&tree_ran[i]), 1);
    }
}

/* Finalize with handles left registered, one of them still acquired:
 * everything is written back, nothing hangs. */
static void test_finalize_with_acquired(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    int64_t x = 1, y = 2;
    flo_data dx, dy, da;
    void *p;
    assert_non_null(rt);
    assert_int_equal(flo_data_register(rt, &x, 8, &dx), FLO_OK);
    assert_int_equal(flo_data_register(rt, &y, 8, &dy), FLO_OK);
    assert_int_equal(flo_data_alloc(rt, 1 << 20, &da), FLO_OK);
    assert_int_equal(inc(rt, &kinc, dx), FLO_OK);
    assert_int_equal(inc(rt, &kinc, dy), FLO_OK);
    assert_int_equal(inc(rt, &kinc, da), FLO_OK);
    assert_int_equal(flo_data_acquire(rt, dx, FLO_READ_WRITE, &p), FLO_OK);
    *(int64_t *)p += 10;
    assert_int_equal(flo_data_acquire(rt, da, FLO_READ, &p), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_int_equal(x, 12);
    assert_int_equal(y, 3);
}

/* ---- Statistics ------------------------------------------------------ */

static void test_stats(void **s)
{
    (void)s;
    flo_runtime *rt = flot_rt(FLO_SCHED_DEFAULT, 2);
    flo_stats st;
    int64_t x = 0;
    flo_data d;
    flo_event bad;
    assert_non_null(rt);
    memset(&st, 0xff, sizeof(st));
    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_submitted, 0);
    assert_int_equal(st.tasks_completed, 0);
    assert_int_equal(st.tasks_failed, 0);
    assert_int_equal(st.tasks_canceled, 0);
    assert_int_equal(flo_stats_get(rt, NULL), FLO_EINVAL);
    assert_int_equal(flo_stats_get(NULL, &st), FLO_EINVAL);

    assert_int_equal(flo_data_register(rt, &x, 8, &d), FLO_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(flot_submit(rt, &knop, NULL, 0, NULL, 0, NULL),
                         FLO_OK);
    flo_access_desc w = {d, FLO_READ_WRITE};
    assert_int_equal(flot_submit(rt, &kfail, &w, 1, NULL, 0, &bad), FLO_OK);
    assert_int_equal(inc(rt, &kinc, d), FLO_OK);
    flo_task_desc t = FLO_TASK_DESC_INIT;
    t.kernel = &knop;
    t.deps = &bad;
    t.ndeps = 1;
    assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
    /* Refused submissions are not counted. */
    t.ndeps = -1;
    assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_EINVAL);
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);

    assert_int_equal(flo_stats_get(rt, &st), FLO_OK);
    assert_int_equal(st.tasks_submitted, 103);
    assert_int_equal(st.tasks_failed, 1);
    assert_int_equal(st.tasks_canceled, 2);
    /* Completed counts the tasks that ran, successfully or not. */
    if (st.tasks_completed != 100 && st.tasks_completed != 101)
        fail_msg("tasks_completed %llu (100 ran fine, 1 failed)",
                 (unsigned long long)st.tasks_completed);
    assert_int_equal(st.bytes_h2d + st.bytes_d2h + st.bytes_p2p, 0);

    char path[] = "/tmp/flo_test_stats_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    assert_non_null(f);
    assert_int_equal(flo_stats_print(rt, f), FLO_OK);
    fflush(f);
    assert_true(ftell(f) > 0);
    fclose(f);
    unlink(path);
    assert_int_equal(flo_stats_print(NULL, stderr), FLO_EINVAL);

    assert_int_equal(flo_data_unregister(rt, d), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* ---- A small JSON reader for the trace -------------------------------- */

typedef struct jv jv;
struct jv {
    char type; /* 'o' object, 'a' array, 's' string, 'n' number, 'l'
                  literal */
    char *str; /* string value */
    int n;
    char **keys; /* object keys */
    jv **items;  /* object values or array items */
};

typedef struct jp {
    const char *s;
    int err;
} jp;

static void ws(jp *p)
{
    while (*p->s == ' ' || *p->s == '\n' || *p->s == '\t' || *p->s == '\r')
        p->s++;
}

static jv *jnew(char type)
{
    jv *v = calloc(1, sizeof(*v));
    v->type = type;
    return v;
}

static char *jstring(jp *p)
{
    size_t cap = 16, n = 0;
    char *out = malloc(cap);
    if (*p->s != '"') {
        p->err = 1;
        return out;
    }
    p->s++;
    while (*p->s && *p->s != '"') {
        char c = *p->s++;
        if ((unsigned char)c < 0x20) {
            p->err = 1;
            break;
        }
        if (c == '\\') {
            char e = *p->s++;
            switch (e) {
            case '"':
            case '\\':
            case '/': c = e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u':
                for (int i = 0; i < 4; i++) {
                    char h = *p->s++;
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                          (h >= 'A' && h <= 'F')))
                        p->err = 1;
                }
                c = '?';
                break;
            default: p->err = 1;
            }
        }
        if (n + 2 > cap)
            out = realloc(out, cap *= 2);
        out[n++] = c;
    }
    if (*p->s != '"')
        p->err = 1;
    else
        p->s++;
    out[n] = '\0';
    return out;
}

static jv *jvalue(jp *p, int depth);

static void jpush(jv *v, char *key, jv *item)
{
    v->items = realloc(v->items, sizeof(jv *) * (size_t)(v->n + 1));
    v->keys = realloc(v->keys, sizeof(char *) * (size_t)(v->n + 1));
    v->items[v->n] = item;
    v->keys[v->n] = key;
    v->n++;
}

static jv *jvalue(jp *p, int depth)
{
    jv *v;
    ws(p);
    if (depth > 64) {
        p->err = 1;
        return jnew('l');
    }
    if (*p->s == '{' || *p->s == '[') {
        char close = *p->s == '{' ? '}' : ']';
        v = jnew(*p->s == '{' ? 'o' : 'a');
        p->s++;
        ws(p);
        if (*p->s == close) {
            p->s++;
            return v;
        }
        while (!p->err) {
            char *key = NULL;
            ws(p);
            if (v->type == 'o') {
                key = jstring(p);
                ws(p);
                if (*p->s != ':')
                    p->err = 1;
                else
                    p->s++;
            }
            jpush(v, key, jvalue(p, depth + 1));
            ws(p);
            if (*p->s == ',') {
                p->s++;
                continue;
            }
            if (*p->s == close) {
                p->s++;
                break;
            }
            p->err = 1;
        }
        return v;
    }
    if (*p->s == '"') {
        v = jnew('s');
        v->str = jstring(p);
        return v;
    }
    if (*p->s == '-' || (*p->s >= '0' && *p->s <= '9')) {
        char *end;
        strtod(p->s, &end);
        if (end == p->s)
            p->err = 1;
        p->s = end;
        return jnew('n');
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lits[i]);
        if (!strncmp(p->s, lits[i], l)) {
            p->s += l;
            return jnew('l');
        }
    }
    p->err = 1;
    return jnew('l');
}

static void jfree(jv *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        jfree(v->items[i]);
        free(v->keys ? v->keys[i] : NULL);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static jv *jget(const jv *o, const char *key)
{
    if (!o || o->type != 'o')
        return NULL;
    for (int i = 0; i < o->n; i++)
        if (o->keys[i] && !strcmp(o->keys[i], key))
            return o->items[i];
    return NULL;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Parse a Chrome trace and count its complete events ("ph": "X") named
 * name. Returns -1 if the file is not a valid trace. */
static int trace_count(const char *path, const char *name, int *nevents)
{
    char *text = read_file(path);
    if (!text)
        return -1;
    jp p = {text, 0};
    jv *root = jvalue(&p, 0);
    ws(&p);
    if (*p.s != '\0')
        p.err = 1;
    int count = -1;
    jv *evs = jget(root, "traceEvents");
    if (!p.err && root->type == 'o' && evs && evs->type == 'a') {
        count = 0;
        *nevents = evs->n;
        for (int i = 0; i < evs->n; i++) {
            jv *e = evs->items[i];
            jv *nm = jget(e, "name"), *ph = jget(e, "ph");
            if (e->type != 'o' || !ph || ph->type != 's') {
                count = -1;
                break;
            }
            if (!strcmp(ph->str, "X")) {
                /* Complete events carry a timestamp and a duration. */
                jv *ts = jget(e, "ts"), *dur = jget(e, "dur");
                if (!ts || ts->type != 'n' || !dur || dur->type != 'n' ||
                    !jget(e, "pid") || !jget(e, "tid")) {
                    count = -1;
                    break;
                }
                if (nm && nm->type == 's' && !strcmp(nm->str, name))
                    count++;
            }
        }
    }
    jfree(root);
    free(text);
    return count;
}

static void run_named_tasks(flo_runtime *rt, int nalpha, int nbeta)
{
    static const flo_kernel kalpha = {"alpha", k_nop, NULL};
    for (int i = 0; i < nalpha; i++)
        assert_int_equal(flot_submit(rt, &kalpha, NULL, 0, NULL, 0, NULL),
                         FLO_OK);
    for (int i = 0; i < nbeta; i++) {
        /* desc.name overrides the kernel's name. */
        flo_task_desc t = FLO_TASK_DESC_INIT;
        t.kernel = &kalpha;
        t.name = "beta \"quoted\"";
        assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
}

static void check_trace(const char *path, int nalpha, int nbeta)
{
    int nev = 0;
    int a = trace_count(path, "alpha", &nev);
    if (a < 0)
        fail_msg("%s is not a valid Chrome trace", path);
    assert_int_equal(a, nalpha);
    assert_int_equal(trace_count(path, "beta \"quoted\"", &nev), nbeta);
    assert_true(nev >= nalpha + nbeta);
}

static void test_trace_cfg(void **s)
{
    (void)s;
    char path[] = "/tmp/flo_test_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.ignore_env = 1;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 3;
    cfg.trace_path = path;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    run_named_tasks(rt, 5, 3);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    check_trace(path, 5, 3);
    unlink(path);

    /* Many events: more than one trace chunk per worker. */
    strcpy(path, "/tmp/flo_test_trace_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    /* The configuration's path string may be temporary. */
    char *copy = strdup(path);
    cfg.trace_path = copy;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    memset(copy, 'z', strlen(copy));
    free(copy);
    run_named_tasks(rt, 5000, 10);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    check_trace(path, 5000, 10);
    unlink(path);
}

static void test_trace_env(void **s)
{
    (void)s;
    char path[] = "/tmp/flo_test_trace_env_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 2;
    setenv("FLO_TRACE", path, 1);
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    unsetenv("FLO_TRACE");
    run_named_tasks(rt, 7, 2);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    check_trace(path, 7, 2);
    unlink(path);
}

/* desc.name (and the kernel's name) may be temporary strings: the
 * trace must show what they said at submission. */
static void test_trace_dynamic_names(void **s)
{
    (void)s;
    char path[] = "/tmp/flo_test_trace_dyn_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.ignore_env = 1;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 2;
    cfg.trace_path = path;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    for (int i = 0; i < 3; i++) {
        char *name = malloc(32);
        flo_kernel *k = malloc(sizeof(*k));
        char *kname = malloc(32);
        flo_task_desc t = FLO_TASK_DESC_INIT;
        snprintf(name, 32, "dyn-%d", i);
        snprintf(kname, 32, "kern-%d", i);
        k->name = kname;
        k->host = k_nop;
        k->cuda = NULL;
        t.kernel = k;
        t.name = name;
        assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
        t.name = NULL;
        assert_int_equal(flo_task_submit(rt, &t, NULL), FLO_OK);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        memset(name, 'X', 31);
        memset(kname, 'Y', 31);
        free(name);
        free(kname);
        free(k);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
    int nev = 0;
    for (int i = 0; i < 3; i++) {
        char want[32];
        snprintf(want, sizeof(want), "dyn-%d", i);
        int n = trace_count(path, want, &nev);
        if (n != 1)
            fail_msg("trace has %d events named %s (name freed after "
                     "submit)",
                     n, want);
        snprintf(want, sizeof(want), "kern-%d", i);
        n = trace_count(path, want, &nev);
        if (n != 1)
            fail_msg("trace has %d events named %s (kernel name freed "
                     "after submit)",
                     n, want);
    }
    unlink(path);
}

/* A trace that cannot be written is an error, not silence. */
static void test_trace_unwritable(void **s)
{
    (void)s;
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.ignore_env = 1;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.host_workers = 1;
    cfg.trace_path = "/nonexistent-flotilla-dir/sub/trace.json";
    /* Refused at init (docs/configuration.md), not lost at finalize. */
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    assert_null(rt);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_finalize_cycles),
        cmocka_unit_test(test_two_runtimes_interleaved),
        cmocka_unit_test(test_runtimes_in_threads),
        cmocka_unit_test(test_finalize_in_flight),
        cmocka_unit_test(test_finalize_while_tasks_submit),
        cmocka_unit_test(test_finalize_with_acquired),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_trace_cfg),
        cmocka_unit_test(test_trace_env),
        cmocka_unit_test(test_trace_unwritable),
        cmocka_unit_test(test_trace_dynamic_names),
    };
    return cmocka_run_group_tests_name("runtime_lifecycle", tests, NULL, NULL);
}
