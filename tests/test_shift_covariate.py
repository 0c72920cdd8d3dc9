"""Covariate shift: detector contracts, calibration, MMD reference, weight direction."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.naive_bayes import GaussianNB

import torchdoctor as td
from torchdoctor.data.shift import auc_permutation_test, mmd_test


def _gauss(n: int, d: int, shift: float, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d))
    x[:, 0] += shift
    return x


def test_detects_mean_shift_and_reports_auc_like_sklearn():
    s, t = _gauss(300, 4, 0.0, 0), _gauss(150, 4, 0.8, 1)
    r = td.shift.detect_covariate_shift(s, t, n_permutations=200, mmd_permutations=50)
    assert r.shift_detected and r.p_value == pytest.approx(1 / 201)
    d = np.r_[np.zeros(300), np.ones(150)]
    assert r.auc == pytest.approx(roc_auc_score(d, np.r_[r.source_scores, r.target_scores]))
    assert r.auc > 0.6 and r.mmd_p_value < 0.05 and r.n_source == 300 and r.n_target == 150


def test_permutation_p_value_is_calibrated_under_null():
    # 40 null problems (held-out test; exact for any classifier, GaussianNB is the fastest):
    # the p-values must not pile up below alpha; the observed statistic
    # counts as a permutation, so p >= 1/(1+B) always (alibi-detect #960).
    ps = []
    for seed in range(40):
        s, t = _gauss(60, 3, 0.0, 2 * seed), _gauss(40, 3, 0.0, 2 * seed + 1)
        r = td.shift.detect_covariate_shift(s, t, classifier=GaussianNB(), n_permutations=99,
                                            mmd=False, n_splits=2, seed=seed)
        ps.append(r.p_value)
    ps = np.array(ps)
    assert ps.min() >= 1 / 100
    assert (ps < 0.05).mean() <= 0.125  # binomial(40, .05): P(> 5 rejections) < 0.05
    assert 0.3 < ps.mean() < 0.7  # roughly uniform


def test_within_fold_permutation_matches_naive_loop():
    rng = np.random.default_rng(3)
    scores = rng.random(40)
    d = np.r_[np.zeros(25, np.int64), np.ones(15, np.int64)]
    folds = np.arange(40) % 4
    auc, p = auc_permutation_test(scores, d, folds, 300, seed=5)
    assert auc == pytest.approx(roc_auc_score(d, scores))
    # naive reference: pair-counting AUC on labels shuffled within folds, one at a time
    rng2 = np.random.default_rng(11)
    naive = []
    for _ in range(2000):
        dp = d.copy()
        for k in range(4):
            idx = np.flatnonzero(folds == k)
            dp[idx] = rng2.permutation(d[idx])
        naive.append((scores[dp == 1][:, None] > scores[dp == 0][None, :]).mean())
    p_ref = (1 + np.sum(np.array(naive) >= auc - 1e-12)) / 2001
    assert p == pytest.approx(p_ref, abs=0.06)


def test_refit_permutation_test_and_combined_verdict():
    s, t = _gauss(60, 2, 1.0, 20), _gauss(40, 2, 0.0, 21)
    r = td.shift.detect_covariate_shift(s, t, test="permutation", n_permutations=19,
                                        classifier=GaussianNB(), n_splits=3, mmd_permutations=99)
    assert r.test == "permutation" and r.p_value == pytest.approx(1 / 20)
    assert r.test_statistic == pytest.approx(r.auc)
    assert r.combined_p_value == pytest.approx(min(1.0, 2 * min(r.p_value, r.mmd_p_value)))
    assert r.shift_detected == (r.combined_p_value < 0.05)


def test_precision_mismatch_is_not_a_shift():
    # float32 and float64 copies of one sample must not look shifted (they did before rounding)
    rng = np.random.default_rng(22)
    x = rng.normal(size=(400, 8)) / 3.0
    idx = rng.permutation(400)
    r = td.shift.detect_covariate_shift(x[idx[:250]], x[idx[250:]].astype(np.float32),
                                        n_permutations=200, mmd_permutations=50)
    assert not r.shift_detected


def test_mmd_statistic_matches_naive_formula():
    s, t = _gauss(20, 2, 0.0, 4), _gauss(15, 2, 0.5, 5)
    s, t = s.astype(np.float32).astype(np.float64), t.astype(np.float32).astype(np.float64)
    res = mmd_test(s, t, n_permutations=10, bandwidth=1.3)

    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * 1.3**2))

    m, n = len(s), len(t)
    ss = sum(k(s[i], s[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    tt = sum(k(t[i], t[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    st = sum(k(a, b) for a in s for b in t) / (m * n)
    assert res["mmd2"] == pytest.approx(ss + tt - 2 * st, rel=1e-9)


def test_mmd_sees_variance_change_that_logistic_regression_misses():
    s, t = _gauss(200, 2, 0.0, 6), 2.0 * _gauss(200, 2, 0.0, 7)
    r = td.shift.detect_covariate_shift(s, t, n_permutations=200, mmd_permutations=100)
    assert r.mmd_p_value < 0.05 and r.auc < 0.6


@pytest.mark.parametrize("n_s,n_t", [(4000, 1000), (1500, 1500)])
def test_importance_weight_direction_on_known_ratio(n_s, n_t):
    # source N(0,1), target N(1,1): p_t(x)/p_s(x) = exp(x - 1/2) exactly.
    s, t = _gauss(n_s, 1, 0.0, 8), _gauss(n_t, 1, 1.0, 9)
    w = td.shift.importance_weights(s, t, clip=None, normalize=False)
    slope, intercept = np.polyfit(s[:, 0], np.log(w), 1)
    assert slope == pytest.approx(1.0, abs=0.12)  # inverted ratio would give -1
    assert intercept == pytest.approx(-0.5, abs=0.12)  # needs the n_s / n_t correction


def test_importance_weights_clip_and_normalize():
    s, t = _gauss(500, 1, 0.0, 10), _gauss(200, 1, 2.0, 11)
    raw = td.shift.importance_weights(s, t, clip=None, normalize=False)
    clipped = td.shift.importance_weights(s, t, clip=3.0, normalize=False)
    np.testing.assert_allclose(clipped, np.minimum(raw, 3.0))
    norm = td.shift.importance_weights(s, t, clip=3.0)
    np.testing.assert_allclose(norm, clipped / clipped.mean())
    assert norm.mean() == pytest.approx(1.0)


def test_estimator_contract_and_weights():
    det = td.shift.CovariateShiftDetector(n_permutations=50, mmd=False)
    assert det.get_params()["n_permutations"] == 50 and not hasattr(det, "auc_")
    with pytest.raises(RuntimeError, match="not fitted"):
        det.density_ratio(np.zeros((2, 1)))
    s, t = _gauss(800, 1, 0.0, 12), _gauss(800, 1, 1.0, 13)
    assert det.fit(s, t) is det
    assert det.shift_detected_ and det.auc_ == det.result_.auc
    grid = np.array([[-1.0], [0.0], [1.0]])
    np.testing.assert_allclose(np.log(det.density_ratio(grid)), grid[:, 0] - 0.5, atol=0.15)
    w = det.importance_weights(clip=None, normalize=False)
    assert w.shape == (800,) and np.corrcoef(s[:, 0], np.log(w))[0, 1] > 0.99
    assert det.set_params(alpha=0.01).alpha == 0.01
    with pytest.raises(ValueError, match="parameter must be one of"):
        det.set_params(bogus=1)


def test_any_sklearn_classifier_and_torch_features():
    import torch
    from sklearn.ensemble import RandomForestClassifier

    s, t = _gauss(200, 3, 0.0, 14), _gauss(200, 3, 1.0, 15)
    r = td.shift.detect_covariate_shift(
        s, t, classifier=RandomForestClassifier(n_estimators=20, random_state=0),
        n_permutations=100, mmd=False)
    assert r.shift_detected
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh())
    r2 = td.shift.detect_covariate_shift(s, t, features=net, n_permutations=100, mmd=False)
    assert r2.shift_detected and net.training  # mode restored
    r3 = td.shift.detect_covariate_shift(s, t, test="binomial", mmd=False)
    assert r3.test == "binomial" and r3.p_value < 0.05


@pytest.mark.parametrize("kwargs,match", [
    ({"test": "z"}, "test must be one of"),
    ({"n_splits": 1}, "n_splits must be an integer >= 2"),
    ({"n_permutations": 0}, "n_permutations must be an integer >= 1"),
    ({"alpha": 1.5}, r"alpha must be in \(0, 1\)"),
])
def test_detect_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        td.shift.detect_covariate_shift(np.zeros((10, 2)), np.ones((10, 2)), **kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="same number of features"):
        td.shift.detect_covariate_shift(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="must be finite"):
        td.shift.importance_weights(np.full((10, 2), np.nan), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="clip must be > 0"):
        td.shift.importance_weights(np.zeros((10, 2)), np.zeros((10, 2)), clip=0)
    with pytest.raises(ValueError, match="bandwidth must be > 0"):
        td.shift.mmd_test(np.zeros((10, 2)), np.zeros((10, 2)), bandwidth=-1.0)
