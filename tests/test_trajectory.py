"""Optimizer trajectories: each recorded step against a hand-written update,
the two-weight and in-plane runs against gradients taken on the whole network,
projections against hand-computed residuals, the PCA of several runs against
an eigendecomposition, and the map's trajectories and draggable starts."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import (
    Landscape,
    LandscapeWidget,
    LossCurve,
    Plane,
    Trajectory,
    datasets,
    explore,
    record_trajectory,
)
from landscape_widgets.widgets.map_trajectories import Starts

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def toy():
    torch.manual_seed(0)
    X, y = datasets.spirals(120, seed=2)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    return net, X, y


def loss_and_grad(net, vec, X, y, loss_fn=nn.functional.cross_entropy):
    """Loss and flat gradient of a fresh copy of ``net`` at ``vec``."""
    ref = copy.deepcopy(net)
    nn.utils.vector_to_parameters(vec.clone(), ref.parameters())
    loss = loss_fn(ref(X), y)
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    return float(loss.detach()), torch.cat([g.reshape(-1) for g in grads])


def flat(net):
    return nn.utils.parameters_to_vector(net.parameters()).detach().clone()


def test_full_batch_sgd_follows_the_update_written_out(toy):
    net, X, y = toy
    before = flat(net)
    run = record_trajectory(net, (X, y), "sgd", lr=0.3, steps=12, every=1)
    assert run.steps.tolist() == list(range(13)) and len(run.losses) == 12
    w = before.clone()
    for k in range(12):
        torch.testing.assert_close(run.weights[k], w, rtol=1e-5, atol=1e-6)
        loss, g = loss_and_grad(net, w, X, y)
        assert run.losses[k] == pytest.approx(loss, rel=1e-5)
        w = w - 0.3 * g
    torch.testing.assert_close(run.end, w, rtol=1e-5, atol=1e-6)
    # the caller's model is left as it was
    torch.testing.assert_close(flat(net), before)


def test_momentum_and_adam_follow_their_update_rules(toy):
    net, X, y = toy
    w0 = flat(net)
    mom = record_trajectory(net, (X, y), "momentum", lr=0.1, steps=6)
    adam = record_trajectory(net, (X, y), "adam", lr=0.01, steps=6)
    # heavy ball: b <- 0.9 b + g, w <- w - lr b
    w, b = w0.clone(), torch.zeros_like(w0)
    for k in range(6):
        _, g = loss_and_grad(net, w, X, y)
        b = 0.9 * b + g
        w = w - 0.1 * b
        torch.testing.assert_close(mom.weights[k + 1], w, rtol=1e-4, atol=1e-6)
    # Adam with bias correction
    w, m, v = w0.clone(), torch.zeros_like(w0), torch.zeros_like(w0)
    for k in range(1, 7):
        _, g = loss_and_grad(net, w, X, y)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        mh, vh = m / (1 - 0.9**k), v / (1 - 0.999**k)
        w = w - 0.01 * mh / (vh.sqrt() + 1e-8)
        torch.testing.assert_close(adam.weights[k], w, rtol=1e-4, atol=1e-6)


def test_minibatches_record_every_k_steps_and_leave_the_random_state_alone(toy):
    net, X, y = toy
    state = torch.random.get_rng_state()
    a = record_trajectory(net, (X, y), "rmsprop", steps=23, batch_size=16, every=5, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.steps.tolist() == [0, 5, 10, 15, 20, 23]
    assert len(a.losses) == 23 and np.isfinite(a.losses).all()
    b = record_trajectory(net, (X, y), "rmsprop", steps=23, batch_size=16, every=5, seed=4)
    torch.testing.assert_close(a.weights, b.weights)
    c = record_trajectory(net, (X, y), "rmsprop", steps=23, batch_size=16, every=5, seed=5)
    assert not torch.allclose(a.end, c.end)


def test_two_weight_runs_move_only_those_weights_by_their_own_gradient(toy):
    net, X, y = toy
    plane = Plane.weights(net, ("0.weight", (3, 1)), ("2.weight", (1, 4)))
    ia, ib = plane.info["flat_index"]
    run = record_trajectory(net, (X, y), "sgd", lr=0.5, steps=8, plane=plane, start=(1.5, -2.0))
    w = plane.point(1.5, -2.0)
    others = torch.ones_like(w, dtype=torch.bool)
    others[[ia, ib]] = False
    for k in range(9):
        torch.testing.assert_close(run.weights[k], w, rtol=1e-5, atol=1e-6)
        assert torch.equal(run.weights[k][others], flat(net)[others])
        _, g = loss_and_grad(net, w, X, y)
        step = torch.zeros_like(w)
        step[[ia, ib]] = g[[ia, ib]]
        w = w - 0.5 * step
    path = run.project(plane)
    np.testing.assert_allclose(path.xy[0], [1.5, -2.0], rtol=1e-6)
    assert path.max_error == 0.0


def test_in_plane_runs_follow_the_gradient_projected_onto_the_plane(toy):
    net, X, y = toy
    plane = Plane.random(net, seed=1)  # neither unit nor orthogonal directions
    run = record_trajectory(net, (X, y), "sgd", lr=0.2, steps=5, plane=plane, start=(0.4, -0.3))
    B = torch.stack([plane.u, plane.v], dim=1).double()  # (P, 2)
    w = plane.point(0.4, -0.3).double()
    for k in range(6):
        torch.testing.assert_close(run.weights[k].double(), w, rtol=1e-4, atol=1e-5)
        _, g = loss_and_grad(net, w.float(), X, y)
        # the orthogonal projection onto the plane: B (B^T B)^-1 B^T g
        pg = B @ torch.linalg.solve(B.T @ B, B.T @ g.double())
        w = w - 0.2 * pg
    # the path never leaves the plane
    assert run.project(plane).max_error < 1e-5
    # and does not depend on how the plane is parametrised: the same plane
    # with its directions rescaled and mixed gives the same weights
    other = Plane(plane.origin, 3.0 * plane.u + plane.v, plane.u - 0.5 * plane.v, "random")
    again = record_trajectory(
        net, (X, y), "sgd", lr=0.2, steps=5, plane=other, start=plane.point(0.4, -0.3)
    )
    torch.testing.assert_close(again.weights, run.weights, rtol=1e-4, atol=1e-5)


def test_the_start_the_dtype_and_the_random_state_are_the_callers(toy):
    import threading

    net, X, y = toy
    a = record_trajectory(net, (X, y), "adam", steps=5)
    end = a.end.clone()
    record_trajectory(net, (X, y), "adam", steps=5, start=a.end)
    torch.testing.assert_close(a.end, end, rtol=0, atol=0)
    plane = Plane.random(net, seed=0)
    origin = plane.origin.clone()
    record_trajectory(net, (X, y), "sgd", steps=3, start=plane.origin)
    assert torch.equal(plane.origin, origin)
    # a float64 model trains in float64
    wide = copy.deepcopy(net).double()
    run = record_trajectory(wide, (X.double(), y), "sgd", lr=0.3, steps=3)
    _, g = loss_and_grad(wide, flat(wide), X.double(), y)
    torch.testing.assert_close(run.weights[1].double(), (flat(wide) - 0.3 * g).float().double())
    record_trajectory(wide, (X.double(), y), "sgd", steps=2, plane=Plane.random(wide))
    # from another thread the global generator is neither seeded nor rewound
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    worker = threading.Thread(target=record_trajectory, args=(net, (X, y)), kwargs={"steps": 3})
    worker.start()
    worker.join()
    assert torch.equal(torch.rand(3), expected)


def test_projection_error_is_the_residual_off_the_plane(toy):
    net, X, y = toy
    run = record_trajectory(net, (X, y), "adam", lr=0.05, steps=30, every=3)
    plane = Plane.random(net, seed=2)
    path = run.project(plane)
    basis = torch.stack([plane.u, plane.v]).double().T  # (P, 2), not orthogonal
    for k in range(len(run)):
        d = (run.weights[k] - plane.origin).double()
        coef = torch.linalg.lstsq(basis, d[:, None]).solution[:, 0]
        np.testing.assert_allclose(path.xy[k], coef.numpy(), rtol=1e-3, atol=1e-5)
        residual = (d - basis @ coef).norm()
        assert path.distance[k] == pytest.approx(float(residual), rel=1e-3, abs=1e-6)
        if d.norm() > 0:
            assert path.relative[k] == pytest.approx(float(residual / d.norm()), rel=1e-3)
    assert path.steps.tolist() == run.steps.tolist()


def test_pca_of_several_runs_is_the_eigendecomposition_of_their_offsets(toy):
    net, X, y = toy
    runs = [
        record_trajectory(net, (X, y), opt, steps=40, batch_size=32, every=4)
        for opt in ("sgd", "adam", "momentum")
    ]
    plane = Plane.pca(runs)
    origin = runs[0].end.double()
    # every recorded point's offset from the origin, the origin's own zero row included
    # (Li et al.'s plot_trajectory.py fits the final model's offset too)
    rows = [w for r in runs for w in r.weights]
    m = torch.stack(rows).double() - origin
    m = m - m.mean(0)
    evals, evecs = np.linalg.eigh((m.T @ m).numpy())  # P x P: the model is small
    evals, evecs = evals[::-1], evecs[:, ::-1]
    np.testing.assert_allclose(plane.info["explained_variance"], evals[:2] / evals.sum(), rtol=1e-6)
    for vec, ref in ((plane.u, evecs[:, 0]), (plane.v, evecs[:, 1])):
        assert abs(float(vec.double() @ torch.from_numpy(ref.copy()))) == pytest.approx(1, abs=1e-4)
    torch.testing.assert_close(plane.origin, runs[0].end)
    assert len(plane.info["paths"]) == 3
    for run, coords in zip(runs, plane.info["paths"], strict=True):
        np.testing.assert_allclose(coords, run.project(plane).xy, rtol=1e-4, atol=1e-5)
    # one run alone: its own plane, which it fits better than the shared one
    own = Plane.pca(runs[1])
    assert runs[1].project(own).distance.mean() <= runs[1].project(plane).distance.mean() + 1e-6


def test_save_and_load(tmp_path, toy):
    net, X, y = toy
    run = record_trajectory(net, (X, y), "adam", steps=7, every=2, label="adam b=all")
    run.save(tmp_path / "run.pt")
    back = Trajectory.load(tmp_path / "run.pt")
    torch.testing.assert_close(back.weights, run.weights)
    assert back.steps.tolist() == run.steps.tolist() and back.label == "adam b=all"
    np.testing.assert_array_equal(back.losses, run.losses)
    assert back.info == run.info


def test_bad_arguments(toy):
    net, X, y = toy
    with pytest.raises(ValueError, match="steps"):
        record_trajectory(net, (X, y), steps=0)
    with pytest.raises(ValueError, match="every"):
        record_trajectory(net, (X, y), every=0)
    with pytest.raises(ValueError, match="plane="):
        record_trajectory(net, (X, y), start=(0.1, 0.2))
    with pytest.raises(ValueError, match="optimizer must be"):
        record_trajectory(net, (X, y), "lbfgs")
    other = Plane.random(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="another model"):
        record_trajectory(net, (X, y), plane=other)
    run = record_trajectory(net, (X, y), steps=2)
    with pytest.raises(ValueError, match="same model"):
        run.project(other)


# ---------------------------------------------------------------- on the map
@pytest.fixture
def live(toy):
    net, X, y = toy
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None)
    made = []

    def make(plane, **kw):
        w = LandscapeWidget(ls, plane, resolution=9, probes=[], predictions=False, **kw)
        made.append(w)
        return w

    yield net, X, y, ls, make
    for w in made:
        w.close()


def test_a_trajectory_goes_to_the_page_with_its_steps(live):
    net, X, y, ls, make = live
    run = record_trajectory(net, (X, y), "adam", lr=0.05, steps=20, every=5)
    plane = Plane.pca(run)
    w = make(plane)
    path = w.add_trajectory(run, color="#00e5ff")
    (entry,) = [o for o in w.overlays if o["name"] == "adam"]
    assert entry["xy"].shape == (len(run), 2) and entry["steps"].shape == (len(run),)
    np.testing.assert_allclose(entry["xy"], path.xy, rtol=1e-6)
    np.testing.assert_array_equal(entry["steps"], run.steps)
    assert entry["color"] == "#00e5ff"
    # a path that leaves the plane says so, with its largest distance
    random_plane = Plane.random(net, seed=0, center=run.end)
    w2 = make(random_plane)
    far = w2.add_trajectory(run)
    assert far.max_error > 0.01
    assert "off-plane" in w2.overlays[-1]["label"]
    assert f"{far.max_error:.2g}" in w2.overlays[-1]["label"]
    with pytest.raises(ValueError, match="non-decreasing"):
        w.set_overlay("bad", [[0, 0], [1, 1]], steps=[3, 1])
    with pytest.raises(ValueError, match="2 points"):
        w.set_overlay("bad", [[0, 0], [1, 1]], steps=[1, 2, 3])


def test_a_start_runs_its_optimizers_where_it_is_dropped(live):
    net, X, y, ls, make = live
    plane = Plane.weights(net, ("0.weight", (0, 0)), ("0.weight", (1, 1)))
    w = make(plane)
    w.add_start("from", 1.0, -1.0, runs={"sgd": {"lr": 0.5}, "adam": {"lr": 0.05}}, steps=15)
    w.wait(60)
    runs = w.runs_from("from")
    assert set(runs) == {"sgd", "adam"}
    ref = record_trajectory(
        net, ls.data, "sgd", lr=0.5, steps=15, plane=plane, start=(1.0, -1.0), loss_fn=ls.loss_fn
    )
    torch.testing.assert_close(runs["sgd"].weights, ref.weights)
    names = {o["name"] for o in w.overlays}
    assert {"from:sgd", "from:adam"} <= names
    # dropped elsewhere: the runs follow
    w.move_point("from", -0.5, 0.5)
    w.wait(60)
    moved = w.runs_from("from")["adam"].project(plane)
    np.testing.assert_allclose(moved.xy[0], [-0.5, 0.5], rtol=1e-6)
    # moves while the mouse is down do not start runs; the drop does
    before = w.runs_from("from")
    w._handle_custom_msg({"event": "move", "seq": 1, "name": "from", "x": 0.2, "y": 0.2}, [])
    w.wait(60)
    after = w.runs_from("from")
    assert all(after[label] is before[label] for label in before)
    # letting go runs them from there, even when the last move already put it there
    w._handle_custom_msg({"event": "drop", "name": "from"}, [])
    w.wait(60)
    dropped = w.runs_from("from")
    np.testing.assert_allclose(dropped["sgd"].project(plane).xy[0], [0.2, 0.2], rtol=1e-6)


def test_full_runs_from_a_start_are_projected_with_their_error(live):
    net, X, y, ls, make = live
    plane = Plane.random(net, seed=5)
    w = make(plane)
    w.add_start("s", 0.3, 0.3, runs=("adam",), mode="full", steps=10, batch_size=30)
    w.wait(60)
    run = w.runs_from("s")["adam"]
    torch.testing.assert_close(run.start, plane.point(0.3, 0.3))
    assert w.trajectories["s:adam"].max_error > 0
    assert "off-plane" in next(o for o in w.overlays if o["name"] == "s:adam")["label"]
    with pytest.raises(ValueError, match="mode"):
        w.add_start("t", 0, 0, mode="both")
    with pytest.raises(ValueError, match="at least one optimizer"):
        w.add_start("t", 0, 0, runs=())
    with pytest.raises(KeyError):
        w.runs_from("nobody")
    # refused at once, not later on the background thread
    with pytest.raises(ValueError, match="optimizer must be"):
        w.add_start("t", 0, 0, runs=("lbfgs",))
    with pytest.raises(TypeError, match="unknown argument"):
        w.add_start("t", 0, 0, runs={"sgd": {"learning_rate": 0.1}})
    assert "t" not in {p["name"] for p in w.points}


def test_a_run_that_fails_reports_and_clears_its_activity(live):
    net, X, y, ls, make = live
    w = make(Plane.random(net, seed=5))
    w.add_start("s", 0.1, 0.1, runs={"sgd": {"steps": 3, "every": 0}}, steps=5)
    with pytest.raises(RuntimeError, match="every must be"):
        w.wait(60)
    assert w.activity.startswith("error: ValueError")


def test_the_mean_origin_gives_the_best_fitting_plane(toy):
    net, X, y = toy
    runs = [
        record_trajectory(net, (X, y), opt, steps=40, batch_size=32, every=4, seed=s)
        for s, opt in enumerate(("sgd", "adam", "rmsprop"))
    ]
    planes = {o: Plane.pca(runs, origin=o) for o in ("end", "start", "mean")}
    rows = torch.cat([r.weights for r in runs]).double()
    torch.testing.assert_close(planes["mean"].origin.double(), rows.mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(planes["start"].origin, runs[0].start)
    # the same directions up to sign; only where (0, 0) is differs
    for o in ("start", "mean"):
        assert abs(float(planes[o].u @ planes["end"].u)) > 0.99
    # least squares: the plane through the mean leaves the smallest total squared error
    sq = {
        o: sum(float((r.project(p).distance ** 2).sum()) for r in runs) for o, p in planes.items()
    }
    assert sq["mean"] <= min(sq["end"], sq["start"]) + 1e-6
    with pytest.raises(ValueError, match="origin"):
        Plane.pca(runs, origin="middle")


def test_a_drop_from_the_page_runs_the_optimizers_once(live, monkeypatch):
    net, X, y, ls, make = live
    w = make(Plane.random(net, seed=2))
    w.add_start("s", 0.1, 0.1, runs=("sgd",), steps=3)
    w.wait(60)
    calls = []
    real = Starts.run_one
    monkeypatch.setattr(
        Starts,
        "run_one",
        lambda self, spec, xy, *a, **k: calls.append(xy) or real(self, spec, xy, *a, **k),
    )
    # the mouse is let go: the page syncs the final position, then says "drop"
    moved = [dict(p, x=0.3, y=-0.2) if p["name"] == "s" else p for p in w.points]
    w.set_state({"points": moved})
    w._handle_custom_msg({"event": "drop", "name": "s"}, [])
    w.wait(60)
    assert calls == [(0.3, -0.2)]


def test_diverged_runs_are_cut_and_same_labels_kept_apart(live):
    net, X, y, ls, make = live
    plane = Plane.random(net, seed=3)
    w = make(plane)
    blown = record_trajectory(net, (X, y), "sgd", lr=0.1, steps=10, every=1)
    blown.weights[6:] = float("nan")  # what an overflowing run records
    path = w.add_trajectory(blown)
    assert len(path.xy) == 6 and np.isfinite(path.xy).all()
    assert "diverged by step 6" in w.overlays[-1]["label"]
    calm = record_trajectory(net, (X, y), "sgd", lr=0.1, steps=5)
    w.add_trajectory(calm)
    assert [o["name"] for o in w.overlays] == ["sgd", "sgd 2"]
    # replacing keeps the order; removing forgets the path
    w.add_trajectory(calm, name="sgd")
    assert [o["name"] for o in w.overlays] == ["sgd", "sgd 2"]
    w.remove_overlay("sgd")
    assert list(w.trajectories) == ["sgd 2"]


def test_a_run_has_one_colour_on_every_map_in_the_loss_curve_and_in_3d(live):
    net, X, y, ls, make = live
    runs = [
        record_trajectory(net, (X, y), opt, lr=lr, steps=12, every=3)
        for opt, lr in (("sgd", 0.3), ("adam", 0.05))
    ]
    runs.append(record_trajectory(net, (X, y), "momentum", lr=0.1, steps=12, label="my run"))
    labels = [r.label for r in runs]
    plane = Plane.pca(runs, origin="mean")
    ex = explore(ls, plane, resolution=9, segment=None)
    try:
        for run in runs:
            ex.map.add_trajectory(run)
        later = make(plane)  # another section of the notebook, the runs in another order
        for run in reversed(runs):
            later.add_trajectory(run)
        curve = LossCurve()
        for run in runs[::-1]:
            curve.extend(np.arange(len(run.losses)), run.losses, series=run.label)
        ex.map.wait(60)  # the 3D view drapes its lines on the first grid
        drawn = {o["name"]: o["color"] for o in ex.map.overlays}  # what the page draws
        for label in labels:
            color = ex.map.color_of(label)
            assert drawn[label] == color
            assert {o["name"]: o["color"] for o in later.overlays}[label] == color
            assert curve.lines[label].colors == [color]
            assert ex.surface.overlays[label]["color"] == color
            assert ex.surface._view.lines[f"overlay:{label}"].material.color == color
        assert len({drawn[label] for label in labels}) == len(labels)
        # a second run of one label on one map is told apart by its colour
        ex.map.add_trajectory(runs[0])
        assert ex.map.color_of("sgd 2") not in {drawn[label] for label in labels}
        assert ex.surface.overlays["sgd 2"]["color"] == ex.map.color_of("sgd 2")
        ex.map.remove_overlay("sgd 2")
        assert "sgd 2" not in ex.surface.overlays
        # a start's runs take their labels' colours; colours given win
        starts = make(plane)
        starts.add_start("s", 0.0, 0.0, runs=("adam", "sgd"), steps=3)
        starts.add_start("t", 0.1, 0.1, runs=("sgd",), steps=3, colors=["#123456"])
        starts.wait(60)
        assert starts.color_of("s:adam") == starts.color_of("adam") == drawn["adam"]
        assert starts.color_of("t:sgd") == "#123456"
        with pytest.raises(KeyError, match="no run"):
            starts.color_of("rmsprop")
    finally:
        ex.close()
