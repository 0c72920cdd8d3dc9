"""The run-directory module: one JSON encoding, atomic writes that leave no temporary file,
JSONL logs that survive a torn last line, the lock, and checkpoints that fail in one line."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from torchdoctor import rundir


def test_jsonable_has_one_policy_for_non_finite_numbers() -> None:
    value = {"a": math.nan, 1: (math.inf, -math.inf), "n": np.float32(2.5), "t": torch.tensor([1.0, math.nan]),
             "ok": [1, "x", None, True]}
    out = rundir.jsonable(value)
    assert out == {"a": "nan", "1": ["inf", "-inf"], "n": 2.5, "t": [1.0, "nan"], "ok": [1, "x", None, True]}
    json.loads(rundir.dumps(value))  # strict JSON: no NaN/Infinity tokens
    assert "NaN" not in rundir.dumps(value) and "Infinity" not in rundir.dumps(value)


def test_finding_evidence_uses_the_same_encoding() -> None:
    from torchdoctor import Finding

    f = Finding(code="nonfinite", severity="error", message="m", evidence={"loss": math.nan, "g": math.inf})
    assert f.to_dict()["evidence"] == rundir.jsonable({"loss": math.nan, "g": math.inf})


def test_atomic_write_keeps_old_file_and_removes_temp_on_failure(tmp_path) -> None:
    p = tmp_path / "findings.json"
    rundir.atomic_write_text(p, "old")

    def boom(tmp) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        rundir.atomic_write(p, boom)
    assert p.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["findings.json"]


def test_atomic_write_into_a_missing_directory_leaves_nothing(tmp_path) -> None:
    with pytest.raises(OSError):
        rundir.atomic_write_text(tmp_path / "nope" / "report.html", "x")
    assert list(tmp_path.iterdir()) == []


def test_read_jsonl_skips_a_torn_last_line_and_counts_it(tmp_path) -> None:
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"epoch": 0}\n{"epoch": 1}\n[1, 2]\n{"epo')
    notes: list[str] = []
    assert rundir.read_jsonl(p, notes) == [{"epoch": 0}, {"epoch": 1}]
    assert notes == ["metrics.jsonl: skipped 2 unreadable line(s)"]
    assert rundir.read_jsonl(tmp_path / "missing.jsonl") == []


def test_jsonl_log_round_trips_rows(tmp_path) -> None:
    log = rundir.JsonlLog(tmp_path / "vitals.jsonl", fsync=True)
    rows = [{"step": i, "loss": float(i) if i else math.nan} for i in range(3)]
    log.write_many(rows)
    log.write({"step": 3, "loss": math.inf})
    log.close()
    log.close()  # idempotent
    assert rundir.read_jsonl(tmp_path / "vitals.jsonl") == rundir.jsonable([*rows, {"step": 3, "loss": math.inf}])


def test_rewind_jsonl_drops_rows_from_the_step_on(tmp_path) -> None:
    p = tmp_path / "vitals.jsonl"
    p.write_text("".join(json.dumps({"step": s}) + "\n" for s in [0, 1, 2, 3, 2, 3]) + '{"ste')
    assert rundir.rewind_jsonl(p, 2) == 5
    assert [r["step"] for r in rundir.read_jsonl(p)] == [0, 1]
    assert rundir.rewind_jsonl(p, 2) == 0  # nothing left to drop: file untouched


def test_new_run_dir_is_unique(tmp_path) -> None:
    a = rundir.new_run_dir("x/y", root=tmp_path)
    b = rundir.new_run_dir("x/y", root=tmp_path)
    assert a != b and a.is_dir() and b.is_dir() and "/" not in a.name


@pytest.mark.parametrize("make", ["file", "too_long", "proc"])
def test_prepare_dir_refuses_in_one_line(tmp_path, make: str) -> None:
    target = {"file": tmp_path / "f", "too_long": tmp_path / ("x" * 300), "proc": "/proc/torchdoctor-run"}[make]
    if make == "file":
        target.write_text("data")
    with pytest.raises(rundir.RunDirError) as exc:
        rundir.prepare_dir(target)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 200
    if make == "file":
        assert target.read_text() == "data"


def test_run_lock_is_reentrant_in_process_and_exclusive_across_processes(tmp_path) -> None:
    code = ("import sys; from torchdoctor import rundir\n"
            "try:\n  with rundir.run_lock(sys.argv[1]): print('got')\n"
            "except rundir.RunDirError as e: print('refused:', e)")
    with rundir.run_lock(tmp_path), rundir.run_lock(tmp_path):
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                             env={**os.environ}, check=True).stdout
        assert out.startswith("refused:") and "in use by another" in out
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                         env={**os.environ}, check=True).stdout
    assert out.strip() == "got"


def _good_state() -> dict:
    return {"version": 1, "epoch": 1, "step": 3, "model": {"w": torch.ones(2)}, "optimizer": {}}


def test_checkpoint_round_trip(tmp_path) -> None:
    p = tmp_path / "checkpoint.pt"
    rundir.save_checkpoint(p, _good_state())
    assert torch.equal(rundir.load_checkpoint(p)["model"]["w"], torch.ones(2))
    assert [x.name for x in tmp_path.iterdir()] == ["checkpoint.pt"]


class _Evil:
    def __reduce__(self):  # noqa: D105
        return (print, ("pwned",))


@pytest.mark.parametrize(("kind", "message"), [
    ("empty", "is empty"),
    ("truncated", "cannot be read"),
    ("random", "cannot be read"),
    ("pickled", "cannot be read"),
    ("directory", "is a directory"),
    ("wrong_keys", "missing keys"),
    ("not_dict", "holds a list"),
    ("bad_epoch", "epoch/step must be integers"),
    ("missing", "does not exist"),
])
def test_bad_checkpoints_fail_in_one_line(tmp_path, kind: str, message: str) -> None:
    p = tmp_path / "checkpoint.pt"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "truncated":
        rundir.save_checkpoint(p, _good_state())
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif kind == "random":
        p.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "pickled":
        p.write_bytes(pickle.dumps({"model": _Evil()}))
    elif kind == "directory":
        p.mkdir()
    elif kind == "wrong_keys":
        torch.save({"model": {}}, p)
    elif kind == "not_dict":
        torch.save([1, 2], p)
    elif kind == "bad_epoch":
        torch.save({**_good_state(), "epoch": -1}, p)
    with pytest.raises(rundir.RunDirError, match=message) as exc:
        rundir.load_checkpoint(p)
    assert "\n" not in str(exc.value)


def test_stale_temporaries_of_run_files_are_removed_and_nothing_else(tmp_path) -> None:
    for name in [".checkpoint.pt.123-abcd.tmp", ".findings.json.9-ff.tmp", "notes.tmp", ".other.1-2.tmp"]:
        (tmp_path / name).write_text("x")
    removed = rundir.remove_stale_temporaries(tmp_path)
    assert sorted(removed) == [".checkpoint.pt.123-abcd.tmp", ".findings.json.9-ff.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.1-2.tmp", "notes.tmp"]
