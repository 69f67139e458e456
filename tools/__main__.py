"""``python -m tools {labs,format,check,figures,grade}``: the notebook pipeline behind the Makefile."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import grading, notebooks
from .grading import cli as grade_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    labs = sub.add_parser("labs", help="regenerate labs/ from solutions/")
    labs.add_argument("paths", nargs="*", help="solution notebooks (default: all)")
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
    args = parser.parse_args(argv)

    if args.command == "grade":
        return grade_cli.run_cli(args)

    try:
        if args.command == "labs":
            for path in notebooks.build_labs(only=args.paths or None):
                print(f"wrote {path.relative_to(notebooks.ROOT)}")
            return 0
        if args.command == "figures":
            written = notebooks.extract_figures(Path(args.notebook), Path(args.out))
            print(f"{len(written)} figure(s) from {args.notebook} in {args.out}/")
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
