"""Structure of the lessons: the kit's template, committed without outputs, parameterisable with papermill.

nbval executes every notebook separately (``pytest --nbval-lax notebooks``); these tests check the form.
"""

import json
import re

import pytest

from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["00_quickstart", "01_theory_ssi_loss", "02_inference", "03_visualization", "04_effects",
            "05_benchmarking"]


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_lessons_present():
    names = [p.stem for p in NOTEBOOKS]
    assert names, "no notebooks found"
    assert names == sorted(names)
    assert set(names) <= set(EXPECTED), f"unexpected lesson names: {set(names) - set(EXPECTED)}"
    assert "00_quickstart" in names and "02_inference" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a code cell has outputs; strip them"
            assert cell.get("execution_count") is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_template_structure(path):
    nb = _load(path)
    cells = nb["cells"]
    first = _src(cells[0])
    assert cells[0]["cell_type"] == "markdown"
    assert first.startswith(f"# {path.name[:2]} · "), f"{path.name}: first line must be '# {path.name[:2]} · Title'"
    assert "**Learning goals**" in first and "**Expected runtime:**" in first
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and params[0]["cell_type"] == "code", f"{path.name}: need exactly one parameters cell"
    code = [_src(c) for c in cells if c["cell_type"] == "code"]
    assert any(re.search(r"^import depthkit as dk$", s, re.M) for s in code)
    md = "\n".join(_src(c) for c in cells if c["cell_type"] == "markdown")
    numbers = [int(n) for n in re.findall(r"^## (\d+)\. ", md, re.M)]
    assert numbers and numbers == list(range(1, len(numbers) + 1)), f"{path.name}: sections not numbered 1..n"
    for heading in ("## Exercises", "## Summary"):
        assert re.search(rf"^{heading}\b", md, re.M), f"{path.name}: missing '{heading}'"
    assert "**Next:**" in md
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    """Notebooks stay thin: logic longer than ~10 lines belongs in depthkit with a unit test."""
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "code":
            lines = [ln for ln in _src(cell).splitlines() if ln.strip() and not ln.strip().startswith("#")]
            assert len(lines) <= 15, f"{path.name}: a code cell has {len(lines)} lines:\n{_src(cell)[:300]}"


def test_papermill_runs_a_lesson_with_non_default_parameters(tmp_path):
    """Instructors run lessons headless with papermill; parameters must reach the code."""
    import papermill as pm

    out = tmp_path / "02.ipynb"
    pm.execute_notebook(str(REPO / "notebooks" / "02_inference.ipynb"), str(out), kernel_name="python3",
                        parameters={"SAMPLE": "chelsea", "THREADS": 1, "BATCH": 1}, progress_bar=False,
                        cwd=str(REPO / "notebooks"))
    nb = _load(out)
    injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(injected) == 1 and 'SAMPLE = "chelsea"' in _src(injected[0])
    text = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                   for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])
    assert "photo 451x300 px" in text  # chelsea's size, not the default sample's
    assert "threads=1  batch of 1" in text and "threads=2" not in text
    assert "UNTRAINED" in text  # offline: the lesson says the weights are untrained
