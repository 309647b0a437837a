"""Points and paths on a plane, as the widgets hold them (see docs/api.md).

A point is ``{"name", "x", "y", "role", "label"}`` in plane coordinates; a
path is ``{"name", "kind", "points", "color"}`` drawn through named points.
The 2D map and the 3D surface both validate with :func:`check_points` and
:func:`check_paths`, so they accept the same entries and fill in the same
defaults. The role colours come from the style table the page draws with
(``styles.json``), so a point has one colour in Python, the map and the surface.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import traitlets

from .assets import shared_table

ROLES = ("anchor", "probe", "path")
PATH_KINDS = ("segment", "polyline", "bezier")
#: The keys a point may have; ``label`` is optional (default: the name).
POINT_KEYS = ("name", "x", "y", "role", "label")
#: The keys a path may have; ``kind`` (default ``"segment"``) and ``color`` are optional.
PATH_KEYS = ("name", "kind", "points", "color")
#: Fewest control points of each path kind (a segment takes exactly two).
FEWEST_POINTS = {"segment": 2, "polyline": 2, "bezier": 3}

_STYLES = shared_table("styles.json")
#: Marker fill of each role. (Never magenta: that is the colour of masked NaN/inf cells.)
ROLE_COLORS = {role: _STYLES["roles"][role]["fill"] for role in ROLES}
#: Colours given to paths without one, by their place in the list.
PATH_COLORS = tuple(_STYLES["path_colors"])


def _named_entries(
    value: Any, kind: str, required: tuple[str, ...], allowed: tuple[str, ...]
) -> Iterator[tuple[int, str, Mapping]]:
    """``(index, name, entry)`` of each dict of a points or paths list, checked so far
    as both have in common: a list of dicts with the required keys, no others, and
    unique non-empty names. ``kind`` ("point" or "path") names the entries in errors."""
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ValueError(f"{kind}s must be a list of dicts, got {type(value).__name__}")
    seen: set[str] = set()
    for k, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            raise ValueError(f"{kind} {k} must be a dict, got {type(entry).__name__}")
        where = f"{kind} {k}" + (f" ({entry['name']!r})" if "name" in entry else "")
        missing = [key for key in required if key not in entry]
        if missing:
            raise ValueError(
                f"{where} lacks {', '.join(missing)} (a {kind} needs {', '.join(required)})"
            )
        unknown = sorted(str(key) for key in entry if key not in allowed)
        if unknown:
            raise ValueError(
                f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
            )
        name = entry["name"]
        if not isinstance(name, str) or not name:
            raise ValueError(f"{kind} {k}: name must be a non-empty str, got {name!r}")
        if name in seen:
            raise ValueError(f"two {kind}s are named {name!r}")
        seen.add(name)
        yield k, name, entry


def _coordinate(value: Any, point: str, axis: str) -> float:
    # any real scalar: Python and numpy numbers, and the 0-d tensors and arrays that
    # Plane.project and friends return (but not bools, strings or complex numbers)
    scalar = isinstance(value, numbers.Real) or (
        hasattr(value, "ndim") and value.ndim == 0 and not isinstance(value, (str, bytes))
    )
    if isinstance(value, bool) or not scalar:
        raise ValueError(f"point {point!r}: {axis} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"point {point!r}: {axis} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"point {point!r} has a non-finite {axis} ({v})")
    return v


def check_points(value: Any) -> list[dict]:
    """Validate a ``points`` list and return it normalised.

    Parameters
    ----------
    value : list of dict
        Entries ``{"name", "x", "y", "role"}`` and optionally ``"label"``; no
        other keys. Names are unique non-empty strings, ``x`` and ``y`` finite
        real numbers, ``role`` one of :data:`ROLES`.

    Returns
    -------
    list of dict
        ``{"name", "x", "y", "role", "label"}`` with float coordinates and the
        label defaulting to the name.

    Raises
    ------
    ValueError
        Naming the offending entry (by index and name).
    """
    out = []
    for _, name, p in _named_entries(value, "point", ("name", "x", "y", "role"), POINT_KEYS):
        if p["role"] not in ROLES:
            raise ValueError(
                f"point {name!r} has unknown role {p['role']!r}; roles are {', '.join(ROLES)}"
            )
        x, y = _coordinate(p["x"], name, "x"), _coordinate(p["y"], name, "y")
        label = p.get("label")
        if label is None:
            label = name
        if not isinstance(label, str):
            raise ValueError(f"point {name!r}: label must be a str, got {type(label).__name__}")
        out.append({"name": name, "x": x, "y": y, "role": p["role"], "label": label})
    return out


def check_paths(value: Any) -> list[dict]:
    """Validate a ``paths`` list and return it normalised.

    Parameters
    ----------
    value : list of dict
        Entries ``{"name", "points"}`` and optionally ``"kind"`` (one of
        :data:`PATH_KINDS`, default ``"segment"``) and ``"color"`` (a CSS
        colour); no other keys. ``points`` names the control points in order:
        exactly 2 for a segment, at least :data:`FEWEST_POINTS` of the kind
        otherwise. The points need not exist (yet): a path is drawn once they do.

    Returns
    -------
    list of dict
        ``{"name", "kind", "points", "color"}``; a path without a colour gets
        ``PATH_COLORS[index % len(PATH_COLORS)]``.

    Raises
    ------
    ValueError
        Naming the offending entry (by index and name).
    """
    out = []
    for k, name, p in _named_entries(value, "path", ("name", "points"), PATH_KEYS):
        kind = p.get("kind", "segment")
        if kind not in PATH_KINDS:
            raise ValueError(
                f"path {name!r} has unknown kind {kind!r}; kinds are {', '.join(PATH_KINDS)}"
            )
        names = p["points"]
        if (
            isinstance(names, (str, bytes))
            or not isinstance(names, Sequence)
            or not all(isinstance(n, str) for n in names)
        ):
            raise ValueError(f"path {name!r}: points must be a list of point names, got {names!r}")
        if kind == "segment" and len(names) != 2:
            raise ValueError(f"path {name!r}: a segment needs exactly 2 points, got {len(names)}")
        if len(names) < FEWEST_POINTS[kind]:
            raise ValueError(
                f"path {name!r}: a {kind} needs at least {FEWEST_POINTS[kind]} points, "
                f"got {len(names)}"
            )
        color = p.get("color") or PATH_COLORS[k % len(PATH_COLORS)]
        if not isinstance(color, str):
            raise ValueError(f"path {name!r}: color must be a CSS colour string, got {color!r}")
        out.append({"name": name, "kind": kind, "points": list(names), "color": color})
    return out


class CheckedList(traitlets.List):
    """A list trait normalised by ``check`` (:func:`check_points` or
    :func:`check_paths`): what the check returns is stored, and its ValueError
    reaches the caller as the TraitError traitlets raises for a bad value.

    Examples
    --------
    >>> class Holder(traitlets.HasTraits):
    ...     points = CheckedList(check_points, help="points on the plane")
    >>> Holder(points=[{"name": "p", "x": 1, "y": 0, "role": "probe"}]).points[0]["label"]
    'p'
    """

    def __init__(self, check: Callable[[Any], list[dict]], **kwargs: Any) -> None:
        super().__init__(default_value=[], **kwargs)
        self._check = check

    def validate(self, obj: Any, value: Any) -> list[dict]:
        try:
            return self._check(value)
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None


def encode_steps(steps: Any, n: int) -> np.ndarray:
    """The optimisation step of each of ``n`` overlay points, checked.

    Parameters
    ----------
    steps : array-like, shape (n,)
        Finite and non-decreasing.
    n : int
        How many points the overlay has.

    Returns
    -------
    numpy.ndarray
        The steps as float64, shape (n,).
    """
    arr = np.asarray(steps, dtype=np.float64).reshape(-1)
    if len(arr) != n:
        raise ValueError(f"steps has {len(arr)} entries for {n} points")
    if not np.all(np.isfinite(arr)) or np.any(np.diff(arr) < 0):
        raise ValueError("steps must be finite and non-decreasing")
    return arr


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
