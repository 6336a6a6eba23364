#!/usr/bin/env python3
"""Check the plots of docs/perf against their data, or remake them.

usage: check_perf_plots.py [--update]

docs/perf/data/*.json are benchmark results (docs/style.md format); those
with a "transcribed" object were typed in from a table of a docs/perf
page (page, section, date, machine, note; "derived": the fields not
read from the page; "plots": the kinds of plot to make, all by
default). docs/perf/img/*.svg are their plots, made by
scripts/plot-bench.py. This script checks that:

  1. every data file follows the format, and every value (and
     baseline_value, unless derived) of a transcribed file appears as a
     number in its page's section: a typo in a transcription fails;
  2. plot-bench.py runs on every data file, and what it makes is exactly
     the set of committed SVG files, each a well-formed SVG document;
  3. each committed SVG is byte-identical to the one made now when the
     matplotlib here is the version that made it (its <dc:title>); with
     another version, only that it parses (text and layout may move);
  4. every docs/perf/*.md page shows at least one plot, every image a
     page links exists, and every SVG is shown on the page its data came
     from.

--update remakes docs/perf/img from docs/perf/data (stale SVGs removed),
then checks. Exits 0 when everything holds, 1 otherwise (each problem
on its own line), 2 on bad usage.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = os.path.join(ROOT, "docs", "perf")
DATA = os.path.join(PERF, "data")
IMG = os.path.join(PERF, "img")
PLOT = os.path.join(ROOT, "scripts", "plot-bench.py")
SVG_NS = "{http://www.w3.org/2000/svg}"

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from check_bench_json import check_doc  # noqa: E402

problems = []


def problem(msg):
    problems.append(msg)
    print("check_perf_plots: " + msg, file=sys.stderr)


def rel(path):
    return os.path.relpath(path, ROOT)


def section_text(page_text, heading):
    """The text under the heading whose title is `heading`, up to the
    next heading of the same or a higher level (lines in fenced code
    blocks are not headings); None if not found."""
    start, level, out, fenced = None, 0, [], False
    for line in page_text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"(#+)\s+(.*?)\s*$", line)
        if start is None:
            if m and m.group(2) == heading:
                start, level = True, len(m.group(1))
            continue
        if m and len(m.group(1)) <= level:
            break
        out.append(line)
    return None if start is None else "\n".join(out)


def numbers_in(text):
    return set(float(t) for t in re.findall(r"\d+(?:\.\d+)?", text))


def check_transcription(path, doc):
    tr = doc["transcribed"]
    for key in ("page", "section", "date", "machine"):
        if not isinstance(tr.get(key), str) or not tr[key]:
            problem("%s: transcribed.%s missing" % (rel(path), key))
            return None
    page = os.path.join(ROOT, tr["page"])
    try:
        with open(page) as f:
            text = f.read()
    except OSError:
        problem("%s: page %s not found" % (rel(path), tr["page"]))
        return None
    sec = section_text(text, tr["section"])
    if sec is None:
        problem("%s: no section %r in %s" % (rel(path), tr["section"],
                                             tr["page"]))
        return tr["page"]
    have = numbers_in(sec)
    derived = tr.get("derived", [])
    for r in doc["results"]:
        for key in ("value", "baseline_value"):
            v = r[key]
            if v is None or key in derived:
                continue
            if not any(abs(v - h) <= 1e-9 * max(1.0, abs(v)) for h in have):
                problem("%s: %s: %s %r is not in section %r of %s" %
                        (rel(path), r["case"], key, v, tr["section"],
                         tr["page"]))
    return tr["page"]


def svg_creator(path):
    """Parse an SVG file; return the matplotlib version string in its
    metadata ('' if none), or raise ValueError if it is not SVG."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError("not well-formed XML: %s" % e)
    if root.tag != SVG_NS + "svg":
        raise ValueError("root element is %s, not svg" % root.tag)
    for el in root.iter():
        if el.tag.endswith("}title") and el.text and \
                el.text.startswith("Matplotlib v"):
            return el.text.split(",")[0]
    return ""


