"""The run directory: resolved config, incremental metrics, atomic checkpoints.

``runs/<timestamp>-<name>/`` (or ``--out DIR``) receives ``config.yaml``, ``metrics.jsonl``
(one line per epoch, flushed at once) and ``checkpoint.pt`` (replaced atomically each epoch,
loadable with ``weights_only=True``).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"


def new_run_dir(name: str, root: str | os.PathLike[str] = "runs") -> Path:
    """Create ``root/<YYYYmmdd-HHMMSS>-<name>`` (a numeric suffix if it exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "run"
    base = Path(root) / f"{stamp}-{safe}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    path.mkdir(parents=True)
    return path


def jsonable(value: Any) -> Any:
    """Floats that JSON can carry: NaN → None, ±Inf → ±1e308 strings are avoided."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class MetricsLog:
    """Append-only ``metrics.jsonl``: each :meth:`write` is one line on disk at once."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(jsonable(row)) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a truncated last line (killed run) is skipped."""
    p = Path(path)
    if not p.is_file():
        return []
    rows = []
    for line in p.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def rewrite_jsonl(path: str | os.PathLike[str], rows: list[dict[str, Any]]) -> None:
    """Replace a JSONL file atomically by ``rows``."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(jsonable(r)) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, p)


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file, then ``os.replace``: a kill never leaves half a file."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, p)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no checkpoint at {str(p)!r}")
    return torch.load(p, map_location="cpu", weights_only=True)
