/*
 * Flotilla - task graphs (include/flotilla/graph.h), for the scheduler's
 * files (recording, launching, the submission hook). Backends that
 * capture a graph see only its plan (flo__gplan, device/device.h).
 */
#ifndef FLO_SCHEDULER_GRAPH_H
#define FLO_SCHEDULER_GRAPH_H

#include <pthread.h>

#include "flotilla/graph.h"
#include "scheduler/sched.h"

struct flo_graph {
    /* What a backend's graph_entry reads (device/device.h): the name, the
     * recorded tasks, the number of handles, its per-device state and the
     * capture counters. The launch task's arguments point at it. */
    flo__gplan plan;
    flo_runtime *rt;
    unsigned flags;
    pthread_t owner; /* Recording thread. */
    bool recording;

    int cap; /* Room in plan.tasks. */
    /* The union of the handles the tasks access (plan.nu of them), in
     * order of first use, with the mode the whole sequence needs (W if
     * written before any read, else R, plus W if written at all). */
    int ucap;
    flo_access_desc *uacc;

    /* Set by flo_graph_end. */
    bool captured;   /* Launch as one task on a GPU. */
    const char *why; /* Why not (static). */
    int device;      /* FLO_ANY or the device all tasks named. */
    int priority;    /* Highest of the tasks. */
    flo_kernel mk;   /* The launch task's kernel. */

    atomic_ullong launches;
    pthread_mutex_t mu; /* inflight and the runtime list. */
    pthread_cond_t cv;
    int inflight;
    flo_graph *next, *prev;
};

/* The graph the calling thread records into, or NULL (a thread-local
 * read on every flo_task_submit). */
extern _Thread_local flo_graph *flo__graph_rec;

/* Whether the calling thread records a graph of rt: calls that wait for
 * the tasks they submit must refuse then (their tasks would only be
 * recorded). */
static inline bool flo__graph_recording(const flo_runtime *rt)
{
    return flo__graph_rec && flo__graph_rec->rt == rt;
}

/* Record desc into g (flo_task_submit while recording). */
flo_status flo__graph_record(flo_graph *g, const flo_task_desc *desc,
                             flo_event *out);

#endif
