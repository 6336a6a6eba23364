#!/usr/bin/env python3
"""Tests of scripts/plot-bench.py: the JSON of a real benchmark run,
hand-made sweeps with known shapes, reproducible output and bad input.

usage: test_plot_bench.py PLOT_BENCH_SCRIPT TASK_OVERHEAD_EXE

Skipped (TAP plan 1..0 # SKIP) when matplotlib is not installed.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplite import case, run, skip_all  # noqa: E402

try:
    import matplotlib  # noqa: F401
except ImportError:
    skip_all("matplotlib is not installed (Debian: python3-matplotlib)")

PLOT, BENCH = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="plot-bench-test-")
SVG = "{http://www.w3.org/2000/svg}"

spec = importlib.util.spec_from_file_location("plot_bench", PLOT)
pb = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pb)


def plot(*args):
    p = subprocess.run([sys.executable, PLOT] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    return p.returncode, p.stdout.split(), p.stderr


def texts(path):
    """The text of an SVG file (matplotlib keeps text as <text>)."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg", root.tag
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")]


def result(case_name, unit, value, baseline=None, bv=None, hib=True):
    return {"case": case_name, "unit": unit, "value": value,
            "baseline": baseline, "baseline_value": bv,
            "higher_is_better": hib,
            "ratio": value / bv if baseline else None}


def write(name, results, bench="algorithms"):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        json.dump({"bench": bench, "version": "0.1.0", "host": "test",
                   "device": None, "results": results}, f)
    return path


def sweep():
    rs = []
    for t in ("f32", "f64"):
        for lg in (20, 22, 24):
            rs.append(result("gpu/axpy/%s/2^%d" % (t, lg), "GB/s", lg * 10,
                             "CUB DeviceTransform", lg * 11))
            rs.append(result("gpu/axpy/%s/2^%d/vs_copy" % (t, lg), "GB/s",
                             lg * 10, "cudaMemcpy D2D", lg * 12))
            rs.append(result("gpu/reduce/%s/2^%d" % (t, lg), "GB/s",
                             lg * 9, "CUB DeviceReduce::Sum", lg * 11))
            rs.append(result("gpu/reduce/%s/2^%d/vs_copy" % (t, lg),
                             "GB/s", lg * 9, "cudaMemcpy D2D", lg * 12))
        rs.append(result("gpus=2/axpy/%s/2^24" % t, "GB/s", 400,
                         "flotilla on 1 GPU", 240))
        rs.append(result("gpus=4/axpy/%s/2^24" % t, "GB/s", 700,
                         "flotilla on 1 GPU", 240))
    return rs


@case
def case_names_are_parsed():
    c = pb.Case({"case": "allreduce/f32/1048576/time"}, True)
    assert c.size == (1048576, "bytes") and c.parts == ["allreduce", "f32",
                                                       "time"]
    c = pb.Case({"case": "n=32768/nb=2048/gpus=4/flotilla_on_gpu"}, False)
    assert c.size == (32768, "n") and c.count == ("gpus", 4)
    assert c.parts == ["nb=2048", "flotilla_on_gpu"]
    c = pb.Case({"case": "gpus=2/axpy/f32/2^31"}, False)
    assert c.size == (2 ** 31, "pow2") and c.count == ("gpus", 2)
    c = pb.Case({"case": "independent/workers=2"}, False)
    assert c.size is None and c.count == ("workers", 2)
    c = pb.Case({"case": "graph/replay_chain=100"}, False)
    assert c.size is None and c.count is None


