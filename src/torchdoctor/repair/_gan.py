"""Repair of GAN configs (``train.task: gan``): the tricks as remedies, scored by the modes.

1. The config trains once (a GAN is judged by its final samples, so every run is a whole
   training); its findings are the GAN doctor's when it is attached, plus the outcome
   findings of the mode metrics (``gan_mode_collapse``).
2. Candidates: the findings' remedies (the catalogue's spec of each finding code names them,
   :data:`torchdoctor.repair.PATCHES` gives their config patches), ordered by
   :data:`GAN_PRIORITY`, then the other tricks of :data:`GAN_PRIORITY`; each candidate is the
   current config plus one remedy's patch.
3. Each candidate trains; the best replaces the current config when its score beats it by
   :data:`MIN_GAIN`. Rounds repeat until no finding is left, no candidate helps, or ``rounds``.

Score (higher is better): (captured modes + high-quality share) / modes for mixtures, (classes
generated + coverage) / classes for labelled data (one more mode outweighs any quality: the
cure is for mode collapse); coverage otherwise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchdoctor.findings import Finding
from torchdoctor.repair._document import repair_document
from torchdoctor.repair._patch import apply_patch
from torchdoctor.repair._remedy_patches import patch_for
from torchdoctor.train.config import Config

__all__ = ["GAN_PRIORITY", "GanRepairResult", "GanRun", "gan_score", "propose_gan_candidates",
           "repair_gan"]

#: Order in which GAN remedies are tried (own choice, from the benchmark's development seeds,
#: docs/gan.md): what cures mode collapse first, then what steadies the discriminator.
GAN_PRIORITY: tuple[str, ...] = (
    "non_saturating_loss", "pack_samples", "two_timescale_rates", "spectral_norm",
    "gradient_penalty", "instance_noise", "soft_labels", "more_d_steps", "fewer_d_steps",
)
#: A candidate must beat the current score by this much to be kept.
MIN_GAIN = 0.02
#: Candidates trained per round at most.
MAX_CANDIDATES = 3


def gan_score(metrics: dict[str, Any]) -> float:
    """Higher is better; see the module doc. ``-inf`` without metrics."""
    cov = metrics.get("coverage")
    cov = float(cov) if isinstance(cov, (int, float)) and math.isfinite(cov) else 0.0
    modes, k = metrics.get("modes"), metrics.get("num_modes")
    if isinstance(modes, int) and isinstance(k, int) and k > 0:
        hq = metrics.get("high_quality")
        second = float(hq) if isinstance(hq, (int, float)) and math.isfinite(hq) else cov
        return (modes + second) / k  # one more mode outweighs any quality
    return cov if "coverage" in metrics else float("-inf")


@dataclass
class GanRun:
    """One trained GAN config with its findings (a repair's baseline or candidate)."""

    name: str
    config: Config
    patch: dict[str, Any] = field(default_factory=dict)
    remedies: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def train(self) -> GanRun:
        """Train the config (in memory) with the doctor when available."""
        from torchdoctor.gan import GanTrainer
        from torchdoctor.gan.run import make_doctor, run_findings

        t0 = time.perf_counter()
        trainer = GanTrainer(self.config)
        doctor = make_doctor(trainer, None)
        trainer.doctor = doctor
        try:
            result = trainer.fit()
        finally:
            if doctor is not None:
                try:
                    doctor.close()
                except Exception:  # noqa: BLE001, S110 - a doctor never stops a repair
                    pass
        self.metrics = dict(result.metrics)
        self.history = list(result.history)
        self.findings = run_findings(doctor, self.metrics)
        self.seconds = time.perf_counter() - t0
        return self

    def score(self) -> float:
        return gan_score(self.metrics)

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def propose_gan_candidates(cfg: Config, findings: list[Finding], *,
                           max_candidates: int = MAX_CANDIDATES,
                           tried: list[str] | None = None,
                           fallback: bool = True) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, str]]]:
    """``[(remedy code, patch)]`` from the findings' remedies in :data:`GAN_PRIORITY` order
    (remedies outside it after, in the findings' order), then, with ``fallback``, every other
    trick of :data:`GAN_PRIORITY`; patches that do not apply or change nothing are skipped
    (returned with their reason)."""
    codes: list[str] = []
    patches: dict[str, dict[str, Any]] = {}
    finding_of: dict[str, str] = {}
    for f in findings:
        if f.severity not in ("error", "warning"):
            continue
        for r in f.remedies:
            if r.patch and r.code not in patches:
                codes.append(r.code)
                patches[r.code] = dict(r.patch)
                finding_of[r.code] = f.code
    order = {c: i for i, c in enumerate(GAN_PRIORITY)}
    codes.sort(key=lambda c: order.get(c, len(order)))
    if finding_of and fallback:  # then every other GAN trick, in the fixed priority
        first = next(iter(finding_of.values()))
        for code in GAN_PRIORITY:
            if code not in patches:
                codes.append(code)
                patches[code] = patch_for(code)
                finding_of[code] = first
    out: list[tuple[str, dict[str, Any]]] = []
    skipped: list[dict[str, str]] = []
    for code in codes:
        if tried and code in tried:
            continue
        res = apply_patch(cfg, patches[code])
        if not res.ok or not res.changes:
            skipped.append({"remedy": code, "finding": finding_of[code], "reason": res.reason})
            continue
        out.append((code, patches[code]))
        if len(out) >= max_candidates:
            break
    return out, skipped


