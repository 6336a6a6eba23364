/*
 * Flotilla - a multi-GPU task runtime. The umbrella header: include this
 * one. CUDA types live apart, in flotilla/cuda.h.
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

#endif
