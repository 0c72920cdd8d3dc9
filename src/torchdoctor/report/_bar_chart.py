"""Horizontal grouped bar charts drawn with matplotlib, as inline SVG.

One row per category (e.g. layer), one bar per group; each bar is a ``<g class="bar"
data-group=...>`` with a tooltip, a missing value reads "n/a".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torchdoctor.report._data import fmt_num, is_finite
from torchdoctor.report._figure import (
    PALETTE,
    axes_box,
    axis_margins,
    drawing,
    figure,
    place_axes,
    plain,
    save_svg,
    short_label,
    svg_markup,
    text_pt,
)


@drawing
def bar_chart(
    categories: Sequence[str],
    groups: dict[str, Sequence[float | None]],
    *,
    kind: str,
    title: str,
    x_label: str = "",
    x_range: tuple[float, float] = (0.0, 1.0),
    percent: bool = True,
) -> str:
    """Horizontal grouped bars: one row per category (e.g. layer), one bar per group.

    Args:
        categories: row labels, top to bottom.
        groups: group name → one value per category; ``None``/non-finite draws no bar
            and the text "n/a".
        kind: identifier stored in ``data-chart``; unique in a page.
        title: chart title.
        x_label: caption under the axis.
        x_range: value range of the axis.
        percent: label ticks and values as percentages.

    Returns:
        The ``<svg>`` element as a string; every text from data escaped.
    """
    names = list(groups)
    n_groups, n_rows = max(len(names), 1), max(len(categories), 1)
    bar_px = 9 if len(categories) <= 24 else 5
    height_px = 80 + (bar_px * n_groups + 6) * n_rows
    x0, x1 = x_range

    def label(v: float) -> str:
        return f"{100 * v:.0f}%" if percent else fmt_num(v, 3)

    tips: dict[str, tuple[dict[str, object], str]] = {}
    fig, ax = figure(width=6.4, height=height_px / 100)
    ax.grid(axis="y", visible=False)
    step = 0.8 / n_groups
    for gi, name in enumerate(names):
        vals = list(groups[name])
        drawn = []  # (row, y, value)
        for ci in range(len(categories)):
            v = vals[ci] if ci < len(vals) else None
            y = ci - 0.4 + step * (gi + 0.5)
            if is_finite(v):
                drawn.append((ci, y, min(max(v, x0), x1)))  # type: ignore[type-var]
            elif bar_px >= 8:
                ax.text(x0, y, " n/a", va="center", fontsize=7, color="#999999")
        bars = ax.barh([y for _, y, _ in drawn], [v - x0 for _, _, v in drawn], left=x0,
                       height=step * 0.9, color=PALETTE[gi % len(PALETTE)])
        for (ci, y, v), bar in zip(drawn, bars, strict=True):
            gid = f"td-bar-{gi}-{ci}"
            bar.set_gid(gid)
            shown = label(vals[ci])  # type: ignore[arg-type]
            tips[gid] = ({"class": "bar", "data-group": name}, f"{categories[ci]} {name}: {shown}")
            if bar_px >= 8:
                ax.text(v, y, f" {shown}", va="center", fontsize=7)
    ax.set_xlim(x0, x1 + 0.08 * (x1 - x0))
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_yticks([])
    stride = max(1, math.ceil(len(categories) / 40))
    shown = [short_label(categories[ci]) for ci in range(0, len(categories), stride)]
    for ci in range(0, len(categories), stride):
        gid = f"td-cat-{ci}"
        ax.text(-0.01, ci, plain(short_label(categories[ci])), transform=ax.get_yaxis_transform(),
                ha="right", va="center", fontsize=8, gid=gid)
        tips[gid] = ({"class": "tick"}, categories[ci])
    if percent:
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(plain(title), loc="left", pad=18 if names else 6)  # the legend goes below it
    ax.set_xlabel(plain(x_label))
    if names:
        from matplotlib.patches import Patch

        ax.legend([Patch(color=PALETTE[gi % len(PALETTE)]) for gi in range(len(names))],
                  [plain(n) for n in names], loc="lower left", bbox_to_anchor=(0.0, 1.0),
                  ncol=len(names), borderaxespad=0.1)
    margins = axis_margins(ax, x_label=x_label, y_label="")
    margins["left"] = text_pt(shown, 8) + 12
    margins["top"] += 18 if names else 0  # the legend's row
    place_axes(fig, ax, **margins)
    svg = save_svg(fig, tight=False)
    xmin, xmax = ax.get_xlim()
    attrs = {"class": "chart", "data-chart": kind, "data-xmin": xmin, "data-xmax": xmax,
             **{f"data-{k}": v for k, v in axes_box(fig, ax).items()}}
    return svg_markup(svg, size=(640.0, float(height_px)), title=title, attrs=attrs, groups=tips)
