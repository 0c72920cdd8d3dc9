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

__all__ = [
    "Candidate",
    "PatchResult",
    "RepairResult",
    "apply_patch",
    "budget_epochs",
    "config_diff",
    "merge_patches",
    "propose_candidates",
    "repair",
]
