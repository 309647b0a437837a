"""Tiled, resumable renders of a plane: in process, on a process pool, on a Dask cluster.

:func:`render` cuts the grid into interleaved tiles (:mod:`.tiling`), hands
each tile not yet finished to the executor, and writes every finished tile
into the store (:mod:`.store`) as it arrives, so a killed render resumes
where it stopped and a partial one is already a picture. One engine
computes every tile (chosen once, then kept in the store), so a resumed
render equals an uninterrupted one exactly.

Executors: ``None`` evaluates in this process with the caller's landscape;
any ``concurrent.futures.Executor`` (a process pool, Dask's
``Client.get_executor()``) or a ``distributed.Client`` gets tasks that carry
only a tile's indices, the job being sent once per worker (:mod:`.job`).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..core.grid import Grid
from ..core.landscape import Landscape
from ..core.planes import Plane
from ..core.results import Surface
from .job import (
    RenderJob,
    data_fingerprint,
    dumps,
    grid_coords,
    model_fingerprint,
    plane_fingerprint,
    run_tile,
)
from .store import RenderStore, tiled_surface
from .tiling import DEFAULT_TILE, Tiling

__all__ = ["RenderError", "render"]


class RenderError(RuntimeError):
    """Tiles that failed twice; ``failed`` maps each tile to its error. The rest are stored."""

    def __init__(self, failed: dict, store):
        self.failed = failed
        first = next(iter(failed.values()))
        where = f"; the {store} keeps the finished ones, rerun to retry" if store else ""
        super().__init__(
            f"{len(failed)} tile(s) failed after a retry, e.g. {next(iter(failed))}: "
            f"{type(first).__name__}: {first}{where}"
        )


@dataclass
class _Counts:
    """What one call did, for the surface's provenance and the progress bar."""

    reused: int = 0
    computed: int = 0
    retried: int = 0
    write_seconds: float = 0.0
    failed: dict = field(default_factory=dict)


class _MemoryStore:
    """A store that keeps the tiles in memory (``store=None``)."""

    def __init__(self, spec: dict, x, y, tiling: Tiling):
        self.spec, self.tiling, self.metrics = spec, tiling, list(spec["metrics"])
        self.x, self.y = x, y
        shape = (*tiling.strides, *tiling.tile_shape)
        self.arrays = {m: np.full(shape, np.nan) for m in self.metrics}
        self.done = np.zeros(tiling.strides, dtype=bool)

    def tiles_done(self) -> np.ndarray:
        return self.done.copy()

    def write_tile(self, tile, values) -> None:
        for m in self.metrics:
            self.arrays[m][tile] = self.tiling.block(tile, values[m])
        self.done[tile] = True

    def set_spec(self, **changes) -> None:
        self.spec = {**self.spec, **changes}

    def surface(self) -> Surface:
        return tiled_surface(
            self.spec, self.tiling, self.x, self.y, self.arrays, self.done, None, False
        )


