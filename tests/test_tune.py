"""``td.tune`` / ``torchdoctor tune``: doctor-informed pruning, the result document and report,
a killed SQLite study that resumes, and the one-line errors (Optuna missing, another study)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

import torchdoctor as td
from torchdoctor.train.config import load_config
from torchdoctor.train.trainer import Trainer
from torchdoctor.tune import (
    PRUNED_BY_DOCTOR,
    Objective,
    parse_space,
    trial_config,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ["train.epochs=2", "model.width=16"]
TINY_SPACE = ("train.lr: {type: float, low: 0.01, high: 0.2, log: true}\n"
              "model.depth: {type: int, low: 1, high: 2}\n")
JSON_KEYS = {"best_value", "best_params", "n_trials", "n_complete", "n_pruned_doctor",
             "n_pruned_metric", "seconds", "storage"}

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "torchdoctor.cli", "tune", *args]


def test_an_error_finding_prunes_the_trial_at_once_with_its_finding() -> None:
    base = load_config(None, ["train.epochs=3"])
    space = parse_space({"train.lr": [1000.0, 0.05], "model.init": ["default", "constant"]}, base)
    broken = [{"train.lr": 1000.0, "model.init": "default"},   # diverges: non-finite loss
              {"train.lr": 0.05, "model.init": "constant"},    # every unit the same
              {"train.lr": 0.05, "model.init": "default"}]     # healthy
    results = {}
    for doctor in (True, False):
        study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
        for p in broken:
            study.enqueue_trial(p)
        study.optimize(Objective(base, space, doctor=doctor), n_trials=3)
        results[doctor] = study.trials
    with_doc, without = results[True], results[False]
    for t in with_doc[:2]:
        assert t.state == optuna.trial.TrialState.PRUNED
        assert t.user_attrs["pruned_by"] == PRUNED_BY_DOCTOR
        assert t.user_attrs["epochs_run"] == 1  # at once: after the first epoch
        assert t.user_attrs["finding_code"] in td.SYMPTOM_CODES and t.user_attrs["finding_message"]
        errors = [f for f in t.user_attrs["findings"] if f["severity"] == "error"]
        assert t.user_attrs["finding_code"] in {f["code"] for f in errors}
    # without the doctor the same trials run to the end (no metric pruner here)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in without)
    assert without[0].value < 0.3 and without[1].value < 0.5
    # the healthy trial: the value is the trainer's own last-epoch accuracy, doctor or not
    healthy = with_doc[2]
    assert healthy.state == optuna.trial.TrialState.COMPLETE
    ref = Trainer(trial_config(base, broken[2])).fit().metrics["val_accuracy"]
    assert healthy.value == pytest.approx(ref, abs=1e-9)
    assert without[2].value == pytest.approx(ref, abs=1e-9)
    assert healthy.value > 0.8
    # the metric is reported every epoch for the study's pruner
    assert sorted(healthy.intermediate_values) == [0, 1, 2]
    assert healthy.intermediate_values[2] == pytest.approx(ref, abs=1e-9)


def test_td_tune_writes_the_result_the_report_and_the_best_config(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE + "train.optimizer: [sgdm, adam]\n", encoding="utf-8")
    out = tmp_path / "out"
    r = td.tune(None, trials=6, space=space, out=out, overrides=TINY, seed=0)
    doc = json.loads((out / "tune.json").read_text(encoding="utf-8"))
    assert JSON_KEYS <= set(doc) and doc == json.loads(json.dumps(r.to_json()))
    assert doc["storage"] == f"sqlite:///{out.resolve() / 'study.db'}"
    study = optuna.load_study(study_name=r.study, storage=doc["storage"])
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert doc["n_trials"] == len(study.trials) == 6
    assert doc["n_complete"] + doc["n_pruned_doctor"] + doc["n_pruned_metric"] == 6
    assert doc["best_value"] == max(t.value for t in done)
    assert set(doc["best_params"]) == {"train.lr", "model.depth", "train.optimizer"}
    # the first trial is the config's own values
    assert study.trials[0].user_attrs.get("baseline") is True
    assert study.trials[0].params["train.optimizer"] == "sgdm"
    best = load_config(out / "best_config.yaml")
    assert best.train.lr == doc["best_params"]["train.lr"] and best.model.width == 16
    html = (out / "tune.html").read_text(encoding="utf-8")
    for section in ("summary", "best", "history", "importance", "pruned"):
        assert f'<section id="{section}">' in html
    assert "<svg" in html and "<script" not in html


def test_the_package_is_callable_like_repair() -> None:
    import torchdoctor.tune as tune_pkg

    assert callable(td.tune) and td.tune is tune_pkg
    assert "trials" in str(tune_pkg.__signature__)


def test_optuna_missing_gives_one_line_naming_the_extra(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from torchdoctor.cli import app

    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    r = CliRunner().invoke(app, ["tune", "--trials", "1", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert r.output.strip() == ("error: torchdoctor tune needs Optuna, which is not installed: "
                                "pip install 'torchdoctor[optuna]'")
    assert not (tmp_path / "o").exists()


def test_a_study_started_from_another_config_is_refused(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE, encoding="utf-8")
    td.tune(None, trials=1, space=space, out=tmp_path / "o", overrides=TINY, seed=0)
    with pytest.raises(ValueError, match=r"was started with another config: train\.epochs = 3 "
                                         r"\(study: 2\)"):
        td.tune(None, trials=2, space=space, out=tmp_path / "o",
                overrides=["train.epochs=3", "model.width=16"])


def _finished(db: Path) -> list[tuple[int, str, float | None]]:
    """``(number, state, value)`` of the finished trials, read with sqlite3 (not Optuna)."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute(
                "SELECT t.number, t.state, v.value FROM trials t LEFT JOIN trial_values v "
                "ON v.trial_id = t.trial_id WHERE t.state IN ('COMPLETE', 'PRUNED') "
                "ORDER BY t.number").fetchall()
    except sqlite3.Error:
        return []
    return [(int(n), str(s), v) for n, s, v in rows]


