"""What a batch's outputs and targets are: selection in containers, task kind, accuracy and
class counts, normalization along dims, broadcast losses. Hand-made tensors, each compared with
an obvious reference (a naive loop, ``torch.bincount``, PyTorch's own losses)."""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import torchdoctor as td
from torchdoctor.doctor.vitals import (
    Selector,
    accuracy,
    batch_stats,
    class_counts,
    interpret,
    other_dim_devs,
    view,
)


@dataclass
class Out:
    pooled: torch.Tensor
    logits: torch.Tensor


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- selection
def test_selector_rule_picks_logits_first_float_and_data_not_ids() -> None:
    x, lengths = torch.randn(4, 5, 2), torch.tensor([5, 3, 2, 4])
    logits, feats = torch.randn(4, 3), torch.randn(4, 8)
    s = Selector()
    assert s.select("inputs", (x, lengths)) is x
    assert s.select("inputs", (lengths, x)) is x  # ids are skipped: the first floating tensor
    assert s.select("outputs", {"features": feats, "logits": logits}) is logits
    assert s.select("outputs", Out(pooled=feats, logits=logits)) is logits
    assert s.select("outputs", (feats, logits)) is feats  # no names: the first floating one
    assert s.select("outputs", [[logits], feats]) is logits  # nested, depth first
    assert s.select("targets", {"mask": torch.ones(4), "labels": lengths}) is lengths
    assert s.select("inputs", lengths) is None  # token ids: no input statistics


def test_selector_output_key_by_name_index_and_callable() -> None:
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    assert Selector("aux").select("outputs", {"logits": a, "aux": b}) is b
    assert Selector(1).select("outputs", (a, b)) is b
    assert Selector("logits").select("outputs", Out(pooled=b, logits=a)) is a
    assert Selector(lambda o: o["z"][1]).select("outputs", {"z": (a, b)}) is b
    assert Selector("missing").select("outputs", {"logits": a}) is None


@pytest.mark.parametrize("bad", [1.5, True, ["logits"]])
def test_selector_rejects_a_bad_output_key(bad: object) -> None:
    with pytest.raises(ValueError, match="output_key must be"):
        Selector(bad)  # type: ignore[arg-type]


def test_selector_says_once_what_it_uses_and_skips(caplog: pytest.LogCaptureFixture) -> None:
    s = Selector()
    with caplog.at_level(logging.INFO, logger="torchdoctor"):
        for _ in range(3):
            s.select("outputs", (torch.randn(4, 64), torch.randn(4, 2), torch.randn(4, 2)))
        s.select("outputs", {"names": ["a", "b"]})
    lines = [r for r in caplog.records if "outputs is a" in r.getMessage()]
    assert len(lines) == 2, [r.getMessage() for r in lines]
    assert "using outputs[0]" in lines[0].getMessage() and "skipping [1]" in lines[0].getMessage()
    assert lines[1].levelno == logging.WARNING and "no usable tensor" in lines[1].getMessage()
    with caplog.at_level(logging.INFO, logger="torchdoctor"):
        caplog.clear()
        assert s.select("inputs", {"input_ids": torch.ones(4, 9, dtype=torch.long)}) is None
    assert [r.levelno for r in caplog.records] == [logging.INFO]  # token ids: expected, not a warning


# ---------------------------------------------------------------- kinds, accuracy, counts
def _naive_acc(pred: list[int], truth: list[int], ignore: int | None = None) -> tuple[int, int]:
    pairs = [(p, t) for p, t in zip(pred, truth, strict=True) if t != ignore]
    return sum(p == t for p, t in pairs), len(pairs)


def test_class_kind_accuracy_and_counts_match_a_loop() -> None:
    o, t = torch.randn(50, 4, generator=_g()), torch.randint(0, 4, (50,), generator=_g(1))
    b = interpret(o, t)
    assert (b.kind, b.num_classes, b.counts) == ("class", 4, True)
    correct, count = accuracy(b, o, t).tolist()
    assert (correct, count) == _naive_acc(o.argmax(1).tolist(), t.tolist())
    ref = Counter(t.tolist())
    assert class_counts(b, 4).tolist() == [ref[c] for c in range(4)]


@pytest.mark.parametrize("layout", ["NTV", "NVT"])
def test_dense_kind_flattens_positions_and_ignores_minus_100(layout: str) -> None:
    o = torch.randn(6, 7, 5, generator=_g())  # (N, T, V)
    t = torch.randint(0, 5, (6, 7), generator=_g(1))
    t[0, :3] = -100
    given = o if layout == "NTV" else o.transpose(1, 2)  # (N, V, T): CrossEntropyLoss layout
    b = interpret(given, t)
    assert (b.kind, b.num_classes, b.counts) == ("dense", 5, False)
    assert b.class_dim == (2 if layout == "NTV" else 1)
    correct, count = accuracy(b, given, t).tolist()
    pred = [int(o[i, j].argmax()) for i in range(6) for j in range(7)]
    assert (correct, count) == _naive_acc(pred, t.reshape(-1).tolist(), ignore=-100)
    ce = F.cross_entropy(b.scores, b.labels)  # the flattened view is the loss's own view
    assert torch.allclose(ce, F.cross_entropy(o.transpose(1, 2), t))


