"""Orchestration shared by the CLI and the Python API: train with the doctor, the demo.

These functions read a config, prepare data, attach the Doctor and write the run directory.
Under ``torchrun`` (``docs/distributed.md``) every rank trains; rank 0 alone writes the run
directory, the TensorBoard log and the report, and prints. A check that fails on one rank
(rank 0 checks the run directory) fails on all of them, before any rank waits for another.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from torchdoctor import rundir
from torchdoctor.train import agree_across_ranks, setup_distributed
from torchdoctor.train.config import Config, first_difference, load_config
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


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_training`: the run directory holds a resumable run.

    Attributes:
        run_dir: the directory to pass to ``--resume``.
    """

    def __init__(self, run_dir: Path) -> None:
        super().__init__(f"interrupted; resume with --resume {run_dir}")
        self.run_dir = run_dir


def _check_tensorboard(tensorboard: PathLike | None, doctor: bool = True) -> None:
    """``--tensorboard DIR`` needs the Doctor and the tensorboard package (one line if not)."""
    if tensorboard is None:
        return
    if not doctor:
        raise ValueError(f"--tensorboard {rundir.show(str(tensorboard))}: the Doctor writes the "
                         "TensorBoard log; drop --no-doctor")
    from torchdoctor.doctor import require_tensorboard

    try:
        require_tensorboard()
    except ImportError as exc:
        raise ValueError(f"--tensorboard {rundir.show(str(tensorboard))}: {exc}") from None


def run_training(config: PathLike | None = None, *, overrides: list[str] | None = None,
                 out: PathLike | None = None, resume: PathLike | None = None,
                 overwrite: bool = False, progress: bool = False, doctor: bool = True,
                 quiet: bool = True, cfg: Config | None = None,
                 tensorboard: PathLike | None = None) -> TrainResult:
    """Train a config with the Doctor attached; write the run directory and its report.

    Every check (config, data, ``out``, the resumed run's checkpoint and fingerprint) passes
    before anything in the run directory is written; the directory is locked while training.

    Args:
        config: YAML path (``cfg`` wins). With ``resume`` it must resolve to the run's config.
        overrides: ``--set`` strings (not allowed with ``resume``).
        out: run directory (default ``runs/<time>-<name>``); with ``resume``, only that same
            directory is allowed.
        resume: directory of a killed or interrupted run to continue.
        overwrite: replace the run that ``out`` holds (otherwise such an ``out`` is refused).
        doctor: attach ``td.Doctor`` (writes vitals.jsonl, findings.json, report.html).
        cfg: an already built config (skips reading ``config``).
        tensorboard: also write a TensorBoard log there (loss, per-layer gradient and update
            norms, metrics, findings; needs the Doctor and ``torchdoctor[tensorboard]``).

    Under ``torchrun`` the other ranks write nothing and print nothing: their result's
    ``run_dir`` is ``None``.

    Raises:
        ValueError: bad input (one line naming it).
        TrainingInterrupted: Ctrl-C; the run can be resumed.
    """
    if resume is None:  # task gan: the GAN trainer
        cfg = cfg if cfg is not None else load_config(config, overrides or [])
        if cfg.train.task == "gan":
            return _gan_training(cfg, config, out, overwrite=overwrite, doctor=doctor, quiet=quiet)
    else:
        _refuse_gan_resume(resume)
    info = setup_distributed()
    main = info is None or info.main
    quiet = quiet or not main
    with contextlib.ExitStack() as stack:
        error = None
        try:
            _check_tensorboard(tensorboard, doctor)
            if resume is not None:
                run_dir = _check_resume_args(overrides, out, resume, overwrite)
                if main:
                    stack.enter_context(rundir.run_lock(run_dir))  # no other process writes meanwhile
                trainer = Trainer.resume(run_dir, progress=progress)
                given = cfg if cfg is not None else (load_config(config) if config is not None else None)
                if given is not None:
                    _check_same_config(trainer.cfg, given, run_dir)
            else:
                cfg = cfg if cfg is not None else load_config(config, overrides or [])
                if out is not None and main:
                    rundir.check_new_run_dir(out, overwrite=overwrite)
                trainer = Trainer(cfg, progress=progress)  # data and model checks; nothing written
                if main:
                    run_dir = Path(out) if out is not None else rundir.new_run_dir(_run_name(config, cfg))
                    trainer.out_dir = run_dir
                    stack.enter_context(rundir.run_lock(run_dir))
            trainer.open_run_dir(overwrite=overwrite)
        except ValueError as exc:
            if info is None:
                raise
            error = str(exc)
        if info is not None:
            agree_across_ranks(error)  # every rank raises the first rank's error, or none does
        if not main:
            run_dir = None  # type: ignore[assignment]
        doc = None
        if doctor:
            doc = _attach_doctor(trainer, run_dir, quiet=quiet, tensorboard=tensorboard)
            if trainer.resumed_state is not None:
                # the checkpoint's doctor state goes into the freshly attached doctor
                trainer.load_callback_states(trainer.resumed_state)
        interrupted = False
        try:
            result = trainer.fit()
        except KeyboardInterrupt:
            interrupted = True
            raise TrainingInterrupted(run_dir) from None
        finally:
            if doc is not None:
                _finish_doctor(doc, trainer, run_dir, quiet=quiet or interrupted)
    return result


