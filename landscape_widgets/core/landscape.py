"""The grid evaluator: loss and metrics over a plane or a line of weight space.

Loss over a grid costs one full forward pass over the evaluation set per
point. Several strategies compute the same numbers; which one is fastest
depends on the model and the device, so ``strategy="auto"`` times a chunk of
each eligible one on the first (coarse) level and keeps the fastest:

- ``loop``: one point at a time. The model copy's parameters are views into
  one flat buffer, so moving to a point is two fused vector ops. The only
  strategy for ``bn="recompute"`` and the always-correct fallback.
- ``vmap``: many points per call, ``torch.func.functional_call`` under
  ``torch.func.vmap`` over stacked parameter sets; chunk size from a memory
  budget. Wins on GPUs for small networks.
- ``affine``: the first layer's input does not depend on the grid point, and
  its pre-activation is linear in its weights, so
  ``f(X; W0 + x U + y V) = f(X; W0) + x f(X; U) + y f(X; V)``: three products
  once, then a cheap combination per point (Linear and Conv first layers).
- ``tiled``: for ``nn.Sequential`` MLPs, a few points at a time through
  batched matmuls into preallocated buffers, with the affine first layer.
- ``partial``: for :meth:`Plane.weights`, everything before the first changed
  parameter is computed once; when both weights feed one output unit only
  that unit is recomputed and the next layer gets a rank-one update.
"""

from __future__ import annotations

import copy
import math
import numbers
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .planes import Line, Plane, grid_axis
from .results import Profile, Surface
from .weights import ParamLayout

STRATEGIES = ("loop", "vmap", "affine", "tiled", "partial")

_ELEMENTWISE_INPLACE = {
    nn.Tanh: torch.tanh_,
    nn.Sigmoid: torch.sigmoid_,
    nn.ReLU: torch.relu_,
}
_ELEMENTWISE = (
    nn.Tanh,
    nn.Sigmoid,
    nn.ReLU,
    nn.GELU,
    nn.SiLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.Softplus,
    nn.Identity,
    nn.Dropout,
)
_BN = nn.modules.batchnorm._BatchNorm


class StrategyUnavailable(ValueError):
    """A strategy cannot evaluate this model / plane; the message says why."""


