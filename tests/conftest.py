"""Shared test helpers: fast configs and the CLI runner."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
TORCHDOCTOR = Path(sys.executable).with_name("torchdoctor")


# Tiny models run many times faster on one thread than on two contending ones.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_threads() -> None:
    torch.manual_seed(0)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``torchdoctor`` console script; returns the completed process."""
    full_env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([str(TORCHDOCTOR), *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env=full_env)


@functools.cache
def quick_lab_result(name: str) -> Any:
    """``td.lab.run(name, quick=True)``, once per test session (the generic lab tests, the
    per-experiment tests and the browser test share the seeded, deterministic results)."""
    import torchdoctor as td

    return td.lab.run(name, quick=True)
