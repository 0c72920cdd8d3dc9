"""Turn the run's logs (metrics rows, vitals records, finding dicts) into plottable columns.

Everything here is plain Python (no NumPy) so that ``import torchdoctor.report`` stays light.
Values arrive from JSON, where NaN may have become ``None`` and infinities the strings
``"inf"``/``"-inf"`` (see :func:`torchdoctor.rundir.jsonable`): :func:`to_float` maps all of
them back to floats, and anything that is not a number to ``None`` ("not measured").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from torchdoctor.findings import SEVERITY_RANK

#: Per-layer statistics of a vitals record, in the order the report shows them.
LAYER_STATS: tuple[str, ...] = (
    "grad_norm",
    "param_norm",
    "update_ratio",
    "act_mean",
    "act_std",
    "frac_zero",
    "frac_saturated",
)

_NONFINITE_STRINGS = {
    "nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
}


def to_float(value: Any) -> float | None:
    """A float for numbers and ``"nan"``/``"inf"`` strings, ``None`` for anything else.

    Booleans are not numbers here (``True`` is not a loss value).
    """
    t = type(value)
    if t is float:  # fast path: the vast majority of values
        return value
    if t is int:
        return float(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _NONFINITE_STRINGS.get(value.strip().lower())
    if hasattr(value, "item"):  # NumPy or torch scalar handed over directly
        try:
            return to_float(value.item())
        except (TypeError, ValueError, RuntimeError):
            return None
    return None


def to_int(value: Any) -> int | None:
    """An int for integral numbers, ``None`` otherwise."""
    f = to_float(value)
    if f is None or not math.isfinite(f):
        return None
    return int(f)


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass
class Timeline:
    """Vitals records as columns.

    Attributes:
        steps: optimizer step of each record (record index when the step is missing).
        loss: per-step loss (``None`` where not recorded).
        grad_norm: per-step global gradient norm.
        layers: layer names in depth order (the order they first appear in the records).
        stats: ``stats[layer][stat]`` is a list aligned with ``steps``.
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float | None] = field(default_factory=list)
    grad_norm: list[float | None] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    stats: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.steps)

    def layer_values(self, layer: str, stat: str) -> list[float | None]:
        return self.stats.get(layer, {}).get(stat, [None] * len(self.steps))

    def has_stat(self, stat: str) -> bool:
        """Whether any layer has at least one measured value of ``stat``."""
        return any(
            v is not None for per in self.stats.values() for v in per.get(stat, ())
        )


def timeline_from_vitals(vitals: Sequence[dict[str, Any]]) -> Timeline:
    """Columns from vitals records; malformed records (not dicts) are skipped.

    Args:
        vitals: records ``{"step", "epoch", "loss", "grad_norm", "layers": {name: {...}}}``.

    Returns:
        The :class:`Timeline`, records sorted by step (stable for equal steps).
    """
    records = [r for r in vitals if isinstance(r, dict)]
    keyed = []
    for i, r in enumerate(records):
        step = to_int(r.get("step"))
        keyed.append((i if step is None else step, i, r))
    keyed.sort(key=lambda t: (t[0], t[1]))
    tl = Timeline()
    seen: dict[str, None] = {}
    for _, _, r in keyed:
        layers = r.get("layers")
        if isinstance(layers, dict):
            for name in layers:
                seen.setdefault(str(name), None)
    tl.layers = list(seen)
    tl.stats = {name: {s: [] for s in LAYER_STATS} for name in tl.layers}
    columns = [(name, [tl.stats[name][s] for s in LAYER_STATS]) for name in tl.layers]
    empty: dict[str, Any] = {}
    for step, _, r in keyed:
        tl.steps.append(step)
        tl.loss.append(to_float(r.get("loss")))
        tl.grad_norm.append(to_float(r.get("grad_norm")))
        layers = r.get("layers")
        layers = layers if isinstance(layers, dict) else empty
        for name, cols in columns:
            entry = layers.get(name)
            if not isinstance(entry, dict):
                entry = empty
            for s, col in zip(LAYER_STATS, cols, strict=True):
                col.append(to_float(entry.get(s)))
    return tl


def metric_columns(metrics: Sequence[dict[str, Any]]) -> tuple[list[float], dict[str, list]]:
    """Epoch axis and one column per numeric metric key (first-seen key order).

    The epoch axis is the row's ``epoch`` when present, otherwise its 1-based index.
    """
    rows = [r for r in metrics if isinstance(r, dict)]
    xs: list[float] = []
    keys: dict[str, None] = {}
    for i, r in enumerate(rows):
        e = to_float(r.get("epoch"))
        xs.append(e if is_finite(e) else float(i + 1))
        for k, v in r.items():
            if k != "epoch" and (to_float(v) is not None):
                keys.setdefault(str(k), None)
    cols = {k: [to_float(r.get(k)) for r in rows] for k in keys}
    return xs, cols


