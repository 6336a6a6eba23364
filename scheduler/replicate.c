/*
 * Flotilla - replicated tasks (flo_task_submit_replicated,
 * include/flotilla/resilience.h): n copies of a task on distinct devices,
 * each on private versions of the buffers the task writes, and a vote
 * that chooses one result and writes it to the task's buffers.
 *
 * A replicated task is a group of ordinary tasks submitted at one point
 * (flo__task_submit_group), so that for the dependency order the whole
 * is one task, also against other threads submitting on the same
 * handles:
 *
 *   in k    (when the task reads a buffer it writes) on copy k's device:
 *           reads the real FLO_READ_WRITE buffers and writes copy k's
 *           private versions of them with the device's copy_entry, so
 *           that the data does not go through the host;
 *   copy k  the program's entry points on copy k's device (FLO_DEVICE,
 *           and FLO_WORKER when several copies share the device): the
 *           buffers the task only reads are the real ones, those it
 *           writes are copy k's private versions (FLO_READ_WRITE, so a
 *           FLO_WRITE buffer's version starts as zeros);
 *   vote    a host task: reads every copy's private versions, reads and
 *           writes the real written buffers (a vote that fails leaves
 *           them as they were), and waits as a reader for the real
 *           buffers the task only reads, without moving them.
 *
 * The copies and the input copies are contained (FLO__TF_CONTAINED):
 * their failures cancel nothing but a copy after its own input copy (a
 * hard edge) and are not the program's; the vote judges them. The
 * private versions are runtime-owned handles no one else can name. The
 * vote's completion callback, which also runs when the vote is canceled
 * and always after every copy finished, discards them
 * (flo__data_discard: nothing to wait for, nothing written back), drops
 * the references on the copies' records, frees the state and calls the
 * program's callback.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla/resilience.h"
#include "scheduler/graph.h"
#include "scheduler/tasks.h"

typedef struct rep_state rep_state;

/* One copy. Set at submission (the references before any task of the
 * group can run), then status and order by its completion callback, read
 * by the vote once every copy finished (the edges order them). */
typedef struct rep_copy {
    rep_state *s;
    int device; /* Where it was placed. */
    flo_status status;
    int order;       /* Rank at which it finished, 0 first. */
    flo__task *task; /* Reference on its record (for its message). */
    flo__task *in;   /* Reference on its input copy's record, or NULL. */
} rep_copy;

/* A replicated task, from its submission to its vote's completion. */
struct rep_state {
    flo_runtime *rt;
    const char *name; /* Interned. */
    int copies;
    int nw; /* Distinct handles the task writes. */
    flo_replicate_vote vote;
    flo_replicate_validate_fn validate;
    void *validate_arg;
    flo_task_callback cb; /* The program's, for the whole. */
    void *cb_arg;
    atomic_int finished; /* Copies finished so far (their order). */
    rep_copy *copy;      /* copies of them. */
    flo_data *priv;      /* copies x nw private versions, copy-major. */
    size_t *sizes;       /* nw sizes. */
    const void **bufs;   /* nw pointers: what validate gets. */
};

/* How the vote saw a copy. */
enum { SEEN_NOT = 0, SEEN_FAILED, SEEN_REJECTED, SEEN_ACCEPTED };

/* ---- Placement ---------------------------------------------------------- */

/* The devices copies go to, in order: every GPU that can run the kernel,
 * then the host when it can. Their number. */
static int rep_devices(const flo_runtime *rt, const flo_kernel *k, int *devs)
{
    int n = 0;

    for (int d = 1; d < rt->plat.ndevices; d++) {
        const flo__device *dev = rt->plat.devices[d];
        if (k->cuda && dev->kind == FLO_DEVICE_CUDA && dev->nworkers > 0 &&
            !dev->info.failed)
            devs[n++] = d;
    }
    if (k->host && rt->plat.devices[0]->nworkers > 0)
        devs[n++] = 0;
    return n;
}

/* Copy k's placement: its device (*dev) and its on_worker value (0 when
 * it is the only copy on its device, else a distinct worker of it while
 * there are enough). */
