"""export_html writes one self-contained HTML file: no CDN, every widget's state
(anywidget's _esm and binary buffers included), the JS of the libraries used and
nothing else, clear errors for bad input. The browser half is
test_browser_export.py."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import bqplot as bq
import ipywidgets as W
import numpy as np
import pytest
import pythreejs as p3
from conftest import bowl_surface

from landscape_widgets import LandscapeWidget
from landscape_widgets.output import html as html_export
from landscape_widgets.output.html import export_html
from landscape_widgets.wire.assets import STATIC

STATE_RE = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">\n(.*?)\n</script>', re.S
)
VIEW_RE = re.compile(
    r'<script type="application/vnd.jupyter.widget-view\+json">\n(.*?)\n</script>', re.S
)


def line_figure() -> bq.Figure:
    xs, ys = bq.LinearScale(), bq.LinearScale()
    x = np.linspace(0.0, 1.0, 20)
    line = bq.Lines(x=x, y=np.sin(6 * x), scales={"x": xs, "y": ys})
    axes = [bq.Axis(scale=xs), bq.Axis(scale=ys, side="left")]
    return bq.Figure(marks=[line], axes=axes, title="line")


def mesh_renderer() -> p3.Renderer:
    mesh = p3.Mesh(p3.BoxGeometry(1, 1, 1), p3.MeshLambertMaterial(color="#ff6600"))
    camera = p3.PerspectiveCamera(position=[2, 2, 3])
    scene = p3.Scene(children=[mesh, camera, p3.AmbientLight(intensity=0.6)])
    return p3.Renderer(camera=camera, scene=scene, width=200, height=160)


@pytest.fixture
def widgets():
    lw = LandscapeWidget(bowl_surface(), title="bowl")
    fig = line_figure()
    renderer = mesh_renderer()
    box = W.VBox([lw, fig, renderer])
    yield lw, fig, renderer, box
    for w in (box, renderer, fig, lw):
        w.close()


class Tags(HTMLParser):
    """The page's tags and attributes; script bodies are text to this parser."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def manager_state(text: str) -> dict:
    (state,) = STATE_RE.findall(text)
    return json.loads(state)["state"]


