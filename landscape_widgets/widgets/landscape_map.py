"""The 2D loss map: a live colour map with contours, draggable points and paths.

Arrays (grid, hover metrics, overlays, predictions) cross the wire as binary,
serialised by their traits (:mod:`landscape_widgets.wire.codec`). Split along
its seams: here the synced traits with their docs, set-up, validation and the
reactions to changes; mixins ``map_points``, ``map_trajectories`` and
``map_export`` hold public API, ``thread_safe_sync`` the locking; the
background work (grid stream, answers to drags) is composed, ``map_jobs``.

Over 500 lines because ~170 are the documented synced traits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..core.planes import Plane
from ..core.results import Profile
from ..output.png import colormap_names, plot_box, spans_decades, surface_arrays
from ..wire.assets import STATIC
from ..wire.codec import Array, array_serialization, float32_array
from ..wire.points import CheckedList, check_paths, check_points
from .linked_scales import check_color_range, color_range_trait, natural_range
from .map_export import MapExport
from .map_jobs import MapJobs
from .map_points import MapPoints
from .map_store import MapStore
from .map_trajectories import MapTrajectories
from .predictions import Predictor
from .profile_plot import format_barrier
from .thread_safe_sync import ThreadSafeSync

__all__ = ["LandscapeWidget"]


def _pair_list(help: str, default=(0.0, 1.0)) -> traitlets.List:
    return traitlets.List(
        traitlets.Float(), default_value=list(default), minlen=2, maxlen=2, help=help
    )


def _no_metric(whose: str, name: str, allowed: Sequence[str]) -> str:
    return f"{whose} has no metric {name!r}: metric must be one of {', '.join(map(repr, allowed))}"


def _register(callbacks: list[Callable], callback: Callable, remove: bool) -> None:
    if remove:
        callbacks.remove(callback)
    else:
        callbacks.append(callback)


class LandscapeWidget(
    MapPoints, MapTrajectories, MapExport, MapStore, ThreadSafeSync, anywidget.AnyWidget
):
    """A loss surface in the notebook: live colour map, contours, probes and paths.

    Parameters
    ----------
    source : Landscape or Surface, optional
        A :class:`Landscape` (then ``plane`` is required and the map is
        computed live, coarse to fine, off the kernel's main thread), or a
        computed :class:`Surface` (a static picture; pan and zoom only move
        the view). Without one the widget shows "no data" until :meth:`show`.
    plane : Plane
        The plane to map (with a Landscape).
    resolution : int
        Grid points per axis (default 64). Pan and zoom keep it.
    bounds : (xmin, xmax, ymin, ymax) or "fit", optional
        The window. ``"fit"`` (and the default, None) starts at
        ``plane.default_bounds(margin)`` and grows the window (recomputing the
        grid) whenever a trajectory or a start's run would leave it, so every
        path is seen to its end; given bounds stay as given.
        :meth:`fit_bounds` fits the window to what is drawn at any time.
    margin : float, optional
        See :meth:`Plane.default_bounds`.
    metric : str
        ``"loss"`` (default) or another metric (``"accuracy"``) to colour by.
    probes : None, [] or {name: (x, y)}
        Draggable probe points. None (default) puts one probe, ``"probe"``,
        a little off the plane's first anchor; ``[]`` puts none.
    predictions : bool
        Show the network's predictions at the probe beside the map, for 2-D
        classification and 1-D regression data (default True).
    levels, strategy
        Passed to :meth:`Landscape.stream`.
    colormap, log_scale, color_range, xlabel, ylabel, contours, title, width, height
        Initial values of the traits of the same names; ``log_scale="auto"``
        (default) picks log or linear for each finished grid, see the trait.
        Without ``color_range`` a surface of a bounded quantity is coloured over
        its natural range (``provenance["value_range"]``, e.g. ``[0, 1]`` for
        :func:`hessian.eigen_ratio_grid`), see the trait.

    Unknown keyword arguments raise TypeError, so a typo is not silently lost.

    Attributes
    ----------
    surface : Surface or None
        The grid shown last.
    landscape, plane
        What a live map evaluates (None for a map of a fixed Surface).
    profiles, trajectories : dict
        ``{path name: Profile}`` and ``{overlay name: PlanePath}``.
    jobs, starts : MapJobs, Starts or None
        The background work: grids and drags; optimizer runs from starts.
    send_lock : threading.RLock
        Held through :meth:`hold_sync` blocks and while a changed trait is
        queued or sent (:class:`ThreadSafeSync`); hold it to read and change
        traits in one step.

    Long (~570 lines) because ~170 are the documented traits and this docstring.

    Examples
    --------
    >>> ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))  # doctest: +SKIP
    >>> w = LandscapeWidget(ls, Plane.random(net, seed=0), resolution=64)  # doctest: +SKIP
    >>> w.add_segment("slice", (-0.5, 0.0), (0.5, 0.2))  # doctest: +SKIP
    >>> w  # drag the probe, the slice's ends; wheel to zoom  # doctest: +SKIP
    """

    _esm = STATIC / "landscape.js"

    # ------------------------------------------------------------ the grid
    loss = Array(
        ndim=2,
        help="float32 array (ny, nx): the coloured grid, rows along y, sent as binary; "
        "default empty (0, 0)",
    ).tag(sync=True, **array_serialization)
    x_range = _pair_list("[first, last] x coordinate of the grid's columns; default [0, 1]").tag(
        sync=True
    )
    y_range = _pair_list("[first, last] y coordinate of the grid's rows; default [0, 1]").tag(
        sync=True
    )
    metric = traitlets.Unicode(
        "loss", help="str: name of the coloured quantity (read-out, colour bar); default 'loss'"
    ).tag(sync=True)
    hover = traitlets.Dict(
        help="{name: float32 array (ny, nx)}: other metrics on the same grid, for the read-out; "
        "default {}",
    ).tag(sync=True, **array_serialization)
    level = traitlets.Int(
        -1, help="int: level of the grid shown (0 = coarsest), -1 before any; default -1"
    ).tag(sync=True)
    done = traitlets.Bool(False, help="bool: the grid shown is complete; default False").tag(
        sync=True
    )

    # ------------------------------------------------------------ the view
    view = traitlets.List(
        traitlets.Float(),
        default_value=[],
        maxlen=4,
        help="[xmin, xmax, ymin, ymax]: the visible window, set by pan and zoom; [] follows "
        "the grid; default []",
    ).tag(sync=True)
    home = traitlets.List(
        traitlets.Float(),
        default_value=[],
        maxlen=4,
        help="[xmin, xmax, ymin, ymax]: the window the reset button returns to; default []",
    ).tag(sync=True)
    interactive = traitlets.Bool(
        False, help="bool: pan and zoom re-evaluate the window (a Landscape is attached)"
    ).tag(sync=True)

    # ------------------------------------------------------------ points and paths
    points = CheckedList(
        check_points,
        help="[{name, x, y, role, label}]: points in plane coordinates; roles 'anchor' "
        "(fixed), 'probe' and 'path' (draggable); default []",
    ).tag(sync=True)
    paths = CheckedList(
        check_paths,
        help="[{name, kind, points, color}]: paths through named points, kind 'segment', "
        "'polyline' or 'bezier'; default []",
    ).tag(sync=True)
    path_notes = traitlets.Dict(
        default_value={},
        help="{path name: str}: what the legend says after a path's name when no ProfilePlot "
        "shows its profile: its barrier and where the profile is; default {}",
    ).tag(sync=True)
    overlays = traitlets.List(
        default_value=[],
        help="[{name, xy, color, label, steps}]: fixed polylines (xy: float32 array (n, 2); "
        "steps, for trajectories: float32 array (n,), one optimisation step per point); "
        "see set_overlay(); default []",
    ).tag(sync=True, **array_serialization)
    player_step = traitlets.Int(
        -1,
        help="int: the step the trajectory player shows (paths drawn up to it); -1 shows "
        "whole paths; set it to show a step, the page's player moves freely; default -1",
    ).tag(sync=True)
    activity = traitlets.Unicode(
        "", help="str: background work besides the grid (optimizer runs); default ''"
    ).tag(sync=True)
    drag_seq = traitlets.Int(
        0, help="int: sequence number of the latest drag message from the page; default 0"
    ).tag(sync=True)
    probe_results = traitlets.Dict(
        default_value={},
        help="{probe name: {metric: value}}: loss and metrics at each probe; default {}",
    ).tag(sync=True)
    predictions = traitlets.Dict(
        default_value={},
        help="the predictions panel: {kind, extent, data, n_data, n_classes, probe, values} "
        "(data and values are float32 arrays); {} for none",
    ).tag(sync=True, **array_serialization)

    # ------------------------------------------------------------ look and status
    colormap = traitlets.Enum(
        colormap_names(), default_value="viridis", help="str: colour map name; default 'viridis'"
    ).tag(sync=True)
    log_scale = traitlets.Bool(
        False,
        help="bool: logarithmic colour scale; the constructor's log_scale='auto' (the default) "
        "sets it from each finished grid: log when the finite values are positive and span "
        "more than a factor of 10",
    ).tag(sync=True)
    color_range = color_range_trait(
        "the ends of the colour scale",
        "; a map not given one takes a shown surface's natural range, "
        "provenance['value_range'], until it is set",
    ).tag(sync=True)
    aspect = traitlets.Enum(
        ("equal", "free", "unequal"),
        default_value="free",
        help="str: 'equal' draws a plane unit as long on both axes, widening the window to "
        "the plot's shape (the default for a plane whose axes share units, when the window "
        "is the map's own choice: no bounds, or bounds='fit'); 'unequal' fills the plot and "
        "says the axes are not to scale (the default where they do not share units); "
        "'free' fills the plot (given bounds, or a surface that does not say); default 'free'",
    ).tag(sync=True)
    xlabel = traitlets.Unicode(
        "", help="str: the x axis' name; default the plane's axis_names[0] ('x' without one)"
    ).tag(sync=True)
    ylabel = traitlets.Unicode(
        "", help="str: the y axis' name; default the plane's axis_names[1] ('y' without one)"
    ).tag(sync=True)
    contours = traitlets.Int(
        10, min=0, max=50, help="int: number of contour lines (0 for none); default 10"
    ).tag(sync=True)
    title = traitlets.Unicode("", help="str: drawn above the map; default ''").tag(sync=True)
    width = traitlets.Int(560, min=200, help="int: map width in CSS pixels; default 560").tag(
        sync=True
    )
    height = traitlets.Int(440, min=150, help="int: map height in CSS pixels; default 440").tag(
        sync=True
    )
    status = traitlets.Unicode(
        "idle", help="str: 'idle', 'computing', 'done' or 'error: ...'; default 'idle'"
    ).tag(sync=True)
    progress = traitlets.Float(
        0.0, min=0.0, max=1.0, help="float: fraction of the grid evaluated; default 0"
    ).tag(sync=True)

    _KWARGS = {
        "colormap", "log_scale", "color_range", "aspect", "xlabel", "ylabel", "contours", "title",
        "width", "height", "layout",
    }  # fmt: skip

    def __init__(
        self,
        source: Any = None,
        plane: Any = None,
        *,
        resolution: int = 64,
        bounds: Sequence[float] | None = None,
        margin: float | None = None,
        metric: str = "loss",
        probes: Mapping[str, Sequence[float]] | Sequence | None = None,
        predictions: bool = True,
        levels: int | None = None,
        strategy: str = "auto",
        profile_plot: Any = None,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - self._KWARGS)
        if unknown:
            raise TypeError(
                f"LandscapeWidget() got unexpected keyword argument(s) {', '.join(unknown)}; "
                "accepted: source, plane, resolution, bounds, margin, metric, probes, "
                f"predictions, levels, strategy, profile_plot, {', '.join(sorted(self._KWARGS))}"
            )
        log_scale = kwargs.pop("log_scale", "auto")
        if log_scale != "auto" and not isinstance(log_scale, bool):
            raise TypeError(f"log_scale must be True, False or 'auto', not {log_scale!r}")
        self._log_auto = log_scale == "auto"
        # no range given: a surface's natural range (provenance "value_range") is the default
        self._range_auto = kwargs.get("color_range") is None
        kwargs = {k: v for k, v in kwargs.items() if not (k == "color_range" and v is None)}
        # axis names and aspect the caller chose: planes and surfaces do not override them
        self._chosen = {k for k in ("xlabel", "ylabel", "aspect") if k in kwargs}
        if log_scale is True:
            kwargs["log_scale"] = True
        super().__init__(**kwargs)
        self.surface = None
        self.landscape = None
        self.plane = None
        self.profile_plot = profile_plot
        self.profiles: dict[str, Profile] = {}
        self.trajectories: dict[str, Any] = {}
        self._run_keys: dict[str, str] = {}  # overlay name -> run label its colour follows
        self.jobs: MapJobs | None = None
        self.starts = None
        self._drag_callbacks: list[Callable] = []
        self._profile_callbacks: list[Callable] = []
        self._surface_callbacks: list[Callable] = []
        self._requested: list[float] = []  # the window of the grid asked for last
        self._page_moving = False
        self._fit = False  # bounds="fit": grow the window to what is drawn
        self.metric = metric

        self.on_msg(self._on_page_message)
        is_landscape = source is not None and hasattr(source, "evaluate_points")
        if is_landscape:
            # before any point exists: a probe's first job needs the predictor
            predictor = Predictor.detect(source) if predictions else None
            self._attach(source, plane, resolution, bounds, margin, levels, strategy, predictor)
            self._set_initial_points(probes)
            self.refresh()
            self._touch_all()
        elif plane is not None:
            raise TypeError("plane is given but source is not a Landscape")
        elif source is not None:
            self.show(source, metric=metric)
            if probes:
                self._set_initial_points(probes)

    # ------------------------------------------------------------ set-up
    def _attach(self, ls, plane, resolution, bounds, margin, levels, strategy, predictor) -> None:
        if not isinstance(plane, Plane):
            raise TypeError(f"plane must be a Plane, not {type(plane).__name__}")
        if plane.numel != ls.layout.numel:
            raise ValueError(f"the plane has {plane.numel} weights, the model {ls.layout.numel}")
        if not isinstance(resolution, int) or resolution < 2:
            raise ValueError(f"resolution must be an int >= 2, not {resolution!r}")
        if self.metric not in ls.metrics:
            raise ValueError(_no_metric("the landscape", self.metric, ls.metrics))
        explicit = bounds is not None and not isinstance(bounds, str)
        # without bounds the window is the map's to choose: it grows to fit what is drawn
        self._fit = bounds is None or (isinstance(bounds, str) and bounds == "fit")
        if isinstance(bounds, str) and bounds != "fit":
            raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax) or 'fit', not {bounds!r}")
        if self._fit or bounds is None:
            bounds = plane.default_bounds(margin)
        home = [float(v) for v in bounds]
        if len(home) != 4 or not (home[0] < home[1] and home[2] < home[3]):
            raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax) with min < max: {home}")
        self.landscape, self.plane = ls, plane
        if "aspect" not in self._chosen:
            # the window asked for is computed as asked (drawn to fill the plot); a
            # window of our own choosing is widened to the plot's shape
            self.aspect = "unequal" if not plane.same_units else "free" if explicit else "equal"
            self._chosen.add("aspect")
        if self.aspect == "equal":
            home = self.equal_window(home)
        self._requested = home  # the first grid is asked for by __init__
        self.resolution, self.levels, self.strategy = resolution, levels, strategy
        self.jobs = MapJobs(self, predictor, on_profile=self._profile_ready)
        with self.hold_sync():
            if predictor is not None:
                self.predictions = predictor.data_state()
            self._name_axes(plane.axis_names)
            self.home = home
            self.view = list(home)
            self.interactive = True
            self.points = [
                {"name": n, "x": x, "y": y, "role": "anchor"} for n, (x, y) in plane.anchors.items()
            ]

    def _set_initial_points(self, probes) -> None:
        if probes is None:
            x0, x1, y0, y1 = self.home or [*self.x_range, *self.y_range]
            first = next((p for p in self.points if p["role"] == "anchor"), None)
            cx, cy = (first["x"], first["y"]) if first else ((x0 + x1) / 2, (y0 + y1) / 2)
            probes = {"probe": (cx + 0.12 * (x1 - x0), cy + 0.12 * (y1 - y0))}
        if isinstance(probes, Mapping):
            items = list(probes.items())
        else:
            items = [
                (f"probe{k + 1}" if len(probes) > 1 else "probe", p) for k, p in enumerate(probes)
            ]
        for name, (x, y) in items:
            self.add_probe(name, x, y)

    # ------------------------------------------------------------ validation
    @traitlets.validate("metric")
    def _check_metric(self, proposal: dict) -> str:
        # a live map colours by the landscape's metrics, a shown surface by its own;
        # before either is there (in __init__) _attach or show checks it
        name, ls, surface = proposal["value"], self.landscape, self.surface
        if ls is not None and name not in ls.metrics:
            raise traitlets.TraitError(_no_metric("the landscape", name, ls.metrics))
        if ls is None and surface is not None:
            have = ("loss", *[m for m in getattr(surface, "metrics", None) or {} if m != "loss"])
            if name not in have:
                raise traitlets.TraitError(_no_metric("the surface shown", name, have))
        return name

    @traitlets.validate("view", "home")
    def _check_window(self, proposal: dict) -> list:
        v = [float(a) for a in proposal["value"]]
        if v and (len(v) != 4 or not (v[0] < v[1] and v[2] < v[3]) or not np.isfinite(v).all()):
            raise traitlets.TraitError(f"a window is [xmin, xmax, ymin, ymax] with min < max: {v}")
        return v

    # ------------------------------------------------------------ public API
    @property
    def grid(self) -> np.ndarray:
        """A copy of the grid currently in the widget state (float32, (ny, nx))."""
        return self.loss.copy()

    def show(self, surface: Any, *, metric: str | None = None) -> None:
        """Display a computed surface (or another metric of it).

        All traits change in one message, so the front-end redraws once.
        The surface's anchors become the map's fixed points; probes and paths stay.
        """
        metric = self.metric if metric is None else metric
        x, y, grid, anchors = surface_arrays(surface, metric)
        others = {"loss": surface.loss, **(getattr(surface, "metrics", {}) or {})}
        hover = {
            name: float32_array(values)
            for name, values in others.items()
            if name != metric and np.shape(values) == grid.shape
        }
        self.surface = surface  # first: the metric trait is checked against it
        with self.hold_sync():
            self.loss = grid
            self.hover = hover
            self.x_range = [float(x[0]), float(x[-1])]
            self.y_range = [float(y[0]), float(y[-1])]
            self.metric = metric
            self.level = int(getattr(surface, "level", 0))
            self.done = bool(getattr(surface, "done", True))
            if self.landscape is None:
                prov = getattr(surface, "provenance", None) or {}
                self._name_axes(prov.get("axis_names") or ("x", "y"), prov.get("same_units"))
            natural = natural_range(surface)
            if self._range_auto:
                self._setting_auto_range = True
                try:
                    self.color_range = [] if natural is None else list(natural)
                finally:
                    self._setting_auto_range = False
            if self._log_auto and self.done:
                # a bounded quantity is judged by its natural range: [0, 1] stays linear
                spread = grid if natural is None or self.color_range != list(natural) else natural
                self._setting_auto_log = True
                try:
                    self.log_scale = spans_decades(np.asarray(spread))
                finally:
                    self._setting_auto_log = False
            if self.landscape is None:
                kept = [p for p in self.points if p["role"] != "anchor"]
                self.points = [
                    {"name": n, "x": ax, "y": ay, "role": "anchor"}
                    for n, (ax, ay) in anchors.items()
                ] + kept
                if not self.home:
                    self.home = [float(x[0]), float(x[-1]), float(y[0]), float(y[-1])]
        for callback in list(self._surface_callbacks):
            callback(surface)

    def on_drag(self, callback: Callable[[dict], Any], remove: bool = False) -> None:
        """Call ``callback(point)`` whenever a point moves (drag or Python), on the main thread."""
        _register(self._drag_callbacks, callback, remove)

    def on_profile(self, callback: Callable[[str, Any], Any], remove: bool = False) -> None:
        """Call ``callback(path_name, profile)`` whenever a path's profile is recomputed.

        It runs on the widget's background thread.
        """
        _register(self._profile_callbacks, callback, remove)

    def on_surface(self, callback: Callable[[Any], Any], remove: bool = False) -> None:
        """Call ``callback(surface)`` with every grid shown (each streamed level too).

        It runs on the thread that computed the grid.
        """
        _register(self._surface_callbacks, callback, remove)

    def refresh(self, bounds: Sequence[float] | None = None) -> None:
        """Re-evaluate the grid over ``bounds`` (default: the current view) in the background."""
        if self.landscape is None:
            raise ValueError("refresh() needs a Landscape; this widget shows a fixed surface")
        window = [float(v) for v in (bounds if bounds is not None else (self.view or self.home))]
        self._requested = window
        self.jobs.stream(window)

    def wait(self, timeout: float | None = 60.0) -> LandscapeWidget:
        """Block until the background work (grid, probes, profiles, starts) is finished.

        Useful in scripts and headless runs, e.g. before :meth:`save_png`.
        Raises TimeoutError when ``timeout`` runs out and RuntimeError when
        the work failed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for work in (self.jobs, self.starts):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if work is not None and not work.idle(left):
                raise TimeoutError(f"the widget was still computing after {timeout} s")
        if self.status.startswith("error"):
            raise RuntimeError(f"the widget's background work failed:\n{self.jobs.error_text}")
        if self.starts is not None and self.starts.error:
            raise RuntimeError(f"an optimizer run from a start failed:\n{self.starts.error}")
        return self

    def close(self) -> None:
        """Stop the background threads, wait for them to end, and close the widget.

        The threads are joined (each for a bounded time): one still inside
        torch when a script ends would abort the interpreter. Calling it
        again is harmless.
        """
        # getattr: close() also runs when __init__ failed before these were set
        works = [getattr(self, "jobs", None), getattr(self, "starts", None), self.watcher]
        works = [work for work in works if work is not None]
        for work in works:  # all told to stop before any is waited for
            work.close(timeout=0)
        for work in works:
            work.close()
        super().close()

    def equal_window(self, window: Sequence[float]) -> list[float]:
        """``window`` widened about its centre to the plot's shape, so that a plane unit
        is as many pixels along x as along y (what ``aspect="equal"`` shows)."""
        x0, y0, x1, y1 = plot_box(self.width, self.height)
        a, b, c, d = (float(v) for v in window)
        per = max((b - a) / (x1 - x0), (d - c) / (y1 - y0))
        cx, cy, hw, hh = (a + b) / 2, (c + d) / 2, per * (x1 - x0) / 2, per * (y1 - y0) / 2
        return [cx - hw, cx + hw, cy - hh, cy + hh]

    def _name_axes(self, names: Sequence[str], same_units: bool | None = None) -> None:
        """Name the axes after the plane, and set the aspect from whether its two axes
        share units (None: not known), unless the caller chose them."""
        for trait, name in zip(("xlabel", "ylabel"), names, strict=True):
            if trait not in self._chosen:
                setattr(self, trait, str(name))
        if "aspect" not in self._chosen:
            self.aspect = {True: "equal", False: "unequal", None: "free"}[same_units]

    # ------------------------------------------------------------ reactions
    @traitlets.observe("log_scale")
    def _log_scale_set(self, change: dict) -> None:
        # a choice from the page's check box or from Python ends the automatic one
        if not getattr(self, "_setting_auto_log", False):
            self._log_auto = False

    @traitlets.validate("color_range")
    def _check_color_range(self, proposal: dict) -> list:
        return check_color_range(proposal["value"])

    @traitlets.observe("color_range")
    def _color_range_set(self, change: dict) -> None:
        # a range from Python, the page or a link ends the surface's natural one
        if not getattr(self, "_setting_auto_range", False):
            self._range_auto = False

    @traitlets.observe("view")
    def _view_changed(self, change: dict) -> None:
        new = change["new"]
        if self.landscape is None or not new or new == self._requested:
            return
        self.refresh(new)

    @traitlets.observe("points")
    def _points_changed(self, change: dict) -> None:
        before = {p["name"]: (p["x"], p["y"]) for p in change["old"] or []}
        moved = [p for p in change["new"] if before.get(p["name"]) != (p["x"], p["y"])]
        if not moved:
            return
        for callback in list(self._drag_callbacks):
            for p in moved:
                callback(dict(p))
        if self.landscape is None:
            return
        names = {p["name"] for p in moved}
        self.jobs.evaluate(
            probes={p["name"] for p in moved if p["role"] == "probe"},
            paths={q["name"] for q in self.paths if names & set(q["points"])},
            moved=True,
        )
        # starts run their optimizers where they are dropped, not on every move;
        # the page says "drop" itself (its final sync may carry no change).
        # ipywidgets keeps the names of the traits the page is setting in _property_lock.
        from_page = "points" in getattr(self, "_property_lock", {})
        if self.starts is not None and not self._page_moving and not from_page:
            self.starts.submit(names)

    @traitlets.observe("paths")
    def _paths_changed(self, change: dict) -> None:
        old = {p["name"]: p for p in (change["old"] or [])}
        fresh = {p["name"] for p in change["new"] if old.get(p["name"]) != p}
        gone = set(old) - {p["name"] for p in change["new"]}
        for name in gone:
            self.profiles.pop(name, None)
        if gone & set(self.path_notes):
            self.path_notes = {k: v for k, v in self.path_notes.items() if k not in gone}
        if fresh and self.landscape is not None:
            self.jobs.evaluate(paths=fresh)

    def _on_page_message(self, _widget, content: dict, _buffers) -> None:
        """A point moving under the mouse, ``{event: "move", seq, name, x, y}``, or let go
        of, ``{event: "drop", name}``."""
        if not isinstance(content, dict):
            return
        if content.get("event") == "drop":
            # starts run their optimizers where they are dropped
            if self.starts is not None:
                self.starts.submit({content.get("name")})
            return
        if content.get("event") != "move":
            return
        name, x, y = content.get("name"), content.get("x"), content.get("y")
        if not any(p["name"] == name for p in self.points):
            return
        self._page_moving = True
        try:
            with self.hold_sync():
                self.drag_seq = int(content.get("seq", self.drag_seq))
                self.move_point(name, x, y)
        finally:
            self._page_moving = False

    def _touch_all(self) -> None:
        """Queue every probe and path for evaluation (after the set-up)."""
        self.jobs.evaluate(
            probes={p["name"] for p in self.points if p["role"] == "probe"},
            paths={p["name"] for p in self.paths},
        )

    def _profile_ready(self, name: str, profile: Profile) -> None:
        # on the points thread, as the profile is computed
        self.profiles[name] = profile
        if self.profile_plot is not None:
            # the path's colour on the map, so a run has one colour everywhere
            color = next((p["color"] for p in self.paths if p["name"] == name), None)
            self.profile_plot.set_profile(name, profile, color=color)
        else:
            # no profile on screen: the legend says what it holds and where it is
            b = profile.barrier()
            what = f"barrier {format_barrier(b)}" if b != 0 else "no barrier"
            with self.send_lock:
                self.path_notes = {**self.path_notes, name: f"{what}; profile in .profiles"}
        for callback in list(self._profile_callbacks):
            callback(name, profile)