# ------------------------------------------------------------------------ data
def _materialize(data, subset: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed, seeded subset of ``data`` as two stacked tensors ``(X, y)``."""
    if (
        isinstance(data, (tuple, list))
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
    ):
        X, y = data
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
        n = len(X)
        getter = None
    else:
        if isinstance(data, torch.utils.data.DataLoader):
            data = data.dataset
        if not isinstance(data, torch.utils.data.Dataset) or not hasattr(data, "__len__"):
            raise TypeError(
                "data must be (X, y) tensors, a map-style Dataset or a DataLoader over one, "
                f"not {type(data).__name__}"
            )
        n = len(data)
        getter = data
    if n == 0:
        raise ValueError("data is empty: a landscape needs at least one sample")
    gen = torch.Generator().manual_seed(seed)
    if subset is not None and not isinstance(subset, numbers.Integral):
        raise TypeError(f"subset must be a whole number of samples or None, not {subset!r}")
    if subset is not None and subset < n:
        if subset < 1:
            raise ValueError(f"subset must be a positive number of samples, got {subset}")
        idx = torch.randperm(n, generator=gen)[:subset].sort().values
    else:
        idx = torch.arange(n)
    if getter is None:
        return X[idx], y[idx]
    items = [getter[int(i)] for i in idx]
    X = torch.stack([torch.as_tensor(it[0]) for it in items])
    y = torch.as_tensor(np.asarray([np.asarray(it[1]) for it in items]))
    return X, y


def _resolve_device(device) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# ----------------------------------------------------------------- the engine
@dataclass
class _Grid:
    """Coordinates and result arrays of one evaluation."""

    coords: torch.Tensor  # (K, 2) float64, row-major over (y, x)
    shape: tuple[int, int]  # (ny, nx)
    values: dict[str, np.ndarray]  # metric -> (K,) float64, NaN where not computed
    done: np.ndarray  # (K,) bool


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
        recomputed on ``bn_data`` (default: the evaluation data) in train mode
        as ``torch.optim.swa_utils.update_bn`` does (correct, loop only).
    device : "auto", "cpu", "cuda" or torch.device
    dtype : torch.dtype
        Evaluation precision (default float32).
    batch_size : int, None or "auto"
        Split the evaluation set into batches of this size; None for one
        batch. ``"auto"`` (default) keeps one batch except for convolutional
        networks on a CPU, whose batches are sized so that the largest
        activation stays near 8 MiB (cache-friendly, and reused by the
        allocator instead of being mapped afresh for every forward pass).
    memory_budget : int or None
        Bytes that one chunk of batched points may use (default 4 MiB on CPU,
        so a chunk stays in cache; 1 GiB on GPU).

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
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, not {type(model).__name__}")
        if bn not in ("keep", "recompute"):
            raise ValueError(f"bn must be 'keep' or 'recompute', not {bn!r}")
        if not callable(loss_fn):
            raise TypeError("loss_fn must be callable: loss_fn(outputs, targets) -> scalar")
        self.device = _resolve_device(device)
        self.dtype = dtype
        self.layout = ParamLayout.of(model)
        self.model = model  # as given: optimizer runs from the map train copies of it
        self.loss_fn = loss_fn
        self.bn = bn
        self.seed = seed
        X, y = _materialize(data, subset, seed)
        self.data = data  # all of it, for training that should not see only the subset
        self.subset = len(X)
        self.X = X.to(self.device, dtype if X.is_floating_point() else None)
        self.y = y.to(self.device, dtype if y.is_floating_point() else None)
        self.memory_budget = memory_budget or (4 << 20 if self.device.type == "cpu" else 1 << 30)

        net = _streamline(copy.deepcopy(model).to(self.device, dtype).eval())
        for p in net.parameters():
            p.requires_grad_(False)
        self.has_bn = any(isinstance(m, _BN) for m in net.modules())
        if bn == "recompute" and self.has_bn:
            self.bn_X = (
                self.X
                if bn_data is None
                else _materialize(bn_data, None, seed)[0].to(self.device, dtype)
            )
        self._lock = threading.Lock()
        # The copy's parameters become views of one flat buffer: writing a
        # point's weights is then one fused op, with no per-tensor copies.
        self._flat = torch.empty(self.layout.numel, device=self.device, dtype=dtype)
        views = self.layout.split(self._flat)
        bound = {}
        for name, p in net.named_parameters():
            views[name].copy_(p)
            bound[id(p)] = nn.Parameter(views[name], requires_grad=False)
        # every owner of a tied parameter must see the same view
        for _, mod in net.named_modules(remove_duplicate=False):
            for attr, p in list(mod._parameters.items()):
                if p is not None and id(p) in bound:
                    mod._parameters[attr] = bound[id(p)]
        n_refs = sum(
            1
            for _, m in net.named_modules(remove_duplicate=False)
            for p in m._parameters.values()
            if p is not None
        )
        # Parameters shared between modules, or modules reached under several
        # names, break the batched strategies' per-name bookkeeping: loop only.
        self.shared_weights = n_refs != len(self.layout.names)
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
        if batch_size == "auto":
            batch_size = self._auto_batch_size()
        elif batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(
                f"batch_size must be a positive int, None or 'auto', not {batch_size!r}"
            )
        self.batch_size = batch_size if batch_size and batch_size < len(X) else None

        probe = self.X[: min(len(self.X), 4)].clone()
        before = probe._version
        with torch.no_grad():
            out = self._forward(probe)
        # a model that modifies its input in place must get a fresh copy each time
        self.copy_input = probe._version != before
        self._targets = self._class_targets(out)
        fn = loss_fn
        # cross-entropy of many points at once, when it is the plain mean over
        # all targets (the targets are fixed, so this is decided once)
        self._ce_batched = (
            type(fn) is nn.CrossEntropyLoss
            and fn.weight is None
            and fn.label_smoothing == 0
            and fn.reduction == "mean"
            and not self.y.is_floating_point()
            and not bool((self.y == fn.ignore_index).any())
        )
        if metrics is None:
            metrics = ("loss", "accuracy") if self._targets is not None else ("loss",)
        metrics = tuple(metrics)
        for m in metrics:
            if m not in ("loss", "accuracy"):
                raise ValueError(f"unknown metric {m!r}; available: 'loss', 'accuracy'")
        if "accuracy" in metrics and self._targets is None:
            raise ValueError(
                "accuracy needs class-label targets (integers) or one-hot rows matching the "
                "outputs; pass metrics=('loss',) for regression"
            )
        if "loss" not in metrics:
            metrics = ("loss",) + metrics
        self.metrics = metrics
        self._first_layer = None  # see _first_layer()
        self._point_engines: list = []  # (plane, engine) of the last planes, see _point_engine()

    # ------------------------------------------------------------ basic pieces
    def _auto_batch_size(self) -> int | None:
        if self.device.type != "cpu" or not any(
            isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) for m in self.net.modules()
        ):
            return None
        largest = max(_output_numels(self.net, self.X[:1]), default=0) * self.X.element_size()
        return max(16, (8 << 20) // max(largest, 1))

    def _class_targets(self, out: torch.Tensor) -> torch.Tensor | None:
        y = self.y
        if not y.is_floating_point() and y.dim() == 1:
            return y if out.dim() == 2 and out.shape[1] > 1 else None
        if (
            y.is_floating_point()
            and y.dim() == 2
            and out.dim() == 2
            and y.shape[1] == out.shape[1] > 1
        ):
            return y.argmax(dim=1)
        return None

    def _forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X)

    def _batches(self, X: torch.Tensor):
        step = self.batch_size or len(X)
        for s in range(0, len(X), step):
            Xb = X[s : s + step]
            yield slice(s, s + step), (Xb.clone() if self.copy_input else Xb)

    def _batched_metrics(self, out: torch.Tensor, sl=slice(None)) -> dict[str, torch.Tensor]:
        """Metrics of outputs ``(B, N, ...)`` for B points at once, each ``(B,)``."""
        y = self.y[sl]
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
        if "accuracy" in self.metrics:
            res["accuracy"] = (out.argmax(dim=-1) == self._targets[sl]).to(out.dtype).mean(dim=-1)
        return res

    def _point_metrics(self, run: Callable | None = None) -> dict[str, float]:
        """Metrics at the current point, given ``run(batch_slice, X_batch) -> outputs``."""
        total = {m: 0.0 for m in self.metrics}
        for sl, Xb in self._batches(self.X):
            out = self._forward(Xb) if run is None else run(sl, Xb)
            vals = self._batched_metrics(out.unsqueeze(0), sl)
            w = len(Xb) / len(self.X)
            for m in self.metrics:
                total[m] += float(vals[m][0]) * w
        return total

    def _write_point(self, plane, x: float, y: float) -> None:
        torch.add(plane._origin_d, plane._u_d, alpha=x, out=self._flat)
        if y != 0.0:
            self._flat.add_(plane._v_d, alpha=y)

    def _recompute_bn(self) -> None:
        """Reset BN statistics and recompute them on the BN data (cumulative average)."""
        bns = [m for m in self.net.modules() if isinstance(m, _BN)]
        saved = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        self.net.train()
        try:
            for _, Xb in self._batches(self.bn_X):
                self.net(Xb)
        finally:
            self.net.eval()
            for m, mom in zip(bns, saved, strict=False):
                m.momentum = mom

    # ------------------------------------------------------------- public API
    def metrics_at(self, weights) -> dict[str, float]:
        """Loss and metrics at one weight vector (any form :func:`as_vector` takes).

        Examples
        --------
        >>> ls.metrics_at(net)["loss"]  # doctest: +SKIP
        0.69...
        """
        from .weights import as_vector

        vec = as_vector(weights, self.layout).to(self.device, self.dtype)
        with self._lock, torch.no_grad():
            self._flat.copy_(vec)
            if self.bn == "recompute" and self.has_bn:
                self._recompute_bn()
            return self._point_metrics()

    def evaluate_points(self, plane: Plane, coords) -> dict[str, np.ndarray]:
        """Loss and metrics at arbitrary plane coordinates, e.g. along a path.

        Parameters
        ----------
        plane : Plane
        coords : array of shape (n, 2)
            ``(x, y)`` plane coordinates.

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
        with self._lock, torch.no_grad():
            engine = self._point_engine(plane)
            out = {m: np.empty(len(pts)) for m in self.metrics}
            for s in range(0, len(pts), engine.chunk):
                vals = engine.run(pts[s : s + engine.chunk])
                for m in self.metrics:
                    out[m][s : s + engine.chunk] = vals[m].double().cpu().numpy()
        return out

    def _point_engine(self, plane):
        """An engine for ``plane`` without timing: the batched ones first, loop last."""
        cache = self._point_engines
        for kept, engine in cache:
            if kept is plane:
                return engine
        prepared = self._prepare(plane)
        engine = None
        for name in ("tiled", "affine", "loop"):
            try:
                engine = _ENGINES[name](self, prepared)
                break
            except StrategyUnavailable:
                continue
        cache.append((plane, engine))
        del cache[:-4]
        return engine

    def predict(self, weights, inputs) -> torch.Tensor:
        """The network's outputs on ``inputs`` at ``weights`` (a vector, module or state_dict).

        With ``bn="recompute"`` the BatchNorm statistics are recomputed at
        those weights first, as for the loss.

        Examples
        --------
        >>> probs = ls.predict(plane.point(0.2, -0.1), grid_inputs).softmax(-1)  # doctest: +SKIP
        """
        from .weights import as_vector

        vec = as_vector(weights, self.layout).to(self.device, self.dtype)
        X = torch.as_tensor(inputs).to(self.device, self.dtype)
        with self._lock, torch.no_grad():
            self._flat.copy_(vec)
            if self.bn == "recompute" and self.has_bn:
                self._recompute_bn()
            if self.channels_last and X.dim() == 4:
                X = X.contiguous(memory_format=torch.channels_last)
            step = self.batch_size or len(X)
            outs = [self._forward(X[s : s + step].clone()) for s in range(0, len(X), step)]
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
        progress : bool or None
            Show a progress bar (default: for 1024 points or more).

        Returns
        -------
        Surface for a plane, Profile for a line.
        """
        (result,) = self.stream(
            target, resolution, bounds, margin, strategy, levels=1, progress=progress
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
        is_line = isinstance(target, Line)
        if isinstance(resolution, numbers.Integral):
            nx = ny = int(resolution)
        else:
            nx, ny = (int(r) for r in resolution)
        if is_line:
            ny = 1
        lo_hi = tuple(bounds) if bounds is not None else target.default_bounds(margin)
        if is_line:
            if len(lo_hi) != 2:
                raise ValueError("bounds for a line are (tmin, tmax)")
            xs = grid_axis(lo_hi[0], lo_hi[1], nx)
            ys = torch.zeros(1, dtype=torch.float64)
        else:
            if len(lo_hi) != 4:
                raise ValueError("bounds for a plane are (xmin, xmax, ymin, ymax)")
            xs = grid_axis(lo_hi[0], lo_hi[1], nx)
            ys = grid_axis(lo_hi[2], lo_hi[3], ny)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        coords = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
        grid = _Grid(
            coords,
            (ny, nx),
            {m: np.full(nx * ny, np.nan) for m in self.metrics},
            np.zeros(nx * ny, dtype=bool),
        )
        if levels is None:
            levels = max(1, min(3, int(math.log2(max(nx, ny) / 8)) + 1))
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        t0 = time.perf_counter()
        # Neither the lock nor no_grad may stay held across a yield: the
        # caller's code runs there, perhaps training or probing other points.
        with self._lock, torch.no_grad():
            plane = self._prepare(target)
            engines = self._candidates(plane, strategy)
        chosen, timings = None, {}
        bar = None
        if progress or (progress is None and nx * ny >= 1024):
            from tqdm.auto import tqdm

            bar = tqdm(total=nx * ny, desc="landscape", unit="pt", leave=False)
        try:
            for level in range(levels):
                stride = 2 ** (levels - 1 - level)
                todo = np.flatnonzero(_level_mask(ny, nx, stride) & ~grid.done)
                if chosen is None:
                    with self._lock, torch.no_grad():
                        chosen, timings, todo = self._choose(engines, grid, todo, bar)
                for chunk in _chunks(todo, chosen.chunk):
                    if cancel is not None and cancel.is_set():
                        return
                    with self._lock, torch.no_grad():
                        self._run(chosen, grid, chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                seconds = time.perf_counter() - t0
                prov = self._provenance(target, chosen.name, timings, seconds, grid)
                done = level == levels - 1
                yield _result(target, xs, ys, grid, stride, prov, level, done, is_line)
        finally:
            if bar is not None:
                bar.close()

    # -------------------------------------------------------------- internals
    def _prepare(self, target):
        """Copy the plane's vectors to the device once per evaluation."""
        dev = dict(device=self.device, dtype=self.dtype)
        prepared = copy.copy(target)  # the caller's object stays untouched
        prepared._origin_d = target.origin.to(**dev)
        prepared._u_d = target.u.to(**dev)
        prepared._v_d = target.v.to(**dev)
        return prepared

    def _candidates(self, plane, strategy: str) -> list:
        names = STRATEGIES if strategy == "auto" else (strategy,)
        engines, reasons = [], {}
        for name in names:
            try:
                engines.append(_ENGINES[name](self, plane))
            except StrategyUnavailable as err:
                reasons[name] = str(err)
        if not engines:
            raise StrategyUnavailable(f"strategy {strategy!r} cannot run here: {reasons[strategy]}")
        return engines

    def _run(self, engine, grid: _Grid, idx: np.ndarray) -> None:
        vals = engine.run(grid.coords[idx])
        for m in self.metrics:
            grid.values[m][idx] = vals[m].double().cpu().numpy()
        grid.done[idx] = True

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _choose(self, engines, grid: _Grid, todo: np.ndarray, bar):
        """Time one chunk of each engine on points of the first level; keep the fastest."""
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
                self._sync()
                t = time.perf_counter()
                self._run(eng, grid, chunk)
                self._sync()
                per_point.append((time.perf_counter() - t) / len(chunk))
                if bar is not None:
                    bar.update(len(chunk))
            if per_point:
                # the minimum is robust to the random stalls of shared machines
                timings[eng.name] = min(per_point)
        timed = [e for e in engines if e.name in timings]
        best = min(timed, key=lambda e: timings[e.name]) if timed else engines[0]
        return best, timings, todo[pos:]

    def _provenance(self, target, strategy, timings, seconds, grid) -> dict:
        prov = {
            "kind": target.kind,
            "strategy": strategy,
            "strategy_timings": {k: float(v) for k, v in timings.items()},
            "seconds": float(seconds),
            "subset": self.subset,
            "seed": self.seed,
            "bn": self.bn if self.has_bn else "none",
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
            "channels_last": self.channels_last,
            "metrics": list(self.metrics),
            "resolution": [grid.shape[1], grid.shape[0]],
            "nonfinite": int((~np.isfinite(grid.values["loss"][grid.done])).sum()),
        }
        info = getattr(target, "info", {}) or {}
        for key in ("seed", "normalization", "explained_variance", "a", "b"):
            if key in info:
                prov[f"plane_{key}"] = info[key]
        return prov


_MONOTONE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)
_FRESH_OUTPUT = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.Linear,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool2d,
    _BN,
)


