"""Nearest and bilinear interpolation, written out as the textbook formulas.

Bilinear interpolation at ``(x, y)`` between the four pixels around it, with ``x1 = ⌊x⌋``,
``x2 = x1 + 1`` (the same for y), first along x and then along y::

    f(x, y1) = f(x1, y1)(x2 − x) + f(x2, y1)(x − x1)
    f(x, y2) = f(x1, y2)(x2 − x) + f(x2, y2)(x − x1)
    f(x, y)  = f(x, y1)(y2 − y) + f(x, y2)(y − y1)

which on the unit square is ``(1−y)(1−x) f(0,0) + (1−y) x f(1,0) + y (1−x) f(0,1) + y x f(1,1)``.
Nearest interpolation takes the pixel whose centre is closest.

Coordinates are in pixels (``x`` along the width, ``y`` along the height, pixel ``(i, j)`` at
``x = j, y = i``); points outside the image are clamped to the border. :func:`resize` applies
either rule on the output grid with the half-pixel convention of
``F.interpolate(..., align_corners=False)``. For real work use ``F.grid_sample`` and
``F.interpolate``: these functions exist to show (and test) the formula.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(input: Tensor, points: Tensor) -> None:
    if input.ndim != 4:
        raise ValueError(f"input must have shape [N, C, H, W], got {tuple(input.shape)}")
    if points.ndim != 3 or points.shape[0] != input.shape[0] or points.shape[2] != 2:
        raise ValueError(f"points must have shape [N, P, 2] with N = {input.shape[0]}, "
                         f"got {tuple(points.shape)}")


def _gather(input: Tensor, yi: Tensor, xi: Tensor) -> Tensor:
    """input[n, :, yi[n, p], xi[n, p]] -> Tensor[N, C, P]."""
    n, c, h, w = input.shape
    flat = (yi * w + xi).unsqueeze(1).expand(n, c, yi.shape[1])
    return input.reshape(n, c, h * w).gather(2, flat)


def bilinear_interpolate(input: Tensor, points: Tensor) -> Tensor:
    """Bilinear interpolation of ``input`` at ``points`` (the four-pixel formula).

    Args:
        input (Tensor[N, C, H, W]): images or feature maps.
        points (Tensor[N, P, 2]): ``(x, y)`` pixel coordinates per image; clamped to
            ``[0, W − 1] × [0, H − 1]``.

    Returns:
        Tensor[N, C, P]: the interpolated values. Differentiable in ``input`` and ``points``.

    Raises:
        ValueError: bad shapes.
    """
    _check(input, points)
    h, w = input.shape[-2:]
    x = points[..., 0].to(input.dtype).clamp(0, w - 1)
    y = points[..., 1].to(input.dtype).clamp(0, h - 1)
    x1 = x.detach().floor().clamp(max=max(w - 2, 0))
    y1 = y.detach().floor().clamp(max=max(h - 2, 0))
    x1i, y1i = x1.long(), y1.long()
    x2i, y2i = (x1i + 1).clamp(max=w - 1), (y1i + 1).clamp(max=h - 1)
    dx, dy = (x - x1).unsqueeze(1), (y - y1).unsqueeze(1)  # x − x1 and y − y1, in [0, 1]
    f_y1 = _gather(input, y1i, x1i) * (1 - dx) + _gather(input, y1i, x2i) * dx
    f_y2 = _gather(input, y2i, x1i) * (1 - dx) + _gather(input, y2i, x2i) * dx
    return f_y1 * (1 - dy) + f_y2 * dy


def nearest_interpolate(input: Tensor, points: Tensor) -> Tensor:
    """Nearest-pixel interpolation: the value of the pixel ``(round(y), round(x))``.

    Args:
        input (Tensor[N, C, H, W]): images or feature maps.
        points (Tensor[N, P, 2]): ``(x, y)`` pixel coordinates, clamped to the image. Ties
            (``.5``) round half to even, as ``torch.round`` and ``F.grid_sample`` do.

    Returns:
        Tensor[N, C, P].

    Raises:
        ValueError: bad shapes.
    """
    _check(input, points)
    h, w = input.shape[-2:]
    xi = points[..., 0].detach().clamp(0, w - 1).round().long()
    yi = points[..., 1].detach().clamp(0, h - 1).round().long()
    return _gather(input, yi, xi)


def resize(input: Tensor, size: tuple[int, int], mode: str = "bilinear") -> Tensor:
    """Resize images with the formulas above on ``F.interpolate``'s sampling grid.

    Output pixel ``i`` of a length-``L_out`` axis samples input coordinate
    ``(i + 0.5)·L_in/L_out − 0.5`` for ``"bilinear"`` (``align_corners=False``) and
    ``⌊i·L_in/L_out⌋`` for ``"nearest"`` (``F.interpolate``'s legacy ``nearest``).

    Args:
        input (Tensor[N, C, H, W]): images.
        size: ``(H_out, W_out)``, positive.
        mode: ``"bilinear"`` or ``"nearest"``.

    Returns:
        Tensor[N, C, H_out, W_out].

    Raises:
        ValueError: bad ``mode``, ``size`` or input shape.
    """
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be one of bilinear, nearest, got {mode!r}")
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"size must be a pair of positive ints, got {size!r}")
    if input.ndim != 4:
        raise ValueError(f"input must have shape [N, C, H, W], got {tuple(input.shape)}")
    n, c, h, w = input.shape
    ho, wo = size
    dtype = input.dtype if input.is_floating_point() else torch.float32
    iy = torch.arange(ho, dtype=torch.float64, device=input.device)
    ix = torch.arange(wo, dtype=torch.float64, device=input.device)
    if mode == "bilinear":
        ys = ((iy + 0.5) * (h / ho) - 0.5).clamp(min=0)
        xs = ((ix + 0.5) * (w / wo) - 0.5).clamp(min=0)
    else:
        ys = torch.floor(iy * (h / ho)).clamp(max=h - 1)
        xs = torch.floor(ix * (w / wo)).clamp(max=w - 1)
    gy, gx = torch.meshgrid(ys.to(dtype), xs.to(dtype), indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).expand(n, ho * wo, 2)
    fn = bilinear_interpolate if mode == "bilinear" else nearest_interpolate
    return fn(input, points).reshape(n, c, ho, wo)
