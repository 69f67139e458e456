"""Progress of long runs (issue 27): a bar on a terminal, plain periodic lines elsewhere."""

from __future__ import annotations

import argparse
import io
import time

from test_verify_full import fixture_lab

from tools import progress, verify_full
from tools.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_count_done_failures_and_time_left():
    lines: list[str] = []
    clock = Clock()
    with Progress(
        4, "students", failures="below full marks", flags="flagged", log=lines.append,
        terminal=False, every=0, clock=clock,
    ) as bar:  # fmt: skip
        clock.now += 10
        bar.advance("[1/4] alice: 7/7 (10 s)")
        clock.now += 10
        bar.advance("[2/4] bob: 3/7 (20 s)", failed=True, flagged=True)
        assert bar.summary() == (
            "progress: 2/4 students done, 1 below full marks, 1 flagged; 20s so far, about 20s left"
        )
        clock.now += 100
    assert lines[:2] == ["[1/4] alice: 7/7 (10 s)", "[2/4] bob: 3/7 (20 s)"]
    assert lines[-1] == (
        "progress: 2/4 students done, 1 below full marks, 1 flagged; 2m00s so far, about 2m00s left"
    )


def test_plain_lines_keep_coming_while_nothing_finishes():
    lines: list[str] = []
    with Progress(3, "students", log=lines.append, terminal=False, every=0.05):
        time.sleep(0.3)
    ticks = [line for line in lines if line.startswith("progress: 0/3 students done, 0 failed")]
    assert len(ticks) >= 2, lines


def test_durations_read_like_a_clock():
    assert [progress._duration(s) for s in (0, 59.6, 61, 3600 + 120)] == [
        "0s",
        "1m00s",
        "1m01s",
        "1h02m",
    ]


def test_the_terminal_bar_shows_done_total_failures_and_time_left(monkeypatch):
    from rich.console import Console

    screen = io.StringIO()
    real = Console

    def console(**kwargs):  # the bar's console, drawn into a string as a 100-column terminal
        return real(file=screen, force_terminal=True, width=100, color_system=None)

    monkeypatch.setattr("rich.console.Console", console)
    with Progress(3, "students", failures="below full marks", terminal=True, every=0) as bar:
        bar.advance("[1/3] alice: 7/7 (1 s)")
        bar.advance("[2/3] bob [x]: 0/7 (1 s)", failed=True)
        bar.note("carol")
        bar.bar.refresh()
        shown = screen.getvalue()
    assert "[1/3] alice: 7/7 (1 s)" in shown
    assert "[2/3] bob [x]: 0/7 (1 s)" in shown  # student names are not rich markup
    assert "2/3 students" in shown and "1 below full marks" in shown and "carol" in shown
    assert "left" in shown


def test_verify_full_reports_progress_per_lab_and_cell(tmp_path, monkeypatch, capsys):
    lab = fixture_lab(tmp_path)
    monkeypatch.setattr(verify_full, "solution_paths", lambda: [lab])
    monkeypatch.setattr(verify_full, "describe_machine", lambda: "test machine")
    cells: list[tuple[int, int]] = []
    run_lab = verify_full.run_lab

    def spy(*args, on_cell=None, **kwargs):
        def record(done, total):
            cells.append((done, total))
            on_cell(done, total)

        return run_lab(*args, on_cell=record, **kwargs)

    monkeypatch.setattr(verify_full, "run_lab", spy)
    parser = argparse.ArgumentParser()
    verify_full.add_arguments(parser)
    args = parser.parse_args(
        ["--profile", "smoke", "--out", str(tmp_path / "r.md"), "--cell-timeout", "120"]
        + ["--no-progress"]
    )
    assert verify_full.run_cli(args) == 1  # the fixture lab has failing checks
    out = capsys.readouterr().out
    assert "== 42_fixture (smoke)" in out
    assert "progress: 1/1 labs done, 1 failing" in out
    assert cells == [(i, 7) for i in range(7)]
