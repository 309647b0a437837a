"""Curves between two networks: Bezier and polygonal chains against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets.core.curves import BezierCurve, PolyChain, curve_from_state
from landscape_widgets.core.weights import weights_of

D = 7


@pytest.fixture
def ends():
    g = torch.Generator().manual_seed(0)
    return torch.randn(D, generator=g), torch.randn(D, generator=g)


def test_quadratic_bezier_is_the_closed_form(ends):
    w1, w2 = ends
    theta = torch.randn(D)
    curve = BezierCurve(w1, w2, init=theta)
    t = torch.linspace(0, 1, 9)
    expected = (
        (1 - t)[:, None] ** 2 * w1 + 2 * (t * (1 - t))[:, None] * theta + t[:, None] ** 2 * w2
    )
    torch.testing.assert_close(curve.at(t), expected)
    torch.testing.assert_close(curve.at(0.0), w1)
    torch.testing.assert_close(curve.at(1.0), w2)


def test_higher_degree_matches_de_casteljau(ends):
    w1, w2 = ends
    ctrl = torch.randn(3, D)
    curve = BezierCurve(w1, w2, degree=4, init=ctrl)
    pts = [w1, *ctrl, w2]
    for s in (0.0, 0.13, 0.5, 0.77, 1.0):
        level = list(pts)
        while len(level) > 1:
            level = [(1 - s) * a + s * b for a, b in zip(level[:-1], level[1:], strict=True)]
        torch.testing.assert_close(curve.at(s), level[0], rtol=1e-5, atol=1e-6)


def test_default_init_is_the_straight_segment(ends):
    w1, w2 = ends
    for curve in (BezierCurve(w1, w2, degree=3), PolyChain(w1, w2, bends=2)):
        t = torch.linspace(0, 1, 11)
        torch.testing.assert_close(curve.at(t), (1 - t)[:, None] * w1 + t[:, None] * w2)


def test_polychain_is_straight_between_bends(ends):
    w1, w2 = ends
    bends = torch.randn(2, D)
    chain = PolyChain(w1, w2, bends=2, init=bends)
    pts = [w1, bends[0], bends[1], w2]
    for t in (0.0, 0.1, 1 / 3, 0.5, 2 / 3, 0.9, 1.0):
        seg = min(int(t * 3), 2)
        f = t * 3 - seg
        torch.testing.assert_close(chain.at(t), (1 - f) * pts[seg] + f * pts[seg + 1])
    # its length is the sum of its segments
    expected = sum(float((b - a).norm()) for a, b in zip(pts[:-1], pts[1:], strict=True))
    assert chain.length(n=301) == pytest.approx(expected, rel=1e-4)


def test_gradients_reach_the_control_points_only(ends):
    w1, w2 = ends
    curve = BezierCurve(w1, w2, degree=3)
    loss = curve.at(torch.tensor([0.3, 0.8])).pow(2).sum()
    loss.backward()
    assert [n for n, p in curve.named_parameters()] == ["control"]
    assert curve.control.grad is not None and curve.control.grad.abs().sum() > 0
    assert not curve.w1.requires_grad and not curve.w2.requires_grad


def test_ends_from_modules_and_state_round_trip():
    torch.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    curve = BezierCurve(a, b)
    torch.testing.assert_close(curve.at(0.0), weights_of(a))
    assert curve.layout.names == ("weight", "bias")
    again = curve_from_state(curve.state())
    torch.testing.assert_close(again.at(torch.linspace(0, 1, 5)), curve.at(torch.linspace(0, 1, 5)))
    chain = PolyChain(a, b, bends=3)
    assert curve_from_state(chain.state()).bends == 3


def test_bad_input(ends):
    w1, w2 = ends
    with pytest.raises(ValueError, match="degree"):
        BezierCurve(w1, w2, degree=1)
    with pytest.raises(ValueError, match="bends"):
        PolyChain(w1, w2, bends=0)
    with pytest.raises(ValueError, match="weights"):
        BezierCurve(w1, torch.zeros(D + 1))
    with pytest.raises(ValueError, match="control point"):
        BezierCurve(w1, w2, degree=3, init=[torch.zeros(D)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        BezierCurve(w1, w2).at(1.5)
    with pytest.raises(ValueError, match="finite"):
        BezierCurve(w1 * np.nan, w2)


def test_one_number_and_many_agree(ends):
    w1, w2 = ends
    for curve in (
        BezierCurve(w1, w2, degree=3, init=torch.randn(2, D)),
        PolyChain(w1, w2, bends=3, init=torch.randn(3, D)),
    ):
        ts = [0.0, 0.2, 0.25, 0.5, 0.61, 0.75, 1.0]
        many = curve.at(torch.tensor(ts))
        for k, t in enumerate(ts):
            torch.testing.assert_close(curve.at(t), many[k], rtol=1e-5, atol=1e-6)
