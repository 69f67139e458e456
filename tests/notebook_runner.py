"""Execute a notebook in a fresh kernel and report, per cell, what happened (for the tests)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CellResult:
    index: int
    role: str | None
    check_id: str | None
    error: str | None  # exception class name, or None when the cell ran cleanly
    message: str


def run(
    path: Path, prelude: str | None = None, timeout: int = 300, env_profile: str = "smoke"
) -> list[CellResult]:
    """Run every cell (errors do not stop the run); ``prelude`` is executed first."""
    nb = nbformat.reads(Path(path).read_text(encoding="utf-8"), as_version=4)
    nb = copy.deepcopy(nb)
    if prelude:
        nb.cells.insert(
            0, nbformat.v4.new_code_cell(prelude, metadata={"course": {"role": "prelude"}})
        )
    client = NotebookClient(
        nb,
        timeout=timeout,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    import os

    old = os.environ.get("LAB_PROFILE")
    os.environ["LAB_PROFILE"] = env_profile
    try:
        client.execute()
    finally:
        if old is None:
            os.environ.pop("LAB_PROFILE", None)
        else:
            os.environ["LAB_PROFILE"] = old
    results = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        course = cell.get("metadata", {}).get("course", {})
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        results.append(
            CellResult(
                index,
                course.get("role"),
                course.get("id"),
                errors[0]["ename"] if errors else None,
                (errors[0]["evalue"] if errors else "")[:500],
            )
        )
    return results


def describe(results: list[CellResult]) -> str:
    return json.dumps([r.__dict__ for r in results if r.error], indent=1)
