"""Data, devices and optimizers as the evaluator and the training loops take them.

Everything in the package that reads data accepts the same three forms,
``(X, y)`` tensors, a map-style ``Dataset`` or a ``DataLoader``:
:func:`materialize` turns them into a fixed, seeded evaluation set and
:func:`make_loader` into shuffled mini-batches. Optimizers are named by a
string or built by a factory (:func:`make_optimizer`), and devices by a name,
``"auto"`` or None (:func:`resolve_device`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = [
    "DEFAULT_LR",
    "DataLike",
    "OptimizerLike",
    "batch_pairs",
    "cycle_batches",
    "default_loss",
    "make_loader",
    "make_optimizer",
    "materialize",
    "resolve_device",
]

OptimizerLike = str | Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
DataLike = tuple | list | Dataset | DataLoader

# Learning rates used when `lr` is not given.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3, "rmsprop": 1e-3}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device``; None and ``"auto"`` pick CUDA when there is one."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _is_tensor_pair(data) -> bool:
    return (
        isinstance(data, (tuple, list))
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
    )


def materialize(data, subset: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded subset of ``data`` as two stacked tensors.

    Parameters
    ----------
    data : (X, y) tensors, map-style Dataset or DataLoader
        A DataLoader stands for its dataset; its batching and order are ignored.
    subset : int or None
        Number of samples to keep (all of them when None or at least the
        number there are). The kept samples stay in their original order.
    seed : int
        Seeds the choice of the subset.

    Returns
    -------
    X, y : Tensor
        The samples' inputs and targets, stacked along a new first axis.
    """
    if _is_tensor_pair(data):
        X, y = data
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
        n = len(X)
        getter = None
    else:
        if isinstance(data, DataLoader):
            data = data.dataset
        if not isinstance(data, Dataset) or not hasattr(data, "__len__"):
            raise TypeError(
                "data must be (X, y) tensors, a map-style Dataset or a DataLoader over one, "
                f"not {type(data).__name__}"
            )
        n = len(data)
        getter = data
    if n == 0:
        raise ValueError("data is empty: a landscape needs at least one sample")
    gen = torch.Generator().manual_seed(seed)
    # True would count as 1 sample: refused, as a flag was surely meant
    if subset is not None and (
        isinstance(subset, bool) or not isinstance(subset, numbers.Integral)
    ):
        raise TypeError(
            f"subset must be a whole number of samples or None (all of them), not {subset!r}"
        )
    if subset is not None and subset < n:
        if subset < 1:
            raise ValueError(f"subset must be a positive number of samples, got {subset}")
        idx = torch.randperm(n, generator=gen)[:subset].sort().values
    else:
        idx = torch.arange(n)
    if getter is None:
        return X[idx], y[idx]
    items = [getter[int(i)] for i in idx]
    X = torch.stack([torch.as_tensor(it[0]) for it in items])
    y = torch.as_tensor(np.asarray([np.asarray(it[1]) for it in items]))
    return X, y


def make_loader(data: DataLike, batch_size: int, seed: int) -> DataLoader:
    """A DataLoader over ``data``; tensors and datasets are shuffled with ``seed``.

    A DataLoader is returned as it is (its own batch size and order win).
    """
    if isinstance(data, DataLoader):
        if (
            isinstance(data.dataset, Dataset)
            and hasattr(data.dataset, "__len__")
            and len(data.dataset) == 0
        ):
            raise ValueError("the DataLoader's dataset is empty")
        return data
    if isinstance(data, (tuple, list)):
        if not _is_tensor_pair(data):
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


def batch_pairs(loader: Iterable) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over ``loader``, checking that every batch is an ``(inputs, targets)`` pair."""
    for batch in loader:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError("each batch must be an (inputs, targets) pair")
        yield batch


def cycle_batches(loader: Iterable) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(inputs, targets)`` batches without end: the loader reshuffles at each pass."""
    while True:
        empty = True
        for batch in batch_pairs(loader):
            empty = False
            yield batch
        if empty:
            raise ValueError("data yielded no batches: there is nothing to train on")


def make_optimizer(
    optimizer: OptimizerLike, params, lr: float | None, weight_decay: float
) -> torch.optim.Optimizer:
    """The optimizer named by ``optimizer``, or the one its factory builds over ``params``.

    Parameters
    ----------
    optimizer : str or callable
        "sgd", "momentum" (SGD with momentum 0.9), "adam", "rmsprop", or
        ``params -> torch.optim.Optimizer`` (then ``lr`` and ``weight_decay``
        must be left unset: the factory sets its own).
    params : iterable of Parameter
    lr : float or None
        Learning rate; None takes the name's entry in :data:`DEFAULT_LR`.
    weight_decay : float
        L2 penalty.
    """
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


def default_loss(y: torch.Tensor) -> nn.Module:
    """Cross-entropy for integer class labels, mean squared error for float targets."""
    return nn.MSELoss() if y.dtype.is_floating_point else nn.CrossEntropyLoss()
