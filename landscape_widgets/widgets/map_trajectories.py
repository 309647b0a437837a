"""Trajectories on the 2D map: projected paths, the step player, draggable starts.

A trajectory is drawn as an overlay that carries the optimisation step of
each point, so the page can replay it step by step with no kernel: the
player's frames are the overlays themselves, kept in the widget state
(``overlays`` and ``player_step``).

A *start* is a probe whose runs follow it: when it is dropped somewhere, the
chosen optimizers run from there on a background thread (:class:`Starts`)
and their paths replace the old ones, then play from the first step.

A trajectory's colour is its run label's (:func:`.bq_style.run_color`), the
colour a :class:`LossCurve` series of that name gets too, so one optimizer
has one colour on every map and chart of a notebook; :meth:`color_of` says it.

:class:`MapTrajectories` is a mixin of :class:`LandscapeWidget`, not a part
composed into it: its methods are the widget's public API
(``w.add_trajectory(run)``) and act on the widget's own synced traits, so a
mixin keeps them on the widget without a layer of forwarding methods.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..core.data import DEFAULT_LR
from ..core.trajectory import PlanePath, Trajectory, check_steps, record_trajectory
from ..wire.codec import float32_array
from ..wire.jobs import JOIN_TIMEOUT, LatestJob
from ..wire.points import encode_steps
from .bq_style import pick_run_color

MODES = ("plane", "full")


def overlay_label(label: str, path: PlanePath, numel_scale: float) -> str:
    """The legend names paths that leave the plane, with how far they go."""
    if path.max_error <= 1e-6 * max(1.0, numel_scale):
        return label
    return f"{label} (off-plane ≤ {path.max_error:.2g})"


def normalise_runs(runs) -> dict[str, dict]:
    """``runs`` as {label: record_trajectory keyword arguments}."""
    if isinstance(runs, str):
        runs = [runs]
    if isinstance(runs, Mapping):
        out = {}
        for label, kw in runs.items():
            if not isinstance(kw, Mapping):
                raise TypeError(
                    f"runs[{label!r}] must be a dict of record_trajectory arguments, "
                    f"e.g. {{'optimizer': 'adam', 'lr': 0.01}}"
                )
            out[str(label)] = {"optimizer": label, **kw}
        return out
    if isinstance(runs, Sequence) and runs:
        return {str(name): {"optimizer": name} for name in runs}
    raise ValueError("runs must name at least one optimizer, e.g. ('sgd', 'adam')")


class MapTrajectories:
    """The map's trajectories, overlays and starts (a mixin of :class:`LandscapeWidget`)."""

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
        arr = np.asarray(xy, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 1:
            raise ValueError(f"xy must have shape (n, 2), not {arr.shape}")
        entry = {"name": name, "xy": float32_array(arr), "color": color, "label": label or name}
        if steps is not None:
            entry["steps"] = float32_array(encode_steps(steps, len(arr)))
        with self.send_lock:
            # a replaced overlay keeps its place (and its place in the legend)
            if any(o["name"] == name for o in self.overlays):
                self.overlays = [entry if o["name"] == name else o for o in self.overlays]
            else:
                self.overlays = [*self.overlays, entry]

    def fit_bounds(self, margin: float = 0.06) -> list[float]:
        """Fit the window to every point, path and overlay drawn, end points included.

        ``margin`` is the fraction of the content's extent added on each side.
        A live map recomputes its grid there, and the reset button returns
        there. Returns the window.
        """
        box = self._content_box()
        if box is None:
            return list(self.view or self.home)
        window = _padded(box, margin)
        if self.aspect == "equal":
            window = self.equal_window(window)
        with self.send_lock:
            self.home = window
            self.view = window  # a live map refreshes on a new view
        return window

    def _content_box(self) -> list[float] | None:
        """[xmin, xmax, ymin, ymax] of the finite points and overlay vertices; None if none."""
        xy = [np.array([[p["x"], p["y"]] for p in self.points], dtype=np.float64).reshape(-1, 2)]
        xy += [np.asarray(o["xy"], dtype=np.float64).reshape(-1, 2) for o in self.overlays]
        pts = np.concatenate(xy)
        pts = pts[np.isfinite(pts).all(axis=1)]
        if not len(pts):
            return None
        return [pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max()]

    def _grow_to_fit(self) -> None:
        """With bounds="fit": widen the window when something drawn lies outside it."""
        box = self._content_box()
        home = list(self.home)
        if box is None or len(home) != 4:
            return
        inside = home[0] <= box[0] and box[1] <= home[1] and home[2] <= box[2] and box[3] <= home[3]
        if inside:
            return
        grown = _padded(box, 0.06)
        window = [min(home[0], grown[0]), max(home[1], grown[1]),
                  min(home[2], grown[2]), max(home[3], grown[3])]  # fmt: skip
        if self.aspect == "equal":
            window = self.equal_window(window)
        self.home = window
        self.view = window

    def remove_overlay(self, name: str) -> None:
        """Remove an overlay (a trajectory too: it leaves ``trajectories``)."""
        with self.send_lock:
            self.overlays = [o for o in self.overlays if o["name"] != name]
            self.trajectories.pop(name, None)
            self._run_keys.pop(name, None)

    def color_of(self, run: str) -> str:
        """The colour of a run on the map, to draw it in elsewhere (a 3D view, a chart).

        ``run`` is an overlay's name (``"adam"``, ``"drag me:adam"``) or a run
        label (``"adam"``: the first trajectory of that label). KeyError when the
        map has neither.

        Examples
        --------
        >>> m.add_trajectory(run)  # doctest: +SKIP
        >>> view.set_overlay(run.label, xy, color=m.color_of(run.label))  # doctest: +SKIP
        """
        with self.send_lock:
            colors = {o["name"]: o["color"] for o in self.overlays}
            if run in colors:
                return colors[run]
            for name, key in self._run_keys.items():
                if key == run and name in colors:
                    return colors[name]
        raise KeyError(f"no run {run!r} on the map (have: {', '.join(colors) or 'none'})")

    def add_trajectory(
        self,
        trajectory: Trajectory,
        name: str | None = None,
        color: str | None = None,
        label: str | None = None,
    ) -> PlanePath:
        """Project a :class:`Trajectory` onto the map's plane and draw it for the player.

        Returns the :class:`PlanePath` (plane coordinates and each point's
        distance to the plane), also kept in ``trajectories[name]``. A path
        that leaves the plane says so in the legend, with its largest
        distance: its shadow can cross terrain the run never touched.
        Without ``color`` the path has its run label's colour (``label``, else
        the trajectory's), the one :meth:`color_of` gives and a
        :class:`LossCurve` series of that name gets.
        """
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
        with self.send_lock:
            return self._draw_trajectory(
                name, trajectory, path, color, label, key=label or trajectory.label or name
            )

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
        ``runs_from(name)``. Each run has its label's colour (so "adam" from a
        start looks like "adam" elsewhere) unless ``colors`` are given.
        """
        if self.landscape is None:
            raise ValueError("starts need a map computed from a Landscape")
        spec = start_spec(
            self.landscape,
            runs,
            mode,
            steps,
            batch_size,
            every,
            seed,
            model,
            data,
            colors,
        )
        if self.starts is None:
            self.starts = Starts(self, draw=self._draw_trajectory)
        self.add_probe(name, x, y)
        self.starts.add(name, spec)

    def runs_from(self, start: str) -> dict[str, Trajectory]:
        """The trajectories last run from a start, ``{label: Trajectory}``."""
        if self.starts is None or start not in self.starts.specs:
            raise KeyError(f"no start named {start!r}")
        return dict(self.starts.runs.get(start, {}))

    def _draw_trajectory(
        self,
        name: str,
        trajectory: Trajectory,
        path: PlanePath,
        color: str | None = None,
        label: str | None = None,
        key: str | None = None,
    ) -> PlanePath:
        """Draw a projected path; one that diverged is cut at its first NaN/inf point.

        Without ``color`` it takes the colour of its run label ``key``; a second
        run of one label on this map is coloured by its own ``name`` instead, so
        that two runs on one map never share a colour by their label alone.
        """
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
            color = self._run_color(name, key or trajectory.label or name)
        self.trajectories[name] = path
        text = overlay_label(text, path, float(self.plane.origin.norm()))
        self.set_overlay(name, path.xy, color=color, label=text, steps=path.steps)
        if self._fit:
            self._grow_to_fit()
        return path

    def _run_color(self, name: str, key: str) -> str:
        """The colour of overlay ``name`` of run label ``key`` (see :meth:`_draw_trajectory`)."""
        others = {o["name"]: o["color"] for o in self.overlays if o["name"] != name}
        if any(self._run_keys.get(n) == key for n in others):
            key = name
        self._run_keys[name] = key
        # a run drawn again (a start dropped elsewhere) keeps its colour
        mine = next((o["color"] for o in self.overlays if o["name"] == name), None)
        return mine or pick_run_color(key, others.values())


def _padded(box: list[float], margin: float) -> list[float]:
    """``box`` widened by ``margin`` of its extent on each side (a point gets a unit square)."""
    x0, x1, y0, y1 = (float(v) for v in box)
    span = max(x1 - x0, y1 - y0)
    pad = margin * span if span > 0 else 0.5
    return [x0 - pad, x1 + pad, y0 - pad, y1 + pad]


#: ``draw(name, trajectory, path, color=..., label=..., key=...)``: puts a run on the map.
DrawTrajectory = Callable[..., PlanePath]


class Starts:
    """The start points of one map and the runs that follow each of them.

    Parameters
    ----------
    widget : LandscapeWidget
        The map: its points say where each start is, its landscape and
        plane what to run, its ``activity`` trait what is running.
    draw : callable
        ``draw(name, trajectory, path, color=..., label=..., key=...)`` puts a
        finished run on the map; called inside the widget's ``hold_sync``.
    """

    def __init__(self, widget: Any, draw: DrawTrajectory):
        self.widget = widget
        self.draw = draw
        self.specs: dict[str, dict] = {}
        self.runs: dict[str, dict[str, Trajectory]] = {}
        self.error = ""  # the last failed run's traceback, until a run succeeds
        self.jobs = LatestJob("landscape-trajectories", self._failed)
        self._lock = threading.Lock()
        self._pending: set[str] = set()

    def add(self, name: str, spec: dict) -> None:
        """Add a start (a point of the widget) and run its optimizers from where it is."""
        self.specs[name] = spec
        self.submit({name})

    def submit(self, names: set[str]) -> None:
        """Run again the starts among ``names`` (points just dropped), from where they are."""
        with self._lock:
            self._pending |= names & set(self.specs)
        if self._pending:
            # a newer drop makes the running optimizers stale: stop them
            self.jobs.submit(self._job, cancel_running=True)

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until no run is going or waiting; False if ``timeout`` ran out first."""
        return self.jobs.idle(timeout)

    def close(self, timeout: float | None = JOIN_TIMEOUT) -> bool:
        """Stop the runs and join the thread; whether it ended (see :meth:`LatestJob.close`)."""
        return self.jobs.close(timeout)

    def _job(self, cancel: threading.Event) -> None:
        w = self.widget
        with self._lock:
            names, self._pending = self._pending, set()
        where = {p["name"]: (p["x"], p["y"]) for p in w.points}
        todo = [n for n in sorted(names) if n in where and n in self.specs]
        for k, name in enumerate(todo):
            if not self._run_start(name, where[name], cancel):
                # cancelled: the next job runs these (at their new places)
                with self._lock:
                    self._pending |= set(todo[k:])
                return
        self.error = ""
        w.activity = ""

    def _failed(self, exc: BaseException, text: str) -> None:
        # kept apart from the grid's status, which a finished grid would overwrite
        self.error = text
        self.widget.activity = f"error: {type(exc).__name__}: {exc}"

    def _run_start(self, name: str, xy, cancel: threading.Event) -> bool:
        """Run a start's optimizers and draw them; False when cancelled."""
        w = self.widget
        spec = self.specs[name]
        w.activity = f"running {', '.join(spec['runs'])} from {name}…"
        done = {}
        for label, kw in spec["runs"].items():
            done[label] = self.run_one(spec, xy, label, kw, cancel)
            if cancel.is_set():
                return False
        # projections can be heavy: outside the hold_sync that blocks the grid's sends
        paths = {label: traj.project(w.plane) for label, traj in done.items()}
        with w.hold_sync():
            if cancel.is_set():
                return False
            self.runs[name] = done
            colors = spec["colors"]
            for k, (label, traj) in enumerate(done.items()):
                self.draw(
                    f"{name}:{label}",
                    traj,
                    paths[label],
                    color=colors[k % len(colors)] if colors else None,
                    label=f"{name}: {label}",
                    key=label,
                )
        return True

    def run_one(
        self, spec: dict, xy, label: str, kw: dict, cancel: threading.Event | None = None
    ) -> Trajectory:
        """One optimizer run of a start's ``spec`` from plane point ``xy``."""
        w = self.widget
        plane = w.plane
        args = {
            "steps": spec["steps"],
            "batch_size": spec["batch_size"],
            "every": spec["every"],
            "seed": spec["seed"],
            "loss_fn": w.landscape.loss_fn,
            "label": label,
            "device": w.landscape.device,
            "stop": None if cancel is None else cancel.is_set,
            **kw,
        }
        if spec["mode"] == "plane":
            return record_trajectory(spec["model"], spec["data"], plane=plane, start=xy, **args)
        return record_trajectory(spec["model"], spec["data"], start=plane.point(*xy), **args)


