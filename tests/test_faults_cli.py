"""Fault suite for the command line: bad configs, bad datasets, bad run directories.

Every refusal must exit 2 with exactly one line on stderr that starts with ``error:`` and
names the file or key, with no traceback, and must leave existing run files unchanged. The
commands run in-process (``typer.testing.CliRunner``) on tiny configs, so the suite is fast.
"""

from __future__ import annotations

import fcntl
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from torchdoctor import rundir
from torchdoctor.cli import app

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / "configs" / "digits.yaml")
TINY = ["--set", "model.depth=1", "--set", "model.width=8", "--set", "train.epochs=2"]
RUNNER = CliRunner()


def cli(*args: str):
    return RUNNER.invoke(app, [str(a) for a in args])


def refused(r, *needles: str) -> str:
    """Assert exit 2, one ``error:`` line on stderr naming ``needles``, no traceback."""
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 2, (r.exit_code, r.stderr, r.stdout)
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.output
    assert len(lines[0]) < 400, lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def ok(r) -> None:
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 0, (r.exit_code, r.stderr)


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


# ----------------------------------------------------------------------------- config files

def _cfg(tmp_path: Path, text: str | bytes, name: str = "c.yaml") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


LAUGHS = "a: &a [x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcde", "bcdef", strict=True))

CONFIG_FILES = [
    ("duplicate_key", "train:\n  lr: 0.1\n  lr: 0.2\n", ["c.yaml", "line 3", "duplicate key 'lr'"]),
    ("recursive_anchor", "train: &t\n  x: *t\n", ["c.yaml", "alias refers to its own anchor"]),
    ("alias_bomb", LAUGHS, ["c.yaml", "more than 10000 values"]),
    ("bad_yaml", "train:\n  lr: [0.1\n", ["c.yaml", "line 3", "not valid YAML"]),
    ("tab_yaml", "train:\n\tlr: 0.1\n", ["c.yaml", "line 2", "not valid YAML"]),
    ("not_utf8", b"train:\n  lr: 0.1\xff\n", ["c.yaml", "not UTF-8", "0xff"]),
    ("a_list", "- 1\n- 2\n", ["c.yaml", "mapping of sections", "list"]),
    ("a_scalar", "42\n", ["c.yaml", "mapping of sections", "int"]),
    ("epochs_true", "train:\n  epochs: true\n", ["train.epochs = true", "not true/false"]),
    ("lr_string_1e39", "train:\n  lr: 1e39\n", ["train.lr", "float32"]),
    ("unknown_section", "trian:\n  lr: 0.1\n", ["unknown key 'trian'", "allowed keys"]),
    ("unhashable_key", "? [1, 2]\n: 3\n", ["c.yaml", "unhashable"]),
    ("section_not_mapping", "train: 3\n", ["train = 3", "section"]),
]


@pytest.mark.parametrize(("case", "text", "needles"), CONFIG_FILES, ids=[c[0] for c in CONFIG_FILES])
def test_bad_config_file(tmp_path, case: str, text: str, needles: list[str]) -> None:
    refused(cli("train", _cfg(tmp_path, text), "--out", tmp_path / "run"), *needles)
    assert not (tmp_path / "run").exists()  # nothing created before the checks


def test_config_path_is_a_directory_or_missing_or_huge(tmp_path) -> None:
    refused(cli("train", tmp_path), "is a directory")
    refused(cli("checkup", tmp_path / "none.yaml"), "does not exist")
    big = _cfg(tmp_path, "# " + "x" * 1_100_000 + "\n", "big.yaml")
    refused(cli("diagnose", big), "big.yaml", "at most 1000000")


