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


def _reference_step(net, curve, control, t, X, y, lr):
    """One SGD step (no momentum yet: the first step) by autograd through phi(t)."""
    ref = curve_from_state({**curve.state(), "control": control.clone()})
    params = Landscape(net, nn.CrossEntropyLoss(), (X, y)).layout.split(ref.at(t))
    loss = nn.functional.cross_entropy(torch.func.functional_call(net, params, (X,)), y)
    (grad,) = torch.autograd.grad(loss, ref.control)
    return control - lr * grad


@pytest.mark.parametrize("kind", ["bezier3", "polychain2", "tied"])
def test_a_step_follows_the_gradient_through_phi_t(two_nets, kind):
    X, y, nets = two_nets
    if kind == "tied":
        torch.manual_seed(0)
        a, b = _Tied(), _Tied()
        curve = BezierCurve(a, b, init=torch.randn(1, sum(p.numel() for p in a.parameters())))
    else:
        a, b = nets
        d = weights_of(a).numel()
        gen = torch.Generator().manual_seed(1)
        if kind == "bezier3":
            curve = BezierCurve(a, b, degree=3, init=0.1 * torch.randn(2, d, generator=gen))
        else:
            curve = PolyChain(a, b, bends=2, init=0.1 * torch.randn(2, d, generator=gen))
    ls = Landscape(a, nn.CrossEntropyLoss(), (X, y))
    trainer = CurveTrainer(ls, curve, optimizer="sgd", lr=0.1, batch_size=len(X), seed=2)
    control = curve.control.detach().clone()
    trainer.step()
    expected = _reference_step(a, curve, control, trainer.history["t"][0], X, y, lr=0.1)
    assert not torch.equal(curve.control.detach(), control)
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
