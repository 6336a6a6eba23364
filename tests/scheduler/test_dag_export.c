/*
 * scheduler_dag_export: the task graph written at finalize (FLO_DAG,
 * flo_config.dag_path). A known graph (a diamond, a chain, explicit event
 * dependencies, a failing task and its canceled dependents) is run, the
 * .dot file parsed back and its nodes and edges compared with the graph
 * exactly; the environment variable, a path that cannot be written, the
 * bound on the graph's size and recording from several threads at once.
 *
 * With --render (meson test scheduler_dag_render) it renders a graph with
 * Graphviz (dot -Tsvg) and checks every task is in the picture; without
 * dot on the PATH that test reports SKIP.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/scheduler/testutil.h"

/* ---- A parsed .dot file ------------------------------------------------- */

typedef struct pnode {
    unsigned idx;
    unsigned long long gen;
    char label[128];
    char fill[16];
    bool red, dashed;
} pnode;

typedef struct pedge {
    unsigned pi, si;
    unsigned long long pg, sg;
    char label[64];
    bool dashed;
} pedge;

typedef struct pgraph {
    pnode *n;
    int nn;
    pedge *e;
    int ne;
    char host_fill[16]; /* legend_dev0's fill colour. */
    int legend_devs;
    bool truncated;
    unsigned long long lost_tasks, lost_deps;
} pgraph;

/* The value of attribute key="..." in s, into out (empty if absent). */
static void attr(const char *s, const char *key, char *out, size_t len)
{
    char pat[32];
    const char *p, *q;

    snprintf(pat, sizeof(pat), "%s=\"", key);
    out[0] = '\0';
    p = strstr(s, pat);
    /* Not the tail of a longer name (label= inside fillcolor= etc.). */
    while (p && p != s && p[-1] != ' ' && p[-1] != '[')
        p = strstr(p + 1, pat);
    if (!p)
        return;
    p += strlen(pat);
    q = p;
    while (*q && !(*q == '"' && q[-1] != '\\'))
        q++;
    snprintf(out, len, "%.*s", (int)(q - p), p);
}

static bool parse_dot(const char *path, pgraph *g)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    bool closed = false;

    memset(g, 0, sizeof(*g));
    if (!f)
        return false;
    g->n = calloc(8192, sizeof(*g->n));
    g->e = calloc(8192, sizeof(*g->e));
    while (fgets(line, sizeof(line), f)) {
        unsigned a, b;
        unsigned long long ag, bg;
        int used = 0;
        if (strncmp(line, "// truncated:", 13) == 0) {
            g->truncated = true;
            sscanf(line, "// truncated: %llu tasks and %llu", &g->lost_tasks,
                   &g->lost_deps);
        } else if (sscanf(line, "  t%u_%llu -> t%u_%llu %n", &a, &ag, &b, &bg,
                          &used) == 4 &&
                   used > 0) {
            pedge *e = &g->e[g->ne++];
            e->pi = a;
            e->pg = ag;
            e->si = b;
            e->sg = bg;
            attr(line, "label", e->label, sizeof(e->label));
            e->dashed = strstr(line, "style=dashed") != NULL;
        } else if (sscanf(line, "  t%u_%llu [%n", &a, &ag, &used) == 2 &&
                   used > 0) {
            pnode *n = &g->n[g->nn++];
            n->idx = a;
            n->gen = ag;
            attr(line, "label", n->label, sizeof(n->label));
            attr(line, "fillcolor", n->fill, sizeof(n->fill));
            n->red = strstr(line, "color=\"#cc0000\"") != NULL;
            n->dashed = strstr(line, "dashed") != NULL;
        } else if (strncmp(line, "    legend_dev", 14) == 0 &&
                   !strstr(line, "->")) {
            if (strncmp(line, "    legend_dev0 ", 16) == 0)
                attr(line, "fillcolor", g->host_fill, sizeof(g->host_fill));
            g->legend_devs++;
        } else if (strcmp(line, "}\n") == 0) {
            closed = true;
        }
    }
    fclose(f);
    return closed;
}

static void free_graph(pgraph *g)
{
    free(g->n);
    free(g->e);
}

static unsigned slot_of(uint64_t id)
{
    return (unsigned)(id & 0xffffff) - 1;
}

static const pnode *find_node(const pgraph *g, flo_event ev)
{
    for (int i = 0; i < g->nn; i++)
        if (g->n[i].idx == slot_of(ev.id) && g->n[i].gen == ev.gen)
            return &g->n[i];
    return NULL;
}

