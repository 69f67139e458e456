"""The grading rule (issue 25): what the planner hands to the kernel, and `make check`'s lint.

Small synthetic notebooks only: nothing runs, no TensorFlow.
"""

from __future__ import annotations

import copy
import json

import pytest

from tools import notebooks
from tools.grading import judge, lab
from tools.grading.lab import plan_checks, rule_problems

SOLUTIONS = notebooks.ROOT / "tests" / "fixtures" / "grading"


def code(text: str, **course) -> dict:
    return {"cell_type": "code", "metadata": {"course": course} if course else {}, "source": text}


def exercise(text: str) -> dict:
    return code(f"### BEGIN SOLUTION\n{text}\n### END SOLUTION")


def check(cid: str, text: str, kernel: dict | None = None) -> dict:
    extra = {"kernel": kernel} if kernel is not None else {}
    return code(text, role="check", id=cid, points=1, **extra)


def nb(*cells: dict) -> dict:
    return {"cells": [code("import numpy as np\nSEED = 1", role="setup"), *cells]}


# --------------------------------------------------------------------------- the planner


def test_a_matplotlib_call_on_a_kernel_axis_only_reads_course_constants():
    """`ax.axhline(BASELINE)` on the kernel's `ax` leaves BASELINE and LENGTHS the judge's."""
    notebook = nb(
        code("LENGTHS = [10, 20]\nBASELINE = 0.17"),
        code("def train(n):\n    ### BEGIN SOLUTION\n    return n * 0.01\n    ### END SOLUTION"),
        code(
            "import matplotlib.pyplot as plt\nmse = [train(n) for n in LENGTHS]\n"
            "fig, ax = plt.subplots()\nax.plot(LENGTHS, mse)\nax.axhline(BASELINE)\n"
            "ax.set_xticks(LENGTHS)"
        ),
        check("c1", "assert train(LENGTHS[0]) < BASELINE"),
    )
    plan = plan_checks(notebook)["c1"]
    assert plan.remote == ("train",)
    assert set(plan.local) == {"BASELINE", "LENGTHS"}
    assert plan.kinds == (("train", "function"),)


def test_a_course_object_passed_to_a_students_function_stays_the_judges():
    """Lab 07's shape: `greedy_decode(model, x, vocab)` runs in the kernel, and the check's
    reference decoder uses the judge's own `vocab`."""
    notebook = nb(
        code("class Vocab:\n    def decode(self, ids):\n        return ids\n\nvocab = Vocab()"),
        code(
            "def greedy_decode(x, vocab):\n    ### BEGIN SOLUTION\n    return vocab.decode(x)\n"
            "    ### END SOLUTION"
        ),
        code("pred = greedy_decode([1, 2], vocab)"),
        check("c1", "assert greedy_decode([3], vocab) == vocab.decode([3])"),
    )
    plan = plan_checks(notebook)["c1"]
    assert plan.remote == ("greedy_decode",)
    assert "vocab" in plan.local
    assert [s for _, s in plan.steps][-1] == "vocab = Vocab()"


def test_a_declared_course_object_is_the_kernels_after_a_students_function_changed_it():
    """`train(net)` trains the course's `net`: a check that wants the trained one declares it,
    and from that call on `net` (and what course code computes from it) is the kernel's."""
    notebook = nb(
        code("net = [0.0]"),
        code("def train(net):\n    ### BEGIN SOLUTION\n    net[0] = 1.0\n    ### END SOLUTION"),
        code("before = list(net)\ntrain(net)\nafter = list(net)"),
        check("c1", "assert net[0] == 1.0 and before == [0.0]", kernel={"net": "model"}),
        check("c2", "assert after == [1.0]"),
    )
    plans = plan_checks(notebook)
    assert plans["c1"].remote == ("net",) and "before" in plans["c1"].local
    assert plans["c1"].kinds == (("net", "model"),)
    assert plans["c2"].remote == ("after",)  # computed from the kernel's net: a value
    undeclared = copy.deepcopy(notebook)
    undeclared["cells"][4]["metadata"]["course"].pop("kernel")
    plans = plan_checks(undeclared)
    assert plans["c1"].remote == () and "net" in plans["c1"].local
    assert plans["c2"].remote == () and "after" in plans["c2"].local


