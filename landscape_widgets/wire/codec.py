"""Arrays over the wire, serialised by the traits that hold them.

A trait tagged ``.tag(sync=True, **array_serialization)`` may hold numpy
arrays anywhere in its value (alone, or inside dicts and lists). Each goes to
the page as ``{"dtype": "float32", "shape": [...], "buffer": <bytes>}``: the
buffer is a memoryview of little-endian float32 values in C order, which
ipywidgets ships as a binary message part (and ``export_html`` as base64),
never as a list of JSON numbers. NaN and inf survive the trip. The page
decodes every such dict in one place (``js/src/codec.js``, ``decodeArray``).

Whatever the page sends back in that form becomes an ndarray again
(:func:`array_from_json`). :class:`Array` is the trait for one array, e.g. a
grid, with its dtype and number of dimensions checked on assignment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

__all__ = [
    "Array",
    "array_from_json",
    "array_serialization",
    "array_to_json",
    "float32_array",
]

WIRE_DTYPE = "float32"
_WIRE_KEYS = frozenset({"dtype", "shape", "buffer"})


def float32_array(values: Any) -> np.ndarray:
    """``values`` as a new C-ordered float32 array, as the page will see it.

    Parameters
    ----------
    values : array-like
        Real numbers (bool, int or float); NaN and inf are kept.

    Returns
    -------
    numpy.ndarray
        A float32 copy; values beyond float32's range become inf.
    """
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float32, order="C")


def array_to_json(value: Any, widget: Any = None) -> Any:
    """``value`` with each ndarray in it replaced by its wire form.

    Parameters
    ----------
    value : Any
        A trait's value: an ndarray, or dicts, lists and tuples that may
        hold some; anything else is returned as it is.
    widget : Widget, optional
        The widget being serialised (ipywidgets passes it; unused).

    Returns
    -------
    Any
        The same structure (tuples become lists), each ndarray now
        ``{"dtype": "float32", "shape": [...], "buffer": memoryview}``.
        Values beyond float32's range become inf.
    """
    if isinstance(value, np.ndarray):
        data = float32_array(value).astype("<f4", copy=False)
        # a flat byte view: every transport (zmq, base64 for export) takes it as it is
        return {
            "dtype": WIRE_DTYPE,
            "shape": list(data.shape),
            "buffer": memoryview(data.reshape(-1).view(np.uint8)),
        }
    if isinstance(value, dict):
        return {key: array_to_json(item, widget) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [array_to_json(item, widget) for item in value]
    return value


def array_from_json(value: Any, widget: Any = None) -> Any:
    """The inverse of :func:`array_to_json`: wire-form dicts back to float32 ndarrays.

    Parameters
    ----------
    value : Any
        State from the page; a dict with exactly the keys dtype, shape and
        buffer (bytes, bytearray or memoryview) becomes an ndarray.
    widget : Widget, optional
        The widget receiving the state (ipywidgets passes it; unused).

    Returns
    -------
    Any
        The same structure with each such dict now a writable ndarray.
    """
    if isinstance(value, dict):
        if set(value) == _WIRE_KEYS:
            wire = np.dtype(value["dtype"]).newbyteorder("<")  # the page writes little-endian
            flat = np.frombuffer(value["buffer"], dtype=wire)
            return flat.reshape(tuple(value["shape"])).astype(wire.newbyteorder("="))
        return {key: array_from_json(item, widget) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [array_from_json(item, widget) for item in value]
    return value


array_serialization = {"to_json": array_to_json, "from_json": array_from_json}


class Array(traitlets.TraitType):
    """A trait holding one float32 ndarray, sent to the page as binary.

    Parameters
    ----------
    ndim : int, optional
        The number of dimensions every value must have; None accepts any.
    default_value : array-like, optional
        Default: an empty array of ``ndim`` dimensions (shape (0, 0) for a grid).
    **kwargs
        Passed to :class:`traitlets.TraitType` (``help``, ``allow_none``, ...).

    Any real array (or nested list of numbers) is accepted and stored as a
    C-ordered float32 copy; values beyond float32's range become inf. Tag it
    with ``.tag(sync=True, **array_serialization)`` to sync it.
    """

    info_text = "a real-valued numpy array"

    def __init__(self, default_value: Any = None, *, ndim: int | None = None, **kwargs: Any):
        self.ndim = ndim
        if default_value is None:
            default_value = np.zeros((0,) * (ndim or 1), dtype=np.float32)
        super().__init__(default_value=default_value, **kwargs)

    def validate(self, obj: Any, value: Any) -> np.ndarray:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise traitlets.TraitError(
                f"the {self.name!r} trait holds real numbers, not dtype {arr.dtype}"
            )
        if self.ndim is not None and arr.ndim != self.ndim:
            raise traitlets.TraitError(
                f"the {self.name!r} trait holds {self.ndim}-D arrays, not shape {arr.shape}"
            )
        return float32_array(arr)
