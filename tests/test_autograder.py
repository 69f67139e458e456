"""Gradescope (tools/autograder.py): the zip, and run_autograder in a simulated /autograder tree.

Uses the instructor fixture course (no TensorFlow: seconds per notebook): four checks, two of
them with hidden checks, and two written questions.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import autograder, notebooks
from tools import grading as grade

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "instructor" / "solutions"
NB = "00_fixture.ipynb"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")


def private_course(tmp_path: Path) -> Path:
    root = tmp_path / "private"
    root.mkdir()
    for package in ("tools", "common"):
        shutil.copytree(ROOT / package, root / package, ignore=IGNORED)
    shutil.copytree(FIXTURE, root / "solutions")
    for name in ("requirements.txt", "pyproject.toml", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, root)
    return root


def submission() -> dict:
    """The released lab, answered: ex1 passes its visible check but not the hidden one,
    ex2_mul_negative fails, ex3 passes; one written answer."""
    solution = notebooks.read(FIXTURE / NB)
    nb = notebooks.generate_lab(solution, f"labs/{NB}", notebooks.course_config())
    answers = {
        "ex1-code": "def add(a, b):\n    return abs(a) + b",
        "ex2-code": "def mul(a, b):\n    return abs(a * b)",
        "ex3-code": "total = 0\nfor i in range(5):\n    total += i\nprint('total', total)",
    }
    for cell in nb["cells"]:
        if cell["id"] in answers:
            cell["source"] = answers[cell["id"]]
        if cell["id"] == "q-add":
            cell["source"] = notebooks.source(cell).replace(notebooks.MD_STUB, "One + suffices.")
    return nb


@pytest.fixture(scope="module")
def gradescope(tmp_path_factory):
    """The zip unpacked as Gradescope does, a submission, run_autograder's results.json."""
    tmp = tmp_path_factory.mktemp("gradescope")
    root = private_course(tmp)
    zip_path = autograder.build("00", tmp / "upload", root)
    tree = tmp / "autograder"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tree / "source")
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        names = set(zf.namelist())
    (tree / "submission").mkdir()
    (tree / "submission" / NB).write_text(json.dumps(submission()))
    env = dict(os.environ, PYTHONPATH=str(tree / "source"), LAB_PROFILE="smoke")
    done = subprocess.run(
        [sys.executable, "-m", "tools.autograder", "run", "--root", str(tree)],
        cwd=tree / "source",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tree / "results" / "results.json").read_text())
    return dict(zip=zip_path, names=names, modes=modes, tree=tree, root=root, results=results)


def test_zip_holds_what_gradescope_expects(gradescope):
    names = gradescope["names"]
    assert gradescope["zip"].name == "autograder-00_fixture.zip"
    for name in (
        "setup.sh",
        "run_autograder",
        "autograder.json",
        "requirements.txt",
        "pyproject.toml",
        f"solutions/{NB}",  # the canonical cells, hidden checks included
        "tools/grading/pipeline.py",
        "tools/autograder.py",
        "common/checks.py",
    ):
        assert name in names, name
    assert not [n for n in names if n.startswith("solutions/") and n != f"solutions/{NB}"]
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "labs/"))]
    for script in ("setup.sh", "run_autograder"):
        assert gradescope["modes"][script] & stat.S_IXUSR, script
    source = gradescope["tree"] / "source"
    setup = (source / "setup.sh").read_text()
    assert (
        "bubblewrap" in setup
        and "pip install --quiet -r /autograder/source/requirements.txt" in setup
    )
    assert "python -m tools.autograder run" in (source / "run_autograder").read_text()
    assert (source / "requirements.txt").read_text() == (ROOT / "requirements.txt").read_text()


def test_results_follow_gradescope_s_format(gradescope):
    results = gradescope["results"]
    assert autograder.validate(results) == []
    assert set(results) <= set(autograder.TOP_FIELDS)
    for test in results["tests"]:
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert set(test) <= set(autograder.TEST_FIELDS)
    # the validator is not vacuous
    broken = json.loads(json.dumps(results))
    broken["tests"][0]["visibility"] = "students"
    broken["tests"][1]["score"] = "2"
    broken["tests"][2]["points"] = 1
    assert len(autograder.validate(broken)) == 3


def test_one_test_per_check_with_the_local_grader_s_points(gradescope, tmp_path):
    results = gradescope["results"]
    subs = tmp_path / "subs" / "someone"
    subs.mkdir(parents=True)
    shutil.copy(gradescope["tree"] / "submission" / NB, subs / NB)
    (local,) = grade.grade(
        "00",
        tmp_path / "subs",
        tmp_path / "out",
        solutions=gradescope["root"] / "solutions",
        jobs=1,
        profile="smoke",
        log=lambda msg: None,
    )
    checks = [t for t in results["tests"] if "manually graded" not in t["tags"]]
    assert [t["extra_data"]["check"] for t in checks] == [c.check for c in local.checks]
    assert [(t["score"], t["max_score"]) for t in checks] == [
        (c.points, c.max_points) for c in local.checks
    ]
    # ex1 fails a hidden check, ex2_mul_negative fails: 1 (ex2_mul) + 3 (ex3_total)
    assert results["score"] == local.score == 4
    by = {t["extra_data"]["check"]: t for t in checks}
    assert by["ex1_add"]["name"] == "ex1_add: Exercise 1 — add"
    assert (by["ex1_add"]["status"], by["ex1_add"]["visibility"]) == ("failed", "after_published")
    assert "hidden: add(-1, 1) should be" in by["ex1_add"]["output"]
    assert (by["ex2_mul_negative"]["visibility"], by["ex2_mul_negative"]["status"]) == (
        "visible",
        "failed",
    )
    assert by["ex3_total"]["status"] == "passed" and by["ex3_total"]["score"] == 3


def test_written_answers_are_listed_as_manually_graded(gradescope):
    manual = [t for t in gradescope["results"]["tests"] if "manually graded" in t["tags"]]
    assert [t["extra_data"]["question"] for t in manual] == ["why_add", "loop_sum"]
    assert all((t["score"], t["max_score"]) == (0, 0) for t in manual)
    assert "marked by hand" in manual[0]["name"] and "2 points" in manual[0]["name"]


def test_without_user_namespaces_it_grades_without_the_sandbox_and_says_so(
    gradescope, tmp_path, monkeypatch
):
    from tools.grading import sandbox

    tree = tmp_path / "autograder"
    shutil.copytree(gradescope["tree"] / "submission", tree / "submission")
    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    results = autograder.run(tree, source=gradescope["tree"] / "source", log=lambda msg: None)
    assert results["extra_data"]["sandboxed"] is False
    assert "without the bubblewrap sandbox" in results["output"]
    assert [t["score"] for t in results["tests"]] == [
        t["score"] for t in gradescope["results"]["tests"]
    ]
    assert json.loads((tree / "results" / "results.json").read_text()) == results


def test_no_notebook_submitted_scores_zero_with_a_reason(gradescope, tmp_path):
    tree = tmp_path / "autograder"
    (tree / "submission").mkdir(parents=True)
    (tree / "submission" / "notes.txt").write_text("forgot the notebook")
    results = autograder.run(tree, source=gradescope["tree"] / "source", log=lambda msg: None)
    assert results["score"] == 0 and autograder.validate(results) == []
    assert "no .ipynb file submitted" in results["tests"][0]["output"]
