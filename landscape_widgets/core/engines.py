"""Evaluation engines: several ways to compute the same loss at many points of a plane.

Loss over a grid costs one full forward pass over the evaluation set per
point. Each engine computes the same numbers; which one is fastest depends on
the model and the device, so ``strategy="auto"`` times a chunk of each
eligible one on the first (coarse) level and keeps the fastest
(:mod:`~landscape_widgets.core.strategies`):

- ``loop`` (:class:`Loop`): one point at a time. The model copy's parameters
  are views into one flat buffer, so moving to a point is two fused vector
  ops. The only engine for ``bn="recompute"`` and the always-correct fallback.
- ``vmap`` (:class:`Vmap`): many points per call,
  ``torch.func.functional_call`` under ``torch.func.vmap`` over stacked
  parameter sets; chunk size from a memory budget. Wins on GPUs for small
  networks.
- ``affine`` (:class:`Affine`): the first layer's input does not depend on
  the grid point, and its pre-activation is linear in its weights, so
  ``f(X; W0 + x U + y V) = f(X; W0) + x f(X; U) + y f(X; V)``: three products
  once, then a cheap combination per point (Linear and Conv first layers).
- ``tiled`` and ``partial``: for ``nn.Sequential`` models, in
  :mod:`~landscape_widgets.core.sequential_engines`.

An engine is built for one landscape and one :class:`PlaneOnDevice`; its
constructor raises :class:`StrategyUnavailable` when it cannot evaluate them.
``run(coords)`` takes a ``(B, 2)`` tensor of plane coordinates and returns
``{metric: (B,) float64 tensor}``; ``chunk`` says how many points a call
should take. Engines run under the landscape's lock and ``torch.no_grad()``.
"""

from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .network_copy import output_numels

if TYPE_CHECKING:  # annotations only: the landscape imports the engines
    from .landscape import Landscape

__all__ = [
    "ELEMENTWISE",
    "ELEMENTWISE_INPLACE",
    "Affine",
    "Loop",
    "PlaneOnDevice",
    "StrategyUnavailable",
    "Vmap",
    "coords3",
    "first_layer",
    "needs_loop",
]

# layers that act on each element alone; the in-place forms of the common ones
ELEMENTWISE_INPLACE = {
    nn.Tanh: torch.tanh_,
    nn.Sigmoid: torch.sigmoid_,
    nn.ReLU: torch.relu_,
}
ELEMENTWISE = (
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


class StrategyUnavailable(ValueError):
    """A strategy cannot evaluate this model / plane; the message says why."""


@dataclass(frozen=True)
class PlaneOnDevice:
    """A plane's (or a line's) vectors on the evaluation device, copied once per evaluation."""

    origin: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    kind: str
    info: dict

    @classmethod
    def of(cls, target, device: torch.device, dtype: torch.dtype) -> PlaneOnDevice:
        """``target`` (a Plane or a Line) on ``device`` in ``dtype``; ``target`` stays as it is."""
        return cls(
            target.origin.to(device, dtype),
            target.u.to(device, dtype),
            target.v.to(device, dtype),
            target.kind,
            getattr(target, "info", None) or {},  # a Line has no info
        )

    def write(self, out: torch.Tensor, x: float, y: float) -> None:
        """Write the weights at plane coordinates ``(x, y)`` into ``out``."""
        torch.add(self.origin, self.u, alpha=x, out=out)
        if y != 0.0:
            out.add_(self.v, alpha=y)


def coords3(coords: torch.Tensor, device, dtype) -> torch.Tensor:
    """(B, 2) plane coordinates -> (B, 3) rows [1, x, y] for combining [base; U; V]."""
    c = torch.ones(len(coords), 3, dtype=torch.float64)
    c[:, 1:] = coords
    return c.to(device=device, dtype=dtype)


def needs_loop(ls: Landscape, what: str) -> None:
    """Raise StrategyUnavailable where only the loop is correct: per-point BN, tied weights."""
    if ls.bn == "recompute" and ls.has_bn:
        raise StrategyUnavailable(f"{what}: BN statistics recomputed per point need the loop")
    if ls.shared_weights:
        raise StrategyUnavailable(f"{what}: tied or reused parameters need the loop")


class Loop:
    """One point at a time; the always-correct fallback."""

    name = "loop"
    chunk = 4

    def __init__(self, ls: Landscape, plane: PlaneOnDevice):
        self.ls, self.plane = ls, plane

    def run(self, coords: torch.Tensor) -> dict[str, torch.Tensor]:
        ls = self.ls
        out = {m: torch.empty(len(coords), dtype=torch.float64) for m in ls.metrics}
        recompute = ls.bn == "recompute" and ls.has_bn
        for k, (x, y) in enumerate(coords.tolist()):
            self.plane.write(ls.flat, x, y)
            if recompute:
                ls.recompute_bn()
            vals = self.point(x, y)
            for m in ls.metrics:
                out[m][k] = vals[m]
        return out

    def point(self, x, y):
        return self.ls.point_metrics()


# The first layer of each landscape, found once (it costs a forward pass):
# (name, module, input), or the reason there is none.
_FIRST_LAYERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def first_layer(ls: Landscape) -> tuple[str, nn.Module, torch.Tensor]:
    """The first parametrised module, if it is a Linear/Conv, and its input.

    No parameter is used before that module runs, so its input is a function
    of the data alone and the same at every grid point, and for every plane:
    found once per landscape.
    """
    found = _FIRST_LAYERS.get(ls)
    if found is None:
        try:
            found = _find_first_layer(ls)
        except StrategyUnavailable as err:
            found = err
        _FIRST_LAYERS[ls] = found
    if isinstance(found, StrategyUnavailable):
        raise found
    return found


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
        for _, Xb in ls.batches(ls.X):
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
    ls: Landscape, plane: PlaneOnDevice, name: str, mod: nn.Module, inp: torch.Tensor
) -> torch.Tensor:
    """(3, N, ...) stack of the first layer's output for the origin, u and v."""
    prefix = f"{name}." if name else ""
    parts = []
    for vec in (plane.origin, plane.u, plane.v):
        params = ls.layout.split(vec)
        w = params[prefix + "weight"]
        b = params.get(prefix + "bias")
        parts.append(_apply_layer(mod, inp, w, b))
    return torch.stack(parts)