def _streamline(net: nn.Module) -> nn.Module:
    """Exact rewrites of the private model copy that save work per forward pass.

    In every ``nn.Sequential``: a monotone activation followed by max pooling
    is swapped (``pool(act(x)) == act(pool(x))``, on a quarter of the
    elements for 2x2 pooling), and a ReLU after a layer that makes a fresh
    tensor runs in place (no allocation). Parameters are untouched.
    """
    uses: dict[int, int] = {}
    for _, m in net.named_modules(remove_duplicate=False):
        uses[id(m)] = uses.get(id(m), 0) + 1
    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        keys = list(seq._modules.keys())
        for a, b in zip(keys, keys[1:], strict=False):
            act, pool = seq._modules[a], seq._modules[b]
            monotone = isinstance(act, _MONOTONE) and getattr(act, "negative_slope", 0.0) >= 0
            if monotone and isinstance(pool, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
                seq._modules[a], seq._modules[b] = pool, act
        for a, b in zip(keys, keys[1:], strict=False):
            relu, before = seq._modules[b], seq._modules[a]
            # a ReLU shared with other call sites may see tensors needed later
            if (
                isinstance(relu, nn.ReLU)
                and isinstance(before, _FRESH_OUTPUT)
                and uses[id(relu)] == 1
            ):
                relu.inplace = True
    return net


def _level_mask(ny: int, nx: int, stride: int) -> np.ndarray:
    def axis(n):
        keep = np.zeros(n, dtype=bool)
        keep[::stride] = True
        keep[-1] = True
        return keep

    return (axis(ny)[:, None] & axis(nx)[None, :]).reshape(-1)


def _nearest_known(n: int, stride: int) -> np.ndarray:
    """For each index, the nearest index on the stride grid (which includes n - 1)."""
    known = np.unique(np.r_[np.arange(0, n, stride), n - 1])
    pos = np.searchsorted(known, np.arange(n))
    lo = known[np.clip(pos - 1, 0, len(known) - 1)]
    hi = known[np.clip(pos, 0, len(known) - 1)]
    idx = np.arange(n)
    return np.where(np.abs(idx - lo) <= np.abs(hi - idx), lo, hi)


def _result(target, xs, ys, grid: _Grid, stride, prov, level, done, is_line):
    ny, nx = grid.shape
    vals = {m: v.reshape(ny, nx) for m, v in grid.values.items()}
    computed = grid.done.reshape(ny, nx).copy()
    if not done:
        iy, ix = _nearest_known(ny, stride), _nearest_known(nx, stride)
        vals = {m: v[np.ix_(iy, ix)] for m, v in vals.items()}
    if is_line:
        return Profile(
            xs.numpy(),
            vals["loss"][0].copy(),
            {m: v[0].copy() for m, v in vals.items()},
            dict(target.anchors),
            prov,
        )
    return Surface(
        xs.numpy(),
        ys.numpy(),
        vals["loss"].copy(),
        {m: v.copy() for m, v in vals.items()},
        dict(target.anchors),
        prov,
        level,
        done,
        None if done else computed,
    )


def _chunks(idx: np.ndarray, size: int):
    for s in range(0, len(idx), size):
        yield idx[s : s + size]


def _coords3(coords: torch.Tensor, device, dtype) -> torch.Tensor:
    """(B, 2) plane coordinates -> (B, 3) rows [1, x, y] for combining [base; U; V]."""
    c = torch.ones(len(coords), 3, dtype=torch.float64)
    c[:, 1:] = coords
    return c.to(device=device, dtype=dtype)


# ----------------------------------------------------------------- strategies
class _Loop:
    """One point at a time; the always-correct fallback."""

    name = "loop"
    chunk = 4

    def __init__(self, ls: Landscape, plane):
        self.ls, self.plane = ls, plane

    def run(self, coords: torch.Tensor) -> dict[str, torch.Tensor]:
        ls = self.ls
        out = {m: torch.empty(len(coords), dtype=torch.float64) for m in ls.metrics}
        recompute = ls.bn == "recompute" and ls.has_bn
        for k, (x, y) in enumerate(coords.tolist()):
            ls._write_point(self.plane, x, y)
            if recompute:
                ls._recompute_bn()
            vals = self.point(x, y)
            for m in ls.metrics:
                out[m][k] = vals[m]
        return out

    def point(self, x, y):
        return self.ls._point_metrics()


def _needs_loop(ls: Landscape, what: str) -> None:
    if ls.bn == "recompute" and ls.has_bn:
        raise StrategyUnavailable(f"{what}: BN statistics recomputed per point need the loop")
    if ls.shared_weights:
        raise StrategyUnavailable(f"{what}: tied or reused parameters need the loop")


def _first_layer(ls: Landscape) -> tuple[str, nn.Module, torch.Tensor]:
    """The first parametrised module, if it is a Linear/Conv, and its input.

    No parameter is used before that module runs, so its input is a function
    of the data alone and the same at every grid point, and for every plane:
    found once per landscape (it costs a forward pass).
    """
    if ls._first_layer is None:
        try:
            ls._first_layer = _find_first_layer(ls)
        except StrategyUnavailable as err:
            ls._first_layer = err
    if isinstance(ls._first_layer, StrategyUnavailable):
        raise ls._first_layer
    return ls._first_layer


def _find_first_layer(ls: Landscape) -> tuple[str, nn.Module, torch.Tensor]:
    seen = []
    calls = []

    def hook(mod, inputs):
        if not seen:
            seen.append((mod, inputs[0]))
        if mod is seen[0][0]:
            calls.append(1)

    handles = [
        m.register_forward_pre_hook(hook)
        for m in ls.net.modules()
        if any(True for _ in m.parameters(recurse=False))
    ]
    inputs = []
    try:
        for _, Xb in ls._batches(ls.X):
            seen.clear()
            ls.net(Xb)
            if seen:
                inputs.append(seen[0][1].detach().clone())
    finally:
        for h in handles:
            h.remove()
    if not seen:
        raise StrategyUnavailable("the model has no parametrised module")
    mod = seen[0][0]
    if len(calls) > len(inputs):
        raise StrategyUnavailable("the first layer runs more than once per forward pass")
    inp = torch.cat(inputs)
    ok = isinstance(mod, nn.Linear) or (
        isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and mod.padding_mode == "zeros"
    )
    if not ok or set(dict(mod.named_parameters()).keys()) - {"weight", "bias"}:
        raise StrategyUnavailable(f"the first layer is a {type(mod).__name__}, not a Linear/Conv")
    name = next(n for n, m in ls.net.named_modules() if m is mod)
    return name, mod, inp


def _apply_layer(mod: nn.Module, X, weight, bias):
    if isinstance(mod, nn.Linear):
        return F.linear(X, weight, bias)
    return mod._conv_forward(X, weight, bias)


def _affine_parts(
    ls: Landscape, plane, name: str, mod: nn.Module, inp: torch.Tensor
) -> torch.Tensor:
    """(3, N, ...) stack of the first layer's output for the origin, u and v."""
    prefix = f"{name}." if name else ""
    parts = []
    for vec in (plane._origin_d, plane._u_d, plane._v_d):
        params = ls.layout.split(vec)
        w = params[prefix + "weight"]
        b = params.get(prefix + "bias")
        parts.append(_apply_layer(mod, inp, w, b))
    return torch.stack(parts)


class _Affine(_Loop):
    """Loop with the first layer's output combined from three precomputed products."""

    name = "affine"

    def __init__(self, ls: Landscape, plane):
        super().__init__(ls, plane)
        _needs_loop(ls, "affine")
        self.mod_name, self.mod, inp = _first_layer(ls)
        self.parts = _affine_parts(ls, plane, self.mod_name, self.mod, inp)  # (3, N, ...)
        n = ls.batch_size or len(ls.X)
        self.pre = torch.empty_like(self.parts[0][:n])

    def point(self, x, y):
        def run(sl, Xb):
            pre = self.pre[: len(Xb)]
            torch.add(self.parts[0][sl], self.parts[1][sl], alpha=x, out=pre)
            if y != 0.0:
                pre.add_(self.parts[2][sl], alpha=y)
            # the first layer returns the combined output instead of recomputing it
            self.mod.forward = lambda _inp: pre
            try:
                return self.ls._forward(Xb)
            finally:
                del self.mod.forward

        return self.ls._point_metrics(run)


class _Vmap:
    """Many points per call: functional_call under vmap over stacked weights."""

    name = "vmap"

    def __init__(self, ls: Landscape, plane):
        _needs_loop(ls, "vmap")
        self.ls, self.plane = ls, plane
        per_point = 4 * (ls.layout.numel + _activation_numel(ls))
        self.chunk = int(max(1, min(256, ls.memory_budget // max(per_point, 1))))
        self.basis = torch.stack([plane._origin_d, plane._u_d, plane._v_d])  # (3, P)
        self.buffers = dict(ls.net.named_buffers())

        def one(params, X):
            return torch.func.functional_call(ls.net, (params, self.buffers), (X,))

        self.batched = torch.func.vmap(one, in_dims=(0, None))

    def run(self, coords):
        ls = self.ls
        W = _coords3(coords, ls.device, ls.dtype) @ self.basis  # (B, P)
        params = ls.layout.split(W)
        total = {m: torch.zeros(len(coords), dtype=torch.float64) for m in ls.metrics}
        for sl, Xb in ls._batches(ls.X):
            with warnings.catch_warnings():
                # ops without a batching rule fall back to a loop; the timing
                # of strategy="auto" already accounts for that, so stay quiet
                warnings.filterwarnings("ignore", message=".*batching rule.*")
                warnings.filterwarnings("ignore", message="There is a performance drop")
                out = self.batched(params, Xb)  # (B, n, ...)
            vals = ls._batched_metrics(out, sl)
            for m in ls.metrics:
                total[m] += vals[m].double().cpu() * (len(Xb) / len(ls.X))
        return total


def _output_numels(net: nn.Module, X: torch.Tensor) -> list[int]:
    """Elements of each leaf module's output in one forward pass over ``X``."""
    sizes = []

    def hook(_m, _i, out):
        if isinstance(out, torch.Tensor):
            sizes.append(out.numel())

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    try:
        net(X.clone())  # the model may modify its input in place
    finally:
        for h in handles:
            h.remove()
    return sizes


def _activation_numel(ls: Landscape) -> int:
    """Elements of all module outputs in one forward pass over one batch."""
    n = len(ls.X) if ls.batch_size is None else ls.batch_size
    return sum(_output_numels(ls.net, ls.X[:1])) * n


class _Tiled:
    """nn.Sequential MLPs: a few points at a time through batched matmuls.

    The first Linear is factored as in ``affine``; each later Linear forms the
    chunk's weights ``W0 + x U + y V`` (B small matrices) and one ``baddbmm``
    into a preallocated buffer; activations run in place.
    """

    name = "tiled"

    def __init__(self, ls: Landscape, plane):
        _needs_loop(ls, "tiled")
        net = ls.net
        if not isinstance(net, nn.Sequential):
            raise StrategyUnavailable("tiled evaluation needs an nn.Sequential model")
        if ls.batch_size is not None:
            raise StrategyUnavailable("tiled evaluation needs the evaluation set in one batch")
        layers = list(net.named_children())
        while layers and isinstance(layers[0][1], nn.Flatten):
            layers = layers[1:]
        if not layers or not isinstance(layers[0][1], nn.Linear):
            raise StrategyUnavailable("tiled evaluation needs a Linear first layer")
        for _, m in layers:
            if not isinstance(m, (nn.Linear,) + _ELEMENTWISE):
                raise StrategyUnavailable(f"tiled evaluation cannot run a {type(m).__name__}")
        self.ls, self.plane, self.layers = ls, plane, layers
        _, first_mod, X = _first_layer(ls)
        if first_mod is not layers[0][1] or X.dim() != 2:
            raise StrategyUnavailable(
                "tiled evaluation needs (N, features) inputs to the first Linear"
            )
        self.N = len(X)
        widths = [m.out_features for _, m in layers if isinstance(m, nn.Linear)]
        # 4-8 points per chunk keep activations in cache on CPUs
        self.chunk = int(max(4, min(64, ls.memory_budget // (4 * self.N * max(widths)))))
        basis = dict(zip("ouv", (plane._origin_d, plane._u_d, plane._v_d), strict=True))
        split = {k: ls.layout.split(v) for k, v in basis.items()}
        self.linears = []  # per Linear: (weight basis (3, out*in), bias basis (3, out) or None)
        for name, m in layers:
            if isinstance(m, nn.Linear):
                wb = torch.stack([split[k][f"{name}.weight"].reshape(-1) for k in "ouv"])
                bb = (
                    torch.stack([split[k][f"{name}.bias"] for k in "ouv"])
                    if m.bias is not None
                    else None
                )
                self.linears.append((m, wb, bb))
        first, wb, bb = self.linears[0]
        parts = torch.stack(
            [
                F.linear(
                    X,
                    wb[k].view(first.out_features, first.in_features),
                    None if bb is None else bb[k],
                )
                for k in range(3)
            ]
        )  # (3, N, H)
        self.first_parts = parts.reshape(3, -1)
        self._buffers: dict[tuple, torch.Tensor] = {}

    def _buf(self, key, shape):
        b = self._buffers.get(key)
        if b is None or b.shape != shape:
            b = torch.empty(shape, device=self.ls.device, dtype=self.ls.dtype)
            self._buffers[key] = b
        return b

    def run(self, coords):
        ls = self.ls
        B = len(coords)
        c3 = _coords3(coords, ls.device, ls.dtype)  # (B, 3)
        first = self.linears[0][0]
        h = self._buf(("pre", 0), (B, self.N, first.out_features))
        torch.mm(c3, self.first_parts, out=h.view(B, -1))
        li = 1
        for _i, (_, m) in enumerate(self.layers[1:], start=1):
            if isinstance(m, nn.Linear):
                _, wb, bb = self.linears[li]
                W = self._buf(("w", li), (B, m.out_features * m.in_features))
                torch.mm(c3, wb, out=W)
                Wt = W.view(B, m.out_features, m.in_features).transpose(1, 2)
                out = self._buf(("pre", li), (B, self.N, m.out_features))
                if bb is not None:
                    bias = (c3 @ bb).unsqueeze(1)  # (B, 1, out)
                    torch.baddbmm(bias, h, Wt, out=out)
                else:
                    torch.bmm(h, Wt, out=out)
                h = out
                li += 1
            else:
                inplace = _ELEMENTWISE_INPLACE.get(type(m))
                h = inplace(h) if inplace is not None else m(h)
        vals = ls._batched_metrics(h)
        return {k: v.double().cpu() for k, v in vals.items()}


class _Partial:
    """Plane.weights: reuse everything the two changed weights cannot affect."""

    name = "partial"

    def __init__(self, ls: Landscape, plane):
        _needs_loop(ls, "partial")
        if getattr(plane, "kind", None) != "weights":
            raise StrategyUnavailable("partial evaluation is for Plane.weights planes")
        net = ls.net
        if not isinstance(net, nn.Sequential):
            raise StrategyUnavailable("partial evaluation needs an nn.Sequential model")
        if ls.batch_size is not None:
            raise StrategyUnavailable("partial evaluation needs the evaluation set in one batch")
        self.ls, self.plane = ls, plane
        (pa, ia), (pb, ib) = plane.info["a"], plane.info["b"]
        self.flat_a, self.flat_b = plane.info["flat_index"]
        children = list(net.named_children())
        owner = {}
        for k, (cname, child) in enumerate(children):
            for pname, _ in child.named_parameters():
                owner[f"{cname}.{pname}"] = k
        self.k = min(owner[pa], owner[pb])
        # everything before the first changed layer runs once, at the origin
        ls._write_point(plane, 0.0, 0.0)
        self.children = [c for _, c in children]
        h = ls.X.clone() if ls.copy_input else ls.X
        for c in self.children[: self.k]:
            h = c(h)
        self.h_in = h
        self.row_case = None
        layer = self.children[self.k]
        cname = children[self.k][0]
        # the row case runs the later layers on (B, N, features) tensors, so
        # every one of them must act on the last axis alone
        last_axis_only = all(
            isinstance(c, (nn.Linear,) + _ELEMENTWISE) for c in self.children[self.k + 1 :]
        )
        # a first changed layer that is not Linear/Conv may modify its input in place
        self.copy_h_in = not isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))
        same_unit = (
            last_axis_only
            and self.h_in.dim() == 2
            and isinstance(layer, nn.Linear)
            and owner[pa] == owner[pb] == self.k
            and _unit(pa, ia, cname) is not None
            and _unit(pa, ia, cname) == _unit(pb, ib, cname)
        )
        self.chunk = 1
        if same_unit:
            self._setup_row_case(layer, cname, (pa, ia), (pb, ib))
            # points per chunk: the widest tensor after the change fits the budget
            width = self.row_case["width"]
            self.chunk = int(max(1, min(64, ls.memory_budget // (4 * len(ls.X) * width))))

    def _setup_row_case(self, layer, cname, a, b):
        i = _unit(a[0], a[1], cname)
        h = self.h_in
        base = layer(h)  # (N, out) with both weights zero
        # each changed weight scales one input column (or 1 for a bias entry)
        cols = [
            h[:, spec[1][1]] if spec[0].endswith("weight") else torch.ones_like(h[:, 0])
            for spec in (a, b)
        ]
        j = self.k + 1
        acts = []
        while j < len(self.children) and isinstance(self.children[j], _ELEMENTWISE):
            acts.append(self.children[j])
            j += 1
        act_base = base.clone()  # activations may run in place
        for m in acts:
            act_base = m(act_base)
        nxt = self.children[j] if j < len(self.children) else None
        self.row_case = dict(
            i=i,
            base=base,
            cols=torch.stack(cols),
            acts=acts,
            act_base=act_base,
            j=j,
            width=base.shape[-1],
        )
        if isinstance(nxt, nn.Linear):
            # the next layer sees a change in one input only: a rank-one update
            self.row_case.update(
                next_base=nxt(act_base),
                next_col=nxt.weight[:, i].clone(),
                j=j + 1,
                width=nxt.out_features,
            )
        self._buf = None

    def run(self, coords):
        ls = self.ls
        # the layers after the changed one read their weights from the flat
        # buffer, which another caller may have moved since the last chunk
        ls._write_point(self.plane, 0.0, 0.0)
        if self.row_case is None:
            return self._run_general(coords)
        rc = self.row_case
        c = coords.to(ls.device, ls.dtype)  # (B, 2)
        col = rc["base"][:, rc["i"]] + c @ rc["cols"]  # (B, N)
        for m in rc["acts"]:
            col = m(col)
        if "next_base" in rc:
            delta = col - rc["act_base"][:, rc["i"]]  # (B, N)
            base, shape = rc["next_base"], (len(c), *rc["next_base"].shape)
            if self._buf is None or self._buf.shape != shape:
                self._buf = torch.empty(shape, device=ls.device, dtype=ls.dtype)
            h = torch.addcmul(
                base, delta.unsqueeze(-1), rc["next_col"], out=self._buf
            )  # (B, N, out)
        else:
            h = rc["act_base"].expand(len(c), *rc["act_base"].shape).clone()
            h[..., rc["i"]] = col
        for m in self.children[rc["j"] :]:
            inplace = _ELEMENTWISE_INPLACE.get(type(m))
            h = inplace(h) if inplace is not None else m(h)
        vals = ls._batched_metrics(h)
        return {k: v.double().cpu() for k, v in vals.items()}

    def _run_general(self, coords):
        ls = self.ls
        out = {m: torch.empty(len(coords), dtype=torch.float64) for m in ls.metrics}
        rest = self.children[self.k :]
        for n, (x, y) in enumerate(coords.tolist()):
            ls._flat[self.flat_a] = x
            ls._flat[self.flat_b] = y
            h = self.h_in.clone() if self.copy_h_in else self.h_in
            for m in rest:
                h = m(h)
            vals = ls._batched_metrics(h.unsqueeze(0))
            for k in ls.metrics:
                out[k][n] = float(vals[k][0])
        return out


def _unit(pname: str, index: Sequence[int], cname: str) -> int | None:
    """The output unit a Linear's weight (row) or bias entry feeds."""
    if pname == f"{cname}.weight" and len(index) == 2:
        return index[0]
    if pname == f"{cname}.bias" and len(index) == 1:
        return index[0]
    return None


_ENGINES = {"loop": _Loop, "vmap": _Vmap, "affine": _Affine, "tiled": _Tiled, "partial": _Partial}
