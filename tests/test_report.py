"""Tests of torchdoctor.report: HTML structure and escaping (html.parser), plotted values
(mapped back from SVG coordinates), run-directory rebuild, console output."""

from __future__ import annotations

import json
import math
import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from torchdoctor.report import (
    Section,
    build_report,
    findings_section,
    fmt_num,
    format_finding_line,
    print_summary,
    render_page,
    sort_findings,
    timeline_from_vitals,
    to_float,
    write_html_report,
)
from torchdoctor.report.charts import bin_edges, downsample

EVIL_LAYER = "<script>alert(1)</script>"
EVIL_MESSAGE = "ratio &<>\"' too small"


def make_run(n_steps: int = 200, layers: tuple[str, ...] = ("fc1", "fc2", "fc3"), *,
             epochs: int = 10, seed: int = 0, nan_step: int | None = 150) -> dict:
    """A realistic synthetic run: a vanishing-gradient MLP whose loss plateaus.

    Gradient norms fall by ~1000x per layer towards the input (first layer smallest),
    activation std shrinks with depth, ReLU dead fractions grow; one NaN loss at
    ``nan_step``; activation stats only on every 10th step (nulls elsewhere).
    """
    rng = random.Random(seed)
    n = len(layers)
    vitals = []
    for s in range(n_steps):
        rec_layers = {}
        sampled = s % 10 == 0
        for i, name in enumerate(layers):
            g = 10.0 ** (-1 - 3 * (n - 1 - i)) * (1 + 0.1 * rng.random()) * (1 - 0.5 * s / n_steps)
            rec_layers[name] = {
                "grad_norm": g,
                "param_norm": 5.0 + i,
                "update_ratio": g / (5.0 + i) * 0.05,
                "act_mean": 0.5 * 0.3**i if sampled else None,
                "act_std": 1.0 * 0.1**i if sampled else None,
                "frac_zero": min(1.0, 0.2 + 0.3 * i) if sampled else None,
                "frac_saturated": 0.0 if sampled else None,
            }
        loss = 2.3 - 0.05 * math.exp(-s / 50) + 0.01 * rng.random()
        vitals.append({
            "step": s, "epoch": s * epochs // n_steps,
            "loss": float("nan") if s == nan_step else loss,
            "grad_norm": math.sqrt(sum(v["grad_norm"] ** 2 for v in rec_layers.values())),
            "layers": rec_layers,
        })
    metrics = [{"epoch": e, "train_loss": 2.3 - 0.01 * e, "train_accuracy": 0.1 + 0.005 * e,
                "val_loss": 2.31 - 0.005 * e, "val_accuracy": 0.1 + 0.004 * e, "lr": 0.05}
               for e in range(1, epochs + 1)]
    findings = [
        {"code": "loss_plateau", "severity": "warning", "message": "loss flat since step 20",
         "layer": None, "step": 20, "evidence": {"rel_change": 0.003, "threshold": 0.01},
         "remedies": [{"code": "raise_lr", "description": "Raise the learning rate",
                       "patch": {"train.lr": 0.5}, "snippet": "opt.param_groups[0]['lr'] *= 10"}]},
        {"code": "vanishing_gradient", "severity": "error", "message": EVIL_MESSAGE,
         "layer": layers[0], "step": 12,
         "evidence": {"grad_norm": 1e-7, "ratio_first_last": 1e-6, "threshold": 1e-3,
                      "source": "AUTOTRAINER", "per_layer": [1e-7, 1e-4, 0.1]},
         "remedies": [{"code": "use_kaiming_init", "description": "He init with ReLU",
                       "patch": {"model.init": "kaiming_normal", "model.activation": "relu"},
                       "snippet": "for m in model.modules():\n    if isinstance(m, nn.Linear):\n"
                                  "        nn.init.kaiming_normal_(m.weight)  # a < b && c"},
                      {"code": "add_norm", "description": "Add BatchNorm", "patch": {"model.norm": "batch"},
                       "snippet": ""}]},
        {"code": "dead_relu", "severity": "info", "message": "40% zero outputs", "layer": layers[-1],
         "step": None, "evidence": {}, "remedies": []},
    ]
    config = {"seed": 0, "data": {"name": "digits", "normalize": "standard"},
              "model": {"arch": "mlp", "depth": n, "width": 64, "activation": "sigmoid", "init": "normal"},
              "train": {"optimizer": "sgdm", "lr": 0.05, "epochs": epochs, "batch_size": 64}}
    return {"config": config, "metrics": metrics, "vitals": vitals, "findings": findings}


