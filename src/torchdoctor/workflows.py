"""Orchestration shared by the CLI and the Python API: train with the doctor, the demo.

These functions read a config, prepare data, attach the Doctor and write the run directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torchdoctor.train import rundir
from torchdoctor.train.config import Config, load_config
from torchdoctor.train.trainer import Trainer, TrainResult

PathLike = str | os.PathLike[str]

#: The demo's deliberately broken config: the digits MLP made deep, with sigmoid units and a
#: tiny-std init — the vanishing-gradient case of Glorot & Bengio 2010.
DEMO_BROKEN_OVERRIDES = [
    "model.depth=8", "model.activation=sigmoid", "model.init=normal", "model.init_std=0.01",
    "train.epochs=10",
]


def _run_name(config: PathLike | None, cfg: Config) -> str:
    return Path(config).stem if config is not None else cfg.data.name.replace(":", "_")


def run_training(config: PathLike | None = None, *, overrides: list[str] | None = None,
                 out: PathLike | None = None, resume: PathLike | None = None,
                 progress: bool = False, doctor: bool = True, quiet: bool = True,
                 cfg: Config | None = None) -> TrainResult:
    """Train a config with the Doctor attached; write the run directory and its report.

    Args:
        config: YAML path (ignored with ``resume`` or ``cfg``).
        overrides: ``--set`` strings.
        out: run directory (default ``runs/<time>-<name>``).
        resume: directory of a killed run to continue.
        doctor: attach ``td.Doctor`` (writes vitals.jsonl, findings.json, report.html).
        cfg: an already built config (skips reading ``config``).
    """
    if resume is not None:
        if overrides:
            raise ValueError("--resume continues a run as it was configured; --set is not allowed with it")
        trainer = Trainer.resume(resume, progress=progress)
        run_dir = Path(resume)
    else:
        cfg = cfg if cfg is not None else load_config(config, overrides or [])
        run_dir = Path(out) if out is not None else rundir.new_run_dir(_run_name(config, cfg))
        trainer = Trainer(cfg, out_dir=run_dir, progress=progress)
    doc = None
    if doctor:
        doc = _attach_doctor(trainer, run_dir, quiet=quiet)
        if resume is not None:
            # the checkpoint's doctor state goes into the freshly attached doctor
            ckpt = run_dir / rundir.CHECKPOINT_FILE
            if ckpt.is_file():
                trainer.load_state_dict(rundir.load_checkpoint(ckpt))
    try:
        result = trainer.fit()
    finally:
        if doc is not None:
            _finish_doctor(doc, trainer, run_dir, quiet=quiet)
    return result


def _attach_doctor(trainer: Trainer, run_dir: Path, *, quiet: bool) -> Any:
    from torchdoctor.autorepair import attach_patches
    from torchdoctor.doctor import Doctor
    from torchdoctor.doctor_callback import DoctorCallback

    # our own trainer: the remedies also carry their config patches
    doc = Doctor(trainer.model, trainer.optimizer, log_dir=run_dir, console=not quiet,
                 write_metrics=False, title=f"torchdoctor: {run_dir.name}",
                 prescribe=attach_patches)
    trainer.callbacks.append(DoctorCallback(doc))
    return doc


def _finish_doctor(doc: Any, trainer: Trainer, run_dir: Path, *, quiet: bool) -> None:
    try:
        doc.report(run_dir / "report.html", config=trainer.cfg.to_dict())
        if not quiet:
            from torchdoctor.report import print_summary

            print_summary([f.to_dict() for f in doc.findings],
                          metrics=trainer.history[-1] if trainer.history else None)
    finally:
        doc.close()


def run_demo(out: PathLike | None = None, *, progress: bool = False, quiet: bool = False) -> dict[str, TrainResult]:
    """Train the healthy digits config and a broken one beside it; both get a report."""
    from torchdoctor.configs import config_path

    root = Path(out) if out is not None else rundir.new_run_dir("demo")
    results = {}
    for name, overrides in (("healthy", []), ("broken", DEMO_BROKEN_OVERRIDES)):
        if not quiet:
            print(f"== {name}: digits MLP {' '.join(overrides) or '(default config)'}")
        results[name] = run_training(config_path("digits"), overrides=overrides, out=root / name,
                                     progress=progress, quiet=quiet)
    if not quiet:
        for name, res in results.items():
            acc = res.metrics.get("val_accuracy", float("nan"))
            print(f"{name}: val_accuracy {acc:.4f}  report: {root / name / 'report.html'}")
    return results


#: Share of ``train.epochs`` that ``diagnose`` trains (at least 3 epochs).
DIAGNOSE_BUDGET = 0.5


def run_diagnose(config: PathLike | None = None, *, overrides: list[str] | None = None,
                 epochs: int | None = None, out: PathLike | None = None,
                 cfg: Config | None = None) -> tuple[list[Any], dict[str, Any]]:
    """A budgeted training with the Doctor attached; returns (findings, final metrics).

    Args:
        epochs: epochs to train (default: ``DIAGNOSE_BUDGET`` of ``train.epochs``, at least 3).
        out: keep the run directory (logs, report) there; default: nothing written.
    """
    import math
    import tempfile

    cfg = cfg if cfg is not None else load_config(config, overrides or [])
    n = epochs if epochs is not None else min(cfg.train.epochs, max(3, math.ceil(DIAGNOSE_BUDGET * cfg.train.epochs)))
    budget_cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": n})})
    if out is not None:
        trainer, doc = _observed_run(budget_cfg, Path(out))
    else:
        with tempfile.TemporaryDirectory(prefix="torchdoctor-diagnose-") as tmp:
            trainer, doc = _observed_run(budget_cfg, Path(tmp))
    metrics = {k: v for k, v in (trainer.history[-1] if trainer.history else {}).items() if k != "time_s"}
    return list(doc.findings), rundir.jsonable(metrics)


def _observed_run(cfg: Config, run_dir: Path) -> tuple[Trainer, Any]:
    trainer = Trainer(cfg, out_dir=run_dir)
    doc = _attach_doctor(trainer, run_dir, quiet=True)
    try:
        trainer.fit()
        doc.report(run_dir / "report.html", config=cfg.to_dict())
    finally:
        doc.close()
    return trainer, doc


def run_repair(config: PathLike | None = None, *, overrides: list[str] | None = None, rounds: int = 3,
               out: PathLike | None = None, log: Any = None) -> tuple[Any, Path]:
    """``td.repair`` plus its run directory: repair.json, config_before/after.yaml, report.html."""
    import json

    from torchdoctor.autorepair import repair
    from torchdoctor.train.config import dump_config

    cfg = load_config(config, overrides or [])
    out_dir = Path(out) if out is not None else rundir.new_run_dir(f"repair-{_run_name(config, cfg)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    result = repair(cfg, rounds=rounds, log=log)
    dump_config(result.before.config, out_dir / "config_before.yaml")
    dump_config(result.after.config, out_dir / "config.yaml")
    (out_dir / "repair.json").write_text(json.dumps(result.to_json(), indent=2))
    from torchdoctor.autorepair.report import write_repair_report

    write_repair_report(result, out_dir / "report.html")
    return result, out_dir


def run_checkup(config: PathLike | None = None, *, overrides: list[str] | None = None,
                target: str | None = None, cfg: Config | None = None) -> tuple[list[Any], dict[str, Any]]:
    """Data findings before training, and shift findings for the configured target sample.

    Args:
        target: ``npz:PATH`` of a user's target sample (default: the config's ``target:`` block).

    Returns:
        ``(findings, stats)`` for ``checkup --json``.
    """
    import numpy as np

    from torchdoctor.data.checkup import run_checkup as check_data
    from torchdoctor.findings import SEVERITY_RANK
    from torchdoctor.train.targets import prepare_inputs, probability_model

    cfg = cfg if cfg is not None else load_config(config, overrides or [])
    inputs = prepare_inputs(cfg, target_path=target)
    d = inputs.data
    flat = lambda a: np.asarray(a).reshape(len(a), -1)  # noqa: E731
    findings, data_stats = check_data(flat(d.x_train_raw), d.y_train.numpy(), flat(d.x_val_raw),
                                      d.y_val.numpy(), task=d.task, raw=True,
                                      normalize=cfg.data.normalize)
    stats: dict[str, Any] = {"dataset": d.name, "data": data_stats}
    if inputs.target is not None:
        from torchdoctor.data.shift import check_shift

        t = inputs.target
        kw: dict[str, Any] = {}
        if d.task == "classification":
            from torchdoctor.train.targets import _proba

            clf = probability_model(d, cfg.seed)
            kw = dict(source_probs=_proba(clf, flat(d.x_val.numpy()), d.num_classes),
                      target_probs=_proba(clf, flat(t.x.numpy()), d.num_classes),
                      source_prob_labels=d.y_val.numpy())
        y_t = t.y.numpy() if t.y is not None and d.task == "classification" else None
        shift_findings, shift_stats = check_shift(
            flat(d.x_train.numpy()), d.y_train.numpy() if d.task == "classification" else None,
            flat(t.x.numpy()), y_t, seed=cfg.seed, **kw)
        findings += shift_findings
        stats["target"] = {"source": t.source, "size": len(t.x)}
        stats["shift"] = shift_stats
    if "reweight" in inputs.info:
        stats["reweight"] = inputs.info["reweight"]
    from torchdoctor.autorepair import attach_patches

    attach_patches(findings)  # checkup of our config: remedies carry their config patches
    findings.sort(key=lambda f: -SEVERITY_RANK[f.severity])
    return findings, rundir.jsonable(stats)
