/*
 * Flotilla - configuration: defaults, then FLO_* environment overrides.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/internal.h"

flo_status flo_config_init(flo_config *cfg)
{
    static const flo_config dflt = FLO_CONFIG_INIT;

    if (!cfg)
        return FLO_EINVAL;
    *cfg = dflt;
    return FLO_OK;
}

static bool parse_sched(const char *s, flo_sched_policy *out)
{
    static const struct {
        const char *name;
        flo_sched_policy p;
    } tab[] = {
        {"default", FLO_SCHED_DEFAULT},
        {"eager", FLO_SCHED_EAGER},
        {"ws", FLO_SCHED_WS},
        {"locality", FLO_SCHED_LOCALITY},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (!strcasecmp(s, tab[i].name)) {
            *out = tab[i].p;
            return true;
        }
    }
    return false;
}

static bool parse_devices(const char *s, flo_device_mask *out)
{
    if (!strcasecmp(s, "auto") || !strcasecmp(s, "all"))
        *out = FLO_DEVICES_AUTO;
    else if (!strcasecmp(s, "host") || !strcasecmp(s, "cpu"))
        *out = FLO_DEVICES_HOST;
    else if (!strcasecmp(s, "cuda") || !strcasecmp(s, "gpu"))
        *out = FLO_DEVICES_CUDA;
    else
        return false;
    return true;
}

/* An integer setting: values beyond int become INT_MIN/INT_MAX, which
 * every range check refuses (never truncated into range). */
static bool env_int(const char *name, long *out)
{
    if (!flo__env_int(name, out))
        return false;
    if (*out > INT_MAX)
        *out = INT_MAX;
    else if (*out < INT_MIN)
        *out = INT_MIN;
    return true;
}

/* Apply the environment to *c. Strings point into the environment; the
 * runtime copies what it keeps. */
static void apply_env(flo_config *c)
{
    long v;
    size_t sz;
    const char *s;

    if (env_int("FLO_HOST_WORKERS", &v))
        c->host_workers = (int)v;
    if ((s = flo__env_str("FLO_SCHED")) && !parse_sched(s, &c->sched))
        FLO__WARN("ignoring FLO_SCHED=%s (eager, ws, locality)", s);
    if ((s = flo__env_str("FLO_DEVICES")) && !parse_devices(s, &c->devices))
        FLO__WARN("ignoring FLO_DEVICES=%s (auto, host, cuda)", s);
    if (env_int("FLO_BIND", &v))
        c->no_bind = v == 0;
    if ((s = flo__env_str("FLO_TRACE")))
        c->trace_path = s;
    if ((s = flo__env_str("FLO_DAG")))
        c->dag_path = s;
    if (env_int("FLO_STATS", &v))
        c->stats = v != 0;
    if ((s = flo__env_str("FLO_GPUS"))) {
        /* A count ("2") or a list of ordinals ("0,2,3"). */
        if (strchr(s, ',')) {
            c->gpu_list = s;
        } else if (env_int("FLO_GPUS", &v)) {
            /* FLO_GPUS=0 means no GPU: in flo_config that is
             * devices = FLO_DEVICES_HOST (gpus 0 means all of them). */
            if (v == 0)
                c->devices = FLO_DEVICES_HOST;
            else
                c->gpus = (int)v;
        }
    }
    if (env_int("FLO_STREAMS_PER_GPU", &v))
        c->streams_per_gpu = (int)v;
    if (flo__env_size("FLO_GPU_MEM_LIMIT", &sz))
        c->gpu_mem_limit = sz;
    if (env_int("FLO_LOGICAL_GPUS", &v))
        c->logical_gpus = (int)v;
    if ((s = flo__env_str("FLO_TOPOLOGY")))
        c->topology = s;
    if (env_int("FLO_LOG_LEVEL", &v))
        c->log_level = (int)v;
    if (env_int("FLO_PIN_HOST", &v))
        c->no_pin_host = v == 0;
    if ((s = flo__env_str("FLO_FAULTS")))
        c->faults = s;
    if ((s = flo__env_str("FLO_WRITE_THROUGH"))) {
        if (!strcmp(s, "all"))
            c->write_through = FLO_WRITE_THROUGH_ALL;
        else if (!strcmp(s, "rest"))
            c->write_through = FLO_WRITE_THROUGH_REST;
        else if (!strcmp(s, "off"))
            c->write_through = FLO_WRITE_THROUGH_OFF;
        else if (env_int("FLO_WRITE_THROUGH", &v))
            c->write_through = (int)v;
    }
    if (env_int("FLO_LINEAGE", &v))
        c->lineage = (int)v;
    if ((s = flo__env_str("FLO_COLL_TIMEOUT"))) {
        char *end;
        double d = strtod(s, &end);
        if (end != s && !*end && d >= 0)
            c->coll_timeout_s = d;
        else
            FLO__WARN("ignoring FLO_COLL_TIMEOUT=%s (seconds)", s);
    }
}

