"""The grader (tools/grading/) end to end, on a tiny fixture course that runs in seconds.

``tests/fixtures/grading/solutions/00_fixture.ipynb`` is a solution notebook in the course's
conventions (setup cell, check cells with ids and points, hidden checks) that imports nothing
heavy. Each student's notebook is built here from it or from its generated lab, with one
change per student, and all of them are graded in one parallel run (shared by the tests below,
also across pytest-xdist workers). The real labs are graded in test_notebooks.py.
"""

from __future__ import annotations

import copy
import csv
import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from tools import grading as grade
from tools import notebooks

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "grading"
SOLUTIONS = FIXTURE / "solutions"
NB_NAME = "00_fixture.ipynb"
CELL_TIMEOUT = 10
STUDENT_TIMEOUT = 45
FULL = 7  # ex1_add 2 + ex2_mul 1 + ex2_mul_negative 1 + ex3_total 3


# --------------------------------------------------------------------------- building notebooks


def solution() -> dict:
    return notebooks.read(SOLUTIONS / NB_NAME)


def lab() -> dict:
    return notebooks.generate_lab(solution(), f"labs/{NB_NAME}", notebooks.course_config())


def cell(nb: dict, cid: str) -> dict:
    return next(c for c in nb["cells"] if c.get("id") == cid)


def set_source(nb: dict, cid: str, text: str) -> dict:
    cell(nb, cid)["source"] = text
    return nb


def insert_after(nb: dict, cid: str, text: str, new_id: str) -> dict:
    index = nb["cells"].index(cell(nb, cid))
    new = {"cell_type": "code", "id": new_id, "metadata": {}, "source": text}
    nb["cells"].insert(index + 1, new | {"outputs": [], "execution_count": None})
    return nb


def delete(nb: dict, cid: str) -> dict:
    nb["cells"].remove(cell(nb, cid))
    return nb


