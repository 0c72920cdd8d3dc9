"""The :class:`Doctor`: attach to any training loop, read findings with evidence and cures."""

from __future__ import annotations

import copy
import functools
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from torchdoctor.catalogue import Thresholds, thresholds_from
from torchdoctor.doctor._explained import explain
from torchdoctor.doctor._history import carry_resolved
from torchdoctor.doctor._rundir import RunFiles
from torchdoctor.doctor.remedies import attach_remedies, fit_rate_remedies
from torchdoctor.doctor.symptoms import diagnose
from torchdoctor.doctor.vitals import Recorder, Vitals, default_schedule, finite
from torchdoctor.findings import SEVERITY_RANK, Finding

__all__ = ["Doctor"]

log = logging.getLogger("torchdoctor")

_F = TypeVar("_F", bound=Callable[..., Any])


def _never_raises(fn: _F) -> _F:
    """Event methods never break training: an exception is logged once per method, then ignored.

    ``ValueError`` (a bad argument from the caller) still propagates.
    """

    @functools.wraps(fn)
    def wrapped(self: Doctor, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except ValueError:
            raise
        except Exception as exc:
            if fn.__name__ not in self._failed_events:
                self._failed_events.add(fn.__name__)
                log.warning("torchdoctor: %s failed (%s: %s); training continues",
                            fn.__name__, type(exc).__name__, exc)
            return None

    return wrapped  # type: ignore[return-value]


class Doctor:
    """Watches a training run: records vital signs, recognises symptoms, prescribes remedies.

    Usage::

        doctor = td.Doctor(model, optimizer)
        ...  loss.backward(); doctor.step(loss, inputs=x, targets=y, outputs=out); optimizer.step()
        doctor.observe(val_loss=vl, val_accuracy=va)      # once per epoch
        doctor.findings; doctor.report("report.html"); doctor.close()

    Args:
        model: the module being trained. Hooks are registered on it (removed by :meth:`close`);
            it is never modified, except by a live treatment when ``treat=True``.
        optimizer: its optimizer (step pre/post hooks give update ratios); optional.
        interval: steps between two flushes of the device buffers to the host (>= 1).
        sample_every: full statistics (activations, gradient/parameter/update norms, inputs,
            outputs, targets, the stale-gradient check) on the first 5 steps and one step in
            ``sample_every`` after;
            ``1`` samples every step. Ignored when ``schedule`` is given.
        schedule: ``step -> bool`` choosing the sampled steps.
        log_dir: run directory for ``vitals.jsonl`` (appended at each flush), ``findings.json``
            (rewritten atomically when findings change) and ``metrics.jsonl``.
        write_metrics: write ``metrics.jsonl`` from :meth:`observe` (turn off when a trainer
            writes it).
        treat: live treatment of safe cures: on ``nonfinite`` restore the last finite state of
            model and optimizer and halve the learning rate.
        console: print a rich line when a new finding appears.
        loss_fn: the loss module or function, when known (helps ``wrong_loss``); otherwise the
            loss is inferred by recomputing the usual losses on sampled steps.
        max_records: step records kept in memory (older ones are thinned).
        diagnose_budget: largest share of wall time spent running rules during training
            (rules also run at every epoch end when within budget, and always on read).
        title: report title.
        thresholds: the rules' thresholds: a :class:`~torchdoctor.catalogue.Thresholds`, or a
            dict of field overrides such as ``{"dead_fraction": 0.7}`` (default: the values
            documented in ``docs/symptoms.md``).
        prescribe: called with the findings after each diagnosis, before they are written or
            announced (torchdoctor's own trainer adds config patches to the remedies with it).
        output_key: the prediction inside a container output (dict key, attribute, index, or a
            callable ``outputs -> Tensor``); by default the entry named ``logits`` (or a
            similar name), else the first floating tensor. Tuple/dict inputs and targets are
            read the same way; what is used and skipped is logged once
            (``doctor.vitals.loop["io"]``).

    Raises:
        ValueError: a bad argument (the message names it).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, *,
                 interval: int = 50, sample_every: int = 25,
                 schedule: Callable[[int], bool] | None = None,
                 log_dir: str | os.PathLike[str] | None = None, write_metrics: bool = True,
                 treat: bool = False, console: bool = True, loss_fn: Any = None,
                 max_records: int = 4000, diagnose_budget: float = 0.005,
                 title: str = "torchdoctor run",
                 thresholds: Thresholds | dict[str, float] | None = None,
                 prescribe: Callable[[list[Finding]], Any] | None = None,
                 output_key: Any = None) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
        for name, val, lo in (("interval", interval, 1), ("sample_every", sample_every, 1),
                              ("max_records", max_records, 100)):
            if not isinstance(val, int) or isinstance(val, bool) or val < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {val!r}")
        if schedule is not None and not callable(schedule):
            raise ValueError(f"schedule must be a callable step -> bool, got {schedule!r}")
        if not 0 < diagnose_budget <= 1:
            raise ValueError(f"diagnose_budget must be in (0, 1], got {diagnose_budget}")
        if prescribe is not None and not callable(prescribe):
            raise ValueError(f"prescribe must be a callable findings -> None, got {prescribe!r}")
        self.thresholds = thresholds_from(thresholds)
        self.prescribe = prescribe
        self.model, self.optimizer = model, optimizer
        self.interval, self.sample_every = interval, sample_every
        self.treat, self.console, self.title = bool(treat), bool(console), title
        self.diagnose_budget = diagnose_budget
        self._failed_events: set[str] = set()
        self.recorder = Recorder(model, optimizer, interval=interval,
                                 schedule=schedule or default_schedule(sample_every),
                                 on_full=self._auto_flush, max_records=max_records,
                                 output_key=output_key)
        self.recorder.epoch = 0
        if loss_fn is not None:
            self.vitals.loop["loss_name"] = getattr(type(loss_fn), "__name__", None) \
                if isinstance(loss_fn, nn.Module) else getattr(loss_fn, "__name__", None)
        self.files = RunFiles(log_dir, write_metrics=write_metrics) if log_dir is not None else None
        self.treatments: list[dict[str, Any]] = []
        self._findings: list[Finding] = []
        self._stale = False
        self._closed = False
        self._t0 = time.perf_counter()
        self._last_diag_end = self._t0
        self._last_diag_cost = 0.0
        self._explicit_epochs = False
        self._epoch = 0
        self._epoch_closed = False
        self._pending_metrics: dict[str, float] = {}
        self._unwritten_epoch: dict[str, Any] | None = None
        self._stashed_loss: torch.Tensor | None = None
        self._grads_done = False
        self._safe: tuple[dict[str, Any], dict[str, Any] | None] | None = None

    # ------------------------------------------------------------------ properties
    @property
    def vitals(self) -> Vitals:
        """The recorded timeline (host side)."""
        return self.recorder.vitals

    @property
    def findings(self) -> list[Finding]:
        """Current findings, most severe first (the rules run again if new data arrived)."""
        if self._stale and not self._closed:
            self.flush(diagnose_now=True)
        return list(self._findings)

    @property
    def step_count(self) -> int:
        return self.recorder.step

    # ------------------------------------------------------------------ user API
    @_never_raises
    def step(self, loss: torch.Tensor | float | None, *, inputs: Any = None, targets: Any = None,
             outputs: Any = None) -> None:
        """Record one training step; call after ``loss.backward()``, before ``optimizer.step()``.

        Args:
            loss: the (scalar) loss of the batch.
            inputs (Tensor[N, ...]): the batch fed to the model (optional); a tuple, list, dict
                or dataclass of tensors too (its first floating tensor is used).
            targets (Tensor[N], Tensor[N, T] or Tensor[N, C]): its targets (optional): class
                ids, per-position class ids, 0/1 (single logit), multi-hot, soft or real values.
            outputs (Tensor[N, C], Tensor[N, T, C], Tensor[N] ...): the model's outputs
                (optional), or a container holding them (``output_key`` picks the entry;
                ``docs/loops.md`` gives the rule).
        """
        self.on_after_backward()
        self.on_train_batch_end(loss, inputs=inputs, targets=targets, outputs=outputs)

    @_never_raises
    def observe(self, **metrics: float) -> None:
        """Hand over epoch-level metrics (``val_loss``, ``val_accuracy``, ``train_loss``, ...).

        Without Lightning-style epoch events, each call ends an epoch.

        Raises:
            ValueError: a metric is not a real number.
        """
        clean: dict[str, float] = {}
        for k, val in metrics.items():
            if isinstance(val, torch.Tensor) and val.numel() == 1:
                val = val.item()
            if not isinstance(val, (int, float)) or isinstance(val, bool):
                raise ValueError(f"metric {k} must be a real number, got {val!r}")
            clean[k] = float(val)
        if self._explicit_epochs:
            if self._epoch_closed and self.vitals.epochs:
                self.vitals.epochs[-1].update(clean)
                self._stale = True
            else:
                self._pending_metrics.update(clean)
            return
        self._pending_metrics.update(clean)
        self._end_epoch()
        self._write_epoch()
        self._epoch += 1
        self.recorder.epoch = self._epoch
        self._maybe_diagnose()

    def diagnose(self) -> list[Finding]:
        """Flush, run every rule now and return the findings."""
        self.flush(diagnose_now=True)
        return list(self._findings)

    def report(self, path: str | os.PathLike[str], *, config: dict[str, Any] | None = None) -> Path:
        """Write the HTML report (``torchdoctor.report.write_html_report``); returns its path."""
        from torchdoctor.report import write_html_report

        findings = self.findings
        return write_html_report(
            path, title=self.title, config=config, metrics=list(self.vitals.epochs),
            vitals=list(self.vitals.records), findings=[f.to_dict() for f in findings],
            summary=self.summary())

    def summary(self) -> dict[str, Any]:
        """Key facts of the run for the report."""
        n_params = sum(p.numel() for p in self.model.parameters())
        return {"steps": self.recorder.step, "epochs": len(self.vitals.epochs),
                "duration_s": round(time.perf_counter() - self._t0, 3),
                "device": str(self.recorder.device), "parameters": n_params,
                "interval": self.interval, "sample_every": self.sample_every,
                "findings": len(self._findings), "treatments": len(self.treatments),
                **{f"{role} read": said for role, said in (self.vitals.loop.get("io") or {}).items()}}

    def close(self) -> None:
        """Final flush and diagnosis, files closed, every hook removed. Idempotent."""
        if self._closed:
            return
        try:
            if self._explicit_epochs and not self._epoch_closed and self._has_epoch_steps():
                self._end_epoch()
            self._write_epoch()
            self.flush(diagnose_now=True)
        finally:
            self.recorder.remove()
            if self.files is not None:
                self.files.close()
            self._closed = True

    def __enter__(self) -> Doctor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ Lightning-named events
    @_never_raises
    def on_train_start(self) -> None:
        self._t0 = time.perf_counter()

    @_never_raises
    def on_train_epoch_start(self, epoch: int | None = None) -> None:
        if self._explicit_epochs:
            if not self._epoch_closed and self._has_epoch_steps():
                self._end_epoch()
            self._write_epoch()
            self._epoch = self._epoch + 1 if epoch is None else int(epoch)
        elif epoch is not None:
            self._epoch = int(epoch)
        self._explicit_epochs = True
        self._epoch_closed = False
        self.recorder.epoch = self._epoch

    @_never_raises
    def on_before_backward(self, loss: torch.Tensor | None = None) -> None:
        self._stashed_loss = loss.detach() if isinstance(loss, torch.Tensor) else None

    @_never_raises
    def on_after_backward(self) -> None:
        self._grads_done = True
        self.recorder.record_grads()

    def on_before_optimizer_step(self, optimizer: Any = None) -> None:
        """No-op: the optimizer's own step hooks do the work."""

    @_never_raises
    def on_train_batch_end(self, loss: torch.Tensor | float | None = None, *, inputs: Any = None,
                           targets: Any = None, outputs: Any = None) -> None:
        if not self._grads_done:
            self.recorder.record_grads()
        if loss is None:
            loss = self._stashed_loss
        self.recorder.close_step(loss, inputs=inputs, targets=targets, outputs=outputs)
        self._grads_done = False
        self._stashed_loss = None
        self._stale = True

    @_never_raises
    def on_validation_epoch_end(self, **metrics: float) -> None:
        self.observe(**metrics)

    @_never_raises
    def on_train_epoch_end(self) -> None:
        if self._explicit_epochs and not self._epoch_closed:
            self._end_epoch()
            self._maybe_diagnose()

    @_never_raises
    def on_train_end(self) -> None:
        self._write_epoch()
        self.flush(diagnose_now=True)

    # ------------------------------------------------------------------ internals
    def _has_epoch_steps(self) -> bool:
        return any(r.get("epoch") == self._epoch for r in self.vitals.records[-self.interval * 4:]) \
            or self.recorder._n > 0

    def _end_epoch(self) -> None:
        """Close the current epoch: flush, compute train loss/accuracy, append the epoch row."""
        self.flush(diagnose_now=False)
        recs = [r for r in self.vitals.records if r.get("epoch") == self._epoch]
        ls = [r["loss"] for r in recs if finite(r.get("loss"))]
        row: dict[str, Any] = {"epoch": self._epoch}
        if ls:
            row["train_loss"] = sum(ls) / len(ls)
        elif any(isinstance(r.get("loss"), str) for r in recs):
            row["train_loss"] = float("nan")
        cnt = sum(r.get("train_count") or 0 for r in recs)
        if cnt:
            row["train_accuracy"] = sum(r.get("train_correct") or 0 for r in recs) / cnt
        row.update(self._pending_metrics)
        self._pending_metrics = {}
        self.vitals.epochs.append(row)
        self._unwritten_epoch = row
        self._epoch_closed = True
        self._stale = True

    def _write_epoch(self) -> None:
        if self._unwritten_epoch is not None and self.files is not None:
            self.files.metrics(self._unwritten_epoch)
        self._unwritten_epoch = None

    def flush(self, diagnose_now: bool | None = None) -> None:
        """Copy the device buffers to the host; run the rules when asked or within budget.

        Args:
            diagnose_now: ``True`` always runs the rules, ``False`` never, ``None`` (default)
                when the time budget allows or a non-finite value just appeared.
        """
        records = self.recorder.flush()
        if self.files is not None:
            self.files.vitals(records)
        bad = any(isinstance(r.get("loss"), str) or isinstance(r.get("grad_norm"), str) for r in records)
        if self.treat and records:
            self._treat(bad, records)
        if diagnose_now or (diagnose_now is None and (bad or self._budget_ok())):
            self._run_rules()

    @_never_raises
    def _auto_flush(self) -> None:
        self.flush()

    def _budget_ok(self) -> bool:
        return (time.perf_counter() - self._last_diag_end) * self.diagnose_budget >= self._last_diag_cost

    def _maybe_diagnose(self) -> None:
        if self._budget_ok():
            self._run_rules()

    def _run_rules(self) -> None:
        t = time.perf_counter()
        self.recorder.measure_weights()
        found = fit_rate_remedies(attach_remedies(diagnose(self.vitals, thresholds=self.thresholds)),
                                  self.optimizer)
        if self.prescribe is not None:
            try:
                self.prescribe(found)
            except Exception as exc:  # an extra on the remedies never breaks training
                log.warning("torchdoctor: prescribe failed (%s: %s)", type(exc).__name__, exc)
        for f in found:
            if f.code == "nonfinite" and self.treatments:
                f.evidence["treatments"] = list(self.treatments)
        found = explain(found)
        old = {f.key: f.severity for f in self._findings}
        fresh = [f for f in found if f.key not in old or SEVERITY_RANK[f.severity] > SEVERITY_RANK[old[f.key]]]
        found, resolved = carry_resolved(self._findings, found, self.recorder.step)
        fresh += resolved
        self._findings = found
        self._stale = False
        if self.files is not None:
            self.files.findings([f.to_dict() for f in found])
        if self.console:
            for f in fresh:
                if f.severity != "info" or f.evidence.get("resolved"):
                    self._announce(f)
        end = time.perf_counter()
        self._last_diag_cost, self._last_diag_end = end - t, end

    def _announce(self, f: Finding) -> None:
        try:
            from rich.console import Console

            from torchdoctor.report import format_finding_line

            Console(stderr=True, highlight=False).print(format_finding_line(f))
        except Exception:  # the console line is a courtesy, never a failure
            log.info("torchdoctor: %s %s %s", f.severity, f.code, f.message)

    def _treat(self, bad: bool, records: list[dict[str, Any]]) -> None:
        """Live treatment of ``nonfinite``: restore the last finite state, halve the rate."""
        params_ok = all(torch.isfinite(p).all() for p in self.model.parameters())
        if not bad and params_ok:
            opt_state = copy.deepcopy(self.optimizer.state_dict()) if self.optimizer is not None else None
            self._safe = (copy.deepcopy(self.model.state_dict()), opt_state)
            return
        if self._safe is None:
            return
        lrs = [g["lr"] for g in self.optimizer.param_groups] if self.optimizer is not None else []
        self.model.load_state_dict(self._safe[0])
        if self.optimizer is not None and self._safe[1] is not None:
            self.optimizer.load_state_dict(self._safe[1])
            for g, lr in zip(self.optimizer.param_groups, lrs, strict=True):
                g["lr"] = lr * 0.5
        for p in self.model.parameters():
            p.grad = None
        step = next((r["step"] for r in records if isinstance(r.get("loss"), str)), records[-1]["step"])
        self.treatments.append({"step": step, "action": "rollback+halve_lr",
                                "lr": [g["lr"] for g in self.optimizer.param_groups] if self.optimizer else []})
        log.warning("torchdoctor: non-finite values at step %s: restored the last finite state "
                    "and halved the learning rate", step)

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue diagnosing after a resume."""
        self.flush(diagnose_now=False)
        return {"version": 1, "step": self.recorder.step, "epoch": self._epoch,
                "explicit_epochs": self._explicit_epochs, "epoch_closed": self._epoch_closed,
                "vitals": copy.deepcopy(self.vitals.state_dict()),
                "findings": [f.to_dict() for f in self._findings],
                "treatments": list(self.treatments), "pending_metrics": dict(self._pending_metrics)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (layers must match the model's)."""
        if not isinstance(state, dict) or state.get("version") != 1:
            raise ValueError(f"state must be a Doctor.state_dict() of version 1, got {type(state).__name__}")
        v = Vitals.from_state_dict(state["vitals"])
        if list(v.layers) != list(self.vitals.layers):
            raise ValueError("state must come from a Doctor on the same model: layer names differ")
        self.recorder.flush()
        self.recorder.vitals = v
        self.recorder.step = int(state["step"])
        self._epoch = int(state["epoch"])
        self.recorder.epoch = self._epoch
        self._explicit_epochs = bool(state.get("explicit_epochs", False))
        self._epoch_closed = bool(state.get("epoch_closed", False))
        self._findings = [Finding.from_dict(d) for d in state.get("findings", [])]
        self.treatments = list(state.get("treatments", []))
        self._pending_metrics = dict(state.get("pending_metrics", {}))
        self._stale = True
