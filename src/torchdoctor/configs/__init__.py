"""The healthy default config of each dataset, shipped with the package."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def config_names() -> list[str]:
    """Names of the shipped configs (``digits``, ``moons``, ...)."""
    return sorted(p.stem for p in _HERE.glob("*.yaml"))


def config_path(name: str) -> Path:
    """Path of the shipped config ``name``."""
    p = _HERE / f"{name}.yaml"
    if not p.is_file():
        raise ValueError(f"no shipped config {name!r}; available: {', '.join(config_names())}")
    return p
