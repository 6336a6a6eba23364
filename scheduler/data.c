/*
 * Flotilla - data handles: a slot table with generations, so a stale or
 * foreign handle is an error, never undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/sched.h"

#define DATA_CHUNK 1024
#define DATA_MAX_CHUNKS 16383 /* Slot + 1 fits in 24 bits. */

flo_status flo__data_table_init(flo_runtime *rt)
{
    rt->data_chunks = calloc(DATA_MAX_CHUNKS, sizeof(flo__dslot *));
    return rt->data_chunks ? FLO_OK : FLO_ENOMEM;
}

flo__dslot *flo__data_lookup(const flo_runtime *rt, flo_data h, flo_status *st)
{
    uint64_t id = h.id;
    uint32_t slot;
    flo__dslot *chunk, *d;

    if (!rt || id == 0 || (id & FLO__ID_INDEX_MASK) == 0) {
        *st = FLO_EINVAL;
        return NULL;
    }
    if (flo__id_serial(id) != rt->serial) {
        *st = FLO_EFOREIGN;
        return NULL;
    }
    slot = flo__id_index(id);
    if (slot / DATA_CHUNK >= DATA_MAX_CHUNKS) {
        *st = FLO_EINVAL;
        return NULL;
    }
    chunk = atomic_load_explicit(&rt->data_chunks[slot / DATA_CHUNK],
                                 memory_order_acquire);
    if (!chunk) {
        *st = FLO_EINVAL;
        return NULL;
    }
    d = &chunk[slot % DATA_CHUNK];
    if (atomic_load_explicit(&d->gen, memory_order_acquire) != h.gen ||
        !atomic_load_explicit(&d->alive, memory_order_acquire)) {
        *st = FLO_ESTALE;
        return NULL;
    }
    *st = FLO_OK;
    return d;
}

/* Slots a runtime may use: all of them, or fewer under the test hook
 * FLO__TEST_DATA_LIMIT (docs/architecture.md). */
static uint32_t data_capacity(const flo_runtime *rt)
{
    uint32_t max = (uint32_t)DATA_MAX_CHUNKS * DATA_CHUNK;
    return rt->data_limit && rt->data_limit < max ? rt->data_limit : max;
}

static flo_status slot_new(flo_runtime *rt, flo__dslot **out)
{
    uint32_t slot;
    flo__dslot *chunk;
    flo_status st = FLO_OK;

    pthread_mutex_lock(&rt->data_mu);
    if (rt->ndata_free) {
        slot = rt->data_free[--rt->ndata_free];
    } else if (rt->data_next < data_capacity(rt)) {
        slot = rt->data_next;
        if (slot % DATA_CHUNK == 0 && !rt->data_chunks[slot / DATA_CHUNK]) {
            chunk = flo__calloc_aligned(DATA_CHUNK, sizeof(flo__dslot),
                                        _Alignof(flo__dslot));
            if (!chunk) {
                st = FLO_ENOMEM;
                goto out;
            }
            for (int i = 0; i < DATA_CHUNK; i++)
                atomic_init(&chunk[i].gen, rt->gen_base);
            atomic_store_explicit(&rt->data_chunks[slot / DATA_CHUNK], chunk,
                                  memory_order_release);
        }
        rt->data_next++;
    } else {
        FLO__ERR("too many data handles (%u)", data_capacity(rt));
        st = FLO_ENOMEM;
        goto out;
    }
    chunk = rt->data_chunks[slot / DATA_CHUNK];
    *out = &chunk[slot % DATA_CHUNK];
    (*out)->data.slot = slot;
out:
    pthread_mutex_unlock(&rt->data_mu);
    return st;
}

static void slot_release(flo_runtime *rt, flo__dslot *d)
{
    pthread_mutex_lock(&rt->data_mu);
    if (rt->ndata_free == rt->data_free_cap) {
        int cap = rt->data_free_cap ? 2 * rt->data_free_cap : 256;
        uint32_t *f = realloc(rt->data_free, (size_t)cap * sizeof(*f));
        if (!f) {
            /* Leak the slot (never reused) rather than fail unregister. */
            pthread_mutex_unlock(&rt->data_mu);
            return;
        }
        rt->data_free = f;
        rt->data_free_cap = cap;
    }
    rt->data_free[rt->ndata_free++] = d->data.slot;
    pthread_mutex_unlock(&rt->data_mu);
}

