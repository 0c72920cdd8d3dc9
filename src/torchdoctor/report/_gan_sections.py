"""The GAN run report: generated samples beside real ones over the epochs, D(real) and D(fake),
both losses, the mode metrics and the coverage over the steps (matplotlib figures as inline SVG).
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from torchdoctor import rundir
from torchdoctor.report._figure import PALETTE, figure, figure_svg, house_style
from torchdoctor.report._page import Section, render_page
from torchdoctor.report._sections import findings_section

__all__ = ["gan_sections", "write_gan_report"]

_SAMPLES_FILE = "samples.npz"  # torchdoctor.gan.trainer.SAMPLES_FILE (the gan package is above us)


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for row in history:
        v = row.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(float(row.get("step", len(xs))))
            ys.append(float(v))
    return xs, ys


@house_style()
def _scatter_panels(real: np.ndarray, snaps: np.ndarray, epochs: np.ndarray) -> str:
    n = 1 + len(snaps)
    fig, axes = figure(n, 1, width=min(2.2 * n, 13.0), height=2.4, squeeze=False)
    lo = np.minimum(real.min(0), snaps.reshape(-1, 2).min(0) if snaps.size else real.min(0))
    hi = np.maximum(real.max(0), snaps.reshape(-1, 2).max(0) if snaps.size else real.max(0))
    pad = 0.08 * (hi - lo + 1e-9)
    panels = [("real", real, PALETTE[0])] + [
        (f"epoch {int(e)}", s, PALETTE[1]) for e, s in zip(epochs, snaps, strict=True)]
    for ax, (title, pts, colour) in zip(axes[0], panels, strict=True):
        ax.scatter(pts[:, 0], pts[:, 1], s=2, color=colour, alpha=0.6, linewidths=0)
        ax.set_title(title)
        ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
        ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        ax.set_aspect("equal", adjustable="box")
        ax.tick_params(labelsize=7)
    return figure_svg(fig, title="generated samples beside real ones over the epochs")


def _image_grid(images: np.ndarray) -> np.ndarray:
    """(k, C, H, W) -> one (rows*H, cols*W) mosaic of the first channel."""
    k, _, h, w = images.shape
    cols = int(math.ceil(math.sqrt(k)))
    rows = int(math.ceil(k / cols))
    out = np.zeros((rows * (h + 1), cols * (w + 1)), dtype=np.float64)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = im[0]
    return out


@house_style()
def _image_panels(real: np.ndarray, snaps: np.ndarray, epochs: np.ndarray) -> str:
    n = 1 + len(snaps)
    fig, axes = figure(n, 1, width=min(2.0 * n, 13.0), height=2.2, squeeze=False)
    panels = [("real", real)] + [(f"epoch {int(e)}", s) for e, s in zip(epochs, snaps, strict=True)]
    for ax, (title, ims) in zip(axes[0], panels, strict=True):
        ax.imshow(_image_grid(ims), cmap="gray_r", interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    return figure_svg(fig, title="generated samples beside real ones over the epochs")


@house_style()
def _lines(history: list[dict[str, Any]], groups: list[tuple[str, list[tuple[str, str]]]],
           title: str) -> str:
    fig, axes = figure(len(groups), 1, width=4.2 * len(groups), height=2.8, squeeze=False)
    for ax, (ylabel, keys) in zip(axes[0], groups, strict=True):
        for i, (key, label) in enumerate(keys):
            xs, ys = _series(history, key)
            if xs:
                ax.plot(xs, ys, label=label, color=PALETTE[i % len(PALETTE)],
                        marker="o" if len(xs) < 30 else None, markersize=3)
        ax.set_xlabel("generator step")
        ax.set_ylabel(ylabel)
        ax.legend()
    return figure_svg(fig, title=title)


def _final_table(metrics: dict[str, Any]) -> str:
    rows = []
    for key in ("modes", "num_modes", "high_quality", "kl", "coverage", "d_real", "d_fake",
                "loss_d", "loss_g", "epoch", "step"):
        if key in metrics:
            v = metrics[key]
            shown = f"{v:.4g}" if isinstance(v, float) else str(v)
            rows.append(f"<tr><td>{escape(key)}</td><td>{escape(shown)}</td></tr>")
    return f"<table><tr><th>metric</th><th>final value</th></tr>{''.join(rows)}</table>"


def gan_sections(history: list[dict[str, Any]], samples: dict[str, np.ndarray],
                 findings: list[dict[str, Any]] | None = None) -> list[Section]:
    """The report's sections for a GAN run.

    Args:
        history: the metrics.jsonl rows (``step``, ``loss_d``, ``loss_g``, ``d_real``,
            ``d_fake``; ``modes``, ``high_quality``, ``coverage`` on evaluated epochs).
        samples: samples.npz's arrays (``x``; ``real``, ``snapshots``, ``snapshot_epochs``).
        findings: finding dicts (``Finding.to_dict``), shown first when given.
    """
    sections: list[Section] = []
    if findings is not None:
        sections.append(findings_section(findings))
    final = {k: v for k, v in (history[-1] if history else {}).items()}
    sections.append(Section("final", "Final metrics", _final_table(final)))
    real = samples.get("real")
    snaps = samples.get("snapshots")
    epochs = samples.get("snapshot_epochs")
    if real is not None and snaps is not None and epochs is not None:
        if real.ndim == 2 and real.shape[1] == 2:
            body = _scatter_panels(real, snaps, epochs)
        elif real.ndim == 4:
            body = _image_panels(real, snaps, epochs)
        else:
            body = "<p>Samples of this shape are not drawn.</p>"
        sections.append(Section("samples", "Samples over the epochs", body))
    if history:
        sections.append(Section("discriminator", "Discriminator and losses", _lines(
            history, [("D(x)", [("d_real", "D(real)"), ("d_fake", "D(fake)")]),
                      ("loss", [("loss_d", "D loss"), ("loss_g", "G loss")])],
            "D(real), D(fake) and both losses over the steps")))
        modes = [("coverage", [("coverage", "coverage"), ("high_quality", "high quality")])]
        if any("modes" in r for r in history):
            modes.insert(0, ("modes captured", [("modes", "modes")]))
        sections.append(Section("modes", "Modes and coverage", _lines(
            history, modes, "modes captured, high-quality share and coverage over the steps")))
    return sections


def write_gan_report(run_dir: str | os.PathLike[str],
                     findings: list[Any] | None = None) -> Path:
    """Write report.html of a GAN run directory (metrics.jsonl, samples.npz) and return it.

    ``findings``: Finding objects or dicts; default: the run's findings.json, if any.
    """
    d = Path(run_dir)
    history = rundir.read_jsonl(d / rundir.METRICS_FILE)
    arrays: dict[str, np.ndarray] = {}
    if (d / _SAMPLES_FILE).is_file():
        with np.load(d / _SAMPLES_FILE, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    if findings is None and (d / rundir.FINDINGS_FILE).is_file():
        import json

        findings = json.loads((d / rundir.FINDINGS_FILE).read_text(encoding="utf-8"))
    docs = [f.to_dict() if hasattr(f, "to_dict") else f for f in findings or []]
    page = render_page(f"torchdoctor: {d.name} (GAN)", gan_sections(history, arrays, docs))
    return rundir.atomic_write_text(d / rundir.REPORT_FILE, page)
