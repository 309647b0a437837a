"""Ending cleanly: close() stops and joins the background threads, a script that
ends while a map computes exits with status 0 (no C++ "terminate called" abort),
and closing twice is harmless."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
import torch
from torch import nn

from landscape_widgets import Landscape, LandscapeWidget, Plane, datasets, explore
from landscape_widgets.wire.jobs import LatestJob

pytestmark = pytest.mark.usefixtures("one_thread")

# A map big enough to be computing still when the script ends.
SCRIPT = """
import sys
import threading
import torch
from torch import nn
from landscape_widgets import Landscape, LandscapeWidget, Plane, datasets

torch.manual_seed(0)
X, y = datasets.spirals(2000, seed=1)
net = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 3))
ls = Landscape(net, nn.CrossEntropyLoss(), (X, y))
w = LandscapeWidget(ls, Plane.random(net, seed=0), resolution=200)
w.add_start("s", 0.1, 0.2, runs={"sgd": {"lr": 0.01}}, steps=100000)
if "close" in sys.argv:
    w.close()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("landscape-")]
    print("alive after close:", alive)
    if "twice" in sys.argv:
        w.close()
print("done", flush=True)
"""


def run_script(tmp_path, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize("args", [(), ("close",), ("close", "twice")])
def test_a_script_ending_while_the_map_computes_exits_cleanly(tmp_path, args):
    done = run_script(tmp_path, *args)
    assert "terminate called" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 0, done.stderr[-2000:]
    assert "done" in done.stdout
    if "close" in args:
        assert "alive after close: []" in done.stdout, done.stdout


def test_latest_job_close_joins_its_thread():
    started = threading.Event()
    seen = []

    def job(cancel):
        started.set()
        cancel.wait()  # a job that ends only when told to
        seen.append(cancel.is_set())

    runner = LatestJob("lifecycle-test", lambda exc, text: None)
    runner.submit(job)
    assert started.wait(60)
    (thread,) = [t for t in threading.enumerate() if t.name == "lifecycle-test"]
    assert runner.close()
    assert not thread.is_alive() and seen == [True]
    assert runner.close()  # again: nothing left to do
    with pytest.raises(RuntimeError, match="closed"):
        runner.submit(job)


def test_close_from_a_job_does_not_wait_for_itself():
    runner = LatestJob("lifecycle-self", lambda exc, text: None)
    answers = []
    done = threading.Event()

    def job(cancel):
        answers.append(runner.close(timeout=None))
        done.set()

    runner.submit(job)
    assert done.wait(60)
    assert answers == [False]  # it could not join the thread it runs on
    assert runner.close(timeout=None)


@pytest.fixture
def toy():
    torch.manual_seed(0)
    X, y = datasets.spirals(200, seed=1)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))
    return Landscape(net, nn.CrossEntropyLoss(), (X, y)), Plane.random(net, seed=0)


def test_map_close_joins_the_threads_and_can_run_twice(toy):
    ls, plane = toy
    w = LandscapeWidget(ls, plane, resolution=64)
    w.close()
    alive = [t.name for t in threading.enumerate() if t.name.startswith("landscape-")]
    assert alive == []
    w.close()
    w.wait(timeout=None)  # nothing runs: returns at once


def test_explorer_close_twice(toy):
    ls, plane = toy
    e = explore(ls, plane, resolution=8)
    e.close()
    e.close()
    assert e.map.comm is None
