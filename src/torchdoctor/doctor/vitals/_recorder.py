"""The probes: hooks registered once on a model and its optimizer, writing into device buffers.

Hot path (every step): a forward pre-hook on the root module (opens the step, counts
``no_grad`` passes run in training mode), one tensor hook on the first parameter (was ``.grad``
already non-zero when backward began, right after an optimizer step?), the optimizer's step
pre/post hooks and a reference to the detached loss. No host sync, nothing allocated.

Sampled steps (``schedule(step)`` is true) add: forward hooks on every watched module
(activation statistics, BatchNorm batch size; registered only for that step), per-parameter
gradient norms (one ``torch._foreach_norm``), parameter norms and update norms (a snapshot
copied before ``optimizer.step``), input/output/target statistics, the usual losses of
``(outputs, targets)`` and the training accuracy. All land in preallocated buffers of
``interval`` rows; :meth:`Recorder.flush` copies the filled rows to the host once and turns them
into step records (:mod:`torchdoctor.doctor.vitals._timeline`).

A probe that raises is switched off with one logged warning; training goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchdoctor.doctor.vitals import _outputs as O
from torchdoctor.doctor.vitals import _stats as S
from torchdoctor.doctor.vitals._records import NORM_BUFFERS, build_record
from torchdoctor.doctor.vitals._select import Key, Selector
from torchdoctor.doctor.vitals._timeline import LayerInfo, Vitals
from torchdoctor.doctor.vitals._updates import grads_absent, in_optimizer, optimizer_coverage

__all__ = ["Recorder", "default_schedule"]

log = logging.getLogger("torchdoctor")

_MODE_SENSITIVE = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)
_BN_BATCH_KEEP = 2000


def default_schedule(every: int, first: int = 5) -> Callable[[int], bool]:
    """Sample the first ``first`` steps, then one step in ``every``."""

    def schedule(step: int) -> bool:
        return step < first or step % every == 0

    return schedule


class Recorder:
    """Registers the probes and owns the device buffers. Used by :class:`~torchdoctor.Doctor`.

    Args:
        model: the module being trained.
        optimizer: its optimizer, or ``None`` (no update ratios; steps end at ``close_step``).
        interval: buffer rows; a flush happens when they are full.
        schedule: ``step -> bool``, which steps get the full set of statistics.
        on_full: called (without arguments) when the buffer is full and the step complete.
        max_records: step records kept in memory (older ones are thinned beyond that).
        act_samples: activation statistics use at most this many samples of the batch.
        output_key: which entry of a container output is the prediction
            (:class:`~torchdoctor.doctor.vitals._select.Selector`).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, *,
                 interval: int, schedule: Callable[[int], bool],
                 on_full: Callable[[], None], max_records: int = 4000,
                 act_samples: int = 64, output_key: Key | None = None) -> None:
        self.model, self.optimizer = model, optimizer
        self.selector = Selector(output_key)
        self._layouts: dict[tuple[Any, ...], str] = {}
        self.interval, self.schedule, self.on_full = interval, schedule, on_full
        self.max_records = max_records
        self.act_samples = act_samples
        self.vitals = Vitals()
        self.step = 0  # steps completed
        self.epoch: int | None = None
        self._failed: set[str] = set()
        self._handles: list[Any] = []
        self._sample_handles: list[Any] = []
        # parameters by owning module
        self._pnames: list[str] = []
        self._params: list[nn.Parameter] = []
        self._player: list[str] = []
        self._watched: list[tuple[str, nn.Module, str | None]] = []
        self._sensitive = [m for m in model.modules() if isinstance(m, _MODE_SENSITIVE)]
        depth = 0
        for name, mod in model.named_modules():
            own = [(n, p) for n, p in mod.named_parameters(recurse=False) if p.requires_grad]
            family = S.ACTIVATION_KINDS.get(type(mod).__name__)
            if not own and family is None:
                continue
            lname = name or type(mod).__name__
            units = getattr(mod, "out_features", None) or getattr(mod, "out_channels", None) \
                or getattr(mod, "num_features", None)
            role = "activation" if family is not None and not own else "param"
            self.vitals.layers[lname] = LayerInfo(type(mod).__name__, role, depth, units)
            depth += 1
            self._watched.append((lname, mod, family))
            for n, p in own:
                self._pnames.append(f"{lname}.{n}")
                self._params.append(p)
                self._player.append(lname)
        self.vitals.loop.update(
            steps=0, optimizer_steps=0, nograd_forwards=0, nograd_train_forwards=0,
            mode_sensitive=bool(self._sensitive), bn_batch_sizes=[], zero_grad_checks=0,
            step_checks=0, steps_without_grads=0, steps_grads_cleared=0,
        )
        self._grad_seen = False  # backward computed a gradient for the probe since the last step
        dev = self._params[0].device if self._params else torch.device("cpu")
        self.device = dev
        nan = float("nan")
        P, A = len(self._params), len(self._watched)
        self._buf = {
            "grad": torch.full((interval, P), -1.0, device=dev),
            "pnorm": torch.full((interval, P), -1.0, device=dev),
            "upd": torch.full((interval, P), -1.0, device=dev),
            "act": torch.full((interval, A, len(S.ACT_FIELDS)), nan, device=dev),
            "inputs": torch.full((interval, len(S.IN_FIELDS)), nan, device=dev),
            "outputs": torch.full((interval, len(S.OUT_FIELDS)), nan, device=dev),
            "tstats": torch.full((interval, len(S.TGT_FIELDS)), nan, device=dev),
            "losses": torch.full((interval, len(S.LOSS_FIELDS)), nan, device=dev),
            "acc": torch.full((interval, 2), nan, device=dev),
            "batch": torch.full((interval, len(O.BATCH_FIELDS)), nan, device=dev),
            "prev": torch.full((interval, 1), nan, device=dev),
        }
        self._prev_col = sum(v[0].numel() for v in self._buf.values()) - 1
        self._hist: torch.Tensor | None = None
        self._num_classes: int | None = None
        self._alive: dict[int, torch.Tensor] = {}
        self._snap: list[torch.Tensor] | None = None
        self._snapped = False
        self._loss: list[torch.Tensor | None] = [None] * interval
        self._meta: list[dict[str, Any]] = [{} for _ in range(interval)]
        self._n = 0  # rows filled
        self._cur: int | None = None  # row of the step being built
        self._last: int | None = None  # row of the last closed step
        self._sampled = False
        self._opt_done = False
        self._after_opt = False
        self._register()

    # ------------------------------------------------------------------ hooks
    def _guard(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if name in self._failed:
                return None
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # a probe must never break training
                self._failed.add(name)
                log.warning("torchdoctor: probe %r failed and is switched off (%s: %s); "
                            "training continues", name, type(exc).__name__, exc)
                return None

        return wrapped

    def _register(self) -> None:
        self._handles.append(self.model.register_forward_pre_hook(self._guard("root", self._root_pre)))
        if self._params:
            # the stale-gradient probe watches a parameter the optimizer zeroes (one it leaves
            # out, frozen by exclusion, keeps its .grad by design)
            self._probe = next((p for p in self._params if in_optimizer(p, self.optimizer)), self._params[0])
            self._handles.append(self._probe.register_hook(self._guard("zero_grad", self._grad_hook)))
        if self.optimizer is not None:
            opt = self.optimizer
            self._handles.append(opt.register_step_pre_hook(self._guard("optimizer", self._opt_pre)))
            self._handles.append(opt.register_step_post_hook(self._guard("optimizer", self._opt_post)))
        if self.schedule(0):
            self._arm()

    def _arm(self) -> None:
        """Register the forward hooks of the watched modules for the next (sampled) step."""
        if self._sample_handles:
            return
        for j, (_, mod, family) in enumerate(self._watched):
            hook = self._guard("activations", self._make_act_hook(j, mod, family))
            self._sample_handles.append(mod.register_forward_hook(hook))

    def _disarm(self) -> None:
        for h in self._sample_handles:
            h.remove()
        self._sample_handles.clear()

    def remove(self) -> None:
        """Remove every hook this recorder registered."""
        self._disarm()
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _make_act_hook(self, j: int, mod: nn.Module, family: str | None) -> Callable[..., None]:
        is_bn = isinstance(mod, nn.modules.batchnorm._BatchNorm)

        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if not torch.is_grad_enabled() or not isinstance(output, torch.Tensor):
                return
            row = self.open_row()
            if not self._sampled or not output.is_floating_point() or output.numel() == 0:
                return
            if is_bn and module.training:
                sizes = self.vitals.loop["bn_batch_sizes"]
                sizes.append(int(output.shape[0]))
                if len(sizes) > _BN_BATCH_KEEP:
                    del sizes[: len(sizes) - _BN_BATCH_KEEP]
            y = output[: self.act_samples] if output.dim() > 1 else output
            stats, alive = S.activation_stats(y, family)
            self._buf["act"][row, j].copy_(stats)
            if alive is not None:
                acc = self._alive.get(j)
                if acc is None or acc.shape != alive.shape:
                    self._alive[j] = alive.to(torch.int32)
                else:
                    acc.add_(alive)

        return hook

    def _root_pre(self, module: nn.Module, args: Any) -> None:
        if torch.is_grad_enabled():
            if module.training:
                self.open_row()
            return
        loop = self.vitals.loop
        loop["nograd_forwards"] += 1
        if any(m.training for m in self._sensitive) or (not self._sensitive and module.training):
            loop["nograd_train_forwards"] += 1

    def _grad_hook(self, grad: torch.Tensor) -> None:
        self._grad_seen = True
        if not self._after_opt:
            return
        self._after_opt = False
        if not self._sampled:  # checked on sampled steps only: one norm less on the others
            return
        self.vitals.loop["zero_grad_checks"] += 1
        prev = self._probe.grad
        if prev is not None:
            row = self.open_row()
            self._buf["prev"][row, 0].copy_(prev.detach().float().norm())
        return None

    def _opt_row(self) -> int | None:
        return self._cur if self._cur is not None else self._last

    def _opt_pre(self, opt: Any, args: Any, kwargs: Any) -> None:
        row = self._opt_row()
        self._snapped = False
        if row is None or not self._meta[row].get("sampled") or not self._params:
            return
        self.vitals.loop["step_checks"] += 1
        if grads_absent(self._params):  # backward ran (the probe saw a gradient), .grad is gone
            self.vitals.loop["steps_without_grads"] += 1
            self.vitals.loop["steps_grads_cleared"] += self._grad_seen
        if self._snap is None:
            self._snap = [torch.empty_like(p) for p in self._params]
        torch._foreach_copy_(self._snap, [p.detach() for p in self._params])
        self._snapped = True

    def _opt_post(self, opt: Any, args: Any, kwargs: Any) -> None:
        self.vitals.loop["optimizer_steps"] += 1
        self._grad_seen = False
        self._after_opt = True
        row = self._opt_row()
        if row is not None and self._snapped and self._snap is not None:
            params = [p.detach() for p in self._params]
            delta = torch._foreach_sub(params, self._snap)
            self._buf["upd"][row].copy_(torch.stack(torch._foreach_norm(delta)).float())
            self._buf["pnorm"][row].copy_(torch.stack(torch._foreach_norm(params)).float())
        self._snapped = False
        if self._cur is None:
            self._opt_done = True
            if self._n >= self.interval:
                self.on_full()
        else:
            self._opt_done = True

    # ------------------------------------------------------------------ step rows
    def open_row(self) -> int:
        """Row of the step being built (opening one, flushing a full buffer first)."""
        if self._cur is not None:
            return self._cur
        if self._n >= self.interval:
            self.on_full()
        row = self._n
        self._n += 1
        self._cur = row
        self._opt_done = False
        self._sampled = bool(self.schedule(self.step))
        self._meta[row] = {"step": self.step, "epoch": self.epoch, "sampled": self._sampled}
        return row

    def record_grads(self) -> None:
        """Per-parameter gradient norms of the current step (sampled steps only)."""
        row = self.open_row()
        if not self._sampled or not self._params:
            return
        grads = [p.grad for p in self._params]
        if all(g is not None for g in grads):
            norms = torch._foreach_norm([g.detach() for g in grads])  # type: ignore[union-attr]
            self._buf["grad"][row].copy_(torch.stack(norms).float())
        else:
            idx = [i for i, g in enumerate(grads) if g is not None]
            if idx:
                norms = torch._foreach_norm([grads[i].detach() for i in idx])  # type: ignore[union-attr]
                self._buf["grad"][row, idx] = torch.stack(norms).float()

    def close_step(self, loss: torch.Tensor | float | None, inputs: Any = None,
                   targets: Any = None, outputs: Any = None) -> None:
        """End the current step: loss, and on sampled steps the input/output/target statistics."""
        row = self.open_row()
        if isinstance(loss, torch.Tensor):
            if loss.dim() == 0:  # the usual case: one op, the host reads it at the flush
                self._loss[row] = loss.detach()
            else:
                self._loss[row] = loss.detach().reshape(-1)[0] if loss.numel() else None
        elif isinstance(loss, (int, float)):
            self._loss[row] = torch.tensor(float(loss))
        if self._sampled:
            self._guard("io", self._record_io)(row, inputs, targets, outputs)
        self._cur = None
        self._last = row
        self.step += 1
        self.vitals.loop["steps"] = self.step
        if self.optimizer is None:
            self._after_opt = True
        self._disarm()
        if self.schedule(self.step):
            self._arm()
        if self._n >= self.interval and (self._opt_done or self.optimizer is None):
            self.on_full()

    def _record_io(self, row: int, x: Any, t: Any, o: Any) -> None:
        b = self._buf
        v = O.view(self.selector, self._layouts, x, t, o)  # containers, kinds: said once
        if self.selector.said:
            self.vitals.loop["io"] = dict(self.selector.said)
        if v.inputs is not None:
            b["inputs"][row].copy_(S.input_stats(v.inputs))
        if v.outputs is not None:
            b["outputs"][row].copy_(S.output_stats(v.outputs))
        t = v.targets
        if t is None:
            return
        meta = self._meta[row]
        meta.update(batch_kind=v.batch.kind, shapes=v.shapes, target_kind=v.target_kind)
        stats = O.batch_stats(v.raw_outputs, t, v.batch)
        if stats is not None:
            b["batch"][row].copy_(stats)
        if t.is_floating_point():
            b["tstats"][row].copy_(S.target_stats(t))
        if v.target_kind == "class":
            if self._num_classes is None:
                self._num_classes = v.batch.num_classes or int(t.max()) + 1  # one sync, once
                self._hist = torch.zeros((self.interval, self._num_classes), device=self.device)
            assert self._hist is not None
            counts = O.class_counts(v.batch, self._num_classes)
            if counts is None:  # class ids without class scores (a class index regressed)
                counts = torch.bincount(t.detach().long().clamp(0, self._num_classes - 1),
                                        minlength=self._num_classes)
            self._hist[row].copy_(counts.float())
        if v.loss_pair is not None:
            lo, lt = v.loss_pair
            b["losses"][row].copy_(S.loss_candidates(lo, lt, v.batch.num_classes or self._num_classes or 0))
            acc = O.accuracy(v.batch, lo, lt)
            if acc is not None:
                b["acc"][row].copy_(acc)

    # ------------------------------------------------------------------ flush
    def flush(self) -> list[dict[str, Any]]:
        """Copy the filled rows to the host once; return them as step records.

        The step being built (if any) stays in the buffer, moved to row 0.
        """
        n = self._n - (1 if self._cur is not None else 0)
        if n <= 0:
            return []
        b = self._buf
        parts = [b[k][:n].reshape(n, -1).float() for k in b]
        if self._hist is not None:
            parts.append(self._hist[:n])
        host = torch.cat(parts, dim=1).cpu().double().tolist()
        present = [i for i in range(n) if self._loss[i] is not None]
        loss_vals: dict[int, float] = {}
        if present:
            vals = torch.stack([self._loss[i].float().cpu() for i in present])  # type: ignore[union-attr]
            loss_vals = dict(zip(present, vals.double().tolist(), strict=True))
        alive = {j: a.cpu().tolist() for j, a in self._alive.items()}
        records = [build_record(self, i, host[i], loss_vals.get(i), alive if i == n - 1 else None)
                   for i in range(n)]
        self._reset()
        self.vitals.extend(records, max_records=self.max_records)
        return records

    def _reset(self) -> None:
        cur = self._cur
        for k, v in self._buf.items():
            fill = -1.0 if k in NORM_BUFFERS else float("nan")
            if cur is not None:
                v[0].copy_(v[cur])
                v[1:].fill_(fill)
            else:
                v.fill_(fill)
        if self._hist is not None:
            if cur is not None:
                self._hist[0].copy_(self._hist[cur])
            self._hist[1 if cur is not None else 0:].zero_()
        if cur is not None:
            self._loss[0], self._meta[0] = self._loss[cur], self._meta[cur]
            self._cur, self._n = 0, 1
        else:
            self._n = 0
        for i in range(self._n, self.interval):
            self._loss[i] = None
        self._last = None
        self._alive.clear()

    def measure_weights(self) -> None:
        """Row spread of every Linear/Conv weight: ``||W - mean row|| / ||W||`` (0 = symmetric).

        Also records which layers the optimizer does not update (``vitals.loop["optimizer"]``).
        """
        self.vitals.loop["optimizer"] = optimizer_coverage(self._params, self._player, self.optimizer)
        with torch.no_grad():
            for ln, mod, _ in self._watched:
                w = getattr(mod, "weight", None)
                if not isinstance(w, torch.Tensor) or w.dim() < 2 or w.shape[0] < 2 \
                        or not w.requires_grad:
                    continue
                if not isinstance(mod, (nn.Linear, nn.modules.conv._ConvNd)):
                    continue
                wf = w.detach().float().reshape(w.shape[0], -1)
                spread = ((wf - wf.mean(0, keepdim=True)).norm() / wf.norm().clamp_min(1e-30)).item()
                self.vitals.weights[ln] = {"row_spread": spread, "units": int(w.shape[0])}


