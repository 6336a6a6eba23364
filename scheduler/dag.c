/*
 * Flotilla - the task graph as it ran (FLO_DAG, flo_config.dag_path),
 * written at flo_finalize as a Graphviz dot file.
 *
 * Recording. Three hooks of the task files (scheduler/dag.h) cost one
 * predictable branch on rt->dag while the graph is off. When it is on,
 * flo__dep_add_data records the data dependencies a submission is about
 * to get (under the handle's dep_lock, before its state changes),
 * record_event_deps the explicit ones (flo_task_desc.deps), and
 * flo__task_complete the task itself: its name, the worker that
 * completed it and that worker's device, its status. Each thread appends
 * to its own buffer (flo__tcache.dag, made on its first record and
 * registered with the graph under dag->mu, once per thread): per record
 * there is no lock and no allocation; every DAG_CHUNK records a thread
 * allocates a chunk and reserves its room from the graph's budget (one
 * compare-and-swap). At finalize the workers have stopped and the
 * program no longer submits, so the buffers are read without locks.
 *
 * Identity. A task is named by its event: its record's slot and
 * generation (flo__task_event), unique over the runtime's life. An edge
 * recorded at submission and a node recorded at completion, maybe on
 * other threads, thus meet at finalize without any table during the run.
 *
 * Bound. At most DAG_MAX_TASKS tasks (1,000,000) and DAG_MAX_EDGES
 * dependencies (2,000,000) are recorded, 32 bytes each: about 96 MB at
 * most, plus 8 KB per recording thread. Past either bound the graph
 * stops growing: a warning is logged once, the file says how many tasks
 * and dependencies were left out, and an edge whose two ends were not
 * both recorded is dropped. FLO__TEST_DAG_LIMIT=N (tests only) lowers
 * the bounds to N tasks and 2N dependencies.
 *
 * What is drawn. Acquires and the final waits of unregisters are not
 * tasks: their pseudo-tasks are skipped, and so is the order they
 * impose. A data dependency is an edge from each task the runtime makes
 * the new one wait for, as deps.c decides: a writer waits for the
 * readers since the last writer (for the last writer when there are
 * none), a reader for the last writer; dependencies implied by those are
 * not drawn. A handle read by 64 or more tasks in a row drops the
 * finished ones from its reader list (compact_readers in deps.c), and
 * the next writer then gets no edge from them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/dag.h"

#define DAG_MAX_TASKS 1000000
#define DAG_MAX_EDGES 2000000
#define DAG_CHUNK 256
/* Edge data of an explicit (event) dependency: no handle. */
#define DAG_EVENT UINT32_MAX

/* A task, recorded at its completion (32 bytes). */
typedef struct dag_node {
    uint64_t gen;     /* Its event: record generation ... */
    const char *name; /* Interned (flo__name_intern) or static. */
    uint32_t index;   /* ... and record slot. */
    int16_t device;   /* Device of the worker that completed it. */
    int16_t worker;
    int32_t status;
} dag_node;

/* A dependency p -> s, recorded at s's submission (32 bytes). */
typedef struct dag_edge {
    uint64_t pgen, sgen;
    uint32_t pidx, sidx;
    uint32_t data; /* Slot of the handle, or DAG_EVENT. */
} dag_edge;

/* Up to DAG_CHUNK records (nodes or edges) of one thread. */
typedef struct chunk {
    struct chunk *next;
    int n, cap; /* Used, and reserved from the budget (<= DAG_CHUNK). */
    _Alignas(16) unsigned char v[];
} chunk;

/* One thread's records (flo__tcache.dag): written by that thread only,
 * read at finalize. */
struct flo__dag_buf {
    struct flo__dag_buf *next; /* dag->bufs, under dag->mu. */
    chunk *nodes;              /* Newest chunk first (dag_node records). */
    chunk *edges;              /* dag_edge records. */
    uint64_t lost_nodes, lost_edges; /* Past the bound, or no memory. */
};

struct flo__dag {
    char *path;
    pthread_mutex_t mu; /* Guards bufs. */
    struct flo__dag_buf *bufs;
    uint64_t max_nodes, max_edges;
    /* Room not yet reserved by any thread's chunk. */
    _Atomic uint64_t nodes_left, edges_left;
    /* Records lost with no buffer to count them (no memory for one). */
    _Atomic uint64_t lost_nodes, lost_edges;
    atomic_int warned; /* The bound was reached: warned once. */
};

