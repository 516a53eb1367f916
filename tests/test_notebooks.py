"""The notebooks in ``notebooks/``: stored clean, and each runs top to bottom against the demo.

Each notebook is executed by nbclient in a kernel of *this* interpreter: the test writes an ipykernel
kernelspec named ``python3`` for ``sys.executable`` into a temporary Jupyter path, so a fresh
``pip install -e '.[dev]'`` needs no ``ipykernel install`` step and never picks up another Python.
The kernel's working directory and temporary folder are the test's ``tmp_path``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01-readiness-assessment", "02-monthly-compliance", "03-mapping-lab")
CELL_TIMEOUT = 120  # seconds per cell; the slowest cell takes a few seconds


def _read(name: str) -> Any:
    return nbformat.read(FOLDER / f"{name}.ipynb", as_version=4)


def test_the_notebooks_are_these() -> None:
    assert sorted(p.stem for p in FOLDER.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs(name: str) -> None:
    notebook = _read(name)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] for c in code), "clear outputs before committing"
    assert all(c.execution_count is None for c in code), "clear execution counts"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NAMES)
def test_explains_each_step(name: str) -> None:
    cells = _read(name).cells
    assert cells[0].cell_type == "markdown"
    assert sum(c.cell_type == "markdown" for c in cells) >= 5


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``python3`` kernelspec for this interpreter, found first; temp files under tmp_path."""
    jupyter = tmp_path / "jupyter"
    write_kernel_spec(jupyter / "kernels" / "python3")
    spec = json.loads((jupyter / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("TMPDIR", str(work))
    return work


def _outputs(notebook: Any, kind: str) -> list[Any]:
    return [
        o["data"][kind]
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if kind in o.get("data", {})
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_runs_top_to_bottom(name: str, kernel_env: Path) -> None:
    notebook = _read(name)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(kernel_env)}},
    )
    client.execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert _outputs(notebook, "image/png"), "no chart was displayed"
    assert any("b2b-preflight-result" in html for html in _outputs(notebook, "text/html"))
    assert not any("<script>" in html for html in _outputs(notebook, "text/html"))
    assert list(kernel_env.iterdir()), "the notebook should work in its temporary folder"
