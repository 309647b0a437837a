"""Reference models for loss-landscape demos.

Small, readable networks whose initialisation is a pure function of
``torch.manual_seed``: the MLP of the classic two-weight teaching picture, a
toy MLP for 2-D classification, a small CNN, and the CIFAR ResNets of He et
al. 2016 with switches for the skip connections and BatchNorm, the pair that
Li et al. 2018 compare to show how skips keep the loss surface smooth.

For the two-weight pictures as a numpy article draws them, :func:`normal_init`
redraws a network's weights as numpy does and :class:`SumSquaredError` is its
cost: the article's network in three lines is ::

    net = normal_init(teaching_mlp(output_activation=True), seed=135)
    cost = SumSquaredError()  # on one_hot(y, 10) targets, pixels / 255
    half = SumSquaredError(0.5)  # its descent's gradient (lr 10)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .core.losses import SumSquaredError

__all__ = [
    "teaching_mlp",
    "normal_init",
    "SumSquaredError",
    "small_mlp",
    "small_cnn",
    "ResNetConfig",
    "BasicBlock",
    "CifarResNet",
    "resnet20",
    "resnet56",
    "one_hot",
]

Activation = str | Callable[[], nn.Module]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
    "linear": nn.Identity,
}


def _activation(activation: Activation) -> nn.Module:
    """A fresh activation module from a name or a zero-argument factory."""
    if isinstance(activation, str):
        try:
            return _ACTIVATIONS[activation.lower()]()
        except KeyError:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {', '.join(_ACTIVATIONS)} "
                "or pass a module class such as nn.LeakyReLU"
            ) from None
    if callable(activation):
        module = activation()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"activation factory returned a {type(module).__name__}, not an nn.Module"
            )
        return module
    raise TypeError(f"activation must be a name or a module class, not {type(activation).__name__}")


def _mlp(
    widths: Sequence[int], activation: Activation, bias: bool, output_activation: bool
) -> nn.Sequential:
    """``Flatten, Linear, act, Linear, act, ..., Linear`` (parameters named 1.*, 3.*, 5.*, ...)."""
    widths = [int(w) for w in widths]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(
            f"widths must list at least an input and an output size, all >= 1; got {widths}"
        )
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=False)):
        layers.append(nn.Linear(fan_in, fan_out, bias=bias))
        if i < len(widths) - 2 or output_activation:
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


def teaching_mlp(
    widths: Sequence[int] = (784, 50, 500, 10),
    activation: Activation = "sigmoid",
    bias: bool = False,
    *,
    output_activation: bool = False,
) -> nn.Sequential:
    """The MLP of the classic "loss as a function of two weights" teaching picture.

    A fully connected 784-50-500-10 network with sigmoid units and no biases,
    trained with MSE on one-hot targets (see :func:`one_hot`). Freezing all
    weights but two and plotting the loss over those two shows how the surface
    flattens and smooths as the number of training samples grows.

    Parameters
    ----------
    widths : sequence of int
        Layer sizes from the (flattened) input to the output.
    activation : str or callable
        Hidden-layer activation: a name ("sigmoid", "tanh", "relu", ...) or a
        zero-argument module factory such as ``nn.LeakyReLU``.
    bias : bool
        Whether the linear layers have biases.
    output_activation : bool
        Also apply ``activation`` to the output layer.

    Returns
    -------
    nn.Sequential
        ``Flatten`` followed by alternating ``Linear`` and activation modules,
        so the weights are named "1.weight", "3.weight", "5.weight".

    Examples
    --------
    >>> net = teaching_mlp()
    >>> [name for name, _ in net.named_parameters()]
    ['1.weight', '3.weight', '5.weight']
    >>> net(torch.zeros(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    """
    return _mlp(widths, activation, bias, output_activation)


def normal_init(net: nn.Module, seed: int, std: float = 1.0) -> nn.Module:
    """Redraw every parameter of ``net`` from numpy's normal generator seeded with ``seed``.

    The parameters are filled in ``net.parameters()`` order, each with
    ``std * RandomState(seed).standard_normal(shape)`` drawn in turn from one
    generator: the numbers ``np.random.seed(seed)`` followed by one
    ``np.random.randn(*shape)`` per matrix gives, so a network initialised in
    numpy can be rebuilt exactly (numpy's global state is left alone). The
    shape is torch's ``(out, in)`` for a Linear weight, numpy's usual
    ``(next layer, previous layer)``.

    The two-weight MNIST article (Habr; see ``FIGURES.md``, HB-*) initialises
    its 784-50-500-10 network this way with seed 135, unscaled, drawing the
    matrices in the order 50x784, 500x50, 10x500: that is
    ``normal_init(teaching_mlp(output_activation=True), 135)``.

    Parameters
    ----------
    net : nn.Module
        Changed in place (and returned).
    seed : int
        Seed of ``numpy.random.RandomState``.
    std : float
        Scale of the draws (1: standard normal).

    Returns
    -------
    nn.Module
        ``net``.

    Examples
    --------
    >>> net = normal_init(teaching_mlp(widths=(3, 2)), seed=135)
    >>> np.allclose(net[1].weight.detach().numpy(), np.random.RandomState(135).randn(2, 3))
    True
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be an nn.Module, not {type(net).__name__}")
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    if not np.isfinite(std) or std < 0:
        raise ValueError(f"std must be a finite number >= 0, got {std!r}")
    rng = np.random.RandomState(int(seed))
    with torch.no_grad():
        for p in net.parameters():
            draws = std * rng.standard_normal(tuple(p.shape))
            p.copy_(torch.from_numpy(draws))  # float64 draws, rounded to p's dtype
    return net


def small_mlp(
    in_features: int = 2,
    hidden: Sequence[int] = (64, 64),
    out_features: int = 2,
    activation: Activation = "tanh",
    bias: bool = True,
) -> nn.Sequential:
    """A small fully connected network, by default for 2-D toy classification.

    Parameters
    ----------
    in_features : int
        Size of the (flattened) input.
    hidden : sequence of int
        Hidden-layer widths.
    out_features : int
        Size of the output (number of classes, or 1 for regression).
    activation : str or callable
        Hidden-layer activation, as in :func:`teaching_mlp`.
    bias : bool
        Whether the linear layers have biases.

    Returns
    -------
    nn.Sequential
        ``Flatten, Linear, act, ..., Linear``; linear layers are at the odd
        indices ("1.weight", "1.bias", "3.weight", ...). The leading
        ``Flatten`` lets the same model take images.

    Examples
    --------
    >>> net = small_mlp()
    >>> net(torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    >>> sum(p.numel() for p in net.parameters())
    4482
    """
    return _mlp([in_features, *hidden, out_features], activation, bias, output_activation=False)


def small_cnn(
    in_channels: int = 3, classes: int = 10, width: int = 16, bn: bool = False
) -> nn.Sequential:
    """A three-stage convolutional network, about 24k parameters at ``width=16``.

    Each stage is a 3x3 convolution (``width``, ``2 width``, ``4 width``
    channels), optional BatchNorm, ReLU and 2x2 max pooling; global average
    pooling and a linear layer make the head, so any input of at least 8x8
    pixels works (28x28 MNIST and 32x32 CIFAR alike).

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    classes : int
        Number of outputs.
    width : int
        Channels of the first convolution.
    bn : bool
        Put BatchNorm after each convolution (the convolutions then have no
        bias of their own).

    Examples
    --------
    >>> net = small_cnn()
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> sum(p.numel() for p in net.parameters())
    24234
    """
    layers: list[nn.Module] = []
    channels = [in_channels, width, 2 * width, 4 * width]
    for c_in, c_out in zip(channels[:-1], channels[1:], strict=False):
        layers.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=not bn))
        if bn:
            layers.append(nn.BatchNorm2d(c_out))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, classes)]
    return nn.Sequential(*layers)


