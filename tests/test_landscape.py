"""The grid evaluator against a plain per-point loop written here."""

import copy
import threading

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from landscape_widgets import (
    STRATEGIES,
    Landscape,
    Line,
    Plane,
    Profile,
    StrategyUnavailable,
    Surface,
    models,
)


def reference_grid(model, loss_fn, X, y, target, xs, ys=None, recompute_bn=False):
    """The obvious way: write each point's weights into a copy, one forward, the loss."""
    net = copy.deepcopy(model).eval()
    loss = np.zeros((1 if ys is None else len(ys), len(xs)))
    acc = np.zeros_like(loss)
    classes = y if y.dim() == 1 else y.argmax(1)
    with torch.no_grad():
        for i, yv in enumerate([0.0] if ys is None else ys):
            for j, xv in enumerate(xs):
                if ys is None:
                    w = target.point(float(xv))
                else:
                    w = target.origin + float(xv) * target.u + float(yv) * target.v
                nn.utils.vector_to_parameters(w, net.parameters())
                if recompute_bn:
                    update_bn([X.clone()], net)
                    net.eval()
                out = net(X.clone())  # a model may modify its input in place
                loss[i, j] = loss_fn(out, y).item()
                acc[i, j] = (out.argmax(1) == classes).float().mean().item()
    return loss, acc


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
    )


def teaching(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(36, 12, bias=False),
        nn.Sigmoid(),
        nn.Linear(12, 20, bias=False),
        nn.Sigmoid(),
        nn.Linear(20, 4, bias=False),
    )


def cnn(seed=0, bn=True):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6) if bn else nn.Identity(),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 4),
    )


