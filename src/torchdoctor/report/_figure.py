"""Matplotlib figures as inline SVG: the one way torchdoctor draws (run report, repair, lab).

matplotlib loads on first use (``import torchdoctor.report`` stays light) with the Agg
backend, so no display is needed. Text stays text in the SVG (``svg.fonttype: none``): the
page's own font renders it and the markup stays small; matplotlib escapes it (``&``, ``<``,
``>``). The output is deterministic (``svg.hashsalt``, no date) and holds no script and no
external reference; its ids are prefixed with a hash of the figure so that several figures
share one page without clashing ids.

The report's charts (:mod:`torchdoctor.report.charts`) also go through :func:`svg_markup`, which
turns the groups of artists given a ``gid`` into semantic ``<g class=...>`` elements with a
``<title>`` tooltip.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import math
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from html import escape
from typing import Any, TypeVar

__all__ = ["PALETTE", "figure", "figure_svg", "house_style"]

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
    # laid out at the SVG's own 72 dpi: text measured once serves the layout and the drawing
    "figure.dpi": 72.0,
}
#: Screen size of an inch of figure: a figure is drawn at most this many px per inch wide.
PX_PER_INCH = 100.0
#: Resolution of raster parts inside the SVG (images, rasterized artists), dots per inch.
RASTER_DPI = 100.0


@contextlib.contextmanager
def house_style() -> Iterator[None]:
    """The house style (:data:`PALETTE`, sizes, grid) for the matplotlib artists made inside,
    without touching the caller's matplotlib state: rcParams restored on exit, no pyplot, no
    backend switch; matplotlib's and NumPy's warnings about extreme values (overflow in a
    tick computation, a layout that cannot be tightened) silenced: the chart is drawn anyway."""
    import matplotlib
    import numpy as np
    from cycler import cycler

    style = {**_STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))}
    with matplotlib.rc_context(style), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 6.4, height: float = 3.2,
           **subplots_kw: Any) -> tuple[Any, Any]:
    """A new ``(fig, axes)``; ``width``/``height`` in inches (100 px each). A Figure outside
    pyplot (no window, nothing to close, the caller's backend and rcParams untouched), drawn
    on its own Agg canvas; its axes are made in the house style. Draw inside
    :func:`house_style` for the rest of it (titles, legends, lines).

    ``axes`` is one Axes for a 1×1 grid, else the array ``Figure.subplots`` returns.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with house_style():
        fig = Figure(figsize=(width, height))
        FigureCanvasAgg(fig)
        return fig, fig.subplots(nrows, ncols, **subplots_kw)


F = TypeVar("F", bound=Callable[..., Any])


def drawing(draw: F) -> F:
    """``draw`` (a chart function) run under :func:`house_style`."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with house_style():
            return draw(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def plain(text: object) -> str:
    """``text`` for a matplotlib label, shown as typed (a ``$`` starts no math formula)."""
    return str(text).replace("$", r"\$")


def _log_label(v: float, _pos: object = None) -> str:
    """Tick text for a log axis: ``0.05``, ``200`` within 1e-3..1e4, else ``1e-7`` / ``2e+05``."""
    from torchdoctor.report._data import fmt_num

    if not (v > 0 and math.isfinite(v)):
        return ""
    e = math.log10(v)
    if abs(e - round(e)) < 1e-9 and not -3 <= round(e) <= 4:
        return f"1e{round(e)}"
    if 1e-3 <= v < 1e4:
        return fmt_num(v, 2)
    return f"{v:.0e}"


def plain_log_labels(axis: Any) -> None:
    """Label a log ``axis`` with plain text (no math formulas, which are slow to lay out):
    the decades; with the 2 and 5 multiples when it spans less than two decades; about four
    round values when it spans less than one."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator

    from torchdoctor.report._data import fmt_num

    lo, hi = sorted(axis.get_view_interval())
    span = math.log10(hi / lo) if 0 < lo < hi < math.inf else math.inf
    if span < 1:
        axis.set_major_locator(MaxNLocator(nbins=4))
        axis.set_major_formatter(FuncFormatter(lambda v, _pos=None: fmt_num(v, 3)))
        axis.set_minor_locator(NullLocator())
        return
    axis.set_major_formatter(FuncFormatter(_log_label))
    if span < 2:
        def minor(v: float, _pos: object = None) -> str:
            m = v / 10 ** math.floor(math.log10(v) + 1e-9)
            return _log_label(v) if round(m, 6) in (2.0, 5.0) else ""

        axis.set_minor_formatter(FuncFormatter(minor))
    else:  # no minor ticks: many decades would make hundreds of them (slow, unreadable)
        axis.set_minor_formatter(NullFormatter())
        axis.set_minor_locator(NullLocator())


_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_SIZE = re.compile(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_GROUP_ID = re.compile(r'<g id="([^"]*)"([^>]*)>')
_FONT_FAMILY = re.compile(r"font-family: [^;\"]*;? ?")
_NO_ROTATION = re.compile(r' transform="rotate\(-?0 [^"]*\)"')
_TAG = re.compile(r"<[^>]+>")
_DIGITS = re.compile(r"(\d\.\d\d)\d+")
_BETWEEN_TAGS = re.compile(r">\s+<")
_IDS = re.compile(r'(?<=\s)(id="|href="#)|(url\(#)')


def save_svg(fig: Any, *, tight: bool = True) -> str:
    """``fig``'s SVG text from ``<svg`` on (coordinates in pt, 72/inch), laid out first with
    ``tight_layout`` unless ``tight`` is false (margins already set, e.g. by
    :func:`place_axes`) or the figure has a layout engine of its own."""
    buf = io.StringIO()
    if tight and fig.get_layout_engine() is None:
        try:
            fig.tight_layout()
        except Exception:  # noqa: BLE001 - a layout that cannot be tightened is still drawable
            pass
    with house_style():  # the SVG settings (text as text, reproducible ids) are read here
        fig.savefig(buf, format="svg", dpi=RASTER_DPI, metadata={"Date": None, "Creator": None})
    return _compact(_METADATA.sub("", _PROLOG.sub("", buf.getvalue(), count=1), count=1))


def _compact(svg: str) -> str:
    """Smaller markup, same picture: text in the page's font, coordinates to 1/100 pt, no
    indentation, no null rotations, ``href`` for ``xlink:href``. Only tags change: text
    content (labels from data) stays as matplotlib escaped it."""

    def tag(m: re.Match[str]) -> str:
        t = _NO_ROTATION.sub("", _FONT_FAMILY.sub("", m.group(0)))
        t = t.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "").replace(" xlink:href=", " href=")
        return _DIGITS.sub(r"\1", t).replace(" \n", " ")

    return _TAG.sub(tag, _BETWEEN_TAGS.sub("><", svg))


def svg_markup(svg: str, *, size: tuple[float, float], title: str = "",
               attrs: Mapping[str, object] | None = None,
               groups: Mapping[str, tuple[Mapping[str, object], str]] | None = None) -> str:
    """Finish :func:`save_svg`'s text for inline HTML.

    Args:
        svg: the text from :func:`save_svg`.
        size: the figure's ``(width, height)`` in px: the largest it is drawn.
        title: accessible name (``aria-label``), escaped.
        attrs: more attributes of the root ``<svg>`` (names trusted, values escaped).
        groups: ``gid → (attributes, tooltip)``: the group matplotlib writes for an artist
            with that gid gets these attributes (escaped) and a ``<title>`` (escaped; none
            when empty) instead of its id. Other group ids (``figure_1`` …) are dropped.
    """
    groups = groups or {}

    def group(m: re.Match[str]) -> str:
        spec = groups.get(m.group(1))
        if spec is None:
            return f"<g{m.group(2)}>"
        gattrs, tip = spec
        text = "".join(f' {k}="{escape(str(v))}"' for k, v in gattrs.items())
        return f"<g{text}{m.group(2)}>" + (f"<title>{escape(tip)}</title>" if tip else "")

    svg = _GROUP_ID.sub(group, svg)
    prefix = "f" + hashlib.sha256(svg.encode()).hexdigest()[:8] + "-"
    svg = _TAG.sub(lambda t: _IDS.sub(lambda m: (m.group(1) or m.group(2)) + prefix, t.group(0)), svg)
    w, h = size
    svg = _SIZE.sub(rf'\1 width="100%" style="max-width:{w:.0f}px;height:auto"', svg, count=1)
    extra = "".join(f' {k}="{escape(str(v))}"' for k, v in (attrs or {}).items())
    label = f' role="img" aria-label="{escape(title)}"' if title else ""
    return svg.replace("<svg", f"<svg{extra}{label}", 1)


def figure_svg(fig: Any, *, title: str = "", close: bool = True) -> str:
    """``fig`` as an ``<svg>`` element for inline HTML (no XML prolog, scales to its box).

    Args:
        fig: a matplotlib Figure.
        title: accessible name (``aria-label``), escaped.
        close: close the figure afterwards (frees its memory in long runs).
    """
    text = save_svg(fig)
    w, h = fig.get_size_inches() * PX_PER_INCH
    plt = sys.modules.get("matplotlib.pyplot")
    if close and plt is not None:
        plt.close(fig)
    return svg_markup(text, size=(float(w), float(h)), title=title)


def axes_box(fig: Any, ax: Any) -> dict[str, float]:
    """The plot area of ``ax`` in the SVG's coordinates (pt, y down), after layout:
    ``px0``/``px1`` left/right, ``py0``/``py1`` top/bottom."""
    w, h = fig.get_size_inches() * 72.0
    box = ax.get_position()
    return {"px0": round(box.x0 * w, 3), "px1": round(box.x1 * w, 3),
            "py0": round((1 - box.y1) * h, 3), "py1": round((1 - box.y0) * h, 3)}


def short_label(name: str, limit: int = 22) -> str:
    """``name`` cut to ``limit`` characters with an ellipsis (the tooltip keeps it whole)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


#: Width of an average character of the house font (DejaVu Sans: digits 0.64 em), in em.
_EM_PER_CHAR = 0.64
_LINE = 1.25  # line height, in em


def text_pt(texts: Any, size: float) -> float:
    """Estimated width in pt of the longest of ``texts`` at font ``size`` pt (0 if none)."""
    return max((len(str(t)) for t in texts), default=0) * _EM_PER_CHAR * size


def tick_labels(axis: Any) -> list[str]:
    """The labels ``axis`` will show in its current view (major, and minor when labelled)."""
    lo, hi = sorted(axis.get_view_interval())
    out = []
    for locator, formatter in ((axis.get_major_locator(), axis.get_major_formatter()),
                               (axis.get_minor_locator(), axis.get_minor_formatter())):
        locs = [v for v in locator() if lo <= v <= hi]
        out += [s for s in formatter.format_ticks(locs) if s] if locs else []
    return out


def place_axes(fig: Any, ax: Any, *, left: float, right: float, bottom: float,
               top: float) -> None:
    """Margins around ``ax`` in pt (from estimated text sizes): a fixed layout instead of
    ``tight_layout``, which measures every text once more and costs a third of a chart."""
    w, h = fig.get_size_inches() * 72.0
    fig.subplots_adjust(left=min(left / w, 0.45), right=max(1 - right / w, 0.55),
                        bottom=min(bottom / h, 0.6), top=max(1 - top / h, 0.65))


def axis_margins(ax: Any, *, x_label: str, y_label: str, title: bool = True,
                 size: float = 9.0) -> dict[str, float]:
    """Margins in pt for ``ax`` with its tick labels outside, as :func:`place_axes` takes."""
    yt, xt = tick_labels(ax.yaxis), tick_labels(ax.xaxis)
    tick = 3.5 + 3.5  # tick length + pad
    label = _LINE * size + 4
    return {
        "left": max(text_pt(yt, size) + tick + (label if y_label else 0),
                    text_pt(xt[:1], size) / 2) + 6,
        "right": text_pt(xt[-1:], size) / 2 + 8,
        "bottom": (_LINE * size + tick if xt else 4) + (label if x_label else 0) + 4,
        "top": (_LINE * 10.0 + 6 if title else 0) + 6,
    }
