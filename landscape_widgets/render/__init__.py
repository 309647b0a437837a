"""Renders at research scale: tiled, resumable, on a process pool or a Dask cluster.

Above the core and beside the widgets (which read its stores): :func:`render`
cuts a plane's grid into interleaved tiles and writes each finished one into a
Zarr v3 store, so that a killed render resumes where it stopped and a partial
one is already the whole picture at a coarser spacing; :func:`open_store`
reads a store back as a :class:`~landscape_widgets.core.results.Surface`.
``Landscape.render`` is :func:`render` as a method.
"""

from .run import RenderError, render
from .store import RenderStore, StoreError, StoreMismatch, open_store
from .tiling import DEFAULT_TILE, Tiling

__all__ = [
    "DEFAULT_TILE",
    "RenderError",
    "RenderStore",
    "StoreError",
    "StoreMismatch",
    "Tiling",
    "open_store",
    "render",
]
