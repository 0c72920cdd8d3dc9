"""Interpolation (vs F.grid_sample / F.interpolate) and largest_singular_value (vs svdvals)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from torchdoctor.ops import (
    bilinear_interpolate,
    largest_singular_value,
    nearest_interpolate,
    resize,
)


def _grid(points: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Pixel (x, y) -> grid_sample's normalised coordinates with align_corners=True."""
    gx = 2 * points[..., 0] / (w - 1) - 1
    gy = 2 * points[..., 1] / (h - 1) - 1
    return torch.stack([gx, gy], -1)[:, None]  # [N, 1, P, 2]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bilinear_matches_grid_sample(dtype):
    gen = torch.Generator().manual_seed(0)
    img = torch.randn(2, 3, 7, 9, generator=gen, dtype=dtype)
    pts = torch.rand(2, 40, 2, generator=gen, dtype=dtype) * torch.tensor([12.0, 10.0], dtype=dtype) - 1.5
    ours = bilinear_interpolate(img, pts)
    ref = F.grid_sample(img, _grid(pts, 7, 9), mode="bilinear", padding_mode="border",
                        align_corners=True)[:, :, 0]
    assert_close(ours, ref)


def test_bilinear_unit_square_formula():
    # seed 003 §3: f(x,y) = (1-y)(1-x) f(0,0) + (1-y) x f(1,0) + y (1-x) f(0,1) + y x f(1,1)
    f00, f10, f01, f11 = 1.0, 2.0, 5.0, -3.0  # f(x, y): x along the width, y along the height
    img = torch.tensor([[[[f00, f10], [f01, f11]]]], dtype=torch.float64)
    for x, y in ((0.25, 0.5), (0.9, 0.1), (0.0, 1.0), (1.0, 1.0), (0.5, 0.5)):
        ref = (1 - y) * (1 - x) * f00 + (1 - y) * x * f10 + y * (1 - x) * f01 + y * x * f11
        out = bilinear_interpolate(img, torch.tensor([[[x, y]]], dtype=torch.float64))
        assert out.item() == pytest.approx(ref)


def test_nearest_matches_grid_sample():
    gen = torch.Generator().manual_seed(1)
    img = torch.randn(1, 2, 6, 5, generator=gen)
    pts = torch.rand(1, 50, 2, generator=gen) * torch.tensor([7.0, 8.0]) - 1.0
    ref = F.grid_sample(img, _grid(pts, 6, 5), mode="nearest", padding_mode="border",
                        align_corners=True)[:, :, 0]
    assert_close(nearest_interpolate(img, pts), ref)


@pytest.mark.parametrize("size", [(10, 14), (3, 4), (5, 5), (1, 7)])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_resize_matches_interpolate(size, mode):
    gen = torch.Generator().manual_seed(2)
    img = torch.randn(2, 3, 5, 7, generator=gen, dtype=torch.float64)
    kw = {"align_corners": False} if mode == "bilinear" else {}
    assert_close(resize(img, size, mode), F.interpolate(img, size=size, mode=mode, **kw))


def test_bilinear_gradcheck():
    gen = torch.Generator().manual_seed(3)
    img = torch.randn(1, 2, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    # keep points away from integer coordinates, where the interpolant has kinks
    base = torch.tensor([[[0.3, 0.6], [1.4, 2.2], [3.7, 2.5], [2.5, 0.2]]], dtype=torch.float64)
    pts = base.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(bilinear_interpolate, (img, pts))


def test_interpolation_errors():
    img = torch.zeros(1, 1, 3, 3)
    with pytest.raises(ValueError, match=r"input must have shape \[N, C, H, W\]"):
        bilinear_interpolate(torch.zeros(3, 3), torch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"points must have shape \[N, P, 2\] with N = 1"):
        nearest_interpolate(img, torch.zeros(2, 4, 2))
    with pytest.raises(ValueError, match=r"mode must be one of bilinear, nearest, got 'bicubic'"):
        resize(img, (2, 2), "bicubic")
    with pytest.raises(ValueError, match=r"size must be a pair of positive ints"):
        resize(img, (0, 2))


# --- largest singular value --------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_largest_singular_value_random_256(seed):
    w = torch.randn(256, 256, generator=torch.Generator().manual_seed(seed))
    sigma = largest_singular_value(w, 100)
    ref = torch.linalg.svdvals(w)[0]
    assert abs(sigma - ref) / ref < 0.01


def test_largest_singular_value_conv_reshape_and_dim():
    gen = torch.Generator().manual_seed(4)
    w = torch.randn(8, 4, 3, 3, generator=gen, dtype=torch.float64)
    assert_close(largest_singular_value(w, 300), torch.linalg.svdvals(w.reshape(8, -1))[0])
    wt = torch.randn(4, 6, 3, 3, generator=gen, dtype=torch.float64)  # ConvTranspose: dim=1
    assert_close(largest_singular_value(wt, 300, dim=1),
                 torch.linalg.svdvals(wt.movedim(1, 0).reshape(6, -1))[0])
    # a known spectrum: diag(3, 2, 1) rotated
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=gen, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)) @ q.T
    assert largest_singular_value(a, 200).item() == pytest.approx(3.0, rel=1e-9)


def test_largest_singular_value_agrees_with_torch_spectral_norm():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 6, 3).double()
    w = conv.weight.detach().clone()
    sn = torch.nn.utils.parametrizations.spectral_norm(conv, n_power_iterations=500)
    sn.train()
    sn(torch.zeros(1, 3, 5, 5, dtype=torch.float64))  # runs the power iterations
    sigma_torch = (w.norm() / sn.weight.detach().norm()).item()
    assert largest_singular_value(w, 300).item() == pytest.approx(sigma_torch, rel=1e-6)


def test_largest_singular_value_errors():
    with pytest.raises(ValueError, match=r"n_iter must be an integer >= 1, got 0"):
        largest_singular_value(torch.ones(2, 2), 0)
    with pytest.raises(ValueError, match=r"eps must be > 0, got 0"):
        largest_singular_value(torch.ones(2, 2), 5, eps=0)
    with pytest.raises(ValueError, match=r"weight must have at least 1 dimension"):
        largest_singular_value(torch.tensor(1.0), 5)
