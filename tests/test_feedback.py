"""Feedback pages (tools/feedback.py): one self-contained HTML file per student, escaped."""

from __future__ import annotations

import re
from pathlib import Path

from tools import feedback, written

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "tests" / "fixtures" / "instructor" / "solutions"
LAB = "00_fixture"
GRADES = ["student", "lab", "check", "points", "max_points", "status", "message"]
SUMMARY = ["student", "lab", "score", "max_score", "flags"]
EVIL = "<script>alert('x')</script>"


def make_out(tmp_path: Path, points: dict[str, str]) -> Path:
    """OUT after `make grade` for two students; alice's answer and bob's message carry HTML."""
    out = tmp_path / "out"
    out.mkdir()
    written.write_csv(
        out / "grades.csv",
        GRADES,
        [
            dict(
                student="alice",
                lab=LAB,
                check="ex1_add",
                points="2",
                max_points="2",
                status="passed",
                message="",
            ),
            dict(
                student="alice",
                lab=LAB,
                check="ex2_mul",
                points="0",
                max_points="1",
                status="failed",
                message="CheckFailure: mul(2, 3); expected: 6; received: 5",
            ),
            dict(
                student="bob",
                lab=LAB,
                check="ex1_add",
                points="0",
                max_points="2",
                status="error",
                message=f"NameError: name '{EVIL}' is not defined",
            ),
            dict(
                student="bob",
                lab=LAB,
                check="ex2_mul",
                points="0",
                max_points="1",
                status="timeout",
                message="not graded: code cell 3 timed out",
            ),
        ],
    )
    written.write_csv(
        out / "summary.csv",
        SUMMARY,
        [
            dict(
                student="alice",
                lab=LAB,
                score="2",
                max_score="3",
                flags="check ex2_mul was edited: restored the original; removed the tags ['x'] from cell 4",
            ),
            dict(student="bob", lab=LAB, score="0", max_score="3", flags=""),
        ],
    )
    written.write_csv(
        out / "written.csv",
        written.WRITTEN_COLUMNS,
        [
            dict(
                student="alice",
                lab=LAB,
                question="why_add",
                answer=f"It is one op {EVIL}\nline two",
                points=points.get("alice_add", ""),
                max_points="2",
            ),
            dict(
                student="alice",
                lab=LAB,
                question="loop_sum",
                answer="10",
                points=points.get("alice_loop", ""),
                max_points="1",
            ),
            dict(student="bob", lab=LAB, question="why_add", answer="", points="0", max_points="2"),
            dict(
                student="bob", lab=LAB, question="loop_sum", answer="", points="0", max_points="1"
            ),
        ],
    )
    return out


def test_one_self_contained_page_per_student(tmp_path):
    out = make_out(tmp_path, {})
    files = feedback.write_feedback(out, solutions=SOLUTIONS)
    assert sorted(p.name for p in files) == ["alice.html", "bob.html"]
    for path in files:
        html = path.read_text(encoding="utf-8")
        assert "<style>" in html
        assert not re.search(r"<script|<link|<img|src=|url\(|@import", html), path
        assert not re.search(r'href="(?!#)', html), f"{path}: links to something outside the page"


def test_page_shows_score_checks_flags_and_unmarked_answers(tmp_path):
    out = make_out(tmp_path, {"alice_add": "1.5"})
    feedback.write_feedback(out, solutions=SOLUTIONS)
    html = (out / "feedback" / "alice.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Fixture lab 00 — a tiny course for the instructor's tools" in text.replace("&#39;", "'")
    assert "2 / 3" in text  # automatic score
    for piece in (
        "ex1_add",
        "passed",
        "ex2_mul",
        "failed",
        "0 / 1",
        "mul(2, 3); expected: 6; received: 5",
    ):
        assert piece in text, piece
    assert "check ex2_mul was edited: restored the original" in text
    assert "removed the tags [&#39;x&#39;] from cell 4" in html  # the two flags, one item each
    assert html.count("<li>") == 2
    assert "why_add" in text and "1.5 / 2" in text
    assert "not marked yet" in text  # loop_sum has no mark, so no written score or total yet
    assert "Answer in one or two sentences." in text  # the question itself


def test_marked_page_shows_written_score_and_total(tmp_path):
    out = make_out(tmp_path, {"alice_add": "2", "alice_loop": "1"})
    feedback.write_feedback(out, marks=out / "written.csv", solutions=SOLUTIONS)
    text = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", (out / "feedback" / "alice.html").read_text())
    )
    assert "Written answers 3 / 3" in text
    assert "Total 5 / 6" in text
    assert "not marked yet" not in text


def test_student_text_is_escaped(tmp_path):
    out = make_out(tmp_path, {})
    feedback.write_feedback(out, solutions=SOLUTIONS)
    for name in ("alice", "bob"):
        html = (out / "feedback" / f"{name}.html").read_text(encoding="utf-8")
        assert EVIL not in html
    assert (
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        in (out / "feedback" / "alice.html").read_text()
    )
    bob = (out / "feedback" / "bob.html").read_text()
    assert "NameError: name &#39;&lt;script&gt;" in bob
    assert "No answer." in bob and "timeout" in bob


def test_bad_marks_file_is_a_clear_error(tmp_path):
    out = make_out(tmp_path, {"alice_add": "9"})
    try:
        feedback.write_feedback(out, solutions=SOLUTIONS)
    except written.MarksError as err:
        assert "points is 9; expected a number from 0 to 2" in str(err)
    else:
        raise AssertionError("an out-of-range mark rendered a page")


def test_unreadable_notebook_gets_one_clear_paragraph(tmp_path):
    out = make_out(tmp_path, {})
    reason = (
        "00_fixture.ipynb is not valid notebook JSON (Unterminated string starting at: line 3, "
        "column 5), so the file is damaged or is not a notebook"
    )
    data = [r for r in written.read_csv(out / "grades.csv", GRADES) if r["student"] != "bob"]
    data += [
        dict(
            student="bob",
            lab=LAB,
            check=c,
            points="0",
            max_points=m,
            status="invalid",
            message=reason,
        )
        for c, m in (("ex1_add", "2"), ("ex2_mul", "1"))
    ]
    written.write_csv(out / "grades.csv", GRADES, data)
    summary = written.read_csv(out / "summary.csv", SUMMARY)
    summary[1]["flags"] = f"invalid notebook: {reason}"
    written.write_csv(out / "summary.csv", SUMMARY, summary)
    feedback.write_feedback(out, solutions=SOLUTIONS)
    html = (out / "feedback" / "bob.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert html.count("not valid notebook JSON") == 1  # once, not once per check and flag
    assert "Your notebook was not graded" in text and "Download .ipynb" in text
    assert "The grader ran your notebook" not in text and " at at " not in text
    assert "<table>" not in html and "graded as handed in" not in html


def test_latex_in_a_question_becomes_mathml(tmp_path):
    """Lab 01's question: `$w_1, w_2, b$` renders as MathML (no script, no external font)."""
    from tools import notebooks

    (q,) = written.lab_questions("01_perceptron_mlp", notebooks.SOLUTIONS)
    html = str(feedback.markdown(q.prompt))
    assert "$" not in html
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert "<msub><mi>w</mi><mn>1</mn></msub>" in html
    assert "<script" not in html
    # a dollar amount and escaped HTML stay text
    plain = str(feedback.markdown("It costs $5 and <b>x</b>, $a+b$."))
    assert "$5" in plain and "&lt;b&gt;" in plain and plain.count("<math") == 1
