"""The experiment registry: every module of :mod:`torchdoctor.lab.experiments` with an
``EXPERIMENT`` is one entry; order by ``Experiment.order``, then name. Adding an experiment is
adding one file.

A module that fails to import does not hide the others: it becomes an entry whose ``measure``
raises the import error, so running it reports verdict ``not available`` with that error.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from torchdoctor.lab._experiment import Context, Experiment, Outcome

_FILE = re.compile(r"e(\d+)_(\w+)")


def _broken(module: str, exc: BaseException) -> Experiment:
    """A stand-in for module ``module`` (``eNN_name``) that could not be imported."""
    m = _FILE.fullmatch(module)
    name, order = (m.group(2), int(m.group(1))) if m else (module.lstrip("_").lower(), 100)
    error = " ".join(f"{type(exc).__name__}: {exc}".split())

    def measure(ctx: Context) -> Outcome:
        raise ImportError(f"experiment module {module} could not be imported: {error}")

    return Experiment(name, f"(the experiment module {module} could not be imported)",
                      "-", "-", measure, order=order)


def discover() -> dict[str, Experiment]:
    """``{name: Experiment}`` of every experiment module, in page order."""
    from torchdoctor.lab import experiments as pkg

    found: list[Experiment] = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        except Exception as exc:  # noqa: BLE001 - one broken module must not hide the others
            found.append(_broken(info.name, exc))
            continue
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
