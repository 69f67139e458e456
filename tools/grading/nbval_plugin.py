"""The pytest plugin loaded in the sandboxed grading run: ``pytest -p tools.grading.nbval_plugin``.

It writes one JSON line per nbval cell as soon as the cell ends (so the results of the cells
before a hang survive the kill), notices a dead kernel within a second, and stops running
cells once the notebook timed out or its kernel died. It runs next to the student's kernel,
so the grader trusts its log only to explain a missing verdict, never for points.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .report import CellRun, _cap

KERNEL_POLL_S = 1.0


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
                # what the student sees in red: tests/test_notebooks.py wants none before the
                # first exercise (issue 26)
                stderr=_cap(
                    "".join(
                        o.get("text", "")
                        for o in outputs
                        if o.get("output_type") == "stream" and o.get("name") == "stderr"
                    )
                ),
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
