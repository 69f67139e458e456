"""Whole-notebook tests: labs stop at their first exercise; the full profile's path runs offline.

The smoke-profile solutions themselves run under nbval in ``make notebooks``.
"""

from __future__ import annotations

import pytest
from notebook_runner import ROOT, describe, run

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
IDS = [p.stem for p in SOLUTIONS]
ALLOWED_CHECK_ERRORS = {"AssertionError", "CheckFailure"}


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_lab_stops_at_first_exercise_and_scores_nothing(solution):
    lab = ROOT / "labs" / solution.name
    results = run(lab, timeout=120)
    errors = [r for r in results if r.error]
    assert errors, f"{lab.name}: ran without any error, so an exercise is not cut out"
    assert errors[0].error == "NotImplementedError", (
        f"{lab.name}: the first error should be the first exercise's NotImplementedError, "
        f"received {errors[0].error}: {errors[0].message}"
    )
    assert not any(r.error == "SyntaxError" for r in results), describe(results)
    passing_checks = [r.check_id for r in results if r.role == "check" and not r.error]
    assert not passing_checks, f"{lab.name}: checks pass without any answer: {passing_checks}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_full_profile_code_path_runs_offline(solution):
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
