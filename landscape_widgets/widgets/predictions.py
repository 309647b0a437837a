"""What the network does at a probe's weights, for data a person can see.

For 2-D classification data (spirals, moons) the panel shows the decision
regions over the input plane; for 1-D regression the fitted function over
the inputs. Other data (images) get no panel: a probe still reports its loss
and metrics.
"""

from __future__ import annotations

import numpy as np
import torch

from ..wire.codec import float32_array

MAX_SHOWN = 500  # data points drawn in the panel


class Predictor:
    """Turns weights into the predictions panel's state for one Landscape.

    Use :meth:`detect`; it returns None when the data is neither 2-D
    classification nor 1-D regression.
    """

    def __init__(self, landscape, kind: str, resolution: int):
        self.ls = landscape
        self.kind = kind
        X = landscape.X.detach().double().cpu().numpy().reshape(len(landscape.X), -1)
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.08 * np.maximum(hi - lo, 1e-6)
        self.extent = np.stack([lo - pad, hi + pad], axis=1).ravel()  # x0, x1[, y0, y1]
        keep = np.random.default_rng(0).permutation(len(X))[:MAX_SHOWN]
        if kind == "classification":
            g = resolution
            gx = np.linspace(self.extent[0], self.extent[1], g)
            gy = np.linspace(self.extent[2], self.extent[3], g)
            xx, yy = np.meshgrid(gx, gy)  # rows are y, row 0 the smallest
            self.inputs = torch.tensor(np.stack([xx.ravel(), yy.ravel()], axis=1))
            self.shape = [g, g]
            labels = landscape.targets.cpu().numpy()[keep]
            self.data = np.concatenate([X[keep], labels[:, None]], axis=1)  # (n, 3)
        else:
            xs = np.linspace(self.extent[0], self.extent[1], resolution)
            self.inputs = torch.tensor(xs[:, None])
            self.shape = [resolution]
            y = landscape.y.detach().double().cpu().numpy().reshape(len(X))
            self.data = np.stack([X[keep, 0], y[keep]], axis=1)  # (n, 2)
        # computed once: the panel sends it again with every probe's values
        self._data_state = self._static_state()

    @classmethod
    def detect(cls, landscape, resolution: int | None = None) -> Predictor | None:
        X, y = landscape.X, landscape.y
        if X.dim() != 2:
            return None
        if X.shape[1] == 2 and landscape.targets is not None:
            return cls(landscape, "classification", resolution or 56)
        regression = y.is_floating_point() and (y.dim() == 1 or (y.dim() == 2 and y.shape[1] == 1))
        if X.shape[1] == 1 and regression:
            return cls(landscape, "regression", resolution or 160)
        return None

    def data_state(self) -> dict:
        """The static part of the panel: which kind, the data points, the input window."""
        return dict(self._data_state)

    def at(self, weights) -> dict:
        """The panel's values at ``weights``: class and confidence per input cell, or ŷ(x).

        ``{"values": array}``, of shape (2, ny, nx) for classification (class,
        confidence) and (n,) for regression; the array's shape travels with it.
        """
        out = self.ls.predict(weights, self.inputs).double()
        if self.kind == "classification":
            conf, cls = out.softmax(dim=-1).max(dim=-1)
            values = np.stack([cls.numpy(), conf.numpy()]).reshape(2, *self.shape)
            return {"values": float32_array(values)}
        return {"values": float32_array(out.reshape(-1).numpy())}

    def _static_state(self) -> dict:
        state = {
            "kind": self.kind,
            "extent": [float(v) for v in self.extent],
            "data": float32_array(self.data),
            "n_data": int(len(self.data)),
        }
        if self.kind == "classification":
            classes = int(self.ls.targets.max()) + 1
            state["n_classes"] = max(self.ls.output_width(), classes)
        return state
