"""Write widgets to one self-contained HTML file that needs no kernel and no network.

Everything the page needs is inlined: require.js, the AMD build of
``@jupyter-widgets/html-manager`` (both vendored into ``static/embed/`` by
``js/build.mjs``), the AMD bundles that the widget libraries' wheels install
under ``share/jupyter/nbextensions/`` (bqplot, bqscales, jupyter-threejs and
its three.js, anywidget, ...) and the widget state. The page works from
``file://`` and makes no request to a CDN.

Each inlined AMD bundle is an anonymous ``define([...], factory)``; a small
wrapper names it (``"bqplot"``, ``"three"``, ...) while its script runs, so
require.js finds it by name and never goes looking for a file.

NaN and infinities outside the binary arrays (a probe's loss, a scale's
bound) are not JSON, and one of them made the page's ``JSON.parse`` of the
state fail, leaving a blank page. The state holds each as a tagged string
(:data:`NON_FINITE_TAG` followed by ``NaN``, ``Infinity`` or ``-Infinity``)
and a small script wraps the page's ``JSON.parse`` to turn those strings
back into numbers, so the widgets get the values a kernel holds. (A live
kernel's messages turn them into the strings ``"nan"``/``"inf"``, through
jupyter_client's ``json_clean``; the page is more faithful.)
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import sys
from pathlib import Path

from ipywidgets import DOMWidget, Widget
from ipywidgets.embed import dependency_state, embed_data, escape_script

from ..wire.assets import STATIC

try:
    from jupyter_core.paths import jupyter_path
except ImportError:  # pragma: no cover - jupyter_core comes with ipykernel
    jupyter_path = None

__all__ = ["NON_FINITE_TAG", "export_html"]

NON_FINITE_TAG = "__landscape_widgets_non_finite__:"
"""Prefix of the strings that stand for NaN and +-inf in an exported page's state."""

_EMBED = STATIC / "embed"
_EMBED_FILES = ("require.js", "embed-amd.js")

# Modules the html-manager bundle defines itself.
_BUILTIN_MODULES = frozenset(
    {
        "@jupyter-widgets/base",
        "@jupyter-widgets/controls",
        "@jupyter-widgets/output",
        "@jupyter-widgets/html-manager",
    }
)
# AMD modules a widget module needs besides itself: {module: {name: nbextension file}}.
_EXTRA_MODULES = {"jupyter-threejs": {"three": "jupyter-threejs/three.js"}}

# Before the manager parses the state: JSON.parse turns the tagged strings back
# into NaN and +-inf. Only texts that hold the tag take the slower reviver path.
_REVIVE_NON_FINITE = """(function () {
  var tag = TAG;
  var names = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };
  var parse = JSON.parse;
  function revive(key, value) {
    if (typeof value === "string" && value.lastIndexOf(tag, 0) === 0) {
      var name = value.slice(tag.length);
      if (Object.prototype.hasOwnProperty.call(names, name)) return names[name];
    }
    return value;
  }
  JSON.parse = function (text, reviver) {
    if (reviver || typeof text !== "string" || text.indexOf(tag) === -1) {
      return parse.apply(this, arguments);
    }
    return parse.call(this, text, revive);
  };
})();""".replace("TAG", json.dumps(NON_FINITE_TAG))

# Before each inlined AMD bundle: make its first anonymous define() a named one.
_DEFINE_AS = """(function () {
  var amdDefine = window.define;
  window.__lwDefineAs = function (name) {
    var named = false;
    var wrapped = function () {
      var args = Array.prototype.slice.call(arguments);
      if (!named && typeof args[0] !== "string") {
        args.unshift(name);
        named = true;
      }
      return amdDefine.apply(this, args);
    };
    wrapped.amd = amdDefine.amd;
    window.define = wrapped;
  };
  window.__lwDefineDone = function () {
    window.define = amdDefine;
  };
})();"""

