"""MNIST, Fashion-MNIST and CIFAR-10 read from their standard files, as two tensors.

The loaders read the files through ``torchvision.datasets`` and hand back
the whole split (or a seeded subset of it) as ``(X, y)``, which is what a
loss landscape wants: the same fixed evaluation set at every grid point.
:mod:`landscape_widgets.datasets` offers them beside the built-in sets.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

Tensor = torch.Tensor
Root = str | os.PathLike  # the folder torchvision keeps a data set's files under

__all__ = ["cifar10", "fashion_mnist", "mnist"]

_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")


def mnist(
    root: Root, train: bool = True, download: bool = False, subset: int | None = None, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """MNIST as two tensors, read with ``torchvision.datasets.MNIST``.

    Parameters
    ----------
    root : path
        The folder holding ``MNIST/raw/`` (torchvision's layout).
    train : bool
        The 60000-image training split, or the 10000-image test split.
    download : bool
        Download the files when they are missing (needs internet).
    subset : int, optional
        Keep this many images, drawn without replacement with ``seed`` (in
        their original order).
    seed : int
        Seed of the subset.

    Returns
    -------
    X : Tensor
        Float32 in ``[0, 1]``, shape ``(n, 1, 28, 28)``.
    y : Tensor
        Int64 labels, shape ``(n,)``.

    Raises
    ------
    FileNotFoundError
        If the files are absent and ``download`` is False.

    Examples
    --------
    >>> X, y = mnist("data", subset=1000)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    torch.Size([1000, 1, 28, 28])
    """
    return _mnist_like("MNIST", root, train, download, subset, seed)


def fashion_mnist(
    root: Root, train: bool = True, download: bool = False, subset: int | None = None, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST as two tensors, read with ``torchvision.datasets.FashionMNIST``.

    Same arguments and results as :func:`mnist`; the files live in
    ``root/FashionMNIST/raw/``.

    Examples
    --------
    >>> X, y = fashion_mnist("data", train=False)  # doctest: +SKIP
    >>> len(X), y.unique().tolist()  # doctest: +SKIP
    (10000, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    return _mnist_like("FashionMNIST", root, train, download, subset, seed)


def cifar10(
    root: Root, train: bool = True, download: bool = False, subset: int | None = None, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """CIFAR-10 as two tensors, read with ``torchvision.datasets.CIFAR10``.

    Takes the arguments of :func:`mnist` and returns the same kind of
    tensors, with images of shape ``(3, 32, 32)``. ``root`` holds
    ``cifar-10-batches-py/`` (torchvision's layout); the training split has
    50000 images, the test split 10000. Missing files raise
    ``FileNotFoundError`` unless ``download`` is True; files whose checksums
    are wrong make torchvision raise ``RuntimeError``.

    Examples
    --------
    >>> X, y = cifar10("data", train=False, subset=500)  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    (torch.Size([500, 3, 32, 32]), torch.float32)
    """
    from torchvision.datasets import CIFAR10  # heavy, and needed by the loaders alone

    hint = (
        "unpack cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
        f"into {Path(root)}"
    )
    folder = Path(root) / CIFAR10.base_folder
    ds = _open_split(CIFAR10, "CIFAR-10", root, folder, _CIFAR10_FILES, hint, train, download)
    X = torch.from_numpy(ds.data).permute(0, 3, 1, 2).to(torch.float32).div_(255)  # (N, 3, 32, 32)
    y = torch.as_tensor(ds.targets, dtype=torch.long)  # (N,)
    return _subsample(X.contiguous(), y, subset, seed)


def _mnist_like(cls_name: str, root, train: bool, download: bool, subset: int | None, seed: int):
    # heavy, and needed by the loaders alone
    from torchvision import datasets as tvd
    from torchvision.datasets.utils import extract_archive

    raw = Path(root) / cls_name / "raw"
    # torchvision reads the uncompressed idx files; unpack .gz copies placed by hand.
    for name in _MNIST_FILES:
        if not (raw / name).is_file() and (raw / f"{name}.gz").is_file():
            extract_archive(str(raw / f"{name}.gz"), str(raw))
    hint = f"copy the four files {', '.join(_MNIST_FILES)} (or their .gz versions) into {raw}"
    cls = getattr(tvd, cls_name)
    ds = _open_split(cls, cls_name, root, raw, _MNIST_FILES, hint, train, download)
    X = ds.data.to(torch.float32).div_(255).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.as_tensor(ds.targets, dtype=torch.long)  # (N,)
    return _subsample(X, y, subset, seed)


def _open_split(cls, name: str, root, folder: Path, files, hint: str, train: bool, download: bool):
    """torchvision's ``cls`` over ``root``, after checking that ``files`` are in ``folder``."""
    missing = [f for f in files if not (folder / f).is_file()]
    if missing and not download:
        raise FileNotFoundError(
            f"{name} is not in {folder}: missing {', '.join(missing)}. Call with download=True "
            f"(needs internet), or {hint}."
        )
    return cls(root=os.fspath(root), train=train, download=download)


def _subsample(X: Tensor, y: Tensor, subset: int | None, seed: int) -> tuple[Tensor, Tensor]:
    if subset is None:
        return X, y
    if int(subset) != subset or subset < 1:
        raise ValueError(f"subset must be a positive integer or None, got {subset!r}")
    if subset > len(X):
        raise ValueError(f"subset={subset} is larger than the split's {len(X)} points")
    generator = torch.Generator().manual_seed(int(seed))
    keep = torch.randperm(len(X), generator=generator)[: int(subset)].sort().values
    return X[keep], y[keep]
