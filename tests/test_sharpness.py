"""SGD's gradient noise and filter-normalised slices, against plain per-example loops,
mini-batches drawn by hand, and forward passes through a fresh copy of the network."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import vector_to_parameters

from landscape_widgets import Landscape, datasets, sharpness, train
from landscape_widgets.core.weights import weights_of

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny_net(seed: int, bn: bool = False) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = [nn.Linear(2, 5)] + ([nn.BatchNorm1d(5)] if bn else []) + [nn.Tanh(), nn.Linear(5, 3)]
    return nn.Sequential(*layers)


@pytest.fixture(scope="module")
def data():
    return datasets.spirals(40, classes=3, seed=0)


@pytest.fixture(scope="module")
def trained(data):
    """A 2-5-3 tanh MLP (33 weights) a little way into training, and its float64 landscape."""
    net = _tiny_net(0)
    train(net, data, epochs=5, batch_size=8, progress=False)
    ls = Landscape(net, nn.CrossEntropyLoss(), data, subset=None, dtype=torch.float64)
    return net, ls


def per_example_grads(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, D) float64: one backward pass per example through a float64 copy of ``net``."""
    ref = copy.deepcopy(net).double().eval()
    rows = []
    for i in range(len(X)):
        ref.zero_grad()
        nn.functional.cross_entropy(ref(X[i : i + 1].double()), y[i : i + 1]).backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in ref.parameters()]))
    return torch.stack(rows)


def hand_moments(G: torch.Tensor) -> tuple[float, float]:
    """tr(Cov) over the rows (1/N) and |mean|^2, written out."""
    g = G.mean(0)
    return float(((G - g) ** 2).sum(1).mean()), float(g @ g)


def test_noise_trace_and_gradient_match_a_loop_over_examples(trained, data):
    net, ls = trained
    X, y = data
    trace, gnorm = hand_moments(per_example_grads(net, X, y))
    # the full-batch gradient, from one backward pass of the mean loss
    ref = copy.deepcopy(net).double()
    nn.functional.cross_entropy(ref(X.double()), y).backward()
    full = torch.cat([p.grad.reshape(-1) for p in ref.parameters()])
    assert gnorm == pytest.approx(float(full @ full), rel=1e-10)
    assert trace > 10 * gnorm > 0  # a point where noise and signal differ clearly
    for chunk in (None, 7, 1):  # one call, chunks that do not divide 40, one at a time
        noise = sharpness.gradient_noise(ls, net, batch_size=8, chunk=chunk)
        assert noise.trace_cov == pytest.approx(trace, rel=1e-10)
        assert noise.grad_norm_sq == pytest.approx(gnorm, rel=1e-10)
        assert noise.n == 40 and noise.batch_size == 8


def test_the_loop_fallback_gives_the_same_numbers(trained, data, monkeypatch):
    net, ls = trained
    trace, gnorm = hand_moments(per_example_grads(net, *data))

    def no_vmap(fn, in_dims):
        def fails(*args):
            raise RuntimeError("no batching rule (stand-in)")

        return fails

    monkeypatch.setattr(sharpness, "vmap", no_vmap)
    noise = sharpness.gradient_noise(ls, net, batch_size=4, chunk=16)
    assert noise.trace_cov == pytest.approx(trace, rel=1e-10)
    assert noise.grad_norm_sq == pytest.approx(gnorm, rel=1e-10)


def test_noise_scale_is_the_squared_error_of_sampled_mini_batches(trained, data):
    """tr(Cov)/B is E|g_B - g|^2 for B examples drawn with replacement; the epoch
    variant is the same for B distinct examples."""
    net, ls = trained
    G = per_example_grads(net, *data)
    g = G.mean(0)
    gen = torch.Generator().manual_seed(0)
    draws = 20_000
    for B in (1, 5, 20):
        noise = sharpness.gradient_noise(ls, net, batch_size=B)
        with_repl = torch.randint(0, 40, (draws, B), generator=gen)
        without = torch.rand(draws, 40, generator=gen).argsort(1)[:, :B]
        for idx, expected in (
            (with_repl, noise.noise_scale),
            (without, noise.noise_scale_without_replacement),
        ):
            err = ((G[idx].mean(1) - g) ** 2).sum(1)  # (draws,)
            stderr = float(err.std() / draws**0.5)
            assert abs(float(err.mean()) - expected) < 4 * stderr
        assert noise.noise_scale == pytest.approx(noise.trace_cov / B, rel=1e-12)
        assert noise.snr == pytest.approx(noise.grad_norm_sq * B / noise.trace_cov, rel=1e-12)
    full = sharpness.gradient_noise(ls, net, batch_size=40)
    assert full.noise_scale_without_replacement == 0.0 < full.noise_scale


def test_batchnorm_uses_the_stored_statistics(data):
    X, y = data
    net = _tiny_net(1, bn=True)
    train(net, data, epochs=3, batch_size=8, progress=False)  # running stats away from 0, 1
    ls = Landscape(net, nn.CrossEntropyLoss(), data, subset=None, dtype=torch.float64)
    trace, gnorm = hand_moments(per_example_grads(net, X, y))  # eval mode inside
    noise = sharpness.gradient_noise(ls, net, batch_size=8, chunk=16)
    assert noise.trace_cov == pytest.approx(trace, rel=1e-10)
    assert noise.grad_norm_sq == pytest.approx(gnorm, rel=1e-10)


