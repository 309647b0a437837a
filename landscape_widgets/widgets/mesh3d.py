"""Geometry of the 3D surface, in numbers only (no widgets): where a loss grid's
mesh, its frame and the lines and markers on it go in the scene.

Scene layout (scene units): the plane's longer side spans ``[-HALF_SPAN,
HALF_SPAN]``, the shorter one keeps the plane's proportions but never less than
``MIN_ASPECT`` of the longer (so a thin strip stays visible), and the height
spans ``[0, HEIGHT]`` whatever the loss scale. ``z`` is up.

The mesh splits each grid cell ``(i, j)`` into two triangles along the diagonal
from ``(i, j)`` to ``(i + 1, j + 1)``; :func:`mesh_height` is the height of
that drawn mesh and :func:`densify` cuts lines where they cross its edges, so a
draped line lies on the drawn terrain exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..output.png import finite_range, normalize

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

# The twelve edges of a box, as pairs of corner indices: 0-3 the floor, 4-7 the top.
_BOX_EDGES = np.array([(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                       (0, 4), (1, 5), (2, 6), (3, 7)])  # fmt: skip


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

    Each cell is split as :func:`triangles` splits it. Indices are clamped.
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


def triangles(nx: int, ny: int) -> np.ndarray:
    """Index of two counter-clockwise triangles per cell of an (ny, nx) vertex grid, uint32."""
    k = (np.arange(ny - 1)[:, None] * nx + np.arange(nx - 1)[None, :]).ravel()
    tri = np.stack([k, k + 1, k + nx + 1, k, k + nx + 1, k + nx], axis=1)
    return tri.ravel().astype(np.uint32)


def look_at_quaternion(eye: Any, target: Any, up: Any) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) turning a three.js camera at ``eye`` towards ``target``.

    A three.js camera looks down its own -z axis with +y up; the rotation's
    matrix has the camera's axes as columns, turned into a quaternion by the
    branch that keeps the square root well away from zero.
    """
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


def camera_pose(half: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``(eye, target)``: from the front right, far enough to see all of a box of
    half-sides ``half`` and height HEIGHT."""
    hx, hy = half
    target = np.array([0.0, 0.0, 0.3 * HEIGHT])
    radius = math.sqrt(hx**2 + hy**2 + (HEIGHT / 2) ** 2)
    direction = np.array([0.45, -0.74, 0.49])
    return target + direction / np.linalg.norm(direction) * 3.2 * radius, target


def box_half(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Half-sides (scene units) of the box a grid over ``x`` and ``y`` is drawn in."""
    span_x, span_y = float(x[-1] - x[0]), float(y[-1] - y[0])
    big = max(span_x, span_y)
    return HALF_SPAN * max(span_x / big, MIN_ASPECT), HALF_SPAN * max(span_y / big, MIN_ASPECT)


def box_edges(half: tuple[float, float]) -> np.ndarray:
    """The box's twelve edges as float32 line-segment end points, shape (24, 3)."""
    hx, hy = half
    corners = np.array(
        [[x, y, z] for z in (0.0, HEIGHT) for x, y in ((-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy))]
    )
    return corners[_BOX_EDGES.ravel()].astype(np.float32)


def scene_heights(
    grid: np.ndarray, log: bool, value_range: tuple[float, float] | None = None
) -> np.ndarray:
    """Heights (ny, nx) in ``[0, HEIGHT]``, normalised as the colours are; NaN/inf
    cells at the largest finite height, and all zero without a finite value.

    ``value_range`` fixes the values at the bottom and top of the box (values
    beyond clamp), so that views of several surfaces compare; default the
    grid's own finite range.
    """
    rng = finite_range(grid) if value_range is None else tuple(map(float, value_range))
    if rng is None:
        return np.zeros(grid.shape, dtype=np.float64)
    z = np.clip(normalize(grid, rng[0], rng[1], log), 0.0, 1.0) * HEIGHT
    finite = np.isfinite(z)
    top = float(z[finite].max()) if finite.any() else 0.0
    return np.where(finite, z, top)


class Terrain:
    """A grid's heights placed in the scene: plane coordinates to scene points.

    Parameters
    ----------
    x, y : numpy.ndarray
        The grid's evenly spaced plane coordinates (nx,) and (ny,).
    heights : numpy.ndarray
        Finite scene heights (ny, nx), e.g. from :func:`scene_heights`.
    half : tuple of float
        Half-sides of the box, from :func:`box_half`.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, heights: np.ndarray, half) -> None:
        self.x, self.y, self.heights, self.half = x, y, heights, half

    def to_scene(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates to scene x, y (the grid's extent maps onto the box)."""
        (x0, x1), (y0, y1) = (self.x[0], self.x[-1]), (self.y[0], self.y[-1])
        hx, hy = self.half
        sx = (np.asarray(x, dtype=np.float64) - (x0 + x1) / 2) / ((x1 - x0) / 2) * hx
        sy = (np.asarray(y, dtype=np.float64) - (y0 + y1) / 2) / ((y1 - y0) / 2) * hy
        return sx, sy

    def indices(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Plane coordinates to fractional grid indices (column, row)."""
        fx = (np.asarray(x, dtype=np.float64) - self.x[0]) / (self.x[1] - self.x[0])
        fy = (np.asarray(y, dtype=np.float64) - self.y[0]) / (self.y[1] - self.y[0])
        return fx, fy

    def height_at(self, x: Any, y: Any) -> np.ndarray:
        """Height at plane points, bilinear in the grid cell (clamped to the grid)."""
        return bilinear(self.heights, *self.indices(x, y))

    def mesh_height_at(self, x: Any, y: Any) -> np.ndarray:
        """Height of the drawn mesh (linear on its triangles) at plane points."""
        return mesh_height(self.heights, *self.indices(x, y))

    def drape(self, xy: np.ndarray) -> np.ndarray:
        """A plane polyline (n, 2) as float32 scene points lying on the mesh, lifted
        by LINE_LIFT (split where it crosses the mesh's edges)."""
        dense = densify(np.stack(self.indices(xy[:, 0], xy[:, 1]), axis=1))
        x0, y0 = self.x[0], self.y[0]
        px = x0 + dense[:, 0] * (self.x[1] - x0)
        py = y0 + dense[:, 1] * (self.y[1] - y0)
        sx, sy = self.to_scene(px, py)
        z = mesh_height(self.heights, dense[:, 0], dense[:, 1]) + LINE_LIFT
        return np.stack([sx, sy, z], axis=1).astype(np.float32)

    def vertices(self) -> tuple[np.ndarray, np.ndarray]:
        """``(positions, normals)`` of the mesh's vertices, float32 (ny * nx, 3), row by row."""
        h = self.heights
        sx, sy = self.to_scene(self.x, self.y)
        pos = np.empty((*h.shape, 3), dtype=np.float32)
        pos[..., 0] = sx[None, :]
        pos[..., 1] = sy[:, None]
        pos[..., 2] = h
        # Normals of z = h(X, Y): (-dh/dX, -dh/dY, 1), normalised.
        dz_dy, dz_dx = np.gradient(h, sy, sx)
        nrm = np.stack([-dz_dx, -dz_dy, np.ones_like(h)], axis=-1)
        nrm /= np.linalg.norm(nrm, axis=-1, keepdims=True)
        return pos.reshape(-1, 3), nrm.reshape(-1, 3).astype(np.float32)
