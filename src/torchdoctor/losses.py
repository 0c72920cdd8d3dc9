"""Losses PyTorch lacks: focal, distillation and GAN critic penalties.

- :func:`sigmoid_focal_loss`: the focal loss (Lin et al. 2017)
  ``FL = −α (1−p)^γ log p`` if ``y = 1``, ``−(1−α) p^γ log(1−p)`` if ``y = 0``,
  with torchvision's semantics (``alpha < 0`` disables the α weighting).
- :func:`softmax_focal_loss`: the multi-class form ``−α_y (1 − p_y)^γ log p_y``.
- :func:`distillation_loss`: Hinton et al.'s knowledge distillation,
  ``α·CE(student, y) + (1−α)·T²·KL(softmax(teacher/T) ‖ softmax(student/T))``.
- :func:`gradient_penalty` (WGAN-GP, Gulrajani et al. 2017) and :func:`r1_penalty`
  (Mescheder et al. 2018): GAN critic regularisers.

Cross-entropy, label-smoothing cross-entropy, MSE and BCE are PyTorch's own
(``F.cross_entropy(..., label_smoothing=...)``) and are not wrapped here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "distillation_loss",
    "gradient_penalty",
    "r1_penalty",
    "sigmoid_focal_loss",
    "softmax_focal_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    return loss.sum()


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")


def _check_gamma(gamma: float) -> None:
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")


def sigmoid_focal_loss(
    inputs: Tensor,
    targets: Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> Tensor:
    """Binary focal loss on logits (Lin et al. 2017), torchvision's semantics.

    ``loss = α_t (1 − p_t)^γ · BCE(inputs, targets)`` with ``p = σ(inputs)``,
    ``p_t = p y + (1 − p)(1 − y)`` and ``α_t = α y + (1 − α)(1 − y)``. With ``γ = 0`` and
    ``α < 0`` it is ``F.binary_cross_entropy_with_logits``.

    Args:
        inputs (Tensor[*]): logits, any shape.
        targets (Tensor[*]): same shape, values in [0, 1] (0/1 labels or soft labels).
        alpha: weight of the positive class in [0, 1]; a negative value disables the
            weighting (torchvision's convention). Default 0.25.
        gamma: focusing exponent (>= 0); default 2.
        reduction: ``"none"`` (default, as torchvision), ``"mean"`` or ``"sum"``.

    Returns:
        Tensor[*] for ``"none"``, else a scalar.

    Raises:
        ValueError: bad ``gamma``, ``alpha > 1``, ``reduction`` or mismatched shapes.
    """
    _check_gamma(gamma)
    _check_reduction(reduction)
    if alpha > 1:
        raise ValueError(f"alpha must be <= 1 (negative disables it), got {alpha}")
    if inputs.shape != targets.shape:
        raise ValueError(
            f"targets must have the shape of inputs {tuple(inputs.shape)}, got {tuple(targets.shape)}"
        )
    targets = targets.to(inputs.dtype)
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma if gamma != 0 else ce
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def softmax_focal_loss(
    logits: Tensor,
    targets: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class focal loss on logits: ``−α_y (1 − p_y)^γ log p_y``.

    With ``γ = 0`` and no ``alpha`` it equals ``F.cross_entropy(logits, targets)``.

    Args:
        logits (Tensor[N, C]): unnormalised class scores.
        targets (Tensor[N]): class indices (long) in ``[0, C)``.
        gamma: focusing exponent (>= 0); default 2.
        alpha: ``None`` (no weighting), a float ``α`` multiplying every term, or a
            Tensor[C] of per-class weights ``α_c`` (e.g. inverse class frequencies).
        reduction: ``"none"`` (Tensor[N]), ``"mean"`` (default: plain mean over the N
            samples, not normalised by the weights) or ``"sum"``.

    Returns:
        Tensor[N] for ``"none"``, else a scalar.

    Raises:
        ValueError: bad ``gamma``, ``reduction``, shapes, target dtype or ``alpha`` shape.
    """
    _check_gamma(gamma)
    _check_reduction(reduction)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape [N, C], got {tuple(logits.shape)}")
    if targets.shape != logits.shape[:1]:
        raise ValueError(f"targets must have shape [N] = [{logits.shape[0]}], got {tuple(targets.shape)}")
    if targets.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"targets must hold integer class indices, got dtype {targets.dtype}")
    targets = targets.long()
    log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
    loss = -log_p
    if gamma != 0:
        loss = (1 - log_p.exp()) ** gamma * loss
    if isinstance(alpha, Tensor):
        if alpha.shape != logits.shape[1:]:
            raise ValueError(f"alpha must be a float or a Tensor[C] with C = {logits.shape[1]}, "
                             f"got shape {tuple(alpha.shape)}")
        loss = alpha.to(loss)[targets] * loss
    elif alpha is not None:
        loss = float(alpha) * loss
    return _reduce(loss, reduction)


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    targets: Tensor,
    T: float = 4.0,
    alpha: float = 0.5,
) -> Tensor:
    """Knowledge distillation (Hinton et al. 2015).

    ``α · CE(student, targets) + (1 − α) · T² · KL(softmax(teacher/T) ‖ softmax(student/T))``
    with the KL averaged over the batch (``reduction="batchmean"``, the true KL per sample).
    The ``T²`` keeps the soft term's gradient scale independent of ``T``. The teacher's
    logits are detached: no gradient flows into the teacher.

    Args:
        student_logits (Tensor[N, C]): the student's logits.
        teacher_logits (Tensor[N, C]): the teacher's logits.
        targets (Tensor[N]): hard labels (class indices).
        T: softmax temperature (> 0); default 4.
        alpha: weight of the hard-label cross-entropy in [0, 1]; default 0.5.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: ``T <= 0``, ``alpha`` outside [0, 1], or mismatched logit shapes.
    """
    if not T > 0:
        raise ValueError(f"T must be > 0, got {T}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if student_logits.shape != teacher_logits.shape or student_logits.ndim != 2:
        raise ValueError(
            "student_logits and teacher_logits must both have shape [N, C], got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    hard = F.cross_entropy(student_logits, targets)
    soft = F.kl_div(
        F.log_softmax(student_logits / T, dim=1),
        F.log_softmax(teacher_logits.detach() / T, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return alpha * hard + (1 - alpha) * T * T * soft


def _input_gradient(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(len(x), -1)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    lambda_gp: float = 10.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP gradient penalty (Gulrajani et al. 2017): ``λ E[(‖∇D(x̂)‖₂ − 1)²]``.

    ``x̂ = ε x_real + (1 − ε) x_fake`` with one ``ε ~ U[0, 1]`` per sample. The graph is kept
    (``create_graph=True``) so the penalty can be back-propagated into the critic.

    Args:
        critic: the critic (discriminator) ``D``; maps Tensor[N, *] to Tensor[N] or
            Tensor[N, 1] (any shape: its sum is differentiated).
        real (Tensor[N, *]): real samples.
        fake (Tensor[N, *]): generated samples (detached inside).
        lambda_gp: penalty weight λ (>= 0); default 10 as in the paper.
        generator: optional random generator for ε (reproducibility).

    Returns:
        Scalar tensor.

    Raises:
        ValueError: ``lambda_gp < 0`` or ``real`` and ``fake`` of different shapes.
    """
    if not lambda_gp >= 0:
        raise ValueError(f"lambda_gp must be >= 0, got {lambda_gp}")
    if real.shape != fake.shape:
        raise ValueError(f"fake must have the shape of real {tuple(real.shape)}, got {tuple(fake.shape)}")
    eps_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
    eps = torch.rand(eps_shape, generator=generator, dtype=real.dtype, device=real.device)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    grad = _input_gradient(critic, x_hat)
    return lambda_gp * ((grad.norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, *, gamma: float = 10.0) -> Tensor:
    """R1 regulariser (Mescheder et al. 2018): ``γ/2 · E[‖∇D(x_real)‖₂²]``.

    Args:
        critic: the discriminator ``D``; maps Tensor[N, *] to Tensor[N] or Tensor[N, 1].
        real (Tensor[N, *]): real samples.
        gamma: weight γ (>= 0); default 10.

    Returns:
        Scalar tensor (graph kept, so it can be back-propagated into the critic).

    Raises:
        ValueError: ``gamma < 0``.
    """
    _check_gamma(gamma)
    grad = _input_gradient(critic, real)
    return 0.5 * gamma * grad.pow(2).sum(dim=1).mean()
