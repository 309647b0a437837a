"""Comparable pictures: a shared colour range, a log scale chosen from the data, and axes
named after the plane, in the map and the 3D view."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import (
    Landscape,
    LandscapeWidget,
    Plane,
    Surface,
    SurfaceWidget,
    explore,
    hessian,
    link_color_range,
    models,
)
from landscape_widgets.output.png import finite_range, plot_box
from landscape_widgets.widgets.linked_scales import natural_range
from landscape_widgets.widgets.mesh3d import HEIGHT


def surface(scale=1.0, offset=0.5, axis_names=None):
    x, y = np.linspace(-1, 1, 7), np.linspace(-1, 1, 5)
    loss = offset + scale * np.add.outer(y**2, x**2)
    prov = {"axis_names": list(axis_names)} if axis_names else {}
    return Surface(x, y, loss, provenance=prov)


def toy_landscape():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    X, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    return net, Landscape(net, nn.CrossEntropyLoss(), (X, y))


def heights(view):
    return np.asarray(view.geometry.attributes["position"].array).reshape(-1, 3)[:, 2]


# ------------------------------------------------------------------ log scale


def test_auto_log_scale_follows_the_span_of_the_values():
    wide = surface(scale=10.0, offset=0.02)  # 0.02 .. 20.02: three decades
    narrow = surface(scale=1.0, offset=0.5)  # 0.5 .. 2.5
    assert LandscapeWidget(wide).log_scale is True
    assert LandscapeWidget(narrow).log_scale is False
    assert SurfaceWidget(wide).log_height is True
    assert SurfaceWidget(narrow).log_height is False
    # non-positive values have no log scale, however wide
    assert LandscapeWidget(surface(scale=10.0, offset=-1.0)).log_scale is False
    # the automatic choice follows each surface shown, until someone chooses
    m = LandscapeWidget(narrow)
    m.show(wide)
    assert m.log_scale is True
    m.log_scale = False
    m.show(wide)
    assert m.log_scale is False
    v = SurfaceWidget(narrow)
    v.show(wide)
    assert v.log_height is True
    v.log_height = False
    v.show(wide)
    assert v.log_height is False
    # an explicit choice is kept from the start
    assert LandscapeWidget(wide, log_scale=False).log_scale is False
    assert SurfaceWidget(narrow, log_height=True).log_height is True
    with pytest.raises(TypeError, match="log_scale"):
        LandscapeWidget(wide, log_scale="yes")


def decades(values) -> bool:
    """Written out here: positive finite values whose largest is over 10 times the smallest."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return bool(v.size and v.min() > 0 and v.max() > 10 * v.min())


def test_explore_picks_its_log_scale_from_the_losses_and_the_3d_heights_follow(one_thread):
    net, ls = toy_landscape()
    plane = Plane.random(net, seed=0)
    for window, spans in (((-60, 60, -60, 60), True), ((-0.01, 0.01, -0.01, 0.01), False)):
        ex = explore(ls, plane, resolution=9, bounds=window, segment=None)
        try:
            ex.map.wait(60)
            grid = ex.map.grid
            assert decades(grid) is spans  # the two windows are the two cases
            assert ex.map.log_scale is spans
            assert ex.surface.log_height is spans
            lo, hi = np.nanmin(grid), np.nanmax(grid)
            z = np.log(grid / lo) / np.log(hi / lo) if spans else (grid - lo) / (hi - lo)
            np.testing.assert_allclose(heights(ex.surface), z.ravel() * HEIGHT, atol=1e-5)
            # the map's check box moves the heights too
            ex.map.log_scale = not spans
            assert ex.surface.log_height is (not spans)
        finally:
            ex.close()
    fixed = explore(ls, plane, resolution=9, bounds=(-60, 60, -60, 60), segment=None,
                    log_scale=False)  # fmt: skip
    try:
        fixed.map.wait(60)
        assert fixed.map.log_scale is False and fixed.surface.log_height is False
    finally:
        fixed.close()


# ------------------------------------------------------------------ colour range


def ratio_like(values):
    """A surface of a quantity bounded to [0, 1], as eigen_ratio_grid marks one."""
    ny, nx = values.shape
    prov = {"quantity": "|lambda_min / lambda_max|", "value_range": [0.0, 1.0]}
    return Surface(np.linspace(-1, 1, nx), np.linspace(-1, 1, ny), values, provenance=prov)


