"""Fault suite for the Python API at the same boundaries as the CLI: configs, dataset arrays,
run directories. Each bad input raises ``ValueError`` with one line naming it; nothing else
escapes (no TypeError, RuntimeError, MemoryError) and nothing is written."""

from __future__ import annotations

import numpy as np
import pytest

import torchdoctor as td
from torchdoctor import rundir
from torchdoctor.data import load_npz
from torchdoctor.data.checkup import run_checkup
from torchdoctor.workflows import run_training

FAST = ["model.depth=1", "model.width=8", "train.epochs=1"]


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and len(text) < 400, text
    return text


@pytest.mark.parametrize(("overrides", "match"), [
    (["train.epochs=true"], "train.epochs = true: must be a number"),
    (["train.lr=1e39"], "float32"),
    (["train={epochs: 0}"], "train.epochs = 0: must be >= 1"),
    (["model={width: 0}"], "model.width = 0: must be >= 1"),
])
def test_load_config(overrides: list[str], match: str) -> None:
    with pytest.raises(td.train.ConfigError, match=match) as exc:
        td.load_config(None, overrides)
    _one_line(exc)


def test_set_mapping_keeps_the_rest_of_the_section() -> None:
    cfg = td.load_config(None, ["train.lr=0.01", "train={epochs: 2, batch_size: 32}"])
    assert (cfg.train.lr, cfg.train.epochs, cfg.train.batch_size) == (0.01, 2, 32)


@pytest.mark.parametrize(("y", "match"), [
    (np.array(["a", "b"] * 10), "y_train holds strings"),
    (np.stack([np.arange(20) % 2] * 2, 1), r"y_train has shape \(20, 2\)"),
    (np.arange(20) - 5, "class label -5"),
    (np.int64(3), "y_train must have 20 rows"),
])
def test_data_checkup_shares_the_label_checks(y, match: str) -> None:
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match=match) as exc:
        run_checkup(x, y, task="classification")
    _one_line(exc)


def test_checkup_still_takes_float_labels_and_one_class() -> None:
    x = np.random.default_rng(0).normal(size=(20, 3))
    findings, stats = run_checkup(x, np.zeros(20), task="classification")
    assert stats["n_train"] == 20


def test_load_npz_target_without_labels(tmp_path) -> None:
    np.savez(tmp_path / "t.npz", x=np.ones((5, 2), np.float32))
    raw = load_npz(str(tmp_path / "t.npz"), labels=False)
    assert raw.y is None and raw.task == "unlabelled" and raw.x.shape == (5, 2)
    with pytest.raises(ValueError, match="missing array"):
        load_npz(str(tmp_path / "t.npz"))


def test_trainer_fit_refuses_a_directory_holding_a_run_unless_overwrite(tmp_path) -> None:
    cfg = td.load_config(None, FAST)
    td.Trainer(cfg, out_dir=tmp_path).fit()
    before = (tmp_path / rundir.METRICS_FILE).read_bytes()
    with pytest.raises(ValueError, match="holds a run") as exc:
        td.Trainer(cfg, out_dir=tmp_path).fit()
    _one_line(exc)
    assert (tmp_path / rundir.METRICS_FILE).read_bytes() == before
    td.Trainer(cfg, out_dir=tmp_path).fit(overwrite=True)
    assert len(rundir.read_jsonl(tmp_path / rundir.METRICS_FILE)) == 1


def test_trainer_resume_checks_before_anything_is_written(tmp_path) -> None:
    run_training(None, overrides=FAST, out=tmp_path, doctor=False)
    (tmp_path / rundir.CHECKPOINT_FILE).write_bytes(b"\x00" * 10)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(ValueError, match="checkpoint .* cannot be read") as exc:
        td.Trainer.resume(tmp_path)
    _one_line(exc)
    with pytest.raises(ValueError, match="cannot be read"):
        run_training(resume=tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_checkpoint_holds_a_fingerprint_of_config_and_data(tmp_path) -> None:
    run_training(None, overrides=FAST, out=tmp_path, doctor=False)
    state = rundir.load_checkpoint(tmp_path / rundir.CHECKPOINT_FILE)
    t = td.Trainer(td.load_config(None, FAST))
    assert state["fingerprint"] == t.fingerprint()
    other = td.Trainer(td.load_config(None, [*FAST, "seed=1"]))
    assert other.fingerprint()["data"] != t.fingerprint()["data"]  # another seed, another split
