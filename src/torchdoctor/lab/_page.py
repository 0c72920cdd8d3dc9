"""The lab's HTML page: contents, then per experiment its claim, reference, setup, figures,
table, checks and verdict (one self-contained page, inline SVG, no script)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from torchdoctor.lab._run import LabResult

PAGE_FILE = "lab.html"

#: CSS class of each verdict's badge.
_VERDICT_CLASS = {"reproduced": "v-yes", "partly": "v-partly", "not reproduced": "v-no",
                  "not available": "v-na"}

_CSS = """
.vb{display:inline-block;padding:1px 9px;border-radius:10px;color:#fff;font-size:12px;font-weight:600;white-space:nowrap}
.vb.v-yes{background:var(--ok)}.vb.v-partly{background:var(--warning)}.vb.v-no{background:var(--error)}.vb.v-na{background:#777}
.claim{font-size:15px;margin:6px 0}.ref{color:var(--muted);font-size:13px;margin:2px 0 8px}
figure{margin:10px 0 16px;max-width:100%}figcaption{color:var(--muted);font-size:12.5px;margin-top:4px}
.checks li{margin:2px 0}.pass{color:var(--ok);font-weight:600}.fail{color:var(--error);font-weight:600}
.summary{font-weight:600;margin:8px 0}.err{color:var(--error)}
.tablewrap{overflow-x:auto;max-width:100%}
"""


def badge(verdict: str | None) -> str:
    """The verdict as a coloured badge (HTML)."""
    v = verdict or "not available"
    return f'<span class="vb {_VERDICT_CLASS.get(v, "v-na")}">{escape(v)}</span>'


def _cell(value: Any) -> str:
    from torchdoctor.report import fmt_num

    return escape(fmt_num(value, 3) if isinstance(value, (int, float)) else str(value))


def table_html(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of dicts as an HTML table; columns in order of first appearance, all escaped."""
    if not rows:
        return '<p class="empty">no table</p>'
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    head = "".join(f"<th>{escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c, ''))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f'<div class="tablewrap"><table><tr>{head}</tr>{body}</table></div>'


def _anchor(name: str) -> str:
    return f"exp-{name}"


def _contents(results: Sequence[LabResult]) -> str:
    rows = "".join(
        f'<tr><td><a href="#{_anchor(r.experiment.name)}">{escape(r.experiment.name)}</a></td>'
        f"<td>{escape(r.experiment.claim)}</td><td>{badge(r.outcome.verdict)}</td>"
        f"<td>{escape(r.outcome.summary)}</td></tr>" for r in results)
    return ('<table class="index"><tr><th>experiment</th><th>claim</th><th>verdict</th>'
            f"<th>key numbers</th></tr>{rows}</table>")


def _experiment_body(r: LabResult) -> str:
    e, o = r.experiment, r.outcome
    parts = [f'<p class="claim">{escape(e.claim)}</p>', f'<p class="ref">{escape(e.reference)}</p>',
             f"<p>{badge(o.verdict)} <span class=\"summary\">{escape(o.summary)}</span></p>"]
    if r.error:
        parts.append(f'<p class="err">error: {escape(r.error)}</p>')
    for f in r.figures:
        parts.append(f"<figure>{f.svg}<figcaption>{escape(f.caption or f.name)}</figcaption></figure>")
    parts.append(f"<h4>Setup</h4><p>{escape(e.setup)}</p>")
    if o.table:
        parts.append("<h4>Table</h4>" + table_html(o.table))
    if o.checks:
        items = "".join(
            f'<li><span class="{"pass" if c.passed else "fail"}">'
            f'{"passed" if c.passed else "failed"}</span> {escape(c.name)}'
            + (f" <span class=\"lbl\">({escape(c.detail)})</span>" if c.detail else "") + "</li>"
            for c in o.checks)
        parts.append(f'<h4>Checks (the verdict comes from them)</h4><ul class="checks">{items}</ul>')
    if o.notes:
        parts.append(f"<h4>Notes</h4><p>{escape(o.notes)}</p>")
    run = "quick run" if r.quick else "full run"
    parts.append(f'<p class="meta">{run}, {r.seeds} seed{"s" if r.seeds != 1 else ""}, '
                 f"{r.seconds:.1f} s</p>")
    return "".join(parts)


def render_lab_page(results: Sequence[LabResult], *, title: str = "torchdoctor lab") -> str:
    """The lab page of ``results`` (in the given order) as one HTML string."""
    from torchdoctor.report import Section, render_page

    counts: dict[str, int] = {}
    for r in results:
        counts[str(r.outcome.verdict)] = counts.get(str(r.outcome.verdict), 0) + 1
    header = ('<p class="sub">Each claim behind a remedy, reproduced as a seeded experiment at '
              "laptop scale; the verdict is computed from the checks listed under each "
              "experiment. " + escape(", ".join(f"{n} {v}" for v, n in counts.items())) + "</p>")
    sections = [Section("contents", "Contents", _contents(results), nav_label="")]
    sections += [Section(_anchor(r.experiment.name), r.experiment.name, _experiment_body(r),
                         nav_label="") for r in results]
    return render_page(title, sections, header=header, css=_CSS)


def write_lab_page(results: Sequence[LabResult], out: Path) -> Path:
    """Write ``out/lab.html`` atomically; returns its path."""
    from torchdoctor import rundir

    out.mkdir(parents=True, exist_ok=True)
    return rundir.atomic_write_text(out / PAGE_FILE, render_lab_page(results))
