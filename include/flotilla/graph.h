/**
 * @file
 * @brief Task graphs: record a sequence of submissions once, launch it
 * many times (CUDA graphs on GPUs).
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
 *
 * Every flo_task_submit the recording thread makes for the runtime is
 * recorded, also those made for it by other calls (flo_data_prefetch,
 * flo_data_flush, the array algorithms...); a call whose tasks need
 * explicit dependencies or callbacks (the join task of an array
 * algorithm asked for an event, say) then fails with FLO_EINVAL, and the
 * tasks it recorded before that stay in the graph. Calls that submit
 * tasks and then wait for them (flo_worker_local_create,
 * flo_execute_on_each_worker, the *_sync forms of the array algorithms)
 * must not be made by a thread while it records: their tasks would be
 * recorded instead of run.
 */
#ifndef FLOTILLA_GRAPH_H
#define FLOTILLA_GRAPH_H

#include "flotilla/task.h"

FLO_BEGIN_DECLS

/** @brief A recorded sequence of task submissions (opaque). */
typedef struct flo_graph flo_graph;

/** @brief Flag of flo_graph_begin: always replay as ordinary tasks
 *  (never capture a CUDA graph). */
#define FLO_GRAPH_NO_CAPTURE 0x1u

/**
 * @brief Start recording the calling thread's task submissions into a
 * new graph.
 *
 * Until flo_graph_end, flo_task_submit on this thread (for this runtime)
 * checks and copies the description (handles, modes, arguments, device)
 * and returns FLO_OK with a null event; nothing runs. Submissions of other
 * threads are not affected.
 *
 * @param[in]  rt     the runtime.
 * @param[in]  name   for traces and statistics (copied); NULL gives
 *                    "graph".
 * @param[in]  flags  0 or FLO_GRAPH_NO_CAPTURE.
 * @param[out] out    the new graph; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt or @p out, unknown flags,
 *         or a call from one of @p rt's worker threads; FLO_EBUSY if this
 *         thread is already recording a graph (of any runtime);
 *         FLO_ENOMEM; FLO_ESTALE when the call races with flo_finalize.
 *
 * @par Thread-safety:
 * Thread-safe: each thread records its own graph.
 * @par In a task:
 * Refused with FLO_EINVAL (also in a completion callback): a worker
 * thread submits for other tasks too.
 */
flo_status flo_graph_begin(flo_runtime *rt, const char *name, unsigned flags,
                           flo_graph **out);

/**
 * @brief Stop recording a graph; it can be launched from then on, from
 * any thread.
 *
 * An empty graph is valid (its launches complete at once).
 *
 * @param[in] rt  the runtime the graph was begun on.
 * @param[in] g   the graph this thread records.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt or @p g, a graph of another
 *         runtime, or one this thread is not recording; FLO_ENOMEM (the
 *         graph is still recording: end it again later, or destroy it).
 *
 * @par Thread-safety:
 * Only on the thread that recorded the graph.
 * @par In a task:
 * Not applicable: no graph is recorded on a worker thread (FLO_EINVAL).
 */
flo_status flo_graph_end(flo_runtime *rt, flo_graph *g);

/**
 * @brief Run the recorded tasks once.
 *
 * The launch is ordered after every task submitted before (on the
 * handles the recorded tasks use) and after deps, and before every task
 * submitted after. A graph with no task launches nothing: FLO_OK and
 * FLO_EVENT_NULL at once, without waiting for deps.
 *
 * @param[in]  rt     the runtime of the graph.
 * @param[in]  g      a graph whose recording has ended.
 * @param[in]  deps   explicit predecessors of the whole launch, or NULL.
 * @param[in]  ndeps  their number, 0 .. FLO_TASK_MAX_DEPS.
 * @param[out] out    an event that completes when every recorded task
 *                    has, or NULL; written only on success. If one
 *                    failed, it fails too: with that task's status when
 *                    the graph runs as one task, with FLO_ECANCELED when
 *                    it is replayed as ordinary tasks (the failure
 *                    itself is what flo_wait_all or flo_finalize
 *                    report).
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt or @p g, a graph of
 *         another runtime or still recording, @p ndeps out of range or
 *         NULL @p deps with a count; FLO_EBUSY when the calling thread is
 *         recording a graph; FLO_ESTALE / FLO_EFOREIGN / FLO_EINVAL when
 *         a recorded handle is no longer valid (unregistered since);
 *         the errors of flo_task_submit (an event of another runtime in
 *         deps: FLO_EFOREIGN; no worker for the recorded kernels:
 *         FLO_ENODEV; ...). Nothing was launched on error, except when a
 *         handle is unregistered (or flo_finalize runs) concurrently
 *         while the graph is replayed as ordinary tasks: the tasks
 *         submitted before that still run.
 *
 * @par Thread-safety:
 * Thread-safe. Launches of one graph may overlap: on a GPU they run one
 * after the other. The program must not destroy the graph during the
 * call.
 * @par In a task:
 * Allowed, also in a completion callback (it waits for nothing).
 */
flo_status flo_graph_launch(flo_runtime *rt, flo_graph *g,
                            const flo_event *deps, int ndeps, flo_event *out);

/** @brief What a graph is and how it ran (see flo_graph_get_info). */
typedef struct flo_graph_info {
    int ntasks;        /**< Recorded tasks. */
    int nhandles;      /**< Distinct handles they access. */
    int captured;      /**< 1: launches are one task per GPU (capture or
                            replay of entry points); 0: ordinary tasks. */
    const char *why;   /**< Why not, when captured is 0 (static string). */
    uint64_t launches; /**< flo_graph_launch calls that succeeded. */
    uint64_t captures; /**< CUDA graph captures (first launch on a GPU, or
                            buffers that moved). */
    uint64_t replays;  /**< Launches that replayed a captured CUDA graph. */
    uint64_t plain;    /**< Launches on a GPU that could not capture. */
} flo_graph_info;

/**
 * @brief Describe a graph and how its launches ran.
 *
 * @param[in]  rt    the runtime of the graph.
 * @param[in]  g     the graph.
 * @param[out] info  the description; written only on success. Its
 *                   counters are read without stopping launches in
 *                   flight.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt, @p g or @p info, or a
 *         graph of another runtime.
 *
 * @par Thread-safety:
 * Thread-safe once the recording has ended; while it records, only the
 * recording thread may call it (why is then "still recording"). The
 * program must not destroy the graph during the call.
 * @par In a task:
 * Allowed.
 */
flo_status flo_graph_get_info(flo_runtime *rt, const flo_graph *g,
                              flo_graph_info *info);

/**
 * @brief Free a graph, once the launches in flight have finished.
 *
 * Waits for the launches of g still in flight. The thread recording g
 * may destroy it to abandon the recording (its submissions are
 * submitted normally again). Graphs left at flo_finalize are freed
 * there.
 *
 * @param[in] rt  the runtime of the graph.
 * @param[in] g   the graph; invalid once the call returned FLO_OK.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt or @p g, a graph of another
 *         runtime, or one that another thread is recording; FLO_EDEADLK
 *         on one of @p rt's worker threads while a launch of g is in
 *         flight (nothing changes).
 *
 * @par Thread-safety:
 * Not thread-safe against other calls on the same graph (launch, info,
 * destroy): the program stops using g before it destroys it. Different
 * graphs may be destroyed concurrently.
 * @par In a task:
 * Allowed when no launch of g is in flight; FLO_EDEADLK otherwise (also
 * in a completion callback).
 */
flo_status flo_graph_destroy(flo_runtime *rt, flo_graph *g);

FLO_END_DECLS
#endif