def test_a_model_that_writes_into_its_input_leaves_the_data_alone(data):
    X, y = data
    torch.manual_seed(4)
    net = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(2, 3))
    ls = Landscape(net, nn.CrossEntropyLoss(), data, subset=None, dtype=torch.float64)
    before = ls.X.clone()
    assert (before < 0).any()  # the in-place ReLU would change these
    trace, gnorm = hand_moments(per_example_grads(net, X.clone(), y))
    noise = sharpness.gradient_noise(ls, net, batch_size=8)
    torch.testing.assert_close(ls.X, before, rtol=0, atol=0)
    assert noise.trace_cov == pytest.approx(trace, rel=1e-10)
    assert noise.grad_norm_sq == pytest.approx(gnorm, rel=1e-10)


def test_noise_along_training_follows_the_recorded_trajectory(data):
    X, y = data
    net = _tiny_net(2)
    run = train(net, data, epochs=4, batch_size=10, record_every=5, progress=False)
    ls = Landscape(net, nn.CrossEntropyLoss(), data, subset=None, dtype=torch.float64)
    noise = sharpness.noise_along_training(ls, run, batch_size=10)
    assert noise.steps.tolist() == run.trajectory_steps == [0, 5, 10, 15, 16]
    ref = _tiny_net(2)
    for k, w in enumerate(run.trajectory):
        vector_to_parameters(w, ref.parameters())
        trace, gnorm = hand_moments(per_example_grads(ref, X, y))
        assert noise.trace_cov[k] == pytest.approx(trace, rel=1e-6)
        assert noise.grad_norm_sq[k] == pytest.approx(gnorm, rel=1e-6)
    np.testing.assert_allclose(noise.noise_scale, noise.trace_cov / 10)
    # a plain list of weights with steps of one's own
    plain = sharpness.noise_along_training(ls, run.trajectory[:2], batch_size=10, steps=[3, 7])
    assert plain.steps.tolist() == [3, 7]
    np.testing.assert_allclose(plain.trace_cov, noise.trace_cov[:2], rtol=1e-12)


def test_noise_rejects_bad_arguments(trained):
    net, ls = trained
    with pytest.raises(ValueError, match="batch_size"):
        sharpness.gradient_noise(ls, net, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        sharpness.gradient_noise(ls, net, batch_size=2.5)
    empty = train(_tiny_net(3), ls.data, epochs=1, progress=False)  # no record_every
    with pytest.raises(ValueError, match="record_every"):
        sharpness.noise_along_training(ls, empty, batch_size=4)
    with pytest.raises(ValueError, match="2 steps for 1 points"):
        sharpness.noise_along_training(ls, [net], batch_size=4, steps=[0, 1])


def test_filter_direction_has_the_weights_row_norms(trained):
    net, ls = trained
    d = sharpness.filter_direction(ls, net, seed=0)
    theta = weights_of(net)
    parts, rows = ls.layout.split(d), ls.layout.split(theta)
    for name in ("0.weight", "2.weight"):
        torch.testing.assert_close(parts[name].norm(dim=1), rows[name].norm(dim=1))
    for name in ("0.bias", "2.bias"):
        assert torch.count_nonzero(parts[name]) == 0  # biases are left out by default
    # with biases included they get the bias vector's norm, as one group
    with_bias = ls.layout.split(sharpness.filter_direction(ls, net, seed=0, ignore=()))
    torch.testing.assert_close(with_bias["0.bias"].norm(), rows["0.bias"].norm())
    # the same seed gives the same raw direction for another network, at its own scale
    other = _tiny_net(5)
    d2 = ls.layout.split(sharpness.filter_direction(ls, other, seed=0))
    for name in ("0.weight", "2.weight"):
        unit = parts[name] / parts[name].norm(dim=1, keepdim=True)
        unit2 = d2[name] / d2[name].norm(dim=1, keepdim=True)
        torch.testing.assert_close(unit, unit2)
    assert not torch.allclose(d, sharpness.filter_direction(ls, net, seed=1))


def test_filter_slice_values_are_the_loss_at_those_weights(trained, data):
    net, ls = trained
    X, y = data
    prof = sharpness.filter_slice(ls, net, radius=0.8, n=9, seed=3)
    np.testing.assert_allclose(prof.t, np.linspace(-0.8, 0.8, 9))
    assert prof.anchors == {"theta": 0.0}
    d = sharpness.filter_direction(ls, net, seed=3)
    theta = weights_of(net)
    fresh = _tiny_net(9).double()
    for a, loss, acc in zip(prof.t, prof.loss, prof.metrics["accuracy"], strict=True):
        w = theta.double() + float(a) * d.double()
        vector_to_parameters(w, fresh.parameters())
        with torch.no_grad():
            out = fresh(X.double())
        # the slice's points theta + a d are formed from float32 vectors before the
        # float64 forward pass: they agree with this float64 sum to float32 rounding
        assert loss == pytest.approx(float(nn.functional.cross_entropy(out, y)), rel=1e-6)
        assert acc == pytest.approx(float((out.argmax(1) == y).double().mean()))
        # metrics_at takes weights as float32, hence the looser tolerance
        assert loss == pytest.approx(ls.metrics_at(w)["loss"], rel=1e-6)
    assert prof.loss[4] == pytest.approx(ls.metrics_at(net)["loss"], rel=1e-12)
    # a direction of one's own is used as given
    own = sharpness.filter_slice(ls, net, radius=1.0, n=3, direction=2 * d)
    assert own.loss[2] == pytest.approx(ls.metrics_at(theta + 2 * d)["loss"], rel=1e-6)
    with pytest.raises(ValueError, match="radius"):
        sharpness.filter_slice(ls, net, radius=0)
