"""Automatic repair: diagnose, apply remedies as config patches, retrain, keep what helps.

>>> import torchdoctor as td
>>> result = td.repair("configs/digits.yaml")
"""

from torchdoctor.autorepair._loop import (
    Candidate,
    RepairResult,
    budget_epochs,
    propose_candidates,
    repair,
)
from torchdoctor.autorepair._patch import PatchResult, apply_patch, config_diff, merge_patches
from torchdoctor.autorepair._remedy_patches import PATCHES, attach_patches, patch_for

__all__ = [
    "Candidate",
    "PATCHES",
    "PatchResult",
    "RepairResult",
    "apply_patch",
    "attach_patches",
    "budget_epochs",
    "config_diff",
    "merge_patches",
    "patch_for",
    "propose_candidates",
    "repair",
]
