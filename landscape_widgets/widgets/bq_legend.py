"""A legend under a bqplot figure's plot area, for :class:`ProfilePlot`,
:class:`LossCurve` and :class:`EnsemblePlot`.

bqplot draws its own legend inside the plot area, where it covers the lines it
names. This one is made of two Label marks that are not clipped to the plot
area (``apply_clip=False``): a line sample per entry, drawn as a run of dashes
in the entry's colour (solid ``——`` or dashed ``– –``), and the names,
placed in the figure's bottom margin, which grows by a row of 16 pixels per
line of entries. Text, not lines: the figure's lines stay the data alone. Its
scales are fixed to [0, 1] over the plot area, so it never changes a domain
(and never makes bqplot's axes redraw).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import bqplot as bq
import numpy as np

__all__ = ["LegendEntry", "MarginLegend", "legend_positions"]

#: Pixels: one row of entries, the x axis' own room under the plot, the line sample's length.
ROW = 16
AXIS_ROOM = 40
SAMPLE = 30
CHAR = 7.0  # about one character of 12px text
#: The line samples, as text.
SOLID, DASHED = "——", "– –"


class LegendEntry(NamedTuple):
    name: str
    color: str
    dashed: bool = False


def legend_positions(names: Sequence[str], width: float) -> list[tuple[float, int]]:
    """Where each entry starts, ``(x in pixels from the plot's left edge, row)``,
    filling rows of ``width`` pixels left to right."""
    out, x, row = [], 0.0, 0
    for name in names:
        w = SAMPLE + 6 + CHAR * len(name) + 14
        if x > 0 and x + w > width:
            x, row = 0.0, row + 1
        out.append((x, row))
        x += w
    return out


def _pixels(value, default: float) -> float:
    text = str(value or "").strip()
    return float(text[:-2]) if text.endswith("px") else default


class MarginLegend:
    """The legend marks of one figure; :meth:`show` lays out entries and sizes the margin."""

    def __init__(self, figure: bq.Figure, bottom: int = 44) -> None:
        self.figure = figure
        self.bottom = bottom  # the figure's bottom margin without a legend
        self.entries: list[LegendEntry] = []
        self.rows = 0
        scales = {
            "x": bq.LinearScale(min=0.0, max=1.0, allow_padding=False),
            "y": bq.LinearScale(min=0.0, max=1.0, allow_padding=False),
        }
        common = {
            "scales": scales, "apply_clip": False, "display_legend": False, "visible": False,
            "x": [0.0], "y": [0.0], "text": [""], "align": "start", "y_offset": 4,
        }  # fmt: skip
        self.samples = bq.Label(default_size=13, font_weight="bold", colors=["#222222"], **common)
        self.names = bq.Label(default_size=12, font_weight="normal", colors=["#222222"], **common)
        # a figure resized after the fact (layout.width = ...) lays its legend out again
        figure.layout.observe(lambda _: self.show(self.entries), names=["width", "height"])

    @property
    def marks(self) -> list[bq.Mark]:
        """The two marks, for the figure's ``marks``."""
        return [self.samples, self.names]

    def margin(self, base: dict) -> dict:
        """``base`` (a ``fig_margin``) with the bottom grown for the legend's rows."""
        extra = (self.rows * ROW + 10) if self.entries else 0
        return {**base, "bottom": self.bottom + extra}

    def show(self, entries: Sequence[LegendEntry]) -> None:
        """Lay out ``entries`` under the plot (none: the legend and its room go)."""
        self.entries = [LegendEntry(*e) for e in entries]
        fig = self.figure
        margin = fig.fig_margin or {}
        width = _pixels(fig.layout.width, 560.0) - margin.get("left", 0) - margin.get("right", 0)
        places = legend_positions([e.name for e in self.entries], max(width, 80.0))
        self.rows = (places[-1][1] + 1) if places else 0
        new_margin = self.margin(margin)
        height = _pixels(fig.layout.height, 300.0) - new_margin["top"] - new_margin["bottom"]
        height = max(height, 40.0)
        with fig.hold_sync():
            if new_margin != margin:
                fig.fig_margin = new_margin
            ys = np.array([self._y(r, height) for _, r in places])
            with self.samples.hold_sync():
                if self.entries:
                    self.samples.x = np.array([x / width for x, _ in places])
                    self.samples.y = ys
                    self.samples.text = [DASHED if e.dashed else SOLID for e in self.entries]
                    self.samples.colors = [e.color for e in self.entries]
                self.samples.visible = bool(self.entries)
            with self.names.hold_sync():
                if self.entries:
                    self.names.x = np.array([(x + SAMPLE + 6) / width for x, _ in places])
                    self.names.y = ys
                    self.names.text = [e.name for e in self.entries]
                self.names.visible = bool(self.entries)

    @staticmethod
    def _y(row: int, height: float) -> float:
        """The data y of a row's middle: below the plot, under the x axis' room."""
        return -(AXIS_ROOM + row * ROW + 8) / height
