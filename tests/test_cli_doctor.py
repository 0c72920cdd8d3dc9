"""`diagnose`, `checkup`, `repair`, `report` and `demo` through a real subprocess."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

SIGMOID_DEEP = ["--set", "model.depth=8", "--set", "model.activation=sigmoid", "--set", "model.init=normal",
                "--set", "model.init_std=0.01", "--set", "model.width=32"]
FINDING_KEYS = {"code", "severity", "message", "layer", "step", "evidence", "remedies"}


def _json(r) -> dict:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # stdout is exactly one JSON document


def test_diagnose_json_finds_vanishing_gradient() -> None:
    doc = _json(run_cli("diagnose", "configs/digits.yaml", "--json", "--epochs", "4", *SIGMOID_DEEP))
    assert set(doc) == {"findings", "metrics"}
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(doc["metrics"])
    codes = {f["code"]: f for f in doc["findings"]}
    assert "vanishing_gradient" in codes and codes["vanishing_gradient"]["severity"] == "error"
    for f in doc["findings"]:
        assert set(f) == FINDING_KEYS
        for r in f["remedies"]:
            assert {"code", "description", "patch"} <= set(r)
    assert any(r["patch"] for r in codes["vanishing_gradient"]["remedies"])


def test_diagnose_healthy_config_is_silent() -> None:
    doc = _json(run_cli("diagnose", "configs/digits.yaml", "--json", "--epochs", "6"))
    loud = [f["code"] for f in doc["findings"] if f["severity"] in ("error", "warning")]
    assert loud == []
    # 6 epochs of configs/digits.yaml, seeds 0-4: val_accuracy 0.964-0.978 (margin >= 0.06)
    assert doc["metrics"]["val_accuracy"] > 0.9


def test_diagnose_bad_input_exit_2() -> None:
    r = run_cli("diagnose", "configs/digits.yaml", "--json", "--set", "train.optimizer=sgdx")
    assert r.returncode == 2 and r.stdout == "" and "train.optimizer = 'sgdx'" in r.stderr


def test_checkup_json_shape_and_findings() -> None:
    doc = _json(run_cli("checkup", "configs/digits.yaml", "--json", "--set", "data.imbalance=12",
                        "--set", "target.shift=label", "--set", "target.alpha=0.1"))
    assert set(doc) == {"findings", "stats"}
    codes = {f["code"] for f in doc["findings"]}
    assert {"class_imbalance", "label_shift"} <= codes
    assert doc["stats"]["target"]["size"] == 300


def test_checkup_user_target_file(tmp_path) -> None:
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images[:200, None].astype(np.float32) + np.random.default_rng(0).normal(0, 4, (200, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "t.npz", x=x, y=d.target[:200])
    doc = _json(run_cli("checkup", "configs/digits.yaml", "--json", "--target", f"npz:{tmp_path / 't.npz'}"))
    assert "covariate_shift" in {f["code"] for f in doc["findings"]}
    assert doc["stats"]["target"]["source"].startswith("npz:")
    bad = run_cli("checkup", "configs/digits.yaml", "--target", f"npz:{tmp_path / 'none.npz'}")
    assert bad.returncode == 2 and "file does not exist" in bad.stderr


def test_repair_json_end_to_end(tmp_path) -> None:
    out = tmp_path / "rep"
    doc = _json(run_cli("repair", "configs/digits.yaml", "--json", "--rounds", "1", "--out", str(out),
                        "--set", "train.epochs=8", *SIGMOID_DEEP))
    assert {"before", "after", "applied", "config", "rounds"} <= set(doc)
    assert "vanishing_gradient" in doc["before"]["findings"]
    # seeds 0-4 of this config through the same repair: before 0.100 every time (chance),
    # after 0.777-0.933; the bounds leave >= 0.1 on either side (the old bound 0.85 sat inside
    # that range and failed on another CPU at 0.8496)
    assert doc["after"]["metrics"]["val_accuracy"] > 0.65
    assert doc["before"]["metrics"]["val_accuracy"] < 0.2
    assert doc["applied"] and doc["rounds"] == 1
    assert doc["config"]["model"]["activation"] != "sigmoid" or doc["config"]["model"]["norm"] != "none"
    assert (out / "report.html").is_file() and (out / "repair.json").is_file()
    html = (out / "report.html").read_text()
    assert "Before and after" in html and "<script" not in html


def test_train_with_doctor_writes_logs_and_report_rebuilds(tmp_path) -> None:
    out = tmp_path / "run"
    r = run_cli("train", "configs/digits.yaml", "--out", str(out), "--quiet", "--set", "train.epochs=3")
    assert r.returncode == 0, r.stderr
    for name in ("config.yaml", "metrics.jsonl", "vitals.jsonl", "findings.json", "report.html", "checkpoint.pt"):
        assert (out / name).is_file(), name
    (out / "report.html").unlink()
    r = run_cli("report", str(out))
    assert r.returncode == 0 and (out / "report.html").is_file()
    bad = run_cli("report", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_demo_trains_healthy_and_broken(tmp_path) -> None:
    r = run_cli("demo", "--out", str(tmp_path), "--quiet")
    assert r.returncode == 0, r.stderr
    healthy = [json.loads(x) for x in (tmp_path / "healthy" / "metrics.jsonl").read_text().splitlines()]
    # configs/digits.yaml, seeds 0-4: val_accuracy 0.972-0.992 (margin >= 0.02)
    assert healthy[-1]["val_accuracy"] >= 0.95
    broken = json.loads((tmp_path / "broken" / "findings.json").read_text())
    assert any(f["severity"] == "error" for f in broken)
    assert (tmp_path / "healthy" / "report.html").is_file() and (tmp_path / "broken" / "report.html").is_file()
