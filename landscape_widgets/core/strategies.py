"""Choosing an evaluation engine for a plane: by name, by timing, or the first that runs.

The engines (:mod:`~landscape_widgets.core.engines`,
:mod:`~landscape_widgets.core.sequential_engines`) compute the same numbers;
which is fastest depends on the model and the device. For a grid,
``strategy="auto"`` builds every engine that can run (:func:`candidates`) and
times chunks of each on the first level (:func:`fastest`), then remembers the
choice for that landscape, plane kind and grid shape (:func:`choose`), so
that pans, zooms and animation frames do not pay for timing again; for a few
points along a path there is no time to time them (:func:`first_available`).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from .engines import Affine, Loop, PlaneOnDevice, StrategyUnavailable, Vmap
from .grid import Grid
from .sequential_engines import Partial, Tiled

if TYPE_CHECKING:  # annotations only: the landscape imports this module
    from .landscape import Landscape

__all__ = [
    "ENGINES",
    "STRATEGIES",
    "TIMING_ROUNDS",
    "candidates",
    "choice_key",
    "choose",
    "fastest",
    "first_available",
]

STRATEGIES = ("loop", "vmap", "affine", "tiled", "partial")
ENGINES = {"loop": Loop, "vmap": Vmap, "affine": Affine, "tiled": Tiled, "partial": Partial}
# Each candidate is timed this many times and keeps its fastest chunk: the
# first chunk also pays for warming caches and allocations, and a shared
# machine stalls a single run at random, so three leave at least one clean.
TIMING_ROUNDS = 3

# The choices of strategy="auto": {landscape: {choice_key: (name, timings)}}.
# Kept beside the landscape (weakly), as first_layer() keeps its layer.
_CHOICES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def choice_key(target, shape: tuple[int, int]) -> tuple:
    """What the fastest engine depends on, besides the landscape.

    The plane kind and the grid shape (chunk sizes and level sizes follow
    from it); for :meth:`Plane.weights` also which two weights, since the
    ``partial`` engine's work depends on where they sit. The window (pans,
    zooms) and the plane's directions (animation frames) change nothing.
    """
    info = getattr(target, "info", None) or {}
    which = None
    if target.kind == "weights" and "a" in info:
        which = (repr(info["a"]), repr(info["b"]))
    return (target.kind, tuple(shape), which)


def choose(
    ls: Landscape, target, plane: PlaneOnDevice, grid: Grid, todo: np.ndarray, strategy: str, bar
) -> tuple:
    """The engine for one evaluation: forced, remembered, or timed now on ``todo``.

    Returns ``(engine, timings, todo_left, how)``: ``how`` is ``"forced"``
    (a strategy was named), ``"remembered"`` (an earlier call on this
    landscape timed the same kind of plane on the same grid shape),
    ``"timed"`` (timed now), ``"only"`` (one engine could run) or ``"rule"``
    (``partial`` on one output unit's weights, chosen without timing). Points timed now are
    stored in ``grid`` and are not in ``todo_left``.
    """
    if strategy != "auto":
        return candidates(ls, plane, strategy)[0], {}, todo, "forced"
    memo = _CHOICES.setdefault(ls, {})
    key = choice_key(target, grid.shape)
    if key in memo:
        name, timings = memo[key]
        try:
            return ENGINES[name](ls, plane), dict(timings), todo, "remembered"
        except StrategyUnavailable:
            pass  # e.g. partial on a plane it cannot run: choose again
    try:
        partial = ENGINES["partial"](ls, plane)
    except StrategyUnavailable:
        partial = None
    if partial is not None and partial.row_case is not None:
        # it computes a strict subset of what any other engine computes (one
        # unit and one rank-one update): nothing to time, nor to build
        memo[key] = (partial.name, {})
        return partial, {}, todo, "rule"
    engines = candidates(ls, plane, "auto")
    engine, timings, todo = fastest(engines, grid, todo, bar)
    how = "timed" if timings else ("only" if len(engines) == 1 else "rule")
    memo[key] = (engine.name, dict(timings))
    return engine, timings, todo, how


def candidates(ls: Landscape, plane: PlaneOnDevice, strategy: str) -> list:
    """Engines for ``plane``: every one that can run (``strategy="auto"``), or the one named."""
    names = STRATEGIES if strategy == "auto" else (strategy,)
    engines, reasons = [], {}
    for name in names:
        try:
            engines.append(ENGINES[name](ls, plane))
        except StrategyUnavailable as err:
            reasons[name] = str(err)
    if not engines:
        raise StrategyUnavailable(f"strategy {strategy!r} cannot run here: {reasons[strategy]}")
    return engines


def first_available(ls: Landscape, plane: PlaneOnDevice, names: Sequence[str]):
    """The first of the engines ``names`` that can run; the last one always must."""
    for name in names[:-1]:
        try:
            return ENGINES[name](ls, plane)
        except StrategyUnavailable:
            continue
    return ENGINES[names[-1]](ls, plane)


def fastest(
    engines: list,
    grid: Grid,
    todo: np.ndarray,
    bar,
    rounds: int = TIMING_ROUNDS,
    clock=time.perf_counter,
) -> tuple:
    """Time chunks of each engine on points of the first level; keep the fastest.

    Each engine is timed on ``rounds`` chunks, interleaved with the others
    (round after round, so a stall of the machine hits one engine's chunk,
    not all of one engine's), and is judged by its fastest chunk per point:
    the minimum is what the engine can do, the rest is warm-up and noise.
    The timed chunks are stored in ``grid`` (and counted on ``bar``, a
    progress bar or None). ``clock`` returns seconds. Returns the engine, the
    seconds per point of each engine timed, and the points of ``todo`` still
    to do.
    """
    if len(engines) == 1:
        return engines[0], {}, todo
    per_point: dict[str, list[float]] = {e.name: [] for e in engines}
    pos = 0
    for _ in range(rounds):
        for eng in engines:
            chunk = todo[pos : pos + eng.chunk]
            if len(chunk) == 0:
                break
            pos += len(chunk)
            _sync(eng.ls.device)
            t = clock()
            grid.fill(eng, chunk)
            _sync(eng.ls.device)
            per_point[eng.name].append((clock() - t) / len(chunk))
            if bar is not None:
                bar.update(len(chunk))
    timings = {name: min(times) for name, times in per_point.items() if times}
    timed = [e for e in engines if e.name in timings]
    best = min(timed, key=lambda e: timings[e.name]) if timed else engines[0]
    return best, timings, todo[pos:]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
