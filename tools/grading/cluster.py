"""The Dask engine: one task per student on a ``distributed`` cluster (``--scheduler``).

The grader prepares every student as for the local pool (find, read, sanitise, copy into
``OUT/work/<student>/``), then submits one task per student: ``run_remote(job, expected)``
runs ``run.run_student`` on a worker — sandbox and judge included — in a scratch folder of
the worker's own (``OUT`` need not be shared) and returns the ``Outcome`` with the small
logs. The grader scores the outcomes and writes the CSVs exactly as the local pool does.

Faults. Dask reschedules the tasks of a worker that dies (its connection drops, or it stops
heart-beating for ``distributed.scheduler.worker-ttl``) on the other workers; a task whose
workers died ``distributed.scheduler.allowed-failures`` times (default 3) ends as
``KilledWorker`` and becomes that student's row ("the grader failed: …") instead of a retry
storm. Tasks are submitted with ``retries=0``: a student's notebook that crashes, hangs or
kills its kernel is not an exception (``run_student`` returns an ``Outcome`` for it), and an
exception of the grader itself is not retried either.

Workers need the repository at the same commit, the venv and bubblewrap; each task checks
the worker against the grader (a digest of ``tools/``, ``common/`` and the lab's solution,
the versions of the packages that run notebooks, a working ``bwrap``) and refuses to grade on
a worker that differs (``WorkerSetupError``: grading stops and names the worker).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from . import sandbox
from .lab import ROOT, GradeError
from .run import Job, Outcome, run_student

# The packages whose versions change how a notebook runs or is judged.
PACKAGES = ("tensorflow", "keras", "numpy", "nbval", "nbclient", "ipykernel", "cloudpickle")
# Small files of a worker's scratch folder brought back into OUT/work/<student>/ (the same
# layout as a local run), each cut to KEEP_LIMIT bytes.
KEPT = ("kernel/results.jsonl", "judge/verdicts.jsonl", "judge/judge.log")
KEEP_LIMIT = 2_000_000
CONNECT_TIMEOUT = 30.0  # seconds to reach the scheduler


class WorkerSetupError(RuntimeError):
    """A worker that cannot grade like the grader's machine (code, packages, sandbox)."""


@dataclass
class Remote:
    """What a task sends back: the outcome, where and how long it ran, its small logs."""

    outcome: Outcome
    seconds: float
    worker: str
    files: dict[str, bytes]


# --------------------------------------------------------------------------- same setup


