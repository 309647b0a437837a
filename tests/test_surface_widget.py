"""SurfaceWidget without a browser: the pythreejs objects it builds and how it updates them.

Expected values are computed here independently (normalisation, bilinear
interpolation, barycentric heights on the drawn triangles, Bezier curves),
not with the module's own helpers.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
import pythreejs as p3
import traitlets
from conftest import bowl_surface
from ipywidgets.widgets.widget import _instances  # no public count of live widgets

from landscape_widgets import LandscapeWidget, Surface
from landscape_widgets.output.png import colorize, masked_color
from landscape_widgets.widgets.mesh3d import (
    HEIGHT,
    LINE_LIFT,
    MAX_STEP_CELLS,
    POINT_LIFT,
    POINT_RADIUS,
)
from landscape_widgets.widgets.surface3d import SurfaceWidget
from landscape_widgets.wire.points import PATH_COLORS, ROLE_COLORS


def positions(w: SurfaceWidget) -> np.ndarray:
    return np.asarray(w.geometry.attributes["position"].array)


def colours(w: SurfaceWidget) -> np.ndarray:
    return np.asarray(w.geometry.attributes["color"].array)


def expected_heights(loss: np.ndarray, log: bool = False) -> np.ndarray:
    """Heights written out by hand: min -> 0, max -> HEIGHT; NaN/inf at the top."""
    finite = np.isfinite(loss)
    lo, hi = loss[finite].min(), loss[finite].max()
    v = np.where(finite, loss, hi)
    if log:
        assert lo > 0
        t = np.log(v / lo) / np.log(hi / lo)
    else:
        t = (v - lo) / (hi - lo)
    return t * HEIGHT


def expected_rgb(values: np.ndarray, name: str, log: bool = False) -> np.ndarray:
    """The shared colour table's colours as float32 in [0, 1], one row per vertex."""
    return (colorize(values, name, log=log).reshape(-1, 3) / 255).astype(np.float32)


def triangle_height(pos: np.ndarray, index: np.ndarray, sx: float, sy: float) -> float:
    """Height of the drawn mesh at scene (sx, sy): find a triangle holding it, barycentric."""
    tri = pos[index.reshape(-1, 3)].astype(np.float64)  # (t, 3 vertices, xyz)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1 = b[:, :2] - a[:, :2], c[:, :2] - a[:, :2]
    v2 = np.array([sx, sy]) - a[:, :2]
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    u = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    v = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    inside = (u >= -1e-6) & (v >= -1e-6) & (u + v <= 1 + 1e-6)
    assert inside.any(), (sx, sy)
    k = np.flatnonzero(inside)[0]
    return float(a[k, 2] + u[k] * (b[k, 2] - a[k, 2]) + v[k] * (c[k, 2] - a[k, 2]))


# --------------------------------------------------------------------------
# Construction


def test_unknown_kwargs_are_rejected_by_name():
    with pytest.raises(TypeError, match="colour_map"):
        SurfaceWidget(bowl_surface(), colour_map="viridis")
    with pytest.raises(TypeError, match="log_scale.*accepted: .*log_height"):
        SurfaceWidget(log_scale=True)
    w = SurfaceWidget(layout=ipywidgets.Layout(border="1px solid red"))
    assert w.layout.border == "1px solid red"


def test_is_a_widget_holding_a_renderer():
    w = SurfaceWidget(bowl_surface(), width=300, height=200, title="bowl")
    assert isinstance(w, ipywidgets.VBox)
    assert isinstance(w.renderer, p3.Renderer) and w.renderer in w.children
    assert (w.renderer.width, w.renderer.height) == (300, 200)
    assert w.renderer.scene is w.scene and w.mesh in w.scene.children
    assert any(isinstance(c, p3.OrbitControls) for c in w.renderer.controls)
    ipywidgets.HBox([w, SurfaceWidget()])  # fits in a box
    w.width = 350
    assert w.renderer.width == 350 and w.renderer.camera.aspect == pytest.approx(350 / 200)
    with pytest.raises(traitlets.TraitError):
        w.colormap = "no-such-map"


