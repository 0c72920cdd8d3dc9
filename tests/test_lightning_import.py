"""The Lightning integration is optional: without Lightning its import names the pip extra."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


def test_missing_lightning_gives_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes ``import name`` raise ImportError: Lightning "absent".
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "torchdoctor.integrations.lightning", raising=False)
    with pytest.raises(ImportError, match=r'pip install "torchdoctor\[lightning\]"'):
        importlib.import_module("torchdoctor.integrations.lightning")
    monkeypatch.delitem(sys.modules, "torchdoctor.integrations.lightning", raising=False)


def test_integrations_package_does_not_import_lightning() -> None:
    code = (
        "import sys, torchdoctor.integrations; "
        "print(any(m.split('.')[0] in ('lightning', 'pytorch_lightning') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
