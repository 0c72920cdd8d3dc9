"""The sections of the doctor's report: run summary, findings, training curves, layer plots.

Each function returns a :class:`~torchdoctor.report.Section`; every string from data is
escaped here (or by the chart functions), never trusted.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from torchdoctor.findings import SYMPTOM_CODES
from torchdoctor.report._bar_chart import bar_chart as draw_bar_chart
from torchdoctor.report._data import (
    Timeline,
    count_nonfinite,
    downsample,
    fmt_num,
    is_finite,
    last_finite,
    median,
    metric_columns,
    to_float,
)
from torchdoctor.report._line_chart import NONFINITE_COLOR, Series
from torchdoctor.report._line_chart import line_chart as draw_line_chart
from torchdoctor.report._page import Section
from torchdoctor.report._step_heatmap import heatmap as draw_heatmap

#: Config keys shown in the summary (dotted paths of the trainer's config, docs/config.md).
CONFIG_HIGHLIGHTS: tuple[str, ...] = (
    "data.name", "data.normalize", "data.scale", "model.arch", "model.depth", "model.width",
    "model.activation", "model.norm", "model.init", "model.output_activation",
    "train.task", "train.optimizer", "train.lr", "train.batch_size", "train.epochs",
    "train.loss", "train.grad_clip", "seed",
)  # fmt: skip
MAX_POINTS = 400


def _guarded(draw: Callable[..., str]) -> Callable[..., str]:
    """``draw`` returning a one-line note instead of raising: a chart that cannot be drawn
    does not cost the report its page."""

    @functools.wraps(draw)
    def chart(*args: Any, **kwargs: Any) -> str:
        try:
            return draw(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - reported in the page, the page still written
            what = escape(str(kwargs.get("title") or kwargs.get("kind") or "chart"))
            return (f'<p class="note">{what}: not drawn ({escape(type(exc).__name__)}: '
                    f"{escape(str(exc)[:200])})</p>")

    return chart


line_chart = _guarded(draw_line_chart)
bar_chart = _guarded(draw_bar_chart)
heatmap = _guarded(draw_heatmap)


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys: ``{"a": {"b": 1}} -> {"a.b": 1}``."""
    if not isinstance(d, dict):
        return {prefix or "value": d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def value_html(v: Any, limit: int = 400) -> str:
    """One value as escaped text: numbers compact, containers as compact JSON (truncated)."""
    if v is None or isinstance(v, (bool, int, float)):
        return escape(fmt_num(v))
    if isinstance(v, str):
        return escape(v if len(v) <= limit else v[:limit] + "…")
    if isinstance(v, (list, tuple)) and v and all(to_float(x) is not None for x in v):
        text = ", ".join(fmt_num(x, 3) for x in v[:40]) + (f", … ({len(v)} values)" if len(v) > 40 else "")
        return "[" + escape(text) + "]"
    try:
        text = json.dumps(v, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(v)
    return escape(text if len(text) <= limit else text[:limit] + "…")


def kv_table(rows: Sequence[tuple[str, Any]], cls: str = "kv") -> str:
    body = "".join(f"<tr><th>{escape(str(k))}</th><td>{value_html(v)}</td></tr>" for k, v in rows)
    return f'<table class="{cls}">{body}</table>'


def summary_section(
    config: dict[str, Any] | None, metrics: Sequence[dict[str, Any]], summary: dict[str, Any]
) -> Section:
    """The run's configuration highlights, final and best metrics, and facts (``summary``)."""
    parts = ['<div class="cols">']
    flat = flatten(config) if isinstance(config, dict) else {}
    hl = [(k, flat[k]) for k in CONFIG_HIGHLIGHTS if k in flat]
    parts.append('<div><h3>Configuration</h3>')
    parts.append(kv_table(hl) if hl else (
        kv_table(list(flat.items())[:16]) if flat else '<p class="empty">No configuration recorded.</p>'))  # fmt: skip
    parts.append("</div>")
    xs, cols = metric_columns(metrics)
    parts.append('<div><h3>Final metrics</h3>')
    if cols:
        rows = []
        for k, vals in cols.items():
            fin = [v for v in vals if is_finite(v)]
            best = ""
            if fin and ("loss" in k or k.endswith("error")):
                best = fmt_num(min(fin))
            elif fin and any(t in k for t in ("acc", "auc", "f1")):
                best = fmt_num(max(fin))
            last = vals[-1] if vals else None
            rows.append(
                f"<tr><th>{escape(k)}</th><td>{escape(fmt_num(last))}</td><td>{escape(best)}</td></tr>"
            )
        n_ep = fmt_num(xs[-1]) if xs else "—"
        parts.append(
            f'<table class="kv metrics"><tr><th>metric</th><th>final (epoch {escape(n_ep)})</th>'
            f"<th>best</th></tr>{''.join(rows)}</table>"
        )
    else:
        parts.append('<p class="empty">No epoch metrics recorded.</p>')
    parts.append("</div>")
    if summary:
        parts.append('<div><h3>Run</h3>' + kv_table(list(flatten(summary).items())) + "</div>")
    parts.append("</div>")
    return Section("summary", "Run summary", "".join(parts), nav_label="Summary")


def _evidence(ev: Any) -> str:
    if not isinstance(ev, dict) or not ev:
        return ""
    return '<table class="evidence"><caption>Evidence</caption>' + "".join(
        f"<tr><th>{escape(str(k))}</th><td>{value_html(v)}</td></tr>" for k, v in ev.items()
    ) + "</table>"


def _remedy(r: Any) -> str:
    if not isinstance(r, dict):
        return f"<li>{value_html(r)}</li>"
    out = [f'<li class="remedy"><p><strong>{escape(str(r.get("description") or ""))}</strong>']
    if r.get("code"):
        out.append(f' <code class="rcode">{escape(str(r["code"]))}</code>')
    out.append("</p>")
    patch = r.get("patch")
    if isinstance(patch, dict) and patch:
        lines = "\n".join(f"{k}: {json.dumps(v, default=str)}" for k, v in patch.items())
        out.append(f'<div class="lbl">Config patch</div><pre class="patch">{escape(lines)}</pre>')
    if r.get("snippet"):
        out.append(f'<div class="lbl">In your own loop</div><pre class="snippet"><code>{escape(str(r["snippet"]))}</code></pre>')
    out.append("</li>")
    return "".join(out)


def findings_section(findings: Sequence[dict[str, Any]], *, id: str = "findings",
                     title: str = "Findings") -> Section:
    """Findings (already sorted, e.g. by :func:`sort_findings`), each with its evidence table
    and ranked remedies.

    Args:
        findings: finding dicts (``Finding.to_dict()``).
        id: the section's id; each finding's anchor is ``<id>-<n>`` (``finding-<n>`` for the
            default id), so two findings sections can share a page.
        title: the heading.
    """
    anchor = "finding" if id == "findings" else id
    parts: list[str] = []

    def done() -> Section:
        return Section(id, title, "".join(parts), count=len(findings))

    if not findings:
        parts.append('<p class="empty">No findings: nothing abnormal was recognised.</p>')
        return done()
    parts.append('<table class="index"><tr><th>severity</th><th>code</th><th>layer</th><th>step</th><th>message</th></tr>')
    for i, f in enumerate(findings):
        sev = escape(str(f.get("severity")))
        parts.append(
            f'<tr><td><span class="badge sev-{sev}">{sev}</span></td>'
            f'<td><a href="#{anchor}-{i + 1}">{escape(str(f.get("code")))}</a></td>'
            f"<td>{value_html(f.get('layer'))}</td><td>{value_html(f.get('step'))}</td>"
            f"<td>{escape(str(f.get('message') or ''))}</td></tr>"
        )
    parts.append("</table>")
    for i, f in enumerate(findings):
        sev = escape(str(f.get("severity")))
        code = str(f.get("code"))
        meaning = SYMPTOM_CODES.get(code, "")
        meta = []
        if f.get("layer") is not None:
            meta.append(f"layer <code>{escape(str(f['layer']))}</code>")
        if f.get("step") is not None:
            meta.append(f"step {value_html(f['step'])}")
        rems = f.get("remedies") or []
        parts.append(
            f'<article class="finding sev-{sev}" id="{anchor}-{i + 1}">'
            f'<h3><span class="badge sev-{sev}">{sev}</span> <span class="code">{escape(code)}</span>'
            f' <span class="meaning">{escape(meaning)}</span></h3>'
            f'<p class="meta">{" · ".join(meta)}</p>'
            f'<p class="message">{escape(str(f.get("message") or ""))}</p>'
            f"{_evidence(f.get('evidence'))}"
        )
        if isinstance(rems, list) and rems:
            parts.append('<h4>Remedies (best first)</h4><ol class="remedies">')
            parts.extend(_remedy(r) for r in rems)
            parts.append("</ol>")
        parts.append("</article>")
    return done()


def finding_marks(findings: Sequence[dict[str, Any]]) -> list[tuple[float, str]]:
    """``(step, "code (severity): message")`` for each finding with a step, for ``x_marks``."""
    out: list[tuple[float, str]] = []
    for f in findings:
        step = to_float(f.get("step"))
        if step is not None and math.isfinite(step):
            out.append((step, f"step {fmt_num(step)}: {f.get('code')} ({f.get('severity')}): "
                              f"{f.get('message') or ''}"))
    return out


def training_section(metrics: Sequence[dict[str, Any]], tl: Timeline,
                     findings: Sequence[dict[str, Any]] = ()) -> Section:
    """Loss and accuracy per epoch, loss and global gradient norm per recorded step (with a
    dotted line at the step of each finding)."""
    parts = ['<div class="charts">']
    xs, cols = metric_columns(metrics)
    loss_keys = [k for k in cols if k.endswith("loss")]
    acc_keys = [k for k in cols if any(t in k for t in ("acc", "auc"))]
    if loss_keys:
        parts.append(line_chart(
            [Series(k, xs, cols[k], markers=len(xs) <= 60, dashed=k.startswith("val")) for k in loss_keys],
            kind="loss_epoch", title="Loss per epoch", x_label="epoch", y_label="loss"))  # fmt: skip
    if acc_keys:
        vals = [v for k in acc_keys for v in cols[k] if is_finite(v)]
        yr = (0.0, 1.0) if vals and min(vals) >= 0 and max(vals) <= 1 else None
        parts.append(line_chart(
            [Series(k, xs, cols[k], markers=len(xs) <= 60, dashed=k.startswith("val")) for k in acc_keys],
            kind="accuracy_epoch", title="Accuracy per epoch", x_label="epoch", y_label="accuracy",
            log_y=False, y_range=yr))  # fmt: skip
    steps = [float(s) for s in tl.steps]
    notes = []
    for name, ys, kind, title in (("loss", tl.loss, "loss_step", "Loss per step"),
                                  ("grad_norm", tl.grad_norm, "grad_norm_step", "Global gradient norm per step")):  # fmt: skip
        if not any(v is not None for v in ys):
            continue
        x, m, lo, hi = downsample(steps, ys, MAX_POINTS)
        binned = len(x) < len(steps)
        s = Series(name if not binned else f"{name} (bucket mean)", x, m,
                   lo=lo if binned else None, hi=hi if binned else None)  # fmt: skip
        bad = count_nonfinite(ys)
        # NaN/Inf steps keep their red marks even after bucketing
        marks = Series("NaN/Inf", steps, [v if v is not None and not math.isfinite(v) else None for v in ys],
                       color=NONFINITE_COLOR) if bad else None  # fmt: skip
        parts.append(line_chart([s] + ([marks] if marks else []), kind=kind, title=title,
                                x_label="step", y_label=name, x_marks=finding_marks(findings)))  # fmt: skip
        if binned:
            notes.append(f"{escape(name)}: {len(steps)} records in {len(x)} buckets (line: mean, band: min–max)")
        if bad:
            notes.append(f"{escape(name)}: {bad} non-finite value(s), marked in red at the top")
    if any(v is not None for v in tl.loss + tl.grad_norm) and finding_marks(findings):
        notes.append("dotted lines: the steps of the findings (hover for which)")
    if not loss_keys and not acc_keys and not any(v is not None for v in tl.loss):
        parts.append('<p class="empty">No loss or accuracy recorded.</p>')
    parts.append("</div>")
    if notes:
        parts.append('<p class="note">' + "<br>".join(notes) + "</p>")
    return Section("training", "Training curves", "".join(parts))


def _window(values: Sequence[float | None], end: bool, frac: float = 0.1) -> float | None:
    """Median over the first (or last) ``frac`` of the measured values (at least one)."""
    measured = [v for v in values if v is not None]
    if not measured:
        return None
    k = max(1, math.ceil(frac * len(measured)))
    return median(measured[-k:] if end else measured[:k])


def layers_section(tl: Timeline) -> Section:
    """Gradient-norm heat map, statistics by depth, dead and saturated fractions."""
    if not tl.layers:
        return Section("layers", "Layers", '<p class="empty">No per-layer vitals recorded.</p>')
    parts = []
    parts.append(f'<p class="note">{len(tl.layers)} layers in depth order, {len(tl)} recorded steps. '
                 "&quot;start&quot; and &quot;end&quot; are medians over the first and last 10% of "
                 "the measured steps.</p><div class=\"charts\">")  # fmt: skip
    if tl.has_stat("grad_norm"):
        parts.append(heatmap(tl.layers, tl.steps, {n: tl.layer_values(n, "grad_norm") for n in tl.layers},
                             kind="grad_heatmap", title="Gradient norm per layer over steps (log colour)",
                             max_cols=MAX_POINTS))  # fmt: skip
    idx = [float(i) for i in range(len(tl.layers))]

    def by_depth(stat: str, end: bool) -> list[float | None]:
        return [_window(tl.layer_values(n, stat), end) for n in tl.layers]

    for stat, title, log in (("grad_norm", "Gradient norm by depth", "auto"),
                             ("act_std", "Activation std by depth", "auto"),
                             ("act_mean", "Activation mean by depth", False),
                             ("update_ratio", "Update / parameter ratio by depth", "auto")):  # fmt: skip
        if not tl.has_stat(stat):
            continue
        series = [Series("start", idx, by_depth(stat, False), markers=True, dashed=True),
                  Series("end", idx, by_depth(stat, True), markers=True)]  # fmt: skip
        parts.append(line_chart(series, kind=f"{stat}_depth", title=title, y_label=stat,
                                log_y=log, x_categories=tl.layers))  # fmt: skip
    groups = {}
    if tl.has_stat("frac_zero"):
        groups["zero (dead)"] = by_depth("frac_zero", True)
    if tl.has_stat("frac_saturated"):
        groups["saturated"] = by_depth("frac_saturated", True)
    if groups:
        parts.append(bar_chart(tl.layers, groups, kind="dead_saturated",
                               title="Dead and saturated output fractions by layer (end)",
                               x_label="fraction of outputs"))  # fmt: skip
    parts.append("</div>")
    return Section("layers", "Layers", "".join(parts))


def config_section(config: dict[str, Any] | None) -> Section | None:
    """The whole configuration, folded (``None`` without a configuration)."""
    if not isinstance(config, dict) or not config:
        return None
    return Section("config", None, "<details><summary>Full configuration</summary>"
                   + kv_table(list(flatten(config).items())) + "</details>")


def final_value(metrics: Sequence[dict[str, Any]], key: str) -> float | None:
    return last_finite(to_float(r.get(key)) for r in metrics if isinstance(r, dict))
