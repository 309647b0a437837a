"""1-D plots drawn with bqplot: loss along paths (:class:`ProfilePlot`) and a
live training curve (:class:`LossCurve`).

Both subclass :class:`bqplot.Figure`, so they display directly and fit in an
ipywidgets ``HBox``/``VBox``; their scales, axes and marks are attributes.

Non-finite values never reach the front-end as inf: they are sent as NaN,
which bqplot's Lines leave out of the line (a gap) and out of the axis range.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import bqplot as bq
import ipywidgets
import numpy as np
import traitlets

from ..core.results import Profile

#: Line colours, in the order profiles and series are given them (category10).
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
# character of the longest label, twice the text's width; ProfilePlot sets a
# tighter width (see ProfilePlot._fit_legend).
_LEGEND_STYLE = {"fill": "white", "fill-opacity": "0.85", "stroke": "#ccc"}
_LEGEND_TEXT = {"font-size": "12px"}

# --------------------------------------------------------------------------
# Helpers shared by both plots


def _next_color(used: Iterable[str]) -> str:
    used = list(used)
    for color in PALETTE:
        if color not in used:
            return color
    return PALETTE[len(used) % len(PALETTE)]


def _numeric_1d(value: Any, what: str) -> np.ndarray:
    """``value`` as a 1-D float64 array, or TypeError/ValueError naming ``what``."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be a 1-D array of numbers, got {type(value).__name__}")
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{what} must be a 1-D array of numbers: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    return arr.astype(np.float64)


def _real(value: Any, what: str) -> float:
    """``value`` (a number, numpy scalar or one-element tensor) as a float."""
    if isinstance(value, (str, bytes, complex)):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except Exception:
        raise TypeError(f"{what} must be a real number, got {type(value).__name__}") from None


def _for_display(values: np.ndarray, log: bool) -> tuple[np.ndarray, int, int]:
    """A copy with NaN where a value cannot be drawn.

    Returns ``(shown, n_nonfinite, n_nonpositive)``: NaN and inf become NaN;
    on a log scale values <= 0 become NaN too.
    """
    shown = np.array(values, dtype=np.float64)
    bad = ~np.isfinite(shown)
    n_bad = int(bad.sum())
    if n_bad:
        shown[bad] = np.nan
    n_nonpos = 0
    if log:
        with np.errstate(invalid="ignore"):
            nonpos = shown <= 0
        n_nonpos = int(nonpos.sum())
        if n_nonpos:
            shown[nonpos] = np.nan
    return shown, n_bad, n_nonpos


def _hold_sync(*widgets: ipywidgets.Widget):
    """One state message per widget for everything changed inside the block."""
    stack = contextlib.ExitStack()
    for w in widgets:
        stack.enter_context(w.hold_sync())
    return stack


def format_barrier(value: float) -> str:
    """How a barrier height is written in a legend: 3 decimals, or 3 significant
    digits in scientific notation for very small or large values; ``n/a`` for NaN."""
    if not math.isfinite(value):
        return "n/a" if math.isnan(value) else str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.3f}"
    return f"{value:.2e}"


