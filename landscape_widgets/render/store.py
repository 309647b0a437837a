"""The on-disk store of a tiled render: a Zarr v3 group that a killed job resumes from.

Layout (``PATH`` is a directory)::

    PATH/zarr.json        attributes: "landscape_widgets" = the render's spec
    PATH/x, PATH/y        the grid's axes, float64
    PATH/<metric>         (sy, sx, th, tw) float64, one chunk per tile (see .tiling)
    PATH/tiles_done       (sy, sx) uint8, one chunk per tile: 1 once the tile is written

A tile's values are written before its done flag, and Zarr's local store
writes each chunk to a temporary file and renames it, so a process killed at
any moment leaves every tile either finished and marked, or unmarked (and
computed again by the next run). The spec says everything a resume must
match (plane, window, resolution, tiling, metrics, BatchNorm policy, dtype,
fingerprints of the weights and the data, the loss, the strategy) and what a
reader needs to draw the result (axis names, anchors).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from scipy.ndimage import distance_transform_edt

from ..core.results import Surface
from .tiling import Tiling

__all__ = [
    "COMPARED",
    "FORMAT",
    "RenderStore",
    "StoreError",
    "StoreMismatch",
    "open_store",
    "tiled_surface",
]

FORMAT = "landscape-widgets render store"
VERSION = 1
#: What a resumed render must share with the store, in the order a message names them.
COMPARED = (
    "plane",
    "bounds",
    "resolution",
    "tile_strides",
    "metrics",
    "model",
    "data",
    "loss",
    "bn",
    "dtype",
)
_ATTR = "landscape_widgets"
_DONE = "tiles_done"


class StoreError(ValueError):
    """A path that is not a readable render store (absent, foreign, truncated)."""


class StoreMismatch(ValueError):
    """A store made for another render; ``differences`` names what differs."""

    def __init__(self, path, differences: dict):
        self.differences = differences
        parts = [
            f"{k}: store has {_short(a)}, this render {_short(b)}"
            for k, (a, b) in differences.items()
        ]
        super().__init__(
            f"{path} holds another render ({'; '.join(parts)}); use another store, or "
            "overwrite=True to start this one over"
        )


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _zarr():
    # deferred: zarr is needed only by renders, and takes a while to import
    import zarr

    return zarr


class RenderStore:
    """One render's store: its spec, its tiling and the tiles finished so far."""

    def __init__(self, path: Path, group, spec: dict):
        self.path, self._group, self.spec = path, group, spec
        ny, nx = spec["resolution"][1], spec["resolution"][0]
        self.tiling = Tiling((ny, nx), tuple(spec["tile_strides"]))
        self.metrics = list(spec["metrics"])

    # ------------------------------------------------------------ open / create
    @classmethod
    def create(cls, path, spec: dict, x: np.ndarray, y: np.ndarray, tiling: Tiling) -> RenderStore:
        """A new, empty store at ``path`` (which must not hold anything)."""
        zarr = _zarr()
        path = Path(path)
        spec = {"format": FORMAT, "version": VERSION, **spec, "tile_strides": list(tiling.strides)}
        group = zarr.open_group(str(path), mode="w-", zarr_format=3)
        for name, axis in (("x", x), ("y", y)):
            arr = group.create_array(name, shape=axis.shape, dtype="float64")
            arr[:] = np.asarray(axis, dtype=np.float64)
        chunk = (1, 1, *tiling.tile_shape)
        for metric in spec["metrics"]:
            group.create_array(
                metric,
                shape=(*tiling.strides, *tiling.tile_shape),
                chunks=chunk,
                dtype="float64",
                fill_value=np.nan,
            )
        group.create_array(_DONE, shape=tiling.strides, chunks=(1, 1), dtype="uint8", fill_value=0)
        # the spec last: a store without it is one whose creation was cut short
        group.attrs[_ATTR] = spec
        return cls(path, group, spec)

    @classmethod
    def open(cls, path, mode: str = "r") -> RenderStore:
        """An existing store; ``mode="r+"`` to add tiles. Raises :class:`StoreError`."""
        zarr = _zarr()
        path = Path(path)
        if not path.exists():
            raise StoreError(f"no render store at {path}")
        try:
            group = zarr.open_group(str(path), mode=mode, zarr_format=3)
            spec = dict(group.attrs).get(_ATTR)
        except Exception as err:  # zarr raises many kinds for a damaged or foreign folder
            raise StoreError(f"{path} is not a readable Zarr v3 render store: {err}") from err
        if not isinstance(spec, dict) or spec.get("format") != FORMAT:
            raise StoreError(
                f"{path} is not a landscape-widgets render store (no {_ATTR!r} spec in its "
                "attributes; its creation may have been cut short: render again with "
                "overwrite=True)"
            )
        if spec.get("version") != VERSION:
            raise StoreError(f"{path} is a version {spec.get('version')} store, not {VERSION}")
        missing = [n for n in ("x", "y", _DONE, *spec["metrics"]) if n not in group]
        if missing:
            raise StoreError(f"{path} is truncated: it lacks the arrays {missing}")
        return cls(path, group, spec)

    @classmethod
    def for_render(cls, path, spec: dict, x, y, tiling: Tiling, overwrite: bool) -> RenderStore:
        """Resume the store at ``path`` if it holds this render, else start it.

        A store of another render raises :class:`StoreMismatch` (nothing is
        written) unless ``overwrite``; a folder that is not a store is never
        deleted.
        """
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            store = cls.open(path, mode="r+")
            wanted = {**spec, "tile_strides": list(tiling.strides)}
            diff = {
                k: (store.spec.get(k), wanted.get(k))
                for k in COMPARED
                if _canon(store.spec.get(k)) != _canon(wanted.get(k))
            }
            forced = spec.get("strategy_requested")
            if forced not in (None, "auto") and forced != store.spec.get("strategy"):
                diff["strategy"] = (store.spec.get("strategy"), forced)
            if not diff:
                return store
            if not overwrite:
                raise StoreMismatch(path, diff)
            shutil.rmtree(path)
        elif path.exists():
            path.rmdir()  # empty: zarr's mode "w-" wants it absent
        return cls.create(path, spec, x, y, tiling)

    # ------------------------------------------------------------------ tiles
    def tiles_done(self) -> np.ndarray:
        """``(sy, sx)`` bool: which tiles are finished."""
        return np.asarray(self._group[_DONE][...]).astype(bool)

    def write_tile(self, tile: tuple[int, int], values: dict[str, np.ndarray]) -> None:
        """Store one tile's values (flat, in ``tiling.indices(tile)`` order), then mark it."""
        a, b = tile
        for metric in self.metrics:
            self._group[metric][a, b] = self.tiling.block(tile, values[metric])
        self._group[_DONE][a, b] = 1

    def set_spec(self, **changes) -> None:
        """Update the spec's attributes (e.g. the strategy once it is chosen)."""
        self.spec = {**self.spec, **changes}
        self._group.attrs[_ATTR] = self.spec

    # ----------------------------------------------------------------- reading
    def surface(self, filled: bool = False) -> Surface:
        """The grid so far; ``provenance["render"]`` counts the tiles.

        Unfinished cells are NaN, or with ``filled=True`` the value of the
        nearest finished cell (a partial render as a picture, as the map shows
        a grid streaming in); ``surface.computed`` marks the finished ones.
        """
        grids = {m: self._group[m][...] for m in self.metrics}
        x, y = self._group["x"][...], self._group["y"][...]
        return tiled_surface(
            self.spec, self.tiling, x, y, grids, self.tiles_done(), str(self.path), filled
        )


