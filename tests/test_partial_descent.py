"""The partial path of two-weight descents against the full one.

``record_trajectory`` on a ``Plane.weights`` plane computes the frozen layers
once and runs only what the two weights change. Each case here runs the same
descent twice: on the chain itself (the partial path) and on the same layers
behind a wrapper module that is not an ``nn.Sequential``, which sends it down
the full path (the whole network forward and backward at every step, with
autograd). Every recorded weight vector and loss must agree to float32
rounding, for weights of the output layer, of a hidden layer and of two
layers, with SGD, momentum and Adam, full batch and mini-batches, and for the
squared-error and cross-entropy losses.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import Plane, models, record_trajectory
from landscape_widgets.models import SumSquaredError

pytestmark = pytest.mark.usefixtures("one_thread")


class Whole(nn.Module):
    """The same layers behind a module that is not a chain: the full path."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def small_net(seed=0, out_act=True, mid=None):
    """Flatten, 12-6-5-3 with sigmoids (a small teaching MLP), weights large enough to
    make the sigmoids bend; ``mid`` is put after the first activation."""
    torch.manual_seed(seed)
    layers = [nn.Flatten(), nn.Linear(12, 6, bias=False), nn.Sigmoid()]
    layers += [mid] if mid is not None else [nn.Identity()]
    layers += [nn.Linear(6, 5, bias=True), nn.Sigmoid(), nn.Linear(5, 3, bias=False)]
    if out_act:
        layers.append(nn.Sigmoid())
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    return net


def data(n=40, classes=3, seed=1, one_hot=True):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 3, 4, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return X, (models.one_hot(y, classes) if one_hot else y)


def both_paths(net, a, b, xy, **kw):
    """The same descent on the chain and behind the wrapper; both runs."""
    whole = Whole(copy.deepcopy(net))
    plane = Plane.weights(net, a, b)
    wplane = Plane.weights(whole, (f"net.{a[0]}", a[1]), (f"net.{b[0]}", b[1]))
    part = record_trajectory(net, plane=plane, start=xy, **kw)
    full = record_trajectory(whole, plane=wplane, start=xy, **kw)
    assert full.info["path"] == "full"
    assert "not an nn.Sequential" in full.info["why_full"]
    return part, full, plane


def assert_same_run(part, full, rtol=2e-5, atol=2e-6):
    assert part.steps.tolist() == full.steps.tolist()
    np.testing.assert_allclose(part.losses, full.losses, rtol=rtol, atol=atol)
    torch.testing.assert_close(part.weights, full.weights, rtol=rtol, atol=atol)


OUTPUT = (("6.weight", (1, 2)), ("6.weight", (1, 4)))  # one output unit
HIDDEN = (("4.weight", (2, 1)), ("4.weight", (2, 5)))  # one hidden unit, a Linear after it
HIDDEN_BIAS = (("4.weight", (3, 0)), ("4.bias", (3,)))  # a weight and its unit's bias
TWO_LAYERS = (("1.weight", (0, 7)), ("6.weight", (2, 3)))  # first and last layer


@pytest.mark.parametrize("optimizer, lr", [("sgd", 2.0), ("momentum", 0.5), ("adam", 0.2)])
@pytest.mark.parametrize("batch_size", [None, 8])
@pytest.mark.parametrize(
    "weights, kind",
    [(OUTPUT, "unit"), (HIDDEN, "row"), (HIDDEN_BIAS, "row"), (TWO_LAYERS, "layer")],
    ids=["output", "hidden", "hidden-bias", "two-layers"],
)
def test_partial_path_takes_the_full_paths_steps(weights, kind, optimizer, lr, batch_size):
    X, Y = data()
    part, full, _ = both_paths(
        small_net(),
        *weights,
        (0.7, -1.3),
        data=(X, Y),
        optimizer=optimizer,
        lr=lr,
        steps=30,
        batch_size=batch_size,
        seed=3,
        loss_fn=SumSquaredError(0.5),
    )
    assert part.info["path"] == f"partial ({kind})"
    assert "why_full" not in part.info
    assert_same_run(part, full)
    # the descent moved: the comparison is not of two standing points
    assert float((part.end - part.start).abs().max()) > 1e-2


@pytest.mark.parametrize(
    "loss_fn, out_act, one_hot, lr",
    [
        (nn.MSELoss(), True, True, 2.0),
        (nn.MSELoss(reduction="sum"), False, True, 0.005),
        (SumSquaredError(), False, True, 0.2),
        (nn.CrossEntropyLoss(), False, False, 0.5),
        (None, False, False, 0.5),  # the default for integer targets: cross-entropy
    ],
    ids=["mse", "mse-sum-linear-out", "sse", "cross-entropy", "default"],
)
@pytest.mark.parametrize("batch_size", [None, 16])
def test_closed_form_unit_steps_for_each_loss(loss_fn, out_act, one_hot, lr, batch_size):
    X, Y = data(one_hot=one_hot)
    part, full, _ = both_paths(
        small_net(out_act=out_act),
        *OUTPUT,
        (-0.4, 1.1),
        data=(X, Y),
        optimizer="sgd",
        lr=lr,
        steps=25,
        batch_size=batch_size,
        loss_fn=loss_fn,
    )
    assert part.info["path"] == "partial (unit)"
    assert_same_run(part, full)
    assert np.isfinite(part.losses).all() and part.losses[-1] < part.losses[0]


