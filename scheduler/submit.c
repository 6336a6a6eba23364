/*
 * Flotilla - submission: checking a task description, copying it into a
 * record, and recording its dependencies atomically (two-phase locking
 * over its handles).
 */
#include <stdlib.h>
#include <string.h>

#include "scheduler/dag.h"
#include "scheduler/graph.h"
#include "scheduler/tasks.h"

/* ---- Task names --------------------------------------------------------- */

/* The interned copy of a task's name, through the thread's small cache
 * (most programs submit a handful of names from string literals). */
static const char *intern_name(flo__tcache *c, const char *name)
{
    uintptr_t k = (uintptr_t)name;
    unsigned i = (unsigned)((k >> 3) ^ (k >> 9)) & 31u;
    const char *in;

    if (c->names[i].ptr == name && strcmp(c->names[i].interned, name) == 0)
        return c->names[i].interned;
    in = flo__name_intern(name);
    if (!in)
        return "task";
    c->names[i].ptr = name;
    c->names[i].interned = in;
    return in;
}

/* ---- The locked phase ------------------------------------------------- */

/*
 * Atomic submission. A task's dependencies on all of its handles are
 * recorded while it holds the dep_lock of every one of them, taken in one
 * global order (address of the flo__dslot): two-phase locking, so every
 * submission takes effect at one point (while it holds all its locks) and
 * the dependencies it records are those of a serial execution of the
 * submissions in the order of those points - the order of each thread's
 * own submissions included. The canonical order excludes lock cycles. No
 * lock is shared by submissions with disjoint handles.
 */
static void lock_datas(const flo__lockent *v, int n)
{
    for (int i = 0; i < n; i++)
        flo__spin_lock(&v[i].d->dep_lock);
}

static void unlock_datas(const flo__lockent *v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        flo__spin_unlock(&v[i].d->dep_lock);
}

/* The canonical order: by address of the handle's record, then by entry
 * index, so that a handle's first entry leads its run of duplicates. */
static inline bool ent_before(const flo__lockent *a, const flo__lockent *b)
{
    return (uintptr_t)a->d < (uintptr_t)b->d ||
           (a->d == b->d && a->idx < b->idx);
}

static void ent_sift_down(flo__lockent *v, int root, int n)
{
    for (;;) {
        int c = 2 * root + 1;
        flo__lockent x;
        if (c >= n)
            return;
        if (c + 1 < n && ent_before(&v[c], &v[c + 1]))
            c++;
        if (!ent_before(&v[root], &v[c]))
            return;
        x = v[root];
        v[root] = v[c];
        v[c] = x;
        root = c;
    }
}

/* Up to this many entries, quadratic loops beat sorting. */
#define FEW_ACCESSES 16

/* Sort in the canonical order, in place and without allocating: an
 * insertion sort for the usual few handles, a heap sort beyond (a task
 * may name any number of handles, see FLO_TASK_MAX_ACCESS). */
