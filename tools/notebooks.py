"""The notebook pipeline: canonical form, lab generation, and the repository checks.

Conventions in ``solutions/NN_topic.ipynb`` (the single source):

* code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes
  ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` in the lab (same indentation);
* markdown between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` becomes
  ``*YOUR ANSWER HERE*``;
* lines between ``### BEGIN HIDDEN CHECKS`` and ``### END HIDDEN CHECKS`` are removed from the
  lab (grading restores them);
* cell metadata ``{"course": {"role": "setup"}}`` marks the setup cell and
  ``{"course": {"role": "check", "id": "...", "points": N}}`` a check cell; a check cell's
  notebook cell id equals its check id, so grading can match cells across versions;
* ``{"course": {"role": "written", "id": "...", "points": N}}`` marks a markdown cell whose
  answer (its ``<!-- BEGIN SOLUTION -->`` block) is written in words and marked by hand
  (``tools/written.py`` collects the answers into ``written.csv``).

Every generated lab's first cell ends with :data:`GRADING_NOTE` (checks plus hidden checks), and
its setup cell fetches the *student* repository (``student_repository`` in ``[tool.course]``),
which is the repository itself for self-study.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN CHECKS"
END_HIDDEN = "### END HIDDEN CHECKS"
MD_BEGIN = "<!-- BEGIN SOLUTION -->"
MD_END = "<!-- END SOLUTION -->"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
MD_STUB = "*YOUR ANSWER HERE*"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN, MD_BEGIN, MD_END)

NAME_RE = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
CELL_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"']+")
REPO_LINE_RE = re.compile(r'^REPO = "[^"]*"$', re.MULTILINE)
REF_LINE_RE = re.compile(r'^REF = "([^"]*)"', re.MULTILINE)
REF_RE = re.compile(r"[A-Za-z0-9][\w.+-]{0,99}")  # tags, branches, commit hashes; no slashes
# The setup cell's lab-specific part starts at this line; what comes before it is SETUP_BOOTSTRAP.
SETUP_TAIL_RE = re.compile(r"^import common$", re.MULTILINE)

# The start of every setup cell, written by `make format`/`make labs` (DESIGN.md §4): fetch
# `common` on Colab at the ref this notebook was generated for, find it from any folder, and
# apply the known package fixes (common/colab.py) before anything imports TensorFlow. It must
# stay ruff-formatted (`make check` runs `ruff format --check` on the notebooks).
SETUP_BOOTSTRAP = """\
# Setup. On Colab: fetch the course's helper package `common` at the version this notebook
# belongs to, and fix the package conflicts the course knows before anything imports them.
# Anywhere: find `common` (this folder or the one above it, /content/course, or installed).
import importlib.util
import os
import subprocess
import sys

REPO = "{repo}"
REF = "{ref}"  # the course version (tag or commit) that this notebook and `common` share
COURSE = "/content/course"
try:
    import google.colab  # present only on Colab

    ON_COLAB = True
except ImportError:
    ON_COLAB = False
if ON_COLAB and not os.path.isfile(f"{{COURSE}}/.ref-{{REF}}"):
    os.makedirs(COURSE, exist_ok=True)
    for step in (["init"], ["fetch", "--depth", "1", REPO, REF], ["checkout", "-f", "FETCH_HEAD"]):
        subprocess.run(["git", "-C", COURSE, step[0], "-q", *step[1:]], check=True)
    open(f"{{COURSE}}/.ref-{{REF}}", "w").close()
PLACES = [os.getcwd(), os.path.dirname(os.getcwd()), COURSE]
FOUND = [p for p in PLACES if os.path.isfile(os.path.join(p, "common", "colab.py"))]
if FOUND and FOUND[0] not in sys.path:
    sys.path.insert(0, FOUND[0])
elif not FOUND and importlib.util.find_spec("common") is None:
    raise ModuleNotFoundError(
        f"The course's helper package `common` is in none of {{PLACES}} and is not installed. "
        f'Fix it with this one command in a cell: %pip install "git+{{REPO}}@{{REF}}"'
    )
from common import colab  # imports no TensorFlow: the fixes must come first

colab.fix_known_conflicts()