def test_a_bounded_quantity_is_coloured_over_its_natural_range(one_thread):
    net, ls = toy_landscape()
    ratio = hessian.eigen_ratio_grid(
        ls, Plane.random(net, seed=0), resolution=2, bounds=(-0.5, 0.5, -0.5, 0.5), progress=False
    )
    # the grid is |lambda_min / lambda_max|, which lies in [0, 1]: the range it carries
    by_hand = np.abs(ratio.metrics["lambda_min"] / ratio.metrics["lambda_max"])
    np.testing.assert_allclose(ratio.loss, by_hand, rtol=1e-6)
    assert ((0 <= by_hand) & (by_hand <= 1)).all()
    assert natural_range(ratio) == (0.0, 1.0)
    assert LandscapeWidget(ratio).color_range == [0.0, 1.0]
    # a nearly convex map, every value in [0.9, 1], is read against 0..1, not its own spread
    values = 0.9 + 0.1 * np.random.default_rng(0).random((5, 7))
    near = LandscapeWidget(ratio_like(values))
    assert finite_range(values)[0] > 0.9
    assert near.color_range == [0.0, 1.0]
    # over decades it stays linear: 0..1 has no log scale; the same values unbounded go log
    wide = 10.0 ** np.linspace(-3, 0, 35).reshape(5, 7)
    assert LandscapeWidget(ratio_like(wide)).log_scale is False
    assert LandscapeWidget(Surface(ratio_like(wide).x, ratio_like(wide).y, wide)).log_scale is (
        decades(wide)
    )
    # a surface without a natural range takes its own again; a range given or linked wins
    near.show(surface())
    assert near.color_range == []
    assert LandscapeWidget(ratio_like(values), color_range=(0.9, 1.0)).color_range == [0.9, 1.0]
    other = LandscapeWidget(surface(offset=2.0))
    bounded = LandscapeWidget(ratio_like(values))
    link = link_color_range(bounded, other)
    assert bounded.color_range == pytest.approx([finite_range(values)[0], 2.0 + 2.0])
    link.unlink()


def test_color_range_is_checked_and_fixes_the_3d_heights():
    m = LandscapeWidget(surface())
    m.color_range = [0.0, 3.0]
    assert m.color_range == [0.0, 3.0]
    for bad in ([1.0, 0.0], [0.0, float("nan")], [1.0, 2.0, 3.0]):
        with pytest.raises(Exception, match="color_range|items"):
            m.color_range = bad
    # the same values at the same heights in two views of one range, whatever each spans
    low, high = surface(offset=0.5), surface(offset=1.5)
    a = SurfaceWidget(low, color_range=(0.5, 3.5), log_height=False)
    b = SurfaceWidget(high, color_range=(0.5, 3.5), log_height=False)
    expected_a = (low.loss.ravel() - 0.5) / 3.0 * HEIGHT
    np.testing.assert_allclose(heights(a), expected_a, atol=1e-5)
    np.testing.assert_allclose(heights(b), expected_a + 1.0 / 3.0 * HEIGHT, atol=1e-5)
    # values beyond the range clamp to the box
    c = SurfaceWidget(high, color_range=(0.0, 2.0), log_height=False)
    assert heights(c).max() == pytest.approx(HEIGHT)
    assert heights(c).min() == pytest.approx(0.75 * HEIGHT, abs=1e-5)


def test_linked_maps_and_views_share_the_union_of_their_ranges():
    small, large = surface(scale=1.0, offset=0.5), surface(scale=4.0, offset=0.1)
    maps = [LandscapeWidget(small), LandscapeWidget(large)]
    view = SurfaceWidget(small)
    link = link_color_range(*maps, view)
    union = [0.1, 0.1 + 4.0 * 2.0]
    assert link.range == pytest.approx(union)
    for w in (*maps, view):
        assert w.color_range == pytest.approx(union)
    # a new grid in one widget moves the shared range
    maps[0].show(surface(scale=1.0, offset=9.0))
    assert link.range == pytest.approx([0.1, 11.0])
    view.show(surface(scale=1.0, offset=0.01))
    assert link.range == pytest.approx([0.01, 11.0])
    assert maps[1].color_range == pytest.approx([0.01, 11.0])
    link.unlink()
    maps[0].show(surface(scale=1.0, offset=20.0))
    assert maps[0].color_range == [] and link.range == pytest.approx([0.01, 11.0])
    # a bounded quantity keeps its natural range
    fixed = link_color_range(LandscapeWidget(surface()), value_range=(0, 1))
    assert fixed.widgets[0].color_range == [0.0, 1.0]
    with pytest.raises(TypeError, match="link_color_range"):
        link_color_range(maps[0], "a map")


