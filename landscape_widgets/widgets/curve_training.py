"""Curve training animated in the cell: the plane through (w1, w2, theta_t), frame by frame.

Every frame is a coarse loss map of the plane through the two end networks
and the curve's current control points (:mod:`.curve_frames`), beside the
loss along the curve and the straight segment and the training loss.
Training runs in one background thread, frames are evaluated in another
(:mod:`.curve_runs`); each frame reaches the page as a custom message as soon
as it is made, and the ``frames`` trait holds them all for a saved notebook or
an exported HTML, whose player replays them without a kernel
(:mod:`.curve_record`).

Over 500 lines only through the numpydoc of the widget's traits and methods.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import anywidget
import torch
import traitlets

from ..core.curve_trainer import CurveTrainer
from ..output.html import export_html
from ..output.png import colormap_names
from ..output.video import ffmpeg_executable, write_gif, write_mp4
from ..wire.assets import STATIC
from ..wire.codec import array_serialization
from ..wire.jobs import LatestJob
from .curve_frames import (
    CurvePlanes,
    FrameMaker,
    finite_or_none,
    frame_arrays,
    frame_images,
    initial_color_range,
)
from .curve_record import FrameRecorder
from .curve_runs import JobThread, TrainingRuns

_STATES = ("preparing", "ready", "training", "paused", "stopped", "finished")

__all__ = ["CurveTrainingWidget"]


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
        A fixed colour scale for every frame; default: each frame's smallest
        loss to its 90th percentile, joined over the frames as they arrive, so
        that no frame of the replay saturates. Setting the trait fixes it.
    log_scale, colormap, contours, title, width, height
        Initial values of the traits of the same names.
    max_frames : int
        When more frames than this are recorded, every other one is dropped
        and ``every`` doubles, so a long run stays a replayable size.
    hires : int
        Grid points per axis of :meth:`render_frame` and the page's
        "Sharpen frame" button (default 4x ``resolution``, at most 128).
    strategy : str
        How the landscape evaluates each frame's grid (default "auto": timed
        on the first frame, then kept).

    Before training, drag theta on the map: the curve's initial control point
    moves with it and the profile follows, so the tunnel can be tried by hand
    first. Then press Train (or call :meth:`start`).

    Examples
    --------
    >>> trainer = CurveTrainer(landscape, BezierCurve(net1, net2), epochs=60)  # doctest: +SKIP
    >>> anim = CurveTrainingWidget(trainer, resolution=32)  # doctest: +SKIP
    >>> anim  # press Train, or anim.start()  # doctest: +SKIP
    >>> anim.wait(); anim.save_gif("curve.gif")  # doctest: +SKIP

    Over 350 lines only through the numpydoc of its public methods: the work
    is in ``curve_frames``, ``curve_record`` and ``curve_runs``.
    """

    _esm = STATIC / "curve_training.js"

    frames = traitlets.List(
        traitlets.Dict(), default_value=[], help="list of frames (see widgets.curve_frames)"
    ).tag(sync=True, **array_serialization)
    straight = traitlets.Dict(
        default_value={}, help="{profile: float32 array, barrier}: the straight segment"
    ).tag(sync=True, **array_serialization)
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
        _check_arguments(trainer, resolution, every, profile_points, max_frames, hires, kwargs)
        super().__init__(**kwargs)
        self.trainer = trainer
        self.landscape = trainer.landscape
        # what frames and profiles are evaluated on: the landscape, or for a BatchNorm
        # network a twin that recomputes the statistics at every point, as the trainer's
        # profiles do (a point off the ends has no statistics of its own)
        self._evaluation = trainer.evaluator()
        self.bn = self._evaluation.bn if self._evaluation.has_bn else "none"
        self.resolution = resolution
        self.hires = hires or min(128, 4 * resolution)
        self.profile_points = profile_points
        self.max_frames = max_frames
        self.curve_kind = trainer.curve.kind
        self._steps_per_epoch = math.ceil(len(trainer.X) / trainer.batch_size)
        self.total_steps = trainer.step_count + trainer.epochs * self._steps_per_epoch
        self.every = every or max(1, round((self.total_steps - trainer.step_count) / 120))
        planes = CurvePlanes(trainer.curve, self.landscape.net, trainer.generator.initial_seed())
        self._user_range = color_range is not None
        self._range_seen: list[float] | None = None  # the union of the frames' ranges
        if color_range is not None:
            self.color_range = [float(color_range[0]), float(color_range[1])]

        self.straight_profile = None  # the segment's Profile, once prepared
        self._recorder = FrameRecorder(
            FrameMaker(self._evaluation, trainer.curve, planes, profile_points, strategy),
            self.send,
            lambda frames: setattr(self, "frames", frames),
            self._widen_color_range,
        )
        self._ready = threading.Event()
        self._starting = threading.Lock()  # one start() at a time (a double click, say)
        self._error_text = ""
        self._runs = TrainingRuns(
            trainer,
            plan=lambda: (self.total_steps, self.every),
            hand_over=self._hand_over,
            post_status=lambda how, run: self._jobs.put("status", how, run),
            on_error=self._failed,
        )
        self._drags = LatestJob("curve-drag", self._failed)
        handlers = {
            "prepare": self._prepare,
            "frame": self._add_frame,
            "sharpen": lambda step: self._sharpen(step, self.hires),
            "status": self._set_status,
        }
        self._jobs = JobThread("curve-frames", handlers, self._failed)
        self.on_msg(self._on_page_message)
        self._jobs.put("prepare")

    # ------------------------------------------------------------ public API
    @property
    def frame_count(self) -> int:
        """The number of frames recorded so far."""
        return len(self._recorder)

    @property
    def strategy(self) -> str:
        """How each frame's grid is evaluated ("auto" until the first frame settles it)."""
        return self._recorder.maker.strategy

    def start(self, epochs: int | None = None) -> CurveTrainingWidget:
        """Train (or go on training) off the kernel's main thread.

        Parameters
        ----------
        epochs : int, optional
            Extend the plan by this many epochs; without it training goes
            on to ``total_steps``.

        Returns
        -------
        CurveTrainingWidget
            This widget (``anim.start().wait()``).
        """
        if not self._ready.wait(120):
            raise RuntimeError("the first frame is not ready after 120 s")
        if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
            raise ValueError(f"epochs must be a positive int, not {epochs!r}")
        if self._jobs.closed:
            raise RuntimeError("the widget is closed")
        with self._starting:
            if epochs is not None:
                self.total_steps = max(self.total_steps, self.trainer.step_count)
                self.total_steps += epochs * self._steps_per_epoch
            self._runs.start(before_new_run=self._end_editing)
        return self

    def pause(self) -> CurveTrainingWidget:
        """Hold training after the current step (a frame shows where it is)."""
        self._runs.pause()
        return self

    def stop(self) -> CurveTrainingWidget:
        """End this run of training after the current step; :meth:`start` goes on."""
        self._runs.stop()
        return self

    def wait(self, timeout: float | None = 600.0) -> CurveTrainingWidget:
        """Block until training is done, paused or stopped and its frames are in.

        Parameters
        ----------
        timeout : float or None
            Seconds to wait at most (None: no limit); TimeoutError after it.

        Returns
        -------
        CurveTrainingWidget
            This widget.

        Raises
        ------
        RuntimeError
            When training or a frame failed (with the traceback).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._ready.wait(timeout):
            raise TimeoutError("the first frame did not come")
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._runs.idle.wait(left):
            raise TimeoutError(f"still {self.status} after {timeout} s")
        if self._runs.error:
            raise RuntimeError(f"{self._runs.error}\n{self._error_text}")
        return self

    def frame(self, index: int) -> dict:
        """Frame ``index`` (negative counts from the end) as numpy arrays.

        Returns
        -------
        dict
            ``grid``, its coordinates ``x`` and ``y``, ``curve``, ``profile``,
            ``controls``, ``w1``, ``w2``, ``step``, ``epoch``, ``loss``,
            ``barrier``, ``off_plane`` and ``hires`` (see ``widgets.curve_frames``).
        """
        return frame_arrays(self.frames_list()[index])

    def frames_list(self) -> list[dict]:
        """The frames recorded so far (the dicts the page gets)."""
        return self._recorder.frames()

    def render_frame(self, index: int, resolution: int | None = None):
        """Re-evaluate frame ``index`` at a higher resolution.

        The page's frame is replaced by the sharper one (same window and
        colour scale).

        Parameters
        ----------
        index : int
            The frame (negative counts from the end).
        resolution : int, optional
            Grid points per axis; default ``hires``.

        Returns
        -------
        Surface
            The sharper grid.
        """
        res = resolution or self.hires
        if not isinstance(res, int) or res < 2:
            raise ValueError(f"resolution must be an int >= 2, not {res!r}")
        step = self._recorder.step_at(index)
        if step is None:
            raise IndexError(f"frame {index} of {len(self._recorder)}")
        surface = self._sharpen(step, res)
        if surface is None:
            raise IndexError(f"the frame of step {step} was dropped meanwhile")
        return surface

    def show_frame(self, index: int) -> None:
        """Show frame ``index`` on the page (-1: follow the newest)."""
        self.selected = int(index)

    def save_gif(self, path, fps: float = 6.0, size: tuple[int, int] = (520, 420)) -> Path:
        """Write the recorded frames as an animated GIF (Pillow; no other dependency).

        Parameters
        ----------
        path : str or os.PathLike
            Where to write.
        fps : float
            Frames per second.
        size : (int, int)
            Width and height of each frame in pixels.

        Returns
        -------
        Path
            ``path``.
        """
        return write_gif(self._images(size), path, fps)

    def save_mp4(self, path, fps: float = 6.0, size: tuple[int, int] = (520, 420)) -> Path:
        """Write the recorded frames as an H.264 MP4 through ffmpeg.

        ffmpeg comes from the ``imageio-ffmpeg`` package when it is
        installed, else from the PATH; without either this raises
        RuntimeError saying so (:meth:`save_gif` needs neither). The
        parameters and the result are those of :meth:`save_gif`.
        """
        exe = ffmpeg_executable()  # before drawing the frames: without it, fail at once
        return write_mp4(self._images(size), path, fps, exe)

    def save_html(self, path, title: str | None = None) -> Path:
        """Write one HTML file whose player replays the frames with no kernel.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write.
        title : str, optional
            The page title; default "Curve training".

        Returns
        -------
        Path
            ``path``.
        """
        self._recorder.sync()
        return export_html(path, self, title=title or "Curve training")

    def close(self) -> None:
        """Stop training, join the background threads and close the widget.

        The status becomes "stopped" unless training had finished or failed
        (that status stays on show), and :meth:`wait` returns at once from
        then on. Calling it again is harmless.
        """
        if hasattr(self, "_jobs"):  # not when __init__ failed part way
            runners = (self._runs, self._jobs, self._drags)
            for runner in runners:  # all told to stop before any is waited for
                runner.close(timeout=0)
            for runner in runners:
                runner.close()
            # the run's last status went to the closed frame thread: nobody applies it
            if self.status in ("preparing", "ready", "training", "paused"):
                self.status = "stopped"
            self._runs.idle.set()
            self._ready.set()  # start() says "closed" rather than wait for a first frame
        super().close()

    # ------------------------------------------------------------ frames
    def _prepare(self) -> None:
        tr = self.trainer
        straight = self._recorder.maker.straight()
        self.straight = {"profile": straight.loss, "barrier": finite_or_none(straight.barrier())}
        self.straight_profile = straight
        control = tr.curve.control.detach().float().cpu().clone()
        loss = tr.history["loss"][-1] if tr.history["loss"] else None
        self._add_frame(control, tr.step_count, loss)
        self.editable = tr.step_count == 0
        self.status = "ready"
        self._ready.set()

    def _add_frame(self, control, step, loss) -> None:
        epoch = step / self._steps_per_epoch
        if self._recorder.add(control, self.resolution, step, epoch, loss, self.max_frames):
            self.every *= 2  # thinned: frames half as often from now on

    def _widen_color_range(self, surface) -> None:
        """Each frame's smallest loss to its 90th percentile joins the scale, so no
        frame saturates (a fixed scale from the first frame turned later ones yellow)."""
        if self._user_range:
            return
        own = initial_color_range(surface.loss)
        if own is None:
            return
        if self._range_seen is not None:
            own = [min(own[0], self._range_seen[0]), max(own[1], self._range_seen[1])]
        self._range_seen = own
        if own != list(self.color_range):
            self._widening = True
            try:
                self.color_range = own
            finally:
                self._widening = False

    @traitlets.observe("color_range")
    def _color_range_set(self, change: dict) -> None:
        if not getattr(self, "_widening", False):
            self._user_range = True  # set by hand: the frames no longer widen it

    def _sharpen(self, step: int, resolution: int):
        surface = self._recorder.sharpen(step, resolution)
        if surface is not None and self.status != "training":
            self._recorder.sync()
        return surface

    def _set_status(self, how: str, run: int) -> None:
        """Show status ``how`` of training run ``run``, unless it is stale by now."""
        error = self._runs.current_error(how, run)
        if error is None:
            return
        if how == "training":
            if not error:
                self.status = how
            return
        self._recorder.sync()
        self.progress = min(1.0, self._progress())
        self.status = error or how  # a failure stays on show until the next start()
        self._runs.idle.set()

    def _progress(self) -> float:
        return self.trainer.step_count / max(1, self.total_steps)

    # ------------------------------------------------------------ training
    def _end_editing(self) -> None:
        """Before a new training run: no more dragging, and a drag under way finishes."""
        self.editable = False
        self._drags.idle(30)

    def _hand_over(self, control: torch.Tensor, step: int, loss: float) -> None:
        """From the training thread: the frame of ``step`` to the frame thread."""
        # blocks while a frame is already waiting: training runs at most one frame ahead
        self._jobs.put("frame", control, step, loss)
        self.progress = self._progress()

    # ------------------------------------------------------------ the page
    def _on_page_message(self, _widget, content: dict, _buffers) -> None:
        event = content.get("event")
        if event == "control":
            action = content.get("action")
            if action == "start":  # start() may wait for the first frame: not on this thread
                threading.Thread(target=self.start, daemon=True).start()
            elif action in ("pause", "stop"):
                getattr(self, action)()
        elif event == "sharpen":
            index = int(content.get("index", -1))
            step = self._recorder.step_at(index) if index >= 0 else None
            if step is not None:  # by step: the index may change if frames are thinned
                threading.Thread(target=self._jobs.put, args=("sharpen", step), daemon=True).start()
        elif event == "move":
            self._drags.submit(lambda _cancel, c=dict(content): self._drag(c))

    def _drag(self, content: dict) -> None:
        """Move control point k to (x, y) in the first frame's plane; redraw its profile."""
        t0 = time.perf_counter()
        if not self.editable or self.trainer.step_count > 0 or not len(self._recorder):
            return
        k = int(content.get("index", 0))
        x, y = float(content["x"]), float(content["y"])
        if not (math.isfinite(x) and math.isfinite(y)):
            return
        curve = self.trainer.curve
        if not 0 <= k < curve.control.shape[0]:
            return
        with self._recorder.lock:
            if not self.editable:  # start() turned it off while this waited for the lock
                return
            self._recorder.move_control(curve, k, x, y)
            history = self.trainer.history  # training starts from the moved point
            if history["control_step"] and history["control_step"][-1] == 0:
                history["control"][-1] = curve.control.detach().cpu().clone()
            ms = (time.perf_counter() - t0) * 1e3
            self.send({"event": "answer", "seq": int(content.get("seq", 0)), "kernel_ms": ms})
            if content.get("final"):
                self._recorder.sync()

    def _failed(self, exc: BaseException, text: str) -> None:
        """A job failed: show it, and end the training run (the next frame would most
        likely fail the same way); the run's last status keeps the error on show."""
        error = f"error: {type(exc).__name__}: {exc}"
        self._error_text = text
        running = self._runs.fail(error)
        self.status = error
        self._ready.set()
        if not running:
            self._runs.idle.set()

    # ------------------------------------------------------------ export
    def _images(self, size: tuple[int, int]) -> list:
        """The recorded frames drawn as PIL images of ``size``, for GIF and MP4."""
        frames = self.frames_list()
        if not frames:
            raise ValueError("no frames recorded yet")
        range_ = tuple(self.color_range)
        return frame_images(frames, self.trainer.curve, self.colormap, self.log_scale, size, range_)


def _check_arguments(trainer, resolution, every, profile_points, max_frames, hires, kwargs):
    """Raise TypeError or ValueError for an argument of CurveTrainingWidget it cannot take."""
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
