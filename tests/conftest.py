"""Shared fixtures: a small bowl-shaped Surface, one torch thread, a venv kernel, and JupyterLab
driven by Debian's Chromium through Playwright for the ``browser`` tests.

Browser set-up follows shared/BROWSER-TESTING.md: Chromium at
/usr/bin/chromium (never ``playwright install``), JupyterLab on 127.0.0.1 with
a token and its config, settings, workspace and runtime folders in a temporary
directory so no earlier state leaks in.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from landscape_widgets import Surface

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("LW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Console messages known to be harmless (see shared/BROWSER-TESTING.md).
HARMLESS_CONSOLE = (
    re.compile(r"Unsatisfied version .* @lumino/coreutils"),
    re.compile(r"GPU stall due to ReadPixels"),
)


def console_errors(page) -> list[str]:
    """A list that fills with the page's console errors (known harmless ones left out)
    and uncaught exceptions."""
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and not any(p.search(msg.text) for p in HARMLESS_CONSOLE)
            and errors.append(msg.text)
        ),
    )
    page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
    return errors


# The `d` of the visible bqplot line with the most vertices under a CSS root.
# bqplot creates mark views asynchronously, so their DOM order is not the
# order of `Figure.marks`, and hidden marks (a profile's absent barrier
# marker) are still `path.line` elements.
LONGEST_LINE_JS = """(root) => {
  let best = null, most = -1;
  for (const p of document.querySelectorAll(root + ' path.line')) {
    if (getComputedStyle(p).visibility === 'hidden') continue;
    const d = p.getAttribute('d') || '';
    const n = (d.match(/L/g) || []).length;
    if (n > most) { most = n; best = d; }
  }
  return best;
}"""


@pytest.fixture(scope="session")
def two_nets():
    """Two 2-32-32-2 networks trained apart on 500 spirals points: two basins with a
    ridge between them on the straight segment, and a tunnel a curve can find."""
    from landscape_widgets import datasets, models, train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: extra threads only spin
    X, y = datasets.spirals(500, seed=0)
    nets = []
    try:
        for s in range(2):
            torch.manual_seed(s)
            net = models.small_mlp(hidden=(32, 32))
            train(net, (X, y), epochs=100, optimizer="adam", lr=1e-2, seed=s, progress=False)
            nets.append(net)
    finally:
        torch.set_num_threads(threads)
    return X, y, nets


@pytest.fixture
def one_thread():
    """One torch thread for a test of tiny models.

    Tiny models gain nothing from threads, and OpenMP spin-waiting on a busy
    2-core machine can slow them down a hundredfold.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------
# A small Surface with a known shape, for the widget and renderer tests.


def bowl_surface(nx: int = 9, ny: int = 7, nan_cells=(), inf_cells=()) -> Surface:
    """A bowl-shaped surface on [-1, 1] x [-0.5, 0.5] with two anchors; its values span
    less than a factor of 10, so log_scale="auto" keeps it linear."""
    x = np.linspace(-1.0, 1.0, nx)
    y = np.linspace(-0.5, 0.5, ny)
    xx, yy = np.meshgrid(x, y)  # (ny, nx)
    loss = 0.2 + xx**2 + 2.0 * yy**2 + 0.25 * xx * yy
    for i, j in nan_cells:
        loss[i, j] = np.nan
    for i, j in inf_cells:
        loss[i, j] = np.inf
    accuracy = 1.0 - loss / loss[np.isfinite(loss)].max()
    return Surface(
        x=x,
        y=y,
        loss=loss,
        metrics={"accuracy": accuracy},
        anchors={"w1": (0.0, 0.0), "w2": (0.5, -0.25)},
        provenance={"plane": "bowl"},
    )


@pytest.fixture
def artifacts(request) -> Path:
    """``test-artifacts/<test name>/`` at the repository root, for screenshots a person looks at.

    Git-ignored; emptied at the start of each test so it holds one run's pictures.
    """
    import shutil

    folder = ROOT / "test-artifacts" / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def make_surface():
    """Factory for stand-in surfaces: ``make_surface(nx, ny, nan_cells=[(i, j)])``."""
    return bowl_surface


# --------------------------------------------------------------------------
# Jupyter: a kernel spec for this interpreter in an isolated Jupyter path.

# Notebooks whose pictures need the real MNIST images run on a kernel whose
# environment has LW_DATA pointing at them; the others keep to their built-in
# data (mode_connectivity.ipynb would train CNNs on MNIST for minutes).
MNIST_NOTEBOOKS = {"two_weights.ipynb"}
MNIST_KERNEL = "python3-mnist"


def mnist_data() -> Path | None:
    """The folder holding MNIST/raw/: $LW_DATA, else the shared copy beside the repository."""
    for root in (os.environ.get("LW_DATA"), ROOT.parent / "shared" / "data"):
        if root and (Path(root) / "MNIST" / "raw").is_dir():
            return Path(root).resolve()
    return None


