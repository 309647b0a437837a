"""Ensemble members: flat weights with their buffers, and how well they predict.

An :class:`EnsembleRun` holds the networks one training run produced (see
:mod:`landscape_widgets.ensembles`); :func:`load_member` writes one into a
model; :func:`ensemble_accuracy` measures each member and the
softmax-averaged prediction ensemble of the first k members, k = 1..M, and
:func:`accuracy_table` prints the numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, TensorDataset

from .data import materialize, resolve_device
from .weights import ParamLayout, WeightsLike, as_vector

__all__ = [
    "EnsembleAccuracy",
    "EnsembleRun",
    "accuracy",
    "accuracy_table",
    "ensemble_accuracy",
    "has_batchnorm",
    "load_member",
    "member_buffers",
]


def has_batchnorm(model: nn.Module) -> bool:
    """Whether any submodule of ``model`` keeps BatchNorm running statistics."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@dataclass
class EnsembleRun:
    """What :func:`~landscape_widgets.ensembles.snapshot_ensemble`, ``fge`` and ``swa`` return.

    Attributes
    ----------
    method : str
        ``"snapshot"``, ``"fge"`` or ``"swa"``.
    snapshots : list of Tensor
        The members, flat float32 CPU weight vectors (``weights_of`` order).
    snapshot_steps : list of int
        The iteration after which each snapshot was taken.
    buffers : list of dict
        Each snapshot's buffers (BatchNorm running statistics) by name, as they
        were at the snapshot; empty dicts for a model without buffers.
    lrs, losses : list of float
        The learning rate each iteration used and its mini-batch loss.
    steps_per_epoch : int or None
        Mini-batches per pass over the data (None for an iterable dataset).
    swa_weights : Tensor or None
        SWA only: the average of ``snapshots``, from ``AveragedModel``.
    swa_buffers : dict or None
        SWA only: the average's buffers, BatchNorm statistics recomputed by
        ``update_bn`` on the training data.
    info : dict
        The settings of the run (schedule, rates, cycles, ...).
    """

    method: str
    snapshots: list[torch.Tensor] = field(default_factory=list)
    snapshot_steps: list[int] = field(default_factory=list)
    buffers: list[dict[str, torch.Tensor]] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    steps_per_epoch: int | None = None
    swa_weights: torch.Tensor | None = None
    swa_buffers: dict[str, torch.Tensor] | None = None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.snapshots)

    @property
    def steps(self) -> int:
        """Iterations taken."""
        return len(self.losses)

    def load(self, model: nn.Module, k: int | str) -> nn.Module:
        """Write member ``k`` (0-based) or the SWA average (``k="swa"``) into ``model``,
        parameters and buffers; returns ``model``."""
        if k == "swa":
            if self.swa_weights is None:
                raise ValueError(f"a {self.method} run has no SWA average")
            return load_member(model, self.swa_weights, self.swa_buffers)
        return load_member(model, self.snapshots[k], self.buffers[k])


@dataclass
class EnsembleAccuracy:
    """Accuracy of M members alone and of the ensembles of the first k of them.

    Attributes
    ----------
    name : str
        What the members are (the method), for tables and legends.
    members : ndarray, shape (M,)
        ``members[k - 1]``: accuracy of member k on its own.
    ensemble : ndarray, shape (M,)
        ``ensemble[k - 1]``: accuracy of the average of the softmax outputs
        of members 1..k (``ensemble[0] == members[0]``).
    """

    name: str
    members: np.ndarray
    ensemble: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """1..M, the number of members of each entry of ``ensemble``."""
        return np.arange(1, len(self.members) + 1)


def member_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of ``model``'s buffers (BatchNorm running statistics) by name, on the CPU."""
    return {name: b.detach().cpu().clone() for name, b in model.named_buffers()}


def load_member(
    model: nn.Module, weights: WeightsLike, buffers: Mapping[str, torch.Tensor] | None = None
) -> nn.Module:
    """Write flat ``weights`` (and ``buffers`` by name, if given) into ``model``."""
    layout = ParamLayout.of(model)
    vec = as_vector(weights, layout)
    with torch.no_grad():
        for p, chunk in zip(model.parameters(), layout.split(vec).values(), strict=True):
            p.copy_(chunk)
        if buffers is not None:
            own = dict(model.named_buffers())
            unknown = sorted(set(buffers) - set(own))
            if unknown:
                raise KeyError(f"the model has no buffers named {unknown}")
            for name, b in buffers.items():
                own[name].copy_(b)
    return model