class Affine(Loop):
    """Loop with the first layer's output combined from three precomputed products."""

    name = "affine"

    def __init__(self, ls: Landscape, plane: PlaneOnDevice):
        super().__init__(ls, plane)
        needs_loop(ls, "affine")
        self.mod_name, self.mod, inp = first_layer(ls)
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
                return self.ls.net(Xb)
            finally:
                del self.mod.forward

        return self.ls.point_metrics(run)


def _activation_numel(ls: Landscape) -> int:
    """Elements of all module outputs in one forward pass over one batch."""
    n = len(ls.X) if ls.batch_size is None else ls.batch_size
    return sum(output_numels(ls.net, ls.X[:1])) * n


class Vmap:
    """Many points per call: functional_call under vmap over stacked weights."""

    name = "vmap"

    def __init__(self, ls: Landscape, plane: PlaneOnDevice):
        needs_loop(ls, "vmap")
        self.ls, self.plane = ls, plane
        per_point = 4 * (ls.layout.numel + _activation_numel(ls))
        self.chunk = int(max(1, min(256, ls.memory_budget // max(per_point, 1))))
        self.basis = torch.stack([plane.origin, plane.u, plane.v])  # (3, P)
        self.buffers = dict(ls.net.named_buffers())

        def one(params, X):
            return torch.func.functional_call(ls.net, (params, self.buffers), (X,))

        self.batched = torch.func.vmap(one, in_dims=(0, None))

    def run(self, coords):
        ls = self.ls
        W = coords3(coords, ls.device, ls.dtype) @ self.basis  # (B, P)
        params = ls.layout.split(W)
        total = {m: torch.zeros(len(coords), dtype=torch.float64) for m in ls.metrics}
        for sl, Xb in ls.batches(ls.X):
            with warnings.catch_warnings():
                # ops without a batching rule fall back to a loop; the timing
                # of strategy="auto" already accounts for that, so stay quiet
                warnings.filterwarnings("ignore", message=".*batching rule.*")
                warnings.filterwarnings("ignore", message="There is a performance drop")
                out = self.batched(params, Xb)  # (B, n, ...)
            vals = ls.scoring.batched(out, sl)
            for m in ls.metrics:
                total[m] += vals[m].double().cpu() * (len(Xb) / len(ls.X))
        return total
