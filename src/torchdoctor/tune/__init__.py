"""Hyperparameter search on Optuna with doctor-informed pruning (the ``[optuna]`` extra).

>>> import torchdoctor as td
>>> result = td.tune("configs/digits.yaml", trials=30)
>>> result.best_params, result.best_value

Each trial trains a config sampled from the search space with a Doctor attached: an
error-level finding prunes the trial at once (its code and message are kept on the trial),
and Optuna's median pruner prunes on the validation metric. The study is stored in SQLite in
the output directory (a killed study resumes) or any Optuna RDB URL such as PostgreSQL
(several processes and machines share one study). See docs/tune.md.

The package is itself callable: ``td.tune(...)`` calls :func:`torchdoctor.tune.tune`, as
``td.repair(...)`` does.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any

from torchdoctor.tune._objective import (
    PRUNED_BY_DOCTOR,
    PRUNED_BY_METRIC,
    InvalidTrial,
    Objective,
    metric_of,
    trial_config,
)
from torchdoctor.tune._pruner import DoctorMedianPruner
from torchdoctor.tune._report import importances, render_tune_report, write_tune_report
from torchdoctor.tune._space import (
    KINDS,
    Param,
    default_space,
    load_space,
    parse_space,
    space_to_dict,
)
from torchdoctor.tune._storage import (
    GRACE_S,
    HEARTBEAT_S,
    STUDY_DB,
    default_storage,
    open_storage,
    public_url,
)
from torchdoctor.tune._study import (
    BEST_CONFIG_FILE,
    MEDIAN_STARTUP_TRIALS,
    MEDIAN_WARMUP_EPOCHS,
    PRUNERS,
    RESULT_FILE,
    TUNE_REPORT_FILE,
    TuneResult,
    make_pruner,
    require_optuna,
    run_worker,
    summarize,
    tune,
)

__all__ = [
    "BEST_CONFIG_FILE",
    "DoctorMedianPruner",
    "GRACE_S",
    "HEARTBEAT_S",
    "InvalidTrial",
    "KINDS",
    "MEDIAN_STARTUP_TRIALS",
    "MEDIAN_WARMUP_EPOCHS",
    "Objective",
    "PRUNED_BY_DOCTOR",
    "PRUNED_BY_METRIC",
    "PRUNERS",
    "Param",
    "RESULT_FILE",
    "STUDY_DB",
    "TUNE_REPORT_FILE",
    "TuneResult",
    "default_space",
    "default_storage",
    "importances",
    "load_space",
    "make_pruner",
    "metric_of",
    "open_storage",
    "parse_space",
    "public_url",
    "render_tune_report",
    "require_optuna",
    "run_worker",
    "space_to_dict",
    "summarize",
    "trial_config",
    "tune",
    "write_tune_report",
]


class _CallablePackage(types.ModuleType):
    """This package's module type: calling it calls :func:`tune`."""

    def __call__(self, *args: Any, **kwargs: Any) -> TuneResult:
        return tune(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
#: ``inspect.signature(td.tune)`` and IDEs show :func:`tune`'s parameters.
__signature__ = inspect.signature(tune)
