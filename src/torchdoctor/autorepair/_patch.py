"""Config patches: dotted keys of the YAML config mapped to new values.

A remedy's ``patch`` is ``{"model.init": "kaiming_normal", "train.lr": "x0.1"}``. Values are
absolute, except strings of the form ``"x<factor>"``, which multiply the current value (``"x0.1"``: ten times lower). Applying a patch validates the whole result, so a
patch that cannot apply to a config (unknown key, value out of range, a norm the architecture
does not allow) is reported with the reason instead of raising.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torchdoctor.autorepair._remedy_patches import patch_dict
from torchdoctor.train.config import Config, ConfigError, config_from_dict


@dataclass(frozen=True)
class PatchResult:
    """Outcome of :func:`apply_patch`.

    Attributes:
        config: the patched config, or None when the patch does not apply.
        changes: ``{key: (old, new)}`` for every key whose value changed.
        reason: why the patch does not apply (empty when it does).
    """

    config: Config | None
    changes: dict[str, tuple[Any, Any]]
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.config is not None and bool(self.changes)


def get_key(d: dict[str, Any], key: str) -> Any:
    """Value at dotted ``key`` of nested dict ``d`` (KeyError naming the key when absent)."""
    node: Any = d
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def apply_patch(cfg: Config, patch: dict[str, Any]) -> PatchResult:
    """Apply a dotted-key patch to ``cfg``; never raises for a patch that does not fit.

    Values are resolved by :func:`~torchdoctor.autorepair._remedy_patches.patch_dict` (``"x<factor>"``
    multiplies; integers stay integers, at least 1); the result is validated as a whole.
    """
    raw = cfg.to_dict()
    for key in patch:
        try:
            get_key(raw, key)
        except KeyError:
            return PatchResult(None, {}, f"{key}: not a config key")
    try:
        new_raw = patch_dict(raw, patch)
    except ValueError as exc:
        return PatchResult(None, {}, str(exc))
    changes = {k: (get_key(raw, k), get_key(new_raw, k)) for k in patch
               if get_key(raw, k) != get_key(new_raw, k)}
    if not changes:
        return PatchResult(cfg, {}, "changes nothing in this config")
    try:
        return PatchResult(config_from_dict(new_raw), changes)
    except ConfigError as exc:
        return PatchResult(None, {}, str(exc))


def merge_patches(patches: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Merge patches in priority order; a later patch that sets a key differently is dropped whole.

    Returns the merged patch and one reason per dropped patch.
    """
    merged: dict[str, Any] = {}
    dropped: list[str] = []
    for p in patches:
        clash = [k for k, v in p.items() if k in merged and merged[k] != v]
        if clash:
            dropped.append(f"{p} conflicts with {{{', '.join(f'{k}: {merged[k]!r}' for k in clash)}}}")
            continue
        merged.update(p)
    return merged, dropped


def config_diff(before: Config, after: Config) -> dict[str, tuple[Any, Any]]:
    """``{dotted key: (before, after)}`` for every key that differs."""
    out: dict[str, tuple[Any, Any]] = {}

    def walk(a: Any, b: Any, prefix: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in a:
                walk(a[k], b.get(k), f"{prefix}.{k}" if prefix else k)
        elif a != b:
            out[prefix] = (a, b)

    walk(before.to_dict(), after.to_dict(), "")
    return out
