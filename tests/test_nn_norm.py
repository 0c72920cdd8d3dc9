"""make_norm, convert_norm and recommend_norm against naive formulas and PyTorch built-ins."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from torchdoctor.nn import (
    NORM_KINDS,
    SwitchNorm1d,
    SwitchNorm2d,
    convert_norm,
    make_norm,
    recommend_norm,
)

DT = torch.float64


def _x(n: int, c: int, sd: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, *([5] * sd), generator=g, dtype=DT) * 3 + 1


def _naive(x: torch.Tensor, dims: tuple[int, ...], w: torch.Tensor, b: torch.Tensor,
           eps: float = 1e-5) -> torch.Tensor:
    mean = x.mean(dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dims, keepdim=True)
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return (x - mean) / torch.sqrt(var + eps) * w.view(shape) + b.view(shape)


def _randomize_affine(m: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        m.weight.uniform_(0.5, 2.0)
        m.bias.uniform_(-1.0, 1.0)
    return m.weight.detach(), m.bias.detach()


@pytest.mark.parametrize("sd", [0, 1, 2, 3])
@pytest.mark.parametrize("kind", ["batch", "layer", "instance", "group"])
def test_statistics_match_the_definitions(kind, sd):
    if kind == "instance" and sd == 0:
        return
    x = _x(6, 8, sd)
    kw = {"num_groups": 4} if kind == "group" else {}
    m = make_norm(kind, 8, spatial_dims=sd, dtype=DT, **kw).train()
    w, b = _randomize_affine(m)
    spatial = tuple(range(2, 2 + sd))
    if kind == "batch":
        want = _naive(x, (0, *spatial), w, b)
    elif kind == "layer":
        want = _naive(x, (1, *spatial), w, b)
    elif kind == "instance":
        want = _naive(x, spatial, w, b)
    else:  # group of 2 consecutive channels
        xg = x.reshape(6, 4, 2, *x.shape[2:])
        norm = _naive(xg, tuple(range(2, xg.dim())), torch.ones(4, dtype=DT),
                      torch.zeros(4, dtype=DT)).reshape(x.shape)
        shape = (1, -1) + (1,) * sd
        want = norm * w.view(shape) + b.view(shape)
    torch.testing.assert_close(m(x), want)


def test_layer_on_features_is_the_usual_layernorm():
    x = _x(7, 10, 0)
    m = make_norm("layer", 10, spatial_dims=0, dtype=DT)
    w, b = _randomize_affine(m)
    torch.testing.assert_close(m(x), F.layer_norm(x, (10,), w, b, 1e-5))


@pytest.mark.parametrize("sd", [1, 2])
def test_group_one_is_layer_and_group_c_is_instance(sd):
    x = _x(4, 6, sd, seed=1)
    layer = make_norm("layer", 6, spatial_dims=sd, dtype=DT)
    g1 = make_norm("group", 6, spatial_dims=sd, num_groups=1, dtype=DT)
    gc = make_norm("group", 6, spatial_dims=sd, num_groups=6, dtype=DT)
    w, b = _randomize_affine(layer)
    for m in (g1, gc):
        m.load_state_dict(layer.state_dict())
    torch.testing.assert_close(g1(x), layer(x))
    inst = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d}[sd](6, affine=True, dtype=DT)
    inst.load_state_dict(layer.state_dict())
    torch.testing.assert_close(gc(x), inst(x))
    # the notes' LayerNorm: per sample over C·H·W (seed 002 has G=1 / G=C the wrong way round)
    torch.testing.assert_close(g1(x), _naive(x, tuple(range(1, x.dim())), w, b))


def test_group_default_and_fallback():
    assert make_norm("group", 64).num_groups == 32
    with pytest.warns(UserWarning, match="num_channels=48 .* using num_groups=24"):
        assert make_norm("group", 48).num_groups == 24
    with pytest.warns(UserWarning, match="using num_groups=20"):
        assert make_norm("group", 20).num_groups == 20
    with pytest.warns(UserWarning, match="using num_groups=1"):
        assert make_norm("group", 37).num_groups == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_norm("group", 96).num_groups == 32
        assert make_norm("group", 12, num_groups=3).num_groups == 3


@pytest.mark.parametrize("g", [5, 0, 128, -2])
def test_group_explicit_impossible_raises(g):
    with pytest.raises(ValueError, match=rf"num_groups must divide num_channels=64 .*got {g}"):
        make_norm("group", 64, num_groups=g)


def test_make_norm_errors():
    with pytest.raises(ValueError, match="kind must be one of none, batch, layer, instance, "
                                         "group, switch, got 'weight'"):
        make_norm("weight", 4)
    with pytest.raises(ValueError, match="spatial_dims must be >= 1 for instance norm.*got 0"):
        make_norm("instance", 4, spatial_dims=0)
    with pytest.raises(ValueError, match="num_channels must be >= 1, got 0"):
        make_norm("batch", 0)
    with pytest.raises(ValueError, match="spatial_dims must be 0, 1, 2 or 3, got 4"):
        make_norm("batch", 4, spatial_dims=4)
    with pytest.raises(ValueError, match="spatial_dims must be 0, 1 or 2 for switch norm, got 3"):
        make_norm("switch", 4, spatial_dims=3)


def test_none_is_identity_and_every_kind_carries_2c_parameters():
    assert isinstance(make_norm("none", 5), nn.Identity)
    for kind in NORM_KINDS[1:]:
        sd = 2
        n_params = sum(p.numel() for n, p in make_norm(kind, 32, spatial_dims=sd).named_parameters()
                       if n in ("weight", "bias"))
        assert n_params == 2 * 32, kind


@pytest.mark.parametrize("sd", [0, 1, 2])
@pytest.mark.parametrize("kind", NORM_KINDS)
def test_every_builder_combination_trains(kind, sd):
    """What the model builder does: layer → norm → activation, forward and backward."""
    if kind == "instance" and sd == 0:
        return
    torch.manual_seed(0)
    layer = {0: nn.Linear(3, 32), 1: nn.Conv1d(3, 32, 3, padding=1),
             2: nn.Conv2d(3, 32, 3, padding=1)}[sd]
    model = nn.Sequential(layer, make_norm(kind, 32, spatial_dims=sd), nn.ReLU())
    x = torch.randn(4, 3, *([6] * sd))
    model.train()
    out = model(x)
    assert out.shape == (4, 32, *([6] * sd))
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert torch.isfinite(model(x[:1])).all()


# ---- convert_norm ----------------------------------------------------------------------------

def _cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Sequential(nn.Conv2d(8, 16, 3), nn.BatchNorm2d(16), nn.ReLU()),
        nn.Flatten(),
    )


def test_convert_bn_to_group_keeps_dtype_affine_and_mode():
    model = _cnn().to(DT)
    _randomize_affine(model[1])
    model.eval()
    w = model[1].weight.detach().clone()
    convert_norm(model, "group", num_groups=4)
    assert isinstance(model[1], nn.GroupNorm) and model[1].num_groups == 4
    assert isinstance(model[3][1], nn.GroupNorm) and model[3][1].num_channels == 16
    assert model[1].weight.dtype == DT and not model[1].training
    torch.testing.assert_close(model[1].weight.detach(), w)
    model(torch.randn(2, 3, 9, 9, dtype=DT)).sum().backward()


def test_convert_bn_to_switch_keeps_running_stats():
    model = _cnn().to(DT).train()
    for _ in range(3):
        model(torch.randn(8, 3, 9, 9, dtype=DT) * 2 + 1)
    _randomize_affine(model[1])
    model.eval()
    x = torch.randn(4, 3, 9, 9, dtype=DT)
    ref = model[:3](x)
    convert_norm(model, "switch")
    sn = model[1]
    assert isinstance(sn, SwitchNorm2d) and not sn.training
    with torch.no_grad():  # all weight on the BN branch: must equal the BatchNorm in eval
        sn.mean_weight.copy_(torch.tensor([-40.0, -40.0, 40.0]))
        sn.var_weight.copy_(torch.tensor([-40.0, -40.0, 40.0]))
    torch.testing.assert_close(model[:3](x), ref)


def test_convert_infers_spatial_dims_and_needs_it_for_groupnorm():
    mlp = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.Linear(6, 6), nn.BatchNorm1d(6))
    convert_norm(mlp, "switch")
    assert isinstance(mlp[1], SwitchNorm1d) and isinstance(mlp[3], SwitchNorm1d)
    mlp(torch.randn(5, 4)).sum().backward()
    gn = nn.Sequential(nn.Conv2d(2, 4, 1), nn.GroupNorm(2, 4))
    with pytest.raises(ValueError, match="spatial_dims must be given to convert GroupNorm layer "
                                         "'1' to 'batch'"):
        convert_norm(gn, "batch")
    convert_norm(gn, "batch", spatial_dims=2)
    assert isinstance(gn[1], nn.BatchNorm2d)
    convert_norm(gn, "layer")
    assert isinstance(gn[1], nn.GroupNorm) and gn[1].num_groups == 1
    convert_norm(gn, "none")
    assert isinstance(gn[1], nn.Identity)


def test_convert_errors():
    with pytest.raises(ValueError, match="kind must be one of .*got 'bn'"):
        convert_norm(nn.Sequential(), "bn")
    with pytest.raises(ValueError, match="model must contain norm layers, not be one"):
        convert_norm(nn.BatchNorm2d(3), "group")
    with pytest.raises(ValueError, match="spatial_dims must be 0, 1, 2 or 3, got 7"):
        convert_norm(nn.Sequential(), "group", spatial_dims=7)


# ---- recommend_norm --------------------------------------------------------------------------

@pytest.mark.parametrize("batch,task,want", [
    (64, "classification", "batch"), (16, "classification", "batch"),
    (8, "classification", "group"), (2, "detection", "group"), (1, "segmentation", "group"),
    (64, "sequence", "layer"), (1, "sequence", "layer"), (32, "style_transfer", "instance"),
    (64, "gan", "batch"), (4, "gan", "instance"),
])
def test_recommend_norm(batch, task, want):
    assert recommend_norm(batch, task) == want
    assert want in NORM_KINDS


def test_recommend_norm_errors():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        recommend_norm(0)
    with pytest.raises(ValueError, match="task must be one of .*got 'nlp'"):
        recommend_norm(8, "nlp")


def test_group_default_on_features_keeps_16_per_group():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_norm("group", 64, spatial_dims=0).num_groups == 4
        assert make_norm("group", 1024, spatial_dims=0).num_groups == 32
        assert make_norm("group", 20, spatial_dims=0).num_groups == 1
    with pytest.warns(UserWarning, match="using num_groups=2"):
        assert make_norm("group", 56, spatial_dims=0).num_groups == 2


def test_default_groups_and_one_value_groups_on_features():
    from torchdoctor.nn import default_groups

    assert default_groups(64) == 32 and default_groups(48) == 24 and default_groups(37) == 1
    assert default_groups(32, spatial_dims=0) == 2 and default_groups(8, spatial_dims=0) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = make_norm("group", 48, num_groups=default_groups(48))
    assert m.num_groups == 24
    with pytest.warns(UserWarning, match="num_groups=32 = num_channels on \\[N, C\\] features"):
        make_norm("group", 32, spatial_dims=0, num_groups=32)
    with pytest.raises(ValueError, match="num_channels must be >= 1, got 0"):
        default_groups(0)
