#!/usr/bin/env python3
"""Plot benchmark JSON files (the format of docs/style.md) as SVG.

usage: plot-bench.py [-o DIR] [--kind KIND]... JSON...

For each JSON file NAME.json, writes into DIR (default: the current
directory) the plots its cases allow, and prints their paths:

  NAME-ratio.svg    value / baseline_value per case, as bars: one panel
                    per direction (higher or lower is better), bars
                    coloured by whether Flotilla is ahead of its baseline;
  NAME-size.svg     value against size for the cases of a sweep: cases
                    whose names differ only by a size component (2^k,
                    bytes=N, n=N, size=N, elements=N, or a bare number:
                    bytes for the collectives), baselines dashed;
  NAME-scaling.svg  value against a count component (gpus=N, devices=N,
                    ranks=N, workers=N), and the speed-up over a count
                    of 1 with the linear ideal when higher is better. A
                    baseline named "... 1 GPU" (1 device, worker, rank)
                    is the point at 1.

In the size and scaling plots, the cases whose names differ in one
component (the one with the most distinct values, e.g. the operation)
are the lines of a panel, and the other components name the panel (e.g.
gpu/f32). A component "vs_..." names a baseline: cases that differ only
by it are one measurement against several baselines, drawn once.

--kind ratio|size|scaling (repeatable) restricts the plots. A kind that
a file's cases do not allow is skipped (with a message on stderr when
--kind asked for it). Every file is read and checked before anything is
written. Exits 0 on success, 1 if a file cannot be read or does not
follow the format (the message names the file and the first problem),
2 on bad usage.

The output is reproducible: the same JSON and the same matplotlib
version give byte-identical SVG files (no date, fixed ids, text kept as
text). Needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_bench_json import check_doc  # noqa: E402

KINDS = ("ratio", "size", "scaling")

SIZE_KEYS = ("bytes", "n", "size", "elements")
COUNT_KEYS = ("gpus", "devices", "ranks", "workers")
# Benchmarks whose bare numeric case component is a size in bytes.
BYTES_BENCHES = ("collectives",)
ONE_DEVICE = re.compile(r"\b1 (gpu|device|worker|rank)s?\b", re.I)

# Colour-blind safe palette (Okabe-Ito), then matplotlib's tab10.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
           "#56B4E9", "#000000", "#F0E442", "#1f77b4", "#ff7f0e",
           "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
GOOD, BAD, EVEN = "#009E73", "#D55E00", "#999999"


class InputError(Exception):
    pass


# ---- Reading --------------------------------------------------------------

def load(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        raise InputError("%s: %s" % (path, e.strerror))
    except ValueError as e:
        raise InputError("%s: not JSON: %s" % (path, e))
    # The format writes non-finite numbers as null: a case without a
    # value, or a baseline without one, is left out of the plots, said.
    if isinstance(doc, dict) and isinstance(doc.get("results"), list):
        kept = []
        for r in doc["results"]:
            if not isinstance(r, dict):
                kept.append(r)
                continue
            name = r.get("case")
            if "value" in r and r["value"] is None:
                print("plot-bench: %s: %s: no value (null), left out" %
                      (path, name), file=sys.stderr)
                continue
            if r.get("baseline") is not None and \
                    (r.get("baseline_value") in (None, 0) or
                     r.get("ratio") is None):
                print("plot-bench: %s: %s: baseline without a value, "
                      "left out" % (path, name), file=sys.stderr)
                r = dict(r, baseline=None, baseline_value=None, ratio=None)
            kept.append(r)
        doc["results"] = kept
    problem = check_doc(doc)
    if problem is not None:
        raise InputError("%s: %s" % (path, problem))
    return doc


class Case:
    """A result with its name split into components: at most one size,
    at most one count, and the rest (parts) in order."""

    def __init__(self, r, bytes_bare):
        self.r = r
        self.name = r["case"]
        self.size = None        # (number, how to label it)
        self.count = None       # (key, number)
        self.parts = []
        for c in self.name.split("/"):
            # Sizes and counts are positive (they go on log axes).
            m = re.fullmatch(r"2\^(\d+)", c)
            if m and self.size is None:
                self.size = (2 ** int(m.group(1)), "pow2")
                continue
            m = re.fullmatch(r"([a-z_]+)=([1-9]\d*)", c)
            if m and m.group(1) in SIZE_KEYS and self.size is None:
                self.size = (int(m.group(2)), m.group(1))
                continue
            if m and m.group(1) in COUNT_KEYS and self.count is None:
                self.count = (m.group(1), int(m.group(2)))
                continue
            if re.fullmatch(r"[1-9]\d*", c) and self.size is None:
                self.size = (int(c), "bytes" if bytes_bare else "size")
                continue
            self.parts.append(c)

    @property
    def unit(self):
        return self.r["unit"]

    @property
    def hib(self):
        return self.r["higher_is_better"]


def cases_of(doc):
    bytes_bare = doc["bench"] in BYTES_BENCHES
    return [Case(r, bytes_bare) for r in doc["results"]]


def direction(hib):
    return "higher is better" if hib else "lower is better"


def fmt_size(v, kind, tex=True):
    if kind == "pow2":
        k = round(math.log2(v))
        return "$2^{%d}$" % k if tex else "2^%d" % k
    if kind in SIZE_KEYS and kind != "bytes" and not tex:
        return "%s=%d" % (kind, v)
    if kind == "bytes":
        for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20),
                            ("KiB", 1 << 10)):
            if v >= scale and v % scale == 0:
                return "%d %s" % (v // scale, unit)
        return "%d B" % v
    return "%d" % v


SIZE_LABEL = {"pow2": "elements", "bytes": "bytes", "n": "n",
              "size": "size", "elements": "elements"}


def title_of(doc, label):
    who = doc["device"] or doc["host"]
    t = "%s on %s" % (doc["bench"], who)
    tr = doc.get("transcribed")
    if isinstance(tr, dict) and tr.get("date"):
        t += ", %s" % tr["date"]
    return "%s: %s" % (t, label)


# ---- Plotting helpers ---------------------------------------------------

def setup_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise InputError("matplotlib is not installed "
                         "(Debian: apt-get install python3-matplotlib)")
    matplotlib.use("Agg")
    matplotlib.rcParams.update({
        # Reproducible output: fixed ids, text as <text> (no glyph paths
        # that depend on the font files), no creation date (savefig).
        "svg.hashsalt": "flotilla",
        "svg.fonttype": "none",
        "font.size": 9,
        "axes.titlesize": 9,
        "legend.fontsize": 7,
        "axes.grid": True,
        "grid.alpha": 0.3,
    })
    import matplotlib.pyplot as plt
    return plt


def save(plt, fig, path):
    fig.savefig(path, format="svg", metadata={"Date": None},
                bbox_inches="tight")
    plt.close(fig)


def wants_log(values, spread=30.0):
    pos = [v for v in values if v > 0]
    return len(pos) >= 2 and max(pos) / min(pos) > spread


# ---- Ratio to baseline per case -----------------------------------------

def plot_ratio(plt, doc, cases, path):
    rated = [c for c in cases if c.r["baseline"] is not None and
             isinstance(c.r["ratio"], (int, float))]
    if not rated:
        return "no case has a baseline"
    # Ratios have no unit: one panel per direction, in order of first
    # appearance.
    panels = []
    for c in rated:
        for p in panels:
            if p[0] == c.hib:
                p[1].append(c)
                break
        else:
            panels.append((c.hib, [c]))
    heights = [0.9 + 0.24 * len(p[1]) for p in panels]
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(8.0, sum(heights) + 0.4),
                             gridspec_kw={"height_ratios": heights})
    for ax, (hib, group) in zip(axes[:, 0], panels):
        ratios = [c.r["ratio"] for c in group]
        bases = []
        for c in group:
            if c.r["baseline"] not in bases:
                bases.append(c.r["baseline"])
        units = set(c.unit for c in group)
        labels = []
        for c in group:
            label = c.name
            if len(units) > 1:
                label += " (%s)" % c.unit
            if len(bases) > 1:
                label += "  [%s]" % c.r["baseline"]
            labels.append(label)
        colours = []
        for v in ratios:
            win = v > 1 if hib else v < 1
            colours.append(EVEN if v == 1 else GOOD if win else BAD)
        y = list(range(len(group)))
        log = wants_log(ratios, 20.0)
        left = min(v for v in ratios if v > 0) / 2 if log else 0
        ax.barh(y, [v - left for v in ratios], left=left, color=colours,
                height=0.7)
        ax.axvline(1.0, color="#333333", linewidth=0.8)
        if log:
            ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_ylim(len(group) - 0.5, -0.5)
        hi = max(ratios + [1.0])
        ax.set_xlim(left, hi * (3.0 if log else 1.18))
        for yi, v in zip(y, ratios):
            ax.text(v, yi, " %.3g" % v, va="center", ha="left", fontsize=7)
        what = ("value / %s" % bases[0]) if len(bases) == 1 else \
            "value / the baseline in brackets"
        unit = (" (%s)" % units.pop()) if len(units) == 1 else ""
        ax.set_title("%s%s, %s; green: Flotilla ahead" %
                     (what, unit, direction(hib)), loc="left")
        ax.grid(axis="y", visible=False)
    fig.suptitle(title_of(doc, "value / baseline"), x=0.01, ha="left",
                 fontsize=10)
    fig.tight_layout()
    save(plt, fig, path)
    return None


# ---- Value against size ---------------------------------------------------

def split_series(cases, keyf):
    """Group cases by keyf, keeping the order of first appearance."""
    out = {}
    for c in cases:
        out.setdefault(keyf(c), []).append(c)
    return out


def line_position(keys):
    """The component position whose values tell the lines of a panel
    apart: the one with the most distinct values (the earliest on a tie).
    None when no position varies."""
    best, best_n = None, 1
    for i in range(len(keys[0])):
        n = len(set(k[i] for k in keys))
        if n > best_n:
            best, best_n = i, n
    return best


def panels_of(series):
    """series: {(unit, hib, parts-tuple): [cases]} of one plot kind.
    Returns [(title, unit, hib, [(line label, series key, [cases])])]:
    the lines of a panel differ in one component of their names."""
    by_shape = {}
    for (unit, hib, parts), cs in series.items():
        by_shape.setdefault((unit, hib, len(parts)), []).append((parts, cs))
    panels = []
    for (unit, hib, _), group in by_shape.items():
        pos = line_position([p for p, _ in group])
        sub = {}
        for parts, cs in group:
            if pos is None:
                pkey, label = parts, "/".join(parts) or "flotilla"
            else:
                pkey = parts[:pos] + parts[pos + 1:]
                label = parts[pos]
            sub.setdefault(pkey, []).append((label, (unit, hib, parts), cs))
        for pkey, lines in sub.items():
            panels.append(("/".join(pkey), unit, hib, lines))
    return panels


class Line:
    """One measured curve: x -> value, and x -> value of each baseline.
    Cases of a line that differ only by a "vs_..." component are the
    same measurement against several baselines."""

    def __init__(self, label, cs, xf):
        self.label = label
        self.pts = {}
        self.bases = {}
        for c in cs:
            x = xf(c)
            self.pts.setdefault(x, c.r["value"])
            if c.r["baseline"] is not None:
                self.bases.setdefault(c.r["baseline"], {})[x] = \
                    c.r["baseline_value"]

    def xy(self):
        xs = sorted(self.pts)
        return xs, [self.pts[x] for x in xs]


def lines_of(label, cs, xf):
    """Lines for one label; cases at the same x with different values
    (not one measurement against two baselines) get a line each."""
    by_x = {}
    for c in cs:
        by_x.setdefault(xf(c), set()).add(c.r["value"])
    if all(len(v) == 1 for v in by_x.values()):
        return [Line(label, cs, xf)]
    out = []
    for name, sub in split_series(cs, lambda c: "/".join(c.parts)).items():
        out.append(Line("%s (%s)" % (label, name), sub, xf))
    return out


def draw_lines(ax, lines, skip_base=None):
    """Measured curves solid, baselines dashed. A curve identical to one
    already drawn (one baseline shared by several lines) is drawn once,
    in grey. Returns every y value drawn."""
    drawn, ys = [], []
    base_count = {}
    for ln in lines:
        for name, pts in ln.bases.items():
            key = (name, tuple(sorted(pts.items())))
            base_count[key] = base_count.get(key, 0) + 1
    names = {}
    for ln in lines:
        for name in ln.bases:
            names[name] = names.get(name, 0) + 1
    for i, ln in enumerate(lines):
        colour = PALETTE[i % len(PALETTE)]
        xs, vs = ln.xy()
        ax.plot(xs, vs, marker="o", markersize=3.5, color=colour,
                linewidth=1.4, label=ln.label)
        ys += vs
        for name, pts in ln.bases.items():
            if skip_base is not None and skip_base(name):
                continue
            key = (name, tuple(sorted(pts.items())))
            if key in drawn:
                continue
            drawn.append(key)
            bxs = sorted(pts)
            bvs = [pts[x] for x in bxs]
            if base_count[key] > 1:
                bcolour, label = "#555555", name
            else:
                bcolour = colour
                label = name if names[name] == 1 else \
                    "%s: %s" % (ln.label, name)
            ax.plot(bxs, bvs, linestyle="--", marker="x", markersize=3.5,
                    color=bcolour, linewidth=1.0, label=label)
            ys += bvs
    return ys


def legend_below(ax):
    """The legend under the axes, where it hides no curve."""
    n = len(ax.get_legend_handles_labels()[1])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.26),
              ncol=2 if n > 3 else n, frameon=False)


def grid_figure(plt, n, w=5.4, h=3.5):
    cols = 1 if n == 1 else 2
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, squeeze=False,
                             figsize=(w * cols, h * rows + 0.3))
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def set_y(ax, ys, label):
    if wants_log(ys):
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0, top=max(ys) * 1.1)
    ax.set_ylabel(label)


def set_x(ax, xs, labels, name):
    """A log2 axis with a tick at each x; labels closer than 1/12 of the
    axis to the previous label are left out (the last one is kept)."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs)
    gap = (math.log2(xs[-1]) - math.log2(xs[0])) / 12.0
    shown, last = [""] * len(xs), None
    for i, x in enumerate(xs):
        if last is None or math.log2(x) - math.log2(xs[last]) >= gap:
            shown[i], last = labels[i], i
    if shown[-1] == "":
        shown[last] = ""
        shown[-1] = labels[-1]
    ax.set_xticklabels(shown, fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel(name)


def plot_size(plt, doc, cases, path):
    sized = [c for c in cases if c.size is not None]
    # "vs_..." components name a baseline, not a different measurement.
    series = split_series(sized, lambda c: (
        c.unit, c.hib, tuple(p for p in c.parts if not p.startswith("vs_"))
        + (("%s=%d" % c.count,) if c.count else ())))
    series = {k: v for k, v in series.items()
              if len(set(c.size[0] for c in v)) >= 2}
    if not series:
        return "no case is part of a size sweep"
    panels = panels_of(series)
    fig, axes = grid_figure(plt, len(panels))
    for ax, (ptitle, unit, hib, groups) in zip(axes, panels):
        lines = [ln for label, _, cs in groups
                 for ln in lines_of(label, cs, lambda c: c.size[0])]
        ys = draw_lines(ax, lines)
        kind = groups[0][2][0].size[1]
        xs = sorted(set(x for ln in lines for x in ln.pts))
        set_x(ax, xs, [fmt_size(x, kind) for x in xs],
              SIZE_LABEL.get(kind, kind))
        set_y(ax, ys, "%s (%s)" % (unit, direction(hib)))
        ax.set_title(ptitle or unit, loc="left")
        legend_below(ax)
    fig.suptitle(title_of(doc, "against size (dashed: baselines)"),
                 x=0.01, ha="left", fontsize=10)
    fig.tight_layout()
    save(plt, fig, path)
    return None


# ---- Scaling with the device count ----------------------------------------

def plot_scaling(plt, doc, cases, path):
    panels = []
    for ck in COUNT_KEYS:
        panels += scaling_panels([c for c in cases
                                  if c.count and c.count[0] == ck], ck)
    if not panels:
        return "no case is measured at two or more device counts"
    fig, axes = grid_figure(plt, len(panels))
    for ax, (ptitle, unit, hib, lines, speedup, ck) in zip(axes, panels):
        xs = sorted(set(x for ln in lines for x in ln.pts))
        if speedup:
            for i, ln in enumerate(lines):
                lx, ly = ln.xy()
                ax.plot(lx, [v / ln.pts[1] for v in ly], marker="o",
                        markersize=3.5, color=PALETTE[i % len(PALETTE)],
                        linewidth=1.4, label=ln.label)
            ax.plot(xs, xs, linestyle=":", color="#555555", label="linear")
            set_y(ax, [0.0, float(max(xs))], "speed-up over 1")
            ax.set_title("%s: speed-up" % (ptitle or unit), loc="left")
        else:
            ys = draw_lines(ax, lines,
                            skip_base=lambda n: ONE_DEVICE.search(n))
            set_y(ax, ys, "%s (%s)" % (unit, direction(hib)))
            ax.set_title(ptitle or unit, loc="left")
        set_x(ax, xs, ["%d" % x for x in xs], ck)
        legend_below(ax)
    fig.suptitle(title_of(doc, "scaling (dashed: baselines)"), x=0.01,
                 ha="left", fontsize=10)
    fig.tight_layout()
    save(plt, fig, path)
    return None


def scaling_panels(counted, ck):
    """Panels for the cases of one count key: the values, and the
    speed-up over one device when higher is better and every line has
    a point at 1 (measured, or the one-device baseline)."""
    series = split_series(counted, lambda c: (
        c.unit, c.hib, tuple(p for p in c.parts if not p.startswith("vs_"))
        + ((fmt_size(*c.size, tex=False),) if c.size else ())))
    one_base = {}   # series key -> value at 1 from a one-device baseline
    for key, cs in series.items():
        if any(c.count[1] == 1 for c in cs):
            continue
        for c in cs:
            if c.r["baseline"] and ONE_DEVICE.search(c.r["baseline"]):
                one_base[key] = c.r["baseline_value"]
                break
    series = {k: v for k, v in series.items()
              if len(set(c.count[1] for c in v) |
                     ({1} if k in one_base else set())) >= 2}
    panels = []
    if not series:
        return panels
    for ptitle, unit, hib, groups in panels_of(series):
        lines = []
        for label, key, cs in groups:
            for ln in lines_of(label, cs, lambda c: c.count[1]):
                if key in one_base:
                    ln.pts.setdefault(1, one_base[key])
                lines.append(ln)
        panels.append((ptitle, unit, hib, lines, False, ck))
        if hib and all(1 in ln.pts for ln in lines):
            panels.append((ptitle, unit, hib, lines, True, ck))
    return panels


PLOTTERS = {"ratio": plot_ratio, "size": plot_size, "scaling": plot_scaling}


def main(argv):
    ap = argparse.ArgumentParser(
        prog="plot-bench.py", description=__doc__.split("\n", 1)[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out-dir", default=".",
                    help="directory for the SVG files (default: .)")
    ap.add_argument("--kind", action="append", choices=KINDS,
                    help="only this kind of plot (repeatable)")
    ap.add_argument("json", nargs="+", help="benchmark JSON files")
    args = ap.parse_args(argv)
    kinds = args.kind or list(KINDS)
    if not os.path.isdir(args.out_dir):
        print("plot-bench: %s: not a directory" % args.out_dir,
              file=sys.stderr)
        return 2
    try:
        docs = [(p, load(p)) for p in args.json]
        plt = setup_matplotlib()
    except InputError as e:
        print("plot-bench: %s" % e, file=sys.stderr)
        return 1
    for p, doc in docs:
        stem = os.path.splitext(os.path.basename(p))[0]
        cases = cases_of(doc)
        for kind in kinds:
            out = os.path.join(args.out_dir, "%s-%s.svg" % (stem, kind))
            why = PLOTTERS[kind](plt, doc, cases, out)
            if why is None:
                print(out)
            elif args.kind:
                print("plot-bench: %s: no %s plot: %s" % (p, kind, why),
                      file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
