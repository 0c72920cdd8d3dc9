"""Inline SVG charts, written by hand: line charts (linear or log y) and horizontal bar charts.

No plotting library, no JavaScript: each function returns one ``<svg>`` element as a string.
Every string that comes from data (series names, category labels, titles) goes through
:func:`html.escape`. Each chart carries its axis ranges as ``data-*`` attributes (``data-xmin``,
``data-ymax``, ``data-px0`` …) and each series path its ``data-series`` name, so tests (and
curious readers) can map pixel coordinates back to values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from torchdoctor.report._data import fmt_num, is_finite

PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip

WIDTH = 640
MARGIN = {"left": 62, "right": 14, "top": 34, "bottom": 42}


@dataclass
class Series:
    """One line of a :func:`line_chart`.

    Attributes:
        name: legend text (escaped when drawn).
        xs: x values (for categorical charts: 0, 1, 2, …).
        ys: y values; ``None``/NaN/Inf leave a gap (NaN/Inf also get a red mark on top).
        color: stroke colour; a palette colour by position when empty.
        dashed: dashed stroke.
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


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]`` (steps of 1, 2 or 5 × 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick exponents (log10 units) for a log axis spanning ``[lo, hi]`` in log10 units."""
    a, b = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    if b - a >= 1:
        stride = max(1, math.ceil((b - a + 1) / 7))
        return [float(e) for e in range(a, b + 1, stride)]
    # less than a decade: 1, 2, 5 multiples inside the range
    out = []
    for e in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5):
            t = e + math.log10(m)
            if lo - 1e-9 <= t <= hi + 1e-9:
                out.append(t)
    return out or [lo, hi]


def _pad_range(lo: float, hi: float, log: bool) -> tuple[float, float]:
    if hi - lo < 1e-12:
        pad = 0.5 if log else (abs(lo) * 0.1 or 1.0)
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def _log_label(t: float) -> str:
    """Tick text for log10 value ``t``: plain for 1e-3..1e4, else ``1e-7`` style."""
    if abs(t - round(t)) < 1e-9 and not -3 <= round(t) <= 4:
        return f"1e{round(t)}"
    return fmt_num(10**t, 2)


def _f(v: float) -> str:
    return f"{v:.1f}"


def _open_svg(kind: str, title: str, height: int, attrs: dict[str, object]) -> list[str]:
    extra = " ".join(f'data-{k}="{escape(str(v))}"' for k, v in attrs.items())
    return [
        f'<svg class="chart" data-chart="{escape(kind)}" {extra} '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="ctitle" x="{MARGIN["left"]}" y="16">{escape(title)}</text>',
    ]


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
) -> str:
    """An SVG line chart.

    Args:
        series: the lines; a series with no finite value is listed in the legend only.
        kind: identifier stored in ``data-chart`` (e.g. ``"loss_epoch"``).
        title: chart title (escaped).
        x_label: x-axis caption.
        y_label: y-axis caption.
        log_y: ``True``, ``False`` or ``"auto"`` (log when all values are > 0 and span at
            least two decades). Non-positive values are not drawn on a log axis.
        x_categories: tick labels for x = 0, 1, … (layer names for charts by depth).
        y_range: fixed ``(ymin, ymax)`` in data units, e.g. ``(0, 1)`` for accuracies.
        height: pixel height of the chart.

    Returns:
        The ``<svg>`` element as a string.
    """
    finite = [v for s in series for v in s.ys if is_finite(v)]
    finite += [v for s in series for b in (s.lo, s.hi) if b for v in b if is_finite(v)]
    if log_y == "auto":
        log = bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= 100
    else:
        log = bool(log_y)

    def ty(v: float | None) -> float | None:
        if not is_finite(v):
            return None
        if log:
            return math.log10(v) if v > 0 else None
        return v

    tvals = [t for t in (ty(v) for v in finite) if t is not None]
    if y_range is not None:
        ymin, ymax = (ty(y_range[0]) or 0.0), (ty(y_range[1]) or 1.0)
    elif tvals:
        ymin, ymax = _pad_range(min(tvals), max(tvals), log)
    else:
        ymin, ymax = 0.0, 1.0
    if x_categories is not None:
        xmin, xmax = -0.5, len(x_categories) - 0.5
    else:
        xs_all = [x for s in series for x in s.xs if is_finite(x)]
        xmin, xmax = (min(xs_all), max(xs_all)) if xs_all else (0.0, 1.0)
        if xmax - xmin < 1e-12:
            xmin, xmax = xmin - 0.5, xmax + 0.5
    bottom = MARGIN["bottom"] + (58 if x_categories is not None else 0)
    px0, px1 = MARGIN["left"], WIDTH - MARGIN["right"]
    py0, py1 = MARGIN["top"], height - bottom

    def sx(x: float) -> float:
        return px0 + (x - xmin) / (xmax - xmin) * (px1 - px0)

    def sy(t: float) -> float:
        return py1 - (t - ymin) / (ymax - ymin) * (py1 - py0)

    out = _open_svg(
        kind, title, height,
        {"xmin": xmin, "xmax": xmax, "ymin": ymin, "ymax": ymax, "log": int(log),
         "px0": px0, "px1": px1, "py0": py0, "py1": py1},
    )  # fmt: skip
    out.append(f'<rect class="plot" x="{px0}" y="{py0}" width="{px1 - px0}" height="{py1 - py0}"/>')
    yt = log_ticks(ymin, ymax) if log else nice_ticks(ymin, ymax)
    for t in yt:
        y = sy(t)
        label = _log_label(t) if log else fmt_num(t, 3)
        out.append(f'<line class="grid" x1="{px0}" x2="{px1}" y1="{_f(y)}" y2="{_f(y)}"/>')
        out.append(f'<text class="tick" x="{px0 - 4}" y="{_f(y + 3)}" text-anchor="end">{label}</text>')
    if x_categories is not None:
        for i, name in enumerate(x_categories):
            x = sx(i)
            short = name if len(name) <= 18 else name[:17] + "…"
            out.append(
                f'<text class="tick" transform="translate({_f(x)},{py1 + 10}) rotate(-40)" '
                f'text-anchor="end"><title>{escape(name)}</title>{escape(short)}</text>'
            )
    else:
        for t in nice_ticks(xmin, xmax, 6):
            x = sx(t)
            out.append(f'<line class="grid" x1="{_f(x)}" x2="{_f(x)}" y1="{py0}" y2="{py1}"/>')
            out.append(f'<text class="tick" x="{_f(x)}" y="{py1 + 14}" text-anchor="middle">{fmt_num(t, 4)}</text>')
    if x_label:
        out.append(f'<text class="axis" x="{(px0 + px1) / 2}" y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>')
    if y_label:
        lab = escape(y_label + (" (log)" if log else ""))
        out.append(f'<text class="axis" transform="translate(12,{(py0 + py1) / 2}) rotate(-90)" text-anchor="middle">{lab}</text>')

    legend_x = px1
    for i, s in enumerate(reversed(series)):
        color = s.color or PALETTE[(len(series) - 1 - i) % len(PALETTE)]
        w = 7 * len(s.name) + 26
        legend_x -= w
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        out.append(
            f'<g class="legend"><line x1="{legend_x}" x2="{legend_x + 16}" y1="26" y2="26" '
            f'stroke="{color}" stroke-width="2"{dash}/><text x="{legend_x + 20}" y="29">{escape(s.name)}</text></g>'
        )

    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        pts = [(sx(x), sy(t)) if (is_finite(x) and (t := ty(y)) is not None) else None
               for x, y in zip(s.xs, s.ys, strict=False)]  # fmt: skip
        if s.lo is not None and s.hi is not None:
            out.extend(_band(s, sx, sy, ty, color))
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        segs = _segments(pts)
        d = " ".join("M" + " L".join(f"{_f(x)},{_f(y)}" for x, y in seg) for seg in segs)
        if d:
            out.append(
                f'<path class="line" data-series="{escape(s.name)}" d="{d}" stroke="{color}"{dash}/>'
            )
        for seg in segs:
            if len(seg) == 1 and not s.markers:
                x, y = seg[0]
                out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="2.5" fill="{color}"/>')
        if s.markers:
            for x, y, p in zip(s.xs, s.ys, pts, strict=False):
                if p is not None:
                    tip = f"{s.name} @ {fmt_num(x)}: {fmt_num(y)}"
                    if x_categories is not None and is_finite(x) and 0 <= int(x) < len(x_categories):
                        tip = f"{s.name} @ {x_categories[int(x)]}: {fmt_num(y)}"
                    out.append(
                        f'<circle cx="{_f(p[0])}" cy="{_f(p[1])}" r="3" fill="{color}">'
                        f"<title>{escape(tip)}</title></circle>"
                    )
        bad_x = sorted({round(sx(x)) for x, y in zip(s.xs, s.ys, strict=False)
                        if is_finite(x) and y is not None and not math.isfinite(y)})  # fmt: skip
        for x in bad_x[:200]:
            out.append(
                f'<path class="nonfinite" d="M{x - 4},{py0} L{x + 4},{py0} L{x},{py0 + 7} Z">'
                f"<title>{escape(s.name)}: NaN/Inf</title></path>"
            )
    out.append("</svg>")
    return "\n".join(out)


def _segments(pts: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    segs: list[list[tuple[float, float]]] = []
    cur: list[tuple[float, float]] = []
    for p in pts:
        if p is None:
            if cur:
                segs.append(cur)
            cur = []
        else:
            cur.append(p)
    if cur:
        segs.append(cur)
    return segs


def _band(s: Series, sx, sy, ty, color: str) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    assert s.lo is not None and s.hi is not None
    run: list[tuple[float, float, float]] = []
    for x, lo, hi in list(zip(s.xs, s.lo, s.hi, strict=False)) + [(math.nan, None, None)]:
        tl, th = ty(lo), ty(hi)
        if is_finite(x) and tl is not None and th is not None:
            run.append((sx(x), sy(tl), sy(th)))
            continue
        if len(run) > 1:
            top = " L".join(f"{_f(a)},{_f(h)}" for a, _, h in run)
            bot = " L".join(f"{_f(a)},{_f(lo_)}" for a, lo_, _ in reversed(run))
            out.append(f'<path class="band" d="M{top} L{bot} Z" fill="{color}"/>')
        run = []
    return out


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
        categories: row labels, top to bottom (escaped).
        groups: group name → one value per category; ``None``/non-finite draws no bar
            and the text "n/a".
        kind: identifier stored in ``data-chart``.
        title: chart title.
        x_label: caption under the axis.
        x_range: value range of the axis.
        percent: label ticks and values as percentages.

    Returns:
        The ``<svg>`` element as a string.
    """
    names = list(groups)
    bar_h = 9 if len(categories) <= 24 else 5
    row_h = bar_h * max(len(names), 1) + 6
    left = 150
    px0, px1 = left, WIDTH - MARGIN["right"] - 40
    py0 = MARGIN["top"] + 4
    height = py0 + row_h * max(len(categories), 1) + MARGIN["bottom"]
    py1 = height - MARGIN["bottom"]
    x0, x1 = x_range

    def sx(v: float) -> float:
        return px0 + (min(max(v, x0), x1) - x0) / (x1 - x0) * (px1 - px0)

    def label(v: float) -> str:
        return f"{100 * v:.0f}%" if percent else fmt_num(v, 3)

    out = _open_svg(kind, title, height, {"xmin": x0, "xmax": x1, "px0": px0, "px1": px1})
    out.append(f'<rect class="plot" x="{px0}" y="{py0}" width="{px1 - px0}" height="{py1 - py0}"/>')
    for t in nice_ticks(x0, x1, 5):
        x = sx(t)
        out.append(f'<line class="grid" x1="{_f(x)}" x2="{_f(x)}" y1="{py0}" y2="{py1}"/>')
        out.append(f'<text class="tick" x="{_f(x)}" y="{py1 + 14}" text-anchor="middle">{label(t)}</text>')
    if x_label:
        out.append(f'<text class="axis" x="{(px0 + px1) / 2}" y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>')
    lx = px1 + 40
    for gi, name in reversed(list(enumerate(names))):
        lx -= 7 * len(name) + 22
        out.append(
            f'<g class="legend"><rect x="{lx}" y="21" width="12" height="8" fill="{PALETTE[gi % len(PALETTE)]}"/>'
            f'<text x="{lx + 16}" y="29">{escape(name)}</text></g>'
        )
    for ci, cat in enumerate(categories):
        y = py0 + ci * row_h + 3
        short = cat if len(cat) <= 22 else cat[:21] + "…"
        out.append(
            f'<text class="tick" x="{px0 - 4}" y="{_f(y + row_h / 2)}" text-anchor="end">'
            f"<title>{escape(cat)}</title>{escape(short)}</text>"
        )
        for gi, name in enumerate(names):
            vals = groups[name]
            v = vals[ci] if ci < len(vals) else None
            by = y + gi * bar_h
            if is_finite(v):
                w = sx(v) - px0
                out.append(
                    f'<rect class="bar" data-group="{escape(name)}" x="{px0}" y="{_f(by)}" '
                    f'width="{_f(w)}" height="{bar_h - 1}" fill="{PALETTE[gi % len(PALETTE)]}">'
                    f"<title>{escape(f'{cat} {name}: {label(v)}')}</title></rect>"
                )
                if bar_h >= 8:
                    out.append(f'<text class="val" x="{_f(px0 + w + 3)}" y="{_f(by + bar_h - 1)}">{label(v)}</text>')
            elif bar_h >= 8:
                out.append(f'<text class="val na" x="{px0 + 3}" y="{_f(by + bar_h - 1)}">n/a</text>')
    out.append("</svg>")
    return "\n".join(out)
