"""The pipeline: collect → sanitise → run (sandboxed, with the judge) → report, per student;
``grade`` runs the students in a local pool (one ``run.Job`` each) and writes the CSVs."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from .. import notebooks
from ..progress import Progress
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
from .run import RUNNING, Job, Outcome, Settings, run_student
from .sanitiser import sanitise


@dataclass
class Prepared:
    """A student ready to run: the job, the flags so far, the graded copy in OUT/work/."""

    job: Job
    flags: list[str]
    copy_path: Path
    start: float


def prepare_student(
    folder: Path, lab: Lab, out: Path, settings: Settings, solutions: Path = SOLUTIONS
) -> Prepared | StudentResult:
    """Find, copy and sanitise one student's notebook: the job to run, or already a row."""
    student = folder.name
    start = time.monotonic()
    path, flags, reason = find_notebook(folder, lab)
    if path is None:
        return missing_result(student, lab, reason, flags)
    nb, reason = read_submission(path)
    if nb is None:
        return missing_result(student, lab, reason, flags, status="invalid")
    try:
        clean, repairs = sanitise(nb, lab)
    except Exception as err:  # a notebook too broken to repair
        reason = f"cannot be repaired for grading: {_cap(err)}"
        return missing_result(student, lab, reason, flags, status="invalid")
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
    return Prepared(job, flags, copy_path, start)


def finish_student(
    lab: Lab, prepared: Prepared, outcome: Outcome, seconds: float | None = None
) -> StudentResult:
    """Score one student's outcome (wherever it ran) into a row."""
    job, flags, settings = prepared.job, prepared.flags, prepared.job.settings
    flags += outcome.flags
    checks = score_checks(
        lab,
        job.notebook,
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
        job.student,
        lab.stem,
        checks,
        flags,
        sorted(outcome.runs.values(), key=lambda r: r.index),
        prepared.copy_path,
        time.monotonic() - prepared.start if seconds is None else seconds,
    )


def grade_student(
    folder: Path, lab: Lab, out: Path, settings: Settings, solutions: Path = SOLUTIONS
) -> StudentResult:
    """Find, copy, sanitise, run and score one student's notebook (never raises for bad input)."""
    prepared = prepare_student(folder, lab, out, settings, solutions)
    if isinstance(prepared, StudentResult):
        return prepared
    return finish_student(lab, prepared, run_student(prepared.job))


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
    snapshot: bool = False,
    scheduler: str | None = None,
    progress: bool | None = None,
) -> list[StudentResult]:
    """Grade every ``submissions/<student>/`` for ``lab``; write the two CSVs into ``out``.

    ``scheduler`` (a Dask scheduler address, a scheduler file, or ``local``) runs one task per
    student on that cluster (``cluster``) instead of the local pool of ``jobs`` threads.
    ``progress``: a progress bar on stderr (default: when stderr is a terminal and ``log`` is
    not given); without it, plain progress lines go to ``log``.
    """
    terminal = (log is None and sys.stderr.isatty()) if progress is None else progress
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
    settings = Settings(
        cell_timeout,
        student_timeout,
        profile,
        sandboxed=sandboxed,
        limits=limits,
        snapshot=snapshot,
    )
    folders, stray = student_folders(submissions, the_lab.number)
    for path in stray:
        log(f"ignored {path}: expected one folder per student")
    out.mkdir(parents=True, exist_ok=True)
    where = "in a bubblewrap sandbox" if sandboxed else "WITHOUT a sandbox (--no-sandbox)"
    if scheduler:
        results = _grade_on_cluster(
            scheduler, the_lab, folders, out, settings, solutions, jobs, where, terminal, log
        )
    else:
        results = _grade_locally(
            the_lab, folders, out, settings, solutions, jobs, where, terminal, log
        )
    results.sort(key=lambda r: r.student)
    write_csvs(results, out)
    log(f"wrote {out / 'grades.csv'} and {out / 'summary.csv'}")
    return results


def _progress(total: int, terminal: bool, log: Callable[[str], None]) -> Progress:
    return Progress(
        total,
        "students",
        failures="below full marks",
        flags="flagged",
        log=None if terminal else log,
        terminal=terminal,
    )