static const pedge *find_edge(const pgraph *g, flo_event p, flo_event s,
                              bool dashed)
{
    for (int i = 0; i < g->ne; i++) {
        const pedge *e = &g->e[i];
        if (e->pi == slot_of(p.id) && e->pg == p.gen &&
            e->si == slot_of(s.id) && e->sg == s.gen && e->dashed == dashed)
            return e;
    }
    return NULL;
}

/* ---- Tasks ---------------------------------------------------------- */

/* Arguments: fail, or not; the buffer to increment (one the task
 * writes), or -1. No arguments: increment buffer 0 (the chains). */
typedef struct targs {
    int fail;
    int inc;
} targs;

static void k_body(flo_task_ctx *ctx)
{
    const targs *a = flo_task_args(ctx, NULL);
    int inc = a ? a->inc : 0;
    if (inc >= 0)
        (*(int64_t *)flo_task_buffer(ctx, inc))++;
    if (a && a->fail)
        flo_task_fail(ctx, FLO_ETASK, "failing on purpose");
}
static const flo_kernel kbody = {.name = "body", .host = k_body};

static flo_event sub(flo_runtime *rt, const char *name,
                     const flo_access_desc *acc, int nacc,
                     const flo_event *deps, int ndeps, int fail)
{
    flo_task_desc d = FLO_TASK_DESC_INIT;
    targs a = {fail, -1};
    /* Increment the buffer it writes, if any. */
    for (int i = 0; i < nacc; i++)
        if (acc[i].mode & FLO_WRITE)
            a.inc = i;
    flo_event ev = {0, 0};
    d.kernel = &kbody;
    d.name = name;
    d.access = acc;
    d.naccess = nacc;
    d.deps = deps;
    d.ndeps = ndeps;
    d.args = &a;
    d.args_size = sizeof(a);
    assert_int_equal(flo_task_submit(rt, &d, &ev), FLO_OK);
    return ev;
}

static char *tmp_path(const char *what)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    const char *dir = getenv("TMPDIR");
    snprintf(p, 256, "%s/flo-dag-%s-%d.dot", dir && *dir ? dir : "/tmp", what,
             (int)getpid());
    return p;
}

static flo_runtime *dag_rt(const char *path, int workers)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    cfg.host_workers = workers;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.ignore_env = 1;
    cfg.dag_path = path;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    return rt;
}

/* The known graph. Handles a, b, c (diamond), d (chain), e (failure). */
typedef struct known {
    flo_event init, left, right, join, c1, c2, c3, evt, fail, after, evafter;
    flo_event solo, late;
    unsigned sa, sb, sc, sd, se; /* Handle slots. */
} known;

