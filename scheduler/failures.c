/*
 * Flotilla - the failure table: what failed or canceled tasks leave
 * behind for their events, and the runtime's first error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/tasks.h"

/*
 * Every failed or canceled task leaves a record keyed by its event, kept
 * until finalize: an event's outcome must survive the recycling of its
 * task record, and no number of later failures may push it out. The
 * table is open addressing with linear probing, grown at half load; it is
 * touched only on failure paths and by lookups of recycled events, under
 * fail_mu.
 */

static inline size_t fail_hash(uint64_t id, uint64_t gen)
{
    uint64_t h = (id ^ (gen * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return (size_t)(h ^ (h >> 31));
}

static flo__failure *fail_find(flo_runtime *rt, uint64_t id, uint64_t gen)
{
    size_t mask, i;

    if (!rt->fails_cap)
        return NULL;
    mask = rt->fails_cap - 1;
    for (i = fail_hash(id, gen) & mask;; i = (i + 1) & mask) {
        flo__failure *f = &rt->fails[i];
        if (f->id == 0)
            return NULL;
        if (f->id == id && f->gen == gen)
            return f;
    }
}

/* A free slot for (id, gen), growing the table first if needed; NULL
 * when memory is short. */
static flo__failure *fail_insert(flo_runtime *rt, uint64_t id, uint64_t gen)
{
    size_t mask, i;

    if (2 * (rt->nfails + 1) > rt->fails_cap) {
        size_t cap = rt->fails_cap ? 2 * rt->fails_cap : 256;
        flo__failure *nf = calloc(cap, sizeof(*nf));
        if (!nf)
            return NULL;
        for (size_t k = 0; k < rt->fails_cap; k++) {
            flo__failure *o = &rt->fails[k];
            if (o->id == 0)
                continue;
            for (i = fail_hash(o->id, o->gen) & (cap - 1); nf[i].id;
                 i = (i + 1) & (cap - 1))
                ;
            nf[i] = *o;
        }
        free(rt->fails);
        rt->fails = nf;
        rt->fails_cap = cap;
    }
    mask = rt->fails_cap - 1;
    for (i = fail_hash(id, gen) & mask; rt->fails[i].id; i = (i + 1) & mask)
        ;
    rt->nfails++;
    return &rt->fails[i];
}

void flo__failure_record(flo_runtime *rt, flo__task *t, flo_status st)
{
    flo_event ev = flo__task_event(rt, t);
    flo__failure *f;
    const char *msg = t->msg ? t->msg : "";

    pthread_mutex_lock(&rt->fail_mu);
    f = fail_insert(rt, ev.id, ev.gen);
    if (f) {
        f->id = ev.id;
        f->gen = ev.gen;
        f->seq = ++rt->fail_seq;
        f->status = st;
        f->reported = false;
        /* A cancellation's message is rebuilt from its status: most
         * failures are cancellations, keep them small. */
        f->msg = st == FLO_ECANCELED ? NULL : strdup(msg);
    } else {
        FLO__ERR("out of memory recording the failure of task '%s'", t->name);
    }
    if (!atomic_load_explicit(&rt->have_first_error, memory_order_relaxed)) {
        rt->first_error = st;
        free(rt->first_error_msg);
        rt->first_error_msg = strdup(msg);
        atomic_store(&rt->have_first_error, 1);
    }
    pthread_mutex_unlock(&rt->fail_mu);
}

flo_status flo__failure_lookup(flo_runtime *rt, flo_event ev, char *buf,
                               size_t len, bool *found, bool mark)
{
    flo_status st = FLO_OK;
    flo__failure *f;

    *found = false;
    pthread_mutex_lock(&rt->fail_mu);
    f = fail_find(rt, ev.id, ev.gen);
    if (f) {
        st = f->status;
        *found = true;
        if (mark)
            f->reported = true;
        if (buf && len)
            snprintf(buf, len, "%s",
                     f->msg ? f->msg : "task canceled: a predecessor failed");
    }
    pthread_mutex_unlock(&rt->fail_mu);
    return st;
}

void flo__failure_mark_reported(flo_runtime *rt, flo__task *t)
{
    flo_event ev = flo__task_event(rt, t);
    flo__failure *f;

    pthread_mutex_lock(&rt->fail_mu);
    f = fail_find(rt, ev.id, ev.gen);
    if (f)
        f->reported = true;
    pthread_mutex_unlock(&rt->fail_mu);
}

flo_status flo__failures_unreported(flo_runtime *rt)
{
    flo__failure *first = NULL;
    flo_status st;

    pthread_mutex_lock(&rt->fail_mu);
    for (size_t i = 0; i < rt->fails_cap; i++) {
        flo__failure *f = &rt->fails[i];
        if (f->id == 0 || f->reported || f->seq <= rt->ack_seq ||
            f->status == FLO_ECANCELED)
            continue;
        if (!first || f->seq < first->seq)
            first = f;
    }
    st = first ? first->status : FLO_OK;
    pthread_mutex_unlock(&rt->fail_mu);
    return st;
}

void flo__failures_fini(flo_runtime *rt)
{
    for (size_t i = 0; i < rt->fails_cap; i++)
        free(rt->fails[i].msg);
    free(rt->fails);
    rt->fails = NULL;
    rt->fails_cap = rt->nfails = 0;
    free(rt->first_error_msg);
    free(rt->last_reported_msg);
}
