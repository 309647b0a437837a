import copy
import functools

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from landscape_widgets.core.data import resolve_device
from landscape_widgets.core.train import TrainResult, train
from landscape_widgets.core.weights import weights_of
from landscape_widgets.datasets import regression1d, spirals
from landscape_widgets.models import small_mlp

pytestmark = pytest.mark.usefixtures("one_thread")


def fresh_mlp(seed=0, **kwargs):
    torch.manual_seed(seed)
    return small_mlp(**kwargs)


def test_train_reduces_loss_on_spirals_and_generalises():
    net = fresh_mlp()
    result = train(
        net,
        spirals(512, seed=0),
        epochs=25,
        optimizer="adam",
        lr=0.01,
        batch_size=64,
        progress=False,
    )
    assert isinstance(result, TrainResult)
    assert len(result.losses) == 25 * 8 == result.steps
    first, last = sum(result.losses[:8]) / 8, sum(result.losses[-8:]) / 8
    assert last < 0.3 * first
    X, y = spirals(500, seed=1)
    with torch.no_grad():
        assert (net(X).argmax(1) == y).float().mean() > 0.9
    assert torch.equal(result.weights, weights_of(net))  # trained in place


@pytest.mark.parametrize(
    "epochs, record_every, expected_steps",
    [
        (3, 5, [0, 5, 10, 12]),  # the end is added when it is not on the grid
        (3, 4, [0, 4, 8, 12]),  # ... and not twice when it is
        (3, 1, list(range(13))),
        (1, 100, [0, 4]),
        (0, 2, [0]),
    ],
)
def test_trajectory_points(epochs, record_every, expected_steps):
    net = fresh_mlp()
    start = weights_of(net)
    X, y = spirals(256)  # 4 steps per epoch at batch size 64
    result = train(
        net, (X, y), epochs=epochs, batch_size=64, record_every=record_every, progress=False
    )
    assert result.trajectory_steps == expected_steps
    assert len(result.trajectory) == len(expected_steps)
    assert torch.equal(result.trajectory[0], start)
    assert torch.equal(result.trajectory[-1], result.weights)
    assert all(w.shape == start.shape and w.dtype == torch.float32 for w in result.trajectory)


def test_trajectory_matches_weights_after_each_step():
    X, y = spirals(256)
    full = train(fresh_mlp(), (X, y), epochs=2, batch_size=64, record_every=1, progress=False)
    # replaying with a shorter run gives the same weights at the shared step
    short = train(fresh_mlp(), (X, y), epochs=1, batch_size=64, progress=False)
    assert torch.equal(full.trajectory[4], short.weights)
    # entries are snapshots, not views of the live parameters
    assert len({tuple(w[:3].tolist()) for w in full.trajectory}) == len(full.trajectory)


def test_no_trajectory_without_record_every():
    result = train(fresh_mlp(), spirals(128), epochs=1, progress=False)
    assert result.trajectory == [] and result.trajectory_steps == []


def test_deterministic_given_seed_and_leaves_global_rng_alone():
    data = spirals(256)
    a = train(fresh_mlp(), data, epochs=2, seed=7, progress=False)
    b = train(fresh_mlp(), data, epochs=2, seed=7, progress=False)
    c = train(fresh_mlp(), data, epochs=2, seed=8, progress=False)
    assert a.losses == b.losses and torch.equal(a.weights, b.weights)
    assert a.losses != c.losses

    torch.manual_seed(42)
    net = small_mlp()
    state = torch.get_rng_state()
    train(net, data, epochs=1, progress=False)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_one_full_batch_sgd_step_matches_hand_computation(weight_decay):
    X, y = spirals(100)
    net = fresh_mlp()
    reference = copy.deepcopy(net)
    loss = nn.functional.cross_entropy(reference(X), y)
    grads = torch.autograd.grad(loss, list(reference.parameters()))
    expected = torch.cat(
        [
            (p - 0.3 * (g + weight_decay * p)).detach().reshape(-1)
            for p, g in zip(reference.parameters(), grads, strict=True)
        ]
    )
    result = train(
        net, (X, y), epochs=1, batch_size=100, lr=0.3, weight_decay=weight_decay, progress=False
    )
    assert result.losses == pytest.approx([loss.item()], rel=1e-6)
    assert torch.allclose(result.weights, expected, atol=1e-6)


