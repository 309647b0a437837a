"""Curve training on two independently trained networks: the curve finds a
low-loss path where the straight segment crosses a ridge."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import Landscape, datasets, train
from landscape_widgets.core.curve_trainer import CurveTrainer, segment_profile
from landscape_widgets.core.curves import BezierCurve, PolyChain, curve_from_state
from landscape_widgets.core.weights import weights_of

pytestmark = pytest.mark.usefixtures("one_thread")


def test_training_finds_a_tunnel_and_moves_only_the_control_points(two_nets):
    X, y, nets = two_nets
    before = [weights_of(n).clone() for n in nets]
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    straight = segment_profile(ls, nets[0], nets[1], n=21)
    assert straight.barrier() > 0.3  # two separate basins
    for curve in (BezierCurve(nets[0], nets[1]), PolyChain(nets[0], nets[1], bends=1)):
        trainer = CurveTrainer(ls, curve, optimizer="adam", lr=1e-2, epochs=100, seed=0)
        trainer.fit(progress=False)
        prof = trainer.profile(n=21)
        assert prof.barrier() < 0.2 * straight.barrier(), curve.kind
        # the ends stay the trained networks, and the networks are untouched
        torch.testing.assert_close(curve.at(0.0), before[0])
        torch.testing.assert_close(curve.at(1.0), before[1])
        # the profile's ends are the networks' own losses
        assert prof.loss[0] == pytest.approx(ls.metrics_at(nets[0])["loss"], rel=1e-5)
        assert prof.provenance["bn"] == "none" and prof.provenance["steps"] == 400
        assert np.mean(trainer.history["loss"][-40:]) < np.mean(trainer.history["loss"][:40])
    for n, w in zip(nets, before, strict=True):
        torch.testing.assert_close(weights_of(n), w)


def test_interrupted_training_resumes_exactly(two_nets, tmp_path):
    X, y, nets = two_nets
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))

    def trainer():
        return CurveTrainer(ls, BezierCurve(nets[0], nets[1]), epochs=1, seed=3, record_every=5)

    straight = trainer()
    for _ in range(12):
        straight.step()
    resumed = trainer()
    for _ in range(7):
        resumed.step()
    resumed.save(tmp_path / "curve.pt")
    again = trainer().load(tmp_path / "curve.pt")
    for _ in range(5):
        again.step()
    torch.testing.assert_close(again.curve.control, straight.curve.control)
    assert again.history["t"] == straight.history["t"]
    assert again.history["control_step"] == [0, 5, 10]


def test_the_loss_of_a_step_is_the_networks_loss_at_phi_t(two_nets):
    X, y, nets = two_nets
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    trainer = CurveTrainer(ls, BezierCurve(nets[0], nets[1]), batch_size=len(X), seed=1)
    control = trainer.curve.control.detach().clone()
    loss = trainer.step()
    t = trainer.history["t"][0]
    ref = copy.deepcopy(nets[0])
    w = BezierCurve(nets[0], nets[1], init=control).at(t).detach()
    nn.utils.vector_to_parameters(w, ref.parameters())
    with torch.no_grad():
        expected = float(nn.functional.cross_entropy(ref(X), y))
    assert loss == pytest.approx(expected, rel=1e-5)


class _Tied(nn.Module):
    """One Linear used twice, and a frozen output layer."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 8)
        self.out = nn.Linear(8, 2)
        self.out.weight.requires_grad_(False)
        self.inp = nn.Linear(2, 8)

    def forward(self, x):
        h = torch.tanh(self.inp(x))
        h = torch.tanh(self.hidden(h))
        return self.out(torch.tanh(self.hidden(h)))


