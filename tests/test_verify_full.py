"""make verify-full: check records from common.checks, a lab run cell by cell, the table."""

from __future__ import annotations

import json

import nbformat
import pytest

from common import checks
from tools import verify_full


def test_checks_are_recorded_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv(checks.RECORD_ENV, str(log))
    assert checks.RECORD_ENV == verify_full.RECORD_ENV
    checks.check_between(0.93, 0.9, None, "test accuracy")
    with pytest.raises(checks.CheckFailure):
        checks.check_between(0.5, 0.9, None, "val accuracy")
    checks.check_true(True, "loss fell")
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows == [
        {"what": "test accuracy", "expected": "at least 0.9", "received": "0.93", "passed": True},
        {"what": "val accuracy", "expected": "at least 0.9", "received": "0.5", "passed": False},
        {"what": "loss fell", "expected": None, "received": None, "passed": True},
    ]
    monkeypatch.delenv(checks.RECORD_ENV)
    checks.check_true(True, "not recorded")
    assert len(log.read_text().splitlines()) == 3


def _check(src, check_id, points=1):
    return nbformat.v4.new_code_cell(
        src, metadata={"course": {"role": "check", "id": check_id, "points": points}}
    )


def fixture_lab(folder):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lab 42"),
        nbformat.v4.new_code_cell(
            "import os, time\nfrom common import checks\nPROFILE = os.environ['LAB_PROFILE']",
            metadata={"course": {"role": "setup"}},
        ),
        nbformat.v4.new_code_cell("time.sleep(0.3)\naccuracy = 0.91"),
        _check(
            "checks.check_between(accuracy, 0.9, None, 'test accuracy')\n"
            "checks.check_true(PROFILE == 'smoke', 'profile passed to the kernel')",
            "ex1_accuracy",
            2,
        ),
        _check("checks.check_between(0.4, 0.5, None, 'loss ratio')", "ex1_loss"),
        _check("assert accuracy > 0.5", "ex1_plain"),
        nbformat.v4.new_code_cell("raise RuntimeError('broken helper')"),
        _check("undefined_name", "ex2_error"),
    ]
    path = folder / "42_fixture.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_lab_runs_cell_by_cell_and_each_check_is_timed_and_recorded(tmp_path):
    run = verify_full.run_lab(fixture_lab(tmp_path), profile="smoke", cell_timeout=120)
    by_id = {row.check: row for row in run.checks}
    assert list(by_id) == ["ex1_accuracy", "ex1_loss", "ex1_plain", "ex2_error"]
    first = by_id["ex1_accuracy"]
    assert first.status == "passed" and first.points == 2 and first.seconds >= 0.3
    assert [r["what"] for r in first.records] == ["test accuracy", "profile passed to the kernel"]
    assert (first.records[0]["expected"], first.records[0]["received"]) == ("at least 0.9", "0.91")
    assert (
        by_id["ex1_loss"].status == "failed" and by_id["ex1_loss"].records[0]["received"] == "0.4"
    )
    assert by_id["ex1_plain"].status == "passed" and by_id["ex1_plain"].records == []
    assert by_id["ex2_error"].status == "error" and "NameError" in by_id["ex2_error"].message
    assert len(run.errors) == 1 and "RuntimeError: broken helper" in run.errors[0]

    table = verify_full.markdown([run], "test machine")
    assert "| 42_fixture | ex1_accuracy | passed | test accuracy | at least 0.9 | 0.91 |" in table
    assert "|  |  |  | profile passed to the kernel | — | — |  |" in table
    assert "| ✗ loss ratio | at least 0.5 | 0.4 |" in table
    assert "| 42_fixture | smoke |" in table and "2/4" in table


def test_cli_writes_the_table_and_fails_on_a_failed_check(tmp_path, monkeypatch):
    path = fixture_lab(tmp_path)
    monkeypatch.setattr(verify_full, "solution_paths", lambda: [path])
    monkeypatch.setattr(verify_full, "describe_machine", lambda: "test machine")
    out = tmp_path / "build" / "full-results.md"
    code = verify_full.main(["42", "--profile", "smoke", "--out", str(out)])
    assert code == 1  # ex1_loss fails, a cell raises
    assert "| lab | check | status | what | threshold | value | seconds |" in out.read_text()
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved[0]["lab"] == "42_fixture" and len(saved[0]["checks"]) == 4
    assert verify_full.main(["77", "--out", str(out)]) == 2
