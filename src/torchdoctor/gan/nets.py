"""The GAN trainer's networks: MLPs for vectors (2-D mixtures), a small DCGAN for 8x8 images.

- :func:`build_generator`: latent (N, latent_dim) -> samples (N, *shape), tanh output when the
  data are scaled to [-1, 1] (``gan.scale_inputs``).
- :func:`build_discriminator`: packs (N, pack, *shape) -> scores (N,); the ``pack`` samples
  of a pack are concatenated (features for vectors, channels for images; PacGAN, Lin et al.
  2018).

Images (DCGAN, Radford et al. 2016): G projects z to a (width, H/4, W/4) map and upsamples
twice (transposed convolutions, or a convolution and PixelShuffle); D downsamples twice
(strided convolutions, or a convolution and 2x2 average pooling).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["GaussianNoise", "build_discriminator", "build_generator"]

LEAKY_SLOPE = 0.2  # LeakyReLU slope of DCGAN's discriminator (Radford et al. 2016)


class GaussianNoise(nn.Module):
    """Adds N(0, sigma²) noise while training (identity in eval mode)."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = float(sigma)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.sigma > 0:
            return x + self.sigma * torch.randn_like(x)
        return x


def _act(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(LEAKY_SLOPE), "elu": nn.ELU(),
            "tanh": nn.Tanh()}[name]


def _norm(kind: str, channels: int, image: bool) -> list[nn.Module]:
    if kind == "none":
        return []
    if kind == "batch":
        return [nn.BatchNorm2d(channels) if image else nn.BatchNorm1d(channels)]
    if kind == "instance":
        if not image:
            raise ValueError("norm = instance: needs image data (digits); allowed for vectors: "
                             "none, batch, layer")
        return [nn.InstanceNorm2d(channels, affine=True)]
    return [nn.GroupNorm(1, channels) if image else nn.LayerNorm(channels)]


def _spectral(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) of every Linear and Conv layer, in place."""
    from torch.nn.utils.parametrizations import spectral_norm

    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, spectral_norm(child))
        else:
            _spectral(child)
    return module


class _Reshape(nn.Module):
    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), *self.shape)


def _image_side(shape: Sequence[int]) -> tuple[int, int, int]:
    c, h, w = shape
    if h % 4 or w % 4:
        raise ValueError(f"images of shape {tuple(shape)}: the DCGAN needs sides divisible by 4")
    return c, h, w


def build_generator(g: Any, latent_dim: int, shape: Sequence[int], *, tanh: bool = True,
                    noise: float = 0.0, spectral_norm: bool = False) -> nn.Module:
    """G for samples of ``shape`` ((D,) vectors or (C, H, W) images).

    Args:
        g: the ``gan.generator`` section (width, depth, activation, norm, upsample).
        latent_dim: dimension of z.
        tanh: end with tanh (data scaled to [-1, 1]).
        noise: std of the Gaussian noise added after every hidden layer while training.
        spectral_norm: spectral normalization of every layer.
    """
    layers: list[nn.Module] = []
    extra = [GaussianNoise(noise)] if noise > 0 else []
    if len(shape) == 1:
        d = latent_dim
        for _ in range(g.depth):
            layers += [nn.Linear(d, g.width), *_norm(g.norm, g.width, False), _act(g.activation), *extra]
            d = g.width
        layers.append(nn.Linear(d, shape[0]))
    else:
        c, h, w = _image_side(shape)
        ch = [g.width, max(1, g.width // 2), max(1, g.width // 4)]
        layers += [nn.Linear(latent_dim, ch[0] * (h // 4) * (w // 4)), _Reshape((ch[0], h // 4, w // 4)),
                   *_norm(g.norm, ch[0], True), _act(g.activation), *extra]
        for a, b in ((ch[0], ch[1]), (ch[1], ch[2])):
            if g.upsample == "transposed":
                layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
            else:
                layers += [nn.Conv2d(a, 4 * b, 3, padding=1), nn.PixelShuffle(2)]
            layers += [*_norm(g.norm, b, True), _act(g.activation), *extra]
        for _ in range(max(0, g.depth - 2)):
            layers += [nn.Conv2d(ch[2], ch[2], 3, padding=1), *_norm(g.norm, ch[2], True),
                       _act(g.activation), *extra]
        layers.append(nn.Conv2d(ch[2], c, 3, padding=1))
    if tanh:
        layers.append(nn.Tanh())
    net = nn.Sequential(*layers)
    return _spectral(net) if spectral_norm else net


class _Packed(nn.Module):
    """(N, pack, *shape) -> the pack concatenated -> the body -> (N,)."""

    def __init__(self, body: nn.Module, image: bool) -> None:
        super().__init__()
        self.body = body
        self.image = image

    def forward(self, x: Tensor) -> Tensor:
        n = len(x)
        x = x.reshape(n, -1, *x.shape[3:]) if self.image else x.reshape(n, -1)
        return self.body(x).reshape(n)


def build_discriminator(d: Any, shape: Sequence[int], pack: int = 1, *,
                        spectral_norm: bool = False) -> nn.Module:
    """D scoring packs (N, pack, *shape) -> (N,) raw scores (logits for the label losses).

    Args:
        d: the ``gan.discriminator`` section (width, depth, activation, norm, downsample).
        shape: one sample's shape, (D,) or (C, H, W).
        pack: samples judged together (PacGAN).
        spectral_norm: spectral normalization of every layer.
    """
    layers: list[nn.Module] = []
    image = len(shape) == 3
    if not image:
        n_in = shape[0] * pack
        for _ in range(d.depth):
            layers += [nn.Linear(n_in, d.width), *_norm(d.norm, d.width, False), _act(d.activation)]
            n_in = d.width
        layers.append(nn.Linear(n_in, 1))
    else:
        c, h, w = _image_side(shape)
        ch = [d.width, 2 * d.width, 4 * d.width]
        layers += [nn.Conv2d(c * pack, ch[0], 3, padding=1), _act(d.activation)]
        for _ in range(max(0, d.depth - 2)):
            layers += [nn.Conv2d(ch[0], ch[0], 3, padding=1), *_norm(d.norm, ch[0], True),
                       _act(d.activation)]
        for a, b in ((ch[0], ch[1]), (ch[1], ch[2])):
            if d.downsample == "strided":
                layers.append(nn.Conv2d(a, b, 4, stride=2, padding=1))
            else:
                layers += [nn.Conv2d(a, b, 3, padding=1), nn.AvgPool2d(2)]
            layers += [*_norm(d.norm, b, True), _act(d.activation)]
        layers += [nn.Flatten(), nn.Linear(ch[2] * (h // 4) * (w // 4), 1)]
    body = nn.Sequential(*layers)
    return _Packed(_spectral(body) if spectral_norm else body, image)
