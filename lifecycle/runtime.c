/*
 * Flotilla - runtime lifecycle: flo_init wires the layers together
 * (topology, MPI, the platform's devices, their workers, the policy),
 * flo_finalize takes them down in reverse order. The one file that knows
 * every layer: each is reached through its private header, and backends
 * and transports only through their layer's ops tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectives/comm/comm_internal.h"
#include "scheduler/sched.h"

/* Tags handles with their runtime (40 bits of it; 0 is never used). A
 * handle of one runtime reads as another's only after 2^40 flo_init calls
 * in one process (docs/architecture.md). */
static _Atomic uint64_t next_serial = 1;

/* Test hooks, documented in docs/architecture.md: FLO__TEST_SERIAL_NEXT
 * sets the serial the next runtime gets, FLO__TEST_GEN_BASE the first
 * generation of its task and data slots, so that tests reach the old
 * 16- and 24-bit limits without billions of cycles; FLO__TEST_DATA_LIMIT
 * caps its data handles, so that tests reach a full table. */
static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    char *end;
    unsigned long long x;

    if (!v || !*v)
        return dflt;
    x = strtoull(v, &end, 0);
    return *end ? dflt : (uint64_t)x;
}

static uint64_t new_serial(void)
{
    uint64_t s, forced = env_u64("FLO__TEST_SERIAL_NEXT", 0);

    if (forced)
        atomic_store(&next_serial, forced);
    do {
        s = atomic_fetch_add(&next_serial, 1) & FLO__SERIAL_MASK;
    } while (s == 0);
    return s;
}

/* One worker per GPU device, bound to the core its backend claimed. */
static flo_status add_gpu_workers(flo_runtime *rt)
{
    for (int i = 1; i < rt->plat.ndevices; i++) {
        flo__device *dev = rt->plat.devices[i];
        flo__worker *w;
        flo_status st = flo__worker_create(rt, dev, dev->worker_core, &w);
        if (st != FLO_OK)
            return st;
    }
    return FLO_OK;
}

static flo_status add_host_workers(flo_runtime *rt)
{
    flo__device *dev = rt->plat.devices[0];
    int free_cores = 0, n;

    for (int i = 0; i < rt->topo.ncores; i++)
        free_cores += !rt->topo.core_taken[i];
    n = rt->cfg.host_workers > 0 ? rt->cfg.host_workers
                                 : FLO__MAX(1, free_cores);
    for (int i = 0; i < n; i++) {
        flo__worker *w;
        int core = flo__topology_claim_core(&rt->topo, NULL);
        flo_status st;
        if (core < 0) {
            /* More workers than cores: share them round-robin. */
            core = rt->topo.ncores > 0 ? i % rt->topo.ncores : -1;
        }
        st = flo__worker_create(rt, dev, core, &w);
        if (st != FLO_OK)
            return st;
    }
    return FLO_OK;
}

static void destroy(flo_runtime *rt)
{
    if (rt->sched && rt->sched_ops)
        rt->sched_ops->fini(rt, rt->sched);
    rt->sched = NULL;
    flo__data_fini_all(rt);
    flo__platform_fini(&rt->plat);
    if (rt->mpi_fini)
        rt->mpi_fini(rt);
    flo__tasks_fini(rt);
    flo__resil_fini(rt);
    for (int i = 0; i < rt->nworkers; i++) {
        flo__parker_destroy(&rt->workers[i]->parker);
        free(rt->workers[i]);
    }
    flo__platform_free(&rt->plat);
    flo__topology_destroy(&rt->topo);
    pthread_mutex_destroy(&rt->pool_mu);
    pthread_mutex_destroy(&rt->data_mu);
    pthread_mutex_destroy(&rt->wait_mu);
    pthread_cond_destroy(&rt->wait_cv);
    pthread_mutex_destroy(&rt->fail_mu);
    pthread_mutex_destroy(&rt->wl_mu);
    pthread_mutex_destroy(&rt->mu);
    free(rt->trace_path);
    free(rt);
}

