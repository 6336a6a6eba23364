"""Distributed arrays: transform, reduce, scan and map
(flotilla/array.h).

An Array is a typed vector cut into blocks, each a data handle on one
device. The algorithms are submitted as tasks and return an Event; the
``*_sync`` forms wait. Element order, float accuracy and the layout rules
are those of the C API (docs/algorithms.md).
"""

import ctypes
import enum
import itertools
from collections import namedtuple
from ctypes import byref, c_double, c_int, c_int64, c_uint64, c_void_p

import numpy as np

from . import _lib
from . import cuda as _cuda
from .errors import InvalidArgumentError, Status, StaleError, check
from .runtime import (Data, Event, Kernel, _enum, _fail_with_exception,
                      _host_view)

lib = _lib.lib


class DType(enum.IntEnum):
    """``flo_dtype``."""

    I32 = 0
    I64 = 1
    U32 = 2
    U64 = 3
    F32 = 4
    F64 = 5


_TO_FLO = {np.dtype(np.int32): DType.I32, np.dtype(np.int64): DType.I64,
           np.dtype(np.uint32): DType.U32, np.dtype(np.uint64): DType.U64,
           np.dtype(np.float32): DType.F32,
           np.dtype(np.float64): DType.F64}
_TO_NP = {v: k for k, v in _TO_FLO.items()}


def flo_dtype(dtype):
    """The flo_dtype of a NumPy dtype (InvalidArgumentError if none)."""
    try:
        return _TO_FLO[np.dtype(dtype).newbyteorder("=")]
    except (KeyError, TypeError):
        raise InvalidArgumentError(message=(
            "no Flotilla element type for %r (int32, int64, uint32, "
            "uint64, float32, float64)" % (dtype,))) from None


class RedOp(enum.IntEnum):
    """``flo_redop``."""

    SUM = 0
    PROD = 1
    MIN = 2
    MAX = 3


class ScanKind(enum.IntEnum):
    """``flo_scan_kind``."""

    INCLUSIVE = 0
    EXCLUSIVE = 1


class TransformOp(enum.IntEnum):
    """``flo_transform_op``: out = f(x, y)."""

    COPY = 0
    FILL = 1
    SCALE = 2
    AXPY = 3
    ADD = 4
    SUB = 5
    MUL = 6
    DIV = 7
    MIN = 8
    MAX = 9
    ABS = 10


BlockInfo = namedtuple("BlockInfo", "data device offset count")


class ArraySpan:
    """What a Python map function sees (``flo_array_span``): ``out``,
    ``x``, ``y`` (NumPy arrays on the host, DeviceBuffers on a GPU; x and
    y are None when absent and read-only), ``count``, ``offset``,
    ``stream`` (int on a GPU, None on the host), ``device``, and
    ``fail(message)``."""

    __slots__ = ("out", "x", "y", "count", "offset", "stream", "device",
                 "_ctx")

    def fail(self, message, status=Status.ETASK):
        if self._ctx is None:
            raise InvalidArgumentError(message=(
                "span used after its function returned"))
        _lib.task_fail(self._ctx, int(status), str(message))

    def cupy(self, which="out"):
        """out, x or y as a cupy.ndarray (GPU blocks)."""
        return _cuda.cupy_array(getattr(self, which))

    def cupy_stream(self):
        if self.stream is None:
            raise InvalidArgumentError(message="host block: no stream")
        return _cuda.cupy_stream(self.stream)


# Python map functions: id -> (kernel, args, dtypes). An entry belongs to
# the array the map writes, and is dropped when that array is destroyed
# (flo_array_destroy waits for every task using it).
_maps = {}
_map_ids = itertools.count(1)


def _run_map(spanp, on_gpu):
    sp = spanp.contents
    ent = None
    if sp.args and sp.args_size == 8:
        ent = _maps.get(c_uint64.from_address(sp.args).value)
    if ent is None:
        _lib.task_fail(sp.ctx, Status.EINTERNAL,
                       "python map: no entry for this task")
        return
    kernel, args, dts = ent
    fn = kernel.cuda if on_gpu else kernel.host
    s = ArraySpan()
    s.count, s.offset, s._ctx = sp.count, sp.offset, sp.ctx
    s.stream = sp.stream
    s.device = lib.flo_task_device(sp.ctx)
    n = sp.count
    ptrs = (sp.out, sp.in_[0], sp.in_[1])
    views = []
    for k, (p, dt) in enumerate(zip(ptrs, dts)):
        if dt is None or (p is None and n > 0):
            views.append(None)
            continue
        nb = n * dt.itemsize
        ro = k > 0
        if on_gpu:
            views.append(_cuda.DeviceBuffer(p or 0, nb, dt, (n,), ro,
                                            s.device,
                                            _cuda.task_ordinal(sp.ctx)))
        else:
            views.append(_host_view(p, nb, dt, (n,), ro))
    s.out, s.x, s.y = views
    try:
        fn(s, *args)
    except BaseException:  # noqa: BLE001 - becomes the task's failure
        _fail_with_exception(sp.ctx, kernel.name)
    finally:
        s._ctx = None


