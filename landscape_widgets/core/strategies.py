"""Choosing an evaluation engine for a plane: by name, by timing, or the first that runs.

The engines (:mod:`~landscape_widgets.core.engines`,
:mod:`~landscape_widgets.core.sequential_engines`) compute the same numbers;
which is fastest depends on the model and the device. For a grid,
``strategy="auto"`` builds every engine that can run (:func:`candidates`) and
times a chunk of each on the first level (:func:`fastest`); for a few points
along a path there is no time to time them (:func:`first_available`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from .engines import Affine, Loop, PlaneOnDevice, StrategyUnavailable, Vmap
from .grid import Grid
from .sequential_engines import Partial, Tiled

if TYPE_CHECKING:  # annotations only: the landscape imports this module
    from .landscape import Landscape

__all__ = ["ENGINES", "STRATEGIES", "candidates", "fastest", "first_available"]

STRATEGIES = ("loop", "vmap", "affine", "tiled", "partial")
ENGINES = {"loop": Loop, "vmap": Vmap, "affine": Affine, "tiled": Tiled, "partial": Partial}


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


def fastest(engines: list, grid: Grid, todo: np.ndarray, bar) -> tuple:
    """Time one chunk of each engine on points of the first level; keep the fastest.

    The timed chunks are stored in ``grid`` (and counted on ``bar``, a
    progress bar or None). Returns the engine, the seconds per point of each
    engine timed, and the points of ``todo`` still to do.
    """
    if len(engines) == 1:
        return engines[0], {}, todo
    for eng in engines:
        if getattr(eng, "row_case", None) is not None:
            # it computes a strict subset of what any other strategy
            # computes (one unit and one rank-one update): no need to time
            return eng, {}, todo
    timings = {}
    pos = 0
    for eng in engines:
        per_point = []
        for _ in range(2):  # the first call warms caches and allocations
            chunk = todo[pos : pos + eng.chunk]
            if len(chunk) == 0:
                break
            pos += len(chunk)
            _sync(eng.ls.device)
            t = time.perf_counter()
            grid.fill(eng, chunk)
            _sync(eng.ls.device)
            per_point.append((time.perf_counter() - t) / len(chunk))
            if bar is not None:
                bar.update(len(chunk))
        if per_point:
            # the minimum is robust to the random stalls of shared machines
            timings[eng.name] = min(per_point)
    timed = [e for e in engines if e.name in timings]
    best = min(timed, key=lambda e: timings[e.name]) if timed else engines[0]
    return best, timings, todo[pos:]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
