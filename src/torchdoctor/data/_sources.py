"""Raw datasets: the registry (``data.name``, docs/config.md), each a function ``seed -> RawDataset``.

Everything is bundled or generated offline: scikit-learn's digits, generated 2-D sets, the
``mnist1d`` package's generator (no download), Gaussian mixtures for GAN work, and a user's
``npz:PATH``.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from torchdoctor.data._arrays import check_inputs, check_labels
from torchdoctor.rundir import show


@dataclass
class RawDataset:
    """Arrays before any split or normalization.

    Attributes:
        x: float32 array (N, *input_shape), raw units.
        y: int64 class labels (N,) or float32 regression targets (N,) / (N, T); None for an
            unlabelled target sample.
        task: ``"classification"``, ``"regression"`` (or ``"unlabelled"``).
        num_classes: number of classes (0 for regression).
        kind: ``"image"`` (N, C, H, W), ``"sequence"`` (N, C, L) or ``"tabular"`` (N, D).
        name: the registry name.
    """

    x: np.ndarray
    y: np.ndarray
    task: str
    num_classes: int
    kind: str
    name: str


def _digits(seed: int) -> RawDataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)[:, None, :, :]  # (1797, 1, 8, 8), values 0..16
    return RawDataset(x, d.target.astype(np.int64), "classification", 10, "image", "digits")


def _moons(seed: int) -> RawDataset:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=1000, noise=0.2, random_state=seed)
    return RawDataset(x.astype(np.float32), y.astype(np.int64), "classification", 2, "tabular", "moons")


def _blobs(seed: int) -> RawDataset:
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1000, centers=4, n_features=2, cluster_std=1.5, random_state=seed)
    return RawDataset(x.astype(np.float32), y.astype(np.int64), "classification", 4, "tabular", "blobs")


def _spirals(seed: int, n_per_class: int = 300, classes: int = 3) -> RawDataset:
    """The classic K-arm spiral (CS231n): radius 0→1, 4 radians of turn, angle noise 0.2."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n_per_class, k))
    x = np.concatenate(xs).astype(np.float32)
    y = np.concatenate(ys).astype(np.int64)
    return RawDataset(x, y, "classification", classes, "tabular", "spirals")


def _mnist1d(seed: int) -> RawDataset:
    """MNIST-1D (Greydanus 2020) from the package's own generator: 5000 × 40, 10 classes.

    The generator's canonical arguments (its seed 42) are kept so the data is the published
    one; ``seed`` only drives our split.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise ValueError('data.name = mnist1d needs the mnist1d package: pip install mnist1d') from exc
    args = get_dataset_args()
    d = make_dataset(args)
    x = np.concatenate([d["x"], d["x_test"]]).astype(np.float32)[:, None, :]
    y = np.concatenate([d["y"], d["y_test"]]).astype(np.int64)
    return RawDataset(x, y, "classification", 10, "sequence", "mnist1d")


def _mixture(centres: np.ndarray, sigma: float, n_per_mode: int, seed: int, name: str) -> RawDataset:
    rng = np.random.default_rng(seed)
    k = len(centres)
    y = np.repeat(np.arange(k), n_per_mode)
    x = centres[y] + rng.normal(0.0, sigma, size=(len(y), 2))
    return RawDataset(x.astype(np.float32), y.astype(np.int64), "classification", k, "tabular", name)


def _ring8(seed: int) -> RawDataset:
    """Eight Gaussians on the unit circle, σ = 0.01 (the GAN mode-collapse benchmark)."""
    ang = 2 * math.pi * np.arange(8) / 8
    centres = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    return _mixture(centres, 0.01, 250, seed, "ring8")


def _grid25(seed: int) -> RawDataset:
    """25 Gaussians on the grid {−4, −2, 0, 2, 4}², σ = 0.05."""
    g = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    centres = np.array([(a, b) for a in g for b in g])
    return _mixture(centres, 0.05, 100, seed, "grid25")


def _friedman(seed: int) -> RawDataset:
    """Friedman #1 regression (scikit-learn): 1000 × 10 features, noise 1.0."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=1000, n_features=10, noise=1.0, random_state=seed)
    return RawDataset(x.astype(np.float32), y.astype(np.float32), "regression", 0, "tabular", "friedman")


