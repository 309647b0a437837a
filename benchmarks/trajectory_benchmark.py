"""Step rate of two-weight descents: the partial path against the full one, in one run.

``record_trajectory(..., plane=Plane.weights(...))`` trains two weights. The
full path runs the whole network forward and backward at every step; the
partial path (``info["path"] == "partial"``) computes the frozen layers once
and runs only what the two weights change. Both run here on the same model,
data, start and optimizer, in interleaved rounds (medians are reported: shared
machines stall at random), and the ratio of their step rates is printed. The
full path is forced by wrapping the network in a module that is not an
``nn.Sequential``, which changes nothing else.

Cases (the two-weight MNIST article's network, HB-* in FIGURES.md: 784-50-500-10,
sigmoid everywhere, no biases, numpy seed 135; full-batch gradient descent,
lr 10 on half the summed squared error):

1. output layer, weights (5, 250) and (5, 251) of ``5.weight``, N = 100 images,
   from (-9, 15) (the article's case; the target is at least 50x)
2. hidden layer, weights (200, 30) and (200, 31) of ``3.weight``, N = 500, from (0, 0)
3. as 1 with Adam and mini-batches of 20

Data: MNIST from ``$LW_DATA`` (the folder holding ``MNIST/``), else
``<repo>/../shared/data``, else the built-in synthetic digits (said so in the
output). Nothing here is a test and nothing is asserted.

    .venv/bin/python benchmarks/trajectory_benchmark.py [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from landscape_widgets import Plane, datasets, models, record_trajectory

ROOT = Path(__file__).resolve().parents[1]


class Whole(nn.Module):
    """The network behind a module that is not a chain: record_trajectory's full path."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def load(n: int):
    """The first ``n`` MNIST training images (pixels / 255) with one-hot targets."""
    for root in (os.environ.get("LW_DATA"), ROOT.parent / "shared" / "data"):
        if root and (Path(root) / "MNIST" / "raw").is_dir():
            X, y = datasets.mnist(root)
            return X[:n], models.one_hot(y[:n], 10), f"MNIST from {root}"
    X, y = datasets.digits(n, seed=0)
    return X, models.one_hot(y, 10), "built-in digits (no MNIST found)"


def time_run(model, plane, data, steps, **kw) -> tuple[float, object]:
    t = time.perf_counter()
    run = record_trajectory(model, data, plane=plane, steps=steps, every=steps, **kw)
    return (time.perf_counter() - t) / steps, run


def case(name, a, b, n, start, kw, steps_full, steps_partial, rounds):
    X, Y, source = load(n)
    net = models.normal_init(models.teaching_mlp(output_activation=True), 135)
    whole = Whole(net)
    plane = Plane.weights(net, a, b)
    whole_plane = Plane.weights(whole, (f"net.{a[0]}", a[1]), (f"net.{b[0]}", b[1]))
    kw = dict(loss_fn=models.SumSquaredError(0.5), start=start, **kw)
    # warm-up, and the check that each path is the one meant
    _, full = time_run(whole, whole_plane, (X, Y), 5, **kw)
    _, part = time_run(net, plane, (X, Y), 5, **kw)
    assert full.info["path"] == "full" and part.info["path"].startswith("partial"), (
        full.info,
        part.info,
    )
    t_full, t_part = [], []
    for _ in range(rounds):
        t_full.append(time_run(whole, whole_plane, (X, Y), steps_full, **kw)[0])
        t_part.append(time_run(net, plane, (X, Y), steps_partial, **kw)[0])
    f, p = statistics.median(t_full), statistics.median(t_part)
    # the same trajectory: both paths over the same number of steps
    steps = min(steps_full, steps_partial)
    ends = [
        time_run(m, pl, (X, Y), steps, **kw)[1].project(pl).xy[-1]
        for m, pl in ((whole, whole_plane), (net, plane))
    ]
    gap = float(abs(ends[0] - ends[1]).max())
    print(
        f"{name:52s} full {f * 1e6:8.0f} us/step  partial {p * 1e6:6.0f} us/step  "
        f"ratio {f / p:6.1f}x  {part.info['path']:17s} "
        f"ends after {steps} steps differ by {gap:.1e}  [{source}]"
    )
    return f / p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", default="1,2,3")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.rounds} rounds")
    sgd = {"optimizer": "sgd", "lr": 10.0}
    cases = {
        "1": ("1 output layer (5,250),(5,251), N=100, GD", ("5.weight", (5, 250)),
              ("5.weight", (5, 251)), 100, (-9.0, 15.0), sgd, 200, 4000),
        "2": ("2 hidden layer (200,30),(200,31), N=500, GD", ("3.weight", (200, 30)),
              ("3.weight", (200, 31)), 500, (0.0, 0.0), sgd, 60, 1000),
        "3": ("3 output layer, N=100, Adam, batches of 20", ("5.weight", (5, 250)),
              ("5.weight", (5, 251)), 100, (-9.0, 15.0),
              {"optimizer": "adam", "lr": 0.1, "batch_size": 20}, 200, 2000),
    }  # fmt: skip
    for key in args.cases.split(","):
        name, a, b, n, start, kw, s_full, s_part = cases[key.strip()]
        case(name, a, b, n, start, kw, s_full, s_part, args.rounds)


if __name__ == "__main__":
    main()