/* ---- Recording ---------------------------------------------------------- */

/* Take up to want records of room from *left; 0 when none is left. */
static int reserve(_Atomic uint64_t *left, int want)
{
    uint64_t v = atomic_load_explicit(left, memory_order_relaxed);
    uint64_t take;

    do {
        if (v == 0)
            return 0;
        take = v < (uint64_t)want ? v : (uint64_t)want;
    } while (!atomic_compare_exchange_weak_explicit(
        left, &v, v - take, memory_order_relaxed, memory_order_relaxed));
    return (int)take;
}

static void warn_full(struct flo__dag *g)
{
    int zero = 0;
    if (atomic_compare_exchange_strong(&g->warned, &zero, 1))
        FLO__WARN("FLO_DAG: the task graph reached its bound (%llu tasks, "
                  "%llu dependencies); later ones are left out of %s",
                  (unsigned long long)g->max_nodes,
                  (unsigned long long)g->max_edges, g->path);
}

/* The calling thread's buffer (c is its cache), made on first use; NULL
 * when c is NULL or memory is short. */
static struct flo__dag_buf *buf_of(struct flo__dag *g, flo__tcache *c)
{
    struct flo__dag_buf *b;

    if (!c)
        return NULL;
    if (FLO__LIKELY(c->dag != NULL))
        return c->dag;
    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    pthread_mutex_lock(&g->mu);
    b->next = g->bufs;
    g->bufs = b;
    pthread_mutex_unlock(&g->mu);
    c->dag = b;
    return b;
}

/* Room for one record of `size` bytes in *head (a thread's chunk list),
 * taking a chunk's worth from the budget *left when the newest is full;
 * NULL (counted in *lost) past the bound or without memory. */
static void *chunk_slot(struct flo__dag *g, chunk **head,
                        _Atomic uint64_t *left, uint64_t *lost, size_t size)
{
    chunk *k = *head;
    int room;

    if (FLO__LIKELY(k && k->n < k->cap))
        return k->v + (size_t)k->n++ * size;
    room = reserve(left, DAG_CHUNK);
    if (!room) {
        warn_full(g);
        (*lost)++;
        return NULL;
    }
    k = malloc(sizeof(*k) + (size_t)DAG_CHUNK * size);
    if (!k) {
        /* Give the room back: another thread may still use it. */
        atomic_fetch_add_explicit(left, (uint64_t)room, memory_order_relaxed);
        (*lost)++;
        return NULL;
    }
    k->n = 1;
    k->cap = room;
    k->next = *head;
    *head = k;
    return k->v;
}

static dag_node *node_slot(struct flo__dag *g, struct flo__dag_buf *b)
{
    return chunk_slot(g, &b->nodes, &g->nodes_left, &b->lost_nodes,
                      sizeof(dag_node));
}

static dag_edge *edge_slot(struct flo__dag *g, struct flo__dag_buf *b)
{
    return chunk_slot(g, &b->edges, &g->edges_left, &b->lost_edges,
                      sizeof(dag_edge));
}

static bool is_pseudo(const flo__task *t)
{
    return atomic_load_explicit(&t->flags, memory_order_relaxed) &
           FLO__TF_ACQUIRE;
}

static uint64_t task_gen(const flo__task *t)
{
    return atomic_load_explicit(&t->gen, memory_order_relaxed);
}

void flo__dag_record_node(flo_runtime *rt, flo__worker *w, flo__tcache *c,
                          flo__task *t, flo_status st)
{
    struct flo__dag *g = rt->dag;
    struct flo__dag_buf *b;
    dag_node *n;

    if (is_pseudo(t))
        return;
    b = buf_of(g, c);
    if (!b) {
        atomic_fetch_add_explicit(&g->lost_nodes, 1, memory_order_relaxed);
        return;
    }
    n = node_slot(g, b);
    if (!n)
        return;
    n->gen = task_gen(t);
    n->name = t->name ? t->name : "task";
    n->index = t->index;
    n->device = (int16_t)(w ? w->device : -1);
    n->worker = (int16_t)(w ? w->id : -1);
    n->status = st;
}

