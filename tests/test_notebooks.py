"""The notebooks in notebooks/ run from top to bottom without an error, and show their plots."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# A call that draws: report.plot_confusion(), plt.plot(...), frame.plot.bar(...), ts.review(...)
# is a widget, not a plot.
PLOT_CALL = re.compile(r"\.plot(_\w+)?\b[.(]")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_plots(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    # The kernel draws with the backend a user's Jupyter has (inline), not one set for tests.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError with the failing cell and its traceback
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and PLOT_CALL.search(cell.source):
            shown = {kind for output in cell.outputs for kind in output.get("data", {})}
            assert "image/png" in shown, (
                f"{path.name}, cell {number}: draws a plot but the notebook shows no image "
                f"(outputs: {sorted(shown) or 'none'}):\n{cell.source}")


def test_the_plot_check_finds_the_plots_of_notebook_02():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOKS[1], as_version=4)
    drawing = [c.source for c in notebook.cells if c.cell_type == "code" and PLOT_CALL.search(c.source)]
    assert any("plot_confusion" in s for s in drawing) and any("plot_per_theme" in s for s in drawing)


def test_jupyterlab_and_nbconvert_are_installed_beside_themesift():
    scripts = Path(sys.executable).parent
    for command in (["lab", "--version"], ["nbconvert", "--version"]):
        done = subprocess.run([str(scripts / "jupyter"), *command], capture_output=True, text=True)
        assert done.returncode == 0, f"'jupyter {' '.join(command)}' failed: {done.stderr[-500:]}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_opens_the_notebooks_in_jupyterlab():
    root = NOTEBOOKS[0].parents[1]
    # Under `make test` this is a sub-make, which would also print "Entering directory" lines.
    planned = subprocess.run(["make", "-n", "--no-print-directory", "lab"], cwd=root,
                             capture_output=True, text=True)
    assert planned.returncode == 0, planned.stderr
    assert ".venv/bin/jupyter lab notebooks" in planned.stdout.splitlines()[-1]
    assert "make lab" in (root / "README.md").read_text()
