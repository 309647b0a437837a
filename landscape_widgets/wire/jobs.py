"""Background work for the live widgets: one thread per kind of job, latest job wins.

A drag sends dozens of requests a second and a pan or zoom makes the grid
being computed stale. A :class:`LatestJob` keeps at most one job waiting: a
newer request replaces it, and (for grids) cancels the running one, so the
kernel's main thread never waits and stale work stops between chunks.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any


class LatestJob:
    """A daemon thread running the most recently submitted job.

    Parameters
    ----------
    name : str
        Thread name (shows in debuggers and tracebacks).
    on_error : callable
        ``on_error(exc, text)`` for an exception a job raised; the thread
        goes on with the next job.

    Each job is ``fn(cancel)`` where ``cancel`` is a ``threading.Event`` that
    is set once a newer job is submitted with ``cancel_running=True`` or the
    runner is closed.
    """

    def __init__(self, name: str, on_error: Callable[[BaseException, str], None]):
        self._name = name
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: tuple[Callable, threading.Event] | None = None
        self._running: threading.Event | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[threading.Event], Any], cancel_running: bool = False):
        """Queue ``fn``; a job still waiting is dropped. Returns the job's cancel Event."""
        cancel = threading.Event()
        with self._cond:
            if self._closed:
                raise RuntimeError(f"{self._name} is closed")
            if self._pending is not None:
                self._pending[1].set()
            self._pending = (fn, cancel)
            if cancel_running and self._running is not None:
                self._running.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()
        return cancel

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until no job runs or waits; False if ``timeout`` ran out first."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._pending is None and self._running is None, timeout
            )

    def close(self) -> None:
        """Cancel everything and let the thread end."""
        with self._cond:
            self._closed = True
            if self._pending is not None:
                self._pending[1].set()
                self._pending = None
            if self._running is not None:
                self._running.set()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:  # closed
                    return
                fn, cancel = self._pending
                self._pending = None
                self._running = cancel
            try:
                if not cancel.is_set():
                    fn(cancel)
            except BaseException as exc:  # a job's failure must not kill the thread
                self._on_error(exc, traceback.format_exc())
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()
