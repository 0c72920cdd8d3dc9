"""Run-directory files the Doctor writes: ``vitals.jsonl``, ``metrics.jsonl``, ``findings.json``.

``vitals.jsonl`` and ``metrics.jsonl`` are appended and flushed at each write, so a killed run
keeps everything up to its last flush; ``findings.json`` is rewritten atomically. File names,
the JSON encoding (non-finite numbers as ``"nan"``, ``"inf"``, ``"-inf"``) and the writes
are those of :mod:`torchdoctor.rundir`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torchdoctor.rundir import (
    FINDINGS_FILE,
    METRICS_FILE,
    VITALS_FILE,
    JsonlLog,
    atomic_write_text,
    dumps,
    jsonable,
)

__all__ = ["RunFiles", "jsonable"]


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
        self._vitals: JsonlLog | None = JsonlLog(self.dir / VITALS_FILE)
        self._metrics: JsonlLog | None = JsonlLog(self.dir / METRICS_FILE) if write_metrics else None
        self._last_findings: str | None = None

    def vitals(self, records: list[dict[str, Any]]) -> None:
        if self._vitals is None or not records:
            return
        self._vitals.write_many(records)

    def metrics(self, row: dict[str, Any]) -> None:
        if self._metrics is None:
            return
        self._metrics.write(row)

    def findings(self, findings: list[dict[str, Any]]) -> None:
        text = dumps(findings, indent=1)
        if text == self._last_findings:
            return
        atomic_write_text(self.dir / FINDINGS_FILE, text)
        self._last_findings = text

    def close(self) -> None:
        for f in (self._vitals, self._metrics):
            if f is not None:
                f.close()
        self._vitals = self._metrics = None
