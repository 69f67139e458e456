"""Written answers: collect them into ``OUT/written.csv``, merge the hand-made marks back.

A written question is a markdown cell of a solution notebook with cell metadata
``{"course": {"role": "written", "id": "...", "points": N}}``; its model answer sits between
``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` and the lab shows *YOUR ANSWER HERE*
there instead.

``python -m tools written --out OUT`` (run by ``make grade``) reads each student's graded copy
``OUT/work/<student>/<lab>.ipynb`` as JSON (nothing is executed) and writes ``OUT/written.csv``
with the columns ``student,lab,question,answer,points,max_points``. ``points`` is left empty for
the instructor, except that an unanswered question (the cell still reads *YOUR ANSWER HERE*, is
empty, or is gone) gets 0. Marks already in ``OUT/written.csv`` or merged into ``OUT/marks.csv``
are kept for every answer that did not change, so grading again never loses marking work.

``python -m tools written --out OUT --merge MARKS`` (``make grade … MANUAL=MARKS``) checks every
mark (present, a number, between 0 and the question's points, one row per student and question)
and adds to ``OUT/summary.csv`` the columns ``written_score``, ``written_max_score``, ``total``
(= ``score`` + ``written_score``) and ``max_total``; ``score``/``max_score`` stay the automatic
part. No notebook runs. MARKS may be ``OUT/written.csv`` itself or a copy anywhere else.

A merged mark is part of the lab's result until the instructor changes it: ``merge`` records
each one, with the answer it marks, in ``OUT/marks.csv`` (the grader's file; do not edit it,
merge again instead) and writes it into ``OUT/written.csv`` too. Every later step re-applies
them: ``collect`` after a re-grade (``make grade`` runs it) puts the written columns back into
``summary.csv``, and ``feedback`` and ``gradebook`` read the summary through
:func:`summary_with_marks`. A mark is dropped only when the student's answer changed (a new
submission graded): that answer is then to be marked again.

Spreadsheets in locales with a decimal comma may save ``1,5`` (accepted as 1.5) and separate
columns by ``;`` (refused with a hint: save with commas).
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
MARKS_COLUMNS = ["student", "lab", "question", "answer", "points"]
MARKS_FILE = "marks.csv"  # OUT/marks.csv: every merged mark with the answer it marks


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
            header = ",".join(reader.fieldnames or [])
            if ";" in header and all(c in header.split(";") for c in required[:2]):
                raise MarksError(
                    f"{path}: the columns are separated by semicolons (;), as a spreadsheet "
                    "set to a language with a decimal comma saves CSV; expected commas. Save "
                    "it again as CSV with the field delimiter ',' (LibreOffice: Save As → "
                    "Text CSV → Edit filter settings; Excel: CSV UTF-8 (Comma delimited)). "
                    "Decimal commas in points (1,5) are fine."
                )
            raise MarksError(
                f"{path}: expected the columns {', '.join(required)}; missing {', '.join(missing)} "
                f"(received {', '.join(reader.fieldnames or []) or 'no header'})."
            )
        return list(reader)


def parse_points(raw: str) -> float:
    """A mark as typed in a spreadsheet: ``1.5``, or ``1,5`` with a decimal comma."""
    raw = raw.strip()
    if re.fullmatch(r"[+-]?\d+,\d+", raw):
        raw = raw.replace(",", ".")
    return float(raw)


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


# --------------------------------------------------------------------------- answers, merged marks

Key = tuple[str, str, str]  # (student, lab, question)


def current_answers(
    out: Path, summary: list[dict[str, str]], solutions: Path = SOLUTIONS
) -> dict[tuple[str, str], dict[str, str]]:
    """(student, lab) -> {question: answer} from the graded copies in ``OUT/work/``.

    Read as JSON, nothing runs; a student with no graded copy (no notebook, invalid JSON) has
    answered nothing. Labs without written questions are left out.
    """
    out = Path(out)
    cache: dict[str, dict[str, Any] | None] = {}
    found: dict[tuple[str, str], dict[str, str]] = {}
    for entry in summary:
        student, lab = entry["student"], entry["lab"]
        if lab not in cache:
            path = Path(solutions) / f"{lab}.ipynb"
            cache[lab] = notebooks.read(path) if path.exists() else None
        solution = cache[lab]
        if solution is None or not questions(solution):
            continue
        work = out / "work" / student / f"{lab}.ipynb"
        try:
            nb = notebooks.read(work) if work.exists() else {"cells": []}
        except notebooks.NotebookError:
            nb = {"cells": []}
        found[(student, lab)] = extract_answers(nb, solution)
    return found


def read_merged(out: Path) -> dict[Key, dict[str, str]] | None:
    """Every mark merged so far (``OUT/marks.csv``), or None when nothing was ever merged."""
    path = Path(out) / MARKS_FILE
    if not path.exists():
        return None
    return {(r["student"], r["lab"], r["question"]): r for r in read_csv(path, MARKS_COLUMNS)}


def same_answer(a: str, b: str) -> bool:
    """The same answer, up to whitespace (a spreadsheet may rewrite line breaks)."""
    return _norm(a) == _norm(b)


def lab_marks(
    out: Path, summary: list[dict[str, str]], solutions: Path = SOLUTIONS
) -> dict[tuple[str, str], dict[str, float | None]] | None:
    """(student, lab) -> {question: mark or None}: the merged marks that still hold.

    A merged mark holds while the student's answer is the one it marked; an unanswered
    question is 0. None when nothing was ever merged into ``out``.
    """
    merged = read_merged(out)
    if merged is None:
        return None
    answers = current_answers(out, summary, solutions)
    result: dict[tuple[str, str], dict[str, float | None]] = {}
    for (student, lab), got in answers.items():
        per: dict[str, float | None] = {}
        for qid, answer in got.items():
            old = merged.get((student, lab, qid))
            if old is not None and same_answer(old["answer"], answer):
                per[qid] = parse_points(old["points"])
            else:
                per[qid] = None if answer else 0.0
        result[(student, lab)] = per
    return result


def summary_with_marks(
    out: Path, solutions: Path = SOLUTIONS
) -> tuple[list[str], list[dict[str, str]]]:
    """``OUT/summary.csv`` with the merged written marks applied (nothing is written).

    Once marks were merged, every row gets :data:`MERGED_COLUMNS`: filled when each of its
    written questions has a mark that still holds, empty when one must be marked (again).
    """
    out = Path(out)
    columns, summary = summary_rows(out)
    marks = lab_marks(out, summary, solutions)
    if marks is None:
        return columns, summary
    for row in summary:
        qs = lab_questions(row["lab"], solutions)
        got = marks.get((row["student"], row["lab"]), {})
        values = [got.get(q.id) for q in qs]
        for column in MERGED_COLUMNS:
            row[column] = ""
        if any(v is None for v in values):
            continue  # an answer to mark (again): checks only until it is
        written = sum(v or 0.0 for v in values)
        written_max = sum(q.points for q in qs)
        row["written_score"] = num(written)
        row["written_max_score"] = num(written_max)
        row["total"] = num(float(row["score"] or 0) + written)
        row["max_total"] = num(float(row["max_score"] or 0) + written_max)
    columns = [c for c in columns if c not in MERGED_COLUMNS] + MERGED_COLUMNS
    return columns, summary


def apply_marks(out: Path, solutions: Path = SOLUTIONS) -> Path:
    """Write the merged marks that still hold into ``OUT/summary.csv``."""
    columns, summary = summary_with_marks(out, solutions)
    write_csv(Path(out) / "summary.csv", columns, summary)
    return Path(out) / "summary.csv"


# --------------------------------------------------------------------------- collect


def collect(out: Path, solutions: Path = SOLUTIONS, prefer_merged: bool = False) -> Path:
    """Write ``OUT/written.csv`` from the graded notebooks in ``OUT/work/``.

    A mark is kept for every answer that did not change: the one in ``OUT/written.csv`` (the
    instructor's working copy, perhaps edited since the last merge), else the merged one
    (``OUT/marks.csv``); ``prefer_merged`` (after a merge) puts the merged ones first. The
    merged marks go back into ``summary.csv`` (a re-grade rewrote it without them).
    """
    out = Path(out)
    _, summary = summary_rows(out)
    target = out / "written.csv"
    previous: dict[Key, dict[str, str]] = {}
    if target.exists():
        for row in read_csv(target, WRITTEN_COLUMNS):
            previous[(row["student"], row["lab"], row["question"])] = row
    merged = read_merged(out) or {}
    answers = current_answers(out, summary, solutions)
    rows = []
    for entry in summary:
        student, lab = entry["student"], entry["lab"]
        if (student, lab) not in answers:
            continue
        for q in lab_questions(lab, solutions):
            answer = answers[(student, lab)].get(q.id, "")
            points = "" if answer else "0"
            sources = [merged.get((student, lab, q.id)), previous.get((student, lab, q.id))]
            for old in sources if prefer_merged else sources[::-1]:
                if old is not None and same_answer(old["answer"], answer) and old["points"].strip():
                    points = old["points"].strip()
                    break
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
    if merged:
        apply_marks(out, solutions)
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
                value = parse_points(raw)
            except ValueError:
                problems.append(
                    f"{where}: points is {raw!r}; {allowed} (a decimal point or comma: 1.5 or 1,5)."
                )
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
    """Merge the marks of ``marks_path`` (``OUT/written.csv`` or a copy of it).

    Each mark is recorded with the answer it marks in ``OUT/marks.csv`` and written into
    ``OUT/written.csv``; ``summary.csv`` gets the columns :data:`MERGED_COLUMNS`. A row whose
    answer is not the student's current one (a copy made before a new submission was graded)
    is refused: that answer must be marked again.
    """
    out = Path(out)
    marks_path = Path(marks_path)
    _, summary = summary_rows(out)
    marks = read_marks(marks_path, summary, solutions, complete=True)
    answers = current_answers(out, summary, solutions)
    typed = {
        (r["student"], r["lab"], r["question"]): r["answer"]
        for r in read_csv(marks_path, WRITTEN_COLUMNS)
    }
    stale = [
        f"{marks_path}: student {s!r}, lab {lab!r}, question {q!r}: the answer in this file is "
        "not the student's current answer (a newer submission was graded since this file was "
        f"written); mark the new answer in {out / 'written.csv'} and merge that."
        for (s, lab, q), text in sorted(typed.items())
        if (s, lab) in answers and not same_answer(text, answers[(s, lab)].get(q, ""))
    ]
    if stale:
        raise MarksError(
            f"{len(stale)} problem(s) with the marks, nothing merged:\n" + "\n".join(stale)
        )
    merged = read_merged(out) or {}
    for (student, lab), per in marks.items():
        for qid, value in per.items():
            merged[(student, lab, qid)] = {
                "student": student,
                "lab": lab,
                "question": qid,
                "answer": answers.get((student, lab), {}).get(qid, ""),
                "points": num(value or 0.0),
            }
    write_csv(out / MARKS_FILE, MARKS_COLUMNS, [merged[k] for k in sorted(merged)])
    collect(out, solutions, prefer_merged=True)  # written.csv shows them; summary.csv gets them
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
