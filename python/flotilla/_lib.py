"""Loading libflotilla and declaring its C API for ctypes.

Everything here mirrors include/flotilla.h and include/flotilla/*.h: the
structures are ctypes.Structure subclasses with the fields of the C
structures in the same order and with the same types, so that their
layout (size, field offsets, padding) is the C compiler's. The test
python/tests/test_layout.py checks that against a C program compiled from
the installed headers (python/tests/layout.c), field by field.

The library is found, in this order:

1. the path in the environment variable FLOTILLA_LIBRARY;
2. next to an installed prefix: the package's own prefix (a package
   installed into PREFIX/lib/python3.X/site-packages looks in PREFIX/lib,
   PREFIX/lib64 and PREFIX/lib/<multiarch>), then the prefix named by
   FLOTILLA_PREFIX;
3. the directory pkg-config reports for flotilla (pkg-config
   --variable=libdir flotilla), when pkg-config is installed;
4. ctypes.util.find_library("flotilla") (the dynamic linker's cache).
"""

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sysconfig

from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p,
                    c_double, c_int, c_int64, c_size_t, c_uint, c_uint64,
                    c_void_p)

_NAMES = ("libflotilla.so", "libflotilla.so.0", "libflotilla.dylib")


def _prefix_dirs(prefix):
    libdirs = ["lib", "lib64"]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        libdirs.append(os.path.join("lib", multiarch))
    return [os.path.join(prefix, d) for d in libdirs]


