"""Operations for detection, image and GAN models: RoI Align, interpolation, receptive fields.

- :func:`roi_align` / :class:`RoIAlign`: RoI Align with torchvision's semantics, vectorized.
- :func:`bilinear_interpolate`, :func:`nearest_interpolate`, :func:`resize`: the
  textbook nearest and four-pixel bilinear formulas.
- :func:`receptive_field` (analytic, per layer) and :func:`empirical_receptive_field`
  (gradient of a centre unit).
- :func:`largest_singular_value`: power iteration, the measurement behind spectral norm.
"""

from torchdoctor.ops._interpolate import bilinear_interpolate, nearest_interpolate, resize
from torchdoctor.ops._receptive_field import LayerRF, empirical_receptive_field, receptive_field
from torchdoctor.ops._roi_align import RoIAlign, roi_align
from torchdoctor.ops._spectral import largest_singular_value

__all__ = [
    "LayerRF",
    "RoIAlign",
    "bilinear_interpolate",
    "empirical_receptive_field",
    "largest_singular_value",
    "nearest_interpolate",
    "receptive_field",
    "resize",
    "roi_align",
]
