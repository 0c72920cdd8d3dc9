"""Tensor statistics the probes compute on sampled steps (on the device, no host sync).

Each device function returns a list of 0-d tensors in the order of its ``*_RAW`` or
``*_FIELDS`` names, ``None`` where a statistic does not apply, with as few kernels as
possible (the sampled step's cost is mostly per-kernel overhead on small models). The recorder
keeps the tensors and reads them all in one copy at a flush; the ``finish_*`` functions then
turn raw sums and norms into means, deviations and fractions on the host.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "ACTIVATION_KINDS", "ACT_FIELDS", "ACT_RAW", "IN_FIELDS", "IN_RAW", "LOSS_FIELDS",
    "OUT_FIELDS", "TGT_FIELDS", "activation_stats", "finish_activation", "finish_input",
    "input_stats", "loss_candidates", "output_stats", "target_stats",
]

#: Activation modules by class name -> family (decides "zero" and "saturated").
ACTIVATION_KINDS: dict[str, str] = {
    "ReLU": "relu", "ReLU6": "relu", "RReLU": "leaky", "LeakyReLU": "leaky", "PReLU": "leaky",
    "ELU": "smooth", "SELU": "smooth", "CELU": "smooth", "GELU": "smooth", "SiLU": "smooth",
    "Mish": "smooth", "Softplus": "smooth", "Sigmoid": "sigmoid", "Hardsigmoid": "sigmoid",
    "Tanh": "tanh", "Hardtanh": "tanh", "Softsign": "tanh", "Softmax": "softmax",
    "LogSoftmax": "logsoftmax", "Maxout": "smooth",
}

#: Saturation bands of squashing outputs: the local slope there is below 4 % of its maximum
#: (sigmoid: y(1-y) < 0.0099 vs 0.25; tanh: 1-y^2 < 0.0199 vs 1). Own choice, in the spirit of
#: SageMaker Debugger's ``SaturatedActivation`` rule (which thresholds the pre-activation).
SIGMOID_SAT = 0.01
TANH_SAT = 0.99
_NAN = math.nan

ACT_FIELDS = ("act_mean", "act_std", "frac_zero", "frac_saturated", "frac_dead")
#: What :func:`activation_stats` measures on the device (finished by :func:`finish_activation`).
ACT_RAW = ("sum", "norm", "nonzero", "saturated", "alive")
IN_FIELDS = ("mean", "std", "absmax")
#: What :func:`input_stats` measures on the device (finished by :func:`finish_input`).
IN_RAW = ("sum", "norm", "absmax")
OUT_FIELDS = ("min", "max", "rowsum_dev", "logsumexp_dev")
TGT_FIELDS = ("min", "max", "rowsum_dev", "nonbinary")
LOSS_FIELDS = ("ce", "nll", "mse", "bce_logits", "bce")

Stats = list[torch.Tensor | None]


def activation_stats(y: torch.Tensor, family: str | None) -> tuple[Stats, torch.Tensor | None]:
    """Raw statistics of one module output: two reductions, four more for the ReLU family.

    Args:
        y (Tensor[N, C, ...]): the output (detached).
        family: ``ACTIVATION_KINDS`` value, or ``None`` for a parameterised layer.

    Returns:
        ``(raw, peak)``: ``raw`` in :data:`ACT_RAW` order (sum, 2-norm, count of non-zero
        values and of units that fired (ReLU family), count of saturated values (sigmoid and
        tanh families)); ``peak`` (Tensor[C]) the largest output of each unit in the batch
        (ReLU family only, else ``None``): a unit with ``peak <= 0`` did not fire.
    """
    yf = y.detach()
    if not yf.is_floating_point() or yf.dtype in (torch.float16, torch.bfloat16):
        yf = yf.float()
    raw: Stats = [yf.sum(), torch.linalg.vector_norm(yf), None, None, None]
    peak = None
    if family == "relu":  # outputs >= 0: non-zero means positive
        raw[2] = torch.count_nonzero(yf)
        peak = torch.amax(yf, dim=[d for d in range(yf.dim()) if d != 1]) if yf.dim() > 1 \
            else yf.amax().reshape(1)
        raw[4] = torch.count_nonzero(peak)
    elif family == "sigmoid":  # |y - 1/2| > 1/2 - eps exactly in the tails
        raw[3] = torch.count_nonzero((yf - 0.5).abs_() > 0.5 - SIGMOID_SAT)
    elif family == "tanh":
        raw[3] = torch.count_nonzero(yf.abs() > TANH_SAT)
    return raw, peak


def _mean_std(total: float, norm: float, n: int) -> tuple[float, float]:
    """Mean and population std from a sum and a 2-norm over ``n`` values."""
    mean = total / n
    return mean, math.sqrt(max(norm * norm / n - mean * mean, 0.0))


def finish_activation(raw: Sequence[float], n: int, units: int) -> list[float]:
    """:data:`ACT_FIELDS` from :func:`activation_stats`' raw values (NaN: not measured).

    Args:
        raw: the raw values in :data:`ACT_RAW` order, NaN where not measured.
        n: number of values reduced (``y.numel()``).
        units: number of units (``y.shape[1]``, or 1 for a 1-D output).
    """
    total, norm, nonzero, sat, alive = raw
    if n <= 0 or math.isnan(total):
        return [_NAN] * len(ACT_FIELDS)
    mean, std = _mean_std(total, norm, n)
    return [mean, std, 1.0 - nonzero / n, sat / n, 1.0 - alive / max(units, 1)]


def input_stats(x: torch.Tensor) -> Stats:
    """Raw statistics of a floating input batch in :data:`IN_RAW` order: sum, 2-norm, max |x|."""
    xf = x.detach()
    if xf.dtype in (torch.float16, torch.bfloat16):
        xf = xf.float()
    return [xf.sum(), torch.linalg.vector_norm(xf), torch.linalg.vector_norm(xf, ord=math.inf)]


def finish_input(raw: Sequence[float], n: int) -> list[float]:
    """:data:`IN_FIELDS` (mean, std, max |x|) from :func:`input_stats`' raw values over ``n``."""
    if n <= 0 or math.isnan(raw[0]):
        return [_NAN] * len(IN_FIELDS)
    mean, std = _mean_std(raw[0], raw[1], n)
    return [mean, std, raw[2]]


