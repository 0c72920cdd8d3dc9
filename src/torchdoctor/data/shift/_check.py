"""Shift findings for ``torchdoctor checkup`` and per-sample weights for ``train.reweight``."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from torchdoctor.catalogue import remedies_for
from torchdoctor.data.shift._covariate import detect_covariate_shift, importance_weights
from torchdoctor.data.shift._label import estimate_label_shift
from torchdoctor.data.shift._validate import as_2d, js_divergence
from torchdoctor.findings import Finding

#: Out-of-fold AUC from which a detected covariate shift is an error rather than a warning.
STRONG_SHIFT_AUC = 0.75
REWEIGHT_KINDS = ("none", "covariate", "label")


def _chi2_counts(a: np.ndarray, b: np.ndarray) -> float:
    """p-value of the chi-squared test that two count vectors share one distribution."""
    keep = (a + b) > 0
    table = np.stack([a[keep], b[keep]])
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False)[1])


def check_shift(
    x_source: Any,
    y_source: Any,
    x_target: Any,
    y_target: Any = None,
    *,
    source_probs: Any = None,
    target_probs: Any = None,
    source_prob_labels: Any = None,
    alpha: float = 0.05,
    n_permutations: int = 1000,
    seed: int = 0,
) -> tuple[list[Finding], dict]:
    """Covariate- and label-shift findings between a source and a target sample.

    Args:
        x_source (array[N_s, D]): source (training) inputs, normalized like the model sees them.
        y_source (array[N_s]): source labels, or None.
        x_target (array[N_t, D]): target inputs.
        y_target (array[N_t]): target labels if known (synthetic shifts), else None.
        source_probs (array[M, K]): a trained classifier's probabilities on held-out source
            rows (validation); with ``target_probs`` enables the label-shift estimate.
        target_probs (array[N_t, K]): the same classifier's probabilities on ``x_target``.
        source_prob_labels (array[M]): labels of the rows of ``source_probs``; default
            ``y_source`` when it has M rows.
        alpha: significance level of both tests.
        n_permutations: permutations of the domain-classifier AUC test.
        seed: seed of folds and permutations.

    Returns:
        ``(findings, stats)``: ``covariate_shift`` when the combined test (held-out domain
        classifier AUC and kernel MMD, Bonferroni) rejects at ``alpha`` (``error`` from
        out-of-fold AUC ``STRONG_SHIFT_AUC``), ``label_shift`` when predicted (or, if given, true) class counts
        differ (chi-squared p < alpha); ``stats`` is JSON-ready.
    """
    xs, xt = as_2d(x_source, "x_source"), as_2d(x_target, "x_target")
    res = detect_covariate_shift(xs, xt, n_permutations=n_permutations, alpha=alpha, seed=seed)
    out: dict[str, Any] = {"covariate": res.to_dict()}
    findings: list[Finding] = []
    evidence = {**res.to_dict(), "threshold": f"p_value < alpha = {alpha}",
                "source": "cross-fitted domain classifier, Rabanser et al. 2019"}
    if res.shift_detected:
        findings.append(Finding(
            "covariate_shift", "error" if res.auc >= STRONG_SHIFT_AUC else "warning",
            f"Target inputs differ from training inputs: a domain classifier tells them apart with "
            f"out-of-fold AUC {res.auc:.3f} (p = {res.p_value:.3g}; MMD p = {res.mmd_p_value:.3g}; "
            f"combined p = {res.combined_p_value:.3g}).",
            evidence=evidence,
            remedies=remedies_for("covariate_shift")))
    if res.shift_detected and res.p_value >= alpha:
        findings[-1].severity = "warning"
        findings[-1].message += (" Only the kernel MMD test sees it: a non-linear difference "
                                 "such as noise, which a linear importance weight will not "
                                 "correct.")
    elif not res.shift_detected and res.mmd_p_value is not None and res.mmd_p_value < alpha:
        findings.append(Finding(
            "covariate_shift", "info",
            f"Weak evidence of shift: MMD p = {res.mmd_p_value:.3g} < {alpha} but the combined "
            f"test (p = {res.combined_p_value:.3g}) does not reject; domain-classifier AUC "
            f"{res.auc:.3f}.",
            evidence=evidence))

    y_s = None if y_source is None else np.asarray(y_source)
    label: dict[str, Any] = {}
    if source_probs is not None and target_probs is not None:
        lab = source_prob_labels if source_prob_labels is not None else y_s
        if lab is None or len(lab) != len(source_probs):
            raise ValueError(
                f"source_prob_labels must give the labels of the {len(source_probs)} rows of "
                f"source_probs, got {None if lab is None else len(lab)}")
        est = estimate_label_shift(source_probs, np.asarray(lab), target_probs, method="em")
        k = est.target_priors.size
        pred_s = np.bincount(np.asarray(source_probs).argmax(1), minlength=k)
        pred_t = np.bincount(np.asarray(target_probs).argmax(1), minlength=k)
        label = {**est.to_dict(), "p_value": _chi2_counts(pred_s, pred_t),
                 "test": "chi-squared on predicted class counts (BBSD, Rabanser et al. 2019)",
                 "js_divergence": js_divergence(est.target_priors, est.source_priors)}
    if y_target is not None and y_s is not None:
        classes = np.union1d(np.unique(y_s), np.unique(y_target))
        cs = np.array([(y_s == c).sum() for c in classes])
        ct = np.array([(np.asarray(y_target) == c).sum() for c in classes])
        label["true_target_priors"] = (ct / ct.sum()).tolist()
        label["true_source_priors"] = (cs / cs.sum()).tolist()
        label["labels_p_value"] = _chi2_counts(cs, ct)
        if "target_priors" in label and len(classes) == len(label["target_priors"]):
            label["estimate_js_to_truth"] = js_divergence(label["target_priors"], ct / ct.sum())
    if label:
        out["label"] = label
        p = label.get("p_value", label.get("labels_p_value"))
        if p is not None and p < alpha:
            q = label.get("target_priors", label.get("true_target_priors"))
            src = label.get("source_priors", label.get("true_source_priors"))
            findings.append(Finding(
                "label_shift", "warning",
                f"Target class proportions differ from training (p = {p:.3g}); estimated target "
                f"priors range {min(q):.3f}–{max(q):.3f} vs source {min(src):.3f}–{max(src):.3f}.",
                evidence={**label, "threshold": f"p_value < alpha = {alpha}",
                          "source": "EM+BCTS, Alexandari et al. 2020; BBSE, Lipton et al. 2018"},
                remedies=remedies_for("label_shift")))
    return findings, out


def reweight_factors(
    kind: str,
    *,
    x_train: Any = None,
    y_train: Any = None,
    x_target: Any = None,
    source_probs: Any = None,
    source_labels: Any = None,
    target_probs: Any = None,
    clip: float | None = 10.0,
    method: str = "em",
    seed: int = 0,
) -> np.ndarray:
    """Per-training-sample loss weights (N,), mean 1, for ``train.reweight``.

    What the trainer passes:

    - ``"none"``: ``x_train`` or ``y_train`` (only its length); returns ones.
    - ``"covariate"``: ``x_train`` (N, D) and ``x_target`` (N_t, D), both normalized (model
      space); returns cross-fitted β = min(exp(h)·n_s/n_t, clip) / mean.
    - ``"label"``: ``y_train`` (N,) integer classes, and from a model first trained without
      weights: ``source_probs`` (M, K) softmax probabilities on the validation rows,
      ``source_labels`` (M,) their labels, ``target_probs`` (N_t, K) on the target rows;
      returns ``(q/p)[y_train]`` / mean (EM+BCTS by default, ``method="bbse"`` possible).
      Then retrain (or fine-tune) with the weights.

    Use: ``loss = (per_sample_loss * w[batch_idx]).mean()``.
    """
    if kind not in REWEIGHT_KINDS:
        raise ValueError(f"kind must be one of {REWEIGHT_KINDS}, got {kind!r}")
    if kind == "none":
        ref = x_train if x_train is not None else y_train
        if ref is None:
            raise ValueError("x_train or y_train must be given for kind='none', got neither")
        return np.ones(len(ref))
    if kind == "covariate":
        if x_train is None or x_target is None:
            raise ValueError("x_train and x_target must be given for kind='covariate', got None")
        return importance_weights(x_train, x_target, clip=clip, normalize=True, seed=seed)
    missing = [n for n, v in (("y_train", y_train), ("source_probs", source_probs),
                              ("source_labels", source_labels), ("target_probs", target_probs))
               if v is None]
    if missing:
        raise ValueError(f"{', '.join(missing)} must be given for kind='label', got None")
    est = estimate_label_shift(source_probs, np.asarray(source_labels), target_probs, method=method)
    y = np.asarray(y_train)
    if y.min() < 0 or y.max() >= est.weights.size:
        raise ValueError(f"y_train must be in [0, {est.weights.size}), got range [{y.min()}, {y.max()}]")
    w = est.weights[y]
    if clip is not None:
        w = np.minimum(w, clip)
    return w / w.mean() if w.mean() > 0 else np.ones_like(w)
