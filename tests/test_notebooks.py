"""Whole-notebook tests: graded labs score zero; the full profile's path runs offline.

The full-profile path is marked ``full_path``: ``make test-full-path`` runs it, ``make unit``
does not. The smoke-profile solutions themselves are graded as submissions in ``make notebooks``
(``python -m tools grade --all-solutions``: sandbox and judge, full marks expected).
"""

from __future__ import annotations

import shutil

import pytest
from notebook_runner import ROOT, describe, run

from tools import grading as grade

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
IDS = [p.stem for p in SOLUTIONS]
ALLOWED_CHECK_ERRORS = {"AssertionError", "CheckFailure"}


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_generated_lab_graded_scores_zero_and_stops_at_first_exercise(solution, tmp_path):
    """The generated lab, graded like a submission (make grade), scores 0.

    The solutions' full marks are asserted by `make notebooks`
    (`python -m tools grade --all-solutions`), so no notebook runs twice.
    """
    folder = tmp_path / "submissions" / "generated_lab"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "labs" / solution.name, folder / solution.name)
    [result] = grade.grade(
        solution.name[:2],
        tmp_path / "submissions",
        tmp_path / "out",
        cell_timeout=120,
        student_timeout=900,
        jobs=1,
        profile="smoke",
        log=lambda message: None,
    )
    name = f"labs/{solution.name}"
    first = result.first_error()
    assert first is not None, f"{name}: ran without any error, so an exercise is not cut out"
    assert first.ename == "NotImplementedError", (
        f"{name}: the first error should be the first exercise's NotImplementedError, "
        f"received {first.ename}: {first.evalue}"
    )
    assert not any(c.ename == "SyntaxError" for c in result.cells), result.cells
    # The first screen is quiet on the pinned versions (Colab's: tests/colab_runtime.py): no
    # stderr stream (a library warning, TensorFlow's C++ log) before the first exercise.
    red = [(c.index, c.stderr) for c in result.cells if c.index < first.index and c.stderr]
    assert not red, f"{name}: stderr before the first exercise: {red}"
    assert result.flags == [], f"{name}: the grader repaired the untouched lab: {result.flags}"
    passing = [c.check for c in result.checks if c.status == "passed"]
    assert not passing, f"{name}: checks pass without any answer: {passing}"
    assert {c.status for c in result.checks} <= {"failed", "error"}, result.checks
    assert result.score == 0


@pytest.mark.full_path
@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_full_profile_code_path_runs_offline(solution):
    """The full profile's code path, offline (mocked tfds, one step), on the pinned versions.

    About 7 minutes on 2 cores for the eleven labs, so `make test` leaves it out and CI runs it
    as `make test-full-path` (`make test-colab` runs the same path on Colab's versions).
    """
    prelude = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\nimport offline_full\noffline_full.activate()"
    results = run(solution, prelude=prelude, timeout=300, env_profile="full")
    broken = [
        r
        for r in results
        if r.error and not (r.role == "check" and r.error in ALLOWED_CHECK_ERRORS)
    ]
    assert not broken, (
        f"{solution.name} in the full profile (mocked data, one step):\n{describe(broken)}"
    )
