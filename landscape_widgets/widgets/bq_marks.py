"""Values into bqplot marks and marks out of the figures, for :class:`ProfilePlot`
and :class:`LossCurve`: checked number arrays, NaN where a value cannot be drawn,
one message per mark, and read-only views of a figure's marks by name.

Non-finite values never reach the front-end as inf: they are sent as NaN,
which bqplot's Lines leave out of the line (a gap) and out of the axis range.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import ipywidgets
import numpy as np


def numeric_1d(value: Any, what: str) -> np.ndarray:
    """``value`` as a 1-D float64 array, or TypeError/ValueError naming ``what``.

    Takes sequences, numpy arrays and torch tensors (detached, on the CPU).
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be a 1-D array of numbers, got {type(value).__name__}")
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{what} must be a 1-D array of numbers: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    return arr.astype(np.float64)


def real_number(value: Any, what: str) -> float:
    """``value`` (a number, numpy scalar or one-element tensor) as a float."""
    if isinstance(value, (str, bytes, complex)):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except Exception:
        raise TypeError(f"{what} must be a real number, got {type(value).__name__}") from None


def for_display(values: np.ndarray, log: bool) -> tuple[np.ndarray, int, int]:
    """A copy with NaN where a value cannot be drawn.

    Returns ``(shown, n_nonfinite, n_nonpositive)``: NaN and inf become NaN;
    on a log scale values <= 0 become NaN too.
    """
    shown = np.array(values, dtype=np.float64)
    bad = ~np.isfinite(shown)
    n_bad = int(bad.sum())
    if n_bad:
        shown[bad] = np.nan
    n_nonpos = 0
    if log:
        with np.errstate(invalid="ignore"):
            nonpos = shown <= 0
        n_nonpos = int(nonpos.sum())
        if n_nonpos:
            shown[nonpos] = np.nan
    return shown, n_bad, n_nonpos


def hold_sync(*widgets: ipywidgets.Widget) -> contextlib.ExitStack:
    """One state message per widget for everything changed inside the block."""
    stack = contextlib.ExitStack()
    for w in widgets:
        stack.enter_context(w.hold_sync())
    return stack


def read_only_view(attribute: str, doc: str) -> property:
    """A property showing the dict ``self.<attribute>`` read-only (a live view).

    Examples
    --------
    >>> class Plot:
    ...     lines = read_only_view("_lines", "The Lines mark of each profile.")
    ...     def __init__(self):
    ...         self._lines = {"a": 1}
    >>> Plot().lines["a"]
    1
    """

    def view(self) -> Mapping:
        return MappingProxyType(getattr(self, attribute))

    return property(view, doc=doc)
