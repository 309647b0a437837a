"""Trajectories in JupyterLab in a real Chromium: four optimizers on their
PCA plane replay step by step in the page, a start dropped somewhere else
on the map reruns its optimizers from there (read back through the kernel),
and the 3D view gets its play control."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import write_notebook
from test_browser_live import drag, pixel, read_back

pytestmark = pytest.mark.browser

SIZE = (560, 440)
SETUP = textwrap.dedent(
    """
    import json, torch
    from torch import nn
    from landscape_widgets import (Landscape, LandscapeWidget, Plane, SurfaceWidget, datasets,
                                   models, record_trajectory)
    X, y = datasets.spirals(400, seed=0)
    torch.manual_seed(0)
    net = models.small_mlp()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=400)
    runs = [record_trajectory(net, (X, y), o, steps=60, batch_size=64, every=2)
            for o in ("sgd", "momentum", "rmsprop", "adam")]
    pca = Plane.pca(runs)
    """
)
PCA_MAP = textwrap.dedent(
    """
    m = LandscapeWidget(ls, pca, resolution=24, probes=[], predictions=False,
                        title="four optimizers on their PCA plane")
    for r in runs:
        m.add_trajectory(r)
    m
    """
)
STARTS = textwrap.dedent(
    """
    plane = Plane.random(net, seed=1)
    w = LandscapeWidget(ls, plane, resolution=24, bounds=(-1, 1, -1, 1), probes=[],
                        predictions=False, title="drop the start anywhere")
    w.add_start("start", 0.5, 0.5, runs={"sgd": {"lr": 0.5}, "adam": {"lr": 0.05}}, steps=40)
    w
    """
)
SURFACE = textwrap.dedent(
    """
    s = SurfaceWidget(ls.evaluate(pca, 24, bounds=m.home), title="the same runs in 3D")
    for name, path in m.trajectories.items():
        s.set_overlay(name, path.xy, steps=path.steps)
    s
    """
)
READ_BACK = textwrap.dedent(
    """
    w.wait(60)
    runs_now = w.runs_from("start")
    json.dump({
        "start": list(w.point("start")),
        "first_xy": {k: w.trajectories[f"start:{k}"].xy[0].tolist() for k in runs_now},
        "overlays": [o["name"] for o in w.overlays],
    }, open("live_state.json", "w"))
    """
)


def test_paths_replay_and_starts_rerun_where_dropped(lab_page, lab_server, artifacts):
    write_notebook(lab_server.root / "traj.ipynb", [SETUP, PCA_MAP, STARTS, SURFACE, READ_BACK])
    page = lab_page.page
    lab_page.open_notebook("traj.ipynb")
    lab_page.run_cell(0)
    lab_page.wait_for_cell(0)

    # four paths on the PCA map; the player replays them step by step
    lab_page.run_cell(1)
    pca_map = page.locator(".lw-landscape").nth(0)
    page.wait_for_selector('.lw-landscape[data-trajectories="4"][data-done="1"]', timeout=60_000)
    player = pca_map.locator(".lw-player")
    assert player.is_visible()
    assert "step 60 / 60" in player.inner_text()
    pca_map.screenshot(path=str(artifacts / "1-pca-whole.png"))
    # every step the page shows while playing, recorded in the page as it changes
    # (polling from here would miss steps on a busy machine)
    pca_map.evaluate(
        """(el) => {
          window.__steps = [];
          new MutationObserver(() => window.__steps.push(Number(el.dataset.playerStep)))
            .observe(el, {attributes: true, attributeFilter: ["data-player-step"]});
        }"""
    )
    player.locator(".lw-play").click()
    page.wait_for_function(
        "(el) => el.dataset.playing === '1' && Number(el.dataset.playerStep) > 10",
        arg=pca_map.element_handle(),
        timeout=10_000,
    )
    pca_map.screenshot(path=str(artifacts / "2-pca-mid-replay.png"))
    page.wait_for_function(
        "(el) => el.dataset.playing === '0'", arg=pca_map.element_handle(), timeout=30_000
    )
    seen = page.evaluate("() => window.__steps")
    # steps only go forward while playing, and the replay ends on whole paths
    forward = [s for s in seen if s >= 0]
    assert forward == sorted(forward) and len(set(forward)) >= 3, seen
    page.wait_for_function(
        "(el) => el.dataset.playing === '0' && el.dataset.playerStep === '-1'",
        arg=pca_map.element_handle(),
        timeout=15_000,
    )
    # the slider shows one step
    slider = player.locator(".lw-step-slider")
    slider.fill("10")
    assert pca_map.get_attribute("data-player-step") == "20"  # frames are every 2 steps

    # a start: its two runs appear, then follow it where it is dropped
    lab_page.run_cell(2)
    start_map = page.locator(".lw-landscape").nth(1)
    page.wait_for_function(
        "(el) => el && el.dataset.trajectories === '2' && el.dataset.status === 'drawn'",
        arg=start_map.element_handle(),
        timeout=60_000,
    )
    start_map.screenshot(path=str(artifacts / "3-start-before.png"))
    view = json.loads(start_map.get_attribute("data-view"))
    canvas = start_map.locator("canvas.lw-map")
    target = (-0.5, 0.3)
    runs_before = int(start_map.get_attribute("data-runs") or 0)
    drag(page, canvas, pixel((0.5, 0.5), view, SIZE), pixel(target, view, SIZE))
    # the new runs arrive and replay at once
    page.wait_for_function(
        "([el, n]) => Number(el.dataset.runs) > n && el.dataset.playing === '1'",
        arg=[start_map.element_handle(), runs_before],
        timeout=60_000,
    )
    lab_page.run_cell(3)
    lab_page.wait_for_cell(3)
    state = read_back(lab_page, lab_server, 4)
    assert state["start"] == pytest.approx(list(target), abs=0.02)
    for label in ("sgd", "adam"):
        assert state["first_xy"][label] == pytest.approx(state["start"], abs=1e-5)
        assert f"start:{label}" in state["overlays"]
    page.wait_for_function(
        "(el) => el.dataset.playing === '0'", arg=start_map.element_handle(), timeout=30_000
    )
    start_map.screenshot(path=str(artifacts / "4-start-after-drop.png"))

    # the 3D view has its play control under the scene
    scene = "canvas:not(.lw-map):not(.lw-predictions)"
    out3d = page.locator(".jp-OutputArea-output").filter(has=page.locator(scene)).first
    out3d.locator(scene).first.wait_for(timeout=60_000)
    buttons = out3d.locator("button")
    assert buttons.count() >= 2, "no play control under the 3D view"
    buttons.first.click()  # play
    page.wait_for_timeout(2500)
    out3d.scroll_into_view_if_needed()
    out3d.screenshot(path=str(artifacts / "5-surface-playing.png"))
    lab_page.assert_no_console_errors()
