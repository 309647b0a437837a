"""Loss (and optionally accuracy) along paths, against ``t``, drawn with bqplot
(:class:`ProfilePlot`).

A subclass of :class:`bqplot.Figure`, so it displays directly and fits in an
ipywidgets ``HBox``/``VBox``; its scales, axes and marks are attributes.
NaN and inf values are drawn as gaps (:func:`.bq_marks.for_display`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import bqplot as bq
import numpy as np
import traitlets

from ..core.results import Profile
from .bq_legend import LegendEntry, MarginLegend
from .bq_marks import for_display, hold_sync, numeric_1d, read_only_view
from .bq_style import bottom_axis, figure_options, margins, next_color, set_log_ticks, side_axis


def format_barrier(value: float) -> str:
    """How a barrier height is written in a legend: 3 decimals, or 3 significant
    digits in scientific notation for very small or large values; ``n/a`` for NaN."""
    if not math.isfinite(value):
        return "n/a" if math.isnan(value) else str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.3f}"
    return f"{value:.2e}"


def _as_profile(name: Any, profile_or_t: Any, loss: Any, accuracy: Any) -> Profile:
    if not isinstance(name, str) or not name:
        raise TypeError(f"profile name must be a non-empty str, got {name!r}")
    if hasattr(profile_or_t, "t") and hasattr(profile_or_t, "loss"):
        if loss is not None or accuracy is not None:
            raise TypeError(
                f"set_profile({name!r}, ...): pass either a Profile or arrays t, loss "
                "(and accuracy), not both"
            )
        return profile_or_t
    if profile_or_t is None or loss is None:
        raise TypeError(
            f"set_profile({name!r}, ...) needs a Profile, or arrays t and loss "
            "(set_profile(name, t, loss, accuracy=None))"
        )
    t = numeric_1d(profile_or_t, f"profile {name!r}: t")
    metrics = {} if accuracy is None else {"accuracy": numeric_1d(accuracy, "accuracy")}
    return Profile(t=t, loss=numeric_1d(loss, f"profile {name!r}: loss"), metrics=metrics)


def _profile_arrays(
    name: str, profile: Profile, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(t, values of metric, accuracy or None)``, checked."""
    t = numeric_1d(profile.t, f"profile {name!r}: t")
    if t.size == 0:
        raise ValueError(f"profile {name!r} is empty (t has no points)")
    if not np.isfinite(t).all():
        raise ValueError(f"profile {name!r}: t holds NaN or inf")
    if t.size > 1 and np.any(np.diff(t) < 0):
        raise ValueError(f"profile {name!r}: t must be sorted in increasing order")
    metrics = getattr(profile, "metrics", None) or {}
    if metric == "loss":
        raw = profile.loss
    elif metric in metrics:
        raw = metrics[metric]
    else:
        raise ValueError(
            f"profile {name!r} has no metric {metric!r}; it has {['loss', *sorted(metrics)]}"
        )
    values = numeric_1d(raw, f"profile {name!r}: {metric}")
    if values.shape != t.shape:
        raise ValueError(
            f"profile {name!r}: {metric} has {values.size} values for {t.size} values of t"
        )
    acc = None
    if "accuracy" in metrics and metrics["accuracy"] is not None:
        acc = numeric_1d(metrics["accuracy"], f"profile {name!r}: accuracy")
        if acc.shape != t.shape:
            raise ValueError(
                f"profile {name!r}: accuracy has {acc.size} values for {t.size} values of t"
            )
    return t, values, acc


def _barrier(t: np.ndarray, values: np.ndarray):
    """``(barrier, t_peak, level, peak)``, the barrier by :meth:`Profile.barrier`.

    Over the finite points only when some are NaN/inf; NaN when no finite
    point has ``0 <= t <= 1``.
    """
    finite = np.isfinite(values)
    try:
        b = float(Profile(t=t[finite], loss=values[finite]).barrier())
    except ValueError:  # no (finite) point with 0 <= t <= 1
        return math.nan, math.nan, math.nan, math.nan
    inside = finite & (t >= 0) & (t <= 1)
    i = int(np.argmax(np.where(inside, values, -np.inf)))
    peak = float(values[i])
    return b, float(t[i]), peak - b, peak


