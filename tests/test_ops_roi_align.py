"""roi_align against an explicit-loop transcription of torchvision's CPU kernel."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from torchdoctor.ops import RoIAlign, roi_align


def _bilinear_loop(fm: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """torchvision roi_align_kernel.cpp bilinear_interpolate, one point, all channels."""
    _, height, width = fm.shape
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return fm.new_zeros(fm.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_high = y_low = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_high = x_low = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (hy * hx * fm[:, y_low, x_low] + hy * lx * fm[:, y_low, x_high]
            + ly * hx * fm[:, y_high, x_low] + ly * lx * fm[:, y_high, x_high])


def roi_align_loop(input, rois, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Explicit loops over RoIs, bins and sample points (the slow, obviously correct version)."""
    ph_n, pw_n = (output_size, output_size) if isinstance(output_size, int) else output_size
    out = input.new_zeros(len(rois), input.shape[1], ph_n, pw_n)
    offset = 0.5 if aligned else 0.0
    for k, roi in enumerate(rois.tolist()):
        fm = input[int(roi[0])]
        x1, y1 = roi[1] * spatial_scale - offset, roi[2] * spatial_scale - offset
        x2, y2 = roi[3] * spatial_scale - offset, roi[4] * spatial_scale - offset
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph_n, rw / pw_n
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / ph_n)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / pw_n)
        count = max(gh * gw, 1)
        for ph in range(ph_n):
            for pw in range(pw_n):
                acc = input.new_zeros(input.shape[1])
                for iy in range(gh):
                    y = y1 + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        x = x1 + pw * bw + (ix + 0.5) * bw / gw
                        acc = acc + _bilinear_loop(fm, y, x)
                out[k, :, ph, pw] = acc / count
    return out


def _boxes(gen, k, n, h, w, scale, dtype, spill=3.0):
    xy = torch.rand(k, 2, generator=gen, dtype=dtype) * torch.tensor([w, h], dtype=dtype) / scale
    wh = torch.rand(k, 2, generator=gen, dtype=dtype) * torch.tensor([w, h], dtype=dtype) / scale
    b = torch.cat([xy - spill, xy + wh], 1)  # some boxes start outside the map
    idx = torch.randint(0, n, (k, 1), generator=gen).to(dtype)
    return torch.cat([idx, b], 1)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 1, 2])
@pytest.mark.parametrize(("spatial_scale", "output_size"), [(1.0, (3, 2)), (0.5, 4)])
def test_roi_align_matches_loop(aligned, sampling_ratio, spatial_scale, output_size):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 11, generator=gen, dtype=torch.float64)
    rois = _boxes(gen, 6, 2, 9, 11, spatial_scale, torch.float64)
    ours = roi_align(x, rois, output_size, spatial_scale, sampling_ratio, aligned)
    ref = roi_align_loop(x, rois, output_size, spatial_scale, sampling_ratio, aligned)
    assert_close(ours, ref)


def test_roi_align_edge_cases_out_of_range_and_degenerate():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 5, 6, generator=gen, dtype=torch.float64)
    rois = torch.tensor([
        [0, -4.0, -4.0, -1.5, -1.2],   # entirely above-left: samples below -1 are zero
        [0, 4.5, 3.5, 9.0, 8.0],       # crosses the bottom-right border (clamp, then > H zero)
        [0, 2.0, 2.0, 2.0, 2.0],       # zero-size box (width clamped to 1 when not aligned)
        [0, 3.0, 3.0, 2.0, 1.0],       # inverted box: negative size when aligned
        [0, 0.0, 0.0, 6.0, 5.0],       # the whole map
    ], dtype=torch.float64)
    for aligned in (False, True):
        for sr in (-1, 2):
            assert_close(roi_align(x, rois, (2, 3), 1.0, sr, aligned),
                         roi_align_loop(x, rois, (2, 3), 1.0, sr, aligned))


def test_roi_align_list_boxes_float32_and_module():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 8, 8, generator=gen)
    per_image = [torch.tensor([[1.0, 1.0, 6.0, 5.0], [0.0, 2.0, 3.0, 7.5]]),
                 torch.zeros(0, 4),
                 torch.tensor([[2.5, 0.5, 7.0, 7.0]])]
    rois = torch.tensor([[0, 1.0, 1.0, 6.0, 5.0], [0, 0.0, 2.0, 3.0, 7.5], [2, 2.5, 0.5, 7.0, 7.0]])
    ours = roi_align(x, per_image, 2, 1.0, 2, True)
    assert ours.shape == (3, 4, 2, 2)
    assert_close(ours, roi_align_loop(x, rois, 2, 1.0, 2, True))
    module = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    assert_close(module(x, rois), ours)
    assert "aligned=True" in repr(module)
    assert roi_align(x, torch.zeros(0, 5), 3).shape == (0, 4, 3, 3)


def test_roi_align_constant_map_and_gradcheck():
    # on a constant map every in-range sample returns the constant (aligned box inside the map)
    x = torch.full((1, 1, 6, 6), 2.5, dtype=torch.float64)
    out = roi_align(x, torch.tensor([[0, 1.0, 1.0, 5.0, 4.0]], dtype=torch.float64), 3, aligned=True)
    assert_close(out, torch.full_like(out, 2.5))
    gen = torch.Generator().manual_seed(3)
    inp = torch.randn(2, 2, 5, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    rois = _boxes(gen, 4, 2, 5, 7, 1.0, torch.float64, spill=1.0)
    for sr, aligned in ((-1, False), (2, True)):
        assert torch.autograd.gradcheck(
            lambda t, sr=sr, aligned=aligned: roi_align(t, rois, (2, 3), 1.0, sr, aligned), (inp,))


def test_roi_align_errors():
    x = torch.zeros(1, 1, 4, 4)
    good = torch.zeros(1, 5)
    with pytest.raises(ValueError, match=r"input must have shape \[N, C, H, W\]"):
        roi_align(torch.zeros(1, 4, 4), good, 2)
    with pytest.raises(ValueError, match=r"boxes must be a Tensor\[K, 5\] or a list"):
        roi_align(x, torch.zeros(3, 4), 2)
    with pytest.raises(ValueError, match=r"boxes\[0\] must have shape \[L, 4\]"):
        roi_align(x, [torch.zeros(2, 5)], 2)
    with pytest.raises(ValueError, match=r"output_size must be a positive int or a pair"):
        roi_align(x, good, (0, 2))
    with pytest.raises(ValueError, match=r"spatial_scale must be > 0, got 0"):
        roi_align(x, good, 2, spatial_scale=0)
