/*
 * Flotilla - runtime lifecycle and configuration.
 */
#ifndef FLOTILLA_RUNTIME_H
#define FLOTILLA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

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
 * Runtime configuration. Start from FLO_CONFIG_INIT (or flo_config_init),
 * change fields, pass to flo_init. flo_init then applies the FLO_*
 * environment variables on top (documented in docs/configuration.md), so a
 * job script can tune a program without recompiling it; set ignore_env to 1
 * to forbid that.
 *
 * The struct starts with its size and the header version so that it can
 * grow without breaking programs built against an older header.
 */
typedef struct flo_config {
    size_t size;          /**< sizeof(flo_config); set by the initializer. */
    int version;          /**< FLO_VERSION; set by the initializer. */
    int host_workers;     /**< Host worker threads; -1: one per free core. */
    flo_sched_policy sched; /**< Policy (FLO_SCHED). */
    flo_device_mask devices; /**< Backends (FLO_DEVICES=auto|host|cuda). */
    int bind_workers;     /**< 1: pin worker threads to cores (FLO_BIND). */
    const char *trace_path; /**< Chrome trace written at finalize, or NULL. */
    int stats;            /**< 1: print statistics at finalize (FLO_STATS). */
    int gpus;             /**< GPUs to use; -1: all visible (FLO_GPUS). */
    const char *gpu_list; /**< Comma list of CUDA ordinals, or NULL. */
    int streams_per_gpu;  /**< Compute streams per GPU (default 2). */
    size_t gpu_mem_limit; /**< Bytes per GPU Flotilla may use; 0: all. */
    int logical_gpus;     /**< Debug: present each GPU as N devices (1). */
    const char *topology; /**< hwloc synthetic description (tests), NULL. */
    int log_level;        /**< 0 errors .. 3 debug (FLO_LOG_LEVEL). */
    int ignore_env;       /**< 1: do not read FLO_* variables. */
    void *mpi_comm;       /**< Optional pointer to an MPI_Comm; NULL. */
    double coll_timeout_s;/**< Collective timeout, seconds (0: 300). */
    int pin_host;         /**< 1: page-lock registered host memory when
                               GPUs are in use (FLO_PIN_HOST); 0: never. */
} flo_config;

/** Defaults. Fields are in declaration order. */
#define FLO_CONFIG_INIT                                                    \
    {                                                                      \
        sizeof(flo_config), FLO_VERSION, -1, FLO_SCHED_DEFAULT,            \
            FLO_DEVICES_AUTO, 1, NULL, 0, -1, NULL, 2, 0, 1, NULL, 0, 0,   \
            NULL, 0.0, 1                                                   \
    }

/**
 * Fill *cfg with the defaults (the same as FLO_CONFIG_INIT).
 * @return FLO_EINVAL if cfg is NULL.
 */
flo_status flo_config_init(flo_config *cfg);

/**
 * Start a runtime: probe the topology (hwloc), start the host workers and
 * one worker per GPU, and create the pools they own.
 *
 * @param cfg  configuration, or NULL for the defaults (plus environment).
 * @param out  the new runtime; written only on success.
 * @return FLO_OK; FLO_EINVAL for a NULL out, a config of the wrong size or
 *         a field out of range; FLO_ENODEV if CUDA was required and no GPU
 *         is visible; FLO_ENOTSUP for a backend missing from this build;
 *         FLO_ENOMEM, FLO_ESYS on resource failure (nothing is left over).
 * Thread-safe; several runtimes may coexist.
 */
flo_status flo_init(const flo_config *cfg, flo_runtime **out);

/**
 * Wait for all submitted work, write the trace and statistics if asked,
 * stop the workers and free everything the runtime owns (data handles that
 * are still registered are written back to user memory and unregistered).
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

/** Print per-worker statistics (tasks, steals, idle time) to stream. */
flo_status flo_stats_print(const flo_runtime *rt, void *stdio_file);

FLO_END_DECLS
#endif
