"""Data handles over NumPy arrays and other buffers."""

import gc
import threading
import weakref

import numpy as np
import pytest

import flotilla as flo


def double(ctx):
    ctx.buffer(0)[...] *= 2


def test_register_is_zero_copy(rt):
    x = np.arange(10.0)
    h = rt.register(x)
    assert h.dtype == np.float64 and h.shape == (10,)
    assert h.size() == x.nbytes
    with h.acquired(flo.Access.READ_WRITE) as a:
        # Host-only runtime: the host copy is the user's memory itself.
        assert a.ctypes.data == x.ctypes.data
        a[0] = 42.0
    assert x[0] == 42.0
    rt.submit(double, [flo.RW(h)])
    h.unregister()
    assert x[0] == 84.0 and x[9] == 18.0


def test_shape_and_dtype_reach_the_task(rt):
    x = np.zeros((3, 4), dtype=np.int32)
    seen = []

    def look(ctx):
        b = ctx.buffer(0)
        seen.append((b.dtype, b.shape, b.flags.writeable))
        seen.append(ctx.buffer(0, dtype=np.int16).shape)

    with rt.register(x) as h:
        rt.submit(look, [flo.R(h)]).wait()
    assert seen == [(np.dtype(np.int32), (3, 4), False), (24,)]


def test_registered_array_is_kept_alive(rt):
    x = np.ones(1000)
    ref = weakref.ref(x)
    h = rt.register(x)
    del x
    gc.collect()
    assert ref() is not None
    with h.acquired() as a:
        assert a.sum() == 1000
    h.unregister()
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("bad", [
    np.arange(4.0)[::2],                      # not contiguous
    np.frombuffer(b"abcdefgh", dtype=np.uint8),  # read-only
    b"bytes are read-only",
    [1, 2, 3],                                # no buffer protocol
])
def test_register_refuses_bad_buffers(rt, bad):
    with pytest.raises(flo.InvalidArgumentError):
        rt.register(bad)
    assert rt._data == {}


def test_register_empty_buffer_is_einval_from_c(rt):
    with pytest.raises(flo.InvalidArgumentError):
        rt.register(np.zeros(0))
    assert rt._data == {}


def test_structured_dtype(rt):
    x = np.zeros(4, dtype=[("a", np.int32), ("b", np.float64)])
    with rt.register(x) as h:
        assert h.dtype == x.dtype

        def setb(ctx):
            ctx.buffer(0)["b"] = 1.5

        rt.submit(setb, [flo.RW(h)])
    assert (x["b"] == 1.5).all() and (x["a"] == 0).all()


def test_bytearray_and_memoryview(rt):
    b = bytearray(b"\x01" * 16)
    with rt.register(b) as h:
        rt.submit(double, [flo.RW(h)])
    assert b == bytearray(b"\x02" * 16)


def test_unregister_twice_is_stale(rt):
    h = rt.register(np.zeros(3))
    h.unregister()
    with pytest.raises(flo.StaleError):
        h.unregister()
    with pytest.raises(flo.StaleError):
        rt.submit(double, [flo.RW(h)])


def test_register_many_all_or_nothing(rt):
    xs = [np.full(8, float(i)) for i in range(5)]
    hs = rt.register_many(xs)
    assert len(hs) == 5 and len(rt._data) == 5
    for h in hs:
        rt.submit(double, [flo.RW(h)])
    rt.unregister_many(hs)
    assert all((x == 2.0 * i).all() for i, x in enumerate(xs))
    assert rt._data == {}
    # A bad entry anywhere registers nothing (the C call refuses size 0).
    with pytest.raises(flo.InvalidArgumentError):
        rt.register_many([np.zeros(4), np.zeros(0), np.zeros(4)])
    assert rt._data == {}
    # Listed twice: flo_data_unregister_many refuses, nothing changes.
    h = rt.register(np.zeros(2))
    with pytest.raises(flo.InvalidArgumentError):
        rt.unregister_many([h, h])
    assert h.registered
    h.unregister()


def test_alloc_and_acquire_write(rt):
    d = rt.alloc((2, 3), np.float32)
    assert d.nbytes == 24 and d.shape == (2, 3)
    with d.acquired(flo.Access.WRITE) as a:
        assert a.shape == (2, 3) and a.flags.writeable
        a[...] = 5
    rt.submit(double, [flo.RW(d)])
    with d.acquired() as a:
        assert (a == 10).all()
        assert not a.flags.writeable
    d.unregister()


