"""Planes and lines through weight space.

Every plane is an origin and two direction vectors, all flat tensors of the
model's parameter count, so that ``point(x, y) = origin + x * u + y * v``.
The constructors differ in where the three come from:

- :meth:`Plane.through`: three points, orthonormal basis by Gram-Schmidt
  (Garipov et al. 2018), so coordinates are distances in weight space;
- :meth:`Plane.random`: two Gaussian directions with filter normalisation
  (Li et al. 2018), centred on the model's weights;
- :meth:`Plane.pca`: the top two principal directions of an optimizer
  trajectory (Li et al. 2018, section 7);
- :meth:`Plane.weights`: two individual weights as the axes, all else frozen.

Over 500 lines because each of ``Plane``'s four constructors carries the
numpydoc of the paper it follows; the code of each is short.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .weights import ParamLayout, WeightsLike, as_vector, layout_difference, weights_of

Bounds = tuple[float, float, float, float]

_NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _vector(w: WeightsLike, layout: ParamLayout | None, what: str) -> torch.Tensor:
    if layout is None:
        if isinstance(w, nn.Module):
            vec = weights_of(w)
        elif isinstance(w, torch.Tensor) and w.dim() == 1:
            vec = w.detach().float().cpu()
        else:
            raise TypeError(
                f"{what}: without a model to take names and shapes from, weights must be "
                "an nn.Module or a flat tensor; pass model=... for state_dicts and checkpoints"
            )
    else:
        vec = as_vector(w, layout)
    if not torch.isfinite(vec).all():
        bad = int((~torch.isfinite(vec)).sum())
        raise ValueError(f"{what} has {bad} non-finite (NaN or inf) weights")
    return vec


def _vectors(weights: dict[str, WeightsLike], model: nn.Module | None) -> dict[str, torch.Tensor]:
    """Flat vectors of named weights that must be points of one weight space.

    With ``model``, :func:`as_vector` checks each input against its names and
    shapes. Without it, equal sizes are not enough (networks of different layer
    shapes can have as many parameters), so modules' (name, shape) lists are
    compared and the first difference named. A flat tensor has no layout: only
    its size is checked.
    """
    layout = ParamLayout.of(model) if model is not None else None
    vecs = {n: _vector(w, layout, n) for n, w in weights.items()}
    layouts = {
        n: [(pn, tuple(p.shape)) for pn, p in w.named_parameters()]
        for n, w in weights.items()
        if layout is None and isinstance(w, nn.Module)
    }
    for name, lay in layouts.items():
        ref = next(iter(layouts))
        diff = layout_difference(name, lay, ref, layouts[ref])
        if diff is not None:
            raise ValueError(
                f"{diff}; are they from the same model? (Flat vectors, weights_of(net), "
                "are combined by position whatever their layout.)"
            )
    sizes = {name: v.numel() for name, v in vecs.items()}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{n}: {s}" for n, s in sizes.items())
        raise ValueError(f"weight vectors differ in size ({listed}); are they from the same model?")
    return vecs


@dataclass
class Plane:
    """A 2-D affine subspace of weight space: ``point(x, y) = origin + x*u + y*v``.

    Attributes
    ----------
    origin, u, v : torch.Tensor
        Flat float32 CPU tensors, one entry per model parameter.
    kind : str
        ``"through"``, ``"random"``, ``"pca"`` or ``"weights"``.
    anchors : dict[str, tuple[float, float]]
        The named points that define the plane, in plane coordinates.
    info : dict
        How the plane was made (seed, normalisation, explained variance, ...).
    axis_names : (str, str)
        What the coordinates are, for the axes of maps and 3D views: the
        weights' names for :meth:`weights`, "PC1 (90%)" for :meth:`pca`, the
        directions for :meth:`random`, distances for :meth:`through`.
    """

    origin: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    kind: str
    anchors: dict[str, tuple[float, float]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    axis_names: tuple[str, str] = ("x", "y")

    @property
    def same_units(self) -> bool:
        """Whether a unit step along x and along y is the same distance in weight space.

        True when u and v have the same length to within 5% (orthonormal
        planes, single weights, normalised random directions; two raw Gaussian
        draws differ by a few parts in a thousand): a map of the plane can
        then be drawn with equal aspect.
        """
        nu, nv = float(self.u.double().norm()), float(self.v.double().norm())
        return abs(nu - nv) <= 0.05 * max(nu, nv, 1e-30)

    @property
    def numel(self) -> int:
        return self.origin.numel()

    def point(self, x: float, y: float) -> torch.Tensor:
        """The weight vector at plane coordinates ``(x, y)``."""
        return self.origin + x * self.u + y * self.v

    def project(self, w: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """Least-squares plane coordinates of one vector ``(P,)`` or many ``(K, P)``.

        Returns ``(2,)`` or ``(K, 2)``. For orthonormal u, v this is the dot
        product with each; random planes are not orthogonal, so solve the
        2x2 normal equations.
        """
        w = torch.stack(list(w)) if isinstance(w, (list, tuple)) else w
        single = w.dim() == 1
        d = w.reshape(-1, self.numel).double() - self.origin.double()  # (K, P)
        basis = torch.stack([self.u, self.v]).double()  # (2, P)
        gram = basis @ basis.T  # (2, 2)
        coords = torch.linalg.solve(gram, basis @ d.T).T  # (K, 2)
        coords = coords.float()
        return coords[0] if single else coords

    def distance(self, w: torch.Tensor) -> torch.Tensor:
        """Euclidean distance from each vector to the plane (its projection error)."""
        dist = self.project_with_distance(w)[1]
        return dist[0] if w.dim() == 1 else dist

    def project_with_distance(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``project`` and ``distance`` of vectors ``(K, P)`` in one pass: ``(K, 2), (K,)``."""
        w2 = w.reshape(-1, self.numel)
        c = self.project(w2).reshape(-1, 2)
        back = self.origin + c[:, :1] * self.u + c[:, 1:] * self.v
        return c, (w2 - back).norm(dim=1)

    def default_bounds(self, margin: float | None = None) -> Bounds:
        """A window around the anchors.

        With several anchors, ``margin`` (default 0.25) is the fraction of
        their extent added on each side; with one anchor it is the half-width
        of a square around it (default 1.0, one filter-normalised unit).
        """
        pts = list(self.anchors.values()) + list(self.info.get("path", []))
        xs = [p[0] for p in pts] or [0.0]
        ys = [p[1] for p in pts] or [0.0]
        if len(pts) <= 1:
            r = 1.0 if margin is None else float(margin)
            return (xs[0] - r, xs[0] + r, ys[0] - r, ys[0] + r)
        m = 0.25 if margin is None else float(margin)
        span = max(max(xs) - min(xs), max(ys) - min(ys))
        pad = m * span if span > 0 else 1.0
        return (min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad)

    # ----------------------------------------------------------------- makers
    @classmethod
    def through(
        cls,
        w1: WeightsLike,
        w2: WeightsLike,
        w3: WeightsLike,
        model: nn.Module | None = None,
        names: tuple[str, str, str] = ("w1", "w2", "w3"),
    ) -> Plane:
        """The plane through three points, with an orthonormal basis.

        ``u = w2 - w1``, ``v = w3 - w1`` made orthogonal to ``u`` by one
        Gram-Schmidt step, both scaled to unit length, so ``w1`` sits at the
        origin, ``w2`` at ``(|w2 - w1|, 0)`` and distances in the plane are
        distances in weight space (Garipov et al. 2018, section 4).

        Examples
        --------
        >>> a, b, c = torch.zeros(3), torch.tensor([2., 0, 0]), torch.tensor([1., 1, 0])
        >>> Plane.through(a, b, c).anchors
        {'w1': (0.0, 0.0), 'w2': (2.0, 0.0), 'w3': (1.0, 1.0)}
        """
        vecs = _vectors(dict(zip(names, (w1, w2, w3), strict=True)), model)
        p1, p2, p3 = vecs.values()
        u = p2 - p1
        v = p3 - p1
        u_norm = u.double().norm()
        if u_norm == 0:
            raise ValueError(f"{names[0]} and {names[1]} are the same point; no plane through them")
        u_hat = u.double() / u_norm
        v_perp = v.double() - (v.double() @ u_hat) * u_hat
        v_norm = v_perp.norm()
        if v_norm <= 1e-9 * max(float(u_norm), float(v.double().norm())):
            raise ValueError(f"{', '.join(names)} lie on one line; no unique plane through them")
        v_hat = v_perp / v_norm
        anchors = {
            names[0]: (0.0, 0.0),
            names[1]: (float(u_norm), 0.0),
            names[2]: (float(v.double() @ u_hat), float(v_norm)),
        }
        names = (
            f"distance along {names[1]} − {names[0]}",
            f"distance toward {names[2]}, ⊥",
        )
        return cls(p1.clone(), u_hat.float(), v_hat.float(), "through", anchors, {}, names)

    @classmethod
    def random(
        cls,
        model: nn.Module,
        normalization: str | None = "filter",
        ignore: Iterable[str] = ("bias", "bn"),
        seed: int = 0,
        center: WeightsLike | None = None,
    ) -> Plane:
        """Two random Gaussian directions around the model's weights.

        With ``normalization="filter"`` each filter of a direction (each
        output channel of a convolution, each row of a Linear weight) is
        rescaled to the norm of the same filter of the weights:
        ``d <- d / |d| * |theta|`` (Li et al. 2018, "Visualizing the Loss
        Landscape of Neural Nets", section 4). ``"layer"`` does the same per
        parameter tensor, ``"model"`` for the whole vector, ``None`` keeps
        the raw N(0, 1) draws. One-dimensional parameters are normalised as
        one group. ``ignore`` zeroes the directions of biases (``"bias"``)
        and of normalisation layers' parameters (``"bn"``).

        Examples
        --------
        >>> net = torch.nn.Linear(4, 3)
        >>> plane = Plane.random(net, seed=0)
        >>> torch.allclose(plane.u[:12].view(3, 4).norm(dim=1), net.weight.norm(dim=1))
        True
        """
        if normalization not in ("filter", "layer", "model", None):
            raise ValueError(
                f"normalization must be 'filter', 'layer', 'model' or None, not {normalization!r}"
            )
        ignore = tuple(ignore or ())
        unknown = set(ignore) - {"bias", "bn"}
        if unknown:
            raise ValueError(f"ignore takes 'bias' and 'bn', not {sorted(unknown)}")
        layout = ParamLayout.of(model)
        theta = _vector(center if center is not None else model, layout, "center")
        norm_params = {
            f"{mname}.{pname}" if mname else pname
            for mname, mod in model.named_modules()
            if isinstance(mod, _NORM_LAYERS)
            for pname, _ in mod.named_parameters(recurse=False)
        }
        gen = torch.Generator().manual_seed(seed)
        dirs = []
        for _ in range(2):
            d = torch.randn(layout.numel, generator=gen)
            for name, shape in zip(layout.names, layout.shapes, strict=False):
                sl = layout.slice(name)
                is_bn = name in norm_params
                is_bias = not is_bn and len(shape) <= 1
                if ("bn" in ignore and is_bn) or ("bias" in ignore and is_bias):
                    d[sl] = 0.0
                    continue
                if normalization in ("filter", "layer"):
                    dd = (
                        d[sl].view(shape[0], -1)
                        if (normalization == "filter" and len(shape) >= 2)
                        else d[sl].view(1, -1)
                    )
                    tt = theta[sl].view_as(dd)
                    dd.mul_(
                        tt.norm(dim=1, keepdim=True) / dd.norm(dim=1, keepdim=True).clamp_min(1e-12)
                    )
            if normalization == "model":
                d.mul_(theta.norm() / d.norm().clamp_min(1e-12))
            dirs.append(d)
        info = {"seed": seed, "normalization": normalization, "ignore": list(ignore)}
        # Li et al.'s names for the two directions
        how = f"{normalization}-normalised" if normalization else "raw"
        names = (f"δ (random, {how})", f"η (random, {how})")
        return cls(theta.clone(), dirs[0], dirs[1], "random", {"center": (0.0, 0.0)}, info, names)

    @classmethod
    def pca(
        cls,
        trajectory,
        model: nn.Module | None = None,
        origin: str = "end",
    ) -> Plane:
        """The plane of the top two principal directions of a trajectory.

        Random directions are nearly orthogonal to an optimizer's path in
        high dimension, so the path is projected onto the top two principal
        components of ``theta_i - theta_last`` (centred, as in PCA) instead
        (Li et al. 2018, section 7). By default the origin is the last point; ``info`` holds the
        explained variance ratio of each component and the path's plane
        coordinates; ``anchors`` the start and the end.

        ``trajectory`` is a sequence of weights, a ``Trajectory``, or a list of
        trajectories: then the components are those of their union and
        ``info["paths"]`` holds each one's plane coordinates.

        ``origin`` says where the plane's (0, 0) is: ``"end"`` (the last point
        of the first trajectory, where the picture centres on the trained
        network), ``"start"`` (its first point: runs that share a start fan
        out from the centre) or ``"mean"`` (the mean of all points: the plane
        that fits them best, with the least total squared projection error).
        The fit follows Li et al.'s ``plot_trajectory.py``: the offsets of
        all the points from the origin, the origin's own zero row included,
        centred as PCA does. Centring takes the origin back out, so the three
        origins give the same directions (those of the points about their
        mean) and differ only in where (0, 0) sits. ``K`` points centred span
        at most ``K - 1`` directions, so a plane needs at least 3 points.

        Examples
        --------
        >>> path = [torch.tensor([float(i), 0.1 * i * i, 0.0]) for i in range(5)]
        >>> plane = Plane.pca(path)
        >>> round(sum(plane.info["explained_variance"]), 6)
        1.0
        """
        if origin not in ("end", "start", "mean"):
            raise ValueError(f"origin must be 'end', 'start' or 'mean', not {origin!r}")
        groups = _trajectory_groups(trajectory)
        flat = [w for g in groups for w in g]
        if len(flat) < 3:
            raise ValueError(f"a PCA plane needs at least 3 trajectory points, got {len(flat)}")
        vecs = iter(_vectors({f"trajectory[{i}]": w for i, w in enumerate(flat)}, model).values())
        grouped = [[next(vecs) for _ in g] for g in groups]
        points = [p for g in grouped for p in g]
        end = grouped[0][-1]
        if origin == "end":
            last = end
        else:
            last = grouped[0][0] if origin == "start" else torch.stack(points).double().mean(0)
        # every point's offset from the origin, the origin's own zero row
        # included, as Li et al.'s plot_trajectory.py fits all saved models
        m = torch.stack(points).double() - last.double()  # (K, P)
        # principal components of the offsets: centred, as PCA is; rows are
        # few and columns many, so the SVD of the K x P matrix is cheap
        _, s, vh = torch.linalg.svd(m - m.mean(dim=0), full_matrices=False)
        if s.numel() < 2 or s[1] <= 1e-12 * s[0]:
            raise ValueError("the trajectory spans fewer than two directions; no PCA plane")
        u, v = vh[0], vh[1]
        # fix the sign so the first start lies at positive x, y from the first
        # end: repeatable pictures
        c0 = grouped[0][0].double() - end.double()
        u = u if c0 @ u >= 0 else -u
        v = v if c0 @ v >= 0 else -v
        var = (s**2 / (s**2).sum()).tolist()
        paths = [
            [tuple(map(float, c)) for c in (torch.stack(g).double() - last.double()) @ uv.T]
            for g, uv in ((g, torch.stack([u, v])) for g in grouped)
        ]
        info = {
            "explained_variance": var[:2],
            "explained_variance_all": var,
            "path": [c for p in paths for c in p],
        }
        if len(paths) > 1:
            info["paths"] = paths
        anchors = _run_anchors(paths, _run_labels(trajectory, len(paths)))
        info["origin"] = origin
        names = (f"PC1 ({var[0]:.0%})", f"PC2 ({var[1]:.0%})")
        return cls(last.float().clone(), u.float(), v.float(), "pca", anchors, info, names)

    @classmethod
    def weights(
        cls,
        model: nn.Module,
        a: tuple[str, int | tuple[int, ...]],
        b: tuple[str, int | tuple[int, ...]],
        center: WeightsLike | None = None,
    ) -> Plane:
        """Two individual weights as the axes; every other weight frozen.

        Coordinates are the two weights' values, so the model's own weights
        sit at ``anchors["theta"] = (theta[a], theta[b])``.

        Examples
        --------
        >>> net = torch.nn.Linear(4, 3, bias=False)
        >>> plane = Plane.weights(net, ("weight", (0, 1)), ("weight", (2, 3)))
        >>> plane.anchors["theta"] == (net.weight[0, 1].item(), net.weight[2, 3].item())
        True
        """
        layout = ParamLayout.of(model)
        theta = _vector(center if center is not None else model, layout, "center")
        flat = [_flat_index(layout, spec, label) for spec, label in ((a, "a"), (b, "b"))]
        if flat[0] == flat[1]:
            raise ValueError(f"a and b name the same weight {a!r}")
        origin = theta.clone()
        u = torch.zeros_like(theta)
        v = torch.zeros_like(theta)
        u[flat[0]] = 1.0
        v[flat[1]] = 1.0
        origin[flat] = 0.0
        anchors = {"theta": (float(theta[flat[0]]), float(theta[flat[1]]))}
        info = {
            "a": [a[0], _as_tuple(a[1])],
            "b": [b[0], _as_tuple(b[1])],
            "flat_index": flat,
        }
        names = tuple(
            f"{w} = {spec[0]}[{', '.join(map(str, _as_tuple(spec[1])))}]"
            for w, spec in (("w_a", a), ("w_b", b))
        )
        return cls(origin, u, v, "weights", anchors, info, names)


