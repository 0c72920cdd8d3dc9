"""Findings and remedies: the objects every diagnosis in torchdoctor returns.

A :class:`Finding` is one recognised symptom (a code from :data:`SYMPTOM_CODES`), with its
severity, a human message, where and when it was seen, and the evidence (the numbers, the
threshold and its source). :class:`Remedy` is one ranked cure: a sentence, a code snippet for a
user's own loop, and a config patch (dotted keys of the YAML config) that ``repair`` applies.

This module sits at the bottom of the package so that the doctor, the data checkup and the
shift tools can all produce the same objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}

#: Every symptom code a finding may carry, with its one-line meaning (DESIGN.md, Part 2).
SYMPTOM_CODES: dict[str, str] = {
    "nonfinite": "NaN or Inf in loss, gradients or parameters",
    "exploding_gradient": "gradient norms grow without bound or are far too large",
    "vanishing_gradient": "early layers receive vanishingly small gradients",
    "dead_relu": "a large share of ReLU units never activate",
    "saturated_activation": "sigmoid/tanh units stuck in their flat tails",
    "activation_collapse": "activation scale shrinks (or blows up) layer after layer",
    "symmetric_weights": "units of a layer are identical: symmetry never broken",
    "unnormalized_input": "inputs far from zero-mean, unit-scale",
    "wrong_output_activation": "probabilities or squashed outputs fed to a loss that expects logits, or similar",
    "wrong_loss": "the loss does not fit the targets (MSE on one-hot class labels, BCE on multi-class...)",
    "loss_plateau": "the loss stopped falling early (too-low rate, bad setup)",
    "loss_oscillating": "the loss swings instead of falling (too-high rate)",
    "small_batch_norm": "BatchNorm trained on batches too small for stable statistics",
    "train_mode_in_eval": "evaluation forward passes run with the model in training mode",
    "missing_zero_grad": "gradients accumulate across steps",
    "overfitting": "validation loss rises while training loss falls",
    "underfitting": "training accuracy stays low: model or regularization mismatch",
    "class_imbalance": "classes are strongly unequal in the training data",
    "unshuffled_data": "training batches follow the dataset order",
    "covariate_shift": "target inputs differ in distribution from training inputs",
    "label_shift": "target class proportions differ from training",
    "gan_discriminator_wins": "discriminator loss -> 0; the generator gets no signal",
    "gan_mode_collapse": "generated samples cover few modes of the data",
    # Added beyond DESIGN.md's first table (data checkup):
    "duplicate_samples": "the same samples appear in training and validation data (leakage)",
    "constant_feature": "input features that never vary carry no information",
    # Added by the repair work (a setup cause of underfitting the notes' "model too small" names):
    "narrow_layer": "a hidden layer has fewer units than the model has outputs (a bottleneck)",
    # Added for loops the first rules could not see (outputs, shapes, the optimizer step):
    "no_update": "the optimizer changes no weights (or leaves layers unchanged) while training runs",
    "output_range_mismatch": "the output layer cannot produce the targets' range (e.g. a sigmoid on targets up to 10)",
    "loss_shape_mismatch": "outputs and targets of different shapes broadcast in the loss ((N, 1) vs (N,))",
    "wrong_softmax_dim": "softmax/log_softmax taken over the wrong dimension (the batch instead of the classes)",
}


@dataclass(frozen=True)
class Remedy:
    """One cure for a finding.

    Attributes:
        code: short identifier, e.g. ``"use_kaiming_init"``.
        description: one sentence a person reads.
        patch: config patch as dotted keys, e.g. ``{"model.init": "kaiming_normal"}``;
            empty when the cure cannot be expressed in the config.
        snippet: a few lines of PyTorch for a user's own loop.
    """

    code: str
    description: str
    patch: dict[str, Any] = field(default_factory=dict)
    snippet: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Finding:
    """One recognised symptom with its evidence.

    Attributes:
        code: a key of :data:`SYMPTOM_CODES`.
        severity: ``"error"``, ``"warning"`` or ``"info"``.
        message: one or two sentences, with the key numbers.
        layer: qualified module name the symptom was seen in, or ``None``.
        step: optimizer step (0-based) of the first evidence, or ``None``.
        evidence: the numbers behind the verdict (values, threshold, source).
        remedies: ranked cures, best first.
    """

    code: str
    severity: Severity
    message: str
    layer: str | None = None
    step: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: list[Remedy] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.code not in SYMPTOM_CODES:
            raise ValueError(
                f"code must be one of {sorted(SYMPTOM_CODES)}, got {self.code!r}"
            )
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def key(self) -> tuple[str, str | None]:
        """Identity used for deduplication: one finding per (code, layer)."""
        return (self.code, self.layer)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the shape of DESIGN.md's ``diagnose --json``."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "layer": self.layer,
            "step": self.step,
            "evidence": _jsonable(self.evidence),
            "remedies": [r.to_dict() for r in self.remedies],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            code=d["code"],
            severity=d["severity"],
            message=d["message"],
            layer=d.get("layer"),
            step=d.get("step"),
            evidence=dict(d.get("evidence") or {}),
            remedies=[Remedy(**r) for r in d.get("remedies") or []],
        )


def _jsonable(value: Any) -> Any:
    """Convert NumPy/torch scalars and tuples inside evidence to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays/scalars, torch tensors
        return _jsonable(value.tolist())
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value


def worst_severity(findings: list[Finding]) -> str | None:
    """The most severe level among ``findings``, or ``None`` when there are none."""
    if not findings:
        return None
    return max((f.severity for f in findings), key=SEVERITY_RANK.__getitem__)
