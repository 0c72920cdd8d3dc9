"""Run the GAN loop gallery and score the GanDoctor: dev half and held-out half side by side.

Every script in ``gan_loops/`` declares ``EXPECTED`` (the GAN symptom codes of its fault, or an
empty set for a healthy loop) and ``main(steps=None, seed=0) -> td.GanDoctor``. A faulty loop
is *named* when every expected code is reported (any severity); a healthy loop is *quiet* when
nothing is reported at warning or above. The split, fixed once by the file name::

    held_out = int(sha256(file_name).hexdigest(), 16) % 2 == 1

Thresholds are tuned on the development half only. Run
``python examples/gan_gallery.py [--jobs N] [--seed S] [NAME ...]``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "gan_loops"


def scripts() -> list[Path]:
    """Every GAN loop, sorted by name."""
    return sorted(HERE.glob("*.py"))


def held_out(path: Path) -> bool:
    """The split rule: held out iff the SHA-256 of the file name (with extension) is odd."""
    return int(hashlib.sha256(path.name.encode()).hexdigest(), 16) % 2 == 1


def run_one(path: Path, seed: int = 0) -> dict[str, Any]:
    """Run one loop; its expected and reported codes, verdict and duration."""
    spec = importlib.util.spec_from_file_location(f"gan_loop_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    t0 = time.perf_counter()
    gd = module.main(seed=seed)
    found = gd.findings
    expected = set(module.EXPECTED)
    loud = sorted({f"{f.code}{'@' + f.layer if f.layer else ''}" for f in found
                   if f.severity in ("warning", "error")})
    codes = {f.code for f in found}
    ok = expected <= codes if expected else not loud
    return {"name": path.stem, "split": "held_out" if held_out(path) else "dev",
            "expected": sorted(expected), "reported": loud, "all": sorted(codes), "ok": ok,
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="loop names (default: all)")
    ap.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of every loop (default 0)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        print(f"--jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    paths = [p for p in scripts() if not args.names or p.stem in args.names]
    if not paths:
        print(f"names must be loops of {HERE}, got {args.names}", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, paths, [args.seed] * len(paths)))
    for r in results:
        mark = "ok  " if r["ok"] else "MISS"
        print(f"{mark} {r['split']:8} {r['name']:28} expected={r['expected'] or '-'} "
              f"reported={r['reported'] or '-'} ({r['seconds']} s)")
    for half in ("dev", "held_out"):
        rs = [r for r in results if r["split"] == half]
        faulty = [r for r in rs if r["expected"]]
        healthy = [r for r in rs if not r["expected"]]
        named = sum(r["ok"] for r in faulty)
        alarms = sum(not r["ok"] for r in healthy)
        print(f"{half}: detection {named}/{len(faulty)}, false alarms {alarms}/{len(healthy)}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
