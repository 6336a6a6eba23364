/*
 * Flotilla - fault injection: the FLO_FAULTS rule language and the
 * decisions made from it (runtime/faults.h).
 *
 * A specification is a list of items separated by ';' (spaces are
 * ignored):
 *
 *   seed=N                       seed of the fractional rules (default 1)
 *   task:key=value,...           a fault for chosen tasks
 *       kernel=NAME              tasks of this kernel name (default: any)
 *       nth=N                    the N-th submitted (1-based) ...
 *       every=M                  ... and every M-th after it
 *       frac=F                   or: each task with probability F (0..1),
 *                                drawn from the seed and its number
 *       error=fail|transient|device
 *                                FLO_ETASK, FLO_EAGAIN (default), or its
 *                                device fails as it starts the task
 *       times=K                  transient: its first K attempts (1)
 *   device:key=value,...         a device that fails
 *       dev=D                    the device index (required, >= 1)
 *       at_task=N                as it starts its N-th task (1-based)
 *       after_ms=T               or at its first task T ms after flo_init
 *   coll:key=value,...           a fault for chosen collectives
 *       rank=R                   on this rank only (default: every rank)
 *       nth=N, every=M           the N-th collective of a communicator
 *       action=stall|error|drop  sleep ms=T first, fail with FLO_ECOMM,
 *                                or end the process (a rank that died)
 *       ms=T                     the stall (default 1000)
 *   rank:rank=R,at_coll=N        rank R dies at its N-th collective
 *
 * Counters are per rule and atomic: decisions are deterministic given the
 * order of what they count (docs/resilience.md).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#include "runtime/faults.h"

enum { RULE_TASK = 1, RULE_DEVICE = 2, RULE_COLL = 3 };

typedef struct rule {
    int what;
    char kernel[64]; /* Task rules: "" for any kernel. */
    uint64_t nth, every;
    double frac; /* < 0: not fractional. */
    int error;   /* FLO__FAULT_* or FLO__CFAULT_*. */
    uint32_t times, ms;
    int dev, rank; /* rank -1: any. */
    uint64_t at_task, after_ms;
    _Atomic uint64_t count; /* Events this rule has counted. */
    atomic_int fired;       /* Device rules fire once. */
} rule;

struct flo__faults {
    flo__faults *next; /* Rules added before these (flo_fault_inject). */
    uint64_t seed;
    int nrules;
    rule rules[];
};

/* SplitMix64: a well-mixed 64-bit hash of (seed, rule, n). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!*s || *s == '-')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Copy [s, e) without spaces into buf (at most n - 1 characters). */
static bool trimmed(const char *s, const char *e, char *buf, size_t n)
{
    size_t k = 0;
    for (; s < e; s++) {
        if (isspace((unsigned char)*s))
            continue;
        if (k + 1 >= n)
            return false;
        buf[k++] = *s;
    }
    buf[k] = 0;
    return true;
}

