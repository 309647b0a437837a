"""The 3D view of a loss Surface: a pythreejs mesh coloured by loss, with orbit controls.

Scene layout (scene units): the plane's longer side spans [-1, 1], the shorter
one keeps the plane's proportions but never less than a quarter of the longer
(so a thin strip stays visible), and the height spans [0, 1] whatever the
loss scale: ``z = normalize(loss, min, max, log_height)`` with the same
normalisation and colour tables as the 2D map (``_render``). ``z`` is up.

Updates happen in place: :meth:`SurfaceWidget.show` gives the same
BufferGeometry's BufferAttributes new arrays, so the front-end keeps its Mesh
and Scene and only re-uploads buffers.

Point markers sit at the grid's bilinear height; overlay and path lines are
split where they cross the mesh's triangle edges and take the triangles' own
heights, so they lie on the drawn terrain (lifted by LINE_LIFT).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
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
    normalize,
    surface_arrays,
)
from ..wire.points import ROLE_COLORS, bezier

#: Height of the box the mesh fits in (scene units); z runs from 0 to this.
HEIGHT = 1.0
#: Half-length of the plane's longer side (scene units).
HALF_SPAN = 1.0
#: The shorter side is at least this fraction of the longer one.
MIN_ASPECT = 0.25
#: Radius of a point marker; its centre sits POINT_LIFT above the (bilinear) surface.
POINT_RADIUS = 0.045
POINT_LIFT = POINT_RADIUS
#: Overlays and paths float this far above the surface (against z-fighting).
LINE_LIFT = 0.012
#: Densified lines have no piece longer than this many grid cells.
MAX_STEP_CELLS = 0.5
#: Samples of a Bezier path.
BEZIER_SAMPLES = 65  # t = k / 64

ROLES = ("anchor", "probe", "path")
# Not magenta for paths: that is the masked (NaN/inf) colour of the colour tables.
PATH_KINDS = ("segment", "polyline", "bezier")
_POINT_KEYS = ("name", "x", "y", "role", "label")
_PATH_KEYS = ("name", "kind", "points", "color")
_OVERLAY_COLORS = ("#000000", "#4363d8", "#ffffff", "#3cb44b", "#911eb4", "#f58231")
_INK = "#222222"
_FRAME_COLOR = "#777777"


# --------------------------------------------------------------------------
# Pure helpers (no widgets)


def bilinear(grid: np.ndarray, fx: Any, fy: Any) -> np.ndarray:
    """Bilinear interpolation of ``grid`` (ny, nx) at fractional indices.

    ``fx`` is the column index (0 .. nx-1), ``fy`` the row index (0 .. ny-1);
    both are clamped to the grid. ``grid`` must be finite.
    """
    ny, nx = grid.shape
    fx = np.clip(np.asarray(fx, dtype=np.float64), 0.0, nx - 1)
    fy = np.clip(np.asarray(fy, dtype=np.float64), 0.0, ny - 1)
    j0 = np.minimum(np.floor(fx).astype(np.intp), max(nx - 2, 0))
    i0 = np.minimum(np.floor(fy).astype(np.intp), max(ny - 2, 0))
    j1 = np.minimum(j0 + 1, nx - 1)
    i1 = np.minimum(i0 + 1, ny - 1)
    tx, ty = fx - j0, fy - i0
    return (
        grid[i0, j0] * (1 - tx) * (1 - ty)
        + grid[i0, j1] * tx * (1 - ty)
        + grid[i1, j0] * (1 - tx) * ty
        + grid[i1, j1] * tx * ty
    )


def mesh_height(grid: np.ndarray, fx: Any, fy: Any) -> np.ndarray:
    """Height of the drawn mesh at fractional indices: linear on its triangles.

    Each cell ``(i, j)`` is split along its diagonal from ``(i, j)`` to
    ``(i + 1, j + 1)``, as :func:`_triangles` does. Indices are clamped.
    """
    ny, nx = grid.shape
    fx = np.clip(np.asarray(fx, dtype=np.float64), 0.0, nx - 1)
    fy = np.clip(np.asarray(fy, dtype=np.float64), 0.0, ny - 1)
    j = np.minimum(np.floor(fx).astype(np.intp), nx - 2)
    i = np.minimum(np.floor(fy).astype(np.intp), ny - 2)
    tx, ty = fx - j, fy - i
    h00, h01, h10, h11 = grid[i, j], grid[i, j + 1], grid[i + 1, j], grid[i + 1, j + 1]
    lower = h00 + tx * (h01 - h00) + ty * (h11 - h01)  # tx >= ty
    upper = h00 + ty * (h10 - h00) + tx * (h11 - h10)  # ty > tx
    return np.where(tx >= ty, lower, upper)


def densify(fxy: np.ndarray, max_cells: float = MAX_STEP_CELLS) -> np.ndarray:
    """Split a polyline in grid-index coordinates so it can lie on the mesh.

    Inserts the points where each segment crosses a grid line or a cell
    diagonal (so every piece lies inside one flat triangle), and more so no
    piece is longer than ``max_cells`` cells along x or y. Keeps the vertices.
    """
    fxy = np.asarray(fxy, dtype=np.float64)
    if len(fxy) < 2:
        return fxy.copy()
    out = [fxy[:1]]
    for a, b in zip(fxy[:-1], fxy[1:], strict=True):
        d = b - a
        n = max(1, math.ceil(np.abs(d).max() / max_cells - 1e-9))
        ts = [np.arange(1, n + 1) / n]
        for u0, du in ((a[0], d[0]), (a[1], d[1]), (a[0] - a[1], d[0] - d[1])):
            if abs(du) > 1e-12:
                lo, hi = sorted((u0, u0 + du))
                k = np.arange(math.floor(lo) + 1, math.ceil(hi))
                ts.append((k - u0) / du)
        t = np.unique(np.concatenate(ts))
        t = t[(t > 1e-9) & (t <= 1.0)]
        out.append(a + t[:, None] * d)
    return np.concatenate(out)


def _look_at_quaternion(eye, target, up) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) turning a three.js camera at ``eye`` towards ``target``."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    z = eye - target
    z /= np.linalg.norm(z)
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.stack([x, y, z], axis=1)  # columns
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = 0.5 / math.sqrt(tr + 1.0)
        w = 0.25 / s
        qx, qy, qz = (m[2, 1] - m[1, 2]) * s, (m[0, 2] - m[2, 0]) * s, (m[1, 0] - m[0, 1]) * s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        w, qx = (m[2, 1] - m[1, 2]) / s, 0.25 * s
        qy, qz = (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        w, qy = (m[0, 2] - m[2, 0]) / s, 0.25 * s
        qx, qz = (m[0, 1] + m[1, 0]) / s, (m[1, 2] + m[2, 1]) / s
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        w, qz = (m[1, 0] - m[0, 1]) / s, 0.25 * s
        qx, qy = (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s
    return (float(qx), float(qy), float(qz), float(w))


def _finite_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise traitlets.TraitError(f"{what} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise traitlets.TraitError(f"{what} must be finite, got {value!r}")
    return v


def check_points(value: Any) -> list[dict]:
    """Validate a ``points`` list (see notes/widgets-api.md) and normalise it.

    Each entry becomes ``{"name", "x", "y", "role", "label"}`` with float
    coordinates and ``label`` defaulting to ``name``. Raises TraitError.
    """
    if not isinstance(value, (list, tuple)):
        raise traitlets.TraitError(f"points must be a list of dicts, got {type(value).__name__}")
    out, seen = [], set()
    for k, p in enumerate(value):
        if not isinstance(p, Mapping):
            raise traitlets.TraitError(f"points[{k}] must be a dict, got {type(p).__name__}")
        missing = [key for key in ("name", "x", "y", "role") if key not in p]
        if missing:
            raise traitlets.TraitError(f"points[{k}] lacks key(s) {', '.join(missing)}")
        extra = sorted(set(p) - set(_POINT_KEYS))
        if extra:
            raise traitlets.TraitError(
                f"points[{k}] has unknown key(s) {', '.join(map(str, extra))}; "
                f"allowed: {', '.join(_POINT_KEYS)}"
            )
        name = p["name"]
        if not isinstance(name, str) or not name:
            raise traitlets.TraitError(f"points[{k}]: name must be a non-empty str")
        if name in seen:
            raise traitlets.TraitError(f"points: duplicate name {name!r}")
        seen.add(name)
        if p["role"] not in ROLES:
            raise traitlets.TraitError(
                f"point {name!r}: unknown role {p['role']!r} (have: {', '.join(ROLES)})"
            )
        label = p.get("label", name)
        if label is None:
            label = name
        if not isinstance(label, str):
            raise traitlets.TraitError(f"point {name!r}: label must be a str")
        out.append(
            {
                "name": name,
                "x": _finite_number(p["x"], f"point {name!r}: x"),
                "y": _finite_number(p["y"], f"point {name!r}: y"),
                "role": p["role"],
                "label": label,
            }
        )
    return out


def check_paths(value: Any) -> list[dict]:
    """Validate a ``paths`` list and normalise it (``color`` defaults to red, as path points)."""
    if not isinstance(value, (list, tuple)):
        raise traitlets.TraitError(f"paths must be a list of dicts, got {type(value).__name__}")
    out, seen = [], set()
    for k, p in enumerate(value):
        if not isinstance(p, Mapping):
            raise traitlets.TraitError(f"paths[{k}] must be a dict, got {type(p).__name__}")
        missing = [key for key in ("name", "kind", "points") if key not in p]
        if missing:
            raise traitlets.TraitError(f"paths[{k}] lacks key(s) {', '.join(missing)}")
        extra = sorted(set(p) - set(_PATH_KEYS))
        if extra:
            raise traitlets.TraitError(
                f"paths[{k}] has unknown key(s) {', '.join(map(str, extra))}; "
                f"allowed: {', '.join(_PATH_KEYS)}"
            )
        name = p["name"]
        if not isinstance(name, str) or not name:
            raise traitlets.TraitError(f"paths[{k}]: name must be a non-empty str")
        if name in seen:
            raise traitlets.TraitError(f"paths: duplicate name {name!r}")
        seen.add(name)
        if p["kind"] not in PATH_KINDS:
            raise traitlets.TraitError(
                f"path {name!r}: unknown kind {p['kind']!r} (have: {', '.join(PATH_KINDS)})"
            )
        names = p["points"]
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise traitlets.TraitError(f"path {name!r}: points must be a list of point names")
        if p["kind"] == "segment" and len(names) != 2:
            raise traitlets.TraitError(f"path {name!r}: a segment needs 2 points, got {len(names)}")
        if len(names) < 2:
            raise traitlets.TraitError(f"path {name!r}: needs at least 2 points")
        color = p.get("color") or ROLE_COLORS["path"]
        if not isinstance(color, str):
            raise traitlets.TraitError(f"path {name!r}: color must be a CSS colour string")
        out.append({"name": name, "kind": p["kind"], "points": list(names), "color": color})
    return out


def _css(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


# --------------------------------------------------------------------------
# The widget


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
        False, help="bool: logarithmic height and colour scale; default False"
    )
    width = traitlets.Int(480, min=160, help="int: canvas width in CSS pixels; default 480")
    height = traitlets.Int(400, min=120, help="int: canvas height in CSS pixels; default 400")
    play_seconds = traitlets.Float(
        5.0, min=0.1, help="float: how long the markers take along stepped overlays; default 5"
    )
    title = traitlets.Unicode("", help="str: shown above the view; default ''")
    points = traitlets.List(
        default_value=[],
        help="list of {'name', 'x', 'y', 'role', 'label'}: markers on the surface, in plane "
        "coordinates; role is 'anchor', 'probe' or 'path'; default []",
    )
    paths = traitlets.List(
        default_value=[],
        help="list of {'name', 'kind', 'points', 'color'}: lines through points, kind "
        "'segment', 'polyline' or 'bezier'; default []",
    )

    def __init__(
        self,
        surface: Any = None,
        *,
        metric: str = "loss",
        colormap: str = "viridis",
        log_height: bool = False,
        width: int = 480,
        height: int = 400,
        title: str = "",
        **kwargs: Any,
    ) -> None:
        allowed = {"points", "paths", "layout"}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            accepted = ["surface", "metric", "colormap", "log_height", "width", "height", "title"]
            raise TypeError(
                f"SurfaceWidget() got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(accepted + sorted(allowed))}"
            )
        layout = kwargs.pop("layout", None)
        super().__init__(**({"layout": layout} if layout is not None else {}))
        self.surface = None
        self.metric = metric
        self._grid: np.ndarray | None = None  # float32 (ny, nx), NaN/inf kept
        self._heights: np.ndarray | None = None  # finite scene heights (ny, nx)
        self._x = self._y = None
        self._half = (HALF_SPAN, HALF_SPAN * 0.5)
        self._overlays: dict[str, dict] = {}
        self._lines: dict[str, p3.Line2] = {}  # "overlay:name" / "path:name"
        self._markers: dict[str, dict] = {}
        self._palette = 0
        self._building = True

        self.colormap = colormap
        self.log_height = log_height
        self.width = width
        self.height = height
        self.title = title
        self._build_scene()
        self._building = False
        if surface is not None:
            self.show(surface, metric=metric)
        if "points" in kwargs:
            self.points = kwargs["points"]
        if "paths" in kwargs:
            self.paths = kwargs["paths"]
        self._update_legend()

    # ------------------------------------------------------------------
    # Scene construction (once)

    def _build_scene(self) -> None:
        # A flat 2 x 2 placeholder until the first surface; the mesh is hidden.
        positions = np.zeros((4, 3), dtype=np.float32)
        self._position = p3.BufferAttribute(array=positions, normalized=False)
        self._normal = p3.BufferAttribute(
            array=np.tile(np.float32([0, 0, 1]), (4, 1)), normalized=False
        )
        self._color = p3.BufferAttribute(array=np.ones((4, 3), np.float32), normalized=False)
        self._index = p3.BufferAttribute(array=_triangles(2, 2), normalized=False)
        self._geometry = p3.BufferGeometry(
            attributes={"position": self._position, "normal": self._normal, "color": self._color},
            index=self._index,
        )
        material = p3.MeshLambertMaterial(
            vertexColors="VertexColors",
            side="DoubleSide",
            polygonOffset=True,
            polygonOffsetFactor=1.0,
            polygonOffsetUnits=1.0,
        )
        self._mesh = p3.Mesh(
            geometry=self._geometry, material=material, visible=False, frustumCulled=False
        )

        self._frame_position = p3.BufferAttribute(
            array=np.zeros((24, 3), np.float32), normalized=False
        )
        self._frame = p3.LineSegments(
            geometry=p3.BufferGeometry(attributes={"position": self._frame_position}),
            material=p3.LineBasicMaterial(color=_FRAME_COLOR),
            frustumCulled=False,
        )
        self._labels = {
            key: _text_sprite("", _INK)
            for key in ("x", "x0", "x1", "y", "y0", "y1", "z", "z0", "z1")
        }
        self._marker_group = p3.Group()
        self._line_group = p3.Group()
        self._head_group = p3.Group()
        self._heads: list = []
        self._player = None
        self._sphere = p3.SphereBufferGeometry(radius=POINT_RADIUS, widthSegments=16,
                                               heightSegments=12)  # fmt: skip
        self._outline = p3.SphereBufferGeometry(radius=POINT_RADIUS * 1.25, widthSegments=16,
                                                heightSegments=12)  # fmt: skip
        self._outline_material = p3.MeshBasicMaterial(color="#000000", side="BackSide")

        self._scene = p3.Scene(
            children=[
                self._mesh,
                self._frame,
                *self._labels.values(),
                self._marker_group,
                self._line_group,
                self._head_group,
                # No Directional/PointLight: with one in the scene, pythreejs 2.4 logs
                # "Error setting state: t.on is not a function" whenever a Line2 is made.
                p3.AmbientLight(color="#ffffff", intensity=0.45),
                p3.HemisphereLight(
                    color="#ffffff",
                    groundColor="#555555",
                    position=[0.3, -0.5, 1.0],
                    intensity=0.65,
                ),
            ],
            background="#ffffff",
        )
        self._camera = p3.PerspectiveCamera(
            up=[0.0, 0.0, 1.0], fov=40, aspect=self.width / self.height, near=0.01, far=100.0
        )
        self._controls = p3.OrbitControls(controlling=self._camera)
        self._aim_camera()
        self._renderer = p3.Renderer(
            scene=self._scene,
            camera=self._camera,
            controls=[self._controls],
            width=self.width,
            height=self.height,
            antialias=True,
            background="#ffffff",
            clearColor="#ffffff",
        )
        self._legend = ipywidgets.HTML(layout=ipywidgets.Layout(width=f"{self.width}px"))
        self.children = [self._legend, self._renderer]
        self.add_class("lw-surface3d")
        self._layout_frame()

    def _aim_camera(self) -> None:
        """Look at the box from the front right, far enough to see all of it."""
        hx, hy = self._half
        target = np.array([0.0, 0.0, 0.3 * HEIGHT])
        radius = math.sqrt(hx**2 + hy**2 + (HEIGHT / 2) ** 2)
        direction = np.array([0.45, -0.74, 0.49])
        eye = target + direction / np.linalg.norm(direction) * 3.2 * radius
        self._camera.position = tuple(float(v) for v in eye)
        self._camera.quaternion = _look_at_quaternion(eye, target, (0, 0, 1))
        self._controls.target = tuple(float(v) for v in target)

    # ------------------------------------------------------------------
    # Public objects

    @property
    def renderer(self) -> p3.Renderer:
        """The pythreejs Renderer (the WebGL canvas)."""
        return self._renderer

    @property
    def scene(self) -> p3.Scene:
        return self._scene

    @property
    def mesh(self) -> p3.Mesh:
        """The surface mesh; the same object for the widget's whole life."""
        return self._mesh

    @property
    def geometry(self) -> p3.BufferGeometry:
        """The mesh's BufferGeometry; :meth:`show` gives its attributes new arrays."""
        return self._geometry

    @property
    def nonfinite_count(self) -> int:
        """How many cells of the shown grid are NaN or inf."""
        return 0 if self._grid is None else int(np.count_nonzero(~np.isfinite(self._grid)))

    # ------------------------------------------------------------------
    # Validation

    @traitlets.validate("points")
    def _validate_points(self, proposal: dict) -> list[dict]:
        return check_points(proposal["value"])

    @traitlets.validate("paths")
    def _validate_paths(self, proposal: dict) -> list[dict]:
        return check_paths(proposal["value"])

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
        if grid.shape[0] < 2 or grid.shape[1] < 2:
            raise ValueError(
                f"a 3D surface needs at least 2 x 2 grid points, got {grid.shape[1]} x "
                f"{grid.shape[0]} (x by y)"
            )
        old_shape = None if self._grid is None else self._grid.shape
        self.surface, self.metric = surface, metric
        self._x, self._y, self._grid = x, y, grid
        span_x, span_y = float(x[-1] - x[0]), float(y[-1] - y[0])
        big = max(span_x, span_y)
        half = (
            HALF_SPAN * max(span_x / big, MIN_ASPECT),
            HALF_SPAN * max(span_y / big, MIN_ASPECT),
        )
        with self._renderer.hold():
            if old_shape is None or half != self._half:
                self._half = half
                self._aim_camera()
            self._update_geometry(reshape=old_shape != grid.shape)
            self._mesh.visible = True
            self._layout_frame()
            others = [p for p in self.points if p["role"] != "anchor"]
            taken = {p["name"] for p in others}
            anchor_points = [
                {"name": n, "x": ax, "y": ay, "role": "anchor", "label": n}
                for n, (ax, ay) in anchors.items()
                if n not in taken
            ]
            new_points = anchor_points + others
            if new_points != self.points:
                self.points = new_points  # the observer places markers and paths
            else:
                self._place_markers()
                self._draw_paths()
            self._draw_overlays()
        self._update_legend()

    def _scene_heights(self) -> np.ndarray:
        """Normalised heights (ny, nx), NaN/inf cells at the largest finite height."""
        grid = self._grid
        rng = finite_range(grid)
        if rng is None:
            return np.zeros(grid.shape, dtype=np.float64)
        z = normalize(grid, rng[0], rng[1], self.log_height) * HEIGHT
        finite = np.isfinite(z)
        top = float(z[finite].max()) if finite.any() else 0.0
        return np.where(finite, z, top)

    def _update_geometry(self, reshape: bool) -> None:
        ny, nx = self._grid.shape
        self._heights = h = self._scene_heights()
        sx, sy = self.to_scene(self._x, self._y)
        pos = np.empty((ny, nx, 3), dtype=np.float32)
        pos[..., 0] = sx[None, :]
        pos[..., 1] = sy[:, None]
        pos[..., 2] = h
        # Normals of z = h(X, Y): (-dh/dX, -dh/dY, 1), normalised.
        dz_dy, dz_dx = np.gradient(h, sy, sx)
        nrm = np.stack([-dz_dx, -dz_dy, np.ones_like(h)], axis=-1)
        nrm /= np.linalg.norm(nrm, axis=-1, keepdims=True)
        colors = self._vertex_colors()
        new = {
            self._position: pos.reshape(-1, 3),
            self._normal: nrm.reshape(-1, 3).astype(np.float32),
            self._color: colors,
        }
        if reshape:
            index = _triangles(nx, ny)
            growing = len(new[self._position]) >= len(self._position.array)
            # Never let the index point past the vertices while the two travel.
            if not growing:
                self._index.array = index
            for attr, arr in new.items():
                attr.array = arr
            if growing:
                self._index.array = index
        else:
            for attr, arr in new.items():
                attr.array = arr

    def _vertex_colors(self) -> np.ndarray:
        rgb = colorize(self._grid, self.colormap, self.log_height)
        return (rgb.reshape(-1, 3).astype(np.float32) / np.float32(255.0)).astype(np.float32)

    # ------------------------------------------------------------------
    # Coordinates

    def to_scene(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates to scene x, y (the grid's extent maps onto the box)."""
        if self._x is None:
            return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        (x0, x1), (y0, y1) = (self._x[0], self._x[-1]), (self._y[0], self._y[-1])
        hx, hy = self._half
        sx = (np.asarray(x, dtype=np.float64) - (x0 + x1) / 2) / ((x1 - x0) / 2) * hx
        sy = (np.asarray(y, dtype=np.float64) - (y0 + y1) / 2) / ((y1 - y0) / 2) * hy
        return sx, sy

    def height_at(self, x: Any, y: Any) -> np.ndarray:
        """Scene height of the surface at plane points, bilinear in the grid cell.

        Points outside the grid take the height at the nearest edge. NaN/inf
        cells count at their drawn height (the largest finite one).
        """
        if self._heights is None:
            raise ValueError("the widget has no surface yet")
        return bilinear(self._heights, *self._indices(x, y))

    def _indices(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates to fractional grid indices (column, row)."""
        fx = (np.asarray(x, dtype=np.float64) - self._x[0]) / (self._x[1] - self._x[0])
        fy = (np.asarray(y, dtype=np.float64) - self._y[0]) / (self._y[1] - self._y[0])
        return fx, fy

    def mesh_height_at(self, x: Any, y: Any) -> np.ndarray:
        """Scene height of the drawn mesh (linear on its triangles) at plane points."""
        if self._heights is None:
            raise ValueError("the widget has no surface yet")
        return mesh_height(self._heights, *self._indices(x, y))

    def _drape(self, xy: np.ndarray) -> np.ndarray:
        """A plane polyline as scene points lying on the mesh, lifted by LINE_LIFT.

        Split where it crosses the mesh's triangle edges, each piece lies in one
        flat triangle, so the drawn line follows the drawn terrain exactly.
        """
        dense = densify(np.stack(self._indices(xy[:, 0], xy[:, 1]), axis=1))
        x0, y0 = self._x[0], self._y[0]
        px = x0 + dense[:, 0] * (self._x[1] - x0)
        py = y0 + dense[:, 1] * (self._y[1] - y0)
        sx, sy = self.to_scene(px, py)
        z = mesh_height(self._heights, dense[:, 0], dense[:, 1]) + LINE_LIFT
        return np.stack([sx, sy, z], axis=1).astype(np.float32)

    # ------------------------------------------------------------------
    # Frame and labels

    def _layout_frame(self) -> None:
        hx, hy = self._half
        c = np.array(
            [
                [x, y, z]
                for z in (0.0, HEIGHT)
                for x, y in ((-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy))
            ]
        )
        edges = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                 (0, 4), (1, 5), (2, 6), (3, 7)]  # fmt: skip
        self._frame_position.array = c[np.array(edges).ravel()].astype(np.float32)

        m = 0.08  # gap between the box and its labels
        size = 0.07  # height of digits
        lab = self._labels
        name = self.metric + (" (log)" if self.log_height else "")
        if self._x is None:
            texts = dict.fromkeys(("x0", "x1", "y0", "y1", "z0", "z1"), "")
        else:
            rng = finite_range(self._grid)
            lo, hi = ("", "") if rng is None else (format_tick(rng[0]), format_tick(rng[1]))
            texts = {
                "x0": format_tick(float(self._x[0])),
                "x1": format_tick(float(self._x[-1])),
                "y0": format_tick(float(self._y[0])),
                "y1": format_tick(float(self._y[-1])),
                "z0": lo,
                "z1": hi,
            }
        texts.update(x="x", y="y", z=name)
        half_w = {k: _set_text(lab[k], t, size) / 2 for k, t in texts.items()}
        where = {
            "x": (0.0, -hy - m - 2.2 * size, 0.0),
            "x0": (-hx, -hy - m - size, 0.0),
            "x1": (hx, -hy - m - size, 0.0),
            "y": (hx + m + half_w["y"] + 0.15, 0.0, 0.0),
            "y0": (hx + m + half_w["y0"], -hy, 0.0),
            "y1": (hx + m + half_w["y1"], hy, 0.0),
            "z": (-hx - m - half_w["z"], -hy, HEIGHT + 1.6 * size),
            "z0": (-hx - m - half_w["z0"], -hy, 0.0),
            "z1": (-hx - m - half_w["z1"], -hy, HEIGHT),
        }
        for key, pos in where.items():
            lab[key].position = pos

    def _update_legend(self) -> None:
        parts = []
        if self.title:
            parts.append(f"<b>{html.escape(self.title)}</b>")
        if self._grid is None:
            parts.append("<span>no data</span>")
        else:
            rng = finite_range(self._grid)
            if rng is None:
                parts.append("<span>no finite values</span>")
            else:
                stops = ", ".join(_css(c) for c in lookup_table(self.colormap, 11))
                scale = "log" if self.log_height else "linear"
                parts.append(
                    f"<span>{html.escape(self.metric)} {format_tick(rng[0])}</span>"
                    f"<span style='display:inline-block;width:120px;height:10px;"
                    f"margin:0 6px;border:1px solid {_INK};vertical-align:middle;"
                    f"background:linear-gradient(to right, {stops})'></span>"
                    f"<span>{format_tick(rng[1])} ({scale})</span>"
                )
            masked = self.nonfinite_count
            if masked:
                parts.append(
                    f"<span class='lw-masked'><span style='display:inline-block;width:10px;"
                    f"height:10px;border:1px solid {_INK};vertical-align:middle;"
                    f"background:{_css(masked_color())}'></span> "
                    f"{masked} NaN/inf cell{'s' if masked != 1 else ''}</span>"
                )
        self._legend.value = (
            f"<div class='lw-surface3d-legend' style='font-size:12px;line-height:18px;"
            f"color:{_INK}'>" + " &nbsp; ".join(parts) + "</div>"
        )

    # ------------------------------------------------------------------
    # Trait reactions

    @traitlets.observe("colormap")
    def _on_colormap(self, change: dict) -> None:
        if self._building:
            return
        if self._grid is not None:
            self._color.array = self._vertex_colors()
        self._update_legend()

    @traitlets.observe("log_height")
    def _on_log_height(self, change: dict) -> None:
        if self._building:
            return
        if self._grid is not None:
            with self._renderer.hold():
                self._update_geometry(reshape=False)
                self._layout_frame()
                self._place_markers()
                self._draw_paths()
                self._draw_overlays()
        self._update_legend()

    @traitlets.observe("width", "height")
    def _on_size(self, change: dict) -> None:
        if self._building:
            return
        self._renderer.width, self._renderer.height = self.width, self.height
        self._camera.aspect = self.width / self.height
        self._legend.layout.width = f"{self.width}px"

    @traitlets.observe("title")
    def _on_title(self, change: dict) -> None:
        if not self._building:
            self._update_legend()

    @traitlets.observe("points")
    def _on_points(self, change: dict) -> None:
        self._place_markers()
        self._draw_paths()

    @traitlets.observe("paths")
    def _on_paths(self, change: dict) -> None:
        self._draw_paths()

    # ------------------------------------------------------------------
    # Points

    def _place_markers(self) -> None:
        wanted = {p["name"]: p for p in self.points}
        for name in [n for n in self._markers if n not in wanted]:
            del self._markers[name]
        for name, p in wanted.items():
            marker = self._markers.get(name)
            if marker is None:
                marker = self._markers[name] = _make_marker(
                    self._sphere, self._outline, self._outline_material
                )
            marker["material"].color = ROLE_COLORS[p["role"]]
            _set_text(marker["label"], p["label"], 0.06)
            if self._heights is None:
                marker["group"].visible = False
                continue
            sx, sy = self.to_scene(p["x"], p["y"])
            z = float(self.height_at(p["x"], p["y"])) + POINT_LIFT
            marker["group"].position = (float(sx), float(sy), z)
            marker["group"].visible = True
        groups = tuple(self._markers[n]["group"] for n in wanted)
        if self._marker_group.children != groups:
            self._marker_group.children = groups

    def marker_position(self, name: str) -> tuple[float, float, float]:
        """Scene position of the centre of point ``name``'s marker."""
        return tuple(self._markers[name]["group"].position)

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
            CSS colour; by default the next of a small palette.
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
        if color is None:
            old = self._overlays.get(name)
            if old is not None:
                color = old["color"]
            else:
                color = _OVERLAY_COLORS[self._palette % len(_OVERLAY_COLORS)]
                self._palette += 1
        entry = {"xy": arr, "color": color}
        if steps is not None:
            from .map_trajectories import encode_steps

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

    def _draw_overlays(self) -> None:
        wanted = {f"overlay:{n}": (o["xy"], o["color"]) for n, o in self._overlays.items()}
        self._sync_lines("overlay:", wanted)
        self._animate_heads()

    @traitlets.observe("play_seconds")
    def _on_play_seconds(self, change: dict) -> None:
        self._animate_heads()

    @property
    def player(self) -> p3.AnimationAction | None:
        """The play/pause/stop control of the moving markers (None without stepped overlays)."""
        return self._player

    def _animate_heads(self) -> None:
        """One marker per stepped overlay, keyframed along it in step time.

        The keyframes live in the page (three.js AnimationMixer), so a saved
        notebook or an exported page replays them with no kernel.
        """
        stepped = {n: o for n, o in self._overlays.items() if "steps" in o}
        old = self._player
        self._head_group.children = ()
        if old is not None:
            # the replaced widgets would otherwise live on in the kernel and the
            # saved notebook
            clip, mixer = old.clip, old.mixer
            for w in (old, old.layout, clip, mixer, *clip.tracks, *self._heads,
                      *(h.material for h in self._heads)):  # fmt: skip
                w.close()
            self._player, self._heads = None, []
            self.children = [self._legend, self._renderer]
        if not stepped or self._heights is None:
            return
        first = min(float(o["steps"][0]) for o in stepped.values())
        last = max(float(o["steps"][-1]) for o in stepped.values())
        span = (last - first) or 1.0
        heads, tracks = [], []
        for k, o in enumerate(stepped.values()):
            xy = o["xy"]
            sx, sy = self.to_scene(xy[:, 0], xy[:, 1])
            z = self.height_at(xy[:, 0], xy[:, 1]) + POINT_LIFT
            where = np.stack([sx, sy, z], axis=1).astype(np.float32)
            head = p3.Mesh(
                geometry=self._sphere,
                material=p3.MeshLambertMaterial(color=o["color"]),
                name=f"head{k}",
                position=tuple(float(c) for c in where[-1]),
            )
            heads.append(head)
            times = (
                (np.asarray(o["steps"], np.float64) - first) / span * self.play_seconds
            ).astype(np.float32)
            tracks.append(
                p3.VectorKeyframeTrack(name=f"head{k}.position", times=times, values=where)
            )
        self._heads = heads
        self._head_group.children = tuple(heads)
        clip = p3.AnimationClip(tracks=tracks, duration=float(self.play_seconds))
        mixer = p3.AnimationMixer(rootObject=self._head_group)
        self._player = p3.AnimationAction(
            mixer=mixer,
            clip=clip,
            localRoot=self._head_group,
            loop="LoopOnce",
            clampWhenFinished=True,
        )
        self.children = [self._legend, self._renderer, self._player]

    def _path_xy(self, path: dict) -> np.ndarray | None:
        where = {p["name"]: (p["x"], p["y"]) for p in self.points}
        if not all(n in where for n in path["points"]):
            return None  # a point it needs is not (yet) there
        control = np.array([where[n] for n in path["points"]], dtype=np.float64)
        if path["kind"] == "bezier":
            return bezier(control, np.linspace(0.0, 1.0, BEZIER_SAMPLES))
        return control

    def _draw_paths(self) -> None:
        wanted = {}
        for path in self.paths:
            xy = self._path_xy(path)
            if xy is not None:
                wanted[f"path:{path['name']}"] = (xy, path["color"])
        self._sync_lines("path:", wanted)

    def _sync_lines(self, prefix: str, wanted: dict[str, tuple[np.ndarray, str]]) -> None:
        for key in [k for k in self._lines if k.startswith(prefix) and k not in wanted]:
            del self._lines[key]
        if self._heights is not None:
            for key, (xy, color) in wanted.items():
                positions = self._drape(xy)
                line = self._lines.get(key)
                if line is None:
                    self._lines[key] = p3.Line2(
                        p3.LineGeometry(positions=positions),
                        p3.LineMaterial(linewidth=3, color=color),
                        frustumCulled=False,
                    )
                else:
                    line.geometry.positions = positions
                    line.material.color = color
        children = tuple(self._lines.values())
        if self._line_group.children != children:
            self._line_group.children = children

    def line_positions(self, name: str, kind: str = "overlay") -> np.ndarray:
        """Scene points (n, 3) of the drawn overlay (``kind="overlay"``) or path ``name``."""
        return np.asarray(self._lines[f"{kind}:{name}"].geometry.positions)


# --------------------------------------------------------------------------
# Small builders


def _triangles(nx: int, ny: int) -> np.ndarray:
    """Index of two counter-clockwise triangles per cell of an (ny, nx) vertex grid, uint32."""
    k = (np.arange(ny - 1)[:, None] * nx + np.arange(nx - 1)[None, :]).ravel()
    tri = np.stack([k, k + 1, k + nx + 1, k, k + nx + 1, k + nx], axis=1)
    return tri.ravel().astype(np.uint32)


def _text_sprite(text: str, color: str) -> p3.Sprite:
    texture = p3.TextTexture(string=text or " ", color=color, size=_FONT_PX, squareTexture=True)
    material = p3.SpriteMaterial(map=texture, transparent=True, depthTest=False)
    return p3.Sprite(material=material)


# Advance widths (in em) of Arial / Liberation Sans, for sizing text sprites.
_EM = {**dict.fromkeys("0123456789e_", 0.556), ".": 0.278, " ": 0.278, "-": 0.333,
       "+": 0.584, "(": 0.333, ")": 0.333, "/": 0.278, ":": 0.278,
       **dict.fromkeys("ijlft", 0.25), **dict.fromkeys("mw", 0.833)}  # fmt: skip
_FONT_PX = 64  # TextTexture size: the canvas is FONT_PX + 2 high
_CAP = 0.72  # digit / capital height in em


def _text_em(text: str) -> float:
    return sum(_EM.get(c, 0.667 if c.isupper() else 0.5) for c in text)


def _set_text(sprite: p3.Sprite, text: str, height: float) -> float:
    """Set a sprite's text so digits are ``height`` scene units tall; return its width.

    TextTexture draws the text centred on a square canvas as wide as the text
    (at least FONT_PX + 2), so the sprite's scale follows the text's width.
    """
    sprite.material.map.string = text or " "
    unit = height / (_CAP * _FONT_PX)  # scene units per canvas pixel
    side = max(_text_em(text) * _FONT_PX + 2, _FONT_PX + 2)
    sprite.scale = (side * unit, side * unit, 1.0)
    return _text_em(text) * _FONT_PX * unit


def _make_marker(sphere, outline, outline_material) -> dict:
    material = p3.MeshLambertMaterial(color="#ffffff")
    body = p3.Mesh(geometry=sphere, material=material)
    rim = p3.Mesh(geometry=outline, material=outline_material)
    label = _text_sprite("", "#000000")
    label.position = (0.0, 0.0, POINT_RADIUS * 2.6)
    group = p3.Group(children=[rim, body, label])
    return {"group": group, "material": material, "label": label}