static void run_known(flo_runtime *rt, known *k)
{
    static int64_t m[5];
    flo_data h[5];
    flo_event deps[2];

    for (int i = 0; i < 5; i++) {
        assert_int_equal(flo_data_register(rt, &m[i], sizeof(m[i]), &h[i]),
                         FLO_OK);
    }
    k->sa = slot_of(h[0].id);
    k->sb = slot_of(h[1].id);
    k->sc = slot_of(h[2].id);
    k->sd = slot_of(h[3].id);
    k->se = slot_of(h[4].id);

    /* Diamond: init writes a; left and right read a and write b, c; join
     * reads b and c and updates a (it waits for both readers of a). */
    k->init = sub(rt, "init", (flo_access_desc[]){FLO_W(h[0])}, 1, NULL, 0, 0);
    k->left = sub(rt, "left", (flo_access_desc[]){FLO_R(h[0]), FLO_W(h[1])}, 2,
                  NULL, 0, 0);
    k->right = sub(rt, "right", (flo_access_desc[]){FLO_R(h[0]), FLO_W(h[2])},
                   2, NULL, 0, 0);
    k->join = sub(rt, "join",
                  (flo_access_desc[]){FLO_R(h[1]), FLO_R(h[2]), FLO_RW(h[0])},
                  3, NULL, 0, 0);
    /* Chain on d. */
    k->c1 = sub(rt, "c1", (flo_access_desc[]){FLO_RW(h[3])}, 1, NULL, 0, 0);
    k->c2 = sub(rt, "c2", (flo_access_desc[]){FLO_RW(h[3])}, 1, NULL, 0, 0);
    k->c3 = sub(rt, "c3", (flo_access_desc[]){FLO_RW(h[3])}, 1, NULL, 0, 0);
    /* Explicit dependencies only. */
    deps[0] = k->join;
    deps[1] = k->c3;
    k->evt = sub(rt, "evt", NULL, 0, deps, 2, 0);
    /* A failure: its reader and its event dependent are canceled. */
    k->fail = sub(rt, "fail", (flo_access_desc[]){FLO_RW(h[4])}, 1, NULL, 0, 1);
    k->after =
        sub(rt, "after", (flo_access_desc[]){FLO_R(h[4])}, 1, NULL, 0, 0);
    k->evafter = sub(rt, "evafter", NULL, 0, &k->fail, 1, 0);
    /* An event dependency on a task finished (and its record recycled)
     * before the dependent was submitted: still an edge. */
    k->solo = sub(rt, "solo", NULL, 0, NULL, 0, 0);
    assert_int_equal(flo_event_wait(rt, k->solo), FLO_OK);
    k->late = sub(rt, "late", NULL, 0, &k->solo, 1, 0);

    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    /* Acquires and unregisters draw nothing. */
    {
        void *p;
        assert_int_equal(flo_data_acquire(rt, h[0], FLO_READ, &p), FLO_OK);
        assert_int_equal(flo_data_release(rt, h[0]), FLO_OK);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(flo_data_unregister(rt, h[i]), FLO_OK);
    /* h[4] is left to finalize. */
}

static void check_label(const pedge *e, unsigned s1, unsigned s2)
{
    char want[32];
    assert_non_null(e);
    if (s2 == UINT32_MAX)
        snprintf(want, sizeof(want), "d%u", s1);
    else
        snprintf(want, sizeof(want), "d%u,d%u", s1 < s2 ? s1 : s2,
                 s1 < s2 ? s2 : s1);
    assert_string_equal(e->label, want);
}

static void check_known(const pgraph *g, const known *k)
{
    const struct {
        flo_event ev;
        const char *name;
        int kind; /* 0 ok, 1 failed, 2 canceled. */
    } nodes[] = {
        {k->init, "init", 0},       {k->left, "left", 0},
        {k->right, "right", 0},     {k->join, "join", 0},
        {k->c1, "c1", 0},           {k->c2, "c2", 0},
        {k->c3, "c3", 0},           {k->evt, "evt", 0},
        {k->fail, "fail", 1},       {k->after, "after", 2},
        {k->evafter, "evafter", 2}, {k->solo, "solo", 0},
        {k->late, "late", 0},
    };
    const int nnodes = (int)(sizeof(nodes) / sizeof(nodes[0]));

    assert_int_equal(g->nn, nnodes);
    assert_int_equal(g->legend_devs, 1); /* The host only. */
    assert_true(g->host_fill[0] != '\0');
    assert_false(g->truncated);
    for (int i = 0; i < nnodes; i++) {
        const pnode *n = find_node(g, nodes[i].ev);
        char want[64];
        assert_non_null(n);
        snprintf(want, sizeof(want), "%s\\n#%u.%llu", nodes[i].name,
                 slot_of(nodes[i].ev.id), (unsigned long long)nodes[i].ev.gen);
        assert_true(strncmp(n->label, want, strlen(want)) == 0);
        switch (nodes[i].kind) {
        case 0:
            assert_string_equal(n->label, want);
            assert_string_equal(n->fill, g->host_fill);
            assert_false(n->red);
            assert_false(n->dashed);
            break;
        case 1:
            assert_non_null(strstr(n->label, "FLO_ETASK"));
            assert_string_equal(n->fill, g->host_fill); /* It ran. */
            assert_true(n->red);
            assert_false(n->dashed);
            break;
        default:
            assert_non_null(strstr(n->label, "canceled"));
            assert_string_not_equal(n->fill, g->host_fill);
            assert_true(n->dashed);
            assert_false(n->red);
            break;
        }
    }

    /* Exactly these edges. */
    assert_int_equal(g->ne, 11);
    check_label(find_edge(g, k->init, k->left, false), k->sa, UINT32_MAX);
    check_label(find_edge(g, k->init, k->right, false), k->sa, UINT32_MAX);
    check_label(find_edge(g, k->left, k->join, false), k->sa, k->sb);
    check_label(find_edge(g, k->right, k->join, false), k->sa, k->sc);
    check_label(find_edge(g, k->c1, k->c2, false), k->sd, UINT32_MAX);
    check_label(find_edge(g, k->c2, k->c3, false), k->sd, UINT32_MAX);
    check_label(find_edge(g, k->fail, k->after, false), k->se, UINT32_MAX);
    assert_non_null(find_edge(g, k->join, k->evt, true));
    assert_non_null(find_edge(g, k->c3, k->evt, true));
    assert_non_null(find_edge(g, k->fail, k->evafter, true));
    assert_non_null(find_edge(g, k->solo, k->late, true));
}

/* ---- Cases ------------------------------------------------------------- */

static void test_known_graph(void **state)
{
    const char *path = tmp_path("known");
    flo_runtime *rt;
    known k;
    pgraph g;

    (void)state;
    remove(path);
    rt = dag_rt(path, 2);
    run_known(rt, &k);
    /* The failure was reported by flo_wait_all: finalize succeeds. */
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_true(parse_dot(path, &g));
    check_known(&g, &k);
    free_graph(&g);
    remove(path);
}

/* FLO_DAG in the environment, read when ignore_env is 0. */
static void test_env_variable(void **state)
{
    const char *path = tmp_path("env");
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;
    flo_event ev;
    pgraph g;

    (void)state;
    remove(path);
    setenv("FLO_DAG", path, 1);
    cfg.host_workers = 1;
    cfg.devices = FLO_DEVICES_HOST;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    unsetenv("FLO_DAG");
    ev = sub(rt, "only", NULL, 0, NULL, 0, 0);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_true(parse_dot(path, &g));
    assert_int_equal(g.nn, 1);
    assert_int_equal(g.ne, 0);
    assert_non_null(find_node(&g, ev));
    free_graph(&g);
    remove(path);

    /* ignore_env: the variable is not read, no file is made. */
    setenv("FLO_DAG", path, 1);
    cfg.ignore_env = 1;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    unsetenv("FLO_DAG");
    sub(rt, "only", NULL, 0, NULL, 0, 0);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_int_equal(access(path, F_OK), -1);
}

/* A path that cannot be written fails flo_init and changes nothing. */
static void test_bad_path(void **state)
{
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = (flo_runtime *)(uintptr_t)0x1;

    (void)state;
    cfg.host_workers = 1;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.ignore_env = 1;
    cfg.dag_path = "/nonexistent-flotilla-dir/graph.dot";
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    assert_ptr_equal(rt, (flo_runtime *)(uintptr_t)0x1);
    cfg.dag_path = "";
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    assert_ptr_equal(rt, (flo_runtime *)(uintptr_t)0x1);
}

/* A failed flo_init removes the file it made for the graph. */
static void test_init_failure_removes_file(void **state)
{
    const char *path = tmp_path("initfail");
    flo_config cfg = FLO_CONFIG_INIT;
    flo_runtime *rt = NULL;

    (void)state;
    remove(path);
    cfg.host_workers = 1;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.ignore_env = 1;
    cfg.dag_path = path;
    cfg.topology = "this is not a topology";
    assert_int_equal(flo_init(&cfg, &rt), FLO_EINVAL);
    assert_null(rt);
    assert_int_equal(access(path, F_OK), -1);
}

/* The bound (FLO__TEST_DAG_LIMIT=5: 5 tasks, 10 dependencies): a chain of
 * 20 tasks on one worker keeps its first 5 tasks and the 4 edges between
 * them, and says what it left out. */
static void test_bound(void **state)
{
    const char *path = tmp_path("bound");
    int64_t x = 0;
    flo_event ev[20];
    flo_runtime *rt;
    flo_data h;
    pgraph g;

    (void)state;
    remove(path);
    setenv("FLO__TEST_DAG_LIMIT", "5", 1);
    rt = dag_rt(path, 1);
    unsetenv("FLO__TEST_DAG_LIMIT");
    assert_int_equal(flo_data_register(rt, &x, sizeof(x), &h), FLO_OK);
    for (int i = 0; i < 20; i++)
        ev[i] = sub(rt, "link", (flo_access_desc[]){FLO_RW(h)}, 1, NULL, 0, 0);
    assert_int_equal(flo_data_unregister(rt, h), FLO_OK);
    assert_int_equal(x, 20);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_true(parse_dot(path, &g));
    assert_true(g.truncated);
    assert_int_equal(g.lost_tasks, 15);
    assert_int_equal(g.lost_deps, 9); /* 19 edges, room for 10. */
    assert_int_equal(g.nn, 5);
    for (int i = 0; i < 5; i++)
        assert_non_null(find_node(&g, ev[i]));
    assert_int_equal(g.ne, 4);
    for (int i = 0; i < 4; i++)
        assert_non_null(find_edge(&g, ev[i], ev[i + 1], false));
    free_graph(&g);
    remove(path);
}

/* Several threads submit chains at once: every task and edge is there
 * (per-thread buffers, several chunks each). */
#define NTHREADS 4

typedef struct chain_arg {
    flo_runtime *rt;
    int n;
    flo_event *ev;
    int errors;
} chain_arg;

static void *chain_main(void *p)
{
    chain_arg *a = p;
    int64_t x = 0;
    flo_data h;
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_access_desc acc;

    if (flo_data_register(a->rt, &x, sizeof(x), &h) != FLO_OK) {
        a->errors++;
        return NULL;
    }
    acc.data = h;
    acc.mode = FLO_READ_WRITE;
    d.kernel = &kbody;
    d.name = "chain";
    d.access = &acc;
    d.naccess = 1;
    for (int i = 0; i < a->n; i++)
        if (flo_task_submit(a->rt, &d, &a->ev[i]) != FLO_OK)
            a->errors++;
    if (flo_data_unregister(a->rt, h) != FLO_OK || x != a->n)
        a->errors++;
    return NULL;
}

static void test_threads(void **state)
{
    const char *path = tmp_path("threads");
    int n = (int)flot_scaled(600, 300);
    pthread_t th[NTHREADS];
    chain_arg a[NTHREADS];
    flo_runtime *rt;
    pgraph g;

    (void)state;
    remove(path);
    rt = dag_rt(path, 2);
    for (int t = 0; t < NTHREADS; t++) {
        a[t].rt = rt;
        a[t].n = n;
        a[t].ev = calloc((size_t)n, sizeof(flo_event));
        a[t].errors = 0;
        assert_int_equal(pthread_create(&th[t], NULL, chain_main, &a[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    assert_true(parse_dot(path, &g));
    assert_int_equal(g.nn, NTHREADS * n);
    assert_int_equal(g.ne, NTHREADS * (n - 1));
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(a[t].errors, 0);
        for (int i = 0; i < n; i++) {
            assert_non_null(find_node(&g, a[t].ev[i]));
            if (i > 0)
                assert_non_null(
                    find_edge(&g, a[t].ev[i - 1], a[t].ev[i], false));
        }
        free(a[t].ev);
    }
    free_graph(&g);
    remove(path);
}

/* ---- Rendering (--render) ------------------------------------------- */

static bool have_dot(void)
{
    return system("dot -V >/dev/null 2>&1") == 0;
}

static void test_render(void **state)
{
    const char *path = tmp_path("render");
    const char *svg = tmp_path("render-svg");
    char cmd[600], *text;
    flo_runtime *rt;
    known k;
    FILE *f;
    long len;

    (void)state;
    remove(path);
    rt = dag_rt(path, 2);
    run_known(rt, &k);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    snprintf(cmd, sizeof(cmd), "dot -Tsvg '%s' -o '%s'", path, svg);
    assert_int_equal(system(cmd), 0);
    f = fopen(svg, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    /* Every task is a node of the picture, with its name on it. */
    {
        const flo_event evs[] = {k.init,    k.left, k.right, k.join, k.c1,
                                 k.c2,      k.c3,   k.evt,   k.fail, k.after,
                                 k.evafter, k.solo, k.late};
        const char *names[] = {"init",    "left", "right", "join", "c1",
                               "c2",      "c3",   "evt",   "fail", "after",
                               "evafter", "solo", "late"};
        for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
            char title[64], txt[64];
            snprintf(title, sizeof(title), "<title>t%u_%llu</title>",
                     slot_of(evs[i].id), (unsigned long long)evs[i].gen);
            snprintf(txt, sizeof(txt), ">%s</text>", names[i]);
            assert_non_null(strstr(text, title));
            assert_non_null(strstr(text, txt));
        }
    }
    assert_non_null(strstr(text, "<title>t"));
    free(text);
    remove(path);
    remove(svg);
}

int main(int argc, char **argv)
{
    flot_apply_filter();
    flot_clear_env();
    unsetenv("FLO_DAG");
    if (argc > 1 && strcmp(argv[1], "--render") == 0) {
        const struct CMUnitTest render[] = {
            cmocka_unit_test(test_render),
        };
        if (!have_dot()) {
            printf("1..0 # SKIP Graphviz dot not found (apt-get install "
                   "graphviz)\n");
            return 0;
        }
        return cmocka_run_group_tests(render, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_graph),
        cmocka_unit_test(test_env_variable),
        cmocka_unit_test(test_bad_path),
        cmocka_unit_test(test_init_failure_removes_file),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