/* An edge p -> s (slot and generation of each) labelled with data. */
static void add_edge(struct flo__dag *g, flo__tcache *c, uint32_t pidx,
                     uint64_t pgen, const flo__task *s, uint32_t data)
{
    struct flo__dag_buf *b = buf_of(g, c);
    dag_edge *e;

    if (!b) {
        atomic_fetch_add_explicit(&g->lost_edges, 1, memory_order_relaxed);
        return;
    }
    e = edge_slot(g, b);
    if (!e)
        return;
    e->pidx = pidx;
    e->pgen = pgen;
    e->sidx = s->index;
    e->sgen = task_gen(s);
    e->data = data;
}

/* p -> t for t's access to data, unless p is t or not a task. p is
 * referenced by the handle (its generation is stable). */
static void add_task_edge(struct flo__dag *g, flo__tcache *c,
                          const flo__task *p, const flo__task *t, uint32_t data)
{
    if (p != t && !is_pseudo(p))
        add_edge(g, c, p->index, task_gen(p), t, data);
}

void flo__dag_record_data(flo_runtime *rt, flo__tcache *c, flo__task *t,
                          const flo__dslot *d, flo_access mode)
{
    struct flo__dag *g = rt->dag;
    uint32_t slot = d->data.slot;

    if (is_pseudo(t))
        return;
    /* The rule of flo__dep_add_data, read before it changes the state. */
    if ((mode & FLO_WRITE) && d->readers) {
        for (const flo__edge *e = d->readers; e; e = e->next)
            add_task_edge(g, c, e->task, t, slot);
    } else if (d->last_writer) {
        add_task_edge(g, c, d->last_writer, t, slot);
    }
}

void flo__dag_record_event(flo_runtime *rt, flo__tcache *c, flo__task *t,
                           flo_event dep)
{
    if (dep.id == 0 || is_pseudo(t))
        return;
    add_edge(rt->dag, c, flo__id_index(dep.id), dep.gen, t, DAG_EVENT);
}

/* ---- Start, discard ------------------------------------------------------ */

static void dag_free(struct flo__dag *g)
{
    struct flo__dag_buf *b = g->bufs;

    while (b) {
        struct flo__dag_buf *nb = b->next;
        while (b->nodes) {
            chunk *k = b->nodes->next;
            free(b->nodes);
            b->nodes = k;
        }
        while (b->edges) {
            chunk *k = b->edges->next;
            free(b->edges);
            b->edges = k;
        }
        free(b);
        b = nb;
    }
    pthread_mutex_destroy(&g->mu);
    free(g->path);
    free(g);
}

flo_status flo__dag_start(flo_runtime *rt, const char *path)
{
    struct flo__dag *g;
    FILE *f;
    long lim;

    /* Open it now: a path that cannot be written fails flo_init instead
     * of losing the graph at finalize. */
    f = fopen(path, "a");
    if (!f) {
        FLO__ERR("cannot write the task graph file '%s' (FLO_DAG): %s", path,
                 strerror(errno));
        return FLO_EINVAL;
    }
    fclose(f);
    g = calloc(1, sizeof(*g));
    if (!g)
        return FLO_ENOMEM;
    g->path = strdup(path);
    if (!g->path || pthread_mutex_init(&g->mu, NULL)) {
        free(g->path);
        free(g);
        return FLO_ENOMEM;
    }
    g->max_nodes = DAG_MAX_TASKS;
    g->max_edges = DAG_MAX_EDGES;
    if (flo__env_int("FLO__TEST_DAG_LIMIT", &lim) && lim > 0 &&
        lim < DAG_MAX_TASKS) {
        g->max_nodes = (uint64_t)lim;
        g->max_edges = 2 * (uint64_t)lim;
    }
    atomic_init(&g->nodes_left, g->max_nodes);
    atomic_init(&g->edges_left, g->max_edges);
    rt->dag = g;
    rt->cfg.dag_path = g->path;
    return FLO_OK;
}

void flo__dag_discard(flo_runtime *rt)
{
    struct flo__dag *g = rt->dag;

    if (!g)
        return;
    rt->dag = NULL;
    rt->cfg.dag_path = NULL;
    remove(g->path);
    dag_free(g);
}

