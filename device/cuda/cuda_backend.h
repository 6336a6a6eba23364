/*
 * Flotilla - the CUDA backend's private state and the internal API it
 * offers the rest of the library (the locality policy, flo-info, the
 * benchmarks), and the one way CUDA errors are checked (FLO__CUDA, also
 * used by collectives/comm/nccl_comm.c). CUDA types appear here: include
 * only from device/cuda*, collectives/comm/nccl*, tools and benchmarks
 * built with CUDA.
 *
 * One flo__cuda_dev per logical GPU. Each has exactly one worker thread,
 * which alone uses the compute streams, the event fast path, the gate
 * stream and the in-flight queues, and one staging thread (cuda_stage.c),
 * which alone uses the staging buffers and its two streams. Other threads
 * enter only through copy_to_host (serialised by d2h_mu), the transfer
 * services (home_start enqueues on the d2h stream and the staging
 * queue), replica_free and the pool API (serialised by mem_mu).
 *
 * Lock order: a data handle's coh_lock, then mem_mu or stage_mu (never
 * both), then the event pool's spin lock. Code holding mem_mu takes
 * another handle's coh_lock only with trylock (eviction), so two workers
 * evicting each other's replicas cannot deadlock. The staging thread
 * takes no coh_lock and no mem_mu.
 */
#ifndef FLO_DEVICE_CUDA_BACKEND_H
#define FLO_DEVICE_CUDA_BACKEND_H

#include <cuda_runtime_api.h>

#include "device/device.h"

/* ---- Checking CUDA calls ----------------------------------------------
 *
 * Every CUDA runtime call's result is checked, through FLO__CUDA unless
 * the caller needs the cudaError_t itself. One mapping to flo_status
 * (flo__cuda_status), for the whole library:
 *
 *   cudaSuccess                                   FLO_OK
 *   cudaErrorMemoryAllocation (out of memory)     FLO_ENOMEM
 *   cudaErrorNoDevice, cudaErrorInvalidDevice,
 *   cudaErrorInsufficientDriver                   FLO_ENODEV
 *   anything else, sticky errors included         FLO_EDEVICE
 *
 * A sticky error (flo__cuda_error_is_sticky: an illegal address, a
 * kernel fault, ...) leaves the device's context unusable: code working
 * for a device marks it failed (flo__cuda_dev_fail), after which its
 * tasks fail with FLO_EDEVICE instead of running. Any other error
 * concerns the call alone and is cleared from the thread's CUDA error
 * state, so that no later cudaGetLastError takes it for its own (a
 * task's launch error, say). NCCL results map to FLO_ECOMM (nccl_comm.c).
 */

/* The status of a CUDA error, as in the table above. */
flo_status flo__cuda_status(cudaError_t e);

/* Log a failed call by name, file and line, clear the thread's CUDA error
 * state (as far as a sticky error allows); return flo__cuda_status(e). */
flo_status flo__cuda_report(cudaError_t e, const char *call, const char *file,
                            int line);

/*
 * FLO__CUDA(call): evaluate a CUDA runtime call once; on failure log the
 * call, file and line and yield the mapped flo_status, else FLO_OK.
 * Usage: st = FLO__CUDA(cudaStreamCreate(&s)); if (st) goto fail;
 */
#define FLO__CUDA(call) flo__cuda_check_((call), #call, __FILE__, __LINE__)

static inline flo_status flo__cuda_check_(cudaError_t e, const char *call,
                                          const char *file, int line)
{
    if (FLO__LIKELY(e == cudaSuccess))
        return FLO_OK;
    return flo__cuda_report(e, call, file, line);
}

/* True for errors that leave the CUDA context unusable. */
bool flo__cuda_error_is_sticky(cudaError_t e);

/* Make ordinal the calling thread's current device (threads other than
 * its worker: the pool API, copies home); returns the previous one for
 * flo__cuda_restore_device (-1 if unknown). */
static inline int flo__cuda_use_device(int ordinal)
{
    int old = -1;
    if (cudaGetDevice(&old) != cudaSuccess) {
        (void)cudaGetLastError();
        old = -1;
    }
    if (old != ordinal && cudaSetDevice(ordinal) != cudaSuccess)
        (void)cudaGetLastError(); /* The calls that follow report it. */
    return old;
}

static inline void flo__cuda_restore_device(int old, int ordinal)
{
    if (old >= 0 && old != ordinal && cudaSetDevice(old) != cudaSuccess)
        (void)cudaGetLastError();
}

/* ---- Events ----------------------------------------------------------- */

