"""Signals and concurrent processes on a run directory, through real ``torchdoctor`` processes.

Ctrl-C (SIGINT) leaves a resumable run and says how to resume it (exit 130, no summary); a
second ``train`` on a directory in use is refused (exit 2) while the first finishes intact; a
kill -9 inside the checkpoint write resumes to the uninterrupted result. The slower sweep of
kill moments is ``benchmarks/bench_kills.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import torch
from typer.testing import CliRunner

from conftest import ROOT, TORCHDOCTOR
from torchdoctor import rundir
from torchdoctor.cli import app


def run_cli(*args: str):
    """In-process CLI (the other party of each test is a real process)."""
    r = CliRunner().invoke(app, list(args))
    r.returncode = r.exit_code
    return r

CONFIG = str(ROOT / "configs" / "digits.yaml")
FAST = ["--set", "model.depth=1", "--set", "model.width=16"]


def _start(out: Path, epochs: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(TORCHDOCTOR), "train", CONFIG, "--out", str(out), *FAST,
                             "--set", f"train.epochs={epochs}", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _wait_for_epochs(proc: subprocess.Popen[str], out: Path, n: int) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(rundir.read_jsonl(out / rundir.METRICS_FILE)) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"no {n} epochs on disk: {proc.poll()=}")


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time_s"} for r in rows]


def test_ctrl_c_leaves_a_resumable_run(tmp_path) -> None:
    out, full = tmp_path / "run", tmp_path / "full"
    proc = _start(out, 400)
    _wait_for_epochs(proc, out, 2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == [f"interrupted; resume with --resume {out}"]
    assert "final:" not in stdout and "Traceback" not in stderr
    done = len(rundir.read_jsonl(out / rundir.METRICS_FILE))
    assert 2 <= done < 400
    # finish it with fewer epochs (allowed on resume), and compare with a run of that length
    total = done + 2
    cfg = (out / rundir.CONFIG_FILE).read_text().replace("epochs: 400", f"epochs: {total}")
    (out / rundir.CONFIG_FILE).write_text(cfg)
    r = run_cli("train", "--resume", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    r = run_cli("train", CONFIG, "--out", str(full), *FAST, "--set", f"train.epochs={total}", "--quiet")
    assert r.returncode == 0, r.stderr
    assert _strip(rundir.read_jsonl(out / rundir.METRICS_FILE)) == _strip(rundir.read_jsonl(full / rundir.METRICS_FILE))
    steps = [v["step"] for v in rundir.read_jsonl(out / rundir.VITALS_FILE)]
    assert len(steps) == len(set(steps))


def test_second_process_on_the_same_run_dir_is_refused(tmp_path) -> None:
    out = tmp_path / "run"
    first = _start(out, 1000, "--quiet")
    _wait_for_epochs(first, out, 1)
    second = run_cli("train", CONFIG, "--out", str(out), *FAST, "--overwrite", "--quiet")
    third = run_cli("train", "--resume", str(out), "--quiet")
    assert first.poll() is None, "the first run must still be going for this test to mean anything"
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    for r in (second, third):
        assert r.returncode == 2 and "in use by another torchdoctor process" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    rows = rundir.read_jsonl(out / rundir.METRICS_FILE)
    assert [r["epoch"] for r in rows] == list(range(len(rows)))  # the first run's, intact


def test_kill_inside_the_checkpoint_write_resumes_exactly(tmp_path) -> None:
    """SIGKILL after checkpoint 2's temporary file is written, before it replaces checkpoint 1."""
    import sys

    out, full = tmp_path / "run", tmp_path / "full"
    args = ["train", CONFIG, *FAST, "--set", "train.epochs=4", "--quiet"]
    code = (
        "import os, signal, sys\n"
        "import torchdoctor.rundir as rd\n"
        "real, n = rd.atomic_write, [0]\n"
        "def aw(path, write):\n"
        "    if path.name == rd.CHECKPOINT_FILE:\n"
        "        n[0] += 1\n"
        "        if n[0] == 2:\n"
        "            write(path.with_name('.checkpoint.pt.1-x.tmp'))\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(path, write)\n"
        "rd.atomic_write = aw\n"
        "from torchdoctor.cli import main\n"
        "sys.argv = ['torchdoctor'] + sys.argv[1:]\n"
        "main()\n")
    proc = subprocess.run([sys.executable, "-c", code, *args, "--out", str(out)], capture_output=True,
                          text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -signal.SIGKILL
    assert torch.load(out / rundir.CHECKPOINT_FILE, weights_only=True)["epoch"] == 1
    assert len(rundir.read_jsonl(out / rundir.METRICS_FILE)) == 1
    r = run_cli("train", "--resume", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    r = run_cli(*args, "--out", str(full))
    assert r.returncode == 0, r.stderr
    assert _strip(rundir.read_jsonl(out / rundir.METRICS_FILE)) == _strip(rundir.read_jsonl(full / rundir.METRICS_FILE))
    wa = torch.load(full / rundir.CHECKPOINT_FILE, weights_only=True)["model"]
    wb = torch.load(out / rundir.CHECKPOINT_FILE, weights_only=True)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    sa = [v["step"] for v in rundir.read_jsonl(full / rundir.VITALS_FILE)]
    sb = [v["step"] for v in rundir.read_jsonl(out / rundir.VITALS_FILE)]
    assert sb == sa  # the killed epoch's vitals were rewound, not duplicated
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
