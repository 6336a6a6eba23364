/*
 * Flotilla - status names and version.
 */
#include "flo_build_config.h"
#include "flotilla.h"

const char *flo_status_str(flo_status status)
{
    switch (status) {
    case FLO_OK: return "FLO_OK: success";
    case FLO_INPROGRESS: return "FLO_INPROGRESS: not finished yet";
    case FLO_EINVAL: return "FLO_EINVAL: invalid argument";
    case FLO_ENOMEM: return "FLO_ENOMEM: out of memory";
    case FLO_ENOTSUP: return "FLO_ENOTSUP: not supported by this build";
    case FLO_ECANCELED: return "FLO_ECANCELED: canceled, a predecessor failed";
    case FLO_ETASK: return "FLO_ETASK: the task reported failure";
    case FLO_EBUSY: return "FLO_EBUSY: object in use";
    case FLO_ESTALE: return "FLO_ESTALE: handle no longer valid";
    case FLO_EFOREIGN: return "FLO_EFOREIGN: handle of another runtime";
    case FLO_EDEVICE: return "FLO_EDEVICE: device error";
    case FLO_ETIMEDOUT: return "FLO_ETIMEDOUT: timed out";
    case FLO_ENODEV: return "FLO_ENODEV: no suitable device";
    case FLO_EDEADLK: return "FLO_EDEADLK: call would deadlock";
    case FLO_ECOMM: return "FLO_ECOMM: communication error";
    case FLO_ESYS: return "FLO_ESYS: operating-system call failed";
    case FLO_ERANGE: return "FLO_ERANGE: out of range";
    case FLO_EINTERNAL: return "FLO_EINTERNAL: internal error";
    case FLO_EAGAIN: return "FLO_EAGAIN: transient failure, try again";
    case FLO_EDATALOSS: return "FLO_EDATALOSS: data lost with a failed device";
    }
    return "FLO_?: unknown status";
}

int flo_version(void)
{
    return FLO_VERSION;
}

const char *flo_version_string(void)
{
    return FLO_VERSION_STRING;
}
