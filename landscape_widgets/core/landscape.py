"""The grid evaluator: loss and metrics over a plane or a line of weight space.

A :class:`Landscape` holds a fixed evaluation set, the loss, and a private
copy of the network whose weights live in one flat buffer
(:mod:`~landscape_widgets.core.network_copy`). The evaluation engines
(:mod:`~landscape_widgets.core.engines`,
:mod:`~landscape_widgets.core.sequential_engines`) compute the same numbers
in different ways; ``strategy="auto"`` times chunks of each eligible one on
the first level of the grid (:mod:`~landscape_widgets.core.grid`), keeps
the fastest and remembers it for later calls on the same kind of plane and
grid shape (:mod:`~landscape_widgets.core.strategies`). Results are scored
against the targets by :class:`~landscape_widgets.core.scoring.Scoring`.

Over 500 lines because about half are the numpydoc of the public methods.
"""

from __future__ import annotations

import copy
import numbers
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .data import materialize, resolve_device
from .engines import Loop, PlaneOnDevice, StrategyUnavailable
from .grid import MAX_GRID_POINTS, Grid, chunks, default_levels
from .network_copy import (
    BATCHNORM,
    bind_to_flat,
    output_numels,
    recompute_batchnorm,
    streamline,
)
from .planes import Line, Plane
from .results import Profile, Surface
from .scoring import LOW_PRECISION, Scoring
from .strategies import STRATEGIES, choose, first_available
from .weights import ParamLayout, as_vector

# STRATEGIES and StrategyUnavailable belong to the strategies and the engines;
# they are named here too, beside the class whose arguments they describe
__all__ = ["STRATEGIES", "Landscape", "StrategyUnavailable"]