static int rep_worker(const flo_runtime *rt, const int *devs, int ndev,
                      int copies, int k, int *dev)
{
    const flo__device *x;
    int on_dev, j;

    *dev = devs[k % ndev];
    x = rt->plat.devices[*dev];
    on_dev = (copies - 1 - k % ndev) / ndev + 1;
    if (on_dev < 2 || x->nworkers < 2)
        return 0;
    j = k / ndev;
    return FLO_WORKER(x->first_worker + j % x->nworkers);
}

/* The kernel of copy k's input copy: the copy entry point of its device,
 * or of the host when that device's backend has none. */
static void in_kernel(const flo_runtime *rt, int dev, const char *name,
                      flo_kernel *k, int *on_device)
{
    const flo__device *x = rt->plat.devices[dev];

    if (!x->ops->copy_entry)
        x = rt->plat.devices[0];
    memset(k, 0, sizeof(*k));
    k->name = name;
    if (x->kind == FLO_DEVICE_HOST)
        k->host = x->ops->copy_entry;
    else
        k->cuda = x->ops->copy_entry;
    *on_device = FLO_DEVICE(x->index);
}

/* ---- The vote ---------------------------------------------------- */

/* Whether copy k finished and its result passes validate (SEEN_*). */
static int judge(rep_state *s, flo_task_ctx *ctx, int k)
{
    if (s->copy[k].status != FLO_OK)
        return SEEN_FAILED;
    if (!s->validate)
        return SEEN_ACCEPTED;
    for (int j = 0; j < s->nw; j++)
        s->bufs[j] = flo_task_buffer(ctx, k * s->nw + j);
    return s->validate(s->validate_arg, k, s->bufs, s->sizes, s->nw)
               ? SEEN_ACCEPTED
               : SEEN_REJECTED;
}

/* Whether copies a and b produced the same bytes in every buffer. */
static bool same_result(const rep_state *s, flo_task_ctx *ctx, int a, int b)
{
    for (int j = 0; j < s->nw; j++)
        if (memcmp(flo_task_buffer(ctx, a * s->nw + j),
                   flo_task_buffer(ctx, b * s->nw + j), s->sizes[j]) != 0)
            return false;
    return true;
}

/* Append to a message of at most len bytes, cutting what does not fit. */
static void msg_add(char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void msg_add(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*at + 1 >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *at, len - *at, fmt, ap);
    va_end(ap);
    if (n > 0)
        *at = FLO__MIN(*at + (size_t)n, len - 1);
}

/* The vote failed: fail it with every copy's outcome. */
static void vote_fail(rep_state *s, flo_task_ctx *ctx, const int *seen,
                      int best)
{
    char msg[512];
    size_t at = 0;

    if (s->vote == FLO_REPLICATE_FIRST)
        msg_add(msg, sizeof(msg), &at,
                "replicated task '%s': no copy accepted (vote first, %d "
                "copies)",
                s->name, s->copies);
    else
        msg_add(msg, sizeof(msg), &at,
                "replicated task '%s': no majority (vote majority, %d "
                "copies, at most %d agree, %d needed)",
                s->name, s->copies, best, s->copies / 2 + 1);
    for (int k = 0; k < s->copies; k++) {
        rep_copy *c = &s->copy[k];
        msg_add(msg, sizeof(msg), &at,
                "%s copy %d on device %d: ", k ? ";" : ":", k, c->device);
        if (seen[k] == SEEN_ACCEPTED) {
            msg_add(msg, sizeof(msg), &at, "accepted");
        } else if (seen[k] == SEEN_REJECTED) {
            msg_add(msg, sizeof(msg), &at, "rejected by validate");
        } else if (c->in &&
                   atomic_load_explicit(&c->in->status, memory_order_relaxed)) {
            msg_add(msg, sizeof(msg), &at, "its input copy failed (%s)",
                    c->in->msg ? c->in->msg : "no message");
        } else {
            msg_add(msg, sizeof(msg), &at, "%s (%s)", flo_status_str(c->status),
                    c->task->msg ? c->task->msg : "no message");
        }
    }
    flo_task_fail(ctx, FLO_ETASK, "%s", msg);
}