def output_stats(o: torch.Tensor) -> Stats:
    """:data:`OUT_FIELDS`: min, max, mean |row sum - 1| and mean |logsumexp(row)| over dim 1.

    Rows summing to 1 with values in [0, 1] are probabilities (softmax); rows whose
    ``logsumexp`` is 0 are log-probabilities (log_softmax).
    """
    of = o.detach().float()
    lo, hi = torch.aminmax(of)
    if of.dim() >= 2 and of.shape[1] > 1:
        return [lo, hi, (of.sum(dim=1) - 1).abs_().mean(), torch.logsumexp(of, dim=1).abs_().mean()]
    return [lo, hi, None, None]


def target_stats(t: torch.Tensor) -> Stats:
    """:data:`TGT_FIELDS` of a floating target batch: min, max, mean |row sum - 1|,
    max |t (1 - t)|. One-hot targets have min 0, max 1, row sums 1 and ``nonbinary`` 0."""
    tf = t.detach().float()
    lo, hi = torch.aminmax(tf)
    rs = (tf.sum(dim=1) - 1).abs_().mean() if tf.dim() >= 2 and tf.shape[1] > 1 else None
    return [lo, hi, rs, (tf * (1 - tf)).abs_().max()]


def loss_candidates(o: torch.Tensor, t: torch.Tensor, num_classes: int) -> Stats:
    """The usual losses of ``(outputs, targets)`` in :data:`LOSS_FIELDS` order.

    The recorded loss is compared with these at a flush to infer which loss the user applied
    (e.g. ``CrossEntropyLoss`` on softmax outputs, ``MSELoss`` on one-hot targets). ``None``
    where a candidate does not apply to the shapes.
    """
    o = o.detach().float()
    out: Stats = [None] * len(LOSS_FIELDS)
    if o.dim() == 2 and t.dim() == 1 and not t.is_floating_point() and o.shape[0] == t.shape[0]:
        tl = t.long().clamp(0, o.shape[1] - 1)
        out[0] = F.cross_entropy(o, tl)
        out[1] = F.nll_loss(o, tl)
        # one-hot by scatter: F.one_hot checks the labels' range on the host (a sync)
        out[2] = F.mse_loss(o, torch.zeros_like(o).scatter_(1, tl.unsqueeze(1), 1.0))
    elif not t.is_floating_point() and t.shape == o.shape:  # class index regressed as a number
        out[2] = F.mse_loss(o, t.float())
    elif t.is_floating_point() and t.shape == o.shape:
        tf = t.detach().float()
        out[2] = F.mse_loss(o, tf)
        tc = tf.clamp(0, 1)
        out[3] = F.binary_cross_entropy_with_logits(o, tc)
        out[4] = F.binary_cross_entropy(o.clamp(1e-7, 1 - 1e-7), tc)
        if o.dim() == 2 and o.shape[1] > 1:
            out[0] = F.cross_entropy(o, tf)
    return out
