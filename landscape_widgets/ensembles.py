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

import functools
import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn
from torch.utils.data import DataLoader

from .core.data import DataLike, OptimizerLike, make_loader, make_optimizer, resolve_device
from .core.members import (
    EnsembleAccuracy,
    EnsembleRun,
    accuracy,
    accuracy_table,
    ensemble_accuracy,
    has_batchnorm,
    load_member,
    member_buffers,
)
from .core.train import StepLoop
from .core.weights import weights_of
from .schedules import Schedule, fge_triangular, scheduler, snapshot_cosine

__all__ = [
    "EnsembleAccuracy",
    "EnsembleRun",
    "TrainingSettings",
    "accuracy",
    "accuracy_table",
    "ensemble_accuracy",
    "fge",
    "load_member",
    "snapshot_ensemble",
    "swa",
]


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


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainingSettings:
    """How the three methods train: the keywords all of them take.

    Attributes
    ----------
    optimizer : str or callable
        As in :func:`~landscape_widgets.train` ("momentum": SGD with
        momentum 0.9); its own rate is replaced by the schedule's.
    batch_size, loss_fn, weight_decay, seed, progress, device
        As in :func:`~landscape_widgets.train`.
    """

    optimizer: OptimizerLike = "momentum"
    batch_size: int = 64
    loss_fn: Callable | None = None
    weight_decay: float = 0.0
    seed: int = 0
    progress: bool = True
    device: str | torch.device = "cpu"


def _takes_training_keywords(method: Callable) -> Callable:
    """List the :class:`TrainingSettings` keywords in ``method``'s signature.

    The methods take them as ``**training``; the signature that ``help()``
    and notebook completion read names each one with its default, and a
    keyword the method does not take is refused, by the method's name, before
    any work.
    """
    signature = inspect.signature(method)
    own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    shared = [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type
        )
        for f in fields(TrainingSettings)
    ]
    known = {p.name for p in own + shared}

    @functools.wraps(method)
    def checked(*args, **kwargs):
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(
                f"{method.__name__}() got an unexpected keyword argument {unknown[0]!r}"
            )
        return method(*args, **kwargs)

    checked.__signature__ = signature.replace(parameters=own + shared)
    return checked


def _following(schedule: Schedule) -> Callable:
    """``prepare`` for a run whose rate follows ``schedule``, stepped once per iteration."""

    def prepare(opt):
        sched = scheduler(opt, schedule)
        return lambda _step: sched.step()

    return prepare


def _run(
    method: str,
    model: nn.Module,
    data: DataLike,
    training: dict,
    *,
    epochs,
    steps,
    plan: Callable[[int, int | None], tuple[Iterable[int], Callable]],
) -> tuple[EnsembleRun, DataLoader, torch.device]:
    """Train ``model`` with :class:`~landscape_widgets.core.train.StepLoop`, keeping snapshots.

    ``plan(total, steps_per_epoch)`` gets the run's length and returns the
    iterations after which to take a snapshot and ``prepare(opt) ->
    after_step(i)``: a function, called once with the optimizer before the
    first step, that sets up the rates and returns the callback run after
    each iteration ``i`` (stepping the scheduler, updating an average).
    """
    settings = TrainingSettings(**training)
    loader = make_loader(data, _count("batch_size", settings.batch_size), settings.seed)
    per_epoch = _loader_length(loader)
    total = _total_steps(epochs, steps, per_epoch)
    snap_at, prepare = plan(total, per_epoch)
    snap_at = set(snap_at)
    device = resolve_device(settings.device)
    model.to(device)
    # the schedule overwrites lr; a factory sets its own
    decay = settings.weight_decay if isinstance(settings.optimizer, str) else 0.0
    opt = make_optimizer(settings.optimizer, model.parameters(), None, decay)
    after_step = prepare(opt)
    run = EnsembleRun(method, steps_per_epoch=per_epoch)

    def record(step: int, loss: float) -> dict:
        # the rate this step used: schedulers change it only in after_step
        run.lrs.append(float(opt.param_groups[0]["lr"]))
        run.losses.append(loss)
        after_step(step)
        if step in snap_at:
            run.snapshots.append(weights_of(model))
            run.buffers.append(member_buffers(model))
            run.snapshot_steps.append(step)
        return {"loss": f"{loss:.4g}", "lr": f"{run.lrs[-1]:.3g}"}

    loop = StepLoop(model, opt, device, settings.seed, settings.loss_fn)
    loop.run(loader, steps=total, on_step=record, progress=settings.progress, desc=method)
    return run, loader, device


@_takes_training_keywords
def snapshot_ensemble(
    model: nn.Module,
    data: DataLike,
    *,
    cycles: int,
    epochs: int | None = None,
    steps: int | None = None,
    lr: float = 0.1,
    **training,
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
    **training
        optimizer, batch_size, loss_fn, weight_decay, seed, progress and
        device: see :class:`TrainingSettings`.

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
        return schedule.snapshots, _following(schedule)

    run, _, _ = _run("snapshot", model, data, training, epochs=epochs, steps=steps, plan=plan)
    run.info = {"lr": lr, "cycles": cycles, "cycle": math.ceil(run.steps / cycles)}
    return run


@_takes_training_keywords
def fge(
    model: nn.Module,
    data: DataLike,
    *,
    cycles: int,
    cycle: int,
    lr1: float = 0.05,
    lr2: float = 0.0005,
    **training,
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
        return [k * cycle + cycle // 2 for k in range(cycles)], _following(schedule)

    run, _, _ = _run("fge", model, data, training, epochs=None, steps=total, plan=plan)
    run.info = {"lr1": float(lr1), "lr2": float(lr2), "cycles": cycles, "cycle": cycle}
    return run


@_takes_training_keywords
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
    **training,
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

    run, loader, device = _run("swa", model, data, training, epochs=epochs, steps=steps, plan=plan)
    averaged = state["averaged"]
    if has_batchnorm(averaged):
        update_bn(_plain_loader(loader), averaged, device=device)
    run.swa_weights = weights_of(averaged.module)
    run.swa_buffers = member_buffers(averaged.module)
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