# -----------------------------------------------------------------------------
# CIFAR ResNets (He et al. 2016, sec. 4.2)


@dataclass
class ResNetConfig:
    """Configuration of a CIFAR ResNet with ``6 n + 2`` layers.

    Attributes
    ----------
    depth : int
        Number of weighted layers, ``6 n + 2`` (20, 32, 44, 56, 110, ...).
    classes : int
        Number of outputs.
    in_channels : int
        Channels of the input images.
    width : int
        Channels of the first stage; the next two stages double it twice.
    skip : bool
        Keep the identity shortcuts; False gives the "no-short" networks of
        Li et al. 2018, plain stacks of convolutions.
    bn : bool
        Use BatchNorm; False puts ``nn.Identity`` in its place and gives the
        convolutions biases.
    shortcut : str
        How a shortcut changes shape between stages: "pad" (option A of He et
        al.: subsample and zero-pad the channels, parameter-free) or "conv" (a
        strided 1x1 convolution, option B).
    """

    depth: int = 20
    classes: int = 10
    in_channels: int = 3
    width: int = 16
    skip: bool = True
    bn: bool = True
    shortcut: str = "pad"

    def __post_init__(self):
        if self.depth < 8 or (self.depth - 2) % 6 != 0:
            raise ValueError(
                "a CIFAR ResNet has depth 6n + 2 with n >= 1 (20, 32, 44, 56, ...), "
                f"got {self.depth}"
            )
        if self.shortcut not in ("pad", "conv"):
            raise ValueError(f"shortcut must be 'pad' or 'conv', got {self.shortcut!r}")

    @property
    def blocks_per_stage(self) -> int:
        return (self.depth - 2) // 6