"""


def setup_source(text: str, repo: str, ref: str, where: str) -> str:
    """A setup cell's source with its bootstrap rewritten for ``repo`` at ``ref``.

    Everything from the line ``import common`` on is the notebook's own (its ``common.setup``
    arguments and their comments) and is kept as it is. A cell without that line only has its
    ``REPO = "…"`` line rewritten.
    """
    tail = SETUP_TAIL_RE.search(text)
    if not tail:  # not a course notebook's setup (a test's toy cell): only its REPO line
        return REPO_LINE_RE.sub(f'REPO = "{repo}"', text)
    return SETUP_BOOTSTRAP.format(repo=repo, ref=ref) + text[tail.start() :]


def setup_ref(nb: dict[str, Any]) -> str | None:
    """The ref a notebook's setup cell fetches ``common`` at (``None``: no setup cell/ref)."""
    for cell in nb.get("cells", []):
        if role(cell) == "setup":
            found = REF_LINE_RE.search(source(cell))
            return found.group(1) if found else None
    return None


GRADING_NOTE = (
    "> **How this lab is graded.** A ✓ under a check cell means your code passed *that* check. "
    "When your instructor grades the lab, the grader puts back the original check cells (editing "
    "or deleting one changes nothing) and runs the same checks **plus hidden ones** that try your "
    "code on other inputs. So a ✓ here is necessary but not sufficient: make each answer right in "
    "general, not only for the values a check prints. Answers written in words are marked by "
    "hand."
)

