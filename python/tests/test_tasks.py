"""Tasks with Python entry points, C entry points, events, failures."""

import ctypes
import threading

import numpy as np
import pytest

import flotilla as flo
from flotilla import runtime as flo_runtime


def test_tasks_run_in_dependency_order(rt):
    log = []
    x = np.zeros(1)

    def step(ctx, i):
        log.append(i)
        ctx.buffer(0)[0] = ctx.buffer(0)[0] * 10 + i

    with rt.register(x) as h:
        for i in range(1, 6):
            rt.submit(step, [flo.RW(h)], args=(i,))
    assert log == [1, 2, 3, 4, 5]
    assert x[0] == 12345


def test_readers_after_writer_see_its_value(rt):
    x = np.zeros(1)
    seen = []
    with rt.register(x) as h:
        rt.submit(lambda ctx: ctx.buffer(0).fill(7), [flo.W(h)])
        for _ in range(6):
            rt.submit(lambda ctx: seen.append(float(ctx.buffer(0)[0])),
                      [flo.R(h)])
        rt.wait_all()
    assert seen == [7.0] * 6


def test_event_wait_query_and_deps(rt):
    order = []
    gate = threading.Event()

    def first(ctx):
        gate.wait(10)
        order.append("a")

    e1 = rt.submit(first)
    e2 = rt.submit(lambda ctx: order.append("b"), deps=[e1])
    assert e2.query() is False
    gate.set()
    e2.wait()
    assert e1.query() is True
    assert order == ["a", "b"]


def test_exception_fails_task_with_traceback(rt):
    def broken(ctx):
        raise ValueError("the answer is not 41")

    ev = rt.submit(broken)
    with pytest.raises(flo.TaskError) as ei:
        ev.wait()
    msg = ei.value.message
    assert "ValueError: the answer is not 41" in msg
    assert "Traceback" in msg and "broken" in msg
    assert ei.value.status == flo.Status.ETASK
    with pytest.raises(flo.TaskError) as ei2:
        rt.wait_all()
    assert "the answer is not 41" in ei2.value.message
    assert "the answer is not 41" in rt.error_message(ev)


def test_flotilla_error_sets_the_status(rt):
    def refuse(ctx):
        raise flo.InvalidArgumentError(message="bad tile")

    ev = rt.submit(refuse)
    with pytest.raises(flo.InvalidArgumentError) as ei:
        ev.wait()
    assert "bad tile" in ei.value.message
    with pytest.raises(flo.InvalidArgumentError):
        rt.wait_all()


def test_ctx_fail(rt):
    def soft(ctx):
        ctx.fail("soft failure %d" % 3)
        ctx.fail("ignored: the first call wins")

    ev = rt.submit(soft)
    with pytest.raises(flo.TaskError) as ei:
        ev.wait()
    assert ei.value.message.endswith("soft failure 3")
    with pytest.raises(flo.TaskError):
        rt.wait_all()


def test_dependents_of_a_failed_task_are_canceled(rt):
    x = np.zeros(1)
    ran = []
    h = rt.register(x)
    rt.submit(lambda ctx: 1 / 0, [flo.W(h)])
    ev = rt.submit(lambda ctx: ran.append(1), [flo.RW(h)])
    with pytest.raises(flo.CanceledError):
        ev.wait()
    with pytest.raises(flo.TaskError) as ei:
        rt.wait_all()
    assert "ZeroDivisionError" in ei.value.message
    assert ran == []
    # A new failure epoch: the handle is usable again.
    rt.submit(lambda ctx: ran.append(2), [flo.RW(h)]).wait()
    assert ran == [2]
    h.unregister()


def test_placement_on_worker_and_device(rt):
    seen = []

    def where(ctx):
        seen.append((ctx.worker, ctx.device, ctx.stream))

    rt.submit(where, worker=1).wait()
    rt.submit(where, device=0).wait()
    assert seen[0] == (1, 0, None)
    assert seen[1][1:] == (0, None)
    with pytest.raises(flo.InvalidArgumentError):
        rt.submit(where, worker=17)
    with pytest.raises(flo.InvalidArgumentError):
        rt.submit(where, device=3)


def test_cuda_only_kernel_without_gpu_is_enodev(rt):
    before = len(flo_runtime._tasks)
    k = flo.Kernel(cuda=lambda ctx: None, name="gpu_only")
    with pytest.raises(flo.NoDeviceError):
        rt.submit(k)
    assert len(flo_runtime._tasks) == before


