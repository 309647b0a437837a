"""The two-weight MNIST picture (HB-* in shared/FIGURES.md) on the real MNIST files.

The untrained 784-50-500-10 sigmoid network with standard-normal weights from
numpy seed 135; the two weights (5, 250) and (5, 251) of the output matrix;
the first N training images; the cost is the squared error summed over the
outputs and averaged over the images, and gradient descent uses half of it
(the article drops the factor 2) with learning rate 10.

- The three descents of the article end where the data README says, and
  where a numpy float64 implementation of the article's own update ends.
- The N = 100 and N = 10,000 surfaces over the article's window, computed
  in numpy, differ as the notebook says; the package's maps equal them.

MNIST is read from ``$LW_DATA`` (the folder holding ``MNIST/``), else from
``<repo>/../shared/data``; without either the tests are skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from landscape_widgets import Landscape, Plane, datasets, models, record_trajectory

WINDOW = (-15.0, 17.0, -15.0, 18.0)
A, B = ("5.weight", (5, 250)), ("5.weight", (5, 251))
STARTS = [(-9.0, 15.0), (-10.1, 15.0), (-11.0, 15.0)]
ENDS = [(17.8, 7.8), (4.2, -5.2), (-11.6, -1.3)]  # shared/data/README.md

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mnist(tmp_path_factory, shared_mnist):
    X, y = datasets.mnist(shared_mnist, cache=tmp_path_factory.mktemp("cache"))
    return X[:10000], y[:10000]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture(scope="module")
def article(mnist):
    """The article's network written in numpy, float64: its matrices, the second hidden
    layer's activations and the one-hot targets of the 10,000 images."""
    X, y = mnist
    rng = np.random.RandomState(135)
    W0, W1, W2 = rng.randn(50, 784), rng.randn(500, 50), rng.randn(10, 500)
    pixels = X.reshape(len(X), -1).double().numpy()  # already / 255
    h2 = sigmoid(sigmoid(pixels @ W0.T) @ W1.T)  # (N, 500)
    return {"W2": W2, "h2": h2, "Y": np.eye(10)[y.numpy()]}


def article_descent(art, n, start, epochs, lr=10.0):
    """The article's update: w -= lr * mean((p - y) p (1 - p) h), for output 5 only."""
    h, t = art["h2"][:n], art["Y"][:n, 5]
    row = art["W2"][5].copy()
    row[[250, 251]] = 0.0
    z0, feed = h @ row, h[:, [250, 251]]
    w = np.array(start, dtype=float)
    for _ in range(epochs):
        p = sigmoid(z0 + feed @ w)
        w = w - lr * ((p - t) * p * (1 - p)) @ feed / n
    return w


def article_costs(art, n, xs, ys):
    """The cost (summed squared error, mean over images) on the grid ys x xs."""
    h, Y = art["h2"][:n], art["Y"][:n]
    out = sigmoid(h @ art["W2"].T)
    sq = (out - Y) ** 2
    rest = sq.sum(axis=1) - sq[:, 5]  # the other nine outputs do not move
    row = art["W2"][5].copy()
    row[[250, 251]] = 0.0
    z0 = h @ row
    costs = np.empty((len(ys), len(xs)))
    for i, wb in enumerate(ys):
        pre = z0 + np.outer(xs, h[:, 250]) + wb * h[:, 251]  # (len(xs), N)
        costs[i] = (rest + (sigmoid(pre) - Y[:, 5]) ** 2).mean(axis=1)
    return costs


def hb_network():
    return models.normal_init(models.teaching_mlp(output_activation=True), 135)


def test_the_network_is_the_articles():
    net = hb_network()
    weights = [p.detach().double().numpy() for p in net.parameters()]
    rng = np.random.RandomState(135)
    for w, shape in zip(weights, [(50, 784), (500, 50), (10, 500)], strict=True):
        np.testing.assert_allclose(w, rng.randn(*shape), rtol=1e-6, atol=1e-6)
    assert isinstance(net[-1], torch.nn.Sigmoid) and all(m.bias is None for m in net[1::2])


