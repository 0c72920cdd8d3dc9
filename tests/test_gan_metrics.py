"""Mode metrics (td.gan.modes) against closed-form cases and the datasets they describe."""

from __future__ import annotations

import math

import numpy as np
import pytest

import torchdoctor as td
from torchdoctor.data import load_raw


def _ring() -> td.gan.modes.Mixture:
    return td.gan.mixture("ring8")


def test_samples_exactly_on_the_modes_capture_all_with_a_uniform_histogram() -> None:
    mix = _ring()
    x = np.tile(mix.centres, (300, 1))  # 2,400 samples, 300 per mode
    s = td.gan.mode_stats(x, mix.centres, mix.sigma)
    assert s["modes"] == 8 and s["num_modes"] == 8
    assert s["high_quality"] == 1.0
    assert s["kl"] == pytest.approx(0.0, abs=1e-12)
    assert s["counts"] == [300] * 8


def test_one_mode_only_gives_kl_log_k() -> None:
    mix = td.gan.mixture("grid25")
    x = np.repeat(mix.centres[7:8], 2500, axis=0)
    s = td.gan.mode_stats(x, mix.centres, mix.sigma)
    assert s["modes"] == 1 and s["high_quality"] == 1.0
    assert s["kl"] == pytest.approx(math.log(25), rel=1e-12)


def test_kl_of_a_known_histogram() -> None:
    # p = (1/4, 1/4, 1/2) against uniform 1/3: sum p log(3p), by hand
    want = 2 * 0.25 * math.log(0.75) + 0.5 * math.log(1.5)
    assert td.gan.kl_from_uniform([1, 1, 2]) == pytest.approx(want, rel=1e-12)
    assert td.gan.kl_from_uniform([5, 0, 0, 0]) == pytest.approx(math.log(4), rel=1e-12)
    assert td.gan.kl_from_uniform([0, 0]) == math.inf
    with pytest.raises(ValueError, match="non-negative"):
        td.gan.kl_from_uniform([1, -1])


def test_high_quality_is_within_three_sigma() -> None:
    mix = _ring()
    c, s = mix.centres[0], mix.sigma
    inside = c + np.array([2.9 * s, 0.0])
    outside = c + np.array([0.0, 3.1 * s])
    far = np.array([0.0, 0.0])  # the ring's centre: nearest to some mode, but 1 away
    r = td.gan.mode_stats(np.stack([inside, outside, far]), mix.centres, s)
    assert r["high_quality"] == pytest.approx(1 / 3)
    assert r["modes"] == 1 and r["counts"][0] == 1


def test_gaussian_samples_of_the_dataset_score_like_the_closed_form() -> None:
    # a 2-D Gaussian with per-coordinate sigma: P(r <= 3 sigma) = 1 - exp(-9/2)
    for name in ("ring8", "grid25"):
        raw = load_raw(name, seed=3)
        mix = td.gan.mixture(name)
        s = td.gan.mode_stats(raw.x, mix.centres, mix.sigma)
        assert s["modes"] == len(mix.centres)
        assert s["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
        assert s["kl"] < 0.01


def test_mixture_centres_are_the_datasets_class_means() -> None:
    for name in ("ring8", "grid25"):
        raw = load_raw(name, seed=0)
        mix = td.gan.mixture(name)
        means = np.stack([raw.x[raw.y == k].mean(0) for k in range(len(mix.centres))])
        stds = np.stack([raw.x[raw.y == k].std(0) for k in range(len(mix.centres))])
        n = np.bincount(raw.y).min()
        assert np.abs(means - mix.centres).max() < 5 * mix.sigma / math.sqrt(n)
        assert np.abs(stds / mix.sigma - 1).max() < 0.2
    assert td.gan.mixture("digits") is None


def test_bad_inputs_are_refused_in_one_line() -> None:
    mix = _ring()
    with pytest.raises(ValueError, match="finite"):
        td.gan.mode_stats(np.array([[np.nan, 0.0]]), mix.centres, mix.sigma)
    with pytest.raises(ValueError, match="do not match"):
        td.gan.mode_stats(np.zeros((3, 3)), mix.centres, mix.sigma)
    with pytest.raises(ValueError, match="sigma"):
        td.gan.mode_stats(np.zeros((3, 2)), mix.centres, 0.0)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, td.gan.DigitClassifier]:
    raw = load_raw("digits")
    return raw.x, raw.y, td.gan.DigitClassifier(raw.x, raw.y)


def test_real_digits_show_all_ten_classes_in_balance(digits) -> None:
    x, y, clf = digits
    assert clf.accuracy(x, y) > 0.97  # logistic regression on the 64 pixels
    s = td.gan.digit_stats(x, clf, real=x)
    assert s["modes"] == 10
    true_kl = td.gan.kl_from_uniform(np.bincount(y))  # the dataset's own (near) balance
    assert abs(s["kl"] - true_kl) < 0.01
    assert s["coverage"] == 1.0  # every real ball holds its own centre


def test_one_digit_class_is_one_mode(digits) -> None:
    x, y, clf = digits
    threes = x[y == 3]
    s = td.gan.digit_stats(threes, clf, real=x)
    assert s["modes"] == 1
    assert s["kl"] > 0.9 * math.log(10)
    assert s["coverage"] < 0.2
