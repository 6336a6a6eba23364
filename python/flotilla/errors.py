"""Status codes and the exceptions that carry them.

Every failing call raises a subclass of :class:`Error` chosen by the
``flo_status`` it returned; ``err.status`` is that status (a
:class:`Status`), ``err.message`` the message: the task's failure message
when a wait reports a failed task (``flo_error_message``), else
``flo_status_str``'s description.
"""

import enum

from . import _lib


class Status(enum.IntEnum):
    """``flo_status`` (include/flotilla/status.h)."""

    OK = 0
    INPROGRESS = 1
    EINVAL = -1
    ENOMEM = -2
    ENOTSUP = -3
    ECANCELED = -4
    ETASK = -5
    EBUSY = -6
    ESTALE = -7
    EFOREIGN = -8
    EDEVICE = -9
    ETIMEDOUT = -10
    ENODEV = -11
    EDEADLK = -12
    ECOMM = -13
    ESYS = -14
    ERANGE = -15
    EINTERNAL = -16
    EAGAIN = -17
    EDATALOSS = -18


def status_str(status):
    """``flo_status_str``: "FLO_EINVAL: invalid argument"."""
    return _lib.lib.flo_status_str(int(status)).decode()


class Error(Exception):
    """A Flotilla call failed.

    ``Error(status, message)``; raised from a task's Python entry point,
    it fails the task with that status (``flo_task_fail``).
    """

    status = Status.ETASK

    def __init__(self, status=None, message=None):
        if status is None:
            status = type(self).status
        try:
            status = Status(status)
        except ValueError:
            pass
        if message is None:
            message = status_str(status)
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self):
        name = self.status.name if isinstance(self.status, Status) \
            else str(self.status)
        return "FLO_%s: %s" % (name, self.message)


class InvalidArgumentError(Error, ValueError):
    status = Status.EINVAL


class OutOfMemoryError(Error, MemoryError):
    status = Status.ENOMEM


class NotSupportedError(Error, NotImplementedError):
    status = Status.ENOTSUP


class CanceledError(Error):
    status = Status.ECANCELED


class TaskError(Error):
    status = Status.ETASK


class BusyError(Error):
    status = Status.EBUSY


class StaleError(Error):
    status = Status.ESTALE


class ForeignError(Error):
    status = Status.EFOREIGN


class DeviceError(Error):
    status = Status.EDEVICE


class TimedOutError(Error, TimeoutError):
    status = Status.ETIMEDOUT


class NoDeviceError(Error):
    status = Status.ENODEV


class DeadlockError(Error):
    status = Status.EDEADLK


class CommError(Error):
    status = Status.ECOMM


class SystemCallError(Error, OSError):
    status = Status.ESYS


class RangeError(Error, IndexError):
    status = Status.ERANGE


class InternalError(Error):
    status = Status.EINTERNAL


class TransientError(Error):
    """FLO_EAGAIN: a transient failure; the task may succeed if run
    again (raised from an entry point, it asks for a retry)."""
    status = Status.EAGAIN


class DataLossError(Error):
    """FLO_EDATALOSS: the only valid copy of a handle was lost with a
    device and could not be recomputed."""
    status = Status.EDATALOSS


_BY_STATUS = {c.status: c for c in (
    InvalidArgumentError, OutOfMemoryError, NotSupportedError,
    CanceledError, TaskError, BusyError, StaleError, ForeignError,
    DeviceError, TimedOutError, NoDeviceError, DeadlockError, CommError,
    SystemCallError, RangeError, InternalError, TransientError,
    DataLossError)}


def error_for(status, message=None):
    """The exception for a negative status (Error for an unknown one)."""
    cls = _BY_STATUS.get(status, Error)
    return cls(status, message)


def check(status, message=None):
    """Raise the status's exception if it is an error; return it if not."""
    if status < 0:
        raise error_for(status, message)
    return status
