/*
 * Flotilla - the device layer's private header: the platform (a
 * runtime's devices and what they share), the backend interface every
 * device implements, the backends built in, and the coherence state of
 * data handles (one replica per memory node). Not installed.
 *
 * The scheduler talks to devices only through flo__device_ops. A backend
 * includes this header (and its own), never the scheduler's: it sees
 * tasks and its worker through the small set of functions declared at
 * the end of this file, which the scheduler implements.
 */
#ifndef FLO_DEVICE_H
#define FLO_DEVICE_H

#include "runtime/internal.h"
#include "runtime/topology.h"

typedef struct flo__device flo__device;
typedef struct flo__worker flo__worker;
typedef struct flo__task flo__task;
typedef struct flo__data flo__data;

/*
 * A runtime's platform: the machine as the device layer sees it (the
 * configuration, the topology, the trace) and the devices found on it.
 * Part of the runtime object (rt->plat, scheduler/sched.h); flo_init
 * fills it and probes the backends (flo__platform_probe) before any
 * worker exists, and it is fixed from then on but for the statistics.
 */
typedef struct flo__platform {
    const flo_config *cfg; /* The runtime's resolved configuration. */
    flo__topology *topo;   /* The runtime's machine topology. */
    flo__trace *trace;     /* NULL unless tracing. */
    int ndevices;          /* Memory nodes: 0 host, 1.. GPUs. */
    flo__device *devices[FLO__MAX_NODES];
    /* This process among the processes of its node (MPI; rank 0 of 1
     * without): set before the backends probe, so that each rank picks
     * its share of the node's GPUs. */
    int node_rank, node_size;
    /* The scheduling policy learns from task times (it has a done hook):
     * backends then sample the times of their asynchronous tasks. Set
     * once the policy is chosen, before the workers start. */
    bool learn_times;
    /* Transfer statistics (flo_stats), relaxed atomic counters. */
    atomic_ulong bytes_h2d, bytes_d2h, bytes_p2p, evictions;
} flo__platform;

/* Replica states (MSI without the M/E split: OWNER = only valid copy). */
enum {
    FLO__REP_INVALID = 0,
    FLO__REP_SHARED = 1, /* Valid; other nodes may hold valid copies. */
    FLO__REP_OWNER = 2   /* The only valid copy (written here last). */
};

typedef struct flo__replica {
    void *ptr; /* Allocation on this node, or NULL. */
    /* FLO__REP_*: written under the data's coh_lock; read without it
     * (relaxed) only for placement estimates. */
    atomic_uchar state;
    uint8_t pinned;    /* In use by a running task: not evictable (count
                          is in `users`). */
    int32_t users;     /* Tasks currently using this replica. */
    uint64_t last_use; /* LRU clock for eviction. */
    void *ready;       /* Backend event: the copy that filled ptr, if still
                          in flight (owned by the backend). */
    struct flo__replica *lru_prev, *lru_next; /* Backend's LRU list. */
} flo__replica;

/* How a handle's host memory is page-locked (flo__data.host_pin). */
enum {
    FLO__PIN_NONE = 0,  /* Pageable (not asked, or opted out). */
    FLO__PIN_REG = 1,   /* Registered by the runtime: unpin at retire. */
    FLO__PIN_EXT = 2,   /* Already page-locked by the user: leave it. */
    FLO__PIN_ALLOC = 3, /* Runtime-owned, from xfer->host_alloc. */
    FLO__PIN_FAILED = 4 /* Pinning was tried and failed: pageable. */
};

static inline bool flo__pin_is_locked(int how)
{
    return how == FLO__PIN_REG || how == FLO__PIN_EXT || how == FLO__PIN_ALLOC;
}

/*
 * Optional transfer services of a backend (flo__device.xfer, NULL when
 * the backend has none; the host backend has none). They let the core
 * pin host memory and copy replicas home without including backend
 * headers.
 *
 * A copy home is split in three so that no lock is held across it:
 * home_start is called under the data's coh_lock (it only enqueues),
 * home_wait without any lock (several threads may wait on one token at
 * once), home_release under the coh_lock once every waiter returned.
 */
