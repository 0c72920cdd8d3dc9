"""Rebuild the HTML report from the logs of a finished or killed run directory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torchdoctor.report._html import write_html_report
from torchdoctor.rundir import (
    CONFIG_FILE,
    FINDINGS_FILE,
    METRICS_FILE,
    REPORT_FILE,
    RUN_FILES,
    VITALS_FILE,
    read_jsonl,
)


def read_findings(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """The list in ``findings.json`` (also accepts ``{"findings": [...]}``)."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        notes.append(f"{path.name}: unreadable ({exc.msg} at line {exc.lineno})")
        return []
    if isinstance(data, dict):
        data = data.get("findings", [])
    if not isinstance(data, list):
        notes.append(f"{path.name}: expected a JSON list, got {type(data).__name__}")
        return []
    return [f for f in data if isinstance(f, dict)]


def read_config(path: Path, notes: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    import yaml  # lazy: only the rebuild needs it

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError as exc:
        notes.append(f"{path.name}: unreadable YAML ({type(exc).__name__})")
        return None
    if data is not None and not isinstance(data, dict):
        notes.append(f"{path.name}: expected a mapping, got {type(data).__name__}")
        return None
    return data


def build_report(
    run_dir: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Path:
    """Rebuild ``report.html`` from a run directory's logs.

    Reads ``config.yaml``, ``metrics.jsonl``, ``vitals.jsonl`` and ``findings.json``; any may
    be missing, and a truncated last JSONL line (killed run) is skipped.

    Args:
        run_dir: the run directory.
        out: output file; default ``run_dir/report.html``.
        title: report title; default the directory name.

    Returns:
        The path of the written report.

    Raises:
        ValueError: ``run_dir`` does not exist, is not a directory, or holds none of the
            four files.
    """
    d = Path(run_dir)
    if not d.exists():
        raise ValueError(f"run_dir must be an existing directory, got {str(d)!r} (does not exist)")
    if not d.is_dir():
        raise ValueError(f"run_dir must be a directory, got {str(d)!r} (not a directory)")
    if not any((d / name).is_file() for name in RUN_FILES):
        raise ValueError(
            f"run_dir must hold at least one of {', '.join(RUN_FILES)}, got {str(d)!r} with none"
        )
    notes: list[str] = []
    config = read_config(d / CONFIG_FILE, notes)
    metrics = read_jsonl(d / METRICS_FILE, notes)
    vitals = read_jsonl(d / VITALS_FILE, notes)
    findings = read_findings(d / FINDINGS_FILE, notes)
    summary: dict[str, Any] = {"run directory": str(d.resolve()), "rebuilt from logs": True}
    if metrics:
        summary["epochs logged"] = len(metrics)
    if vitals:
        steps = [v.get("step") for v in vitals if isinstance(v.get("step"), int)]
        summary["vitals records"] = len(vitals)
        if steps:
            summary["last step"] = max(steps)
    missing = [name for name in RUN_FILES if not (d / name).is_file()]
    if missing:
        summary["missing files"] = ", ".join(missing)
    if notes:
        summary["notes"] = "; ".join(notes)
    return write_html_report(
        Path(out) if out is not None else d / REPORT_FILE,
        title=title if title is not None else (d.resolve().name or str(d)),
        config=config,
        metrics=metrics,
        vitals=vitals,
        findings=findings,
        summary=summary,
    )
