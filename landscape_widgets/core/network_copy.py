"""The evaluator's private copy of a network: rewritten for speed, its weights in one buffer.

A :class:`~landscape_widgets.core.landscape.Landscape` never runs the
caller's model. It runs a deep copy whose graph :func:`streamline` rewrites
(exactly: same outputs, less work) and whose parameters :func:`bind_to_flat`
turns into views of one flat vector, so that moving the copy to another
point of weight space is a single vector write.
"""

from __future__ import annotations

import weakref

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


# whether a network calls a BN module twice per forward pass; the graph does not change
_REUSED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _Enough(Exception):
    """Raised by a hook to end a forward pass once the layer being measured has its input."""


def recompute_batchnorm(
    net: nn.Module, X: torch.Tensor, batch_size: int | None = None, copy_input: bool = False
) -> str:
    """Reset the BN statistics of ``net`` to those of all of ``X``, whatever the batches.

    The statistics are the ones ``torch.optim.swa_utils.update_bn`` computes
    from one batch holding every sample of ``X``: each layer's per-channel
    mean and unbiased variance over all the values it sees, with the layers
    before it normalising by their own full-data statistics. ``update_bn``
    over many batches gives something else: it averages the per-batch means
    and per-batch variances (missing the spread between batch means), and
    each layer sees activations normalised by batch statistics, so the
    result depends on the batch size (up to 1.8% of the loss on ResNet-20).

    With one batch (``batch_size`` None or at least ``len(X)``) this is one
    pass in train mode, as ``update_bn``. With several, the layers are
    measured one at a time in the order the forward pass reaches them: one
    pass over the batches per layer, stopped at that layer's input, whose
    per-channel count, mean and sum of squared deviations are accumulated
    exactly (per-batch moments merged in float64) while the layers before it
    normalise by their finished statistics (by the biased variance, as in
    train mode, until all are measured). A network that calls one BN
    module twice in a forward pass is measured in one batch.

    ``net`` is left in eval mode, its momenta as they were. Other modules run
    in train mode during the passes, as in ``update_bn`` (dropout included).

    Returns
    -------
    str
        How the statistics were computed, for a result's provenance.
    """
    bns = [m for m in net.modules() if isinstance(m, BATCHNORM) and m.track_running_stats]
    n, step = len(X), batch_size or len(X)
    if step < n and not _reused(net, bns, X[:step].clone() if copy_input else X[:step]):
        _layer_by_layer(net, bns, X, step, copy_input)
        return (
            f"exact over {n} samples: one layer at a time in batches of {step} "
            "(equal to update_bn on one batch of them all)"
        )
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    try:
        net(X.clone() if copy_input else X)
    finally:
        net.eval()
        for m, mom in zip(bns, saved, strict=True):
            m.momentum = mom
    return f"exact over {n} samples: one batch in train mode (as update_bn)"


def _reused(net: nn.Module, bns: list[nn.Module], X: torch.Tensor) -> bool:
    """Whether a forward pass over ``X`` calls one of ``bns`` twice (found once per net)."""
    if net in _REUSED:
        return _REUSED[net]
    calls: dict[int, int] = {}

    def count(m, _args):
        calls[id(m)] = calls.get(id(m), 0) + 1

    handles = [m.register_forward_pre_hook(count) for m in bns]
    try:
        net.eval()
        net(X)
    finally:
        for h in handles:
            h.remove()
    _REUSED[net] = any(c > 1 for c in calls.values())
    return _REUSED[net]


def _layer_by_layer(
    net: nn.Module, bns: list[nn.Module], X: torch.Tensor, step: int, copy_input: bool
) -> None:
    """Full-data statistics of each layer in ``bns``, in the order the forward pass reaches them."""
    finished: set[int] = set()
    moments: list = []  # [module, count, mean, M2] of the layer being measured, float64
    unbiased: list = []  # (module, its unbiased variance), written once all are measured

    def measure(m, args):
        if id(m) in finished:
            return
        x = args[0]
        dims = [0, *range(2, x.dim())]
        var, mean = torch.var_mean(x, dim=dims, correction=0)
        nb = x.numel() // x.shape[1]
        mean, m2 = mean.double(), var.double() * nb
        if not moments:
            moments.extend([m, nb, mean, m2])
        else:
            # Chan et al.'s pairwise update: exact merging of two sets' moments
            _, na, mean_a, m2_a = moments
            total = na + nb
            delta = mean - mean_a
            moments[1:] = [
                total,
                mean_a + delta * (nb / total),
                m2_a + m2 + delta.square() * (na * nb / total),
            ]
        raise _Enough

    for m in bns:
        m.reset_running_stats()  # as update_bn: a layer the forward pass never reaches too
    handles = [m.register_forward_pre_hook(measure) for m in bns]
    try:
        net.train()
        for _ in bns:
            moments.clear()
            for s in range(0, len(X), step):
                try:
                    net(X[s : s + step].clone() if copy_input else X[s : s + step])
                except _Enough:
                    pass
            if not moments:
                break  # the rest are never reached by the forward pass
            m, count, mean, m2 = moments
            if count < 2:
                raise ValueError("BatchNorm statistics need more than one value per channel")
            # Train mode normalises by the biased variance and stores the
            # unbiased one: the later layers are measured as they would see it
            m.running_mean.copy_(mean)
            m.running_var.copy_(m2 / count)
            m.num_batches_tracked.fill_(1)
            m.train(False)
            finished.add(id(m))
            unbiased.append((m, m2 / (count - 1)))
        for m, var in unbiased:
            m.running_var.copy_(var)
    finally:
        for h in handles:
            h.remove()
        net.eval()
