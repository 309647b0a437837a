"""The evaluator's private copy of a network: rewritten for speed, its weights in one buffer.

A :class:`~landscape_widgets.core.landscape.Landscape` never runs the
caller's model. It runs a deep copy whose graph :func:`streamline` rewrites
(exactly: same outputs, less work) and whose parameters :func:`bind_to_flat`
turns into views of one flat vector, so that moving the copy to another
point of weight space is a single vector write.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .weights import ParamLayout

__all__ = ["BATCHNORM", "bind_to_flat", "output_numels", "recompute_batchnorm", "streamline"]

BATCHNORM = nn.modules.batchnorm._BatchNorm

_MONOTONE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid)
_MAX_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
# layers whose output is a new tensor nobody else holds: a ReLU after one may run in place
_FRESH_OUTPUT = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.Linear,
    *_MAX_POOL,
    nn.AvgPool2d,
    BATCHNORM,
)


def streamline(net: nn.Module) -> nn.Module:
    """Exact rewrites of the private model copy that save work per forward pass.

    In every ``nn.Sequential``: a monotone activation followed by max pooling
    is swapped (``pool(act(x)) == act(pool(x))``, on a quarter of the
    elements for 2x2 pooling), and a ReLU after a layer that makes a fresh
    tensor runs in place (no allocation). Parameters are untouched.
    """
    uses: dict[int, int] = {}
    for _, m in net.named_modules(remove_duplicate=False):
        uses[id(m)] = uses.get(id(m), 0) + 1
    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        keys = list(seq._modules.keys())
        for a, b in zip(keys, keys[1:], strict=False):
            act, pool = seq._modules[a], seq._modules[b]
            monotone = isinstance(act, _MONOTONE) and getattr(act, "negative_slope", 0.0) >= 0
            if monotone and isinstance(pool, _MAX_POOL):
                seq._modules[a], seq._modules[b] = pool, act
        for a, b in zip(keys, keys[1:], strict=False):
            relu, before = seq._modules[b], seq._modules[a]
            # a ReLU shared with other call sites may see tensors needed later
            if (
                isinstance(relu, nn.ReLU)
                and isinstance(before, _FRESH_OUTPUT)
                and uses[id(relu)] == 1
            ):
                relu.inplace = True
    return net


def bind_to_flat(
    net: nn.Module, layout: ParamLayout, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, bool]:
    """Make ``net``'s parameters views of one new flat vector, holding their values.

    Returns
    -------
    flat : Tensor
        The vector; writing it moves the network (it needs no gradients).
    shared : bool
        Whether a parameter is reached under several names (tied weights, or
        a module used twice), which the batched engines cannot evaluate.
    """
    for p in net.parameters():
        p.requires_grad_(False)  # else copying them into the views would record a graph
    flat = torch.empty(layout.numel, device=device, dtype=dtype)
    views = layout.split(flat)
    bound = {}
    for name, p in net.named_parameters():
        views[name].copy_(p)
        bound[id(p)] = nn.Parameter(views[name], requires_grad=False)
    # every owner of a tied parameter must see the same view
    for _, mod in net.named_modules(remove_duplicate=False):
        for attr, p in list(mod._parameters.items()):
            if p is not None and id(p) in bound:
                mod._parameters[attr] = bound[id(p)]
    n_refs = sum(
        1
        for _, m in net.named_modules(remove_duplicate=False)
        for p in m._parameters.values()
        if p is not None
    )
    return flat, n_refs != len(layout.names)


def output_numels(net: nn.Module, X: torch.Tensor) -> list[int]:
    """Elements of each leaf module's output in one forward pass over ``X``."""
    sizes = []

    def hook(_m, _i, out):
        if isinstance(out, torch.Tensor):
            sizes.append(out.numel())

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    try:
        net(X.clone())  # the model may modify its input in place
    finally:
        for h in handles:
            h.remove()
    return sizes


def recompute_batchnorm(net: nn.Module, batches: Iterable[torch.Tensor]) -> None:
    """Reset the BN statistics of ``net`` and recompute them over ``batches``.

    As ``torch.optim.swa_utils.update_bn`` does: a cumulative average in
    train mode; ``net`` is left in eval mode, its momenta as they were.
    """
    bns = [m for m in net.modules() if isinstance(m, BATCHNORM)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    try:
        for X in batches:
            net(X)
    finally:
        net.eval()
        for m, mom in zip(bns, saved, strict=False):
            m.momentum = mom