def render(
    landscape: Landscape,
    plane: Plane,
    resolution: int | tuple[int, int] = 64,
    bounds: Sequence[float] | None = None,
    margin: float | None = None,
    store=None,
    executor=None,
    tile: int | tuple[int, int] = DEFAULT_TILE,
    progress: bool = True,
    overwrite: bool = False,
    strategy: str = "auto",
    device=None,
    worker_threads: int | None = None,
    max_tiles: int | None = None,
    on_tile: Callable[[tuple[int, int], int, int], None] | None = None,
) -> Surface:
    """Render ``plane`` tile by tile into ``store``; resume what a store already holds.

    Parameters
    ----------
    landscape : Landscape
    plane : Plane
    resolution, bounds, margin
        The grid, as in :meth:`Landscape.evaluate`.
    store : path or None
        A Zarr v3 store (a directory). Finished tiles in it are skipped; a
        store of another render raises :class:`~.store.StoreMismatch` naming
        what differs. None keeps the tiles in memory.
    executor : None, concurrent.futures.Executor or distributed.Client
        Where tiles are evaluated. None: here, with ``landscape``. A process
        pool or ``Client.get_executor()``: the job goes to each worker once
        through a file beside the store (the workers must see that
        directory). A ``Client``: the job is broadcast to every worker.
    tile : int or (th, tw)
        The most points a tile has per side; the strides are powers of two.
    progress : bool
        A progress bar in tiles, with the rate and the time left.
    overwrite : bool
        Start a store of another render over instead of refusing.
    strategy : "auto" or one of ``STRATEGIES``
        The engine of every tile; ``"auto"`` times them once (or takes the
        store's, when resuming).
    device : str or None
        The workers' device (default the landscape's).
    worker_threads : int or None
        Torch threads of each worker process. Default: its host's cores over
        the tasks the host runs at once (a Dask host's worker threads, a
        pool's processes); in process, the caller's setting is left alone.
    max_tiles : int or None
        Compute at most this many tiles in this call (a slice of the work,
        e.g. for a job with a time limit); the store says what is left.
    on_tile : callable, optional
        ``on_tile(tile, done, total)`` after each tile is stored.

    Returns
    -------
    Surface
        ``provenance["render"]`` counts the tiles done, reused and computed
        now; ``provenance["store_write_seconds"]`` the time spent writing.

    Raises
    ------
    RenderError
        Tiles that failed again after one retry (the others are stored).
    KeyboardInterrupt
        After the tiles in flight are finished and stored.
    """
    if not isinstance(landscape, Landscape):
        raise TypeError(f"landscape must be a Landscape, not {type(landscape).__name__}")
    if not isinstance(plane, Plane):
        raise TypeError(f"render takes a Plane, not {type(plane).__name__}")
    if max_tiles is not None and (
        isinstance(max_tiles, bool) or not isinstance(max_tiles, int) or max_tiles < 0
    ):
        raise ValueError(f"max_tiles must be None or a whole number >= 0, not {max_tiles!r}")
    if worker_threads is not None and (not isinstance(worker_threads, int) or worker_threads < 1):
        raise ValueError(
            f"worker_threads must be None or a whole number >= 1, not {worker_threads!r}"
        )
    if plane.numel != landscape.layout.numel:
        raise ValueError(f"the plane has {plane.numel} weights, the model {landscape.layout.numel}")
    t_start = time.perf_counter()
    grid = Grid.over(plane, resolution, bounds, margin, landscape.metrics, landscape.max_points)
    lo_hi = [float(b) for b in (bounds if bounds is not None else plane.default_bounds(margin))]
    tiling = Tiling.of(grid.shape, tile)
    xs, ys = grid.xs.numpy(), grid.ys.numpy()
    del grid  # only its axes and checks were needed
    spec = _spec(landscape, plane, lo_hi, tiling, strategy)
    if store is None:
        target = _MemoryStore(spec, xs, ys, tiling)
    else:
        target = RenderStore.for_render(store, spec, xs, ys, tiling, overwrite)
    chosen = target.spec.get("strategy")
    if chosen is None:
        if strategy == "auto":
            res = (min(len(xs), 16), min(len(ys), 16))
            chosen, how = landscape.choose_strategy(plane, res, lo_hi)
        else:
            chosen, how = strategy, "forced"
        target.set_spec(strategy=chosen, strategy_choice=how)
    done = target.tiles_done()
    todo = [t for t in tiling.order() if not done[t]][:max_tiles]
    counts = _Counts(reused=int(done.sum()))
    bar = tqdm(
        total=tiling.count,
        initial=counts.reused,
        desc="render",
        unit="tile",
        disable=not progress,
        leave=True,
    )
    try:
        runner = _Runner.of(
            executor, landscape, plane, xs, ys, chosen, device, store, worker_threads
        )
        with runner:
            _run(runner, target, tiling, todo, counts, bar, on_tile)
    finally:
        bar.close()
    surface = target.surface()
    surface.provenance["render"].update(
        tiles_reused=counts.reused,
        tiles_computed=counts.computed,
        tiles_retried=counts.retried,
    )
    surface.provenance["seconds"] = time.perf_counter() - t_start
    surface.provenance["store_write_seconds"] = counts.write_seconds
    if counts.failed:
        raise RenderError(counts.failed, store)
    return surface


def _spec(ls: Landscape, plane: Plane, bounds: list, tiling: Tiling, strategy: str) -> dict:
    """What the store records: the render's identity (compared on resume) and its look."""
    ny, nx = tiling.shape
    return {
        "plane": {
            "kind": plane.kind,
            "fingerprint": plane_fingerprint(plane),
            "axis_names": list(plane.axis_names),
            "same_units": bool(plane.same_units),
            "anchors": {k: [float(c) for c in v] for k, v in plane.anchors.items()},
        },
        "bounds": bounds,
        "resolution": [nx, ny],
        "metrics": list(ls.metrics),
        "model": model_fingerprint(ls.model),
        "data": data_fingerprint(ls),
        "loss": repr(ls.loss_fn),
        "bn": ls.bn if ls.has_bn else "none",
        "dtype": str(ls.dtype).replace("torch.", ""),
        "strategy_requested": strategy,
        "provenance": {
            "subset": ls.subset,
            "seed": ls.seed,
            "device": str(ls.device),
            "bn_statistics": ls.bn_statistics,
            "metrics": list(ls.metrics),
            "resolution": [nx, ny],
        },
    }


