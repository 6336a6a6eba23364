"""GPU interop: device buffers for CUDA entry points, CuPy helpers,
``__cuda_array_interface__`` and DLPack.

Inside a CUDA entry point (a Python callable run on a GPU worker), each
buffer of the task is device memory of the task's GPU. Flotilla hands it
out as a :class:`DeviceBuffer`: a pointer, a size, a dtype and a shape,
exposed through ``__cuda_array_interface__`` (version 3) so that CuPy
(``cupy.asarray``), Numba (``numba.cuda.as_cuda_array``), PyTorch
(``torch.as_tensor``) and others wrap it without a copy. The work must be
enqueued on the task's stream (``ctx.stream``, ``ctx.cupy_stream()``):
the interface has no ``stream`` entry (None: no synchronisation by the
consumer), because the buffers are ready in the order of that stream.

Registering GPU memory as a data handle: an object that exposes its
memory through ``__cuda_array_interface__`` or DLPack is registered
without a copy. Device memory (``cudaMalloc``, CuPy's default) goes
through ``flo_data_register_device``: it becomes the handle's only valid
copy, on the Flotilla device of its CUDA ordinal, used in place by the
tasks on that GPU and never freed by the runtime; host tasks and
acquires get a host copy, and unregistering writes the latest contents
back into it. Host-accessible memory (CUDA managed memory, e.g.
``cupy.cuda.malloc_managed``, or page-locked host memory) is registered
as host memory (``flo_data_register``).
"""

import ctypes
import ctypes.util
import sys

import numpy as np

from . import _lib
from .errors import InvalidArgumentError, NotSupportedError

# cudaMemoryType (driver_types.h).
MEMORY_UNREGISTERED = 0
MEMORY_HOST = 1
MEMORY_DEVICE = 2
MEMORY_MANAGED = 3

# DLDeviceType (dlpack.h).
DL_CPU = 1
DL_CUDA = 2
DL_CUDA_HOST = 3
DL_CUDA_MANAGED = 13


class DeviceBuffer:
    """One buffer of a task, in the memory of the task's GPU.

    Attributes: ``ptr`` (int), ``nbytes``, ``dtype`` (numpy.dtype),
    ``shape`` (tuple), ``readonly`` (the task only reads it),
    ``device`` (Flotilla device index). Valid only while the task runs
    (until the work enqueued on its stream has completed).
    """

    __slots__ = ("ptr", "nbytes", "dtype", "shape", "readonly", "device",
                 "ordinal")

    def __init__(self, ptr, nbytes, dtype, shape, readonly, device,
                 ordinal=-1):
        self.ptr = ptr
        self.nbytes = nbytes
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.readonly = readonly
        self.device = device
        self.ordinal = ordinal

    @property
    def __cuda_array_interface__(self):
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, self.readonly),
            "strides": None,
            "stream": None,
            "version": 3,
        }

    def __repr__(self):
        return "DeviceBuffer(ptr=0x%x, nbytes=%d, dtype=%s, shape=%s)" % (
            self.ptr, self.nbytes, self.dtype, self.shape)


def _cupy():
    try:
        import cupy
    except ImportError as e:
        raise NotSupportedError(message="CuPy is not installed: %s" % e) \
            from None
    return cupy


def cupy_array(buf):
    """A cupy.ndarray over a DeviceBuffer, without a copy.

    It keeps ``buf`` alive; like the buffer, it is valid only during the
    task (and the work it enqueued on the task's stream).
    """
    cupy = _cupy()
    mem = cupy.cuda.UnownedMemory(buf.ptr, buf.nbytes, buf, buf.ordinal)
    return cupy.ndarray(buf.shape, buf.dtype,
                        cupy.cuda.MemoryPointer(mem, 0))


def cupy_stream(stream, ordinal=-1):
    """cupy.cuda.ExternalStream over a cudaStream_t given as an int."""
    cupy = _cupy()
    try:
        return cupy.cuda.ExternalStream(stream, ordinal)
    except TypeError:  # CuPy < 10: no device_id.
        return cupy.cuda.ExternalStream(stream)


# ---- Memory type of a pointer --------------------------------------------

_cudart = None


