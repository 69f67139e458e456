"""``make gradebook GRADES=grades/``: every lab's ``summary.csv`` in one gradebook CSV.

Reads ``GRADES/summary.csv`` and ``GRADES/*/summary.csv`` (one per lab, as ``make grade``
writes them) and writes one row per student with one column per lab and a ``Total``:

``Student, ID, SIS User ID, SIS Login ID, Section, <lab columns…>, Total``

The first row under the header is Canvas's ``    Points Possible`` row (each lab's maximum:
checks plus written questions); ``--no-points-possible`` leaves it out (Moodle would read it as
a student it cannot find).

* **Canvas** (*Grades → Import*) needs ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID`` and
  ``Section`` first, and matches a row by ``ID``, ``SIS User ID`` or ``SIS Login ID``; every
  other column is an assignment (a name Canvas does not know becomes a new one, so choose
  *ignore* for ``Total``: Canvas computes its own).
* **Moodle** (*Grades → Import → CSV file*) asks which column identifies the user (*Map from*)
  and what it is (*Map to*: username, email address, ID number or user id), then which grade
  item each column feeds; map ``SIS Login ID`` → username (or email), each lab column to its
  grade item, and leave ``Total`` unmapped.

Without a roster, ``Student`` and ``SIS Login ID`` are the submission folder names, so name the
folders by LMS login. ``--roster FILE`` (a CSV with a ``student`` column, the folder name, and
any of the five identity columns) fills in the LMS's identifiers and adds students who handed
in nothing. A lab's score is ``total`` when the written marks were merged, else ``score``
(merged marks come from ``OUT/marks.csv``, so a re-grade never drops them). A
student missing from a lab gets 0 there and a note: the notes are printed and written to
``<gradebook>.notes.csv`` (kept out of the gradebook, where an LMS would read them as grades).
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import written
from .notebooks import SOLUTIONS

IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
TOTAL = "Total"
POINTS_POSSIBLE = "    Points Possible"  # Canvas's export spells it so, four spaces included
NOTES_COLUMNS = ["student", "lab", "note"]


class GradebookError(ValueError):
    """The gradebook cannot be built; the message names the file."""


def summaries(grades: Path) -> list[Path]:
    grades = Path(grades)
    if not grades.is_dir():
        raise GradebookError(f"GRADES must be a folder of graded labs, received {grades}.")
    found = sorted({*grades.glob("summary.csv"), *grades.glob("*/summary.csv")})
    if not found:
        raise GradebookError(
            f"{grades}: no summary.csv in it or in its subfolders; expected the OUT folders of "
            "`make grade`, e.g. grades/00/summary.csv."
        )
    return found


def build(
    grades: Path,
    roster: Path | None = None,
    solutions: Path = SOLUTIONS,
    points_possible: bool = True,
) -> tuple[list[str], list[dict[str, str]], list[dict[str, str]]]:
    """(columns, rows, notes) of the gradebook; the first row is the maximum of each lab."""
    scores: dict[str, dict[str, float]] = {}  # lab -> student -> points
    maxima: dict[str, float] = {}
    source: dict[str, Path] = {}
    notes: list[dict[str, str]] = []
    for path in summaries(grades):
        try:
            _, rows = written.summary_with_marks(path.parent, solutions)
        except written.MarksError as err:
            raise GradebookError(str(err)) from err
        for row in rows:
            lab = row["lab"]
            if lab in source and source[lab] != path:
                raise GradebookError(
                    f"lab {lab} is graded twice: in {source[lab]} and in {path}; keep one."
                )
            source[lab] = path
            merged = (row.get("total") or "").strip()
            value = merged or row["score"]
            questions = written.lab_questions(lab, solutions)
            maximum = (row.get("max_total") or "").strip() or written.num(
                float(row["max_score"] or 0) + sum(q.points for q in questions)
            )
            try:
                scores.setdefault(lab, {})[row["student"]] = float(value or 0)
                maxima[lab] = max(maxima.get(lab, 0.0), float(maximum or 0))
            except ValueError as err:
                raise GradebookError(
                    f"{path}: student {row['student']!r} has a non-numeric score."
                ) from err
            if not merged and questions:
                never = "written_score" not in row
                notes.append(
                    {
                        "student": row["student"],
                        "lab": lab,
                        "note": "written answers not merged yet (make grade … MANUAL=): checks only"
                        if never
                        else "a written answer is not marked (new since the last merge): "
                        "checks only until it is merged",
                    }
                )
    identities: dict[str, dict[str, str]] = {}
    if roster:
        for line, row in enumerate(written.read_csv(Path(roster), ["student"]), start=2):
            if not row["student"].strip():
                raise GradebookError(f"{roster} line {line}: the student column is empty.")
            identities[row["student"].strip()] = {k: (row.get(k) or "").strip() for k in IDENTITY}
    students = sorted(set(identities) | {s for per in scores.values() for s in per})
    labs = sorted(scores)
    rows = []
    for student in students:
        ident = identities.get(student) or {}
        row = {k: ident.get(k, "") for k in IDENTITY}
        row["Student"] = row["Student"] or student
        if not any(row[k] for k in ("ID", "SIS User ID", "SIS Login ID")):
            row["SIS Login ID"] = student
        total = 0.0
        for lab in labs:
            if student in scores[lab]:
                value = scores[lab][student]
            else:
                value = 0.0
                notes.append({"student": student, "lab": lab, "note": "no submission graded: 0"})
            row[lab] = written.num(value)
            total += value
        row[TOTAL] = written.num(total)
        rows.append(row)
    if roster:
        for student in sorted({s for per in scores.values() for s in per} - set(identities)):
            notes.append({"student": student, "lab": "", "note": "graded but not in the roster"})
    columns = IDENTITY + labs + [TOTAL]
    if points_possible:
        top = {k: "" for k in IDENTITY}
        top["Student"] = POINTS_POSSIBLE
        for lab in labs:
            top[lab] = written.num(maxima[lab])
        top[TOTAL] = written.num(sum(maxima[lab] for lab in labs))
        rows.insert(0, top)
    return columns, rows, notes


def run_cli(
    grades: str | None,
    out: str | None,
    roster: str | None,
    solutions: Path = SOLUTIONS,
    points_possible: bool = True,
) -> int:
    if not grades:
        print("usage: make gradebook GRADES=DIR [GRADEBOOK=FILE] [ROSTER=FILE]", file=sys.stderr)
        return 2
    target = Path(out) if out else Path(grades) / "gradebook.csv"
    try:
        columns, rows, notes = build(
            Path(grades), Path(roster) if roster else None, solutions, points_possible
        )
    except (GradebookError, written.MarksError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    target.parent.mkdir(parents=True, exist_ok=True)
    written.write_csv(target, columns, rows)
    notes_path = target.with_name(target.stem + ".notes.csv")
    written.write_csv(notes_path, NOTES_COLUMNS, notes)
    labs = columns[len(IDENTITY) : -1]
    students = sum(1 for r in rows if r["Student"] != POINTS_POSSIBLE)
    print(
        f"wrote {target}: {students} student(s) × {len(labs)} lab(s) ({', '.join(labs)}) + Total"
        + (", after a Points Possible row" if points_possible else "")
    )
    for note in notes:
        print(f"note: {note['student']} {note['lab']}: {note['note']}")
    if notes:
        print(f"{len(notes)} note(s), also in {notes_path}")
    return 0