/* Make a reserved slot a fresh registration of [ptr, ptr + bytes) (NULL:
 * runtime-owned), not yet alive: memory of memory node node (0: host
 * memory; a GPU's: the program's device memory, whose replica is then
 * the only valid copy). FLO_ESYS if its locks cannot be made (the slot is
 * then still the caller's to release). */
static flo_status data_init_slot(flo_runtime *rt, flo__dslot *d, void *ptr,
                                 size_t bytes, int node)
{
    if (!d->inited) {
        if (pthread_mutex_init(&d->data.coh_lock, NULL))
            return FLO_ESYS;
        atomic_flag_clear(&d->dep_lock.f);
        d->inited = true;
    }
    d->rt = rt;
    d->data.bytes = bytes;
    d->data.user_ptr = node == 0 ? ptr : NULL;
    /* Device memory of the program's: the host copy is the runtime's. */
    d->data.owned = node != 0 || ptr == NULL;
    d->data.user_node = node;
    atomic_store(&d->acquired, 0);
    d->acqs = NULL;
    d->last_writer = NULL;
    d->readers = NULL;
    d->nreaders = 0;
    d->reader_compact_at = 64;
    d->data.ever_written = ptr != NULL;
    d->data.ver = d->data.host_ver = 0;
    d->data.host_torn = false;
    d->data.lost = 0;
    d->data.lost_node = 0;
    d->data.lin = NULL;
    atomic_store_explicit(&d->data.replay, NULL, memory_order_relaxed);
    d->data.replay_rd = false;
    /* Replicas of memory nodes the runtime does not have are never
     * written: they keep the zeros (INVALID, NULL) of the chunk's
     * memset. The slot is published later by the release store of
     * alive, so relaxed stores suffice here. */
    for (int i = 0; i < rt->plat.ndevices; i++) {
        flo__replica *r = &d->data.rep[i];
        r->ptr = NULL;
        atomic_store_explicit(&r->state, FLO__REP_INVALID,
                              memory_order_relaxed);
        r->pinned = 0;
        r->users = 0;
        r->last_use = 0;
        r->ready = NULL;
        r->lru_prev = r->lru_next = NULL;
    }
    if (ptr) {
        d->data.rep[node].ptr = ptr;
        atomic_store(&d->data.rep[node].state, FLO__REP_OWNER);
    }
    d->data.host_pin = FLO__PIN_NONE;
    return FLO_OK;
}

/* A new handle over [ptr, ptr + bytes) of memory node node (see
 * data_init_slot). */
static flo_status data_new(flo_runtime *rt, void *ptr, size_t bytes, int node,
                           flo_data *out)
{
    flo__dslot *d;
    flo_status st;

    if (!rt || !out || bytes == 0)
        return FLO_EINVAL;
    if (atomic_load(&rt->stopping))
        return FLO_ESTALE;
    st = slot_new(rt, &d);
    if (st != FLO_OK)
        return st;
    st = data_init_slot(rt, d, ptr, bytes, node);
    if (st != FLO_OK) {
        slot_release(rt, d);
        return st;
    }
    atomic_store_explicit(&d->alive, 1, memory_order_release);
    out->id = flo__id_make(rt->serial, d->data.slot);
    out->gen = atomic_load(&d->gen);
    return FLO_OK;
}

flo_status flo_data_register_flags(flo_runtime *rt, void *ptr, size_t bytes,
                                   unsigned flags, flo_data *out)
{
    flo_status st;
    flo__dslot *d;
    flo__device *x;

    if (!ptr || (flags & ~FLO_DATA_NO_PIN))
        return FLO_EINVAL;
    st = data_new(rt, ptr, bytes, 0, out);
    if (st != FLO_OK)
        return st;
    /* Page-lock before the handle is returned: no task can use it yet,
     * so host_pin needs no lock (submission publishes it to workers). A
     * failure leaves the memory pageable (FLO__PIN_FAILED). */
    x = flo__coh_xfer_dev(&rt->plat);
    if (x && !rt->cfg.no_pin_host && !(flags & FLO_DATA_NO_PIN) &&
        (d = flo__data_lookup(rt, *out, &st)) != NULL)
        d->data.host_pin = (uint8_t)x->xfer->host_pin(x, ptr, bytes);
    return FLO_OK;
}

