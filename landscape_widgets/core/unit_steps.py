"""The closed-form steps of the fast two-weight descent (the ``"unit"`` kind).

When the two weights of a :meth:`Plane.weights` plane feed one output unit,
each sample's loss is a fixed part plus a function of one number, the unit's
pre-activation, so a step of gradient descent needs no autograd: a few numpy
operations on length-N vectors and the optimizer's update
(:mod:`~landscape_widgets.core.partial_descent` decides when this applies).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.optim import optimizer as optim_module
from tqdm.auto import tqdm

from .data import default_loss
from .losses import SumSquaredError
from .scoring import plain_cross_entropy

__all__ = ["UNIT_ACTIVATIONS", "NumpySGD", "UnitSteps", "index_batches"]

# activations after a "unit" with their derivatives, written in their outputs
UNIT_ACTIVATIONS = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Identity: "identity"}


class UnitSteps:
    """Closed-form steps when the two weights feed one output unit.

    Per sample n the unit's pre-activation is ``c[n] = z0[n] + feed[n] . w``
    (``w`` the two weights) and its output ``o[n] = act(c[n])``; every other
    output is fixed. So the loss of a batch B is

    - squared error: ``s_B * (rest[B].sum() + sum_n (o[n] - t[n])**2)``, with
      ``rest[n]`` the other outputs' squared error and ``s_B`` the loss's
      scale (``1 / (|B| K)`` for ``MSELoss``, ``factor / |B|`` for
      ``SumSquaredError``); ``dL/do[n] = 2 s_B (o[n] - t[n])``;
    - cross-entropy: ``mean_n logaddexp(lse[n], o[n]) - (o[n] if y[n] is the
      unit else picked[n])``, with ``lse[n]`` the log-sum-exp of the other
      outputs; ``dL/do[n] = (softmax_unit[n] - [y[n] is the unit]) / |B|``.

    and ``dL/dw = feed^T (dL/do * act'(c))``. The per-sample vectors are
    computed once, in the network's dtype, on the CPU in numpy, whose small
    operations cost a fraction of torch's; the gradient is handed to the
    run's optimizer as ``q.grad``.
    """

    index_loader = None

    def __init__(self, cols: dict, kind: str, scale, act: list, start, q):
        self.cols, self.kind, self.scale, self.act = cols, kind, scale, act
        self.start = start.detach().cpu().numpy()
        self.q = q
        # the full batch's fixed part of the squared error, summed once
        self.rest_total = float(cols["rest"].sum()) if "rest" in cols else 0.0

    @classmethod
    def of(cls, z0, feed, y, unit: int, rest: list, loss_fn, start, q) -> UnitSteps | None:
        """The steps for this case, or None when the unit, its layers or the loss do not fit."""
        acts = []
        for _, m in rest:
            if type(m) not in UNIT_ACTIVATIONS:
                return None
            acts.append(UNIT_ACTIVATIONS[type(m)])
        if loss_fn is None:
            loss_fn = default_loss(y)
        with torch.no_grad():
            out0 = z0.clone()
            for _, m in rest:
                out0 = m(out0)
        cols = {"z0": z0[:, unit], "feed": feed}
        if type(loss_fn) in (nn.MSELoss, SumSquaredError) and y.shape == out0.shape:
            if type(loss_fn) is nn.MSELoss and loss_fn.reduction not in ("mean", "sum"):
                return None
            if not y.is_floating_point() or out0.dim() != 2:
                return None
            sq = (out0 - y).pow(2)
            cols["rest"] = torch.cat([sq[:, :unit], sq[:, unit + 1 :]], dim=1).sum(dim=1)
            cols["target"] = y[:, unit]
            if type(loss_fn) is SumSquaredError:
                scale = ("per_sample", loss_fn.factor)
            elif loss_fn.reduction == "mean":
                scale = ("per_sample", 1.0 / out0.shape[1])
            else:
                scale = ("fixed", 1.0)
            kind = "squared"
        elif (
            plain_cross_entropy(loss_fn, y)
            and y.dim() == 1
            and out0.dim() == 2
            and out0.shape[1] > 1
            and bool(((y >= 0) & (y < out0.shape[1])).all())
        ):
            others = torch.cat([out0[:, :unit], out0[:, unit + 1 :]], dim=1)
            cols["lse"] = torch.logsumexp(others, dim=1)
            is_unit = y == unit
            cols["is_unit"] = is_unit.to(out0.dtype)
            picked = out0.gather(1, y.view(-1, 1)).squeeze(1)
            cols["picked"] = torch.where(is_unit, torch.zeros_like(picked), picked)
            kind, scale = "cross_entropy", None
        else:
            return None
        arrays = {k: v.detach().cpu().contiguous().numpy() for k, v in cols.items()}
        return cls(arrays, kind, scale, acts, start, q)

    def run(self, optimizer, steps: int, on_step, stop, progress: bool, desc: str) -> int:
        """Take up to ``steps`` steps; returns how many were taken."""
        q = self.q
        # on the CPU, q's memory as numpy: plain SGD then updates it in place
        qn = q.detach().numpy() if q.device.type == "cpu" else None
        sgd = None if qn is None else NumpySGD.of(optimizer, qn)
        batches = index_batches(self.index_loader)
        bar = tqdm(total=steps, disable=not progress, desc=desc, unit="step")
        step = 0
        try:
            with np.errstate(over="ignore", under="ignore"):  # saturating units
                while step < steps:
                    if stop is not None and stop():
                        break
                    # the two weights as the full path forms them: start + offset
                    w = self.start + (qn if qn is not None else q.detach().cpu().numpy())
                    loss, grad = self._loss_and_grad(w, next(batches))
                    if sgd is not None:
                        sgd.step(grad)
                    else:
                        q.grad = torch.from_numpy(grad).to(q.device)
                        optimizer.step()
                    step += 1
                    if on_step is not None:
                        on_step(step, loss)
                    bar.update(1)
        finally:
            bar.close()
        return step

    def _loss_and_grad(self, w: np.ndarray, idx) -> tuple[float, np.ndarray]:
        part = self.cols if idx is None else {k: v[idx] for k, v in self.cols.items()}
        m = len(part["z0"])
        feed = part["feed"]
        o = part["z0"] + feed @ w
        outs = []
        for a in self.act:
            if a == "sigmoid":
                o = 1.0 / (1.0 + np.exp(-o))
            elif a == "tanh":
                o = np.tanh(o)
            outs.append(o)
        if self.kind == "squared":
            how, factor = self.scale
            s = factor / m if how == "per_sample" else factor
            r = o - part["target"]
            rest = self.rest_total if idx is None else float(part["rest"].sum())
            loss = s * (rest + float(r @ r))
            d = (2.0 * s) * r
        else:
            lse = np.logaddexp(part["lse"], o)
            is_unit = part["is_unit"]
            loss = float((lse - np.where(is_unit > 0, o, part["picked"])).sum()) / m
            d = (np.exp(o - lse) - is_unit) / m
        # back through the activations, each derivative written in its output
        for a, out in zip(reversed(self.act), reversed(outs), strict=True):
            if a == "sigmoid":
                d = d * (out * (1.0 - out))
            elif a == "tanh":
                d = d * (1.0 - out * out)
        return loss, d.astype(feed.dtype, copy=False) @ feed


class NumpySGD:
    """``torch.optim.SGD``'s update of the two offsets, in place in q's numpy memory.

    The same arithmetic as torch's single-tensor SGD (weight decay, momentum
    with dampening, Nesterov, maximize), without the ~30 us of bookkeeping
    that a torch optimizer step costs: on the two-weight picture that is most
    of a step. Only for a plain ``torch.optim.SGD`` with no hooks and float
    hyper-parameters; anything else steps with the optimizer itself.
    """

    def __init__(self, qn: np.ndarray, group: dict):
        self.qn = qn
        self.lr = float(group["lr"])
        self.momentum = float(group["momentum"])
        self.dampening = float(group["dampening"])
        self.weight_decay = float(group["weight_decay"])
        self.nesterov = bool(group["nesterov"])
        self.maximize = bool(group["maximize"])
        self.buf = None

    @classmethod
    def of(cls, optimizer, qn: np.ndarray) -> NumpySGD | None:
        if type(optimizer) is not torch.optim.SGD or len(optimizer.param_groups) != 1:
            return None
        hooks = (
            optimizer._optimizer_step_pre_hooks,
            optimizer._optimizer_step_post_hooks,
            optim_module._global_optimizer_pre_hooks,
            optim_module._global_optimizer_post_hooks,
        )
        if any(hooks) or optimizer.state:
            return None
        group = optimizer.param_groups[0]
        if any(isinstance(group[k], torch.Tensor) for k in ("lr", "momentum", "weight_decay")):
            return None
        return cls(qn, group)

    def step(self, grad: np.ndarray) -> None:
        qn = self.qn
        g = -grad if self.maximize else grad
        if self.weight_decay != 0:
            g = g + self.weight_decay * qn
        if self.momentum != 0:
            if self.buf is None:
                self.buf = g.copy()
            else:
                self.buf *= self.momentum
                self.buf += (1 - self.dampening) * g
            g = g + self.momentum * self.buf if self.nesterov else self.buf
        qn -= self.lr * g


def index_batches(index_loader):
    """Index arrays of each step's batch, pass after pass (None: every sample)."""
    if index_loader is None:
        while True:
            yield None
    while True:
        for idx in index_loader:
            yield idx.numpy()