def _load_cudart():
    global _cudart
    if _cudart is not None:
        return _cudart
    names = []
    found = ctypes.util.find_library("cudart")
    if found:
        names.append(found)
    names += ["libcudart.so", "libcudart.so.13", "libcudart.so.12",
              "libcudart.so.11.0"]
    for n in names:
        try:
            lib = ctypes.CDLL(n)
        except OSError:
            continue
        f = lib.cudaPointerGetAttributes
        f.restype = ctypes.c_int
        f.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.cudaGetLastError.restype = ctypes.c_int
        lib.cudaGetDevice.restype = ctypes.c_int
        lib.cudaGetDevice.argtypes = [ctypes.POINTER(ctypes.c_int)]
        lib.cudaSetDevice.restype = ctypes.c_int
        lib.cudaSetDevice.argtypes = [ctypes.c_int]
        lib.cudaStreamSynchronize.restype = ctypes.c_int
        lib.cudaStreamSynchronize.argtypes = [ctypes.c_void_p]
        _cudart = lib
        return lib
    return None


def pointer_attributes(ptr):
    """(cudaMemoryType, device ordinal) of ptr (MEMORY_*), or None when no
    CUDA runtime can be loaded or CUDA does not know the pointer. Uses
    CuPy when it is imported, else libcudart."""
    if "cupy" in sys.modules:
        cupy = sys.modules["cupy"]
        try:
            a = cupy.cuda.runtime.pointerGetAttributes(ptr)
            return int(a.type), int(a.device)
        except Exception:  # noqa: BLE001 - fall back to libcudart
            pass
    lib = _load_cudart()
    if lib is None:
        return None
    # struct cudaPointerAttributes { enum cudaMemoryType type; int device;
    # void *devicePointer; void *hostPointer; } (CUDA 11 and later); the
    # buffer is larger in case a later release appends fields.
    attrs = (ctypes.c_int * 32)()
    if lib.cudaPointerGetAttributes(ctypes.addressof(attrs), ptr) != 0:
        lib.cudaGetLastError()
        return None
    return int(attrs[0]), int(attrs[1])


def memory_type(ptr):
    """cudaMemoryType of ptr (MEMORY_*), or None when no CUDA runtime can
    be loaded."""
    a = pointer_attributes(ptr)
    return None if a is None else a[0]


def _device_ordinal(ptr, what):
    """None for host-accessible memory (managed or page-locked), else the
    CUDA ordinal of the device memory ptr points to."""
    a = pointer_attributes(ptr)
    if a is None:
        raise NotSupportedError(message=(
            "%s: cannot tell where its memory is (no CUDA runtime could "
            "be loaded)" % what))
    if a[0] in (MEMORY_MANAGED, MEMORY_HOST):
        return None
    if a[0] != MEMORY_DEVICE:
        raise NotSupportedError(message=(
            "%s: memory of an unknown kind (cudaMemoryType %d)"
            % (what, a[0])))
    return a[1]


def synchronize(stream, ordinal):
    """cudaStreamSynchronize(stream) with the device of ordinal current:
    the work the producer of an array enqueued on stream (an int handle;
    1 is the legacy default stream, 2 the per-thread one) is complete
    before the runtime's own streams use the memory."""
    if "cupy" in sys.modules:
        cupy = sys.modules["cupy"]
        with cupy.cuda.Device(ordinal):
            cupy.cuda.runtime.streamSynchronize(stream)
        return
    lib = _load_cudart()
    if lib is None:
        raise NotSupportedError(message="no CUDA runtime could be loaded")
    old = ctypes.c_int(-1)
    lib.cudaGetDevice(ctypes.byref(old))
    try:
        if lib.cudaSetDevice(ordinal) != 0 or \
                lib.cudaStreamSynchronize(ctypes.c_void_p(stream)) != 0:
            lib.cudaGetLastError()
            raise InvalidArgumentError(message=(
                "cannot synchronize stream %#x of CUDA device %d"
                % (stream, ordinal)))
    finally:
        if old.value >= 0:
            lib.cudaSetDevice(old.value)


# ---- __cuda_array_interface__ --------------------------------------------

def _check_contiguous(shape, strides, itemsize, what):
    if strides is None:
        return
    expect = itemsize
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != expect:
            raise InvalidArgumentError(message=(
                "%s is not C-contiguous: register a contiguous copy"
                % what))
        expect *= n


