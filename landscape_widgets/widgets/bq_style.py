"""The look the bqplot figures share (:class:`ProfilePlot`, :class:`LossCurve`,
:class:`EnsemblePlot`): line colours, margins and axes; and the colours of runs,
which the map's trajectories and the loss curves share (:func:`run_color`)."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterable

import bqplot as bq
import ipywidgets
import numpy as np

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


def next_color(used: Iterable[str]) -> str:
    """The first colour of :data:`PALETTE` not in ``used``; cycling once all are."""
    used = list(used)
    for color in PALETTE:
        if color not in used:
            return color
    return PALETTE[len(used) % len(PALETTE)]


#: The colours of runs (optimizer trajectories and their loss curves), one per run label
#: (:func:`run_color`). Bright enough to read on the dark end of a colour map (the map
#: draws a trajectory over a dark halo) and dark enough to read on a white chart; none
#: is the probe's orange, a path's red or the anchors' white.
RUN_COLORS = (
    "#00a8e8",
    "#e830c0",
    "#d8a800",
    "#30b030",
    "#9060f0",
    "#888888",
    "#00b8a0",
    "#a86838",
)

# The usual optimizer names get fixed colours, so that "adam" looks the same in every
# notebook whatever ran first; other labels take the least used colour when first seen.
_RUN_COLOR_OF = dict(zip(("sgd", "momentum", "rmsprop", "adam"), RUN_COLORS[:4], strict=True))
_RUN_LOCK = threading.Lock()


def run_color(label: str) -> str:
    """The colour of the run labelled ``label``: the same in every widget of the process.

    A map's trajectory, a :class:`LossCurve` series and (through
    ``LandscapeWidget.color_of``) a 3D overlay of one run label share it, so a
    run has one colour in every picture of a notebook. ``"sgd"``, ``"momentum"``,
    ``"rmsprop"`` and ``"adam"`` have fixed colours; another label gets the
    least used colour of :data:`RUN_COLORS` the first time it is asked for.

    Examples
    --------
    >>> run_color("adam") == RUN_COLORS[3]
    True
    >>> run_color("my run") == run_color("my run")
    True
    """
    label = str(label)
    with _RUN_LOCK:
        color = _RUN_COLOR_OF.get(label)
        if color is None:
            uses = Counter(_RUN_COLOR_OF.values())
            color = min(RUN_COLORS, key=lambda c: (uses[c], RUN_COLORS.index(c)))
            _RUN_COLOR_OF[label] = color
        return color


def pick_run_color(label: str, used: Iterable[str]) -> str:
    """:func:`run_color` of ``label``, unless another line of the same picture has it
    (labels outnumber the colours, or two runs share a label): then the first
    colour of :data:`RUN_COLORS` that the picture does not use yet."""
    used = set(used)
    color = run_color(label)
    if color not in used:
        return color
    return next((c for c in RUN_COLORS if c not in used), color)


def margins(title: str, left: int, right: int) -> dict:
    """``fig_margin`` in pixels: room for a title on top when there is one."""
    return {"top": 36 if title else 14, "bottom": 44, "left": left, "right": right}


def figure_options(
    title: str,
    *,
    left: int,
    right: int,
    width: int,
    height: int,
) -> dict:
    """The :class:`bqplot.Figure` arguments every plot here shares: title, margins
    (:func:`margins`) and the size in CSS pixels. Their legends are
    :class:`~.bq_legend.MarginLegend` marks under the plot."""
    return {
        "title": title,
        "fig_margin": margins(title, left, right),
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


def log_tick_values(lo: float, hi: float, most: int = 8) -> np.ndarray:
    """Ticks at 1, 2 and 5 times powers of ten between ``lo`` and ``hi`` (thinned to
    powers of ten, then every other one, when there would be more than ``most``)."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mantissas, stride in (((1, 2, 5), 1), ((1,), 1), ((1,), 2), ((1,), 4)):
        ticks = [
            m * 10.0**k
            for k in range(k0, k1 + 1, stride)
            for m in mantissas
            if lo <= m * 10.0**k <= hi
        ]
        if len(ticks) <= most:
            break
    if len(ticks) < 2:  # a range inside one 1-2-5 step: its ends
        ticks = [lo, hi]
    return np.asarray(ticks, dtype=float)


def set_log_ticks(axis: bq.Axis, values, log: bool) -> None:
    """On a log axis, 1-2-5 ticks over the positive finite ``values``, written as plain
    numbers (20, 10, 5, 2, 1, 0.5): a log axis left alone labels every 1..9 x 10^k, in
    exponent notation, and the labels of a narrow range overlap. On a linear axis,
    bqplot's own ticks again."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v) & (v > 0)]
    if log and v.size:
        axis.tick_values = log_tick_values(float(v.min()), float(v.max()))
        axis.tick_format = "~g"
    elif not log and axis.tick_format == "~g":
        axis.tick_values, axis.tick_format = None, None
