"""The ensembling schedules against their formulas written out independently."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from landscape_widgets import schedules


def test_snapshot_cosine_is_the_papers_formula():
    alpha0, T, M = 0.2, 100, 3
    lr = schedules.snapshot_cosine(alpha0, T, M)
    period = 34  # ceil(100 / 3)
    for i in range(1, T + 1):
        expected = alpha0 / 2 * (np.cos(np.pi * ((i - 1) % period) / period) + 1)
        assert lr(i) == pytest.approx(expected, rel=1e-12)
    assert lr(1) == lr(35) == lr(69) == alpha0  # each cycle restarts at alpha0
    assert lr(34) < lr(33) < lr(2)  # falling within a cycle
    assert lr.snapshots == [34, 68, 100]  # the cycles' ends


def test_fge_is_triangular_between_alpha1_and_alpha2():
    a1, a2, c = 0.05, 0.0005, 8
    lr = schedules.fge_triangular(a1, a2, c)
    values = np.array([lr(i) for i in range(1, 3 * c + 1)])
    # one cycle written out: t = 1/8 .. 8/8
    t = np.arange(1, c + 1) / c
    cycle = np.where(t <= 0.5, (1 - 2 * t) * a1 + 2 * t * a2, (2 - 2 * t) * a2 + (2 * t - 1) * a1)
    np.testing.assert_allclose(values, np.tile(cycle, 3), rtol=1e-12)
    assert lr(c // 2) == pytest.approx(a2) and lr(c) == pytest.approx(a1)
    assert lr.snapshots[:3] == [4, 12, 20]  # the middles, where the rate is alpha2
    assert all(lr(i) == pytest.approx(a2) for i in lr.snapshots)
    assert np.all(np.abs(np.diff(values)) <= 2 * (a1 - a2) / c + 1e-15)  # linear pieces


def test_the_torch_scheduler_follows_the_schedule():
    lr = schedules.snapshot_cosine(0.1, 20, 2)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=123.0)
    sched = schedules.scheduler(opt, lr)
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(seen, [lr(i) for i in range(1, 21)], rtol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError):
        schedules.snapshot_cosine(0.1, 10, 11)
    with pytest.raises(ValueError):
        schedules.snapshot_cosine(-0.1, 10, 2)
    with pytest.raises(ValueError, match="even"):
        schedules.fge_triangular(0.1, 0.01, 5)
    with pytest.raises(ValueError, match="from 1"):
        schedules.snapshot_cosine(0.1, 10, 2)(0)
    assert math.isfinite(schedules.fge_triangular(0.1, 0.01, 2)(1))