flo_status flo_data_register(flo_runtime *rt, void *ptr, size_t bytes,
                             flo_data *out)
{
    return flo_data_register_flags(rt, ptr, bytes, 0, out);
}

/* Checks first, in the order the header documents: nothing is reserved
 * before the device has said the memory is its own. */
flo_status flo_data_register_device(flo_runtime *rt, int device, void *dev_ptr,
                                    size_t bytes, flo_data *out)
{
    flo__device *dev;
    flo_status st;

    if (!rt || !dev_ptr || bytes == 0 || !out)
        return FLO_EINVAL;
    if (!flo__platform_has_backend(FLO_DEVICE_CUDA))
        return FLO_ENOTSUP;
    if (device <= 0 || device >= rt->plat.ndevices)
        return FLO_ENODEV;
    dev = rt->plat.devices[device];
    if (dev->kind == FLO_DEVICE_HOST)
        return FLO_ENODEV;
    if (!dev->xfer || !dev->xfer->user_mem_check || !dev->xfer->pull_sync)
        return FLO_ENOTSUP;
    st = dev->xfer->user_mem_check(dev, dev_ptr, bytes);
    if (st != FLO_OK)
        return st;
    return data_new(rt, dev_ptr, bytes, device, out);
}

/* ---- Bulk registration -------------------------------------------------
 * flo_data_register_many reserves all its slots under one hold of
 * data_mu (undone in full if they are not all there), initialises them
 * without any lock (nobody else knows them yet), pins their memory in
 * one pass through the backend, and only then makes them alive and
 * writes the handles: until that point nothing is visible, so a failure
 * releases the slots and leaves no registration behind. */

/* Reserve n slots (their indices into slots: free list first, then
 * fresh ones). All or nothing: FLO_ENOMEM leaves the table as it was.
 * The slots themselves are not touched here (short lock hold, and the
 * caller's single pass over them finds them in cache). */
static flo_status slots_new_many(flo_runtime *rt, size_t n, uint32_t *slots)
{
    uint32_t next0, cap = data_capacity(rt);
    int nfree0;
    size_t k = 0;

    pthread_mutex_lock(&rt->data_mu);
    nfree0 = rt->ndata_free;
    next0 = rt->data_next;
    while (k < n && rt->ndata_free)
        slots[k++] = rt->data_free[--rt->ndata_free];
    while (k < n) {
        uint32_t slot = rt->data_next;
        if (slot >= cap)
            goto undo;
        if (!rt->data_chunks[slot / DATA_CHUNK]) {
            flo__dslot *chunk =
                aligned_alloc(FLO__CACHELINE, DATA_CHUNK * sizeof(flo__dslot));
            if (!chunk)
                goto undo;
            memset(chunk, 0, DATA_CHUNK * sizeof(flo__dslot));
            for (int i = 0; i < DATA_CHUNK; i++)
                atomic_init(&chunk[i].gen, rt->gen_base);
            /* Kept on undo: an allocated, empty chunk is what slot_new
             * would make for this index anyway. */
            atomic_store_explicit(&rt->data_chunks[slot / DATA_CHUNK], chunk,
                                  memory_order_release);
        }
        rt->data_next++;
        slots[k++] = slot;
    }
    pthread_mutex_unlock(&rt->data_mu);
    return FLO_OK;

undo:
    /* The free list's entries were only counted off: restore the count. */
    rt->ndata_free = nfree0;
    rt->data_next = next0;
    pthread_mutex_unlock(&rt->data_mu);
    FLO__ERR("too many data handles (%u): %zu more asked for", cap, n);
    return FLO_ENOMEM;
}

/* Return n slots to the free list under one hold of data_mu, the last
 * first (so that a rollback restores the list's order). A slot that
 * does not fit (no memory to grow the list) is leaked, never reused. */
static void slots_release_many(flo_runtime *rt, const uint32_t *slots, size_t n)
{
    pthread_mutex_lock(&rt->data_mu);
    if ((size_t)rt->data_free_cap - (size_t)rt->ndata_free < n) {
        size_t cap = (size_t)rt->ndata_free + n;
        uint32_t *f =
            cap <= INT32_MAX ? realloc(rt->data_free, cap * sizeof(*f)) : NULL;
        if (f) {
            rt->data_free = f;
            rt->data_free_cap = (int)cap;
        }
    }
    for (size_t i = n; i-- > 0 && rt->ndata_free < rt->data_free_cap;)
        rt->data_free[rt->ndata_free++] = slots[i];
    pthread_mutex_unlock(&rt->data_mu);
}

