"""The gradebook (tools/gradebook.py): every lab's summary.csv in one Canvas/Moodle CSV."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tools import gradebook, written

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "tests" / "fixtures" / "instructor" / "solutions"
SUMMARY = ["student", "lab", "score", "max_score", "flags"]


def summary(folder: Path, lab: str, scores: dict[str, tuple], merged: bool = False) -> None:
    folder.mkdir(parents=True)
    columns = SUMMARY + (written.MERGED_COLUMNS if merged else [])
    rows = []
    for student, values in scores.items():
        row = dict(student=student, lab=lab, score=values[0], max_score=values[1], flags="")
        if merged:
            row |= dict(
                written_score=values[2], written_max_score="3", total=values[3], max_total="10"
            )
        rows.append(row)
    written.write_csv(folder / "summary.csv", columns, rows)


@pytest.fixture
def grades(tmp_path) -> Path:
    g = tmp_path / "grades"
    summary(
        g / "00",
        "00_fixture",
        {"alice": ("5", "7", "3", "8"), "bob": ("7", "7", "0", "7")},
        merged=True,
    )
    summary(g / "01", "01_other", {"alice": ("4", "4"), "carol": ("1.5", "4")})
    return g


def test_one_row_per_student_one_column_per_lab_and_a_total(grades):
    columns, rows, notes = gradebook.build(grades, solutions=SOLUTIONS)
    assert columns == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "00_fixture",
        "01_other",
        "Total",
    ]
    table = {r["Student"]: (r["00_fixture"], r["01_other"], r["Total"]) for r in rows}
    # lab 00's written marks were merged: its `total` counts, not the automatic `score`
    assert rows[0]["Student"] == gradebook.POINTS_POSSIBLE
    assert table == {
        gradebook.POINTS_POSSIBLE: ("10", "4", "14"),
        "alice": ("8", "4", "12"),
        "bob": ("7", "0", "7"),
        "carol": ("0", "1.5", "1.5"),
    }
    assert {r["Student"]: r["SIS Login ID"] for r in rows[1:]} == {
        "alice": "alice",
        "bob": "bob",
        "carol": "carol",
    }
    assert {(n["student"], n["lab"]) for n in notes if n["note"].startswith("no submission")} == {
        ("bob", "01_other"),
        ("carol", "00_fixture"),
    }


def test_unmerged_written_marks_are_noted(tmp_path):
    summary(tmp_path / "g" / "00", "00_fixture", {"alice": ("5", "7")})
    _, rows, notes = gradebook.build(tmp_path / "g", solutions=SOLUTIONS)
    # 7 points of checks and the lab's 3 points of written questions, not yet marked
    assert (rows[0]["00_fixture"], rows[1]["00_fixture"]) == ("10", "5")
    assert notes == [
        {
            "student": "alice",
            "lab": "00_fixture",
            "note": "written answers not merged yet (make grade … MANUAL=): checks only",
        }
    ]


def test_roster_fills_lms_identifiers_and_adds_absent_students(grades, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "student,Student,ID,SIS User ID,SIS Login ID,Section\n"
        'alice,"Liddell, Alice",101,S-1,aliddell,A\n'
        'dave,"Bowman, Dave",104,S-4,dbowman,B\n'
    )
    _, rows, notes = gradebook.build(grades, roster, solutions=SOLUTIONS)
    by = {r["SIS Login ID"]: r for r in rows}
    assert by["aliddell"]["Student"] == "Liddell, Alice" and by["aliddell"]["ID"] == "101"
    assert by["aliddell"]["Total"] == "12"
    assert (by["dbowman"]["00_fixture"], by["dbowman"]["Total"]) == ("0", "0")
    assert {"student": "bob", "lab": "", "note": "graded but not in the roster"} in notes


def test_cli_writes_the_csv_and_the_notes(grades):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools",
            "gradebook",
            "--grades",
            str(grades),
            "--solutions",
            str(SOLUTIONS),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    with (grades / "gradebook.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["Student"] for r in rows] == [gradebook.POINTS_POSSIBLE, "alice", "bob", "carol"]
    assert "note: carol 00_fixture: no submission graded: 0" in done.stdout
    assert (grades / "gradebook.notes.csv").read_text().count("no submission") == 2


def test_errors_name_the_problem(tmp_path, grades):
    with pytest.raises(gradebook.GradebookError, match="no summary.csv"):
        gradebook.build(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)
    with pytest.raises(gradebook.GradebookError, match="must be a folder"):
        gradebook.build(tmp_path / "nowhere")
    summary(grades / "00-again", "00_fixture", {"eve": ("1", "7")})
    with pytest.raises(gradebook.GradebookError, match="lab 00_fixture is graded twice"):
        gradebook.build(grades, solutions=SOLUTIONS)


def test_points_possible_row_is_canvas_s_and_optional(grades):
    """Canvas's export puts each assignment's maximum in a '    Points Possible' row, first."""
    _, rows, _ = gradebook.build(grades, solutions=SOLUTIONS)
    top = rows[0]
    assert top["Student"] == "    Points Possible"
    assert [top[k] for k in ("ID", "SIS User ID", "SIS Login ID", "Section")] == [""] * 4
    assert (top["00_fixture"], top["01_other"], top["Total"]) == ("10", "4", "14")
    _, rows, _ = gradebook.build(grades, solutions=SOLUTIONS, points_possible=False)
    assert [r["Student"] for r in rows] == ["alice", "bob", "carol"]
