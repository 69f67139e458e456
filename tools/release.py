"""``make release DEST=DIR``: the student-facing course, with no answers and no hidden checks.

nbgrader's *release* step, without its database: ``DIR`` receives what a student repository
holds, and nothing else:

* ``labs/NN_*.ipynb``, generated from ``solutions/`` (answers cut, hidden checks removed), their
  Colab badges and setup cells pointing at ``student_repository`` from ``[tool.course]``;
* ``common/`` (the helper package the labs import), ``requirements.txt``, ``pyproject.toml``
  (with ``[tool.course]`` naming the student repository);
* a student README (how to open and run the labs; how checks and hidden checks work) and the
  licence.

No ``solutions/``, ``tools/`` or ``tests/``, no maintainer tooling in ``requirements.txt`` or
``pyproject.toml`` (pytest, ruff, nbval…), no path of this repository in the notebooks'
metadata. The instructor commits ``DIR`` to the public student repository; this repository can
stay private.

``LABS="00 01"`` releases those labs only. ``DIR`` is empty (``.git`` alone is fine) or a
release written before: then the labs named are added or replaced, the other released labs are
kept, and ``common/``, the README (listing every lab in ``DIR/labs``) and the other files are
rewritten, so releasing lab by lab during a semester is one command each time. A released setup cell differs from the
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
COPIED = ("common", "requirements.txt")  # shipped (requirements.txt less the tooling below)
MARKER = ".course-release"  # in DEST: a release this command wrote, which it may update
# Pins of requirements.txt that only maintainers and instructors need (tests, lint, grading,
# release, feedback): a student's environment runs the labs and `common` only.
MAINTAINER_TOOLS = frozenset(
    {
        "pytest",
        "pytest-xdist",
        "ruff",
        "nbval",
        "nbformat",
        "nbclient",
        "cloudpickle",
        "jinja2",
        "mistune",
        "latex2mathml",
    }
)
NUMBER_WORDS = (
    "No One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen Fourteen "
    "Fifteen Sixteen Seventeen Eighteen Nineteen Twenty"
).split()
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
    found = notebooks.REF_LINE_RE.search(canonical_source)
    for url in {course.clone_url, course.student_clone_url}:
        variant = notebooks.REPO_LINE_RE.sub(f'REPO = "{url}"', canonical_source)
        variants.add(variant)
        if found and course.version != found.group(1):  # a lab generated at another ref
            start, end = found.span(1)
            at_ref = canonical_source[:start] + course.version + canonical_source[end:]
            variants.add(notebooks.REPO_LINE_RE.sub(f'REPO = "{url}"', at_ref))
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
        if not is_release(dest):
            raise ReleaseError(
                f"DEST must be empty (or hold only .git) or be a release written by `make "
                f"release`, received {dest}, which holds "
                f"{', '.join(sorted(p.name for p in dest.iterdir())[:5])}. Empty it (keep .git "
                "to commit the new release on top of the last one) or choose another folder."
            )
    return dest


def is_release(dest: Path) -> bool:
    """``dest`` holds a release this command wrote (which it may update in place)."""
    dest = Path(dest)
    if (dest / MARKER).exists():
        return True
    return (  # a release from before the marker: the student course's files, nothing else
        (dest / "labs").is_dir()
        and (dest / "common").is_dir()
        and not any((dest / name).exists() for name in ("solutions", "tools", "tests"))
    )


def student_requirements(text: str) -> str:
    """requirements.txt without :data:`MAINTAINER_TOOLS`: what running the labs needs."""
    kept = []
    for line in text.splitlines():
        name = re.match(r"\s*([A-Za-z0-9_.-]+)\s*[=<>~!]", line)
        if name and name.group(1).lower().replace("_", "-") in MAINTAINER_TOOLS:
            continue
        kept.append(line)
    body = "\n".join(kept).strip() + "\n"
    return re.sub(
        r"(?m)^# Exact versions the course is tested with.*$",
        "# Exact versions the labs are tested with: pip install -r requirements.txt",
        body,
    )


def _strip_tooling(text: str) -> str:
    """pyproject.toml without the maintainers' sections (dev extras, ruff, pytest)."""
    text = re.sub(
        r"(?ms)^\[project\.optional-dependencies\]\n.*?(?=^\[|\Z)", "", text
    )  # dev: pytest, ruff, nbval…
    text = re.sub(r"(?ms)^\[tool\.(ruff|pytest)[^\]]*\]\n.*?(?=^\[|\Z)", "", text)
    text = re.sub(r"(?m)^# dev: maintainers.*\n", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def python_floor(root: Path) -> str:
    """The lowest Python the course supports, from ``requires-python`` (e.g. "3.11")."""
    text = (Path(root) / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'(?m)^requires-python\s*=\s*">=\s*([0-9.]+)"', text)
    return found.group(1) if found else "3.11"


def count_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def select(solutions: list[Path], labs: list[str] | None) -> list[Path]:
    """The solutions named by ``labs`` ("00", "1", "01_perceptron_mlp"); all when None."""
    if not labs:
        return solutions
    chosen, unknown = [], []
    for lab in labs:
        key = lab.strip()
        match = [
            p
            for p in solutions
            if p.stem == key or (key.isdigit() and p.stem.split("_")[0] == key.zfill(2))
        ]
        if match:
            chosen += [p for p in match if p not in chosen]
        else:
            unknown.append(lab)
    if unknown:
        known = ", ".join(p.stem.split("_")[0] for p in solutions)
        raise ReleaseError(f"LABS names unknown lab(s) {', '.join(unknown)}; expected: {known}.")
    return sorted(chosen)


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
    return _strip_tooling(new)


def _render(name: str, **context) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # Markdown and plain text, not HTML
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(name).render(**context)


def release(
    dest: Path, root: Path = ROOT, labs: list[str] | None = None, tag: str | None = None
) -> list[Path]:
    """Write the student course into ``dest`` (new, or a release to update); returns the files
    written. ``labs`` ("00", "01") releases those labs only.

    ``tag`` (``make release TAG=v2026.1``): the git ref every badge and setup cell of the
    release names, so that a lab always fetches the ``common`` it was released with; the
    instructor tags the release commit with it (:func:`push_command`). None: the branch.
    """
    root = Path(root).resolve()
    dest = _check_dest(Path(dest), root)
    course = notebooks.course_config(root).released().with_ref(tag)
    missing = [name for name in (*COPIED, "pyproject.toml") if not (root / name).exists()]
    if missing:
        raise ReleaseError(f"{root}: cannot release without {', '.join(missing)}.")
    solutions = select(notebooks.solution_paths(root), labs)
    if not solutions:
        raise ReleaseError(f"{root / 'solutions'}: no solution notebooks to release.")
    generated = []
    for sol in solutions:  # generate everything first: a broken notebook writes nothing
        rel = f"labs/{sol.name}"
        nb = notebooks.generate_lab(notebooks.read(sol), rel, course)
        nb.get("metadata", {}).pop("course", None)  # names solutions/…: not the students' business
        generated.append((rel, notebooks.dumps(nb)))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "labs").mkdir(exist_ok=True)
    for rel, text in generated:
        (dest / rel).write_text(text, encoding="utf-8")
    if (dest / "common").exists():
        shutil.rmtree(dest / "common")  # no file of an older `common` left behind
    shutil.copytree(root / "common", dest / "common", ignore=IGNORED)
    (dest / "requirements.txt").write_text(
        student_requirements((root / "requirements.txt").read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    (dest / "pyproject.toml").write_text(_pyproject(root, course), encoding="utf-8")
    released = {p.name for p in (dest / "labs").glob("*.ipynb")}
    titles = [(name, title) for name, title in lab_titles(root) if name in released]
    rows = [(name[:2], title, course.badge_url(f"labs/{name}")) for name, title in titles]
    (dest / "README.md").write_text(
        _render(
            "student_README.md.j2",
            course=course,
            labs=rows,
            count=count_word(len(rows)),
            python=python_floor(root),
            note=notebooks.GRADING_NOTE,
            ref=course.version,
            tagged=bool(course.ref),
        ),
        encoding="utf-8",
    )
    (dest / "LICENSE").write_text(_render("LICENSE.j2"), encoding="utf-8")
    (dest / ".gitignore").write_text(
        ".venv/\n__pycache__/\n.ipynb_checkpoints/\n*.egg-info/\n", encoding="utf-8"
    )
    (dest / MARKER).write_text(
        "Written by `make release` from the course's private repository; `make release` may\n"
        "update this folder in place. Labs: " + ", ".join(sorted(released)) + "\n",
        encoding="utf-8",
    )
    return sorted(p for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts)


def push_command(dest: Path, course: Course) -> str:
    """The commands that publish ``dest`` so that its badges and setup cells resolve."""
    where = f"git -C {dest}"
    tag = f" && {where} tag {course.ref}" if course.ref else ""
    push = f"{where} push origin HEAD" + (f" {course.ref}" if course.ref else "")
    return f'{where} add -A && {where} commit -m "Release {course.version}"{tag} && {push}'


def run_cli(dest: str | None, labs: str | None = None, tag: str | None = None) -> int:
    import sys

    if not dest:
        print(
            'usage: make release DEST=DIR [LABS="00 01"]  (an empty folder outside this '
            "repository, or a release to update)",
            file=sys.stderr,
        )
        return 2
    names = (labs or "").replace(",", " ").split() or None
    try:
        written = release(Path(dest), labs=names, tag=tag)
    except (ReleaseError, NotebookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    course = notebooks.course_config(ROOT).released().with_ref(tag)
    where = Path(dest).resolve()
    listed = sorted(p.name for p in (where / "labs").glob("*.ipynb"))
    what = (
        f"tag {course.ref}"
        if course.ref
        else f"branch {course.branch} (no TAG= given: a lab "
        "fetches whatever the branch holds when it runs)"
    )
    print(
        f"wrote {len(written)} files to {where}: labs/ ({len(listed)} lab(s): "
        f"{', '.join(n[:2] for n in listed)}), common/, README.md, requirements.txt, "
        f"pyproject.toml, LICENSE.\nIts badges and setup cells use "
        f"https://github.com/{course.student_repository} at {what}. Publish it (in a clone of "
        f"that repository) with:\n    {push_command(where, course)}"
    )
    return 0
