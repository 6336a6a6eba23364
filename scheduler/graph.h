/*
 * Flotilla - task graphs (include/flotilla/graph.h): the recorded plan,
 * shared by the scheduler (recording, launching) and the backends that
 * capture it (device/cuda/cuda_graph.c).
 */
#ifndef FLO_SCHEDULER_GRAPH_H
#define FLO_SCHEDULER_GRAPH_H

#include <pthread.h>

#include "flotilla/graph.h"
#include "scheduler/sched.h"

/* One recorded submission. */
typedef struct flo__gtask {
    flo_kernel k;          /* Copy: entry points and interned name. */
    const char *name;      /* Interned (desc->name or the kernel's). */
    int naccess;
    flo_access_desc *acc;  /* The accesses as given. */
    int *uidx;             /* Index of each access's handle in the union. */
    void *args;
    size_t args_size;
    int priority, device, worker;
    int npred, nsucc;
    int *pred;             /* Earlier tasks it depends on (data). */
} flo__gtask;

struct flo_graph {
    flo_runtime *rt;
    const char *name;      /* Interned. */
    unsigned flags;
    pthread_t owner;       /* Recording thread. */
    bool recording;

    int ntasks, cap;
    flo__gtask *tasks;
    /* The union of the handles the tasks access, in order of first use,
     * with the mode the whole sequence needs (W if written before any
     * read, else R, plus W if written at all). */
    int nu, ucap;
    flo_access_desc *uacc;

    /* Set by flo_graph_end. */
    bool captured;         /* Launch as one task on a GPU. */
    const char *why;       /* Why not (static). */
    int device;            /* FLO_ANY or the device all tasks named. */
    int priority;          /* Highest of the tasks. */
    flo_kernel mk;         /* The launch task's kernel. */

    /* Backend state per device node (CUDA graph, streams, events), freed
     * with dev_free. Touched only by that node's worker, and at destroy
     * once no launch is in flight. */
    void *dev[FLO__MAX_NODES];
    void (*dev_free)(void *state);

    atomic_ullong launches, captures, replays, plain;
    pthread_mutex_t mu;    /* inflight and the runtime list. */
    pthread_cond_t cv;
    int inflight;
    flo_graph *next, *prev;
};

/* The graph the calling thread records into, or NULL (a thread-local
 * read on every flo_task_submit). */
extern _Thread_local flo_graph *flo__graph_rec;

/* Record desc into g (flo_task_submit while recording). */
flo_status flo__graph_record(flo_graph *g, const flo_task_desc *desc,
                             flo_event *out);

#endif
