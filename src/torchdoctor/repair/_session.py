"""One training under observation: a Trainer with the Doctor attached, run to a budget,
continuable to the full length (so the chosen candidate is not trained twice)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from torchdoctor.findings import Finding
from torchdoctor.train.config import Config
from torchdoctor.train.targets import TrainInputs
from torchdoctor.train.trainer import Trainer


def row_score(row: dict[str, Any]) -> float:
    """Higher is better: validation accuracy (classification) or −validation loss of one
    epoch's metrics (``-inf`` when neither is finite)."""
    acc, loss = row.get("val_accuracy"), row.get("val_loss")
    loss = float(loss) if isinstance(loss, (int, float)) and math.isfinite(loss) else None
    if isinstance(acc, (int, float)):
        # accuracy first; the loss only breaks ties (a non-finite loss ranks last among equals)
        return float(acc) - 1e-6 * (loss if loss is not None else 1e6)
    return -loss if loss is not None else float("-inf")


class _StopAt:
    """Stops training after ``epochs`` epochs; as soon as a new error finding (``abort_codes``)
    shows up; or halfway when the run is no better than ``reference`` (its parent's score per
    epoch) by ``min_gain`` at the same epoch: a cure that helps shows it by then. A run that no
    longer shows one of ``keep_if_resolved`` (its parent's findings it targets) goes on: a
    cure of one of two faults may not raise the score yet."""

    def __init__(self, epochs: int, doctor: Any, abort_codes: set[str] | None,
                 reference: list[float] | None = None, min_gain: float = 0.0,
                 keep_if_resolved: set[str] | None = None) -> None:
        self.epochs = epochs
        self.doctor = doctor
        self.abort_codes = abort_codes
        self.reference = reference
        self.min_gain = min_gain
        self.keep_if_resolved = keep_if_resolved or set()
        self.aborted: Finding | None = None
        self.lagging = False

    def on_train_epoch_end(self, trainer: Trainer, **kw: Any) -> None:
        if self.abort_codes is not None:
            for f in self.doctor.findings:
                if f.severity == "error" and f.code in self.abort_codes:
                    self.aborted = f
                    trainer.should_stop = True
                    return
        if trainer.epoch >= self.epochs:
            trainer.should_stop = True
            return
        half = math.ceil(self.epochs / 2)
        ref = self.reference
        if ref is not None and trainer.epoch == half and len(ref) >= half and trainer.history:
            flagged = {f.code for f in self.doctor.findings if f.severity in ("error", "warning")}
            if row_score(trainer.history[-1]) < ref[half - 1] + self.min_gain \
                    and not self.keep_if_resolved - flagged:
                self.lagging = True
                trainer.should_stop = True


@dataclass
class Session:
    """A (partly) trained config with its doctor.

    Attributes:
        name: label for tables and reports.
        config: the config trained.
        patch: the patch that made this config from its parent (empty for the baseline).
        remedies: remedy codes behind the patch.
    """

    name: str
    config: Config
    inputs: TrainInputs
    patch: dict[str, Any] = field(default_factory=dict)
    remedies: list[str] = field(default_factory=list)
    seconds: float = 0.0
    aborted: Finding | None = None
    lagging: bool = False
    trainer: Trainer | None = None
    doctor: Any = None

    def start(self, budget_epochs: int, *, abort_codes: set[str] | None = None,
              reference: list[float] | None = None, min_gain: float = 0.0,
              keep_if_resolved: set[str] | None = None) -> Session:
        """Train the first ``budget_epochs`` epochs; fewer when an error of ``abort_codes``
        shows up (``aborted``) or when halfway the run is not ``min_gain`` better than
        ``reference``, the parent's score per epoch, and still shows every code of
        ``keep_if_resolved`` (``lagging``)."""
        from torchdoctor.doctor import INTERVAL, SAMPLE_EVERY, Doctor
        from torchdoctor.integrations.trainer import DoctorCallback
        from torchdoctor.repair._remedy_patches import attach_patches

        t0 = time.perf_counter()
        i = self.inputs
        self.trainer = Trainer(self.config, data=i.data, sample_weights=i.sample_weights,
                               eval_sets=i.eval_sets)
        # exact sampling (no time budget), flushes every INTERVAL steps: the same config gives
        # the same findings
        self.doctor = Doctor(self.trainer.model, self.trainer.optimizer, console=False,
                             sample_every=SAMPLE_EVERY, interval=INTERVAL,
                             prescribe=attach_patches)
        stop = _StopAt(budget_epochs, self.doctor, abort_codes, reference, min_gain,
                       keep_if_resolved)
        self.trainer.callbacks += [DoctorCallback(self.doctor), stop]
        self.trainer.fit()
        self.aborted = stop.aborted
        self.lagging = stop.lagging
        self.seconds += time.perf_counter() - t0
        return self

    def finish(self) -> Session:
        """Continue to ``train.epochs`` (exactly the metrics of an uninterrupted run)."""
        assert self.trainer is not None, "start() first"
        t0 = time.perf_counter()
        self.trainer.callbacks = [cb for cb in self.trainer.callbacks if not isinstance(cb, _StopAt)]
        self.trainer.should_stop = False
        self.trainer.fit()
        self.seconds += time.perf_counter() - t0
        return self

    @property
    def epochs_run(self) -> int:
        return self.trainer.epoch if self.trainer is not None else 0

    @property
    def metrics(self) -> dict[str, Any]:
        if self.trainer is None or not self.trainer.history:
            return {}
        return {k: v for k, v in self.trainer.history[-1].items() if k != "time_s"}

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.trainer.history) if self.trainer is not None else []

    @property
    def findings(self) -> list[Finding]:
        return list(self.doctor.findings) if self.doctor is not None else []

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def score(self) -> float:
        """Higher is better: validation accuracy (classification) or −validation loss."""
        return row_score(self.metrics)

    def scores(self) -> list[float]:
        """:meth:`score` after each epoch."""
        return [row_score(row) for row in self.history]

    @property
    def stopped_early(self) -> bool:
        return self.aborted is not None or self.lagging

    def close(self) -> None:
        if self.doctor is not None:
            self.doctor.close()
