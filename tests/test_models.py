import pytest
import torch
from torch import nn

from landscape_widgets.models import (
    BasicBlock,
    CifarResNet,
    ResNetConfig,
    SumSquaredError,
    normal_init,
    one_hot,
    resnet20,
    resnet56,
    small_cnn,
    small_mlp,
    teaching_mlp,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def linear_count(widths, bias):
    return sum(a * b + (b if bias else 0) for a, b in zip(widths[:-1], widths[1:], strict=False))


def same_init(factory):
    torch.manual_seed(123)
    a = factory()
    torch.manual_seed(123)
    b = factory()
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


# -----------------------------------------------------------------------------
# MLPs


def test_teaching_mlp_layout():
    net = teaching_mlp()
    assert isinstance(net, nn.Sequential) and isinstance(net[0], nn.Flatten)
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert shapes == {"1.weight": (50, 784), "3.weight": (500, 50), "5.weight": (10, 500)}
    assert isinstance(net[2], nn.Sigmoid) and isinstance(net[4], nn.Sigmoid) and len(net) == 6
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert net(torch.rand(3, 784)).shape == (3, 10)
    assert same_init(teaching_mlp)


def test_teaching_mlp_forward_matches_hand_computation():
    net = teaching_mlp(widths=(6, 4, 3, 2))
    x = torch.randn(5, 6)
    W1, W3, W5 = net[1].weight, net[3].weight, net[5].weight
    expected = torch.sigmoid(torch.sigmoid(x @ W1.T) @ W3.T) @ W5.T
    assert torch.allclose(net(x), expected, atol=1e-6)
    squashed = teaching_mlp(widths=(6, 4, 3, 2), output_activation=True)
    squashed.load_state_dict(net.state_dict())
    assert torch.allclose(squashed(x), torch.sigmoid(expected), atol=1e-6)


def test_teaching_mlp_options():
    net = teaching_mlp(widths=(10, 7, 3), activation="relu", bias=True)
    assert [name for name, _ in net.named_parameters()] == [
        "1.weight",
        "1.bias",
        "3.weight",
        "3.bias",
    ]
    assert isinstance(net[2], nn.ReLU)
    assert isinstance(teaching_mlp(activation=nn.LeakyReLU)[2], nn.LeakyReLU)
    with pytest.raises(ValueError, match="unknown activation"):
        teaching_mlp(activation="swishy")
    with pytest.raises(ValueError, match="widths"):
        teaching_mlp(widths=(10,))


def test_small_mlp():
    net = small_mlp()
    assert n_params(net) == linear_count([2, 64, 64, 2], bias=True)
    assert [type(m) for m in net] == [nn.Flatten, nn.Linear, nn.Tanh, nn.Linear, nn.Tanh, nn.Linear]
    assert net(torch.randn(7, 2)).shape == (7, 2)
    regressor = small_mlp(1, (16,), 1, activation="relu", bias=False)
    assert n_params(regressor) == linear_count([1, 16, 1], bias=False)
    assert regressor(torch.randn(4, 1)).shape == (4, 1)
    assert same_init(small_mlp)


# -----------------------------------------------------------------------------
# small CNN


def test_small_cnn_shapes_and_size():
    net = small_cnn()
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert 10_000 < n_params(net) < 100_000
    conv = [3 * 16 * 9 + 16, 16 * 32 * 9 + 32, 32 * 64 * 9 + 64]
    assert n_params(net) == sum(conv) + 64 * 10 + 10
    mnist_net = small_cnn(in_channels=1, classes=10, width=8)
    assert mnist_net(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert same_init(small_cnn)


def test_small_cnn_batchnorm_option():
    net = small_cnn(bn=True)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net) == 3
    assert all(c.bias is None for c in convs)
    assert all(c.bias is not None for c in small_cnn() if isinstance(c, nn.Conv2d))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in small_cnn())


# -----------------------------------------------------------------------------
# CIFAR ResNets


def resnet_count(n, classes=10, w=16):
    """Parameters of a 6n+2 CIFAR ResNet with BN and parameter-free shortcuts, counted by hand."""
    conv = lambda c_in, c_out: 9 * c_in * c_out  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731
    total = conv(3, w) + bn(w)
    c_in = w
    for c in (w, 2 * w, 4 * w):
        for _ in range(n):
            total += conv(c_in, c) + bn(c) + conv(c, c) + bn(c)
            c_in = c
    return total + 4 * w * classes + classes


