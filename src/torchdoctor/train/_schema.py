"""The YAML config schema as pydantic models (keys, defaults, ranges); see docs/config.md.

Every number is checked at the door: ``true``/``false`` is not a number, floats stay within
the float32 range the model computes in, and sizes have upper bounds (a typo of a few zeros
gets a clear refusal instead of an out-of-memory crash).
"""

from __future__ import annotations

import math
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

Normalize = Literal["none", "standard", "minmax", "unit"]
Arch = Literal["mlp", "cnn", "resnet"]
Activation = Literal["relu", "leaky_relu", "elu", "selu", "gelu", "tanh", "sigmoid", "maxout"]
Norm = Literal["none", "batch", "layer", "instance", "group", "switch"]
InitScheme = Literal[
    "default", "constant", "zeros", "uniform", "normal", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "lecun_normal", "lecun_uniform",
]
OutputActivation = Literal["none", "softmax", "sigmoid", "relu", "log_softmax"]
Task = Literal["classification", "regression", "gan"]
Optimizer = Literal[
    "gd", "sgd", "sgdm", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "lars",
]
Loss = Literal["cross_entropy", "mse", "focal", "nll"]
Reweight = Literal["none", "covariate", "label"]
ClassWeight = Literal["none", "balanced"]
Shift = Literal["none", "covariate", "label", "noise"]

#: Dataset names of the registry (``npz:PATH`` is accepted besides these).
DATASET_NAMES: tuple[str, ...] = (
    "digits", "moons", "blobs", "spirals", "mnist1d", "ring8", "grid25", "friedman",
)


#: Largest finite float32: parameters and learning rates beyond it overflow in the model.
FLOAT32_MAX = 3.4028234663852886e38


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """Numbers are numbers (``true`` is not 1) and floats fit in float32."""
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return v
        kinds = set(get_args(field.annotation)) or {field.annotation}
        if isinstance(v, bool) and bool not in kinds and kinds & {int, float}:
            raise ValueError("must be a number, not true/false")
        if float in kinds and not isinstance(v, bool):
            x = v
            if isinstance(v, str):  # YAML 1.1 reads 1e39 as a string; pydantic parses it later
                try:
                    x = float(v)
                except ValueError:
                    return v
            if isinstance(x, (int, float)):
                try:
                    too_big = abs(float(x)) > FLOAT32_MAX if not isinstance(x, float) or math.isfinite(x) else False
                except OverflowError:  # an int beyond float64
                    too_big = True
                if too_big:
                    raise ValueError(f"must be within the float32 range (|value| <= {FLOAT32_MAX:.4g})")
        return v


class DataConfig(_Section):
    """``data:`` — which dataset and how it is prepared."""

    name: str = "digits"
    normalize: Normalize = "standard"
    scale: float = Field(1.0, gt=0, allow_inf_nan=False)
    val_fraction: float = Field(0.2, gt=0, lt=1)
    shuffle: bool = True
    imbalance: float = Field(1.0, ge=1, allow_inf_nan=False)
    label_noise: float = Field(0.0, ge=0, lt=1)

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        if v in DATASET_NAMES:
            return v
        if v.startswith("npz:") and len(v) > 4:
            return v
        raise ValueError(f"allowed: {', '.join(DATASET_NAMES)}, or npz:PATH")


class ModelConfig(_Section):
    """``model:`` — architecture and initialization."""

    arch: Arch = "mlp"
    depth: int = Field(3, ge=1, le=128)
    width: int = Field(64, ge=1, le=16384)
    activation: Activation = "relu"
    norm: Norm = "none"
    init: InitScheme = "default"
    init_std: float = Field(0.01, allow_inf_nan=False)
    bias_init: float = Field(0.0, allow_inf_nan=False)
    dropout: float = Field(0.0, ge=0, lt=1)
    output_activation: OutputActivation = "none"

    @model_validator(mode="after")
    def _std_positive(self) -> ModelConfig:
        if self.init in ("normal", "uniform") and not self.init_std > 0:
            raise ValueError(
                f"model.init_std = {self.init_std}: must be > 0 for init {self.init}"
            )
        return self


class TrainConfig(_Section):
    """``train:`` — the optimization."""

    task: Task = "classification"
    epochs: int = Field(20, ge=1, le=100000)
    batch_size: int = Field(64, ge=1, le=2**31 - 1)
    optimizer: Optimizer = "sgdm"
    lr: float = Field(0.05, gt=0, allow_inf_nan=False)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0, allow_inf_nan=False)
    l1: float = Field(0.0, ge=0, allow_inf_nan=False)
    loss: Loss = "cross_entropy"
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    grad_clip: float | None = Field(None, gt=0, allow_inf_nan=False)
    zero_grad: bool = True
    eval_mode: bool = True
    reweight: Reweight = "none"
    class_weight: ClassWeight = "none"  # extension: balanced = N / (K·n_k) per class

    @field_validator("task")
    @classmethod
    def _gan_not_here(cls, v: str) -> str:
        if v == "gan":
            raise ValueError("the GAN trainer is not part of this release; allowed: classification, regression")
        return v


class TargetConfig(_Section):
    """``target:`` — an optional second sample for checkup and shift correction."""

    shift: Shift = "none"
    size: int = Field(300, ge=2, le=100_000)
    alpha: float = Field(1.0, gt=0, allow_inf_nan=False)
    strength: float = Field(0.7, ge=0, le=1)
    sigma: float = Field(0.1, ge=0, allow_inf_nan=False)


class Config(_Section):
    """A whole torchdoctor run. Every key has a default; unknown keys are errors."""

    seed: int = Field(0, ge=0, lt=2**32)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    target: TargetConfig = Field(default_factory=TargetConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        t, m = self.train, self.model
        if t.task == "regression" and t.loss in ("cross_entropy", "focal", "nll"):
            raise ValueError(
                f"train.loss = {t.loss}: a regression task needs loss mse"
            )
        if m.arch == "mlp" and m.norm == "instance":
            raise ValueError(
                "model.norm = instance: needs spatial inputs (arch cnn or resnet); "
                "allowed for mlp: none, batch, layer, group, switch"
            )
        if t.reweight == "label" and t.task != "classification":
            raise ValueError("train.reweight = label: needs task classification")
        if t.class_weight != "none" and t.task != "classification":
            raise ValueError(f"train.class_weight = {t.class_weight}: needs task classification")
        return self

    def to_dict(self) -> dict:
        """Plain nested dict (YAML/JSON ready)."""
        return self.model_dump(mode="json")

