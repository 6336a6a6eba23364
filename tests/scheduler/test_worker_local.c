/*
 * scheduler_worker_local: worker-local keys (flo_worker_local_create,
 * _get, _destroy) and flo_execute_on_each_worker, on host workers.
 *
 * Callbacks and tasks only record (atomics, per-worker slots); the main
 * thread asserts after the call that waited for them.
 */
#include <pthread.h>

#include "testutil.h"

#define NW 4 /* Host workers of most runtimes here. */
#define MAXW 16

/* What the callbacks of one key record. */
typedef struct rec {
    atomic_int inits[MAXW], finis[MAXW];
    pthread_t init_thread[MAXW], fini_thread[MAXW];
    void *fini_value[MAXW];
    int vals[MAXW]; /* The value of worker w is &vals[w]. */
    int fail_on[2]; /* Workers whose init fails, or -1. */
    flo_status fail_code[2];
    atomic_int bad_ctx; /* A callback saw an unexpected context. */
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof(*r));
    r->fail_on[0] = r->fail_on[1] = -1;
}

static flo_status cb_init(flo_task_ctx *ctx, void *user, void **value)
{
    rec *r = user;
    int w = flo_task_worker(ctx);

    if (w < 0 || w >= MAXW || flo_task_device(ctx) != 0 ||
        flo_task_stream(ctx) != NULL || flo_task_runtime(ctx) == NULL) {
        atomic_fetch_add(&r->bad_ctx, 1);
        return FLO_EINTERNAL;
    }
    r->init_thread[w] = pthread_self();
    atomic_fetch_add(&r->inits[w], 1);
    for (int i = 0; i < 2; i++)
        if (r->fail_on[i] == w) {
            *value = &r->vals[w]; /* Ignored: init failed. */
            return r->fail_code[i];
        }
    *value = &r->vals[w];
    return FLO_OK;
}

static void cb_fini(flo_task_ctx *ctx, void *user, void *value)
{
    rec *r = user;
    int w = flo_task_worker(ctx);

    if (w < 0 || w >= MAXW) {
        atomic_fetch_add(&r->bad_ctx, 1);
        return;
    }
    r->fini_thread[w] = pthread_self();
    r->fini_value[w] = value;
    atomic_fetch_add(&r->finis[w], 1);
}

static flo_worker_local_desc desc_of(rec *r, unsigned which)
{
    flo_worker_local_desc d = FLO_WORKER_LOCAL_DESC_INIT;
    d.which = which;
    d.init = cb_init;
    d.fini = cb_fini;
    d.user = r;
    return d;
}

/* What flo_execute_on_each_worker's probe records per worker. */
typedef struct probe {
    atomic_int runs[MAXW];
    pthread_t thread[MAXW];
    void *got[MAXW];
    int edeadlk[3]; /* create, destroy, execute from inside a task. */
} probe;

typedef struct probe_arg {
    probe *p;
    flo_worker_local key;
    rec *r; /* For the calls made from inside the task, or NULL. */
} probe_arg;

static void probe_host(flo_task_ctx *ctx)
{
    size_t n = 0;
    const probe_arg *a = flo_task_args(ctx, &n);
    int w = flo_task_worker(ctx);

    if (n != sizeof(*a) || w < 0 || w >= MAXW)
        return;
    a->p->thread[w] = pthread_self();
    a->p->got[w] = flo_worker_local_get(ctx, a->key);
    atomic_fetch_add(&a->p->runs[w], 1);
}

static int run_probe(flo_runtime *rt, probe *p, flo_worker_local key)
{
    probe_arg a = {p, key, NULL};
    memset(p, 0, sizeof(*p));
    return flo_execute_on_each_worker(rt, probe_host, NULL, &a, sizeof(a),
                                      FLO_WORKERS_HOST);
}

/* Ordinary tasks (placed by the policy) check get on whichever worker
 * runs them. */
typedef struct any_arg {
    flo_worker_local key;
    rec *r;
    atomic_int *ok, *bad;
} any_arg;

