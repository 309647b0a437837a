"""Curves in weight space between two fixed networks (Garipov et al. 2018).

A curve is ``phi(t) = sum_k c_k(t) p_k`` over points ``p_0 = w1, ...,
p_K = w2``: the ends are fixed buffers and only the points in between are
trainable parameters. The coefficients ``c_k(t)`` are all a curve needs, so
``at(t)`` is one small matmul for any number of t at once, and gradients
reach the control points only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .weights import ParamLayout, as_vector


class _Curve(nn.Module):
    """Shared machinery: fixed ends, trainable interior points, ``at(t)``."""

    kind = "curve"

    def __init__(self, w1: Any, w2: Any, n_interior: int, init, model: nn.Module | None):
        super().__init__()
        if model is not None:
            layout = ParamLayout.of(model)
        elif isinstance(w1, nn.Module):
            layout = ParamLayout.of(w1)
        else:
            layout = None
        if layout is None:
            a = torch.as_tensor(w1).detach().reshape(-1).float()
            b = torch.as_tensor(w2).detach().reshape(-1).float()
        else:
            a, b = as_vector(w1, layout).float(), as_vector(w2, layout).float()
        if a.shape != b.shape:
            raise ValueError(f"the ends have {a.numel()} and {b.numel()} weights")
        if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
            raise ValueError("the ends must have finite weights")
        self.layout = layout
        self.register_buffer("w1", a.clone())
        self.register_buffer("w2", b.clone())
        if init is None or (isinstance(init, str) and init == "segment"):
            # evenly spaced on the straight segment: phi(t) starts as the line
            s = torch.arange(1, n_interior + 1, dtype=a.dtype)[:, None] / (n_interior + 1)
            control = (1 - s) * a + s * b
        else:
            items = init if isinstance(init, Sequence) and not torch.is_tensor(init) else [init]
            if torch.is_tensor(init) and init.dim() == 2:
                items = list(init)
            if len(items) != n_interior:
                raise ValueError(f"init needs {n_interior} control point(s), got {len(items)}")
            control = torch.stack(
                [
                    as_vector(p, layout).float()
                    if layout
                    else torch.as_tensor(p).float().reshape(-1)
                    for p in items
                ]
            )
            if control.shape[1] != a.numel():
                raise ValueError(f"a control point has {control.shape[1]} weights, not {a.numel()}")
        self.control = nn.Parameter(control.clone())  # (K-1, D)

    @property
    def numel(self) -> int:
        return self.w1.numel()

    def points(self) -> torch.Tensor:
        """All points ``(K+1, D)``: w1, the control points, w2."""
        return torch.cat([self.w1[None], self.control, self.w2[None]])

    def coefficients(self, t: torch.Tensor) -> torch.Tensor:
        """``c_k(t)`` for each t: shape ``(m, K+1)``; rows sum to 1."""
        raise NotImplementedError

    def at(self, t) -> torch.Tensor:
        """The weights at ``t``: shape ``(D,)`` for a number, ``(m, D)`` for m values.

        Differentiable in the control points.
        """
        tt = torch.as_tensor(t, dtype=self.w1.dtype, device=self.w1.device)
        scalar = tt.dim() == 0
        tt = tt.reshape(-1)
        if ((tt < 0) | (tt > 1)).any():
            raise ValueError("t must lie in [0, 1]")
        out = self.coefficients(tt) @ self.points()
        return out[0] if scalar else out

    def write_at(self, t: float, out: torch.Tensor) -> list[float]:
        """Write ``phi(t)`` into ``out`` (no autograd graph); return the coefficients."""
        if not 0.0 <= t <= 1.0:
            raise ValueError("t must lie in [0, 1]")
        c = self._coefficients_of(t)
        torch.mul(self.w1, c[0], out=out)
        out.add_(self.w2, alpha=c[-1])
        for k, ck in enumerate(c[1:-1]):
            if ck != 0.0:
                out.add_(self.control[k].detach(), alpha=ck)
        return c

    def _coefficients_of(self, t: float) -> list[float]:
        return self.coefficients(torch.tensor([t], dtype=torch.float64))[0].tolist()

    def length(self, n: int = 201) -> float:
        """Length of the curve in weight space (a polyline through n points)."""
        with torch.no_grad():
            pts = self.at(torch.linspace(0, 1, n))
            return float((pts[1:] - pts[:-1]).norm(dim=1).sum())

    def state(self) -> dict:
        """A plain dict to save with torch.save (ends, control points, kind)."""
        return {
            "kind": self.kind,
            "w1": self.w1.clone(),
            "w2": self.w2.clone(),
            "control": self.control.detach().clone(),
            **self._extra_state(),
        }

    def _extra_state(self) -> dict:
        return {}


class BezierCurve(_Curve):
    """A Bezier curve from ``w1`` to ``w2`` of the given degree.

    ``phi(t) = sum_k C(K, k) (1-t)^(K-k) t^k p_k``; for degree 2,
    ``(1-t)^2 w1 + 2t(1-t) theta + t^2 w2``. A quadratic curve lies in the
    plane of (w1, w2, theta), so it can be drawn exactly on that plane.

    Parameters
    ----------
    w1, w2 : nn.Module, state_dict, flat tensor or checkpoint path
        The fixed ends.
    degree : int
        2 (default) or more; ``degree - 1`` control points are trained.
    init : "segment", None, or the control point(s)
        Default: evenly spaced on the straight segment.
    model : nn.Module, optional
        Gives the parameter layout when the ends are not modules.

    Examples
    --------
    >>> curve = BezierCurve(net1, net2)  # doctest: +SKIP
    >>> curve.at(torch.linspace(0, 1, 5)).shape  # doctest: +SKIP
    torch.Size([5, 2306])
    """

    kind = "bezier"

    def __init__(self, w1, w2, degree: int = 2, init=None, model: nn.Module | None = None):
        if not isinstance(degree, int) or degree < 2:
            raise ValueError(f"degree must be an int >= 2, not {degree!r}")
        self.degree = degree
        super().__init__(w1, w2, degree - 1, init, model)
        self.register_buffer(
            "_binom",
            torch.tensor([math.comb(degree, k) for k in range(degree + 1)], dtype=torch.float32),
        )

    def coefficients(self, t: torch.Tensor) -> torch.Tensor:
        k = torch.arange(self.degree + 1, dtype=t.dtype, device=t.device)
        t = t[:, None]
        return self._binom.to(t.dtype) * (1 - t) ** (self.degree - k) * t**k

    def _coefficients_of(self, t: float) -> list[float]:
        k = self.degree
        return [math.comb(k, i) * (1 - t) ** (k - i) * t**i for i in range(k + 1)]

    def _extra_state(self) -> dict:
        return {"degree": self.degree}


class PolyChain(_Curve):
    """A polygonal chain from ``w1`` to ``w2`` through ``bends`` trainable bends.

    Bend k sits at ``t = k / (bends + 1)``; between bends the chain is straight.

    Examples
    --------
    >>> chain = PolyChain(net1, net2, bends=1)  # doctest: +SKIP
    """

    kind = "polychain"

    def __init__(self, w1, w2, bends: int = 1, init=None, model: nn.Module | None = None):
        if not isinstance(bends, int) or bends < 1:
            raise ValueError(f"bends must be an int >= 1, not {bends!r}")
        self.bends = bends
        super().__init__(w1, w2, bends, init, model)

    def coefficients(self, t: torch.Tensor) -> torch.Tensor:
        n = self.bends + 1  # segments
        s = t * n
        seg = torch.clamp(s.floor().long(), max=n - 1)
        frac = s - seg.to(t.dtype)
        out = torch.zeros(len(t), n + 1, dtype=t.dtype, device=t.device)
        rows = torch.arange(len(t), device=t.device)
        out[rows, seg] = 1 - frac
        out[rows, seg + 1] += frac
        return out

    def _coefficients_of(self, t: float) -> list[float]:
        n = self.bends + 1
        seg = min(int(t * n), n - 1)
        frac = t * n - seg
        c = [0.0] * (n + 1)
        c[seg], c[seg + 1] = 1 - frac, frac
        return c

    def _extra_state(self) -> dict:
        return {"bends": self.bends}


def curve_from_state(state: dict) -> BezierCurve | PolyChain:
    """Rebuild a curve saved with ``curve.state()``."""
    kind = state.get("kind")
    if kind == "bezier":
        return BezierCurve(state["w1"], state["w2"], degree=state["degree"], init=state["control"])
    if kind == "polychain":
        return PolyChain(state["w1"], state["w2"], bends=state["bends"], init=state["control"])
    raise ValueError(f"not a saved curve (kind {kind!r})")