flo_status flo__config_resolve(const flo_config *in, flo_config *out)
{
    flo_config c;

    if (in) {
        if (in->size != 0 && in->size != sizeof(flo_config)) {
            FLO__ERR("flo_config.size is %zu, expected %zu (or 0): "
                     "initialise with FLO_CONFIG_INIT",
                     in->size, sizeof(flo_config));
            return FLO_EINVAL;
        }
        c = *in;
    } else {
        flo_config_init(&c);
    }
    c.size = sizeof(flo_config);
    if (c.version == 0)
        c.version = FLO_VERSION;
    if (!c.ignore_env)
        apply_env(&c);

    if (c.host_workers < 0 || c.host_workers > FLO__MAX_WORKERS / 2) {
        FLO__ERR("host_workers %d out of range (0: one per core, or "
                 "1..%d)",
                 c.host_workers, FLO__MAX_WORKERS / 2);
        return FLO_EINVAL;
    }
    if (c.no_bind != 0 && c.no_bind != 1) {
        FLO__ERR("no_bind %d out of range (0 or 1)", c.no_bind);
        return FLO_EINVAL;
    }
    if ((unsigned)c.sched > FLO_SCHED_LOCALITY) {
        FLO__ERR("unknown scheduling policy %d", (int)c.sched);
        return FLO_EINVAL;
    }
    if ((unsigned)c.devices > FLO_DEVICES_CUDA) {
        FLO__ERR("unknown device selection %d", (int)c.devices);
        return FLO_EINVAL;
    }
    if (c.gpus < 0 || c.gpus > FLO__MAX_NODES - 1) {
        FLO__ERR("gpus %d out of range (0: all, or 1..%d)", c.gpus,
                 FLO__MAX_NODES - 1);
        return FLO_EINVAL;
    }
    if (c.streams_per_gpu < 0 || c.streams_per_gpu > 32) {
        FLO__ERR("streams_per_gpu %d out of range (0: 2, or 1..32)",
                 c.streams_per_gpu);
        return FLO_EINVAL;
    }
    if (c.logical_gpus < 0 || c.logical_gpus > 16) {
        FLO__ERR("logical_gpus %d out of range (0: 1, or 1..16)",
                 c.logical_gpus);
        return FLO_EINVAL;
    }
    if (c.log_level < 0 || c.log_level > 3) {
        FLO__ERR("log_level %d out of range (0..3)", c.log_level);
        return FLO_EINVAL;
    }
    if (!(c.coll_timeout_s >= 0) || isinf(c.coll_timeout_s)) {
        FLO__ERR("coll_timeout_s must be a finite number of seconds >= 0");
        return FLO_EINVAL;
    }
    if (c.no_pin_host != 0 && c.no_pin_host != 1) {
        FLO__ERR("no_pin_host %d out of range (0 or 1)", c.no_pin_host);
        return FLO_EINVAL;
    }
    if (c.write_through < FLO_WRITE_THROUGH_OFF ||
        c.write_through > FLO_WRITE_THROUGH_REST) {
        FLO__ERR("write_through %d out of range (0 off, 1 all, 2 rest)",
                 c.write_through);
        return FLO_EINVAL;
    }
    if (c.lineage < 0 || c.lineage > FLO_LINEAGE_MAX) {
        FLO__ERR("lineage %d out of range (0: off, or 1..%d writers per "
                 "data handle)",
                 c.lineage, FLO_LINEAGE_MAX);
        return FLO_EINVAL;
    }
    if (c.mpi_comm.valid != 0 && c.mpi_comm.valid != 1) {
        FLO__ERR("mpi_comm.valid %d out of range: set mpi_comm with "
                 "flo_mpi_comm_wrap",
                 c.mpi_comm.valid);
        return FLO_EINVAL;
    }
    /* Zero means the default: resolve to the values in use. */
    if (c.streams_per_gpu == 0)
        c.streams_per_gpu = 2;
    if (c.logical_gpus == 0)
        c.logical_gpus = 1;
    if (c.coll_timeout_s == 0)
        c.coll_timeout_s = 300.0;
    *out = c;
    return FLO_OK;
}
