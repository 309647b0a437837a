"""Interleaved tiles of a grid: a render a tenth done is the whole window, coarser.

A grid of ``ny x nx`` points is cut with strides ``(sy, sx)``, powers of two:
tile ``(a, b)`` holds the rows ``a, a + sy, a + 2 sy, ...`` and the columns
``b, b + sx, ...``. Tiles are taken coarse to fine: first ``(0, 0)`` (every
``sy``-th row and ``sx``-th column, the whole window at the coarsest
spacing), then the tiles that halve the spacing, and so on, so that after
any prefix of the order the finished tiles cover the window evenly.

The store keeps each metric as one array of shape ``(sy, sx, th, tw)``, one
chunk per tile (``th = ceil(ny / sy)``; a tile's cells past the grid's edge
stay NaN): a finished tile is one chunk written whole, and
:meth:`Tiling.assemble` turns the array back into the ``(ny, nx)`` grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_TILE", "Tiling"]

#: Points per side a tile aims at by default: 64 x 64 points are seconds of
#: work for the teaching models and well under a second of writing.
DEFAULT_TILE = 64


def _stride(n: int, tile: int) -> int:
    """The power of two that cuts ``n`` points into runs of at most ``tile``."""
    return 1 << max(0, math.ceil(math.log2(max(1, math.ceil(n / tile)))))


def _level(offset: int, stride: int) -> int:
    """0 for the coarsest lattice, 1 for the offsets that halve its spacing, ..."""
    if offset == 0:
        return 0
    trailing = (offset & -offset).bit_length() - 1
    return stride.bit_length() - 1 - trailing


@dataclass(frozen=True)
class Tiling:
    """How one ``ny x nx`` grid is cut into interleaved tiles.

    Attributes
    ----------
    shape : (ny, nx)
        The grid.
    strides : (sy, sx)
        Powers of two; there are ``sy * sx`` tiles.
    tile_shape : (th, tw)
        The largest tile, ``(ceil(ny / sy), ceil(nx / sx))``: the store's chunk.

    Examples
    --------
    >>> t = Tiling.of((100, 100), tile=32)
    >>> t.strides, t.tile_shape, len(t.order())
    ((4, 4), (25, 25), 16)
    >>> t.order()[:4]
    [(0, 0), (0, 2), (2, 0), (2, 2)]
    """

    shape: tuple[int, int]
    strides: tuple[int, int]

    @classmethod
    def of(cls, shape: tuple[int, int], tile: int | tuple[int, int] = DEFAULT_TILE) -> Tiling:
        """The tiling of ``shape`` into tiles of at most ``tile`` points a side (or (th, tw))."""
        th, tw = tile if isinstance(tile, (tuple, list)) and len(tile) == 2 else (tile, tile)
        for name, value in (("tile height", th), ("tile width", tw)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"tile must be a positive number of points, not {name}={value!r}")
        ny, nx = (int(n) for n in shape)
        return cls((ny, nx), (_stride(ny, th), _stride(nx, tw)))

    @property
    def tile_shape(self) -> tuple[int, int]:
        (ny, nx), (sy, sx) = self.shape, self.strides
        return -(-ny // sy), -(-nx // sx)

    @property
    def count(self) -> int:
        return self.strides[0] * self.strides[1]

    def order(self) -> list[tuple[int, int]]:
        """Every tile ``(a, b)``, coarse to fine (see the module's docstring)."""
        sy, sx = self.strides
        tiles = [(a, b) for a in range(sy) for b in range(sx)]
        return sorted(tiles, key=lambda t: (max(_level(t[0], sy), _level(t[1], sx)), t))

    def rows_cols(self, tile: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The grid rows and columns of one tile."""
        (ny, nx), (sy, sx) = self.shape, self.strides
        a, b = tile
        return np.arange(a, ny, sy), np.arange(b, nx, sx)

    def indices(self, tile: tuple[int, int]) -> np.ndarray:
        """Flat, row-major indices into the ``(ny, nx)`` grid of one tile's points."""
        rows, cols = self.rows_cols(tile)
        return (rows[:, None] * self.shape[1] + cols[None, :]).reshape(-1)

    def block(self, tile: tuple[int, int], values: np.ndarray) -> np.ndarray:
        """One tile's values (in :meth:`indices` order) as its padded ``(th, tw)`` chunk."""
        rows, cols = self.rows_cols(tile)
        out = np.full(self.tile_shape, np.nan)
        out[: len(rows), : len(cols)] = np.asarray(values, dtype=np.float64).reshape(
            len(rows), len(cols)
        )
        return out

    def assemble(self, tiled: np.ndarray) -> np.ndarray:
        """The ``(ny, nx)`` grid from the store's ``(sy, sx, th, tw)`` array."""
        (ny, nx), (sy, sx), (th, tw) = self.shape, self.strides, self.tile_shape
        # grid[i * sy + a, j * sx + b] = tiled[a, b, i, j]
        full = np.asarray(tiled).transpose(2, 0, 3, 1).reshape(th * sy, tw * sx)
        return full[:ny, :nx]

    def cell_mask(self, tiles_done: np.ndarray) -> np.ndarray:
        """``(ny, nx)`` bool: the cells of the finished tiles (``tiles_done`` is ``(sy, sx)``)."""
        (th, tw) = self.tile_shape
        per_cell = np.broadcast_to(
            np.asarray(tiles_done, bool)[:, :, None, None], (*self.strides, th, tw)
        )
        return self.assemble(per_cell)
