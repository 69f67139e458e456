"""Written answers: collect them into ``OUT/written.csv``, merge the hand-made marks back.

A written question is a markdown cell of a solution notebook with cell metadata
``{"course": {"role": "written", "id": "...", "points": N}}``; its model answer sits between
``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` and the lab shows *YOUR ANSWER HERE*
there instead.

``python -m tools written --out OUT`` (run by ``make grade``) reads each student's graded copy
``OUT/work/<student>/<lab>.ipynb`` as JSON (nothing is executed) and writes ``OUT/written.csv``
with the columns ``student,lab,question,answer,points,max_points``. ``points`` is left empty for
the instructor, except that an unanswered question (the cell still reads *YOUR ANSWER HERE*, is
empty, or is gone) gets 0. Marks already in ``OUT/written.csv`` are kept for every answer that
did not change, so grading again never loses marking work.

``python -m tools written --out OUT --merge MARKS`` (``make grade … MANUAL=MARKS``) checks every
mark (present, a number, between 0 and the question's points, one row per student and question)
and adds to ``OUT/summary.csv`` the columns ``written_score``, ``written_max_score``, ``total``
(= ``score`` + ``written_score``) and ``max_total``; ``score``/``max_score`` stay the automatic
part. No notebook runs.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import notebooks
from .notebooks import MD_BEGIN, MD_END, MD_STUB, SOLUTIONS

WRITTEN_COLUMNS = ["student", "lab", "question", "answer", "points", "max_points"]
MERGED_COLUMNS = ["written_score", "written_max_score", "total", "max_total"]


class MarksError(ValueError):
    """Marks that cannot be merged; the message names every bad row."""


@dataclass(frozen=True)
class Question:
    id: str
    points: float
    cell_id: str
    prefix: str  # the cell's text before the answer block: the question itself
    suffix: str  # the cell's text after the answer block

    @property
    def prompt(self) -> str:
        return self.prefix.strip()


def num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def questions(solution: dict[str, Any]) -> list[Question]:
    """The written questions of a solution notebook, in notebook order."""
    found = []
    for cell in solution.get("cells", []):
        if notebooks.role(cell) != "written":
            continue
        info = notebooks.course_meta(cell)
        text = notebooks.source(cell)
        before, _, rest = text.partition(MD_BEGIN)
        _, _, after = rest.partition(MD_END)
        found.append(
            Question(str(info["id"]), float(info["points"]), str(cell.get("id")), before, after)
        )
    return found


def lab_questions(lab: str, solutions: Path = SOLUTIONS) -> list[Question]:
    """The written questions of the lab whose stem is ``lab`` ([] for an unknown lab)."""
    path = Path(solutions) / f"{lab}.ipynb"
    return questions(notebooks.read(path)) if path.exists() else []


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _strip_affix(text: str, prefix: str, suffix: str) -> str:
    """The answer inside a student's written cell: its text without the question around it."""
    body, p, s = text.strip(), prefix.strip(), suffix.strip()
    if body.startswith(p) and body.endswith(s) and len(body) >= len(p) + len(s):
        body = body[len(p) : len(body) - len(s)]  # exact: keeps the student's line breaks
    else:  # re-wrapped by an editor: compare with whitespace collapsed
        body, p, s = _norm(body), _norm(p), _norm(s)
        if p and body.startswith(p):
            body = body[len(p) :]
        if s and body.endswith(s):
            body = body[: len(body) - len(s)]
    return body.replace(MD_STUB, "").strip()


