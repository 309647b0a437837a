"""Loss and accuracy of many points' outputs at once, against one fixed set of targets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["LOW_PRECISION", "METRICS", "Scoring", "plain_cross_entropy"]

METRICS = ("loss", "accuracy")

#: Evaluation dtypes whose outputs are scored in float32.
LOW_PRECISION = (torch.bfloat16, torch.float16)


def plain_cross_entropy(fn, y: torch.Tensor) -> bool:
    """Whether ``fn(outputs, y)`` is the plain mean cross-entropy over class labels
    ``y`` (no class weights, label smoothing or ignored labels), which the fast
    paths may compute themselves from the log-sum-exp of the outputs."""
    return (
        type(fn) is nn.CrossEntropyLoss
        and fn.weight is None
        and fn.label_smoothing == 0
        and fn.reduction == "mean"
        and not y.is_floating_point()
        and not bool((y == fn.ignore_index).any())
    )


class Scoring:
    """How a landscape scores network outputs against its evaluation targets.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss.
    y : Tensor
        The targets of the evaluation set.
    probe : Tensor
        The network's outputs on a few samples: they say whether ``y`` holds
        class labels.
    metrics : sequence of str or None
        Names from :data:`METRICS`; None picks accuracy when the targets are
        class labels or one-hot rows. ``"loss"`` is always computed.

    Attributes
    ----------
    names : tuple of str
        The metrics computed, ``"loss"`` first.
    targets : Tensor or None
        The class labels (integer targets, or the argmax of one-hot rows);
        None for regression.
    """

    def __init__(
        self,
        loss_fn: Callable,
        y: torch.Tensor,
        probe: torch.Tensor,
        metrics: Sequence[str] | None,
    ):
        self.loss_fn = loss_fn
        self.y = y
        self.targets = _class_targets(y, probe)
        self.names = _checked_names(metrics, self.targets is not None)
        fn = loss_fn
        # cross-entropy of many points at once, when it is the plain mean over
        # all targets (the targets are fixed, so this is decided once)
        self._ce_batched = plain_cross_entropy(fn, y)

    def batched(self, out: torch.Tensor, sl: slice = slice(None)) -> dict[str, torch.Tensor]:
        """Metrics of outputs ``(B, N, ...)`` for B points at once, each ``(B,)``.

        ``sl`` selects the N samples (a batch of the evaluation set) the
        outputs belong to.
        """
        y = self.y[sl]
        if out.dtype in LOW_PRECISION:
            out = out.float()
        res = {}
        fn = self.loss_fn
        if self._ce_batched and out.dim() == 3:
            lse = torch.logsumexp(out, dim=-1)  # (B, N)
            picked = out.gather(-1, y.view(1, -1, 1).expand(out.shape[0], -1, 1)).squeeze(-1)
            res["loss"] = (lse - picked).mean(dim=-1)
        elif type(fn) is nn.MSELoss and fn.reduction == "mean":
            res["loss"] = (out - y).pow(2).flatten(1).mean(dim=1)
        else:
            res["loss"] = torch.stack([fn(o, y) for o in out])
        if "accuracy" in self.names:
            res["accuracy"] = (out.argmax(dim=-1) == self.targets[sl]).to(out.dtype).mean(dim=-1)
        return res


def _class_targets(y: torch.Tensor, out: torch.Tensor) -> torch.Tensor | None:
    if not y.is_floating_point() and y.dim() == 1:
        return y if out.dim() == 2 and out.shape[1] > 1 else None
    if y.is_floating_point() and y.dim() == 2 and out.dim() == 2 and y.shape[1] == out.shape[1] > 1:
        return y.argmax(dim=1)
    return None


def _checked_names(metrics: Sequence[str] | None, has_classes: bool) -> tuple[str, ...]:
    if metrics is None:
        metrics = METRICS if has_classes else ("loss",)
    metrics = tuple(metrics)
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; available: 'loss', 'accuracy'")
    if "accuracy" in metrics and not has_classes:
        raise ValueError(
            "accuracy needs class-label targets (integers) or one-hot rows matching the "
            "outputs; pass metrics=('loss',) for regression"
        )
    if "loss" not in metrics:
        metrics = ("loss",) + metrics
    return metrics
