"""Weight vectors and planes, checked against independent computations."""

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import Line, ParamLayout, Plane, as_vector, weights_of


def small_net(seed=0, bn=True):
    torch.manual_seed(seed)
    layers = [
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4) if bn else nn.Identity(),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 5),
    ]
    return nn.Sequential(*layers)


# ------------------------------------------------------------------ weights
def test_all_weight_forms_give_the_same_vector(tmp_path):
    net = small_net()
    layout = ParamLayout.of(net)
    expected = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    path = tmp_path / "ckpt.pt"
    torch.save(net.state_dict(), path)
    nested = tmp_path / "nested.pt"
    torch.save({"epoch": 3, "model_state_dict": net.state_dict()}, nested)
    for form in (net, net.state_dict(), expected.clone(), path, str(nested)):
        assert torch.equal(as_vector(form, layout), expected)
    assert torch.equal(weights_of(net), expected)


def test_split_gives_views_shaped_like_parameters():
    net = small_net()
    layout = ParamLayout.of(net)
    parts = layout.split(weights_of(net))
    for name, p in net.named_parameters():
        assert torch.equal(parts[name], p.detach())


def test_unsafe_checkpoint_is_refused(tmp_path):
    # a whole pickled module: loading it would import and run arbitrary code
    path = tmp_path / "whole_model.pt"
    torch.save(small_net(), path)
    with pytest.raises(ValueError, match="arbitrary pickled code"):
        as_vector(path, ParamLayout.of(small_net()))


def test_mismatches_name_the_offending_parameter():
    layout = ParamLayout.of(small_net())
    sd = small_net().state_dict()
    sd["4.weight"] = torch.zeros(5, 3)
    with pytest.raises(ValueError, match=r"'4\.weight' has shape \(5, 3\)"):
        as_vector(sd, layout)
    sd = small_net().state_dict()
    del sd["1.bias"]
    with pytest.raises(ValueError, match=r"no entry for parameter '1\.bias'"):
        as_vector(sd, layout)
    sd = small_net().state_dict()
    sd["head.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"'head\.weight'"):
        as_vector(sd, layout)
    with pytest.raises(ValueError, match="entries"):
        as_vector(torch.zeros(7), layout)
    with pytest.raises(FileNotFoundError):
        as_vector("/nonexistent/ckpt.pt", layout)


def test_nan_weights_are_rejected_by_planes():
    a, b, c = torch.zeros(4), torch.ones(4), torch.tensor([0.0, 1, 0, 0])
    bad = b.clone()
    bad[2] = float("nan")
    with pytest.raises(ValueError, match="w2 has 1 non-finite"):
        Plane.through(a, bad, c)
    with pytest.raises(ValueError, match="same model"):
        Plane.through(a, b, torch.zeros(5))


# ------------------------------------------------------------------ planes
def test_plane_through_matches_hand_gram_schmidt():
    g = np.random.default_rng(1)
    w1, w2, w3 = (g.normal(size=50) for _ in range(3))
    u = w2 - w1
    v = w3 - w1
    u_hat = u / np.sqrt(np.sum(u * u))
    v_perp = v - np.sum(v * u_hat) * u_hat
    v_hat = v_perp / np.sqrt(np.sum(v_perp * v_perp))

    plane = Plane.through(*(torch.tensor(w, dtype=torch.float32) for w in (w1, w2, w3)))
    np.testing.assert_allclose(plane.u.numpy(), u_hat, atol=1e-6)
    np.testing.assert_allclose(plane.v.numpy(), v_hat, atol=1e-6)
    assert abs(float(plane.u @ plane.v)) < 1e-6
    ax, ay = plane.anchors["w3"]
    assert plane.anchors["w2"] == pytest.approx((np.linalg.norm(u), 0.0), rel=1e-6)
    assert (ax, ay) == pytest.approx((v @ u_hat, np.linalg.norm(v_perp)), rel=1e-5)
    for name, w in zip(("w1", "w2", "w3"), (w1, w2, w3), strict=False):
        np.testing.assert_allclose(plane.point(*plane.anchors[name]).numpy(), w, atol=1e-5)
        np.testing.assert_allclose(
            plane.project(torch.tensor(w, dtype=torch.float32)).numpy(),
            plane.anchors[name],
            atol=1e-4,
        )


def test_plane_through_refuses_degenerate_points():
    a = torch.zeros(3)
    with pytest.raises(ValueError, match="same point"):
        Plane.through(a, a, torch.ones(3))
    with pytest.raises(ValueError, match="one line"):
        Plane.through(a, torch.ones(3), 2 * torch.ones(3))


def test_plane_through_accepts_modules_and_state_dicts():
    nets = [small_net(s) for s in range(3)]
    p1 = Plane.through(*nets)
    p2 = Plane.through(*(n.state_dict() for n in nets), model=nets[0])
    assert torch.equal(p1.u, p2.u) and torch.equal(p1.v, p2.v)


def test_plane_through_compares_layouts_not_just_counts(tmp_path):
    # 2-3-2 and 3-2-3 MLPs: different shapes, 17 parameters each
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))
    b = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2))
    c = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 3))
    assert weights_of(a).numel() == weights_of(c).numel()
    with pytest.raises(
        ValueError,
        match=r"w3 and w1 differ at parameter 0: "
        r"'0\.weight' has shape \(2, 3\) in w3, \(3, 2\) in w1",
    ):
        Plane.through(a, b, c)
    with pytest.raises(ValueError, match=r"w2 and w1 differ.*'0\.weight' has shape \(2, 3\)"):
        Line(a, c)
    with pytest.raises(
        ValueError,
        match=r"trajectory\[2\] and trajectory\[0\] differ.*'0\.weight'",
    ):
        Plane.pca([a, b, c, a])
    # equal shapes under other names: a different network, named in the message
    named = nn.Sequential()
    named.add_module("inp", nn.Linear(2, 3))
    named.add_module("act", nn.Tanh())
    named.add_module("out", nn.Linear(3, 2))
    with pytest.raises(
        ValueError,
        match=r"at parameter 0: it is 'inp\.weight' in w3, '0\.weight' in w1",
    ):
        Plane.through(a, b, named)
    fewer = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2, bias=False))
    with pytest.raises(
        ValueError,
        match=r"w2 has 3 parameter tensors, w1 4: w1's '2\.bias' is extra",
    ):
        Plane.through(a, fewer, b)
    # a flat vector carries no layout: only its size is checked against the others
    plane = Plane.through(a, weights_of(b), weights_of(c))
    assert plane.numel == 17
    with pytest.raises(ValueError, match="differ in size"):
        Plane.through(a, b, torch.zeros(16))
    # with model=, every state_dict, module and checkpoint is checked against its layout
    torch.save(c.state_dict(), tmp_path / "c.pt")
    with pytest.raises(ValueError, match=r"'0\.weight' has shape \(2, 3\)"):
        Plane.through(a.state_dict(), b, tmp_path / "c.pt", model=a)


