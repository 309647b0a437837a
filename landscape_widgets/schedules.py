"""Cyclic learning-rate schedules of the ensembling methods, as plain functions.

Each schedule maps an iteration number ``i`` (counted from 1, as in the
papers) to a learning rate, and says at which iterations a snapshot is taken.
:func:`scheduler` turns one into a ``torch.optim.lr_scheduler.LambdaLR``.

- :func:`snapshot_cosine`: snapshot ensembles (Huang et al. 2017), M cosine
  cycles over T iterations, alpha(i) = alpha0/2 (cos(pi mod(i-1, ceil(T/M)) /
  ceil(T/M)) + 1); a snapshot at the end of every cycle, where the rate is
  smallest.
- :func:`fge_triangular`: fast geometric ensembling (Garipov et al. 2018),
  cycles of c iterations going linearly from alpha1 down to alpha2 and back;
  with t(i) = (mod(i-1, c) + 1) / c the rate is (1-2t) alpha1 + 2t alpha2 for
  t <= 1/2 and (2-2t) alpha2 + (2t-1) alpha1 after; a snapshot at the middle
  of every cycle (t = 1/2, the rate alpha2).

Stochastic weight averaging has its own tools in ``torch.optim.swa_utils``
(``AveragedModel``, ``SWALR``, ``update_bn``).

Examples
--------
>>> lr = snapshot_cosine(alpha0=0.1, total=100, cycles=4)
>>> lr(1), lr.snapshots
(0.1, [25, 50, 75, 100])
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["Schedule", "fge_triangular", "scheduler", "snapshot_cosine"]


class Schedule:
    """A learning rate per iteration (from 1) and the iterations that take snapshots."""

    def __init__(self, fn: Callable[[int], float], snapshots: list[int], name: str):
        self._fn = fn
        self.snapshots = snapshots
        self.name = name

    def __call__(self, i: int) -> float:
        if not isinstance(i, int) or i < 1:
            raise ValueError(f"iterations count from 1, not {i!r}")
        return self._fn(i)

    def __repr__(self) -> str:
        return f"<Schedule {self.name}, {len(self.snapshots)} snapshots>"


def _positive(name: str, value, kind=float) -> None:
    if not isinstance(value, (int, float) if kind is float else int) or not value > 0:
        raise ValueError(f"{name} must be a positive {kind.__name__}, not {value!r}")


def snapshot_cosine(alpha0: float, total: int, cycles: int) -> Schedule:
    """Snapshot ensembles' cyclic cosine rate: ``cycles`` restarts over ``total`` iterations."""
    _positive("alpha0", alpha0)
    _positive("total", total, int)
    _positive("cycles", cycles, int)
    if cycles > total:
        raise ValueError(f"{cycles} cycles do not fit in {total} iterations")
    length = math.ceil(total / cycles)

    def rate(i: int) -> float:
        return alpha0 / 2 * (math.cos(math.pi * ((i - 1) % length) / length) + 1)

    ends = [min(total, k * length) for k in range(1, cycles + 1)]
    return Schedule(rate, sorted(set(ends)), f"snapshot cosine, {cycles} cycles of {length}")


def fge_triangular(alpha1: float, alpha2: float, cycle: int) -> Schedule:
    """FGE's triangular cycles between ``alpha1`` (high) and ``alpha2`` (low), ``cycle``
    iterations each (an even number, so the middle is an iteration).

    ``snapshots`` lists the first ten mid-cycle iterations; snapshot k is at
    ``(k - 1/2) * cycle``, for as many cycles as you train.
    """
    _positive("alpha1", alpha1)
    _positive("alpha2", alpha2)
    _positive("cycle", cycle, int)
    if cycle % 2:
        raise ValueError(f"cycle must be even (the snapshot is its middle), not {cycle}")

    def rate(i: int) -> float:
        t = ((i - 1) % cycle + 1) / cycle
        if t <= 0.5:
            return (1 - 2 * t) * alpha1 + 2 * t * alpha2
        return (2 - 2 * t) * alpha2 + (2 * t - 1) * alpha1

    mids = [k * cycle + cycle // 2 for k in range(10)]
    return Schedule(rate, mids, f"FGE triangular, cycles of {cycle}")


def scheduler(optimizer: torch.optim.Optimizer, schedule: Schedule):
    """A ``LambdaLR`` that sets every group's rate to ``schedule(i)`` for iteration i.

    Call ``scheduler.step()`` after each ``optimizer.step()``; the rate of
    the first iteration is set at once. The groups' ``lr`` is overwritten.
    """
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] = 1.0
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: schedule(step + 1))