# Light-theme values of the JupyterLab variables that widget stylesheets
# (bqplot's above all) read: without them bqplot's plot area is filled black.
# The html-manager bundle injects its own copy when it starts (that one wins);
# these make the page right before it does, or if a manager version does not.
_THEME_CSS = """:root {
  --jp-border-width: 1px;
  --jp-border-color0: #616161;
  --jp-border-color1: #bdbdbd;
  --jp-border-color2: #e0e0e0;
  --jp-border-color3: #eeeeee;
  --jp-ui-font-color0: rgba(0, 0, 0, 1);
  --jp-ui-font-color1: rgba(0, 0, 0, 0.87);
  --jp-ui-font-color2: rgba(0, 0, 0, 0.54);
  --jp-ui-font-color3: rgba(0, 0, 0, 0.38);
  --jp-content-font-color0: rgba(0, 0, 0, 1);
  --jp-content-font-color1: rgba(0, 0, 0, 0.87);
  --jp-content-font-color2: rgba(0, 0, 0, 0.54);
  --jp-content-font-color3: rgba(0, 0, 0, 0.38);
  --jp-layout-color0: white;
  --jp-layout-color1: white;
  --jp-layout-color2: #eeeeee;
  --jp-layout-color3: #bdbdbd;
  --jp-layout-color4: #757575;
  --jp-ui-font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  --jp-content-font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
}
body {
  margin: 16px;
  background: var(--jp-layout-color0);
  color: var(--jp-content-font-color1);
  font-family: var(--jp-content-font-family);
}
.widget-subarea {
  margin-bottom: 16px;
}"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="landscape_widgets.export_html">
<title>{title}</title>
<style>
{theme_css}
</style>
{scripts}
<script type="application/vnd.jupyter.widget-state+json">
{state}
</script>
</head>
<body>
{views}
</body>
</html>
"""


