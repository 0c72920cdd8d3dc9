"""Per-layer heat map over steps (log colour scale, viridis) drawn with matplotlib.

Rows are layers in depth order, columns are buckets of consecutive recorded steps (at most
``max_cols``). A cell's colour is the geometric mean of its bucket's values (the mean of
log10); a bucket holding a NaN/Inf is red (a non-finite value is the news), all-zero buckets
take the lowest colour, unmeasured cells stay blank. The map is one image of
``rows × columns`` pixels inside the SVG (drawn pixelated, no smoothing), with a colour bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torchdoctor.report._data import bin_edges, fmt_num
from torchdoctor.report._figure import (
    axes_box,
    axis_margins,
    drawing,
    figure,
    place_axes,
    plain,
    plain_log_labels,
    save_svg,
    short_label,
    svg_markup,
    text_pt,
    tick_labels,
)

NONFINITE_COLOR = "#d62728"


def _bucket_log10(values: Sequence[float | None], edges: Sequence[tuple[int, int]]) -> list[float | None]:
    """Per bucket: mean log10 of the positive values, ``-inf`` for all-zero, ``nan`` if any
    value is NaN/Inf, ``None`` when nothing was measured."""
    out: list[float | None] = []
    for a, b in edges:
        chunk = [v for v in values[a:b] if v is not None]
        if not chunk:
            out.append(None)
        elif any(not math.isfinite(v) for v in chunk):
            out.append(math.nan)
        else:
            logs = [math.log10(v) for v in chunk if v > 0]
            out.append(sum(logs) / len(logs) if logs else -math.inf)
    return out


@drawing
def heatmap(
    layers: Sequence[str],
    steps: Sequence[int],
    values: dict[str, Sequence[float | None]],
    *,
    kind: str,
    title: str,
    max_cols: int = 400,
) -> str:
    """Heat map of a per-layer statistic over steps, log10 colour scale, as inline SVG.

    Args:
        layers: row names top to bottom (depth order).
        steps: recorded steps, aligned with each row of ``values``.
        values: layer → values aligned with ``steps`` (``None`` = not measured).
        kind: identifier stored in ``data-chart``; unique in a page.
        title: chart title.
        max_cols: at most this many columns (buckets of consecutive records).

    Returns:
        The ``<svg>`` element as a string (``data-vmin``/``data-vmax``: the colour range,
        ``data-rows``/``data-cols``: the image size); every text from data escaped.
    """
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm, to_rgba
    from matplotlib.ticker import NullLocator

    edges = bin_edges(len(steps), max_cols)
    grid = [_bucket_log10(values.get(name, [None] * len(steps)), edges) for name in layers]
    fin = [v for row in grid for v in row if v is not None and math.isfinite(v)]
    lo, hi = (min(fin), max(fin)) if fin else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n_rows, n_cols = len(layers), len(edges)
    # colours by position in [lo, hi] (log10 units): no power of ten can overflow here
    cmap = colormaps["viridis"]
    t = np.array([[math.nan if v is None or math.isnan(v) else 0.0 if v == -math.inf
                   else (v - lo) / (hi - lo) for v in row] for row in grid])
    if t.size == 0:  # no layer or no step: an empty map
        t = np.full((1, 1), math.nan)
    img = cmap(t, bytes=True)
    img[np.isnan(t)] = 0  # unmeasured: blank
    red = [round(255 * x) for x in to_rgba(NONFINITE_COLOR)]
    for r, row in enumerate(grid):
        for c, v in enumerate(row):
            if v is not None and math.isnan(v):
                img[r, c] = red
    # the colour bar's range, kept where its tick arithmetic stays finite
    vmin, vmax = 10.0 ** max(lo, -250.0), 10.0 ** min(hi, 250.0)
    if vmax <= vmin:
        vmin, vmax = vmax / 10, vmax
    height_px = 90 + min(40.0, max(3.0, 320.0 / max(n_rows, 1))) * max(n_rows, 1)
    tips: dict[str, tuple[dict[str, object], str]] = {}
    fig, ax = figure(width=6.4, height=height_px / 100)
    ax.imshow(img, aspect="auto", interpolation="none")
    ax.grid(False)
    ax.set_yticks([])
    stride = max(1, math.ceil(n_rows / 24))
    shown = [short_label(layers[r]) for r in range(0, n_rows, stride)]
    for r in range(0, n_rows, stride):
        gid = f"td-row-{r}"
        ax.text(-0.01, r, plain(short_label(layers[r])), transform=ax.get_yaxis_transform(),
                ha="right", va="center", fontsize=8, gid=gid)
        tips[gid] = ({"class": "tick"}, layers[r])
    if n_cols:
        cols = sorted({min(int(f * n_cols), n_cols - 1) for f in (0.0, 0.25, 0.5, 0.75, 1.0)})
        ax.set_xticks(cols, [str(steps[edges[c][0]]) for c in cols])
    ax.set_xlabel("step")
    ax.set_title(plain(title), loc="left")
    bar = fig.colorbar(ScalarMappable(LogNorm(vmin, vmax), cmap), ax=ax, pad=0.02, fraction=0.04,
                       aspect=max(8.0, height_px / 16))
    bar.solids.set_rasterized(True)
    bar.outline.set_visible(False)
    if hi - lo < 1:  # within a decade: label both ends
        bar.set_ticks([vmin, vmax], labels=[fmt_num(vmin, 3), fmt_num(vmax, 3)])
        bar.ax.yaxis.set_minor_locator(NullLocator())
    else:
        plain_log_labels(bar.ax.yaxis)
    margins = axis_margins(ax, x_label="step", y_label="")
    margins["left"] = text_pt(shown, 8) + 12
    margins["right"] = text_pt(tick_labels(bar.ax.yaxis), 9.0) + 7 + 8
    place_axes(fig, ax, **margins)
    svg = save_svg(fig, tight=False)
    attrs = {"class": "chart", "data-chart": kind, "data-vmin": vmin, "data-vmax": vmax,
             "data-rows": n_rows, "data-cols": n_cols,
             **{f"data-{k}": v for k, v in axes_box(fig, ax).items()}}
    return svg_markup(svg, size=(640.0, height_px), title=title, attrs=attrs, groups=tips)