SETS = [
    (["train.epochs=true"], ["train.epochs = true", "not true/false"]),
    (["train.lr=1e39"], ["train.lr = 1e+39", "float32"]),
    (["train.weight_decay=1e39"], ["train.weight_decay", "float32"]),
    (["model.bias_init=-1e39"], ["model.bias_init", "float32"]),
    (["model.init=normal", "model.init_std=1e39"], ["model.init_std", "float32"]),
    (["data.scale=1e40"], ["data.scale", "float32"]),
    (["data.scale=1e30"], ["data.scale = 1e+30", "reach 1.6e+31", "allowed up to 1e+18"]),
    (["seed=-0.5"], ["seed = -0.5", "whole number"]),
    (["data=null"], ["data = null", "section"]),
    (["a..b=1"], ["--set 'a..b=1'", "dotted path"]),
    (["train.lr=" + "9" * 400], ["train.lr = 999", "...", "float32"]),
    (["model.activation=" + "x" * 400], ["model.activation = 'xxx", "...", "allowed: relu"]),
    (["x" * 400 + "=1"], ["unknown key 'xxx", "..."]),
    (["seed=1e30"], ["seed = 1e+30", "whole number", "0 <= seed < 4294967296"]),
    (["train.epochs=abc"], ["train.epochs = 'abc'", "1 <= epochs <= 100000"]),
    (["train.lr="], ["train.lr = ''", "must be a number"]),
    (["model.width=100000"], ["model.width = 100000", "<= 16384"]),
    (["model.width=8192", "model.depth=4"], ["model.width = 8192", "parameters", "allowed up to"]),
    (["train.batch_size=99999999999999"], ["train.batch_size", "must be <= 2147483647"]),
    (["target.shift=covariate", "target.size=1000000000"], ["target.size", "<= 100000"]),
    (["train.lr=&a [*a]"], ["--set train.lr", "alias refers to its own anchor"]),
    (["train.lr=[1"], ["--set train.lr", "not valid YAML"]),
    (["train.lr.x=1"], ["--set train.lr.x", "lr is not a section"]),
    (["model.norm=batch", "train.batch_size=1"], ["model.norm = batch", "at least 2 samples", "batch_size = 1"]),
    (["model.norm=batch", "train.batch_size=3"], ["model.norm = batch", "last batch of 1"]),
    (["model.arch=cnn", "data.name=moons"], ["model.arch = cnn", "use arch mlp"]),
    (["train.task=regression"], ["train.loss = cross_entropy", "regression"]),
]


@pytest.mark.parametrize(("sets", "needles"), SETS, ids=[s[0][0][:30] for s in SETS])
def test_bad_set_values(tmp_path, sets: list[str], needles: list[str]) -> None:
    args = [a for s in sets for a in ("--set", s)]
    refused(cli("train", DIGITS, "--out", tmp_path / "run", *args), *needles)
    assert not (tmp_path / "run").exists()


def test_set_mapping_merges_into_the_section(tmp_path) -> None:
    cfg = _cfg(tmp_path, "train:\n  lr: 0.02\n  batch_size: 100\n")
    ok(cli("train", cfg, "--out", tmp_path / "run", "--no-doctor", "--quiet",
           "--set", "train={epochs: 1}", "--set", "model={depth: 1, width: 8}"))
    saved = rundir.read_jsonl(tmp_path / "run" / rundir.METRICS_FILE)
    import yaml

    resolved = yaml.safe_load((tmp_path / "run" / rundir.CONFIG_FILE).read_text())
    assert resolved["train"]["lr"] == 0.02 and resolved["train"]["batch_size"] == 100
    assert resolved["train"]["epochs"] == 1 and resolved["model"]["width"] == 8
    assert len(saved) == 1


# ----------------------------------------------------------------------------- datasets

def _npz(tmp_path: Path, name: str = "d.npz", n: int = 60, **arrays) -> Path:
    rng = np.random.default_rng(0)
    base = {"x": rng.normal(size=(n, 3)).astype(np.float32), "y": np.arange(n) % 2}
    base.update(arrays)
    base = {k: v for k, v in base.items() if v is not None}
    p = tmp_path / name
    np.savez(p, **base)
    return p


def _x(n: int = 60) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)


def _with(x: np.ndarray, i: int, v: float) -> np.ndarray:
    x = x.copy()
    x.flat[i] = v
    return x