def _package_prefixes():
    """Prefixes above this package: PREFIX/lib/python3.X/site-packages."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    d = here
    for _ in range(6):
        d = os.path.dirname(d)
        if d == os.path.dirname(d):
            break
        out.append(d)
    return out


def _pkg_config_libdir():
    exe = shutil.which("pkg-config")
    if exe is None:
        return None
    try:
        r = subprocess.run([exe, "--variable=libdir", "flotilla"],
                           capture_output=True, text=True, timeout=10,
                           check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    d = r.stdout.strip()
    return d if r.returncode == 0 and d else None


def candidates():
    """Paths tried to load libflotilla, in order (for error messages)."""
    out = []
    env = os.environ.get("FLOTILLA_LIBRARY")
    if env:
        out.append(env)
    prefixes = _package_prefixes()
    if os.environ.get("FLOTILLA_PREFIX"):
        prefixes.append(os.environ["FLOTILLA_PREFIX"])
    for prefix in prefixes:
        for d in _prefix_dirs(prefix):
            out.extend(os.path.join(d, n) for n in _NAMES)
    return out


def _load():
    env = os.environ.get("FLOTILLA_LIBRARY")
    if env:
        # An explicit choice that fails is an error, not a fallback.
        return ctypes.CDLL(env), env
    for path in candidates():
        if os.path.exists(path):
            return ctypes.CDLL(path), path
    d = _pkg_config_libdir()
    if d:
        for n in _NAMES:
            p = os.path.join(d, n)
            if os.path.exists(p):
                return ctypes.CDLL(p), p
    name = ctypes.util.find_library("flotilla")
    if name:
        return ctypes.CDLL(name), name
    raise OSError(
        "flotilla: cannot find libflotilla.so; set FLOTILLA_LIBRARY to its "
        "path or FLOTILLA_PREFIX to the prefix Flotilla was installed "
        "into (tried FLOTILLA_LIBRARY, the package's prefix, pkg-config "
        "and the linker cache)")


# ---- Structures (same fields, order and types as the C headers) ----------

class flo_mpi_comm(Structure):
    _fields_ = [("valid", c_int), ("value", c_uint64 * 2)]


class flo_config(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("version", c_int),
        ("host_workers", c_int),
        ("sched", c_int),
        ("devices", c_int),
        ("no_bind", c_int),
        ("trace_path", c_char_p),
        ("stats", c_int),
        ("gpus", c_int),
        ("gpu_list", c_char_p),
        ("streams_per_gpu", c_int),
        ("gpu_mem_limit", c_size_t),
        ("logical_gpus", c_int),
        ("topology", c_char_p),
        ("log_level", c_int),
        ("ignore_env", c_int),
        ("mpi_comm", flo_mpi_comm),
        ("coll_timeout_s", c_double),
        ("no_pin_host", c_int),
        ("faults", c_char_p),
        ("write_through", c_int),
        ("lineage", c_int),
        ("dag_path", c_char_p),
    ]


class flo_device_info(Structure):
    _fields_ = [
        ("kind", c_int),
        ("ordinal", c_int),
        ("logical_index", c_int),
        ("workers", c_int),
        ("memory_bytes", c_size_t),
        ("name", c_char * 64),
        ("failed", c_int),
    ]


class flo_stats(Structure):
    _fields_ = [(n, c_uint64) for n in (
        "tasks_submitted", "tasks_completed", "tasks_failed",
        "tasks_canceled", "steals", "bytes_h2d", "bytes_d2h", "bytes_p2p",
        "evictions", "stream_ordered", "retries", "replaced", "reexecuted",
        "recomputed", "data_lost", "devices_lost", "faults_injected",
        "recovery_ns")]


class flo_data(Structure):
    _fields_ = [("id", c_uint64), ("gen", c_uint64)]


class flo_event(Structure):
    _fields_ = [("id", c_uint64), ("gen", c_uint64)]


TASK_FN = CFUNCTYPE(None, c_void_p)
CALLBACK_FN = CFUNCTYPE(None, c_void_p, c_int)


class flo_kernel(Structure):
    _fields_ = [("name", c_char_p), ("host", c_void_p), ("cuda", c_void_p)]


class flo_access_desc(Structure):
    _fields_ = [("data", flo_data), ("mode", c_int)]


class flo_task_desc(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("kernel", POINTER(flo_kernel)),
        ("access", POINTER(flo_access_desc)),
        ("naccess", c_int),
        ("args", c_void_p),
        ("args_size", c_size_t),
        ("priority", c_int),
        ("on_device", c_int),
        ("on_worker", c_int),
        ("deps", POINTER(flo_event)),
        ("ndeps", c_int),
        ("callback", c_void_p),
        ("callback_arg", c_void_p),
        ("name", c_char_p),
        ("retries", c_int),
    ]


class flo_array_layout(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("nblocks", c_int),
        ("devices", POINTER(c_int)),
        ("weights", POINTER(c_double)),
    ]


class flo_array_block_info(Structure):
    _fields_ = [
        ("data", flo_data),
        ("device", c_int),
        ("offset", c_uint64),
        ("count", c_uint64),
    ]


class flo_array_span(Structure):
    _fields_ = [
        ("out", c_void_p),
        ("in_", c_void_p * 2),
        ("count", c_uint64),
        ("offset", c_uint64),
        ("args", c_void_p),
        ("args_size", c_size_t),
        ("stream", c_void_p),
        ("ctx", c_void_p),
    ]


ARRAY_FN = CFUNCTYPE(None, POINTER(flo_array_span))


class flo_array_kernel(Structure):
    _fields_ = [("name", c_char_p), ("host", c_void_p), ("cuda", c_void_p)]


# The structures test_layout.py compares with the C compiler's layout,
# by their C names.
STRUCTS = {
    "flo_mpi_comm": flo_mpi_comm,
    "flo_config": flo_config,
    "flo_device_info": flo_device_info,
    "flo_stats": flo_stats,
    "flo_data": flo_data,
    "flo_event": flo_event,
    "flo_kernel": flo_kernel,
    "flo_access_desc": flo_access_desc,
    "flo_task_desc": flo_task_desc,
    "flo_array_layout": flo_array_layout,
    "flo_array_block_info": flo_array_block_info,
    "flo_array_span": flo_array_span,
    "flo_array_kernel": flo_array_kernel,
}

# ---- Functions ------------------------------------------------------------

lib, path = _load()

_rt = c_void_p
_arr = c_void_p
_ctx = c_void_p
_st = c_int

_PROTOS = {
    # status.h
    "flo_status_str": (c_char_p, [_st]),
    "flo_version": (c_int, []),
    "flo_version_string": (c_char_p, []),
    # types.h
    "flo_dtype_size": (c_size_t, [c_int]),
    # runtime.h
    "flo_config_init": (_st, [POINTER(flo_config)]),
    "flo_init": (_st, [POINTER(flo_config), POINTER(c_void_p)]),
    "flo_finalize": (_st, [_rt]),
    "flo_device_count": (c_int, [_rt]),
    "flo_device_get_info": (_st, [_rt, c_int, POINTER(flo_device_info)]),
    "flo_worker_count": (c_int, [_rt]),
    "flo_worker_device": (c_int, [_rt, c_int]),
    "flo_stats_get": (_st, [_rt, POINTER(flo_stats)]),
    # data.h
    "flo_data_register_flags": (_st, [_rt, c_void_p, c_size_t, c_uint,
                                      POINTER(flo_data)]),
    "flo_data_register_device": (_st, [_rt, c_int, c_void_p, c_size_t,
                                       POINTER(flo_data)]),
    "flo_data_register_many": (_st, [_rt, c_size_t, POINTER(c_void_p),
                                     POINTER(c_size_t), c_uint,
                                     POINTER(flo_data)]),
    "flo_data_alloc": (_st, [_rt, c_size_t, POINTER(flo_data)]),
    "flo_data_acquire": (_st, [_rt, flo_data, c_int, POINTER(c_void_p)]),
    "flo_data_release": (_st, [_rt, flo_data]),
    "flo_data_unregister": (_st, [_rt, flo_data]),
    "flo_data_unregister_many": (_st, [_rt, c_size_t, POINTER(flo_data)]),
    "flo_data_prefetch": (_st, [_rt, flo_data, c_int]),
    "flo_data_flush": (_st, [_rt, flo_data]),
    "flo_data_size": (_st, [_rt, flo_data, POINTER(c_size_t)]),
    # task.h
    "flo_task_submit": (_st, [_rt, POINTER(flo_task_desc),
                              POINTER(flo_event)]),
    "flo_event_wait": (_st, [_rt, flo_event]),
    "flo_event_query": (_st, [_rt, flo_event]),
    "flo_wait_all": (_st, [_rt]),
    "flo_error_message": (_st, [_rt, flo_event, c_char_p, c_size_t]),
    "flo_task_buffer": (c_void_p, [_ctx, c_int]),
    "flo_task_buffer_size": (c_size_t, [_ctx, c_int]),
    "flo_task_args_as": (c_void_p, [_ctx, c_size_t]),
    "flo_task_worker": (c_int, [_ctx]),
    "flo_task_device": (c_int, [_ctx]),
    "flo_task_runtime": (c_void_p, [_ctx]),
    "flo_task_stream": (c_void_p, [_ctx]),
    # flo_task_fail is variadic: it is always called with the format "%s"
    # and one string, whose argument passing is the same as that of a
    # non-variadic function on the ABIs Flotilla supports (x86-64 and
    # AArch64 System V: integer and pointer arguments in integer
    # registers).
    "flo_task_fail": (None, [_ctx, _st, c_char_p, c_char_p]),
    # array.h
    "flo_array_create": (_st, [_rt, c_int, c_uint64,
                               POINTER(flo_array_layout),
                               POINTER(c_void_p)]),
    "flo_array_create_from_host": (_st, [_rt, c_int, c_uint64, c_void_p,
                                         POINTER(flo_array_layout),
                                         POINTER(c_void_p)]),
    "flo_array_destroy": (_st, [_arr]),
    "flo_array_size": (c_uint64, [_arr]),
    "flo_array_dtype": (c_int, [_arr]),
    "flo_array_nblocks": (c_int, [_arr]),
    "flo_array_block": (_st, [_arr, c_int, POINTER(flo_array_block_info)]),
    "flo_array_from_host": (_st, [_arr, c_void_p]),
    "flo_array_to_host": (_st, [_arr, c_void_p]),
    "flo_array_transform": (_st, [_arr, c_int, _arr, _arr, c_void_p,
                                  POINTER(flo_event)]),
    "flo_array_fill": (_st, [_arr, c_void_p, POINTER(flo_event)]),
    "flo_array_map": (_st, [_arr, POINTER(flo_array_kernel), _arr, _arr,
                            c_void_p, c_size_t, POINTER(flo_event)]),
    "flo_array_reduce": (_st, [_arr, c_int, flo_data, POINTER(flo_event)]),
    "flo_array_reduce_sync": (_st, [_arr, c_int, c_void_p]),
    "flo_array_argreduce": (_st, [_arr, c_int, flo_data,
                                  POINTER(flo_event)]),
    "flo_array_argreduce_sync": (_st, [_arr, c_int, c_void_p,
                                       POINTER(c_int64)]),
    "flo_array_scan": (_st, [_arr, _arr, c_int, c_int, c_void_p,
                             POINTER(flo_event)]),
    "flo_array_scan_carry": (_st, [_arr, _arr, c_int, c_int, flo_data,
                                   POINTER(flo_event)]),
}

for _name, (_res, _args) in _PROTOS.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

FLO_VERSION_CODE = lib.flo_version()
VERSION = lib.flo_version_string().decode()

# Constants of the headers that are macros, not symbols.
FLO_DATA_NO_PIN = 0x1
FLO_TASK_MAX_ACCESS = 1 << 20
FLO_TASK_MAX_ARGS = 64 * 1024
FLO_TASK_MAX_DEPS = 1024
FLO_ARRAY_MAX_BLOCKS = 60
FLO_ARRAY_MAX_ARGS = 4096


def task_fail(ctx, status, message):
    """flo_task_fail(ctx, status, "%s", message)."""
    lib.flo_task_fail(ctx, status, b"%s",
                      message.encode("utf-8", "replace"))

