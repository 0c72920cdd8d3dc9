"""Integrations of the doctor with training loops, side by side.

Each integration lives in its own module and imports its framework only when that module is
imported, so ``import torchdoctor.integrations`` never pulls in a heavy dependency:

- :mod:`torchdoctor.integrations.trainer`: ``DoctorCallback``, a
  :class:`torchdoctor.train.Callback` for the config-driven trainer.
- :mod:`torchdoctor.integrations.lightning`: ``DoctorCallback``, a Lightning ``Callback``
  (extra ``pip install "torchdoctor[lightning]"``).

Both use Lightning's hook names (:data:`torchdoctor.train.HOOKS` is the trainer's subset).
A plain PyTorch loop needs no integration: call ``Doctor.step`` and ``Doctor.observe``.
"""

from __future__ import annotations

__all__: list[str] = []
