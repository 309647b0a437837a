"""Every notebook in notebooks/ runs top to bottom without a cell error."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TIMEOUT = 300  # seconds per cell; each notebook must also finish within it


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, jupyter_env):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",  # the venv's kernel (see jupyter_env)
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    # CellExecutionError names the cell and shows its traceback.
    client.execute()
