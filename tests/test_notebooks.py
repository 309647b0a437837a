"""Every notebook in notebooks/ runs top to bottom without a cell error."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TIMEOUT = 300  # seconds per cell; each notebook must also finish within it


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, jupyter_env):
    import nbformat
    from conftest import kernel_for
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name=kernel_for(path),  # the venv's kernel, with LW_DATA if needed (jupyter_env)
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    # CellExecutionError names the cell and shows its traceback.
    client.execute()


def test_mode_connectivity_notebook_runs_its_mnist_part_when_the_files_are_there(
    tmp_path, monkeypatch, one_thread
):
    """The notebook's MNIST cell, at smaller sizes, on MNIST files written in torchvision's
    format (random pixels: the cell's code path, not its accuracy, is under test)."""
    import nbformat
    import torch
    from test_datasets import write_fake_mnist
    from torch import nn

    import landscape_widgets

    path = next(p for p in NOTEBOOKS if p.name == "mode_connectivity.ipynb")
    cells = nbformat.read(str(path), as_version=4).cells
    (cell,) = [c.source for c in cells if "datasets.find_mnist(" in c.source]
    # smaller sizes, the same code: the cell's own settings take minutes on 2 cores
    for big, small in (
        ("subset=2000", "subset=200"),
        ("subset=256", "subset=64"),
        ("epochs=5", "epochs=1"),
        ("resolution=12", "resolution=4"),
        ("every=8", "every=2"),
    ):
        assert big in cell, big
        cell = cell.replace(big, small)
    write_fake_mnist(tmp_path, "MNIST", n_train=300, n_test=10)
    shown = []
    scope = {name: getattr(landscape_widgets, name) for name in landscape_widgets.__all__}
    scope.update(torch=torch, nn=nn, display=shown.append)
    monkeypatch.setenv("LW_DATA", str(tmp_path))
    exec(compile(cell, "<the notebook's MNIST cell>", "exec"), scope)
    (anim,) = shown
    anim.wait(600)
    assert anim.status == "finished" and anim.frame_count >= 2
    assert anim.trainer.step_count == anim.total_steps > 0


def test_the_notebooks_that_read_mnist_find_it_through_one_helper():
    """two_weights and mode_connectivity read MNIST the same way: datasets.find_mnist
    ($LW_DATA, the cache, a download when online), with no loader of their own."""
    import nbformat

    for name in ("two_weights.ipynb", "mode_connectivity.ipynb"):
        path = next(p for p in NOTEBOOKS if p.name == name)
        code = "\n".join(
            c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code"
        )
        assert code.count("datasets.find_mnist(") == 1, name
        assert "datasets.mnist(" not in code and "download=True" not in code, name
