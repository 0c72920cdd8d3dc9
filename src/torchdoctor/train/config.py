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

from torchdoctor.rundir import atomic_write_text, show
from torchdoctor.train._schema import (
    DATASET_NAMES,
    Config,
    DataConfig,
    DiscriminatorConfig,
    GanConfig,
    GeneratorConfig,
    ModelConfig,
    TargetConfig,
    TrainConfig,
)

__all__ = [
    "DATASET_NAMES",
    "Config",
    "ConfigError",
    "DataConfig",
    "DiscriminatorConfig",
    "GanConfig",
    "GeneratorConfig",
    "ModelConfig",
    "TargetConfig",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "dump_config",
    "first_difference",
    "load_config",
    "parse_override",
    "read_config_file",
]

_SECTIONS: dict[str, type[BaseModel]] = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "target": TargetConfig,
    "gan": GanConfig,
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
        value = _load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {_show(raw)} is not valid YAML "
                          f"({_yaml_problem(exc)})") from None
    _check_tree(value, f"--set {key}")
    if isinstance(value, str) and raw.strip() == value and _FLOAT_RE.match(value):
        value = float(value)  # YAML 1.1 reads 1e-3 as a string; users mean a number
    return parts, value


_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of the nested dict ``raw`` with each ``KEY=VALUE`` override set.

    A mapping value is merged into the section it names (``--set 'train={epochs: 1}'`` sets
    ``train.epochs`` and keeps the other ``train`` keys).
    """
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
        old = node.get(parts[-1])
        if isinstance(value, dict) and isinstance(old, dict):
            node[parts[-1]] = _merge(old, value)
        else:
            node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
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
        raw = read_config_file(path)
    return config_from_dict(apply_overrides(raw, overrides or []))


#: Largest config file read (a config is a few hundred bytes).
MAX_CONFIG_BYTES = 1_000_000
#: Most values a config may hold once YAML aliases are expanded.
MAX_CONFIG_VALUES = 10_000


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping in a YAML config file, checked at the door.

    Raises:
        ConfigError: (one line naming the file, and the line for YAML errors) the path is
            missing or a directory, the file is too large, not UTF-8, not valid YAML, has a
            duplicate key, a recursive alias, or does not hold a mapping of sections.
    """
    p = Path(path)
    name = f"config file {_show(str(p))}"
    try:
        if p.is_dir():
            raise ConfigError(f"{name}: is a directory; expected a YAML file")
        if not p.is_file():
            raise ConfigError(f"{name} does not exist")
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{name}: {size} bytes; a config file holds at most {MAX_CONFIG_BYTES}")
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); save it as UTF-8") from None
    try:
        raw = _load_yaml(text)
    except yaml.constructor.ConstructorError as exc:
        if "recursive" in str(exc.problem):
            raise ConfigError(f"{name}{_yaml_where(exc)}: a YAML alias refers to its own anchor "
                              "(a recursive structure); not allowed in a config") from None
        raise ConfigError(f"{name}{_yaml_where(exc)}: not valid YAML ({_yaml_problem(exc)})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}{_yaml_where(exc)}: not valid YAML ({_yaml_problem(exc)})") from None
    except RecursionError:
        raise ConfigError(f"{name}: nested too deeply") from None
    _check_tree(raw, name)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: must hold a mapping of sections (data:, model:, train:, "
                          f"target:), got a {type(raw).__name__}")
    return raw


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            continue  # unhashable: the constructor below names it
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {_show(key)} (first at line {first})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def _yaml_where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or type(exc).__name__
    return " ".join(str(problem).split())


def _check_tree(value: Any, name: str) -> None:
    """Refuse a recursive structure (an alias inside its own anchor) or one too large."""
    count = 0
    stack: list[tuple[Any, frozenset[int]]] = [(value, frozenset())]
    while stack:
        node, path = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            raise ConfigError(f"{name}: holds more than {MAX_CONFIG_VALUES} values once its "
                              "aliases are expanded; a config holds a few dozen")
        if isinstance(node, (dict, list)):
            if id(node) in path:
                raise ConfigError(f"{name}: a YAML alias refers to its own anchor (a recursive "
                                  "structure); not allowed in a config")
            inner = path | {id(node)}
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, inner) for c in children)


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
        return f"unknown key {_show(key)}; allowed keys here: {', '.join(allowed)}"
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
            msg = msg.replace("{" + bound + "}", _num(ctx[bound]))
    text = f"{key} = {shown}: {msg}"
    if allowed and etype not in _RANGE_TYPES and etype != "value_error":
        text += f" (allowed: {allowed})"
    elif etype in _TYPE_ERRORS:
        bounds = _range_text(loc)
        if bounds:
            text += f" (allowed: {bounds})"
    return text


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e16 else f"{v:g}"


def _range_text(loc: list[str]) -> str:
    """``"0 <= seed < 4294967296"`` from a numeric field's bounds, else ''."""
    model = _field_model(loc[:-1]) if loc else None
    field = model.model_fields.get(loc[-1]) if model is not None else None
    if field is None:
        return ""
    lo = hi = ""
    for m in field.metadata:
        for attr, fmt in (("ge", "{} <= "), ("gt", "{} < ")):
            if getattr(m, attr, None) is not None:
                lo = fmt.format(_num(getattr(m, attr)))
        for attr, fmt in (("le", " <= {}"), ("lt", " < {}")):
            if getattr(m, attr, None) is not None:
                hi = fmt.format(_num(getattr(m, attr)))
    return f"{lo}{loc[-1]}{hi}" if lo or hi else ""


_TYPE_ERRORS = {"int_parsing", "int_parsing_size", "int_type", "int_from_float", "float_parsing",
                "float_type"}
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
    "int_parsing_size": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "model_type": "must be a section (a mapping of keys)",
    "dict_type": "must be a section (a mapping of keys)",
}


def _show(value: Any) -> str:
    """A value as a message shows it: YAML spelling of booleans and null, cut to 60 characters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{...}"
    return show(value, 60)


def _field_model(loc: list[str]) -> type[BaseModel] | None:
    """The section model at the dotted path ``loc`` (``[]``: the config; ``["gan",
    "generator"]``: a nested section), or None."""
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(part)
        sub = field.annotation if field is not None else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            return None
        model = sub
    return model


def _allowed_keys(section_loc: list[str]) -> list[str]:
    model = _field_model(section_loc)
    return list(model.model_fields) if model is not None else []


def _allowed_values(loc: list[str]) -> str:
    """Human list of allowed values for a Literal field, else ''."""
    model = _field_model(loc[:-1]) if len(loc) >= 2 else None
    if model is None:
        return ""
    field = model.model_fields.get(loc[-1])
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
