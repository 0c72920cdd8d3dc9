"""Automatic repair: diagnose, apply remedies as config patches, retrain, keep what helps.

>>> import torchdoctor as td
>>> result = td.repair("configs/digits.yaml")

The package is itself callable: ``td.repair(...)`` and ``torchdoctor.repair(...)`` call
:func:`torchdoctor.repair.repair`, whether or not ``torchdoctor.repair`` was imported before
(an import binds the package to the ``torchdoctor.repair`` attribute, so the package and the
function must be one callable object).
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any

from torchdoctor.repair._loop import (
    Candidate,
    RepairResult,
    budget_epochs,
    propose_candidates,
    repair,
)
from torchdoctor.repair._patch import PatchResult, apply_patch, config_diff, merge_patches
from torchdoctor.repair._remedy_patches import PATCHES, attach_patches, patch_for

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


class _CallablePackage(types.ModuleType):
    """This package's module type: calling it calls :func:`repair`."""

    def __call__(self, *args: Any, **kwargs: Any) -> RepairResult:
        return repair(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
#: ``inspect.signature(td.repair)`` and IDEs show :func:`repair`'s parameters.
__signature__ = inspect.signature(repair)
