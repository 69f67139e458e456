"""``make verify-full``: run every lab in the full profile here and tabulate each check.

An instructor runs it once before the semester, on the machine the students will have (a
GPU and the network, or the local data that ``make data FROM=DIR`` prepared), and reads
``build/full-results.md``: per lab and check, the threshold, the value, whether it passed and
the seconds it took. Each solution runs in a fresh kernel, one cell at a time, so every check
cell is timed and its records are attributed to it: the ``common.checks`` helpers append
what/threshold/value lines to the file named by ``LAB_CHECK_RECORD``; checks written as plain
``assert`` appear with their status only.

"seconds" of a check is the wall time from the end of the previous check cell to the end of
this one: the training and evaluation that the check judges, plus the check itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .notebooks import ROOT, solution_paths
from .progress import Progress

RECORD_ENV = "LAB_CHECK_RECORD"  # common.checks.RECORD_ENV, without importing common here


@dataclass
class CheckRow:
    lab: str
    check: str
    points: float
    status: str  # passed, failed (an assertion), error (another exception), not run
    seconds: float
    records: list[dict] = field(default_factory=list)
    message: str = ""


@dataclass
class LabRun:
    lab: str
    profile: str
    seconds: float
    checks: list[CheckRow]
    errors: list[str]  # non-check cells that raised: the lab itself is broken here


def run_lab(
    path: Path,
    profile: str = "full",
    cell_timeout: int = 3600,
    on_cell: Callable[[int, int], None] | None = None,
) -> LabRun:
    """Execute one solution notebook cell by cell in a fresh kernel; time and record checks.

    ``on_cell(done, total)`` is called before each code cell (for the progress bar)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="verify-full-") as tmp:
        record = Path(tmp) / "checks.jsonl"
        record.touch()
        env = {**os.environ, "LAB_PROFILE": profile, RECORD_ENV: str(record)}
        client = NotebookClient(
            nb,
            timeout=cell_timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        checks: list[CheckRow] = []
        errors: list[str] = []
        start = last = time.perf_counter()
        seen = 0
        total = sum(c.cell_type == "code" for c in nb.cells)
        done = 0
        with _environment(env), client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if on_cell:
                    on_cell(done, total)
                done += 1
                course = cell.get("metadata", {}).get("course", {})
                error = ""
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as err:
                    error = f"{err.ename}: {err.evalue}"
                except Exception as err:  # noqa: BLE001 - a timeout or a dead kernel: stop here
                    error = f"{type(err).__name__}: {err}"
                    errors.append(f"cell {index}: {error}")
                    break
                lines = record.read_text(encoding="utf-8").splitlines()
                new, seen = [json.loads(x) for x in lines[seen:]], len(lines)
                if course.get("role") == "check":
                    now = time.perf_counter()
                    ename = error.split(":", 1)[0]
                    status = (
                        "passed"
                        if not error
                        else "failed"
                        if ename in ("AssertionError", "CheckFailure")
                        else "error"
                    )
                    checks.append(
                        CheckRow(
                            path.stem[:2],
                            str(course.get("id")),
                            float(course.get("points", 0)),
                            status,
                            round(now - last, 1),
                            new,
                            error[:300],
                        )
                    )
                    last = now
                elif error:
                    errors.append(f"cell {index}: {error[:300]}")
        run_ids = {c.check for c in checks}
        for cell in nb.cells:  # check cells after a fatal error
            course = cell.get("metadata", {}).get("course", {})
            if course.get("role") == "check" and str(course.get("id")) not in run_ids:
                checks.append(
                    CheckRow(
                        path.stem[:2], str(course.get("id")), float(course.get("points", 0)),
                        "not run", 0.0,
                    )
                )  # fmt: skip
        return LabRun(path.stem, profile, round(time.perf_counter() - start, 1), checks, errors)


class _environment:
    """Set ``os.environ`` for the kernel that nbclient starts (it inherits ours), then restore."""

    def __init__(self, env: dict[str, str]):
        self.env, self.saved = env, dict(os.environ)

    def __enter__(self) -> None:
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(runs: list[LabRun], machine: str) -> str:
    """The results table: one row per record of a check (or per check without records)."""
    lines = [
        "# Full-profile results",
        "",
        f"Machine: {machine}. Written by `make verify-full` ({time.strftime('%Y-%m-%d %H:%M %Z')}).",
        "",
        "| lab | check | status | what | threshold | value | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        for row in run.checks:
            records = row.records or [
                {"what": row.message or "", "expected": None, "received": None}
            ]
            for i, rec in enumerate(records):
                mark = row.status if i == 0 else ""
                what = rec.get("what") or ""
                if rec.get("passed") is False:
                    what = f"✗ {what}"
                lines.append(
                    f"| {run.lab if i == 0 else ''} | {row.check if i == 0 else ''} | {mark} | "
                    f"{_cell(what)} | {_cell(rec.get('expected') or '—')} | "
                    f"{_cell(rec.get('received') or '—')} | {row.seconds if i == 0 else ''} |"
                )
    lines += [
        "",
        "| lab | profile | seconds | checks passed | errors outside checks |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        ok = sum(c.status == "passed" for c in run.checks)
        errs = "; ".join(_cell(e) for e in run.errors) or "none"
        lines.append(
            f"| {run.lab} | {run.profile} | {run.seconds} | {ok}/{len(run.checks)} | {errs} |"
        )
    return "\n".join(lines) + "\n"


def describe_machine() -> str:
    import platform

    try:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        names = [
            tf.config.experimental.get_device_details(g).get("device_name", "GPU") for g in gpus
        ]
        devices = ", ".join(names) if names else "no GPU"
        versions = f"TF {tf.__version__}"
    except Exception as err:  # noqa: BLE001 - the table is still worth writing
        devices, versions = f"devices unknown ({type(err).__name__})", "TF ?"
    return f"{platform.node()}, {os.cpu_count()} CPU cores, {devices}; Python {platform.python_version()}, {versions}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools verify-full", description=__doc__)
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("labs", nargs="*", help="lab numbers, e.g. 03 08 (default: every lab)")
    parser.add_argument("--profile", default="full", choices=["full", "smoke"])
    parser.add_argument("--out", default=str(ROOT / "build" / "full-results.md"))
    parser.add_argument("--cell-timeout", type=int, default=3600)
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal; otherwise plain "
        "progress lines)",
    )


def run_cli(args: argparse.Namespace) -> int:
    paths = solution_paths()
    if args.labs:
        known = {p.stem[:2]: p for p in paths}
        unknown = [lab for lab in args.labs if lab not in known]
        if unknown:
            print(
                f"error: unknown lab(s) {', '.join(unknown)}. Expected some of: {', '.join(known)}."
            )
            return 2
        paths = [known[lab] for lab in args.labs]
    runs = []
    terminal = sys.stderr.isatty() if args.progress is None else args.progress
    with Progress(
        len(paths),
        "labs",
        failures="failing",
        log=None if terminal else (lambda line: print(line, flush=True)),
        terminal=terminal,
    ) as bar:
        for path in paths:
            bar.print(f"== {path.stem} ({args.profile}) …")
            bar.note(path.stem)

            def on_cell(done: int, total: int, stem: str = path.stem) -> None:
                bar.note(f"{stem}: cell {done + 1}/{total}")

            run = run_lab(path, args.profile, args.cell_timeout, on_cell=on_cell)
            ok = sum(c.status == "passed" for c in run.checks)
            lines = [f"   {ok}/{len(run.checks)} checks passed in {run.seconds} s"]
            for row in run.checks:
                if row.status != "passed":
                    lines.append(f"   ✗ {row.check}: {row.status} {row.message[:200]}")
            for error in run.errors:
                lines.append(f"   ✗ {error[:300]}")
            failing = bool(run.errors) or ok < len(run.checks)
            bar.note("")
            bar.advance("\n".join(lines), failed=failing)
            runs.append(run)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(runs, describe_machine()), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps([asdict(r) for r in runs], indent=1))
    print(f"wrote {out} and {out.with_suffix('.json').name}")
    failed = any(r.errors or any(c.status != "passed" for c in r.checks) for r in runs)
    return 1 if failed else 0