static void sort_lockents(flo__lockent *v, int n)
{
    if (n <= FEW_ACCESSES) {
        for (int i = 1; i < n; i++) {
            flo__lockent x = v[i];
            int j = i;
            for (; j > 0 && ent_before(&x, &v[j - 1]); j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
        return;
    }
    for (int i = n / 2 - 1; i >= 0; i--)
        ent_sift_down(v, i, n);
    for (int i = n - 1; i > 0; i--) {
        flo__lockent x = v[0];
        v[0] = v[i];
        v[i] = x;
        ent_sift_down(v, 0, i);
    }
}

/* ---- Submission ---------------------------------------------------------- */

flo_status flo__task_desc_check(flo_runtime *rt, const flo_task_desc *desc,
                                unsigned *elig)
{
    const flo_kernel *k;
    unsigned e = 0;
    int dev, wk;

    if (desc->size != 0 && desc->size != sizeof(flo_task_desc)) {
        FLO__ERR("flo_task_desc.size is %zu, expected %zu (or 0): start "
                 "from FLO_TASK_DESC_INIT",
                 desc->size, sizeof(flo_task_desc));
        return FLO_EINVAL;
    }
    k = desc->kernel;
    if (!k || (!k->host && !k->cuda))
        return FLO_EINVAL;
    if (desc->naccess < 0 || desc->naccess > FLO_TASK_MAX_ACCESS ||
        (desc->naccess > 0 && !desc->access))
        return FLO_EINVAL;
    if (desc->args_size > FLO_TASK_MAX_ARGS ||
        (desc->args_size > 0 && !desc->args))
        return FLO_EINVAL;
    if (desc->ndeps < 0 || desc->ndeps > FLO_TASK_MAX_DEPS ||
        (desc->ndeps > 0 && !desc->deps))
        return FLO_EINVAL;
    if (desc->retries < 0 || desc->retries > FLO_TASK_MAX_RETRIES)
        return FLO_EINVAL;
    /* on_device / on_worker: 0 for any, index + 1 otherwise. */
    if (desc->on_device < 0 || desc->on_device > rt->plat.ndevices)
        return FLO_EINVAL;
    if (desc->on_worker < 0 || desc->on_worker > rt->nworkers)
        return FLO_EINVAL;
    dev = desc->on_device - 1;
    wk = desc->on_worker - 1;

    if (k->host && rt->nhost_workers > 0)
        e |= FLO__ELIG_HOST;
    if (k->cuda && rt->ngpu_workers > 0)
        e |= FLO__ELIG_CUDA;
    if (dev >= 0)
        e &= rt->plat.devices[dev]->kind == FLO_DEVICE_HOST ? FLO__ELIG_HOST
                                                            : FLO__ELIG_CUDA;
    if (wk >= 0) {
        flo__worker *w = rt->workers[wk];
        e &= w->kind == FLO_DEVICE_HOST ? FLO__ELIG_HOST : FLO__ELIG_CUDA;
        if (dev >= 0 && dev != w->device)
            e = 0;
    }
    if (!e)
        return FLO_ENODEV;

    for (int i = 0; i < desc->naccess; i++) {
        flo_access m = desc->access[i].mode;
        if (m != FLO_READ && m != FLO_WRITE && m != FLO_READ_WRITE)
            return FLO_EINVAL;
    }
    for (int i = 0; i < desc->ndeps; i++) {
        uint64_t id = desc->deps[i].id;
        if (id == 0)
            continue;
        if (flo__id_serial(id) != rt->serial)
            return FLO_EFOREIGN;
        if ((id & FLO__ID_INDEX_MASK) == 0)
            return FLO_EINVAL;
    }
    *elig = e;
    return FLO_OK;
}

/*
 * Fill t's n accesses (their handles already looked up into t->acc[].d)
 * from desc, merge the entries naming one handle into its first entry,
 * and list the distinct handles in ent, sorted in the canonical order of
 * the locked phase. Returns their number. ent has room for n entries.
 */
static int plan_accesses(flo__task *t, const flo_task_desc *desc, int n,
                         flo__lockent *ent)
{
    int nlocks = 0;

    t->bytes = 0;
    for (int i = 0; i < n; i++) {
        flo__acc *a = &t->acc[i];
        a->mode = (uint8_t)desc->access[i].mode;
        a->merged = a->mode;
        a->first = true;
        a->lead = i;
        a->ptr = NULL;
    }
    if (n <= FEW_ACCESSES) {
        /* A few entries: compare each with those before it. */
        for (int i = 0; i < n; i++) {
            flo__acc *a = &t->acc[i];
            for (int j = 0; j < i; j++) {
                if (t->acc[j].d == a->d && t->acc[j].first) {
                    a->first = false;
                    a->lead = j;
                    t->acc[j].merged |= a->mode;
                    break;
                }
            }
            if (a->first) {
                t->bytes += a->d->data.bytes;
                ent[nlocks].d = a->d;
                ent[nlocks].gen = desc->access[i].data.gen;
                ent[nlocks++].idx = i;
            }
        }
        sort_lockents(ent, nlocks);
        return nlocks;
    }
    /* Many entries: sort them all, so that the entries of one handle are
     * adjacent with the first one leading, then keep one per handle. */
    for (int i = 0; i < n; i++) {
        ent[i].d = t->acc[i].d;
        ent[i].gen = desc->access[i].data.gen;
        ent[i].idx = i;
    }
    sort_lockents(ent, n);
    for (int g = 0; g < n;) {
        flo__acc *lead = &t->acc[ent[g].idx];
        int h = g + 1;
        for (; h < n && ent[h].d == ent[g].d; h++) {
            flo__acc *a = &t->acc[ent[h].idx];
            a->first = false;
            a->lead = ent[g].idx;
            lead->merged |= a->mode;
        }
        t->bytes += lead->d->data.bytes;
        ent[nlocks++] = ent[g];
        g = h;
    }
    return nlocks;
}

/*
 * Give t room for desc's accesses (inline, or its grown buffer: accesses
 * followed by as many lock entries) and look their handles up into
 * t->acc[].d. *locks: scratch space for the locked phase, ent_inline (the
 * caller's, FLO__TASK_INLINE_ACC entries) or the buffer's tail. FLO_ENOMEM,
 * or the status of a handle that does not name live data.
 */
static flo_status attach_accesses(flo_runtime *rt, flo__task *t,
                                  const flo_task_desc *desc,
                                  flo__lockent *ent_inline,
                                  flo__lockent **locks)
{
    int n = desc->naccess;
    flo_status st;

    if (n <= FLO__TASK_INLINE_ACC) {
        t->acc = t->acc_inline;
        *locks = ent_inline;
    } else {
        if (t->acc_ext_cap < n) {
            /* Accesses and lock entries in one block (see flo__task). */
            void *a = realloc(t->acc_ext, (size_t)n * (sizeof(flo__acc) +
                                                       sizeof(flo__lockent)));
            if (!a)
                return FLO_ENOMEM;
            t->acc_ext = a;
            t->acc_ext_cap = n;
        }
        t->acc = t->acc_ext;
        *locks = (flo__lockent *)(t->acc_ext + t->acc_ext_cap);
    }
    for (int i = 0; i < n; i++) {
        t->acc[i].d = flo__data_lookup(rt, desc->access[i].data, &st);
        if (!t->acc[i].d)
            return st;
        t->acc[i].ver = 0;
        t->acc[i].rver = 0;
        t->acc[i].dgen = desc->access[i].data.gen;
    }
    t->naccess = n;
    return FLO_OK;
}

/* Copy desc's arguments into t (inline, or its grown buffer). */
static flo_status attach_args(flo__task *t, const flo_task_desc *desc)
{
    if (desc->args_size <= FLO__TASK_INLINE_ARGS) {
        t->args = t->args_inline;
    } else {
        if (t->args_ext_cap < desc->args_size) {
            void *a = realloc(t->args_ext, desc->args_size);
            if (!a)
                return FLO_ENOMEM;
            t->args_ext = a;
            t->args_ext_cap = desc->args_size;
        }
        t->args = t->args_ext;
    }
    if (desc->args_size)
        memcpy(t->args, desc->args, desc->args_size);
    t->args_size = desc->args_size;
    return FLO_OK;
}

/* What t runs, where and how it reports: desc's placement, priority,
 * entry points, name and callback (elig from flo__task_desc_check). */
static void describe_task(flo__tcache *c, flo__task *t,
                          const flo_task_desc *desc, unsigned elig)
{
    t->priority = desc->priority;
    t->device = desc->on_device - 1; /* -1: any (FLO_ANY). */
    t->worker = desc->on_worker - 1;
    t->eligible = elig;
    t->host_fn = desc->kernel->host;
    t->cuda_fn = desc->kernel->cuda;
    t->name = desc->name ? desc->name
                         : (desc->kernel->name ? desc->kernel->name : "task");
    /* The caller's string may not outlive the call (a stack buffer): keep
     * the interned copy, which also keys the placement model. */
    t->name = intern_name(c, t->name);
    t->cb = desc->callback;
    t->cb_arg = desc->callback_arg;
    t->retries = desc->retries;
    t->saving = desc->retries > 0;
}

/*
 * The locked phase (see lock_datas): check that every handle is still
 * registered, then record every dependency, all under all the locks. A
 * handle unregistered since validation makes it fail with FLO_ESTALE
 * having recorded nothing. locks is sorted (plan_accesses) and lives in t
 * or on the caller's stack: nothing else touches it.
 */
static flo_status record_data_deps(flo_runtime *rt, flo__tcache *c,
                                   flo__task *t, const flo__lockent *locks,
                                   int nlocks)
{
    flo_status st;

    lock_datas(locks, nlocks);
    for (int i = 0; i < nlocks; i++) {
        if (!flo__data_current(locks[i].d, locks[i].gen)) {
            unlock_datas(locks, nlocks);
            return FLO_ESTALE;
        }
    }
    /* From here on the task is committed: allocation failures while wiring
     * dependencies fail the task (reported through its event) instead of
     * the call, so no dependency is half-recorded. */
    for (int i = 0; i < nlocks; i++) {
        st = flo__dep_add_data(rt, c, t, locks[i].d,
                               t->acc[locks[i].idx].merged);
        if (st != FLO_OK)
            flo__set_cancel_status(t, st);
    }
    unlock_datas(locks, nlocks);
    return FLO_OK;
}

/* Count the committed task: outstanding for the waits, submitted for the
 * statistics. */
static void count_submission(flo_runtime *rt, flo__tcache *c)
{
    atomic_fetch_add_explicit(&rt->outstanding, 1, memory_order_relaxed);
    atomic_store_explicit(
        &c->submitted,
        atomic_load_explicit(&c->submitted, memory_order_relaxed) + 1,
        memory_order_relaxed);
}

/* The explicit dependencies (desc->deps): an edge from each task still
 * known; one that finished long ago cancels t if it failed. */
static void record_event_deps(flo_runtime *rt, flo__tcache *c, flo__task *t,
                              const flo_task_desc *desc)
{
    flo_status st;

    for (int i = 0; i < desc->ndeps; i++) {
        flo_event dep = desc->deps[i];
        flo__task *p;
        if (dep.id == 0)
            continue;
        flo__dag_event_dep(rt, c, t, dep);
        p = flo__task_from_event(rt, dep);
        if (p) {
            st = flo__add_edge(rt, c, p, t, true);
            if (st != FLO_OK)
                flo__set_cancel_status(t, st);
            flo__task_unref(rt, c, p);
        } else {
            /* A join (FLO__TF_INHERIT) takes the failure's message too. */
            bool found,
                join = atomic_load_explicit(&t->flags, memory_order_relaxed) &
                       FLO__TF_INHERIT;
            char msg[256];
            flo_status fs =
                flo__failure_lookup(rt, dep, join ? msg : NULL,
                                    join ? sizeof(msg) : 0, &found, false);
            if (fs == FLO_OK)
                continue;
            if (!join)
                flo__set_cancel(t);
            else if (flo__set_cancel_status(t, fs))
                flo__task_set_error(t, fs, "%s", msg);
        }
    }
}

/*
 * Take a record from c and fill it from desc (checked: elig from
 * flo__task_desc_check): its accesses, arguments, placement, name and
 * flags (FLO__TF_*). *locks gets the distinct handles for its locked
 * phase (in ent_inline, FLO__TASK_INLINE_ACC entries of the caller's, or
 * in the record's own space), *nlocks their number. FLO_ENOMEM or the
 * status of a handle that does not name live data, with the record given
 * back.
 */
static flo_status task_prepare(flo_runtime *rt, flo__tcache *c,
                               const flo_task_desc *desc, unsigned elig,
                               unsigned flags, flo__lockent *ent_inline,
                               flo__task **out, flo__lockent **locks,
                               int *nlocks)
{
    flo__task *t = flo__task_alloc(rt, c);
    flo_status st;

    if (!t)
        return FLO_ENOMEM;
    st = attach_accesses(rt, t, desc, ent_inline, locks);
    if (st == FLO_OK)
        st = attach_args(t, desc);
    if (st != FLO_OK) {
        flo__task_free(rt, c, t);
        return st;
    }
    *nlocks = plan_accesses(t, desc, desc->naccess, *locks);
    flo__task_record_init(rt, t, flags);
    describe_task(c, t, desc, elig);
    if (FLO__UNLIKELY(atomic_load_explicit(&rt->faults, memory_order_relaxed)))
        flo__resil_submit(rt, t);
    *out = t;
    return FLO_OK;
}

/* Drop t's submission guard: it is ready now if nothing is left to wait
 * for. */
static void drop_guard(flo_runtime *rt, flo__task *t)
{
    if (atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel) == 1)
        flo__task_ready(rt, flo__self_worker(rt), t);
}

/*
 * Submission, step by step: check the description (nothing is allocated
 * before), take a record from the thread's cache and fill it (accesses,
 * arguments, the plan of the locked phase, what it runs), record its
 * data dependencies under all its handles' locks (the point at which it
 * takes effect), count it, add its explicit dependencies, and drop the
 * submission guard.
 */
static flo_status submit_one(flo_runtime *rt, const flo_task_desc *desc,
                             flo_event *out, unsigned flags)
{
    flo__lockent ent_inline[FLO__TASK_INLINE_ACC];
    flo__lockent *locks;
    flo__tcache *c;
    flo__task *t;
    unsigned elig = 0;
    flo_status st;
    flo_event ev;
    int nlocks;

    if (!rt || !desc)
        return FLO_EINVAL;
    if (flo__graph_rec && flo__graph_rec->rt == rt)
        return flo__graph_record(flo__graph_rec, desc, out);
    if (atomic_load_explicit(&rt->stopping, memory_order_relaxed))
        return FLO_ESTALE;
    st = flo__task_desc_check(rt, desc, &elig);
    if (st != FLO_OK)
        return st;
    c = flo__tcache_get(rt);
    if (!c)
        return FLO_ENOMEM;
    st =
        task_prepare(rt, c, desc, elig, flags, ent_inline, &t, &locks, &nlocks);
    if (st != FLO_OK)
        return st;
    ev = flo__task_event(rt, t);

    st = record_data_deps(rt, c, t, locks, nlocks);
    if (st != FLO_OK) {
        flo__task_free(rt, c, t);
        return st;
    }
    count_submission(rt, c);
    record_event_deps(rt, c, t, desc);
    drop_guard(rt, t);
    if (out)
        *out = ev;
    return FLO_OK;
}

flo_status flo_task_submit(flo_runtime *rt, const flo_task_desc *desc,
                           flo_event *out)
{
    return submit_one(rt, desc, out, 0);
}

flo_status flo__task_submit_inherit(flo_runtime *rt, const flo_task_desc *desc,
                                    flo_event *out)
{
    return submit_one(rt, desc, out, FLO__TF_INHERIT);
}

/* ---- Group submission ---------------------------------------------------
 * Several tasks that must take effect at one point (a replicated task's
 * copies and vote, scheduler/replicate.c): each is prepared like a task
 * of flo_task_submit, then the dependency locks of every handle of the
 * group are taken at once, in the canonical order, and the tasks'
 * dependencies are recorded in the group's order before any lock is
 * released. Nothing else is recorded between them on any of their
 * handles, and a handle unregistered meanwhile fails the whole group
 * before anything was recorded. */

/* What a group submission keeps per task while it records. */
typedef struct group_ent {
    flo__task *t;
    unsigned elig;
    flo__lockent *locks; /* Its distinct handles (task_prepare). */
    int nlocks;
    flo__lockent *reads; /* Its dependency-only reads, looked up. */
    flo__lockent inl[FLO__TASK_INLINE_ACC];
} group_ent;

flo_status flo__task_submit_group(flo_runtime *rt, flo__group_task *g, int n)
{
    flo__lockent *all = NULL, *reads = NULL;
    flo__tcache *c = NULL;
    group_ent *ge;
    flo_status st = FLO_OK;
    int nreads = 0, nall = 0, made = 0;

    if (n <= 0)
        return FLO_EINVAL;
    if (atomic_load_explicit(&rt->stopping, memory_order_relaxed))
        return FLO_ESTALE;
    for (int i = 0; i < n; i++)
        nreads += g[i].ndep_reads;
    ge = calloc((size_t)n, sizeof(*ge));
    if (!ge)
        return FLO_ENOMEM;
    if (nreads) {
        reads = malloc((size_t)nreads * sizeof(*reads));
        if (!reads) {
            free(ge);
            return FLO_ENOMEM;
        }
    }
    /* Check everything before taking a record. */
    for (int i = 0, r = 0; i < n; i++) {
        st = flo__task_desc_check(rt, g[i].desc, &ge[i].elig);
        if (st != FLO_OK)
            goto out;
        if (g[i].ndep_reads == 0)
            continue;
        ge[i].reads = reads + r;
        for (int j = 0; j < g[i].ndep_reads; j++, r++) {
            ge[i].reads[j].d = flo__data_lookup(rt, g[i].dep_reads[j], &st);
            if (!ge[i].reads[j].d)
                goto out;
            ge[i].reads[j].gen = g[i].dep_reads[j].gen;
        }
    }
    c = flo__tcache_get(rt);
    if (!c) {
        st = FLO_ENOMEM;
        goto out;
    }
    for (; made < n; made++) {
        group_ent *e = &ge[made];
        st = task_prepare(rt, c, g[made].desc, e->elig, g[made].flags, e->inl,
                          &e->t, &e->locks, &e->nlocks);
        if (st != FLO_OK)
            goto out;
        g[made].ev = flo__task_event(rt, e->t);
        nall += e->nlocks;
    }
    nall += nreads;
    all = malloc((size_t)(nall ? nall : 1) * sizeof(*all));
    if (!all) {
        st = FLO_ENOMEM;
        goto out;
    }
    nall = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < ge[i].nlocks; j++)
            all[nall++] = ge[i].locks[j];
        for (int j = 0; j < g[i].ndep_reads; j++)
            all[nall++] = ge[i].reads[j];
    }
    /* One lock per distinct handle: sorted, the entries of a handle are
     * adjacent (the index only makes the order total). */
    for (int i = 0; i < nall; i++)
        all[i].idx = i;
    sort_lockents(all, nall);
    for (int i = 0; i < nall; i++)
        if (i == 0 || all[i].d != all[i - 1].d)
            flo__spin_lock(&all[i].d->dep_lock);
    for (int i = 0; i < nall && st == FLO_OK; i++)
        if (!flo__data_current(all[i].d, all[i].gen))
            st = FLO_ESTALE;
    if (st == FLO_OK) {
        /* Committed: as in record_data_deps, a dependency that cannot be
         * recorded fails its task instead of the call. */
        for (int i = 0; i < n; i++) {
            flo__task *t = ge[i].t;
            flo_status st2;
            for (int j = 0; j < ge[i].nlocks; j++) {
                const flo__lockent *l = &ge[i].locks[j];
                st2 = flo__dep_add_data(rt, c, t, l->d, t->acc[l->idx].merged);
                if (st2 != FLO_OK)
                    flo__set_cancel_status(t, st2);
            }
            for (int j = 0; j < g[i].ndep_reads; j++) {
                st2 = flo__dep_add_data(rt, c, t, ge[i].reads[j].d, FLO_READ);
                if (st2 != FLO_OK)
                    flo__set_cancel_status(t, st2);
            }
        }
    }
    for (int i = nall - 1; i >= 0; i--)
        if (i == 0 || all[i].d != all[i - 1].d)
            flo__spin_unlock(&all[i].d->dep_lock);
    if (st != FLO_OK)
        goto out;

    for (int i = 0; i < n; i++) {
        flo__task *t = ge[i].t;
        count_submission(rt, c);
        record_event_deps(rt, c, t, g[i].desc);
        if (g[i].after >= 0 && g[i].after < i) {
            /* The earlier task's guard is still held: it has not
             * completed, so the edge always waits. */
            flo_status st2 = flo__add_edge(rt, c, ge[g[i].after].t, t, true);
            if (st2 != FLO_OK)
                flo__set_cancel_status(t, st2);
        }
        if (g[i].keep) {
            atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
            *g[i].keep = t;
        }
    }
    for (int i = 0; i < n; i++)
        drop_guard(rt, ge[i].t);
    made = 0; /* Submitted: nothing to give back. */

out:
    for (int i = 0; i < made; i++)
        flo__task_free(rt, c, ge[i].t);
    free(all);
    free(reads);
    free(ge);
    return st;
}
