/*
 * TEMPORARY (the integrator deletes this file at merge): a no-op
 * flo__faults_coll so that the collectives' fault hook links before
 * runtime/faults.c lands on main. rt->faults is never set here, so it is
 * never called.
 */
#include "collectives/comm/comm_internal.h"

__attribute__((weak)) int flo__faults_coll(flo__faults *f, int rank,
                                           uint64_t seq, uint32_t *stall_ms)
{
    (void)f;
    (void)rank;
    (void)seq;
    (void)stall_ms;
    return FLO__CFAULT_NONE;
}
