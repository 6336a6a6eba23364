/*
 * Flotilla - events and waits: flo_event_wait/query, flo_wait_all,
 * flo_error_message, and waiting for quiescence at finalize.
 */
#include <stdio.h>
#include <stdlib.h>

#include <time.h>

#include "scheduler/tasks.h"

/* ---- Waiting ------------------------------------------------------------ */

static bool inside_task(flo_runtime *rt)
{
    flo__worker *w = flo__self_worker(rt);
    return w && atomic_load_explicit(&w->in_task, memory_order_relaxed);
}

static flo_status event_check(flo_runtime *rt, flo_event ev, bool block)
{
    flo__task *t;
    bool found;

    if (!rt)
        return FLO_EINVAL;
    if (ev.id == 0)
        return FLO_OK;
    if (flo__id_serial(ev.id) != rt->serial)
        return FLO_EFOREIGN;
    t = flo__event_record(rt, ev);
    if (!t)
        return FLO_EINVAL;

    for (int spins = 0;; spins++) {
        /* Read the generation on both sides of the state: if it moved,
         * the record was recycled (the task finished long ago), and the
         * state read may belong to a later task. */
        uint64_t g1 = atomic_load_explicit(&t->gen, memory_order_acquire);
        int s = atomic_load_explicit(&t->state, memory_order_acquire);
        flo_status st = atomic_load_explicit(&t->status, memory_order_relaxed);
        uint64_t g2 = atomic_load_explicit(&t->gen, memory_order_acquire);
        if (g1 != ev.gen || g2 != g1) {
            if (g1 < ev.gen)
                return FLO_EINVAL; /* Never issued. */
            return flo__failure_lookup(rt, ev, NULL, 0, &found, true);
        }
        if (s == FLO__TASK_FREE)
            return FLO_EINVAL; /* Never a live task of this runtime. */
        if (s == FLO__TASK_DONE) {
            if (st != FLO_OK)
                flo__failure_mark_reported(rt, t);
            return st;
        }
        if (!block)
            return FLO_INPROGRESS;
        if (spins < 200) {
            flo__cpu_relax();
            continue;
        }
        atomic_fetch_or(&t->flags, FLO__TF_WAITED);
        pthread_mutex_lock(&rt->wait_mu);
        if (atomic_load(&t->gen) == ev.gen &&
            atomic_load(&t->state) != FLO__TASK_DONE &&
            atomic_load(&t->state) != FLO__TASK_FREE)
            pthread_cond_wait(&rt->wait_cv, &rt->wait_mu);
        pthread_mutex_unlock(&rt->wait_mu);
    }
}

flo_status flo_event_wait(flo_runtime *rt, flo_event ev)
{
    if (rt && inside_task(rt))
        return FLO_EDEADLK;
    return event_check(rt, ev, true);
}

flo_status flo_event_query(flo_runtime *rt, flo_event ev)
{
    return event_check(rt, ev, false);
}

/* ---- Debugging a hang (FLO__TEST_WAIT_DUMP_S) --------------------------- */

static void dump_data(flo__dslot *ds, void *arg)
{
    FILE *f = arg;
    flo__data *d = &ds->data;
    if (!atomic_load(&d->replay) && !d->home_tok && !d->lost)
        return;
    fprintf(f,
            "  data %u: ver %llu host_ver %llu replay %p rd %d home_tok %p "
            "waiters %d lost %d\n",
            d->slot, (unsigned long long)d->ver,
            (unsigned long long)d->host_ver, (void *)atomic_load(&d->replay),
            d->replay_rd, d->home_tok, d->home_waiters, d->lost);
}

/* Print what rt is waiting for: the counters, the workers, every task
 * record not done, the handles being recomputed or copied home. Racy
 * reads: a snapshot for a person, taken when a wait seems stuck. */
