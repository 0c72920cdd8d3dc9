"""The vitals timeline: what the probes recorded, on the host, as plain Python data.

:class:`Vitals` is the only input of the symptom rules, so rules are pure functions that tests
feed with hand-made timelines. One step record has the shape of a ``vitals.jsonl`` line::

    {"step": 12, "epoch": 0, "loss": 2.1, "grad_norm": 3.4,
     "layers": {"0": {"grad_norm": .., "param_norm": .., "update_ratio": .., "act_mean": ..,
                      "act_std": .., "frac_zero": .., "frac_saturated": .., "frac_dead": ..}},
     "inputs": {"mean": .., "std": .., "absmax": ..},
     "outputs": {"min": .., "max": .., "rowsum_dev": .., "logsumexp_dev": ..},
     "losses": {"mse": .., "ce": .., "nll": .., "bce_logits": .., "bce": ..},
     "targets": {"kind": "class", "hist": [..]}, "prev_grad_norm": ..}

Keys missing or ``None`` mean "not measured on that step" (unsampled steps carry only
``step``, ``epoch`` and ``loss``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LayerInfo", "Vitals", "finite", "series"]


@dataclass(frozen=True)
class LayerInfo:
    """Static facts about one watched module.

    Attributes:
        kind: class name (``"Linear"``, ``"ReLU"``, ``"BatchNorm1d"``, ...).
        role: ``"param"`` (has its own parameters) or ``"activation"`` (a nonlinearity).
        depth: position in module registration order (0 = closest to the input).
        units: output units / channels when known (``out_features``, ``out_channels``).
    """

    kind: str
    role: str
    depth: int
    units: int | None = None


@dataclass
class Vitals:
    """Everything the rules may read.

    Attributes:
        layers: watched modules by qualified name, in depth order.
        records: one dict per recorded step (see the module docstring), oldest first; long runs
            are thinned (older half kept every other record) so memory stays bounded.
        epochs: one dict per finished epoch (``epoch``, ``train_loss``, ``train_accuracy``,
            ``val_loss``, ``val_accuracy`` and any other metric handed to ``observe``).
        loop: loop-level counters: ``steps``, ``optimizer_steps``, ``nograd_forwards``,
            ``nograd_train_forwards``, ``mode_sensitive`` (model has dropout/BatchNorm),
            ``bn_batch_sizes`` (list of batch sizes BatchNorm saw in training),
            ``zero_grad_checks``/``stale_grad_steps`` (steps right after an optimizer step
            whose ``.grad`` was already non-zero when backward began), ``loss_name``.
        weights: per-layer weight facts measured at the last flush
            (``{"row_spread": f, "units": n}``).
    """

    layers: dict[str, LayerInfo] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    loop: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, dict[str, Any]] = field(default_factory=dict)

    def extend(self, records: list[dict[str, Any]], max_records: int) -> None:
        """Append ``records``; if more than ``max_records`` are held, thin the older half."""
        self.records.extend(records)
        if len(self.records) > max_records:
            half = max_records // 2
            self.records = self.records[:-half][::2] + self.records[-half:]

    def sampled(self) -> list[dict[str, Any]]:
        """The records that carry per-layer statistics (sampled steps)."""
        return [r for r in self.records if r.get("layers")]

    def layer_names(self, role: str | None = None) -> list[str]:
        return [n for n, info in self.layers.items() if role is None or info.role == role]

    def state_dict(self) -> dict[str, Any]:
        return {
            "layers": {n: {"kind": i.kind, "role": i.role, "depth": i.depth, "units": i.units}
                       for n, i in self.layers.items()},
            "records": self.records, "epochs": self.epochs, "loop": self.loop,
            "weights": self.weights,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Vitals:
        return cls(
            layers={n: LayerInfo(**d) for n, d in state.get("layers", {}).items()},
            records=list(state.get("records", [])),
            epochs=list(state.get("epochs", [])),
            loop=dict(state.get("loop", {})),
            weights=dict(state.get("weights", {})),
        )


def finite(x: Any) -> bool:
    """``True`` for a real, finite number (``None``, NaN, Inf and strings are not)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def series(records: list[dict[str, Any]], key: str, layer: str | None = None,
           group: str | None = None) -> list[tuple[int, float]]:
    """``(step, value)`` pairs of one statistic over ``records``, skipping missing values.

    Args:
        records: step records.
        key: statistic name (``"loss"``, ``"grad_norm"``, ``"act_std"``...).
        layer: read ``record["layers"][layer][key]`` instead of ``record[key]``.
        group: read ``record[group][key]`` (e.g. ``group="inputs"``).
    """
    out: list[tuple[int, float]] = []
    for r in records:
        src: Any = r
        if layer is not None:
            src = (r.get("layers") or {}).get(layer)
        elif group is not None:
            src = r.get(group)
        if not src:
            continue
        v = src.get(key)
        if v is not None and not isinstance(v, str):
            out.append((int(r.get("step", 0)), float(v)))
    return out
