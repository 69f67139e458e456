"""Report: per-check results from the judge's verdicts and nbval's per-cell log; the CSVs.

Points come ONLY from the judge's verdicts. nbval's per-cell log (written inside the sandbox,
so the student's code could forge it) only explains why a check has no verdict: a timeout, a
dead kernel, an error before it. A check cell that "passed" in nbval without a verdict is a
tampering flag and scores 0.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .lab import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_STUDENT_TIMEOUT,
    SOLUTIONS,
    Lab,
    _canonical_id,
    _text,
    _what,
    available_labs,
    load_lab,
)

STATUSES = ("passed", "failed", "error", "timeout", "missing", "invalid")
GRADES_COLUMNS = ["student", "lab", "check", "points", "max_points", "status", "message"]
SUMMARY_COLUMNS = ["student", "lab", "score", "max_score", "flags"]
# Exceptions that mean "the check ran and did not hold" (status failed); any other exception
# in a check cell is status error. CheckFailure is common.checks' AssertionError subclass.
FAILURE_NAMES = frozenset({"AssertionError", "CheckFailure"})
MESSAGE_LIMIT = 300  # characters of an exception message kept in grades.csv
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ENAME_RE = re.compile(r"^([A-Z]\w*(?:Error|Exception|Failure|Interrupt|Exit))\b", re.MULTILINE)


def code_cell_map(nb: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """nbval's item numbers ('Cell N' counts code cells only) -> the cell."""
    return dict(enumerate(c for c in nb["cells"] if c.get("cell_type") == "code"))


@dataclass
class CellRun:
    """What nbval reported for one code cell."""

    index: int  # nbval's 'Cell N': the N-th code cell
    outcome: str  # passed, failed, skipped
    ename: str | None = None
    evalue: str = ""
    detail: str = ""
    xfail: bool = False  # nbval marks the cells after a timeout xfail
    timed_out: bool = False  # nbval's "timed out" flag was set when this cell ended
    kernel_died: bool = False
    stderr: str = ""  # the cell's stderr streams (red on a student's screen), capped


@dataclass
class CheckResult:
    check: str
    points: float
    max_points: float
    status: str
    message: str = ""


@dataclass
class StudentResult:
    student: str
    lab: str
    checks: list[CheckResult]
    flags: list[str] = field(default_factory=list)
    cells: list[CellRun] = field(default_factory=list)
    notebook: Path | None = None  # the graded (sanitised) copy
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

    def status(self, check: str) -> str:
        return next(c.status for c in self.checks if c.check == check)

    def first_error(self) -> CellRun | None:
        return next((c for c in sorted(self.cells, key=lambda c: c.index) if c.ename), None)


def _cap(text: Any, limit: int = MESSAGE_LIMIT) -> str:
    """One line (a check's "expected/received/hint" lines joined by "; "), at most ``limit``.

    A check's message is cut in its hint, its expected part and what it checks, in that order,
    never before the end of the student's ``received:`` value (what a student needs to see);
    only a received value longer than ``limit`` on its own is cut, at its end.
    """
    lines = [line.strip() for line in ANSI_RE.sub("", str(text or "")).splitlines()]
    lines = [line for line in lines if line]
    joined = "; ".join(lines)
    if len(joined) <= limit:
        return joined
    sections: list[list[str]] = []  # what / expected / received / hint, with their lines
    for line in lines:
        if not sections or line.startswith(("expected:", "received:", "hint:")):
            sections.append([])
        sections[-1].append(line)
    parts = ["; ".join(section) for section in sections]
    received = next((i for i, part in enumerate(parts) if part.startswith("received:")), None)
    if received is None:
        return joined[: limit - 1] + "…"
    order = [i for i, part in enumerate(parts) if part.startswith("hint:")]
    order += [i for i, part in enumerate(parts) if part.startswith("expected:")]
    order += [i for i in range(len(parts)) if i not in order and i != received]
    for i in order:
        excess = len("; ".join(parts)) - limit
        if excess <= 0:
            break
        keep = max(len(parts[i]) - excess - 1, min(len(parts[i]), 16))
        if keep < len(parts[i]):
            parts[i] = parts[i][:keep] + "…"
    joined = "; ".join(parts)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def _exception(run: CellRun) -> str:
    return _cap(f"{run.ename}: {run.evalue}" if run.evalue else str(run.ename))


