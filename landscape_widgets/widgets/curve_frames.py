"""The frames of a curve's training: the plane each one shows, and what it holds.

Every frame is a coarse loss map of the plane through the two end networks
and the curve's control points, in coordinates that do not jump: w1 at the
origin, w2 on the positive x axis at its true distance, the control points
above the axis (``Plane.through`` for one control point). The curve is drawn
in that plane (exactly, for a quadratic Bezier or a one-bend chain, whose
points all lie in it), beside the loss along it.

A frame is a dict: ``step``, ``epoch``, ``loss`` (the training loss since the
frame before; None for the first), ``grid`` (float32 ndarray of shape
(ny, nx)), ``x_range`` and ``y_range`` (the first and last cells'
coordinates), ``w1``, ``w2`` and ``controls`` (plane coordinates), ``curve``
(float32 ndarray of shape (n, 2): the drawn polyline), ``profile`` (float32
ndarray: the loss along the curve at evenly spaced t), ``barrier``,
``off_plane`` (how far the curve leaves the plane) and ``hires``.
"""

from __future__ import annotations

import copy
import math
import threading

import numpy as np
import torch

from ..core.curve_trainer import curve_profile, segment_profile
from ..core.planes import Plane
from ..core.results import Profile, Surface
from ..output.png import render_image

CURVE_POINTS = 65  # points of the drawn curve
CURVE_RGB = (230, 25, 75)  # the curve on exported images, as the page draws it


def finite_or_none(value: float) -> float | None:
    """``value`` as a float, or None when it is NaN or infinite (JSON has neither)."""
    return float(value) if math.isfinite(value) else None


def as_float32(values) -> np.ndarray:
    """A C-ordered float32 copy of ``values`` (values too large for float32 become inf)."""
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float32, order="C")


class CurvePlanes:
    """Planes through w1, w2 and a curve's control points, and the window shown of them.

    Parameters
    ----------
    curve : BezierCurve or PolyChain
        Gives the two end networks.
    net : torch.nn.Module
        The network whose layers shape the fallback direction.
    seed : int
        Seeds the fallback direction.
    """

    def __init__(self, curve, net, seed: int) -> None:
        self.w1 = curve.w1.detach().float().cpu()
        self.w2 = curve.w2.detach().float().cpu()
        self.distance = float((self.w2 - self.w1).double().norm())
        if self.distance == 0:
            raise ValueError("the curve's ends are the same network")
        self.u = ((self.w2 - self.w1).double() / self.distance).float()
        self._fallback_v = self._normal(net, seed)
        d = self.distance
        self.window = [-0.2 * d, 1.2 * d, -0.3 * d, 0.7 * d]

    def _normal(self, net, seed: int) -> torch.Tensor:
        """A unit direction orthogonal to w2 - w1: the plane's y axis while the control
        points lie on the segment (no plane passes through three points on one line).
        Filter-normalised random, as for random planes, so every layer takes part."""
        u = Plane.random(net, seed=seed, center=self.w1).u.double()
        u = u - (u @ self.u.double()) * self.u.double()
        return (u / u.norm()).float()

    def plane(self, control: torch.Tensor) -> Plane:
        """The plane through w1, w2 and the control points: w1 at the origin, w2 on +x."""
        rel = control.double() - self.w1.double()  # (K-1, D)
        u = self.u.double()
        perp = rel - (rel @ u)[:, None] * u
        if len(perp) == 1:
            v = perp[0]
        else:
            # the direction the control points stray furthest in, pointing to their mean
            _, _, vh = torch.linalg.svd(perp, full_matrices=False)
            v = vh[0] if float(perp.mean(0) @ vh[0]) >= 0 else -vh[0]
        norm = float(v.norm())
        v = self._fallback_v.double() if norm <= 1e-6 * self.distance else v / norm
        return Plane(
            self.w1,
            self.u,
            v.float(),
            "through",
            {"w1": (0.0, 0.0), "w2": (self.distance, 0.0)},
            {"frame": "curve training"},
            ("distance along w2 − w1", "distance toward the bend, ⊥"),
        )

    def grow_window(self, coords: np.ndarray) -> list[float]:
        """The shown window: fixed, except it grows (in steps of 1.5x) to keep the
        control points at ``coords`` inside."""
        x0, x1, y0, y1 = self.window
        for x, y in coords:
            while y > y1 - 0.1 * (y1 - y0):
                y1 = y0 + 1.5 * (y1 - y0)
            while y < y0 + 0.1 * (y1 - y0):
                y0 = y1 - 1.5 * (y1 - y0)
            while x > x1 - 0.1 * (x1 - x0):
                x1 = x0 + 1.5 * (x1 - x0)
            while x < x0 + 0.1 * (x1 - x0):
                x0 = x1 - 1.5 * (x1 - x0)
        self.window = [x0, x1, y0, y1]
        return list(self.window)


