/*
 * Flotilla - status codes and version.
 */
#ifndef FLOTILLA_STATUS_H
#define FLOTILLA_STATUS_H

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** Version of the headers: major * 10000 + minor * 100 + patch. */
#define FLO_VERSION_MAJOR 0
#define FLO_VERSION_MINOR 1
#define FLO_VERSION_PATCH 0
#define FLO_VERSION_CODE(ma, mi, pa) ((ma) * 10000 + (mi) * 100 + (pa))
#define FLO_VERSION                                                        \
    FLO_VERSION_CODE(FLO_VERSION_MAJOR, FLO_VERSION_MINOR, FLO_VERSION_PATCH)

/**
 * Every fallible call returns a flo_status: FLO_OK (0) on success, a
 * positive informational code, or a negative error.
 */
typedef enum flo_status {
    FLO_OK = 0,          /**< Success. */
    FLO_INPROGRESS = 1,  /**< Not finished yet (flo_event_query). */
    FLO_EINVAL = -1,     /**< An argument is invalid (NULL, zero, range). */
    FLO_ENOMEM = -2,     /**< Out of host or device memory. */
    FLO_ENOTSUP = -3,    /**< Not supported by this build or backend. */
    FLO_ECANCELED = -4,  /**< Canceled: a predecessor task failed. */
    FLO_ETASK = -5,      /**< A task reported failure (flo_task_fail). */
    FLO_EBUSY = -6,      /**< The object is in use (e.g. acquired). */
    FLO_ESTALE = -7,     /**< Handle already unregistered or finalized. */
    FLO_EFOREIGN = -8,   /**< Handle belongs to another runtime. */
    FLO_EDEVICE = -9,    /**< A device (CUDA) error; the task failed. */
    FLO_ETIMEDOUT = -10, /**< An operation did not complete in time. */
    FLO_ENODEV = -11,    /**< No such device, or no device of that kind. */
    FLO_EDEADLK = -12,   /**< The call would deadlock (wait in a task). */
    FLO_ECOMM = -13,     /**< A communication (NCCL/MPI) error. */
    FLO_ESYS = -14,      /**< An operating-system call failed. */
    FLO_ERANGE = -15,    /**< A size or index is out of range. */
    FLO_EINTERNAL = -16  /**< An internal invariant broke: a bug. */
} flo_status;

/**
 * Name and one-line description of a status code, e.g.
 * "FLO_EINVAL: invalid argument". Never NULL; unknown codes give
 * "FLO_?: unknown status". Thread-safe.
 */
const char *flo_status_str(flo_status status);

/** Version of the library linked at run time (compare with FLO_VERSION). */
int flo_version(void);

/** The same, as a string "major.minor.patch". */
const char *flo_version_string(void);

FLO_END_DECLS
#endif
