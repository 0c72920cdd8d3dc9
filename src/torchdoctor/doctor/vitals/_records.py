"""Step records: the buffer layout of the sampled statistics, and the record built from a row.

:func:`vitals_layout` declares every block the recorder allocates; :func:`build_record` reads
the same blocks back by name from :meth:`Layout.decode`, so the two cannot drift apart.
Gradient, parameter and update norms use ``-1`` for "not measured" (so a real NaN stays
visible); the class histogram uses 0; every other statistic uses NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torchdoctor.doctor.vitals import _stats as S
from torchdoctor.doctor.vitals._layout import Block, Layout
from torchdoctor.doctor.vitals._outputs import BATCH_FIELDS

__all__ = ["ACC_FIELDS", "build_record", "hist_block", "measured", "vitals_layout"]

ACC_FIELDS = ("correct", "count")
_GROUPS = (("inputs", S.IN_RAW), ("outputs", S.OUT_FIELDS), ("tstats", S.TGT_FIELDS),
           ("losses", S.LOSS_FIELDS), ("acc", ACC_FIELDS), ("batch", BATCH_FIELDS),
           ("prev", ("norm",)))


def vitals_layout(n_params: int, n_watched: int) -> Layout:
    """The blocks of one sampled step.

    Args:
        n_params: parameters watched (``grad``, ``pnorm``, ``upd``: one norm each).
        n_watched: watched modules (``act``: :data:`~torchdoctor.doctor.vitals._stats.ACT_RAW`
            each).
    """
    return Layout([
        Block("grad", (n_params,), -1.0), Block("pnorm", (n_params,), -1.0),
        Block("upd", (n_params,), -1.0), Block("act", (n_watched, len(S.ACT_RAW))),
        *(Block(name, (len(fields),)) for name, fields in _GROUPS),
    ])


def hist_block(num_classes: int) -> Block:
    """The class-histogram block (appended once the number of classes is known)."""
    return Block("hist", (num_classes,), 0.0)


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


def build_record(meta: dict[str, Any], loss: float | None, blocks: dict[str, list[float]] | None,
                 *, param_layers: Sequence[str], layer_names: Sequence[str],
                 alive: dict[int, list[int]] | None = None) -> dict[str, Any]:
    """One step record (a ``vitals.jsonl`` line).

    Args:
        meta: ``step``, ``epoch`` and, on sampled steps, the host-side counts: ``act_n``
            (``{module index: (values, units)}``), ``in_n`` (input values), ``acc_n``
            (labels scored), ``target_kind``, and the batch's interpretation ``batch_kind``
            and ``shapes`` (``[output shape, target shape]``,
            :func:`~torchdoctor.doctor.vitals._outputs.view`).
        loss: the step's loss on the host, or ``None``.
        blocks: ``Layout.decode`` of the step's row (sampled steps), else ``None``.
        param_layers: owning layer name of each watched parameter (``grad``/``pnorm``/``upd``
            order).
        layer_names: watched module names (``act`` order).
        alive: per watched ReLU-family module, each unit's largest output over the window
            (``<= 0``: never fired; last record of a flush only).
    """
    rec: dict[str, Any] = {"step": meta.get("step"), "epoch": meta.get("epoch"),
                           "loss": measured(loss)}
    if blocks is None:
        return rec
    prev = _opt(blocks["prev"][0])
    if prev is not None:
        rec["prev_grad_norm"] = prev
    grad, pn, upd = blocks["grad"], blocks["pnorm"], blocks["upd"]
    act, F = blocks["act"], len(S.ACT_RAW)
    act_n = meta.get("act_n", {})
    blocks = dict(blocks)
    blocks["inputs"] = S.finish_input(blocks["inputs"], meta.get("in_n", 0))
    groups = {key: {f: _opt(v) for f, v in zip(fields, blocks[key], strict=True)}
              for key, fields in _GROUPS}
    groups["inputs"] = {f: _opt(v) for f, v in zip(S.IN_FIELDS, blocks["inputs"], strict=True)}
    sq: dict[str, list[float]] = {}
    for p, layer in enumerate(param_layers):
        acc = sq.setdefault(layer, [0.0, 0.0, 0.0, 0, 0])
        if not grad[p] < 0:  # -1 = no gradient; NaN is a real NaN
            acc[0] += grad[p] ** 2
            acc[3] += 1
        if not pn[p] < 0:
            acc[1] += pn[p] ** 2
            acc[2] += upd[p] ** 2
            acc[4] += 1
    layers: dict[str, dict[str, Any]] = {}
    for j, ln in enumerate(layer_names):
        d: dict[str, Any] = {}
        if ln in sq:
            g, p2, u2, ng, npn = sq[ln]
            d["grad_norm"] = measured(math.sqrt(g)) if ng else None
            d["param_norm"] = measured(math.sqrt(p2)) if npn else None
            d["update_ratio"] = (measured(math.sqrt(u2) / math.sqrt(p2))
                                 if npn and p2 > 0 else None)
        n, units = act_n.get(j, (0, 0))
        for f, v in zip(S.ACT_FIELDS, S.finish_activation(act[j * F:(j + 1) * F], n, units),
                        strict=True):
            d[f] = _opt(v)
        if alive is not None and j in alive:
            d["window_dead"] = sum(1 for a in alive[j] if not a > 0) / max(len(alive[j]), 1)
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
        if kind == "class" and "hist" in blocks:
            tg["hist"] = [int(h) for h in blocks["hist"]]
        rec["targets"] = tg
    if meta.get("batch_kind") is not None:
        shapes = meta.get("shapes") or [None, None]
        rec["batch"] = {"kind": meta["batch_kind"], "output_shape": shapes[0],
                        "target_shape": shapes[1], **groups["batch"]}
    count = groups["acc"]["count"] or meta.get("acc_n")  # on the device, or known on the host
    if count and groups["acc"]["correct"] is not None:
        rec["train_correct"] = groups["acc"]["correct"]
        rec["train_count"] = float(count)
    return rec