class DomCollector(HTMLParser):
    """Start tags, ids, text and script elements of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):  # noqa: D401
        a = dict(attrs)
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def parse(html: str) -> DomCollector:
    p = DomCollector()
    p.feed(html)
    p.close()
    return p


def render(tmp_path: Path, name: str = "r.html", **run) -> tuple[str, DomCollector]:
    path = write_html_report(tmp_path / name, title=run.pop("title", "run <b>1</b>"),
                             summary=run.pop("summary", {}), **run)
    html = path.read_text(encoding="utf-8")
    return html, parse(html)


# ---------------------------------------------------------------- HTML structure, escaping


def test_sections_and_plots_present(tmp_path):
    run = make_run()
    html, dom = render(tmp_path, **run, summary={"steps": 200})
    for sec in ("summary", "findings", "training", "layers", "verdict"):
        assert sec in dom.ids
    charts = {a.get("data-chart") for t, a in dom.tags if t == "svg"}
    assert {"loss_epoch", "accuracy_epoch", "loss_step", "grad_norm_step", "grad_heatmap",
            "grad_norm_depth", "act_std_depth", "act_mean_depth", "dead_saturated"} <= charts
    assert "1 error, 1 warning" in dom.all_text
    # findings sorted by severity: error, warning, info
    cards = [a["class"] for t, a in dom.tags if t == "article"]
    assert cards == ["finding sev-error", "finding sev-warning", "finding sev-info"]
    # remedies: description, patch and snippet in <pre>
    pres = [a.get("class") for t, a in dom.tags if t == "pre"]
    assert pres.count("patch") == 3 and pres.count("snippet") == 2
    assert 'model.init: "kaiming_normal"' in dom.all_text
    # config highlights and final metrics
    assert "model.activation" in dom.all_text and "sigmoid" in dom.all_text
    assert "val_accuracy" in dom.all_text


def test_self_contained_no_script_no_external(tmp_path):
    html, dom = render(tmp_path, **make_run())
    tags = {t for t, _ in dom.tags}
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for _, attrs in dom.tags:
        for k, v in attrs.items():
            if k in ("src", "href") and v:
                assert v.startswith(("#", "data:")), (k, v)
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html


def test_everything_escaped(tmp_path):
    run = make_run(layers=("fc1", EVIL_LAYER, "fc3"))
    run["findings"][0]["evidence"]['<img src=x onerror=alert(2)>'] = "<b>x</b>"
    run["config"]["model"]["activation"] = "<i>relu</i>"
    html, dom = render(tmp_path, **run, title="<h1>t</h1>", summary={"<k>": "<v>"})
    tags = [t for t, _ in dom.tags]
    assert "script" not in tags and "img" not in tags and "b" not in tags and "i" not in tags
    assert tags.count("h1") == 1  # only the report's own title element
    text = dom.all_text
    for s in (EVIL_LAYER, EVIL_MESSAGE, "<img src=x onerror=alert(2)>", "<b>x</b>", "<i>relu</i>",
              "<h1>t</h1>", "<k>", "<v>"):
        assert s in text, s
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "ratio &amp;&lt;&gt;&quot;&#x27; too small" in html


def test_empty_inputs_render(tmp_path):
    html, dom = render(tmp_path, config=None, metrics=[], vitals=[], findings=[])
    assert "healthy" in dom.all_text
    assert "No per-layer vitals recorded." in dom.all_text
    assert "No epoch metrics recorded." in dom.all_text
    assert not [a for t, a in dom.tags if t == "svg"]


def test_nan_inf_null_values(tmp_path):
    run = make_run(n_steps=50)
    v = run["vitals"]
    v[3]["loss"] = "inf"               # as rundir.jsonable writes it
    v[4]["loss"] = None
    v[5]["layers"]["fc2"]["grad_norm"] = float("nan")
    v[6]["layers"]["fc2"] = None       # malformed layer entry
    v.append("garbage")                # malformed record
    run["metrics"][2]["val_loss"] = float("nan")
    run["metrics"][3]["val_loss"] = None
    run["findings"][0]["evidence"]["value"] = float("inf")
    html, dom = render(tmp_path, **run)
    assert "non-finite value(s)" in dom.all_text
    assert 'class="nonfinite"' in html
    for d in re.findall(r' d="([^"]*)"', html):
        assert "nan" not in d.lower() and "inf" not in d.lower()  # path data stays numeric
    # the NaN cell of the heat map (fc2, step 5) is red, the unmeasured one (step 6) blank
    img = heatmap_pixels(html, "grad_heatmap")
    assert tuple(img[1, 5]) == (214, 39, 40, 255)
    assert img[1, 6][3] == 0 and img[1, 7][3] == 255


def heatmap_pixels(html: str, chart: str):
    """The heat map's image (rows x columns x RGBA) decoded from the page."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    svg = re.search(rf'<svg class="chart" data-chart="{chart}"[^>]*>.*?</svg>', html, re.S).group(0)
    data = re.search(r'href="data:image/png;base64,\s*([A-Za-z0-9+/=\s]+)"', svg).group(1)
    return np.array(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))


