"""The grading rule's regression attacks (tools/grading/forge.py), on fixture notebooks.

`make notebooks` runs them on every real lab (tools/grading/solutions.py, ``KNOWN_LEAKS``);
here a fixture lab that leaks on purpose shows that both attacks find what they should: a
loose value typed into a blank lab (forged snapshot) and a reference helper the kernel owns
replaced by a constant (swapped reference).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tools import notebooks
from tools.grading import forge, solutions

ROOT = Path(__file__).resolve().parent.parent
LEAKY = ROOT / "tests" / "fixtures" / "grading" / "leaky" / "solutions"
NAME = "01_leaky.ipynb"


def leaky() -> tuple[dict, dict]:
    solution = notebooks.read(LEAKY / NAME)
    return solution, notebooks.generate_lab(solution, f"labs/{NAME}", notebooks.course_config())


def test_a_snapshot_keeps_plain_values_only(tmp_path):
    class History:  # what forge recognises as a Keras History: by module and class name
        pass

    History.__module__ = "keras.src.callbacks.history"
    history = History()
    history.history = {"loss": [1.0, 0.5]}
    namespace = {
        "x": 3,
        "arr": np.arange(4.0),
        "table": {"a": [1, (2.0, "b")], "c": None},
        "history": history,
        "fn": len,
        "mixed": [1, len],
        "_hidden": 1,
        "In": ["code"],
        "big": np.zeros(forge.MAX_VALUE_BYTES // 8 + 1),
    }
    forge.take_snapshot(namespace, "c1", str(tmp_path))
    saved = forge.read_snapshots(tmp_path)["c1"]
    assert sorted(saved) == ["arr", "history", "table", "x"]
    assert len(list((tmp_path / "blobs").iterdir())) == 1  # arr's bytes, stored once
    forge.take_snapshot(namespace, "c2", str(tmp_path))
    assert len(list((tmp_path / "blobs").iterdir())) == 1

    lab_nb = {
        "cells": [
            forge._code("setup", "SEED = 1"),
            forge._code("ex", "# YOUR CODE HERE\nraise NotImplementedError()"),
            forge._code("c1", "assert x == 3"),
        ]
    }
    nb = forge.forged_snapshot(lab_nb, tmp_path, ["c1"])
    ids = [c["id"] for c in nb["cells"]]
    assert ids == ["setup", "forged-store", "ex", "forged-c1", "c1"]
    assert notebooks.source(nb["cells"][2]).endswith("pass")
    # the cells the kernel runs restore the values (a History as an object with .history)
    ns: dict = {}
    for cell in nb["cells"][1::2]:
        exec(notebooks.source(cell), ns)
    assert ns["x"] == 3 and ns["table"] == {"a": [1, (2.0, "b")], "c": None}
    np.testing.assert_array_equal(ns["arr"], np.arange(4.0))
    assert ns["history"].history == {"loss": [1.0, 0.5]}


def test_swapped_references_replace_each_provided_function_after_its_cell():
    solution, lab_nb = leaky()
    assert forge.provided_functions(solution) == [("ex1-helper", ["error"])]
    nb = forge.swapped_references(lab_nb, solution)
    ids = [c["id"] for c in nb["cells"]]
    assert ids[ids.index("ex1-helper") + 1] == "swapped-ex1-helper"
    ns: dict = {}
    exec(notebooks.source(nb["cells"][ids.index("swapped-ex1-helper")]), ns)
    assert ns["error"]("anything") == 0.0


def test_known_leaks_must_leak_and_others_must_not():
    scores = {"snapshot": (1.0, ["ex2_answer"]), "swap": (0.0, [])}
    assert solutions.leak_problems("01", NAME, scores, {"01:snapshot"}) == []
    [unknown] = solutions.leak_problems("01", NAME, scores, set())
    assert "snapshot attack" in unknown and "ex2_answer" in unknown
    [stale] = solutions.leak_problems("01", NAME, scores, {"01:snapshot", "01:swap"})
    assert "remove '01:swap' from KNOWN_LEAKS" in stale


def test_both_attacks_find_the_fixtures_leaks_and_the_solution_keeps_full_marks(tmp_path):
    """One solution run (with snapshots) and the two forged blank labs: three notebooks."""
    problems = solutions.grade_all_solutions(
        tmp_path,
        solutions=LEAKY,
        jobs=1,
        known_leaks={"01:snapshot"},
        cell_timeout=20,
        student_timeout=60,
        profile="smoke",
    )
    # the solution scores full marks; the snapshot leak is known; the swap leak is not
    assert len(problems) == 1, problems
    assert "the swap attack" in problems[0] and "ex1_error" in problems[0]
    graded = tmp_path / "01" / "attacks" / "graded" / "grades.csv"
    rows = [line.split(",")[:5] for line in graded.read_text().splitlines()[1:]]
    passed = {(r[0], r[2]) for r in rows if r[3] != "0" and r[3] != "0.0"}
    assert passed == {("snapshot", "ex2_answer"), ("swap", "ex1_error")}
    snapshot = json.loads(
        (
            tmp_path / "01" / "graded" / "work" / "solution" / "kernel" / "snapshots"
            / "ex2_answer.json"
        ).read_text()
    )  # fmt: skip
    assert snapshot["answer"]["tree"] == 42 and "double" not in snapshot


def test_attacks_are_skipped_only_where_the_kernel_has_no_channel_to_a_check():
    from tools.grading.lab import plan_checks

    solution, lab_nb = leaky()
    found = forge.channels(solution, lab_nb, plan_checks(solution))
    reasons = {why for _, _, why in found}
    assert "ex2_answer takes 'answer' (undeclared)" in reasons
    assert "ex1_error takes 'error' (undeclared)" in reasons
    ids = ["ex1_error", "ex2_answer", "ex3_square"]
    # both attacks stop after ex2_answer: ex3_square has no channel
    assert forge.attack_extent(found, ids) == {"snapshot": "ex2_answer", "swap": "ex2_answer"}
    declared = [(c, a, w) for c, a, w in found if c == "ex1_error"]
    assert forge.attack_extent(declared, ids) == {"snapshot": "ex1_error", "swap": "ex1_error"}
    provided = [("ex1_error", frozenset({"swap"}), "ex1_error takes 'error', a provided cell's")]
    assert forge.attack_extent(provided, ids) == {"swap": "ex1_error"}

    def cell(cid, text, **course):
        return {"cell_type": "code", "id": cid, "metadata": {"course": course}, "source": text}

    clean = {
        "cells": [
            cell("setup", "import numpy as np", role="setup"),
            cell("c", "UNITS = 3"),
            cell("e", "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
            cell("k", "assert f(UNITS) == 3", role="check", id="k", points=1),
        ]
    }
    blank = notebooks.generate_lab(clean, "labs/99_x.ipynb", notebooks.course_config())
    assert forge.channels(clean, blank, plan_checks(clean)) == []
    # code outside the answer that reaches course values is a channel (a blank f returns it)
    clean["cells"][2]["source"] += "\n    return np.asarray(UNITS)"
    blank = notebooks.generate_lab(clean, "labs/99_x.ipynb", notebooks.course_config())
    assert forge.channels(clean, blank, plan_checks(clean)) == [
        (None, frozenset(forge.ATTACKS), "the blank f uses UNITS")
    ]
    assert forge.attack_extent(forge.channels(clean, blank, plan_checks(clean)), ["k"]) == {
        "snapshot": None,
        "swap": None,
    }
    # a default or an annotation is evaluated once, at the def: a blank body never reads it
    answer = "    ### BEGIN SOLUTION\n    return x * units\n    ### END SOLUTION"
    clean["cells"][2]["source"] = f'def f(x: UNITS, units=UNITS):\n    """Doc."""\n{answer}'
    blank = notebooks.generate_lab(clean, "labs/99_x.ipynb", notebooks.course_config())
    assert "units=UNITS" in notebooks.source(blank["cells"][2])
    assert forge.channels(clean, blank, plan_checks(clean)) == []
    # a decorator runs on every call, and so does any code of the body outside the answer
    clean["cells"][1]["source"] = "UNITS = 3\n\n\ndef wrap(fn):\n    return fn"
    clean["cells"][2]["source"] = f"@wrap\ndef f(x, units=UNITS):\n{answer}"
    blank = notebooks.generate_lab(clean, "labs/99_x.ipynb", notebooks.course_config())
    assert forge.channels(clean, blank, plan_checks(clean)) == [
        (None, frozenset(forge.ATTACKS), "the blank f uses wrap")
    ]
    clean["cells"][2]["source"] = f"def f(x, units=UNITS):\n    scale = units\n{answer}"
    blank = notebooks.generate_lab(clean, "labs/99_x.ipynb", notebooks.course_config())
    assert forge.channels(clean, blank, plan_checks(clean)) == [
        (None, frozenset(forge.ATTACKS), "the blank f uses UNITS")
    ]
