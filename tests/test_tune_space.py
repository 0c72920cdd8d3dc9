"""The tune search space: the default space is valid on the shipped configs, a space file is
checked at the door (one line naming the bad entry), and sampled values land in their ranges."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from torchdoctor.configs import config_names, config_path
from torchdoctor.train.config import Config, load_config
from torchdoctor.tune import Param, default_space, load_space, parse_space, trial_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", config_names())
def test_default_space_is_valid_on_every_shipped_config(name: str) -> None:
    base = load_config(config_path(name))
    space = default_space(base)
    assert parse_space({p.key: p.to_dict() for p in space}, base) == space
    keys = {p.key for p in space}
    # the classic knobs
    assert {"data.normalize", "train.batch_size", "train.lr", "train.optimizer",
            "model.activation", "train.epochs", "model.init", "model.norm", "model.width",
            "model.depth"} <= keys
    assert ("train.loss" in keys) == (base.train.task == "classification")


def test_a_space_file_with_every_kind_parses(tmp_path: Path) -> None:
    f = tmp_path / "space.yaml"
    f.write_text("train.lr: {type: float, low: 1.0e-4, high: 0.3, log: true}\n"
                 "train.momentum: {type: float, low: 0.5, high: 0.9, step: 0.1}\n"
                 "model.depth: {type: int, low: 1, high: 6}\n"
                 "model.width: {type: int, low: 16, high: 256, log: true}\n"
                 "train.optimizer: {type: categorical, choices: [sgdm, adam]}\n"
                 "model.norm: [none, layer]\n", encoding="utf-8")
    space = load_space(f, Config())
    by = {p.key: p for p in space}
    assert by["train.lr"] == Param("train.lr", "float", 1e-4, 0.3, log=True)
    assert by["model.depth"] == Param("model.depth", "int", 1, 6)
    assert by["model.norm"].choices == ("none", "layer")
    assert by["train.momentum"].contains(0.7) and not by["train.momentum"].contains(0.75)


BAD = [
    ("train.lrr: {type: float, low: 0.1, high: 0.5}", "entry 'train.lrr': not a config key"),
    ("lr: {type: float, low: 0.1, high: 0.5}", "did you mean train.lr"),
    ("train: {type: float, low: 0.1, high: 0.5}", "entry 'train': not a config key"),
    ("train.lr: {type: gauss, low: 0.1, high: 0.5}", "type = 'gauss'; allowed: float, int, categorical"),
    ("train.lr: {type: float, low: 0.5, high: 0.1}", "entry train.lr: low = 0.5 is greater than high = 0.1"),
    ("train.lr: {type: float, low: 0, high: 0.1, log: true}", "log: true needs low > 0"),
    ("train.lr: {type: float, low: 0.1}", "needs low and high"),
    ("train.lr: {type: float, low: x, high: 0.1}", "low = 'x' must be a finite number"),
    ("train.lr: {type: float, low: 0.1, high: 0.5, sigma: 2}", "unknown field sigma"),
    ("model.depth: {type: int, low: 1.5, high: 4}", "must be a whole number"),
    ("train.lr: {type: float, low: 0.01, high: 0.1, log: true, step: 0.01}", "cannot be combined"),
    ("train.optimizer: {type: categorical, choices: [sgdm, adamx]}",
     "entry train.optimizer: value 'adamx' is not allowed by the config"),
    ("train.optimizer: {type: categorical, choices: []}", "choices must be a non-empty list"),
    ("train.optimizer: [sgdm, sgdm]", "choices repeat a value"),
    ("train.lr: {type: float, low: 1.0e-4, high: 1.0e+39}", "value 1e+39 is not allowed by the config"),
    ("train.lr: {type: float, low: -1, high: 0.1}", "value -1.0 is not allowed by the config"),
    ("model.depth: {type: float, low: 1, high: 4}", "entry model.depth: value 2.11 is not allowed"),
    ("model.norm: [none, instance]", "value 'instance' is not allowed by the config"),
    ("train.lr: 0.1", "must be a mapping like"),
    ("[1, 2]", "a space is a non-empty mapping"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_space_entry_is_refused_in_one_line_naming_it(tmp_path: Path, text: str,
                                                           message: str) -> None:
    f = tmp_path / "space.yaml"
    f.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_space(f, Config())
    assert message in str(info.value)
    assert "\n" not in str(info.value) and str(info.value).startswith("--space ")


def test_the_cli_gives_exit_2_and_one_line_for_a_bad_space(tmp_path: Path) -> None:
    f = tmp_path / "space.yaml"
    f.write_text("train.lr: {type: float, low: 0.5, high: 0.1}\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "torchdoctor.cli", "tune", "--space", str(f),
                        "--out", str(tmp_path / "out"), "--trials", "2"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert "entry train.lr: low = 0.5 is greater than high = 0.1" in r.stderr
    assert not (tmp_path / "out").exists()


def test_sampled_values_stay_in_their_ranges() -> None:
    import optuna

    base = Config()
    space = default_space(base)
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    for _ in range(40):
        trial = study.ask()
        values = {p.key: p.suggest(trial) for p in space}
        for p in space:
            assert p.contains(values[p.key]), (p, values[p.key])
        lr = values["train.lr"]
        assert 1e-4 <= lr <= 0.3 and math.isfinite(lr)
        cfg = trial_config(base, values)  # every sample of the default space is a valid config
        assert cfg.train.lr == lr and cfg.model.depth == values["model.depth"]
        study.tell(trial, 0.0)
