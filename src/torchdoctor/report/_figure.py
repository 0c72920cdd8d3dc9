"""Matplotlib figures as inline SVG: the one way torchdoctor draws (run report, repair, lab).

matplotlib loads on first use (``import torchdoctor.report`` stays light) with the Agg
backend, so no display is needed. Text stays text in the SVG (``svg.fonttype: none``): the
page's own font renders it and the markup stays small.
"""

from __future__ import annotations

import io
import re
from typing import Any

__all__ = ["PALETTE", "figure", "figure_svg"]

#: Line colours, in order (colour-blind safe, Okabe & Ito 2008).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442")

_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "torchdoctor",  # ids repeat from run to run: pages are reproducible
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e9ef",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "lines.linewidth": 1.5,
    "figure.dpi": 100.0,
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from cycler import cycler

    plt.rcParams.update(_STYLE)
    plt.rcParams["axes.prop_cycle"] = cycler(color=list(PALETTE))
    return plt


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 3.2,
           **subplots_kw: Any) -> tuple[Any, Any]:
    """A new ``(fig, axes)`` in the house style; ``width``/``height`` in inches (100 px each).

    ``axes`` is one Axes for a 1×1 grid, else the array ``plt.subplots`` returns.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **subplots_kw)
    return fig, axes


_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_SIZE = re.compile(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', re.S)


def figure_svg(fig: Any, *, title: str = "", close: bool = True) -> str:
    """``fig`` as an ``<svg>`` element for inline HTML (no XML prolog, scales to its box).

    Args:
        fig: a matplotlib Figure.
        title: accessible name (``aria-label``), escaped.
        close: close the figure afterwards (frees its memory in long runs).
    """
    from html import escape

    plt = _pyplot()
    buf = io.StringIO()
    try:
        fig.tight_layout()
    except Exception:  # noqa: BLE001 - a layout that cannot be tightened is still drawable
        pass
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    if close:
        plt.close(fig)
    svg = _PROLOG.sub("", buf.getvalue(), count=1)
    w, h = fig.get_size_inches() * fig.dpi
    svg = _SIZE.sub(rf'\1 width="100%" style="max-width:{w:.0f}px;height:auto"', svg, count=1)
    label = f' role="img" aria-label="{escape(title)}"' if title else ""
    return svg.replace("<svg", f"<svg{label}", 1)