def main(argv):
    if argv not in ([], ["--update"]):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    update = argv == ["--update"]
    data_files = sorted(glob.glob(os.path.join(DATA, "*.json")))
    if not data_files:
        problem("no data files in %s" % rel(DATA))
        return 1

    # 1. The data, the page each file came from, the plots it wants.
    page_of, kinds_of = {}, {}
    for path in data_files:
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            problem("%s: cannot read: %s" % (rel(path), e))
            continue
        why = check_doc(doc)
        if why is not None:
            problem("%s: %s" % (rel(path), why))
            continue
        tr = doc.get("transcribed")
        if isinstance(tr, dict):
            page_of[path] = check_transcription(path, doc)
            kinds_of[path] = tuple(tr.get("plots", ()))

    # 2. Make the plots: one run of plot-bench.py per set of kinds.
    tmp = tempfile.mkdtemp(prefix="flo-perf-plots-")
    try:
        made = []
        groups = {}
        for path in data_files:
            groups.setdefault(kinds_of.get(path, ()), []).append(path)
        for kinds, paths in sorted(groups.items()):
            cmd = [sys.executable, PLOT, "-o", tmp]
            for k in kinds:
                cmd += ["--kind", k]
            run = subprocess.run(cmd + paths, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 universal_newlines=True)
            if run.returncode != 0:
                problem("plot-bench.py failed (exit %d): %s" %
                        (run.returncode, run.stderr.strip()))
                return 1
            made += [os.path.basename(p) for p in run.stdout.split()]
            for path in paths:
                stem = os.path.splitext(os.path.basename(path))[0]
                for k in kinds:
                    if "%s-%s.svg" % (stem, k) not in made:
                        problem("%s: asks for a %s plot, which its cases "
                                "do not allow" % (rel(path), k))
        made.sort()
        if update:
            os.makedirs(IMG, exist_ok=True)
            for old in glob.glob(os.path.join(IMG, "*.svg")):
                os.remove(old)
            for name in made:
                shutil.copyfile(os.path.join(tmp, name),
                                os.path.join(IMG, name))
            print("check_perf_plots: wrote %d SVG files to %s" %
                  (len(made), rel(IMG)))
        committed = sorted(os.path.basename(p) for p in
                           glob.glob(os.path.join(IMG, "*.svg")))
        for name in sorted(set(made) - set(committed)):
            problem("%s/%s is missing (run %s --update)" %
                    (rel(IMG), name, rel(__file__)))
        for name in sorted(set(committed) - set(made)):
            problem("%s/%s comes from no data file (run %s --update)" %
                    (rel(IMG), name, rel(__file__)))

        # 3. Same bytes, or at least SVG.
        import matplotlib
        here = "Matplotlib v" + matplotlib.__version__
        other = set()
        for name in sorted(set(made) & set(committed)):
            new, old = os.path.join(tmp, name), os.path.join(IMG, name)
            try:
                svg_creator(new)
                made_by = svg_creator(old)
            except ValueError as e:
                problem("%s/%s: %s" % (rel(IMG), name, e))
                continue
            if made_by == here:
                with open(new, "rb") as a, open(old, "rb") as b:
                    if a.read() != b.read():
                        problem("%s/%s differs from what plot-bench.py "
                                "makes now (run %s --update)" %
                                (rel(IMG), name, rel(__file__)))
            else:
                other.add(made_by or "unknown")
        if other:
            print("check_perf_plots: the committed SVGs were made by %s, "
                  "this is %s: checked that they parse, not byte for byte"
                  % (", ".join(sorted(other)), here))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # 4. Every page shows its plots.
    shown = {}
    for page in sorted(glob.glob(os.path.join(PERF, "*.md"))):
        with open(page) as f:
            text = f.read()
        links = re.findall(r"!\[[^\]]*\]\((img/[^)\s]+)\)", text)
        if not links:
            problem("%s shows no plot" % rel(page))
        for link in links:
            if not os.path.isfile(os.path.join(PERF, link)):
                problem("%s: %s does not exist" % (rel(page), link))
            shown.setdefault(os.path.basename(link), set()).add(
                os.path.relpath(page, ROOT))
    for name in committed:
        if name not in shown:
            problem("%s/%s is on no docs/perf page" % (rel(IMG), name))
    for path, page in page_of.items():
        stem = os.path.splitext(os.path.basename(path))[0]
        for name in committed:
            if page and name.startswith(stem + "-") and \
                    name[len(stem) + 1:-4] in ("ratio", "size", "scaling") \
                    and page not in shown.get(name, ()):
                problem("%s/%s is not shown on %s, where its data came "
                        "from" % (rel(IMG), name, page))

    if problems:
        print("check_perf_plots: %d problem(s)" % len(problems),
              file=sys.stderr)
        return 1
    print("check_perf_plots: %d data files, %d plots, %d pages OK" %
          (len(data_files), len(committed),
           len(glob.glob(os.path.join(PERF, "*.md")))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
