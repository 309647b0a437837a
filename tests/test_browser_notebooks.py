"""The notebooks in JupyterLab in a real Chromium: every cell runs, every
widget renders (screenshots under test-artifacts/ for a person to look at),
and the browser console stays clean."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_renders_its_widgets(notebook, lab_page, lab_server, artifacts):
    from conftest import MNIST_KERNEL, kernel_for

    shutil.copy(notebook, lab_server.root / notebook.name)
    if kernel_for(notebook) == MNIST_KERNEL:  # the same kernel, with LW_DATA (jupyter_env)
        copy = lab_server.root / notebook.name
        nb = json.loads(copy.read_text(encoding="utf-8"))
        nb["metadata"]["kernelspec"]["name"] = MNIST_KERNEL
        copy.write_text(json.dumps(nb), encoding="utf-8")
    page = lab_page.page
    lab_page.open_notebook(notebook.name)
    # Run All from the menu bar, as a person would
    page.get_by_text("Run", exact=True).first.click()
    page.get_by_text("Run All Cells", exact=True).first.click()
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    n = cells.count()
    # every code cell gets an execution count, the kernel goes idle, no error output
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
        ".filter(p => /\\[\\d+\\]/.test(p.textContent)).length === n",
        arg=n,
        timeout=300_000,
    )
    page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).first.wait_for(timeout=300_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [t for t in errors.all_inner_texts() if "Traceback" in t or "Error" in t]
    assert not tracebacks, "\n".join(tracebacks)
    maps = page.locator(".lw-landscape")
    for k in range(maps.count()):
        m = maps.nth(k)
        m.scroll_into_view_if_needed()
        # the maps compute in the background after the cells return: on a busy
        # 2-core machine random_directions' twelve maps share the cores for minutes
        page.wait_for_function(
            "(el) => el.dataset.status === 'drawn'", arg=m.element_handle(), timeout=240_000
        )
        m.screenshot(path=str(artifacts / f"map-{k}.png"))
    outputs = page.locator(".jp-Notebook .jp-Cell-outputArea")
    for k in range(outputs.count()):
        out = outputs.nth(k)
        if out.locator("canvas, svg").count():
            out.scroll_into_view_if_needed()
            page.wait_for_timeout(300)  # three.js draws on the next frame
            out.screenshot(path=str(artifacts / f"output-{k}.png"))
    assert maps.count() >= 1
    lab_page.assert_no_console_errors()
