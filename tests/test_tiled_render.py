"""Tiled, resumable renders (landscape_widgets.render): the tiling, the store, resuming
after an interruption or a SIGKILL, executors (a process pool, a Dask LocalCluster with
a worker killed mid-render), failures, and the command line."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from landscape_widgets import Landscape, Plane, datasets
from landscape_widgets.render import (
    RenderError,
    RenderStore,
    StoreError,
    StoreMismatch,
    Tiling,
    open_store,
    render,
)

ROOT = Path(__file__).resolve().parents[1]
BOUNDS = (-1.0, 1.0, -1.0, 1.0)


def small_landscape(seed: int = 0, **options) -> tuple[Landscape, Plane]:
    torch.manual_seed(seed)
    X, y = datasets.spirals(300, seed=0)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    return Landscape(net, nn.CrossEntropyLoss(), (X, y), **options), Plane.random(net, seed=1)


# ------------------------------------------------------------------- tiling


@pytest.mark.parametrize("shape,tile", [((32, 32), 8), ((37, 50), 9), ((5, 70), 16), ((1, 1), 4)])
def test_tiles_cover_every_cell_once_and_assemble_back(shape, tile):
    t = Tiling.of(shape, tile)
    sy, sx = t.strides
    assert sy & (sy - 1) == 0 and sx & (sx - 1) == 0  # powers of two
    seen = np.zeros(shape[0] * shape[1], dtype=int)
    tiled = np.full((sy, sx, *t.tile_shape), np.nan)
    values = np.arange(shape[0] * shape[1], dtype=float)  # each cell's own flat index
    for a, b in t.order():
        idx = t.indices((a, b))
        seen[idx] += 1
        rows, cols = idx // shape[1], idx % shape[1]
        assert set(rows % sy) == {a} and set(cols % sx) == {b}
        assert len(idx) <= t.tile_shape[0] * t.tile_shape[1]
        tiled[a, b] = t.block((a, b), values[idx])
    assert (seen == 1).all()
    np.testing.assert_array_equal(t.assemble(tiled), values.reshape(shape))


def test_the_first_tiles_are_the_whole_window_at_a_coarser_spacing():
    t = Tiling.of((64, 64), 8)  # 8 x 8 tiles
    order = t.order()
    assert order[0] == (0, 0)
    done = np.zeros(t.strides, bool)
    for k, tile in enumerate(order, 1):
        done[tile] = True
        cells = t.cell_mask(done)
        if k in (1, 4, 16):  # spacing 8, 4, 2: an even lattice over the whole window
            step = 8 // int(np.sqrt(k))
            expected = np.zeros((64, 64), bool)
            expected[::step, ::step] = True
            np.testing.assert_array_equal(cells, expected)
    # after a tenth of the tiles the cells reach from one edge to the other
    done[:] = False
    for tile in order[: len(order) // 10]:
        done[tile] = True
    rows, cols = np.nonzero(t.cell_mask(done))
    assert rows.min() == 0 and rows.max() >= 64 - 8 and cols.max() >= 64 - 8


def test_a_tile_must_be_a_positive_number_of_points():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="tile must be a positive number"):
            Tiling.of((10, 10), bad)


# -------------------------------------------------------------------- render


def test_render_equals_the_grid_evaluated_in_one_piece(tmp_path):
    ls, plane = small_landscape()
    whole = ls.evaluate(plane, resolution=(30, 21), bounds=BOUNDS, strategy="loop")
    surf = ls.render(
        plane,
        (30, 21),
        bounds=BOUNDS,
        store=tmp_path / "s.zarr",
        tile=6,
        strategy="loop",
        progress=False,
    )
    np.testing.assert_array_equal(surf.x, whole.x)
    np.testing.assert_array_equal(surf.y, whole.y)
    for m in ("loss", "accuracy"):  # float32 forward passes, one point at a time each
        np.testing.assert_allclose(surf.metrics[m], whole.metrics[m], rtol=1e-6, atol=1e-7)
    info = surf.provenance["render"]
    assert surf.done and info["tiles_done"] == info["tiles"] == info["tiles_computed"]
    assert surf.provenance["strategy"] == "loop"
    assert surf.provenance["axis_names"] == list(plane.axis_names)
    reread = open_store(tmp_path / "s.zarr")
    np.testing.assert_array_equal(reread.loss, surf.loss)
    assert reread.anchors == surf.anchors and reread.done


def test_an_interrupted_render_resumes_to_the_same_bits(tmp_path):
    ls, plane = small_landscape()
    full = ls.render(plane, 24, bounds=BOUNDS, store=tmp_path / "full.zarr", tile=6, progress=False)
    stop_after = 5

    def interrupt(tile, done, total):
        if done == stop_after:
            raise KeyboardInterrupt

    store = tmp_path / "cut.zarr"
    with pytest.raises(KeyboardInterrupt):
        ls.render(plane, 24, bounds=BOUNDS, store=store, tile=6, progress=False, on_tile=interrupt)
    part = open_store(store)
    assert part.provenance["render"]["tiles_done"] == stop_after and not part.done
    # the unfinished cells are NaN, the finished ones the full render's values
    np.testing.assert_array_equal(np.isnan(part.loss), ~part.computed)
    np.testing.assert_array_equal(part.loss[part.computed], full.loss[part.computed])
    resumed = ls.render(plane, 24, bounds=BOUNDS, store=store, tile=6, progress=False)
    info = resumed.provenance["render"]
    assert info["tiles_reused"] == stop_after
    assert info["tiles_computed"] == info["tiles"] - stop_after
    np.testing.assert_array_equal(resumed.loss, full.loss)
    np.testing.assert_array_equal(resumed.metrics["accuracy"], full.metrics["accuracy"])


def test_a_store_of_another_render_is_refused_naming_what_differs(tmp_path):
    ls, plane = small_landscape()
    store = tmp_path / "s.zarr"
    ls.render(plane, 16, bounds=BOUNDS, store=store, tile=8, progress=False)
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    other_ls, other_plane = small_landscape(seed=5)  # other weights, and so another plane
    cases = [
        (dict(landscape=ls, plane=plane, resolution=17), "resolution"),
        (dict(landscape=ls, plane=Plane.random(ls.model, seed=9), resolution=16), "plane"),
        (dict(landscape=other_ls, plane=other_plane, resolution=16), "model"),
        (
            dict(
                landscape=Landscape(ls.model, nn.CrossEntropyLoss(), datasets.spirals(300, seed=3)),
                plane=plane,
                resolution=16,
            ),
            "data",
        ),
    ]
    for kwargs, field in cases:
        with pytest.raises(StoreMismatch, match=field) as err:
            render(**kwargs, bounds=BOUNDS, store=store, tile=8, progress=False)
        assert field in err.value.differences
    with pytest.raises(StoreMismatch, match="bounds"):
        render(ls, plane, 16, bounds=(-2, 2, -2, 2), store=store, tile=8, progress=False)
    after = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    assert after == before  # nothing written over
    # overwrite starts it over with the new render
    surf = render(ls, plane, 17, bounds=BOUNDS, store=store, tile=8, progress=False, overwrite=True)
    assert surf.loss.shape == (17, 17) and open_store(store).loss.shape == (17, 17)


def test_foreign_truncated_and_absent_stores_say_so(tmp_path):
    with pytest.raises(StoreError, match="no render store"):
        open_store(tmp_path / "absent.zarr")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a store")
    with pytest.raises(StoreError, match="not a readable Zarr v3 render store"):
        open_store(foreign)
    ls, plane = small_landscape()
    # a folder that is not a store is never deleted, even with overwrite=True
    with pytest.raises(StoreError):
        render(ls, plane, 8, bounds=BOUNDS, store=foreign, overwrite=True, progress=False)
    assert (foreign / "notes.txt").exists()
    store = tmp_path / "s.zarr"
    render(ls, plane, 8, bounds=BOUNDS, store=store, tile=4, progress=False)
    import shutil

    shutil.rmtree(store / "accuracy")
    with pytest.raises(StoreError, match="truncated.*accuracy"):
        open_store(store)
    attrs = json.loads((store / "zarr.json").read_text())
    attrs["attributes"] = {}
    (store / "zarr.json").write_text(json.dumps(attrs))
    with pytest.raises(StoreError, match="not a landscape-widgets render store"):
        RenderStore.open(store)


class FlakyLoss(nn.Module):
    """Cross-entropy that raises on the calls given (counted across every use)."""

    def __init__(self, fail_on: set[int]):
        super().__init__()
        self.fail_on, self.calls = fail_on, 0

    def forward(self, out, y):
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError(f"injected failure at call {self.calls}")
        return nn.functional.cross_entropy(out, y)


def test_a_failed_tile_is_retried_once_then_reported(tmp_path):
    torch.manual_seed(0)
    X, y = datasets.spirals(100, seed=0)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    plane = Plane.random(net, seed=1)
    # loop: one loss call per point; tile 4 of a 8x8 grid: 4 tiles of 16 points
    loss = FlakyLoss(set())
    ls = Landscape(net, loss, (X, y), metrics=["loss"])
    calls_at_start = loss.calls
    loss.fail_on = {calls_at_start + 20}  # once, inside the second tile
    surf = ls.render(plane, 8, bounds=BOUNDS, tile=4, strategy="loop", progress=False)
    assert surf.provenance["render"]["tiles_retried"] == 1 and surf.done
    ref = ls.evaluate(plane, resolution=8, bounds=BOUNDS, strategy="loop")
    np.testing.assert_allclose(surf.loss, ref.loss, rtol=1e-6)
    # a tile that fails again is reported, the others kept in the store
    loss.fail_on = {loss.calls + 20, loss.calls + 36}  # the second tile, then its retry
    store = tmp_path / "s.zarr"
    with pytest.raises(RenderError, match="1 tile") as err:
        ls.render(plane, 8, bounds=BOUNDS, tile=4, strategy="loop", store=store, progress=False)
    assert len(err.value.failed) == 1
    assert open_store(store).provenance["render"]["tiles_done"] == 3


def test_a_process_pool_gives_the_same_bits_and_cleans_up(tmp_path):
    ls, plane = small_landscape()
    here = ls.render(plane, 16, bounds=BOUNDS, tile=4, strategy="loop", progress=False)
    store = tmp_path / "p.zarr"
    with cf.ProcessPoolExecutor(2) as pool:
        there = ls.render(
            plane,
            16,
            bounds=BOUNDS,
            tile=4,
            strategy="loop",
            store=store,
            executor=pool,
            progress=False,
        )
    np.testing.assert_array_equal(there.loss, here.loss)
    assert not list((store / ".jobs").iterdir())  # the job file is gone


def test_render_checks_its_arguments():
    ls, plane = small_landscape()
    with pytest.raises(TypeError, match="executor must be"):
        ls.render(plane, 8, bounds=BOUNDS, executor="cluster", progress=False)
    with pytest.raises(TypeError, match="takes a Plane"):
        render(ls, "plane", 8)
    with pytest.raises(ValueError, match="resolution"):
        ls.render(plane, 2.5, progress=False)


# ------------------------------------------------------------------ dask


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_a_dask_cluster_renders_the_same_bits_with_one_thread_per_worker(dask_client, tmp_path):
    ls, plane = small_landscape()
    here = ls.render(plane, 16, bounds=BOUNDS, tile=4, strategy="loop", progress=False)
    there = ls.render(
        plane,
        16,
        bounds=BOUNDS,
        tile=4,
        strategy="loop",
        progress=False,
        store=tmp_path / "d.zarr",
        executor=dask_client,
    )
    np.testing.assert_array_equal(there.loss, here.loss)
    # two single-thread workers on this machine's cores: each its share
    share = max(1, (os.cpu_count() or 1) // 2)
    assert set(dask_client.run(torch.get_num_threads).values()) == {share}
    via_executor = ls.render(
        plane,
        16,
        bounds=BOUNDS,
        tile=4,
        strategy="loop",
        progress=False,
        executor=dask_client.get_executor(),
    )
    np.testing.assert_array_equal(via_executor.loss, here.loss)


def test_a_dask_worker_killed_mid_render_is_replaced_and_the_render_finishes(dask_client, tmp_path):
    torch.manual_seed(0)
    X, y = datasets.spirals(2000, seed=0)
    net = nn.Sequential(
        nn.Linear(2, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 2)
    )
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    plane = Plane.random(net, seed=1)
    killed = []

    def kill_one_worker(tile, done, total):
        if done == 3 and not killed:
            worker, pid = sorted(dask_client.run(os.getpid).items())[0]
            killed.append(worker)
            # the worker process dies at once, tiles and all; its nanny starts another
            os.kill(pid, signal.SIGKILL)

    surf = ls.render(
        plane,
        24,
        bounds=BOUNDS,
        tile=4,
        strategy="loop",
        progress=False,
        store=tmp_path / "k.zarr",
        executor=dask_client,
        on_tile=kill_one_worker,
    )
    assert killed and surf.done
    ref = ls.render(plane, 24, bounds=BOUNDS, tile=4, strategy="loop", progress=False)
    np.testing.assert_array_equal(surf.loss, ref.loss)


# ------------------------------------------------------------ command line

FACTORY = '''
import time
import torch
from torch import nn


class Slow(nn.Module):
    """Waits a little per forward pass, so that a render lasts long enough to kill."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))