@pytest.fixture(scope="session")
def shared_mnist() -> Path:
    """The folder holding the real MNIST files (:func:`mnist_data`); the tests that
    need them are skipped, saying where to put them, on a machine without them."""
    root = mnist_data()
    if root is None:
        pytest.skip(
            "no MNIST files: set LW_DATA to the folder holding MNIST/raw/ "
            f"(or put them in {ROOT.parent / 'shared' / 'data'})"
        )
    return root


def kernel_for(notebook: str | Path) -> str:
    """The kernel spec a notebook of notebooks/ runs on in the tests."""
    return MNIST_KERNEL if Path(notebook).name in MNIST_NOTEBOOKS else "python3"


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory):
    """Point Jupyter at temporary folders and a ``python3`` kernel running this
    interpreter (the venv), whatever kernels the machine has installed, plus
    ``python3-mnist``, the same with ``LW_DATA`` set (see :func:`kernel_for`).

    Yields the environment (a dict) that child processes should use.
    """
    base = tmp_path_factory.mktemp("jupyter")
    spec_dir = base / "data" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    # the same kernel with LW_DATA, for the notebooks that need the real MNIST images
    data = mnist_data()
    spec = {**spec, "env": {"LW_DATA": str(data)}} if data is not None else spec
    mnist_dir = base / "data" / "kernels" / MNIST_KERNEL
    mnist_dir.mkdir(parents=True)
    (mnist_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {
        "JUPYTER_PATH": os.pathsep.join(
            [str(base / "data"), *filter(None, [os.environ.get("JUPYTER_PATH")])]
        ),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces"),
        "IPYTHONDIR": str(base / "ipython"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    # no "get notified about Jupyter news?" pop-up over the screenshots
    news = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield dict(os.environ)


# --------------------------------------------------------------------------
# JupyterLab + Chromium


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    log: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def shutdown_kernels(self) -> None:
        """Stop every kernel: a notebook left training would slow the next test."""

        def call(method: str, path: str) -> bytes:
            request = urllib.request.Request(f"{self.url}{path}?token={self.token}", method=method)
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.read()

        for kernel in json.loads(call("GET", "/api/kernels")):
            call("DELETE", f"/api/kernels/{kernel['id']}")


@pytest.fixture(scope="session")
def lab_server(jupyter_env, tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving an empty temporary folder."""
    root = tmp_path_factory.mktemp("lab-root")
    log = root.parent / "jupyterlab.log"
    port = _free_port()
    token = secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", "--allow-root",
        f"--notebook-dir={root}", "--ServerApp.port_retries=0",
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=jupyter_env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError(f"JupyterLab did not answer in 60 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    try:
        yield LabServer(url=url, token=token, root=root, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium launched by Playwright (one per test session)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (scripts/test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class LabPage:
    """A Playwright page on JupyterLab, with the few moves the tests need."""

    def __init__(self, page, server: LabServer):
        self.page = page
        self.server = server
        self.console_errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda err: self.console_errors.append(f"pageerror: {err}"))

    def _on_console(self, msg) -> None:
        if msg.type == "error" and not any(p.search(msg.text) for p in HARMLESS_CONSOLE):
            self.console_errors.append(msg.text)

    def open_notebook(self, name: str, timeout: float = 90) -> None:
        """Open ``name`` (relative to the server root) and wait for an idle kernel."""
        self.page.goto(self.server.notebook_url(name))
        # The execution indicator says idle before a kernel exists; the status
        # bar's kernel item only reads "... | Idle" once the kernel is up.
        self.page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).first.wait_for(
            timeout=timeout * 1000
        )

    def run_cell(self, index: int) -> None:
        """Focus cell ``index`` and run it with Shift+Enter."""
        cell = self.page.locator(".jp-Notebook .jp-Cell").nth(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")

    def wait_for_cell(self, index: int, timeout: float = 120) -> None:
        """Wait until code cell ``index`` shows an execution count (it has run)."""
        self.page.wait_for_function(
            "(k) => /\\[\\d+\\]/.test(document.querySelectorAll("
            "'.jp-Notebook .jp-Cell .jp-InputPrompt')[k]?.textContent || '')",
            arg=index,
            timeout=timeout * 1000,
        )

    def assert_no_console_errors(self) -> None:
        assert not self.console_errors, "browser console errors:\n" + "\n".join(self.console_errors)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call":
        item.call_failed = report.failed  # read by lab_page to keep a picture of the failure
    return report


@pytest.fixture
def lab_page(request, chromium, lab_server):
    """A fresh browser context and page on the session's JupyterLab.

    When the test fails, the whole page is saved as
    ``test-artifacts/<test>/failure.png`` and its console errors printed.
    """
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    lab = LabPage(page, lab_server)
    try:
        yield lab
    finally:
        if getattr(request.node, "call_failed", False):
            folder = ROOT / "test-artifacts" / re.sub(r"[^\w.-]+", "_", request.node.name)
            folder.mkdir(parents=True, exist_ok=True)
            try:
                page.screenshot(path=str(folder / "failure.png"), full_page=True)
            except Exception as exc:  # the page may be gone; the failure itself matters more
                print(f"no failure screenshot: {exc}")
            print("console errors:", lab.console_errors)
        context.close()
        lab_server.shutdown_kernels()


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code cells for the ``python3`` kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, str(path))
    return path
