/*
 * Flotilla - internal helpers shared by every layer: atomics, time,
 * logging, spin locks, parking, tracing. Not installed.
 */
#ifndef FLO_RUNTIME_INTERNAL_H
#define FLO_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flotilla.h"

#define FLO__CACHELINE 64
#define FLO__ALIGNED _Alignas(FLO__CACHELINE)
#define FLO__UNUSED(x) ((void)(x))
#define FLO__LIKELY(x) __builtin_expect(!!(x), 1)
#define FLO__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FLO__MIN(a, b) ((a) < (b) ? (a) : (b))
#define FLO__MAX(a, b) ((a) > (b) ? (a) : (b))

/* Memory nodes: node 0 is host memory, node 1 + i is logical GPU i. */
#define FLO__MAX_NODES 33
#define FLO__MAX_WORKERS 1024

/* ---- Time ---------------------------------------------------------- */

static inline uint64_t flo__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void flo__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- Logging --------------------------------------------------------- */

enum {
    FLO__LOG_ERROR = 0,
    FLO__LOG_WARN = 1,
    FLO__LOG_INFO = 2,
    FLO__LOG_DEBUG = 3
};

/* Process-wide verbosity: the largest level asked for by any runtime.
 * It only filters messages, so sharing it cannot make runtimes collide. */
extern _Atomic int flo__log_level;

void flo__log(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define FLO__LOG(level, ...)                                                   \
    do {                                                                       \
        if ((level) <=                                                         \
            atomic_load_explicit(&flo__log_level, memory_order_relaxed))       \
            flo__log((level), __FILE__, __LINE__, __VA_ARGS__);                \
    } while (0)
#define FLO__ERR(...) FLO__LOG(FLO__LOG_ERROR, __VA_ARGS__)
#define FLO__WARN(...) FLO__LOG(FLO__LOG_WARN, __VA_ARGS__)
#define FLO__INFO(...) FLO__LOG(FLO__LOG_INFO, __VA_ARGS__)
#define FLO__DEBUG(...) FLO__LOG(FLO__LOG_DEBUG, __VA_ARGS__)

/* ---- Spin lock: for short critical sections (a data handle's
 * dependency state). Test-and-test-and-set with a pause. ----------------- */

typedef struct flo__spinlock {
    atomic_flag f;
} flo__spinlock;

#define FLO__SPINLOCK_INIT                                                     \
    {                                                                          \
        ATOMIC_FLAG_INIT                                                       \
    }

static inline void flo__spin_lock(flo__spinlock *l)
{
    while (atomic_flag_test_and_set_explicit(&l->f, memory_order_acquire))
        flo__cpu_relax();
}

static inline void flo__spin_unlock(flo__spinlock *l)
{
    atomic_flag_clear_explicit(&l->f, memory_order_release);
}

/* ---- Parker: one sleeping thread, woken by others. `want` is set by
 * the sleeper before its last check for work, read by wakers after they
 * publish work (both seq_cst), so a wake-up cannot be lost. ------------- */

typedef struct flo__parker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int sleeping; /* 1 while the owner is (about to be) asleep. */
    int signaled;        /* Under mu. */
} flo__parker;

int flo__parker_init(flo__parker *p);
void flo__parker_destroy(flo__parker *p);
/* Sleep until flo__parker_wake or timeout_ns (0: no timeout). The caller
 * sets p->sleeping = 1 and re-checks for work before calling this. */
void flo__parker_park(flo__parker *p, uint64_t timeout_ns);
/* Wake the owner if it sleeps; returns true if it did. */
bool flo__parker_wake(flo__parker *p);

/* ---- Tracing: per-row append-only buffers, merged at finalize. -------- */

typedef struct flo__trace_ev {
    const char *name; /* Static or owned by the trace (see intern). */
    const char *cat;  /* "task", "copy", "kernel", "coll", ... */
    uint64_t t0, t1;  /* ns, CLOCK_MONOTONIC. */
    int row;          /* Trace row (see flo__trace_row). */
    uint64_t arg;     /* bytes moved, task id... */
} flo__trace_ev;

