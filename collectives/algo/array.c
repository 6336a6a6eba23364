/*
 * Flotilla - distributed arrays: creation, layout, blocks, host copies.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/algo/algo.h"
#include "collectives/algo/algo_cuda.h"
#include "scheduler/sched.h"

/* Smallest block the default host layout makes: below this a block's task
 * costs more than its loop. */
#define FLO__HOST_MIN_BLOCK (UINT64_C(1) << 16)
/* Smallest scratch handle (flo_data_alloc refuses 0 bytes). */
#define FLO__MIN_SCRATCH 256

bool flo__algo_dtype_ok(flo_dtype t)
{
    return (unsigned)t < FLO_DTYPE_COUNT;
}

bool flo__array_same_shape(const flo_array *a, const flo_array *b)
{
    if (a->rt != b->rt || a->n != b->n || a->nblocks != b->nblocks)
        return false;
    for (int i = 0; i < a->nblocks; i++)
        if (a->blk[i].offset != b->blk[i].offset ||
            a->blk[i].count != b->blk[i].count)
            return false;
    return true;
}

void flo__algo_join_host(flo_task_ctx *ctx)
{
    FLO__UNUSED(ctx);
}

static const flo_kernel join_kernel = {
    .name = "flo.array.join", .host = flo__algo_join_host, .cuda = NULL};

flo_status flo__algo_join(flo_runtime *rt, const flo_event *evs, int n,
                          flo_event *out)
{
    if (n == 1) {
        *out = evs[0];
        return FLO_OK;
    }
    flo_task_desc d = FLO_TASK_DESC_INIT;
    d.kernel = &join_kernel;
    d.deps = evs;
    d.ndeps = n;
    d.on_device = FLO_DEVICE(0);
    return flo_task_submit(rt, &d, out);
}

/* Devices an array uses by default: every GPU, else the host. */
static int devices_in_use(const flo_runtime *rt, int *devs)
{
    int nd = flo_device_count(rt), k = 0;
    for (int d = 1; d < nd && k < FLO_ARRAY_MAX_BLOCKS; d++)
        devs[k++] = d;
    if (k == 0)
        devs[k++] = 0;
    return k;
}

static int host_workers(const flo_runtime *rt)
{
    int nw = flo_worker_count(rt), h = 0;
    for (int w = 0; w < nw; w++)
        if (flo_worker_device(rt, w) == 0)
            h++;
    return h > 0 ? h : 1;
}

/* Resolve a layout into per-block devices and offsets (offsets has
 * nblocks + 1 entries). Validates everything; touches nothing. */
static flo_status plan_layout(const flo_runtime *rt, uint64_t n,
                              const flo_array_layout *l, int *nblocks,
                              int *devs, uint64_t *offsets)
{
    int use[FLO_ARRAY_MAX_BLOCKS];
    int nuse = devices_in_use(rt, use);
    int nd = flo_device_count(rt);
    int k;

    if (l != NULL && l->size != 0 && l->size != sizeof(*l))
        return FLO_EINVAL;
    if (l == NULL || l->nblocks == 0) {
        if (l != NULL && (l->devices != NULL || l->weights != NULL))
            return FLO_EINVAL;
        if (use[0] != 0) {
            k = nuse;
        } else {
            uint64_t byn = n / FLO__HOST_MIN_BLOCK;
            k = host_workers(rt);
            if ((uint64_t)k > byn)
                k = byn > 0 ? (int)byn : 1;
            if (k > FLO_ARRAY_MAX_BLOCKS)
                k = FLO_ARRAY_MAX_BLOCKS;
        }
        for (int i = 0; i < k; i++)
            devs[i] = use[i % nuse];
        for (int i = 0; i <= k; i++)
            offsets[i] = n * (uint64_t)i / (uint64_t)k;
        *nblocks = k;
        return FLO_OK;
    }
    k = l->nblocks;
    if (k < 0 || k > FLO_ARRAY_MAX_BLOCKS)
        return FLO_EINVAL;
    for (int i = 0; i < k; i++) {
        int d = l->devices != NULL ? l->devices[i] : use[i % nuse];
        if (d < 0 || d >= nd)
            return FLO_EINVAL;
        devs[i] = d;
    }
    if (l->weights == NULL) {
        for (int i = 0; i <= k; i++)
            offsets[i] = n * (uint64_t)i / (uint64_t)k;
    } else {
        double total = 0.0, acc = 0.0;
        for (int i = 0; i < k; i++) {
            double w = l->weights[i];
            if (!(w > 0.0) || !isfinite(w))
                return FLO_EINVAL;
            total += w;
        }
        if (!isfinite(total))
            return FLO_EINVAL;
        offsets[0] = 0;
        for (int i = 1; i < k; i++) {
            acc += l->weights[i - 1];
            double f = floor((double)n * (acc / total));
            uint64_t o = f <= 0.0 ? 0 : (uint64_t)f;
            if (o > n)
                o = n;
            if (o < offsets[i - 1])
                o = offsets[i - 1];
            offsets[i] = o;
        }
        offsets[k] = n;
    }
    *nblocks = k;
    return FLO_OK;
}

