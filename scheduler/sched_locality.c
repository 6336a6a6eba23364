/*
 * Flotilla - the `locality` policy (default when GPUs are in use).
 *
 * For a task more than one device can run, pick the device with the
 * earliest estimated finish:
 *     queued work of that device (ns)
 *   + bytes it would have to move there / link bandwidth
 *   + the kernel's expected time on that kind of device,
 * where the expected time comes from a history model learned at run time
 * per (kernel name, size class, device kind). An unseen combination costs
 * nothing, so every device gets tried once per kernel and size class
 * before the model decides. The task then goes to that device's worker
 * (GPU) or to the host work-stealing pool, whose engine this policy
 * reuses. Tasks only one device can run skip the estimate.
 *
 * The model learns from t_start/t_end of successful tasks in done():
 * host tasks are timed by the worker loop; GPU tasks by the CUDA backend,
 * from timed events around a sample of them (the first few of each name,
 * then one in FLO_CUDA_TIME_EVERY), without tracing. GPU workers take
 * their ready tasks by priority (flo__ws_pop).
 */
#include <math.h>
#include <stdlib.h>

#include "scheduler/queues.h"

#define MODEL_SLOTS 4096 /* Power of two. */

typedef struct model_ent {
    _Atomic uintptr_t key; /* 0: empty. */
    _Atomic uint64_t mean; /* EMA of run time, ns. */
    atomic_uint n;
} model_ent;

typedef struct locality {
    flo__ws *ws;
    /* Work queued per device, ns (estimates charged at push, removed at
     * completion). */
    _Atomic int64_t queued[FLO__MAX_NODES];
    model_ent model[MODEL_SLOTS];
    atomic_uint rr_dev; /* Round-robin among a device's workers. */
} locality;

/* Key: the task's name pointer, interned at submit (flo__name_intern:
 * equal names give one pointer whatever buffer the caller used, and it
 * is never freed), the size class of its data and the device kind. */
static uintptr_t model_key(const flo__task *t, flo_device_kind kind)
{
    uint64_t b = t->bytes ? t->bytes : 1;
    unsigned cls = 63u - (unsigned)__builtin_clzll(b);
    uintptr_t k = (uintptr_t)t->name;
    k ^= ((uintptr_t)cls << 1) * 0x9e3779b97f4a7c15ull;
    k ^= (uintptr_t)kind * 0xc2b2ae3d27d4eb4full;
    return k ? k : 1;
}

/* Expected run time in ns, or 0 when unknown. */
static uint64_t model_get(locality *l, uintptr_t key)
{
    for (unsigned i = 0; i < 8; i++) {
        model_ent *e = &l->model[(key + i) & (MODEL_SLOTS - 1)];
        uintptr_t k = atomic_load_explicit(&e->key, memory_order_acquire);
        if (k == key)
            return atomic_load_explicit(&e->mean, memory_order_relaxed);
        if (!k)
            return 0;
    }
    return 0;
}

static void model_put(locality *l, uintptr_t key, uint64_t ns)
{
    for (unsigned i = 0; i < 8; i++) {
        model_ent *e = &l->model[(key + i) & (MODEL_SLOTS - 1)];
        uintptr_t k = atomic_load_explicit(&e->key, memory_order_acquire);
        if (!k) {
            uintptr_t zero = 0;
            if (atomic_compare_exchange_strong(&e->key, &zero, key)) {
                atomic_store_explicit(&e->mean, ns, memory_order_relaxed);
                atomic_store_explicit(&e->n, 1, memory_order_relaxed);
                return;
            }
            k = zero;
        }
        if (k == key) {
            /* Racy read-modify-write: concurrent updates may drop a
             * sample, which an average can afford. */
            uint64_t m = atomic_load_explicit(&e->mean, memory_order_relaxed);
            unsigned n =
                atomic_fetch_add_explicit(&e->n, 1, memory_order_relaxed);
            double w = n < 8 ? 1.0 / (n + 1) : 0.125;
            atomic_store_explicit(
                &e->mean, (uint64_t)((1 - w) * (double)m + w * (double)ns),
                memory_order_relaxed);
            return;
        }
    }
}

static double transfer_ns(flo_runtime *rt, const flo__task *t, int node)
{
    double ns = 0;
    flo__device *dev = rt->plat.devices[node];

    for (int i = 0; i < t->naccess; i++) {
        const flo__acc *a = &t->acc[i];
        int s;
        double bw;
        if (!a->first || !(a->merged & FLO_READ))
            continue;
        s = atomic_load_explicit(&a->d->data.rep[node].state,
                                 memory_order_relaxed);
        if (s != FLO__REP_INVALID || !a->d->data.ever_written)
            continue;
        bw = node == 0 ? 0 : dev->h2d_bw;
        if (node == 0) {
            /* Coming home from whichever GPU holds it. */
            for (int g = 1; g < rt->plat.ndevices; g++) {
                if (atomic_load_explicit(&a->d->data.rep[g].state,
                                         memory_order_relaxed) !=
                    FLO__REP_INVALID) {
                    bw = rt->plat.devices[g]->d2h_bw;
                    break;
                }
            }
        }
        ns += (double)a->d->data.bytes / (bw > 0 ? bw : 10.0);
    }
    return ns;
}

