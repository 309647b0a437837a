"""Results of an evaluation: plain dataclasses of numpy arrays, with save/load."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _anchors_json(anchors: dict) -> dict:
    return {k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in anchors.items()}


def _anchors_from_json(anchors: dict) -> dict:
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in anchors.items()}


def _save(path, kind: str, arrays: dict, metrics: dict, meta: dict) -> None:
    """Write ``arrays``, each metric as ``metric:<name>`` and ``meta`` (as JSON) to ``path``."""
    arrays = {**arrays, **{f"metric:{k}": v for k, v in metrics.items()}}
    meta = {"type": kind, **meta}
    # through a file object, so numpy does not append ".npz" to the name
    with open(Path(path), "wb") as f:
        np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)


def _load(path, kind: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """The arrays, the metrics and the meta that :func:`_save` wrote for a ``kind``."""
    with np.load(Path(path), allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
        meta = json.loads(str(f["__meta__"]))
    if meta.get("type") != kind:
        raise ValueError(f"{path} holds a {meta.get('type')}, not a {kind}")
    metrics = {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith("metric:")}
    return arrays, metrics, meta


@dataclass
class Surface:
    """Loss (and metrics) over a grid of plane coordinates.

    Attributes
    ----------
    x, y : np.ndarray
        1-D grid coordinates in the plane.
    loss : np.ndarray
        Shape ``(len(y), len(x))``: ``loss[i, j]`` is the loss at ``(x[j], y[i])``.
        Non-finite values are kept as NaN / inf (see :attr:`nonfinite`).
    metrics : dict[str, np.ndarray]
        Each metric (``"loss"`` included) on the same grid.
    anchors : dict[str, tuple[float, float]]
        The plane's defining points in plane coordinates.
    provenance : dict
        How it was computed: plane kind, seed, subset size, strategy, seconds...
    level, done : int, bool
        For partial results from :meth:`Landscape.stream`: the level's
        index and whether this is the final, complete grid.
    computed : np.ndarray or None
        For partial results: which cells hold an evaluated value (the others
        repeat their nearest evaluated neighbour).
    """

    x: np.ndarray
    y: np.ndarray
    loss: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    anchors: dict[str, tuple[float, float]] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    level: int = 0
    done: bool = True
    computed: np.ndarray | None = None

    @property
    def nonfinite(self) -> np.ndarray:
        """Boolean mask of cells whose loss is NaN or infinite."""
        return ~np.isfinite(self.loss)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        return (float(self.x[0]), float(self.x[-1]), float(self.y[0]), float(self.y[-1]))

    def save(self, path) -> None:
        """Write to a ``.npz`` file; :meth:`load` gives back an equal Surface."""
        arrays = {"x": self.x, "y": self.y, "loss": self.loss}
        if self.computed is not None:
            arrays["computed"] = self.computed
        meta = {
            "anchors": _anchors_json(self.anchors),
            "provenance": self.provenance,
            "level": self.level,
            "done": self.done,
        }
        _save(path, "Surface", arrays, self.metrics, meta)

    @classmethod
    def load(cls, path) -> Surface:
        arrays, metrics, meta = _load(path, "Surface")
        return cls(
            arrays["x"],
            arrays["y"],
            arrays["loss"],
            metrics,
            _anchors_from_json(meta["anchors"]),
            meta["provenance"],
            meta["level"],
            meta["done"],
            arrays.get("computed"),
        )


@dataclass
class Profile:
    """Loss (and metrics) along a 1-D path, at parameters ``t``."""

    t: np.ndarray
    loss: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    anchors: dict[str, float] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def nonfinite(self) -> np.ndarray:
        return ~np.isfinite(self.loss)

    def barrier(self, metric: str = "loss") -> float:
        """Max of the metric on ``0 <= t <= 1`` minus the larger end value.

        The end values are interpolated linearly if 0 or 1 is not a grid point.
        """
        if metric != "loss" and metric not in self.metrics:
            raise KeyError(f"no metric {metric!r}; the profile has {sorted(self.metrics)}")
        values = self.loss if metric == "loss" else self.metrics[metric]
        inside = (self.t >= 0) & (self.t <= 1)
        if not inside.any():
            raise ValueError("the profile has no point with 0 <= t <= 1")
        ends = np.interp([0.0, 1.0], self.t, values)
        return float(np.max(values[inside]) - np.max(ends))

    def save(self, path) -> None:
        arrays = {"t": self.t, "loss": self.loss}
        meta = {"anchors": self.anchors, "provenance": self.provenance}
        _save(path, "Profile", arrays, self.metrics, meta)

    @classmethod
    def load(cls, path) -> Profile:
        arrays, metrics, meta = _load(path, "Profile")
        return cls(arrays["t"], arrays["loss"], metrics, meta["anchors"], meta["provenance"])
