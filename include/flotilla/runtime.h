/*
 * Flotilla - runtime lifecycle and configuration.
 */
#ifndef FLOTILLA_RUNTIME_H
#define FLOTILLA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flotilla/status.h"

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** An initialised runtime. Several may live in one process. */
typedef struct flo_runtime flo_runtime;

/** Scheduling policies. */
typedef enum flo_sched_policy {
    FLO_SCHED_DEFAULT = 0, /**< locality when GPUs are in use, else ws. */
    FLO_SCHED_EAGER = 1,   /**< One shared priority queue per worker kind. */
    FLO_SCHED_WS = 2,      /**< Per-worker deques with work stealing. */
    FLO_SCHED_LOCALITY = 3 /**< Earliest estimated finish (data + model). */
} flo_sched_policy;

/** Which backends flo_init may use. */
typedef enum flo_device_mask {
    FLO_DEVICES_AUTO = 0, /**< Host always; CUDA when a GPU is visible. */
    FLO_DEVICES_HOST = 1, /**< Host workers only, even with GPUs. */
    FLO_DEVICES_CUDA = 2  /**< Host and CUDA; ENODEV if no GPU. */
} flo_device_mask;

/**
 * An MPI communicator, held without <mpi.h>: the bytes of an MPI_Comm
 * value. Make one with flo_mpi_comm_wrap(MPI_Comm) and read one back with
 * flo_mpi_comm_unwrap (both in flotilla/mpi.h, which includes <mpi.h>).
 * The zero value, FLO_MPI_COMM_NONE, holds no communicator.
 */
typedef struct flo_mpi_comm {
    int valid;         /**< 1: value holds an MPI_Comm; 0: none. */
    uint64_t value[2]; /**< The MPI_Comm, copied byte for byte. */
} flo_mpi_comm;

/** No MPI communicator (one process). */
#define FLO_MPI_COMM_NONE ((flo_mpi_comm){0, {0, 0}})

/**
 * Runtime configuration, passed to flo_init. Every field's zero means
 * its default, so `flo_config cfg = FLO_CONFIG_INIT;` (or
 * flo_config_init, or a zeroed struct) is the default configuration:
 * set only the fields that matter. flo_init then applies the FLO_*
 * environment variables on top (docs/configuration.md), so a job script
 * can tune a program without recompiling it; set ignore_env to 1 to
 * forbid that.
 *
 * The struct starts with its size so that it can grow (new fields at the
 * end, zero meaning their default) without breaking programs built
 * against an older header: FLO_CONFIG_INIT and flo_config_init record
 * sizeof(flo_config) of the program's header. A size of 0 stands for the
 * layout of the library's own header, which is right only when the
 * program and the library come from the same release.
 */
typedef struct flo_config {
    size_t size;          /**< sizeof(flo_config), or 0 (see above). */
    int version;          /**< FLO_VERSION of the program's header, or 0;
                               informational. */
    int host_workers;     /**< Host worker threads; 0: one per core not
                               taken by a GPU worker (FLO_HOST_WORKERS). */
    flo_sched_policy sched; /**< Policy; 0: default (FLO_SCHED). */
    flo_device_mask devices; /**< Backends; 0: auto (FLO_DEVICES). */
    int no_bind;          /**< 1: leave worker threads unbound; 0: bind
                               each to a core (FLO_BIND). */
    const char *trace_path; /**< Chrome trace written at finalize, or NULL. */
    int stats;            /**< 1: print statistics at finalize (FLO_STATS). */
    int gpus;             /**< GPUs to use; 0: all visible (FLO_GPUS). */
    const char *gpu_list; /**< Comma list of CUDA ordinals, or NULL. */
    int streams_per_gpu;  /**< Compute streams per GPU; 0: 2. */
    size_t gpu_mem_limit; /**< Bytes per GPU Flotilla may use; 0: all. */
    int logical_gpus;     /**< Debug: present each GPU as N devices;
                               0: 1. */
    const char *topology; /**< hwloc synthetic description (tests), NULL. */
    int log_level;        /**< 0 errors .. 3 debug (FLO_LOG_LEVEL). */
    int ignore_env;       /**< 1: do not read FLO_* variables. */
    flo_mpi_comm mpi_comm; /**< Run across its ranks (flo_mpi_comm_wrap);
                               FLO_MPI_COMM_NONE: one process. */
    double coll_timeout_s;/**< Collective timeout, seconds; 0: 300. */
    int no_pin_host;      /**< 1: never page-lock registered host memory;
                               0: page-lock it when GPUs are in use
                               (FLO_PIN_HOST). */
} flo_config;

