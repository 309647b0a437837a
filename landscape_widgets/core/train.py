"""A small, deterministic training loop that records the path through weight space.

:func:`train` is deliberately plain (mini-batch gradient steps, one optimizer,
no schedule) because its job in this package is to produce the trained
networks and optimizer trajectories that the landscape tools look at: the end
points of a plane or a curve, and the path whose principal components give the
PCA plane of Li et al. 2018 (sec. 7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

from .weights import weights_of

__all__ = ["TrainResult", "train"]

OptimizerLike = str | Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
DataLike = tuple | list | Dataset | DataLoader

# Learning rates used when `lr` is not given.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3, "rmsprop": 1e-3}


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


def _resolve_device(device: str | torch.device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _make_loader(data: DataLike, batch_size: int, seed: int) -> DataLoader:
    """A DataLoader over ``data``; tensors and datasets are shuffled with ``seed``."""
    if isinstance(data, DataLoader):
        if (
            isinstance(data.dataset, Dataset)
            and hasattr(data.dataset, "__len__")
            and len(data.dataset) == 0
        ):
            raise ValueError("the DataLoader's dataset is empty")
        return data
    if isinstance(data, (tuple, list)):
        if len(data) != 2 or not all(isinstance(t, torch.Tensor) for t in data):
            raise TypeError("data given as a tuple must be (X, y), two tensors")
        X, y = data
        if X.dim() == 0 or y.dim() == 0:
            raise ValueError("X and y must have a leading sample dimension")
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
        data = TensorDataset(X, y)
    if not isinstance(data, Dataset):
        raise TypeError(
            f"data must be (X, y) tensors, a Dataset or a DataLoader, not {type(data).__name__}"
        )
    if hasattr(data, "__len__") and len(data) == 0:
        raise ValueError("data is empty: there is nothing to train on")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(data, batch_size=batch_size, shuffle=True, generator=generator)


def _cycle_batches(loader):
    """``(inputs, targets)`` batches without end: the loader reshuffles at each pass."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise TypeError("each batch must be an (inputs, targets) pair")
            yield batch
        if empty:
            raise ValueError("data yielded no batches: there is nothing to train on")


def _make_optimizer(
    optimizer: OptimizerLike, params, lr: float | None, weight_decay: float
) -> torch.optim.Optimizer:
    if callable(optimizer) and not isinstance(optimizer, str):
        if lr is not None or weight_decay:
            raise ValueError(
                "lr and weight_decay are not used with an optimizer factory; "
                "set them in the factory, e.g. functools.partial(torch.optim.SGD, lr=0.1)"
            )
        opt = optimizer(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(
                f"the optimizer factory returned a {type(opt).__name__}, "
                "not a torch.optim.Optimizer"
            )
        return opt
    if not isinstance(optimizer, str) or optimizer.lower() not in DEFAULT_LR:
        raise ValueError(
            f"optimizer must be one of {', '.join(map(repr, DEFAULT_LR))} or a callable "
            f"params -> torch.optim.Optimizer, got {optimizer!r}"
        )
    name = optimizer.lower()
    lr = DEFAULT_LR[name] if lr is None else lr
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)


def _default_loss(y: torch.Tensor) -> nn.Module:
    """Cross-entropy for integer class labels, mean squared error for float targets."""
    return nn.MSELoss() if y.dtype.is_floating_point else nn.CrossEntropyLoss()


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
    loader = _make_loader(data, int(batch_size), seed)
    device = _resolve_device(device)
    was_training = model.training
    model.to(device)
    opt = _make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    try:
        steps_per_epoch = len(loader)
    except TypeError:  # an iterable dataset has no length
        steps_per_epoch = None
    total = None if steps_per_epoch is None else int(epochs) * steps_per_epoch

    result = TrainResult(weights=weights_of(model))
    if record_every is not None:
        result.trajectory.append(result.weights.clone())
        result.trajectory_steps.append(0)

    # seed inside a fork of the RNG state, so the caller's random stream is left alone
    on_cuda = device.type == "cuda"
    with torch.random.fork_rng(devices=[device] if on_cuda else [], device_type="cuda"):
        torch.manual_seed(seed)
        model.train()
        bar = tqdm(total=total, disable=not progress, desc="train", unit="step")
        step = 0
        try:
            for epoch in range(int(epochs)):
                for batch in loader:
                    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                        raise TypeError("each batch must be an (inputs, targets) pair")
                    xb, yb = batch[0].to(device), batch[1].to(device)
                    if loss_fn is None:
                        loss_fn = _default_loss(yb)
                    loss = loss_fn(model(xb), yb)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    result.losses.append(loss.item())
                    if record_every is not None and step % record_every == 0:
                        result.trajectory.append(weights_of(model))
                        result.trajectory_steps.append(step)
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{result.losses[-1]:.4g}", refresh=False)
        finally:
            bar.close()
            model.train(was_training)
        if step == 0 and int(epochs) > 0:
            raise ValueError("data yielded no batches: there is nothing to train on")

    result.weights = weights_of(model)
    if record_every is not None and result.trajectory_steps[-1] != step:
        result.trajectory.append(result.weights.clone())
        result.trajectory_steps.append(step)
    return result