NOTEBOOK_METADATA = {
    "accelerator": "GPU",
    "colab": {"gpuType": "T4", "provenance": []},
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


class NotebookError(ValueError):
    """A notebook breaks one of the course's conventions; the message names file and cell."""


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Course:
    repository: str  # "owner/name" on GitHub: this repository (solutions, tools, tests)
    branch: str
    # Where students fetch the labs and `common` from: the public release of the course
    # (`make release`). Self-study: the repository itself (the default).
    student_repository: str = ""
    # The git ref (a release tag such as v2026.1, or a commit) that badges open and setup cells
    # fetch `common` at; empty: the branch (`main`), which is what the development repository's
    # committed notebooks carry. `make labs REF=…` and `make release TAG=…` set it.
    ref: str = ""

    @property
    def version(self) -> str:
        """The ref written into badges and setup cells: ``ref``, else the branch."""
        return self.ref or self.branch

    def with_ref(self, ref: str | None) -> Course:
        """The same course at ``ref`` (``None`` or empty: the branch)."""
        if ref and not REF_RE.fullmatch(ref):
            raise NotebookError(
                f"Not a git ref a notebook can carry: {ref!r} (expected a tag such as v2026.1, "
                "a branch or a commit hash)."
            )
        if ref and re.fullmatch(r"[0-9a-f]{7,39}", ref):
            raise NotebookError(
                f"{ref!r} looks like an abbreviated commit: give the full 40-character hash "
                "(`git rev-parse <commit>`), which is what a setup cell can fetch."
            )
        return Course(self.repository, self.branch, self.student_repository, ref or "")

    def badge_url(self, relpath: str) -> str:
        return f"https://colab.research.google.com/github/{self.repository}/blob/{self.version}/{relpath}"

    @property
    def clone_url(self) -> str:
        return f"https://github.com/{self.repository}"

    @property
    def student_clone_url(self) -> str:
        return f"https://github.com/{self.student_repository or self.repository}"

    def setup_clone_url(self, relpath: str) -> str:
        """What a notebook's setup cell clones: the student repository for a generated lab."""
        return self.student_clone_url if relpath.startswith("labs/") else self.clone_url

    def released(self) -> Course:
        """The configuration as seen from inside the student repository (``make release``)."""
        student = self.student_repository or self.repository
        return Course(student, self.branch, student, self.ref)


def course_config(root: Path = ROOT) -> Course:
    """Read ``[tool.course]`` from pyproject.toml: the one place the repository is named."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    section = data.get("tool", {}).get("course", {})
    repo = section.get("repository", "")
    student = section.get("student_repository", repo)
    for key, value in (("repository", repo), ("student_repository", student)):
        if not isinstance(value, str) or not re.fullmatch(r"[\w.-]+/[\w.-]+", value):
            raise NotebookError(
                f"pyproject.toml [tool.course] {key} must look like 'owner/name', "
                f"received {value!r}."
            )
    return Course(repo, section.get("branch", "main"), student)


# --------------------------------------------------------------------------- io


def read(path: Path) -> dict[str, Any]:
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise NotebookError(f"{path}: not valid notebook JSON ({err}).") from err
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path}: expected a notebook with a 'cells' list.")
    return nb


def dumps(nb: dict[str, Any]) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _split_source(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines:
        lines[-1] = lines[-1].rstrip("\n")
    return lines


def course_meta(cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("course", {})
    return meta if isinstance(meta, dict) else {}


def role(cell: dict[str, Any]) -> str | None:
    return course_meta(cell).get("role")


# --------------------------------------------------------------------------- canonical form


def canonical(nb: dict[str, Any], relpath: str, course: Course) -> dict[str, Any]:
    """The one committed form: no outputs, null counts, stable ids, sorted keys, minimal metadata.

    Also writes the Colab badge (first cell) and the setup cell's ``REPO = "…"`` from the
    course configuration.
    """
    cells = []
    used: set[str] = set()
    for index, cell in enumerate(nb.get("cells", [])):
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            raise NotebookError(f"{relpath}: cell {index} has unknown cell_type {kind!r}.")
        text = source(cell).rstrip() if kind != "raw" else source(cell)
        meta = {"course": course_meta(cell)} if course_meta(cell) else {}
        if index == 0 and kind == "markdown":
            text = BADGE_RE.sub(course.badge_url(relpath), text)
        if meta.get("course", {}).get("role") == "setup":
            text = setup_source(
                text, course.setup_clone_url(relpath), course.version, f"{relpath} cell {index}"
            )
        cell_id = _cell_id(cell, meta, text, index, used)
        used.add(cell_id)
        new: dict[str, Any] = {
            "cell_type": kind,
            "id": cell_id,
            "metadata": meta,
            "source": _split_source(text),
        }
        if kind == "code":
            new["execution_count"] = None
            new["outputs"] = []
        cells.append(new)
    metadata = copy.deepcopy(NOTEBOOK_METADATA)
    if "course" in nb.get("metadata", {}):
        metadata["course"] = nb["metadata"]["course"]
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def _cell_id(cell: dict[str, Any], meta: dict, text: str, index: int, used: set[str]) -> str:
    info = meta.get("course", {})
    if info.get("role") == "check" and info.get("id"):
        return str(info["id"])
    if info.get("role") == "setup":
        return "setup"
    current = cell.get("id")
    if isinstance(current, str) and CELL_ID_RE.match(current) and current not in used:
        return current
    digest = hashlib.sha1(f"{index}\n{text}".encode()).hexdigest()
    candidate = digest[:8]
    n = 8
    while candidate in used:
        n += 1
        candidate = digest[:n]
    return candidate


# --------------------------------------------------------------------------- lab generation


def _strip_code(text: str, where: str) -> str:
    out: list[str] = []
    mode = None  # None, "solution", "hidden"
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped == BEGIN_SOLUTION:
            if mode:
                raise NotebookError(f"{where}: '{BEGIN_SOLUTION}' inside an open {mode} region.")
            mode = "solution"
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + s for s in STUB)
        elif stripped == END_SOLUTION:
            if mode != "solution":
                raise NotebookError(
                    f"{where}: '{END_SOLUTION}' without a matching '{BEGIN_SOLUTION}'."
                )
            mode = None
        elif stripped == BEGIN_HIDDEN:
            if mode:
                raise NotebookError(f"{where}: '{BEGIN_HIDDEN}' inside an open {mode} region.")
            mode = "hidden"
        elif stripped == END_HIDDEN:
            if mode != "hidden":
                raise NotebookError(f"{where}: '{END_HIDDEN}' without a matching '{BEGIN_HIDDEN}'.")
            mode = None
        elif mode is None:
            out.append(line)
    if mode:
        raise NotebookError(f"{where}: {mode} region opened but never closed.")
    return "\n".join(out).rstrip()


def _strip_markdown(text: str, where: str) -> str:
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.DOTALL)
    text = pattern.sub(MD_STUB, text)
    if MD_BEGIN in text or MD_END in text:
        raise NotebookError(f"{where}: unmatched '{MD_BEGIN}' / '{MD_END}'.")
    return text


def generate_lab(solution: dict[str, Any], relpath: str, course: Course) -> dict[str, Any]:
    """The student version of a solution notebook (``relpath`` is the lab's path)."""
    lab = copy.deepcopy(solution)
    for index, cell in enumerate(lab["cells"]):
        where = f"{relpath} cell {index} ({cell.get('id', '?')})"
        if cell["cell_type"] == "code":
            text = _strip_code(source(cell), where)
        elif cell["cell_type"] == "markdown":
            text = _strip_markdown(source(cell), where)
        else:
            continue
        cell["source"] = _split_source(text)
    if lab["cells"] and lab["cells"][0]["cell_type"] == "markdown":
        first = lab["cells"][0]
        first["source"] = _split_source(source(first).rstrip() + "\n\n" + GRADING_NOTE)
    lab.setdefault("metadata", {})["course"] = {
        "generated_from": relpath.replace("labs/", "solutions/", 1),
        "note": "generated by `make labs`; edit the solution notebook instead",
    }
    return canonical(lab, relpath, course)


# --------------------------------------------------------------------------- checks


def check_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb.get("cells", []) if role(c) == "check"]


def written_problems(nb: dict[str, Any], relpath: str) -> list[str]:
    """Written-answer cells: markdown with an answer block, an id and positive points."""
    problems = []
    seen: set[str] = set()
    check_ids = {str(course_meta(c).get("id")) for c in check_cells(nb)}
    is_solution = relpath.startswith("solutions/")
    for index, cell in enumerate(nb.get("cells", [])):
        if role(cell) != "written":
            continue
        info = course_meta(cell)
        wid = info.get("id")
        where = f"{relpath}: written cell {index}"
        if cell.get("cell_type") != "markdown":
            problems.append(f"{where} should be markdown, is {cell.get('cell_type')!r}.")
        if not wid or not CELL_ID_RE.match(str(wid)):
            problems.append(f"{where} has a missing or invalid id {wid!r}.")
        elif wid in seen or wid in check_ids:
            problems.append(
                f"{where}: id {wid!r} is already used by another written or check cell."
            )
        seen.add(str(wid))
        points = info.get("points")
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
            problems.append(f"{where} ({wid!r}) needs positive 'points', has {points!r}.")
        text = source(cell)
        expected = (MD_BEGIN, MD_END) if is_solution else (MD_STUB,)
        if not all(marker in text for marker in expected):
            problems.append(f"{where} ({wid!r}) has no answer block ({' … '.join(expected)}).")
    return problems


def validate(nb: dict[str, Any], relpath: str, course: Course, is_lab: bool) -> list[str]:
    """Problems with one notebook (an empty list when it keeps every convention)."""
    problems = []
    name = Path(relpath).name
    if not NAME_RE.match(name):
        problems.append(f"{relpath}: file name should look like 'NN_topic.ipynb'.")
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and (
            cell.get("outputs") or cell.get("execution_count") is not None
        ):
            problems.append(
                f"{relpath}: cell {index} has outputs or an execution count (run `make format`)."
            )
            break
    cells = nb.get("cells", [])
    first = source(cells[0]) if cells else ""
    badges = BADGE_RE.findall(first)
    expected = course.badge_url(relpath)
    if not badges:
        problems.append(
            f"{relpath}: the first cell has no Colab badge (expected a link to {expected})."
        )
    for url in badges:
        if url != expected:
            problems.append(f"{relpath}: Colab badge points to {url}, expected {expected}.")
    if not any(
        cell.get("cell_type") == "markdown" and source(cell).startswith("# ") for cell in cells[:1]
    ):
        problems.append(
            f"{relpath}: the first cell should be markdown starting with the title ('# …')."
        )
    setups = [c for c in cells if role(c) == "setup"]
    if len(setups) != 1:
        problems.append(f"{relpath}: expected exactly one setup cell, found {len(setups)}.")
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if role(cell) != "check":
            continue
        info = course_meta(cell)
        cid = info.get("id")
        if not cid or not CELL_ID_RE.match(str(cid)):
            problems.append(f"{relpath}: check cell {index} has a missing or invalid id {cid!r}.")
            continue
        if cid in seen:
            problems.append(
                f"{relpath}: check id {cid!r} is used by cells {seen[cid]} and {index}."
            )
        seen[cid] = index
        points = info.get("points")
        if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
            problems.append(f"{relpath}: check {cid!r} needs positive 'points', has {points!r}.")
        if cell.get("id") != cid:
            problems.append(
                f"{relpath}: check {cid!r} has cell id {cell.get('id')!r} (run `make format`)."
            )
    if not seen:
        problems.append(f"{relpath}: has no check cells.")
    problems += written_problems(nb, relpath)
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and _ends_with_plot_call(source(cell)):
            problems.append(
                f"{relpath}: cell {index} ends with a common.plots call, so Jupyter shows its "
                "figure twice (once by the call, once as the cell's value); assign it: `_ = …`."
            )
    if is_lab:
        text = json.dumps(nb)
        for marker in MARKERS:
            if marker in text:
                problems.append(
                    f"{relpath}: contains {marker!r}: solution or hidden-check text in a lab."
                )
    return problems


def _ends_with_plot_call(text: str) -> bool:
    """Whether a code cell's last statement is a bare ``common.plots.*(...)`` expression."""
    try:
        body = ast.parse(text).body
    except SyntaxError:  # IPython magics and the like: not ours to judge
        return False
    if not body or not isinstance(body[-1], ast.Expr) or not isinstance(body[-1].value, ast.Call):
        return False
    func = ast.unparse(body[-1].value.func)
    return func.startswith(("common.plots.", "plots.")) and not text.rstrip().endswith(";")


def extract_figures(executed: Path, out_dir: Path) -> list[Path]:
    """Write every PNG output of an executed notebook to ``out_dir/cellNN_K.png``.

    ``make lab`` uses it so that a maintainer can look at every figure of a headless run,
    plain Matplotlib ones included. Earlier PNGs in ``out_dir`` are removed first.
    """
    import base64

    nb = read(executed)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("cell*.png"):
        old.unlink()
    written = []
    for index, cell in enumerate(nb.get("cells", [])):
        pngs = [
            o["data"]["image/png"]
            for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})
        ]
        for k, png in enumerate(pngs, start=1):
            path = out_dir / f"cell{index:02d}_{k}.png"
            path.write_bytes(base64.b64decode("".join(png) if isinstance(png, list) else png))
            written.append(path)
    return written