def load_npz(path: str, *, labels: bool = True, min_classes: int = 2,
             source: str | None = None) -> RawDataset:
    """A user's ``.npz`` with arrays ``x`` (N, ...) and ``y`` (N,) or (N, T), checked at the door.

    Integer ``y`` means classification (labels 0..K-1), float ``y`` regression. ``x`` of rank 4
    is taken as images (N, C, H, W), rank 3 as sequences (N, C, L), rank 2 as tabular. The
    checks (:mod:`torchdoctor.data._arrays`) refuse NaN/Inf, complex or string arrays, labels
    that are not one per sample, a single class, and so on, in one line naming the file.

    Args:
        path: the file.
        labels: ``y`` is required; without it, a file with only ``x`` gives ``y = None``
            (``task = "unlabelled"``), as a target sample may.
        min_classes: distinct classes ``y`` must hold when it is integer.
        source: how messages name the file (default ``data.name = npz:PATH``).

    Raises:
        ValueError: the file is missing, a directory, not an ``.npz`` archive, lacks ``x``
            (or ``y``), or an array fails a check.
    """
    source = source or f"data.name = {show('npz:' + str(path))}"
    p = Path(path)
    try:
        if p.is_dir():
            raise ValueError(f"{source}: is a directory; expected an .npz file")
        if not p.is_file():
            raise ValueError(f"{source}: file does not exist")
        if p.stat().st_size == 0:
            raise ValueError(f"{source}: file is empty (0 bytes); expected an .npz archive "
                             "(numpy.savez) with arrays x and y")
        with open(p, "rb") as fh:
            magic = fh.read(6)
        if magic == b"\x93NUMPY":
            raise ValueError(f"{source}: holds a single array (.npy); expected an .npz archive "
                             "(numpy.savez) with arrays x and y")
        if not magic.startswith(b"PK"):
            raise ValueError(f"{source}: is not an .npz archive (not a zip file); expected "
                             "numpy.savez output with arrays x and y")
        with np.load(p, allow_pickle=False) as f:
            need = ("x", "y") if labels else ("x",)
            missing = [k for k in need if k not in f.files]
            if missing:
                have = ", ".join(f.files) or "no arrays"
                raise ValueError(f"{source}: missing array(s) {', '.join(missing)}; it has "
                                 f"{have if len(have) < 60 else have[:57] + '...'}")
            x, y = f["x"], f["y"] if "y" in f.files else None
        for key, arr in (("x", x), ("y", y)):
            if arr is not None and not isinstance(arr, np.ndarray):  # numpy hands back raw bytes
                raise ValueError(f"{source}: member {key} is not a NumPy array (.npy) inside the "
                                 "archive; expected numpy.savez output")
    except ValueError as exc:
        if str(exc).startswith(source):
            raise
        raise ValueError(f"{source}: cannot be read as an .npz archive of plain arrays "
                         f"({_reason(exc)})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as exc:
        raise ValueError(f"{source}: cannot be read as an .npz archive ({_reason(exc)})") from None
    xf = check_inputs(x, source)
    kind = {2: "tabular", 3: "sequence", 4: "image"}[xf.ndim]
    if y is None:
        return RawDataset(xf, None, "unlabelled", 0, kind, f"npz:{path}")  # type: ignore[arg-type]
    ya, task, k = check_labels(y, len(xf), source, min_classes=min_classes)
    return RawDataset(xf, ya, task, k, kind, f"npz:{path}")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "pickle" in text:
        return "it holds Python objects, which are not loaded; save numeric arrays"
    return show(text, 80).strip("'\"")


#: name -> generator(seed). ``npz:PATH`` is handled by :func:`load_raw`.
DATASETS: dict[str, Callable[[int], RawDataset]] = {
    "digits": _digits,
    "moons": _moons,
    "blobs": _blobs,
    "spirals": _spirals,
    "mnist1d": _mnist1d,
    "ring8": _ring8,
    "grid25": _grid25,
    "friedman": _friedman,
}


def load_raw(name: str, seed: int = 0) -> RawDataset:
    """The raw dataset ``name`` (a registry name or ``npz:PATH``)."""
    if name.startswith("npz:"):
        return load_npz(name[4:])
    if name not in DATASETS:
        raise ValueError(f"data.name = {name!r}: allowed: {', '.join(DATASETS)}, or npz:PATH")
    return DATASETS[name](seed)
