/**
 * @file
 * @brief Runtime lifecycle, configuration, devices, workers and
 * statistics.
 *
 * A program starts a runtime with flo_init, submits work to it (data
 * handles, tasks: flotilla/data.h, flotilla/task.h) and ends it with
 * flo_finalize. The query functions of this header read what flo_init
 * set up and never change: they are thread-safe and may be called from
 * inside tasks.
 */
#ifndef FLOTILLA_RUNTIME_H
#define FLOTILLA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flotilla/status.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/**
 * @brief An initialised runtime (opaque): its workers, devices, data
 * handles and tasks.
 *
 * Made by flo_init, freed by flo_finalize. Several may live in one
 * process; handles and events of one are refused by the others
 * (FLO_EFOREIGN).
 */
typedef struct flo_runtime flo_runtime;

/** @brief Scheduling policies (flo_config.sched, FLO_SCHED). */
typedef enum flo_sched_policy {
    FLO_SCHED_DEFAULT = 0, /**< locality when GPUs are in use, else ws. */
    FLO_SCHED_EAGER = 1,   /**< One shared priority queue per worker kind. */
    FLO_SCHED_WS = 2,      /**< Per-worker deques with work stealing. */
    FLO_SCHED_LOCALITY = 3 /**< Earliest estimated finish (data + model). */
} flo_sched_policy;

/** @brief Which backends flo_init may use (flo_config.devices,
 *  FLO_DEVICES). */
typedef enum flo_device_mask {
    FLO_DEVICES_AUTO = 0, /**< Host always; CUDA when a GPU is visible. */
    FLO_DEVICES_HOST = 1, /**< Host workers only, even with GPUs. */
    FLO_DEVICES_CUDA = 2  /**< Host and CUDA; flo_init fails with
                               FLO_ENODEV without a usable GPU
                               (FLO_ENOTSUP in a build without CUDA). */
} flo_device_mask;

/**
 * @brief An MPI communicator, held without <mpi.h>: the bytes of an
 * MPI_Comm value.
 *
 * Make one with flo_mpi_comm_wrap(MPI_Comm) and read one back with
 * flo_mpi_comm_unwrap (both in flotilla/mpi.h, which includes <mpi.h>).
 * The zero value, FLO_MPI_COMM_NONE, holds no communicator.
 */
typedef struct flo_mpi_comm {
    int valid;         /**< 1: value holds an MPI_Comm; 0: none. */
    uint64_t value[2]; /**< The MPI_Comm, copied byte for byte. */
} flo_mpi_comm;

/** @brief No MPI communicator (one process): the zero value of
 *  flo_mpi_comm. */
#define FLO_MPI_COMM_NONE ((flo_mpi_comm){0, {0, 0}})

/** Most GPU writers a data handle remembers for lineage replay. */
#define FLO_LINEAGE_MAX 1024

/** @brief Write-through modes (flo_config.write_through,
 *  docs/resilience.md). */
enum {
    /** Off: what GPUs write stays there until something needs it. */
    FLO_WRITE_THROUGH_OFF = 0,
    /** Every version a GPU writes is copied to the host before its task
     *  completes: losing a GPU never loses data; costs the PCIe
     *  bandwidth of every write. */
    FLO_WRITE_THROUGH_ALL = 1,
    /** Only the versions no submitted task overwrites ("at rest") are
     *  copied, behind their task on a copy stream, without delaying it;
     *  a version lost before it reached the host is recomputed by
     *  lineage replay (lineage FLO_WRITE_THROUGH_REST_LINEAGE unless
     *  flo_config.lineage says otherwise). */
    FLO_WRITE_THROUGH_REST = 2
};

/** Lineage kept by FLO_WRITE_THROUGH_REST when flo_config.lineage is 0. */
#define FLO_WRITE_THROUGH_REST_LINEAGE 256

/**
 * @brief Runtime configuration, passed to flo_init.
 *
 * Every field's zero means its default, so
 * `flo_config cfg = FLO_CONFIG_INIT;` (or flo_config_init, or a zeroed
 * struct) is the default configuration: set only the fields that
 * matter. flo_init then applies the FLO_*
 * environment variables on top (docs/configuration.md), so a job script
 * can tune a program without recompiling it; set ignore_env to 1 to
 * forbid that. docs/configuration.md describes every field and variable,
 * with its range; flo_init refuses a value out of range with FLO_EINVAL.
 *
 * The struct starts with its size so that it can grow (new fields at the
 * end, zero meaning their default) without breaking programs built
 * against an older header: FLO_CONFIG_INIT and flo_config_init record
 * sizeof(flo_config) of the program's header. A size of 0 stands for the
 * layout of the library's own header, which is right only when the
 * program and the library come from the same release.
 */