def test_a_killed_study_resumes_with_its_earlier_trials(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE, encoding="utf-8")
    out = tmp_path / "out"
    args = _cli("--trials", "10", "--space", str(space), "--out", str(out), "--seed", "0",
                "--set", "train.epochs=3", "--set", "model.width=16", "--json")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(),
                            cwd=tmp_path, start_new_session=True)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and len(_finished(out / "study.db")) < 3:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    before = _finished(out / "study.db")
    assert 3 <= len(before) < 10, "the study finished before it could be killed"
    # the same command again (here through the Python API: no second interpreter start)
    r = td.tune(None, trials=10, space=space, out=out, seed=0,
                overrides=["train.epochs=3", "model.width=16"])
    after = _finished(out / "study.db")
    assert after[:len(before)] == before  # the earlier trials are kept as they were
    assert len(after) == 10 and r.n_complete + r.n_pruned_doctor + r.n_pruned_metric == 10


def _random_study(pruned_by_doctor: int, seed: int) -> optuna.Study:
    """A study of complete trials with random curves (and some doctor-pruned ones first)."""
    import random

    rng = random.Random(seed)
    study = optuna.create_study(direction="maximize" if seed % 2 == 0 else "minimize")
    for _ in range(pruned_by_doctor):
        t = study.ask()
        t.report(0.1, 0)
        t.set_user_attr("pruned_by", PRUNED_BY_DOCTOR)
        study.tell(t, state=optuna.trial.TrialState.PRUNED)
    for _ in range(rng.randint(0, 8)):
        t = study.ask()
        for step in range(rng.randint(1, 6)):
            t.report(rng.random(), step)
        study.tell(t, rng.random())
    return study


def test_the_doctor_median_pruner_decides_as_optunas_median_pruner_without_doctor_prunes() -> None:
    import random

    from torchdoctor.tune import DoctorMedianPruner

    rng = random.Random(0)
    decisions = 0
    for seed in range(60):
        study = _random_study(0, seed)
        ours, ref = DoctorMedianPruner(3, 1), optuna.pruners.MedianPruner(3, 1)
        t = study.ask()
        for step in range(5):
            t.report(rng.random() if step != 3 or seed % 7 else float("nan"), step)
            frozen = study.trials[-1]  # the running trial as should_prune sees it
            assert ours.prune(study, frozen) == ref.prune(study, frozen), (seed, step)
            decisions += ref.prune(study, frozen)
    assert decisions >= 10  # the comparison covered pruning decisions, not only "no"