flo_status flo_init(const flo_config *cfg, flo_runtime **out)
{
    flo_runtime *rt;
    flo_status st;

    if (!out)
        return FLO_EINVAL;
    /* The runtime holds cache-line aligned members. */
    rt = flo__calloc_aligned(1, sizeof(*rt), _Alignof(flo_runtime));
    if (!rt)
        return FLO_ENOMEM;
    st = flo__config_resolve(cfg, &rt->cfg);
    if (st != FLO_OK) {
        free(rt);
        return st;
    }
    if (rt->cfg.log_level > atomic_load(&flo__log_level))
        atomic_store(&flo__log_level, rt->cfg.log_level);
    rt->serial = new_serial();
    rt->gen_base = env_u64("FLO__TEST_GEN_BASE", 0);
    rt->data_limit =
        (uint32_t)FLO__MIN(env_u64("FLO__TEST_DATA_LIMIT", 0), UINT32_MAX);
    rt->wait_dump_ns = env_u64("FLO__TEST_WAIT_DUMP_S", 0) * 1000000000u;
    rt->t_origin = flo__now_ns();
    rt->lineage = rt->cfg.lineage;
    /* Write-through of the versions at rest relies on lineage replay for
     * those that had not reached the host (docs/resilience.md). */
    if (rt->cfg.write_through == FLO_WRITE_THROUGH_REST && rt->lineage == 0)
        rt->lineage = FLO_WRITE_THROUGH_REST_LINEAGE;
    rt->mpi_size = rt->plat.node_size = 1;
    rt->plat.cfg = &rt->cfg;
    rt->plat.topo = &rt->topo;
    pthread_mutex_init(&rt->pool_mu, NULL);
    pthread_mutex_init(&rt->data_mu, NULL);
    pthread_mutex_init(&rt->wait_mu, NULL);
    pthread_cond_init(&rt->wait_cv, NULL);
    pthread_mutex_init(&rt->fail_mu, NULL);
    pthread_mutex_init(&rt->wl_mu, NULL);
    pthread_mutex_init(&rt->mu, NULL);
    rt->task_slabs = calloc(FLO__TASK_MAX_SLABS, sizeof(flo__task *));
    if (!rt->task_slabs || flo__data_table_init(rt) != FLO_OK) {
        st = FLO_ENOMEM;
        goto fail;
    }
    if (rt->cfg.trace_path) {
        /* Refuse a path the trace could not be written to now rather
         * than lose the trace at finalize. */
        FILE *f = fopen(rt->cfg.trace_path, "a");
        if (!f) {
            FLO__ERR("cannot write the trace file '%s': %s", rt->cfg.trace_path,
                     strerror(errno));
            st = FLO_EINVAL;
            goto fail;
        }
        fclose(f);
        rt->trace_path = strdup(rt->cfg.trace_path);
        if (!rt->trace_path ||
            flo__trace_create(rt->trace_path, rt->t_origin, &rt->plat.trace)) {
            st = FLO_ENOMEM;
            goto fail;
        }
    }
    /* The config keeps no pointers into the caller's or the environment's
     * strings beyond flo_init. */
    rt->cfg.trace_path = rt->trace_path;
    if (rt->cfg.faults) {
        flo__faults *f;
        st = flo__faults_parse(rt->cfg.faults, &f);
        if (st != FLO_OK)
            goto fail;
        atomic_store(&rt->faults, f);
    }
    rt->cfg.faults = NULL; /* The rules are parsed; the string is not kept. */
    if (rt->cfg.dag_path) {
        /* The task graph (its own copy of the path, in rt->cfg). */
        st = flo__dag_start(rt, rt->cfg.dag_path);
        if (st != FLO_OK) {
            rt->cfg.dag_path = NULL;
            goto fail;
        }
    }
    st = flo__topology_load(&rt->topo, rt->cfg.topology);
    rt->cfg.topology = NULL;
    if (st != FLO_OK)
        goto fail;
    /* MPI first: each rank then probes its share of the node's GPUs. */
    if (rt->cfg.mpi_comm.valid) {
        st = flo__coll_mpi_setup(rt);
        if (st != FLO_OK)
            goto fail;
    }
    st = flo__platform_probe(&rt->plat);
    if (st != FLO_OK)
        goto fail;
    rt->cfg.gpu_list = NULL;
    st = add_gpu_workers(rt);
    if (st == FLO_OK)
        st = add_host_workers(rt);
    if (st != FLO_OK)
        goto fail;

    switch (rt->cfg.sched) {
    case FLO_SCHED_EAGER: rt->sched_ops = &flo__sched_eager; break;
    case FLO_SCHED_WS: rt->sched_ops = &flo__sched_ws; break;
    case FLO_SCHED_LOCALITY: rt->sched_ops = &flo__sched_locality; break;
    default:
        rt->sched_ops =
            rt->ngpu_workers ? &flo__sched_locality : &flo__sched_ws;
        break;
    }
    st = rt->sched_ops->init(rt, &rt->sched);
    if (st != FLO_OK) {
        rt->sched = NULL;
        goto fail;
    }
    /* Backends sample task times for a policy that learns from them. */
    rt->plat.learn_times = rt->sched_ops->done != NULL;
    st = flo__sched_start_workers(rt);
    if (st != FLO_OK) {
        flo__sched_stop_workers(rt);
        goto fail;
    }
    FLO__INFO("runtime %llu: %d host workers, %d GPU workers, policy %s",
              (unsigned long long)rt->serial, rt->nhost_workers,
              rt->ngpu_workers, rt->sched_ops->name);
    *out = rt;
    return FLO_OK;

fail:
    if (rt->plat.trace) {
        /* Nothing was recorded; drop the file-to-be. */
        char *p = rt->trace_path;
        rt->trace_path = NULL;
        flo__trace_write_and_destroy(rt->plat.trace);
        remove(p);
        free(p);
        rt->plat.trace = NULL;
    }
    flo__dag_discard(rt);
    destroy(rt);
    return st;
}