/*
 * The vote's entry point, on a host worker once every copy finished. Its
 * buffers: copy k's private version of written handle j at k * nw + j,
 * then the task's written buffers at copies * nw + j.
 */
static void vote_entry(flo_task_ctx *ctx)
{
    rep_state *const *sp = FLO_TASK_ARGS(ctx, rep_state *);
    rep_state *s = sp ? *sp : NULL;
    int seen[FLO_REPLICATE_MAX] = {0};
    int chosen = -1, best = 0, n;

    if (!s) {
        flo_task_fail(ctx, FLO_EINTERNAL, "vote task without its state");
        return;
    }
    n = s->copies;
    if (s->vote == FLO_REPLICATE_FIRST) {
        /* In the order the copies finished, up to the first accepted. */
        for (int r = 0; r < n && chosen < 0; r++) {
            for (int k = 0; k < n; k++) {
                if (s->copy[k].order != r)
                    continue;
                seen[k] = judge(s, ctx, k);
                if (seen[k] == SEEN_ACCEPTED)
                    chosen = k;
            }
        }
    } else {
        int agree[FLO_REPLICATE_MAX] = {0};
        for (int k = 0; k < n; k++)
            seen[k] = judge(s, ctx, k);
        for (int k = 0; k < n; k++) {
            if (seen[k] != SEEN_ACCEPTED)
                continue;
            for (int j = 0; j < n; j++)
                if (seen[j] == SEEN_ACCEPTED &&
                    (j == k || same_result(s, ctx, k, j)))
                    agree[k]++;
            best = FLO__MAX(best, agree[k]);
            if (chosen < 0 && 2 * agree[k] > n)
                chosen = k;
        }
    }
    if (chosen < 0) {
        vote_fail(s, ctx, seen, best);
        return;
    }
    for (int j = 0; j < s->nw; j++)
        memcpy(flo_task_buffer(ctx, n * s->nw + j),
               flo_task_buffer(ctx, chosen * s->nw + j), s->sizes[j]);
}

/* A copy finished (also when it failed or was canceled). */
static void copy_done(void *arg, flo_status st)
{
    rep_copy *c = arg;

    c->status = st;
    c->order =
        atomic_fetch_add_explicit(&c->s->finished, 1, memory_order_relaxed);
}

/* The state and what it owns: the private versions (discarded: every task
 * recorded on them has run) and the references on the copies' records. */
static void rep_free(rep_state *s, flo__tcache *c)
{
    for (int k = 0; k < s->copies; k++) {
        if (s->copy[k].task)
            flo__task_unref(s->rt, c, s->copy[k].task);
        if (s->copy[k].in)
            flo__task_unref(s->rt, c, s->copy[k].in);
    }
    for (int i = 0; i < s->copies * s->nw; i++)
        if (s->priv[i].id)
            flo__data_discard(s->rt, s->priv[i]);
    free(s);
}

/* The vote finished, ran or not: every copy has finished before it. */
static void vote_done(void *arg, flo_status st)
{
    rep_state *s = arg;
    flo_task_callback cb = s->cb;
    void *cb_arg = s->cb_arg;

    rep_free(s, flo__tcache_get(s->rt));
    if (cb)
        cb(cb_arg, st);
}

static const flo_kernel vote_kernel = {"flo:vote", vote_entry, NULL};

/* ---- Submission -------------------------------------------------- */

/* A handle of the task, for finding its distinct handles. */
typedef struct rep_ent {
    flo__dslot *d;
    int i; /* Entry index. */
} rep_ent;

