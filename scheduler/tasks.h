/*
 * Flotilla - what the scheduler's task files share: task_pool.c (thread
 * caches, records, edges, event lookup), failures.c (the failure table),
 * deps.c (dependency inference, stream-ordered dependencies), submit.c,
 * complete.c (completion, readiness), acquire.c (acquire pseudo-tasks),
 * wait.c (events and waits) and task_ctx.c (the task context and what
 * backends may ask of a task). Other layers use scheduler/sched.h only.
 *
 * Life of a task record. It comes from the submitting thread's cache
 * (flo__tcache), starts with refs = 1 (dropped at completion) plus one per
 * data handle that names it as last writer or reader, and pending = 1 (the
 * submission guard) plus one per unfinished predecessor. Whoever brings
 * pending to zero makes it ready. At completion its successor list is
 * closed (FLO__EDGES_CLOSED) and each successor's pending is decremented.
 * When refs reaches zero the record's generation is bumped (events of the
 * old generation now read as "finished long ago") and it returns to the
 * freeing thread's cache. Records are never returned to malloc before
 * finalize, so a stale event or reference reads valid memory.
 *
 * Lock order: data dep_lock, then pool_mu. wait_mu and fail_mu are leaves.
 */
#ifndef FLO_SCHEDULER_TASKS_H
#define FLO_SCHEDULER_TASKS_H

#include "scheduler/sched.h"

/* Handle encoding: see scheduler/sched.h (flo__id_make). An event is (id,
 * gen): id names the runtime and the task record's slot, gen the
 * record's incarnation. */

static inline flo_event flo__task_event(const flo_runtime *rt,
                                        const flo__task *t)
{
    flo_event ev;
    ev.id = flo__id_make(rt->serial, t->index);
    ev.gen = atomic_load_explicit(&t->gen, memory_order_relaxed);
    return ev;
}

/* ---- Records and edges (task_pool.c) ---------------------------------- */

/* A record from c (refilled from the runtime's pool, or a new slab, when
 * empty), or NULL when memory is short. Its fields are those of its last
 * use: flo__task_record_init starts it afresh. Owning thread of c only. */
flo__task *flo__task_alloc(flo_runtime *rt, flo__tcache *c);
/* Recycle t (its generation is bumped: its events read as finished long
 * ago) into c, or into the runtime's pool when c is NULL. */
void flo__task_free(flo_runtime *rt, flo__tcache *c, flo__task *t);
/* An edge from c, or NULL when memory is short. */
flo__edge *flo__edge_alloc(flo_runtime *rt, flo__tcache *c);
/*
 * Start t as a new record: flags (FLO__TF_*), no predecessor yet
 * (pending 1, the submission guard), one reference (dropped at
 * completion), an open successor list, no early predecessor, the current
 * failure epoch, state PENDING. The caller sets what the record runs
 * (placement, entry points, name, callback, accesses, arguments). Relaxed
 * stores: the record is published later, under its handles' locks or on
 * a successor list. Shared by submission and acquire pseudo-tasks.
 */
void flo__task_record_init(flo_runtime *rt, flo__task *t, unsigned flags);
/* The record an event's id points at, or NULL if it names none. */
flo__task *flo__event_record(flo_runtime *rt, flo_event ev);
/* A reference on the task an event names, if that task is still the
 * same incarnation; NULL when it finished and was recycled. */
flo__task *flo__task_from_event(flo_runtime *rt, flo_event ev);

/* ---- Completion counting (complete.c) --------------------------------- */

/* Add the completions counted in c to rt->outstanding; wake the waiters
 * of flo__wait_quiescent when that reaches zero. */
void flo__tcache_flush(flo_runtime *rt, flo__tcache *c);

/* ---- The failure table (failures.c) ------------------------------------ */

/* Record that t finished with st (!= FLO_OK), keyed by its event; the
 * first error since the last flo_wait_all becomes the runtime's. */
void flo__failure_record(flo_runtime *rt, flo__task *t, flo_status st);
/* Status of a finished task whose record was recycled: its failure, or
 * FLO_OK when none was recorded (*found tells). buf (if any) gets its
 * message. With mark, a failure counts as reported to the program
 * (flo_finalize does not report it again). */
flo_status flo__failure_lookup(flo_runtime *rt, flo_event ev, char *buf,
                               size_t len, bool *found, bool mark);
/* A failure returned to the program by an event query: not reported
 * again by flo_finalize. */
void flo__failure_mark_reported(flo_runtime *rt, flo__task *t);
/* Free the table and the error messages (flo__tasks_fini). */
void flo__failures_fini(flo_runtime *rt);

/* ---- Dependencies (deps.c) --------------------------------------------- */

/* The task will finish with st instead of running (first reason wins). */
/* True if this call set it (the first cancel wins). */
static inline bool flo__set_cancel_status(flo__task *s, flo_status st)
{
    int zero = 0;
    return atomic_compare_exchange_strong(&s->cancel, &zero, st);
}

