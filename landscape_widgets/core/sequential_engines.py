"""Engines for ``nn.Sequential`` models, which can reuse work between points.

- ``tiled`` (:class:`Tiled`): for MLPs, a few points at a time through
  batched matmuls into preallocated buffers, with the affine first layer of
  :class:`~landscape_widgets.core.engines.Affine`.
- ``partial`` (:class:`Partial`): for :meth:`Plane.weights`, everything
  before the first changed parameter is computed once; when both weights
  feed one unit only that unit is recomputed and the next layer gets a
  rank-one update. When that unit is a network output and the loss is the
  plain mean squared error or cross-entropy, the loss is updated from the
  fixed part of the outputs (:func:`_unit_loss`): a few length-N vectors
  per point.

They follow the engine protocol described in :mod:`~landscape_widgets.core.engines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .engines import (
    ELEMENTWISE,
    ELEMENTWISE_INPLACE,
    PlaneOnDevice,
    StrategyUnavailable,
    coords3,
    first_layer,
    needs_loop,
)
from .scoring import plain_cross_entropy

if TYPE_CHECKING:  # annotations only: the landscape imports the engines
    from .landscape import Landscape

__all__ = ["Partial", "Tiled"]


class Tiled:
    """nn.Sequential MLPs: a few points at a time through batched matmuls.

    The first Linear is factored as in ``affine``; each later Linear forms the
    chunk's weights ``W0 + x U + y V`` (B small matrices) and one ``baddbmm``
    into a preallocated buffer; activations run in place.
    """

    name = "tiled"

    def __init__(self, ls: Landscape, plane: PlaneOnDevice):
        needs_loop(ls, "tiled")
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
            if not isinstance(m, (nn.Linear,) + ELEMENTWISE):
                raise StrategyUnavailable(f"tiled evaluation cannot run a {type(m).__name__}")
        self.ls, self.plane, self.layers = ls, plane, layers
        _, first_mod, X = first_layer(ls)
        if first_mod is not layers[0][1] or X.dim() != 2:
            raise StrategyUnavailable(
                "tiled evaluation needs (N, features) inputs to the first Linear"
            )
        self.N = len(X)
        widths = [m.out_features for _, m in layers if isinstance(m, nn.Linear)]
        # 4-8 points per chunk keep activations in cache on CPUs
        self.chunk = int(max(4, min(64, ls.memory_budget // (4 * self.N * max(widths)))))
        basis = dict(zip("ouv", (plane.origin, plane.u, plane.v), strict=True))
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
        c3 = coords3(coords, ls.device, ls.dtype)  # (B, 3)
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
                inplace = ELEMENTWISE_INPLACE.get(type(m))
                h = inplace(h) if inplace is not None else m(h)
        vals = ls.scoring.batched(h)
        return {k: v.double().cpu() for k, v in vals.items()}


class Partial:
    """Plane.weights: reuse everything the two changed weights cannot affect."""

    name = "partial"

    def __init__(self, ls: Landscape, plane: PlaneOnDevice):
        needs_loop(ls, "partial")
        if plane.kind != "weights":
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
        plane.write(ls.flat, 0.0, 0.0)
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
            isinstance(c, (nn.Linear,) + ELEMENTWISE) for c in self.children[self.k + 1 :]
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
        self.unit_loss = None
        if same_unit:
            self._setup_row_case(layer, cname, (pa, ia), (pb, ib))
            # points per chunk: the widest tensor after the change fits the budget
            width = self.row_case["width"]
            self.chunk = int(max(1, min(64, ls.memory_budget // (4 * len(ls.X) * width))))
            if "next_base" not in self.row_case and self.row_case["j"] == len(self.children):
                self.unit_loss = _unit_loss(ls, self.row_case)
            if self.unit_loss is not None:
                # a point costs a few (N,) vectors: many points per chunk
                self.chunk = int(max(1, min(1024, ls.memory_budget // (16 * len(ls.X)))))

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
        while j < len(self.children) and isinstance(self.children[j], ELEMENTWISE):
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
        self.plane.write(ls.flat, 0.0, 0.0)
        if self.row_case is None:
            return self._run_general(coords)
        rc = self.row_case
        c = coords.to(ls.device, ls.dtype)  # (B, 2)
        col = rc["base"][:, rc["i"]] + c @ rc["cols"]  # (B, N)
        for m in rc["acts"]:
            col = m(col)
        if self.unit_loss is not None:
            return {k: v.double().cpu() for k, v in self.unit_loss(col).items()}
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
            inplace = ELEMENTWISE_INPLACE.get(type(m))
            h = inplace(h) if inplace is not None else m(h)
        vals = ls.scoring.batched(h)
        return {k: v.double().cpu() for k, v in vals.items()}

    def _run_general(self, coords):
        ls = self.ls
        out = {m: torch.empty(len(coords), dtype=torch.float64) for m in ls.metrics}
        rest = self.children[self.k :]
        for n, (x, y) in enumerate(coords.tolist()):
            ls.flat[self.flat_a] = x
            ls.flat[self.flat_b] = y
            h = self.h_in.clone() if self.copy_h_in else self.h_in
            for m in rest:
                h = m(h)
            vals = ls.scoring.batched(h.unsqueeze(0))
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


def _unit_loss(ls: Landscape, rc: dict):
    """Loss and accuracy of outputs that differ from fixed ones in column ``rc["i"]`` only.

    Returns ``f(col) -> {metric: (B,)}`` for the new columns ``col`` (B, N),
    or None for a loss it cannot split. The mean squared error is a sum over
    columns, so the other columns' part is computed once; cross-entropy
    needs each row's log-sum-exp, which is ``logaddexp`` of the other
    columns' (computed once) and the new entry. Accuracy compares the new
    entry with the best other column, ties going to the lower index as
    ``torch.argmax`` does.
    """
    out, i, fn, y = rc["act_base"], rc["i"], ls.loss_fn, ls.y
    if out.dim() != 2:
        return None
    n, k = out.shape
    others = torch.cat([out[:, :i], out[:, i + 1 :]], dim=1)  # (N, K-1)
    keep = torch.cat([torch.arange(i), torch.arange(i + 1, k)]).to(out.device)
    if type(fn) is nn.MSELoss and fn.reduction == "mean" and y.shape == out.shape:
        rest = (others - y[:, keep]).pow(2).sum()
        y_i = y[:, i]

        def loss(col):
            return (rest + (col - y_i).pow(2).sum(dim=1)) / (n * k)

    elif plain_cross_entropy(fn, y) and y.dim() == 1:
        lse_rest = torch.logsumexp(others, dim=1)  # -inf when there is no other column
        is_i = y == i
        picked_rest = out.gather(1, y.view(-1, 1)).squeeze(1)

        def loss(col):
            lse = torch.logaddexp(lse_rest, col)
            return (lse - torch.where(is_i, col, picked_rest)).mean(dim=1)

    else:
        return None
    targets = ls.targets
    if k > 1:
        best, at = others.max(dim=1)
        at = keep[at]  # index among all columns
        right_if_i = (targets == i).to(out.dtype)
        right_if_other = (at == targets).to(out.dtype)

    def metrics(col):
        vals = {"loss": loss(col)}
        if "accuracy" in ls.metrics:
            # argmax takes NaN as the largest value, and the first of equal ones
            wins = (col > best) | ((col == best) & (i < at))
            wins |= col.isnan() & ~(best.isnan() & (at < i))
            vals["accuracy"] = torch.where(wins, right_if_i, right_if_other).mean(dim=1)
        return vals

    return metrics
