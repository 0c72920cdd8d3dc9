"""The faulty-config benchmark's inputs: every YAML loads, its header is complete, the
healthy reference loads, and the set covers the config-reachable symptoms (no training here).

The header is parsed twice: by a regex written in this test and by the benchmark's own
``read_case``; the two must agree.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest

import torchdoctor as td
from torchdoctor.findings import SYMPTOM_CODES
from torchdoctor.repair import config_diff

ROOT = Path(__file__).resolve().parents[1]
FAULTY = ROOT / "benchmarks" / "faulty"
FILES = sorted(FAULTY.glob("*.yaml"))
IDS = [p.stem for p in FILES]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_repair", ROOT / "benchmarks" / "bench_repair.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_repair"] = mod
    spec.loader.exec_module(mod)
    return mod


def _header(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            continue
        key, sep, value = line[1:].partition(":")
        if sep and key.strip() in ("healthy", "healthy-overrides", "fault", "expect"):
            out.setdefault(key.strip(), value.strip())
    return out


def _healthy(path: Path):
    h = _header(path)
    return td.load_config(ROOT / h["healthy"], h.get("healthy-overrides", "").split())


def test_enough_configs() -> None:
    assert len(FILES) >= 60, f"the benchmark needs at least 60 faulty configs, found {len(FILES)}"


def test_heldout_half_is_fixed_by_the_file_name_hash() -> None:
    bench = _bench()
    heldout = [p for p in FILES if int(hashlib.sha256(p.name.encode()).hexdigest(), 16) % 2 == 1]
    assert [p for p in FILES if bench.is_heldout(p)] == heldout
    assert [bench.half_of(p) for p in FILES] == ["heldout" if p in heldout else "dev" for p in FILES]
    # both halves are big enough to measure a success rate on
    assert len(heldout) >= 25 and len(FILES) - len(heldout) >= 25


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_header_fields_present(path: Path) -> None:
    h = _header(path)
    assert re.fullmatch(r"configs/\w+\.yaml", h.get("healthy", "")), h
    assert (ROOT / h["healthy"]).is_file()
    assert len(h.get("fault", "")) >= 10
    codes = [c.strip() for c in h.get("expect", "").split(",") if c.strip()]
    assert codes, "expect: needs at least one symptom code"
    unknown = set(codes) - set(SYMPTOM_CODES)
    assert not unknown, f"unknown symptom codes {unknown}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_faulty_and_healthy_load(path: Path) -> None:
    faulty = td.load_config(path)
    healthy = _healthy(path)
    # both describe the same data and task; the faulty one differs in one or two faults
    assert faulty.data.name == healthy.data.name
    assert faulty.train.task == healthy.train.task
    diff = config_diff(healthy, faulty)
    assert 1 <= len(diff) <= 4, f"fault should touch 1-4 keys, touches {sorted(diff)}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_fast_enough_by_construction(path: Path) -> None:
    """Bounded size so a full training stays within seconds on one core."""
    cfg = td.load_config(path)
    assert cfg.train.epochs <= 60
    assert cfg.model.width * cfg.model.depth <= 1024
    steps_per_epoch_upper = 1800 // cfg.train.batch_size + 1 if cfg.data.name == "digits" else None
    if steps_per_epoch_upper is not None:
        assert cfg.train.epochs * steps_per_epoch_upper <= 2000


def test_coverage() -> None:
    cfgs = [td.load_config(p) for p in FILES]
    assert len({c.data.name for c in cfgs}) >= 3
    assert {c.model.arch for c in cfgs} >= {"mlp", "cnn", "resnet"}
    expected = {c for p in FILES for c in _header(p)["expect"].replace(" ", "").split(",")}
    # the config-reachable training symptoms each have a faulty config
    reachable = {
        "nonfinite", "exploding_gradient", "vanishing_gradient", "dead_relu",
        "saturated_activation", "activation_collapse", "symmetric_weights", "unnormalized_input",
        "wrong_output_activation", "wrong_loss", "loss_plateau", "loss_oscillating",
        "small_batch_norm", "train_mode_in_eval", "missing_zero_grad", "overfitting",
        "underfitting", "class_imbalance", "unshuffled_data",
    }
    assert reachable - expected == set()
    # the common ones several times
    counts = {c: sum(c in _header(p)["expect"] for p in FILES) for c in reachable}
    for code in ("unnormalized_input", "underfitting", "loss_plateau", "unshuffled_data",
                 "missing_zero_grad", "wrong_output_activation", "class_imbalance"):
        assert counts[code] >= 2, (code, counts[code])


def test_bench_reader_agrees() -> None:
    bench = _bench()
    cases = bench.all_cases(FAULTY)
    assert [c.name for c in cases] == IDS
    for case, path in zip(cases, FILES, strict=True):
        h = _header(path)
        assert case.healthy == ROOT / h["healthy"]
        assert case.fault == h["fault"]
        assert case.healthy_overrides == h.get("healthy-overrides", "").split()
        faulty, healthy = case.load()
        assert faulty == td.load_config(path)
        assert healthy == _healthy(path)


def test_bench_reader_rejects_missing_header(tmp_path: Path) -> None:
    bench = _bench()
    p = tmp_path / "broken.yaml"
    p.write_text("# healthy: configs/digits.yaml\n# fault: something wrong here\nseed: 0\n")
    with pytest.raises(ValueError, match="expect"):
        bench.read_case(p)


def test_bench_success_rule() -> None:
    """Within 2 points of the healthy reference counts, 2.5 points below does not."""
    bench = _bench()
    rows = [
        {"name": "a", "success": True, "time_ratio": 1.0, "cpu_ratio": 1.0, "expect": ["x"],
         "expected_found": ["x"]},
        {"name": "b", "success": False, "time_ratio": 3.0, "cpu_ratio": 2.0, "expect": ["y"],
         "expected_found": []},
    ]
    s = bench.summary(rows)
    assert s["success_rate"] == 0.5
    assert s["mean_time_ratio"] == 2.0 and s["max_time_ratio"] == 3.0
    assert s["failed"] == ["b"]
    assert s["expected_findings_hit"] == "1/2"
    assert bench.is_success(0.965, 0.985, regression=False)
    assert not bench.is_success(0.96, 0.985, regression=False)
    assert bench.is_success(3.3, 3.2, regression=True)
    assert not bench.is_success(3.5, 3.2, regression=True)
    rows[0]["half"], rows[1]["half"] = "dev", "heldout"
    by_half = bench.halves(rows)
    assert (by_half["dev"]["repaired"], by_half["heldout"]["repaired"]) == (1, 0)
    assert "repaired 0/1" in bench.summary_line("held-out", by_half["heldout"])
