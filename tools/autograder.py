"""Gradescope: ``make autograder LAB=NN DEST=DIR`` writes the autograder zip of one lab.

Gradescope runs each submission in its own container built from the zip
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): ``setup.sh`` runs once when
the image is built, ``run_autograder`` once per submission, with the student's files in
``/autograder/submission`` and the zip's files in ``/autograder/source``; it must write
``/autograder/results/results.json``.

The zip holds, at its root:

* ``setup.sh``: installs Python, bubblewrap and the pinned ``requirements.txt`` into
  ``/autograder/venv`` (plus ``common``, editable);
* ``run_autograder``: ``python -m tools.autograder run``, which grades the submitted
  ``NN_*.ipynb`` with the same pipeline as ``make grade`` (``tools.grading.grade``: the sanitiser
  puts the canonical setup and check cells back, hidden checks included; the student's kernel
  runs in the bubblewrap sandbox; the judge scores), then writes ``results.json``;
* ``solutions/NN_*.ipynb`` (the lab's canonical cells and hidden checks), ``tools/``,
  ``common/``, ``requirements.txt``, ``pyproject.toml`` and ``autograder.json`` (the lab).

``results.json`` has one test per check: ``name`` is the check id and the exercise it checks,
``score``/``max_score`` its points, ``status`` passed or failed, ``output`` the grader's message;
a check cell with hidden checks is ``visibility: after_published`` (its result and message are
shown once the grades are published), the others ``visible``. Each written question is listed
as a test worth 0 here, marked by hand on Gradescope (add a manually graded question of that
many points to the assignment). The top-level ``score`` is the sum of the checks.

Sandbox: Gradescope's containers may not allow user namespaces, which bubblewrap needs. Then the
autograder grades with ``--no-sandbox`` (the container is the only isolation, as for any
Gradescope autograder) and says so in ``results.json``'s ``output`` and ``extra_data``.
``--sandbox require`` makes that an error instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from . import notebooks, written
from .notebooks import ROOT

CONFIG = "autograder.json"
VISIBLE, AFTER_PUBLISHED = "visible", "after_published"
TEST_FIELDS = {  # Gradescope's documented fields of one test, and their types
    "score": (int, float),
    "max_score": (int, float),
    "status": str,
    "name": str,
    "name_format": str,
    "number": str,
    "output": str,
    "output_format": str,
    "tags": list,
    "visibility": str,
    "extra_data": dict,
}
TOP_FIELDS = {
    "score": (int, float),
    "execution_time": (int, float),
    "output": str,
    "output_format": str,
    "visibility": str,
    "stdout_visibility": str,
    "extra_data": dict,
    "tests": list,
    "leaderboard": list,
}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
# Choose the Ubuntu 24.04 base image (Python 3.12): the pinned requirements need Python 3.11+.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends python3 python3-venv python3-pip bubblewrap
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup.sh: Python 3.11 or later is needed (found $(python3 --version));" \\
       "choose the Ubuntu 24.04 base image in the autograder settings" >&2; exit 1; }
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --upgrade pip
/autograder/venv/bin/pip install --quiet -r /autograder/source/requirements.txt
/autograder/venv/bin/pip install --quiet --no-deps -e /autograder/source
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission: grade /autograder/submission/*.ipynb into
# /autograder/results/results.json with the course's grader (sandboxed where possible).
cd /autograder/source
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONWARNINGS=ignore::DeprecationWarning
exec /autograder/venv/bin/python -m tools.autograder run --root /autograder "$@"
"""


class AutograderError(ValueError):
    """The autograder zip cannot be written; the message says why."""


# --------------------------------------------------------------------------- the zip


def _lab_path(lab: str, root: Path) -> Path:
    from .grading.lab import GradeError, load_lab

    try:
        return load_lab(lab, Path(root) / "solutions").path
    except GradeError as err:
        raise AutograderError(str(err)) from err


def build(lab: str, dest: Path, root: Path = ROOT) -> Path:
    """Write the autograder zip of ``lab``; ``dest`` is a .zip file or a folder for it."""
    root = Path(root).resolve()
    solution = _lab_path(lab, root)
    dest = Path(dest).expanduser().resolve()
    target = dest if dest.suffix == ".zip" else dest / f"autograder-{solution.stem}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:

        def add_text(name: str, text: str, executable: bool = False) -> None:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)

        add_text("setup.sh", SETUP_SH, executable=True)
        add_text("run_autograder", RUN_AUTOGRADER, executable=True)
        add_text(CONFIG, json.dumps({"lab": solution.stem.split("_")[0]}, indent=1) + "\n")
        for name in ("requirements.txt", "pyproject.toml", "LICENSE"):
            if (root / name).exists():
                add_text(name, (root / name).read_text(encoding="utf-8"))
        add_text(f"solutions/{solution.name}", solution.read_text(encoding="utf-8"))
        for package in ("tools", "common"):
            for path in sorted((root / package).rglob("*")):
                rel = path.relative_to(root)
                skip = {"__pycache__", ".ipynb_checkpoints"} & set(rel.parts)
                if path.is_dir() or skip or path.suffix == ".pyc" or ".egg-info" in str(rel):
                    continue
                zf.write(path, rel.as_posix())
    os.replace(tmp, target)
    return target


