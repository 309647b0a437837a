"""Curve training survives Ctrl-C and hostile files: an interrupted step leaves no
trace, a continued run is bitwise the uninterrupted one, and a trainer file can
hold data only."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import Landscape
from landscape_widgets.core.curve_trainer import CurveTrainer
from landscape_widgets.core.curves import BezierCurve

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS_PER_EPOCH = 5  # 500 points in batches of 100
EPOCHS = 3


class _TrippedLoss:
    """Cross-entropy that runs ``trip()`` at its ``at``-th call (counted from 1)."""

    def __init__(self):
        self.calls, self.at, self.trip = 0, None, None

    def __call__(self, out, target):
        self.calls += 1
        if self.calls == self.at:
            self.trip()
        return nn.functional.cross_entropy(out, target)


class _TrippedList(list):
    """A history list whose ``append`` raises KeyboardInterrupt at the ``at``-th call."""

    def __init__(self, items, at):
        super().__init__(items)
        self.calls, self.at = 0, at

    def append(self, item):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        super().append(item)


def _interrupt():
    raise KeyboardInterrupt


def _trainer(two_nets, optimizer="sgd", **kwargs):
    X, y, nets = two_nets
    loss = _TrippedLoss()
    ls = Landscape(nets[0], loss, (X, y))
    settings = dict(optimizer=optimizer, epochs=EPOCHS, batch_size=100, seed=5, record_every=3)
    return CurveTrainer(ls, BezierCurve(nets[0], nets[1]), **{**settings, **kwargs}), loss


def assert_same(a, b, where="state"):
    """Bitwise equality of nested dicts, lists, tuples, tensors and numbers."""
    assert type(a) is type(b) or (isinstance(a, list) and isinstance(b, list)), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for k, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_same(u, v, f"{where}[{k}]")
    elif torch.is_tensor(a):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), where
    else:
        assert a == b, where


def _consistent(trainer):
    h = trainer.history
    assert h["step"] == list(range(1, trainer.step_count + 1))
    assert len(h["t"]) == len(h["loss"]) == trainer.step_count
    assert h["control_step"] == list(range(0, trainer.step_count + 1, 3))
    if trainer.step_count % 3 == 0:
        assert torch.equal(h["control"][-1], trainer.curve.control.detach())


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_interrupted_at_random_points_the_continued_run_is_bitwise_the_same(
    two_nets, tmp_path, optimizer
):
    reference, _ = _trainer(two_nets, optimizer)
    reference.fit(progress=False)
    assert reference.step_count == EPOCHS * STEPS_PER_EPOCH

    rng = np.random.default_rng(11)
    trainer, loss = _trainer(two_nets, optimizer)
    checkpoint = tmp_path / "curve.pt"
    where = ["loss", "after step", "history", "checkpoint"]
    interruptions = 0
    while trainer.step_count < reference.step_count:
        kind = where[interruptions % len(where)]
        loss.at, loss.trip = None, _interrupt
        hook = None
        # a random step from now on: the next one or up to one epoch later (maybe
        # past the end, where fit finishes)
        at = int(rng.integers(1, STEPS_PER_EPOCH + 1))
        interrupted = trainer.step_count + at <= reference.step_count
        if kind == "loss":
            loss.at = loss.calls + at
        elif kind == "after step":  # the optimizer has moved the points: must be undone
            count = [0]

            def post(opt, args, kwargs, count=count, at=at):
                count[0] += 1
                if count[0] == at:
                    raise KeyboardInterrupt

            hook = trainer.optimizer.register_step_post_hook(post)
        else:
            key = "t" if kind == "history" else "loss"
            trainer.history[key] = _TrippedList(trainer.history[key], at)
        done = trainer.step_count
        if interrupted:
            with pytest.raises(KeyboardInterrupt):
                trainer.fit(progress=False, checkpoint=checkpoint)
            interruptions += 1
        else:
            trainer.fit(progress=False, checkpoint=checkpoint)
        if hook is not None:
            hook.remove()
        for key in ("t", "loss"):
            trainer.history[key] = list(trainer.history[key])
        # the interrupted step left no trace: at steps done + at - 1 exactly
        assert trainer.step_count == (done + at - 1 if interrupted else reference.step_count)
        _consistent(trainer)
        if kind == "checkpoint":  # go on in a fresh trainer from the saved file
            trainer, loss = _trainer(two_nets, optimizer)
            trainer.load(checkpoint)
        else:
            assert_same(torch.load(checkpoint, weights_only=True), trainer.state_dict())
    assert interruptions >= len(where)
    trainer.fit(progress=False)  # nothing left to do
    assert_same(trainer.state_dict(), reference.state_dict())
    assert torch.equal(trainer.curve.control, reference.curve.control)


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler, as a notebook kernel has while it runs a cell.

    Something earlier in a test session (a browser driver, a Jupyter client)
    may have installed another one, which fit() rightly leaves alone.
    """
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_finishes_the_step_then_raises(two_nets, default_sigint):
    reference, _ = _trainer(two_nets)
    reference.fit(progress=False)
    trainer, loss = _trainer(two_nets)
    before = signal.getsignal(signal.SIGINT)
    loss.at, loss.trip = 7, lambda: signal.raise_signal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(progress=False)
    assert trainer.step_count == 7  # the step in progress was completed, and no other
    _consistent(trainer)
    assert signal.getsignal(signal.SIGINT) is before
    # a second Ctrl-C while the first waits for its step stops at once
    loss.at, loss.trip = 9, lambda: [signal.raise_signal(signal.SIGINT) for _ in range(2)]
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(progress=False)
    assert trainer.step_count == 8
    _consistent(trainer)
    trainer.fit(progress=False)
    assert_same(trainer.state_dict(), reference.state_dict())