def solution_paths(root: Path = ROOT) -> list[Path]:
    return sorted((root / "solutions").glob("*.ipynb"))


def build_labs(
    root: Path = ROOT, only: list[Path] | None = None, ref: str | None = None
) -> list[Path]:
    """Regenerate ``labs/`` from ``solutions/`` (or just ``only``); remove orphaned labs.

    ``ref`` (``make labs REF=v2026.1``): the git ref written into every lab's badge and setup
    cell, and into the README's lab badges; none given: the branch (``main``).
    """
    course = course_config(root).with_ref(ref)
    (root / "labs").mkdir(exist_ok=True)
    written = []
    names = {p.name for p in solution_paths(root)}
    for sol in [Path(p) for p in only] if only else solution_paths(root):
        rel = f"labs/{sol.name}"
        text = dumps(generate_lab(read(sol), rel, course))
        target = root / rel
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    for stale in (root / "labs").glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
            written.append(stale)
    if not only and sync_readme(root, course):
        written.append(root / "README.md")
    return written


def format_notebooks(root: Path = ROOT, only: list[Path] | None = None) -> list[Path]:
    """Rewrite every solution and lab notebook (or just ``only``) in canonical form."""
    course = course_config(root)
    changed = []
    paths = (
        [Path(p).resolve() for p in only]
        if only
        else [
            p for folder in ("solutions", "labs") for p in sorted((root / folder).glob("*.ipynb"))
        ]
    )
    for path in paths:
        rel = f"{path.parent.name}/{path.name}"
        nb = read(path)
        # a lab keeps the ref it was generated at (`make labs REF=…`); a solution has the branch
        version = course.with_ref(setup_ref(nb)) if rel.startswith("labs/") else course
        text = dumps(canonical(nb, rel, version))
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def check_repository(root: Path = ROOT) -> list[str]:
    """Every problem ``make check`` reports: drift, outputs, leaks, badges, check ids."""
    course = course_config(root)
    problems: list[str] = []
    refs = lab_refs(root)
    if len(set(refs.values())) > 1:
        problems.append(
            "labs/ mixes refs in its setup cells ("
            + ", ".join(f"{name}: {ref}" for name, ref in sorted(refs.items()))
            + "): run `make labs [REF=…]`."
        )
    rule: list[str] = []  # the grading rule (tools/grading/lab.py: rule_problems, LINT_STRICT)
    sols = solution_paths(root)
    if not sols:
        problems.append("solutions/ holds no notebooks.")
    for sol in sols:
        rel = f"solutions/{sol.name}"
        try:
            nb = read(sol)
        except NotebookError as err:
            problems.append(str(err))
            continue
        problems += validate(nb, rel, course, is_lab=False)
        rule += grading_rule_problems(nb, rel)
        if dumps(canonical(nb, rel, course)) != sol.read_text(encoding="utf-8"):
            problems.append(f"{rel}: not in canonical form (run `make format`).")
        lab_path = root / "labs" / sol.name
        lab_rel = f"labs/{sol.name}"
        # A lab is in sync at the ref its setup cell names (`make labs REF=…`; default main).
        try:
            lab_course = course.with_ref(refs.get(sol.name))
            expected = dumps(generate_lab(nb, lab_rel, lab_course))
        except NotebookError as err:
            problems.append(str(err))
            continue
        if not lab_path.exists():
            problems.append(f"{lab_rel}: missing (run `make labs`).")
            continue
        try:
            lab = read(lab_path)
        except NotebookError as err:
            problems.append(str(err))
            continue
        problems += validate(lab, lab_rel, lab_course, is_lab=True)
        if lab_path.read_text(encoding="utf-8") != expected:
            problems.append(f"{lab_rel}: out of date with {rel} (run `make labs`).")
    for lab_path in sorted((root / "labs").glob("*.ipynb")):
        if not (root / "solutions" / lab_path.name).exists():
            problems.append(f"labs/{lab_path.name}: has no solution notebook (run `make labs`).")
    return problems + rule_verdict(rule) + check_readme(root)


