"""CurveTrainingWidget in JupyterLab in a real Chromium: theta dragged before
training moves the curve's initial point (read back from the kernel) and its
profile answers in time, the Train button starts an animation whose frames
change on the page, the player scrubs and plays, and an exported HTML replays
the frames with no kernel.

Timings (frames per second while training, drag answers) are printed with
``pytest -s`` and written to the test's artifacts folder as timings.json.
"""

from __future__ import annotations

import json
import textwrap
import time

import numpy as np
import pytest
from conftest import console_errors, write_notebook
from PIL import Image
from test_browser_live import drag, pixel, read_back

from landscape_widgets.output.png import plot_box

pytestmark = pytest.mark.browser

RESOLUTION = 32
SETUP = textwrap.dedent(
    """
    import json, torch
    from torch import nn
    from landscape_widgets import (BezierCurve, CurveTrainer, CurveTrainingWidget, Landscape,
                                   curve_profile, datasets, models, train)

    X, y = datasets.spirals(1000, seed=0)
    nets = []
    for seed in range(2):
        torch.manual_seed(seed)
        net = models.small_mlp()  # the toy 2-D classification MLP, 2-64-64-2
        train(net, (X, y), epochs=60, optimizer="adam", lr=1e-2, seed=seed, progress=False)
        nets.append(net)
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y), subset=1000)
    trainer = CurveTrainer(ls, BezierCurve(*nets), optimizer="adam", lr=1e-2, epochs=40)
    """
)
SHOW = f"anim = CurveTrainingWidget(trainer, resolution={RESOLUTION}, every=4)\nanim"
READ_BACK = textwrap.dedent(
    """
    anim._drags.idle(30)
    f = anim.frame(0)
    plane = anim._recorder.first_plane
    (tx, ty), = f["controls"]
    ref = curve_profile(ls, BezierCurve(*nets, init=plane.point(tx, ty)[None]), n=33)
    state = {
        "status": anim.status,
        "frames": anim.frame_count,
        "steps": trainer.step_count,
        "theta": [tx, ty],
        "theta_in_plane": float((trainer.curve.control.detach()[0] - plane.point(tx, ty)).norm()),
        "profile_error": float(abs(f["profile"] - ref.loss).max()),
        "w2": list(f["w2"]),
        "barriers": [anim.frame(0)["barrier"], anim.frame(-1)["barrier"]],
        "straight": anim.straight["barrier"],
    }
    json.dump(state, open("live_state.json", "w"))
    """
)
EXPORT = 'print(anim.save_html("curve.html"))'
SIZE_JS = "(c) => [c.clientWidth, c.clientHeight]"


def shot(locator, path):
    locator.screenshot(path=str(path))
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), float)


