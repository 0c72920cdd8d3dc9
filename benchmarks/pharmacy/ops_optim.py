"""Benchmarks of pharmacy part B: LARS step vs SGD(momentum=0.9), roi_align vs the loop reference.

Each function returns rows ``{"name", "ours_ms", "reference_ms", "ratio", "bound"}``; the two
candidates run alternately in one process and the medians of the repeats are compared
(``ratio = ours / reference``; ``bound`` is the ratio not to exceed, or ``None``).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import torch


def resnet18_shapes() -> list[tuple[int, ...]]:
    """The parameter shapes of torchvision's ResNet-18 (62 tensors, 11,689,512 parameters)."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            s = stride if block == 0 else 1
            shapes += [(cout, cin, 3, 3), (cout,), (cout,), (cout, cout, 3, 3), (cout,), (cout,)]
            if block == 0 and (s != 1 or cin != cout):
                shapes += [(cout, cin, 1, 1), (cout,), (cout,)]
            cin = cout
    shapes += [(1000, 512), (1000,)]
    return shapes


def alternate(fns: list[Callable[[], object]], repeats: int, warmup: int = 2) -> list[float]:
    """Median wall time (ms) of each callable, run alternately ``repeats`` times."""
    times: list[list[float]] = [[] for _ in fns]
    for r in range(repeats + warmup):
        for i, fn in enumerate(fns if r % 2 == 0 else fns[::-1]):
            j = i if r % 2 == 0 else len(fns) - 1 - i
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[j].append(dt * 1e3)
    return [statistics.median(t) for t in times]


def _row(name: str, ours: float, ref: float, bound: float | None) -> dict:
    return {"name": name, "ours_ms": ours, "reference_ms": ref, "ratio": ours / ref, "bound": bound}


def bench_lars(repeats: int = 30) -> list[dict]:
    """One LARS step vs one ``torch.optim.SGD(momentum=0.9, foreach=True)`` step on ResNet-18 shapes."""
    from torchdoctor.optim import LARS

    gen = torch.Generator().manual_seed(0)
    shapes = resnet18_shapes()

    def make() -> list[torch.nn.Parameter]:
        ps = [torch.nn.Parameter(torch.randn(s, generator=gen) * 0.05) for s in shapes]
        for p in ps:
            p.grad = torch.randn(p.shape, generator=gen) * 1e-3
        return ps

    n = sum(math.prod(s) for s in shapes)
    rows = []
    for wd in (0.0, 5e-4):
        pa, pb = make(), make()
        lars = LARS(pa, lr=0.1, momentum=0.9, weight_decay=wd)
        sgd = torch.optim.SGD(pb, lr=0.1, momentum=0.9, weight_decay=wd, foreach=True)
        ours, ref = alternate([lars.step, sgd.step], repeats)
        rows.append(_row(f"LARS vs SGD(m=0.9) step, wd={wd:g} [{len(shapes)} tensors, "
                         f"{n / 1e6:.1f}M]", ours, ref, 1.3))
    if hasattr(torch, "_fused_sgd_"):  # for information: SGD's own fused CPU kernel
        pa, pb = make(), make()
        lars = LARS(pa, lr=0.1, momentum=0.9)
        sgd = torch.optim.SGD(pb, lr=0.1, momentum=0.9, fused=True)
        ours, ref = alternate([lars.step, sgd.step], repeats)
        rows.append(_row("LARS vs SGD(m=0.9, fused=True) step, wd=0", ours, ref, None))
    return rows


def _loop_reference() -> Callable[..., torch.Tensor]:
    """The explicit-loop RoI Align of tests/test_ops_roi_align.py (the very function tested)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "tests" / "test_ops_roi_align.py"
    spec = importlib.util.spec_from_file_location("_roi_align_loop_reference", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.roi_align_loop


def bench_roi_align(repeats: int = 5) -> list[dict]:
    """Vectorized ``roi_align`` (forward) vs the explicit-loop reference of the tests."""
    from torchdoctor.ops import roi_align

    roi_align_loop = _loop_reference()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, 32, 32, generator=gen)
    k = 32
    xy = torch.rand(k, 2, generator=gen) * 24
    wh = torch.rand(k, 2, generator=gen) * 12 + 2
    boxes = torch.cat([torch.randint(0, 2, (k, 1), generator=gen).float(), xy, xy + wh], 1)
    kw = dict(output_size=(7, 7), spatial_scale=1.0, sampling_ratio=2, aligned=True)
    ours, ref = alternate([lambda: roi_align(x, boxes, **kw), lambda: roi_align_loop(x, boxes, **kw)],
                          repeats, warmup=1)
    rows = [_row(f"roi_align vs loop reference [2x16x32x32, {k} boxes, 7x7]", ours, ref, None)]
    try:
        from torchvision.ops import roi_align as tv_roi_align
    except ImportError:
        return rows
    ours, ref = alternate([lambda: roi_align(x, boxes, **kw), lambda: tv_roi_align(x, boxes, **kw)],
                          repeats * 4, warmup=1)
    rows.append(_row("roi_align vs torchvision (C++ kernel)", ours, ref, None))
    return rows


def bench_ops_optim(repeats: int = 30) -> list[dict]:
    """All rows of this module."""
    return bench_lars(repeats) + bench_roi_align(max(3, repeats // 6))
