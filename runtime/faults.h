/*
 * Flotilla - fault injection (runtime/faults.c): the FLO_FAULTS rule
 * language (docs/resilience.md) parsed into a rule set, and the
 * decisions the scheduler, the device backends and the collectives ask
 * of it. A runtime without rules has a NULL set (rt->faults) and asks
 * nothing: the cost when off is one predictable branch.
 *
 * Decisions are deterministic given the seed and the order of the
 * events they count: a task rule counts the submissions of its kernel
 * (in submission order, so one submitting thread makes the same task
 * fail every run), a device rule counts the tasks its device starts, a
 * collective rule counts the collectives a rank calls.
 */
#ifndef FLO_RUNTIME_FAULTS_H
#define FLO_RUNTIME_FAULTS_H

#include "runtime/internal.h"

typedef struct flo__faults flo__faults;

/* What a task rule does to the task it picks. */
enum {
    FLO__FAULT_NONE = 0,
    FLO__FAULT_FAIL = 1,      /* The attempt fails with FLO_ETASK. */
    FLO__FAULT_TRANSIENT = 2, /* The attempt fails with FLO_EAGAIN. */
    FLO__FAULT_DEVICE = 3     /* Its device fails as it starts it. */
};

/* What a collective rule does to the collective it picks. */
enum {
    FLO__CFAULT_NONE = 0,
    FLO__CFAULT_STALL = 1, /* Sleep stall_ms before taking part. */
    FLO__CFAULT_ERROR = 2, /* Fail with FLO_ECOMM without taking part. */
    FLO__CFAULT_DROP = 3   /* The process exits at once (_exit 86): a
                              rank that died. */
};

/* A fault decided for one task at submission. */
typedef struct flo__task_fault {
    uint8_t kind;   /* FLO__FAULT_*. */
    uint16_t times; /* Attempts it affects (transient: the first n). */
} flo__task_fault;

/* Parse spec into a new rule set (*out; NULL for an empty spec).
 * FLO_EINVAL (the log names the bad rule) or FLO_ENOMEM; nothing is
 * allocated then. */
flo_status flo__faults_parse(const char *spec, flo__faults **out);
/* Free f and the sets chained behind it. */
void flo__faults_free(flo__faults *f);
/* The set chained behind f, or NULL. */
flo__faults *flo__faults_next(flo__faults *f);
/* Make the older rules apply after f's (flo_fault_inject). */
void flo__faults_chain(flo__faults *f, flo__faults *older);

/* The fault a task of kernel `name` gets, decided at its submission
 * (thread-safe: per-rule atomic counters). */
flo__task_fault flo__faults_task(flo__faults *f, const char *name);
/* Whether device dev fails as it starts a task: ntask is how many tasks
 * it started before this one, ms the time since flo_init. */
bool flo__faults_device(flo__faults *f, int dev, uint64_t ntask, uint64_t ms);
/* The fault of the seq-th collective (0-based, per communicator) that
 * rank calls; *stall_ms gets the stall of FLO__CFAULT_STALL. */
int flo__faults_coll(flo__faults *f, int rank, uint64_t seq,
                     uint32_t *stall_ms);

#endif /* FLO_RUNTIME_FAULTS_H */
