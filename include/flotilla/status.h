/**
 * @file
 * @brief Status codes and version.
 *
 * Every fallible call of Flotilla returns a ::flo_status. The functions
 * of this header need no runtime: they may be called from any thread at
 * any time, inside tasks too.
 */
#ifndef FLOTILLA_STATUS_H
#define FLOTILLA_STATUS_H

#include "flotilla/export.h"

FLO_BEGIN_DECLS

/** @brief Major version of the headers. */
#define FLO_VERSION_MAJOR 0
/** @brief Minor version of the headers. */
#define FLO_VERSION_MINOR 1
/** @brief Patch level of the headers. */
#define FLO_VERSION_PATCH 0
/**
 * @brief A version as one integer: major * 10000 + minor * 100 + patch.
 *
 * Compare versions with it: `#if FLO_VERSION >= FLO_VERSION_CODE(0, 2, 0)`.
 *
 * @param ma  major version.
 * @param mi  minor version, 0 .. 99.
 * @param pa  patch level, 0 .. 99.
 */
#define FLO_VERSION_CODE(ma, mi, pa) ((ma)*10000 + (mi)*100 + (pa))
/**
 * @brief Version of the headers the program is compiled against, as
 * FLO_VERSION_CODE gives it; flo_version() is the library's.
 */
#define FLO_VERSION                                                            \
    FLO_VERSION_CODE(FLO_VERSION_MAJOR, FLO_VERSION_MINOR, FLO_VERSION_PATCH)

/**
 * @brief What a call returns: FLO_OK (0) on success, a positive
 * informational code, or a negative error.
 *
 * Each function lists the codes it may return and when. Unless a
 * function says otherwise, a call that returns an error changed nothing
 * and wrote none of its outputs. flo_status_str() names every code.
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
    FLO_EINTERNAL = -16, /**< An internal invariant broke: a bug. */
    /** A transient failure: the task may succeed if run again. An entry
     *  point reports it with flo_task_fail; a task with a retry budget
     *  (flo_task_desc.retries) is then run again, with the buffers it
     *  reads and writes restored (docs/resilience.md). */
    FLO_EAGAIN = -17,
    /** Data lost: the only valid copy of a handle the task needs was on
     *  a device that failed, and it could not be recomputed. The message
     *  names the handle. */
    FLO_EDATALOSS = -18
} flo_status;

/**
 * @brief Name and one-line description of a status code.
 *
 * @param[in] status  any value, valid or not.
 * @return a static string such as "FLO_EINVAL: invalid argument"; never
 *         NULL: a value that is no flo_status gives
 *         "FLO_?: unknown status".
 *
 * @par Thread-safety:
 * Thread-safe (no state).
 * @par In a task:
 * Allowed.
 */
const char *flo_status_str(flo_status status);

/**
 * @brief Version of the library linked at run time.
 *
 * Compare it with FLO_VERSION, the version of the headers the program
 * was compiled with.
 *
 * @return the library's version, as FLO_VERSION_CODE gives it.
 *
 * @par Thread-safety:
 * Thread-safe (no state).
 * @par In a task:
 * Allowed.
 */
int flo_version(void);

/**
 * @brief Version of the library linked at run time, as a string.
 *
 * @return a static string "major.minor.patch", e.g. "0.1.0"; never NULL.
 *
 * @par Thread-safety:
 * Thread-safe (no state).
 * @par In a task:
 * Allowed.
 */
const char *flo_version_string(void);

FLO_END_DECLS
#endif