/* A pool of reusable events of one device. Thread-safe (spin lock): the
 * worker takes and returns events; replica_free may return one from any
 * thread. Grows (rarely) when empty. */
typedef struct flo__cuda_evpool {
    flo__spinlock lock;
    cudaEvent_t *ev;
    int n, cap;
    unsigned flags; /* cudaEventDisableTiming or cudaEventDefault. */
    int ordinal;
} flo__cuda_evpool;

/* ---- Memory pool ------------------------------------------------------ */

/* Size classes: four per power of two from 256 B to 4 GiB; larger
 * allocations bypass the cache. */
#define FLO__CUDA_NCLASS (4 * 25)

typedef struct flo__cuda_class {
    void **blk; /* Cached free blocks of this class. */
    int n, cap;
} flo__cuda_class;

/* ---- In-flight tasks -------------------------------------------------- */

/* A replica some in-flight task relies on (its own buffers and the
 * sources of peer copies): kept from eviction until the task completes. */
typedef struct flo__cuda_pin {
    flo__data *d;
    int node;
} flo__cuda_pin;

/* Status words one task may attach (flo_task_cuda_status_word). */
#define FLO__CUDA_OP_WORDS 4

typedef struct flo__cuda_op {
    flo__task *task;
    cudaEvent_t done;           /* Recorded on the compute stream after it, or
                                   NULL: a later op's event covers it. */
    cudaEvent_t t_start;        /* Tracing only: before the entry point. */
    cudaEvent_t c_start, c_end; /* Tracing only: its H2D/peer copies. */
    /* One of its timing events could not be recorded: a pooled event
     * keeps its previous time, so the op is neither traced nor sampled. */
    bool untimed;
    int c_row;
    uint64_t c_bytes;
    flo_status status; /* From the entry point or launch check. */
    int npin, cap_pin;
    flo__cuda_pin *pin; /* Grows once, reused with the slot. */
    /* Device status words attached by the entry point
     * (flo_task_cuda_status_word): copied after its work into the
     * stream's pinned sw_host slots of this op, checked at completion.
     * what: interned labels (flo__name_intern). */
    int nsw;
    const int *sw_dev[FLO__CUDA_OP_WORDS];
    const char *sw_what[FLO__CUDA_OP_WORDS];
    int stream; /* Index of the compute stream it was launched on. */
    int prio;   /* The task's priority (read by pick_stream). */
    /* Write-through (flo_config.write_through): the copies of what it
     * wrote into host memory were enqueued after its work (wt), or some
     * behind its done event on d2h (rest: at rest). */
    bool wt, rest;
} flo__cuda_op;

/* Per compute stream: a FIFO of ops (they complete in order). */
typedef struct flo__cuda_fifo {
    flo__cuda_op *ops;
    unsigned head, tail; /* Monotonic; mask with cap - 1. */
    unsigned cap;
    int since_ev;     /* Ops launched since the last event. */
    atomic_int armed; /* A wake-up host function is queued. */
    flo__worker *w;   /* Woken by that host function. */
    /* Pinned host slots for status words: FLO__CUDA_OP_WORDS per op
     * slot (index & (cap - 1)), allocated on first use by the worker;
     * a slot is rewritten only once its op completed. */
    int *sw_host;
} flo__cuda_fifo;

/* ---- Staged copies (cuda_stage.c) ---------------------------------------- */

enum {
    FLO__XREQ_H2D = 0, /* Pageable host -> this GPU. */
    FLO__XREQ_D2D = 1, /* Another GPU (no peer access) -> this GPU. */
    FLO__XREQ_D2H = 2, /* This GPU -> pageable host (a copy home). */
    FLO__XREQ_HOME = 3 /* This GPU -> page-locked host, direct (no
                          staging thread; a token of home_start). */
};

/* A copy request for the staging thread, or a copy-home token. */
typedef struct flo__cuda_xreq {
    struct flo__cuda_xreq *next;
    int kind;
    void *dst;
    const void *src;
    size_t bytes;
    /* A private event of cd's pool recorded after the source's filling
     * copy (or NULL): the thread orders its reads after it, then returns
     * it to the pool. */
    cudaEvent_t src_ready;
    /* H2D/D2D with the gate: value written to cd->gate_flag once the
     * copies are complete; nobody waits on the request, the thread frees
     * it. Without the gate (gated false) the requester waits for done. */
    bool gated;
    uint32_t seq;
    cudaEvent_t ev; /* FLO__XREQ_HOME: recorded after the copy. */
    /* Under stage_mu: set once the thread finished it; its status. */
    bool done;
    flo_status st;
    /* A copy-home token: its holders (the data handle, and the worker
     * for one of write-through at rest); home_release frees it at 0. */
    atomic_int refs;
} flo__cuda_xreq;

