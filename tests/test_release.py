"""The student release (tools/release.py, `make release DEST=DIR`).

* Nothing secret ships: no line of any solution block, model written answer or hidden check
  appears anywhere in the release of the real course.
* A released lab runs up to its first exercise, with the released `common` (real lab 00).
* E2E-RELEASE-GRADE: a notebook taken from the release, filled in, is graded by
  `python -m tools grade` with no repair flags, then written answers, marks, feedback and the
  gradebook follow, all through the command line, on the fixture course of
  tests/fixtures/instructor/ released to a *separate* student repository.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_runner import run

from tools import notebooks, release

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "instructor"
PRIVATE, STUDENT = "teacher/private-course", "teacher/course-2026"


# --------------------------------------------------------------------------- secrets


def _regions(nb: dict) -> tuple[list[str], list[str]]:
    """(secret lines, public lines) of a solution notebook, each stripped."""
    secret, public = [], []
    for cell in nb["cells"]:
        text = notebooks.source(cell)
        if cell["cell_type"] == "code":
            mode = None
            for line in text.split("\n"):
                s = line.strip()
                if s in (notebooks.BEGIN_SOLUTION, notebooks.BEGIN_HIDDEN):
                    mode = s
                elif s in (notebooks.END_SOLUTION, notebooks.END_HIDDEN):
                    mode = None
                else:
                    (secret if mode else public).append(s)
        elif cell["cell_type"] == "markdown":
            pattern = re.escape(notebooks.MD_BEGIN) + r"(.*?)" + re.escape(notebooks.MD_END)
            for block in re.findall(pattern, text, re.DOTALL):
                secret += [s.strip() for s in block.split("\n")]
            public += [s.strip() for s in re.sub(pattern, "", text, flags=re.DOTALL).split("\n")]
    return secret, public


def trivial(line: str) -> bool:
    """Lines too plain to give an answer away: blank, brackets, `else:`, `return out`…"""
    plain = re.fullmatch(
        r"(return|yield|pass|continue|break|else|try|finally)\b[\s\w.,:()]{0,12}", line
    )
    return bool(plain) or len(re.sub(r"[^A-Za-z0-9]", "", line)) < 8


def secret_lines(solutions: Path) -> dict[str, str]:
    """Every non-trivial secret line -> the notebook it comes from.

    A line that the course also shows outside any secret block (provided code, a hint) is not
    a secret and is left out.
    """
    secret, public = {}, set()
    for path in sorted(solutions.glob("*.ipynb")):
        s, p = _regions(notebooks.read(path))
        public.update(p)
        for line in s:
            secret.setdefault(line, path.name)
    return {
        line: where for line, where in secret.items() if not trivial(line) and line not in public
    }


def released_lines(dest: Path) -> dict[str, set[str]]:
    """Every stripped line of every file in the release (notebook cells line by line)."""
    found: dict[str, set[str]] = {}
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            text = "\n".join(notebooks.source(c) for c in json.loads(text)["cells"])
        found[str(path.relative_to(dest))] = {line.strip() for line in text.split("\n")}
    return found


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "course"
    release.release(dest)
    return dest


def test_release_holds_the_student_course_and_nothing_else(released):
    top = sorted(p.name for p in released.iterdir())
    assert top == [
        ".gitignore",
        "LICENSE",
        "README.md",
        "common",
        "labs",
        "pyproject.toml",
        "requirements.txt",
    ]
    labs = sorted(p.name for p in (released / "labs").iterdir())
    assert labs == sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    assert (released / "common" / "__init__.py").exists()
    readme = (released / "README.md").read_text()
    for topic in (
        "hidden",
        "Colab",
        "pip install -r requirements.txt",
        "YOUR CODE HERE",
        "YOUR ANSWER HERE",
    ):
        assert topic in readme, topic
    assert "MIT" in (released / "LICENSE").read_text()


def test_no_solution_or_hidden_check_line_is_released(released):
    secrets = secret_lines(ROOT / "solutions")
    assert len(secrets) > 300, "the secret-line scan found too little to be trusted"
    leaks = [
        f"{file}: {line!r} (from solutions/{secrets[line]})"
        for file, lines in released_lines(released).items()
        for line in sorted(lines & secrets.keys())
    ]
    assert not leaks, "solution text in the release:\n" + "\n".join(leaks[:20])
    everything = "\n".join(
        p.read_text(errors="replace") for p in released.rglob("*") if p.is_file()
    )
    for marker in notebooks.MARKERS:
        assert marker not in everything


def test_secret_scan_catches_a_leak(released, tmp_path):
    """The scan above is not vacuous: one solution line slipped into a lab is found."""
    leaky = tmp_path / "leaky"
    shutil.copytree(released, leaky)
    secrets = secret_lines(ROOT / "solutions")
    line = next(iter(secrets))
    lab = leaky / "labs" / "00_tensorflow_keras.ipynb"
    nb = notebooks.read(lab)
    nb["cells"][-1]["source"] = notebooks.source(nb["cells"][-1]) + "\n" + line
    lab.write_text(notebooks.dumps(nb))
    assert any(line in lines for lines in released_lines(leaky).values())


@pytest.mark.parametrize("where", ["inside", "root", "non-empty", "file"])
def test_bad_dest_is_a_clear_error(tmp_path, where):
    dest = {
        "inside": ROOT / "build" / "release",
        "root": ROOT,
        "non-empty": tmp_path,
        "file": tmp_path / "f.txt",
    }[where]
    (tmp_path / "f.txt").write_text("x")
    expected = {
        "inside": "DEST must be outside the repository",
        "root": "which is the repository",
        "non-empty": "DEST must be empty",
        "file": "DEST must be a folder",
    }[where]
    with pytest.raises(release.ReleaseError, match=expected):
        release.release(dest)
    assert not (ROOT / "build" / "release").exists()


# --------------------------------------------------------------------------- a separate student repository


def fixture_course(tmp_path: Path) -> Path:
    """A private course repository: tools/, common/, the fixture solutions, two repositories."""
    root = tmp_path / "private"
    root.mkdir()
    shutil.copytree(ROOT / "tools", root / "tools", ignore=release.IGNORED)
    shutil.copytree(ROOT / "common", root / "common", ignore=release.IGNORED)
    shutil.copytree(FIXTURE / "solutions", root / "solutions")
    shutil.copy(ROOT / "requirements.txt", root)
    text = (ROOT / "pyproject.toml").read_text()
    section = f'[tool.course]\nrepository = "{PRIVATE}"\nstudent_repository = "{STUDENT}"\nbranch = "main"\n\n'
    (root / "pyproject.toml").write_text(
        re.sub(r"(?ms)^\[tool\.course\]\n.*?(?=^\[)", section, text)
    )
    return root


def test_release_points_every_badge_and_setup_cell_at_the_student_repository(tmp_path):
    root = fixture_course(tmp_path)
    dest = tmp_path / "student"
    release.release(dest, root)
    nb = notebooks.read(dest / "labs" / "00_fixture.ipynb")
    first = notebooks.source(nb["cells"][0])
    assert f"github/{STUDENT}/blob/main/labs/00_fixture.ipynb" in first
    assert notebooks.GRADING_NOTE in first
    setup = next(notebooks.source(c) for c in nb["cells"] if notebooks.role(c) == "setup")
    assert f'REPO = "https://github.com/{STUDENT}"' in setup
    everything = "\n".join(p.read_text() for p in dest.rglob("*") if p.is_file())
    assert PRIVATE not in everything, "the private repository is named in the release"
    assert f"github/{STUDENT}/blob/main/labs/00_fixture.ipynb" in (dest / "README.md").read_text()
    course = notebooks.course_config(dest)
    assert (course.repository, course.student_repository) == (STUDENT, STUDENT)


def test_setup_variants_accept_the_released_setup_cell_and_nothing_else():
    course = notebooks.Course(PRIVATE, "main", STUDENT)
    solution = notebooks.read(FIXTURE / "solutions" / "00_fixture.ipynb")
    canonical = next(notebooks.source(c) for c in solution["cells"] if notebooks.role(c) == "setup")
    variants = release.setup_variants(canonical, course)
    for version in (course, course.released()):  # the lab here, the lab in the release
        lab = notebooks.generate_lab(solution, "labs/00_fixture.ipynb", version)
        setup = next(notebooks.source(c) for c in lab["cells"] if notebooks.role(c) == "setup")
        assert setup in variants
    assert canonical in variants
    assert canonical.replace("github.com/teacher", "github.com/mallory") not in variants
    assert canonical + "\nimport os" not in variants
    assert len(variants) == 2


# --------------------------------------------------------------------------- E2E-RELEASE-GRADE


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root), LAB_PROFILE="smoke")
    done = subprocess.run(
        [sys.executable, "-m", "tools", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"python -m tools {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_release_graded_end_to_end_without_repair_flags(tmp_path):
    """E2E-RELEASE-GRADE: release → hand in → grade → written.csv → marks → feedback → gradebook."""
    root = fixture_course(tmp_path)
    dest = tmp_path / "student"
    _cli(root, "release", "--dest", str(dest))
    released_lab = notebooks.read(dest / "labs" / "00_fixture.ipynb")
    solution = notebooks.read(root / "solutions" / "00_fixture.ipynb")
    answers = {
        c["id"]: c["source"]
        for c in solution["cells"]
        if c["cell_type"] == "code" and not notebooks.role(c)
    }

    submissions = tmp_path / "submissions"
    alice = json.loads(json.dumps(released_lab))  # as downloaded from the release, then solved
    for cell in alice["cells"]:
        if cell["id"] in answers:
            cell["source"] = answers[cell["id"]]
        if notebooks.course_meta(cell).get("id") == "why_add":
            cell["source"] = notebooks.source(cell).replace(
                notebooks.MD_STUB, "One <b>+</b> is enough."
            )
        if cell["cell_type"] == "code":  # as Jupyter saves it
            cell["execution_count"], cell["outputs"] = (
                1,
                [{"output_type": "stream", "name": "stdout", "text": "x"}],
            )
    for student, nb in (("alice", alice), ("bob", released_lab)):
        (submissions / student).mkdir(parents=True)
        (submissions / student / "00_fixture.ipynb").write_text(json.dumps(nb))

    out = tmp_path / "grades" / "00"
    _cli(
        root,
        "grade",
        "--lab",
        "00",
        "--submissions",
        str(submissions),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--cell-timeout",
        "30",
        "--student-timeout",
        "120",
    )
    summary = {r["student"]: r for r in _csv(out / "summary.csv")}
    assert {s: (r["score"], r["max_score"], r["flags"]) for s, r in summary.items()} == {
        "alice": ("7", "7", ""),  # hidden checks included, no repair needed
        "bob": ("0", "7", ""),  # the untouched released lab scores nothing
    }

    _cli(root, "written", "--out", str(out))
    rows = _csv(out / "written.csv")
    assert [(r["student"], r["question"], r["answer"], r["points"]) for r in rows] == [
        ("alice", "why_add", "One <b>+</b> is enough.", ""),
        ("alice", "loop_sum", "", "0"),
        ("bob", "why_add", "", "0"),
        ("bob", "loop_sum", "", "0"),
    ]
    _cli(root, "feedback", "--out", str(out))
    page = (out / "feedback" / "alice.html").read_text()
    assert "not marked yet" in page and "One &lt;b&gt;+&lt;/b&gt; is enough." in page

    rows[0]["points"] = "2"
    marks = tmp_path / "marks.csv"
    with marks.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _cli(root, "written", "--out", str(out), "--merge", str(marks))
    merged = {
        r["student"]: (r["score"], r["written_score"], r["total"], r["max_total"])
        for r in _csv(out / "summary.csv")
    }
    assert merged == {"alice": ("7", "2", "9", "10"), "bob": ("0", "0", "0", "10")}
    _cli(root, "feedback", "--out", str(out), "--marks", str(marks))
    assert "not marked yet" not in (out / "feedback" / "alice.html").read_text()

    done = _cli(root, "gradebook", "--grades", str(tmp_path / "grades"))
    book = _csv(tmp_path / "grades" / "gradebook.csv")
    assert [(r["Student"], r["00_fixture"], r["Total"]) for r in book] == [
        ("alice", "9", "9"),
        ("bob", "0", "0"),
    ]
    assert "2 student(s) × 1 lab(s)" in done.stdout


# --------------------------------------------------------------------------- a real lab


def test_released_lab_runs_up_to_its_first_exercise(released):
    """Real lab 00 from the release, with the release's own `common`: clean up to the first exercise.

    One real lab, not all ten: the other labs' setup cells are the same code, and every lab's
    generated version is run to its first exercise by tests/test_notebooks.py already.
    """
    lab = released / "labs" / "00_tensorflow_keras.ipynb"
    probe = released / "labs" / "probe.ipynb"
    nb = notebooks.read(lab)
    nb["cells"].append(
        {
            "cell_type": "code",
            "id": "probe",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": f"import common\nassert common.__file__.startswith({str(released)!r}), common.__file__",
        }
    )
    probe.write_text(notebooks.dumps(nb))
    try:
        results = run(probe, timeout=300)
    finally:
        probe.unlink()
    errors = [r for r in results if r.error]
    assert errors, "the released lab ran without any error: no exercise was cut out"
    assert errors[0].error == "NotImplementedError", errors[0]
    assert results[-1].error is None, f"the lab imported another `common`: {results[-1].message}"
