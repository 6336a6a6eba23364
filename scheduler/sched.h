/*
 * Flotilla - the scheduler's private header: tasks, edges, thread caches,
 * workers, policies, the failure table, acquires, worker-local keys, the
 * runtime object, and the scheduler functions the rest of the library
 * calls. Not installed.
 */
#ifndef FLO_SCHEDULER_SCHED_H
#define FLO_SCHEDULER_SCHED_H

#include "device/device.h"
#include "runtime/faults.h"
#include "runtime/internal.h"
#include "runtime/topology.h"

/* ---- Data handles ------------------------------------------------------ */

/*
 * A data handle's slot in the runtime's table (scheduler/data.c): the
 * handle's identity, the dependency state submissions record under
 * dep_lock, and the device layer's part of the handle (flo__data: size,
 * memory, replicas), which backends see. Slots are never freed before
 * finalize; the identity fields are set at register.
 */
typedef struct flo__dslot {
    flo_runtime *rt;
    _Atomic uint64_t gen;  /* Bumped at unregister (64 bits). */
    bool inited;           /* Locks initialised (slot first used). */
    atomic_int alive;      /* 1 until unregister begins. */
    atomic_int acquired;   /* Outstanding acquires. */
    struct flo__acq *acqs; /* Acquire records, under dep_lock. */

    /* Dependency state, under dep_lock: the last writer and the readers
     * submitted since it. Each holds a task reference. */
    /* Its own cache line: submitters take it while the worker running
     * the previous task touches the coherence state in data. */
    FLO__ALIGNED flo__spinlock dep_lock;
    flo__task *last_writer;
    struct flo__edge *readers;
    int nreaders, reader_compact_at;

    /* The device layer's part (its coherence state on cache lines of
     * its own). */
    flo__data data;
} flo__dslot;

/* ---- Edges: successor lists and reader lists ------------------------- */

typedef struct flo__edge {
    struct flo__edge *next;
    flo__task *task;
    /* An explicit (event) dependency: a failure cancels the successor
     * whatever the epoch; data dependencies cancel within an epoch. */
    bool hard;
    /* The successor was released when this task was launched on its GPU
     * (stream-ordered dependency): completion does not count it again.
     * Written and read by the predecessor's GPU worker only. */
    bool early;
} flo__edge;

/* Sentinel stored in a task's successor list once it has completed. */
#define FLO__EDGES_CLOSED ((flo__edge *)(uintptr_t)1)

/* ---- Tasks ------------------------------------------------------------ */

enum {
    FLO__TASK_FREE = 0,
    FLO__TASK_PENDING = 1, /* Waiting for predecessors. */
    FLO__TASK_READY = 2,   /* In a queue (or handed to an acquirer). */
    FLO__TASK_RUNNING = 3,
    FLO__TASK_DONE = 4
};

enum {
    FLO__TF_ACQUIRE = 1u << 0, /* Pseudo-task of flo_data_acquire. */
    FLO__TF_WAITED = 1u << 1,  /* Someone sleeps in flo_event_wait. */
    /* Enqueued on a GPU's streams, not finished: GPU-only successors on
     * the same worker may be released now (see flo__task_launched). */
    FLO__TF_LAUNCHED = 1u << 2,
    /* Handed back by the worker of a lost device, to run again elsewhere
     * (scheduler/resilience.c): not done, but no longer the backend's. */
    FLO__TF_EVAC = 1u << 3,
    /* Finished on a lost device with its results safe elsewhere
     * (write-through): completes, is not handed back. */
    FLO__TF_KEEP = 1u << 4,
    /* Handed back with write-through copies of unknown fate: the host
     * memory of what it writes cannot be trusted. */
    FLO__TF_UNSURE = 1u << 5,
    /* Part of a replicated task (a copy or the copy of its inputs,
     * scheduler/replicate.c): its failure cancels only the successors
     * bound to it by a hard edge, and is no failure of the program (not
     * in the failure table, never the first error): the vote task that
     * contains it reports it (flo__failure_cancels). */
    FLO__TF_CONTAINED = 1u << 6,
    /* Recomputes a version lost with a device (scheduler/lineage.c): never
     * held by a replay in progress. */
    FLO__TF_REPLAY = 1u << 7,
    /* A replay's join: no entry point, completes when its predecessors
     * (the replay's tasks) have; its completion ends the replay. */
    FLO__TF_JOIN = 1u << 8,
    /* A failed predecessor finishes it with that predecessor's status
     * (and message) instead of FLO_ECANCELED: the join of a collective's
     * per-GPU tasks (flo__task_submit_inherit). */
    FLO__TF_INHERIT = 1u << 9,
};

