"""TensorBoard logging: ``Doctor(tensorboard=...)`` and ``--tensorboard DIR``, read back with
TensorBoard's own ``event_accumulator``.

References: the losses the loop itself computed, the epoch metrics it handed over, and
``torch.linalg.vector_norm`` of each layer's gradient on the sampled steps.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import torchdoctor as td

ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _read(log_dir: Path) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(str(log_dir), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    return acc


def _text(acc: ea.EventAccumulator, tag: str) -> list[str]:
    """The text summaries of ``tag`` (stored as string tensors), oldest first."""
    return [e.tensor_proto.string_val[0].decode() for e in acc.Tensors(tag)]


def _bn_loop(doctor_kw: dict, steps_per_epoch: int = 10, epochs: int = 2):
    """A small BatchNorm MLP on batches of 4 (a small_batch_norm finding), seeded.

    Returns the doctor (closed), the losses per step and the gradient norms of layer "0" on
    each step (computed here, before the optimizer step)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    doctor = td.Doctor(model, opt, sample_every=1, interval=7, console=False, **doctor_kw)
    losses, grads = [], []
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            x = torch.randn(4, 6)
            y = torch.randint(0, 3, (4,))
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
            opt.zero_grad()
            loss.backward()
            g0 = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in model[0].parameters()]))
            doctor.step(loss, inputs=x, targets=y, outputs=out)
            opt.step()
            losses.append(loss.item())
            grads.append(g0.item())
        doctor.observe(val_loss=1.0 + epoch, val_accuracy=0.5)
    doctor.close()
    return doctor, losses, grads


def test_doctor_tensorboard_scalars_and_findings(tmp_path: Path) -> None:
    log = tmp_path / "tb"
    doctor, losses, grads = _bn_loop({"tensorboard": log})
    acc = _read(log)
    tags = acc.Tags()["scalars"]
    loss = acc.Scalars("loss")
    assert [e.step for e in loss] == list(range(len(losses)))
    assert [e.value for e in loss] == pytest.approx(losses, rel=1e-6)
    g = acc.Scalars("grad_norm/0")
    assert len(g) == len(grads) and [e.value for e in g] == pytest.approx(grads, rel=1e-5)
    for layer in ("0", "3"):
        assert f"update_norm/{layer}" in tags and f"update_ratio/{layer}" in tags
        assert all(e.value > 0 for e in acc.Scalars(f"update_norm/{layer}"))
    assert [e.value for e in acc.Scalars("epoch/val_loss")] == [1.0, 2.0]
    assert [e.step for e in acc.Scalars("epoch/val_loss")] == [0, 1]
    assert "epoch/train_loss" in tags
    codes = [f.code for f in doctor.findings]
    assert "small_batch_norm" in codes
    last = _text(acc, "findings/text_summary")[-1]
    assert all(f"`{c}`" in last for c in codes)


def test_doctor_tensorboard_writer_is_not_closed(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path / "tb"))
    _bn_loop({"tensorboard": writer}, steps_per_epoch=5, epochs=1)
    writer.add_scalar("mine", 3.0, 0)  # still open: the owner closes it
    writer.close()
    acc = _read(tmp_path / "tb")
    assert {"loss", "mine"} <= set(acc.Tags()["scalars"])


def test_missing_tensorboard_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    model = nn.Linear(3, 2)
    with pytest.raises(ImportError, match=r"torchdoctor\[tensorboard\]"):
        td.Doctor(model, tensorboard=tmp_path / "tb")
    from torchdoctor.cli import app

    res = CliRunner().invoke(app, ["train", "--tensorboard", str(tmp_path / "tb"),
                                   "--out", str(tmp_path / "run"), "--quiet"])
    assert res.exit_code == 2
    err = res.stderr if hasattr(res, "stderr") else res.output
    assert err.count("\n") == 1 and "torchdoctor[tensorboard]" in err
    assert not (tmp_path / "run").exists()


def test_bad_tensorboard_argument() -> None:
    with pytest.raises(ValueError, match="tensorboard must be a directory or a SummaryWriter"):
        td.Doctor(nn.Linear(3, 2), tensorboard=3)


def test_cli_train_and_diagnose_tensorboard(tmp_path: Path) -> None:
    from torchdoctor.cli import app
    from torchdoctor.configs import config_path

    run = CliRunner()
    cfg = str(config_path("digits"))
    small = ["--set", "model.width=16", "--set", "model.depth=1"]
    res = run.invoke(app, ["train", cfg, "--out", str(tmp_path / "run"), "--quiet",
                           "--tensorboard", str(tmp_path / "tb"), "--set", "train.epochs=2", *small])
    assert res.exit_code == 0, res.output
    acc = _read(tmp_path / "tb")
    rows = [__import__("json").loads(line)
            for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    got = [e.value for e in acc.Scalars("epoch/val_accuracy")]
    assert got == pytest.approx([r["val_accuracy"] for r in rows], rel=1e-6)
    assert len(acc.Scalars("loss")) == rows[-1]["step"]
    res = run.invoke(app, ["diagnose", cfg, "--epochs", "1", "--json",
                           "--tensorboard", str(tmp_path / "tb2"), *small])
    assert res.exit_code == 0, res.output
    assert "loss" in _read(tmp_path / "tb2").Tags()["scalars"]
    res = run.invoke(app, ["train", cfg, "--no-doctor", "--tensorboard", str(tmp_path / "tb3"),
                           "--out", str(tmp_path / "run3")])
    assert res.exit_code == 2 and "--no-doctor" in (res.stderr if hasattr(res, "stderr") else res.output)
