"""Training a curve between two networks: minimise E_{t~U[0,1]} L(phi(t)).

One t is drawn per mini-batch (Garipov et al. 2018, sec. 3.2). ``phi(t)`` is
linear in the curve's points, ``phi(t) = sum_k c_k(t) p_k``, so the gradient
of the batch loss with respect to control point k is ``c_k(t) * g`` where g is
the ordinary weight gradient of the network at ``phi(t)``. The trainer writes
``phi(t)`` into a private network whose parameters and gradients are views
into two flat buffers, runs a plain forward and backward pass, and hands
``c_k(t) * g`` to the optimizer: a step costs one plain training step plus a
few vector operations, and only the control points move. A step is all or
nothing, so a run interrupted and continued is bitwise the uninterrupted one.

Over 500 lines because a step is atomic: the roll-back, the deferred Ctrl-C
and the bitwise save and load sit beside the step they guard.
"""

from __future__ import annotations

import contextlib
import copy
import math
import pickle
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .curves import BezierCurve, PolyChain, curve_from_state
from .data import materialize
from .landscape import Landscape
from .results import Profile

_OPTIMIZERS = ("sgd", "adam")
_DECAY_ON = ("curve", "controls")
_FORMAT = "landscape_widgets.CurveTrainer/2"
_STATE_KEYS = ("curve", "optimizer", "generator", "step_count", "epoch", "order", "pos", "history")