def test_curve_training_animates_scrubs_and_replays(lab_page, lab_server, artifacts, chromium):
    timings: dict[str, float] = {}
    write_notebook(lab_server.root / "curve.ipynb", [SETUP, SHOW, READ_BACK, EXPORT])
    page = lab_page.page
    lab_page.open_notebook("curve.ipynb")
    lab_page.run_cell(0)
    lab_page.wait_for_cell(0)
    lab_page.run_cell(1)
    root = page.locator(".lw-curve-training").first
    page.wait_for_selector('.lw-curve-training[data-status="ready"][data-frames="1"]')
    canvas = root.locator("canvas.lw-curve-map")
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    root.screenshot(path=str(artifacts / "1-ready.png"))

    # ---- drag theta before training: the curve's initial point follows, the profile answers
    state = read_back(lab_page, lab_server, 2)
    d = state["w2"][0]
    size = tuple(canvas.evaluate(SIZE_JS))
    view = json.loads(root.get_attribute("data-view"))
    target = (0.5 * d, 0.3 * d)
    profile = root.locator("canvas.lw-curve-profile")
    before = shot(profile, artifacts / "2-profile-before.png")
    drag(page, canvas, pixel(state["theta"], view, size), pixel(target, view, size))
    page.wait_for_function(
        "() => (document.querySelector('.lw-curve-training').dataset.answerMs || '').length > 0"
    )
    page.wait_for_timeout(800)  # the final answer
    answers = [float(v) for v in root.get_attribute("data-answer-ms").split(",")]
    kernel = [float(v) for v in (root.get_attribute("data-kernel-ms") or "").split(",") if v]
    after = shot(profile, artifacts / "3-profile-after.png")
    assert np.abs(before - after).mean() > 0.5, "the profile did not change"
    root.screenshot(path=str(artifacts / "4-theta-dragged.png"))
    state = read_back(lab_page, lab_server, 2)
    x0, _, x1, _ = plot_box(*size)
    step = (view[1] - view[0]) / (x1 - x0)
    assert state["theta"] == pytest.approx(target, abs=3 * step)
    assert state["theta_in_plane"] < 1e-4 * d  # the trainer's control point is that point
    assert state["profile_error"] < 1e-4
    assert state["steps"] == 0
    timings["theta drags answered"] = len(answers)
    timings["theta drag answered, median (ms)"] = float(np.median(answers))
    timings["theta drag answered, max (ms)"] = float(np.max(answers))
    timings["kernel share, median (ms)"] = float(np.median(kernel))

    # ---- press Train: frames arrive and the picture changes while training runs
    root.locator("button.lw-train").click()
    page.wait_for_selector('.lw-curve-training[data-status="training"]', timeout=30_000)
    samples = []  # (page ms, frames) while training
    pictures = []
    while root.get_attribute("data-status") == "training":
        samples.append(
            page.evaluate(
                "() => [performance.now(),"
                " +document.querySelector('.lw-curve-training').dataset.frames]"
            )
        )
        if len(pictures) < 2 and samples[-1][1] >= 5 + 20 * len(pictures):
            pictures.append(shot(canvas, artifacts / f"5-training-{len(pictures)}.png"))
        time.sleep(0.1)
    page.wait_for_selector('.lw-curve-training[data-status="finished"]', timeout=60_000)
    assert len(pictures) == 2, "training ended before two pictures were taken"
    assert np.abs(pictures[0] - pictures[1]).mean() > 1.0, "the animation did not change"
    (t_a, n_a), (t_b, n_b) = samples[0], samples[-1]
    timings[f"frames per second while training ({RESOLUTION}x{RESOLUTION})"] = (
        (n_b - n_a) / (t_b - t_a) * 1e3
    )
    timings["frames"] = n_b
    state = read_back(lab_page, lab_server, 2)
    assert state["status"] == "finished" and state["steps"] == 320
    assert state["frames"] == 81  # step 0 and every 4th step
    assert state["barriers"][1] <= 0.1 * state["straight"]
    timings["barrier after / straight"] = state["barriers"][1] / state["straight"]
    page.wait_for_selector(f'.lw-curve-training[data-frames="{state["frames"]}"]')
    last = shot(root, artifacts / "6-finished.png")

    # ---- the player: scrub to frame 3, then play
    slider = root.locator("input.lw-frame-slider")
    slider.fill("3")
    page.wait_for_selector('.lw-curve-training[data-shown="3"]')
    scrubbed = shot(root, artifacts / "7-scrubbed.png")
    assert np.abs(scrubbed - last).mean() > 1.0
    root.locator("button.lw-play").click()
    page.wait_for_selector('.lw-curve-training[data-playing="1"]')
    page.wait_for_function(
        "() => +document.querySelector('.lw-curve-training').dataset.shown >= 6", timeout=10_000
    )
    lab_page.assert_no_console_errors()

    # ---- the exported HTML replays the frames with no kernel
    lab_page.run_cell(3)
    lab_page.wait_for_cell(3)
    html = lab_server.root / "curve.html"
    assert html.exists()
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, offline=True)
    try:
        replay = context.new_page()
        errors = console_errors(replay)
        replay.goto(html.as_uri())
        widget = replay.locator(".lw-curve-training").first
        replay.wait_for_selector(f'.lw-curve-training[data-frames="{state["frames"]}"]')
        first = shot(widget, artifacts / "8-export.png")
        widget.locator("input.lw-frame-slider").fill("0")
        replay.wait_for_selector('.lw-curve-training[data-shown="0"]')
        widget.locator("button.lw-play").click()
        replay.wait_for_function(
            "() => +document.querySelector('.lw-curve-training').dataset.shown >= 5",
            timeout=10_000,
        )
        playing = shot(widget, artifacts / "9-export-playing.png")
        assert np.abs(first - playing).mean() > 1.0
        assert not errors, errors
    finally:
        context.close()

    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
    print("\ncurve training timings:", json.dumps({k: round(v, 3) for k, v in timings.items()}))
