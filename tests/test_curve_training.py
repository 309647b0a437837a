"""CurveTrainingWidget without a browser: the frames' geometry and values against
independent computations, the training controls, dragging theta before training,
the recorded frames in the widget state, and the GIF/MP4 export."""

from __future__ import annotations

import math
import sys
import threading
import time

import numpy as np
import pytest
import torch
from ipywidgets.embed import dependency_state, embed_data
from PIL import Image
from torch import nn

from landscape_widgets import (
    BezierCurve,
    CurveTrainer,
    CurveTrainingWidget,
    Landscape,
    Plane,
    PolyChain,
    curve_profile,
)
from landscape_widgets.output import video

pytestmark = pytest.mark.usefixtures("one_thread")


class Recorded(CurveTrainingWidget):
    """Keeps the custom messages it sends, with their buffers, from the first one on."""

    def __init__(self, *args, **kwargs):
        self.sent = []
        super().__init__(*args, **kwargs)

    def send(self, content, buffers=None):
        self.sent.append((content, buffers or []))


@pytest.fixture
def make(two_nets, request):
    """make(curve_cls, epochs, every, **widget kwargs) -> (widget, trainer, landscape, sent);
    every widget made is closed after the test."""

    def make_widget(curve_cls=BezierCurve, epochs=5, every=5, dtype=torch.float32, **kwargs):
        X, y, nets = two_nets
        ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y), dtype=dtype)
        trainer = CurveTrainer(
            ls,
            curve_cls(nets[0], nets[1]),
            optimizer="adam",
            lr=1e-2,
            epochs=epochs,
            seed=0,
            record_every=every,
        )
        w = Recorded(trainer, resolution=kwargs.pop("resolution", 9), every=every, **kwargs)
        request.addfinalizer(w.close)
        assert w._ready.wait(60), w.status
        return w, trainer, ls, w.sent

    return make_widget


def until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def control_at(trainer, step):
    k = trainer.history["control_step"].index(step)
    return trainer.history["control"][k].float()


def test_frames_show_the_plane_through_w1_w2_theta(make):
    w, trainer, ls, _ = make()
    w.start().wait(120)
    assert w.status == "finished"
    steps = [w.frame(i)["step"] for i in range(w.frame_count)]
    assert steps == list(range(0, trainer.step_count + 1, 5))  # 5 epochs of 4 batches
    w1, w2 = trainer.curve.w1.float(), trainer.curve.w2.float()
    d = float((w2 - w1).norm())
    for i in (1, w.frame_count - 1):
        f = w.frame(i)
        theta = control_at(trainer, f["step"])[0]
        plane = Plane.through(w1, w2, theta)  # independent of the widget's own plane
        assert f["w1"] == (0.0, 0.0) and f["w2"] == pytest.approx((d, 0.0))
        ((tx, ty),) = f["controls"]
        assert (tx, ty) == pytest.approx(plane.anchors["w3"], rel=1e-4)
        assert ty > 0  # theta above the axis
        # the grid is the loss over that plane in the frame's window
        x, y = f["x"], f["y"]
        ref = ls.evaluate(plane, (len(x), len(y)), bounds=(x[0], x[-1], y[0], y[-1]))
        np.testing.assert_allclose(f["grid"], ref.loss, rtol=2e-4, atol=1e-6)
        # the curve lies in the plane and is drawn at its own coordinates
        ts = np.linspace(0, 1, len(f["curve"]))
        a, b = np.array(plane.anchors["w3"]), np.array([d, 0.0])
        expected = 2 * np.outer(ts * (1 - ts), a) + np.outer(ts**2, b)
        np.testing.assert_allclose(f["curve"], expected, atol=1e-4 * d)
        assert f["off_plane"] < 1e-5 * d
        # the profile is the loss along the curve, measured without the widget
        prof = curve_profile(ls, BezierCurve(w1, w2, init=theta[None]), n=len(f["profile"]))
        np.testing.assert_allclose(f["profile"], prof.loss, rtol=1e-4)
        assert f["barrier"] == pytest.approx(prof.barrier(), rel=1e-3, abs=1e-6)


def test_the_colour_scale_covers_every_frame(make):
    w, *_ = make()
    first = w.frame(0)["grid"]
    expected = [float(first.min()), float(np.percentile(first, 90))]
    assert w.color_range == pytest.approx(expected)
    w.start().wait(120)
    # after training the scale spans each frame's smallest loss to its 90th percentile
    # (the frames sharpened since were recorded at a coarser grid: left out)
    lo, hi = w.color_range
    grids = [f["grid"] for f in w.frames if not f.get("hires")]
    assert len(grids) >= 3
    for g in grids:
        assert lo <= float(g.min()) * (1 + 1e-6) and float(np.percentile(g, 90)) <= hi * (1 + 1e-6)
    assert lo == pytest.approx(min(float(g.min()) for g in grids), rel=1e-6) or lo < expected[0]
    assert hi > expected[1]  # later frames reach higher than the first: a fixed scale saturates
    # a given range is kept as given, and so is one set by hand
    fixed, *_ = make(color_range=(0.01, 3.0))
    assert fixed.color_range == [0.01, 3.0]
    w.color_range = [0.5, 1.5]
    w.start(epochs=1).wait(120)
    assert w.color_range == [0.5, 1.5]