typedef struct flo__device_xfer_ops {
    /* Page-lock [ptr, ptr + bytes) for every GPU; returns FLO__PIN_REG,
     * FLO__PIN_EXT (someone else already did) or FLO__PIN_FAILED. Any
     * thread, no lock. */
    int (*host_pin)(flo__device *dev, void *ptr, size_t bytes);
    /* Optional: host_pin for n buffers in one pass (how[i] gets each
     * result), for flo_data_register_many. NULL: host_pin n times. */
    void (*host_pin_many)(flo__device *dev, size_t n, void *const *ptrs,
                          const size_t *bytes, uint8_t *how);
    /* Undo a FLO__PIN_REG; no copy may still use the memory. */
    void (*host_unpin)(flo__device *dev, void *ptr);
    /* Page-locked host memory (NULL on failure), and its release. */
    void *(*host_alloc)(flo__device *dev, size_t bytes);
    void (*host_free)(flo__device *dev, void *ptr);
    /* Start copying d's replica on dev into host memory dst (d->bytes);
     * dst_locked: dst is page-locked. Caller holds d->coh_lock and keeps
     * the source replica alive (users) until the copy is waited for. */
    flo_status (*home_start)(flo__device *dev, flo__data *d, void *dst,
                             bool dst_locked, void **token);
    /* Wait for a started copy; its status. No lock held. */
    flo_status (*home_wait)(flo__device *dev, void *token);
    /* Free a token (caller holds the data's coh_lock; no waiter left). */
    void (*home_release)(flo__device *dev, void *token);
    /* Optional, with pull_sync (flo_data_register_device refuses a GPU
     * whose backend lacks them): FLO_OK if [ptr, ptr + bytes) is memory
     * the device's kernels may use as a replica (allocated on its GPU, or
     * managed), FLO_EINVAL (logged) if not, FLO_EDEVICE if the device
     * failed. Any thread, no lock. */
    flo_status (*user_mem_check)(flo__device *dev, const void *ptr,
                                 size_t bytes);
    /* Optional: copy d's replica on node src (0: the host copy) into
     * d's replica on dev, synchronously (unregister's write-back into
     * the program's device memory, d->user_node). Any thread, no lock
     * held: the caller keeps the source from eviction (users) and no
     * task uses d. */
    flo_status (*pull_sync)(flo__device *dev, flo__data *d, int src);
} flo__device_xfer_ops;

/*
 * A device backend. An op a backend does not support is a stub returning
 * FLO_ENOTSUP (never NULL), except the optional ones marked so.
 */