def _reference_steps(net, curve, control, ts, X, y, optimizer, curve_decay=0.0):
    """Steps of ``optimizer(params)`` (a torch optimizer) on the control points, each
    from the gradient by autograd of the loss at phi(t) plus
    ``0.5 * curve_decay * |phi(t)|^2`` (the penalty of Garipov et al. 2018)."""
    ref = curve_from_state({**curve.state(), "control": control.clone()})
    opt = optimizer([ref.control])
    layout = Landscape(net, nn.CrossEntropyLoss(), (X, y)).layout
    for t in ts:
        w = ref.at(t)
        out = torch.func.functional_call(net, layout.split(w), (X,))
        loss = nn.functional.cross_entropy(out, y) + 0.5 * curve_decay * w.square().sum()
        (ref.control.grad,) = torch.autograd.grad(loss, ref.control)
        opt.step()
    return ref.control.detach()


def _sgd(lr, weight_decay=0.0):
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)


def _random_curve(nets, kind):
    a, b = nets
    d = weights_of(a).numel()
    gen = torch.Generator().manual_seed(1)
    if kind == "bezier3":
        return BezierCurve(a, b, degree=3, init=0.1 * torch.randn(2, d, generator=gen))
    return PolyChain(a, b, bends=2, init=0.1 * torch.randn(2, d, generator=gen))


@pytest.mark.parametrize("kind", ["bezier3", "polychain2", "tied"])
def test_a_step_follows_the_gradient_through_phi_t(two_nets, kind):
    X, y, nets = two_nets
    if kind == "tied":
        torch.manual_seed(0)
        a, b = _Tied(), _Tied()
        curve = BezierCurve(a, b, init=torch.randn(1, sum(p.numel() for p in a.parameters())))
    else:
        a, curve = nets[0], _random_curve(nets, kind)
    ls = Landscape(a, nn.CrossEntropyLoss(), (X, y))
    trainer = CurveTrainer(ls, curve, optimizer="sgd", lr=0.1, batch_size=len(X), seed=2)
    control = curve.control.detach().clone()
    trainer.step()
    expected = _reference_steps(a, curve, control, trainer.history["t"], X, y, _sgd(0.1))
    assert not torch.equal(curve.control.detach(), control)
    torch.testing.assert_close(curve.control.detach(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["bezier3", "polychain2"])
def test_weight_decay_by_default_penalises_the_point_on_the_curve(two_nets, kind):
    X, y, nets = two_nets
    curve = _random_curve(nets, kind)
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    wd = 0.05  # large, so that decay on the control points instead would show
    trainer = CurveTrainer(ls, curve, lr=0.1, batch_size=len(X), weight_decay=wd, seed=4)
    control = curve.control.detach().clone()
    for _ in range(3):
        trainer.step()
    ts = trainer.history["t"]
    expected = _reference_steps(nets[0], curve, control, ts, X, y, _sgd(0.1), curve_decay=wd)
    torch.testing.assert_close(curve.control.detach(), expected, rtol=1e-5, atol=1e-6)
    assert trainer.decay_on == "curve"
    other = _reference_steps(nets[0], curve, control, ts, X, y, _sgd(0.1, weight_decay=wd))
    assert (other - expected).abs().max() > 100 * (expected - curve.control).abs().max()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weight_decay_on_the_control_points_is_the_optimizers(two_nets, optimizer):
    X, y, nets = two_nets
    curve = _random_curve(nets, "bezier3")
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    wd, lr = 0.05, 0.01
    trainer = CurveTrainer(
        ls, curve, optimizer, lr=lr, batch_size=len(X), weight_decay=wd, decay_on="controls"
    )
    control = curve.control.detach().clone()
    for _ in range(3):
        trainer.step()
    if optimizer == "sgd":
        make = _sgd(lr, weight_decay=wd)
    else:

        def make(params):
            return torch.optim.Adam(params, lr=lr, weight_decay=wd)

    expected = _reference_steps(nets[0], curve, control, trainer.history["t"], X, y, make)
    torch.testing.assert_close(curve.control.detach(), expected, rtol=1e-5, atol=1e-6)


def test_bad_arguments(two_nets):
    X, y, nets = two_nets
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    curve = BezierCurve(nets[0], nets[1])
    with pytest.raises(TypeError, match="BezierCurve"):
        CurveTrainer(ls, "curve")
    with pytest.raises(ValueError, match="optimizer"):
        CurveTrainer(ls, curve, optimizer="lbfgs")
    with pytest.raises(ValueError, match="batch_size"):
        CurveTrainer(ls, curve, batch_size=0)
    with pytest.raises(ValueError, match="weights"):
        CurveTrainer(ls, BezierCurve(torch.zeros(3), torch.ones(3)))
    with pytest.raises(ValueError, match="decay_on"):
        CurveTrainer(ls, curve, weight_decay=1e-4, decay_on="points")
    with pytest.raises(ValueError, match="weight_decay"):
        CurveTrainer(ls, curve, weight_decay=-1.0)


def test_bn_statistics_are_recomputed_along_the_curve(one_thread):
    from torch.optim.swa_utils import update_bn

    torch.manual_seed(0)
    X, y = datasets.moons(256, seed=0)

    def bn_net():
        return nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))

    a, b = bn_net(), bn_net()
    for net, s in ((a, 0), (b, 1)):
        train(net, (X, y), epochs=5, seed=s, progress=False)
    ls = Landscape(a, nn.CrossEntropyLoss(), (X, y))  # bn="keep" for maps
    trainer = CurveTrainer(ls, BezierCurve(a, b), epochs=2, seed=0)
    trainer.fit(progress=False)
    prof = trainer.profile(n=5)
    assert prof.provenance["bn"] == "recompute"
    assert "exact over 256 samples: one batch" in prof.provenance["bn_statistics"]
    # the reference: a fresh copy at phi(0.5), BN statistics by update_bn on the data
    ref = copy.deepcopy(a)
    nn.utils.vector_to_parameters(trainer.curve.at(0.5).detach(), ref.parameters())
    update_bn(torch.utils.data.DataLoader(X, batch_size=len(X)), ref)
    ref.eval()
    with torch.no_grad():
        expected = float(nn.functional.cross_entropy(ref(X), y))
    assert prof.loss[2] == pytest.approx(expected, rel=1e-4)
    # the landscape's own statistics were not touched by training
    torch.testing.assert_close(ls.net[1].running_mean, a[1].running_mean)


