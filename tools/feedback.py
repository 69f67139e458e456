"""``OUT/feedback/<student>.html``: the page a student gets back (nbgrader's *feedback* step).

One self-contained HTML file per student (inline CSS, no scripts, no external assets), fit to
read offline or upload to an LMS: the lab, the automatic score, every check with its status,
points and message (hidden checks included), the grader's flags, and the written answers with
their marks, or "not marked yet". Rendered with Jinja2 and autoescaping, so nothing a student
wrote (answers, names in messages) can inject markup; the questions (course text) go through
mistune with raw HTML escaped, their LaTeX (``$…$``) turned into MathML by latex2mathml.

``python -m tools feedback --out OUT [--marks MARKS.csv]`` reads ``OUT/summary.csv``,
``OUT/grades.csv`` and the marks (``OUT/written.csv`` unless ``--marks`` names another file).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import notebooks, written
from .notebooks import SOLUTIONS

TEMPLATES = Path(__file__).resolve().parent / "templates"
GRADES_COLUMNS = ["student", "lab", "check", "points", "max_points", "status", "message"]


def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


MATH_RE = re.compile(r"(?<![\\$])(\$\$(.+?)\$\$|\$(?=\S)([^$\n]+?)(?<=\S)\$)(?!\d)", re.DOTALL)


def _mathml(latex: str, block: bool) -> str:
    """LaTeX as MathML (every current browser renders it, with no script or font to embed);
    the LaTeX itself, escaped, where the converter cannot read it."""
    import html

    import latex2mathml.converter

    try:
        return latex2mathml.converter.convert(latex.strip(), display="block" if block else "inline")
    except Exception:  # an unsupported command: show the source rather than nothing
        return f"<code>{html.escape(latex)}</code>"


def markdown(text: str):
    """Course-written markdown (a question) as HTML; raw HTML in it is escaped, not passed on.

    ``$…$`` and ``$$…$$`` become MathML, so the page stays one self-contained file.
    """
    import markupsafe
    import mistune

    formulas: list[str] = []

    def stash(match: re.Match) -> str:
        block = match.group(2) is not None
        formulas.append(_mathml(match.group(2) if block else match.group(3), block))
        return f"MATHPLACEHOLDER{len(formulas) - 1}X"

    body = mistune.create_markdown(escape=True)(MATH_RE.sub(stash, text))
    body = re.sub(r"MATHPLACEHOLDER(\d+)X", lambda m: formulas[int(m.group(1))], body)
    return markupsafe.Markup(body)


def lab_title(lab: str, solutions: Path = SOLUTIONS) -> str:
    path = Path(solutions) / f"{lab}.ipynb"
    if not path.exists():
        return lab
    cells = notebooks.read(path)["cells"]
    first = notebooks.source(cells[0]).splitlines() if cells else []
    return first[0].lstrip("#").strip() if first and first[0].startswith("#") else lab


def _float(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def write_feedback(out: Path, marks: Path | None = None, solutions: Path = SOLUTIONS) -> list[Path]:
    """Render every student's page into ``OUT/feedback/``; returns the files written."""
    out = Path(out)
    _, summary = written.summary_with_marks(out, solutions)
    grades_path = out / "grades.csv"
    checks = defaultdict(list)
    if grades_path.exists():
        for row in written.read_csv(grades_path, GRADES_COLUMNS):
            checks[(row["student"], row["lab"])].append(row)
    marks_path = Path(marks) if marks else out / "written.csv"
    marked: dict[tuple[str, str], dict[str, float | None]] = {}
    answers: dict[tuple[str, str, str], str] = {}
    if marks_path.exists():
        marked = written.read_marks(marks_path, summary, solutions, complete=False)
        for row in written.read_csv(marks_path, written.WRITTEN_COLUMNS):
            answers[(row["student"], row["lab"], row["question"])] = row["answer"]
    # The merged marks (OUT/marks.csv) are the lab's result: they win over a file's points,
    # and the answers shown are the graded ones.
    current = written.current_answers(out, summary, solutions)
    for (student, lab), per in current.items():
        if not (out / "work" / student / f"{lab}.ipynb").exists():
            continue  # no graded copy: the file's answers stand
        for qid, text in per.items():
            if not written.same_answer(answers.get((student, lab, qid), text), text):
                marked.get((student, lab), {}).pop(qid, None)  # a mark of an older answer
            answers[(student, lab, qid)] = text
    for key, per in (written.lab_marks(out, summary, solutions) or {}).items():
        for qid, value in per.items():
            if value is not None:
                marked.setdefault(key, {})[qid] = value
    template = _environment().get_template("feedback.html.j2")
    folder = out / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    written_files = []
    titles: dict[str, str] = {}
    for row in summary:
        student, lab = row["student"], row["lab"]
        if lab not in titles:
            titles[lab] = lab_title(lab, solutions)
        qs = written.lab_questions(lab, solutions)
        got = marked.get((student, lab), {})
        items = [
            {
                "id": q.id,
                "prompt": markdown(q.prompt),
                "answer": answers.get((student, lab, q.id), ""),
                "points": None if got.get(q.id) is None else written.num(got[q.id]),
                "max_points": written.num(q.points),
            }
            for q in qs
        ]
        all_marked = all(item["points"] is not None for item in items)
        written_score = sum(_float(i["points"]) for i in items if i["points"] is not None)
        written_max = sum(q.points for q in qs)
        rows = checks.get((student, lab), [])
        statuses = {c["status"] for c in rows}
        reasons = {c["message"] for c in rows}
        not_graded = ""  # one paragraph, not the same message once per check
        if rows and len(statuses) == 1 and statuses <= {"missing", "invalid"} and len(reasons) == 1:
            not_graded = next(iter(reasons)).rstrip(".")
        prefixes = ("missing: ", "invalid notebook: ")
        flags = [f for f in (row.get("flags") or "").split("; ") if f.strip()]
        if not_graded:
            flags = [f for f in flags if not (f.startswith(prefixes) and not_graded in f)]
        context: dict[str, Any] = {
            "not_graded": not_graded,
            "not_graded_status": next(iter(statuses)) if not_graded else "",
            "student": student,
            "lab": lab,
            "title": titles[lab],
            "score": row["score"],
            "max_score": row["max_score"],
            "checks": rows,
            "flags": flags,
            "written": items,
            "written_score": written.num(written_score) if all_marked else None,
            "written_max": written.num(written_max),
            "total": written.num(_float(row["score"]) + written_score) if all_marked else None,
            "max_total": written.num(_float(row["max_score"]) + written_max),
            "generated": dt.date.today().isoformat(),
        }
        path = folder / f"{student}.html"
        path.write_text(template.render(**context), encoding="utf-8")
        written_files.append(path)
    return written_files


def run_cli(out: str | None, marks: str | None, solutions: Path = SOLUTIONS) -> int:
    if not out:
        print("usage: python -m tools feedback --out OUT [--marks MARKS.csv]", file=sys.stderr)
        return 2
    try:
        files = write_feedback(Path(out), Path(marks) if marks else None, solutions)
    except (written.MarksError, notebooks.NotebookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(files)} feedback page(s) to {Path(out) / 'feedback'}/")
    return 0
