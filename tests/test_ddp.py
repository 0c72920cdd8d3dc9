"""Data-parallel training on 2 CPU processes (gloo), started with ``torchrun`` in a subprocess.

- ``torchrun -m torchdoctor train`` on 2 processes gives the metrics of a 1-process run with
  the same global batch (reference: the 1-process Trainer in this process), within 1e-4
  (measured: below 1e-7 on the losses, identical accuracies; benchmarks/bench_ddp.py), and
  only rank 0 writes files and prints.
- A user's own DDP loop with ``td.Doctor``: layer names without ``module.``, the step losses
  in rank 0's vitals are the mean of the two ranks' own losses (reference: each rank's own
  list), findings on rank 0 only, ``small_batch_norm`` judged on the per-process batch with
  SyncBatchNorm first among the remedies; an early stop asked on rank 0 alone and an error
  only rank 0 sees (its run directory) reach every rank.

Every subprocess has a timeout and runs in its own session (killed whole on a hang).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch.distributed as dist

import torchdoctor as td

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch without torch.distributed")

SRC = Path(__file__).resolve().parents[1] / "src"
TIMEOUT_S = 240
#: Largest |2-process - 1-process| difference allowed on an epoch metric.
TOL = 1e-4


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node 2 ARGS`` (a free port
    picked by the launcher itself) with a timeout; on a hang
    the whole process group is killed and the test fails (never hangs)."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", *args]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"2-process run did not finish in {TIMEOUT_S} s:\n{err[-3000:]}")
    assert proc.returncode == 0, f"stdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


OVERRIDES = ["train.epochs=3", "model.width=32", "model.depth=2"]


def test_torchrun_train_matches_one_process(tmp_path: Path) -> None:
    from torchdoctor.configs import config_path

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out, tb = tmp_path / "run", tmp_path / "tb"
    args = ["-m", "torchdoctor", "train", str(config_path("digits")), "--out", str(out),
            "--tensorboard", str(tb)]
    for o in OVERRIDES:
        args += ["--set", o]
    res = _torchrun(args, cwd)
    two = _rows(out / "metrics.jsonl")

    cfg = td.load_config(config_path("digits"), OVERRIDES)
    one = td.Trainer(cfg).fit().history
    assert len(two) == len(one) == 3  # one writer: no line twice
    for a, b in zip(one, two, strict=True):
        assert a["step"] == b["step"]
        for k in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            assert abs(a[k] - b[k]) <= TOL, (k, a[k], b[k])
    # rank 0 alone wrote and printed: one run directory line, nothing in the others' cwd
    assert res.stdout.count("run directory:") == 1
    assert list(cwd.iterdir()) == []
    steps = two[-1]["step"]
    assert len(_rows(out / "vitals.jsonl")) == steps  # each step once (one writer)
    assert (out / "report.html").is_file() and (out / "checkpoint.pt").is_file()
    assert len(list(tb.glob("events.out.tfevents.*"))) == 1  # rank 0's log only


USER_LOOP = textwrap.dedent('''
    import json, sys
    import torch, torch.distributed as dist
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel as DDP
    import torchdoctor as td

    out = sys.argv[1]
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    x = torch.randn(256, 12)
    y = x[:, :4].argmax(1)
    model = nn.Sequential(nn.Linear(12, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    ddp = DDP(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    # each rank names its own log_dir: only rank 0's may appear; one TensorBoard log for both
    doctor = td.Doctor(ddp, opt, log_dir=f"{out}/run{rank}", sample_every=5, interval=7,
                       console=False, tensorboard=out + "/tb")
    own = []
    for epoch in range(2):
        perm = torch.randperm(256, generator=torch.Generator().manual_seed(epoch))
        for start in range(0, 256, 8):  # a global batch of 8, 4 per process
            idx = perm[start:start + 8][rank::world]
            out_ = ddp(x[idx])
            loss = nn.functional.cross_entropy(out_, y[idx])
            opt.zero_grad()
            loss.backward()
            doctor.step(loss, inputs=x[idx], targets=y[idx], outputs=out_)
            opt.step()
            own.append(loss.item())
        doctor.observe(val_loss=loss.item())
    doctor.close()
    doctor.report(f"{out}/run{rank}/report.html")
    found = [{"code": f.code, "remedies": [r.code for r in f.remedies], "evidence": f.evidence}
             for f in doctor.findings]

    # the config trainer in the same group: rank 0 alone asks to stop after epoch 0
    from torchdoctor.configs import config_path
    from torchdoctor.train import Callback
    from torchdoctor.workflows import run_training

    class StopOnRank0(Callback):
        def on_train_epoch_end(self, trainer, *, epoch, metrics):
            if rank == 0:
                trainer.should_stop = True

    cfg = td.load_config(config_path("blobs"), ["train.epochs=4"])
    stopped = td.Trainer(cfg, callbacks=[StopOnRank0()]).fit().epochs_run
    # a run directory only rank 0 checks (it holds a run): every rank gets rank 0's error
    try:
        run_training(cfg=cfg, out=out + "/taken")
        refused = None
    except ValueError as exc:
        refused = str(exc)
    try:
        td.Trainer(cfg, out_dir=out + "/taken").fit()
        refused_fit = None
    except ValueError as exc:
        refused_fit = str(exc)
    with open(f"{out}/rank{rank}.json", "w") as fh:
        json.dump({"layers": list(doctor.vitals.layers), "own": own, "findings": found,
                   "vitals": [r["loss"] for r in doctor.vitals.records],
                   "epochs": doctor.vitals.epochs, "stopped": stopped, "refused": refused,
                   "refused_fit": refused_fit,
                   "processes": doctor.summary().get("processes")}, fh)
    # nothing may hold the group when it is destroyed (DDP wrappers do): a group left to the
    # interpreter's exit can abort the process
    import gc
    del ddp, doctor
    gc.collect()
    dist.destroy_process_group()
''')


def test_user_ddp_loop_with_doctor(tmp_path: Path) -> None:
    script = tmp_path / "loop.py"
    script.write_text(USER_LOOP)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "metrics.jsonl").write_text("{}\n")
    _torchrun([str(script), str(tmp_path)], tmp_path)
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["layers"] == ["0", "1", "2", "3"]  # no "module." prefix
    assert r0["processes"] == 2  # in the report's summary
    # rank 0's step losses: the mean of both ranks' own losses (equal shares of 4)
    assert len(r0["vitals"]) == len(r0["own"]) == 64
    for v, a, b in zip(r0["vitals"], r0["own"], r1["own"], strict=True):
        assert v == pytest.approx((a + b) / 2, abs=1e-6)
    # per-process BatchNorm batches of 4: small_batch_norm, SyncBatchNorm first
    sbn = next(f for f in r0["findings"] if f["code"] == "small_batch_norm")
    assert sbn["evidence"]["median_batch"] == 4 and sbn["evidence"]["world_size"] == 2
    assert sbn["remedies"][:2] == ["sync_batch_norm", "use_group_norm"]
    assert r1["findings"] == []  # findings come from rank 0 only
    run = tmp_path / "run0"
    assert not (tmp_path / "run1").exists()  # rank 1's Doctor created nothing
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1
    assert len(_rows(run / "vitals.jsonl")) == 64 and len(_rows(run / "metrics.jsonl")) == 2
    assert (run / "report.html").is_file()
    # the same decisions on every rank: rank 0's early stop, rank 0's refusal
    assert r0["stopped"] == r1["stopped"] == 1
    assert r0["refused"] == r1["refused"] and "holds a run" in r0["refused"]
    assert r0["refused_fit"] == r1["refused_fit"] and "holds a run" in r0["refused_fit"]


def test_small_batch_norm_one_process_has_no_sync_remedy() -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    doctor = td.Doctor(model, opt, sample_every=1, console=False)
    for _ in range(8):
        x = torch.randn(4, 6)
        loss = nn.functional.cross_entropy(model(x), torch.randint(0, 3, (4,)))
        opt.zero_grad()
        loss.backward()
        doctor.step(loss)
        opt.step()
    f = next(f for f in doctor.findings if f.code == "small_batch_norm")
    doctor.close()
    codes = [r.code for r in f.remedies]
    assert "sync_batch_norm" not in codes and codes[0] == "use_layer_norm"
    assert "world_size" not in f.evidence