typedef struct flo_config {
    size_t size;             /**< sizeof(flo_config), or 0 (see above). */
    int version;             /**< FLO_VERSION of the program's header, or 0;
                                  informational. */
    int host_workers;        /**< Host worker threads; 0: one per core not
                                  taken by a GPU worker (FLO_HOST_WORKERS). */
    flo_sched_policy sched;  /**< Policy; 0: default (FLO_SCHED). */
    flo_device_mask devices; /**< Backends; 0: auto (FLO_DEVICES). */
    int no_bind;             /**< 1: leave worker threads unbound; 0: bind
                                  each to a core (FLO_BIND). */
    const char *trace_path;  /**< Chrome trace written at finalize, or NULL
                                  (FLO_TRACE); copied. */
    int stats;             /**< 1: print statistics at finalize (FLO_STATS). */
    int gpus;              /**< GPUs to use; 0: all visible (FLO_GPUS). */
    const char *gpu_list;  /**< Comma list of CUDA ordinals, or NULL
                                (FLO_GPUS with a comma). */
    int streams_per_gpu;   /**< Compute streams per GPU; 0: 2
                                (FLO_STREAMS_PER_GPU). */
    size_t gpu_mem_limit;  /**< Bytes per GPU Flotilla may use; 0: all
                                (FLO_GPU_MEM_LIMIT). */
    int logical_gpus;      /**< Debug: present each GPU as N devices;
                                0: 1 (FLO_LOGICAL_GPUS). */
    const char *topology;  /**< hwloc synthetic description (tests), or
                                NULL (FLO_TOPOLOGY). */
    int log_level;         /**< 0 errors .. 3 debug (FLO_LOG_LEVEL). */
    int ignore_env;        /**< 1: do not read FLO_* variables. */
    flo_mpi_comm mpi_comm; /**< Run across its ranks (flo_mpi_comm_wrap);
                               FLO_MPI_COMM_NONE: one process. */
    double coll_timeout_s; /**< Collective timeout, seconds; 0: 300
                                (FLO_COLL_TIMEOUT). */
    int no_pin_host;       /**< 1: never page-lock registered host memory;
                                0: page-lock it when GPUs are in use
                                (FLO_PIN_HOST). */
    const char *faults;    /**< Fault injection specification
                                (docs/resilience.md), or NULL: none
                                (FLO_FAULTS); copied. */
    int write_through;     /**< Host copies of what GPUs write, so that
                                losing a GPU loses no data:
                                FLO_WRITE_THROUGH_OFF (0, the default),
                                _ALL (1) or _REST (2)
                                (FLO_WRITE_THROUGH). */
    int lineage;           /**< GPU writers remembered per data handle
                                to recompute a version lost with a GPU
                                (docs/resilience.md), 1..FLO_LINEAGE_MAX;
                                0: off (FLO_LINEAGE). */
    const char *dag_path;  /**< Graphviz (dot) file of the task graph as
                                it ran, written at finalize, or NULL
                                (FLO_DAG; docs/guide.md); copied. */
} flo_config;

/**
 * @brief The default configuration, as an initializer: size and version
 * set, every other field zero.
 *
 * `flo_config cfg = FLO_CONFIG_INIT;`. (C++ has no partial designated
 * initializers without warnings: there it is a value-initialised struct
 * with the header set, used the same way.)
 */
#ifdef __cplusplus
static inline flo_config flo__config_init_cxx(void)
{
    flo_config c = flo_config();
    c.size = sizeof(flo_config);
    c.version = FLO_VERSION;
    return c;
}
#define FLO_CONFIG_INIT (flo__config_init_cxx())
#else
#define FLO_CONFIG_INIT                                                        \
    {                                                                          \
        .size = sizeof(flo_config), .version = FLO_VERSION                     \
    }
#endif

/**
 * @brief Fill a configuration with the defaults (the same as
 * FLO_CONFIG_INIT).
 *
 * @param[out] cfg  the configuration to fill.
 * @return FLO_OK; FLO_EINVAL if @p cfg is NULL.
 *
 * @par Thread-safety:
 * Thread-safe (no shared state).
 * @par In a task:
 * Allowed.
 */
flo_status flo_config_init(flo_config *cfg);

