"""Losses that the package's tools recognise, beyond torch's own.

:class:`SumSquaredError` is the cost of the classic two-weight teaching
picture; ``record_trajectory`` knows its derivative in closed form
(:mod:`~landscape_widgets.core.partial_descent`). It is offered to users as
``landscape_widgets.models.SumSquaredError``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SumSquaredError"]


class SumSquaredError(nn.Module):
    """Squared error summed over the outputs, averaged over the samples, times ``factor``.

    ``factor * mean_n sum_k (out[n, k] - target[n, k])**2``: ``nn.MSELoss``
    times the number of outputs. This is the cost of the two-weight MNIST
    article (HB-* in ``FIGURES.md``), on one-hot targets. That article's
    descent uses the gradient without the factor 2 of the square, i.e. the
    gradient of ``SumSquaredError(0.5)``, with learning rate 10.

    Examples
    --------
    >>> out, target = torch.tensor([[0.5, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> float(SumSquaredError()(out, target))  # ((0.25 + 0) + (1 + 0)) / 2
    0.625
    """

    def __init__(self, factor: float = 1.0):
        super().__init__()
        if not math.isfinite(factor) or factor <= 0:
            raise ValueError(f"factor must be a finite number > 0, got {factor!r}")
        self.factor = float(factor)

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if outputs.shape != targets.shape or outputs.dim() < 1:
            raise ValueError(
                f"outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)} must have "
                "the same shape, samples first (one-hot targets for class labels)"
            )
        total = F.mse_loss(outputs, targets, reduction="sum")
        return total * (self.factor / len(outputs))

    def extra_repr(self) -> str:
        return f"factor={self.factor}"
