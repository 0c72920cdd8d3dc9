"""Tests of torchdoctor.report.charts (matplotlib, inline SVG): text from data escaped and
shown as typed, no script or external reference, byte-identical output for the same inputs,
unique ids in a page, values mapped back from the SVG (bars, heat-map colours against
matplotlib's viridis and a naive geometric mean), gaps, and the light import."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from test_report import heatmap_pixels, make_run, parse
from torchdoctor.report import write_html_report
from torchdoctor.report.charts import (
    Series,
    bar_chart,
    figure,
    figure_svg,
    heatmap,
    line_chart,
)

NASTY = ("<script>alert(1)</script>", "a&b", "$x^2$ costs $5", "_hidden", 'q"uote',
         'font-family: x; id="y" url(#z) 1.23456')


def _attrs(svg: str) -> dict[str, float]:
    head = re.match(r"<svg[^>]*>", svg).group(0)
    return {k: float(v) for k, v in re.findall(r'data-(\w+)="([-\d.e]+)"', head)}


def test_text_from_data_is_escaped_and_shown_as_typed() -> None:
    xs = [0.0, 1.0, 2.0]
    parts = [
        line_chart([Series(n, xs, [1.0, 2.0, 3.0]) for n in NASTY], kind="l", title=NASTY[0],
                   x_label=NASTY[1], y_label=NASTY[2]),
        line_chart([Series("v", xs, [1.0, 1e-3, 1e-6], markers=True)], kind="c", title="t",
                   x_categories=list(NASTY[:3])),
        bar_chart(list(NASTY), {NASTY[1]: [0.1] * 6, NASTY[2]: [0.2] * 6}, kind="b", title="t"),
        heatmap(list(NASTY), [0, 1], {n: [1.0, 2.0] for n in NASTY}, kind="h", title=NASTY[2]),
    ]
    html = "\n".join(parts)
    dom = parse(html)
    assert "script" not in {t for t, _ in dom.tags} and "<script" not in html
    text = dom.all_text
    for name in NASTY:  # every name reaches the page as typed: legends, ticks, tooltips
        assert name in text, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "a&amp;b" in html
    assert "mathdefault" not in html  # no "$...$" became a formula, log ticks are plain text
    assert 'data-series="q&quot;uote"' in html
    import html as html_lib
    drawn = {html_lib.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", parts[0])}
    assert set(NASTY) <= drawn  # the legend's own text (not only the tooltips) is intact


def test_no_external_reference_and_unique_ids(tmp_path: Path) -> None:
    run = make_run(n_steps=60)
    path = write_html_report(tmp_path / "r.html", title="t", summary={}, **run)
    html = path.read_text(encoding="utf-8")
    dom = parse(html)
    ids = Counter(a["id"] for _, a in dom.tags if "id" in a)
    assert [i for i, n in ids.items() if n > 1] == []
    refs = [v for _, a in dom.tags for k, v in a.items() if k in ("href", "xlink:href", "src")]
    assert refs and all(v.startswith(("#", "data:image/png;base64,")) for v in refs)
    local = {v[1:] for v in refs if v.startswith("#")} | set(re.findall(r"url\(#([^)]+)\)", html))
    assert local <= set(ids)  # every reference resolves inside the page
    assert re.findall(r"https?://(?!www\.w3\.org/2000/svg)", html) == []


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    run = make_run(n_steps=40, epochs=3)
    pages = []
    for name in ("a.html", "b.html"):
        html = write_html_report(tmp_path / name, title="t", summary={}, **run).read_text()
        pages.append(re.sub(r"<footer>.*?</footer>", "", html))  # holds the time of day
    assert pages[0] == pages[1]

    def drawing() -> str:
        fig, ax = figure()
        ax.plot([0, 1, 2], [1, 0, 1], label="x")
        ax.imshow([[0.0, 1.0]], extent=(0, 1, 0, 1))
        return figure_svg(fig, title="f")

    assert drawing() == drawing()


def test_bars_map_back_to_values() -> None:
    vals = {"zero": [0.25, None, 1.0], "sat": [0.0, 0.5, 0.75]}
    svg = bar_chart(["l0", "l1", "l2"], vals, kind="b", title="t")
    a = _attrs(svg)
    found = {}
    for group, tip, d in re.findall(
            r'<g class="bar" data-group="(\w+)"><title>([^<]*)</title><path d="([^"]*)"', svg):
        assert f" {group}: " in tip
        xs = [float(x) for x in re.findall(r"[ML] ([-\d.]+) ", d)]
        width = (max(xs) - min(xs)) / (a["px1"] - a["px0"]) * (a["xmax"] - a["xmin"])
        found[tip] = width
    assert found.keys() == {"l0 zero: 25%", "l2 zero: 100%", "l0 sat: 0%", "l1 sat: 50%",
                            "l2 sat: 75%"}
    for tip, width in found.items():
        assert width == pytest.approx(float(tip.split(": ")[1][:-1]) / 100, abs=0.005), tip
    assert "n/a" in parse(svg).all_text  # l1 zero: not measured


def test_heatmap_colours_match_viridis_of_geometric_means() -> None:
    from matplotlib import colormaps

    steps = list(range(12))
    values = {"a": [10.0 ** (-(s % 4)) for s in steps],
              "b": [0.0] * 6 + [None] * 6,
              "c": [1e-2] * 11 + [math.inf]}
    svg = heatmap(list(values), steps, values, kind="h", title="t", max_cols=4)
    img = heatmap_pixels(svg, "h")
    assert img.shape == (3, 4, 4)
    # naive reference: each bucket of 3 steps, geometric mean of the positive values
    buckets = [(0, 3), (3, 6), (6, 9), (9, 12)]
    means = {}
    for name, vs in values.items():
        for c, (lo, hi) in enumerate(buckets):
            chunk = [v for v in vs[lo:hi] if v is not None]
            if chunk and all(math.isfinite(v) and v > 0 for v in chunk):
                means[name, c] = math.exp(sum(math.log(v) for v in chunk) / len(chunk))
    vmin, vmax = min(means.values()), max(means.values())
    assert _attrs(svg)["vmin"] == pytest.approx(vmin) and _attrs(svg)["vmax"] == pytest.approx(vmax)
    for (name, c), m in means.items():
        t = (math.log10(m) - math.log10(vmin)) / (math.log10(vmax) - math.log10(vmin))
        want = [round(255 * x) for x in colormaps["viridis"](t)]
        got = img["abc".index(name), c]
        assert max(abs(int(g) - w) for g, w in zip(got, want, strict=True)) <= 2, (name, c)
    lowest = [round(255 * x) for x in colormaps["viridis"](0.0)]
    assert [int(x) for x in img[1, 0]] == lowest       # all zero: the lowest colour
    assert img[1, 2][3] == 0                            # unmeasured: blank
    assert tuple(img[2, 3]) == (214, 39, 40, 255)       # a NaN/Inf in the bucket: red


def test_line_gaps_log_axis_and_nonfinite_marks() -> None:
    xs = [float(i) for i in range(8)]
    ys = [1.0, 10.0, None, 100.0, 1000.0, math.nan, 1e4, -1.0]
    assert _attrs(line_chart([Series("s", xs, ys)], kind="g", title="t"))["log"] == 0  # -1 < 0
    assert _attrs(line_chart([Series("s", xs, ys[:7])], kind="g", title="t"))["log"] == 1
    svg = line_chart([Series("s", xs, ys)], kind="g", title="t", log_y=True)  # -1: not drawn
    d = re.search(r'data-series="s"><title>s</title><path d="([^"]*)"', svg).group(1)
    assert d.count("M") == 3  # three runs of finite values: [0, 1], [3, 4], [6]
    assert 'class="nonfinite"' in svg and "s: NaN/Inf at 1 x value(s)" in svg
    assert 'class="points"' in svg  # the lone point at x = 6 gets a dot
    flat = line_chart([Series("s", xs, ys)], kind="g", title="t", log_y=False, y_range=(0, 2))
    assert _attrs(flat)["log"] == 0 and (_attrs(flat)["ymin"], _attrs(flat)["ymax"]) == (0, 2)


def test_import_is_light_until_the_first_draw_and_the_callers_matplotlib_is_untouched() -> None:
    code = ("import sys, torchdoctor.report, torchdoctor.report.charts as c\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib loaded on import'\n"
            "import matplotlib\n"
            "matplotlib.rcParams['lines.linewidth'] = 7.0\n"
            "keys = ['lines.linewidth', 'figure.dpi', 'svg.fonttype', 'svg.hashsalt', 'font.size',\n"
            "        'axes.grid', 'axes.prop_cycle', 'legend.frameon']\n"
            "before = {k: matplotlib.rcParams[k] for k in keys}\n"
            "c.line_chart([c.Series('a', [0, 1], [1, 2])], kind='k', title='t')\n"
            "c.heatmap(['a'], [0], {'a': [1.0]}, kind='h', title='t')\n"
            "c.bar_chart(['a'], {'g': [0.5]}, kind='b', title='t')\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot loaded'\n"
            "assert {k: matplotlib.rcParams[k] for k in keys} == before, 'rcParams changed'\n")
    src = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


EDGE_CASES = {
    "no series": lambda: line_chart([], kind="a", title="t"),
    "no finite value": lambda: line_chart([Series("a", [0, 1], [None, math.nan])], kind="a", title="t"),
    "one point": lambda: line_chart([Series("a", [0], [1.0])], kind="a", title="t"),
    "constant on log": lambda: line_chart([Series("a", [0, 1], [5.0, 5.0])], kind="a", title="t", log_y=True),
    "600 decades": lambda: line_chart([Series("a", [0, 1, 2], [1e-300, 1e300, 1.0])], kind="a", title="t"),
    "near max float": lambda: line_chart([Series("a", [0, 1], [1.7e308, -1.7e308])], kind="a", title="t"),
    "negative on log": lambda: line_chart([Series("a", [0, 1], [-1.0, -2.0])], kind="a", title="t", log_y=True),
    "non-finite x": lambda: line_chart([Series("a", [math.nan, math.inf], [1.0, 2.0])], kind="a", title="t"),
    "ys shorter than xs": lambda: line_chart([Series("a", [0, 1, 2], [1.0])], kind="a", title="t"),
    "no category": lambda: line_chart([Series("a", [], [])], kind="a", title="t", x_categories=[]),
    "300 categories": lambda: line_chart([Series("a", list(range(300)), [1.0] * 300)], kind="a", title="t",
                                         x_categories=[f"l{i}" for i in range(300)]),
    "unbalanced $": lambda: line_chart([Series("$\\frac{$", [0, 1], [1.0, 2.0])], kind="a", title="\\$x$"),
    "no bar": lambda: bar_chart([], {}, kind="b", title="t"),
    "unmeasured bar": lambda: bar_chart(["a"], {"g": [None]}, kind="b", title="t"),
    "empty map": lambda: heatmap([], [], {}, kind="h", title="t"),
    "map without steps": lambda: heatmap(["a"], [], {"a": []}, kind="h", title="t"),
    "unmeasured map": lambda: heatmap(["a"], [0, 1], {"a": [None, None]}, kind="h", title="t"),
    "map of extremes": lambda: heatmap(["a"], [0, 1], {"a": [1e-320, 1e308]}, kind="h", title="t"),
    "map of NaN": lambda: heatmap(["a"], [0, 1], {"a": [math.nan, math.inf]}, kind="h", title="t"),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases_draw(case: str) -> None:
    svg = EDGE_CASES[case]()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "nan" not in " ".join(re.findall(r' d="([^"]*)"', svg)).lower()


def test_a_chart_that_fails_leaves_a_note_and_the_page(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.figure

    def boom(self, *args, **kwargs):
        raise RuntimeError("no <canvas> today")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", boom)
    run = make_run(n_steps=30, epochs=2)
    html = write_html_report(tmp_path / "r.html", title="t", summary={}, **run).read_text()
    dom = parse(html)
    assert "Loss per epoch: not drawn (RuntimeError: no <canvas> today)" in dom.all_text
    assert "<canvas>" not in html and "findings" in dom.ids


def test_findings_marked_at_their_steps(tmp_path: Path) -> None:
    run = make_run(n_steps=100)
    html = write_html_report(tmp_path / "r.html", title="t", summary={}, **run).read_text()
    svg = re.search(r'<svg class="chart" data-chart="loss_step".*?</svg>', html, re.S).group(0)
    a = _attrs(svg)
    marks = re.findall(r'<g class="mark" data-x="([^"]*)"><title>([^<]*)</title><path d="M ([-\d.]+) ', svg)
    assert [m[0] for m in marks] == ["12", "20"]  # the findings with a step, in step order
    for x, _, px in marks:
        step = a["xmin"] + (float(px) - a["px0"]) / (a["px1"] - a["px0"]) * (a["xmax"] - a["xmin"])
        assert step == pytest.approx(float(x), abs=0.05)
    assert marks[0][1] == "step 12: vanishing_gradient (error): ratio &amp;&lt;&gt;&quot;&#x27; too small"
    # outside the plotted range: not drawn, and the range is kept
    svg = line_chart([Series("a", [0, 1, 2], [1.0, 2.0, 3.0])], kind="k", title="t",
                     x_marks=[(1, "in"), (1, "same x"), (7, "out"), (math.nan, "nan")])
    assert re.findall(r'<g class="mark"[^>]*><title>([^<]*)</title>', svg) == ["in\nsame x"]
    assert _attrs(svg)["xmax"] < 3


def test_our_figures_leave_the_callers_matplotlib_alone() -> None:
    """A notebook user's backend, pyplot state and rcParams are untouched by our figures and
    by a GanDoctor report (run in a fresh interpreter: the backend is process-wide)."""
    code = """
