"""Sharp and flat minima: SGD's gradient noise, and 1-D slices through a minimum.

Keskar et al. (2017, "On Large-Batch Training for Deep Learning: Generalization
Gap and Sharp Minima") trained one network with small and with large
mini-batches and found that the large batches end in *sharper* minima (larger
Hessian eigenvalues, a narrower valley in a 1-D slice) that generalise worse.
The usual explanation is noise: a mini-batch gradient is the full gradient
plus a random error whose size shrinks as the batch grows, and that error
keeps kicking small-batch SGD out of narrow valleys.

- :func:`gradient_noise` — the size of that error at one point: the trace of
  the covariance of the per-example gradients over the landscape's examples,
  divided by the batch size, next to the squared norm of the full gradient.
- :func:`noise_along_training` — the same at every weight vector that
  :func:`~landscape_widgets.train` recorded (``record_every=k``).
- :func:`filter_direction` and :func:`filter_slice` — the loss along
  ``theta + a d`` for a random filter-normalised direction ``d`` (Li et al.
  2018), so that slices through two different networks are comparable.

The curvature numbers themselves (top eigenvalue, trace) come from
:mod:`landscape_widgets.hessian`.

The loss is the landscape's loss function, which must be a mean over
examples (``nn.CrossEntropyLoss()``, ``nn.MSELoss()``), on the landscape's
evaluation data: build the landscape on the training set, with
``subset=None`` to use all of it. BatchNorm layers use their stored
statistics and dropout is off (evaluation mode), as in
:mod:`~landscape_widgets.hessian`: in training mode a BatchNorm layer
normalises each example by statistics of its whole batch, so one example's
gradient is not defined on its own. The noise reported is that of the network
as it is evaluated, without the extra noise that batch statistics (and
dropout) add during training.

Examples
--------
>>> from landscape_widgets import sharpness  # doctest: +SKIP
>>> sharpness.gradient_noise(landscape, net, batch_size=32).noise_scale  # doctest: +SKIP
>>> profile = sharpness.filter_slice(landscape, net, radius=1.0)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

from .core.planes import Line, Plane
from .core.results import Profile
from .core.weights import as_vector

__all__ = [
    "GradientNoise",
    "filter_direction",
    "filter_slice",
    "gradient_noise",
    "noise_along_training",
]

# bytes of per-example gradients held at once (a chunk of examples, one row each);
# a few MiB keep the chunk's statistics in cache (about twice as fast as 32 MiB
# chunks for a 10k-weight MLP on 500 examples, on a CPU)
_CHUNK_BYTES = 8 << 20


@dataclass
class GradientNoise:
    """The spread of per-example gradients, at one point or along training.

    With ``g_i`` the gradient of example i's loss and ``g`` their mean (the
    full-batch gradient) over the N examples, ``Sigma = (1/N) sum_i (g_i - g)
    (g_i - g)^T``. A mini-batch of B examples drawn with replacement has
    gradient ``g + e`` with ``E[e] = 0`` and ``E|e|^2 = tr(Sigma) / B``: the
    *noise scale*.

    Attributes
    ----------
    trace_cov : float or ndarray
        ``tr(Sigma)``; an array with one entry per recorded point when
        returned by :func:`noise_along_training`.
    grad_norm_sq : float or ndarray
        ``|g|^2``, the squared norm of the full-batch gradient.
    batch_size : int
        B.
    n : int
        N, the number of examples.
    steps : ndarray or None
        The training step of each entry (from :func:`noise_along_training`).
    """

    trace_cov: float | np.ndarray
    grad_norm_sq: float | np.ndarray
    batch_size: int
    n: int
    steps: np.ndarray | None = None

    @property
    def noise_scale(self) -> float | np.ndarray:
        """``tr(Sigma) / B``: the expected squared error of a mini-batch gradient."""
        return self.trace_cov / self.batch_size

    @property
    def noise_scale_without_replacement(self) -> float | np.ndarray:
        """The same for a batch of B distinct examples (an epoch of shuffled batches):
        ``tr(Sigma) / B * (N - B) / (N - 1)``, zero for the full batch."""
        if self.n < 2:
            return self.noise_scale * 0.0
        return self.noise_scale * max(self.n - self.batch_size, 0) / (self.n - 1)

    @property
    def snr(self) -> float | np.ndarray:
        """``|g|^2 / (tr(Sigma) / B)``: above 1 a mini-batch gradient mostly points
        along the full gradient, below 1 it is mostly noise."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.divide(self.grad_norm_sq, self.noise_scale)