typedef struct flo__trace_chunk {
    struct flo__trace_chunk *next;
    int n;
    flo__trace_ev ev[1024];
} flo__trace_chunk;

/* One per thread that records (each worker owns one): no locks. */
typedef struct flo__trace_buf {
    flo__trace_chunk *head, *cur;
} flo__trace_buf;

typedef struct flo__trace flo__trace;

int flo__trace_create(const char *path, uint64_t t_origin, flo__trace **out);
/* A named row ("worker 3 (host, core 5)", "gpu 1 stream 0"); returns its
 * id. Called at init, before recording starts; mutex-protected. */
int flo__trace_row(flo__trace *tr, const char *name);
/* Keep a copy of a dynamic name for the trace's lifetime (mutex; call at
 * most once per distinct name, e.g. cached by the caller). */
const char *flo__trace_intern(flo__trace *tr, const char *name);
void flo__trace_buf_add(flo__trace *tr, flo__trace_buf *b);
/* Append an event (amortised O(1); a chunk allocation every 1024). */
void flo__trace_record(flo__trace_buf *b, int row, const char *name,
                       const char *cat, uint64_t t0, uint64_t t1, uint64_t arg);
/* Write the JSON file and free everything. */
int flo__trace_write_and_destroy(flo__trace *tr);

/* ---- Interned names (names.c) -------------------------------------------
 *
 * One immutable copy per distinct string, shared by every thread and
 * runtime of the process. Task names (and the labels of device status
 * words) are interned so that the pointer can key tables (the locality
 * policy's history model, the CUDA backend's sampling counters) and
 * outlive the caller's buffer: a task description's name may be a stack
 * buffer.
 */

/*
 * The interned copy of the NUL-terminated string s: equal contents give
 * the same pointer, process-wide, and the copy stays valid until the
 * process exits (copies are never freed; memory grows with the number of
 * distinct names, not with the number of calls).
 *
 * Cost: a hash of s and, for a known name, one or two atomic loads and a
 * strcmp; no lock. Only the first call with a given content allocates.
 *
 * @return the interned copy; NULL if s is NULL or memory ran out (the
 *         caller then keeps its own pointer or a fallback).
 * Thread-safe (lock-free).
 */
const char *flo__name_intern(const char *s);

/* The 64-bit content hash flo__name_intern uses (FNV-1a). */
uint64_t flo__name_hash(const char *s);

/* ---- Small helpers ---------------------------------------------------- */

/*
 * calloc for types that need more alignment than malloc guarantees (16
 * bytes on x86-64): members marked FLO__ALIGNED, or anything that embeds
 * one (flo__deque, flo__inbox, flo__heap, flo__worker, ...). n * size
 * zeroed bytes aligned to align (a power of two, at least
 * sizeof(void *)); NULL on overflow or when memory is short. Free with
 * free(). Every heap allocation of such a type goes through it: a
 * plain calloc gives misaligned atomics (UBSan reports them).
 */
static inline void *flo__calloc_aligned(size_t n, size_t size, size_t align)
{
    void *p = NULL;
    if (size && n > SIZE_MAX / size)
        return NULL;
    size *= n;
    if (posix_memalign(&p, align, size ? size : 1))
        return NULL;
    return memset(p, 0, size);
}

/* Parse an environment integer; returns false if unset or malformed
 * (malformed values are logged and ignored). */
bool flo__env_int(const char *name, long *out);
bool flo__env_size(const char *name, size_t *out); /* 4G, 512M, 1024K */
const char *flo__env_str(const char *name);

/* ---- Configuration (config.c) ------------------------------------------ */

/* Resolve a configuration: in (NULL: defaults), then the FLO_* environment
 * unless in->ignore_env; out gets the result. FLO_EINVAL for a malformed
 * field. */
flo_status flo__config_resolve(const flo_config *in, flo_config *out);

#endif
