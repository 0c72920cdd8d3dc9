"""Lab experiments 6-10 (activations, optimizers, lr_range, regularization, focal).

Each runs once in its quick form (structure of the JSON document and the figures, not the
verdict); the helpers they measure with are checked against naive loops and closed forms.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import torchdoctor as td
from conftest import quick_lab_result
from torchdoctor.lab.experiments.e06_activations import dead_fraction, negative_share
from torchdoctor.lab.experiments.e09_regularization import Perturb
from torchdoctor.lab.experiments.e10_focal import imbalanced_binary

NAMES = ("activations", "optimizers", "lr_range", "regularization", "focal")
ORDERS = dict(zip(NAMES, range(6, 11), strict=True))


@pytest.fixture(scope="module")
def results() -> dict[str, td.lab.LabResult]:
    return {name: quick_lab_result(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_document(results: dict[str, td.lab.LabResult], name: str, tmp_path) -> None:
    result = results[name]
    doc = result.to_json()
    assert doc["name"] == name and result.experiment.order == ORDERS[name]
    assert doc["claim"].strip() and doc["reference"].strip() and result.experiment.setup.strip()
    assert doc["verdict"] in td.lab.VERDICTS
    assert doc["summary"].strip() and "\n" not in doc["summary"]
    assert doc["checks"] and all(isinstance(c["passed"], bool) for c in doc["checks"])
    assert doc["table"] and all(isinstance(row, dict) and row for row in doc["table"])
    for row in doc["table"]:
        assert all(isinstance(v, (int, float, str)) for v in row.values()), row
    assert doc["figures"] and all(f.startswith(f"{name}-") and f.endswith(".svg")
                                  for f in doc["figures"])
    assert all(f.svg.lstrip().startswith("<svg") for f in result.figures)
    path = td.lab.write_result(result, tmp_path)
    assert json.loads(path.read_text())["name"] == name


def test_registry_order() -> None:
    names = list(td.lab.EXPERIMENTS)
    assert all(n in names for n in NAMES)
    assert [n for n in names if n in NAMES] == list(NAMES)


def _naive_dead(layers: list[nn.Linear], x: torch.Tensor) -> tuple[float, float]:
    """(ReLU units never positive on x, (sample, unit) pairs not positive), by explicit loops."""
    dead = total = off = pairs = 0
    h = x
    for lin in layers:
        z = h @ lin.weight.detach().T + lin.bias.detach()
        for j in range(z.shape[1]):
            column = [float(v) for v in z[:, j]]
            dead += int(all(v <= 0 for v in column))
            off += sum(v <= 0 for v in column)
            total += 1
            pairs += len(column)
        h = z.clamp_min(0)
    return dead / total, off / pairs


def test_dead_fraction_matches_naive_loop() -> None:
    torch.manual_seed(1)
    l1, l2 = nn.Linear(5, 8), nn.Linear(8, 6)
    with torch.no_grad():
        l1.bias[:3] = -100.0  # three units of layer 1 can never fire
        l2.bias[0] = -100.0
    model = nn.Sequential(l1, nn.ReLU(), l2, nn.ReLU(), nn.Linear(6, 2))
    x = torch.randn(64, 5)
    expected, inactive = _naive_dead([l1, l2], x)
    assert expected >= 4 / 14
    assert dead_fraction(model, x) == pytest.approx(expected)
    assert negative_share(model, x) == pytest.approx(inactive)
    leaky = nn.Sequential(l1, nn.LeakyReLU(), l2, nn.ELU(), nn.Linear(6, 2))
    assert dead_fraction(leaky, x) == 0.0
    maxout = nn.Sequential(nn.Linear(5, 16), td.nn.make_activation("maxout", pieces=2),
                           nn.Linear(8, 2))
    with torch.no_grad():
        maxout[0].bias.fill_(-100.0)  # every piece negative: maxout still passes a gradient
    assert dead_fraction(maxout, x) == 0.0


def test_maxout_units_of_the_mlp_are_the_maxout_layer() -> None:
    torch.manual_seed(5)
    layer = td.nn.Maxout(6, 4, pieces=2)
    as_built = nn.Sequential(nn.Linear(6, 8), td.nn.make_activation("maxout", pieces=2))
    as_built[0].load_state_dict(layer.linear.state_dict())
    x = torch.randn(10, 6)
    naive = torch.stack([torch.maximum(layer.linear(x)[:, 2 * j], layer.linear(x)[:, 2 * j + 1])
                         for j in range(4)], dim=1)
    assert torch.allclose(as_built(x), layer(x)) and torch.allclose(layer(x), naive)


def test_perturb_shift_moves_each_image_by_at_most_one_pixel() -> None:
    torch.manual_seed(2)
    x = torch.randn(40, 1, 8, 8)
    layer = Perturb(nn.Identity(), shift=True)
    out = layer(x)
    for i in range(len(x)):
        candidates = []
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ref = torch.zeros(1, 8, 8)  # naive shift: copy the overlapping window
                ys, yd = slice(max(0, -dy), 8 - max(0, dy)), slice(max(0, dy), 8 - max(0, -dy))
                xs, xd = slice(max(0, -dx), 8 - max(0, dx)), slice(max(0, dx), 8 - max(0, -dx))
                ref[:, yd, xd] = x[i, :, ys, xs]
                candidates.append(torch.equal(out[i], ref))
        assert any(candidates), i
    layer.eval()
    assert torch.equal(layer(x), x)


def test_perturb_noise_has_the_requested_std() -> None:
    torch.manual_seed(3)
    out = Perturb(nn.Identity(), noise=0.2)(torch.zeros(20000, 4))
    assert float(out.std()) == pytest.approx(0.2, rel=0.03)
    assert abs(float(out.mean())) < 0.01


@pytest.mark.parametrize("ratio", [10, 30, 100])
def test_imbalanced_binary_keeps_the_ratio(ratio: int) -> None:
    y = torch.arange(1000) % 10  # 100 of each class; 8 is rare
    keep = imbalanced_binary(y, 8, ratio, seed=0)
    assert len(set(keep.tolist())) == len(keep)
    assert int((y[keep] != 8).sum()) == 900
    assert int((y[keep] == 8).sum()) == min(100, round(900 / ratio))


def test_focal_cross_entropy_arm_is_bce() -> None:
    torch.manual_seed(4)
    logits, y = torch.randn(50), (torch.rand(50) < 0.1).float()
    ce = td.losses.sigmoid_focal_loss(logits, y, gamma=0.0, alpha=-1.0, reduction="mean")
    assert float(ce) == pytest.approx(float(F.binary_cross_entropy_with_logits(logits, y)))


def test_optimizers_large_batch_rates_scale_linearly(results: dict[str, td.lab.LabResult]) -> None:
    rows = [r for r in results["optimizers"].outcome.table if r["part"] == "large_batch"]
    assert {r["optimizer"] for r in rows} == {"sgdm", "lars"}
    for r in rows:
        assert r["lr"] == pytest.approx(td.optim.USUAL_LR[r["optimizer"]] * r["batch"] / 32)
    budget = [r for r in results["optimizers"].outcome.table if r["part"] == "budget"]
    assert len({r["epochs"] for r in budget}) == 1  # one budget for all seven
    assert {r["optimizer"] for r in budget} == {"gd", "sgd", "sgdm", "adagrad", "adadelta",
                                                "rmsprop", "adam"}


def test_lr_range_suggestion_is_inside_the_sweep(results: dict[str, td.lab.LabResult]) -> None:
    table = results["lr_range"].outcome.table
    suggested = [r for r in table if r["source"] != "grid"]
    assert len(suggested) == 1
    assert 1e-6 <= suggested[0]["rate"] <= 1.0 and math.isfinite(suggested[0]["val_accuracy"])