def from_cuda_array_interface(obj):
    """(ptr, nbytes, dtype, shape, ordinal) of an object with
    ``__cuda_array_interface__``: ordinal is None for host-accessible
    memory, else the CUDA ordinal of its device memory. The producer's
    stream (the interface's ``stream``, version 3) is synchronized
    first, so that the memory is complete for the runtime's streams."""
    cai = obj.__cuda_array_interface__
    ptr, readonly = cai["data"]
    dtype = np.dtype(cai["typestr"])
    shape = tuple(cai["shape"])
    if readonly:
        raise InvalidArgumentError(message=(
            "read-only CUDA array: the runtime writes the data back"))
    _check_contiguous(shape, cai.get("strides"), dtype.itemsize,
                      "CUDA array")
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    ordinal = None
    if nbytes > 0:
        ordinal = _device_ordinal(ptr, "CUDA array")
        stream = cai.get("stream")
        if isinstance(stream, int) and stream != 0:
            dev = ordinal
            if dev is None:  # Managed memory: the device it was made on.
                dev = pointer_attributes(ptr)[1]
            if dev >= 0:
                synchronize(stream, dev)
    return ptr, nbytes, dtype, shape, ordinal


# ---- DLPack ---------------------------------------------------------------

class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32),
                ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice),
                ("ndim", ctypes.c_int32), ("dtype", _DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


# The deleter is called with the GIL held (PYFUNCTYPE): producers such as
# NumPy drop a Python reference in it.
_DELETER = ctypes.PYFUNCTYPE(None, ctypes.c_void_p)


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


_capsule_get = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get.restype = ctypes.c_void_p
_capsule_get.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_valid.restype = ctypes.c_int
_capsule_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_rename = ctypes.pythonapi.PyCapsule_SetName
_capsule_rename.restype = ctypes.c_int
_capsule_rename.argtypes = [ctypes.py_object, ctypes.c_char_p]

_DL_CODES = {0: "i", 1: "u", 2: "f"}


class DLPackTensor:
    """A DLPack tensor consumed from a capsule: owns the
    DLManagedTensor and calls its deleter on release()."""

    def __init__(self, obj):
        cap = obj.__dlpack__()
        if not _capsule_valid(cap, b"dltensor"):
            raise InvalidArgumentError(message=(
                "__dlpack__ did not return an unused 'dltensor' capsule"))
        self._addr = _capsule_get(cap, b"dltensor")
        # Take ownership: a renamed capsule no longer deletes the tensor.
        _capsule_rename(cap, b"used_dltensor")
        try:
            t = _DLManagedTensor.from_address(self._addr).dl_tensor
            if t.dtype.code not in _DL_CODES or t.dtype.lanes != 1:
                raise InvalidArgumentError(message=(
                    "DLPack tensor of an unsupported type (code %d, "
                    "lanes %d)" % (t.dtype.code, t.dtype.lanes)))
            self.dtype = np.dtype("%s%d" % (_DL_CODES[t.dtype.code],
                                            t.dtype.bits // 8))
            self.shape = tuple(t.shape[i] for i in range(t.ndim))
            strides = None
            if t.strides:
                strides = [t.strides[i] * self.dtype.itemsize
                           for i in range(t.ndim)]
            _check_contiguous(self.shape, strides, self.dtype.itemsize,
                              "DLPack tensor")
            self.ptr = (t.data or 0) + t.byte_offset
            self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * \
                self.dtype.itemsize
            dev = t.device.device_type
            # Device memory: the CUDA ordinal (flo_data_register_device);
            # None for host-accessible memory.
            self.ordinal = None
            if dev == DL_CUDA:
                self.ordinal = int(t.device.device_id)
                # __dlpack__() without a stream: the producer ordered its
                # work before the legacy default stream (the DLPack
                # protocol), which is waited for here.
                if self.nbytes:
                    synchronize(1, self.ordinal)
            elif dev not in (DL_CPU, DL_CUDA_HOST, DL_CUDA_MANAGED):
                raise NotSupportedError(message=(
                    "DLPack tensor on device type %d" % dev))
        except BaseException:
            self.release()
            raise

    def release(self):
        """Call the producer's deleter (once)."""
        addr, self._addr = self._addr, None
        if addr:
            m = _DLManagedTensor.from_address(addr)
            if m.deleter:
                _DELETER(m.deleter)(addr)


def from_dlpack(obj):
    """A DLPackTensor (ptr, nbytes, dtype, shape, ordinal) of an object
    with ``__dlpack__``: ordinal None for host-accessible memory, else
    the CUDA ordinal of its device memory."""
    return DLPackTensor(obj)


def task_ordinal(ctxp):
    """CUDA ordinal of the task's GPU, or -1 (a build without CUDA)."""
    f = getattr(_lib.lib, "flo_task_cuda_ordinal", None)
    if f is None:
        return -1
    f.restype = ctypes.c_int
    f.argtypes = [ctypes.c_void_p]
    return f(ctxp)