def tiled_surface(spec, tiling, x, y, tiled: dict, done, store, filled: bool) -> Surface:
    """A render's Surface from its tile-major arrays and done flags (see ``surface()``)."""
    grids = {m: tiling.assemble(a) for m, a in tiled.items()}
    computed = tiling.cell_mask(done)
    if filled and computed.any() and not computed.all():
        # every cell's nearest finished cell, by Euclidean distance in grid steps
        _, (iy, ix) = distance_transform_edt(~computed, return_indices=True)
        grids = {m: g[iy, ix] for m, g in grids.items()}
    plane = spec["plane"]
    complete = bool(done.all())
    prov = dict(spec.get("provenance", {}))
    prov.update(
        render={
            "store": store,
            "tiles_done": int(done.sum()),
            "tiles": int(done.size),
            "fraction_done": float(done.mean()),
            "cells_done": int(computed.sum()),
        },
        strategy=spec.get("strategy"),
        axis_names=list(plane.get("axis_names", ("x", "y"))),
        kind=plane.get("kind"),
    )
    if "same_units" in plane:
        prov["same_units"] = plane["same_units"]
    return Surface(
        np.asarray(x),
        np.asarray(y),
        grids["loss"].copy(),
        grids,
        {k: tuple(v) for k, v in plane.get("anchors", {}).items()},
        prov,
        0,
        complete,
        None if complete else computed,
    )


def _canon(value):
    """JSON-equal values compare equal (tuples and lists, ints and floats of one value)."""
    return json.loads(json.dumps(value, sort_keys=True))


def open_store(path, filled: bool = False) -> Surface:
    """Read a finished or partial render store as a :class:`Surface`.

    Unfinished cells are NaN (``surface.computed`` marks the others), or the
    nearest finished cell's value with ``filled=True``;
    ``surface.provenance["render"]`` says how many tiles are done.

    Examples
    --------
    >>> surface = open_store("landscape.zarr")  # doctest: +SKIP
    >>> surface.provenance["render"]["fraction_done"]  # doctest: +SKIP
    0.25
    """
    return RenderStore.open(path).surface(filled)
