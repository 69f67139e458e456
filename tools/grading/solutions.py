"""Every solution graded as a student's submission: ``python -m tools grade --all-solutions``.

``make notebooks`` runs this: each ``solutions/NN_*.ipynb`` goes through the whole pipeline a
student's notebook goes through (sanitise, the sandboxed kernel, the judge) and must score full
marks with no flag. It is what proves that every check cell still works when a separate judge
process runs it (no identity tests across processes, no tapes around remote functions, …).
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .lab import SOLUTIONS, available_labs, load_lab
from .pipeline import grade


def grade_all_solutions(
    out: Path, *, solutions: Path = SOLUTIONS, jobs: int | None = None, **settings
) -> list[str]:
    """Grade each solution as the submission of a student called ``solution``; problems found.

    Labs run ``jobs`` at a time (default: one per CPU core), each in ``out/NN/``.
    """
    out = Path(out)
    labs = available_labs(solutions)
    if not labs:
        return [f"no solutions/NN_*.ipynb in {solutions}"]

    def one(number: str) -> list[str]:
        lab = load_lab(number, solutions)
        folder = out / number
        if folder.exists():
            shutil.rmtree(folder)
        student = folder / "submissions" / "solution"
        student.mkdir(parents=True)
        shutil.copy(lab.path, student / lab.path.name)
        start = time.monotonic()
        grade(number, folder / "submissions", folder / "graded", solutions=solutions,
              jobs=1, log=lambda msg: None, **settings)  # fmt: skip
        seconds = time.monotonic() - start
        with open(folder / "graded" / "summary.csv", newline="", encoding="utf-8") as fh:
            row = next(csv.DictReader(fh))
        print(f"{lab.stem}: the solution scores {row['score']}/{row['max_score']} as a "
              f"submission ({seconds:.0f} s)", flush=True)  # fmt: skip
        problems = []
        if row["score"] != row["max_score"]:
            with open(folder / "graded" / "grades.csv", newline="", encoding="utf-8") as fh:
                for r in csv.DictReader(fh):
                    if r["status"] != "passed":
                        problems.append(
                            f"{lab.path.name}: check {r['check']} {r['status']}: {r['message']}"
                        )
        if row["flags"]:
            problems.append(f"{lab.path.name}: flagged: {row['flags']}")
        return problems

    workers = max(1, min(jobs or os.cpu_count() or 1, len(labs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, labs))
    problems = [p for found in results for p in found]
    if not problems:
        print(f"all {len(labs)} solutions score full marks as submissions", file=sys.stderr)
    return problems