typedef struct flo__device_ops {
    const char *name;
    /* Start/stop per-worker state; run on the worker's own thread. */
    flo_status (*worker_start)(flo__worker *w);
    void (*worker_stop)(flo__worker *w);
    /* Run a ready task: make its buffers valid on w's node, call its entry
     * point. Returns FLO_OK when the task has finished (host), another
     * status if it failed, or FLO_INPROGRESS when it completes later
     * through progress (GPU). The caller completes the task otherwise. */
    flo_status (*execute)(flo__worker *w, flo__task *t);
    /* Optional: complete finished asynchronous tasks; returns how many. */
    int (*progress)(flo__worker *w);
    /* Optional: number of tasks in flight on w (0 for synchronous). */
    int (*inflight)(flo__worker *w);
    /* Optional: true if w may take another task now. */
    bool (*can_accept)(flo__worker *w);
    /* Optional: wait for progress (w has tasks in flight), at most
     * timeout_ns; may return early. */
    void (*wait_progress)(flo__worker *w, uint64_t timeout_ns);
    /* Copy bytes of the replica at src_node into host memory dst,
     * synchronously (used by host tasks, acquire, unregister). Called on
     * the device that holds the valid replica. */
    flo_status (*copy_to_host)(flo__device *dev, void *dst, const void *src,
                               size_t bytes);
    /* Free a replica's memory (unregister, finalize, eviction). The
     * program's own memory (the replica of the data's user_node) is not
     * freed: only what the backend keeps with it (a ready event). */
    void (*replica_free)(flo__device *dev, flo__replica *r, size_t bytes);
    /* Stop and free the device (after its workers stopped). */
    void (*fini)(flo__device *dev);
    /* Optional (resilience, scheduler/resilience.c): keep a copy of the
     * bytes at ptr, a buffer of a running task on this device, in stream
     * order on stream (NULL on failure: the retry is then not possible
     * and the task fails); write it back over ptr; free it. Run on w's
     * thread during the task's entry point call. The host backend's use
     * host memory, the CUDA backend's device memory. */
    void *(*save)(flo__worker *w, const void *ptr, size_t bytes, void *stream);
    void (*restore)(flo__worker *w, void *saved, void *ptr, size_t bytes,
                    void *stream);
    void (*discard)(flo__worker *w, void *saved, void *stream);
    /* Optional: w's device was lost. Give up every task in flight on w
     * without completing it: wait for or abandon their work, release
     * what they hold, and hand each to give(w, t) in launch order.
     * Returns how many. */
    int (*abandon)(flo__worker *w, void (*give)(flo__worker *w, flo__task *t));
    /* Optional: the entry point of a graph launch task, whose arguments
     * are a flo__gplan pointer: runs the recorded entry points as one
     * task. */
    flo_task_fn graph_entry;
    /* Optional: the entry point of a copy task on this device. Its
     * arguments are an int n; its buffers are n sources followed by n
     * destinations of the same sizes, all on the task's device; it copies
     * each source into its destination (a GPU backend enqueues the copies
     * on the task's stream). Used by replicated tasks
     * (scheduler/replicate.c) to start a copy's private versions where
     * the copy runs. */
    flo_task_fn copy_entry;
} flo__device_ops;

/* The arguments of a copy_entry task. */
typedef struct flo__copy_args {
    int n; /* Pairs of buffers (sources, then destinations). */
} flo__copy_args;

struct flo__device {
    int index; /* Device index = memory node. */
    flo_device_kind kind;
    const flo__device_ops *ops;
    flo_device_info info;
    int first_worker, nworkers;
    double h2d_bw, d2h_bw; /* Bytes per ns, measured or nominal. */
    void *priv;            /* Backend state (also per worker: a GPU
                              device has exactly one worker). */
    flo__platform *plat;
    /* Optional transfer services, or NULL (set at probe, then fixed). */
    const flo__device_xfer_ops *xfer;
    /* A GPU device: the core its worker is bound to, claimed by its
     * backend at probe (-1: unbound). flo_init creates the worker. */
    int worker_core;
    /* 1 once the device failed or was disabled (flo__device_lost): its
     * worker runs nothing more, its replicas are invalid. */
    atomic_int lost;
};

/* ---- Recorded task graphs ------------------------------------------------
 *
 * A task graph (include/flotilla/graph.h) is recorded by the scheduler
 * (scheduler/graph.c); a graph the scheduler can launch as one task runs
 * through its device's graph_entry, whose arguments point at the graph's
 * plan. The plan is fixed once recording ends, but for dev[] (touched
 * only by that node's worker, and at destroy once no launch is in
 * flight) and the counters. */

/* One recorded submission. */
typedef struct flo__gtask {
    flo_kernel k;     /* Copy: entry points and interned name. */
    const char *name; /* Interned (desc->name or the kernel's). */
    int naccess;
    flo_access_desc *acc; /* The accesses as given. */
    int *uidx;            /* Index of each access's handle in the union. */
    void *args;
    size_t args_size;
    int priority, device, worker;
    int npred, nsucc;
    int *pred; /* Earlier tasks it depends on (data). */
} flo__gtask;

/* What a backend's graph_entry reads of a recorded graph. */
typedef struct flo__gplan {
    const char *name; /* Interned. */
    int ntasks;
    flo__gtask *tasks;
    /* Handles the tasks access, in all: the launch task's buffers. */
    int nu;
    /* Backend state per device node (CUDA graph, streams, events), freed
     * with dev_free. */
    void *dev[FLO__MAX_NODES];
    void (*dev_free)(void *state);
    /* Launches captured anew, replayed, and run entry point by entry
     * point (flo_graph_get_info). */
    atomic_ullong captures, replays, plain;
} flo__gplan;

