"""The notebooks run top to bottom, headless, on the outputs of the shared tiny default run.

Each notebook is copied into the tiny project's `notebooks/` folder and executed there (the
working directory a reader's Jupyter gives it), so it finds that project, not this repository.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient
from trained_project import trained_project_copy

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_catalog_tour.ipynb", "02_results.ipynb")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = trained_project_copy(tmp_path_factory, "notebooks")
    shutil.copytree(NOTEBOOKS, project / "notebooks")
    return project


@pytest.fixture(scope="module")
def executed(project) -> dict[str, nbformat.NotebookNode]:
    """Each notebook after a headless run; a cell error fails every test (CellExecutionError)."""
    notebooks = {}
    for name in NAMES:
        notebook = nbformat.read(project / "notebooks" / name, as_version=4)
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(project / "notebooks")}},
        ).execute()
        notebooks[name] = notebook
    return notebooks


def _cell(notebook: nbformat.NotebookNode, marker: str) -> nbformat.NotebookNode:
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and marker in c.source]
    return cell


def _text(cell: nbformat.NotebookNode, kind: str) -> str:
    """All `stdout` text (kind "stdout") or all HTML (kind "text/html") a cell displayed."""
    if kind == "stdout":
        return "".join(o.text for o in cell.outputs if o.get("name") == "stdout")
    return "".join(o.data.get(kind, "") for o in cell.outputs if "data" in o)


def _images(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", [])
    )


@pytest.mark.parametrize("name", NAMES)
def test_notebooks_are_stored_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_catalog_tour_reads_the_tiny_project(project, executed):
    notebook = executed["01_catalog_tour.ipynb"]
    # CQT, chunk similarity matrix, offset histograms
    assert _images(notebook) == 3
    rejects = pd.read_parquet(project / "data/02_intermediate/default/ingest_rejects.parquet")
    assert f"{len(rejects)} recordings set aside" in _text(_cell(notebook, "rejects ="), "stdout")
    report = json.loads((project / "data/08_reporting/default/alignment_report.json").read_text())
    printed = _text(_cell(notebook, "version pairs aligned"), "stdout")
    assert f"{report['pairs_aligned']} of {report['pairs_tried']} version pairs aligned" in printed
    # MLflow's relative sqlite URI must not have followed the kernel into notebooks/
    assert not (project / "notebooks" / "mlflow.db").exists()


def test_results_show_every_model_and_the_pipelines_misses(project, executed):
    notebook = executed["02_results.ipynb"]
    metrics = json.loads(
        (project / "data/08_reporting/default/evaluation_metrics.json").read_text()
    )
    models = {name: row for name, row in metrics.items() if "mAP" in row}
    table = _text(_cell(notebook, 'catalog.load("evaluation_metrics")'), "text/html")
    body = table[table.index("<tbody>") :]
    assert re.findall(r"<tr>\s*<th>([^<]+)</th>", body) == list(models)
    for row in models.values():
        assert f"{row['mAP']:.3f}" in body
    assert _images(notebook) == 2  # distance histograms, embedding map
    # The distances rebuilt from gallery_chunks miss as often as the pipeline's index search.
    fine = metrics["fine"]
    misses = round((1 - fine["hit_rate"]) * fine["n_queries"])
    printed = _text(_cell(notebook, "per_query_metrics(distances"), "stdout")
    assert f"{misses} of {fine['n_queries']} queries miss at rank 1" in printed
