"""The wheel carries the built front-end; CI runs the one test command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "node_modules", "static", "__pycache__", ".pytest_cache", "dist"}


def source_tree(dest: Path) -> Path:
    """Copy the files git would commit (or, outside git, everything but build
    outputs) into ``dest``: a clean checkout, with no bundle built yet."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=False,
    )  # fmt: skip
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            if name and (ROOT / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, dest / name)
    else:
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*SKIP), dirs_exist_ok=True)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to build the front-end")
    src = source_tree(tmp_path_factory.mktemp("src"))
    assert not (src / "landscape_widgets" / "static").exists()
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ, npm_config_prefer_offline="true", npm_config_fund="false")
    cmd = [
        sys.executable,
        "-m",
        "build",
        "--wheel",
        "--no-isolation",
        "--outdir",
        str(out),
        str(src),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    (whl,) = out.glob("landscape_widgets-*.whl")
    return whl


def test_wheel_contains_the_bundle(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "landscape_widgets/static/landscape.js" in names
        assert "landscape_widgets/static/colormaps.json" in names
        assert "landscape_widgets/static/styles.json" in names
        # what export_html inlines into a page that needs no network
        assert "landscape_widgets/static/embed/embed-amd.js" in names
        assert "landscape_widgets/static/embed/require.js" in names
        js = z.read("landscape_widgets/static/landscape.js").decode()
    assert "render" in js and len(js) > 2000
    for module in ("./colormap.js", "./codec.js", "./axes.js", "colormaps.json", "styles.json"):
        assert module not in js, f"{module} was not bundled in"
    assert not any(n.startswith(("js/", "tests/", "notebooks/")) for n in names)


def test_wheel_contains_the_python_modules(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for module in (
        "__init__.py",
        "__main__.py",
        "core/landscape.py",
        "wire/codec.py",
        "widgets/landscape_map.py",
        "output/png.py",
    ):
        assert f"landscape_widgets/{module}" in names


def test_ci_runs_the_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.startswith("#!")]
    assert ci.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in lines
    assert lines[-1] == "exec scripts/test"
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_readme_opens_with_the_two_commands():
    for script in ("scripts/demo", "scripts/test"):
        assert os.access(ROOT / script, os.X_OK), f"{script} is not executable"
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```", 2)[1]
    commands = [ln.strip() for ln in block.splitlines()[1:] if ln.strip()]
    assert commands[:2] == ["scripts/demo", "scripts/test"]


def test_package_lock_is_committed_and_esbuild_approved():
    import json

    pkg = json.loads((ROOT / "js" / "package.json").read_text())
    assert (ROOT / "js" / "package-lock.json").is_file()
    assert pkg.get("allowScripts", {}).get("esbuild") is True
    assert pkg["devDependencies"]["vitest"].lstrip("^~").startswith("4.")


def test_readme_example_runs(tmp_path, monkeypatch):
    import torch

    readme = (ROOT / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: extra threads only spin on a busy machine
    try:
        exec(compile(code, "README.md", "exec"), namespace)
        w = namespace["w"].wait(120)
        direct = namespace["landscape"].evaluate(
            namespace["plane"], resolution=64, bounds=(-1, 1, -1, 1)
        )
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(w.grid, direct.loss, rtol=1e-5)
    assert set(w.profiles) == {"slice"}
    assert w.save_png(tmp_path / "landscape.png").stat().st_size > 1000
    w.close()
