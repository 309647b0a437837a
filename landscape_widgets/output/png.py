"""Headless rendering of a loss surface to a PNG file.

The picture matches the notebook widget (``js/src/landscape.js``): the same
colour maps, read from the same lookup tables (``js/src/colormaps.json``,
copied next to the bundle as ``static/colormaps.json`` by the JS build), the
same normalisations, layout and tick rules. It needs only numpy and Pillow,
so it runs where there is no browser: in CI, in scripts, on a cluster node.

Over 500 lines because it mirrors ``js/src/draw.js`` step by step (layout,
ticks, contours, labels, legend) so the file and the page draw the same picture.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..wire.assets import shared_table

# Plot layout in pixels; the same numbers as MARGIN and COLORBAR in js/src/axes.js.
MARGIN = {"left": 58, "right": 92, "top": 30, "bottom": 42}
COLORBAR = {"gap": 14, "width": 14}
MIN_TICK_GAP = 14  # pixels between colour-bar labels
MIN_SIZE = (MARGIN["left"] + MARGIN["right"] + 16, MARGIN["top"] + MARGIN["bottom"] + 16)


# --------------------------------------------------------------------------
# Colour maps (mirrors js/src/colormap.js)


def colormap_tables() -> dict[str, Any]:
    """The shared lookup tables: ``{"masked": [r, g, b], "maps": {name: ...}}``."""
    return shared_table("colormaps.json")


def colormap_names() -> tuple[str, ...]:
    """Names of the available colour maps, e.g. ``("viridis", "terrain")``."""
    return tuple(colormap_tables()["maps"])


def masked_color() -> tuple[int, int, int]:
    """RGB of cells whose value is NaN or +-inf."""
    r, g, b = colormap_tables()["masked"]
    return (r, g, b)


def color_at(name: str, t: Any) -> np.ndarray:
    """Colours at ``t`` in [0, 1] (clamped), linearly interpolated between stops.

    Returns a uint8 array of shape ``np.shape(t) + (3,)``; non-finite ``t``
    gives the masked colour. Components are rounded half up, as in JS.

    Examples
    --------
    >>> color_at("viridis", 0.0).tolist()
    [68, 1, 84]
    """
    maps = colormap_tables()["maps"]
    if name not in maps:
        raise ValueError(f"unknown colour map {name!r} (have: {', '.join(maps)})")
    positions = np.asarray(maps[name]["positions"], dtype=np.float64)
    colors = np.asarray(maps[name]["colors"], dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    finite = np.isfinite(t)
    s = np.clip(np.where(finite, t, 0.0), 0.0, 1.0)
    # Segment i: how many interior stops lie strictly below s (JS walks the same way).
    i = np.searchsorted(positions[1:-1], s, side="left")
    p0, p1 = positions[i], positions[i + 1]
    f = np.where(p1 > p0, (s - p0) / np.where(p1 > p0, p1 - p0, 1.0), 0.0)
    rgb = np.floor(colors[i] + f[..., None] * (colors[i + 1] - colors[i]) + 0.5)
    rgb = np.where(finite[..., None], rgb, np.asarray(masked_color(), dtype=np.float64))
    return rgb.astype(np.uint8)


def lookup_table(name: str, n: int = 256) -> np.ndarray:
    """``n`` colours sampled evenly from t = 0 to 1, shape (n, 3), uint8."""
    return color_at(name, np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1))


def finite_range(values: np.ndarray) -> tuple[float, float] | None:
    """Smallest and largest finite value, or None when there is none."""
    finite = np.asarray(values)[np.isfinite(values)]
    if finite.size == 0:
        return None
    return float(finite.min()), float(finite.max())


def normalize(values: np.ndarray, vmin: float, vmax: float, log: bool = False) -> np.ndarray:
    """Map values onto [0, 1]: linearly, or logarithmically when ``log``.

    Non-finite values map to NaN; a flat range maps to 0.5. The log map is
    log(v / vmin) / log(vmax / vmin) when vmin > 0; otherwise values are first
    shifted so that vmin sits 1e-3 of the range above zero.
    """
    v = np.asarray(values, dtype=np.float64)
    span = vmax - vmin
    with np.errstate(invalid="ignore", divide="ignore"):
        if not span > 0:
            out = np.full(v.shape, 0.5)
        elif not log:
            out = (v - vmin) / span
        else:
            offset = 0.0 if vmin > 0 else vmin - span * 1e-3
            lo, hi = math.log(vmin - offset), math.log(vmax - offset)
            tiny = np.finfo(np.float64).tiny
            out = (np.log(np.maximum(v - offset, tiny)) - lo) / (hi - lo)
    return np.where(np.isfinite(v), out, np.nan)


def spans_decades(values: np.ndarray, factor: float = 10.0) -> bool:
    """Whether a logarithmic scale suits ``values``: every finite value is positive
    and the largest is more than ``factor`` times the smallest."""
    rng = finite_range(np.asarray(values, dtype=np.float64))
    return rng is not None and rng[0] > 0 and rng[1] > factor * rng[0]


def colorize(
    values: np.ndarray,
    name: str = "viridis",
    log: bool = False,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """RGB image (uint8, shape ``values.shape + (3,)``) of a grid of values.

    The range is ``value_range`` (values outside it clamp) or that of the
    finite values; NaN and inf get the masked colour. Uses a 256-entry lookup
    table, as the widget does.
    """
    v = np.asarray(values, dtype=np.float32)
    lut = lookup_table(name, 256)
    rng = finite_range(v) if value_range is None else tuple(map(float, value_range))
    out = np.empty(v.shape + (3,), dtype=np.uint8)
    out[...] = masked_color()
    if rng is None:
        return out
    t = normalize(v, rng[0], rng[1], log)
    finite = np.isfinite(t)
    idx = np.floor(np.clip(t[finite], 0.0, 1.0) * 255 + 0.5).astype(np.intp)
    out[finite] = lut[idx]
    return out


# --------------------------------------------------------------------------
# Ticks and layout (mirrors js/src/axes.js)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round-numbered ticks (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(1, target)
    mag = 10.0 ** math.floor(math.log10(raw))
    f = raw / mag
    step = (1 if f < 1.5 else 2 if f < 3 else 5 if f < 7 else 10) * mag
    eps = step * 1e-9
    k = math.ceil((lo - eps) / step)
    out = []
    while k * step <= hi + eps:
        out.append(float(f"{k * step:.12g}"))
        k += 1
    return out


def log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks per decade over [lo, hi] (lo > 0), thinned when there are many."""
    if not (lo > 0 and hi > lo):
        return nice_ticks(lo, hi)
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = float(f"{m * 10.0**e:.12g}")
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                out.append(v)
    if len(out) > 8:
        return [v for v in out if abs(math.log10(v) - round(math.log10(v))) < 1e-9]
    return out if len(out) >= 2 else nice_ticks(lo, hi)