/* A copy home a GPU's worker started for write-through at rest: the
 * handle, and the token it holds too. */
typedef struct flo__cuda_rest {
    flo__data *d;
    flo__cuda_xreq *q;
} flo__cuda_rest;

/* ---- A logical GPU ----------------------------------------------------- */

#define FLO__CUDA_MAX_STREAMS 32
#define FLO__CUDA_NSTAGE 4

typedef struct flo__cuda_dev {
    flo__platform *plat;
    flo__device *dev;
    flo__worker *w; /* Its one worker (set when the worker starts). */
    int ordinal;    /* Physical CUDA ordinal. */
    int logical;    /* Index among logical devices of this GPU. */
    int node;       /* Memory node = dev->index. */
    char pci[32];   /* PCI bus id. */
    int sms;
    size_t mem_total;

    int nstreams;
    cudaStream_t compute[FLO__CUDA_MAX_STREAMS];
    cudaStream_t h2d, d2h, p2p, alloc;
    unsigned next_stream;
    flo__cuda_fifo fifo[FLO__CUDA_MAX_STREAMS];
    int max_inflight;
    int event_every; /* Record a completion event every n tasks. */
    int inflight;    /* Worker thread only. */

    flo__cuda_evpool events;  /* Untimed. */
    flo__cuda_evpool tevents; /* Timed (tracing). */

    /* Pinned staging for host->device copies (staging thread only). */
    size_t stage_bytes;
    void *stage[FLO__CUDA_NSTAGE];
    cudaEvent_t stage_ev[FLO__CUDA_NSTAGE];
    bool stage_busy[FLO__CUDA_NSTAGE];
    int stage_next;

    /* The staging thread: a FIFO of requests under stage_mu; stage_cv
     * wakes the thread, stage_done_cv the requesters waiting for done.
     * It owns s_h2d/s_d2h and the xstage buffers (device->host chunks).
     * Requests are taken in FIFO order: a request's src_ready only
     * depends on requests queued before it (see cuda_stage.c). */
    pthread_mutex_t stage_mu;
    pthread_cond_t stage_cv, stage_done_cv;
    flo__cuda_xreq *stage_head, *stage_tail;
    bool stage_stop, stage_running, stage_inited;
    pthread_t stage_thread;
    cudaStream_t s_h2d, s_d2h;
    void *xstage[2];
    cudaEvent_t xstage_ev[2];
    /* The gate: the thread writes gate_flag (device memory) after a
     * request's copies (cuStreamWriteValue32 on s_h2d); the worker has
     * the gate stream wait for that value (cuStreamWaitValue32) and
     * records the replica's ready event after it. gate_seq: worker only
     * (assigned under stage_mu). gate_ok false: stream memory operations
     * are unavailable, the worker waits for the thread instead. */
    cudaStream_t gate;
    uint32_t *gate_flag;
    uint32_t gate_seq;
    bool gate_ok;

    /* Synchronous device->host copies from any thread (eviction). */
    pthread_mutex_t d2h_mu;
    void *dstage[2];
    cudaEvent_t dstage_ev[2];

    /* Memory: the stream-ordered pool, the size-class cache and the
     * resident replicas (LRU candidates); under mem_mu. */
    pthread_mutex_t mem_mu;
    cudaMemPool_t pool;
    flo__cuda_class cls[FLO__CUDA_NCLASS];
    size_t limit;           /* Bytes this device may hold; SIZE_MAX: all. */
    size_t held;            /* Bytes held: cached + in replicas. */
    size_t in_use;          /* Bytes in replicas (or given out by the API). */
    flo__replica *resident; /* Doubly linked through lru_prev/next. */
    uint64_t lru_clock;     /* Under the data's coh_lock; approximate. */

    /* Set once a sticky error poisoned the context; never cleared. */
    atomic_int failed;
    char failed_msg[160];
    cudaError_t failed_err; /* The error that failed it (set before). */

    /* Tracing. */
    int row_compute[FLO__CUDA_MAX_STREAMS];
    int row_h2d, row_p2p;
    cudaEvent_t t_ref; /* Recorded at worker start... */
    uint64_t t_ref_ns; /* ...when the host clock read this. */

    /* Peer/D2D copies allowed (FLO_CUDA_P2P=0 forces staging through the
     * host; tests may clear it before submitting work). */
    bool p2p_enabled;
    /* peer[n]: node n is a GPU this one reaches directly (same physical
     * GPU, or peer access enabled). Filled at probe. */
    bool peer[FLO__MAX_NODES];
    uint64_t spin_ns;    /* wait_progress polls this long before parking. */
    uint64_t wait_since; /* Start of the current wait stretch, or 0. */

    /* ---- Scheduling on the GPU (cuda_worker.c; worker thread only
     * unless noted) ---- */
    /* High-priority compute streams: compute[nstreams .. nstreams + nhi
     * - 1] (cudaStreamCreateWithPriority, greatest priority), each with
     * its fifo. A task goes there when its priority exceeds that of
     * every task in flight on the normal streams. 0: none. */
    int nhi;
    /* Launch window: at most this many tasks in flight (<= max_inflight);
     * can_accept is false beyond it. */
    int window;
    /* When the window is full, wait_progress polls this long before
     * sleeping. */
    uint64_t window_spin_ns;
    /* Busy time: host clock when inflight last went from 0 to 1. */
    uint64_t busy_since;
    /* Kernel-time sampling for the placement model without tracing:
     * time_every 0 disables; time_on set at worker start when the policy
     * learns from task times. samp: per-name counters, direct-mapped by
     * the (interned) name pointer. */
    int time_every;
    bool time_on;
    struct {
        const char *name;
        uint32_t n;
    } samp[64];
    /* The op whose entry point is running (status words), else NULL. */
    flo__cuda_op *cur_op;
    cudaStream_t cur_stream;
    /* Write-through at rest (FLO_WRITE_THROUGH_REST): the copies home
     * this worker started, oldest first (they complete in order on d2h);
     * a ring of rest_cap (a power of two) entries, grown as needed. */
    flo__cuda_rest *rest;
    unsigned rest_head, rest_tail, rest_cap;
} flo__cuda_dev;