static void array_free_handles(flo_array *a)
{
    for (int i = 0; i < a->nblocks; i++) {
        flo__ablock *b = &a->blk[i];
        for (int k = 0; k < FLO__SCRATCH_SLOTS; k++)
            if (b->scratch[k].id != 0)
                flo_data_unregister(a->rt, b->scratch[k]);
        if (b->partial.id != 0)
            flo_data_unregister(a->rt, b->partial);
        if (b->data.id != 0)
            flo_data_unregister(a->rt, b->data);
    }
    if (a->carries.id != 0)
        flo_data_unregister(a->rt, a->carries);
}

flo_status flo_array_create(flo_runtime *rt, flo_dtype dtype, uint64_t n,
                            const flo_array_layout *layout, flo_array **out)
{
    int devs[FLO_ARRAY_MAX_BLOCKS], k = 0;
    uint64_t offs[FLO_ARRAY_MAX_BLOCKS + 1];
    flo_status st;

    if (rt == NULL || out == NULL || !flo__algo_dtype_ok(dtype))
        return FLO_EINVAL;
    if (n > FLO_ARRAY_MAX_ELEMS)
        return FLO_ERANGE;
    st = plan_layout(rt, n, layout, &k, devs, offs);
    if (st != FLO_OK)
        return st;

    flo_array *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return FLO_ENOMEM;
    a->rt = rt;
    a->dtype = dtype;
    a->esize = flo_dtype_size(dtype);
    a->n = n;
    a->nblocks = k;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return FLO_ESYS;
    }
    for (int i = 0; i < k; i++) {
        flo__ablock *b = &a->blk[i];
        flo_device_info info;
        b->device = devs[i];
        b->offset = offs[i];
        b->count = offs[i + 1] - offs[i];
        st = flo_device_get_info(rt, b->device, &info);
        if (st != FLO_OK)
            goto fail;
        b->gpu = info.kind == FLO_DEVICE_CUDA;
        if (b->count == 0)
            continue;
        a->nactive++;
        st = flo_data_alloc(rt, b->count * a->esize, &b->data);
        if (st != FLO_OK)
            goto fail;
        st = flo_data_alloc(rt, FLO__PARTIAL_BYTES, &b->partial);
        if (st != FLO_OK)
            goto fail;
        if (b->gpu) {
#if FLO_HAVE_CUDA
            size_t bytes = 0;
            int err = flo__algo_cuda_temp_bytes(dtype, b->count, info.ordinal,
                                                &bytes);
            if (err != 0) {
                FLO__ERR("array: CUB scratch size query failed: %s",
                         flo__algo_cuda_strerror(err));
                st = FLO_EDEVICE;
                goto fail;
            }
            b->scratch_bytes = FLO__MAX(bytes, (size_t)FLO__MIN_SCRATCH);
            for (int s = 0; s < FLO__SCRATCH_SLOTS; s++) {
                st = flo_data_alloc(rt, b->scratch_bytes, &b->scratch[s]);
                if (st != FLO_OK)
                    goto fail;
            }
#else
            st = FLO_EINTERNAL;
            goto fail;
#endif
        }
    }
    st = flo_data_alloc(rt, (FLO_ARRAY_MAX_BLOCKS + 1) * 8, &a->carries);
    if (st != FLO_OK)
        goto fail;
    *out = a;
    return FLO_OK;

