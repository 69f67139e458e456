"""Hostile submissions (issue 15): the grader's verdicts cannot be forged by the student's code.

Each attacker is the generated fixture lab with no answer (every ``raise
NotImplementedError()`` turned into ``pass``) plus one attack cell after the setup cell; all
must score 0, and the repository, the submissions and a bystander's work folder must be
byte-identical afterwards. Honest notebooks that use magics, plots and their own helpers
score in full without a flag. All of them are graded in one parallel run (fixture course,
no TensorFlow); ``test_real_lab_attack`` grades one attacker of the real lab 00.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path

import pytest
from test_grading import (
    NB_NAME,
    SOLUTIONS,
    Graded,
    _dump,
    _load,
    _locked,
    cell,
    checksums,
    insert_after,
    lab,
    solution,
    statuses,
)

from tools import grading as grade
from tools import notebooks

ROOT = Path(__file__).resolve().parent.parent
FULL = 7


def unanswered() -> dict:
    """The generated lab with every NotImplementedError turned into ``pass``."""
    nb = lab()
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            c["source"] = notebooks.source(c).replace("raise NotImplementedError()", "pass")
    return nb


def hidden(code: str) -> str:
    """The same attack, hidden from a text search: base64 + exec via getattr with strings."""
    blob = base64.b64encode(code.encode()).decode()
    return (
        f'_b = getattr(__import__("base" + "64"), "b64" + "decode")("{blob}")\n'
        'getattr(__import__("built" + "ins"), "ex" + "ec")(_b.decode(), globals())'
    )


SHOWTRACEBACK = (
    "import IPython.core.interactiveshell as s\n"
    "s.InteractiveShell.showtraceback = lambda *a, **k: None"
)
CUSTOM_EXC = "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"
EXCEPTHOOK = (
    "import sys\nsys.excepthook = lambda *a: None\n"
    "get_ipython().showtraceback = lambda *a, **k: None\n"
    "get_ipython().showsyntaxerror = lambda *a, **k: None"
)
EVENTS = (
    "def _hide(*a, **k):\n"
    "    ip = get_ipython()\n"
    "    ip.showtraceback = lambda *a, **k: None\n"
    "    ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
    "get_ipython().events.register('pre_run_cell', _hide)\n"
    "get_ipython().events.register('post_run_cell', _hide)"
)
REPLIES = (
    "kernel = get_ipython().kernel\n"
    "_send = kernel.session.send\n"
    "def send(stream, msg, content=None, *a, **k):\n"
    "    kind = msg if isinstance(msg, str) else msg.get('header', {}).get('msg_type')\n"
    "    if kind == 'error':\n"
    "        return None\n"
    "    if kind == 'execute_reply' and isinstance(content, dict):\n"
    "        content = {'status': 'ok', 'execution_count': content.get('execution_count'),\n"
    "                   'user_expressions': {}, 'payload': []}\n"
    "    return _send(stream, msg, content, *a, **k)\n"
    "kernel.session.send = send"
)
BUILTINS = (
    "import builtins\n"
    "class _Never(BaseException):\n"
    "    pass\n"
    "builtins.AssertionError = _Never\n"
    "builtins.print = lambda *a, **k: None\n"
    "_imp = builtins.__import__\n"
    "builtins.__import__ = lambda name, *a, **k: _imp(name, *a, **k)"
)
ALWAYS_EQUAL = (
    "class Anything(int):\n"
    "    def __eq__(self, other):\n"
    "        return True\n"
    "    __hash__ = int.__hash__\n"
    "class Whatever:\n"
    "    def __eq__(self, other):\n"
    "        return True\n"
    "    def __bool__(self):\n"
    "        return True\n"
    "def add(a, b):\n"
    "    return Whatever()\n"
    "def mul(a, b):\n"
    "    return Anything(0)\n"
    "total = Whatever()"
)
# Every .jsonl file on every mount the kernel could write to (/proc/self/mountinfo's rw ones),
# each walked without entering read-only mounts, which hold no file it could append to (a
# writable mount beneath one is walked from its own mount point). Globbing the whole tree, the
# read-only venv included, took 20 s of CPU for the same files.
FORGE = (
    "import json, os\n"
    "def read_only(path):\n"
    "    try:\n"
    "        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)\n"
    "    except OSError:\n"
    "        return True\n"
    "with open('/proc/self/mountinfo') as fh:\n"
    "    mounts = [f[4] for f in map(str.split, fh) if f[5].split(',')[0] == 'rw']\n"
    "found = {'../judge/verdicts.jsonl'}\n"
    "for top in mounts:\n"
    "    for root, dirs, files in os.walk(top):\n"
    "        dirs[:] = [d for d in dirs if not read_only(os.path.join(root, d))]\n"
    "        found.update(os.path.join(root, f) for f in files if f.endswith('.jsonl'))\n"
    "for path in found:\n"
    "    try:\n"
    "        with open(path, 'a') as fh:\n"
    "            for c in ('ex1_add', 'ex2_mul', 'ex2_mul_negative', 'ex3_total'):\n"
    "                fh.write(json.dumps({'check': c, 'status': 'passed', 'message': ''}) + '\\n')\n"
    "    except OSError:\n"
    "        pass\n"
    "for path in ('../grades.csv', '../../grades.csv', '../../../grades.csv'):\n"
    "    try:\n"
    "        open(path, 'w').write('forged')\n"
    "    except OSError:\n"
    "        pass"
)
FORGE_EXIT = (
    "import json, os\n"
    "with open('results.jsonl', 'w') as fh:\n"
    "    for i in range(20):\n"
    "        fh.write(json.dumps({'index': i, 'outcome': 'passed'}) + '\\n')\n"
    "os._exit(0)"
)
FORGE_SIGNAL = (
    "import os, signal\n"
    "open('results.jsonl', 'w').close()\n"
    "os.kill(os.getppid(), signal.SIGKILL)\n"
    "os.kill(os.getpid(), signal.SIGKILL)"
)
REPO_WRITE = (
    "import os, tools\n"
    "root = os.path.dirname(os.path.dirname(tools.__file__))\n"
    "for rel in ('common/checks.py', 'tools/grading/judge.py', 'tools/grading/kernel.py',\n"
    "            'common/__init__.py'):\n"
    "    try:\n"
    "        with open(os.path.join(root, rel), 'a') as fh:\n"
    "            fh.write('\\n_fail = lambda *a, **k: None\\n')\n"
    "    except OSError as err:\n"
    "        print('refused', rel, err)\n"
    "print(os.listdir(root))"
)
STUB_REPLACED = "import tools.grading.kernel as k\nk.serve = lambda check: print('ok', check)"
ORACLE = (
    "import tools.grading.kernel as k\n"
    "for guess in range(12):\n"
    "    total = guess\n"
    "    try:\n"
    "        k.serve('ex3_total')\n"
    "        break\n"
    "    except Exception:\n"
    "        pass"
)
SNOOP = (
    "import os, socket, sys, tools\n"
    "root = os.path.dirname(os.path.dirname(tools.__file__))\n"
    "seen = [p for p in (os.path.join(root, 'solutions'), os.path.join(root, 'tests'),\n"
    "        os.path.join(os.path.dirname(os.path.realpath(sys.prefix)), 'solutions'), '../../honest', '../judge/verdicts.jsonl', '../00_fixture.ipynb')\n"
    "        if os.path.exists(p)]\n"
    "try:\n"
    "    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
    "    seen.append('network')\n"
    "except OSError:\n"
    "    pass\n"
    "if seen:\n"
    "    def add(a, b):\n"
    "        raise RuntimeError(f'the kernel sees {seen}')"
)
MEMORY_HOG = "blocks = []\nwhile True:\n    blocks.append(bytearray(100 << 20))"
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"

ATTACKS = {
    "showtraceback": SHOWTRACEBACK,
    "custom_exc": CUSTOM_EXC,
    "excepthook": EXCEPTHOOK,
    "event_callbacks": EVENTS,
    "kernel_replies": REPLIES,
    "builtins": BUILTINS,
    "always_equal": ALWAYS_EQUAL,
    "forge_files": FORGE,
    "forge_then_exit": FORGE_EXIT,
    "forge_then_signal": FORGE_SIGNAL,
    "repo_write": REPO_WRITE,
    "stub_replaced": STUB_REPLACED,
    "oracle": ORACLE,
    "hidden_showtraceback": hidden(SHOWTRACEBACK + "\n" + EVENTS),
    "hidden_builtins": hidden(BUILTINS + "\n" + CUSTOM_EXC),
    "memory_hog": MEMORY_HOG,
    "fork_bomb": FORK_BOMB,
}

HONEST = (
    "%matplotlib inline\n"
    "import matplotlib.pyplot as plt\n"
    "import numpy as np\n"
    "\n"
    "def helper(a, b):\n"
    "    return float(np.add(a, b))\n"
    "\n"
    "assert np.allclose(helper(1, 2), 3)\n"
    "get_ipython().run_line_magic('timeit', '-n 3 -r 1 helper(1, 2)')\n"
    "fig, ax = plt.subplots()\n"
    "ax.plot([1, 2, 3])\n"
    "plt.show()"
)


def students() -> dict[str, dict]:
    subs = {}
    for name, code in ATTACKS.items():
        subs[name] = insert_after(unanswered(), "setup", code, "attack")
    honest = solution()
    insert_after(honest, "setup", HONEST, "honest")
    insert_after(honest, "ex1_add", "%timeit -n 3 -r 1 add(1, 2)", "timeit")
    cell(honest, "ex1-code")["source"] = "def add(a, b):\n    return helper(a, b)"
    subs["honest"] = honest
    subs["snoop"] = insert_after(solution(), "ex1-code", SNOOP, "snoop")
    return subs


def repo_checksums() -> dict[str, str]:
    found = {}
    for part in ("common", "tools", "solutions", "labs", "tests/fixtures"):
        for path, digest in checksums(ROOT / part).items():
            if "__pycache__" not in path:
                found[f"{part}/{path}"] = digest
    return found


def _grade_attacks(base: Path) -> Graded:
    subs, out = base / "submissions", base / "out"
    for name, nb in students().items():
        (subs / name).mkdir(parents=True)
        (subs / name / NB_NAME).write_text(json.dumps(nb), encoding="utf-8")
    bystander = out / "work" / "bystander"
    bystander.mkdir(parents=True)
    (bystander / NB_NAME).write_text(json.dumps(solution()))
    before = {
        **checksums(subs),
        **repo_checksums(),
        **{"by/" + k: v for k, v in checksums(bystander).items()},
    }
    log: list[str] = []
    start = time.monotonic()
    results = grade.grade(
        "00",
        subs,
        out,
        solutions=SOLUTIONS,
        # test_grading's 10 s: the fork bomb spins every core until the cell limit (20 s cost
        # 40 s of CPU), and every other cell of this fixture takes well under a second
        cell_timeout=10,
        student_timeout=60,
        jobs=2,
        profile="smoke",
        memory=1 << 30,
        log=log.append,
    )
    seconds = time.monotonic() - start
    after = {
        **checksums(subs),
        **repo_checksums(),
        **{"by/" + k: v for k, v in checksums(bystander).items()},
    }
    return Graded({r.student: r for r in results}, before, after, out, seconds, log)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, worker_id) -> Graded:
    if worker_id == "master":
        return _grade_attacks(tmp_path_factory.mktemp("attacks"))
    shared = tmp_path_factory.getbasetemp().parent
    with _locked(shared / "attacks.lock"):
        cache = shared / "attacks.json"
        if not cache.exists():
            cache.write_text(_dump(_grade_attacks(shared / "attacks-run")))
        return _load(cache.read_text())


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_scores_zero(attacked, attack):
    r = attacked.results[attack]
    assert r.score == 0, (attack, r.checks, r.flags)
    assert "passed" not in statuses(r).values()


def test_nothing_outside_the_sandbox_changed(attacked):
    """Repository, submissions and another student's work folder: byte-identical."""
    changed = {k for k in attacked.before if attacked.before[k] != attacked.after.get(k)}
    assert not changed, sorted(changed)
    assert set(attacked.after) == set(attacked.before)
    forged = attacked.out / "grades.csv"
    assert "forged" not in forged.read_text()