/* ---- Internal API ----------------------------------------------------- */

/* The backend's ops table. */
extern const flo__device_ops flo__cuda_ops;
/* ops->fini: destroy a device's streams, events, pools and CUDA state
 * (the platform frees the flo__device). */
void flo__cuda_fini(flo__device *dev);

/* The CUDA state of device index dev of plat (a runtime's rt->plat), or
 * NULL if dev is not a GPU. */
flo__cuda_dev *flo__cuda_dev_get(const flo__platform *plat, int dev);

/*
 * Pool allocation on a logical GPU: served from the size-class cache when
 * possible (no driver call), else from the device's cudaMemPool, evicting
 * least recently used replicas when the memory limit or the GPU is full.
 * The memory is ready for use on any stream of the device when it
 * returns. Thread-safe (mem_mu).
 * @return FLO_OK; FLO_EINVAL (NULL, bytes 0); FLO_ENOMEM when nothing
 *         more can be evicted; FLO_EDEVICE.
 */
flo_status flo__cuda_pool_alloc(flo__cuda_dev *cd, size_t bytes, void **out);
/* Return memory from flo__cuda_pool_alloc (bytes as allocated); no
 * device work may still use it. Thread-safe. */
void flo__cuda_pool_free(flo__cuda_dev *cd, void *ptr, size_t bytes);
/* Bytes held by the pool (cache + live) and in live allocations. */
void flo__cuda_pool_usage(flo__cuda_dev *cd, size_t *held, size_t *in_use);

/*
 * Estimated bandwidth in bytes per ns for moving data from memory node
 * src to memory node dst (0 is the host): nominal figures from the link
 * type (same physical GPU, peer access, or staged through the host).
 * 0 if either node is out of range. The locality policy may use it.
 */
double flo__cuda_link_bw(const flo__platform *plat, int src, int dst);

/* Whether physical GPUs a and b can access each other's memory. */
bool flo__cuda_can_peer(int a, int b);

/* Bandwidth-measuring helpers for flo-info --bandwidth: time a copy of
 * bytes with events on a fresh stream, pinned host memory, median of reps;
 * bytes per second in *out. */
flo_status flo__cuda_measure_h2d(int ordinal, size_t bytes, int reps,
                                 double *out);
flo_status flo__cuda_measure_d2h(int ordinal, size_t bytes, int reps,
                                 double *out);
flo_status flo__cuda_measure_p2p(int src, int dst, size_t bytes, int reps,
                                 double *out);

/* Internal to the backend (cuda_mem.c, cuda_coherence.c). */
flo_status flo__cuda_evpool_init(flo__cuda_evpool *p, int ordinal,
                                 unsigned flags, int n);
