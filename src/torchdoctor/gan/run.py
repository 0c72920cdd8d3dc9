"""GAN runs for the CLI and the Python API: train into a run directory, diagnose on a budget.

:func:`train_gan` writes config.yaml, metrics.jsonl, samples.npz, checkpoint.pt, findings.json
and report.html. The doctor is made by :func:`make_doctor` — the one place where the GAN
doctor is attached — and is optional: without it the findings are the outcome findings of the
final mode metrics (:func:`torchdoctor.gan.outcome.outcome_findings`).
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from torchdoctor import rundir
from torchdoctor.findings import Finding
from torchdoctor.gan.outcome import outcome_findings
from torchdoctor.gan.trainer import GanResult, GanTrainer

__all__ = ["diagnose_gan", "make_doctor", "run_findings", "train_gan"]

PathLike = str | os.PathLike[str]


def make_doctor(trainer: GanTrainer, run_dir: Path | None, *, quiet: bool = True) -> Any:
    """The GAN doctor for ``trainer``, or None when none is available.

    :class:`~torchdoctor.gan.GanDoctor` on the trainer's networks and optimizers (its
    findings go to ``findings.json`` and the run's report, written by :func:`train_gan`). A
    doctor that fails to attach is reported once; the training goes on without it.
    """
    from torchdoctor.gan._doctor import GanDoctor

    title = f"torchdoctor: {run_dir.name}" if run_dir is not None else "torchdoctor GAN run"
    try:
        return GanDoctor(trainer.G, trainer.D, trainer.opt_g, trainer.opt_d, console=not quiet,
                         title=title)
    except Exception as exc:  # noqa: BLE001 - the doctor never stops a training
        warnings.warn(f"torchdoctor: the GAN doctor could not be attached ({type(exc).__name__}: "
                      f"{exc}); training goes on without it", RuntimeWarning, stacklevel=2)
        return None


def run_findings(doctor: Any, metrics: dict[str, Any]) -> list[Finding]:
    """The doctor's findings (when it has any attribute ``findings``) plus the outcome findings
    of ``metrics`` for codes the doctor did not report; their remedies carry config patches."""
    from torchdoctor.repair import attach_patches

    found = list(getattr(doctor, "findings", None) or []) if doctor is not None else []
    codes = {f.code for f in found}
    found += [f for f in outcome_findings(metrics) if f.code not in codes]
    return attach_patches(found)


def _close(doctor: Any) -> None:
    if doctor is None:
        return
    try:
        doctor.close()
    except Exception as exc:  # noqa: BLE001 - never crash after a finished training
        warnings.warn(f"torchdoctor: closing the GAN doctor failed ({exc})", RuntimeWarning,
                      stacklevel=2)


def _observed(cfg: Any, run_dir: Path, *, doctor: bool, quiet: bool,
              overwrite: bool) -> tuple[GanResult, list[Finding]]:
    trainer = GanTrainer(cfg)  # data and network checks: nothing written yet
    with rundir.run_lock(run_dir):
        present = rundir.check_new_run_dir(run_dir, overwrite=overwrite)
        for name in (*present, rundir.REPORT_FILE):
            (run_dir / name).unlink(missing_ok=True)
        trainer.out_dir = run_dir
        doc = make_doctor(trainer, run_dir, quiet=quiet) if doctor else None
        trainer.doctor = doc
        try:
            result = trainer.fit()
        finally:
            _close(doc)
        findings = run_findings(trainer.doctor if trainer.doctor is not None else doc,
                                result.metrics)
        rundir.atomic_write_json(run_dir / rundir.FINDINGS_FILE,
                                 [f.to_dict() for f in findings], indent=1)
        try:
            from torchdoctor.report import write_gan_report

            write_gan_report(run_dir, findings=findings)
        except Exception as exc:  # noqa: BLE001 - a report problem never loses the run
            warnings.warn(f"torchdoctor: the GAN report could not be written ({exc})",
                          RuntimeWarning, stacklevel=2)
    return result, findings


def train_gan(cfg: Any, *, out: PathLike | None = None, overwrite: bool = False,
              doctor: bool = True, quiet: bool = True, name: str = "gan") -> GanResult:
    """Train a ``train.task: gan`` config into a run directory (default ``runs/<time>-<name>``).

    Raises:
        ValueError: bad input (one line naming it), e.g. an ``out`` that holds another run.
    """
    if out is not None:
        rundir.check_new_run_dir(out, overwrite=overwrite)
    GanTrainer(cfg)  # every check before a directory is created
    run_dir = Path(out) if out is not None else rundir.new_run_dir(name)
    rundir.prepare_dir(run_dir)
    result, findings = _observed(cfg, run_dir, doctor=doctor, quiet=quiet, overwrite=overwrite)
    result.extra["findings"] = findings
    if not quiet:
        from torchdoctor.report import print_summary

        print_summary([f.to_dict() for f in findings], metrics=result.metrics)
    return result


#: Share of ``train.epochs`` that ``diagnose`` trains a GAN (at least 3 epochs).
DIAGNOSE_BUDGET = 0.5


def diagnose_gan(cfg: Any, *, epochs: int | None = None, out: PathLike | None = None,
                 overwrite: bool = False) -> tuple[list[Finding], dict[str, Any]]:
    """A budgeted GAN training with the doctor: ``(findings, final metrics)``."""
    n = epochs if epochs is not None else min(
        cfg.train.epochs, max(3, math.ceil(DIAGNOSE_BUDGET * cfg.train.epochs)))
    budget = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": n})})
    if out is not None:
        rundir.check_new_run_dir(out, overwrite=overwrite)
        GanTrainer(budget)
        rundir.prepare_dir(out)
        result, findings = _observed(budget, Path(out), doctor=True, quiet=True,
                                     overwrite=overwrite)
    else:
        with tempfile.TemporaryDirectory(prefix="torchdoctor-diagnose-") as tmp:
            result, findings = _observed(budget, Path(tmp), doctor=True, quiet=True,
                                         overwrite=False)
    return findings, rundir.jsonable(result.metrics)