import matplotlib
matplotlib.use("pdf")
import matplotlib.pyplot as plt
rc = dict(plt.rcParams)
import torch
from torch import nn
import torchdoctor as td
from torchdoctor.report.charts import figure, figure_svg, house_style
fig, ax = figure()
ax.plot([1, 2], [3, 4])
assert figure_svg(fig).startswith("<svg")
with house_style():
    assert plt.rcParams["svg.fonttype"] == "none"
    fig, ax = figure()
    ax.plot([1, 2])
    figure_svg(fig)
torch.manual_seed(0)
G, D = nn.Linear(2, 2), nn.Linear(2, 1)
gd = td.GanDoctor(G, D)
for _ in range(3):
    x, z = torch.randn(8, 2), torch.randn(8, 2)
    fake = G(z)
    loss_d = D(x).mean() - D(fake.detach()).mean()
    loss_d.backward()
    gd.step_d(loss_d, real_scores=D(x).detach(), fake_scores=D(fake.detach()).detach())
    loss_g = -D(G(z)).mean()
    loss_g.backward()
    gd.step_g(loss_g, fake_scores=D(G(z)).detach())
import tempfile, os
gd.report(os.path.join(tempfile.mkdtemp(), "gan.html"))
gd.close()
assert matplotlib.get_backend() == "pdf", matplotlib.get_backend()
assert dict(plt.rcParams) == rc
assert plt.get_fignums() == []
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
