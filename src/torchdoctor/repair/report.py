"""The repair report: one self-contained HTML page comparing before and after.

Run summary (metrics before / after, cost), the patch as a diff of configs, every candidate
tried with its outcome, the findings before and after, and the validation curves overlaid.
Reuses the doctor report's CSS, charts and findings section; everything shown is escaped.
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path
from typing import Any

from torchdoctor.repair._loop import RepairResult
from torchdoctor.repair._session import Session
from torchdoctor.rundir import atomic_write_text


def _num(v: Any) -> str:
    if isinstance(v, float):
        return "—" if not math.isfinite(v) else f"{v:.4f}"
    return escape(str(v)) if v is not None else "—"


def _curves(result: RepairResult, key: str, title: str) -> str:
    from torchdoctor.report.charts import Series, line_chart

    series = []
    for s, name, dashed in [(result.before, "before (baseline)", True), (result.after, "after (repaired)", False)]:
        h = s.history
        series.append(Series(name, [r["epoch"] + 1 for r in h], [r.get(key) for r in h], dashed=dashed, markers=True))
    for s in result.tried:
        if s is result.after:
            continue
        h = s.history
        series.append(Series(s.name, [r["epoch"] + 1 for r in h], [r.get(key) for r in h], dashed=True))
    y_range = (0.0, 1.0) if key.endswith("accuracy") else None
    try:
        return line_chart(series, kind=f"repair_{key}", title=title, x_label="epoch", y_label=key,
                          log_y=False if y_range else "auto", y_range=y_range)
    except Exception as exc:  # noqa: BLE001 - a chart that cannot be drawn does not cost the report
        return f'<p class="empty">{escape(title)}: not drawn ({escape(type(exc).__name__)}: {escape(str(exc)[:200])})</p>'


def _metrics_table(before: Session, after: Session) -> str:
    keys = [k for k in after.metrics if k.startswith(("val_", "train_"))]
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{_num(before.metrics.get(k))}</td>"
                   f"<td>{_num(after.metrics.get(k))}</td></tr>" for k in keys)
    return (f"<table><tr><th>metric</th><th>before ({before.epochs_run} epochs)</th>"
            f"<th>after ({after.epochs_run} epochs)</th></tr>{rows}</table>")


def render_repair_report(result: RepairResult) -> str:
    """The report's HTML text."""
    from torchdoctor.repair._patch import config_diff
    from torchdoctor.report import Section, findings_section, render_page, sort_findings

    doc = result.to_json()
    diff = config_diff(result.before.config, result.after.config)
    diff_rows = "".join(f"<tr><td><code>{escape(k)}</code></td><td class='old'>{escape(repr(a))}</td>"
                        f"<td class='new'>{escape(repr(b))}</td></tr>" for k, (a, b) in diff.items())
    diff_html = (f"<table><tr><th>key</th><th>before</th><th>after</th></tr>{diff_rows}</table>"
                 if diff else '<p class="empty">No change: the original config was kept.</p>')
    cand_rows = []
    for s in result.tried:
        outcome = ("kept" if s is result.after else
                   f"stopped early: new error {s.aborted.code}" if s.aborted is not None else
                   "stopped halfway: no better than its parent" if s.lagging else "not better")
        cand_rows.append(
            f"<tr><td>{escape(s.name)}</td><td><code>{escape(str(s.patch))}</code></td>"
            f"<td>{escape(', '.join(s.remedies))}</td><td>{s.epochs_run}</td>"
            f"<td>{_num(s.metrics.get('val_accuracy', s.metrics.get('val_loss')))}</td>"
            f"<td>{escape(outcome)}</td></tr>")
    cands = ("<table><tr><th>candidate</th><th>patch</th><th>remedies</th><th>epochs</th>"
             f"<th>val metric</th><th>outcome</th></tr>{''.join(cand_rows)}</table>"
             if cand_rows else '<p class="empty">No candidate was needed.</p>')
    skipped = "".join(f"<li><code>{escape(s['remedy'])}</code> ({escape(s['finding'])}): {escape(s['reason'])}</li>"
                      for s in result.skipped)
    cost = doc.get("cost_vs_one_training")
    verdict_ok = not any(f.severity == "error" for f in result.after.findings)
    badge = ('<span class="verdict healthy">repaired</span>' if verdict_ok and result.applied else
             '<span class="verdict healthy">healthy, unchanged</span>' if verdict_ok else
             '<span class="verdict sick">errors remain</span>')
    key = "val_accuracy" if "val_accuracy" in result.after.metrics else "val_loss"
    header = (f"{badge}<p class='sub'>{result.rounds} round(s), {len(result.tried)} candidate(s) "
              f"trained; remedies applied: {escape(', '.join(result.applied) or 'none')}; "
              f"time {result.seconds:.1f} s = {_num(cost)} × one training</p>")
    sections = [
        Section("summary", "Before and after",
                _metrics_table(result.before, result.after) + "<h3>The patch</h3>" + diff_html),
        Section("curves", "Curves", "<div class='charts'>"
                + _curves(result, key, f"validation {key.removeprefix('val_')}")
                + _curves(result, "train_loss", "training loss") + "</div>"),
        Section("candidates", "Candidates",
                cands + (f"<h3>Skipped remedies</h3><ul>{skipped}</ul>" if skipped else "")),
        findings_section(sort_findings(f.to_dict() for f in result.before.findings),
                         id="findings-before", title="Findings before"),
        findings_section(sort_findings(f.to_dict() for f in result.after.findings),
                         id="findings-after", title="Findings after"),
    ]
    return render_page("torchdoctor repair", sections, header=header,
                       css="td.old{color:#c62828}td.new{color:#2e7d32}")


def write_repair_report(result: RepairResult, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_repair_report` to ``path`` (atomically) and return it."""
    return atomic_write_text(path, render_repair_report(result))
