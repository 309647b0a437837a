"""Curvature of the loss at a point of weight space, from Hessian-vector products.

The Hessian of a network with D weights has D^2 entries, far too many to
form; every function here uses only products ``H v``, each costing about two
backward passes (autograd differentiates the gradient's inner product with v
once more). The loss is the landscape's: its loss function, averaged over
its evaluation data, at the weights given. BatchNorm layers use their stored
statistics (evaluation mode), whatever the landscape's ``bn`` policy.

- :func:`hvp` — one product ``H v``.
- :func:`top_eigenvalues` — the k eigenvalues of largest magnitude, by block
  power iteration with Rayleigh-Ritz (at a minimum these are the largest, the
  sharp directions).
- :func:`trace` — Hutchinson's estimate E[z^T H z] with Rademacher z.
- :func:`eigen_ratio_grid` — |lambda_min / lambda_max| over a plane: near 0
  where the surface is locally convex, larger where it curves down in some
  direction (Li et al. 2018, sec. 6).

Examples
--------
>>> from landscape_widgets import hessian  # doctest: +SKIP
>>> values, vectors = hessian.top_eigenvalues(landscape, net, k=3)  # doctest: +SKIP
>>> hessian.trace(landscape, net, samples=100)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call
from tqdm.auto import tqdm

from .core.results import Surface
from .core.weights import as_vector

_BLOCK = 4  # vectors per power iteration in eigen_ratio_grid

__all__ = ["Curvature", "eigen_ratio_grid", "hvp", "top_eigenvalues", "trace"]


class _Loss:
    """The landscape's loss as a function of a flat weight vector, in batches."""

    def __init__(self, landscape):
        self.ls = landscape
        self.net = copy.deepcopy(landscape.net).eval()
        self.buffers = dict(self.net.named_buffers())
        step = landscape.batch_size or len(landscape.X)
        n = len(landscape.X)
        self.batches = [(s, min(n, s + step)) for s in range(0, n, step)]
        self.n = n

    def weights(self, weights) -> torch.Tensor:
        w = as_vector(weights, self.ls.layout)
        return w.detach().to(self.ls.device, self.ls.dtype)

    def batch_loss(self, w: torch.Tensor, a: int, b: int) -> torch.Tensor:
        params = self.ls.layout.split(w)
        out = functional_call(self.net, (params, self.buffers), (self.ls.X[a:b],))
        # a mean over the batch, weighted to a mean over all the data
        return self.ls.loss_fn(out, self.ls.y[a:b]) * ((b - a) / self.n)

    def hvp(self, w: torch.Tensor, vs: torch.Tensor) -> torch.Tensor:
        """``H v`` for each row of ``vs`` (shape (m, D)) at ``w``."""
        out = torch.zeros_like(vs)
        for a, b in self.batches:
            x = w.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(self.batch_loss(x, a, b), x, create_graph=True)
            try:
                # all the vectors in one vmapped backward pass
                (hv,) = torch.autograd.grad(g, x, grad_outputs=vs, is_grads_batched=True)
                out += hv
            except RuntimeError:  # an op without a batching rule: one vector at a time
                for i, v in enumerate(vs):
                    last = i == len(vs) - 1
                    (hv,) = torch.autograd.grad(g, x, grad_outputs=v, retain_graph=not last)
                    out[i] += hv
        return out


def hvp(landscape, weights, v) -> torch.Tensor:
    """The Hessian of the landscape's loss at ``weights`` times the vector ``v``.

    ``weights``: an nn.Module, a state_dict or a flat vector; ``v``: a flat
    vector of the same size. Returns a flat vector.
    """
    f = _Loss(landscape)
    w = f.weights(weights)
    v = torch.as_tensor(v).to(w.device, w.dtype).reshape(1, -1)
    if v.shape[1] != w.numel():
        raise ValueError(f"v has {v.shape[1]} entries, the weights {w.numel()}")
    return f.hvp(w, v)[0]


def top_eigenvalues(
    landscape,
    weights,
    k: int = 1,
    iters: int = 100,
    tol: float = 1e-4,
    seed: int = 0,
) -> tuple[np.ndarray, torch.Tensor]:
    """The k eigenvalues of the Hessian of largest magnitude, and their eigenvectors.

    Block power iteration: the k vectors are multiplied by H, made
    orthonormal again, and rotated to the eigenvectors of the k x k
    projection of H (Rayleigh-Ritz), until no eigenvalue moves by more than
    ``tol`` (relative) or ``iters`` rounds are done. Each round costs k
    Hessian-vector products.

    Returns
    -------
    values : ndarray, shape (k,)
        Sorted by magnitude, largest first.
    vectors : Tensor, shape (k, D)
        Unit eigenvectors, one per row.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, not {k!r}")
    f = _Loss(landscape)
    w = f.weights(weights)
    if k > w.numel():
        raise ValueError(f"k={k} is more than the {w.numel()} weights")
    return _block_power(lambda vs: f.hvp(w, vs), w, k, iters, tol, seed)


def _ritz(V: torch.Tensor, HV: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rayleigh-Ritz on the span of V's rows: the eigenpairs of the k x k projection
    of H, sorted by magnitude (values, and the rotation S taking V to the Ritz vectors)."""
    T = (V.double() @ HV.double().T + HV.double() @ V.double().T) / 2
    theta, S = torch.linalg.eigh(T)
    order = torch.argsort(theta.abs(), descending=True)
    return theta[order], S[:, order]