def test_camera_looks_at_the_orbit_target():
    w = SurfaceWidget(bowl_surface(), width=480, height=400)
    cam = w.renderer.camera
    assert cam.up == (0.0, 0.0, 1.0) and cam.aspect == pytest.approx(1.2)
    qx, qy, qz, qw = cam.quaternion
    # Rotate the camera's forward axis (0, 0, -1) by the quaternion, by hand.
    forward = -np.array([2 * (qx * qz + qw * qy), 2 * (qy * qz - qw * qx), 1 - 2 * (qx**2 + qy**2)])
    to_target = np.subtract(w.renderer.controls[0].target, cam.position)
    np.testing.assert_allclose(forward, to_target / np.linalg.norm(to_target), atol=1e-9)
    # The camera's own up stays upright (no roll): its right axis is horizontal.
    right = np.array([1 - 2 * (qy**2 + qz**2), 2 * (qx * qy + qw * qz), 2 * (qx * qz - qw * qy)])
    assert abs(right[2]) < 1e-9


def test_empty_widget_then_show():
    w = SurfaceWidget()
    assert not w.mesh.visible and "no data" in w.children[0].value
    w.show(bowl_surface())
    assert w.mesh.visible and "no data" not in w.children[0].value
    assert [p["name"] for p in w.points] == ["w1", "w2"]  # the surface's anchors
    assert {p["role"] for p in w.points} == {"anchor"}


def test_grid_must_be_at_least_2x2():
    s = bowl_surface(nx=1)
    with pytest.raises(ValueError, match="at least 2 x 2"):
        SurfaceWidget(s)


# --------------------------------------------------------------------------
# Geometry: heights, plane proportions, colours, NaN cells


@pytest.mark.parametrize("log", [False, True])
def test_z_is_the_normalised_loss(log):
    s = bowl_surface()
    w = SurfaceWidget(s, log_height=log)
    pos = positions(w).reshape(7, 9, 3)
    np.testing.assert_allclose(pos[..., 2], expected_heights(s.loss, log), atol=1e-6)
    assert pos[..., 2].min() == pytest.approx(0) and pos[..., 2].max() == pytest.approx(HEIGHT)
    # x spans [-1, 1]; y keeps the plane's 2:1 proportion.
    np.testing.assert_allclose(pos[0, :, 0], np.linspace(-1, 1, 9), atol=1e-6)
    np.testing.assert_allclose(pos[:, 0, 1], np.linspace(-0.5, 0.5, 7), atol=1e-6)


def test_height_does_not_depend_on_the_loss_scale():
    s = bowl_surface()
    big = Surface(s.x, s.y, 1e6 * s.loss + 3e7)
    a, b = SurfaceWidget(s, log_height=False), SurfaceWidget(big, log_height=False)
    np.testing.assert_allclose(positions(a), positions(b), atol=1e-5)


def test_a_thin_strip_keeps_a_visible_width():
    x, y = np.linspace(0, 10, 6), np.linspace(0, 0.1, 3)
    w = SurfaceWidget(Surface(x, y, np.add.outer(y, x)))
    pos = positions(w).reshape(3, 6, 3)
    assert pos[0, 0, 0] == pytest.approx(-1) and pos[0, -1, 0] == pytest.approx(1)
    assert pos[-1, 0, 1] - pos[0, 0, 1] == pytest.approx(0.5)  # clamped: 1/4 of the length


def test_vertex_colours_are_the_colour_tables():
    s = bowl_surface()
    w = SurfaceWidget(s)
    assert colours(w).dtype == np.float32
    np.testing.assert_array_equal(colours(w), expected_rgb(s.loss, "viridis"))
    colour_attr = w.geometry.attributes["color"]
    w.colormap = "terrain"
    assert w.geometry.attributes["color"] is colour_attr
    np.testing.assert_array_equal(colours(w), expected_rgb(s.loss, "terrain"))
    w.log_height = True
    expected = expected_rgb(s.loss, "terrain", log=True)
    np.testing.assert_array_equal(colours(w), expected)
    assert not np.array_equal(expected, expected_rgb(s.loss, "terrain"))