/* Destroy every event of the pool; the first error, else cudaSuccess. */
cudaError_t flo__cuda_evpool_fini(flo__cuda_evpool *p);
flo_status flo__cuda_ev_get(flo__cuda_evpool *p, cudaEvent_t *out);
void flo__cuda_ev_put(flo__cuda_evpool *p, cudaEvent_t ev);

flo_status flo__cuda_mem_init(flo__cuda_dev *cd);
void flo__cuda_mem_fini(flo__cuda_dev *cd);
/* Allocate the replica d->rep[cd->node] (caller holds d->coh_lock). */
flo_status flo__cuda_replica_alloc(flo__cuda_dev *cd, flo__data *d);

/* Make d valid on cd's node for mode, ordering stream after the copies.
 * Caller holds d->coh_lock; pins go to op. */
flo_status flo__cuda_prepare(flo__cuda_dev *cd, flo__data *d, flo_access mode,
                             cudaStream_t stream, flo__cuda_op *op);
flo_status flo__cuda_op_pin(flo__cuda_op *op, flo__data *d, int node);

flo_status flo__cuda_copy_to_host(flo__device *dev, void *dst, const void *src,
                                  size_t bytes);
void flo__cuda_replica_free(flo__device *dev, flo__replica *r, size_t bytes);
/* Transfer services of device memory the program registered
 * (flo_data_register_device; cuda_coherence.c): the check of its memory
 * and the synchronous write-back into it (flo__device_xfer_ops). */
flo_status flo__cuda_user_mem_check(flo__device *dev, const void *ptr,
                                    size_t bytes);
flo_status flo__cuda_pull_sync(flo__device *dev, flo__data *d, int src);

/* The data handle a replica of node belongs to. */
static inline flo__data *flo__cuda_rep_data(flo__replica *r, int node)
{
    return (flo__data *)((char *)(r - node) - offsetof(flo__data, rep));
}

/* Staging thread, gate and transfer services (cuda_stage.c). The
 * thread is started by flo__cuda_stage_init (the caller has cd's device
 * current, streams and staging buffers exist) and stopped, after its
 * queue drained, by flo__cuda_stage_fini (safe on a partly made cd). */
flo_status flo__cuda_stage_init(flo__cuda_dev *cd);
void flo__cuda_stage_fini(flo__cuda_dev *cd);
/* Worker only, under the data's coh_lock: copy bytes from src (pageable
 * host memory, or GPU memory without peer access: D2D) into dst on cd
 * through the staging thread; src_ev (or NULL) completes when src is
 * valid. On return *used is a stream of cd after which the copy is
 * complete in stream order (record the replica's ready event there). */
flo_status flo__cuda_stage_fill(flo__cuda_dev *cd, int kind, void *dst,
                                const void *src, size_t bytes,
                                cudaEvent_t src_ev, cudaStream_t *used);
extern const flo__device_xfer_ops flo__cuda_xfer_ops;
/* Under d->coh_lock: a copy of d's replica on cd into page-locked host
 * memory dst, on d2h after the event after (NULL: after the replica's
 * ready event), as a copy-home token with refs holders. */
flo_status flo__cuda_home_enqueue(flo__cuda_dev *cd, flo__data *d, void *dst,
                                  bool dst_locked, cudaEvent_t after, int refs,
                                  void **token);
/* Whether the copy of a direct token finished: FLO_INPROGRESS, FLO_OK,
 * or the error (the device failed on a sticky one). With wait, blocks
 * until it did. */
flo_status flo__cuda_home_query(flo__cuda_dev *cd, void *token, bool wait);
/* Under d->coh_lock: order stream after the copy of a direct token (a
 * writer of its source replica); nothing for a staged one. */
flo_status flo__cuda_home_order(void *token, cudaStream_t stream);

/* Mark cd failed (first message wins). */
void flo__cuda_dev_fail(flo__cuda_dev *cd, cudaError_t e, const char *what);

/* The entry point of a graph launch task (cuda_graph.c). */
void flo__cuda_graph_run(flo_task_ctx *ctx);

/* The entry point of a copy task (flo__device_ops.copy_entry,
 * cuda_copy.c): device-to-device copies on the task's stream. */
void flo__cuda_copy_entry(flo_task_ctx *ctx);

/*
 * The result e of a call that releases something of cd (a destroy, a
 * free, the wait for a stream before its teardown), described by what.
 * Nothing can be undone and there is nobody to return a status to: on a
 * device that already failed the error is expected (a dead context fails
 * every call) and only cleared; a sticky error marks cd failed; any other
 * error is logged (a leaked resource, or a bug) and cleared.
 */
void flo__cuda_release(flo__cuda_dev *cd, cudaError_t e, const char *what);

#endif