def test_pause_stop_and_resume_keep_every_step(make):
    w, trainer, _, _ = make(epochs=30)
    w.start()
    until(lambda: trainer.step_count >= 10)
    w.pause().wait(60)
    assert w.status == "paused"
    held = trainer.step_count
    assert 0 < held < w.total_steps
    assert w.frame(-1)["step"] == held  # a frame shows where training holds
    w.start()
    w.stop().wait(60)
    assert w.status == "stopped"
    stopped_at = trainer.step_count
    assert stopped_at >= held
    w.start().wait(120)
    assert w.status == "finished" and trainer.step_count == w.total_steps == 120
    steps = [w.frame(i)["step"] for i in range(w.frame_count)]
    assert steps == sorted(set(steps)) and steps[-1] == 120
    assert trainer.history["step"] == list(range(1, 121))  # no step lost or repeated
    # more epochs on request
    w.start(epochs=1).wait(60)
    assert trainer.step_count == 124 and w.status == "finished"


def test_dragging_theta_before_training_sets_the_initial_curve(make):
    w, trainer, ls, sent = make()
    assert w.editable
    w1, w2 = trainer.curve.w1.float(), trainer.curve.w2.float()
    plane = w._recorder.first_plane
    x, y = 0.5 * w.frame(0)["w2"][0], 6.0
    w._on_page_message(w, {"event": "move", "seq": 7, "index": 0, "x": x, "y": y}, [])
    w._drags.idle(30)
    theta = trainer.curve.control.detach()[0]
    torch.testing.assert_close(theta, plane.point(x, y), rtol=1e-5, atol=1e-5)
    assert w.frame(0)["controls"] == [pytest.approx((x, y), abs=1e-4)]
    prof = curve_profile(ls, BezierCurve(w1, w2, init=plane.point(x, y)[None]), n=33)
    np.testing.assert_allclose(w.frame(0)["profile"], prof.loss, rtol=1e-4)
    # the page got the new frame 0, then the answer to its move
    (frame_msg, buffers), (answer, _) = sent[-2:]
    assert frame_msg["event"] == "frame" and frame_msg["index"] == 0
    assert answer == {"event": "answer", "seq": 7, "kernel_ms": answer["kernel_ms"]}
    profile = np.frombuffer(buffers[frame_msg["frame"]["profile"]["buffer"]], "<f4")
    np.testing.assert_allclose(profile, prof.loss, rtol=1e-4)
    # training starts from the dragged point; afterwards theta no longer drags
    torch.testing.assert_close(trainer.history["control"][0][0], plane.point(x, y))
    w.start().wait(120)
    before = trainer.curve.control.detach().clone()
    w._on_page_message(w, {"event": "move", "seq": 8, "index": 0, "x": 0.0, "y": 0.0}, [])
    w._drags.idle(30)
    torch.testing.assert_close(trainer.curve.control.detach(), before)


def test_frames_are_in_the_widget_state_and_messages(make):
    w, _, _, sent = make()
    w.start().wait(120)
    state = w.get_state()
    assert len(state["frames"]) == w.frame_count > 2
    for k, f in enumerate(state["frames"]):
        # every array travels as {dtype, shape, buffer}: its shape goes with it
        assert "shape" not in f and f["grid"]["dtype"] == "float32"
        assert f["grid"]["shape"] == [9, 9] and f["profile"]["shape"] == [33]
        assert f["curve"]["shape"] == [65, 2]
        grid = np.frombuffer(f["grid"]["buffer"], "<f4").reshape(f["grid"]["shape"])
        np.testing.assert_array_equal(grid, w.frame(k)["grid"])
    assert state["straight"]["profile"]["shape"] == [33]
    assert state["straight"]["barrier"] > 0.3  # the segment crosses a ridge
    # ... as binary buffers, not JSON numbers: three per frame, one for the segment
    # (only this widget's state: other tests' widgets may be half closed)
    mine = dependency_state([w], drop_defaults=True)
    saved = embed_data(views=[w], state=mine)["manager_state"]["state"][w.model_id]
    assert len(saved["buffers"]) == 3 * w.frame_count + 1
    # each message holds one frame, its arrays' bytes in the message's buffers
    frames = [(c, b) for c, b in sent if c["event"] == "frame"]
    assert [c["index"] for c, _ in frames] == list(range(w.frame_count))
    content, buffers = frames[-1]
    grid = content["frame"]["grid"]
    assert grid["shape"] == state["frames"][-1]["grid"]["shape"] and len(buffers) == 3
    assert bytes(buffers[grid["buffer"]]) == bytes(state["frames"][-1]["grid"]["buffer"])


