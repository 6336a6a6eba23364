/*
 * Flotilla - lineage replay: recomputing the versions of data whose only
 * valid copy was on a device that was lost (docs/resilience.md).
 *
 * Lineage. With flo_config.lineage = n > 0, every handle remembers the
 * last n tasks that wrote it on a GPU, each with the version it produced
 * (a reference on the task record, which keeps its entry points,
 * arguments and accesses, and the versions it read: flo__acc.rver).
 * Writers of versions the host memory already holds (flo__data.host_ver)
 * are forgotten: the host copy is the base a replay starts from.
 *
 * A replay. The evacuation of a lost device (scheduler/resilience.c)
 * finds the handles whose version `target` survives nowhere. Each is a
 * candidate: it goes back to its base (the version its host memory
 * holds, or zeros for runtime memory never copied home) and the writers
 * of versions base+1 .. target run again, as copies of the original
 * tasks (FLO__TF_REPLAY) placed anywhere they can run. That is possible
 * when
 *   - every one of those versions has its writer in the lineage;
 *   - every handle such a writer wrote is a candidate too (its write is
 *     replayed in that handle's chain at the same version);
 *   - every handle it read is either a candidate whose replayed versions
 *     include the one it read, or still at that version now (and not
 *     lost).
 * The first rule that fails makes the writer unusable, which makes every
 * handle it wrote lost (FLO_EDATALOSS for its readers, as without
 * lineage); that may make other writers unusable, up to a fixed point.
 * The replay's tasks wait for each other by versions (the writer of v
 * after the writer of v-1 and the readers of v-1; a reader of v after
 * the writer of v), not through the handles' dependency lists, which
 * belong to the program's tasks.
 *
 * Holding the others back. A replay has a join (a record without entry
 * point that completes after all its tasks) and every handle it touches
 * names the join (flo__data.replay) until then: a task that accesses a
 * candidate, or writes a handle the replay reads, finds it when it
 * prepares its buffers and is requeued behind the join instead of
 * running (FLO__EHOLD, flo__lineage_hold); a program's thread that
 * acquires or unregisters such a handle waits for the join. The mark is
 * set under the handle's coh_lock before the version it guards is read,
 * and a writer takes its version under the same lock after looking for
 * the mark, so no version changes under a replay's feet.
 *
 * Limits (docs/resilience.md): a handle whose chain is longer than the
 * lineage, or whose writers read what has been overwritten since, is
 * lost; a device lost while a replay recomputes a handle there loses
 * what that replay was recomputing if it must be replayed again; tasks
 * run inside CUDA graphs are not remembered. Copies of a replicated task
 * are never remembered.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/tasks.h"

/* ---- A handle's lineage ------------------------------------------------ */

typedef struct lin_ent {
    flo__task *t;
    uint64_t ver;
} lin_ent;

/* A circular list, oldest first: a handle's writers complete in the order
 * of their versions (its dependencies order them), so the oldest are
 * those the host copy makes useless, and those dropped when it is full. */
typedef struct flo__lineage {
    int head, n, cap;
    lin_ent e[];
} flo__lineage;

static flo__dslot *slot_of(flo__data *d)
{
    return (flo__dslot *)((char *)d - offsetof(flo__dslot, data));
}

static void lin_pop(flo_runtime *rt, flo__tcache *c, flo__lineage *l)
{
    flo__task_unref(rt, c, l->e[l->head].t);
    l->head = (l->head + 1) % l->cap;
    l->n--;
}

/* Remember that t produced version ver of d (coh_lock held), forgetting
 * the writers of versions the host copy holds, and the oldest when full:
 * O(1) but for what it forgets. */
static void lin_push(flo_runtime *rt, flo__tcache *c, flo__data *d,
                     flo__task *t, uint64_t ver)
{
    flo__lineage *l = d->lin;

    if (ver <= d->host_ver)
        return;
    if (!l) {
        l = malloc(sizeof(*l) + (size_t)rt->lineage * sizeof(lin_ent));
        if (!l)
            return; /* Without lineage: lost if its device is. */
        l->head = l->n = 0;
        l->cap = rt->lineage;
        d->lin = l;
    }
    while (l->n > 0 && l->e[l->head].ver <= d->host_ver)
        lin_pop(rt, c, l);
    if (l->n == l->cap)
        lin_pop(rt, c, l);
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    l->e[(l->head + l->n) % l->cap] = (lin_ent){t, ver};
    l->n++;
}

