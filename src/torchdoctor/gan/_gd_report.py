"""The GanDoctor's HTML page: both losses, D(real) and D(fake), the discriminator's batch AUC,
recall and coverage over steps, and the findings (one self-contained page)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from torchdoctor.findings import Finding
from torchdoctor.gan._gd_series import GanSeries
from torchdoctor.report import Section, findings_section, fmt_num, render_page, sort_findings
from torchdoctor.report.charts import figure, figure_svg, house_style
from torchdoctor.rundir import atomic_write_text

__all__ = ["gan_page", "write_gan_report"]


def _xy(rows: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), float) and r[key] == r[key]]
    return [p[0] for p in pts], [p[1] for p in pts]


@house_style()
def _charts(series: GanSeries) -> str:
    fig, axes = figure(2, 2, width=9.6, height=5.6)
    (a, b), (c, d) = axes
    for ax, rows, key, label in ((a, series.d, "loss", "loss_d"), (a, series.g, "loss", "loss_g"),
                                 (b, series.d, "real", "D(real)"), (b, series.d, "fake", "D(fake)"),
                                 (c, series.d, "auc", "batch AUC"),
                                 (d, series.samples, "recall", "recall"),
                                 (d, series.samples, "coverage", "coverage"),
                                 (d, series.samples, "diversity", "diversity ratio")):
        xs, ys = _xy(rows, key)
        if xs:
            ax.plot(xs, ys, label=label, linewidth=1.0)
    for ax, title in ((a, "losses (per network's step)"), (b, "mean raw score"),
                      (c, "D separates real from fake (0.5 = chance)"),
                      (d, "samples vs data (sampled D steps)")):
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend()
    c.set_ylim(0.0, 1.02)
    return figure_svg(fig, title="GAN training curves")


def gan_page(title: str, series: GanSeries, findings: list[Finding],
             summary: dict[str, Any]) -> str:
    """The page as one HTML string."""
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(fmt_num(v) if isinstance(v, float) else str(v))}</td></tr>"
                   for k, v in summary.items())
    sections = [
        Section("summary", "Summary", f"<table>{rows}</table>"),
        findings_section(sort_findings([f.to_dict() for f in findings])),
        Section("curves", "Training curves", _charts(series)),
    ]
    return render_page(title, sections)


def write_gan_report(path: Path, title: str, series: GanSeries, findings: list[Finding],
                     summary: dict[str, Any]) -> Path:
    """Write :func:`gan_page` to ``path`` atomically; returns the path.

    Raises:
        OSError: the file cannot be written (the message names it).
    """
    html = gan_page(title, series, findings, summary)
    try:
        return atomic_write_text(path, html)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write the report to {str(path)[:200]!r}: "
                      f"{exc.strerror or exc}") from exc
