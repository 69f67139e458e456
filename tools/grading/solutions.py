"""Every solution graded as a student's submission: ``python -m tools grade --all-solutions``.

``make notebooks`` runs this: each ``solutions/NN_*.ipynb`` goes through the whole pipeline a
student's notebook goes through (sanitise, the sandboxed kernel, the judge) and must score full
marks with no flag. It is what proves that every check cell still works when a separate judge
process runs it (no identity tests across processes, no tapes around remote functions, …).

It also runs the grading rule's regression attacks (issue 25 §4, ``forge.py``) at little cost:
the solution run saves a snapshot of the kernel's plain values before each check, then the
lab's blank notebook is graded twice, once replaying those snapshots before each check (the
"forged snapshot") and once with every provided function swapped for a constant (the "swapped
reference"). Both must score 0, except for the (lab, attack) pairs in ``KNOWN_LEAKS``, which
must still score more than 0 (so the set shrinks as labs are fixed, and stays honest).
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import notebooks
from . import forge
from .lab import SOLUTIONS, _course, available_labs, load_lab
from .pipeline import grade

# (lab, attack) pairs that still score > 0 under the regression attacks of forge.py: each one a
# lab whose checks still take a value or a helper from the student's kernel (issue 25). Remove
# a pair once its lab is fixed: `make notebooks` fails on a leak not listed here AND on a listed
# pair that no longer leaks. Attacks: "snapshot" (forged snapshot), "swap" (swapped reference).
# Empty since every lab follows the rule (issue 25): labs 00, 03, 07 and 08 leaked to the
# forged snapshot before their checks recomputed (measured at f20d9e4).
KNOWN_LEAKS: set[str] = set()


def leak_problems(lab: str, stem: str, scores: dict[str, tuple[float, str]], known: set[str]):
    """The attack results of one lab against ``known``: [] when as expected."""
    problems = []
    for attack, (score, passed) in sorted(scores.items()):
        key = f"{lab}:{attack}"
        if score > 0 and key not in known:
            problems.append(
                f"{stem}: the {attack} attack (tools/grading/forge.py) scores {score:g} with no "
                f"work done; checks passed: {passed}. A check takes a value or a helper from the "
                "student's kernel: make it recompute with the judge's own code (issue 25)."
            )
        elif score == 0 and key in known:
            problems.append(
                f"{stem}: the {attack} attack now scores 0: remove {key!r} from KNOWN_LEAKS in "
                "tools/grading/solutions.py."
            )
    return problems


def grade_all_solutions(
    out: Path,
    *,
    solutions: Path = SOLUTIONS,
    jobs: int | None = None,
    attacks: str = "auto",
    known_leaks: set[str] | None = None,
    only: list[str] | None = None,
    **settings,
) -> list[str]:
    """Grade each solution as the submission of a student called ``solution``; problems found.

    Labs run ``jobs`` at a time (default: one per CPU core), each in ``out/NN/``. Then each
    lab's two forged notebooks are graded in ``out/NN/attacks/`` (one after the other, so at
    most ``jobs`` notebooks run at once) and compared with ``known_leaks`` (default
    ``KNOWN_LEAKS``): ``attacks="all"`` in every lab; ``"auto"`` (`make notebooks`) only in the
    labs where the kernel has a channel to a check (``forge.channels``: a remote name that is
    not a student's function, class or model, …); ``"none"``: never. ``only``: these labs.
    """
    if attacks not in ("auto", "all", "none"):
        raise ValueError(f"attacks should be auto, all or none, received {attacks!r}")
    out = Path(out)
    known = KNOWN_LEAKS if known_leaks is None else known_leaks
    labs = available_labs(solutions)
    if only:
        labs = [n for n in labs if n in {str(x).zfill(2) for x in only}]
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
        lab_nb = notebooks.generate_lab(lab.solution, f"labs/{lab.path.name}", _course())
        ids = [c.id for c in lab.checks]
        extent = (
            {a: None for a in forge.ATTACKS}
            if attacks == "all"
            else forge.attack_extent(forge.channels(lab.solution, lab_nb, lab.plan), ids)
            if attacks == "auto"
            else {}
        )
        run_attacks = bool(extent)
        start = time.monotonic()
        grade(number, folder / "submissions", folder / "graded", solutions=solutions,
              jobs=1, log=lambda msg: None, snapshot=run_attacks, **settings)  # fmt: skip
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
        if run_attacks:
            problems += attack(lab, lab_nb, folder, extent)
        elif attacks == "auto":  # no channel: nothing the kernel holds can reach a verdict
            print(f"{lab.stem}: attacks skipped: the judge takes only functions, classes and "
                  "models from the kernel, kinds it enforces", flush=True)  # fmt: skip
            none = {a: (0.0, []) for a in forge.ATTACKS}
            problems += leak_problems(lab.number, lab.path.name, none, known)
        return problems

    def attack(lab, lab_nb: dict, folder: Path, extent: dict) -> list[str]:
        snapshots = folder / "graded" / "work" / "solution" / "kernel" / "snapshots"
        if not snapshots.is_dir():
            return [f"{lab.path.name}: the solution run saved no snapshot ({snapshots})"]
        subs = folder / "attacks" / "submissions"
        ids = [c.id for c in lab.checks]
        written = forge.write_attacks(
            lab_nb, lab.solution, snapshots, ids, subs, lab.path.name, extent
        )
        start = time.monotonic()
        results = grade(lab.number, subs, folder / "attacks" / "graded", solutions=solutions,
                        jobs=1, log=lambda msg: None, **settings)  # fmt: skip
        seconds = time.monotonic() - start
        scores = {
            r.student: (r.score, [c.check for c in r.checks if c.status == "passed"])
            for r in results
        }
        cut = ", ".join(f"{a} through {extent[a] or 'the end'}" for a in written)
        print(f"{lab.stem}: attacks {', '.join(f'{a} {scores[a][0]:g}' for a in written)} "
              f"of {lab.max_score:g} ({cut}; {seconds:.0f} s)", flush=True)  # fmt: skip
        for skipped in set(forge.ATTACKS) - set(written):  # no channel for it: cannot gain
            scores[skipped] = (0.0, [])
        return leak_problems(lab.number, lab.path.name, scores, known)

    workers = max(1, min(jobs or os.cpu_count() or 1, len(labs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, labs))
    problems = [p for found in results for p in found]
    if not problems:
        print(f"all {len(labs)} solutions score full marks as submissions", file=sys.stderr)
    return problems
