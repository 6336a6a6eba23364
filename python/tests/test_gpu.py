"""GPU entry points from CuPy, device buffers, managed memory.

Skipped, with the reason shown, without CuPy, without a GPU, or with a
library built without CUDA. On the device machine (CuPy installed):

    FLOTILLA_LIBRARY=build/libflotilla.so PYTHONPATH=python \\
        python3 -m pytest -rs python/tests/test_gpu.py
"""

import numpy as np
import pytest

import flotilla as flo

try:
    import cupy
    _NGPU = cupy.cuda.runtime.getDeviceCount()
    _WHY = None if _NGPU > 0 else "no GPU visible to CuPy"
except ImportError:
    cupy, _WHY = None, "CuPy is not installed"
except Exception as e:  # noqa: BLE001 - no driver, no device...
    cupy, _WHY = None, "CuPy cannot use a GPU: %s" % e

pytestmark = pytest.mark.skipif(_WHY is not None, reason=str(_WHY))

N = 1 << 16


@pytest.fixture
def grt():
    try:
        r = flo.Runtime(host_workers=2, devices="cuda", no_bind=1,
                        ignore_env=1)
    except flo.NotSupportedError:
        pytest.skip("libflotilla was built without CUDA")
    except flo.NoDeviceError:
        pytest.skip("Flotilla sees no GPU")
    yield r
    if not r.closed:
        try:
            r.finalize()
        except flo.Error:
            pass


def test_runtime_sees_the_gpus(grt):
    assert grt.device_count == 1 + _NGPU
    info = grt.device_info(1)
    assert info.kind == flo.DeviceKind.CUDA and info.memory_bytes > 0
    assert any(grt.worker_device(w) == 1 for w in range(grt.worker_count))


def axpy_cuda(ctx, a):
    x = ctx.cupy_array(0)
    y = ctx.cupy_array(1)
    assert x.shape == (N,) and y.dtype == np.float64
    with ctx.cupy_stream():
        y += a * x


def test_cupy_entry_point(grt):
    x = np.arange(N, dtype=np.float64)
    y = np.ones(N)
    seen = []

    def where(ctx, a):
        seen.append((ctx.device, ctx.stream is not None))
        axpy_cuda(ctx, a)

    k = flo.Kernel(cuda=where, name="py_axpy")
    with grt.register(x) as hx, grt.register(y) as hy:
        grt.submit(k, [flo.R(hx), flo.RW(hy)], args=(2.0,)).wait()
        grt.submit(k, [flo.R(hx), flo.RW(hy)], args=(1.0,))
    assert np.array_equal(y, 1 + 3 * x)
    assert all(d >= 1 and s for d, s in seen) and len(seen) == 2


def test_device_buffer_cuda_array_interface(grt):
    y = np.full(N, 3.0)
    got = {}

    def entry(ctx):
        buf = ctx.device_buffer(0)
        cai = buf.__cuda_array_interface__
        got.update(ptr=buf.ptr, nbytes=buf.nbytes, cai=cai)
        arr = cupy.asarray(buf)      # any CAI consumer, no copy
        got["same"] = arr.data.ptr == buf.ptr
        with ctx.cupy_stream():
            arr *= 2

    with grt.register(y) as h:
        grt.submit(flo.Kernel(cuda=entry), [flo.RW(h)]).wait()
    assert (y == 6.0).all()
    assert got["same"] and got["nbytes"] == N * 8
    assert got["cai"]["shape"] == (N,) and got["cai"]["typestr"] == "<f8"
    assert got["cai"]["data"] == (got["ptr"], False)
    assert got["cai"]["version"] == 3