def _series_points(html: str, chart: str, series: str) -> list[tuple[float, float]]:
    """The vertices of a series' line, mapped back to data units with the chart's
    ``data-*`` axis ranges (SVG y grows downwards; log axes in log10 units)."""
    svg = re.search(rf'<svg class="chart" data-chart="{chart}"[^>]*>.*?</svg>', html, re.S).group(0)
    head = re.match(r"<svg[^>]*>", svg).group(0)
    a = {k: float(v) for k, v in re.findall(r'data-(\w+)="([-\d.e]+)"', head)}
    d = re.search(rf'data-series="{series}">(?:<title>[^<]*</title>)?<path d="([^"]*)"', svg).group(1)
    pts = [tuple(map(float, p)) for p in re.findall(r"[ML] ([-\d.]+) ([-\d.]+)", d)]
    out = []
    for px, py in pts:
        x = a["xmin"] + (px - a["px0"]) / (a["px1"] - a["px0"]) * (a["xmax"] - a["xmin"])
        t = a["ymin"] + (a["py1"] - py) / (a["py1"] - a["py0"]) * (a["ymax"] - a["ymin"])
        out.append((x, 10**t if a["log"] else t))
    return out


def test_plotted_values_map_back_to_data(tmp_path):
    run = make_run()
    html, _ = render(tmp_path, **run)
    pts = _series_points(html, "loss_epoch", "train_loss")
    want = [(r["epoch"], r["train_loss"]) for r in run["metrics"]]
    assert len(pts) == len(want)
    for (x, y), (ex, ey) in zip(pts, want, strict=True):
        assert x == pytest.approx(ex, abs=0.02) and y == pytest.approx(ey, abs=2e-4)
    # gradient norm by depth is on a log axis: end = median over last 10% of steps, per layer
    pts = _series_points(html, "grad_norm_depth", "end")
    for i, name in enumerate(("fc1", "fc2", "fc3")):
        vals = [v["layers"][name]["grad_norm"] for v in run["vitals"]][-20:]
        vals.sort()
        ref = 0.5 * (vals[9] + vals[10])
        assert pts[i][1] == pytest.approx(ref, rel=0.01)


def test_long_timeline_downsampled_and_light(tmp_path):
    run = make_run(n_steps=2000, layers=tuple(f"l{i}" for i in range(20)), nan_step=None)
    html, dom = render(tmp_path, **run)
    assert "loss: 2000 records in 400 buckets (line: mean, band: min–max)" in dom.all_text
    # the bucket means are drawn (matplotlib may simplify a long path: check a sample)
    pts = _series_points(html, "loss_step", r"loss \(bucket mean\)")
    x, m, _, _ = downsample([float(s) for s in range(2000)], [v["loss"] for v in run["vitals"]], 400)
    assert 20 <= len(pts) <= 400
    for px, py in pts[::10]:
        k = min(range(400), key=lambda i: abs(x[i] - px))
        assert py == pytest.approx(m[k], abs=3e-3)
    assert 'class="band"' in html
    assert 'data-rows="20" data-cols="400"' in html
    assert heatmap_pixels(html, "grad_heatmap").shape == (20, 400, 4)
    assert len(html.encode()) < 400_000