static void dump_state(flo_runtime *rt)
{
    FILE *f = stderr;
    int ns = atomic_load(&rt->ntask_slabs), shown = 0;
    long counts[5] = {0};

    fprintf(f, "flotilla state: outstanding %ld\n",
            (long)atomic_load(&rt->outstanding));
    for (int i = 0; i < rt->nworkers; i++) {
        flo__worker *w = rt->workers[i];
        fprintf(f, "  worker %d: device %d dead %d evacuated %d\n", w->id,
                w->device, atomic_load(&w->dead), w->evacuated);
    }
    for (int k = 0; k < ns; k++) {
        flo__task *slab = atomic_load(&rt->task_slabs[k]);
        for (int i = 0; i < FLO__TASK_SLAB; i++) {
            flo__task *t = &slab[i];
            int st = atomic_load(&t->state);
            if (atomic_load(&t->refs) <= 0 || st < 0 || st > 4)
                continue;
            counts[st]++;
            if (st == FLO__TASK_DONE || st == FLO__TASK_FREE || shown >= 40)
                continue;
            shown++;
            fprintf(f,
                    "  task %u '%s': state %d pending %d flags %#x refs %d "
                    "device %d worker %d nearly %d hold %p\n",
                    t->index, t->name ? t->name : "", st,
                    atomic_load(&t->pending), atomic_load(&t->flags),
                    atomic_load(&t->refs), t->device, t->worker,
                    atomic_load(&t->nearly), (void *)t->hold);
        }
    }
    fprintf(f, "  records: pending %ld ready %ld running %ld done %ld\n",
            counts[FLO__TASK_PENDING], counts[FLO__TASK_READY],
            counts[FLO__TASK_RUNNING], counts[FLO__TASK_DONE]);
    flo__data_foreach(rt, dump_data, f);
    fflush(f);
}

flo_status flo__wait_quiescent(flo_runtime *rt)
{
    flo__tcache *c = flo__tcache_get(rt);
    uint64_t t0 = flo__now_ns();
    bool dumped = false;

    if (c)
        flo__tcache_flush(rt, c);
    atomic_fetch_add(&rt->all_waiters, 1);
    pthread_mutex_lock(&rt->wait_mu);
    while (atomic_load(&rt->outstanding) != 0) {
        if (FLO__UNLIKELY(rt->wait_dump_ns) && !dumped) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&rt->wait_cv, &rt->wait_mu, &ts);
            if (flo__now_ns() - t0 > rt->wait_dump_ns) {
                dump_state(rt);
                dumped = true;
            }
            continue;
        }
        pthread_cond_wait(&rt->wait_cv, &rt->wait_mu);
    }
    pthread_mutex_unlock(&rt->wait_mu);
    atomic_fetch_sub(&rt->all_waiters, 1);
    return FLO_OK;
}

flo_status flo_wait_all(flo_runtime *rt)
{
    flo_status st = FLO_OK;

    if (!rt)
        return FLO_EINVAL;
    if (inside_task(rt))
        return FLO_EDEADLK;
    flo__wait_quiescent(rt);
    pthread_mutex_lock(&rt->fail_mu);
    if (atomic_load(&rt->have_first_error)) {
        st = rt->first_error;
        free(rt->last_reported_msg);
        rt->last_reported_msg = rt->first_error_msg;
        rt->first_error_msg = NULL;
        atomic_store(&rt->have_first_error, 0);
        atomic_fetch_add(&rt->fail_epoch, 1);
        /* Everything failed so far was reported by this call. */
        rt->ack_seq = rt->fail_seq;
    } else {
        /* This call reported nothing: flo_error_message(FLO_EVENT_NULL)
         * has no message until a later one does. */
        free(rt->last_reported_msg);
        rt->last_reported_msg = NULL;
    }
    pthread_mutex_unlock(&rt->fail_mu);
    return st;
}

flo_status flo_error_message(flo_runtime *rt, flo_event ev, char *buf,
                             size_t len)
{
    flo__task *t;
    bool found = false;

    if (!rt || !buf || !len)
        return FLO_EINVAL;
    buf[0] = '\0';
    if (ev.id == 0) {
        pthread_mutex_lock(&rt->fail_mu);
        if (rt->last_reported_msg) {
            snprintf(buf, len, "%s", rt->last_reported_msg);
            found = true;
        }
        pthread_mutex_unlock(&rt->fail_mu);
        return found ? FLO_OK : FLO_ERANGE;
    }
    if (flo__id_serial(ev.id) != rt->serial)
        return FLO_EFOREIGN;
    t = flo__task_from_event(rt, ev);
    if (t) {
        /* msg is written before the task is DONE and freed only when the
         * record is recycled, which our reference prevents. */
        if (atomic_load(&t->state) == FLO__TASK_DONE && t->msg) {
            snprintf(buf, len, "%s", t->msg);
            found = true;
        }
        flo__task_unref(rt, flo__tcache_get(rt), t);
        return found ? FLO_OK : FLO_ERANGE;
    }
    flo__failure_lookup(rt, ev, buf, len, &found, false);
    return found ? FLO_OK : FLO_ERANGE;
}
