"""Tests that ``make test-colab`` runs in ``.venv-colab`` (Colab's published runtime), by name.

Not collected by ``make test`` (no ``test_`` prefix): they need Colab's package versions.
Every notebook run here happens once and serves every assertion about it (issue 30):

* ``test_first_contact[NN-cpu]`` (or ``[NN-t4]``): lab NN as a student meets it on Colab (issue
  26). A fresh kernel whose packages are ``.venv-colab``'s, the known conflict included
  (tensorflow-metadata 1.21 with protobuf 5.29.6), plus a ``google.colab`` stand-in, in its own
  overlay virtualenv (what the setup cell installs lands there, so ``.venv-colab`` keeps the
  conflict for the next lab). Its setup cell is the *generated lab's*, as shipped, with two
  lines pointed here: the clone (``REPO``) at a bare repository holding this working tree at the
  lab's baked-in ref, and ``COURSE`` at a temporary ``/content/course``; the kernel starts in a
  folder that is not the repository, so the cell must fetch and find ``common`` itself. The rest
  of the notebook runs in the full profile with tensorflow-datasets mocked and one training step
  (``tests/offline_full.py``, activated right after the setup cell: nothing imports
  tensorflow-datasets before the setup cell has fixed it). Asserted: no error but failed
  accuracy checks on random data; no restart; the setup cell printed exactly its one line and
  the GPU hint (nothing on stderr: no cuInit line, no pip or git output); the fix landed in the
  overlay and ``.venv-colab`` still has the conflict.
* ``test_first_contact_without_the_fix``: lab 08's setup cell and first data load the same way
  with ``COURSE_KNOWN_FIXES=off``: the load fails with today's clear ``PackageConflictError``
  (the control that shows the fix is what makes the labs pass, and what an unknown conflict
  still gets). With ``COURSE_KNOWN_FIXES=off`` in the environment every first-contact test
  fails as well.
* ``-t4``: the labs whose ``setup()`` lets the device choose (00, 01, 04) take, in that same
  single run, the path a T4 gives them (``LAB_AUTO_PRECISION=mixed_float16``: ``auto`` resolves
  to mixed precision on this CPU); the setup line must say so. One full-profile pass per lab.
* ``test_smoke[NN]``: every solution in the smoke profile on Colab's versions (what ``nbval
  --nbval-lax`` did here before): no cell may raise; the executed notebook is kept in
  ``build/colab-executed/`` and its outputs before the first exercise hold no stderr stream,
  nor anywhere the known noise (scikit-learn's ``iprint`` warning, TensorFlow's cuInit line).

The fix's pip install runs offline: ``make test-colab`` downloads the compatible
tensorflow-metadata wheel into ``build/colab-wheels`` and the kernels get ``PIP_NO_INDEX=1`` and
``PIP_FIND_LINKS`` (pip's own settings; on Colab the same command uses PyPI).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_runner import ROOT

from tools import notebooks

COLAB = dict(
    line.split("#")[0].strip().split("==")
    for line in (ROOT / "colab-constraints.txt").read_text().splitlines()
    if line and not line.startswith("#")
)
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ALLOWED_CHECK_ERRORS = {"AssertionError", "CheckFailure"}
COLAB_SITE = Path(sysconfig.get_paths()["purelib"])  # .venv-colab's site-packages
WHEELS = Path(os.environ.get("COLAB_WHEELS", ROOT / "build" / "colab-wheels"))
EXECUTED = ROOT / "build" / "colab-executed"
SUMMARY_RE = re.compile(
    r"^TF \S+ · Keras \S+ · devices: \d+× (CPU|GPU|TPU) · profile: (full|smoke) · "
    r"precision: \S+ · seed: \d+$"
)
NO_GPU_HINT = (
    "No GPU found. On Colab choose Runtime → Change runtime type → T4 GPU, "
    "then run the notebook again from the top."
)  # common.env.COLAB_NO_GPU_HINT, repeated: the test must not import TensorFlow's package
# Set by the Makefile for the maintainers' runs; a student's Colab kernel has none of them.
NOT_ON_COLAB = ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS", "PYTHONPATH", "LAB_AUTO_PRECISION")


def _git(*args: str, env: dict | None = None, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        ["git", "-C", str(cwd), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def course_remote(tmp_path_factory) -> str:
    """``file://`` URL of a bare repository holding this working tree at the labs' ref."""
    refs = set(notebooks.lab_refs(ROOT).values())
    assert len(refs) == 1, f"the labs name several refs: {refs}"
    ref = refs.pop()
    tmp = tmp_path_factory.mktemp("remote")
    bare = tmp / "course.git"
    _git("init", "-q", "--bare", str(bare), cwd=tmp)
    if re.fullmatch(r"[0-9a-f]{7,40}", ref):  # a commit: the lab fetches exactly that one
        _git("push", "-q", str(bare), f"{ref}:refs/heads/baked")
    else:  # a branch or tag: this working tree (uncommitted changes included) under that name
        env = dict(
            os.environ,
            GIT_INDEX_FILE=str(tmp / "index"),
            GIT_AUTHOR_NAME="test-colab",
            GIT_AUTHOR_EMAIL="test-colab@localhost",
            GIT_COMMITTER_NAME="test-colab",
            GIT_COMMITTER_EMAIL="test-colab@localhost",
        )
        _git("read-tree", "HEAD", env=env)
        _git("add", "-A", env=env)
        commit = _git("commit-tree", _git("write-tree", env=env), "-m", "test-colab", env=env)
        kind = "heads" if ref == notebooks.course_config(ROOT).branch else "tags"
        _git("push", "-q", str(bare), f"{commit}:refs/{kind}/{ref}")
    return f"file://{bare}"


