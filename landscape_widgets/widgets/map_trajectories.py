"""Trajectories on the 2D map: projected paths, the step player, draggable starts.

A trajectory is drawn as an overlay that carries the optimisation step of
each point, so the page can replay it step by step with no kernel: the
player's frames are the overlays themselves, kept in the widget state.

A *start* is a probe whose runs follow it: when it is dropped somewhere, the
chosen optimizers run from there on a background thread and their paths
replace the old ones, then play from the first step.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.trajectory import PlanePath, Trajectory, _check_steps, record_trajectory
from ..wire.jobs import LatestJob

# One colour per optimizer, distinct from the probe (orange) and path (red) markers.
TRAJECTORY_COLORS = ("#00d5ff", "#ff3fd0", "#ffd000", "#50e000", "#ffffff", "#a0a0a0")
MODES = ("plane", "full")


def trajectory_color(k: int) -> str:
    return TRAJECTORY_COLORS[k % len(TRAJECTORY_COLORS)]


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


class Starts:
    """The start points of one map and the runs that follow each of them."""

    def __init__(self, widget):
        self.widget = widget
        self.specs: dict[str, dict] = {}
        self.runs: dict[str, dict[str, Trajectory]] = {}
        self.error = ""  # the last failed run's traceback, until a run succeeds
        self.jobs = LatestJob("landscape-trajectories", self._failed)
        self._lock = threading.Lock()
        self._pending: set[str] = set()

    def add(self, name: str, spec: dict) -> None:
        self.specs[name] = spec
        self.submit({name})

    def submit(self, names: set[str]) -> None:
        with self._lock:
            self._pending |= names & set(self.specs)
        if self._pending:
            # a newer drop makes the running optimizers stale: stop them
            self.jobs.submit(self._job, cancel_running=True)

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
        with w._send_lock:
            w.activity = ""

    def _failed(self, exc: BaseException, text: str) -> None:
        # kept apart from the grid's status, which a finished grid would overwrite
        self.error = text
        with self.widget._send_lock:
            self.widget.activity = f"error: {type(exc).__name__}: {exc}"

    def _run_start(self, name: str, xy, cancel: threading.Event) -> bool:
        """Run a start's optimizers and draw them; False when cancelled."""
        w = self.widget
        spec = self.specs[name]
        with w._send_lock:
            w.activity = f"running {', '.join(spec['runs'])} from {name}…"
        done = {}
        for label, kw in spec["runs"].items():
            done[label] = self.run_one(spec, xy, label, kw, cancel)
            if cancel.is_set():
                return False
        # projections can be heavy: outside the lock that the grid's sends share
        paths = {label: traj.project(w.plane) for label, traj in done.items()}
        with w._send_lock, w.hold_sync():
            if cancel.is_set():
                return False
            self.runs[name] = done
            for k, (label, traj) in enumerate(done.items()):
                w._draw_trajectory(
                    f"{name}:{label}",
                    traj,
                    paths[label],
                    color=spec["colors"][k % len(spec["colors"])],
                    label=f"{name}: {label}",
                )
        return True

    def run_one(
        self, spec: dict, xy, label: str, kw: dict, cancel: threading.Event | None = None
    ) -> Trajectory:
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

    def close(self) -> None:
        self.jobs.close()


def start_spec(
    widget,
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
    if widget.landscape is None:
        raise ValueError("starts need a map computed from a Landscape")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    runs = normalise_runs(runs)
    _check_runs(runs)
    model = model if model is not None else widget.landscape.model
    data = data if data is not None else widget.landscape.data
    _check_steps(steps=steps, every=every)
    if not colors:
        # after the colours of the starts already on the map
        used = sum(len(s["runs"]) for s in widget._starts.specs.values()) if widget._starts else 0
        colors = [trajectory_color(used + k) for k in range(len(runs))]
    colors = list(colors)
    return {
        "runs": runs,
        "mode": mode,
        "steps": int(steps),
        "batch_size": batch_size,
        "every": int(every),
        "seed": seed,
        "model": model,
        "data": data,
        "colors": colors,
    }


# set by the start itself, not per run
_FIXED = {"model", "data", "plane", "start", "progress", "device", "stop"}


def _check_runs(runs: dict[str, dict]) -> None:
    """Refuse at once what would only fail later on the background thread."""
    import inspect

    from ..core.train import DEFAULT_LR

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


def encode_steps(steps, n: int) -> np.ndarray:
    arr = np.asarray(steps, dtype=np.float64).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"steps has {len(arr)} entries for {n} points")
    if not np.all(np.isfinite(arr)) or np.any(np.diff(arr) < 0):
        raise ValueError("steps must be finite and non-decreasing")
    return arr
