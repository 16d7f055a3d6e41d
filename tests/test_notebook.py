"""notebooks/quickstart.ipynb: committed clean, and runs from top to bottom without error."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "quickstart.ipynb"


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code, "the notebook has no code cells"
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"clear the outputs of cells {dirty} before committing"


def private_kernel_manager(kernel_dir: Path):
    """A KernelManager for a ``python3`` kernel running this interpreter (sys.executable).

    The kernel spec is written under ``kernel_dir`` and only that folder is searched, so
    neither a user's own ``python3`` kernel nor a missing system one changes what runs.
    """
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    write_kernel_spec(kernel_dir / "python3")  # argv: [sys.executable, -m, ipykernel_launcher, ...]
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    output = tmp_path / "quickstart-output"
    pythonpath = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "CITYFLUX_OUTPUT": str(output), "MPLBACKEND": "Agg",
           "PYTHONPATH": pythonpath,
           # keep Jupyter and IPython from writing runtime files or history outside tmp_path
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
           "IPYTHONDIR": str(tmp_path / "ipython")}
    km = private_kernel_manager(tmp_path / "kernels")
    km.connection_file = str(tmp_path / "kernel-connection.json")
    client = NotebookClient(nb, km=km, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute(env=env)  # raises CellExecutionError, naming the cell, if a cell fails

    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if out.output_type == "error"]
    assert not errors, errors
    assert (output / "posterior.nc").is_file()
    assert (output / "observations.nc").is_file()
    images = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
              if "image/png" in out.get("data", {})]
    assert len(images) >= 3, "expected the footprint, increment and residual figures"
    text = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.outputs)
    assert "cityflux run finished" in text and "posterior" in text
