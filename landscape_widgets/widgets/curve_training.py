"""Curve training animated in the cell: the plane through (w1, w2, theta_t), frame by frame.

Every frame is a coarse loss map of the plane through the two end networks
and the curve's current control point, in a frame that does not jump: w1 at
the origin, w2 on the positive x axis at its true distance, theta above the
axis (``Plane.through``). The curve is drawn in that plane (exactly, for a
quadratic Bezier or a one-bend chain, whose points all lie in it), beside the
loss along the curve and the straight segment and the training loss.

Two background threads share the work: one trains (one torch thread; a
mini-batch of a small network is too small to split), one evaluates frames.
The trainer runs ``every`` steps, hands the control points over and goes on
with the next steps while the frame is evaluated; it waits only when a
second frame is already waiting, so frames are taken at exact steps and the
animation is the same on a slow machine, only slower.

Frames reach the page as custom messages with binary buffers (one frame at a
time, not the whole list); the ``frames`` trait is re-synced when training
pauses or ends and every ``_SYNC_EVERY`` frames, so a saved notebook or an
exported HTML holds them all and its player replays them without a kernel.
"""

from __future__ import annotations

import copy
import math
import queue
import shutil
import subprocess
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets

from ..core.curve_trainer import CurveTrainer, curve_profile, segment_profile
from ..core.planes import Plane
from ..core.results import Profile
from ..output.png import colormap_names
from ..wire.assets import STATIC
from ..wire.codec import decode_grid, encode_array, encode_grid
from ..wire.jobs import LatestJob

_SYNC_EVERY = 20  # frames between full re-syncs of the `frames` trait while training
_CURVE_POINTS = 65  # points of the drawn curve
_POLL = 0.2  # seconds a queue wait lasts before the threads look for close()
_STATES = ("preparing", "ready", "training", "paused", "stopped", "finished")

__all__ = ["CurveTrainingWidget"]


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


