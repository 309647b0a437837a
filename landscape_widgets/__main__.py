"""Command line: ``python -m landscape_widgets --headless OUT.png``, ``render``, ``show``.

``render CONFIG.toml`` and ``show STORE --png OUT.png`` are the tiled,
resumable renders of :mod:`landscape_widgets.render.cli` (also installed as
the ``landscape-widgets`` command). ``--headless`` builds the quickstart
landscape (the built-in two-spirals data, a small MLP trained for a few
seconds, a filter-normalised random plane through the trained weights),
evaluates it and writes it to a PNG with the headless renderer. No browser and
no Jupyter are involved.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

from . import datasets, models
from .core.landscape import Landscape
from .core.planes import Plane
from .core.train import train
from .output.png import render_png


def quickstart_surface(resolution: int = 61, epochs: int = 60, seed: int = 0, log=print):
    """The quickstart notebook's surface: spirals, small MLP, random plane.

    Returns the Surface that ``Landscape.evaluate`` produces.
    """
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    X, y = datasets.spirals(1000, seed=seed)
    model = models.small_mlp()
    train(model, (X, y), epochs=epochs, optimizer="adam", lr=1e-2, seed=seed, progress=False)
    log(f"trained a small MLP on {len(X)} spiral points in {time.perf_counter() - t0:.1f} s")

    t1 = time.perf_counter()
    plane = Plane.random(model, normalization="filter", ignore=("bias", "bn"), seed=seed)
    landscape = Landscape(model, nn.CrossEntropyLoss(), (X, y), seed=seed)
    surface = landscape.evaluate(
        plane, resolution=resolution, bounds=(-1, 1, -1, 1), progress=False
    )
    strategy = (getattr(surface, "provenance", None) or {}).get("strategy", "?")
    log(
        f"evaluated a {resolution}x{resolution} grid on a filter-normalised random plane "
        f"in {time.perf_counter() - t1:.1f} s (strategy: {strategy})"
    )
    return surface


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("render", "show"):
        # deferred: the render commands need zarr, the demo does not
        from .render.cli import main as render_main

        return render_main(argv)
    parser = argparse.ArgumentParser(
        prog="python -m landscape_widgets",
        description="Render the quickstart loss landscape without a browser. "
        "Also: 'render CONFIG.toml' and 'show STORE --png OUT.png' (tiled renders).",
    )
    parser.add_argument(
        "--headless",
        metavar="OUT.png",
        nargs="?",
        const="demo.png",
        help="evaluate the quickstart landscape and write it to this PNG (default demo.png)",
    )
    parser.add_argument(
        "--resolution", type=int, default=61, help="grid points per axis (default 61)"
    )
    parser.add_argument(
        "--epochs", type=int, default=60, help="training epochs of the small MLP (default 60)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for data, model and plane")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the quickstart's tensors are tiny, and extra "
        "threads mostly spin, badly so on a busy machine)",
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(720, 540),
        metavar=("W", "H"),
        help="image size in pixels (default 720 540)",
    )
    parser.add_argument(
        "--scale",
        choices=("log", "linear"),
        default="log",
        help="colour scale (default log: shows the basin around the minimum)",
    )
    parser.add_argument(
        "--colormap", default="viridis", help="colour map: viridis or terrain (default viridis)"
    )
    args = parser.parse_args(argv)
    if args.headless is None:
        parser.print_help()
        print("\nFor the interactive demo, run scripts/demo (JupyterLab).", file=sys.stderr)
        return 2
    if args.resolution < 2:
        parser.error("--resolution must be at least 2")

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    surface = quickstart_surface(args.resolution, args.epochs, args.seed)
    out = render_png(
        surface,
        Path(args.headless),
        colormap=args.colormap,
        log=args.scale == "log",
        size=tuple(args.size),
        title="Loss of a small MLP on two spirals, filter-normalised random plane",
    )
    print(f"wrote {out} ({args.size[0]}x{args.size[1]}) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
