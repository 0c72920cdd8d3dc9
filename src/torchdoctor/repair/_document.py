"""The ``repair --json`` document of a repair, classifier or GAN: one shape, built here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torchdoctor.repair._patch import config_diff

__all__ = ["repair_document"]


def repair_document(result: Any, *, metrics: Callable[[dict[str, Any]], dict[str, Any]],
                    one_training_seconds: float) -> dict[str, Any]:
    """``result`` (a ``RepairResult`` or ``GanRepairResult``: ``before``, ``after``,
    ``applied``, ``rounds``, ``tried``, ``skipped``, ``seconds``) as the ``repair --json``
    document.

    Args:
        metrics: how a run's metrics become JSON (non-finite values as ``None`` or as text).
        one_training_seconds: the time of one training, the unit of ``cost_vs_one_training``
            (``None`` there when it is not positive).
    """

    def side(s: Any) -> dict[str, Any]:
        return {"metrics": metrics(s.metrics), "findings": sorted({f.code for f in s.findings})}

    before, after = result.before, result.after
    return {
        "before": side(before),
        "after": side(after),
        "applied": result.applied,
        "config": after.config.to_dict(),
        "rounds": result.rounds,
        "diff": {k: list(v) for k, v in config_diff(before.config, after.config).items()},
        "candidates": [
            {"name": s.name, "patch": s.patch, "remedies": s.remedies,
             "epochs": s.epochs_run, "stopped_early": getattr(s, "stopped_early", False),
             **side(s)}
            for s in result.tried
        ],
        "skipped": result.skipped,
        "seconds": round(result.seconds, 3),
        "cost_vs_one_training": round(result.seconds / one_training_seconds, 3)
        if one_training_seconds > 0 else None,
    }