static void any_task(flo_task_ctx *ctx)
{
    const any_arg *a = flo_task_args(ctx, NULL);
    int w = flo_task_worker(ctx);
    if (flo_worker_local_get(ctx, a->key) == &a->r->vals[w])
        atomic_fetch_add(a->ok, 1);
    else
        atomic_fetch_add(a->bad, 1);
}

static const flo_kernel k_any = {"wl_any", any_task, NULL};

static void check_once_each(const rec *r, int nw, bool fini_too)
{
    for (int w = 0; w < nw; w++) {
        assert_int_equal(atomic_load(&r->inits[w]), 1);
        assert_int_equal(atomic_load(&r->finis[w]), fini_too ? 1 : 0);
    }
    for (int w = nw; w < MAXW; w++) {
        assert_int_equal(atomic_load(&r->inits[w]), 0);
        assert_int_equal(atomic_load(&r->finis[w]), 0);
    }
    assert_int_equal(atomic_load(&r->bad_ctx), 0);
}

/* init once per worker on that worker's thread; get gives each worker its
 * own value in pinned and in ordinary tasks; destroy runs fini once per
 * worker, on its thread, with its value; afterwards the key is stale. */
static void test_lifecycle(void **state)
{
    (void)state;
    static const flo_sched_policy pols[] = {FLO_SCHED_EAGER, FLO_SCHED_WS,
                                            FLO_SCHED_LOCALITY};
    for (size_t pi = 0; pi < sizeof(pols) / sizeof(pols[0]); pi++) {
        flo_runtime *rt = flot_rt(pols[pi], NW);
        static rec r;
        static probe p;
        flo_worker_local key = FLO_WORKER_LOCAL_NULL;
        assert_non_null(rt);
        rec_init(&r);
        flo_worker_local_desc d = desc_of(&r, FLO_WORKERS_ALL);
        assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_OK);
        assert_int_not_equal(key.id, 0);
        check_once_each(&r, NW, false);

        assert_int_equal(run_probe(rt, &p, key), FLO_OK);
        for (int w = 0; w < NW; w++) {
            assert_int_equal(atomic_load(&p.runs[w]), 1);
            assert_true(pthread_equal(p.thread[w], r.init_thread[w]));
            assert_ptr_equal(p.got[w], &r.vals[w]);
        }
        /* Worker threads are distinct. */
        for (int w = 0; w < NW; w++)
            for (int v = w + 1; v < NW; v++)
                assert_false(pthread_equal(r.init_thread[w], r.init_thread[v]));

        atomic_int ok = 0, bad = 0;
        any_arg aa = {key, &r, &ok, &bad};
        long n = flot_scaled(400, 50);
        for (long i = 0; i < n; i++)
            assert_int_equal(
                flot_submit(rt, &k_any, NULL, 0, &aa, sizeof(aa), NULL),
                FLO_OK);
        assert_int_equal(flo_wait_all(rt), FLO_OK);
        assert_int_equal(atomic_load(&ok), n);
        assert_int_equal(atomic_load(&bad), 0);

        assert_int_equal(flo_worker_local_destroy(rt, key), FLO_OK);
        check_once_each(&r, NW, true);
        for (int w = 0; w < NW; w++) {
            assert_true(pthread_equal(r.fini_thread[w], r.init_thread[w]));
            assert_ptr_equal(r.fini_value[w], &r.vals[w]);
        }
        /* Stale now: destroy refuses, get gives NULL. */
        assert_int_equal(flo_worker_local_destroy(rt, key), FLO_ESTALE);
        assert_int_equal(run_probe(rt, &p, key), FLO_OK);
        for (int w = 0; w < NW; w++)
            assert_null(p.got[w]);
        assert_int_equal(flo_finalize(rt), FLO_OK);
        /* Finalize did not run fini again. */
        check_once_each(&r, NW, true);
    }
}

