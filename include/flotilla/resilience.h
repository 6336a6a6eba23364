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
     *  accepts (every copy when there is none) is the task's result. */
    FLO_REPLICATE_FIRST = 0,
    /** A result more than half of the copies produced, bit for bit,
     *  among those the validate function accepts. */
    FLO_REPLICATE_MAJORITY = 1
} flo_replicate_vote;

/**
 * @brief Checks one copy's result (a host function, run on a host
 * worker).
 *
 * @param arg    flo_replicate_desc.validate_arg.
 * @param copy   the copy's number, 0 .. copies - 1.
 * @param bufs   host pointers to the copy's version of every buffer the
 *               task writes (FLO_WRITE or FLO_READ_WRITE), in access
 *               order; read only.
 * @param sizes  their sizes in bytes.
 * @param nbufs  their number.
 * @return nonzero to accept the copy's result.
 */
typedef int (*flo_replicate_validate_fn)(void *arg, int copy,
                                         const void *const *bufs,
                                         const size_t *sizes, int nbufs);

/** @brief Most copies of one replicated task. */
#define FLO_REPLICATE_MAX 16

/** @brief How to replicate a task (flo_task_submit_replicated). */
typedef struct flo_replicate_desc {
    size_t size; /**< sizeof(flo_replicate_desc), or 0. */
    int copies;  /**< 2 .. FLO_REPLICATE_MAX. */
    flo_replicate_vote vote;
    flo_replicate_validate_fn validate; /**< Or NULL: accept all. */
    void *validate_arg;
} flo_replicate_desc;

/**
 * @brief Submit a task that runs as several copies on different devices
 * (HPX's replicate), to detect silent corruption.
 *
 * Each copy runs the task's entry point on private versions of the
 * buffers it writes (a FLO_READ_WRITE buffer's private version starts
 * as its contents), placed on distinct devices that can run the kernel
 * while there are enough, then wrapped around. The result chosen by
 * rep->vote is then written to the task's buffers. For the program the
 * whole is one task: later tasks depend on it as on the task itself.
 *
 * @param[in]  rt    the runtime.
 * @param[in]  desc  the task, as for flo_task_submit (on_device and
 *                   on_worker must be 0; retries apply to each copy).
 * @param[in]  rep   the replication.
 * @param[out] out   the event of the whole, or NULL.
 * @return FLO_OK, or what flo_task_submit returns for @p desc, and
 *         FLO_EINVAL for a NULL or malformed @p rep or a pinned @p desc.
 *         The event fails with FLO_ETASK when no result is accepted (or
 *         none has a majority), naming the copies' outcomes.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_task_submit_replicated(flo_runtime *rt,
                                              const flo_task_desc *desc,
                                              const flo_replicate_desc *rep,
                                              flo_event *out);

FLO_END_DECLS
#endif
