"""Accuracy against ensemble size, drawn with bqplot (:class:`EnsemblePlot`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import bqplot as bq
import ipywidgets
import numpy as np

from .profile_plot import _LEGEND_STYLE, _LEGEND_TEXT, _next_color


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
        self.x_axis = bq.Axis(
            scale=self.x_scale, label="members k", tick_format="d", label_offset="32px"
        )
        self.y_axis = bq.Axis(
            scale=self.y_scale,
            side="left",
            orientation="vertical",
            label="test accuracy",
            tick_format=".3f",
            label_offset="50px",
        )
        super().__init__(
            marks=[],
            axes=[self.x_axis, self.y_axis],
            title=title,
            fig_margin={"top": 36 if title else 14, "bottom": 44, "left": 64, "right": 20},
            legend_location="top-left",
            legend_style=dict(_LEGEND_STYLE),
            legend_text=dict(_LEGEND_TEXT),
            layout=ipywidgets.Layout(width=f"{width}px", height=f"{height}px"),
        )
        for result in results:
            self.add(result)
        for name, value in (singles or {}).items():
            self.add_single(name, value)

    @property
    def lines(self) -> Mapping[str, bq.Lines]:
        """Each method's line: ensemble of the first k members against k."""
        return MappingProxyType(self._lines)

    @property
    def points(self) -> Mapping[str, bq.Scatter]:
        """Each method's dots: member k alone at x = k."""
        return MappingProxyType(self._points)

    @property
    def singles(self) -> Mapping[str, bq.Lines]:
        """The dashed horizontal line of each single network."""
        return MappingProxyType(self._singles)

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
        color = self._color(name)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self._lines[name] = bq.Lines(
            x=k,
            y=together,
            scales=scales,
            colors=[color],
            stroke_width=2.5,
            labels=[label or name],
            display_legend=True,
        )
        self._points[name] = bq.Scatter(
            x=k,
            y=members,
            scales=scales,
            colors=[color],
            default_size=36,
            stroke="white",
            display_legend=False,
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
            display_legend=True,
        )
        self.marks = [*self.marks, self._singles[name]]
        self._fit()

    def _height(self) -> int:
        return int(str(self.layout.height).removesuffix("px"))

    def _check_new(self, name: str) -> None:
        if name in self._lines or name in self._singles:
            raise ValueError(f"{name!r} is drawn already")

    def _color(self, name: str) -> str:
        self._colors[name] = _next_color(self._colors.values())
        return self._colors[name]

    def _fit(self) -> None:
        """The x range covers every method's members and the singles span it; the y range
        leaves room at the top for the legend, which fits its labels."""
        m = max((len(line.x) for line in self._lines.values()), default=1)
        lo, hi = 0.5, m + 0.5
        with self.hold_sync():
            self.x_scale.min, self.x_scale.max = lo, hi
            self.x_axis.tick_values = np.arange(1, m + 1, -(-m // 10))  # at most 10 ticks
            for line in self._singles.values():
                line.x = [lo, hi]
            shown = [*self._lines.values(), *self._singles.values()]
            ys = np.concatenate([np.asarray(mk.y, dtype=float) for mk in self.marks])
            ys = ys[np.isfinite(ys)]
            if len(ys):
                low, high = float(ys.min()), float(ys.max())
                span = max(high - low, 0.01)
                # the legend's rows (16 px each) take the top of the plot, above the data
                rows = len(shown) * 17 + 30
                room = rows / max(self._height() - rows - 80, 60)
                self.y_scale.min, self.y_scale.max = low - 0.05 * span, high + (room + 0.05) * span
            labels = [mk.labels[0] for mk in shown]
            longest = max((len(t) for t in labels), default=0)
            # about 0.6 em a character at 12px, plus the swatch and margins
            self.legend_style = {**_LEGEND_STYLE, "width": f"{round(7.2 * longest + 34)}px"}
