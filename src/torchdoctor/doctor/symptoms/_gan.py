"""GAN rules: gan_discriminator_wins, gan_mode_collapse, gan_discriminator_ineffective.

Pure functions of the GAN series a :class:`~torchdoctor.GanDoctor` keeps in
``vitals.loop["gan"]`` (absent for a plain Doctor: the rules return nothing)::

    {"d": [{"step": 0, "loss": 1.38, "real": 0.1, "fake": -0.2, "auc": 0.61}, ...],  # D steps
     "g": [{"step": 0, "loss": 0.7, "fake": -0.2}, ...],                               # G steps
     "g_grad": [[step, norm], ...],       # the generator's gradient norm on sampled G steps
     "samples": [{"step": 25, "recall": 0.9, "coverage": 0.7, "precision": 0.8,
                  "diversity": 1.0, "distance": 0.02}, ...],                           # sampled D steps
     "d_motion": [[step, change], ...],   # relative weight change per step of D, sampled D steps
     "g_motion": [[step, change], ...]}   # the same for G, on sampled G steps

``auc`` is the discriminator's batch AUC (share of (real, fake) pairs whose real score is the
higher), for logits and critic values alike. ``diversity`` and ``distance`` are ratios to the
real samples' mean pairwise distance (see ``docs/gan-doctor.md``).
"""

from __future__ import annotations

from typing import Any

from torchdoctor.catalogue import Thresholds, remedies_for, remedy
from torchdoctor.doctor.symptoms._registry import DEFAULT, finding, median, rule
from torchdoctor.doctor.vitals import Vitals, finite
from torchdoctor.findings import Finding

__all__ = ["falling_share", "recent_median"]

#: Fewest discriminator steps before a rule on the D series speaks.
_MIN_D_STEPS = 60
#: Fewest sampled steps with sample statistics before a rule on them speaks.
_MIN_SAMPLES = 4


def _gan(v: Vitals) -> dict[str, Any]:
    gan = v.loop.get("gan")
    return gan if isinstance(gan, dict) else {}


def _values(rows: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r[key])) for r in rows if finite(r.get(key))]


def _values_pairs(rows: Any) -> list[tuple[int, float]]:
    """``[step, value]`` pairs with a finite value."""
    return [(int(s), float(x)) for s, x in rows or [] if finite(x)]


def recent_median(values: list[float], frac: float = 1 / 3, minimum: int = 2) -> float | None:
    """Median of the last ``frac`` of ``values`` (at least ``minimum`` of them), or ``None``."""
    if len(values) < minimum:
        return None
    return median(values[-max(minimum, int(len(values) * frac)):])


def falling_share(values: list[float], windows: int = 10) -> tuple[float, float, float] | None:
    """``(share of window-to-window falls, first window mean, last window mean)`` of
    ``values`` cut into ``windows`` equal windows (``None`` with fewer than 3 per window)."""
    w = len(values) // windows
    if w < 3:
        return None
    means = [sum(values[i * w:(i + 1) * w]) / w for i in range(windows)]
    falls = sum(b < a for a, b in zip(means, means[1:], strict=False))
    return falls / (windows - 1), means[0], means[-1]


