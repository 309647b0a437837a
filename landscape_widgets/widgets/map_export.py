"""The map as files: a PNG drawn without a browser, a page that needs no kernel.

The drawing and the page are the output layer's (:mod:`..output.png`,
:mod:`..output.html`); these methods hand them the widget's current grid and
settings.

:class:`MapExport` is a mixin of :class:`LandscapeWidget`, not a part
composed into it: ``w.save_png(path)`` is the widget's public API and reads
only the widget's own state, so a mixin keeps it on the widget without a
forwarding method.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..output.html import export_html
from ..output.png import render_png


class MapExport:
    """``save_png`` and ``save_html`` (a mixin of :class:`LandscapeWidget`)."""

    def save_png(self, path: Any, size: tuple[int, int] | None = None) -> Path:
        """Write the current grid to a PNG with the headless renderer (no browser needed).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write.
        size : (width, height), optional
            In pixels; default the widget's ``width`` and ``height``.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        if self.surface is None:
            raise ValueError("the widget has no surface to save")
        surface = self.surface
        if self.anchors:
            # the anchors as they are on the map now, not as the surface had them
            anchors = {name: tuple(xy) for name, xy in self.anchors.items()}
            surface = dataclasses.replace(surface, anchors=anchors)
        return render_png(
            surface,
            path,
            colormap=self.colormap,
            log=self.log_scale,
            size=size or (self.width, self.height),
            title=self.title or None,
            metric=self.metric,
            value_range=tuple(self.color_range) if self.color_range else None,
            axis_names=(self.xlabel or "x", self.ylabel or "y"),
            # a live map's window already has the plot's shape
            aspect="equal" if self.aspect == "equal" and self.landscape is None else "free",
        )

    def save_html(self, path: Any, title: str | None = None) -> Path:
        """Write the widget as it is now to one HTML file that shows it with no kernel.

        See :func:`export_html`; drags and pan/zoom in that page move the
        view but compute nothing (there is no kernel).
        """
        return export_html(path, self, title=title or self.title or "landscape-widgets")
