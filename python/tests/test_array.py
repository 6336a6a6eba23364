"""Distributed arrays: transform, reduce, scan, map (flotilla/array.h)."""

import numpy as np
import pytest

import flotilla as flo


@pytest.fixture
def x(rt):
    a = rt.array_from(np.arange(1, 101, dtype=np.float64), nblocks=3)
    yield a
    if not rt.closed:
        a.destroy()


def test_create_and_copy_back(rt, x):
    assert len(x) == 100 and x.dtype == np.float64 and x.nblocks == 3
    assert (x.to_numpy() == np.arange(1, 101)).all()
    z = rt.array(10, np.int32)
    assert (z.to_numpy() == 0).all()
    z.from_numpy(np.arange(10))
    out = np.empty(10, np.int32)
    assert z.to_numpy(out) is out and list(out) == list(range(10))
    with pytest.raises(flo.InvalidArgumentError):
        z.from_numpy(np.arange(9))
    with pytest.raises(flo.InvalidArgumentError):
        z.to_numpy(np.empty(10, np.int64))
    z.destroy()
    with pytest.raises(flo.StaleError):
        len(z.to_numpy())


def test_unsupported_dtype(rt):
    with pytest.raises(flo.InvalidArgumentError):
        rt.array(4, np.complex128)
    with pytest.raises(flo.InvalidArgumentError):
        rt.array_from(np.zeros((2, 2)))


def test_layout_errors_come_from_c(rt):
    with pytest.raises(flo.InvalidArgumentError):
        rt.array(10, nblocks=2, weights=[1.0, -1.0])
    with pytest.raises(flo.InvalidArgumentError):
        rt.array(10, nblocks=2, devices=[0, 5])
    a = rt.array(10, nblocks=2, devices=[0, 0], weights=[3.0, 1.0])
    b0, b1 = a.block(0), a.block(1)
    assert b0.count + b1.count == 10 and b0.count > b1.count
    assert b1.offset == b0.count
    with pytest.raises(flo.RangeError):
        a.block(2)
    a.destroy()


def test_transforms(rt, x):
    v = np.arange(1, 101, dtype=np.float64)
    y = rt.array(100, nblocks=3)
    y.fill(2.0).wait()
    assert (y.to_numpy() == 2).all()
    y.transform_sync("axpy", x, y, alpha=3.0)          # y = 3x + 2
    assert np.array_equal(y.to_numpy(), 3 * v + 2)
    y.transform(flo.TransformOp.SUB, y, x).wait()       # y = 2x + 2
    y.transform_sync("scale", y, alpha=0.5)             # y = x + 1
    assert np.array_equal(y.to_numpy(), v + 1)
    i = rt.array(100, np.int64, nblocks=3)
    i.transform_sync("copy", y)                         # converts
    assert np.array_equal(i.to_numpy(), (v + 1).astype(np.int64))
    with pytest.raises(flo.InvalidArgumentError):
        y.transform("fill")                             # no alpha
    with pytest.raises(flo.InvalidArgumentError):
        y.transform("add", x)                           # y missing
    with pytest.raises(flo.InvalidArgumentError):
        y.transform("warp", x)
    short = rt.array(50, nblocks=3)
    with pytest.raises(flo.InvalidArgumentError):
        short.transform("copy", x)                      # length differs
    for a in (y, i, short):
        a.destroy()


def test_reductions(rt, x):
    assert x.reduce_sync("sum") == 5050.0
    assert x.reduce_sync(flo.RedOp.MAX) == 100.0
    assert x.argreduce_sync("min") == (1.0, 0)
    assert x.argreduce_sync("max") == (100.0, 99)
    with pytest.raises(flo.InvalidArgumentError):
        x.argreduce_sync("sum")
    r = rt.alloc(16, np.uint8)
    x.reduce("sum", r).wait()
    with r.acquired() as b:
        assert b.view(np.float64)[0] == 5050.0
    x.argreduce("max", r).wait()
    with r.acquired() as b:
        assert b[:8].view(np.float64)[0] == 100.0
        assert b[8:].view(np.int64)[0] == 99
    small = rt.alloc(4, np.uint8)
    with pytest.raises(flo.InvalidArgumentError):
        x.reduce("sum", small)
    r.unregister()
    small.unregister()
    e = rt.array(0)
    assert e.reduce_sync("sum") == 0.0
    assert e.argreduce_sync("min")[1] == -1


