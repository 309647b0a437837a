"""Small data sets for loss-landscape demos: built-in ones and torchvision loaders.

Every built-in set is generated on the spot (no download, no files), is a pure
function of its arguments, and returns ``(X, y)`` tensors: ``X`` float32 and
``y`` int64 class labels (float32 targets for regression). The *structure* of a
set (spiral arms, digit glyphs, image classes) never depends on ``seed``; only
the sample does, so ``spirals(seed=1)`` is a fair test set for a network
trained on ``spirals(seed=0)``.

The loaders of the standard image sets, :func:`mnist`, :func:`fashion_mnist`
and :func:`cifar10`, are here too; they read the files with torchvision
(see :mod:`landscape_widgets.core.standard_datasets`). :func:`find_mnist` is
how the notebooks get MNIST: from ``$LW_DATA``, the cache, or a download.

Over 500 lines because each generator documents the data it draws, with an example.
"""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import torch

from .core.standard_datasets import cifar10, fashion_mnist, mnist

Tensor = torch.Tensor

__all__ = [
    "spirals",
    "moons",
    "regression1d",
    "digits",
    "images",
    "mnist",
    "find_mnist",
    "fashion_mnist",
    "cifar10",
    "split",
]

# Structure that must not change with `seed` (the image classes' textures) is
# drawn from a generator seeded with this constant.
_STRUCTURE_SEED = 20240611


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _check_n(n: int, minimum: int = 1) -> int:
    if int(n) != n or n < minimum:
        raise ValueError(f"n must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _balanced_labels(n: int, classes: int, gen: torch.Generator) -> Tensor:
    """``n`` labels in shuffled order with class counts differing by at most one."""
    labels = torch.arange(n) % classes  # (n,)
    return labels[torch.randperm(n, generator=gen)]


# -----------------------------------------------------------------------------
# toy 2-D classification and 1-D regression


def spirals(
    n: int = 1000, noise: float = 0.05, seed: int = 0, classes: int = 2, turns: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Interleaved 2-D spirals, one arm per class.

    Arm ``k`` is the curve ``r = t``, ``angle = 2 pi (turns t + k / classes)``
    for ``t`` in ``[0.05, 1]``, with Gaussian noise of standard deviation
    ``noise`` (in units of the outer radius) added to each point. The result
    is standardised to zero mean and unit variance per coordinate. Classes are
    balanced (counts differ by at most one) and the points come in shuffled
    order.

    Parameters
    ----------
    n : int
        Number of points.
    noise : float
        Standard deviation of the Gaussian noise, relative to the outer radius.
    seed : int
        Seed of the sample; the arms themselves do not depend on it.
    classes : int
        Number of arms (and classes), at least 2.
    turns : float
        How many times each arm winds around the centre; more turns make a
        harder problem (at 1.5, plain SGD on
        :func:`~landscape_widgets.models.small_mlp` needs many more epochs
        than at 1).

    Returns
    -------
    X : Tensor
        Float32, shape ``(n, 2)``.
    y : Tensor
        Int64 labels in ``[0, classes)``, shape ``(n,)``.

    Examples
    --------
    >>> X, y = spirals(200, seed=0)
    >>> X.shape, y.shape, y.bincount().tolist()
    (torch.Size([200, 2]), torch.Size([200]), [100, 100])
    """
    if classes < 2:
        raise ValueError(f"classes must be at least 2, got {classes}")
    n = _check_n(n, minimum=classes)
    gen = _generator(seed)
    y = _balanced_labels(n, classes, gen)  # (n,)
    t = 0.05 + 0.95 * torch.rand(n, generator=gen)  # (n,) position along the arm
    angle = 2 * math.pi * (turns * t + y / classes)  # (n,)
    X = t[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # (n, 2)
    X = X + noise * torch.randn(n, 2, generator=gen)
    X = (X - X.mean(0)) / X.std(0).clamp_min(1e-12)
    return X.float(), y.long()


def moons(n: int = 1000, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles (the "two moons" toy problem).

    Class 0 lies on the upper half of the unit circle, class 1 on a lower half
    circle shifted by ``(1, 0.5)`` so that each moon reaches into the other's
    hollow; points are spread uniformly in angle, then Gaussian noise of
    standard deviation ``noise`` is added and the set is centred at the origin.

    Parameters
    ----------
    n : int
        Number of points (classes differ in size by at most one).
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int
        Seed of the sample.

    Returns
    -------
    X : Tensor
        Float32, shape ``(n, 2)``.
    y : Tensor
        Int64 labels in ``{0, 1}``, shape ``(n,)``.

    Examples
    --------
    >>> X, y = moons(100, noise=0.0)
    >>> bool(((X[y == 0] + torch.tensor([0.5, 0.25])).norm(dim=1) - 1).abs().max() < 1e-5)
    True
    """
    n = _check_n(n, minimum=2)
    gen = _generator(seed)
    y = _balanced_labels(n, 2, gen)  # (n,)
    angle = math.pi * torch.rand(n, generator=gen)  # (n,) in [0, pi)
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)  # (n, 2)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)  # (n, 2)
    X = torch.where(y[:, None] == 0, upper, lower)
    X = X + noise * torch.randn(n, 2, generator=gen)
    X = X - torch.tensor([0.5, 0.25])  # the centre of the two moons' bounding box
    return X.float(), y.long()


# The two input clusters of `regression1d` and the gap between them.
REGRESSION1D_CLUSTERS = ((-1.0, -0.35), (0.35, 1.0))


def _regression1d_mean(x: Tensor) -> Tensor:
    """The smooth function behind :func:`regression1d`."""
    return torch.sin(3.0 * x) + 0.5 * x


def regression1d(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A 1-D regression problem whose inputs have a gap in the middle.

    Inputs are drawn uniformly from two clusters, ``[-1, -0.35]`` and
    ``[0.35, 1]`` (half of the points each), and targets are
    ``y = sin(3 x) + x / 2 + noise * eps`` with ``eps ~ N(0, 1)``. Nothing is
    observed for ``|x| < 0.35``, so a good posterior over networks should grow
    uncertain there: the set-up used to show the quality of subspace inference
    (Izmailov et al. 2019, "Subspace Inference for Bayesian Deep Learning").

    Parameters
    ----------
    n : int
        Number of points.
    noise : float
        Standard deviation of the Gaussian target noise.
    seed : int
        Seed of the sample.

    Returns
    -------
    X : Tensor
        Float32 inputs, shape ``(n, 1)``.
    y : Tensor
        Float32 targets, shape ``(n, 1)``.

    Examples
    --------
    >>> X, y = regression1d(100)
    >>> X.shape, y.shape, bool((X.abs() >= 0.35).all())
    (torch.Size([100, 1]), torch.Size([100, 1]), True)
    """
    n = _check_n(n, minimum=2)
    gen = _generator(seed)
    cluster = _balanced_labels(n, 2, gen)  # (n,) which cluster each point is in
    bounds = torch.tensor(REGRESSION1D_CLUSTERS)  # (2, 2)
    lo, hi = bounds[cluster, 0], bounds[cluster, 1]  # (n,), (n,)
    x = lo + (hi - lo) * torch.rand(n, generator=gen)  # (n,)
    y = _regression1d_mean(x) + noise * torch.randn(n, generator=gen)
    return x[:, None].float(), y[:, None].float()


# -----------------------------------------------------------------------------
# synthetic digits: polyline glyphs rendered with random jitter


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, stop: float, k: int = 10
) -> list:
    """Points on an elliptical arc from angle ``start`` to ``stop`` (degrees).

    Glyph coordinates are (x, y) in the unit box with y pointing down, so the
    angle 90 is the top of the ellipse.
    """
    pts = []
    for i in range(k + 1):
        a = math.radians(start + (stop - start) * i / k)
        pts.append((cx + rx * math.cos(a), cy - ry * math.sin(a)))
    return pts


# Each digit is a list of strokes; each stroke is a polyline in the unit box.
_GLYPHS: tuple[list[list[tuple[float, float]]], ...] = (
    [_arc(0.5, 0.5, 0.25, 0.4, 0, 360, 16)],  # 0
    [[(0.36, 0.24), (0.52, 0.1), (0.52, 0.9)]],  # 1
    [_arc(0.5, 0.32, 0.22, 0.21, 160, -30, 8) + [(0.27, 0.9), (0.76, 0.9)]],  # 2
    [_arc(0.49, 0.3, 0.2, 0.2, 150, -90, 10), _arc(0.49, 0.69, 0.24, 0.21, 90, -150, 10)],  # 3
    [[(0.64, 0.9), (0.64, 0.1), (0.24, 0.64), (0.8, 0.64)]],  # 4
    [[(0.73, 0.1), (0.33, 0.1), (0.3, 0.46)] + _arc(0.5, 0.65, 0.24, 0.24, 125, -150, 10)],  # 5
    [[(0.68, 0.1), (0.42, 0.32)] + _arc(0.5, 0.68, 0.22, 0.22, 160, -200, 14)],  # 6
    [[(0.25, 0.1), (0.76, 0.1), (0.42, 0.9)]],  # 7
    [_arc(0.5, 0.29, 0.18, 0.19, -90, 270, 12), _arc(0.5, 0.7, 0.23, 0.21, 90, 450, 12)],  # 8
    [_arc(0.5, 0.32, 0.22, 0.22, -20, 340, 14), [(0.72, 0.36), (0.6, 0.9)]],  # 9
)


def _glyph_segments() -> tuple[Tensor, Tensor]:
    """All glyphs as padded segment lists.

    Returns ``ends`` of shape ``(10, S, 2, 2)`` (digit, segment, endpoint, xy)
    and a boolean ``mask`` of shape ``(10, S)`` marking real segments.
    """
    per_digit = []
    for strokes in _GLYPHS:
        segs = [(a, b) for stroke in strokes for a, b in zip(stroke[:-1], stroke[1:], strict=False)]
        per_digit.append(torch.tensor(segs, dtype=torch.float32))  # (s, 2, 2)
    S = max(len(s) for s in per_digit)
    ends = torch.zeros(len(per_digit), S, 2, 2)
    mask = torch.zeros(len(per_digit), S, dtype=torch.bool)
    for d, segs in enumerate(per_digit):
        ends[d, : len(segs)] = segs
        mask[d, : len(segs)] = True
    return ends, mask


def _segment_distance(p: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Distance from points ``p`` (P, 2) to segments ``a``-``b`` (B, S, 2): (B, S, P).

    With ``d = b - a`` and ``t`` the clamped projection of ``p - a`` onto
    ``d``, the squared distance is ``|p - a|^2 - 2 t (p - a).d + t^2 |d|^2``;
    every dot product with ``p`` is one small matmul.
    """
    d = b - a  # (B, S, 2)
    dd = (d * d).sum(-1, keepdim=True).clamp_min(1e-12)  # (B, S, 1)
    ap_d = d @ p.T - (a * d).sum(-1, keepdim=True)  # (B, S, P) = (p - a).d
    ap_ap = (p * p).sum(-1) - 2 * (a @ p.T) + (a * a).sum(-1, keepdim=True)  # (B, S, P) = |p - a|^2
    t = (ap_d / dd).clamp(0, 1)
    return (ap_ap - t * (2 * ap_d - t * dd)).clamp_min(0).sqrt()


def digits(
    n: int = 2000, seed: int = 0, size: int = 28, noise: float = 0.15
) -> tuple[Tensor, Tensor]:
    """Synthetic handwritten-looking digits: an offline stand-in for MNIST.

    Each of the ten digits is a fixed set of polyline strokes (arcs and lines in
    a unit box). Every sample wobbles the stroke vertices, applies a random
    affine map (rotation up to 15 degrees, scale, shear, shift of a couple of
    pixels), draws the strokes anti-aliased with a random pen width and
    brightness, and adds Gaussian pixel noise. A small MLP trained for two
    epochs on 2000 images gets most of a fresh sample right, yet the set is
    not trivial (a nearest-class-mean classifier does clearly worse), which
    makes it a stand-in for MNIST in notebooks that must run offline.

    Parameters
    ----------
    n : int
        Number of images (classes differ in size by at most one).
    seed : int
        Seed of the sample.
    size : int
        Height and width of the images in pixels (the glyphs scale with it).
    noise : float
        Standard deviation of the Gaussian pixel noise.

    Returns
    -------
    X : Tensor
        Float32 in ``[0, 1]``, shape ``(n, 1, size, size)``.
    y : Tensor
        Int64 labels in ``[0, 10)``, shape ``(n,)``.

    Examples
    --------
    >>> X, y = digits(20)
    >>> X.shape, X.dtype, bool(X.min() >= 0 and X.max() <= 1)
    (torch.Size([20, 1, 28, 28]), torch.float32, True)
    """
    n = _check_n(n)
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    gen = _generator(seed)
    y = _balanced_labels(n, 10, gen)  # (n,)
    ends, mask = _glyph_segments()  # (10, S, 2, 2), (10, S)
    S = ends.shape[1]
    unit = size / 28  # pixel sizes below are for 28x28 and scale with the image
    # pixel centres in glyph-box coordinates centred at 0: (P, 2) with P = size*size
    coords = (torch.arange(size, dtype=torch.float32) + 0.5 - size / 2) / (20 * unit)
    py, px = torch.meshgrid(coords, coords, indexing="ij")
    pixels = torch.stack([px.reshape(-1), py.reshape(-1)], dim=1)  # (P, 2), 20 px per glyph unit

    X = torch.empty(n, 1, size, size)
    for start in range(0, n, 256):  # chunks keep the (B, S, P) temporaries small
        yb = y[start : start + 256]
        B = len(yb)
        seg = ends[yb] - 0.5  # (B, S, 2, 2) centred on the glyph box
        seg = seg + 0.025 * torch.randn(B, 1, 1, 2, generator=gen)  # whole-glyph offset
        seg = seg + 0.02 * torch.randn(B, S, 2, 2, generator=gen)  # wobbly strokes
        # random affine map: rotation, anisotropic scale, shear, shift
        angle = math.radians(15) * (2 * torch.rand(B, generator=gen) - 1)
        sx = 0.8 + 0.3 * torch.rand(B, generator=gen)
        sy = 0.85 + 0.25 * torch.rand(B, generator=gen)
        shear = 0.3 * (2 * torch.rand(B, generator=gen) - 1)
        cos, sin = torch.cos(angle), torch.sin(angle)
        rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
        scale_shear = torch.zeros(B, 2, 2)
        scale_shear[:, 0, 0], scale_shear[:, 0, 1], scale_shear[:, 1, 1] = sx, shear * sy, sy
        A = rot @ scale_shear  # (B, 2, 2)
        shift = (2.0 / 20) * (2 * torch.rand(B, 1, 2, generator=gen) - 1)  # up to 2 px
        pts = seg.reshape(B, 2 * S, 2) @ A.transpose(1, 2) + shift  # (B, 2S, 2)
        pts = pts.reshape(B, S, 2, 2)
        # (B, S, P) distances in 28-px units (20 px per glyph unit)
        dist = 20 * _segment_distance(pixels, pts[:, :, 0], pts[:, :, 1])
        dist = dist.masked_fill(~mask[yb][:, :, None], float("inf")).amin(dim=1)  # (B, P)
        half_width = 0.8 + 1.0 * torch.rand(B, 1, generator=gen)  # pen half-width in px
        ink = (half_width + 0.5 - dist).clamp(0, 1)  # anti-aliased stroke
        brightness = 0.7 + 0.3 * torch.rand(B, 1, generator=gen)
        img = brightness * ink + noise * torch.randn(B, size * size, generator=gen)
        X[start : start + B] = img.clamp(0, 1).reshape(B, 1, size, size)
    return X, y.long()


# -----------------------------------------------------------------------------
# synthetic CIFAR-shaped images


def images(
    n: int = 2000,
    seed: int = 0,
    size: int = 32,
    channels: int = 3,
    classes: int = 10,
    noise: float = 0.1,
) -> tuple[Tensor, Tensor]:
    """Synthetic CIFAR-shaped images whose class is a texture, not a colour.

    Class ``c`` is a sinusoidal grating with its own orientation and spatial
    frequency (fixed for all seeds). Each image draws that grating with a
    random phase inside a soft blob at a random place and of random size, in a
    random foreground colour over a random background colour, and adds
    Gaussian pixel noise. Colour and position carry no class information, so a
    network must pick up oriented local structure, which convolutions do
    quickly (``small_cnn(bn=True)`` gets over 90% of a fresh sample right
    after three epochs on 2000 images): good for CNN and ResNet demos and
    benchmarks on a CPU.

    Parameters
    ----------
    n : int
        Number of images (classes differ in size by at most one).
    seed : int
        Seed of the sample; the class textures do not depend on it.
    size : int
        Height and width in pixels.
    channels : int
        Number of colour channels.
    classes : int
        Number of classes.
    noise : float
        Standard deviation of the Gaussian pixel noise.

    Returns
    -------
    X : Tensor
        Float32 in ``[0, 1]``, shape ``(n, channels, size, size)``.
    y : Tensor
        Int64 labels in ``[0, classes)``, shape ``(n,)``.

    Examples
    --------
    >>> X, y = images(16)
    >>> X.shape, y.shape
    (torch.Size([16, 3, 32, 32]), torch.Size([16]))
    """
    n = _check_n(n)
    if classes < 2 or channels < 1 or size < 4:
        raise ValueError(
            f"need classes >= 2, channels >= 1 and size >= 4, got {classes}, {channels}, {size}"
        )
    # class prototypes: orientations spread over [0, pi), two frequencies alternating
    structure = _generator(_STRUCTURE_SEED)
    orientation = (
        math.pi * (torch.arange(classes) + 0.5 * torch.rand(classes, generator=structure)) / classes
    )
    cycles = torch.where(torch.arange(classes) % 2 == 0, 3.0, 5.5)  # per image width

    gen = _generator(seed)
    y = _balanced_labels(n, classes, gen)  # (n,)
    grid = (torch.arange(size, dtype=torch.float32) + 0.5) / size - 0.5  # (size,) in [-0.5, 0.5]
    gy, gx = torch.meshgrid(grid, grid, indexing="ij")  # (size, size)
    theta, freq = orientation[y], cycles[y]  # (n,)
    phase = 2 * math.pi * torch.rand(n, generator=gen)
    # (n, size, size) position along each image's wave direction
    along = gx * torch.cos(theta)[:, None, None] + gy * torch.sin(theta)[:, None, None]
    wave = 0.5 + 0.5 * torch.sin(2 * math.pi * freq[:, None, None] * along + phase[:, None, None])
    centre = 0.3 * (2 * torch.rand(n, 2, generator=gen) - 1)  # (n, 2)
    radius = 0.2 + 0.15 * torch.rand(n, generator=gen)  # (n,)
    r2 = (gx - centre[:, 0, None, None]) ** 2 + (gy - centre[:, 1, None, None]) ** 2
    blob = torch.exp(-r2 / (2 * radius[:, None, None] ** 2))  # (n, size, size)
    bg = torch.rand(n, channels, 1, 1, generator=gen)
    fg = (bg + 0.25 + 0.5 * torch.rand(n, channels, 1, 1, generator=gen)) % 1  # |fg - bg| >= 0.25
    alpha = (wave * blob)[:, None]  # (n, 1, size, size)
    X = bg + (fg - bg) * alpha + noise * torch.randn(n, channels, size, size, generator=gen)
    return X.clamp(0, 1).float(), y.long()


# -----------------------------------------------------------------------------

#: The host torchvision downloads MNIST from (its first mirror often fails).
MNIST_HOST = "ossci-datasets.s3.amazonaws.com"


def _data_home() -> Path:
    """``<cache>/data``, ``<cache>`` chosen as :func:`mnist` chooses the folder it unpacks into."""
    if os.environ.get("LW_CACHE"):
        return Path(os.environ["LW_CACHE"]) / "data"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "landscape_widgets" / "data"


def _online(host: str = MNIST_HOST, timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def find_mnist(
    train: bool = True,
    subset: int | None = None,
    seed: int = 0,
    *,
    download: bool | None = None,
) -> tuple[tuple[Tensor, Tensor] | None, str]:
    """MNIST from wherever this machine has it, and a sentence saying where it came from.

    The notebooks read MNIST through this one function, so that they all find
    it the same way. It looks, in order:

    1. in the folder ``$LW_DATA`` names (the one holding ``MNIST/raw/``; a
       read-only folder of ``.gz`` files is fine, see :func:`mnist`);
    2. in ``<cache>/data``, where an earlier download put it (``<cache>``:
       ``$LW_CACHE``, else ``$XDG_CACHE_HOME/landscape_widgets``, else
       ``~/.cache/landscape_widgets``);
    3. on the internet: torchvision downloads it into ``<cache>/data`` when
       the machine is online (Binder is).

    Parameters
    ----------
    train, subset, seed
        As for :func:`mnist`.
    download : bool, optional
        Whether step 3 may run: None (default) when the download host answers,
        False never (offline tests), True always.

    Returns
    -------
    data : (X, y) or None
        As :func:`mnist` returns them; None when no step found MNIST.
    source : str
        ``"MNIST from <folder>"``, ``"MNIST, downloaded into <folder>"``, or
        a sentence starting ``"no MNIST"`` that says what was tried.

    Examples
    --------
    >>> data, source = find_mnist(subset=2000)  # doctest: +SKIP
    >>> print(source)  # doctest: +SKIP
    MNIST from /data
    """
    tried = []
    home = _data_home()
    folders = [os.environ["LW_DATA"]] if os.environ.get("LW_DATA") else []
    for folder in [*folders, home]:
        try:
            return mnist(folder, train, subset=subset, seed=seed), f"MNIST from {folder}"
        except (FileNotFoundError, RuntimeError):
            tried.append(str(folder))
    where = f"not in {' nor in '.join(tried)}"
    if download is None:
        download = _online()
        if not download:
            return None, f"no MNIST: {where}, and {MNIST_HOST} cannot be reached to download it"
    if not download:
        return None, f"no MNIST: {where} (downloading is off)"
    try:
        data = mnist(home, train, download=True, subset=subset, seed=seed)
    except (RuntimeError, OSError) as err:
        return None, f"no MNIST: {where}, and the download failed ({err})"
    return data, f"MNIST, downloaded into {home}"


def split(
    X: Tensor, y: Tensor, test_fraction: float = 0.2, seed: int = 0
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """Shuffle ``(X, y)`` with ``seed`` and cut it into a training and a test part.

    Parameters
    ----------
    X, y : Tensor
        Inputs and targets with the same first dimension.
    test_fraction : float
        Fraction of the points, strictly between 0 and 1, that go to the test
        part (rounded, at least one point on each side).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuples of Tensor

    Examples
    --------
    >>> (Xtr, ytr), (Xte, yte) = split(*spirals(100), test_fraction=0.25)
    >>> len(Xtr), len(Xte)
    (75, 25)
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    if len(X) < 2:
        raise ValueError(f"need at least 2 points to split, got {len(X)}")
    n_test = min(max(round(len(X) * test_fraction), 1), len(X) - 1)
    order = torch.randperm(len(X), generator=_generator(seed))
    test, train = order[:n_test], order[n_test:]
    return (X[train], y[train]), (X[test], y[test])