static int rep_ent_cmp(const void *a, const void *b)
{
    const rep_ent *x = a, *y = b;
    if (x->d != y->d)
        return (uintptr_t)x->d < (uintptr_t)y->d ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * The task's distinct handles: lead[i] is the first entry naming entry
 * i's handle, merged[i] (for a lead) the union of their modes. FLO_EINVAL,
 * FLO_EFOREIGN or FLO_ESTALE for a bad handle, FLO_ENOMEM.
 */
static flo_status rep_handles(flo_runtime *rt, const flo_task_desc *desc,
                              int *lead, uint8_t *merged, size_t *bytes)
{
    int n = desc->naccess;
    rep_ent *e = malloc((size_t)(n ? n : 1) * sizeof(*e));
    flo_status st = FLO_OK;

    if (!e)
        return FLO_ENOMEM;
    for (int i = 0; i < n; i++) {
        e[i].d = flo__data_lookup(rt, desc->access[i].data, &st);
        e[i].i = i;
        if (!e[i].d)
            goto out;
        bytes[i] = e[i].d->data.bytes;
        merged[i] = 0;
    }
    qsort(e, (size_t)n, sizeof(*e), rep_ent_cmp);
    for (int g = 0; g < n;) {
        int h = g;
        for (; h < n && e[h].d == e[g].d; h++) {
            lead[e[h].i] = e[g].i;
            merged[e[g].i] |= (uint8_t)desc->access[e[h].i].mode;
        }
        g = h;
    }
out:
    free(e);
    return st;
}

/* Check rep and the parts of desc flo_task_submit does not refuse. */
static flo_status rep_check(const flo_task_desc *desc,
                            const flo_replicate_desc *rep)
{
    if (rep->size != 0 && rep->size != sizeof(flo_replicate_desc)) {
        FLO__ERR("flo_replicate_desc.size is %zu, expected %zu (or 0)",
                 rep->size, sizeof(flo_replicate_desc));
        return FLO_EINVAL;
    }
    if (rep->copies < 2 || rep->copies > FLO_REPLICATE_MAX) {
        FLO__ERR("flo_replicate_desc.copies is %d: 2 .. %d", rep->copies,
                 FLO_REPLICATE_MAX);
        return FLO_EINVAL;
    }
    if (rep->vote != FLO_REPLICATE_FIRST &&
        rep->vote != FLO_REPLICATE_MAJORITY) {
        FLO__ERR("flo_replicate_desc.vote is %d: not a flo_replicate_vote",
                 (int)rep->vote);
        return FLO_EINVAL;
    }
    if (desc->on_device != 0 || desc->on_worker != 0) {
        FLO__ERR("a replicated task places its copies itself: on_device and "
                 "on_worker must be 0");
        return FLO_EINVAL;
    }
    return FLO_OK;
}

/* What one submission builds: the group and its descriptions, all in one
 * block (the group copies what it keeps). */
typedef struct rep_build {
    flo__group_task *g;
    flo_task_desc *desc;
    flo_kernel *in_k;
    flo_access_desc *acc;
    flo_data *ro; /* Handles the task only reads. */
    int ng;
} rep_build;

flo_status flo_task_submit_replicated(flo_runtime *rt,
                                      const flo_task_desc *desc,
                                      const flo_replicate_desc *rep,
                                      flo_event *out)
{
    const int na = desc ? desc->naccess : 0;
    int devs[FLO__MAX_NODES], ndev, nw = 0, nrw = 0, nro = 0, n;
    int *lead = NULL, *widx = NULL;
    uint8_t *merged = NULL;
    size_t *bytes = NULL;
    char vote_name[128], in_name[128];
    flo__copy_args cargs;
    rep_state *s = NULL;
    rep_build b = {0};
    unsigned elig;
    flo_status st;
    size_t sz;
    char *p;

    if (!rt || !desc || !rep)
        return FLO_EINVAL;
    st = rep_check(desc, rep);
    if (st != FLO_OK)
        return st;
    if (flo__graph_recording(rt)) {
        FLO__ERR("a replicated task cannot be recorded into a graph");
        return FLO_ENOTSUP;
    }
    if (atomic_load_explicit(&rt->stopping, memory_order_relaxed))
        return FLO_ESTALE;
    st = flo__task_desc_check(rt, desc, &elig);
    if (st != FLO_OK)
        return st;
    n = rep->copies;
    ndev = rep_devices(rt, desc->kernel, devs);
    if (ndev == 0 || rt->plat.devices[0]->nworkers == 0)
        return FLO_ENODEV; /* The vote runs on a host worker. */

    /* The task's handles: which it writes (each gets a private version
     * per copy), which it reads and writes (an input copy starts them),
     * which it only reads. */
    sz = (size_t)(na ? na : 1);
    lead = malloc(sz * (2 * sizeof(int) + sizeof(size_t) + 1));
    if (!lead)
        return FLO_ENOMEM;
    widx = lead + sz;
    bytes = (size_t *)(widx + sz);
    merged = (uint8_t *)(bytes + sz);
    st = rep_handles(rt, desc, lead, merged, bytes);
    if (st != FLO_OK)
        goto out;
    for (int i = 0; i < na; i++) {
        widx[i] = -1;
        if (lead[i] != i) {
            widx[i] = widx[lead[i]];
        } else if (merged[i] & FLO_WRITE) {
            widx[i] = nw++;
            nrw += (merged[i] & FLO_READ) != 0;
        } else {
            nro++;
        }
    }
    if ((int64_t)(n + 1) * nw > FLO_TASK_MAX_ACCESS) {
        FLO__ERR("a replicated task writes %d buffers: its vote would "
                 "access more than %d",
                 nw, FLO_TASK_MAX_ACCESS);
        st = FLO_EINVAL;
        goto out;
    }

    /* The state, with its arrays in the same block. */
    sz = sizeof(*s) + (size_t)n * sizeof(rep_copy) +
         (size_t)n * (size_t)nw * sizeof(flo_data) +
         (size_t)nw * (sizeof(size_t) + sizeof(void *));
    s = calloc(1, sz);
    if (!s) {
        st = FLO_ENOMEM;
        goto out;
    }
    s->copy = (rep_copy *)(s + 1);
    s->priv = (flo_data *)(s->copy + n);
    s->sizes = (size_t *)(s->priv + (size_t)n * nw);
    s->bufs = (const void **)(s->sizes + nw);
    s->rt = rt;
    s->copies = n;
    s->nw = nw;
    s->vote = rep->vote;
    s->validate = rep->validate;
    s->validate_arg = rep->validate_arg;
    s->cb = desc->callback;
    s->cb_arg = desc->callback_arg;
    s->name = flo__name_intern(
        desc->name ? desc->name
                   : (desc->kernel->name ? desc->kernel->name : "task"));
    if (!s->name)
        s->name = "task";
    atomic_init(&s->finished, 0);
    for (int i = 0; i < na; i++)
        if (lead[i] == i && widx[i] >= 0)
            s->sizes[widx[i]] = bytes[i];
    for (int k = 0; k < n; k++) {
        s->copy[k].s = s;
        for (int j = 0; j < nw; j++) {
            st = flo_data_alloc(rt, s->sizes[j], &s->priv[k * nw + j]);
            if (st != FLO_OK)
                goto out;
        }
    }

    /* The group: per copy its input copy (if any) and itself, then the
     * vote; and every access list, in one block. */
    b.ng = n * (nrw ? 2 : 1) + 1;
    sz = (size_t)b.ng * (sizeof(flo__group_task) + sizeof(flo_task_desc)) +
         (size_t)n * sizeof(flo_kernel) +
         ((size_t)n * (size_t)(2 * nrw + na) + (size_t)(n + 1) * nw) *
             sizeof(flo_access_desc) +
         (size_t)nro * sizeof(flo_data);
    b.g = calloc(1, sz);
    if (!b.g) {
        st = FLO_ENOMEM;
        goto out;
    }
    b.desc = (flo_task_desc *)(b.g + b.ng);
    b.in_k = (flo_kernel *)(b.desc + b.ng);
    b.acc = (flo_access_desc *)(b.in_k + n);
    b.ro = (flo_data *)(b.acc + (size_t)n * (size_t)(2 * nrw + na) +
                        (size_t)(n + 1) * nw);
    p = (char *)b.acc;
    snprintf(in_name, sizeof(in_name), "%s:in", s->name);
    snprintf(vote_name, sizeof(vote_name), "%s:vote", s->name);
    cargs.n = nrw;

    for (int k = 0, gi = 0; k < n; k++) {
        flo_access_desc *a;
        flo_task_desc *d;
        int on_worker = rep_worker(rt, devs, ndev, n, k, &s->copy[k].device);
        int in = -1;

        if (nrw) {
            int on_device, m = 0;
            a = (flo_access_desc *)p;
            p += (size_t)(2 * nrw) * sizeof(*a);
            for (int i = 0; i < na; i++) {
                if (lead[i] != i || widx[i] < 0 || !(merged[i] & FLO_READ))
                    continue;
                a[m].data = desc->access[i].data;
                a[m].mode = FLO_READ;
                a[nrw + m].data = s->priv[k * nw + widx[i]];
                a[nrw + m].mode = FLO_WRITE;
                m++;
            }
            in_kernel(rt, s->copy[k].device, in_name, &b.in_k[k], &on_device);
            d = &b.desc[gi];
            d->size = sizeof(*d);
            d->kernel = &b.in_k[k];
            d->access = a;
            d->naccess = 2 * nrw;
            d->args = &cargs;
            d->args_size = sizeof(cargs);
            d->priority = desc->priority;
            d->on_device = on_device;
            d->deps = desc->deps;
            d->ndeps = desc->ndeps;
            b.g[gi].desc = d;
            b.g[gi].flags = FLO__TF_CONTAINED;
            b.g[gi].after = -1;
            b.g[gi].keep = &s->copy[k].in;
            in = gi++;
        }

        a = (flo_access_desc *)p;
        p += (size_t)na * sizeof(*a);
        for (int i = 0; i < na; i++) {
            a[i] = desc->access[i];
            if (widx[i] >= 0) {
                a[i].data = s->priv[k * nw + widx[i]];
                a[i].mode = FLO_READ_WRITE;
            }
        }
        d = &b.desc[gi];
        *d = *desc;
        d->size = sizeof(*d);
        d->access = a;
        d->on_device = FLO_DEVICE(s->copy[k].device);
        d->on_worker = on_worker;
        d->callback = copy_done;
        d->callback_arg = &s->copy[k];
        b.g[gi].desc = d;
        b.g[gi].flags = FLO__TF_CONTAINED;
        b.g[gi].after = in;
        b.g[gi].keep = &s->copy[k].task;
        gi++;
    }
    {
        flo_access_desc *a = (flo_access_desc *)p;
        flo_task_desc *d = &b.desc[b.ng - 1];
        flo__group_task *v = &b.g[b.ng - 1];
        int m = 0;

        for (int k = 0; k < n; k++)
            for (int j = 0; j < nw; j++) {
                a[m].data = s->priv[k * nw + j];
                a[m++].mode = FLO_READ;
            }
        nro = 0;
        for (int i = 0; i < na; i++) {
            if (lead[i] != i)
                continue;
            if (widx[i] >= 0) {
                a[m].data = desc->access[i].data;
                a[m++].mode = FLO_READ_WRITE;
            } else {
                b.ro[nro++] = desc->access[i].data;
            }
        }
        d->size = sizeof(*d);
        d->kernel = &vote_kernel;
        d->access = a;
        d->naccess = m;
        d->args = &s;
        d->args_size = sizeof(s);
        d->priority = desc->priority;
        d->deps = desc->deps;
        d->ndeps = desc->ndeps;
        d->callback = vote_done;
        d->callback_arg = s;
        d->name = vote_name;
        v->desc = d;
        v->dep_reads = b.ro;
        v->ndep_reads = nro;
        v->after = -1;
    }

    st = flo__task_submit_group(rt, b.g, b.ng);
    if (st == FLO_OK) {
        if (out)
            *out = b.g[b.ng - 1].ev;
        s = NULL; /* The vote's callback frees it. */
    }
out:
    if (s)
        rep_free(s, NULL);
    free(b.g);
    free(lead);
    return st;
}
