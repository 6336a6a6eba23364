#!/usr/bin/env python3
"""Run a benchmark with --json and check the file (docs/style.md format).

usage: check_bench_json.py JSON_PATH BENCH_EXE [ARGS...]

Exits 0 when the benchmark succeeded and its JSON has the fields and types
of the documented format (bench, version, host, device, results[] with
case, unit, value, baseline, baseline_value, higher_is_better, ratio),
non-zero otherwise. Used as a test so that CI runs every benchmark once.
check_doc() is the check alone, for other scripts (plot-bench.py).
"""
import json
import math
import subprocess
import sys


def fail(msg):
    print("check_bench_json: " + msg, file=sys.stderr)
    sys.exit(1)


def check_doc(doc):
    """Return the first problem of a parsed benchmark JSON as a string
    (docs/style.md format), or None when it has every field and type."""
    if not isinstance(doc, dict):
        return "the top level is not an object"
    for key, typ in (("bench", str), ("version", str), ("host", str)):
        if not isinstance(doc.get(key), typ) or not doc[key]:
            return "missing or empty %r" % key
    if "device" not in doc or not (doc["device"] is None or
                                   isinstance(doc["device"], str)):
        return "'device' must be a string or null"
    results = doc.get("results")
    if not isinstance(results, list) or not results:
        return "'results' must be a non-empty list"
    seen = set()
    for r in results:
        if not isinstance(r, dict):
            return "a result is not an object: %r" % (r,)
        name = r.get("case")
        if not isinstance(name, str) or not name:
            return "a result has no case name: %r" % r
        if name in seen:
            return "case %r appears twice" % name
        seen.add(name)
        if not isinstance(r.get("unit"), str):
            return "%s: no unit" % name
        v = r.get("value")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or \
                not math.isfinite(v) or v < 0:
            return "%s: bad value %r" % (name, v)
        if not isinstance(r.get("higher_is_better"), bool):
            return "%s: higher_is_better must be a boolean" % name
        for key in ("baseline", "baseline_value", "ratio"):
            if key not in r:
                return "%s: missing %r" % (name, key)
        if r["baseline"] is not None:
            bv = r["baseline_value"]
            if isinstance(bv, bool) or not isinstance(bv, (int, float)) or \
                    not math.isfinite(bv) or bv <= 0:
                return "%s: bad baseline_value %r" % (name, bv)
            ratio = r["ratio"]
            if isinstance(ratio, bool) or \
                    not isinstance(ratio, (int, float)) or \
                    abs(ratio - v / bv) > 1e-3 * max(1.0, abs(ratio)):
                return "%s: ratio %r is not value / baseline_value" % (
                    name, ratio)
    return None


def main():
    if len(sys.argv) < 3:
        fail(__doc__.strip().splitlines()[2])
    path, cmd = sys.argv[1], sys.argv[2:] + ["--json", sys.argv[1]]
    rc = subprocess.call(cmd)
    if rc != 0:
        fail("%s exited with %d" % (" ".join(cmd), rc))
    with open(path) as f:
        doc = json.load(f)
    problem = check_doc(doc)
    if problem is not None:
        fail(problem)
    print("check_bench_json: %s: %d cases OK" % (doc["bench"],
                                                 len(doc["results"])))


if __name__ == "__main__":
    main()