/** The default configuration: size and version set, every other field
 *  zero. (C++ has no partial designated initializers without warnings:
 *  there it is a value-initialised struct with the header set.) */
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
#define FLO_CONFIG_INIT {.size = sizeof(flo_config), .version = FLO_VERSION}
#endif

/**
 * Fill *cfg with the defaults (the same as FLO_CONFIG_INIT).
 * @return FLO_OK; FLO_EINVAL if cfg is NULL. Thread-safe.
 */
flo_status flo_config_init(flo_config *cfg);

/**
 * Start a runtime: probe the topology (hwloc), start the host workers and
 * one worker per GPU, and create the pools they own.
 *
 * @param cfg  configuration, or NULL for the defaults (plus environment).
 * @param out  the new runtime; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL out, a config whose size is
 *         neither 0 nor sizeof(flo_config), or a field out of range; FLO_ENODEV if CUDA was required and no GPU
 *         is visible; FLO_ENOTSUP for a backend missing from this build;
 *         FLO_ENOMEM, FLO_ESYS on resource failure (nothing is left over).
 * Thread-safe; several runtimes may coexist.
 */
flo_status flo_init(const flo_config *cfg, flo_runtime **out);

/**
 * Wait for all submitted work, release the worker-local keys still alive
 * (their fini runs on each worker's thread, before the workers stop),
 * write the trace and statistics if asked, stop the workers and free
 * everything the runtime owns (data handles that are still registered are
 * written back to user memory and unregistered).
 * The runtime pointer is invalid afterwards; handles of this runtime then
 * return FLO_ESTALE or FLO_EFOREIGN when used with another runtime.
 *
 * @return FLO_OK, or the first task error not yet reported by a wait.
 *         FLO_EINVAL for NULL; FLO_EDEADLK when called from inside a task.
 */
flo_status flo_finalize(flo_runtime *rt);

/** Kinds of device. */
typedef enum flo_device_kind {
    FLO_DEVICE_HOST = 0, /**< Host memory and the host workers. */
    FLO_DEVICE_CUDA = 1  /**< One (logical) GPU and its worker. */
} flo_device_kind;

/** Description of one device (see flo_device_info). */
typedef struct flo_device_info {
    flo_device_kind kind;
    int ordinal;          /**< CUDA ordinal (physical); -1 for the host. */
    int logical_index;    /**< Index among logical GPUs sharing it. */
    int workers;          /**< Worker threads serving this device. */
    size_t memory_bytes;  /**< Total memory (GPU) or 0 for the host. */
    char name[64];        /**< e.g. "NVIDIA H100 80GB HBM3" or "host". */
} flo_device_info;

/**
 * Devices (memory nodes that run tasks): device 0 is always the host;
 * devices 1..n are GPUs when the CUDA backend is in use.
 */
int flo_device_count(const flo_runtime *rt);

/** Fill *info for device dev. FLO_EINVAL for a bad index or NULL. */
flo_status flo_device_get_info(const flo_runtime *rt, int dev,
                               flo_device_info *info);

/** Number of worker threads (host and GPU). */
int flo_worker_count(const flo_runtime *rt);

/** Device a worker serves (0 host, >= 1 a GPU); -1 for a bad index. */
int flo_worker_device(const flo_runtime *rt, int worker);

/** Statistics gathered since flo_init. */
typedef struct flo_stats {
    uint64_t tasks_submitted;
    uint64_t tasks_completed;
    uint64_t tasks_failed;    /**< Reported failure or device error. */
    uint64_t tasks_canceled;  /**< Canceled because a predecessor failed. */
    uint64_t steals;          /**< Tasks taken from another worker. */
    uint64_t bytes_h2d, bytes_d2h, bytes_p2p; /**< Coherence transfers. */
    uint64_t evictions;       /**< Device copies evicted under pressure. */
    /** Dependencies resolved in stream order on a GPU: the successor was
     *  launched behind its predecessor without waiting for the host to
     *  observe the predecessor's completion. */
    uint64_t stream_ordered;
} flo_stats;

/** Sum of the per-worker counters (approximate while work runs). */
flo_status flo_stats_get(const flo_runtime *rt, flo_stats *out);

/**
 * Print per-worker statistics (tasks, steals, idle time) to out (stderr
 * when NULL).
 * @return FLO_OK; FLO_EINVAL for a NULL rt.
 */
flo_status flo_stats_print(const flo_runtime *rt, FILE *out);

FLO_END_DECLS
#endif