def test_three_nearby_starts_end_in_three_places(mnist, article):
    X, y = mnist
    data = (X[:100], models.one_hot(y[:100], 10))
    net = hb_network()
    plane = Plane.weights(net, A, B)
    runs = [
        record_trajectory(
            net,
            data,
            "sgd",
            lr=10.0,
            steps=10_000,
            plane=plane,
            start=start,
            loss_fn=models.SumSquaredError(0.5),
            every=10_000,
        )
        for start in STARTS
    ]
    for run, start, end in zip(runs, STARTS, ENDS, strict=True):
        # the partial path (30,000 epochs in seconds; the full path takes minutes)
        assert run.info["path"] == "partial (unit)", run.info
        xy = run.project(plane).xy
        np.testing.assert_allclose(xy[0], start, atol=1e-5)
        reference = article_descent(article, 100, start, 10_000)
        np.testing.assert_allclose(reference, end, atol=0.1)
        np.testing.assert_allclose(xy[-1], end, atol=0.1)
        np.testing.assert_allclose(xy[-1], reference, atol=0.01)
    # the ends are far apart: three different places, not one
    ends = np.array([r.project(plane).xy[-1] for r in runs])
    assert min(np.linalg.norm(ends[i] - ends[j]) for i, j in ((0, 1), (0, 2), (1, 2))) > 5


def test_the_first_steps_follow_the_articles_gradient(mnist, article):
    """Step by step, against the article's update written out in numpy."""
    X, y = mnist
    net = hb_network()
    plane = Plane.weights(net, A, B)
    run = record_trajectory(
        net,
        (X[:100], models.one_hot(y[:100], 10)),
        "sgd",
        lr=10.0,
        steps=50,
        plane=plane,
        start=STARTS[0],
        loss_fn=models.SumSquaredError(0.5),
        every=10,
    )
    xy = run.project(plane).xy
    for k, epochs in enumerate(run.steps):
        np.testing.assert_allclose(
            xy[k], article_descent(article, 100, STARTS[0], int(epochs)), rtol=1e-5, atol=1e-4
        )
    # the recorded loss is half the article's cost
    costs = article_costs(article, 100, np.array([STARTS[0][0]]), np.array([STARTS[0][1]]))
    assert 2 * run.losses[0] == pytest.approx(costs[0, 0], rel=1e-5)


@pytest.fixture(scope="module")
def surfaces(article):
    xs, ys = np.linspace(*WINDOW[:2], 40), np.linspace(*WINDOW[2:], 40)
    return xs, ys, {n: article_costs(article, n, xs, ys) for n in (100, 10_000)}


def grid_minima(costs):
    """Grid points lower than all their (up to 8) neighbours: (row, column) pairs."""
    found = []
    rows, cols = costs.shape
    for i in range(rows):
        for j in range(cols):
            near = costs[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2]
            if costs[i, j] == near.min() and (near == costs[i, j]).sum() == 1:
                found.append((i, j))
    return found


def test_the_maps_are_the_articles_costs(mnist, surfaces):
    """The notebook's maps (Landscape over Plane.weights) equal the numpy costs."""
    X, y = mnist
    xs, ys, costs = surfaces
    net = hb_network()
    plane = Plane.weights(net, A, B)
    for n in (100, 10_000):
        data = (X[:n], models.one_hot(y[:n], 10))
        ls = Landscape(net, models.SumSquaredError(), data, subset=None, batch_size=None)
        surface = ls.evaluate(plane, 40, bounds=WINDOW, progress=False)
        np.testing.assert_allclose(surface.x, xs)
        np.testing.assert_allclose(surface.y, ys)
        np.testing.assert_allclose(surface.loss, costs[n], rtol=2e-6)


