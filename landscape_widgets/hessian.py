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
  direction (Li et al. 2018, sec. 6), by Lanczos iteration (scipy's ``eigsh``)
  at each grid point.

Examples
--------
>>> from landscape_widgets import hessian  # doctest: +SKIP
>>> values, vectors = hessian.top_eigenvalues(landscape, net, k=3)  # doctest: +SKIP
>>> hessian.trace(landscape, net, samples=100)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from torch.func import functional_call
from tqdm.auto import tqdm

from .core.results import Surface
from .core.weights import as_vector

_PARAMS = ("all", "weights")

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

    def weight_index(self) -> torch.Tensor:
        """Positions in the flat vector of the parameters with two or more dimensions:
        weight matrices and convolution kernels, not biases or normalisation scales."""
        layout = self.ls.layout
        keep = [
            torch.arange(off, off + shape.numel())
            for shape, off in zip(layout.shapes, layout.offsets, strict=True)
            if len(shape) > 1
        ]
        if not keep:
            raise ValueError(
                "params='weights': the network has no parameter of 2 or more dimensions"
            )
        return torch.cat(keep).to(self.ls.device)

    def hvp_block(self, w: torch.Tensor, vs: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """``H v`` for the block of H on the entries ``index``: each row of ``vs`` (m, len(index))
        padded with zeros to the full vector, multiplied, and cut back to those entries."""
        full = torch.zeros(len(vs), w.numel(), dtype=vs.dtype, device=vs.device)
        full[:, index] = vs
        return self.hvp(w, full)[:, index]

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


def _extremes(apply_h, n: int, device, dtype, tol: float, seed: int) -> tuple[Curvature, int]:
    """Both ends of the spectrum of the n x n operator ``apply_h`` by one Lanczos run,
    and the number of products it took.

    ``eigsh(which="BE", k=2)`` keeps one Ritz value from each end of the spectrum in
    one Krylov space. Lanczos converges to the crowded low end far faster than power
    iteration on a shifted H, which stops short of |lambda_min| by factors of 1.5 to 5
    on a 10,000-weight MLP after 60 rounds. The iteration runs in float64 whatever the
    landscape's dtype, so its own rounding stays below the products'. Li et al.'s
    ``min_max_hessian_eigs`` also uses ``eigsh``, but in two runs with ``tol=1e-2``.
    """
    count = 0

    def matvec(v: np.ndarray) -> np.ndarray:
        nonlocal count
        count += 1
        vt = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64).reshape(1, -1))
        return apply_h(vt.to(device, dtype))[0].to("cpu", torch.float64).numpy()

    if n < 3:  # eigsh needs k < n; a 1x1 or 2x2 Hessian is formed from n products
        h = np.stack([matvec(e) for e in np.eye(n)])
        values = np.linalg.eigvalsh((h + h.T) / 2)
    else:
        op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(n)
        try:
            values = eigsh(op, k=2, which="BE", tol=tol, v0=v0, return_eigenvectors=False)
        except ArpackNoConvergence as err:
            raise RuntimeError(
                f"Lanczos did not reach tol={tol} after {count} Hessian-vector products; "
                "the products may be too noisy for it (float32): pass a larger tol or "
                "a float64 Landscape"
            ) from err
    lo, hi = float(np.min(values)), float(np.max(values))
    big, small = (hi, lo) if abs(hi) >= abs(lo) else (lo, hi)
    return Curvature(lambda_max=big, lambda_min=small), count


def eigen_ratio_grid(
    landscape,
    plane,
    resolution: int | tuple[int, int] = 11,
    bounds: Sequence[float] | None = None,
    margin: float | None = None,
    params: str = "all",
    tol: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
):
    """|lambda_min / lambda_max| of the Hessian at every point of a grid on ``plane``.

    At each point the two ends of the Hessian's spectrum come from one Lanczos
    run (``scipy.sparse.linalg.eigsh`` on a ``LinearOperator`` of
    Hessian-vector products); ``lambda_max`` is the end of larger magnitude
    and ``lambda_min`` the other.

    Parameters
    ----------
    landscape : Landscape
        The loss, data and network.
    plane : Plane
        The grid's plane; every parameter moves with it.
    resolution, bounds, margin
        Grid points per axis, and the window (default: the plane's
        ``default_bounds(margin)``).
    params : {"all", "weights"}
        Which parameters the Hessian is taken over. ``"all"`` (the default):
        every parameter, the same Hessian as :func:`top_eigenvalues` and
        :func:`trace`. ``"weights"``: only the parameters of two or more
        dimensions (weight matrices, convolution kernels), the others held at
        the grid point's values, as Li et al.'s ``min_max_hessian_eigs``
        (``plot_hessian_eigen.py``) does; use it to reproduce their figures.
        The ratio differs between the two: biases and BatchNorm scales add
        their own curvature.
    tol : float
        Lanczos stops when each of the two Ritz pairs has a residual below
        ``tol`` times its eigenvalue, which bounds each eigenvalue's relative
        error by ``tol``. The default 1e-3 (Li et al. use 1e-2) is a bound:
        the error of a Ritz value goes with its residual squared, so on a
        10,000-weight MLP the values agreed with ``tol=1e-6`` to 1e-4 or
        better, for 30% of the products. Float32 products are accurate to about
        1e-6 of ``lambda_max``; a ``tol`` near that needs a float64 Landscape.
    seed : int
        Seed of the Lanczos starting vector.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Surface
        Values are the ratio, with ``metrics["lambda_max"]`` and
        ``metrics["lambda_min"]``; ``provenance`` records ``params``, ``tol``,
        the method and the Hessian-vector products used, and the ratio's
        natural range, ``value_range = [0, 1]``. Show it with
        ``LandscapeWidget(surface)``, which colours it over [0, 1]. Each point
        costs one Lanczos run (tens to a few hundred products over the
        evaluation data), so keep grids small.
    """
    if params not in _PARAMS:
        raise ValueError(f"params must be 'all' or 'weights', not {params!r}")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise ValueError(f"tol must be a number between 0 and 1, not {tol!r}")
    nx, ny = (resolution, resolution) if isinstance(resolution, int) else resolution
    if min(nx, ny) < 2:
        raise ValueError(f"resolution must be at least 2 per axis, not {resolution!r}")
    x0, x1, y0, y1 = bounds if bounds is not None else plane.default_bounds(margin)
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    f = _Loss(landscape)
    index = f.weight_index() if params == "weights" else None
    n = landscape.layout.numel if index is None else len(index)
    ratio = np.empty((ny, nx))
    lmax = np.empty((ny, nx))
    lmin = np.empty((ny, nx))
    products = 0
    bar = None
    if progress:
        bar = tqdm(total=nx * ny, desc="eigenvalues", unit="point", leave=False)
    try:
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                w = plane.point(float(x), float(y)).to(landscape.device, landscape.dtype)
                apply_h = (
                    functools.partial(f.hvp, w)
                    if index is None
                    else functools.partial(f.hvp_block, w, index=index)
                )
                c, count = _extremes(apply_h, n, landscape.device, landscape.dtype, tol, seed)
                products += count
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
            # |lambda_min| <= |lambda_max| by definition: 0 and 1 are the scale's natural ends
            "value_range": [0.0, 1.0],
            "bn": "stored statistics",
            "params": params,
            "hessian_size": n,
            "method": "Lanczos (scipy.sparse.linalg.eigsh, which='BE', k=2)",
            "tol": tol,
            "hvp_count": products,
            "axis_names": list(plane.axis_names),
            "same_units": bool(plane.same_units),
        },
    )