def test_nan_and_inf_cells_are_masked_at_a_finite_height():
    s = bowl_surface(nan_cells=[(1, 2)], inf_cells=[(3, 4), (6, 0)])
    w = SurfaceWidget(s)
    pos = positions(w).reshape(7, 9, 3)
    assert np.all(np.isfinite(pos))
    rgb = colours(w).reshape(7, 9, 3)
    for i, j in [(1, 2), (3, 4), (6, 0)]:
        np.testing.assert_array_equal(rgb[i, j], np.float32(masked_color()) / 255)
        assert pos[i, j, 2] == pytest.approx(HEIGHT)  # the largest finite height
    np.testing.assert_allclose(pos[..., 2], expected_heights(s.loss), atol=1e-6)
    assert np.all(np.isfinite(np.asarray(w.geometry.attributes["normal"].array)))
    assert w.nonfinite_count == 3
    assert "3 NaN/inf cells" in w.children[0].value


def test_a_surface_with_no_finite_value_still_draws():
    s = bowl_surface()
    w = SurfaceWidget(Surface(s.x, s.y, np.full_like(s.loss, np.nan)))
    assert np.all(positions(w)[:, 2] == 0)
    np.testing.assert_array_equal(colours(w), np.tile(np.float32(masked_color()) / 255, (63, 1)))
    assert "no finite values" in w.children[0].value
    assert "63 NaN/inf cells" in w.children[0].value


def test_metric_is_drawn_instead_of_loss():
    s = bowl_surface()
    w = SurfaceWidget(s, metric="accuracy")
    z = positions(w)[:, 2].reshape(7, 9)
    np.testing.assert_allclose(z, expected_heights(s.metrics["accuracy"]), atol=1e-6)
    assert "accuracy" in w.children[0].value


# --------------------------------------------------------------------------
# In-place updates


def test_show_updates_the_same_objects_in_place():
    w = SurfaceWidget(bowl_surface())
    geometry, mesh, scene = w.geometry, w.mesh, w.scene
    attrs = dict(geometry.attributes)
    index = geometry.index
    before = positions(w).copy()

    # Same shape, other values.
    x, y = np.linspace(-1, 1, 9), np.linspace(-0.5, 0.5, 7)
    xx, yy = np.meshgrid(x, y)
    other = np.cos(3 * xx) + yy
    w.show(Surface(x, y, other))
    assert w.geometry is geometry and w.mesh is mesh and w.scene is scene
    assert w.geometry.attributes == attrs and all(
        w.geometry.attributes[k] is v for k, v in attrs.items()
    )
    assert w.geometry.index is index
    assert not np.allclose(positions(w), before)
    np.testing.assert_allclose(positions(w)[:, 2].reshape(7, 9), expected_heights(other), atol=1e-6)

    # Another shape: the same attributes get arrays of the new size, and the index too.
    s2 = bowl_surface(nx=13, ny=5)
    w.show(s2)
    assert w.geometry is geometry and w.mesh is mesh and w.scene is scene
    assert all(w.geometry.attributes[k] is v for k, v in attrs.items())
    assert w.geometry.index is index
    assert positions(w).shape == (13 * 5, 3) and colours(w).shape == (13 * 5, 3)
    idx = np.asarray(index.array)
    assert idx.dtype == np.uint32 and idx.shape == (12 * 4 * 6,) and idx.max() == 13 * 5 - 1
    np.testing.assert_allclose(
        positions(w)[:, 2].reshape(5, 13), expected_heights(s2.loss), atol=1e-6
    )
    meshes = [c for c in w.scene.children if isinstance(c, p3.Mesh)]
    assert meshes == [mesh]


def test_log_height_updates_in_place():
    s = bowl_surface()
    w = SurfaceWidget(s)
    attr = w.geometry.attributes["position"]
    w.log_height = True
    assert w.geometry.attributes["position"] is attr
    np.testing.assert_allclose(
        positions(w)[:, 2].reshape(7, 9), expected_heights(s.loss, log=True), atol=1e-6
    )
    assert "(log)" in w.children[0].value


