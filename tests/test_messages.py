"""Bad arguments are refused up front, with a message that names the argument
and says what is allowed (instead of a stray error from deep inside, or a
silent misreading)."""

from __future__ import annotations

import pytest
import torch
import traitlets
from torch import nn

from landscape_widgets import Landscape, LandscapeWidget, Plane, datasets

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def toy():
    torch.manual_seed(0)
    X, y = datasets.spirals(60, seed=1)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    return net, X, y, Landscape(net, nn.CrossEntropyLoss(), (X, y)), Plane.random(net, seed=3)


@pytest.mark.parametrize("resolution", [2.5, "8", (8, 2.5), (8,), True, None])
def test_resolution_must_be_whole_numbers_of_points(toy, resolution):
    *_, ls, plane = toy
    with pytest.raises((TypeError, ValueError), match=r"resolution must be .*\(nx, ny\)"):
        ls.evaluate(plane, resolution=resolution)


def test_numpy_integers_are_a_resolution(toy):
    *_, ls, plane = toy
    np = pytest.importorskip("numpy")
    assert ls.evaluate(plane, resolution=(np.int64(3), np.int32(4))).loss.shape == (4, 3)


def test_a_grid_too_big_is_refused_before_any_memory_is_taken(toy):
    net, X, y, ls, plane = toy
    # 20000 x 20000 float64 coordinates alone would be 6.4 GB
    with pytest.raises(ValueError, match=r"400,000,000 points.*max_points=4,000,000"):
        ls.evaluate(plane, resolution=20000)
    small = Landscape(net, nn.CrossEntropyLoss(), (X, y), max_points=20)
    with pytest.raises(ValueError, match=r"5 x 5 = 25 points.*max_points=20"):
        small.evaluate(plane, resolution=5)
    assert small.evaluate(plane, resolution=4).loss.shape == (4, 4)
    with pytest.raises(ValueError, match="max_points must be"):
        Landscape(net, nn.CrossEntropyLoss(), (X, y), max_points=0)


@pytest.mark.parametrize("subset", [True, False, 2.0, "10"])
def test_subset_must_be_a_number_of_samples(toy, subset):
    net, X, y, *_ = toy
    with pytest.raises(TypeError, match="subset must be a whole number of samples or None"):
        Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=subset)


def test_a_polyline_needs_two_corners(toy):
    *_, ls, plane = toy
    surf = ls.evaluate(plane, resolution=4)
    w = LandscapeWidget(surf)
    for corners in ([(0.0, 0.0)], []):
        with pytest.raises(ValueError, match=r"corners must be at least 2 \(x, y\) points"):
            w.add_polyline("p", corners)
    with pytest.raises(ValueError, match=r"corners must be \(x, y\) points"):
        w.add_polyline("p", [(0.0, 0.0), (1.0, 2.0, 3.0)])
    assert w.paths == []
    w.add_polyline("p", [(0.0, 0.0), (0.5, 0.5)])
    assert [p["name"] for p in w.paths] == ["p"]
    w.close()


def test_the_map_metric_is_one_of_the_landscapes(toy):
    *_, ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=5)
    try:
        with pytest.raises(traitlets.TraitError, match=r"metric must be one of 'loss', 'accuracy'"):
            w.metric = "bogus"
        assert w.metric == "loss"
        w.metric = "accuracy"
    finally:
        w.close()
    with pytest.raises(ValueError, match=r"no metric 'f1': metric must be one of 'loss', 'acc"):
        LandscapeWidget(ls, plane, metric="f1")


def test_the_metric_of_a_shown_surface_is_one_of_its_own(toy):
    *_, ls, plane = toy
    w = LandscapeWidget(ls.evaluate(plane, resolution=4))
    with pytest.raises(traitlets.TraitError, match=r"metric must be one of 'loss', 'accuracy'"):
        w.metric = "bogus"
    w.show(ls.evaluate(plane, resolution=4), metric="accuracy")
    assert w.metric == "accuracy"
    w.close()
