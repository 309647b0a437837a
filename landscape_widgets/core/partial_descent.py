"""The fast path of ``record_trajectory`` on ``Plane.weights`` planes.

On a :meth:`Plane.weights` plane every weight but two is frozen. In a chain of
layers (an ``nn.Sequential``) everything before the first layer that holds one
of the two then computes the same thing at every step, so its output for the
whole training set is computed once, and each step runs only the rest of the
chain on the rows of its mini-batch, with the gradient taken with respect to
the two weights alone (the idea of the grid's ``partial`` engine, in
:mod:`~landscape_widgets.core.sequential_engines`). Three kinds, fastest first:

- ``"unit"``: both weights feed one output unit (a Linear unit followed by
  nothing but sigmoid, tanh or identity) and the loss is ``nn.MSELoss``,
  :class:`~landscape_widgets.core.losses.SumSquaredError` or plain
  ``nn.CrossEntropyLoss``. Only that unit's column of the outputs moves, so
  each sample's loss is a fixed part plus a function of one number, whose
  derivative is written out: a step is a few numpy operations on length-N
  vectors and the optimizer's step, with no autograd (the classic two-weight
  picture, where autograd's fixed cost per step would dominate).
- ``"row"``: both weights feed one unit of a Linear layer: that layer's output
  is its output without them (computed once) plus their two input columns
  times their values; the later layers run under autograd.
- ``"layer"``: any other pair: the layers from the first one holding a weight
  run under autograd, the changed weights rebuilt from the offsets.

The steps are those of the full path: the same mini-batches in the same order
(the batch indices come from a loader built like the full path's, with the
same seed), the same loss, the same optimizer (``"unit"`` does plain SGD's
update itself, in numpy, the same arithmetic). When one batch holds every
sample, the loss is a known sum over the samples and no random or batch-wide
layer follows, the samples are taken in their own order rather than the full
path's shuffle of them, which changes only the rounding. The trajectory is
the full path's to float32 rounding. Where that
cannot be promised (a prefix that draws random numbers or normalises with
batch statistics, tied weights, data given as a Dataset or DataLoader, a model
that is not a chain), :func:`plan` says why and the full path runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.utils.data import Dataset, TensorDataset

from .data import default_loss, make_loader
from .losses import SumSquaredError
from .unit_steps import UnitSteps

__all__ = ["PartialDescent", "plan"]

# Layers that act on each element alone, without random numbers.
_ELEMENTWISE = {
    nn.Identity, nn.Sigmoid, nn.Tanh, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU,
    nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Softplus, nn.Softsign, nn.Hardtanh,
    nn.Hardsigmoid, nn.Hardswish, nn.Tanhshrink,
}  # fmt: skip
# Prefix layers that act on each sample alone, the same way in train and eval
# mode and without random numbers: computing them once for the whole set is
# exact. Matched by exact type, as a subclass may override forward.
_PER_SAMPLE = _ELEMENTWISE | {
    nn.Flatten,
    nn.Unflatten,
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.LayerNorm,
    nn.GroupNorm,
}
# dropout is random in train mode (the mode the steps run in) unless p = 0
_DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)
# largest precomputed prefix output before the full path is preferred
_MAX_PREFIX_BYTES = 1 << 30
# rows of the training set pushed through the prefix at a time
_PREFIX_CHUNK = 4096


@dataclass
class PartialDescent:
    """What runs instead of the whole network.

    Attributes
    ----------
    kind : str
        ``"unit"``, ``"row"`` or ``"layer"`` (see the module's docstring).
    forward : callable or None
        ``"row"`` and ``"layer"``: ``inputs -> outputs`` for rows of the
        precomputed inputs, the network's outputs with the two weights at
        their start plus the trainable offsets; run by the step loop.
    batches : iterable of (inputs, targets) or None
        ``"row"`` and ``"layer"``: each pass yields one epoch's mini-batches,
        the full path's batches with every sample's network input replaced
        by its precomputed row.
    unit : UnitSteps or None
        ``"unit"``: the closed-form steps
        (:class:`~landscape_widgets.core.unit_steps.UnitSteps`).
    """

    kind: str
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None
    batches: object = None
    unit: UnitSteps | None = None


def plan(
    net: nn.Module,
    plane_info: dict,
    data,
    batch_size: int,
    seed: int,
    base: torch.Tensor,
    q: torch.Tensor,
    layout,
    loss_fn=None,
) -> PartialDescent | str:
    """The partial path for a run on a ``Plane.weights`` plane, or why there is none.

    Parameters
    ----------
    net : nn.Module
        The run's private copy of the model (train mode is set by the loop).
    plane_info : dict
        ``Plane.info`` of a ``Plane.weights`` plane: the two weights' names,
        indices and flat indices.
    data : (X, y) tensors, Dataset or DataLoader
        The training data, as given to ``record_trajectory``.
    batch_size : int
        Samples per step.
    seed : int
        The run's shuffling seed.
    base : Tensor (P,)
        The start, as a flat vector on the run's device and dtype.
    q : Tensor (2,)
        The trainable offsets of the two weights from their start values.
    layout : ParamLayout
        The model's parameter layout.
    loss_fn : callable, optional
        The run's loss (None: the step loop's default for the targets).

    Returns
    -------
    PartialDescent or str
        The plan, or a sentence saying why the full path must run.
    """
    # a subclass with its own forward is not a plain chain
    if not isinstance(net, nn.Sequential) or type(net).forward is not nn.Sequential.forward:
        return "the model is not an nn.Sequential chain of layers"
    pair = _tensor_pair(data)
    if pair is None:
        return "the data are not (X, y) tensors or a TensorDataset of two"
    X, y = pair
    if nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks:
        return "global forward hooks are registered"
    if _hooked(net):
        return "the model has hooks"
    children = list(net.named_children())
    owner: dict[str, tuple[int, str]] = {}
    for k, (cname, child) in enumerate(children):
        for pname, _ in child.named_parameters():
            owner[f"{cname}.{pname}"] = (k, pname)
    (name_a, _), (name_b, _) = plane_info["a"], plane_info["b"]
    if name_a not in owner or name_b not in owner:
        return "a weight is not held by one of the chain's layers"
    # tied weights: a weight used twice moves in two places at once
    params = dict(net.named_parameters())
    changed = {id(params[n]) for n in (name_a, name_b)}
    uses = [id(p) for _, p in net.named_parameters(remove_duplicate=False)]
    if any(uses.count(i) > 1 for i in changed):
        return "a changed weight is tied (used by more than one layer)"
    k = min(owner[name_a][0], owner[name_b][0])
    for _, child in children[:k]:
        why = _not_per_sample(child)
        if why:
            return why
    for _, child in children[k:]:
        if any(_hooked(m) for m in child.modules()):
            return f"a {type(child).__name__} after the frozen layers has hooks"
    device = base.device
    rows = _prefix(children[:k], X, device)
    if isinstance(rows, str):
        return rows
    y = y.to(device)
    flat_a, flat_b = plane_info["flat_index"]
    start = base[[flat_a, flat_b]].clone()  # the two weights' start values
    first_name, first = children[k]
    # the full path's batches, as sample indices; a batch of every sample is a
    # shuffle of them, which a loss summed over the samples with no random
    # layer in between only rounds differently: then the samples' own order
    # saves drawing and gathering the shuffle at every step
    if batch_size >= len(rows) and _order_free(loss_fn, y, children[k:]):
        index_loader = None
    else:
        index_loader = make_loader(_Rows(len(rows)), batch_size, seed)
    row = _row_unit(first, first_name, plane_info, k, owner) if rows.dim() == 2 else None
    if row is not None:
        z0, feed = _row_parts(first, row, rows)
        rest = children[k + 1 :]
        unit = UnitSteps.of(z0, feed, y, row[0], rest, loss_fn, start, q)
        if unit is not None:
            unit.index_loader = index_loader
            return PartialDescent("unit", unit=unit)
        inputs, forward = _row_case(z0, feed, row[0], start, q, rest)
        kind = "row"
    else:
        forward = _layer_forward(children[k:], k, owner, plane_info, base, q, layout)
        inputs, kind = rows, "layer"
    if index_loader is None:
        # a layer may change its input in place: each step gets a copy
        batches = _Copies(inputs, y)
    else:  # indexing copies
        batches = _Batches(index_loader, inputs, y)
    return PartialDescent(kind, forward=forward, batches=batches)


def _hooked(module: nn.Module) -> bool:
    """Whether hooks run code of their own in ``module``'s forward or backward pass."""
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
    )


