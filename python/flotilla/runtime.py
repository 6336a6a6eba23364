"""The runtime, data handles, events and tasks (flotilla/runtime.h,
data.h and task.h).

Threads and the GIL. Every call into the library goes through ctypes,
which releases the GIL for the duration of the call: a thread that waits
(``wait_all``, ``Event.wait``, ``Data.unregister``, ``finalize``) lets the
workers run Python entry points meanwhile. A Python entry point runs on a
worker thread and must hold the GIL to run Python code, so **tasks whose
entry points are Python callables serialise on the GIL**: whatever the
number of workers, no two of them execute Python code at the same time
(the interpreter switches between them as it does between threads). C
entry points (:class:`CKernel`), the array algorithms and the work a CUDA
entry point enqueues on its stream run in parallel, and so does Python
code that releases the GIL (NumPy on large arrays, CuPy launches, I/O).
"""

import atexit
import ctypes
import enum
import itertools
import sys
import threading
import traceback
from collections import namedtuple
from ctypes import byref, c_char, c_size_t, c_uint64, c_void_p

import numpy as np

from . import _lib
from . import cuda as _cuda
from .errors import (DeadlockError, Error, InvalidArgumentError,
                     NoDeviceError, NotSupportedError, Status, StaleError,
                     check, error_for)

lib = _lib.lib

# ---- Enumerations ---------------------------------------------------------


class Access(enum.IntEnum):
    """``flo_access``."""

    READ = 1
    WRITE = 2
    READ_WRITE = 3


class Sched(enum.IntEnum):
    """``flo_sched_policy``."""

    DEFAULT = 0
    EAGER = 1
    WS = 2
    LOCALITY = 3


class Devices(enum.IntEnum):
    """``flo_device_mask``."""

    AUTO = 0
    HOST = 1
    CUDA = 2


class DeviceKind(enum.IntEnum):
    """``flo_device_kind``."""

    HOST = 0
    CUDA = 1


def _enum(cls, value, what):
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            raise InvalidArgumentError(message="unknown %s %r" % (
                what, value)) from None
    try:
        return cls(value)
    except ValueError:
        raise InvalidArgumentError(message="unknown %s %r" % (
            what, value)) from None


def R(data):
    """Access entry: ``data`` is read (``FLO_R``)."""
    return (data, Access.READ)


def W(data):
    """Access entry: ``data`` is overwritten (``FLO_W``)."""
    return (data, Access.WRITE)


def RW(data):
    """Access entry: ``data`` is read and updated (``FLO_RW``)."""
    return (data, Access.READ_WRITE)


DeviceInfo = namedtuple("DeviceInfo", "kind ordinal logical_index workers "
                        "memory_bytes name")
Stats = namedtuple("Stats", [f[0] for f in _lib.flo_stats._fields_])

# ---- Runtime ---------------------------------------------------------------

_CONFIG_FIELDS = {
    "host_workers": int, "sched": None, "devices": None, "no_bind": int,
    "trace_path": str, "stats": int, "gpus": int, "gpu_list": str,
    "streams_per_gpu": int, "gpu_mem_limit": int, "logical_gpus": int,
    "topology": str, "log_level": int, "ignore_env": int,
    "coll_timeout_s": float, "no_pin_host": int, "dag_path": str,
}

# Runtimes not finalized yet: held here, so that a runtime the program
# forgets is not collected while its workers run, and finalized at
# interpreter exit (before the interpreter stops running Python code).
_live = set()
_live_lock = threading.Lock()