def extract_answers(nb: dict[str, Any], solution: dict[str, Any]) -> dict[str, str]:
    """Question id -> the student's answer text ('' when unanswered), from a notebook's JSON.

    The written cell is found by its course metadata, else by its cell id, else by the
    question's text. Markdown cells the student added right after it (not in the lab) count
    as part of the answer.
    """
    cells = [c for c in nb.get("cells", []) if isinstance(c, dict)]
    known_ids = {c.get("id") for c in solution.get("cells", [])}
    known_texts = {_norm(notebooks.source(c)) for c in solution.get("cells", [])}
    answers = {}
    for q in questions(solution):
        index = next(
            (
                i
                for i, c in enumerate(cells)
                if notebooks.role(c) == "written" and notebooks.course_meta(c).get("id") == q.id
            ),
            None,
        )
        if index is None:
            index = next((i for i, c in enumerate(cells) if c.get("id") == q.cell_id), None)
        if index is None and len(_norm(q.prefix)) >= 20:
            index = next(
                (
                    i
                    for i, c in enumerate(cells)
                    if c.get("cell_type") == "markdown"
                    and _norm(notebooks.source(c)).startswith(_norm(q.prefix))
                ),
                None,
            )
        if index is None or cells[index].get("cell_type") != "markdown":
            answers[q.id] = ""
            continue
        parts = [_strip_affix(notebooks.source(cells[index]), q.prefix, q.suffix)]
        for extra in cells[index + 1 :]:
            if (
                extra.get("cell_type") != "markdown"
                or extra.get("id") in known_ids
                or _norm(notebooks.source(extra)) in known_texts
                or notebooks.role(extra) == "written"
            ):
                break  # the lab's own next cell: the answer ended
            parts.append(notebooks.source(extra).strip())
        answers[q.id] = "\n\n".join(p for p in parts if p).strip()
    return answers


# --------------------------------------------------------------------------- csv helpers


def read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    path = Path(path)
    if not path.exists():
        raise MarksError(f"{path}: no such file.")
    with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets add a BOM
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise MarksError(
                f"{path}: expected the columns {', '.join(required)}; missing {', '.join(missing)} "
                f"(received {', '.join(reader.fieldnames or []) or 'no header'})."
            )
        return list(reader)


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    tmp = Path(path).with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def summary_rows(out: Path) -> tuple[list[str], list[dict[str, str]]]:
    path = Path(out) / "summary.csv"
    rows = read_csv(path, ["student", "lab", "score", "max_score", "flags"])
    with path.open(newline="", encoding="utf-8-sig") as f:
        columns = next(csv.reader(f))
    return columns, rows


# --------------------------------------------------------------------------- collect


def collect(out: Path, solutions: Path = SOLUTIONS) -> Path:
    """Write ``OUT/written.csv`` from the graded notebooks in ``OUT/work/``."""
    out = Path(out)
    _, summary = summary_rows(out)
    target = out / "written.csv"
    previous: dict[tuple[str, str, str], dict[str, str]] = {}
    if target.exists():
        for row in read_csv(target, WRITTEN_COLUMNS):
            previous[(row["student"], row["lab"], row["question"])] = row
    rows = []
    cache: dict[str, dict[str, Any] | None] = {}
    for entry in summary:
        student, lab = entry["student"], entry["lab"]
        if lab not in cache:
            path = Path(solutions) / f"{lab}.ipynb"
            cache[lab] = notebooks.read(path) if path.exists() else None
        solution = cache[lab]
        if solution is None:
            continue
        work = out / "work" / student / f"{lab}.ipynb"
        try:
            nb = notebooks.read(work) if work.exists() else {"cells": []}
        except notebooks.NotebookError:
            nb = {"cells": []}
        answers = extract_answers(nb, solution)
        for q in questions(solution):
            answer = answers.get(q.id, "")
            old = previous.get((student, lab, q.id))
            if old is not None and old["answer"] == answer and old["points"].strip():
                points = old["points"]
            else:
                points = "" if answer else "0"
            rows.append(
                {
                    "student": student,
                    "lab": lab,
                    "question": q.id,
                    "answer": answer,
                    "points": points,
                    "max_points": num(q.points),
                }
            )
    write_csv(target, WRITTEN_COLUMNS, rows)
    return target


# --------------------------------------------------------------------------- merge


