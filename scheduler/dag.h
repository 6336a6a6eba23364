/*
 * Flotilla - the hooks through which the task files record the task graph
 * as it ran (FLO_DAG, flo_config.dag_path; scheduler/dag.c writes it at
 * finalize as a Graphviz dot file). Each hook is one call at its hook
 * point and costs one predictable branch on rt->dag when the graph is
 * off; the recording itself is out of line.
 */
#ifndef FLO_SCHEDULER_DAG_H
#define FLO_SCHEDULER_DAG_H

#include "scheduler/tasks.h"

/* Out of line, only while rt->dag is set (see the hooks below). */
void flo__dag_record_node(flo_runtime *rt, flo__worker *w, flo__tcache *c,
                          flo__task *t, flo_status st);
void flo__dag_record_data(flo_runtime *rt, flo__tcache *c, flo__task *t,
                          const flo__dslot *d, flo_access mode);
void flo__dag_record_event(flo_runtime *rt, flo__tcache *c, flo__task *t,
                           flo_event dep);

/* t completes with st on worker w (NULL for an acquire's pseudo-task,
 * which is not recorded), c the completing thread's cache (may be NULL:
 * the record is then lost). Called before t's reference is dropped. */
static inline void flo__dag_task_done(flo_runtime *rt, flo__worker *w,
                                      flo__tcache *c, flo__task *t,
                                      flo_status st)
{
    if (FLO__UNLIKELY(rt->dag != NULL))
        flo__dag_record_node(rt, w, c, t, st);
}

/* t is about to record its access to d in mode (flo__dep_add_data, under
 * d->dep_lock, before d's last writer and readers change): the edges
 * from the tasks it will wait for, labelled with the handle. */
static inline void flo__dag_data_dep(flo_runtime *rt, flo__tcache *c,
                                     flo__task *t, const flo__dslot *d,
                                     flo_access mode)
{
    if (FLO__UNLIKELY(rt->dag != NULL))
        flo__dag_record_data(rt, c, t, d, mode);
}

/* t names the event dep (nonzero id) among its explicit dependencies:
 * an edge from dep's task, whether or not that task is still known (its
 * node is drawn if it was recorded). */
static inline void flo__dag_event_dep(flo_runtime *rt, flo__tcache *c,
                                      flo__task *t, flo_event dep)
{
    if (FLO__UNLIKELY(rt->dag != NULL))
        flo__dag_record_event(rt, c, t, dep);
}

#endif /* FLO_SCHEDULER_DAG_H */
