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
    """What the outputs predict; ``gan`` trains a generator against a discriminator with the ``gan:`` section (``model:`` and the optimizer keys of ``train:`` are not used then; see docs/gan.md)."""
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


GanLoss = Literal["minimax", "non_saturating", "wasserstein", "hinge", "least_squares"]
Latent = Literal["gaussian", "uniform"]
GanOptimizer = Literal["adam", "sgd", "sgdm", "rmsprop"]
GanActivation = Literal["relu", "leaky_relu", "elu", "tanh"]
GanNorm = Literal["none", "batch", "instance", "layer"]
SpectralNorm = Literal["none", "discriminator", "generator", "both"]
GradientPenalty = Literal["none", "wgan_gp", "r1"]
Downsample = Literal["avgpool", "strided"]
Upsample = Literal["pixelshuffle", "transposed"]
LrDecay = Literal["none", "linear"]
#: Losses whose discriminator targets are labels (soft, noisy and flipped labels apply).
LABEL_LOSSES: tuple[str, ...] = ("minimax", "non_saturating", "least_squares")


class GeneratorConfig(_Section):
    """``gan.generator:`` — the generator network G (latent -> sample)."""

    width: int = Field(128, ge=1, le=4096)
    """Units per hidden layer (2-D data: MLP) or channels of the first feature map (images: DCGAN, halved at each upsampling)."""
    depth: int = Field(3, ge=1, le=16)
    """Hidden layers (MLP); images: extra 3x3 convolutions after the two upsamplings."""
    activation: GanActivation = "relu"
    """Hidden-layer activation (Radford et al. 2016: ReLU in G)."""
    norm: GanNorm = "none"
    """Normalization after each hidden layer (``instance`` needs image data)."""
    upsample: Upsample = "transposed"
    """Images: transposed convolutions (stride 2) or PixelShuffle (sub-pixel convolution, Shi et al. 2016); not used for 2-D data."""


class DiscriminatorConfig(_Section):
    """``gan.discriminator:`` — the discriminator network D (sample, or pack of samples -> score)."""

    width: int = Field(128, ge=1, le=4096)
    """Units per hidden layer (MLP) or channels of the first convolution (images, doubled at each downsampling)."""
    depth: int = Field(3, ge=1, le=16)
    """Hidden layers (MLP); images: extra 3x3 convolutions before the two downsamplings."""
    activation: GanActivation = "leaky_relu"
    """Hidden-layer activation (LeakyReLU with slope 0.2 in D, Radford et al. 2016)."""
    norm: GanNorm = "none"
    """Normalization after each hidden layer (``instance`` needs image data)."""
    downsample: Downsample = "strided"
    """Images: strided convolutions or 3x3 convolutions followed by 2x2 average pooling; not used for 2-D data."""


