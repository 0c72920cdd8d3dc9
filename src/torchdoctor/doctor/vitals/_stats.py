"""Tensor statistics the probes compute on sampled steps (on the device, no host sync).

Each function returns a 1-D float tensor of fixed length that the recorder copies into a row
of a preallocated buffer; ``NaN`` marks "not applicable". The host reads them at a flush.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "ACT_FIELDS", "ACTIVATION_KINDS", "IN_FIELDS", "LOSS_FIELDS", "OUT_FIELDS", "TGT_FIELDS",
    "activation_stats", "input_stats", "loss_candidates", "output_stats", "target_stats",
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

ACT_FIELDS = ("act_mean", "act_std", "frac_zero", "frac_saturated", "frac_dead")
IN_FIELDS = ("mean", "std", "absmax")
OUT_FIELDS = ("min", "max", "rowsum_dev", "logsumexp_dev")
TGT_FIELDS = ("min", "max", "rowsum_dev", "nonbinary")
LOSS_FIELDS = ("ce", "nll", "mse", "bce_logits", "bce")

_NAN = float("nan")


def activation_stats(y: torch.Tensor, family: str | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Statistics of one module output (a few fused passes, no copy).

    Args:
        y (Tensor[N, C, ...]): the output (detached).
        family: ``ACTIVATION_KINDS`` value, or ``None`` for a parameterised layer.

    Returns:
        ``(stats, alive)``: ``stats`` (Tensor[5]) in :data:`ACT_FIELDS` order (fractions in
        [0, 1]); ``alive`` (Tensor[C], bool) units that fired at least once in the batch
        (ReLU family only, else ``None``).
    """
    yf = y.detach().float()
    mean, std = _mean_std(yf)
    nan = torch.full((), _NAN, device=y.device)
    n = max(yf.numel(), 1)
    alive = None
    if family == "relu":  # outputs >= 0: sign() counts the positive ones
        zero = 1.0 - torch.sign(yf).sum() / n
        if yf.dim() > 1:
            alive = torch.amax(yf, dim=[d for d in range(yf.dim()) if d != 1]) > 0
        else:
            alive = (yf.amax() > 0).reshape(1)
        dead = 1.0 - alive.float().mean()
    else:
        zero = dead = nan
    if family == "sigmoid":  # relu(|y - 1/2| - (1/2 - eps)) > 0 exactly in the tails
        sat = torch.sign(torch.relu((yf - 0.5).abs() - (0.5 - SIGMOID_SAT))).sum() / n
    elif family == "tanh":
        sat = torch.sign(torch.relu(yf.abs() - TANH_SAT)).sum() / n
    else:
        sat = nan
    return torch.stack([mean, std, zero, sat, dead]), alive


def _mean_std(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (population) std from the mean and the 2-norm: two fast reductions.

    ``torch.std_mean`` is ~100x slower on CPU for these sizes (measured, torch 2.13).
    """
    n = max(x.numel(), 1)
    mean = x.mean()
    ms = torch.linalg.vector_norm(x) ** 2 / n
    return mean, (ms - mean * mean).clamp_min(0).sqrt()


def input_stats(x: torch.Tensor) -> torch.Tensor:
    """Tensor[3]: mean, std and max |x| of a floating input batch."""
    xf = x.detach().float()
    mean, std = _mean_std(xf)
    return torch.stack([mean, std, xf.abs().max()])


def output_stats(o: torch.Tensor) -> torch.Tensor:
    """Tensor[4]: min, max, mean |row sum - 1| and mean |logsumexp(row)| over dim 1.

    Rows summing to 1 with values in [0, 1] are probabilities (softmax); rows whose
    ``logsumexp`` is 0 are log-probabilities (log_softmax).
    """
    of = o.detach().float()
    lo, hi = torch.aminmax(of)
    if of.dim() >= 2 and of.shape[1] > 1:
        rs = (of.sum(dim=1) - 1).abs().mean()
        lse = torch.logsumexp(of, dim=1).abs().mean()
    else:
        rs = lse = torch.full((), _NAN, device=o.device)
    return torch.stack([lo, hi, rs, lse])


def target_stats(t: torch.Tensor) -> torch.Tensor:
    """Tensor[4] of a floating target batch: min, max, mean |row sum - 1|, max |t (1 - t)|.

    One-hot targets have min 0, max 1, row sums 1 and ``nonbinary`` 0.
    """
    tf = t.detach().float()
    lo, hi = torch.aminmax(tf)
    if tf.dim() >= 2 and tf.shape[1] > 1:
        rs = (tf.sum(dim=1) - 1).abs().mean()
    else:
        rs = torch.full((), _NAN, device=t.device)
    nb = (tf * (1 - tf)).abs().max()
    return torch.stack([lo, hi, rs, nb])


def loss_candidates(o: torch.Tensor, t: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Tensor[5]: the usual losses of ``(outputs, targets)`` in :data:`LOSS_FIELDS` order.

    The recorded loss is compared with these at a flush to infer which loss the user applied
    (e.g. ``CrossEntropyLoss`` on softmax outputs, ``MSELoss`` on one-hot targets). ``NaN``
    where a candidate does not apply to the shapes.
    """
    o = o.detach().float()
    nan = torch.full((), _NAN, device=o.device)
    ce = nll = mse = bcel = bce = nan
    if o.dim() == 2 and t.dim() == 1 and not t.is_floating_point() and o.shape[0] == t.shape[0]:
        tl = t.long().clamp(0, o.shape[1] - 1)
        ce = F.cross_entropy(o, tl)
        nll = F.nll_loss(o, tl)
        mse = F.mse_loss(o, F.one_hot(tl, o.shape[1]).float())
    elif not t.is_floating_point() and t.shape == o.shape:  # class index regressed as a number
        mse = F.mse_loss(o, t.float())
    elif t.is_floating_point() and t.shape == o.shape:
        tf = t.detach().float()
        mse = F.mse_loss(o, tf)
        bcel = F.binary_cross_entropy_with_logits(o, tf.clamp(0, 1))
        bce = F.binary_cross_entropy(o.clamp(1e-7, 1 - 1e-7), tf.clamp(0, 1))
        if o.dim() == 2 and o.shape[1] > 1:
            ce = F.cross_entropy(o, tf)
    return torch.stack([ce, nll, mse, bcel, bce])