def _norm(channels: int, bn: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if bn else nn.Identity()


class PadShortcut(nn.Module):
    """Option A shortcut: keep every ``stride``-th pixel and zero-pad new channels."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, c_out - c_in

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]  # (B, c_in, H/s, W/s)
        before, after = self.extra // 2, self.extra - self.extra // 2
        return F.pad(x, (0, 0, 0, 0, before, after))  # (B, c_out, H/s, W/s)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity shortcut: ``relu(F(x) + x)``.

    With ``skip=False`` the block computes ``relu(F(x))``, which turns the
    ResNet into the plain network of the same depth (He et al. 2016;
    Li et al. 2018, sec. 6).
    """

    def __init__(self, c_in: int, c_out: int, stride: int, config: ResNetConfig):
        super().__init__()
        bn = config.bn
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not bn)
        self.bn1 = _norm(c_out, bn)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=not bn)
        self.bn2 = _norm(c_out, bn)
        self.shortcut: nn.Module | None = None
        if config.skip:
            if stride == 1 and c_in == c_out:
                self.shortcut = nn.Identity()
            elif config.shortcut == "pad":
                self.shortcut = PadShortcut(c_in, c_out, stride)
            else:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(c_in, c_out, 1, stride=stride, bias=not bn), _norm(c_out, bn)
                )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))  # (B, c_out, H/s, W/s)
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    """The CIFAR-10 ResNet of He et al. 2016 (sec. 4.2), with switches.

    A 3x3 convolution with ``width`` channels, three stages of ``n`` basic
    blocks with ``width``, ``2 width`` and ``4 width`` channels (the first
    block of stages two and three halves the resolution), global average
    pooling and a linear classifier: ``6 n + 2`` weighted layers.

    References
    ----------
    He, Zhang, Ren, Sun (2016), "Deep Residual Learning for Image Recognition".
    Li, Xu, Taylor, Studer, Goldstein (2018), "Visualizing the Loss Landscape
    of Neural Nets".

    Examples
    --------
    >>> net = CifarResNet(ResNetConfig(depth=20))
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, config: ResNetConfig):
        super().__init__()
        self.config = config
        w, n = config.width, config.blocks_per_stage
        self.conv = nn.Conv2d(config.in_channels, w, 3, padding=1, bias=not config.bn)
        self.bn = _norm(w, config.bn)
        stages, c_in = [], w
        for i, c_out in enumerate((w, 2 * w, 4 * w)):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(c_in, c_out, stride, config))
                c_in = c_out
            stages.append(nn.Sequential(*blocks))
        self.stage1, self.stage2, self.stage3 = stages
        self.fc = nn.Linear(4 * w, config.classes)
        self._init_weights()

    def _init_weights(self):
        # He et al. 2015 ("Delving Deep into Rectifiers") initialisation for the convolutions
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))  # (B, w, H, W)
        x = self.stage1(x)  # (B, w, H, W)
        x = self.stage2(x)  # (B, 2w, H/2, W/2)
        x = self.stage3(x)  # (B, 4w, H/4, W/4)
        x = x.mean(dim=(2, 3))  # (B, 4w) global average pooling
        return self.fc(x)  # (B, classes)


def resnet20(classes: int = 10, skip: bool = True, bn: bool = True, **kwargs) -> CifarResNet:
    """ResNet-20 for CIFAR (He et al. 2016): about 0.27M parameters.

    Parameters
    ----------
    classes : int
        Number of outputs.
    skip : bool
        Keep the shortcut connections (False: the plain 20-layer network).
    bn : bool
        Use BatchNorm (False: identity in its place, convolutions with biases).
    **kwargs
        Other :class:`ResNetConfig` fields (``in_channels``, ``width``,
        ``shortcut``).

    Examples
    --------
    >>> sum(p.numel() for p in resnet20().parameters())
    269722
    """
    return CifarResNet(ResNetConfig(depth=20, classes=classes, skip=skip, bn=bn, **kwargs))


def resnet56(classes: int = 10, skip: bool = True, bn: bool = True, **kwargs) -> CifarResNet:
    """ResNet-56 for CIFAR (He et al. 2016): about 0.85M parameters.

    Arguments as in :func:`resnet20`.

    Examples
    --------
    >>> sum(p.numel() for p in resnet56().parameters())
    853018
    """
    return CifarResNet(ResNetConfig(depth=56, classes=classes, skip=skip, bn=bn, **kwargs))


def one_hot(y: torch.Tensor, classes: int) -> torch.Tensor:
    """Float32 one-hot rows for integer labels, the targets of an MSE classifier.

    Parameters
    ----------
    y : Tensor
        Integer labels in ``[0, classes)``, shape ``(n,)``.
    classes : int
        Number of classes.

    Returns
    -------
    Tensor
        Float32, shape ``(n, classes)``.

    Examples
    --------
    >>> one_hot(torch.tensor([2, 0]), 3)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    if y.numel() and (y.min() < 0 or y.max() >= classes):
        raise ValueError(
            f"labels must lie in [0, {classes}), got values from {int(y.min())} to {int(y.max())}"
        )
    return F.one_hot(y.long(), classes).to(torch.float32)
