"""The frames a :class:`CurveTrainingWidget` records, and the page told of each change.

Beside each frame the record keeps what renders it again (its control points
and window); its plane is computed again from the control points, which is
cheaper to keep than the plane's two directions. Past ``max_frames`` every
other frame is dropped (the first and the newest always stay), so a long run
stays a replayable size.

Each new or changed frame goes to the page at once as a custom message (one
frame, not the whole list); the whole list goes to the ``frames`` trait every
``SYNC_EVERY`` frames, after thinning, and whenever the widget asks (training
paused or ended, an export), so a saved notebook or an exported HTML holds
every frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch

from ..core.planes import Plane
from ..core.results import Surface
from ..wire.codec import array_to_json
from .curve_frames import FrameMaker, grid_fields, move_control_point

SYNC_EVERY = 20  # frames between full re-syncs of the `frames` trait while training


class FrameRecorder:
    """Evaluates each frame, records it and tells the page: the frame thread's work.

    Parameters
    ----------
    maker : FrameMaker
        Evaluates frames.
    send : callable
        ``send(content, buffers)``: a custom message to the page.
    sync : callable
        ``sync(frames)``: the whole list to the widget's ``frames`` trait.
    on_grid : callable
        ``on_grid(surface)`` with each new frame's grid, before the page gets
        the frame (the widget widens its colour scale to it).

    :attr:`lock` (re-entrant) guards the list and keeps each change and the
    message that tells the page about it together.
    """

    def __init__(
        self,
        maker: FrameMaker,
        send: Callable[[dict, list], None],
        sync: Callable[[list[dict]], None],
        on_grid: Callable[[Surface], None],
    ) -> None:
        self.maker = maker
        self._send = send
        self._sync = sync
        self._on_grid = on_grid
        self.lock = threading.RLock()
        self.first_plane: Plane | None = None  # theta is dragged in it before training
        self._frames: list[dict] = []
        self._records: list[dict] = []  # per frame: {"control", "window"}

    def __len__(self) -> int:
        return len(self._records)

    def frames(self) -> list[dict]:
        """The frames, oldest first (a new list; the frames themselves are shared)."""
        with self.lock:
            return list(self._frames)

    def sync(self) -> None:
        """Send the whole list to the ``frames`` trait."""
        with self.lock:
            self._sync(list(self._frames))

    def step_at(self, index: int) -> int | None:
        """The step of frame ``index`` (negative counts from the end); None if there is none."""
        with self.lock:
            n = len(self._frames)
            return self._frames[index]["step"] if -n <= index < n else None

    def add(
        self, control: torch.Tensor, resolution: int, step: int, epoch: float, loss, max_frames: int
    ) -> bool:
        """Evaluate, record and send the frame of ``control`` at ``step``.

        Past ``max_frames`` frames, every other one is dropped instead (the
        first and the newest stay), the list is synced and True returned.
        """
        frame, surface, plane, window = self.maker.frame(control, resolution, step, epoch, loss)
        with self.lock:
            self._on_grid(surface)
            if not self._records:
                self.first_plane = plane
            self._records.append({"control": control, "window": window})
            self._frames.append(frame)
            if len(self._frames) > max_frames:
                keep = sorted(set(range(0, len(self._frames), 2)) | {len(self._frames) - 1})
                self._frames = [self._frames[i] for i in keep]
                self._records = [self._records[i] for i in keep]
                self.sync()
                return True
            index = len(self._frames) - 1
            self._send(*frame_message(index, frame))
            if index % SYNC_EVERY == 0:
                self.sync()
            return False

    def sharpen(self, step: int, resolution: int) -> Surface | None:
        """Evaluate the frame of ``step`` again at ``resolution`` and send it.

        Returns the new grid; None when the frame has been dropped (it is
        looked up again after the work: frames may be thinned meanwhile).
        """
        with self.lock:
            index = self._index_of(step)
            if index is None:
                return None
            record = self._records[index]
            control, window = record["control"], record["window"]
            plane = self.first_plane if index == 0 else None
        if plane is None:  # computed outside the lock: a plane of a big network takes a while
            plane = self.maker.planes.plane(control)
        surface, *_ = self.maker.grid(control, resolution, window, plane)
        with self.lock:
            index = self._index_of(step)
            if index is not None:
                self._update(index, None, {**grid_fields(surface), "hires": True})
        return None if index is None else surface

    def move_control(self, curve, k: int, x: float, y: float) -> None:
        """Move ``curve``'s control point ``k`` to (x, y) in the first frame's plane,
        and redraw the first frame's curve and profile."""
        with self.lock:
            plane = self.first_plane
            control = move_control_point(curve, plane, k, x, y)
            self._update(0, control, self.maker.curve_part(control, plane))

    def _index_of(self, step: int) -> int | None:
        return next((i for i, f in enumerate(self._frames) if f["step"] == step), None)

    def _update(self, index: int, control: torch.Tensor | None, fields: dict) -> None:
        frame = {**self._frames[index], **fields}
        self._frames[index] = frame
        if control is not None:
            self._records[index]["control"] = control
        self._send(*frame_message(index, frame))


def frame_message(index: int, frame: dict) -> tuple[dict, list[memoryview]]:
    """Frame ``index`` as a custom message to the page, and the message's buffers.

    Each array in the frame goes as ``{"dtype", "shape", "buffer": k}``
    (the wire form of ``wire.codec``) with its bytes in the k-th buffer.
    """
    buffers: list[memoryview] = []
    frame_part = _buffers_out(array_to_json(frame), buffers)
    return {"event": "frame", "index": index, "frame": frame_part}, buffers


def _buffers_out(value: Any, buffers: list) -> Any:
    """``value`` with each wire-form array's bytes moved to ``buffers``, their index left."""
    if isinstance(value, dict):
        if isinstance(value.get("buffer"), memoryview):
            buffers.append(value["buffer"])
            return {**value, "buffer": len(buffers) - 1}
        return {key: _buffers_out(item, buffers) for key, item in value.items()}
    if isinstance(value, list):
        return [_buffers_out(item, buffers) for item in value]
    return value