def test_raw_kernel_on_the_task_stream(grt):
    src = r'''
    extern "C" __global__ void twice_plus(const double *x, double *y,
                                          long long n) {
        long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
        if (i < n) y[i] = 2.0 * x[i] + y[i];
    }'''
    kern = cupy.RawKernel(src, "twice_plus")

    def entry(ctx):
        x, y = ctx.cupy_array(0), ctx.cupy_array(1)
        with ctx.cupy_stream():
            kern(((N + 255) // 256,), (256,), (x, y, np.int64(N)))

    x = np.arange(N, dtype=np.float64)
    y = np.ones(N)
    with grt.register(x) as hx, grt.register(y) as hy:
        grt.submit(flo.Kernel(cuda=entry), [flo.R(hx), flo.RW(hy)])
    assert np.array_equal(y, 2 * x + 1)


def test_host_and_gpu_tasks_chain(grt):
    x = np.zeros(N)

    def fill(ctx):
        ctx.buffer(0)[:] = np.arange(N)

    def gpu_double(ctx):
        a = ctx.cupy_array(0)
        with ctx.cupy_stream():
            a *= 2

    def host_inc(ctx):
        ctx.buffer(0)[:] += 1

    with grt.register(x) as h:
        grt.submit(fill, [flo.W(h)], device=0)
        grt.submit(flo.Kernel(cuda=gpu_double), [flo.RW(h)], device=1)
        grt.submit(host_inc, [flo.RW(h)], device=0)
        grt.wait_all()
    assert np.array_equal(x, 2 * np.arange(N) + 1)


def test_gpu_entry_exception_fails_the_task(grt):
    def broken(ctx):
        raise RuntimeError("no kernel today")

    y = np.zeros(4)
    with grt.register(y) as h:
        ev = grt.submit(flo.Kernel(cuda=broken), [flo.RW(h)])
        with pytest.raises(flo.TaskError) as ei:
            ev.wait()
        assert "no kernel today" in ei.value.message
        with pytest.raises(flo.TaskError):
            grt.wait_all()


def test_kernel_with_both_entry_points(grt):
    def host(ctx):
        ctx.buffer(0)[:] += 1

    def gpu(ctx):
        a = ctx.cupy_array(0)
        with ctx.cupy_stream():
            a += 1

    k = flo.Kernel(host=host, cuda=gpu, name="inc")
    xs = [np.zeros(1024) for _ in range(8)]
    hs = [grt.register(x) for x in xs]
    for _ in range(3):
        for h in hs:
            grt.submit(k, [flo.RW(h)])
    grt.unregister_many(hs)
    assert all((x == 3).all() for x in xs)


def test_register_managed_cupy_array(grt):
    mem = cupy.cuda.malloc_managed(N * 8)
    a = cupy.ndarray((N,), np.float64, mem)
    a[...] = cupy.arange(N, dtype=np.float64)
    cupy.cuda.runtime.deviceSynchronize()

    def host_double(ctx):
        ctx.buffer(0)[:] *= 2

    def gpu_inc(ctx):
        b = ctx.cupy_array(0)
        with ctx.cupy_stream():
            b += 1

    h = grt.register(a)               # zero copy: managed memory
    assert h.shape == (N,) and h.dtype == np.float64
    with h.acquired() as view:
        assert view.ctypes.data == a.data.ptr
    grt.submit(host_double, [flo.RW(h)], device=0)
    grt.submit(flo.Kernel(cuda=gpu_inc), [flo.RW(h)], device=1)
    h.unregister()
    cupy.cuda.runtime.deviceSynchronize()
    assert np.array_equal(cupy.asnumpy(a), 2 * np.arange(N) + 1)


class DLPackOnly:
    def __init__(self, a):
        self.a = a

    def __dlpack__(self, stream=None):
        return self.a.__dlpack__()

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


def _gpu_inc(ctx):
    b = ctx.cupy_array(0)
    with ctx.cupy_stream():
        b += 1


def test_register_cupy_device_array_zero_copy(grt):
    a = cupy.arange(N, dtype=cupy.float64)
    dev = grt._device_of_ordinal(a.device.id)
    seen = []

    def gpu_inc(ctx):
        seen.append((ctx.device, ctx.device_buffer(0).ptr))
        _gpu_inc(ctx)

    def host_double(ctx):
        ctx.buffer(0)[:] *= 2

    h = grt.register(a)               # device memory, zero copy
    assert h.shape == (N,) and h.dtype == np.float64
    k = flo.Kernel(cuda=gpu_inc)
    grt.submit(k, [flo.RW(h)], device=dev)
    grt.submit(host_double, [flo.RW(h)], device=0)  # on a host copy
    grt.submit(k, [flo.RW(h)], device=dev)
    want = (np.arange(N) + 1) * 2 + 1
    with h.acquired() as view:        # the runtime's host copy
        assert view.ctypes.data != a.data.ptr
        assert np.array_equal(view, want)
    h.unregister()                    # the latest contents, in place
    assert seen == [(dev, a.data.ptr)] * 2
    assert np.array_equal(cupy.asnumpy(a), want)
    a += 1                            # still CuPy's memory
    assert float(a[0]) == want[0] + 1


class DLPackOnly:
    def __init__(self, a):
        self.a = a

    def __dlpack__(self, stream=None):
        return self.a.__dlpack__()

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


def test_register_dlpack_device_tensor(grt):
    a = cupy.full(N, 2.0)
    dev = grt._device_of_ordinal(a.device.id)
    h = grt.register(DLPackOnly(a))
    grt.submit(flo.Kernel(cuda=_gpu_inc), [flo.RW(h)], device=dev)
    h.unregister()
    assert (cupy.asnumpy(a) == 3.0).all()


def test_registered_cupy_array_survives_eviction():
    # 1 MiB per GPU for the runtime, 16 host arrays of 256 KiB cycling
    # through the GPU: replicas are evicted all the time, never the
    # registered CuPy array (2 MiB: it is not counted against the limit).
    try:
        r = flo.Runtime(host_workers=2, devices="cuda", gpus=1, no_bind=1,
                        ignore_env=1, gpu_mem_limit=1 << 20)
    except (flo.NotSupportedError, flo.NoDeviceError) as e:
        pytest.skip("no GPU runtime: %s" % e)
    a = cupy.full(1 << 18, 5.0)
    xs = [np.full(1 << 15, float(i)) for i in range(16)]
    k = flo.Kernel(cuda=_gpu_inc)
    with r:
        dev = r._device_of_ordinal(a.device.id)
        h = r.register(a)
        hs = [r.register(x) for x in xs]
        for _ in range(3):
            for hx in hs:
                r.submit(k, [flo.RW(hx)], device=dev)
            r.submit(k, [flo.RW(h)], device=dev)
        r.wait_all()
        assert r.stats().evictions > 0
        h.unregister()
        for hx in hs:
            hx.unregister()
    assert (cupy.asnumpy(a) == 8.0).all()
    for i, x in enumerate(xs):
        assert (x == i + 3).all()
    del a
    cupy.get_default_memory_pool().free_all_blocks()


def test_register_device_array_of_an_unused_gpu():
    if _NGPU < 2:
        pytest.skip("needs two GPUs")
    r = flo.Runtime(host_workers=1, devices="cuda", gpu_list="0",
                    no_bind=1, ignore_env=1)
    with r:
        with cupy.cuda.Device(1):
            d = cupy.zeros(16)
        with pytest.raises(flo.NoDeviceError):
            r.register(d)
        assert r._data == {}


def test_register_device_memory_refusals(grt):
    ro = cupy.zeros(16)
    ro_cai = {**ro.__cuda_array_interface__,
              "data": (ro.data.ptr, True)}

    class ReadOnly:
        __cuda_array_interface__ = ro_cai

    with pytest.raises(flo.InvalidArgumentError):
        grt.register(ReadOnly())
    with pytest.raises(flo.NotSupportedError):
        grt.register_many([cupy.zeros(4)])
    with pytest.raises(flo.InvalidArgumentError):
        grt.register_device(1, ro.data.ptr, 0)
    with pytest.raises(flo.NoDeviceError):
        grt.register_device(0, ro.data.ptr, 128)
    assert grt._data == {}


def test_array_map_on_gpus(grt):
    v = np.arange(N, dtype=np.float64)
    x = grt.array_from(v)
    out = grt.array(N)

    def gpu_block(span, k):
        o, i = span.cupy("out"), span.cupy("x")
        assert span.stream is not None and span.device >= 1
        with span.cupy_stream():
            o[...] = k * i + 1

    out.map(flo.Kernel(cuda=gpu_block), x, args=(3.0,)).wait()
    assert np.array_equal(out.to_numpy(), 3 * v + 1)
    assert out.reduce_sync("sum") == (3 * v + 1).sum()
    out.scan_sync(x)
    assert np.allclose(out.to_numpy(), np.cumsum(v))
    out.destroy()
    x.destroy()
