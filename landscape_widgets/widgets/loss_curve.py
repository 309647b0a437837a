"""A live loss-vs-step plot that training code feeds from any thread
(:class:`LossCurve`), drawn with bqplot.

A subclass of :class:`bqplot.Figure`, so it displays directly and fits in an
ipywidgets ``HBox``/``VBox``; its scales, axes and marks are attributes.
NaN and inf losses are drawn as gaps (:func:`.bq_marks.for_display`).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import bqplot as bq
import numpy as np
import traitlets

from .bq_legend import LegendEntry, MarginLegend
from .bq_marks import for_display, hold_sync, numeric_1d, read_only_view, real_number
from .bq_style import bottom_axis, figure_options, pick_run_color, set_log_ticks, side_axis


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
    Each series is drawn sorted by step; NaN and inf losses are gaps. A
    series takes the colour of the run it is named after
    (:func:`~landscape_widgets.widgets.bq_style.run_color`): a series
    ``"adam"`` has the colour of the map's trajectory labelled ``"adam"``.

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
        self._dashed: set[str] = set()  # asked for by extend(dashed=True)

        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LogScale() if log_scale else bq.LinearScale()
        self.x_axis = bottom_axis(self.x_scale, "step")
        self.y_axis = side_axis(self.y_scale, "loss")
        super().__init__(
            marks=[],
            axes=[self.x_axis, self.y_axis],
            **figure_options(title, left=58, right=16, width=560, height=280),
            padding_y=0.05,
            log_scale=log_scale,
        )
        self.legend = MarginLegend(self)
        self.marks = self.legend.marks

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

    lines = read_only_view(
        "_lines", "The raw Lines mark of each series (created on its first flush)."
    )
    smooth_lines = read_only_view(
        "_smooth_lines", "The smoothed Lines mark of each series (with ``smooth``)."
    )

    # ---------------------------------------------------------------- feeding

    def append(self, step: float, loss: float, series: str = "loss") -> None:
        """Add one point (thread-safe; the plot follows within about 0.1 s).

        ``loss`` may be a number, a numpy scalar or a one-element tensor;
        NaN and inf are kept in the history and drawn as gaps.
        """
        s = real_number(step, "step")
        if not math.isfinite(s):
            raise ValueError(f"step must be finite, got {s}")
        v = real_number(loss, "loss")
        self._add(series, np.array([s]), np.array([v]))

    def color_of(self, series: str) -> str:
        """The colour series ``series`` is drawn in (KeyError before its first point)."""
        with self._lock:
            if series not in self._colors:
                raise KeyError(f"no series {series!r} drawn; the curve has {sorted(self._colors)}")
            return self._colors[series]

    def extend(
        self,
        steps: Any,
        losses: Any,
        series: str = "loss",
        color: str | None = None,
        dashed: bool = False,
    ) -> None:
        """Add many points at once (1-D array-likes of the same length), drawn now.

        ``color`` (CSS) fixes a new series' colour, e.g. ``map.color_of(run)``;
        by default a series has the colour of the run it is named after.
        ``dashed`` draws a new series dashed (legend too): one run's colour for
        two conditions, say normalised and stretched inputs.
        Unlike :meth:`append`, ``extend`` is not throttled: nothing is left to a
        timer, so a curve filled in a cell and then displayed receives no update
        while the page is still building its axes (bqplot's axes fail on a
        domain change that arrives in the middle of their rendering).
        """
        with self._lock:
            if color is not None:
                self._wanted_colors[series] = str(color)
            if dashed:
                self._dashed.add(series)
        st = numeric_1d(steps, "steps")
        lo = numeric_1d(losses, "losses")
        if st.shape != lo.shape:
            raise ValueError(f"steps has {st.size} values but losses has {lo.size}")
        if not np.isfinite(st).all():
            raise ValueError("steps must be finite (found NaN or inf)")
        if st.size:
            self._add(series, st, lo, now=True)

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
                self._dashed.discard(name)
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

    def _add(self, series: str, steps: np.ndarray, losses: np.ndarray, now: bool = False) -> None:
        if not isinstance(series, str) or not series:
            raise TypeError(f"series must be a non-empty str, got {series!r}")
        with self._lock:
            s = self._series.get(series)
            if s is None:
                s = self._series[series] = _Series()
            s.extend(steps, losses, self._smooth)
            self._dirty.add(series)
            wait = self._last_sent + self.min_interval - time.monotonic()
            if now or wait <= 0:
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
        shown, _, _ = for_display(losses, self.log_scale)
        if smoothed is not None:
            smoothed = for_display(smoothed, self.log_scale)[0]
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
            with hold_sync(*marks):
                raw.x, raw.y = steps, shown
                if smoothed is not None:
                    self._smooth_lines[name].x = steps
                    self._smooth_lines[name].y = smoothed
        self._dirty.clear()
        self._log_ticks()
        if new:
            with self.hold_sync():
                self.marks = [*self.marks, *new]
                self._update_legend()

    def _log_ticks(self) -> None:
        values = np.concatenate([s.losses[: s.n] for s in self._series.values()] or [[]])
        set_log_ticks(self.y_axis, values, self.log_scale)

    def _create(self, name, steps, shown, smoothed) -> list[bq.Lines]:
        color = self._wanted_colors.get(name) or pick_run_color(name, self._colors.values())
        self._colors[name] = color
        # the raw and the smoothed line of a series: same steps, scales, colour and name
        scales = {"x": self.x_scale, "y": self.y_scale}
        style = "dashed" if name in self._dashed else "solid"
        common = {
            "x": steps, "scales": scales, "colors": [color], "labels": [name], "line_style": style,
        }  # fmt: skip
        raw = bq.Lines(
            y=shown,
            stroke_width=1.5,
            opacities=[0.35 if smoothed is not None else 1.0],
            display_legend=False,
            **common,
        )
        self._lines[name] = raw
        if smoothed is None:
            return [raw]
        smooth = bq.Lines(y=smoothed, stroke_width=2, display_legend=False, **common)
        self._smooth_lines[name] = smooth
        return [raw, smooth]

    def _update_legend(self) -> None:
        """Name the series in a legend under the plot once there are two or more."""
        several = len(self._lines) > 1
        entries = [LegendEntry(n, self._colors[n], n in self._dashed) for n in self._lines]
        self.legend.show(entries if several else [])

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
