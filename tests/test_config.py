"""Config schema: defaults, every error message, --set typing (through the public API and the CLI)."""

from __future__ import annotations

import pytest
import yaml

from torchdoctor.train.config import ConfigError, load_config, parse_override


def test_defaults_match_design() -> None:
    cfg = load_config(None)
    d = cfg.to_dict()
    assert d["seed"] == 0
    assert d["data"] == {"name": "digits", "normalize": "standard", "scale": 1.0, "val_fraction": 0.2,
                         "shuffle": True, "imbalance": 1.0, "label_noise": 0.0}
    assert d["model"]["arch"] == "mlp" and d["model"]["depth"] == 3 and d["model"]["width"] == 64
    assert d["model"]["init_std"] == 0.01 and d["model"]["output_activation"] == "none"
    t = d["train"]
    assert (t["epochs"], t["batch_size"], t["optimizer"], t["lr"], t["momentum"]) == (20, 64, "sgdm", 0.05, 0.9)
    assert t["grad_clip"] is None and t["zero_grad"] is True and t["eval_mode"] is True
    assert d["target"] == {"shift": "none", "size": 300, "alpha": 1.0, "strength": 0.7, "sigma": 0.1}


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        (["train.lr=-0.1"], r"^train\.lr = -0\.1: must be > 0$"),
        (["train.lr=0"], r"^train\.lr = 0: must be > 0$"),
        (["data.val_fraction=1.5"], r"^data\.val_fraction = 1\.5: must be < 1$"),
        (["data.val_fraction=0"], r"^data\.val_fraction = 0: must be > 0$"),
        (["model.activation=swish"], r"^model\.activation = 'swish': not allowed; allowed: relu, leaky_relu, elu"),
        (["model.norm=bn"], r"model\.norm = 'bn': not allowed; allowed: none, batch, layer, instance, group, switch"),
        (["model.init=he"], r"model\.init = 'he': not allowed; allowed: default, constant"),
        (["train.optimizer=sgdx"], r"train\.optimizer = 'sgdx': not allowed; allowed: gd, sgd, sgdm"),
        (["train.loss=hinge"], r"train\.loss = 'hinge': not allowed; allowed: cross_entropy, mse, focal, nll"),
        (["data.normalize=zscore"], r"data\.normalize = 'zscore': not allowed; allowed: none, standard, minmax, unit"),
        (["data.name=cifar"], r"data\.name = 'cifar': allowed: digits, moons, .*npz:PATH"),
        (["data.foo=1"], r"^unknown key 'data\.foo'; allowed keys here: name, normalize"),
        (["colour=red"], r"^unknown key 'colour'; allowed keys here: seed, data, model, train, target, gan$"),
        (["train.epochs=abc"], r"^train\.epochs = 'abc': must be a whole number \(allowed: 1 <= epochs <= 100000\)$"),
        (["train.epochs=0"], r"^train\.epochs = 0: must be >= 1$"),
        (["train.batch_size=2.5"], r"train\.batch_size = 2\.5: must be a whole number"),
        (["train.momentum=1"], r"^train\.momentum = 1: must be < 1$"),
        (["train.weight_decay=-1"], r"train\.weight_decay = -1: must be >= 0"),
        (["train.grad_clip=0"], r"^train\.grad_clip = 0: must be > 0$"),
        (["train.zero_grad=maybe"], r"^train\.zero_grad = 'maybe': must be true or false$"),
        (["train.lr=.nan"], r"^train\.lr = nan: must be a finite number$"),
        (["data.imbalance=0.5"], r"data\.imbalance = 0\.5: must be >= 1"),
        (["data.label_noise=1"], r"data\.label_noise = 1: must be < 1"),
        (["model.dropout=1.0"], r"model\.dropout = 1\.0: must be < 1"),
        (["model.depth=0"], r"model\.depth = 0: must be >= 1"),
        (["target.shift=both"], r"target\.shift = 'both': not allowed; allowed: none, covariate, label, noise"),
        (["target.alpha=0"], r"target\.alpha = 0: must be > 0"),
        (["train=3"], r"^train = 3: must be a section"),
        (["model.init=normal", "model.init_std=0"], r"^model\.init_std = 0\.0: must be > 0 for init normal$"),
        (["model.norm=instance"], r"^model\.norm = instance: needs spatial inputs"),
        (["train.task=regression"], r"^train\.loss = cross_entropy: a regression task needs loss mse$"),
        (["train.task=gan", "gan.pack=0"], r"^gan\.pack = 0: must be >= 1$"),
        (["seed=-1"], r"^seed = -1: must be >= 0$"),
    ],
)
def test_error_messages_name_key_value_and_rule(overrides: list[str], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_config(None, overrides)


def test_error_is_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, ["model.activation=swish"])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("train.lr=0.1", 0.1), ("train.lr=1e-3", 1e-3), ("train.epochs=5", 5), ("train.zero_grad=false", False),
     ("train.grad_clip=null", None), ("data.name=npz:/tmp/x.npz", "npz:/tmp/x.npz"), ("a.b=[1, 2]", [1, 2]),
     ("a.b='0.1'", "0.1")],
)
def test_set_values_are_yaml_typed(text: str, expected: object) -> None:
    _, value = parse_override(text)
    assert value == expected and type(value) is type(expected)


def test_set_applies_on_top_of_file(tmp_path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"train": {"lr": 0.3, "epochs": 4}, "model": {"width": 16}}))
    cfg = load_config(p, ["train.lr=0.01", "model.depth=5"])
    assert (cfg.train.lr, cfg.train.epochs, cfg.model.width, cfg.model.depth) == (0.01, 4, 16, 5)


@pytest.mark.parametrize("bad", ["train.lr", "=3", "train..lr=1"])
def test_bad_set_syntax(bad: str) -> None:
    with pytest.raises(ConfigError, match="--set"):
        load_config(None, [bad])


def test_missing_and_invalid_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(lst)


def test_yaml_is_read_safely(tmp_path) -> None:
    p = tmp_path / "evil.yaml"
    p.write_text("seed: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_shipped_configs_are_valid() -> None:
    from torchdoctor.configs import config_names, config_path

    names = config_names()
    for required in ("digits", "moons", "blobs", "spirals", "mnist1d", "ring8", "grid25"):
        assert required in names
    for n in names:
        load_config(config_path(n))
