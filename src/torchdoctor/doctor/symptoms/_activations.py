"""Activation and layer rules: dead_relu, saturated_activation, activation_collapse,
symmetric_weights, small_batch_norm, narrow_layer."""

from __future__ import annotations

import statistics

from torchdoctor.catalogue import Thresholds, remedies_for
from torchdoctor.doctor.symptoms._registry import DEFAULT, finding, gate, median, recent, rule
from torchdoctor.doctor.vitals import ACTIVATION_KINDS, Vitals, finite
from torchdoctor.findings import Finding

__all__: list[str] = []


def _act_layers(v: Vitals, families: tuple[str, ...]) -> list[str]:
    return [n for n, i in v.layers.items() if ACTIVATION_KINDS.get(i.kind) in families]


@rule("dead_relu")
def dead_relu(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """A ReLU layer where more than ``dead_fraction`` of the units never fired (over the
    last flush window of sampled batches, else the median per batch). Warning; an error
    when learning also fails."""
    sampled = v.sampled()
    if not sampled:
        return []
    out = []
    for name in _act_layers(v, ("relu",)):
        window = [r["layers"][name]["window_dead"] for r in sampled
                  if finite((r["layers"].get(name) or {}).get("window_dead"))]
        per_batch = [(r["layers"].get(name) or {}).get("frac_dead") for r in recent(sampled)]
        dead = window[-1] if window else median(per_batch)  # type: ignore[arg-type]
        if dead is None or dead <= t.dead_fraction:
            continue
        units = v.layers[name].units
        out.append(finding(
            "dead_relu", gate(v, "warning", t),
            f"{dead:.0%} of the units of layer {name} ({v.layers[name].kind}) never activate (threshold {t.dead_fraction:.0%}).",
            layer=name, step=int(sampled[-1]["step"]), dead_fraction=dead, units=units,
            threshold=t.dead_fraction, source="SageMaker Debugger DeadRelu threshold_layer"))
    return out


@rule("saturated_activation")
def saturated_activation(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """A sigmoid/tanh layer with more than ``saturated_fraction`` of its outputs in the
    flat tails (median over recent sampled steps). Warning; error when learning fails."""
    sampled = v.sampled()
    out = []
    for name in _act_layers(v, ("sigmoid", "tanh")):
        fr = median([(r["layers"].get(name) or {}).get("frac_saturated") for r in recent(sampled)])
        if fr is None or fr <= t.saturated_fraction:
            continue
        out.append(finding(
            "saturated_activation", gate(v, "warning", t),
            f"{fr:.0%} of the outputs of layer {name} ({v.layers[name].kind}) sit in the flat tails "
            f"(threshold {t.saturated_fraction:.0%}).",
            layer=name, step=int(sampled[-1]["step"]), saturated_fraction=fr,
            threshold=t.saturated_fraction, source="SageMaker Debugger SaturatedActivation"))
    return out


@rule("activation_collapse")
def activation_collapse(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Activation std shrinks (or grows) by more than ``collapse_ratio`` between the first
    nonlinearity and a deeper one (at least 3 nonlinearities), median over recent sampled
    steps with finite statistics."""
    names = _act_layers(v, ("relu", "leaky", "smooth", "sigmoid", "tanh"))
    if len(names) < 3:
        return []
    rec = [r for r in v.sampled() if any(finite((r["layers"].get(n) or {}).get("act_std"))
                                         for n in names)]
    rec = recent(rec)
    stds = [median([(r["layers"].get(n) or {}).get("act_std") for r in rec]) for n in names]
    pairs = [(n, s) for n, s in zip(names, stds, strict=True) if s is not None]
    if len(pairs) < 3 or pairs[0][1] <= 0:
        return []
    lo = min(pairs[1:], key=lambda t: t[1])
    hi = max(pairs[1:], key=lambda t: t[1])
    if lo[1] / pairs[0][1] < 1 / t.collapse_ratio:
        verb, (deep, s_deep) = "shrinks", lo
    elif hi[1] / pairs[0][1] > t.collapse_ratio:
        verb, (deep, s_deep) = "grows", hi
    else:
        return []
    ratio = s_deep / pairs[0][1]
    return [finding(
        "activation_collapse", gate(v, "warning", t),
        f"Activation scale {verb} {ratio:.2g}x from layer {pairs[0][0]} (std {pairs[0][1]:.3g}) to "
        f"layer {deep} (std {s_deep:.3g}); threshold {t.collapse_ratio:g}x.",
        layer=deep, step=int(rec[-1]["step"]) if rec else None, ratio=ratio,
        stds={n: s for n, s in pairs}, threshold=t.collapse_ratio, source="own; Glorot & Bengio 2010")]


@rule("symmetric_weights")
def symmetric_weights(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """Every unit of a layer has the same weights (row spread < ``symmetry_spread``):
    they compute the same function and receive the same gradient forever. Always an error."""
    out = []
    for name, w in v.weights.items():
        spread = w.get("row_spread")
        if not finite(spread) or spread >= t.symmetry_spread:
            continue
        out.append(finding(
            "symmetric_weights", "error",
            f"The {w.get('units')} units of {name} have identical weights (row spread "
            f"{spread:.2g}, threshold {t.symmetry_spread:g}): symmetry was never broken.",
            layer=name, row_spread=spread, units=w.get("units"), threshold=t.symmetry_spread,
            source="own: a constant initialization never breaks symmetry"))
    return out


@rule("small_batch_norm")
def small_batch_norm(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """BatchNorm trained on a median batch below ``bn_min_batch`` (at least 5 batches).

    The sizes are those each process's BatchNorm saw: under DDP, its share of the batch. With
    several processes SyncBatchNorm, then GroupNorm, lead the remedies; with one,
    SyncBatchNorm is left out."""
    sizes = [int(s) for s in v.loop.get("bn_batch_sizes", [])]
    if len(sizes) < 5:
        return []
    med = statistics.median(sizes)
    if med >= t.bn_min_batch:
        return []
    names = [n for n, i in v.layers.items() if i.kind.startswith("BatchNorm")]
    world = int(v.loop.get("world_size") or 1)
    per = f" in each of the {world} processes" if world > 1 else ""
    f = finding(
        "small_batch_norm", "warning",
        f"BatchNorm normalizes over batches of {med:g} samples{per} (median; threshold "
        f"{t.bn_min_batch:g}): its statistics are too noisy.",
        layer=names[0] if names else None, median_batch=med, min_batch=min(sizes),
        threshold=t.bn_min_batch, source="Wu & He 2018 (Group Normalization)",
        **({"world_size": world} if world > 1 else {}))
    cures = remedies_for("small_batch_norm")
    first = ("sync_batch_norm", "use_group_norm") if world > 1 else ()
    f.remedies = sorted((r for r in cures if world > 1 or r.code != "sync_batch_norm"),
                        key=lambda r: first.index(r.code) if r.code in first else len(first))
    return [f]


@rule("narrow_layer")
def narrow_layer(v: Vitals, t: Thresholds = DEFAULT) -> list[Finding]:
    """A hidden ``Linear`` layer with fewer units than the last ``Linear`` layer's outputs (3 or
    more): every class must be told apart through that bottleneck. Error when learning fails.
    Conv layers are left out: C channels over H×W positions are C·H·W features, not C.
    Regression outputs (autoencoders, VAEs) are no classes: their bottleneck is the design."""
    from torchdoctor.doctor.symptoms._io_shapes import task_kind

    if task_kind(v) == "regression":
        return []
    widths = [(n, i.units) for n, i in v.layers.items() if i.kind == "Linear" and i.units is not None]
    if len(widths) < 2:
        return []
    outputs = widths[-1][1]
    narrow = [(n, u) for n, u in widths[:-1] if u < outputs]
    if outputs < 3 or not narrow:
        return []
    name, units = min(narrow, key=lambda x: x[1])
    wide = max(16, 1 << (int(t.width_per_output * outputs) - 1).bit_length())
    f = finding(
        "narrow_layer", gate(v, "warning", t),
        f"Layer {name} has {units} units for {outputs} outputs: a bottleneck narrower than the "
        f"number of classes limits what the model can fit.",
        layer=name, units=units, outputs=outputs, suggested_width=wide,
        source="own; Yang et al. 2018 (softmax bottleneck)")
    f.remedies = remedies_for("narrow_layer", width=f"{wide} units ({t.width_per_output:g}+ per output)",
                              units=wide, note=f"instead of {units} units")
    return [f]
