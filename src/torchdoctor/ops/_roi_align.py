"""RoI Align (He et al. 2017, Mask R-CNN) in plain PyTorch, with torchvision's semantics.

RoI Align pools a region of interest by *bilinear interpolation* of the feature
map at regularly spaced sample points inside each output bin, instead of rounding the box to
the pixel grid (RoI Pool). The output of bin ``(ph, pw)`` is the mean of the interpolated
values at ``grid_h × grid_w`` sample points.

Semantics follow ``torchvision.ops.roi_align`` exactly:

- boxes in input coordinates ``(x1, y1, x2, y2)``, multiplied by ``spatial_scale``;
  ``aligned=True`` shifts them by −0.5 pixel (pixel centres at integer + 0.5); with
  ``aligned=False`` the RoI width and height are clamped to at least 1;
- ``sampling_ratio > 0``: that many samples per bin and axis; ``<= 0``: adaptive,
  ``ceil(roi_size / output_size)`` per RoI;
- a sample with ``y < −1`` or ``y > H`` (or the same in x) contributes 0; otherwise its
  coordinates are clamped into ``[0, H − 1]`` before interpolating.

Vectorisation: bilinear weights and the out-of-range mask factor into a y-part and an x-part,
so each RoI's sample weights are two small tensors ``[K, PH, R]`` and ``[K, PW, S]``
(``R = 2 × max grid_h``: two neighbouring rows per sample), and the output is one gather of
the feature map and one weighted sum. Gradients flow to ``input`` by autograd (none to the
boxes, as in torchvision). Memory is ``K·PH·R·PW·S·C`` values: with adaptive sampling on
very large RoIs prefer ``torchvision.ops.roi_align`` (a C++/CUDA kernel) when available.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {value!r}")
    return pair  # type: ignore[return-value]


def _rois(boxes: Tensor | list[Tensor], input: Tensor) -> Tensor:
    if isinstance(boxes, (list, tuple)):
        for i, b in enumerate(boxes):
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(f"boxes[{i}] must have shape [L, 4], got {tuple(b.shape)}")
        if len(boxes) == 0:
            return input.new_zeros(0, 5)
        idx = torch.cat([torch.full((len(b), 1), i, dtype=b.dtype, device=b.device)
                         for i, b in enumerate(boxes)])
        return torch.cat([idx, torch.cat(list(boxes))], 1)
    if boxes.ndim != 2 or boxes.shape[1] != 5:
        raise ValueError(f"boxes must be a Tensor[K, 5] or a list of Tensor[L, 4], "
                         f"got shape {tuple(boxes.shape)}")
    return boxes


def _axis_weights(start: Tensor, bin_size: Tensor, grid: Tensor, pooled: int, size: int,
                  grid_max: int) -> tuple[Tensor, Tensor]:
    """Per-RoI interpolation rows (or columns) and weights along one axis.

    Returns ``index [K, pooled, 2·grid_max]`` (long) and ``weight`` of the same shape, the
    weights already divided by the RoI's grid count and zero for padded or out-of-range samples.
    """
    dtype = start.dtype
    p = torch.arange(pooled, dtype=dtype, device=start.device)
    i = torch.arange(grid_max, dtype=dtype, device=start.device)
    g = grid.to(dtype).clamp(min=1)
    coord = (start[:, None, None] + p[None, :, None] * bin_size[:, None, None]
             + (i[None, None, :] + 0.5) * (bin_size / g)[:, None, None])  # [K, pooled, G]
    valid = (coord >= -1.0) & (coord <= size) & (i[None, None, :] < grid[:, None, None])
    coord = coord.clamp(min=0)
    low = coord.floor().long()
    at_edge = low >= size - 1
    low = torch.where(at_edge, torch.full_like(low, size - 1), low)
    high = torch.where(at_edge, low, low + 1)
    frac = torch.where(at_edge, torch.zeros_like(coord), coord - low.to(dtype))
    scale = valid.to(dtype) / g[:, None, None]
    index = torch.stack([low, high], -1).flatten(2)
    weight = torch.stack([(1 - frac) * scale, frac * scale], -1).flatten(2)
    return index, weight


def roi_align(
    input: Tensor,
    boxes: Tensor | list[Tensor],
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> Tensor:
    """RoI Align with ``torchvision.ops.roi_align``'s signature and semantics.

    Args:
        input (Tensor[N, C, H, W]): feature map.
        boxes (Tensor[K, 5] or list of Tensor[L, 4]): ``(batch_index, x1, y1, x2, y2)`` rows,
            or one ``(x1, y1, x2, y2)`` tensor per image, in input-image coordinates.
        output_size: ``(PH, PW)`` or an int for both.
        spatial_scale: factor from box coordinates to feature-map pixels (> 0), e.g. 1/16.
        sampling_ratio: sample points per bin and axis; ``<= 0`` means adaptive,
            ``ceil(roi_size / output_size)`` per RoI (default −1).
        aligned: shift boxes by −0.5 pixel so that pixel centres sit at half-integers.

    Returns:
        Tensor[K, C, PH, PW].

    Raises:
        ValueError: bad shapes, ``output_size`` or ``spatial_scale``.
    """
    if input.ndim != 4:
        raise ValueError(f"input must have shape [N, C, H, W], got {tuple(input.shape)}")
    ph, pw = _pair(output_size, "output_size")
    if not spatial_scale > 0:
        raise ValueError(f"spatial_scale must be > 0, got {spatial_scale}")
    rois = _rois(boxes, input).detach().to(input.dtype)
    n, c, h, w = input.shape
    k = rois.shape[0]
    if k == 0:
        return input.new_zeros(0, c, ph, pw)
    offset = 0.5 if aligned else 0.0
    x1 = rois[:, 1] * spatial_scale - offset
    y1 = rois[:, 2] * spatial_scale - offset
    roi_w = rois[:, 3] * spatial_scale - offset - x1
    roi_h = rois[:, 4] * spatial_scale - offset - y1
    if not aligned:
        roi_w = roi_w.clamp(min=1.0)
        roi_h = roi_h.clamp(min=1.0)
    bin_h, bin_w = roi_h / ph, roi_w / pw
    if sampling_ratio > 0:
        grid_h = torch.full((k,), sampling_ratio, dtype=torch.long, device=input.device)
        grid_w = grid_h
    else:
        grid_h = torch.ceil(roi_h / ph).clamp(min=0).long()
        grid_w = torch.ceil(roi_w / pw).clamp(min=0).long()
    gh_max = max(int(grid_h.max()), 1)  # one host sync: the padded sample count
    gw_max = max(int(grid_w.max()), 1)
    yi, wy = _axis_weights(y1, bin_h, grid_h, ph, h, gh_max)  # [K, PH, R]
    xi, wx = _axis_weights(x1, bin_w, grid_w, pw, w, gw_max)  # [K, PW, S]
    batch = rois[:, 0].long()
    flat = ((batch[:, None, None, None, None] * h + yi[:, :, :, None, None]) * w
            + xi[:, None, None, :, :])  # [K, PH, R, PW, S]
    table = input.permute(0, 2, 3, 1).reshape(n * h * w, c)
    values = table.index_select(0, flat.reshape(-1)).view(*flat.shape, c)
    return torch.einsum("kprqsc,kpr,kqs->kcpq", values, wy, wx)


class RoIAlign(nn.Module):
    """Module form of :func:`roi_align` (same arguments, stored)."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float = 1.0,
                 sampling_ratio: int = -1, aligned: bool = False) -> None:
        super().__init__()
        self.output_size = _pair(output_size, "output_size")
        if not spatial_scale > 0:
            raise ValueError(f"spatial_scale must be > 0, got {spatial_scale}")
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input: Tensor, rois: Tensor | list[Tensor]) -> Tensor:
        """Args: input (Tensor[N, C, H, W]); rois (Tensor[K, 5] or list of Tensor[L, 4])."""
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio,
                         self.aligned)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