def test_a_live_map_keeps_the_link_as_its_grids_stream(one_thread):
    net, ls = toy_landscape()
    plane = Plane.random(net, seed=0)
    live = LandscapeWidget(ls, plane, resolution=12, probes=[], predictions=False)
    fixed = LandscapeWidget(surface(offset=0.01, scale=0.1))
    link = link_color_range(live, fixed)
    live.wait(60)
    lo = min(np.nanmin(live.grid), 0.01)
    hi = max(np.nanmax(live.grid), 0.01 + 0.2)
    assert link.range == pytest.approx([lo, hi], rel=1e-6)
    assert live.color_range == fixed.color_range
    live.close()


# ------------------------------------------------------------------ axis names


def test_planes_name_their_axes_and_the_widgets_show_the_names():
    torch.manual_seed(0)
    net = models.teaching_mlp()
    w = Plane.weights(net, ("5.weight", (5, 250)), ("5.weight", (5, 251)))
    assert w.axis_names == ("w_a = 5.weight[5, 250]", "w_b = 5.weight[5, 251]")
    assert Plane.random(net, seed=0).axis_names[0].startswith("δ")
    a, b, c = (torch.randn(20) for _ in range(3))
    assert Plane.through(a, b, c, names=("A", "B", "C")).axis_names == (
        "distance along B − A",
        "distance toward C, ⊥",
    )
    pca = Plane.pca(torch.randn(6, 20).cumsum(0))
    ev = pca.info["explained_variance"]
    assert pca.axis_names == (f"PC1 ({ev[0]:.0%})", f"PC2 ({ev[1]:.0%})")

    X, y = torch.rand(40, 1, 28, 28), torch.randint(0, 10, (40,))
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None)
    live = LandscapeWidget(ls, w, resolution=4, probes=[], predictions=False)
    assert (live.xlabel, live.ylabel) == w.axis_names
    live.wait(60)
    # the names travel with the surface: a fixed map and a 3D view of it show them
    surf = live.surface
    assert surf.provenance["axis_names"] == list(w.axis_names)
    assert (LandscapeWidget(surf).xlabel, SurfaceWidget(surf).ylabel) == w.axis_names
    view = SurfaceWidget(surf)
    label_texts = {k: lab.material.map.string for k, lab in view._view.frame.labels.items()}
    assert label_texts["x"] == w.axis_names[0] and label_texts["y"] == w.axis_names[1]
    # given names win, and a surface without names gets x and y
    named = LandscapeWidget(surf, xlabel="first", ylabel="second")
    assert (named.xlabel, named.ylabel) == ("first", "second")
    plain = dataclasses.replace(surf, provenance={})
    assert (LandscapeWidget(plain).xlabel, SurfaceWidget(plain).ylabel) == ("x", "y")
    live.close()


# ------------------------------------------------------------------ fitted window


def test_fit_grows_the_window_to_every_path_end_included(one_thread):
    from landscape_widgets import Trajectory

    net, ls = toy_landscape()
    plane = Plane.random(net, seed=0)
    # a run that ends far beyond the first window, up and to the right
    ends = torch.linspace(0, 1, 6)[:, None] * torch.tensor([3.0, 5.0])
    weights = torch.stack([plane.point(float(a), float(b)) for a, b in ends])
    run = Trajectory(weights=weights, losses=np.zeros(5), steps=np.arange(6), label="far")
    fit = LandscapeWidget(ls, plane, resolution=8, bounds="fit", probes=[], predictions=False)
    first = list(fit.home)
    # the plane's own window, widened to the plot's shape (its axes share units)
    assert first == pytest.approx(fit.equal_window(plane.default_bounds()))
    path = fit.add_trajectory(run)
    x0, x1, y0, y1 = fit.home
    assert x0 <= path.xy[:, 0].min() and path.xy[:, 0].max() < x1
    assert y0 <= path.xy[:, 1].min() and path.xy[:, 1].max() < y1
    assert x1 > first[1] and y1 > first[3] and fit.view == fit.home
    fit.wait(60)
    assert fit.x_range[1] >= path.xy[:, 0].max()  # the grid was recomputed there
    # a fixed window stays, and fit_bounds() fits it on demand, points included
    given = tuple(fit.equal_window(plane.default_bounds()))
    fixed = LandscapeWidget(
        ls, plane, resolution=8, bounds=given, probes={"p": (-4.0, 0.0)}, predictions=False
    )
    before = list(fixed.home)
    fixed.add_trajectory(run)
    assert fixed.home == before
    window = fixed.fit_bounds()
    assert window[0] < -4.0 and window[1] > path.xy[:, 0].max() and window[3] > 5.0
    # without bounds the map grows to fit, as with "fit"
    default = LandscapeWidget(ls, plane, resolution=8, probes=[], predictions=False)
    default.add_trajectory(run)
    assert default.home[3] > path.xy[:, 1].max()
    default.close()
    with pytest.raises(ValueError, match="fit"):
        LandscapeWidget(ls, plane, bounds="tight")
    for w in (fit, fixed):
        w.close()


