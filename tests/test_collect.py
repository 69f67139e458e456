"""Collecting submissions (tools/grading/collect.py): the SUBMISSIONS layout is checked first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools.grading.collect import student_folders
from tools.grading.lab import GradeError

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "tests" / "fixtures" / "grading" / "solutions"


def hand_in(root: Path, *paths: str) -> Path:
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}")
    return root


@pytest.mark.parametrize(
    "layout",
    [
        ("00/alice/00_fixture.ipynb", "00/bob/00_fixture.ipynb", "01/alice/01_x.ipynb"),
        ("00/alice/00_fixture.ipynb",),  # one student so far, in a lab-named folder
        ("lab00/alice/00_fixture.ipynb", "lab00/bob/00_fixture.ipynb"),
    ],
    ids=["labs-of-students", "lab-folder-one-student", "named-lab-folder"],
)
def test_submissions_one_level_too_high_names_the_right_folder(tmp_path, layout):
    root = hand_in(tmp_path / "submissions", *layout)
    lab_folder = root / layout[0].split("/")[0]
    with pytest.raises(GradeError) as err:
        student_folders(root)
    message = str(err.value)
    assert "one level too high" in message
    assert f"pass SUBMISSIONS={lab_folder} " in message
    assert "alice" in message


def test_the_documented_layout_and_a_student_s_own_subfolder_are_fine(tmp_path):
    root = hand_in(
        tmp_path / "submissions",
        "alice/00_fixture.ipynb",
        "bob/Copy of 00_fixture.ipynb",
        "carol/lab/00_fixture.ipynb",  # one subfolder: carol's own zip layout, graded (flagged)
        "dan/notes.txt",
    )
    (root / "stray.ipynb").write_text("{}")
    folders, stray = student_folders(root)
    assert [p.name for p in folders] == ["alice", "bob", "carol", "dan"]
    assert [p.name for p in stray] == ["stray.ipynb"]


def test_the_folder_named_is_the_lab_s(tmp_path):
    root = hand_in(tmp_path / "s", "00/a/00_x.ipynb", "00/b/00_x.ipynb", "01/a/01_x.ipynb")
    with pytest.raises(GradeError, match=f"pass SUBMISSIONS={root / '01'} "):
        student_folders(root, "1")
    with pytest.raises(GradeError, match=f"pass SUBMISSIONS={root / '00'} "):
        student_folders(root, "07")  # no folder for that lab: the first one


def test_grade_stops_with_exit_2_before_running_anything(tmp_path):
    root = hand_in(
        tmp_path / "submissions",
        "00/alice/00_fixture.ipynb",
        "00/bob/00_fixture.ipynb",
        "01/alice/01_other.ipynb",
        "01/bob/01_other.ipynb",
        "03/bob/03_other.ipynb",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools",
            "grade",
            "--lab",
            "00",
            "--submissions",
            str(root),
            "--out",
            str(tmp_path / "out"),
            "--solutions",
            str(SOLUTIONS),
            "--no-sandbox",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert f"pass SUBMISSIONS={root / '00'} " in done.stderr
    assert not (tmp_path / "out" / "summary.csv").exists()
