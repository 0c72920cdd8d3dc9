"""The :class:`Doctor`: attach to any training loop, read findings with evidence and cures."""

from __future__ import annotations

import copy
import functools
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from torchdoctor.catalogue import Thresholds, thresholds_from
from torchdoctor.doctor._explained import explain
from torchdoctor.doctor._history import carry_resolved
from torchdoctor.doctor._sinks import ConsoleSink, RunDirSink, Sink
from torchdoctor.doctor._treat import LiveTreatment
from torchdoctor.doctor.remedies import attach_remedies, fit_rate_remedies
from torchdoctor.doctor.symptoms import diagnose
from torchdoctor.doctor.vitals import (
    RankReducer,
    Recorder,
    Vitals,
    default_schedule,
    finite,
    rank_world,
    stepped_ids,
)
from torchdoctor.findings import SEVERITY_RANK, Finding

__all__ = ["FLUSH_SECONDS", "FREE_STEPS", "INTERVAL", "SAMPLE_BUDGET", "SAMPLE_EVERY", "Doctor"]

#: Default steps between two flushes of the device buffer to the host.
INTERVAL = 50
#: With ``interval`` left unset, a flush of a model whose steps are shorter than
#: ``FLUSH_SECONDS / INTERVAL`` (1 ms) waits for this much training time, up to 8 x
#: ``INTERVAL`` steps (seconds): a flush costs ~50-150 us (benchmarks/bench_overhead.py), ~1 % of
#: 50 steps of 0.15 ms, ~0.3 % of 400 of them.
FLUSH_SECONDS = 0.05

#: Default stride of the sampled steps (after the first 5).
SAMPLE_EVERY = 25
#: Default share of training time the sampled steps may take: keeps the doctor's cost per
#: step near 1.05x even on models whose step is ~0.1 ms (benchmarks/bench_overhead.py).
SAMPLE_BUDGET = 0.01
#: Steps sampled exactly by the schedule before the budget applies.
FREE_STEPS = 250

log = logging.getLogger("torchdoctor")

_F = TypeVar("_F", bound=Callable[..., Any])


