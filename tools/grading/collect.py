"""Collect: find each student's notebook for the lab and read it (submissions are only read)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .lab import GradeError, Lab

IGNORED_FOLDERS = ("__MACOSX", ".ipynb_checkpoints")


def _shown(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if not p.name.startswith(".") and p.name not in IGNORED_FOLDERS
    )


def _holds_students(folder: Path) -> list[Path]:
    """The subfolders of ``folder`` that hold a notebook, when ``folder`` itself holds none."""
    try:
        entries = _shown(folder)
    except OSError:
        return []
    if any(p.is_file() and p.suffix == ".ipynb" for p in entries):
        return []
    inner = []
    for sub in (p for p in entries if p.is_dir()):
        try:
            if any(p.is_file() and p.suffix == ".ipynb" for p in _shown(sub)):
                inner.append(sub)
        except OSError:
            continue
    return inner


def nested_layout(folders: list[Path]) -> list[Path]:
    """The folders that look like a lab's folder of students, not like one student.

    ``submissions/00/alice/00_x.ipynb`` passed as SUBMISSIONS=submissions makes ``00`` a
    "student" whose notebook sits in a subfolder. A folder is taken for a folder of students
    when it holds no notebook itself but two or more subfolders do, or when it is named like a
    lab (``00``, ``lab00``, ``lab-00``) and a subfolder holds a notebook.
    """
    nested = []
    for folder in folders:
        inner = _holds_students(folder)
        lab_like = re.fullmatch(r"(?i)(lab[ _-]?)?\d{1,2}", folder.name) is not None
        if len(inner) >= 2 or (inner and lab_like):
            nested.append(folder)
    return nested


def student_folders(submissions: Path, lab: str | None = None) -> tuple[list[Path], list[Path]]:
    """(student folders, stray files) directly in ``submissions``.

    Raises GradeError when ``submissions`` is one level too high (a folder of labs, each a
    folder of students), naming the folder to pass instead: the one named like ``lab`` where
    there is one.
    """
    folders, stray = [], []
    for p in _shown(submissions):
        (folders if p.is_dir() else stray).append(p)
    nested = nested_layout(folders)
    if nested:
        number = lab.zfill(2) if lab and lab.isdigit() else lab
        same = [p for p in nested if number and re.sub(r"\D", "", p.name).zfill(2) == number]
        first = (same or nested)[0]
        inner = _holds_students(first)
        students = ", ".join(p.name for p in inner[:3]) + (", …" if len(inner) > 3 else "")
        raise GradeError(
            f"SUBMISSIONS={submissions} looks one level too high: {first} holds student folders "
            f"({students}) rather than one student's notebook. Expected one folder per "
            f"student directly in SUBMISSIONS: pass SUBMISSIONS={first} (the layout is "
            "SUBMISSIONS/<student>/NN_*.ipynb)."
        )
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
        return None, (
            f"{path.name} is not valid notebook JSON ({err.msg.removesuffix(' at')}: line "
            f"{err.lineno}, column {err.colno}), so the file is damaged or is not a notebook"
        )
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        if isinstance(nb, dict) and "worksheets" in nb:
            return None, f"{path.name} is an nbformat 3 notebook: open and save it in Jupyter"
        return None, f"{path.name} is JSON but not a Jupyter notebook (no 'cells' list)"
    return nb, ""