@dataclass
class GanRepairResult:
    """What :func:`repair_gan` did; :meth:`to_json` has the shape of ``repair --json``."""

    before: GanRun
    after: GanRun
    applied: list[str]
    rounds: int
    tried: list[GanRun] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def config(self) -> Config:
        return self.after.config

    def to_json(self) -> dict[str, Any]:
        from torchdoctor import rundir

        return repair_document(self, metrics=rundir.jsonable, one_training_seconds=self.before.seconds)

    def write_report(self, path: str | Path) -> Path:
        """A self-contained HTML page: before and after, the candidates, the findings."""
        from html import escape

        from torchdoctor.report import Section, findings_section, gan_sections, render_page
        from torchdoctor.rundir import atomic_write_text

        doc = self.to_json()
        rows = "".join(
            f"<tr><td>{escape(c['name'])}</td><td>{escape(', '.join(c['remedies']) or '—')}</td>"
            f"<td>{escape(str(c['metrics'].get('modes', '—')))}</td>"
            f"<td>{escape(str(c['metrics'].get('high_quality', '—')))}</td>"
            f"<td>{escape(str(c['metrics'].get('coverage', '—')))}</td></tr>"
            for c in [{"name": "before", "remedies": [], "metrics": doc["before"]["metrics"]},
                      *doc["candidates"]])
        table = ("<table><tr><th>run</th><th>remedies</th><th>modes</th><th>high quality</th>"
                 f"<th>coverage</th></tr>{rows}</table>")
        diff = "".join(f"<tr><td>{escape(k)}</td><td>{escape(repr(a))}</td><td>{escape(repr(b))}</td></tr>"
                       for k, (a, b) in doc["diff"].items())
        sections = [
            Section("summary", "Repair", f"<p>applied: {escape(', '.join(self.applied) or 'nothing')}</p>"
                    f"<table><tr><th>key</th><th>before</th><th>after</th></tr>{diff}</table>"),
            Section("candidates", "Runs", table),
            findings_section([f.to_dict() for f in self.before.findings], id="before",
                             title="Findings before"),
        ]
        for s in gan_sections(self.after.history, {}):
            if s.id in ("discriminator", "modes"):
                sections.append(Section(f"after-{s.id}", f"After: {s.title}", s.body))
        return atomic_write_text(path, render_page("torchdoctor: GAN repair", sections))


def repair_gan(cfg: Config, *, rounds: int = 3, log: Callable[[str], Any] | None = None,
               max_candidates: int = MAX_CANDIDATES) -> GanRepairResult:
    """Repair a GAN config; see the module doc. ``log`` receives one line per run."""
    t0 = time.perf_counter()
    say = log or (lambda _msg: None)
    before = GanRun("baseline", cfg).train()
    say(f"baseline: {_line(before)}")
    current, applied, tried, skipped = before, [], [], []
    done = 0
    for rnd in range(rounds):
        if not current.findings:
            break
        done = rnd + 1
        cands, skip = propose_gan_candidates(current.config, current.findings,
                                             max_candidates=max_candidates, tried=applied)
        skipped += skip
        best: GanRun | None = None
        for code, patch in cands:
            res = apply_patch(current.config, patch)
            assert res.config is not None
            run = GanRun(f"round {rnd + 1}: {code}", res.config, patch, [code]).train()
            tried.append(run)
            say(f"{run.name}: {_line(run)}")
            if best is None or run.score() > best.score():
                best = run
            if not run.findings:
                break  # nothing left to cure
        if best is None or best.score() < current.score() + MIN_GAIN:
            break
        current = best
        applied += best.remedies
    return GanRepairResult(before, current, applied, done, tried, skipped,
                           time.perf_counter() - t0)


def _line(run: GanRun) -> str:
    m = run.metrics
    parts = [f"{k} {m[k]:.3f}" if isinstance(m.get(k), float) else f"{k} {m[k]}"
             for k in ("modes", "high_quality", "coverage") if k in m]
    codes = ", ".join(sorted({f.code for f in run.findings})) or "no findings"
    return f"{', '.join(parts)}; {codes}"
