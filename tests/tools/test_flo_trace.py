#!/usr/bin/env python3
"""Tests of tools/flo-trace: hand-made traces with known answers, bad
input, and the trace of a real run of flo-demo (FLO_TRACE).

usage: test_flo_trace.py FLO_TRACE_SCRIPT FLO_DEMO
"""
import importlib.machinery
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplite import case, run  # noqa: E402

TOOL, DEMO = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="flo-trace-test-")

loader = importlib.machinery.SourceFileLoader("flo_trace", TOOL)
spec = importlib.util.spec_from_loader("flo_trace", loader)
ft = importlib.util.module_from_spec(spec)
loader.exec_module(ft)


def write_trace(name, rows, spans, raw=None):
    """rows: [name]; spans: (row, name, cat, ts, dur, arg)."""
    events = []
    for i, r in enumerate(rows):
        events.append({"name": "thread_name", "ph": "M", "pid": 0,
                       "tid": i, "args": {"name": r}})
    for row, n, cat, ts, dur, arg in spans:
        events.append({"name": n, "cat": cat, "ph": "X", "pid": 0,
                       "tid": row, "ts": ts, "dur": dur,
                       "args": {"arg": arg}})
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        if raw is not None:
            f.write(raw)
        else:
            json.dump({"displayTimeUnit": "ns", "traceEvents": events}, f)
    return path


