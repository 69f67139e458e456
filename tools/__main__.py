"""``python -m tools {labs,format,check,figures,grade,release,written,feedback,gradebook,verify-full}``.

The notebook pipeline, the instructor's semester (release → grade → written marks →
feedback → gradebook) and the pre-semester full-profile run behind the Makefile.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import feedback, gradebook, grading, notebooks, release, verify_full, written
from .grading import cli as grade_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    labs = sub.add_parser("labs", help="regenerate labs/ from solutions/")
    labs.add_argument("paths", nargs="*", help="solution notebooks (default: all)")
    labs.add_argument(
        "--ref", help="git ref (tag or commit) for badges and setup cells (default: the branch)"
    )
    fmt = sub.add_parser("format", help="rewrite solutions/ and labs/ in canonical form")
    fmt.add_argument("paths", nargs="*", help="notebooks (default: all)")
    sub.add_parser("check", help="fail on drift, outputs, leaks, bad badges, bad check ids")
    figures = sub.add_parser("figures", help="write the PNG outputs of an executed notebook")
    figures.add_argument("notebook", help="an executed notebook, e.g. build/04_x.ipynb")
    figures.add_argument("out", help="folder for cellNN_K.png files")
    grading_parser = sub.add_parser(
        "grade",
        help="grade every SUBMISSIONS/<student>/NN_*.ipynb of one lab into grades.csv",
        description=grading.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grade_cli.add_arguments(grading_parser)
    rel = sub.add_parser("release", help="write the student course (no solutions) into DEST")
    rel.add_argument("--dest", help="an empty folder outside this repository, or a release")
    rel.add_argument("--labs", help='the labs to release, e.g. "00 01" (default: all)')
    rel.add_argument("--tag", help="git tag (or commit) the badges and setup cells name")
    wr = sub.add_parser(
        "written",
        help="collect written answers into OUT/written.csv, or --merge marks into summary.csv",
        description=written.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wr.add_argument("--out", help="the OUT folder of `make grade`")
    wr.add_argument("--merge", metavar="MARKS", help="the marked written.csv to merge")
    wr.add_argument("--solutions", type=Path, default=notebooks.SOLUTIONS)
    fb = sub.add_parser("feedback", help="write OUT/feedback/<student>.html")
    fb.add_argument("--out", help="the OUT folder of `make grade`")
    fb.add_argument("--marks", help="marked written.csv (default OUT/written.csv)")
    fb.add_argument("--solutions", type=Path, default=notebooks.SOLUTIONS)
    gb = sub.add_parser(
        "gradebook",
        help="merge every GRADES/*/summary.csv into one CSV for Canvas/Moodle",
        description=gradebook.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gb.add_argument("--grades", help="folder holding one graded OUT folder per lab")
    gb.add_argument("--output", help="gradebook file (default GRADES/gradebook.csv)")
    gb.add_argument("--roster", help="CSV: student (folder name) + Canvas/Moodle identifiers")
    gb.add_argument("--solutions", type=Path, default=notebooks.SOLUTIONS)
    gb.add_argument(
        "--no-points-possible",
        action="store_true",
        help="leave out Canvas's 'Points Possible' row (for Moodle)",
    )
    verify = sub.add_parser(
        "verify-full",
        help="run every lab in the full profile; write build/full-results.md",
        description=verify_full.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify_full.add_arguments(verify)
    args = parser.parse_args(argv)

    if args.command == "grade":
        return grade_cli.run_cli(args)
    if args.command == "release":
        return release.run_cli(args.dest, args.labs, args.tag or None)
    if args.command == "written":
        return written.run_cli(args.out, args.merge, args.solutions)
    if args.command == "feedback":
        return feedback.run_cli(args.out, args.marks, args.solutions)
    if args.command == "gradebook":
        return gradebook.run_cli(
            args.grades, args.output, args.roster, args.solutions, not args.no_points_possible
        )
    if args.command == "verify-full":
        return verify_full.run_cli(args)

    try:
        if args.command == "labs":
            for path in notebooks.build_labs(only=args.paths or None, ref=args.ref):
                print(f"wrote {path.relative_to(notebooks.ROOT)}")
            return 0
        if args.command == "figures":
            pngs = notebooks.extract_figures(Path(args.notebook), Path(args.out))
            print(f"{len(pngs)} figure(s) from {args.notebook} in {args.out}/")
            return 0
        if args.command == "format":
            for path in notebooks.format_notebooks(only=args.paths or None):
                print(f"formatted {path.relative_to(notebooks.ROOT)}")
            if not args.paths and notebooks.sync_readme():
                print("updated README.md badges")
            return 0
        problems = notebooks.check_repository()
    except notebooks.NotebookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"✗ {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s); see above.", file=sys.stderr)
        return 1
    print(f"notebooks OK ({len(notebooks.solution_paths())} solutions, labs in sync)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