fail:
    array_free_handles(a);
    pthread_mutex_destroy(&a->mu);
    free(a);
    return st;
}

flo_status flo_array_create_from_host(flo_runtime *rt, flo_dtype dtype,
                                      uint64_t n, const void *src,
                                      const flo_array_layout *layout,
                                      flo_array **out)
{
    flo_array *a;
    flo_status st;

    if (src == NULL && n > 0)
        return FLO_EINVAL;
    st = flo_array_create(rt, dtype, n, layout, &a);
    if (st != FLO_OK)
        return st;
    st = flo_array_from_host(a, src);
    if (st != FLO_OK) {
        flo_array_destroy(a);
        return st;
    }
    *out = a;
    return FLO_OK;
}

flo_status flo_array_destroy(flo_array *a)
{
    if (a == NULL)
        return FLO_EINVAL;
    /* Refuse before freeing anything if the user still holds a block. */
    for (int i = 0; i < a->nblocks; i++) {
        flo_status st;
        flo__dslot *d;
        if (a->blk[i].data.id == 0)
            continue;
        d = flo__data_lookup(a->rt, a->blk[i].data, &st);
        if (d == NULL)
            return st;
        if (atomic_load(&d->acquired) > 0)
            return FLO_EBUSY;
    }
    if (flo__self_worker(a->rt) != NULL)
        return FLO_EDEADLK;
    array_free_handles(a);
    pthread_mutex_destroy(&a->mu);
    free(a);
    return FLO_OK;
}

uint64_t flo_array_size(const flo_array *a)
{
    return a != NULL ? a->n : 0;
}

flo_dtype flo_array_dtype(const flo_array *a)
{
    return a != NULL ? a->dtype : FLO_DTYPE_COUNT;
}

int flo_array_nblocks(const flo_array *a)
{
    return a != NULL ? a->nblocks : 0;
}

flo_status flo_array_block(const flo_array *a, int i,
                           flo_array_block_info *info)
{
    if (a == NULL || info == NULL)
        return FLO_EINVAL;
    if (i < 0 || i >= a->nblocks)
        return FLO_ERANGE;
    info->data = a->blk[i].data;
    info->device = a->blk[i].device;
    info->offset = a->blk[i].offset;
    info->count = a->blk[i].count;
    return FLO_OK;
}

/* Copy between host memory and every block through acquire / release:
 * the runtime moves each block to host memory (or, writing, marks the
 * host copy the only valid one, to be moved by the next task). */
static flo_status host_copy(flo_array *a, void *host, bool to_host)
{
    flo_status first = FLO_OK;
    for (int i = 0; i < a->nblocks; i++) {
        const flo__ablock *b = &a->blk[i];
        char *h = (char *)host + b->offset * a->esize;
        void *p;
        flo_status st;
        if (b->count == 0)
            continue;
        st = flo_data_acquire(a->rt, b->data, to_host ? FLO_READ : FLO_WRITE,
                              &p);
        if (st == FLO_OK) {
            if (to_host)
                memcpy(h, p, b->count * a->esize);
            else
                memcpy(p, h, b->count * a->esize);
        } else if (first == FLO_OK) {
            first = st;
        }
        /* Acquire leaves the data acquired even when a writer failed;
         * only argument errors acquire nothing. */
        if (st != FLO_EINVAL && st != FLO_ESTALE && st != FLO_EFOREIGN &&
            st != FLO_EDEADLK)
            flo_data_release(a->rt, b->data);
    }
    return first;
}

flo_status flo_array_from_host(flo_array *a, const void *src)
{
    if (a == NULL || (src == NULL && a->n > 0))
        return FLO_EINVAL;
    return host_copy(a, (void *)(uintptr_t)src, false);
}

flo_status flo_array_to_host(flo_array *a, void *dst)
{
    if (a == NULL || (dst == NULL && a->n > 0))
        return FLO_EINVAL;
    return host_copy(a, dst, true);
}
