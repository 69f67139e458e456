"""``make release DEST=DIR``: the student-facing course, with no answers and no hidden checks.

nbgrader's *release* step, without its database: ``DIR`` receives what a student repository
holds, and nothing else:

* ``labs/NN_*.ipynb``, generated from ``solutions/`` (answers cut, hidden checks removed), their
  Colab badges and setup cells pointing at ``student_repository`` from ``[tool.course]``;
* ``common/`` (the helper package the labs import), ``requirements.txt``, ``pyproject.toml``
  (with ``[tool.course]`` naming the student repository);
* a student README (how to open and run the labs; how checks and hidden checks work) and the
  licence.

No ``solutions/``, ``tools/`` or ``tests/``. The instructor commits ``DIR`` to the public
student repository; this repository can stay private. A released setup cell differs from the
canonical one in ``solutions/`` only by the repository it clones: :func:`setup_variants` lists
the sources the grader must accept for it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from . import notebooks
from .notebooks import ROOT, Course, NotebookError

TEMPLATES = Path(__file__).resolve().parent / "templates"
COPIED = ("common", "requirements.txt")  # shipped as they are
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")


class ReleaseError(ValueError):
    """The release cannot be written (bad DEST, missing source file); the message says why."""


def setup_variants(canonical_source: str, course: Course | None = None) -> set[str]:
    """Every source a submitted setup cell may legitimately have, given the canonical one.

    The solution's setup cell clones ``repository``; the generated lab's (and so the released
    lab's) clones ``student_repository``. Both are the same cell: the grader should accept
    either without an "edited" flag, and still restore the canonical source before running.
    """
    course = course or notebooks.course_config(ROOT)
    variants = {canonical_source}
    for url in {course.clone_url, course.student_clone_url}:
        variants.add(notebooks.REPO_LINE_RE.sub(f'REPO = "{url}"', canonical_source))
    return variants


def lab_titles(root: Path = ROOT) -> list[tuple[str, str]]:
    """(file name, title) of every lab, the title taken from the solution's first heading."""
    titles = []
    for path in notebooks.solution_paths(root):
        first = notebooks.read(path)["cells"][0]
        heading = notebooks.source(first).splitlines()[0] if notebooks.source(first) else ""
        title = re.sub(r"^#\s*(Lab\s+\d+\s*[—:-]\s*)?", "", heading).strip() or path.stem
        titles.append((path.name, title))
    return titles


def _check_dest(dest: Path, root: Path) -> Path:
    dest = Path(dest).expanduser().resolve()
    root = root.resolve()
    if dest == root or root in dest.parents:
        where = "is the repository" if dest == root else f"is inside the repository {root}"
        raise ReleaseError(
            f"DEST must be outside the repository (the release becomes its own repository), "
            f"received {dest}, which {where}. Expected e.g. DEST=../course-release."
        )
    if dest in root.parents:
        raise ReleaseError(
            f"DEST must not contain the repository, received {dest} (a parent of {root})."
        )
    if dest.exists() and not dest.is_dir():
        raise ReleaseError(f"DEST must be a folder, received {dest}, which is a file.")
    if dest.exists() and any(p.name != ".git" for p in dest.iterdir()):
        raise ReleaseError(
            f"DEST must be empty (or hold only .git), received {dest}, which holds "
            f"{', '.join(sorted(p.name for p in dest.iterdir())[:5])}. Empty it (keep .git to "
            "commit the new release on top of the last one) or choose another folder."
        )
    return dest


def _pyproject(root: Path, course: Course) -> str:
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    section = (
        "[tool.course]\n"
        f'repository = "{course.repository}"\n'
        f'student_repository = "{course.student_repository}"\n'
        f'branch = "{course.branch}"\n'
    )
    new, count = re.subn(r"(?ms)^\[tool\.course\]\n.*?(?=^\[|\Z)", section + "\n", text)
    if count != 1:
        raise ReleaseError(f"{root / 'pyproject.toml'}: expected one [tool.course] section.")
    return new


def _render(name: str, **context) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # Markdown and plain text, not HTML
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(name).render(**context)


def release(dest: Path, root: Path = ROOT) -> list[Path]:
    """Write the student course into ``dest``; returns the files written."""
    root = Path(root).resolve()
    dest = _check_dest(Path(dest), root)
    course = notebooks.course_config(root).released()
    missing = [name for name in (*COPIED, "pyproject.toml") if not (root / name).exists()]
    if missing:
        raise ReleaseError(f"{root}: cannot release without {', '.join(missing)}.")
    solutions = notebooks.solution_paths(root)
    if not solutions:
        raise ReleaseError(f"{root / 'solutions'}: no solution notebooks to release.")
    labs = []
    for sol in solutions:  # generate everything first: a broken notebook writes nothing
        rel = f"labs/{sol.name}"
        labs.append(
            (rel, notebooks.dumps(notebooks.generate_lab(notebooks.read(sol), rel, course)))
        )
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "labs").mkdir()
    for rel, text in labs:
        (dest / rel).write_text(text, encoding="utf-8")
    shutil.copytree(root / "common", dest / "common", ignore=IGNORED)
    shutil.copy2(root / "requirements.txt", dest / "requirements.txt")
    (dest / "pyproject.toml").write_text(_pyproject(root, course), encoding="utf-8")
    titles = lab_titles(root)
    rows = [(name[:2], title, course.badge_url(f"labs/{name}")) for name, title in titles]
    (dest / "README.md").write_text(
        _render("student_README.md.j2", course=course, labs=rows, note=notebooks.GRADING_NOTE),
        encoding="utf-8",
    )
    (dest / "LICENSE").write_text(_render("LICENSE.j2"), encoding="utf-8")
    (dest / ".gitignore").write_text(
        ".venv/\n__pycache__/\n.ipynb_checkpoints/\n*.egg-info/\n", encoding="utf-8"
    )
    return sorted(p for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts)


def run_cli(dest: str | None) -> int:
    import sys

    if not dest:
        print(
            "usage: make release DEST=DIR  (an empty folder outside this repository)",
            file=sys.stderr,
        )
        return 2
    try:
        written = release(Path(dest))
    except (ReleaseError, NotebookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    course = notebooks.course_config(ROOT)
    print(
        f"wrote {len(written)} files to {Path(dest).resolve()}: labs/, common/, README.md, "
        f"requirements.txt, pyproject.toml, LICENSE.\nNext: commit it to "
        f"https://github.com/{course.student_repository} (branch {course.branch}), the address "
        "its badges and setup cells use."
    )
    return 0
