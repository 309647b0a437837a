"""A small, deterministic training loop that records the path through weight space.

:func:`train` is deliberately plain (mini-batch gradient steps, one optimizer,
no schedule) because its job in this package is to produce the trained
networks and optimizer trajectories that the landscape tools look at: the end
points of a plane or a curve, and the path whose principal components give the
PCA plane of Li et al. 2018 (sec. 7).

:class:`StepLoop` is the one step loop (forward, loss, backward, update) that
:func:`train`, ``record_trajectory`` and the ensemble methods share; each
records what it needs in a hook, so all of them take identical steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .data import (
    DataLike,
    OptimizerLike,
    batch_pairs,
    cycle_batches,
    default_loss,
    make_loader,
    make_optimizer,
    resolve_device,
)
from .weights import weights_of

__all__ = ["StepLoop", "TrainResult", "train"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    weights : Tensor
        The final parameters as a flat float32 CPU vector (see ``weights_of``).
    losses : list of float
        The mini-batch loss of every optimisation step, in order.
    trajectory : list of Tensor
        Flat weight vectors recorded every ``record_every`` steps, including
        the start (step 0) and the end; empty when nothing was recorded.
    trajectory_steps : list of int
        The step at which each entry of ``trajectory`` was taken.
    """

    weights: torch.Tensor
    losses: list[float] = field(default_factory=list)
    trajectory: list[torch.Tensor] = field(default_factory=list)
    trajectory_steps: list[int] = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Number of optimisation steps taken."""
        return len(self.losses)


@dataclass
class StepLoop:
    """The training-step loop of :func:`train`, ``record_trajectory`` and the ensembles.

    Each step takes the next ``(inputs, targets)`` batch, computes the loss of
    ``forward(inputs)``, zeroes the gradients, runs the backward pass and the
    optimizer step. What a caller keeps (losses, weights, rates, snapshots)
    and what it changes between steps (a learning-rate schedule) happen in
    the ``on_step`` hook of :meth:`run`.

    Attributes
    ----------
    model : nn.Module
        In train mode during a run; its mode is restored afterwards.
    optimizer : torch.optim.Optimizer
    device : torch.device
        Where the batches go.
    seed : int
        Seeds the global generator (dropout) inside a fork of the RNG state,
        so the caller's random stream is left alone.
    loss_fn : callable, optional
        ``loss_fn(outputs, targets)``; by default chosen from the first
        batch's targets (see :func:`~landscape_widgets.core.data.default_loss`).
    forward : callable, optional
        ``inputs -> outputs``; by default ``model`` itself.
    seed_global : bool
        Whether to seed the global generator at all: the generator is shared
        by every thread, so a run on a background thread must leave it alone.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    seed: int
    loss_fn: LossFn | None = None
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None
    seed_global: bool = True

    def run(
        self,
        loader: Iterable,
        *,
        steps: int | None = None,
        epochs: int | None = None,
        on_step: Callable[[int, float], Mapping[str, object] | None] | None = None,
        stop: Callable[[], bool] | None = None,
        progress: bool = False,
        desc: str = "train",
    ) -> int:
        """Take steps on the batches of ``loader``; returns how many were taken.

        Parameters
        ----------
        loader : iterable of (inputs, targets)
            Usually a shuffling DataLoader.
        steps, epochs : int
            The run's length, exactly one of them: ``steps`` steps, passing
            over the loader as often as that takes, or ``epochs`` whole passes.
        on_step : callable, optional
            ``on_step(step, loss)`` after each update, with the step's number
            (from 1) and its mini-batch loss (taken before the update). A
            mapping it returns is shown beside the progress bar.
        stop : callable, optional
            Checked before every step; the run ends when it returns True.
        progress : bool
            Show a ``tqdm`` progress bar labelled ``desc``.
        """
        if (steps is None) == (epochs is None):
            raise ValueError("give the run's length as exactly one of steps= and epochs=")
        epoch = 0

        def passes():
            nonlocal epoch
            for _ in range(epochs):
                epoch += 1
                yield from batch_pairs(loader)

        if steps is not None:
            batches, total = cycle_batches(loader), steps
        else:
            batches, total = passes(), _length(loader, epochs)
        model, device, loss_fn = self.model, self.device, self.loss_fn
        forward = model if self.forward is None else self.forward
        on_cuda = device.type == "cuda"
        was_training = model.training
        step = 0
        with torch.random.fork_rng(
            devices=[device] if on_cuda else [], device_type="cuda", enabled=self.seed_global
        ):
            if self.seed_global:
                if on_cuda:
                    torch.manual_seed(self.seed)
                else:  # leaves the caller's CUDA generators alone
                    torch.default_generator.manual_seed(self.seed)
            model.train()
            bar = tqdm(total=total, disable=not progress, desc=desc, unit="step")
            try:
                while steps is None or step < steps:
                    if stop is not None and stop():
                        break
                    batch = next(batches, None)
                    if batch is None:
                        break
                    inputs, targets = (t.to(device) for t in batch)
                    if loss_fn is None:
                        loss_fn = default_loss(targets)
                    loss = loss_fn(forward(inputs), targets)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                    step += 1
                    shown = {} if on_step is None else dict(on_step(step, loss.item()) or {})
                    if epochs is not None:
                        shown = {"epoch": epoch, **shown}
                    if shown:
                        bar.set_postfix(shown, refresh=False)
                    bar.update(1)
            finally:
                bar.close()
                model.train(was_training)
        if step == 0 and epochs:
            raise ValueError("data yielded no batches: there is nothing to train on")
        return step