flo_status flo_finalize(flo_runtime *rt)
{
    flo_status st;

    if (!rt)
        return FLO_EINVAL;
    {
        flo__worker *w = flo__self_worker(rt);
        if (w)
            return FLO_EDEADLK;
    }
    /* Wait for everything, then report the first failure that no call
     * returned: neither a flo_wait_all nor a wait or query of its own
     * event (cancellations go with the failure that caused them). */
    flo__wait_quiescent(rt);
    st = flo__failures_unreported(rt);
    if (rt->coll_fini)
        rt->coll_fini(rt);
    rt->coll_fini = NULL;
    /* Worker-local values are released on their workers' threads, which
     * still run; what their fini callbacks submit is waited for next. */
    flo__worker_local_fini_all(rt);
    flo__wait_quiescent(rt);
    flo__graphs_fini(rt);
    flo__sched_stop_workers(rt);
    if (rt->cfg.stats)
        flo_stats_print(rt, stderr);
    if (rt->plat.trace) {
        flo_status tst = flo__trace_write_and_destroy(rt->plat.trace);
        rt->plat.trace = NULL;
        if (tst != FLO_OK && st == FLO_OK)
            st = tst;
    }
    {
        /* The task graph, complete now that the workers stopped. */
        flo_status gst = flo__dag_finish(rt);
        if (gst != FLO_OK && st == FLO_OK)
            st = gst;
    }
    destroy(rt);
    return st;
}

int flo_device_count(const flo_runtime *rt)
{
    return rt ? rt->plat.ndevices : 0;
}

flo_status flo_device_get_info(const flo_runtime *rt, int dev,
                               flo_device_info *info)
{
    if (!rt || !info || dev < 0 || dev >= rt->plat.ndevices)
        return FLO_EINVAL;
    *info = rt->plat.devices[dev]->info;
    info->failed = atomic_load(&rt->plat.devices[dev]->lost) != 0;
    return FLO_OK;
}

int flo_worker_count(const flo_runtime *rt)
{
    return rt ? rt->nworkers : 0;
}

int flo_worker_device(const flo_runtime *rt, int worker)
{
    if (!rt || worker < 0 || worker >= rt->nworkers)
        return -1;
    return rt->workers[worker]->device;
}