# losses that are a sum (or a mean) of one term per sample, whatever their order
_PER_SAMPLE_LOSSES = (
    nn.MSELoss,
    nn.L1Loss,
    nn.SmoothL1Loss,
    nn.HuberLoss,
    nn.CrossEntropyLoss,
    nn.NLLLoss,
    nn.BCELoss,
    nn.BCEWithLogitsLoss,
    SumSquaredError,
)


def _order_free(loss_fn, y: torch.Tensor, suffix: list) -> bool:
    """Whether a batch's loss and gradient depend on the order of its samples only
    through rounding: a known per-sample loss, and no random or batch-wide layer."""
    fn = default_loss(y) if loss_fn is None else loss_fn
    reduction = getattr(fn, "reduction", "mean")  # SumSquaredError: a mean
    if type(fn) not in _PER_SAMPLE_LOSSES or reduction not in ("mean", "sum"):
        return False
    return all(not _not_per_sample(child) for _, child in suffix)


def _tensor_pair(data) -> tuple[torch.Tensor, torch.Tensor] | None:
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
    elif type(data) is TensorDataset and len(data.tensors) == 2:
        X, y = data.tensors
    else:
        return None
    if not (isinstance(X, torch.Tensor) and isinstance(y, torch.Tensor)):
        return None
    if X.dim() == 0 or y.dim() == 0 or len(X) != len(y) or len(X) == 0:
        return None  # the full path raises the clear error
    return X, y


