"""explore() in JupyterLab in a real Chromium: the map, the 3D surface, the
profile and the predictions render together, and a drag on the map moves the
point on the surface and redraws the profile (read back through the kernel)."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from conftest import LONGEST_LINE_JS, write_notebook
from PIL import Image
from test_browser_live import SETUP, drag, pixel, read_back

from landscape_widgets.output.png import plot_box

SIZE = (480, 400)  # explore()'s map

pytestmark = pytest.mark.browser

SHOW = textwrap.dedent(
    """
    from landscape_widgets import explore
    e = explore(ls, plane, resolution=32, bounds=(-1, 1, -1, 1))
    e
    """
)
READ_BACK = textwrap.dedent(
    """
    e.map.wait(60)
    import time; time.sleep(0.3)  # the surface follows on the map's thread
    ex, ey = e.map.point("slice.end")
    state = {
        "map_points": e.map.points,
        "surface_points": e.surface.points,
        "profile_end": float(e.profile.profiles["slice"].loss[-1]),
        "end_loss_direct": ls.metrics_at(plane.point(ex, ey))["loss"],
        "end": [ex, ey],
    }
    json.dump(state, open("live_state.json", "w"))
    """
)


def test_explore_links_map_surface_and_profile(lab_page, lab_server, artifacts):
    write_notebook(lab_server.root / "explore.ipynb", [SETUP, SHOW, READ_BACK])
    page = lab_page.page
    lab_page.open_notebook("explore.ipynb")
    lab_page.run_cell(0)
    lab_page.wait_for_cell(0)
    lab_page.run_cell(1)
    root = page.locator(".lw-landscape").first
    page.wait_for_selector(".lw-landscape[data-done-at]", timeout=60_000)
    page.wait_for_selector('canvas.lw-predictions[data-status="drawn"]', timeout=30_000)
    three = page.locator(".jp-OutputArea canvas:not(.lw-map):not(.lw-predictions)").first
    three.wait_for(timeout=60_000)
    page.wait_for_function(f"() => ({LONGEST_LINE_JS})('.jp-OutputArea') !== null", timeout=60_000)
    page.wait_for_timeout(1000)  # three.js draws on the next frames
    explorer = page.locator(".jp-OutputArea-output").nth(0)
    explorer.scroll_into_view_if_needed()
    explorer.screenshot(path=str(artifacts / "1-explore.png"))
    three.screenshot(path=str(artifacts / "2-surface-before.png"))
    with Image.open(artifacts / "2-surface-before.png") as im:
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 50, "the 3D view looks blank"
    d_before = page.evaluate(LONGEST_LINE_JS, ".jp-OutputArea")

    # drag the slice's end on the map: the surface's copy moves, the profile is redrawn
    canvas = root.locator("canvas.lw-map")
    view = json.loads(root.get_attribute("data-view"))
    state = read_back(lab_page, lab_server, 2)
    start = next(p for p in state["map_points"] if p["name"] == "slice.end")
    target = (start["x"] - 0.3, start["y"] + 0.5)
    drag(page, canvas, pixel((start["x"], start["y"]), view, SIZE), pixel(target, view, SIZE))
    page.wait_for_function(
        f"(d) => ({LONGEST_LINE_JS})('.jp-OutputArea') !== d",
        arg=d_before,
        timeout=30_000,
    )
    page.wait_for_timeout(1000)
    explorer.screenshot(path=str(artifacts / "3-after-drag.png"))
    three.screenshot(path=str(artifacts / "4-surface-after.png"))
    state = read_back(lab_page, lab_server, 2)
    assert state["surface_points"] == state["map_points"]
    x0, _, x1, _ = plot_box(*SIZE)
    step = (view[1] - view[0]) / (x1 - x0)
    assert state["end"] == pytest.approx(target, abs=3 * step)
    assert state["profile_end"] == pytest.approx(state["end_loss_direct"], rel=1e-5)
    with (
        Image.open(artifacts / "2-surface-before.png") as a,
        Image.open(artifacts / "4-surface-after.png") as b,
    ):
        diff = np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float))
    assert diff.mean() > 0.05, "the point did not move on the 3D surface"
    lab_page.assert_no_console_errors()
