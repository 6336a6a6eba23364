/*
 * Flotilla - task graphs: record a sequence of submissions once, launch
 * it many times (CUDA graphs on GPUs).
 *
 * An iterative solver submits the same tasks every iteration. Between
 * flo_graph_begin and flo_graph_end, the calling thread's flo_task_submit
 * calls are recorded instead of run. flo_graph_launch then runs the whole
 * sequence with the meaning it would have had if the tasks had been
 * submitted at that point, one after the other: against other work it
 * behaves like one task that accesses every handle the recorded tasks
 * access (reading what they read first, writing what they write), and
 * inside it the recorded tasks are ordered by their data accesses, as
 * usual.
 *
 * How it runs. When every recorded task has a CUDA entry point and they
 * agree on a device (or name none), a launch is one task on one GPU: the
 * first launch on a GPU captures the entry points into a CUDA graph
 * (stream capture, independent tasks on parallel branches), later
 * launches replay it with cudaGraphLaunch, one host operation for the
 * whole sequence. The capture is redone, transparently, if the GPU
 * addresses of the buffers changed (a replica was evicted and allocated
 * again) - so arguments and buffers are those of the recording, and an
 * entry point must enqueue the same work each time it is called with
 * them. If an entry point cannot be captured (it synchronises, or calls
 * what stream capture forbids), that GPU replays the entry points as plain
 * launches on one stream instead. Otherwise (host entry points only,
 * several devices, tasks pinned to workers, FLO_GRAPH_NO_CAPTURE), a
 * launch submits the recorded tasks again as ordinary tasks.
 *
 * Limits. Recorded tasks may not have explicit event dependencies or
 * completion callbacks (flo_task_submit returns FLO_EINVAL while
 * recording); their events are FLO_EVENT_NULL: order them through data,
 * and wait on the launch's event. Priorities inside a captured graph do
 * not matter (it is one task, with the highest priority of its tasks).
 * Device status words (flo_task_cuda_status_word) are read when the whole
 * launch has finished, so a word written by several tasks of one launch
 * reports its last value; at most 4 per captured launch.
 */
#ifndef FLOTILLA_GRAPH_H
#define FLOTILLA_GRAPH_H

#include "flotilla/task.h"

FLO_BEGIN_DECLS

/** A recorded sequence of task submissions. */
typedef struct flo_graph flo_graph;

/** flo_graph_begin flags. */
#define FLO_GRAPH_NO_CAPTURE 0x1u /**< Always replay as ordinary tasks. */

/**
 * Start recording the calling thread's task submissions into a new graph.
 * Until flo_graph_end, flo_task_submit on this thread (for this runtime)
 * checks and copies the description (handles, modes, arguments, device)
 * and returns FLO_OK with a null event; nothing runs. Submissions of other
 * threads are not affected.
 *
 * @param name   for traces and statistics (copied); NULL gives "graph".
 * @param flags  0 or FLO_GRAPH_NO_CAPTURE.
 * @param out    the new graph.
 * @return FLO_OK; FLO_EINVAL (NULL, unknown flags, or called inside a
 *         task); FLO_EBUSY if this thread is already recording;
 *         FLO_ENOMEM; FLO_ESTALE after finalize began.
 * Thread-safe (each thread records its own graph).
 */
flo_status flo_graph_begin(flo_runtime *rt, const char *name, unsigned flags,
                           flo_graph **out);

/**
 * Stop recording. The graph can be launched from then on, from any
 * thread.
 * @return FLO_OK; FLO_EINVAL if g is not being recorded by this thread.
 *         An empty graph is valid (its launches complete at once).
 */
flo_status flo_graph_end(flo_runtime *rt, flo_graph *g);

/**
 * Run the recorded tasks once, ordered after every task submitted before
 * (on the handles they use) and after deps, and before every task
 * submitted after.
 *
 * @param deps, ndeps  explicit predecessors of the whole launch.
 * @param out          an event that completes when every recorded task
 *                     has. If one failed, it fails too: with that
 *                     task's status when the graph runs as one task,
 *                     with FLO_ECANCELED when it is replayed as
 *                     ordinary tasks (the failure itself is what
 *                     flo_wait_all or flo_finalize report).
 * @return FLO_OK; FLO_EINVAL (NULL, still recording, bad deps);
 *         FLO_EBUSY when the calling thread is recording a graph;
 *         FLO_ESTALE if a recorded handle was unregistered since;
 *         the errors of flo_task_submit. Nothing was launched on error.
 * Thread-safe; callable from inside a task. Launches of one graph may
 * overlap: on a GPU they run one after the other.
 */
flo_status flo_graph_launch(flo_runtime *rt, flo_graph *g,
                            const flo_event *deps, int ndeps, flo_event *out);

/** What a graph is and how it ran. */
typedef struct flo_graph_info {
    int ntasks;         /**< Recorded tasks. */
    int nhandles;       /**< Distinct handles they access. */
    int captured;       /**< 1: launches are one task per GPU (capture or
                             replay of entry points); 0: ordinary tasks. */
    const char *why;    /**< Why not, when captured is 0 (static string). */
    uint64_t launches;  /**< flo_graph_launch calls that succeeded. */
    uint64_t captures;  /**< CUDA graph captures (first launch on a GPU, or
                             buffers that moved). */
    uint64_t replays;   /**< Launches that replayed a captured CUDA graph. */
    uint64_t plain;     /**< Launches on a GPU that could not capture. */
} flo_graph_info;

/** Fill *info. @return FLO_OK; FLO_EINVAL. Thread-safe. */
flo_status flo_graph_get_info(flo_runtime *rt, const flo_graph *g,
                              flo_graph_info *info);

/**
 * Free a graph. Launches still in flight finish first (waits for them).
 * @return FLO_OK; FLO_EINVAL (NULL, or still recording); FLO_EDEADLK
 *         inside a task while a launch of g is in flight. Graphs left at
 *         flo_finalize are freed there.
 */
flo_status flo_graph_destroy(flo_runtime *rt, flo_graph *g);

FLO_END_DECLS
#endif
