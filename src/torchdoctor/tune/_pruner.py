"""The median stopping rule for a study whose doctor already prunes the broken trials.

Optuna's ``MedianPruner`` (the median stopping rule of Golovin et al. 2017, "Google Vizier: A
Service for Black-Box Optimization") prunes a trial whose best value so far is worse than the
median of the complete trials at the same step, once ``n_startup_trials`` trials are complete.
With doctor-informed pruning the broken trials never complete, so that start would wait for
``n_startup_trials`` *healthy* trials while the median pruner alone starts after any five.
:class:`DoctorMedianPruner` is the same rule where a trial the doctor pruned counts toward
the startup trials; with no doctor-pruned trial it decides exactly as ``MedianPruner`` does.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from torchdoctor.tune._objective import PRUNED_BY_DOCTOR

__all__ = ["DoctorMedianPruner"]


class DoctorMedianPruner:
    """The median rule, with doctor-pruned trials counted as started-up trials.

    An Optuna pruner (it has ``prune(study, trial)``; not derived from
    ``optuna.pruners.BasePruner`` so that this module imports without Optuna).

    Args:
        n_startup_trials: finished trials (complete, or pruned by the doctor) before any
            pruning; at least one of them must be complete.
        n_warmup_steps: epochs (steps) of each trial never pruned.
    """

    def __init__(self, n_startup_trials: int = 5, n_warmup_steps: int = 0) -> None:
        for name, v in (("n_startup_trials", n_startup_trials), ("n_warmup_steps", n_warmup_steps)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study: Any, trial: Any) -> bool:
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        complete = [t for t in finished if t.state == TrialState.COMPLETE]
        by_doctor = sum(1 for t in finished if t.state == TrialState.PRUNED
                        and t.user_attrs.get("pruned_by") == PRUNED_BY_DOCTOR)
        if not complete or len(complete) + by_doctor < self.n_startup_trials:
            return False
        maximize = study.direction == StudyDirection.MAXIMIZE
        mine = [v for v in trial.intermediate_values.values() if not math.isnan(v)]
        if not mine:
            return True
        best = max(mine) if maximize else min(mine)
        others = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
        others = [v for v in others if not math.isnan(v)]
        if not others:
            return False
        median = statistics.median(others)
        return best < median if maximize else best > median