/* Apply one key=value of a rule; false if it is not valid there. */
static bool rule_key(rule *r, const char *key, const char *val)
{
    uint64_t v;
    if (!strcmp(key, "kernel") && r->what == RULE_TASK) {
        if (strlen(val) >= sizeof(r->kernel))
            return false;
        strcpy(r->kernel, val);
        return true;
    }
    if (!strcmp(key, "frac") && r->what == RULE_TASK) {
        char *end;
        double f = strtod(val, &end);
        if (end == val || *end || !(f >= 0 && f <= 1))
            return false;
        r->frac = f;
        return true;
    }
    if (!strcmp(key, "error") && r->what == RULE_TASK) {
        if (!strcmp(val, "fail"))
            r->error = FLO__FAULT_FAIL;
        else if (!strcmp(val, "transient"))
            r->error = FLO__FAULT_TRANSIENT;
        else if (!strcmp(val, "device"))
            r->error = FLO__FAULT_DEVICE;
        else
            return false;
        return true;
    }
    if (!strcmp(key, "action") && r->what == RULE_COLL) {
        if (!strcmp(val, "stall"))
            r->error = FLO__CFAULT_STALL;
        else if (!strcmp(val, "error"))
            r->error = FLO__CFAULT_ERROR;
        else if (!strcmp(val, "drop"))
            r->error = FLO__CFAULT_DROP;
        else
            return false;
        return true;
    }
    if (!parse_u64(val, &v))
        return false;
    if (!strcmp(key, "nth") && r->what != RULE_DEVICE && v >= 1)
        r->nth = v;
    else if (!strcmp(key, "every") && r->what != RULE_DEVICE && v >= 1)
        r->every = v;
    else if (!strcmp(key, "times") && r->what == RULE_TASK && v >= 1 &&
             v <= 65535)
        r->times = (uint32_t)v;
    else if (!strcmp(key, "dev") && r->what == RULE_DEVICE && v >= 1 &&
             v < FLO__MAX_NODES)
        r->dev = (int)v;
    else if (!strcmp(key, "at_task") && r->what == RULE_DEVICE && v >= 1)
        r->at_task = v;
    else if (!strcmp(key, "after_ms") && r->what == RULE_DEVICE)
        r->after_ms = v;
    else if (!strcmp(key, "rank") && r->what == RULE_COLL && v < INT32_MAX)
        r->rank = (int)v;
    else if (!strcmp(key, "ms") && r->what == RULE_COLL && v <= UINT32_MAX)
        r->ms = (uint32_t)v;
    else if (!strcmp(key, "at_coll") && r->what == RULE_COLL && v >= 1)
        r->nth = v;
    else
        return false;
    return true;
}

/* Parse one item (no ';'); *is_seed for "seed=N". */
static bool parse_item(char *item, rule *r, bool *is_seed, uint64_t *seed)
{
    char *colon = strchr(item, ':'), *kv;
    bool rank_form = false;

    *is_seed = false;
    if (!colon) {
        if (!strncmp(item, "seed=", 5) && parse_u64(item + 5, seed)) {
            *is_seed = true;
            return true;
        }
        return false;
    }
    *colon = 0;
    memset(r, 0, sizeof(*r));
    r->frac = -1;
    r->rank = -1;
    r->times = 1;
    r->ms = 1000;
    r->after_ms = UINT64_MAX;
    if (!strcmp(item, "task")) {
        r->what = RULE_TASK;
        r->error = FLO__FAULT_TRANSIENT;
    } else if (!strcmp(item, "device")) {
        r->what = RULE_DEVICE;
    } else if (!strcmp(item, "coll")) {
        r->what = RULE_COLL;
        r->error = FLO__CFAULT_ERROR;
    } else if (!strcmp(item, "rank")) {
        r->what = RULE_COLL;
        r->error = FLO__CFAULT_DROP;
        rank_form = true;
    } else {
        return false;
    }
    for (kv = colon + 1; kv && *kv;) {
        char *comma = strchr(kv, ','), *eq;
        if (comma)
            *comma = 0;
        eq = strchr(kv, '=');
        if (!eq)
            return false;
        *eq = 0;
        if (rank_form && strcmp(kv, "rank") && strcmp(kv, "at_coll"))
            return false;
        if (!rule_key(r, kv, eq + 1))
            return false;
        kv = comma ? comma + 1 : NULL;
    }
    switch (r->what) {
    case RULE_TASK:
        /* Exactly one way to pick tasks. */
        return (r->nth != 0) != (r->frac >= 0) && !(r->every && !r->nth);
    case RULE_DEVICE:
        return r->dev >= 1 &&
               ((r->at_task != 0) != (r->after_ms != UINT64_MAX));
    default: return r->nth != 0 && (!rank_form || r->rank >= 0);
    }
}