def rule_verdict(rule: list[str]) -> list[str]:
    """The grading rule's problems as `make check` problems (``LINT_STRICT``), else warnings."""
    if rule and not lint_strict():
        print(
            f"warning: {len(rule)} problem(s) with the grading rule, not failing `make check` "
            "because tools/grading/lab.py LINT_STRICT is False:\n  " + "\n  ".join(rule),
            file=sys.stderr,
        )
        return []
    return rule


def grading_rule_problems(nb: dict[str, Any], relpath: str) -> list[str]:
    """The grading rule's lint of one solution notebook (``tools.grading.lab.rule_problems``):
    every name a check takes from the student's kernel is a function, class or declared model."""
    from .grading import lab  # lazy: tools.grading.lab imports this module

    return lab.rule_problems(nb, relpath)


def lint_strict() -> bool:
    from .grading import lab

    return bool(lab.LINT_STRICT)


# --------------------------------------------------------------------------- README badges

README_BADGE_RE = re.compile(
    r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/((?:labs|solutions)/[\w.-]+\.ipynb)"
)


def lab_refs(root: Path = ROOT) -> dict[str, str]:
    """The ref each generated lab's setup cell names, by file name (labs without one left out)."""
    refs = {}
    for path in sorted((root / "labs").glob("*.ipynb")):
        try:
            ref = setup_ref(read(path))
        except NotebookError:
            continue
        if ref:
            refs[path.name] = ref
    return refs