DATASETS = [
    ("nan_in_x", {"x": _with(_x(), 7, np.nan)}, ["x holds 1 NaN/Inf", "sample 2", "finite"]),
    ("inf_in_x", {"x": _with(_x(), 0, np.inf)}, ["x holds 1 NaN/Inf", "sample 0"]),
    ("x_beyond_float32", {"x": _x().astype(np.float64) * 1e300}, ["x holds values up to", "float32"]),
    ("complex_x", {"x": _x() + 1j}, ["x holds complex numbers", "real numbers"]),
    ("string_x", {"x": np.array([["a", "b", "c"]] * 60)}, ["x holds strings"]),
    ("zero_features", {"x": np.zeros((60, 0), np.float32)}, ["0 features", "(60, 0)"]),
    ("zero_samples", {"x": np.zeros((0, 3), np.float32), "y": np.zeros(0, np.int64)}, ["0 samples"]),
    ("scalar_x", {"x": np.float32(1.0), "y": np.int64(0)}, ["x is a single value"]),
    ("scalar_y", {"y": np.int64(1)}, ["y is a single value"]),
    ("rank5_x", {"x": np.zeros((60, 1, 1, 1, 3), np.float32)}, ["x has shape (60, 1, 1, 1, 3)", "rank 2"]),
    ("y_two_columns", {"y": np.stack([np.arange(60) % 2, 1 - np.arange(60) % 2], 1)},
     ["y has shape (60, 2)", "one integer per sample"]),
    ("string_labels", {"y": np.array(["cat", "dog"] * 30)}, ["y holds strings", "integer class labels"]),
    ("object_labels", {"y": np.array([{"a": 1}] * 60, dtype=object)}, ["Python objects"]),
    ("single_class", {"y": np.zeros(60, np.int64)}, ["only class 0", "at least 2 classes"]),
    ("label_1e9", {"y": np.where(np.arange(60) % 2, 10**9, 0)}, ["class label 1000000000", "K <= 10000"]),
    ("negative_label", {"y": np.arange(60) % 2 - 1}, ["class label -1", "0..K-1"]),
    ("nan_target", {"y": np.where(np.arange(60) % 2, np.nan, 0.5)}, ["y holds 30 NaN/Inf", "finite targets"]),
    ("length_mismatch", {"y": np.arange(30) % 2}, ["y has 30 rows but x has 60"]),
    ("missing_y", {"y": None}, ["missing array(s) y", "it has x"]),
    ("too_few_for_split", {"x": _x(2), "y": np.array([0, 1])}, ["2 samples", "too few to split"]),
]


