"""Run: one student's self-contained unit of work (``run_student``): the kernel, sandboxed,
under nbval, and the judge beside it; inputs in (the graded notebook, the lab, the limits),
results out (nbval's per-cell log, the judge's verdicts and flags, why it ended).

The grader starts the judge (``tools.grading.judge``) and then pytest + nbval + the student's
kernel in the sandbox (``sandbox``); each check cell of the kernel's copy is a stub that
serves the judge over a Unix socket. The grader watches the time (per student), the memory
and the processes, and kills the whole sandbox at the end.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import notebooks
from . import sandbox
from .lab import DEFAULT_CELL_TIMEOUT, DEFAULT_PROFILE, DEFAULT_STUDENT_TIMEOUT, ROOT
from .report import CellRun, _cap

OUTPUT_LIMIT = 100_000  # characters one cell may print (stdout + stderr) before it is cut
LOG_TAIL = 20_000  # characters of the pytest process's own output kept per student
JUDGE_START_S = 120.0  # seconds the judge may take to open its socket
STUB = (
    "# Check {cid}: judged outside this kernel by the course's grader.\n"
    '__import__("tools.grading.kernel", fromlist=["serve"]).serve({cid!r})\n'
)

STARTUP = """\
# Written by the course grader (tools/grading): caps what one cell may print.
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
    sandboxed: bool = True  # False only with --no-sandbox (flagged on every row)
    # `make notebooks` only (tools/grading/solutions.py): the kernel saves the plain values of
    # its namespace before each check (tools/grading/forge.py); never in a student's grading.
    snapshot: bool = False
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)


@dataclass
class Job:
    """One student's unit of work: everything it needs in, nothing shared."""

    student: str
    lab: str  # "00"
    solutions: Path
    notebook: dict[str, Any]  # the sanitised notebook (canonical check cells)
    check_ids: list[str]
    work: Path  # OUT/work/<student>: this job's only folder
    settings: Settings


@dataclass
class Outcome:
    runs: dict[int, CellRun]
    verdicts: dict[str, dict[str, str]]
    flags: list[str]
    ended: str | None
    log: str


class _Registry:
    """The running process groups, so that Ctrl-C kills them all."""

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


RUNNING = _Registry()

PASS_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")
PASS_PREFIXES = ("TF_", "XLA_", "KERAS_BACKEND")