static flo__dslot *slot_data(const flo_runtime *rt, uint32_t slot)
{
    return &rt->data_chunks[slot / DATA_CHUNK][slot % DATA_CHUNK];
}

flo_status flo_data_register_many(flo_runtime *rt, size_t n, void *const *ptrs,
                                  const size_t *sizes, unsigned flags,
                                  flo_data *out)
{
    uint64_t *gens;
    uint32_t *slots;
    uint8_t *how;
    flo__device *x;
    bool pin;
    flo_status st = FLO_OK;
    size_t done = 0;

    if (!rt || (flags & ~FLO_DATA_NO_PIN) ||
        (n > 0 && (!ptrs || !sizes || !out)))
        return FLO_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!ptrs[i] || sizes[i] == 0)
            return FLO_EINVAL;
    if (n == 0)
        return FLO_OK;
    if (atomic_load(&rt->stopping))
        return FLO_ESTALE;
    if (n > data_capacity(rt))
        return FLO_ENOMEM;
    gens = malloc(n * (sizeof(*gens) + sizeof(*slots) + sizeof(*how)));
    if (!gens)
        return FLO_ENOMEM;
    slots = (uint32_t *)(gens + n);
    how = (uint8_t *)(slots + n);
    st = slots_new_many(rt, n, slots);
    if (st != FLO_OK)
        goto out;

    /* Page-lock everything in one pass (one device switch, as the
     * backend sees fit); pinning never fails a registration. */
    x = flo__coh_xfer_dev(&rt->plat);
    pin = x && !rt->cfg.no_pin_host && !(flags & FLO_DATA_NO_PIN);
    if (pin && x->xfer->host_pin_many) {
        x->xfer->host_pin_many(x, n, ptrs, sizes, how);
    } else {
        for (size_t i = 0; i < n; i++)
            how[i] = pin ? (uint8_t)x->xfer->host_pin(x, ptrs[i], sizes[i])
                         : (uint8_t)FLO__PIN_NONE;
    }

    /* One pass over the slots. They become alive here, but nobody can
     * name them before out is written below, so a failure (undone in
     * full) leaves no registration that anyone saw. */
    for (; done < n; done++) {
        flo__dslot *d = slot_data(rt, slots[done]);
        st = data_init_slot(rt, d, ptrs[done], sizes[done], 0);
        if (st != FLO_OK)
            break;
        d->data.slot = slots[done];
        d->data.host_pin = how[done];
        atomic_store_explicit(&d->alive, 1, memory_order_release);
        gens[done] = atomic_load_explicit(&d->gen, memory_order_relaxed);
    }
    if (st != FLO_OK) {
        for (size_t i = 0; i < done; i++)
            atomic_store(&slot_data(rt, slots[i])->alive, 0);
        for (size_t i = 0; i < n; i++)
            if (how[i] == FLO__PIN_REG)
                x->xfer->host_unpin(x, ptrs[i]);
        slots_release_many(rt, slots, n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        out[i].id = flo__id_make(rt->serial, slots[i]);
        out[i].gen = gens[i];
    }
out:
    free(gens);
    return st;
}

flo_status flo_data_alloc(flo_runtime *rt, size_t bytes, flo_data *out)
{
    /* No allocator gives more than PTRDIFF_MAX bytes (and sanitizers
     * abort rather than return NULL): refuse up front. */
    if (bytes > PTRDIFF_MAX)
        return rt && out ? FLO_ENOMEM : FLO_EINVAL;
    return data_new(rt, NULL, bytes, 0, out);
}

flo_status flo_data_size(const flo_runtime *rt, flo_data h, size_t *bytes)
{
    flo_status st;
    flo__dslot *d;

    if (!bytes)
        return FLO_EINVAL;
    d = flo__data_lookup(rt, h, &st);
    if (!d)
        return st;
    *bytes = d->data.bytes;
    return FLO_OK;
}