def test_triangles_cover_every_cell_facing_up():
    w = SurfaceWidget(bowl_surface(nx=4, ny=3))
    tri = np.asarray(w.geometry.index.array).reshape(-1, 3)
    pos = positions(w)
    assert len(tri) == 2 * 3 * 2
    e1 = pos[tri[:, 1]] - pos[tri[:, 0]]
    e2 = pos[tri[:, 2]] - pos[tri[:, 0]]
    assert np.all(np.cross(e1, e2)[:, 2] > 0)  # counter-clockwise seen from above
    area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).sum()
    assert area == pytest.approx(2.0 * 1.0)  # the whole [-1, 1] x [-0.5, 0.5] plane


# --------------------------------------------------------------------------
# Points


def test_point_sits_at_the_bilinear_height():
    s = bowl_surface()  # x step 0.25 from -1, y step 1/6 from -0.5
    w = SurfaceWidget(s)
    w.points = [{"name": "p", "x": 0.3, "y": -0.1, "role": "probe"}]
    h = expected_heights(s.loss)
    # (0.3, -0.1): column 5 (x = 0.25) + 0.2, row 2 (y = -1/6) + 0.4.
    tx, ty = 0.2, 0.4
    hand = (
        (1 - tx) * (1 - ty) * h[2, 5]
        + tx * (1 - ty) * h[2, 6]
        + (1 - tx) * ty * h[3, 5]
        + tx * ty * h[3, 6]
    )
    px, py, pz = w.marker_position("p")
    assert (px, py) == pytest.approx((0.3, -0.1))  # the scene keeps bowl's plane units
    # (float32 grid in the widget, float64 here)
    assert pz == pytest.approx(hand + POINT_RADIUS, abs=1e-6)
    assert float(w.height_at(0.3, -0.1)) == pytest.approx(hand, abs=1e-6)
    # At a grid node the height is the node's; outside, the nearest edge's.
    assert float(w.height_at(0.25, -1 / 6)) == pytest.approx(h[2, 5])
    assert float(w.height_at(5.0, 0.5)) == pytest.approx(h[6, 8])


def test_points_move_their_markers_and_reuse_them():
    w = SurfaceWidget(bowl_surface())
    w.points = [
        {"name": "w1", "x": 0.0, "y": 0.0, "role": "anchor"},
        {"name": "p", "x": 0.3, "y": -0.1, "role": "probe", "label": "probe"},
        {"name": "q", "x": -0.5, "y": 0.2, "role": "path"},
    ]
    groups = {name: w._view.markers[name]["group"] for name in ("w1", "p", "q")}
    assert set(w._view.marker_group.children) == set(groups.values())
    colours_ = {n: w._view.markers[n]["material"].color for n in groups}
    assert colours_ == {
        "w1": ROLE_COLORS["anchor"],
        "p": ROLE_COLORS["probe"],
        "q": ROLE_COLORS["path"],
    }
    assert len(set(colours_.values())) == 3
    assert w._view.markers["p"]["label"].material.map.string == "probe"
    assert w._view.markers["q"]["label"].material.map.string == "q"  # label defaults to name

    old = w.marker_position("p")
    w.points = [
        {"name": "w1", "x": 0.0, "y": 0.0, "role": "anchor"},
        {"name": "p", "x": -0.6, "y": 0.3, "role": "probe"},
    ]
    assert w._view.markers["p"]["group"] is groups["p"]  # reused
    assert w.marker_position("p")[:2] == pytest.approx((-0.6, 0.3))
    assert w.marker_position("p") != old
    assert "q" not in w._view.markers and groups["q"] not in w._view.marker_group.children
    # Another surface: markers stay where the points are, on the new heights.
    s2 = bowl_surface(nx=5, ny=5)
    w.show(s2)
    assert w._view.markers["p"]["group"] is groups["p"]
    expected = float(w.height_at(-0.6, 0.3)) + POINT_RADIUS
    assert w.marker_position("p")[2] == pytest.approx(expected)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"name": "p", "x": 0.1, "role": "probe"}, "lacks y"),
        ({"name": "p", "x": np.nan, "y": 0.0, "role": "probe"}, "finite"),
        ({"name": "p", "x": 0.0, "y": np.inf, "role": "probe"}, "finite"),
        ({"name": "p", "x": 0.0, "y": 0.0, "role": "target"}, "unknown role"),
        ({"name": "p", "x": "0", "y": 0.0, "role": "probe"}, "number"),
        ({"name": "p", "x": True, "y": 0.0, "role": "probe"}, "number"),
        ({"name": "p", "x": 0, "y": 0, "role": "probe", "colour": "red"}, "unknown key"),
        ({"name": "", "x": 0, "y": 0, "role": "probe"}, "name"),
    ],
)
def test_points_are_validated(bad, message):
    w = SurfaceWidget(bowl_surface())
    before = list(w.points)
    with pytest.raises(traitlets.TraitError, match=message):
        w.points = [bad]
    assert w.points == before


