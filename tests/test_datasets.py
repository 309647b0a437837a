import gzip
import hashlib
import pickle
import struct

import numpy as np
import pytest
import torch
import torchvision

from landscape_widgets import datasets
from landscape_widgets.datasets import (
    cifar10,
    digits,
    fashion_mnist,
    images,
    mnist,
    moons,
    regression1d,
    spirals,
    split,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def nearest_neighbour_accuracy(X_train, y_train, X_test, y_test):
    nearest = torch.cdist(X_test, X_train).argmin(dim=1)
    return (y_train[nearest] == y_test).float().mean().item()


def least_squares_accuracy(X_train, y_train, X_test, y_test, classes):
    """A linear classifier fitted by least squares on one-hot targets."""

    def design(X):
        return torch.cat([X, torch.ones(len(X), 1)], dim=1).double()

    targets = torch.nn.functional.one_hot(y_train, classes).double()
    W = torch.linalg.lstsq(design(X_train), targets).solution
    return ((design(X_test) @ W).argmax(1) == y_test).float().mean().item()


# -----------------------------------------------------------------------------
# spirals and moons


@pytest.mark.parametrize("classes", [2, 3])
def test_spirals_shape_balance_and_standardisation(classes):
    X, y = spirals(301, seed=0, classes=classes)
    assert X.shape == (301, 2) and X.dtype == torch.float32
    assert y.shape == (301,) and y.dtype == torch.int64
    counts = y.bincount(minlength=classes)
    assert len(counts) == classes and counts.max() - counts.min() <= 1
    assert torch.allclose(X.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(X.std(0), torch.ones(2), atol=1e-5)


def test_spirals_deterministic_per_seed_and_different_across_seeds():
    a, b, c = spirals(200, seed=3), spirals(200, seed=3), spirals(200, seed=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.allclose(a[0], c[0])


def test_spirals_are_interleaved_arms_shared_by_all_seeds():
    train, test = spirals(1000, seed=0), spirals(1000, seed=1)
    # the arms are the same curves for every seed, so nearest neighbours transfer ...
    assert nearest_neighbour_accuracy(*train, *test) > 0.97
    # ... but no straight line separates them
    assert least_squares_accuracy(*train, *test, classes=2) < 0.75


def test_spirals_noise_blurs_the_arms():
    def transfer(noise):
        return nearest_neighbour_accuracy(
            *spirals(1000, noise=noise, seed=0), *spirals(1000, noise=noise, seed=1)
        )

    assert transfer(0.0) > 0.99  # thin curves: neighbours always on the same arm
    assert transfer(0.3) < 0.85  # arms 0.5 apart (in units of the outer radius) start to mix


def test_moons_without_noise_lie_on_two_half_circles():
    X, y = moons(400, noise=0.0, seed=1)
    raw = X + torch.tensor([0.5, 0.25])
    upper, lower = raw[y == 0], raw[y == 1] - torch.tensor([1.0, 0.5])
    assert torch.allclose(upper.norm(dim=1), torch.ones(len(upper)), atol=1e-5)
    assert torch.allclose(lower.norm(dim=1), torch.ones(len(lower)), atol=1e-5)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 1e-6).all()
    assert y.bincount().tolist() == [200, 200]


def test_moons_deterministic_and_learnable_but_not_linear():
    assert torch.equal(moons(100, seed=2)[0], moons(100, seed=2)[0])
    assert not torch.equal(moons(100, seed=2)[0], moons(100, seed=3)[0])
    train, test = moons(1000, seed=0), moons(1000, seed=1)
    assert nearest_neighbour_accuracy(*train, *test) > 0.95
    assert least_squares_accuracy(*train, *test, classes=2) < 0.92


# -----------------------------------------------------------------------------
# 1-D regression


def test_regression1d_has_its_gap_and_two_equal_clusters():
    X, y = regression1d(500, seed=0)
    assert X.shape == (500, 1) and y.shape == (500, 1)
    assert X.dtype == torch.float32 and y.dtype == torch.float32
    x = X[:, 0]
    (lo1, hi1), (lo2, hi2) = datasets.REGRESSION1D_CLUSTERS
    left = (x >= lo1) & (x <= hi1)
    right = (x >= lo2) & (x <= hi2)
    assert (left | right).all()
    assert left.sum() == 250 and right.sum() == 250
    assert not ((x > hi1) & (x < lo2)).any()  # the gap is empty
    assert lo2 - hi1 >= 0.5  # and wide


def test_regression1d_targets_follow_the_smooth_function():
    X, y = regression1d(2000, noise=0.0, seed=5)
    x = X[:, 0].double().numpy()
    np.testing.assert_allclose(y[:, 0].numpy(), np.sin(3 * x) + 0.5 * x, rtol=1e-5, atol=1e-5)
    X2, y2 = regression1d(2000, noise=0.2, seed=5)
    residual = y2[:, 0].double().numpy() - (
        np.sin(3 * X2[:, 0].double().numpy()) + 0.5 * X2[:, 0].double().numpy()
    )
    assert abs(residual.std() - 0.2) < 0.02 and abs(residual.mean()) < 0.02


def test_regression1d_deterministic_per_seed():
    assert torch.equal(regression1d(50, seed=1)[1], regression1d(50, seed=1)[1])
    assert not torch.equal(regression1d(50, seed=1)[1], regression1d(50, seed=2)[1])


# -----------------------------------------------------------------------------
# synthetic digits and images


def test_segment_distance_matches_dense_sampling():
    gen = torch.Generator().manual_seed(0)
    p = torch.rand(50, 2, generator=gen) * 2 - 1
    a = torch.rand(3, 4, 2, generator=gen) * 2 - 1
    b = torch.rand(3, 4, 2, generator=gen) * 2 - 1
    b[0, 0] = a[0, 0]  # a degenerate segment is a point
    got = datasets._segment_distance(p, a, b)
    s = torch.linspace(0, 1, 5001)
    along = a[..., None, :] + s[:, None] * (b - a)[..., None, :]  # (3, 4, 5001, 2)
    brute = torch.cdist(along.reshape(12, -1, 2).double(), p.double()[None].expand(12, -1, -1))
    brute = brute.amin(dim=1).reshape(3, 4, 50)
    assert torch.allclose(got.double(), brute, atol=5e-4)  # half a sampling step


def test_digits_shape_range_balance_and_determinism():
    X, y = digits(205, seed=0)
    assert X.shape == (205, 1, 28, 28) and X.dtype == torch.float32
    assert X.min() >= 0 and X.max() <= 1
    assert y.dtype == torch.int64 and y.bincount(minlength=10).tolist() == [21] * 5 + [20] * 5
    X2, y2 = digits(205, seed=0)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert not torch.equal(X, digits(205, seed=1)[0])
    assert digits(4, size=16)[0].shape == (4, 1, 16, 16)


def test_digits_have_ink_where_the_glyphs_are():
    X, y = digits(400, noise=0.0, seed=0)
    ink = X.flatten(1).sum(1)
    assert (ink > 15).all()  # every image has a drawn digit
    width = (X[:, 0].amax(dim=1) > 0.5).sum(dim=1).float()  # columns holding ink
    # a "1" is one (slanted) stroke, every other digit is much wider
    for c in [0, *range(2, 10)]:
        assert width[y == 1].mean() < 0.7 * width[y == c].mean()


def test_digits_learnable_well_above_chance_by_a_small_mlp():
    torch.manual_seed(0)
    X, y = digits(2000, seed=0)
    Xt, yt = digits(1000, seed=1)
    net = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    order = torch.Generator().manual_seed(0)
    for _ in range(2):
        for idx in torch.randperm(len(X), generator=order).split(64):
            loss = torch.nn.functional.cross_entropy(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        accuracy = (net(Xt).argmax(1) == yt).float().mean().item()
    assert accuracy > 0.5  # chance is 0.1
    # and not trivially separable by a nearest class mean
    means = torch.stack([X[y == c].flatten(1).mean(0) for c in range(10)])
    nearest_mean = (torch.cdist(Xt.flatten(1), means).argmin(1) == yt).float().mean().item()
    assert nearest_mean < 0.9


def test_images_shape_range_balance_and_determinism():
    X, y = images(64, seed=0)
    assert X.shape == (64, 3, 32, 32) and X.dtype == torch.float32
    assert X.min() >= 0 and X.max() <= 1
    assert y.bincount(minlength=10).tolist() == [7] * 4 + [6] * 6
    assert torch.equal(X, images(64, seed=0)[0])
    assert not torch.equal(X, images(64, seed=1)[0])
    X1, y1 = images(10, size=16, channels=1, classes=4)
    assert X1.shape == (10, 1, 16, 16) and int(y1.max()) < 4


def test_images_classes_are_textures_not_colours():
    X, y = images(1000, seed=0)
    Xt, yt = images(500, seed=1)

    def spectrum(images_):  # orientation and frequency of the pattern, blind to phase and position
        grey = images_.mean(1)
        grey = grey - grey.mean(dim=(1, 2), keepdim=True)
        return torch.fft.fft2(grey).abs().log1p().flatten(1)

    def nearest_centroid(features, features_test):
        centroids = torch.stack([features[y == c].mean(0) for c in range(10)])
        return (torch.cdist(features_test, centroids).argmin(1) == yt).float().mean().item()

    assert nearest_centroid(spectrum(X), spectrum(Xt)) > 0.6
    colour, colour_test = X.mean(dim=(2, 3)), Xt.mean(dim=(2, 3))
    assert nearest_centroid(colour, colour_test) < 0.25  # colour alone is about chance


# -----------------------------------------------------------------------------
# split


def test_split_partitions_the_rows():
    X = torch.arange(50.0)[:, None].repeat(1, 3)
    y = torch.arange(50)
    (Xtr, ytr), (Xte, yte) = split(X, y, test_fraction=0.2, seed=1)
    assert len(Xte) == 10 and len(Xtr) == 40
    assert sorted(torch.cat([ytr, yte]).tolist()) == list(range(50))
    assert torch.equal(Xtr[:, 0].long(), ytr) and torch.equal(Xte[:, 0].long(), yte)
    (_, ytr2), _ = split(X, y, test_fraction=0.2, seed=1)
    (_, ytr3), _ = split(X, y, test_fraction=0.2, seed=2)
    assert torch.equal(ytr, ytr2) and not torch.equal(ytr, ytr3)


def test_split_errors():
    with pytest.raises(ValueError, match="rows"):
        split(torch.zeros(3, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="test_fraction"):
        split(torch.zeros(3, 2), torch.zeros(3), test_fraction=1.0)


def test_builtin_sets_reject_bad_sizes():
    with pytest.raises(ValueError):
        spirals(0)
    with pytest.raises(ValueError):
        spirals(10, classes=1)
    with pytest.raises(ValueError):
        digits(-1)


# -----------------------------------------------------------------------------
# torchvision loaders on fake files in torchvision's own on-disk formats


def write_idx(path, array, gz=False):
    """An idx-ubyte file: magic (0, 0, 0x08 = uint8, ndim), big-endian dims, bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def write_fake_mnist(root, folder, n_train=12, n_test=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    split_ = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pixels = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", pixels, gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, gz)
        split_[prefix] = (pixels, labels)
    return split_


@pytest.mark.parametrize("loader, folder", [(mnist, "MNIST"), (fashion_mnist, "FashionMNIST")])
def test_mnist_like_loaders_read_idx_files(tmp_path, loader, folder):
    written = write_fake_mnist(tmp_path, folder)
    for train, prefix in ((True, "train"), (False, "t10k")):
        X, y = loader(tmp_path, train=train)
        pixels, labels = written[prefix]
        assert X.shape == (len(pixels), 1, 28, 28) and X.dtype == torch.float32
        assert X.min() >= 0 and X.max() <= 1
        np.testing.assert_array_equal((X[:, 0] * 255).round().to(torch.uint8).numpy(), pixels)
        np.testing.assert_array_equal(y.numpy(), labels.astype(np.int64))
        assert y.dtype == torch.int64


def test_mnist_subset_is_seeded_and_keeps_pairs(tmp_path):
    pixels, labels = write_fake_mnist(tmp_path, "MNIST", n_train=30)["train"]
    X, y = mnist(tmp_path, subset=7, seed=3)
    assert len(X) == 7
    assert torch.equal(X, mnist(tmp_path, subset=7, seed=3)[0])
    assert not torch.equal(X, mnist(tmp_path, subset=7, seed=4)[0])
    # every kept image is one of the written ones, with its own label
    flat = pixels.reshape(30, -1)
    for image, label in zip(
        (X[:, 0] * 255).round().to(torch.uint8).numpy(), y.numpy(), strict=True
    ):
        rows = np.flatnonzero((flat == image.reshape(-1)).all(axis=1))
        assert len(rows) == 1 and labels[rows[0]] == label
    with pytest.raises(ValueError, match="subset"):
        mnist(tmp_path, subset=31)


def listing(root):
    """Every path under ``root`` with its size and modification time."""
    return {
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def test_mnist_reads_gzipped_files_placed_by_hand(tmp_path):
    root, cache = tmp_path / "data", tmp_path / "cache"
    pixels, labels = write_fake_mnist(root, "MNIST", gz=True)["t10k"]
    before = listing(root)
    X, y = mnist(root, train=False, cache=cache)
    np.testing.assert_array_equal((X[:, 0] * 255).round().to(torch.uint8).numpy(), pixels)
    np.testing.assert_array_equal(y.numpy(), labels)
    assert listing(root) == before  # decompressed into the cache, not beside the .gz files
    assert sorted(p.name for p in cache.rglob("*-ubyte")) == sorted(
        f"{s}-{k}-idx{d}-ubyte"
        for s in ("train", "t10k")
        for k, d in (("images", 3), ("labels", 1))
    )


def test_mnist_from_a_read_only_folder_of_gz_files(tmp_path, monkeypatch):
    root = tmp_path / "data"
    written = write_fake_mnist(root, "MNIST", n_train=9, n_test=4, gz=True)
    raw = root / "MNIST" / "raw"
    for folder in (raw, raw.parent, root):
        folder.chmod(0o555)
    before = listing(root)
    monkeypatch.setenv("LW_CACHE", str(tmp_path / "env-cache"))
    try:
        X, y = mnist(root)  # the cache from LW_CACHE
        np.testing.assert_array_equal(
            (X[:, 0] * 255).round().to(torch.uint8).numpy(), written["train"][0]
        )
        np.testing.assert_array_equal(y.numpy(), written["train"][1])
        assert listing(root) == before
        assert len(list((tmp_path / "env-cache").rglob("train-images-idx3-ubyte"))) == 1
        # a .gz file that changes is decompressed again
        for folder in (root, raw.parent, raw):
            folder.chmod(0o755)
        (raw / "t10k-labels-idx1-ubyte.gz").unlink()
        new_labels = (written["t10k"][1] + 1) % 10
        write_idx(raw / "t10k-labels-idx1-ubyte", new_labels, gz=True)
        _, y = mnist(root, train=False)
        np.testing.assert_array_equal(y.numpy(), new_labels)
    finally:
        for folder in (root, raw.parent, raw):
            folder.chmod(0o755)


def test_a_cache_that_cannot_be_written_is_reported(tmp_path):
    root = tmp_path / "data"
    write_fake_mnist(root, "MNIST", gz=True)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(OSError, match="cache="):
        mnist(root, cache=blocked)


def test_a_broken_gz_file_is_named(tmp_path):
    root = tmp_path / "data"
    write_fake_mnist(root, "MNIST", gz=True)
    (root / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(OSError, match="train-labels-idx1-ubyte.gz"):
        mnist(root, cache=tmp_path / "cache")


def test_the_shared_mnist_copy(tmp_path, shared_mnist):
    """The real files: decompressed bytes with the README's checksums, the usual sizes."""
    root = shared_mnist
    X, y = mnist(root, cache=tmp_path)
    Xt, yt = mnist(root, train=False, cache=tmp_path)
    assert X.shape == (60000, 1, 28, 28) and Xt.shape == (10000, 1, 28, 28)
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the well-known first labels
    readme = (root / "README.md").read_text()
    assert len(list(tmp_path.rglob("*-ubyte"))) == 4
    for path in tmp_path.rglob("*-ubyte"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"| {path.name} | {path.stat().st_size} | {digest} |" in readme


def test_missing_files_raise_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="FashionMNIST"):
        fashion_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        cifar10(tmp_path)


def write_fake_cifar10(root, per_batch=4, seed=0):
    """torchvision's layout: pickled dicts of uint8 rows (1024 R, 1024 G, 1024 B values)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name.encode(), "data": data, "labels": labels}, f)
        batches[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_vis": 3072}, f)
    return folder, batches


def md5_of(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_cifar10(tmp_path, monkeypatch):
    """Fake CIFAR-10 files, with torchvision told their checksums.

    torchvision verifies every batch against the md5 of the real CIFAR-10
    files; pointing its lists at the md5 of the fake files keeps that check
    running on what we wrote instead of switching it off.
    """
    folder, batches = write_fake_cifar10(tmp_path)
    CIFAR10 = torchvision.datasets.CIFAR10
    monkeypatch.setattr(
        CIFAR10, "train_list", [[name, md5_of(folder / name)] for name, _ in CIFAR10.train_list]
    )
    monkeypatch.setattr(
        CIFAR10, "test_list", [[name, md5_of(folder / name)] for name, _ in CIFAR10.test_list]
    )
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5_of(folder / "batches.meta")})
    return tmp_path, batches


def test_cifar10_loader_reads_pickled_batches(fake_cifar10):
    root, batches = fake_cifar10
    X, y = cifar10(root, train=True)
    data = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    labels = sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert X.shape == (20, 3, 32, 32) and X.dtype == torch.float32
    assert y.tolist() == labels and y.dtype == torch.int64
    # pixel (c, h, w) of image i is byte c * 1024 + h * 32 + w of row i
    pixels = (X * 255).round().to(torch.uint8).numpy()
    for i, c, h, w in [(0, 0, 0, 0), (3, 1, 5, 7), (19, 2, 31, 30), (10, 2, 0, 31)]:
        assert pixels[i, c, h, w] == data[i, c * 1024 + h * 32 + w]
    np.testing.assert_array_equal(pixels.reshape(20, 3072), data)

    Xt, yt = cifar10(root, train=False)
    np.testing.assert_array_equal(
        (Xt * 255).round().to(torch.uint8).numpy().reshape(4, 3072), batches["test_batch"][0]
    )
    assert yt.tolist() == batches["test_batch"][1]

    Xs, ys = cifar10(root, subset=5, seed=1)
    assert Xs.shape == (5, 3, 32, 32) and torch.equal(Xs, cifar10(root, subset=5, seed=1)[0])


def test_cifar10_corrupted_files_are_reported_by_torchvision(tmp_path):
    write_fake_cifar10(tmp_path)  # the real checksums do not match these files
    with pytest.raises(RuntimeError, match="corrupted"):
        cifar10(tmp_path)