def read_marks(
    path: Path, summary: list[dict[str, str]], solutions: Path = SOLUTIONS, complete: bool = True
) -> dict[tuple[str, str], dict[str, float | None]]:
    """(student, lab) -> {question: points or None}, every row checked.

    With ``complete`` (merging), a missing mark is an error; without (feedback), it is None.
    """
    rows = read_csv(path, WRITTEN_COLUMNS)
    students = {(r["student"], r["lab"]) for r in summary}
    labs = {lab for _, lab in students}
    by_lab = {lab: {q.id: q for q in lab_questions(lab, solutions)} for lab in labs}
    problems: list[str] = []
    marks: dict[tuple[str, str], dict[str, float | None]] = {}
    for line, row in enumerate(rows, start=2):
        student, lab, qid, raw = row["student"], row["lab"], row["question"], row["points"].strip()
        where = f"{path} line {line} (student {student!r}, lab {lab!r}, question {qid!r})"
        if (student, lab) not in students:
            problems.append(f"{where}: this student has no row for this lab in summary.csv.")
            continue
        q = by_lab.get(lab, {}).get(qid)
        if q is None:
            known = ", ".join(by_lab.get(lab, {})) or "none"
            problems.append(f"{where}: unknown question; expected one of: {known}.")
            continue
        allowed = f"expected a number from 0 to {num(q.points)}"
        if qid in marks.get((student, lab), {}):
            problems.append(f"{where}: marked twice; expected one row per student and question.")
            continue
        value: float | None
        if not raw:
            if complete:
                problems.append(f"{where}: points is empty; {allowed}.")
                continue
            value = None
        else:
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{where}: points is {raw!r}; {allowed}.")
                continue
            if not (0 <= value <= q.points):  # NaN fails this too
                problems.append(f"{where}: points is {raw}; {allowed}.")
                continue
        if row["max_points"].strip() and row["max_points"].strip() != num(q.points):
            problems.append(
                f"{where}: max_points is {row['max_points']!r} but the question is worth "
                f"{num(q.points)} (solutions/{lab}.ipynb); do not edit max_points."
            )
            continue
        marks.setdefault((student, lab), {})[qid] = value
    if complete:
        for student, lab in sorted(students):
            for qid in by_lab.get(lab, {}):
                if qid not in marks.get((student, lab), {}) and not any(
                    p
                    for p in problems
                    if f"student {student!r}, lab {lab!r}, question {qid!r}" in p
                ):
                    problems.append(
                        f"{path}: no row for student {student!r}, lab {lab!r}, question {qid!r}; "
                        f"expected a mark from 0 to {num(by_lab[lab][qid].points)}."
                    )
    if problems:
        raise MarksError(
            f"{len(problems)} problem(s) with the marks, nothing merged:\n" + "\n".join(problems)
        )
    return marks


def merge(out: Path, marks_path: Path, solutions: Path = SOLUTIONS) -> Path:
    """Add the written marks to ``OUT/summary.csv`` (columns :data:`MERGED_COLUMNS`)."""
    out = Path(out)
    columns, summary = summary_rows(out)
    marks = read_marks(Path(marks_path), summary, solutions, complete=True)
    for row in summary:
        qs = lab_questions(row["lab"], solutions)
        got = marks.get((row["student"], row["lab"]), {})
        written = sum(v or 0 for v in got.values())
        written_max = sum(q.points for q in qs)
        row["written_score"] = num(written)
        row["written_max_score"] = num(written_max)
        row["total"] = num(float(row["score"] or 0) + written)
        row["max_total"] = num(float(row["max_score"] or 0) + written_max)
    columns = [c for c in columns if c not in MERGED_COLUMNS] + MERGED_COLUMNS
    write_csv(out / "summary.csv", columns, summary)
    return out / "summary.csv"


def run_cli(out: str | None, merge_path: str | None, solutions: Path = SOLUTIONS) -> int:
    import sys

    if not out:
        print("usage: python -m tools written --out OUT [--merge MARKS.csv]", file=sys.stderr)
        return 2
    try:
        if merge_path:
            path = merge(Path(out), Path(merge_path), solutions)
            print(f"merged the written marks of {merge_path} into {path}")
        else:
            path = collect(Path(out), solutions)
            with path.open(encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            todo = sum(1 for r in rows if not r["points"].strip())
            print(f"wrote {path}: {len(rows)} written answer(s), {todo} to mark by hand")
    except (MarksError, notebooks.NotebookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