def _length(loader: Iterable, epochs: int) -> int | None:
    """Steps in ``epochs`` passes over ``loader`` (None when it has no length)."""
    try:
        return epochs * len(loader)
    except TypeError:  # an iterable dataset has no length
        return None


def train(
    model: nn.Module,
    data: DataLike,
    epochs: int = 10,
    optimizer: OptimizerLike = "sgd",
    lr: float | None = None,
    batch_size: int = 64,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    record_every: int | None = None,
    progress: bool = True,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train ``model`` in place with mini-batch gradient steps.

    Parameters
    ----------
    model : nn.Module
        The network; it is moved to ``device`` and updated in place, and its
        train/eval mode is restored afterwards.
    data : (X, y) tensors, Dataset or DataLoader
        Tensors and datasets are batched with ``batch_size`` and reshuffled
        every epoch with a generator seeded by ``seed``; a DataLoader is used
        as it is.
    epochs : int
        Passes over the data.
    optimizer : str or callable
        "sgd", "momentum" (SGD with momentum 0.9), "adam", "rmsprop", or a
        callable taking the parameters and returning a ``torch.optim``
        optimizer (then ``lr`` and ``weight_decay`` must be left unset).
    lr : float, optional
        Learning rate; by default 0.1 for "sgd", 0.05 for "momentum", 1e-3 for
        "adam" and "rmsprop".
    batch_size : int
        Mini-batch size (ignored for a DataLoader).
    loss_fn : callable, optional
        ``loss_fn(output, target)``; by default ``nn.CrossEntropyLoss`` for
        integer targets and ``nn.MSELoss`` for float targets.
    weight_decay : float
        L2 penalty passed to the optimizer.
    seed : int
        Seeds the shuffling and any randomness inside the model (dropout);
        the global RNG state is restored afterwards.
    record_every : int, optional
        Record the flat weights every this many steps, plus the start and
        the end, into ``TrainResult.trajectory``.
    progress : bool
        Show a ``tqdm`` progress bar.
    device : str or torch.device
        Where to train ("cpu", "cuda", "auto", ...).

    Returns
    -------
    TrainResult
        Final weights, per-step losses and the recorded trajectory.

    Examples
    --------
    >>> from landscape_widgets.datasets import spirals
    >>> from landscape_widgets.models import small_mlp
    >>> _ = torch.manual_seed(0)
    >>> net = small_mlp()
    >>> result = train(net, spirals(256), epochs=2, batch_size=64, record_every=4, progress=False)
    >>> len(result.losses), len(result.trajectory)
    (8, 3)
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if record_every is not None and (int(record_every) != record_every or record_every < 1):
        raise ValueError(f"record_every must be a positive integer or None, got {record_every!r}")
    epochs, batch_size = int(epochs), int(batch_size)
    loader = make_loader(data, batch_size, seed)
    device = resolve_device(device)
    model.to(device)
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    result = TrainResult(weights=weights_of(model))
    if record_every is not None:
        result.trajectory.append(result.weights.clone())
        result.trajectory_steps.append(0)

    def record(step: int, loss: float) -> dict:
        result.losses.append(loss)
        if record_every is not None and step % record_every == 0:
            result.trajectory.append(weights_of(model))
            result.trajectory_steps.append(step)
        return {"loss": f"{loss:.4g}"}

    loop = StepLoop(model, opt, device, seed, loss_fn)
    step = loop.run(loader, epochs=epochs, on_step=record, progress=progress)
    result.weights = weights_of(model)
    if record_every is not None and result.trajectory_steps[-1] != step:
        result.trajectory.append(result.weights.clone())
        result.trajectory_steps.append(step)
    return result
