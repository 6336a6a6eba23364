/*
 * Flotilla - task graphs: recording submissions, launching them again.
 *
 * Recording copies each description (accesses, arguments, placement) and
 * infers, at flo_graph_end, the order among the recorded tasks the same
 * way submission does (a reader after the last writer, a writer after the
 * readers since the last writer, or after the last writer), and the union
 * of their handles with the mode the whole sequence needs.
 *
 * A capturable graph is launched as one task - the launch task - whose
 * accesses are that union, whose only entry point is the backend's graph
 * entry (flo__device_ops.graph_entry), and whose argument is the graph.
 * Against other tasks it is ordered like any task on those handles; the
 * backend runs the recorded entry points inside it (device/cuda/
 * cuda_graph.c captures them into a CUDA graph once per GPU and replays
 * it). Otherwise a launch resubmits the recorded descriptions in order
 * (their data order is inferred again), with the launch's dependencies on
 * the tasks that have no predecessor inside the graph, and a join task
 * after those with no successor gives the launch its event.
 */
#include <stdlib.h>
#include <string.h>

#include "scheduler/graph.h"
#include "scheduler/tasks.h"

_Thread_local flo_graph *flo__graph_rec;

/* ---- Recording --------------------------------------------------------- */

static void gtask_free(flo__gtask *t)
{
    free(t->acc);
    free(t->uidx);
    free(t->args);
    free(t->pred);
}