def test_a_path_has_the_same_colour_on_the_map_and_in_its_profile(one_thread):
    from landscape_widgets import ProfilePlot
    from landscape_widgets.widgets.profile_plot import format_barrier

    net, ls = toy_landscape()
    plot = ProfilePlot()
    m = LandscapeWidget(ls, Plane.random(net, seed=0), resolution=6, probes=[],
                        predictions=False, profile_plot=plot)  # fmt: skip
    m.add_segment("first", (-0.5, 0.0), (0.5, 0.0))
    m.add_segment("second", (0.0, -0.5), (0.0, 0.5), color="#00aa55")
    m.wait(60)
    for path in m.paths:
        assert plot.lines[path["name"]].colors == [path["color"]]
    assert plot.lines["second"].colors == ["#00aa55"]
    assert m.path_notes == {}  # the profiles are on screen
    # without a ProfilePlot the legend says what each profile holds and where it is
    alone = LandscapeWidget(ls, Plane.random(net, seed=0), resolution=6, probes=[],
                            predictions=False)  # fmt: skip
    alone.add_segment("slice", (-0.5, 0.0), (0.5, 0.0))
    alone.wait(60)
    b = alone.profiles["slice"].barrier()
    expected = f"barrier {format_barrier(b)}" if b != 0 else "no barrier"
    assert alone.path_notes == {"slice": f"{expected}; profile in .profiles"}
    alone.paths = []
    assert alone.path_notes == {}
    for w in (m, alone):
        w.close()


def test_a_pca_plane_of_several_runs_marks_each_run_s_end():
    from landscape_widgets import Trajectory

    g = torch.Generator().manual_seed(0)
    start = torch.randn(30, generator=g)
    runs = []
    for label in ("sgd", "adam", "sgd"):
        steps = torch.randn(8, 30, generator=g).cumsum(0) * 0.1
        weights = torch.cat([start[None], start + steps])
        runs.append(
            Trajectory(weights=weights, steps=np.arange(9), losses=np.zeros(8), label=label)
        )
    plane = Plane.pca(runs, origin="mean")
    assert set(plane.anchors) == {"start", "end sgd 1", "end adam", "end sgd 3"}
    for run, name in zip(runs, ("end sgd 1", "end adam", "end sgd 3"), strict=True):
        np.testing.assert_allclose(plane.anchors[name], plane.project(run.weights[-1]), atol=1e-5)
    np.testing.assert_allclose(plane.anchors["start"], plane.project(start), atol=1e-5)
    one = Plane.pca(runs[0])
    assert set(one.anchors) == {"start", "end"}


def test_the_aspect_is_equal_where_the_axes_share_units():
    net, ls = toy_landscape()
    random = Plane.random(net, seed=0)
    stretched = dataclasses.replace(random, v=3.0 * random.v)
    assert random.same_units and not stretched.same_units
    kw = dict(resolution=4, probes=[], predictions=False)
    equal = LandscapeWidget(ls, random, **kw)
    unequal = LandscapeWidget(ls, stretched, **kw)
    chosen = LandscapeWidget(ls, random, aspect="free", **kw)
    asked = LandscapeWidget(ls, random, bounds=(-1, 1, -1, 1), **kw)
    assert (equal.aspect, unequal.aspect, chosen.aspect) == ("equal", "unequal", "free")
    # a window asked for is computed as asked; one of the map's choosing fits the plot
    assert asked.aspect == "free" and asked.home == [-1.0, 1.0, -1.0, 1.0]
    x0, y0, x1, y1 = plot_box(equal.width, equal.height)
    w = equal.home
    assert (w[1] - w[0]) / (x1 - x0) == pytest.approx((w[3] - w[2]) / (y1 - y0))
    own = random.default_bounds()
    assert w[0] <= own[0] and w[1] >= own[1] and w[2] <= own[2] and w[3] >= own[3]
    equal.wait(60)
    # the surface carries it to a fixed map; a surface that does not say fills the plot
    assert LandscapeWidget(equal.surface).aspect == "equal"
    assert LandscapeWidget(surface()).aspect == "free"
    for m in (equal, unequal, chosen, asked):
        m.close()