def test_the_doctor_median_pruner_counts_doctor_prunes_toward_its_startup() -> None:
    from torchdoctor.tune import DoctorMedianPruner

    study = optuna.create_study(direction="maximize")
    for _ in range(4):  # broken trials the doctor pruned
        t = study.ask()
        t.report(0.1, 0)
        t.set_user_attr("pruned_by", PRUNED_BY_DOCTOR)
        study.tell(t, state=optuna.trial.TrialState.PRUNED)
    t = study.ask()  # one healthy complete trial
    for step in range(3):
        t.report(0.9, step)
    study.tell(t, 0.9)
    t = study.ask()
    t.report(0.5, 0)
    t.report(0.6, 1)
    frozen = study.trials[-1]
    assert DoctorMedianPruner(5, 1).prune(study, frozen)  # 1 complete + 4 doctor = 5
    assert not optuna.pruners.MedianPruner(5, 1).prune(study, frozen)  # waits for 5 complete


def test_timeout_stops_starting_trials(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(TINY_SPACE, encoding="utf-8")
    t0 = time.perf_counter()
    r = td.tune(None, trials=10_000, space=space, out=tmp_path / "o", overrides=TINY,
                timeout=1.0, seed=0)
    assert 1 <= r.n_trials < 10_000
    assert time.perf_counter() - t0 < 60


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"storage": "nosuchdb://x"}, "--storage 'nosuchdb://x': unknown database 'nosuchdb'"),
    ({"storage": "study.db"}, "--storage 'study.db': not a database URL"),
    ({"trials": 0}, "--trials 0: must be a whole number in 1..100000"),
    ({"workers": 0}, "--workers 0: must be a whole number"),
    ({"timeout": -1}, "--timeout -1: must be a positive number of seconds"),
    ({"pruner": "hyperband"}, "pruner 'hyperband': allowed: median, none"),
    ({"study": ""}, "--study '': must be a non-empty name"),
])
def test_bad_arguments_are_refused_in_one_line(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        td.tune(None, out=tmp_path / "o", **kwargs)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_an_unreachable_database_is_one_line_with_the_password_masked() -> None:
    from torchdoctor.tune import open_storage, public_url

    url = "postgresql://user:s3cret@127.0.0.1:1/db"
    assert "s3cret" not in public_url(url) and "user:***@127.0.0.1:1/db" in public_url(url)
    with pytest.raises(ValueError) as info:
        open_storage(url)
    text = str(info.value)
    assert "s3cret" not in text and "\n" not in text
    assert text.startswith("--storage 'postgresql://user:***@127.0.0.1:1/db': cannot open")


def test_doctor_pruned_trials_are_counted_and_listed_in_the_report(tmp_path: Path) -> None:
    out = tmp_path / "o"
    # every trial has a constant initialization: identical units, an error finding
    r = td.tune(None, trials=2, space={"model.init": ["constant"], "train.lr": [0.05, 0.1]},
                out=out, overrides=TINY, seed=0)
    assert (r.n_pruned_doctor, r.n_complete, r.n_pruned_metric) == (2, 0, 0)
    assert r.best_value is None and r.best_params == {} and r.best_config is None
    assert not (out / "best_config.yaml").exists()
    study = optuna.load_study(study_name=r.study, storage=f"sqlite:///{out / 'study.db'}")
    codes = {t.user_attrs["finding_code"] for t in study.trials}
    assert codes <= set(td.SYMPTOM_CODES) and len(codes) == 1
    html = (out / "tune.html").read_text(encoding="utf-8")
    pruned = html[html.index('<section id="pruned">'):]
    assert codes.pop() in pruned and pruned.count("<td>doctor</td>") == 2
    assert "No trial completed." in html
