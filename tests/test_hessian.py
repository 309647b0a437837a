"""Curvature from Hessian-vector products, against the full Hessian of a network
small enough to form it (torch.func.hessian) and against finite differences."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import Landscape, Plane, datasets, hessian, train
from landscape_widgets.core.weights import weights_of

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny():
    """A 2-6-3 tanh MLP (39 weights) on 90 spirals points, in float64, and its full Hessian."""
    X, y = datasets.spirals(90, classes=3, seed=0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 3))
    train(net, (X, y), epochs=30, optimizer="adam", lr=1e-2, progress=False)
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), dtype=torch.float64, batch_size=32)
    w = weights_of(net).double()
    ref = copy.deepcopy(net).double()  # an independent float64 copy to differentiate

    def loss(vec):
        params = ls.layout.split(vec)
        out = torch.func.functional_call(ref, params, (X.double(),))
        return nn.functional.cross_entropy(out, y)

    H = torch.func.hessian(loss)(w)
    return ls, w, H, loss


def test_hvp_is_the_hessian_times_v_and_a_finite_difference(tiny):
    ls, w, H, loss = tiny
    v = torch.randn(w.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    hv = hessian.hvp(ls, w, v)
    torch.testing.assert_close(hv, H @ v, rtol=1e-8, atol=1e-10)
    eps = 1e-5
    grad = torch.func.grad(loss)
    fd = (grad(w + eps * v) - grad(w - eps * v)) / (2 * eps)
    torch.testing.assert_close(hv, fd, rtol=1e-5, atol=1e-7)


def test_top_eigenvalues_match_eigvalsh(tiny):
    ls, w, H, _ = tiny
    exact = torch.linalg.eigvalsh(H).numpy()
    by_magnitude = exact[np.argsort(-np.abs(exact))]
    values, vectors = hessian.top_eigenvalues(ls, w, k=3, iters=500, tol=1e-10)
    np.testing.assert_allclose(values, by_magnitude[:3], rtol=1e-5)
    for lam, vec in zip(values, vectors, strict=True):
        torch.testing.assert_close(H @ vec, lam * vec, rtol=1e-3, atol=1e-6 * abs(lam))


def test_trace_estimate_is_within_its_error_of_the_exact_trace(tiny):
    ls, w, H, _ = tiny
    estimate, stderr = hessian.trace(ls, w, samples=400, seed=0)
    exact = float(torch.trace(H))
    assert stderr > 0
    assert abs(estimate - exact) < 4 * stderr


def weight_indices(ls):
    """Positions of the weight tensors (two or more dimensions) in the flat vector: the
    parameters Li et al.'s min_max_hessian_eigs differentiates (no biases, no BatchNorm)."""
    keep = [
        torch.arange(off, off + shape.numel())
        for shape, off in zip(ls.layout.shapes, ls.layout.offsets, strict=True)
        if len(shape) > 1
    ]
    return torch.cat(keep)


@pytest.mark.parametrize("params", ["all", "weights"])
def test_eigen_ratio_grid_matches_the_dense_spectrum_within_its_tolerance(tiny, params):
    ls, w, _, loss = tiny
    plane = Plane.random(ls.net, seed=3)
    surf = hessian.eigen_ratio_grid(
        ls, plane, resolution=2, bounds=(-0.5, 0.5, -0.5, 0.5), params=params, progress=False
    )
    tol = surf.provenance["tol"]
    assert surf.provenance["params"] == params
    assert surf.loss.shape == (2, 2)
    idx = weight_indices(ls) if params == "weights" else torch.arange(w.numel())
    assert len(idx) == (30 if params == "weights" else 39)
    for i, yv in enumerate(surf.y):
        for j, xv in enumerate(surf.x):
            H = torch.func.hessian(loss)(plane.point(float(xv), float(yv)).double())
            ev = torch.linalg.eigvalsh(H[idx][:, idx]).numpy()
            big = ev[np.argmax(np.abs(ev))]
            small = ev.min() if big > 0 else ev.max()
            # Lanczos stops when each Ritz pair's residual is below tol times its value,
            # which bounds the eigenvalue's error by the same amount
            got_big, got_small = surf.metrics["lambda_max"][i, j], surf.metrics["lambda_min"][i, j]
            assert abs(got_big - big) <= tol * abs(big) + 1e-12
            assert abs(got_small - small) <= tol * abs(small) + 1e-12
            assert surf.loss[i, j] == pytest.approx(abs(small / big), rel=3 * tol)


def test_the_weights_only_ratio_is_not_the_full_one(tiny):
    ls, w, H, _ = tiny
    plane = Plane.random(ls.net, seed=3)
    kw = dict(resolution=2, bounds=(-0.5, 0.5, -0.5, 0.5), progress=False)
    full = hessian.eigen_ratio_grid(ls, plane, params="all", **kw)
    weights = hessian.eigen_ratio_grid(ls, plane, params="weights", **kw)
    assert not np.allclose(full.metrics["lambda_min"], weights.metrics["lambda_min"], rtol=1e-3)
    with pytest.raises(ValueError, match="params must be 'all' or 'weights'"):
        hessian.eigen_ratio_grid(ls, plane, params="biases", **kw)


def test_bad_input(tiny):
    ls, w, _, _ = tiny
    with pytest.raises(ValueError):
        hessian.top_eigenvalues(ls, w, k=0)
    with pytest.raises(ValueError):
        hessian.trace(ls, w, samples=1)
    with pytest.raises(ValueError, match="entries"):
        hessian.hvp(ls, w, torch.ones(3))