def _overlay_kernel(tmp: Path) -> tuple[str, Path]:
    """A virtualenv over .venv-colab's packages, with a google.colab stand-in: (kernel, python).

    What pip installs from its kernel lands in the overlay, so .venv-colab keeps Colab's set.
    """
    venv = tmp / "kernel-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "colab_runtime.pth").write_text(f"import site; site.addsitedir({str(COLAB_SITE)!r})\n")
    stand_in = site / "google" / "colab"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab (tests)."""\n')
    spec = venv / "share" / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Colab stand-in", "language": "python"})
    )
    return "colab", python


def _execute(nb, cwd: Path, kernel: str = "python3", timeout: int = 300):
    client = NotebookClient(
        nb,
        timeout=timeout,
        allow_errors=True,
        kernel_name=kernel,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def _colab_env(monkeypatch, kernel_venv: Path | None, profile: str) -> None:
    for name in NOT_ON_COLAB:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAB_PROFILE", profile)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(WHEELS))
    if kernel_venv is not None:
        monkeypatch.setenv("JUPYTER_PATH", str(kernel_venv / "share" / "jupyter"))


def _errors(nb) -> list[tuple[int, str | None, str, str]]:
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                role = cell.get("metadata", {}).get("course", {}).get("role")
                found.append((index, role, out["ename"], out["evalue"][:300]))
    return found


def _first_exercise(nb) -> int:
    return next(
        (i for i, c in enumerate(nb.cells) if notebooks.BEGIN_SOLUTION in c.source),
        len(nb.cells),
    )


def stderr_before_first_exercise(nb) -> list[tuple[int, str]]:
    """(cell, text) of every stderr stream before the first exercise: what the first screen shows red."""
    return [
        (index, out["text"][:500])
        for index, cell in enumerate(nb.cells[: _first_exercise(nb)])
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]


def _setup_index(nb) -> int:
    return next(
        i
        for i, c in enumerate(nb.cells)
        if c.get("metadata", {}).get("course", {}).get("role") == "setup"
    )


def _shipped_setup(solution: Path, remote: str, course_dir: Path) -> str:
    """The generated lab's setup cell, its clone pointed at ``remote`` and ``course_dir``."""
    lab = notebooks.read(ROOT / "labs" / solution.name)
    text = next(notebooks.source(c) for c in lab["cells"] if notebooks.role(c) == "setup")
    text, repos = re.subn(r'^REPO = "[^"]*"$', f'REPO = "{remote}"', text, flags=re.M)
    text, dirs = re.subn(
        r'^COURSE = "/content/course"$', f"COURSE = {str(course_dir)!r}", text, flags=re.M
    )
    assert (repos, dirs) == (1, 1), "the lab's setup cell no longer has its REPO/COURSE lines"
    return text


