#!/usr/bin/env python
"""Benchmark of the grid evaluator against the naive loop and `loss-landscapes`.

Everything runs in one process, on the same plane and the same data for every
method of a case:

* ``naive``: for each grid point write the point's weights into the model with
  ``torch.nn.utils.vector_to_parameters``, one forward pass over the evaluation
  set, the loss. This is what the established tools do.
* ``loss-landscapes`` (PyPI ``loss-landscapes`` 3.0.6, installed by
  ``benchmarks/setup.sh`` into ``benchmarks/.deps``; never a dependency of the
  package), in two ways:

  - ``planar_interpolation`` handed *our* plane: its start point and two end
    points are chosen so that it walks our grid. It visits a zig-zag: column
    ``i`` (``x = x0 + i*h``) goes up on even ``i`` and down on odd ``i``, and
    because it steps before evaluating on the way up and after on the way down,
    the even columns visit ``y0 + j*h`` (j = 0..R-1, our grid) while the odd
    columns visit ``y0 + (j-1)*h`` (one step lower: ``R-1`` of our rows plus one
    point below the window). Its values are compared with ours at the shared
    points and with the naive loop at every point it actually visits.
  - ``random_plane`` with its own random directions (uniform [0, 1) draws, its
    own filter normalisation, rescaled to a total step of
    ``|theta| / distance / steps``). Its directions are rebuilt by replaying its
    RNG draws with its own helper functions; a recording run checks that the
    weights it visits are ``theta + (i - S/2) d1 + (b - S/2) d2`` with
    ``b = j + 1`` on even columns and ``b = j`` on odd ones, and the naive loop
    and our evaluator (on a Plane built from those directions) are compared
    with it at exactly those points.

* ``ours``: ``Landscape(model, loss_fn, (X, y), subset=N).evaluate(plane,
  resolution=R, bounds=..., strategy=...)`` with ``strategy="auto"`` and each
  forced strategy; a strategy that declines a case (ValueError /
  NotImplementedError) is reported as n/a.

Methods run in a shuffled order in each of ``--rounds`` rounds and the median
is reported (shared machines stall at random). Our time is also given as a
multiple of the FLOP floor: the FLOPs of one forward pass over the evaluation
set (``torch.utils.flop_counter.FlopCounterMode``) times the number of grid
points, divided by a float32 matmul rate measured in the same run on the same
threads.

Usage::

    benchmarks/setup.sh                       # once: loss-landscapes into benchmarks/.deps
    .venv/bin/python benchmarks/grid_benchmark.py --rounds 3
    .venv/bin/python benchmarks/grid_benchmark.py --cases 1,2 --quick --json out.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEPS = HERE / ".deps"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

STRATEGIES = ("loop", "vmap", "affine", "tiled", "partial")


# =============================================================================
# optional imports: the project (may be partly written) and loss-landscapes


def _try_import(name: str):
    try:
        return __import__(name, fromlist=["_"])
    except Exception as err:  # noqa: BLE001 - any failure means "not available"
        return err


def project_api():
    """(Landscape, Plane) from landscape_widgets, or the reason they are missing."""
    lw = _try_import("landscape_widgets")
    if isinstance(lw, Exception):
        return None, None, f"landscape_widgets does not import: {lw!r}"
    landscape = getattr(lw, "Landscape", None)
    plane = getattr(lw, "Plane", None)
    if plane is None:
        planes = _try_import("landscape_widgets.core.planes")
        plane = None if isinstance(planes, Exception) else getattr(planes, "Plane", None)
    why = None if landscape is not None else "landscape_widgets has no Landscape yet"
    return landscape, plane, why


def loss_landscapes_api():
    """The loss_landscapes module from benchmarks/.deps, or the reason it is missing."""
    if DEPS.is_dir() and str(DEPS) not in sys.path:
        sys.path.append(str(DEPS))  # appended: never shadows the venv's numpy/torch
    ll = _try_import("loss_landscapes")
    if isinstance(ll, Exception):
        return None, f"loss-landscapes not importable ({ll!r}); run benchmarks/setup.sh"
    return ll, None


# =============================================================================
# models and data: the project's where they exist, local stand-ins meanwhile


def _models_module():
    mod = _try_import("landscape_widgets.models")
    return None if isinstance(mod, Exception) else mod


def _datasets_module():
    mod = _try_import("landscape_widgets.datasets")
    return None if isinstance(mod, Exception) else mod


class _LocalBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.short(x))


class _LocalResNet20(nn.Module):
    """Stand-in CIFAR ResNet-20 (3 stages x 3 basic blocks, 16/32/64 channels)."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for k in range(3):
                blocks.append(_LocalBasicBlock(cin, cout, stride if k == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


def make_model(kind: str) -> tuple[nn.Module, str]:
    """The project's reference model if ``landscape_widgets.models`` has it, else a stand-in."""
    models = _models_module()
    fn = getattr(models, kind, None) if models is not None else None
    if fn is not None:
        return fn(), f"landscape_widgets.models.{kind}()"
    if kind == "teaching_mlp":
        m = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 50, bias=False),
            nn.Sigmoid(),
            nn.Linear(50, 500, bias=False),
            nn.Sigmoid(),
            nn.Linear(500, 10, bias=False),
            nn.Sigmoid(),
        )
    elif kind == "small_mlp":
        m = nn.Sequential(
            nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2)
        )
    elif kind == "small_cnn":
        m = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 8 * 8, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )
    elif kind == "resnet20":
        m = _LocalResNet20()
    else:
        raise KeyError(kind)
    return m, f"local stand-in for {kind} (landscape_widgets.models not available)"


