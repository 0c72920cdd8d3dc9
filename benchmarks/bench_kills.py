"""Kill -9 at many moments, resume, and compare with an uninterrupted run bit for bit.

For each moment, ``torchdoctor train`` runs in a child process that SIGKILLs itself at that
moment (the child patches the run-directory writes to find it; nothing in the package knows
about this script). Then ``torchdoctor train --resume DIR`` finishes the run, and the script
checks against one uninterrupted run of the same config:

* ``metrics.jsonl``: every epoch once, values equal (``time_s`` aside);
* ``checkpoint.pt``: every weight tensor equal (``torch.equal``);
* ``vitals.jsonl``: no step twice, the same steps as the uninterrupted run;
* no temporary file left in the run directory.

    python benchmarks/bench_kills.py [--epochs 6] [--no-doctor]

Exit code 1 if any moment fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "digits.yaml"
SETS = ["model.depth=2", "model.width=32", "model.dropout=0.2", "model.norm=batch"]

#: moment -> (description, code run in the child before the CLI; it SIGKILLs itself).
#: ``K`` is the epoch (1-based count of checkpoints) at which the kill happens.
_PRELUDE = """
import os, signal, sys
import torchdoctor.rundir as rd
K = int(os.environ["KILL_AT"])
def die():
    os.kill(os.getpid(), signal.SIGKILL)
"""
MOMENTS: dict[str, tuple[str, str]] = {
    "mid-epoch": ("during an epoch's steps (after K checkpoints)", """
import torchdoctor.train.trainer as tr
real = tr.Trainer.train_step
def step(self, *a, **k):
    if self.epoch == K and self.step % 7 == 3:
        die()
    return real(self, *a, **k)
tr.Trainer.train_step = step
"""),
    "in-torch-save": ("inside torch.save of checkpoint K (half a file written)", """
import torch
real = torch.save
n = [0]
def save(obj, f, *a, **k):
    n[0] += 1
    if n[0] == K:
        with open(f, "wb") as fh:
            fh.write(b"PK\\x03\\x04" + b"\\0" * 1000)
        die()
    return real(obj, f, *a, **k)
torch.save = save
"""),
    "before-replace": ("checkpoint K written to its temporary file, not yet moved", """
real = rd.atomic_write
n = [0]
def aw(path, write):
    if os.path.basename(str(path)) == rd.CHECKPOINT_FILE:
        n[0] += 1
        if n[0] == K:
            write(path.with_name(".checkpoint.pt.0-test.tmp"))
            die()
    return real(path, write)
rd.atomic_write = aw
"""),
    "after-replace": ("checkpoint K in place, its metrics line not yet written", """
real = rd.save_checkpoint
n = [0]
def sc(path, state):
    real(path, state)
    n[0] += 1
    if n[0] == K:
        die()
rd.save_checkpoint = sc
"""),
    "after-metrics": ("checkpoint K and its metrics line written", """
real = rd.JsonlLog.write
n = [0]
def w(self, row):
    real(self, row)
    if self.path.name == rd.METRICS_FILE:
        n[0] += 1
        if n[0] == K:
            die()
rd.JsonlLog.write = w
"""),
    "in-vitals-flush": ("while the Doctor appends vitals after checkpoint K (torn line)", """
real = rd.JsonlLog.write_many
n = [0]
def wm(self, rows):
    rows = list(rows)
    if self.path.name == rd.VITALS_FILE:
        n[0] += 1
        if n[0] == K + 1:
            self._fh.write(rd.dumps(rows[0])[:25])
            self._fh.flush()
            die()
    return real(self, rows)
rd.JsonlLog.write_many = wm
"""),
    "in-findings-write": ("while findings.json is replaced", """
real = rd.atomic_write_text
n = [0]
def awt(path, text):
    if os.path.basename(str(path)) == rd.FINDINGS_FILE:
        n[0] += 1
        if n[0] == K:
            die()
    return real(path, text)
rd.atomic_write_text = awt
import torchdoctor.doctor._sinks as dr
dr.atomic_write_text = awt
"""),
    "in-report": ("while the final report is written", """