def test_resnet_parameter_counts_match_he_et_al():
    # He et al. 2016, Table 6: ResNet-20 has 0.27M parameters, ResNet-56 0.85M
    r20, r56 = n_params(resnet20()), n_params(resnet56())
    assert r20 == resnet_count(3) and abs(r20 - 0.27e6) / 0.27e6 < 0.01
    assert r56 == resnet_count(9) and abs(r56 - 0.85e6) / 0.85e6 < 0.01
    # removing the skips removes no parameters (the shortcuts have none)
    assert n_params(resnet20(skip=False)) == r20
    # projection shortcuts (option B) add two 1x1 convolutions with BN
    assert n_params(resnet20(shortcut="conv")) == r20 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_resnet_forward_shapes_and_deterministic_init():
    x = torch.rand(2, 3, 32, 32)
    for net in (resnet20(), resnet20(skip=False), resnet20(bn=False), resnet20(classes=100)):
        out = net(x)
        assert out.shape == (2, net.config.classes) and torch.isfinite(out).all()
    assert resnet20(in_channels=1)(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert same_init(resnet20)
    assert len([m for m in resnet56().modules() if isinstance(m, BasicBlock)]) == 27


def test_resnet_without_batchnorm():
    net = resnet20(bn=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19 and all(c.bias is not None for c in convs)
    assert n_params(net) == resnet_count(3) - 2 * (16 * 7 + 32 * 6 + 64 * 6) + (
        16 * 7 + 32 * 6 + 64 * 6
    )
    assert not any(name.endswith("running_mean") for name, _ in net.named_buffers())


def zeroed_block(c_in, c_out, stride, skip):
    block = BasicBlock(c_in, c_out, stride, ResNetConfig(skip=skip))
    with torch.no_grad():
        block.conv1.weight.zero_()
        block.conv2.weight.zero_()
    return block.eval()  # BN with its initial statistics: the identity map on zeros


def test_skip_false_really_removes_the_shortcut():
    x = torch.rand(2, 16, 8, 8)  # non-negative, like the output of a ReLU
    assert torch.equal(zeroed_block(16, 16, 1, skip=True)(x), x)
    assert torch.equal(zeroed_block(16, 16, 1, skip=False)(x), torch.zeros_like(x))


def test_downsampling_shortcut_subsamples_and_zero_pads():
    x = torch.rand(2, 16, 8, 8)
    out = zeroed_block(16, 32, 2, skip=True)(x)
    assert out.shape == (2, 32, 4, 4)
    expected = torch.zeros(2, 32, 4, 4)
    expected[:, 8:24] = x[:, :, ::2, ::2]  # 16 new channels, split evenly on both sides
    assert torch.equal(out, expected)
    assert torch.equal(zeroed_block(16, 32, 2, skip=False)(x), torch.zeros(2, 32, 4, 4))


def test_without_skips_a_dead_block_cuts_the_network():
    # zero one block's convolutions: a plain network then forgets its input,
    # a residual network passes it around the block
    x1, x2 = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    for skip in (True, False):
        torch.manual_seed(0)
        net = resnet20(skip=skip).eval()
        with torch.no_grad():
            net.stage2[1].conv1.weight.zero_()
            net.stage2[1].conv2.weight.zero_()
        differs = not torch.allclose(net(x1), net(x2))
        assert differs == skip


def test_resnet_config_validation():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        ResNetConfig(depth=21)
    with pytest.raises(ValueError, match="shortcut"):
        ResNetConfig(shortcut="bottleneck")
    assert CifarResNet(ResNetConfig(depth=8, width=4))(torch.rand(1, 3, 16, 16)).shape == (1, 10)


def test_resnet_trains_a_step():
    torch.manual_seed(0)
    net = resnet20()
    x, y = torch.rand(8, 3, 16, 16), torch.randint(0, 10, (8,))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = nn.functional.cross_entropy(net(x), y)
    for _ in range(5):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert nn.functional.cross_entropy(net(x), y) < before


# -----------------------------------------------------------------------------
# one_hot


def test_one_hot():
    y = torch.tensor([3, 0, 1, 3])
    expected = torch.zeros(4, 5)
    for row, label in enumerate(y.tolist()):
        expected[row, label] = 1
    got = one_hot(y, 5)
    assert got.dtype == torch.float32 and torch.equal(got, expected)
    assert one_hot(torch.tensor([], dtype=torch.long), 3).shape == (0, 3)
    with pytest.raises(ValueError, match="labels"):
        one_hot(torch.tensor([0, 5]), 5)
    with pytest.raises(TypeError, match="integers"):
        one_hot(torch.tensor([0.0, 1.0]), 2)


# -----------------------------------------------------------------------------
# numpy's initialisation and the summed squared error (the two-weight article)


def test_normal_init_draws_what_numpys_global_seed_draws():
    import numpy as np

    net = normal_init(teaching_mlp(widths=(7, 5, 4, 3), bias=True), seed=135)
    state = np.random.get_state()
    try:
        np.random.seed(135)
        expected = [np.random.randn(*p.shape) for p in net.parameters()]  # in order
    finally:
        np.random.set_state(state)
    for p, e in zip(net.parameters(), expected, strict=True):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-6, atol=1e-7)
    # numpy's global stream is left alone
    before = np.random.get_state()[1].copy()
    normal_init(net, 1, std=0.5)
    assert np.array_equal(np.random.get_state()[1], before)
    rng = np.random.RandomState(1)
    np.testing.assert_allclose(net[1].weight.detach().numpy(), 0.5 * rng.randn(5, 7), rtol=1e-6)
    with pytest.raises(ValueError, match="seed"):
        normal_init(net, -1)
    with pytest.raises(ValueError, match="std"):
        normal_init(net, 0, std=float("nan"))
    with pytest.raises(TypeError, match="nn.Module"):
        normal_init("net", 0)


def test_sum_squared_error_against_the_formula():
    g = torch.Generator().manual_seed(0)
    out, target = torch.rand(6, 4, generator=g), torch.rand(6, 4, generator=g)
    by_hand = sum(sum((o - t) ** 2 for o, t in zip(r, s, strict=True)) for r, s in zip(
        out.tolist(), target.tolist(), strict=True)) / 6  # fmt: skip
    assert float(SumSquaredError()(out, target)) == pytest.approx(by_hand, rel=1e-6)
    assert float(SumSquaredError(0.5)(out, target)) == pytest.approx(by_hand / 2, rel=1e-6)
    assert float(SumSquaredError()(out, target)) == pytest.approx(
        4 * float(nn.MSELoss()(out, target)), rel=1e-6
    )
    with pytest.raises(ValueError, match="same shape"):
        SumSquaredError()(out, target[:, :3])
    with pytest.raises(ValueError, match="factor"):
        SumSquaredError(0.0)
