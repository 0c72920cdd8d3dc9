"""Line charts (linear or log y) drawn with matplotlib, as inline SVG.

Missing and non-finite values leave gaps; NaN/Inf values also get a red mark at the top of
the plot. A series may carry a min–max band (the spread of a downsampled bucket); dotted
vertical lines (``x_marks``) show events such as the steps of findings. The root
``<svg>`` carries the axis ranges and the plot area as ``data-*`` attributes (``data-xmin``,
``data-ymax``, ``data-px0`` …, y in log10 units on a log axis) and each line its
``data-series`` name, so tests (and curious readers) can map coordinates back to values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torchdoctor.report._data import fmt_num, is_finite
from torchdoctor.report._figure import (
    PALETTE,
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
)

NONFINITE_COLOR = "#d62728"
#: At most this many NaN/Inf marks per series.
MAX_MARKS = 200
#: Larger magnitudes are drawn at this value (the axis arithmetic near 1.8e308 overflows).
LIMIT = 1e300
#: At most this many vertical marks (``x_marks``) per chart.
MAX_X_MARKS = 50
MARK_COLOR = "#8e44ad"


@dataclass
class Series:
    """One line of a :func:`line_chart`.

    Attributes:
        name: legend text (shown as typed; escaped in the page).
        xs: x values (for categorical charts: 0, 1, 2, …).
        ys: y values; ``None``/NaN/Inf leave a gap (NaN/Inf also get a red mark on top).
        color: line colour; a palette colour by position when empty.
        dashed: dashed line.
        markers: draw a dot with a tooltip at each finite point.
        lo: lower edge of a shaded band (e.g. per-bucket minimum), same length as ``ys``.
        hi: upper edge of the band.
    """

    name: str
    xs: Sequence[float]
    ys: Sequence[float | None]
    color: str = ""
    dashed: bool = False
    markers: bool = False
    lo: Sequence[float | None] | None = None
    hi: Sequence[float | None] | None = None


def _drawn(values: Sequence[float | None] | None, n: int, log: bool) -> list[float]:
    """Values as floats, NaN where nothing is drawn (missing, non-finite, <= 0 on a log axis)."""
    vals = list(values or [])[:n] + [None] * max(0, n - len(values or []))
    return [min(max(v, -LIMIT), LIMIT) if is_finite(v) and (v > 0 or not log) else math.nan  # type: ignore[type-var, operator, misc]
            for v in vals]


def _use_log(series: Sequence[Series], log_y: bool | str) -> bool:
    if log_y != "auto":
        return bool(log_y)
    finite = [v for s in series for b in (s.ys, s.lo, s.hi) if b for v in b if is_finite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= 100  # type: ignore[type-var, operator]


@drawing
def line_chart(
    series: Sequence[Series],
    *,
    kind: str,
    title: str,
    x_label: str = "",
    y_label: str = "",
    log_y: bool | str = "auto",
    x_categories: Sequence[str] | None = None,
    y_range: tuple[float, float] | None = None,
    height: int = 260,
    x_marks: Sequence[tuple[float, str]] = (),
) -> str:
    """A line chart as an inline ``<svg>`` element.

    Args:
        series: the lines; a series with no finite value is listed in the legend only.
        kind: identifier stored in ``data-chart`` (e.g. ``"loss_epoch"``); unique in a page.
        title: chart title.
        x_label: x-axis caption.
        y_label: y-axis caption.
        log_y: ``True``, ``False`` or ``"auto"`` (log when all values are > 0 and span at
            least two decades). Non-positive values are not drawn on a log axis.
        x_categories: tick labels for x = 0, 1, … (layer names for charts by depth).
        y_range: fixed ``(ymin, ymax)`` in data units, e.g. ``(0, 1)`` for accuracies.
        height: height of the chart in px (its width is 640 px).
        x_marks: ``(x, text)`` pairs: a dotted vertical line at each x inside the plotted
            range (e.g. the step of a finding), ``text`` its tooltip; at most
            :data:`MAX_X_MARKS` are drawn, texts at the same x are joined.

    Returns:
        The ``<svg>`` element as a string; every text from data escaped.
    """
    log = _use_log(series, log_y)
    extra = 0.6 if x_categories is not None else 0.0
    fig, ax = figure(width=6.4, height=height / 100 + extra)
    groups: dict[str, tuple[dict[str, object], str]] = {}
    handles, labels = [], []
    for i, s in enumerate(series):
        handle = _draw_series(ax, s, i, log, x_categories, groups)
        handles.append(handle)
        labels.append(s.name)
    if log:
        ax.set_yscale("log")
    if y_range is not None:
        ax.set_ylim(*y_range)
    if log:
        plain_log_labels(ax.yaxis)
    shown: list[str] = []
    if x_categories is not None:
        shown = _category_axis(ax, x_categories, groups)
    if x_marks:
        _x_marks(ax, x_marks, groups)
    ax.set_title(plain(title), loc="left")
    ax.set_xlabel(plain(x_label))
    ax.set_ylabel(plain(y_label + (" (log)" if log else "")) if y_label else "")
    if handles:
        ax.legend(handles, [plain(x) for x in labels], loc="best")
    margins = axis_margins(ax, x_label=x_label, y_label=y_label)
    if x_categories is not None:  # rotated names below the axis, the first one reaching left
        sin, cos = math.sin(math.radians(40)), math.cos(math.radians(40))
        margins["bottom"] += text_pt(shown, 8) * sin + 8 * cos - 8
        inner = 6.4 * 72 - margins["left"] - margins["right"]
        first = inner * 0.5 / max(len(x_categories), 1)
        reach = text_pt(shown[:1], 8) * cos + 8 * 1.25 * sin  # the text box's far corner
        margins["left"] = max(margins["left"], reach - first + 10)
    place_axes(fig, ax, **margins)
    svg = save_svg(fig, tight=False)
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    if log:
        ymin, ymax = math.log10(ymin), math.log10(ymax)
    attrs = {"class": "chart", "data-chart": kind, "data-xmin": xmin, "data-xmax": xmax,
             "data-ymin": ymin, "data-ymax": ymax, "data-log": int(log),
             **{f"data-{k}": v for k, v in axes_box(fig, ax).items()}}
    return svg_markup(svg, size=(640.0, height + 100 * extra), title=title, attrs=attrs,
                      groups=groups)


def _draw_series(ax: Any, s: Series, i: int, log: bool, cats: Sequence[str] | None,
                 groups: dict[str, tuple[dict[str, object], str]]) -> Any:
    """Draw one series (band, line, isolated points, NaN/Inf marks); return its legend handle."""
    color = s.color or PALETTE[i % len(PALETTE)]
    n = len(s.xs)
    xs = [min(max(float(x), -LIMIT), LIMIT) if is_finite(x) else math.nan for x in s.xs]
    ys = _drawn(s.ys, n, log)
    style = "--" if s.dashed else "-"
    if s.lo is not None and s.hi is not None:
        lo, hi = _drawn(s.lo, n, log), _drawn(s.hi, n, log)
        ok = [not (math.isnan(a) or math.isnan(b) or math.isnan(x)) for x, a, b in zip(xs, lo, hi, strict=True)]
        ax.fill_between(xs, lo, hi, where=ok, color=color, alpha=0.18, linewidth=0,
                        gid=f"td-band-{i}")
        groups[f"td-band-{i}"] = ({"class": "band"}, "")
    gid = f"td-line-{i}"
    drawable = any(not (math.isnan(x) or math.isnan(y)) for x, y in zip(xs, ys, strict=True))
    if drawable:
        (handle,) = ax.plot(xs, ys, color=color, linestyle=style, marker="o" if s.markers else None,
                            markersize=4, gid=gid)
    else:  # nothing to draw: a legend entry only
        from matplotlib.lines import Line2D

        handle = Line2D([], [], color=color, linestyle=style, marker="o" if s.markers else None)
    tips = ""
    if s.markers:
        pts = [(x, y) for x, y in zip(s.xs, s.ys, strict=False) if is_finite(x) and is_finite(y)]
        tips = "; ".join(f"{_at(x, cats)}: {fmt_num(y)}" for x, y in pts)
    groups[gid] = ({"class": "line", "data-series": s.name}, f"{s.name} @ {tips}" if tips else s.name)
    lone = [j for j in range(n) if not math.isnan(ys[j]) and not math.isnan(xs[j])
            and (j == 0 or math.isnan(ys[j - 1])) and (j == n - 1 or math.isnan(ys[j + 1]))]
    if lone and not s.markers:
        ax.plot([xs[j] for j in lone], [ys[j] for j in lone], linestyle="none", marker="o",
                markersize=3, color=color, gid=f"td-lone-{i}")
        groups[f"td-lone-{i}"] = ({"class": "points"}, s.name)
    bad = sorted({xs[j] for j in range(min(n, len(s.ys)))
                  if s.ys[j] is not None and not math.isfinite(s.ys[j]) and not math.isnan(xs[j])})  # type: ignore[arg-type]
    if bad:
        (marks,) = ax.plot(bad[:MAX_MARKS], [1.0] * len(bad[:MAX_MARKS]), linestyle="none",
                           marker="v", markersize=6, color=NONFINITE_COLOR,
                           transform=ax.get_xaxis_transform(), clip_on=False, gid=f"td-bad-{i}")
        groups[f"td-bad-{i}"] = ({"class": "nonfinite"}, f"{s.name}: NaN/Inf at {len(bad)} x value(s)")
        if not drawable:
            handle = marks
    return handle


def _at(x: float | None, cats: Sequence[str] | None) -> str:
    if cats is not None and is_finite(x) and 0 <= int(x) < len(cats):  # type: ignore[arg-type]
        return cats[int(x)]  # type: ignore[arg-type]
    return fmt_num(x)


def _category_axis(ax: Any, cats: Sequence[str],
                   groups: dict[str, tuple[dict[str, object], str]]) -> list[str]:
    """Category names under the x axis, rotated, every k-th when there are many; returns
    the texts shown."""
    ax.set_xlim(-0.5, len(cats) - 0.5)
    ax.set_xticks([])  # labels are texts of their own (with tooltips); ticks are slow to make
    stride = max(1, math.ceil(len(cats) / 28))  # rotated labels closer than ~20 px overlap
    for j in range(0, len(cats), stride):
        gid = f"td-cat-{j}"
        ax.text(j, -0.03, plain(short_label(cats[j], 18)), transform=ax.get_xaxis_transform(),
                rotation=40, ha="right", va="top", rotation_mode="anchor", fontsize=8, gid=gid)
        groups[gid] = ({"class": "tick"}, cats[j])
    return [short_label(cats[j], 18) for j in range(0, len(cats), stride)]


def _x_marks(ax: Any, marks: Sequence[tuple[float, str]],
             groups: dict[str, tuple[dict[str, object], str]]) -> None:
    """Dotted vertical lines at the marks' x inside the current x range (which they keep)."""
    lo, hi = ax.get_xlim()
    texts: dict[float, list[str]] = {}
    for x, text in marks:
        if is_finite(x) and lo <= x <= hi:
            texts.setdefault(float(x), []).append(str(text))
    for k, (x, lines) in enumerate(sorted(texts.items())[:MAX_X_MARKS]):
        gid = f"td-mark-{k}"
        ax.axvline(x, color=MARK_COLOR, linestyle=":", linewidth=1.2, gid=gid, zorder=1.5)
        groups[gid] = ({"class": "mark", "data-x": fmt_num(x)}, "\n".join(lines))
    ax.set_xlim(lo, hi)
