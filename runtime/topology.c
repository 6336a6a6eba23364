/*
 * Flotilla - machine topology through hwloc.
 */
#include <stdlib.h>

#include "runtime/internal.h"
#include "runtime/topology.h"

static hwloc_obj_type_t core_type(hwloc_topology_t t)
{
    return hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE
                                                           : HWLOC_OBJ_PU;
}

flo_status flo__topology_load(flo__topology *t, const char *synthetic)
{
    hwloc_obj_type_t ct;

    t->topo = NULL;
    t->core_numa = NULL;
    t->core_taken = NULL;
    if (hwloc_topology_init(&t->topo))
        return FLO_ESYS;
    if (synthetic && hwloc_topology_set_synthetic(t->topo, synthetic)) {
        FLO__ERR("invalid synthetic topology \"%s\"", synthetic);
        goto fail_einval;
    }
    if (hwloc_topology_load(t->topo)) {
        FLO__ERR("hwloc could not load the topology");
        hwloc_topology_destroy(t->topo);
        t->topo = NULL;
        return FLO_ESYS;
    }
    t->synthetic = synthetic != NULL;
    ct = core_type(t->topo);
    t->ncores = hwloc_get_nbobjs_by_type(t->topo, ct);
    t->npus = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_PU);
    t->nnuma = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_NUMANODE);
    if (t->ncores < 1)
        t->ncores = 1;
    if (t->nnuma < 1)
        t->nnuma = 1;
    t->core_numa = calloc((size_t)t->ncores, sizeof(int));
    t->core_taken = calloc((size_t)t->ncores, sizeof(bool));
    if (!t->core_numa || !t->core_taken) {
        flo__topology_destroy(t);
        return FLO_ENOMEM;
    }
    for (int i = 0; i < t->ncores; i++) {
        hwloc_obj_t c = hwloc_get_obj_by_type(t->topo, ct, (unsigned)i);
        hwloc_obj_t n = NULL;
        if (c && c->cpuset)
            n = hwloc_get_next_obj_covering_cpuset_by_type(
                t->topo, c->cpuset, HWLOC_OBJ_NUMANODE, NULL);
        t->core_numa[i] = n ? (int)n->logical_index : 0;
    }
    return FLO_OK;

fail_einval:
    hwloc_topology_destroy(t->topo);
    t->topo = NULL;
    return FLO_EINVAL;
}

void flo__topology_destroy(flo__topology *t)
{
    free(t->core_numa);
    free(t->core_taken);
    t->core_numa = NULL;
    t->core_taken = NULL;
    if (t->topo)
        hwloc_topology_destroy(t->topo);
    t->topo = NULL;
}

flo_status flo__topology_bind_core(flo__topology *t, int core)
{
    hwloc_obj_t c;

    if (t->synthetic || !t->topo || core < 0 || core >= t->ncores)
        return FLO_ENOTSUP;
    c = hwloc_get_obj_by_type(t->topo, core_type(t->topo), (unsigned)core);
    if (!c || !c->cpuset)
        return FLO_ENOTSUP;
    if (hwloc_set_cpubind(t->topo, c->cpuset, HWLOC_CPUBIND_THREAD))
        return FLO_ENOTSUP;
    return FLO_OK;
}

int flo__topology_claim_core(flo__topology *t, hwloc_const_cpuset_t near)
{
    hwloc_obj_type_t ct = core_type(t->topo);

    /* Prefer a free core inside `near`, scanning from the highest index
     * so that core 0 (where the main thread usually runs) goes last. */
    for (int pass = near ? 0 : 1; pass < 2; pass++) {
        for (int i = t->ncores - 1; i >= 0; i--) {
            hwloc_obj_t c;
            if (t->core_taken[i])
                continue;
            c = hwloc_get_obj_by_type(t->topo, ct, (unsigned)i);
            if (pass == 0 &&
                (!c || !c->cpuset || !hwloc_bitmap_intersects(c->cpuset, near)))
                continue;
            t->core_taken[i] = true;
            return i;
        }
    }
    return -1;
}

int flo__topology_core_os_index(flo__topology *t, int core)
{
    hwloc_obj_t c;

    if (!t->topo || core < 0 || core >= t->ncores)
        return -1;
    c = hwloc_get_obj_by_type(t->topo, core_type(t->topo), (unsigned)core);
    if (!c || !c->cpuset)
        return -1;
    return hwloc_bitmap_first(c->cpuset);
}