/**
 * @brief Start a runtime: probe the topology (hwloc), start the host
 * workers and one worker per GPU, and create the pools they own.
 *
 * The FLO_* environment variables apply on top of @p cfg unless
 * cfg->ignore_env is 1 (docs/configuration.md). With devices
 * FLO_DEVICES_AUTO, a machine without a usable GPU gives a runtime of
 * host workers only; that is not an error.
 *
 * @param[in]  cfg  configuration (read only during the call), or NULL
 *                  for the defaults (plus the environment).
 * @param[out] out  the new runtime; written only on success.
 * @return FLO_OK, or (nothing is left over on error):
 *   - FLO_EINVAL: @p out is NULL; cfg->size is neither 0 nor
 *     sizeof(flo_config); a field out of range after the environment
 *     applied; a trace_path or dag_path that cannot be opened for
 *     writing; a
 *     topology hwloc refuses; a gpu_list with a bad or repeated
 *     ordinal; an mpi_comm holding MPI_COMM_NULL, or given while MPI is
 *     not initialised (or already finalized);
 *   - FLO_ENOTSUP: the build lacks a backend the configuration asks for
 *     (mpi_comm without MPI, FLO_DEVICES_CUDA without CUDA), or MPI
 *     provides less than MPI_THREAD_SERIALIZED;
 *   - FLO_ENODEV: FLO_DEVICES_CUDA and no usable GPU;
 *   - FLO_ERANGE: more GPUs in gpu_list than a runtime can hold;
 *   - FLO_ECOMM: duplicating the MPI communicator failed;
 *   - FLO_EDEVICE: a CUDA call failed while the GPUs were set up;
 *   - FLO_ENOMEM, FLO_ESYS: out of memory, or a thread, lock or hwloc
 *     call failed.
 *
 * @par Thread-safety:
 * Thread-safe: several threads may start runtimes at once, and several
 * runtimes may coexist.
 * @par In a task:
 * Allowed: the new runtime is independent of the task's (its workers
 * share the cores with the task's).
 */
flo_status flo_init(const flo_config *cfg, flo_runtime **out);

/**
 * @brief Wait for all submitted work, then stop the runtime and free
 * everything it owns.
 *
 * Wait for all submitted work, release the worker-local keys still alive
 * (their fini runs on each worker's thread, before the workers stop),
 * write the trace, the task graph and the statistics if asked, stop the
 * workers and free
 * everything the runtime owns (data handles that are still registered are
 * written back to user memory and unregistered). The runtime pointer is
 * invalid afterwards; handles of this runtime then return FLO_ESTALE or
 * FLO_EFOREIGN when used with another runtime.
 *
 * Communicators and graphs still alive are freed too. Arrays are not:
 * their handles are, but the flo_array object itself is not freed, and
 * flo_array_destroy cannot be called afterwards; destroy arrays before.
 *
 * @param[in] rt  the runtime; invalid once the call returned FLO_OK or a
 *                task's error.
 * @return FLO_OK, or:
 *   - the status of the earliest task failure that no call reported:
 *     neither a flo_wait_all nor a flo_event_wait or flo_event_query of
 *     that task's event (cancellations are not reported on their own:
 *     they go with the failure that caused them); the runtime is
 *     finalized all the same;
 *   - FLO_ESYS: the trace or the task graph (dag_path) could not be
 *     written (finalized all the same);
 *   - FLO_EINVAL: @p rt is NULL (nothing done);
 *   - FLO_EDEADLK: called from one of @p rt's worker threads (nothing
 *     done).
 *
 * @par Thread-safety:
 * Not thread-safe against other calls on the same runtime: the program
 * stops using @p rt (on every thread) before it finalizes it. Different
 * runtimes may be finalized concurrently.
 * @par In a task:
 * Refused with FLO_EDEADLK (in a task or a completion callback of @p rt:
 * the runtime would wait for its own worker).
 */
flo_status flo_finalize(flo_runtime *rt);

/** @brief Kinds of device. */
typedef enum flo_device_kind {
    FLO_DEVICE_HOST = 0, /**< Host memory and the host workers. */
    FLO_DEVICE_CUDA = 1  /**< One (logical) GPU and its worker. */
} flo_device_kind;

/** @brief Description of one device (see flo_device_get_info). */
typedef struct flo_device_info {
    flo_device_kind kind; /**< Host or GPU. */
    int ordinal;          /**< CUDA ordinal (physical); -1 for the host. */
    int logical_index;    /**< Index among logical GPUs sharing it. */
    int workers;          /**< Worker threads serving this device. */
    size_t memory_bytes;  /**< Total memory (GPU) or 0 for the host. */
    char name[64];        /**< e.g. "NVIDIA H100 80GB HBM3" or "host". */
    int failed;           /**< 1 once the device failed or was disabled
                               (flo_device_disable): it runs no more
                               tasks and holds no valid data. */
} flo_device_info;