def test_the_two_surfaces_differ_as_the_notebook_says(surfaces):
    xs, ys, costs = surfaces
    small, large = costs[100], costs[10_000]
    # values: N = 100 spans 4.751 .. 4.812, N = 10,000 spans 4.877 .. 4.924
    assert 4.75 < small.min() < 4.752 and 4.81 < small.max() < 4.815
    assert 4.876 < large.min() < 4.878 and 4.92 < large.max() < 4.925
    # the larger sample lies above the smaller everywhere, by 0.086 .. 0.136: on one
    # colour scale the two maps share no colour
    assert small.max() < large.min()
    diff = large - small
    assert 0.08 < diff.min() < 0.09 and 0.13 < diff.max() < 0.14
    i, j = np.unravel_index(np.argmax(diff), diff.shape)
    assert xs[j] == 17.0 and 8 < ys[i] < 9.5  # the largest gap: the right edge, w_b near 8.7
    # N = 100: the lowest point is on the window's right edge near w_b = 7.9 (where
    # the first descent goes), and no local minimum on the grid lies inside
    i, j = np.unravel_index(np.argmin(small), small.shape)
    assert j == len(xs) - 1 and 7 < ys[i] < 9
    inside = [(i, j) for i, j in grid_minima(small) if 0 < i < 39 and 0 < j < 39]
    assert inside == []
    # N = 10,000: one local minimum, inside the window, near (5.5, 7.0)
    (m,) = grid_minima(large)
    assert 5 < xs[m[1]] < 6 and 6.5 < ys[m[0]] < 7.5
    assert large[m] == large.min()

    # N = 100 is terraced: relative to its range, its second differences are
    # on average over twice those of N = 10,000
    def bends(c):
        second = np.abs(np.diff(c, 2, axis=0)).mean() + np.abs(np.diff(c, 2, axis=1)).mean()
        return second / 2 / (c.max() - c.min())

    assert bends(small) > 2 * bends(large)


def test_find_mnist_reads_lw_data_then_the_cache_then_downloads_when_online(tmp_path, monkeypatch):
    """The one way the notebooks get MNIST (two_weights, mode_connectivity), on fake files."""
    from test_datasets import write_fake_mnist

    data, cache = tmp_path / "data", tmp_path / "cache"
    written = write_fake_mnist(data, "MNIST", n_train=20, n_test=4, gz=True)
    monkeypatch.setenv("LW_CACHE", str(cache))
    monkeypatch.setenv("LW_DATA", str(data))
    monkeypatch.setattr(datasets, "_online", lambda *a, **k: pytest.fail("looked online"))
    found, source = datasets.find_mnist()
    assert source == f"MNIST from {data}"
    pixels = (found[0][:, 0] * 255).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(pixels, written["train"][0])
    # no LW_DATA: the copy an earlier download left in the cache
    monkeypatch.delenv("LW_DATA")
    cached = write_fake_mnist(cache / "data", "MNIST", n_train=15, n_test=3, seed=1)
    found, source = datasets.find_mnist(train=False)
    assert source == f"MNIST from {cache / 'data'}"
    np.testing.assert_array_equal(found[1].numpy(), cached["t10k"][1].astype(np.int64))
    # nowhere and offline: no data, and a sentence saying what was tried
    empty = tmp_path / "empty"
    monkeypatch.setenv("LW_CACHE", str(empty))
    monkeypatch.setattr(datasets, "_online", lambda *a, **k: False)
    found, source = datasets.find_mnist()
    assert found is None and source.startswith("no MNIST") and "cannot be reached" in source
    # online: torchvision downloads into the cache (stubbed here: the tests have no network)
    fetched = []
    read = datasets.mnist

    def mnist(root, train=True, download=False, subset=None, seed=0, cache=None):
        if download:
            fetched.append(Path(root))
            write_fake_mnist(Path(root), "MNIST", n_train=9, n_test=2)
        return read(root, train, False, subset, seed, cache)

    monkeypatch.setattr(datasets, "mnist", mnist)
    monkeypatch.setattr(datasets, "_online", lambda *a, **k: True)
    found, source = datasets.find_mnist(subset=5)
    assert fetched == [empty / "data"] and source == f"MNIST, downloaded into {empty / 'data'}"
    assert len(found[0]) == 5
    assert datasets.find_mnist(download=False)[0] is not None  # now in the cache
