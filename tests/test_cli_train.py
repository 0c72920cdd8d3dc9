"""`torchdoctor train` through a real subprocess: run directory, --set, errors, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import torch
import yaml

from conftest import TORCHDOCTOR, run_cli

FAST = ["--set", "model.depth=2", "--set", "model.width=32"]


def _metrics(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_train_writes_run_directory_and_set_is_typed(tmp_path) -> None:
    out = tmp_path / "run"
    r = run_cli("train", "configs/digits.yaml", "--out", str(out), "--quiet", "--no-doctor",
                "--set", "train.epochs=3", "--set", "train.lr=1e-2", "--set", "train.grad_clip=null",
                "--set", "data.shuffle=true", *FAST)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["train"]["epochs"] == 3 and cfg["train"]["lr"] == 0.01 and isinstance(cfg["train"]["lr"], float)
    assert cfg["train"]["grad_clip"] is None and cfg["data"]["shuffle"] is True
    assert cfg["model"]["width"] == 32 and cfg["target"]["shift"] == "none"  # fully resolved
    rows = _metrics(out)
    assert [row["epoch"] for row in rows] == [0, 1, 2]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 3 and "model" in state and "optimizer" in state


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "train.lr=-1"], "error: train.lr = -1: must be > 0"),
    (["--set", "model.activation=swish"], "error: model.activation = 'swish': not allowed; allowed: relu"),
    (["--set", "data.val_fraction=2"], "error: data.val_fraction = 2: must be < 1"),
    (["--set", "nokey"], "error: --set 'nokey': expected KEY=VALUE"),
])
def test_bad_input_exits_2_with_one_line(args: list[str], message: str, tmp_path) -> None:
    r = run_cli("train", "configs/digits.yaml", "--out", str(tmp_path / "x"), *args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [lines[0]] and lines[0].startswith(message), r.stderr
    assert "Traceback" not in r.stderr


def test_missing_config_file_exits_2(tmp_path) -> None:
    r = run_cli("train", str(tmp_path / "none.yaml"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def _kill_after(out, args: list[str], min_lines: int) -> None:
    """Start a training, SIGKILL it once ``min_lines`` epochs are on disk."""
    proc = subprocess.Popen([str(TORCHDOCTOR), "train", *args, "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= min_lines:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("doctor", [False, True])
def test_kill_and_resume_equals_uninterrupted_run(tmp_path, doctor: bool) -> None:
    common = ["configs/digits.yaml", "--set", "train.epochs=25", "--set", "model.dropout=0.2",
              "--set", "model.norm=batch", *FAST] + ([] if doctor else ["--no-doctor"])
    full = tmp_path / "full"
    r = run_cli("train", *common, "--out", str(full), "--quiet")
    assert r.returncode == 0, r.stderr
    killed = tmp_path / "killed"
    _kill_after(killed, common, min_lines=3)
    n_before = len(_metrics(killed))
    assert 3 <= n_before < 25, "the kill must land mid-run for this test to mean anything"
    r = run_cli("train", "--resume", str(killed), "--quiet", *([] if doctor else ["--no-doctor"]))
    assert r.returncode == 0, r.stderr
    a, b = _metrics(full), _metrics(killed)
    assert len(b) == 25
    for ra, rb in zip(a, b, strict=True):
        ra.pop("time_s"), rb.pop("time_s")
        assert ra == rb
    sa = torch.load(full / "checkpoint.pt", weights_only=True)["model"]
    sb = torch.load(killed / "checkpoint.pt", weights_only=True)["model"]
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_resume_errors(tmp_path) -> None:
    r = run_cli("train", "--resume", str(tmp_path))
    assert r.returncode == 2 and "no config.yaml there" in r.stderr