/* ---- The platform (device/platform.c) ----------------------------------- */

/*
 * A device backend as the platform sees it. The backends built into the
 * library are listed in one place, device/platform.c; the host backend
 * is always there.
 */
typedef struct flo__backend {
    const char *name;
    flo_device_kind kind;
    /* Find this backend's devices and append them to plat
     * (flo__platform_add), setting worker_core for each GPU; *ndevices
     * gets their number. FLO_ENODEV if there is none, another error if
     * probing failed (devices appended so far stay, for teardown). */
    flo_status (*probe)(flo__platform *plat, int *ndevices);
} flo__backend;

extern const flo__backend flo__host_backend;
/* The CUDA backend (device/cuda); absent from builds without CUDA. */
extern const flo__backend flo__cuda_backend;

/* Append dev to plat->devices (dev->index = its memory node) and point
 * it at plat. FLO_ERANGE when every memory node is taken. */
flo_status flo__platform_add(flo__platform *plat, flo__device *dev);
/*
 * Probe the devices plat->cfg->devices asks for: the host (memory node
 * 0), then, unless FLO_DEVICES_HOST, every GPU backend built in.
 * FLO_ENOTSUP (logged) when FLO_DEVICES_CUDA asks for a backend this
 * build lacks, FLO_ENODEV (logged) when it finds no GPU, else the
 * first probe error; GPUs found missing otherwise are not an error.
 */
flo_status flo__platform_probe(flo__platform *plat);
/* Each device's fini, last device first (its workers have stopped). */
void flo__platform_fini(flo__platform *plat);
/* Free the device records (after flo__platform_fini). */
void flo__platform_free(flo__platform *plat);
/* Whether this build has a backend for devices of kind (the host's
 * always). */
bool flo__platform_has_backend(flo_device_kind kind);

/*
 * A data handle as the device layer sees it: its size, the program's
 * memory and the coherence state of its replicas. It is part of the
 * scheduler's record of the handle (flo__dslot, scheduler/sched.h), which
 * adds the handle's identity and dependency state; a backend reaches it
 * through flo__task_access_data. The first five fields are set at
 * register and immutable until unregister.
 */
struct flo__data {
    uint32_t slot; /* The handle's slot (names it in logs). */
    size_t bytes;
    void *user_ptr; /* Registered host memory, or NULL. */
    bool owned;     /* Runtime-allocated host memory. */
    /* The memory node whose replica is the program's device memory
     * (flo_data_register_device), or 0: none. That replica's memory is
     * never freed nor evicted by the runtime (it is on no backend's LRU
     * list); unregister writes the latest contents back into it. The
     * host copy of such a handle is the runtime's (owned). */
    int user_node;

