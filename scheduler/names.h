/*
 * Flotilla - interned names: one immutable copy per distinct string,
 * shared by every thread and runtime of the process.
 *
 * Task names (and the labels of device status words) are interned so
 * that the pointer can key tables (the locality policy's history model,
 * the CUDA backend's sampling counters) and outlive the caller's buffer:
 * a task description's name may be a stack buffer.
 */
#ifndef FLO_SCHEDULER_NAMES_H
#define FLO_SCHEDULER_NAMES_H

#include <stdint.h>

/*
 * The interned copy of the NUL-terminated string s: equal contents give
 * the same pointer, process-wide, and the copy stays valid until the
 * process exits (copies are never freed; memory grows with the number of
 * distinct names, not with the number of calls).
 *
 * Cost: a hash of s and, for a known name, one or two atomic loads and a
 * strcmp; no lock. Only the first call with a given content allocates.
 *
 * @return the interned copy; NULL if s is NULL or memory ran out (the
 *         caller then keeps its own pointer or a fallback).
 * Thread-safe (lock-free).
 */
const char *flo__name_intern(const char *s);

/* The 64-bit content hash flo__name_intern uses (FNV-1a). */
uint64_t flo__name_hash(const char *s);

#endif
