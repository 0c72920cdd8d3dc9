"""Loading, overriding and validating configs, with one-line errors that name the key.

>>> cfg = load_config("configs/digits.yaml", overrides=["train.lr=0.1"])
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from torchdoctor.rundir import atomic_write_text
from torchdoctor.train._schema import (
    DATASET_NAMES,
    Config,
    DataConfig,
    ModelConfig,
    TargetConfig,
    TrainConfig,
)

__all__ = [
    "DATASET_NAMES",
    "Config",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "TargetConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "dump_config",
    "first_difference",
    "load_config",
    "parse_override",
]

_SECTIONS: dict[str, type[BaseModel]] = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "target": TargetConfig,
}


class ConfigError(ValueError):
    """A config problem, with a one-line message naming the key, the value and what is allowed."""


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``"train.lr=0.1"`` into (``["train", "lr"]``, ``0.1``); the value is YAML-typed.

    ``null`` gives None, ``true``/``false`` booleans, ``1e-3`` a float, ``[1, 2]`` a list.
    """
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. train.lr=0.1")
    key, raw = text.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"--set {text!r}: the key must be a dotted path like train.lr")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {raw!r} is not valid YAML ({exc.problem})") from None
    if isinstance(value, str) and raw.strip() == value and _FLOAT_RE.match(value):
        value = float(value)  # YAML 1.1 reads 1e-3 as a string; users mean a number
    return parts, value


_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of the nested dict ``raw`` with each ``KEY=VALUE`` override set."""
    out = _deepcopy(raw)
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            if child is None:
                child = node[p] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"--set {'.'.join(parts)}: {p} is not a section")
            node = child
        node[parts[-1]] = value
    return out


def config_from_dict(raw: dict[str, Any] | None) -> Config:
    """Validate a nested dict into a :class:`Config`; raise :class:`ConfigError` on any problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc, raw)) from None


def load_config(
    path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None
) -> Config:
    """Read a YAML config (``yaml.safe_load``), apply ``--set`` overrides, validate.

    Args:
        path: YAML file; ``None`` starts from the defaults.
        overrides: ``["train.lr=0.1", ...]``.
    """
    raw: Any = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist")
        try:
            raw = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(p)!r} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {str(p)!r} must hold a mapping of sections")
    return config_from_dict(apply_overrides(raw, overrides or []))


def dump_config(cfg: Config, path: str | os.PathLike[str]) -> None:
    """Write the fully resolved config as YAML."""
    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def first_difference(old: Any, new: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    """The first dotted key where two nested config dicts differ: ``(key, old, new)``, or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in [*old, *(k for k in new if k not in old)]:
            d = first_difference(old.get(k), new.get(k), f"{prefix}{k}.")
            if d is not None:
                return d
        return None
    if old != new:
        return prefix.rstrip("."), old, new
    return None


# ----------------------------------------------------------------------------- messages

def _first_error(exc: ValidationError, raw: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    etype = err["type"]
    value = err.get("input")
    if etype == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"unknown key {key!r}; allowed keys here: {', '.join(allowed)}"
    if etype == "value_error" and (not loc or isinstance(value, dict)):
        # a section-level validator: its message already names the key
        return str(err["msg"]).removeprefix("Value error, ")
    allowed = _allowed_values(loc)
    shown = _show(value)
    if etype == "literal_error":
        return f"{key} = {shown}: not allowed; allowed: {allowed}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    msg = _RENAMES.get(etype, msg) if etype in _RENAMES else msg
    ctx = err.get("ctx") or {}
    for bound in ("gt", "ge", "lt", "le"):
        if bound in ctx:
            msg = msg.replace("{" + bound + "}", f"{ctx[bound]:g}")
    text = f"{key} = {shown}: {msg}"
    if allowed and etype not in _RANGE_TYPES and etype != "value_error":
        text += f" (allowed: {allowed})"
    return text


_RANGE_TYPES = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_RENAMES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "finite_number": "must be a finite number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "model_type": "must be a section (a mapping of keys)",
    "dict_type": "must be a section (a mapping of keys)",
}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "{...}"
    return str(value)


def _field_model(loc: list[str]) -> type[BaseModel] | None:
    if not loc:
        return Config
    if len(loc) == 1 and loc[0] in _SECTIONS:
        return _SECTIONS[loc[0]]
    return None


def _allowed_keys(section_loc: list[str]) -> list[str]:
    model = _field_model(section_loc)
    return list(model.model_fields) if model is not None else []


def _allowed_values(loc: list[str]) -> str:
    """Human list of allowed values for a Literal field, else ''."""
    if len(loc) < 2 or loc[0] not in _SECTIONS:
        return ""
    field = _SECTIONS[loc[0]].model_fields.get(loc[1])
    if field is None:
        return ""
    if loc == ["data", "name"]:
        return ", ".join(DATASET_NAMES) + ", or npz:PATH"
    args = get_args(field.annotation)
    if args and all(isinstance(a, str) for a in args):
        return ", ".join(args)
    return ""


def _deepcopy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, dict) else v for k, v in d.items()}