/* ---- Writing ---------------------------------------------------------- */

static int key_cmp(uint32_t ai, uint64_t ag, uint32_t bi, uint64_t bg)
{
    if (ai != bi)
        return ai < bi ? -1 : 1;
    return ag < bg ? -1 : ag > bg;
}

static int node_cmp(const void *a, const void *b)
{
    const dag_node *x = a, *y = b;
    return key_cmp(x->index, x->gen, y->index, y->gen);
}

/* Sources, then destinations, then data edges before event edges, then
 * handles: duplicates and the handles of one pair end up adjacent. */
static int edge_cmp(const void *a, const void *b)
{
    const dag_edge *x = a, *y = b;
    int c = key_cmp(x->pidx, x->pgen, y->pidx, y->pgen);

    if (!c)
        c = key_cmp(x->sidx, x->sgen, y->sidx, y->sgen);
    if (!c)
        c = x->data < y->data ? -1 : x->data > y->data;
    return c;
}

static bool has_node(const dag_node *v, size_t n, uint32_t idx, uint64_t gen)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(v[mid].index, v[mid].gen, idx, gen);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Fill colours by device: the host, then GPUs cycling through the rest. */
static const char *const palette[] = {
    "#cfe2f3", "#d9ead3", "#fff2cc", "#fce5cd", "#ead1dc",
    "#d9d2e9", "#d0e0e3", "#f4cccc", "#b6d7a8", "#ffe599",
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))
#define CANCELED_FILL "#f3f3f3"

static const char *device_colour(int dev)
{
    if (dev < 0)
        return CANCELED_FILL;
    return palette[(size_t)dev % NPALETTE];
}

