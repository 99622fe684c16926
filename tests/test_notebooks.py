"""The notebooks run top to bottom on the offline data; outputs are stripped in git."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_three_notebooks_with_outputs_stripped() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_almaty_default.ipynb",
        "02_compare_scenarios.ipynb",
        "03_futures.ipynb",
    ]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, cache_dir: Path, tmp_path: Path) -> None:
    """Execute every cell in a fresh kernel (any error or failed assert fails the test)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    # the last cell of each notebook shows a Folium map
    assert "text/html" in code[-1].outputs[0]["data"]
    nbformat.write(nb, tmp_path / path.name)  # the executed copy, for a look when it fails