def _run(runner, target, tiling: Tiling, todo: list, counts: _Counts, bar, on_tile) -> None:
    """Keep the runner's slots busy; store each finished tile; retry a failure once."""
    pending = list(reversed(todo))  # popped from the end: coarse tiles first
    in_flight: dict = {}  # future -> (tile, attempt)
    total = tiling.count

    def submit(tile, attempt):
        in_flight[runner.submit(tiling.indices(tile))] = (tile, attempt)

    try:
        while pending or in_flight:
            while pending and len(in_flight) < runner.slots:
                submit(pending.pop(), 0)
            finished = runner.wait(list(in_flight))
            for fut in finished:
                tile, attempt = in_flight.pop(fut)
                try:
                    values = fut.result()
                except Exception as err:  # a worker's error or its loss
                    if attempt == 0:
                        counts.retried += 1
                        submit(tile, 1)
                    else:
                        counts.failed[tile] = err
                    continue
                t0 = time.perf_counter()
                target.write_tile(tile, values)
                counts.write_seconds += time.perf_counter() - t0
                counts.computed += 1
                bar.update(1)
                if on_tile is not None:
                    on_tile(tile, counts.reused + counts.computed, total)
    except KeyboardInterrupt:
        # no new tiles; those being computed finish and are stored, then stop
        for fut in in_flight:
            fut.cancel()
        for fut, (tile, _) in list(in_flight.items()):
            if fut.cancelled():
                continue
            try:
                values = fut.result()
            except BaseException:  # noqa: B036 - a second Ctrl-C, or a failed tile: drop it
                continue
            target.write_tile(tile, values)
            counts.computed += 1
        raise


class _Runner:
    """Submits tiles to one kind of executor; ``slots`` is how many to keep in flight."""

    slots = 1

    @staticmethod
    def of(executor, ls, plane, xs, ys, strategy, device, store, threads) -> _Runner:
        if executor is None:
            return _InProcess(ls, plane, xs, ys, strategy)
        job = RenderJob.of(ls, plane, xs, ys, strategy, device or "cpu")
        client = _dask_client(executor)
        if client is not None:
            return _OnDask(client, job, threads)
        if isinstance(executor, cf.Executor):
            return _OnExecutor(executor, job, store, threads)
        raise TypeError(
            "executor must be None, a concurrent.futures.Executor or a distributed.Client, "
            f"not {type(executor).__name__}"
        )

    def wait(self, futures: list) -> set:
        """The futures of ``futures`` that are finished, once at least one is."""
        return cf.wait(futures, return_when=cf.FIRST_COMPLETED)[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        pass


class _InProcess(_Runner):
    """Tiles evaluated here, one at a time, with the caller's landscape."""

    def __init__(self, ls, plane, xs, ys, strategy):
        self.ls, self.plane, self.strategy = ls, plane, strategy
        self.xs, self.ys = xs, ys

    def submit(self, indices):
        fut = cf.Future()
        coords = grid_coords(self.xs, self.ys, indices)
        try:
            fut.set_result(self.ls.evaluate_points(self.plane, coords, strategy=self.strategy))
        except Exception as err:
            fut.set_exception(err)
        return fut


class _OnExecutor(_Runner):
    """A concurrent.futures executor: the job in a file, each worker loads it once."""

    def __init__(self, executor: cf.Executor, job: RenderJob, store, threads: int | None):
        self.executor = executor
        # stdlib pools keep their size as _max_workers and offer no public accessor
        workers = getattr(executor, "_max_workers", None) or 1
        self.slots = 2 * workers
        if threads is not None:
            job.threads = {"*": threads}
        elif isinstance(executor, cf.ProcessPoolExecutor):
            job.threads = {"*": -workers}
        self.token, data = dumps(job)
        folder = Path(store) / ".jobs" if store is not None else Path(tempfile.mkdtemp())
        folder.mkdir(parents=True, exist_ok=True)
        self.file = folder / f"{self.token}.pkl"
        if not self.file.exists():
            tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(self.file)

    def submit(self, indices):
        return self.executor.submit(run_tile, self.token, str(self.file), indices)

    def close(self) -> None:
        self.file.unlink(missing_ok=True)


class _OnDask(_Runner):
    """A Dask cluster: the job broadcast to every worker once, then tile tasks."""

    def __init__(self, client, job: RenderJob, threads: int | None):
        info = client.scheduler_info(n_workers=-1)["workers"]
        hosts: dict[str, int] = {}
        for w in info.values():
            hosts[w["host"]] = hosts.get(w["host"], 0) + int(w["nthreads"])
        # negative: a share of the host's cores among that many tasks
        job.threads = {"*": threads} if threads is not None else {h: -n for h, n in hosts.items()}
        self.client = client
        self.token, data = dumps(job)
        self.job = client.scatter(data, broadcast=True, hash=False)
        self.slots = 2 * max(1, sum(hosts.values()))

    def wait(self, futures: list) -> set:
        from distributed import wait  # deferred: the distributed extra is optional

        return wait(futures, return_when="FIRST_COMPLETED").done

    def submit(self, indices):
        # pure=False: a rerun of a tile is a new task, not the cached result
        return self.client.submit(run_tile, self.token, self.job, indices, pure=False)

    def close(self) -> None:
        self.client.cancel(self.job)


def _dask_client(executor):
    """The ``distributed.Client`` behind ``executor``, if any (a Client or its executor)."""
    try:
        from distributed import Client  # deferred: the distributed extra is optional
        from distributed.cfexecutor import ClientExecutor
    except ImportError:
        return None
    if isinstance(executor, Client):
        return executor
    if isinstance(executor, ClientExecutor):
        # ClientExecutor keeps its Client as _client and offers no public accessor
        return executor._client
    return None
