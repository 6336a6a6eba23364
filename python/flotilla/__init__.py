"""Flotilla for Python: the multi-GPU task runtime, over ctypes.

A thin layer over libflotilla's C API (include/flotilla.h): the same
objects and calls, with Python errors and NumPy arrays. See
python/README.md for a first program, and docs/guide.md for the ideas.

    import numpy as np
    import flotilla as flo

    x = np.arange(8.0)
    with flo.Runtime(host_workers=2) as rt:
        with rt.register(x) as hx:
            rt.submit(lambda ctx: ctx.buffer(0).__imul__(2), [flo.RW(hx)])
    # x is now 2 * arange(8)

Python entry points run with the GIL held: such tasks run one at a time
(see flotilla.runtime).
"""

from ._lib import VERSION as __c_version__
from ._lib import path as library_path
from .array import (Array, ArraySpan, BlockInfo, DType, RedOp,
                    ScanKind, TransformOp, flo_dtype)
from .cuda import DeviceBuffer
from .errors import (BusyError, CanceledError, CommError,
                     DataLossError, DeadlockError, DeviceError, Error,
                     ForeignError, InternalError, InvalidArgumentError,
                     NoDeviceError, NotSupportedError, OutOfMemoryError,
                     RangeError, StaleError, Status, SystemCallError,
                     TaskError, TimedOutError, TransientError, status_str)
from .runtime import (Access, CKernel, Data, DeviceInfo,
                      DeviceKind, Devices, Event, Kernel, R, RW, Runtime,
                      Sched, Stats, TaskContext, W)

__version__ = "0.1.0"

__all__ = [
    # runtime, data, tasks
    "Runtime", "Data", "Event", "Kernel", "CKernel", "TaskContext",
    "R", "W", "RW", "Access", "Sched", "Devices", "DeviceKind",
    "DeviceInfo", "Stats",
    # arrays
    "Array", "ArraySpan", "BlockInfo", "DType", "RedOp", "ScanKind",
    "TransformOp", "flo_dtype",
    # GPU
    "DeviceBuffer",
    # errors
    "Status", "status_str", "Error", "InvalidArgumentError",
    "OutOfMemoryError", "NotSupportedError", "CanceledError", "TaskError",
    "BusyError", "StaleError", "ForeignError", "DeviceError",
    "TimedOutError", "NoDeviceError", "DeadlockError", "CommError",
    "SystemCallError", "RangeError", "InternalError", "TransientError",
    "DataLossError",
    # the library
    "version", "library_path",
]


def version():
    """``flo_version_string()`` of the loaded library, e.g. "0.1.0"."""
    return __c_version__