real = rd.atomic_write_text
def awt(path, text):
    if os.path.basename(str(path)) == rd.REPORT_FILE:
        die()
    return real(path, text)
rd.atomic_write_text = awt
import torchdoctor.report._html as h
h.atomic_write_text = awt
"""),
}


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def train(out: Path, epochs: int, doctor: bool, *, moment: str | None = None, k: int = 0) -> int:
    args = ["train", str(CONFIG), "--out", str(out), "--quiet", "--set", f"train.epochs={epochs}"]
    args += [a for s in SETS for a in ("--set", s)] + ([] if doctor else ["--no-doctor"])
    code = "from torchdoctor.cli import main; import sys; sys.argv = ['torchdoctor'] + sys.argv[1:]; main()"
    if moment is not None:
        code = _PRELUDE + MOMENTS[moment][1] + code
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**_env(), "KILL_AT": str(k)})
    return proc.returncode


def resume(out: Path, doctor: bool) -> subprocess.CompletedProcess[str]:
    code = "from torchdoctor.cli import main; import sys; sys.argv = ['torchdoctor'] + sys.argv[1:]; main()"
    return subprocess.run([sys.executable, "-c", code, "train", "--resume", str(out), "--quiet",
                           *([] if doctor else ["--no-doctor"])], capture_output=True, text=True,
                          env=_env())


def _jsonl(p: Path) -> list[dict]:
    rows = []
    for line in p.read_text().splitlines() if p.exists() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            rows.append({"torn": line})
    return rows


def compare(full: Path, run: Path, doctor: bool) -> list[str]:
    """Differences between the uninterrupted run and the resumed one (empty: identical)."""
    problems = []
    a, b = _jsonl(full / "metrics.jsonl"), _jsonl(run / "metrics.jsonl")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "time_s"} for r in rows]  # noqa: E731
    if strip(a) != strip(b):
        problems.append(f"metrics differ ({len(a)} vs {len(b)} lines)")
    wa = torch.load(full / "checkpoint.pt", weights_only=True)["model"]
    wb = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    if wa.keys() != wb.keys() or not all(torch.equal(wa[k], wb[k]) for k in wa):
        problems.append("weights differ")
    if doctor:
        sa = [r.get("step") for r in _jsonl(full / "vitals.jsonl")]
        sb = [r.get("step") for r in _jsonl(run / "vitals.jsonl")]
        if len(sb) != len(set(sb)):
            problems.append(f"vitals: {len(sb) - len(set(sb))} duplicated step(s)")
        if sorted(set(sb)) != sorted(set(sa)):
            problems.append(f"vitals: steps differ ({len(set(sa))} vs {len(set(sb))})")
    left = [p.name for p in run.iterdir() if p.name.endswith(".tmp") or ".tmp" in p.name]
    if left:
        problems.append(f"temporary files left: {left}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--no-doctor", action="store_true")
    args = ap.parse_args()
    doctor = not args.no_doctor
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-kills-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        assert train(root / "full", args.epochs, doctor) == 0, "the uninterrupted run failed"
        print(f"uninterrupted run: {args.epochs} epochs in {time.perf_counter() - t0:.1f} s "
              f"(doctor {'on' if doctor else 'off'})")
        for moment, (what, _) in MOMENTS.items():
            if moment in ("in-vitals-flush", "in-findings-write", "in-report") and not doctor:
                continue
            # findings.json is rewritten only when the findings change: a healthy run writes it once
            for k in ((1,) if moment == "in-findings-write" else (1, args.epochs // 2)):
                out = root / f"{moment}-{k}"
                rc = train(out, args.epochs, doctor, moment=moment, k=k)
                killed = rc == -9
                r = resume(out, doctor)
                problems = [] if r.returncode == 0 else [f"resume exit {r.returncode}: {r.stderr.strip()[-200:]}"]
                if not problems:
                    problems = compare(root / "full", out, doctor)
                failures += bool(problems)
                status = "ok" if not problems else "FAIL: " + "; ".join(problems)
                state = "killed" if killed else f"exit {rc} (moment not reached)"
                print(f"{moment:18s} K={k}  {state:8s} {status}   ({what})")
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