def _overlay_version(python: Path, package: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()


def _prelude(code: str):
    return nbformat.v4.new_code_cell(code, metadata={"course": {"role": "prelude"}})


def _first_contact(
    solution: Path,
    remote: str,
    tmp: Path,
    monkeypatch,
    control: bool = False,
    precision: str = "float32",
):
    """Run ``solution`` as a student's first contact on Colab (see the module docstring).

    ``control``: only the setup cell and the lab's first ``common.data.load`` cell, unmocked
    (the conflict must stop it before any download is tried).
    """
    venv_kernel, python = _overlay_kernel(tmp)
    _colab_env(monkeypatch, python.parent.parent, "full")
    if precision != "float32":  # what `auto` resolves to on a T4, forced on this CPU
        monkeypatch.setenv("LAB_AUTO_PRECISION", precision)
    content = tmp / "content"  # Colab's working folder: not the repository
    content.mkdir()
    nb = nbformat.reads(solution.read_text(encoding="utf-8"), as_version=4)
    setup = _setup_index(nb)
    nb.cells[setup].source = _shipped_setup(solution, remote, content / "course")
    activate = (
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "import offline_full\noffline_full.activate()"
    )
    if control:
        load = next(c for c in nb.cells[setup:] if "common.data.load(" in c.source)
        nb.cells = [*nb.cells[: setup + 1], load]
    else:
        nb.cells.insert(setup + 1, _prelude(activate))
    _execute(nb, content, kernel=venv_kernel)
    return nb, setup, python


def _lets_device_choose(path) -> bool:
    """Its setup cell calls common.setup() without pinning float32: a T4 runs it mixed."""
    nb = json.loads(path.read_text())
    setup = [
        "".join(c["source"])
        for c in nb["cells"]
        if c.get("metadata", {}).get("course", {}).get("role") == "setup"
    ]
    return bool(setup) and not re.search(r"precision\s*=\s*['\"]float32['\"]", setup[0])


# One full-profile pass per lab (issue 30): a lab whose setup() lets the device choose takes the
# path a T4 gives it (mixed_float16, forced on the CPU by LAB_AUTO_PRECISION), the others the
# CPU's float32. (The float32 full path of those three labs runs on the pinned versions in
# `make test-full-path`.)
FIRST_CONTACT = [
    pytest.param(p, "mixed_float16", id=f"{p.stem}-t4")
    if _lets_device_choose(p)
    else pytest.param(p, "float32", id=f"{p.stem}-cpu")
    for p in SOLUTIONS
]


@pytest.mark.parametrize(("solution", "precision"), FIRST_CONTACT)
def test_first_contact(solution, precision, course_remote, tmp_path, monkeypatch):
    assert metadata.version("tensorflow-metadata") == COLAB["tensorflow-metadata"], (
        "make test-colab installs colab-constraints.txt exactly: the known conflict must be there"
    )
    assert metadata.version("protobuf") == COLAB["protobuf"]
    nb, setup, python = _first_contact(
        solution, course_remote, tmp_path, monkeypatch, precision=precision
    )
    broken = [e for e in _errors(nb) if not (e[1] == "check" and e[2] in ALLOWED_CHECK_ERRORS)]
    assert not broken, (
        f"{solution.name} on Colab (first contact, full profile, {precision}): {broken}"
    )
    outputs = nb.cells[setup].outputs
    assert all(o["output_type"] == "stream" and o["name"] == "stdout" for o in outputs), outputs
    lines = "".join(o["text"] for o in outputs).splitlines()
    assert len(lines) == 2 and SUMMARY_RE.match(lines[0]) and lines[1] == NO_GPU_HINT, lines
    assert f"precision: {precision} " in lines[0], (precision, lines[0])
    # (The rest of the first screen is scanned in smoke, by test_smoke: here tfds is mocked,
    # and its mock logs absl warnings of its own.)
    fixed = _overlay_version(python, "tensorflow-metadata")
    assert fixed.startswith("1.17."), f"the known fix did not land in the kernel's env: {fixed}"
    assert metadata.version("tensorflow-metadata") == COLAB["tensorflow-metadata"]


def test_first_contact_without_the_fix(course_remote, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_KNOWN_FIXES", "off")
    lab = next(p for p in SOLUTIONS if p.name.startswith("08_"))  # loads MNIST right after setup
    nb, _, python = _first_contact(lab, course_remote, tmp_path, monkeypatch, control=True)
    errors = _errors(nb)
    assert errors, "lab 08 loaded data on the conflicting packages without the fix: is it gone?"
    index, _, name, message = errors[0]
    assert name == "PackageConflictError" and "not a network problem" in message, errors[0]
    assert _overlay_version(python, "tensorflow-metadata") == COLAB["tensorflow-metadata"]


@pytest.mark.parametrize("solution", [pytest.param(p, id=p.stem) for p in SOLUTIONS])
def test_smoke(solution, monkeypatch):
    """Every solution in smoke on Colab's versions: no cell raises, a quiet first screen."""
    _colab_env(monkeypatch, None, "smoke")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.reads(solution.read_text(encoding="utf-8"), as_version=4)
    _execute(nb, solution.parent)
    EXECUTED.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, EXECUTED / solution.name)
    assert not _errors(nb), f"{solution.name} (smoke, Colab's versions): {_errors(nb)}"
    noise = stderr_before_first_exercise(nb)
    assert not noise, f"{solution.name}: red lines before the first exercise: {noise}"
    # The noise seen on Colab's versions before (issue 26), anywhere in the lab: scikit-learn's
    # `iprint` warning (lab 04's probes; common.setup filters it) and TensorFlow's cuInit line.
    known = [
        (index, out["text"][:300])
        for index, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
        and any(text in out["text"] for text in ("Unknown solver options: iprint", "cuInit"))
    ]
    assert not known, f"{solution.name}: known library noise is back: {known}"