def _map_host(spanp):
    _run_map(spanp, False)


def _map_cuda(spanp):
    _run_map(spanp, True)


_MAP_HOST_FN = _lib.ARRAY_FN(_map_host)
_MAP_CUDA_FN = _lib.ARRAY_FN(_map_cuda)
_MAP_HOST_ADDR = ctypes.cast(_MAP_HOST_FN, c_void_p).value
_MAP_CUDA_ADDR = ctypes.cast(_MAP_CUDA_FN, c_void_p).value


def _scalar(dtype, value, what):
    if value is None:
        raise InvalidArgumentError(message="%s: a value is required" % what)
    a = np.asarray(value)
    if a.shape != ():
        raise InvalidArgumentError(message="%s: not a scalar" % what)
    return np.array(value, dtype=dtype)


def _ptr(a):
    return a.ctypes.data if a is not None else None


class Array:
    """A distributed array (``flo_array``); see Runtime.array and
    Runtime.array_from. A context manager: leaving the block destroys
    it. ``len(a)``, ``a.dtype`` (NumPy), ``a.nblocks``."""

    def __init__(self):
        raise TypeError("use Runtime.array or Runtime.array_from")

    @classmethod
    def _create(cls, rt, n, dtype, src, nblocks, devices, weights):
        self = object.__new__(cls)
        dt = flo_dtype(dtype)
        lay = _lib.flo_array_layout()
        lay.size = ctypes.sizeof(lay)
        lay.nblocks = int(nblocks)
        keep = []
        if devices is not None:
            dv = (c_int * max(len(devices), 1))(*devices)
            keep.append(dv)
            lay.devices = dv
        if weights is not None:
            wv = (c_double * max(len(weights), 1))(*weights)
            keep.append(wv)
            lay.weights = wv
        if n < 0:
            raise InvalidArgumentError(message="array: negative length")
        out = c_void_p()
        if src is None:
            check(lib.flo_array_create(rt.ptr, dt, n, byref(lay),
                                       byref(out)))
        else:
            check(lib.flo_array_create_from_host(rt.ptr, dt, n, _ptr(src),
                                                 byref(lay), byref(out)))
        self._a = out.value
        self.runtime = rt
        self.dtype = _TO_NP[dt]
        self._n = n
        self._maps = []
        rt._arrays.add(self)
        return self

    @property
    def ptr(self):
        """The ``flo_array *`` as an int."""
        if self._a is None or self.runtime.closed:
            raise StaleError(message="array already destroyed")
        return self._a

    def __len__(self):
        return self._n

    @property
    def nblocks(self):
        return lib.flo_array_nblocks(self.ptr)

    def destroy(self):
        """``flo_array_destroy``: wait for its tasks, free it."""
        if self._a is None:
            return
        check(lib.flo_array_destroy(self._a))
        self._forget()

    def _forget(self):
        self._a = None
        self.runtime._arrays.discard(self)
        for mid in self._maps:
            _maps.pop(mid, None)
        self._maps = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.runtime.closed:
            self.destroy()
        return False

    def block(self, i):
        """``flo_array_block``: BlockInfo(data, device, offset, count);
        data is a Data handle owned by the array (None for an empty
        block), to name in a task's access list."""
        info = _lib.flo_array_block_info()
        check(lib.flo_array_block(self.ptr, i, byref(info)))
        d = None
        if info.data.id != 0:
            d = Data(self.runtime, info.data, info.count *
                     self.dtype.itemsize, self.dtype, (info.count,), None,
                     owner=self)
        return BlockInfo(d, info.device, info.offset, info.count)

    def from_numpy(self, src):
        """``flo_array_from_host``: copy len(self) elements of src."""
        src = np.ascontiguousarray(src, dtype=self.dtype)
        if src.size != self._n:
            raise InvalidArgumentError(message=(
                "from_numpy: %d elements for an array of %d" % (
                    src.size, self._n)))
        check(lib.flo_array_from_host(self.ptr, _ptr(src)))

    def to_numpy(self, out=None):
        """``flo_array_to_host``: the elements as a new NumPy array (or
        into ``out``, a contiguous writable array of the same length and
        dtype)."""
        if out is None:
            out = np.empty(self._n, self.dtype)
        elif (out.dtype != self.dtype or out.size != self._n or
              not out.flags.c_contiguous or not out.flags.writeable):
            raise InvalidArgumentError(message=(
                "to_numpy: out must be a writable contiguous %s array of "
                "%d elements" % (self.dtype, self._n)))
        check(lib.flo_array_to_host(self.ptr, _ptr(out)))
        return out

    # -- transform

    def transform(self, op, x=None, y=None, alpha=None):
        """``flo_array_transform``: self = op(x, y); returns an Event.
        alpha (FILL, SCALE, AXPY) is converted to the array's type."""
        op = _enum(TransformOp, op, "transform op")
        a = None
        if op in (TransformOp.FILL, TransformOp.SCALE, TransformOp.AXPY):
            a = _scalar(self.dtype, alpha, "transform alpha")
        ev = _lib.flo_event()
        check(lib.flo_array_transform(
            self.ptr, op, x.ptr if x is not None else None,
            y.ptr if y is not None else None, _ptr(a), byref(ev)))
        return Event(self.runtime, ev)

    def transform_sync(self, op, x=None, y=None, alpha=None):
        self.transform(op, x, y, alpha).wait()

    def fill(self, value):
        """``flo_array_fill``; returns an Event."""
        v = _scalar(self.dtype, value, "fill value")
        ev = _lib.flo_event()
        check(lib.flo_array_fill(self.ptr, _ptr(v), byref(ev)))
        return Event(self.runtime, ev)

    def map(self, kernel, x=None, y=None, args=(), name=None):
        """``flo_array_map`` with Python block functions: one task per
        block calls ``fn(span, *args)`` (see ArraySpan). ``kernel`` is a
        Kernel (host and/or cuda functions of a span) or a callable (host
        only). The functions and args live until this array is
        destroyed. Returns an Event."""
        if not isinstance(kernel, Kernel):
            if not callable(kernel):
                raise InvalidArgumentError(message=(
                    "map: kernel must be a Kernel or a callable"))
            kernel = Kernel(host=kernel, name=name)
        k = _lib.flo_array_kernel()
        k.name = self.runtime._name(name or kernel.name)
        k.host = _MAP_HOST_ADDR if kernel.host is not None else None
        k.cuda = _MAP_CUDA_ADDR if kernel.cuda is not None else None
        mid = next(_map_ids)
        dts = (self.dtype, x.dtype if x is not None else None,
               y.dtype if y is not None else None)
        _maps[mid] = (kernel, tuple(args), dts)
        blob = c_uint64(mid)
        ev = _lib.flo_event()
        try:
            check(lib.flo_array_map(
                self.ptr, byref(k), x.ptr if x is not None else None,
                y.ptr if y is not None else None, byref(blob), 8,
                byref(ev)))
        except BaseException:
            _maps.pop(mid, None)
            raise
        self._maps.append(mid)
        return Event(self.runtime, ev)

    # -- reduce

    def reduce(self, op, result):
        """``flo_array_reduce`` into the Data handle result (>= 8 bytes:
        one value of the array's type at offset 0); returns an Event."""
        op = _enum(RedOp, op, "reduction op")
        ev = _lib.flo_event()
        check(lib.flo_array_reduce(self.ptr, op, _handle(result),
                                   byref(ev)))
        return Event(self.runtime, ev)

    def reduce_sync(self, op="sum"):
        """``flo_array_reduce_sync``: the result as a NumPy scalar."""
        op = _enum(RedOp, op, "reduction op")
        v = np.zeros(1, self.dtype)
        check(lib.flo_array_reduce_sync(self.ptr, op, _ptr(v)))
        return v[0]

    def argreduce(self, op, result):
        """``flo_array_argreduce`` into result (>= 16 bytes: the value at
        offset 0, the int64 index at offset 8); returns an Event."""
        op = _enum(RedOp, op, "reduction op")
        ev = _lib.flo_event()
        check(lib.flo_array_argreduce(self.ptr, op, _handle(result),
                                      byref(ev)))
        return Event(self.runtime, ev)

    def argreduce_sync(self, op="min"):
        """``flo_array_argreduce_sync``: (value, index); index -1 for an
        empty array."""
        op = _enum(RedOp, op, "reduction op")
        v = np.zeros(1, self.dtype)
        i = c_int64(0)
        check(lib.flo_array_argreduce_sync(self.ptr, op, _ptr(v), byref(i)))
        return v[0], i.value

    # -- scan

    def scan(self, x, op="sum", kind="inclusive", carry_in=None):
        """``flo_array_scan``: self = prefix scan of x (self may be x);
        returns an Event."""
        op = _enum(RedOp, op, "reduction op")
        kind = _enum(ScanKind, kind, "scan kind")
        c = None if carry_in is None else _scalar(self.dtype, carry_in,
                                                  "carry_in")
        ev = _lib.flo_event()
        check(lib.flo_array_scan(self.ptr, _arr(x), op, kind, _ptr(c),
                                 byref(ev)))
        return Event(self.runtime, ev)

    def scan_sync(self, x, op="sum", kind="inclusive", carry_in=None):
        self.scan(x, op, kind, carry_in).wait()

    def scan_carry(self, x, op, kind, carry):
        """``flo_array_scan_carry``: the carry-in read from the Data handle
        carry when the scan runs; returns an Event."""
        op = _enum(RedOp, op, "reduction op")
        kind = _enum(ScanKind, kind, "scan kind")
        ev = _lib.flo_event()
        check(lib.flo_array_scan_carry(self.ptr, _arr(x), op, kind,
                                       _handle(carry), byref(ev)))
        return Event(self.runtime, ev)


def _arr(x):
    if not isinstance(x, Array):
        raise InvalidArgumentError(message="expected an Array")
    return x.ptr


def _handle(d):
    if not isinstance(d, Data):
        raise InvalidArgumentError(message="expected a Data handle")
    return d._h


__all__ = ["Array", "ArraySpan", "BlockInfo", "DType", "RedOp", "ScanKind",
           "TransformOp", "flo_dtype"]