class CurveTrainingWidget(anywidget.AnyWidget):
    """Train a curve between two networks and watch it find the tunnel.

    Parameters
    ----------
    trainer : CurveTrainer
        Its curve, landscape and settings; ``trainer.epochs`` is how long
        :meth:`start` trains (counted from the trainer's current step).
    resolution : int
        Grid points per axis of each frame (default 32).
    every : int, optional
        Training steps between frames; default: about 120 frames over the
        planned training.
    profile_points : int
        Points of the loss profiles along the curve and the segment.
    color_range : (lo, hi), optional
        A fixed colour scale for every frame; default: from the first frame
        (its smallest loss to its 90th percentile). Set the trait to change it.
    log_scale, colormap, contours, title, width, height
        Initial values of the traits of the same names.
    max_frames : int
        When more frames than this are recorded, every other one is dropped
        and ``every`` doubles, so a long run stays a replayable size.
    hires : int
        Grid points per axis of :meth:`render_frame` and the page's
        "Sharpen frame" button (default 4x ``resolution``, at most 128).

    Before training, drag theta on the map: the curve's initial control point
    moves with it and the profile follows, so the tunnel can be tried by hand
    first. Then press Train (or call :meth:`start`).

    Examples
    --------
    >>> trainer = CurveTrainer(landscape, BezierCurve(net1, net2), epochs=60)  # doctest: +SKIP
    >>> anim = CurveTrainingWidget(trainer, resolution=32)  # doctest: +SKIP
    >>> anim  # press Train, or anim.start()  # doctest: +SKIP
    >>> anim.wait(); anim.save_gif("curve.gif")  # doctest: +SKIP
    """

    _esm = STATIC / "curve_training.js"

    frames = traitlets.List(
        traitlets.Dict(), default_value=[], help="list of frames (see the module docstring)"
    ).tag(sync=True)
    straight = traitlets.Dict(
        default_value={}, help="{profile: float32 bytes, barrier}: the straight segment"
    ).tag(sync=True)
    color_range = traitlets.List(
        traitlets.Float(),
        default_value=[0.0, 1.0],
        minlen=2,
        maxlen=2,
        help="[lo, hi]: the colour scale shared by every frame",
    ).tag(sync=True)
    log_scale = traitlets.Bool(True, help="bool: logarithmic colour scale").tag(sync=True)
    colormap = traitlets.Unicode("viridis", help="str: colour map name").tag(sync=True)
    contours = traitlets.Int(12, min=0, help="int: contour levels").tag(sync=True)
    status = traitlets.Unicode("preparing", help=f"str: one of {_STATES} or 'error: ...'").tag(
        sync=True
    )
    progress = traitlets.Float(0.0, help="float: planned training steps done, 0..1").tag(sync=True)
    total_steps = traitlets.Int(0, help="int: the step training stops at").tag(sync=True)
    selected = traitlets.Int(-1, help="int: frame to show; -1 follows the newest").tag(sync=True)
    editable = traitlets.Bool(False, help="bool: control points may be dragged").tag(sync=True)
    curve_kind = traitlets.Unicode("bezier").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    width = traitlets.Int(960, min=480).tag(sync=True)
    height = traitlets.Int(440, min=300).tag(sync=True)

    def __init__(
        self,
        trainer: CurveTrainer,
        resolution: int = 32,
        every: int | None = None,
        *,
        profile_points: int = 33,
        color_range: tuple[float, float] | None = None,
        max_frames: int = 300,
        hires: int | None = None,
        strategy: str = "auto",
        **kwargs: Any,
    ) -> None:
        if not isinstance(trainer, CurveTrainer):
            raise TypeError(f"trainer must be a CurveTrainer, not {type(trainer).__name__}")
        for name, value, low in (
            ("resolution", resolution, 2),
            ("profile_points", profile_points, 3),
            ("max_frames", max_frames, 4),
        ):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, not {value!r}")
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"every must be a positive int, not {every!r}")
        if hires is not None and (not isinstance(hires, int) or hires < 2):
            raise ValueError(f"hires must be an int >= 2, not {hires!r}")
        cmap = kwargs.get("colormap", "viridis")
        if cmap not in colormap_names():
            raise ValueError(f"unknown colour map {cmap!r} (have {colormap_names()})")
        super().__init__(**kwargs)
        self.trainer = trainer
        self.landscape = trainer.landscape
        # what frames and profiles are evaluated on: the landscape, or for a BatchNorm
        # network a twin that recomputes the statistics at every point, as the trainer's
        # profiles do (a point off the ends has no statistics of its own)
        self._evaluation = trainer._evaluator()
        self.bn = self._evaluation.bn if self._evaluation.has_bn else "none"
        self.resolution = resolution
        self.hires = hires or min(128, 4 * resolution)
        self.profile_points = profile_points
        self.max_frames = max_frames
        self.strategy = strategy
        self.curve_kind = trainer.curve.kind
        steps_per_epoch = math.ceil(len(trainer.X) / trainer.batch_size)
        self.total_steps = trainer.step_count + trainer.epochs * steps_per_epoch
        planned = self.total_steps - trainer.step_count
        self.every = every or max(1, round(planned / 120))
        self._steps_per_epoch = steps_per_epoch

        curve = trainer.curve
        self._w1 = curve.w1.detach().float().cpu()
        self._w2 = curve.w2.detach().float().cpu()
        self._d = float((self._w2 - self._w1).double().norm())
        if self._d == 0:
            raise ValueError("the curve's ends are the same network")
        self._u = ((self._w2 - self._w1).double() / self._d).float()
        self._fallback_v = self._random_normal(trainer)
        # the frame thread's own copy of the curve: control points go in, profiles come out
        self._shadow = copy.deepcopy(curve).cpu().requires_grad_(False)
        self._window = [-0.2 * self._d, 1.2 * self._d, -0.3 * self._d, 0.7 * self._d]
        self._user_range = color_range is not None
        if color_range is not None:
            self.color_range = [float(color_range[0]), float(color_range[1])]

        self.straight_profile = None  # the segment's Profile, once prepared
        self._frames: list[dict] = []  # what the page gets
        self._records: list[dict] = []  # per frame: control points and window, for re-renders
        self._first_plane: Plane | None = None
        self._lock = threading.RLock()  # frames, records, the shadow curve, sends
        self._jobs: queue.Queue = queue.Queue(maxsize=1)
        self._ready = threading.Event()
        self._idle = threading.Event()  # no training run in progress (wait() waits for it)
        self._idle.set()
        self._control = threading.Condition()
        self._starting = threading.Lock()  # one start() at a time (a double click, say)
        self._pause = False
        self._stop = False
        self._closed = False
        # Each training thread is a run with its own number; a status it posts is applied
        # only while it is still the current run, so a stop-then-start cannot end on the
        # old run's "stopped".
        self._run = 0
        self._trainer_thread: threading.Thread | None = None
        self._error = ""  # the status of a failure; kept until the next start()
        self._error_text = ""
        self._drags = LatestJob("curve-drag", self._failed)
        self._frame_thread = threading.Thread(
            target=self._frame_loop, name="curve-frames", daemon=True
        )
        self._frame_thread.start()
        self.on_msg(self._on_page_message)
        self._put(("prepare",))

    # ------------------------------------------------------------ public API
    @property
    def frame_count(self) -> int:
        return len(self._records)

    def start(self, epochs: int | None = None) -> CurveTrainingWidget:
        """Train (or go on training) off the kernel's main thread.

        ``epochs`` extends the plan by that many epochs; without it training
        goes on to ``total_steps``.
        """
        if not self._ready.wait(120):
            raise RuntimeError("the first frame is not ready after 120 s")
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"epochs must be a positive int, not {epochs!r}")
        if self._closed:
            raise RuntimeError("the widget is closed")
        with self._starting:
            if epochs is not None:
                self.total_steps = max(self.total_steps, self.trainer.step_count)
                self.total_steps += epochs * self._steps_per_epoch
            with self._control:
                self._idle.clear()
                self._pause = False
                stopping = self._stop
                old = self._trainer_thread
                alive = old is not None and old.is_alive()
                self._control.notify_all()
            if alive and not stopping:
                return self  # resumed (or already running)
            if alive:
                old.join()  # a stopping run ends after its current step
            with self._control:
                self._stop = False
                self._error = ""
                self._run += 1
                run = self._run
                self.editable = False
            self._drags.idle(30)  # a drag under way finishes before the first step
            self._trainer_thread = threading.Thread(
                target=self._train_loop, args=(run,), name="curve-training", daemon=True
            )
            self._trainer_thread.start()
        return self

    def pause(self) -> CurveTrainingWidget:
        """Hold training after the current step (a frame shows where it is)."""
        with self._control:
            if self._trainer_thread is not None and self._trainer_thread.is_alive():
                self._pause = True
                self._control.notify_all()
        return self

    def stop(self) -> CurveTrainingWidget:
        """End this run of training after the current step; :meth:`start` goes on."""
        with self._control:
            self._stop = True
            self._control.notify_all()
        return self

    def wait(self, timeout: float | None = 600.0) -> CurveTrainingWidget:
        """Block until training is done, paused or stopped and its frames are in."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._ready.wait(timeout):
            raise TimeoutError("the first frame did not come")
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._idle.wait(left):
            raise TimeoutError(f"still {self.status} after {timeout} s")
        if self._error:
            raise RuntimeError(f"{self._error}\n{self._error_text}")
        return self

    def frame(self, index: int) -> dict:
        """Frame ``index`` as numpy arrays: grid, x, y, curve, profile, controls, step..."""
        return _decoded(self.frames_list()[index])

    def frames_list(self) -> list[dict]:
        """The frames recorded so far (the dicts the page gets)."""
        with self._lock:
            return list(self._frames)

    def render_frame(self, index: int, resolution: int | None = None):
        """Re-evaluate frame ``index`` at a higher resolution; returns the Surface.

        The page's frame is replaced by the sharper one (same window and
        colour scale).
        """
        res = resolution or self.hires
        if not isinstance(res, int) or res < 2:
            raise ValueError(f"resolution must be an int >= 2, not {res!r}")
        with self._lock:
            n = len(self._frames)
            if not -n <= index < n:
                raise IndexError(f"frame {index} of {n}")
            step = self._frames[index]["step"]
        surface = self._sharpen(step, res)
        if surface is None:
            raise IndexError(f"the frame of step {step} was dropped meanwhile")
        return surface

    def show_frame(self, index: int) -> None:
        """Show frame ``index`` on the page (-1: follow the newest)."""
        self.selected = int(index)

    def save_gif(self, path, fps: float = 6.0, size: tuple[int, int] = (520, 420)) -> Path:
        """Write the recorded frames as an animated GIF (Pillow; no other dependency)."""
        images = self._images(size)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        duration = max(20, round(1000 / fps))
        images[0].save(
            out, save_all=True, append_images=images[1:], duration=duration, loop=0, optimize=False
        )
        return out

    def save_mp4(self, path, fps: float = 6.0, size: tuple[int, int] = (520, 420)) -> Path:
        """Write the recorded frames as an H.264 MP4 through ffmpeg.

        ffmpeg comes from the ``imageio-ffmpeg`` package when it is
        installed, else from the PATH; without either this raises
        RuntimeError saying so (:meth:`save_gif` needs neither).
        """
        exe = _ffmpeg()
        images = self._images(size)
        w, h = images[0].size
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            exe, "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{fps}", "-i", "-",
            "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            str(out),
        ]  # fmt: skip
        proc = subprocess.run(
            cmd, input=b"".join(im.convert("RGB").tobytes() for im in images), capture_output=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-400:]}")
        return out

    def save_html(self, path, title: str | None = None) -> Path:
        """One HTML file whose player replays the frames with no kernel."""
        from ..output.html import export_html

        self._sync_frames()
        return export_html(path, self, title=title or "Curve training")

    def close(self) -> None:
        """Stop training and the background threads, and close the widget."""
        if hasattr(self, "_jobs") and not self._closed:  # not when __init__ failed part way
            self._closed = True  # the threads see it within _POLL seconds and end
            self.stop()
            self._drags.close()
        super().close()

    # ------------------------------------------------------------ geometry
    def _random_normal(self, trainer) -> torch.Tensor:
        """A unit direction orthogonal to w2 - w1: the plane's y axis while theta lies on
        the segment (no plane passes through three points on one line). Filter-normalised
        random, as for random planes, so every layer takes part."""
        u = Plane.random(
            self.landscape.net, seed=trainer.generator.initial_seed(), center=self._w1
        ).u.double()
        u = u - (u @ self._u.double()) * self._u.double()
        return (u / u.norm()).float()

    def _plane(self, control: torch.Tensor) -> Plane:
        """The plane through w1, w2 and the control points: w1 at the origin, w2 on +x."""
        rel = control.double() - self._w1.double()  # (K-1, D)
        u = self._u.double()
        perp = rel - (rel @ u)[:, None] * u
        if len(perp) == 1:
            v = perp[0]
        else:
            # the direction the control points stray furthest in, pointing to their mean
            _, _, vh = torch.linalg.svd(perp, full_matrices=False)
            v = vh[0] if float(perp.mean(0) @ vh[0]) >= 0 else -vh[0]
        norm = float(v.norm())
        if norm <= 1e-6 * self._d:
            v = self._fallback_v.double()
        else:
            v = v / norm
        return Plane(
            self._w1,
            self._u,
            v.float(),
            "through",
            {"w1": (0.0, 0.0), "w2": (self._d, 0.0)},
            {"frame": "curve training"},
        )

    def _grow_window(self, coords: np.ndarray) -> list[float]:
        """The shown window: fixed, except it grows (in steps of 1.5x) to keep theta inside."""
        x0, x1, y0, y1 = self._window
        for x, y in coords:
            while y > y1 - 0.1 * (y1 - y0):
                y1 = y0 + 1.5 * (y1 - y0)
            while y < y0 + 0.1 * (y1 - y0):
                y0 = y1 - 1.5 * (y1 - y0)
            while x > x1 - 0.1 * (x1 - x0):
                x1 = x0 + 1.5 * (x1 - x0)
            while x < x0 + 0.1 * (x1 - x0):
                x0 = x1 - 1.5 * (x1 - x0)
        self._window = [x0, x1, y0, y1]
        return list(self._window)

    # ------------------------------------------------------------ frames
    def _put(self, job: tuple) -> bool:
        """Queue a job for the frame thread, waiting while one is queued; False once closed."""
        while not self._closed:
            try:
                self._jobs.put(job, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _frame_loop(self) -> None:
        while not self._closed:
            try:
                job = self._jobs.get(timeout=_POLL)
            except queue.Empty:
                continue
            kind = job[0]
            try:
                if kind == "prepare":
                    self._prepare()
                elif kind == "frame":
                    self._add_frame(*job[1:])
                elif kind == "sharpen":
                    self._sharpen(job[1], self.hires)
                elif kind == "status":
                    self._set_status(*job[1:])
            except BaseException as exc:  # the thread must live on for the next job
                self._failed(exc, traceback.format_exc())

    def _prepare(self) -> None:
        ls, tr = self._evaluation, self.trainer
        straight = segment_profile(ls, self._w1, self._w2, n=self.profile_points)
        self.straight = {
            "profile": encode_array(straight.loss),
            "barrier": _finite_or_none(straight.barrier()),
        }
        self.straight_profile = straight
        control = tr.curve.control.detach().float().cpu().clone()
        loss = tr.history["loss"][-1] if tr.history["loss"] else None
        self._add_frame(control, tr.step_count, tr.step_count / self._steps_per_epoch, loss)
        self.editable = tr.step_count == 0
        self.status = "ready"
        self._ready.set()

    def _compute(self, control: torch.Tensor, resolution: int, window=None, plane=None):
        """The loss grid of the plane through w1, w2 and the control points (or of
        ``plane``), with the plane, the control points' coordinates and the window."""
        plane = plane or self._plane(control)
        coords = _plane_coords(plane, control)
        window = window or self._grow_window(coords)
        surface = self._evaluation.evaluate(
            plane, resolution, bounds=window, strategy=self.strategy, progress=False
        )
        if self.strategy == "auto":  # timed once; every later frame is the same kind of plane
            self.strategy = surface.provenance["strategy"]
        return surface, plane, coords, window

    def _curve_part(self, control: torch.Tensor, plane: Plane) -> dict:
        """The curve's polyline in the plane, its loss profile and barrier."""
        with self._lock, torch.no_grad():
            self._shadow.control.copy_(control.to(self._shadow.control.dtype))
            pts = self._shadow.at(torch.linspace(0, 1, _CURVE_POINTS, dtype=torch.float32))
            xy = plane.project(pts.float())
            # one control point: the curve is made of w1, theta and w2 alone, so it is as
            # far from the plane as theta is (cheaper than measuring every point)
            far = control if len(control) == 1 else pts.float()
            off = float(plane.distance(far).max())
            if off <= 1e-5 * self._d:
                # the curve lies in the plane: its points are plane coordinates, and the
                # plane's batched engine (kept while theta is dragged) evaluates them at once
                t = np.linspace(0.0, 1.0, self.profile_points)
                at_t = self._shadow.at(torch.as_tensor(t, dtype=torch.float32))
                loss = self._evaluation.evaluate_points(plane, plane.project(at_t))["loss"]
                prof = Profile(t=t, loss=loss)
            else:
                prof = curve_profile(self._evaluation, self._shadow, n=self.profile_points)
        return {
            "curve": encode_array(xy.numpy()),
            "profile": encode_array(prof.loss),
            "barrier": _finite_or_none(prof.barrier()),
            "off_plane": off,
        }

    def _add_frame(self, control, step, epoch, loss) -> None:
        surface, plane, coords, window = self._compute(control, self.resolution)
        if len(self._records) == 0 and not self._user_range:
            finite = surface.loss[np.isfinite(surface.loss)]
            if finite.size:
                lo, hi = float(finite.min()), float(np.percentile(finite, 90))
                self.color_range = [lo, hi if hi > lo else lo + 1.0]
        frame = {
            "step": int(step),
            "epoch": float(epoch),
            "loss": None if loss is None else _finite_or_none(loss),
            **_grid_fields(surface),
            "w1": [0.0, 0.0],
            "w2": [self._d, 0.0],
            "controls": coords.tolist(),
            **self._curve_part(control, plane),
            "hires": False,
        }
        with self._lock:
            if not self._records:
                self._first_plane = plane  # theta is dragged in it before training
            # the control points (4 bytes per weight per control point) for re-renders;
            # the plane is computed again from them
            self._records.append({"control": control, "window": window})
            self._frames.append(frame)
            index = len(self._frames) - 1
            if len(self._frames) > self.max_frames:
                self._thin()
                return
            self._publish(index, frame)
            if index % _SYNC_EVERY == 0:
                self._sync_frames()

    def _thin(self) -> None:
        """Keep every other frame (the first and the newest always) and double ``every``."""
        keep = sorted(set(range(0, len(self._frames), 2)) | {len(self._frames) - 1})
        self._frames = [self._frames[i] for i in keep]
        self._records = [self._records[i] for i in keep]
        self.every *= 2
        self._sync_frames()

    def _publish(self, index: int, frame: dict) -> None:
        """One frame to the page as a custom message: bytes fields become buffer indices."""
        content = dict(frame)
        buffers = []
        for key in ("grid", "curve", "profile"):
            content[key] = len(buffers)
            buffers.append(frame[key])
        self.send({"event": "frame", "index": index, "frame": content}, buffers)

    def _sync_frames(self) -> None:
        with self._lock:
            self.frames = list(self._frames)

    def _record_plane(self, index: int) -> Plane:
        return self._first_plane if index == 0 else self._plane(self._records[index]["control"])

    def _index_of(self, step: int) -> int | None:
        with self._lock:
            return next((i for i, f in enumerate(self._frames) if f["step"] == step), None)

    def _sharpen(self, step: int, resolution: int):
        """Re-render the frame of ``step`` (looked up again after the work: frames may
        have been thinned meanwhile); None if it is gone."""
        with self._lock:
            index = self._index_of(step)
            if index is None:
                return None
            rec, plane = self._records[index], self._record_plane(index)
        surface, *_ = self._compute(rec["control"], resolution, rec["window"], plane)
        with self._lock:
            index = self._index_of(step)
            if index is None:
                return None
            frame = {**self._frames[index], **_grid_fields(surface), "hires": True}
            self._frames[index] = frame
            self._publish(index, frame)
            if self.status != "training":
                self._sync_frames()
        return surface

    def _post_status(self, how: str, run: int) -> None:
        """Queue a status of training run ``run`` behind the frames it handed over."""
        self._put(("status", how, run))

    def _set_status(self, how: str, run: int) -> None:
        with self._control:
            if run != self._run:
                return  # a newer run has started
            if how == "paused" and not self._pause:
                return  # resumed before this arrived
            error = self._error
        if how == "training":
            if not error:
                self.status = how
            return
        self._sync_frames()
        self.progress = min(1.0, self._progress())
        self.status = error or how  # a failure stays on show until the next start()
        self._idle.set()

    def _progress(self) -> float:
        return self.trainer.step_count / max(1, self.total_steps)

    # ------------------------------------------------------------ training
    def _train_loop(self, run: int) -> None:
        tr = self.trainer
        losses: list[float] = []
        how = "finished"
        try:
            self._post_status("training", run)
            while tr.step_count < self.total_steps:
                with self._control:
                    stop, pause = self._stop, self._pause
                if pause and not stop:
                    if losses:  # a frame shows where training holds
                        self._hand_over(losses)
                        losses = []
                    self._post_status("paused", run)
                    with self._control:
                        self._control.wait_for(lambda: not self._pause or self._stop)
                        stop = self._stop
                    if not stop:
                        self._post_status("training", run)
                if stop:
                    how = "stopped"
                    break
                losses.append(tr.step())
                if tr.step_count % self.every == 0 or tr.step_count >= self.total_steps:
                    self._hand_over(losses)
                    losses = []
                    self.progress = self._progress()
            if losses:
                self._hand_over(losses)
        except BaseException as exc:
            self._failed(exc, traceback.format_exc())
            how = "stopped"
        self._post_status(how, run)

    def _hand_over(self, losses: list[float]) -> None:
        tr = self.trainer
        control = tr.curve.control.detach().float().cpu().clone()
        finite = [v for v in losses if math.isfinite(v)]
        loss = float(np.mean(finite)) if finite else math.nan
        # blocks while a frame is already waiting: training runs at most one frame ahead
        epoch = tr.step_count / self._steps_per_epoch
        self._put(("frame", control, tr.step_count, epoch, loss))

    # ------------------------------------------------------------ the page
    def _on_page_message(self, _widget, content: dict, _buffers) -> None:
        event = content.get("event")
        if event == "control":
            action = content.get("action")
            if action == "start":
                threading.Thread(target=self.start, daemon=True).start()
            elif action == "pause":
                self.pause()
            elif action == "stop":
                self.stop()
        elif event == "sharpen":
            index = int(content.get("index", -1))
            with self._lock:
                step = self._frames[index]["step"] if 0 <= index < len(self._frames) else None
            if step is not None:  # by step: the index may change if frames are thinned
                threading.Thread(target=self._put, args=(("sharpen", step),), daemon=True).start()
        elif event == "move":
            self._drags.submit(lambda _cancel, c=dict(content): self._drag(c))

    def _drag(self, content: dict) -> None:
        """Move control point k to (x, y) in the first frame's plane; redraw its profile."""
        t0 = time.perf_counter()
        if not self.editable or self.trainer.step_count > 0 or not self._records:
            return
        k = int(content.get("index", 0))
        x, y = float(content["x"]), float(content["y"])
        if not (math.isfinite(x) and math.isfinite(y)):
            return
        curve = self.trainer.curve
        if not 0 <= k < curve.control.shape[0]:
            return
        with self._lock:
            if not self.editable:  # start() turned it off while this waited for the lock
                return
            rec, plane = self._records[0], self._first_plane
            old = curve.control.detach()[k].float().cpu()
            x0, y0 = (float(c) for c in plane.project(old))
            new = old + (x - x0) * plane.u + (y - y0) * plane.v
            with torch.no_grad():
                curve.control[k].copy_(new.to(curve.control.dtype))
            control = curve.control.detach().float().cpu().clone()
            history = self.trainer.history
            if history["control_step"] and history["control_step"][-1] == 0:
                history["control"][-1] = curve.control.detach().cpu().clone()
            coords = _plane_coords(plane, control)
            frame = dict(self._frames[0])
            frame.update(controls=coords.tolist(), **self._curve_part(control, plane))
            self._frames[0] = frame
            rec["control"] = control
            self._publish(0, frame)
            ms = (time.perf_counter() - t0) * 1e3
            self.send({"event": "answer", "seq": int(content.get("seq", 0)), "kernel_ms": ms})
            if content.get("final"):
                self._sync_frames()

    def _failed(self, exc: BaseException, text: str) -> None:
        """A job failed: show it, and end the training run (the next frame would most
        likely fail the same way); the run's last status keeps the error on show."""
        error = f"error: {type(exc).__name__}: {exc}"
        self._error_text = text
        with self._control:
            self._error = error
            self._stop = True
            self._control.notify_all()
            running = self._trainer_thread is not None and self._trainer_thread.is_alive()
        self.status = error
        self._ready.set()
        if not running:
            self._idle.set()

    # ------------------------------------------------------------ export
    def _images(self, size: tuple[int, int]):
        from ..core.results import Surface
        from ..output.png import render_image

        frames = self.frames_list()
        if not frames:
            raise ValueError("no frames recorded yet")
        lo, hi = self.color_range
        kind = _curve_name(self.trainer.curve)
        images = []
        for raw in frames:
            f = _decoded(raw)
            surf = Surface(f["x"], f["y"], f["grid"], anchors={"w1": f["w1"], "w2": f["w2"]})
            barrier = "n/a" if f["barrier"] is None else f"{f['barrier']:.3g}"
            images.append(
                render_image(
                    surf,
                    self.colormap,
                    self.log_scale,
                    size,
                    title=f"{kind} · step {f['step']} · barrier {barrier}",
                    value_range=(lo, hi),
                    lines=[(f["curve"], (230, 25, 75))],
                    squares={
                        ("theta" if len(f["controls"]) == 1 else f"theta{k + 1}"): c
                        for k, c in enumerate(f["controls"])
                    },
                )
            )
        return images