def slow_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), Slow(0.004), nn.Tanh(), nn.Linear(16, 2))
'''


# a render of the slow model that lasts seconds: long enough to kill or to watch
SLOW_RENDER = dict(
    model="nets.py:slow_mlp",
    weights=["slow.pt"],
    data="spirals",
    data_options={"n": 100},
    resolution=32,
    tile=8,
    bounds=list(BOUNDS),
    strategy="loop",
)


def toml_value(v) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v)


def write_config(tmp_path: Path, name: str, **fields) -> Path:
    lines = [f"{k} = {toml_value(v)}" for k, v in fields.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "landscape_widgets", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def project(tmp_path):
    """A factory file and a checkpoint of its model, as a user's project would have."""
    (tmp_path / "nets.py").write_text(FACTORY)
    sys.path.insert(0, str(tmp_path))
    try:
        import nets  # noqa: F401 - the test's own copy, to save checkpoints

        torch.save(sys.modules["nets"].mlp().state_dict(), tmp_path / "mlp.pt")
        torch.save(sys.modules["nets"].slow_mlp().state_dict(), tmp_path / "slow.pt")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("nets", None)
    return tmp_path


def test_the_command_line_renders_resumes_and_shows(project):
    cfg = write_config(
        project,
        "run",
        model="nets.py:mlp",
        weights=["mlp.pt"],
        data="spirals",
        data_options={"n": 200},
        store="out.zarr",
        resolution=16,
        tile=8,
        margin=0.5,
    )
    first = cli("render", str(cfg), "--no-progress", cwd=project)
    assert first.returncode == 0, first.stderr
    assert "4 computed now" in first.stdout
    again = cli("render", str(cfg), "--no-progress", cwd=project)
    assert again.returncode == 0 and "0 computed now, 4 already there" in again.stdout
    shown = cli("show", str(project / "out.zarr"), "--png", str(project / "out.png"), cwd=project)
    assert shown.returncode == 0, shown.stderr
    from PIL import Image

    with Image.open(project / "out.png") as im:
        assert im.size[0] >= 16 and im.size[1] >= 16
    # the same numbers as the library on the same model, data and plane
    import importlib.util

    spec = importlib.util.spec_from_file_location("nets_copy", project / "nets.py")
    nets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nets)
    net = nets.mlp()
    ls = Landscape(net, nn.CrossEntropyLoss(), datasets.spirals(200))
    plane = Plane.random(net, normalization="filter", seed=0)
    stored = open_store(project / "out.zarr")
    ref = ls.evaluate(plane, resolution=16, margin=0.5, strategy=stored.provenance["strategy"])
    np.testing.assert_allclose(stored.loss, ref.loss, rtol=1e-6)


@pytest.mark.parametrize(
    "fields,message",
    [
        (dict(resolution="64"), "field 'resolution' must be a whole number >= 2"),
        (dict(weights="mlp.pt"), "field 'weights' must be a list of one or three"),
        (dict(model="nowhere.nets:mlp"), "field 'model': cannot import 'nowhere.nets'"),
        (dict(model="nets.py:absent"), "field 'model': 'nets.py' has no callable 'absent'"),
        (dict(weights=["slow.pt"]), "field 'weights': .*slow.pt is not a state dict"),
        (dict(weights=["payload.pt"]), "field 'weights': refusing to load"),
        (dict(bn="sometimes"), "field 'bn' must be"),
        (dict(colour="red"), r"unknown config field\(s\) \['colour'\]"),
        (dict(bounds=[0, 1, 0, 1], margin=0.2), "exclude each other"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field_and_nothing_is_written(
    project, fields, message, capsys
):
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {project / 'pwned'}",))

    torch.save({"w": Payload()}, project / "payload.pt")
    base = dict(
        model="nets.py:mlp",
        weights=["mlp.pt"],
        data="spirals",
        data_options={"n": 50},
        store="bad.zarr",
        resolution=8,
    )
    cfg = write_config(project, "bad", **{**base, **fields})
    from landscape_widgets.render.cli import main

    assert main(["render", str(cfg), "--no-progress"]) == 2
    stderr = capsys.readouterr().err
    import re

    assert re.search(message, stderr), stderr
    assert not (project / "bad.zarr").exists() and not (project / "pwned").exists()


def test_a_render_killed_with_sigkill_resumes_to_the_uninterrupted_result(project):
    ref_cfg = write_config(project, "ref", **SLOW_RENDER, store="ref.zarr")
    assert cli("render", str(ref_cfg), "--no-progress", cwd=project).returncode == 0
    cfg = write_config(project, "cut", **SLOW_RENDER, store="cut.zarr")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "landscape_widgets", "render", str(cfg), "--no-progress"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = project / "cut.zarr"
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            done = int(RenderStore.open(store).tiles_done().sum())
        except StoreError:
            done = 0  # not created yet
        if done >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the render ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    at_kill = int(RenderStore.open(store).tiles_done().sum())
    assert 4 <= at_kill < 16
    out = cli("render", str(cfg), "--no-progress", cwd=project)
    assert out.returncode == 0, out.stderr
    computed = int(out.stdout.split("(")[1].split(" computed now")[0])
    assert computed == 16 - at_kill  # in process: nothing was in flight but the one killed
    np.testing.assert_array_equal(open_store(store).loss, open_store(project / "ref.zarr").loss)


def test_the_map_fills_in_from_a_store_another_process_is_rendering(project):
    from landscape_widgets import LandscapeWidget

    cfg = write_config(project, "live", **SLOW_RENDER, store="live.zarr")
    store = project / "live.zarr"
    m = LandscapeWidget.from_store(store, interval=0.05)  # before the store exists
    assert m.status == "computing" or m.activity.startswith("waiting")
    seen = []
    m.observe(lambda change: seen.append(m.watcher.tiles_done), "activity")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "landscape_widgets", "render", str(cfg), "--no-progress"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert m.watcher.wait(timeout=240), "the map never saw the store complete"
    finally:
        _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert any(0 < n < 16 for n in seen), seen  # it showed the render part done
    assert m.status == "done" and m.progress == 1.0
    final = open_store(store)
    np.testing.assert_allclose(m.grid, final.loss, rtol=1e-6)  # float32 on the wire
    m.close()
    assert not m.watcher._thread.is_alive()


def test_a_partial_store_read_filled_shows_each_cell_as_its_nearest_finished_one(tmp_path):
    ls, plane = small_landscape()
    store = tmp_path / "p.zarr"
    ls.render(plane, 16, bounds=BOUNDS, store=store, tile=4, max_tiles=1, progress=False)
    raw, filled = open_store(store), open_store(store, filled=True)
    assert raw.provenance["render"]["tiles_done"] == 1 and not raw.done
    np.testing.assert_array_equal(filled.loss[raw.computed], raw.loss[raw.computed])
    # a brute-force nearest finished cell for every cell
    done_rc = np.argwhere(raw.computed)
    for r, c in np.ndindex(raw.loss.shape):
        d2 = ((done_rc - (r, c)) ** 2).sum(1)
        nearest = done_rc[d2 == d2.min()]
        assert any(filled.loss[r, c] == raw.loss[a, b] for a, b in nearest)
    rest = ls.render(plane, 16, bounds=BOUNDS, store=store, tile=4, progress=False)
    assert rest.provenance["render"]["tiles_computed"] == 15


def test_a_batchnorm_network_renders_with_its_statistics_fingerprinted(tmp_path):
    from landscape_widgets import models

    torch.manual_seed(0)
    X, y = datasets.images(16, size=8, classes=3, seed=0)
    net = models.small_cnn(in_channels=3, classes=3, width=4, bn=True).eval()
    ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
    plane = Plane.random(net, seed=0)
    surf = ls.render(
        plane, 4, bounds=BOUNDS, tile=2, strategy="loop", store=tmp_path / "bn.zarr", progress=False
    )
    ref = ls.evaluate(plane, resolution=4, bounds=BOUNDS, strategy="loop")
    np.testing.assert_allclose(surf.loss, ref.loss, rtol=1e-6)
    # other BatchNorm statistics (a buffer, not a parameter) are another model
    with torch.no_grad():
        net[1].running_mean += 1.0
    with pytest.raises(StoreMismatch, match="model"):
        Landscape(net, nn.CrossEntropyLoss(), (X, y)).render(
            plane, 4, bounds=BOUNDS, tile=2, store=tmp_path / "bn.zarr", progress=False
        )
