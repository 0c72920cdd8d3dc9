"""torchdoctor: makes PyTorch training work.

``import torchdoctor as td`` is cheap: subpackages and heavy names load on first use.

- ``td.Doctor``, ``td.Finding``, ``td.Remedy``: attach to a training loop, read findings;
  ``td.Thresholds`` overrides the rules' thresholds; ``td.catalogue``: every symptom's spec.
- ``td.nn``, ``td.init``, ``td.losses``, ``td.optim``, ``td.ops``: the pharmacy.
- ``td.shift``: covariate and label shift detection, estimation and correction.
- ``td.train``: the config-driven trainer; ``td.repair``: automatic repair.
"""

from __future__ import annotations

import importlib
from typing import Any

from torchdoctor.findings import SYMPTOM_CODES, Finding, Remedy  # noqa: F401 (public names)

__version__ = "0.1.0"

#: ``repair`` is a callable package: ``td.repair(config)`` runs :func:`torchdoctor.repair.repair`.
_SUBMODULES = {
    "catalogue", "data", "doctor", "gan", "init", "lab", "losses", "nn", "ops", "optim", "repair", "report",
    "shift", "train",
}
_LAZY_ATTRS = {
    "Doctor": ("torchdoctor.doctor", "Doctor"),
    "Thresholds": ("torchdoctor.catalogue", "Thresholds"),
    "load_config": ("torchdoctor.train.config", "load_config"),
    "Config": ("torchdoctor.train.config", "Config"),
    "Trainer": ("torchdoctor.train.trainer", "Trainer"),
}

__all__ = sorted(
    ["SYMPTOM_CODES", "Finding", "Remedy", "__version__", *_SUBMODULES, *_LAZY_ATTRS]
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"torchdoctor.{name}")
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'torchdoctor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