def test_ensemble_and_test_data_profiles_match_fresh_copies(two_nets):
    X, y, nets = two_nets
    Xt, yt = datasets.spirals(300, seed=7)  # held-out points
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    trainer = CurveTrainer(ls, BezierCurve(nets[0], nets[1]), epochs=10, optimizer="adam", lr=1e-2)
    trainer.fit(progress=False)

    def fresh(w):
        net = copy.deepcopy(nets[0])
        nn.utils.vector_to_parameters(w.detach(), net.parameters())
        with torch.no_grad():
            return net(Xt).double().softmax(-1)

    ens = trainer.ensemble_profile(n=5, data=(Xt, yt))
    p1 = fresh(trainer.curve.at(0.0))
    for k, t in enumerate(ens.t):
        p = (p1 + fresh(trainer.curve.at(float(t)))) / 2
        assert ens.metrics["accuracy"][k] == pytest.approx(
            float((p.argmax(1) == yt).double().mean())
        )
        assert ens.loss[k] == pytest.approx(
            float(-p[torch.arange(len(yt)), yt].log().mean()), rel=1e-5
        )
    # at t = 0 the "ensemble" is w1 alone
    alone = float((p1.argmax(1) == yt).double().mean())
    assert ens.metrics["accuracy"][0] == pytest.approx(alone)

    assert trainer.evaluator() is ls  # no BatchNorm, no other data: the landscape itself
    assert trainer.evaluator((Xt, yt)).targets.tolist() == yt.tolist()
    test = trainer.profile(n=3, data=(Xt, yt))
    direct = nn.functional.cross_entropy(fresh(trainer.curve.at(0.5)).log(), yt)
    assert test.loss[1] == pytest.approx(float(direct), rel=1e-4)
