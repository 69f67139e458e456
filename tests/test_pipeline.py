"""tools.notebooks: lab generation, canonical form and every `make check` failure, on fixtures."""

from __future__ import annotations

import ast
import base64
import json
import subprocess
import sys

import pytest

from tools import notebooks as nbt

REPO = "someone/course"


def code(src, **course):
    return {
        "cell_type": "code",
        "execution_count": 7,
        "id": "x",
        "metadata": {"course": course, "collapsed": True} if course else {"scrolled": True},
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi"}],
        "source": src,
    }


def md(src):
    return {"cell_type": "markdown", "metadata": {}, "source": src}


SOLUTION_CODE = """def add(a, b):
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION

### BEGIN SOLUTION
answer = add(2, 3)
### END SOLUTION"""

CHECK_CODE = """assert add(1, 1) == 2
### BEGIN HIDDEN CHECKS
assert add(-1, 1) == 0
### END HIDDEN CHECKS
print("done")"""


def solution_nb():
    return {
        "cells": [
            md(
                "# Lab 01 — Demo\n\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/old/place/blob/dev/x.ipynb)"
            ),
            code('REPO = "https://github.com/old/place"\nimport math', role="setup"),
            md("Why?\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->"),
            code(SOLUTION_CODE),
            code(CHECK_CODE, role="check", id="ex1_add", points=2),
        ],
        "metadata": {"kernelspec": {"name": "python3"}, "widgets": {"state": {}}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


@pytest.fixture
def course(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.course]\nrepository = "{REPO}"\nbranch = "main"\n'
    )
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_demo.ipynb").write_text(json.dumps(solution_nb()))
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/labs/01_demo.ipynb"
    (tmp_path / "README.md").write_text(f"[![Open In Colab](x.svg)]({url})\n")
    nbt.format_notebooks(tmp_path)
    nbt.build_labs(tmp_path)
    return tmp_path


def lab_cells(root):
    return nbt.read(root / "labs" / "01_demo.ipynb")["cells"]


def test_lab_replaces_solutions_with_stubs_at_the_same_indentation(course):
    src = nbt.source(lab_cells(course)[3])
    assert src == (
        "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\n"
        "# YOUR CODE HERE\nraise NotImplementedError()"
    )
    for cell in lab_cells(course):
        if cell["cell_type"] == "code":
            ast.parse(nbt.source(cell))  # the lab parses


def test_lab_drops_hidden_checks_and_markdown_answers(course):
    cells = lab_cells(course)
    assert nbt.source(cells[4]) == 'assert add(1, 1) == 2\nprint("done")'
    assert nbt.source(cells[2]) == "Why?\n*YOUR ANSWER HERE*"
    assert "BEGIN" not in json.dumps(cells)


def test_canonical_form(course):
    nb = nbt.read(course / "solutions" / "01_demo.ipynb")
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
        assert set(cell["metadata"]) <= {"course"}
    assert nb["cells"][4]["id"] == "ex1_add" and nb["cells"][1]["id"] == "setup"
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids)
    assert nb["metadata"] == nbt.NOTEBOOK_METADATA and nb["nbformat_minor"] == 5
    text = (course / "solutions" / "01_demo.ipynb").read_text()
    assert text == nbt.dumps(json.loads(text))  # sorted keys, one indentation
    assert f"github/{REPO}/blob/main/solutions/01_demo.ipynb" in nbt.source(nb["cells"][0])
    assert f'REPO = "https://github.com/{REPO}"' in nbt.source(nb["cells"][1])
    assert nbt.format_notebooks(course) == []  # idempotent: ids and text stable


def test_generated_lab_badge_points_to_the_lab(course):
    assert "blob/main/labs/01_demo.ipynb" in nbt.source(lab_cells(course)[0])


def test_clean_course_passes_check(course):
    assert nbt.check_repository(course) == []


def _edit(path, fn):
    nb = json.loads(path.read_text())
    fn(nb)
    path.write_text(json.dumps(nb))


def test_check_catches_stale_lab(course):
    _edit(
        course / "solutions" / "01_demo.ipynb", lambda nb: nb["cells"][2]["source"].append("\nmore")
    )
    assert any("out of date" in p for p in nbt.check_repository(course))


