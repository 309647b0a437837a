"""Ensembles from one training run: snapshot ensembles, FGE and SWA.

Three ways to get many good networks for the price of about one training run,
all built on cyclic or constant learning rates:

- :func:`snapshot_ensemble` (Huang et al. 2017): M cosine cycles over the run,
  each starting at a large rate that throws the network out of its basin and
  ending at a rate near zero where it settles; a snapshot at each cycle's end.
- :func:`fge` (fast geometric ensembling, Garipov et al. 2018): from a trained
  network, short triangular cycles between a high and a low rate; a snapshot
  at each cycle's middle, where the rate is lowest. The snapshots stay near
  one another, along the low-loss paths that connect optima.
- :func:`swa` (stochastic weight averaging, Izmailov et al. 2018): a constant
  (or cyclic) rate keeps SGD bouncing around a wide basin; the *average* of
  the weights it visits is one network near the basin's centre, built with
  ``torch.optim.swa_utils`` (``AveragedModel``, ``SWALR``, ``update_bn``).

Each returns an :class:`EnsembleRun`. :func:`ensemble_accuracy` measures each
member and the softmax-averaged prediction ensemble of the first k members,
k = 1..M; :func:`accuracy_table` prints the numbers.

BatchNorm: a snapshot's running statistics are kept with it
(``EnsembleRun.buffers``). They were gathered while SGD was at a low rate
just before the snapshot, so they describe it well and cost nothing.
``ensemble_accuracy(..., bn_data=...)`` recomputes each member's statistics
instead (``update_bn``), the correct choice for a point that was never
trained at, such as the SWA average; :func:`swa` always recomputes the
average's statistics and stores them in ``swa_buffers``.

The rates are counted in iterations (mini-batch steps) from 1, as in
:mod:`landscape_widgets.schedules`; ``EnsembleRun.lrs[i - 1]`` is the rate
that iteration ``i`` used.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from .core.landscape import _materialize
from .core.train import (
    DataLike,
    OptimizerLike,
    _cycle_batches,
    _default_loss,
    _make_loader,
    _make_optimizer,
    _resolve_device,
)
from .core.weights import ParamLayout, WeightsLike, as_vector, weights_of
from .schedules import fge_triangular, scheduler, snapshot_cosine

__all__ = [
    "EnsembleAccuracy",
    "EnsembleRun",
    "accuracy",
    "accuracy_table",
    "ensemble_accuracy",
    "fge",
    "load_member",
    "snapshot_ensemble",
    "swa",
]

_BN = nn.modules.batchnorm._BatchNorm


@dataclass
class EnsembleRun:
    """What :func:`snapshot_ensemble`, :func:`fge` and :func:`swa` return.

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


# --------------------------------------------------------------------------- checks


def _count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")
    return int(value)


