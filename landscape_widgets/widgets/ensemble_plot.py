"""Accuracy against ensemble size, drawn with bqplot (:class:`EnsemblePlot`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import bqplot as bq
import numpy as np

from .bq_legend import LegendEntry, MarginLegend
from .bq_marks import read_only_view
from .bq_style import bottom_axis, figure_options, next_color, side_axis


class EnsemblePlot(bq.Figure):
    """Test accuracy of ensembles of the first k members against k, several methods at once.

    Each method (an :class:`~landscape_widgets.ensembles.EnsembleAccuracy`)
    is a line through the accuracies of its ensembles of 1, 2, ..., M
    members, with dots of the same colour for each member on its own (member
    k at x = k). A single network, such as the SWA average, is a dashed
    horizontal line (:meth:`add_single`).

    Parameters
    ----------
    results : iterable of EnsembleAccuracy
        Methods to draw, in the order they get colours.
    singles : dict[str, float], optional
        Single networks' accuracies by name.
    title : str
    width, height : int
        Size in CSS pixels.

    Examples
    --------
    >>> from landscape_widgets.ensembles import EnsembleAccuracy
    >>> acc = EnsembleAccuracy("snapshot", np.array([0.8, 0.82]), np.array([0.8, 0.85]))
    >>> plot = EnsemblePlot([acc], {"SWA average": 0.84})
    >>> plot.lines["snapshot"].y.tolist()
    [0.8, 0.85]
    """

    def __init__(
        self,
        results: Iterable[Any] = (),
        singles: Mapping[str, float] | None = None,
        *,
        title: str = "",
        width: int = 560,
        height: int = 340,
    ) -> None:
        self._lines: dict[str, bq.Lines] = {}
        self._points: dict[str, bq.Scatter] = {}
        self._singles: dict[str, bq.Lines] = {}
        self._colors: dict[str, str] = {}
        #: The scales and axes (members k; accuracy).
        self.x_scale = bq.LinearScale(min=0.5, max=1.5)
        self.y_scale = bq.LinearScale()
        self.x_axis = bottom_axis(self.x_scale, "members k", tick_format="d")
        self.y_axis = side_axis(self.y_scale, "test accuracy", offset=50, tick_format=".3f")
        super().__init__(
            marks=[],
            axes=[self.x_axis, self.y_axis],
            **figure_options(title, left=64, right=20, width=width, height=height),
        )
        self.legend = MarginLegend(self)
        self.marks = self.legend.marks
        for result in results:
            self.add(result)
        for name, value in (singles or {}).items():
            self.add_single(name, value)

    lines = read_only_view(
        "_lines", "Each method's line: ensemble of the first k members against k."
    )
    points = read_only_view("_points", "Each method's dots: member k alone at x = k.")
    singles = read_only_view("_singles", "The dashed horizontal line of each single network.")

    def add(self, result: Any, label: str | None = None) -> None:
        """Draw one method (an ``EnsembleAccuracy``); ``label`` (default its name) names it
        in the legend."""
        name = result.name
        self._check_new(name)
        members = np.asarray(result.members, dtype=np.float64)
        together = np.asarray(result.ensemble, dtype=np.float64)
        if members.ndim != 1 or members.shape != together.shape or not len(members):
            raise ValueError("members and ensemble must be 1-D arrays of the same, nonzero length")
        k = np.arange(1, len(members) + 1, dtype=np.float64)
        # the line and the dots of one method: same x, scales and colour
        scales = {"x": self.x_scale, "y": self.y_scale}
        common = {"x": k, "scales": scales, "colors": [self._color(name)]}
        self._lines[name] = bq.Lines(
            y=together, stroke_width=2.5, labels=[label or name], display_legend=False, **common
        )
        self._points[name] = bq.Scatter(
            y=members, default_size=36, stroke="white", display_legend=False, **common
        )
        self.marks = [*self.marks, self._lines[name], self._points[name]]
        self._fit()

    def add_single(self, name: str, value: float) -> None:
        """A single network's accuracy as a dashed horizontal line across the plot."""
        self._check_new(name)
        self._singles[name] = bq.Lines(
            x=[0.5, 1.5],
            y=[float(value)] * 2,
            scales={"x": self.x_scale, "y": self.y_scale},
            colors=[self._color(name)],
            line_style="dashed",
            stroke_width=2,
            labels=[name],
            display_legend=False,
        )
        self.marks = [*self.marks, self._singles[name]]
        self._fit()

    def _check_new(self, name: str) -> None:
        if name in self._lines or name in self._singles:
            raise ValueError(f"{name!r} is drawn already")

    def _color(self, name: str) -> str:
        self._colors[name] = next_color(self._colors.values())
        return self._colors[name]

    def _fit(self) -> None:
        """The x range covers every method's members and the singles span it; the
        legend under the plot names the methods and singles (dashed)."""
        m = max((len(line.x) for line in self._lines.values()), default=1)
        lo, hi = 0.5, m + 0.5
        with self.hold_sync():
            self.x_scale.min, self.x_scale.max = lo, hi
            self.x_axis.tick_values = np.arange(1, m + 1, -(-m // 10))  # at most 10 ticks
            for line in self._singles.values():
                line.x = [lo, hi]
            singles = list(self._singles.values())
            shown = [*self._lines.values(), *singles]
            data = [*self._lines.values(), *self._points.values(), *singles]
            ys = np.concatenate([np.asarray(mk.y, dtype=float) for mk in data])
            ys = ys[np.isfinite(ys)]
            if len(ys):
                low, high = float(ys.min()), float(ys.max())
                span = max(high - low, 0.01)
                self.y_scale.min, self.y_scale.max = low - 0.05 * span, high + 0.05 * span
            self.legend.show(
                [LegendEntry(mk.labels[0], mk.colors[0], mk in singles) for mk in shown]
            )