def _ffmpeg() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        pass
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError(
            "MP4 export needs ffmpeg: pip install imageio-ffmpeg (it brings its own), or put "
            "ffmpeg on the PATH. save_gif() works without it."
        )
    return exe


def _decoded(f: dict) -> dict:
    """A frame's bytes as numpy arrays."""
    ny, nx = f["shape"]
    return {
        "step": f["step"],
        "epoch": f["epoch"],
        "loss": f["loss"],
        "grid": decode_grid(f["grid"], (ny, nx)),
        "x": np.linspace(*f["x_range"], nx),
        "y": np.linspace(*f["y_range"], ny),
        "w1": tuple(f["w1"]),
        "w2": tuple(f["w2"]),
        "controls": [tuple(c) for c in f["controls"]],
        "curve": np.frombuffer(f["curve"], "<f4").reshape(-1, 2),
        "profile": np.frombuffer(f["profile"], "<f4").astype(np.float64),
        "barrier": f["barrier"],
        "off_plane": f["off_plane"],
        "hires": f["hires"],
    }


def _plane_coords(plane: Plane, control: torch.Tensor) -> np.ndarray:
    """The control points' plane coordinates, shape (K-1, 2)."""
    return plane.project(control).reshape(-1, 2).numpy().astype(np.float64)


def _grid_fields(surface) -> dict:
    """A frame's grid: float32 bytes, shape and the coordinates of its first and last cells."""
    return {
        "grid": encode_grid(surface.loss),
        "shape": list(surface.loss.shape),
        "x_range": [float(surface.x[0]), float(surface.x[-1])],
        "y_range": [float(surface.y[0]), float(surface.y[-1])],
    }


def _curve_name(curve) -> str:
    """The curve's name in titles, as the page's curveName() (js/src/frames.js) writes it."""
    if curve.kind == "bezier":
        names = {2: "quadratic Bezier", 3: "cubic Bezier"}
        return names.get(curve.degree, f"Bezier curve of degree {curve.degree}")
    return f"polygonal chain ({curve.bends} bends)" if curve.bends > 1 else "polygonal chain"
