"""The headless PNG renderer, and that its colour maps are the widget's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landscape_widgets.output.png import (
    cell_extent,
    color_at,
    colorize,
    colormap_names,
    colormap_tables,
    format_tick,
    log_ticks,
    masked_color,
    nice_ticks,
    normalize,
    plot_box,
    render_png,
)

ROOT = Path(__file__).resolve().parents[1]
TABLES = ROOT / "js" / "src" / "colormaps.json"


def cell_centre(size, shape, i, j):
    """Pixel (column, row) at the centre of grid cell (i, j); row 0 is at the bottom."""
    x0, y0, x1, y1 = plot_box(*size)
    ny, nx = shape
    u = x0 + (j + 0.5) / nx * (x1 - x0)
    v = y1 - (i + 0.5) / ny * (y1 - y0)
    return int(u), int(v)


def test_python_and_js_read_the_same_tables():
    # One file is the source of truth; the JS module imports it.
    src = (ROOT / "js" / "src" / "colormap.js").read_text()
    assert re.search(r'import\s+\w+\s+from\s+"\./colormaps\.json"', src)
    assert colormap_tables() == json.loads(TABLES.read_text())
    assert set(colormap_names()) >= {"viridis", "terrain"}


def test_built_copy_of_tables_is_current():
    built = ROOT / "landscape_widgets" / "static" / "colormaps.json"
    # scripts/test (and every install) builds the bundle before pytest runs
    assert built.exists(), "front-end not built: run `npm run build` in js/ or scripts/test"
    assert json.loads(built.read_text()) == json.loads(TABLES.read_text())


def test_stops_and_interpolation():
    maps = colormap_tables()["maps"]
    for name, table in maps.items():
        got = color_at(name, np.asarray(table["positions"]))
        np.testing.assert_array_equal(got, np.asarray(table["colors"]))
    c0, c1 = np.asarray(maps["viridis"]["colors"][:2], dtype=float)
    mid = (maps["viridis"]["positions"][0] + maps["viridis"]["positions"][1]) / 2
    np.testing.assert_array_equal(color_at("viridis", mid), np.floor((c0 + c1) / 2 + 0.5))
    assert color_at("viridis", -1).tolist() == maps["viridis"]["colors"][0]
    assert color_at("viridis", np.nan).tolist() == list(masked_color())
    with pytest.raises(ValueError, match="unknown colour map"):
        color_at("jet", 0.5)


def test_normalisations():
    np.testing.assert_allclose(normalize([2, 3, 6], 2, 6), [0, 0.25, 1])
    np.testing.assert_allclose(normalize([0.01, 1, 100], 0.01, 100, log=True), [0, 0.5, 1])
    out = normalize([-1, 4, 9, np.inf], -1, 9, log=True)
    assert out[0] == pytest.approx(0) and out[2] == pytest.approx(1)
    assert 0.5 < out[1] < 1 and np.isnan(out[3])
    assert normalize([5.0], 5.0, 5.0)[0] == 0.5


def test_colorize_masks_non_finite():
    rgb = colorize(np.array([[0.0, np.nan], [np.inf, 1.0]]))
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[0, 1].tolist() == list(masked_color()) == rgb[1, 0].tolist()
    assert rgb[0, 0].tolist() == colormap_tables()["maps"]["viridis"]["colors"][0]
    assert colorize(np.full((2, 2), np.nan)).reshape(-1, 3).tolist() == [list(masked_color())] * 4


def test_ticks_match_the_js_rules():
    # The same cases as js/tests/axes.test.js.
    assert nice_ticks(-1, 1, 5) == [-1, -0.5, 0, 0.5, 1]
    assert nice_ticks(0, 0.3, 3) == [0, 0.1, 0.2, 0.3]
    assert nice_ticks(2, 2) == [2]
    assert log_ticks(0.1, 10) == [0.1, 0.2, 0.5, 1, 2, 5, 10]
    assert log_ticks(1e-3, 1e3) == [0.001, 0.01, 0.1, 1, 10, 100, 1000]
    assert (format_tick(0), format_tick(0.5), format_tick(1 / 3)) == ("0", "0.5", "0.3333")
    assert cell_extent(-1, 1, 5) == (-1.25, 1.25)


def test_png_decodes_with_requested_size(make_surface, tmp_path):
    out = render_png(make_surface(), tmp_path / "sub" / "s.png", size=(500, 360))
    assert out.exists()
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.size == (500, 360)
        assert im.mode == "RGB"


def test_nan_cells_have_the_masked_colour(make_surface, tmp_path):
    surf = make_surface(nx=9, ny=7, nan_cells=[(1, 2), (5, 6)], inf_cells=[(3, 0)])
    surf.anchors = {}  # markers would cover cells
    size = (480, 400)
    with Image.open(render_png(surf, tmp_path / "nan.png", size=size)) as im:
        px = np.asarray(im.convert("RGB"))
    for i, j in [(1, 2), (5, 6), (3, 0)]:
        u, v = cell_centre(size, surf.loss.shape, i, j)
        assert px[v, u].tolist() == list(masked_color()), (i, j)
    # Finite cells are coloured exactly as the lookup table says.
    expected = colorize(surf.loss)
    for i, j in [(0, 0), (3, 4), (6, 8), (2, 7)]:
        u, v = cell_centre(size, surf.loss.shape, i, j)
        assert px[v, u].tolist() == expected[i, j].tolist(), (i, j)
    # The legend entry: a masked-colour swatch below the colour bar.
    legend = px[plot_box(*size)[3] + 5 :, plot_box(*size)[2] :]
    assert (legend.reshape(-1, 3) == masked_color()).all(axis=1).sum() > 50


def test_no_legend_without_masked_cells(make_surface, tmp_path):
    with Image.open(render_png(make_surface(), tmp_path / "ok.png")) as im:
        px = np.asarray(im.convert("RGB")).reshape(-1, 3)
    assert not (px == masked_color()).all(axis=1).any()


def test_pixel_colours_vary(make_surface, tmp_path):
    size = (400, 300)
    surf = make_surface(nx=30, ny=20)
    surf.anchors = {}
    with Image.open(render_png(surf, tmp_path / "v.png", size=size)) as im:
        px = np.asarray(im.convert("RGB"))
    x0, y0, x1, y1 = plot_box(*size)
    plot = px[y0 + 2 : y1 - 2, x0 + 2 : x1 - 2].reshape(-1, 3)
    assert len(np.unique(plot, axis=0)) > 30
    # The bowl's minimum (dark in viridis) is darker than its rim.
    centre = px[(y0 + y1) // 2, (x0 + x1) // 2].astype(int).sum()
    corner = px[y0 + 3, x0 + 3].astype(int).sum()
    assert centre < corner


def test_log_scale_and_terrain_change_the_picture(make_surface, tmp_path):
    surf = make_surface()
    a = np.asarray(Image.open(render_png(surf, tmp_path / "a.png")))
    b = np.asarray(Image.open(render_png(surf, tmp_path / "b.png", log=True)))
    c = np.asarray(Image.open(render_png(surf, tmp_path / "c.png", colormap="terrain")))
    assert (a != b).any() and (a != c).any()


def test_anchor_markers_are_drawn(make_surface, tmp_path):
    surf = make_surface(nx=9, ny=7)
    size = (480, 400)
    with Image.open(render_png(surf, tmp_path / "a.png", size=size)) as im:
        px = np.asarray(im.convert("RGB"))
    x0, y0, x1, y1 = plot_box(*size)
    (xa, xb), (ya, yb) = cell_extent(-1, 1, 9), cell_extent(-0.5, 0.5, 7)
    for ax, ay in surf.anchors.values():
        u = round(x0 + (ax - xa) / (xb - xa) * (x1 - x0))
        v = round(y1 - (ay - ya) / (yb - ya) * (y1 - y0))
        # A white disc with a black ring.
        assert px[v, u].tolist() == [255, 255, 255]
        ring = px[v - 7 : v + 8, u - 7 : u + 8].reshape(-1, 3)
        assert (ring.sum(axis=1) < 60).any()


def test_all_nan_surface_still_renders(make_surface, tmp_path):
    surf = make_surface(nx=3, ny=3)
    surf.loss[:] = np.nan
    surf.anchors = {}
    with Image.open(render_png(surf, tmp_path / "n.png", size=(300, 240))) as im:
        px = np.asarray(im.convert("RGB"))
    u, v = cell_centre((300, 240), (3, 3), 1, 1)
    assert px[v, u].tolist() == list(masked_color())


def test_single_cell_and_metric(make_surface, tmp_path):
    surf = make_surface(nx=1, ny=1)
    render_png(surf, tmp_path / "one.png", size=(300, 240))
    render_png(make_surface(), tmp_path / "acc.png", metric="accuracy", title="accuracy")


def test_bad_arguments(make_surface, tmp_path):
    with pytest.raises(ValueError, match="too small"):
        render_png(make_surface(), tmp_path / "x.png", size=(50, 50))
    with pytest.raises(ValueError, match="unknown colour map"):
        render_png(make_surface(), tmp_path / "x.png", colormap="jet")
    with pytest.raises(TypeError, match="expected a Surface"):
        render_png({"loss": 1}, tmp_path / "x.png")


def test_headless_cli_writes_the_quickstart_png(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "demo.png"
    cmd = [sys.executable, "-m", "landscape_widgets", "--headless", str(out)]
    proc = subprocess.run(
        [*cmd, "--resolution", "9", "--epochs", "2", "--size", "320", "240"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained" in proc.stdout and f"wrote {out}" in proc.stdout
    with Image.open(out) as im:
        assert im.size == (320, 240)
    usage = subprocess.run(
        [sys.executable, "-m", "landscape_widgets"], capture_output=True, text=True
    )
    assert usage.returncode == 2 and "--headless" in usage.stdout


def test_names_the_built_in_font_cannot_draw_are_spelled_out(make_surface, tmp_path):
    from landscape_widgets.output.png import printable

    assert printable("δ (random, filter-normalised)") == "delta (random, filter-normalised)"
    assert printable("distance toward w3, ⊥") == "distance toward w3, perp"
    assert printable("w2 − w1 · 中") == "w2 - w1 - ?"
    s = make_surface()
    s.provenance["axis_names"] = ["δ (random)", "η (random)"]
    out = render_png(s, tmp_path / "greek.png", title="|λmin/λmax|")
    assert out.stat().st_size > 0


def test_equal_aspect_narrows_the_plot_to_the_grid_s_shape(tmp_path):
    from landscape_widgets import Surface
    from landscape_widgets.output.png import cell_extent, equal_box

    x, y = np.linspace(-1, 1, 9), np.linspace(-0.5, 0.5, 5)
    surf = Surface(x, y, np.add.outer(y**2, x**2) + 0.2, provenance={"same_units": True})
    box = plot_box(640, 480)
    x0, y0, x1, y1 = equal_box(box, x, y)
    (xa, xb), (ya, yb) = cell_extent(x[0], x[-1], 9), cell_extent(y[0], y[-1], 5)
    # a plane unit is as many pixels along x as along y, inside the plot, centred
    assert (x1 - x0) / (xb - xa) == pytest.approx((y1 - y0) / (yb - ya), rel=0.02)
    assert box[0] <= x0 and x1 <= box[2] and box[1] <= y0 and y1 <= box[3]
    assert (x0 - box[0]) == pytest.approx(box[2] - x1, abs=1)
    assert y1 - y0 < box[3] - box[1]  # this grid is wider than tall: the plot gets lower
    # the picture: white above a narrowed plot, cells over the whole of a free one
    equal = np.asarray(Image.open(render_png(surf, tmp_path / "e.png", size=(640, 480))))
    free = render_png(surf, tmp_path / "f.png", size=(640, 480), aspect="free")
    free = np.asarray(Image.open(free))
    mid = (x0 + x1) // 2
    assert (equal[box[1] + 2, mid] == 255).all() and not (free[box[1] + 2, mid] == 255).all()
    with pytest.raises(ValueError, match="aspect"):
        render_png(surf, tmp_path / "x.png", aspect="square")