/* Predecessors a task may wait for in stream order (at most). */
#define FLO__EARLY_MAX 4

/* Which worker kinds can run a task. */
enum { FLO__ELIG_HOST = 1u << 0, FLO__ELIG_CUDA = 1u << 1 };

typedef struct flo__acc {
    flo__dslot *d;
    void *ptr;      /* Resolved on the executing node. */
    uint8_t mode;   /* flo_access of this entry as given by the user. */
    uint8_t merged; /* Union of the modes of all entries for d. */
    bool first;     /* First entry for d: carries the merged mode. */
    int32_t lead;   /* Index of the first entry for d (i if first). */
    /* The version of d this task's write produces, set when a GPU
     * launches it (0: not launched): recovery rolls d back to the
     * version before the first write it re-executes. */
    uint64_t ver;
    /* The version of d the task read (set with ver, on the lead entry;
     * lineage replay checks that its inputs are still there), and the
     * generation of the handle it named (a replay never names a handle
     * unregistered since). */
    uint64_t rver;
    uint64_t dgen;
} flo__acc;

/* One distinct handle of a submission, for its locked phase
 * (scheduler/submit.c): the handle's record, the generation the submitter
 * named, and the index of its first entry in the task's access list. */
typedef struct flo__lockent {
    flo__dslot *d;
    uint64_t gen;
    int idx;
} flo__lockent;

#define FLO__TASK_INLINE_ACC 4
#define FLO__TASK_INLINE_ARGS 64

struct flo__task {
    flo__task *next;           /* Free list and queue link. */
    atomic_int pending;        /* Predecessors left + 1 while submitting. */
    atomic_int refs;           /* Completion + data handles' references. */
    _Atomic(flo__edge *) succ; /* Successors, or FLO__EDGES_CLOSED. */
    _Atomic uint64_t gen;      /* Bumped when the record is freed. */
    uint32_t index;            /* Slot in rt->task_slabs. */
    atomic_int state;
    atomic_uint flags;
    /* 0, or the status the task finishes with instead of running:
     * FLO_ECANCELED (a predecessor failed) or the error that prevented
     * its dependencies from being recorded (FLO_ENOMEM). */
    atomic_int cancel;
    atomic_int status;       /* Final flo_status, valid once DONE. */
    uint32_t epoch;          /* rt->fail_epoch at submission. */
    atomic_int nearly;       /* Early predecessors (see early[]). */
    atomic_int early_worker; /* Their worker id, or -1. */

