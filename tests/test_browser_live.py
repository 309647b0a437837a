"""The live map in JupyterLab in a real Chromium, driven by the mouse.

What a person does: run the cell and watch the map appear and sharpen, drag
the probe (the predictions panel follows), drag the end of a slice (its
profile follows), pan, zoom and reset. Each step is read back through the
kernel, and the times the issue names are measured with the page's clock and
printed (pytest -s shows them; tests/test_browser_live.py::TIMINGS).
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from conftest import write_notebook
from PIL import Image

from landscape_widgets.output.png import plot_box

pytestmark = pytest.mark.browser

W, H = 560, 440
BOUNDS = (-1.0, 1.0, -1.0, 1.0)
PROBE = (0.3, 0.35)
SLICE = ((-0.6, -0.5), (0.55, -0.45))

SETUP = textwrap.dedent(
    """
    import json, torch
    from torch import nn
    from landscape_widgets import Landscape, LandscapeWidget, Plane, datasets, models, train

    X, y = datasets.spirals(1000, seed=0)
    torch.manual_seed(0)
    net = models.small_mlp()  # the toy 2-D classification MLP, 2-64-64-2
    train(net, (X, y), epochs=40, progress=False)
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=1000)
    plane = Plane.random(net, seed=0)
    """
)
SHOW = textwrap.dedent(
    f"""
    w = LandscapeWidget(ls, plane, resolution=64, bounds={BOUNDS}, probes={{"probe": {PROBE}}},
                        title="toy MLP, random plane")
    w.add_segment("slice", {SLICE[0]}, {SLICE[1]})
    w
    """
)
READ_BACK = textwrap.dedent(
    """
    w.wait(60)
    px, py = w.point("probe")
    ex, ey = w.point("slice.end")
    state = {
        "probe": [px, py],
        "probe_loss": w.probe_results["probe"]["loss"],
        "probe_loss_direct": ls.metrics_at(plane.point(px, py))["loss"],
        "end": [ex, ey],
        "profile_end": float(w.profiles["slice"].loss[-1]),
        "end_loss_direct": ls.metrics_at(plane.point(ex, ey))["loss"],
        "view": w.view,
        "grid": [*w.x_range, *w.y_range],
        "status": w.status,
    }
    json.dump(state, open("live_state.json", "w"))
    """
)

TIMINGS: dict[str, float] = {}


def pixel(point, view, size=(W, H)):
    """Offset inside a map canvas of ``size`` CSS pixels of a plane point."""
    x0, y0, x1, y1 = plot_box(*size)
    u = x0 + (point[0] - view[0]) / (view[1] - view[0]) * (x1 - x0)
    v = y1 - (point[1] - view[2]) / (view[3] - view[2]) * (y1 - y0)
    return u, v


def drag(page, canvas, start, end, steps=20):
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + start[0], box["y"] + start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + end[0], box["y"] + end[1], steps=steps)
    page.mouse.up()


def read_back(lab_page, lab_server, cell: int) -> dict:
    out = lab_server.root / "live_state.json"
    out.unlink(missing_ok=True)
    lab_page.run_cell(cell)
    for _ in range(600):
        if out.exists() and out.stat().st_size:
            try:
                return json.loads(out.read_text())
            except json.JSONDecodeError:
                pass
        lab_page.page.wait_for_timeout(100)
    raise AssertionError("the kernel did not write its state")


def answers(root) -> list[float]:
    text = root.get_attribute("data-answer-ms") or ""
    return [float(v) for v in text.split(",") if v]


def colour_variety(path) -> int:
    with Image.open(path) as im:
        return len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0))


def test_live_map_in_the_browser(lab_page, lab_server, artifacts):
    write_notebook(lab_server.root / "live.ipynb", [SETUP, SHOW, READ_BACK])
    page = lab_page.page
    lab_page.open_notebook("live.ipynb")
    lab_page.run_cell(0)
    lab_page.wait_for_cell(0)

    # ---- first picture and the complete grid, timed from the key press
    t0 = page.evaluate("performance.now()")
    lab_page.run_cell(1)
    root = page.locator(".lw-landscape").first
    page.wait_for_selector(".lw-landscape[data-first-grid-at]", timeout=60_000)
    page.wait_for_selector(".lw-landscape[data-done-at]", timeout=60_000)
    first = float(root.get_attribute("data-first-grid-at")) - t0
    complete = float(root.get_attribute("data-done-at")) - t0
    TIMINGS["first picture (ms)"] = first
    TIMINGS["64x64 complete (ms)"] = complete
    canvas = root.locator("canvas.lw-map")
    canvas.scroll_into_view_if_needed()
    root.screenshot(path=str(artifacts / "1-complete.png"))
    assert colour_variety(artifacts / "1-complete.png") > 200
    panel = root.locator("canvas.lw-predictions")
    page.wait_for_selector('canvas.lw-predictions[data-status="drawn"]', timeout=30_000)

    # ---- drag the probe: the kernel sees it, the panel follows
    view = json.loads(root.get_attribute("data-view"))
    assert view == pytest.approx(list(BOUNDS))
    panel.screenshot(path=str(artifacts / "2-panel-before.png"))
    target = (-0.35, 0.1)
    drag(page, canvas, pixel(PROBE, view), pixel(target, view))
    page.wait_for_function(
        "() => (document.querySelector('.lw-landscape').dataset.answerMs || '').length > 0"
    )
    page.wait_for_timeout(500)  # the last answer
    probe_ms = answers(root)
    panel.screenshot(path=str(artifacts / "3-panel-after.png"))
    before = np.asarray(Image.open(artifacts / "2-panel-before.png").convert("RGB"), float)
    after = np.asarray(Image.open(artifacts / "3-panel-after.png").convert("RGB"), float)
    assert np.abs(before - after).mean() > 1.0, "the predictions panel did not change"

    # ---- drag the slice's end: its profile is recomputed
    n_before = len(probe_ms)
    end_target = (0.7, 0.6)
    drag(page, canvas, pixel(SLICE[1], view), pixel(end_target, view))
    page.wait_for_function(
        f"() => (document.querySelector('.lw-landscape').dataset.answerMs || '')"
        f".split(',').length > {n_before}"
    )
    page.wait_for_timeout(500)
    path_ms = answers(root)[n_before:]
    root.screenshot(path=str(artifacts / "4-after-drags.png"))
    state = read_back(lab_page, lab_server, 2)
    step = (view[1] - view[0]) / (plot_box(W, H)[2] - plot_box(W, H)[0])  # plane units per pixel
    assert state["probe"] == pytest.approx(target, abs=2 * step)
    assert state["probe_loss"] == pytest.approx(state["probe_loss_direct"], rel=1e-5)
    assert state["end"] == pytest.approx(end_target, abs=2 * step)
    assert state["profile_end"] == pytest.approx(state["end_loss_direct"], rel=1e-5)
    kernel_ms = [float(v) for v in (root.get_attribute("data-kernel-ms") or "").split(",") if v]
    TIMINGS["kernel share of an answer, median (ms)"] = float(np.median(kernel_ms))
    TIMINGS["drag answers"] = len(probe_ms) + len(path_ms)
    TIMINGS["probe drag answered, median (ms)"] = float(np.median(probe_ms))
    TIMINGS["probe drag answered, max (ms)"] = float(np.max(probe_ms))
    TIMINGS["path drag answered, median (ms)"] = float(np.median(path_ms))
    TIMINGS["path drag answered, max (ms)"] = float(np.max(path_ms))

    # ---- pan: drag the background; the kernel re-evaluates the new window
    grab, release = (-0.8, 0.8), (-0.4, 0.6)
    drag(page, canvas, pixel(grab, view), pixel(release, view), steps=8)
    shifted = [view[0] - 0.4, view[1] - 0.4, view[2] + 0.2, view[3] + 0.2]
    page.wait_for_function(
        "(want) => { const r = document.querySelector('.lw-landscape');"
        " const g = JSON.parse(r.dataset.gridRange || '[]');"
        " return g.length === 4 && g.every((v, k) => Math.abs(v - want[k]) < 0.02)"
        " && r.dataset.done === '1'; }",
        arg=shifted,
        timeout=30_000,
    )
    root.screenshot(path=str(artifacts / "5-panned.png"))
    state = read_back(lab_page, lab_server, 2)
    assert state["view"] == pytest.approx(shifted, abs=2 * step)

    # ---- zoom with the wheel about the centre, then reset
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    centre = pixel(((shifted[0] + shifted[1]) / 2, (shifted[2] + shifted[3]) / 2), shifted)
    page.mouse.move(box["x"] + centre[0], box["y"] + centre[1])
    for _ in range(4):
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(30)
    page.wait_for_function(
        "(w) => { const r = document.querySelector('.lw-landscape');"
        " const g = JSON.parse(r.dataset.gridRange || '[]');"
        " return g.length === 4 && (g[1] - g[0]) < 0.7 * w && r.dataset.done === '1'; }",
        arg=shifted[1] - shifted[0],
        timeout=30_000,
    )
    root.screenshot(path=str(artifacts / "6-zoomed.png"))
    state = read_back(lab_page, lab_server, 2)
    width = state["view"][1] - state["view"][0]
    assert width == pytest.approx((shifted[1] - shifted[0]) / 1.15**4, rel=1e-6)
    mid = ((state["view"][0] + state["view"][1]) / 2, (state["view"][2] + state["view"][3]) / 2)
    assert mid == pytest.approx(
        ((shifted[0] + shifted[1]) / 2, (shifted[2] + shifted[3]) / 2), abs=2 * step
    )
    root.locator("button.lw-reset").click()
    page.wait_for_function(
        "() => { const g = JSON.parse(document.querySelector('.lw-landscape').dataset.gridRange);"
        " return Math.abs(g[0] + 1) < 1e-9 && Math.abs(g[1] - 1) < 1e-9; }",
        timeout=30_000,
    )
    state = read_back(lab_page, lab_server, 2)
    assert state["view"] == pytest.approx(list(BOUNDS))
    assert state["status"] == "done"
    lab_page.assert_no_console_errors()

    print("\nlive map timings:", json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}))
    (artifacts / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
