"""MNIST, Fashion-MNIST and CIFAR-10 read from their standard files, as two tensors.

The loaders read the files through ``torchvision.datasets`` and hand back
the whole split (or a seeded subset of it) as ``(X, y)``, which is what a
loss landscape wants: the same fixed evaluation set at every grid point.
:mod:`landscape_widgets.datasets` offers them beside the built-in sets.

MNIST and Fashion-MNIST are often shipped as the four gzipped IDX files
alone, in a folder that may be read-only (a shared data set, a mounted
volume). torchvision reads only the uncompressed files, so the loaders
decompress the ``.gz`` files into a cache folder of their own and point
torchvision there; the data folder is never written to.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import uuid
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
    root: Root,
    train: bool = True,
    download: bool = False,
    subset: int | None = None,
    seed: int = 0,
    cache: Root | None = None,
) -> tuple[Tensor, Tensor]:
    """MNIST as two tensors, read with ``torchvision.datasets.MNIST``.

    Parameters
    ----------
    root : path
        The folder holding ``MNIST/raw/`` (torchvision's layout) with the four
        IDX files, uncompressed or as their ``.gz`` versions. It is only read
        (unless ``download`` has to fetch missing files into it).
    train : bool
        The 60000-image training split, or the 10000-image test split.
    download : bool
        Download the files when they are missing (needs internet).
    subset : int, optional
        Keep this many images, drawn without replacement with ``seed`` (in
        their original order).
    seed : int
        Seed of the subset.
    cache : path, optional
        Where ``.gz`` files are decompressed (into a subfolder per data
        folder, redone when a ``.gz`` file changes). By default ``$LW_CACHE``,
        else ``$XDG_CACHE_HOME/landscape_widgets``, else
        ``~/.cache/landscape_widgets``.

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
    return _mnist_like("MNIST", root, train, download, subset, seed, cache)


def fashion_mnist(
    root: Root,
    train: bool = True,
    download: bool = False,
    subset: int | None = None,
    seed: int = 0,
    cache: Root | None = None,
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
    return _mnist_like("FashionMNIST", root, train, download, subset, seed, cache)


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


def _mnist_like(
    cls_name: str, root, train: bool, download: bool, subset: int | None, seed: int, cache
):
    # heavy, and needed by the loaders alone
    from torchvision import datasets as tvd

    raw = Path(root) / cls_name / "raw"
    read_from = root
    files_there = [(raw / name).is_file() for name in _MNIST_FILES]
    gz_there = [(raw / f"{name}.gz").is_file() for name in _MNIST_FILES]
    if not all(files_there) and all(f or g for f, g in zip(files_there, gz_there, strict=True)):
        # torchvision reads uncompressed files only: unpack into our cache
        read_from = _unpacked(raw, cls_name, cache)
    hint = f"copy the four files {', '.join(_MNIST_FILES)} (or their .gz versions) into {raw}"
    cls = getattr(tvd, cls_name)
    folder = Path(read_from) / cls_name / "raw"
    ds = _open_split(cls, cls_name, read_from, folder, _MNIST_FILES, hint, train, download)
    X = ds.data.to(torch.float32).div_(255).unsqueeze(1)  # (N, 1, 28, 28)
    y = torch.as_tensor(ds.targets, dtype=torch.long)  # (N,)
    return _subsample(X, y, subset, seed)


def _cache_folder(cache: Root | None = None) -> Path:
    """The folder the loaders unpack into: ``cache``, else ``$LW_CACHE``, else
    ``$XDG_CACHE_HOME/landscape_widgets``, else ``~/.cache/landscape_widgets``."""
    if cache is not None:
        return Path(cache)
    if os.environ.get("LW_CACHE"):
        return Path(os.environ["LW_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "landscape_widgets"


def _unpacked(raw: Path, cls_name: str, cache) -> Path:
    """A root in the cache whose ``cls_name/raw`` holds the four files of ``raw``, uncompressed.

    One subfolder per data folder (named by a hash of its path). A ``.gz`` file
    is decompressed again when its size or modification time changes; files
    already uncompressed in ``raw`` are linked. Each file is written under a
    temporary name and renamed, so concurrent loaders never read half a file.
    """
    key = hashlib.sha256(str(raw.resolve()).encode()).hexdigest()[:16]
    root = _cache_folder(cache) / f"{cls_name}-{key}"
    out = root / cls_name / "raw"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(
            f"cannot create the cache folder {out} to unpack {raw}/*.gz into ({err}); "
            "pass cache= (or set LW_CACHE to) a writable folder"
        ) from err
    for name in _MNIST_FILES:
        src, dst = raw / name, out / name
        if src.is_file():
            if not (dst.is_symlink() and dst.resolve() == src.resolve()):
                _replace(dst, lambda tmp, src=src: tmp.symlink_to(src.resolve()))
            continue
        gz = raw / f"{name}.gz"
        stat = gz.stat()
        stamp_file = out / f"{name}.source"
        stamp = f"{gz.resolve()}\n{stat.st_size}\n{stat.st_mtime_ns}\n"
        if dst.is_file() and not dst.is_symlink() and _read(stamp_file) == stamp:
            continue

        def unpack(tmp, gz=gz):
            try:
                with gzip.open(gz, "rb") as f, open(tmp, "wb") as g:
                    shutil.copyfileobj(f, g, 1 << 20)
            except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
                raise OSError(f"cannot decompress {gz}: {err}") from err

        _replace(dst, unpack)
        _replace(stamp_file, lambda tmp, stamp=stamp: tmp.write_text(stamp))
    return root


def _replace(path: Path, write) -> None:
    """``write(tmp)`` to a temporary name beside ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.is_file() or tmp.is_symlink():
            tmp.unlink()


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


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
