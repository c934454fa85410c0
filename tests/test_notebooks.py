"""Structure of the lessons: the kit's template, the exercise protocol, committed without outputs, and one
papermill run per lesson that checks every exercise blank and solved.

nbval executes every committed (blank) notebook separately (``pytest --nbval-lax notebooks``); the other run here
(:func:`test_lesson_blank_then_solved`) executes each lesson once more with every exercise first blank, then solved.
"""

import ast
import json
import re
import time

import pytest
from conftest import REPO
from trained_checkpoint import assert_trained_lesson

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["00_quickstart", "01_theory_ssi_loss", "02_inference", "03_visualization", "04_effects",
            "05_benchmarking", "06_video"]


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


# --------------------------------------------------------------------------------------------- exercise protocol
def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


SOLUTION = re.compile(r"\A<details><summary>Solution</summary>\n\n```python\n(?P<code>.*?)\n```\n\n</details>\Z", re.S)


def _solution_code(cell):
    """The one python block of a solution cell (None if the cell does not have the protocol's form)."""
    text = _src(cell).strip()
    match = SOLUTION.match(text)
    if not match or text.count("```") != 2:
        return None
    return match.group("code")


def _is_blank_statement(node):
    if isinstance(node, ast.Assign):
        value = node.value
        values = value.elts if isinstance(value, ast.Tuple) else [value]
        return any(isinstance(v, ast.Constant) and v.value is Ellipsis for v in values)
    if isinstance(node, ast.FunctionDef):
        body = node.body
        return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and body[0].value.value is Ellipsis
    return False


