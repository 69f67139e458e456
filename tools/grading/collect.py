"""Collect: find each student's notebook for the lab and read it (submissions are only read)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .lab import Lab

IGNORED_FOLDERS = ("__MACOSX", ".ipynb_checkpoints")


def student_folders(submissions: Path) -> tuple[list[Path], list[Path]]:
    """(student folders, stray files) directly in ``submissions``."""
    folders, stray = [], []
    for p in sorted(submissions.iterdir()):
        if p.name.startswith(".") or p.name in IGNORED_FOLDERS:
            continue
        (folders if p.is_dir() else stray).append(p)
    return folders, stray


def find_notebook(folder: Path, lab: Lab) -> tuple[Path | None, list[str], str]:
    """(notebook, flags, reason when there is none) for one student's folder."""
    number = lab.number

    def visible(p: Path) -> bool:
        rel = p.relative_to(folder).parts
        return not any(part.startswith(".") or part in IGNORED_FOLDERS for part in rel)

    everything = sorted(p for p in folder.rglob("*") if p.is_file() and visible(p))
    found = [p for p in everything if p.suffix == ".ipynb"]
    top = [p for p in found if p.parent == folder]
    exact = folder / lab.path.name
    if exact in top:
        return exact, [], ""
    for pool, note in ((top, ""), ([p for p in found if p.parent != folder], "in a subfolder")):
        strict = [p for p in pool if p.name.startswith(f"{number}_")]
        loose = [p for p in pool if re.search(rf"(?<!\d){number}_", p.name)]
        candidates = strict or loose
        if not candidates:
            continue
        chosen = candidates[0]
        rel = chosen.relative_to(folder).as_posix()
        flags = []
        if chosen.name != lab.path.name or note:
            flags.append(f"graded {rel!r} (expected {lab.path.name})")
        if len(candidates) > 1:
            others = ", ".join(repr(p.relative_to(folder).as_posix()) for p in candidates[1:])
            flags.append(f"several notebooks for lab {number}: graded {rel!r}, ignored {others}")
        return chosen, flags, ""
    if not everything:
        return None, [], "the folder is empty"
    if found:
        names = ", ".join(p.relative_to(folder).as_posix() for p in found[:5])
        return None, [], f"no notebook for lab {number} (found {names}: wrong lab number?)"
    names = ", ".join(p.relative_to(folder).as_posix() for p in everything[:5])
    return None, [], f"no .ipynb file (found {names})"


def read_submission(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(notebook, reason when it cannot be graded)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, f"{path.name} is not a text file (not UTF-8): not a notebook"
    except OSError as err:
        return None, f"{path.name} cannot be read: {err.strerror}"
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"{path.name} is not valid notebook JSON ({err.msg} at line {err.lineno})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        if isinstance(nb, dict) and "worksheets" in nb:
            return None, f"{path.name} is an nbformat 3 notebook: open and save it in Jupyter"
        return None, f"{path.name} is JSON but not a Jupyter notebook (no 'cells' list)"
    return nb, ""