class CurveTrainer:
    """Trains the control points of a curve on a landscape's model and loss.

    Parameters
    ----------
    landscape : Landscape
        Gives the network, the loss and (unless ``data`` is given) the
        training data: all of the data the landscape was made from, not only
        its evaluation subset.
    curve : BezierCurve or PolyChain
    optimizer : "sgd" (with momentum 0.9) or "adam"
    lr : float
        Default 0.05 for SGD, 0.01 for Adam.
    epochs : int
        The total number of passes over the data that :meth:`fit` trains
        to (default 20).
    batch_size : int
    weight_decay : float
        L2 regularisation strength (default 0).
    decay_on : "curve" or "controls"
        Where ``weight_decay`` acts. ``"curve"`` (the default, as in the
        dnn-mode-connectivity code of Garipov et al. 2018) adds the penalty
        ``0.5 * weight_decay * |phi(t)|^2`` on the point of the curve at each
        step's t, over all of the network's weights, and gives the optimizer
        no weight decay. ``"controls"`` is the optimizer's own weight decay
        on the control points (``torch.optim.SGD`` / ``Adam``
        ``weight_decay``). ``history["loss"]`` is the data loss either way,
        without the penalty.
    seed : int
        Seeds the batch order and the t drawn per batch.
    data : (X, y), Dataset or DataLoader, optional
        Training data instead of the landscape's.
    record_every : int
        Keep the control points every this many steps in ``history``.

    Long (~390 lines) because ``step``'s roll-back and ``fit``'s deferred interrupt
    belong to the class whose state they keep whole.

    Examples
    --------
    >>> trainer = CurveTrainer(landscape, BezierCurve(net1, net2), epochs=30)  # doctest: +SKIP
    >>> trainer.fit()  # doctest: +SKIP
    >>> trainer.profile().barrier()  # doctest: +SKIP
    """

    def __init__(
        self,
        landscape,
        curve: BezierCurve | PolyChain,
        optimizer: str = "sgd",
        lr: float | None = None,
        epochs: int = 20,
        batch_size: int = 128,
        weight_decay: float = 0.0,
        decay_on: str = "curve",
        seed: int = 0,
        data=None,
        record_every: int = 10,
    ):
        if not isinstance(curve, (BezierCurve, PolyChain)):
            raise TypeError(f"curve must be a BezierCurve or PolyChain, not {type(curve).__name__}")
        if curve.numel != landscape.layout.numel:
            raise ValueError(
                f"the curve has {curve.numel} weights, the model {landscape.layout.numel}"
            )
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, not {optimizer!r}")
        for name, value in (
            ("epochs", epochs),
            ("batch_size", batch_size),
            ("record_every", record_every),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        if not isinstance(weight_decay, (int, float)) or not 0 <= weight_decay < math.inf:
            raise ValueError(f"weight_decay must be a finite number >= 0, not {weight_decay!r}")
        if decay_on not in _DECAY_ON:
            raise ValueError(f"decay_on must be one of {_DECAY_ON}, not {decay_on!r}")
        self.weight_decay, self.decay_on = float(weight_decay), decay_on
        self.landscape = landscape
        self.curve = curve.to(landscape.device, landscape.dtype)
        self.epochs, self.batch_size, self.record_every = epochs, batch_size, record_every
        X, y = materialize(landscape.data if data is None else data, None, seed)
        self.X = X.to(landscape.device, landscape.dtype)
        self.y = y.to(landscape.device, landscape.dtype if y.is_floating_point() else None)
        # a private network: training-mode BatchNorm must not touch the landscape's statistics
        self.net = copy.deepcopy(landscape.net).to(landscape.device, landscape.dtype).train()
        self._weights, self._grads = _flat_parameters(self.net, landscape.layout)
        # evaluation landscapes by (id of the data, BN recompute), see evaluator(); each
        # keeps its data alive, so that no other object can take that id
        self._twins: dict = {}
        lr = lr if lr is not None else (0.05 if optimizer == "sgd" else 0.01)
        params = [self.curve.control]
        wd = self.weight_decay if decay_on == "controls" else 0.0
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
        else:
            self.optimizer = torch.optim.Adam(params, lr=lr, weight_decay=wd)
        self.generator = torch.Generator().manual_seed(seed)
        # dropout and other random layers draw from a stream of the trainer's own
        self.net_random = NetRandom(seed, landscape.device)
        self.step_count = 0
        self.epoch = 0  # completed epochs
        self._order: torch.Tensor | None = None
        self._pos = 0
        self.history: dict[str, list] = {
            "step": [],
            "t": [],
            "loss": [],
            "control_step": [],
            "control": [],
        }
        self._record_control()

    # ------------------------------------------------------------ training
    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._order is None or self._pos >= len(self.X):
            if self._order is not None:
                self.epoch += 1
            self._order = torch.randperm(len(self.X), generator=self.generator)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size].to(self.X.device)
        self._pos += self.batch_size
        return self.X[idx], self.y[idx]

    def step(self) -> float:
        """One mini-batch at one t ~ U[0, 1]; returns its loss.

        All or nothing: a step that raises (Ctrl-C, an error in the loss
        function or a hook) leaves the control points, the optimizer, the
        random streams and the history as they were before it, so that the
        next step draws the same batch and the same t.
        """
        before = self._mark()
        try:
            return self._step()
        except BaseException:
            self._roll_back(before)
            raise

    def _step(self) -> float:
        Xb, yb = self._batch()
        t = float(torch.rand((), generator=self.generator))
        curve, grads = self.curve, self._grads
        with torch.no_grad():
            c = curve.write_at(t, self._weights)
        grads.zero_()
        with self.net_random.drawing():
            loss = self.landscape.loss_fn(self.net(Xb), yb)
            loss.backward()
        with torch.no_grad():
            if self.decay_on == "curve" and self.weight_decay:
                # d/dw of 0.5 * wd * |w|^2 at w = phi(t), the weights the net holds
                grads.add_(self._weights, alpha=self.weight_decay)
            inner = torch.tensor(c[1:-1], dtype=grads.dtype, device=grads.device)
            curve.control.grad = inner[:, None] * grads
        self.optimizer.step()
        self.step_count += 1
        value = loss.detach().item()
        self.history["step"].append(self.step_count)
        self.history["t"].append(t)
        self.history["loss"].append(value)
        if self.step_count % self.record_every == 0:
            self._record_control()
        return value

    def _mark(self) -> tuple:
        """What a step may change, to undo it (the optimizer's tensors are copied)."""
        control = self.curve.control
        opt = self.optimizer.state.get(control, {})
        return (
            (self.generator.get_state(), self.net_random.state()),
            (self._order, self._pos, self.epoch, self.step_count),
            {k: len(v) for k, v in self.history.items()},
            control.detach().clone(),
            {k: v.clone() if torch.is_tensor(v) else v for k, v in opt.items()},
        )

    def _roll_back(self, before: tuple) -> None:
        (generator, net_random), position, lengths, control, opt = before
        self.generator.set_state(generator)
        self.net_random.set_state(net_random)
        self._order, self._pos, self.epoch, self.step_count = position
        for key, n in lengths.items():
            del self.history[key][n:]
        with torch.no_grad():
            self.curve.control.copy_(control)
        if opt:
            self.optimizer.state[self.curve.control] = opt
        else:
            self.optimizer.state.pop(self.curve.control, None)

    def fit(self, epochs: int | None = None, progress: bool = True, checkpoint=None):
        """Train until ``epochs`` epochs in all are done (default: the trainer's ``epochs``).

        The count includes the steps already taken: ``fit(epochs=30)`` after
        10 epochs trains 20 more, a call after an interruption goes on to the
        same total, and a call with nothing left to do returns at once.

        Ctrl-C (the kernel's stop button) finishes the step in progress (a
        second Ctrl-C abandons and undoes it), saves to ``checkpoint`` if
        given, and raises the KeyboardInterrupt again, so that a notebook
        cell shows it stopped. Calling ``fit`` again continues bitwise as an
        uninterrupted run with the same seed would have.

        Parameters
        ----------
        epochs : int, optional
            The total to train to.
        progress : bool
            Show a progress bar.
        checkpoint : path, optional
            Where to :meth:`save` the state when ``fit`` ends, whether it
            finished, was interrupted or failed.

        Returns
        -------
        CurveTrainer
            This trainer.
        """
        epochs = self.epochs if epochs is None else epochs
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, not {epochs!r}")
        total = epochs * math.ceil(len(self.X) / self.batch_size)
        bar = None
        if progress:
            done = min(self.step_count, total)
            bar = tqdm(total=total, initial=done, desc="curve", unit="step", leave=False)
        try:
            with _DeferredInterrupt() as interrupt:
                while not interrupt.pending and self.step_count < total:
                    loss = self.step()
                    if bar is not None:
                        bar.update(1)
                        if self.step_count % 10 == 0:
                            bar.set_postfix(loss=f"{loss:.4f}")
            if interrupt.pending:
                raise KeyboardInterrupt
        finally:
            if bar is not None:
                bar.close()
            if checkpoint is not None:
                self.save(checkpoint)
        return self

    def _record_control(self) -> None:
        self.history["control_step"].append(self.step_count)
        self.history["control"].append(self.curve.control.detach().cpu().clone())

    # ------------------------------------------------------------ measuring
    def profile(self, n: int = 21, data=None) -> Profile:
        """Loss and metrics along the curve at n evenly spaced t.

        On the landscape's evaluation data, or on ``data`` ((X, y), a
        Dataset or a DataLoader: the test set, say).

        For a network with BatchNorm the statistics are recomputed at each t
        on the training data (a point on a curve has none of its own), as
        ``torch.optim.swa_utils.update_bn`` does; the provenance says so.
        """
        prof = curve_profile(self.evaluator(data), self.curve, n)
        prof.provenance["steps"] = self.step_count
        return prof

    def ensemble_profile(self, n: int = 21, data=None) -> Profile:
        """Accuracy and loss of the two-member ensemble {w1, phi(t)} against t.

        Members' softmax outputs are averaged. At t = 1 this is the ensemble
        of w1 with w2; along a trained curve, phi(t) for t in the middle is a
        different network from w1 at low loss, so the ensemble can beat it
        (Garipov et al. 2018, Figure 8). ``loss`` is the ensemble's negative
        log-likelihood.
        """
        ls = self.evaluator(data)
        if ls.targets is None:
            raise ValueError("an ensemble profile needs class-label targets")
        t = np.linspace(0.0, 1.0, n)
        with torch.no_grad():
            ws = self.curve.at(torch.as_tensor(t, dtype=self.curve.w1.dtype))
            p1 = ls.predict(self.curve.w1, ls.X).double().softmax(-1)
            targets = ls.targets.cpu()
            acc, nll = [], []
            for w in ws:
                p = (p1 + ls.predict(w, ls.X).double().softmax(-1)) / 2
                acc.append(float((p.argmax(-1) == targets).double().mean()))
                picked = p.gather(1, targets[:, None]).clamp_min(1e-300)
                nll.append(float(-picked.log().mean()))
        return Profile(
            t=t,
            loss=np.array(nll),
            metrics={"accuracy": np.array(acc)},
            anchors={"w1": 0.0, "w2": 1.0},
            provenance={
                "kind": f"ensemble of w1 and {self.curve.kind}(t)",
                "steps": self.step_count,
                "bn": ls.bn if ls.has_bn else "none",
            },
        )

    def evaluator(self, data=None) -> Landscape:
        """The landscape that measures the curve: the trainer's own, or a twin of it.

        A twin evaluates on ``data`` instead of the landscape's evaluation
        set, and, for a network with BatchNorm, recomputes the statistics at
        each point on the training data (a point on a curve has none of its
        own). A twin is made once per data object and kept.
        """
        ls = self.landscape
        recompute = ls.has_bn and ls.bn != "recompute"
        if data is None and not recompute:
            return ls
        key = (id(data), recompute)
        twins = self._twins
        if key not in twins:
            twins[key] = (
                data,
                Landscape(
                    ls.net,
                    ls.loss_fn,
                    (ls.X, ls.y) if data is None else data,
                    subset=None,
                    metrics=ls.metrics,
                    bn="recompute" if ls.has_bn else "keep",
                    bn_data=(self.X, self.y),
                    device=ls.device,
                    dtype=ls.dtype,
                ),
            )
        return twins[key][1]

    # ------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, Any]:
        """The training state, made of tensors, numbers, strings, lists and dicts only."""
        return {
            "format": _FORMAT,
            "curve": self.curve.state(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "net_random": self.net_random.state(),
            "step_count": self.step_count,
            "epoch": self.epoch,
            "order": self._order,
            "pos": self._pos,
            "weight_decay": self.weight_decay,
            "decay_on": self.decay_on,
            "history": {
                key: [v.clone() if torch.is_tensor(v) else v for v in values]
                for key, values in self.history.items()
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (the curve must match this trainer's)."""
        missing = [k for k in _STATE_KEYS if k not in state] if isinstance(state, dict) else "all"
        if missing:
            raise ValueError(f"not a CurveTrainer state (missing: {missing})")
        saved = curve_from_state(state["curve"])
        if type(saved) is not type(self.curve) or saved.control.shape != self.curve.control.shape:
            raise ValueError("the saved curve does not match this trainer's curve")
        self.optimizer.load_state_dict(state["optimizer"])
        with torch.no_grad():
            self.curve.control.copy_(saved.control)
        self.generator.set_state(state["generator"])
        if "net_random" in state:  # files from before it start the stream afresh
            self.net_random.set_state(state["net_random"])
        self.step_count, self.epoch = state["step_count"], state["epoch"]
        self._order, self._pos = state["order"], state["pos"]
        # a file from before decay_on had only the optimizer's weight decay
        self.decay_on = state.get("decay_on", "controls")
        decay = self.optimizer.param_groups[0]["weight_decay"]
        self.weight_decay = state.get("weight_decay", decay)
        self.history = {key: list(values) for key, values in state["history"].items()}

    def save(self, path) -> Path:
        """Save the training state (curve, optimizer, RNG, history) to ``path``."""
        path = Path(path)
        torch.save(self.state_dict(), path)
        return path

    def load(self, path) -> CurveTrainer:
        """Load a state saved with :meth:`save` into this trainer.

        The file is read with ``torch.load(weights_only=True)``: a file that
        holds anything but tensors, numbers, strings and containers of them
        (which unpickling could turn into running code) is refused with a
        ValueError, and nothing of it is loaded.
        """
        path = Path(path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"{path} holds objects other than tensors, numbers and strings, so it is "
                "not a CurveTrainer state and is not loaded (unpickling them could run code)"
            ) from err
        self.load_state_dict(state)
        return self


class _DeferredInterrupt:
    """Within it, a first Ctrl-C sets ``pending`` instead of raising; a second raises.

    Only in the main thread (signals go there) and over Python's default
    handler: a handler someone else installed is left alone.
    """

    def __enter__(self) -> _DeferredInterrupt:
        self.pending = False
        self._installed = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        if self._installed:
            signal.signal(signal.SIGINT, self._on_signal)
        return self

    def _on_signal(self, signum, frame) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


class NetRandom:
    """A private random stream for the network's own draws (dropout and the like).

    :meth:`drawing` lends the global generators this stream's state for a
    forward and backward pass and keeps what they leave, so the draws are
    saved, restored and rolled back with the trainer, and the caller's global
    random state is left as it was.
    """

    def __init__(self, seed: int, device: torch.device):
        self.cuda = device if device.type == "cuda" else None
        with torch.random.fork_rng(devices=[self.cuda] if self.cuda else []):
            torch.manual_seed(seed)
            self._state = self._read()

    def _read(self) -> dict[str, torch.Tensor]:
        state = {"cpu": torch.get_rng_state()}
        if self.cuda is not None:
            state["cuda"] = torch.cuda.get_rng_state(self.cuda)
        return state

    def state(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self._state.items()}

    def set_state(self, state: dict[str, torch.Tensor]) -> None:
        self._state = {k: v.clone() for k, v in state.items()}

    @contextlib.contextmanager
    def drawing(self):
        with torch.random.fork_rng(devices=[self.cuda] if self.cuda else []):
            torch.set_rng_state(self._state["cpu"])
            if self.cuda is not None and "cuda" in self._state:
                torch.cuda.set_rng_state(self._state["cuda"], self.cuda)
            yield
            self._state = self._read()


def _flat_parameters(net: nn.Module, layout) -> tuple[torch.Tensor, torch.Tensor]:
    """Make ``net``'s parameters and their gradients views into two flat vectors.

    Every parameter requires a gradient (the curve moves frozen layers too);
    gradients accumulate in place into the views, so the second vector is
    the flat weight gradient after a backward pass. A parameter shared by
    several modules is one object and so one view.
    """
    first = next(iter(net.parameters()))
    weights = torch.zeros(layout.numel, dtype=first.dtype, device=first.device)
    grads = torch.zeros_like(weights)
    for name, p in net.named_parameters():
        cut = layout.slice(name)
        with torch.no_grad():
            weights[cut].copy_(p.reshape(-1))
        p.data = weights[cut].view(p.shape)
        p.requires_grad_(True)
        p.grad = grads[cut].view(p.shape)
    return weights, grads


def curve_profile(landscape, curve: BezierCurve | PolyChain, n: int = 21) -> Profile:
    """Loss and metrics at n evenly spaced t along a curve (its length in provenance)."""
    t = np.linspace(0.0, 1.0, n)
    values: dict[str, list] = {m: [] for m in landscape.metrics}
    with torch.no_grad():
        ws = curve.at(torch.as_tensor(t, dtype=curve.w1.dtype))
    for w in ws:
        for m, v in landscape.metrics_at(w).items():
            values[m].append(v)
    return Profile(
        t=t,
        loss=np.array(values["loss"]),
        metrics={m: np.array(v) for m, v in values.items() if m != "loss"},
        anchors={"w1": 0.0, "w2": 1.0},
        provenance={
            "kind": curve.kind,
            "bn": landscape.bn if landscape.has_bn else "none",
            "bn_statistics": landscape.bn_statistics,
            "length": curve.length(),
        },
    )


def segment_profile(landscape, w1, w2, n: int = 21) -> Profile:
    """The same along the straight segment from w1 to w2 (a curve left at its start)."""
    model = landscape.net if not isinstance(w1, nn.Module) else None
    prof = curve_profile(landscape, PolyChain(w1, w2, bends=1, model=model), n)
    prof.provenance["kind"] = "segment"
    return prof