/* Keys not destroyed are released at finalize, on their workers. */
static void test_finalize_releases(void **state)
{
    (void)state;
    static rec r1, r2, r3;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, NW);
    flo_worker_local k1, k2, k3;
    assert_non_null(rt);
    rec_init(&r1);
    rec_init(&r2);
    rec_init(&r3);
    flo_worker_local_desc d1 = desc_of(&r1, FLO_WORKERS_ALL);
    flo_worker_local_desc d2 = desc_of(&r2, FLO_WORKERS_HOST);
    flo_worker_local_desc d3 = desc_of(&r3, FLO_WORKERS_ALL);
    assert_int_equal(flo_worker_local_create(rt, &d1, &k1), FLO_OK);
    assert_int_equal(flo_worker_local_create(rt, &d2, &k2), FLO_OK);
    assert_int_equal(flo_worker_local_create(rt, &d3, &k3), FLO_OK);
    assert_false(flo_worker_local_get(NULL, k1) != NULL);
    assert_int_equal(flo_worker_local_destroy(rt, k2), FLO_OK);
    check_once_each(&r2, NW, true);
    check_once_each(&r1, NW, false);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    check_once_each(&r1, NW, true);
    check_once_each(&r2, NW, true);
    check_once_each(&r3, NW, true);
    for (int w = 0; w < NW; w++) {
        assert_true(pthread_equal(r1.fini_thread[w], r1.init_thread[w]));
        assert_ptr_equal(r3.fini_value[w], &r3.vals[w]);
    }
}

/* An init that fails fails the creation cleanly: fini on exactly the
 * workers whose init succeeded, no key, *out untouched, no task error,
 * the slot reusable. The lowest failing worker's status is returned. */
