"""Optimizer trajectories through weight space, and their shadows on a plane.

:func:`record_trajectory` trains a private copy of a network for a number of
steps and keeps its weights every few steps, so several optimizers, starts,
batch sizes or learning rates can be run from one model and compared on one
landscape. With ``plane=`` only the two plane coordinates are trained: for
:meth:`Plane.weights` that is exactly gradient descent on two weights of the
network (the classic two-weight picture); for any other plane it is gradient
descent in plane coordinates, the in-plane gradient flow, which a projected
full-training path only approximates.

On a :meth:`Plane.weights` plane of an ``nn.Sequential`` chain trained on
``(X, y)`` tensors, the layers before the two weights are frozen: their output
is computed once, and each step runs only what the two weights change
(:mod:`~landscape_widgets.core.partial_descent`); on the classic two-weight
picture that is over fifty times faster, with the same steps to float32
rounding. ``Trajectory.info["path"]`` says which path ran.

A path through millions of dimensions drawn on a plane is a projection:
:meth:`Trajectory.project` returns the plane coordinates together with each
point's distance to the plane, because a projected path can pass over terrain
it never touched.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from . import partial_descent
from .data import DataLike, OptimizerLike, make_loader, make_optimizer, resolve_device
from .planes import Plane
from .train import StepLoop
from .weights import ParamLayout, WeightsLike, as_vector, weights_of

__all__ = ["PlanePath", "Trajectory", "check_steps", "record_trajectory"]


@dataclass
class PlanePath:
    """A trajectory seen on a plane.

    Attributes
    ----------
    xy : ndarray (K, 2)
        Least-squares plane coordinates of each recorded point.
    distance : ndarray (K,)
        Euclidean distance from each point to the plane: the projection error.
    relative : ndarray (K,)
        ``distance / |w - plane.origin|``: 0 means the point lies in the
        plane, 1 that it is orthogonal to it (0 where ``w`` is the origin).
    steps : ndarray (K,)
        The optimisation step of each point.
    """

    xy: np.ndarray
    distance: np.ndarray
    relative: np.ndarray
    steps: np.ndarray

    @property
    def max_error(self) -> float:
        """The largest distance from the path to the plane."""
        return float(self.distance.max()) if len(self.distance) else 0.0


@dataclass
class Trajectory:
    """Weights recorded along one optimisation run.

    Attributes
    ----------
    weights : Tensor (K, P)
        Flat float32 CPU weight vectors, the first at step 0, the last at the
        final step.
    steps : ndarray (K,)
        The step at which each row of ``weights`` was taken.
    losses : ndarray (S,)
        The loss of every step's (mini-)batch, before that step's update.
    label : str
        A name for legends ("adam", "sgd b=32", ...).
    info : dict
        How it was made: optimizer, lr, batch size, seed, steps,
        ``"plane"`` (the plane's kind for runs restricted to a plane, else
        None) and ``"path"``: ``"full"`` (the whole network at every step) or
        ``"partial (unit)"``, ``"partial (row)"``, ``"partial (layer)"`` (only
        what the two weights of a ``Plane.weights`` plane change; see
        :mod:`~landscape_widgets.core.partial_descent`). A ``Plane.weights``
        run that took the full path says why in ``"why_full"``.
    """

    weights: torch.Tensor
    steps: np.ndarray
    losses: np.ndarray
    label: str = ""
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.weights.shape[0])

    @property
    def start(self) -> torch.Tensor:
        return self.weights[0]

    @property
    def end(self) -> torch.Tensor:
        return self.weights[-1]

    def project(self, plane: Plane) -> PlanePath:
        """Plane coordinates of every recorded point, with the projection error."""
        if plane.numel != self.weights.shape[1]:
            raise ValueError(
                f"the plane has {plane.numel} weights but the trajectory {self.weights.shape[1]}; "
                "are they from the same model?"
            )
        xy, dist = plane.project_with_distance(self.weights)
        offset = (self.weights - plane.origin).norm(dim=1)
        rel = torch.where(offset > 0, dist / offset.clamp_min(1e-30), torch.zeros_like(dist))
        return PlanePath(
            xy.double().numpy(), dist.double().numpy(), rel.double().numpy(), self.steps.copy()
        )

    def save(self, path) -> None:
        """Write to one ``.pt`` file (read back with :meth:`load`)."""
        torch.save(
            {
                "weights": self.weights,
                "steps": torch.as_tensor(self.steps),
                "losses": torch.as_tensor(self.losses),
                "label": self.label,
                "info": self.info,
            },
            Path(path),
        )

    @classmethod
    def load(cls, path) -> Trajectory:
        state = torch.load(Path(path), weights_only=True)
        return cls(
            state["weights"],
            state["steps"].numpy(),
            state["losses"].numpy(),
            state["label"],
            dict(state["info"]),
        )


def check_steps(**counts) -> None:
    """Raise ValueError unless every count (given by name) is a whole number >= 1.

    Examples
    --------
    >>> check_steps(steps=100, every=5)
    """
    for name, value in counts.items():
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _optimizer_name(optimizer: OptimizerLike) -> str:
    if isinstance(optimizer, str):
        return optimizer.lower()
    inner = getattr(optimizer, "func", optimizer)  # functools.partial
    return getattr(inner, "__name__", type(inner).__name__)


def record_trajectory(
    model: nn.Module,
    data: DataLike,
    optimizer: OptimizerLike = "sgd",
    lr: float | None = None,
    steps: int = 100,
    batch_size: int | None = None,
    start: WeightsLike | Sequence[float] | None = None,
    seed: int = 0,
    every: int = 1,
    plane: Plane | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    weight_decay: float = 0.0,
    label: str | None = None,
    progress: bool = False,
    device: str | torch.device = "cpu",
    stop: Callable[[], bool] | None = None,
) -> Trajectory:
    """Train a copy of ``model`` for ``steps`` steps and record its path.

    Parameters
    ----------
    model : nn.Module
        The network. It is copied; the caller's model is left untouched.
    data : (X, y) tensors, Dataset or DataLoader
        Training data, reshuffled at each pass with ``seed``.
    optimizer : str or callable
        "sgd", "momentum", "rmsprop", "adam", or ``params -> torch.optim.Optimizer``
        (then ``lr`` and ``weight_decay`` stay unset).
    lr : float, optional
        Learning rate (defaults as in :func:`train`).
    steps : int
        Optimisation steps.
    batch_size : int, optional
        Mini-batch size; None means the whole data set in one batch (full-batch
        gradient descent). Ignored for a DataLoader.
    start : weights or (x, y), optional
        Where to start: weights in any form :func:`as_vector` accepts, or plane
        coordinates ``(x, y)`` when ``plane`` is given. By default the model's
        own weights (or, with a plane, their projection onto it).
    seed : int
        Seeds the shuffling; the caller's random state is left alone.
    every : int
        Record the weights every this many steps (the start and the end are
        always recorded).
    plane : Plane, optional
        Train only the plane coordinates ``(x, y)``, so the run never leaves
        the plane. For ``Plane.weights`` these are two weights of the network
        and the dynamics are exact; otherwise the gradient is taken with
        respect to the plane coordinates (the in-plane gradient flow). On a
        ``Plane.weights`` plane of an ``nn.Sequential`` with ``(X, y)`` tensor
        data, the layers before the two weights run once for the whole data
        set and each step runs only the rest (the partial path, the same
        steps to float32 rounding); where that would not be exact (random or
        batch-dependent layers before the weights, tied weights, a Dataset or
        DataLoader) the whole network runs at every step.
    loss_fn : callable, optional
        ``loss_fn(output, target)``; cross-entropy for integer targets and
        mean squared error for float targets by default.
    weight_decay : float
        L2 penalty for the optimizer.
    label : str, optional
        Legend name; by default the optimizer's name.
    progress : bool
        Show a progress bar.
    device : str or torch.device
        Where to train.
    stop : callable, optional
        Checked before every step; when it returns True the run ends there
        (the trajectory then stops early, and ``info["steps"]`` says so).

    Examples
    --------
    >>> from landscape_widgets import datasets, models
    >>> _ = torch.manual_seed(0)
    >>> data = datasets.spirals(200)
    >>> run = record_trajectory(models.small_mlp(), data, "adam", steps=20, every=5)
    >>> len(run), run.steps.tolist(), len(run.losses)
    (5, [0, 5, 10, 15, 20], 20)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, not {type(model).__name__}")
    check_steps(steps=steps, every=every)
    if plane is not None and not isinstance(plane, Plane):
        raise TypeError(f"plane must be a Plane, not {type(plane).__name__}")
    layout = ParamLayout.of(model)
    if plane is not None and plane.numel != layout.numel:
        raise ValueError(
            f"the plane has {plane.numel} weights but the model {layout.numel}; "
            "was it made for another model?"
        )
    if batch_size is None:
        try:
            batch_size = len(data[0]) if isinstance(data, (tuple, list)) else len(data)
        except TypeError:
            raise ValueError("batch_size=None needs data with a length") from None
    device = resolve_device(device)
    net = copy.deepcopy(model).to(device)
    dtype = next(net.parameters()).dtype
    theta0 = _start_point(start, plane, layout, net)
    # a copy: the parameters become views of this vector, and `start` may be
    # another run's weights or a plane's origin
    torch.nn.utils.vector_to_parameters(theta0.to(device, dtype, copy=True), net.parameters())
    loader = make_loader(data, int(batch_size), seed)

    path, why_full, fast = "full", None, None
    if plane is None:
        params = list(net.parameters())
        current = lambda: weights_of(net)  # noqa: E731
        forward = None  # the network itself
    else:
        for p in net.parameters():
            p.requires_grad_(False)
        # Descend in orthonormal coordinates q of the plane: the gradient in q is
        # the weight gradient projected onto the plane, whatever the lengths and
        # angle of the plane's u and v (random planes are neither unit nor
        # orthogonal). For Plane.weights, q is the two weights themselves.
        uv = torch.stack([plane.u, plane.v], dim=1).double()
        basis, r = torch.linalg.qr(uv)
        # QR may flip a column's sign; undo it, so for Plane.weights q is the
        # two weights' offsets themselves
        basis = basis * torch.sign(torch.diagonal(r))
        q = nn.Parameter(torch.zeros(2, dtype=dtype, device=device))
        base = theta0.to(device, dtype, copy=True)
        e1, e2 = (basis[:, k].to(device, dtype) for k in range(2))
        params = [q]

        def current():
            return (base + q.detach()[0] * e1 + q.detach()[1] * e2).float().cpu()

        def forward(inputs):
            return functional_call(net, layout.split(base + q[0] * e1 + q[1] * e2), (inputs,))

        if plane.kind == "weights":
            # the frozen layers run once, each step only what the two weights change
            fast = partial_descent.plan(
                net, plane.info, data, int(batch_size), seed, base, q, layout, loss_fn
            )
            if isinstance(fast, str):
                why_full, fast = fast, None
            else:
                path = f"partial ({fast.kind})"
                if fast.forward is not None:
                    forward, loader = fast.forward, fast.batches

    opt = make_optimizer(optimizer, params, lr, weight_decay)
    kept, kept_steps, losses = [current().clone()], [0], []

    def record(step: int, loss: float) -> dict | None:
        losses.append(loss)
        if step % int(every) == 0 or step == int(steps):
            kept.append(current().clone())
            kept_steps.append(step)
        return None if math.isfinite(loss) else {"loss": "diverged"}

    # The global generator is shared by every thread: seeding it from a
    # background thread (a start dropped on the map) would rewind the kernel's
    # random state, so only the main thread seeds it (for dropout); the
    # shuffling has its own seeded generator either way.
    main = threading.current_thread() is threading.main_thread()
    desc = label or "trajectory"
    if fast is not None and fast.unit is not None:
        # closed-form steps: no network, no randomness, no autograd
        fast.unit.run(opt, int(steps), record, stop, progress, desc)
    else:
        loop = StepLoop(net, opt, device, seed, loss_fn, forward, seed_global=main)
        loop.run(loader, steps=int(steps), on_step=record, stop=stop, progress=progress, desc=desc)
    info = {
        "optimizer": _optimizer_name(optimizer),
        "lr": lr,
        "batch_size": int(batch_size),
        "seed": seed,
        "steps": len(losses),
        "weight_decay": weight_decay,
        "plane": None if plane is None else plane.kind,
        "path": path,
    }
    if why_full is not None:
        info["why_full"] = why_full
    return Trajectory(
        torch.stack(kept),
        np.asarray(kept_steps, dtype=np.int64),
        np.asarray(losses, dtype=np.float64),
        label or info["optimizer"],
        info,
    )


def _start_point(start, plane: Plane | None, layout: ParamLayout, net: nn.Module):
    """The starting weight vector (with a plane, on the plane)."""
    is_pair = (
        isinstance(start, (tuple, list, np.ndarray))
        and len(start) == 2
        and all(isinstance(c, (int, float, np.number)) for c in start)
    )
    if is_pair:
        if plane is None:
            raise ValueError("start=(x, y) names plane coordinates: pass plane= as well")
        x, y = (float(c) for c in start)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"start has non-finite coordinates {start!r}")
        return plane.point(x, y)
    theta = weights_of(net) if start is None else as_vector(start, layout)
    if not torch.isfinite(theta).all():
        raise ValueError("start has non-finite (NaN or inf) weights")
    if plane is None:
        return theta
    return plane.point(*plane.project(theta).tolist())
