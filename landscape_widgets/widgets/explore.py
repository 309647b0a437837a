"""One cell, four linked views of a plane: the map, the 3D surface, a profile, the predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets

from .landscape_map import LandscapeWidget
from .profile_plot import ProfilePlot
from .surface3d import SurfaceWidget


class Explorer(ipywidgets.VBox):
    """The composed view that :func:`explore` returns.

    Attributes
    ----------
    map : LandscapeWidget
        The live contour map, with the predictions panel beside it.
    surface : SurfaceWidget
        The same grid as a 3D mesh; its points, paths, trajectories (in the
        map's colours) and log or linear scale follow the map's.
    profile : ProfilePlot
        The loss along each path on the map, redrawn as its points move.
    """

    def __init__(self, map_widget: LandscapeWidget, surface: SurfaceWidget, profile: ProfilePlot):
        # set first: close() runs from __del__ even when __init__ raised
        self._following = False
        self._map_owned: LandscapeWidget | None = None
        self.map = map_widget
        self.surface = surface
        self.profile = profile
        if map_widget.profile_plot is not profile:
            raise ValueError("create the map with profile_plot=profile")
        # The map is the one place points move (drags, Python): the surface follows.
        surface.points = list(map_widget.points)
        surface.paths = list(map_widget.paths)
        # one decision for both: the map's (automatic or chosen) log scale sets the heights
        surface.log_height = map_widget.log_scale
        self._mirrored: dict[str, dict] = {}  # the map's overlays drawn on the surface
        self._follow_overlays({"new": map_widget.overlays})
        map_widget.observe(self._follow_points, "points")
        map_widget.observe(self._follow_paths, "paths")
        map_widget.observe(self._follow_log, "log_scale")
        map_widget.observe(self._follow_overlays, "overlays")
        map_widget.on_surface(self._follow_grid)
        self._following = True
        self._map_owned = map_widget
        if map_widget.surface is not None:
            surface.show(map_widget.surface)
        super().__init__(
            # a narrow notebook puts the 3D view under the map instead of clipping it
            [ipywidgets.HBox([map_widget, surface], layout={"flex_flow": "row wrap"}), profile],
            layout=ipywidgets.Layout(align_items="flex-start"),
        )

    def _follow_points(self, change: dict) -> None:
        self.surface.points = list(change["new"])

    def _follow_paths(self, change: dict) -> None:
        self.surface.paths = list(change["new"])
        for gone in set(self.profile.profiles) - {p["name"] for p in change["new"]}:
            self.profile.remove_profile(gone)

    def _follow_grid(self, surface: Any) -> None:
        self.surface.show(surface)

    def _follow_log(self, change: dict) -> None:
        self.surface.log_height = bool(change["new"])

    def _follow_overlays(self, change: dict) -> None:
        # trajectories and curves on the map lie on the surface too, in the map's colours
        wanted = {o["name"]: o for o in change["new"] if len(o["xy"]) >= 2}
        for gone in set(self._mirrored) - set(wanted):
            self.surface.remove_overlay(gone)
        for name, o in wanted.items():
            if self._mirrored.get(name) is not o:  # the map replaces an overlay's entry whole
                self.surface.set_overlay(name, o["xy"], color=o["color"], steps=o.get("steps"))
        self._mirrored = wanted

    def close(self) -> None:
        """Stop following the map, close it (joining its threads) and this box.

        Calling it again is harmless: ipywidgets calls it once more when the
        object is collected, at exit at the latest.
        """
        if self._following:
            self._following = False
            self.map.unobserve(self._follow_points, "points")
            self.map.unobserve(self._follow_paths, "paths")
            self.map.unobserve(self._follow_log, "log_scale")
            self.map.unobserve(self._follow_overlays, "overlays")
            self.map.on_surface(self._follow_grid, remove=True)
        if self._map_owned is not None:
            self._map_owned.close()
        super().close()


def explore(
    landscape: Any,
    plane: Any,
    *,
    resolution: int = 48,
    bounds: Sequence[float] | None = None,
    margin: float | None = None,
    segment: Sequence[Sequence[float]] | None | str = "auto",
    log_scale: bool | str = "auto",
    title: str = "",
) -> Explorer:
    """The map, the 3D surface, a 1-D profile and the predictions of a plane, linked.

    Parameters
    ----------
    landscape : Landscape
    plane : Plane
    resolution : int
        Grid points per axis (default 48, quick on a CPU and on Binder).
    bounds, margin
        The first window, as for :class:`LandscapeWidget`.
    segment : "auto", ((x0, y0), (x1, y1)) or None
        A draggable slice whose profile is plotted. "auto" joins the plane's
        first two anchors (w1 to w2 for a plane through networks) or crosses
        the middle of the window for a plane with one anchor.
    log_scale : "auto", True or False
        Log colour scale on the map and log height on the surface. ``"auto"``
        (the default) is the map's choice for each finished grid: log when its
        finite losses are positive and span more than a factor of 10 (see
        :class:`LandscapeWidget`); the surface's heights follow the map, its
        check box included.
    title : str

    Returns
    -------
    Explorer
        A VBox; ``.map``, ``.surface`` and ``.profile`` are the parts.

    Examples
    --------
    >>> explore(Landscape(net, nn.CrossEntropyLoss(), (X, y)), Plane.random(net))  # doctest: +SKIP
    """
    if landscape is None or not hasattr(landscape, "evaluate_points"):
        raise TypeError(f"explore() needs a Landscape, not {type(landscape).__name__}")
    # The plot exists before the map: the map's thread feeds it from the first profile on.
    profile = ProfilePlot(show_accuracy="accuracy" in landscape.metrics, title="loss along paths")
    m = LandscapeWidget(
        landscape,
        plane,
        profile_plot=profile,
        resolution=resolution,
        width=480,
        height=400,
        bounds=bounds,
        margin=margin,
        log_scale=log_scale,
        title=title,
    )
    if segment == "auto":
        anchors = list(plane.anchors.values())
        if len(anchors) >= 2:
            segment = (anchors[0], anchors[1])
        else:
            x0, x1, y0, y1 = m.home
            cy = (y0 + y1) / 2
            segment = ((x0 + 0.15 * (x1 - x0), cy), (x1 - 0.15 * (x1 - x0), cy))
    if segment is not None:
        start, end = segment
        m.add_segment("slice", start, end)
        # The slice's first profile adds the plot's marks. Wait for it (tens of ms): a
        # bqplot Figure view being created when its `marks` change can miss the change
        # and stay empty, which happened when the profile landed while the cell displayed.
        m.jobs.points_idle(30)
    surface = SurfaceWidget(log_height=m.log_scale, width=360, height=360, title="3D surface")
    return Explorer(m, surface, profile)