def with_outputs(nb: dict) -> dict:
    """As a student's Jupyter saves it: outputs, counts, a kernelspec."""
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] == "code":
            c["execution_count"] = i
            c["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["old output\n"]}]
    nb["metadata"]["kernelspec"] = {"name": "some-kernel", "display_name": "X", "language": "py"}
    return nb


def students() -> dict[str, dict | str | None]:
    """student -> notebook (dict), raw file text (str), or None (an empty folder)."""
    sol, lab_nb = solution(), lab()
    wrong = set_source(copy.deepcopy(sol), "ex2-code", "def mul(a, b):\n    return a * b + 1")
    crash = set_source(
        copy.deepcopy(sol), "ex1-code", 'def add(a, b):\n    raise RuntimeError("boom")'
    )
    insert_after(crash, "ex2-code", "1 / 0", "crash-cell")
    edited = set_source(copy.deepcopy(sol), "ex1-code", "def add(a, b):\n    return a - b")
    set_source(edited, "ex1_add", 'print("all good")')
    disabled = set_source(copy.deepcopy(sol), "ex3-code", "total = 3")
    cell(disabled, "ex3_total")["cell_type"] = "markdown"
    no_ids = delete(copy.deepcopy(sol), "ex2_mul")
    no_ids["nbformat_minor"] = 4
    for c in no_ids["cells"]:
        c.pop("id")
        c["metadata"] = {}
    markers = set_source(
        copy.deepcopy(sol), "ex1-code", "# NBVAL_SKIP\ndef add(a, b):\n    return a + b"
    )
    set_source(markers, "ex3-code", "total = 4")
    cell(markers, "ex3-code")["metadata"]["tags"] = ["raises-exception"]
    cell(markers, "ex3_total")["metadata"]["tags"] = ["raises-exception"]
    cell(markers, "ex3_total")["source"] = "# NBVAL_RAISES_EXCEPTION\n" + notebooks.source(
        cell(markers, "ex3_total")
    )
    slow = copy.deepcopy(sol)
    for n in range(6):
        insert_after(slow, "ex1_add", "import time\n\ntime.sleep(9)", f"sleep-{n}")
    typed = set_source(copy.deepcopy(sol), "ex1-code", "add = 3")  # a value, not a function
    return {
        "solution": with_outputs(copy.deepcopy(sol)),
        "typed_value_for_a_function": typed,
        "generated_lab": lab_nb,
        "wrong_answer": wrong,
        "crashing_cell": crash,
        "infinite_loop": set_source(copy.deepcopy(sol), "ex2-code", "while True:\n    pass"),
        "edited_check": edited,
        "check_made_markdown": disabled,
        "deleted_check": delete(copy.deepcopy(sol), "ex2_mul_negative"),
        "deleted_check_no_ids": no_ids,
        "deleted_setup": delete(copy.deepcopy(sol), "setup"),
        "os_exit": insert_after(copy.deepcopy(sol), "ex1_add", "import os\n\nos._exit(3)", "x"),
        "huge_output": insert_after(
            copy.deepcopy(sol),
            "ex1-code",
            'for _ in range(3000):\n    print("y" * 100_000)',
            "print-a-lot",
        ),
        "nbval_markers_and_tags": markers,
        "over_total_time": slow,
        "invalid_json": '{"cells": [ this is not json',
        "empty_folder": None,
    }


def checksums(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- one shared run


@dataclass
class Graded:
    results: dict[str, grade.StudentResult]
    before: dict[str, str]
    after: dict[str, str]
    out: Path
    seconds: float
    log: list[str]


def _grade_everything(base: Path) -> Graded:
    subs, out = base / "submissions", base / "out"
    for name, nb in students().items():
        folder = subs / name
        folder.mkdir(parents=True)
        if isinstance(nb, dict):
            (folder / NB_NAME).write_text(json.dumps(nb, indent=1), encoding="utf-8")
        elif isinstance(nb, str):
            (folder / NB_NAME).write_text(nb, encoding="utf-8")
    (subs / "colab_download").mkdir()
    (subs / "colab_download" / f"Copy of {NB_NAME}").write_text(json.dumps(solution()))
    (subs / "wrong_lab_number").mkdir()
    (subs / "wrong_lab_number" / "01_other.ipynb").write_text(json.dumps(solution()))
    (subs / "stray_file.ipynb").write_text("{}")
    before = checksums(subs)
    log: list[str] = []
    start = time.monotonic()
    results = grade.grade(
        "00",
        subs,
        out,
        solutions=SOLUTIONS,
        cell_timeout=CELL_TIMEOUT,
        student_timeout=STUDENT_TIMEOUT,
        jobs=2,
        profile="smoke",
        log=log.append,
    )
    seconds = time.monotonic() - start
    return Graded({r.student: r for r in results}, before, checksums(subs), out, seconds, log)


@contextmanager
def _locked(path: Path):
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _dump(g: Graded) -> str:
    data = asdict(g)
    data["out"] = str(g.out)
    for r in data["results"].values():
        r["notebook"] = str(r["notebook"]) if r["notebook"] else None
    return json.dumps(data)


def _load(text: str) -> Graded:
    data = json.loads(text)
    results = {}
    for name, r in data["results"].items():
        r["checks"] = [grade.CheckResult(**c) for c in r["checks"]]
        r["cells"] = [grade.CellRun(**c) for c in r["cells"]]
        r["notebook"] = Path(r["notebook"]) if r["notebook"] else None
        results[name] = grade.StudentResult(**r)
    data["results"], data["out"] = results, Path(data["out"])
    return Graded(**data)


@pytest.fixture(scope="module")
def graded(tmp_path_factory, worker_id) -> Graded:
    """One grading run for every test here; with xdist the first worker runs it, others wait."""
    if worker_id == "master":
        return _grade_everything(tmp_path_factory.mktemp("grading"))
    shared = tmp_path_factory.getbasetemp().parent
    with _locked(shared / "grading.lock"):
        cache = shared / "grading.json"
        if not cache.exists():
            cache.write_text(_dump(_grade_everything(shared / "grading-run")))
        return _load(cache.read_text())


def statuses(result: grade.StudentResult) -> dict[str, str]:
    return {c.check: c.status for c in result.checks}


def message(result: grade.StudentResult, check: str) -> str:
    return next(c.message for c in result.checks if c.check == check)


# --------------------------------------------------------------------------- the scenarios


def test_solution_scores_full_marks(graded):
    r = graded.results["solution"]
    assert (r.score, r.max_score) == (FULL, FULL), r.checks
    assert set(statuses(r).values()) == {"passed"}
    assert r.flags == []  # outputs and a kernelspec are dropped silently


def test_generated_lab_scores_zero_and_stops_at_the_first_exercise(graded):
    r = graded.results["generated_lab"]
    assert r.score == 0
    assert set(statuses(r).values()) <= {"failed", "error"}, r.checks
    assert r.first_error().ename == "NotImplementedError"
    assert r.flags == []  # the lab's check cells lack the hidden checks: not an edit


def test_hidden_checks_are_restored_in_the_graded_copy(graded):
    copy_ = notebooks.read(graded.results["generated_lab"].notebook)
    assert "hidden: add(-1, 1) should be 0" in notebooks.source(cell(copy_, "ex1_add"))


def test_wrong_answer_fails_exactly_its_checks(graded):
    r = graded.results["wrong_answer"]
    assert statuses(r) == {
        "ex1_add": "passed",
        "ex2_mul": "failed",
        "ex2_mul_negative": "failed",
        "ex3_total": "passed",
    }
    assert r.score == FULL - 2
    assert "mul(2, 3) should be 6, received 7" in message(r, "ex2_mul")


def test_a_value_where_the_check_calls_a_function_is_refused_by_the_judge(graded):
    result = graded.results["typed_value_for_a_function"]
    assert statuses(result)["ex1_add"] == "error"
    assert "expects 'add' to be your function" in message(result, "ex1_add")
    assert result.score == FULL - 2


def test_crashing_cell_is_an_error_of_its_check_only(graded):
    r = graded.results["crashing_cell"]
    assert statuses(r) == {
        "ex1_add": "error",
        "ex2_mul": "passed",
        "ex2_mul_negative": "passed",
        "ex3_total": "passed",
    }
    assert message(r, "ex1_add") == "RuntimeError: boom"
    assert any(c.ename == "ZeroDivisionError" for c in r.cells)  # the extra cell ran and failed


def test_infinite_loop_times_out_and_later_checks_score_zero(graded):
    r = graded.results["infinite_loop"]
    assert statuses(r) == {
        "ex1_add": "passed",
        "ex2_mul": "timeout",
        "ex2_mul_negative": "timeout",
        "ex3_total": "timeout",
    }
    assert r.score == 2
    assert "while True:" in message(r, "ex2_mul") and "timed out" in message(r, "ex2_mul")


def test_check_edited_to_pass_is_restored_and_fails(graded):
    r = graded.results["edited_check"]
    assert statuses(r)["ex1_add"] == "failed"
    assert "check ex1_add was edited: restored the original" in r.flags


def test_check_turned_into_markdown_is_restored(graded):
    r = graded.results["check_made_markdown"]
    assert statuses(r)["ex3_total"] == "failed"
    assert any("check ex3_total was turned into a markdown cell" in f for f in r.flags)


def test_deleted_check_is_reinserted_after_its_exercise_and_flagged(graded):
    r = graded.results["deleted_check"]
    assert (r.score, r.flags) == (FULL, ["re-inserted the missing check ex2_mul_negative"])
    ids = [c["id"] for c in notebooks.read(r.notebook)["cells"]]
    assert ids.index("ex2_mul_negative") == ids.index("ex2_mul") + 1


def test_deleted_check_without_cell_ids_goes_before_the_next_check(graded):
    r = graded.results["deleted_check_no_ids"]
    assert (r.score, r.flags) == (FULL, ["re-inserted the missing check ex2_mul"]), r.checks
    ids = [c["id"] for c in notebooks.read(r.notebook)["cells"]]
    assert ids.index("ex2_mul") == ids.index("ex2_mul_negative") - 1


def test_deleted_setup_cell_is_reinserted(graded):
    r = graded.results["deleted_setup"]
    assert (r.score, r.flags) == (FULL, ["re-inserted the missing setup cell"])


def test_os_exit_kills_only_that_notebook_and_is_noticed_at_once(graded):
    r = graded.results["os_exit"]
    assert statuses(r) == {
        "ex1_add": "passed",
        "ex2_mul": "error",
        "ex2_mul_negative": "error",
        "ex3_total": "error",
    }
    assert "kernel died" in message(r, "ex2_mul")
    died = [c for c in r.cells if c.kernel_died]
    assert died and not any(c.timed_out for c in r.cells)  # not waited out as a cell timeout


def test_huge_output_is_cut_and_spoils_nothing(graded):
    r = graded.results["huge_output"]
    assert r.score == FULL
    work = r.notebook.parent
    assert all(p.stat().st_size < 1_000_000 for p in work.rglob("*") if p.is_file())
    assert (graded.out / "grades.csv").stat().st_size < 100_000


def test_nbval_markers_and_tags_are_stripped(graded):
    r = graded.results["nbval_markers_and_tags"]
    assert statuses(r)["ex1_add"] == "passed"  # the exercise was not skipped
    assert statuses(r)["ex3_total"] == "failed"  # the check's "raises-exception" did not hold
    assert any("NBVAL_SKIP" in f for f in r.flags)
    assert any("removed the tags ['raises-exception']" in f for f in r.flags)
    graded_copy = notebooks.read(r.notebook)
    assert "NBVAL" not in json.dumps(graded_copy)
    assert all("tags" not in c["metadata"] for c in graded_copy["cells"])


def test_total_time_limit_kills_the_notebook_and_keeps_earlier_results(graded):
    r = graded.results["over_total_time"]
    assert statuses(r) == {
        "ex1_add": "passed",
        "ex2_mul": "timeout",
        "ex2_mul_negative": "timeout",
        "ex3_total": "timeout",
    }
    assert f"total limit of {STUDENT_TIMEOUT} s" in message(r, "ex2_mul")
    assert r.seconds < STUDENT_TIMEOUT + 30


def test_invalid_json_is_an_invalid_row_not_a_crash(graded):
    r = graded.results["invalid_json"]
    assert set(statuses(r).values()) == {"invalid"} and r.score == 0  # it exists: not missing
    assert "not valid notebook JSON" in message(r, "ex1_add")
    assert " at at " not in message(r, "ex1_add") and "line 1, column" in message(r, "ex1_add")


def test_empty_folder_and_wrong_lab_number_are_missing_with_a_reason(graded):
    assert message(graded.results["empty_folder"], "ex1_add") == "the folder is empty"
    wrong = message(graded.results["wrong_lab_number"], "ex1_add")
    assert "no notebook for lab 00" in wrong and "01_other.ipynb" in wrong


def test_a_colab_download_name_is_graded_with_a_flag(graded):
    r = graded.results["colab_download"]
    assert r.score == FULL
    assert r.flags == [f"graded 'Copy of {NB_NAME}' (expected {NB_NAME})"]


def test_submissions_are_never_modified(graded):
    assert graded.before == graded.after
    assert "stray_file.ipynb" in graded.before
    assert any("ignored" in line and "stray_file.ipynb" in line for line in graded.log)


def test_csv_files(graded):
    with open(graded.out / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(graded.out / "summary.csv", newline="", encoding="utf-8") as fh:
        summary = list(csv.DictReader(fh))
    assert list(rows[0]) == grade.GRADES_COLUMNS
    assert list(summary[0]) == grade.SUMMARY_COLUMNS
    assert {r["status"] for r in rows} <= set(grade.STATUSES)
    assert len(rows) == 4 * len(summary) == 4 * len(graded.results)
    by_student = {s["student"]: s for s in summary}
    assert by_student["solution"] | {"flags": ""} == {
        "student": "solution",
        "lab": "00_fixture",
        "score": "7",
        "max_score": "7",
        "flags": "",
    }
    assert by_student["deleted_check"]["flags"] == "re-inserted the missing check ex2_mul_negative"
    for s in summary:
        points = sum(float(r["points"]) for r in rows if r["student"] == s["student"])
        assert points == float(s["score"])


def test_students_run_in_parallel(graded):
    sequential = sum(r.seconds for r in graded.results.values())
    assert graded.seconds < 0.8 * sequential, (graded.seconds, sequential)


# --------------------------------------------------------------------------- without running


def test_sanitise_keeps_an_untouched_lab_and_solution_unflagged():
    the_lab = grade.load_lab("0", SOLUTIONS)
    for nb in (solution(), lab(), with_outputs(solution())):
        clean, flags = grade.sanitise(nb, the_lab)
        assert flags == []
        assert [c["id"] for c in clean["cells"]] == [c["id"] for c in solution()["cells"]]
        assert "kernelspec" not in clean["metadata"]
        assert all(not c.get("outputs") for c in clean["cells"])


def test_sanitise_keeps_the_check_with_its_id_and_drops_copies():
    the_lab = grade.load_lab("00", SOLUTIONS)
    nb = solution()
    twin = copy.deepcopy(cell(nb, "ex1_add")) | {"id": "copy-1"}  # copied: same metadata
    nb["cells"].insert(2, twin)  # above the exercise, where it would fail
    nb["cells"].append(copy.deepcopy(twin) | {"id": "copy-2", "metadata": {}})  # same source
    clean, flags = grade.sanitise(nb, the_lab)
    assert [c["id"] for c in clean["cells"]] == [c["id"] for c in solution()["cells"]]
    assert flags == [
        "removed a second copy of check ex1_add (cell 2)",
        "removed a second copy of check ex1_add (cell 14)",
    ]


def test_timeout_then_xfail_and_xpass_from_plain_nbval_scores_zero():
    """nbval without the plugin (make notebooks) marks cells after a timeout xfail/xpass."""
    the_lab = grade.load_lab("00", SOLUTIONS)
    runs = {i: grade.CellRun(i, "passed") for i in range(9)}
    runs[3] = grade.CellRun(3, "failed", "KeyboardInterrupt", timed_out=True)
    for i in range(4, 9):
        runs[i] = grade.CellRun(i, "passed" if i % 2 else "skipped", xfail=True, timed_out=True)
    results = grade.score_checks(the_lab, the_lab.solution, runs, cell_timeout=5)
    assert [r.status for r in results] == ["passed", "timeout", "timeout", "timeout"]
    assert sum(r.points for r in results) == 2


def test_unknown_lab_and_missing_submissions_fail_before_anything_runs(tmp_path, capsys):
    from tools.__main__ import main

    out = tmp_path / "out"
    (tmp_path / "subs").mkdir()
    common = ["--solutions", str(SOLUTIONS), "--out", str(out)]
    assert main(["grade", "--lab", "07", "--submissions", str(tmp_path / "subs"), *common]) == 2
    err = capsys.readouterr().err
    assert "Unknown lab '07'" in err and "Expected one of: 00." in err
    assert main(["grade", "--lab", "x1", "--submissions", str(tmp_path / "subs"), *common]) == 2
    assert main(["grade", "--lab", "00", "--submissions", str(tmp_path / "nope"), *common]) == 2
    assert "does not exist" in capsys.readouterr().err
    inside = ["--out", str(tmp_path / "subs" / "grades"), "--solutions", str(SOLUTIONS)]
    assert main(["grade", "--lab", "00", "--submissions", str(tmp_path / "subs"), *inside]) == 2
    assert not out.exists() and not (tmp_path / "subs" / "grades").exists()


def test_grade_help_and_make_usage():
    help_ = subprocess.run(
        [sys.executable, "-m", "tools", "grade", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert help_.returncode == 0 and "--cell-timeout" in help_.stdout
    if shutil.which("make"):
        usage = subprocess.run(["make", "-s", "grade"], cwd=ROOT, capture_output=True, text=True)
        assert usage.returncode == 2 and "usage: make grade LAB=NN SUBMISSIONS=DIR" in usage.stdout


@pytest.mark.skipif(not shutil.which("make"), reason="no make")
def test_make_test_lab_names_one_lab_and_runs_its_share_of_make_test():
    """`make test-lab N=NN`: a number that is not a lab stops before anything runs; a lab's run
    grades that lab's generated version and its solution with the attacks, nothing else."""

    def dry_run(n: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["make", "-s", "-n", "test-lab", f"N={n}"], cwd=ROOT, capture_output=True, text=True
        )

    for wrong in ("", "99", "4", "*"):
        result = dry_run(wrong)
        assert result.returncode == 2, (wrong, result.stdout)
        assert (
            f"usage: make test-lab N=NN, a lab in solutions/ (e.g. N=04); received N='{wrong}'"
            in (result.stderr)
        )
    plan = dry_run("04").stdout
    assert '-k "04_transfer_learning"' in plan and "tests/test_notebooks.py" in plan
    assert "grade --all-solutions --lab 04 " in plan and "--profile smoke" in plan
    assert "tools check" in plan  # make check first


def test_solutions_report_of_make_notebooks_is_scored(tmp_path):
    """`make notebooks` writes a JUnit report; the grader scores the solutions from it."""
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    shutil.copy(SOLUTIONS / NB_NAME, solutions / NB_NAME)
    report = tmp_path / "nbval.xml"
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax"]
        + ["--nbval-current-env", f"--junitxml={report}", str(solutions / NB_NAME)]
        + ["-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    assert grade.verify_solutions(report, solutions) == []

    tree = ET.parse(report)
    case = next(c for c in tree.iter("testcase") if c.get("name") == "Cell 7")  # ex3_total
    ET.SubElement(case, "failure", message="AssertionError: total should be 10")
    broken = tmp_path / "broken.xml"
    tree.write(broken)
    problems = grade.verify_solutions(broken, solutions)
    assert problems and "ex3_total failed" in problems[0], problems
    assert grade.verify_solutions(tmp_path / "none.xml", solutions)[0].endswith(
        "run nbval over solutions/ with --junitxml to write it."
    )


def test_the_judge_plans_which_names_it_computes_and_which_come_from_the_kernel():
    """lab.plan_checks, on a made-up solution: course statements are the judge's own."""
    from tools.grading.lab import plan_checks

    def code(text, **course):
        return {
            "cell_type": "code",
            "metadata": {"course": course} if course else {},
            "source": text,
        }

    nb = {
        "cells": [
            code("import math\nSEED = 1", role="setup"),
            code(
                "import numpy as np\n"
                "def fit(x):\n    ### BEGIN SOLUTION\n    return x.mean()\n    ### END SOLUTION"
            ),
            code("data = np.arange(6.0)\ndata.sort()"),
            code(
                "scores = {}\nfor k in range(2):\n    scores[k] = fit(data.copy())\nlog = [1]\nfit(log)"
            ),
            code("ref = data.sum() + SEED\nplotted = print(ref)"),
            code(
                "assert fit(data) == ref / 6 - SEED / 6 and scores and log", role="check", id="c1"
            ),
        ]
    }
    plan = plan_checks(nb)["c1"]
    assert plan.remote == ("fit", "scores")  # the student's, or changed in place by their code
    # `log`, only passed to the student's `fit`, stays the judge's (no check declares it)
    assert plan.local == ("SEED", "data", "log", "ref")
    steps = [source for _, source in plan.steps]
    # the import (from an exercise cell), data and the statement changing it in place, log, ref
    assert steps == [
        "import numpy as np",
        "data = np.arange(6.0)",
        "data.sort()",
        "log = [1]",
        "ref = data.sum() + SEED",
    ]
    nb["cells"][-1]["metadata"]["course"]["kernel"] = {"log": "value: changed by fit"}
    assert plan_checks(nb)["c1"].remote == ("fit", "log", "scores")  # declared: the kernel's
