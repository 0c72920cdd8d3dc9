"""The report's chart toolkit: matplotlib charts as inline SVG, the one way torchdoctor draws.

For pages composed with :func:`torchdoctor.report.render_page`: each chart function returns an
``<svg>`` HTML fragment (self-contained, no script; every text from data shown as typed and
escaped) to put in a :class:`~torchdoctor.report.Section` body. matplotlib loads on the first
draw, not on import.

- :class:`Series` and :func:`line_chart`: lines (linear or log y), min–max bands, NaN/Inf
  gaps with red marks, category axes (layers by depth), dotted lines at events (``x_marks``).
- :func:`bar_chart`: horizontal grouped bars (e.g. fractions per layer).
- :func:`heatmap`: a statistic per layer over steps, log colour scale (viridis) with a colour bar.
- :func:`downsample` and :func:`bin_edges`: long series as bucket means with min–max bands.
- :func:`figure` and :func:`figure_svg`: a matplotlib figure of one's own, as inline SVG;
  drawn inside :func:`house_style` (:data:`PALETTE`, sizes, grid). Nothing here touches the
  caller's matplotlib: no pyplot, no backend switch, rcParams restored.
"""

from torchdoctor.report._bar_chart import bar_chart
from torchdoctor.report._data import bin_edges, downsample
from torchdoctor.report._figure import PALETTE, figure, figure_svg, house_style
from torchdoctor.report._line_chart import Series, line_chart
from torchdoctor.report._step_heatmap import heatmap

__all__ = [
    "PALETTE",
    "Series",
    "bar_chart",
    "bin_edges",
    "downsample",
    "figure",
    "figure_svg",
    "heatmap",
    "house_style",
    "line_chart",
]
