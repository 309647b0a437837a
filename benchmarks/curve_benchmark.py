"""Cost of a curve-training epoch against a plain training epoch, measured in one run.

A plain epoch trains one network of the architecture (SGD with momentum, the
same batch size and data); a curve epoch trains the control points of a
quadratic Bezier curve between two such networks (CurveTrainer). Both are
timed over the same number of epochs, interleaved, and the median ratio is
printed. The target is at most 1.3x.

    .venv/bin/python benchmarks/curve_benchmark.py [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

from landscape_widgets import BezierCurve, CurveTrainer, Landscape, datasets, models


def plain_epoch(net: nn.Module, X, y, loss_fn, batch_size: int, gen: torch.Generator) -> None:
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    net.train()
    order = torch.randperm(len(X), generator=gen)
    for s in range(0, len(X), batch_size):
        idx = order[s : s + batch_size]
        opt.zero_grad(set_to_none=True)
        loss_fn(net(X[idx]), y[idx]).backward()
        opt.step()


def case(name, make, data, batch_size, rounds):
    X, y = data
    loss_fn = nn.CrossEntropyLoss()
    torch.manual_seed(0)
    a, b = make(), make()
    ls = Landscape(a, loss_fn, (X, y), subset=None)
    trainer = CurveTrainer(ls, BezierCurve(a, b), batch_size=batch_size, epochs=1)
    net = copy.deepcopy(a)
    gen = torch.Generator().manual_seed(0)
    plain_epoch(net, X, y, loss_fn, batch_size, gen)  # warm-up
    trainer.fit(1, progress=False)
    plain, curve = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        plain_epoch(net, X, y, loss_fn, batch_size, gen)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        trainer.fit(1, progress=False)
        curve.append(time.perf_counter() - t)
    p, c = statistics.median(plain), statistics.median(curve)
    print(f"{name:44s} plain {p * 1e3:8.1f} ms  curve {c * 1e3:8.1f} ms  ratio {c / p:5.2f}x")
    return c / p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.rounds} epochs")
    case(
        "toy MLP 2-64-64-2, 1000 spirals points, b=128",
        models.small_mlp,
        datasets.spirals(1000, seed=0),
        128,
        args.rounds,
    )
    case(
        "small CNN, 2000 synthetic 28x28 digits, b=128",
        lambda: models.small_cnn(in_channels=1, classes=10),
        datasets.digits(2000),
        128,
        args.rounds,
    )


if __name__ == "__main__":
    main()