@case
def real_benchmark_json():
    # task_overhead, tiny, as CI runs it: every case is on the ratio
    # plot; with more than one core it also has workers=1 and workers=N.
    path = os.path.join(TMP, "task_overhead.json")
    p = subprocess.run([BENCH, "--tasks", "2000", "--reps", "1", "--json",
                        path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=240)
    assert p.returncode == 0, p.stdout
    with open(path) as f:
        doc = json.load(f)
    out = os.path.join(TMP, "real")
    os.mkdir(out)
    rc, files, err = plot("-o", out, path)
    assert rc == 0, err
    ratio = os.path.join(out, "task_overhead-ratio.svg")
    assert ratio in files, files
    text = "\n".join(texts(ratio))
    for r in doc["results"]:
        assert r["case"] in text, (r["case"], text)
    counts = set(r["case"].split("=")[-1] for r in doc["results"]
                 if "workers=" in r["case"])
    scaling = os.path.join(out, "task_overhead-scaling.svg")
    assert (scaling in files) == (len(counts) >= 2), (counts, files)
    if scaling in files:
        texts(scaling)


@case
def sweep_and_scaling_plots():
    path = write("sweep.json", sweep())
    rc, files, err = plot("-o", TMP, path)
    assert rc == 0, err
    size = os.path.join(TMP, "sweep-size.svg")
    scaling = os.path.join(TMP, "sweep-scaling.svg")
    assert files == [os.path.join(TMP, "sweep-ratio.svg"), size, scaling], \
        files
    t = texts(size)
    # One panel per type; in each, one curve per op although each op is
    # measured against two baselines; the copy baseline drawn once.
    assert "gpu/f32" in t and "gpu/f64" in t, t
    assert t.count("axpy") == 2 and t.count("reduce") == 2, t
    assert t.count("cudaMemcpy D2D") == 2, t
    assert t.count("CUB DeviceTransform") == 2, t
    t = texts(scaling)
    # One panel of values and one of speed-ups (the 1-GPU baseline is
    # the point at 1), a line per type.
    assert "axpy/2^24" in t and "axpy/2^24: speed-up" in t, t
    assert t.count("f32") == 2 and t.count("f64") == 2, t
    assert "linear" in t and "gpus" in t, t


@case
def output_is_reproducible():
    path = write("again.json", sweep())
    a, b = os.path.join(TMP, "a"), os.path.join(TMP, "b")
    os.mkdir(a)
    os.mkdir(b)
    for d in (a, b):
        rc, _, err = plot("-o", d, path)
        assert rc == 0, err
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b)) and len(names) == 3
    for n in names:
        with open(os.path.join(a, n), "rb") as f1, \
                open(os.path.join(b, n), "rb") as f2:
            data = f1.read()
            assert data == f2.read(), n
            assert b"<dc:date>" not in data


@case
def kind_without_data_is_skipped_with_a_message():
    path = write("flat.json", [result("x", "ns", 5, "y", 4, False)])
    rc, files, err = plot("-o", TMP, "--kind", "size", path)
    assert rc == 0 and files == [] and "no size plot" in err, (rc, err)
    rc, files, err = plot("-o", TMP, "--kind", "ratio", path)
    assert rc == 0 and files == [os.path.join(TMP, "flat-ratio.svg")]


@case
def null_numbers_are_left_out():
    # The format writes non-finite numbers as null (docs/style.md).
    path = write("nulls.json", [
        result("kept", "ns", 5, "base", 4, False),
        dict(result("novalue", "ns", 1, "base", 4, False), value=None,
             ratio=None),
        dict(result("nobase", "ns", 3, "base", 4, False),
             baseline_value=None, ratio=None)])
    rc, files, err = plot("-o", TMP, path)
    assert rc == 0, err
    assert "novalue: no value" in err and "nobase: baseline" in err, err
    t = texts(os.path.join(TMP, "nulls-ratio.svg"))
    assert "kept" in t and "novalue" not in t and "nobase" not in t, t


@case
def bad_input_is_a_clear_error():
    bad = write("bad.json", [dict(result("a/b", "x", 2, "c", 1),
                                  ratio=3.0)])
    rc, files, err = plot("-o", TMP, bad)
    assert rc == 1 and files == [] and "a/b" in err and "ratio" in err, err
    garbage = os.path.join(TMP, "garbage.json")
    with open(garbage, "w") as f:
        f.write("[1, 2")
    rc, _, err = plot("-o", TMP, garbage)
    assert rc == 1 and "not JSON" in err, err
    rc, _, err = plot("-o", TMP, os.path.join(TMP, "missing.json"))
    assert rc == 1 and "missing.json" in err, err
    rc, _, err = plot("-o", os.path.join(TMP, "nodir"), bad)
    assert rc == 2 and "not a directory" in err, err
    # Nothing is written for a bad file, even next to good ones.
    good = write("good.json", sweep())
    rc, files, _ = plot("-o", TMP, good, bad)
    assert rc == 1 and files == [], files


run()