def test_honest_magics_plots_and_helpers_score_full_marks_without_flags(attacked):
    r = attacked.results["honest"]
    assert (r.score, r.flags) == (FULL, []), (r.checks, r.flags)


def test_the_judge_answers_each_check_once(attacked):
    r = attacked.results["oracle"]
    assert statuses(r)["ex3_total"] != "passed"
    assert any("check ex3_total was requested again" in f for f in r.flags), r.flags


def test_a_removed_stub_is_flagged(attacked):
    r = attacked.results["stub_replaced"]
    assert any("never reached the judge" in f for f in r.flags), r.flags


def test_memory_hog_and_fork_bomb_are_stopped_and_reported(attacked):
    hog, bomb = attacked.results["memory_hog"], attacked.results["fork_bomb"]
    assert any("memory limit" in f for f in hog.flags), hog.flags
    assert any("processes" in f or "total limit" in f for f in bomb.flags), bomb.flags
    assert hog.seconds < 60 and attacked.results["honest"].score == FULL


def test_the_kernel_sees_no_solutions_no_grader_files_and_no_network(attacked):
    r = attacked.results["snoop"]
    assert (r.score, r.flags) == (FULL, []), (r.checks, r.flags)
    text = (r.notebook.parent / "kernel" / "notebook.ipynb").read_text()
    assert "hidden:" not in text  # the kernel's copy holds stubs, never the checks
    assert "BEGIN HIDDEN CHECKS" not in text


