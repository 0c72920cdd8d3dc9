"""The repair loop: diagnose, propose changes, train candidates, keep what helps.

1. Baseline: the config trains for a budget (``budget`` of its epochs, at least
   :data:`MIN_RUN_STEPS` optimizer steps) with the Doctor attached.
2. Candidates, in this order:

   - *differential diagnosis* (:mod:`torchdoctor.repair._family`): the keys the user moved away
     from the healthy default of the same dataset and architecture and that the findings
     implicate, reset to the default, all in one candidate; when that reset would raise the
     batch size (fewer updates per epoch), the same reset without the batch size and its
     rate is tried first (:func:`differential_candidates`);
   - the findings' remedies as config patches (:func:`propose_candidates`);
   - both weighed by *evidence at step 0* (:mod:`torchdoctor.repair._evidence`): ReLU units
     dead before the first update implicate the biases, the init and the input scale, not the
     rate; units that die after a blow-up implicate the rate.

3. Each candidate trains under the same budget; one that shows an error-level finding that its
   parent did not have is stopped at once; one that is no better than its parent halfway
   through (same epoch) and resolved none of its parent's cause-level findings is stopped
   there; the first better candidate that shows no warning or error ends the round.
4. The best candidate replaces the current config when it beats it by :data:`MIN_GAIN`. Else
   a candidate that *resolved* a cause-level finding of its parent without a new error and
   without losing more than :data:`PROGRESS_SLACK` replaces it (two faults at once: curing
   one may not raise the score until the other is cured too): progress counts findings
   resolved, not only the score.
5. Stop rule: when no finding is left or no candidate made progress, the family default
   itself trains once (a probe, judged on its whole budget); the search continues
   from it when it clearly beats the current config (what this data and model family can
   reach), else it ends.
6. Rounds repeat within ``rounds`` and within ``search_cost`` full trainings' worth of
   candidate epochs (at least :data:`MIN_SEARCH_RUNS` runs of at least :data:`MIN_RUN_STEPS`
   steps each, so a 3-epoch config still compares candidates; a larger model's epochs weigh
   more). Counting epochs, not seconds, makes a repair reproducible on a busy machine.
7. The winner continues from its budget run to the full length (only the remaining epochs).

A candidate that moves the rate to the optimizer's usual one by 10× or more first runs a short
three-point rate probe (:mod:`torchdoctor.repair._rate_probe`) and trains at its pick.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from torchdoctor.catalogue import outcome_codes, repair_order
from torchdoctor.findings import Finding
from torchdoctor.repair._document import repair_document
from torchdoctor.repair._evidence import InitEvidence, init_evidence
from torchdoctor.repair._family import IMPLICATES, deviations, family_default, implicated_keys
from torchdoctor.repair._patch import apply_patch, merge_patches
from torchdoctor.repair._rate_probe import JUMP, probe_epochs, probe_rate
from torchdoctor.repair._session import Session
from torchdoctor.train.config import Config, config_from_dict, load_config
from torchdoctor.train.targets import TrainInputs, prepare_inputs

#: Share of ``train.epochs`` a diagnosis or candidate run gets (at least MIN_BUDGET_EPOCHS).
DEFAULT_BUDGET = 0.25
MIN_BUDGET_EPOCHS = 3
#: Optimizer steps a diagnosis or candidate run gets at least (capped by the whole training).
#: Own choice: twice the rate probe's 20 steps, which rank rates on digits as 40 steps do.
MIN_RUN_STEPS = 40
#: Candidate runs the search may always afford, whatever ``search_cost`` allows: a short
#: (3-epoch) training, whose every run is the whole training, still compares two candidates.
MIN_SEARCH_RUNS = 2
#: A candidate that resolved a cause-level finding is kept when its score is at most this much
#: below its parent's (accuracy points as a fraction; regression: a fraction of the loss).
PROGRESS_SLACK = 0.02
#: Candidates per round at most.
MAX_CANDIDATES = 4
#: Epochs the candidates may train, in full trainings of the original config. The baseline's and
#: the winner's budget epochs are not lost (the winner continues from them), so a repair costs
#: about ``1 + search_cost`` trainings; at least one candidate is always tried.
DEFAULT_SEARCH_COST = 0.6
#: A candidate must beat the current score by this much to be kept (noise margin).
MIN_GAIN = 0.005


@dataclass
class Candidate:
    """One proposed change: a merged patch and the remedies it comes from."""

    patch: dict[str, Any]
    remedies: list[str]
    findings: list[str]


@dataclass
class RepairResult:
    """Everything ``repair`` did. :meth:`to_json` gives the ``repair --json`` document."""

    before: Session
    after: Session
    applied: list[str]
    rounds: int
    tried: list[Session] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    full_training_seconds: float = 0.0

    @property
    def config(self) -> Config:
        return self.after.config

    def to_json(self) -> dict[str, Any]:
        return repair_document(self, metrics=_clean, one_training_seconds=self.full_training_seconds)


def _clean(m: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in m.items()}


def budget_epochs(cfg: Config, budget: float, steps_per_epoch: int | None = None) -> int:
    """Epochs of a diagnosis or candidate run: ``budget × train.epochs``, at least 3 and at
    least :data:`MIN_RUN_STEPS` optimizer steps when ``steps_per_epoch`` is given, at most
    ``train.epochs``."""
    n = max(MIN_BUDGET_EPOCHS, math.ceil(budget * cfg.train.epochs))
    if steps_per_epoch:
        n = max(n, math.ceil(MIN_RUN_STEPS / steps_per_epoch))
    return min(cfg.train.epochs, n)


def steps_per_epoch(cfg: Config, inputs: TrainInputs) -> int:
    """Optimizer steps in one epoch of ``cfg`` on ``inputs`` (``gd``: one)."""
    n = len(inputs.data.x_train)
    return 1 if cfg.train.optimizer == "gd" else max(1, math.ceil(n / cfg.train.batch_size))


#: Order in which findings are treated: a setup bug (a cause) before the symptoms it produces,
#: derived from the symptom specs' repair rank (:mod:`torchdoctor.catalogue`). A vanishing
#: gradient caused by unnormalized inputs is cured by normalizing them.
CAUSE_ORDER: tuple[str, ...] = repair_order()
#: Findings about the outcome (fit, progress of the loss), not a mechanism (specs with role
#: "outcome"): they join the merged candidate only when nothing else was found. Early in a sick
#: run the loss also plateaus and the model "underfits"; raising the rate on top of a
#: vanishing-gradient cure breaks the cure.
OUTCOME_CODES: frozenset[str] = outcome_codes()
#: Config keys whose growth makes every epoch (or the run) costlier.
COST_KEYS = ("model.width", "model.depth", "train.epochs")


def grows_cost(patch: dict[str, Any], cfg: Config | None = None) -> bool:
    """Does ``patch`` make training costlier (wider, deeper, longer, or a ResNet)?

    ``"x<factor>"`` values above 1 do; absolute values do when above ``cfg``'s current one.
    """
    current = cfg.to_dict() if cfg is not None else {}
    for key, value in patch.items():
        if key == "model.arch":
            return True
        if key not in COST_KEYS:
            continue
        if isinstance(value, str) and value.startswith("x"):
            try:
                if float(value[1:]) > 1:
                    return True
            except ValueError:
                continue
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            section, _, leaf = key.partition(".")
            now = current.get(section, {}).get(leaf)
            if isinstance(now, (int, float)) and value > now:
                return True
    return False


def _priority(f: Finding) -> tuple[int, int]:
    rank = CAUSE_ORDER.index(f.code)  # every code has a spec, hence a rank
    return (rank, 0 if f.severity == "error" else 1)


def propose_candidates(cfg: Config, findings: list[Finding], *,
                       max_candidates: int = MAX_CANDIDATES) -> tuple[list[Candidate], list[dict[str, str]]]:
    """Candidate patches from the findings' ranked remedies.

    Targets the error- and warning-level findings, one per code, causes before symptoms
    (:data:`CAUSE_ORDER`). The first candidate merges the best applicable remedy of every
    target, leaving out outcome findings (:data:`OUTCOME_CODES`) when there are others and
    remedies that make training costlier (:func:`grows_cost`); a remedy that conflicts with it
    becomes a candidate of its own. Then each target's best remedy alone, then its next
    remedies alone, until ``max_candidates``.

    Returns:
        candidates, and the skipped remedies as ``{"remedy", "finding", "reason"}``.
    """
    by_code: dict[str, Finding] = {}
    for f in findings:
        if f.severity in ("error", "warning"):
            prev = by_code.get(f.code)
            if prev is None or (prev.severity != "error" and f.severity == "error"):
                by_code[f.code] = f
    targets = sorted(by_code.values(), key=_priority)
    skipped: list[dict[str, str]] = []
    options: list[list[tuple[str, dict[str, Any]]]] = []  # per finding: applicable (code, patch)
    for f in targets:
        usable = []
        for r in f.remedies:
            if not r.patch:
                continue
            res = apply_patch(cfg, r.patch)
            if res.ok:
                usable.append((r.code, dict(r.patch)))
            else:
                skipped.append({"remedy": r.code, "finding": f.code, "reason": res.reason})
        options.append(usable)
    cands: list[Candidate] = []
    seen: list[dict[str, Any]] = []

    def add(patch: dict[str, Any], remedies: list[str], codes: list[str]) -> None:
        res = apply_patch(cfg, patch)
        if not res.ok:
            skipped.append({"remedy": "+".join(remedies), "finding": ",".join(codes), "reason": res.reason})
            return
        key = res.config.to_dict() if res.config is not None else {}
        if key in seen:
            return
        seen.append(key)
        cands.append(Candidate(patch, list(dict.fromkeys(remedies)), codes))

    firsts = [(f, opts[0]) for f, opts in zip(targets, options, strict=True) if opts]
    mechanisms = [x for x in firsts if x[0].code not in OUTCOME_CODES]
    mergeable = [x for x in (mechanisms or firsts) if not grows_cost(x[1][1], cfg)]
    singles: list[tuple[Finding, tuple[str, dict[str, Any]]]] = list(firsts)
    if mergeable:
        merged, _ = merge_patches([p for _, (_, p) in mergeable])
        used = [(f, (code, p)) for f, (code, p) in mergeable
                if all(merged.get(k) == v for k, v in p.items())]
        add(merged, [c for _, (c, _) in used], [f.code for f, _ in used])
        conflicting = [x for x in firsts if x not in used]
        singles = conflicting + [x for x in firsts if x in used]
    for f, (code, p) in singles:
        add(p, [code], [f.code])
    depth = 1
    while any(len(o) > depth for o in options):
        for f, opts in zip(targets, options, strict=True):
            if len(opts) > depth:
                code, p = opts[depth]
                add(p, [code], [f.code])
        depth += 1
    return cands[:max_candidates], skipped


#: Findings that name a mechanism or a setup cause: resolving one is progress even before the
#: score moves (everything but the outcome findings).
CAUSE_CODES = frozenset(c for c in CAUSE_ORDER if c not in OUTCOME_CODES)
#: Findings that say the training blew up: dead units after one point at the rate.
BLOWUP_CODES = frozenset({"nonfinite", "exploding_gradient"})


def flagged_codes(findings: list[Finding]) -> list[str]:
    """Codes of the error- and warning-level findings, causes before symptoms, once each."""
    ranked = sorted((f for f in findings if f.severity in ("error", "warning")), key=_priority)
    return list(dict.fromkeys(f.code for f in ranked))


def differential_candidate(cfg: Config, default: Config, findings: list[Finding],
                           evidence: InitEvidence | None = None) -> Candidate | None:
    """Reset the keys that deviate from ``default`` and that the findings implicate.

    Evidence at step 0 narrows the suspects: ReLU units dead before any update implicate
    the biases, the init and the input scale but not the rate; dead units after a blow-up
    (``nonfinite``/``exploding_gradient``) with live units at step 0 implicate the rate
    first. Returns None when nothing deviates or nothing is implicated.
    """
    codes = flagged_codes(findings)
    devs = deviations(cfg, default)
    if not codes or not devs:
        return None
    keys = implicated_keys(codes, devs)
    if evidence is not None and "dead_relu" in codes:
        others = implicated_keys([c for c in codes if c != "dead_relu"], devs)
        if evidence.dead_at_init and "train.lr" not in others:
            keys = [k for k in keys if k != "train.lr"]
        elif not evidence.dead_at_init and BLOWUP_CODES & set(codes) and "train.lr" in keys:
            keys = ["train.lr", *[k for k in keys if k != "train.lr"]]
    if evidence is not None and evidence.saturated_at_init and "model.bias_init" in devs \
            and "model.bias_init" not in keys:
        keys.append("model.bias_init")
    if not keys:
        return None
    patch = {k: devs[k][1] for k in keys}
    if not apply_patch(cfg, patch).ok:
        return None
    touched = [c for c in codes if set(IMPLICATES.get(c, ())) & set(keys)]
    return Candidate(patch, [f"reset_{k}" for k in keys], touched)


#: Keys a differential reset keeps apart when it would raise the batch size: the batch size
#: sets the number of optimizer updates of a run (fewer when it grows: in a 3-epoch training a
#: reset from 4 to 64 leaves 16x fewer), and the rate belongs to the batch it was chosen for
#: (the linear scaling rule, Goyal et al. 2017, "Accurate, Large Minibatch SGD").
BATCH_RATE_KEYS = ("train.batch_size", "train.lr")


def differential_candidates(cfg: Config, default: Config, findings: list[Finding],
                            evidence: InitEvidence | None = None) -> list[Candidate]:
    """The differential reset (:func:`differential_candidate`), preceded by the same reset
    without the batch size and its rate when the reset would raise the batch size and leave
    other keys to reset: a cure that keeps the number of updates is tried before one that
    cuts it (a BatchNorm fault in a short training: resetting the norm alone reaches the
    healthy run; with batches 16x larger the same epochs give 16x fewer updates)."""
    merged = differential_candidate(cfg, default, findings, evidence)
    if merged is None:
        return []
    batch = merged.patch.get("train.batch_size")
    if not isinstance(batch, int) or batch <= cfg.train.batch_size:
        return [merged]
    apart = {k: v for k, v in merged.patch.items() if k not in BATCH_RATE_KEYS}
    if not apart or not apply_patch(cfg, apart).ok:
        return [merged]
    touched = [c for c in merged.findings if set(IMPLICATES.get(c, ())) & set(apart)]
    return [Candidate(apart, [f"reset_{k}" for k in apart], touched), merged]


def _scale(score: float) -> float:
    """Slack unit of a score: accuracy points stay as they are, a loss counts relatively."""
    return 1.0 if 0.0 <= score <= 1.0 else max(1.0, abs(score))


def resolved_causes(parent: Session, child: Session) -> set[str]:
    """Cause-level codes flagged on ``parent`` that ``child`` no longer shows."""
    return (set(flagged_codes(parent.findings)) & CAUSE_CODES) - set(flagged_codes(child.findings))


def repair(config: Config | dict[str, Any] | str, *, rounds: int = 3, budget: float = DEFAULT_BUDGET,
           search_cost: float = DEFAULT_SEARCH_COST, overrides: list[str] | None = None,
           log: Any = None) -> RepairResult:
    """Diagnose ``config``, try its remedies, keep what helps, and train the result fully.

    Args:
        config: a :class:`Config`, a nested dict, or a YAML path.
        rounds: rounds of candidates at most (``--rounds``).
        budget: share of ``train.epochs`` for the diagnosis and each candidate.
        search_cost: epochs the candidates may train, in full trainings of the original config
            (weighted by their parameter count over the original's when larger), at least
            :data:`MIN_SEARCH_RUNS` candidate runs.
        overrides: ``--set`` strings applied to a YAML path.
        log: callable ``log(str)`` for progress lines (default: silent).
    """
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    if not 0 < budget <= 1:
        raise ValueError(f"budget must be in (0, 1], got {budget}")
    say = log or (lambda _msg: None)
    if isinstance(config, Config):
        cfg = config
    elif isinstance(config, dict):
        cfg = config_from_dict(config)
    else:
        cfg = load_config(config, overrides or [])
    t_start = time.perf_counter()
    inputs_for = InputsCache()
    spe = steps_per_epoch(cfg, inputs_for(cfg))
    n_budget = budget_epochs(cfg, budget, spe)
    base = Session("baseline", cfg, inputs_for(cfg)).start(n_budget)
    per_epoch = base.seconds / max(base.epochs_run, 1)
    full_estimate = per_epoch * cfg.train.epochs
    say(f"baseline ({base.epochs_run} epochs): score {base.score():.4f}, "
        f"findings {sorted({f.code for f in base.findings}) or 'none'}")
    default = family_default(cfg)
    evidence: InitEvidence | None = None
    current = base
    tried: list[Session] = []
    skipped: list[dict[str, str]] = []
    applied: list[str] = []
    seen = [cfg.to_dict()]
    rounds_done = 0
    cand_budget = max(search_cost * cfg.train.epochs, MIN_SEARCH_RUNS * n_budget)  # original's epochs
    base_params = _parameter_count(base)
    spent = 0.0  # weighted epochs the candidates trained
    probed_family = False

    def affordable() -> bool:
        return not tried or spent + n_budget <= cand_budget * 1.05

    def charge(s: Session) -> None:
        nonlocal spent
        spent += s.epochs_run * max(1.0, _parameter_count(s) / base_params)

    def adopt(s: Session, why: str) -> None:
        nonlocal current
        say(f"  kept {s.name}: {why}")
        applied.extend(r for r in s.remedies if r not in applied)
        current = s

    def family_probe() -> Session | None:
        """The stop rule: train the family default once, on its whole budget; the search goes
        on from it when it clearly beats the current config at the end of that budget.

        Not stopped halfway as the other candidates are: it is the last candidate of the
        search, and a default that differs in several keys may learn on another schedule,
        slower at first, its curve crossing the current one's after the halfway point."""
        nonlocal probed_family
        if probed_family or not affordable() or not deviations(current.config, default):
            return None
        probed_family = True
        patch = {k: v[1] for k, v in deviations(current.config, default).items()}
        try:
            s = Session("family default", default, inputs_for(default), patch=patch,
                        remedies=["family_default"]).start(n_budget)
        except ValueError as exc:
            say(f"  family default cannot train: {exc}")
            return None
        tried.append(s)
        charge(s)
        say(f"  family default: score {s.score():.4f}")
        if not s.stopped_early and s.score() >= current.score() + MIN_GAIN:
            return s
        return None

    for _ in range(rounds):
        clean = not any(f.severity in ("error", "warning") for f in current.findings)
        if not affordable():
            say("search budget spent")
            break
        cands: list[Candidate] = []
        if not clean:
            if evidence is None and {"dead_relu", "saturated_activation"} & {f.code for f in current.findings}:
                evidence = init_evidence(current.config, inputs_for(current.config))
                say(f"  step-0 evidence: {evidence}")
            diffs = differential_candidates(current.config, default, current.findings, evidence)
            proposed, skip = propose_candidates(current.config, current.findings)
            skipped += skip
            if evidence is not None and evidence.dead_at_init and not BLOWUP_CODES & {
                    f.code for f in current.findings}:
                proposed = [c for c in proposed if set(c.patch) != {"train.lr"}]  # not the rate
            cands = diffs + proposed
            cands = _distinct(current.config, cands, seen)[:MAX_CANDIDATES]
        if not cands:
            probe = family_probe()
            if probe is None:
                say("no finding left" if clean else "no applicable remedy left")
                break
            rounds_done += 1
            adopt(probe, "the healthy default of this family reaches clearly more")
            seen.append(probe.config.to_dict())
            continue
        rounds_done += 1
        parent_errors = {f.code for f in current.errors()}
        parent_causes = set(flagged_codes(current.findings)) & CAUSE_CODES
        results = []
        for i, c in enumerate(cands):
            if not affordable():
                break
            new_cfg = apply_patch(current.config, c.patch).config
            assert new_cfg is not None
            abort = set(_error_codes()) - parent_errors
            patch = c.patch
            try:  # e.g. a patch to arch resnet on tabular data: valid config, unbuildable model
                if is_rate_jump(current.config, new_cfg, c.patch):  # the rate does not change the data
                    probe_inputs = inputs_for(new_cfg)
                    best_lr, probed = probe_rate(new_cfg, probe_inputs)
                    spent += probe_epochs(new_cfg, probe_inputs)
                    say(f"  rate probe: {', '.join(f'{k:.3g}: {v:.4g}' for k, v in probed.items())}"
                        f" -> train.lr {best_lr:.3g}")
                    patch = {**c.patch, "train.lr": best_lr}
                    new_cfg = apply_patch(current.config, patch).config or new_cfg
                s = Session(f"round {rounds_done} candidate {i + 1}", new_cfg, inputs_for(new_cfg),
                            patch=patch, remedies=c.remedies).start(
                    n_budget, abort_codes=abort, reference=current.scores(), min_gain=MIN_GAIN,
                    keep_if_resolved=parent_causes & set(c.findings))
            except ValueError as exc:
                skipped.append({"remedy": "+".join(c.remedies), "finding": ",".join(c.findings),
                                "reason": str(exc)})
                say(f"  candidate {patch} cannot train: {exc}")
                continue
            tried.append(s)
            seen.append(new_cfg.to_dict())
            charge(s)
            say(f"  {s.name}: {patch} -> score {s.score():.4f}"
                + (f" (stopped: new error {s.aborted.code})" if s.aborted else "")
                + (f" (stopped after {s.epochs_run} epochs: no better than its parent)"
                   if s.lagging else ""))
            if not s.stopped_early:
                results.append(s)
                if s.score() >= current.score() + MIN_GAIN and not any(
                        f.severity in ("error", "warning") for f in s.findings):
                    say("  clean and better: kept without trying the rest")
                    break
        best = max(results, key=Session.score, default=None)
        if best is not None and best.score() >= current.score() + MIN_GAIN:
            adopt(best, f"score {current.score():.4f} -> {best.score():.4f}")
            continue
        progress = [s for s in results
                    if resolved_causes(current, s)
                    and not {f.code for f in s.errors()} - parent_errors
                    and s.score() >= current.score() - PROGRESS_SLACK * _scale(current.score())]
        if progress:
            step = max(progress, key=lambda s: (len(resolved_causes(current, s)), s.score()))
            adopt(step, f"resolved {sorted(resolved_causes(current, step))} without a new error")
            continue
        say("no candidate beat the current config or resolved a cause")
        probe = family_probe()
        if probe is None:
            break
        adopt(probe, "the healthy default of this family reaches clearly more")
        seen.append(probe.config.to_dict())
    for s in tried + [base]:
        if s is not current:
            s.close()
    current.finish()
    say(f"final ({current.epochs_run} epochs): {_clean(current.metrics)}")
    current.close()
    total = time.perf_counter() - t_start
    return RepairResult(before=base, after=current, applied=applied, rounds=rounds_done, tried=tried,
                        skipped=skipped, seconds=total, full_training_seconds=full_estimate)


def _distinct(cfg: Config, cands: list[Candidate], seen: list[dict[str, Any]]) -> list[Candidate]:
    """Candidates whose resulting config is new (neither tried nor proposed before)."""
    out: list[Candidate] = []
    keys = list(seen)
    for c in cands:
        res = apply_patch(cfg, c.patch)
        if not res.ok or res.config is None:
            continue
        key = res.config.to_dict()
        if key in keys:
            continue
        keys.append(key)
        out.append(c)
    return out


class InputsCache:
    """Prepared data per distinct data-related config: a patch to ``data.*``, ``target.*``,
    ``train.reweight`` or ``train.class_weight`` (both become sample weights) gets freshly
    prepared data; every other candidate shares it."""

    def __init__(self) -> None:
        self._cache: dict[str, TrainInputs] = {}

    def __call__(self, cfg: Config) -> TrainInputs:
        key = repr((cfg.seed, cfg.data.model_dump(), cfg.target.model_dump(),
                    cfg.train.reweight, cfg.train.class_weight, cfg.train.task))
        if key not in self._cache:
            self._cache[key] = prepare_inputs(cfg)
        return self._cache[key]


def is_rate_jump(old: Config, new: Config, patch: dict[str, Any]) -> bool:
    """Did ``patch`` move the rate to the optimizer's usual one by :data:`JUMP` or more?"""
    if patch.get("train.lr") not in ("usual", "<=usual", ">=usual"):
        return False
    ratio = new.train.lr / old.train.lr
    return ratio >= JUMP or ratio <= 1 / JUMP


def _parameter_count(s: Session) -> int:
    """Trainable parameters of a session's model (at least 1)."""
    assert s.trainer is not None
    return max(1, sum(p.numel() for p in s.trainer.model.parameters() if p.requires_grad))


def _error_codes() -> list[str]:
    from torchdoctor.findings import SYMPTOM_CODES

    return list(SYMPTOM_CODES)
