"""Integrations of the doctor with training frameworks.

Each integration lives in its own module and imports its framework only when that module is
imported, so ``import torchdoctor.integrations`` never pulls in a heavy dependency:

- :mod:`torchdoctor.integrations.lightning`: ``DoctorCallback``, a Lightning ``Callback``
  (extra ``pip install "torchdoctor[lightning]"``).
"""

from __future__ import annotations

__all__: list[str] = []
