"""Sanitise a student's notebook into the notebook that is graded (GRADING CONTRACT §7.2).

Drops outputs and metadata, strips nbval markers and tags from the student's cells, puts the
canonical setup and check cells back (matched by id, metadata or source; re-inserted where
missing); every repair is a flag. ``kernel_copy`` then turns the graded notebook into the one
the student's kernel runs: each check cell becomes a stub that serves the judge.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import notebooks
from .lab import NBVAL_MARKER_RE, Lab, _canonical_id, _norm, _text, _what


def sanitise(student: dict[str, Any], lab: Lab) -> tuple[dict[str, Any], list[str]]:
    """The notebook to run and the repairs made (flags), from a student's notebook."""
    flags: list[str] = []
    solution_ids = [c.get("id") for c in lab.solution["cells"]]
    own_ids = set(solution_ids) - set(lab.canonical)
    raw_cells = student.get("cells") if isinstance(student.get("cells"), list) else []
    ids_preserved = any(isinstance(c, dict) and c.get("id") in own_ids for c in raw_cells)

    valid = [
        isinstance(c, dict) and c.get("cell_type") in ("code", "markdown", "raw") for c in raw_cells
    ]
    matches = [_match(c, _text(c), lab) if ok else None for c, ok in zip(raw_cells, valid)]
    # The cell that stands for each canonical cell: the one with its id, else the first match.
    primary: dict[str, int] = {}
    for index, cid in enumerate(matches):
        if cid is None:
            continue
        by_id = raw_cells[index].get("id") == cid
        if cid not in primary or (by_id and raw_cells[primary[cid]].get("id") != cid):
            primary[cid] = index

    out: list[dict[str, Any]] = []
    placed: set[str] = set()
    used_ids: set[str] = set(lab.canonical)
    for index, cell in enumerate(raw_cells):
        if not valid[index]:
            flags.append(f"dropped cell {index}: not a valid notebook cell")
            continue
        text = _text(cell)
        cid = matches[index]
        if cid is not None:
            if primary[cid] != index:
                flags.append(f"removed a second copy of {_what(cid)} (cell {index})")
                continue
            if cell.get("cell_type") != "code":
                flags.append(f"{_what(cid)} was turned into a {cell['cell_type']} cell: restored")
            elif _norm(_at_canonical_ref(text, cid, lab)) not in lab.versions[cid]:
                flags.append(f"{_what(cid)} was edited: restored the original")
            out.append(_fresh(lab.canonical[cid]))
            placed.add(cid)
            continue
        out.append(_student_cell(cell, text, index, used_ids, flags))

    for cid in (c for c in lab.canonical if c not in placed):  # solution order
        position = _insert_position(out, cid, lab, solution_ids, ids_preserved)
        out.insert(position, _fresh(lab.canonical[cid]))
        placed.add(cid)
        flags.append(
            "re-inserted the missing " + ("setup cell" if cid == "setup" else f"check {cid}")
        )
    nb = {
        "cells": out,
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return nb, flags


def _at_canonical_ref(text: str, cid: str, lab: Lab) -> str:
    """A setup cell names the git ref its lab was released at (`make release TAG=…`, issue 26):
    any ref is the original cell, not an edit (the canonical cell is run either way)."""
    if cid != "setup":
        return text
    want = notebooks.REF_LINE_RE.search(_text(lab.canonical[cid]))
    return notebooks.REF_LINE_RE.sub(f'REF = "{want.group(1)}"', text) if want else text


def _match(cell: dict[str, Any], text: str, lab: Lab) -> str | None:
    """Which canonical cell a student cell is: by cell id, course metadata, or exact source."""
    if cell.get("id") in lab.canonical:
        return str(cell["id"])
    cid = _canonical_id(cell)
    if cid in lab.canonical:
        return cid
    if cell.get("cell_type") == "code" and _norm(text):
        return next((c for c, texts in lab.versions.items() if _norm(text) in texts), None)
    return None


def _fresh(cell: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(cell)
    new["outputs"] = []
    new["execution_count"] = None
    return new


def _student_cell(
    cell: dict[str, Any], text: str, index: int, used_ids: set[str], flags: list[str]
) -> dict[str, Any]:
    kind = cell["cell_type"]
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    tags = metadata.get("tags")
    if tags:
        flags.append(f"removed the tags {tags!r} from cell {index}")
    if kind == "code":
        lines = text.split("\n")
        markers = [m.group(1) for line in lines if (m := NBVAL_MARKER_RE.match(line))]
        if markers:
            flags.append(f"removed the nbval marker(s) {', '.join(markers)} from cell {index}")
            text = "\n".join(line for line in lines if not NBVAL_MARKER_RE.match(line))
    cid = cell.get("id")
    if not (isinstance(cid, str) and notebooks.CELL_ID_RE.match(cid)) or cid in used_ids:
        n = index
        while f"student-{n}" in used_ids:
            n += 1
        cid = f"student-{n}"
    used_ids.add(cid)
    new: dict[str, Any] = {"cell_type": kind, "id": cid, "metadata": {}, "source": text}
    if kind == "code":
        new["execution_count"] = None
        new["outputs"] = []
    return new


def _insert_position(
    out: list[dict[str, Any]], cid: str, lab: Lab, solution_ids: list, ids_preserved: bool
) -> int:
    """Where a missing canonical cell goes.

    When the notebook kept the lab's cell ids (Jupyter does), right after the nearest cell
    before it in the solution that is still there: a deleted check lands just after its
    exercise. Without ids (some editors drop them), just before the next canonical cell that
    is there (so after the student's exercise code); the setup cell before the first code cell.
    """
    k = solution_ids.index(cid)
    present = [c.get("id") for c in out]
    if ids_preserved:
        for sid in reversed(solution_ids[:k]):
            if sid in present:
                return present.index(sid) + 1
        return 0
    if cid == "setup":
        return next((i for i, c in enumerate(out) if c["cell_type"] == "code"), len(out))
    for sid in solution_ids[k + 1 :]:
        if sid in lab.canonical and sid in present:
            return present.index(sid)
    return len(out)


def code_cell_map(nb: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """nbval's item numbers ('Cell N' counts code cells only) -> the cell."""
    return dict(enumerate(c for c in nb["cells"] if c.get("cell_type") == "code"))