# ----------------------------------------------------------------------------- task gan
def _gan_training(cfg: Config, config: PathLike | None, out: PathLike | None, *,
                  overwrite: bool, doctor: bool, quiet: bool) -> Any:
    from torchdoctor.gan import train_gan

    return train_gan(cfg, out=out, overwrite=overwrite, doctor=doctor, quiet=quiet,
                     name=_run_name(config, cfg))


def _refuse_gan_resume(resume: PathLike) -> None:
    """A GAN run is not resumable: say so before the classifier trainer reads its config."""
    path = Path(resume) / rundir.CONFIG_FILE
    try:
        task = load_config(path).train.task if path.is_file() else None
    except ValueError:
        return  # the resume path names the problem
    if task == "gan":
        raise ValueError(f"--resume {rundir.show(str(resume))}: a GAN run (train.task: gan) cannot "
                         "be resumed; train it again")


def _check_resume_args(overrides: list[str] | None, out: PathLike | None, resume: PathLike,
                       overwrite: bool) -> Path:
    run_dir = Path(resume)
    where = f"--resume {rundir.show(str(run_dir))}"
    if overrides:
        raise ValueError(f"{where}: continues the run as it was configured; --set is not allowed with it")
    if overwrite:
        raise ValueError(f"{where}: continues the run; --overwrite would discard it (use one or the other)")
    if out is not None and os.path.realpath(out) != os.path.realpath(run_dir):
        raise ValueError(f"{where}: the run continues in its own directory; --out "
                         f"{rundir.show(str(out))} is another one (omit --out)")
    return rundir.check_run_dir(run_dir)  # before the lock, which would create it


def _check_same_config(run_cfg: Config, given: Config, run_dir: Path) -> None:
    diff = first_difference(run_cfg.to_dict(), given.to_dict())
    if diff is not None:
        key, old, new = diff
        raise ValueError(
            f"--resume {rundir.show(str(run_dir))}: CONFIG differs from the run's "
            f"{rundir.CONFIG_FILE}: {key} = {rundir.show(new, 40)} (run: {rundir.show(old, 40)}); "
            "omit CONFIG to continue the run")


def _attach_doctor(trainer: Trainer, run_dir: Path | None, *, quiet: bool,
                   tensorboard: PathLike | None = None) -> Any:
    """The Doctor on ``trainer``; ``run_dir`` ``None``: a rank other than 0 (writes nothing)."""
    from torchdoctor.doctor import INTERVAL, SAMPLE_EVERY, Doctor
    from torchdoctor.integrations.trainer import DoctorCallback
    from torchdoctor.repair import attach_patches

    # our own trainer: exact sampling (no time budget) and flushes every INTERVAL steps, so
    # the same config gives the same findings (and every rank samples the same steps); the remedies carry config patches
    title = f"torchdoctor: {run_dir.name}" if run_dir is not None else "torchdoctor"
    doc = Doctor(trainer.model, trainer.optimizer, log_dir=run_dir, console=not quiet,
                 write_metrics=False, title=title, sample_every=SAMPLE_EVERY, interval=INTERVAL,
                 prescribe=attach_patches,
                 tensorboard=Path(tensorboard) if tensorboard is not None and run_dir is not None else None)
    trainer.callbacks.append(DoctorCallback(doc))
    return doc


