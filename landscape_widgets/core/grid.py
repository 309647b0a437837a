"""The grid of one evaluation, filled coarse to fine.

:meth:`Landscape.stream` evaluates level k of L at every ``2**(L-1-k)``-th
grid point (plus the last row and column) not yet known. Between levels, a
cell not yet evaluated shows its nearest evaluated neighbour, so every level
yields a complete-looking :class:`~landscape_widgets.core.results.Surface`
(or :class:`~landscape_widgets.core.results.Profile` for a line).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .planes import Line, grid_axis
from .results import Profile, Surface

__all__ = ["MAX_GRID_POINTS", "Grid", "chunks", "default_levels", "level_mask", "nearest_known"]

#: The default most points of one grid (2000 x 2000): some 250 MB of coordinates and results.
MAX_GRID_POINTS = 4_000_000
# bytes a grid point takes: float64 (x, y), its axes' meshgrid, the done flag;
# then per metric a float64 value and the result's two copies of it
_POINT_BYTES, _METRIC_BYTES = 33, 24


@dataclass
class Grid:
    """Coordinates and result arrays of one evaluation.

    Attributes
    ----------
    xs, ys : Tensor
        The float64 axes; ``ys`` is ``[0.0]`` for a line.
    coords : Tensor
        ``(K, 2)`` float64 ``(x, y)`` rows, row-major over ``(y, x)``.
    shape : (ny, nx)
    values : dict
        ``{metric: (K,) float64 array}``, NaN where not computed.
    done : ndarray
        ``(K,)`` bool: which points are computed.
    is_line : bool
        Whether the target is a Line (results are Profiles).
    """

    xs: torch.Tensor
    ys: torch.Tensor
    coords: torch.Tensor
    shape: tuple[int, int]
    values: dict[str, np.ndarray]
    done: np.ndarray
    is_line: bool

    @classmethod
    def over(
        cls,
        target,
        resolution: int | tuple[int, int],
        bounds: Sequence[float] | None,
        margin: float | None,
        metrics: Sequence[str],
        max_points: int = MAX_GRID_POINTS,
    ) -> Grid:
        """An empty grid over ``target`` (a Plane or a Line); see :meth:`Landscape.evaluate`.

        A grid of more than ``max_points`` points is refused before anything
        is allocated, with its size and memory in the message.
        """
        is_line = isinstance(target, Line)
        nx, ny = _resolution(resolution)
        if is_line:
            ny = 1
        if nx * ny > max_points:
            gb = nx * ny * (_POINT_BYTES + _METRIC_BYTES * len(metrics)) / 1e9
            raise ValueError(
                f"resolution {resolution!r} asks for {nx} x {ny} = {nx * ny:,} points "
                f"(about {gb:.3g} GB), more than max_points={max_points:,}; lower the "
                "resolution, or raise the limit with Landscape(..., max_points=...)"
            )
        lo_hi = tuple(bounds) if bounds is not None else target.default_bounds(margin)
        if is_line:
            if len(lo_hi) != 2:
                raise ValueError("bounds for a line are (tmin, tmax)")
            ys = torch.zeros(1, dtype=torch.float64)
        else:
            if len(lo_hi) != 4:
                raise ValueError("bounds for a plane are (xmin, xmax, ymin, ymax)")
            ys = grid_axis(lo_hi[2], lo_hi[3], ny)
        xs = grid_axis(lo_hi[0], lo_hi[1], nx)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        coords = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
        values = {m: np.full(nx * ny, np.nan) for m in metrics}
        return cls(xs, ys, coords, (ny, nx), values, np.zeros(nx * ny, dtype=bool), is_line)

    @property
    def size(self) -> int:
        return len(self.done)

    def todo(self, stride: int) -> np.ndarray:
        """Indices of the level with this stride that are not computed yet."""
        return np.flatnonzero(level_mask(*self.shape, stride) & ~self.done)

    def fill(self, engine, idx: np.ndarray) -> None:
        """Evaluate the points ``idx`` with ``engine`` and store their values."""
        vals = engine.run(self.coords[idx])
        for m, column in self.values.items():
            column[idx] = vals[m].double().cpu().numpy()
        self.done[idx] = True

    def result(
        self, target, stride: int, provenance: dict, level: int, done: bool
    ) -> Surface | Profile:
        """The grid as a result: cells not computed show their nearest neighbour on ``stride``."""
        ny, nx = self.shape
        vals = {m: v.reshape(ny, nx) for m, v in self.values.items()}
        computed = self.done.reshape(ny, nx).copy()
        if not done:
            iy, ix = nearest_known(ny, stride), nearest_known(nx, stride)
            vals = {m: v[np.ix_(iy, ix)] for m, v in vals.items()}
        if self.is_line:
            return Profile(
                self.xs.numpy(),
                vals["loss"][0].copy(),
                {m: v[0].copy() for m, v in vals.items()},
                dict(target.anchors),
                provenance,
            )
        return Surface(
            self.xs.numpy(),
            self.ys.numpy(),
            vals["loss"].copy(),
            {m: v.copy() for m, v in vals.items()},
            dict(target.anchors),
            provenance,
            level,
            done,
            None if done else computed,
        )


def _resolution(resolution) -> tuple[int, int]:
    """``(nx, ny)`` from a resolution: one whole number of points per axis, or a pair."""

    def whole(r) -> bool:
        return isinstance(r, numbers.Integral) and not isinstance(r, bool) and r >= 2

    pair = isinstance(resolution, (tuple, list, np.ndarray)) and np.shape(resolution) == (2,)
    if whole(resolution):
        return int(resolution), int(resolution)
    if pair and all(whole(r) for r in resolution):
        return int(resolution[0]), int(resolution[1])
    raise ValueError(
        "resolution must be a whole number of points per axis (at least 2) or a pair "
        f"(nx, ny) of them, not {resolution!r}"
    )


def default_levels(shape: tuple[int, int]) -> int:
    """Levels for a grid of this shape: 1 below 16 points a side, 2 below 32, else 3."""
    return max(1, min(3, int(math.log2(max(shape) / 8)) + 1))


def level_mask(ny: int, nx: int, stride: int) -> np.ndarray:
    """``(ny * nx,)`` bool: the points of every ``stride``-th row and column, and the last ones."""

    def axis(n):
        keep = np.zeros(n, dtype=bool)
        keep[::stride] = True
        keep[-1] = True
        return keep

    return (axis(ny)[:, None] & axis(nx)[None, :]).reshape(-1)


def nearest_known(n: int, stride: int) -> np.ndarray:
    """For each index, the nearest index on the stride grid (which includes n - 1)."""
    known = np.unique(np.r_[np.arange(0, n, stride), n - 1])
    pos = np.searchsorted(known, np.arange(n))
    lo = known[np.clip(pos - 1, 0, len(known) - 1)]
    hi = known[np.clip(pos, 0, len(known) - 1)]
    idx = np.arange(n)
    return np.where(np.abs(idx - lo) <= np.abs(hi - idx), lo, hi)


def chunks(idx: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """``idx`` in consecutive pieces of ``size``."""
    for s in range(0, len(idx), size):
        yield idx[s : s + size]
