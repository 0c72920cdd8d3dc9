"""Integrations of the doctor with training loops, side by side.

Each integration lives in its own module and imports its framework only when that module is
imported, so ``import torchdoctor.integrations`` never pulls in a heavy dependency:

- :mod:`torchdoctor.integrations.trainer`: ``DoctorCallback``, a
  :class:`torchdoctor.train.Callback` for the config-driven trainer.
- :mod:`torchdoctor.integrations.lightning`: ``DoctorCallback``, a Lightning ``Callback``
  (extra ``pip install "torchdoctor[lightning]"``).

One vocabulary: Lightning's hook names. The trainer fires a subset of them
(:data:`torchdoctor.train.HOOKS`) and the Doctor's own event methods carry Lightning names too:

===================================  =============================  ==============================
event                                trainer's ``DoctorCallback``   Lightning's ``DoctorCallback``
===================================  =============================  ==============================
``on_after_backward``                ``Doctor.step`` (the batch)    ``Doctor.on_after_backward``
``on_train_batch_end``               (in ``step``)                  ``Doctor.on_train_batch_end``
``on_validation_end``                ``Doctor.observe(metrics)``    ``Doctor.on_validation_epoch_end``
===================================  =============================  ==============================

A plain PyTorch loop needs no integration: call ``Doctor.step`` and ``Doctor.observe``.
"""

from __future__ import annotations

__all__: list[str] = []