def _never_raises(fn: _F) -> _F:
    """Event methods never break training: an exception is logged once per method, then ignored."""

    @functools.wraps(fn)
    def wrapped(self: Doctor, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:
            self._failure(fn.__name__, exc)
            return None

    return wrapped  # type: ignore[return-value]


class Doctor:
    """Watches a training run: records vital signs, recognises symptoms, prescribes remedies.

    Usage::

        doctor = td.Doctor(model, optimizer)
        ...  loss.backward(); doctor.step(loss, inputs=x, targets=y, outputs=out); optimizer.step()
        doctor.observe(val_loss=vl, val_accuracy=va)      # once per epoch
        doctor.findings; doctor.report("report.html"); doctor.close()

    The Doctor never ends the training loop: a value it cannot use (a loss that is not a
    scalar, a metric that is not a number, a file it cannot write, a probe or rule that fails)
    is named once in a warning of the ``torchdoctor`` logger, and training goes on. Only bad
    constructor arguments raise.

    Args:
        model: the module being trained. Hooks are registered on it (removed by :meth:`close`);
            it is never modified, except by a live treatment when ``treat=True``.
        optimizer: its optimizer (step hooks give update ratios and the zero_grad check);
            optional. One that updates none of the model's parameters is named in a warning
            and those checks are off.
        interval: steps between two flushes of the device buffer to the host (>= 1). Left
            unset: every :data:`INTERVAL` steps, or up to 8 times as many for a model whose
            steps are shorter than 1 ms (a flush every :data:`FLUSH_SECONDS` of training
            at least), except under DDP.
        sample_every: full statistics (activations, gradient/parameter/update norms, inputs,
            outputs, targets, the stale-gradient check) on the first 5 steps and one step in
            ``sample_every`` after; ``1`` samples every step. Ignored when ``schedule`` is given.
            Left unset: one step in :data:`SAMPLE_EVERY`, fewer when ``sample_budget`` says so.
        schedule: ``step -> bool`` choosing the sampled steps.
        sample_budget: largest share of training time the sampled steps may take after the
            first :data:`FREE_STEPS` steps (sampled as ``sample_every`` says: most setup bugs
            show there); after them a model whose step is so short that the probes would cost
            more is sampled less often (at least one step in 1000). Default:
            :data:`SAMPLE_BUDGET` when neither ``sample_every`` nor ``schedule`` is given,
            else ``None`` (exactly the steps asked for).
        log_dir: run directory for ``vitals.jsonl``, ``findings.json`` and ``metrics.jsonl``
            (adds a :class:`~torchdoctor.doctor.RunDirSink`).
        write_metrics: with ``log_dir``, write ``metrics.jsonl`` from :meth:`observe` (turn off
            when a trainer writes it).
        treat: live treatment of safe cures: on ``nonfinite`` restore the last finite state of
            model and optimizer and halve the learning rate (adds a
            :class:`~torchdoctor.doctor.LiveTreatment`).
        console: print a rich line when a new finding appears (adds a
            :class:`~torchdoctor.doctor.ConsoleSink`).
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
        sinks: more receivers of records, epoch rows and findings
            (:class:`~torchdoctor.doctor.Sink` subclasses).
        output_key: the prediction inside a container output (dict key, attribute, index, or a
            callable ``outputs -> Tensor``); by default the entry named ``logits`` (or a
            similar name), else the first floating tensor. Tuple/dict inputs and targets are
            read the same way; what is used and skipped is logged once
            (``doctor.vitals.loop["io"]``).
        tensorboard: a log directory or a ``torch.utils.tensorboard.SummaryWriter``: loss,
            per-layer gradient and update norms, epoch metrics and the findings as text,
            written at each flush (adds a :class:`~torchdoctor.doctor.TensorBoardSink`;
            ``docs/tensorboard.md``).

    Under ``DistributedDataParallel`` (a process group of several ranks is initialized when
    the Doctor is created) pass the wrapped model or the plain one: layers keep their own
    names (no ``module.`` prefix). Every rank records its own batches; at each flush the
    step losses, training accuracy and class counts are reduced across the ranks (no
    collective inside a step). Rank 0 alone runs the rules and has findings, writes
    (``log_dir``, ``tensorboard``, the report), prints and feeds ``sinks``; the other ranks
    only record. Every rank must create, step, ``observe`` and ``close`` its Doctor alike
    (``docs/distributed.md``). ``treat`` is off under DDP (a cure on one rank would split the
    replicas).

    Raises:
        ValueError: a bad argument (the message names it).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, *,
                 interval: int | None = None, sample_every: int | None = None,
                 schedule: Callable[[int], bool] | None = None,
                 log_dir: str | os.PathLike[str] | None = None, write_metrics: bool = True,
                 treat: bool = False, console: bool = True, loss_fn: Any = None,
                 max_records: int = 4000, diagnose_budget: float = 0.005,
                 title: str = "torchdoctor run",
                 thresholds: Thresholds | dict[str, float] | None = None,
                 prescribe: Callable[[list[Finding]], Any] | None = None,
                 sinks: Sequence[Sink] | None = None,
                 sample_budget: float | None = None,
                 output_key: Any = None, tensorboard: Any = None) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
        budgeted = sample_every is None and schedule is None
        sample_every = SAMPLE_EVERY if sample_every is None else sample_every
        flush_seconds = FLUSH_SECONDS if interval is None else None
        interval = INTERVAL if interval is None else interval
        for name, val, lo in (("interval", interval, 1), ("sample_every", sample_every, 1),
                              ("max_records", max_records, 100)):
            if not isinstance(val, int) or isinstance(val, bool) or val < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {val!r}")
        if schedule is not None and not callable(schedule):
            raise ValueError(f"schedule must be a callable step -> bool, got {schedule!r}")
        for name, val in (("diagnose_budget", diagnose_budget), ("sample_budget", sample_budget)):
            if val is None and name == "sample_budget":
                continue
            if not isinstance(val, (int, float)) or isinstance(val, bool) or not 0 < val <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {val!r}")
        if prescribe is not None and not callable(prescribe):
            raise ValueError(f"prescribe must be a callable findings -> None, got {prescribe!r}")
        self.thresholds = thresholds_from(thresholds)
        self.prescribe = prescribe
        if sample_budget is None and budgeted:
            sample_budget = SAMPLE_BUDGET
        sinks = list(sinks) if sinks is not None else []
        bad = [s for s in sinks if not isinstance(s, Sink)]
        if bad:
            raise ValueError(f"sinks must be torchdoctor.doctor.Sink instances, got {type(bad[0]).__name__}")
        if log_dir is not None and not isinstance(log_dir, (str, os.PathLike)):
            raise ValueError(f"log_dir must be a path or None, got {type(log_dir).__name__}")
        from torch.nn.parallel import DistributedDataParallel

        # the probes go on the module DDP wraps: layer names without "module."
        watched = model.module if isinstance(model, DistributedDataParallel) else model
        ranks = rank_world()
        #: ``(rank, world_size)`` in a data-parallel run, else ``None``
        self.ranks = ranks
        self.main = ranks is None or ranks[0] == 0
        tb_sink = None
        if tensorboard is not None:  # checked on every rank: all raise, or none
            from torchdoctor.doctor._tensorboard import TensorBoardSink, check_target

            check_target(tensorboard)
            tb_sink = TensorBoardSink(tensorboard) if self.main else None
        self.model, self.optimizer = model, optimizer
        self.interval, self.sample_every = interval, sample_every
        self.treat, self.console, self.title = bool(treat), bool(console), title
        self.diagnose_budget = diagnose_budget
        self._failed_events: set[str] = set()
        self.recorder = Recorder(watched, optimizer, interval=interval,
                                 schedule=schedule or default_schedule(sample_every),
                                 on_full=self._auto_flush, max_records=max_records,
                                 budget=sample_budget, first_free=FREE_STEPS,
                                 output_key=output_key, flush_seconds=flush_seconds)
        self.recorder.epoch = 0
        if ranks is not None:
            self.vitals.loop["world_size"] = ranks[1]
            self.recorder.reducer = RankReducer(ranks[1], self.recorder.device,
                                                self.recorder.warn_once)
            if treat:
                self.recorder.warn_once("treat", "treat=True is off under DDP: a cure applied by "
                                        "rank 0 alone would make the replicas differ")
                treat = self.treat = False
        if loss_fn is not None:
            self.vitals.loop["loss_name"] = getattr(type(loss_fn), "__name__", None) \
                if isinstance(loss_fn, nn.Module) else getattr(loss_fn, "__name__", None)
        self._check_optimizer()
        self._treatment = LiveTreatment(model, optimizer) if treat else None
        if self._treatment is not None:
            sinks.insert(0, self._treatment)
        if not self.main:  # rank 0 alone writes and prints: nothing opened here
            sinks = []
        if log_dir is not None and self.main:
            sinks.append(RunDirSink(log_dir, write_metrics=write_metrics))
        if console and self.main:
            sinks.append(ConsoleSink())
        if tb_sink is not None:
            sinks.append(tb_sink)
        self.sinks: list[Sink] = sinks
        self._findings: list[Finding] = []
        self._stale = False  # new data since the rules ran (besides new steps)
        self._ruled_step = 0  # recorder.step when the rules last ran
        self._closed = False
        self._t0 = time.perf_counter()
        self._last_diag_end = self._t0
        self._last_diag_step = 0
        self._last_diag_cost = 0.0
        self._last_diag_records = 1
        self._explicit_epochs = False
        self._epoch = 0
        self._epoch_closed = False
        self._pending_metrics: dict[str, float] = {}
        self._unwritten_epoch: dict[str, Any] | None = None
        self._stashed_loss: torch.Tensor | None = None
        self._grads_done = False

    def _check_optimizer(self) -> None:
        """Say once when the optimizer updates none of the model's trainable parameters."""
        if self.optimizer is None:
            return
        mine = {id(p) for p in self.model.parameters() if p.requires_grad}
        stepped = stepped_ids(self.optimizer)
        if mine and not mine & stepped:
            self.recorder.warn_once(
                "optimizer", f"the optimizer ({type(self.optimizer).__name__}) updates none of "
                "the model's parameters: update ratios and the zero_grad check are off (pass "
                "the optimizer built on this model's parameters)")

    def _failure(self, where: str, exc: BaseException) -> None:
        """An internal failure: said once per place, then ignored (training goes on)."""
        if where not in self._failed_events:
            self._failed_events.add(where)
            log.warning("torchdoctor: %s failed (%s: %s); training continues",
                        where, type(exc).__name__, exc)

    # ------------------------------------------------------------------ properties
    @property
    def vitals(self) -> Vitals:
        """The recorded timeline (host side)."""
        return self.recorder.vitals

    @property
    def findings(self) -> list[Finding]:
        """Current findings, most severe first (the rules run again if new data arrived)."""
        if (self._stale or self.recorder.step != self._ruled_step) and not self._closed:
            try:
                self._flush(True, sync=False)
            except Exception as exc:
                self._failure("findings", exc)
        return list(self._findings)

    @property
    def step_count(self) -> int:
        """Training steps recorded so far."""
        return self.recorder.step

    @property
    def treatments(self) -> list[dict[str, Any]]:
        """Live treatments applied (``treat=True``): ``step``, ``action``, ``lr``."""
        return self._treatment.treatments if self._treatment is not None else []

    # ------------------------------------------------------------------ user API
    def step(self, loss: torch.Tensor | float | None, *, inputs: Any = None, targets: Any = None,
             outputs: Any = None) -> None:
        """Record one training step; call after ``loss.backward()``, before ``optimizer.step()``.

        Args:
            loss: the scalar loss of the batch (a tensor of N per-sample losses is recorded
                as its mean, said once).
            inputs (Tensor[N, ...]): the batch fed to the model (optional); a tuple, list, dict
                or dataclass of tensors too (its first floating tensor is used).
            targets (Tensor[N], Tensor[N, T] or Tensor[N, C]): its targets (optional): class
                ids, per-position class ids, 0/1 (single logit), multi-hot, soft or real values.
            outputs (Tensor[N, C], Tensor[N, T, C], Tensor[N] ...): the model's outputs
                (optional), or a container holding them (``output_key`` picks the entry;
                ``docs/loops.md`` gives the rule).
        """
        rec = self.recorder  # the hot path: no wrapper, one short call on unsampled steps
        if rec.sampling:
            try:
                rec.record_grads()
            except Exception as exc:
                self._failure("on_after_backward", exc)
        try:
            rec.end_step(loss, inputs, targets, outputs)
        except Exception as exc:
            self._failure("step", exc)

    @_never_raises
    def observe(self, **metrics: Any) -> None:
        """Hand over epoch-level metrics (``val_loss``, ``val_accuracy``, ``train_loss``, ...).

        Without Lightning-style epoch events, each call ends an epoch. A value that is not a
        real number (``None``, a string) is skipped; NaN and Inf are kept (they are what
        happened); each is named once in a warning.
        """
        clean: dict[str, float] = {}
        for k, val in metrics.items():
            if isinstance(val, torch.Tensor) and val.numel() == 1:
                val = val.item()
            if not isinstance(val, (int, float)) or isinstance(val, bool):
                self.recorder.warn_once(f"metric:{k}", f"observe: {k} must be a real number, got "
                                        f"{type(val).__name__} {str(val)[:40]!r}; it is ignored")
                continue
            if not math.isfinite(val):
                self.recorder.warn_once(f"metric_nonfinite:{k}", f"observe: {k} is {val}")
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
        try:
            self._flush(True, sync=False)
        except Exception as exc:
            self._failure("diagnose", exc)
        return list(self._findings)

    def report(self, path: str | os.PathLike[str], *, config: dict[str, Any] | None = None) -> Path:
        """Write the HTML report (``torchdoctor.report.write_html_report``); returns its path.
        Under DDP only rank 0 writes it (the other ranks return the path, nothing written).

        Raises:
            ValueError: ``path`` is not a path, or names a directory.
            OSError: the file cannot be written (the message names it); nothing is left behind.
        """
        from torchdoctor.report import write_html_report

        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"report path must be a str or os.PathLike, got {type(path).__name__}")
        out = Path(path)
        if out.is_dir():
            raise ValueError(f"report path must name a file, got the directory {str(out)[:200]!r}")
        if not self.main:
            return out
        findings = self.findings
        try:
            return write_html_report(
                out, title=self.title, config=config, metrics=list(self.vitals.epochs),
                vitals=list(self.vitals.records), findings=[f.to_dict() for f in findings],
                summary=self.summary())
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write the report to {str(out)[:200]!r}: "
                          f"{exc.strerror or exc}") from exc

    def summary(self) -> dict[str, Any]:
        """Key facts of the run for the report."""
        n_params = sum(p.numel() for p in self.model.parameters())
        return {"steps": self.recorder.step, "epochs": len(self.vitals.epochs),
                "duration_s": round(time.perf_counter() - self._t0, 3),
                "device": str(self.recorder.device), "parameters": n_params,
                "interval": self.interval, "sample_every": self.sample_every,
                "findings": len(self._findings), "treatments": len(self.treatments),
                **({"processes": self.ranks[1]} if self.ranks is not None else {}),
                **{f"{role} read": said for role, said in (self.vitals.loop.get("io") or {}).items()}}

    def close(self) -> None:
        """Final flush and diagnosis, sinks closed, every hook removed. Idempotent; never raises."""
        if self._closed:
            return
        try:
            if self._explicit_epochs and not self._epoch_closed and self._has_epoch_steps():
                self._end_epoch()
            self._write_epoch()
            self._flush(True, sync=True)
        except Exception as exc:
            self._failure("close", exc)
        finally:
            self.recorder.remove()
            for s in self.sinks:
                self._emit_one(s, "close")
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
        self._flush(True, sync=True)

    # ------------------------------------------------------------------ internals
    def _emit(self, method: str, *args: Any) -> None:
        for s in self.sinks:
            self._emit_one(s, method, *args)

    def _emit_one(self, sink: Sink, method: str, *args: Any) -> None:
        try:
            getattr(sink, method)(*args)
        except Exception as exc:  # a full disk, a closed console: said once, training goes on
            self._failure(f"{type(sink).__name__}.{method}", exc)

    def _has_epoch_steps(self) -> bool:
        return any(r.get("epoch") == self._epoch for r in self.vitals.records[-self.interval * 4:]) \
            or self.recorder.pending_steps > 0

    def _end_epoch(self) -> None:
        """Close the current epoch: flush, compute train loss/accuracy, append the epoch row."""
        self._flush(False, sync=True)
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
        if self._unwritten_epoch is not None:
            self._emit("on_epoch", self._unwritten_epoch)
        self._unwritten_epoch = None

    def flush(self, diagnose_now: bool | None = None) -> None:
        """Copy the device buffer to the host, hand the records to the sinks, run the rules
        when asked or within budget.

        Under DDP the records are copied only at the flushes every rank reaches together
        (every ``interval`` steps, each epoch end, :meth:`close`); a call here only runs the
        rules, on rank 0.

        Args:
            diagnose_now: ``True`` always runs the rules, ``False`` never, ``None`` (default)
                when the time budget allows or a non-finite value just appeared.
        """
        self._flush(diagnose_now, sync=False)

    def _flush(self, diagnose_now: bool | None, *, sync: bool) -> None:
        """:meth:`flush`; ``sync``: a flush every rank reaches at the same step (DDP)."""
        bad = False
        if sync or self.ranks is None:
            records = self.recorder.flush()
            if records:
                self._emit("on_records", records)
            bad = self.recorder.flushed_nonfinite
        if not self.main:
            return
        if diagnose_now or (diagnose_now is None and (bad or self._budget_ok())):
            self._run_rules()

    @_never_raises
    def _auto_flush(self) -> None:
        self._flush(None, sync=True)

    def _budget_ok(self) -> bool:
        """Whether running the rules now keeps them within ``diagnose_budget`` of the training
        time since their last run (steps times a step's duration; wall time before that is
        known, which also counts pauses)."""
        step_s = self.recorder.step_seconds
        if step_s is not None:
            elapsed = (self.recorder.step - self._last_diag_step) * step_s
        else:
            elapsed = time.perf_counter() - self._last_diag_end
        # the rules' cost grows with the records held: scale the last run's cost to now
        grown = max(1.0, len(self.vitals.records) / self._last_diag_records)
        return elapsed * self.diagnose_budget >= self._last_diag_cost * grown

    def _maybe_diagnose(self) -> None:
        if self.main and self._budget_ok():
            self._run_rules()

    def _run_rules(self) -> None:
        t = time.perf_counter()
        try:
            self.recorder.measure_weights()
            found = fit_rate_remedies(
                attach_remedies(diagnose(self.vitals, thresholds=self.thresholds)), self.optimizer)
        except Exception as exc:  # keep the last findings; training goes on
            self._failure("diagnosis", exc)
            self._stale = False
            self._ruled_step = self.recorder.step
            return
        if self.prescribe is not None:
            try:
                self.prescribe(found)
            except Exception as exc:  # an extra on the remedies never breaks training
                self._failure("prescribe", exc)
        if self.treatments:
            for f in found:
                if f.code == "nonfinite":
                    f.evidence["treatments"] = list(self.treatments)
        found = explain(found)
        old = {f.key: f.severity for f in self._findings}
        fresh = [f for f in found if f.key not in old or SEVERITY_RANK[f.severity] > SEVERITY_RANK[old[f.key]]]
        found, resolved = carry_resolved(self._findings, found, self.recorder.step)
        fresh += resolved
        self._findings = found
        self._stale = False
        self._ruled_step = self.recorder.step
        self._emit("on_findings", list(found), fresh)
        end = time.perf_counter()
        self._last_diag_cost, self._last_diag_end = end - t, end
        self._last_diag_step = self.recorder.step
        self._last_diag_records = max(1, len(self.vitals.records))

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue diagnosing after a resume."""
        self._flush(False, sync=False)
        return {"version": 1, "step": self.recorder.step, "epoch": self._epoch,
                "explicit_epochs": self._explicit_epochs, "epoch_closed": self._epoch_closed,
                "vitals": copy.deepcopy(self.vitals.state_dict()),
                "findings": [f.to_dict() for f in self._findings],
                "treatments": list(self.treatments), "pending_metrics": dict(self._pending_metrics)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (layers must match the model's).

        Raises:
            ValueError: ``state`` is not a Doctor state of this version, or comes from another
                model.
        """
        if not isinstance(state, dict) or state.get("version") != 1:
            raise ValueError(f"state must be a Doctor.state_dict() of version 1, got {type(state).__name__}")
        v = Vitals.from_state_dict(state["vitals"])
        if list(v.layers) != list(self.vitals.layers):
            raise ValueError("state must come from a Doctor on the same model: layer names differ")
        self.recorder.restore(v, int(state["step"]))
        self._epoch = int(state["epoch"])
        self.recorder.epoch = self._epoch
        self._explicit_epochs = bool(state.get("explicit_epochs", False))
        self._epoch_closed = bool(state.get("epoch_closed", False))
        self._findings = [Finding.from_dict(d) for d in state.get("findings", [])]
        if self._treatment is not None:
            self._treatment.treatments[:] = list(state.get("treatments", []))
        self._pending_metrics = dict(state.get("pending_metrics", {}))
        self._stale = True
