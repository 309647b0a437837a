"""The map's points and paths API: probes, segments, Bezier curves, polylines.

Points and paths live in the widget's synced ``points`` and ``paths`` traits
(schema: :mod:`landscape_widgets.wire.points`); these methods build and edit
their entries. Moving a point, from Python or by a drag on the page, is seen
by the widget's observer, which queues the probes and profiles to evaluate.

:class:`MapPoints` is a mixin of :class:`LandscapeWidget`, not a part
composed into it: its methods are the widget's public API (``w.add_probe``)
and change only the widget's own traits, so a mixin keeps them on the widget
without a layer of forwarding methods.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Coords = Sequence[float]


class MapPoints:
    """Probes and paths on the map (a mixin of :class:`LandscapeWidget`)."""

    @property
    def anchors(self) -> dict[str, list[float]]:
        """The fixed points (role 'anchor') as ``{name: [x, y]}``."""
        return {p["name"]: [p["x"], p["y"]] for p in self.points if p["role"] == "anchor"}

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

    def add_probe(
        self, name: str = "probe", x: float = 0.0, y: float = 0.0, label: str | None = None
    ) -> None:
        """Add a draggable probe; its loss, metrics and predictions follow it."""
        self._add_points([{"name": name, "x": x, "y": y, "role": "probe", "label": label or name}])

    def add_segment(self, name: str, start: Coords, end: Coords, color: str | None = None) -> None:
        """A 1-D slice from ``start`` to ``end`` (plane coordinates) with draggable ends.

        Its loss profile (t from 0 at ``start`` to 1 at ``end``) is kept in
        ``profiles[name]`` and sent to ``profile_plot`` on every move.
        """
        self._add_path(name, "segment", [start, end], color, ("start", "end"))

    def add_bezier(
        self, name: str, start: Coords, control, end: Coords, color: str | None = None
    ) -> None:
        """A Bezier curve in the plane; ``control`` is one (x, y) or a list of them."""
        control = [control] if np.ndim(control) == 1 else list(control)
        labels = ("start", *[f"bend{k + 1}" for k in range(len(control))], "end")
        self._add_path(name, "bezier", [start, *control, end], color, labels)

    def add_polyline(self, name: str, corners: Sequence[Coords], color: str | None = None) -> None:
        """A polygonal chain through ``corners``, at least two (x, y) points (its bends drag)."""
        corners = list(corners)
        if len(corners) < 2:
            raise ValueError(
                f"corners must be at least 2 (x, y) points, a start and an end; got {len(corners)}"
            )
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

    def _add_points(self, new: list[dict]) -> None:
        names = {p["name"] for p in self.points}
        clash = [p["name"] for p in new if p["name"] in names]
        if clash:
            raise ValueError(f"points named {clash} exist already")
        self.points = [*self.points, *new]

    def _add_path(self, name, kind, coords, color, labels) -> None:
        if any(p["name"] == name for p in self.paths):
            raise ValueError(f"a path named {name!r} exists already")
        bad = [c for c in coords if np.shape(c) != (2,)]
        if bad:
            what = {"polyline": "corners", "bezier": "start, control and end"}.get(
                kind, "start and end"
            )
            raise ValueError(f"{what} must be (x, y) points, not {bad[0]!r}")
        points = [
            {
                "name": f"{name}.{label}",
                "x": float(x),
                "y": float(y),
                "role": "path",
                "label": f"{name} {label}" if label in ("start", "end") else label,
            }
            for label, (x, y) in zip(labels, coords, strict=True)
        ]
        path = {"name": name, "kind": kind, "points": [p["name"] for p in points]}
        if color:
            path["color"] = color
        with self.hold_sync():
            self._add_points(points)
            self.paths = [*self.paths, path]