def _line(done: int, total: int, result: StudentResult) -> str:
    flags = f"  [{len(result.flags)} flag(s)]" if result.flags else ""
    return (
        f"[{done}/{total}] {result.student}: "
        f"{result.score:g}/{result.max_score:g} ({result.seconds:.0f} s){flags}"
    )


def _advance(bar: Progress, total: int, result: StudentResult) -> None:
    bar.advance(
        _line(bar.done + 1, total, result),
        failed=result.score < result.max_score,
        flagged=bool(result.flags),
    )


def _grade_locally(
    the_lab: Lab,
    folders: list[Path],
    out: Path,
    settings: Settings,
    solutions: Path,
    jobs: int | None,
    where: str,
    terminal: bool,
    log: Callable[[str], None],
) -> list[StudentResult]:
    """The local pool: ``jobs`` students at a time, each ``grade_student`` in a thread."""
    jobs = max(1, min(jobs or default_jobs(), len(folders) or 1))
    log(
        f"grading {len(folders)} submission(s) of {the_lab.stem} ({the_lab.max_score:g} points) "
        f"with {jobs} worker(s) {where}: profile {settings.profile}, "
        f"{settings.cell_timeout:g} s per cell, {settings.student_timeout:g} s per student"
    )
    results: list[StudentResult] = []
    RUNNING.stopping = False
    with (
        _progress(len(folders), terminal, log) as bar,
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):
        futures = {
            pool.submit(grade_student, f, the_lab, out, settings, solutions): f.name
            for f in folders
        }
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as err:  # a grader bug must not lose the other students
                    result = missing_result(
                        futures[future], the_lab, f"the grader failed: {_cap(err)}"
                    )
                results.append(result)
                _advance(bar, len(folders), result)
        except BaseException:  # Ctrl-C: stop every notebook now, start no more
            pool.shutdown(wait=False, cancel_futures=True)
            RUNNING.stop_all()
            raise
    return results


def _grade_on_cluster(
    address: str,
    the_lab: Lab,
    folders: list[Path],
    out: Path,
    settings: Settings,
    solutions: Path,
    jobs: int | None,
    where: str,
    terminal: bool,
    log: Callable[[str], None],
) -> list[StudentResult]:
    """One Dask task per student (``cluster``); preparing and scoring stay on this machine."""
    from . import cluster

    expected = cluster.expected_setup(solutions, the_lab.path.name, settings.sandboxed)
    client = cluster.connect(address, jobs, log)
    try:
        workers, threads = cluster.describe(client)
        log(
            f"grading {len(folders)} submission(s) of {the_lab.stem} "
            f"({the_lab.max_score:g} points) on the Dask cluster at {client.scheduler.address} "
            f"({workers} worker(s), {threads} thread(s) now) {where}: profile "
            f"{settings.profile}, {settings.cell_timeout:g} s per cell, "
            f"{settings.student_timeout:g} s per student"
        )
        if not workers:
            log("no worker connected yet: the students wait until workers connect")
        cluster.check_workers(client, expected)
        results: list[StudentResult] = []
        prepared: dict[str, Prepared] = {}
        with _progress(len(folders), terminal, log) as bar:

            def jobs_to_run():  # each job is submitted as soon as it is prepared
                for folder in folders:
                    try:
                        item = prepare_student(folder, the_lab, out, settings, solutions)
                    except Exception as err:  # a grader bug must not lose the other students
                        item = missing_result(
                            folder.name, the_lab, f"the grader failed: {_cap(err)}"
                        )
                    if isinstance(item, StudentResult):
                        results.append(item)
                        _advance(bar, len(folders), item)
                    else:
                        prepared[item.job.student] = item
                        yield item.job

            def done(job: Job, remote: cluster.Remote | None, error: str | None) -> None:
                item = prepared[job.student]
                if remote is None:
                    result = missing_result(job.student, the_lab, _cap(error), item.flags)
                else:
                    for name, data in remote.files.items():
                        target = job.work / name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(data)
                    (job.work / "pytest.log").write_text(remote.outcome.log, encoding="utf-8")
                    result = finish_student(the_lab, item, remote.outcome, remote.seconds)
                results.append(result)
                _advance(bar, len(folders), result)

            cluster.run_all(client, jobs_to_run(), expected, done)
    finally:
        cluster.close(client)
    return results