def ensemble_accuracy(
    model: nn.Module,
    members: EnsembleRun | Sequence[WeightsLike],
    data,
    *,
    buffers: Sequence[Mapping[str, torch.Tensor]] | None = None,
    bn_data=None,
    batch_size: int = 1000,
    name: str | None = None,
    device="cpu",
) -> EnsembleAccuracy:
    """Accuracy of each member and of the prediction ensemble of the first k, k = 1..M.

    The ensemble of k members averages their softmax outputs and predicts
    the class with the largest average.

    Parameters
    ----------
    model : nn.Module
        The architecture; it is copied, never changed.
    members : EnsembleRun or sequence of weights
        A run (its snapshots, in order, with their buffers) or weight
        vectors, modules or state_dicts.
    data : (X, y) tensors, Dataset or DataLoader
        Test data with integer class labels.
    buffers : sequence of dict, optional
        Each member's buffers (BatchNorm statistics) by name.
    bn_data : (X, y) tensors, Dataset or DataLoader, optional
        Recompute each member's BatchNorm statistics on this data with
        ``update_bn`` (overrides ``buffers``). A network with BatchNorm needs
        one of ``buffers`` and ``bn_data``.
    batch_size : int
        Test samples per forward pass.
    name : str, optional
        For tables and plots; by default the run's method.
    """
    if isinstance(members, EnsembleRun):
        name = name or members.method
        buffers = members.buffers if buffers is None else buffers
        members = members.snapshots
    members = list(members)
    if not members:
        raise ValueError("there are no members to evaluate")
    if buffers is not None and len(buffers) != len(members):
        raise ValueError(f"{len(buffers)} sets of buffers for {len(members)} members")
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be an integer >= 1, not {batch_size!r}")
    layout = ParamLayout.of(model)
    vectors = [as_vector(m, layout) for m in members]
    device = resolve_device(device)
    net = copy.deepcopy(model).to(device).eval()
    has_bn = has_batchnorm(net)
    if has_bn and buffers is None and bn_data is None:
        raise ValueError(
            "the model has BatchNorm: pass each member's buffers= (kept with the snapshots) "
            "or bn_data= (training data to recompute the statistics on)"
        )
    bn_loader = None
    if has_bn and bn_data is not None:
        bn_loader = DataLoader(TensorDataset(*materialize(bn_data, None, 0)), batch_size)
    X, y = materialize(data, None, 0)
    if y.is_floating_point() or y.dim() != 1:
        raise ValueError("accuracy needs integer class labels, one per sample")
    X, y = X.to(device), y.to(device)
    total = None
    single, together = [], []
    with torch.no_grad():
        for k, vec in enumerate(vectors):
            load_member(net, vec, None if buffers is None or bn_loader else buffers[k])
            if bn_loader is not None:
                update_bn(bn_loader, net, device=device)
            probs = torch.cat(
                [
                    net(X[s : s + batch_size]).double().softmax(-1)
                    for s in range(0, len(X), batch_size)
                ]
            )
            total = probs if total is None else total + probs
            single.append(float((probs.argmax(-1) == y).double().mean()))
            together.append(float((total.argmax(-1) == y).double().mean()))
    return EnsembleAccuracy(name or "ensemble", np.array(single), np.array(together))


def accuracy(
    model: nn.Module,
    weights: WeightsLike,
    data,
    *,
    buffers: Mapping[str, torch.Tensor] | None = None,
    bn_data=None,
    device="cpu",
) -> float:
    """Accuracy of one network at ``weights`` (the SWA average, say) on ``data``."""
    acc = ensemble_accuracy(
        model,
        [weights],
        data,
        buffers=None if buffers is None else [buffers],
        bn_data=bn_data,
        device=device,
    )
    return float(acc.members[0])


def accuracy_table(
    results: Iterable[EnsembleAccuracy], singles: Mapping[str, float] | None = None
) -> str:
    """A plain-text table: for each method, each member's accuracy and the accuracy of
    the ensemble of the first k members, by k; then single networks (``singles``,
    e.g. ``{"SWA average": 0.93}``) one per row."""
    results = list(results)
    width = max([len(r.members) for r in results] + [1])
    names = [f"{r.name}: member k" for r in results] + list(singles or {})
    label = max([len(n) for n in names] + [6]) + 2
    head = " " * label + "".join(f"{f'k={k}':>7}" for k in range(1, width + 1))
    rows = [head, "-" * len(head)]
    for r in results:
        for what, values in (("member k", r.members), ("first k", r.ensemble)):
            cells = "".join(f"{v:7.3f}" for v in values)
            rows.append(f"{r.name + ': ' + what:<{label}}{cells}")
    for n, v in (singles or {}).items():
        rows.append(f"{n:<{label}}{v:7.3f}")
    return "\n".join(rows)
