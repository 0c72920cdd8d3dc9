"""The :class:`GanDoctor`: a doctor for two-network GAN loops in any user's code."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchdoctor.catalogue import Thresholds, thresholds_from
from torchdoctor.doctor import SAMPLE_EVERY, ConsoleSink, Doctor, Vitals, diagnose
from torchdoctor.doctor.remedies import attach_remedies
from torchdoctor.doctor.vitals import finite, stepped_ids
from torchdoctor.findings import SEVERITY_RANK, Finding
from torchdoctor.gan._gd_motion import ParamMotion
from torchdoctor.gan._gd_samples import RealReservoir, sample_stats
from torchdoctor.gan._gd_series import GanSeries, as_scores
from torchdoctor.gan._gd_zero_grad import ZeroGradCheck

__all__ = ["DIAGNOSE_BUDGET", "GAN_CODES", "GanDoctor", "NET_SAMPLE_BUDGET", "NOT_FOR_GANS",
           "SAMPLE_STATS_BUDGET"]

log = logging.getLogger("torchdoctor")

#: The GAN symptom codes (rules on the GAN series).
GAN_CODES = ("gan_discriminator_wins", "gan_mode_collapse", "gan_discriminator_ineffective")
#: Codes of the per-network doctors left out: GAN losses oscillate and stall by nature, and
#: the zero_grad check is the GAN-aware one of :class:`~torchdoctor.gan._gd_zero_grad.ZeroGradCheck`.
NOT_FOR_GANS = frozenset({"loss_plateau", "loss_oscillating", "missing_zero_grad",
                          "train_mode_in_eval"})
#: Fewest sampled steps filling the reservoir of real samples before statistics are computed.
_FILL_STEPS = 5
#: Once full, the reservoir takes a real batch on one run of the sample statistics in this many
#: (each change costs a k-NN pass over the reservoir; the real data's distribution does not move).
_REFILL_EVERY = 32
#: Default share of training time the sample statistics may take (after the first ones).
SAMPLE_STATS_BUDGET = 0.005
#: Share of training time each network's doctor may spend on its sampled steps (when
#: ``sample_every`` is not given; a plain Doctor's is ``SAMPLE_BUDGET``): two networks, half each.
NET_SAMPLE_BUDGET = 0.005
#: Share of training time the rules may take while training (console on).
DIAGNOSE_BUDGET = 0.0025
#: The per-network doctors' own rule budget: next to nothing (this doctor runs their rules).
_NET_DIAGNOSE_BUDGET = 1e-6


class _Named(nn.Module):
    """Holds one network under a name, so that its layers are named ``G.…`` / ``D.…``."""

    def __init__(self, name: str, net: nn.Module) -> None:
        super().__init__()
        self.add_module(name, net)


class GanDoctor:
    """Watches a GAN loop: each network's vitals and gradient symptoms, and the GAN symptoms.

    Usage::

        gd = td.GanDoctor(G, D, opt_g, opt_d)          # optimizers optional
        loss_d.backward(); gd.step_d(loss_d, real_scores=d_real, fake_scores=d_fake,
                                     real=x_real, fake=x_fake); opt_d.step()
        loss_g.backward(); gd.step_g(loss_g, fake_scores=d_fake_g); opt_g.step()
        gd.findings; gd.report("gan.html"); gd.close()

    Scores are the discriminator's raw outputs (logits, probabilities or critic values, shape
    (N,) or (N, 1)); ``real``/``fake`` (N, ...) batches are optional and enable the sample
    statistics (recall, coverage, diversity) on sampled steps; each network's relative weight
    change per step is read on its sampled steps too (a D that does not learn, or lags far
    behind G, is named whatever its optimizer). Several discriminator steps per
    generator step, WGAN critics, hinge losses, the DCGAN order (the generator's loss
    backpropagates through D) and ``torch.no_grad`` sampling are all fine. The GanDoctor never
    ends the loop: a value it cannot read is named once in a warning of the ``torchdoctor``
    logger, an internal failure is reported once, and training goes on.

    Args:
        generator, discriminator: the two networks (hooks are registered; :meth:`close` removes
            them; the networks are never modified).
        opt_g, opt_d: their optimizers (optional; update ratios and no_update checks).
        sample_every: one step in ``sample_every`` (per network) gets full statistics; the
            sample statistics run on one discriminator step in ``sample_every``, within
            :data:`SAMPLE_STATS_BUDGET` of the training time. Default:
            :data:`~torchdoctor.doctor.SAMPLE_EVERY`, each network's sampled steps within
            :data:`NET_SAMPLE_BUDGET` of the training time; given, exactly those steps.
        reservoir: real samples kept for the sample statistics (>= 16).
        thresholds: a :class:`~torchdoctor.catalogue.Thresholds` or a dict of overrides.
        console: print a line when a new warning or error appears.
        title: report title.

    Raises:
        ValueError: a bad argument (the message names it).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module,
                 opt_g: torch.optim.Optimizer | None = None,
                 opt_d: torch.optim.Optimizer | None = None, *,
                 sample_every: int | None = None, reservoir: int = 512,
                 thresholds: Thresholds | dict[str, float] | None = None,
                 console: bool = True, title: str = "torchdoctor GAN run") -> None:
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(net, nn.Module):
                raise ValueError(f"{name} must be a torch.nn.Module, got {type(net).__name__}")
        if generator is discriminator:
            raise ValueError("generator and discriminator must be two different modules")
        every = SAMPLE_EVERY if sample_every is None else sample_every
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"sample_every must be an int >= 1, got {sample_every!r}")
        if not isinstance(reservoir, int) or isinstance(reservoir, bool) or reservoir < 16:
            raise ValueError(f"reservoir must be an int >= 16, got {reservoir!r}")
        self.thresholds = thresholds_from(thresholds)
        self.sample_every = every
        self.title, self.console = title, bool(console)
        #: The per-network doctors (layers named ``G.…`` and ``D.…``); their loss-curve rules
        #: and zero_grad check are left out (:data:`NOT_FOR_GANS`).
        #: Their rules run when this doctor diagnoses (within :data:`DIAGNOSE_BUDGET`), not on
        #: their own flushes as well: a second run each would only repeat the same work.
        budget = NET_SAMPLE_BUDGET if sample_every is None else None
        self.g_doctor = Doctor(_Named("G", generator), opt_g, sample_every=sample_every,
                               sample_budget=budget, console=False, thresholds=self.thresholds,
                               diagnose_budget=_NET_DIAGNOSE_BUDGET, title=f"{title}: G")
        self.d_doctor = Doctor(_Named("D", discriminator), opt_d, sample_every=sample_every,
                               sample_budget=budget, console=False, thresholds=self.thresholds,
                               diagnose_budget=_NET_DIAGNOSE_BUDGET, title=f"{title}: D")
        self.series = GanSeries()
        self.reservoir = RealReservoir(reservoir)
        self.epochs: list[dict[str, Any]] = []
        self._zg = {"G": ZeroGradCheck(self._probe(generator, opt_g)),
                    "D": ZeroGradCheck(self._probe(discriminator, opt_d))}
        #: Relative weight change per step of each network, on its sampled steps.
        self._motion = {"G": ParamMotion(generator), "D": ParamMotion(discriminator)}
        self.d_steps = self.g_steps = 0
        self._next_check = {"G": 0, "D": 0}
        self._warned: set[str] = set()
        self._failed: set[str] = set()
        self._findings: list[Finding] = []
        self._ruled = (-1, -1)
        self._sink = ConsoleSink()
        self._closed = False
        self._t0 = time.perf_counter()
        self._diag_cost = 0.0
        self._diag_end = self._t0
        self._stats_cost = 0.0  # seconds spent on sample statistics
        self._stats_runs = 0

    @staticmethod
    def _probe(net: nn.Module, opt: torch.optim.Optimizer | None) -> nn.Parameter | None:
        stepped = stepped_ids(opt) if opt is not None else None
        return next((p for p in net.parameters() if p.requires_grad
                     and (stepped is None or id(p) in stepped)), None)

    # ------------------------------------------------------------------ failures and warnings
    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("torchdoctor: %s", message)

    def _failure(self, where: str, exc: BaseException) -> None:
        if where not in self._failed:
            self._failed.add(where)
            log.warning("torchdoctor: GanDoctor %s failed (%s: %s); training continues",
                        where, type(exc).__name__, exc)

    # ------------------------------------------------------------------ user API
    def step_d(self, loss_d: Any, *, real_scores: Any = None, fake_scores: Any = None,
               real: Any = None, fake: Any = None) -> None:
        """Record one discriminator step; call after ``loss_d.backward()``, before ``opt_d.step()``.

        Args:
            loss_d: the discriminator's scalar loss.
            real_scores (Tensor[N] or Tensor[N, 1]): D's raw outputs on the real batch.
            fake_scores (Tensor[M] or Tensor[M, 1]): D's raw outputs on the fake batch.
            real (Tensor[N, ...]): the real batch (optional; sample statistics).
            fake (Tensor[M, ...]): the generated batch (optional; sample statistics).
        """
        try:
            self.d_doctor.step(None)
            step = self.d_steps
            self.d_steps += 1
            self._zg["D"].read(step)
            self.series.add_d(step, self.g_steps, loss_d, as_scores(real_scores, "real_scores", self._warn),
                              as_scores(fake_scores, "fake_scores", self._warn))
            if self.g_steps >= self._next_check["G"] and not self._zg["G"].armed:
                self._zg["G"].arm()
                self._next_check["G"] = self.g_steps + self.sample_every
            elif self._zg["G"].armed:
                self._zg["G"].arm()  # the latest D step counts (D's backward may reach G)
            if step < _FILL_STEPS or step % self.sample_every == 0:
                self._samples(step, real, fake)
            if step % self.sample_every == 0:
                self._motion["D"].measure(step)
            if step % 256 == 255:
                self._maybe_diagnose()
        except Exception as exc:
            self._failure("step_d", exc)

    def step_g(self, loss_g: Any, *, fake_scores: Any = None) -> None:
        """Record one generator step; call after ``loss_g.backward()``, before ``opt_g.step()``.

        Args:
            loss_g: the generator's scalar loss.
            fake_scores (Tensor[M] or Tensor[M, 1]): D's raw outputs on the generator's fakes.
        """
        try:
            self.g_doctor.step(None)
            step = self.g_steps
            self.g_steps += 1
            self._zg["G"].read(step)
            self.series.add_g(step, loss_g, as_scores(fake_scores, "fake_scores", self._warn))
            if step % self.sample_every == 0:
                self._motion["G"].measure(step)
            if self.d_steps >= self._next_check["D"] and not self._zg["D"].armed:
                self._zg["D"].arm()
                self._next_check["D"] = self.d_steps + self.sample_every
            elif self._zg["D"].armed:
                self._zg["D"].arm()  # the latest G step counts (G's backward reaches D)
        except Exception as exc:
            self._failure("step_g", exc)

    def observe(self, **metrics: Any) -> None:
        """Hand over epoch-level metrics (e.g. a sample score once per epoch); each call ends
        an epoch of both networks. Values that are not real numbers are skipped (said once)."""
        try:
            row: dict[str, Any] = {"epoch": len(self.epochs), "d_steps": self.d_steps,
                                   "g_steps": self.g_steps}
            for k, v in metrics.items():
                if isinstance(v, torch.Tensor) and v.numel() == 1:
                    v = v.item()
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    self._warn(f"metric:{k}", f"observe: {k} must be a real number, got "
                               f"{type(v).__name__}; it is ignored")
                    continue
                row[k] = float(v)
            self.epochs.append(row)
            self.g_doctor.observe()
            self.d_doctor.observe()
        except Exception as exc:
            self._failure("observe", exc)

    def _samples(self, step: int, real: Any, fake: Any) -> None:
        """Sampled step: offer the real batch to the reservoir; statistics of the fake batch,
        within :data:`SAMPLE_STATS_BUDGET` of the time since the start (the first 4 always,
        and not charged: they fill the reservoir and compute its first k-NN radii, so that
        the statistics that follow are spread over the whole run)."""
        if self._stats_runs >= 4 and self._stats_cost > SAMPLE_STATS_BUDGET * (time.perf_counter() - self._t0):
            return
        t0 = time.perf_counter()
        runs = self._stats_runs
        try:
            self._sample_stats(step, real, fake)
        finally:
            # the first runs (reservoir filling, first k-NN radii) are not charged to the budget
            self._stats_cost = 0.0 if runs < 4 else self._stats_cost + time.perf_counter() - t0

    def _sample_stats(self, step: int, real: Any, fake: Any) -> None:
        res = self.reservoir
        full = res.data is not None and len(res.data) >= res.size
        if real is not None and (not full or self._stats_runs % _REFILL_EVERY == _REFILL_EVERY - 1):
            if not isinstance(real, torch.Tensor) or not real.is_floating_point() or real.dim() < 1:
                self._warn("real", f"real must be a floating tensor (N, ...), got "
                           f"{type(real).__name__}; sample statistics are off")
                return
            self.reservoir.offer(real)
        if fake is None or step < _FILL_STEPS or self.reservoir.data is None:
            return
        if not isinstance(fake, torch.Tensor) or not fake.is_floating_point() or fake.dim() < 1:
            self._warn("fake", f"fake must be a floating tensor (N, ...), got "
                       f"{type(fake).__name__}; sample statistics are off")
            return
        if len(fake) < 5:
            self._warn("fake_small", f"fake has {len(fake)} samples: sample statistics need 5")
            return
        self.series.samples.append({"step": step, **sample_stats(self.reservoir, fake[:128])})
        self._stats_runs += 1

    # ------------------------------------------------------------------ findings
    @property
    def step_count(self) -> tuple[int, int]:
        """``(generator steps, discriminator steps)`` recorded so far."""
        return self.g_steps, self.d_steps

    @property
    def findings(self) -> list[Finding]:
        """Current findings, most severe first: the GAN symptoms, then each network's (their
        message names the network: ``[G]``/``[D]``, layers ``G.…``/``D.…``)."""
        if (self.g_steps, self.d_steps) != self._ruled and not self._closed:
            try:
                self._diagnose()
            except Exception as exc:
                self._failure("findings", exc)
        return list(self._findings)

    def diagnose(self) -> list[Finding]:
        """Run every rule now and return the findings."""
        try:
            self._diagnose()
        except Exception as exc:
            self._failure("diagnose", exc)
        return list(self._findings)

    def gan_vitals(self) -> Vitals:
        """The GAN series as the :class:`~torchdoctor.doctor.Vitals` the GAN rules read
        (``loop["gan"]``, see ``docs/gan-doctor.md``)."""
        self.series.flush()
        if not self._closed:
            self.g_doctor.flush(diagnose_now=False)
        g_grad = [[r["step"], r["grad_norm"]] for r in self.g_doctor.vitals.records
                  if finite(r.get("grad_norm"))]
        return Vitals(loop={"gan": self.series.as_loop(g_grad, d_motion=self._motion["D"].host(),
                                                       g_motion=self._motion["G"].host())})

    def _maybe_diagnose(self) -> None:
        """During training, when the console is on and within :data:`DIAGNOSE_BUDGET` of the
        time since the last run."""
        if self.console and (time.perf_counter() - self._diag_end) * DIAGNOSE_BUDGET >= self._diag_cost:
            self._diagnose()

    def _diagnose(self) -> None:
        t0 = time.perf_counter()
        t = self.thresholds
        found: list[Finding] = []
        for net, doc in (("G", self.g_doctor), ("D", self.d_doctor)):
            for f in doc.findings:
                if f.code not in NOT_FOR_GANS:
                    found.append(_tag(f, net))
        v = self.gan_vitals()
        found += attach_remedies(diagnose(v, codes=list(GAN_CODES), thresholds=t))
        for net, rows in (("G", self.series.g), ("D", self.series.d)):
            losses = Vitals(records=[{"step": r["step"], "loss": r["loss"]} for r in rows])
            zero = Vitals(records=self._zg[net].host())
            found += [_tag(f, net) for f in attach_remedies(
                diagnose(losses, codes=["nonfinite"], thresholds=t)
                + diagnose(zero, codes=["missing_zero_grad"], thresholds=t))]
        found.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.code, f.layer or ""))
        old = {(f.code, f.layer, f.evidence.get("network")): f.severity for f in self._findings}
        fresh = [f for f in found if (f.code, f.layer, f.evidence.get("network")) not in old
                 or SEVERITY_RANK[f.severity] > SEVERITY_RANK[old[(f.code, f.layer, f.evidence.get("network"))]]]
        self._findings = found
        self._ruled = (self.g_steps, self.d_steps)
        if self.console and fresh:
            self._sink.on_findings(found, fresh)
        self._diag_end = time.perf_counter()
        self._diag_cost = self._diag_end - t0

    # ------------------------------------------------------------------ report, close
    def summary(self) -> dict[str, Any]:
        """Key facts of the run for the report."""
        return {"generator steps": self.g_steps, "discriminator steps": self.d_steps,
                "sampled steps with sample statistics": len(self.series.samples),
                "real samples in the reservoir": 0 if self.reservoir.data is None
                else len(self.reservoir.data),
                "duration_s": round(time.perf_counter() - self._t0, 3),
                "findings": len(self._findings)}

    def report(self, path: str | os.PathLike[str]) -> Path:
        """Write the self-contained HTML page (losses, scores, AUC, recall/coverage over steps;
        findings); returns its path.

        Raises:
            ValueError: ``path`` is not a path, or names a directory.
            OSError: the file cannot be written (the message names it).
        """
        from torchdoctor.gan._gd_report import write_gan_report

        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"report path must be a str or os.PathLike, got {type(path).__name__}")
        out = Path(path)
        if out.is_dir():
            raise ValueError(f"report path must name a file, got the directory {str(out)[:200]!r}")
        findings = self.findings
        return write_gan_report(out, self.title, self.series, findings, self.summary())

    def close(self) -> None:
        """Final diagnosis, every hook removed (both networks). Idempotent; never raises."""
        if self._closed:
            return
        try:
            self._diagnose()
        except Exception as exc:
            self._failure("close", exc)
        finally:
            for zg in self._zg.values():
                zg.disarm()
            for doc in (self.g_doctor, self.d_doctor):
                doc.close()
            self._closed = True

    def __enter__(self) -> GanDoctor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _tag(f: Finding, net: str) -> Finding:
    """Name the network in a finding of one network (its layers already carry the prefix)."""
    if f.evidence.get("network") != net:
        f.evidence["network"] = net
        if not f.message.startswith(f"[{net}]"):
            f.message = f"[{net}] {f.message}"
    return f