# --------------------------------------------------------------------------- results.json


def _headings(solution: dict[str, Any]) -> dict[str, str]:
    """Check id -> the title of the exercise it checks (the last markdown heading before it)."""
    heading, found = "", {}
    for cell in solution.get("cells", []):
        if cell.get("cell_type") == "markdown" and notebooks.role(cell) != "written":
            for line in notebooks.source(cell).splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
        elif notebooks.role(cell) == "check":
            found[str(notebooks.course_meta(cell).get("id"))] = heading
    return found


def _hidden(solution: dict[str, Any]) -> set[str]:
    """Ids of the check cells that hold hidden checks."""
    return {
        str(notebooks.course_meta(c).get("id"))
        for c in solution.get("cells", [])
        if notebooks.role(c) == "check" and notebooks.BEGIN_HIDDEN in notebooks.source(c)
    }


def results_json(
    result: Any, solution: dict[str, Any], questions: list[written.Question], note: str = ""
) -> dict[str, Any]:
    """Gradescope's results.json for one graded ``StudentResult``."""
    headings, hidden = _headings(solution), _hidden(solution)
    tests: list[dict[str, Any]] = []
    for number, check in enumerate(result.checks, 1):
        title = headings.get(check.check, "")
        output = check.message or ("✓ passed" if check.status == "passed" else check.status)
        tests.append(
            {
                "name": f"{check.check}: {title}" if title else check.check,
                "number": str(number),
                "score": check.points,
                "max_score": check.max_points,
                "status": "passed" if check.status == "passed" else "failed",
                "output": f"{check.status}: {output}" if check.status != "passed" else output,
                "visibility": AFTER_PUBLISHED if check.check in hidden else VISIBLE,
                "tags": ["hidden checks"] if check.check in hidden else [],
                "extra_data": {"check": check.check, "status": check.status},
            }
        )
    for q in questions:
        tests.append(
            {
                "name": f"{q.id}: written answer ({written.num(q.points)} points, marked by hand)",
                "number": str(len(tests) + 1),
                "score": 0,
                "max_score": 0,
                "output": "Marked by hand by your instructor, in this assignment's manually "
                f"graded question {q.id!r} ({written.num(q.points)} points).",
                "visibility": VISIBLE,
                "tags": ["manually graded"],
                "extra_data": {"question": q.id, "manual": True, "points": q.points},
            }
        )
    flags = "\n".join(f"- {f}" for f in result.flags)
    output = f"Lab {result.lab}: {result.score:g} / {result.max_score:g} points from the checks."
    if flags:
        output += f"\nWhat the grader repaired or noticed:\n{flags}"
    if note:
        output += f"\n{note}"
    return {
        "score": result.score,
        "execution_time": round(result.seconds),
        "output": output,
        "visibility": VISIBLE,
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "lab": result.lab,
            "max_score": result.max_score,
            "flags": list(result.flags),
            "sandboxed": not note,
        },
    }


def validate(results: dict[str, Any]) -> list[str]:
    """Problems of ``results`` against Gradescope's documented format ([] when none)."""
    problems = []
    for key, value in results.items():
        if key not in TOP_FIELDS:
            problems.append(f"unknown top-level field {key!r}")
        elif not isinstance(value, TOP_FIELDS[key]) or isinstance(value, bool):
            problems.append(f"top-level {key!r} has type {type(value).__name__}")
    if "score" not in results and any("score" not in t for t in results.get("tests", [])):
        problems.append("no top-level score and a test without score")
    for i, test in enumerate(results.get("tests", [])):
        for key, value in test.items():
            if key not in TEST_FIELDS:
                problems.append(f"test {i}: unknown field {key!r}")
            elif not isinstance(value, TEST_FIELDS[key]) or isinstance(value, bool):
                problems.append(f"test {i}: {key!r} has type {type(value).__name__}")
        if test.get("visibility", VISIBLE) not in VISIBILITIES:
            problems.append(f"test {i}: visibility {test['visibility']!r}")
        if test.get("status", "passed") not in ("passed", "failed"):
            problems.append(f"test {i}: status {test['status']!r}")
        score, top = test.get("score"), test.get("max_score")
        numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (score, top))
        if numbers and not 0 <= score <= max(top, 0):
            problems.append(f"test {i}: score {score} outside 0..{top}")
    if results.get("visibility", VISIBLE) not in VISIBILITIES:
        problems.append(f"visibility {results['visibility']!r}")
    return problems