    int priority, device, worker;
    unsigned eligible; /* FLO__ELIG_* */
    flo_task_fn host_fn, cuda_fn;
    const char *name;
    int naccess;
    flo__acc *acc;
    void *args;
    size_t args_size;
    flo_task_callback cb;
    void *cb_arg;
    char *msg;               /* Failure message (malloc'd), or NULL. */
    uint64_t bytes;          /* Sum of buffer sizes (model key). */
    uint64_t t_start, t_end; /* For the trace and the model. */
    int ran_on;              /* Worker id. */
    double est_ns;           /* Placement estimate charged to a worker. */
    /* Resilience: attempts left after a FLO_EAGAIN; the fault injection
     * decided for it at submission (runtime/faults.h). */
    int retries;
    bool saving;     /* Submitted with a budget: RW buffers are saved. */
    uint8_t reexecs; /* Runs again after losing its device so far. */
    flo__task_fault fault;
    struct flo__task *evac_next; /* A lost worker's hand-back list. */
    /* The replay join a task waits for (a reference), set when its
     * buffers were being recomputed as it started (scheduler/lineage.c). */
    struct flo__task *hold;
    void *dev_slot; /* Backend's per-task state. */
    /* Buffers that outlive one use of the record (grown, never shrunk,
     * freed at finalize) so that large tasks do not malloc each time.
     * acc_ext holds acc_ext_cap accesses followed by acc_ext_cap
     * flo__lockent (the submission's scratch space for its locks). */
    flo__acc *acc_ext;
    int acc_ext_cap;
    void *args_ext;
    size_t args_ext_cap;
    flo__acc acc_inline[FLO__TASK_INLINE_ACC];
    _Alignas(16) unsigned char args_inline[FLO__TASK_INLINE_ARGS];
    /* Stream-ordered predecessors: tasks still in flight on the GPU
     * worker early_worker when this one was released; it is launched
     * behind them on that worker's streams instead of waiting for their
     * completion to be observed. Each holds a reference. Slots are
     * reserved with nearly (with the hot fields at the top; values
     * beyond FLO__EARLY_MAX: refused) and written before the pending
     * count they replace is dropped. */
    flo__task *early[FLO__EARLY_MAX];
    bool early_hard[FLO__EARLY_MAX];
};

#define FLO__TASK_SLAB 256
#define FLO__TASK_MAX_SLABS 65535 /* Index + 1 fits in 24 bits. */

/*
 * Handles (flo_data, flo_event) are two 64-bit words:
 *   id  = [runtime serial : 40][slot index + 1 : 24]
 *   gen = the slot's generation, 64 bits, bumped each time the slot is
 *         recycled.
 * A slot's generation only grows, so a stale handle can equal a live
 * one only after 2^64 recycles of one slot. Serials come from a
 * process-wide 64-bit counter truncated to 40 bits: a handle of a
 * finalized runtime can be mistaken for one of another runtime only
 * after 2^40 flo_init calls in one process. docs/architecture.md has the
 * argument and the figures.
 */
#define FLO__ID_INDEX_BITS 24
#define FLO__ID_INDEX_MASK ((UINT64_C(1) << FLO__ID_INDEX_BITS) - 1)
#define FLO__SERIAL_MASK ((UINT64_C(1) << 40) - 1)

static inline uint64_t flo__id_make(uint64_t serial, uint32_t index)
{
    return (serial << FLO__ID_INDEX_BITS) | (uint64_t)(index + 1);
}
static inline uint64_t flo__id_serial(uint64_t id)
{
    return id >> FLO__ID_INDEX_BITS;
}
/* Slot index, or UINT32_MAX for an id without one (0 in its low bits). */
static inline uint32_t flo__id_index(uint64_t id)
{
    return (uint32_t)(id & FLO__ID_INDEX_MASK) - 1;
}

/* Per-thread caches of task records and edges, one per (thread,
 * runtime). Only the owning thread touches the lists. */
typedef struct flo__tcache {
    flo__task *tasks;
    int ntasks;
    flo__edge *edges;
    int nedges;
    flo_runtime *rt;
    pthread_t owner;              /* Thread of a non-worker cache. */
    struct flo__tcache *next_all; /* rt->caches list (under rt->mu). */
    uint64_t done_local;          /* Completions not yet flushed. */
    /* Tasks submitted through this cache; written by its thread only,
     * summed by flo_stats_get. */
    _Atomic uint64_t submitted;
    /* Recent task names and their interned copies (flo__name_intern),
     * direct-mapped by the caller's pointer; a hit is confirmed with a
     * strcmp, since a buffer may be reused for another name. */
    struct {
        const char *ptr, *interned;
    } names[32];
    /* This thread's records of the task graph (scheduler/dag.c), made on
     * its first record while rt->dag is set; owned by rt->dag. */
    struct flo__dag_buf *dag;
} flo__tcache;