def make_data(kind: str, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, str]:
    ds = _datasets_module()
    fn = getattr(ds, kind, None) if ds is not None else None
    if fn is not None:
        X, y = fn(n, seed=seed)
        return X, y, f"landscape_widgets.datasets.{kind}({n}, seed={seed})"
    g = torch.Generator().manual_seed(seed)
    if kind == "spirals":
        X, y = torch.randn(n, 2, generator=g), torch.randint(0, 2, (n,), generator=g)
    elif kind == "digits":
        X, y = torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    elif kind == "images":
        X, y = torch.rand(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    else:
        raise KeyError(kind)
    return X, y, f"local random tensors shaped like datasets.{kind}"


# =============================================================================
# planes as plain (origin, u, v) vectors, so the naive loop needs no project code


@dataclass
class PlaneVecs:
    origin: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    obj: object = None  # the project's Plane, when there is one
    note: str = ""

    def point(self, x: float, y: float) -> torch.Tensor:
        return self.origin + x * self.u + y * self.v


def random_filter_plane(model: nn.Module, seed: int) -> PlaneVecs:
    _, Plane, _ = project_api()
    if Plane is not None:
        p = Plane.random(model, normalization="filter", ignore=("bias", "bn"), seed=seed)
        return PlaneVecs(
            p.origin, p.u, p.v, p, f"Plane.random(filter, ignore bias+bn, seed={seed})"
        )
    # stand-in: Gaussian directions, each row (output unit / filter) scaled to the
    # norm of the same row of the weights, 1-D parameters (biases, BN) zeroed
    g = torch.Generator().manual_seed(seed)
    theta = parameters_to_vector(model.parameters()).detach().float()
    dirs = []
    for _ in range(2):
        parts = []
        for p in model.parameters():
            if p.dim() <= 1:
                parts.append(torch.zeros(p.numel()))
                continue
            d = torch.randn(p.shape, generator=g).reshape(p.shape[0], -1)
            t = p.detach().reshape(p.shape[0], -1)
            parts.append(
                (d * (t.norm(dim=1, keepdim=True) / d.norm(dim=1, keepdim=True))).reshape(-1)
            )
        dirs.append(torch.cat(parts))
    return PlaneVecs(theta, dirs[0], dirs[1], None, "local filter-normalised plane (no Plane yet)")


def weights_plane(model: nn.Module, a, b) -> tuple[PlaneVecs, tuple[float, float]]:
    """Plane.weights (coordinates = the two weights' values) and the model's own point."""
    _, Plane, _ = project_api()
    if Plane is not None:
        p = Plane.weights(model, a, b)
        return PlaneVecs(p.origin, p.u, p.v, p, f"Plane.weights({a}, {b})"), p.anchors["theta"]
    names = [n for n, _ in model.named_parameters()]
    theta = parameters_to_vector(model.parameters()).detach().float()
    offsets, off = {}, 0
    for n, p in model.named_parameters():
        offsets[n] = (off, p.shape)
        off += p.numel()
    flat = []
    for name, idx in (a, b):
        assert name in names, name
        o, shape = offsets[name]
        flat.append(o + int(np.ravel_multi_index(idx, tuple(shape))))
    origin = theta.clone()
    origin[flat] = 0.0
    u, v = torch.zeros_like(theta), torch.zeros_like(theta)
    u[flat[0]], v[flat[1]] = 1.0, 1.0
    return PlaneVecs(origin, u, v, None, "local weights plane"), (
        float(theta[flat[0]]),
        float(theta[flat[1]]),
    )


def plane_from_vectors(origin, u, v, note: str) -> PlaneVecs:
    """A project Plane with exactly these vectors (for loss-landscapes' own directions)."""
    _, Plane, _ = project_api()
    obj = None
    if Plane is not None:
        try:
            obj = Plane(
                origin.clone(),
                u.clone(),
                v.clone(),
                "random",
                {"center": (0.0, 0.0)},
                {"source": note},
            )
        except TypeError:
            obj = None
    return PlaneVecs(origin, u, v, obj, note)


# =============================================================================
# the methods


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def naive_points(model, loss_fn, X, y, plane: PlaneVecs, coords, device: str) -> np.ndarray:
    """Loss at each (x, y) in ``coords``: write weights, one forward pass, the loss."""
    m = copy.deepcopy(model).to(device).eval()
    params = list(m.parameters())
    o, u, v = (t.to(device) for t in (plane.origin, plane.u, plane.v))
    out = np.empty(len(coords), dtype=np.float64)
    with torch.no_grad():
        for k, (xv, yv) in enumerate(coords):
            vector_to_parameters(o + float(xv) * u + float(yv) * v, params)
            out[k] = loss_fn(m(X), y).item()
    return out


def naive_grid(model, loss_fn, X, y, plane, xs, ys, device) -> np.ndarray:
    """Loss on the grid, indexed [iy, ix] like Surface.loss."""
    coords = [(xv, yv) for yv in ys for xv in xs]
    return naive_points(model, loss_fn, X, y, plane, coords, device).reshape(len(ys), len(xs))


def zigzag_steps(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Step counts (a, b) from loss-landscapes' start point of entry [i][j] of its result.

    Read off its stepping loops (main.py, planar_interpolation / random_plane):
    column i is ``i`` steps along dir_one; an even column adds dir_two *then*
    evaluates (so it visits 1..steps), an odd column subtracts *then* evaluates
    and inserts at the front (so entry j visits j, i.e. 0..steps-1).
    """
    i = np.arange(steps)[:, None].repeat(steps, 1)
    j = np.arange(steps)[None, :].repeat(steps, 0)
    b = np.where(i % 2 == 0, j + 1, j)
    return i.astype(np.float64), b.astype(np.float64)


def visit_order(steps: int) -> list[tuple[int, int]]:
    """(i, j) entries of the result in the order loss-landscapes evaluates them."""
    order = []
    for i in range(steps):
        js = range(steps) if i % 2 == 0 else range(steps - 1, -1, -1)
        order.extend((i, j) for j in js)
    return order


def _model_at(model: nn.Module, vec: torch.Tensor, device: str) -> nn.Module:
    m = copy.deepcopy(model).to(device).eval()
    # vector_to_parameters makes the parameters *views* of the vector it is given;
    # loss-landscapes then steps them in place, so hand it a private copy
    vector_to_parameters(vec.detach().to(device).clone(), m.parameters())
    return m


def ll_planar_setup(model, plane: PlaneVecs, xs, ys, device):
    """Start/end models that make planar_interpolation walk our grid (see zigzag_steps)."""
    R = len(xs)
    assert len(ys) == R, "loss-landscapes grids are square"
    hx, hy = float(xs[1] - xs[0]), float(ys[1] - ys[0])
    x0, y0 = float(xs[0]), float(ys[0]) - hy  # one step below: even columns step before evaluating
    start = plane.point(x0, y0)
    end1 = start + (R * hx) * plane.u
    end2 = start + (R * hy) * plane.v
    a, b = zigzag_steps(R)
    coords_x = x0 + a * hx  # [i][j]
    coords_y = y0 + b * hy
    return (start, end1, end2), coords_x, coords_y


def ll_planar_run(ll, model, loss_fn, X, y, ends, steps, device, metric=None) -> np.ndarray:
    m0, m1, m2 = (_model_at(model, e, device) for e in ends)
    from loss_landscapes.metrics import Loss  # noqa: PLC0415 - from benchmarks/.deps

    metric = metric or Loss(loss_fn, X, y)
    return np.asarray(
        ll.planar_interpolation(m0, m1, m2, metric, steps=steps, deepcopy_model=False),
        dtype=np.float64,
    )


def ll_random_run(
    ll, model, loss_fn, X, y, steps, distance, seed, device, metric=None
) -> np.ndarray:
    from loss_landscapes.metrics import Loss  # noqa: PLC0415

    m = copy.deepcopy(model).to(device).eval()
    metric = metric or Loss(loss_fn, X, y)
    torch.manual_seed(seed)
    return np.asarray(
        ll.random_plane(
            m, metric, distance=distance, steps=steps, normalization="filter", deepcopy_model=False
        ),
        dtype=np.float64,
    )


def ll_random_directions(model, steps, distance, seed):
    """Rebuild random_plane's step vectors d1, d2 by replaying its RNG draws with its helpers."""
    from loss_landscapes.model_interface.model_parameters import (  # noqa: PLC0415
        ModelParameters,
        orthogonal_to,
        rand_u_like,
    )

    start = ModelParameters([p.detach().clone().float().cpu() for p in model.parameters()])
    torch.manual_seed(seed)
    d1 = rand_u_like(start)
    d2 = orthogonal_to(d1)
    d1.filter_normalize_(start)
    d2.filter_normalize_(start)
    step = start.model_norm() / distance / steps
    d1.mul_(step / d1.model_norm())
    d2.mul_(step / d2.model_norm())
    flat = lambda mp: torch.cat([t.reshape(-1) for t in mp.parameters])  # noqa: E731
    return flat(d1), flat(d2)


def make_recording_metric(loss_fn, X, y, expected: Callable[[int, int], torch.Tensor], steps: int):
    """A loss-landscapes Metric that also checks the weights of each visited point."""
    from loss_landscapes.metrics.metric import Metric  # noqa: PLC0415

    order = visit_order(steps)

    class Recording(Metric):
        def __init__(self):
            super().__init__()
            self.k = 0
            self.max_dev = 0.0
            self.max_rel = 0.0

        def __call__(self, wrapper):
            i, j = order[self.k]
            self.k += 1
            params = [p for mod in wrapper.modules for p in mod.parameters()]
            got = parameters_to_vector(params).detach().float().cpu()
            want = expected(i, j)
            dev = float((got - want).abs().max())
            self.max_dev = max(self.max_dev, dev)
            self.max_rel = max(self.max_rel, dev / max(float(want.abs().max()), 1e-30))
            with torch.no_grad():
                return loss_fn(wrapper.forward(X), y).item()

    return Recording()


# =============================================================================
# timing helpers


def matmul_rate(device: str, n: int | None = None, reps: int = 10) -> float:
    """Best float32 FLOP/s of a large square matmul on this device and thread count.

    The best of ``reps`` rather than the median: the floor is what the hardware
    can do, and a stall during one repetition must not lower it.
    """
    n = n or (8192 if device.startswith("cuda") else 4096)
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / min(times)


def cpu_has_bf16() -> str:
    """Whether the CPU has bfloat16 arithmetic (AVX-512 BF16 or AMX), from /proc/cpuinfo."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return "unknown"
    found = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return ", ".join(found) if found else "none (emulated)"


def forward_flops(model, X, device) -> int:
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    m = copy.deepcopy(model).to(device).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        m(X)
    return int(counter.get_total_flops())


def maxabs(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    d = np.abs(a - b)
    d[both_nan] = 0.0
    return float(np.nanmax(d)) if np.isfinite(d).any() or np.isnan(d).all() else float("inf")


def maxrel(a, b) -> float:
    """max |a - b| / |b| over finite pairs (|b| floored at 1e-12)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return float("nan")
    return float((np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12)).max())


@dataclass
class Method:
    key: str
    label: str
    run: Callable[[], object]  # returns the method's result (loss array / Surface / ...)
    times: list = field(default_factory=list)
    result: object = None
    status: str = "ok"  # "ok" | "n/a: ..." | "error: ..."
    extra: dict = field(default_factory=dict)


# =============================================================================
# cases


@dataclass
class Case:
    num: str
    name: str
    title: str
    model: nn.Module
    loss_fn: nn.Module
    X: torch.Tensor
    y: torch.Tensor
    plane: PlaneVecs
    resolution: int
    bounds: tuple
    sources: str
    bn: str = "keep"
    compare_ll: bool = False
    ll_distance: float = 1.0
    stream_first: bool = False
    bf16: bool = False  # also time ours auto with dtype=torch.bfloat16


def _place(case: Case, device: str) -> Case:
    case.model = case.model.to(device).eval()
    case.X, case.y = case.X.to(device), case.y.to(device)
    return case


def build_cases(num: int, args) -> list[Case]:
    """The case(s) for one case number; ``--smoke`` shrinks all of them, ``--quick`` the ResNets."""
    smoke = args.smoke
    if num == 1:
        torch.manual_seed(0)
        model, msrc = make_model("teaching_mlp")
        n, R = (200, 12) if smoke else (1000, 40)
        X, labels, dsrc = make_data("digits", n)
        yt = nn.functional.one_hot(labels, 10).float()
        return [
            Case(
                "1",
                "teaching-mlp",
                f"teaching MLP 784-50-500-10 (sigmoid, no bias, MSE on one-hot), {n} digits, "
                f"{R}x{R}, random filter-normalised plane",
                model,
                nn.MSELoss(),
                X,
                yt,
                random_filter_plane(model, 0),
                R,
                (-1.0, 1.0, -1.0, 1.0),
                f"{msrc}; {dsrc}",
                compare_ll=True,
                bf16=True,
            )
        ]
    if num == 2:
        torch.manual_seed(0)
        model, msrc = make_model("small_mlp")
        n, R = (200, 32) if smoke else (1000, 64)
        X, y, dsrc = make_data("spirals", n)
        return [
            Case(
                "2",
                "toy-mlp",
                f"toy MLP 2-64-64-2 (tanh, cross-entropy), {n} spiral points, {R}x{R}, "
                "random filter-normalised plane",
                model,
                nn.CrossEntropyLoss(),
                X,
                y,
                random_filter_plane(model, 0),
                R,
                (-1.0, 1.0, -1.0, 1.0),
                f"{msrc}; {dsrc}",
                stream_first=True,
            )
        ]
    if num == 3:
        torch.manual_seed(0)
        model, msrc = make_model("small_cnn")
        n, R = (64, 8) if smoke else (512, 24)
        X, y, dsrc = make_data("images", n)
        return [
            Case(
                "3",
                "small-cnn",
                f"small CNN, {n} 32x32x3 images, {R}x{R}, "
                "random filter-normalised plane (bias directions zeroed)",
                model,
                nn.CrossEntropyLoss(),
                X,
                y,
                random_filter_plane(model, 0),
                R,
                (-1.0, 1.0, -1.0, 1.0),
                f"{msrc}; {dsrc}",
                compare_ll=True,
            )
        ]
    if num in (4, 6):
        if num == 6 and not args.device.startswith("cuda"):
            return []
        torch.manual_seed(0)
        model, msrc = make_model("resnet20")
        n, R = (1000, 32) if num == 4 else (1000, 64)
        if args.quick:
            n, R = (250, 8) if num == 4 else (1000, 16)
        if smoke:
            n, R = 16, 4
        X, y, dsrc = make_data("images", n)
        return [
            Case(
                str(num),
                "resnet20" if num == 4 else "resnet20-64",
                f"ResNet-20 (BN keep, eval mode), {n} CIFAR-shaped images, {R}x{R}, "
                "random filter-normalised plane (bias+BN directions zeroed)",
                model,
                nn.CrossEntropyLoss(),
                X,
                y,
                random_filter_plane(model, 0),
                R,
                (-1.0, 1.0, -1.0, 1.0),
                f"{msrc}; {dsrc}",
            )
        ]
    if num == 5:
        torch.manual_seed(0)
        model, msrc = make_model("teaching_mlp")
        n, R = (200, 12) if smoke else (1000, 40)
        X, labels, dsrc = make_data("digits", n)
        yt = nn.functional.one_hot(labels, 10).float()
        names = [name for name, p in model.named_parameters() if p.dim() == 2]
        first, last = names[0], names[-1]
        # first layer: hidden unit 5's weights on the two pixels with the most
        # variance over the data (a weight on an always-dark pixel does nothing)
        var = X.reshape(n, -1).var(0)
        px = sorted(torch.topk(var, 2).indices.tolist())
        out = []
        for tag, a, b in (
            ("a", (last, (5, 250)), (last, (5, 251))),
            ("b", (first, (5, px[0])), (first, (5, px[1]))),
        ):
            plane, (ta, tb) = weights_plane(model, a, b)
            out.append(
                Case(
                    f"5{tag}",
                    "weights-" + ("last" if tag == "a" else "first"),
                    f"Plane.weights on the teaching MLP: {a} x {b}, {n} digits, "
                    f"{R}x{R} over +-1 around their values",
                    model,
                    nn.MSELoss(),
                    X,
                    yt,
                    plane,
                    R,
                    (ta - 1.0, ta + 1.0, tb - 1.0, tb + 1.0),
                    f"{msrc}; {dsrc}",
                )
            )
        return out
    raise ValueError(f"no case {num}")


# =============================================================================
# running one case


def run_case(case: Case, args, rate: float) -> dict:
    device = args.device
    Landscape, Plane, why_not = project_api()
    ll, ll_why = loss_landscapes_api()
    R = case.resolution
    xs = np.linspace(case.bounds[0], case.bounds[1], R)
    ys = np.linspace(case.bounds[2], case.bounds[3], R)
    n = len(case.X)
    n_params = sum(p.numel() for p in case.model.parameters())
    flops = forward_flops(case.model, case.X, device)
    floor_s = flops * R * R / rate
    lines = []
    methods: list[Method] = []

    # ---- (a) naive
    methods.append(
        Method(
            "naive",
            "naive loop",
            lambda: naive_grid(
                case.model, case.loss_fn, case.X, case.y, case.plane, xs, ys, device
            ),
        )
    )

    # ---- (b) loss-landscapes
    ll_info = {}
    if case.compare_ll:
        if ll is None:
            lines.append(f"  loss-landscapes: n/a ({ll_why})")
        else:
            ends, px, py = ll_planar_setup(case.model, case.plane, xs, ys, device)
            ll_info["planar"] = (ends, px, py)
            methods.append(
                Method(
                    "ll_planar",
                    "loss-landscapes planar_interpolation (our plane)",
                    lambda: ll_planar_run(
                        ll, case.model, case.loss_fn, case.X, case.y, ends, R, device
                    ),
                )
            )
            methods.append(
                Method(
                    "ll_random",
                    f"loss-landscapes random_plane (its plane, distance={case.ll_distance:g})",
                    lambda: ll_random_run(
                        ll,
                        case.model,
                        case.loss_fn,
                        case.X,
                        case.y,
                        R,
                        case.ll_distance,
                        args.seed,
                        device,
                    ),
                )
            )

    # ---- (c) ours
    def ours(strategy, dtype=torch.float32):
        def go():
            ls = Landscape(
                case.model,
                case.loss_fn,
                (case.X, case.y),
                subset=n,
                bn=case.bn,
                device=device,
                dtype=dtype,
                **({"metrics": ("loss",)} if args.loss_only else {}),
            )
            surf = ls.evaluate(
                case.plane.obj, resolution=R, bounds=case.bounds, strategy=strategy, progress=False
            )
            sync(device)
            return surf

        return go

    def stream_first():
        ls = Landscape(
            case.model,
            case.loss_fn,
            (case.X, case.y),
            subset=n,
            bn=case.bn,
            device=device,
            **({"metrics": ("loss",)} if args.loss_only else {}),
        )
        gen = ls.stream(case.plane.obj, resolution=R, bounds=case.bounds, progress=False)
        try:
            first = next(iter(gen))
            sync(device)
        finally:
            close = getattr(gen, "close", None)
            if close:
                close()
        return first

    if Landscape is None or case.plane.obj is None:
        lines.append(f"  ours: n/a ({why_not or 'no Plane'})")
    else:
        methods.append(Method("auto", "ours auto", ours("auto")))
        for s in STRATEGIES:
            methods.append(Method(s, f"ours {s}", ours(s)))
        if case.stream_first:
            methods.append(Method("stream", "ours stream: first level", stream_first))
        if case.bf16:
            methods.append(Method("auto-bf16", "ours auto, bfloat16", ours("auto", torch.bfloat16)))

    # ---- rounds, shuffled order
    rng = random.Random(f"{args.seed}-{case.num}")
    for r in range(args.rounds):
        order = [m for m in methods if m.status == "ok"]
        rng.shuffle(order)
        for m in order:
            if args.budget and m.times and sum(m.times) > args.budget:
                continue  # already slow enough: one run is all we can afford
            sync(device)
            t0 = time.perf_counter()
            try:
                res = m.run()
            except (ValueError, NotImplementedError) as err:
                m.status = f"n/a ({type(err).__name__}: {err})"
                continue
            except Exception as err:  # noqa: BLE001 - report and carry on
                m.status = f"error: {type(err).__name__}: {err}"
                if args.verbose:
                    traceback.print_exc()
                continue
            dt = time.perf_counter() - t0
            m.times.append(dt)
            if m.result is None:
                m.result = res
            if args.verbose:
                print(f"    [round {r + 1}] {m.label}: {dt:.3f} s", flush=True)

    by = {m.key: m for m in methods}
    naive = by["naive"].result

    def grid_of(m):
        res = m.result
        loss = getattr(res, "loss", None)
        return None if loss is None else np.asarray(loss, dtype=np.float64)

    # ---- our grids: check coordinates, compare with naive
    ours_keys = ["auto", "auto-bf16", *STRATEGIES]
    for k in ours_keys:
        m = by.get(k)
        if m is None or m.status != "ok" or m.result is None:
            continue
        surf = m.result
        g = grid_of(m)
        m.extra["strategy"] = (getattr(surf, "provenance", {}) or {}).get("strategy")
        if g is None or g.shape != naive.shape:
            m.extra["diff_naive"] = f"shape {None if g is None else g.shape} != {naive.shape}"
            continue
        sx, sy = np.asarray(surf.x, dtype=np.float64), np.asarray(surf.y, dtype=np.float64)
        coord_err = max(np.abs(sx - xs).max(), np.abs(sy - ys).max())
        if coord_err > 1e-9 * max(1.0, np.abs(xs).max(), np.abs(ys).max()):
            m.extra["coord_warning"] = (
                f"Surface x/y differ from linspace(bounds) by {coord_err:.2e}"
            )
        m.extra["diff_naive"] = maxabs(g, naive)
        m.extra["rel_naive"] = maxrel(g, naive)
    if "stream" in by and by["stream"].result is not None:
        first = by["stream"].result
        comp = getattr(first, "computed", None)
        by["stream"].extra["first"] = (
            getattr(first, "level", None),
            tuple(np.asarray(first.loss).shape),
            getattr(first, "done", None),
            None if comp is None else int(np.asarray(comp).sum()),
        )

    # ---- loss-landscapes comparisons (untimed extra runs)
    if "ll_planar" in by and by["ll_planar"].status == "ok":
        m = by["ll_planar"]
        ends, px, py = ll_info["planar"]
        ll_grid = m.result  # [i][j] = (x index i, visited y py[i, j])
        # naive at every visited point: on-grid from the naive grid, off-grid computed now
        naive_at = np.full(ll_grid.shape, np.nan)
        off = []
        for i in range(R):
            for j in range(R):
                if i % 2 == 0:
                    naive_at[i, j] = naive[j, i]
                elif j >= 1:
                    naive_at[i, j] = naive[j - 1, i]
                else:
                    off.append((i, j))
        if off:
            vals = naive_points(
                case.model,
                case.loss_fn,
                case.X,
                case.y,
                case.plane,
                [(px[i, j], py[i, j]) for i, j in off],
                device,
            )
            for (i, j), val in zip(off, vals, strict=True):
                naive_at[i, j] = val
        # check the visited coordinates really are those of zigzag_steps, with a recording run
        rec = make_recording_metric(
            case.loss_fn,
            case.X,
            case.y,
            lambda i, j: case.plane.point(float(px[i, j]), float(py[i, j])),
            R,
        )
        rec_grid = ll_planar_run(
            ll, case.model, case.loss_fn, case.X, case.y, ends, R, device, metric=rec
        )
        m.extra.update(
            diff_naive=maxabs(ll_grid, naive_at),
            rel_naive=maxrel(ll_grid, naive_at),
            off_grid=len(off),
            weight_dev=rec.max_dev,
            weight_rel=rec.max_rel,
            repeat_diff=maxabs(rec_grid, ll_grid),
        )
        a = by.get("auto")
        if a is not None and a.status == "ok":
            g = grid_of(a)
            shared_ll = [ll_grid[i, j] for i in range(R) for j in range(R) if i % 2 == 0 or j >= 1]
            shared_ours = [
                g[j if i % 2 == 0 else j - 1, i]
                for i in range(R)
                for j in range(R)
                if i % 2 == 0 or j >= 1
            ]
            m.extra["diff_ours"] = maxabs(shared_ll, shared_ours)
            m.extra["shared"] = len(shared_ll)
    if "ll_random" in by and by["ll_random"].status == "ok":
        m = by["ll_random"]
        d1, d2 = ll_random_directions(case.model, R, case.ll_distance, args.seed)
        theta = parameters_to_vector(case.model.parameters()).detach().float().cpu()
        a_idx, b_idx = zigzag_steps(R)
        ca, cb = a_idx - R / 2, b_idx - R / 2  # coefficients of d1, d2 around theta
        llp = plane_from_vectors(
            theta, d1, d2, "loss-landscapes random_plane directions (replayed)"
        )
        rec = make_recording_metric(
            case.loss_fn,
            case.X,
            case.y,
            lambda i, j: llp.point(float(ca[i, j]), float(cb[i, j])),
            R,
        )
        rec_grid = ll_random_run(
            ll,
            case.model,
            case.loss_fn,
            case.X,
            case.y,
            R,
            case.ll_distance,
            args.seed,
            device,
            metric=rec,
        )
        naive_at = naive_points(
            case.model,
            case.loss_fn,
            case.X,
            case.y,
            llp,
            [(ca[i, j], cb[i, j]) for i in range(R) for j in range(R)],
            device,
        ).reshape(R, R)
        cos = float(d1.double() @ d2.double() / (d1.double().norm() * d2.double().norm()))
        m.extra.update(
            diff_naive=maxabs(m.result, naive_at),
            rel_naive=maxrel(m.result, naive_at),
            weight_dev=rec.max_dev,
            weight_rel=rec.max_rel,
            repeat_diff=maxabs(rec_grid, m.result),
            cos=cos,
            span=(float(ca.min()), float(ca.max()), float(cb.min()), float(cb.max())),
        )
        if Landscape is not None and llp.obj is not None:
            # ours on loss-landscapes' own plane: even columns are our rows 0..R-1 of
            # y in [1 - R/2, R/2]; odd columns j >= 1 are our rows j - 1
            try:
                ls = Landscape(
                    case.model,
                    case.loss_fn,
                    (case.X, case.y),
                    subset=n,
                    bn=case.bn,
                    device=device,
                    **({"metrics": ("loss",)} if args.loss_only else {}),
                )
                surf = ls.evaluate(
                    llp.obj,
                    resolution=R,
                    bounds=(-R / 2, R / 2 - 1, 1 - R / 2, R / 2),
                    progress=False,
                )
                g = np.asarray(surf.loss, dtype=np.float64)
                sl = [m.result[i, j] for i in range(R) for j in range(R) if i % 2 == 0 or j >= 1]
                so = [
                    g[j if i % 2 == 0 else j - 1, i]
                    for i in range(R)
                    for j in range(R)
                    if i % 2 == 0 or j >= 1
                ]
                m.extra["diff_ours"] = maxabs(sl, so)
                m.extra["shared"] = len(sl)
            except Exception as err:  # noqa: BLE001
                m.extra["diff_ours"] = f"{type(err).__name__}: {err}"

    # ---- report
    med = {m.key: statistics.median(m.times) for m in methods if m.times}
    out = {
        "case": case.num,
        "name": case.name,
        "title": case.title,
        "sources": case.sources,
        "resolution": R,
        "bounds": list(case.bounds),
        "samples": n,
        "params": n_params,
        "plane": case.plane.note,
        "flops_per_forward": flops,
        "floor_seconds": floor_s,
        "methods": {},
    }
    print(f"\n== case {case.num} [{case.name}]: {case.title}")
    print(f"   {case.sources}")
    finite = naive[np.isfinite(naive)] if naive is not None else np.array([])
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    out["loss_range"] = [float(finite.min()), float(finite.max())] if finite.size else None
    out["loadavg_after"] = list(load) if load else None
    print(
        f"   {n_params:,} parameters | plane: {case.plane.note} | "
        f"{flops / 1e6:,.1f} MFLOP per forward pass x {R * R} points"
        f" = {flops * R * R / 1e9:,.1f} GFLOP, floor {floor_s:.3f} s"
    )
    if finite.size:
        print(
            f"   naive loss range [{finite.min():.4g}, {finite.max():.4g}]"
            + (f" | load average after the case {load[0]:.2f}" if load else "")
        )
    print(
        f"   {'method':<52} {'median s':>9} {'best s':>8} {'x floor':>8}  {'runs (s)':<24} "
        "max|dLoss| vs naive (at the points it visits)"
    )
    for m in methods:
        if m.times:
            runs = " ".join(f"{t:.3g}" for t in m.times)
            xfloor = f"{med[m.key] / floor_s:8.2f}" if m.key not in ("stream",) else f"{'':>8}"
            label = m.label
            if m.key in ("auto", "auto-bf16") and m.extra.get("strategy"):
                label += f" [chose {m.extra['strategy']}]"
            elif m.key in STRATEGIES and m.extra.get("strategy") not in (None, m.key):
                label += f" [ran {m.extra['strategy']}]"
            d = m.extra.get("diff_naive", "")
            d = f"{d:.3g}" if isinstance(d, float) else str(d)
            if isinstance(m.extra.get("rel_naive"), float):
                d += f" (rel {m.extra['rel_naive']:.2g})"
            if m.key == "naive":
                d = "(reference)"
            if m.key == "stream":
                lvl, shape, done, ncomp = m.extra.get("first", (None, None, None, None))
                d = (
                    f"first partial: level {lvl}, {ncomp} of {shape[0]}x{shape[1]} "
                    f"points computed, done={done}"
                    if shape
                    else ""
                )
            print(f"   {label:<52} {med[m.key]:9.3f} {min(m.times):8.3f} {xfloor}  {runs:<24} {d}")
        else:
            print(f"   {m.label:<52} {'':>9} {'':>8} {'':>8}  {m.status}")
        if m.extra.get("coord_warning"):
            print(f"      ! {m.extra['coord_warning']}")
        out["methods"][m.key] = {
            "label": m.label,
            "times": m.times,
            "median": med.get(m.key),
            "status": m.status,
            **{
                k: v
                for k, v in m.extra.items()
                if isinstance(v, (int, float, str, tuple, list)) or v is None
            },
        }
    for line in lines:
        print(line)
    ratios = {}
    if "auto" in med:
        for k in ("naive", "ll_planar", "ll_random"):
            if k in med:
                ratios[k] = med[k] / med["auto"]
        if ratios:
            labs = (
                ("naive", "naive"),
                ("ll_planar", "loss-landscapes planar"),
                ("ll_random", "loss-landscapes random_plane"),
            )
            best = {m.key: min(m.times) for m in methods if m.times}
            out["ratios_best"] = {k: best[k] / best["auto"] for k in ratios}
            print(
                "   ratios of medians (x slower than ours auto): "
                + ", ".join(f"{lab}/ours = {ratios[k]:.2f}x" for k, lab in labs if k in ratios)
                + " | of best runs: "
                + ", ".join(f"{out['ratios_best'][k]:.2f}x" for k, _ in labs if k in ratios)
            )
    if "auto-bf16" in med:
        check = (by["auto-bf16"].result.provenance or {}).get("precision_check", {})
        bf16 = {k: med[k] / med["auto-bf16"] for k in ("auto", "naive", "ll_planar") if k in med}
        out["ratios_bf16"] = bf16
        print(
            "   bfloat16 (x slower than ours auto bf16): "
            + ", ".join(f"{k}/bf16 = {v:.2f}x" for k, v in bf16.items())
            + f" | its own check vs float32 on {check.get('points')} points: max |dLoss| "
            + f"{check.get('max_abs_diff', {}).get('loss', float('nan')):.3g}"
            + f" | bf16 instructions on this CPU: {cpu_has_bf16()}"
        )
    if "naive" in med:
        print(f"   naive loop: {med['naive'] / floor_s:.2f}x floor")
    out["ratios"] = ratios
    if "ll_planar" in by and by["ll_planar"].extra:
        e = by["ll_planar"].extra
        print(
            f"   loss-landscapes planar_interpolation: {R * R} visited points "
            f"({e['off_grid']} one step below our window, odd columns j=0);"
            f" visited weights = our plane's points to {e['weight_dev']:.2g} abs "
            f"({e['weight_rel']:.2g} rel);"
            f" max|dLoss| vs naive at its points {e['diff_naive']:.3g}"
            + (
                f", vs ours auto at {e['shared']} shared points {e['diff_ours']:.3g}"
                if isinstance(e.get("diff_ours"), float)
                else ""
            )
        )
    if "ll_random" in by and by["ll_random"].extra:
        e = by["ll_random"].extra
        do = e.get("diff_ours")
        print(
            f"   loss-landscapes random_plane: replayed directions (cos(d1, d2) = {e['cos']:.3f}; "
            f"coefficients a in [{e['span'][0]:g}, {e['span'][1]:g}], "
            f"b in [{e['span'][2]:g}, {e['span'][3]:g}] steps) match its visited weights to "
            f"{e['weight_dev']:.2g} abs ({e['weight_rel']:.2g} rel); "
            f"max|dLoss| vs naive at its points {e['diff_naive']:.3g}"
            + (
                f", vs ours on its plane at {e['shared']} shared points {do:.3g}"
                if isinstance(do, float)
                else (f", ours on its plane: {do}" if do else "")
            )
        )
    return out


# =============================================================================


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--device", default="cpu", help="cpu or cuda (cuda adds ResNet-20 at 64x64 as case 6)"
    )
    p.add_argument(
        "--rounds", type=int, default=3, help="rounds per method, shuffled order; medians reported"
    )
    p.add_argument(
        "--cases",
        default="1,2,3,4,5",
        help="comma-separated case numbers: 1 teaching MLP, 2 toy MLP, 3 small CNN, 4 ResNet-20, "
        "5 Plane.weights (5a last layer, 5b first layer); "
        "6 = ResNet-20 at 64x64, cuda only, added with 4",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="shrink the ResNet-20 case (250 images at 8x8 instead of 1000 at 32x32; "
        "16x16 for the cuda 64x64 case)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes for every case: checks the harness, not the speed",
    )
    p.add_argument("--json", dest="json_out", help="also write the results to this JSON file")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: the cores this process may use)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--budget",
        type=float,
        default=0.0,
        help="seconds: a method whose runs so far took longer than this gets no more rounds "
        "(0 = no limit)",
    )
    p.add_argument(
        "--all-metrics",
        dest="loss_only",
        action="store_false",
        help="let our evaluator compute its default metrics too "
        "(default: loss only, like the others)",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(args.threads or cores)
    cases = []
    for tok in args.cases.split(","):
        tok = tok.strip()
        if tok:
            cases.append(int(tok))
    if args.device.startswith("cuda") and 4 in cases and 6 not in cases:
        cases.append(6)

    rate = matmul_rate(args.device)
    Landscape, Plane, why = project_api()
    ll, ll_why = loss_landscapes_api()
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": args.device
        if not args.device.startswith("cuda")
        else torch.cuda.get_device_name(),
        "cores": cores,
        "torch_threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "matmul_gflops": rate / 1e9,
        "rounds": args.rounds,
        "quick": args.quick,
        "loss_landscapes": getattr(ll, "__file__", None)
        and "3.0.6 from benchmarks/.deps"
        or ll_why,
        "landscape": "available" if Landscape is not None else why,
        "cpu": platform.processor() or platform.machine(),
    }
    print(
        f"grid benchmark | torch {env['torch']} | device {env['device']} | "
        f"{cores} cores, torch threads "
        f"{env['torch_threads']} (interop {env['interop_threads']}) | "
        f"float32 matmul {rate / 1e9:.1f} GFLOP/s "
        f"(the FLOP floor's rate) | {args.rounds} round(s), shuffled, medians"
        + (" | QUICK sizes" if args.quick else "")
        + (" | SMOKE sizes" if args.smoke else "")
    )
    print(f"loss-landscapes: {env['loss_landscapes']} | our evaluator: {env['landscape']}")
    results = {"env": env, "cases": []}
    for num in cases:
        for case in build_cases(num, args):
            case = _place(case, args.device)
            results["cases"].append(run_case(case, args, rate))
            sys.stdout.flush()
    # the rate moves with the machine's load and clock; say so if it did during the run
    rate_end = matmul_rate(args.device)
    env["matmul_gflops_end"] = rate_end / 1e9
    print(
        f"\nfloat32 matmul re-measured after the run: {rate_end / 1e9:.1f} GFLOP/s "
        f"(start: {rate / 1e9:.1f}; the x-floor columns use the start value)"
    )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2, default=str))
        print(f"\nwrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
