"""The README's instructor examples match the notebooks (checks, points, messages, layout)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tools import notebooks, written
from tools.grading.collect import read_submission
from tools.grading.lab import load_lab
from tools.grading.report import STATUSES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def csv_after(marker: str) -> list[dict[str, str]]:
    start = README.index(marker)
    block = README[README.index("```csv\n", start) + 7 :]
    return list(csv.DictReader(io.StringIO(block[: block.index("```")])))


GRADES = csv_after("`OUT/grades.csv` has one row per student and check")
SUMMARY = csv_after("`OUT/summary.csv` has one row per student.")


def check_source(lab: str, check: str) -> str:
    nb = notebooks.read(ROOT / "solutions" / f"{lab}.ipynb")
    return next(
        notebooks.source(c)
        for c in nb["cells"]
        if notebooks.role(c) == "check" and notebooks.course_meta(c).get("id") == check
    )


def test_grades_example_names_real_checks_with_their_points():
    assert GRADES, "no grades.csv example found"
    for row in GRADES:
        lab = load_lab(row["lab"].split("_")[0])
        assert row["lab"] == lab.stem
        points = {c.id: c.points for c in lab.checks}
        assert row["check"] in points, f"{row['check']} is not a check of {lab.stem}"
        assert float(row["max_points"]) == points[row["check"]], row
        assert row["status"] in STATUSES
        assert float(row["points"]) == (points[row["check"]] if row["status"] == "passed" else 0)


def test_a_student_with_every_row_lists_every_check_in_order():
    lab = load_lab(GRADES[0]["lab"].split("_")[0])
    alice = [r["check"] for r in GRADES if r["student"] == "alice"]
    assert alice == [c.id for c in lab.checks]
    stated = re.search(r"\(lab (\d\d): (\w+) checks, (\d+) points;", README)
    assert stated, "the README says how many checks and points the example lab has"
    assert stated.group(1) == lab.number
    assert written.num(lab.max_score) == stated.group(3)
    words = "zero one two three four five six seven eight nine ten eleven twelve".split()
    assert words.index(stated.group(2)) == len(lab.checks)


def test_failure_messages_are_what_the_checks_say():
    for row in GRADES:
        found = re.match(r"CheckFailure: (.+?); expected: ", row["message"])
        if found:
            assert found.group(1) in check_source(row["lab"], row["check"]), row["message"]


def test_invalid_json_message_is_the_grader_s(tmp_path):
    messages = {r["message"] for r in GRADES if r["status"] == "invalid"}
    assert len(messages) == 1
    path = tmp_path / "00_tensorflow_keras.ipynb"
    path.write_text('{"cells":\n]')
    nb, reason = read_submission(path)
    assert nb is None and messages == {reason}
    flags = {r["flags"] for r in SUMMARY if r["flags"].startswith("invalid")}
    assert flags == {f"invalid notebook: {reason}"}


def test_summary_example_adds_up():
    by_student: dict[str, list[dict[str, str]]] = {}
    for row in GRADES:
        by_student.setdefault(row["student"], []).append(row)
    for row in SUMMARY:
        lab = load_lab(row["lab"].split("_")[0])
        assert float(row["max_score"]) == lab.max_score, row
        lost = sum(
            float(r["max_points"]) - float(r["points"]) for r in by_student.get(row["student"], [])
        )
        if float(row["score"]) > 0:
            assert lab.max_score - float(row["score"]) == lost, row
        for flag in filter(None, row["flags"].split("; ")):
            ids = re.findall(r"check (\w+)", flag)
            assert all(i in {c.id for c in lab.checks} for i in ids), flag


def test_semester_example_uses_a_lab_with_a_written_question():
    section = README[README.index("### A semester, step by step") : README.index("### Gradescope")]
    stated = re.search(
        r"uses \*\*lab (\d\d)\*\* \((\d+) points of checks and one written question worth "
        r"(\d+) points\)",
        section,
    )
    assert stated, "the semester section names its example lab"
    lab = load_lab(stated.group(1))
    questions = written.lab_questions(lab.stem)
    assert len(questions) == 1 and written.num(questions[0].points) == stated.group(3)
    assert written.num(lab.max_score) == stated.group(2)
    merged = re.findall(r"MANUAL=grades/(\d\d)/written\.csv", section)
    assert merged and set(merged) == {lab.number}
    line = re.search(rf"`alice,{lab.stem},([^`]+)`", README)
    assert line, "the merged summary example"
    score, max_score, flags, ws, wmax, total, max_total = line.group(1).split(",")
    assert (float(max_score), float(wmax)) == (lab.max_score, questions[0].points)
    assert float(total) == float(score) + float(ws) and float(max_total) == lab.max_score + 2


def test_one_submissions_layout_throughout():
    """submissions/NN/<student>/…: every SUBMISSIONS= and every example path says so."""
    values = re.findall(r"SUBMISSIONS=(\S+)", README)
    assert values
    for value in values:
        if value in ("DIR", "DIR/<student>/NN_*.ipynb"):
            continue
        assert re.fullmatch(r"submissions/\d\d", value.strip("`")), value
    for path in re.findall(r"`(submissions/[^`]*)`", README):
        assert re.match(r"submissions/\d\d(/|$)", path), path
    tree = re.search(r"```\n(submissions/.*?)```", README, re.DOTALL)
    assert tree and tree.group(1).startswith("submissions/00/\n")


@pytest.mark.parametrize("word", ["Ten hands-on", "Python 3.10"])
def test_no_stale_counts(word):
    assert word not in README