def _not_per_sample(module: nn.Module) -> str:
    """Why ``module`` cannot be computed once for all steps ("" when it can)."""
    for m in module.modules():
        if _hooked(m):
            return f"a {type(m).__name__} before the two weights' layer has hooks"
        if type(m) is nn.Sequential:
            continue
        if isinstance(m, _DROPOUT) and type(m) in _DROPOUT:
            if m.p != 0:
                return f"a {type(m).__name__} before the two weights' layer draws random numbers"
            continue
        if type(m) not in _PER_SAMPLE:
            return (
                f"a {type(m).__name__} before the two weights' layer may depend on the batch "
                "or on chance (only per-sample layers are computed once)"
            )
    return ""


def _prefix(prefix: list, X: torch.Tensor, device) -> torch.Tensor | str:
    """The frozen layers' output for every sample, computed in chunks of rows."""
    if not prefix:
        return X.to(device)
    parts = []
    size = 0
    with torch.no_grad():
        for s in range(0, len(X), _PREFIX_CHUNK):
            h = X[s : s + _PREFIX_CHUNK].to(device)
            for _, m in prefix:
                h = m(h)
            size += h.numel() * h.element_size()
            if size > _MAX_PREFIX_BYTES:
                return "the frozen layers' output for every sample would exceed 1 GiB"
            parts.append(h)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _row_unit(first, cname: str, info: dict, k: int, owner: dict) -> tuple | None:
    """(unit, [column or None for a bias entry] * 2) when both weights feed one Linear unit."""
    if type(first) is not nn.Linear:
        return None
    units, cols = [], []
    for spec in (info["a"], info["b"]):
        name, index = spec[0], tuple(spec[1])
        if owner[name][0] != k:
            return None
        if name == f"{cname}.weight" and len(index) == 2:
            units.append(index[0])
            cols.append(index[1])
        elif name == f"{cname}.bias" and len(index) == 1:
            units.append(index[0])
            cols.append(None)
        else:
            return None
    return (units[0], cols) if units[0] == units[1] else None