def _trajectory_groups(trajectory) -> list[list]:
    """Weights grouped per trajectory: a Trajectory (anything with a 2-D
    ``weights`` tensor), a list of them, or one sequence of weight vectors."""

    def rows(t):
        w = getattr(t, "weights", None)
        return list(w) if isinstance(w, torch.Tensor) and w.dim() == 2 else None

    if rows(trajectory) is not None:
        return [rows(trajectory)]
    items = list(trajectory)
    if items and all(rows(t) is not None for t in items):
        return [rows(t) for t in items]
    if any(rows(t) is not None for t in items):
        raise TypeError("a mix of trajectories and weights: pass trajectories or weights")
    return [items]


def _run_labels(trajectory, n: int) -> list[str]:
    """Each run's label (``Trajectory.label``), "run k" where it has none."""
    items = [trajectory] if n == 1 else list(trajectory)
    labels = [str(getattr(t, "label", "") or f"run {k + 1}") for k, t in enumerate(items)]
    # two runs of one label (two "sgd" runs) keep an end each
    return [f"{lab} {k + 1}" if labels.count(lab) > 1 else lab for k, lab in enumerate(labels)]


def _run_anchors(paths: list[list[tuple]], labels: list[str]) -> dict[str, tuple]:
    """Anchors of PCA paths: "start" and "end" of one run; of several, one
    "end <label>" per run (and one "start" when they share it)."""
    if len(paths) == 1:
        return {"start": paths[0][0], "end": paths[0][-1]}
    starts = np.array([p[0] for p in paths])
    span = max(np.ptp(np.array([c for p in paths for c in p]), axis=0).max(), 1e-30)
    anchors = {}
    if np.abs(starts - starts[0]).max() <= 1e-6 * span:
        anchors["start"] = paths[0][0]
    else:
        anchors.update({f"start {label}": p[0] for p, label in zip(paths, labels, strict=True)})
    anchors.update({f"end {label}": p[-1] for p, label in zip(paths, labels, strict=True)})
    return anchors