# ---------------------------------------------------------------- helpers vs references


def test_downsample_matches_naive_loop():
    rng = random.Random(1)
    xs = [float(i) for i in range(1003)]
    ys = [rng.gauss(0, 1) if i % 97 else None for i in range(1003)]
    ys[500] = float("nan")
    x, m, lo, hi = downsample(xs, ys, 100)
    assert len(x) == 100
    covered = [i for a, b in bin_edges(1003, 100) for i in range(a, b)]
    assert covered == list(range(1003))
    for k, (a, b) in enumerate(bin_edges(1003, 100)):
        fin = [v for v in ys[a:b] if v is not None and math.isfinite(v)]
        assert x[k] == pytest.approx(sum(range(a, b)) / (b - a))
        assert m[k] == pytest.approx(sum(fin) / len(fin))
        assert (lo[k], hi[k]) == (min(fin), max(fin))
    with pytest.raises(ValueError, match="max_bins must be >= 1, got 0"):
        bin_edges(10, 0)
    with pytest.raises(ValueError, match="same length"):
        downsample([1.0], [], 5)


def test_numbers():
    assert to_float("inf") == math.inf and to_float(True) is None and to_float("x") is None
    assert fmt_num(None) == "—" and fmt_num(float("nan")) == "NaN" and fmt_num(3) == "3"
    assert fmt_num(1e-7) == "1.00e-07" and fmt_num(0.05) == "0.05"


def test_timeline_layer_order_and_sorting():
    recs = [{"step": 2, "layers": {"b": {"grad_norm": 1}}},
            {"step": 1, "layers": {"a": {"grad_norm": 2}, "b": {"grad_norm": 3}}}]
    tl = timeline_from_vitals(recs)
    assert tl.steps == [1, 2]
    assert tl.layers == ["a", "b"]  # first appearance after sorting by step
    assert tl.layer_values("a", "grad_norm") == [2.0, None]


def test_write_html_report_validates(tmp_path):
    with pytest.raises(ValueError, match="metrics must be a list, got dict"):
        write_html_report(tmp_path / "x.html", title="t", config=None, metrics={}, vitals=[],
                          findings=[], summary={})
    with pytest.raises(ValueError, match="title must be a str, got int"):
        write_html_report(tmp_path / "x.html", title=3, config=None, metrics=[], vitals=[],
                          findings=[], summary={})


def test_accepts_finding_objects(tmp_path):
    from torchdoctor.findings import Finding, Remedy
    f = Finding("dead_relu", "warning", "half dead", layer="fc1", step=3,
                remedies=[Remedy("leaky", "Use LeakyReLU", {"model.activation": "leaky_relu"})])
    html, dom = render(tmp_path, config=None, metrics=[], vitals=[], findings=[f])
    assert "1 warning" in dom.all_text and "Use LeakyReLU" in dom.all_text


# ---------------------------------------------------------------- run directory rebuild


def _write_run_dir(d: Path, run: dict, truncate: bool = True) -> None:
    import yaml
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.yaml").write_text(yaml.safe_dump(run["config"]))
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in run["metrics"]))
    lines = "".join(json.dumps(r) + "\n" for r in run["vitals"])
    if truncate:  # a killed run: half of the last line
        lines += json.dumps(run["vitals"][-1])[:40]
    (d / "vitals.jsonl").write_text(lines)
    (d / "findings.json").write_text(json.dumps(run["findings"]))


def test_build_report_from_run_dir(tmp_path):
    run = make_run(nan_step=None)
    run["vitals"] = [dict(v, loss=None if v["loss"] != v["loss"] else v["loss"]) for v in run["vitals"]]
    d = tmp_path / "run1"
    _write_run_dir(d, run)
    path = build_report(d)
    assert path == d / "report.html"
    dom = parse(path.read_text())
    assert "1 error, 1 warning" in dom.all_text
    assert "skipped 1 unreadable line(s)" in dom.all_text
    assert "200 recorded steps" in dom.all_text
    other = build_report(d, out=tmp_path / "o" / "r.html")
    assert other.is_file()


