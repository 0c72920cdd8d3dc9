"""Synthetic target samples, shift findings and trainer reweighting factors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from torchdoctor.data.shift import (
    check_shift,
    first_principal_component,
    make_target_sample,
    reweight_factors,
)
from torchdoctor.findings import _jsonable


def _pool(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 4)) + np.eye(3, 4)[y] * 2.0
    x[:, 3] *= 3.0  # the first principal component leans on feature 3
    return x.astype(np.float32), y


def test_first_principal_component_matches_numpy_eig():
    x, _ = _pool()
    x = x.astype(np.float64)
    mean, v = first_principal_component(x)
    evals, evecs = np.linalg.eigh(np.cov(x.T))
    ref = evecs[:, -1] * np.sign(evecs[np.argmax(np.abs(evecs[:, -1])), -1])
    np.testing.assert_allclose(v, ref, atol=1e-8)
    np.testing.assert_allclose(mean, x.mean(0))


def test_covariate_sample_takes_strength_from_upper_side():
    x, y = _pool()
    xt, yt = make_target_sample(x, y, shift="covariate", size=200, strength=0.7, seed=1,
                                reference_x=x)
    mean, v = first_principal_component(x.astype(np.float64))
    proj = (x - mean) @ v
    upper = (xt - mean) @ v > np.median(proj)
    assert xt.shape == (200, 4) and yt.shape == (200,) and xt.dtype == np.float32
    assert upper.sum() == 140


def test_label_sample_follows_dirichlet_priors():
    x, y = _pool()
    _, yt = make_target_sample(x, y, shift="label", size=500, alpha=0.1, seed=2)
    counts = np.bincount(yt, minlength=3)
    assert counts.max() / 500 > 0.6  # alpha = 0.1: one class dominates
    # reference: same rng stream as the implementation
    rng = np.random.default_rng(2)
    priors = rng.dirichlet(np.full(3, 0.1))
    np.testing.assert_array_equal(counts, rng.multinomial(500, priors))


def test_noise_and_none_samples():
    x, y = _pool()
    x0, y0 = make_target_sample(x, y, shift="none", size=100, seed=3)
    xn, yn = make_target_sample(x, y, shift="noise", size=100, sigma=0.5, seed=3)
    np.testing.assert_array_equal(y0, yn)
    assert np.std(xn - x0) == pytest.approx(0.5, rel=0.1)
    rows = {r.tobytes() for r in x}
    assert all(r.tobytes() in rows for r in x0)
    big, _ = make_target_sample(x, y, shift="none", size=1000, seed=4)  # > pool: replacement
    assert big.shape == (1000, 4)


@pytest.mark.parametrize("kwargs,match", [
    ({"shift": "rotate"}, "shift must be one of"),
    ({"size": 0}, "size must be an integer >= 1"),
    ({"alpha": 0.0}, "alpha must be > 0"),
    ({"strength": 1.5}, r"strength must be in \[0, 1\]"),
    ({"sigma": -1.0}, "sigma must be >= 0"),
])
def test_make_target_sample_bad_arguments(kwargs, match):
    x, y = _pool(30)
    with pytest.raises(ValueError, match=match):
        make_target_sample(x, y, **{"shift": "none", **kwargs})


def test_check_shift_findings_and_json():
    x, y = _pool(900, 5)
    xs, ys = x[:600], y[:600]
    xt, yt = make_target_sample(x[600:], y[600:], shift="covariate", strength=0.9, size=300,
                                seed=6, reference_x=xs)
    findings, stats = check_shift(xs, ys, xt, yt, n_permutations=200)
    codes = {f.code for f in findings}
    assert "covariate_shift" in codes
    cov = next(f for f in findings if f.code == "covariate_shift")
    assert cov.remedies[0].code == "reweight_covariate"  # its config patch: checkup CLI only
    assert not cov.remedies[0].patch
    json.dumps({"findings": [f.to_dict() for f in findings], "stats": _jsonable(stats)})
    same, _ = make_target_sample(x[600:], y[600:], shift="none", size=300, seed=7)
    f2, s2 = check_shift(xs, ys, same, n_permutations=200)
    assert not any(f.severity != "info" for f in f2) and not s2["covariate"]["shift_detected"]


def test_check_shift_label_finding_from_probabilities():
    rng = np.random.default_rng(8)
    k = 3

    def probs(y):
        logits = rng.normal(size=(len(y), k))
        logits[np.arange(len(y)), y] += 3.0
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    yv = np.arange(600) % k
    yt = rng.choice(k, size=400, p=[0.7, 0.2, 0.1])
    x = rng.normal(size=(400, 2))
    findings, stats = check_shift(x[:200], yv[:200], x[200:], source_probs=probs(yv),
                                  target_probs=probs(yt), source_prob_labels=yv,
                                  n_permutations=50)
    lab = next(f for f in findings if f.code == "label_shift")
    assert lab.remedies[0].code == "reweight_label" and not lab.remedies[0].patch
    assert stats["label"]["target_priors"][0] == pytest.approx(0.7, abs=0.08)


def test_reweight_factors():
    x, y = _pool(600, 9)
    assert np.all(reweight_factors("none", y_train=y) == 1.0)
    xt, _ = make_target_sample(x, y, shift="covariate", strength=0.9, size=300, seed=10)
    w = reweight_factors("covariate", x_train=x, x_target=xt)
    assert w.shape == (600,) and w.mean() == pytest.approx(1.0)
    mean, v = first_principal_component(x.astype(np.float64))
    proj = (x - mean) @ v
    upper = proj > np.median(proj)
    assert w[upper].mean() > 1.5 * w[~upper].mean()  # direction: target-like rows weigh more
    # label: exact posteriors, target priors (0.6, 0.3, 0.1) -> weights (1.8, 0.9, 0.3) per row
    eye = np.eye(3) * 0.97 + 0.01
    sl = np.arange(900) % 3
    tl = np.repeat([0, 1, 2], [540, 270, 90])
    wl = reweight_factors("label", y_train=y, source_probs=eye[sl], source_labels=sl,
                          target_probs=eye[tl], method="bbse")
    np.testing.assert_allclose(wl[:3] / wl[:3].mean(), [1.8, 0.9, 0.3] / np.mean([1.8, 0.9, 0.3]),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="kind must be one of"):
        reweight_factors("importance", y_train=y)
    with pytest.raises(ValueError, match="source_probs, source_labels, target_probs must be given"):
        reweight_factors("label", y_train=y)
    with pytest.raises(ValueError, match="x_train and x_target must be given"):
        reweight_factors("covariate", x_train=x)
