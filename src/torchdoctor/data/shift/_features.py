"""Optional feature maps for the shift tools: a callable or a torch model applied to the inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def apply_features(x: Any, features: Callable[..., Any] | None, batch_size: int = 512) -> Any:
    """``features(x)`` as a NumPy array (N, F), or ``x`` unchanged when ``features`` is None.

    Args:
        x (array[N, ...]): inputs.
        features: a ``torch.nn.Module`` (run in eval mode, without gradients, in batches of
            ``batch_size`` on float32 tensors; its output is flattened per sample), or any callable
            mapping an array (N, ...) to an array (N, F).
    """
    if features is None:
        return x
    if not callable(features):
        raise ValueError(f"features must be callable or a torch.nn.Module, got {type(features).__name__}")
    import torch

    if isinstance(features, torch.nn.Module):
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
        was_training = features.training
        features.eval()
        try:
            with torch.no_grad():
                out = [features(xt[i : i + batch_size]).reshape(min(batch_size, xt.shape[0] - i), -1)
                       for i in range(0, xt.shape[0], batch_size)]
        finally:
            features.train(was_training)
        return torch.cat(out).double().numpy()
    out = features(x)
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    out = np.asarray(out, dtype=np.float64)
    return out.reshape(out.shape[0], -1)