class _PerExample:
    """Per-example gradients of the landscape's loss at a flat weight vector."""

    def __init__(self, landscape, chunk: int | None):
        self.ls = landscape
        self.net = copy.deepcopy(landscape.net).eval()
        self.buffers = dict(self.net.named_buffers())
        if chunk is not None and (not isinstance(chunk, int) or chunk < 1):
            raise ValueError(f"chunk must be a positive int or None, not {chunk!r}")
        row_bytes = landscape.X.element_size() * landscape.layout.numel
        self.chunk = chunk or max(1, _CHUNK_BYTES // row_bytes)

        def loss_one(w, x, y):
            out = functional_call(self.net, (landscape.layout.split(w), self.buffers), (x[None],))
            return landscape.loss_fn(out, y[None])

        self.loss_one = loss_one
        self.batched = vmap(grad(loss_one), in_dims=(None, 0, 0))
        self.use_vmap = True

    def grads(self, w: torch.Tensor, a: int, b: int) -> torch.Tensor:
        """Rows ``g_i`` for examples ``a .. b-1``, shape (b - a, D)."""
        X, y = self.ls.X[a:b], self.ls.y[a:b]
        if self.ls.copy_input:  # the model writes into its input: keep the landscape's intact
            X = X.clone()
        if self.use_vmap:
            try:
                with warnings.catch_warnings():
                    # an op without a batching rule runs in a loop inside vmap:
                    # slower, still right
                    warnings.filterwarnings("ignore", message=".*batching rule.*")
                    return self.batched(w, X, y)
            except RuntimeError:
                # e.g. data-dependent control flow: one backward pass per example
                self.use_vmap = False
        rows = []
        for x1, y1 in zip(X, y, strict=True):
            wi = w.detach().requires_grad_(True)
            (gi,) = torch.autograd.grad(self.loss_one(wi, x1, y1), wi)
            rows.append(gi)
        return torch.stack(rows)

    def moments(self, w: torch.Tensor) -> tuple[float, float]:
        """``(tr(Sigma), |g|^2)`` in one pass over the examples.

        Each chunk's mean and sum of squared deviations from that mean are
        merged into the running ones (the pairwise update of Chan, Golub and
        LeVeque), in float64: subtracting ``|g|^2`` from the mean of
        ``|g_i|^2`` instead loses every digit when the noise is small next to
        the gradient. Within a chunk the deviations are taken in the
        landscape's dtype, against the chunk's own mean, and summed in float64.
        """
        n_seen = 0
        mean = torch.zeros(w.numel(), dtype=torch.float64, device=w.device)
        ssd = 0.0
        n = len(self.ls.X)
        for a in range(0, n, self.chunk):
            b = min(n, a + self.chunk)
            G = self.grads(w, a, b)
            m_c = G.mean(0, dtype=torch.float64)
            ssd_c = float((G - m_c.to(G.dtype)).pow_(2).sum(dtype=torch.float64))
            k = b - a
            delta = m_c - mean
            total = n_seen + k
            ssd += ssd_c + float(delta @ delta) * n_seen * k / total
            mean += delta * (k / total)
            n_seen = total
        return ssd / n, float(mean @ mean)


def _flat(landscape, weights) -> torch.Tensor:
    w = as_vector(weights, landscape.layout)
    return w.detach().to(landscape.device, landscape.dtype)


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive int, not {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, not {batch_size}")
    return int(batch_size)


def gradient_noise(landscape, weights, batch_size: int, chunk: int | None = None) -> GradientNoise:
    """SGD's gradient noise at ``weights``: ``tr(Cov(g_i)) / B`` and ``|g|^2``.

    Parameters
    ----------
    landscape : Landscape
        Its loss function (a mean over examples) and its evaluation data, which
        should be the training set.
    weights : nn.Module, state_dict or flat vector
    batch_size : int
        The mini-batch size B the noise scale is for.
    chunk : int, optional
        Examples whose gradients are held at once (default: 8 MiB of them).

    Per-example gradients come from ``torch.func``: ``vmap(grad(loss))`` over
    ``functional_call`` of a copy of the landscape's network, a chunk of
    examples per call; a model that vmap cannot run falls back to one
    backward pass per example.

    Examples
    --------
    >>> noise = gradient_noise(landscape, net, batch_size=32)  # doctest: +SKIP
    >>> noise.noise_scale, noise.grad_norm_sq, noise.snr  # doctest: +SKIP
    """
    batch_size = _check_batch_size(batch_size)
    f = _PerExample(landscape, chunk)
    trace_cov, grad_norm_sq = f.moments(_flat(landscape, weights))
    return GradientNoise(trace_cov, grad_norm_sq, batch_size, len(landscape.X))


def noise_along_training(
    landscape,
    trajectory,
    batch_size: int,
    steps: Sequence[int] | None = None,
    chunk: int | None = None,
) -> GradientNoise:
    """:func:`gradient_noise` at every recorded point of a training run.

    Parameters
    ----------
    landscape : Landscape
    trajectory : TrainResult or sequence of weights
        A :class:`~landscape_widgets.TrainResult` from ``train(...,
        record_every=k)`` (its ``trajectory`` and ``trajectory_steps``), or
        weight vectors in order.
    batch_size : int
        The B of the noise scale (usually the batch size of that training run).
    steps : sequence of int, optional
        The step of each point when ``trajectory`` is a plain sequence
        (default 0, 1, 2, ...).

    Returns
    -------
    GradientNoise
        With arrays, one entry per point, and ``steps``.

    Examples
    --------
    >>> run = train(net, (X, y), batch_size=16, record_every=50)  # doctest: +SKIP
    >>> noise = noise_along_training(landscape, run, batch_size=16)  # doctest: +SKIP
    >>> noise.steps, noise.noise_scale  # doctest: +SKIP
    """
    batch_size = _check_batch_size(batch_size)
    if hasattr(trajectory, "trajectory_steps"):
        if steps is not None:
            raise TypeError("steps come from the TrainResult; pass a plain sequence to set them")
        points, steps = trajectory.trajectory, trajectory.trajectory_steps
        if not points:
            raise ValueError("the TrainResult recorded no trajectory: train with record_every=k")
    else:
        points = list(trajectory)
        steps = range(len(points)) if steps is None else steps
    steps = np.asarray(list(steps))
    if len(steps) != len(points):
        raise ValueError(f"{len(steps)} steps for {len(points)} points")
    f = _PerExample(landscape, chunk)
    moments = np.array([f.moments(_flat(landscape, w)) for w in points]).reshape(-1, 2)
    return GradientNoise(moments[:, 0], moments[:, 1], batch_size, len(landscape.X), steps)


def filter_direction(
    landscape, weights, seed: int = 0, ignore: Sequence[str] = ("bias", "bn")
) -> torch.Tensor:
    """A random Gaussian direction, filter-normalised at ``weights`` (Li et al. 2018).

    Each filter (each row of a Linear weight, each output channel of a
    convolution) is rescaled to the norm of the same filter of ``weights``;
    ``ignore`` zeroes biases and normalisation layers. This is the first
    direction of ``Plane.random(..., center=weights, seed=seed)``, so the same
    seed gives the same raw draw for every network: two networks are sliced
    along the same random direction, each at its own scale.
    """
    return Plane.random(landscape.net, "filter", ignore, seed=seed, center=weights).u


def filter_slice(
    landscape,
    weights,
    radius: float = 1.0,
    n: int = 41,
    seed: int = 0,
    ignore: Sequence[str] = ("bias", "bn"),
    direction: torch.Tensor | None = None,
) -> Profile:
    """Loss (and metrics) along ``theta + a d`` for ``a`` in ``[-radius, radius]``.

    ``d`` is :func:`filter_direction` (or ``direction`` when given). Because
    each filter of ``d`` has the length of the same filter of ``theta``, ``a``
    is a relative step: ``a = 1`` changes every filter by its own size, and
    the width of the valley is comparable between networks whose weights
    have different scales (a network with large weights looks flat in
    absolute units only because it is large).

    Returns a :class:`Profile` with ``t = a`` and ``anchors = {"theta": 0.0}``.
    """
    if not radius > 0:
        raise ValueError(f"radius must be positive, not {radius!r}")
    theta = as_vector(weights, landscape.layout)
    d = filter_direction(landscape, theta, seed, ignore) if direction is None else direction
    d = torch.as_tensor(d).detach().float().cpu().reshape(-1)
    profile = landscape.evaluate(
        Line(theta, theta + d, names=("theta", "theta + d")),
        resolution=n,
        bounds=(-float(radius), float(radius)),
        progress=False,
    )
    profile.anchors = {"theta": 0.0}
    profile.provenance.update(
        kind="filter slice",
        direction_seed=None if direction is not None else seed,
        ignore=list(ignore),
    )
    return profile