def _first_line(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return ""
    for line in _text(cell).splitlines():
        if line.strip() and not line.strip().startswith("#"):
            return _cap(line.strip(), 40)
    return ""


def score_checks(
    lab: Lab,
    nb: dict[str, Any],
    runs: dict[int, CellRun],
    *,
    ended: str | None = None,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    student_timeout: float = DEFAULT_STUDENT_TIMEOUT,
    verdicts: dict[str, dict[str, str]] | None = None,
    flags: list[str] | None = None,
) -> list[CheckResult]:
    """Per-check results from nbval's per-cell results and (grading) the judge's verdicts.

    ``ended`` says why results may be missing: "student_timeout" (killed at the total limit)
    or another short reason (the process ended early). With ``verdicts`` (make grade), a
    check passes only on the judge's word; nbval's log only explains a missing verdict, and a
    check cell that ran without a verdict is a flag (appended to ``flags``). Without it (the
    solutions' own nbval report), nbval's results are the verdicts.
    """
    cells = code_cell_map(nb)
    where = {_canonical_id(c) or c.get("id"): i for i, c in cells.items()}

    def describe(i: int) -> str:
        cid = _canonical_id(cells.get(i, {}))
        if cid:
            return _what(cid)
        line = _first_line(cells.get(i))
        return f"code cell {i}" + (f" ({line!r})" if line else "")

    timeouts = [i for i, r in runs.items() if r.timed_out]
    timeout_at = min(timeouts) if timeouts else None
    if timeout_at is None and any(r.xfail for r in runs.values()):
        timeout_at = min(i for i, r in runs.items() if r.xfail) - 1
    deaths = [i for i, r in runs.items() if r.kernel_died]
    died_at = min(deaths) if deaths else None

    results = []
    for check in lab.checks:
        i = where.get(check.id)
        run = runs.get(i) if i is not None else None
        status, message = "error", ""
        if i is None:
            status, message = "missing", "the check cell is not in the graded notebook"
        elif timeout_at is not None and i > timeout_at:
            status = "timeout"
            message = (
                f"not graded: {describe(timeout_at)} timed out before it "
                f"(limit {cell_timeout:g} s per cell), so later checks score 0"
            )
        elif timeout_at == i:
            status, message = "timeout", f"timed out: the check ran over {cell_timeout:g} s"
        elif died_at is not None and i > died_at:
            message = f"not run: the kernel died in {describe(died_at)} (os._exit, a crash or out of memory)"
        elif died_at == i:
            message = (
                "the kernel died while running this check (os._exit, a crash or out of memory)"
            )
        elif run is None or run.outcome == "skipped":
            if ended == "student_timeout":
                status = "timeout"
                message = f"not run: the notebook ran over the total limit of {student_timeout:g} s"
            else:
                message = "not run: " + (ended or (run.detail if run else "") or "no result")
        elif run.outcome == "passed":
            status = "passed"
        elif run.ename in FAILURE_NAMES or (run.ename or "").endswith("AssertionError"):
            status, message = "failed", _exception(run)
        elif run.ename:
            message = _exception(run)
        else:
            message = _cap(run.detail or "the cell failed")
        if verdicts is not None:
            status, message = _merge(check.id, status, message, verdicts.get(check.id), flags)
        points = check.points if status == "passed" else 0.0
        results.append(CheckResult(check.id, points, check.points, status, message))
    return results


def _merge(
    cid: str, status: str, message: str, verdict: dict[str, str] | None, flags: list[str] | None
) -> tuple[str, str]:
    if status == "timeout":  # at or after a timeout: 0, whatever was judged
        return status, message
    if verdict is not None:
        judged = verdict.get("status")
        if judged in ("passed", "failed", "error"):
            return judged, _cap(verdict.get("message", ""))
    if status == "passed":
        if flags is not None:
            flags.append(
                f"check {cid}: its cell ran but never reached the judge (stub removed or broken?)"
            )
        return "error", "not judged: the check cell ran but did not reach the judge"
    return status, message


def missing_result(
    student: str, lab: Lab, reason: str, flags: list[str] | None = None, status: str = "missing"
) -> StudentResult:
    """Every check at 0 with ``reason``: ``missing`` (no notebook for the lab) or ``invalid``
    (a notebook that is there but cannot be read as one: invalid JSON, not UTF-8, nbformat 3)."""
    checks = [CheckResult(c.id, 0.0, c.points, status, reason) for c in lab.checks]
    label = "missing" if status == "missing" else "invalid notebook"
    return StudentResult(student, lab.stem, checks, [*(flags or []), f"{label}: {reason}"])


def _num(x: float) -> str:
    return f"{x:g}"


def write_csvs(results: Iterable[StudentResult], out: Path) -> None:
    results = list(results)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(GRADES_COLUMNS)
        for r in results:
            for c in r.checks:
                writer.writerow(
                    [r.student, r.lab, c.check, _num(c.points), _num(c.max_points), c.status]
                    + [c.message]
                )
    with open(out / "summary.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(SUMMARY_COLUMNS)
        for r in results:
            writer.writerow(
                [r.student, r.lab, _num(r.score), _num(r.max_score), "; ".join(r.flags)]
            )


# --------------------------------------------------------------------------- make notebooks' report


def runs_from_junit(path: Path) -> dict[str, dict[int, CellRun]]:
    """Per notebook file name, nbval's per-cell results from a pytest JUnit XML report."""
    tree = ET.parse(path)
    found: dict[str, dict[int, CellRun]] = {}
    for case in tree.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        m = re.fullmatch(r"Cell (\d+)", name)
        if not m or not classname.endswith(".ipynb"):
            continue
        notebook = ".".join(classname.split(".")[-2:])
        index = int(m.group(1))
        run = CellRun(index, "passed")
        for child in case:
            text = ANSI_RE.sub("", f"{child.get('message', '')}\n{child.text or ''}")
            if child.tag in ("failure", "error"):
                run.outcome = "failed"
                names = ENAME_RE.findall(text)
                run.ename = names[-1] if names else None
                run.detail = _cap(child.get("message", ""))
                run.timed_out = "Timeout of" in text
                run.kernel_died = "Kernel dead" in text
            elif child.tag == "skipped":
                run.outcome = "skipped"
                run.xfail = child.get("type") == "pytest.xfail"
                run.detail = _cap(child.get("message", ""))
        found.setdefault(notebook, {})[index] = run
    return found


def verify_solutions(report: Path, solutions: Path = SOLUTIONS) -> list[str]:
    """Problems when a solution in ``report`` (nbval over solutions/) does not score full."""
    if not Path(report).exists():
        return [f"{report} does not exist: run nbval over solutions/ with --junitxml to write it."]
    try:
        runs = runs_from_junit(report)
    except ET.ParseError as err:
        return [f"{report} is not a JUnit XML report ({err})."]
    problems = []
    for number in available_labs(solutions):
        lab = load_lab(number, solutions)
        if lab.path.name not in runs:
            problems.append(f"{lab.path.name}: no results in {report}.")
            continue
        results = score_checks(lab, lab.solution, runs[lab.path.name])
        score = sum(r.points for r in results)
        print(f"{lab.stem}: the solution scores {score:g}/{lab.max_score:g}")
        for r in results:
            if r.status != "passed":
                problems.append(f"{lab.path.name}: check {r.check} {r.status}: {r.message}")
    return problems
