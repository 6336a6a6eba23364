/**
 * @file
 * @brief Resilience: fault injection, disabling a device, replicated
 * tasks.
 *
 * docs/resilience.md describes the failure model: what is detected,
 * what is recovered (retries, re-execution on the surviving devices,
 * recomputation from lineage, write-through), what is lost and at what
 * cost, and every knob. Retry budgets are fields of flo_task_desc and
 * flo_kernel; write-through and lineage are fields of flo_config.
 */
#ifndef FLOTILLA_RESILIENCE_H
#define FLOTILLA_RESILIENCE_H

#include <stddef.h>

#include "flotilla/export.h"
#include "flotilla/status.h"
#include "flotilla/task.h"
#include "flotilla/types.h"

FLO_BEGIN_DECLS

/**
 * @brief Add fault-injection rules to a running runtime.
 *
 * The same language as the FLO_FAULTS variable and flo_config.faults
 * (docs/resilience.md has the grammar): rules separated by `;`, such as
 * `seed=7; task:kernel=gemm,nth=100,error=transient;
 * device:dev=2,at_task=500`. Rules for tasks apply to tasks submitted
 * after the call. Injection is for tests, benchmarks and rehearsals: a
 * runtime without rules pays one predictable branch per task.
 *
 * @param[in] rt    the runtime.
 * @param[in] spec  the rules; copied.
 * @return FLO_OK; FLO_EINVAL for a NULL argument or a rule that does not
 *         parse (the log names it; no rule of @p spec is added).
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_fault_inject(flo_runtime *rt, const char *spec);

/**
 * @brief Remove every fault-injection rule (the ones of flo_config
 * too). Faults already decided for submitted tasks still happen.
 *
 * @param[in] rt  the runtime.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_fault_clear(flo_runtime *rt);

/**
 * @brief Take a GPU out of service, as if it had failed.
 *
 * Its queued tasks move to the other devices; the tasks running on it
 * run again elsewhere from valid copies of their inputs; data whose
 * only valid copy it held is recomputed from lineage or, where that is
 * impossible, makes the tasks that need it fail with FLO_EDATALOSS
 * (docs/resilience.md). The run continues on fewer devices. Returns
 * without waiting for the moves.
 *
 * @param[in] rt      the runtime.
 * @param[in] device  a GPU device index (1 .. flo_device_count - 1).
 * @return FLO_OK (also if it had failed already); FLO_EINVAL for a NULL
 *         @p rt, FLO_ENODEV for an index that names no GPU (the host,
 *         device 0, cannot be disabled).
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed (also in a task running on @p device: that task is run again
 * elsewhere).
 */
flo_status flo_device_disable(flo_runtime *rt, int device);

/** @brief How the copies of a replicated task agree. */
typedef enum flo_replicate_vote {
    /** The first copy to finish whose result the validate function
     *  accepts (every copy when there is none) is the task's result.
     *  "First" is the order in which the copies finished: once every copy
     *  has finished, validate is called on them in that order until one
     *  is accepted. */
    FLO_REPLICATE_FIRST = 0,
    /** A result more than half of the copies produced, bit for bit,
     *  among those the validate function accepts (of 3 copies 2 must
     *  agree, of 4 copies 3). */
    FLO_REPLICATE_MAJORITY = 1
} flo_replicate_vote;

/**
 * @brief Checks one copy's result (a host function, run on a host
 * worker by the replicated task's vote).
 *
 * It runs inside a task: it may submit tasks but not wait (the waiting
 * calls return FLO_EDEADLK there). It is called only for copies that
 * finished without error, at most once per copy, one call at a time for
 * a given replicated task.
 *
 * @param arg    flo_replicate_desc.validate_arg.
 * @param copy   the copy's number, 0 .. copies - 1.
 * @param bufs   host pointers to the copy's version of every buffer the
 *               task writes (FLO_WRITE or FLO_READ_WRITE), each handle
 *               once, in the order of its first entry in the task's
 *               access list; read only, valid during the call.
 * @param sizes  their sizes in bytes.
 * @param nbufs  their number (0 for a task that writes nothing).
 * @return nonzero to accept the copy's result.
 */
