"""Step records: turn one host row of the recorder's buffers into a ``vitals.jsonl`` record.

Buffer conventions: gradient, parameter and update norms use ``-1`` for "not measured" (so a
real NaN stays visible); every other statistic uses NaN for "not measured".
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from torchdoctor.doctor.vitals import _stats as S
from torchdoctor.doctor.vitals._outputs import BATCH_FIELDS

if TYPE_CHECKING:
    from torchdoctor.doctor.vitals._recorder import Recorder

__all__ = ["NORM_BUFFERS", "build_record", "measured"]

NORM_BUFFERS = ("grad", "pnorm", "upd")


def _opt(v: float) -> float | None:
    """A buffer value: NaN (not measured) becomes ``None``."""
    return None if v is None or math.isnan(v) else v


def measured(v: float | None) -> float | str | None:
    """A measured value for a record: NaN and Inf become the strings ``"nan"``, ``"inf"``."""
    if v is None:
        return None
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def build_record(self: Recorder, i: int, row: list[float], loss: float | None,
                 alive: dict[int, list[int]] | None) -> dict[str, Any]:
    """One step record from row ``i`` of the host copy of the buffers (``self``: the recorder)."""
    meta = self._meta[i]
    rec: dict[str, Any] = {"step": meta.get("step"), "epoch": meta.get("epoch"),
                           "loss": measured(loss)}
    prev = _opt(row[self._prev_col])
    if prev is not None:
        rec["prev_grad_norm"] = prev
    if not meta.get("sampled"):
        return rec
    P, A, F = len(self._params), len(self._watched), len(S.ACT_FIELDS)
    grad, pn, upd = row[0:P], row[P:2 * P], row[2 * P:3 * P]
    k = 3 * P
    act = row[k:k + A * F]
    k += A * F
    groups: dict[str, dict[str, float | None]] = {}
    for key, fields in (("inputs", S.IN_FIELDS), ("outputs", S.OUT_FIELDS),
                        ("tstats", S.TGT_FIELDS), ("losses", S.LOSS_FIELDS),
                        ("acc", ("correct", "count")), ("batch", BATCH_FIELDS), ("prev", ("norm",))):
        groups[key] = {f: _opt(v) for f, v in zip(fields, row[k:k + len(fields)], strict=True)}
        k += len(fields)
    hist = row[k:] if self._hist is not None else None
    sq: dict[str, list[float]] = {}
    for p in range(P):
        acc = sq.setdefault(self._player[p], [0.0, 0.0, 0.0, 0, 0])
        if not grad[p] < 0:  # -1 = no gradient; NaN is a real NaN
            acc[0] += grad[p] ** 2
            acc[3] += 1
        if not pn[p] < 0:
            acc[1] += pn[p] ** 2
            acc[2] += upd[p] ** 2
            acc[4] += 1
    layers: dict[str, dict[str, Any]] = {}
    for j, (ln, _, _) in enumerate(self._watched):
        d: dict[str, Any] = {}
        if ln in sq:
            g, p2, u2, ng, npn = sq[ln]
            d["grad_norm"] = measured(math.sqrt(g)) if ng else None
            d["param_norm"] = measured(math.sqrt(p2)) if npn else None
            d["update_ratio"] = (measured(math.sqrt(u2) / math.sqrt(p2))
                                 if npn and p2 > 0 else None)
        for f, v in zip(S.ACT_FIELDS, act[j * F:(j + 1) * F], strict=True):
            d[f] = _opt(v)
        if alive is not None and j in alive:
            d["window_dead"] = sum(1 for a in alive[j] if a == 0) / max(len(alive[j]), 1)
        layers[ln] = d
    ng = sum(v[3] for v in sq.values())
    rec["grad_norm"] = measured(math.sqrt(sum(v[0] for v in sq.values()))) if ng else None
    rec["layers"] = layers
    for key in ("inputs", "outputs", "losses"):
        if any(v is not None for v in groups[key].values()):
            rec[key] = groups[key]
    kind = meta.get("target_kind")
    if kind is not None:
        tg: dict[str, Any] = {"kind": kind}
        if any(v is not None for v in groups["tstats"].values()):
            tg.update(groups["tstats"])
        if kind == "class" and hist is not None:
            tg["hist"] = [int(h) for h in hist]
        rec["targets"] = tg
    if meta.get("batch_kind") is not None:
        shapes = meta.get("shapes") or [None, None]
        rec["batch"] = {"kind": meta["batch_kind"], "output_shape": shapes[0],
                        "target_shape": shapes[1], **groups["batch"]}
    if groups["acc"]["count"]:
        rec["train_correct"] = groups["acc"]["correct"]
        rec["train_count"] = groups["acc"]["count"]
    return rec
