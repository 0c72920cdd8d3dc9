"""Optimizers and learning-rate tools.

- :func:`make_optimizer`: one factory for ``gd, sgd, sgdm, adagrad, adadelta, rmsprop, adam,
  adamw, lars`` (the config's ``train.optimizer``).
- :class:`LARS`: layer-wise adaptive rate scaling (You et al. 2017), ``torch._foreach_*`` step.
- :func:`lr_range_test` and :func:`plot_lr_range`: the exponential learning-rate sweep and the
  usual advice (the largest rate that does not diverge, then about ten times lower).
"""

from torchdoctor.optim._factory import OPTIMIZERS, USUAL_LR, make_optimizer
from torchdoctor.optim._lars import LARS
from torchdoctor.optim._lr_range import LRRangeResult, lr_range_test, plot_lr_range

__all__ = ["LARS", "LRRangeResult", "OPTIMIZERS", "USUAL_LR", "lr_range_test", "make_optimizer", "plot_lr_range"]
