"""The README stays true: its public-API table lists exactly the names ``import depthkit`` exports, each in the
module that defines it, and the commands it shows exist."""

import re

import pytest
from conftest import REPO

import depthkit as dk

README = (REPO / "README.md").read_text(encoding="utf-8")


def _api_rows() -> list[tuple[list[str], str]]:
    """(names, module) of each row of the table between the public-api markers."""
    block = re.search(r"<!-- public-api[^>]*-->(.*?)<!-- /public-api -->", README, re.S)
    assert block, "README.md has no public-api block"
    rows = []
    for line in block.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`"):
            rows.append((re.findall(r"`(\w+)`", cells[0]), cells[1].strip("`")))
    return rows


def test_public_api_table_matches_the_package():
    rows = _api_rows()
    listed = [name for names, _ in rows for name in names]
    assert len(listed) == len(set(listed)), "a name is listed twice"
    exported = set(dk.__all__) - {"__version__"}
    assert set(listed) == exported, f"missing: {exported - set(listed)}, not exported: {set(listed) - exported}"
    for names, module in rows:
        for name in names:
            assert getattr(dk, name).__module__ == f"depthkit.{module}", (name, module)


def test_cli_subcommands_in_the_readme_exist(capsys):
    from depthkit.cli import main

    shown = sorted(set(re.findall(r"python -m depthkit (\w+)", README)))
    assert {"doctor", "predict", "weights", "demo", "report"} <= set(shown)
    for command in shown:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0, f"README shows `python -m depthkit {command}`, which does not exist"
    assert "usage: python -m depthkit" in capsys.readouterr().out


def test_papermill_examples_use_the_lessons_parameters():
    import json

    lines = re.findall(r"^papermill (notebooks/\S+\.ipynb) .*$", README, re.M)
    assert len(lines) == len(list((REPO / "notebooks").glob("*.ipynb"))), "one papermill example per lesson"
    for line in re.findall(r"^papermill notebooks/.*$", README, re.M):
        path = REPO / line.split()[1]
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        (params,) = ["".join(c["source"]) for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        defined = set(re.findall(r"^(\w+)\s*=", params, re.M))
        used = set(re.findall(r"-p (\w+) ", line)) | set(re.findall(r"-y '(\w+):", line))
        assert used and used <= defined, f"{path.name}: README passes {used - defined}, not in its parameters cell"
