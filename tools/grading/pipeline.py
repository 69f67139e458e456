"""The pipeline: collect → sanitise → run (sandboxed, with the judge) → report, per student;
``grade`` runs the students in a local pool (one ``run.Job`` each) and writes the CSVs."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .. import notebooks
from . import sandbox
from .collect import find_notebook, read_submission, student_folders
from .lab import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_PROFILE,
    DEFAULT_STUDENT_TIMEOUT,
    SOLUTIONS,
    GradeError,
    Lab,
    load_lab,
)
from .report import StudentResult, _cap, missing_result, score_checks, write_csvs
from .run import RUNNING, Job, Settings, run_student
from .sanitiser import sanitise


def grade_student(
    folder: Path, lab: Lab, out: Path, settings: Settings, solutions: Path = SOLUTIONS
) -> StudentResult:
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
    if not settings.sandboxed:
        flags.append("graded WITHOUT a sandbox (--no-sandbox)")
    work = out / "work" / student
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy_path = work / lab.path.name
    copy_path.write_text(notebooks.dumps(clean), encoding="utf-8")
    job = Job(student, lab.number, solutions, clean, [c.id for c in lab.checks], work, settings)
    outcome = run_student(job)
    flags += outcome.flags
    checks = score_checks(
        lab,
        clean,
        outcome.runs,
        ended=outcome.ended,
        cell_timeout=settings.cell_timeout,
        student_timeout=settings.student_timeout,
        verdicts=outcome.verdicts,
        flags=flags,
    )
    if outcome.ended == "student_timeout":
        flags.append(f"stopped at the total limit of {settings.student_timeout:g} s")
    elif outcome.ended:
        flags.append(outcome.ended)
    return StudentResult(
        student,
        lab.stem,
        checks,
        flags,
        sorted(outcome.runs.values(), key=lambda r: r.index),
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
    sandboxed: bool = True,
    memory: int | None = None,
    log: Callable[[str], None] | None = None,
) -> list[StudentResult]:
    """Grade every ``submissions/<student>/`` for ``lab``; write the two CSVs into ``out``."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    the_lab = load_lab(lab, solutions)
    # Absolute: the sandboxes bind these folders and start in other working directories.
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
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
    if sandboxed and not sandbox.bwrap():
        raise GradeError(
            f"No sandbox: {sandbox.unavailable_reason()}. Submissions run students' code, so "
            "the grader refuses to run them unsandboxed. Install bubblewrap (Debian/Ubuntu: "
            "apt-get install bubblewrap) on Linux, or pass --no-sandbox (NO_SANDBOX=1) to grade "
            "trusted notebooks anyway (every row of summary.csv then says so)."
        )
    limits = sandbox.Limits(memory=memory) if memory else sandbox.Limits()
    settings = Settings(cell_timeout, student_timeout, profile, sandboxed=sandboxed, limits=limits)
    folders, stray = student_folders(submissions)
    for path in stray:
        log(f"ignored {path}: expected one folder per student")
    jobs = max(1, min(jobs or default_jobs(), len(folders) or 1))
    out.mkdir(parents=True, exist_ok=True)
    where = "in a bubblewrap sandbox" if sandboxed else "WITHOUT a sandbox (--no-sandbox)"
    log(
        f"grading {len(folders)} submission(s) of {the_lab.stem} ({the_lab.max_score:g} points) "
        f"with {jobs} worker(s) {where}: profile {profile}, {cell_timeout:g} s per cell, "
        f"{student_timeout:g} s per student"
    )
    results: list[StudentResult] = []
    RUNNING.stopping = False
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(grade_student, f, the_lab, out, settings, solutions): f.name
            for f in folders
        }
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
            RUNNING.stop_all()
            raise
    results.sort(key=lambda r: r.student)
    write_csvs(results, out)
    log(f"wrote {out / 'grades.csv'} and {out / 'summary.csv'}")
    return results
