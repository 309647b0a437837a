"""strategy="auto": timed once per landscape, plane kind and grid shape, robust to a stall."""

import numpy as np
import torch
from torch import nn

from landscape_widgets import Landscape, Plane
from landscape_widgets.core import strategies


def mlp_and_data(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    X = torch.randn(80, 2)
    y = torch.randint(0, 3, (80,))
    return net, X, y


def count_engines_and_timings(monkeypatch):
    """Count engine constructions per strategy and calls of the timing routine."""
    counts = {"timing": 0}
    for name, cls in list(strategies.ENGINES.items()):

        def make(ls, plane, cls=cls, name=name):
            counts[name] = counts.get(name, 0) + 1
            return cls(ls, plane)

        monkeypatch.setitem(strategies.ENGINES, name, make)
    timing = strategies.fastest

    def counted(*args, **kwargs):
        counts["timing"] += 1
        return timing(*args, **kwargs)

    monkeypatch.setattr(strategies, "fastest", counted)
    return counts


def built(counts):
    return sum(v for k, v in counts.items() if k != "timing")


def test_second_call_on_the_same_kind_and_shape_does_not_time_again(monkeypatch):
    net, X, y = mlp_and_data()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None)
    counts = count_engines_and_timings(monkeypatch)
    first = ls.evaluate(Plane.random(net, seed=1), resolution=12, bounds=(-1, 1, -1, 1))
    assert counts["timing"] == 1 and built(counts) >= 3
    assert first.provenance["strategy_choice"] == "timed"
    chosen = first.provenance["strategy"]

    # a pan, a zoom and another random plane (an animation frame): nothing timed
    for plane, bounds in [
        (Plane.random(net, seed=1), (-0.5, 1.5, -1, 1)),
        (Plane.random(net, seed=1), (-0.2, 0.2, -0.2, 0.2)),
        (Plane.random(net, seed=7), (-1, 1, -1, 1)),
    ]:
        before = built(counts)
        s = ls.evaluate(plane, resolution=12, bounds=bounds)
        assert counts["timing"] == 1
        assert built(counts) == before + 1  # only the remembered engine
        assert counts[chosen] >= 2
        assert s.provenance["strategy"] == chosen
        assert s.provenance["strategy_choice"] == "remembered"
        loop = ls.evaluate(plane, resolution=12, bounds=bounds, strategy="loop")
        np.testing.assert_allclose(s.loss, loop.loss, rtol=2e-5, atol=2e-6)
        assert loop.provenance["strategy_choice"] == "forced"

    # the remembered timings are the ones measured at the first call
    assert s.provenance["strategy_timings"] == first.provenance["strategy_timings"]


def test_changed_shape_or_plane_kind_or_landscape_times_again(monkeypatch):
    net, X, y = mlp_and_data()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None)
    counts = count_engines_and_timings(monkeypatch)
    plane = Plane.random(net, seed=1)
    ls.evaluate(plane, resolution=12)
    ls.evaluate(plane, resolution=(12, 14))
    assert counts["timing"] == 2
    ls.evaluate(plane, resolution=(12, 14))
    assert counts["timing"] == 2
    # the same plane through three models is another kind of plane
    other = [mlp_and_data(seed=s)[0] for s in (1, 2)]
    s = ls.evaluate(Plane.through(net, *other), resolution=12)
    assert counts["timing"] == 3 and s.provenance["strategy_choice"] == "timed"
    # another landscape keeps its own choices
    ls2 = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None)
    ls2.evaluate(plane, resolution=12)
    assert counts["timing"] == 4


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeLandscape:
    device = torch.device("cpu")


class FakeEngine:
    """Advances a fake clock by a per-point cost; its ``stall``-th call stalls."""

    def __init__(self, name, clock, cost, warmup, stall=None):
        self.name, self.clock, self.cost, self.warmup, self.stall = name, clock, cost, warmup, stall
        self.ls = FakeLandscape()
        self.chunk = 4
        self.calls = 0

    def run(self, coords):
        self.calls += 1
        per_point = self.warmup if self.calls == 1 else self.cost
        self.clock.now += per_point * len(coords)
        if self.calls == self.stall:
            self.clock.now += 1000.0
        return {"loss": torch.zeros(len(coords), dtype=torch.float64)}


class FakeGrid:
    def __init__(self, n):
        self.filled = np.zeros(n, dtype=bool)

    def fill(self, engine, idx):
        engine.run(torch.zeros(len(idx), 2))
        self.filled[idx] = True


def test_one_stalled_timing_does_not_make_the_fast_engine_lose():
    clock = FakeClock()
    # the fast engine: a slow first (warm-up) chunk, then its second chunk stalls
    fast = FakeEngine("fast", clock, cost=1.0, warmup=5.0, stall=2)
    slow = FakeEngine("slow", clock, cost=3.0, warmup=4.0)
    grid = FakeGrid(200)
    todo = np.arange(200)
    best, timings, left = strategies.fastest([slow, fast], grid, todo, None, clock=clock)
    assert best is fast
    assert timings == {"fast": 1.0, "slow": 3.0}
    # every timed point is stored and no longer to do
    assert grid.filled.sum() == 200 - len(left)
    np.testing.assert_array_equal(left, todo[grid.filled.sum() :])


def test_stall_on_a_real_landscape_still_picks_the_engine_that_is_fastest_unstalled(monkeypatch):
    net, X, y = mlp_and_data()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None)
    clock = FakeClock()
    cost = {"loop": 9.0, "vmap": 5.0, "affine": 7.0, "tiled": 1.0, "partial": 1.0}
    calls = {}
    for name, cls in list(strategies.ENGINES.items()):

        class Costed(cls):
            def run(self, coords, _name=name):
                calls[_name] = calls.get(_name, 0) + 1
                clock.now += cost[_name] * len(coords) + (1000.0 if calls[_name] == 2 else 0.0)
                return super().run(coords)

        Costed.name = name
        monkeypatch.setitem(strategies.ENGINES, name, Costed)
    real = strategies.fastest
    monkeypatch.setattr(strategies, "fastest", lambda *a, **k: real(*a, clock=clock, **k))
    s = ls.evaluate(Plane.random(net, seed=1), resolution=20, bounds=(-1, 1, -1, 1))
    assert s.provenance["strategy"] == "tiled"
    timings = s.provenance["strategy_timings"]
    assert min(timings, key=timings.get) == "tiled"


def test_output_unit_weights_take_partial_without_building_or_timing_others(monkeypatch):
    net, X, y = mlp_and_data()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None)
    counts = count_engines_and_timings(monkeypatch)
    plane = Plane.weights(net, ("4.weight", (1, 3)), ("4.weight", (1, 9)))
    surf = ls.evaluate(plane, resolution=9, margin=1.0)
    assert surf.provenance["strategy"] == "partial"
    assert surf.provenance["strategy_choice"] == "rule"
    assert counts == {"timing": 0, "partial": 1}
    loop = ls.evaluate(plane, resolution=9, margin=1.0, strategy="loop")
    np.testing.assert_allclose(surf.loss, loop.loss, rtol=2e-5, atol=2e-6)