/* The writer of version ver of d, or NULL (coh_lock held); the newest if
 * two claim it. */
static flo__task *lin_find(const flo__data *d, uint64_t ver)
{
    const flo__lineage *l = d->lin;
    for (int i = l ? l->n - 1 : -1; i >= 0; i--) {
        const lin_ent *e = &l->e[(l->head + i) % l->cap];
        if (e->ver == ver)
            return e->t;
    }
    return NULL;
}

void flo__lineage_drop(flo_runtime *rt, flo__data *d)
{
    flo__lineage *l;

    pthread_mutex_lock(&d->coh_lock);
    l = d->lin;
    d->lin = NULL;
    pthread_mutex_unlock(&d->coh_lock);
    if (!l)
        return;
    while (l->n > 0)
        lin_pop(rt, NULL, l);
    free(l);
}

void flo__lineage_done(flo_runtime *rt, flo__worker *w, flo__task *t,
                       flo_status st)
{
    unsigned flags = atomic_load_explicit(&t->flags, memory_order_relaxed);
    flo__tcache *c = w ? &w->cache : NULL;

    if (flags & (FLO__TF_ACQUIRE | FLO__TF_JOIN))
        return;
    if (flags & FLO__TF_REPLAY) {
        if (st == FLO_OK) {
            atomic_fetch_add(&rt->n_recomputed, 1);
        } else {
            /* What it was recomputing is lost. */
            for (int i = 0; i < t->naccess; i++) {
                flo__data *d = &t->acc[i].d->data;
                if (!t->acc[i].first || !(t->acc[i].merged & FLO_WRITE))
                    continue;
                pthread_mutex_lock(&d->coh_lock);
                if (!d->lost) {
                    d->lost = 1;
                    for (int n = 0; n < rt->plat.ndevices; n++)
                        atomic_store(&d->rep[n].state, FLO__REP_INVALID);
                    atomic_fetch_add(&rt->n_data_lost, 1);
                    FLO__ERR("data handle %u: its recomputation failed "
                             "(task '%s': %s); tasks that read it fail with "
                             "FLO_EDATALOSS",
                             d->slot, t->name, flo_status_str(st));
                }
                pthread_mutex_unlock(&d->coh_lock);
            }
            return;
        }
    }
    if (st != FLO_OK || rt->lineage <= 0 || (flags & FLO__TF_CONTAINED))
        return;
    for (int i = 0; i < t->naccess; i++) {
        flo__acc *a = &t->acc[i];
        if (!a->first || !a->ver)
            continue; /* Not a GPU write. */
        pthread_mutex_lock(&a->d->data.coh_lock);
        lin_push(rt, c, &a->d->data, t, a->ver);
        pthread_mutex_unlock(&a->d->data.coh_lock);
    }
}

/* ---- Waiting for a replay ---------------------------------------------- */

bool flo__replay_holds(flo__task *t, flo__data *d, flo_access mode)
{
    flo__task *m = atomic_load_explicit(&d->replay, memory_order_relaxed);

    if (!m || (atomic_load_explicit(&t->flags, memory_order_relaxed) &
               FLO__TF_REPLAY))
        return false;
    if (d->replay_rd && !(mode & FLO_WRITE))
        return false;
    if (atomic_load(&m->state) == FLO__TASK_DONE)
        return false;
    if (!t->hold) {
        /* The mark holds a reference until it is cleared (under the
         * lock we hold): this one keeps the join for t. */
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
        t->hold = m;
    }
    return true;
}

void flo__replay_wait(flo__data *d)
{
    flo_runtime *rt = slot_of(d)->rt;
    flo__task *m;

    pthread_mutex_lock(&d->coh_lock);
    m = atomic_load_explicit(&d->replay, memory_order_relaxed);
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&d->coh_lock);
    if (!m)
        return;
    pthread_mutex_lock(&rt->wait_mu);
    while (atomic_load(&m->state) != FLO__TASK_DONE)
        pthread_cond_wait(&rt->wait_cv, &rt->wait_mu);
    pthread_mutex_unlock(&rt->wait_mu);
    flo__task_unref(rt, NULL, m);
}

