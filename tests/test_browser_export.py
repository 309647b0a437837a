"""A page written by export_html renders in Chromium from file:// with no kernel,
no JupyterLab and no network: the anywidget map, a bqplot line plot (on a white
plot area) and a pythreejs mesh."""

from __future__ import annotations

import io
import time

import bqplot as bq
import ipywidgets as W
import numpy as np
import pytest
import pythreejs as p3
from conftest import LONGEST_LINE_JS, bowl_surface, console_errors
from PIL import Image

from landscape_widgets import LandscapeWidget
from landscape_widgets.output.html import export_html

pytestmark = pytest.mark.browser

# Distinct colours of the map's 2D canvas, whatever the device pixel ratio.
MAP_COLOURS_JS = """() => {
  const c = document.querySelector('.lw-landscape canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return seen.size;
}"""


def page_widgets():
    lw = LandscapeWidget(bowl_surface(), title="bowl", width=420, height=320)
    xs, ys = bq.LinearScale(), bq.LinearScale()
    x = np.linspace(0.0, 1.0, 40)
    line = bq.Lines(x=x, y=np.sin(6 * x), scales={"x": xs, "y": ys}, colors=["#1f77b4"])
    fig = bq.Figure(
        marks=[line],
        axes=[bq.Axis(scale=xs, label="x"), bq.Axis(scale=ys, side="left", label="sin 6x")],
        title="a line",
        layout=W.Layout(width="600px", height="320px"),
    )
    camera = p3.PerspectiveCamera(
        position=[2.0, 1.6, 2.6], children=[p3.DirectionalLight(position=[3, 5, 1])]
    )
    mesh = p3.Mesh(p3.BoxGeometry(1, 1, 1), p3.MeshLambertMaterial(color="#ff6600"))
    scene = p3.Scene(children=[mesh, camera, p3.AmbientLight(intensity=0.4)], background="#ddeeff")
    renderer = p3.Renderer(
        camera=camera,
        scene=scene,
        controls=[p3.OrbitControls(controlling=camera)],
        width=320,
        height=240,
    )
    return [lw, fig, renderer, W.VBox([lw, fig, renderer])]


@pytest.fixture
def exported(tmp_path):
    widgets = page_widgets()
    start = time.monotonic()
    path = export_html(tmp_path / "export.html", widgets[-1], title="export test")
    seconds = time.monotonic() - start
    yield path, seconds
    for w in reversed(widgets):
        w.close()


def test_exported_page_renders_offline(chromium, exported, artifacts):
    # how long the export took is printed (pytest -s), never asserted: a busy machine
    # would fail a timed check that says nothing about the page
    path, export_seconds = exported
    print(f"export_html wrote {path.stat().st_size / 1e6:.1f} MB in {export_seconds:.1f} s")
    size_mb = path.stat().st_size / 1e6
    assert 1 < size_mb < 20, size_mb

    context = chromium.new_context(viewport={"width": 1000, "height": 1300})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors = console_errors(page)
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url[:120]}"))
    try:
        page.goto(path.as_uri())
        page.locator('.lw-landscape[data-status="drawn"]').wait_for()
        page.wait_for_function(f"() => ({LONGEST_LINE_JS})('.bqplot') !== null")
        webgl = page.locator(".jupyter-threejs canvas").first
        webgl.wait_for()
        page.wait_for_timeout(500)  # let three.js finish its first frame
        png = page.screenshot(path=str(artifacts / "export.png"), full_page=True)

        # The map: a filled colour map, many colours on its 2D canvas.
        assert page.evaluate(MAP_COLOURS_JS) > 20

        # bqplot: a drawn line on a plot area that is not black.
        d = page.evaluate(LONGEST_LINE_JS, ".bqplot") or ""
        assert d.startswith("M") and d.count("L") >= 30, d[:80]
        fill = page.evaluate(
            "() => getComputedStyle(document.querySelector('.bqplot .plotarea_background')).fill"
        )
        assert fill == "rgb(255, 255, 255)", fill

        # three.js: the canvas region of the screenshot shows a lit orange mesh.
        box = webgl.bounding_box()
        assert box and box["width"] >= 300 and box["height"] >= 200
        shot = Image.open(io.BytesIO(png)).convert("RGB")
        region = shot.crop(
            (
                int(box["x"]),
                int(box["y"]),
                int(box["x"] + box["width"]),
                int(box["y"] + box["height"]),
            )
        )
        colours = region.getcolors(maxcolors=1 << 20)
        total = region.width * region.height
        assert len(colours) >= 3, colours
        assert max(n for n, _ in colours) < 0.9 * total, colours  # not one flat colour
        # The box's faces: orange-brown, shaded differently by the lights.
        faces = [(n, rgb) for n, rgb in colours if rgb[0] > 80 and rgb[0] - rgb[2] > 80]
        assert sum(n for n, _ in faces) > 0.05 * total, colours
        assert len(faces) >= 2, colours

        assert not errors, "browser console errors:\n" + "\n".join(errors)
        remote = [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
        assert not remote, f"requests left the page: {remote}"
        assert requests[0] == path.as_uri()
    finally:
        context.close()


# The state as the page's (wrapped) JSON.parse reads it: what the widgets were given.
PAGE_STATE_JS = """() => JSON.parse(document.querySelector(
  'script[type="application/vnd.jupyter.widget-state+json"]').textContent).state"""


def test_non_finite_values_outside_arrays_still_show_every_widget(chromium, tmp_path):
    lw = LandscapeWidget(bowl_surface(), title="bowl", width=420, height=320)
    lw.probe_results = {"p": {"loss": float("nan"), "accuracy": float("inf")}}
    number = W.FloatText(value=float("-inf"), description="loss")
    xs, ys = bq.LinearScale(), bq.LinearScale()
    y = np.array([1.0, 2.0, np.inf, 3.0, np.nan, 2.5])
    line = bq.Lines(x=np.linspace(0, 1, y.size), y=y, scales={"x": xs, "y": ys})
    fig = bq.Figure(marks=[line], axes=[bq.Axis(scale=xs), bq.Axis(scale=ys, side="left")])
    fig.layout = W.Layout(width="500px", height="300px")
    widgets = [lw, number, fig]
    path = export_html(tmp_path / "nan.html", *widgets)

    context = chromium.new_context(viewport={"width": 900, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors = console_errors(page)
    try:
        page.goto(path.as_uri())
        # every widget has a view: the map drew, the number box and the plot are there
        page.locator('.lw-landscape[data-status="drawn"]').wait_for()
        page.wait_for_function(f"() => ({LONGEST_LINE_JS})('.bqplot') !== null")
        page.locator(".widget-text input").wait_for()
        assert page.locator(".widget-subarea").count() == len(widgets)

        # the non-finite numbers reached the page as numbers, not strings
        values = page.evaluate(
            "(ids) => { const s = ("
            + PAGE_STATE_JS
            + """)();
              const p = s[ids[0]].state.probe_results.p;
              return [Number.isNaN(p.loss), p.accuracy === Infinity,
                      s[ids[1]].state.value === -Infinity]; }""",
            [lw.model_id, number.model_id],
        )
        assert values == [True, True, True]
        assert not errors, "browser console errors:\n" + "\n".join(errors)
    finally:
        context.close()
        for w in (fig, line, xs, ys, number, lw):
            w.close()