static inline void flo__set_cancel(flo__task *s)
{
    flo__set_cancel_status(s, FLO_ECANCELED);
}

/* s depends on p, which finished with pst != FLO_OK. A task is canceled;
 * an acquire's pseudo-task takes p's own status instead, which
 * flo_data_acquire returns (the error of the writer that failed, or
 * FLO_ECANCELED if that writer was itself canceled), and so does a join
 * (FLO__TF_INHERIT), with p's message. Called before s's count of
 * predecessors drops, so s reads the message only after it is set. */
static inline void flo__cancel_dependent(flo__task *s, const flo__task *p,
                                         flo_status pst)
{
    unsigned f = atomic_load_explicit(&s->flags, memory_order_relaxed);
    if (f & FLO__TF_ACQUIRE) {
        flo__set_cancel_status(s, pst);
    } else if (f & FLO__TF_INHERIT) {
        if (flo__set_cancel_status(s, pst) && p->msg)
            flo__task_set_error(s, pst, "%s", p->msg);
    } else {
        flo__set_cancel(s);
    }
}

/* Whether p, finished with a failure, cancels its successor s through
 * an edge: an explicit (hard) edge always does, a data edge within the
 * failure epoch, unless p is contained (FLO__TF_CONTAINED: a copy of a
 * replicated task, whose failure its vote task judges instead). */
static inline bool flo__failure_cancels(flo__task *p, const flo__task *s,
                                        bool hard)
{
    if (hard)
        return true;
    if (atomic_load_explicit(&p->flags, memory_order_relaxed) &
        FLO__TF_CONTAINED)
        return false;
    return p->epoch == s->epoch;
}

/* Make s wait for p (hard: an explicit event dependency). The caller
 * holds a reference on p. FLO_ENOMEM if no edge could be had. */
flo_status flo__add_edge(flo_runtime *rt, flo__tcache *c, flo__task *p,
                         flo__task *s, bool hard);
/* t, taken off a worker before running (handed back from a lost device,
 * held by a lineage replay), waits again: state PENDING, its
 * stream-ordered predecessors become ordinary edges (a predecessor still
 * running is waited for, one that finished is not; a failure cancels t)
 * so that it may run anywhere, plus a soft edge from extra if not NULL
 * (the caller's reference on extra is its own). Ready at once when
 * nothing is left. On w's thread. */
void flo__task_rewait(flo__worker *w, flo__task *t, flo__task *extra);
/* Record that t accesses d in mode: sequential consistency per handle (a
 * writer waits for the last writer and the readers since; a reader waits
 * for the last writer). Caller holds d->dep_lock. */
flo_status flo__dep_add_data(flo_runtime *rt, flo__tcache *c, flo__task *t,
                             flo__dslot *d, flo_access mode);

/* Under d->dep_lock: d is still the registration the handle named.
 * flo_data_unregister clears alive before it records its final
 * pseudo-task under the same lock, and the generation only grows, so a
 * submission that passes this check is ordered before the unregister. */
static inline bool flo__data_current(const flo__dslot *d, uint64_t gen)
{
    return atomic_load_explicit(&d->alive, memory_order_acquire) &&
           atomic_load_explicit(&d->gen, memory_order_acquire) == gen;
}

/*
 * One task of a group submission (flo__task_submit_group). The caller
 * fills the inputs; the outputs are written before any task of the group
 * can run.
 */
typedef struct flo__group_task {
    const flo_task_desc *desc; /* The task (checked as flo_task_submit
                                  checks it). */
    unsigned flags;            /* FLO__TF_CONTAINED, or 0. */
    /* Handles the task depends on as a reader without accessing them (no
     * buffer, no transfer): it waits for their last writer, and their
     * next writer waits for it. Not handles of desc->access. */
    const flo_data *dep_reads;
    int ndep_reads;
    /* An earlier task of the group this one also waits for through a
     * hard edge (its failure cancels this one even when contained), or
     * -1. */
    int after;
    /* Where to store a reference on the record (the caller drops it with
     * flo__task_unref), or NULL. */
    flo__task **keep;
    flo_event ev; /* Out: the task's event. */
} flo__group_task;

/*
 * Submit n tasks as one submission: their dependencies are recorded
 * under the dependency locks of all their handles at once (two-phase
 * locking, as flo_task_submit does for one task), in the group's order,
 * so that no other submission is ordered between two of them on any
 * handle. All or nothing: an error (those of flo_task_submit, checked
 * for every task first) leaves nothing submitted. Not while the calling
 * thread records a graph (the caller checks).
 */
flo_status flo__task_submit_group(flo_runtime *rt, flo__group_task *g, int n);

/* Check a task description as flo_task_submit does (submit.c): sizes,
 * limits, placement, modes, event ids; *elig gets the kinds of worker
 * that may run it. Also used by graph recording (graph.c). */
flo_status flo__task_desc_check(flo_runtime *rt, const flo_task_desc *desc,
                                unsigned *elig);

#endif /* FLO_SCHEDULER_TASKS_H */
