"""Receptive fields: known stacks (closed form, published VGG-16 numbers) and the empirical check."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchdoctor.ops import LayerRF, empirical_receptive_field, receptive_field


def test_three_3x3_convs_see_7x7():
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)])
    rf = receptive_field(model, (1, 1, 16, 16))
    assert [layer.size for layer in rf] == [(3, 3), (5, 5), (7, 7)]
    assert all(layer.jump == (1, 1) for layer in rf)
    assert rf[0].name == "0" and rf[0].kind == "Conv2d" and rf[0].output_shape == (1, 1, 16, 16)
    assert empirical_receptive_field(model, (1, 1, 16, 16)) == (7, 7)


def test_dilated_3x3_rate2_sees_5x5():
    conv = nn.Conv2d(1, 1, 3, dilation=2, padding=2)
    assert receptive_field(conv, (1, 1, 11, 11))[0].size == (5, 5)
    assert empirical_receptive_field(conv, (1, 1, 11, 11)) == (5, 5)
    # two rate-2 layers: 5 + 4 = 9 (the gridding problem: only every other pixel is seen)
    two = nn.Sequential(conv, nn.Conv2d(1, 1, 3, dilation=2, padding=2))
    assert receptive_field(two, (1, 1, 21, 21))[-1].size == (9, 9)


def _vgg16_features() -> nn.Sequential:
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers: list[nn.Module] = []
    c = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v // 32, 3, padding=1), nn.ReLU()]  # narrow: geometry only
            c = v // 32
    return nn.Sequential(*layers)


def test_vgg16_published_receptive_fields():
    # VGG-16: conv5_3 sees 196 pixels, pool5 212, with jump 32 (Araujo et al., Distill 2019)
    rf = receptive_field(_vgg16_features(), (1, 3, 64, 64))
    assert len(rf) == 18
    assert [r.size[0] for r in rf[:6]] == [3, 5, 6, 10, 14, 16]
    assert rf[-2].size == (196, 196) and rf[-2].jump == (16, 16)
    assert rf[-1].size == (212, 212) and rf[-1].jump == (32, 32)


def test_analytic_equals_empirical_size_and_centre_on_strided_chain():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, (5, 3), stride=(2, 1), padding=(1, 0)),
        nn.AvgPool2d(2),
        nn.Conv2d(3, 3, 3, dilation=(1, 3), padding=2),
        nn.Conv2d(3, 2, 3, stride=2, padding="valid"),
    )
    shape = (1, 2, 60, 60)
    last = receptive_field(model, shape)[-1]
    emp = empirical_receptive_field(model, shape)
    assert emp == last.size
    # centre of the centre unit's field = start + index · jump (checked against the gradient)
    x = torch.randn(*shape, requires_grad=True)
    out = model(x)
    centre = tuple(s // 2 for s in out.shape[2:])
    out[(0, slice(None), *centre)].sum().backward()
    mask = x.grad[0].abs().sum(0) > 0
    for axis, other in ((0, 1), (1, 0)):
        idx = mask.any(dim=other).nonzero().flatten().double()
        assert (idx.min() + idx.max()).item() / 2 == pytest.approx(
            last.start[axis] + centre[axis] * last.jump[axis])


def test_1d_3d_and_same_padding():
    m1 = nn.Sequential(nn.Conv1d(1, 1, 5, padding="same"), nn.MaxPool1d(3, stride=2))
    rf1 = receptive_field(m1, (1, 1, 32))
    assert rf1[-1].size == (7,) and rf1[-1].jump == (2,)
    m3 = nn.Conv3d(1, 1, (3, 5, 1), dilation=(2, 1, 1))
    assert receptive_field(m3, (1, 1, 8, 8, 8))[0].size == (5, 5, 1)
    assert isinstance(receptive_field(m3, (1, 1, 8, 8, 8))[0], LayerRF)


def test_receptive_field_restores_mode_and_errors():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.BatchNorm2d(1))
    model.train()
    receptive_field(model, (1, 1, 8, 8))
    empirical_receptive_field(model, (1, 1, 8, 8))
    assert model.training
    with pytest.raises(ValueError, match=r"input_shape must be \(N, C, \*spatial\), got \(1, 8\)"):
        receptive_field(model, (1, 8))
    with pytest.raises(ValueError, match=r"model must contain Conv or Pool layers"):
        receptive_field(nn.Sequential(nn.Flatten(), nn.Linear(64, 2)), (1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"model output must be \[N, C, \*spatial\]"):
        empirical_receptive_field(nn.Sequential(nn.Flatten(), nn.Linear(64, 2)), (1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"input_shape must be"):
        empirical_receptive_field(model, (8,))