def test_check_catches_outputs_and_drift(course):
    def add_output(nb):
        nb["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]

    _edit(course / "solutions" / "01_demo.ipynb", add_output)
    problems = nbt.check_repository(course)
    assert any("outputs" in p for p in problems) and any("canonical" in p for p in problems)


def test_check_catches_leaked_solution_text(course):
    _edit(
        course / "labs" / "01_demo.ipynb",
        lambda nb: nb["cells"][3]["source"].append("\n### BEGIN SOLUTION"),
    )
    assert any("solution or hidden-check text" in p for p in nbt.check_repository(course))


def test_check_catches_wrong_badge(course):
    def move(nb):
        nb["cells"][0]["source"] = [
            nbt.source(nb["cells"][0]).replace("solutions/01_demo", "solutions/02_other")
        ]

    _edit(course / "solutions" / "01_demo.ipynb", move)
    assert any("Colab badge points to" in p for p in nbt.check_repository(course))


def test_check_catches_duplicate_and_missing_check_ids(course):
    def dup(nb):
        nb["cells"].append(json.loads(json.dumps(nb["cells"][4])))
        nb["cells"].append(code("assert True", role="check", points=1))

    _edit(course / "solutions" / "01_demo.ipynb", dup)
    problems = nbt.check_repository(course)
    assert any("'ex1_add' is used by cells 4 and 5" in p for p in problems)
    assert any("missing or invalid id None" in p for p in problems)


def test_check_catches_bad_points_missing_and_orphan_labs(course):
    _edit(
        course / "solutions" / "01_demo.ipynb",
        lambda nb: nb["cells"][4]["metadata"]["course"].update(points=0),
    )
    (course / "labs" / "01_demo.ipynb").rename(course / "labs" / "02_orphan.ipynb")
    problems = nbt.check_repository(course)
    assert any("needs positive 'points'" in p for p in problems)
    assert any("labs/01_demo.ipynb: missing" in p for p in problems)
    assert any("02_orphan.ipynb: has no solution" in p for p in problems)


def test_check_catches_a_figure_shown_twice(course):
    def plot_last(nb):
        nb["cells"].append(code("x = 1\ncommon.plots.history(h, title='t')"))
        nb["cells"].append(code("_ = common.plots.history(h)"))
        nb["cells"].append(code("common.plots.history(h);"))
        nb["cells"].append(code("%matplotlib inline"))

    _edit(course / "solutions" / "01_demo.ipynb", plot_last)
    problems = [p for p in nbt.check_repository(course) if "figure twice" in p]
    assert problems == [
        "solutions/01_demo.ipynb: cell 5 ends with a common.plots call, so "
        "Jupyter shows its figure twice (once by the call, once as the cell's "
        "value); assign it: `_ = …`."
    ]


def test_check_catches_readme_badges(course):
    (course / "README.md").write_text(
        "(https://colab.research.google.com/github/other/repo/blob/main/labs/01_demo.ipynb)\n"
        f"(https://colab.research.google.com/github/{REPO}/blob/main/labs/09_missing.ipynb)\n"
    )
    problems = nbt.check_repository(course)
    assert any("should be" in p for p in problems) and any(
        "09_missing.ipynb, which does not exist" in p for p in problems
    )
    assert nbt.sync_readme(course)
    assert f"github/{REPO}/blob/main/labs/01_demo.ipynb" in (course / "README.md").read_text()


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without a matching"),
        ("### BEGIN SOLUTION\n### BEGIN HIDDEN CHECKS", "inside an open solution region"),
        ("### END HIDDEN CHECKS", "without a matching"),
    ],
)
def test_unbalanced_markers_name_file_and_cell(course, src, message):
    _edit(course / "solutions" / "01_demo.ipynb", lambda nb: nb["cells"].append(code(src)))
    with pytest.raises(nbt.NotebookError, match=rf"labs/01_demo.ipynb cell 5 .*{message}"):
        nbt.build_labs(course)


def test_invalid_json_and_bad_config(course):
    (course / "solutions" / "01_demo.ipynb").write_text("{not json")
    assert any("not valid notebook JSON" in p for p in nbt.check_repository(course))
    (course / "pyproject.toml").write_text('[tool.course]\nrepository = "no-slash"\n')
    with pytest.raises(nbt.NotebookError, match="must look like 'owner/name'"):
        nbt.course_config(course)


def test_cli_check_on_the_real_repository():
    proc = subprocess.run(
        [sys.executable, "-m", "tools", "check"], cwd=nbt.ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "labs in sync" in proc.stdout


def test_extract_figures_writes_every_png_output(tmp_path):
    png = base64.b64encode(b"\x89PNG fake").decode()
    executed = {
        "cells": [
            md("# t"),
            {
                **code("plot()"),
                "outputs": [{"output_type": "display_data", "data": {"image/png": png}}] * 2,
            },
            code("print(1)"),
            {
                **code("plot()"),
                "outputs": [{"output_type": "execute_result", "data": {"image/png": [png]}}],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "run.ipynb"
    path.write_text(json.dumps(executed))
    out = tmp_path / "figs"
    out.mkdir()
    (out / "cell09_1.png").write_bytes(b"stale")
    written = nbt.extract_figures(path, out)
    assert [p.name for p in written] == ["cell01_1.png", "cell01_2.png", "cell03_1.png"]
    assert sorted(p.name for p in out.iterdir()) == ["cell01_1.png", "cell01_2.png", "cell03_1.png"]
    assert written[0].read_bytes() == b"\x89PNG fake"