def _defined_names(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _exercises(cells):
    """(exercise, check, solution) cell triples; asserts the protocol's order."""
    triples = []
    for i, cell in enumerate(cells):
        if "exercise" in _tags(cell):
            assert i + 2 < len(cells), "an exercise cell must be followed by a check cell and a solution cell"
            triples.append((cell, cells[i + 1], cells[i + 2]))
    return triples


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_protocol(path):
    """Blank exercise cell -> check cell (one check call) -> collapsed solution with one python block."""
    cells = _load(path)["cells"]
    triples = _exercises(cells)
    assert len(triples) >= 3, f"{path.name}: {len(triples)} exercises; every lesson needs at least 3"
    assert sum("check" in _tags(c) for c in cells) == len(triples), f"{path.name}: a check cell without exercise"
    from_scratch = [e for e, _, _ in triples if any(isinstance(n, ast.FunctionDef) for n in ast.parse(_src(e)).body)]
    assert from_scratch, f"{path.name}: at least one exercise must have the student write a function from scratch"
    for exercise, check, solution in triples:
        text = _src(exercise)
        assert exercise["cell_type"] == "code", f"{path.name}: an `exercise` cell must be a code cell"
        tree = ast.parse(text)
        assert tree.body and all(_is_blank_statement(n) for n in tree.body), (
            f"{path.name}: the exercise cell must be blank as committed (`answer = ...` or a body `...`):\n{text}")
        assert check["cell_type"] == "code" and "check" in _tags(check), f"{path.name}: after\n{text}\nno check cell"
        assert re.fullmatch(r"(#[^\n]*\n)*ex\.check_\w+\([^\n]*\)", _src(check).strip()), (
            f"{path.name}: a check cell is one call of a check from depthkit.exercises: {_src(check)!r}")
        assert solution["cell_type"] == "markdown" and "solution" in _tags(solution), (
            f"{path.name}: after the check of\n{text}\nmust come a markdown cell tagged `solution`")
        code = _solution_code(solution)
        assert code is not None, f"{path.name}: a solution must be <details><summary>Solution</summary> with " \
                                 f"exactly one ```python block:\n{_src(solution)}"
        if any(isinstance(n, ast.FunctionDef) for n in tree.body):
            lines = [ln for ln in code.splitlines() if ln.strip() and not ln.strip().startswith("#")]
            assert len(lines) <= 10, f"{path.name}: a from-scratch solution has {len(lines)} lines (at most 10)"
        missing = _defined_names(tree) - _defined_names(ast.parse(code))
        assert not missing, f"{path.name}: the solution does not define {missing}, which the exercise cell does"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_prerequisites_and_next_link(path):
    cells = _load(path)["cells"]
    assert "**Prerequisites:**" in _src(cells[0]), f"{path.name}: the first cell must list **Prerequisites:**"
    md = "\n".join(_src(c) for c in cells if c["cell_type"] == "markdown")
    links = re.findall(r"\*\*Next:\*\* \[[^\]]+\]\(([^)\s]+)\)", md)
    assert len(links) == 1, f"{path.name}: **Next:** must be one markdown link [title](file)"
    later = [p.name for p in NOTEBOOKS if p.name > path.name]
    if later:
        assert links[0] == later[0], f"{path.name}: **Next:** links to {links[0]}, not to {later[0]}"
    else:
        assert (path.parent / links[0]).exists(), f"{path.name}: **Next:** links to a missing file {links[0]}"


# ------------------------------------------------------------------- blank and solved runs, in one run per lesson
STRICT = 'import os\nos.environ["DEPTHKIT_STRICT_CHECKS"] = "{}"'
#: Lesson 02's run also carries the papermill test: non-default parameters must reach the code.
PARAMETERS = {"02_inference": {"SAMPLE": "chelsea", "THREADS": 1, "BATCH": 1}}


def _code_cell(source, tag, number):
    return {"cell_type": "code", "execution_count": None, "id": f"{tag}-{number}", "metadata": {"tags": [tag]},
            "outputs": [], "source": source}


def blank_then_solved(nb):
    """The lesson with every exercise run twice: first blank, as committed (non-strict check: must print
    ``✗ Not yet``), then with its solution pasted into the exercise cell (strict check: must print ``✔``).
    Cells after an exercise see the solved state here; nbval runs the committed (blank) lesson as is."""
    cells, out = nb["cells"], []
    for i, cell in enumerate(cells):
        out.append(cell)
        if "check" in _tags(cell):
            cell["metadata"]["tags"] = ["check-blank"]
            out.insert(len(out) - 1, _code_cell(STRICT.format(0), "strict-off", i))
            solved = dict(cell, metadata={"tags": ["check-solved"]}, id=cell["id"] + "s")
            out += [_code_cell(_solution_code(cells[i + 1]), "solution-code", i),
                    _code_cell(STRICT.format(1), "strict-on", i), solved]
    return dict(nb, cells=out)


def _stdout(cell):
    return "".join(o["text"] if isinstance(o["text"], str) else "".join(o["text"])
                   for o in cell["outputs"] if o.get("output_type") == "stream" and o.get("name") == "stdout")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_blank_then_solved(path, tmp_path, trained_weights, monkeypatch):
    """(a) every check on the blank answer prints one line ``✗ Not yet: ...``; (b) with the solutions pasted and
    DEPTHKIT_STRICT_CHECKS=1 every check prints one line ``✔ ...`` -- with a trained checkpoint in the official
    layout installed, so that the same run covers the lesson's trained-weights path."""
    import papermill as pm

    monkeypatch.setenv("DEPTHKIT_STRICT_CHECKS", "1")
    source = tmp_path / path.name
    source.write_text(json.dumps(blank_then_solved(_load(path))), encoding="utf-8")
    start = time.perf_counter()
    pm.execute_notebook(str(source), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
                        parameters=PARAMETERS.get(path.stem, {}), cwd=str(REPO / "notebooks"))
    seconds = time.perf_counter() - start
    nb = _load(tmp_path / "out.ipynb")
    blank = [_stdout(c) for c in nb["cells"] if "check-blank" in _tags(c)]
    solved = [_stdout(c) for c in nb["cells"] if "check-solved" in _tags(c)]
    assert len(blank) == len(solved) >= 3
    for line in blank:
        assert re.fullmatch(r"✗ Not yet: [^\n]+\n", line), f"{path.name}: a check on a blank answer printed {line!r}"
    for line in solved:
        assert re.fullmatch(r"✔ [^\n]+\n", line), f"{path.name}: a check on the solution printed {line!r}"
    text = "".join(_stdout(c) for c in nb["cells"] if c["cell_type"] == "code")
    assert_trained_lesson(nb, trained_weights, path.stem)  # no untrained-branch text; file name and SHA-256 shown
    if path.stem in PARAMETERS:
        _assert_parameters_reached_the_code(nb, text)
    print(f"{path.name}: blank + solved run in {seconds:.0f} s")


def _assert_parameters_reached_the_code(nb, text):
    injected = [c for c in nb["cells"] if "injected-parameters" in _tags(c)]
    assert len(injected) == 1 and 'SAMPLE = "chelsea"' in _src(injected[0])
    assert "photo 451x300 px" in text  # chelsea's size, not the default sample's
    assert "threads=1  batch of 1" in text and "threads=2" not in text
