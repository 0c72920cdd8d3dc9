"""Label shift: BBSE and EM recover known priors; BCTS against a brute-force optimum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torchdoctor as td
from torchdoctor.data.shift import bbse_weights, em_priors, fit_bcts

K = 3
MU = 2.0 * np.eye(K)
P_SOURCE = np.full(K, 1 / K)


def _sample(priors: np.ndarray, n: int, seed: int, temperature: float = 1.0):
    """x | y ~ N(MU[y], I); exact source posteriors (optionally over-confident by 1/T)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(K, size=n, p=priors)
    x = MU[y] + rng.normal(size=(n, K))
    ll = -0.5 * ((x[:, None, :] - MU[None]) ** 2).sum(-1) + np.log(P_SOURCE)
    post = torch.softmax(torch.as_tensor(ll / temperature), 1).numpy()
    return post, y


@pytest.mark.parametrize("method", ["em", "bbse"])
def test_recovers_known_priors(method):
    q = np.array([0.6, 0.3, 0.1])
    ps, ys = _sample(P_SOURCE, 6000, 0)
    pt, _ = _sample(q, 6000, 1)
    r = td.shift.estimate_label_shift(ps, ys, pt, method=method)
    np.testing.assert_allclose(r.target_priors, q, atol=0.03)
    np.testing.assert_allclose(r.weights, r.target_priors / r.source_priors, rtol=1e-12)
    np.testing.assert_allclose(r.target_priors.sum(), 1.0)
    np.testing.assert_allclose(r.corrected_probs.sum(1), 1.0)


def test_em_with_bcts_fixes_overconfident_model():
    # posteriors sharpened by T = 0.4: plain EM is biased, EM+BCTS recovers the priors
    q = np.array([0.7, 0.2, 0.1])
    ps, ys = _sample(P_SOURCE, 6000, 2, temperature=0.4)
    pt, _ = _sample(q, 6000, 3, temperature=0.4)
    plain = td.shift.estimate_label_shift(ps, ys, pt, method="em", calibration="none")
    bcts = td.shift.estimate_label_shift(ps, ys, pt, method="em", calibration="bcts")
    assert bcts.temperature == pytest.approx(1 / 0.4, rel=0.1)
    err_plain = np.abs(plain.target_priors - q).max()
    err_bcts = np.abs(bcts.target_priors - q).max()
    assert err_bcts < 0.03 and err_bcts < err_plain


def test_bcts_matches_torch_lbfgs_reference():
    ps, ys = _sample(np.array([0.5, 0.3, 0.2]), 800, 4, temperature=0.5)
    t, b = fit_bcts(ps, ys)
    z = torch.log(torch.as_tensor(ps).clamp_min(1e-12))
    theta = torch.zeros(K + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], max_iter=500, tolerance_grad=1e-12, line_search_fn="strong_wolfe")
    yt = torch.as_tensor(ys)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / theta[0].exp() + theta[1:], yt)
        loss.backward()
        return loss

    opt.step(closure)
    assert t == pytest.approx(theta[0].exp().item(), rel=1e-3)
    ref_b = theta[1:].detach().numpy()
    np.testing.assert_allclose(b, ref_b - ref_b.mean(), atol=1e-3)


def test_em_fixed_point_on_naive_loop():
    ps, _ = _sample(np.array([0.2, 0.2, 0.6]), 500, 5)
    q, it, ok = em_priors(ps, P_SOURCE)
    assert ok
    post = ps * q / P_SOURCE
    post /= post.sum(1, keepdims=True)
    np.testing.assert_allclose(post.mean(0), q, atol=1e-7)


def test_bbse_solves_confusion_system():
    ps, ys = _sample(P_SOURCE, 3000, 6)
    pt, _ = _sample(np.array([0.5, 0.25, 0.25]), 3000, 7)
    w = bbse_weights(ps, ys, pt)
    c = np.zeros((K, K))
    for yh, y in zip(ps.argmax(1), ys, strict=True):
        c[yh, y] += 1 / len(ys)
    mu = np.array([(pt.argmax(1) == i).mean() for i in range(K)])
    np.testing.assert_allclose(c @ w, mu, atol=1e-10)


def test_corrected_predictions_and_estimator():
    q = np.array([0.8, 0.1, 0.1])
    ps, ys = _sample(P_SOURCE, 4000, 8)
    pt, yt = _sample(q, 4000, 9)
    est = td.shift.LabelShiftEstimator(method="em")
    with pytest.raises(RuntimeError, match="not fitted"):
        est.predict_proba(pt)
    assert est.fit(ps, ys, pt) is est
    corr = est.predict_proba(pt)
    np.testing.assert_allclose(corr, est.result_.corrected_probs, atol=1e-12)
    assert (corr.argmax(1) == yt).mean() > (pt.argmax(1) == yt).mean()


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "rlls"}, "method must be one of"),
    ({"calibration": "platt"}, "calibration must be one of"),
])
def test_bad_arguments(kwargs, match):
    ps, ys = _sample(P_SOURCE, 30, 10)
    with pytest.raises(ValueError, match=match):
        td.shift.estimate_label_shift(ps, ys, ps, **kwargs)


def test_bad_inputs():
    ps, ys = _sample(P_SOURCE, 30, 11)
    with pytest.raises(ValueError, match="rows must sum to 1"):
        td.shift.estimate_label_shift(ps * 2, ys, ps)
    with pytest.raises(ValueError, match="source_labels must be integers"):
        td.shift.estimate_label_shift(ps, ys + 5, ps)
    with pytest.raises(ValueError, match="must contain every class"):
        td.shift.estimate_label_shift(ps, np.zeros(30, np.int64), ps)
    with pytest.raises(ValueError, match="target_probs must have 3 columns"):
        td.shift.estimate_label_shift(ps, ys, ps[:, :2] / ps[:, :2].sum(1, keepdims=True))
