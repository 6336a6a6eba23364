/*
 * Flotilla - the task context an entry point receives (flo_task_buffer,
 * flo_task_args, flo_task_fail, ...), running an entry point, and what a
 * backend may ask of a task (device/device.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/tasks.h"

struct flo_task_ctx {
    flo_runtime *rt;
    flo__worker *w;
    flo__task *t;
    void *stream;
    flo_status failed;
};

/* ---- Task context ------------------------------------------------------ */

void *flo_task_buffer(flo_task_ctx *ctx, int i)
{
    if (!ctx || i < 0 || i >= ctx->t->naccess)
        return NULL;
    return ctx->t->acc[i].ptr;
}

size_t flo_task_buffer_size(flo_task_ctx *ctx, int i)
{
    if (!ctx || i < 0 || i >= ctx->t->naccess)
        return 0;
    return ctx->t->acc[i].d->data.bytes;
}

size_t flo_task_buffer_count(flo_task_ctx *ctx, int i, size_t elem_size)
{
    size_t bytes;

    if (!ctx || i < 0 || i >= ctx->t->naccess || elem_size == 0)
        return 0;
    bytes = ctx->t->acc[i].d->data.bytes;
    return bytes % elem_size == 0 ? bytes / elem_size : 0;
}

void *flo_task_buffer_as(flo_task_ctx *ctx, int i, size_t elem_size,
                         size_t align)
{
    void *p;

    if (!ctx || i < 0 || i >= ctx->t->naccess || elem_size == 0 || align == 0 ||
        (align & (align - 1)) != 0 ||
        ctx->t->acc[i].d->data.bytes % elem_size != 0)
        return NULL;
    p = ctx->t->acc[i].ptr;
    return (uintptr_t)p % align == 0 ? p : NULL;
}

const void *flo_task_args(flo_task_ctx *ctx, size_t *size)
{
    if (!ctx)
        return NULL;
    if (size)
        *size = ctx->t->args_size;
    return ctx->t->args_size ? ctx->t->args : NULL;
}

const void *flo_task_args_as(flo_task_ctx *ctx, size_t size)
{
    if (!ctx || size == 0 || ctx->t->args_size != size)
        return NULL;
    return ctx->t->args;
}

int flo_task_worker(flo_task_ctx *ctx)
{
    return ctx ? ctx->w->id : -1;
}

int flo_task_device(flo_task_ctx *ctx)
{
    return ctx ? ctx->w->device : -1;
}

flo_runtime *flo_task_runtime(flo_task_ctx *ctx)
{
    return ctx ? ctx->rt : NULL;
}

void *flo_task_stream(flo_task_ctx *ctx)
{
    return ctx ? ctx->stream : NULL;
}

/* Declared in flotilla/cuda.h, which needs the CUDA headers: declared
 * again here, exported like the rest of the public API. */
FLO_BEGIN_DECLS
int flo_task_cuda_ordinal(flo_task_ctx *ctx);
FLO_END_DECLS

int flo_task_cuda_ordinal(flo_task_ctx *ctx)
{
    if (!ctx || ctx->w->kind != FLO_DEVICE_CUDA)
        return -1;
    return ctx->w->dev->info.ordinal;
}

static void vset_error(flo__task *t, flo_status st, const char *fmt, va_list ap)
{
    char buf[512];

    /* Only a failure has a message (flo_error_message reports it). */
    if (st >= 0)
        return;
    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (t->msg) {
        /* The first reason wins; later ones only reach the debug log. */
        FLO__DEBUG("task '%s': %s (%s; its first failure is kept)",
                   t->name ? t->name : "?", buf, flo_status_str(st));
        return;
    }
    t->msg = strdup(buf);
}

void flo__task_set_error(flo__task *t, flo_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset_error(t, st, fmt, ap);
    va_end(ap);
}

void flo_task_fail(flo_task_ctx *ctx, flo_status code, const char *fmt, ...)
{
    va_list ap;

    if (!ctx || ctx->failed != FLO_OK)
        return;
    ctx->failed = code < 0 ? code : FLO_ETASK;
    va_start(ap, fmt);
    vset_error(ctx->t, ctx->failed, fmt ? fmt : "task failed", ap);
    va_end(ap);
}

/*
 * An attempt of a task that may retry: its buffers written in read-write
 * mode are saved first (by its device, in stream order) and written back
 * if the attempt fails with FLO_EAGAIN, so that the next attempt reads
 * what this one read. A buffer that cannot be saved makes the task
 * unable to retry (its budget drops to 0).
 */