/**
 * @brief Number of devices: memory nodes that run tasks.
 *
 * Device 0 is always the host; devices 1 .. n - 1 are (logical) GPUs
 * when the CUDA backend is in use.
 *
 * @param[in] rt  the runtime.
 * @return the number of devices (1 at least); 0 for a NULL @p rt.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at flo_init).
 * @par In a task:
 * Allowed.
 */
int flo_device_count(const flo_runtime *rt);

/**
 * @brief Describe one device.
 *
 * @param[in]  rt    the runtime.
 * @param[in]  dev   device index, 0 .. flo_device_count(rt) - 1.
 * @param[out] info  the description; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt or @p info, or @p dev out
 *         of range.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at flo_init).
 * @par In a task:
 * Allowed.
 */
flo_status flo_device_get_info(const flo_runtime *rt, int dev,
                               flo_device_info *info);

/**
 * @brief Number of worker threads, host and GPU.
 *
 * Workers are numbered 0 .. flo_worker_count(rt) - 1 (FLO_WORKER,
 * flo_task_worker).
 *
 * @param[in] rt  the runtime.
 * @return the number of workers; 0 for a NULL @p rt.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at flo_init).
 * @par In a task:
 * Allowed.
 */
int flo_worker_count(const flo_runtime *rt);

/**
 * @brief Device a worker serves.
 *
 * @param[in] rt      the runtime.
 * @param[in] worker  worker index, 0 .. flo_worker_count(rt) - 1.
 * @return the device index (0 the host, >= 1 a GPU); -1 for a NULL
 *         @p rt or @p worker out of range.
 *
 * @par Thread-safety:
 * Thread-safe (fixed at flo_init).
 * @par In a task:
 * Allowed.
 */
int flo_worker_device(const flo_runtime *rt, int worker);

/** @brief Statistics gathered since flo_init (see flo_stats_get). */
typedef struct flo_stats {
    uint64_t tasks_submitted; /**< Tasks submitted, the runtime's own
                                   (hints, algorithm steps) included. */
    uint64_t tasks_completed; /**< Tasks a worker ran (failed ones
                                   included, canceled ones not). */
    uint64_t tasks_failed;    /**< Reported failure or device error. */
    uint64_t tasks_canceled;  /**< Canceled because a predecessor failed. */
    uint64_t steals;          /**< Tasks taken from another worker. */
    /** @{ */
    /** Coherence transfers, in bytes: host to device (bytes_h2d),
     *  device to host (bytes_d2h), between GPUs (bytes_p2p). */
    uint64_t bytes_h2d, bytes_d2h, bytes_p2p;
    /** @} */
    uint64_t evictions; /**< Device copies evicted under pressure. */
    /** Dependencies resolved in stream order on a GPU: the successor was
     *  launched behind its predecessor without waiting for the host to
     *  observe the predecessor's completion. */
    uint64_t stream_ordered;
    /** @{ */
    /** Resilience (docs/resilience.md): attempts run again after
     *  FLO_EAGAIN (retries); tasks moved off a failed device before they
     *  ran (replaced) or run again elsewhere after it failed under them
     *  (reexecuted); tasks replayed to recompute data lost with a device
     *  (recomputed); handles whose only valid copy was lost and could
     *  not be recomputed (data_lost); devices failed or disabled
     *  (devices_lost); faults injected (faults_injected). */
    uint64_t retries, replaced, reexecuted, recomputed, data_lost;
    uint64_t devices_lost, faults_injected;
    /** Time from the last device loss to the end of the hand-back of
     *  its tasks (ns; 0 if none). */
    uint64_t recovery_ns;
    /** @} */
} flo_stats;

/**
 * @brief Read the statistics: the sum of the per-worker counters.
 *
 * The counters are read without stopping the workers: the sums are
 * approximate while tasks run and exact once they have finished (after
 * flo_wait_all, say).
 *
 * @param[in]  rt   the runtime.
 * @param[out] out  the statistics; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt or @p out.
 *
 * @par Thread-safety:
 * Thread-safe.
 * @par In a task:
 * Allowed.
 */
flo_status flo_stats_get(const flo_runtime *rt, flo_stats *out);

/**
 * @brief Print the statistics: totals, then one line per worker (tasks,
 * steals, failures, busy and idle time).
 *
 * @param[in] rt   the runtime.
 * @param[in] out  where to print; NULL for stderr.
 * @return FLO_OK; FLO_EINVAL for a NULL @p rt.
 *
 * @par Thread-safety:
 * Thread-safe (figures approximate while tasks run, as flo_stats_get).
 * @par In a task:
 * Allowed.
 */
flo_status flo_stats_print(const flo_runtime *rt, FILE *out);

FLO_END_DECLS
#endif
