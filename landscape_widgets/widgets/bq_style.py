"""The look the bqplot figures share (:class:`ProfilePlot`, :class:`LossCurve`,
:class:`EnsemblePlot`): line colours, the legend box, margins and axes."""

from __future__ import annotations

from collections.abc import Iterable

import bqplot as bq
import ipywidgets

#: Line colours, in the order profiles, series and methods are given them (category10).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

# Legend: a light box behind smaller text. bqplot sizes the box at one em per
# character of the longest label, twice the text's width, so the figures set a
# tighter width (legend_width).
LEGEND_STYLE = {"fill": "white", "fill-opacity": "0.85", "stroke": "#ccc"}
LEGEND_TEXT = {"font-size": "12px"}


def next_color(used: Iterable[str]) -> str:
    """The first colour of :data:`PALETTE` not in ``used``; cycling once all are."""
    used = list(used)
    for color in PALETTE:
        if color not in used:
            return color
    return PALETTE[len(used) % len(PALETTE)]


def legend_style(labels: Iterable[str]) -> dict:
    """The legend box's style, as wide as the longest of ``labels`` needs."""
    longest = max((len(label) for label in labels), default=0)
    # About 0.6 em a character at 12px, plus the colour swatch and margins.
    return {**LEGEND_STYLE, "width": f"{round(7.2 * longest + 34)}px"}


def margins(title: str, left: int, right: int) -> dict:
    """``fig_margin`` in pixels: room for a title on top when there is one."""
    return {"top": 36 if title else 14, "bottom": 44, "left": left, "right": right}


def figure_options(
    title: str,
    *,
    left: int,
    right: int,
    legend_location: str,
    width: int,
    height: int,
) -> dict:
    """The :class:`bqplot.Figure` arguments every plot here shares: title, margins
    (:func:`margins`), the legend's place and look, and the size in CSS pixels."""
    return {
        "title": title,
        "fig_margin": margins(title, left, right),
        "legend_location": legend_location,
        "legend_style": dict(LEGEND_STYLE),
        "legend_text": dict(LEGEND_TEXT),
        "layout": ipywidgets.Layout(width=f"{width}px", height=f"{height}px"),
    }


def bottom_axis(scale: bq.Scale, label: str, **options) -> bq.Axis:
    """The horizontal axis, its label under the tick labels."""
    return bq.Axis(scale=scale, label=label, label_offset="32px", **options)


def side_axis(
    scale: bq.Scale, label: str, side: str = "left", offset: int = 44, **options
) -> bq.Axis:
    """A vertical axis on ``side``, its label ``offset`` pixels out."""
    return bq.Axis(scale=scale, side=side, label=label, label_offset=f"{offset}px", **options)
