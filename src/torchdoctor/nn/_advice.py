"""Which normalization for which batch size and task: the usual advice as a function.

Sources: Ioffe & Szegedy 2015, Ba et al. 2016, Ulyanov et al. 2016 (BN depends on the batch size and is weak for small batches and
RNNs; LN is batch-independent and suits RNNs and batch size 1; IN suits generative models such
as style transfer; GN works at any batch size and does better than LN/IN on vision models);
Chintala et al. 2016, "How to Train a GAN" (GANs: BatchNorm on all-real or all-fake
batches, else InstanceNorm); Wu & He,
"Group Normalization" (2018), Fig. 1: BatchNorm's ImageNet error rises steeply once fewer than
16 images per batch (per device) are normalized together.
"""

from __future__ import annotations

__all__ = ["NORM_TASKS", "SMALL_BATCH", "recommend_norm"]

#: Below this many samples per batch BatchNorm's statistics are too noisy (Wu & He 2018, Fig. 1).
SMALL_BATCH = 16

#: task → (kind at batch size >= SMALL_BATCH, kind below it).
NORM_TASKS: dict[str, tuple[str, str]] = {
    "classification": ("batch", "group"),
    "regression": ("batch", "group"),
    "detection": ("batch", "group"),
    "segmentation": ("batch", "group"),
    "sequence": ("layer", "layer"),
    "style_transfer": ("instance", "instance"),
    "gan": ("batch", "instance"),
}


def recommend_norm(batch_size: int, task: str = "classification") -> str:
    """The normalization kind (a :func:`torchdoctor.nn.make_norm` name) the sources above advise.

    ==================================================  ==================  ==============
    task                                                batch >= 16         batch < 16
    ==================================================  ==================  ==============
    classification, regression, detection, segmentation ``batch``           ``group``
    sequence (RNNs, variable length, transformers)      ``layer``           ``layer``
    style_transfer (per-image statistics)               ``instance``        ``instance``
    gan (BN on all-real / all-fake batches)             ``batch``           ``instance``
    ==================================================  ==================  ==============

    ``switch`` (a learned mix of IN, LN and BN) is the choice when unsure and the extra
    compute is acceptable; it is never the default answer here.

    Args:
        batch_size: samples per batch (per device) that BatchNorm would see; >= 1.
        task: one of :data:`NORM_TASKS`.

    Returns:
        ``"batch"``, ``"group"``, ``"layer"`` or ``"instance"``.

    Raises:
        ValueError: ``batch_size < 1`` or unknown ``task``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if task not in NORM_TASKS:
        raise ValueError(f"task must be one of {', '.join(NORM_TASKS)}, got {task!r}")
    large, small = NORM_TASKS[task]
    return large if batch_size >= SMALL_BATCH else small