/* ---- Workers ---------------------------------------------------------- */

/* Per-worker counters: written by their worker only, read by others
 * (statistics), so both sides use relaxed atomic accesses. */
#define FLO__STAT_ADD(field, n)                                                \
    __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define FLO__STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

typedef struct flo__worker_stats {
    uint64_t tasks, steals, failed, canceled;
    uint64_t busy_ns, idle_ns;
} flo__worker_stats;

struct flo__worker {
    FLO__ALIGNED int id;
    int device; /* 0 host, >= 1 GPU (memory node). */
    flo_device_kind kind;
    int core; /* OS index of the PU it is bound to, or -1. */
    flo_runtime *rt;
    flo__device *dev;
    pthread_t thread;
    bool started;
    flo__tcache cache;
    flo__parker parker;
    void *sched_priv; /* The policy's per-worker state. */
    flo__trace_buf trace;
    int trace_row;
    atomic_int in_task; /* For EDEADLK detection from a task. */
    /* Worker-local values, by key slot (scheduler/worker_local.c).
     * Written and read by this worker's thread only: set by a key's init
     * task, cleared by its fini task. */
    void *wl[FLO_WORKER_LOCAL_MAX];
    /* Estimated time at which this worker's queue drains (ns since
     * epoch of flo__now_ns), kept by the locality policy. */
    _Atomic uint64_t ready_at;
    flo__worker_stats st;
    /* Resilience (scheduler/resilience.c): 1 once the worker's device
     * was lost; tasks started (device fault rules count them); tasks
     * handed back, to be placed elsewhere (this worker's thread only). */
    atomic_int dead;
    bool evacuated; /* Its first evacuation ran. */
    uint64_t nstarted;
    flo__task *evac;
};

/* ---- Scheduling policies ----------------------------------------------- */

typedef struct flo__sched_ops {
    const char *name;
    flo_status (*init)(flo_runtime *rt, void **priv);
    void (*fini)(flo_runtime *rt, void *priv);
    /* t is ready. self is the calling worker, or NULL for other threads.
     * Must wake a worker that can run t if one sleeps. */
    void (*push)(flo_runtime *rt, flo__worker *self, flo__task *t);
    /* Next task for w, or NULL. */
    flo__task *(*pop)(flo_runtime *rt, flo__worker *w);
    /* Optional: t finished on w (for estimates). */
    void (*done)(flo_runtime *rt, flo__worker *w, flo__task *t);
    /* A task queued for w alone (pinned to it, or in its own queues), or
     * NULL: the worker of a lost device hands them back. */
    flo__task *(*take_own)(flo_runtime *rt, flo__worker *w);
} flo__sched_ops;

extern const flo__sched_ops flo__sched_eager;
extern const flo__sched_ops flo__sched_ws;
extern const flo__sched_ops flo__sched_locality;

/* ---- Failures remembered for events whose records were recycled ------ */

/* One failed or canceled task: kept until finalize in an open-addressing
 * table keyed by the event (runtime.fails), so its event reports the
 * failure however many tasks fail or are canceled after it. */
typedef struct flo__failure {
    uint64_t id, gen; /* The event; id 0: empty slot. */
    uint64_t seq;     /* Order of recording (1, 2, ...). */
    flo_status status;
    bool reported; /* Returned by flo_event_wait/query. */
    char *msg;     /* NULL for cancellations (message rebuilt). */
} flo__failure;

/* An outstanding flo_data_acquire (list under the data's dep_lock). */
typedef struct flo__acq {
    struct flo__acq *next;
    flo__task *task;  /* Its pseudo-task. */
    pthread_t thread; /* The acquiring thread. */
    flo_access mode;
    /* The data's last writer right after the acquire was recorded: for a
     * read acquire, a later read acquire by the same thread that sees the
     * same last writer cannot wait for this one. */
    flo__task *writer;
} flo__acq;