flo_status flo_stats_get(const flo_runtime *rt, flo_stats *out)
{
    flo_stats s;

    if (!rt || !out)
        return FLO_EINVAL;
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < rt->nworkers; i++)
        s.tasks_submitted += atomic_load(&rt->workers[i]->cache.submitted);
    pthread_mutex_lock((pthread_mutex_t *)&rt->mu);
    for (const flo__tcache *c = rt->caches; c; c = c->next_all)
        s.tasks_submitted += atomic_load(&c->submitted);
    pthread_mutex_unlock((pthread_mutex_t *)&rt->mu);
    s.tasks_failed = atomic_load(&rt->n_failed);
    s.tasks_canceled = atomic_load(&rt->n_canceled);
    for (int i = 0; i < rt->nworkers; i++) {
        /* Per-worker counters are written by their worker only; read
         * them as a snapshot (exact once the runtime is idle). */
        const flo__worker *w = rt->workers[i];
        s.tasks_completed += FLO__STAT_GET(w->st.tasks);
        s.steals += FLO__STAT_GET(w->st.steals);
    }
    s.bytes_h2d = atomic_load(&rt->plat.bytes_h2d);
    s.bytes_d2h = atomic_load(&rt->plat.bytes_d2h);
    s.bytes_p2p = atomic_load(&rt->plat.bytes_p2p);
    s.evictions = atomic_load(&rt->plat.evictions);
    s.stream_ordered = atomic_load(&rt->n_stream_ordered);
    s.retries = atomic_load(&rt->n_retries);
    s.replaced = atomic_load(&rt->n_replaced);
    s.reexecuted = atomic_load(&rt->n_reexec);
    s.recomputed = atomic_load(&rt->n_recomputed);
    s.data_lost = atomic_load(&rt->n_data_lost);
    s.devices_lost = (uint64_t)atomic_load(&rt->ndead);
    s.faults_injected = atomic_load(&rt->n_faults);
    {
        uint64_t a = atomic_load(&rt->t_lost),
                 z = atomic_load(&rt->t_recovered);
        s.recovery_ns = a && z >= a ? z - a : 0;
    }
    *out = s;
    return FLO_OK;
}

flo_status flo_stats_print(const flo_runtime *rt, FILE *out)
{
    FILE *f = out ? out : stderr;
    flo_stats s;

    if (!rt)
        return FLO_EINVAL;
    flo_stats_get(rt, &s);
    fprintf(f,
            "flotilla statistics (policy %s): %llu submitted, %llu run, "
            "%llu failed, %llu canceled, %llu steals\n",
            rt->sched_ops->name, (unsigned long long)s.tasks_submitted,
            (unsigned long long)s.tasks_completed,
            (unsigned long long)s.tasks_failed,
            (unsigned long long)s.tasks_canceled, (unsigned long long)s.steals);
    fprintf(f,
            "  transfers: %.1f MB host-to-device, %.1f MB device-to-host, "
            "%.1f MB peer; %llu evictions; %llu stream-ordered "
            "dependencies\n",
            s.bytes_h2d / 1e6, s.bytes_d2h / 1e6, s.bytes_p2p / 1e6,
            (unsigned long long)s.evictions,
            (unsigned long long)s.stream_ordered);
    if (s.retries || s.replaced || s.reexecuted || s.data_lost ||
        s.devices_lost || s.faults_injected)
        fprintf(
            f,
            "  resilience: %llu faults injected, %llu retries, %llu "
            "devices lost, %llu tasks moved, %llu run again, %llu "
            "handles lost\n",
            (unsigned long long)s.faults_injected,
            (unsigned long long)s.retries, (unsigned long long)s.devices_lost,
            (unsigned long long)s.replaced, (unsigned long long)s.reexecuted,
            (unsigned long long)s.data_lost);
    fprintf(f, "  %-8s %-6s %-6s %10s %8s %8s %8s %10s %10s\n", "worker",
            "kind", "core", "tasks", "steals", "failed", "canceled", "busy ms",
            "idle ms");
    for (int i = 0; i < rt->nworkers; i++) {
        const flo__worker *w = rt->workers[i];
        fprintf(
            f, "  %-8d %-6s %-6d %10llu %8llu %8llu %8llu %10.1f %10.1f\n",
            w->id, w->kind == FLO_DEVICE_HOST ? "host" : "gpu",
            flo__topology_core_os_index((flo__topology *)&rt->topo, w->core),
            (unsigned long long)FLO__STAT_GET(w->st.tasks),
            (unsigned long long)FLO__STAT_GET(w->st.steals),
            (unsigned long long)FLO__STAT_GET(w->st.failed),
            (unsigned long long)FLO__STAT_GET(w->st.canceled),
            FLO__STAT_GET(w->st.busy_ns) / 1e6,
            FLO__STAT_GET(w->st.idle_ns) / 1e6);
    }
    return FLO_OK;
}
