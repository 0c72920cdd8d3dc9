"""The report: live console lines, the end-of-run summary table and one HTML file.

- :func:`write_html_report` writes a self-contained HTML report (inline CSS and SVG, no
  script, works offline) from a run's config, metrics, vitals and findings.
- :func:`build_report` rebuilds it from a run directory's logs (``torchdoctor report RUN_DIR``).
- :func:`print_summary` prints the findings table with rich; :func:`format_finding_line`
  gives the live one-line message (rich markup).

Importing this package is light: no plotting library, rich and yaml load on first use.
"""

from torchdoctor.report._console import format_finding_line, print_summary
from torchdoctor.report._html import render_html, write_html_report
from torchdoctor.report._rundir import build_report

__all__ = [
    "build_report",
    "format_finding_line",
    "print_summary",
    "render_html",
    "write_html_report",
]