def test_in_place_changes_by_student_code_still_hand_the_object_over():
    notebook = nb(
        code("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
        code("log = {}\nlog['a'] = f(1)"),
        check("c1", "assert log['a'] == 1"),
    )
    assert plan_checks(notebook)["c1"].remote == ("log",)


# --------------------------------------------------------------------------- make check's lint


def test_lint_fails_on_a_value_from_an_exercise_cell_and_says_what_to_do():
    notebook = nb(
        exercise("UNITS = 32\ndef build(units):\n    return [units]"),
        check("c1", "assert build(UNITS) == [32]"),
    )
    [problem] = rule_problems(notebook, "solutions/99_x.ipynb")
    assert problem.startswith("solutions/99_x.ipynb: check c1 (cell 2) takes 'UNITS'")
    assert "bound by cell 1 (exercise cell, Assign statement)" in problem
    assert "move it to a provided cell, or recompute it in the check, or declare it" in problem
    # the fix the rule asks for: the constant in a provided cell
    fixed = nb(
        code("UNITS = 32"),
        exercise("def build(units):\n    return [units]"),
        check("c1", "assert build(UNITS) == [32]"),
    )
    assert rule_problems(fixed, "solutions/99_x.ipynb") == []


def test_lint_accepts_declared_models_and_values_and_refuses_stale_or_bad_declarations():
    notebook = nb(
        exercise("def build():\n    return 'a model'"),
        code("model = build()\nhistory = {'loss': [len(model)]}"),
        check("c1", "assert model and history", kernel={"model": "model"}),
    )
    [problem] = rule_problems(notebook, "s.ipynb")
    assert "takes 'history'" in problem and "provided cell" in problem
    notebook["cells"][-1]["metadata"]["course"]["kernel"] = {
        "model": "model",
        "history": "value: the curve of the student's own training",
    }
    assert rule_problems(notebook, "s.ipynb") == []
    notebook["cells"][-1]["metadata"]["course"]["kernel"] |= {"SEED": "value: x", "m": "thing"}
    problems = rule_problems(notebook, "s.ipynb")
    assert len(problems) == 2
    assert any("'SEED'" in p and "stale declaration" in p for p in problems)
    assert any("'m' with the kind 'thing'" in p for p in problems)


def test_lint_on_the_fixture_course_fails_then_passes_once_declared():
    """The grader's fixture keeps a loose value (`total`) on purpose; declaring it passes."""
    solution = notebooks.read(SOLUTIONS / "solutions" / "00_fixture.ipynb")
    [problem] = rule_problems(solution, "00_fixture.ipynb")
    assert "check ex3_total (cell 11) takes 'total'" in problem
    assert "bound by cell 10 (exercise cell" in problem
    declared = json.loads(json.dumps(solution))
    cell = next(c for c in declared["cells"] if c.get("id") == "ex3_total")
    cell["metadata"]["course"]["kernel"] = {"total": "value: the fixture's loose-value exercise"}
    assert rule_problems(declared, "00_fixture.ipynb") == []


def test_make_check_fails_in_strict_mode_and_only_warns_otherwise(monkeypatch, capsys):
    notebook = nb(exercise("LIMIT = 3"), check("c1", "assert LIMIT == 3"))
    problems = notebooks.grading_rule_problems(notebook, "solutions/99_x.ipynb")
    assert len(problems) == 1
    monkeypatch.setattr(lab, "LINT_STRICT", True)
    assert notebooks.rule_verdict(problems) == problems  # `make check` fails
    monkeypatch.setattr(lab, "LINT_STRICT", False)
    assert notebooks.rule_verdict(problems) == []
    assert "takes 'LIMIT'" in capsys.readouterr().err  # still printed, as a warning


# --------------------------------------------------------------------------- the judge's side


class FakeLink:
    """Answers `callable(x)` / `isinstance(x, type)` as the kernel would for a def or a class."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def call(self, fn, *args):
        if fn is callable:
            return self.kind in ("function", "class", "model")
        if args[1] is not type:  # isinstance(x, keras.Model)
            return self.kind == "model"
        return self.kind == "class"


@pytest.mark.parametrize(
    "expected, arrives, ok",
    [
        ("function", "function", True),
        ("function", "object", False),
        ("class", "class", True),
        ("class", "function", False),
        ("model", "function", False),
        ("model", "model", True),  # a model of custom layers stays in the kernel, called there
        ("class", "model", False),
    ],
)
def test_the_judge_refuses_a_declared_kind_that_arrives_as_something_else(expected, arrives, ok):
    link = FakeLink(arrives)
    value = judge.Remote(link, 1, f"builtins.{arrives}")
    message = judge.wrong_kind("thing", expected, value, link)
    assert (message is None) == ok, message


@pytest.mark.parametrize("value", [3, [1.0, 2.0], {"loss": [1.0]}, "text"])
def test_a_typed_value_is_never_a_model_a_function_or_a_class(value):
    for kind in ("model", "function", "class"):
        message = judge.wrong_kind("thing", kind, value, FakeLink("function"))
        assert message and "received a" in message, message
    assert judge.wrong_kind("thing", "value: why", value, FakeLink("function")) is None
    assert judge.wrong_kind("thing", None, value, FakeLink("function")) is None