def test_points_names_are_unique_and_normalised():
    w = SurfaceWidget()
    with pytest.raises(traitlets.TraitError, match="two points are named 'p'"):
        w.points = [
            {"name": "p", "x": 0, "y": 0, "role": "probe"},
            {"name": "p", "x": 1, "y": 0, "role": "path"},
        ]
    w.points = [{"name": "p", "x": np.float32(0.5), "y": 1, "role": "probe"}]
    assert w.points == [{"name": "p", "x": 0.5, "y": 1.0, "role": "probe", "label": "p"}]
    assert type(w.points[0]["x"]) is float
    assert not w._view.markers["p"]["group"].visible  # no surface yet


# --------------------------------------------------------------------------
# Overlays and paths


def assert_on_mesh(w: SurfaceWidget, line: np.ndarray) -> None:
    """Every vertex, and the middle of every piece, lies LINE_LIFT above the drawn mesh."""
    pos, index = positions(w), np.asarray(w.geometry.index.array)
    mids = (line[1:] + line[:-1]) / 2
    for sx, sy, sz in np.concatenate([line, mids]):
        assert sz == pytest.approx(triangle_height(pos, index, sx, sy) + LINE_LIFT, abs=1e-5)


def test_overlay_is_densified_and_lies_on_the_surface():
    s = bowl_surface()
    w = SurfaceWidget(s)
    xy = np.array([[-1.0, -0.5], [1.0, 0.5], [0.2, -0.4]])
    w.set_overlay("traj", xy, color="red")
    line = w.line_positions("traj")
    assert line.shape[1] == 3 and len(line) > 20
    # Starts, turns and ends at the given points (bowl's scene x, y are its plane x, y).
    for p in xy:
        assert np.min(np.hypot(line[:, 0] - p[0], line[:, 1] - p[1])) < 1e-6
    np.testing.assert_allclose(line[0, :2], xy[0], atol=1e-6)
    np.testing.assert_allclose(line[-1, :2], xy[-1], atol=1e-6)
    # No piece longer than MAX_STEP_CELLS cells along x or y.
    steps = np.abs(np.diff(line[:, :2], axis=0)) / np.array([0.25, 1 / 6])
    assert steps.max() <= MAX_STEP_CELLS + 1e-5
    assert_on_mesh(w, line)

    # Replacing keeps the line object; the colour stays unless given.
    obj = w._view.lines["overlay:traj"]
    w.set_overlay("traj", xy[:2])
    assert w._view.lines["overlay:traj"] is obj and obj.material.color == "red"
    assert w.overlays["traj"]["xy"].shape == (2, 2)
    # Another surface re-drapes the overlay on the new heights.
    w.show(bowl_surface(nx=5, ny=11))
    assert w._view.lines["overlay:traj"] is obj
    assert_on_mesh(w, w.line_positions("traj"))

    w.remove_overlay("traj")
    assert "overlay:traj" not in w._view.lines and obj not in w._view.line_group.children
    with pytest.raises(KeyError, match="traj"):
        w.remove_overlay("traj")