@pytest.mark.parametrize("shape", [(40,), (40, 1)])
def test_binary_single_logit_accuracy_and_counts(shape: tuple[int, ...]) -> None:
    o = torch.randn(shape, generator=_g())
    t = (torch.rand(shape, generator=_g(1)) < 0.2).float()
    b = interpret(o, t)
    assert (b.kind, b.num_classes, b.counts) == ("binary", 2, True)
    correct, count = accuracy(b, o, t).tolist()
    assert (correct, count) == _naive_acc([int(v > 0) for v in o.reshape(-1)], t.reshape(-1).long().tolist())
    n_pos = int(t.sum())
    assert class_counts(b, 2).tolist() == [40 - n_pos, n_pos]
    probs = torch.sigmoid(o)  # outputs in [0, 1]: threshold 0.5 gives the same predictions
    assert accuracy(interpret(probs, t), probs, t).tolist() == [correct, count]


def test_multilabel_is_scored_per_label_not_by_argmax() -> None:
    o = torch.randn(30, 6, generator=_g())
    t = (torch.rand(30, 6, generator=_g(1)) < 0.4).float()
    t[0] = torch.tensor([1.0, 0, 0, 0, 0, 0])  # some rows one-hot, most multi-hot
    b = interpret(o, t)
    assert b.kind == "multilabel" and not b.counts
    correct, count = accuracy(b, o, t).tolist()
    ref = sum(int(o[i, j] > 0) == int(t[i, j]) for i in range(30) for j in range(6))
    assert (correct, count) == (ref, 180)


def test_soft_and_one_hot_targets_are_scored_by_argmax() -> None:
    o = torch.randn(20, 5, generator=_g())
    soft = torch.softmax(torch.randn(20, 5, generator=_g(1)), 1)
    onehot = F.one_hot(torch.randint(0, 5, (20,), generator=_g(2)), 5).float()
    for t in (soft, onehot):
        b = interpret(o, t)
        assert b.kind == "soft"
        assert accuracy(b, o, t).tolist() == list(_naive_acc(o.argmax(1).tolist(), t.argmax(1).tolist()))


def test_regression_has_no_accuracy_or_counts() -> None:
    o, t = torch.rand(20, 64, generator=_g()), torch.rand(20, 64, generator=_g(1))  # an autoencoder
    b = interpret(o, t)
    assert b.kind == "regression"
    assert accuracy(b, o, t) is None and class_counts(b, 2) is None
    assert interpret(torch.randn(20, 1), torch.randn(20)).kind == "regression"


def test_layout_of_float_targets_is_read_once_per_signature() -> None:
    cache: dict = {}
    t = torch.tensor([0.0, 1.0, 1.0, 0.0])
    assert interpret(torch.randn(4), t, cache).kind == "binary"
    assert len(cache) == 1
    interpret(torch.randn(4), torch.tensor([0.0, 0.0, 1.0, 1.0]), cache)
    assert len(cache) == 1


# ---------------------------------------------------------------- normalization, broadcast
def _devs(o: torch.Tensor, class_dim: int) -> tuple[float, float, float, float]:
    """Reference, one slice at a time: mean |sum(exp) - 1| and mean |sum - 1| along the classes
    and along the best other dim."""
    def dev(d: int) -> tuple[float, float]:
        slices = o.movedim(d, -1).reshape(-1, o.shape[d])
        e = [abs(sum(math.exp(v) for v in row.tolist()) - 1) for row in slices]
        p = [abs(sum(row.tolist()) - 1) for row in slices]
        return sum(e) / len(e), sum(p) / len(p)

    others = [dev(d) for d in range(o.dim()) if d != class_dim and o.shape[d] >= 4]
    return (*dev(class_dim), min(x for x, _ in others), min(y for _, y in others))


@pytest.mark.parametrize(("make", "class_dim"), [
    (lambda z: F.log_softmax(z, 0), 1), (lambda z: F.log_softmax(z, 1), 1),
    (lambda z: torch.softmax(z, 0), 1), (lambda z: z, 1)])
def test_other_dim_devs_match_a_direct_computation(make, class_dim: int) -> None:  # type: ignore[no-untyped-def]
    o = make(torch.randn(16, 10, generator=_g()))
    _, _, lse, sums = _devs(o, class_dim)
    got = other_dim_devs(o, class_dim).tolist()
    assert got == pytest.approx([lse, sums], rel=1e-5, abs=1e-6)