def _finish_doctor(doc: Any, trainer: Trainer, run_dir: Path | None, *, quiet: bool) -> None:
    try:
        if run_dir is not None:
            doc.report(run_dir / rundir.REPORT_FILE, config=trainer.cfg.to_dict())
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
                                     overwrite=True, progress=progress, quiet=quiet)
    if not quiet:
        for name, res in results.items():
            acc = res.metrics.get("val_accuracy", float("nan"))
            print(f"{name}: val_accuracy {acc:.4f}  report: {root / name / rundir.REPORT_FILE}")
    return results


#: Share of ``train.epochs`` that ``diagnose`` trains (at least 3 epochs).
DIAGNOSE_BUDGET = 0.5


def run_diagnose(config: PathLike | None = None, *, overrides: list[str] | None = None,
                 epochs: int | None = None, out: PathLike | None = None,
                 overwrite: bool = False,
                 cfg: Config | None = None,
                 tensorboard: PathLike | None = None) -> tuple[list[Any], dict[str, Any]]:
    """A budgeted training with the Doctor attached; returns (findings, final metrics).

    Args:
        epochs: epochs to train (default: ``DIAGNOSE_BUDGET`` of ``train.epochs``, at least 3).
        out: keep the run directory (logs, report) there; default: nothing written.
        overwrite: replace the run that ``out`` holds (otherwise such an ``out`` is refused).
        tensorboard: also write a TensorBoard log there (needs ``torchdoctor[tensorboard]``).

    Under ``torchrun`` the other ranks return no findings (rank 0 has them) and write nothing.
    """
    import math
    import tempfile

    info = setup_distributed()
    main = info is None or info.main
    error = None
    try:
        _check_tensorboard(tensorboard)
        cfg = cfg if cfg is not None else load_config(config, overrides or [])
        if epochs is not None and not (isinstance(epochs, int) and 1 <= epochs <= 100000):
            raise ValueError(f"--epochs {rundir.show(epochs)}: must be a whole number in 1..100000")
        if out is not None and main:
            rundir.check_new_run_dir(out, overwrite=overwrite)
    except ValueError as exc:
        if info is None:
            raise
        error = str(exc)
    if info is not None:
        agree_across_ranks(error)
    assert cfg is not None
    if cfg.train.task == "gan":  # the GAN trainer (one process)
        from torchdoctor.gan import diagnose_gan

        return diagnose_gan(cfg, epochs=epochs, out=out, overwrite=overwrite)
    n = epochs if epochs is not None else min(cfg.train.epochs, max(3, math.ceil(DIAGNOSE_BUDGET * cfg.train.epochs)))
    budget_cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"epochs": n})})
    if not main:
        trainer, doc = _observed_run(budget_cfg, None)
    elif out is not None:
        trainer, doc = _observed_run(budget_cfg, Path(out), overwrite=overwrite,
                                     tensorboard=tensorboard)
    else:
        with tempfile.TemporaryDirectory(prefix="torchdoctor-diagnose-") as tmp:
            trainer, doc = _observed_run(budget_cfg, Path(tmp), tensorboard=tensorboard)
    metrics = {k: v for k, v in (trainer.history[-1] if trainer.history else {}).items() if k != "time_s"}
    return list(doc.findings), rundir.jsonable(metrics)


def _observed_run(cfg: Config, run_dir: Path | None, *, overwrite: bool = False,
                  tensorboard: PathLike | None = None) -> tuple[Trainer, Any]:
    """Train ``cfg`` with the Doctor into ``run_dir`` (``None``: a rank other than 0)."""
    trainer = Trainer(cfg, out_dir=run_dir)
    with contextlib.ExitStack() as stack:
        error = None
        if run_dir is not None:
            try:
                stack.enter_context(rundir.run_lock(run_dir))
                trainer.open_run_dir(overwrite=overwrite)  # before the Doctor opens its logs
            except ValueError as exc:
                if trainer.dist is None:
                    raise
                error = str(exc)
        if trainer.dist is not None:
            agree_across_ranks(error)
        doc = _attach_doctor(trainer, run_dir, quiet=True, tensorboard=tensorboard)
        try:
            trainer.fit()
            if run_dir is not None:
                doc.report(run_dir / rundir.REPORT_FILE, config=cfg.to_dict())
        finally:
            doc.close()
    return trainer, doc


