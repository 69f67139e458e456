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
        ".course-release",
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


def test_release_is_for_students_only(released):
    """No maintainer tooling, no path of the private repository, the true Python and lab count."""
    import tomllib

    requirements = (released / "requirements.txt").read_text()
    names = {
        re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower()
        for line in requirements.splitlines()
        if line and not line.startswith("#")
    }
    assert not names & release.MAINTAINER_TOOLS, names & release.MAINTAINER_TOOLS
    assert {"tensorflow", "keras", "numpy", "jupyter", "tensorflow-datasets"} <= names
    pyproject = tomllib.loads((released / "pyproject.toml").read_text())
    assert "optional-dependencies" not in pyproject["project"]
    assert set(pyproject["tool"]) == {"course", "setuptools"}
    assert any(d.startswith("tensorflow") for d in pyproject["project"]["dependencies"])
    for lab in (released / "labs").glob("*.ipynb"):
        text = lab.read_text()
        assert "solutions/" not in text, lab.name
        assert "course" not in json.loads(text)["metadata"], lab.name
    readme = (released / "README.md").read_text()
    floor = re.search(r'requires-python = ">=([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert f"(Python {floor.group(1)} or later)" in readme
    count = len(list((ROOT / "solutions").glob("*.ipynb")))
    assert (
        readme.startswith("# ") and f"\n{release.count_word(count)} hands-on Jupyter labs" in readme
    )


def test_release_some_labs_then_update_the_release(tmp_path):
    dest = tmp_path / "dl-2026"
    (dest / ".git").mkdir(parents=True)  # a clone of the student repository
    done = subprocess.run(
        [sys.executable, "-m", "tools", "release", "--dest", str(dest), "--labs", "00 1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    first = sorted(p.name[:2] for p in (dest / "labs").glob("*.ipynb"))
    assert first == ["00", "01"]
    readme = (dest / "README.md").read_text()
    assert readme.count("colab-badge.svg") == 2 and "\nTwo hands-on Jupyter labs" in readme
    (dest / "common" / "stale.py").write_text("# from an older release\n")
    (dest / "labs" / "00_tensorflow_keras.ipynb").write_text("{}")  # to be replaced
    release.release(dest, labs=["02"])  # the next week: one more lab, the rest kept
    assert sorted(p.name[:2] for p in (dest / "labs").glob("*.ipynb")) == ["00", "01", "02"]
    assert (dest / "labs" / "00_tensorflow_keras.ipynb").read_text() == "{}"  # not named: kept
    assert not (dest / "common" / "stale.py").exists() and (dest / ".git").is_dir()
    assert (dest / "README.md").read_text().count("colab-badge.svg") == 3
    release.release(dest, labs=["00"])
    assert json.loads((dest / "labs" / "00_tensorflow_keras.ipynb").read_text())["cells"]
    with pytest.raises(release.ReleaseError, match="unknown lab"):
        release.release(dest, labs=["77"])


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
    everything = "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in dest.rglob("*") if p.is_file()
    )
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

    marks.unlink()  # the marked copy is gone: OUT keeps the merged marks (OUT/marks.csv)

    # grading the lab again (as `make grade` does: grade, written, feedback) keeps every mark
    grade_args = ["grade", "--lab", "00", "--submissions", str(submissions), "--out", str(out)]
    _cli(root, *grade_args, "--jobs", "2", "--cell-timeout", "30", "--student-timeout", "120")
    _cli(root, "written", "--out", str(out))
    _cli(root, "feedback", "--out", str(out))
    again = {
        r["student"]: (r["score"], r["written_score"], r["total"], r["max_total"])
        for r in _csv(out / "summary.csv")
    }
    assert again == merged
    assert _csv(out / "written.csv")[0]["points"] == "2"
    page = (out / "feedback" / "alice.html").read_text()
    assert "not marked yet" not in page and "9 / 10" in page

    done = _cli(root, "gradebook", "--grades", str(tmp_path / "grades"))
    book = _csv(tmp_path / "grades" / "gradebook.csv")
    assert [(r["Student"], r["00_fixture"], r["Total"]) for r in book] == [
        ("    Points Possible", "10", "10"),
        ("alice", "9", "9"),
        ("bob", "0", "0"),
    ]
    assert "2 student(s) × 1 lab(s)" in done.stdout
    assert "note:" not in done.stdout


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


# --------------------------------------------------------------------------- one ref (issue 26)


def _setup_and_badge(nb: dict) -> tuple[str, str]:
    setup = next(notebooks.source(c) for c in nb["cells"] if notebooks.role(c) == "setup")
    ref = re.search(r'^REF = "([^"]*)"', setup, flags=re.M).group(1)
    badge = notebooks.BADGE_RE.search(notebooks.source(nb["cells"][0])).group(0)
    return ref, badge.split("/blob/")[1].split("/")[0]


@pytest.mark.parametrize("ref", [None, "v2026.1", "3f2c9e1" * 5 + "00000"])
def test_generated_lab_setup_cell_and_badge_name_the_same_ref(ref):
    """`make labs REF=…`: the clone and the badge name one ref; main only when none is given."""
    course = notebooks.course_config(ROOT).with_ref(ref)
    solution = notebooks.read(notebooks.solution_paths(ROOT)[0])
    lab = notebooks.generate_lab(solution, "labs/00_x.ipynb", course)
    cell_ref, badge_ref = _setup_and_badge(lab)
    assert cell_ref == badge_ref == (ref or "main")
    if ref:
        assert "main" not in (cell_ref, badge_ref)
    assert notebooks.setup_ref(lab) == (ref or "main")


def _ref_problems(root: Path) -> list[str]:
    """`make check`'s problems about labs in sync, badges and refs (not the grading rule's)."""
    words = ("out of date", "badge", "mixes refs", "canonical", "missing")
    return [p for p in notebooks.check_repository(root) if any(w in p for w in words)]


def test_make_labs_ref_bakes_one_ref_into_labs_and_readme_and_check_accepts_it(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(
        ROOT, root, ignore=shutil.ignore_patterns(".git", ".venv*", "build", "grades", "*.pyc")
    )
    notebooks.build_labs(root, ref="v2026.1")
    refs = notebooks.lab_refs(root)
    assert set(refs.values()) == {"v2026.1"} and len(refs) == len(notebooks.solution_paths(root))
    readme = (root / "README.md").read_text()
    assert "/blob/v2026.1/labs/00_" in readme and "/blob/main/labs/" not in readme
    assert "/blob/main/solutions/00_" in readme  # solutions are never released: the branch
    assert _ref_problems(root) == []
    lab = root / "labs" / notebooks.solution_paths(root)[1].name
    lab.write_text(lab.read_text().replace("v2026.1", "v2025.9"))  # consistent, yet another ref
    problems = "\n".join(_ref_problems(root))
    assert "mixes refs" in problems
    notebooks.build_labs(root)  # no ref: back to the branch
    assert set(notebooks.lab_refs(root).values()) == {"main"}
    assert _ref_problems(root) == []


def test_with_ref_rejects_what_is_not_a_ref():
    course = notebooks.course_config(ROOT)
    for bad in ("v1 2", "../main", "a/b", "-x"):
        with pytest.raises(notebooks.NotebookError, match="Not a git ref"):
            course.with_ref(bad)
    with pytest.raises(notebooks.NotebookError, match="full 40-character hash"):
        course.with_ref("3f2c9e1")


def test_release_tag_names_one_ref_everywhere_and_prints_the_push_command(tmp_path):
    dest = tmp_path / "release"
    done = subprocess.run(
        [sys.executable, "-m", "tools", "release", "--dest", str(dest), "--tag", "v2026.1"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"git -C {dest} tag v2026.1" in done.stdout
    assert f"git -C {dest} push origin HEAD v2026.1" in done.stdout
    for path in sorted((dest / "labs").glob("*.ipynb")):
        assert _setup_and_badge(notebooks.read(path)) == ("v2026.1", "v2026.1"), path.name
    readme = (dest / "README.md").read_text()
    assert "/blob/main/" not in readme and readme.count("/blob/v2026.1/labs/") == len(
        list((dest / "labs").glob("*.ipynb"))
    )
    assert "This is release `v2026.1`" in readme and "make release TAG=v2026.1" in readme
    untagged = tmp_path / "untagged"
    release.release(untagged)
    for path in sorted((untagged / "labs").glob("*.ipynb")):
        assert _setup_and_badge(notebooks.read(path)) == ("main", "main"), path.name
    assert "This is release" not in (untagged / "README.md").read_text()


def test_a_tagged_released_lab_is_graded_without_a_repair_flag(tmp_path):
    """Its setup cell names the tag, the canonical one the branch: the same cell, no flag."""
    from tools.grading import lab as grading_lab
    from tools.grading import sanitiser

    course = notebooks.course_config(ROOT).released().with_ref("v2026.1")
    solution = notebooks.solution_paths(ROOT)[0]
    released = notebooks.generate_lab(notebooks.read(solution), f"labs/{solution.name}", course)
    assert notebooks.setup_ref(released) == "v2026.1"
    _, flags = sanitiser.sanitise(released, grading_lab.load_lab(solution.name[:2]))
    assert flags == []
    setup = next(c for c in released["cells"] if notebooks.role(c) == "setup")
    setup["source"] = notebooks.source(setup).replace("colab.fix_known_conflicts()", "pass")
    _, flags = sanitiser.sanitise(released, grading_lab.load_lab(solution.name[:2]))
    assert flags == ["the setup cell was edited: restored the original"], flags
