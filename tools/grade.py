"""Grade a folder of submissions of one lab: ``make grade LAB=NN SUBMISSIONS=DIR OUT=DIR``.

``DIR/<student>/NN_*.ipynb`` holds one student's notebook (the folder name is the student).
For each student the grader

1. copies the notebook into ``OUT/work/<student>/`` (submissions are only ever read);
2. sanitises the copy: drops outputs and notebook metadata (kernelspec included); strips nbval
   comment markers (``# NBVAL_*``) and tags from the student's cells; replaces the setup and
   check cells, matched by cell id (else by their course metadata, else by their source), with
   the canonical source from ``solutions/`` (hidden checks included); re-inserts missing ones
   where they belong; every repair becomes a flag in ``summary.csv``;
3. runs the copy with nbval (``pytest --nbval-lax --nbval-current-env``) in its own process
   group, with a per-cell timeout and a total timeout per student (the whole process tree is
   killed), several students in parallel up to the core count;
4. maps nbval's per-cell results to the check cells and writes ``OUT/grades.csv`` and
   ``OUT/summary.csv``.

A small pytest plugin in this module (``pytest -p tools.grade --grade-log FILE``) writes one
JSON line per nbval cell as soon as the cell ends, so the results of the cells before a hang
survive the kill; it notices a dead kernel (``os._exit``, a segfault) within a second instead
of waiting for the cell timeout, and stops running cells once the notebook timed out or its
kernel died. An IPython startup file caps what one cell may print.

``--solutions-junit FILE`` instead maps the JUnit report that ``make notebooks`` writes for
``solutions/`` through the same scoring, and fails unless every solution scores full marks.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import notebooks

ROOT = notebooks.ROOT
SOLUTIONS = notebooks.SOLUTIONS

STATUSES = ("passed", "failed", "error", "timeout", "missing")
GRADES_COLUMNS = ["student", "lab", "check", "points", "max_points", "status", "message"]
SUMMARY_COLUMNS = ["student", "lab", "score", "max_score", "flags"]
# Exceptions that mean "the check ran and did not hold" (status failed); any other exception
# in a check cell is status error. CheckFailure is common.checks' AssertionError subclass.
FAILURE_NAMES = frozenset({"AssertionError", "CheckFailure"})

DEFAULT_CELL_TIMEOUT = 300.0
DEFAULT_STUDENT_TIMEOUT = 1200.0
DEFAULT_PROFILE = "smoke"
MESSAGE_LIMIT = 300  # characters of an exception message kept in grades.csv
OUTPUT_LIMIT = 100_000  # characters one cell may print (stdout + stderr) before it is cut
LOG_TAIL = 20_000  # characters of the pytest process's own output kept per student
KERNEL_POLL_S = 1.0

NBVAL_MARKER_RE = re.compile(r"^\s*#+\s*(NBVAL_[A-Z_]+|PYTEST_VALIDATE_IGNORE_OUTPUT)\s*$")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ENAME_RE = re.compile(r"^([A-Z]\w*(?:Error|Exception|Failure|Interrupt|Exit))\b", re.MULTILINE)
LAB_RE = re.compile(r"^\d{1,2}$")
IGNORED_FOLDERS = ("__MACOSX", ".ipynb_checkpoints")


class GradeError(Exception):
    """A usage error found before anything runs (unknown lab, no submissions folder)."""


# --------------------------------------------------------------------------- the lab


@dataclass(frozen=True)
class Check:
    id: str
    points: float
    cell_index: int  # position in the solution notebook


@dataclass
class Lab:
    number: str  # "00"
    path: Path  # the solution notebook
    solution: dict[str, Any]
    canonical: dict[str, dict[str, Any]]  # setup/check cell id -> canonical cell (solution)
    versions: dict[str, set[str]]  # cell id -> its normalised solution and lab sources
    checks: list[Check]

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _text(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(s if isinstance(s, str) else str(s) for s in src)
    return src if isinstance(src, str) else ""


def _canonical_id(cell: dict[str, Any]) -> str | None:
    info = notebooks.course_meta(cell)
    if info.get("role") == "setup":
        return "setup"
    if info.get("role") == "check" and info.get("id"):
        return str(info["id"])
    return None


def available_labs(solutions: Path = SOLUTIONS) -> list[str]:
    return sorted({p.name[:2] for p in Path(solutions).glob("*.ipynb") if p.name[:2].isdigit()})


def load_lab(lab: str, solutions: Path = SOLUTIONS) -> Lab:
    """The canonical setup and check cells of lab ``lab`` ("00", "5", …) from ``solutions``."""
    lab = str(lab).strip()
    known = available_labs(solutions)
    if not LAB_RE.match(lab):
        raise GradeError(
            f"LAB should be a lab number such as 00 or 5, received {lab!r}. "
            f"Expected one of: {', '.join(known) or '(none: no solution notebooks)'}."
        )
    number = lab.zfill(2)
    matches = sorted(Path(solutions).glob(f"{number}_*.ipynb"))
    if not matches:
        raise GradeError(
            f"Unknown lab {lab!r}: there is no {solutions}/{number}_*.ipynb. "
            f"Expected one of: {', '.join(known) or '(none: no solution notebooks)'}."
        )
    path = matches[0]
    try:
        solution = notebooks.read(path)
        lab_nb = notebooks.generate_lab(solution, f"labs/{path.name}", _course())
    except notebooks.NotebookError as err:
        raise GradeError(f"The solution notebook cannot be used for grading: {err}") from err
    lab_sources = {c.get("id"): _text(c) for c in lab_nb["cells"]}
    canonical: dict[str, dict[str, Any]] = {}
    versions: dict[str, set[str]] = {}
    checks: list[Check] = []
    for index, cell in enumerate(solution["cells"]):
        cid = _canonical_id(cell)
        if cid is None:
            continue
        if cid in canonical:
            raise GradeError(f"{path}: the setup/check id {cid!r} is used twice.")
        if cell.get("id") != cid:
            raise GradeError(f"{path}: cell {index} should have the cell id {cid!r}.")
        canonical[cid] = cell
        versions[cid] = {_norm(_text(cell)), _norm(lab_sources.get(cid, _text(cell)))}
        if cid != "setup":
            points = notebooks.course_meta(cell).get("points")
            if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
                raise GradeError(f"{path}: check {cid!r} needs positive points, has {points!r}.")
            checks.append(Check(cid, float(points), index))
    if not checks:
        raise GradeError(f"{path}: has no check cells, so there is nothing to grade.")
    return Lab(number, path, solution, canonical, versions, checks)


def _course() -> notebooks.Course:
    try:
        return notebooks.course_config(ROOT)
    except (notebooks.NotebookError, OSError):
        return notebooks.Course("owner/name", "main")


# --------------------------------------------------------------------------- sanitising


def _what(cid: str) -> str:
    return "the setup cell" if cid == "setup" else f"check {cid}"


def sanitise(student: dict[str, Any], lab: Lab) -> tuple[dict[str, Any], list[str]]:
    """The notebook to run and the repairs made (flags), from a student's notebook."""
    flags: list[str] = []
    solution_ids = [c.get("id") for c in lab.solution["cells"]]
    own_ids = set(solution_ids) - set(lab.canonical)
    raw_cells = student.get("cells") if isinstance(student.get("cells"), list) else []
    ids_preserved = any(isinstance(c, dict) and c.get("id") in own_ids for c in raw_cells)

    valid = [
        isinstance(c, dict) and c.get("cell_type") in ("code", "markdown", "raw") for c in raw_cells
    ]
    matches = [_match(c, _text(c), lab) if ok else None for c, ok in zip(raw_cells, valid)]
    # The cell that stands for each canonical cell: the one with its id, else the first match.
    primary: dict[str, int] = {}
    for index, cid in enumerate(matches):
        if cid is None:
            continue
        by_id = raw_cells[index].get("id") == cid
        if cid not in primary or (by_id and raw_cells[primary[cid]].get("id") != cid):
            primary[cid] = index

    out: list[dict[str, Any]] = []
    placed: set[str] = set()
    used_ids: set[str] = set(lab.canonical)
    for index, cell in enumerate(raw_cells):
        if not valid[index]:
            flags.append(f"dropped cell {index}: not a valid notebook cell")
            continue
        text = _text(cell)
        cid = matches[index]
        if cid is not None:
            if primary[cid] != index:
                flags.append(f"removed a second copy of {_what(cid)} (cell {index})")
                continue
            if cell.get("cell_type") != "code":
                flags.append(f"{_what(cid)} was turned into a {cell['cell_type']} cell: restored")
            elif _norm(text) not in lab.versions[cid]:
                flags.append(f"{_what(cid)} was edited: restored the original")
            out.append(_fresh(lab.canonical[cid]))
            placed.add(cid)
            continue
        out.append(_student_cell(cell, text, index, used_ids, flags))

    for cid in (c for c in lab.canonical if c not in placed):  # solution order
        position = _insert_position(out, cid, lab, solution_ids, ids_preserved)
        out.insert(position, _fresh(lab.canonical[cid]))
        placed.add(cid)
        flags.append(
            "re-inserted the missing " + ("setup cell" if cid == "setup" else f"check {cid}")
        )
    nb = {
        "cells": out,
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return nb, flags


def _match(cell: dict[str, Any], text: str, lab: Lab) -> str | None:
    """Which canonical cell a student cell is: by cell id, course metadata, or exact source."""
    if cell.get("id") in lab.canonical:
        return str(cell["id"])
    cid = _canonical_id(cell)
    if cid in lab.canonical:
        return cid
    if cell.get("cell_type") == "code" and _norm(text):
        return next((c for c, texts in lab.versions.items() if _norm(text) in texts), None)
    return None


def _fresh(cell: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(cell)
    new["outputs"] = []
    new["execution_count"] = None
    return new


def _student_cell(
    cell: dict[str, Any], text: str, index: int, used_ids: set[str], flags: list[str]
) -> dict[str, Any]:
    kind = cell["cell_type"]
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    tags = metadata.get("tags")
    if tags:
        flags.append(f"removed the tags {tags!r} from cell {index}")
    if kind == "code":
        lines = text.split("\n")
        markers = [m.group(1) for line in lines if (m := NBVAL_MARKER_RE.match(line))]
        if markers:
            flags.append(f"removed the nbval marker(s) {', '.join(markers)} from cell {index}")
            text = "\n".join(line for line in lines if not NBVAL_MARKER_RE.match(line))
    cid = cell.get("id")
    if not (isinstance(cid, str) and notebooks.CELL_ID_RE.match(cid)) or cid in used_ids:
        n = index
        while f"student-{n}" in used_ids:
            n += 1
        cid = f"student-{n}"
    used_ids.add(cid)
    new: dict[str, Any] = {"cell_type": kind, "id": cid, "metadata": {}, "source": text}
    if kind == "code":
        new["execution_count"] = None
        new["outputs"] = []
    return new


def _insert_position(
    out: list[dict[str, Any]], cid: str, lab: Lab, solution_ids: list, ids_preserved: bool
) -> int:
    """Where a missing canonical cell goes.

    When the notebook kept the lab's cell ids (Jupyter does), right after the nearest cell
    before it in the solution that is still there: a deleted check lands just after its
    exercise. Without ids (some editors drop them), just before the next canonical cell that
    is there (so after the student's exercise code); the setup cell before the first code cell.
    """
    k = solution_ids.index(cid)
    present = [c.get("id") for c in out]
    if ids_preserved:
        for sid in reversed(solution_ids[:k]):
            if sid in present:
                return present.index(sid) + 1
        return 0
    if cid == "setup":
        return next((i for i, c in enumerate(out) if c["cell_type"] == "code"), len(out))
    for sid in solution_ids[k + 1 :]:
        if sid in lab.canonical and sid in present:
            return present.index(sid)
    return len(out)


def code_cell_map(nb: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """nbval's item numbers ('Cell N' counts code cells only) -> the cell."""
    return dict(enumerate(c for c in nb["cells"] if c.get("cell_type") == "code"))


# --------------------------------------------------------------------------- results


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
    """One line (a check's "expected/received/hint" lines joined by "; "), at most ``limit``."""
    lines = (line.strip() for line in ANSI_RE.sub("", str(text or "")).splitlines())
    text = "; ".join(line for line in lines if line)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
) -> list[CheckResult]:
    """Per-check results from nbval's per-cell results.

    ``ended`` says why results may be missing: "student_timeout" (killed at the total limit)
    or another short reason (the process ended early).
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
        points = check.points if status == "passed" else 0.0
        results.append(CheckResult(check.id, points, check.points, status, message))
    return results


def missing_result(
    student: str, lab: Lab, reason: str, flags: list[str] | None = None
) -> StudentResult:
    checks = [CheckResult(c.id, 0.0, c.points, "missing", reason) for c in lab.checks]
    return StudentResult(student, lab.stem, checks, [*(flags or []), f"missing: {reason}"])


# --------------------------------------------------------------------------- finding submissions


def student_folders(submissions: Path) -> tuple[list[Path], list[Path]]:
    """(student folders, stray files) directly in ``submissions``."""
    folders, stray = [], []
    for p in sorted(submissions.iterdir()):
        if p.name.startswith(".") or p.name in IGNORED_FOLDERS:
            continue
        (folders if p.is_dir() else stray).append(p)
    return folders, stray


def find_notebook(folder: Path, lab: Lab) -> tuple[Path | None, list[str], str]:
    """(notebook, flags, reason when there is none) for one student's folder."""
    number = lab.number

    def visible(p: Path) -> bool:
        rel = p.relative_to(folder).parts
        return not any(part.startswith(".") or part in IGNORED_FOLDERS for part in rel)

    everything = sorted(p for p in folder.rglob("*") if p.is_file() and visible(p))
    found = [p for p in everything if p.suffix == ".ipynb"]
    top = [p for p in found if p.parent == folder]
    exact = folder / lab.path.name
    if exact in top:
        return exact, [], ""
    for pool, note in ((top, ""), ([p for p in found if p.parent != folder], "in a subfolder")):
        strict = [p for p in pool if p.name.startswith(f"{number}_")]
        loose = [p for p in pool if re.search(rf"(?<!\d){number}_", p.name)]
        candidates = strict or loose
        if not candidates:
            continue
        chosen = candidates[0]
        rel = chosen.relative_to(folder).as_posix()
        flags = []
        if chosen.name != lab.path.name or note:
            flags.append(f"graded {rel!r} (expected {lab.path.name})")
        if len(candidates) > 1:
            others = ", ".join(repr(p.relative_to(folder).as_posix()) for p in candidates[1:])
            flags.append(f"several notebooks for lab {number}: graded {rel!r}, ignored {others}")
        return chosen, flags, ""
    if not everything:
        return None, [], "the folder is empty"
    if found:
        names = ", ".join(p.relative_to(folder).as_posix() for p in found[:5])
        return None, [], f"no notebook for lab {number} (found {names}: wrong lab number?)"
    names = ", ".join(p.relative_to(folder).as_posix() for p in everything[:5])
    return None, [], f"no .ipynb file (found {names})"


def read_submission(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(notebook, reason when it cannot be graded)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, f"{path.name} is not a text file (not UTF-8): not a notebook"
    except OSError as err:
        return None, f"{path.name} cannot be read: {err.strerror}"
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"{path.name} is not valid notebook JSON ({err.msg} at line {err.lineno})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        if isinstance(nb, dict) and "worksheets" in nb:
            return None, f"{path.name} is an nbformat 3 notebook: open and save it in Jupyter"
        return None, f"{path.name} is JSON but not a Jupyter notebook (no 'cells' list)"
    return nb, ""


# --------------------------------------------------------------------------- running

STARTUP = """\
# Written by the course grader (tools/grade.py): caps what one cell may print.
def _course_grader_cap_output():
    import os
    import sys

    limit = int(os.environ.get("COURSE_GRADER_OUTPUT_LIMIT", "100000"))
    state = {"count": 0, "cut": False}

    def wrap(stream):
        write = stream.write

        def capped(text):
            if state["count"] >= limit:
                if not state["cut"]:
                    state["cut"] = True
                    write("\\n[output cut by the grader after %d characters]\\n" % limit)
                return len(text)
            state["count"] += len(text)
            return write(text[: max(0, limit - state["count"] + len(text))])

        stream.write = capped

    for stream in (sys.stdout, sys.stderr):
        try:
            wrap(stream)
        except Exception:
            pass

    def reset(*args):
        state.update(count=0, cut=False)

    get_ipython().events.register("pre_run_cell", reset)


_course_grader_cap_output()
del _course_grader_cap_output
"""


# `python -m pytest`, minus 3 s of CPU per student: nbformat imports jsonschema, which imports
# the optional rfc3987_syntax, which builds a grammar at import; nbformat never needs it.
PYTEST_BOOT = (
    "import sys; sys.modules.setdefault('rfc3987_syntax', None); "
    "import pytest; sys.exit(pytest.console_main())"
)


@dataclass
class Settings:
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    student_timeout: float = DEFAULT_STUDENT_TIMEOUT
    profile: str = DEFAULT_PROFILE
    output_limit: int = OUTPUT_LIMIT


class _Registry:
    """The running pytest processes, so that Ctrl-C kills them all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.stopping = False

    def add(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.add(proc)
            stopping = self.stopping
        if stopping:
            _kill_tree(proc, [])

    def discard(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.discard(proc)

    def stop_all(self) -> None:
        with self.lock:
            self.stopping = True
            procs = list(self.procs)
        for proc in procs:
            _kill_tree(proc, [])


_RUNNING = _Registry()


def _environment(work: Path, settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONSTARTUP"):
        env.pop(name, None)
    env["LAB_PROFILE"] = settings.profile
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env["IPYTHONDIR"] = str(work / ".ipython")
    env["COURSE_GRADER_OUTPUT_LIMIT"] = str(settings.output_limit)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:
        return []


def _kill_tree(proc: subprocess.Popen, seen: list) -> None:
    """Kill pytest's process group, the kernel (its own session) and anything they started."""
    procs = {p.pid: p for p in [*seen, *_descendants(proc.pid)]}
    for pid, p in procs.items():
        try:
            if p.is_running():
                pgid = os.getpgid(pid)
                if pgid != os.getpgrp():
                    os.killpg(pgid, signal.SIGKILL)
                p.kill()
        except Exception:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def run_notebook(path: Path, settings: Settings) -> tuple[dict[int, CellRun], str | None, str]:
    """Run ``path`` under nbval in its own process group: (runs, why it ended early, log tail)."""
    work = path.parent
    log = work / "results.jsonl"
    log.unlink(missing_ok=True)
    startup = work / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00_course_grader.py").write_text(STARTUP, encoding="utf-8")
    ini = work / "pytest.ini"
    ini.write_text("[pytest]\naddopts =\n", encoding="utf-8")
    cmd = [
        sys.executable,
        "-c",
        PYTEST_BOOT,
        path.name,
        "-c",
        str(ini),
        "--rootdir",
        str(work),
        "-p",
        "tools.grade",
        f"--grade-log={log}",
        "--nbval-lax",
        "--nbval-current-env",
        f"--nbval-cell-timeout={settings.cell_timeout:g}",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "-q",
        "--tb=no",
        "-rN",
        "--no-header",
    ]
    tail: deque[str] = deque()
    size = [0]

    def drain(stream) -> None:
        for chunk in iter(lambda: stream.read(8192), ""):
            tail.append(chunk)
            size[0] += len(chunk)
            while size[0] > LOG_TAIL and len(tail) > 1:
                size[0] -= len(tail.popleft())

    proc = subprocess.Popen(
        cmd,
        cwd=work,
        env=_environment(work, settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    _RUNNING.add(proc)
    reader = threading.Thread(target=drain, args=(proc.stdout,), daemon=True)
    reader.start()
    deadline = time.monotonic() + settings.student_timeout
    seen: dict[int, Any] = {}
    ended = None
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                ended = "student_timeout"
                break
            for p in _descendants(proc.pid):
                seen.setdefault(p.pid, p)
            time.sleep(0.5)
    finally:
        # Kill what is left: everything at the total timeout; after a normal end, a kernel
        # or a student's process that outlived pytest.
        _kill_tree(proc, list(seen.values()))
        reader.join(timeout=5)
        _RUNNING.discard(proc)
    text = "".join(tail)[-LOG_TAIL:]
    (work / "pytest.log").write_text(text, encoding="utf-8")
    runs = read_runs(log)
    if ended is None and proc.returncode not in (0, 1):
        last = [line for line in text.strip().splitlines() if line.strip()][-1:]
        ended = f"the grading process ended with exit code {proc.returncode}" + (
            f" ({_cap(last[0], 120)})" if last else ""
        )
    return runs, ended, text


def read_runs(log: Path) -> dict[int, CellRun]:
    runs: dict[int, CellRun] = {}
    if not log.exists():
        return runs
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
            run = CellRun(**data)
        except (json.JSONDecodeError, TypeError):
            continue  # a line cut by a kill
        if run.index not in runs or runs[run.index].outcome == "passed":
            runs[run.index] = run
    return runs


def grade_student(folder: Path, lab: Lab, out: Path, settings: Settings) -> StudentResult:
    """Find, copy, sanitise, run and score one student's notebook (never raises for bad input)."""
    student = folder.name
    start = time.monotonic()
    path, flags, reason = find_notebook(folder, lab)
    if path is None:
        return missing_result(student, lab, reason, flags)
    nb, reason = read_submission(path)
    if nb is None:
        return missing_result(student, lab, reason, flags)
    try:
        clean, repairs = sanitise(nb, lab)
    except Exception as err:  # a notebook too broken to repair
        return missing_result(student, lab, f"cannot be repaired for grading: {_cap(err)}", flags)
    flags += repairs
    work = out / "work" / student
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy_path = work / lab.path.name
    copy_path.write_text(notebooks.dumps(clean), encoding="utf-8")
    runs, ended, _ = run_notebook(copy_path, settings)
    checks = score_checks(
        lab,
        clean,
        runs,
        ended=ended,
        cell_timeout=settings.cell_timeout,
        student_timeout=settings.student_timeout,
    )
    if ended == "student_timeout":
        flags.append(f"stopped at the total limit of {settings.student_timeout:g} s")
    elif ended:
        flags.append(ended)
    return StudentResult(
        student,
        lab.stem,
        checks,
        flags,
        sorted(runs.values(), key=lambda r: r.index),
        copy_path,
        time.monotonic() - start,
    )


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def grade(
    lab: str,
    submissions: Path,
    out: Path,
    *,
    solutions: Path = SOLUTIONS,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    student_timeout: float = DEFAULT_STUDENT_TIMEOUT,
    jobs: int | None = None,
    profile: str | None = None,
    log: Callable[[str], None] | None = None,
) -> list[StudentResult]:
    """Grade every ``submissions/<student>/`` for ``lab``; write the two CSVs into ``out``."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    the_lab = load_lab(lab, solutions)
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise GradeError(
            f"SUBMISSIONS folder {str(submissions)!r} does not exist or is not a folder "
            "(expected one folder per student holding that student's notebook)."
        )
    sub, dest = submissions.resolve(), out.resolve()
    if dest == sub or dest.is_relative_to(sub) or sub.is_relative_to(dest / "work"):
        raise GradeError(
            f"OUT ({out}) must not be inside SUBMISSIONS ({submissions}) or the other way round."
        )
    if cell_timeout <= 0 or student_timeout <= 0:
        raise GradeError("CELL_TIMEOUT and STUDENT_TIMEOUT must be positive numbers of seconds.")
    profile = profile or os.environ.get("LAB_PROFILE") or DEFAULT_PROFILE
    if profile not in ("smoke", "full"):
        raise GradeError(f"Unknown profile {profile!r}. Expected one of: smoke, full.")
    settings = Settings(cell_timeout, student_timeout, profile)
    folders, stray = student_folders(submissions)
    for path in stray:
        log(f"ignored {path}: expected one folder per student")
    jobs = max(1, min(jobs or default_jobs(), len(folders) or 1))
    out.mkdir(parents=True, exist_ok=True)
    log(
        f"grading {len(folders)} submission(s) of {the_lab.stem} ({the_lab.max_score:g} points) "
        f"with {jobs} worker(s): profile {profile}, {cell_timeout:g} s per cell, "
        f"{student_timeout:g} s per student"
    )
    results: list[StudentResult] = []
    _RUNNING.stopping = False
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(grade_student, f, the_lab, out, settings): f.name for f in folders}
        try:
            for done, future in enumerate(as_completed(futures), 1):
                try:
                    result = future.result()
                except Exception as err:  # a grader bug must not lose the other students
                    result = missing_result(
                        futures[future], the_lab, f"the grader failed: {_cap(err)}"
                    )
                results.append(result)
                flags = f"  [{len(result.flags)} flag(s)]" if result.flags else ""
                log(
                    f"[{done}/{len(folders)}] {result.student}: "
                    f"{result.score:g}/{result.max_score:g} ({result.seconds:.0f} s){flags}"
                )
        except BaseException:  # Ctrl-C: stop every notebook now, start no more
            pool.shutdown(wait=False, cancel_futures=True)
            _RUNNING.stop_all()
            raise
    results.sort(key=lambda r: r.student)
    write_csvs(results, out)
    log(f"wrote {out / 'grades.csv'} and {out / 'summary.csv'}")
    return results


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
        return [f"{report} does not exist: run `make notebooks` (it writes the report)."]
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


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lab", help="lab number, e.g. 00 (solutions/NN_*.ipynb)")
    parser.add_argument(
        "--submissions",
        type=Path,
        help="folder with one folder per student, each holding that student's NN_*.ipynb",
    )
    parser.add_argument(
        "--out", type=Path, help="output folder for grades.csv, summary.csv and work/"
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_CELL_TIMEOUT,
        help="seconds one cell may run (default %(default)g)",
    )
    parser.add_argument(
        "--student-timeout",
        type=float,
        default=DEFAULT_STUDENT_TIMEOUT,
        help="seconds one student's whole notebook may run (default %(default)g)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="students graded in parallel (default 0: one per CPU core)",
    )
    parser.add_argument(
        "--profile",
        choices=("smoke", "full"),
        default=None,
        help="LAB_PROFILE for the notebooks (default: $LAB_PROFILE, else smoke)",
    )
    parser.add_argument(
        "--solutions", type=Path, default=SOLUTIONS, help="solutions folder (default solutions/)"
    )
    parser.add_argument(
        "--solutions-junit",
        type=Path,
        metavar="XML",
        help="instead of grading: score solutions/ from the nbval JUnit report of "
        "`make notebooks`; exit 1 unless every solution scores full marks",
    )


def run_cli(args: argparse.Namespace) -> int:
    try:
        if args.solutions_junit:
            problems = verify_solutions(args.solutions_junit, args.solutions)
            for problem in problems:
                print(f"✗ {problem}", file=sys.stderr)
            return 1 if problems else 0
        if not args.lab or not args.submissions:
            print(
                "usage: python -m tools grade --lab NN --submissions DIR [--out DIR] (see --help)",
                file=sys.stderr,
            )
            return 2
        out = args.out or Path("grades") / str(args.lab).zfill(2)
        grade(
            args.lab,
            args.submissions,
            out,
            solutions=args.solutions,
            cell_timeout=args.cell_timeout,
            student_timeout=args.student_timeout,
            jobs=args.jobs or None,
            profile=args.profile,
        )
    except GradeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the running notebooks were stopped", file=sys.stderr)
        return 130
    return 0


# --------------------------------------------------------------------------- pytest plugin
# Loaded only in the grading subprocess: ``pytest -p tools.grade --grade-log FILE``.


class KernelDied(RuntimeError):
    """The kernel process ended while a cell was running."""


def pytest_addoption(parser) -> None:
    parser.addoption("--grade-log", default=None, help="write one JSON line per nbval cell")


def pytest_configure(config) -> None:
    path = config.getoption("grade_log", None)
    if path:
        config.pluginmanager.register(_make_plugin(Path(path)), "course-grade-log")


def _make_plugin(path: Path):
    import pytest

    _patch_nbval()

    class GradeLog:
        def __init__(self) -> None:
            self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115
            self.died = False

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_setup(self, item) -> None:
            parent = getattr(item, "parent", None)
            if getattr(parent, "timed_out", False):
                pytest.skip("not run: an earlier cell timed out")
            if self.died:
                pytest.skip("not run: the kernel died")

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(self, item, call):
            outcome = yield
            try:
                self.record(item, outcome.get_result())
            except Exception as err:  # never let the log break a run
                print(f"grade log: {err!r}", file=sys.stderr)

        def record(self, item, report) -> None:
            if not hasattr(item, "cell_num"):
                return
            if report.when != "call" and (report.when != "setup" or report.passed):
                return
            parent = item.parent
            timed_out = bool(getattr(parent, "timed_out", False))
            kernel = getattr(parent, "kernel", None)
            died = False
            if report.failed and not timed_out and kernel is not None:
                died = not kernel.is_alive()
            if died:
                self.died = True
            outputs = getattr(item, "test_outputs", None) or []
            error = next((o for o in outputs if o.get("output_type") == "error"), None)
            detail = ""
            if error:
                pass  # ename and evalue say it
            elif report.failed:
                detail = report.longreprtext
            elif report.skipped and isinstance(report.longrepr, tuple):
                detail = str(report.longrepr[2]).removeprefix("Skipped: ")
            run = CellRun(
                index=item.cell_num,
                outcome=report.outcome,
                ename=error.get("ename") if error else None,
                evalue=_cap(error.get("evalue", "")) if error else "",
                detail=_cap(detail[-2000:]),
                xfail=hasattr(report, "wasxfail"),
                timed_out=timed_out,
                kernel_died=died,
            )
            self.file.write(json.dumps(run.__dict__) + "\n")
            self.file.flush()

    return GradeLog()


def _patch_nbval() -> None:
    """Make nbval notice a dead kernel within a second instead of at the cell timeout."""
    from queue import Empty

    try:
        from nbval.kernel import RunningKernel
    except ImportError:
        return

    def await_reply(self, msg_id, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = KERNEL_POLL_S
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Empty
                step = min(step, left)
            try:
                msg = self.get_message(stream="shell", timeout=step)
            except Empty:
                if not self.is_alive():
                    raise KernelDied("the kernel died while running the cell") from None
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                if msg["content"]["status"] == "aborted":
                    raise RuntimeError("Kernel aborted execution request")
                return

    RunningKernel.await_reply = await_reply
