"""The live map without a browser: background grids, pan/zoom re-evaluation,
cancellation of stale work, probes, predictions and path profiles, each
checked against an independent computation (a fresh copy of the network with
its weights written by torch.nn.utils.vector_to_parameters)."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import Landscape, LandscapeWidget, Plane, datasets
from landscape_widgets.wire.jobs import LatestJob
from landscape_widgets.wire.points import bezier, path_coords

pytestmark = pytest.mark.usefixtures("one_thread")


def reference_loss(net, vec, X, y):
    """Loss and accuracy of a fresh copy of ``net`` with weights ``vec``."""
    ref = copy.deepcopy(net)
    nn.utils.vector_to_parameters(torch.as_tensor(vec, dtype=torch.float32), ref.parameters())
    with torch.no_grad():
        out = ref(X)
    return float(nn.functional.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())


def to_the_page(widget) -> list[tuple[str, object]]:
    """What the widget sends from now on, in order: ("state", trait names) or
    ("message", content) for a custom message."""
    sent = []
    send_state, send = widget.send_state, widget.send

    def logged_state(key=None):
        names = widget.keys if key is None else [key] if isinstance(key, str) else key
        sent.append(("state", set(names)))
        send_state(key)

    def logged_message(content, buffers=None):
        sent.append(("message", content))
        send(content, buffers)

    widget.send_state, widget.send = logged_state, logged_message
    return sent


def answers(sent) -> list[dict]:
    return [content for kind, content in sent if kind == "message" and content["event"] == "answer"]


@pytest.fixture
def toy():
    torch.manual_seed(0)
    X, y = datasets.spirals(300, seed=1)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None)
    plane = Plane.random(net, seed=3)
    return net, X, y, ls, plane


def test_grid_streams_to_the_exact_evaluation(toy):
    net, X, y, ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=17, bounds=(-1, 1, -0.5, 0.5)).wait(60)
    assert (w.status, w.done, w.progress, w.loss.shape) == ("done", True, 1.0, (17, 17))
    expected = ls.evaluate(plane, resolution=17, bounds=(-1, 1, -0.5, 0.5)).loss
    np.testing.assert_allclose(w.grid, expected, rtol=1e-5)
    # one corner by hand
    vec = plane.point(1.0, -0.5)
    assert w.grid[0, -1] == pytest.approx(reference_loss(net, vec, X, y)[0], rel=1e-4)
    # the accuracy grid travels too, for the hover read-out
    acc = w.hover["accuracy"]
    np.testing.assert_allclose(acc, ls.evaluate(plane, 17, (-1, 1, -0.5, 0.5)).metrics["accuracy"])
    w.close()


def test_levels_arrive_coarse_to_fine(toy):
    _, _, _, ls, plane = toy
    levels = []
    w = LandscapeWidget(ls, plane, resolution=33, levels=3)
    w.observe(lambda ch: levels.append(ch["new"]), "level")
    w.wait(60)
    assert levels[-1] == 2 and levels == sorted(levels)
    w.close()


def test_a_new_view_is_evaluated_and_cancels_the_stale_one(toy):
    _, _, _, ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=33, bounds=(-1, 1, -1, 1))
    w.view = [-3.0, 3.0, -3.0, 3.0]  # stale as soon as it starts
    w.view = [0.0, 0.5, -0.25, 0.25]  # what the person settled on
    w.wait(60)
    assert w.x_range == [0.0, 0.5] and w.y_range == [-0.25, 0.25]
    expected = ls.evaluate(plane, resolution=33, bounds=(0.0, 0.5, -0.25, 0.25)).loss
    np.testing.assert_allclose(w.grid, expected, rtol=1e-5)
    assert w.home == [-1.0, 1.0, -1.0, 1.0]
    w.close()


def test_latest_job_drops_waiting_jobs_and_cancels_the_running_one():
    started, release = threading.Event(), threading.Event()
    ran, cancelled = [], []

    def slow(cancel):
        started.set()
        release.wait(5)
        cancelled.append(cancel.is_set())
        ran.append("slow")

    jobs = LatestJob("test", lambda exc, text: None)
    jobs.submit(slow)
    assert started.wait(5)
    jobs.submit(lambda c: ran.append("stale"))
    jobs.submit(lambda c: ran.append("latest"), cancel_running=True)
    release.set()
    assert jobs.idle(5)
    assert ran == ["slow", "latest"]  # "stale" was replaced before it ran
    assert cancelled == [True]  # the running job was told to stop
    jobs.close()
    with pytest.raises(RuntimeError, match="closed"):
        jobs.submit(lambda c: None)


def test_a_failing_job_is_reported_and_the_thread_survives():
    errors = []
    jobs = LatestJob("test", lambda exc, text: errors.append((exc, text)))
    jobs.submit(lambda c: 1 / 0)
    assert jobs.idle(5)
    ok = []
    jobs.submit(lambda c: ok.append(1))
    assert jobs.idle(5) and ok == [1]
    assert isinstance(errors[0][0], ZeroDivisionError) and "ZeroDivisionError" in errors[0][1]


def test_probe_reports_loss_accuracy_and_predictions_at_its_weights(toy):
    net, X, y, ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=9, probes={"p": (0.2, -0.1)}).wait(60)
    loss, acc = reference_loss(net, plane.point(0.2, -0.1), X, y)
    assert w.probe_results["p"]["loss"] == pytest.approx(loss, rel=1e-5)
    assert w.probe_results["p"]["accuracy"] == pytest.approx(acc)

    # the panel: class and confidence over the input plane, from a fresh copy
    pred = w.predictions
    assert pred["kind"] == "classification" and pred["probe"] == "p" and pred["n_classes"] == 3
    values = pred["values"]
    assert values.shape[0] == 2  # class and confidence per input cell
    x0, x1, y0, y1 = pred["extent"]
    assert x0 < float(X[:, 0].min()) and x1 > float(X[:, 0].max())
    gx = np.linspace(x0, x1, values.shape[2])
    gy = np.linspace(y0, y1, values.shape[1])
    ref = copy.deepcopy(net)
    nn.utils.vector_to_parameters(plane.point(0.2, -0.1).float(), ref.parameters())
    i, j = 5, 40
    with torch.no_grad():
        probs = ref(torch.tensor([[gx[j], gy[i]]], dtype=torch.float32)).softmax(-1)[0]
    assert values[0, i, j] == int(probs.argmax())
    assert values[1, i, j] == pytest.approx(float(probs.max()), abs=1e-5)

    # moving the probe from Python recomputes everything there
    w.move_point("p", -0.3, 0.4)
    w.wait(30)
    loss, _ = reference_loss(net, plane.point(-0.3, 0.4), X, y)
    assert w.probe_results["p"]["loss"] == pytest.approx(loss, rel=1e-5)
    w.close()


def test_regression_data_gets_the_fitted_function(one_thread):
    torch.manual_seed(0)
    X, y = datasets.regression1d(100)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    ls = Landscape(net, nn.MSELoss(), (X, y))
    plane = Plane.random(net, seed=0)
    w = LandscapeWidget(ls, plane, resolution=9, probes={"p": (0.5, 0.5)}).wait(60)
    pred = w.predictions
    assert pred["kind"] == "regression"
    curve = pred["values"]
    xs = np.linspace(pred["extent"][0], pred["extent"][1], len(curve))
    ref = copy.deepcopy(net)
    nn.utils.vector_to_parameters(plane.point(0.5, 0.5).float(), ref.parameters())
    with torch.no_grad():
        expected = ref(torch.tensor(xs[:, None], dtype=torch.float32))[:, 0].numpy()
    np.testing.assert_allclose(curve, expected, rtol=1e-5, atol=1e-6)
    assert "accuracy" not in w.probe_results["p"]
    w.close()


def test_image_data_has_no_panel_but_probes_still_report(one_thread):
    X, y = datasets.digits(64)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    w = LandscapeWidget(ls, Plane.random(net, seed=0), resolution=5).wait(60)
    assert w.predictions == {}
    assert set(w.probe_results["probe"]) == {"loss", "accuracy"}
    w.close()


def test_segment_profile_follows_its_ends(toy):
    net, X, y, ls, plane = toy
    seen = []
    w = LandscapeWidget(ls, plane, resolution=9, probes=[])
    w.on_profile(lambda name, prof: seen.append(name))
    w.add_segment("slice", (-0.5, 0.0), (0.5, 0.25))
    w.wait(60)
    prof = w.profiles["slice"]
    assert prof.t[0] == 0 and prof.t[-1] == 1 and len(prof.t) == 41
    k = 10
    xy = np.array([-0.5, 0.0]) + prof.t[k] * np.array([1.0, 0.25])
    assert prof.loss[k] == pytest.approx(reference_loss(net, plane.point(*xy), X, y)[0], rel=1e-5)
    w.move_point("slice.end", 0.9, -0.4)
    w.wait(30)
    prof = w.profiles["slice"]
    end = reference_loss(net, plane.point(0.9, -0.4), X, y)[0]
    assert prof.loss[-1] == pytest.approx(end, rel=1e-5)
    assert prof.barrier() == pytest.approx(
        max(prof.loss) - max(prof.loss[0], prof.loss[-1]), abs=1e-12
    )
    assert seen.count("slice") >= 2
    w.remove_path("slice")
    assert "slice" not in w.profiles and not any(p["role"] == "path" for p in w.points)
    w.close()


def test_bezier_path_matches_de_casteljau():
    ctrl = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0], [4.0, 0.5]])
    t = np.linspace(0, 1, 7)

    def casteljau(pts, s):
        pts = [np.asarray(p) for p in pts]
        while len(pts) > 1:
            pts = [(1 - s) * a + s * b for a, b in zip(pts[:-1], pts[1:], strict=True)]
        return pts[0]

    np.testing.assert_allclose(bezier(ctrl, t), [casteljau(ctrl, s) for s in t], atol=1e-12)
    where = {"a": (0.0, 0.0), "b": (3.0, 0.0), "c": (3.0, 4.0)}
    _, xy = path_coords({"kind": "polyline", "points": ["a", "b", "c"]}, where, n=8)
    # evenly spaced along a 3 + 4 long chain: every 1.0
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    np.testing.assert_allclose(steps, 1.0, atol=1e-12)


def test_drag_callbacks_see_moves_and_concurrent_moves_end_consistent(toy):
    net, X, y, ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=9, probes={"a": (0, 0), "b": (0.1, 0.1)})
    moved = []
    w.on_drag(lambda p: moved.append((p["name"], p["x"], p["y"])))
    lock = threading.Lock()

    def mover(name, k0):
        for k in range(k0, k0 + 25):
            with lock:  # two people dragging: moves are serialised like messages
                w.move_point(name, 0.01 * k, -0.01 * k)

    threads = [threading.Thread(target=mover, args=(n, k)) for n, k in (("a", 0), ("b", 50))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.wait(30)
    assert ("a", 0.24, -0.24) in moved and ("b", 0.74, -0.74) in moved
    for name, (x, yy) in (("a", (0.24, -0.24)), ("b", (0.74, -0.74))):
        assert w.point(name) == pytest.approx((x, yy))
        loss = reference_loss(net, plane.point(x, yy), X, y)[0]
        assert w.probe_results[name]["loss"] == pytest.approx(loss, rel=1e-5)
    w.close()


def test_the_answer_echoes_the_drag_number_after_the_state_it_answers(toy):
    _, _, _, ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=9).wait(60)
    sent = to_the_page(w)
    w.drag_seq = 7
    w.move_point("probe", 0.3, 0.3)
    w.wait(30)
    (answer,) = answers(sent)
    assert answer["seq"] == 7 and answer["probes"] == ["probe"] and answer["kernel_ms"] >= 0
    # the probe's results went out before the answer that says they are there
    results = [
        k for k, (kind, what) in enumerate(sent) if kind == "state" and "probe_results" in what
    ]
    assert results and results[-1] < sent.index(("message", answer))
    assert not hasattr(w, "answered")
    w.close()


def test_errors_in_the_background_reach_the_status(toy):
    _, _, _, ls, plane = toy

    class Broken(Landscape):
        def stream(self, *a, **k):
            raise RuntimeError("out of memory, say")
            yield

    broken = Broken(ls.net, nn.CrossEntropyLoss(), (ls.X, ls.y))
    w = LandscapeWidget(broken, plane, resolution=9)
    with pytest.raises(RuntimeError, match="background work failed"):
        w.wait(30)
    assert w.status.startswith("error: RuntimeError: out of memory")
    w.close()


def test_overlays_go_out_as_binary(toy):
    from ipywidgets.widgets.widget import _remove_buffers

    _, _, _, ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=9, probes=[])
    xy = np.cumsum(np.ones((50, 2)) * 0.01, axis=0)
    w.set_overlay("sgd", xy, color="#d62728")
    _, paths, buffers = _remove_buffers(w.get_state())
    assert ["overlays", 0, "xy", "buffer"] in paths
    assert w.overlays[0]["xy"].dtype == np.float32
    np.testing.assert_allclose(w.overlays[0]["xy"], xy, 1e-6)
    with pytest.raises(ValueError, match="shape"):
        w.set_overlay("bad", np.zeros(3))
    w.remove_overlay("sgd")
    assert w.overlays == []
    w.close()


def test_bad_arguments(toy):
    net, _, _, ls, plane = toy
    with pytest.raises(TypeError, match="Plane"):
        LandscapeWidget(ls, "plane")
    with pytest.raises(TypeError, match="not a Landscape"):
        LandscapeWidget(None, plane)
    with pytest.raises(ValueError, match="resolution"):
        LandscapeWidget(ls, plane, resolution=1)
    with pytest.raises(ValueError, match="bounds"):
        LandscapeWidget(ls, plane, bounds=(1, 0, 0, 1))
    with pytest.raises(ValueError, match="no metric"):
        LandscapeWidget(ls, plane, metric="f1")
    other = Plane.random(nn.Linear(2, 2), seed=0)
    with pytest.raises(ValueError, match="weights"):
        LandscapeWidget(ls, other)
    w = LandscapeWidget(ls, plane, resolution=5)
    with pytest.raises(ValueError, match="exist already"):
        w.add_probe("probe", 0, 0)
    with pytest.raises(KeyError, match="no point"):
        w.move_point("nowhere", 0, 0)
    w.close()


def test_wait_times_out_while_work_runs(toy):
    _, _, _, ls, plane = toy
    gate = threading.Event()

    class Slow(Landscape):
        def stream(self, *a, **k):
            gate.wait(10)
            yield from super().stream(*a, **k)

    slow = Slow(ls.net, nn.CrossEntropyLoss(), (ls.X, ls.y))
    w = LandscapeWidget(slow, plane, resolution=5, probes=[])
    # the grid is held at the gate for up to 10 s: a wait() that ignored its timeout
    # would return normally once the grid came through, and raise nothing
    with pytest.raises(TimeoutError):
        w.wait(0.2)
    gate.set()
    w.wait(30)
    w.close()


def test_move_messages_from_the_page_move_points_and_are_answered(toy):
    net, X, y, ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=9).wait(60)
    sent = to_the_page(w)
    # what the page sends while a probe is dragged (a custom message per frame)
    w._handle_custom_msg({"event": "move", "seq": 41, "name": "probe", "x": 0.2, "y": -0.3}, [])
    w.wait(30)
    assert w.point("probe") == (0.2, -0.3)
    assert [a["seq"] for a in answers(sent)] == [41] and answers(sent)[0]["kernel_ms"] >= 0
    loss = reference_loss(net, plane.point(0.2, -0.3), X, y)[0]
    assert w.probe_results["probe"]["loss"] == pytest.approx(loss, rel=1e-5)
    # unknown points and other messages are ignored
    w._handle_custom_msg({"event": "move", "seq": 42, "name": "nobody", "x": 0, "y": 0}, [])
    w._handle_custom_msg({"event": "zoom"}, [])
    assert w.drag_seq == 41
    w.close()