    /* Coherence state, under coh_lock (never taken while the scheduler
     * holds a handle's dependency lock). */
    FLO__ALIGNED pthread_mutex_t coh_lock;
    bool ever_written; /* False: contents are zeros / user's. */
    /* FLO__PIN_*: how rep[0].ptr is page-locked. Set at register (before
     * the handle is returned) or, for runtime-owned memory, under
     * coh_lock when the host copy is allocated; reset at retire. */
    uint8_t host_pin;
    /*
     * A copy home in flight (host replica being filled from home_src),
     * under coh_lock. While home_tok is set, rep[0] stays INVALID and
     * rep[home_src].users holds the source; every thread that needs the
     * host copy counts itself in home_waiters and waits on the same
     * token without the lock. The first to return publishes (home_done,
     * home_st, states); the last to leave releases the token. A GPU
     * worker also starts one of its own, without a waiter, for the
     * write-through of a version at rest (FLO_WRITE_THROUGH_REST): it
     * settles it once the copy is done (flo__coh_home_settle) unless a
     * waiter did; meanwhile a writer of the source replica orders its
     * work after the copy and a writer of the host memory waits for it.
     */
    void *home_tok;
    int home_src;
    uint64_t home_ver; /* The version the copy in flight brings home. */
    int home_waiters;
    bool home_done;
    flo_status home_st;
    /*
     * Versions, for recovery from a lost device (scheduler/resilience.c),
     * under coh_lock: ver counts the writes launched on the handle (a
     * GPU writer at its launch, a host writer when it takes the host
     * copy); host_ver is the version the host memory holds (the current
     * one while rep[0] is valid, else the one it held when it was last
     * invalidated: nothing writes host memory while it is invalid but a
     * copy that makes it valid). lost: the only valid copy was on a
     * device that failed (lost_node) and no recovery applied; a task
     * that reads the handle then fails with FLO_EDATALOSS, one that only
     * writes it clears the flag.
     */
    uint64_t ver, host_ver;
    /* A copy into the host memory failed: it holds no version at all
     * (not host_ver) until it is written or made valid again. */
    bool host_torn;
    uint8_t lost;
    int16_t lost_node;
    /* Lineage (scheduler/lineage.c), under coh_lock: the writers
     * remembered for recomputing lost versions (scheduler's, opaque here),
     * and the join of a replay in progress on d (NULL: none): tasks that
     * access d wait for it (replay_rd: only those that write d). replay
     * is written under coh_lock before the replicas' states it guards,
     * so that a reader of a valid state (acquire) sees it. */
    void *lin;
    _Atomic(flo__task *) replay;
    bool replay_rd;
    /* An evacuation's scratch: roll back to version roll (roll_node: the
     * lost node + 1, 0: none). */
    int16_t roll_node;
    bool roll_unsure;
    uint64_t roll;
    flo__replica rep[FLO__MAX_NODES];
};

/* d is about to be written on node (caller holds coh_lock): a new
 * version. */
static inline void flo__coh_new_version(flo__data *d, int node)
{
    d->ver++;
    d->lost = 0;
    if (node == 0) {
        d->host_ver = d->ver;
        d->host_torn = false;
    }
}

/* The host copy of d just became valid (caller holds coh_lock). */
static inline void flo__coh_host_valid(flo__data *d)
{
    d->host_ver = d->ver;
    d->host_torn = false;
}

/* The host memory now holds d's current version, copied from node src
 * (caller holds d->coh_lock): both are valid copies. */
static inline void flo__coh_host_copied(flo__data *d, int src)
{
    if (atomic_load(&d->rep[src].state) == FLO__REP_OWNER)
        atomic_store(&d->rep[src].state, FLO__REP_SHARED);
    flo__coh_host_valid(d);
    atomic_store_explicit(&d->rep[0].state, FLO__REP_SHARED,
                          memory_order_release);
}

/* Make d's host replica valid for mode; returns its address. Called by
 * host workers (t: the task), acquire and unregister (t NULL); may call a
 * device's copy_to_host. While d is being recomputed (d->replay) a task
 * gets FLO__EHOLD, the program's thread waits. */
flo_status flo__coh_host_prepare(flo__platform *plat, flo__data *d,
                                 flo_access mode, void **ptr, flo__task *t);
/* After a task on node wrote d: node becomes owner, others invalid.
 * Caller holds d->coh_lock. */
void flo__coh_mark_written(flo__data *d, int node);
/* A copy home of d from node src is in flight (its token tok, from
 * home_start): d holds it (coh_lock held, none in flight before). A GPU
 * starts one on its own for write-through at rest, with no waiter. */
void flo__coh_home_begin(flo__data *d, int src, void *tok);
/* A GPU's own copy home tok of d (write-through at rest) finished with
 * st: publish it and release d's hold on it, unless a waiter has (or
 * will: it is still waiting). No lock held. */
void flo__coh_home_settle(flo__platform *plat, flo__data *d, void *tok,
                          flo_status st);
/* Free every non-host replica (unregister, finalize); unpin or free
 * the host memory the runtime pinned or allocated. */
