"""The search space: dotted config keys mapped to Optuna distributions (see docs/tune.md).

A space file is a YAML mapping, one entry per config key::

    train.lr: {type: float, low: 1.0e-4, high: 0.3, log: true}
    train.optimizer: {type: categorical, choices: [sgdm, adam, adamw]}
    model.depth: {type: int, low: 1, high: 6}

Every entry is checked at the door against the config schema: the key must be a config key,
the distribution well formed, and each bound or choice a value the config accepts when set
alone on the base config. Optuna is only imported when a trial samples (:meth:`Param.suggest`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from torchdoctor.rundir import show
from torchdoctor.train.config import Config, ConfigError, config_from_dict

__all__ = ["KINDS", "Param", "default_space", "load_space", "parse_space", "space_to_dict"]

#: The distribution types of a space entry.
KINDS: tuple[str, ...] = ("float", "int", "categorical")
_FIELDS = {"float": {"type", "low", "high", "log", "step"},
           "int": {"type", "low", "high", "log", "step"},
           "categorical": {"type", "choices"}}
#: Largest space file read (a space is a few hundred bytes).
MAX_SPACE_BYTES = 100_000


@dataclass(frozen=True)
class Param:
    """One searched config key.

    Attributes:
        key: dotted config key, e.g. ``"train.lr"``.
        kind: ``"float"``, ``"int"`` or ``"categorical"``.
        low, high: inclusive bounds (float, int).
        log: sample on a log scale (float, int).
        step: grid step (float, int), ``None`` for none.
        choices: the values (categorical).
    """

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The value an ``optuna.Trial`` samples for this key."""
        if self.kind == "float":
            return trial.suggest_float(self.key, float(self.low), float(self.high), log=self.log,  # type: ignore[arg-type]
                                       step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log,  # type: ignore[arg-type]
                                     step=int(self.step or 1))
        return trial.suggest_categorical(self.key, list(self.choices))

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this entry can sample (a base config's value, say)."""
        if self.kind == "categorical":
            return any(value == c and type(value) is type(c) for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        if not self.low <= value <= self.high:  # type: ignore[operator]
            return False
        if self.step is not None:
            k = (value - self.low) / self.step  # type: ignore[operator]
            return abs(k - round(k)) < 1e-9
        return True

    def to_dict(self) -> dict[str, Any]:
        """The entry as it is written in a space file."""
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


def space_to_dict(space: list[Param]) -> dict[str, dict[str, Any]]:
    """``{key: entry}``: the space as a space file holds it."""
    return {p.key: p.to_dict() for p in space}


def default_space(base: Config) -> list[Param]:
    """The default search over the classic knobs: preprocessing, batch size, learning rate,
    optimizer, loss, activation, epochs, initialization, normalization, width and depth.

    Ranges are the usual ones for small networks (rates 1e-4..0.3 on a log scale; Bengio 2012,
    "Practical recommendations for gradient-based training of deep architectures"); the epoch
    range is half to all of the base config's ``train.epochs``.
    """
    t = base.train
    space = [
        Param("data.normalize", "categorical", choices=("none", "standard", "minmax")),
        Param("train.batch_size", "categorical", choices=(16, 32, 64, 128)),
        Param("train.lr", "float", 1e-4, 0.3, log=True),
        Param("train.optimizer", "categorical", choices=("sgdm", "adam", "adamw", "rmsprop")),
        Param("model.activation", "categorical", choices=("relu", "leaky_relu", "elu", "gelu", "tanh")),
        Param("train.epochs", "int", max(1, t.epochs // 2), t.epochs),
        Param("model.init", "categorical",
              choices=("default", "kaiming_normal", "xavier_uniform", "lecun_normal")),
        Param("model.norm", "categorical", choices=("none", "batch", "layer")),
        Param("model.width", "int", 16, 256, log=True),
        Param("model.depth", "int", 1, 6),
    ]
    if t.task == "classification":
        space.insert(4, Param("train.loss", "categorical", choices=("cross_entropy", "focal")))
    return space


def load_space(path: str | os.PathLike[str], base: Config) -> list[Param]:
    """Read and check a space file (``yaml.safe_load``).

    Raises:
        ValueError: one line naming the file and the bad entry.
    """
    p = Path(path)
    name = f"--space {show(str(p))}"
    try:
        if not p.is_file():
            raise ValueError(f"{name}: no such file")
        if p.stat().st_size > MAX_SPACE_BYTES:
            raise ValueError(f"{name}: larger than {MAX_SPACE_BYTES} bytes; a space file holds "
                             "a few entries")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ValueError(f"{name}: not valid YAML ({' '.join(str(problem).split())})") from None
    try:
        return parse_space(raw, base)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def parse_space(raw: Any, base: Config) -> list[Param]:
    """Check a space given as ``{dotted key: entry}`` (a space file's contents).

    Raises:
        ValueError: one line naming the bad entry and what is allowed.
    """
    if not isinstance(raw, dict) or not raw:
        raise ValueError("a space is a non-empty mapping of dotted config keys to "
                         "distributions, e.g. train.lr: {type: float, low: 1.0e-4, high: 0.3, log: true}")
    leaves = _leaf_keys(base.to_dict())
    space = []
    for key, entry in raw.items():
        if not isinstance(key, str) or key not in leaves:
            close = [k for k in leaves if isinstance(key, str) and k.endswith("." + key.split(".")[-1])]
            hint = f" (did you mean {close[0]}?)" if close else " (keys in docs/config.md)"
            raise ValueError(f"entry {show(key)}: not a config key{hint}")
        param = _parse_entry(key, entry)
        _check_against_schema(param, base)
        space.append(param)
    return space


def _leaf_keys(d: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _leaf_keys(v, f"{prefix}{k}.")
        else:
            out.add(f"{prefix}{k}")
    return out


def _number(key: str, field: str, v: Any, integer: bool) -> float | int:
    if isinstance(v, str):  # YAML 1.1 reads 1e-4 as a string
        try:
            v = float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"entry {key}: {field} = {show(v)} must be a finite number")
    if integer:
        if float(v) != int(v):
            raise ValueError(f"entry {key}: {field} = {show(v)} must be a whole number for type int")
        return int(v)
    return float(v)


def _parse_entry(key: str, entry: Any) -> Param:
    if isinstance(entry, list):  # shorthand: a list is a categorical
        entry = {"type": "categorical", "choices": entry}
    if not isinstance(entry, dict):
        raise ValueError(f"entry {key}: must be a mapping like {{type: float, low: 0.001, "
                         f"high: 0.1, log: true}} or a list of choices, got {show(entry)}")
    kind = entry.get("type")
    if kind not in KINDS:
        raise ValueError(f"entry {key}: type = {show(kind)}; allowed: {', '.join(KINDS)}")
    unknown = sorted(str(f) for f in entry if f not in _FIELDS[kind])
    if unknown:
        raise ValueError(f"entry {key}: unknown field {unknown[0]} for type {kind}; allowed: "
                         f"{', '.join(sorted(_FIELDS[kind]))}")
    if kind == "categorical":
        choices = entry.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ValueError(f"entry {key}: choices must be a non-empty list, got {show(choices)}")
        for c in choices:
            if c is not None and not isinstance(c, (str, int, float, bool)):
                raise ValueError(f"entry {key}: choice {show(c)} must be a string, number, "
                                 "true/false or null")
        if len({repr(c) for c in choices}) != len(choices):
            raise ValueError(f"entry {key}: choices repeat a value ({show(choices)})")
        return Param(key, kind, choices=tuple(choices))
    integer = kind == "int"
    for f in ("low", "high"):
        if f not in entry:
            raise ValueError(f"entry {key}: type {kind} needs low and high")
    low = _number(key, "low", entry["low"], integer)
    high = _number(key, "high", entry["high"], integer)
    if low > high:
        raise ValueError(f"entry {key}: low = {low} is greater than high = {high}")
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise ValueError(f"entry {key}: log = {show(log)} must be true or false")
    if log and low <= 0:
        raise ValueError(f"entry {key}: log: true needs low > 0, got low = {low}")
    step = entry.get("step")
    if step is not None:
        step = _number(key, "step", step, integer)
        if step <= 0:
            raise ValueError(f"entry {key}: step = {step} must be > 0")
        if log:
            raise ValueError(f"entry {key}: step and log: true cannot be combined (Optuna)")
    return Param(key, kind, low, high, log=log, step=step)


def _check_against_schema(param: Param, base: Config) -> None:
    """Each bound or choice must be a value the config accepts for this key on ``base``."""
    values = list(param.choices) if param.kind == "categorical" else [param.low, param.high]
    if param.kind == "float" and param.step is None and param.low != param.high:
        # an inner value too: a float range over an integer key fails here, not mid-study
        values.append(param.low + 0.37 * (param.high - param.low))  # type: ignore[operator]
    raw = base.to_dict()
    section, _, leaf = param.key.rpartition(".")
    for v in values:
        patched = {**raw}
        node = patched
        for part in section.split(".") if section else []:
            node[part] = dict(node[part])
            node = node[part]
        node[leaf] = v
        try:
            config_from_dict(patched)
        except ConfigError as exc:
            raise ValueError(f"entry {param.key}: value {show(v)} is not allowed by the config "
                             f"({exc})") from None
