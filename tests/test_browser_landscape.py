"""LandscapeWidget in JupyterLab in a real Chromium: it draws, NaN cells are
masked with a legend entry, colours match the headless renderer, and a trait
changed in the kernel redraws the canvas."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from conftest import bowl_surface, write_notebook

from landscape_widgets.output.png import colorize, masked_color, plot_box

pytestmark = pytest.mark.browser

NX, NY = 9, 7
NAN_CELL = (1, 2)
WIDTH, HEIGHT = 560, 440

SETUP = textwrap.dedent(
    f"""
    import numpy as np
    from landscape_widgets import LandscapeWidget, Surface

    x = np.linspace(-1.0, 1.0, {NX})
    y = np.linspace(-0.5, 0.5, {NY})
    xx, yy = np.meshgrid(x, y)
    loss = 0.2 + xx**2 + 2.0 * yy**2 + 0.25 * xx * yy  # as conftest.bowl_surface
    loss[{NAN_CELL[0]}, {NAN_CELL[1]}] = np.nan
    w = LandscapeWidget(Surface(x, y, loss, anchors={{"w1": (0.0, 0.0)}}),
                        title="browser test", width={WIDTH}, height={HEIGHT}, contours=0)
    w
    """
)

# Reads one canvas pixel at CSS position (u, v), whatever the device pixel ratio.
PIXEL_JS = """([u, v]) => {
  const c = document.querySelector('.lw-landscape canvas');
  const k = c.width / c.clientWidth;
  const d = c.getContext('2d').getImageData(Math.floor(u * k), Math.floor(v * k), 1, 1).data;
  return [d[0], d[1], d[2]];
}"""


# The same for a given canvas element.
CANVAS_PIXEL_JS = """([c, u, v]) => {
  const k = c.width / c.clientWidth;
  const d = c.getContext('2d').getImageData(Math.floor(u * k), Math.floor(v * k), 1, 1).data;
  return [d[0], d[1], d[2]];
}"""


def cell_centre(i: int, j: int) -> tuple[int, int]:
    x0, y0, x1, y1 = plot_box(WIDTH, HEIGHT)
    return int(x0 + (j + 0.5) / NX * (x1 - x0)), int(y1 - (i + 0.5) / NY * (y1 - y0))


def test_landscape_widget_draws_and_redraws(lab_page, lab_server, artifacts):
    write_notebook(
        lab_server.root / "landscape.ipynb", [SETUP, 'w.colormap = "terrain"\nw.log_scale = True']
    )
    page = lab_page.page
    lab_page.open_notebook("landscape.ipynb")

    lab_page.run_cell(0)
    root = page.locator('.lw-landscape[data-status="drawn"]')
    root.wait_for(timeout=60_000)
    assert root.get_attribute("data-masked") == "1"
    assert root.get_attribute("data-colormap") == "viridis"
    root.scroll_into_view_if_needed()
    root.screenshot(path=str(artifacts / "landscape.png"))

    # The NaN cell is masked; finite cells have exactly the headless renderer's colours.
    expected = bowl_surface(NX, NY, nan_cells=[NAN_CELL]).loss
    rgb = colorize(expected, "viridis")
    assert page.evaluate(PIXEL_JS, list(cell_centre(*NAN_CELL))) == list(masked_color())
    for i, j in [(0, 0), (6, 8), (3, 7), (5, 1)]:
        assert page.evaluate(PIXEL_JS, list(cell_centre(i, j))) == rgb[i, j].tolist(), (i, j)

    # A change made in the kernel redraws the canvas.
    lab_page.run_cell(1)
    page.locator('.lw-landscape[data-colormap="terrain"]').wait_for(timeout=30_000)
    rgb_log = colorize(expected, "terrain", log=True)
    for i, j in [(0, 0), (3, 7)]:
        got = page.evaluate(PIXEL_JS, list(cell_centre(i, j)))
        assert got == rgb_log[i, j].tolist(), (i, j)
    assert json.dumps(got) != json.dumps(rgb[3, 7].tolist())
    assert np.isnan(expected[NAN_CELL])
    lab_page.assert_no_console_errors()


LINKED = textwrap.dedent(
    f"""
    import numpy as np
    from landscape_widgets import LandscapeWidget, Surface, link_color_range
    import ipywidgets as W

    x = np.linspace(-1.0, 1.0, {NX})
    y = np.linspace(-0.5, 0.5, {NY})
    xx, yy = np.meshgrid(x, y)
    low = 0.2 + xx**2 + yy**2
    names = {{"axis_names": ["w_a = 5.weight[5, 250]", "w_b"]}}
    maps = [LandscapeWidget(Surface(x, y, v, provenance=names), width={WIDTH}, height={HEIGHT},
                            contours=0, log_scale=False)
            for v in (low, 3.0 * low)]
    link = link_color_range(*maps)
    W.VBox(maps)
    """
)


def test_linked_maps_colour_equal_values_alike_and_name_their_axes(lab_page, lab_server, artifacts):
    write_notebook(lab_server.root / "linked.ipynb", [LINKED])
    page = lab_page.page
    lab_page.open_notebook("linked.ipynb")
    lab_page.run_cell(0)
    maps = page.locator('.lw-landscape[data-status="drawn"]')
    maps.nth(1).wait_for(timeout=60_000)
    xx, yy = np.meshgrid(np.linspace(-1.0, 1.0, NX), np.linspace(-0.5, 0.5, NY))
    low = 0.2 + xx**2 + yy**2
    union = (float(low.min()), float(3.0 * low.max()))
    for k, values in enumerate((low, 3.0 * low)):
        root = maps.nth(k)
        root.scroll_into_view_if_needed()
        assert json.loads(root.get_attribute("data-color-range")) == pytest.approx(union, rel=1e-6)
        assert json.loads(root.get_attribute("data-axes")) == ["w_a = 5.weight[5, 250]", "w_b"]
        root.screenshot(path=str(artifacts / f"linked-{k}.png"))
        rgb = colorize(values, "viridis", value_range=union)
        canvas = root.locator("canvas").first.element_handle()
        for i, j in [(0, 0), (3, 4), (6, 8)]:
            got = page.evaluate(CANVAS_PIXEL_JS, [canvas, *cell_centre(i, j)])
            assert got == rgb[i, j].tolist(), (k, i, j)
    lab_page.assert_no_console_errors()


CROWDED_PROBES = {f"probe {k}": (0.97 - 0.01 * k, 0.3 + 0.02 * k) for k in range(5)} | {
    "far left": (-0.9, -0.45)
}
SLICE = ((-0.8, 0.0), (0.95, 0.45))
# two runs whose ends are close together, in the middle of the map
RUNS = {
    "start: sgd": [(-0.6, -0.4), (-0.2, -0.1), (0.1, 0.0)],
    "start: momentum": [(-0.6, 0.4), (-0.1, 0.1), (0.14, 0.02)],
}
CROWDED = textwrap.dedent(
    f"""
    import numpy as np
    from landscape_widgets import LandscapeWidget, Surface

    x = np.linspace(-1.0, 1.0, {NX})
    y = np.linspace(-0.5, 0.5, {NY})
    w = LandscapeWidget(Surface(x, y, 0.2 + np.add.outer(y**2, x**2)), probes={CROWDED_PROBES!r},
                        width={WIDTH}, height={HEIGHT}, contours=0)
    w.add_segment("a slice with a long name", *{SLICE!r})
    for k, (label, xy) in enumerate({RUNS!r}.items()):
        colour = ["#e6194b", "#17becf"][k]
        w.set_overlay(f"run {{k}}", xy, color=colour, label=label, steps=[0, 1, 2])
    w
    """
)


def box_meets_segment(b, seg, pad=0.0):
    """Whether box [x0, y0, x1, y1] widened by ``pad`` meets the segment (separating axes)."""
    x0, y0, x1, y1 = b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad
    (xa, ya), (xb, yb) = seg
    if max(xa, xb) <= x0 or min(xa, xb) >= x1 or max(ya, yb) <= y0 or min(ya, yb) >= y1:
        return False
    corners = [(u, v) for u in (x0, x1) for v in (y0, y1)]
    sides = [np.sign((xb - xa) * (v - ya) - (yb - ya) * (u - xa)) for u, v in corners]
    return not (all(s > 0 for s in sides) or all(s < 0 for s in sides))


def box_meets_disc(b, centre, r):
    """Whether box [x0, y0, x1, y1] meets the disc of radius ``r`` at ``centre``."""
    u, v = centre
    nearest = (min(max(u, b[0]), b[2]), min(max(v, b[1]), b[3]))
    return float(np.hypot(u - nearest[0], v - nearest[1])) < r


def test_labels_and_legend_stay_clear_in_the_page(lab_page, lab_server, artifacts):
    write_notebook(lab_server.root / "crowded.ipynb", [CROWDED])
    page = lab_page.page
    lab_page.open_notebook("crowded.ipynb")
    lab_page.run_cell(0)
    root = page.locator('.lw-landscape[data-status="drawn"]')
    root.wait_for(timeout=60_000)
    root.scroll_into_view_if_needed()
    root.screenshot(path=str(artifacts / "crowded.png"))
    labels = json.loads(root.get_attribute("data-labels"))
    x0, y0, x1, y1 = json.loads(root.get_attribute("data-plot"))
    assert len(labels) >= 6  # the crowd near the right edge is placed, or thinned; the runs' ends
    for a in labels:  # inside the plot (never under the colour bar) ...
        assert x0 <= a[0] and a[2] <= x1 + 1 and y0 <= a[1] and a[3] <= y1 + 1, a
    for i, a in enumerate(labels):  # ... and never on each other
        for b in labels[:i]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    # nor on a marker or a line: points, runs' ends and starts, the slice, the runs
    view = json.loads(root.get_attribute("data-view"))

    def px(xy):
        return (
            x0 + (xy[0] - view[0]) / (view[1] - view[0]) * (x1 - x0),
            y1 - (xy[1] - view[2]) / (view[3] - view[2]) * (y1 - y0),
        )

    markers = [(px(xy), 6) for xy in CROWDED_PROBES.values()]  # probes' radius (styles.json)
    markers += [(px(xy), 5) for xy in SLICE]  # the slice's ends
    for line in RUNS.values():
        markers += [(px(line[-1]), 4.5), (px(line[0]), 2.5)]  # a run's head and start
    segments = [(px(SLICE[0]), px(SLICE[1]))]
    for line in RUNS.values():
        segments += [(px(a), px(b)) for a, b in zip(line[:-1], line[1:], strict=True)]
    for a in labels:  # rounded to whole pixels: half a pixel of slack
        for centre, r in markers:
            assert not box_meets_disc(a, centre, r - 0.5), (a, centre, r)
        for seg in segments:
            assert not box_meets_segment(a, seg, pad=1.5), (a, seg)
    # each run's end has its label beside it
    for line in RUNS.values():
        hx, hy = px(line[-1])
        near = [a for a in labels if box_meets_disc(a, (hx, hy), 30)]
        assert near, (line[-1], labels)
    # the legend is under the canvas, not over the plot
    canvas = root.locator("canvas.lw-map").bounding_box()
    legend = root.locator(".lw-legend").bounding_box()
    assert legend["y"] >= canvas["y"] + canvas["height"] - 1
    assert "a slice with a long name" in root.locator(".lw-legend").inner_text()
    lab_page.assert_no_console_errors()
