/**
 * @file
 * @brief The umbrella header: include this one.
 *
 * It includes every public C header but the optional ones that need
 * other headers: flotilla/cuda.h (CUDA types) and flotilla/mpi.h
 * (<mpi.h>). The C++ layer is flotilla.hpp.
 */

/**
 * @mainpage Flotilla API reference
 *
 * Flotilla runs tasks on the cores and GPUs of a machine (and, with MPI,
 * of several), ordering them by the data they access. This reference
 * documents every public declaration, header by header; the user guide
 * (docs/guide.md) shows how they work together, and
 * docs/configuration.md lists every setting.
 *
 * @section headers Headers
 *
 * - flotilla.h: the umbrella header, which includes
 *   - flotilla/status.h: status codes (::flo_status) and version;
 *   - flotilla/types.h: element types and reduction operators;
 *   - flotilla/runtime.h: flo_init, flo_finalize, configuration,
 *     devices, workers, statistics;
 *   - flotilla/data.h: data handles, acquire and release, hints;
 *   - flotilla/task.h: tasks, events, and what a running task sees;
 *   - flotilla/graph.h: task graphs, recorded once and launched many
 *     times;
 *   - flotilla/worker.h: worker-local storage, a function on every
 *     worker;
 *   - flotilla/array.h: distributed arrays, transform, reduce, scan;
 *   - flotilla/coll.h: communicators and collectives;
 *   - flotilla/export.h: what the headers wrap their declarations in.
 * - flotilla/cuda.h: helpers for CUDA entry points (CUDA builds).
 * - flotilla/mpi.h: MPI_Comm to and from ::flo_mpi_comm.
 * - flotilla.hpp: a header-only C++17 layer (namespace flo).
 *
 * @section conventions Conventions
 *
 * - **Status codes.** Every fallible call returns a ::flo_status: FLO_OK
 *   (0), a positive informational code, or a negative error; each
 *   function lists the codes it returns and when. Outputs are written
 *   only on success, and a call that fails changes nothing, unless the
 *   function says otherwise.
 * - **Handles are values.** ::flo_data, ::flo_event and
 *   ::flo_worker_local are small structs, copied freely. A handle used
 *   after it was released is FLO_ESTALE, one of another runtime
 *   FLO_EFOREIGN: an error, never undefined behaviour.
 * - **Thread-safety:** each function says whether several threads may
 *   call it at once, and on what.
 * - **In a task:** each function says whether it may be called from
 *   inside a running task, that is on one of the runtime's worker
 *   threads while it runs a task's entry point or a completion callback
 *   (worker-local init and fini callbacks and the functions of
 *   flo_execute_on_each_worker are entry points too), and what happens
 *   there. Calls that wait refuse with FLO_EDEADLK: the worker would wait
 *   for work that may need it.
 *
 * @section building Building this reference
 *
 * `bash scripts/docs.sh` runs Doxygen (the Debian package `doxygen`)
 * with docs/Doxyfile and writes the HTML to build/docs/html (open
 * index.html); `bash scripts/docs.sh DIR` writes it to DIR/html. It
 * fails on any Doxygen warning: an undocumented declaration or parameter
 * is an error, and CI (scripts/test.sh) runs it.
 */
#ifndef FLOTILLA_H
#define FLOTILLA_H

#include "flotilla/status.h"
#include "flotilla/types.h"
#include "flotilla/runtime.h"
#include "flotilla/data.h"
#include "flotilla/task.h"
#include "flotilla/graph.h"
#include "flotilla/worker.h"
#include "flotilla/array.h"
#include "flotilla/coll.h"
#include "flotilla/resilience.h"

#endif