def plane_coords(plane: Plane, control: torch.Tensor) -> np.ndarray:
    """The control points' plane coordinates, shape (K-1, 2)."""
    return plane.project(control).reshape(-1, 2).numpy().astype(np.float64)


class FrameMaker:
    """Evaluates frames: the loss grid of a frame's plane, the curve in it, its profile.

    Parameters
    ----------
    evaluation : Landscape
        What grids and profiles are evaluated on (``CurveTrainer.evaluator()``).
    curve : BezierCurve or PolyChain
        Copied: the copy takes each frame's control points.
    planes : CurvePlanes
    profile_points : int
        Points of the loss profiles along the curve and the segment.
    strategy : str
        The landscape's evaluation strategy; "auto" is resolved by the first grid.

    The frame thread and a drag may ask at once; the curve's copy is guarded.
    """

    def __init__(
        self, evaluation, curve, planes: CurvePlanes, profile_points: int, strategy: str
    ) -> None:
        self.evaluation = evaluation
        self.planes = planes
        self.profile_points = profile_points
        self.strategy = strategy
        self._shadow = copy.deepcopy(curve).cpu().requires_grad_(False)
        self._shadow_lock = threading.Lock()

    def straight(self) -> Profile:
        """The loss along the straight segment from w1 to w2."""
        return segment_profile(
            self.evaluation, self.planes.w1, self.planes.w2, n=self.profile_points
        )

    def grid(self, control: torch.Tensor, resolution: int, window=None, plane=None):
        """The loss grid of the plane through w1, w2 and the control points (or of
        ``plane``) in ``window`` (default: the grown window).

        Returns
        -------
        surface, plane, coords, window
            The grid, its plane, the control points' plane coordinates and the window.
        """
        plane = plane or self.planes.plane(control)
        coords = plane_coords(plane, control)
        window = window or self.planes.grow_window(coords)
        surface = self.evaluation.evaluate(
            plane, resolution, bounds=window, strategy=self.strategy, progress=False
        )
        if self.strategy == "auto":  # timed once; every later frame is the same kind of plane
            self.strategy = surface.provenance["strategy"]
        return surface, plane, coords, window

    def curve_part(self, control: torch.Tensor, plane: Plane) -> dict:
        """A frame's curve: its control points' plane coordinates, its polyline in the
        plane, its loss profile and barrier, how far it leaves the plane."""
        with self._shadow_lock, torch.no_grad():
            self._shadow.control.copy_(control.to(self._shadow.control.dtype))
            pts = self._shadow.at(torch.linspace(0, 1, CURVE_POINTS, dtype=torch.float32))
            xy = plane.project(pts.float())
            # one control point: the curve is made of w1, theta and w2 alone, so it is as
            # far from the plane as theta is (cheaper than measuring every point)
            far = control if len(control) == 1 else pts.float()
            off = float(plane.distance(far).max())
            if off <= 1e-5 * self.planes.distance:
                # the curve lies in the plane: its points are plane coordinates, and the
                # plane's batched engine (kept while theta is dragged) evaluates them at once
                t = np.linspace(0.0, 1.0, self.profile_points)
                at_t = self._shadow.at(torch.as_tensor(t, dtype=torch.float32))
                loss = self.evaluation.evaluate_points(plane, plane.project(at_t))["loss"]
                prof = Profile(t=t, loss=loss)
            else:
                prof = curve_profile(self.evaluation, self._shadow, n=self.profile_points)
        return {
            "controls": plane_coords(plane, control).tolist(),
            "curve": as_float32(xy.numpy()).reshape(-1, 2),
            "profile": as_float32(prof.loss),
            "barrier": finite_or_none(prof.barrier()),
            "off_plane": off,
        }

    def frame(self, control: torch.Tensor, resolution: int, step: int, epoch: float, loss):
        """A new frame of the control points ``control``.

        Returns
        -------
        frame, surface, plane, window
            The frame (see the module docstring), its grid as a Surface, its
            plane and its window.
        """
        surface, plane, _, window = self.grid(control, resolution)
        frame = {
            "step": int(step),
            "epoch": float(epoch),
            "loss": None if loss is None else finite_or_none(loss),
            **grid_fields(surface),
            "w1": [0.0, 0.0],
            "w2": [self.planes.distance, 0.0],
            **self.curve_part(control, plane),
            "hires": False,
        }
        return frame, surface, plane, window


