"""Run-directory files the Doctor writes: ``vitals.jsonl``, ``metrics.jsonl``, ``findings.json``.

``vitals.jsonl`` and ``metrics.jsonl`` are appended and flushed at each write, so a killed run
keeps everything up to its last flush; ``findings.json`` is rewritten atomically (temporary
file + ``os.replace``). Non-finite numbers are written as the strings ``"nan"``, ``"inf"``,
``"-inf"``, so every line is valid JSON.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO, Any

__all__ = ["RunFiles", "jsonable"]

VITALS_FILE = "vitals.jsonl"
METRICS_FILE = "metrics.jsonl"
FINDINGS_FILE = "findings.json"


def jsonable(value: Any) -> Any:
    """Plain-JSON copy of ``value``: non-finite floats become strings, tuples lists."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return value


class RunFiles:
    """Appends JSONL lines and rewrites ``findings.json`` in one directory.

    Args:
        log_dir: the run directory (created).
        write_metrics: also write ``metrics.jsonl`` (off when a trainer writes it).
    """

    def __init__(self, log_dir: str | os.PathLike[str], *, write_metrics: bool = True) -> None:
        self.dir = Path(log_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.write_metrics = write_metrics
        self._vitals: IO[str] | None = open(self.dir / VITALS_FILE, "a", encoding="utf-8")  # noqa: SIM115
        self._metrics: IO[str] | None = (
            open(self.dir / METRICS_FILE, "a", encoding="utf-8") if write_metrics else None  # noqa: SIM115
        )
        self._last_findings: str | None = None

    def vitals(self, records: list[dict[str, Any]]) -> None:
        if self._vitals is None or not records:
            return
        self._vitals.write("".join(json.dumps(jsonable(r), allow_nan=False) + "\n" for r in records))
        self._vitals.flush()

    def metrics(self, row: dict[str, Any]) -> None:
        if self._metrics is None:
            return
        self._metrics.write(json.dumps(jsonable(row), allow_nan=False) + "\n")
        self._metrics.flush()

    def findings(self, findings: list[dict[str, Any]]) -> None:
        text = json.dumps(jsonable(findings), indent=1, allow_nan=False)
        if text == self._last_findings:
            return
        tmp = self.dir / (FINDINGS_FILE + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.dir / FINDINGS_FILE)
        self._last_findings = text

    def close(self) -> None:
        for f in (self._vitals, self._metrics):
            if f is not None:
                f.close()
        self._vitals = self._metrics = None
