"""The config-driven training loop.

One epoch: reshuffle (seeded by seed and epoch, so a resumed run replays exactly), batches of
``train.batch_size`` (``gd``: the whole training set, one step), forward, loss (+ L1),
``zero_grad`` (unless the ``zero_grad: false`` bug is switched on), backward, clipping, step;
then validation under ``no_grad`` with ``model.eval()`` (unless the ``eval_mode: false`` bug is
on), one ``metrics.jsonl`` line and an atomic checkpoint.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the model trains in ``DistributedDataParallel``:
``train.batch_size`` stays the global batch, each rank takes the slice ``rank::world_size``
of every batch of the epoch's permutation, the gradient is that of the global batch's mean
loss, the epoch's train metrics are summed over the ranks, and rank 0 alone writes the run
directory (``docs/distributed.md``).

Callbacks (:class:`~torchdoctor.train.callbacks.Callback` subclasses, or any object with
some of its hooks) receive Lightning-named events with keyword arguments; see
:mod:`torchdoctor.train.callbacks` for the hooks and their arguments. A callback's
``state_dict`` is checkpointed under its ``state_key``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from torchdoctor import rundir
from torchdoctor.data import DataBundle
from torchdoctor.train import _distributed as D
from torchdoctor.train import _layers as L
from torchdoctor.train.callbacks import (
    HOOKS,
    callback_states,
    check_callback,
    hook_methods,
    load_callback_states,
)
from torchdoctor.train.config import Config, dump_config, first_difference
from torchdoctor.train.losses import make_loss
from torchdoctor.train.metrics import evaluate
from torchdoctor.train.models import build_model

__all__ = ["EVENTS", "TrainResult", "Trainer"]

#: The hooks the trainer fires (the same tuple as :data:`torchdoctor.train.callbacks.HOOKS`).
EVENTS = HOOKS


#: Most parameters a config may build (400 MB of float32 weights, more with optimizer state).
MAX_PARAMETERS = 100_000_000


def _check_model_size(cfg: Config, d: DataBundle) -> None:
    """Refuse a model beyond :data:`MAX_PARAMETERS`, counted on the meta device (no memory)."""
    m = cfg.model
    try:
        with torch.device("meta"):
            n = sum(p.numel() for p in build_model(m, d.input_shape, d.num_outputs,
                                                   kind=d.kind).parameters())
    except Exception:  # noqa: BLE001 - only a pre-check: the real build names any problem
        return
    if n > MAX_PARAMETERS:
        raise ValueError(
            f"model.width = {m.width}, model.depth = {m.depth} ({m.arch}): {n:.3g} parameters on "
            f"inputs of shape {d.input_shape}; allowed up to {MAX_PARAMETERS:.0e} (lower the "
            "width or depth)")


def _check_batchnorm_batches(cfg: Config, n: int, world_size: int = 1) -> None:
    """BatchNorm over (N, C) features needs at least 2 samples in every training batch (in
    every process's share of it when ``world_size`` processes train together)."""
    m, t = cfg.model, cfg.train
    if m.arch != "mlp" or m.norm != "batch":
        return
    bs = n if t.optimizer == "gd" else min(t.batch_size, n)
    smallest = bs if n % bs == 0 else n % bs
    if world_size > 1 and smallest // world_size < 2:
        raise ValueError(f"model.norm = {m.norm}: batch statistics need at least 2 samples per "
                         f"batch in each of the {world_size} processes, but train.batch_size = "
                         f"{t.batch_size} over {n} training samples leaves a batch of {smallest}; "
                         "choose a larger batch size or model.norm = layer")
    if smallest < 2:
        what = (f"train.batch_size = {t.batch_size}" if bs == 1 else
                f"train.batch_size = {t.batch_size} leaves a last batch of 1 of the {n} training samples")
        raise ValueError(f"model.norm = {m.norm}: batch statistics need at least 2 samples per "
                         f"batch, but {what}; choose another batch size or model.norm = layer")


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    metrics: dict[str, float]
    history: list[dict[str, Any]]
    run_dir: Path | None
    epochs_run: int
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def epoch_seed(seed: int, epoch: int) -> int:
    """The RNG seed of one epoch: shuffling and dropout replay exactly after a resume."""
    return (seed * 1_000_003 + epoch * 7919 + 1) % (2**63 - 1)


class Trainer:
    """Train the model a :class:`Config` describes.

    Args:
        cfg: the validated config.
        out_dir: run directory; ``None`` keeps everything in memory (no files). A directory
            that already holds a run is refused by :meth:`fit` unless ``overwrite=True`` or the
            trainer comes from :meth:`resume`.
        callbacks: :class:`~torchdoctor.train.callbacks.Callback` objects (or any object
            with some of its hooks; an unknown ``on_...`` method is refused).
        data: a prepared :class:`DataBundle`. Default: :func:`~torchdoctor.train.targets.prepare_inputs`,
            which also draws the ``target:`` sample and the ``train.reweight`` weights.
        sample_weights: per-training-sample weights (N,), e.g. from ``train.reweight``.
        eval_sets: extra ``{name: (x, y)}`` sets evaluated each epoch (``name_loss``, ...).
        progress: show a rich progress bar with the live metrics.

    Under ``torchrun`` the process group is joined here (:attr:`dist`); on ranks other than 0
    ``out_dir`` and ``progress`` are ignored (rank 0 alone writes and prints).
    """

    def __init__(self, cfg: Config, *, out_dir: str | os.PathLike[str] | None = None,
                 callbacks: Sequence[Any] = (), data: DataBundle | None = None,
                 sample_weights: torch.Tensor | None = None,
                 eval_sets: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
                 progress: bool = False) -> None:
        self.cfg = cfg
        #: this process's place in a data-parallel run (``None``: one process)
        self.dist = D.setup()
        main = self.dist is None or self.dist.main
        self.out_dir = Path(out_dir) if out_dir is not None and main else None
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            check_callback(cb)
        self.progress = progress and main
        torch.manual_seed(cfg.seed)
        if data is None:
            from torchdoctor.train.targets import prepare_inputs

            inputs = prepare_inputs(cfg)
            data = inputs.data
            sample_weights = inputs.sample_weights if sample_weights is None else sample_weights
            eval_sets = {**inputs.eval_sets, **(eval_sets or {})}
        self.data = data
        self.eval_sets = dict(eval_sets or {})
        d = self.data
        if cfg.train.task != d.task:
            raise ValueError(
                f"train.task = {cfg.train.task}: dataset {d.name} is a {d.task} dataset"
            )
        _check_model_size(cfg, d)
        _check_batchnorm_batches(cfg, len(d.x_train), self.dist.world_size if self.dist else 1)
        self.model: nn.Module = build_model(cfg.model, d.input_shape, d.num_outputs, kind=d.kind)
        #: the model in ``DistributedDataParallel`` under torchrun (the forward of a training
        #: step); :attr:`model` stays the plain module (checkpoints, evaluation, the Doctor)
        #: (wrapped when :meth:`fit` starts: nothing before it waits for the other ranks)
        self.ddp_model: nn.Module | None = None
        t = cfg.train
        self.optimizer = L.optimizer(t.optimizer, self.model.parameters(), t.lr, t.momentum, t.weight_decay)
        self.loss_fn = make_loss(t.loss, task=d.task, num_classes=d.num_classes,
                                 label_smoothing=t.label_smoothing)
        self._eval_loss = make_loss(t.loss, task=d.task, num_classes=d.num_classes)
        if sample_weights is not None and len(sample_weights) != len(d.x_train):
            raise ValueError(
                f"sample_weights has {len(sample_weights)} entries, training set has {len(d.x_train)}"
            )
        self.sample_weights = sample_weights
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # epochs completed
        self.step = 0  # optimizer steps taken
        self.should_stop = False
        self._l1_params = [p for p in self.model.parameters() if p.dim() > 1]
        #: the checkpoint this trainer was restored from (``None``: a fresh run)
        self.resumed_state: dict[str, Any] | None = None
        self._resuming = False
        self._dir_ready = False
        self._fingerprint: dict[str, Any] | None = None

    # ------------------------------------------------------------------ events
    def _hooks(self, event: str) -> list[Any]:
        return hook_methods(self.callbacks, event)

    # ------------------------------------------------------------------ resume
    def fingerprint(self) -> dict[str, Any]:
        """What a resume must find unchanged: the resolved config and a digest of the data."""
        return {"config": self.cfg.to_dict(), "data": self.data.digest()}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: model, optimizer, counters, history, callbacks,
        and the :meth:`fingerprint` of config and data."""
        cbs = callback_states(self.callbacks)
        if self._fingerprint is None:
            self._fingerprint = self.fingerprint()
        return {"version": 1, "epoch": self.epoch, "step": self.step,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "history": rundir.jsonable(self.history), "callbacks": cbs,
                "fingerprint": self._fingerprint}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; a state from another model raises ValueError (one line)."""
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError("checkpoint does not match this model and optimizer "
                             f"({rundir.show(first, 120)})") from None
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.history = list(state.get("history", []))
        self.resumed_state = state
        self.load_callback_states(state)

    def load_callback_states(self, state: dict[str, Any]) -> None:
        """Hand each callback its part of a checkpoint (e.g. after attaching the Doctor)."""
        load_callback_states(self.callbacks, state.get("callbacks", {}))

    @classmethod
    def resume(cls, run_dir: str | os.PathLike[str], **kw: Any) -> Trainer:
        """Rebuild a trainer from ``run_dir`` (config.yaml + checkpoint.pt) to continue it.

        Nothing in ``run_dir`` is written here: :meth:`fit` (or :meth:`open_run_dir`) rewinds
        ``metrics.jsonl`` and ``vitals.jsonl`` to the checkpoint once every check has passed.

        Raises:
            ValueError: no run there, an unreadable config or checkpoint, or a config or data
                that differ from the checkpoint's fingerprint (the message names the first
                difference).
        """
        from torchdoctor.train.config import load_config

        run_dir = rundir.check_run_dir(run_dir)
        where = f"--resume {rundir.show(str(run_dir))}"
        cfg_path = run_dir / rundir.CONFIG_FILE
        ckpt = run_dir / rundir.CHECKPOINT_FILE
        state = rundir.load_checkpoint(ckpt) if ckpt.exists() else None
        trainer = cls(load_config(cfg_path), out_dir=run_dir, **kw)
        if state is not None:
            trainer._check_fingerprint(state.get("fingerprint"), where)
            try:
                trainer.load_state_dict(state)
            except ValueError as exc:
                raise rundir.RunDirError(f"{where}: {exc}") from None
        trainer._resuming = True
        return trainer

    def _check_fingerprint(self, saved: Any, where: str) -> None:
        if not isinstance(saved, dict):
            return  # a checkpoint from before fingerprints: the model shapes are still checked
        now = self.fingerprint()
        old_cfg = saved.get("config")
        if isinstance(old_cfg, dict) and isinstance(old_cfg.get("train"), dict):
            # more (or fewer) epochs continue the same run: the epochs done do not depend on it
            old_cfg = {**old_cfg, "train": {**old_cfg["train"], "epochs": self.cfg.train.epochs}}
        diff = first_difference(old_cfg, now["config"])
        if diff is not None:
            key, old, new = diff
            raise rundir.RunDirError(
                f"{where}: {rundir.CONFIG_FILE} differs from the config the run started with: "
                f"{key} = {rundir.show(new, 40)} (checkpoint: {rundir.show(old, 40)}); "
                "restore it or start a new run")
        if saved.get("data") != now["data"]:
            raise rundir.RunDirError(
                f"{where}: the data of {rundir.show(self.cfg.data.name, 60)} differ from the "
                "data the run started with (another file, or other values); restore them or "
                "start a new run")
        self._fingerprint = now

    # ------------------------------------------------------------------ run directory
    def open_run_dir(self, *, overwrite: bool = False) -> None:
        """Make :attr:`out_dir` ready for :meth:`fit` (called by it; idempotent).

        A fresh run refuses a directory that already holds a run unless ``overwrite`` (then
        the old run's files are removed); a resumed run rewinds ``metrics.jsonl`` to the
        checkpoint's epochs and ``vitals.jsonl`` to its step. Then ``config.yaml`` is written.

        Raises:
            ValueError: the directory holds a run, or cannot be created.
        """
        if self.out_dir is None or self._dir_ready:
            return
        d = rundir.prepare_dir(self.out_dir)
        rundir.remove_stale_temporaries(d)  # a killed writer's; we hold the lock
        if self._resuming:
            rundir.rewrite_jsonl(d / rundir.METRICS_FILE, self.history)
            rundir.rewind_jsonl(d / rundir.VITALS_FILE, self.step)
        else:
            present = rundir.check_new_run_dir(d, overwrite=overwrite)
            for name in (*present, rundir.REPORT_FILE):
                (d / name).unlink(missing_ok=True)
        dump_config(self.cfg, d / rundir.CONFIG_FILE)
        self._dir_ready = True

    # ------------------------------------------------------------------ loop
    def fit(self, *, overwrite: bool = False) -> TrainResult:
        """Train from the current epoch to ``train.epochs``; return the final metrics.

        With :attr:`out_dir`, the directory is locked for the duration (a second process gets
        ValueError) and prepared by :meth:`open_run_dir` (``overwrite`` goes there). Under
        torchrun a directory refused on rank 0 raises the same ValueError on every rank.
        """
        for cb in self.callbacks:  # the list may have grown since __init__
            check_callback(cb)
        if self.out_dir is None and self.dist is None:
            return self._fit(None)
        with contextlib.ExitStack() as stack:
            error = None
            if self.out_dir is not None:
                try:
                    stack.enter_context(rundir.run_lock(self.out_dir))
                    self.open_run_dir(overwrite=overwrite)
                except ValueError as exc:
                    if self.dist is None:
                        raise
                    error = str(exc)
            if self.dist is not None:
                D.agree(error)  # before DistributedDataParallel waits for every rank
            if self.out_dir is None:
                return self._fit(None)
            log = rundir.JsonlLog(self.out_dir / rundir.METRICS_FILE, fsync=True)
            try:
                return self._fit(log)
            finally:
                log.close()

    def _fit(self, log: rundir.JsonlLog | None) -> TrainResult:
        t = self.cfg.train
        if self.dist is not None and self.ddp_model is None:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp_model = DistributedDataParallel(self.model)
        ev = {e: self._hooks(e) for e in EVENTS}
        for h in ev["on_fit_start"]:
            h(self)
        bar = _Progress(t.epochs, self.epoch) if self.progress else None
        try:
            while self.epoch < t.epochs and not self.should_stop:
                row = self._run_epoch(ev, bar)
                self.history.append(row)
                self.epoch += 1
                if log is not None:
                    assert self.out_dir is not None
                    rundir.save_checkpoint(self.out_dir / rundir.CHECKPOINT_FILE, self.state_dict())
                    log.write(row)
                for h in ev["on_train_epoch_end"]:
                    h(self, epoch=self.epoch - 1, metrics=row)
                if self.dist is not None:  # rank 0 decides; no rank waits for one that stopped
                    self.should_stop = D.broadcast_flag(self.should_stop)
                if bar is not None:
                    bar.epoch_done(row)
        finally:
            if bar is not None:
                bar.close()
            self.ddp_model = None  # the wrapper holds the process group: only while fitting
        for h in ev["on_fit_end"]:
            h(self)
        final = {k: v for k, v in (self.history[-1] if self.history else {}).items() if k != "time_s"}
        return TrainResult(final, self.history, self.out_dir, self.epoch,
                           stopped_early=self.epoch < t.epochs)

    def batches(self, epoch: int) -> Iterator[tuple[Tensor, Tensor, Tensor | None]]:
        """The mini-batches ``(x, y, sample weights or None)`` of training epoch ``epoch``:
        reshuffled by the seed and the epoch when ``data.shuffle`` (else in dataset order),
        ``train.batch_size`` rows each, the last one shorter; ``gd``: the whole set once.
        Under torchrun: this rank's slice ``rank::world_size`` of each of them."""
        for x, y, w, _ in self._batches(epoch):
            yield x, y, w

    def _batches(self, epoch: int) -> Iterator[tuple[Tensor, Tensor, Tensor | None, int]]:
        """:meth:`batches` with the size of the global batch each one is a slice of."""
        cfg, d, t, info = self.cfg, self.data, self.cfg.train, self.dist
        n = len(d.x_train)
        if cfg.data.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch)))
        else:
            order = None  # dataset order (sorted by label)
        bs = n if t.optimizer == "gd" else t.batch_size
        x_all, y_all, w_all = d.x_train, d.y_train, self.sample_weights
        for start in range(0, n, bs):
            size = min(bs, n - start)
            if order is None and info is None:
                yield (x_all[start:start + bs], y_all[start:start + bs],
                       None if w_all is None else w_all[start:start + bs], size)
            else:
                idx = order[start:start + bs] if order is not None else torch.arange(start, start + size)
                idx = D.shard(idx, info)
                yield x_all[idx], y_all[idx], None if w_all is None else w_all[idx], size

    def train_step(self, x: Tensor, y: Tensor, w: Tensor | None, *,
                   after_backward: Sequence[Any] = (),
                   before_step: Sequence[Any] = (),
                   global_size: int | None = None) -> tuple[Tensor, Tensor]:
        """One optimizer step on a batch: forward, loss (+ L1), ``zero_grad`` (unless the
        ``zero_grad: false`` bug is on), backward, the ``after_backward`` hooks, clipping, the
        ``before_step`` hooks, step. Returns ``(loss, outputs)``: the loss without the L1 term
        (a scalar tensor) and the model's outputs (Tensor[N, K]).

        Under torchrun ``x`` is this rank's slice of a global batch of ``global_size`` rows:
        its loss is weighted by ``len(x) * world_size / global_size`` in the backward, so that
        the gradient ``DistributedDataParallel`` averages is the global batch's mean loss's
        gradient even when the slices differ in size."""
        t, opt, info = self.cfg.train, self.optimizer, self.dist
        model = self.ddp_model if self.ddp_model is not None else self.model
        out = model(x)
        loss = self.loss_fn(out, y, w)
        total = loss + t.l1 * sum(p.abs().sum() for p in self._l1_params) if t.l1 > 0 else loss
        if info is not None and global_size:
            total = total * (len(x) * info.world_size / global_size) if len(x) else out.sum() * 0.0
        if t.zero_grad:
            opt.zero_grad(set_to_none=True)
        total.backward()
        for h in after_backward:
            h(self, loss=loss, inputs=x, targets=y, outputs=out)
        if t.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        for h in before_step:
            h(self)
        opt.step()
        self.step += 1
        return loss, out

    def _run_epoch(self, ev: dict[str, list[Any]], bar: _Progress | None) -> dict[str, Any]:
        cfg, d, t = self.cfg, self.data, self.cfg.train
        model, opt = self.model, self.optimizer
        epoch = self.epoch
        t0 = time.perf_counter()
        torch.manual_seed(epoch_seed(cfg.seed, epoch))  # dropout and any other sampling
        for h in ev["on_train_epoch_start"]:
            h(self, epoch=epoch)
        n = len(d.x_train)
        classification = d.task == "classification"
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        after_backward, before_step, batch_end = (
            ev["on_after_backward"], ev["on_before_optimizer_step"], ev["on_train_batch_end"])
        model.train()
        for x, y, w, size in self._batches(epoch):
            loss, out = self.train_step(x, y, w, after_backward=after_backward,
                                        before_step=before_step, global_size=size)
            for h in batch_end:
                h(self)
            if len(y):
                loss_sum += loss.detach() * len(y)
            if classification:
                correct += (out.detach().argmax(1) == y).sum()
        sums = D.all_sum([float(loss_sum), float(correct)]) if self.dist else [float(loss_sum), float(correct)]
        row: dict[str, Any] = {"epoch": epoch, "step": self.step, "train_loss": sums[0] / n}
        if classification:
            row["train_accuracy"] = sums[1] / n
        if t.eval_mode:
            model.eval()
        row.update(evaluate(model, d.x_val, d.y_val, self._eval_loss, task=d.task,
                            num_classes=d.num_classes))
        for name, (xe, ye) in self.eval_sets.items():
            row.update(evaluate(model, xe, ye, self._eval_loss, task=d.task,
                                num_classes=d.num_classes, prefix=name))
        model.train()
        row["lr"] = float(opt.param_groups[0]["lr"])
        row["time_s"] = time.perf_counter() - t0
        for h in ev["on_validation_end"]:
            h(self, metrics=row)
        return row


class _Progress:
    """A rich progress bar over epochs with the last epoch's metrics beside it.

    Updated once per epoch: the step loop does no rendering work.
    """

    def __init__(self, epochs: int, done: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._p = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(),
                           MofNCompleteColumn(), TimeElapsedColumn(),
                           TextColumn("{task.fields[metrics]}"), transient=False)
        self._p.start()
        self._task = self._p.add_task("train", total=epochs, completed=done,
                                      epoch=f"{done}/{epochs}", metrics="")
        self._epochs = epochs

    def epoch_done(self, row: dict[str, Any]) -> None:
        shown = "  ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in row.items()
                          if k in ("train_loss", "val_loss", "val_accuracy", "val_auc", "val_r2")
                          and isinstance(v, float))
        self._p.update(self._task, advance=1, epoch=f"{row['epoch'] + 1}/{self._epochs}", metrics=shown)

    def close(self) -> None:
        self._p.stop()

