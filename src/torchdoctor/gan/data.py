"""The GAN trainer's data: every sample of a dataset, scaled for the networks and back.

``gan.scale_inputs: true`` maps the data to [-1, 1] by min-max (per feature for vectors, over
all pixels for images) for a tanh output; ``false`` standardizes (zero mean, unit variance).
:meth:`GanData.unscale` maps generated samples back to the data's own coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["GanData", "load_gan_data"]


@dataclass
class GanData:
    """Training samples for a GAN.

    Attributes:
        x: float32 tensor (N, *shape), scaled.
        raw: the samples in the data's own units, numpy (N, *shape).
        y: labels (N,) when the dataset has classes (digits: the metrics' classifier), else None.
        name: dataset name.
        kind: ``"tabular"`` or ``"image"``.
        shift, scale: ``raw = x * scale + shift`` (broadcast over the samples).
    """

    x: torch.Tensor
    raw: np.ndarray
    y: np.ndarray | None
    name: str
    kind: str
    shift: np.ndarray
    scale: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """One sample's shape: (D,) or (C, H, W)."""
        return tuple(self.x.shape[1:])

    def unscale(self, x: Any) -> np.ndarray:
        """Samples in scaled units (N, *shape) -> the data's own units (float32 numpy)."""
        a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        return (a * self.scale + self.shift).astype(np.float32)


def load_gan_data(name: str, seed: int = 0, *, scale_inputs: bool = True) -> GanData:
    """Every sample of dataset ``name`` (registry name or ``npz:PATH``), scaled.

    Raises:
        ValueError: a sequence dataset (the GAN trainer generates vectors and images).
    """
    from torchdoctor.data import load_raw

    raw = load_raw(name, seed)
    if raw.kind not in ("tabular", "image"):
        raise ValueError(f"data.name = {name}: task gan generates vectors or images, not "
                         f"{raw.kind} data; allowed: ring8, grid25, digits, or npz:PATH with x "
                         "of rank 2 or 4")
    x = np.asarray(raw.x, dtype=np.float64)
    axes = 0 if raw.kind == "tabular" else None  # per feature / over every pixel
    if scale_inputs:
        lo, hi = x.min(axis=axes), x.max(axis=axes)
        shift, scale = (hi + lo) / 2, (hi - lo) / 2
    else:
        shift, scale = x.mean(axis=axes), x.std(axis=axes)
    scale = np.where(np.asarray(scale) > 0, scale, 1.0)
    shift, scale = np.asarray(shift, np.float64), np.asarray(scale, np.float64)
    xs = torch.tensor((x - shift) / scale, dtype=torch.float32)
    y = np.asarray(raw.y) if raw.y is not None and raw.task == "classification" else None
    return GanData(xs, raw.x.astype(np.float32), y, raw.name, raw.kind, shift, scale)