def export_html(
    path: str | os.PathLike, *widgets: Widget, title: str = "landscape-widgets"
) -> Path:
    """Write widgets to one self-contained HTML file, viewable with no kernel and no network.

    The page inlines require.js, the ``@jupyter-widgets/html-manager`` widget
    manager, the JavaScript of every widget library the widgets use (anywidget,
    bqplot, pythreejs, ...) and the widgets' state, so it opens from disk
    (``file://``) or any static host and never contacts a CDN. The widgets are
    live in the page (a bqplot figure pans, a pythreejs scene turns) but no
    Python runs: callbacks and kernel-side updates are not part of the export.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write the HTML file (overwritten if it exists).
    *widgets : ipywidgets.DOMWidget
        The widgets to show, top to bottom: a :class:`LandscapeWidget`, bqplot
        ``Figure``, pythreejs ``Renderer``, or ipywidgets boxes holding them.
        Widgets they refer to (children, marks, scales, scenes) come along.
    title : str, optional
        The page title. Default ``"landscape-widgets"``.

    Returns
    -------
    pathlib.Path
        The path of the written file.

    Raises
    ------
    TypeError
        If no widget is given, or an argument is not a displayable widget.
    FileNotFoundError
        If the vendored JavaScript is missing (build it: ``cd js && npm run
        build``) or a widget library's JavaScript is not installed.

    Examples
    --------
    >>> from ipywidgets import VBox
    >>> from landscape_widgets import LandscapeWidget, export_html
    >>> w = LandscapeWidget(surf, title="spirals MLP")  # doctest: +SKIP
    >>> export_html("landscape.html", VBox([w, fig]), title="spirals")  # doctest: +SKIP
    PosixPath('landscape.html')
    """
    if isinstance(path, Widget) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "export_html(path, *widgets): the first argument is the file to write, a str or "
            f"os.PathLike; got {type(path).__name__}"
        )
    if not widgets:
        raise TypeError("export_html() needs at least one widget to show after the path")
    for i, widget in enumerate(widgets):
        if not isinstance(widget, DOMWidget):
            kind = "a widget with no view" if isinstance(widget, Widget) else "not a widget"
            raise TypeError(
                f"export_html() argument {i + 1} is {type(widget).__name__} ({kind}); "
                f"expected a displayable ipywidgets DOMWidget such as LandscapeWidget, "
                f"a bqplot Figure, a pythreejs Renderer or a VBox/HBox of them"
            )
        if widget.comm is None:
            raise TypeError(f"export_html() argument {i + 1} ({type(widget).__name__}) is closed")

    embed = _read_embed_files()
    state = dependency_state(list(widgets), drop_defaults=False)
    data = embed_data(list(widgets), drop_defaults=False, state=state)

    scripts = [_script(embed["require.js"]), _script(_DEFINE_AS), _script(_REVIVE_NON_FINITE)]
    for name, source in _widget_modules(state).items():
        scripts.append(_script(f"__lwDefineAs({json.dumps(name)});"))
        scripts.append(_script(source))
        scripts.append(_script("__lwDefineDone();"))
    # Last: it defines the manager and renders the views once the page has loaded.
    scripts.append(_script(embed["embed-amd.js"]))

    views = "\n".join(
        '<script type="application/vnd.jupyter.widget-view+json">\n'
        f"{escape_script(_strict_json(spec))}\n</script>"
        for spec in data["view_specs"]
    )
    page = _PAGE.format(
        title=html.escape(str(title)),
        theme_css=_THEME_CSS,
        scripts="\n".join(scripts),
        state=escape_script(_strict_json(data["manager_state"])),
        views=views,
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def _strict_json(value) -> str:
    """JSON a browser parses: non-finite floats become :data:`NON_FINITE_TAG` strings."""
    return json.dumps(_tag_non_finite(value), allow_nan=False)


def _tag_non_finite(value):
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        name = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return NON_FINITE_TAG + name
    if isinstance(value, str) and value.startswith(NON_FINITE_TAG):
        # the page would read it back as a number
        raise ValueError(f"a widget's state holds the reserved string {value!r}; rename it")
    if isinstance(value, dict):
        return {k: _tag_non_finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag_non_finite(v) for v in value]
    return value


def _read_embed_files() -> dict[str, str]:
    """require.js and the html-manager's AMD bundle, vendored by ``js/build.mjs``."""
    missing = [name for name in _EMBED_FILES if not (_EMBED / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"export_html needs the vendored JavaScript {', '.join(missing)} in {_EMBED}, "
            "which is missing: build the JS first (cd js && npm run build), "
            "or reinstall landscape_widgets"
        )
    return {
        name: _strip_source_maps((_EMBED / name).read_text(encoding="utf-8"))
        for name in _EMBED_FILES
    }


def _nbextension_dirs() -> list[Path]:
    """Where widget libraries install their AMD bundles, this environment's first."""
    dirs = [Path(sys.prefix) / "share" / "jupyter" / "nbextensions"]
    if jupyter_path is not None:
        dirs += [Path(p) for p in jupyter_path("nbextensions")]
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def _find_nbextension(relative: str) -> Path:
    dirs = _nbextension_dirs()
    for d in dirs:
        candidate = d / relative
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"export_html: the widget JavaScript {relative} was not found in "
        f"{', '.join(str(d) for d in dirs)}; is the widget library's wheel installed "
        "in this environment?"
    )


def _needed_modules(state: dict) -> list[str]:
    """The widget modules (model and view) that the state refers to, sorted."""
    modules: set[str] = set()
    for entry in state.values():
        modules.add(entry.get("model_module", ""))
        modules.add(entry.get("state", {}).get("_view_module") or "")
    return sorted(m for m in modules if m and m not in _BUILTIN_MODULES)


def _widget_modules(state: dict) -> dict[str, str]:
    """{AMD module name: source} of every widget library the state needs."""
    files: dict[str, str] = {}
    for module in _needed_modules(state):
        files.update(_EXTRA_MODULES.get(module, {}))
        files[module] = f"{module}/index.js"
    return {
        name: _strip_source_maps(_find_nbextension(rel).read_text(encoding="utf-8"))
        for name, rel in files.items()
    }


_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


def _strip_source_maps(source: str) -> str:
    """Drop ``//# sourceMappingURL=`` lines: the maps are not inlined."""
    return _SOURCE_MAP.sub("", source)


def _script(source: str) -> str:
    """One inline ``<script>``; as a base64 ``data:`` URL when the source could
    end the element early or confuse the HTML parser (``</script``, ``<!--``)."""
    if re.search(r"</script|<!--", source, re.IGNORECASE):
        encoded = base64.b64encode(source.encode("utf-8")).decode("ascii")
        return f'<script src="data:text/javascript;base64,{encoded}"></script>'
    return f"<script>\n{source}\n</script>"