class TinyResNet(nn.Module):
    """Not a Sequential: a residual block and BatchNorm, as in ResNets."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Linear(4, 4)

    def forward(self, x):
        h = torch.relu(self.bn(self.stem(x)))
        h = h + torch.relu(self.conv(h))
        return self.head(h.mean(dim=(2, 3)))


def data_2d(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=g)
    return X, (X[:, 0] > X[:, 1]).long() + (X[:, 0] > 1).long()


def data_img(n=40, seed=0, size=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, 4, (n,), generator=g)


def perturbed(model, scale=0.3, seed=1):
    """A few BN statistics that differ from the defaults, so 'keep' vs 'recompute' matters."""
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.copy_(scale * torch.randn(mod.num_features, generator=g))
            mod.running_var.copy_(1 + scale * torch.rand(mod.num_features, generator=g))
    return m


def check_all_strategies(
    model, loss_fn, X, y, plane, res=5, bounds=None, expect=(), rtol=2e-5, **kw
):
    ls = Landscape(model, loss_fn, (X, y), subset=None, **kw)
    ran = set()
    first = None
    for strategy in STRATEGIES:
        try:
            s = ls.evaluate(plane, resolution=res, bounds=bounds, strategy=strategy)
        except StrategyUnavailable:
            continue
        ran.add(strategy)
        first = first or s
        ref_loss, ref_acc = reference_grid(
            model, loss_fn, X, y, plane, s.x, s.y, recompute_bn=kw.get("bn") == "recompute"
        )
        np.testing.assert_allclose(s.loss, ref_loss, rtol=rtol, atol=2e-6, err_msg=strategy)
        np.testing.assert_allclose(s.metrics["accuracy"], ref_acc, atol=1e-6, err_msg=strategy)
        assert s.provenance["strategy"] == strategy
    assert set(expect) <= ran, f"expected {expect} to run, ran {ran}"
    auto = ls.evaluate(plane, resolution=res, bounds=bounds)
    np.testing.assert_allclose(auto.loss, first.loss, rtol=2e-5, atol=2e-6)
    assert auto.provenance["strategy"] in ran
    return ran


def test_mlp_every_strategy_equals_the_loop():
    X, y = data_2d()
    net = mlp()
    ran = check_all_strategies(
        net,
        nn.CrossEntropyLoss(),
        X,
        y,
        Plane.random(net, seed=1),
        res=6,
        expect=("loop", "vmap", "affine", "tiled"),
    )
    assert "partial" not in ran


def test_teaching_mlp_mse_one_hot():
    g = torch.Generator().manual_seed(2)
    X = torch.rand(60, 1, 6, 6, generator=g)
    labels = torch.randint(0, 4, (60,), generator=g)
    y = nn.functional.one_hot(labels, 4).float()
    net = teaching()
    check_all_strategies(
        net,
        nn.MSELoss(),
        X,
        y,
        Plane.random(net, seed=0),
        res=5,
        expect=("loop", "vmap", "affine", "tiled"),
    )


@pytest.mark.parametrize(
    "a, b",
    [
        (("1.weight", (3, 7)), ("1.weight", (3, 20))),  # one unit, first layer: rank-one path
        (("5.weight", (2, 4)), ("5.weight", (2, 9))),  # one unit, last layer
        (("3.weight", (1, 2)), ("5.weight", (0, 1))),  # two layers: general path
    ],
)
def test_weights_plane_partial_equals_the_loop(a, b):
    g = torch.Generator().manual_seed(3)
    X = torch.rand(50, 1, 6, 6, generator=g)
    y = nn.functional.one_hot(torch.randint(0, 4, (50,), generator=g), 4).float()
    net = teaching()
    plane = Plane.weights(net, a, b)
    ax, ay = plane.anchors["theta"]
    check_all_strategies(
        net,
        nn.MSELoss(),
        X,
        y,
        plane,
        res=5,
        bounds=(ax - 2, ax + 2, ay - 2, ay + 2),
        expect=("loop", "partial"),
    )


def test_weights_plane_with_bias_entries():
    X, y = data_2d()
    net = mlp()
    plane = Plane.weights(net, ("2.bias", (5,)), ("2.weight", (5, 3)))
    ax, ay = plane.anchors["theta"]
    check_all_strategies(
        net,
        nn.CrossEntropyLoss(),
        X,
        y,
        plane,
        res=4,
        bounds=(ax - 1, ax + 1, ay - 1, ay + 1),
        expect=("partial",),
    )


@pytest.mark.parametrize("a", [("4.weight", (1, 3)), ("4.bias", (1,))])
def test_weights_plane_on_an_output_unit_with_cross_entropy(a):
    # the output unit's loss is updated from the other columns: across this
    # window the predicted class changes, so accuracy takes many values
    X, y = data_2d()
    net = mlp()
    plane = Plane.weights(net, a, ("4.weight", (1, 7)))
    ax, ay = plane.anchors["theta"]
    bounds = (ax - 6, ax + 6, ay - 6, ay + 6)
    check_all_strategies(
        net, nn.CrossEntropyLoss(), X, y, plane, res=7, bounds=bounds, expect=("partial",)
    )
    s = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None).evaluate(
        plane, resolution=7, bounds=bounds, strategy="partial"
    )
    assert len(np.unique(s.metrics["accuracy"])) > 3


@pytest.mark.parametrize("bn", ["keep", "recompute"])
def test_cnn_with_batchnorm_both_policies(bn):
    X, y = data_img()
    net = perturbed(cnn())
    expect = ("loop", "vmap", "affine") if bn == "keep" else ("loop",)
    ran = check_all_strategies(
        net, nn.CrossEntropyLoss(), X, y, Plane.random(net, seed=2), res=4, expect=expect, bn=bn
    )
    if bn == "recompute":
        assert ran == {"loop"}


def test_bn_policies_differ_and_recompute_uses_the_data():
    X, y = data_img()
    net = perturbed(cnn(), scale=2.0)
    plane = Plane.random(net, seed=0)
    keep = Landscape(net, nn.CrossEntropyLoss(), (X, y), bn="keep").evaluate(plane, resolution=3)
    rec = Landscape(net, nn.CrossEntropyLoss(), (X, y), bn="recompute").evaluate(
        plane, resolution=3
    )
    assert np.abs(keep.loss - rec.loss).max() > 1e-3
    assert keep.provenance["bn"] == "keep" and rec.provenance["bn"] == "recompute"


def test_non_sequential_resnet_like_model():
    X, y = data_img(n=24)
    net = perturbed(TinyResNet())
    ran = check_all_strategies(
        net,
        nn.CrossEntropyLoss(),
        X,
        y,
        Plane.random(net, seed=4),
        res=4,
        expect=("loop", "vmap", "affine"),
    )
    assert "tiled" not in ran


def test_plane_through_three_models_and_anchors():
    X, y = data_2d()
    nets = [mlp(s) for s in range(3)]
    plane = Plane.through(*nets)
    ls = Landscape(nets[0], nn.CrossEntropyLoss(), (X, y))
    surf = ls.evaluate(plane, resolution=7, margin=0.1)
    assert surf.anchors == plane.anchors
    for name, net in zip(("w1", "w2", "w3"), nets, strict=False):
        direct = nn.CrossEntropyLoss()(net(X), y).item()
        assert ls.metrics_at(net)["loss"] == pytest.approx(direct, rel=1e-5)
        assert ls.metrics_at(plane.point(*plane.anchors[name]))["loss"] == pytest.approx(
            direct, rel=1e-4
        )
    assert surf.x[0] < 0 and surf.x[-1] > plane.anchors["w2"][0]


def test_line_profile_equals_the_loop_and_barrier():
    X, y = data_2d()
    a, b = mlp(0), mlp(1)
    line = Line(a, b)
    ls = Landscape(a, nn.CrossEntropyLoss(), (X, y))
    prof = ls.evaluate(line, resolution=11, bounds=(0.0, 1.0))
    assert isinstance(prof, Profile)
    ref, _ = reference_grid(a, nn.CrossEntropyLoss(), X, y, line, prof.t)
    np.testing.assert_allclose(prof.loss, ref[0], rtol=2e-5)
    assert prof.barrier() == pytest.approx(ref[0].max() - max(ref[0][0], ref[0][-1]), rel=1e-6)


def test_stream_goes_coarse_to_fine_and_ends_equal_to_evaluate():
    X, y = data_2d()
    net = mlp()
    plane = Plane.random(net, seed=0)
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    parts = list(ls.stream(plane, resolution=33))
    assert [p.level for p in parts] == [0, 1, 2]
    assert [p.done for p in parts] == [False, False, True]
    final = ls.evaluate(plane, resolution=33)
    np.testing.assert_allclose(parts[-1].loss, final.loss, rtol=1e-5, atol=1e-6)
    coarse = parts[0]
    assert coarse.loss.shape == (33, 33) and np.isfinite(coarse.loss).all()
    assert coarse.computed.sum() == 9 * 9  # indices 0, 4, ..., 32
    np.testing.assert_allclose(coarse.loss[coarse.computed], final.loss[coarse.computed], rtol=1e-5)
    assert parts[1].computed.sum() == 17 * 17


def test_stream_can_be_cancelled_between_chunks():
    X, y = data_2d()
    net = mlp()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    stop = threading.Event()
    gen = ls.stream(Plane.random(net, seed=0), resolution=40, cancel=stop, strategy="loop")
    first = next(gen)
    assert not first.done
    stop.set()
    assert list(gen) == []
    # the lock is free again: another evaluation runs
    assert ls.evaluate(Plane.random(net, seed=1), resolution=3).done


def test_nonfinite_losses_are_kept_and_flagged():
    X, y = data_2d()
    net = mlp()
    with torch.no_grad():
        net[0].weight.mul_(1e30)  # tanh saturates; the next layers overflow
        net[2].weight.mul_(1e30)
        net[4].weight.mul_(1e30)
    plane = Plane.random(net, normalization=None, seed=0)
    surf = Landscape(net, nn.CrossEntropyLoss(), (X, y)).evaluate(
        plane, resolution=4, bounds=(-1e35, 1e35, -1e35, 1e35)
    )
    assert surf.nonfinite.any()
    assert surf.provenance["nonfinite"] == int(surf.nonfinite.sum())


def test_surface_save_load_round_trip(tmp_path):
    X, y = data_2d()
    net = mlp()
    surf = Landscape(net, nn.CrossEntropyLoss(), (X, y)).evaluate(
        Plane.random(net, seed=0), resolution=5
    )
    surf.loss[0, 0] = np.nan
    surf.save(tmp_path / "s.npz")
    back = Surface.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.loss, surf.loss)
    np.testing.assert_array_equal(back.x, surf.x)
    np.testing.assert_array_equal(back.metrics["accuracy"], surf.metrics["accuracy"])
    assert back.anchors == surf.anchors and back.provenance == surf.provenance
    prof = Landscape(net, nn.CrossEntropyLoss(), (X, y)).evaluate(Line(net, mlp(1)), resolution=5)
    prof.save(tmp_path / "p.npz")
    pback = Profile.load(tmp_path / "p.npz")
    np.testing.assert_array_equal(pback.loss, prof.loss)
    with pytest.raises(ValueError, match="not a Surface"):
        Surface.load(tmp_path / "p.npz")


def test_data_forms_and_seeded_subset():
    X, y = data_2d(n=300)
    net = mlp()
    plane = Plane.random(net, seed=0)
    tensors = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=100, seed=7)
    ds = torch.utils.data.TensorDataset(X, y)
    dataset = Landscape(net, nn.CrossEntropyLoss(), ds, subset=100, seed=7)
    loader = Landscape(
        net,
        nn.CrossEntropyLoss(),
        torch.utils.data.DataLoader(ds, batch_size=8),
        subset=100,
        seed=7,
    )
    assert torch.equal(tensors.X, dataset.X) and torch.equal(tensors.X, loader.X)
    other = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=100, seed=8)
    assert not torch.equal(tensors.X, other.X)
    a = tensors.evaluate(plane, resolution=3)
    b = dataset.evaluate(plane, resolution=3)
    np.testing.assert_array_equal(a.loss, b.loss)
    batched = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=100, seed=7, batch_size=32)
    np.testing.assert_allclose(batched.evaluate(plane, resolution=3).loss, a.loss, rtol=1e-5)


def test_bad_inputs_give_clear_errors():
    X, y = data_2d()
    net = mlp()
    with pytest.raises(ValueError, match="empty"):
        Landscape(net, nn.CrossEntropyLoss(), (X[:0], y[:0]))
    with pytest.raises(ValueError, match="120 samples but y has 10"):
        Landscape(net, nn.CrossEntropyLoss(), (X, y[:10]))
    with pytest.raises(ValueError, match="bn must be"):
        Landscape(net, nn.CrossEntropyLoss(), (X, y), bn="fresh")
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    with pytest.raises(ValueError, match="weights, the model"):
        ls.evaluate(Plane.random(cnn(), seed=0))
    with pytest.raises(ValueError, match="strategy must be"):
        ls.evaluate(Plane.random(net, seed=0), strategy="fast")
    with pytest.raises(StrategyUnavailable, match="Plane.weights"):
        ls.evaluate(Plane.random(net, seed=0), strategy="partial")
    with pytest.raises(ValueError, match="resolution"):
        ls.evaluate(Plane.random(net, seed=0), resolution=1)
    reg = nn.Sequential(nn.Linear(2, 1))
    with pytest.raises(ValueError, match="regression"):
        Landscape(reg, nn.MSELoss(), (X, torch.randn(120, 1)), metrics=("loss", "accuracy"))
    auto = Landscape(reg, nn.MSELoss(), (X, torch.randn(120, 1)))
    assert auto.metrics == ("loss",)


def test_targets_and_output_width_describe_the_evaluation_set():
    X, y = data_2d()
    ls = Landscape(mlp(), nn.CrossEntropyLoss(), (X, y), subset=None)
    assert torch.equal(ls.targets, y) and ls.output_width() == 3
    one_hot = nn.functional.one_hot(y, 3).float()
    assert torch.equal(Landscape(mlp(), nn.MSELoss(), (X, one_hot)).targets, y)
    reg = Landscape(nn.Sequential(nn.Linear(2, 1)), nn.MSELoss(), (X, torch.randn(120, 1)))
    assert reg.targets is None and reg.output_width() == 1


def test_user_model_is_not_modified():
    X, y = data_2d()
    net = mlp()
    before = copy.deepcopy(net.state_dict())
    Landscape(net, nn.CrossEntropyLoss(), (X, y)).evaluate(Plane.random(net, seed=0), resolution=4)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


def test_stream_leaves_grad_mode_and_lock_to_the_caller_between_levels():
    g = torch.Generator().manual_seed(3)
    X = torch.rand(50, 1, 6, 6, generator=g)
    y = nn.functional.one_hot(torch.randint(0, 4, (50,), generator=g), 4).float()
    net = teaching()
    plane = Plane.weights(net, ("3.weight", (1, 2)), ("5.weight", (0, 1)))
    ax, ay = plane.anchors["theta"]
    bounds = (ax - 2, ax + 2, ay - 2, ay + 2)
    ls = Landscape(net, nn.MSELoss(), (X, y))
    final = None
    for part in ls.stream(plane, resolution=17, bounds=bounds, strategy="partial"):
        assert torch.is_grad_enabled()
        # probing another point between levels must not disturb the stream
        ls.metrics_at(teaching(seed=5))
        final = part
    ref, _ = reference_grid(net, nn.MSELoss(), X, y, plane, final.x, final.y)
    np.testing.assert_allclose(final.loss, ref, rtol=2e-5, atol=2e-6)


def test_cnn_in_batches_every_strategy_equals_the_loop():
    X, y = data_img(n=40)
    net = perturbed(cnn())
    ran = check_all_strategies(
        net,
        nn.CrossEntropyLoss(),
        X,
        y,
        Plane.random(net, seed=2),
        res=4,
        expect=("loop", "vmap", "affine"),
        batch_size=16,
    )
    assert "tiled" not in ran


def test_auto_batch_size_keeps_conv_activations_near_8_mib():
    X, y = data_img(n=80, size=64)
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 4),
    )
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    assert ls.batch_size == (8 << 20) // (16 * 64 * 64 * 4)  # 32 images per batch
    mlp_ls = Landscape(mlp(), nn.CrossEntropyLoss(), data_2d())
    assert mlp_ls.batch_size is None


def test_streamlined_copy_is_exact_and_leaves_shared_relus_alone():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.relu = nn.ReLU()
            self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), self.relu, nn.MaxPool2d(2))
            self.head = nn.Linear(4, 4)

        def forward(self, x):
            h = self.body(x)
            g = self.relu(h - 0.1)  # the same ReLU used again: must stay out of place
            return self.head((h + g).mean(dim=(2, 3)))

    X, y = data_img(n=16)
    for net in (cnn(bn=False), Shared()):
        ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
        with torch.no_grad():
            torch.testing.assert_close(ls.net(X), net.eval()(X), rtol=1e-5, atol=1e-6)
    seq = Landscape(cnn(bn=False), nn.CrossEntropyLoss(), (X, y)).net
    kinds = [type(m).__name__ for m in seq]
    assert kinds[:4] == ["Conv2d", "Identity", "MaxPool2d", "ReLU"]  # pooling moved first
    shared = Landscape(Shared(), nn.CrossEntropyLoss(), (X, y)).net
    assert not shared.relu.inplace


REFERENCE_MODELS = {
    "teaching_mlp": lambda: models.teaching_mlp(),
    "small_mlp": lambda: models.small_mlp(),
    "small_cnn": lambda: models.small_cnn(),
    "small_cnn_bn": lambda: models.small_cnn(bn=True),
    "resnet20": lambda: models.resnet20(),
    "resnet20_noskip": lambda: models.resnet20(skip=False),
    "resnet20_nobn": lambda: models.resnet20(bn=False),
    "resnet56_noskip": lambda: models.resnet56(skip=False),
}


def reference_data(name):
    g = torch.Generator().manual_seed(0)
    if "mlp" in name and name != "teaching_mlp":
        X = torch.randn(64, 2, generator=g)
        return X, (X[:, 0] > 0).long(), nn.CrossEntropyLoss()
    if name == "teaching_mlp":
        X = torch.rand(32, 1, 28, 28, generator=g)
        y = models.one_hot(torch.randint(0, 10, (32,), generator=g), 10)
        return X, y, nn.MSELoss()
    X = torch.randn(12, 3, 8, 8, generator=g)
    return X, torch.randint(0, 10, (12,), generator=g), nn.CrossEntropyLoss()


WITH_BN = ("small_cnn_bn", "resnet20", "resnet20_noskip", "resnet56_noskip")


@pytest.mark.parametrize(
    "name, bn",
    [(n, "keep") for n in sorted(REFERENCE_MODELS)] + [(n, "recompute") for n in WITH_BN],
)
def test_reference_models_equal_the_loop(name, bn):
    torch.manual_seed(0)
    net = perturbed(REFERENCE_MODELS[name](), scale=0.5)
    X, y, loss_fn = reference_data(name)
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == (name in WITH_BN)
    plane = Plane.random(net, seed=1)
    # 56 layers without skips, with statistics recomputed from 12 images, amplify float32
    # rounding: the float32 loss differs from the float64 one by up to 2e-4 (relative), and
    # two float32 summation orders (one BLAS or another) by as much.
    rtol = 1e-3 if (name, bn) == ("resnet56_noskip", "recompute") else 2e-5
    check_all_strategies(net, loss_fn, X, y, plane, res=3, expect=("loop",), bn=bn, rtol=rtol)


def test_tied_and_reused_parameters_equal_the_loop():
    X, y = data_2d()
    torch.manual_seed(0)
    a, b = nn.Linear(2, 2), nn.Linear(2, 3)
    b.weight = nn.Parameter(torch.randn(3, 2))
    tied = nn.Sequential(a, nn.Tanh(), nn.Linear(2, 2), nn.Tanh(), b)
    tied[2].weight = a.weight  # one tensor in two layers
    reused = nn.Sequential(a, nn.Tanh(), a, nn.Tanh(), b)  # one layer called twice
    for net in (tied, reused):
        ran = check_all_strategies(
            net, nn.CrossEntropyLoss(), X, y, Plane.random(net, seed=0), res=4, expect=("loop",)
        )
        assert ran == {"loop"}
        ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
        assert ls.metrics_at(net)["loss"] == pytest.approx(nn.CrossEntropyLoss()(net(X), y).item())


def test_partial_with_layers_that_use_the_feature_axis():
    X, y = data_2d()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3), nn.LogSoftmax(dim=1))
    plane = Plane.weights(net, ("0.weight", (1, 0)), ("0.bias", (1,)))
    ax, ay = plane.anchors["theta"]
    check_all_strategies(
        net,
        nn.NLLLoss(),
        X,
        y,
        plane,
        res=4,
        bounds=(ax - 1, ax + 1, ay - 1, ay + 1),
        expect=("loop", "partial"),
    )


def test_model_that_changes_its_input_in_place():
    X, y = data_2d()
    torch.manual_seed(0)
    net = nn.Sequential(nn.SiLU(inplace=True), nn.Linear(2, 3))
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    want = nn.CrossEntropyLoss()(net(X.clone()), y).item()
    assert [ls.metrics_at(net)["loss"] for _ in range(3)] == pytest.approx([want] * 3, rel=1e-6)
    check_all_strategies(net, nn.CrossEntropyLoss(), X, y, Plane.random(net, seed=0), res=3)


def test_cross_entropy_ignore_index_is_honoured():
    X, y = data_2d()
    net = mlp()
    y = y.clone()
    y[:10] = -100
    check_all_strategies(
        net, nn.CrossEntropyLoss(), X, y, Plane.random(net, seed=0), res=3, expect=("loop", "tiled")
    )


def test_save_keeps_the_given_name_and_barrier_checks_the_metric(tmp_path):
    X, y = data_2d()
    net = mlp()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    surf = ls.evaluate(Plane.random(net, seed=0), resolution=3)
    surf.save(tmp_path / "surface")
    assert Surface.load(tmp_path / "surface").loss.shape == (3, 3)
    prof = ls.evaluate(Line(net, mlp(1)), resolution=5)
    with pytest.raises(KeyError, match="no metric 'acc'"):
        prof.barrier("acc")
    assert prof.barrier("accuracy") <= 1.0


def bn_nets():
    """Networks with several BatchNorm layers in a row: a CIFAR ResNet (BatchNorm2d,
    shortcuts) and an MLP (BatchNorm1d)."""
    torch.manual_seed(0)
    resnet = models.CifarResNet(models.ResNetConfig(depth=8, classes=4, width=4))
    torch.manual_seed(0)
    mlp_bn = nn.Sequential(
        nn.Flatten(),
        nn.Linear(3 * 8 * 8, 16),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Linear(16, 16),
        nn.BatchNorm1d(16),
        nn.Tanh(),
        nn.Linear(16, 4),
    )
    return {"resnet": resnet, "mlp": mlp_bn}


@pytest.mark.parametrize("name", ["resnet", "mlp"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_recomputed_bn_statistics_are_those_of_one_batch_of_all_samples(name, dtype):
    """Whatever the batches, the statistics (and so the loss) are those that
    torch.optim.swa_utils.update_bn computes from one batch of every BN sample."""
    X, y = data_img(n=40)
    net = bn_nets()[name]
    plane = Plane.random(net, seed=3)
    w = (plane.origin + 0.4 * plane.u - 0.3 * plane.v).to(dtype)
    ref = copy.deepcopy(net).to(dtype)
    nn.utils.vector_to_parameters(w, ref.parameters())
    update_bn([X.to(dtype)], ref)
    ref.eval()
    with torch.no_grad():
        want_loss = nn.functional.cross_entropy(ref(X.to(dtype)), y).item()
    want = {k: b for k, b in ref.named_buffers() if "running" in k}
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
    for batch_size in (None, 7, 16, 39):
        ls = Landscape(
            net, nn.CrossEntropyLoss(), (X, y), bn="recompute", batch_size=batch_size, dtype=dtype
        )
        got_loss = ls.metrics_at(w)["loss"]
        got = dict(ls.net.named_buffers())
        for k, b in want.items():
            np.testing.assert_allclose(got[k].cpu().numpy(), b.numpy(), **tol, err_msg=k)
        np.testing.assert_allclose(got_loss, want_loss, **tol)
    surf = ls.evaluate(plane, resolution=2)
    assert "40 samples" in surf.provenance["bn_statistics"]
    assert "batches of 39" in surf.provenance["bn_statistics"]


def test_bfloat16_network_is_scored_in_float32_and_checked_against_float32():
    model, (X, y) = mlp(), data_2d()
    plane = Plane.random(model, seed=0)
    loss_fn = nn.CrossEntropyLoss()
    xs = np.linspace(-1, 1, 5)
    ls = Landscape(model, loss_fn, (X, y), subset=None, dtype=torch.bfloat16, device="cpu")
    surf = ls.evaluate(plane, resolution=5, bounds=(-1, 1, -1, 1), strategy="loop")

    # by hand: the weights and the forward pass in bfloat16, the loss of its outputs in float32
    net = copy.deepcopy(model).to(torch.bfloat16).eval()
    o, u, v = (t.to(torch.bfloat16) for t in (plane.origin, plane.u, plane.v))
    expected = np.zeros((5, 5))
    with torch.no_grad():
        for i, yv in enumerate(xs):
            for j, xv in enumerate(xs):
                w = torch.add(o, u, alpha=float(xv)).add_(v, alpha=float(yv))
                nn.utils.vector_to_parameters(w, net.parameters())
                expected[i, j] = loss_fn(net(X.to(torch.bfloat16)).float(), y).item()
    np.testing.assert_allclose(surf.loss, expected, rtol=1e-6)

    # near float32, and the recorded check is the difference on some of these points
    exact, _ = reference_grid(model, loss_fn, X, y, plane, xs, xs)
    gap = np.abs(surf.loss - exact)
    np.testing.assert_allclose(surf.loss, exact, rtol=2e-2)
    check = surf.provenance["precision_check"]
    assert check["reference"] == "float32" and check["points"] == 8
    assert 0 < check["max_abs_diff"]["loss"] <= gap.max() + 1e-6
    assert check["max_rel_diff_loss"] <= (gap / exact).max() + 1e-6
    # the fast engines agree with the loop to bfloat16 arithmetic
    fast = ls.evaluate(plane, resolution=5, bounds=(-1, 1, -1, 1))
    np.testing.assert_allclose(fast.loss, exact, rtol=2e-2)
    f32 = Landscape(model, loss_fn, (X, y), subset=None, device="cpu")
    assert "precision_check" not in f32.evaluate(plane, resolution=3).provenance