def test_build_report_partial_and_errors(tmp_path):
    d = tmp_path / "partial"
    d.mkdir()
    (d / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": 1.0}\n{"epoch": 2, "tra')
    dom = parse(build_report(d).read_text())
    assert "healthy" in dom.all_text and "config.yaml, vitals.jsonl, findings.json" in dom.all_text
    with pytest.raises(ValueError, match="run_dir must be an existing directory.*nope"):
        build_report(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="run_dir must hold at least one of.*empty"):
        build_report(empty)
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="run_dir must be a directory"):
        build_report(f)


def test_build_report_bad_findings_json(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "findings.json").write_text('[{"code": "dead_relu", "sev')
    dom = parse(build_report(d).read_text())
    assert "findings.json: unreadable" in dom.all_text


# ---------------------------------------------------------------- console


def _console():
    from rich.console import Console
    return Console(record=True, width=250, color_system=None)


def test_print_summary_table_sorted():
    con = _console()
    run = make_run(layers=("fc1", EVIL_LAYER, "fc3"))
    print_summary(run["findings"], console=con, metrics={"val_accuracy": 0.14})
    text = con.export_text()
    order = [text.index(c) for c in ("vanishing_gradient", "loss_plateau", "dead_relu")]
    assert order == sorted(order)
    assert EVIL_MESSAGE in text and "He init with ReLU" in text
    assert "1 error, 1 warning" in text and "val_accuracy=0.14" in text


def test_print_summary_healthy():
    con = _console()
    print_summary([], console=con)
    assert "verdict: healthy (no findings)" in con.export_text()


def test_format_finding_line_escapes_markup():
    from rich.text import Text
    f = {"code": "dead_relu", "severity": "warning", "message": "[bold]x[/bold] [red]",
         "layer": "[blue]fc1", "step": 7, "remedies": [{"description": "Use [i]LeakyReLU"}]}
    line = format_finding_line(f)
    plain = Text.from_markup(line).plain
    assert plain == "warning dead_relu layer [blue]fc1 step 7: [bold]x[/bold] [red] → Use [i]LeakyReLU"
    assert line.startswith("[yellow]warning[/]")


def test_render_page_composes_sections_with_nav_and_unique_finding_anchors() -> None:
    run = make_run(n_steps=20, epochs=2)
    fs = sort_findings(run["findings"])
    page = render_page("study <1>", [
        Section("notes", "Notes & more", "<p>two runs</p>", nav_label="Notes"),
        findings_section(fs, id="findings-a", title="Findings of A"),
        findings_section(fs[:1], id="findings-b", title="Findings of B"),
        Section("tail", None, "<p>no heading</p>"),
    ], header="<p class='sub'>sub</p>", css=".x{}", footer="bye")
    dom = parse(page)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    assert "study &lt;1&gt;" in page and "Notes &amp; more" in page and ".x{}" in page
    links = [a["href"] for t, a in dom.tags if t == "a" and a.get("href", "").startswith("#")]
    # the nav bar links the titled sections; each findings index links its own articles
    assert links[:3] == ["#notes", "#findings-a", "#findings-b"]
    assert {"notes", "findings-a", "findings-b", "tail"} <= dom.ids
    articles = [a["id"] for t, a in dom.tags if t == "article"]
    assert articles == [f"findings-a-{i + 1}" for i in range(len(fs))] + ["findings-b-1"]
    assert len(articles) == len(set(articles))
    assert set(links[3:]) == {f"#{a}" for a in articles}
    assert '<h2>Findings of A <span class="count">3</span></h2>' in page


def test_the_doctor_report_is_built_from_the_same_sections(tmp_path: Path) -> None:
    html, dom = render(tmp_path, **make_run(n_steps=20, epochs=2))
    nav = [a["href"] for t, a in dom.tags if t == "a"][:4]
    assert nav == ["#summary", "#findings", "#training", "#layers"]
    assert {"finding-1", "finding-2", "finding-3"} <= dom.ids


def test_bad_sections_are_refused() -> None:
    with pytest.raises(ValueError, match="Section id must be a letter .* got '1 x'"):
        Section("1 x", "t", "")
    with pytest.raises(ValueError, match="two sections have id 'a'"):
        render_page("t", [Section("a", "A", ""), Section("a", "B", "")])
    with pytest.raises(ValueError, match="sections must be Section objects, got str"):
        render_page("t", ["<section></section>"])  # type: ignore[list-item]
