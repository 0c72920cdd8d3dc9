"""Per-layer heat map over steps (log colour scale), as inline SVG.

Rows are layers in depth order, columns are buckets of consecutive recorded steps (at most
``max_cols``). A cell's colour is the mean of log10(value) over its bucket; a bucket holding a
NaN/Inf is drawn red (a non-finite value is the news), zeros take the lowest colour, and
unmeasured cells stay blank. Small maps are drawn as ``<rect>`` cells with tooltips; large ones
as one PNG (encoded here with :mod:`zlib`, no imaging library) inside the SVG, which keeps
the file small. The colour map is viridis (9 stops, linear interpolation).
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Sequence
from html import escape

from torchdoctor.report._data import bin_edges, fmt_num
from torchdoctor.report._svg import MARGIN, WIDTH, _f, _open_svg

VIRIDIS: tuple[tuple[int, int, int], ...] = (
    (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
    (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
)  # fmt: skip
NONFINITE_RGB = (214, 39, 40)
#: Above this many cells the map is one PNG instead of ``<rect>`` elements.
MAX_RECT_CELLS = 2400


def colormap(t: float) -> tuple[int, int, int]:
    """Viridis colour for ``t`` in [0, 1] (clamped)."""
    t = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    f = t - i
    a, b = VIRIDIS[i], VIRIDIS[i + 1]
    return (
        round(a[0] + (b[0] - a[0]) * f),
        round(a[1] + (b[1] - a[1]) * f),
        round(a[2] + (b[2] - a[2]) * f),
    )


def bucket_log10(
    values: Sequence[float | None], edges: Sequence[tuple[int, int]]
) -> list[float | None]:
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


def png_rgba(rows: Sequence[Sequence[tuple[int, int, int, int]]]) -> bytes:
    """Encode an RGBA image (list of rows of (r, g, b, a)) as PNG bytes."""
    h = len(rows)
    w = len(rows[0]) if h else 0
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def heatmap(
    layers: Sequence[str],
    steps: Sequence[int],
    values: dict[str, Sequence[float | None]],
    *,
    kind: str,
    title: str,
    max_cols: int = 400,
) -> str:
    """SVG heat map of a per-layer statistic over steps, log10 colour scale.

    Args:
        layers: row names top to bottom (depth order); escaped.
        steps: recorded steps, aligned with each row of ``values``.
        values: layer → values aligned with ``steps`` (``None`` = not measured).
        kind: identifier stored in ``data-chart``.
        title: chart title.
        max_cols: at most this many columns (buckets of consecutive records).

    Returns:
        The ``<svg>`` element as a string.
    """
    edges = bin_edges(len(steps), max_cols)
    grid = [bucket_log10(values.get(name, [None] * len(steps)), edges) for name in layers]
    fin = [v for row in grid for v in row if v is not None and math.isfinite(v)]
    lo, hi = (min(fin), max(fin)) if fin else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    n_rows, n_cols = len(layers), len(edges)
    cell_h = min(40.0, max(3.0, 320.0 / max(n_rows, 1)))
    left = 150
    px0, px1 = left, WIDTH - MARGIN["right"] - 56
    py0 = MARGIN["top"] + 4
    py1 = py0 + cell_h * n_rows
    height = int(py1 + MARGIN["bottom"])
    cw = (px1 - px0) / max(n_cols, 1)

    def color(v: float | None) -> tuple[int, int, int] | None:
        if v is None:
            return None
        if math.isnan(v):
            return NONFINITE_RGB
        return colormap((v - lo) / (hi - lo)) if math.isfinite(v) else colormap(0.0)

    out = _open_svg(
        kind, title, height,
        {"vmin": 10**lo, "vmax": 10**hi, "rows": n_rows, "cols": n_cols,
         "mode": "rect" if n_rows * n_cols <= MAX_RECT_CELLS else "png"},
    )  # fmt: skip
    out.append(f'<rect class="plot" x="{px0}" y="{py0}" width="{px1 - px0}" height="{_f(py1 - py0)}"/>')
    if n_rows * n_cols <= MAX_RECT_CELLS:
        for r, name in enumerate(layers):
            for c, v in enumerate(grid[r]):
                rgb = color(v)
                if rgb is None:
                    continue
                a, b = edges[c]
                span = f"step {steps[a]}" + (f"–{steps[b - 1]}" if b - a > 1 else "")
                shown = "NaN/Inf" if v is not None and math.isnan(v) else (
                    "0" if v == -math.inf else fmt_num(10**v, 3))  # fmt: skip
                out.append(
                    f'<rect class="cell" x="{_f(px0 + c * cw)}" y="{_f(py0 + r * cell_h)}" '
                    f'width="{_f(cw + 0.4)}" height="{_f(cell_h)}" fill="rgb{rgb}">'
                    f"<title>{escape(f'{name}, {span}: {shown}')}</title></rect>"
                )
    else:
        img = [[(*rgb, 255) if (rgb := color(v)) else (0, 0, 0, 0) for v in row] for row in grid]
        data = base64.b64encode(png_rgba(img)).decode("ascii")
        out.append(
            f'<image x="{px0}" y="{py0}" width="{px1 - px0}" height="{_f(py1 - py0)}" '
            f'preserveAspectRatio="none" style="image-rendering:pixelated" '
            f'href="data:image/png;base64,{data}"/>'
        )
    for r, name in enumerate(layers):
        if cell_h >= 8 or r % max(1, round(10 / cell_h)) == 0:
            short = name if len(name) <= 22 else name[:21] + "…"
            out.append(
                f'<text class="tick" x="{px0 - 4}" y="{_f(py0 + (r + 0.5) * cell_h + 3)}" '
                f'text-anchor="end"><title>{escape(name)}</title>{escape(short)}</text>'
            )
    if steps:
        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
            c = min(int(frac * n_cols), n_cols - 1)
            x = px0 + (c + 0.5) * cw
            out.append(f'<text class="tick" x="{_f(x)}" y="{_f(py1 + 14)}" text-anchor="middle">{steps[edges[c][0]]}</text>')
    out.append(f'<text class="axis" x="{(px0 + px1) / 2}" y="{height - 6}" text-anchor="middle">step</text>')
    # colour bar with decade ticks
    bx, bw = px1 + 10, 10
    nstops = 24
    for i in range(nstops):
        t0 = i / nstops
        y = py1 - (i + 1) * (py1 - py0) / nstops
        out.append(f'<rect x="{bx}" y="{_f(y)}" width="{bw}" height="{_f((py1 - py0) / nstops + 0.5)}" fill="rgb{colormap(t0 + 0.5 / nstops)}"/>')
    decades = list(range(math.ceil(lo), math.floor(hi) + 1))
    px_per_decade = (py1 - py0) / (hi - lo)
    stride = max(1, math.ceil(12 / px_per_decade))
    labels = [(e, f"1e{e}") for e in decades[::stride]]
    if len(labels) < 2:  # less than two decades: label both ends instead
        labels = [(lo, fmt_num(10**lo, 2)), (hi, fmt_num(10**hi, 2))]
    for e, text in labels:
        y = py1 - (e - lo) / (hi - lo) * (py1 - py0)
        out.append(f'<text class="tick" x="{bx + bw + 3}" y="{_f(y + 3)}">{text}</text>')
    return "\n".join(out) + "\n</svg>"
