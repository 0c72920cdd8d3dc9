"""Console output with rich: the live one-line message and the end-of-run summary table."""

from __future__ import annotations

from typing import Any

from torchdoctor.findings import SYMPTOM_CODES
from torchdoctor.report._data import fmt_num, normalize_finding, sort_findings, verdict

SEVERITY_STYLE: dict[str, str] = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _top_remedy(f: dict[str, Any]) -> str:
    rems = f.get("remedies") or []
    if isinstance(rems, list) and rems:
        r = rems[0]
        return str(r.get("description") or r.get("code") or "") if isinstance(r, dict) else str(r)
    return ""


def format_finding_line(finding: Any) -> str:
    """The live console message for a new finding, as rich markup.

    Data (code, layer, message, remedy) is escaped, so brackets in it print literally.

    Args:
        finding: a finding dict (``Finding.to_dict()``) or a ``Finding``.

    Returns:
        e.g. ``"[bold red]error[/] [bold]vanishing_gradient[/] layer fc1 step 40: … → …"``.
    """
    from rich.markup import escape

    f = normalize_finding(finding)
    sev = str(f.get("severity"))
    style = SEVERITY_STYLE.get(sev, "white")
    parts = [f"[{style}]{escape(sev)}[/]", f"[bold]{escape(str(f.get('code')))}[/]"]
    where = []
    if f.get("layer") is not None:
        where.append(f"layer [magenta]{escape(str(f['layer']))}[/]")
    if f.get("step") is not None:
        where.append(f"step {escape(fmt_num(f['step']))}")
    line = " ".join(parts + where) + ": " + escape(str(f.get("message") or SYMPTOM_CODES.get(str(f.get("code")), "")))
    top = _top_remedy(f)
    if top:
        line += f" [dim]→ {escape(top)}[/]"
    return line


def print_summary(
    findings: list[Any], *, console: Any = None, metrics: dict[str, Any] | None = None
) -> None:
    """Print the end-of-run table: severity, code, layer, step, message, top remedy.

    Args:
        findings: finding dicts or ``Finding`` objects (printed most severe first).
        console: a ``rich.console.Console``; a new one on stdout when ``None``.
        metrics: final metrics to print under the table (e.g. ``{"val_accuracy": 0.93}``).
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    con = console if console is not None else Console()
    fs = sort_findings(findings)
    word = verdict(fs)
    style = "bold green" if word == "healthy" else ("bold red" if "error" in word else "bold yellow")
    if fs:
        table = Table(title="torchdoctor findings", show_lines=False, expand=False)
        for col, kw in (("severity", {}), ("code", {"style": "bold"}), ("layer", {}),
                        ("step", {"justify": "right"}), ("message", {"ratio": 3}),
                        ("top remedy", {"ratio": 2})):  # fmt: skip
            table.add_column(col, **kw)
        for f in fs:
            sev = str(f.get("severity"))
            table.add_row(
                Text(sev, style=SEVERITY_STYLE.get(sev, "")),
                Text(str(f.get("code"))),
                Text("" if f.get("layer") is None else str(f.get("layer"))),
                Text("" if f.get("step") is None else fmt_num(f.get("step"))),
                Text(str(f.get("message") or "")),
                Text(_top_remedy(f)),
            )
        con.print(table)
    verdict_line = Text("verdict: ")
    verdict_line.append(word, style=style)
    if not fs:
        verdict_line.append(" (no findings)")
    con.print(verdict_line)
    if metrics:
        con.print(Text("final: " + "  ".join(f"{k}={fmt_num(v)}" for k, v in metrics.items())))