typedef int (*flo_replicate_validate_fn)(void *arg, int copy,
                                         const void *const *bufs,
                                         const size_t *sizes, int nbufs);

/** @brief Most copies of one replicated task. */
#define FLO_REPLICATE_MAX 16

/** @brief How to replicate a task (flo_task_submit_replicated). */
typedef struct flo_replicate_desc {
    size_t size;             /**< sizeof(flo_replicate_desc), or 0. */
    int copies;              /**< 2 .. FLO_REPLICATE_MAX. */
    flo_replicate_vote vote; /**< How a result is chosen. */
    flo_replicate_validate_fn validate; /**< Or NULL: accept all. */
    void *validate_arg;                 /**< validate's first argument. */
} flo_replicate_desc;

/**
 * @brief Submit a task that runs as several copies on different devices
 * (HPX's replicate), to detect silent corruption.
 *
 * Each copy runs the task's entry point on private versions of the
 * buffers it writes and on the real buffers it only reads. A
 * FLO_READ_WRITE buffer's private version starts as its contents, copied
 * on the device where the copy runs; a FLO_WRITE buffer's starts as
 * zeros (bytes a copy does not write compare, and are written back, as
 * zeros). Copy k runs on the (k mod n)-th of the n devices that can run
 * the kernel: the GPUs in device order, then the host when the kernel
 * has a host entry point; copies that share a device run on distinct
 * workers of it while it has enough. Once every copy has finished, a
 * vote task on a host worker chooses a result as rep->vote says and
 * writes the whole of it to the task's written buffers; when no result
 * is chosen they keep their contents. For the program the whole is one
 * task: it takes effect at one point, as one flo_task_submit does, and
 * later tasks depend on it (through its buffers or its event) as on the
 * task itself.
 *
 * A copy that fails (flo_task_fail, a device error, ...) counts as not
 * accepted: its failure is not the program's (flo_wait_all does not
 * report it) and cancels nothing. desc->retries applies to each copy.
 * desc->callback runs once, with the status of the whole. The cost: the
 * task's work times the copies, plus per copy a private version of each
 * written buffer (made on the copy's device; a FLO_READ_WRITE one is
 * copied there from the real buffer), the transfer of every copy's
 * versions to the host for the vote, and the written buffers made valid
 * on the host (where the result is written).
 *
 * @param[in]  rt    the runtime.
 * @param[in]  desc  the task, as for flo_task_submit (on_device and
 *                   on_worker must be 0).
 * @param[in]  rep   the replication.
 * @param[out] out   the event of the whole, or NULL; written only on
 *                   success.
 * @return FLO_OK, or, with nothing submitted and nothing left behind,
 *         what flo_task_submit returns for @p desc, and:
 *   - FLO_EINVAL: a NULL @p rt, @p desc or @p rep; rep->size neither 0
 *     nor sizeof(flo_replicate_desc); rep->copies out of
 *     2 .. FLO_REPLICATE_MAX; an unknown rep->vote; a pinned @p desc
 *     (on_device or on_worker not 0); more written buffers than the vote
 *     can access ((copies + 1) times their number above
 *     FLO_TASK_MAX_ACCESS);
 *   - FLO_ENODEV: also when the runtime has no host worker (the vote
 *     runs on one);
 *   - FLO_ENOTSUP: the calling thread records a graph of @p rt;
 *   - FLO_ENOMEM: also no memory or no handle left for the private
 *     versions.
 *
 *   The event fails with FLO_ETASK when no result is accepted (or none
 *   has a majority), with a message naming each copy, its device and
 *   its outcome (accepted, rejected by validate, or its error and
 *   message); it is canceled (FLO_ECANCELED) when a predecessor of the
 *   task failed, as the task would be.
 *
 * @par Thread-safety:
 * Thread-safe: like flo_task_submit, concurrent submissions on shared
 * handles are ordered as if they had happened one at a time.
 * @par In a task:
 * Allowed (also in a completion callback).
 */
flo_status flo_task_submit_replicated(flo_runtime *rt,
                                      const flo_task_desc *desc,
                                      const flo_replicate_desc *rep,
                                      flo_event *out);

FLO_END_DECLS
#endif
