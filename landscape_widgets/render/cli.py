"""``python -m landscape_widgets render CONFIG.toml`` and ``... show STORE --png OUT.png``.

``render`` builds the model, the data, the loss and the plane from a config
file (:mod:`.config`), renders into the store with a progress bar (tiles per
second and the time left), resumes a store that holds the same render, and
on Ctrl-C stops once the tiles in flight are stored. ``show`` draws a store,
finished or not, to a PNG with at least one pixel per grid cell.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import torch

from ..core.landscape import Landscape
from ..output.png import MARGIN, render_png
from .config import DTYPES, ConfigError, RenderConfig
from .run import RenderError, render
from .store import StoreError, StoreMismatch, open_store

__all__ = ["main"]


def _executor(cfg: RenderConfig, stack: ExitStack):
    if cfg.scheduler:
        try:
            from distributed import Client  # deferred: the distributed extra is optional
        except ImportError:
            raise ConfigError(
                "config field 'scheduler' needs Dask: pip install 'landscape-widgets[distributed]'"
            ) from None
        return stack.enter_context(Client(cfg.scheduler))
    if cfg.workers:
        return stack.enter_context(cf.ProcessPoolExecutor(cfg.workers))
    return None


def run_render(config: str, overwrite: bool = False, progress: bool = True) -> int:
    cfg = RenderConfig.load(config)
    model = cfg.build_model()
    data, loss_fn = cfg.build_data(), cfg.build_loss()
    plane = cfg.build_plane(model)
    subset = None if cfg.subset == "all" else cfg.subset
    ls = Landscape(
        model,
        loss_fn,
        data,
        subset=subset,
        seed=cfg.seed,
        bn=cfg.bn,
        device=cfg.device,
        dtype=DTYPES[cfg.dtype],
    )
    resolution = cfg.resolution if isinstance(cfg.resolution, int) else tuple(cfg.resolution)
    store = cfg.path(cfg.store)
    t0 = time.perf_counter()
    with ExitStack() as stack:
        executor = _executor(cfg, stack)
        try:
            surface = render(
                ls,
                plane,
                resolution,
                bounds=cfg.bounds,
                margin=cfg.margin,
                store=store,
                executor=executor,
                tile=cfg.tile,
                progress=progress,
                overwrite=overwrite,
                strategy=cfg.strategy,
                device=cfg.device,
            )
        except KeyboardInterrupt:
            done = open_store(store).provenance["render"]
            print(
                f"interrupted: {done['tiles_done']} of {done['tiles']} tiles are in {store}; "
                "run the same command again to finish",
                file=sys.stderr,
            )
            return 130
    info = surface.provenance["render"]
    print(
        f"{store}: {info['tiles_done']}/{info['tiles']} tiles ({info['tiles_computed']} "
        f"computed now, {info['tiles_reused']} already there) in "
        f"{time.perf_counter() - t0:.1f} s, strategy {surface.provenance['strategy']}"
    )
    return 0


def run_show(store: str, png: str, log: str = "auto", colormap: str = "viridis") -> int:
    surface = open_store(store)
    ny, nx = surface.loss.shape
    size = (
        max(640, nx + MARGIN["left"] + MARGIN["right"]),
        max(480, ny + MARGIN["top"] + MARGIN["bottom"]),
    )
    finite = surface.loss[torch.isfinite(torch.as_tensor(surface.loss)).numpy()]
    use_log = (log == "on") or (
        log == "auto" and finite.size and finite.min() > 0 and finite.max() > 10 * finite.min()
    )
    info = surface.provenance["render"]
    title = f"{Path(store).name}: {info['tiles_done']}/{info['tiles']} tiles"
    out = render_png(surface, png, size=size, log=bool(use_log), colormap=colormap, title=title)
    print(
        f"wrote {out} ({size[0]}x{size[1]}, grid {nx}x{ny}, {info['fraction_done']:.0%} rendered)"
    )
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m landscape_widgets")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render a plane from a TOML config into a Zarr store")
    r.add_argument("config", help="the TOML file (see landscape_widgets.render.config)")
    r.add_argument(
        "--overwrite", action="store_true", help="start over a store that holds another render"
    )
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = sub.add_parser("show", help="draw a render store (finished or not) to a PNG")
    s.add_argument("store")
    s.add_argument("--png", required=True, metavar="OUT.png")
    s.add_argument("--log", choices=("auto", "on", "off"), default="auto")
    s.add_argument("--colormap", default="viridis")
    args = parser.parse_args(argv)
    try:
        if args.command == "render":
            return run_render(args.config, args.overwrite, not args.no_progress)
        return run_show(args.store, args.png, args.log, args.colormap)
    except (ConfigError, StoreError, StoreMismatch, RenderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