class GanConfig(_Section):
    """``gan:`` — the GAN trainer (``train.task: gan``); every trick is a switch."""

    loss: GanLoss = "minimax"
    """Adversarial loss: ``minimax`` (G minimizes log(1 - D(G(z))), Goodfellow et al. 2014), ``non_saturating`` (G maximizes log D(G(z))), ``wasserstein`` (Arjovsky et al. 2017; pair it with ``gradient_penalty: wgan_gp``), ``hinge`` (Miyato et al. 2018), ``least_squares`` (Mao et al. 2017)."""
    latent: Latent = "gaussian"
    """Distribution of the latent vector z: standard normal or uniform on [-1, 1]."""
    latent_dim: int = Field(8, ge=1, le=4096)
    """Dimension of z."""
    scale_inputs: bool = True
    """Scale the data to [-1, 1] (min-max per feature) and end G with tanh; ``false``: standardized data and a linear output. Samples are written back in the data's own coordinates either way."""
    d_steps: int = Field(1, ge=1, le=100)
    """Discriminator updates per generator update (5 for a WGAN critic, Arjovsky et al. 2017)."""
    lr_g: float = Field(0.0005, gt=0, allow_inf_nan=False)
    """Generator learning rate."""
    lr_d: float = Field(0.001, gt=0, allow_inf_nan=False)
    """Discriminator learning rate; above ``lr_g`` is the two time-scale update rule (TTUR, Heusel et al. 2017)."""
    lr_decay: LrDecay = "linear"
    """Both rates fall linearly to 0 at the end of the training, from the share ``lr_decay_start`` of it on (``none``: constant)."""
    lr_decay_start: float = Field(0.5, ge=0, lt=1)
    """Share of the training (generator steps) at constant rates before the linear decay begins: 0 decays from the first step, 0.5 holds the rates for the first half. Used with ``lr_decay: linear``."""
    optimizer_g: GanOptimizer = "adam"
    """Generator optimizer (``sgdm``: SGD with momentum 0.9)."""
    optimizer_d: GanOptimizer = "adam"
    """Discriminator optimizer, e.g. ``sgd`` for D beside ``adam`` for G."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam's (beta1, beta2) for both networks; beta1 = 0.5 as in DCGAN (Radford et al. 2016). Each in [0, 1)."""
    spectral_norm: SpectralNorm = "none"
    """Spectral normalization of the weights (Miyato et al. 2018) in D, G or both."""
    gradient_penalty: GradientPenalty = "none"
    """``wgan_gp``: (|grad D| - 1)^2 on real-fake interpolates (Gulrajani et al. 2017); ``r1``: |grad D|^2 / 2 on real samples (Mescheder et al. 2018)."""
    gp_weight: float = Field(10.0, ge=0, allow_inf_nan=False)
    """Weight of the gradient penalty (10 for WGAN-GP; R1's gamma)."""
    soft_labels: float = Field(1.0, ge=0.5)
    """Target of real samples for D (one-sided label smoothing, Salimans et al. 2016: 0.9). At most 1: a real target above 1 makes binary cross-entropy unbounded below (see docs/gan.md)."""
    noisy_labels: float = Field(0.0, ge=0, lt=0.5)
    """Labels drawn at random: real targets uniform in [soft_labels - noisy_labels, soft_labels], fake targets uniform in [0, noisy_labels]."""
    label_flip: float = Field(0.0, ge=0, lt=0.5)
    """Share of D's real and fake labels swapped at random in each batch."""
    instance_noise: float = Field(0.0, ge=0, allow_inf_nan=False)
    """Standard deviation of Gaussian noise added to D's inputs, real and fake, in scaled units (Sønderby et al. 2017); falls linearly to 0 over the training."""
    g_noise: float = Field(0.0, ge=0, allow_inf_nan=False)
    """Standard deviation of Gaussian noise added to every hidden layer of G while training (Zhao et al. 2016)."""
    separate_batches: bool = True
    """D sees real and fake samples in separate batches (BatchNorm statistics of one kind each); ``false``: one mixed batch."""
    pack: int = Field(2, ge=1, le=16)
    """PacGAN packing degree (Lin et al. 2018): D judges ``pack`` samples at once, concatenated; 1 is no packing."""
    num_discriminators: int = Field(3, ge=1, le=8)
    """Discriminators trained side by side; G's loss is their mean (Durugkar et al. 2017)."""
    ema: float = Field(0.99, ge=0, lt=1)
    """Decay of the exponential moving average of G's weights that generates the samples and metrics (Yazici et al. 2019); 0 uses G itself."""
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    """The generator's architecture."""
    discriminator: DiscriminatorConfig = Field(default_factory=DiscriminatorConfig)
    """The discriminator's architecture."""

    @field_validator("soft_labels")
    @classmethod
    def _soft_label_bound(cls, v: float) -> float:
        if v > 1:
            raise ValueError("must be <= 1: a real target above 1 makes binary cross-entropy "
                             "unbounded below (D is rewarded without end for ever larger scores)")
        return v

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in v):
            raise ValueError("each must be in [0, 1)")
        return v

    @model_validator(mode="after")
    def _labels_need_label_loss(self) -> GanConfig:
        if self.loss not in LABEL_LOSSES:
            for key, value, plain in (("soft_labels", self.soft_labels, 1.0),
                                      ("noisy_labels", self.noisy_labels, 0.0),
                                      ("label_flip", self.label_flip, 0.0)):
                if value != plain:
                    raise ValueError(f"gan.{key} = {value}: needs a loss with label targets "
                                     f"({', '.join(LABEL_LOSSES)}), not {self.loss}")
        if self.soft_labels - self.noisy_labels <= 0.5:
            raise ValueError(f"gan.noisy_labels = {self.noisy_labels}: real targets would reach "
                             f"{self.soft_labels - self.noisy_labels:g}; soft_labels - noisy_labels "
                             "must stay above 0.5")
        return self


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
    gan: GanConfig = Field(default_factory=GanConfig)
    """The GAN trainer (``train.task: gan``): losses, networks and the tricks, each a switch; the defaults are the recommended set (docs/gan.md)."""

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
        if t.task == "gan" and self.target.shift != "none":
            raise ValueError(f"target.shift = {self.target.shift}: not used by task gan; allowed: none")
        return self

    def to_dict(self) -> dict:
        """Plain nested dict (YAML/JSON ready)."""
        return self.model_dump(mode="json")

