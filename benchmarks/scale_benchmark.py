#!/usr/bin/env python
"""Benchmark of tiled renders (``landscape_widgets.render``): executors, the store, resuming.

For a small CNN and a ResNet-20 without skips on the built-in synthetic images,
each on a filter-normalised random plane at ``--resolution`` (default 128), it
renders the same tiles in three ways, in one run and on the same machine:

* ``1 worker x 1 thread``: a Dask ``LocalCluster`` of one worker process;
* ``2 workers x 1 thread``: a ``LocalCluster`` of two worker processes;
* ``in process, 2 threads``: ``executor=None`` with ``torch.set_num_threads(2)``.

and prints tiles per second, the ratios the targets name (two workers over one,
two workers over in process) and the share of each render spent writing tiles
into the Zarr store. A full render at 128 x 128 of ResNet-20 takes many minutes
on two cores, so each method renders the first ``--tiles`` tiles of the
interleaved order (``max_tiles``): the same work for every method.

Then the resume overhead: a render run as ``python -m landscape_widgets render``
is killed with SIGKILL once half its tiles are stored, rerun, and the tiles the
rerun computes are compared with the half that was left (the excess is the work
lost in flight).

Usage::

    .venv/bin/python benchmarks/scale_benchmark.py                 # both models
    .venv/bin/python benchmarks/scale_benchmark.py --models cnn --tiles 32 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from landscape_widgets import Landscape, Plane, datasets, models  # noqa: E402
from landscape_widgets.render import RenderStore, StoreError, render  # noqa: E402


def build(name: str, n_images: int, size: int):
    torch.manual_seed(0)
    X, y = datasets.images(n_images, size=size, classes=10, seed=0)
    if name == "cnn":
        net = models.small_cnn(in_channels=3, classes=10, width=16)
    else:
        net = models.CifarResNet(models.ResNetConfig(depth=20, skip=False, classes=10))
    net.eval()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y), subset=None, metrics=["loss"])
    return ls, Plane.random(net, normalization="filter", seed=0)


def timed_render(ls, plane, args, store, **options) -> dict:
    t0 = time.perf_counter()
    surf = render(
        ls,
        plane,
        args.resolution,
        bounds=(-1, 1, -1, 1),
        store=store,
        tile=args.tile,
        max_tiles=args.tiles,
        progress=False,
        strategy="loop",
        **options,
    )
    seconds = time.perf_counter() - t0
    info = surf.provenance["render"]
    return {
        "seconds": seconds,
        "tiles": info["tiles_computed"],
        "tiles_per_second": info["tiles_computed"] / seconds,
        "store_share": surf.provenance["store_write_seconds"] / seconds,
    }


def run_model(name: str, args, folder: Path) -> dict:
    from distributed import Client, LocalCluster

    ls, plane = build(name, args.images, args.size)
    out = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None) as cluster, \
                Client(cluster) as client:  # fmt: skip
            key = f"{workers} worker{'s' if workers > 1 else ''} x 1 thread"
            out[key] = timed_render(
                ls,
                plane,
                args,
                folder / f"{name}-{workers}.zarr",
                executor=client,
                worker_threads=1,
            )
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out["in process, 2 threads"] = timed_render(ls, plane, args, folder / f"{name}-here.zarr")
    finally:
        torch.set_num_threads(before)
    return out


KILL_FACTORY = """
import torch
from landscape_widgets import models


def cnn():
    torch.manual_seed(0)
    return models.small_cnn(in_channels=3, classes=10, width=16)
"""


def resume_after_kill(args, folder: Path) -> dict:
    """SIGKILL a command-line render at half its tiles, rerun it, count the tiles redone."""
    (folder / "nets.py").write_text(KILL_FACTORY)
    sys.path.insert(0, str(folder))
    import nets

    torch.save(nets.cnn().state_dict(), folder / "cnn.pt")
    total_tiles = 64
    cfg = folder / "kill.toml"
    cfg.write_text(
        'model = "nets.py:cnn"\nweights = ["cnn.pt"]\ndata = "images"\n'
        f"data_options = {{ n = {args.images}, size = {args.size}, classes = 10 }}\n"
        'store = "kill.zarr"\nresolution = 64\ntile = 8\nstrategy = "loop"\n'
        "bounds = [-1.0, 1.0, -1.0, 1.0]\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "landscape_widgets", "render", str(cfg), "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    store = folder / "kill.zarr"
    done = 0
    while proc.poll() is None and done < total_tiles // 2:
        try:
            done = int(RenderStore.open(store).tiles_done().sum())
        except StoreError:
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = int(RenderStore.open(store).tiles_done().sum())
    rerun = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, check=True)
    computed = int(rerun.stdout.split("(")[1].split(" computed now")[0])
    return {
        "tiles": total_tiles,
        "stored_at_kill": at_kill,
        "computed_by_rerun": computed,
        "total_work_tiles": at_kill + computed,
        "lost_in_flight": at_kill + computed - total_tiles,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="cnn,resnet20", help="cnn, resnet20 or both")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--tile", type=int, default=16, help="points per tile side (default 16)")
    parser.add_argument("--tiles", type=int, default=24, help="tiles each method renders")
    parser.add_argument("--images", type=int, default=64, help="evaluation images")
    parser.add_argument("--size", type=int, default=16, help="image side in pixels")
    parser.add_argument("--json", help="write the numbers to this file too")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores, torch {torch.__version__}; grid {args.resolution}^2, "
          f"tiles of {args.tile}^2 points, {args.tiles} tiles per method, "
          f"{args.images} images of {args.size}x{args.size}")  # fmt: skip
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.models.split(","):
            r = run_model(name, args, folder)
            results[name] = r
            one, two = r["1 worker x 1 thread"], r["2 workers x 1 thread"]
            here = r["in process, 2 threads"]
            print(f"\n## {name}")
            print(f"{'method':<24} {'tiles/s':>8} {'seconds':>8} {'store share':>12}")
            for key, v in r.items():
                print(f"{key:<24} {v['tiles_per_second']:8.3f} {v['seconds']:8.1f} "
                      f"{v['store_share']:12.2%}")  # fmt: skip
            speedup = two["tiles_per_second"] / one["tiles_per_second"]
            vs_here = two["tiles_per_second"] / here["tiles_per_second"]
            r["ratios"] = {"two_over_one": speedup, "two_workers_over_in_process": vs_here}
            print(
                f"two workers / one worker: {speedup:.2f}x (target >= 1.6x); "
                f"two workers / in process with 2 threads: {vs_here:.2f} (target >= 0.9)"
            )
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(exist_ok=True)
        kill = resume_after_kill(args, folder)
        results["resume_after_kill"] = kill
        print(f"\n## resume after SIGKILL at half (small CNN, 64x64 in 64 tiles, in process)\n"
              f"stored at the kill {kill['stored_at_kill']}, computed by the rerun "
              f"{kill['computed_by_rerun']}: total work {kill['total_work_tiles']} tiles of "
              f"{kill['tiles']} ({kill['lost_in_flight']} lost in flight)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