def format_tick(v: float) -> str:
    """Short label for a tick value, as the page writes it (axes.js formatTick): plain
    numbers (20, 10000, 0.005), exponents only past a million or below 1e-3."""
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-3:
        return f"{v:.1e}"
    return f"{float(f'{v:.4g}'):.12g}"


def plot_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Plot area ``(x0, y0, x1, y1)`` in a width x height image (x1, y1 exclusive)."""
    x1 = max(MARGIN["left"] + 1, width - MARGIN["right"])
    y1 = max(MARGIN["top"] + 1, height - MARGIN["bottom"])
    return MARGIN["left"], MARGIN["top"], x1, y1


def equal_box(box: tuple[int, int, int, int], x, y) -> tuple[int, int, int, int]:
    """``box`` narrowed about its centre to the shape of the grid's cells (x, y its
    axes), so that a plane unit is as many pixels along x as along y."""
    x0, y0, x1, y1 = box
    (xa, xb), (ya, yb) = cell_extent(x[0], x[-1], len(x)), cell_extent(y[0], y[-1], len(y))
    per = max((xb - xa) / (x1 - x0), (yb - ya) / (y1 - y0))
    bw, bh = round((xb - xa) / per), round((yb - ya) / per)
    left, top = x0 + (x1 - x0 - bw) // 2, y0 + (y1 - y0 - bh) // 2
    return left, top, left + bw, top + bh


def cell_extent(first: float, last: float, n: int) -> tuple[float, float]:
    """Extent of n cells centred on an even axis from first to last."""
    if n <= 1:
        return first - 0.5, first + 0.5
    half = (last - first) / (n - 1) / 2
    return first - half, last + half


# --------------------------------------------------------------------------
# Surfaces


def surface_arrays(
    surface: Any, metric: str = "loss"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, tuple[float, float]]]:
    """Check a Surface-like object and return ``(x, y, grid, anchors)``.

    ``grid`` is float32 of shape ``(len(y), len(x))`` (NaN and inf kept);
    ``metric`` is ``"loss"`` or a key of ``surface.metrics``. Raises TypeError
    for an object that is not surface-like and ValueError for bad contents.
    """
    missing = [a for a in ("x", "y", "loss") if not hasattr(surface, a)]
    if missing:
        raise TypeError(
            f"expected a Surface (with x, y and loss), got {type(surface).__name__} "
            f"without {', '.join(missing)}"
        )
    x = _axis(surface.x, "x")
    y = _axis(surface.y, "y")
    if metric == "loss":
        values = surface.loss
    else:
        metrics = getattr(surface, "metrics", None) or {}
        if metric not in metrics:
            have = ", ".join(["loss", *metrics])
            raise ValueError(f"surface has no metric {metric!r} (have: {have})")
        values = metrics[metric]
    grid = np.asarray(values)
    if grid.ndim != 2 or grid.shape != (y.size, x.size):
        raise ValueError(
            f"{metric} grid has shape {grid.shape}, expected (len(y), len(x)) = "
            f"({y.size}, {x.size})"
        )
    if not np.issubdtype(grid.dtype, np.number) or np.iscomplexobj(grid):
        raise ValueError(f"{metric} grid must be real numbers, got dtype {grid.dtype}")
    with np.errstate(over="ignore"):
        grid = grid.astype(np.float32)
    anchors = check_anchors(getattr(surface, "anchors", None) or {})
    return x, y, grid, anchors


def _axis(values: Any, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"surface.{name} must be a non-empty 1-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"surface.{name} has non-finite coordinates")
    if a.size > 1:
        step = np.diff(a)
        if not np.all(step > 0):
            raise ValueError(f"surface.{name} must increase strictly")
        if np.ptp(step) > 1e-3 * abs(step.mean()):
            raise ValueError(f"surface.{name} must be evenly spaced")
    return a


def check_anchors(anchors: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Validate ``{name: (x, y)}`` and return it with plain float pairs."""
    if not isinstance(anchors, Mapping):
        raise ValueError(f"anchors must be a dict of name -> (x, y), got {type(anchors).__name__}")
    out = {}
    for name, point in anchors.items():
        try:
            px, py = (float(v) for v in point)
        except (TypeError, ValueError):
            raise ValueError(f"anchor {name!r} must be an (x, y) pair, got {point!r}") from None
        if not (math.isfinite(px) and math.isfinite(py)):
            raise ValueError(f"anchor {name!r} has non-finite coordinates {point!r}")
        out[str(name)] = (px, py)
    return out


