"""Progress for long runs (``make grade``, ``make verify-full``): done / total, failures so far,
time left.

On a terminal it is a ``rich`` progress bar on stderr, with each finished item's line printed
above it. Elsewhere (CI logs, ``nohup``, a pipe) each item's line is logged as before, plus a
plain summary line every ``every`` seconds (also while nothing finishes) and one at the end::

    progress: 12/20 students done, 3 below full marks, 1 flagged; 2m10s so far, about 1m40s left
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

DEFAULT_EVERY = 30.0  # seconds between plain summary lines


def _duration(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    """``with Progress(total, "students") as p: p.advance(line, failed=..., flagged=...)``.

    ``failures`` names what a failed item is (e.g. "below full marks"); ``flags`` a second
    count shown only when not empty (e.g. "flagged"). ``log`` receives every plain line;
    ``terminal`` (default: stderr is a terminal and ``log`` is not given) draws the bar.
    """

    def __init__(
        self,
        total: int,
        unit: str = "items",
        *,
        failures: str = "failed",
        flags: str = "",
        log: Callable[[str], None] | None = None,
        terminal: bool | None = None,
        every: float = DEFAULT_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.unit, self.failures_name, self.flags_name = total, unit, failures, flags
        self.every, self.clock = every, clock
        self.done = self.failed = self.flagged = 0
        self.note_text = ""
        if terminal is None:
            terminal = log is None and sys.stderr.isatty()
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.start = clock()
        self.lock = threading.Lock()
        self.bar = None
        self.task = None
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None
        if terminal:
            self._start_bar()
        elif every > 0 and total:
            self.ticker = threading.Thread(target=self._tick, daemon=True)
            self.ticker.start()

    def _tick(self) -> None:
        """Plain mode: a summary line every ``every`` seconds, also while nothing finishes."""
        while not self.stop.wait(self.every):
            with self.lock:
                if self.done < self.total:
                    self.log(self.summary())

    # ------------------------------------------------------------------ the terminal bar
    def _start_bar(self) -> None:
        from rich import progress as rp
        from rich.console import Console

        BarColumn, MofNCompleteColumn, TextColumn = (
            rp.BarColumn,
            rp.MofNCompleteColumn,
            rp.TextColumn,
        )
        TimeElapsedColumn, TimeRemainingColumn = rp.TimeElapsedColumn, rp.TimeRemainingColumn
        self.bar = rp.Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.unit),
            TextColumn("[red]{task.fields[failed]}"),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            TextColumn("elapsed,"),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=Console(stderr=True),
            transient=False,
        )
        self.task = self.bar.add_task(
            "grading" if self.unit == "students" else "running",
            total=self.total,
            failed=self._counts(),
            note="",
        )
        self.bar.start()

    def _counts(self) -> str:
        text = f"{self.failed} {self.failures_name}"
        if self.flags_name and self.flagged:
            text += f", {self.flagged} {self.flags_name}"
        return text

    # ------------------------------------------------------------------ what callers use
    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(summary=exc[0] is None)

    def print(self, line: str) -> None:
        """A line for the reader (above the bar on a terminal)."""
        if self.bar is not None:
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self.log(line)

    def note(self, text: str) -> None:
        """What is running now (e.g. "03_cnn: cell 12/40"): on the bar only."""
        self.note_text = text
        if self.bar is not None:
            self.bar.update(self.task, note=text)

    def advance(self, line: str | None = None, *, failed: bool = False, flagged: bool = False):
        with self.lock:
            self.done += 1
            self.failed += bool(failed)
            self.flagged += bool(flagged)
            if line:
                self.print(line)
            if self.bar is not None:
                self.bar.update(self.task, advance=1, failed=self._counts())

    def left(self) -> float | None:
        """Seconds left, from the rate so far (None before the first item is done)."""
        if not self.done:
            return None
        return (self.clock() - self.start) / self.done * (self.total - self.done)

    def summary(self) -> str:
        elapsed = self.clock() - self.start
        text = f"progress: {self.done}/{self.total} {self.unit} done, {self._counts()}; "
        text += f"{_duration(elapsed)} so far"
        left = self.left()
        if self.done < self.total and left is not None:
            text += f", about {_duration(left)} left"
        return text

    def close(self, summary: bool = True) -> None:
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join(timeout=5)
            self.ticker = None
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        elif summary and self.total:
            self.log(self.summary())