def test_writes_one_self_contained_file(tmp_path, widgets):
    *_, box = widgets
    out = export_html(tmp_path / "page.html", box, title="bowl & line")
    assert out == tmp_path / "page.html" and out.is_file()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>bowl &amp; line</title>" in text
    # Nothing is fetched: no tag loads a URL (the JS inside the scripts may
    # mention CDNs in strings; what matters is what the page's tags load).
    tags = Tags(text).tags
    assert {t for t, _ in tags} <= {"html", "head", "meta", "title", "style", "script", "body"}
    for tag, attrs in tags:
        for name in ("src", "href", "data", "srcset", "poster"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value or value.startswith("data:"), (tag, name, value[:80])
        if tag == "script" and "src" in attrs:
            assert attrs["src"].startswith("data:text/javascript;base64,")
    assert sum(t == "script" for t, _ in tags) >= 5
    # No source-map comment sends a browser with devtools looking for files.
    assert not re.search(r"^//# sourceMappingURL=(?!data:)", text, re.M)
    # The widget manager, require.js and each library's AMD module are inlined.
    assert "@jupyter-widgets/html-manager" in text and "requirejs" in text
    for module in ("anywidget", "bqplot", "bqscales", "jupyter-threejs", "three"):
        assert f"__lwDefineAs({json.dumps(module)});" in text, module


def test_state_holds_every_widget_and_what_it_refers_to(tmp_path, widgets):
    lw, fig, renderer, box = widgets
    text = export_html(tmp_path / "page.html", box).read_text(encoding="utf-8")
    state = manager_state(text)
    line = fig.marks[0]
    expected = [box, lw, fig, renderer, line, *line.scales.values(), *fig.axes]
    expected += [renderer.scene, renderer.camera, *renderer.scene.children]
    mesh = renderer.scene.children[0]
    expected += [mesh.geometry, mesh.material, lw.layout]
    for w in expected:
        assert w.model_id in state, type(w).__name__
    # One view, of the widget passed (its children are drawn by the box).
    (view,) = [json.loads(v) for v in VIEW_RE.findall(text)]
    assert view["model_id"] == box.model_id
    # State is complete (drop_defaults=False): the default colour map is there too.
    assert state[lw.model_id]["state"]["colormap"] == "viridis"
    assert state[line.model_id]["state"]["colors"]


def test_anywidget_esm_and_binary_grid_are_included(tmp_path, widgets):
    lw, *_ = widgets
    text = export_html(tmp_path / "map.html", lw).read_text(encoding="utf-8")
    entry = manager_state(text)[lw.model_id]
    assert entry["model_module"] == "anywidget"
    esm = entry["state"]["_esm"]
    assert esm == lw._esm and "export" in esm and len(esm) > 2000
    (buffer,) = [b for b in entry["buffers"] if b["path"] == ["loss", "buffer"]]
    assert buffer["encoding"] == "base64"
    assert base64.b64decode(buffer["data"]) == lw.loss.astype("<f4").tobytes()
    assert entry["state"]["loss"] == {"dtype": "float32", "shape": [7, 9]}
    # the hover metrics go as buffers too, never as JSON numbers
    assert ["hover", "accuracy", "buffer"] in [b["path"] for b in entry["buffers"]]


def test_only_the_libraries_used_are_inlined(tmp_path, widgets):
    lw, fig, renderer, _ = widgets
    sizes = {}
    for name, w in {"map": lw, "figure": fig, "renderer": renderer}.items():
        text = export_html(tmp_path / f"{name}.html", w).read_text(encoding="utf-8")
        sizes[name] = len(text)
        defined = set(re.findall(r'__lwDefineAs\("([^"]+)"\);', text))
        assert (
            defined
            == {
                "map": {"anywidget"},
                "figure": {"bqplot", "bqscales"},
                "renderer": {"jupyter-threejs", "three"},
            }[name]
        )
    assert sizes["map"] < sizes["figure"] and sizes["map"] < sizes["renderer"]


def test_several_widgets_are_shown_in_order(tmp_path, widgets):
    lw, fig, *_ = widgets
    text = export_html(str(tmp_path / "two.html"), fig, lw).read_text(encoding="utf-8")
    views = [json.loads(v)["model_id"] for v in VIEW_RE.findall(text)]
    assert views == [fig.model_id, lw.model_id]


def test_script_like_text_in_the_state_cannot_end_the_element(tmp_path):
    html = W.HTML("</script><script>window.owned = 1</script><!-- x")
    text = export_html(tmp_path / "html.html", html).read_text(encoding="utf-8")
    assert manager_state(text)[html.model_id]["state"]["value"] == html.value
    assert "<script>window.owned" not in text
    html.close()


def strict_json(text: str):
    """Parse as a browser's JSON.parse does: NaN and Infinity are not JSON."""

    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_values_outside_arrays_keep_the_page_valid_json(tmp_path, widgets):
    lw, *_ = widgets
    lw.probe_results = {"p": {"loss": float("nan"), "accuracy": float("inf")}}
    number = W.FloatText(value=float("-inf"))
    xs, ys = bq.LinearScale(min=0.0, max=float("inf")), bq.LinearScale()
    fig = bq.Figure(marks=[bq.Lines(x=[0.0, 1.0], y=[1.0, 2.0], scales={"x": xs, "y": ys})])
    text = export_html(tmp_path / "nan.html", lw, number, fig).read_text(encoding="utf-8")
    (state_text,) = STATE_RE.findall(text)
    state = strict_json(state_text)["state"]  # raised on NaN/Infinity before the fix
    for spec in VIEW_RE.findall(text):
        assert strict_json(spec)["model_id"] in state
    # not dropped: each value is tagged in the JSON with its name, which the page turns
    # back into the number (test_browser_export checks that part in Chromium)
    probe = state[lw.model_id]["state"]["probe_results"]["p"]
    kept = {
        "loss": probe["loss"],
        "accuracy": probe["accuracy"],
        "value": state[number.model_id]["state"]["value"],
        "max": state[xs.model_id]["state"]["max"],
    }
    for name, tagged in kept.items():
        assert isinstance(tagged, str), (name, tagged)
        assert tagged.startswith(html_export.NON_FINITE_TAG), (name, tagged)
    restored = {k: float(v[len(html_export.NON_FINITE_TAG) :]) for k, v in kept.items()}
    assert np.isnan(restored["loss"])
    assert restored["accuracy"] == restored["max"] == np.inf
    assert restored["value"] == -np.inf
    # finite numbers and the widgets' own values are left as they were
    assert state[lw.model_id]["state"]["width"] == lw.width
    assert lw.probe_results["p"]["accuracy"] == np.inf
    for w in (fig, *fig.marks, xs, ys, number):
        w.close()


def test_a_string_that_looks_like_a_non_finite_tag_is_refused(tmp_path):
    # the page would read it back as NaN: refused with its value, nothing written
    label = W.Label(value=html_export.NON_FINITE_TAG + "NaN")
    with pytest.raises(ValueError, match="reserved string"):
        export_html(tmp_path / "tag.html", label)
    assert not (tmp_path / "tag.html").exists()
    label.close()


def test_scripts_that_could_end_the_element_go_in_as_data_urls():
    assert html_export._script("var a = 1;") == "<script>\nvar a = 1;\n</script>"
    tag = html_export._script('var s = "</SCRIPT>";')
    encoded = re.fullmatch(r'<script src="data:text/javascript;base64,([^"]+)"></script>', tag)
    assert base64.b64decode(encoded.group(1)).decode() == 'var s = "</SCRIPT>";'


@pytest.mark.parametrize(
    "bad, message",
    [
        ("not a widget", r"argument 1 is str \(not a widget\)"),
        (bowl_surface(), r"argument 1 is Surface \(not a widget\)"),
        (np.zeros(3), r"argument 1 is ndarray"),
    ],
)
def test_a_non_widget_is_a_type_error(tmp_path, bad, message):
    with pytest.raises(TypeError, match=message):
        export_html(tmp_path / "x.html", bad)
    assert not (tmp_path / "x.html").exists()


def test_widget_errors_name_the_argument(tmp_path, widgets):
    lw, *_ = widgets
    layout = W.Layout(width="10px")
    with pytest.raises(TypeError, match=r"argument 2 is Layout \(a widget with no view\)"):
        export_html(tmp_path / "x.html", lw, layout)
    with pytest.raises(TypeError, match="at least one widget"):
        export_html(tmp_path / "x.html")
    with pytest.raises(TypeError, match="first argument is the file to write"):
        export_html(lw, lw)  # forgot the path
    with pytest.raises(TypeError, match="first argument is the file to write"):
        export_html(None, lw)
    closed = W.HTML("gone")
    closed.close()
    with pytest.raises(TypeError, match="closed"):
        export_html(tmp_path / "x.html", closed)
    assert not (tmp_path / "x.html").exists()
    layout.close()


def test_missing_vendored_js_says_to_build_it(tmp_path, widgets, monkeypatch):
    lw, *_ = widgets
    monkeypatch.setattr(html_export, "_EMBED", tmp_path / "no-embed")
    with pytest.raises(FileNotFoundError, match=r"cd js && npm run build") as err:
        export_html(tmp_path / "x.html", lw)
    assert "embed-amd.js" in str(err.value) and "require.js" in str(err.value)
    assert not (tmp_path / "x.html").exists()


def test_missing_library_js_names_the_file(tmp_path, widgets, monkeypatch):
    _, fig, *_ = widgets
    monkeypatch.setattr(html_export, "_nbextension_dirs", lambda: [tmp_path])
    with pytest.raises(FileNotFoundError, match=r"bqplot/index\.js was not found"):
        export_html(tmp_path / "x.html", fig)


def test_the_vendored_files_were_built():
    embed = STATIC / "embed"
    versions = json.loads((embed / "versions.json").read_text())
    assert versions["@jupyter-widgets/html-manager"].startswith("1.")
    manager = (embed / "embed-amd.js").read_text(encoding="utf-8")
    # The Font Awesome fonts are inlined, so the page asks no file for them.
    assert "data:font/woff2;base64," in manager
    assert not re.search(r'\.p\+"[0-9a-f]{20}\.(?:woff2?|ttf|eot|svg)"', manager)