# --------------------------------------------------------------------------- run


def _pick(submission: Path, stem: str) -> Path | None:
    """The submitted notebook: the lab's name, else one starting with its number, else any."""
    found = sorted(p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    number = stem.split("_")[0]
    for pool in (
        [p for p in found if p.name == f"{stem}.ipynb"],
        [p for p in found if re.search(rf"(?<!\d){number}_", p.name)],
        found,
    ):
        if pool:
            return pool[0]
    return None


def run(
    root: Path,
    source: Path | None = None,
    lab: str | None = None,
    sandbox: str = "auto",
    profile: str = "smoke",
    cell_timeout: float | None = None,
    student_timeout: float | None = None,
    log=print,
) -> dict[str, Any]:
    """Grade ``root/submission`` and write ``root/results/results.json``; returns it."""
    from .grading import sandbox as sandboxing
    from .grading.lab import DEFAULT_CELL_TIMEOUT, DEFAULT_STUDENT_TIMEOUT, load_lab
    from .grading.pipeline import grade
    from .grading.report import missing_result

    root = Path(root).resolve()
    source = Path(source or root / "source").resolve()
    solutions = source / "solutions"
    if lab is None:
        lab = json.loads((source / CONFIG).read_text(encoding="utf-8"))["lab"]
    the_lab = load_lab(lab, solutions)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    note = ""
    sandboxed = True
    if sandbox == "off" or (sandbox == "auto" and not sandboxing.bwrap()):
        sandboxed = False
        why = "requested" if sandbox == "off" else sandboxing.unavailable_reason()
        note = (
            "Graded without the bubblewrap sandbox (--no-sandbox): "
            f"{why}. The container is the only isolation."
        )
        log(f"autograder: {note}")
    chosen = _pick(root / "submission", the_lab.stem)
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        subs, out = Path(tmp) / "submissions", Path(tmp) / "out"
        student = subs / "submission"
        student.mkdir(parents=True)
        if chosen is not None:
            shutil.copyfile(chosen, student / chosen.name)
        if chosen is None:
            result = missing_result(
                "submission", the_lab, f"no .ipynb file submitted (expected {the_lab.stem}.ipynb)"
            )
        else:
            (result,) = grade(
                lab,
                subs,
                out,
                solutions=solutions,
                cell_timeout=cell_timeout or DEFAULT_CELL_TIMEOUT,
                student_timeout=student_timeout or DEFAULT_STUDENT_TIMEOUT,
                jobs=1,
                profile=profile,
                sandboxed=sandboxed,
                log=log,
            )
    results = results_json(result, the_lab.solution, written.questions(the_lab.solution), note)
    problems = validate(results)
    if problems:  # a bug here: say so rather than upload a file Gradescope rejects
        raise RuntimeError(
            "results.json does not follow Gradescope's format: " + "; ".join(problems)
        )
    target = results_dir / "results.json"
    target.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"autograder: {result.score:g}/{result.max_score:g}; wrote {target}")
    return results


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the autograder zip of one lab")
    b.add_argument("--lab", required=True, help="lab number, e.g. 00")
    b.add_argument("--dest", required=True, help="a .zip file, or a folder for it")
    r = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    r.add_argument("--root", type=Path, default=Path("/autograder"))
    r.add_argument("--source", type=Path, help="the zip's files (default ROOT/source)")
    r.add_argument("--lab", help="lab number (default: autograder.json)")
    r.add_argument(
        "--sandbox",
        choices=("auto", "require", "off"),
        default="auto",
        help="auto: bubblewrap where the container allows it, else --no-sandbox (default)",
    )
    r.add_argument("--profile", choices=("smoke", "full"), default=None)
    r.add_argument("--cell-timeout", type=float, default=None)
    r.add_argument("--student-timeout", type=float, default=None)
    args = parser.parse_args(argv)
    from .grading.lab import GradeError

    try:
        if args.command == "build":
            path = build(args.lab, Path(args.dest))
            print(
                f"wrote {path}: upload it in Gradescope (Configure Autograder → Zip file "
                "upload, base image Ubuntu 24.04)."
            )
            return 0
        run(
            args.root,
            args.source,
            args.lab,
            "auto" if args.sandbox == "auto" else ("off" if args.sandbox == "off" else "on"),
            args.profile or os.environ.get("LAB_PROFILE") or "smoke",
            args.cell_timeout,
            args.student_timeout,
        )
    except (AutograderError, GradeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