/* Can device d run t (kind, workers, device affinity)? */
static bool device_can_run(flo_runtime *rt, const flo__task *t, int d)
{
    flo__device *dev = rt->plat.devices[d];
    unsigned need =
        dev->kind == FLO_DEVICE_HOST ? FLO__ELIG_HOST : FLO__ELIG_CUDA;
    return (t->eligible & need) && dev->nworkers > 0 &&
           (t->device < 0 || t->device == d) &&
           !atomic_load_explicit(&dev->lost, memory_order_relaxed);
}

static flo_status loc_init(flo_runtime *rt, void **priv)
{
    locality *l = calloc(1, sizeof(*l));
    flo_status st;

    if (!l)
        return FLO_ENOMEM;
    st = flo__ws_create(rt, &l->ws);
    if (st != FLO_OK) {
        free(l);
        return st;
    }
    *priv = l;
    return FLO_OK;
}

static void loc_fini(flo_runtime *rt, void *priv)
{
    locality *l = priv;
    flo__ws_destroy(rt, l->ws);
    free(l);
}

static void loc_push(flo_runtime *rt, flo__worker *self, flo__task *t)
{
    locality *l = rt->sched;
    double best = INFINITY, est_best = 0;
    int best_dev = -1;

    if (t->worker >= 0 ||
        (t->device >= 0 &&
         rt->plat.devices[t->device]->kind == FLO_DEVICE_HOST) ||
        (t->device < 0 && t->eligible == FLO__ELIG_HOST)) {
        flo__ws_push(rt, l->ws, self, t);
        return;
    }
    /* One device can run it: nothing to estimate or account. */
    {
        int only = -1, n = 0;
        for (int d = 0; d < rt->plat.ndevices && n < 2; d++) {
            if (device_can_run(rt, t, d)) {
                only = d;
                n++;
            }
        }
        if (n == 1 && rt->plat.devices[only]->kind != FLO_DEVICE_HOST) {
            flo__ws_push_to(rt, l->ws,
                            flo__pick_device_worker(rt, only, &l->rr_dev), t);
            return;
        }
    }
    for (int d = 0; d < rt->plat.ndevices; d++) {
        flo__device *dev = rt->plat.devices[d];
        double q, est, fin;
        if (!device_can_run(rt, t, d))
            continue;
        q = (double)atomic_load_explicit(&l->queued[d], memory_order_relaxed);
        q /= dev->nworkers;
        est = (double)model_get(l, model_key(t, dev->kind));
        fin = q + transfer_ns(rt, t, d) + est;
        if (fin < best) {
            best = fin;
            best_dev = d;
            est_best = est;
        }
    }
    if (best_dev < 0)
        best_dev = t->device >= 0 ? t->device : 0;
    t->est_ns = est_best > 0 ? est_best : 1000.0;
    atomic_fetch_add_explicit(&l->queued[best_dev], (int64_t)t->est_ns,
                              memory_order_relaxed);
    if (rt->plat.devices[best_dev]->kind == FLO_DEVICE_HOST) {
        flo__ws_push(rt, l->ws, self, t);
        return;
    }
    flo__ws_push_to(rt, l->ws,
                    flo__pick_device_worker(rt, best_dev, &l->rr_dev), t);
}

static flo__task *loc_pop(flo_runtime *rt, flo__worker *w)
{
    locality *l = rt->sched;
    return flo__ws_pop(rt, l->ws, w);
}

static flo__task *loc_take_own(flo_runtime *rt, flo__worker *w)
{
    locality *l = rt->sched;
    return flo__ws_take_own(rt, l->ws, w);
}

static void loc_done(flo_runtime *rt, flo__worker *w, flo__task *t)
{
    locality *l = rt->sched;

    if (t->est_ns > 0)
        atomic_fetch_sub_explicit(&l->queued[w->device], (int64_t)t->est_ns,
                                  memory_order_relaxed);
    if (t->t_end > t->t_start && t->status == FLO_OK)
        model_put(l, model_key(t, w->kind), t->t_end - t->t_start);
}

const flo__sched_ops flo__sched_locality = {
    .name = "locality",
    .init = loc_init,
    .fini = loc_fini,
    .push = loc_push,
    .pop = loc_pop,
    .done = loc_done,
    .take_own = loc_take_own,
};