def grid_fields(surface: Surface) -> dict:
    """A frame's grid and the coordinates of its first and last cells."""
    return {
        "grid": as_float32(surface.loss),
        "x_range": [float(surface.x[0]), float(surface.x[-1])],
        "y_range": [float(surface.y[0]), float(surface.y[-1])],
    }


def initial_color_range(grid: np.ndarray) -> list[float] | None:
    """The colour scale a first frame sets: its smallest loss to its 90th percentile."""
    finite = grid[np.isfinite(grid)]
    if not finite.size:
        return None
    lo, hi = float(finite.min()), float(np.percentile(finite, 90))
    return [lo, hi if hi > lo else lo + 1.0]


def frame_arrays(frame: dict) -> dict:
    """A frame with its grid's coordinates spelled out, as copies the caller may change."""
    ny, nx = frame["grid"].shape
    return {
        "step": frame["step"],
        "epoch": frame["epoch"],
        "loss": frame["loss"],
        "grid": as_float32(frame["grid"]),
        "x": np.linspace(*frame["x_range"], nx),
        "y": np.linspace(*frame["y_range"], ny),
        "w1": tuple(frame["w1"]),
        "w2": tuple(frame["w2"]),
        "controls": [tuple(c) for c in frame["controls"]],
        "curve": as_float32(frame["curve"]),
        "profile": np.array(frame["profile"], dtype=np.float64),
        "barrier": frame["barrier"],
        "off_plane": frame["off_plane"],
        "hires": frame["hires"],
    }


def move_control_point(curve, plane: Plane, k: int, x: float, y: float) -> torch.Tensor:
    """Move control point ``k`` of ``curve`` to plane point (x, y), keeping its offset
    from the plane; returns all control points (float32, on the CPU)."""
    old = curve.control.detach()[k].float().cpu()
    x0, y0 = (float(c) for c in plane.project(old))
    new = old + (x - x0) * plane.u + (y - y0) * plane.v
    with torch.no_grad():
        curve.control[k].copy_(new.to(curve.control.dtype))
    return curve.control.detach().float().cpu().clone()


def curve_name(curve) -> str:
    """The curve's name in titles, as the page's curveName() (js/src/frames.js) writes it."""
    if curve.kind == "bezier":
        names = {2: "quadratic Bezier", 3: "cubic Bezier"}
        return names.get(curve.degree, f"Bezier curve of degree {curve.degree}")
    return f"polygonal chain ({curve.bends} bends)" if curve.bends > 1 else "polygonal chain"


def frame_images(frames: list[dict], curve, colormap: str, log: bool, size, value_range) -> list:
    """Frames (as the page gets them) drawn as PIL images with :func:`frame_image`."""
    name = curve_name(curve)
    return [frame_image(frame_arrays(f), name, colormap, log, size, value_range) for f in frames]


def frame_image(frame: dict, name: str, colormap: str, log: bool, size, value_range):
    """A frame (as :func:`frame_arrays` gives it) drawn as a PIL image.

    Parameters
    ----------
    frame : dict
        The frame's arrays.
    name : str
        The curve's name (:func:`curve_name`) for the title.
    colormap, log, size, value_range
        As for :func:`landscape_widgets.output.png.render_image`.
    """
    surface = Surface(
        frame["x"], frame["y"], frame["grid"], anchors={"w1": frame["w1"], "w2": frame["w2"]}
    )
    barrier = "n/a" if frame["barrier"] is None else f"{frame['barrier']:.3g}"
    controls = frame["controls"]
    return render_image(
        surface,
        colormap,
        log,
        size,
        title=f"{name} · step {frame['step']} · barrier {barrier}",
        value_range=value_range,
        lines=[(frame["curve"], CURVE_RGB)],
        squares={
            ("theta" if len(controls) == 1 else f"theta{k + 1}"): c for k, c in enumerate(controls)
        },
    )
