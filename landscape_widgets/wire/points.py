"""Points and paths on a plane, as the widgets hold them (see notes/widgets-api.md).

A point is ``{"name", "x", "y", "role", "label"}`` in plane coordinates; a
path is ``{"name", "kind", "points", "color"}`` drawn through named points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

ROLES = ("anchor", "probe", "path")
PATH_KINDS = ("segment", "polyline", "bezier")
# Colours per role, the same in the 2D map and the 3D surface.
# (not magenta: that is the colour of masked NaN/inf cells)
ROLE_COLORS = {"anchor": "#ffffff", "probe": "#ff8c00", "path": "#e6194b"}
PATH_COLORS = ("#e6194b", "#17becf", "#e6ab02", "#7f7f7f")


def check_points(points: Any) -> list[dict]:
    """Validate a list of point dicts; return it normalised (floats, label filled in).

    Raises ValueError naming the offending point.
    """
    if not isinstance(points, Sequence) or isinstance(points, (str, bytes)):
        raise ValueError(f"points must be a list of dicts, got {type(points).__name__}")
    out, seen = [], set()
    for k, p in enumerate(points):
        if not isinstance(p, Mapping):
            raise ValueError(f"point {k} must be a dict, got {type(p).__name__}")
        missing = [key for key in ("name", "x", "y", "role") if key not in p]
        if missing:
            raise ValueError(f"point {k} ({p.get('name', '?')!r}) lacks {', '.join(missing)}")
        name = str(p["name"])
        if name in seen:
            raise ValueError(f"two points are named {name!r}")
        seen.add(name)
        if p["role"] not in ROLES:
            raise ValueError(f"point {name!r} has role {p['role']!r}; roles are {ROLES}")
        try:
            x, y = float(p["x"]), float(p["y"])
        except (TypeError, ValueError):
            raise ValueError(f"point {name!r} needs numeric x and y") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"point {name!r} has non-finite coordinates ({x}, {y})")
        out.append(
            {"name": name, "x": x, "y": y, "role": p["role"], "label": str(p.get("label", name))}
        )
    return out


def check_paths(paths: Any) -> list[dict]:
    """Validate a list of path dicts; return it normalised (colour filled in)."""
    if not isinstance(paths, Sequence) or isinstance(paths, (str, bytes)):
        raise ValueError(f"paths must be a list of dicts, got {type(paths).__name__}")
    out, seen = [], set()
    for k, p in enumerate(paths):
        if not isinstance(p, Mapping) or "name" not in p or "points" not in p:
            raise ValueError(f"path {k} must be a dict with 'name' and 'points'")
        name = str(p["name"])
        if name in seen:
            raise ValueError(f"two paths are named {name!r}")
        seen.add(name)
        kind = p.get("kind", "segment")
        if kind not in PATH_KINDS:
            raise ValueError(f"path {name!r} has kind {kind!r}; kinds are {PATH_KINDS}")
        names = [str(n) for n in p["points"]]
        need = 2 if kind != "bezier" else 3
        if len(names) < need or (kind == "segment" and len(names) != 2):
            raise ValueError(
                f"a {kind} path needs {'exactly 2' if kind == 'segment' else need}"
                f"{' or more' if kind != 'segment' else ''} points, {name!r} has "
                f"{len(names)}"
            )
        color = str(p.get("color", PATH_COLORS[k % len(PATH_COLORS)]))
        out.append({"name": name, "kind": kind, "points": names, "color": color})
    return out


def bezier(control: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points of the Bezier curve with ``control`` points (k+1, d) at parameters ``t``.

    The Bernstein form: sum_i C(k, i) (1-t)^(k-i) t^i P_i.
    """
    control = np.asarray(control, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[:, None]
    k = len(control) - 1
    out = np.zeros((t.shape[0], control.shape[1]))
    for i, p in enumerate(control):
        out += math.comb(k, i) * (1 - t) ** (k - i) * t**i * p
    return out


def path_coords(path: Mapping, where: Mapping[str, tuple[float, float]], n: int = 41):
    """``(t, xy)`` along a path: n parameters in [0, 1] and their plane coordinates.

    A polyline's t is proportional to length along it; a segment's and a
    Bezier curve's is the curve parameter.
    """
    ctrl = np.array([where[name] for name in path["points"]], dtype=np.float64)
    t = np.linspace(0.0, 1.0, n)
    if path["kind"] == "bezier":
        return t, bezier(ctrl, t)
    if path["kind"] == "segment":
        return t, ctrl[0] + t[:, None] * (ctrl[1] - ctrl[0])
    lengths = np.linalg.norm(np.diff(ctrl, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    if cum[-1] == 0:
        return t, np.repeat(ctrl[:1], n, axis=0)
    s = t * cum[-1]
    return t, np.stack([np.interp(s, cum, ctrl[:, 0]), np.interp(s, cum, ctrl[:, 1])], axis=1)
