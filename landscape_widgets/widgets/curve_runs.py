"""The background threads of :class:`CurveTrainingWidget`: training, and frames.

Training runs in one background thread (one torch thread: a mini-batch of a
small network is too small to split). Every ``every`` steps it hands the
control points over to the frame thread and goes on with the next steps
while that frame is evaluated; the hand-over blocks only while a second
frame is already waiting, so frames are taken at exact steps and the
animation is the same on a slow machine, only slower.

Each start of training is a run with its own number; a status a run posts is
applied only while it is still the current run, so a stop-then-start cannot
end on the old run's "stopped".

Frames are evaluated in a second thread that takes one job at a time from a
queue of one (:class:`JobThread`): whoever queues a job waits while another
one is waiting, which is what holds training at most one frame ahead.
"""

from __future__ import annotations

import math
import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..wire.jobs import JOIN_TIMEOUT, close_at_exit, join_thread

_POLL = 0.2  # seconds a queue wait lasts before it looks for close()


class TrainingRuns:
    """Training in a background thread, one run at a time: start, pause, stop, fail.

    Parameters
    ----------
    trainer : CurveTrainer
        What :meth:`start` trains (its ``step()``).
    plan : callable
        ``plan() -> (total_steps, every)``, asked before every step (both may
        change while training runs): train up to step ``total_steps``, hand
        the losses over every ``every`` steps.
    hand_over : callable
        ``hand_over(control, step, loss)``: the curve's control points
        (float32, on the CPU) at training step ``step``, with the mean
        finite loss of the steps since the last call (NaN when none was
        finite); every ``every`` steps, when a run pauses and when it ends.
    post_status : callable
        ``post_status(how, run)`` as run ``run`` goes "training", "paused",
        "stopped" or "finished".
    on_error : callable
        ``on_error(exc, text)`` when training raised; the run ends "stopped".
    """

    def __init__(
        self,
        trainer,
        plan: Callable[[], tuple[int, int]],
        hand_over: Callable[[torch.Tensor, int, float], None],
        post_status: Callable[[str, int], None],
        on_error: Callable[[BaseException, str], None],
    ) -> None:
        self.trainer = trainer
        self._plan = plan
        self._hand_over = hand_over
        self._post_status = post_status
        self._on_error = on_error
        self.idle = threading.Event()  # no run in progress (the widget's wait() waits for it)
        self.idle.set()
        self.error = ""  # the status of a failure; kept until the next new run
        self.thread: threading.Thread | None = None
        self._control = threading.Condition()
        self._pause = False
        self._stop = False
        self._run = 0

    def running(self) -> bool:
        """Whether a run's thread is alive (training, paused or stopping)."""
        return self.thread is not None and self.thread.is_alive()

    def start(self, before_new_run: Callable[[], None]) -> None:
        """Resume a paused run, or begin a new one once a stopping run has ended.

        ``before_new_run()`` is called before a new run takes its first step.
        """
        with self._control:
            self.idle.clear()
            self._pause = False
            stopping = self._stop
            old = self.thread
            alive = self.running()
            self._control.notify_all()
        if alive and not stopping:
            return  # resumed (or already running)
        if alive:
            old.join()  # a stopping run ends after its current step
        with self._control:
            self._stop = False
            self.error = ""
            self._run += 1
            run = self._run
        before_new_run()
        self.thread = threading.Thread(
            target=self._loop, args=(run,), name="curve-training", daemon=True
        )
        self.thread.start()
        close_at_exit(self)

    def pause(self) -> None:
        """Hold the run after its current step."""
        with self._control:
            if self.running():
                self._pause = True
                self._control.notify_all()

    def stop(self) -> None:
        """End the run after its current step."""
        with self._control:
            self._stop = True
            self._control.notify_all()

    def close(self, timeout: float | None = JOIN_TIMEOUT) -> bool:
        """End the run after its current step and join its thread (``timeout`` s at most).

        Returns whether no run's thread is left; calling it again is harmless.
        """
        self.stop()
        return join_thread(self.thread, timeout)

    def fail(self, error: str) -> bool:
        """End the run on ``error`` (kept in :attr:`error`); whether a run was still alive."""
        with self._control:
            self.error = error
            self._stop = True
            self._control.notify_all()
            return self.running()

    def current_error(self, how: str, run: int) -> str | None:
        """None when status ``how`` of run ``run`` is stale (a newer run began, or a
        pause was resumed before it arrived); else the run's error, "" for none."""
        with self._control:
            if run != self._run or (how == "paused" and not self._pause):
                return None
            return self.error

    def _loop(self, run: int) -> None:
        trainer = self.trainer
        losses: list[float] = []
        how = "finished"
        try:
            self._post_status("training", run)
            while trainer.step_count < self._plan()[0]:
                with self._control:
                    stop, pause = self._stop, self._pause
                if pause and not stop:
                    if losses:  # a frame shows where training holds
                        self._hand_over_losses(losses)
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
                losses.append(trainer.step())
                total, every = self._plan()
                if trainer.step_count % every == 0 or trainer.step_count >= total:
                    self._hand_over_losses(losses)
                    losses = []
            if losses:
                self._hand_over_losses(losses)
        except BaseException as exc:
            self._on_error(exc, traceback.format_exc())
            how = "stopped"
        self._post_status(how, run)

    def _hand_over_losses(self, losses: list[float]) -> None:
        control = self.trainer.curve.control.detach().float().cpu().clone()
        finite = [v for v in losses if math.isfinite(v)]
        loss = float(np.mean(finite)) if finite else math.nan
        self._hand_over(control, self.trainer.step_count, loss)


class JobThread:
    """A daemon thread doing queued jobs one at a time, from a queue of one.

    Parameters
    ----------
    name : str
        The thread's name.
    handlers : dict
        ``{kind: fn}``: the job ``(kind, *args)`` calls ``fn(*args)``.
    on_error : callable
        ``on_error(exc, text)`` when a job raised; the thread goes on.
    """

    def __init__(
        self,
        name: str,
        handlers: dict[str, Callable[..., Any]],
        on_error: Callable[[BaseException, str], None],
    ) -> None:
        self._handlers = handlers
        self._on_error = on_error
        self._jobs: queue.Queue = queue.Queue(maxsize=1)
        self.closed = False
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()
        close_at_exit(self)

    def put(self, kind: str, *args: Any) -> bool:
        """Queue a job, waiting while another one is queued; False once closed."""
        while not self.closed:
            try:
                self._jobs.put((kind, *args), timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def close(self, timeout: float | None = JOIN_TIMEOUT) -> bool:
        """End the thread after its current job (within ``_POLL`` seconds when idle)
        and join it for ``timeout`` s at most; whether it ended. Harmless to repeat."""
        self.closed = True
        return join_thread(self.thread, timeout)

    def _loop(self) -> None:
        while not self.closed:
            try:
                kind, *args = self._jobs.get(timeout=_POLL)
            except queue.Empty:
                continue
            try:
                self._handlers[kind](*args)
            except BaseException as exc:  # the thread must live on for the next job
                self._on_error(exc, traceback.format_exc())