def test_submit_from_inside_a_task(rt):
    x = np.zeros(1)

    def child(ctx):
        ctx.buffer(0)[0] += 1

    def parent(ctx, h):
        for _ in range(3):
            ctx.runtime.submit(child, [flo.RW(h)])
        with pytest.raises(flo.DeadlockError):
            ctx.runtime.wait_all()

    with rt.register(x) as h:
        rt.submit(parent, args=(h,))
        rt.wait_all()
    assert x[0] == 3


def test_context_is_invalid_after_return(rt):
    kept = []
    rt.submit(lambda ctx: kept.append(ctx)).wait()
    with pytest.raises(flo.InvalidArgumentError):
        kept[0].worker


def test_buffer_errors_inside_task(rt):
    x = np.zeros(3)  # 24 bytes
    out = []

    def probe(ctx):
        for f in (lambda: ctx.buffer(1),
                  lambda: ctx.buffer(0, dtype=np.float32, shape=(5,)),
                  lambda: ctx.buffer(0, dtype=np.dtype("V5")),
                  lambda: ctx.device_buffer(0)):
            try:
                f()
                out.append(None)
            except (IndexError, flo.Error) as e:
                out.append(type(e))

    with rt.register(x) as h:
        rt.submit(probe, [flo.R(h)]).wait()
    assert out == [IndexError, flo.InvalidArgumentError,
                   flo.InvalidArgumentError, flo.InvalidArgumentError]


def test_bad_submissions_change_nothing(rt):
    before = len(flo_runtime._tasks)
    h = rt.register(np.zeros(1))
    with pytest.raises(flo.InvalidArgumentError):
        rt.submit(42)
    with pytest.raises(flo.InvalidArgumentError):
        rt.submit(lambda ctx: None, [h])          # not R(h)/W(h)/RW(h)
    with pytest.raises(flo.InvalidArgumentError):
        rt.submit(lambda ctx: None, [(h, "sideways")])
    with pytest.raises(flo.InvalidArgumentError):
        rt.submit(lambda ctx: None, deps=["not an event"])
    with pytest.raises(flo.InvalidArgumentError):
        flo.Kernel()
    assert len(flo_runtime._tasks) == before
    assert rt.stats().tasks_submitted == 0
    h.unregister()


def test_string_modes_and_names(rt):
    x = np.ones(2)
    with rt.register(x) as h:
        rt.submit(lambda ctx: ctx.buffer(0).__imul__(3), [(h, "read_write")],
                  name="triple", priority=2)
    assert (x == 3).all()


def test_c_kernel_entry_point(rt):
    # A C entry point: here a ctypes callback standing in for a function
    # of a C library; it reads its argument bytes and its buffer through
    # the C API, as C code would.
    lib = flo_runtime.lib

    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    def scale(ctxp):
        a = lib.flo_task_args_as(ctxp, 8)
        f = ctypes.c_double.from_address(a).value
        p = lib.flo_task_buffer(ctxp, 0)
        n = lib.flo_task_buffer_size(ctxp, 0) // 8
        arr = (ctypes.c_double * n).from_address(p)
        for i in range(n):
            arr[i] *= f

    x = np.arange(4.0)
    k = flo.CKernel("c_scale", host=scale)
    with rt.register(x) as h:
        rt.submit(k, [flo.RW(h)], args=ctypes.c_double(2.5)).wait()
        rt.submit(k, [flo.RW(h)],
                  args=np.float64(2.0).tobytes()).wait()
    assert list(x) == [0.0, 5.0, 10.0, 15.0]
    with pytest.raises(flo.InvalidArgumentError):
        flo.CKernel("none")
    with pytest.raises(flo.InvalidArgumentError):
        rt.submit(k, args=object())


def test_many_threads_submit_concurrently(rt):
    xs = [np.zeros(1) for _ in range(4)]
    hs = [rt.register(x) for x in xs]

    def add(ctx):
        ctx.buffer(0)[0] += 1

    def submitter(h):
        for _ in range(50):
            rt.submit(add, [flo.RW(h)])

    ths = [threading.Thread(target=submitter, args=(h,)) for h in hs] + \
        [threading.Thread(target=submitter, args=(hs[0],))]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    rt.wait_all()
    for h in hs:
        h.unregister()
    assert [x[0] for x in xs] == [100, 50, 50, 50]


def test_registry_is_empty_after_finalize():
    r = flo.Runtime(host_workers=2, devices="host", no_bind=1, ignore_env=1)
    h = r.register(np.zeros(1))
    r.submit(lambda ctx: 1 / 0, [flo.W(h)])
    for _ in range(5):
        r.submit(lambda ctx: None, [flo.RW(h)])   # canceled
    for _ in range(5):
        r.submit(lambda ctx: None)
    with pytest.raises(flo.TaskError):
        r.finalize()
    mine = [e for e in flo_runtime._tasks.values() if e.rt is r]
    assert mine == []