def test_a_tanh_output_and_a_loss_it_does_not_know_run_under_autograd():
    X, Y = data()
    net = small_net(out_act=False)
    net.append(nn.Tanh())
    part, full, _ = both_paths(net, *OUTPUT, (0.2, 0.3), data=(X, Y), lr=0.3, steps=20)
    assert part.info["path"] == "partial (unit)"  # tanh has a closed form
    assert_same_run(part, full)
    odd = lambda out, t: (out - t).abs().pow(1.5).mean()  # noqa: E731
    part, full, _ = both_paths(net, *OUTPUT, (0.2, 0.3), data=(X, Y), lr=0.3, steps=20, loss_fn=odd)
    assert part.info["path"] == "partial (row)"
    assert_same_run(part, full)


@pytest.mark.parametrize("batch_size", [None, 8])
def test_dropout_after_the_weights_draws_the_same_masks(batch_size):
    """Randomness after the frozen layers is allowed: the prefix draws nothing,
    so the seeded generator gives the suffix the full path's masks, on the
    full path's order of the samples (a full batch is shuffled too)."""
    X, Y = data()
    net = small_net()
    net.insert(6, nn.Dropout(0.3))  # after the hidden unit's activation
    part, full, _ = both_paths(
        net, *HIDDEN, (0.5, 0.5), data=(X, Y), lr=1.0, steps=15, batch_size=batch_size, seed=2
    )
    assert part.info["path"] == "partial (row)"
    assert_same_run(part, full)


def test_a_float64_network_stays_in_float64():
    X, Y = data()
    net = small_net().double()
    part, full, _ = both_paths(
        net, *OUTPUT, (0.5, 0.5), data=(X.double(), Y.double()), lr=1.0, steps=20
    )
    assert part.info["path"] == "partial (unit)"
    assert_same_run(part, full, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "change, reason",
    [
        ("dropout", "draws random numbers"),
        ("batchnorm", "may depend on the batch"),
        ("tied", "tied"),
        ("hook", "has hooks"),
        ("dataloader", "not (X, y) tensors"),
    ],
)
def test_the_full_path_runs_where_the_partial_one_would_not_be_exact(change, reason):
    X, Y = data()
    mid = {"dropout": nn.Dropout(0.5), "batchnorm": nn.BatchNorm1d(6)}.get(change)
    net = small_net(mid=mid)
    weights = OUTPUT
    if change == "tied":  # one matrix used by two layers
        first, second = nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False)
        second.weight = first.weight
        net = nn.Sequential(
            nn.Flatten(), nn.Linear(12, 3), nn.Sigmoid(), first, nn.Sigmoid(), second, nn.Sigmoid()
        )
        weights = (("3.weight", (1, 2)), ("3.weight", (1, 0)))
    if change == "hook":
        net[1].register_forward_hook(lambda m, i, o: None)
    train_data = (X, Y)
    if change == "dataloader":
        train_data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Y), 40)
    plane = Plane.weights(net, *weights)
    run = record_trajectory(net, train_data, lr=0.5, steps=3, plane=plane, start=(0.1, 0.2))
    assert run.info["path"] == "full"
    assert reason in run.info["why_full"]


def test_the_prefix_is_not_recomputed_and_the_callers_model_is_untouched():
    X, Y = data()
    net = small_net()
    before = copy.deepcopy(net.state_dict())
    calls = []

    class Counting(nn.Flatten):
        def forward(self, x):
            calls.append(len(x))
            return super().forward(x)

    plane = Plane.weights(net, *OUTPUT)
    run = record_trajectory(net, (X, Y), lr=1.0, steps=10, plane=plane, start=(0.0, 0.0))
    assert run.info["path"] == "partial (unit)"
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    # a layer of unknown type before the weights sends the run down the full path
    counted = nn.Sequential(Counting(), *list(net)[1:])
    run = record_trajectory(
        counted, (X, Y), lr=1.0, steps=10, plane=Plane.weights(counted, *OUTPUT), start=(0, 0)
    )
    assert run.info["path"] == "full" and "Counting" in run.info["why_full"]
    assert len(calls) == 10  # once per step


def test_stop_and_every_work_on_the_closed_form_path():
    X, Y = data()
    net = small_net()
    plane = Plane.weights(net, *OUTPUT)
    run = record_trajectory(net, (X, Y), lr=1.0, steps=23, every=5, plane=plane, start=(0, 0))
    assert run.steps.tolist() == [0, 5, 10, 15, 20, 23] and len(run.losses) == 23
    count = iter(range(100))
    run = record_trajectory(
        net, (X, Y), lr=1.0, steps=50, plane=plane, start=(0, 0), stop=lambda: next(count) >= 7
    )
    assert run.info["steps"] == 7 and len(run.losses) == 7
    # only the two weights move
    ia, ib = plane.info["flat_index"]
    moved = (run.weights[-1] != run.weights[0]).nonzero().flatten().tolist()
    assert moved == sorted([ia, ib])
