"""The bug gallery: every buggy example is diagnosed with its EXPECTED codes, healthy ones stay quiet.

Each script in ``examples/buggy/`` and ``examples/healthy/`` is imported from its file and its
``main()`` run in-process (the same code ``python examples/.../x.py`` runs). The reference is
the script's own ``EXPECTED`` set, written from the bug (the cause), not from the doctor's output.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from torchdoctor.findings import SEVERITY_RANK, SYMPTOM_CODES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BUGGY = sorted((EXAMPLES / "buggy").glob("*.py"))
HEALTHY = sorted((EXAMPLES / "healthy").glob("*.py"))



@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: one intra-op thread is faster, and far faster on a shared, busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


#: Codes a script expects that the doctor does not find yet: (script, code) -> what it misses.
#: Each entry is a doctor gap, reported to its owner; the script stays as it is. The test
#: xfails while the gap is open and fails as soon as the code is found (remove the entry then).
KNOWN_MISSES: dict[tuple[str, str], str] = {}


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"gallery_{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _serious(findings: list) -> list:
    return [f for f in findings if SEVERITY_RANK[f.severity] >= SEVERITY_RANK["warning"]]


def _describe(findings: list) -> str:
    return "; ".join(f"{f.severity}:{f.code}@{f.layer}" for f in findings) or "nothing"


def test_known_misses_name_real_scripts() -> None:
    stems = {p.stem: _load(p).EXPECTED for p in BUGGY}
    for stem, code in KNOWN_MISSES:
        assert code in stems.get(stem, set()), (stem, code)


def test_gallery_size() -> None:
    assert len(BUGGY) >= 15, [p.name for p in BUGGY]
    assert len(HEALTHY) >= 5, [p.name for p in HEALTHY]


@pytest.mark.parametrize("path", BUGGY + HEALTHY, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_script_is_well_formed(path: Path) -> None:
    """Static contract: EXPECTED uses known codes, a marked bug, an entry point, short file."""
    text = path.read_text()
    module = _load(path)
    assert callable(module.main)
    assert isinstance(module.EXPECTED, set)
    assert module.EXPECTED <= set(SYMPTOM_CODES), module.EXPECTED - set(SYMPTOM_CODES)
    assert 'if __name__ == "__main__":' in text
    assert len(text.splitlines()) <= 85
    if path.parent.name == "buggy":
        assert module.EXPECTED, "a buggy script must expect at least one code"
        assert "# BUG:" in text
    else:
        assert module.EXPECTED == set()
        assert "BUG" not in text


@pytest.mark.parametrize("path", BUGGY, ids=lambda p: p.stem)
def test_buggy_script_is_diagnosed(path: Path) -> None:
    module = _load(path)
    doctor = module.main()
    findings = list(doctor.findings)
    found = {f.code for f in _serious(findings)}
    missing = module.EXPECTED - found
    known = {code for (stem, code) in KNOWN_MISSES if stem == path.stem}
    unexpected = missing - known
    assert not unexpected, (
        f"{path.name}: missing {sorted(unexpected)}; doctor reported {_describe(findings)}"
    )
    fixed = known - missing
    assert not fixed, f"{path.name}: the doctor now finds {sorted(fixed)}: remove it from KNOWN_MISSES"
    if missing:
        pytest.xfail("; ".join(KNOWN_MISSES[(path.stem, c)] for c in sorted(missing)))


@pytest.mark.parametrize("path", HEALTHY, ids=lambda p: p.stem)
def test_healthy_script_is_quiet(path: Path) -> None:
    module = _load(path)
    findings = list(module.main().findings)
    assert not _serious(findings), f"{path.name}: false alarm(s): {_describe(_serious(findings))}"


def test_script_runs_as_a_program() -> None:
    """``python examples/buggy/x.py`` prints the findings, the intended code among them."""
    path = EXAMPLES / "buggy" / "softmax_before_cross_entropy.py"
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "wrong_output_activation" in result.stdout