void flo__lineage_hold(flo__worker *w, flo__task *t)
{
    flo__task *m = t->hold;

    t->hold = NULL;
    /* Versions a GPU took before it found the replay (cuda_worker.c)
     * stay taken: t produces none of them now. */
    for (int i = 0; i < t->naccess; i++)
        t->acc[i].ver = 0;
    t->dev_slot = NULL;
    t->ran_on = -1;
    flo__task_rewait(w, t, m);
    if (m)
        flo__task_unref(w->rt, &w->cache, m);
}

/* ---- Planning a replay -------------------------------------------------- */

typedef struct cand {
    flo__data *d;
    uint64_t base, target;
    bool zero; /* The base is zeros (runtime memory never copied home). */
    bool ok;
    flo__task **chain; /* Writers of base+1 .. target (references). */
    int *wi;           /* Their index in the plan's writer list. */
} cand;

/* A task to copy, and what planning found about it. */
typedef struct writer {
    flo__task *t;    /* The original (a reference, through a chain). */
    flo__task *copy; /* Its replay task. */
    bool bad;
} writer;

struct flo__replay {
    flo_runtime *rt;
    flo__worker *w;
    flo__task *join;
    int node;
    cand *c;
    int nc, capc;
    flo__data **marked; /* Handles that name the join (cleared at the end). */
    int nm, capm;
};

static bool grow(void **p, int *cap, int n, size_t sz)
{
    if (n < *cap)
        return true;
    int nc = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, (size_t)nc * sz);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

flo__replay *flo__lineage_begin(flo_runtime *rt, flo__worker *w)
{
    flo__replay *p;
    flo__task *j;

    if (rt->lineage <= 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    j = flo__task_alloc(rt, &w->cache);
    if (!j) {
        free(p);
        return NULL;
    }
    j->acc = j->acc_inline;
    j->naccess = 0;
    j->args = j->args_inline;
    memcpy(j->args_inline, &p, sizeof(p));
    j->args_size = sizeof(p);
    flo__task_record_init(rt, j,
                          FLO__TF_REPLAY | FLO__TF_JOIN | FLO__TF_CONTAINED |
                              FLO__TF_WAITED);
    j->priority = 0;
    j->device = j->worker = -1;
    j->eligible = 0;
    j->host_fn = j->cuda_fn = NULL;
    j->name = "lineage-replay";
    j->cb = NULL;
    j->bytes = 0;
    atomic_fetch_add(&rt->outstanding, 1);
    p->rt = rt;
    p->w = w;
    p->join = j;
    p->node = w->device;
    return p;
}

/* Name the join in d (coh_lock held). */
static bool mark(flo__replay *p, flo__data *d, bool readers_pass)
{
    if (!grow((void **)&p->marked, &p->capm, p->nm, sizeof(*p->marked)))
        return false;
    p->marked[p->nm++] = d;
    d->replay_rd = readers_pass;
    atomic_store_explicit(&d->replay, p->join, memory_order_release);
    return true;
}

bool flo__lineage_candidate(flo__replay *p, flo__data *d, uint64_t target,
                            bool host_unsure)
{
    cand *c;

    if (!p || atomic_load_explicit(&d->replay, memory_order_relaxed))
        return false;
    if (!grow((void **)&p->c, &p->capc, p->nc, sizeof(*p->c)))
        return false;
    c = &p->c[p->nc];
    memset(c, 0, sizeof(*c));
    c->d = d;
    c->target = target;
    if ((d->rep[0].ptr || d->user_ptr) && !d->home_tok && !host_unsure &&
        !d->host_torn && d->host_ver <= target) {
        /* The host memory holds version host_ver. */
        c->base = d->host_ver;
        c->zero = c->base == 0 && !d->user_ptr;
    } else if (!d->user_ptr) {
        c->base = 0; /* Runtime memory starts as zeros. */
        c->zero = true;
    } else {
        return false;
    }
    if (!mark(p, d, false))
        return false;
    p->nc++;
    return true;
}

static int cand_cmp(const void *a, const void *b)
{
    const flo__data *x = ((const cand *)a)->d, *y = ((const cand *)b)->d;
    return x < y ? -1 : x > y;
}

static cand *cand_of(flo__replay *p, const flo__data *d)
{
    cand key = {.d = (flo__data *)d};
    return bsearch(&key, p->c, (size_t)p->nc, sizeof(cand), cand_cmp);
}

static int ptr_cmp(const void *a, const void *b)
{
    const flo__task *x = *(flo__task *const *)a, *y = *(flo__task *const *)b;
    return x < y ? -1 : x > y;
}

/* Index of t in the sorted list ws of n writers. */
static int writer_of(const writer *ws, int n, const flo__task *t)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ws[mid].t == t)
            return mid;
        if (ws[mid].t < t)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Whether access a of a writer is usable now (before the fixed point):
 * a handle that is not a candidate must be one it only read, still at
 * the version it read; it is marked so that nobody writes it until the
 * replay ends. */
