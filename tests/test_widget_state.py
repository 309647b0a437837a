"""LandscapeWidget's synced state: grids as float32 arrays sent as binary, NaN kept,
bad inputs refused; and the array codec the traits serialise with."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import traitlets

from landscape_widgets import LandscapeWidget
from landscape_widgets.wire.codec import Array, array_from_json, array_to_json


def synced_state(widget) -> dict:
    """The state as ipywidgets would send it: (json_state, buffer_paths, buffers)."""
    from ipywidgets.widgets.widget import _remove_buffers

    return _remove_buffers(widget.get_state())


def through_the_wire(widget, name: str):
    """A trait's value as it reaches the page (buffers as bytes), decoded again."""
    from ipywidgets.widgets.widget import _put_buffers

    state, paths, buffers = synced_state(widget)
    _put_buffers(state, paths, [bytes(b) for b in buffers])
    return array_from_json(state[name])


def test_grid_is_a_float32_array(make_surface):
    surf = make_surface(nx=9, ny=7)
    w = LandscapeWidget(surf)
    assert isinstance(w.loss, np.ndarray)
    assert (w.loss.dtype, w.loss.shape) == (np.float32, (7, 9))
    np.testing.assert_array_equal(w.loss, surf.loss.astype(np.float32))
    np.testing.assert_array_equal(w.grid, surf.loss.astype(np.float32))
    # grid is a copy: changing it changes nothing in the widget
    w.grid[0, 0] = 123.0
    assert w.loss[0, 0] == np.float32(surf.loss[0, 0])


def test_state_has_no_json_number_lists(make_surface):
    w = LandscapeWidget(make_surface(nx=20, ny=20))
    state, paths, buffers = synced_state(w)
    assert ["loss", "buffer"] in paths
    (buf,) = [b for p, b in zip(paths, buffers, strict=True) if p == ["loss", "buffer"]]
    assert bytes(buf) == w.loss.astype("<f4").tobytes()
    assert state["loss"] == {"dtype": "float32", "shape": [20, 20]}
    # the other metrics on the grid go out as buffers too
    assert ["hover", "accuracy", "buffer"] in paths
    # Everything else is small: the grids went out as buffers, not as numbers.
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
    grid = through_the_wire(w, "loss")
    assert np.isnan(grid[0, 0]) and np.isnan(grid[3, 4])
    assert np.isposinf(grid[6, 8])
    finite = np.isfinite(surf.loss)
    np.testing.assert_array_equal(grid[finite], surf.loss[finite].astype(np.float32))


def test_array_codec_is_its_own_inverse_and_little_endian():
    grid = np.array([[1.5, np.nan], [-np.inf, 3.0]])
    value = {"grid": grid, "rows": [np.arange(3), "text"], "n": 2}
    wire = array_to_json(value)
    assert wire["grid"]["dtype"] == "float32" and wire["grid"]["shape"] == [2, 2]
    assert bytes(wire["grid"]["buffer"])[:4] == b"\x00\x00\xc0\x3f"  # 1.5, little-endian
    assert wire["rows"][1:] == ["text"] and wire["n"] == 2
    back = array_from_json(wire)
    assert back["grid"].dtype == np.float32
    np.testing.assert_array_equal(back["grid"], grid.astype(np.float32))
    np.testing.assert_array_equal(back["rows"][0], [0.0, 1.0, 2.0])
    # what the page sends: plain bytes for the buffer
    page = {"dtype": "float32", "shape": [1], "buffer": b"\x00\x00\xc0\x3f"}
    assert array_from_json(page).tolist() == [1.5]


def test_array_trait_checks_dtype_and_dimensions():
    class Holder(traitlets.HasTraits):
        grid = Array(ndim=2)

    h = Holder()
    assert h.grid.shape == (0, 0)
    h.grid = [[1, 2], [3, 4]]
    assert h.grid.dtype == np.float32
    with pytest.raises(traitlets.TraitError, match="2-D"):
        h.grid = np.zeros(3)
    with pytest.raises(traitlets.TraitError, match="real numbers"):
        h.grid = np.array([["a"]])


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
    assert w.loss.shape == (0, 0)
    w.show(make_surface(nx=4, ny=6))
    assert w.loss.shape == (6, 4)


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
    with pytest.raises(traitlets.TraitError, match="2-D"):
        w.loss = np.zeros((1, 2, 3))
    w.points = [{"name": "p", "x": 0.1, "y": 0.2, "role": "anchor"}]
    assert w.anchors == {"p": [0.1, 0.2]}
    assert w.points[0]["label"] == "p"


def test_traits_are_synced_and_documented():
    synced = set(LandscapeWidget.class_trait_names(sync=True))
    assert not {"shape", "answered"} & synced  # the shape travels with the array
    names = "loss hover overlays predictions x_range y_range points paths view colormap title"
    for name in names.split():
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
