"""Snapshot ensembles, FGE and SWA against a hand-written training loop with the
papers' rate formulas, and ensemble accuracy against a hand-written softmax average."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import vector_to_parameters
from torch.utils.data import DataLoader, TensorDataset

from landscape_widgets import datasets, models
from landscape_widgets import ensembles as E
from landscape_widgets.widgets.ensemble_plot import EnsemblePlot

BATCH = 32


@pytest.fixture(scope="module")
def data():
    return datasets.spirals(128, seed=0)  # 4 mini-batches of 32 per epoch


def bn_net() -> nn.Sequential:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 2))


def hand_loop(net, data, rate, snap_steps, total, seed=0, weight_decay=0.0):
    """Plain SGD with momentum 0.9, the rate of iteration i set to rate(i) before its step;
    returns the rates, the weights and buffers after each iteration in snap_steps."""
    X, y = data
    loader = DataLoader(
        TensorDataset(X, y),
        batch_size=BATCH,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    opt = torch.optim.SGD(net.parameters(), lr=1.0, momentum=0.9, weight_decay=weight_decay)
    net.train()
    rates, weights, buffers = [], [], []
    i = 0
    while i < total:
        for xb, yb in loader:
            i += 1
            for group in opt.param_groups:
                group["lr"] = rate(i)
            rates.append(rate(i))
            loss = nn.functional.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i in snap_steps:
                weights.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
                buffers.append({n: b.clone() for n, b in net.named_buffers()})
            if i == total:
                break
    return rates, weights, buffers


# ----------------------------------------------------------------------- training


@pytest.mark.parametrize("total", [24, 22])
def test_snapshot_ensemble_follows_the_cosine_formula_and_snapshots_each_cycle_end(data, total):
    torch.manual_seed(0)
    net = models.small_mlp(hidden=(16,))
    start = copy.deepcopy(net)
    run = E.snapshot_ensemble(
        net, data, cycles=3, steps=total, lr=0.2, batch_size=BATCH, progress=False
    )

    length = math.ceil(total / 3)  # 8 either way; the last cycle is cut short at T = 22

    def alpha(i):
        return 0.2 / 2 * (math.cos(math.pi * ((i - 1) % length) / length) + 1)

    ends = [8, 16, total]
    rates, weights, _ = hand_loop(start, data, alpha, set(ends), total)
    assert run.snapshot_steps == ends
    assert run.lrs == pytest.approx(rates, rel=1e-12)
    assert run.lrs[0] == pytest.approx(0.2) and run.lrs[8] == pytest.approx(0.2)  # restarts
    assert len(run.snapshots) == 3 and run.steps == total
    for mine, theirs in zip(run.snapshots, weights, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-6)
    # the members are different networks, and the model ends at the last one
    assert (run.snapshots[0] - run.snapshots[1]).norm() > 1e-3
    ends_at = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    torch.testing.assert_close(ends_at, run.snapshots[-1], rtol=0, atol=0)


def test_snapshot_ensemble_counts_epochs_in_mini_batches(data):
    run = E.snapshot_ensemble(
        models.small_mlp(hidden=(8,)), data, cycles=2, epochs=3, batch_size=BATCH, progress=False
    )
    assert run.steps_per_epoch == 4 and run.steps == 12 and run.snapshot_steps == [6, 12]


def test_fge_triangular_rates_and_snapshots_at_the_cycle_middle(data):
    torch.manual_seed(1)
    net = models.small_mlp(hidden=(16,))
    start = copy.deepcopy(net)
    a1, a2, c = 0.05, 0.001, 6
    run = E.fge(
        net,
        data,
        cycles=3,
        cycle=c,
        lr1=a1,
        lr2=a2,
        weight_decay=1e-3,
        batch_size=BATCH,
        progress=False,
    )

    def alpha(i):
        t = ((i - 1) % c + 1) / c
        return (1 - 2 * t) * a1 + 2 * t * a2 if t <= 0.5 else (2 - 2 * t) * a2 + (2 * t - 1) * a1

    mids = [3, 9, 15]
    rates, weights, _ = hand_loop(start, data, alpha, set(mids), 15, weight_decay=1e-3)
    assert run.snapshot_steps == mids and run.steps == 15  # stops at the last snapshot
    assert run.lrs == pytest.approx(rates, rel=1e-12)
    assert [run.lrs[i - 1] for i in mids] == pytest.approx([a2] * 3)
    assert run.lrs[c - 1] == pytest.approx(a1) and max(run.lrs) == pytest.approx(a1)  # cycle ends
    for mine, theirs in zip(run.snapshots, weights, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-6)


def test_swa_rates_average_and_recomputed_batchnorm_statistics(data):
    net = bn_net()
    start = copy.deepcopy(net)
    lr, swa_lr, first, anneal, every, total = 0.05, 0.01, 8, 4, 4, 24
    run = E.swa(
        net,
        data,
        steps=total,
        start=first,
        lr=lr,
        swa_lr=swa_lr,
        anneal_steps=anneal,
        every=every,
        batch_size=BATCH,
        progress=False,
    )

    def alpha(i):  # constant, then a cosine from lr to swa_lr over `anneal` iterations
        if i <= first:
            return lr
        a = (1 - math.cos(math.pi * min(1.0, (i - first - 1) / anneal))) / 2
        return swa_lr * a + lr * (1 - a)

    steps = [12, 16, 20, 24]
    rates, weights, buffers = hand_loop(start, data, alpha, set(steps), total)
    assert run.snapshot_steps == steps
    assert run.lrs == pytest.approx(rates, rel=1e-9)
    assert run.lrs[first + anneal :] == pytest.approx([swa_lr] * (total - first - anneal))
    for mine, theirs in zip(run.snapshots, weights, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-6)
    # the snapshots keep the running statistics they had when taken
    for mine, theirs in zip(run.buffers, buffers, strict=True):
        for name in ("1.running_mean", "1.running_var"):
            torch.testing.assert_close(mine[name], theirs[name], rtol=0, atol=1e-6)
    torch.testing.assert_close(run.swa_weights, torch.stack(weights).mean(0), rtol=0, atol=1e-6)

    # BN statistics of the average: the mean of the per-batch means and unbiased
    # variances over the data in order (momentum=None is a cumulative average)
    X, _ = data
    W, b = run.swa_weights[:32].view(16, 2), run.swa_weights[32:48]
    h = X @ W.T + b
    chunks = h.split(BATCH)
    mean = torch.stack([c.mean(0) for c in chunks]).mean(0)
    var = torch.stack([c.var(0, unbiased=True) for c in chunks]).mean(0)
    torch.testing.assert_close(run.swa_buffers["1.running_mean"], mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(run.swa_buffers["1.running_var"], var, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(run.swa_buffers["1.running_mean"], run.buffers[-1]["1.running_mean"])


def test_swa_without_annealing_jumps_to_the_swa_rate(data):
    run = E.swa(
        models.small_mlp(hidden=(8,)),
        data,
        steps=12,
        start=4,
        lr=0.1,
        swa_lr=0.02,
        batch_size=BATCH,
        progress=False,
    )
    assert run.lrs == pytest.approx([0.1] * 4 + [0.02] * 8)
    assert run.snapshot_steps == [8, 12]  # every: one epoch of 4 iterations
    assert run.info["averaged"] == 2


def test_the_rng_is_seeded_and_the_callers_stream_is_left_alone(data):
    def go():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(2, 16), nn.Dropout(0.5), nn.Tanh(), nn.Linear(16, 2))
        return E.snapshot_ensemble(
            net, data, cycles=2, steps=8, seed=5, batch_size=BATCH, progress=False
        )

    a = go()
    after = torch.rand(1)
    b = go()
    torch.testing.assert_close(a.snapshots[-1], b.snapshots[-1], rtol=0, atol=0)
    torch.manual_seed(0)
    torch.nn.Linear(2, 16), torch.nn.Linear(16, 2)
    assert torch.equal(after, torch.rand(1))  # dropout's draws came from a fork


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, d: E.snapshot_ensemble(m, d, cycles=5, steps=4), "do not fit"),
        (lambda m, d: E.snapshot_ensemble(m, d, cycles=6, steps=10), "do not all fit"),
        (lambda m, d: E.snapshot_ensemble(m, d, cycles=2, steps=4, epochs=1), "exactly one"),
        (lambda m, d: E.snapshot_ensemble(m, d, cycles=2), "exactly one"),
        (lambda m, d: E.snapshot_ensemble(m, d, cycles=0, steps=4), "cycles"),
        (lambda m, d: E.snapshot_ensemble(m, d, cycles=2, steps=4, lr=-1), "lr"),
        (lambda m, d: E.fge(m, d, cycles=2, cycle=5), "even"),
        (lambda m, d: E.swa(m, d, steps=8, start=6, every=4), "nothing to average"),
        (lambda m, d: E.swa(m, d, steps=8, swa_lr=0), "swa_lr"),
    ],
)
def test_bad_settings_raise_clear_errors(data, call, message):
    with pytest.raises(ValueError, match=message):
        call(models.small_mlp(hidden=(4,)), data)


# ----------------------------------------------------------------------- accuracy


def hand_ensemble(make, members, X, y, buffers=None):
    probs, single, together = [], [], []
    for k, w in enumerate(members):
        net = make()
        vector_to_parameters(w, net.parameters())
        if buffers is not None:
            for name, b in net.named_buffers():
                b.copy_(buffers[k][name])
        with torch.no_grad():
            probs.append(torch.softmax(net.eval()(X).double(), dim=1))
        single.append((probs[-1].argmax(1) == y).double().mean().item())
        together.append((sum(probs).argmax(1) == y).double().mean().item())
    return single, together


def test_ensemble_accuracy_is_the_softmax_average_of_the_first_k(data):
    X, y = datasets.spirals(400, seed=1, noise=0.2)
    make = lambda: models.small_mlp(hidden=(16,))  # noqa: E731
    torch.manual_seed(0)
    run = E.snapshot_ensemble(
        make(), data, cycles=4, steps=40, lr=0.5, batch_size=BATCH, progress=False
    )
    acc = E.ensemble_accuracy(make(), run, (X, y), batch_size=150)
    single, together = hand_ensemble(make, run.snapshots, X, y)
    np.testing.assert_allclose(acc.members, single, atol=1e-12)
    np.testing.assert_allclose(acc.ensemble, together, atol=1e-12)
    assert acc.name == "snapshot" and acc.sizes.tolist() == [1, 2, 3, 4]
    # the members differ, so an ensemble is not just its first member
    assert len(set(acc.members.tolist())) > 1
    assert not np.allclose(acc.ensemble, acc.members)
    assert E.accuracy(make(), run.snapshots[2], (X, y)) == pytest.approx(single[2])


def test_ensemble_accuracy_of_batchnorm_members_kept_or_recomputed(data):
    X, y = datasets.spirals(300, seed=2)
    run = E.swa(
        bn_net(), data, steps=16, every=4, lr=0.1, swa_lr=0.1, batch_size=BATCH, progress=False
    )
    kept = E.ensemble_accuracy(bn_net(), run, (X, y))
    single, together = hand_ensemble(bn_net, run.snapshots, X, y, run.buffers)
    np.testing.assert_allclose(kept.members, single, atol=1e-12)
    np.testing.assert_allclose(kept.ensemble, together, atol=1e-12)

    recomputed = E.ensemble_accuracy(bn_net(), run.snapshots, (X, y), bn_data=data)
    fresh = []
    for w in run.snapshots:  # statistics by hand: one batch of all 128 points
        net = bn_net()
        vector_to_parameters(w, net.parameters())
        h = data[0] @ net[0].weight.T + net[0].bias
        net[1].running_mean.copy_(h.mean(0).detach())
        net[1].running_var.copy_(h.var(0, unbiased=True).detach())
        fresh.append({n: b.clone() for n, b in net.named_buffers()})
    single, _ = hand_ensemble(bn_net, run.snapshots, X, y, fresh)
    np.testing.assert_allclose(recomputed.members, single, atol=1e-12)

    with pytest.raises(ValueError, match="BatchNorm"):
        E.ensemble_accuracy(bn_net(), run.snapshots, (X, y))
    swa_acc = E.accuracy(bn_net(), run.swa_weights, (X, y), buffers=run.swa_buffers)
    loaded = run.load(bn_net(), "swa").eval()
    with torch.no_grad():
        assert swa_acc == pytest.approx((loaded(X).argmax(1) == y).double().mean().item())


def test_ensemble_accuracy_rejects_bad_input(data):
    net = models.small_mlp(hidden=(4,))
    with pytest.raises(ValueError, match="no members"):
        E.ensemble_accuracy(net, [], data)
    with pytest.raises(ValueError, match="class labels"):
        E.ensemble_accuracy(net, [net], (data[0], data[1].float()))
    with pytest.raises(ValueError, match="entries"):
        E.ensemble_accuracy(net, [torch.zeros(3)], data)


# ----------------------------------------------------------------------- table and chart


def results():
    return [
        E.EnsembleAccuracy("snapshot", np.array([0.8, 0.82, 0.81]), np.array([0.8, 0.84, 0.85])),
        E.EnsembleAccuracy(
            "FGE",
            np.array([0.83, 0.79, 0.84, 0.8, 0.82]),
            np.array([0.83, 0.83, 0.845, 0.846, 0.848]),
        ),
    ]


def test_accuracy_table_rows_hold_the_numbers():
    text = E.accuracy_table(results(), {"SWA average": 0.8421})
    rows = text.splitlines()
    assert rows[0].split() == ["k=1", "k=2", "k=3", "k=4", "k=5"]
    assert rows[2].startswith("snapshot: member k") and rows[3].startswith("snapshot: first k")
    assert [float(v) for v in rows[3].split()[3:]] == [0.8, 0.84, 0.85]
    assert [float(v) for v in rows[5].split()[3:]] == [0.83, 0.83, 0.845, 0.846, 0.848]
    assert rows[-1].startswith("SWA average") and rows[-1].split()[-1] == "0.842"
    assert len(rows) == 2 + 2 * 2 + 1


def test_ensemble_plot_marks_hold_the_accuracies():
    snap, fge = results()
    plot = EnsemblePlot([snap], {"SWA average": 0.84}, title="t")
    assert plot.lines["snapshot"].y.tolist() == [0.8, 0.84, 0.85]
    assert plot.points["snapshot"].y.tolist() == [0.8, 0.82, 0.81]
    assert plot.points["snapshot"].x.tolist() == [1, 2, 3]
    assert (plot.x_scale.min, plot.x_scale.max) == (0.5, 3.5)
    plot.add(fge)  # a longer method widens the plot, and the single's line with it
    assert (plot.x_scale.min, plot.x_scale.max) == (0.5, 5.5)
    assert plot.singles["SWA average"].x.tolist() == [0.5, 5.5]
    assert plot.singles["SWA average"].y.tolist() == [0.84, 0.84]
    assert plot.lines["FGE"].y.tolist() == [0.83, 0.83, 0.845, 0.846, 0.848]
    colors = {m.colors[0] for m in (*plot.lines.values(), *plot.singles.values())}
    assert len(colors) == 3
    assert plot.points["FGE"].colors == plot.lines["FGE"].colors
    assert len([m for m in plot.marks if all(m is not k for k in plot.legend.marks)]) == 5
    # the legend is under the plot: the methods solid, the single network dashed
    assert [(e.name, e.dashed) for e in plot.legend.entries] == [
        ("snapshot", False),
        ("FGE", False),
        ("SWA average", True),
    ]
    assert (np.asarray(plot.legend.names.y) < 0).all()
    assert list(plot.legend.samples.colors)[2:] == plot.singles["SWA average"].colors
    assert list(plot.legend.samples.text)[2] != list(plot.legend.samples.text)[0]
    assert plot.y_scale.min < 0.8 and plot.y_scale.max > 0.848
    with pytest.raises(ValueError, match="drawn already"):
        plot.add(fge)