def _as_tuple(index: int | Sequence[int]) -> tuple[int, ...]:
    return (int(index),) if isinstance(index, int) else tuple(int(i) for i in index)


def _flat_index(layout: ParamLayout, spec, label: str) -> int:
    try:
        name, index = spec
    except (TypeError, ValueError):
        raise TypeError(
            f"{label} must be (parameter name, index), e.g. ('1.weight', (5, 250))"
        ) from None
    shape = layout.shapes[layout.index(name)]
    idx = _as_tuple(index)
    if len(idx) != len(shape) or any(not 0 <= i < n for i, n in zip(idx, shape, strict=False)):
        raise IndexError(
            f"{label}: index {idx} is outside parameter {name!r} of shape {tuple(shape)}"
        )
    offset = 0
    for i, n in zip(idx, shape, strict=False):
        offset = offset * n + i
    return layout.offsets[layout.index(name)] + offset


@dataclass
class Line:
    """The straight line ``point(t) = (1 - t) * w1 + t * w2`` in weight space.

    Examples
    --------
    >>> line = Line(torch.zeros(2), torch.tensor([2.0, 4.0]))
    >>> line.point(0.5)
    tensor([1., 2.])
    """

    w1: WeightsLike
    w2: WeightsLike
    model: nn.Module | None = None
    names: tuple[str, str] = ("w1", "w2")

    def __post_init__(self):
        vecs = _vectors(dict(zip(self.names, (self.w1, self.w2), strict=True)), self.model)
        self.w1, self.w2 = vecs.values()
        self.model = None  # only needed to read the weights

    kind = "line"

    @property
    def origin(self) -> torch.Tensor:
        return self.w1

    @property
    def u(self) -> torch.Tensor:
        return self.w2 - self.w1

    @property
    def v(self) -> torch.Tensor:
        return torch.zeros_like(self.w1)

    @property
    def numel(self) -> int:
        return self.w1.numel()

    @property
    def length(self) -> float:
        """Euclidean distance between the two ends."""
        return float((self.w2 - self.w1).norm())

    @property
    def anchors(self) -> dict[str, float]:
        return {self.names[0]: 0.0, self.names[1]: 1.0}

    def point(self, t: float) -> torch.Tensor:
        return self.w1 + t * (self.w2 - self.w1)

    def default_bounds(self, margin: float | None = None) -> tuple[float, float]:
        m = 0.25 if margin is None else float(margin)
        return (-m, 1.0 + m)


def grid_axis(lo: float, hi: float, n: int) -> torch.Tensor:
    """``n`` evenly spaced float64 coordinates from ``lo`` to ``hi``."""
    if n < 2:
        raise ValueError(f"resolution must be at least 2, got {n}")
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ValueError(f"bounds must be finite with lo < hi, got ({lo}, {hi})")
    return torch.linspace(lo, hi, n, dtype=torch.float64)