static void test_init_failure(void **state)
{
    (void)state;
    static rec r;
    static probe p;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, NW);
    flo_worker_local key, sentinel = {0x1234, 0x5678};
    assert_non_null(rt);

    rec_init(&r);
    r.fail_on[0] = 2;
    r.fail_code[0] = FLO_ENOMEM;
    flo_worker_local_desc d = desc_of(&r, FLO_WORKERS_ALL);
    key = sentinel;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_ENOMEM);
    assert_memory_equal(&key, &sentinel, sizeof(key));
    for (int w = 0; w < NW; w++) {
        assert_int_equal(atomic_load(&r.inits[w]), 1);
        assert_int_equal(atomic_load(&r.finis[w]), w == 2 ? 0 : 1);
        if (w != 2)
            assert_ptr_equal(r.fini_value[w], &r.vals[w]);
    }
    /* Not a task failure. */
    assert_int_equal(flo_wait_all(rt), FLO_OK);

    /* Two failing workers: the lower one's status. A positive return
     * counts as FLO_ETASK. */
    rec_init(&r);
    r.fail_on[0] = 3;
    r.fail_code[0] = FLO_EDEVICE;
    r.fail_on[1] = 1;
    r.fail_code[1] = FLO_ERANGE;
    key = sentinel;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_ERANGE);
    assert_memory_equal(&key, &sentinel, sizeof(key));
    for (int w = 0; w < NW; w++)
        assert_int_equal(atomic_load(&r.finis[w]), (w == 1 || w == 3) ? 0 : 1);
    rec_init(&r);
    r.fail_on[0] = 0;
    r.fail_code[0] = FLO_INPROGRESS;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_ETASK);
    assert_memory_equal(&key, &sentinel, sizeof(key));

    /* Nothing is left over: every slot can still be used, and no worker
     * holds a value of the failed keys. */
    static rec full;
    static flo_worker_local keys[FLO_WORKER_LOCAL_MAX];
    rec_init(&full);
    flo_worker_local_desc df = desc_of(&full, FLO_WORKERS_HOST);
    for (int i = 0; i < FLO_WORKER_LOCAL_MAX; i++)
        assert_int_equal(flo_worker_local_create(rt, &df, &keys[i]), FLO_OK);
    assert_int_equal(run_probe(rt, &p, keys[0]), FLO_OK);
    for (int w = 0; w < NW; w++)
        assert_ptr_equal(p.got[w], &full.vals[w]);
    for (int i = 0; i < FLO_WORKER_LOCAL_MAX; i++)
        assert_int_equal(flo_worker_local_destroy(rt, keys[i]), FLO_OK);
    for (int w = 0; w < NW; w++) {
        assert_int_equal(atomic_load(&full.inits[w]), FLO_WORKER_LOCAL_MAX);
        assert_int_equal(atomic_load(&full.finis[w]), FLO_WORKER_LOCAL_MAX);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* FLO_WORKER_LOCAL_MAX keys at most; a freed slot is reused with a new
 * generation, and the old key of that slot stays stale. */
static void test_table_full(void **state)
{
    (void)state;
    static rec r;
    static probe p;
    static flo_worker_local keys[FLO_WORKER_LOCAL_MAX];
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    flo_worker_local extra = {7, 7};
    assert_non_null(rt);
    rec_init(&r);
    flo_worker_local_desc d = desc_of(&r, FLO_WORKERS_HOST);
    for (int i = 0; i < FLO_WORKER_LOCAL_MAX; i++)
        assert_int_equal(flo_worker_local_create(rt, &d, &keys[i]), FLO_OK);
    assert_int_equal(flo_worker_local_create(rt, &d, &extra), FLO_ERANGE);
    assert_int_equal(extra.id, 7);
    for (int w = 0; w < 2; w++)
        assert_int_equal(atomic_load(&r.inits[w]), FLO_WORKER_LOCAL_MAX);

    flo_worker_local old = keys[5];
    assert_int_equal(flo_worker_local_destroy(rt, old), FLO_OK);
    assert_int_equal(flo_worker_local_create(rt, &d, &keys[5]), FLO_OK);
    assert_int_equal(keys[5].id, old.id); /* The same slot... */
    assert_true(keys[5].gen != old.gen);  /* ...a new generation. */
    assert_int_equal(flo_worker_local_destroy(rt, old), FLO_ESTALE);
    assert_int_equal(run_probe(rt, &p, old), FLO_OK);
    for (int w = 0; w < 2; w++)
        assert_null(p.got[w]);
    assert_int_equal(run_probe(rt, &p, keys[5]), FLO_OK);
    for (int w = 0; w < 2; w++)
        assert_ptr_equal(p.got[w], &r.vals[w]);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    for (int w = 0; w < 2; w++)
        assert_int_equal(atomic_load(&r.finis[w]), FLO_WORKER_LOCAL_MAX + 1);
}

static void count_host(flo_task_ctx *ctx)
{
    probe *p = *(probe *const *)flo_task_args(ctx, NULL);
    atomic_fetch_add(&p->runs[flo_task_worker(ctx)], 1);
}

/* Bad arguments: an error, and nothing runs or changes. */
static void test_bad_input(void **state)
{
    (void)state;
    static rec r;
    static probe p;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, NW);
    flo_runtime *rt2 = flot_rt(FLO_SCHED_WS, 1);
    flo_worker_local key, sentinel = {0x1234, 0x5678};
    assert_non_null(rt);
    assert_non_null(rt2);
    rec_init(&r);

    flo_worker_local_desc d = desc_of(&r, FLO_WORKERS_ALL);
    key = sentinel;
    assert_int_equal(flo_worker_local_create(NULL, &d, &key), FLO_EINVAL);
    assert_int_equal(flo_worker_local_create(rt, NULL, &key), FLO_EINVAL);
    assert_int_equal(flo_worker_local_create(rt, &d, NULL), FLO_EINVAL);
    d.which = 0;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_EINVAL);
    d.which = 0x4;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_EINVAL);
    d.which = FLO_WORKERS_ALL | 0x8;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_EINVAL);
    d.which = FLO_WORKERS_ALL;
    d.init = NULL;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_EINVAL);
    d.init = cb_init;
    d.size = 3;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_EINVAL);
    assert_memory_equal(&key, &sentinel, sizeof(key));
    check_once_each(&r, 0, false);

    /* size 0 is the current layout. */
    d.size = 0;
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_OK);
    check_once_each(&r, NW, false);

    assert_int_equal(flo_worker_local_destroy(NULL, key), FLO_EINVAL);
    assert_int_equal(flo_worker_local_destroy(rt, FLO_WORKER_LOCAL_NULL),
                     FLO_EINVAL);
    flo_worker_local forged = key;
    forged.id = (key.id & ~UINT64_C(0xffffff)) | 1000; /* Slot 999. */
    assert_int_equal(flo_worker_local_destroy(rt, forged), FLO_EINVAL);
    forged = key;
    forged.gen++;
    assert_int_equal(flo_worker_local_destroy(rt, forged), FLO_ESTALE);
    assert_int_equal(flo_worker_local_destroy(rt2, key), FLO_EFOREIGN);
    check_once_each(&r, NW, false);
    /* get with those keys: NULL; with the real one: the value. */
    assert_int_equal(run_probe(rt, &p, forged), FLO_OK);
    for (int w = 0; w < NW; w++)
        assert_null(p.got[w]);
    assert_int_equal(run_probe(rt, &p, FLO_WORKER_LOCAL_NULL), FLO_OK);
    for (int w = 0; w < NW; w++)
        assert_null(p.got[w]);
    assert_int_equal(run_probe(rt2, &p, key), FLO_OK);
    assert_null(p.got[0]);
    assert_int_equal(run_probe(rt, &p, key), FLO_OK);
    for (int w = 0; w < NW; w++)
        assert_ptr_equal(p.got[w], &r.vals[w]);

    /* flo_execute_on_each_worker. */
    probe *pp = &p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(flo_execute_on_each_worker(NULL, count_host, NULL, &pp,
                                                sizeof(pp), FLO_WORKERS_HOST),
                     FLO_EINVAL);
    assert_int_equal(
        flo_execute_on_each_worker(rt, count_host, NULL, &pp, sizeof(pp), 0),
        FLO_EINVAL);
    assert_int_equal(flo_execute_on_each_worker(rt, count_host, count_host, &pp,
                                                sizeof(pp), 0x10),
                     FLO_EINVAL);
    assert_int_equal(flo_execute_on_each_worker(rt, NULL, count_host, &pp,
                                                sizeof(pp), FLO_WORKERS_HOST),
                     FLO_EINVAL);
    /* A CUDA function is required for GPU workers even without GPUs. */
    assert_int_equal(flo_execute_on_each_worker(rt, count_host, NULL, &pp,
                                                sizeof(pp), FLO_WORKERS_ALL),
                     FLO_EINVAL);
    assert_int_equal(flo_execute_on_each_worker(rt, count_host, NULL, NULL, 8,
                                                FLO_WORKERS_HOST),
                     FLO_EINVAL);
    assert_int_equal(flo_execute_on_each_worker(rt, count_host, NULL, &pp,
                                                FLO_TASK_MAX_ARGS + 1,
                                                FLO_WORKERS_HOST),
                     FLO_EINVAL);
    for (int w = 0; w < MAXW; w++)
        assert_int_equal(atomic_load(&p.runs[w]), 0);

    assert_int_equal(flo_finalize(rt2), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    check_once_each(&r, NW, true);
}

