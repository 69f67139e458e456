"""Written answers (tools/written.py): collected from graded notebooks, marks merged back.

Fast: the graded work notebooks and summary.csv are built here by hand from the fixture course
in tests/fixtures/instructor/ (two written questions: why_add, 2 points; loop_sum, 1 point).
"""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import notebooks, written

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "tests" / "fixtures" / "instructor" / "solutions"
LAB = "00_fixture"
COURSE = notebooks.Course("teacher/private-course", "main", "teacher/course-2026")


def solution() -> dict:
    return notebooks.read(SOLUTIONS / f"{LAB}.ipynb")


def lab() -> dict:
    return notebooks.generate_lab(solution(), f"labs/{LAB}.ipynb", COURSE)


def answer(nb: dict, cell_id: str, text: str) -> dict:
    cell = next(c for c in nb["cells"] if c["id"] == cell_id)
    cell["source"] = notebooks.source(cell).replace(notebooks.MD_STUB, text)
    return nb


def as_graded(nb: dict) -> dict:
    """What the grader keeps of a student's markdown cell: its id and text, no metadata."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["metadata"] = {}
    return nb


def make_out(tmp_path: Path, students: dict[str, dict | None]) -> Path:
    """OUT as `make grade` leaves it: summary.csv and work/<student>/<lab>.ipynb."""
    out = tmp_path / "out"
    rows = []
    for student, nb in students.items():
        if nb is not None:
            (out / "work" / student).mkdir(parents=True)
            (out / "work" / student / f"{LAB}.ipynb").write_text(json.dumps(nb))
        rows.append({"student": student, "lab": LAB, "score": "5", "max_score": "7", "flags": ""})
    out.mkdir(exist_ok=True)
    written.write_csv(out / "summary.csv", ["student", "lab", "score", "max_score", "flags"], rows)
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def set_points(path: Path, marks: dict[tuple[str, str], str]) -> None:
    data = rows(path)
    for row in data:
        key = (row["student"], row["question"])
        if key in marks:
            row["points"] = marks[key]
    written.write_csv(path, written.WRITTEN_COLUMNS, data)


# --------------------------------------------------------------------------- questions, answers


def test_questions_come_from_cell_metadata():
    qs = written.questions(solution())
    assert [(q.id, q.points, q.cell_id) for q in qs] == [
        ("why_add", 2.0, "q-add"),
        ("loop_sum", 1.0, "q-loop"),
    ]
    assert qs[0].prompt.startswith("### Question — why does `add` need no loop?")
    assert notebooks.MD_BEGIN not in qs[0].prompt


def test_answers_found_by_metadata_by_id_and_by_text():
    nb = answer(lab(), "q-add", "Because + already adds.\nNo loop needed.")
    expected = {"why_add": "Because + already adds.\nNo loop needed.", "loop_sum": ""}
    assert written.extract_answers(nb, solution()) == expected  # metadata
    assert written.extract_answers(as_graded(nb), solution()) == expected  # cell id
    renamed = as_graded(nb)
    for i, cell in enumerate(renamed["cells"]):
        cell["id"] = f"student-{i}"  # an editor that drops ids: the question text still matches
    assert written.extract_answers(renamed, solution()) == expected


def test_answer_in_rewrapped_cell_and_in_added_cells():
    nb = lab()
    cell = next(c for c in nb["cells"] if c["id"] == "q-add")
    # an editor re-wrapped the question, and the student wrote below the stub, in a new cell too
    cell["source"] = notebooks.source(cell).replace("\n\nAnswer", "\nAnswer")
    index = nb["cells"].index(cell)
    nb["cells"].insert(
        index + 1,
        {"cell_type": "markdown", "id": "mine", "metadata": {}, "source": "See **here**."},
    )
    got = written.extract_answers(nb, solution())
    assert got["why_add"] == "See **here**."


def test_untouched_lab_has_no_answers():
    assert written.extract_answers(lab(), solution()) == {"why_add": "", "loop_sum": ""}
    assert written.extract_answers({"cells": []}, solution()) == {"why_add": "", "loop_sum": ""}


# --------------------------------------------------------------------------- collect


def test_collect_writes_one_row_per_student_and_question(tmp_path):
    alice = as_graded(answer(answer(lab(), "q-add", "It is one operation."), "q-loop", "0+1+2+3+4"))
    out = make_out(tmp_path, {"alice": alice, "bob": as_graded(lab()), "carol": None})
    path = written.collect(out, SOLUTIONS)
    assert path == out / "written.csv"
    got = rows(path)
    assert list(got[0]) == written.WRITTEN_COLUMNS
    assert [
        (r["student"], r["question"], r["answer"], r["points"], r["max_points"]) for r in got
    ] == [
        ("alice", "why_add", "It is one operation.", "", "2"),
        ("alice", "loop_sum", "0+1+2+3+4", "", "1"),
        ("bob", "why_add", "", "0", "2"),  # unanswered: nothing to mark
        ("bob", "loop_sum", "", "0", "1"),
        ("carol", "why_add", "", "0", "2"),  # no notebook at all
        ("carol", "loop_sum", "", "0", "1"),
    ]


def test_collect_again_keeps_the_marks_of_unchanged_answers(tmp_path):
    alice = as_graded(answer(answer(lab(), "q-add", "One operation."), "q-loop", "10"))
    out = make_out(tmp_path, {"alice": alice})
    path = written.collect(out, SOLUTIONS)
    set_points(path, {("alice", "why_add"): "1.5", ("alice", "loop_sum"): "1"})
    # alice resubmits with a new answer to loop_sum; grading again collects again
    changed = as_graded(answer(answer(lab(), "q-add", "One operation."), "q-loop", "the sum 10"))
    (out / "work" / "alice" / f"{LAB}.ipynb").write_text(json.dumps(changed))
    written.collect(out, SOLUTIONS)
    assert {r["question"]: r["points"] for r in rows(path)} == {"why_add": "1.5", "loop_sum": ""}


# --------------------------------------------------------------------------- merge


def marked_out(tmp_path, marks: dict[tuple[str, str], str]) -> Path:
    alice = as_graded(answer(answer(lab(), "q-add", "One operation."), "q-loop", "10"))
    bob = as_graded(answer(lab(), "q-add", "Because."))
    out = make_out(tmp_path, {"alice": alice, "bob": bob})
    set_points(written.collect(out, SOLUTIONS), marks)
    return out


FULL_MARKS = {("alice", "why_add"): "2", ("alice", "loop_sum"): "0.5", ("bob", "why_add"): "1"}


def test_merge_adds_written_columns_to_the_summary(tmp_path):
    out = marked_out(tmp_path, FULL_MARKS)
    written.merge(out, out / "written.csv", SOLUTIONS)
    summary = rows(out / "summary.csv")
    assert list(summary[0]) == [
        "student",
        "lab",
        "score",
        "max_score",
        "flags",
        *written.MERGED_COLUMNS,
    ]
    by = {r["student"]: r for r in summary}
    assert (by["alice"]["score"], by["alice"]["written_score"], by["alice"]["total"]) == (
        "5",
        "2.5",
        "7.5",
    )
    assert (by["bob"]["written_score"], by["bob"]["total"], by["bob"]["max_total"]) == (
        "1",
        "6",
        "10",
    )
    assert by["bob"]["written_max_score"] == "3"
    written.merge(out, out / "written.csv", SOLUTIONS)  # merging twice changes nothing
    assert rows(out / "summary.csv") == summary


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {("alice", "why_add"): ""},
            "line 2 (student 'alice', lab '00_fixture', question 'why_add'): points is empty; expected a number from 0 to 2",
        ),
        (
            {("alice", "why_add"): "3"},
            "question 'why_add'): points is 3; expected a number from 0 to 2",
        ),
        (
            {("alice", "loop_sum"): "-1"},
            "line 3 (student 'alice', lab '00_fixture', question 'loop_sum'): points is -1; expected a number from 0 to 1",
        ),
        (
            {("bob", "why_add"): "two"},
            "question 'why_add'): points is 'two'; expected a number from 0 to 2",
        ),
        ({("bob", "why_add"): "nan"}, "points is nan; expected a number from 0 to 2"),
    ],
    ids=["missing", "too-high", "negative", "not-a-number", "nan"],
)
def test_bad_mark_is_an_error_naming_the_row(tmp_path, change, expected):
    out = marked_out(tmp_path, FULL_MARKS | change)
    before = (out / "summary.csv").read_text()
    with pytest.raises(written.MarksError) as err:
        written.merge(out, out / "written.csv", SOLUTIONS)
    assert expected in str(err.value)
    assert "nothing merged" in str(err.value)
    assert (out / "summary.csv").read_text() == before


def test_rows_that_do_not_belong_are_errors(tmp_path):
    out = marked_out(tmp_path, FULL_MARKS)
    path = out / "written.csv"
    data = rows(path)
    data.append(dict(data[0], student="mallory"))  # not graded
    data.append(dict(data[0], question="why_mul"))  # no such question
    data.append(dict(data[0]))  # marked twice
    del data[1]  # alice loop_sum: no mark at all
    written.write_csv(path, written.WRITTEN_COLUMNS, data)
    with pytest.raises(written.MarksError) as err:
        written.merge(out, path, SOLUTIONS)
    message = str(err.value)
    assert "student 'mallory'" in message and "no row for this lab in summary.csv" in message
    assert "question 'why_mul'): unknown question; expected one of: why_add, loop_sum" in message
    assert "marked twice" in message
    assert "no row for student 'alice', lab '00_fixture', question 'loop_sum'" in message


def test_cli_collects_and_merges_and_reports_errors(tmp_path):
    out = marked_out(tmp_path, {})
    cmd = [
        sys.executable,
        "-m",
        "tools",
        "written",
        "--out",
        str(out),
        "--solutions",
        str(SOLUTIONS),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "4 written answer(s), 3 to mark by hand" in done.stdout
    failed = subprocess.run(
        [*cmd, "--merge", str(out / "written.csv")], cwd=ROOT, capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert "points is empty; expected a number from 0 to 2" in failed.stderr
    set_points(out / "written.csv", FULL_MARKS)
    merged = subprocess.run(
        [*cmd, "--merge", str(out / "written.csv")], cwd=ROOT, capture_output=True, text=True
    )
    assert merged.returncode == 0, merged.stderr
    assert rows(out / "summary.csv")[0]["total"] == "7.5"


# --------------------------------------------------------------------------- marks are never lost


def regrade(out: Path, **changed: dict) -> None:
    """What grading the lab again does to OUT: new work copies, summary.csv without marks."""
    for student, nb in changed.items():
        (out / "work" / student / f"{LAB}.ipynb").write_text(json.dumps(nb))
    data = rows(out / "summary.csv")
    written.write_csv(out / "summary.csv", ["student", "lab", "score", "max_score", "flags"], data)


def totals(out: Path) -> dict[str, tuple[str, str]]:
    return {r["student"]: (r["written_score"], r["total"]) for r in rows(out / "summary.csv")}


def test_regrade_keeps_the_merged_marks_in_the_summary(tmp_path):
    out = marked_out(tmp_path, FULL_MARKS)
    written.merge(out, out / "written.csv", SOLUTIONS)
    assert totals(out) == {"alice": ("2.5", "7.5"), "bob": ("1", "6")}
    regrade(out)  # `make grade` again: summary.csv rewritten without the written columns
    assert "total" not in rows(out / "summary.csv")[0]
    written.collect(out, SOLUTIONS)  # …which `make grade` runs next
    assert totals(out) == {"alice": ("2.5", "7.5"), "bob": ("1", "6")}
    assert {(r["student"], r["question"]): r["points"] for r in rows(out / "written.csv")} == {
        ("alice", "why_add"): "2",
        ("alice", "loop_sum"): "0.5",
        ("bob", "why_add"): "1",
        ("bob", "loop_sum"): "0",
    }


def test_marks_merged_from_a_copy_are_kept_shown_and_counted(tmp_path):
    from tools import feedback, gradebook

    out = marked_out(tmp_path, {})
    copy_path = tmp_path / "marked-by-ta.csv"  # the instructor marks a copy, elsewhere
    copy_path.write_bytes((out / "written.csv").read_bytes())
    set_points(copy_path, FULL_MARKS)
    written.merge(out, copy_path, SOLUTIONS)
    copy_path.unlink()  # the copy is gone: OUT holds the marks now
    assert (out / written.MARKS_FILE).exists()
    assert {(r["student"], r["question"]): r["points"] for r in rows(out / "written.csv")}[
        ("alice", "why_add")
    ] == "2"
    regrade(out)  # summary.csv without the written columns, `written` not run yet
    # the gradebook re-applies the merged marks by itself
    _, book, notes = gradebook.build(tmp_path, solutions=SOLUTIONS)
    assert {r["Student"]: r[LAB] for r in book[1:]} == {"alice": "7.5", "bob": "6"}
    assert notes == []
    # and so do the feedback pages, with no --marks
    feedback.write_feedback(out, solutions=SOLUTIONS)
    page = (out / "feedback" / "alice.html").read_text()
    assert "not marked yet" not in page and "2.5 / 3" in page and "7.5 / 10" in page
    written.collect(out, SOLUTIONS)
    assert totals(out) == {"alice": ("2.5", "7.5"), "bob": ("1", "6")}


def test_a_changed_answer_drops_only_its_own_mark(tmp_path):
    from tools import gradebook

    out = marked_out(tmp_path, FULL_MARKS)
    written.merge(out, out / "written.csv", SOLUTIONS)
    new = as_graded(answer(answer(lab(), "q-add", "One operation."), "q-loop", "it sums 0..4"))
    regrade(out, alice=new)  # alice resubmitted a new loop_sum answer
    written.collect(out, SOLUTIONS)
    got = {(r["student"], r["question"]): r["points"] for r in rows(out / "written.csv")}
    assert got[("alice", "why_add")] == "2" and got[("alice", "loop_sum")] == ""
    assert totals(out) == {"alice": ("", ""), "bob": ("1", "6")}
    _, book, notes = gradebook.build(tmp_path, solutions=SOLUTIONS)
    assert {r["Student"]: r[LAB] for r in book[1:]} == {"alice": "5", "bob": "6"}
    assert [n["student"] for n in notes] == ["alice"] and "not marked" in notes[0]["note"]
    # an old copy that marked the old answer is refused; the new file merges
    stale = tmp_path / "old.csv"
    written.write_csv(
        stale,
        written.WRITTEN_COLUMNS,
        [
            dict(
                r,
                answer="10"
                if r["question"] == "loop_sum" and r["student"] == "alice"
                else r["answer"],
                points=r["points"] or "1",
            )
            for r in rows(out / "written.csv")
        ],
    )
    with pytest.raises(written.MarksError, match="not the student's current answer"):
        written.merge(out, stale, SOLUTIONS)
    set_points(out / "written.csv", {("alice", "loop_sum"): "1"})
    written.merge(out, out / "written.csv", SOLUTIONS)
    assert totals(out) == {"alice": ("3", "8"), "bob": ("1", "6")}


def test_semicolons_get_a_hint_and_a_decimal_comma_is_accepted(tmp_path):
    out = marked_out(tmp_path, FULL_MARKS | {("alice", "loop_sum"): "0,5"})
    written.merge(out, out / "written.csv", SOLUTIONS)  # "0,5" quoted in a comma CSV
    assert totals(out)["alice"] == ("2.5", "7.5")
    semi = tmp_path / "semi.csv"
    text = (out / "written.csv").read_text()
    semi.write_text(text.replace(",", ";"))
    with pytest.raises(written.MarksError, match=r"separated by semicolons .*expected commas"):
        written.merge(out, semi, SOLUTIONS)
    set_points(out / "written.csv", {("bob", "why_add"): "1,2,3"})
    with pytest.raises(written.MarksError, match=r"points is '1,2,3'.*1\.5 or 1,5"):
        written.merge(out, out / "written.csv", SOLUTIONS)


def test_a_mark_edited_after_the_merge_survives_a_regrade_until_merged(tmp_path):
    out = marked_out(tmp_path, FULL_MARKS)
    written.merge(out, out / "written.csv", SOLUTIONS)
    set_points(out / "written.csv", {("bob", "why_add"): "2"})  # changed, not merged yet
    regrade(out)
    written.collect(out, SOLUTIONS)
    got = {(r["student"], r["question"]): r["points"] for r in rows(out / "written.csv")}
    assert got[("bob", "why_add")] == "2"  # the working copy is not overwritten
    assert totals(out)["bob"] == ("1", "6")  # the summary holds what was merged
    written.merge(out, out / "written.csv", SOLUTIONS)
    assert totals(out)["bob"] == ("2", "7")