/* s as the inside of a dot string: quotes and backslashes escaped,
 * control characters dropped. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch >= 0x20)
            fputc(ch, f);
    }
}

/* "FLO_ETASK" of "FLO_ETASK: the task reported failure". */
static void put_status_name(FILE *f, flo_status st)
{
    const char *s = flo_status_str(st);
    const char *colon = strchr(s, ':');
    fprintf(f, "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
}

static void put_device_name(FILE *f, const flo_runtime *rt, int dev)
{
    const flo_device_info *in;

    if (dev < 0 || dev >= rt->plat.ndevices) {
        fputs("?", f);
        return;
    }
    in = &rt->plat.devices[dev]->info;
    if (in->kind == FLO_DEVICE_HOST) {
        fputs("host", f);
        return;
    }
    fprintf(f, "GPU %d: ", dev);
    put_escaped(f, in->name);
    fprintf(f, " (cuda %d", in->ordinal);
    if (rt->cfg.logical_gpus > 1)
        fprintf(f, ", logical %d", in->logical_index);
    fputc(')', f);
}

static void put_node(FILE *f, const flo_runtime *rt, const dag_node *n)
{
    bool canceled = n->status == FLO_ECANCELED;
    bool failed = n->status != FLO_OK && !canceled;

    fprintf(f, "  t%u_%llu [label=\"", n->index, (unsigned long long)n->gen);
    put_escaped(f, n->name);
    fprintf(f, "\\n#%u.%llu", n->index, (unsigned long long)n->gen);
    if (failed) {
        fputs("\\n", f);
        put_status_name(f, n->status);
    } else if (canceled) {
        fputs("\\ncanceled", f);
    }
    fprintf(f, "\", fillcolor=\"%s\"",
            canceled ? CANCELED_FILL : device_colour(n->device));
    if (failed)
        fputs(", color=\"#cc0000\", penwidth=2.5", f);
    else if (canceled)
        fputs(", style=\"rounded,filled,dashed\"", f);
    fputs(", tooltip=\"", f);
    put_escaped(f, n->name);
    if (canceled)
        fprintf(f, ": canceled, not run (worker %d)", n->worker);
    else {
        fprintf(f, ": worker %d, ", n->worker);
        put_device_name(f, rt, n->device);
    }
    fputs(", ", f);
    put_status_name(f, n->status);
    fputs("\"];\n", f);
}

/* Edges [i, j) join the same pair; write them as one edge per kind. */
static void put_edges(FILE *f, const dag_edge *v, size_t i, size_t j)
{
    size_t k = i;

    if (v[k].data != DAG_EVENT) {
        fprintf(f, "  t%u_%llu -> t%u_%llu [label=\"", v[k].pidx,
                (unsigned long long)v[k].pgen, v[k].sidx,
                (unsigned long long)v[k].sgen);
        for (; k < j && v[k].data != DAG_EVENT; k++) {
            if (k > i && v[k].data == v[k - 1].data)
                continue;
            fprintf(f, "%sd%u", k > i ? "," : "", v[k].data);
        }
        fputs("\"];\n", f);
    }
    if (k < j)
        fprintf(f, "  t%u_%llu -> t%u_%llu [style=dashed];\n", v[k].pidx,
                (unsigned long long)v[k].pgen, v[k].sidx,
                (unsigned long long)v[k].sgen);
}

static void put_legend(FILE *f, const flo_runtime *rt)
{
    fputs("  subgraph cluster_legend {\n"
          "    label=\"legend\"; style=\"rounded,dashed\"; color=\"#999999\";"
          " fontsize=10;\n",
          f);
    for (int d = 0; d < rt->plat.ndevices; d++) {
        fprintf(f, "    legend_dev%d [label=\"", d);
        put_device_name(f, rt, d);
        fprintf(f, "\", fillcolor=\"%s\"];\n", device_colour(d));
    }
    fputs("    legend_failed [label=\"failed\", fillcolor=\"#ffffff\", "
          "color=\"#cc0000\", penwidth=2.5];\n"
          "    legend_canceled [label=\"canceled\", fillcolor=\"" CANCELED_FILL
          "\", style=\"rounded,filled,dashed\"];\n"
          "    legend_data_a [shape=point, width=0.05];\n"
          "    legend_data_b [shape=point, width=0.05];\n"
          "    legend_data_a -> legend_data_b [label=\"data (handle)\"];\n"
          "    legend_event_a [shape=point, width=0.05];\n"
          "    legend_event_b [shape=point, width=0.05];\n"
          "    legend_event_a -> legend_event_b [label=\"event\", "
          "style=dashed];\n",
          f);
    /* Stack the device boxes (invisible edges only order them). */
    for (int d = 0; d + 1 < rt->plat.ndevices; d++)
        fprintf(f, "    legend_dev%d -> legend_dev%d [style=invis];\n", d,
                d + 1);
    fprintf(f,
            "    legend_dev%d -> legend_failed [style=invis];\n"
            "    legend_failed -> legend_canceled [style=invis];\n"
            "  }\n",
            rt->plat.ndevices - 1);
}

static flo_status write_dot(const flo_runtime *rt, const struct flo__dag *g,
                            dag_node *nodes, size_t nn, dag_edge *edges,
                            size_t ne, uint64_t lost_nodes, uint64_t lost_edges)
{
    size_t kept = 0, ndrawn = 0;
    FILE *f;

    qsort(nodes, nn, sizeof(*nodes), node_cmp);
    /* Keep the edges whose ends are both nodes; sort them by pair. */
    for (size_t i = 0; i < ne; i++)
        if (has_node(nodes, nn, edges[i].pidx, edges[i].pgen) &&
            has_node(nodes, nn, edges[i].sidx, edges[i].sgen))
            edges[kept++] = edges[i];
    qsort(edges, kept, sizeof(*edges), edge_cmp);
    for (size_t i = 0; i < kept;) {
        size_t j = i + 1;
        while (j < kept &&
               !key_cmp(edges[j].pidx, edges[j].pgen, edges[i].pidx,
                        edges[i].pgen) &&
               !key_cmp(edges[j].sidx, edges[j].sgen, edges[i].sidx,
                        edges[i].sgen))
            j++;
        ndrawn +=
            (edges[i].data != DAG_EVENT) + (edges[j - 1].data == DAG_EVENT);
        i = j;
    }

    f = fopen(g->path, "w");
    if (!f) {
        FLO__ERR("cannot write the task graph file '%s' (FLO_DAG): %s", g->path,
                 strerror(errno));
        return FLO_ESYS;
    }
    fprintf(f,
            "// Flotilla task graph (FLO_DAG): %zu tasks, %zu dependencies.\n"
            "// Nodes: tasks (name, #slot.generation of their event), filled "
            "with the colour\n"
            "// of the device that ran them; red border: failed; dashed: "
            "canceled, not run.\n"
            "// Edges: solid: data dependency (label: the handles, "
            "d<slot>); dashed: explicit\n"
            "// event dependency. Render: dot -Tsvg FILE -o graph.svg\n",
            nn, ndrawn);
    if (lost_nodes || lost_edges)
        fprintf(f,
                "// truncated: %llu tasks and %llu dependencies were not "
                "recorded (bound: %llu tasks,\n"
                "// %llu dependencies); edges to tasks not recorded are "
                "left out.\n",
                (unsigned long long)lost_nodes, (unsigned long long)lost_edges,
                (unsigned long long)g->max_nodes,
                (unsigned long long)g->max_edges);
    fputs("digraph flotilla {\n"
          "  graph [rankdir=TB, fontname=\"Helvetica\", fontsize=10];\n"
          "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\","
          " fontsize=10, color=\"#444444\"];\n"
          "  edge [color=\"#444444\", fontname=\"Helvetica\", fontsize=8];\n",
          f);
    if (lost_nodes || lost_edges)
        fprintf(f,
                "  label=\"truncated: %llu tasks and %llu dependencies not "
                "recorded\"; labelloc=t;\n",
                (unsigned long long)lost_nodes, (unsigned long long)lost_edges);
    for (size_t i = 0; i < nn; i++)
        put_node(f, rt, &nodes[i]);
    for (size_t i = 0; i < kept;) {
        size_t j = i + 1;
        while (j < kept &&
               !key_cmp(edges[j].pidx, edges[j].pgen, edges[i].pidx,
                        edges[i].pgen) &&
               !key_cmp(edges[j].sidx, edges[j].sgen, edges[i].sidx,
                        edges[i].sgen))
            j++;
        put_edges(f, edges, i, j);
        i = j;
    }
    put_legend(f, rt);
    fputs("}\n", f);
    if (ferror(f) | fclose(f)) {
        FLO__ERR("writing the task graph file '%s' (FLO_DAG) failed", g->path);
        return FLO_ESYS;
    }
    return FLO_OK;
}

flo_status flo__dag_finish(flo_runtime *rt)
{
    struct flo__dag *g = rt->dag;
    uint64_t lost_nodes, lost_edges;
    size_t nn = 0, ne = 0;
    dag_node *nodes;
    dag_edge *edges;
    flo_status st;

    if (!g)
        return FLO_OK;
    rt->dag = NULL; /* Nothing records from here on (retire included). */
    lost_nodes = atomic_load(&g->lost_nodes);
    lost_edges = atomic_load(&g->lost_edges);
    for (struct flo__dag_buf *b = g->bufs; b; b = b->next) {
        for (chunk *k = b->nodes; k; k = k->next)
            nn += (size_t)k->n;
        for (chunk *k = b->edges; k; k = k->next)
            ne += (size_t)k->n;
        lost_nodes += b->lost_nodes;
        lost_edges += b->lost_edges;
    }
    nodes = malloc((nn ? nn : 1) * sizeof(*nodes));
    edges = malloc((ne ? ne : 1) * sizeof(*edges));
    if (!nodes || !edges) {
        FLO__ERR("no memory to write the task graph file '%s' (FLO_DAG)",
                 g->path);
        st = FLO_ESYS;
        goto out;
    }
    nn = ne = 0;
    for (struct flo__dag_buf *b = g->bufs; b; b = b->next) {
        for (chunk *k = b->nodes; k; k = k->next) {
            memcpy(nodes + nn, k->v, (size_t)k->n * sizeof(*nodes));
            nn += (size_t)k->n;
        }
        for (chunk *k = b->edges; k; k = k->next) {
            memcpy(edges + ne, k->v, (size_t)k->n * sizeof(*edges));
            ne += (size_t)k->n;
        }
    }
    st = write_dot(rt, g, nodes, nn, edges, ne, lost_nodes, lost_edges);
out:
    free(nodes);
    free(edges);
    rt->cfg.dag_path = NULL;
    dag_free(g);
    return st;
}
