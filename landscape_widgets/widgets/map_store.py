"""The map as a live view of a render store: tiles appear as another process writes them.

:meth:`MapStore.from_store` shows a store (finished or not, or not yet
created) and starts a :class:`StoreWatcher`, a thread that re-reads the
store's done flags every ``interval`` seconds and, when tiles were added,
shows the grid again with each unfinished cell drawn as its nearest finished
one, so a render a tenth done is already the whole window at a coarser
spacing. The map's status line says how many tiles are done. The render
itself runs anywhere that writes the store: another kernel, a
``python -m landscape_widgets render`` job, a Dask cluster.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..render.store import RenderStore, StoreError

__all__ = ["MapStore", "StoreWatcher"]


class StoreWatcher:
    """A thread that shows a render store on a widget whenever tiles are added.

    Parameters
    ----------
    widget
        Anything with ``show(surface)``, and ``status``/``progress``/``activity``
        traits (the map) or not (then only ``show``).
    path : path
        The store; it may not exist yet.
    interval : float
        Seconds between looks at the store's done flags.
    """

    def __init__(self, widget: Any, path, interval: float = 0.5):
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
        self.widget, self.path, self.interval = widget, Path(path), float(interval)
        self.tiles_done = -1  # what was shown last
        self.complete = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="landscape-store", daemon=True)
        if self.poll():  # once now, so the widget says where the store stands at once
            self.complete.set()
        else:
            self._thread.start()

    def poll(self) -> bool:
        """Look at the store once; show it if tiles were added. True when it is complete."""
        try:
            store = RenderStore.open(self.path)
            done = store.tiles_done()
        except StoreError:
            self._say("computing", 0.0, f"waiting for {self.path.name}")
            return False
        n = int(done.sum())
        if n != self.tiles_done and n > 0:
            self.widget.show(store.surface(filled=True))
            self.tiles_done = n
        if n == done.size:
            self._say("done", 1.0, "")
            return True
        self._say("computing", n / done.size, f"{self.path.name}: {n} of {done.size} tiles")
        return False

    def _say(self, status: str, progress: float, activity: str) -> None:
        w = self.widget
        if not hasattr(w, "status"):
            return
        with w.hold_sync():
            w.status, w.progress, w.activity = status, progress, activity

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.poll():
                    self.complete.set()
                    return
            except Exception as err:  # a store being replaced under us: say so, keep looking
                self._say("computing", 0.0, f"error reading {self.path.name}: {err}")
            self._stop.wait(self.interval)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the store is complete (True) or ``timeout`` passes (False)."""
        return self.complete.wait(timeout)

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop looking; wait up to ``timeout`` for the thread to end."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


class MapStore:
    """The map's part: showing a render store live (mixed into ``LandscapeWidget``)."""

    watcher: StoreWatcher | None = None

    @classmethod
    def from_store(cls, path, interval: float = 0.5, **kwargs: Any):
        """A map of the render store at ``path`` that fills in as tiles land.

        The store may still be rendering in another process, on a cluster, or
        not exist yet. ``kwargs`` are the map's look (``title``, ``colormap``,
        ``log_scale``, ...). ``widget.watcher.wait()`` blocks until the store
        is complete; ``close()`` stops watching.

        Examples
        --------
        >>> m = LandscapeWidget.from_store("resnet20.zarr", title="ResNet-20")  # doctest: +SKIP
        >>> m  # fills in while `python -m landscape_widgets render cfg.toml` runs  # doctest: +SKIP
        """
        widget = cls(None, **kwargs)  # the watcher's first look shows the store
        widget.watcher = StoreWatcher(widget, path, interval)
        return widget
