"""Flat weight vectors: one 1-D tensor per point of weight space.

A model's parameters are flattened in ``named_parameters()`` order (the order
``torch.nn.utils.parameters_to_vector`` uses). :class:`ParamLayout` records
names, shapes and offsets so a vector can be split back into tensors, and
:func:`as_vector` turns any of the accepted inputs (a module, a state_dict, a
flat tensor, a checkpoint path) into a vector with that layout.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

WeightsLike = nn.Module | Mapping[str, torch.Tensor] | torch.Tensor | str | os.PathLike

# Keys under which training scripts commonly nest a state_dict in a checkpoint.
_NESTED_KEYS = ("state_dict", "model_state_dict", "model")


@dataclass(frozen=True)
class ParamLayout:
    """Names, shapes and offsets of a model's parameters in a flat vector.

    Examples
    --------
    >>> layout = ParamLayout.of(torch.nn.Linear(3, 2))
    >>> layout.names, layout.numel
    (('weight', 'bias'), 8)
    """

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]
    offsets: tuple[int, ...]
    numel: int
    buffers: tuple[str, ...] = ()

    @classmethod
    def of(cls, model: nn.Module) -> ParamLayout:
        names, shapes, offsets = [], [], []
        total = 0
        for name, p in model.named_parameters():
            names.append(name)
            shapes.append(p.shape)
            offsets.append(total)
            total += p.numel()
        if not names:
            raise ValueError(f"{type(model).__name__} has no parameters")
        buffers = tuple(name for name, _ in model.named_buffers())
        return cls(tuple(names), tuple(shapes), tuple(offsets), total, buffers)

    def slice(self, name: str) -> slice:
        """The range of the flat vector that holds parameter ``name``."""
        i = self.index(name)
        start = self.offsets[i]
        return slice(start, start + self.shapes[i].numel())

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"no parameter named {name!r}; parameters are: {', '.join(self.names)}"
            ) from None

    def split(self, vec: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of ``vec`` (shape ``(..., numel)``) shaped like each parameter."""
        lead = vec.shape[:-1]
        return {
            name: vec[..., off : off + shape.numel()].view(*lead, *shape)
            for name, shape, off in zip(self.names, self.shapes, self.offsets, strict=False)
        }

    def flatten(self, tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate a name -> tensor mapping into a flat vector, checking it matches."""
        known = set(self.names) | set(self.buffers)
        for name in tensors:
            if name not in known:
                raise ValueError(
                    f"weights have an entry {name!r} that the model has no parameter for"
                )
        parts = []
        for name, shape in zip(self.names, self.shapes, strict=False):
            if name not in tensors:
                raise ValueError(f"weights have no entry for parameter {name!r}")
            t = tensors[name]
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"parameter {name!r} is a {type(t).__name__}, not a tensor")
            if t.shape != shape:
                raise ValueError(
                    f"parameter {name!r} has shape {tuple(t.shape)}, "
                    f"the model expects {tuple(shape)}"
                )
            parts.append(t.detach().reshape(-1).to(dtype=torch.float32, device="cpu"))
        return torch.cat(parts)


def weights_of(model: nn.Module) -> torch.Tensor:
    """The model's parameters as one detached flat float32 vector on the CPU.

    Examples
    --------
    >>> weights_of(torch.nn.Linear(3, 2)).shape
    torch.Size([8])
    """
    return torch.cat([p.detach().reshape(-1).float().cpu() for p in model.parameters()])


def load_checkpoint(path: str | os.PathLike) -> object:
    """``torch.load`` with ``weights_only=True``; refuse pickles that need more."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"refusing to load {path}: it is not a plain tensor checkpoint and "
            "loading it would run arbitrary pickled code (torch.load with "
            "weights_only=True rejected it). Save the model's state_dict() instead."
        ) from err


def as_vector(weights: WeightsLike, layout: ParamLayout) -> torch.Tensor:
    """Turn a module, state_dict, flat tensor or checkpoint path into a flat vector.

    Buffers (BatchNorm running statistics) in a state_dict are ignored; a
    parameter missing or of the wrong shape raises a ``ValueError`` naming it.

    Examples
    --------
    >>> net = torch.nn.Linear(3, 2)
    >>> layout = ParamLayout.of(net)
    >>> torch.equal(as_vector(net.state_dict(), layout), weights_of(net))
    True
    """
    if isinstance(weights, (str, os.PathLike)):
        weights = load_checkpoint(weights)
        if isinstance(weights, Mapping):
            for key in _NESTED_KEYS:
                if key in weights and isinstance(weights[key], Mapping):
                    weights = weights[key]
                    break
    if isinstance(weights, nn.Module):
        weights = dict(weights.named_parameters())
    if isinstance(weights, torch.Tensor):
        if weights.dim() != 1:
            raise ValueError(f"a flat weight vector must be 1-D, got shape {tuple(weights.shape)}")
        if weights.numel() != layout.numel:
            raise ValueError(
                f"flat weight vector has {weights.numel()} entries, "
                f"the model has {layout.numel} parameters"
            )
        return weights.detach().to(dtype=torch.float32, device="cpu")
    if isinstance(weights, Mapping):
        vec = layout.flatten(weights)
        return vec
    raise TypeError(
        "weights must be an nn.Module, a state_dict, a flat tensor or a checkpoint path, "
        f"not {type(weights).__name__}"
    )


def layout_difference(a: str, la: list, b: str, lb: list) -> str | None:
    """The first difference between two layouts, in words; None if they are equal.

    ``la`` and ``lb`` are ``(name, shape)`` lists (as ``named_parameters``
    gives them) of the weights called ``a`` and ``b`` in the message.
    """
    for i, ((na, sa), (nb, sb)) in enumerate(zip(la, lb, strict=False)):
        if (na, sa) != (nb, sb):
            what = (
                f"it is {na!r} in {a}, {nb!r}"
                if na != nb
                else f"{na!r} has shape {sa} in {a}, {sb}"
            )
            return f"{a} and {b} differ at parameter {i}: {what} in {b}"
    if len(la) != len(lb):
        longer, extra = (a, la[len(lb)]) if len(la) > len(lb) else (b, lb[len(la)])
        return (
            f"{a} has {len(la)} parameter tensors, {b} {len(lb)}: {longer}'s {extra[0]!r} is extra"
        )
    return None
