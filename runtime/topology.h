/*
 * Flotilla - machine topology (hwloc): cores, NUMA nodes, binding.
 */
#ifndef FLO_RUNTIME_TOPOLOGY_H
#define FLO_RUNTIME_TOPOLOGY_H

#include <hwloc.h>
#include <stdbool.h>

#include "flotilla/status.h"

typedef struct flo__topology {
    hwloc_topology_t topo;
    bool synthetic; /* Loaded from a description: never bind. */
    int ncores;     /* Cores (or PUs when hwloc reports no cores). */
    int nnuma;
    int npus;
    int *core_numa;   /* NUMA node logical index of each core. */
    bool *core_taken; /* Claimed by a GPU worker. */
} flo__topology;

/* Load the machine's topology, or a synthetic one (e.g. "pack:2 core:4
 * pu:1") for tests. */
flo_status flo__topology_load(flo__topology *t, const char *synthetic);
void flo__topology_destroy(flo__topology *t);
/* Bind the calling thread to core (logical index). FLO_OK, or FLO_ENOTSUP
 * when binding is unavailable (synthetic topology, restricted cpuset). */
flo_status flo__topology_bind_core(flo__topology *t, int core);
/* Pick a free core, preferring those in cpuset near (may be NULL); marks
 * it taken. Returns -1 if every core is taken. */
int flo__topology_claim_core(flo__topology *t, hwloc_const_cpuset_t near);
/* OS index of the first PU of a core (for reports). */
int flo__topology_core_os_index(flo__topology *t, int core);

#endif
