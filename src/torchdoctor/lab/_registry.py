"""The experiment registry: every module of :mod:`torchdoctor.lab.experiments` with an
``EXPERIMENT`` is one entry; order by ``Experiment.order``, then name. Adding an experiment is
adding one file."""

from __future__ import annotations

import importlib
import pkgutil

from torchdoctor.lab._experiment import Experiment


def discover() -> dict[str, Experiment]:
    """``{name: Experiment}`` of every experiment module, in page order."""
    from torchdoctor.lab import experiments as pkg

    found: list[Experiment] = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        exp = getattr(module, "EXPERIMENT", None)
        if not isinstance(exp, Experiment):
            raise TypeError(f"{module.__name__} defines no EXPERIMENT = Experiment(...)")
        found.append(exp)
    found.sort(key=lambda e: (e.order, e.name))
    names = [e.name for e in found]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"experiment names used twice: {', '.join(sorted(dupes))}")
    return {e.name: e for e in found}