flo_status flo__faults_parse(const char *spec, flo__faults **out)
{
    size_t len, n = 1;
    char *buf, *item;
    flo__faults *f;
    uint64_t seed = 1;
    int k = 0;

    *out = NULL;
    if (!spec)
        return FLO_OK;
    len = strlen(spec);
    for (const char *p = spec; *p; p++)
        n += *p == ';';
    buf = malloc(len + 1);
    f = calloc(1, sizeof(*f) + n * sizeof(rule));
    if (!buf || !f) {
        free(buf);
        free(f);
        return FLO_ENOMEM;
    }
    item = (char *)spec;
    for (const char *s = spec;; s++) {
        if (*s == ';' || !*s) {
            bool is_seed;
            if (!trimmed(item, s, buf, len + 1))
                goto bad;
            if (buf[0]) {
                if (!parse_item(buf, &f->rules[k], &is_seed, &seed)) {
                    FLO__ERR("fault injection: cannot parse '%.*s' "
                             "(docs/resilience.md has the rules)",
                             (int)(s - item), item);
                    goto bad;
                }
                if (!is_seed)
                    k++;
            }
            if (!*s)
                break;
            item = (char *)s + 1;
        }
    }
    free(buf);
    if (k == 0) {
        free(f);
        return FLO_OK;
    }
    f->seed = seed;
    f->nrules = k;
    *out = f;
    return FLO_OK;
bad:
    free(buf);
    free(f);
    return FLO_EINVAL;
}

void flo__faults_free(flo__faults *f)
{
    while (f) {
        flo__faults *n = f->next;
        free(f);
        f = n;
    }
}

flo__faults *flo__faults_next(flo__faults *f)
{
    return f->next;
}

void flo__faults_chain(flo__faults *f, flo__faults *older)
{
    f->next = older;
}

/* Whether the n-th event (1-based) a rule with nth/every counts is one it
 * picks. */
static bool picks(const rule *r, uint64_t n)
{
    if (n < r->nth)
        return false;
    if (n == r->nth)
        return true;
    return r->every && (n - r->nth) % r->every == 0;
}

flo__task_fault flo__faults_task(flo__faults *f, const char *name)
{
    flo__task_fault tf = {FLO__FAULT_NONE, 0};
    for (; f; f = f->next)
        for (int i = 0; i < f->nrules; i++) {
            rule *r = &f->rules[i];
            uint64_t n;
            bool hit;
            if (r->what != RULE_TASK)
                continue;
            if (r->kernel[0] && (!name || strcmp(r->kernel, name)))
                continue;
            n = atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed) +
                1;
            if (r->frac >= 0) {
                uint64_t h =
                    mix(f->seed ^ mix((uint64_t)i * 0x100000001b3ull ^ n));
                hit = (double)(h >> 11) * 0x1.0p-53 < r->frac;
            } else {
                hit = picks(r, n);
            }
            if (hit && tf.kind == FLO__FAULT_NONE) {
                tf.kind = (uint8_t)r->error;
                tf.times = (uint16_t)r->times;
            }
        }
    return tf;
}

bool flo__faults_device(flo__faults *f, int dev, uint64_t ntask, uint64_t ms)
{
    for (; f; f = f->next)
        for (int i = 0; i < f->nrules; i++) {
            rule *r = &f->rules[i];
            int zero = 0;
            if (r->what != RULE_DEVICE || r->dev != dev)
                continue;
            if (r->at_task ? ntask + 1 < r->at_task : ms < r->after_ms)
                continue;
            if (atomic_compare_exchange_strong(&r->fired, &zero, 1))
                return true;
        }
    return false;
}

int flo__faults_coll(flo__faults *f, int rank, uint64_t seq, uint32_t *stall_ms)
{
    for (; f; f = f->next)
        for (int i = 0; i < f->nrules; i++) {
            rule *r = &f->rules[i];
            if (r->what != RULE_COLL || (r->rank >= 0 && r->rank != rank))
                continue;
            if (!picks(r, seq + 1))
                continue;
            if (stall_ms)
                *stall_ms = r->ms;
            return r->error;
        }
    return FLO__CFAULT_NONE;
}