def run_repair(config: PathLike | None = None, *, overrides: list[str] | None = None, rounds: int = 3,
               out: PathLike | None = None, log: Any = None) -> tuple[Any, Path]:
    """``td.repair`` plus its run directory: repair.json, config_before/after.yaml, report.html.

    ``out`` may hold an earlier repair (replaced), not a training run (refused).
    """
    cfg = load_config(config, overrides or [])
    if out is not None:
        out_dir = rundir.prepare_dir(out)
        trained = [n for n in rundir.holds_run(out_dir)
                   if n in (rundir.METRICS_FILE, rundir.VITALS_FILE, rundir.CHECKPOINT_FILE)]
        if trained:  # a training run: its config.yaml and report would be replaced
            raise rundir.RunDirError(f"--out {rundir.show(str(out_dir))} holds a training run "
                                     f"({', '.join(trained)}); choose another --out")
    else:
        out_dir = rundir.new_run_dir(f"repair-{_run_name(config, cfg)}")
    with rundir.run_lock(out_dir):
        if cfg.train.task == "gan":  # the GAN repair
            return _repair_gan_into(cfg, out_dir, rounds, log)
        return _repair_into(cfg, out_dir, rounds, log)


def _repair_gan_into(cfg: Config, out_dir: Path, rounds: int, log: Any) -> tuple[Any, Path]:
    from torchdoctor.repair import repair_gan
    from torchdoctor.train.config import dump_config

    result = repair_gan(cfg, rounds=rounds, log=log)
    dump_config(result.before.config, out_dir / rundir.CONFIG_BEFORE_FILE)
    dump_config(result.after.config, out_dir / rundir.CONFIG_FILE)
    rundir.atomic_write_json(out_dir / rundir.REPAIR_FILE, result.to_json(), indent=2)
    result.write_report(out_dir / rundir.REPORT_FILE)
    return result, out_dir


def _repair_into(cfg: Config, out_dir: Path, rounds: int, log: Any) -> tuple[Any, Path]:
    from torchdoctor.repair import repair
    from torchdoctor.train.config import dump_config

    result = repair(cfg, rounds=rounds, log=log)
    dump_config(result.before.config, out_dir / rundir.CONFIG_BEFORE_FILE)
    dump_config(result.after.config, out_dir / rundir.CONFIG_FILE)
    rundir.atomic_write_json(out_dir / rundir.REPAIR_FILE, result.to_json(), indent=2)
    from torchdoctor.repair.report import write_repair_report

    write_repair_report(result, out_dir / rundir.REPORT_FILE)
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
            from torchdoctor.train.targets import class_probabilities

            clf = probability_model(d, cfg.seed)
            kw = dict(source_probs=class_probabilities(clf, flat(d.x_val.numpy()), d.num_classes),
                      target_probs=class_probabilities(clf, flat(t.x.numpy()), d.num_classes),
                      source_prob_labels=d.y_val.numpy())
        y_t = t.y.numpy() if t.y is not None and d.task == "classification" else None
        try:
            shift_findings, shift_stats = check_shift(
                flat(d.x_train.numpy()), d.y_train.numpy() if d.task == "classification" else None,
                flat(t.x.numpy()), y_t, seed=cfg.seed, **kw)
        except ValueError as exc:  # name the input the user gave, not the tool's parameter
            where = f"--target {rundir.show(target)}" if target else f"target.size = {cfg.target.size}"
            raise ValueError(f"{where}: {exc}") from None
        findings += shift_findings
        stats["target"] = {"source": t.source, "size": len(t.x)}
        stats["shift"] = shift_stats
    if "reweight" in inputs.info:
        stats["reweight"] = inputs.info["reweight"]
    from torchdoctor.repair import attach_patches

    attach_patches(findings)  # checkup of our config: remedies carry their config patches
    findings.sort(key=lambda f: -SEVERITY_RANK[f.severity])
    return findings, rundir.jsonable(stats)