static bool in_task(flo_runtime *rt)
{
    flo__worker *w = flo__self_worker(rt);
    return w && atomic_load(&w->in_task);
}

flo_status flo_data_acquire(flo_runtime *rt, flo_data h, flo_access mode,
                            void **ptr)
{
    flo_status st, st2;
    flo__dslot *d;
    flo__task *t;
    flo__acq *a;
    void *p = NULL;

    if (!ptr ||
        (mode != FLO_READ && mode != FLO_WRITE && mode != FLO_READ_WRITE))
        return FLO_EINVAL;
    d = flo__data_lookup(rt, h, &st);
    if (!d)
        return st;
    if (in_task(rt))
        return FLO_EDEADLK;
    a = malloc(sizeof(*a));
    if (!a)
        return FLO_ENOMEM;
    atomic_fetch_add(&d->acquired, 1);
    a->task = NULL;
    st = flo__acquire_begin(rt, d, mode, h.gen, a, &t);
    if (!a->task) {
        /* Refused before anything was recorded (FLO_ENOMEM, FLO_ESTALE,
         * FLO_EDEADLK). Otherwise the acquire is held, even when its
         * status is an error (a failed writer, or no memory to record a
         * dependency): the caller releases it. */
        atomic_fetch_sub(&d->acquired, 1);
        free(a);
        return st;
    }
    st2 = flo__coh_host_prepare(&rt->plat, &d->data, mode, &p, NULL);
    if (st == FLO_OK)
        st = st2;
    *ptr = p;
    return st;
}

flo_status flo_data_release(flo_runtime *rt, flo_data h)
{
    flo_status st;
    flo__dslot *d;
    flo__acq **pp, *a = NULL;

    d = flo__data_lookup(rt, h, &st);
    if (!d)
        return st;
    /* Only the acquiring thread may release (its most recent acquire of
     * d first). */
    flo__spin_lock(&d->dep_lock);
    for (pp = &d->acqs; *pp; pp = &(*pp)->next)
        if (pthread_equal((*pp)->thread, pthread_self()))
            break;
    if (*pp) {
        a = *pp;
        *pp = a->next;
    }
    flo__spin_unlock(&d->dep_lock);
    if (!a)
        return FLO_EINVAL;
    atomic_fetch_sub(&d->acquired, 1);
    flo__acquire_end(a->task);
    free(a);
    return FLO_OK;
}

/* ---- Lookahead hints ---------------------------------------------------
 * A prefetch or a flush is a read-only task whose entry points do
 * nothing: the dependency order places it after the last writer already
 * submitted, and the backend's coherence makes the data valid where it
 * runs before calling the (empty) entry point. A CUDA entry point that
 * enqueues nothing completes once the fill copies have. */

static void hint_noop(flo_task_ctx *ctx)
{
    FLO__UNUSED(ctx);
}

static const flo_kernel hint_kernel = {"flo:prefetch", hint_noop, hint_noop};

static flo_status hint_submit(flo_runtime *rt, flo_data h, int device,
                              const char *name)
{
    flo_task_desc desc = FLO_TASK_DESC_INIT;
    flo_access_desc acc = {h, FLO_READ};
    flo_status st;

    desc.kernel = &hint_kernel;
    desc.access = &acc;
    desc.naccess = 1;
    desc.on_device = FLO_DEVICE(device);
    desc.name = name;
    st = flo_task_submit(rt, &desc, NULL);
    /* No worker for that device (e.g. host_workers busy elsewhere is not
     * an error): a hint that cannot run is simply dropped. */
    return st == FLO_ENODEV ? FLO_OK : st;
}

flo_status flo_data_prefetch(flo_runtime *rt, flo_data h, int device)
{
    flo_status st;
    flo__dslot *d = flo__data_lookup(rt, h, &st);

    if (!d)
        return st;
    if (device < 0 || device >= rt->plat.ndevices)
        return FLO_EINVAL;
    /* Host-only: the host copy is the only one, nothing to move. */
    if (rt->ngpu_workers == 0)
        return FLO_OK;
    return hint_submit(rt, h, device,
                       device == 0 ? "flo:flush" : "flo:prefetch");
}

