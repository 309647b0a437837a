"""Background work for the live widgets: one thread per kind of job, latest job wins.

A drag sends dozens of requests a second and a pan or zoom makes the grid
being computed stale. A :class:`LatestJob` keeps at most one job waiting: a
newer request replaces it, and (for grids) cancels the running one, so the
kernel's main thread never waits and stale work stops between chunks.

Closing a runner cancels its work and joins its thread. A daemon thread still
inside torch when the interpreter finalises aborts the process ("terminate
called without an active exception", exit status 134), so every runner still
open at exit is closed by an :mod:`atexit` handler (:func:`close_at_exit`).
It runs after Python has joined the non-daemon threads and before it tears
down the modules, which is when the daemon threads must be stopped.
"""

from __future__ import annotations

import atexit
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from typing import Any

JOIN_TIMEOUT = 30.0
"""Seconds close() waits for a thread: work stops between chunks and steps,
far sooner, so this bounds only a job that ignores its cancel Event."""


_open: weakref.WeakSet = weakref.WeakSet()  # runners with a thread that may still run


def close_at_exit(runner: Any) -> None:
    """Close ``runner`` at interpreter exit if it is still open then.

    ``runner.close(timeout)`` must cancel its work, join its thread for at
    most ``timeout`` seconds and be harmless to call again.

    Held weakly: a runner that is garbage collected is forgotten. At exit
    every runner is first told to stop (``close(timeout=0)``), then each is
    joined, so their threads wind down together.
    """
    _open.add(runner)


@atexit.register
def _close_all() -> None:
    runners = list(_open)
    for runner in runners:
        runner.close(timeout=0)
    for runner in runners:
        runner.close()


def deadline_left(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value; None: no limit)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def join_thread(thread: threading.Thread | None, timeout: float | None) -> bool:
    """Join ``thread`` for at most ``timeout`` s; whether it has ended.

    A thread never waits for itself: called from ``thread`` (a job closing
    its own runner) it returns False at once.
    """
    if thread is None or thread.ident is None:
        return True
    if thread is threading.current_thread():
        return False
    thread.join(timeout)
    return not thread.is_alive()


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
                close_at_exit(self)
            self._cond.notify()
        return cancel

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until no job runs or waits; False if ``timeout`` ran out first."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._pending is None and self._running is None, timeout
            )

    def close(self, timeout: float | None = JOIN_TIMEOUT) -> bool:
        """Cancel everything and join the thread; calling it again is harmless.

        Parameters
        ----------
        timeout : float or None
            Seconds to wait for the running job to stop (None: no limit,
            0: do not wait).

        Returns
        -------
        bool
            Whether the thread has ended (False when ``timeout`` ran out, or
            when called from the thread's own job, which cannot wait for itself).
        """
        with self._cond:
            self._closed = True
            if self._pending is not None:
                self._pending[1].set()
                self._pending = None
            if self._running is not None:
                self._running.set()
            self._cond.notify_all()
            thread = self._thread
        return join_thread(thread, timeout)

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