def test_filter_normalisation_matches_weight_filter_norms():
    net = small_net()
    layout = ParamLayout.of(net)
    plane = Plane.random(net, normalization="filter", seed=3)
    for d in (plane.u, plane.v):
        parts = layout.split(d)
        for name, p in net.named_parameters():
            if name == "1.weight" or name.endswith("bias"):  # BN and biases ignored
                assert torch.count_nonzero(parts[name]) == 0, name
                continue
            want = p.detach().reshape(p.shape[0], -1).norm(dim=1)
            got = parts[name].reshape(p.shape[0], -1).norm(dim=1)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert torch.equal(plane.origin, weights_of(net))


def test_layer_and_model_normalisation_and_ignore_options():
    net = small_net()
    layout = ParamLayout.of(net)
    layer = Plane.random(net, normalization="layer", ignore=(), seed=0)
    for name, p in net.named_parameters():
        assert float(layout.split(layer.u)[name].norm()) == pytest.approx(
            float(p.detach().norm()), rel=1e-5
        )
    model = Plane.random(net, normalization="model", ignore=("bn",), seed=0)
    assert float(model.u.norm()) == pytest.approx(float(weights_of(net).norm()), rel=1e-5)
    assert torch.count_nonzero(layout.split(model.u)["1.weight"]) == 0
    assert torch.count_nonzero(layout.split(model.u)["0.bias"]) > 0
    raw = Plane.random(net, normalization=None, ignore=(), seed=0)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(raw.u, torch.randn(layout.numel, generator=gen))
    with pytest.raises(ValueError, match="normalization"):
        Plane.random(net, normalization="unit")


def test_random_plane_is_seeded():
    net = small_net()
    assert torch.equal(Plane.random(net, seed=5).u, Plane.random(net, seed=5).u)
    assert not torch.equal(Plane.random(net, seed=5).u, Plane.random(net, seed=6).u)