def _block_power(apply_h, w, k, iters, tol, seed, shift: float = 0.0):
    """Block power iteration on H - shift*I; eigenvalues (of H) and eigenvectors."""
    gen = torch.Generator().manual_seed(seed)
    V = torch.randn(k, w.numel(), generator=gen, dtype=torch.float64).to(w.device, w.dtype)
    V = torch.linalg.qr(V.T).Q.T
    last = None
    for _ in range(iters):
        HV = apply_h(V) - shift * V
        theta, S = _ritz(V, HV)
        values = theta.cpu().numpy() + shift
        V = torch.linalg.qr((S.T.to(HV.dtype) @ HV).T).Q.T
        if last is not None and np.all(
            np.abs(values - last) <= tol * np.maximum(np.abs(values), 1e-12)
        ):
            break
        last = values
    # the eigenvectors: the final basis rotated to its Ritz vectors
    theta, S = _ritz(V, apply_h(V) - shift * V)
    return theta.cpu().numpy() + shift, (S.T.to(V.dtype) @ V).contiguous()


def trace(landscape, weights, samples: int = 100, seed: int = 0) -> tuple[float, float]:
    """Hutchinson's estimate of the Hessian's trace and its standard error.

    tr(H) = E[z^T H z] for z with independent +-1 entries; the mean over
    ``samples`` draws, with the standard error of that mean.
    """
    if not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an int >= 2, not {samples!r}")
    f = _Loss(landscape)
    w = f.weights(weights)
    gen = torch.Generator().manual_seed(seed)
    estimates = []
    chunk = 8
    for s in range(0, samples, chunk):
        m = min(chunk, samples - s)
        z = (torch.randint(0, 2, (m, w.numel()), generator=gen) * 2 - 1).to(w.device, w.dtype)
        hz = f.hvp(w, z)
        estimates.extend((z.double() * hz.double()).sum(1).tolist())
    est = np.asarray(estimates)
    return float(est.mean()), float(est.std(ddof=1) / math.sqrt(len(est)))


@dataclass
class Curvature:
    """Extreme Hessian eigenvalues at one point: ``lambda_max`` (largest magnitude) and
    ``lambda_min`` (the other end of the spectrum), and their ratio."""

    lambda_max: float
    lambda_min: float

    @property
    def ratio(self) -> float:
        """|lambda_min / lambda_max|: 0 where the loss is convex with one sharp direction."""
        return abs(self.lambda_min / self.lambda_max) if self.lambda_max else math.nan


def _extremes(apply_h, w, iters, tol, seed) -> Curvature:
    """The eigenvalue of largest magnitude, then the far end of the spectrum by power
    iteration on H - lambda_max I (whose largest-magnitude eigenvalue is lambda_min -
    lambda_max when lambda_max is the top)."""
    # blocks of a few vectors: convergence then goes with the gap to the (m+1)-th
    # eigenvalue rather than the 2nd, which matters at the crowded low end
    m = min(_BLOCK, w.numel())
    top = _block_power(apply_h, w, m, iters, tol, seed)[0][0]
    other = _block_power(apply_h, w, m, iters, tol, seed + 1, shift=float(top))[0][0]
    lo, hi = sorted((float(top), float(other)))
    big, small = (hi, lo) if abs(hi) >= abs(lo) else (lo, hi)
    return Curvature(lambda_max=big, lambda_min=small)


def eigen_ratio_grid(
    landscape,
    plane,
    resolution: int | tuple[int, int] = 11,
    bounds: Sequence[float] | None = None,
    margin: float | None = None,
    iters: int = 60,
    tol: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
):
    """|lambda_min / lambda_max| of the Hessian at every point of a grid on ``plane``.

    Returns a :class:`Surface` whose values are the ratio, with
    ``metrics["lambda_max"]`` and ``metrics["lambda_min"]``; show it with
    ``LandscapeWidget(surface)``. Each point costs two power iterations of
    Hessian-vector products over the evaluation data, so keep grids small
    (11 x 11 of a small MLP takes seconds to a minute on a CPU).
    """
    nx, ny = (resolution, resolution) if isinstance(resolution, int) else resolution
    if min(nx, ny) < 2:
        raise ValueError(f"resolution must be at least 2 per axis, not {resolution!r}")
    x0, x1, y0, y1 = bounds if bounds is not None else plane.default_bounds(margin)
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    f = _Loss(landscape)
    ratio = np.empty((ny, nx))
    lmax = np.empty((ny, nx))
    lmin = np.empty((ny, nx))
    bar = None
    if progress:
        bar = tqdm(total=nx * ny, desc="eigenvalues", unit="point", leave=False)
    try:
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                w = plane.point(float(x), float(y)).to(landscape.device, landscape.dtype)
                c = _extremes(lambda vs, w=w: f.hvp(w, vs), w, iters, tol, seed)
                ratio[i, j], lmax[i, j], lmin[i, j] = c.ratio, c.lambda_max, c.lambda_min
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return Surface(
        xs,
        ys,
        ratio,
        metrics={"lambda_max": lmax, "lambda_min": lmin},
        anchors=dict(plane.anchors),
        provenance={
            "kind": plane.kind,
            "quantity": "|lambda_min / lambda_max|",
            "bn": "stored statistics",
            "iters": iters,
            "tol": tol,
        },
    )
