"""The command line: ``python -m tools grade`` (``make grade``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .lab import DEFAULT_CELL_TIMEOUT, DEFAULT_STUDENT_TIMEOUT, SOLUTIONS, GradeError
from .pipeline import grade
from .report import verify_solutions
from .solutions import grade_all_solutions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lab", help="lab number, e.g. 00 (solutions/NN_*.ipynb)")
    parser.add_argument(
        "--submissions",
        type=Path,
        help="folder with one folder per student, each holding that student's NN_*.ipynb",
    )
    parser.add_argument(
        "--out", type=Path, help="output folder for grades.csv, summary.csv and work/"
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=DEFAULT_CELL_TIMEOUT,
        help="seconds one cell may run (default %(default)g)",
    )
    parser.add_argument(
        "--student-timeout",
        type=float,
        default=DEFAULT_STUDENT_TIMEOUT,
        help="seconds one student's whole notebook may run (default %(default)g)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="students graded in parallel (default 0: one per CPU core)",
    )
    parser.add_argument(
        "--profile",
        choices=("smoke", "full"),
        default=None,
        help="LAB_PROFILE for the notebooks (default: $LAB_PROFILE, else smoke)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run WITHOUT bubblewrap (trusted notebooks only; flagged in summary.csv)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=0,
        help="memory per student in MiB (default 6144)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on a Dask cluster: one task per student sent to the scheduler at ADDRESS "
        "(tcp://host:8786, or a scheduler JSON file; 'local' starts --jobs workers on this "
        "machine); default: the local pool of --jobs threads",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal; otherwise plain "
        "progress lines)",
    )
    parser.add_argument(
        "--solutions", type=Path, default=SOLUTIONS, help="solutions folder (default solutions/)"
    )
    parser.add_argument(
        "--solutions-junit",
        type=Path,
        metavar="XML",
        help="instead of grading: score solutions/ from an nbval JUnit report over "
        "solutions/; exit 1 unless every solution scores full marks",
    )
    parser.add_argument(
        "--all-solutions",
        action="store_true",
        help="grade every solutions/NN_*.ipynb as a submission (sandbox and judge, as for a "
        "student) into OUT/NN/; exit 1 unless each scores full marks with no flag, and its "
        "blank lab scores 0 under the grading rule's attacks (forged snapshot, swapped "
        "reference; tools/grading/forge.py); with --lab NN: that lab only",
    )
    parser.add_argument(
        "--attacks",
        choices=("auto", "all", "none"),
        default="auto",
        help="with --all-solutions: grade the forged blank labs of the labs where the kernel "
        "has a channel to a check (auto, the default), of every lab (all), or none",
    )


def run_cli(args: argparse.Namespace) -> int:
    try:
        if args.solutions_junit:
            problems = verify_solutions(args.solutions_junit, args.solutions)
            for problem in problems:
                print(f"✗ {problem}", file=sys.stderr)
            return 1 if problems else 0
        # the same settings for a class's submissions and for the course's own solutions
        settings = dict(
            solutions=args.solutions,
            cell_timeout=args.cell_timeout,
            student_timeout=args.student_timeout,
            jobs=args.jobs or None,
            profile=args.profile,
            sandboxed=not args.no_sandbox,
            memory=(args.memory_mb << 20) if args.memory_mb else None,
        )
        if args.all_solutions:
            problems = grade_all_solutions(
                args.out or Path("build") / "solutions-graded",
                attacks=args.attacks,
                only=[args.lab] if args.lab else None,
                **settings,
            )
            for problem in problems:
                print(f"✗ {problem}", file=sys.stderr)
            return 1 if problems else 0
        if not args.lab or not args.submissions:
            print(
                "usage: python -m tools grade --lab NN --submissions DIR [--out DIR] (see --help)",
                file=sys.stderr,
            )
            return 2
        out = args.out or Path("grades") / str(args.lab).zfill(2)
        grade(
            args.lab,
            args.submissions,
            out,
            scheduler=args.scheduler,
            progress=args.progress,
            **settings,
        )
    except GradeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if getattr(args, "scheduler", None):
            print(
                "interrupted: the students not started were cancelled; those running finish "
                "on their workers",
                file=sys.stderr,
            )
        else:
            print("interrupted: the running notebooks were stopped", file=sys.stderr)
        return 130
    return 0
