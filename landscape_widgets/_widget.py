"""The 2D loss-map widget: a computed Surface drawn as a filled colour map.

State crosses the wire as binary: the grid travels as little-endian float32
bytes plus its shape, decoded in one place on the JS side
(``js/src/codec.js``). NaN and inf survive the trip and are drawn as masked
cells with a legend entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from ._render import check_anchors, colormap_names, surface_arrays

_STATIC = Path(__file__).parent / "static"


def encode_grid(grid: np.ndarray) -> bytes:
    """A 2-D grid as little-endian float32 bytes in C order (NaN and inf kept)."""
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(grid, dtype="<f4").tobytes()


def decode_grid(data: bytes, shape: tuple[int, int] | list[int]) -> np.ndarray:
    """Inverse of :func:`encode_grid`: bytes and shape back to a float32 array."""
    return np.frombuffer(data, dtype="<f4").reshape(tuple(shape)).astype(np.float32)


class LandscapeWidget(anywidget.AnyWidget):
    """A loss surface in the notebook: filled colour map, colour bar, anchors.

    Parameters
    ----------
    surface : Surface, optional
        What :meth:`Landscape.evaluate` returns (anything with ``x``, ``y``,
        ``loss`` and optionally ``metrics`` and ``anchors``). Without one the
        widget shows "no data" until :meth:`show` is called.
    metric : str
        ``"loss"`` (default) or a key of ``surface.metrics`` to draw instead.
    colormap, log_scale, title, width, height
        Initial values of the traits of the same names.

    Unknown keyword arguments raise TypeError, so a typo is not silently lost.

    Examples
    --------
    >>> surf = Landscape(model, loss_fn, (X, y)).evaluate(plane)  # doctest: +SKIP
    >>> LandscapeWidget(surf, log_scale=True, title="spirals MLP")  # doctest: +SKIP
    """

    _esm = _STATIC / "landscape.js"

    loss = traitlets.Bytes(
        b"", help="bytes: the grid as little-endian float32, C order; default b''"
    ).tag(sync=True)
    shape = traitlets.List(
        traitlets.Int(min=0),
        default_value=[0, 0],
        minlen=2,
        maxlen=2,
        help="[ny, nx]: rows (y) and columns (x) of the grid; default [0, 0]",
    ).tag(sync=True)
    x_range = traitlets.List(
        traitlets.Float(),
        default_value=[0.0, 1.0],
        minlen=2,
        maxlen=2,
        help="[first, last] x coordinate of the grid's columns; default [0, 1]",
    ).tag(sync=True)
    y_range = traitlets.List(
        traitlets.Float(),
        default_value=[0.0, 1.0],
        minlen=2,
        maxlen=2,
        help="[first, last] y coordinate of the grid's rows; default [0, 1]",
    ).tag(sync=True)
    anchors = traitlets.Dict(
        default_value={}, help="{name: [x, y]}: labelled markers in plane coordinates; default {}"
    ).tag(sync=True)
    colormap = traitlets.Enum(
        colormap_names(), default_value="viridis", help="str: colour map name; default 'viridis'"
    ).tag(sync=True)
    log_scale = traitlets.Bool(False, help="bool: logarithmic colour scale; default False").tag(
        sync=True
    )
    title = traitlets.Unicode("", help="str: drawn above the map; default ''").tag(sync=True)
    width = traitlets.Int(560, min=200, help="int: canvas width in CSS pixels; default 560").tag(
        sync=True
    )
    height = traitlets.Int(440, min=150, help="int: canvas height in CSS pixels; default 440").tag(
        sync=True
    )

    def __init__(self, surface: Any = None, *, metric: str = "loss", **kwargs: Any) -> None:
        allowed = {"colormap", "log_scale", "title", "width", "height", "layout"}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(
                f"LandscapeWidget() got unexpected keyword argument(s) {', '.join(unknown)}; "
                f"accepted: surface, metric, {', '.join(sorted(allowed))}"
            )
        super().__init__(**kwargs)
        self.surface = None
        self.metric = metric
        if surface is not None:
            self.show(surface, metric=metric)

    @traitlets.validate("anchors")
    def _check_anchors(self, proposal: dict) -> dict:
        try:
            checked = check_anchors(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None
        return {name: [x, y] for name, (x, y) in checked.items()}

    @traitlets.validate("loss")
    def _check_loss(self, proposal: dict) -> bytes:
        value = proposal["value"]
        if len(value) % 4:
            raise traitlets.TraitError(f"loss must be float32 bytes, got {len(value)} bytes")
        return value

    def show(self, surface: Any, *, metric: str | None = None) -> None:
        """Display another surface (or another metric of it) in this widget.

        All traits change in one message, so the front-end redraws once.
        """
        metric = self.metric if metric is None else metric
        x, y, grid, anchors = surface_arrays(surface, metric)
        with self.hold_sync():
            self.shape = [int(grid.shape[0]), int(grid.shape[1])]
            self.loss = encode_grid(grid)
            self.x_range = [float(x[0]), float(x[-1])]
            self.y_range = [float(y[0]), float(y[-1])]
            self.anchors = {name: [ax, ay] for name, (ax, ay) in anchors.items()}
        self.surface = surface
        self.metric = metric

    @property
    def grid(self) -> np.ndarray:
        """The grid currently in the widget state, decoded (float32, (ny, nx))."""
        return decode_grid(self.loss, self.shape)

    def save_png(self, path: Any, size: tuple[int, int] | None = None) -> Path:
        """Write what the widget shows to a PNG with the headless renderer."""
        from ._render import render_png

        if self.surface is None:
            raise ValueError("the widget has no surface to save")
        return render_png(
            self.surface,
            path,
            colormap=self.colormap,
            log=self.log_scale,
            size=size or (self.width, self.height),
            title=self.title or None,
            metric=self.metric,
        )
