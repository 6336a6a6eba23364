/*
 * Flotilla - the host backend: tasks run on host worker threads, on host
 * memory. Always present; how CI and GPU-less machines run everything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device.h"

static flo_status host_worker_start(flo__worker *w)
{
    FLO__UNUSED(w);
    return FLO_OK;
}

static void host_worker_stop(flo__worker *w)
{
    FLO__UNUSED(w);
}

static flo_status host_execute(flo__worker *w, flo__task *t)
{
    int n = flo__task_naccess(t);

    for (int i = 0; i < n; i++) {
        flo__data *d = flo__task_access_data(t, i);
        void *p;
        flo_status st = flo__coh_host_prepare(
            flo__worker_device(w)->plat, d, flo__task_access_mode(t, i), &p, t);
        if (st == FLO__EHOLD)
            return st; /* Its buffers are being recomputed. */
        if (st == FLO_EDATALOSS) {
            flo__task_set_error(t, st,
                                "task '%s': buffer %d (data handle %u, %zu "
                                "bytes) was lost with device %d",
                                flo__task_name(t), i, d->slot, d->bytes,
                                d->lost_node);
            return st;
        }
        if (st != FLO_OK) {
            flo__task_set_error(t, st,
                                "task '%s': cannot make buffer %d "
                                "valid on the host: %s",
                                flo__task_name(t), i, flo_status_str(st));
            return st;
        }
        flo__task_set_buffer(t, i, p);
    }
    return flo__task_invoke(w, t, flo__task_host_fn(t), NULL);
}

/* Retries (scheduler/task_ctx.c): a host copy of a buffer. */
static void *host_save(flo__worker *w, const void *ptr, size_t bytes,
                       void *stream)
{
    FLO__UNUSED(w);
    FLO__UNUSED(stream);
    void *p = malloc(bytes);
    if (p)
        memcpy(p, ptr, bytes);
    return p;
}

static void host_restore(flo__worker *w, void *saved, void *ptr, size_t bytes,
                         void *stream)
{
    FLO__UNUSED(w);
    FLO__UNUSED(stream);
    memcpy(ptr, saved, bytes);
}

static void host_discard(flo__worker *w, void *saved, void *stream)
{
    FLO__UNUSED(w);
    FLO__UNUSED(stream);
    free(saved);
}

static flo_status host_copy_to_host(flo__device *dev, void *dst,
                                    const void *src, size_t bytes)
{
    FLO__UNUSED(dev);
    FLO__UNUSED(dst);
    FLO__UNUSED(src);
    FLO__UNUSED(bytes);
    /* Host replicas are node 0 itself: nothing ever asks this. */
    return FLO_ENOTSUP;
}

static void host_replica_free(flo__device *dev, flo__replica *r, size_t bytes)
{
    FLO__UNUSED(dev);
    FLO__UNUSED(r);
    FLO__UNUSED(bytes);
}

static void host_fini(flo__device *dev)
{
    FLO__UNUSED(dev);
}

/* copy_entry: n host buffers into the next n (device/device.h). */
static void host_copy_entry(flo_task_ctx *ctx)
{
    const flo__copy_args *a = FLO_TASK_ARGS(ctx, flo__copy_args);

    if (!a) {
        flo_task_fail(ctx, FLO_EINTERNAL, "copy task without arguments");
        return;
    }
    for (int i = 0; i < a->n; i++)
        memcpy(flo_task_buffer(ctx, a->n + i), flo_task_buffer(ctx, i),
               flo_task_buffer_size(ctx, i));
}

static const flo__device_ops host_ops = {
    .name = "host",
    .worker_start = host_worker_start,
    .worker_stop = host_worker_stop,
    .execute = host_execute,
    .progress = NULL,
    .inflight = NULL,
    .can_accept = NULL,
    .wait_progress = NULL,
    .copy_to_host = host_copy_to_host,
    .replica_free = host_replica_free,
    .fini = host_fini,
    .save = host_save,
    .restore = host_restore,
    .discard = host_discard,
    .copy_entry = host_copy_entry,
};

/* The host device, memory node 0: always there. Its workers are made by
 * flo_init (one per free core, or cfg.host_workers). */
static flo_status host_probe(flo__platform *plat, int *ndevices)
{
    flo__device *dev = calloc(1, sizeof(*dev));
    flo_status st;

    if (!dev)
        return FLO_ENOMEM;
    dev->kind = FLO_DEVICE_HOST;
    dev->ops = &host_ops;
    dev->info.kind = FLO_DEVICE_HOST;
    dev->info.ordinal = -1;
    snprintf(dev->info.name, sizeof(dev->info.name), "host");
    dev->h2d_bw = dev->d2h_bw = 10.0;
    dev->worker_core = -1;
    st = flo__platform_add(plat, dev);
    if (st != FLO_OK) {
        free(dev);
        return st;
    }
    *ndevices = 1;
    return FLO_OK;
}

const flo__backend flo__host_backend = {
    .name = "host",
    .kind = FLO_DEVICE_HOST,
    .probe = host_probe,
};