def test_other_dim_devs_see_a_softmax_over_time_in_a_sequence() -> None:
    seq = torch.softmax(torch.randn(4, 12, 6, generator=_g()), 1)  # over time, not the vocabulary
    lse, sums = other_dim_devs(seq, 2).tolist()
    assert sums < 1e-5 and lse > 0.05  # the time dim (12 steps) sums to 1; the batch (4) too small
    assert torch.isnan(other_dim_devs(torch.randn(3, 5), 1)).all()  # a batch of 3: not judged


def test_broadcast_losses_equal_pytorchs_broadcasting_mse() -> None:
    o, t = torch.randn(8, 1, generator=_g()), torch.randn(8, generator=_g(1))
    stats = batch_stats(o, t, interpret(o, t))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_mse, ref_l1 = F.mse_loss(o, t), F.l1_loss(o, t)
    assert torch.allclose(stats[2], ref_mse) and torch.allclose(stats[3], ref_l1)
    assert torch.isnan(stats[:2]).all()  # regression: no class dim to compare with
    same = batch_stats(o, t.unsqueeze(1), interpret(o, t.unsqueeze(1)))
    assert same is None  # equal shapes: nothing to report


# ---------------------------------------------------------------- through the Doctor
class DictNet(nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        self.body = nn.Linear(5, 16)
        self.head = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = torch.relu(self.body(x))
        return {"features": h, "logits": self.head(h)}


def test_doctor_tracks_accuracy_and_counts_of_dict_outputs_and_binary_targets() -> None:
    torch.manual_seed(0)
    model = DictNet(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    doctor = td.Doctor(model, opt, sample_every=1, console=False)
    truth_pos = total = 0
    for i in range(12):
        x = torch.randn(32, 5, generator=_g(i))
        y = (torch.rand(32, generator=_g(100 + i)) < 0.1).float()
        truth_pos, total = truth_pos + int(y.sum()), total + 32
        out = model(x)
        loss = F.binary_cross_entropy_with_logits(out["logits"].squeeze(1), y)
        opt.zero_grad()
        loss.backward()
        doctor.step(loss, inputs=(x, torch.arange(32)), targets=y, outputs=out)
        opt.step()
    doctor.close()
    recs = [r for r in doctor.vitals.records if r.get("targets")]
    hist = [sum(col) for col in zip(*(r["targets"]["hist"] for r in recs), strict=True)]
    assert hist == [total - truth_pos, truth_pos]
    assert sum(r["train_count"] for r in recs) == total
    assert all(r["batch"]["kind"] == "binary" for r in recs)
    assert all(r.get("inputs") for r in recs)  # the float tensor of the tuple input
    assert "logits" in doctor.vitals.loop["io"]["outputs"]


def test_doctor_output_key_chooses_the_tensor() -> None:
    model = DictNet(3)
    doctor = td.Doctor(model, None, sample_every=1, console=False, output_key="features")
    out = model(torch.randn(8, 5))
    loss = out["logits"].sum()
    loss.backward()
    doctor.step(loss, targets=torch.randint(0, 3, (8,)), outputs=out)
    doctor.close()
    assert doctor.vitals.records[0]["batch"]["output_shape"] == [8, 16]
    with pytest.raises(ValueError, match="output_key must be"):
        td.Doctor(model, None, output_key=2.5)


def test_broadcast_loss_is_not_reported_when_it_cannot_be_told_from_the_aligned_one() -> None:
    o, t = torch.full((8, 1), 0.7), torch.randn(8, generator=_g(1))  # constant outputs
    stats = batch_stats(o, t, interpret(o, t))
    assert stats is None or (torch.isnan(stats[2]) and torch.isnan(stats[3]))


@pytest.mark.parametrize(("o", "t", "kind", "target_kind"), [
    (torch.randn(8, 4), torch.randint(0, 4, (8,)), "class", "class"),
    (torch.randn(8, 5, 4), torch.randint(0, 4, (8, 5)), "dense", "sequence"),
    (torch.randn(8, 1), torch.tensor([0.0, 1] * 4).unsqueeze(1), "binary", "class"),
    (torch.randn(8, 3), torch.tensor([[1.0, 1, 0]] * 8), "multilabel", "float2d"),
    (torch.randn(8, 3), torch.full((8, 3), 1 / 3), "soft", "float2d"),
    (torch.randn(8, 1), torch.randn(8, 1), "regression", "float"),
])
def test_view_names_the_kind_and_the_record_kind(o: torch.Tensor, t: torch.Tensor, kind: str,
                                                 target_kind: str) -> None:
    v = view(Selector(), {}, torch.randn(8, 2), t, {"logits": o})
    assert (v.batch.kind, v.target_kind, v.shapes) == (kind, target_kind, [list(o.shape), list(t.shape)])
    assert v.outputs.dim() == 2 or kind in ("binary", "regression")  # classes on dim 1 for stats