static flo_status invoke_saving(flo__worker *w, flo__task *t, flo_task_fn fn,
                                void *stream)
{
    const flo__device_ops *ops = w->dev->ops;
    flo_task_ctx ctx = {w->rt, w, t, stream, FLO_OK};
    void *inl[8], **saved = inl;
    int n = t->naccess;

    bool ok = true;

    if (n > 8 && !(saved = calloc((size_t)n, sizeof(*saved))))
        ok = false;
    for (int i = 0; i < n && ok; i++) {
        flo__acc *a = &t->acc[i];
        saved[i] = NULL;
        if (!a->first || (a->merged & FLO_READ_WRITE) != FLO_READ_WRITE)
            continue;
        saved[i] =
            ops->save ? ops->save(w, a->ptr, a->d->data.bytes, stream) : NULL;
        if (!saved[i]) {
            FLO__WARN("task '%s': cannot save buffer %d for a retry; it "
                      "will not be retried",
                      t->name, i);
            ok = false;
            t->retries = 0;
            t->saving = false;
            for (int k = 0; k < i; k++)
                if (saved[k])
                    ops->discard(w, saved[k], stream);
        }
    }
    atomic_store_explicit(&w->in_task, 1, memory_order_relaxed);
    fn(&ctx);
    atomic_store_explicit(&w->in_task, 0, memory_order_relaxed);
    if (ok) {
        for (int i = 0; i < n; i++) {
            if (!saved[i])
                continue;
            if (ctx.failed == FLO_EAGAIN)
                ops->restore(w, saved[i], t->acc[i].ptr,
                             t->acc[i].d->data.bytes, stream);
            ops->discard(w, saved[i], stream);
        }
    }
    if (saved != inl && saved)
        free(saved);
    if (ctx.failed != FLO_OK && !t->msg)
        flo__task_set_error(t, ctx.failed, "task '%s' failed", t->name);
    return ctx.failed;
}

flo_status flo__task_invoke(flo__worker *w, flo__task *t, flo_task_fn fn,
                            void *stream)
{
    flo_task_ctx ctx = {w->rt, w, t, stream, FLO_OK};

    if (FLO__UNLIKELY(t->saving))
        return invoke_saving(w, t, fn, stream);
    atomic_store_explicit(&w->in_task, 1, memory_order_relaxed);
    fn(&ctx);
    atomic_store_explicit(&w->in_task, 0, memory_order_relaxed);
    if (ctx.failed != FLO_OK && !t->msg)
        flo__task_set_error(t, ctx.failed, "task '%s' failed", t->name);
    return ctx.failed;
}

/*
 * Run fn as one of the tasks recorded in a graph, inside the graph's
 * launch task (parent): its buffers are the parent's buffers uidx[0..n),
 * its arguments args. The context is a scratch record on this stack,
 * valid only during the call. A failure of fn fails the parent with fn's
 * message.
 */
flo_status flo__task_invoke_inner(flo_task_ctx *parent, flo_task_fn fn, int n,
                                  const int *uidx, const void *args,
                                  size_t args_size, const char *name,
                                  void *stream)
{
    flo__acc inl[16];
    flo__acc *acc = n <= 16 ? inl : malloc((size_t)n * sizeof(*acc));
    flo__task t;

    if (!acc)
        return FLO_ENOMEM;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < n; i++) {
        acc[i] = parent->t->acc[uidx[i]];
        acc[i].first = false;
    }
    t.acc = acc;
    t.naccess = n;
    t.args = (void *)args;
    t.args_size = args_size;
    t.name = name;
    t.priority = parent->t->priority;
    t.device = parent->t->device;
    t.worker = parent->t->worker;
    flo_task_ctx ctx = {parent->rt, parent->w, &t, stream, FLO_OK};
    fn(&ctx);
    if (ctx.failed != FLO_OK)
        flo_task_fail(parent, ctx.failed, "%s",
                      t.msg ? t.msg : "a task of the graph failed");
    free(t.msg);
    if (acc != inl)
        free(acc);
    return ctx.failed;
}

/* ---- Accessors for backends ------------------------------------------- */

int flo__task_naccess(const flo__task *t)
{
    return t->naccess;
}
flo__data *flo__task_access_data(const flo__task *t, int i)
{
    return &t->acc[i].d->data;
}
flo_access flo__task_access_mode(const flo__task *t, int i)
{
    /* The merged mode, so a handle named twice is prepared once with the
     * union of its modes; later entries just share the pointer. */
    return t->acc[t->acc[i].lead].merged;
}
int flo__task_access_lead(const flo__task *t, int i)
{
    return t->acc[i].lead;
}
void flo__task_set_buffer(flo__task *t, int i, void *ptr)
{
    t->acc[i].ptr = ptr;
}
void flo__task_set_version(flo__task *t, int i, uint64_t ver)
{
    t->acc[i].ver = ver;
}
void flo__task_set_rversion(flo__task *t, int i, uint64_t ver)
{
    t->acc[i].rver = ver;
}
uint64_t flo__task_version(const flo__task *t, int i)
{
    return t->acc[i].ver;
}
bool flo__task_superseded(const flo__task *t, int i)
{
    flo__dslot *d = t->acc[i].d;
    bool later;
    /* The last writer submitted holds a reference: a pointer other than
     * t's is a later task (or an acquire for writing), never a record
     * reused for one. A replay's copy is never the last writer. */
    flo__spin_lock(&d->dep_lock);
    later = d->last_writer != t;
    flo__spin_unlock(&d->dep_lock);
    return later;
}
const char *flo__task_name(const flo__task *t)
{
    return t->name;
}
int flo__task_priority(const flo__task *t)
{
    return t->priority;
}
flo_task_fn flo__task_host_fn(const flo__task *t)
{
    return t->host_fn;
}
flo_task_fn flo__task_cuda_fn(const flo__task *t)
{
    return t->cuda_fn;
}
void **flo__task_dev_slot(flo__task *t)
{
    return &t->dev_slot;
}
void flo__task_set_times(flo__task *t, uint64_t t0, uint64_t t1)
{
    t->t_start = t0;
    t->t_end = t1;
}
