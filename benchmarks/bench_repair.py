"""Does automatic repair work, and what does it cost? The faulty-config benchmark.

For every ``benchmarks/faulty/*.yaml`` (a healthy config plus one or two injected faults):

1. the healthy reference (``# healthy:`` config + ``# healthy-overrides:``) trains fully;
2. the faulty config trains fully, without the doctor: the *before* metric and the time of
   one training (wall and CPU);
3. ``td.repair(faulty, rounds=N)`` runs: the *after* metric, findings, remedies, its time.

A repair succeeds when the after validation accuracy is within ``--tolerance`` (2 points) of
the healthy reference; regression configs use the validation loss instead (after at most
``REGRESSION_SLACK`` times the reference). The time ratio is the repair's wall time over one
full training of the faulty config; because the machine may be shared, the CPU-time ratio
(one thread, ``time.process_time``) is printed as well: it is the steadier of the two.

Raw datasets are generated once per process and cached here (MNIST-1D takes seconds to
generate), so neither side of a time ratio pays for data generation.

The configs are split into a development half and a held-out half by a hash of the file
name (:func:`is_heldout`); the repair is tuned on the development half only, and both halves'
numbers are printed side by side.

    python benchmarks/bench_repair.py [--half dev|heldout|all] [--only NAME[,NAME...]]
                                      [--rounds 3] [--json OUT] [--markdown OUT]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import re
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
FAULTY_DIR = Path(__file__).resolve().parent / "faulty"
#: A repair succeeds when after-accuracy >= healthy accuracy - TOLERANCE (2 points).
TOLERANCE = 0.02
#: Regression: a repair succeeds when after val_loss <= REGRESSION_SLACK x healthy val_loss.
REGRESSION_SLACK = 1.05
#: The targets: success rate and mean repair time in full trainings.
TARGET_SUCCESS = 0.95
TARGET_TIME_RATIO = 2.0

_HEADER = re.compile(r"^#\s*(healthy|healthy-overrides|fault|expect)\s*:\s*(.*?)\s*$")


@dataclass
class FaultyCase:
    """One faulty config and its healthy reference, read from the YAML header comments.

    Attributes:
        name: file stem, e.g. ``digits_sigmoid_deep``.
        path: the faulty YAML.
        healthy: path of the healthy config (``# healthy: configs/NAME.yaml``, from the repo root).
        healthy_overrides: ``KEY=VALUE`` strings applied to the healthy config to get the
            reference (``# healthy-overrides: model.depth=6 train.epochs=8``).
        fault: one-line description (``# fault: ...``).
        expect: symptom codes the doctor should find (``# expect: code1, code2``).
    """

    name: str
    path: Path
    healthy: Path
    healthy_overrides: list[str] = field(default_factory=list)
    fault: str = ""
    expect: list[str] = field(default_factory=list)

    def load(self) -> tuple[Any, Any]:
        """(faulty config, healthy reference config), both validated."""
        from torchdoctor.train.config import load_config

        return load_config(self.path), load_config(self.healthy, self.healthy_overrides)


def read_case(path: str | Path) -> FaultyCase:
    """Parse the header comments of a faulty YAML (see :class:`FaultyCase`).

    Raises:
        ValueError: the ``healthy``, ``fault`` or ``expect`` line is missing.
    """
    path = Path(path)
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = _HEADER.match(line)
        if m and m.group(1) not in fields:
            fields[m.group(1)] = m.group(2)
    for key in ("healthy", "fault", "expect"):
        if not fields.get(key):
            raise ValueError(f"{path.name}: header line '# {key}: ...' is missing")
    return FaultyCase(
        name=path.stem,
        path=path,
        healthy=ROOT / fields["healthy"],
        healthy_overrides=fields.get("healthy-overrides", "").split(),
        fault=fields["fault"],
        expect=[c.strip() for c in fields["expect"].split(",") if c.strip()],
    )


def is_heldout(path: str | Path) -> bool:
    """Is this config in the held-out half? Fixed by the SHA-256 of the file name (with its
    extension): odd digests are held out, so the split does not depend on what the repair does."""
    return int(hashlib.sha256(Path(path).name.encode()).hexdigest(), 16) % 2 == 1


def half_of(path: str | Path) -> str:
    """``"heldout"`` or ``"dev"`` (:func:`is_heldout`)."""
    return "heldout" if is_heldout(path) else "dev"


def all_cases(directory: Path = FAULTY_DIR) -> list[FaultyCase]:
    """Every faulty config of ``directory``, sorted by name."""
    return [read_case(p) for p in sorted(directory.glob("*.yaml"))]


def cache_raw_datasets() -> None:
    """Generate each raw dataset once per process (bench-local; the library is unchanged)."""
    import torchdoctor.data._prepare as prep

    if not hasattr(prep.load_raw, "cache_info"):
        prep.load_raw = functools.lru_cache(maxsize=None)(prep.load_raw)


# ---------------------------------------------------------------------------------- runs

def _timed_training(cfg: Any) -> tuple[dict[str, Any], float, float]:
    """Train ``cfg`` fully without the doctor: (final metrics, wall seconds, CPU seconds)."""
    from torchdoctor.train.trainer import Trainer

    w0, c0 = time.perf_counter(), time.process_time()
    result = Trainer(cfg).fit()
    return dict(result.metrics), time.perf_counter() - w0, time.process_time() - c0


def _score(metrics: dict[str, Any], regression: bool) -> float:
    key = "val_loss" if regression else "val_accuracy"
    v = metrics.get(key)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return math.inf if regression else 0.0
    return float(v)


def is_success(after: float, healthy: float, regression: bool) -> bool:
    """The success rule: after-accuracy within TOLERANCE of the healthy reference (regression:
    after val_loss at most REGRESSION_SLACK x the reference's)."""
    if regression:
        return after <= REGRESSION_SLACK * healthy
    return after >= healthy - TOLERANCE - 1e-12


def run_case(case: FaultyCase, rounds: int) -> dict[str, Any]:
    """Healthy reference, faulty training and repair of one case; a JSON-ready row."""
    import torchdoctor as td

    faulty_cfg, healthy_cfg = case.load()
    regression = faulty_cfg.train.task == "regression"
    row: dict[str, Any] = {"name": case.name, "half": half_of(case.path), "fault": case.fault,
                           "expect": case.expect,
                           "metric": "val_loss" if regression else "val_accuracy"}
    healthy_m, _, _ = _timed_training(healthy_cfg)
    before_m, t_wall, t_cpu = _timed_training(faulty_cfg)
    row.update(healthy=_score(healthy_m, regression), before=_score(before_m, regression),
               training_seconds=t_wall, training_cpu_seconds=t_cpu)
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        res = td.repair(faulty_cfg, rounds=rounds)
        r_wall, r_cpu = time.perf_counter() - w0, time.process_time() - c0
    except Exception as exc:  # a crash is a failed repair, reported with its reason
        row.update(after=row["before"], error=f"{type(exc).__name__}: {exc}",
                   traceback=traceback.format_exc(limit=4), found=[], applied=[],
                   repair_seconds=math.nan, time_ratio=math.nan, cpu_ratio=math.nan, success=False)
        return row
    found = sorted({f.code for f in res.before.findings})
    after = _score(res.after.metrics, regression)
    success = is_success(after, row["healthy"], regression)
    row.update(after=after, found=found, expected_found=sorted(set(case.expect) & set(found)),
               after_findings=sorted({f.code for f in res.after.findings}),
               applied=list(res.applied), rounds=res.rounds, repair_seconds=r_wall,
               time_ratio=r_wall / t_wall, cpu_ratio=r_cpu / t_cpu, success=bool(success),
               repair=res.to_json())
    return row


# ---------------------------------------------------------------------------------- table

_COLS = ("config", "half", "findings before (expected hit)", "remedies applied", "before", "after",
         "healthy", "time x", "cpu x", "ok")


def _fmt(v: float, regression: bool) -> str:
    if not math.isfinite(v):
        return "inf" if v > 0 else "nan"
    return f"{v:.3g}" if regression else f"{100 * v:.1f}"


def table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    for r in rows:
        reg = r["metric"] == "val_loss"
        found = ", ".join(r.get("found", [])) or "-"
        hit = f"{len(r.get('expected_found', []))}/{len(r['expect'])}"
        out.append([
            r["name"] + (" (val_loss)" if reg else ""), r.get("half", "-"),
            f"{found} ({hit})" if "error" not in r else f"ERROR {r['error'][:60]}",
            ", ".join(r.get("applied", [])) or "-",
            _fmt(r["before"], reg), _fmt(r["after"], reg), _fmt(r["healthy"], reg),
            f"{r['time_ratio']:.2f}", f"{r['cpu_ratio']:.2f}", "yes" if r["success"] else "NO",
        ])
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = sum(r["success"] for r in rows)
    ratios = [r["time_ratio"] for r in rows if math.isfinite(r["time_ratio"])]
    cpu = [r["cpu_ratio"] for r in rows if math.isfinite(r["cpu_ratio"])]
    hits = sum(len(r.get("expected_found", [])) for r in rows)
    wanted = sum(len(r["expect"]) for r in rows)
    return {
        "configs": len(rows), "repaired": ok, "success_rate": ok / len(rows) if rows else 0.0,
        "mean_time_ratio": statistics.fmean(ratios) if ratios else math.nan,
        "max_time_ratio": max(ratios) if ratios else math.nan,
        "median_time_ratio": statistics.median(ratios) if ratios else math.nan,
        "mean_cpu_ratio": statistics.fmean(cpu) if cpu else math.nan,
        "expected_findings_hit": f"{hits}/{wanted}",
        "failed": [r["name"] for r in rows if not r["success"]],
    }


def print_table(rows: list[dict[str, Any]], file: Any = sys.stdout) -> None:
    body = table_rows(rows)
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c) for i, c in enumerate(_COLS)]
    widths[2] = min(widths[2], 70)
    widths[3] = min(widths[3], 45)
    line = "  ".join(c.ljust(w) for c, w in zip(_COLS, widths, strict=True))
    print(line, file=file)
    print("-" * len(line), file=file)
    for b in body:
        print("  ".join(c[:w].ljust(w) for c, w in zip(b, widths, strict=True)), file=file)


def summary_line(label: str, s: dict[str, Any]) -> str:
    """One line: repaired / total, mean and max time ratio, CPU ratio, expected findings hit."""
    if not s["configs"]:
        return f"{label}: no configs"
    return (f"{label}: repaired {s['repaired']}/{s['configs']} ({100 * s['success_rate']:.0f} %); "
            f"mean repair time {s['mean_time_ratio']:.2f}x one training (median "
            f"{s['median_time_ratio']:.2f}x, max {s['max_time_ratio']:.2f}x, CPU "
            f"{s['mean_cpu_ratio']:.2f}x); expected findings hit {s['expected_findings_hit']}")


def halves(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Summaries of the development half, the held-out half and all rows."""
    return {"dev": summary([r for r in rows if r.get("half") == "dev"]),
            "heldout": summary([r for r in rows if r.get("half") == "heldout"]),
            "all": summary(rows)}


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(_COLS) + " |", "|" + "---|" * len(_COLS)]
    lines += ["| " + " | ".join(b) + " |" for b in table_rows(rows)]
    lines.append("")
    for label, hs in halves(rows).items():
        lines.append(f"- {summary_line({'dev': 'Development half', 'heldout': 'Held-out half', 'all': 'All'}[label], hs)}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="comma-separated config names (file stems)")
    ap.add_argument("--half", choices=("dev", "heldout", "all"), default="all",
                    help="development half, held-out half (by a hash of the file name) or all")
    ap.add_argument("--rounds", type=int, default=3, help="repair rounds (default 3)")
    ap.add_argument("--json", default=None, help="write every row (and each repair's JSON) here")
    ap.add_argument("--markdown", default=None, help="write the table as Markdown here")
    args = ap.parse_args(argv)
    if args.rounds < 0:
        ap.error(f"--rounds must be >= 0, got {args.rounds}")
    torch.set_num_threads(1)
    cache_raw_datasets()
    cases = all_cases()
    if args.only:
        wanted = [n.strip().removesuffix(".yaml") for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {c.name for c in cases})
        if unknown:
            ap.error(f"--only: unknown config(s) {', '.join(unknown)}; "
                     f"known: {', '.join(c.name for c in cases)}")
        cases = [c for c in cases if c.name in wanted]
    if args.half != "all":
        cases = [c for c in cases if half_of(c.path) == args.half]
    rows = []
    for i, case in enumerate(cases, 1):
        t0 = time.perf_counter()
        row = run_case(case, args.rounds)
        rows.append(row)
        reg = row["metric"] == "val_loss"
        print(f"[{i}/{len(cases)}] {case.name}: before {_fmt(row['before'], reg)} after "
              f"{_fmt(row['after'], reg)} healthy {_fmt(row['healthy'], reg)} "
              f"applied {row.get('applied') or '-'} time x{row['time_ratio']:.2f} "
              f"{'ok' if row['success'] else 'FAILED'}"
              + (f" [{row['error']}]" if "error" in row else "")
              + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
    by_half = halves(rows)
    print()
    print_table(rows)
    print()
    print(f"targets: success >= {100 * TARGET_SUCCESS:.0f} %, mean time <= {TARGET_TIME_RATIO:.1f}x")
    for label, hs in by_half.items():
        print(summary_line(label, hs) + f"; failed: {', '.join(hs['failed']) or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": by_half, "rows": rows}, indent=1,
                                              default=str))
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