static bool outside_ok(flo__replay *p, const flo__acc *a)
{
    flo__data *d = &a->d->data;
    bool ok;

    if (a->merged & FLO_WRITE)
        return false;
    pthread_mutex_lock(&d->coh_lock);
    flo__task *m = atomic_load_explicit(&d->replay, memory_order_relaxed);
    ok = flo__data_current(a->d, a->dgen) && !d->lost && (!m || m == p->join) &&
         (m || mark(p, d, true)) && d->ver == a->rver;
    pthread_mutex_unlock(&d->coh_lock);
    return ok;
}

/* Whether writer t (index wi) can be replayed, given the candidates'
 * state. */
static bool writer_ok(flo__replay *p, int wi, const flo__task *t)
{
    for (int i = 0; i < t->naccess; i++) {
        const flo__acc *a = &t->acc[i];
        cand *c;
        if (!a->first)
            continue;
        c = cand_of(p, &a->d->data);
        if (!c)
            continue; /* Checked once (outside_ok). */
        if (!c->ok)
            return false;
        if (a->merged & FLO_WRITE) {
            if (a->ver <= c->base || a->ver > c->target ||
                c->wi[a->ver - c->base - 1] != wi)
                return false;
        } else if (a->rver < c->base || a->rver > c->target) {
            return false;
        }
    }
    return true;
}

/* The replay task of original t. */
static flo__task *copy_task(flo_runtime *rt, flo__tcache *tc, flo__task *t)
{
    flo__task *r = flo__task_alloc(rt, tc);
    int n = t->naccess;

    if (!r)
        return NULL;
    if (n <= FLO__TASK_INLINE_ACC) {
        r->acc = r->acc_inline;
    } else {
        if (r->acc_ext_cap < n) {
            /* The layout of submission's buffer (scheduler/sched.h). */
            void *a = realloc(r->acc_ext, (size_t)n * (sizeof(flo__acc) +
                                                       sizeof(flo__lockent)));
            if (!a)
                goto nomem;
            r->acc_ext = a;
            r->acc_ext_cap = n;
        }
        r->acc = r->acc_ext;
    }
    if (t->args_size <= FLO__TASK_INLINE_ARGS) {
        r->args = r->args_inline;
    } else {
        if (r->args_ext_cap < t->args_size) {
            void *a = realloc(r->args_ext, t->args_size);
            if (!a)
                goto nomem;
            r->args_ext = a;
            r->args_ext_cap = t->args_size;
        }
        r->args = r->args_ext;
    }
    memcpy(r->acc, t->acc, (size_t)n * sizeof(flo__acc));
    for (int i = 0; i < n; i++) {
        r->acc[i].ptr = NULL;
        r->acc[i].ver = r->acc[i].rver = 0;
    }
    r->naccess = n;
    if (t->args_size)
        memcpy(r->args, t->args, t->args_size);
    r->args_size = t->args_size;
    flo__task_record_init(rt, r, FLO__TF_REPLAY | FLO__TF_CONTAINED);
    r->priority = t->priority;
    r->device = r->worker = -1;
    r->eligible =
        (t->host_fn ? FLO__ELIG_HOST : 0u) | (t->cuda_fn ? FLO__ELIG_CUDA : 0u);
    r->host_fn = t->host_fn;
    r->cuda_fn = t->cuda_fn;
    r->name = t->name;
    r->cb = NULL;
    r->cb_arg = NULL;
    r->bytes = t->bytes;
    return r;
nomem:
    flo__task_free(rt, tc, r);
    return NULL;
}