flo_status flo_data_flush(flo_runtime *rt, flo_data h)
{
    flo_status st;
    flo__dslot *d = flo__data_lookup(rt, h, &st);

    if (!d)
        return st;
    if (rt->ngpu_workers == 0)
        return FLO_OK;
    return hint_submit(rt, h, 0, "flo:flush");
}

/* Drop the dependency references a handle holds (all tasks finished). */
static void drop_dep_refs(flo_runtime *rt, flo__dslot *d)
{
    flo__tcache *c = flo__tcache_get(rt);

    flo__spin_lock(&d->dep_lock);
    if (d->last_writer)
        flo__task_unref(rt, c, d->last_writer);
    d->last_writer = NULL;
    while (d->readers) {
        flo__edge *e = d->readers;
        d->readers = e->next;
        flo__task_unref(rt, c, e->task);
        flo__edge_free(rt, c, e);
    }
    d->nreaders = 0;
    flo__spin_unlock(&d->dep_lock);
}

static void data_retire(flo_runtime *rt, flo__dslot *d)
{
    flo__task *t;

    /* Wait for every task using d, then bring the data home: into the
     * program's host or device memory (an error is logged there; the
     * handle goes all the same). */
    flo__acquire_begin(rt, d, FLO_READ_WRITE, 0, NULL, &t);
    /* A lineage replay reading or recomputing d is not among its tasks:
     * it is waited for here (scheduler/lineage.c). */
    flo__replay_wait(&d->data);
    (void)flo__coh_user_sync(&rt->plat, &d->data);
    flo__acquire_end(t);
    flo__lineage_drop(rt, &d->data);
    drop_dep_refs(rt, d);
    flo__coh_free_replicas(&rt->plat, &d->data);
    atomic_fetch_add_explicit(&d->gen, 1, memory_order_release);
}

flo_status flo_data_unregister(flo_runtime *rt, flo_data h)
{
    flo_status st;
    flo__dslot *d;
    int one = 1;

    d = flo__data_lookup(rt, h, &st);
    if (!d)
        return st;
    if (in_task(rt))
        return FLO_EDEADLK;
    /* Submissions and acquires check alive under dep_lock and record
     * themselves under the same lock hold; clearing alive under that lock
     * splits them in two: those recorded before (the retire below waits
     * for them; an outstanding acquire makes this call FLO_EBUSY instead)
     * and those that fail with FLO_ESTALE. */
    flo__spin_lock(&d->dep_lock);
    if (d->acqs) {
        flo__spin_unlock(&d->dep_lock);
        return FLO_EBUSY;
    }
    bool won = atomic_compare_exchange_strong(&d->alive, &one, 0);
    flo__spin_unlock(&d->dep_lock);
    if (!won)
        return FLO_ESTALE;
    data_retire(rt, d);
    slot_release(rt, d);
    return FLO_OK;
}

void flo__data_discard(flo_runtime *rt, flo_data h)
{
    flo_status st;
    flo__dslot *d = flo__data_lookup(rt, h, &st);
    int one = 1;
    bool won;

    if (!d)
        return;
    flo__spin_lock(&d->dep_lock);
    won = atomic_compare_exchange_strong(&d->alive, &one, 0);
    flo__spin_unlock(&d->dep_lock);
    if (!won)
        return;
    /* Nobody else names it, and the tasks recorded on it have run: no
     * final wait (data_retire's pseudo-task would wait for the caller's
     * own task) and nothing to write back. No lineage replay reads it
     * (the tasks of a replicated task are not remembered). */
    flo__lineage_drop(rt, &d->data);
    drop_dep_refs(rt, d);
    flo__coh_free_replicas(&rt->plat, &d->data);
    atomic_fetch_add_explicit(&d->gen, 1, memory_order_release);
    slot_release(rt, d);
}

/* A handle of an unregister_many call, sorted by the address of its
 * flo__dslot (the order in which dependency locks are taken). */
typedef struct unreg_ent {
    flo__dslot *d;
    uint64_t gen;
} unreg_ent;

static int unreg_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const unreg_ent *)a)->d;
    uintptr_t y = (uintptr_t)((const unreg_ent *)b)->d;
    return x < y ? -1 : x > y;
}

/*
 * All or nothing against concurrent use: the call takes the dep_lock of
 * every handle in the global order submissions use (two-phase locking,
 * see flo_task_submit), checks that all are registered and none is
 * acquired, and only then clears alive on all of them before releasing
 * the locks. A submission, acquire or other unregister of any of them is
 * thus ordered entirely before or entirely after this one.
 */