/* Runs on every host worker; failures are reported in worker order. */
typedef struct fail_arg {
    probe *p;
    int fail_a, fail_b;
} fail_arg;

static void failing_host(flo_task_ctx *ctx)
{
    const fail_arg *a = flo_task_args(ctx, NULL);
    int w = flo_task_worker(ctx);
    a->p->thread[w] = pthread_self();
    atomic_fetch_add(&a->p->runs[w], 1);
    if (w == a->fail_a)
        flo_task_fail(ctx, FLO_ERANGE, "worker %d refuses", w);
    if (w == a->fail_b)
        flo_task_fail(ctx, FLO_ENOMEM, "worker %d refuses too", w);
}

static void cuda_never(flo_task_ctx *ctx)
{
    (void)ctx;
    abort(); /* No GPU worker in these runtimes. */
}

static void test_execute(void **state)
{
    (void)state;
    static probe p;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, NW);
    assert_non_null(rt);

    memset(&p, 0, sizeof(p));
    fail_arg a = {&p, -1, -1};
    assert_int_equal(flo_execute_on_each_worker(rt, failing_host, cuda_never,
                                                &a, sizeof(a), FLO_WORKERS_ALL),
                     FLO_OK);
    for (int w = 0; w < NW; w++)
        assert_int_equal(atomic_load(&p.runs[w]), 1);
    for (int w = 0; w < NW; w++)
        for (int v = w + 1; v < NW; v++)
            assert_false(pthread_equal(p.thread[w], p.thread[v]));
    assert_int_equal(atomic_load(&p.runs[NW]), 0);

    /* GPU workers only, on a runtime without them: nothing to do. */
    memset(&p, 0, sizeof(p));
    assert_int_equal(flo_execute_on_each_worker(rt, NULL, cuda_never, &a,
                                                sizeof(a), FLO_WORKERS_CUDA),
                     FLO_OK);
    for (int w = 0; w < NW; w++)
        assert_int_equal(atomic_load(&p.runs[w]), 0);

    /* Failures: the first in worker order, and the others still ran. */
    memset(&p, 0, sizeof(p));
    a.fail_a = 3;
    a.fail_b = 1;
    assert_int_equal(flo_execute_on_each_worker(rt, failing_host, NULL, &a,
                                                sizeof(a), FLO_WORKERS_HOST),
                     FLO_ENOMEM);
    for (int w = 0; w < NW; w++)
        assert_int_equal(atomic_load(&p.runs[w]), 1);
    /* Ordinary task failures: flo_wait_all reports them too (the first
     * to be recorded, whichever worker finished first). */
    flo_status wst = flo_wait_all(rt);
    assert_true(wst == FLO_ENOMEM || wst == FLO_ERANGE);
    assert_int_equal(flo_wait_all(rt), FLO_OK);

    /* A key of GPU workers on a host-only runtime: created, never
     * initialised, NULL everywhere. */
    static rec r;
    flo_worker_local key;
    rec_init(&r);
    flo_worker_local_desc d = desc_of(&r, FLO_WORKERS_CUDA);
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_OK);
    check_once_each(&r, 0, false);
    assert_int_equal(run_probe(rt, &p, key), FLO_OK);
    for (int w = 0; w < NW; w++)
        assert_null(p.got[w]);
    assert_int_equal(flo_worker_local_destroy(rt, key), FLO_OK);
    check_once_each(&r, 0, false);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Waiting calls from inside a task (or any worker thread): FLO_EDEADLK,
 * nothing created or run. */