static void edge(flo__replay *p, flo__task *from, flo__task *to)
{
    if (from && to &&
        flo__add_edge(p->rt, &p->w->cache, from, to, false) != FLO_OK)
        flo__set_cancel_status(to, FLO_ENOMEM);
}

/* A candidate becomes its base version (ok) or lost. */
static void settle(flo__replay *p, cand *c)
{
    flo_runtime *rt = p->rt;
    flo__data *d = c->d;

    pthread_mutex_lock(&d->coh_lock);
    for (int n = 1; n < rt->plat.ndevices; n++)
        atomic_store(&d->rep[n].state, FLO__REP_INVALID);
    if (c->ok) {
        d->ver = c->base;
        d->lost = 0;
        if (c->zero) {
            d->ever_written = false;
            atomic_store(&d->rep[0].state, FLO__REP_INVALID);
        } else {
            if (!d->rep[0].ptr)
                d->rep[0].ptr = d->user_ptr;
            atomic_store(&d->rep[0].state, FLO__REP_OWNER);
        }
    } else {
        d->lost = 1;
        d->lost_node = (int16_t)p->node;
        atomic_store(&d->rep[0].state, FLO__REP_INVALID);
        atomic_fetch_add(&rt->n_data_lost, 1);
        FLO__ERR("data handle %u (%zu bytes): its only valid copy was on "
                 "lost device %d and its lineage cannot recompute version "
                 "%llu; tasks that read it fail with FLO_EDATALOSS",
                 d->slot, d->bytes, p->node, (unsigned long long)c->target);
    }
    pthread_mutex_unlock(&d->coh_lock);
}

