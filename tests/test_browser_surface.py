"""SurfaceWidget in JupyterLab in a real Chromium: the three.js canvas draws a
coloured surface, and show() / points set from the kernel redraw it while the
kernel-side geometry objects stay the same.

pythreejs renders WebGL through SwiftShader here; the canvas cannot be read
with getImageData, so the test compares element screenshots (Pillow).
"""

from __future__ import annotations

import io
import json
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_notebook
from PIL import Image

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 480, 400
BACKGROUND = np.array([255, 255, 255])  # the renderer's clear colour

SETUP = textwrap.dedent(
    f"""
    import json
    import numpy as np
    from landscape_widgets import Surface, SurfaceWidget

    def ids(w, path):
        geo = w.geometry
        state = {{
            "geometry": geo.model_id,
            "mesh": w.mesh.model_id,
            "scene": w.scene.model_id,
            "position": geo.attributes["position"].model_id,
            "index": geo.index.model_id,
            "vertices": len(geo.attributes["position"].array),
            "points": [p["name"] for p in w.points],
        }}
        with open(path, "w") as f:
            json.dump(state, f)

    x = np.linspace(-1.0, 1.0, 9)
    y = np.linspace(-0.5, 0.5, 7)
    xx, yy = np.meshgrid(x, y)
    loss = 0.2 + xx**2 + 2.0 * yy**2 + 0.25 * xx * yy
    loss[1, 2] = np.nan
    w = SurfaceWidget(Surface(x, y, loss, anchors={{"w1": (0.0, 0.0), "w2": (0.5, -0.25)}}),
                      title="bowl 3D", width={WIDTH}, height={HEIGHT})
    ids(w, "ids0.json")
    w
    """
)

SHOW_OTHER = textwrap.dedent(
    """
    x2 = np.linspace(-2.0, 2.0, 15)
    y2 = np.linspace(-1.0, 1.0, 11)
    xx2, yy2 = np.meshgrid(x2, y2)
    w.show(Surface(x2, y2, 1.0 + np.sin(2 * xx2) * np.cos(3 * yy2) + 0.3 * xx2))
    ids(w, "ids1.json")
    """
)

SET_POINTS = textwrap.dedent(
    """
    w.points = [
        {"name": "probe", "x": 1.2, "y": 0.4, "role": "probe"},
        {"name": "a", "x": -1.5, "y": -0.6, "role": "path"},
        {"name": "b", "x": 1.5, "y": 0.8, "role": "path"},
    ]
    w.paths = [{"name": "ab", "kind": "segment", "points": ["a", "b"], "color": "black"}]
    ids(w, "ids2.json")
    """
)


def wait_for_file(path: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} was not written: the cell did not run")
        time.sleep(0.2)
    time.sleep(0.1)
    return json.loads(path.read_text())


def grab(canvas) -> np.ndarray:
    canvas.scroll_into_view_if_needed()
    return np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)


def drawn(img: np.ndarray) -> bool:
    """Whether the picture shows a surface: many colours, many pixels far from white."""
    far = np.abs(img - BACKGROUND).sum(axis=-1) > 150
    colours = len(np.unique(img.reshape(-1, 3), axis=0))
    return far.mean() > 0.08 and colours > 200


def wait_until(canvas, check, timeout: float = 60) -> np.ndarray:
    deadline = time.monotonic() + timeout
    while True:
        img = grab(canvas)
        if check(img):
            return img
        if time.monotonic() > deadline:
            return img
        time.sleep(0.5)


def changed(before: np.ndarray, fraction: float = 0.01):
    """A check that at least ``fraction`` of the pixels differ clearly from ``before``."""

    def check(img: np.ndarray) -> bool:
        if img.shape != before.shape:
            return True
        return (np.abs(img - before).sum(axis=-1) > 30).mean() > fraction

    return check


def orange(img: np.ndarray) -> np.ndarray:
    """Pixels of a lit probe marker (#ff8c00); viridis has no such colour."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return (r > 170) & (g > 70) & (g < r - 50) & (b < 60)


def save(img: np.ndarray, path: Path) -> None:
    Image.fromarray(img.astype(np.uint8)).save(path)


def test_surface_widget_draws_and_updates_in_place(lab_page, lab_server, artifacts):
    root = lab_server.root
    for name in ("ids0.json", "ids1.json", "ids2.json"):
        (root / name).unlink(missing_ok=True)
    write_notebook(root / "surface.ipynb", [SETUP, SHOW_OTHER, SET_POINTS])
    page = lab_page.page
    lab_page.open_notebook("surface.ipynb")

    lab_page.run_cell(0)
    ids0 = wait_for_file(root / "ids0.json")
    assert ids0["vertices"] == 9 * 7
    widget = page.locator(".lw-surface3d")
    widget.wait_for(timeout=60_000)
    canvas = widget.locator("canvas").first
    canvas.wait_for(timeout=60_000)
    legend = widget.locator(".lw-surface3d-legend")
    assert "bowl 3D" in legend.inner_text()
    assert "1 NaN/inf cell" in legend.inner_text()

    first = wait_until(canvas, drawn)
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=str(artifacts / "surface.png"))
    save(first, artifacts / "canvas-0.png")
    h, w_ = first.shape[:2]
    assert abs(w_ - WIDTH) <= 2 and abs(h - HEIGHT) <= 2, first.shape
    far = np.abs(first - BACKGROUND).sum(axis=-1) > 150
    assert far.mean() > 0.08, f"only {far.mean():.1%} of the canvas is drawn"
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 200
    # Both ends of viridis appear: the bowl's dark-purple bottom and its green-yellow rim.
    r, g, b = first[..., 0], first[..., 1], first[..., 2]
    purple = (b > r + 20) & (b > g + 20) & (r + g + b < 450)
    green = (g > r + 30) & (g > b + 10)
    assert purple.sum() > 1000 and green.sum() > 1000, (purple.sum(), green.sum())

    # show() another surface: the canvas changes, the kernel-side objects stay.
    lab_page.run_cell(1)
    ids1 = wait_for_file(root / "ids1.json")
    assert ids1["vertices"] == 15 * 11
    second = wait_until(canvas, changed(first))
    save(second, artifacts / "canvas-1.png")
    assert changed(first)(second), "the canvas did not change after show()"
    assert drawn(second)
    assert "NaN/inf" not in legend.inner_text()

    # Setting points (and a path through two of them) redraws too.
    lab_page.run_cell(2)
    ids2 = wait_for_file(root / "ids2.json")
    assert ids2["points"] == ["probe", "a", "b"]
    # Three small markers and a thin line: a small part of the canvas changes.
    third = wait_until(canvas, changed(second, 0.001))
    save(third, artifacts / "canvas-2.png")
    assert changed(second, 0.001)(third), "the canvas did not change after setting points"
    assert orange(second).sum() == 0 and orange(third).sum() > 20, orange(third).sum()
    # The black path "ab" is drawn on the surface (viridis itself has no near-black).
    dark = lambda img: (img.max(axis=-1) < 40).sum()  # noqa: E731
    assert dark(third) > dark(second) + 50, (dark(second), dark(third))
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=str(artifacts / "surface-points.png"))

    for key in ("geometry", "mesh", "scene", "position", "index"):
        assert ids0[key] == ids1[key] == ids2[key], key
    lab_page.assert_no_console_errors()
