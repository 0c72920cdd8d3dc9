"""One self-contained HTML report: inline CSS and inline SVG, no script, no external fetch."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from torchdoctor.report._data import severity_counts, sort_findings, timeline_from_vitals, verdict
from torchdoctor.report._sections import (
    config_section,
    findings_section,
    layers_section,
    summary_section,
    training_section,
)
from torchdoctor.rundir import atomic_write_text

CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--bg:#fff;--card:#f7f8fa;--line:#dfe3ea;
--error:#c62828;--warning:#e65100;--info:#1565c0;--ok:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1360px;margin:0 auto;padding:20px 24px 48px}
header h1{margin:0 0 6px;font-size:24px;word-break:break-word}
nav a{margin-right:14px;color:var(--info);text-decoration:none}
h2{font-size:19px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:30px}
h3{font-size:15px;margin:10px 0 6px}
h4{font-size:13px;margin:12px 0 4px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.verdict{display:inline-block;padding:6px 14px;border-radius:18px;color:#fff;font-weight:600;font-size:16px}
.verdict.healthy{background:var(--ok)}.verdict.sick{background:var(--error)}.verdict.warn{background:var(--warning)}
.sub{color:var(--muted);margin:6px 0}
.cols{display:flex;flex-wrap:wrap;gap:28px}.cols>div{min-width:260px}
table{border-collapse:collapse;font-size:13px}
th,td{text-align:left;padding:3px 10px 3px 0;vertical-align:top;border-bottom:1px solid var(--line)}
th{font-weight:600;color:var(--muted)}
td{font-variant-numeric:tabular-nums;word-break:break-word}
table.index{width:100%;margin-bottom:14px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.badge.sev-error{background:var(--error)}.badge.sev-warning{background:var(--warning)}.badge.sev-info{background:var(--info)}
.finding{background:var(--card);border-left:5px solid var(--info);border-radius:6px;padding:8px 16px 12px;margin:14px 0}
.finding.sev-error{border-color:var(--error)}.finding.sev-warning{border-color:var(--warning)}
.finding .code{font-family:ui-monospace,Menlo,Consolas,monospace}
.finding .meaning{font-weight:400;color:var(--muted);font-size:13px}
.meta{color:var(--muted);margin:2px 0}.message{font-size:14.5px;margin:6px 0}
table.evidence caption{text-align:left;font-weight:600;color:var(--muted);padding:4px 0}
pre{background:#272b33;color:#e8eaf0;padding:8px 12px;border-radius:5px;overflow-x:auto;font-size:12.5px;margin:4px 0 8px}
.lbl{font-size:12px;color:var(--muted)}
.remedies li{margin-bottom:8px}.rcode{color:var(--muted);font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
svg.chart{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:6px}
svg .ctitle{font-size:13px;font-weight:600;fill:var(--fg)}
svg .tick{font-size:10px;fill:#555}svg .axis{font-size:11px;fill:#333}
svg .legend text{font-size:11px;fill:#333}
svg .plot{fill:#fcfcfd;stroke:#c9ced8}svg .grid{stroke:#eceef2}
svg .line{fill:none;stroke-width:1.7}svg .band{opacity:.18;stroke:none}
svg .nonfinite{fill:#d62728}svg .val{font-size:9px;fill:#333}svg .na{fill:#999}
.empty,.note{color:var(--muted);font-style:italic}
footer{margin-top:40px;color:var(--muted);font-size:12px}
@media print{nav{display:none}.finding{break-inside:avoid}}
"""


def render_html(
    *,
    title: str,
    config: dict[str, Any] | None,
    metrics: Sequence[dict[str, Any]],
    vitals: Sequence[dict[str, Any]],
    findings: Sequence[Any],
    summary: dict[str, Any] | None,
) -> str:
    """The report as one HTML string (see :func:`write_html_report`)."""
    fs = sort_findings(findings)
    counts = severity_counts(fs)
    word = verdict(fs)
    cls = "healthy" if word == "healthy" else ("sick" if counts["error"] else "warn")
    tl = timeline_from_vitals(vitals)
    info = f", {counts['info']} note" + ("s" if counts["info"] != 1 else "") if counts["info"] else ""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(title)} — torchdoctor report</title>",
        f"<style>{CSS}</style></head><body><main>",
        f'<header><h1>{escape(title)}</h1>',
        f'<p><span class="verdict {cls}" id="verdict">{escape(word)}</span>'
        f'<span class="sub"> &nbsp;{len(fs)} finding' + ("s" if len(fs) != 1 else "") + f"{escape(info)}</span></p>",
        '<nav><a href="#summary">Summary</a><a href="#findings">Findings</a>'
        '<a href="#training">Training curves</a><a href="#layers">Layers</a></nav></header>',
        summary_section(config, metrics, dict(summary or {})),
        findings_section(fs),
        training_section(metrics, tl),
        layers_section(tl),
        config_section(config),
        f"<footer>Generated by torchdoctor on {escape(stamp)}. Self-contained: no scripts, "
        "no external resources.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(body)


def write_html_report(
    path: str | os.PathLike[str],
    *,
    title: str,
    config: dict[str, Any] | None,
    metrics: list[dict[str, Any]],
    vitals: list[dict[str, Any]],
    findings: list[dict[str, Any]],
    summary: dict[str, Any],
) -> Path:
    """Write the self-contained HTML report of a run.

    Args:
        path: output file (parent folders are created).
        title: report title, e.g. the run name.
        config: the resolved config (nested dict of DESIGN.md's keys), or ``None``.
        metrics: one dict per epoch (``epoch``, ``train_loss``, ``val_accuracy`` …).
        vitals: one record per recorded step (``step``, ``loss``, ``grad_norm``,
            ``layers: {name: {grad_norm, param_norm, update_ratio, act_mean, act_std,
            frac_zero, frac_saturated}}``); layers are shown in the order they first appear.
        findings: finding dicts (``Finding.to_dict()``) or :class:`~torchdoctor.Finding`
            objects; shown most severe first.
        summary: free key/value facts about the run (steps, duration in seconds, device …).

    Returns:
        The path written.
    """
    if not isinstance(title, str):
        raise ValueError(f"title must be a str, got {type(title).__name__}")
    for name, value in (("metrics", metrics), ("vitals", vitals), ("findings", findings)):
        if value is not None and not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list, got {type(value).__name__}")
    if summary is not None and not isinstance(summary, dict):
        raise ValueError(f"summary must be a dict, got {type(summary).__name__}")
    text = render_html(
        title=title,
        config=config,
        metrics=metrics or [],
        vitals=vitals or [],
        findings=findings or [],
        summary=summary,
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out, text)