@rule("gan_discriminator_wins")
def gan_discriminator_wins(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """The discriminator's batch AUC (recent median) >= ``gan_separation_high`` and either the
    generator's gradient norm (recent median) <= ``gan_grad_fall`` x its peak, or D's loss, never
    negative (BCE, least squares, hinge; not a WGAN critic), has reached ``gan_d_loss_zero``
    (recent median): the seed of a failed GAN training is a discriminator loss at zero. Or D
    has won from the start (no gradient peak to fall from): its AUC (medians of the first and
    of the last third) >= ``gan_separation_held`` while the samples' recall of the real ones
    never reached ``gan_recall_min``."""
    gan = _gan(v)
    rows = gan.get("d") or []
    auc = _values(rows, "auc")
    if len(auc) < _MIN_D_STEPS:
        return []
    aucs = [a for _, a in auc]
    sep = recent_median(aucs)
    early = median(aucs[:max(2, len(aucs) // 3)])
    if sep is None or early is None:
        return []
    gv = [g for _, g in _values_pairs(gan.get("g_grad"))]
    # peak of the running median of three (one noisy gradient is no peak)
    peak = max((median(gv[i:i + 3]) or 0.0 for i in range(len(gv) - 2)), default=0.0)
    now = recent_median(gv)
    losses = [x for _, x in _values(rows, "loss")]
    loss_now = recent_median(losses)
    won = sep >= t.gan_separation_high
    grad_fell = won and len(gv) >= 6 and now is not None and peak > 0 and now <= t.gan_grad_fall * peak
    loss_zero = (won and bool(losses) and min(losses) >= 0 and loss_now is not None
                 and loss_now <= t.gan_d_loss_zero)
    rec = [x for _, x in _values(gan.get("samples") or [], "recall")]
    best = max(rec) if len(rec) >= _MIN_SAMPLES else None
    held = (best is not None and best < t.gan_recall_min
            and min(sep, early) >= t.gan_separation_held)
    if not (grad_fell or loss_zero or held):
        return []
    fakes = recent_median([x for _, x in _values(rows, "fake")])
    reals = recent_median([x for _, x in _values(rows, "real")])
    ratio = now / peak if now is not None and peak > 0 else None
    if grad_fell or loss_zero:
        first = next((s for s, a in auc if a >= t.gan_separation_high), auc[0][0])
        why = (f"the generator's gradient fell to {ratio:.2g} of its peak (threshold "
               f"{t.gan_grad_fall:g})" if grad_fell else
               f"its loss is down to {loss_now:.3g} (threshold {t.gan_d_loss_zero:g})")
        what = (f"The discriminator orders {sep:.1%} of real/fake pairs correctly (threshold "
                f"{t.gan_separation_high:.0%}) and {why}: the generator gets no useful signal.")
    else:
        first = auc[0][0]
        what = (f"The discriminator has ordered real/fake pairs correctly since the start "
                f"({early:.1%} over its first third of steps, {sep:.1%} over the last; threshold "
                f"{t.gan_separation_held:.0%}) and the generated samples never reached the data "
                f"(best recall {best:.0%}, threshold {t.gan_recall_min:.0%}): the generator "
                f"gets no useful signal.")
    return [finding(
        "gan_discriminator_wins", "error", what,
        step=first, auc=sep, auc_first_third=early, g_grad_now=now, g_grad_peak=peak or None,
        g_grad_ratio=ratio, loss_d=loss_now, mean_real_score=reals, mean_fake_score=fakes,
        recall_best=best, won_from_start=held and not (grad_fell or loss_zero),
        threshold_auc=t.gan_separation_high, threshold_grad=t.gan_grad_fall,
        threshold_loss=t.gan_d_loss_zero, threshold_auc_held=t.gan_separation_held,
        threshold_recall=t.gan_recall_min,
        source="own choice; Goodfellow et al. 2014; Arjovsky & Bottou 2017")]


@rule("gan_mode_collapse")
def gan_mode_collapse(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """On the last third of the sampled steps: recall < ``gan_recall_min`` and diversity
    ratio < ``gan_diversity_min`` (medians)."""
    samples = _gan(v).get("samples") or []
    rec = _values(samples, "recall")
    if len(rec) < _MIN_SAMPLES:
        return []
    recall = recent_median([x for _, x in rec])
    div = recent_median([x for _, x in _values(samples, "diversity")])
    dist = recent_median([x for _, x in _values(samples, "distance")])
    if recall is None or div is None:
        return []
    if recall >= t.gan_recall_min or div >= t.gan_diversity_min:
        return []
    cov = recent_median([x for _, x in _values(samples, "coverage")])
    best = max(x for _, x in rec)
    return [finding(
        "gan_mode_collapse", "warning",
        f"The generated samples reach {recall:.0%} of the real samples (recall, threshold "
        f"{t.gan_recall_min:.0%}; best {best:.0%}) and are {div:.2f}x as diverse as the data "
        f"(threshold {t.gan_diversity_min:g}): the generator covers a small part of the data.",
        step=rec[-max(2, len(rec) // 3)][0], recall=recall, recall_best=best, coverage=cov,
        diversity_ratio=div, distance_ratio=dist, sampled_steps=len(rec),
        threshold_recall=t.gan_recall_min, threshold_diversity=t.gan_diversity_min,
        source="Kynkäänniemi et al. 2019 (recall); Naeem et al. 2020 (coverage); own thresholds")]


@rule("gan_discriminator_ineffective")
def gan_discriminator_ineffective(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Either the generator's loss falls in >= ``gan_fall_share`` of 10 windows, the
    discriminator's batch AUC (recent median) <= ``gan_separation_low``, and the samples stay
    far from the data (recent medians): their distance ratio > ``gan_far_distance``, or their
    recall of the real samples < ``gan_recall_min`` (they reach little of it). Or the
    discriminator does not learn at all: its weights' relative change per step (recent median
    of sampled steps) <= ``gan_weights_still`` while it does not win (AUC < ``gan_separation_high``)
    and the generator's weights move; or per generator step it moves <= ``gan_weights_lag`` x
    as much as the generator while its AUC <= ``gan_separation_low``."""
    gan = _gan(v)
    auc = _values(gan.get("d") or [], "auc")
    if len(auc) < _MIN_D_STEPS:
        return []
    sep = recent_median([a for _, a in auc])
    if sep is None:
        return []
    still = _still_discriminator(gan, sep, t)
    if still is not None:
        return [still]
    g_loss = [x for _, x in _values(gan.get("g") or [], "loss")]
    samples = gan.get("samples") or []
    dist_vals = [x for _, x in _values(samples, "distance")]
    if len(dist_vals) < _MIN_SAMPLES:
        return []
    fall = falling_share(g_loss)
    dist = recent_median(dist_vals)
    recall = recent_median([x for _, x in _values(samples, "recall")])
    if fall is None or dist is None:
        return []
    share, first, last = fall
    if share < t.gan_fall_share or last >= first or sep > t.gan_separation_low:
        return []
    if dist <= t.gan_far_distance and (recall is None or recall >= t.gan_recall_min):
        return []
    return [finding(
        "gan_discriminator_ineffective", "warning",
        f"The generator's loss fell in {share:.0%} of its windows ({first:.3g} -> {last:.3g}) "
        f"while the discriminator orders only {sep:.0%} of real/fake pairs correctly "
        f"(threshold {t.gan_separation_low:.0%}) and the samples stay far from the data "
        f"(relative distance {dist:.2f}, threshold {t.gan_far_distance:g}; recall "
        f"{recall if recall is not None else float('nan'):.0%}): D no longer teaches G.",
        step=auc[0][0], g_loss_fall_share=share, g_loss_first=first, g_loss_last=last, auc=sep,
        distance_ratio=dist, recall=recall, threshold_fall=t.gan_fall_share,
        threshold_recall=t.gan_recall_min,
        threshold_auc=t.gan_separation_low, threshold_distance=t.gan_far_distance,
        source="own choice")]


#: The first remedy of a discriminator that does not learn (the no_update family's cure, said
#: for the discriminator of a GAN loop).
_UPDATE_D = ("Make sure the discriminator is updated: its optimizer is built on D.parameters(), "
             "opt_d.step() follows each D backward, its learning rate is not a typo (1e-4, not "
             "1e-8), and D's parameters get requires_grad=True back after the generator's step.")
_UPDATE_D_SNIPPET = ("opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))\n"
                     "loss_d.backward(); opt_d.step()\nD.requires_grad_(True)  # after G's step")


def _still_discriminator(gan: dict[str, Any], sep: float, t: Thresholds) -> Finding | None:
    """The ``gan_discriminator_ineffective`` finding of a discriminator whose weights do not
    move (while it does not win and the generator's do), or move far less than the
    generator's per generator step while it hardly separates real from fake; else ``None``."""
    d_motion = [x for _, x in _values_pairs(gan.get("d_motion"))]
    if len(d_motion) < _MIN_SAMPLES or sep >= t.gan_separation_high:
        return None
    d_now = recent_median(d_motion)
    g_now = recent_median([x for _, x in _values_pairs(gan.get("g_motion"))])
    if d_now is None or (g_now is not None and g_now <= t.gan_weights_still):
        return None  # neither network learns: not a discriminator problem
    d_rows, g_rows = gan.get("d") or [], gan.get("g") or []
    per_g = (int(d_rows[-1]["step"]) + 1) / (int(g_rows[-1]["step"]) + 1) if d_rows and g_rows else 1.0
    lag = d_now * per_g / g_now if g_now else None
    still = d_now <= t.gan_weights_still
    if not still and (lag is None or lag > t.gan_weights_lag or sep > t.gan_separation_low):
        return None
    if still:
        what = (f"The discriminator's weights hardly change: {d_now:.2g} of their size per step "
                f"over the last third of sampled steps (threshold {t.gan_weights_still:g})"
                + (f", the generator's {g_now:.2g}" if g_now is not None else "")
                + f"; D orders {sep:.0%} of real/fake pairs correctly and does not learn, so "
                f"the generator trains against a fixed judge.")
    else:
        what = (f"Per generator step, the discriminator's weights move {lag:.2g}x as much as "
                f"the generator's (threshold {t.gan_weights_lag:g}; {per_g:.2g} D steps per G "
                f"step) while D orders only {sep:.0%} of real/fake pairs correctly (threshold "
                f"{t.gan_separation_low:.0%}): the generator outruns a discriminator that "
                f"hardly learns.")
    rows = gan.get("d_motion") or []
    f = finding(
        "gan_discriminator_ineffective", "warning", what,
        step=int(rows[0][0]) if rows else 0, d_weight_change=d_now, g_weight_change=g_now,
        d_steps_per_g_step=per_g, weight_change_ratio=lag, auc=sep, sampled_steps=len(d_motion),
        threshold_still=t.gan_weights_still, threshold_lag=t.gan_weights_lag,
        threshold_auc=t.gan_separation_high if still else t.gan_separation_low,
        source="own choice")
    update = remedy("call_optimizer_step", description=_UPDATE_D, snippet=_UPDATE_D_SNIPPET)
    rest = remedies_for("gan_discriminator_ineffective")
    f.remedies = [update] + rest if still else rest + [update]  # too slow: more steps first
    return f