def last_finite(values: Iterable[float | None]) -> float | None:
    """The last finite value, or ``None``."""
    out = None
    for v in values:
        if is_finite(v):
            out = v
    return out


def median(values: Iterable[float | None]) -> float | None:
    """Median of the finite values, ``None`` when there are none."""
    vs = sorted(v for v in values if is_finite(v))
    if not vs:
        return None
    n = len(vs)
    return vs[n // 2] if n % 2 else 0.5 * (vs[n // 2 - 1] + vs[n // 2])


def bin_edges(n: int, max_bins: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into at most ``max_bins`` contiguous ``[start, stop)`` chunks.

    Chunk sizes differ by at most one, so every point belongs to exactly one chunk.
    """
    if max_bins < 1:
        raise ValueError(f"max_bins must be >= 1, got {max_bins}")
    if n <= 0:
        return []
    k = min(n, max_bins)
    return [(i * n // k, (i + 1) * n // k) for i in range(k)]


def downsample(
    xs: Sequence[float], ys: Sequence[float | None], max_points: int
) -> tuple[list[float], list[float | None], list[float | None], list[float | None]]:
    """Bucket a long series to at most ``max_points`` points: mean, min and max per bucket.

    Non-finite and missing values are left out of the bucket statistics; a bucket without a
    finite value gives ``None`` (a gap in the plotted line). The x of a bucket is the mean x
    of its points.

    Returns:
        ``(x, mean, lo, hi)``, each of length ``min(len(xs), max_points)``.
    """
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys must have the same length, got {len(xs)} and {len(ys)}")
    ox: list[float] = []
    om: list[float | None] = []
    lo: list[float | None] = []
    hi: list[float | None] = []
    for a, b in bin_edges(len(xs), max_points):
        ox.append(sum(xs[a:b]) / (b - a))
        fin = [v for v in ys[a:b] if is_finite(v)]
        if fin:
            om.append(sum(fin) / len(fin))
            lo.append(min(fin))
            hi.append(max(fin))
        else:
            om.append(None)
            lo.append(None)
            hi.append(None)
    return ox, om, lo, hi


def count_nonfinite(values: Iterable[float | None]) -> int:
    """How many values are NaN or infinite (``None`` does not count)."""
    return sum(1 for v in values if v is not None and not math.isfinite(v))


def normalize_finding(f: Any) -> dict[str, Any]:
    """A finding as a dict (accepts :class:`~torchdoctor.findings.Finding` objects too)."""
    if hasattr(f, "to_dict"):
        f = f.to_dict()
    if not isinstance(f, dict):
        return {"code": "?", "severity": "info", "message": str(f)}
    return f


def sort_findings(findings: Iterable[Any]) -> list[dict[str, Any]]:
    """Findings as dicts, most severe first, then by step (unknown steps last), stable."""
    fs = [normalize_finding(f) for f in findings]

    def key(f: dict[str, Any]) -> tuple[int, int]:
        rank = SEVERITY_RANK.get(str(f.get("severity")), -1)
        step = to_int(f.get("step"))
        return (-rank, step if step is not None else 2**62)

    return sorted(fs, key=key)


def severity_counts(findings: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        s = str(f.get("severity"))
        if s in counts:
            counts[s] += 1
    return counts


def verdict(findings: Iterable[dict[str, Any]]) -> str:
    """``"healthy"`` without warnings or errors, else e.g. ``"2 errors, 1 warning"``."""
    c = severity_counts(findings)
    parts = []
    if c["error"]:
        parts.append(f"{c['error']} error" + ("s" if c["error"] != 1 else ""))
    if c["warning"]:
        parts.append(f"{c['warning']} warning" + ("s" if c["warning"] != 1 else ""))
    return ", ".join(parts) if parts else "healthy"


def fmt_num(v: Any, digits: int = 4) -> str:
    """Compact number text: ``0.0123``, ``1.2e-07``, ``NaN``, ``inf``; others via ``str``."""
    if isinstance(v, bool):
        return str(v)
    f = to_float(v) if not isinstance(v, str) else None
    if f is None:
        return "—" if v is None else str(v)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if isinstance(v, int) or (f == int(f) and abs(f) < 1e15 and not isinstance(v, float)):
        return str(int(f))
    if f == 0:
        return "0"
    a = abs(f)
    if 1e-3 <= a < 1e5:
        return f"{f:.{digits}g}"
    return f"{f:.{max(digits - 2, 1)}e}"
