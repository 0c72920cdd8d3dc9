"""Run the bug gallery and score the doctor: dev half and held-out half side by side.

Every script in ``buggy/`` and ``healthy/`` declares ``EXPECTED`` (the symptom codes of its
cause) and ``main() -> td.Doctor``. A buggy script is *named* when every expected code is
reported at severity warning or above; a healthy script is *quiet* when nothing is reported at
warning or above. The scripts are split once, by a hash of the file name, into a development
half (rules may be tuned on it) and a held-out half (only measured)::

    held_out = int(sha256(file_name).hexdigest(), 16) % 2 == 1

Run ``python examples/gallery.py [--jobs N] [--json OUT] [--markdown] [--seed-shift K] [NAME ...]``;
``tests/test_gallery.py`` imports this file to run the same checks.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
KINDS = ("buggy", "healthy")


def scripts() -> list[Path]:
    """Every gallery script, buggy first, sorted by name."""
    return [p for kind in KINDS for p in sorted((HERE / kind).glob("*.py"))]


def held_out(path: Path) -> bool:
    """The split rule: held out iff the SHA-256 of the file name (with extension) is odd."""
    return int(hashlib.sha256(path.name.encode()).hexdigest(), 16) % 2 == 1


def split(path: Path) -> str:
    """``"held_out"`` or ``"dev"``."""
    return "held_out" if held_out(path) else "dev"


def load(path: Path) -> ModuleType:
    """Import a gallery script from its file (without running ``main``)."""
    spec = importlib.util.spec_from_file_location(f"gallery_{path.parent.name}_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"path must be a Python file, got {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Result:
    """One script's outcome.

    Attributes:
        name: ``"buggy/x"`` or ``"healthy/x"``.
        split: ``"dev"`` or ``"held_out"``.
        expected: the script's ``EXPECTED`` codes.
        found: codes reported at warning or above.
        ok: buggy: every expected code found; healthy: nothing found.
        seconds: wall time of ``main()``.
        findings: ``"severity:code@layer"`` of every finding, info included.
    """

    name: str
    split: str
    expected: list[str]
    found: list[str]
    ok: bool
    seconds: float
    findings: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.name.split("/")[0]


def run(path: Path, seed_shift: int = 0) -> Result:
    """Run one script in this process (one intra-op thread) and score it.

    Args:
        path: the script.
        seed_shift: added to every ``torch.manual_seed(s)`` the script calls (its model
            initialization and batch order change; its data stay): a verdict that holds for
            several shifts does not hang on one lucky seed.
    """
    import torch

    from torchdoctor.findings import SEVERITY_RANK

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    seed = torch.manual_seed
    if seed_shift:
        torch.manual_seed = lambda s: seed(s + seed_shift)  # type: ignore[assignment]
    try:
        module = load(path)
        t0 = time.perf_counter()
        findings = list(module.main().findings)
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
        torch.manual_seed = seed  # type: ignore[assignment]
    found = sorted({f.code for f in findings if SEVERITY_RANK[f.severity] >= SEVERITY_RANK["warning"]})
    expected = sorted(module.EXPECTED)
    ok = set(expected) <= set(found) if path.parent.name == "buggy" else not found
    return Result(f"{path.parent.name}/{path.stem}", split(path), expected, found, ok, round(seconds, 3),
                  [f"{f.severity}:{f.code}@{f.layer}" for f in findings])


def summary(results: list[Result]) -> dict[str, dict[str, list[int]]]:
    """``{split: {kind: [ok, total]}}`` for ``split`` in dev, held_out, all."""
    out: dict[str, dict[str, list[int]]] = {}
    for sp in ("dev", "held_out", "all"):
        out[sp] = {}
        for kind in KINDS:
            rs = [r for r in results if r.kind == kind and (sp == "all" or r.split == sp)]
            out[sp][kind] = [sum(r.ok for r in rs), len(rs)]
    return out


def _table(results: list[Result]) -> str:
    lines = [f"{'script':48} {'split':8} {'ok':3} {'sec':>5}  expected -> found (warning+)"]
    for r in results:
        lines.append(f"{r.name:48} {r.split:8} {'yes' if r.ok else 'NO':3} {r.seconds:5.1f}  "
                     f"{','.join(r.expected) or '-'} -> {','.join(r.found) or '-'}")
    for sp, kinds in summary(results).items():
        b, h = kinds["buggy"], kinds["healthy"]
        lines.append(f"{sp:8}: buggy named {b[0]}/{b[1]}, healthy quiet {h[0]}/{h[1]}")
    return "\n".join(lines)


def _what(path: Path) -> str:
    """The first docstring line of a script, without its ``Bug:``/``Healthy:`` prefix."""
    first = (load(path).__doc__ or "").strip().splitlines()[0]
    return first.split(":", 1)[1].strip() if first.split(":", 1)[0] in ("Bug", "Healthy") else first


def markdown(results: list[Result]) -> str:
    """The README tables: one row per script (bold = an expected code), then the scores."""
    by_name = {f"{p.parent.name}/{p.stem}": p for p in scripts()}
    out = []
    for kind in KINDS:
        out += ["", f"| script | half | {'bug' if kind == 'buggy' else 'what'} | expected | "
                    "doctor reported (warning and above) |", "|---|---|---|---|---|"]
        for r in (r for r in results if r.kind == kind):
            path = by_name[r.name]
            found = ", ".join(f"**{c}**" if c in r.expected else c for c in r.found) or "nothing (quiet)"
            exp = ", ".join(f"`{c}`" for c in r.expected) or "none"
            out.append(f"| [`{path.name}`]({kind}/{path.name}) | {r.split.replace('_', '-')} | "
                       f"{_what(path)} | {exp} | {found} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="script stems to run (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--markdown", action="store_true", help="also print the README tables")
    parser.add_argument("--seed-shift", type=int, default=0,
                        help="add this to every torch.manual_seed of the scripts (default 0)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    paths = [p for p in scripts() if not args.names or p.stem in args.names]
    shifts = [args.seed_shift] * len(paths)
    if args.jobs == 1:
        results = [run(p, k) for p, k in zip(paths, shifts, strict=True)]
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run, paths, shifts))
    print(_table(results))
    if args.markdown:
        print(markdown(results))
    if args.json is not None:
        doc: dict[str, Any] = {"results": [asdict(r) for r in results], "summary": summary(results)}
        args.json.write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
