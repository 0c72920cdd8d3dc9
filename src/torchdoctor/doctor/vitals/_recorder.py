"""The probes: hooks on a model and its optimizer, writing into one device buffer.

Hot path (every step): :meth:`Recorder.close_step` keeps a reference to the detached loss and
asks the schedule about the next step; the optimizer's step post-hook counts the step. Nothing
else runs, nothing is allocated, no host sync. A forward pre-hook on the root module counts
``no_grad`` passes run in training mode, only when the model has Dropout/BatchNorm (the only
case where that matters).

Sampled steps (``schedule(step)`` is true) add hooks registered for that step only: forward
hooks on every watched module (activation statistics, BatchNorm batch size), a tensor hook on
one optimized parameter (was ``.grad`` already non-zero when backward began, right after an
optimizer step? did backward compute a gradient since the last optimizer step?) and an
optimizer step pre-hook (a parameter snapshot for update norms; does the step find every
``.grad`` gone?); plus per-parameter gradient norms (one ``torch._foreach_norm``),
input/output/target statistics of the tensors :func:`~torchdoctor.doctor.vitals._outputs.view`
selects and interprets (containers, batch kinds), the usual losses of ``(outputs, targets)``,
the batch statistics (normalization along other dims, broadcast losses), the class counts and
the training accuracy. Each is a device tensor (0-d, or a 1-d block) kept with its row and
column, the columns declared by :func:`~torchdoctor.doctor.vitals._records.vitals_layout`;
:meth:`Recorder.flush` copies them all to the host at once and turns every step into a record
(:mod:`torchdoctor.doctor.vitals._timeline`).

A probe that raises is switched off with one logged warning; training goes on.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchdoctor.doctor.vitals import _outputs as O
from torchdoctor.doctor.vitals import _stats as S
from torchdoctor.doctor.vitals._budget import SamplingBudget
from torchdoctor.doctor.vitals._records import build_record, hist_block, measured, vitals_layout
from torchdoctor.doctor.vitals._select import Key, Selector
from torchdoctor.doctor.vitals._timeline import LayerInfo, Vitals
from torchdoctor.doctor.vitals._updates import grads_absent, optimizer_coverage, stepped_ids

__all__ = ["MAX_HIST_CLASSES", "Recorder", "default_schedule"]

log = logging.getLogger("torchdoctor")

#: A plain step's period is timed once in this many steps (for the sampling budget).
_PERIOD_EVERY = 64

#: With ``flush_seconds``, a flush holds at most this many times ``interval`` steps.
MAX_STRETCH = 8

_MODE_SENSITIVE = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)
_BN_BATCH_KEEP = 2000

#: Largest number of classes the per-step class histogram covers. Integer targets beyond it
#: (token ids, raw labels up to 10^7) get no histogram: one row per class per sampled step
#: would cost memory and time without telling the class-balance rule anything it can use.
MAX_HIST_CLASSES = 1024


class default_schedule:  # noqa: N801 - used as the function it replaced
    """Sample the first ``first`` steps, then one step in ``every``: ``step -> bool``.

    :meth:`next_after` lets the recorder find the next sampled step without asking each step.
    """

    def __init__(self, every: int, first: int = 5) -> None:
        self.every, self.first = every, first

    def __call__(self, step: int) -> bool:
        return step < self.first or step % self.every == 0

    def next_after(self, step: int) -> int:
        """The first sampled step after ``step``."""
        nxt = step + 1
        return nxt if nxt < self.first else -(-nxt // self.every) * self.every


class Recorder:
    """Registers the probes and owns the device buffer. Used by :class:`~torchdoctor.Doctor`.

    Args:
        model: the module being trained.
        optimizer: its optimizer, or ``None`` (no update ratios; steps end at ``close_step``).
        interval: steps between two flushes; :attr:`on_full` is called when that many are held.
        flush_seconds: when given, a flush also waits until the steps held stand for this
            much training time (seconds; steps of a tiny model are ~0.1 ms, and a flush costs
            ~50 us), holding at most :data:`MAX_STRETCH` times ``interval`` steps; ``None``:
            exactly every ``interval`` steps (as under DDP, where every rank flushes together).
        schedule: ``step -> bool``, which steps get the full set of statistics.
        on_full: called (without arguments) when ``interval`` steps are held and complete.
        max_records: step records kept in memory (older ones are thinned beyond that).
        act_samples: activation statistics use at most this many samples of the batch.
        warn: called once per problem with a short message (default: the ``torchdoctor``
            logger's warning).
        budget: when given, the largest share of training time the sampled steps may take
            (:class:`~torchdoctor.doctor.vitals._budget.SamplingBudget`): a tiny model is
            sampled less often than every ``schedule`` step. ``None``: exactly the schedule's
            steps.
        first_free: steps sampled exactly as the schedule says, before the budget applies
            (their cost is not counted).
        max_gap: longest run of steps without a sample under a budget.
        output_key: which entry of a container output is the prediction
            (:class:`~torchdoctor.doctor.vitals._select.Selector`).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, *,
                 interval: int, schedule: Callable[[int], bool],
                 on_full: Callable[[], None], max_records: int = 4000,
                 act_samples: int = 64, warn: Callable[[str], None] | None = None,
                 budget: float | None = None, first_free: int = 5, max_gap: int = 1000,
                 output_key: Key | None = None, flush_seconds: float | None = None) -> None:
        self.model, self.optimizer = model, optimizer
        self.flush_seconds = flush_seconds
        self._every = interval  # steps held before the next flush (see _stretch)
        self.selector = Selector(output_key)
        self._layouts: dict[tuple[Any, ...], str] = {}
        self.interval, self.schedule, self.on_full = interval, schedule, on_full
        self.max_records = max_records
        self.act_samples = act_samples
        self._warn = warn or (lambda msg: log.warning("torchdoctor: %s", msg))
        self._warned: set[str] = set()
        self.vitals = Vitals()
        self.step = 0  # steps completed
        self._epoch: int | None = None
        self._failed: set[str] = set()
        self._handles: list[Any] = []
        self._sample_handles: list[Any] = []
        self._opt_pre_handle: Any = None
        # parameters by owning module
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
            for _, p in own:
                self._params.append(p)
                self._player.append(lname)
        # the stale-gradient check watches one parameter the optimizer steps (and zeroes)
        if optimizer is not None:
            stepped = stepped_ids(optimizer)
            self._probe_param = next((p for p in self._params if id(p) in stepped), None)
        else:
            self._probe_param = self._params[0] if self._params else None
        self.vitals.loop.update(
            steps=0, optimizer_steps=0, nograd_forwards=0, nograd_train_forwards=0,
            mode_sensitive=bool(self._sensitive), bn_batch_sizes=[], zero_grad_checks=0,
            step_checks=0, steps_without_grads=0, steps_grads_cleared=0,
        )
        # optimizer steps counted when backward last reached the probe (sampled steps only):
        # equal to the current count = a gradient was computed since the last optimizer step
        self._grad_seen_at = -1
        self.device = self._params[0].device if self._params else torch.device("cpu")
        self.layout = vitals_layout(len(self._params), len(self._watched))
        self._col = {b.name: self.layout.start(b.name) for b in self.layout.blocks}
        self._act_width = len(S.ACT_RAW)
        self._rows = interval + 1
        # device values of the sampled rows: 0-d tensors at (row, column), and 1-d ones
        self._vals: list[torch.Tensor] = []
        self._at: list[tuple[int, int]] = []
        self._vecs: list[tuple[int, int, torch.Tensor]] = []
        self._num_classes: int | None = None
        self._alive: dict[int, torch.Tensor] = {}
        self._snap: list[torch.Tensor] | None = None
        self._snap_row: int | None = None
        # steps closed since the last flush, from step _first: their losses (a float, a
        # detached tensor or None), the sampled ones' rows, and where the epoch changed
        self._losses: list[Any] = []
        self._first = 0
        self._rows_of: dict[int, int] = {}
        self._epochs: list[tuple[int, int | None]] = [(0, None)]  # (pending index, epoch)
        self._meta: list[dict[str, Any]] = []  # per row in use
        self._n = 0  # buffer rows in use
        self._cur: int | None = None  # row of the sampled step being built
        self._upd_row: int | None = None  # closed sampled step still waiting for its update
        self._flush_due = False
        self._opt_steps = 0
        self._opt_mark = 0  # optimizer steps counted at the last backward
        self.budget = SamplingBudget(budget, free=first_free, max_gap=max_gap)
        #: called with each flush's records before they join the timeline, on every flush
        #: (the cross-rank reduction of a data-parallel run, :class:`RankReducer`)
        self.reducer: Callable[[list[dict[str, Any]]], None] | None = None
        self._t_prev = 0  # end of the last close_step
        self._after_sample = False  # the period being timed holds a sampled step's optimizer step
        self._last_sample = 0
        #: Whether the step being built is sampled (full statistics).
        self.sampling = bool(self.schedule(0))
        self._slow = self.sampling  # close_step takes the timed path (see _close_timed)
        self._candidate = self._next_candidate(0)
        self._next_event = 0
        self._plan()
        self._register()

    def _next_candidate(self, step: int) -> int:
        """The next step after ``step`` the schedule picks (``step + 1`` for a plain callable,
        asked each step)."""
        nxt = getattr(self.schedule, "next_after", None)
        return nxt(step) if nxt is not None else step + 1

    def _put(self, row: int, name: str, values: list[torch.Tensor | None] | torch.Tensor,
             offset: int = 0) -> None:
        """Keep ``values`` for block ``name`` of ``row``, from column ``offset`` of the block:
        0-d tensors (``None`` = not measured), or one 1-d tensor."""
        col = self._col[name] + offset
        if type(values) is not list:  # a tensor (isinstance on torch.Tensor is slow)
            self._vecs.append((row, col, values.reshape(-1)))
            return
        for k, v in enumerate(values):
            if v is not None:
                self._vals.append(v)
                self._at.append((row, col + k))

    # ------------------------------------------------------------------ public state
    #: Whether the last :meth:`flush` returned a non-finite loss or gradient norm.
    flushed_nonfinite = False

    @property
    def step_seconds(self) -> float | None:
        """Running estimate of one plain training step's duration (seconds; timed one step in
        16, pauses clipped), or ``None`` before the first estimate."""
        return self.budget.step_seconds

    @property
    def epoch(self) -> int | None:
        """Epoch number given to the steps closed from now on."""
        return self._epoch

    @epoch.setter
    def epoch(self, value: int | None) -> None:
        if value != self._epoch:
            self._epoch = value
            self._epochs.append((len(self._losses), value))

    @property
    def pending_steps(self) -> int:
        """Steps held since the last flush (the step being built included)."""
        return len(self._losses) + (1 if self._cur is not None else 0)

    def restore(self, vitals: Vitals, step: int) -> None:
        """Continue from a saved timeline: ``vitals`` and the number of steps done."""
        self.flush()
        self.vitals = vitals
        for key in ("zero_grad_checks", "step_checks", "steps_without_grads", "steps_grads_cleared"):
            vitals.loop.setdefault(key, 0)  # a timeline saved before these counts existed
        self.step = self._first = int(step)
        self._opt_steps = self._opt_mark = int(vitals.loop.get("optimizer_steps", 0))
        self._grad_seen_at = -1
        self.sampling = self._slow = bool(self.schedule(self.step))
        self._candidate = self._next_candidate(self.step)
        self._plan()
        self._disarm()
        if self.sampling:
            self._arm()

    def warn_once(self, key: str, message: str) -> None:
        """Say ``message`` the first time ``key`` comes up; later calls are silent."""
        if key not in self._warned:
            self._warned.add(key)
            self._warn(message)

    # ------------------------------------------------------------------ hooks
    def _guard(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if name in self._failed:
                return None
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # a probe must never break training
                self._failed.add(name)
                self._warn(f"probe {name!r} failed and is switched off "
                           f"({type(exc).__name__}: {exc}); training continues")
                return None

        return wrapped

    def _register(self) -> None:
        if self._sensitive:
            self._handles.append(self.model.register_forward_pre_hook(self._guard("root", self._root_pre)))
        if self.optimizer is not None:
            # unguarded: a counter and two comparisons; the work it may call is guarded
            self._after_opt_step = self._guard("optimizer", self._finish_opt_step)
            self._handles.append(self.optimizer.register_step_post_hook(self._opt_post))
        if self.sampling:
            self._arm()

    def _arm(self) -> None:
        """Register the hooks of the next (sampled) step: activations and the stale check."""
        if self._sample_handles:
            return
        for j, (_, mod, family) in enumerate(self._watched):
            hook = self._guard("activations", self._make_act_hook(j, mod, family))
            self._sample_handles.append(mod.register_forward_hook(hook))
        if self._probe_param is not None and self._probe_param.requires_grad:  # not frozen since
            self._sample_handles.append(self._probe_param.register_hook(
                self._guard("zero_grad", self._grad_hook)))

    def _disarm(self) -> None:
        for h in self._sample_handles:
            h.remove()
        self._sample_handles.clear()
        p = self._probe_param
        if p is not None and p._backward_hooks is not None and not p._backward_hooks:
            # a removed hook leaves an empty dict on the tensor, and autograd still calls into
            # Python for it on every backward (~1.5 us a step on a small MLP): drop the dict
            p._backward_hooks = None

    def _arm_update(self) -> None:
        if self.optimizer is not None and self._opt_pre_handle is None and self._params:
            self._opt_pre_handle = self.optimizer.register_step_pre_hook(
                self._guard("optimizer", self._opt_pre))

    def remove(self) -> None:
        """Remove every hook this recorder registered."""
        self._disarm()
        if self._opt_pre_handle is not None:
            self._opt_pre_handle.remove()
            self._opt_pre_handle = None
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _make_act_hook(self, j: int, mod: nn.Module, family: str | None) -> Callable[..., None]:
        is_bn = isinstance(mod, nn.modules.batchnorm._BatchNorm)

        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if not torch.is_grad_enabled() or not isinstance(output, torch.Tensor):
                return
            row = self.open_row()
            if not output.is_floating_point() or output.numel() == 0:
                return
            if is_bn and module.training:
                sizes = self.vitals.loop["bn_batch_sizes"]
                sizes.append(int(output.shape[0]))
                if len(sizes) > _BN_BATCH_KEEP:
                    del sizes[: len(sizes) - _BN_BATCH_KEEP]
            y = output[: self.act_samples] if output.dim() > 1 and output.shape[0] > self.act_samples \
                else output
            raw, peak = S.activation_stats(y, family)
            self._put(row, "act", raw, j * self._act_width)
            self._meta[row].setdefault("act_n", {})[j] = (y.numel(), y.shape[1] if y.dim() > 1 else 1)
            if peak is not None:
                acc = self._alive.get(j)
                if acc is None or acc.shape != peak.shape:
                    self._alive[j] = peak
                else:
                    torch.maximum(acc, peak, out=acc)

        return hook

    def _root_pre(self, module: nn.Module, args: Any) -> None:
        if torch.is_grad_enabled():
            return
        self.vitals.loop["nograd_forwards"] += 1
        if any(m.training for m in self._sensitive):
            self.vitals.loop["nograd_train_forwards"] += 1

    def _grad_hook(self, grad: torch.Tensor) -> None:
        self._grad_seen_at = self._opt_steps  # backward computed a gradient (no_update causes)
        # an optimizer step since the last backward (or no optimizer to tell): .grad should be 0
        if self.optimizer is not None and self._opt_steps == self._opt_mark:
            return
        if self.step == 0:
            return
        self.vitals.loop["zero_grad_checks"] += 1
        prev = self._probe_param.grad if self._probe_param is not None else None
        if prev is not None:
            row = self.open_row()
            self._put(row, "prev", [torch.linalg.vector_norm(prev.detach())])

    def _opt_pre(self, opt: Any, args: Any, kwargs: Any) -> None:
        row = self._cur if self._cur is not None else self._upd_row
        if row is None:
            return
        loop = self.vitals.loop
        loop["step_checks"] += 1
        if grads_absent(self._params):  # no .grad at all: cleared after backward, or none made
            loop["steps_without_grads"] += 1
            loop["steps_grads_cleared"] += self._grad_seen_at == self._opt_steps
        with torch.no_grad():
            if self._snap is None:
                self._snap = [torch.empty_like(p) for p in self._params]
            torch._foreach_copy_(self._snap, self._params)
        self._snap_row = row

    def _opt_post(self, opt: Any, args: Any, kwargs: Any) -> None:
        """After every optimizer step: count it (a new count also says: no gradient since this
        step yet); the rare work, guarded, only when a sampled step or a flush waits for it."""
        self._opt_steps += 1
        if self._snap_row is not None or self._flush_due:
            self._after_opt_step()

    def _finish_opt_step(self) -> None:
        row = self._snap_row
        if row is not None and self._snap is not None:
            self._snap_row = None
            self._upd_row = None
            self._opt_pre_handle.remove()
            self._opt_pre_handle = None
            self._meta[row]["updated"] = True
            with torch.no_grad():
                params = self._params
                self._put(row, "upd", list(torch._foreach_norm(torch._foreach_sub(params, self._snap))))
                self._put(row, "pnorm", list(torch._foreach_norm(params)))
        if self._flush_due:
            self._flush_due = False
            self.on_full()

    # ------------------------------------------------------------------ step rows
    def open_row(self) -> int:
        """Buffer row of the sampled step being built (opening one on its first use)."""
        if self._cur is not None:
            return self._cur
        if self._n >= self._rows:  # only with a schedule denser than the flushes
            self.on_full()
            if self._n >= self._rows:  # on_full did not flush: drop the oldest rows' data
                self.flush()
        row = self._n
        self._n += 1
        self._cur = row
        if row < len(self._meta):
            self._meta[row] = {}
        else:
            self._meta.append({})
        self._arm_update()
        return row

    def record_grads(self) -> None:
        """Per-parameter gradient norms of the current step (sampled steps only)."""
        self._opt_mark = self._opt_steps
        if not self.sampling or not self._params:
            return
        row = self.open_row()
        grads = [p.grad for p in self._params]
        with torch.no_grad():  # no detach per gradient
            if all(g is not None for g in grads):
                self._put(row, "grad", list(torch._foreach_norm(grads)))  # type: ignore[arg-type]
            else:
                idx = [i for i, g in enumerate(grads) if g is not None]
                if idx:
                    norms = torch._foreach_norm([grads[i] for i in idx])  # type: ignore[misc]
                    for i, n in zip(idx, norms, strict=True):
                        self._put(row, "grad", [n], i)

    def close_step(self, loss: Any, inputs: Any = None, targets: Any = None,
                   outputs: Any = None) -> None:
        """End the current step: its loss, and on sampled steps the input/output/target statistics.

        Args:
            loss: a scalar tensor or number; a tensor of N values is recorded as its mean
                (said once); anything else is recorded as no loss (said once).
        """
        value = self._loss_value(loss)
        if self._slow:
            self._close_timed(value, inputs, targets, outputs, mark=False)
            return
        self._losses.append(value)
        self.step = step = self.step + 1
        if step >= self._next_event:
            self._event(step, mark=False)

    def end_step(self, loss: Any, inputs: Any = None, targets: Any = None,
                 outputs: Any = None) -> None:
        """:meth:`close_step` called right after backward, before the optimizer step (as
        ``Doctor.step`` does), so that the zero_grad check needs no call on plain steps.

        The hot path of the doctor: on a plain step, one append of the loss (its value on the
        CPU, no tensor kept alive; elsewhere a detached reference read at the flush with all
        the others in one copy) and one comparison with the next step that needs attention.
        """
        if self._slow or type(loss) is not torch.Tensor or loss.dim() or not loss.is_cpu:
            value = self._loss_value(loss)
            if self._slow:
                self._close_timed(value, inputs, targets, outputs, mark=True)
                return
        else:
            value = loss.item()
        self._losses.append(value)
        self.step = step = self.step + 1
        if step >= self._next_event:
            self._event(step, mark=True)

    def _plan(self) -> None:
        """The next step that needs attention: a schedule candidate, a timed period, a flush."""
        self._next_event = min(self._candidate, (self.step // _PERIOD_EVERY + 1) * _PERIOD_EVERY,
                               self._first + self._every)

    def _event(self, step: int, *, mark: bool) -> None:
        """After plain step ``step - 1``: arm the next step when it is sampled, or time its
        period; flush when ``interval`` steps are held.

        Args:
            mark: called before the optimizer step (``end_step``): the arming also marks the
                backward for the zero_grad check.
        """
        if step >= self._candidate:
            self._candidate = self._next_candidate(step)
            if self.schedule(step):
                if self.budget.allows(step, self._last_sample):
                    t0 = time.perf_counter_ns()
                    if mark:
                        self._opt_mark = self._opt_steps
                    self.sampling = self._slow = True
                    self._arm()
                    self._t_prev = t_end = time.perf_counter_ns()
                    self.budget.charge(t_end - t0, step)
                else:  # over budget: the schedule's next pick once the budget allows again
                    due = self.budget.next_allowed(step, self._last_sample)
                    self._candidate = max(self._candidate, self._next_candidate(due - 1))
        if not self._slow and not step % _PERIOD_EVERY:
            self._slow = True  # time the next step's period
            self._t_prev = time.perf_counter_ns()
        if len(self._losses) >= self._every:
            self._full()
        self._plan()

    def _full(self) -> None:
        """``on_full``; a flush holding sampled rows counts as their cost (one copy, records)."""
        if not self._n:
            self.on_full()
            return
        t0 = time.perf_counter_ns()
        self.on_full()
        self.budget.charge(time.perf_counter_ns() - t0, self.step)

    def _close_timed(self, value: Any, inputs: Any, targets: Any, outputs: Any, *,
                     mark: bool) -> None:
        """``close_step`` of a sampled step, of the step after one, or of a timed plain step.

        Cost of sampling, measured: the period between two ``close_step`` calls is one plain
        step; a sampled step's period and the next one (which holds its optimizer step) cost
        more by the probes' time, and the sampled work inside ``close_step`` is timed directly.
        """
        if mark:
            self._opt_mark = self._opt_steps
        row = -1
        self._upd_row = None
        now = time.perf_counter_ns()
        sampled = self.sampling
        if self._t_prev:
            period = now - self._t_prev
            if sampled or self._after_sample:
                self.budget.charge(self.budget.extra(period), self.step if sampled else self._last_sample)
            else:
                self.budget.plain_period(period)
        self._t_prev = 0
        self._after_sample = sampled
        if sampled:
            row = self.open_row()
            self._guard("io", self._record_io)(row, inputs, targets, outputs)
            self._cur = None
            if not self._meta[row].get("updated"):
                self._upd_row = row
            self._disarm()
            self._last_sample = self.step
        losses = self._losses
        if row >= 0:
            self._rows_of[len(losses)] = row
        losses.append(value)
        self.step += 1
        self.sampling = bool(self.schedule(self.step)) and self.budget.allows(self.step, self._last_sample)
        self._candidate = max(self._candidate, self._next_candidate(self.step))  # kept when over budget
        if self.sampling:
            self._arm()
        t_end = time.perf_counter_ns()
        if sampled:
            self.budget.charge(t_end - now, self.step - 1)
        elif self.sampling:
            self.budget.charge(t_end - now, self.step)
        if len(losses) >= self._every:
            if self._upd_row is not None and self.optimizer is not None:
                self._flush_due = True  # after this step's optimizer step (update norms)
            else:
                self._full()
                t_end = time.perf_counter_ns()
        self._slow = self.sampling or sampled or not self.step % _PERIOD_EVERY
        if self._slow:
            self._t_prev = t_end
        self._plan()

    def _loss_value(self, loss: Any) -> Any:
        if type(loss) is torch.Tensor and loss.dim() == 0:  # isinstance on torch.Tensor is slow
            return loss.item() if loss.is_cpu else loss.detach()  # elsewhere: read at the flush
        if isinstance(loss, torch.Tensor):
            if loss.dim() == 0:
                return loss.detach()
            if loss.numel() == 1:
                return loss.detach().reshape(())
            if loss.numel() == 0:
                self.warn_once("loss_empty", "loss is an empty tensor; steps are recorded "
                               "without a loss (pass the scalar loss of the batch)")
                return None
            self.warn_once("loss_shape", f"loss has shape {tuple(loss.shape)}, not a scalar; "
                           "recording its mean (pass loss.mean() to silence this)")
            return loss.detach().float().mean()
        if isinstance(loss, (int, float)) and not isinstance(loss, bool):
            return float(loss)
        if loss is not None:
            self.warn_once("loss_type", f"loss must be a tensor or a number, got "
                           f"{type(loss).__name__} {str(loss)[:40]!r}; steps are recorded without a loss")
        return None

    def _record_io(self, row: int, x: Any, t: Any, o: Any) -> None:
        meta = self._meta[row]
        v = O.view(self.selector, self._layouts, x, t, o)  # containers, kinds: said once
        if self.selector.said:
            self.vitals.loop["io"] = dict(self.selector.said)
        if v.inputs is not None:
            self._put(row, "inputs", S.input_stats(v.inputs))
            meta["in_n"] = v.inputs.numel()
        if v.outputs is not None:
            self._put(row, "outputs", S.output_stats(v.outputs))
        t = v.targets
        if t is None:
            return
        meta.update(batch_kind=v.batch.kind, shapes=v.shapes, target_kind=v.target_kind)
        stats = O.batch_stats(v.raw_outputs, t, v.batch)
        if stats is not None:
            self._put(row, "batch", stats)
        if t.is_floating_point():
            self._put(row, "tstats", S.target_stats(t))
        if v.target_kind == "class":
            if self._num_classes is None:
                self._num_classes = self._count_classes(t, v.batch.num_classes)
            if self._num_classes:
                counts = O.class_counts(v.batch, self._num_classes)
                if counts is None:  # class ids without class scores (a class index regressed)
                    # scatter_add, not bincount: bincount sizes its output on the host (a sync)
                    tl = t.detach().reshape(-1).long().clamp(0, self._num_classes - 1)
                    counts = torch.zeros(self._num_classes, device=tl.device).scatter_add_(
                        0, tl, torch.ones_like(tl, dtype=torch.float32))
                self._put(row, "hist", counts)
        if v.loss_pair is not None:
            lo, lt = v.loss_pair
            self._put(row, "losses", S.loss_candidates(lo, lt, v.batch.num_classes or self._num_classes or 0))
            acc = O.accuracy(v.batch, lo, lt)  # Tensor[2]: correct, count (ignored labels left out)
            if acc is not None:
                self._put(row, "acc", acc)

    def _count_classes(self, t: torch.Tensor, from_outputs: int | None) -> int:
        """Classes of integer targets (from the outputs' class scores, else the largest label;
        once).

        Beyond :data:`MAX_HIST_CLASSES` no histogram is kept (said once); returns 0 then.
        """
        n = from_outputs or int(t.max()) + 1  # one sync, once
        if n > MAX_HIST_CLASSES:
            self.warn_once("hist", f"class targets go up to {n - 1}; the class histogram covers at "
                           f"most {MAX_HIST_CLASSES} classes, so class balance is not checked")
            return 0
        self.layout = self.layout.with_block(hist_block(max(n, 1)))
        self._col["hist"] = self.layout.start("hist")
        return n

    # ------------------------------------------------------------------ flush
    def flush(self) -> list[dict[str, Any]]:
        """Copy the sampled rows' values to the host at once; return the closed steps as records.

        The sampled step being built (if any) stays, as row 0.
        """
        raw, first, rows_of, epochs = self._losses, self._first, self._rows_of, self._epochs
        self._losses, self._rows_of = [], {}
        self._first = self.step
        self._epochs = [(0, self._epoch)]
        self._flush_due = False
        self.flushed_nonfinite = False
        self.vitals.loop.update(steps=self.step, optimizer_steps=self._opt_steps)
        if not raw:
            if self.reducer is not None:  # every rank takes part in every flush's collective
                self.reducer([])
            return []
        cur = self._cur
        rows = [self.layout.empty_row() for _ in range(self._n)]
        keep = self._fill_rows(rows, cur)
        losses = self._host_losses(raw)
        alive = {j: a.double().cpu().tolist() for j, a in self._alive.items()}
        param_layers, names = self._player, [w[0] for w in self._watched]
        records: list[dict[str, Any]] = []
        last = len(raw) - 1
        marks = dict(epochs)
        # runs of plain steps (one epoch, no sampled row) are built in one comprehension; the
        # steps that hold a sampled row, and the last one, go through build_record
        cuts = sorted({0, last, *marks, *rows_of})
        epoch = None
        for a, b in zip(cuts, cuts[1:] + [last + 1], strict=True):
            epoch = marks.get(a, epoch)
            if a in rows_of or a == last:
                row = rows_of.get(a, -1)
                meta = {"step": first + a, "epoch": epoch}
                blocks = None
                if row >= 0:
                    meta.update(self._meta[row])
                    blocks = self.layout.decode(rows[row])
                rec = build_record(meta, losses[a], blocks, param_layers=param_layers,
                                   layer_names=names, alive=alive if a == last else None)
                if isinstance(rec["loss"], str) or isinstance(rec.get("grad_norm"), str):
                    self.flushed_nonfinite = True
                records.append(rec)
                a += 1
            if a < b:
                plain, nonfinite = _plain_records(first + a, epoch, losses[a:b])
                records += plain
                self.flushed_nonfinite = self.flushed_nonfinite or nonfinite
        self._reset(keep)
        if self.reducer is not None:
            self.reducer(records)
            self.flushed_nonfinite = self.flushed_nonfinite or any(
                isinstance(r.get("loss"), str) for r in records)
        self.vitals.extend(records, max_records=self.max_records)
        self._every = self._stretch()
        self._plan()
        return records

    def _stretch(self) -> int:
        """Steps the next flush holds: ``interval``, or more when steps are so short that
        ``interval`` of them last less than ``flush_seconds``."""
        step_s = self.budget.step_seconds
        if self.flush_seconds is None or self.reducer is not None or not step_s:
            return self.interval
        return min(self.interval * MAX_STRETCH,
                   max(self.interval, math.ceil(self.flush_seconds / step_s)))

    def _fill_rows(self, rows: list[list[float]], cur: int | None) -> tuple[list[Any], ...]:
        """Write the kept device values into host ``rows`` (one copy); return the open row's."""
        vals, at, vecs = self._vals, self._at, self._vecs
        keep: tuple[list[Any], ...] = ([], [], [])
        if cur is not None:  # the open row's values stay on the device, as row 0
            keep = ([v for v, (r, _) in zip(vals, at, strict=True) if r == cur],
                    [(0, c) for r, c in at if r == cur],
                    [(0, c, t) for r, c, t in vecs if r == cur])
            done = [i for i, (r, _) in enumerate(at) if r != cur]
            vals, at = [vals[i] for i in done], [at[i] for i in done]
            vecs = [v for v in vecs if v[0] != cur]
        if not vals and not vecs:
            return keep
        try:  # the 0-d values and the 1-d blocks (histogram, accuracy, batch) in one copy
            parts = [torch.stack(vals)] if vals else []
            host = torch.cat(parts + [t for _, _, t in vecs]).double().cpu().tolist()
        except (RuntimeError, TypeError):  # values on several devices: one at a time
            host = [float(v) for v in vals]
            for _, _, t in vecs:
                host += t.double().cpu().tolist()
        k = len(at)
        for (r, c), v in zip(at, host[:k], strict=True):
            rows[r][c] = v
        for r, c, t in vecs:
            n = t.numel()
            rows[r][c:c + n] = host[k:k + n]
            k += n
        return keep

    @staticmethod
    def _host_losses(raw: list[Any]) -> list[float | None]:
        """The losses on the host: one stack and one copy for those that are tensors."""
        # values are tensors, floats or None (isinstance(v, torch.Tensor) is slow: a metaclass)
        idx = [i for i, v in enumerate(raw) if v is not None and type(v) is not float]
        if not idx:
            return raw
        out: list[float | None] = [v if v is None or type(v) is float else None for v in raw]
        if idx:
            ts = [raw[i] for i in idx]
            try:
                vals = torch.stack(ts).double().cpu().tolist()
            except (RuntimeError, TypeError):  # mixed devices or dtypes: one at a time
                vals = [t.double().cpu().item() for t in ts]
            for i, v in zip(idx, vals, strict=True):
                out[i] = v
        return out

    def _reset(self, keep: tuple[list[Any], ...]) -> None:
        cur = self._cur
        self._vals, self._at, self._vecs = keep  # type: ignore[assignment]
        if cur is not None:
            self._meta[0] = self._meta[cur]
            self._cur = 0
            self._snap_row = 0 if self._snap_row == cur else None
            self._n = 1
        else:
            self._snap_row = None
            self._n = 0
        self._upd_row = None
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


def _plain_records(step: int, epoch: int | None,
                   values: list[float | None]) -> tuple[list[dict[str, Any]], bool]:
    """The records of consecutive plain steps from ``step`` on (losses ``values``), and
    whether a loss among them is NaN or Inf (recorded as text, :func:`measured`)."""
    try:  # one sum tells whether every loss is a finite number (the common case)
        common = math.isfinite(sum(values))
    except TypeError:  # a step without a loss (None)
        common = False
    if common:
        return [{"step": step + i, "epoch": epoch, "loss": v} for i, v in enumerate(values)], False
    out, nonfinite = [], False
    for i, v in enumerate(values):
        if v is not None and not math.isfinite(v):
            nonfinite = True
            v = measured(v)
        out.append({"step": step + i, "epoch": epoch, "loss": v})
    return out, nonfinite