static void graph_free(flo_graph *g)
{
    for (int d = 0; d < FLO__MAX_NODES; d++)
        if (g->plan.dev[d] && g->plan.dev_free)
            g->plan.dev_free(g->plan.dev[d]);
    for (int i = 0; i < g->plan.ntasks; i++)
        gtask_free(&g->plan.tasks[i]);
    free(g->plan.tasks);
    free(g->uacc);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

/* The union index of handle h, added with no mode if new; -1 on ENOMEM. */
static int union_index(flo_graph *g, flo_data h)
{
    for (int u = 0; u < g->plan.nu; u++)
        if (flo_data_equal(g->uacc[u].data, h))
            return u;
    if (g->plan.nu == g->ucap) {
        int cap = g->ucap ? 2 * g->ucap : 8;
        flo_access_desc *p = realloc(g->uacc, (size_t)cap * sizeof(*p));
        if (!p)
            return -1;
        g->uacc = p;
        g->ucap = cap;
    }
    g->uacc[g->plan.nu].data = h;
    g->uacc[g->plan.nu].mode = 0;
    return g->plan.nu++;
}

flo_status flo__graph_record(flo_graph *g, const flo_task_desc *desc,
                             flo_event *out)
{
    flo_runtime *rt = g->rt;
    const flo_kernel *k;
    unsigned elig;
    flo_status st;

    if (!desc)
        return FLO_EINVAL;
    /* Events of recorded tasks do not exist: order through data. */
    if (desc->ndeps != 0 || desc->callback)
        return FLO_EINVAL;
    if ((st = flo__task_desc_check(rt, desc, &elig)))
        return st;
    k = desc->kernel;
    for (int i = 0; i < desc->naccess; i++) {
        size_t bytes;
        if ((st = flo_data_size(rt, desc->access[i].data, &bytes)))
            return st;
    }

    if (g->plan.ntasks == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        flo__gtask *p = realloc(g->plan.tasks, (size_t)cap * sizeof(*p));
        if (!p)
            return FLO_ENOMEM;
        g->plan.tasks = p;
        g->cap = cap;
    }
    flo__gtask *t = &g->plan.tasks[g->plan.ntasks];
    memset(t, 0, sizeof(*t));
    int n = desc->naccess;
    if (n > 0) {
        t->acc = malloc((size_t)n * sizeof(*t->acc));
        t->uidx = malloc((size_t)n * sizeof(*t->uidx));
    }
    if (desc->args_size > 0)
        t->args = malloc(desc->args_size);
    if ((n > 0 && (!t->acc || !t->uidx)) || (desc->args_size > 0 && !t->args)) {
        gtask_free(t);
        return FLO_ENOMEM;
    }
    /* Union indices last: a failure leaves the union as it was. */
    int nu0 = g->plan.nu;
    for (int i = 0; i < n; i++) {
        int u = union_index(g, desc->access[i].data);
        if (u < 0) {
            g->plan.nu = nu0;
            gtask_free(t);
            return FLO_ENOMEM;
        }
        t->uidx[i] = u;
    }
    if (n > 0)
        memcpy(t->acc, desc->access, (size_t)n * sizeof(*t->acc));
    for (int i = 0; i < n; i++) {
        flo_access_desc *ua = &g->uacc[t->uidx[i]];
        unsigned m = (unsigned)ua->mode;
        if (m == 0) /* First use: written first means nothing to read. */
            m = desc->access[i].mode == FLO_WRITE ? FLO_WRITE : FLO_READ;
        if (desc->access[i].mode & FLO_WRITE)
            m |= FLO_WRITE;
        ua->mode = (flo_access)m;
    }
    if (desc->args_size > 0)
        memcpy(t->args, desc->args, desc->args_size);
    t->naccess = n;
    t->args_size = desc->args_size;
    t->k = *k;
    t->name = flo__name_intern(desc->name ? desc->name
                               : k->name  ? k->name
                                          : "task");
    t->k.name = t->name;
    t->priority = desc->priority;
    t->device = desc->on_device - 1; /* FLO_ANY (-1) when 0. */
    t->worker = desc->on_worker - 1;
    g->plan.ntasks++;
    if (out)
        *out = FLO_EVENT_NULL;
    return FLO_OK;
}

flo_status flo_graph_begin(flo_runtime *rt, const char *name, unsigned flags,
                           flo_graph **out)
{
    if (!rt || !out || (flags & ~FLO_GRAPH_NO_CAPTURE))
        return FLO_EINVAL;
    if (flo__self_worker(rt))
        return FLO_EINVAL; /* A worker thread runs other tasks too. */
    if (flo__graph_rec)
        return FLO_EBUSY;
    if (atomic_load(&rt->stopping))
        return FLO_ESTALE;
    flo_graph *g = calloc(1, sizeof(*g));
    if (!g)
        return FLO_ENOMEM;
    g->rt = rt;
    g->plan.name = flo__name_intern(name ? name : "graph");
    if (!g->plan.name) {
        free(g);
        return FLO_ENOMEM;
    }
    g->flags = flags;
    g->owner = pthread_self();
    g->recording = true;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    pthread_mutex_lock(&rt->mu);
    g->next = rt->graphs;
    if (rt->graphs)
        rt->graphs->prev = g;
    rt->graphs = g;
    pthread_mutex_unlock(&rt->mu);
    flo__graph_rec = g;
    *out = g;
    return FLO_OK;
}

/* Predecessors inside the graph, as submission would infer them. */
static flo_status infer_order(flo_graph *g)
{
    /* Per union handle: the last writer and the readers since. */
    int *last_w = malloc((size_t)(g->plan.nu ? g->plan.nu : 1) * sizeof(int));
    int **rd = calloc((size_t)(g->plan.nu ? g->plan.nu : 1), sizeof(int *));
    int *nrd = calloc((size_t)(g->plan.nu ? g->plan.nu : 1), sizeof(int));
    int *cap = calloc((size_t)(g->plan.nu ? g->plan.nu : 1), sizeof(int));
    int *mark =
        malloc((size_t)(g->plan.ntasks ? g->plan.ntasks : 1) * sizeof(int));
    flo_status st = FLO_OK;

    if (!last_w || !rd || !nrd || !cap || !mark) {
        st = FLO_ENOMEM;
        goto out;
    }
    for (int u = 0; u < g->plan.nu; u++)
        last_w[u] = -1;
    for (int j = 0; j < g->plan.ntasks; j++)
        mark[j] = -1;
    for (int j = 0; j < g->plan.ntasks && st == FLO_OK; j++) {
        flo__gtask *t = &g->plan.tasks[j];
        int np = 0, pcap = 0;
        int *pred = NULL;
#define ADD_PRED(p)                                                            \
    do {                                                                       \
        int p_ = (p);                                                          \
        if (p_ >= 0 && mark[p_] != j) {                                        \
            if (np == pcap) {                                                  \
                int c_ = pcap ? 2 * pcap : 4;                                  \
                int *q_ = realloc(pred, (size_t)c_ * sizeof(int));             \
                if (!q_) {                                                     \
                    st = FLO_ENOMEM;                                           \
                    break;                                                     \
                }                                                              \
                pred = q_;                                                     \
                pcap = c_;                                                     \
            }                                                                  \
            mark[p_] = j;                                                      \
            pred[np++] = p_;                                                   \
        }                                                                      \
    } while (0)
        for (int i = 0; i < t->naccess && st == FLO_OK; i++) {
            int u = t->uidx[i];
            bool w = false;
            /* The union of this task's modes on u. */
            for (int i2 = 0; i2 < t->naccess; i2++)
                if (t->uidx[i2] == u && (t->acc[i2].mode & FLO_WRITE))
                    w = true;
            if (w && nrd[u] > 0) {
                for (int r = 0; r < nrd[u] && st == FLO_OK; r++)
                    if (rd[u][r] != j)
                        ADD_PRED(rd[u][r]);
            } else if (last_w[u] != j) {
                ADD_PRED(last_w[u]);
            }
        }
#undef ADD_PRED
        if (st) {
            free(pred);
            break;
        }
        t->pred = pred;
        t->npred = np;
        for (int p = 0; p < np; p++)
            g->plan.tasks[pred[p]].nsucc++;
        /* Then this task becomes a reader or the last writer. */
        for (int i = 0; i < t->naccess && st == FLO_OK; i++) {
            int u = t->uidx[i];
            bool w = false, seen = false;
            for (int i2 = 0; i2 < t->naccess; i2++)
                if (t->uidx[i2] == u) {
                    if (i2 < i)
                        seen = true;
                    if (t->acc[i2].mode & FLO_WRITE)
                        w = true;
                }
            if (seen)
                continue;
            if (w) {
                last_w[u] = j;
                nrd[u] = 0;
            } else {
                if (nrd[u] == cap[u]) {
                    int c = cap[u] ? 2 * cap[u] : 4;
                    int *q = realloc(rd[u], (size_t)c * sizeof(int));
                    if (!q) {
                        st = FLO_ENOMEM;
                        break;
                    }
                    rd[u] = q;
                    cap[u] = c;
                }
                rd[u][nrd[u]++] = j;
            }
        }
    }
out:
    if (rd)
        for (int u = 0; u < g->plan.nu; u++)
            free(rd[u]);
    free(rd);
    free(nrd);
    free(cap);
    free(last_w);
    free(mark);
    return st;
}

/* The first backend that can run a graph as one task, or NULL. */
static flo_task_fn graph_entry(flo_runtime *rt, int device)
{
    for (int d = 0; d < rt->plat.ndevices; d++) {
        if (device != FLO_ANY && d != device)
            continue;
        if (rt->plat.devices[d]->ops && rt->plat.devices[d]->ops->graph_entry)
            return rt->plat.devices[d]->ops->graph_entry;
    }
    return NULL;
}

/* Whether g can be launched as one task; why not otherwise. */
static const char *capture_verdict(flo_graph *g)
{
    flo_runtime *rt = g->rt;
    if (g->flags & FLO_GRAPH_NO_CAPTURE)
        return "FLO_GRAPH_NO_CAPTURE";
    if (g->plan.ntasks == 0)
        return "empty";
    if (rt->ngpu_workers == 0)
        return "no GPU worker";
    int dev = FLO_ANY, prio = g->plan.tasks[0].priority;
    for (int j = 0; j < g->plan.ntasks; j++) {
        const flo__gtask *t = &g->plan.tasks[j];
        if (!t->k.cuda)
            return "a task has no CUDA entry point";
        if (t->worker != FLO_ANY)
            return "a task is pinned to a worker";
        if (t->device != FLO_ANY) {
            if (dev != FLO_ANY && dev != t->device)
                return "tasks name different devices";
            dev = t->device;
        }
        if (t->priority > prio)
            prio = t->priority;
    }
    if (g->plan.nu > FLO_TASK_MAX_ACCESS)
        return "more handles than one task may access";
    flo_task_fn fn = graph_entry(rt, dev);
    if (!fn)
        return dev == FLO_ANY ? "no backend captures graphs"
                              : "the device named cannot capture graphs";
    g->device = dev;
    g->priority = prio;
    g->mk.name = g->plan.name;
    g->mk.host = NULL;
    g->mk.cuda = fn;
    return NULL;
}

flo_status flo_graph_end(flo_runtime *rt, flo_graph *g)
{
    if (!rt || !g || g->rt != rt || !g->recording || flo__graph_rec != g ||
        !pthread_equal(g->owner, pthread_self()))
        return FLO_EINVAL;
    flo_status st = infer_order(g);
    if (st)
        return st; /* Still recording: the caller may retry or destroy. */
    g->why = capture_verdict(g);
    g->captured = g->why == NULL;
    g->recording = false;
    flo__graph_rec = NULL;
    return FLO_OK;
}

/* ---- Launching --------------------------------------------------------- */

static void launch_done(void *arg, flo_status st)
{
    flo_graph *g = arg;
    (void)st;
    pthread_mutex_lock(&g->mu);
    if (--g->inflight == 0)
        pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void join_noop(flo_task_ctx *ctx)
{
    (void)ctx;
}

static const flo_kernel join_kernel = {"graph_join", join_noop, join_noop};

/* Resubmit the recorded tasks, then a join after the sinks. */
static flo_status launch_tasks(flo_runtime *rt, flo_graph *g,
                               const flo_event *deps, int ndeps, flo_event *out)
{
    int nsinks = 0;
    for (int j = 0; j < g->plan.ntasks; j++)
        nsinks += g->plan.tasks[j].nsucc == 0;
    flo_event *sinks = malloc((size_t)(nsinks ? nsinks : 1) * sizeof(*sinks));
    if (!sinks)
        return FLO_ENOMEM;
    int ns = 0;
    flo_status st = FLO_OK;
    for (int j = 0; j < g->plan.ntasks; j++) {
        const flo__gtask *t = &g->plan.tasks[j];
        flo_task_desc d = FLO_TASK_DESC_INIT;
        flo_event ev;
        d.kernel = &t->k;
        d.access = t->acc;
        d.naccess = t->naccess;
        d.args = t->args;
        d.args_size = t->args_size;
        d.priority = t->priority;
        d.on_device = FLO_DEVICE(t->device);
        d.on_worker = FLO_WORKER(t->worker);
        d.name = t->name;
        if (t->npred == 0) {
            d.deps = deps;
            d.ndeps = ndeps;
        }
        st = flo_task_submit(rt, &d, &ev);
        if (st) {
            /* Checked before: only a concurrent unregister or finalize
             * gets here; the tasks submitted so far run. */
            break;
        }
        if (t->nsucc == 0)
            sinks[ns++] = ev;
    }
    /* The join: chained when there are more sinks than one task may
     * depend on. */
    flo_event last = FLO_EVENT_NULL;
    int done = 0;
    pthread_mutex_lock(&g->mu);
    g->inflight++;
    pthread_mutex_unlock(&g->mu);
    do {
        flo_event dl[FLO_TASK_MAX_DEPS];
        int n = 0;
        if (done > 0)
            dl[n++] = last;
        while (n < FLO_TASK_MAX_DEPS && done < ns)
            dl[n++] = sinks[done++];
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &join_kernel;
        d.deps = dl;
        d.ndeps = n;
        d.name = g->plan.name;
        if (done == ns) {
            d.callback = launch_done;
            d.callback_arg = g;
        }
        flo_status jst = flo_task_submit(rt, &d, &last);
        if (jst) {
            if (done == ns)
                launch_done(g, jst);
            if (!st)
                st = jst;
            break;
        }
    } while (done < ns);
    free(sinks);
    if (out)
        *out = last;
    return st;
}

flo_status flo_graph_launch(flo_runtime *rt, flo_graph *g,
                            const flo_event *deps, int ndeps, flo_event *out)
{
    if (!rt || !g || g->rt != rt || g->recording)
        return FLO_EINVAL;
    if (ndeps < 0 || ndeps > FLO_TASK_MAX_DEPS || (ndeps > 0 && !deps))
        return FLO_EINVAL;
    if (flo__graph_rec)
        return FLO_EBUSY;
    /* Every handle still valid, so that nothing is half launched. */
    for (int u = 0; u < g->plan.nu; u++) {
        size_t b;
        flo_status st = flo_data_size(rt, g->uacc[u].data, &b);
        if (st)
            return st;
    }
    flo_status st;
    if (g->plan.ntasks == 0) {
        if (out)
            *out = FLO_EVENT_NULL;
        st = FLO_OK;
    } else if (!g->captured) {
        st = launch_tasks(rt, g, deps, ndeps, out);
    } else {
        /* The backend's graph_entry gets the plan (device/device.h). */
        flo__gplan *plan = &g->plan;
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &g->mk;
        d.access = g->uacc;
        d.naccess = g->plan.nu;
        d.args = &plan;
        d.args_size = sizeof(plan);
        d.priority = g->priority;
        d.on_device = FLO_DEVICE(g->device);
        d.deps = deps;
        d.ndeps = ndeps;
        d.callback = launch_done;
        d.callback_arg = g;
        pthread_mutex_lock(&g->mu);
        g->inflight++;
        pthread_mutex_unlock(&g->mu);
        st = flo_task_submit(rt, &d, out);
        if (st)
            launch_done(g, st);
    }
    if (st == FLO_OK)
        atomic_fetch_add(&g->launches, 1);
    return st;
}

flo_status flo_graph_get_info(flo_runtime *rt, const flo_graph *g,
                              flo_graph_info *info)
{
    if (!rt || !g || g->rt != rt || !info)
        return FLO_EINVAL;
    flo_graph *m = (flo_graph *)g; /* Atomics are read, not changed. */
    info->ntasks = g->plan.ntasks;
    info->nhandles = g->plan.nu;
    info->captured = g->captured;
    info->why = g->recording ? "still recording" : g->why;
    info->launches = atomic_load(&m->launches);
    info->captures = atomic_load(&m->plan.captures);
    info->replays = atomic_load(&m->plan.replays);
    info->plain = atomic_load(&m->plan.plain);
    return FLO_OK;
}

static void unlink_graph(flo_runtime *rt, flo_graph *g)
{
    pthread_mutex_lock(&rt->mu);
    if (g->prev)
        g->prev->next = g->next;
    else
        rt->graphs = g->next;
    if (g->next)
        g->next->prev = g->prev;
    pthread_mutex_unlock(&rt->mu);
}

flo_status flo_graph_destroy(flo_runtime *rt, flo_graph *g)
{
    if (!rt || !g || g->rt != rt)
        return FLO_EINVAL;
    if (g->recording) {
        /* Abandoning a recording is allowed from its own thread. */
        if (flo__graph_rec != g)
            return FLO_EINVAL;
        flo__graph_rec = NULL;
    }
    pthread_mutex_lock(&g->mu);
    if (g->inflight > 0 && flo__self_worker(rt)) {
        pthread_mutex_unlock(&g->mu);
        return FLO_EDEADLK;
    }
    while (g->inflight > 0)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    unlink_graph(rt, g);
    graph_free(g);
    return FLO_OK;
}

void flo__graphs_fini(flo_runtime *rt)
{
    while (rt->graphs) {
        flo_graph *g = rt->graphs;
        rt->graphs = g->next;
        if (flo__graph_rec == g)
            flo__graph_rec = NULL;
        graph_free(g);
    }
}
