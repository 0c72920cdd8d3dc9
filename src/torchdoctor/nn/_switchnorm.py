"""Switchable Normalization (Luo et al., "Differentiable Learning-to-Normalize via Switchable
Normalization", ICLR 2019): a learned softmax mix of IN, LN and BN statistics.

For ``x`` of shape ``[N, C, *S]`` (``m = ∏S`` positions per channel):

- IN moments, per sample and channel, computed once (the only statistics pass over ``x``):
  ``μ_in[n,c] = mean_S x``, ``σ²_in[n,c] = mean_S (x − μ_in)²`` (biased, two-pass);
- LN moments derived from them by E[x²] bookkeeping, ``mean_c E_in[x²] − μ_ln²`` with
  ``E_in[x²] = σ²_in + μ_in²``, written in its cancellation-free form (law of total
  variance): ``μ_ln[n] = mean_c μ_in``, ``σ²_ln[n] = mean_c σ²_in + mean_c (μ_in − μ_ln)²``;
- BN moments likewise over n: ``μ_bn[c] = mean_n μ_in``,
  ``σ²_bn[c] = mean_n σ²_in + mean_n (μ_in − μ_bn)²``.

All three variances are the exact biased variances over their sets (the reference code's
``x.var(-1)`` is unbiased for IN and so slightly inflates every branch; not copied here).
The subtraction-free form keeps float32 accurate when means are large against the spread,
where ``E[x²] − μ²`` would cancel.
Then ``μ = Σ_k softmax(mean_weight)_k μ_k``, ``σ² = Σ_k softmax(var_weight)_k σ²_k`` and
``y = γ (x − μ) / √(σ² + eps) + β``.

Speed: the whole layer is one autograd ``Function``. Its forward is two reduction passes over
``x`` (mean, norm of the centred rows) and one fused ``scale·(x − μ) + β`` pass; its backward
is one fused reduction pass (Σg·x and Σg together) and two elementwise passes. The small
``[N, C]`` algebra (mixing, γ, β) has a hand-written backward (:func:`_mix_backward`), checked
against autograd in the tests. Forward + backward costs about what ``nn.BatchNorm2d`` costs
(``benchmarks/pharmacy/norm.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

__all__ = ["SwitchNorm1d", "SwitchNorm2d", "switch_norm"]

#: Branch order of ``mean_weight`` / ``var_weight``.
BRANCHES: tuple[str, ...] = ("in", "ln", "bn")


class _Mixed(NamedTuple):
    """The small ``[N, C]``-sized intermediates of the forward, kept for the backward."""

    scale: Tensor  # [N, C]  γ / √(σ² + eps)
    shift: Tensor  # [N, C]  β − μ·scale
    mean: Tensor  # [N, C]  mixed mean μ
    var: Tensor  # [N, C]  mixed variance σ² (before the clamp at 0)
    rstd: Tensor  # [N, C]  1 / √(max(σ², 0) + eps)
    mean_ln: Tensor  # [N, 1]
    var_ln: Tensor  # [N, 1]
    mean_bn: Tensor | None  # [C]  batch moments, or the running ones in eval
    var_bn: Tensor | None  # [C]


def _mix(mean_in: Tensor, var_in: Tensor, weight: Tensor, bias: Tensor, mw: Tensor, vw: Tensor,
         bn_mean: Tensor | None, bn_var: Tensor | None, use_in: bool, use_bn: bool,
         eps: float) -> _Mixed:
    """Small-tensor part: IN moments ``[N, C]`` → per-(n, c) ``scale`` and ``shift``.

    ``mw``/``vw`` are the softmax weights of the branches in use, in the order (IN, LN, BN).
    ``bn_mean``/``bn_var`` given (eval with running stats) replace the batch moments.
    """
    mean_ln = mean_in.mean(1, keepdim=True)
    var_ln = var_in.mean(1, keepdim=True) + (mean_in - mean_ln).square().mean(1, keepdim=True)
    means, vars_ = [mean_ln], [var_ln]
    if use_in:
        means.insert(0, mean_in)
        vars_.insert(0, var_in)
    if use_bn:
        if bn_mean is None or bn_var is None:
            bn_mean = mean_in.mean(0)
            bn_var = var_in.mean(0) + (mean_in - bn_mean).square().mean(0)
        means.append(bn_mean)
        vars_.append(bn_var)
    mean = means[0] * mw[0]
    var = vars_[0] * vw[0]
    for k in range(1, len(means)):
        mean = mean + means[k] * mw[k]
        var = var + vars_[k] * vw[k]
    # every term is >= 0; the clamp only guards against a caller's negative running_var
    rstd = torch.rsqrt(var.clamp_min(0) + eps)
    scale = weight * rstd
    shift = bias - mean * scale
    return _Mixed(scale, shift, mean, var, rstd, mean_ln, var_ln, bn_mean, bn_var)


def _mix_backward(mx: _Mixed, mean_in: Tensor, var_in: Tensor, weight: Tensor, mw: Tensor,
                  vw: Tensor, use_in: bool, use_bn: bool, bn_from_batch: bool, g_scale: Tensor,
                  g_shift: Tensor) -> tuple[Tensor, ...]:
    """Hand-written backward of :func:`_mix` (autograd on ~40 small ops costs more than the
    big-tensor passes). Returns grads of ``mean_in, var_in, weight, bias, mw, vw``."""
    n, c = mean_in.shape
    g_bias = g_shift.sum(0)
    g_mean = -g_shift * mx.scale  # ∂L/∂μ (mixed)
    g_sc = g_scale - g_shift * mx.mean  # total ∂L/∂scale
    g_weight = (g_sc * mx.rstd).sum(0)
    g_var = g_sc * weight * (-0.5) * mx.rstd.pow(3)
    g_var = g_var * (mx.var >= 0)
    g_mw: list[Tensor] = []
    g_vw: list[Tensor] = []
    d_mu = torch.zeros_like(mean_in)
    d_var = torch.zeros_like(var_in)
    k = 0
    if use_in:
        g_mw.append((g_mean * mean_in).sum())
        g_vw.append((g_var * var_in).sum())
        d_mu = d_mu + mw[0] * g_mean
        d_var = d_var + vw[0] * g_var
        k = 1
    # LN: μ_ln = mean_c μ_in ; σ²_ln = mean_c σ²_in + mean_c (μ_in − μ_ln)²
    # (∂σ²_ln/∂μ_in[c] = 2 (μ_in[c] − μ_ln) / C: the path through μ_ln sums to zero)
    gm_n = g_mean.sum(1, keepdim=True)
    gv_n = g_var.sum(1, keepdim=True)
    g_mw.append((gm_n * mx.mean_ln).sum())
    g_vw.append((gv_n * mx.var_ln).sum())
    g_ln_mu = mw[k] * gm_n
    g_ln_var = vw[k] * gv_n
    d_mu = d_mu + (g_ln_mu + 2.0 * (mean_in - mx.mean_ln) * g_ln_var) / c
    d_var = d_var + g_ln_var / c
    if use_bn:
        assert mx.mean_bn is not None and mx.var_bn is not None
        gm_c = g_mean.sum(0)
        gv_c = g_var.sum(0)
        g_mw.append((gm_c * mx.mean_bn).sum())
        g_vw.append((gv_c * mx.var_bn).sum())
        if bn_from_batch:  # BN: μ_bn = mean_n μ_in ; σ²_bn = mean_n σ²_in + mean_n (μ_in − μ_bn)²
            g_bn_var = vw[k + 1] * gv_c
            d_mu = d_mu + (mw[k + 1] * gm_c + 2.0 * (mean_in - mx.mean_bn) * g_bn_var) / n
            d_var = d_var + g_bn_var / n
    return d_mu, d_var, g_weight, g_bias, torch.stack(g_mw), torch.stack(g_vw)


def _affine_rows(x3: Tensor, center: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    """``(x3 − center) · scale + shift`` per row: x3 (Tensor[N, C, M]); the rest Tensor[N, C].

    Done by the native eval-mode batch-norm kernel on ``[1, N·C, M]`` (running mean
    ``center``, running variance 1, eps 0, so it computes exactly that): one fused pass over
    ``x``, centred before scaling (no cancellation), where ``mul`` + ``add_`` make two passes
    and an out-of-place broadcast ``addcmul`` is slower still on CPU.
    """
    n, c, m = x3.shape
    ones = scale.new_ones(n * c)
    y = F.batch_norm(x3.reshape(1, n * c, m), center.expand(n, c).reshape(-1), ones,
                     scale.expand(n, c).reshape(-1), shift.expand(n, c).reshape(-1),
                     False, 0.0, 0.0)
    return y.view(n, c, m)


def _row_sums(g3: Tensor, x3: Tensor) -> tuple[Tensor, Tensor]:
    """``(Σ_M g·x, Σ_M g)`` per row of Tensor[N, C, M] inputs, as two Tensor[N, C].

    The native batch-norm backward on ``[1, N·C, M]`` with mean 0 and inverse std 1 returns
    exactly these as its weight and bias gradients, in one fused pass without the ``N·C·M``
    product temporary of ``vecdot`` (whose allocation, above glibc's mmap threshold, costs
    page faults on every call).
    """
    n, c, m = x3.shape
    zeros, ones = x3.new_zeros(n * c), x3.new_ones(n * c)
    _, g_x, g_1 = torch.ops.aten.native_batch_norm_backward(
        g3.reshape(1, n * c, m), x3.reshape(1, n * c, m), ones, None, None, zeros, ones,
        True, 0.0, [False, True, True])
    return g_x.view(n, c), g_1.view(n, c)


class _SwitchNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, mw, vw, bn_mean, bn_var, use_in, use_bn, eps):  # type: ignore[override]
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        m = x3.shape[2]
        # two passes (mean, then the norm of the centred rows): exact, and on CPU far faster
        # than torch.var_mean's Welford kernel along a short last dim (about 35x at
        # 32x64x16x16); vector_norm reduces without the product temporary vecdot allocates
        mean_in = x3.mean(2)
        var_in = torch.linalg.vector_norm(x3 - mean_in.unsqueeze(2), dim=2).square_().div_(m)
        bn_from_batch = use_bn and bn_mean is None
        mx = _mix(mean_in, var_in, weight, bias, mw, vw, bn_mean, bn_var, use_in, use_bn, eps)
        y = _affine_rows(x3, mx.mean, mx.scale, bias)
        ctx.save_for_backward(x, mean_in, var_in, weight, mw, vw, *mx)
        ctx.flags = (use_in, use_bn, bn_from_batch)
        batch_mean = mx.mean_bn if bn_from_batch else None
        batch_var = mx.var_bn if bn_from_batch else None
        ctx.mark_non_differentiable(*[t for t in (batch_mean, batch_var) if t is not None])
        return y.view(x.shape), batch_mean, batch_var

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, _gmean, _gvar):  # type: ignore[override]
        x, mean_in, var_in, weight, mw, vw, *saved = ctx.saved_tensors
        mx = _Mixed(*saved)
        use_in, use_bn, bn_from_batch = ctx.flags
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, -1)
        g3 = gy.reshape(n, c, -1)
        m = x3.shape[2]
        # y = scale·x + shift:  ∂L/∂scale[n,c] = Σ_S g·x,  ∂L/∂shift[n,c] = Σ_S g
        g_scale, g_shift = _row_sums(g3, x3)
        g_mu, g_var, g_w, g_b, g_mw, g_vw = _mix_backward(
            mx, mean_in, var_in, weight, mw, vw, use_in, use_bn, bn_from_batch, g_scale, g_shift)
        dx = None
        if ctx.needs_input_grad[0]:
            # x also enters through (μ_in, σ²_in): ∂μ/∂x = 1/m, ∂σ²/∂x = 2 (x − μ_in)/m
            # → dx = k1·(x − μ_in) + g_μ/m + scale·g
            k1 = g_var * (2.0 / m)
            dx = _affine_rows(x3, mean_in, k1, g_mu / m)
            dx = dx.addcmul_(g3, mx.scale.unsqueeze(2)).view(x.shape)
        return dx, g_w, g_b, g_mw, g_vw, None, None, None, None, None


def switch_norm(input: Tensor, weight: Tensor, bias: Tensor, mean_weight: Tensor,
                var_weight: Tensor, running_mean: Tensor | None = None,
                running_var: Tensor | None = None, training: bool = True, momentum: float = 0.1,
                eps: float = 1e-5, using_bn: bool = True) -> Tensor:
    """Switchable Normalization of ``input`` (Luo et al. 2019; formulas in the module docstring).

    Args:
        input (Tensor[N, C, *S]): ``S`` may be empty; with a 2-D input ``[N, C]`` the IN branch
            (one value per channel) is dropped and the mix is over LN and BN.
        weight (Tensor[C]): γ. bias (Tensor[C]): β.
        mean_weight (Tensor[3]): logits of the mean mix, order (IN, LN, BN); the entries of
            dropped branches are ignored and the softmax is over the others.
        var_weight (Tensor[3]): logits of the variance mix, same order.
        running_mean (Tensor[C], optional): BN running mean, updated in place in training.
        running_var (Tensor[C], optional): BN running variance (unbiased, as PyTorch keeps it).
        training: batch statistics for BN (and update the running ones); else running ones.
        momentum: PyTorch's convention: ``running = (1 − momentum)·running + momentum·batch``.
        eps: added to the mixed variance.
        using_bn: ``False`` drops the BN branch (batch of 1, or batch-independent output).

    Returns:
        Tensor[N, C, *S]: the normalized input.
    """
    if input.dim() < 2:
        raise ValueError(f"input must have shape [N, C, *], got shape {tuple(input.shape)}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    use_in = input.dim() > 2
    if not use_in and not using_bn:
        raise ValueError("using_bn must be True for 2-D input [N, C]: LN would be the only branch"
                         f" left (use LayerNorm), got using_bn={using_bn}")
    lo, hi = (0 if use_in else 1), (3 if using_bn else 2)  # the branches in use are contiguous
    mw = torch.softmax(mean_weight[lo:hi], 0)
    vw = torch.softmax(var_weight[lo:hi], 0)
    use_running = using_bn and not training and running_mean is not None and running_var is not None
    bn_mean = running_mean if use_running else None
    bn_var = running_var if use_running else None
    y, batch_mean, batch_var = _SwitchNormFunction.apply(
        input, weight, bias, mw, vw, bn_mean, bn_var, use_in, using_bn, eps)
    if training and using_bn and running_mean is not None and running_var is not None:
        count = input.numel() // input.shape[1]
        with torch.no_grad():
            running_mean.lerp_(batch_mean, momentum)
            unbiased = batch_var * (count / max(count - 1, 1))
            running_var.lerp_(unbiased, momentum)
    return y


class _SwitchNorm(nn.Module):
    """Common body of :class:`SwitchNorm1d` and :class:`SwitchNorm2d`."""

    _ndims: tuple[int, ...] = ()

    def __init__(self, num_channels: int, eps: float = 1e-5, momentum: float = 0.1,
                 using_bn: bool = True, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if num_channels < 1:
            raise ValueError(f"num_channels must be >= 1, got {num_channels}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        kw = {"device": device, "dtype": dtype}
        self.num_channels = num_channels
        self.eps = eps
        self.momentum = momentum
        self.using_bn = using_bn
        self.weight = nn.Parameter(torch.ones(num_channels, **kw))
        self.bias = nn.Parameter(torch.zeros(num_channels, **kw))
        self.mean_weight = nn.Parameter(torch.ones(3, **kw))
        self.var_weight = nn.Parameter(torch.ones(3, **kw))
        if using_bn:
            self.register_buffer("running_mean", torch.zeros(num_channels, **kw))
            self.register_buffer("running_var", torch.ones(num_channels, **kw))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    @property
    def num_features(self) -> int:
        """Alias of ``num_channels`` (PyTorch's BatchNorm name)."""
        return self.num_channels

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1."""
        if self.running_mean is not None and self.running_var is not None:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)

    def reset_parameters(self) -> None:
        """γ = 1, β = 0, equal mixing weights, fresh running statistics."""
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()
            self.mean_weight.fill_(1.0)
            self.var_weight.fill_(1.0)
        self.reset_running_stats()

    def mixing_weights(self) -> dict[str, dict[str, float]]:
        """The current softmax mix, e.g. ``{"mean": {"in": .33, "ln": .33, "bn": .33}, ...}``
        (for 4-D/3-D input; BN omitted when ``using_bn`` is False)."""
        keep = [i for i in range(3) if self.using_bn or i < 2]
        out = {}
        for key, logits in (("mean", self.mean_weight), ("var", self.var_weight)):
            p = torch.softmax(logits.detach()[keep], 0).tolist()
            out[key] = {BRANCHES[i]: v for i, v in zip(keep, p, strict=True)}
        return out

    def forward(self, input: Tensor) -> Tensor:
        """input (Tensor[N, C, *S]) → Tensor of the same shape."""
        if input.dim() not in self._ndims:
            raise ValueError(f"input must have {' or '.join(map(str, self._ndims))} dims for "
                             f"{type(self).__name__}, got shape {tuple(input.shape)}")
        if input.shape[1] != self.num_channels:
            raise ValueError(f"input.shape[1] must be num_channels={self.num_channels}, "
                             f"got {input.shape[1]}")
        return switch_norm(input, self.weight, self.bias, self.mean_weight, self.var_weight,
                           self.running_mean, self.running_var, self.training, self.momentum,
                           self.eps, self.using_bn)

    def extra_repr(self) -> str:
        return (f"{self.num_channels}, eps={self.eps}, momentum={self.momentum}, "
                f"using_bn={self.using_bn}")


class SwitchNorm1d(_SwitchNorm):
    """Switchable Normalization for ``[N, C]`` (mix of LN and BN) or ``[N, C, L]`` inputs.

    See :func:`switch_norm` for the maths.

    Args:
        num_channels: C.
        eps: added to the mixed variance.
        momentum: running-statistics momentum, PyTorch's convention (default 0.1).
        using_bn: ``False`` drops the BN branch (and the running statistics).
    """

    _ndims = (2, 3)


class SwitchNorm2d(_SwitchNorm):
    """Switchable Normalization for ``[N, C, H, W]`` inputs: a learned mix of IN, LN and BN.

    See :func:`switch_norm` for the maths; args as :class:`SwitchNorm1d`.
    """

    _ndims = (4,)
