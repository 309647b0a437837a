"""What a render's workers need, sent once per worker, and the task each tile runs.

A :class:`RenderJob` holds the pieces a worker rebuilds the landscape from:
the model as given, the loss, the fixed evaluation samples, the plane, the
grid's axes and the engine every tile uses. It travels pickled
(``cloudpickle`` where installed, so models defined in a notebook travel too)
and is named by the SHA-256 of its bytes, its *token*. A worker loads it
once (from bytes a Dask cluster broadcast, or from a file beside the store
for other executors, checked against the token before it is unpickled) and
keeps the rebuilt landscape for every later tile of the same token; a tile's
task carries only the token, where to find the job, and the tile's indices.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.landscape import Landscape
from ..core.planes import Plane

__all__ = [
    "RenderJob",
    "data_fingerprint",
    "dumps",
    "grid_coords",
    "model_fingerprint",
    "run_tile",
]


@dataclass
class RenderJob:
    """Everything a worker needs to evaluate any tile of one render."""

    model: nn.Module
    loss_fn: object
    X: torch.Tensor
    y: torch.Tensor
    plane: Plane
    xs: np.ndarray
    ys: np.ndarray
    strategy: str
    metrics: list[str]
    bn: str = "keep"
    bn_X: torch.Tensor | None = None
    dtype: torch.dtype = torch.float32
    batch_size: int | None = None
    device: str = "cpu"
    #: torch threads per worker process by host name ("*" for any host): n > 0
    #: threads, or -n for the host's cores shared among n tasks at once
    threads: dict = field(default_factory=dict)

    @classmethod
    def of(cls, ls: Landscape, plane: Plane, xs, ys, strategy: str, device=None) -> RenderJob:
        """The job of rendering ``plane`` with landscape ``ls`` on the grid ``xs`` x ``ys``."""
        bn_X = getattr(ls, "bn_X", None) if ls.bn == "recompute" and ls.has_bn else None
        return cls(
            model=ls.model,
            loss_fn=ls.loss_fn,
            X=ls.X.cpu(),
            y=ls.y.cpu(),
            plane=plane,
            xs=np.asarray(xs, dtype=np.float64),
            ys=np.asarray(ys, dtype=np.float64),
            strategy=strategy,
            metrics=list(ls.metrics),
            bn=ls.bn,
            bn_X=None if bn_X is None else bn_X.cpu(),
            dtype=ls.dtype,
            batch_size=ls.batch_size,
            device=str(device or ls.device),
        )

    def landscape(self) -> Landscape:
        """The landscape this job describes (the same numbers as the one it came from)."""
        bn_data = None if self.bn_X is None else (self.bn_X, torch.zeros(len(self.bn_X)))
        return Landscape(
            self.model,
            self.loss_fn,
            (self.X, self.y),
            subset=None,
            metrics=self.metrics,
            bn=self.bn,
            device=self.device,
            dtype=self.dtype,
            batch_size=self.batch_size,
            bn_data=bn_data,
        )

    def coords(self, indices: np.ndarray) -> np.ndarray:
        """``(n, 2)`` plane coordinates of flat grid indices (:func:`grid_coords`)."""
        return grid_coords(self.xs, self.ys, indices)


def grid_coords(xs: np.ndarray, ys: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``(n, 2)`` plane coordinates of flat grid indices, row-major over (y, x) as ``Grid``'s."""
    nx = len(xs)
    return np.stack([xs[indices % nx], ys[indices // nx]], axis=1)


def dumps(job: RenderJob) -> tuple[str, bytes]:
    """``(token, bytes)`` of a job: cloudpickle where installed, else pickle."""
    try:
        import cloudpickle  # deferred: optional, comes with the distributed extra

        data = cloudpickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    except ImportError:
        data = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(data).hexdigest(), data


# ---------------------------------------------------------------- worker side
# Per process: {token: (job, landscape)}. One render at a time is the common
# case; a few are kept so interleaved renders on one cluster do not rebuild.
_LOADED: dict[str, tuple[RenderJob, Landscape]] = {}
_LOADED_LOCK = threading.Lock()
_KEEP = 4


def _worker_threads(threads: dict) -> int | None:
    """This worker's torch threads from its host's share, or None to leave them."""
    if not threads:
        return None
    try:
        from distributed import get_worker  # deferred: optional

        host = get_worker().address.split("://")[-1].rsplit(":", 1)[0]
    except (ImportError, ValueError):
        host = None
    n = int(threads.get(host, threads.get("*", 0)))
    if n == 0:
        return None
    return n if n > 0 else max(1, (os.cpu_count() or 1) // -n)


def _load(token: str, source) -> tuple[RenderJob, Landscape]:
    with _LOADED_LOCK:
        if token in _LOADED:
            return _LOADED[token]
        if isinstance(source, RenderJob):  # the same process (threads): no copy
            job = source
        else:
            data = Path(source).read_bytes() if isinstance(source, (str, os.PathLike)) else source
            if hashlib.sha256(data).hexdigest() != token:
                raise ValueError(
                    "the render job's bytes do not match its token: the job file was "
                    "changed or truncated after the render started"
                )
            job = pickle.load(io.BytesIO(data))
        threads = _worker_threads(job.threads)
        if threads is not None:
            torch.set_num_threads(threads)
        loaded = (job, job.landscape())
        _LOADED[token] = loaded
        while len(_LOADED) > _KEEP:
            _LOADED.pop(next(iter(_LOADED)))
        return loaded


def run_tile(token: str, source, indices: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate one tile's grid points: ``{metric: float64 values}`` in ``indices`` order.

    ``source`` is where the job is: its bytes, a file holding them, or the
    job itself. The task every executor runs; module-level so it pickles by
    name.
    """
    job, ls = _load(token, source)
    return ls.evaluate_points(job.plane, job.coords(np.asarray(indices)), strategy=job.strategy)


# ------------------------------------------------------------- fingerprints
def _digest(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:32]


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 (first 32 hex digits) of every parameter and buffer, in order."""
    return _digest(model.state_dict().values())


def data_fingerprint(ls: Landscape) -> str:
    """SHA-256 (first 32 hex digits) of the evaluation samples and the BN samples."""
    parts = [ls.X, ls.y]
    if ls.bn == "recompute" and ls.has_bn:
        parts.append(ls.bn_X)
    return _digest(parts)


def plane_fingerprint(plane: Plane) -> str:
    """SHA-256 (first 32 hex digits) of the plane's origin and directions."""
    return _digest([plane.origin, plane.u, plane.v])