def test_unregister_while_acquired_is_busy(rt):
    h = rt.register(np.zeros(2))
    h.acquire(flo.Access.READ)
    with pytest.raises(flo.BusyError):
        h.unregister()
    h.release()
    h.unregister()


def test_release_without_acquire(rt):
    h = rt.register(np.zeros(2))
    with pytest.raises(flo.InvalidArgumentError):
        h.release()
    h.unregister()


def test_acquire_after_failed_writer_reports_and_releases(rt):
    h = rt.register(np.zeros(2))

    def bad(ctx):
        raise ValueError("writer broke")

    rt.submit(bad, [flo.W(h)])
    with pytest.raises(flo.TaskError) as ei:
        with h.acquired():
            pass
    assert getattr(ei.value, "acquired", False)
    with pytest.raises(flo.TaskError):
        rt.wait_all()
    # The context manager released it: unregister is not EBUSY.
    h.unregister()


def test_prefetch_and_flush_on_host(rt):
    h = rt.register(np.zeros(4))
    h.prefetch(0)
    h.flush()
    with pytest.raises(flo.InvalidArgumentError):
        h.prefetch(7)
    h.unregister()


class DLPackOnly:
    """Exposes a NumPy array through DLPack alone (no buffer protocol)."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, stream=None):
        return self.a.__dlpack__()

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


def test_register_dlpack_is_zero_copy(rt):
    x = np.arange(6, dtype=np.int64)
    h = rt.register(DLPackOnly(x))
    assert h.dtype == np.int64 and h.shape == (6,)
    rt.submit(double, [flo.RW(h)])
    h.unregister()
    assert list(x) == [0, 2, 4, 6, 8, 10]


class FakeCudaArray:
    """__cuda_array_interface__ over host memory the CUDA runtime does
    not know: registering it must be refused (not managed memory)."""

    def __init__(self, a):
        self.a = a
        self.__cuda_array_interface__ = {
            "shape": a.shape, "typestr": a.dtype.str,
            "data": (a.ctypes.data, False), "version": 3, "strides": None}


def test_register_cuda_array_interface_needs_host_access(rt):
    with pytest.raises(flo.NotSupportedError):
        rt.register(FakeCudaArray(np.zeros(4)))
    assert rt._data == {}


def test_concurrent_register_and_submit(rt):
    # Several Python threads register, submit and unregister at once.
    results = {}
    errors = []

    def worker(t):
        try:
            xs = [np.full(16, float(t)) for _ in range(8)]
            hs = [rt.register(x) for x in xs]
            for _ in range(3):
                for h in hs:
                    rt.submit(double, [flo.RW(h)])
            for h in hs:
                h.unregister()
            results[t] = xs
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ths = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert errors == []
    for t, xs in results.items():
        for x in xs:
            assert (x == 8.0 * t).all()
    assert len(results) == 4


def _has_cuda_build():
    """Whether the library has the CUDA backend: a runtime that asks for
    it is refused with FLO_ENOTSUP only by a build without it."""
    try:
        flo.Runtime(devices="cuda", host_workers=1, no_bind=1,
                    ignore_env=1).finalize()
    except flo.NotSupportedError:
        return False
    except flo.NoDeviceError:
        pass
    return True


def test_register_device_refusals_without_gpu(rt):
    # A host-only runtime: no GPU to name (a build without CUDA says
    # NotSupportedError first); bad arguments are InvalidArgumentError.
    # Nothing is registered by a refusal.
    no_gpu = flo.NoDeviceError if _has_cuda_build() else \
        flo.NotSupportedError
    for dev in (0, 1, -1, 7):
        with pytest.raises(no_gpu):
            rt.register_device(dev, 0x10000, 64)
    with pytest.raises(flo.InvalidArgumentError):
        rt.register_device(1, 0, 64)
    with pytest.raises(flo.InvalidArgumentError):
        rt.register_device(1, 0x10000, 0)
    assert rt._data == {}
    x = np.zeros(4)
    with rt.register(x) as h:
        assert h.registered
