"""The live map's background work: the grid stream and the answers to drags.

Two threads (:class:`~landscape_widgets.wire.jobs.LatestJob`) do the heavy
work of a :class:`LandscapeWidget` attached to a Landscape. One streams grids
coarse to fine; a pan or zoom cancels the grid being computed. The other
evaluates the probes and paths that moved since its last run (the latest
drag wins, moves in between are merged) and answers the page with a custom
message, ``{"event": "answer", "seq", "kernel_ms", "probes", "paths"}``, sent
after the state it answers so the page can time the round trip.

:class:`MapJobs` is composed into the widget, not mixed in: it owns threads,
a queue of dirty names and their lock, and none of it is the widget's API.
It reads the widget's public state (points, paths, landscape, plane) and
writes its synced traits, several at once in one ``hold_sync`` block.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from ..core.results import Profile
from ..wire.jobs import JOIN_TIMEOUT, LatestJob, deadline_left
from ..wire.points import path_coords

PROFILE_POINTS = 41  # samples along a path's profile


class MapJobs:
    """The background threads of one live map.

    Parameters
    ----------
    widget : LandscapeWidget
        The map; its ``landscape``, ``plane``, ``resolution``, ``levels`` and
        ``strategy`` say what to evaluate.
    predictor : Predictor, optional
        Fills the predictions panel at the probe moved last.
    on_profile : callable, optional
        ``on_profile(path_name, profile)`` for every profile computed, on
        the points thread.

    Attributes
    ----------
    error_text : str
        The traceback of the last job that failed ('' while none has).
    """

    def __init__(
        self,
        widget: Any,
        predictor: Any = None,
        on_profile: Callable[[str, Profile], Any] | None = None,
    ) -> None:
        self.widget = widget
        self.predictor = predictor
        self.on_profile = on_profile
        self.error_text = ""
        self._dirty_lock = threading.Lock()
        self._dirty_probes: set[str] = set()
        self._dirty_paths: set[str] = set()
        self._moved_at: float | None = None
        self._grid = LatestJob("landscape-grid", self._failed)
        self._points = LatestJob("landscape-points", self._failed)

    def stream(self, window: list[float]) -> None:
        """Stream the grid over ``window``, cancelling a grid still being computed."""
        self._grid.submit(lambda cancel: self._stream(window, cancel), cancel_running=True)

    def evaluate(
        self, probes: Iterable[str] = (), paths: Iterable[str] = (), moved: bool = False
    ) -> None:
        """Queue probes (loss, metrics, predictions) and paths (profiles) for evaluation.

        ``moved`` says a point just moved: the answer's ``kernel_ms`` counts from now.
        """
        with self._dirty_lock:
            self._dirty_probes |= set(probes)
            self._dirty_paths |= set(paths)
            if moved:
                self._moved_at = time.perf_counter()
        self._points.submit(self._answer)

    def idle(self, timeout: float | None = None) -> bool:
        """Wait for both threads to finish their work; False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._grid.idle(timeout):
            return False
        return self.points_idle(deadline_left(deadline))

    def points_idle(self, timeout: float | None = None) -> bool:
        """Wait for the probes and profiles only; False if ``timeout`` ran out first."""
        return self._points.idle(timeout)

    def close(self, timeout: float | None = JOIN_TIMEOUT) -> bool:
        """Cancel the work and join both threads (``timeout`` s at most for the two).

        Both are told to stop before either is waited for. Returns whether
        both threads have ended; calling it again is harmless.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._grid.close(timeout=0)
        self._points.close(timeout=0)
        grid = self._grid.close(deadline_left(deadline))
        return self._points.close(deadline_left(deadline)) and grid

    # ------------------------------------------------------------ on the threads
    def _failed(self, exc: BaseException, text: str) -> None:
        self.error_text = text
        self.widget.status = f"error: {type(exc).__name__}: {exc}"

    def _stream(self, window: list[float], cancel: threading.Event) -> None:
        w = self.widget
        with w.hold_sync():
            w.status = "computing"
            w.progress = 0.0
        total = w.resolution**2
        finished = False
        for surf in w.landscape.stream(
            w.plane,
            w.resolution,
            bounds=window,
            strategy=w.strategy,
            levels=w.levels,
            cancel=cancel,
            progress=False,
        ):
            if cancel.is_set():
                return
            # show() runs the on_surface callbacks (explore's 3D mesh) after its own
            # batch has gone out: not inside a batch here, which would hold the
            # widget's send lock, and with it every page message, while they run
            known = total if surf.computed is None else int(np.count_nonzero(surf.computed))
            w.progress = known / total
            w.show(surf)
            finished = surf.done
        if finished and not cancel.is_set():
            w.status = "done"

    def _answer(self, cancel: threading.Event) -> None:
        w = self.widget
        seq = w.drag_seq
        with self._dirty_lock:
            probes, paths = self._dirty_probes, self._dirty_paths
            self._dirty_probes, self._dirty_paths = set(), set()
            moved_at = self._moved_at if self._moved_at is not None else time.perf_counter()
        where = {p["name"]: (p["x"], p["y"]) for p in w.points}
        probes = [n for n in probes if n in where]
        results = dict(w.probe_results)
        if probes:
            values = w.landscape.evaluate_points(w.plane, np.array([where[n] for n in probes]))
            for k, name in enumerate(probes):
                results[name] = {m: float(v[k]) for m, v in values.items()}
        panel = None
        if self.predictor is not None and probes:
            # the panel follows the probe moved last
            shown = probes[-1]
            at = self.predictor.at(w.plane.point(*where[shown]))
            panel = {**self.predictor.data_state(), **at, "probe": shown}
        by_name = {p["name"]: p for p in w.paths}
        for name in paths:
            path = by_name.get(name)
            if path is not None and all(n in where for n in path["points"]):
                self._profile(path, where)
        with w.hold_sync():
            if probes:
                w.probe_results = {n: r for n, r in results.items() if n in where}
            if panel is not None:
                w.predictions = panel
        # sent once the state above has gone: the page reads it when the answer comes
        w.send(
            {
                "event": "answer",
                "seq": seq,
                # from the move reaching the kernel to the answer being sent
                "kernel_ms": round(1000 * (time.perf_counter() - moved_at), 2),
                "probes": probes,
                "paths": sorted(paths),
            }
        )

    def _profile(self, path: dict, where: Mapping[str, tuple[float, float]]) -> Profile:
        ls = self.widget.landscape
        t, xy = path_coords(path, where, n=PROFILE_POINTS)
        values = ls.evaluate_points(self.widget.plane, xy)
        profile = Profile(
            t=t,
            loss=values["loss"],
            metrics={m: v for m, v in values.items() if m != "loss"},
            anchors={"start": 0.0, "end": 1.0},
            provenance={
                "kind": path["kind"],
                "plane_points": [list(where[n]) for n in path["points"]],
                "bn": ls.bn if ls.has_bn else "none",
            },
        )
        if self.on_profile is not None:
            self.on_profile(path["name"], profile)
        return profile
