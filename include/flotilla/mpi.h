/**
 * @file
 * @brief Optional MPI helpers: converting between MPI_Comm and
 * flo_mpi_comm.
 *
 * Include only from code that includes <mpi.h> (it includes it);
 * flotilla.h never includes it, so a program without MPI needs no MPI
 * headers.
 *
 * The public headers hold an MPI communicator as a flo_mpi_comm (see
 * flotilla/runtime.h): the bytes of an MPI_Comm value, whatever the MPI
 * implementation makes of that type (a pointer in Open MPI, an int in
 * MPICH). These two functions convert between the two. The program and
 * Flotilla must be built against the same MPI implementation.
 */
#ifndef FLOTILLA_MPI_H
#define FLOTILLA_MPI_H

#include <mpi.h>
#include <string.h>

#include "flotilla/runtime.h"

#include "flotilla/export.h"

#ifdef __cplusplus
static_assert(sizeof(MPI_Comm) <= sizeof(((flo_mpi_comm *)0)->value),
              "MPI_Comm does not fit in flo_mpi_comm");
#else
_Static_assert(sizeof(MPI_Comm) <= sizeof(((flo_mpi_comm *)0)->value),
               "MPI_Comm does not fit in flo_mpi_comm");
#endif

FLO_BEGIN_DECLS

/**
 * @brief Wrap an MPI communicator into a flo_mpi_comm.
 *
 * For flo_config.mpi_comm, say:
 * `cfg.mpi_comm = flo_mpi_comm_wrap(MPI_COMM_WORLD);`. The value is
 * copied; Flotilla duplicates the communicator at flo_init, so the
 * program may free its own afterwards.
 *
 * @param[in] comm  the communicator.
 * @return the handle (never FLO_MPI_COMM_NONE, even for MPI_COMM_NULL,
 *         which flo_init refuses with FLO_EINVAL).
 *
 * @par Thread-safety:
 * Thread-safe; no MPI call.
 * @par In a task:
 * Allowed.
 */
static inline flo_mpi_comm flo_mpi_comm_wrap(MPI_Comm comm)
{
    flo_mpi_comm h;

    memset(&h, 0, sizeof(h));
    memcpy(h.value, &comm, sizeof(comm));
    h.valid = 1;
    return h;
}

/**
 * @brief The MPI communicator a flo_mpi_comm holds (flo_comm_get_mpi's
 * output, say).
 *
 * @param[in] h  the handle.
 * @return the MPI_Comm; MPI_COMM_NULL for FLO_MPI_COMM_NONE.
 *
 * @par Thread-safety:
 * Thread-safe; no MPI call.
 * @par In a task:
 * Allowed.
 */
static inline MPI_Comm flo_mpi_comm_unwrap(flo_mpi_comm h)
{
    MPI_Comm comm = MPI_COMM_NULL;

    if (h.valid)
        memcpy(&comm, h.value, sizeof(comm));
    return comm;
}

FLO_END_DECLS
#endif