class Landscape:
    """A model, a loss and a fixed evaluation set: loss as a function of the weights.

    Parameters
    ----------
    model : nn.Module
        The network. It is copied; the original is never modified.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the mean loss, e.g.
        ``nn.CrossEntropyLoss()`` or ``nn.MSELoss()``.
    data : (X, y) tensors, Dataset or DataLoader
        Evaluation data; a seeded subset of ``subset`` samples is fixed once.
    subset : int or None
        Number of samples to evaluate on (default 1000; None for all).
    seed : int
        Seed for choosing the subset.
    metrics : sequence of str or None
        ``"loss"`` and ``"accuracy"``; None picks accuracy when the targets
        are class labels or one-hot rows.
    bn : {"keep", "recompute"}
        BatchNorm statistics at each point: the stored ones (fast), or
        recomputed on all of ``bn_data`` (default: the evaluation data; loop
        strategy only). Recomputed statistics are those
        ``torch.optim.swa_utils.update_bn`` finds from one batch holding every
        BN sample, on any device and for any ``batch_size``
        (:func:`~landscape_widgets.core.network_copy.recompute_batchnorm`):
        one pass in train mode when the samples' largest activation fits in
        1 GiB and ``batch_size`` is ``"auto"`` or None, else one pass per BN
        layer over batches, with exact per-channel moments. ``provenance["bn_statistics"]``
        says which.
    device : "auto", "cpu", "cuda" or torch.device
    dtype : torch.dtype
        Evaluation precision of the network (default float32). With
        ``torch.bfloat16`` or ``torch.float16`` the weights, inputs and
        activations take that type while the outputs are scored in float32
        (a loss summed over many samples in bfloat16 keeps only 2-3 digits),
        and every grid records in ``provenance["precision_check"]`` the largest
        difference from float32 on up to 8 of its points. bfloat16 pays off on
        GPUs and on CPUs with bfloat16 instructions (AVX-512 BF16, AMX); on
        others the CPU emulates it and it is slower than float32
        (``benchmarks/grid_benchmark.py`` measures both).
    batch_size : int, None or "auto"
        Split the evaluation set into batches of this size; None for one
        batch. ``"auto"`` (default) keeps one batch except for convolutional
        networks on a CPU, whose batches are sized so that the largest
        activation stays near 8 MiB (cache-friendly, and reused by the
        allocator instead of being mapped afresh for every forward pass).
    memory_budget : int or None
        Bytes that one chunk of batched points may use (default 4 MiB on CPU,
        so a chunk stays in cache; 1 GiB on GPU).
    max_points : int
        The most grid points one :meth:`evaluate` or :meth:`stream` may have
        (default 4,000,000, e.g. 2000 x 2000: some 250 MB of coordinates and
        results). A larger grid is refused before anything is allocated.

    Long (~440 lines) because about half of it is the numpydoc of its public methods.

    Examples
    --------
    >>> from landscape_widgets import Landscape, Plane
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    >>> X, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    >>> ls = Landscape(net, torch.nn.CrossEntropyLoss(), (X, y))
    >>> surf = ls.evaluate(Plane.random(net, seed=0), resolution=9)
    >>> surf.loss.shape
    (9, 9)
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable,
        data,
        subset: int | None = 1000,
        seed: int = 0,
        metrics: Sequence[str] | None = None,
        bn: str = "keep",
        device="auto",
        dtype: torch.dtype = torch.float32,
        batch_size: int | str | None = "auto",
        bn_data=None,
        memory_budget: int | None = None,
        max_points: int = MAX_GRID_POINTS,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, not {type(model).__name__}")
        if bn not in ("keep", "recompute"):
            raise ValueError(f"bn must be 'keep' or 'recompute', not {bn!r}")
        if not callable(loss_fn):
            raise TypeError("loss_fn must be callable: loss_fn(outputs, targets) -> scalar")
        if isinstance(max_points, bool) or not isinstance(max_points, numbers.Integral):
            raise TypeError(f"max_points must be a whole number of grid points, not {max_points!r}")
        if max_points < 4:
            raise ValueError(f"max_points must be at least 4 (a 2 x 2 grid), not {max_points}")
        self.max_points = int(max_points)
        self.device = resolve_device(device)
        self.dtype = dtype
        self.layout = ParamLayout.of(model)
        self.model = model  # as given: optimizer runs from the map train copies of it
        self.loss_fn = loss_fn
        self.bn = bn
        self.seed = seed
        X, y = materialize(data, subset, seed)
        self.data = data  # all of it, for training that should not see only the subset
        self.subset = len(X)
        self.X = X.to(self.device, dtype if X.is_floating_point() else None)
        # outputs are scored in float32 at most reduced precisions, and so are the targets
        self.score_dtype = torch.float32 if dtype in LOW_PRECISION else dtype
        self.y = y.to(self.device, self.score_dtype if y.is_floating_point() else None)
        # float32 copies for precision_check(), kept only at a reduced precision
        self._reference = None
        self._reference_data = (X, y, bn_data) if dtype in LOW_PRECISION else None
        self.memory_budget = memory_budget or (4 << 20 if self.device.type == "cpu" else 1 << 30)

        net = streamline(copy.deepcopy(model).to(self.device, dtype).eval())
        self.has_bn = any(isinstance(m, BATCHNORM) for m in net.modules())
        if bn == "recompute" and self.has_bn:
            self.bn_X = (
                self.X
                if bn_data is None
                else materialize(bn_data, None, seed)[0].to(self.device, dtype)
            )
        self._lock = threading.Lock()
        # Writing a point's weights into `flat` is one fused op, with no
        # per-tensor copies; tied weights leave only the loop engine.
        self.flat, self.shared_weights = bind_to_flat(net, self.layout, self.device, dtype)
        self.net = net
        # On CPUs, convolutions over channels-last inputs run much faster
        # (measured 1.4-2.5x for small CNNs here); activations keep the layout.
        self.channels_last = (
            self.device.type == "cpu"
            and self.X.dim() == 4
            and any(isinstance(m, nn.Conv2d) for m in net.modules())
        )
        if self.channels_last:
            self.X = self.X.contiguous(memory_format=torch.channels_last)
        auto_batches = batch_size in ("auto", None)
        if batch_size == "auto":
            batch_size = _auto_batch_size(net, self.X, self.device)
        elif batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(
                f"batch_size must be a positive int, None or 'auto', not {batch_size!r}"
            )
        self.batch_size = batch_size if batch_size and batch_size < len(X) else None
        self.bn_statistics = "stored" if self.has_bn else "none"
        if bn == "recompute" and self.has_bn:
            # one batch is one pass; batches cost a pass per BN layer (same numbers)
            whole = max(output_numels(net, self.bn_X[:1]), default=0) * len(self.bn_X)
            fits = whole * self.bn_X.element_size() <= _BN_ONE_BATCH_BYTES
            self.bn_batch_size = None if auto_batches and fits else self.batch_size
            self.bn_statistics = "recomputed at each point (not yet run)"

        probe = self.X[: min(len(self.X), 4)].clone()
        before = probe._version
        with torch.no_grad():
            out = self.net(probe)
        # a model that modifies its input in place must get a fresh copy each time
        self.copy_input = probe._version != before
        self.scoring = Scoring(loss_fn, self.y, out, metrics)
        self.metrics = self.scoring.names
        # (plane, strategy, engine) of the last planes, see _point_engine()
        self._point_engines: list = []

    @property
    def targets(self) -> torch.Tensor | None:
        """The evaluation samples' class labels (on the device), or None for regression.

        Integer labels as given, or the argmax of one-hot rows.
        """
        return self.scoring.targets

    def output_width(self) -> int:
        """The size of the network's last output dimension (the classes of a classifier)."""
        with self._lock, torch.no_grad():
            return int(self.net(self.X[:1].clone()).shape[-1])

    # ----------------------------------------------- what the engines build on
    def batches(self, X: torch.Tensor) -> Iterator[tuple[slice, torch.Tensor]]:
        """``(slice, batch)`` pairs over ``X`` in batches of ``batch_size``."""
        step = self.batch_size or len(X)
        for s in range(0, len(X), step):
            Xb = X[s : s + step]
            yield slice(s, s + step), (Xb.clone() if self.copy_input else Xb)

    def point_metrics(self, run: Callable | None = None) -> dict[str, float]:
        """Metrics at the weights in ``flat``, by ``run(batch_slice, X_batch) -> outputs``.

        ``run`` defaults to the network's forward pass. For the engines, which
        call it holding the landscape's lock with ``flat`` set to a point.
        """
        total = {m: 0.0 for m in self.metrics}
        for sl, Xb in self.batches(self.X):
            out = self.net(Xb) if run is None else run(sl, Xb)
            vals = self.scoring.batched(out.unsqueeze(0), sl)
            w = len(Xb) / len(self.X)
            for m in self.metrics:
                total[m] += float(vals[m][0]) * w
        return total

    def recompute_bn(self) -> None:
        """Recompute the BN statistics at the weights in ``flat`` on the BN data.

        For the engines, under the landscape's lock (as :meth:`point_metrics`).
        """
        self.bn_statistics = "recomputed at each point, " + recompute_batchnorm(
            self.net, self.bn_X, self.bn_batch_size, self.copy_input
        )

    # ------------------------------------------------------------- public API
    def metrics_at(self, weights) -> dict[str, float]:
        """Loss and metrics at one weight vector (any form :func:`as_vector` takes).

        Examples
        --------
        >>> ls.metrics_at(net)["loss"]  # doctest: +SKIP
        0.69...
        """
        with self._at(weights):
            return self.point_metrics()

    def evaluate_points(
        self, plane: Plane, coords, strategy: str | None = None
    ) -> dict[str, np.ndarray]:
        """Loss and metrics at arbitrary plane coordinates, e.g. along a path.

        Parameters
        ----------
        plane : Plane
        coords : array of shape (n, 2)
            ``(x, y)`` plane coordinates.
        strategy : str or None
            One of ``STRATEGIES`` to force that engine (tiled renders name the
            one chosen for the whole grid, so every tile is computed alike);
            None takes the first batched engine that runs, without timing.

        Returns
        -------
        dict
            ``{metric: float64 array of shape (n,)}``.

        The batched strategy is kept per plane (the last few planes), so the
        repeated calls of a dragged path pay its set-up once.

        Examples
        --------
        >>> ls.evaluate_points(plane, [[0.0, 0.0], [0.5, 0.1]])["loss"]  # doctest: +SKIP
        array([0.31, 0.47])
        """
        if plane.numel != self.layout.numel:
            raise ValueError(f"the plane has {plane.numel} weights, the model {self.layout.numel}")
        pts = torch.as_tensor(np.asarray(coords, dtype=np.float64))
        if pts.dim() != 2 or pts.shape[1] != 2:
            raise ValueError(f"coords must have shape (n, 2), not {tuple(pts.shape)}")
        if strategy is not None and strategy not in STRATEGIES:
            raise ValueError(f"strategy must be None or one of {STRATEGIES}, not {strategy!r}")
        with self._lock, torch.no_grad():
            engine = self._point_engine(plane, strategy)
            out = {m: np.empty(len(pts)) for m in self.metrics}
            for s in range(0, len(pts), engine.chunk):
                vals = engine.run(pts[s : s + engine.chunk])
                for m in self.metrics:
                    out[m][s : s + engine.chunk] = vals[m].double().cpu().numpy()
        return out

    def predict(self, weights, inputs) -> torch.Tensor:
        """The network's outputs on ``inputs`` at ``weights`` (a vector, module or state_dict).

        With ``bn="recompute"`` the BatchNorm statistics are recomputed at
        those weights first, as for the loss.

        Examples
        --------
        >>> probs = ls.predict(plane.point(0.2, -0.1), grid_inputs).softmax(-1)  # doctest: +SKIP
        """
        X = torch.as_tensor(inputs).to(self.device, self.dtype)
        if self.channels_last and X.dim() == 4:
            X = X.contiguous(memory_format=torch.channels_last)
        step = self.batch_size or len(X)
        with self._at(weights):
            outs = [self.net(X[s : s + step].clone()) for s in range(0, len(X), step)]
            return torch.cat(outs).cpu()

    def evaluate(
        self,
        target: Plane | Line,
        resolution: int | tuple[int, int] = 31,
        bounds: Sequence[float] | None = None,
        margin: float | None = None,
        strategy: str = "auto",
        progress: bool | None = None,
    ) -> Surface | Profile:
        """Loss and metrics over a grid on a plane, or along a line.

        Parameters
        ----------
        target : Plane or Line
        resolution : int or (nx, ny)
            Grid points per axis.
        bounds : (xmin, xmax, ymin, ymax), or (tmin, tmax) for a line
            The window; default ``target.default_bounds(margin)``.
        margin : float
            See :meth:`Plane.default_bounds`.
        strategy : "auto" or one of ``STRATEGIES``
            ``"auto"`` times the eligible engines once per landscape, plane
            kind and grid shape and remembers the fastest;
            ``provenance["strategy_choice"]`` says "timed", "remembered",
            "forced", "only" or "rule".
        progress : bool or None
            Show a progress bar (default: for 1024 points or more).

        Returns
        -------
        Surface for a plane, Profile for a line.
        """
        (result,) = self.stream(
            target,
            resolution,
            levels=1,
            bounds=bounds,
            margin=margin,
            strategy=strategy,
            progress=progress,
        )
        return result

    def stream(
        self,
        target: Plane | Line,
        resolution: int | tuple[int, int] = 31,
        bounds: Sequence[float] | None = None,
        margin: float | None = None,
        strategy: str = "auto",
        levels: int | None = None,
        cancel: threading.Event | None = None,
        progress: bool | None = False,
    ) -> Iterator[Surface | Profile]:
        """Evaluate coarse to fine, yielding a complete-looking result per level.

        Takes :meth:`evaluate`'s arguments, and ``levels`` (default: 1 below 16
        points a side, 2 below 32, else 3) and ``cancel``.

        Level k evaluates every ``2**(L-1-k)``-th grid point (plus the last
        row and column) that is not yet known; cells not yet evaluated show
        their nearest evaluated neighbour (``result.computed`` says which are
        real). The last result has ``done=True``. Setting ``cancel`` (a
        ``threading.Event``) or closing the generator stops the work between
        chunks of points.
        """
        if strategy != "auto" and strategy not in STRATEGIES:
            raise ValueError(f"strategy must be 'auto' or one of {STRATEGIES}, not {strategy!r}")
        if target.numel != self.layout.numel:
            raise ValueError(
                f"the {target.kind} has {target.numel} weights, the model {self.layout.numel}"
            )
        grid = Grid.over(target, resolution, bounds, margin, self.metrics, self.max_points)
        if levels is None:
            levels = default_levels(grid.shape)
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        t0 = time.perf_counter()
        # Neither the lock nor no_grad may stay held across a yield: the
        # caller's code runs there, perhaps training or probing other points.
        on_device = PlaneOnDevice.of(target, self.device, self.dtype)
        chosen, timings, how = None, {}, None
        bar = None
        if progress or (progress is None and grid.size >= 1024):
            bar = tqdm(total=grid.size, desc="landscape", unit="pt", leave=False)
        try:
            for level in range(levels):
                stride = 2 ** (levels - 1 - level)
                todo = grid.todo(stride)
                if chosen is None:
                    with self._lock, torch.no_grad():
                        chosen, timings, todo, how = choose(
                            self, target, on_device, grid, todo, strategy, bar
                        )
                for chunk in chunks(todo, chosen.chunk):
                    if cancel is not None and cancel.is_set():
                        return
                    with self._lock, torch.no_grad():
                        grid.fill(chosen, chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                seconds = time.perf_counter() - t0
                prov = _provenance(self, target, chosen.name, timings, seconds, grid)
                prov["strategy_choice"] = how
                if level == levels - 1 and self.dtype in LOW_PRECISION:
                    with torch.no_grad():
                        prov["precision_check"] = self.precision_check(target, grid)
                yield grid.result(target, stride, prov, level, level == levels - 1)
        finally:
            if bar is not None:
                bar.close()

    def choose_strategy(
        self,
        target: Plane,
        resolution: int | tuple[int, int] = 16,
        bounds: Sequence[float] | None = None,
        margin: float | None = None,
    ) -> tuple[str, str]:
        """The engine ``strategy="auto"`` takes for ``target``, without evaluating a grid.

        Times the eligible engines on points of a ``resolution`` grid over the
        window (as :meth:`stream` does on its first level) and remembers the
        choice like it; the values computed while timing are dropped. For
        renders cut into tiles, which name one engine for every tile.
        Returns ``(name, how)``, ``how`` as ``provenance["strategy_choice"]``.
        """
        grid = Grid.over(target, resolution, bounds, margin, self.metrics, self.max_points)
        on_device = PlaneOnDevice.of(target, self.device, self.dtype)
        todo = grid.todo(1)
        with self._lock, torch.no_grad():
            engine, _, _, how = choose(self, target, on_device, grid, todo, "auto", None)
        return engine.name, how

    def render(self, plane: Plane, resolution: int | tuple[int, int] = 64, **options):
        """Render ``plane`` in tiles into an on-disk store, resumable and distributable.

        :func:`landscape_widgets.render.render` with this landscape: takes
        ``bounds``, ``margin``, ``store``, ``executor``, ``tile``, ``progress``,
        ``overwrite``, ``strategy``, ``device`` and ``on_tile``; returns the
        ``Surface``.

        Examples
        --------
        >>> surf = ls.render(plane, 256, store="plane.zarr")  # doctest: +SKIP
        """
        # deferred: the render layer sits above the core (and needs zarr); this
        # method is the one way down from it, named here so it reads as the API
        from ..render import render

        return render(self, plane, resolution, **options)

    def precision_check(self, target, grid, points: int = 8) -> dict:
        """The largest differences between this grid and float32 on a few of its points.

        ``points`` cells spread evenly over the grid are evaluated again with
        a float32 copy of the network (built on first use, with the same data,
        BN policy and batches) by the loop engine. Returns ``{"reference":
        "float32", "points", "max_abs_diff": {metric: d}, "max_rel_diff_loss"}``.
        """
        if self._reference is None:
            X, y, bn_data = self._reference_data
            self._reference = Landscape(
                self.model, self.loss_fn, (X, y), subset=None, metrics=self.metrics,
                bn=self.bn, device=self.device, dtype=torch.float32,
                batch_size=self.batch_size, bn_data=bn_data,
            )  # fmt: skip
        ref = self._reference
        idx = np.unique(np.linspace(0, grid.size - 1, min(points, grid.size)).round().astype(int))
        with ref._lock:
            vals = Loop(ref, PlaneOnDevice.of(target, ref.device, torch.float32)).run(
                grid.coords[idx]
            )
        diff = {m: float(np.nanmax(np.abs(grid.values[m][idx] - vals[m].numpy()), initial=0))
                for m in self.metrics}  # fmt: skip
        ref_loss = np.abs(vals["loss"].numpy())
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(grid.values["loss"][idx] - vals["loss"].numpy()) / ref_loss
        return {
            "reference": "float32",
            "points": len(idx),
            "max_abs_diff": diff,
            "max_rel_diff_loss": float(np.nanmax(rel, initial=0)),
        }

    # -------------------------------------------------------------- internals
    @contextmanager
    def _at(self, weights) -> Iterator[None]:
        """Hold the lock and no_grad with the network at ``weights`` (BN recomputed if asked)."""
        vec = as_vector(weights, self.layout).to(self.device, self.dtype)
        with self._lock, torch.no_grad():
            self.flat.copy_(vec)
            if self.bn == "recompute" and self.has_bn:
                self.recompute_bn()
            yield

    def _point_engine(self, plane: Plane, strategy: str | None = None):
        """An engine for ``plane`` without timing: ``strategy``, else batched ones first."""
        cache = self._point_engines
        for kept, name, engine in cache:
            if kept is plane and name == strategy:
                return engine
        on_device = PlaneOnDevice.of(plane, self.device, self.dtype)
        names = ("tiled", "affine", "loop") if strategy is None else (strategy,)
        engine = first_available(self, on_device, names)
        cache.append((plane, strategy, engine))
        del cache[:-4]
        return engine


def _provenance(ls: Landscape, target, strategy: str, timings: dict, seconds: float, grid) -> dict:
    """How a result was computed, for its ``provenance``."""
    prov = {
        "kind": target.kind,
        "strategy": strategy,
        "strategy_timings": {k: float(v) for k, v in timings.items()},
        "seconds": float(seconds),
        "subset": ls.subset,
        "seed": ls.seed,
        "bn": ls.bn if ls.has_bn else "none",
        "bn_statistics": ls.bn_statistics,
        "device": str(ls.device),
        "dtype": str(ls.dtype).replace("torch.", ""),
        "channels_last": ls.channels_last,
        "metrics": list(ls.metrics),
        "resolution": [grid.shape[1], grid.shape[0]],
        "nonfinite": int((~np.isfinite(grid.values["loss"][grid.done])).sum()),
    }
    if hasattr(target, "axis_names"):  # a Plane; a Line has one axis, t
        prov["axis_names"] = list(target.axis_names)
        prov["same_units"] = bool(target.same_units)
    info = getattr(target, "info", {}) or {}
    for key in ("seed", "normalization", "explained_variance", "a", "b"):
        if key in info:
            prov[f"plane_{key}"] = info[key]
    return prov


# the BN samples go through in one batch when their largest activation fits in this
_BN_ONE_BATCH_BYTES = 1 << 30


def _auto_batch_size(net: nn.Module, X: torch.Tensor, device: torch.device) -> int | None:
    """One batch, except for convolutional networks on a CPU: largest activation near 8 MiB."""
    if device.type != "cpu" or not any(
        isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) for m in net.modules()
    ):
        return None
    largest = max(output_numels(net, X[:1]), default=0) * X.element_size()
    return max(16, (8 << 20) // max(largest, 1))