def _readme_course(root: Path, course: Course | None = None) -> Course:
    """The README's badges open the labs at the labs' ref (one ref; else the branch)."""
    if course is not None:
        return course
    refs = set(lab_refs(root).values())
    return course_config(root).with_ref(refs.pop() if len(refs) == 1 else None)


def _readme_badge(course: Course, rel: str) -> str:
    """A lab badge opens the labs' ref; a solution badge the branch (solutions are not released)."""
    return (course if rel.startswith("labs/") else course.with_ref(None)).badge_url(rel)


def sync_readme(root: Path = ROOT, course: Course | None = None) -> bool:
    """Point the README's Colab badges at the configured repository and the labs' ref."""
    readme = root / "README.md"
    if not readme.exists():
        return False
    course = _readme_course(root, course)
    text = readme.read_text(encoding="utf-8")
    new = README_BADGE_RE.sub(lambda m: _readme_badge(course, m.group(1)), text)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def check_readme(root: Path = ROOT) -> list[str]:
    """README badges must use the configured repository and point at existing notebooks."""
    readme = root / "README.md"
    if not readme.exists():
        return ["README.md is missing."]
    course = _readme_course(root)
    problems = []
    for match in README_BADGE_RE.finditer(readme.read_text(encoding="utf-8")):
        url, rel = match.group(0), match.group(1)
        if url != _readme_badge(course, rel):
            problems.append(
                f"README.md: badge {url} should be {_readme_badge(course, rel)} (run `make format`)."
            )
        if not (root / rel).exists():
            problems.append(f"README.md: badge points to {rel}, which does not exist.")
    return problems