/* ---- Worker-local keys (scheduler/worker_local.c) ---------------------- */

/* One slot of the runtime's key table. */
typedef struct flo__wl_key {
    /* (generation << 2) | FLO_WORKERS_* mask while the key is live, else
     * 0. Written under wl_mu; read without a lock by
     * flo_worker_local_get, which needs only this word. */
    _Atomic uint64_t live;
    /* The rest is under wl_mu. */
    uint64_t gen;   /* Generation of the slot's last key (62 bits). */
    int state;      /* FLO__WL_FREE, _BUSY, _LIVE or _RETIRED. */
    unsigned which; /* FLO_WORKERS_* of the key. */
    flo_worker_local_fini_fn fini;
    void *user;
} flo__wl_key;

/* ---- The runtime --------------------------------------------------------- */

struct flo_runtime {
    uint64_t serial; /* Tag in every handle (40 bits, never 0). */
    /* First generation of new task and data slots (0; tests start it
     * near old limits through FLO__TEST_GEN_BASE). */
    uint64_t gen_base;
    flo_config cfg;   /* Resolved (environment applied). */
    char *trace_path; /* Owned copy. */
    uint64_t t_origin;
    /* The task graph being recorded (FLO_DAG, scheduler/dag.c), or NULL:
     * the one branch each of its hooks costs when off. Set by flo_init
     * before the workers start, cleared once written at finalize. */
    struct flo__dag *dag;
    flo__topology topo;

    /* The devices and what the device layer sees of the runtime (its
     * cfg and topo point at the two above; device/device.h). */
    flo__platform plat;
    int nworkers, nhost_workers, ngpu_workers;
    flo__worker *workers[FLO__MAX_WORKERS];

    const flo__sched_ops *sched_ops;
    void *sched;

    /* Workers sleeping or about to: wakers read it after publishing. */
    FLO__ALIGNED atomic_int nsleeping;
    atomic_int stopping;

    /* Outstanding tasks: incremented at submit, decreased by workers in
     * batches (flo__tcache.done_local) - reaching zero means quiescent. */
    FLO__ALIGNED atomic_long outstanding;
    FLO__ALIGNED atomic_int all_waiters;

    /* Task records: slabs indexed by event ids; pool of batches. */
    flo__task *_Atomic *task_slabs;
    atomic_int ntask_slabs;
    pthread_mutex_t pool_mu; /* Guards the pools below. */
    flo__task *task_pool;    /* Free task records. */
    flo__edge *edge_pool;    /* Free edges. */
    void **edge_slabs;       /* All edge slabs, freed at finalize. */
    int nedge_slabs, edge_slabs_cap;

    /* Data handles: two-level table indexed by handle slot. */
    flo__dslot *_Atomic *data_chunks;
    pthread_mutex_t data_mu; /* Guards the free slot list. */
    uint32_t *data_free;
    int ndata_free, data_free_cap;
    uint32_t data_next;
    /* Slots the table may use, 0: all (tests lower it through
     * FLO__TEST_DATA_LIMIT). */
    uint32_t data_limit;
    /* FLO__TEST_WAIT_DUMP_S: a wait for quiescence longer than this
     * prints the runtime's state once (ns; 0: never). Debugging hangs. */
    uint64_t wait_dump_ns;

    /* Waiting: one mutex and condvar for every waiter of this runtime. */
    pthread_mutex_t wait_mu;
    pthread_cond_t wait_cv;

    /* Failure records (hash table, grown at half load, freed at
     * finalize) and the first error since the last flo_wait_all; under
     * fail_mu. */
    pthread_mutex_t fail_mu;
    flo__failure *fails;
    size_t fails_cap, nfails;
    uint64_t fail_seq; /* Last seq handed out. */
    uint64_t ack_seq;  /* fail_seq at the last flo_wait_all
                          that reported an error. */
    atomic_int have_first_error;
    /* Failures cancel the dependents submitted in the same epoch; a
     * flo_wait_all that reports errors starts a new epoch, so data that
     * saw a failure is usable again once the error was acknowledged. */
    atomic_uint fail_epoch;
    flo_status first_error;
    char *first_error_msg;
    char *last_reported_msg; /* Message of the last returned error. */

