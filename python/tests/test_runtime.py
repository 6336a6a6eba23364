"""Runtime lifecycle and configuration (flo_init, flo_finalize)."""

import numpy as np
import pytest

import flotilla as flo


def test_context_manager_finalizes():
    with flo.Runtime(host_workers=3, devices="host", no_bind=1,
                     ignore_env=1) as rt:
        assert not rt.closed
        assert rt.worker_count == 3
        assert rt.device_count == 1
        info = rt.devices[0]
        assert info.kind == flo.DeviceKind.HOST and info.name == "host"
        assert all(rt.worker_device(w) == 0 for w in range(3))
        assert rt.worker_device(99) == -1
    assert rt.closed
    with pytest.raises(flo.StaleError):
        rt.wait_all()
    rt.finalize()  # a second finalize does nothing


def test_config_errors_change_nothing():
    with pytest.raises(flo.InvalidArgumentError):
        flo.Runtime(no_such_field=1)
    with pytest.raises(flo.InvalidArgumentError):
        flo.Runtime(sched="fastest")
    # A field out of range is refused by flo_init itself.
    with pytest.raises(flo.InvalidArgumentError):
        flo.Runtime(host_workers=-5, ignore_env=1)


def test_sched_and_topology_fields_apply():
    with flo.Runtime(sched="eager", topology="pack:1 core:4 pu:1",
                     devices="host", no_bind=1, ignore_env=1) as rt:
        assert rt.worker_count == 4


def test_device_info_range(rt):
    with pytest.raises(flo.InvalidArgumentError):
        rt.device_info(5)


def test_stats_count_tasks(rt):
    for _ in range(5):
        rt.submit(lambda ctx: None)
    rt.wait_all()
    s = rt.stats()
    assert s.tasks_submitted == 5
    assert s.tasks_completed == 5
    assert s.tasks_failed == 0


def test_trace_written_at_finalize(tmp_path):
    path = tmp_path / "t.json"
    with flo.Runtime(host_workers=1, devices="host", no_bind=1,
                     ignore_env=1, trace_path=str(path)) as rt:
        rt.submit(lambda ctx: None, name="traced_py_task")
    text = path.read_text()
    assert "traced_py_task" in text


def test_task_graph_written_at_finalize(tmp_path):
    path = tmp_path / "g.dot"
    x = np.zeros(4)
    with flo.Runtime(host_workers=1, devices="host", no_bind=1,
                     ignore_env=1, dag_path=str(path)) as rt:
        with rt.register(x) as h:
            a = rt.submit(lambda ctx: None, [flo.W(h)], name="producer")
            b = rt.submit(lambda ctx: None, [flo.R(h)], name="consumer")
            c = rt.submit(lambda ctx: None, deps=[b], name="after")
    text = path.read_text()
    assert text.startswith("// Flotilla task graph (FLO_DAG): 3 tasks, "
                           "2 dependencies.")

    def node(ev):
        i, g = ev.handle
        return "t%d_%d" % ((i & 0xffffff) - 1, g)
    slot = (h.handle[0] & 0xffffff) - 1
    lines = text.splitlines()
    assert any(ln.startswith("  %s [label=\"producer\\n" % node(a))
               for ln in lines)
    assert "  %s -> %s [label=\"d%d\"];" % (node(a), node(b), slot) \
        in lines
    assert "  %s -> %s [style=dashed];" % (node(b), node(c)) in lines


def test_finalize_raises_unreported_task_error():
    rt = flo.Runtime(host_workers=1, devices="host", no_bind=1,
                     ignore_env=1)

    def boom(ctx):
        raise RuntimeError("unseen")

    rt.submit(boom)
    with pytest.raises(flo.TaskError):
        rt.finalize()
    assert rt.closed


def test_exception_in_with_block_is_not_hidden():
    with pytest.raises(KeyError):
        with flo.Runtime(host_workers=1, devices="host", no_bind=1,
                         ignore_env=1) as rt:
            rt.submit(lambda ctx: 1 / 0)  # fails, unreported
            raise KeyError("body")
    assert rt.closed


def test_finalize_writes_back_registered_data():
    x = np.zeros(4)
    rt = flo.Runtime(host_workers=1, devices="host", no_bind=1,
                     ignore_env=1)
    h = rt.register(x)

    def one(ctx):
        ctx.buffer(0)[:] = 1

    rt.submit(one, [flo.W(h)])
    rt.finalize()
    assert (x == 1).all()
    assert not h.registered


def test_several_runtimes_are_independent():
    with flo.Runtime(host_workers=1, devices="host", ignore_env=1,
                     no_bind=1) as a, \
            flo.Runtime(host_workers=1, devices="host", ignore_env=1,
                        no_bind=1) as b:
        x = np.zeros(2)
        h = a.register(x)
        with pytest.raises(flo.ForeignError):
            b.submit(lambda ctx: None, [flo.R(h)])
        h.unregister()


def test_version():
    assert flo.version() == flo.__version__
