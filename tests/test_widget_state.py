"""LandscapeWidget's synced state: binary grids, NaN kept, bad inputs refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import traitlets

from landscape_widgets.widgets.landscape_map import LandscapeWidget, decode_grid, encode_grid


def synced_state(widget) -> dict:
    """The state as ipywidgets would send it: (json_state, buffer_paths, buffers)."""
    from ipywidgets.widgets.widget import _remove_buffers

    return _remove_buffers(widget.get_state())


def test_grid_crosses_as_float32_bytes(make_surface):
    surf = make_surface(nx=9, ny=7)
    w = LandscapeWidget(surf)
    assert isinstance(w.loss, bytes)
    assert len(w.loss) == 9 * 7 * 4
    assert w.shape == [7, 9]
    back = np.frombuffer(w.loss, dtype="<f4").reshape(w.shape)
    np.testing.assert_array_equal(back, surf.loss.astype(np.float32))
    np.testing.assert_array_equal(w.grid, surf.loss.astype(np.float32))


def test_state_has_no_json_number_lists(make_surface):
    w = LandscapeWidget(make_surface(nx=20, ny=20))
    state, paths, buffers = synced_state(w)
    assert ["loss"] in paths
    (buf,) = [b for p, b in zip(paths, buffers, strict=True) if p == ["loss"]]
    assert bytes(buf) == w.loss
    assert "loss" not in state
    # Everything else is small: the grid went out as a buffer, not as numbers.
    state.pop("_esm")  # the front-end's source
    assert len(str(state)) < 2000


def test_extents_and_anchors(make_surface):
    surf = make_surface(nx=5, ny=3)
    w = LandscapeWidget(surf, title="bowl", colormap="terrain", log_scale=True)
    assert w.x_range == [-1.0, 1.0]
    assert w.y_range == [-0.5, 0.5]
    assert w.anchors == {"w1": [0.0, 0.0], "w2": [0.5, -0.25]}
    assert (w.title, w.colormap, w.log_scale) == ("bowl", "terrain", True)


def test_nan_and_inf_survive_the_round_trip(make_surface):
    surf = make_surface(nan_cells=[(0, 0), (3, 4)], inf_cells=[(6, 8)])
    w = LandscapeWidget(surf)
    grid = decode_grid(w.loss, w.shape)
    assert np.isnan(grid[0, 0]) and np.isnan(grid[3, 4])
    assert np.isposinf(grid[6, 8])
    finite = np.isfinite(surf.loss)
    np.testing.assert_array_equal(grid[finite], surf.loss[finite].astype(np.float32))


def test_encode_decode_are_inverse_and_little_endian():
    grid = np.array([[1.5, np.nan], [-np.inf, 3.0]])
    data = encode_grid(grid)
    assert data[:4] == b"\x00\x00\xc0\x3f"  # 1.5 as little-endian float32
    out = decode_grid(data, [2, 2])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, grid.astype(np.float32))


def test_float64_values_beyond_float32_become_inf(make_surface):
    surf = make_surface(nx=3, ny=3)
    surf.loss[1, 1] = 1e300
    w = LandscapeWidget(surf)
    assert np.isposinf(w.grid[1, 1])


def test_metric_selects_another_grid(make_surface):
    surf = make_surface()
    w = LandscapeWidget(surf, metric="accuracy")
    np.testing.assert_array_equal(w.grid, surf.metrics["accuracy"].astype(np.float32))
    w.show(surf, metric="loss")
    np.testing.assert_array_equal(w.grid, surf.loss.astype(np.float32))


def test_show_replaces_the_surface(make_surface):
    w = LandscapeWidget()
    assert w.shape == [0, 0] and w.loss == b""
    w.show(make_surface(nx=4, ny=6))
    assert w.shape == [6, 4]
    assert len(w.loss) == 4 * 6 * 4


def test_unknown_keyword_is_a_type_error(make_surface):
    with pytest.raises(TypeError, match="colourmap"):
        LandscapeWidget(make_surface(), colourmap="viridis")


def test_not_a_surface_is_a_type_error():
    with pytest.raises(TypeError, match="expected a Surface"):
        LandscapeWidget(np.zeros((3, 3)))


def test_bad_grid_shape_is_rejected(make_surface):
    surf = make_surface(nx=5, ny=4)
    surf.loss = surf.loss.T
    with pytest.raises(ValueError, match="shape"):
        LandscapeWidget(surf)
    surf.loss = np.zeros(20)
    with pytest.raises(ValueError, match="shape"):
        LandscapeWidget(surf)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("x", np.array([0.0, 2.0, 1.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]), "increase"),
        ("x", np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0]), "evenly"),
        ("y", np.array([[0.0] * 7]), "1-D"),
        ("y", np.array([0, 1, 2, np.nan, 4, 5, 6.0]), "non-finite"),
        ("anchors", {"w1": (0.0,)}, "pair"),
        ("anchors", {"w1": (np.nan, 0.0)}, "non-finite"),
        ("loss", np.full((7, 9), "a"), "real numbers"),
    ],
)
def test_bad_surface_contents_are_rejected(make_surface, field, value, message):
    surf = dataclasses.replace(make_surface(), **{field: value})
    with pytest.raises(ValueError, match=message):
        LandscapeWidget(surf)


def test_unknown_metric_is_rejected(make_surface):
    with pytest.raises(ValueError, match="no metric 'acc'"):
        LandscapeWidget(make_surface(), metric="acc")


def test_trait_validation(make_surface):
    w = LandscapeWidget(make_surface())
    with pytest.raises(traitlets.TraitError):
        w.colormap = "jet"
    with pytest.raises(traitlets.TraitError, match="role"):
        w.points = [{"name": "p", "x": 0.0, "y": 0.0, "role": "moving"}]
    with pytest.raises(traitlets.TraitError, match="non-finite"):
        w.points = [{"name": "p", "x": float("nan"), "y": 0.0, "role": "probe"}]
    with pytest.raises(traitlets.TraitError, match="lacks y"):
        w.points = [{"name": "p", "x": 0.0, "role": "probe"}]
    with pytest.raises(traitlets.TraitError, match="two points"):
        w.points = [{"name": "p", "x": 0, "y": 0, "role": "probe"}] * 2
    with pytest.raises(traitlets.TraitError, match="kind"):
        w.paths = [{"name": "s", "kind": "spline", "points": ["a", "b"]}]
    with pytest.raises(traitlets.TraitError, match="window"):
        w.view = [1.0, 0.0, 0.0, 1.0]
    with pytest.raises(traitlets.TraitError):
        w.loss = b"abc"
    with pytest.raises(traitlets.TraitError):
        w.shape = [1, 2, 3]
    w.points = [{"name": "p", "x": 0.1, "y": 0.2, "role": "anchor"}]
    assert w.anchors == {"p": [0.1, 0.2]}
    assert w.points[0]["label"] == "p"


def test_traits_are_synced_and_documented():
    synced = set(LandscapeWidget.class_trait_names(sync=True))
    for name in "loss shape x_range y_range points paths view colormap log_scale title".split():
        assert name in synced
        assert LandscapeWidget.class_traits()[name].help, f"trait {name} has no help text"


def test_save_png_uses_the_widget_settings(make_surface, tmp_path):
    from PIL import Image

    w = LandscapeWidget(make_surface(), colormap="terrain", width=300, height=220)
    out = w.save_png(tmp_path / "w.png")
    with Image.open(out) as im:
        assert im.size == (300, 220)
    with pytest.raises(ValueError, match="no surface"):
        LandscapeWidget().save_png(tmp_path / "none.png")
