"""The report: live console lines, the end-of-run summary table and self-contained HTML pages.

- :func:`write_html_report` writes a self-contained HTML report (inline CSS and SVG, no
  script, works offline) from a run's config, metrics, vitals and findings.
- :func:`build_report` rebuilds it from a run directory's logs (``torchdoctor report RUN_DIR``).
- :func:`print_summary` prints the findings table with rich; :func:`format_finding_line`
  gives the live one-line message (rich markup).
- Pages of one's own: :func:`render_page` composes :class:`Section` objects (e.g.
  :func:`findings_section`) into one page with the report's style; charts for the sections
  are in :mod:`torchdoctor.report.charts`. :func:`sort_findings`, :func:`fmt_num`,
  :func:`to_float` and :func:`timeline_from_vitals` prepare the data the way the report does.

Importing this package is light: no plotting library, rich and yaml load on first use.
"""

from torchdoctor.report._console import format_finding_line, print_summary
from torchdoctor.report._data import (
    Timeline,
    fmt_num,
    sort_findings,
    timeline_from_vitals,
    to_float,
)
from torchdoctor.report._gan_sections import gan_sections, write_gan_report  # GAN run report
from torchdoctor.report._html import render_html, write_html_report
from torchdoctor.report._page import Section, render_page
from torchdoctor.report._rundir import build_report
from torchdoctor.report._sections import findings_section

__all__ = [
    "Section",
    "Timeline",
    "build_report",
    "findings_section",
    "gan_sections",
    "fmt_num",
    "format_finding_line",
    "print_summary",
    "render_html",
    "render_page",
    "sort_findings",
    "timeline_from_vitals",
    "to_float",
    "write_gan_report",
    "write_html_report",
]