def test_momentum_is_heavy_ball_with_0_9():
    X, y = spirals(100)
    net, reference = fresh_mlp(), fresh_mlp()
    opt = torch.optim.SGD(reference.parameters(), lr=0.02, momentum=0.9)
    for _ in range(3):
        loss = nn.functional.cross_entropy(reference(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    result = train(
        net, (X, y), epochs=3, batch_size=100, optimizer="momentum", lr=0.02, progress=False
    )
    assert torch.allclose(result.weights, weights_of(reference), atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "rmsprop", "Adam"])
def test_named_optimizers_all_train(optimizer):
    result = train(fresh_mlp(), spirals(256), epochs=8, optimizer=optimizer, progress=False)
    assert sum(result.losses[-4:]) < sum(result.losses[:4])


def test_optimizer_factory():
    X, y = spirals(100)
    factory = functools.partial(torch.optim.SGD, lr=0.3)
    a = train(fresh_mlp(), (X, y), epochs=2, batch_size=100, optimizer=factory, progress=False)
    b = train(
        fresh_mlp(), (X, y), epochs=2, batch_size=100, optimizer="sgd", lr=0.3, progress=False
    )
    assert torch.allclose(a.weights, b.weights)
    with pytest.raises(ValueError, match="factory"):
        train(fresh_mlp(), (X, y), optimizer=factory, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="optimizer must be"):
        train(fresh_mlp(), (X, y), optimizer="lbfgs", progress=False)
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        train(fresh_mlp(), (X, y), optimizer=lambda params: None, progress=False)


def test_default_loss_is_mse_for_float_targets():
    X, y = regression1d(64)
    net = fresh_mlp(in_features=1, hidden=(16,), out_features=1)
    with torch.no_grad():
        expected = ((net(X) - y) ** 2).mean().item()
    result = train(net, (X, y), epochs=30, batch_size=64, lr=0.05, progress=False)
    assert result.losses[0] == pytest.approx(expected, rel=1e-6)
    assert result.losses[-1] < 0.5 * result.losses[0]


def test_custom_loss_fn_is_used():
    X, y = spirals(64)
    calls = []

    def loss_fn(output, target):
        calls.append(output.shape)
        return nn.functional.cross_entropy(output, target, label_smoothing=0.1)

    train(fresh_mlp(), (X, y), epochs=2, batch_size=32, loss_fn=loss_fn, progress=False)
    assert calls == [(32, 2)] * 4


def test_accepts_dataset_and_dataloader():
    X, y = spirals(200)
    from_tensors = train(fresh_mlp(), (X, y), epochs=2, batch_size=50, seed=3, progress=False)
    from_dataset = train(
        fresh_mlp(), TensorDataset(X, y), epochs=2, batch_size=50, seed=3, progress=False
    )
    assert from_tensors.losses == from_dataset.losses
    loader = DataLoader(TensorDataset(X, y), batch_size=40, shuffle=False)
    from_loader = train(fresh_mlp(), loader, epochs=3, batch_size=999, progress=False)
    assert len(from_loader.losses) == 3 * 5  # the loader's own batch size is used


def test_model_mode_is_restored():
    net = fresh_mlp().eval()
    train(net, spirals(64), epochs=1, progress=False)
    assert not net.training
    net.train()
    train(net, spirals(64), epochs=1, progress=False)
    assert net.training


def test_progress_bar(capsys):
    train(fresh_mlp(), spirals(64), epochs=1, batch_size=32, progress=True)
    assert "2/2" in capsys.readouterr().err
    train(fresh_mlp(), spirals(64), epochs=1, batch_size=32, progress=False)
    assert capsys.readouterr().err == ""


def test_devices_are_named_by_string_auto_or_none():
    assert resolve_device("cpu") == torch.device("cpu")
    auto = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("auto") == resolve_device(None) == auto


def test_clear_errors():
    net = fresh_mlp()
    with pytest.raises(ValueError, match="empty"):
        train(net, (torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)), progress=False)
    with pytest.raises(ValueError, match="X has 10 samples but y has 9"):
        train(net, (torch.zeros(10, 2), torch.zeros(9, dtype=torch.long)), progress=False)
    with pytest.raises(TypeError, match="\\(X, y\\)"):
        train(net, (torch.zeros(10, 2),), progress=False)
    with pytest.raises(TypeError, match="Dataset"):
        train(net, "data.csv", progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(net, spirals(10), batch_size=0, progress=False)
    with pytest.raises(ValueError, match="record_every"):
        train(net, spirals(10), record_every=0, progress=False)
    with pytest.raises(ValueError, match="empty"):
        train(net, DataLoader(TensorDataset(torch.zeros(0, 2), torch.zeros(0))), progress=False)
