"""The 3D view of a loss Surface: a pythreejs mesh coloured by loss, with orbit controls.

Heights fill a unit-high box whatever the loss scale: ``z = normalize(loss,
min, max, log_height)`` with the same normalisation and colour tables as the 2D
map; the box's layout and the mesh's geometry are in :mod:`.mesh3d`, the
pythreejs objects in :mod:`.scene3d`.

Updates happen in place: :meth:`SurfaceWidget.show` gives the same
BufferGeometry's BufferAttributes new arrays, so the front-end keeps its Mesh
and Scene and only re-uploads buffers.

Point markers sit at the grid's bilinear height; overlay and path lines are
split where they cross the mesh's triangle edges and take the triangles' own
heights, so they lie on the drawn terrain (lifted by ``LINE_LIFT``).

Over 500 lines only through the numpydoc of the widget's traits and methods;
the geometry and the scene are in their own modules.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets
import numpy as np
import pythreejs as p3
import traitlets

from ..output.png import (
    colorize,
    colormap_names,
    finite_range,
    format_tick,
    lookup_table,
    masked_color,
    spans_decades,
    surface_arrays,
)
from ..wire.points import CheckedList, bezier, check_paths, check_points, encode_steps
from .linked_scales import check_color_range, color_range_trait, natural_range
from .mesh3d import HALF_SPAN, Terrain, box_half, scene_heights
from .scene3d import INK, SurfaceScene

#: Samples of a Bezier path.
BEZIER_SAMPLES = 65  # t = k / 64
_OVERLAY_COLORS = ("#000000", "#4363d8", "#ffffff", "#3cb44b", "#911eb4", "#f58231")
_ACCEPTED = ("surface", "metric", "colormap", "log_height", "color_range", "xlabel", "ylabel",
             "width", "height", "title", "points", "paths", "layout")  # fmt: skip


def with_anchors(points: list[dict], anchors: dict[str, tuple[float, float]]) -> list[dict]:
    """``points`` with its ``"anchor"`` points replaced by ``anchors`` (name -> (x, y)).

    The anchors come first; one named like a point that stays is left out.
    """
    others = [p for p in points if p["role"] != "anchor"]
    taken = {p["name"] for p in others}
    return [
        {"name": n, "x": ax, "y": ay, "role": "anchor", "label": n}
        for n, (ax, ay) in anchors.items()
        if n not in taken
    ] + others


def path_polyline(path: dict, where: dict[str, tuple[float, float]]) -> np.ndarray:
    """The plane polyline (n, 2) a checked path is drawn as, its points at ``where``:
    the control points, or BEZIER_SAMPLES points along a Bezier curve."""
    control = np.array([where[n] for n in path["points"]], dtype=np.float64)
    if path["kind"] == "bezier":
        return bezier(control, np.linspace(0.0, 1.0, BEZIER_SAMPLES))
    return control


def _css(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def legend_html(
    title: str,
    metric: str,
    grid: np.ndarray | None,
    colormap: str,
    log: bool,
    value_range: tuple[float, float] | None = None,
) -> str:
    """The line above the view: title, the colour bar with the metric's range
    (``value_range`` when fixed) and scale, and how many NaN/inf cells ``grid``
    has (None: no data yet)."""
    parts = [f"<b>{html.escape(title)}</b>"] if title else []
    if grid is None:
        parts.append("<span>no data</span>")
    else:
        rng = finite_range(grid) if value_range is None else value_range
        if rng is None:
            parts.append("<span>no finite values</span>")
        else:
            stops = ", ".join(_css(c) for c in lookup_table(colormap, 11))
            parts.append(
                f"<span>{html.escape(metric)} {format_tick(rng[0])}</span>"
                f"<span style='display:inline-block;width:120px;height:10px;"
                f"margin:0 6px;border:1px solid {INK};vertical-align:middle;"
                f"background:linear-gradient(to right, {stops})'></span>"
                f"<span>{format_tick(rng[1])} ({'log' if log else 'linear'})</span>"
            )
        masked = int(np.count_nonzero(~np.isfinite(grid)))
        if masked:
            parts.append(
                f"<span class='lw-masked'><span style='display:inline-block;width:10px;"
                f"height:10px;border:1px solid {INK};vertical-align:middle;"
                f"background:{_css(masked_color())}'></span> "
                f"{masked} NaN/inf cell{'s' if masked != 1 else ''}</span>"
            )
    return (
        f"<div class='lw-surface3d-legend' style='font-size:12px;line-height:18px;"
        f"color:{INK}'>" + " &nbsp; ".join(parts) + "</div>"
    )


class SurfaceWidget(ipywidgets.VBox):
    """A loss surface in 3D: a mesh coloured by loss, with orbit controls.

    Drag to rotate, scroll to zoom, right-drag to pan. Heights are normalised
    into a unit-high box (``z = 0`` at the smallest finite loss, ``z = 1`` at
    the largest), linearly or logarithmically (:attr:`log_height`); colours
    come from the same tables as the 2D map. NaN and inf cells get the masked
    colour and the largest finite height, and the legend counts them.

    Parameters
    ----------
    surface : Surface, optional
        What :meth:`Landscape.evaluate` returns (``x``, ``y``, ``loss`` and
        optionally ``metrics`` and ``anchors``); at least 2 x 2 grid points.
        Without one the view is empty until :meth:`show` is called.
    metric : str
        ``"loss"`` (default) or a key of ``surface.metrics`` to draw instead.
    colormap, log_height, width, height, title, points, paths
        Initial values of the traits of the same names.

    Unknown keyword arguments raise TypeError, so a typo is not silently lost.

    Long (~430 lines) because it documents each of its dozen traits and public methods.

    Attributes
    ----------
    renderer : pythreejs.Renderer
        The WebGL view (inside this VBox, under the legend).
    scene, mesh, geometry : pythreejs objects
        The scene, the surface mesh and its BufferGeometry (kept across updates).

    Examples
    --------
    >>> surf = Landscape(model, loss_fn, (X, y)).evaluate(plane)  # doctest: +SKIP
    >>> view = SurfaceWidget(surf, log_height=True, title="spirals MLP")  # doctest: +SKIP
    >>> view.points = [{"name": "p", "x": 0.3, "y": -0.1, "role": "probe"}]  # doctest: +SKIP
    >>> view.set_overlay("trajectory", trajectory_xy, color="red")  # doctest: +SKIP
    >>> view  # doctest: +SKIP
    """

    colormap = traitlets.Enum(
        colormap_names(), default_value="viridis", help="str: colour map name; default 'viridis'"
    )
    log_height = traitlets.Bool(
        False,
        help="bool: logarithmic height and colour scale; the constructor's log_height='auto' "
        "(the default) sets it from each surface shown: log when its finite values are "
        "positive and span more than a factor of 10",
    )
    color_range = color_range_trait(
        "the bottom and top of the box and at the ends of the colour scale"
    )
    xlabel = traitlets.Unicode(
        "", help="str: the x axis' name; default the surface's plane axis names, else 'x'"
    )
    ylabel = traitlets.Unicode(
        "", help="str: the y axis' name; default the surface's plane axis names, else 'y'"
    )
    width = traitlets.Int(480, min=160, help="int: canvas width in CSS pixels; default 480")
    height = traitlets.Int(400, min=120, help="int: canvas height in CSS pixels; default 400")
    play_seconds = traitlets.Float(
        5.0, min=0.1, help="float: how long the markers take along stepped overlays; default 5"
    )
    title = traitlets.Unicode("", help="str: shown above the view; default ''")
    points = CheckedList(
        check_points,
        help="list of {'name', 'x', 'y', 'role', 'label'}: markers on the surface, in plane "
        "coordinates; role is 'anchor', 'probe' or 'path'; default []",
    )
    paths = CheckedList(
        check_paths,
        help="list of {'name', 'kind', 'points', 'color'}: lines through points, kind "
        "'segment', 'polyline' or 'bezier'; default []",
    )

    def __init__(
        self,
        surface: Any = None,
        *,
        metric: str = "loss",
        colormap: str = "viridis",
        log_height: bool | str = "auto",
        color_range: Sequence[float] | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        width: int = 480,
        height: int = 400,
        title: str = "",
        points: list[dict] | None = None,
        paths: list[dict] | None = None,
        layout: ipywidgets.Layout | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(
                f"SurfaceWidget() got unexpected keyword argument(s) "
                f"{', '.join(sorted(unknown))}; accepted: {', '.join(_ACCEPTED)}"
            )
        if log_height != "auto" and not isinstance(log_height, bool):
            raise TypeError(f"log_height must be True, False or 'auto', not {log_height!r}")
        super().__init__(**({"layout": layout} if layout is not None else {}))
        self._log_auto = log_height == "auto"
        self._showing = False  # show() redraws once, after setting the scale
        self._show_callbacks: list = []
        self._labels_given = {
            k for k, v in (("xlabel", xlabel), ("ylabel", ylabel)) if v is not None
        }
        self.surface = None
        self.metric = metric
        self._grid: np.ndarray | None = None  # float32 (ny, nx), NaN/inf kept
        self._terrain: Terrain | None = None  # the grid's finite heights, placed in the scene
        self._x = self._y = None
        self._half = (HALF_SPAN, HALF_SPAN * 0.5)
        self._overlays: dict[str, dict] = {}
        self._palette = 0
        # the scene first, so the trait reactions below find it
        self._view = SurfaceScene(width, height, self._half)
        self._legend = ipywidgets.HTML(layout=ipywidgets.Layout(width=f"{width}px"))
        self.children = [self._legend, self._view.renderer]
        self.add_class("lw-surface3d")
        self.colormap, self.title = colormap, title
        if log_height is True:
            self.log_height = True
        self.xlabel, self.ylabel = xlabel or "x", ylabel or "y"
        if color_range is not None:
            self.color_range = list(color_range)
        # no range given: a bounded quantity's natural range (provenance "value_range")
        self._range_auto = color_range is None
        self.width, self.height = width, height
        self._layout_frame()
        if surface is not None:
            self.show(surface, metric=metric)
        if points is not None:
            self.points = points
        if paths is not None:
            self.paths = paths
        self._update_legend()

    # ------------------------------------------------------------------
    # Public objects

    @property
    def renderer(self) -> p3.Renderer:
        """The pythreejs Renderer (the WebGL canvas)."""
        return self._view.renderer

    @property
    def scene(self) -> p3.Scene:
        """The pythreejs Scene: mesh, frame, labels, markers, lines and lights."""
        return self._view.scene

    @property
    def mesh(self) -> p3.Mesh:
        """The surface mesh; the same object for the widget's whole life."""
        return self._view.surface.mesh

    @property
    def geometry(self) -> p3.BufferGeometry:
        """The mesh's BufferGeometry; :meth:`show` gives its attributes new arrays."""
        return self._view.surface.geometry

    @property
    def grid(self) -> np.ndarray | None:
        """A copy of the values drawn (float32, (ny, nx)); None before the first surface."""
        return None if self._grid is None else self._grid.copy()

    def on_show(self, callback, remove: bool = False) -> None:
        """Call ``callback(surface)`` after each :meth:`show` (``remove=True`` forgets it)."""
        if remove:
            self._show_callbacks.remove(callback)
        elif callback not in self._show_callbacks:
            self._show_callbacks.append(callback)

    @property
    def nonfinite_count(self) -> int:
        """How many cells of the shown grid are NaN or inf."""
        return 0 if self._grid is None else int(np.count_nonzero(~np.isfinite(self._grid)))

    # ------------------------------------------------------------------
    # Data

    def show(self, surface: Any, *, metric: str | None = None) -> None:
        """Draw another surface (or another metric of it), updating the geometry in place.

        The mesh's BufferAttributes get new arrays (and the index a new one
        when the grid's shape changes); no Mesh, Geometry or Scene is created.
        The surface's anchors become the ``"anchor"`` points; other points stay.

        Parameters
        ----------
        surface : Surface
            The new surface; at least 2 x 2 grid points.
        metric : str, optional
            ``"loss"`` or a key of ``surface.metrics``; default: the current one.
        """
        metric = self.metric if metric is None else metric
        x, y, grid, anchors = surface_arrays(surface, metric)
        natural = natural_range(surface) if self._range_auto else None
        if natural is not None and not self.color_range:
            self.color_range = list(natural)
        if grid.shape[0] < 2 or grid.shape[1] < 2:
            raise ValueError(
                f"a 3D surface needs at least 2 x 2 grid points, got {grid.shape[1]} x "
                f"{grid.shape[0]} (x by y)"
            )
        old_shape = None if self._grid is None else self._grid.shape
        self.surface, self.metric = surface, metric
        self._x, self._y, self._grid = x, y, grid
        names = (getattr(surface, "provenance", None) or {}).get("axis_names") or ("x", "y")
        for trait, name in zip(("xlabel", "ylabel"), names, strict=True):
            if trait not in self._labels_given:
                self.set_trait(trait, str(name))
        if self._log_auto:
            self._showing = True
            try:
                self.log_height = spans_decades(grid)
            finally:
                self._showing = False
        half = box_half(x, y)
        with self._view.renderer.hold():
            if old_shape is None or half != self._half:
                self._half = half
                self._view.aim(half)
            self._update_geometry(reshape=old_shape != grid.shape)
            self._view.surface.mesh.visible = True
            new_points = with_anchors(self.points, anchors)
            if new_points != self.points:
                self.points = new_points  # the observer places the markers and paths
                self._draw_overlays()
            else:
                self._drape_all()
        self._update_legend()
        for callback in list(self._show_callbacks):
            callback(surface)

    def _update_geometry(self, reshape: bool) -> None:
        heights = scene_heights(self._grid, self.log_height, self._value_range())
        self._terrain = Terrain(self._x, self._y, heights, self._half)
        positions, normals = self._terrain.vertices()
        shape = self._grid.shape if reshape else None
        self._view.surface.update(positions, normals, self._vertex_colors(), shape)
        self._layout_frame()

    def _vertex_colors(self) -> np.ndarray:
        rgb = colorize(self._grid, self.colormap, self.log_height, self._value_range())
        return (rgb.reshape(-1, 3).astype(np.float32) / np.float32(255.0)).astype(np.float32)

    def _layout_frame(self) -> None:
        name = self.metric + (" (log)" if self.log_height else "")
        names = (self.xlabel, self.ylabel)
        if self._x is None:
            self._view.frame.layout(self._half, name, axis_names=names)
        else:
            x_ends = (float(self._x[0]), float(self._x[-1]))
            y_ends = (float(self._y[0]), float(self._y[-1]))
            rng = self._value_range() or finite_range(self._grid)
            self._view.frame.layout(self._half, name, x_ends, y_ends, rng, names)

    def _value_range(self) -> tuple[float, float] | None:
        return tuple(self.color_range) if self.color_range else None

    def _drape_all(self) -> None:
        """Put the markers, paths and overlays on the current terrain."""
        self._place_markers()
        self._draw_paths()
        self._draw_overlays()

    def _update_legend(self) -> None:
        self._legend.value = legend_html(
            self.title, self.metric, self._grid, self.colormap, self.log_height, self._value_range()
        )

    # ------------------------------------------------------------------
    # Coordinates

    def to_scene(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates to scene x, y (the grid's extent maps onto the box)."""
        if self._terrain is None:
            return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        return self._terrain.to_scene(x, y)

    def height_at(self, x: Any, y: Any) -> np.ndarray:
        """Scene height of the surface at plane points, bilinear in the grid cell.

        Points outside the grid take the height at the nearest edge. NaN/inf
        cells count at their drawn height (the largest finite one).
        """
        return self._placed().height_at(x, y)

    def mesh_height_at(self, x: Any, y: Any) -> np.ndarray:
        """Scene height of the drawn mesh (linear on its triangles) at plane points."""
        return self._placed().mesh_height_at(x, y)

    def _placed(self) -> Terrain:
        if self._terrain is None:
            raise ValueError("the widget has no surface yet")
        return self._terrain

    # ------------------------------------------------------------------
    # Trait reactions

    @traitlets.observe("colormap", "title")
    def _on_colormap_or_title(self, change: dict) -> None:
        if change["name"] == "colormap" and self._grid is not None:
            self._view.surface.color.array = self._vertex_colors()
        self._update_legend()

    @traitlets.observe("log_height", "color_range")
    def _on_scale(self, change: dict) -> None:
        if self._showing:
            return  # show() chose the scale and draws with it
        if change["name"] == "log_height":
            self._log_auto = False  # set by hand: the automatic choice ends
        if self._grid is not None:
            with self._view.renderer.hold():
                self._update_geometry(reshape=False)
                self._drape_all()
        self._update_legend()

    @traitlets.validate("color_range")
    def _check_color_range(self, proposal: dict) -> list:
        return check_color_range(proposal["value"])

    @traitlets.observe("xlabel", "ylabel")
    def _on_axis_names(self, change: dict) -> None:
        self._layout_frame()

    @traitlets.observe("width", "height")
    def _on_size(self, change: dict) -> None:
        self._view.resize(self.width, self.height)
        self._legend.layout.width = f"{self.width}px"

    @traitlets.observe("points", "paths")
    def _on_points_or_paths(self, change: dict) -> None:
        if change["name"] == "points":
            self._place_markers()
        self._draw_paths()  # through the points where they are now

    @traitlets.observe("play_seconds")
    def _on_play_seconds(self, change: dict) -> None:
        self._animate_heads()

    # ------------------------------------------------------------------
    # Points

    def _place_markers(self) -> None:
        self._view.place_markers(self.points, self._terrain)

    def marker_position(self, name: str) -> tuple[float, float, float]:
        """Scene position of the centre of point ``name``'s marker."""
        return tuple(self._view.markers[name]["group"].position)

    # ------------------------------------------------------------------
    # Lines: overlays and paths

    def set_overlay(self, name: str, xy: Any, color: str | None = None, steps: Any = None) -> None:
        """Draw (or replace) a fixed polyline on the surface, e.g. a training trajectory.

        Parameters
        ----------
        name : str
            Key of the overlay; setting an existing name moves that line.
        xy : array-like, shape (n, 2)
            Plane coordinates, n >= 2, all finite. The line is densified so it
            follows the terrain and floats slightly above it.
        color : str, optional
            CSS colour; by default the overlay's colour so far, or the next of a
            small palette.
        steps : array-like, shape (n,), optional
            The optimisation step of each point (non-decreasing). Overlays with
            steps get a marker that moves along them, in step time, when the
            play button under the view is pressed; the animation runs in the
            page, with no kernel.

        Examples
        --------
        >>> view.set_overlay("sgd", np.c_[np.linspace(-1, 1, 20), np.zeros(20)])  # doctest: +SKIP
        """
        arr = np.asarray(xy, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 2:
            raise ValueError(f"overlay {name!r}: xy must have shape (n >= 2, 2), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"overlay {name!r}: xy has non-finite coordinates")
        if color is None and name in self._overlays:
            color = self._overlays[name]["color"]
        elif color is None:
            color = _OVERLAY_COLORS[self._palette % len(_OVERLAY_COLORS)]
            self._palette += 1
        entry = {"xy": arr, "color": color}
        if steps is not None:
            entry["steps"] = encode_steps(steps, len(arr))
        self._overlays[name] = entry
        self._draw_overlays()

    def remove_overlay(self, name: str) -> None:
        """Remove the overlay ``name`` (KeyError when there is none)."""
        if name not in self._overlays:
            raise KeyError(f"no overlay {name!r} (have: {', '.join(self._overlays) or 'none'})")
        del self._overlays[name]
        self._draw_overlays()

    @property
    def overlays(self) -> dict[str, dict]:
        """``{name: {"xy": (n, 2) array, "color": str}}`` of the current overlays (a copy)."""
        return {k: dict(v) for k, v in self._overlays.items()}

    @property
    def player(self) -> p3.AnimationAction | None:
        """The play/pause/stop control of the moving markers (None without stepped overlays)."""
        return self._view.player

    def _draw_overlays(self) -> None:
        wanted = {f"overlay:{n}": (o["xy"], o["color"]) for n, o in self._overlays.items()}
        self._view.sync_lines("overlay:", wanted, self._terrain)
        self._animate_heads()

    def _animate_heads(self) -> None:
        """One marker per stepped overlay, keyframed along it in step time."""
        stepped = [o for o in self._overlays.values() if "steps" in o]
        player = self._view.play(stepped, self._terrain, self.play_seconds)
        self.children = [self._legend, self._view.renderer, *([player] if player else [])]

    def _draw_paths(self) -> None:
        where = {p["name"]: (p["x"], p["y"]) for p in self.points}
        wanted = {}
        for path in self.paths:
            if all(n in where for n in path["points"]):  # else a point it needs is not there yet
                wanted[f"path:{path['name']}"] = (path_polyline(path, where), path["color"])
        self._view.sync_lines("path:", wanted, self._terrain)

    def line_positions(self, name: str, kind: str = "overlay") -> np.ndarray:
        """Scene points (n, 3) of the drawn overlay (``kind="overlay"``) or path ``name``."""
        return np.asarray(self._view.lines[f"{kind}:{name}"].geometry.positions)