    pthread_mutex_t mu;       /* Guards caches and graphs. */
    flo__tcache *caches;      /* Caches of non-worker threads. */
    struct flo_graph *graphs; /* Live graphs (scheduler/graph.c). */

    atomic_ulong n_failed, n_canceled;
    atomic_ulong n_stream_ordered; /* Early releases (flo__task_launched). */

    /* Worker-local keys. wl_mu guards the table's slots (not the live
     * words' readers) and is never held while waiting for tasks. */
    pthread_mutex_t wl_mu;
    flo__wl_key wl_keys[FLO_WORKER_LOCAL_MAX];

    /* MPI (collectives/comm sets these in flo__coll_mpi_setup when
     * cfg.mpi_comm is given, with plat.node_rank/node_size; otherwise
     * rank 0 of 1). */
    int mpi_rank, mpi_size; /* In the user's communicator. */
    void *mpi;              /* Collectives' MPI state. */
    void (*mpi_fini)(flo_runtime *rt);

    /* Resilience (scheduler/resilience.c). faults: the fault-injection
     * rules (NULL: none; the newest set, older ones chained behind it);
     * sets replaced by flo_fault_clear wait in faults_old (under mu)
     * until finalize, since a thread may still read them. ndead: devices
     * lost. The counters are flo_stats'. */
    _Atomic(flo__faults *) faults;
    flo__faults *faults_old;
    atomic_int ndead;
    atomic_ulong n_retries, n_replaced, n_reexec, n_recomputed, n_data_lost;
    atomic_ulong n_faults;
    /* Writers remembered per handle for lineage replay (cfg.lineage; 0:
     * none). */
    int lineage;
    /* Time of the last device loss and of the end of its hand-back (ns,
     * flo__now_ns), for bench/resilience. */
    _Atomic uint64_t t_lost, t_recovered;
    char loss_msg[256]; /* Why the last device was lost (under mu). */

    /* Collectives state (collectives/comm), torn down first at finalize
     * (after all tasks completed, before workers stop). */
    void *coll;
    void (*coll_fini)(flo_runtime *rt);
};

/* ---- For the lifecycle (lifecycle/runtime.c), in call order ------------ */

/* The runtime's data table (flo_init); FLO_ENOMEM. */
flo_status flo__data_table_init(flo_runtime *rt);
/* Allocate a worker for dev (of dev's kind), bound (later, on its
 * thread) to core (-1: unbound), and append it to rt->workers. flo_init
 * makes every worker: one per GPU device, then the host's. */
flo_status flo__worker_create(flo_runtime *rt, flo__device *dev, int core,
                              flo__worker **out);
/* Start every worker's thread (their trace rows first); FLO_ESYS. */
flo_status flo__sched_start_workers(flo_runtime *rt);
/* flo_task_submit for a task that joins others (a collective's join,
 * collectives/comm/): an explicit predecessor that fails finishes it with
 * its own status and message, not FLO_ECANCELED, so that its event tells
 * why. Same arguments and errors as flo_task_submit. */
flo_status flo__task_submit_inherit(flo_runtime *rt, const flo_task_desc *desc,
                                    flo_event *out);
/* Wait until no task of rt is outstanding (flo_finalize). */
flo_status flo__wait_quiescent(flo_runtime *rt);
/* The status of the earliest failure (not a cancellation) since the last
 * flo_wait_all that reported errors which no call returned; FLO_OK if
 * none. For flo_finalize. */
flo_status flo__failures_unreported(flo_runtime *rt);
/* Run the fini of every live worker-local key on its workers (finalize,
 * while the workers still run). */