def test_overlay_input_is_checked():
    w = SurfaceWidget(bowl_surface())
    with pytest.raises(ValueError, match="shape"):
        w.set_overlay("a", [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="shape"):
        w.set_overlay("a", [[0.0, 0.0]])
    with pytest.raises(ValueError, match="non-finite"):
        w.set_overlay("a", [[0.0, 0.0], [np.nan, 1.0]])


def test_paths_are_drawn_through_the_points():
    w = SurfaceWidget(bowl_surface())
    w.points = [
        {"name": "a", "x": -0.8, "y": -0.4, "role": "path"},
        {"name": "b", "x": 0.1, "y": 0.45, "role": "path"},
        {"name": "c", "x": 0.9, "y": -0.3, "role": "path"},
    ]
    w.paths = [
        {"name": "seg", "kind": "segment", "points": ["a", "c"], "color": "#00ff00"},
        {"name": "curve", "kind": "bezier", "points": ["a", "b", "c"], "color": "#0000ff"},
        {"name": "later", "kind": "polyline", "points": ["a", "zz"]},
    ]
    assert "path:later" not in w._view.lines  # a point it needs is missing: not drawn
    seg = w.line_positions("seg", kind="path")
    np.testing.assert_allclose(seg[[0, -1], :2], [[-0.8, -0.4], [0.9, -0.3]], atol=1e-6)
    # Straight in the plane: every vertex on the line from a to c.
    t = (seg[:, 0] + 0.8) / 1.7
    np.testing.assert_allclose(seg[:, 1], -0.4 + t * 0.1, atol=1e-6)
    assert_on_mesh(w, seg)
    assert w._view.lines["path:seg"].material.color == "#00ff00"

    # The quadratic Bezier with a, b, c as control points, by hand.
    curve = w.line_positions("curve", kind="path")
    p0, p1, p2 = np.array([-0.8, -0.4]), np.array([0.1, 0.45]), np.array([0.9, -0.3])
    for tt in (0.0, 0.25, 0.5, 1.0):
        want = (1 - tt) ** 2 * p0 + 2 * tt * (1 - tt) * p1 + tt**2 * p2
        gap = np.min(np.hypot(curve[:, 0] - want[0], curve[:, 1] - want[1]))
        assert gap < 0.02, (tt, gap)
    mid = 0.25 * p0 + 0.5 * p1 + 0.25 * p2
    assert np.min(np.hypot(curve[:, 0] - mid[0], curve[:, 1] - mid[1])) < 1e-6  # t = 32/64
    assert_on_mesh(w, curve)

    # Moving a control point redraws the paths through it, reusing the line objects.
    obj = w._view.lines["path:curve"]
    w.points = [dict(p, y=-0.45) if p["name"] == "b" else p for p in w.points]
    assert w._view.lines["path:curve"] is obj
    moved = w.line_positions("curve", kind="path")
    mid = 0.25 * p0 + 0.5 * np.array([0.1, -0.45]) + 0.25 * p2
    assert np.min(np.hypot(moved[:, 0] - mid[0], moved[:, 1] - mid[1])) < 1e-6
    assert np.min(np.hypot(curve[:, 0] - mid[0], curve[:, 1] - mid[1])) > 0.1
    # Adding the missing point draws the third path.
    w.points = [*w.points, {"name": "zz", "x": 0.0, "y": 0.0, "role": "path"}]
    assert "path:later" in w._view.lines
    w.paths = []
    assert not any(k.startswith("path:") for k in w._view.lines)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"name": "s", "kind": "spline", "points": ["a", "b"]}, "unknown kind"),
        ({"name": "s", "kind": "segment", "points": ["a", "b", "c"]}, "2 points"),
        ({"name": "s", "kind": "polyline", "points": ["a"]}, "at least 2"),
        ({"name": "s", "kind": "segment"}, "lacks points"),
        ({"name": "s", "kind": "segment", "points": ["a", 1]}, "point names"),
        ({"name": "s", "kind": "bezier", "points": ["a", "b"]}, "bezier needs at least 3"),
        ({"name": "s", "points": ["a", "b"], "colour": "red"}, "unknown key.*colour"),
        ({"name": 3, "points": ["a", "b"]}, "name must be a non-empty str"),
    ],
)
def test_paths_are_validated(bad, message):
    w = SurfaceWidget()
    with pytest.raises(traitlets.TraitError, match=message):
        w.paths = [bad]