flo_status flo_data_unregister_many(flo_runtime *rt, size_t n,
                                    const flo_data *hs)
{
    unreg_ent *v;
    uint32_t *slots;
    flo_status st = FLO_OK;
    size_t locked = 0;

    if (!rt || (n > 0 && !hs))
        return FLO_EINVAL;
    if (n == 0)
        return FLO_OK;
    if (n > data_capacity(rt))
        return FLO_EINVAL; /* More handles than can exist: duplicates. */
    v = malloc(n * (sizeof(*v) + sizeof(*slots)));
    if (!v)
        return FLO_ENOMEM;
    slots = (uint32_t *)(v + n);
    for (size_t i = 0; i < n; i++) {
        v[i].d = flo__data_lookup(rt, hs[i], &st);
        v[i].gen = hs[i].gen;
        if (!v[i].d)
            goto out;
    }
    if (in_task(rt)) {
        st = FLO_EDEADLK;
        goto out;
    }
    /* Handles of one flo_data_register_many are usually in address
     * order already: sort only when they are not. */
    for (size_t i = 1; i < n; i++)
        if (v[i].d <= v[i - 1].d) {
            qsort(v, n, sizeof(*v), unreg_cmp);
            break;
        }
    for (size_t i = 1; i < n; i++)
        if (v[i].d == v[i - 1].d) {
            st = FLO_EINVAL; /* The same handle twice. */
            goto out;
        }

    for (; locked < n; locked++) {
        flo__dslot *d = v[locked].d;
        flo__spin_lock(&d->dep_lock);
        if (!atomic_load_explicit(&d->alive, memory_order_acquire) ||
            atomic_load_explicit(&d->gen, memory_order_acquire) !=
                v[locked].gen) {
            st = FLO_ESTALE; /* Unregistered since the lookup. */
            locked++;
            break;
        }
        if (d->acqs) {
            st = FLO_EBUSY;
            locked++;
            break;
        }
    }
    if (st == FLO_OK)
        for (size_t i = 0; i < n; i++)
            atomic_store_explicit(&v[i].d->alive, 0, memory_order_release);
    while (locked > 0)
        flo__spin_unlock(&v[--locked].d->dep_lock);
    if (st != FLO_OK)
        goto out;

    /* Nobody can name them now: wait for their tasks and write back. */
    for (size_t i = 0; i < n; i++) {
        data_retire(rt, v[i].d);
        slots[i] = v[i].d->data.slot;
    }
    slots_release_many(rt, slots, n);
out:
    free(v);
    return st;
}

void flo__data_fini_all(flo_runtime *rt)
{
    if (!rt->data_chunks)
        return;
    for (int k = 0; k < DATA_MAX_CHUNKS; k++) {
        flo__dslot *chunk = rt->data_chunks[k];
        if (!chunk)
            continue;
        for (int i = 0; i < DATA_CHUNK; i++) {
            flo__dslot *d = &chunk[i];
            int one = 1;
            if (!d->inited)
                continue;
            if (atomic_compare_exchange_strong(&d->alive, &one, 0)) {
                /* Still registered at finalize: release forgotten
                 * acquires, then write back like unregister. */
                while (d->acqs) {
                    flo__acq *a = d->acqs;
                    d->acqs = a->next;
                    flo__acquire_end(a->task);
                    free(a);
                }
                data_retire(rt, d);
            }
            pthread_mutex_destroy(&d->data.coh_lock);
        }
        free(chunk);
    }
    free((void *)rt->data_chunks);
    rt->data_chunks = NULL;
    free(rt->data_free);
    rt->data_free = NULL;
}

void flo__data_foreach(flo_runtime *rt, void (*fn)(flo__dslot *d, void *arg),
                       void *arg)
{
    for (int k = 0; k < DATA_MAX_CHUNKS; k++) {
        flo__dslot *chunk =
            atomic_load_explicit(&rt->data_chunks[k], memory_order_acquire);
        if (!chunk)
            break;
        for (int i = 0; i < DATA_CHUNK; i++) {
            flo__dslot *d = &chunk[i];
            if (d->inited && atomic_load(&d->alive))
                fn(d, arg);
        }
    }
}