void flo__worker_local_fini_all(flo_runtime *rt);
/* Destroy every graph left (flo_finalize, no task in flight). */
void flo__graphs_fini(flo_runtime *rt);
/* Set stopping, wake every worker and join their threads. */
void flo__sched_stop_workers(flo_runtime *rt);
/* Release the handles still registered (forgotten acquires, write-back
 * of user memory, replicas) and free the data table. */
void flo__data_fini_all(flo_runtime *rt);
/* Free task and edge slabs, thread caches and the failure table. */
void flo__tasks_fini(flo_runtime *rt);

/* The task graph (FLO_DAG, scheduler/dag.c). Start recording it into the
 * Graphviz file at path (flo_init, before the workers start; the file is
 * opened once now, so that a path it cannot write fails flo_init rather
 * than losing the graph at finalize); rt->cfg.dag_path then points at the
 * runtime's own copy of path. FLO_EINVAL (logged) for a path that cannot
 * be opened for writing, FLO_ENOMEM. */
flo_status flo__dag_start(flo_runtime *rt, const char *path);
/* Write the graph recorded and free it (flo_finalize, once the workers
 * stopped: nothing records any more). FLO_ESYS (logged) if the file could
 * not be written, or memory to sort the graph ran out; FLO_OK when no
 * graph was recorded. */
flo_status flo__dag_finish(flo_runtime *rt);
/* Free the graph without writing it and remove the file flo__dag_start
 * made (flo_init failed). */
void flo__dag_discard(flo_runtime *rt);

/* ---- For the layers above, and the scheduler's own files --------------- */

/* The calling thread's worker in rt, or NULL. */
flo__worker *flo__self_worker(const flo_runtime *rt);
/* The slot a handle names, or NULL with *st FLO_EINVAL (not a handle),
 * FLO_EFOREIGN (another runtime's) or FLO_ESTALE (unregistered). */
flo__dslot *flo__data_lookup(const flo_runtime *rt, flo_data h, flo_status *st);

/* ---- Between the scheduler's files ------------------------------------- */

/* The calling thread's cache in rt (a worker's own, or one made on the
 * thread's first call for rt); NULL when memory is short. */
flo__tcache *flo__tcache_get(flo_runtime *rt);
/* Push a ready task through the policy (wakes a worker if needed). */
void flo__task_ready(flo_runtime *rt, flo__worker *self, flo__task *t);
/* FLO_ECANCELED if a finished early predecessor of t cancels it. */
flo_status flo__task_early_check(flo__task *t);
/* Wake one sleeping worker of a kind in elig (FLO__ELIG_*), after the
 * caller published work for it (the waker side of flo__sched_park).
 * Callers read the task's eligibility before publishing it: once
 * published, another worker may run and recycle it. */
void flo__sched_wake_for(flo_runtime *rt, unsigned elig);
/* Make w the calling thread's worker (NULL: none). */
void flo__set_self_worker(flo__worker *w);
/* Add w's completions not yet counted to rt->outstanding. */
void flo__worker_flush(flo__worker *w);
/*
 * Unregister a runtime-owned handle at once, without waiting and without
 * writing anything back: for handles the library made for itself and
 * gave to no one (a replicated task's private versions,
 * scheduler/replicate.c), once every task recorded on it has run; the
 * last of them may be completing (its callback is the caller). Allowed
 * on a worker, in a completion callback. A handle that is not current
 * is left alone.
 */
void flo__data_discard(flo_runtime *rt, flo_data h);

/*
 * The pseudo-task of an acquire (a != NULL: flo_data_acquire, checked
 * against handle generation gen and linked into d->acqs) or of an
 * unregister's final wait (a == NULL). Returns once its predecessors
 * finished; *out is the pseudo-task, to be completed by
 * flo__acquire_end. Fails, having changed nothing, with FLO_ESTALE when
 * d was unregistered and with FLO_EDEADLK when the calling thread holds
 * an acquire of d that this one would wait for (directly or through a
 * writer submitted since).
 */
flo_status flo__acquire_begin(flo_runtime *rt, flo__dslot *d, flo_access mode,
                              uint64_t gen, flo__acq *a, flo__task **out);
