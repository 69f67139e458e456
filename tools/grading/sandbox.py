"""The sandbox: bubblewrap (https://github.com/containers/bubblewrap) and Linux cgroups.

The student's kernel (K) runs in a bwrap sandbox with a minimal view of the machine: the
system and the Python installation read-only; of the repository only ``common/`` and
``tools/`` (read-only: never ``solutions/``, ``tests/`` or other students); its own scratch
folder read-write; the judge's socket folder. New user, PID, network, IPC and UTS namespaces
(no network; killing its first process kills everything in it), ``--die-with-parent``.
Memory and processes are bounded by a per-student cgroup (v1 or v2) where one can be made,
else by ``RLIMIT_NPROC``/``RLIMIT_FSIZE`` and the grader's memory watchdog.

The judge (J) runs in a second sandbox: everything read-only except its own folder, no
network (it loads files the student's kernel made).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_MEMORY = 6 << 30  # bytes per student (kernel, pytest and everything they start)
DEFAULT_PROCESSES = 512  # processes/threads per student
FILE_LIMIT = 1 << 30  # bytes one file written by the kernel may reach


@cache
def bwrap() -> str | None:
    """The bwrap executable when it works here, else None."""
    exe = shutil.which("bwrap")
    if not exe:
        return None
    try:
        probe = subprocess.run(
            [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all"]
            + ["--die-with-parent", "true"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if probe.returncode == 0 else None


def unavailable_reason() -> str:
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    return "bubblewrap (bwrap) cannot create namespaces here (user namespaces disabled?)"


def _python_paths() -> list[Path]:
    """Folders the venv's Python needs: the venv (its real path) and the base installation."""
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    return sorted(paths)


def _system_args() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]


def kernel_command(
    cmd: list[str], root: Path, scratch: Path, link: Path, env: dict[str, str]
) -> list[str]:
    """``cmd`` inside K's sandbox: sees the system, Python, root/common and root/tools (ro),
    ``scratch`` (rw, the working folder) and ``link`` (the judge's socket), nothing else."""
    exe = bwrap()
    assert exe, "kernel_command needs bwrap"
    args = [exe, "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "grading"]
    args += _system_args()
    for path in _python_paths():
        args += ["--ro-bind", str(path), str(path)]
    venv = root / ".venv"
    if venv.is_symlink():
        args += ["--symlink", str(venv.resolve()), str(venv)]
    for part in ("common", "tools"):
        args += ["--ro-bind", str(root / part), str(root / part)]
    args += ["--bind", str(scratch), str(scratch), "--ro-bind", str(link), str(link)]
    args += ["--chdir", str(scratch), "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *cmd]


def judge_command(
    cmd: list[str], folder: Path, env: dict[str, str], readable: list[Path] = ()
) -> list[str]:
    """``cmd`` in J's sandbox: the machine read-only, ``folder`` writable, no network.

    ``/tmp`` is an empty tmpfs there, so the folders the judge must read (the repository, the
    solutions, Python) are bound back read-only: a course checked out under ``/tmp`` works too.
    """
    exe = bwrap()
    assert exe, "judge_command needs bwrap"
    args = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    args += ["--unshare-all", "--die-with-parent", "--new-session"]
    for path in sorted({*map(Path, readable), *_python_paths()}):
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(folder), str(folder), "--chdir", str(folder), "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *cmd]


# --------------------------------------------------------------------------- limits


@dataclass
class Limits:
    memory: int = DEFAULT_MEMORY
    processes: int = DEFAULT_PROCESSES


class CGroup:
    """A per-student cgroup (v2 unified, else v1 memory + pids) bounding memory and processes."""

    def __init__(self, limits: Limits) -> None:
        self.dirs: list[Path] = []
        self.kind = ""
        name = f"course-grade-{uuid.uuid4().hex[:12]}"
        v2 = Path("/sys/fs/cgroup")
        try:
            if (v2 / "cgroup.controllers").exists():
                d = v2 / name
                d.mkdir()
                self.dirs = [d]
                (d / "memory.max").write_text(str(limits.memory))
                (d / "memory.swap.max").write_text("0")
                (d / "pids.max").write_text(str(limits.processes))
                self.kind = "v2"
            elif (v2 / "memory" / "memory.limit_in_bytes").exists() and (v2 / "pids").is_dir():
                mem, pids = v2 / "memory" / name, v2 / "pids" / name
                mem.mkdir()
                self.dirs.append(mem)
                pids.mkdir()
                self.dirs.append(pids)
                (mem / "memory.limit_in_bytes").write_text(str(limits.memory))
                (pids / "pids.max").write_text(str(limits.processes))
                self.kind = "v1"
        except OSError:
            self.remove()
            self.kind = ""

    def __bool__(self) -> bool:
        return bool(self.kind)

    def enter(self) -> None:
        """In the child before exec: move this process into the cgroup."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def events(self) -> list[str]:
        """What the limits stopped: 'memory', 'processes'."""
        found = []
        try:
            if self.kind == "v2":
                d = self.dirs[0]
                mem = dict(line.split() for line in (d / "memory.events").read_text().splitlines())
                if int(mem.get("oom_kill", 0)) or int(mem.get("max", 0)):
                    found.append("memory")
                pids = dict(line.split() for line in (d / "pids.events").read_text().splitlines())
                if int(pids.get("max", 0)):
                    found.append("processes")
            elif self.kind == "v1":
                mem, pids = self.dirs
                if int((mem / "memory.failcnt").read_text()):
                    found.append("memory")
                events = (pids / "pids.events").read_text().split()
                if len(events) == 2 and int(events[1]):
                    found.append("processes")
        except (OSError, ValueError):
            pass
        return found

    def kill_all(self) -> None:
        import signal

        for d in self.dirs:
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except (ProcessLookupError, PermissionError, ValueError):
                        pass
            except OSError:
                pass

    def remove(self) -> None:
        import time

        for d in self.dirs:
            for _ in range(20):
                try:
                    d.rmdir()
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.1)
        self.dirs = []


def rlimits(limits: Limits) -> None:
    """In the child before exec, where there is no cgroup: a bound on file size and processes."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes * 8, limits.processes * 8))
    except (ValueError, OSError):
        pass
