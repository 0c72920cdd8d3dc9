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
    # the docstring under each field is its description (docs/config.md is generated from it)
    model_config = ConfigDict(extra="forbid", validate_assignment=True,
                              use_attribute_docstrings=True)

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
    """Dataset: a built-in name, or ``npz:PATH`` (arrays ``x`` and ``y``)."""
    normalize: Normalize = "standard"
    """Input normalization fitted on the training split; ``unit`` maps [0, 255] to [-1, 1]."""
    scale: float = Field(1.0, gt=0, allow_inf_nan=False)
    """Raw inputs are multiplied by this before normalization."""
    val_fraction: float = Field(0.2, gt=0, lt=1)
    """Share of the samples held out for validation (stratified)."""
    shuffle: bool = True
    """Reshuffle the training set each epoch; ``false`` feeds batches in dataset order, sorted by label."""
    imbalance: float = Field(1.0, ge=1, allow_inf_nan=False)
    """Ratio of the largest to the smallest class after subsampling the training set; 1 keeps it as is."""
    label_noise: float = Field(0.0, ge=0, lt=1)
    """Fraction of training labels replaced at random."""

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
    """Architecture: multilayer perceptron, plain CNN or ResNet."""
    depth: int = Field(3, ge=1, le=128)
    """Hidden layers (mlp) or convolution blocks (cnn, resnet)."""
    width: int = Field(64, ge=1, le=16384)
    """Units per hidden layer (mlp) or channels (cnn, resnet)."""
    activation: Activation = "relu"
    """Hidden-layer activation."""
    norm: Norm = "none"
    """Normalization layer after each hidden layer (``instance`` needs cnn or resnet)."""
    init: InitScheme = "default"
    """Weight initialization scheme; ``default`` keeps PyTorch's own."""
    init_std: float = Field(0.01, allow_inf_nan=False)
    """Standard deviation for ``normal``, bound for ``uniform``, value for ``constant``."""
    bias_init: float = Field(0.0, allow_inf_nan=False)
    """Value every bias starts at."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout probability after each hidden layer."""
    output_activation: OutputActivation = "none"
    """Activation applied to the outputs before the loss (``log_softmax`` goes with loss ``nll``)."""

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
    """What the outputs predict (``gan`` is refused in this release)."""
    epochs: int = Field(20, ge=1, le=100000)
    """Passes over the training set."""
    batch_size: int = Field(64, ge=1, le=2**31 - 1)
    """Samples per optimizer step (``gd`` uses the whole training set)."""
    optimizer: Optimizer = "sgdm"
    """``gd`` is full-batch gradient descent, ``sgdm`` SGD with momentum, ``lars`` layer-wise adaptive rate scaling."""
    lr: float = Field(0.05, gt=0, allow_inf_nan=False)
    """Learning rate."""
    momentum: float = Field(0.9, ge=0, lt=1)
    """Momentum coefficient (used by ``sgdm`` and ``lars``)."""
    weight_decay: float = Field(0.0, ge=0, allow_inf_nan=False)
    """L2 penalty coefficient, passed to the optimizer."""
    l1: float = Field(0.0, ge=0, allow_inf_nan=False)
    """L1 penalty coefficient on the weight matrices, added to the loss."""
    loss: Loss = "cross_entropy"
    """Loss function (``focal``: softmax focal loss with gamma 2; ``nll`` expects log-probabilities)."""
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    """Label smoothing of the training targets (classification losses)."""
    grad_clip: float | None = Field(None, gt=0, allow_inf_nan=False)
    """Largest global gradient norm (clipped above it), or ``null`` for no clipping."""
    zero_grad: bool = True
    """``false`` reproduces the bug of a forgotten ``optimizer.zero_grad()``."""
    eval_mode: bool = True
    """``false`` reproduces the bug of a forgotten ``model.eval()`` during validation."""
    reweight: Reweight = "none"
    """Per-sample training weights estimated against the ``target:`` sample."""
    class_weight: ClassWeight = "none"  # extension: balanced = N / (K·n_k) per class
    """``balanced`` weights each class by N / (K * n_k)."""

    @field_validator("task")
    @classmethod
    def _gan_not_here(cls, v: str) -> str:
        if v == "gan":
            raise ValueError("the GAN trainer is not part of this release; allowed: classification, regression")
        return v


class TargetConfig(_Section):
    """``target:`` — an optional second sample for checkup and shift correction."""

    shift: Shift = "none"
    """How the target sample differs from the training distribution."""
    size: int = Field(300, ge=2, le=100_000)
    """Samples in the target sample."""
    alpha: float = Field(1.0, gt=0, allow_inf_nan=False)
    """Label shift: Dirichlet concentration of the target class priors."""
    strength: float = Field(0.7, ge=0, le=1)
    """Covariate shift: share drawn from one side of the first principal component."""
    sigma: float = Field(0.1, ge=0, allow_inf_nan=False)
    """Noise shift: Gaussian noise standard deviation, in normalized units."""


class Config(_Section):
    """A whole torchdoctor run. Every key has a default; unknown keys are errors."""

    seed: int = Field(0, ge=0, lt=2**32)
    """Seed of every random choice (data split, initialization, shuffling, dropout)."""
    data: DataConfig = Field(default_factory=DataConfig)
    """Which dataset and how it is prepared."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    """Architecture and initialization."""
    train: TrainConfig = Field(default_factory=TrainConfig)
    """The optimization."""
    target: TargetConfig = Field(default_factory=TargetConfig)
    """An optional second sample for the checkup and shift correction."""

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