void flo__coh_free_replicas(flo__platform *plat, flo__data *d);
/* The device offering transfer services (the first GPU), or NULL. */
flo__device *flo__coh_xfer_dev(const flo__platform *plat);
/* Bring the latest contents of d back into the program's memory, if it
 * has any: the registered host memory (user_ptr), or the replica on
 * user_node (from another GPU's replica or the host copy, through that
 * device's pull_sync). Unregister and finalize, once no task uses d; no
 * lock held. FLO_OK when d has no memory of the program's or it is
 * already up to date; else the copy's error (logged). */
flo_status flo__coh_user_sync(flo__platform *plat, flo__data *d);
/* Give d's host replica its memory if it has none (rep[0].ptr): the
 * registered memory, else a runtime-owned allocation (page-locked when
 * the runtime pins host memory; sets host_pin). Caller holds
 * d->coh_lock. FLO_ENOMEM. */
flo_status flo__coh_host_mem(flo__platform *plat, flo__data *d);

/* ---- What a backend may ask of the scheduler ---------------------------
 *
 * Declared here, implemented by the scheduler (scheduler/task_ctx.c,
 * deps.c, complete.c, worker.c): the header dependency points down, and
 * a backend needs nothing else of the layer above. */

/* ---- ... of its worker -------------------------------------------------- */

/* The device w runs tasks for. */
flo__device *flo__worker_device(const flo__worker *w);
/* w's trace buffer (a backend records its events there, on w's thread). */
flo__trace_buf *flo__worker_trace(flo__worker *w);
/* Add ns to w's busy time (statistics), on w's thread. */
void flo__worker_add_busy(flo__worker *w, uint64_t ns);
/* The device of the calling thread's worker in rt, or NULL if the calling
 * thread is not a worker of rt. */
flo__device *flo__self_device(const flo_runtime *rt);

/* ---- ... of a task ------------------------------------------------------ */

int flo__task_naccess(const flo__task *t);
flo__data *flo__task_access_data(const flo__task *t, int i);
/* The union of the modes of every entry naming the same handle as i. */
flo_access flo__task_access_mode(const flo__task *t, int i);
/* Index of the first entry naming the same handle as entry i (i itself
 * when it is the first): a backend prepares each handle once, there. */
int flo__task_access_lead(const flo__task *t, int i);
/* Set the pointer flo_task_buffer(ctx, i) returns. */
void flo__task_set_buffer(flo__task *t, int i, void *ptr);
const char *flo__task_name(const flo__task *t);
/* The priority the task was submitted with (higher runs first). */
int flo__task_priority(const flo__task *t);
flo_task_fn flo__task_host_fn(const flo__task *t);
flo_task_fn flo__task_cuda_fn(const flo__task *t);
/* Run an entry point with a context (stream may be NULL). Returns the
 * status the entry point reported through flo_task_fail, else FLO_OK. */
flo_status flo__task_invoke(flo__worker *w, flo__task *t, flo_task_fn fn,
                            void *stream);
/* Run fn as a recorded graph task inside the launch task of parent's
 * context (scheduler/task_ctx.c); its buffers are parent's uidx[0..n). */
flo_status flo__task_invoke_inner(flo_task_ctx *parent, flo_task_fn fn, int n,
                                  const int *uidx, const void *args,
                                  size_t args_size, const char *name,
                                  void *stream);
/* Record the message of a failure of t with error st (< 0; a call with
 * st >= 0 records nothing). The first message wins; later ones go to the
 * debug log with their status. */