static void deadlock_host(flo_task_ctx *ctx)
{
    const probe_arg *a = flo_task_args(ctx, NULL);
    flo_runtime *rt = flo_task_runtime(ctx);
    flo_worker_local_desc d = desc_of(a->r, FLO_WORKERS_HOST);
    flo_worker_local k = {1, 1};
    probe *pp = a->p;

    a->p->edeadlk[0] = flo_worker_local_create(rt, &d, &k);
    a->p->edeadlk[1] = flo_worker_local_destroy(rt, a->key);
    a->p->edeadlk[2] = flo_execute_on_each_worker(rt, count_host, NULL, &pp,
                                                  sizeof(pp), FLO_WORKERS_HOST);
}

static const flo_kernel k_deadlock = {"wl_deadlock", deadlock_host, NULL};

static void test_from_task(void **state)
{
    (void)state;
    static rec r, r2;
    static probe p;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, 2);
    flo_worker_local key;
    assert_non_null(rt);
    rec_init(&r);
    rec_init(&r2);
    memset(&p, 0, sizeof(p));
    flo_worker_local_desc d = desc_of(&r, FLO_WORKERS_HOST);
    assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_OK);
    probe_arg a = {&p, key, &r2};
    assert_int_equal(flot_submit(rt, &k_deadlock, NULL, 0, &a, sizeof(a), NULL),
                     FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(p.edeadlk[i], FLO_EDEADLK);
    check_once_each(&r2, 0, false);
    for (int w = 0; w < MAXW; w++)
        assert_int_equal(atomic_load(&p.runs[w]), 0);
    /* The key survived the refused destroy. */
    check_once_each(&r, 2, false);
    assert_int_equal(flo_worker_local_destroy(rt, key), FLO_OK);
    check_once_each(&r, 2, true);
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

/* Several threads create, use and destroy keys at once: every key's
 * init and fini run exactly once per worker, and each thread's tasks see
 * their own key's values. */
#define CT_THREADS 4
#define CT_LIVE 8 /* Keys a thread holds at once (4 x 8 <= 64). */

typedef struct ct_arg {
    flo_runtime *rt;
    int iters;
    int errors;
    rec *recs; /* iters records */
} ct_arg;

static void *ct_main(void *arg)
{
    ct_arg *c = arg;
    flo_worker_local keys[CT_LIVE];
    probe *p = calloc(1, sizeof(*p));
    if (!p) {
        c->errors++;
        return NULL;
    }
    for (int i = 0; i < c->iters; i++) {
        rec *r = &c->recs[i];
        flo_worker_local_desc d = desc_of(r, FLO_WORKERS_HOST);
        int s = i % CT_LIVE;
        if (i >= CT_LIVE && flo_worker_local_destroy(c->rt, keys[s]) != FLO_OK)
            c->errors++;
        if (flo_worker_local_create(c->rt, &d, &keys[s]) != FLO_OK) {
            c->errors++;
            break;
        }
        if (run_probe(c->rt, p, keys[s]) != FLO_OK)
            c->errors++;
        for (int w = 0; w < NW; w++)
            if (p->got[w] != &r->vals[w])
                c->errors++;
    }
    for (int i = c->iters - CT_LIVE; i < c->iters; i++)
        if (i >= 0 &&
            flo_worker_local_destroy(c->rt, keys[i % CT_LIVE]) != FLO_OK)
            c->errors++;
    free(p);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, NW);
    pthread_t th[CT_THREADS];
    ct_arg args[CT_THREADS];
    int iters = (int)flot_scaled(60, 2 * CT_LIVE);
    assert_non_null(rt);
    for (int t = 0; t < CT_THREADS; t++) {
        args[t].rt = rt;
        args[t].iters = iters;
        args[t].errors = 0;
        args[t].recs = calloc((size_t)iters, sizeof(rec));
        assert_non_null(args[t].recs);
        for (int i = 0; i < iters; i++)
            rec_init(&args[t].recs[i]);
    }
    for (int t = 0; t < CT_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, ct_main, &args[t]), 0);
    for (int t = 0; t < CT_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < CT_THREADS; t++) {
        assert_int_equal(args[t].errors, 0);
        for (int i = 0; i < iters; i++)
            check_once_each(&args[t].recs[i], NW, true);
    }
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_finalize(rt), FLO_OK);
    for (int t = 0; t < CT_THREADS; t++)
        free(args[t].recs);
}