def test_fit_trains_to_the_requested_total(two_nets):
    trainer, _ = _trainer(two_nets)
    trainer.fit(epochs=2, progress=False)
    assert trainer.step_count == 2 * STEPS_PER_EPOCH
    trainer.fit(epochs=2, progress=False)  # already there
    assert trainer.step_count == 2 * STEPS_PER_EPOCH
    trainer.fit(progress=False)  # the trainer's own epochs
    reference, _ = _trainer(two_nets)
    reference.fit(progress=False)
    assert_same(trainer.state_dict(), reference.state_dict())
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit(epochs=0)


def test_save_and_load_round_trip_exactly(two_nets, tmp_path):
    for optimizer in ("sgd", "adam"):
        trainer, _ = _trainer(two_nets, optimizer, weight_decay=1e-3)
        for _ in range(7):
            trainer.step()
        path = trainer.save(tmp_path / f"{optimizer}.pt")
        again, _ = _trainer(two_nets, optimizer)
        again.load(path)
        assert_same(again.state_dict(), trainer.state_dict())
        trainer.fit(progress=False)
        again.fit(progress=False)
        assert_same(again.state_dict(), trainer.state_dict())


def test_dropout_draws_are_saved_rolled_back_and_leave_the_global_stream_alone(tmp_path):
    X = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    y = (X[:, 0] * X[:, 1] > 0).long()

    def net(seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Dropout(0.3), nn.Linear(32, 2))

    a, b = net(0), net(1)

    def trainer():
        loss = _TrippedLoss()
        ls = Landscape(a, loss, (X, y))
        curve = BezierCurve(a, b)
        return CurveTrainer(ls, curve, epochs=2, batch_size=50, seed=3), loss

    torch.manual_seed(123)
    reference, _ = trainer()
    reference.fit(progress=False)
    # another run with another global seed: the same, and the global stream untouched
    torch.manual_seed(456)
    before = torch.get_rng_state()
    first, loss = trainer()
    loss.at, loss.trip = 4, _interrupt  # after the forward pass has drawn its masks
    with pytest.raises(KeyboardInterrupt):
        first.fit(progress=False)
    assert first.step_count == 3
    assert torch.equal(torch.get_rng_state(), before)
    first.save(tmp_path / "dropout.pt")
    torch.rand(10)  # the global stream moves on; the trainer's does not
    resumed, _ = trainer()
    resumed.load(tmp_path / "dropout.pt")
    resumed.fit(progress=False)
    assert_same(resumed.state_dict(), reference.state_dict())
    # the masks are random: a trainer seeded differently takes other steps
    other = CurveTrainer(Landscape(a, nn.CrossEntropyLoss(), (X, y)), BezierCurve(a, b),
                         epochs=1, batch_size=300, seed=3)  # fmt: skip
    other.net_random = type(other.net_random)(99, torch.device("cpu"))
    same = CurveTrainer(Landscape(a, nn.CrossEntropyLoss(), (X, y)), BezierCurve(a, b),
                        epochs=1, batch_size=300, seed=3)  # fmt: skip
    other.fit(progress=False)
    same.fit(progress=False)
    assert other.history["loss"] != same.history["loss"]


class _Payload:
    """Unpickling this creates the file at ``path``: code run by loading."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_file_with_code_in_it_is_refused_unrun(two_nets, tmp_path):
    trainer, _ = _trainer(two_nets)
    trainer.step()
    target = tmp_path / "created-by-loading"
    state = trainer.state_dict()
    state["history"]["note"] = _Payload(target)
    torch.save(state, tmp_path / "hostile.pt")
    before = trainer.state_dict()
    with pytest.raises(ValueError, match="hostile.pt"):
        trainer.load(tmp_path / "hostile.pt")
    assert not target.exists()
    assert_same(trainer.state_dict(), before)  # nothing was loaded
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a CurveTrainer state"):
        trainer.load(tmp_path / "other.pt")
