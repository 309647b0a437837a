"""The 2D loss map: a live colour map with contours, draggable points and paths.

State crosses the wire as binary: grids travel as little-endian float32
bytes plus their shape, decoded in one place on the JS side
(``js/src/codec.js``). NaN and inf survive the trip and are drawn as masked
cells with a legend entry.

Heavy work runs on two background threads (see ``_live.py``): one streams
grids coarse to fine (a pan or zoom cancels the stale grid), one answers
probe and path-point drags (the latest drag wins). The kernel's main thread
only records what changed, so the notebook stays usable meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..output.png import colormap_names, surface_arrays
from ..wire.assets import STATIC
from ..wire.codec import decode_grid, encode_array, encode_grid
from ..wire.jobs import LatestJob
from ..wire.points import check_paths, check_points, path_coords

__all__ = ["LandscapeWidget", "decode_grid", "encode_grid"]


def _pair_list(help: str, default=(0.0, 1.0)) -> traitlets.List:
    return traitlets.List(
        traitlets.Float(), default_value=list(default), minlen=2, maxlen=2, help=help
    )


class LandscapeWidget(anywidget.AnyWidget):
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
    bounds : (xmin, xmax, ymin, ymax), optional
        The first window; default ``plane.default_bounds(margin)``.
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
    colormap, log_scale, contours, title, width, height
        Initial values of the traits of the same names.

    Unknown keyword arguments raise TypeError, so a typo is not silently lost.

    Examples
    --------
    >>> ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))  # doctest: +SKIP
    >>> w = LandscapeWidget(ls, Plane.random(net, seed=0), resolution=64)  # doctest: +SKIP
    >>> w.add_segment("slice", (-0.5, 0.0), (0.5, 0.2))  # doctest: +SKIP
    >>> w  # drag the probe, the slice's ends; wheel to zoom  # doctest: +SKIP
    """

    _esm = STATIC / "landscape.js"

    # ------------------------------------------------------------ the grid
    loss = traitlets.Bytes(
        b"", help="bytes: the coloured grid as little-endian float32, C order; default b''"
    ).tag(sync=True)
    shape = traitlets.List(
        traitlets.Int(min=0),
        default_value=[0, 0],
        minlen=2,
        maxlen=2,
        help="[ny, nx]: rows (y) and columns (x) of the grid; default [0, 0]",
    ).tag(sync=True)
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
        default_value={},
        help="{name: float32 bytes}: other metrics on the same grid, for the read-out; default {}",
    ).tag(sync=True)
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
    points = traitlets.List(
        default_value=[],
        help="[{name, x, y, role, label}]: points in plane coordinates; roles 'anchor' "
        "(fixed), 'probe' and 'path' (draggable); default []",
    ).tag(sync=True)
    paths = traitlets.List(
        default_value=[],
        help="[{name, kind, points, color}]: paths through named points, kind 'segment', "
        "'polyline' or 'bezier'; default []",
    ).tag(sync=True)
    overlays = traitlets.List(
        default_value=[],
        help="[{name, xy, color, label, steps}]: fixed polylines (xy: float32 bytes x0, y0, "
        "x1, y1, ...; steps, for trajectories: float32 bytes, one optimisation step per "
        "point); see set_overlay(); default []",
    ).tag(sync=True)
    player_step = traitlets.Int(
        -1,
        help="int: the step the trajectory player shows (paths drawn up to it); -1 shows "
        "whole paths; set it to show a step, the page's player moves freely; default -1",
    ).tag(sync=True)
    activity = traitlets.Unicode(
        "", help="str: background work besides the grid (optimizer runs); default ''"
    ).tag(sync=True)
    probe_results = traitlets.Dict(
        default_value={},
        help="{probe name: {metric: value}}: loss and metrics at each probe; default {}",
    ).tag(sync=True)
    predictions = traitlets.Dict(
        default_value={},
        help="the predictions panel: {kind, extent, data, probe, values, shape}; {} for none",
    ).tag(sync=True)
    drag_seq = traitlets.Int(
        0, help="int: sequence number of the latest drag message from the page; default 0"
    ).tag(sync=True)
    answered = traitlets.Dict(
        default_value={},
        help="{seq, kind}: the latest drag whose results (probe, profile) were sent",
    ).tag(sync=True)

    # ------------------------------------------------------------ look and status
    colormap = traitlets.Enum(
        colormap_names(), default_value="viridis", help="str: colour map name; default 'viridis'"
    ).tag(sync=True)
    log_scale = traitlets.Bool(False, help="bool: logarithmic colour scale; default False").tag(
        sync=True
    )
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

    _KWARGS = {"colormap", "log_scale", "contours", "title", "width", "height", "layout"}

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
        super().__init__(**kwargs)
        self.surface = None
        self.landscape = None
        self.plane = None
        self.profile_plot = profile_plot
        self.profiles: dict[str, Any] = {}
        self._predictor = None
        self._drag_callbacks: list[Callable] = []
        self._profile_callbacks: list[Callable] = []
        self._surface_callbacks: list[Callable] = []
        self._send_lock = threading.RLock()
        self._dirty_lock = threading.Lock()
        self._dirty_probes: set[str] = set()
        self._dirty_paths: set[str] = set()
        self._grid_jobs: LatestJob | None = None
        self._point_jobs: LatestJob | None = None
        self._error_text = ""
        self._page_moving = False
        self.trajectories: dict[str, Any] = {}
        self._starts = None
        self.metric = metric

        self.on_msg(self._on_page_message)
        is_landscape = source is not None and hasattr(source, "evaluate_points")
        if is_landscape:
            if predictions:
                from .predictions import Predictor

                # before any point exists: a probe's first job needs the predictor
                self._predictor = Predictor.detect(source)
                if self._predictor is not None:
                    self._panel_data = self._predictor.data_state()
                    self.predictions = self._panel_data
            self._attach(source, plane, resolution, bounds, margin, levels, strategy)
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
    def _attach(self, ls, plane, resolution, bounds, margin, levels, strategy) -> None:
        from ..core.planes import Plane

        if not isinstance(plane, Plane):
            raise TypeError(f"plane must be a Plane, not {type(plane).__name__}")
        if plane.numel != ls.layout.numel:
            raise ValueError(f"the plane has {plane.numel} weights, the model {ls.layout.numel}")
        if not isinstance(resolution, int) or resolution < 2:
            raise ValueError(f"resolution must be an int >= 2, not {resolution!r}")
        if self.metric not in ls.metrics:
            raise ValueError(f"the landscape has no metric {self.metric!r} (have {ls.metrics})")
        home = [float(v) for v in (bounds if bounds is not None else plane.default_bounds(margin))]
        if len(home) != 4 or not (home[0] < home[1] and home[2] < home[3]):
            raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax) with min < max: {home}")
        self.landscape, self.plane = ls, plane
        self._requested = home  # the first grid is asked for by __init__
        self.resolution, self.levels, self.strategy = resolution, levels, strategy
        self._grid_jobs = LatestJob("landscape-grid", self._job_failed)
        self._point_jobs = LatestJob("landscape-points", self._job_failed)
        with self.hold_sync():
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
    @traitlets.validate("points")
    def _check_points(self, proposal: dict) -> list:
        try:
            return check_points(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.validate("paths")
    def _check_paths(self, proposal: dict) -> list:
        try:
            return check_paths(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.validate("loss")
    def _check_loss(self, proposal: dict) -> bytes:
        value = proposal["value"]
        if len(value) % 4:
            raise traitlets.TraitError(f"loss must be float32 bytes, got {len(value)} bytes")
        return value

    @traitlets.validate("view", "home")
    def _check_window(self, proposal: dict) -> list:
        v = [float(a) for a in proposal["value"]]
        if v and (len(v) != 4 or not (v[0] < v[1] and v[2] < v[3]) or not np.isfinite(v).all()):
            raise traitlets.TraitError(f"a window is [xmin, xmax, ymin, ymax] with min < max: {v}")
        return v

    # ------------------------------------------------------------ public API
    @property
    def anchors(self) -> dict[str, list[float]]:
        """The fixed points (role 'anchor') as ``{name: [x, y]}``."""
        return {p["name"]: [p["x"], p["y"]] for p in self.points if p["role"] == "anchor"}

    @property
    def grid(self) -> np.ndarray:
        """The grid currently in the widget state, decoded (float32, (ny, nx))."""
        return decode_grid(self.loss, self.shape)

    def show(self, surface: Any, *, metric: str | None = None) -> None:
        """Display a computed surface (or another metric of it).

        All traits change in one message, so the front-end redraws once.
        The surface's anchors become the map's fixed points; probes and paths stay.
        """
        metric = self.metric if metric is None else metric
        x, y, grid, anchors = surface_arrays(surface, metric)
        hover = {
            name: encode_grid(np.asarray(values))
            for name, values in {
                "loss": surface.loss,
                **(getattr(surface, "metrics", {}) or {}),
            }.items()
            if name != metric and np.shape(values) == grid.shape
        }
        with self._send_lock, self.hold_sync():
            self.shape = [int(grid.shape[0]), int(grid.shape[1])]
            self.loss = encode_grid(grid)
            self.hover = hover
            self.x_range = [float(x[0]), float(x[-1])]
            self.y_range = [float(y[0]), float(y[-1])]
            self.metric = metric
            self.level = int(getattr(surface, "level", 0))
            self.done = bool(getattr(surface, "done", True))
            if self.landscape is None:
                kept = [p for p in self.points if p["role"] != "anchor"]
                self.points = [
                    {"name": n, "x": ax, "y": ay, "role": "anchor"}
                    for n, (ax, ay) in anchors.items()
                ] + kept
                if not self.home:
                    self.home = [float(x[0]), float(x[-1]), float(y[0]), float(y[-1])]
        self.surface = surface
        for callback in list(self._surface_callbacks):
            callback(surface)

    def add_probe(self, name: str = "probe", x: float = 0.0, y: float = 0.0, label=None) -> None:
        """Add a draggable probe; its loss, metrics and predictions follow it."""
        self._add_points([{"name": name, "x": x, "y": y, "role": "probe", "label": label or name}])

    def add_segment(self, name: str, start, end, color: str | None = None) -> None:
        """A 1-D slice from ``start`` to ``end`` (plane coordinates) with draggable ends.

        Its loss profile (t from 0 at ``start`` to 1 at ``end``) is kept in
        ``profiles[name]`` and sent to ``profile_plot`` on every move.
        """
        self._add_path(name, "segment", [start, end], color, ("start", "end"))

    def add_bezier(self, name: str, start, control, end, color: str | None = None) -> None:
        """A Bezier curve in the plane; ``control`` is one (x, y) or a list of them."""
        control = [control] if np.ndim(control) == 1 else list(control)
        labels = ("start", *[f"bend{k + 1}" for k in range(len(control))], "end")
        self._add_path(name, "bezier", [start, *control, end], color, labels)

    def add_polyline(self, name: str, corners, color: str | None = None) -> None:
        """A polygonal chain through ``corners`` (its bends are draggable)."""
        labels = ("start", *[f"bend{k}" for k in range(1, len(corners) - 1)], "end")
        self._add_path(name, "polyline", list(corners), color, labels)

    def remove_path(self, name: str) -> None:
        """Remove a path and its points."""
        path = next((p for p in self.paths if p["name"] == name), None)
        if path is None:
            raise KeyError(f"no path {name!r}; paths: {[p['name'] for p in self.paths]}")
        with self.hold_sync():
            self.paths = [p for p in self.paths if p["name"] != name]
            self.points = [p for p in self.points if p["name"] not in path["points"]]
        self.profiles.pop(name, None)

    def set_overlay(
        self,
        name: str,
        xy,
        color: str = "#222222",
        label: str | None = None,
        steps=None,
    ) -> None:
        """Draw a fixed polyline (trajectory, trained curve) given as (n, 2) plane coordinates.

        With ``steps`` (one non-decreasing number per point) the page's player
        can replay it: at step s the line is drawn up to its last point with
        step <= s, with a marker at its head.
        """
        from .map_trajectories import encode_steps

        arr = np.asarray(xy, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 1:
            raise ValueError(f"xy must have shape (n, 2), not {arr.shape}")
        entry = {"name": name, "xy": encode_array(arr), "color": color, "label": label or name}
        if steps is not None:
            entry["steps"] = encode_array(encode_steps(steps, len(arr)))
        with self._send_lock:
            # a replaced overlay keeps its place (and its place in the legend)
            names = [o["name"] for o in self.overlays]
            if name in names:
                self.overlays = [entry if o["name"] == name else o for o in self.overlays]
            else:
                self.overlays = [*self.overlays, entry]

    def add_trajectory(
        self,
        trajectory: Any,
        name: str | None = None,
        color: str | None = None,
        label: str | None = None,
    ):
        """Project a :class:`Trajectory` onto the map's plane and draw it for the player.

        Returns the :class:`PlanePath` (plane coordinates and each point's
        distance to the plane), also kept in ``trajectories[name]``. A path
        that leaves the plane says so in the legend, with its largest
        distance: its shadow can cross terrain the run never touched.
        """
        from ..core.trajectory import Trajectory

        if not isinstance(trajectory, Trajectory):
            raise TypeError(f"expected a Trajectory, not {type(trajectory).__name__}")
        if self.plane is None:
            raise ValueError("the map has no plane to project onto (it was made from a Surface)")
        if name is None:
            # two runs with one label (two "sgd" runs) must not replace each other
            base = trajectory.label or "trajectory"
            name, k = base, 1
            while name in self.trajectories:
                k += 1
                name = f"{base} {k}"
        path = trajectory.project(self.plane)
        with self._send_lock:
            return self._draw_trajectory(name, trajectory, path, color, label)

    def _draw_trajectory(self, name, trajectory, path, color=None, label=None):
        """Draw a projected path; one that diverged is cut at its first NaN/inf point."""
        from ..core.trajectory import PlanePath
        from .map_trajectories import overlay_label, trajectory_color

        text = label or trajectory.label or name
        bad = ~np.isfinite(path.xy).all(axis=1) | ~np.isfinite(path.distance)
        if bad.any():
            k = int(np.argmax(bad))
            text = f"{text} (diverged by step {int(path.steps[k])})"
            keep = slice(0, max(k, 1))
            path = PlanePath(
                path.xy[keep], path.distance[keep], path.relative[keep], path.steps[keep]
            )
            if not np.isfinite(path.xy).all():
                raise ValueError(f"trajectory {name!r} is not finite even at its start")
        if color is None:
            known = [o["name"] for o in self.overlays if "steps" in o]
            color = trajectory_color(known.index(name) if name in known else len(known))
        self.trajectories[name] = path
        text = overlay_label(text, path, float(self.plane.origin.norm()))
        self.set_overlay(name, path.xy, color=color, label=text, steps=path.steps)
        return path

    def add_start(
        self,
        name: str,
        x: float,
        y: float,
        runs=("sgd", "momentum", "rmsprop", "adam"),
        *,
        mode: str = "plane",
        steps: int = 100,
        batch_size: int | None = None,
        every: int = 1,
        seed: int = 0,
        model: Any = None,
        data: Any = None,
        colors: Sequence[str] | None = None,
    ) -> None:
        """A draggable start: the optimizers in ``runs`` run from it wherever it is dropped.

        ``runs`` names optimizers ("sgd", "momentum", "rmsprop", "adam") or maps
        a label to :func:`record_trajectory` arguments, e.g.
        ``{"sgd": {"lr": 0.1}, "adam b=32": {"optimizer": "adam", "batch_size": 32}}``.
        ``mode="plane"`` trains only the two plane coordinates: exact two-weight
        dynamics on a ``Plane.weights`` map, the in-plane gradient flow on any
        other plane. ``mode="full"`` trains every weight from the dropped point
        and draws the path's projection, with its distance to the plane in the
        legend. Runs use the landscape's model, data (all of it) and loss
        unless ``model``/``data`` are given; the trajectories are in
        ``runs_from(name)``.
        """
        from .map_trajectories import Starts, start_spec

        spec = start_spec(self, runs, mode, steps, batch_size, every, seed, model, data, colors)
        if self._starts is None:
            self._starts = Starts(self)
        self.add_probe(name, x, y)
        self._starts.add(name, spec)

    def runs_from(self, start: str) -> dict:
        """The trajectories last run from a start, ``{label: Trajectory}``."""
        if self._starts is None or start not in self._starts.specs:
            raise KeyError(f"no start named {start!r}")
        return dict(self._starts.runs.get(start, {}))

    def remove_overlay(self, name: str) -> None:
        with self._send_lock:
            self.overlays = [o for o in self.overlays if o["name"] != name]
            self.trajectories.pop(name, None)

    def point(self, name: str) -> tuple[float, float]:
        """The current (x, y) of a named point."""
        for p in self.points:
            if p["name"] == name:
                return p["x"], p["y"]
        raise KeyError(f"no point {name!r}; points: {[p['name'] for p in self.points]}")

    def move_point(self, name: str, x: float, y: float) -> None:
        """Move a point from Python (the page follows, results are recomputed)."""
        self.point(name)
        self.points = [
            {**p, "x": float(x), "y": float(y)} if p["name"] == name else p for p in self.points
        ]

    def on_drag(self, callback: Callable[[dict], Any], remove: bool = False) -> None:
        """Call ``callback(point)`` whenever a point moves (drag or Python), on the main thread."""
        if remove:
            self._drag_callbacks.remove(callback)
        else:
            self._drag_callbacks.append(callback)

    def on_profile(self, callback: Callable[[str, Any], Any], remove: bool = False) -> None:
        """Call ``callback(path_name, profile)`` whenever a path's profile is recomputed.

        It runs on the widget's background thread.
        """
        if remove:
            self._profile_callbacks.remove(callback)
        else:
            self._profile_callbacks.append(callback)

    def on_surface(self, callback: Callable[[Any], Any], remove: bool = False) -> None:
        """Call ``callback(surface)`` with every grid shown (each streamed level too).

        It runs on the thread that computed the grid.
        """
        if remove:
            self._surface_callbacks.remove(callback)
        else:
            self._surface_callbacks.append(callback)

    def refresh(self, bounds: Sequence[float] | None = None) -> None:
        """Re-evaluate the grid over ``bounds`` (default: the current view) in the background."""
        if self.landscape is None:
            raise ValueError("refresh() needs a Landscape; this widget shows a fixed surface")
        window = [float(v) for v in (bounds if bounds is not None else (self.view or self.home))]
        self._requested = window
        self._grid_jobs.submit(lambda cancel: self._grid_job(window, cancel), cancel_running=True)

    def wait(self, timeout: float | None = 60.0) -> LandscapeWidget:
        """Block until the background work (grid, probes, profiles) is finished.

        Useful in scripts and headless runs, e.g. before :meth:`save_png`.
        Raises TimeoutError when ``timeout`` runs out and RuntimeError when
        the work failed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        starts = self._starts.jobs if self._starts is not None else None
        for jobs in (self._grid_jobs, self._point_jobs, starts):
            if jobs is None:
                continue
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not jobs.idle(left):
                raise TimeoutError(f"the widget was still computing after {timeout} s")
        if self.status.startswith("error"):
            raise RuntimeError(f"the widget's background work failed:\n{self._error_text}")
        if self._starts is not None and self._starts.error:
            raise RuntimeError(f"an optimizer run from a start failed:\n{self._starts.error}")
        return self

    def close(self) -> None:
        """Stop the background threads and close the widget."""
        for jobs in (getattr(self, "_grid_jobs", None), getattr(self, "_point_jobs", None)):
            if jobs is not None:
                jobs.close()
        if getattr(self, "_starts", None) is not None:
            self._starts.close()
        super().close()

    def save_png(self, path: Any, size: tuple[int, int] | None = None) -> Path:
        """Write the current grid to a PNG with the headless renderer (no browser needed)."""
        from ..output.png import render_png

        if self.surface is None:
            raise ValueError("the widget has no surface to save")
        surf = self.surface
        if self.anchors:
            import dataclasses

            surf = dataclasses.replace(surf, anchors={n: tuple(p) for n, p in self.anchors.items()})
        return render_png(
            surf,
            path,
            colormap=self.colormap,
            log=self.log_scale,
            size=size or (self.width, self.height),
            title=self.title or None,
            metric=self.metric,
        )

    def save_html(self, path: Any, title: str | None = None) -> Path:
        """Write the widget as it is now to one HTML file that shows it with no kernel.

        See :func:`export_html`; drags and pan/zoom in that page move the
        view but compute nothing (there is no kernel).
        """
        from ..output.html import export_html

        return export_html(path, self, title=title or self.title or "landscape-widgets")

    # ------------------------------------------------------------ reactions
    @traitlets.observe("view")
    def _view_changed(self, change: dict) -> None:
        new = change["new"]
        if self.landscape is None or not new or new == getattr(self, "_requested", None):
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
        self._moved_at = time.perf_counter()
        with self._dirty_lock:
            self._dirty_probes |= {p["name"] for p in moved if p["role"] == "probe"}
            self._dirty_paths |= {q["name"] for q in self.paths if names & set(q["points"])}
        self._point_jobs.submit(self._point_job)
        # starts run their optimizers where they are dropped, not on every move;
        # the page says "drop" itself (its final sync may carry no change)
        from_page = "points" in getattr(self, "_property_lock", {})
        if self._starts is not None and not self._page_moving and not from_page:
            self._starts.submit(names)

    def _on_page_message(self, _widget, content: dict, _buffers) -> None:
        """A point moving under the mouse, ``{event: "move", seq, name, x, y}``, or let go
        of, ``{event: "drop", name}``."""
        if not isinstance(content, dict):
            return
        if content.get("event") == "drop":
            # starts run their optimizers where they are dropped
            if self._starts is not None:
                self._starts.submit({content.get("name")})
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

    @traitlets.observe("paths")
    def _paths_changed(self, change: dict) -> None:
        old = {p["name"]: p for p in (change["old"] or [])}
        fresh = {p["name"] for p in change["new"] if old.get(p["name"]) != p}
        for gone in set(old) - {p["name"] for p in change["new"]}:
            self.profiles.pop(gone, None)
        if fresh and self.landscape is not None:
            with self._dirty_lock:
                self._dirty_paths |= fresh
            self._point_jobs.submit(self._point_job)

    # ------------------------------------------------------------ internals
    def _add_points(self, new: list[dict]) -> None:
        names = {p["name"] for p in self.points}
        clash = [p["name"] for p in new if p["name"] in names]
        if clash:
            raise ValueError(f"points named {clash} exist already")
        self.points = [*self.points, *new]

    def _add_path(self, name, kind, coords, color, labels) -> None:
        if any(p["name"] == name for p in self.paths):
            raise ValueError(f"a path named {name!r} exists already")
        pts = [
            {
                "name": f"{name}.{lab}",
                "x": float(x),
                "y": float(y),
                "role": "path",
                "label": f"{name} {lab}" if lab in ("start", "end") else lab,
            }
            for lab, (x, y) in zip(labels, coords, strict=True)
        ]
        path = {"name": name, "kind": kind, "points": [p["name"] for p in pts]}
        if color:
            path["color"] = color
        with self.hold_sync():
            self._add_points(pts)
            self.paths = [*self.paths, path]

    def _touch_all(self) -> None:
        """Queue every probe and path for evaluation (after the set-up)."""
        with self._dirty_lock:
            self._dirty_probes |= {p["name"] for p in self.points if p["role"] == "probe"}
            self._dirty_paths |= {p["name"] for p in self.paths}
        self._point_jobs.submit(self._point_job)

    def _job_failed(self, exc: BaseException, text: str) -> None:
        self._error_text = text
        with self._send_lock:
            self.status = f"error: {type(exc).__name__}: {exc}"

    def _grid_job(self, window: list[float], cancel: threading.Event) -> None:
        ls = self.landscape
        with self._send_lock:
            self.status = "computing"
            self.progress = 0.0
        total = self.resolution**2
        finished = False
        for surf in ls.stream(
            self.plane,
            self.resolution,
            bounds=window,
            strategy=self.strategy,
            levels=self.levels,
            cancel=cancel,
            progress=False,
        ):
            if cancel.is_set():
                return
            with self._send_lock, self.hold_sync():
                self.show(surf)
                known = total if surf.computed is None else int(np.count_nonzero(surf.computed))
                self.progress = known / total
            finished = surf.done
        if finished and not cancel.is_set():
            with self._send_lock:
                self.status = "done"

    def _point_job(self, cancel: threading.Event) -> None:
        seq, moved_at = self.drag_seq, getattr(self, "_moved_at", time.perf_counter())
        with self._dirty_lock:
            probes, paths = self._dirty_probes, self._dirty_paths
            self._dirty_probes, self._dirty_paths = set(), set()
        where = {p["name"]: (p["x"], p["y"]) for p in self.points}
        probes = [n for n in probes if n in where]
        ls, plane = self.landscape, self.plane
        results = dict(self.probe_results)
        if probes:
            coords = np.array([where[n] for n in probes])
            vals = ls.evaluate_points(plane, coords)
            for k, n in enumerate(probes):
                results[n] = {m: float(v[k]) for m, v in vals.items()}
        panel = None
        if self._predictor is not None and probes:
            # the panel follows the probe moved last
            shown = probes[-1]
            panel = {**self._panel_data, **self._predictor.at(plane.point(*where[shown]))}
            panel["probe"] = shown
        by_name = {p["name"]: p for p in self.paths}
        for name in paths:
            path = by_name.get(name)
            if path is None or any(n not in where for n in path["points"]):
                continue
            self._profile(path, where)
        with self._send_lock, self.hold_sync():
            if probes:
                self.probe_results = {n: r for n, r in results.items() if n in where}
            if panel is not None:
                self.predictions = panel
            # kernel_ms: from the move reaching the kernel to the answer being sent
            kernel_ms = 1000 * (time.perf_counter() - moved_at)
            self.answered = {
                "seq": seq,
                "probes": probes,
                "paths": sorted(paths),
                "kernel_ms": round(kernel_ms, 2),
            }

    def _profile(self, path: dict, where: Mapping[str, tuple[float, float]]):
        from ..core.results import Profile

        t, xy = path_coords(path, where, n=41)
        vals = self.landscape.evaluate_points(self.plane, xy)
        prof = Profile(
            t=t,
            loss=vals["loss"],
            metrics={m: v for m, v in vals.items() if m != "loss"},
            anchors={"start": 0.0, "end": 1.0},
            provenance={
                "kind": path["kind"],
                "plane_points": [list(where[n]) for n in path["points"]],
                "bn": self.landscape.bn if self.landscape.has_bn else "none",
            },
        )
        self.profiles[path["name"]] = prof
        if self.profile_plot is not None:
            self.profile_plot.set_profile(path["name"], prof)
        for callback in list(self._profile_callbacks):
            callback(path["name"], prof)
        return prof