def test_paths_take_the_default_kind_and_colours_by_place():
    w = SurfaceWidget()
    w.paths = [
        {"name": "a", "points": ["p", "q"]},
        {"name": "b", "kind": "polyline", "points": ["p", "q", "r"]},
        {"name": "c", "kind": "bezier", "points": ["p", "q", "r"], "color": "black"},
    ]
    assert [p["kind"] for p in w.paths] == ["segment", "polyline", "bezier"]
    assert [p["color"] for p in w.paths] == [PATH_COLORS[0], PATH_COLORS[1], "black"]


def test_the_map_and_the_surface_normalise_points_and_paths_alike():
    points = [
        {"name": "p", "x": np.float32(0.5), "y": 1, "role": "probe"},
        {"name": "a", "x": -0.5, "y": 0.0, "role": "path", "label": "start"},
    ]
    paths = [{"name": "s", "points": ["p", "a"]}]
    surface, flat = SurfaceWidget(), LandscapeWidget(bowl_surface())
    for widget in (surface, flat):
        widget.points, widget.paths = points, paths
    assert surface.points == flat.points and surface.paths == flat.paths
    bad = {"name": "q", "x": 0, "y": 0, "role": "probe", "colour": "red"}
    for widget in (surface, flat):
        with pytest.raises(traitlets.TraitError, match="point 0 \\('q'\\) has unknown key"):
            widget.points = [bad]


def test_stepped_overlays_get_keyframed_markers_without_leaking_widgets():
    view = SurfaceWidget(bowl_surface())
    xy = np.c_[np.linspace(-1, 1, 6), np.zeros(6)]
    view.set_overlay("a", xy, color="#00d5ff", steps=[10, 12, 14, 16, 18, 20])
    view.set_overlay("b", np.c_[np.zeros(3), np.linspace(-1, 1, 3)], steps=[10, 15, 20])
    (ta, tb) = view.player.clip.tracks
    # step time, from the first step: both markers end together at play_seconds
    np.testing.assert_allclose(ta.times, np.linspace(0, 5, 6), rtol=1e-6)
    np.testing.assert_allclose(tb.times, [0, 2.5, 5], rtol=1e-6)
    # keyframes sit on the surface at the path's points, a marker's radius up
    sx, sy = view.to_scene(xy[:, 0], xy[:, 1])
    z = view.height_at(xy[:, 0], xy[:, 1]) + POINT_LIFT
    np.testing.assert_allclose(ta.values, np.c_[sx, sy, z], rtol=1e-5, atol=1e-6)
    assert view.player in view.children
    count = len(_instances)
    for _ in range(3):
        view.set_overlay("a", xy, steps=[10, 12, 14, 16, 18, 20])
        view.log_height = not view.log_height
    assert len(_instances) == count
    view.play_seconds = 2.0
    np.testing.assert_allclose(view.player.clip.tracks[0].times[-1], 2.0)
    view.remove_overlay("a")
    view.remove_overlay("b")
    assert view.player is None and view.player not in view.children


def test_height_labels_stand_apart_from_the_x_and_y_labels():
    w = SurfaceWidget(bowl_surface())
    labels = w._view.frame.labels
    pos = {k: np.array(labels[k].position) for k in labels}
    hy = w._half[1]
    # x labels in front of the box, y labels right of it, heights at the back-left corner
    for k in ("z", "z0", "z1"):
        assert pos[k][1] == pytest.approx(hy)
        for other in ("x0", "x1", "y0", "y1"):
            assert np.linalg.norm(pos[k][:2] - pos[other][:2]) > hy, (k, other)
    # the last x value and the first y value no longer meet at the front-right corner
    assert pos["x1"][0] < w._half[0] and pos["y0"][1] > -hy