/* Two threads destroy one key at once: one wins, fini runs once. */
typedef struct race_arg {
    flo_runtime *rt;
    flo_worker_local key;
    atomic_int *go;
    flo_status st;
} race_arg;

static void *race_main(void *arg)
{
    race_arg *a = arg;
    while (!atomic_load(a->go))
        ;
    a->st = flo_worker_local_destroy(a->rt, a->key);
    return NULL;
}

static void test_destroy_race(void **state)
{
    (void)state;
    flo_runtime *rt = flot_rt(FLO_SCHED_WS, NW);
    long rounds = flot_scaled(50, 5);
    assert_non_null(rt);
    for (long i = 0; i < rounds; i++) {
        static rec r;
        flo_worker_local key;
        atomic_int go = 0;
        pthread_t th[2];
        race_arg a[2];
        rec_init(&r);
        flo_worker_local_desc d = desc_of(&r, FLO_WORKERS_HOST);
        assert_int_equal(flo_worker_local_create(rt, &d, &key), FLO_OK);
        for (int t = 0; t < 2; t++) {
            a[t] = (race_arg){rt, key, &go, FLO_OK};
            assert_int_equal(pthread_create(&th[t], NULL, race_main, &a[t]), 0);
        }
        atomic_store(&go, 1);
        for (int t = 0; t < 2; t++)
            pthread_join(th[t], NULL);
        assert_true((a[0].st == FLO_OK && a[1].st == FLO_ESTALE) ||
                    (a[0].st == FLO_ESTALE && a[1].st == FLO_OK));
        check_once_each(&r, NW, true);
    }
    assert_int_equal(flo_finalize(rt), FLO_OK);
}

int main(void)
{
    flot_apply_filter();
    flot_clear_env();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_finalize_releases),
        cmocka_unit_test(test_init_failure),
        cmocka_unit_test(test_table_full),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_execute),
        cmocka_unit_test(test_from_task),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_destroy_race),
    };
    return cmocka_run_group_tests_name("scheduler_worker_local", tests, NULL,
                                       NULL);
}
