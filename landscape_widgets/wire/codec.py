"""Arrays over the wire: little-endian float32 bytes in C order, shapes sent beside them.

The JS side decodes them in one place (``js/src/codec.js``). NaN and inf
survive the trip.
"""

from __future__ import annotations

import numpy as np


def encode_array(values) -> bytes:
    """Any real array as little-endian float32 bytes in C order (NaN and inf kept)."""
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(values, dtype="<f4").tobytes()


def encode_grid(grid: np.ndarray) -> bytes:
    """A 2-D grid as little-endian float32 bytes in C order (NaN and inf kept)."""
    return encode_array(grid)


def decode_grid(data: bytes, shape) -> np.ndarray:
    """Inverse of :func:`encode_grid`: bytes and shape back to a float32 array."""
    return np.frombuffer(data, dtype="<f4").reshape(tuple(shape)).astype(np.float32)
