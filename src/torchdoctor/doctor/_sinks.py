"""Where the Doctor's output goes: sinks receive step records, epoch rows and findings.

The Doctor itself writes no file and prints nothing: it hands what it recorded and found to
the sinks it was given (``Doctor(model, opt, sinks=[...])``; ``log_dir=`` and ``console=``
add :class:`RunDirSink` and :class:`ConsoleSink`). A sink that raises is reported once and
training goes on. Write your own by subclassing :class:`Sink` and overriding what you need.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from torchdoctor.findings import Finding
from torchdoctor.rundir import (
    FINDINGS_FILE,
    METRICS_FILE,
    VITALS_FILE,
    JsonlLog,
    atomic_write_text,
    dumps,
)

__all__ = ["ConsoleSink", "RunDirSink", "Sink"]

log = logging.getLogger("torchdoctor")


class Sink:
    """Receives the Doctor's output. Every method is a no-op here; override what you need."""

    def on_records(self, records: list[dict[str, Any]]) -> None:
        """Step records of one flush, oldest first (the shape of a ``vitals.jsonl`` line)."""

    def on_epoch(self, row: dict[str, Any]) -> None:
        """One finished epoch: ``epoch``, ``train_loss``, ``train_accuracy`` and observed metrics."""

    def on_findings(self, findings: list[Finding], new: list[Finding]) -> None:
        """All current findings (most severe first) after the rules ran, and those that are new
        or more severe than before."""

    def close(self) -> None:
        """The Doctor is closing: release files."""


class RunDirSink(Sink):
    """Writes ``vitals.jsonl`` and ``metrics.jsonl`` (appended and flushed at each flush, so a
    killed run keeps everything up to its last one) and ``findings.json`` (rewritten
    atomically when findings change) into a run directory. File names, the JSON encoding and
    the writes are those of :mod:`torchdoctor.rundir`.

    Args:
        log_dir: the run directory (created).
        write_metrics: also write ``metrics.jsonl`` (off when a trainer writes it).
    """

    def __init__(self, log_dir: str | os.PathLike[str], *, write_metrics: bool = True) -> None:
        self.dir = Path(log_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._vitals: JsonlLog | None = JsonlLog(self.dir / VITALS_FILE)
        self._metrics: JsonlLog | None = JsonlLog(self.dir / METRICS_FILE) if write_metrics else None
        self._last_findings: str | None = None

    def on_records(self, records: list[dict[str, Any]]) -> None:
        if self._vitals is not None and records:
            self._vitals.write_many(records)

    def on_epoch(self, row: dict[str, Any]) -> None:
        if self._metrics is not None:
            self._metrics.write(row)

    def on_findings(self, findings: list[Finding], new: list[Finding]) -> None:
        text = dumps([f.to_dict() for f in findings], indent=1)
        if text != self._last_findings:
            atomic_write_text(self.dir / FINDINGS_FILE, text)
            self._last_findings = text

    def close(self) -> None:
        for f in (self._vitals, self._metrics):
            if f is not None:
                f.close()
        self._vitals = self._metrics = None


class ConsoleSink(Sink):
    """Prints one rich line on stderr for each new warning or error finding, and one when such a
    finding resolves (it stays in ``doctor.findings`` as info, marked resolved)."""

    def on_findings(self, findings: list[Finding], new: list[Finding]) -> None:
        for f in new:
            if f.severity != "info" or f.evidence.get("resolved"):
                self._print(f)

    @staticmethod
    def _print(f: Finding) -> None:
        try:
            from rich.console import Console

            from torchdoctor.report import format_finding_line

            Console(stderr=True, highlight=False).print(format_finding_line(f))
        except Exception:  # the console line is a courtesy, never a failure
            log.info("torchdoctor: %s %s %s", f.severity, f.code, f.message)
