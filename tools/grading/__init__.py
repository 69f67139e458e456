"""Grade a folder of submissions of one lab: ``make grade LAB=NN SUBMISSIONS=DIR OUT=DIR``.

``DIR/<student>/NN_*.ipynb`` holds one student's notebook (the folder name is the student).
The package follows the data, one student at a time (a self-contained ``run.Job``):

1. ``collect``: find the student's notebook (submissions are only ever read);
2. ``sanitiser``: drop outputs and metadata, strip nbval markers and tags from the student's
   cells, put the canonical setup and check cells back (hidden checks included); every repair
   is a flag in ``summary.csv``;
3. ``run``: the student's kernel runs the notebook under nbval in a bubblewrap sandbox
   (``sandbox``: no network, no view of solutions/ or other students, writes only to its
   scratch folder, bounded memory and processes, per-cell and per-student timeouts); each
   check cell there is a stub that serves the judge;
4. ``judge``: a separate process that never runs student code runs the canonical check
   source, fetching the student's values BY VALUE (``wire``) and calling the student's
   functions remotely; it writes the verdicts where the kernel cannot reach;
5. ``report``: points from the verdicts only; ``OUT/grades.csv`` and ``OUT/summary.csv``.

``--all-solutions`` (``make notebooks``) grades every solution as a submission and fails
unless each scores full marks; ``--solutions-junit FILE`` instead maps an nbval JUnit report
over ``solutions/`` through the same scoring.
Design and threat model: tools/grading/README.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "GradeError": "lab",
    "Lab": "lab",
    "Check": "lab",
    "load_lab": "lab",
    "available_labs": "lab",
    "DEFAULT_CELL_TIMEOUT": "lab",
    "DEFAULT_STUDENT_TIMEOUT": "lab",
    "sanitise": "sanitiser",
    "student_folders": "collect",
    "find_notebook": "collect",
    "read_submission": "collect",
    "STATUSES": "report",
    "GRADES_COLUMNS": "report",
    "SUMMARY_COLUMNS": "report",
    "CellRun": "report",
    "CheckResult": "report",
    "StudentResult": "report",
    "score_checks": "report",
    "write_csvs": "report",
    "verify_solutions": "report",
    "runs_from_junit": "report",
    "Settings": "run",
    "Job": "run",
    "run_student": "run",
    "grade": "pipeline",
    "grade_student": "pipeline",
    "add_arguments": "cli",
    "run_cli": "cli",
}


def __getattr__(name: str) -> Any:  # lazy: the student's kernel imports only what it needs
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