void flo__acquire_end(flo__task *t);
/* Drop a reference on t; the last one returns the record to c (NULL:
 * the runtime's pool). */
void flo__task_unref(flo_runtime *rt, flo__tcache *c, flo__task *t);
/* Return an edge to c (NULL: the runtime's pool). */
void flo__edge_free(flo_runtime *rt, flo__tcache *c, flo__edge *e);
/* Can worker w run task t? */
static inline bool flo__worker_can_run(const flo__worker *w, const flo__task *t)
{
    if (FLO__UNLIKELY(atomic_load_explicit(&w->dead, memory_order_relaxed)))
        return false;
    unsigned need =
        w->kind == FLO_DEVICE_HOST ? FLO__ELIG_HOST : FLO__ELIG_CUDA;
    if (!(t->eligible & need))
        return false;
    if (t->worker >= 0 && t->worker != w->id)
        return false;
    if (t->device >= 0 && t->device != w->device)
        return false;
    return true;
}

/* ---- Resilience (scheduler/resilience.c) ------------------------------ */

/* The faults the rules give t at its submission (rt->faults set). */
void flo__resil_submit(flo_runtime *rt, flo__task *t);
/* Before w runs t: apply t's injected fault or a device rule. Returns
 * true when t was dealt with (failed, retried, handed back): the caller
 * must not run it. */
bool flo__resil_before_run(flo__worker *w, flo__task *t);
/* t finished with st on w (NULL: not a worker). Returns true when t
 * runs again instead of completing (a retry after FLO_EAGAIN, or a hand
 * back from a lost device). */
bool flo__resil_again(flo__worker *w, flo__task *t, flo_status st);
/* A task about to be queued while devices are lost: move its placement
 * off them; fail it with FLO_ENODEV when no surviving worker can run
 * it. */
void flo__resil_replace(flo_runtime *rt, flo__task *t);
/* The worker of a lost device: hand its tasks back to the others. */
void flo__resil_evacuate(flo__worker *w);
/* Call fn on every registered handle (resilience). */
void flo__data_foreach(flo_runtime *rt, void (*fn)(flo__dslot *d, void *arg),
                       void *arg);
/* Free the fault rules (finalize). */
void flo__resil_fini(flo_runtime *rt);

/* ---- Lineage replay (scheduler/lineage.c) -------------------------------- */

/* A task completed with st: remember its GPU writes in their handles'
 * lineage; a replay task's failure loses what it recomputed. */
void flo__lineage_done(flo_runtime *rt, flo__worker *w, flo__task *t,
                       flo_status st);
/* Forget d's lineage (the handle goes: unregister, finalize). */
void flo__lineage_drop(flo_runtime *rt, flo__data *d);
/* An evacuation's plan: the handles its device held the only copy of,
 * recomputed where their lineage allows. */
typedef struct flo__replay flo__replay;
flo__replay *flo__lineage_begin(flo_runtime *rt, flo__worker *w);
/* d (coh_lock held) lost its only copy of version target: a candidate
 * for replay. False: lineage cannot help (off, no memory); the caller
 * marks d lost. */
bool flo__lineage_candidate(flo__replay *p, flo__data *d, uint64_t target,
                            bool host_unsure);
/* Plan, start the replay tasks, and mark what cannot be recomputed lost
 * (FLO_EDATALOSS). Frees p. */
void flo__lineage_end(flo__replay *p);
/* t was held by a replay (its prepare returned FLO__EHOLD): it waits for
 * the replay's join, then runs. */
void flo__lineage_hold(flo__worker *w, flo__task *t);
/* A join's predecessors finished: end the replay. */
void flo__lineage_join(flo_runtime *rt, flo__worker *w, flo__task *t);
/* Completion with the runtime given (join records have no access). */
void flo__task_complete_rt(flo_runtime *rt, flo__worker *w, flo__task *t,
                           flo_status st);

#endif /* FLO_SCHEDULER_SCHED_H */