def test_without_bubblewrap_the_grader_refuses_unless_told(tmp_path, monkeypatch):
    from tools.grading import sandbox

    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    (tmp_path / "subs" / "a").mkdir(parents=True)
    shutil.copy(SOLUTIONS / NB_NAME, tmp_path / "subs" / "a" / NB_NAME)
    with pytest.raises(grade.GradeError, match="No sandbox: .*--no-sandbox"):
        grade.grade("00", tmp_path / "subs", tmp_path / "out", solutions=SOLUTIONS)
    [r] = grade.grade(
        "00",
        tmp_path / "subs",
        tmp_path / "out",
        solutions=SOLUTIONS,
        sandboxed=False,
        cell_timeout=20,
        student_timeout=60,
        log=lambda m: None,
    )
    assert r.score == FULL and r.flags == ["graded WITHOUT a sandbox (--no-sandbox)"]
    summary = (tmp_path / "out" / "summary.csv").read_text()
    assert "WITHOUT a sandbox" in summary


REAL_ATTACK = "\n".join(
    [
        SHOWTRACEBACK,
        CUSTOM_EXC,
        EVENTS,
        "import common.checks as c",
        "import numpy as np",
        "import tensorflow as tf",
        "for name in dir(c):",
        "    if name.startswith('check') or name.startswith('_'):",
        "        try:",
        "            setattr(c, name, lambda *a, **k: None)",
        "        except (AttributeError, TypeError):",
        "            pass",
        "np.allclose = lambda *a, **k: True",
        "np.testing.assert_allclose = lambda *a, **k: None",
        "tf.debugging.assert_near = lambda *a, **k: None",
        "checks = c",
        "try:",
        "    with open(c.__file__, 'a') as fh:",
        "        fh.write('\\n_fail = lambda *a, **k: None\\n')",
        "except OSError as err:",
        "    print('refused:', err)",
    ]
)


def test_real_lab_attacker_scores_zero_and_its_solution_full_marks(tmp_path):
    """Lab 00 end to end: an unanswered lab with the attacks scores 0, the solution 12/12."""
    path = next((ROOT / "labs").glob("00_*.ipynb"))
    nb = notebooks.read(path)
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            c["source"] = notebooks.source(c).replace("raise NotImplementedError()", "pass")
    insert_after(nb, "setup", REAL_ATTACK, "attack")
    subs = tmp_path / "subs"
    (subs / "attacker").mkdir(parents=True)
    (subs / "attacker" / path.name).write_text(json.dumps(nb), encoding="utf-8")
    (subs / "solution").mkdir()
    shutil.copy(ROOT / "solutions" / path.name, subs / "solution" / path.name)
    before = {**checksums(subs), **repo_checksums()}
    results = grade.grade(
        "00", subs, tmp_path / "out", cell_timeout=300, student_timeout=900, jobs=2, log=print
    )
    by = {r.student: r for r in results}
    assert by["attacker"].score == 0, by["attacker"].checks
    assert (by["solution"].score, by["solution"].flags) == (by["solution"].max_score, [])
    assert {**checksums(subs), **repo_checksums()} == before