# --------------------------------------------------------------------------
# Drawing


# Pillow's built-in font has no Greek and few symbols: these are written out.
_SPELLED = {
    "δ": "delta", "η": "eta", "θ": "theta", "λ": "lambda", "φ": "phi", "α": "alpha",
    "β": "beta", "Σ": "Sigma", "−": "-", "–": "-", "—": "-", "⊥": "perp", "…": "...",
    "·": "-", "≤": "<=", "≥": ">=",
}  # fmt: skip


def printable(text: str) -> str:
    """``text`` in the characters the headless renderer's font has: Greek letters and
    a few symbols spelled out (δ -> delta, − -> -), anything else beyond Latin-1 as "?"."""
    out = "".join(_SPELLED.get(c, c) for c in str(text))
    return "".join(c if ord(c) < 256 else "?" for c in out)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def render_image(
    surface: Any,
    colormap: str = "viridis",
    log: bool = False,
    size: tuple[int, int] = (640, 480),
    title: str | None = None,
    metric: str = "loss",
    value_range: tuple[float, float] | None = None,
    lines: Sequence[tuple[Any, tuple[int, int, int]]] = (),
    squares: Mapping[str, Sequence[float]] | None = None,
    axis_names: Sequence[str] | None = None,
    aspect: str | None = None,
):
    """Draw a surface as a PIL image; see :func:`render_png` for the arguments.

    ``value_range`` fixes the colour scale (frames of an animation share
    one); ``lines`` are ``(xy of shape (n, 2), rgb)`` polylines in plane
    coordinates and ``squares`` named points drawn as the widget draws path
    points. ``axis_names`` default to the surface's ``provenance["axis_names"]``,
    else "x" and "y". ``aspect="equal"`` (the default when the provenance says
    the axes share units) narrows the plot to the grid's shape, so a plane unit
    is as long on both axes; ``"free"`` fills the plot.
    """
    prov = getattr(surface, "provenance", None) or {}
    if aspect is None:
        aspect = "equal" if prov.get("same_units") else "free"
    if aspect not in ("equal", "free", "unequal"):
        raise ValueError(f"aspect must be 'equal', 'free' or 'unequal', not {aspect!r}")
    if axis_names is None:
        axis_names = (getattr(surface, "provenance", None) or {}).get("axis_names") or ("x", "y")
    xname, yname = (printable(n) for n in axis_names)
    title = printable(title) if title else title
    width, height = (int(s) for s in size)
    if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
        raise ValueError(f"size {size} is too small, need at least {MIN_SIZE}")
    if colormap not in colormap_names():
        raise ValueError(f"unknown colour map {colormap!r} (have: {', '.join(colormap_names())})")
    x, y, grid, anchors = surface_arrays(surface, metric)
    ny, nx = grid.shape
    x0, y0, x1, y1 = plot_box(width, height)
    if aspect == "equal":
        x0, y0, x1, y1 = equal_box((x0, y0, x1, y1), x, y)
    pw, ph = x1 - x0, y1 - y0

    img = np.full((height, width, 3), 255, dtype=np.uint8)
    # Nearest-cell resampling; row 0 of the grid (smallest y) at the bottom.
    cells = colorize(grid, colormap, log, value_range)[::-1]
    cols = np.minimum(((np.arange(pw) + 0.5) / pw * nx).astype(np.intp), nx - 1)
    rows = np.minimum(((np.arange(ph) + 0.5) / ph * ny).astype(np.intp), ny - 1)
    img[y0:y1, x0:x1] = cells[rows[:, None], cols[None, :]]

    # The colour bar's colours follow the normalisation, top = largest value.
    lut = lookup_table(colormap, 256)
    bx0 = x1 + COLORBAR["gap"]
    bx1 = bx0 + COLORBAR["width"]
    rng = finite_range(grid) if value_range is None else tuple(map(float, value_range))
    if rng is not None:
        k = np.floor((1 - np.arange(ph) / max(1, ph - 1)) * 255 + 0.5).astype(np.intp)
        img[y0:y1, bx0:bx1] = lut[k][:, None, :]

    im = Image.fromarray(img, "RGB")
    draw = ImageDraw.Draw(im)
    font = _font(12)
    ink = (34, 34, 34)
    draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=ink)

    if title:
        draw.text(((x0 + x1) / 2, y0 / 2), title, fill=ink, font=_font(13), anchor="mm")

    (xa, xb), (ya, yb) = cell_extent(x[0], x[-1], nx), cell_extent(y[0], y[-1], ny)

    def px(v: float) -> float:
        return x0 + (v - xa) / (xb - xa) * pw

    def py(v: float) -> float:
        return y1 - (v - ya) / (yb - ya) * ph

    for t in nice_ticks(xa, xb, 5):
        u = round(px(t))
        draw.line([u, y1, u, y1 + 5], fill=ink)
        draw.text((u, y1 + 7), format_tick(t), fill=ink, font=font, anchor="mt")
    draw.text(((x0 + x1) / 2, y1 + 26), xname, fill=ink, font=font, anchor="mt")
    for t in nice_ticks(ya, yb, 5):
        v = round(py(t))
        draw.line([x0 - 5, v, x0, v], fill=ink)
        draw.text((x0 - 7, v), format_tick(t), fill=ink, font=font, anchor="rm")
    if yname == "y":
        draw.text((14, (y0 + y1) / 2), yname, fill=ink, font=font, anchor="mm")
    else:  # a long name runs up the side, as in the widget
        box = draw.textbbox((0, 0), yname, font=font)
        label = Image.new("L", (box[2] - box[0] + 2, box[3] - box[1] + 2), 0)
        ImageDraw.Draw(label).text((1 - box[0], 1 - box[1]), yname, fill=255, font=font)
        label = label.rotate(90, expand=True)
        at = (14 - label.width // 2, int((y0 + y1) / 2 - label.height / 2))
        im.paste(Image.new("RGB", label.size, ink), at, label)

    if rng is None:
        draw.text((bx0, (y0 + y1) / 2 - 8), "no finite", fill=ink, font=font, anchor="lm")
        draw.text((bx0, (y0 + y1) / 2 + 8), "values", fill=ink, font=font, anchor="lm")
    else:
        draw.rectangle([bx0, y0, bx1 - 1, y1 - 1], outline=ink)
        lo, hi = rng
        if hi > lo:
            ticks = log_ticks(lo, hi) if log and lo > 0 else nice_ticks(lo, hi, 5)
        else:
            ticks = [lo]
        pos = normalize(np.asarray(ticks), lo, hi, log)
        last = None
        for t, p in zip(ticks, pos, strict=True):
            v = round(y1 - p * (ph - 1))
            if last is not None and abs(v - last) < MIN_TICK_GAP:
                continue  # labels would overlap (log scale crowds the top)
            last = v
            draw.line([bx1, v, bx1 + 4, v], fill=ink)
            draw.text((bx1 + 6, v), format_tick(t), fill=ink, font=font, anchor="lm")

    masked = int(np.count_nonzero(~np.isfinite(grid)))
    if masked:
        ly = y1 + 10
        draw.rectangle([bx0, ly, bx0 + 11, ly + 11], fill=masked_color(), outline=ink)
        draw.text((bx0 + 16, ly + 6), "NaN/inf", fill=ink, font=font, anchor="lm")
        draw.text((bx0 + 16, ly + 20), f"({masked})", fill=ink, font=font, anchor="lm")

    for xy, rgb in lines:
        xy = np.asarray(xy, dtype=np.float64)
        pts = [(px(a), py(b)) for a, b in xy[np.isfinite(xy).all(axis=1)]]
        if len(pts) > 1:
            draw.line(pts, fill=(255, 255, 255), width=5, joint="curve")
            draw.line(pts, fill=tuple(rgb), width=3, joint="curve")
    marks = [(n, p, "anchor") for n, p in anchors.items()]
    marks += [(n, p, "square") for n, p in (squares or {}).items()]
    for name, (ax, ay), shape in marks:
        u, v = px(ax), py(ay)
        if shape == "square":
            box = [u - 5, v - 5, u + 5, v + 5]
            draw.rectangle(box, fill=(230, 25, 75), outline=(255, 255, 255))
        else:
            draw.ellipse(
                [u - 5, v - 5, u + 5, v + 5], fill=(255, 255, 255), outline=(0, 0, 0), width=2
            )
        draw.text(
            (u + 7, v - 4),
            printable(name),
            fill=(0, 0, 0),
            font=font,
            anchor="lb",
            stroke_width=2,
            stroke_fill=(255, 255, 255),
        )
    return im


def render_png(surface: Any, path: str | os.PathLike[str], **style: Any) -> Path:
    """Write a surface to a PNG: a filled colour map, colour bar and anchors.

    Parameters
    ----------
    surface : Surface
        Anything with ``x`` (1-D), ``y`` (1-D), ``loss`` of shape
        ``(len(y), len(x))``, and optionally ``metrics`` and ``anchors``.
    path : path-like
        Where to write the PNG; parent folders are created.
    **style
        The look, as keyword arguments of :func:`render_image` (below).

    Other Parameters
    ----------------
    colormap : str
        ``"viridis"`` (default) or ``"terrain"``: the widget's colour maps.
    log : bool
        Logarithmic colour scale (good for losses spanning decades).
    size : (int, int)
        Width and height of the image in pixels.
    title : str, optional
        Drawn above the plot.
    metric : str
        ``"loss"`` or the name of one of ``surface.metrics``.
    value_range : (lo, hi), optional
        The values at the ends of the colour scale (default the finite range).
    axis_names : (str, str), optional
        Names under and beside the axes (default the surface's plane's, else x, y).
    aspect : {"equal", "free"}, optional
        Equal aspect narrows the plot to the grid's shape; default "equal" when
        ``surface.provenance["same_units"]`` says the axes share units.

    Returns
    -------
    Path
        The written file. NaN and inf cells are drawn in the masked colour
        (:func:`masked_color`) with a legend entry counting them.

    Examples
    --------
    >>> surf = Landscape(model, loss_fn, (X, y)).evaluate(plane, resolution=32)  # doctest: +SKIP
    >>> render_png(surf, "landscape.png", log=True)  # doctest: +SKIP
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if style.keys() & {"lines", "squares"}:
        raise TypeError("render_png draws a surface alone; lines and squares are render_image's")
    render_image(surface, **style).save(out, format="PNG")
    return out