def test_a_frame_re_rendered_sharper_is_the_same_plane(make):
    w, trainer, ls, _ = make()
    w.start().wait(120)
    f = w.frame(2)
    surf = w.render_frame(2, resolution=24)
    g = w.frame(2)
    assert g["hires"] and g["grid"].shape == (24, 24)
    assert (g["x"][0], g["x"][-1], g["y"][0], g["y"][-1]) == pytest.approx(
        (f["x"][0], f["x"][-1], f["y"][0], f["y"][-1])
    )
    theta = control_at(trainer, f["step"])[0]
    plane = Plane.through(trainer.curve.w1, trainer.curve.w2, theta)
    ref = ls.evaluate(plane, 24, bounds=(g["x"][0], g["x"][-1], g["y"][0], g["y"][-1]))
    np.testing.assert_allclose(surf.loss, ref.loss, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(g["grid"], ref.loss, rtol=2e-4, atol=1e-6)
    with pytest.raises(IndexError):
        w.render_frame(w.frame_count)


def test_long_runs_are_thinned(make):
    w, trainer, _, _ = make(epochs=10, every=1, max_frames=8)
    w.start().wait(120)
    steps = [w.frame(i)["step"] for i in range(w.frame_count)]
    assert w.frame_count <= 8 and steps[0] == 0 and steps[-1] == trainer.step_count == 40
    assert w.every > 1 and steps == sorted(steps)
    assert len(w.get_state()["frames"]) == w.frame_count


def test_polychain_frames_and_several_bends(make, two_nets):
    w, trainer, _, _ = make(curve_cls=PolyChain)
    w.start().wait(120)
    f = w.frame(-1)
    # the chain w1 - theta - w2, drawn through theta
    ((tx, ty),) = f["controls"]
    mid = f["curve"][len(f["curve"]) // 2]
    assert tuple(mid) == pytest.approx((tx, ty), abs=1e-3)
    X, y, nets = two_nets
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    gen = torch.Generator().manual_seed(0)
    init = 0.5 * torch.randn(2, trainer.curve.numel, generator=gen)
    chain = PolyChain(nets[0], nets[1], bends=2, init=trainer.curve.w1 + init)
    two = CurveTrainingWidget(CurveTrainer(ls, chain, epochs=1), resolution=6)
    assert two._ready.wait(60)
    g = two.frame(0)
    assert len(g["controls"]) == 2 and g["off_plane"] > 0  # drawn as its projection


def test_gif_and_mp4(make, tmp_path, monkeypatch):
    w, *_ = make()
    w.start().wait(120)
    gif = w.save_gif(tmp_path / "curve.gif", size=(400, 320))
    with Image.open(gif) as im:
        assert im.n_frames == w.frame_count and im.size == (400, 320)
        im.seek(0)
        first = np.asarray(im.convert("RGB"), float)
        im.seek(im.n_frames - 1)
        last = np.asarray(im.convert("RGB"), float)
    assert np.abs(first - last).mean() > 1.0  # the frames differ
    try:
        exe = video.ffmpeg_executable()
    except RuntimeError:
        exe = None
    if exe is not None:
        mp4 = w.save_mp4(tmp_path / "curve.mp4")
        head = mp4.read_bytes()[:12]
        assert head[4:8] == b"ftyp" and mp4.stat().st_size > 1000
    # without ffmpeg: a message that says what to install
    monkeypatch.setattr(video.shutil, "which", lambda _name: None)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(RuntimeError, match="imageio-ffmpeg"):
        w.save_mp4(tmp_path / "none.mp4")


def test_bad_arguments(two_nets):
    X, y, nets = two_nets
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    trainer = CurveTrainer(ls, BezierCurve(nets[0], nets[1]), epochs=1)
    with pytest.raises(TypeError, match="CurveTrainer"):
        CurveTrainingWidget(ls)
    for kwargs in ({"resolution": 1}, {"every": 0}, {"max_frames": 2}, {"hires": 1}):
        with pytest.raises(ValueError):
            CurveTrainingWidget(trainer, **kwargs)
    with pytest.raises(ValueError, match="colour map"):
        CurveTrainingWidget(trainer, colormap="jet")


def test_the_page_buttons_drive_training(make):
    w, trainer, _, _ = make(epochs=2)
    w._on_page_message(w, {"event": "control", "action": "start"}, [])
    until(lambda: trainer.step_count > 0)
    w.wait(60)
    assert w.status == "finished" and trainer.step_count == 8
    n = w.frame_count
    w._on_page_message(w, {"event": "sharpen", "index": n - 1}, [])
    until(lambda: w.frame(n - 1)["hires"])
    assert w.frame(n - 1)["grid"].shape == (w.hires, w.hires)
    assert math.isfinite(w.frame(n - 1)["grid"].sum())


def test_batchnorm_frames_recompute_the_statistics(one_thread):
    from landscape_widgets import datasets, models, train

    X, y = datasets.digits(120, seed=0)
    nets = []
    for seed in range(2):
        torch.manual_seed(seed)
        net = models.small_cnn(in_channels=1, classes=10, width=4, bn=True)
        train(net, (X, y), epochs=2, seed=seed, progress=False)
        nets.append(net)
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y), subset=60)
    gen = torch.Generator().manual_seed(0)
    curve = BezierCurve(*nets)
    curve.control.data += 0.3 * torch.randn(curve.control.shape, generator=gen)
    trainer = CurveTrainer(ls, curve, epochs=1, batch_size=60)
    w = CurveTrainingWidget(trainer, resolution=3, profile_points=5)
    assert w._ready.wait(120), w.status
    assert w.bn == "recompute"
    # the frame's profile is the trainer's own (statistics recomputed at every t)
    np.testing.assert_allclose(w.frame(0)["profile"], trainer.profile(n=5).loss, rtol=1e-4)
    assert trainer.profile(n=5).provenance["bn"] == "recompute"