def _row_parts(first: nn.Linear, row, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The layer's output without the two weights ``(N, out)`` and their inputs ``(N, 2)``.

    With the two weights set to zero the layer's output is fixed; their unit's
    column then gains their input columns (1 for a bias entry) times their
    values.
    """
    unit, cols = row
    with torch.no_grad():
        W0 = first.weight.detach().clone()
        b0 = None if first.bias is None else first.bias.detach().clone()
        for c in cols:
            if c is None:
                b0[unit] = 0.0
            else:
                W0[unit, c] = 0.0
        z0 = F.linear(h, W0, b0)  # (N, out)
        feed = torch.stack([torch.ones_like(h[:, 0]) if c is None else h[:, c] for c in cols], 1)
    return z0, feed


def _row_case(z0, feed, unit: int, start, q, rest):
    """Inputs and forward for two weights of one Linear unit (see :func:`_row_parts`).

    When elementwise activations and a Linear layer follow, that layer's input
    changes in one column only, so its output is its output at the two
    weights' zero (computed once) plus a rank-one term: a step costs
    ``O(N x its width)``. Otherwise the unit's column is added into the
    layer's output.
    """
    mods = [m for _, m in rest]
    j = 0
    while j < len(mods) and type(mods[j]) in _ELEMENTWISE:
        j += 1
    if j < len(mods) and type(mods[j]) is nn.Linear:
        acts, nxt, after = mods[:j], mods[j], mods[j + 1 :]
        with torch.no_grad():
            act_base = z0.clone()
            for m in acts:
                act_base = m(act_base)
            next_base = nxt(act_base)  # (N, width)
            inputs = torch.cat(
                [next_base, z0[:, unit : unit + 1], act_base[:, unit : unit + 1], feed], dim=1
            )  # (N, width + 4)
            w_col = nxt.weight[:, unit].detach().clone()  # (width,)
        width = next_base.shape[1]

        def forward(rows):
            w = start + q  # as the full path forms the two weights: one rounding
            col = rows[:, width] + rows[:, width + 2 :] @ w
            for m in acts:
                col = m(col)
            z = torch.addcmul(rows[:, :width], (col - rows[:, width + 1]).unsqueeze(1), w_col)
            for m in after:
                z = m(z)
            return z

        return inputs, forward

    inputs = torch.cat([z0, feed], dim=1)  # (N, out + 2)
    width = z0.shape[1]
    where = torch.tensor([unit], device=z0.device)

    def forward(rows):
        w = start + q
        z = rows[:, :width].index_add(1, where, (rows[:, width:] @ w).unsqueeze(1))
        for m in mods:
            z = m(z)
        return z

    return inputs, forward


def _layer_forward(suffix, k, owner, info, base, q, layout):
    """Forward through the layers from the first changed one, the two weights from ``q``."""
    split = layout.split(base)
    changes: dict[int, dict[str, Callable[[], torch.Tensor]]] = {}
    by_param: dict[str, list] = {}
    for j, spec in enumerate((info["a"], info["b"])):
        by_param.setdefault(spec[0], []).append((j, info["flat_index"][j]))
    for name, entries in by_param.items():
        pos = torch.tensor(
            [flat - layout.offsets[layout.index(name)] for _, flat in entries], device=base.device
        )
        which = [j for j, _ in entries]
        flat0 = split[name].reshape(-1)
        shape = split[name].shape

        def build(flat0=flat0, pos=pos, which=which, shape=shape):
            part = q if which == [0, 1] else q[which[0] : which[0] + 1]
            # start value + offset, one rounding, as the full path's base + q e
            return flat0.index_put((pos,), part, accumulate=True).view(shape)

        child, pname = owner[name]
        changes.setdefault(child, {})[pname] = build
    steps = []
    for j, (_, child) in enumerate(suffix, start=k):
        if j not in changes:
            steps.append(child)
        elif type(child) is nn.Linear and set(changes[j]) <= {"weight", "bias"}:
            steps.append(_linear_with(child, changes[j]))
        else:
            steps.append(_called_with(child, changes[j]))

    def forward(h):
        for step in steps:
            h = step(h)
        return h

    return forward


def _linear_with(layer: nn.Linear, change: dict):
    get_w = change.get("weight", lambda: layer.weight)
    get_b = change.get("bias", lambda: layer.bias)
    return lambda h: F.linear(h, get_w(), get_b())


def _called_with(module: nn.Module, change: dict):
    return lambda h: functional_call(module, {n: f() for n, f in change.items()}, (h,))


class _Rows(Dataset):
    """Sample indices, fetched a batch at a time: a loader over it draws the
    batches a loader over the data would (same sampler, same generator)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i

    def __getitems__(self, indices: list) -> list:
        return indices


class _Copies:
    """One batch of every sample per pass, a fresh copy of the inputs each time."""

    def __init__(self, inputs: torch.Tensor, y: torch.Tensor):
        self.inputs, self.y = inputs, y

    def __len__(self) -> int:
        return 1

    def __iter__(self):
        yield self.inputs.clone(), self.y


class _Batches:
    """Each pass: the index loader's batches as rows of the precomputed inputs."""

    def __init__(self, loader, inputs: torch.Tensor, y: torch.Tensor):
        self.loader, self.inputs, self.y = loader, inputs, y

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for idx in self.loader:
            idx = idx.to(self.inputs.device)
            yield self.inputs[idx], self.y[idx]
