/*
 * Flotilla - acquire pseudo-tasks (used by scheduler/data.c): a
 * flo_data_acquire, or the final wait of an unregister, is a record with
 * one access and no entry point. It is recorded like a task, is not
 * queued when ready (it wakes its acquirer instead), and completes at
 * flo_data_release.
 */
#include "scheduler/tasks.h"

flo_status flo__acquire_begin(flo_runtime *rt, flo__dslot *d, flo_access mode,
                              uint64_t gen, flo__acq *a, flo__task **out)
{
    flo__tcache *c = flo__tcache_get(rt);
    flo__task *t;
    flo_status st;

    if (!c)
        return FLO_ENOMEM;
    t = flo__task_alloc(rt, c);
    if (!t)
        return FLO_ENOMEM;
    t->acc = t->acc_inline;
    t->naccess = 1;
    t->acc[0].d = d;
    t->acc[0].mode = mode;
    t->acc[0].merged = mode;
    t->acc[0].first = true;
    t->acc[0].lead = 0;
    t->acc[0].ptr = NULL;
    t->args = t->args_inline;
    t->args_size = 0;
    flo__task_record_init(rt, t, FLO__TF_ACQUIRE);
    t->priority = 0;
    t->device = t->worker = FLO_ANY;
    t->eligible = 0;
    t->host_fn = t->cuda_fn = NULL;
    t->name = "acquire";
    t->cb = NULL;

    flo__spin_lock(&d->dep_lock);
    if (a) {
        pthread_t self = pthread_self();
        if (!flo__data_current(d, gen)) {
            flo__spin_unlock(&d->dep_lock);
            flo__task_free(rt, c, t);
            return FLO_ESTALE;
        }
        for (flo__acq *o = d->acqs; o; o = o->next) {
            if (!pthread_equal(o->thread, self))
                continue;
            /* Two read acquires with no writer between them do not wait
             * for each other; anything else would wait forever. */
            if ((o->mode & FLO_WRITE) || (mode & FLO_WRITE) ||
                d->last_writer != o->writer) {
                flo__spin_unlock(&d->dep_lock);
                flo__task_free(rt, c, t);
                return FLO_EDEADLK;
            }
        }
    }
    st = flo__dep_add_data(rt, c, t, d, mode);
    if (st != FLO_OK)
        flo__set_cancel_status(t, st);
    if (a) {
        a->task = t;
        a->thread = pthread_self();
        a->mode = mode;
        a->writer = d->last_writer;
        a->next = d->acqs;
        d->acqs = a;
    }
    flo__spin_unlock(&d->dep_lock);
    if (atomic_fetch_sub(&t->pending, 1) == 1)
        flo__task_ready(rt, NULL, t);
    /* Wait until it is ready (its predecessors finished). */
    pthread_mutex_lock(&rt->wait_mu);
    while (atomic_load(&t->state) != FLO__TASK_READY)
        pthread_cond_wait(&rt->wait_cv, &rt->wait_mu);
    pthread_mutex_unlock(&rt->wait_mu);
    *out = t;
    return (flo_status)atomic_load(&t->cancel);
}

void flo__acquire_end(flo__task *t)
{
    flo__task_complete(NULL, t, FLO_OK);
}