def test_two_starts_at_once_train_once(make):
    w, trainer, _, _ = make(epochs=10)
    threads = [threading.Thread(target=w.start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.wait(120)
    assert trainer.history["step"] == list(range(1, 41))  # no step taken twice


def test_wait_after_stop_then_start_waits_for_the_new_run(make):
    w, trainer, _, _ = make(epochs=40)
    w.start()
    until(lambda: trainer.step_count >= 5)
    w.stop()
    w.start()  # at once: the first run's "stopped" must not end the wait
    w.wait(120)
    assert w.status == "finished" and trainer.step_count == w.total_steps == 160


def test_close_ends_the_threads(make):
    w, trainer, _, _ = make(epochs=40)
    w.start()
    until(lambda: trainer.step_count >= 5)
    w.close()
    w._jobs.thread.join(5)
    w._runs.thread.join(5)
    assert not w._jobs.thread.is_alive() and not w._runs.thread.is_alive()
    assert trainer.step_count < 160
    with pytest.raises(RuntimeError, match="closed"):
        w.start()


def test_close_while_training_ends_the_status_and_wait(make):
    w, trainer, _, _ = make(epochs=400)
    w.start()
    until(lambda: w.status == "training" and trainer.step_count >= 5)
    w.close()
    # close() joined the threads: nothing trains or evaluates any more
    assert not w._runs.thread.is_alive() and not w._jobs.thread.is_alive()
    steps = trainer.step_count
    assert steps < w.total_steps
    assert w.status == "stopped"
    done = []
    waiter = threading.Thread(target=lambda: done.append(w.wait(timeout=None)))
    waiter.start()
    waiter.join(120)  # returns at once; before the fix it blocked forever
    assert done == [w]
    assert trainer.step_count == steps
    w.close()  # again: harmless
    assert w.status == "stopped"


def test_a_failing_frame_stops_training_and_wait_says_why(make, monkeypatch):
    w, trainer, _, _ = make(epochs=40)
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise MemoryError("no room for this grid")

    monkeypatch.setattr(w._evaluation, "evaluate", broken)
    w.start()
    with pytest.raises(RuntimeError, match="no room for this grid"):
        w.wait(60)
    assert w.status == "error: MemoryError: no room for this grid"
    # the run ended at the first failure (one more frame may have been handed over)
    assert trainer.step_count < 160 and len(calls) <= 2
    monkeypatch.undo()
    w.start().wait(120)  # Train again is a retry
    assert w.status == "finished" and trainer.step_count == 160


def test_float64_landscapes_train(make):
    w, trainer, ls, _ = make(epochs=2, dtype=torch.float64)
    assert trainer.curve.control.dtype == torch.float64
    w.start().wait(120)
    assert w.status == "finished" and trainer.step_count == 8
    theta = trainer.curve.control.detach()[0]
    expected = ls.metrics_at(
        BezierCurve(trainer.curve.w1, trainer.curve.w2, init=theta[None]).at(0.5)
    )
    assert np.interp(0.5, np.linspace(0, 1, 33), w.frame(-1)["profile"]) == pytest.approx(
        expected["loss"], rel=1e-3
    )