def _rate(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    return float(value)


def _total_steps(epochs, steps, steps_per_epoch: int | None) -> int:
    """The run's length in iterations, from exactly one of ``epochs`` and ``steps``."""
    if (epochs is None) == (steps is None):
        raise ValueError("give the run's length as exactly one of epochs= and steps=")
    if steps is not None:
        return _count("steps", steps)
    epochs = _count("epochs", epochs)
    if steps_per_epoch is None:
        raise ValueError("an iterable dataset has no length: give steps= instead of epochs=")
    return epochs * steps_per_epoch


def _loader_length(loader: DataLoader) -> int | None:
    try:
        n = len(loader)
    except TypeError:  # an iterable dataset
        return None
    if n == 0:
        raise ValueError("data yielded no batches: there is nothing to train on")
    return n


# --------------------------------------------------------------------------- members


def _buffers(model: nn.Module) -> dict[str, torch.Tensor]:
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


# --------------------------------------------------------------------------- training


_SETTINGS = ("optimizer", "batch_size", "loss_fn", "weight_decay", "seed", "progress", "device")


def _settings(scope: dict) -> dict:
    """The training settings every method passes on to :func:`_run` unchanged."""
    return {name: scope[name] for name in _SETTINGS}


def _run(
    method: str,
    model: nn.Module,
    data: DataLike,
    *,
    epochs,
    steps,
    optimizer: OptimizerLike,
    batch_size: int,
    loss_fn,
    weight_decay: float,
    seed: int,
    progress: bool,
    device,
    plan: Callable[[int, int | None], tuple[Iterable[int], Callable]],
) -> tuple[EnsembleRun, DataLoader, torch.device]:
    """The training loop the three methods share.

    ``plan(total, steps_per_epoch)`` gets the run's length and returns the iterations after
    which to take a snapshot and ``prepare(opt) -> after_step(i)``: a
    function, called once with the optimizer before the first step, that sets
    up the rates and returns the callback run after each iteration ``i``
    (stepping the scheduler, updating an average).
    """
    loader = _make_loader(data, _count("batch_size", batch_size), seed)
    per_epoch = _loader_length(loader)
    total = _total_steps(epochs, steps, per_epoch)
    snap_at, prepare = plan(total, per_epoch)
    snap_at = set(snap_at)
    device = _resolve_device(device)
    was_training = model.training
    model.to(device)
    # the schedule overwrites lr; a factory sets its own
    opt = _make_optimizer(
        optimizer, model.parameters(), None, weight_decay if isinstance(optimizer, str) else 0.0
    )
    after_step = prepare(opt)
    run = EnsembleRun(method, steps_per_epoch=per_epoch)
    on_cuda = device.type == "cuda"
    with torch.random.fork_rng(devices=[device] if on_cuda else [], device_type="cuda"):
        torch.manual_seed(seed)
        model.train()
        bar = tqdm(total=total, disable=not progress, desc=method, unit="step")
        batches = _cycle_batches(loader)
        try:
            for step in range(1, total + 1):
                xb, yb = (t.to(device) for t in next(batches))
                if loss_fn is None:
                    loss_fn = _default_loss(yb)
                loss = loss_fn(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                run.lrs.append(float(opt.param_groups[0]["lr"]))
                opt.step()
                run.losses.append(loss.item())
                after_step(step)
                if step in snap_at:
                    run.snapshots.append(weights_of(model))
                    run.buffers.append(_buffers(model))
                    run.snapshot_steps.append(step)
                bar.update(1)
                bar.set_postfix(
                    loss=f"{run.losses[-1]:.4g}", lr=f"{run.lrs[-1]:.3g}", refresh=False
                )
        finally:
            bar.close()
            model.train(was_training)
    return run, loader, device


def snapshot_ensemble(
    model: nn.Module,
    data: DataLike,
    *,
    cycles: int,
    epochs: int | None = None,
    steps: int | None = None,
    lr: float = 0.1,
    optimizer: OptimizerLike = "momentum",
    batch_size: int = 64,
    loss_fn: Callable | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    device="cpu",
) -> EnsembleRun:
    """Snapshot ensembles (Huang et al. 2017): ``cycles`` cosine cycles, a snapshot at each end.

    Over T iterations (``steps``, or ``epochs`` passes over the data) the rate
    is alpha(i) = lr/2 (cos(pi mod(i-1, ceil(T/M)) / ceil(T/M)) + 1) for M =
    ``cycles`` (:func:`~landscape_widgets.schedules.snapshot_cosine`): every
    cycle restarts at ``lr`` and anneals to nearly 0, where a snapshot is taken.

    Parameters
    ----------
    model : nn.Module
        Trained in place from its current weights (usually a fresh network);
        afterwards it holds the last snapshot.
    data : (X, y) tensors, Dataset or DataLoader
        Training data, reshuffled every epoch with ``seed`` (as :func:`train`).
    cycles : int
        M, the number of snapshots (at most the number of iterations).
    epochs, steps : int
        The run's length, exactly one of them.
    lr : float
        alpha0, the rate at the start of each cycle.
    optimizer : str or callable
        As in :func:`~landscape_widgets.train` ("momentum": SGD with
        momentum 0.9); its own rate is replaced by the schedule's.
    batch_size, loss_fn, weight_decay, seed, progress, device
        As in :func:`~landscape_widgets.train`.

    Examples
    --------
    >>> from landscape_widgets import datasets, models
    >>> _ = torch.manual_seed(0)
    >>> run = snapshot_ensemble(models.small_mlp(), datasets.spirals(256), cycles=3,
    ...                         steps=30, progress=False)
    >>> run.snapshot_steps
    [10, 20, 30]
    """
    cycles = _count("cycles", cycles)
    lr = _rate("lr", lr)

    def plan(total, _per_epoch):
        if cycles > total:
            raise ValueError(
                f"{cycles} cycles do not fit in {total} iterations: each cycle needs at least one"
            )
        schedule = snapshot_cosine(lr, total, cycles)
        if len(schedule.snapshots) != cycles:
            raise ValueError(
                f"{cycles} cycles of ceil({total}/{cycles}) iterations do not all fit in "
                f"{total} iterations; use fewer cycles or more iterations"
            )

        def prepare(opt):
            sched = scheduler(opt, schedule)
            return lambda i: sched.step()

        return schedule.snapshots, prepare

    run, _, _ = _run(
        "snapshot", model, data, epochs=epochs, steps=steps, plan=plan, **_settings(locals())
    )
    run.info = {"lr": lr, "cycles": cycles, "cycle": math.ceil(run.steps / cycles)}
    return run


def fge(
    model: nn.Module,
    data: DataLike,
    *,
    cycles: int,
    cycle: int,
    lr1: float = 0.05,
    lr2: float = 0.0005,
    optimizer: OptimizerLike = "momentum",
    batch_size: int = 64,
    loss_fn: Callable | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    device="cpu",
) -> EnsembleRun:
    """Fast geometric ensembling (Garipov et al. 2018) from a trained network.

    Triangular cycles of ``cycle`` iterations (an even number): the rate goes
    linearly from ``lr1`` down to ``lr2`` at the cycle's middle, where a
    snapshot is taken, and back up
    (:func:`~landscape_widgets.schedules.fge_triangular`). The run stops at
    the ``cycles``-th snapshot, after ``(cycles - 1/2) * cycle`` iterations.

    Parameters
    ----------
    model : nn.Module
        A trained network (FGE explores around an optimum; from a random
        start the first snapshots are poor); updated in place, afterwards it
        holds the last snapshot.
    cycles : int
        The number of snapshots.
    cycle : int
        Iterations per cycle (even; the paper uses 2 to 4 epochs' worth).
    lr1, lr2 : float
        The rates alpha1 (highest, at the cycle's ends) and alpha2 (lowest,
        at its middle).

    The other parameters are as in :func:`snapshot_ensemble`.
    """
    cycles = _count("cycles", cycles)
    cycle = _count("cycle", cycle, 2)
    schedule = fge_triangular(_rate("lr1", lr1), _rate("lr2", lr2), cycle)
    total = cycles * cycle - cycle // 2

    def plan(_total, _per_epoch):
        def prepare(opt):
            sched = scheduler(opt, schedule)
            return lambda i: sched.step()

        return [k * cycle + cycle // 2 for k in range(cycles)], prepare

    run, _, _ = _run("fge", model, data, epochs=None, steps=total, plan=plan, **_settings(locals()))
    run.info = {"lr1": float(lr1), "lr2": float(lr2), "cycles": cycles, "cycle": cycle}
    return run


def swa(
    model: nn.Module,
    data: DataLike,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    start: int = 0,
    lr: float = 0.05,
    swa_lr: float = 0.05,
    anneal_steps: int = 0,
    every: int | None = None,
    optimizer: OptimizerLike = "momentum",
    batch_size: int = 64,
    loss_fn: Callable | None = None,
    weight_decay: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    device="cpu",
) -> EnsembleRun:
    """Stochastic weight averaging (Izmailov et al. 2018) with ``torch.optim.swa_utils``.

    Iterations 1..``start`` use the constant rate ``lr``. From then on
    ``SWALR`` anneals the rate from ``lr`` to ``swa_lr`` along a cosine over
    ``anneal_steps`` iterations and holds it there, and every ``every``
    iterations after ``start`` the weights are added to an ``AveragedModel``
    (an equal-weight running mean) and kept as a snapshot. Finally
    ``update_bn`` recomputes the average's BatchNorm statistics on ``data``:
    the average was never trained at, so it has none of its own.

    Parameters
    ----------
    model : nn.Module
        Trained in place; afterwards it holds the last SGD iterate, not the
        average (``run.load(model, "swa")`` writes the average in).
    epochs, steps : int
        The run's total length, exactly one of them, ``start`` included.
    start : int
        Iterations before averaging begins (0 for a network that is trained
        already).
    lr, swa_lr : float
        The rate before ``start``, and the constant rate of the averaging phase.
    anneal_steps : int
        Iterations of the cosine from ``lr`` to ``swa_lr`` (0: jump at once).
    every : int, optional
        Iterations between averaged snapshots; by default one epoch.

    The other parameters are as in :func:`snapshot_ensemble`.

    Returns
    -------
    EnsembleRun
        ``snapshots`` are the averaged weights one by one, ``swa_weights``
        their mean and ``swa_buffers`` the mean's recomputed buffers.
    """
    start = _count("start", start, 0)
    lr = _rate("lr", lr)
    swa_lr = _rate("swa_lr", swa_lr)
    anneal_steps = _count("anneal_steps", anneal_steps, 0)
    state: dict = {}

    def plan(total, per_epoch):
        nonlocal every
        if every is None:
            if per_epoch is None:
                raise ValueError("an iterable dataset has no epochs: give every=")
            every = per_epoch
        every = _count("every", every)
        if start + every > total:
            raise ValueError(
                f"nothing to average: the first snapshot would be at iteration {start + every}, "
                f"after the run's {total} iterations"
            )

        def prepare(opt):
            for group in opt.param_groups:
                group["lr"] = lr
            averaged = AveragedModel(model)
            state["averaged"] = averaged
            swalr: list = []

            def start_swalr():
                swalr.append(SWALR(opt, swa_lr, anneal_epochs=anneal_steps, anneal_strategy="cos"))

            if start == 0:
                start_swalr()

            def after_step(i):
                if i == start:
                    start_swalr()
                elif i > start:
                    swalr[0].step()
                    if (i - start) % every == 0:
                        averaged.update_parameters(model)

            return after_step

        return range(start + every, total + 1, every), prepare

    run, loader, device = _run(
        "swa", model, data, epochs=epochs, steps=steps, plan=plan, **_settings(locals())
    )
    averaged = state["averaged"]
    if any(isinstance(m, _BN) for m in averaged.modules()):
        update_bn(_plain_loader(loader), averaged, device=device)
    run.swa_weights = weights_of(averaged.module)
    run.swa_buffers = _buffers(averaged.module)
    run.info = {
        "start": start,
        "lr": lr,
        "swa_lr": swa_lr,
        "anneal_steps": anneal_steps,
        "every": every,
        "averaged": int(averaged.n_averaged),
    }
    return run


def _plain_loader(loader: DataLoader) -> DataLoader:
    """The same data in a fixed order (BatchNorm statistics need every sample once)."""
    ds = loader.dataset
    if not hasattr(ds, "__len__"):
        return loader
    return DataLoader(ds, batch_size=loader.batch_size or 64, shuffle=False)


# --------------------------------------------------------------------------- accuracy


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
    batch_size = _count("batch_size", batch_size)
    layout = ParamLayout.of(model)
    vectors = [as_vector(m, layout) for m in members]
    device = _resolve_device(device)
    net = copy.deepcopy(model).to(device).eval()
    has_bn = any(isinstance(m, _BN) for m in net.modules())
    if has_bn and buffers is None and bn_data is None:
        raise ValueError(
            "the model has BatchNorm: pass each member's buffers= (kept with the snapshots) "
            "or bn_data= (training data to recompute the statistics on)"
        )
    bn_loader = None
    if has_bn and bn_data is not None:
        bn_loader = DataLoader(TensorDataset(*_materialize(bn_data, None, 0)), batch_size)
    X, y = _materialize(data, None, 0)
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