void flo__task_set_error(flo__task *t, flo_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The version of entry i's handle that t's write produces (set by a GPU
 * backend at launch, under the handle's coh_lock; 0: none). */
void flo__task_set_version(flo__task *t, int i, uint64_t ver);
/* The version of entry i's handle that t reads (same rules). */
void flo__task_set_rversion(flo__task *t, int i, uint64_t ver);
uint64_t flo__task_version(const flo__task *t, int i);
/* Whether a task submitted after t writes entry i's handle (so the
 * version t writes there will be overwritten): write-through of the
 * versions at rest skips those. */
bool flo__task_superseded(const flo__task *t, int i);
/* Backend slot for per-task state (e.g. the completion event). */
void **flo__task_dev_slot(flo__task *t);
/* Complete a task that execute left in flight (from progress). */
void flo__task_complete(flo__worker *w, flo__task *t, flo_status st);

/* ---- ... while lost data is recomputed (scheduler/lineage.c) ----------
 * A backend preparing t's access to d in mode, with d->coh_lock held and
 * d->replay set, asks flo__replay_holds; true: t must wait for the
 * replay, so the backend undoes what it prepared and execute returns
 * FLO__EHOLD (the scheduler requeues t behind the replay). A program's
 * thread (t NULL) waits instead, without the lock: flo__replay_wait. */
#define FLO__EHOLD ((flo_status)-1000)
bool flo__replay_holds(flo__task *t, flo__data *d, flo_access mode);
void flo__replay_wait(flo__data *d);

/* The backends' check (coh_lock held): one relaxed load unless a replay
 * is on. */
static inline bool flo__replay_waits(flo__task *t, flo__data *d,
                                     flo_access mode)
{
    return FLO__UNLIKELY(
               atomic_load_explicit(&d->replay, memory_order_relaxed)) &&
           flo__replay_holds(t, d, mode);
}

/*
 * Stream-ordered dependencies. A GPU backend calls flo__task_launched on
 * worker w's thread once t's work is enqueued (t's dev_slot names its
 * in-flight state): successors that can only run on w's device are
 * released at once, to run on w behind t in stream order, instead of
 * waiting until t's completion is observed. Such a successor lists t
 * among its early predecessors (flo__task_early): when it is launched
 * the backend orders its stream after every one of them still in
 * flight, and before completing it the backend completes them (their
 * work finished first). The core cancels it if one of them failed.
 */
void flo__task_launched(flo__worker *w, flo__task *t);
/* The early predecessors of t (at most FLO__EARLY_MAX); their count. */
int flo__task_early(const flo__task *t, flo__task *const **out);
/* Whether t has completed (flo__task_complete ran), or was handed back
 * for re-execution after its device was lost. */
bool flo__task_is_done(const flo__task *t);
/* Timestamps for the trace and the model (set by the backend for GPU
 * tasks once their completion is observed). */
void flo__task_set_times(flo__task *t, uint64_t t0, uint64_t t1);

/* ---- ... when a device fails -------------------------------------------- */

/* The device failed (a sticky error, an injected fault, or
 * flo_device_disable): mark it lost and wake its worker, which hands its
 * tasks to the surviving devices (scheduler/resilience.c). why is for
 * the log. Any thread; idempotent. */
void flo__device_lost(flo__device *dev, const char *why);
/* For a backend's abandon: t finished on the lost device and its
 * results are safe (its write-through copies completed): complete it
 * with st instead of handing it back. */
void flo__task_complete_kept(flo__worker *w, flo__task *t, flo_status st);
/* For a backend's abandon: t's write-through copies may have run in
 * part; the host memory of the buffers it writes cannot be trusted. */
void flo__task_mark_unsure(flo__task *t);

/* ---- ... to sleep (a backend's wait_progress) --------------------------- */

/*
 * Park the calling worker w (on its own thread) until another thread
 * wakes it or timeout_ns passes (0: no bound). The scheduler's sleeping
 * protocol: w is announced as sleeping, so that a thread that makes work
 * ready after this wakes it; then recheck(w, arg) looks for work once
 * more. If it found some (true), or the runtime is stopping, w does not
 * park: the announcement is taken back, and a wake-up that arrived
 * meanwhile is consumed (and passed on to another sleeper if work was
 * found, since w is about to be busy). parked_ns (may be NULL) gets the
 * time spent parked.
 * @return true if w parked (woken or timed out), false if it did not.
 */
bool flo__sched_park(flo__worker *w, uint64_t timeout_ns,
                     bool (*recheck)(flo__worker *w, void *arg), void *arg,
                     uint64_t *parked_ns);
/* Wake w if it is parked (any thread, e.g. a device callback); true if
 * this call woke it. */
bool flo__sched_wake(flo__worker *w);

#endif /* FLO_DEVICE_H */
