"""Data checkup findings on crafted data; JSON shape of ``checkup --json``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from torchdoctor.data.checkup import run_checkup
from torchdoctor.findings import SYMPTOM_CODES, _jsonable


def _clean(n: int = 300, d: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % 3


def _codes(findings):
    return {f.code for f in findings}


def test_clean_data_has_no_findings():
    x, y = _clean()
    xv, yv = _clean(60, seed=1)
    findings, stats = run_checkup(x, y, xv, yv)
    assert findings == []
    assert stats["n_train"] == 300 and stats["n_val"] == 60 and stats["n_features"] == 5
    np.testing.assert_allclose(stats["features"]["mean"], x.mean(0))
    np.testing.assert_allclose(stats["features"]["std"], x.std(0))


def test_unnormalized_input_recommends_mode():
    x, y = _clean()
    scaled = x * np.array([1, 100, 1, 1, 1]) + 50.0
    findings, stats = run_checkup(scaled, y)
    f = next(f for f in findings if f.code == "unnormalized_input")
    assert f.severity == "warning"
    assert [r.code for r in f.remedies] == ["normalize_inputs", "minmax_inputs", "add_normalization"]
    assert f.evidence["features_off_centre"] == 5 and f.evidence["features_bad_scale"] == 1
    assert stats["recommended_normalize"] == "standard"
    # the configured normalization takes care of raw inputs: info only
    f2 = next(g for g in run_checkup(scaled, y, normalize="standard")[0]
              if g.code == "unnormalized_input")
    assert f2.severity == "info"
    # huge values: error
    assert next(g for g in run_checkup(x * 1e4, y)[0] if g.code == "unnormalized_input"
                ).severity == "error"


def test_eight_bit_pixels_recommend_unit():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(200, 16)).astype(np.float64)
    f = next(g for g in run_checkup(x, None, task="gan")[0] if g.code == "unnormalized_input")
    assert f.evidence["recommended"] == "unit" and f.remedies[0].code == "scale_pixels"


def test_class_imbalance_ratio_and_remedies():
    x, _ = _clean(330)
    y = np.r_[np.zeros(300, int), np.ones(30, int)]  # 10:1
    findings, stats = run_checkup(x, y)
    f = next(f for f in findings if f.code == "class_imbalance")
    # the doctor's threshold (10) and severity (warning), and the doctor's remedies
    assert f.severity == "warning" and f.evidence["ratio"] == pytest.approx(10.0)
    np.testing.assert_allclose(f.evidence["class_weights"], [330 / 600, 330 / 60])
    assert [r.code for r in f.remedies] == ["class_weights", "use_focal_loss", "resample"]
    assert all(not r.patch for r in f.remedies)  # the library gives cures, not config patches
    y4 = np.r_[np.zeros(120, int), np.ones(30, int), np.full(180, 2)]  # 6:1: below 10
    assert "class_imbalance" not in _codes(run_checkup(x, y4)[0])
    lower = run_checkup(x, y4, thresholds={"imbalance_ratio": 5.0})[0]
    assert next(g for g in lower if g.code == "class_imbalance").evidence["threshold"] == 5.0
    assert "class_imbalance" not in _codes(run_checkup(x, y, task="regression")[0])


def test_duplicates_between_train_and_val():
    x, y = _clean(300, seed=3)
    xv, yv = _clean(100, seed=4)
    xv[:10] = x[:10]  # exact leaks
    xv[10:15] = x[20:25] + 1e-4  # near copies
    findings, stats = run_checkup(x, y, xv, yv)
    f = next(f for f in findings if f.code == "duplicate_samples")
    assert f.evidence["val_exact_in_train"] == 10 and f.evidence["val_near_in_train"] == 5
    assert f.severity == "error"  # 15% of validation
    assert stats["duplicates"]["train_internal_duplicates"] == 0
    x2 = np.r_[x, x[:3]]
    assert run_checkup(x2, np.r_[y, y[:3]])[1]["duplicates"]["train_internal_duplicates"] == 3


def test_constant_features():
    x, y = _clean()
    x[:, [1, 3]] = 7.0
    findings, _ = run_checkup(x, y)
    f = next(f for f in findings if f.code == "constant_feature")
    assert f.evidence["indices"] == [1, 3] and f.severity == "info"


def test_findings_sorted_and_json_like_cli():
    x, _ = _clean(330)
    y = np.r_[np.zeros(300, int), np.ones(30, int)]
    x[:, 0] = 3.0
    findings, stats = run_checkup(x * 50, y, x[:20] * 50, y[:20])
    ranks = [{"error": 2, "warning": 1, "info": 0}[f.severity] for f in findings]
    assert ranks == sorted(ranks, reverse=True)
    assert all(f.code in SYMPTOM_CODES for f in findings)
    doc = json.loads(json.dumps({"findings": [f.to_dict() for f in findings],
                                 "stats": _jsonable(stats)}))
    assert {"code", "severity", "message", "evidence", "remedies"} <= set(doc["findings"][0])
    assert doc["stats"]["classes"]["counts"] == [300, 30]


def test_digits_checkup():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    findings, stats = run_checkup(x[:1400], y[:1400], x[1400:], y[1400:])
    assert _codes(findings) == {"unnormalized_input", "constant_feature"}
    assert stats["features"]["constant_count"] == 3


@pytest.mark.parametrize("kwargs,match", [
    ({"task": "ranking"}, "task must be one of"),
    ({"near_tol": -1.0}, "near_tol must be >= 0"),
])
def test_bad_arguments(kwargs, match):
    x, y = _clean(20)
    with pytest.raises(ValueError, match=match):
        run_checkup(x, y, **kwargs)


def test_bad_shapes():
    x, y = _clean(20)
    with pytest.raises(ValueError, match="y_train must have 20 rows"):
        run_checkup(x, y[:5])
    with pytest.raises(ValueError, match="x_val must have 5 features"):
        run_checkup(x, y, x[:, :3])


def test_checkup_uses_the_doctors_thresholds():
    from torchdoctor.catalogue import Thresholds

    x, y = _clean()
    wide = (x - x.mean(0)) * np.array([1, 30, 1, 1, 1])  # a feature with std ~30 > 10
    assert "unnormalized_input" in _codes(run_checkup(wide, y)[0])
    relaxed = Thresholds(input_scale_high=100.0, feature_scale_spread=100.0)
    assert "unnormalized_input" not in _codes(run_checkup(wide, y, thresholds=relaxed)[0])
    with pytest.raises(ValueError, match="must name fields of Thresholds"):
        run_checkup(x, y, thresholds={"scale_tol": 10})