def start_spec(
    landscape: Any,
    runs,
    mode: str,
    steps: int,
    batch_size: int | None,
    every: int,
    seed: int,
    model: Any,
    data: Any,
    colors: Sequence[str] | None,
) -> dict:
    """A start's settings, checked now rather than later on the background thread.

    Without ``colors`` (``[]`` in the spec) each run takes its label's colour.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    runs = normalise_runs(runs)
    _check_runs(runs)
    check_steps(steps=steps, every=every)
    return {
        "runs": runs,
        "mode": mode,
        "steps": int(steps),
        "batch_size": batch_size,
        "every": int(every),
        "seed": seed,
        "model": model if model is not None else landscape.model,
        "data": data if data is not None else landscape.data,
        "colors": list(colors or ()),
    }


# set by the start itself, not per run
_FIXED = {"model", "data", "plane", "start", "progress", "device", "stop"}


def _check_runs(runs: dict[str, dict]) -> None:
    """Refuse at once what would only fail later on the background thread."""
    known = set(inspect.signature(record_trajectory).parameters) - _FIXED
    for label, kw in runs.items():
        unknown = sorted(set(kw) - known)
        if unknown:
            raise TypeError(
                f"runs[{label!r}] has unknown argument(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(known))}"
            )
        opt = kw["optimizer"]
        if not callable(opt) and (not isinstance(opt, str) or opt.lower() not in DEFAULT_LR):
            raise ValueError(
                f"runs[{label!r}]: optimizer must be one of {', '.join(map(repr, DEFAULT_LR))} "
                f"or a callable params -> torch.optim.Optimizer, got {opt!r}"
            )