class ProfilePlot(bq.Figure):
    """Loss (and optionally accuracy) along lines or curves, against ``t``.

    Each profile is one coloured line, named in the legend together with its
    barrier height: the largest value on ``0 <= t <= 1`` minus the larger of
    the two end values (:meth:`Profile.barrier`). A vertical bar with caps
    marks the barrier, from the larger end value up to the peak. Accuracy,
    when shown, is dashed, in the same colour, against a second axis on the
    right.

    Parameters
    ----------
    profiles : dict[str, Profile], optional
        Initial profiles, by name (insertion order gives the colours).
    metric : str
        ``"loss"`` (default) or a key of the profiles' ``metrics`` to draw
        (and measure the barrier of) instead.
    show_accuracy : bool
        Also draw ``metrics["accuracy"]`` where a profile has it (right axis).
    title : str
        Drawn above the plot.
    width, height : int
        Size in CSS pixels (traits of the same names).
    log_scale : bool
        Logarithmic y axis (trait of the same name); values <= 0 are then
        left out and counted in the legend.
    barriers : bool
        Measure and mark each profile's barrier (default True). Turn it off
        for slices through one minimum, where a barrier means nothing.

    Notes
    -----
    NaN and inf values are left out of the line (a gap) and counted in the
    legend; the barrier is then measured over the finite points. Updating a
    profile with :meth:`set_profile` changes the existing marks in place, one
    message per mark, so it is cheap enough to call on every drag event.

    Just over 350 lines through the numpydoc of its methods.

    Examples
    --------
    >>> t = np.linspace(0, 1, 101)
    >>> plot = ProfilePlot({"straight": Profile(t, 1 + np.sin(np.pi * t))})
    >>> plot.set_profile("curve", t, 1 + 0.2 * np.sin(np.pi * t))
    >>> round(plot.barriers["straight"], 3)
    1.0
    """

    log_scale = traitlets.Bool(
        False, help="bool: logarithmic y axis (values <= 0 not drawn); default False"
    )
    width = traitlets.Int(560, min=200, help="int: width in CSS pixels; default 560")
    height = traitlets.Int(320, min=150, help="int: height in CSS pixels; default 320")

    # Left and right margins (pixels): room for the metric's and accuracy's axes.
    _SIDES = {"left": 58, "right": 68}

    def __init__(
        self,
        profiles: Mapping[str, Profile] | None = None,
        *,
        metric: str = "loss",
        show_accuracy: bool = False,
        title: str = "",
        width: int = 560,
        height: int = 320,
        log_scale: bool = False,
        barriers: bool = True,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(
                f"ProfilePlot() got unexpected keyword argument(s) {', '.join(sorted(kwargs))}; "
                "accepted: profiles, metric, show_accuracy, title, width, height, log_scale, "
                "barriers"
            )
        if profiles is not None and not isinstance(profiles, Mapping):
            raise TypeError(
                f"profiles must be a dict name -> Profile, got {type(profiles).__name__}"
            )
        if not isinstance(metric, str) or not metric:
            raise TypeError(f"metric must be a non-empty str, got {metric!r}")
        if not isinstance(show_accuracy, bool):
            raise TypeError(f"show_accuracy must be a bool, got {show_accuracy!r}")
        if not isinstance(log_scale, bool):
            raise TypeError(f"log_scale must be a bool, got {log_scale!r}")
        if not isinstance(barriers, bool):
            raise TypeError(f"barriers must be a bool, got {barriers!r}")
        if not isinstance(title, str):
            raise TypeError(f"title must be a str, got {type(title).__name__}")
        for what, value, low in (("width", width, 200), ("height", height, 150)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{what} must be an int (CSS pixels), got {value!r}")
            if value < low:
                raise ValueError(f"{what} must be at least {low} pixels, got {value}")

        self._metric = metric
        self._show_accuracy = show_accuracy
        # a slice through one minimum (not a path between two) has no barrier to show
        self._show_barriers = barriers
        self._profiles: dict[str, Profile] = {}
        self._barriers: dict[str, float] = {}
        self._colors: dict[str, str] = {}
        self._lines: dict[str, bq.Lines] = {}
        self._accuracy_lines: dict[str, bq.Lines] = {}
        self._barrier_marks: dict[str, bq.Lines] = {}
        self._t_ranges: dict[str, tuple[float, float]] = {}

        #: Scales and axes (t; the metric, left; accuracy, right).
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LogScale() if log_scale else bq.LinearScale()
        self.y2_scale = bq.LinearScale()
        self.x_axis = bottom_axis(self.x_scale, "t")
        self.y_axis = side_axis(self.y_scale, metric)
        # percentages, trailing zeros trimmed: short tick labels, clear of the axis name
        self.y2_axis = side_axis(
            self.y2_scale, "accuracy (dashed)", side="right", offset=54, grid_lines="none",
            tick_format=".2~%",
        )  # fmt: skip
        axes = [self.x_axis, self.y_axis] + ([self.y2_axis] if show_accuracy else [])
        super().__init__(
            marks=[],
            axes=axes,
            **figure_options(title, **self._SIDES, width=width, height=height),
            padding_y=0.05,
            width=width,
            height=height,
            log_scale=log_scale,
        )
        self.legend = MarginLegend(self)
        self.marks = self.legend.marks
        for name, profile in (profiles or {}).items():
            self.set_profile(name, profile)

    # ---------------------------------------------------------------- read-only

    @property
    def metric(self) -> str:
        """The metric drawn (and measured) on the left axis."""
        return self._metric

    @property
    def show_accuracy(self) -> bool:
        """Whether accuracy is drawn (dashed, right axis)."""
        return self._show_accuracy

    profiles = read_only_view(
        "_profiles", "The profiles shown, by name (read-only; use :meth:`set_profile`)."
    )
    barriers = read_only_view(
        "_barriers", "Each profile's barrier height as shown in the legend (NaN: none)."
    )
    lines = read_only_view("_lines", "The metric's Lines mark of each profile.")
    accuracy_lines = read_only_view(
        "_accuracy_lines",
        "The dashed accuracy Lines mark of each profile (with ``show_accuracy``).",
    )
    barrier_marks = read_only_view(
        "_barrier_marks", "The barrier marker of each profile: one Lines mark, a capped bar."
    )

    # ---------------------------------------------------------------- updates

    def set_profile(
        self,
        name: str,
        profile_or_t: Any,
        loss: Any = None,
        accuracy: Any = None,
        color: str | None = None,
    ) -> None:
        """Show a profile under ``name``, replacing the one of that name if any.

        Parameters
        ----------
        name : str
            Legend name; a new name adds a line, a known one updates its
            marks in place (no new marks, one message per mark).
        profile_or_t : Profile or array_like
            A :class:`Profile`, or the ``t`` values (increasing) when
            ``loss`` is given.
        loss, accuracy : array_like, optional
            With ``t``: the values along the path (same length as ``t``).
        color : str, optional
            CSS colour of the line, e.g. the path's colour on its map (the
            map passes it); default the profile's colour so far, or the next
            free one of the palette.

        Examples
        --------
        >>> plot = ProfilePlot()
        >>> plot.set_profile("straight", [0, 0.5, 1], [0.1, 0.9, 0.2], accuracy=[1, 0.4, 1])
        """
        profile = _as_profile(name, profile_or_t, loss, accuracy)
        t, values, acc = _profile_arrays(name, profile, self._metric)
        b, t_peak, level, peak = _barrier(t, values)
        shown, n_bad, n_nonpos = for_display(values, self.log_scale)
        label = self._label(name, b, n_bad, n_nonpos)
        bx, by = self._marker(t, b, t_peak, level, peak) if self._show_barriers else (None, None)

        if color is not None and not isinstance(color, str):
            raise TypeError(f"color must be a CSS colour string, not {color!r}")
        lines = self._lines.get(name)
        if lines is None:
            self._add(name, t, shown, label, bx, by, acc, color)
        else:
            if color is not None and color != self._colors[name]:
                self._recolor(name, color)
            barrier = self._barrier_marks[name]
            acc_lines = self._accuracy_lines.get(name)
            touched = [lines, barrier] + ([acc_lines] if acc_lines is not None else [])
            with hold_sync(*touched):
                lines.x, lines.y = t, shown
                lines.visible = bool(np.isfinite(shown).any())
                if lines.labels != [label]:
                    lines.labels = [label]
                if bx is None:
                    barrier.visible = False
                else:
                    barrier.x, barrier.y = bx, by
                    barrier.visible = True
                if acc_lines is not None:
                    if acc is None:
                        acc_lines.x, acc_lines.y = np.zeros(0), np.zeros(0)
                    else:
                        acc_lines.x, acc_lines.y = t, for_display(acc, False)[0]
            if acc_lines is None and acc is not None and self._show_accuracy:
                self._accuracy_lines[name] = self._accuracy_mark(name, t, acc)
                self.marks = [*self.marks, self._accuracy_lines[name]]
        self._profiles[name] = profile
        self._barriers[name] = b
        self._t_ranges[name] = (float(t[0]), float(t[-1]))
        self._fit_axes_and_legend()

    def remove_profile(self, name: str) -> None:
        """Remove the profile ``name`` and its marks (KeyError if unknown)."""
        if name not in self._lines:
            raise KeyError(f"no profile {name!r}; the plot has {sorted(self._lines)}")
        gone = [self._lines.pop(name), self._barrier_marks.pop(name)]
        if name in self._accuracy_lines:
            gone.append(self._accuracy_lines.pop(name))
        self.marks = [m for m in self.marks if all(m is not g for g in gone)]
        for mark in gone:
            mark.close()
        del self._profiles[name], self._barriers[name], self._colors[name], self._t_ranges[name]
        self._fit_axes_and_legend()

    # ---------------------------------------------------------------- internals

    @traitlets.observe("title")
    def _title_changed(self, change: dict) -> None:
        base = margins(change["new"], **self._SIDES)
        legend = getattr(self, "legend", None)  # None while __init__ sets the title
        self.fig_margin = base if legend is None else legend.margin(base)

    @traitlets.observe("width", "height")
    def _size_changed(self, change: dict) -> None:
        setattr(self.layout, change["name"], f"{change['new']}px")

    @traitlets.observe("log_scale")
    def _log_scale_changed(self, change: dict) -> None:
        if isinstance(self.y_scale, bq.LogScale) == change["new"]:
            return
        self.y_scale = bq.LogScale() if change["new"] else bq.LinearScale()
        with self.hold_sync():
            self.y_axis.scale = self.y_scale
            for mark in [*self._lines.values(), *self._barrier_marks.values()]:
                mark.scales = {"x": self.x_scale, "y": self.y_scale}
            for name, profile in list(self._profiles.items()):
                self.set_profile(name, profile)

    def _fit_axes_and_legend(self) -> None:
        """The t axis spans the profiles exactly (no padding past the data); the
        legend box fits its labels. Sends nothing when neither changes."""
        if self._t_ranges:
            lo = min(r[0] for r in self._t_ranges.values())
            hi = max(r[1] for r in self._t_ranges.values())
            span = (lo, hi) if hi > lo else (None, None)
        else:
            span = (None, None)
        if (self.x_scale.min, self.x_scale.max) != span:
            with self.x_scale.hold_sync():
                self.x_scale.min, self.x_scale.max = span
        shown = [np.asarray(m.y, dtype=np.float64) for m in self._lines.values()]
        set_log_ticks(self.y_axis, np.concatenate(shown or [np.zeros(0)]), self.log_scale)
        entries = [LegendEntry(m.labels[0], self._colors[n]) for n, m in self._lines.items()]
        if entries != self.legend.entries:
            self.legend.show(entries)

    def _label(self, name: str, b: float, n_bad: int, n_nonpos: int) -> str:
        notes = []
        if self._show_barriers:
            # a path through one basin has no barrier; "barrier 0.000" reads as a measured one
            notes.append(f"barrier {format_barrier(b)}" if b != 0 else "no barrier")
        if n_bad:
            notes.append(f"{n_bad} NaN/inf not drawn")
        if n_nonpos:
            notes.append(f"{n_nonpos} <= 0 not drawn (log)")
        return f"{name} ({'; '.join(notes)})" if notes else name

    @staticmethod
    def _marker(t: np.ndarray, b: float, t_peak: float, level: float, peak: float):
        """The barrier marker: a vertical bar with caps, one path (NaN breaks it)."""
        if not b > 0:
            return None, None  # no barrier: the marker is hidden (bqplot errs on all-NaN lines)
        w = 0.015 * max(float(t[-1] - t[0]), 1e-12)
        nan = np.nan
        x = [t_peak - w, t_peak + w, nan, t_peak, t_peak, nan, t_peak - w, t_peak + w]
        y = [level, level, nan, level, peak, nan, peak, peak]
        return np.array(x), np.array(y)

    def _accuracy_mark(self, name: str, t: np.ndarray, acc: np.ndarray) -> bq.Lines:
        return bq.Lines(
            x=t,
            y=for_display(acc, False)[0],
            scales={"x": self.x_scale, "y": self.y2_scale},
            colors=[self._colors[name]],
            line_style="dashed",
            stroke_width=1.5,
            display_legend=False,
        )

    def _recolor(self, name: str, color: str) -> None:
        self._colors[name] = color
        for table in (self._lines, self._barrier_marks, self._accuracy_lines):
            if name in table:
                table[name].colors = [color]

    def _add(self, name, t, shown, label, bx, by, acc, color=None) -> None:
        color = color or next_color(self._colors.values())
        self._colors[name] = color
        scales = {"x": self.x_scale, "y": self.y_scale}
        self._lines[name] = bq.Lines(
            x=t,
            y=shown,
            scales=scales,
            colors=[color],
            labels=[label],
            display_legend=False,  # named in the legend under the plot
            stroke_width=2,
            visible=bool(np.isfinite(shown).any()),
        )
        self._barrier_marks[name] = bq.Lines(
            x=t[:1] if bx is None else bx,
            y=shown[:1] if bx is None else by,
            visible=bx is not None,
            scales=scales,
            colors=[color],
            stroke_width=3,
            display_legend=False,
        )
        new = [self._lines[name], self._barrier_marks[name]]
        if acc is not None and self._show_accuracy:
            self._accuracy_lines[name] = self._accuracy_mark(name, t, acc)
            new.append(self._accuracy_lines[name])
        self.marks = [*self.marks, *new]
