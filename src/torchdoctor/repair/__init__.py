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

from torchdoctor.repair._family import family_default
from torchdoctor.repair._gan import (
    GAN_PRIORITY,
    GanRepairResult,
    GanRun,
    gan_score,
    propose_gan_candidates,
    repair_gan,
)
from torchdoctor.repair._loop import (
    BATCH_RATE_KEYS,
    Candidate,
    InputsCache,
    RepairResult,
    budget_epochs,
    differential_candidates,
    grows_cost,
    is_rate_jump,
    propose_candidates,
    repair,
)
from torchdoctor.repair._patch import PatchResult, apply_patch, config_diff, merge_patches
from torchdoctor.repair._rate_probe import (
    PROBE_FACTORS,
    PROBE_STEPS,
    probe_epochs,
    probe_rate,
    short_run_loss,
)
from torchdoctor.repair._remedy_patches import PATCHES, attach_patches, patch_for
from torchdoctor.repair._session import Session, row_score

__all__ = [
    "BATCH_RATE_KEYS",
    "Candidate",
    "GAN_PRIORITY",
    "GanRepairResult",
    "GanRun",
    "InputsCache",
    "PATCHES",
    "PROBE_FACTORS",
    "PROBE_STEPS",
    "PatchResult",
    "RepairResult",
    "Session",
    "apply_patch",
    "attach_patches",
    "budget_epochs",
    "config_diff",
    "differential_candidates",
    "family_default",
    "gan_score",
    "grows_cost",
    "is_rate_jump",
    "merge_patches",
    "patch_for",
    "probe_epochs",
    "probe_rate",
    "propose_candidates",
    "propose_gan_candidates",
    "repair",
    "repair_gan",
    "row_score",
    "short_run_loss",
]


class _CallablePackage(types.ModuleType):
    """This package's module type: calling it calls :func:`repair`."""

    def __call__(self, *args: Any, **kwargs: Any) -> RepairResult:
        return repair(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
#: ``inspect.signature(td.repair)`` and IDEs show :func:`repair`'s parameters.
__signature__ = inspect.signature(repair)
