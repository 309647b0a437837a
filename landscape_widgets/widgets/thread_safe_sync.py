"""Syncing a widget's state from several threads.

ipywidgets batches a widget's messages in one ``hold_sync`` block that all
threads share: a change made by one thread while another thread is inside
the block goes out with that thread's batch (and races on its set of
pending names), and a custom message sent from inside a block that another
thread opened can overtake the state it follows. :class:`ThreadSafeSync`
makes the block, the step that queues or sends a changed trait, and every
message hold one lock per widget, ``send_lock``, so each thread's batch goes
out whole, in order. Trait observers run outside the lock, so a callback may
wait for the widget's threads.

It is a mixin, listed before the ipywidgets base class; its one attribute,
``send_lock``, is public so that a thread can read and change state, or send
a message after the state it follows, in one step.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ThreadSafeSync:
    """Mixin for an ipywidgets widget whose state background threads change.

    Attributes
    ----------
    send_lock : threading.RLock
        Held through :meth:`hold_sync` blocks and while a changed trait is
        queued or sent; hold it to read and change traits in one step, or to
        send a message after the state it follows.
    """

    def __init__(self, **kwargs: Any) -> None:
        # before the base class's __init__: setting the traits in kwargs takes it
        self.send_lock = threading.RLock()
        super().__init__(**kwargs)

    @contextmanager
    def hold_sync(self) -> Iterator[None]:
        """Send the state changed inside the block in one message, after it (thread-safe)."""
        with self.send_lock, super().hold_sync():
            yield

    def _should_send_property(self, key: str, value: Any) -> bool:
        # ipywidgets' step between a trait change and its message: add the name to
        # the open batch, or say "send it now". Overridden (rather than
        # notify_change) so that the observers that run after it stay outside the lock.
        with self.send_lock:
            return super()._should_send_property(key, value)

    def send_state(self, key: Any = None) -> None:
        """Send the named traits' state to the page now (thread-safe)."""
        with self.send_lock:
            super().send_state(key)
