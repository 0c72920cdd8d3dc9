"""Operations the notes describe (MISSION.md section H): RoI Align, interpolation, receptive
fields, and the largest singular value behind spectral normalization.
"""

from torchdoctor.ops._roi_align import RoIAlign, roi_align

__all__ = ["RoIAlign", "roi_align"]