class Runtime:
    """A Flotilla runtime (``flo_init`` / ``flo_finalize``).

    ``Runtime(**config)`` takes the fields of ``flo_config`` as keyword
    arguments (``host_workers=4``, ``sched="ws"``, ``devices="host"``,
    ``trace_path="t.json"``, ``dag_path="graph.dot"``,
    ``topology="pack:1 core:4 pu:1"``, ...);
    left out, a field keeps its default, and the ``FLO_*`` environment
    variables apply on top unless ``ignore_env=1``. (``mpi_comm`` is not
    exposed.) Use it as a context manager::

        with flotilla.Runtime(host_workers=4) as rt:
            ...

    Leaving the block finalizes it: waits for every task, unregisters the
    data handles still registered (writing them back into their arrays),
    destroys the arrays still alive, and raises the first task error that
    no wait reported. Thread-safe like the C API: several threads may
    submit at once.
    """

    def __init__(self, **config):
        cfg = _lib.flo_config()
        check(lib.flo_config_init(byref(cfg)))
        self._keep = []
        for k, v in config.items():
            if k not in _CONFIG_FIELDS:
                raise InvalidArgumentError(message=(
                    "unknown configuration field %r" % k))
            if k == "sched":
                v = int(_enum(Sched, v, "scheduling policy"))
            elif k == "devices":
                v = int(_enum(Devices, v, "device mask"))
            elif _CONFIG_FIELDS[k] is str:
                if v is None:
                    continue
                v = str(v).encode()
                self._keep.append(v)
            elif v is not None:
                v = _CONFIG_FIELDS[k](v)
            else:
                continue
            setattr(cfg, k, v)
        ptr = c_void_p()
        check(lib.flo_init(byref(cfg), byref(ptr)))
        self._ptr = ptr.value
        self._lock = threading.Lock()
        self._names = {}
        self._data = {}
        self._arrays = set()
        with _live_lock:
            _live.add(self)

    # -- lifecycle

    @property
    def ptr(self):
        """The ``flo_runtime *`` as an int (for C code called through
        ctypes); raises StaleError after finalize."""
        if self._ptr is None:
            raise StaleError(message="runtime already finalized")
        return self._ptr

    @property
    def closed(self):
        return self._ptr is None

    def finalize(self):
        """``flo_finalize``: destroy the arrays still alive, wait for all
        work, unregister the remaining handles (written back into their
        arrays) and stop the workers. Raises the first task error no wait
        reported. A second call does nothing."""
        ptr = self._ptr
        if ptr is None:
            return
        for a in list(self._arrays):
            try:
                a.destroy()
            except DeadlockError:
                raise DeadlockError(
                    message="finalize from inside a task") from None
            except Error:
                # flo_finalize frees the handles of an array that could
                # not be destroyed (a block still acquired): forget it, so
                # that no later call reaches the freed runtime through it.
                a._forget()
        st = lib.flo_finalize(ptr)
        if st == Status.EDEADLK:
            # Called from inside a task: nothing happened.
            raise DeadlockError(message="finalize from inside a task")
        self._ptr = None
        with _live_lock:
            _live.discard(self)
        for d in list(self._data.values()):
            d._dead()
        self._data.clear()
        if st < 0:
            raise error_for(st, "a task failed (first error not reported "
                            "by a wait): %s" % _lib.lib.flo_status_str(
                                st).decode())

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.finalize()
        else:
            # Do not hide the exception that left the block.
            try:
                self.finalize()
            except Error:
                pass
        return False

    def _name(self, s):
        """Intern s as bytes that live as long as the runtime (the C
        runtime keeps task and kernel name pointers until finalize)."""
        if s is None:
            return None
        b = self._names.get(s)
        if b is None:
            b = self._names.setdefault(s, s.encode())
        return b

    # -- devices and workers

    @property
    def device_count(self):
        """``flo_device_count``: 1 (the host) + the GPUs in use."""
        return lib.flo_device_count(self.ptr)

    def device_info(self, dev):
        info = _lib.flo_device_info()
        check(lib.flo_device_get_info(self.ptr, dev, byref(info)))
        return DeviceInfo(DeviceKind(info.kind), info.ordinal,
                          info.logical_index, info.workers,
                          info.memory_bytes, info.name.decode())

    @property
    def devices(self):
        """DeviceInfo of every device; index 0 is the host."""
        return [self.device_info(d) for d in range(self.device_count)]

    @property
    def worker_count(self):
        return lib.flo_worker_count(self.ptr)

    def worker_device(self, worker):
        """Device served by a worker; -1 for a bad index."""
        return lib.flo_worker_device(self.ptr, worker)

    def stats(self):
        """``flo_stats_get`` as a Stats named tuple."""
        s = _lib.flo_stats()
        check(lib.flo_stats_get(self.ptr, byref(s)))
        return Stats(*[getattr(s, f) for f in Stats._fields])

    # -- data

    def register(self, obj, pin=True):
        """Register the memory of ``obj`` as a data handle, without a copy.

        ``obj`` is a writable, C-contiguous object with the buffer
        protocol (a NumPy array, a bytearray...), or one that exposes its
        memory through ``__cuda_array_interface__`` or DLPack (CuPy,
        PyTorch, Numba; see flotilla.cuda). Host-accessible memory (CUDA
        managed memory included) is registered with
        ``flo_data_register_flags``; device memory (CuPy's default) with
        ``flo_data_register_device``, on the GPU of its CUDA ordinal: it
        stays where it is, tasks on that GPU use it in place, and the
        runtime never frees it. The object is kept alive while
        registered, and belongs to the runtime until unregistered: read
        or change it only inside tasks or between ``acquire`` and
        ``release``; unregistering writes the latest contents back into
        it. ``pin=False`` is ``FLO_DATA_NO_PIN`` (host memory only).
        Raises InvalidArgumentError for a read-only, non-contiguous or
        empty buffer, NoDeviceError for device memory of a GPU the
        runtime does not use.
        """
        src = _Memory(obj)
        try:
            out = _lib.flo_data()
            if src.ordinal is not None:
                check(lib.flo_data_register_device(
                    self.ptr, self._device_of_ordinal(src.ordinal),
                    src.ptr, src.nbytes, byref(out)))
            else:
                check(lib.flo_data_register_flags(
                    self.ptr, src.ptr, src.nbytes,
                    0 if pin else _lib.FLO_DATA_NO_PIN, byref(out)))
        except BaseException:
            src.release()
            raise
        return self._add(Data(self, out, src.nbytes, src.dtype, src.shape,
                              src))

    def register_device(self, device, ptr, nbytes, dtype=np.uint8,
                        shape=None, keep=None):
        """``flo_data_register_device``: register ``nbytes`` of device
        memory at address ``ptr`` (an int, e.g. from ``cudaMalloc``) on
        Flotilla device ``device`` (1 or more), without a copy.

        ``dtype`` and ``shape`` describe the buffer to tasks and acquires
        (``shape`` defaults to the whole buffer as a vector); ``keep`` is
        an object kept alive while registered (the memory's owner). The
        memory is never freed by the runtime; unregistering writes the
        latest contents back into it. ``register(cupy_array)`` does this
        for objects that describe their own memory.
        """
        dtype = np.dtype(dtype)
        if shape is None:
            shape = (nbytes // dtype.itemsize,)
        out = _lib.flo_data()
        check(lib.flo_data_register_device(self.ptr, int(device), ptr,
                                           nbytes, byref(out)))
        return self._add(Data(self, out, nbytes, dtype, shape,
                              _Kept(keep)))

    def _device_of_ordinal(self, ordinal):
        """The Flotilla device of CUDA ordinal ``ordinal`` (its first
        logical device)."""
        for d, info in enumerate(self.devices):
            if info.kind == DeviceKind.CUDA and info.ordinal == ordinal:
                return d
        raise NoDeviceError(message=(
            "CUDA device %d holds the array, but this runtime does not use "
            "it (see devices, gpus and gpu_list)" % ordinal))

    def register_many(self, objs, pin=True):
        """``flo_data_register_many``: all or nothing (host-accessible
        memory only: register device arrays with ``register``)."""
        objs = list(objs)
        srcs = []
        try:
            for o in objs:
                srcs.append(_Memory(o))
                if srcs[-1].ordinal is not None:
                    raise NotSupportedError(message=(
                        "register_many takes host-accessible memory "
                        "(flo_data_register_many): register device "
                        "arrays one by one with register()"))
            n = len(srcs)
            ptrs = (c_void_p * max(n, 1))(*[s.ptr for s in srcs])
            sizes = (c_size_t * max(n, 1))(*[s.nbytes for s in srcs])
            out = (_lib.flo_data * max(n, 1))()
            check(lib.flo_data_register_many(
                self.ptr, n, ptrs, sizes,
                0 if pin else _lib.FLO_DATA_NO_PIN, out))
        except BaseException:
            for s in srcs:
                s.release()
            raise
        return [self._add(Data(self, _lib.flo_data(out[i].id, out[i].gen),
                               s.nbytes, s.dtype, s.shape, s))
                for i, s in enumerate(srcs)]

    def unregister_many(self, datas):
        """``flo_data_unregister_many``: all or nothing."""
        datas = list(datas)
        for d in datas:
            d._check_owned("unregister")
        n = len(datas)
        hs = (_lib.flo_data * max(n, 1))(*[d._h for d in datas])
        check(lib.flo_data_unregister_many(self.ptr, n, hs))
        for d in datas:
            self._forget(d)

    def alloc(self, shape, dtype=np.uint8):
        """``flo_data_alloc``: memory owned by the runtime, for ``shape``
        elements of ``dtype`` (an int shape is a length)."""
        dtype = np.dtype(dtype)
        shape = (shape,) if np.isscalar(shape) else tuple(shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        out = _lib.flo_data()
        check(lib.flo_data_alloc(self.ptr, nbytes, byref(out)))
        return self._add(Data(self, out, nbytes, dtype, shape, None))

    def _add(self, d):
        self._data[(d._h.id, d._h.gen)] = d
        return d

    def _forget(self, d):
        self._data.pop((d._h.id, d._h.gen), None)
        d._dead()

    # -- tasks

    def submit(self, kernel, access=(), args=(), *, priority=0, device=None,
               worker=None, deps=(), name=None):
        """Submit a task (``flo_task_submit``); returns its Event.

        ``kernel``: a :class:`Kernel` (Python entry points), a plain
        callable (a host-only Kernel), or a :class:`CKernel` (C entry
        points). ``access``: entries ``R(d)``, ``W(d)``, ``RW(d)`` (or
        ``(data, mode)`` pairs), in the order of ``ctx.buffer(i)``.
        ``args``: for a Python kernel, extra positional arguments of the
        entry point, ``fn(ctx, *args)`` (any Python objects, kept until
        the task has finished); for a CKernel, a bytes-like object or a
        ctypes instance whose bytes are copied (``.args``).
        ``device=d`` runs it on device d (``FLO_DEVICE(d)``),
        ``worker=w`` on worker w; ``deps``: Events it waits for.
        Errors are raised as at the C call; on error nothing was
        submitted.
        """
        if not isinstance(kernel, (Kernel, CKernel)):
            if not callable(kernel):
                raise InvalidArgumentError(message=(
                    "submit: kernel must be a Kernel, a CKernel or a "
                    "callable"))
            kernel = Kernel(host=kernel)
        rtp = self.ptr
        access = list(access)
        acc = (_lib.flo_access_desc * max(len(access), 1))()
        metas = []
        for i, e in enumerate(access):
            try:
                d, mode = e
            except (TypeError, ValueError):
                raise InvalidArgumentError(message=(
                    "access entry %d is not R(d), W(d) or RW(d)" % i)) \
                    from None
            if not isinstance(d, Data):
                raise InvalidArgumentError(message=(
                    "access entry %d names no Data handle" % i))
            mode = _enum(Access, mode, "access mode")
            acc[i].data = d._h
            acc[i].mode = mode
            metas.append((d.dtype, d.shape, mode))
        deps = list(deps)
        dv = (_lib.flo_event * max(len(deps), 1))()
        for i, e in enumerate(deps):
            if not isinstance(e, Event):
                raise InvalidArgumentError(message=(
                    "deps entry %d is not an Event" % i))
            dv[i] = e._ev
        desc = _lib.flo_task_desc()
        desc.size = ctypes.sizeof(desc)
        desc.access = acc
        desc.naccess = len(access)
        desc.deps = dv
        desc.ndeps = len(deps)
        desc.priority = int(priority)
        desc.on_device = 0 if device is None else int(device) + 1
        desc.on_worker = 0 if worker is None else int(worker) + 1
        desc.name = self._name(name)
        k = _lib.flo_kernel()
        k.name = self._name(kernel.name)
        ev = _lib.flo_event()
        if isinstance(kernel, CKernel):
            k.host = kernel.host
            k.cuda = kernel.cuda
            desc.kernel = ctypes.pointer(k)
            blob = _blob(args)
            if blob is not None:
                desc.args = ctypes.addressof(blob)
                desc.args_size = ctypes.sizeof(blob)
            check(lib.flo_task_submit(rtp, byref(desc), byref(ev)))
            return Event(self, ev)
        if not isinstance(args, tuple):
            args = tuple(args)
        k.host = _HOST_ADDR if kernel.host is not None else None
        k.cuda = _CUDA_ADDR if kernel.cuda is not None else None
        desc.kernel = ctypes.pointer(k)
        tid = next(_ids)
        blob = c_uint64(tid)
        desc.args = ctypes.addressof(blob)
        desc.args_size = 8
        desc.callback = _DONE_ADDR
        desc.callback_arg = tid
        _tasks[tid] = _PyTask(self, kernel, args, metas)
        try:
            check(lib.flo_task_submit(rtp, byref(desc), byref(ev)))
        except BaseException:
            _tasks.pop(tid, None)
            raise
        return Event(self, ev)

    def wait_all(self):
        """``flo_wait_all``: wait for every task; raise the first error
        since the previous wait_all, with the task's message."""
        st = lib.flo_wait_all(self.ptr)
        if st < 0:
            raise error_for(st, self.error_message())

    def error_message(self, event=None):
        """``flo_error_message``: the failure message of ``event``, or of
        the first failure the last wait_all reported; None if unknown."""
        buf = (c_char * 4096)()
        ev = event._ev if event is not None else _lib.flo_event()
        st = lib.flo_error_message(self.ptr, ev, buf, len(buf))
        if st == Status.ERANGE:
            return None
        check(st)
        return buf.value.decode("utf-8", "replace")

    # -- arrays

    def array(self, n, dtype=np.float64, *, nblocks=0, devices=None,
              weights=None):
        """``flo_array_create``: n elements of dtype, zeros."""
        from .array import Array
        return Array._create(self, n, dtype, None, nblocks, devices,
                             weights)

    def array_from(self, src, *, nblocks=0, devices=None, weights=None):
        """``flo_array_create_from_host``: an array with the elements of
        the 1-D NumPy array ``src`` (copied)."""
        from .array import Array
        src = np.ascontiguousarray(src)
        if src.ndim != 1:
            raise InvalidArgumentError(message="array_from: src is not 1-D")
        return Array._create(self, src.shape[0], src.dtype, src, nblocks,
                             devices, weights)


@atexit.register
def _finalize_all():
    with _live_lock:
        live = list(_live)
    for rt in live:
        try:
            rt.finalize()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


def _blob(args):
    """A ctypes object with the bytes of args (bytes-like or a ctypes
    instance), or None for no arguments."""
    if args is None or (isinstance(args, (tuple, list)) and not args):
        return None
    if isinstance(args, ctypes._SimpleCData) or isinstance(
            args, (ctypes.Structure, ctypes.Union, ctypes.Array)):
        return args
    try:
        mv = memoryview(args).cast("B")
    except TypeError:
        raise InvalidArgumentError(message=(
            "CKernel arguments must be bytes-like or a ctypes instance"))\
            from None
    return (c_char * len(mv)).from_buffer_copy(mv)


# ---- Memory behind a handle -----------------------------------------------

class _Kept:
    """An object kept alive while a handle is registered."""

    def __init__(self, obj):
        self.obj = obj

    def release(self):
        self.obj = None


class _Memory:
    """The memory of an object, held while registered: host-accessible
    (ordinal None) or device memory of CUDA device ``ordinal``."""

    def __init__(self, obj):
        self.obj = obj
        self.ordinal = None
        self._export = None
        self._dl = None
        self._mv = None
        if isinstance(obj, np.ndarray):
            # Any dtype (structured, datetime...), described exactly. The
            # reference held here makes ndarray.resize refuse.
            if not obj.flags.writeable:
                raise InvalidArgumentError(message=(
                    "read-only array: the runtime writes the data back "
                    "into it"))
            if not obj.flags.c_contiguous:
                raise InvalidArgumentError(message=(
                    "array is not C-contiguous: register "
                    "numpy.ascontiguousarray(x) instead"))
            self.dtype, self.shape = obj.dtype, obj.shape
            self.nbytes = obj.nbytes
            self.ptr = obj.ctypes.data if obj.nbytes else 0
            return
        try:
            mv = memoryview(obj)
        except (TypeError, ValueError):
            mv = None
        if mv is not None:
            if mv.readonly:
                raise InvalidArgumentError(message=(
                    "read-only buffer: the runtime writes the data back "
                    "into it"))
            if not mv.c_contiguous:
                raise InvalidArgumentError(message=(
                    "buffer is not C-contiguous: register "
                    "numpy.ascontiguousarray(x) instead"))
            arr = np.asarray(mv)
            self.dtype, self.shape = arr.dtype, arr.shape
            self.nbytes = mv.nbytes
            self._export = (c_char * max(mv.nbytes, 1)).from_buffer(
                mv.cast("B")) if mv.nbytes else None
            self.ptr = ctypes.addressof(self._export) if mv.nbytes else 0
            self._mv = mv
            return
        if hasattr(obj, "__cuda_array_interface__"):
            self.ptr, self.nbytes, self.dtype, self.shape, self.ordinal = \
                _cuda.from_cuda_array_interface(obj)
            return
        if hasattr(obj, "__dlpack__"):
            self._dl = _cuda.from_dlpack(obj)
            self.ptr, self.nbytes = self._dl.ptr, self._dl.nbytes
            self.dtype, self.shape = self._dl.dtype, self._dl.shape
            self.ordinal = self._dl.ordinal
            return
        raise InvalidArgumentError(message=(
            "cannot register a %s: it has neither the buffer protocol, "
            "__cuda_array_interface__ nor __dlpack__" % type(obj).__name__))

    def release(self):
        self._export = None
        if self._mv is not None:
            self._mv.release()
            self._mv = None
        if self._dl is not None:
            self._dl.release()
            self._dl = None
        self.obj = None


# ---- Data handles -----------------------------------------------------------

class Data:
    """A data handle (``flo_data``).

    Made by ``Runtime.register`` (over user memory), ``Runtime.alloc``
    (runtime memory) or ``Array.block`` (a block of an array, owned by
    the array). ``dtype`` and ``shape`` describe the buffer as tasks and
    acquires see it. A context manager: leaving the block unregisters it.
    """

    def __init__(self, rt, h, nbytes, dtype, shape, src, owner=None):
        self.runtime = rt
        self._h = _lib.flo_data(h.id, h.gen)
        self.nbytes = nbytes
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self._src = src
        self._owner = owner
        self._alive = True

    @property
    def handle(self):
        """(id, gen) of the flo_data value."""
        return (self._h.id, self._h.gen)

    @property
    def registered(self):
        return self._alive

    def _dead(self):
        self._alive = False
        if self._src is not None:
            self._src.release()
            self._src = None

    def _check_owned(self, what):
        if self._owner is not None:
            raise InvalidArgumentError(message=(
                "%s: this handle belongs to an array" % what))

    def unregister(self):
        """``flo_data_unregister``: wait for the tasks using it, write the
        data back into the registered object and release it."""
        self._check_owned("unregister")
        check(lib.flo_data_unregister(self.runtime.ptr, self._h))
        self.runtime._forget(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._alive and not self.runtime.closed:
            self.unregister()
        return False

    def size(self):
        """``flo_data_size`` in bytes."""
        n = c_size_t()
        check(lib.flo_data_size(self.runtime.ptr, self._h, byref(n)))
        return n.value

    def prefetch(self, device):
        """``flo_data_prefetch``: start making it valid on device."""
        check(lib.flo_data_prefetch(self.runtime.ptr, self._h, device))

    def flush(self):
        """``flo_data_flush``: start copying it home."""
        check(lib.flo_data_flush(self.runtime.ptr, self._h))

    def acquire(self, mode=Access.READ):
        """``flo_data_acquire``: wait for the conflicting tasks, bring a
        valid copy to host memory and return it as a NumPy array (of the
        handle's dtype and shape; read-only for READ). Pair with
        ``release()`` on the same thread, or use ``with
        d.acquired(mode) as a:``. Raises the last writer's error (the data
        is then still acquired: release it)."""
        mode = _enum(Access, mode, "access mode")
        # flo_data_acquire writes *ptr exactly when the acquire is held,
        # also when it reports an error (the last writer's): an address
        # no allocation has tells the two cases apart.
        p = c_void_p(_NOT_WRITTEN)
        st = lib.flo_data_acquire(self.runtime.ptr, self._h, mode, byref(p))
        if st < 0:
            e = error_for(st)
            if p.value != _NOT_WRITTEN:
                e.message += " (the last writer failed; the handle is " \
                    "acquired all the same: release it)"
                e.acquired = True
            raise e
        return _host_view(p.value, self.nbytes, self.dtype, self.shape,
                          mode == Access.READ)

    def release(self):
        """``flo_data_release``."""
        check(lib.flo_data_release(self.runtime.ptr, self._h))

    def acquired(self, mode=Access.READ):
        """Context manager: acquire, yield the NumPy view, release."""
        return _Acquired(self, mode)

    def __repr__(self):
        return "Data(id=%#x, gen=%d, %s%s%s)" % (
            self._h.id, self._h.gen, self.dtype, list(self.shape),
            "" if self._alive else ", unregistered")


_NOT_WRITTEN = 1


class _Acquired:
    def __init__(self, d, mode):
        self.d, self.mode = d, mode

    def __enter__(self):
        try:
            return self.d.acquire(self.mode)
        except Error as e:
            if getattr(e, "acquired", False):
                self.d.release()
            raise

    def __exit__(self, *exc):
        self.d.release()
        return False


def _host_view(ptr, nbytes, dtype, shape, readonly):
    if nbytes == 0 or ptr is None:
        return np.empty(shape, dtype)
    buf = (c_char * nbytes).from_address(ptr)
    a = np.frombuffer(buf, dtype=np.uint8).view(dtype)
    if shape is not None and a.size == int(np.prod(shape, dtype=np.int64)):
        a = a.reshape(shape)
    if readonly:
        a.flags.writeable = False
    return a


# ---- Events ---------------------------------------------------------------

class Event:
    """A submitted task (``flo_event``)."""

    __slots__ = ("runtime", "_ev")

    def __init__(self, rt, ev):
        self.runtime = rt
        self._ev = _lib.flo_event(ev.id, ev.gen)

    @property
    def handle(self):
        return (self._ev.id, self._ev.gen)

    def wait(self):
        """``flo_event_wait``: raise the task's error, with its message."""
        st = lib.flo_event_wait(self.runtime.ptr, self._ev)
        if st < 0:
            raise error_for(st, self._message(st))

    def query(self):
        """``flo_event_query``: True when finished (raises its error),
        False while it runs."""
        st = lib.flo_event_query(self.runtime.ptr, self._ev)
        if st == Status.INPROGRESS:
            return False
        if st < 0:
            raise error_for(st, self._message(st))
        return True

    def _message(self, st):
        try:
            m = self.runtime.error_message(self)
        except Error:
            m = None
        return m or _lib.lib.flo_status_str(st).decode()

    def __repr__(self):
        return "Event(id=%#x, gen=%d)" % (self._ev.id, self._ev.gen)


# ---- Kernels and tasks ------------------------------------------------------

class Kernel:
    """Entry points written in Python: ``host(ctx, *args)`` runs on a host
    worker, ``cuda(ctx, *args)`` on a GPU worker, where it only enqueues
    work on ``ctx.stream`` (CuPy: ``with ctx.cupy_stream(): ...``). At
    least one must be given. ``name`` labels the tasks in traces (default:
    the host function's name).

    An exception raised by an entry point fails the task: with the
    status of a flotilla.Error, else FLO_ETASK; the message is the
    traceback.
    """

    def __init__(self, host=None, cuda=None, name=None):
        if host is None and cuda is None:
            raise InvalidArgumentError(message=(
                "Kernel needs a host or a cuda entry point"))
        for f in (host, cuda):
            if f is not None and not callable(f):
                raise InvalidArgumentError(message=(
                    "Kernel entry points must be callable"))
        self.host = host
        self.cuda = cuda
        if name is None:
            f = host if host is not None else cuda
            name = getattr(f, "__name__", "python")
        self.name = name


class CKernel:
    """Entry points in C (``void fn(flo_task_ctx *)``), given as addresses
    (ints) or ctypes function pointers: from a shared library loaded with
    ctypes, a ``numba.cfunc``, ... They run without the GIL. Their
    arguments are bytes (``submit(..., args=bytes_or_ctypes)``)."""

    def __init__(self, name=None, host=None, cuda=None):
        self.host = _addr(host)
        self.cuda = _addr(cuda)
        if self.host is None and self.cuda is None:
            raise InvalidArgumentError(message=(
                "CKernel needs a host or a cuda entry point"))
        self.name = name


def _addr(f):
    if f is None:
        return None
    if isinstance(f, int):
        return f or None
    return ctypes.cast(f, c_void_p).value


class _PyTask:
    __slots__ = ("rt", "kernel", "args", "metas")

    def __init__(self, rt, kernel, args, metas):
        self.rt = rt
        self.kernel = kernel
        self.args = args
        self.metas = metas


# Python tasks in flight: id (the task's argument bytes) -> _PyTask. An
# entry is added before flo_task_submit and removed by the completion
# callback, which runs once per task whether it ran, failed or was
# canceled. Dict operations are atomic under the GIL.
_tasks = {}
_ids = itertools.count(1)


class TaskContext:
    """What a Python entry point sees (``flo_task_ctx``). Valid only during
    the call; its arrays too (and, on a GPU, the work enqueued on the
    task's stream)."""

    __slots__ = ("_ctx", "_metas", "_rt", "_on_gpu", "_ordinal")

    def __init__(self, ctxp, metas, rt, on_gpu):
        self._ctx = ctxp
        self._metas = metas
        self._rt = rt
        self._on_gpu = on_gpu
        self._ordinal = None

    def _p(self):
        if self._ctx is None:
            raise InvalidArgumentError(message=(
                "task context used after its entry point returned"))
        return self._ctx

    @property
    def nbuffers(self):
        return len(self._metas)

    def buffer_ptr(self, i):
        """``flo_task_buffer``: address of buffer i on the task's device."""
        p = lib.flo_task_buffer(self._p(), i)
        if p is None:
            raise IndexError("task has no buffer %d" % i)
        return p

    def buffer_size(self, i):
        """``flo_task_buffer_size`` in bytes."""
        self.buffer_ptr(i)
        return lib.flo_task_buffer_size(self._p(), i)

    def _typed(self, i, dtype, shape):
        p = self.buffer_ptr(i)
        n = lib.flo_task_buffer_size(self._p(), i)
        mdtype, mshape, mode = self._metas[i]
        if dtype is None:
            dtype, dshape = mdtype, mshape
        else:
            dtype, dshape = np.dtype(dtype), None
        if n % dtype.itemsize:
            raise InvalidArgumentError(message=(
                "buffer %d (%d bytes) is not an array of %s" % (
                    i, n, dtype)))
        count = n // dtype.itemsize
        if shape is not None:
            shape = tuple(shape)
        elif dshape is not None and \
                int(np.prod(dshape, dtype=np.int64)) == count:
            shape = dshape
        else:
            shape = (count,)
        if int(np.prod(shape, dtype=np.int64)) != count:
            raise InvalidArgumentError(message=(
                "buffer %d has %d elements, not shape %s" % (i, count,
                                                             shape)))
        return p, n, dtype, shape, mode == Access.READ

    def buffer(self, i, dtype=None, shape=None):
        """Buffer i as a NumPy array, without a copy (host tasks). By
        default of the handle's dtype and shape; read-only when the task
        only reads it."""
        if self._on_gpu:
            raise InvalidArgumentError(message=(
                "buffer(): GPU task; use device_buffer() or cupy_array()"))
        p, n, dtype, shape, ro = self._typed(i, dtype, shape)
        return _host_view(p, n, dtype, shape, ro)

    def device_buffer(self, i, dtype=None, shape=None):
        """Buffer i as a flotilla.cuda.DeviceBuffer (GPU tasks): device
        pointer, size, dtype and shape, with __cuda_array_interface__."""
        if not self._on_gpu:
            raise InvalidArgumentError(message=(
                "device_buffer(): host task; use buffer()"))
        p, n, dtype, shape, ro = self._typed(i, dtype, shape)
        return _cuda.DeviceBuffer(p, n, dtype, shape, ro, self.device,
                                  self.ordinal)

    def cupy_array(self, i, dtype=None, shape=None):
        """Buffer i as a cupy.ndarray, without a copy (GPU tasks)."""
        return _cuda.cupy_array(self.device_buffer(i, dtype, shape))

    @property
    def stream(self):
        """``flo_task_stream``: the cudaStream_t as an int; None on the
        host."""
        return lib.flo_task_stream(self._p())

    def cupy_stream(self):
        """The task's stream as a cupy.cuda.ExternalStream."""
        s = self.stream
        if s is None:
            raise InvalidArgumentError(message="host task: no stream")
        return _cuda.cupy_stream(s, self.ordinal)

    @property
    def ordinal(self):
        """CUDA ordinal of the task's GPU; -1 on the host."""
        if self._ordinal is None:
            self._ordinal = _cuda.task_ordinal(self._p()) \
                if self._on_gpu else -1
        return self._ordinal

    @property
    def worker(self):
        return lib.flo_task_worker(self._p())

    @property
    def device(self):
        return lib.flo_task_device(self._p())

    @property
    def runtime(self):
        """The Runtime, to submit more tasks from inside this one."""
        self._p()
        return self._rt

    def fail(self, message, status=Status.ETASK):
        """``flo_task_fail``: the task fails with status (FLO_ETASK unless
        a negative error) and message; the first call wins."""
        _lib.task_fail(self._p(), int(status), str(message))


def _fail_with_exception(ctxp, kname):
    """Fail the task with the exception being handled: its status if it
    is a flotilla.Error with a negative one, else FLO_ETASK; the
    traceback as message."""
    exc = sys.exc_info()[1]
    st = Status.ETASK
    if isinstance(exc, Error) and isinstance(exc.status, int) and \
            int(exc.status) < 0:
        st = int(exc.status)
    _lib.task_fail(ctxp, st, "task '%s' raised %s" % (
        kname, traceback.format_exc()))


def _run(ctxp, on_gpu):
    ap = lib.flo_task_args_as(ctxp, 8)
    entry = _tasks.get(c_uint64.from_address(ap).value) if ap else None
    if entry is None:
        _lib.task_fail(ctxp, Status.EINTERNAL,
                       "python task: no entry for this task")
        return
    fn = entry.kernel.cuda if on_gpu else entry.kernel.host
    ctx = TaskContext(ctxp, entry.metas, entry.rt, on_gpu)
    try:
        fn(ctx, *entry.args)
    except BaseException:  # noqa: BLE001 - becomes the task's failure
        _fail_with_exception(ctxp, entry.kernel.name)
    finally:
        ctx._ctx = None


def _host_entry(ctxp):
    _run(ctxp, False)


def _cuda_entry(ctxp):
    _run(ctxp, True)


def _done(user, status):
    _tasks.pop(user, None)


# The C trampolines live as long as the module (the runtime keeps their
# addresses in task records).
_HOST_FN = _lib.TASK_FN(_host_entry)
_CUDA_FN = _lib.TASK_FN(_cuda_entry)
_DONE_FN = _lib.CALLBACK_FN(_done)
_HOST_ADDR = ctypes.cast(_HOST_FN, c_void_p).value
_CUDA_ADDR = ctypes.cast(_CUDA_FN, c_void_p).value
_DONE_ADDR = ctypes.cast(_DONE_FN, c_void_p).value