void flo__lineage_end(flo__replay *p)
{
    flo_runtime *rt;
    writer *ws = NULL;
    flo__task **all = NULL;
    int nall = 0, nw = 0, ncopies = 0, nok = 0;
    bool changed = true;

    if (!p)
        return;
    rt = p->rt;
    qsort(p->c, (size_t)p->nc, sizeof(cand), cand_cmp);

    /* 1. Each candidate's chain, from its lineage. */
    for (int i = 0; i < p->nc; i++) {
        cand *c = &p->c[i];
        uint64_t len = c->target - c->base;
        c->ok = len <= (uint64_t)rt->lineage;
        if (!c->ok || len == 0)
            continue;
        c->chain = calloc((size_t)len, sizeof(*c->chain));
        c->wi = calloc((size_t)len, sizeof(*c->wi));
        if (!c->chain || !c->wi) {
            c->ok = false;
            continue;
        }
        pthread_mutex_lock(&c->d->coh_lock);
        for (uint64_t v = 0; v < len && c->ok; v++) {
            flo__task *t = lin_find(c->d, c->base + 1 + v);
            if (!t) {
                c->ok = false;
                break;
            }
            atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
            c->chain[v] = t;
        }
        pthread_mutex_unlock(&c->d->coh_lock);
        nall += (int)len;
    }

    /* 2. The distinct writers. */
    if (nall > 0) {
        all = malloc((size_t)nall * sizeof(*all));
        ws = calloc((size_t)nall, sizeof(*ws));
    }
    if (nall > 0 && (!all || !ws))
        for (int i = 0; i < p->nc; i++)
            p->c[i].ok = false;
    nall = 0;
    for (int i = 0; i < p->nc; i++) {
        cand *c = &p->c[i];
        for (uint64_t v = 0; c->ok && v < c->target - c->base; v++)
            all[nall++] = c->chain[v];
    }
    if (nall > 0)
        qsort(all, (size_t)nall, sizeof(*all), ptr_cmp);
    for (int i = 0; i < nall; i++)
        if (nw == 0 || ws[nw - 1].t != all[i])
            ws[nw++].t = all[i];
    for (int i = 0; i < p->nc; i++) {
        cand *c = &p->c[i];
        for (uint64_t v = 0; c->ok && v < c->target - c->base; v++)
            c->wi[v] = writer_of(ws, nw, c->chain[v]);
    }

    /* 3. What does not depend on the other candidates: handles outside
     * the replay are only read, at the version they still have. */
    for (int k = 0; k < nw; k++) {
        flo__task *t = ws[k].t;
        for (int i = 0; i < t->naccess && !ws[k].bad; i++)
            if (t->acc[i].first && !cand_of(p, &t->acc[i].d->data))
                ws[k].bad = !outside_ok(p, &t->acc[i]);
    }

    /* 4. The fixed point: an unusable writer loses what it wrote. */
    while (changed) {
        changed = false;
        for (int k = 0; k < nw; k++) {
            if (!ws[k].bad && writer_ok(p, k, ws[k].t))
                continue;
            flo__task *t = ws[k].t;
            ws[k].bad = true;
            for (int i = 0; i < t->naccess; i++) {
                cand *c;
                if (!t->acc[i].first || !(t->acc[i].merged & FLO_WRITE))
                    continue;
                c = cand_of(p, &t->acc[i].d->data);
                if (c && c->ok) {
                    c->ok = false;
                    changed = true;
                }
            }
        }
    }

    /* 5. The replay's tasks, and their order by versions. */
    for (int k = 0; k < nw; k++) {
        if (ws[k].bad)
            continue;
        ws[k].copy = copy_task(rt, &p->w->cache, ws[k].t);
        if (!ws[k].copy) {
            /* No memory: what it writes is lost (its successors in the
             * replay, without their predecessor, too). */
            ws[k].bad = true;
            for (int i = 0; i < ws[k].t->naccess; i++) {
                cand *c = cand_of(p, &ws[k].t->acc[i].d->data);
                if (c && (ws[k].t->acc[i].merged & FLO_WRITE))
                    c->ok = false;
            }
            continue;
        }
        ncopies++;
    }
    for (int k = 0; k < nw; k++) {
        flo__task *t = ws[k].t, *r = ws[k].copy;
        if (!r)
            continue;
        for (int i = 0; i < t->naccess; i++) {
            const flo__acc *a = &t->acc[i];
            cand *c;
            if (!a->first || !(c = cand_of(p, &a->d->data)) || !c->ok)
                continue;
            uint64_t rv = (a->merged & FLO_WRITE) ? a->ver - 1 : a->rver;
            /* After the writer of the version it reads. */
            if (rv > c->base)
                edge(p, ws[c->wi[rv - c->base - 1]].copy, r);
            /* A reader before the writer of the next version. */
            if (!(a->merged & FLO_WRITE) && rv < c->target)
                edge(p, r, ws[c->wi[rv - c->base]].copy);
        }
        edge(p, r, p->join);
    }

    /* 6. The candidates start from their base (or are lost), then the
     * replay starts. */
    for (int i = 0; i < p->nc; i++) {
        if (p->c[i].ok)
            nok++;
        settle(p, &p->c[i]);
    }
    if (ncopies || p->nc)
        FLO__INFO("lineage: %d of %d handles lost with device %d are "
                  "recomputed by %d tasks",
                  nok, p->nc, p->node, ncopies);
    atomic_fetch_add(&rt->outstanding, ncopies);
    for (int k = 0; k < nw; k++) {
        flo__task *r = ws[k].copy;
        if (r && atomic_fetch_sub(&r->pending, 1) == 1)
            flo__task_ready(rt, p->w, r);
    }
    for (int i = 0; i < p->nc; i++) {
        cand *c = &p->c[i];
        for (uint64_t v = 0; c->chain && v < c->target - c->base; v++)
            if (c->chain[v])
                flo__task_unref(rt, &p->w->cache, c->chain[v]);
        free(c->chain);
        free(c->wi);
        c->chain = NULL;
        c->wi = NULL;
    }
    free(all);
    free(ws);
    if (atomic_fetch_sub(&p->join->pending, 1) == 1)
        flo__task_ready(rt, p->w, p->join);
}

void flo__lineage_join(flo_runtime *rt, flo__worker *w, flo__task *t)
{
    flo__replay *p;

    memcpy(&p, t->args_inline, sizeof(p));
    /* The replay is over: its handles are the program's again. */
    for (int i = 0; i < p->nm; i++) {
        flo__data *d = p->marked[i];
        pthread_mutex_lock(&d->coh_lock);
        if (atomic_load_explicit(&d->replay, memory_order_relaxed) == t) {
            atomic_store_explicit(&d->replay, NULL, memory_order_relaxed);
            d->replay_rd = false;
        }
        pthread_mutex_unlock(&d->coh_lock);
    }
    free(p->marked);
    free(p->c);
    free(p);
    flo__task_complete_rt(rt, w, t, FLO_OK);
}
