"""Datasets: shapes, ranges, determinism, and the data knobs (no validation leakage)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchdoctor.data import load, load_raw
from torchdoctor.train.config import load_config

EXPECTED = {  # name: (input shape, classes, kind)
    "digits": ((1, 8, 8), 10, "image"),
    "moons": ((2,), 2, "tabular"),
    "blobs": ((2,), 4, "tabular"),
    "spirals": ((2,), 3, "tabular"),
    "mnist1d": ((1, 40), 10, "sequence"),
    "ring8": ((2,), 8, "tabular"),
    "grid25": ((2,), 25, "tabular"),
}


def _load(*overrides: str, pool: bool = False):
    cfg = load_config(None, list(overrides))
    return load(cfg.data, seed=cfg.seed, with_pool=pool)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shapes_classes_and_determinism(name: str) -> None:
    shape, k, kind = EXPECTED[name]
    a = _load(f"data.name={name}")
    assert a.input_shape == shape and a.num_classes == k and a.kind == kind
    assert a.x_train.shape[1:] == shape and a.x_train.dtype == torch.float32
    assert a.y_train.dtype == torch.int64 and int(a.y_train.max()) == k - 1
    assert set(a.y_val.tolist()) == set(range(k))  # stratified: every class validated
    n_total = len(load_raw(name).x)
    assert len(a.x_train) + len(a.x_val) == n_total
    assert abs(len(a.x_val) / n_total - 0.2) < 0.02
    b = _load(f"data.name={name}")
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    c = _load(f"data.name={name}", "seed=1")
    assert not torch.equal(a.x_val, c.x_val)


def test_digits_raw_range_and_counts() -> None:
    raw = load_raw("digits")
    assert raw.x.shape == (1797, 1, 8, 8) and raw.x.min() == 0 and raw.x.max() == 16


def test_gan_mixtures_geometry() -> None:
    ring = load_raw("ring8")
    r = np.linalg.norm(ring.x, axis=1)
    assert abs(r.mean() - 1.0) < 0.01 and r.std() < 0.02
    for c in range(8):  # each mode at angle 2πc/8, spread σ = 0.01
        pts = ring.x[ring.y == c]
        centre = np.array([np.cos(2 * np.pi * c / 8), np.sin(2 * np.pi * c / 8)])
        assert np.allclose(pts.mean(0), centre, atol=0.005)
        assert abs((pts - centre).std() - 0.01) < 0.002
    grid = load_raw("grid25")
    centres = np.round(grid.x / 2) * 2
    assert set(np.unique(centres)) <= {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert abs((grid.x - centres).std() - 0.05) < 0.005


def test_standard_normalization_uses_training_statistics_only() -> None:
    b = _load("data.name=moons")
    assert torch.allclose(b.x_train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(b.x_train.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    # recompute from the raw training rows: validation rows must not enter the statistics
    raw_tr = b.x_train_raw
    ref = (raw_tr - raw_tr.mean(0)) / raw_tr.std(0)
    assert np.allclose(b.x_train.numpy(), ref, atol=1e-5)
    assert not torch.allclose(b.x_val.mean(0), torch.zeros(2), atol=1e-4)


@pytest.mark.parametrize(("mode", "lo", "hi"), [("minmax", 0.0, 1.0), ("unit", -1.0, 1.0)])
def test_range_normalizations(mode: str, lo: float, hi: float) -> None:
    b = _load(f"data.normalize={mode}")
    assert float(b.x_train.min()) == pytest.approx(lo, abs=1e-6)
    assert float(b.x_train.max()) == pytest.approx(hi, abs=1e-6)


def test_scale_multiplies_raw_inputs_before_normalization() -> None:
    b = _load("data.normalize=none", "data.scale=255")
    assert float(b.x_train.max()) == pytest.approx(16 * 255)
    s = _load("data.scale=255")  # standardization undoes any scale
    assert float(s.x_train.std()) == pytest.approx(1.0, abs=1e-3)


def test_imbalance_ratio_and_validation_untouched() -> None:
    b = _load("data.imbalance=10")
    counts = np.bincount(b.y_train.numpy(), minlength=10)
    assert counts.max() / counts.min() == pytest.approx(10, rel=0.15)
    assert counts[0] > counts[5] > counts[9]
    base = _load()
    assert torch.equal(b.y_val, base.y_val)


def test_label_noise_fraction_and_seeded() -> None:
    clean = _load("data.shuffle=false")
    noisy = _load("data.label_noise=0.3", "data.shuffle=false")
    assert noisy.info["noisy_labels"] == round(0.3 * len(noisy.y_train))
    # same rows (sorted by clean label); compare class histograms: noise moves ~30 % of labels
    assert not torch.equal(torch.sort(clean.y_train).values, torch.sort(noisy.y_train).values)
    again = _load("data.label_noise=0.3", "data.shuffle=false")
    assert torch.equal(noisy.y_train, again.y_train)
    assert torch.equal(noisy.y_val, clean.y_val)  # validation labels stay clean


def test_unshuffled_data_is_sorted_by_label() -> None:
    b = _load("data.shuffle=false")
    y = b.y_train
    assert torch.all(y[1:] >= y[:-1])


def test_target_pool_is_disjoint_held_out() -> None:
    b = _load(pool=True)
    assert b.x_pool is not None and len(b.x_pool) > 0
    n = len(b.x_train) + len(b.x_val) + len(b.x_pool)
    assert n == 1797
    rows = {tuple(r) for r in b.x_train.flatten(1).numpy().round(5).tolist()}
    overlap = sum(tuple(r) in rows for r in b.x_pool.flatten(1).numpy().round(5).tolist())
    assert overlap <= 5  # digits has a few exact duplicate images; pool rows are otherwise new


def test_npz_dataset(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    p = tmp_path / "mine.npz"
    np.savez(p, x=x, y=y)
    b = _load(f"data.name=npz:{p}")
    assert b.task == "classification" and b.num_classes == 2 and b.input_shape == (5,)
    np.savez(tmp_path / "reg.npz", x=x, y=x[:, 1] * 2.0)
    r = _load(f"data.name=npz:{tmp_path / 'reg.npz'}")
    assert r.task == "regression" and r.y_train.dtype == torch.float32


@pytest.mark.parametrize(
    ("arrays", "pattern"),
    [({"x": np.zeros((3, 2))}, "missing array\\(s\\) y; it has x$"),
     ({"x": np.zeros((3, 2)), "y": np.zeros(4, dtype=np.int64)}, "y has 4 rows but x has 3"),
     ({"x": np.zeros(3), "y": np.zeros(3, dtype=np.int64)}, "x has shape \\(3,\\); expected rank 2")],
)
def test_npz_errors(tmp_path, arrays: dict, pattern: str) -> None:
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(ValueError, match=pattern):
        _load(f"data.name=npz:{p}")
    with pytest.raises(ValueError, match="file does not exist"):
        _load(f"data.name=npz:{tmp_path / 'none.npz'}")
