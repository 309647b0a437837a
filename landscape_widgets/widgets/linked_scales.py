"""One colour scale for several maps and 3D views, so that they can be compared.

Maps side by side (Li et al.'s grid of normalisations, nets with and without
skip connections, a surface on 100 samples beside one on 10,000) are read by
their colours; each with its own range, "this one is flatter" can only be read
off the colour bars. :func:`link_color_range` gives them one range, the union
of what they show, and keeps it up to date as their grids change.

A map of a bounded quantity (the |lambda_min/lambda_max| ratio, in [0, 1])
is read against its natural range, not against its own spread, which makes
a nearly convex map look uniformly bright: such a surface says so in
``provenance["value_range"]`` (:func:`natural_range`) and a map given no
``color_range`` takes it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import traitlets

from ..output.png import finite_range

__all__ = [
    "ColorRangeLink",
    "check_color_range",
    "color_range_trait",
    "link_color_range",
    "natural_range",
]


def color_range_trait(what: str, more: str = "") -> traitlets.List:
    """The ``color_range`` trait of a map or 3D view: ``[lo, hi]`` or ``[]``.

    ``more`` is added to the help text, before its default.
    """
    return traitlets.List(
        traitlets.Float(),
        default_value=[],
        maxlen=2,
        help=f"[lo, hi]: the values at {what}, shared by widgets that are compared (see "
        f"link_color_range); values beyond clamp; [] takes the grid's own finite range{more}; "
        "default []",
    )


def natural_range(surface: Any) -> tuple[float, float] | None:
    """The range a surface's quantity is bounded to, from ``provenance["value_range"]``
    (``[lo, hi]``, finite, lo < hi); None when it gives none or none that fits.

    Examples
    --------
    >>> natural_range(Surface(x, y, ratio, provenance={"value_range": [0, 1]}))  # doctest: +SKIP
    (0.0, 1.0)
    """
    value = (getattr(surface, "provenance", None) or {}).get("value_range")
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (lo, hi) if np.isfinite([lo, hi]).all() and lo < hi else None


def check_color_range(value) -> list[float]:
    """``value`` as ``[lo, hi]`` (finite, lo <= hi) or ``[]``; TraitError otherwise."""
    v = [float(a) for a in value]
    if v and (len(v) != 2 or not np.isfinite(v).all() or v[0] > v[1]):
        raise traitlets.TraitError(f"color_range is [lo, hi] with finite lo <= hi, not {v}")
    return v


def _shown(widget: Any) -> np.ndarray | None:
    """The values a map or 3D view colours now (None before its first grid)."""
    grid = widget.grid
    return None if grid is None or not np.size(grid) else np.asarray(grid)


class ColorRangeLink:
    """Keeps the ``color_range`` of several widgets equal to the range of all their grids.

    Made by :func:`link_color_range`. ``range`` is the current shared range
    (None before any finite value); :meth:`unlink` stops following and gives
    each widget its own range back.
    """

    def __init__(self, widgets: list[Any], fixed: tuple[float, float] | None = None):
        self.widgets = widgets
        self.fixed = fixed
        self.range: tuple[float, float] | None = None
        self._lock = threading.Lock()
        self._hooks: list = []
        for w in widgets:
            if hasattr(w, "on_surface"):  # a map: each grid shown, each streamed level too
                w.observe(self._changed, names="loss")
                self._hooks.append((w, "loss"))
            else:  # a 3D view: its shown surface
                w.on_show(self._changed)
                self._hooks.append((w, None))
        self.update()

    def _changed(self, *_: Any) -> None:
        self.update()

    def update(self) -> None:
        """Recompute the shared range and give it to every widget."""
        with self._lock:
            if self.fixed is not None:
                rng = self.fixed
            else:
                ends = [finite_range(g) for g in map(_shown, self.widgets) if g is not None]
                ends = [e for e in ends if e is not None]
                rng = (min(e[0] for e in ends), max(e[1] for e in ends)) if ends else None
            self.range = rng
            value = [] if rng is None else [float(rng[0]), float(rng[1])]
            for w in self.widgets:
                if list(w.color_range) != value:
                    w.color_range = value

    def unlink(self) -> None:
        """Stop following the grids; every widget goes back to its own range."""
        for w, name in self._hooks:
            if name is not None:
                w.unobserve(self._changed, names=name)
            else:
                w.on_show(self._changed, remove=True)
        self._hooks.clear()
        for w in self.widgets:
            w.color_range = []


def link_color_range(
    *widgets: Any, value_range: tuple[float, float] | None = None
) -> ColorRangeLink:
    """Give maps (:class:`LandscapeWidget`) and 3D views (:class:`SurfaceWidget`) one colour scale.

    The range is the smallest and largest finite value that any of them shows,
    recomputed whenever one of them gets a new grid (a live map's streamed
    levels, pans and zooms), or ``value_range`` when given (say ``(0, 1)`` for
    a bounded quantity). Each widget keeps its own log or linear choice.

    Examples
    --------
    >>> maps = [LandscapeWidget(ls, plane) for ls in (small, large)]  # doctest: +SKIP
    >>> link = link_color_range(*maps)  # doctest: +SKIP
    >>> link.range  # doctest: +SKIP
    (0.021, 6.65)
    """
    if len(widgets) == 1 and isinstance(widgets[0], (list, tuple)):
        widgets = tuple(widgets[0])
    for w in widgets:
        if not hasattr(w, "color_range"):
            raise TypeError(
                f"link_color_range takes LandscapeWidget and SurfaceWidget objects, "
                f"not {type(w).__name__}"
            )
    if value_range is not None:
        lo, hi = (float(v) for v in value_range)
        if not (np.isfinite([lo, hi]).all() and lo <= hi):
            raise ValueError(
                f"value_range must be finite (lo, hi) with lo <= hi, not {value_range}"
            )
        value_range = (lo, hi)
    return ColorRangeLink(list(widgets), value_range)