def downsample_minmax(x: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep a line's shape.

    The first and last points are always kept; the points between are cut
    into ``(max_points - 2) // 2`` buckets of consecutive points and each
    bucket keeps its smallest and largest ``y`` (NaN ignored unless a bucket
    holds nothing else). Returns sorted indices into ``x`` / ``y``, all of
    them when there are no more than ``max_points``.

    Examples
    --------
    >>> y = np.sin(np.linspace(0, 20, 100_000))
    >>> idx = downsample_minmax(np.arange(y.size), y, 1000)
    >>> len(idx) <= 1000, int(idx[0]), int(idx[-1])
    (True, 0, 99999)
    """
    n = len(y)
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    if n <= max_points:
        return np.arange(n)
    inner = np.asarray(y[1:-1], dtype=np.float64)
    m = inner.size
    buckets = (max_points - 2) // 2
    size = -(-m // buckets)  # ceil
    rows = -(-m // size)
    pad = rows * size - m
    nan = np.isnan(inner)
    lo = np.pad(np.where(nan, np.inf, inner), (0, pad), constant_values=np.inf)
    hi = np.pad(np.where(nan, -np.inf, inner), (0, pad), constant_values=-np.inf)
    base = np.arange(rows) * size
    imin = base + lo.reshape(rows, size).argmin(axis=1)
    imax = base + hi.reshape(rows, size).argmax(axis=1)
    keep = np.concatenate(([0], np.minimum(imin, m - 1) + 1, np.minimum(imax, m - 1) + 1, [n - 1]))
    return np.unique(keep)


# --------------------------------------------------------------------------
# ProfilePlot


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
    t = _numeric_1d(profile_or_t, f"profile {name!r}: t")
    metrics = {} if accuracy is None else {"accuracy": _numeric_1d(accuracy, "accuracy")}
    return Profile(t=t, loss=_numeric_1d(loss, f"profile {name!r}: loss"), metrics=metrics)


def _profile_arrays(
    name: str, profile: Profile, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(t, values of metric, accuracy or None)``, checked."""
    t = _numeric_1d(profile.t, f"profile {name!r}: t")
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
    values = _numeric_1d(raw, f"profile {name!r}: {metric}")
    if values.shape != t.shape:
        raise ValueError(
            f"profile {name!r}: {metric} has {values.size} values for {t.size} values of t"
        )
    acc = None
    if "accuracy" in metrics and metrics["accuracy"] is not None:
        acc = _numeric_1d(metrics["accuracy"], f"profile {name!r}: accuracy")
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
        self.x_axis = bq.Axis(scale=self.x_scale, label="t", label_offset="32px")
        self.y_axis = bq.Axis(
            scale=self.y_scale,
            side="left",
            label=metric,
            label_offset="44px",
        )
        self.y2_axis = bq.Axis(
            scale=self.y2_scale,
            side="right",
            label="accuracy (dashed)",
            grid_lines="none",
            label_offset="40px",
        )
        axes = [self.x_axis, self.y_axis] + ([self.y2_axis] if show_accuracy else [])
        super().__init__(
            marks=[],
            axes=axes,
            title=title,
            fig_margin=self._margins(title),
            legend_location="top-left",
            legend_style=dict(_LEGEND_STYLE),
            legend_text=dict(_LEGEND_TEXT),
            layout=ipywidgets.Layout(width=f"{width}px", height=f"{height}px"),
            padding_y=0.05,
            width=width,
            height=height,
            log_scale=log_scale,
        )
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

    @property
    def profiles(self) -> Mapping[str, Profile]:
        """The profiles shown, by name (read-only; use :meth:`set_profile`)."""
        return MappingProxyType(self._profiles)

    @property
    def barriers(self) -> Mapping[str, float]:
        """Each profile's barrier height as shown in the legend (NaN: none)."""
        return MappingProxyType(self._barriers)

    @property
    def lines(self) -> Mapping[str, bq.Lines]:
        """The metric's Lines mark of each profile."""
        return MappingProxyType(self._lines)

    @property
    def accuracy_lines(self) -> Mapping[str, bq.Lines]:
        """The dashed accuracy Lines mark of each profile (with ``show_accuracy``)."""
        return MappingProxyType(self._accuracy_lines)

    @property
    def barrier_marks(self) -> Mapping[str, bq.Lines]:
        """The barrier marker of each profile: one Lines mark, a capped vertical bar."""
        return MappingProxyType(self._barrier_marks)

    # ---------------------------------------------------------------- updates

    def set_profile(
        self,
        name: str,
        profile_or_t: Any,
        loss: Any = None,
        accuracy: Any = None,
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

        Examples
        --------
        >>> plot = ProfilePlot()
        >>> plot.set_profile("straight", [0, 0.5, 1], [0.1, 0.9, 0.2], accuracy=[1, 0.4, 1])
        """
        profile = _as_profile(name, profile_or_t, loss, accuracy)
        t, values, acc = _profile_arrays(name, profile, self._metric)
        b, t_peak, level, peak = _barrier(t, values)
        shown, n_bad, n_nonpos = _for_display(values, self.log_scale)
        label = self._label(name, b, n_bad, n_nonpos)
        bx, by = self._marker(t, b, t_peak, level, peak) if self._show_barriers else (None, None)

        lines = self._lines.get(name)
        if lines is None:
            self._add(name, t, shown, label, bx, by, acc)
        else:
            barrier = self._barrier_marks[name]
            acc_lines = self._accuracy_lines.get(name)
            touched = [lines, barrier] + ([acc_lines] if acc_lines is not None else [])
            with _hold_sync(*touched):
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
                        acc_lines.x, acc_lines.y = t, _for_display(acc, False)[0]
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

    @staticmethod
    def _margins(title: str) -> dict:
        return {"top": 36 if title else 14, "bottom": 44, "left": 58, "right": 56}

    @traitlets.observe("title")
    def _title_changed(self, change: dict) -> None:
        self.fig_margin = self._margins(change["new"])

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
        longest = max((len(m.labels[0]) for m in self._lines.values()), default=0)
        # About 0.6 em a character at 12px, plus the colour swatch and margins.
        width = f"{round(7.2 * longest + 34)}px"
        if self.legend_style.get("width") != width:
            self.legend_style = {**_LEGEND_STYLE, "width": width}

    def _label(self, name: str, b: float, n_bad: int, n_nonpos: int) -> str:
        notes = [f"barrier {format_barrier(b)}"] if self._show_barriers else []
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
            y=_for_display(acc, False)[0],
            scales={"x": self.x_scale, "y": self.y2_scale},
            colors=[self._colors[name]],
            line_style="dashed",
            stroke_width=1.5,
            display_legend=False,
        )

    def _add(self, name, t, shown, label, bx, by, acc) -> None:
        color = _next_color(self._colors.values())
        self._colors[name] = color
        scales = {"x": self.x_scale, "y": self.y_scale}
        self._lines[name] = bq.Lines(
            x=t,
            y=shown,
            scales=scales,
            colors=[color],
            labels=[label],
            display_legend=True,
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


# --------------------------------------------------------------------------
# LossCurve


class _Series:
    """A growing history of (step, loss), plus its running smoothed values."""

    def __init__(self) -> None:
        self.n = 0
        self.steps = np.empty(256)
        self.losses = np.empty(256)
        self.smoothed = np.empty(256)
        self.ema = 0.0  # biased exponential moving average of the finite losses
        self.count = 0  # finite losses seen by the average
        self.in_order = True  # steps never decrease, so no sorting for display

    def _grow(self, extra: int) -> None:
        need = self.n + extra
        if need <= self.steps.size:
            return
        cap = max(need, 2 * self.steps.size)
        for attr in ("steps", "losses", "smoothed"):
            old = getattr(self, attr)
            new = np.empty(cap)
            new[: self.n] = old[: self.n]
            setattr(self, attr, new)

    def extend(self, steps: np.ndarray, losses: np.ndarray, smooth: float | None) -> None:
        k = len(steps)
        if self.in_order and k:
            behind = self.n > 0 and steps[0] < self.steps[self.n - 1]
            self.in_order = not behind and not (k > 1 and np.any(np.diff(steps) < 0))
        self._grow(k)
        self.steps[self.n : self.n + k] = steps
        self.losses[self.n : self.n + k] = losses
        if smooth is not None:
            self._smooth(self.n, self.n + k, smooth)
        self.n += k

    def _smooth(self, start: int, stop: int, a: float) -> None:
        """Debiased EMA (as TensorBoard's): non-finite losses are skipped (NaN)."""
        ema, count, out = self.ema, self.count, self.smoothed
        for i, v in enumerate(self.losses[start:stop].tolist(), start):
            if math.isfinite(v):
                ema = a * ema + (1 - a) * v
                count += 1
                out[i] = ema / (1 - a**count)
            else:
                out[i] = math.nan
        self.ema, self.count = ema, count

    def resmooth(self, smooth: float | None) -> None:
        self.ema, self.count = 0.0, 0
        if smooth is not None:
            self._smooth(0, self.n, smooth)


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


class LossCurve(bq.Figure):
    """A live loss-vs-step plot that training code feeds from any thread.

    :meth:`append` and :meth:`extend` only store the values (under a lock)
    and send at most about 10 updates a second to the front-end; a timer
    sends the last ones, so the plot always ends up showing everything
    (:meth:`flush` sends at once). The full history stays in Python
    (:attr:`history`); the plot shows at most ``max_points`` points per
    series, picked to keep each bucket's minimum and maximum.

    Parameters
    ----------
    title : str
        Drawn above the plot.
    log_scale : bool
        Logarithmic y axis (trait of the same name); losses <= 0 are not drawn.
    max_points : int
        Most points drawn per series (at least 10); the history keeps all.
    smooth : float, optional
        Exponential moving-average weight in ``[0, 1)`` (0.9 is heavy
        smoothing): the smoothed curve is drawn over the raw one (faded).

    Notes
    -----
    Each series is drawn sorted by step; NaN and inf losses are gaps.

    Examples
    --------
    >>> curve = LossCurve(smooth=0.6)
    >>> for step in range(100):
    ...     curve.append(step, 1 / (step + 1))
    >>> curve.extend([100, 101], [0.01, 0.009], series="val")
    >>> curve.flush()
    >>> curve.history["loss"][1][:2]
    array([1. , 0.5])
    """

    #: Seconds between two updates sent to the front-end (about 10 Hz).
    min_interval = 0.1

    log_scale = traitlets.Bool(
        False, help="bool: logarithmic y axis (losses <= 0 not drawn); default False"
    )

    def __init__(
        self,
        title: str = "training loss",
        *,
        log_scale: bool = False,
        max_points: int = 2000,
        smooth: float | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(
                f"LossCurve() got unexpected keyword argument(s) {', '.join(sorted(kwargs))}; "
                "accepted: title, log_scale, max_points, smooth"
            )
        if not isinstance(title, str):
            raise TypeError(f"title must be a str, got {type(title).__name__}")
        if not isinstance(log_scale, bool):
            raise TypeError(f"log_scale must be a bool, got {log_scale!r}")
        if not isinstance(max_points, (int, np.integer)) or isinstance(max_points, bool):
            raise TypeError(f"max_points must be an int, got {max_points!r}")
        if max_points < 10:
            raise ValueError(f"max_points must be at least 10, got {max_points}")
        if smooth is not None:
            if isinstance(smooth, bool) or not isinstance(smooth, (int, float, np.floating)):
                raise TypeError(f"smooth must be None or a float in [0, 1), got {smooth!r}")
            if not 0 <= smooth < 1:
                raise ValueError(f"smooth must be in [0, 1), got {smooth}")
            smooth = float(smooth)

        self._lock = threading.RLock()
        self._series: dict[str, _Series] = {}
        self._dirty: set[str] = set()
        self._timer: threading.Timer | None = None
        self._last_sent = -math.inf
        self._max_points = int(max_points)
        self._smooth = smooth
        self._lines: dict[str, bq.Lines] = {}
        self._smooth_lines: dict[str, bq.Lines] = {}
        self._colors: dict[str, str] = {}
        self._wanted_colors: dict[str, str] = {}  # asked for by extend(color=...)

        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LogScale() if log_scale else bq.LinearScale()
        self.x_axis = bq.Axis(scale=self.x_scale, label="step", label_offset="32px")
        self.y_axis = bq.Axis(
            scale=self.y_scale,
            side="left",
            label="loss",
            label_offset="44px",
        )
        super().__init__(
            marks=[],
            axes=[self.x_axis, self.y_axis],
            title=title,
            fig_margin={"top": 36 if title else 14, "bottom": 44, "left": 58, "right": 16},
            legend_location="top-right",
            legend_style=dict(_LEGEND_STYLE),
            legend_text=dict(_LEGEND_TEXT),
            layout=ipywidgets.Layout(width="560px", height="280px"),
            padding_y=0.05,
            log_scale=log_scale,
        )

    # ---------------------------------------------------------------- read-only

    @property
    def max_points(self) -> int:
        """Most points drawn per series."""
        return self._max_points

    @property
    def smooth(self) -> float | None:
        """The moving-average weight, or None for no smoothing."""
        return self._smooth

    @property
    def series(self) -> list[str]:
        """Names of the series, in the order they were started."""
        with self._lock:
            return list(self._series)

    @property
    def history(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every point received, by series: ``{name: (steps, losses)}`` (copies,
        float64, in the order received)."""
        with self._lock:
            return {
                name: (s.steps[: s.n].copy(), s.losses[: s.n].copy())
                for name, s in self._series.items()
            }

    @property
    def lines(self) -> Mapping[str, bq.Lines]:
        """The raw Lines mark of each series (created on its first flush)."""
        return MappingProxyType(self._lines)

    @property
    def smooth_lines(self) -> Mapping[str, bq.Lines]:
        """The smoothed Lines mark of each series (with ``smooth``)."""
        return MappingProxyType(self._smooth_lines)

    # ---------------------------------------------------------------- feeding

    def append(self, step: float, loss: float, series: str = "loss") -> None:
        """Add one point (thread-safe; the plot follows within about 0.1 s).

        ``loss`` may be a number, a numpy scalar or a one-element tensor;
        NaN and inf are kept in the history and drawn as gaps.
        """
        s = _real(step, "step")
        if not math.isfinite(s):
            raise ValueError(f"step must be finite, got {s}")
        v = _real(loss, "loss")
        self._add(series, np.array([s]), np.array([v]))

    def extend(
        self, steps: Any, losses: Any, series: str = "loss", color: str | None = None
    ) -> None:
        """Add many points at once (1-D array-likes of the same length).

        ``color`` (CSS) fixes a new series' colour, e.g. to match its path on a map.
        """
        if color is not None:
            with self._lock:
                self._wanted_colors[series] = str(color)
        st = _numeric_1d(steps, "steps")
        lo = _numeric_1d(losses, "losses")
        if st.shape != lo.shape:
            raise ValueError(f"steps has {st.size} values but losses has {lo.size}")
        if not np.isfinite(st).all():
            raise ValueError("steps must be finite (found NaN or inf)")
        if st.size:
            self._add(series, st, lo)

    def clear(self, series: str | None = None) -> None:
        """Forget one series (``series=name``) or all of them, and their lines."""
        with self._lock:
            if series is not None and series not in self._series:
                raise KeyError(f"no series {series!r}; the curve has {sorted(self._series)}")
            names = list(self._series) if series is None else [series]
            gone = []
            for name in names:
                del self._series[name]
                self._dirty.discard(name)
                self._colors.pop(name, None)
                for table in (self._lines, self._smooth_lines):
                    if name in table:
                        gone.append(table.pop(name))
            if not self._dirty and self._timer is not None:
                self._timer.cancel()
                self._timer = None
            with self.hold_sync():
                self.marks = [m for m in self.marks if all(m is not g for g in gone)]
                self._update_legend()
            for mark in gone:
                mark.close()

    def flush(self) -> None:
        """Send everything not yet shown to the front-end now."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._push()

    def close(self) -> None:
        """Close the widget (and stop a pending update)."""
        lock = getattr(self, "_lock", None)  # absent when __init__ failed
        if lock is not None:
            with lock:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
        super().close()

    # ---------------------------------------------------------------- internals

    def _add(self, series: str, steps: np.ndarray, losses: np.ndarray) -> None:
        if not isinstance(series, str) or not series:
            raise TypeError(f"series must be a non-empty str, got {series!r}")
        with self._lock:
            s = self._series.get(series)
            if s is None:
                s = self._series[series] = _Series()
            s.extend(steps, losses, self._smooth)
            self._dirty.add(series)
            wait = self._last_sent + self.min_interval - time.monotonic()
            if wait <= 0:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                self._push()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._on_timer)
                self._timer.daemon = True
                self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            self._push()

    def _display(self, s: _Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        steps, losses = s.steps[: s.n], s.losses[: s.n]
        smoothed = s.smoothed[: s.n] if self._smooth is not None else None
        if not s.in_order:
            order = np.argsort(steps, kind="stable")
            steps, losses = steps[order], losses[order]
            smoothed = None if smoothed is None else smoothed[order]
        shown, _, _ = _for_display(losses, self.log_scale)
        if smoothed is not None:
            smoothed = _for_display(smoothed, self.log_scale)[0]
        if s.n > self._max_points:
            keep = downsample_minmax(steps, shown, self._max_points)
            steps, shown = steps[keep], shown[keep]
            smoothed = None if smoothed is None else smoothed[keep]
        return np.array(steps), shown, smoothed

    def _push(self) -> None:
        """Push the dirty series to their marks (called with the lock held)."""
        self._last_sent = time.monotonic()
        if not self._dirty:
            return
        new = []
        for name in [n for n in self._series if n in self._dirty]:
            steps, shown, smoothed = self._display(self._series[name])
            raw = self._lines.get(name)
            if raw is None:
                new.extend(self._create(name, steps, shown, smoothed))
                continue
            marks = [raw] + ([self._smooth_lines[name]] if name in self._smooth_lines else [])
            with _hold_sync(*marks):
                raw.x, raw.y = steps, shown
                if smoothed is not None:
                    self._smooth_lines[name].x = steps
                    self._smooth_lines[name].y = smoothed
        self._dirty.clear()
        if self.log_scale:
            self._log_ticks()
        if new:
            with self.hold_sync():
                self.marks = [*self.marks, *new]
                self._update_legend()

    def _log_ticks(self) -> None:
        """1-2-5 ticks over the data: a log axis left alone labels every 1..9 x 10^k,
        and the labels of a narrow range overlap."""
        values = np.concatenate([s.losses[: s.n] for s in self._series.values()] or [[]])
        values = values[np.isfinite(values) & (values > 0)]
        if not values.size:
            return
        self.y_axis.tick_values = log_tick_values(float(values.min()), float(values.max()))
        self.y_axis.tick_format = "~g"

    def _create(self, name, steps, shown, smoothed) -> list[bq.Lines]:
        color = self._wanted_colors.get(name) or _next_color(self._colors.values())
        self._colors[name] = color
        scales = {"x": self.x_scale, "y": self.y_scale}
        raw = bq.Lines(
            x=steps,
            y=shown,
            scales=scales,
            colors=[color],
            labels=[name],
            stroke_width=1.5,
            opacities=[0.35 if smoothed is not None else 1.0],
            display_legend=False,
        )
        self._lines[name] = raw
        if smoothed is None:
            return [raw]
        smooth = bq.Lines(
            x=steps,
            y=smoothed,
            scales=scales,
            colors=[color],
            labels=[name],
            stroke_width=2,
            display_legend=False,
        )
        self._smooth_lines[name] = smooth
        return [raw, smooth]

    def _update_legend(self) -> None:
        """Name the series in a legend once there are two or more."""
        several = len(self._lines) > 1
        for name, raw in self._lines.items():
            main = self._smooth_lines.get(name, raw)
            if main.display_legend != several:
                main.display_legend = several

    @traitlets.observe("log_scale")
    def _log_scale_changed(self, change: dict) -> None:
        if isinstance(self.y_scale, bq.LogScale) == change["new"]:
            return
        with self._lock:
            self.y_scale = bq.LogScale() if change["new"] else bq.LinearScale()
            with self.hold_sync():
                self.y_axis.scale = self.y_scale
                for mark in [*self._lines.values(), *self._smooth_lines.values()]:
                    mark.scales = {"x": self.x_scale, "y": self.y_scale}
            self._dirty.update(self._series)
            self._push()
