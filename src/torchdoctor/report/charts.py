"""The report's chart toolkit: inline SVG charts and a PNG heat map, no plotting library.

For pages composed with :func:`torchdoctor.report.render_page`: each chart function returns an
HTML fragment (every label escaped) to put in a :class:`~torchdoctor.report.Section` body.

- :class:`Series`, :func:`line_chart`, :func:`bar_chart`, :func:`heatmap`: the charts.
- :func:`downsample` and :func:`bin_edges`: long series as bucket means with min–max bands.
- :func:`figure` and :func:`figure_svg`: a matplotlib figure in the house style, as inline SVG.
- :func:`nice_ticks`, :func:`log_ticks`: axis ticks; :func:`colormap` (viridis),
  :func:`bucket_log10`, :func:`png_rgba`: the heat map's colours and its PNG encoder.
"""

from torchdoctor.report._data import bin_edges, downsample
from torchdoctor.report._figure import PALETTE, figure, figure_svg
from torchdoctor.report._heatmap import bucket_log10, colormap, heatmap, png_rgba
from torchdoctor.report._svg import Series, bar_chart, line_chart, log_ticks, nice_ticks

__all__ = [
    "PALETTE",
    "Series",
    "bar_chart",
    "bin_edges",
    "bucket_log10",
    "colormap",
    "downsample",
    "figure",
    "figure_svg",
    "heatmap",
    "line_chart",
    "log_ticks",
    "nice_ticks",
    "png_rgba",
]