def test_scans(rt, x):
    v = np.arange(1, 101, dtype=np.float64)
    s = rt.array(100, nblocks=3)
    s.scan_sync(x)
    assert np.array_equal(s.to_numpy(), np.cumsum(v))
    s.scan_sync(x, "sum", "exclusive", carry_in=10.0)
    assert np.array_equal(s.to_numpy(),
                          10 + np.concatenate([[0], np.cumsum(v)[:-1]]))
    c = rt.register(np.array([1000.0]))
    s.scan_carry(x, "sum", "inclusive", c).wait()
    assert np.array_equal(s.to_numpy(), 1000 + np.cumsum(v))
    c.unregister()
    with pytest.raises(flo.InvalidArgumentError):
        s.scan(x, kind="sideways")
    with pytest.raises(flo.InvalidArgumentError):
        s.scan("not an array")
    s.destroy()


def test_python_map(rt, x):
    out = rt.array(100, nblocks=3)

    def blocks(span, k):
        assert span.stream is None and span.device == 0
        span.out[:] = span.x * k + np.arange(span.offset,
                                             span.offset + span.count)
        assert not span.x.flags.writeable and span.y is None

    out.map(blocks, x, args=(2.0,)).wait()
    v = np.arange(1, 101, dtype=np.float64)
    assert np.array_equal(out.to_numpy(), 2 * v + np.arange(100))
    from flotilla import array as flo_array
    assert len(out._maps) == 1 and out._maps[0] in flo_array._maps
    mid = out._maps[0]
    out.destroy()
    assert mid not in flo_array._maps


def test_map_failure(rt, x):
    def bad(span):
        if span.offset > 0:
            span.fail("block at %d refused" % span.offset)

    out = rt.array(100, nblocks=3)
    # The map's event stands for all its tasks: canceled after a failure;
    # wait_all reports the block's own failure and message.
    with pytest.raises((flo.TaskError, flo.CanceledError)):
        out.map(bad, x).wait()
    with pytest.raises(flo.TaskError) as ei:
        rt.wait_all()
    assert "refused" in ei.value.message
    out.destroy()


def test_user_task_on_a_block(rt, x):
    b = x.block(1)
    assert b.data.shape == (b.count,)

    def neg(ctx):
        ctx.buffer(0)[:] *= -1

    rt.submit(neg, [flo.RW(b.data)], device=b.device)
    got = x.to_numpy()
    v = np.arange(1, 101, dtype=np.float64)
    v[b.offset:b.offset + b.count] *= -1
    assert np.array_equal(got, v)
    with pytest.raises(flo.InvalidArgumentError):
        b.data.unregister()


def test_finalize_destroys_live_arrays():
    rt = flo.Runtime(host_workers=2, devices="host", no_bind=1,
                     ignore_env=1)
    a = rt.array(10)
    rt.finalize()
    with pytest.raises(flo.StaleError):
        a.to_numpy()


def test_finalize_with_an_acquired_block():
    rt = flo.Runtime(host_workers=1, devices="host", no_bind=1,
                     ignore_env=1)
    a = rt.array(10, nblocks=1)
    a.block(0).data.acquire(flo.Access.READ)
    with pytest.raises(flo.BusyError):
        a.destroy()
    rt.finalize()          # the array could not be destroyed: forgotten
    with pytest.raises(flo.StaleError):
        a.to_numpy()
    a.destroy()            # nothing left to do