@pytest.mark.parametrize(("case", "arrays", "needles"), DATASETS, ids=[d[0] for d in DATASETS])
def test_bad_npz_is_refused_by_train_and_checkup(tmp_path, case: str, arrays: dict, needles: list[str]) -> None:
    p = _npz(tmp_path, **arrays)
    refused(cli("train", "--set", f"data.name=npz:{p}", "--out", tmp_path / "run", *TINY),
            "d.npz", *needles)
    assert not (tmp_path / "run").exists()
    refused(cli("checkup", "--set", f"data.name=npz:{p}"), "d.npz", *needles)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_files_that_are_not_npz_archives(tmp_path) -> None:
    np.save(tmp_path / "a.npy", _x())
    cases = [
        (tmp_path / "a.npy", ["holds a single array (.npy)"]),
        (_write(tmp_path, "npy.npz", (tmp_path / "a.npy").read_bytes()), ["holds a single array"]),
        (_write(tmp_path, "random.npz", np.random.default_rng(0).bytes(2000)), ["not an .npz archive"]),
        (_write(tmp_path, "zero.npz", b""), ["file is empty (0 bytes)"]),
        (tmp_path, ["is a directory"]),
        (tmp_path / "missing.npz", ["file does not exist"]),
    ]
    np.savez(tmp_path / "empty.npz")
    cases.append((tmp_path / "empty.npz", ["missing array(s) x, y", "no arrays"]))
    with zipfile.ZipFile(tmp_path / "junkzip.npz", "w") as z:
        z.writestr("x.npy", b"garbage")
        z.writestr("y.npy", b"garbage")
    cases.append((tmp_path / "junkzip.npz", ["member x is not a NumPy array"]))
    good = _npz(tmp_path, "good.npz")
    _write(tmp_path, "cut.npz", good.read_bytes()[: good.stat().st_size // 2])
    cases.append((tmp_path / "cut.npz", ["cannot be read"]))
    for path, needles in cases:
        refused(cli("train", "--set", f"data.name=npz:{path}", *TINY, "--out", tmp_path / "run"),
                "data.name = 'npz:", *needles)


def test_bad_target_sample(tmp_path) -> None:
    good = _npz(tmp_path, "good.npz")
    bad_x = _npz(tmp_path, "t.npz", x=_with(_x(), 3, np.nan))
    refused(cli("checkup", "--set", f"data.name=npz:{good}", "--target", f"npz:{bad_x}"),
            "--target npz:", "NaN/Inf")
    wide = _npz(tmp_path, "w.npz", x=np.zeros((60, 4), np.float32))
    refused(cli("checkup", "--set", f"data.name=npz:{good}", "--target", f"npz:{wide}"),
            "--target npz:", "shape (4,)")
    many = _npz(tmp_path, "m.npz", y=np.arange(60) % 5)
    refused(cli("checkup", "--set", f"data.name=npz:{good}", "--target", f"npz:{many}"),
            "class label 4", "classes 0..1")
    only_x = _npz(tmp_path, "ox.npz", y=None)  # a target sample may come without labels
    r = cli("checkup", "--set", f"data.name=npz:{good}", "--target", f"npz:{only_x}", "--json")
    ok(r)
    assert json.loads(r.stdout)["stats"]["target"]["size"] == 60


def test_synthetic_target_too_small_for_the_shift_checks_names_the_key() -> None:
    refused(cli("checkup", "--set", "target.shift=label", "--set", "target.size=2"),
            "target.size = 2", ">= 5 samples")


def test_valid_npz_trains(tmp_path) -> None:
    p = _npz(tmp_path, y=np.where(np.arange(60) % 2, 5, 0))  # labels with a gap: 6 outputs
    ok(cli("train", "--set", f"data.name=npz:{p}", *TINY, "--out", tmp_path / "run", "--quiet", "--no-doctor"))


# ----------------------------------------------------------------------------- run directories

def _train(out: Path, *extra: str, doctor: bool = False):
    return cli("train", DIGITS, "--out", out, "--quiet", *TINY, *extra, *([] if doctor else ["--no-doctor"]))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "done"
    ok(_train(out, doctor=True))
    return out


def test_out_holding_a_run_is_refused_and_untouched(tmp_path, finished_run) -> None:
    before = snapshot(finished_run)
    refused(_train(finished_run), "holds a run", "--resume", "--overwrite")
    refused(cli("diagnose", DIGITS, *TINY, "--out", finished_run), "holds a run")
    assert snapshot(finished_run) == before


def test_repair_out_refuses_a_training_run_or_a_file(tmp_path, finished_run) -> None:
    before = snapshot(finished_run)
    refused(cli("repair", DIGITS, *TINY, "--out", finished_run), "holds a training run")
    assert snapshot(finished_run) == before
    (tmp_path / "f").write_text("keep")
    refused(cli("repair", DIGITS, *TINY, "--out", tmp_path / "f"), "is a file")


def test_overwrite_replaces_the_run(tmp_path) -> None:
    out = tmp_path / "run"
    ok(_train(out, "--set", "train.epochs=3", doctor=True))
    ok(_train(out, "--overwrite"))  # 2 epochs, no doctor: the old vitals/findings go too
    assert len(rundir.read_jsonl(out / rundir.METRICS_FILE)) == 2
    assert not (out / rundir.VITALS_FILE).exists() and not (out / rundir.FINDINGS_FILE).exists()


def test_out_that_is_not_a_usable_directory(tmp_path) -> None:
    f = tmp_path / "file"
    f.write_text("keep")
    refused(_train(f), "is a file")
    assert f.read_text() == "keep"
    refused(_train(Path("/proc/torchdoctor-run")), "/proc/torchdoctor-run", "cannot create")
    refused(_train(tmp_path / ("x" * 300)), "name too long")
    refused(_train(f / "sub"), "file/sub")


def test_a_second_process_on_the_run_dir_is_refused(tmp_path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    with open(out / rundir.LOCK_FILE, "a") as fh:  # another open file: like another process
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused(_train(out), "in use by another torchdoctor process")
    ok(_train(out))  # released: trains


def test_resume_argument_errors(tmp_path, finished_run) -> None:
    before = snapshot(finished_run)
    refused(cli("train", "--resume", tmp_path / "nothing"), "does not exist")
    (tmp_path / "f").write_text("x")
    refused(cli("train", "--resume", tmp_path / "f"), "is not a directory")
    refused(cli("train", "--resume", tmp_path), "no config.yaml there")
    refused(cli("train", "--resume", finished_run, "--set", "train.lr=0.1"), "--set is not allowed")
    refused(cli("train", "--resume", finished_run, "--overwrite"), "--overwrite")
    refused(cli("train", "--resume", finished_run, "--out", tmp_path / "other"), "--out", "another one")
    refused(cli("train", DIGITS, "--resume", finished_run), "CONFIG differs", "model.depth = 3 (run: 1)")
    assert snapshot(finished_run) == before


def _copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name, data in snapshot(src).items():
        (dst / name).write_bytes(data)
    return dst


@pytest.mark.parametrize(("edit", "needles"), [
    ("train:\n  lr: 0.05", ["train.lr = 0.07 (checkpoint: 0.05)"]),
    ("seed: 0", ["seed = 3 (checkpoint: 0)"]),
])
def test_resume_after_editing_config_is_refused(tmp_path, finished_run, edit: str, needles: list[str]) -> None:
    run = _copy_run(finished_run, tmp_path / "run")
    text = (run / rundir.CONFIG_FILE).read_text()
    text = text.replace("lr: 0.05", "lr: 0.07") if "lr" in edit else text.replace("seed: 0", "seed: 3")
    (run / rundir.CONFIG_FILE).write_text(text)
    before = snapshot(run)
    refused(cli("train", "--resume", run, "--quiet"), "config.yaml differs", *needles)
    assert snapshot(run) == before


def test_resume_with_more_epochs_continues(tmp_path, finished_run) -> None:
    run = _copy_run(finished_run, tmp_path / "run")
    text = (run / rundir.CONFIG_FILE).read_text().replace("epochs: 2", "epochs: 3")
    (run / rundir.CONFIG_FILE).write_text(text)
    ok(cli("train", "--resume", run, "--quiet"))
    assert [r["epoch"] for r in rundir.read_jsonl(run / rundir.METRICS_FILE)] == [0, 1, 2]


def test_resume_after_the_npz_changed_is_refused(tmp_path) -> None:
    p = _npz(tmp_path)
    out = tmp_path / "run"
    ok(cli("train", "--set", f"data.name=npz:{p}", *TINY, "--out", out, "--quiet", "--no-doctor"))
    _npz(tmp_path, x=_x() * 2)  # same after standardization, but other raw data
    before = snapshot(out)
    refused(cli("train", "--resume", out), "the data of 'npz:", "differ")
    assert snapshot(out) == before


BAD_CHECKPOINTS = ["directory", "empty", "truncated", "random", "wrong_keys", "other_model"]


@pytest.mark.parametrize("kind", BAD_CHECKPOINTS)
def test_resume_with_a_bad_checkpoint_changes_nothing(tmp_path, finished_run, kind: str) -> None:
    run = _copy_run(finished_run, tmp_path / "run")
    ck = run / rundir.CHECKPOINT_FILE
    state = torch.load(ck, weights_only=True)
    if kind == "directory":
        ck.unlink()
        ck.mkdir()
    elif kind == "empty":
        ck.write_bytes(b"")
    elif kind == "truncated":
        ck.write_bytes(ck.read_bytes()[:1000])
    elif kind == "random":
        ck.write_bytes(np.random.default_rng(1).bytes(5000))
    elif kind == "wrong_keys":
        torch.save({"weights": state["model"]}, ck)
    elif kind == "other_model":  # a checkpoint without fingerprint from another width
        del state["fingerprint"]
        state["model"] = {k: torch.zeros(3) for k in state["model"]}
        torch.save(state, ck)
    before = snapshot(run)
    needle = {"directory": "is a directory", "empty": "is empty", "truncated": "cannot be read",
              "random": "cannot be read", "wrong_keys": "missing keys",
              "other_model": "does not match this model"}[kind]
    refused(cli("train", "--resume", run), "checkpoint", needle)
    assert snapshot(run) == before


def test_resume_rewinds_metrics_and_vitals_to_the_checkpoint(tmp_path) -> None:
    """A kill after epoch 3's logs but before its checkpoint replaced epoch 2's."""
    full, cut = tmp_path / "full", tmp_path / "cut"
    ok(_train(full, "--set", "train.epochs=3", doctor=True))
    ok(_train(cut, "--set", "train.epochs=2", doctor=True))
    early = (cut / rundir.CHECKPOINT_FILE).read_bytes()
    (cut / rundir.CONFIG_FILE).unlink()
    (cut / rundir.CHECKPOINT_FILE).unlink()
    for name, data in snapshot(full).items():  # epoch-3 logs ...
        (cut / name).write_bytes(data)
    (cut / rundir.CHECKPOINT_FILE).write_bytes(early)  # ... with the epoch-2 checkpoint
    ok(cli("train", "--resume", cut, "--quiet"))
    a, b = rundir.read_jsonl(full / rundir.METRICS_FILE), rundir.read_jsonl(cut / rundir.METRICS_FILE)
    assert [r["epoch"] for r in b] == [0, 1, 2]
    for ra, rb in zip(a, b, strict=True):
        ra.pop("time_s"), rb.pop("time_s")
        assert ra == rb
    steps = [r["step"] for r in rundir.read_jsonl(cut / rundir.VITALS_FILE)]
    assert steps == sorted(set(steps)) == [r["step"] for r in rundir.read_jsonl(full / rundir.VITALS_FILE)]
    wa = torch.load(full / rundir.CHECKPOINT_FILE, weights_only=True)["model"]
    wb = torch.load(cut / rundir.CHECKPOINT_FILE, weights_only=True)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_interrupt_leaves_a_resumable_run(tmp_path, monkeypatch) -> None:
    """Ctrl-C in epoch 2 (of 3): TrainingInterrupted naming the directory; resume is exact."""
    from torchdoctor.train.trainer import Trainer
    from torchdoctor.workflows import TrainingInterrupted, run_training

    full, cut = tmp_path / "full", tmp_path / "cut"
    sets = ["model.depth=1", "model.width=8", "train.epochs=3"]
    run_training(DIGITS, overrides=sets, out=full, doctor=True)
    real = Trainer._run_epoch

    def interrupted(self, ev, bar):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return real(self, ev, bar)

    monkeypatch.setattr(Trainer, "_run_epoch", interrupted)
    with pytest.raises(TrainingInterrupted, match=f"interrupted; resume with --resume {cut}"):
        run_training(DIGITS, overrides=sets, out=cut, doctor=True)
    monkeypatch.setattr(Trainer, "_run_epoch", real)
    assert len(rundir.read_jsonl(cut / rundir.METRICS_FILE)) == 2
    run_training(resume=cut, doctor=True)
    a, b = rundir.read_jsonl(full / rundir.METRICS_FILE), rundir.read_jsonl(cut / rundir.METRICS_FILE)
    assert [{k: v for k, v in r.items() if k != "time_s"} for r in a] == \
        [{k: v for k, v in r.items() if k != "time_s"} for r in b]
    steps = [r["step"] for r in rundir.read_jsonl(cut / rundir.VITALS_FILE)]
    assert len(steps) == len(set(steps))


# ----------------------------------------------------------------------------- report

def test_report_of_bad_run_directories(tmp_path, finished_run) -> None:
    refused(cli("report", tmp_path / "none"), "does not exist")
    (tmp_path / "f").write_text("x")
    refused(cli("report", tmp_path / "f"), "not a directory")
    (tmp_path / "empty").mkdir()
    refused(cli("report", tmp_path / "empty"), "none")
    run = _copy_run(finished_run, tmp_path / "run")
    with open(run / rundir.METRICS_FILE, "a") as fh:
        fh.write('{"epoch": 2, "val_lo')  # a torn last line
    (run / rundir.FINDINGS_FILE).write_text("[{]")
    r = cli("report", run)
    ok(r)
    html = (run / rundir.REPORT_FILE).read_text()
    assert "skipped 1 unreadable line" in html and "findings.json: unreadable" in html


def test_usage_errors_of_the_console_script_are_one_line() -> None:
    """Through the real entry point: the CLI framework's own errors in one line as well."""
    from conftest import run_cli

    for args, needle in [(["train", "--bogus"], "No such option: --bogus"),
                         (["diagnose", "--epochs", "0"], "--epochs")]:
        r = run_cli(*args)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
        assert needle in lines[0]