def pca_of_rows(rows):
    """sklearn-style PCA written out in numpy: centre the rows, eigendecompose their
    covariance; components by decreasing variance, and each one's variance ratio."""
    m = np.asarray(rows, dtype=np.float64)
    c = m - m.mean(axis=0)
    evals, evecs = np.linalg.eigh(c.T @ c / (len(m) - 1))
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0, None), evecs[:, order]
    return evecs.T, evals / evals.sum()


def test_pca_plane_fits_every_offset_from_the_end_as_li_et_al_do():
    # Li et al.'s plot_trajectory.py fits the offsets of all saved models from the final
    # one, the final one's own (a zero row) included
    g = np.random.default_rng(0)
    base = g.normal(size=40)
    d1, d2 = g.normal(size=40), g.normal(size=40)
    path = [
        base + np.cos(t) * d1 * t + 0.3 * t * d2 + 0.01 * g.normal(size=40)
        for t in np.linspace(0, 3, 12)
    ]
    plane = Plane.pca([torch.tensor(p, dtype=torch.float32) for p in path])

    offsets = np.array(path) - path[-1]  # the last row is zero
    components, ratio = pca_of_rows(offsets)
    assert plane.info["explained_variance"] == pytest.approx(ratio[:2], rel=1e-4)
    assert plane.info["explained_variance_all"][:5] == pytest.approx(ratio[:5], rel=1e-3, abs=1e-7)
    for got, want in ((plane.u, components[0]), (plane.v, components[1])):
        assert abs(float(np.dot(got.numpy(), want))) == pytest.approx(1.0, abs=1e-5)
    coords = np.array(plane.info["path"])
    np.testing.assert_allclose(np.abs(coords[:, 0]), np.abs(offsets @ components[0]), atol=1e-4)
    np.testing.assert_allclose(np.abs(coords[:, 1]), np.abs(offsets @ components[1]), atol=1e-4)
    np.testing.assert_allclose(
        plane.project(torch.tensor(np.array(path), dtype=torch.float32)).numpy(), coords, atol=1e-4
    )
    assert plane.anchors["end"] == (0.0, 0.0)
    m = offsets[0]
    resid = m - (m @ components[0]) * components[0] - (m @ components[1]) * components[1]
    dist = plane.distance(torch.tensor(path[0], dtype=torch.float32))
    assert float(dist) == pytest.approx(np.linalg.norm(resid), rel=1e-3)


def test_three_points_are_enough_for_a_pca_plane_from_the_end():
    # three points in general position span a plane once centred; two do not
    pts = [torch.tensor([0.0, 0, 0, 1]), torch.tensor([2.0, 1, 0, 0]), torch.tensor([1.0, 3, 1, 0])]
    plane = Plane.pca(pts, origin="end")
    components, _ = pca_of_rows(torch.stack(pts).numpy() - pts[-1].numpy())
    for got, want in ((plane.u, components[0]), (plane.v, components[1])):
        assert abs(float(np.dot(got.numpy(), want))) == pytest.approx(1.0, abs=1e-5)
    for p in pts:  # three points lie in their own plane
        assert float(plane.distance(p)) == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="at least 3"):
        Plane.pca(pts[:2])


def test_weights_plane_moves_exactly_two_weights():
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(6, 4, bias=False), nn.Sigmoid(), nn.Linear(4, 3, bias=False)
    )
    plane = Plane.weights(net, ("1.weight", (2, 5)), ("3.weight", (1, 0)))
    theta = weights_of(net)
    ax, ay = plane.anchors["theta"]
    assert (ax, ay) == (net[1].weight[2, 5].item(), net[3].weight[1, 0].item())
    assert torch.equal(plane.point(ax, ay), theta)
    moved = plane.point(ax + 1.5, ay - 2.0) - theta
    nz = torch.nonzero(moved).flatten().tolist()
    assert nz == [2 * 6 + 5, 24 + 1 * 4 + 0]
    assert moved[nz].tolist() == pytest.approx([1.5, -2.0])
    with pytest.raises(IndexError, match="outside parameter"):
        Plane.weights(net, ("1.weight", (4, 0)), ("1.weight", (0, 0)))
    with pytest.raises(KeyError, match="no parameter named"):
        Plane.weights(net, ("9.weight", (0, 0)), ("1.weight", (0, 0)))


def test_line_points_and_bounds():
    line = Line(torch.zeros(3), torch.tensor([3.0, 0, 4]))
    assert line.length == pytest.approx(5.0)
    assert torch.allclose(line.point(0.25), torch.tensor([0.75, 0, 1.0]))
    assert line.default_bounds(0.5) == (-0.5, 1.5)
