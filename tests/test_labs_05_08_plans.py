"""Labs 05-08 under the grading rule of issue 25, read from the grader's own plan (no kernel runs).

Every name a check takes from the student's kernel must be a function or class that an exercise
cell defines, or a model declared in the check cell's ``metadata.course.kernel``; constants, data,
reference decoders and helpers are the judge's. A cheap guard for these four labs until the
course-wide lint of ``make check`` covers them.
"""

from __future__ import annotations

import ast

import pytest

from tools import notebooks
from tools.grading.lab import _text, _top_bound, cell_role, load_lab

LABS = ["05", "06", "07", "08"]


def _binders(cells: list[dict]) -> dict[str, tuple[int, str, str]]:
    """name -> (cell index, cell role, statement kind) of its last top-level binding."""
    found: dict[str, tuple[int, str, str]] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_text(cell))
        except SyntaxError:
            continue
        for stmt in tree.body:
            for name in _top_bound(stmt):
                found[name] = (index, cell_role(cell), type(stmt).__name__)
    return found


@pytest.mark.parametrize("lab", LABS)
def test_checks_take_only_student_functions_and_declared_models(lab):
    the_lab = load_lab(lab)
    cells = the_lab.solution["cells"]
    binders = _binders(cells)
    by_id = {
        str(notebooks.course_meta(c).get("id")): c for c in notebooks.check_cells(the_lab.solution)
    }
    problems = []
    for cid, plan in the_lab.plan.items():
        declared = notebooks.course_meta(by_id[cid]).get("kernel") or {}
        for name in plan.remote:
            where = binders.get(name)
            if where and where[1] == "exercise" and where[2] in ("FunctionDef", "ClassDef"):
                continue
            if declared.get(name) == "model":
                continue
            problems.append(f"{cid}: {name} bound by {where}")
    assert not problems, "checks take plain values from the kernel:\n" + "\n".join(problems)


@pytest.mark.parametrize("lab", LABS)
def test_exercise_numbers_match_check_ids(lab):
    """Each check id's exercise number (ex6b_… → 6b) is an exercise heading of the notebook."""
    the_lab = load_lab(lab)
    text = "\n".join(
        _text(c) for c in the_lab.solution["cells"] if c.get("cell_type") == "markdown"
    )
    for cid in the_lab.plan:
        number = cid.split("_", 1)[0].removeprefix("ex")
        assert f"### Exercise {number} " in text, f"{cid}: no 'Exercise {number}' heading"


@pytest.mark.parametrize("lab", LABS)
def test_no_course_cell_reads_a_name_a_check_bound(lab):
    """Checks run in the judge when graded, in the kernel otherwise: a provided or exercise cell
    that reads a name a check cell rebound would see different values in the two runs."""
    from tools.grading.lab import _free

    bound_by: dict[str, tuple[int, str]] = {}
    problems = []
    for index, cell in enumerate(load_lab(lab).solution["cells"]):
        if cell.get("cell_type") != "code":
            continue
        tree = ast.parse(_text(cell))
        role = cell_role(cell)
        if role != "check":
            for name in sorted(_free(tree)):
                if bound_by.get(name, (0, ""))[1] == "check":
                    problems.append(
                        f"cell {index} reads {name!r} bound by check cell {bound_by[name][0]}"
                    )
        for stmt in tree.body:
            for name in _top_bound(stmt):
                bound_by[name] = (index, role)
    assert not problems, "\n".join(problems)