def _digest_files(paths: Iterable[Path], base: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(base).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@cache
def code_digest(root: Path = ROOT) -> str:
    """A digest of the code a task runs: every file under tools/ and common/ (no caches)."""
    files = [
        p
        for part in ("tools", "common")
        for p in (root / part).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    return _digest_files(files, root)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _solutions_for_worker(solutions: Path) -> str:
    """The solutions folder as a worker finds it: relative to the repository when inside it."""
    solutions = Path(solutions).resolve()
    return (
        solutions.relative_to(ROOT).as_posix() if solutions.is_relative_to(ROOT) else str(solutions)
    )


def _local_solutions(where: str) -> Path:
    path = Path(where)
    return path if path.is_absolute() else ROOT / path


def expected_setup(solutions: Path, lab_file: str, sandboxed: bool) -> dict[str, Any]:
    """What every worker must match, computed on the grader's machine."""
    where = _solutions_for_worker(solutions)
    return {
        "code": code_digest(),
        "lab": hashlib.sha256((_local_solutions(where) / lab_file).read_bytes()).hexdigest(),
        "versions": versions(),
        "solutions": where,
        "lab_file": lab_file,
        "sandboxed": sandboxed,
        "commit": _commit(),
    }


def _commit() -> str:
    head = ROOT / ".git" / "HEAD"
    try:
        text = head.read_text().strip()
        if text.startswith("ref: "):
            ref = ROOT / ".git" / text[5:]
            return ref.read_text().strip()[:12] if ref.exists() else text[5:]
        return text[:12]
    except OSError:
        return "unknown"


def worker_problem(expected: dict[str, Any]) -> str | None:
    """Why this machine cannot grade like the grader's (None: it can)."""
    if code_digest() != expected["code"]:
        return (
            f"its repository ({ROOT}) differs from the grader's in tools/ or common/: check out "
            f"commit {expected['commit']} there (the same files, no local changes) and restart "
            "the worker"
        )
    lab = _local_solutions(expected["solutions"]) / expected["lab_file"]
    if not lab.is_file():
        return f"it has no {lab} (the repository at commit {expected['commit']} is needed)"
    if hashlib.sha256(lab.read_bytes()).hexdigest() != expected["lab"]:
        return f"its {lab} differs from the grader's (check out commit {expected['commit']})"
    mine = versions()
    differ = [
        f"{name} {mine.get(name)} (grader: {version})"
        for name, version in expected["versions"].items()
        if mine.get(name) != version
    ]
    if differ:
        return "its venv differs: " + ", ".join(differ) + " (run `make install` there)"
    if expected["sandboxed"] and not sandbox.bwrap():
        return f"no sandbox: {sandbox.unavailable_reason()} (apt-get install bubblewrap)"
    return None


def check_worker(expected: dict[str, Any]) -> str | None:
    """Run on every connected worker before grading (``Client.run``)."""
    return worker_problem(expected)


# --------------------------------------------------------------------------- the task


def run_remote(job: Job, expected: dict[str, Any]) -> Remote:
    """One student on a worker: ``run_student`` in a fresh scratch folder of this machine."""
    host = socket.gethostname()
    problem = worker_problem(expected)
    if problem:
        raise WorkerSetupError(f"worker {host}: {problem}")
    scratch = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        work = scratch / "work" / job.student
        work.mkdir(parents=True)
        start = time.monotonic()
        outcome = run_student(
            replace(job, work=work, solutions=_local_solutions(expected["solutions"]))
        )
        seconds = time.monotonic() - start
        files = {}
        for name in KEPT:
            path = work / name
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as fh:
                    files[name] = fh.read(KEEP_LIMIT)
        return Remote(outcome, seconds, host, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------- the grader's side


def connect(address: str, jobs: int | None, log: Callable[[str], None]):
    """A ``distributed.Client``: ``local`` starts a LocalCluster of ``jobs`` workers on
    127.0.0.1; a path to a JSON file is a scheduler file; else a scheduler address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - the pins install it
        raise GradeError(
            "--scheduler needs Dask's `distributed` package: run `make install`."
        ) from err
    try:
        if address == "local":
            workers = jobs or max(1, len(os.sched_getaffinity(0)))
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                memory_limit=0,  # each student has its own limits (sandbox.Limits)
            )
            client = Client(cluster, timeout=CONNECT_TIMEOUT)
            client._course_cluster = cluster  # closed with the client (see close)
            return client
        if address.endswith(".json") and Path(address).is_file():
            return Client(scheduler_file=address, timeout=CONNECT_TIMEOUT)
        return Client(address, timeout=CONNECT_TIMEOUT)
    except OSError as err:
        raise GradeError(
            f"cannot reach the Dask scheduler at {address!r}: {err}. Start one with "
            "`.venv/bin/dask scheduler` and workers with `make grade-worker` "
            '(README, "Grading on a cluster").'
        ) from err


def close(client) -> None:
    cluster = getattr(client, "_course_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def describe(client) -> tuple[int, int]:
    """(workers, threads) connected now."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return len(workers), sum(w.get("nthreads", 0) for w in workers.values())


def check_workers(client, expected: dict[str, Any]) -> None:
    """Refuse to start when a connected worker is set up differently (named in the error)."""
    problems = client.run(check_worker, expected)
    bad = [f"{addr}: {problem}" for addr, problem in sorted(problems.items()) if problem]
    if bad:
        raise GradeError("worker(s) not set up like this machine:\n  " + "\n  ".join(bad))


def run_all(
    client,
    jobs: Iterable[Job],
    expected: dict[str, Any],
    on_done: Callable[[Job, Remote | None, str | None], None],
) -> None:
    """Submit one task per job (as ``jobs`` yields it); call ``on_done(job, remote, error)``
    as each one ends.

    ``error`` (with ``remote`` None) is the reason a task gave no outcome: its workers died
    too often (``KilledWorker``) or the grader failed on the worker. A worker that is not set
    up like the grader stops everything (``GradeError``)."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    run = uuid.uuid4().hex[:8]
    futures = {}
    try:
        for job in jobs:
            key = f"grade-{job.lab}-{run}-{job.student}"
            task = client.submit(run_remote, job, expected, key=key, pure=False, retries=0)
            futures[task] = job
        if not futures:
            return
        # this client's loop: as_completed would bind to the process's default client, another
        # one when the caller has its own Client open (dask/distributed#4317), and a result
        # lost with a dead worker then fails with "bound to a different event loop"
        for future in as_completed(futures, loop=client.loop):
            job = futures[future]
            try:
                remote = future.result()
            except WorkerSetupError as err:
                raise GradeError(f"{err}. Fix or stop that worker, then grade again.") from err
            except KilledWorker:
                on_done(
                    job,
                    None,
                    "the grader failed: the Dask workers grading this notebook died "
                    "repeatedly (distributed.scheduler.allowed-failures); see the workers' logs",
                )
                continue
            except Exception as err:  # a grader bug on the worker must not lose the others
                on_done(job, None, f"the grader failed: {type(err).__name__}: {err}")
                continue
            on_done(job, remote, None)
    except BaseException:
        client.cancel(list(futures), force=True)
        raise
