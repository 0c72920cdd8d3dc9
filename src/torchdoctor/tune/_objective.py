"""One Optuna trial: sample a config from the space, train it, prune it on the doctor's error
findings or on the validation metric.

Doctor-informed pruning: after each epoch the trial's Doctor is read; an error-level finding
(non-finite loss, vanishing gradients with no learning, ...) prunes the trial at once
(``optuna.TrialPruned``), with the finding's code and message kept in the trial's
``user_attrs``. Otherwise the epoch's validation metric is reported (``trial.report``) and the
study's pruner (e.g. ``MedianPruner``) decides.
"""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from torchdoctor.train.callbacks import Callback
from torchdoctor.train.config import Config, config_from_dict
from torchdoctor.tune._space import Param

__all__ = ["PRUNED_BY_DOCTOR", "PRUNED_BY_METRIC", "Objective", "metric_of", "trial_config"]

#: ``user_attrs["pruned_by"]`` of a trial pruned on a doctor's error finding.
PRUNED_BY_DOCTOR = "doctor"
#: ``user_attrs["pruned_by"]`` of a trial pruned by the study's pruner on the metric.
PRUNED_BY_METRIC = "metric"


def metric_of(cfg: Config) -> tuple[str, str]:
    """``(metric, direction)`` of a config's task: validation accuracy to maximize
    (classification) or validation loss to minimize (regression)."""
    if cfg.train.task == "classification":
        return "val_accuracy", "maximize"
    return "val_loss", "minimize"


def trial_config(base: Config, params: dict[str, Any]) -> Config:
    """``base`` with the dotted keys of ``params`` set; validated as a whole.

    Raises:
        ValueError: the combination is not a valid config (the message names the key).
    """
    raw = base.to_dict()
    for key, value in params.items():
        node = raw
        *sections, leaf = key.split(".")
        for part in sections:
            node = node[part]
        node[leaf] = value
    return config_from_dict(raw)


class _Watch(Callback):
    """Reports the metric each epoch; stops the run on a doctor error or the pruner's word."""

    def __init__(self, trial: Any, doctor: Any, metric: str) -> None:
        self.trial, self.doctor, self.metric = trial, doctor, metric
        self.pruned_by: str | None = None
        self.finding: Any = None

    def on_train_epoch_end(self, trainer: Any, *, epoch: int, metrics: dict[str, Any]) -> None:
        value = metrics.get(self.metric)
        finite = isinstance(value, (int, float)) and math.isfinite(value)
        if finite:  # reported first: the history shows where a pruned trial stood
            self.trial.report(float(value), epoch)
        if self.doctor is not None:
            try:
                errors = [f for f in self.doctor.findings if f.severity == "error"]
            except Exception:  # noqa: BLE001 - the doctor never stops a trial by failing
                errors = []
            if errors:
                self.pruned_by, self.finding = PRUNED_BY_DOCTOR, errors[0]
                trainer.should_stop = True
                return
        if finite:
            if self.trial.should_prune():
                self.pruned_by = PRUNED_BY_METRIC
                trainer.should_stop = True


@dataclass
class Objective:
    """The function Optuna optimizes: ``Objective(base, space)(trial) -> metric value``.

    Args:
        base: the config every trial starts from.
        space: the searched keys.
        doctor: attach a Doctor to each trial and prune on its error findings.
        inputs: prepared data per data config (shared between trials); default: a fresh cache.

    The value is the last epoch's validation metric (:func:`metric_of`). A sampled
    combination that is not a valid config, or that the trainer refuses, fails the trial
    (``user_attrs["error"]`` says why) instead of stopping the study.
    """

    base: Config
    space: list[Param]
    doctor: bool = True
    inputs: Any = None

    def __post_init__(self) -> None:
        if self.inputs is None:
            from torchdoctor.repair import InputsCache

            self.inputs = InputsCache()
        self.metric, self.direction = metric_of(self.base)

    def __call__(self, trial: Any) -> float:
        import optuna

        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        params = {p.key: p.suggest(trial) for p in self.space}
        t0 = time.perf_counter()
        try:
            cfg = trial_config(self.base, params)
            trainer, doc = self._build(cfg)
        except ValueError as exc:
            trial.set_user_attr("error", str(exc))
            raise InvalidTrial(str(exc)) from None
        watch = _Watch(trial, doc, self.metric)
        trainer.callbacks.append(watch)
        try:
            trainer.fit()
            found = _safe_findings(doc) if doc is not None else []
        finally:
            if doc is not None:
                doc.close()
        trial.set_user_attr("epochs_run", trainer.epoch)
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        if doc is not None:
            trial.set_user_attr("findings", [
                {"code": f.code, "severity": f.severity, "message": f.message} for f in found])
        if watch.pruned_by is not None:
            trial.set_user_attr("pruned_by", watch.pruned_by)
            if watch.finding is not None:
                trial.set_user_attr("finding_code", watch.finding.code)
                trial.set_user_attr("finding_message", watch.finding.message)
            raise optuna.TrialPruned(
                f"{watch.finding.code}: {watch.finding.message}" if watch.finding is not None
                else f"{self.metric} below the pruner's threshold at epoch {trainer.epoch - 1}")
        value = trainer.history[-1].get(self.metric) if trainer.history else None
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            trial.set_user_attr("error", f"{self.metric} is {value} after the last epoch")
            raise InvalidTrial(f"{self.metric} is {value}")
        return float(value)

    def _build(self, cfg: Config) -> tuple[Any, Any]:
        from torchdoctor.train.trainer import Trainer

        i = self.inputs(cfg)
        trainer = Trainer(cfg, data=i.data, sample_weights=i.sample_weights, eval_sets=i.eval_sets)
        if not self.doctor:
            return trainer, None
        from torchdoctor.doctor import INTERVAL, SAMPLE_EVERY, Doctor
        from torchdoctor.integrations.trainer import DoctorCallback

        # exact sampling (no time budget), flushes every INTERVAL steps: the same config gives
        # the same findings
        doc = Doctor(trainer.model, trainer.optimizer, console=False, sample_every=SAMPLE_EVERY,
                     interval=INTERVAL)
        trainer.callbacks.append(DoctorCallback(doc))
        return trainer, doc


def _safe_findings(doc: Any) -> list[Any]:
    try:
        return list(doc.findings)
    except Exception:  # noqa: BLE001 - a failing doctor leaves the trial's result alone
        return []


class InvalidTrial(ValueError):
    """A sampled config that cannot be trained: the trial fails, the study goes on."""
