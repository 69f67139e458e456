"""The Dask engine (issue 27): a real scheduler and two workers, separate processes on
127.0.0.1, grade the fixture course exactly as the local pool does, also when a worker dies.

One folder of submissions of the fixture course (no TensorFlow): the solution, the blank lab,
a crashing cell, an endless loop (a cell timeout) and an attack (forged result files, then
``os._exit``: a dead kernel). It is graded three times: by the local pool (2 threads), on the
cluster (2 workers of 1 thread), and on the cluster with a third worker where the worker that
finished the first student is killed (SIGKILL, no nanny to restart it) while it grades its
next one. The two CSVs must be byte-identical each time (they have no timing column). One
test, so that the three runs share one cluster and one reference whatever pytest-xdist does.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_grading import NB_NAME, SOLUTIONS, insert_after, lab, set_source, solution, with_outputs
from test_grading_attacks import ATTACKS, unanswered

from tools import grading as grade
from tools.grading import sandbox

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CELL_TIMEOUT = 10
STUDENT_TIMEOUT = 45


def submissions(folder: Path) -> None:
    sol = solution()
    students = {
        "solution": with_outputs(copy.deepcopy(sol)),
        "blank": lab(),
        "crash": insert_after(
            set_source(copy.deepcopy(sol), "ex1-code", 'def add(a, b):\n    raise ValueError("x")'),
            "ex2-code",
            "1 / 0",
            "crash-cell",
        ),
        # a cell timeout: an idle endless loop, since this student runs three times (a busy one,
        # 30 s of CPU here, is test_grading's infinite_loop)
        "hang": set_source(
            copy.deepcopy(sol), "ex2-code", "import time\n\nwhile True:\n    time.sleep(0.5)"
        ),
        "attack": insert_after(unanswered(), "setup", ATTACKS["forge_then_exit"], "attack"),
    }
    for name, nb in students.items():
        (folder / name).mkdir(parents=True)
        (folder / name / NB_NAME).write_text(json.dumps(nb), encoding="utf-8")


def grade_into(subs: Path, out: Path, **kwargs) -> dict[str, bytes]:
    log = kwargs.pop("log", None)
    grade.grade(
        "00",
        subs,
        out,
        solutions=SOLUTIONS,
        cell_timeout=CELL_TIMEOUT,
        student_timeout=STUDENT_TIMEOUT,
        jobs=2,
        profile="smoke",
        log=log or (lambda line: None),
        **kwargs,
    )
    return {name: (out / name).read_bytes() for name in ("grades.csv", "summary.csv")}


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as fh:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: [state, ppid, ...]; [] if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rfind(")") + 2 :].split()


def _children(pid: int) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and _stat(int(p))[1:2] == [str(pid)]]


def _alive(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return f"{pid} (gone)"


@pytest.mark.skipif(not sandbox.bwrap(), reason="the grader's sandbox (bubblewrap) is missing")
def test_a_cluster_grades_like_the_local_pool_even_when_a_worker_dies(tmp_path):
    from distributed import Client

    subs = tmp_path / "submissions"
    submissions(subs)
    before = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    t0 = time.monotonic()
    local = grade_into(subs, tmp_path / "local")
    t_local = time.monotonic() - t0

    file = tmp_path / "scheduler.json"
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["scheduler"] = _spawn(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--no-dashboard", "--scheduler-file", str(file)],
            tmp_path / "scheduler.log",
        )
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            assert procs["scheduler"].poll() is None, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.2)

        def worker(name: str) -> None:  # no nanny: a killed worker stays dead
            procs[name] = _spawn(
                [str(BIN / "dask"), "worker", "--scheduler-file", str(file), "--host"]
                + ["127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name"]
                + [name, "--memory-limit", "0", "--death-timeout", "60"],
                tmp_path / f"{name}.log",
            )

        worker("w1")
        worker("w2")
        with Client(scheduler_file=str(file), timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
            assert address.startswith("tcp://127.0.0.1:")

            t0 = time.monotonic()
            on_cluster = grade_into(subs, tmp_path / "cluster", scheduler=str(file))
            t_cluster = time.monotonic() - t0
            assert on_cluster == local

            worker("w3")  # so that two are left to share the rest after the kill
            client.wait_for_workers(3, timeout=60)
            killed: dict[str, object] = {}

            def busy_workers(dask_scheduler):
                return {
                    ws.name: (len(ws.has_what), sorted(ts.key for ts in ws.processing))
                    for ws in dask_scheduler.workers.values()
                }

            def kill_when_the_first_is_done(line: str) -> None:
                if killed or not line.startswith("[1/"):
                    return
                state = client.run_on_scheduler(busy_workers)
                # the worker that finished the first student, grading its next one
                name = max(state, key=lambda n: (bool(state[n][1]), state[n][0]))
                # its sandboxes (the judge's and the kernel's bwrap), once it has started them
                deadline = time.monotonic() + 10
                while not (children := _children(procs[name].pid)) and time.monotonic() < deadline:
                    time.sleep(0.1)
                killed.update(name=name, processing=state[name][1], state=state, children=children)
                os.kill(procs[name].pid, signal.SIGKILL)

            t0 = time.monotonic()
            with_a_death = grade_into(
                subs, tmp_path / "killed", scheduler=address, log=kill_when_the_first_is_done
            )
            t_killed = time.monotonic() - t0
            assert killed["processing"], killed  # it died in the middle of a student
            assert procs[killed["name"]].wait(timeout=10) == -signal.SIGKILL
            # ...and the killed worker's sandboxes die with it, not left waiting on a socket
            assert killed["children"], killed
            deadline = time.monotonic() + 10
            while (alive := [p for p in killed["children"] if _alive(p)]) and (
                time.monotonic() < deadline
            ):
                time.sleep(0.2)
            assert not alive, [_cmdline(p) for p in alive]
            assert with_a_death == local, killed
            assert len(client.scheduler_info()["workers"]) == 2  # the others did the rest
    finally:
        for proc in procs.values():
            _stop(proc)
    assert before == {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    text = local["summary.csv"].decode()
    assert "solution,00_fixture,7,7," in text and "blank,00_fixture,0,7," in text
    assert "attack,00_fixture,0,7" in text
    print(f"local {t_local:.0f} s, cluster {t_cluster:.0f} s, a worker killed {t_killed:.0f} s")


def test_a_worker_set_up_unlike_the_grader_is_refused_with_the_reason():
    from tools.grading import cluster

    expected = cluster.expected_setup(SOLUTIONS, NB_NAME, sandboxed=False)
    assert (
        expected["solutions"] == "tests/fixtures/grading/solutions"
    )  # found in the worker's clone
    assert cluster.worker_problem(expected) is None
    other_code = cluster.worker_problem({**expected, "code": "0" * 64})
    assert "differs from the grader's in tools/ or common/" in other_code
    assert f"commit {expected['commit']}" in other_code
    other_lab = cluster.worker_problem({**expected, "lab": "0" * 64})
    assert NB_NAME in other_lab and "differs" in other_lab
    old_numpy = {**expected["versions"], "numpy": "1.0"}
    venv = cluster.worker_problem({**expected, "versions": old_numpy})
    assert "its venv differs" in venv and "(grader: 1.0)" in venv
    missing = cluster.worker_problem({**expected, "solutions": "/nowhere"})
    assert f"no /nowhere/{NB_NAME}" in missing


def test_an_unreachable_scheduler_is_an_error_that_says_what_to_start(monkeypatch):
    from tools.grading import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    with pytest.raises(grade.GradeError, match="cannot reach the Dask scheduler.*dask scheduler"):
        cluster.connect("tcp://127.0.0.1:9", None, print)