def flo_trace(*args):
    p = subprocess.run([sys.executable, TOOL] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def summary(path, *extra):
    rc, out, err = flo_trace("--json", *extra, path)
    assert rc == 0, (rc, err)
    return json.loads(out)


def close(a, b, eps=1e-6):
    return abs(a - b) <= eps * max(1.0, abs(a), abs(b))


ROWS = ["worker 0 (host, core 0)", "worker 1 (host, core 1)",
        "gpu 1 (cuda 0.0) h2d copies"]


@case
def known_answers():
    # Window [0, 30] us. Worker 0 busy 20, worker 1 busy 10, copies 6.
    # The longest time-ordered chain: copy [0,4] -> w1 [5,15] -> w0
    # [20,30] = 24 us (not w0 [0,10] -> copy [12,14] -> w0 [20,30] = 22).
    path = write_trace("known.json", ROWS, [
        (0, "a", "task", 0, 10, 64), (0, "b", "task", 20, 10, 64),
        (1, "a", "task", 5, 10, 0),
        (2, "a", "copy", 0, 4, 1000), (2, "b", "copy", 12, 2, 3000)])
    s = summary(path, "--path")
    assert s["spans"] == 5 and close(s["window_us"], 30)
    rows = {r["row"]: r for r in s["rows"]}
    w0, w1, cp = rows[ROWS[0]], rows[ROWS[1]], rows[ROWS[2]]
    assert w0["kind"] == "worker" and cp["kind"] == "copy"
    assert close(w0["busy_us"], 20) and close(w0["idle_us"], 10)
    assert close(w0["utilisation"], 20 / 30)
    assert close(w0["longest_gap_us"], 10)
    assert close(w1["busy_us"], 10) and close(w1["longest_gap_us"], 0)
    assert close(cp["busy_us"], 6)
    assert s["copies"] == [{"row": ROWS[2], "copies": 2, "bytes": 4000,
                            "busy_us": 6.0,
                            "gb_per_s": 4000 / 6e3}], s["copies"]
    c = s["critical"]
    assert close(c["upper_us"], 24) and close(c["lower_us"], 10)
    assert [(p["row"], p["start_us"]) for p in c["path"]] == \
        [(ROWS[2], 0), (ROWS[1], 5), (ROWS[0], 20)], c["path"]
    assert c["rows"] == {ROWS[0]: 1, ROWS[1]: 1, ROWS[2]: 1}
    names = {t["name"]: t for t in s["tasks"]}
    assert names["a"]["count"] == 3 and close(names["a"]["total_us"], 24)
    assert close(names["b"]["max_us"], 10)


@case
def overlapping_spans_count_once():
    # Spans of one row that overlap (copy rows can) are busy once.
    path = write_trace("overlap.json", ROWS[2:], [
        (0, "x", "copy", 0, 10, 1), (0, "y", "copy", 5, 7, 1),
        (0, "z", "copy", 20, 5, 1)])
    r = summary(path)["rows"][0]
    assert close(r["busy_us"], 17) and close(r["longest_gap_us"], 8), r


@case
def tolerance_orders_nearly_touching_spans():
    path = write_trace("tol.json", ROWS[:2], [
        (0, "a", "kernel", 0, 10, 0), (1, "b", "kernel", 9.9995, 10, 0)])
    assert close(summary(path)["critical"]["upper_us"], 20)
    assert close(summary(path, "--tolerance", "0")["critical"]["upper_us"],
                 10)


@case
def same_start_is_not_a_chain():
    path = write_trace("same.json", ROWS[:2], [
        (0, "a", "task", 5, 3, 0), (1, "b", "task", 5, 4, 0)])
    c = summary(path, "--tolerance", "0")["critical"]
    assert close(c["upper_us"], 4) and c["spans"] == 1


@case
def chain_matches_brute_force():
    # The O(n log n) dynamic programme against the O(n^2) definition on
    # random spans, with and without tolerance.
    rng = random.Random(13)
    for trial in range(60):
        n = rng.randint(1, 40)
        spans = []
        for _ in range(n):
            t0 = rng.randint(0, 100) / 4.0
            spans.append(ft.Span("s", "task", rng.randint(0, 3), t0,
                                 t0 + rng.randint(0, 30) / 4.0, 0))
        for tol in (0.0, 0.5):
            got, chain = ft.critical_chain(spans, tol)
            pos = sorted((s for s in spans if s.dur > 0),
                         key=lambda s: (s.t0, s.t1))
            best = []
            for v in pos:
                prev = [best[i] for i, u in enumerate(pos[:len(best)])
                        if u.t0 < v.t0 and u.t1 <= v.t0 + tol]
                best.append(v.dur + max(prev + [0.0]))
            want = max(best + [0.0])
            assert close(got, want), (trial, tol, got, want)
            assert close(sum(s.dur for s in chain), got)
            for u, v in zip(chain, chain[1:]):
                assert u.t0 < v.t0 and u.t1 <= v.t0 + tol


@case
def empty_trace():
    path = write_trace("empty.json", ROWS[:1], [])
    s = summary(path)
    assert s["spans"] == 0 and s["window_us"] == 0
    assert s["critical"]["upper_us"] == 0
    rc, out, _ = flo_trace(path)
    assert rc == 0 and "no spans" in out


@case
def bad_input_is_a_clear_error():
    missing = os.path.join(TMP, "missing.json")
    for path, words in (
            (missing, "missing.json"),
            (write_trace("garbage.json", [], [], raw="{not json"),
             "not JSON"),
            (write_trace("obj.json", [], [], raw='{"a": 1}'),
             "not a Chrome trace"),
            (write_trace("neg.json", [], [],
                         raw='{"traceEvents": [{"ph": "X", "ts": 1, '
                             '"dur": -2, "tid": 0}]}'), "negative dur"),
            (write_trace("ts.json", [], [],
                         raw='{"traceEvents": [{"ph": "X", "ts": "x", '
                             '"tid": 0}]}'), "not a number")):
        rc, out, err = flo_trace(path)
        assert rc == 1 and out == "" and words in err, (path, rc, err)
    rc, _, err = flo_trace("--top", "-1", missing)
    assert rc == 2 and "--top" in err
    rc, _, _ = flo_trace()
    assert rc == 2


@case
def trace_of_flo_demo():
    # FLO_TRACE on a real run: 4 x 4 tiles, 6 steps, 2 host workers.
    trace = os.path.join(TMP, "demo-trace.json")
    env = dict(os.environ, FLO_TRACE=trace)
    p = subprocess.run([DEMO, "--size", "128", "--tile", "32", "--steps",
                        "6", "--workers", "2", "--alg-n", "20000"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, env=env, timeout=240)
    assert p.returncode == 0, p.stdout
    s = summary(trace, "--top", "0", "--path")
    names = {t["name"]: t for t in s["tasks"]}
    assert names["heat_tile"]["count"] == 16 * 6, names["heat_tile"]
    workers = [r for r in s["rows"] if r["kind"] == "worker"]
    assert len([r for r in workers if "(host," in r["row"]]) == 2, workers
    window = s["window_us"]
    assert window > 0
    assert s["spans"] == sum(t["count"] for t in s["tasks"])
    assert s["spans"] == sum(r["spans"] for r in s["rows"])
    for r in s["rows"]:
        assert 0 <= r["busy_us"] <= window * (1 + 1e-9), r
        assert close(r["busy_us"] + r["idle_us"], window)
        assert 0 <= r["utilisation"] <= 1
    for c in s["copies"]:
        assert c["bytes"] >= 0 and c["gb_per_s"] >= 0
    c = s["critical"]
    longest = max(t["max_us"] for t in s["tasks"])
    assert close(c["lower_us"], longest)
    assert c["lower_us"] <= c["upper_us"] + 1e-6
    # A host worker runs one task at a time, so its spans are a
    # time-ordered chain: the longest chain is at least its busy time.
    for r in workers:
        assert c["upper_us"] >= r["busy_us"] - 1e-6, (c, r)
    assert c["upper_us"] <= window + c["spans"] * c["tolerance_us"]
    assert len(c["path"]) == c["spans"]
    rc, out, err = flo_trace(trace)
    assert rc == 0, err
    for words in ("window", "heat_tile", "critical path", "upper bound",
                  "lower bound", "worker 0"):
        assert words in out, (words, out)


run()