def _base_env(home: Path, settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in PASS_ENV or k.startswith(PASS_PREFIXES)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        HOME=str(home),
        LAB_PROFILE=settings.profile,
        PYTHONPATH=str(ROOT),
        KERAS_HOME=str(home / ".keras"),
        MPLCONFIGDIR=str(home / ".mplconfig"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        PYTHONWARNINGS="ignore::DeprecationWarning",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not settings.sandboxed:  # the old behaviour: the grader's own environment
        env = {**os.environ, **env}
        for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONSTARTUP"):
            env.pop(name, None)
    return env


def _font_cache(home: Path) -> None:
    """Give a home (the kernel's, the judge's) matplotlib's font list, so that matplotlib does
    not rebuild it there (0.15-0.3 s of CPU each time, and a `fc-list` call)."""
    cache = Path(os.environ.get("MPLCONFIGDIR") or Path.home() / ".cache" / "matplotlib")
    target = home / ".mplconfig"
    target.mkdir(parents=True, exist_ok=True)
    for path in cache.glob("fontlist-*.json"):
        shutil.copy(path, target / path.name)


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:
        return []


def _kill_tree(proc: subprocess.Popen, seen: list) -> None:
    """Kill the process group, anything it started, and (sandboxed) its whole PID namespace."""
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


def _rss(procs: list) -> int:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except Exception:
            pass
    return total


def kernel_copy(nb: dict[str, Any], check_ids: list[str]) -> dict[str, Any]:
    """The notebook the kernel runs: every check cell is a stub that serves the judge."""
    out = json.loads(json.dumps(nb))
    for cell in out["cells"]:
        if cell.get("cell_type") == "code" and cell.get("id") in check_ids:
            cell["source"] = STUB.format(cid=cell["id"])
            cell["metadata"] = {}
    return out


def start_judge(job: Job, folder: Path, cgroup: Any = None) -> tuple[subprocess.Popen, Path]:
    link = folder / "link"
    link.mkdir(parents=True)
    (folder / "tmp").mkdir()
    sock = link / "judge.sock"
    env = _base_env(folder, job.settings)
    env["MPLBACKEND"] = "Agg"
    cmd = [
        sys.executable,
        "-m",
        "tools.grading.judge",
        "--lab",
        job.lab,
        "--solutions",
        str(Path(job.solutions).resolve()),
        "--socket",
        str(sock),
        "--verdicts",
        str(folder / "verdicts.jsonl"),
        "--tmpdir",
        str(folder / "tmp"),
        f"--cell-timeout={job.settings.cell_timeout:g}",
    ]
    if job.settings.sandboxed:
        cmd = sandbox.judge_command(
            cmd, folder, env, readable=[ROOT, Path(job.solutions).resolve()]
        )
    log = open(folder / "judge.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd,
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=functools.partial(_limit, job.settings, cgroup, os.getpid()),
    )
    log.close()
    RUNNING.add(proc)
    return proc, sock


# prctl(PR_SET_PDEATHSIG) from libc, looked up here, in the grader: a child between fork and
# exec must not load libraries. None off Linux (the grader needs bwrap, so Linux, to sandbox).
_PRCTL = (
    getattr(ctypes.CDLL(None, use_errno=True), "prctl", None) if sys.platform == "linux" else None
)
PR_SET_PDEATHSIG = 1


def _limit(settings: Settings, cgroup: Any, grader: int) -> None:
    """In a child before exec: killed when the grader's thread that started it ends; into the
    student's cgroup, else rlimits; files capped.

    bwrap's --die-with-parent ties the sandbox to bwrap itself, not to bwrap's parent: a Dask
    worker killed while it graded (`tests/test_cluster.py`) left its judge waiting forever on a
    socket. ``grader`` is the grader's pid: if it died before the prctl, exit now."""
    import resource

    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != grader:
            os._exit(1)
    if cgroup:
        cgroup.enter()
    else:
        sandbox.rlimits(settings.limits)
    resource.setrlimit(resource.RLIMIT_FSIZE, (sandbox.FILE_LIMIT, sandbox.FILE_LIMIT))


def run_student(job: Job) -> Outcome:
    """Run one student's notebook in the sandbox with its judge; nothing outside ``job.work``."""
    settings = job.settings
    work = job.work
    scratch, judge_dir = work / "kernel", work / "judge"
    for d in (scratch, judge_dir):
        d.mkdir(parents=True)
    name = "notebook.ipynb"
    (scratch / name).write_text(
        notebooks.dumps(kernel_copy(job.notebook, job.check_ids)), encoding="utf-8"
    )
    log = scratch / "results.jsonl"
    startup = scratch / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00_course_grader.py").write_text(STARTUP, encoding="utf-8")
    ini = scratch / "pytest.ini"
    ini.write_text("[pytest]\naddopts =\n", encoding="utf-8")
    for home in (scratch, judge_dir):  # each is a home: the kernel's and the judge's
        _font_cache(home)
    # One cgroup for the kernel and its judge: what K sends J counts against the student.
    cgroup = sandbox.CGroup(settings.limits) if settings.sandboxed else None
    judge, sock = start_judge(job, judge_dir, cgroup)
    env = _base_env(scratch, settings)
    env.update(
        IPYTHONDIR=str(scratch / ".ipython"),
        JUPYTER_RUNTIME_DIR=str(scratch / ".jupyter" / "runtime"),
        JUPYTER_DATA_DIR=str(scratch / ".jupyter" / "data"),
        JUPYTER_CONFIG_DIR=str(scratch / ".jupyter" / "config"),
        COURSE_GRADER_OUTPUT_LIMIT=str(settings.output_limit),
        COURSE_JUDGE_SOCKET=str(sock),
        COURSE_JUDGE_SCRATCH=str(scratch),
        COURSE_GRADER_SNAPSHOT="1" if settings.snapshot else "0",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    cmd = [
        sys.executable,
        "-c",
        PYTEST_BOOT,
        name,
        "-c",
        str(ini),
        "--rootdir",
        str(scratch),
        "-p",
        "tools.grading.nbval_plugin",
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
    flags: list[str] = []
    ended = None
    deadline = time.monotonic() + settings.student_timeout
    while not sock.exists() and judge.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not sock.exists():
        ended = "the judge did not start"
    if settings.sandboxed:
        cmd = sandbox.kernel_command(cmd, ROOT, scratch, sock.parent, env)

    tail: deque[str] = deque()
    size = [0]

    def drain(stream) -> None:
        for chunk in iter(lambda: stream.read(8192), ""):
            tail.append(chunk)
            size[0] += len(chunk)
            while size[0] > LOG_TAIL and len(tail) > 1:
                size[0] -= len(tail.popleft())

    proc = None
    if ended is None:
        proc = subprocess.Popen(
            cmd,
            cwd=scratch,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
            preexec_fn=functools.partial(_limit, settings, cgroup, os.getpid()),
        )
        RUNNING.add(proc)
        reader = threading.Thread(target=drain, args=(proc.stdout,), daemon=True)
        reader.start()
        seen: dict[int, Any] = {}
        try:
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    ended = "student_timeout"
                    break
                procs = _descendants(proc.pid)
                for p in procs:
                    seen.setdefault(p.pid, p)
                if not cgroup and _rss(procs) > settings.limits.memory:
                    ended = f"stopped at the memory limit of {settings.limits.memory >> 20} MiB"
                    break
                time.sleep(0.5)
        finally:
            _kill_tree(proc, list(seen.values()))
            if cgroup:
                cgroup.kill_all()
            reader.join(timeout=5)
            RUNNING.discard(proc)
    _kill_tree(judge, [])
    RUNNING.discard(judge)
    if cgroup:
        for what in cgroup.events():
            if what == "memory":
                flags.append(f"stopped at the memory limit of {settings.limits.memory >> 20} MiB")
            else:
                flags.append(f"hit the limit of {settings.limits.processes} processes")
        cgroup.remove()
    text = "".join(tail)[-LOG_TAIL:]
    (work / "pytest.log").write_text(text, encoding="utf-8")
    runs = read_runs(log)
    if ended is None and proc is not None and proc.returncode not in (0, 1):
        last = [line for line in text.strip().splitlines() if line.strip()][-1:]
        ended = f"the grading process ended with exit code {proc.returncode}" + (
            f" ({_cap(last[0], 120)})" if last else ""
        )
    verdicts, judge_flags = read_verdicts(judge_dir / "verdicts.jsonl", job.check_ids)
    return Outcome(runs, verdicts, flags + judge_flags, ended, text)


def read_runs(log: Path) -> dict[int, CellRun]:
    runs: dict[int, CellRun] = {}
    if not log.exists() or log.is_symlink():
        return runs
    with open(log, encoding="utf-8", errors="replace") as fh:
        text = fh.read(50_000_000)
    for line in text.splitlines():
        try:
            data = json.loads(line)
            run = CellRun(**data)
        except (json.JSONDecodeError, TypeError):
            continue  # a line cut by a kill, or junk the student wrote
        if not isinstance(run.index, int):
            continue
        if run.index not in runs or runs[run.index].outcome == "passed":
            runs[run.index] = run
    return runs


def read_verdicts(path: Path, check_ids: list[str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The judge's verdicts (first per check) and flags, from its own file."""
    verdicts: dict[str, dict[str, str]] = {}
    flags: list[str] = []
    if not path.exists():
        return verdicts, flags
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "flag" in record:
            flags.append(_cap(record["flag"], 200))
        elif record.get("check") in check_ids and record["check"] not in verdicts:
            verdicts[record["check"]] = record
    counts: dict[str, int] = {}
    for flag in flags:
        counts[flag] = counts.get(flag, 0) + 1
    return verdicts, [f if n == 1 else f"{f} (×{n})" for f, n in counts.items()]
