"""Human-written dates → ISO dates (lab 07), generated offline.

Everything is generated with the standard library; month and weekday names are spelled here
rather than taken from ``strftime`` (``%b``, ``%A`` depend on the machine's locale).
"""

from __future__ import annotations

import datetime as _dt
import random as _random
from collections.abc import Callable, Sequence

import numpy as np

from .registry import check_count as _check_count

MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Two-digit years are read with the POSIX pivot (69–99 → 19xx, 00–68 → 20xx); keeping every
# date inside 1970–2068 makes "11/21/26" unambiguous.
DATE_RANGE = (_dt.date(1970, 1, 1), _dt.date(2068, 12, 31))


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _mon(d: _dt.date) -> str:
    return MONTH_NAMES[d.month - 1][:3]


# Slashes are always month first (US order), dots always day first: the separator decides.
DATE_FORMATS: dict[str, Callable[[_dt.date], str]] = {
    "d Mon yyyy": lambda d: f"{d.day} {_mon(d)} {d.year}",
    "Weekday, Month d, yyyy": lambda d: (
        f"{WEEKDAY_NAMES[d.weekday()]}, {MONTH_NAMES[d.month - 1]} {d.day}, {d.year}"
    ),
    "mm/dd/yy": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
    "Month d, yyyy": lambda d: f"{MONTH_NAMES[d.month - 1]} {d.day}, {d.year}",
    "d Month yyyy": lambda d: f"{d.day} {MONTH_NAMES[d.month - 1]} {d.year}",
    "Mon d, yyyy": lambda d: f"{_mon(d)} {d.day}, {d.year}",
    "m/d/yyyy": lambda d: f"{d.month}/{d.day}/{d.year}",
    "dd.mm.yyyy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "Dow d Mon yy": lambda d: (
        f"{WEEKDAY_NAMES[d.weekday()][:3]} {d.day} {_mon(d)} {d.year % 100:02d}"
    ),
    "the dth of Month yyyy": lambda d: (
        f"the {_ordinal(d.day)} of {MONTH_NAMES[d.month - 1]} {d.year}"
    ),
    "d mon yy": lambda d: f"{d.day} {_mon(d).lower()} {d.year % 100:02d}",
}


def format_date(day: _dt.date, fmt: str) -> str:
    """Write ``day`` in one of :data:`DATE_FORMATS`, e.g. ``format_date(d, "Mon d, yyyy")``."""
    if fmt not in DATE_FORMATS:
        raise ValueError(
            f"Unknown date format {fmt!r}. Expected one of: {', '.join(map(repr, DATE_FORMATS))}."
        )
    if not isinstance(day, _dt.date):
        raise TypeError(f"Expected a datetime.date, received {type(day).__name__}: {day!r}.")
    return DATE_FORMATS[fmt](day)


def dates(n: int, seed: int = 0, formats: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """``n`` pairs ``(human, iso)`` such as ``("Sat 21 Nov 26", "2026-11-21")``.

    Every pair has a different date (drawn without replacement from :data:`DATE_RANGE`), its
    human form in a format chosen at random from ``formats`` (all of :data:`DATE_FORMATS` by
    default). The same ``(n, seed, formats)`` always gives the same list.

    Raises:
        ValueError: ``n`` is negative or larger than the number of days in the range, ``seed``
            is not an integer, or a format name is unknown.
    """
    total = (DATE_RANGE[1] - DATE_RANGE[0]).days + 1
    n = _check_count("n", n)
    if n > total:
        raise ValueError(
            f"n must be at most {total:,} (one pair per distinct date in "
            f"{DATE_RANGE[0]}…{DATE_RANGE[1]}), received {n:,}."
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, received {seed!r}.")
    names_ = list(DATE_FORMATS) if formats is None else list(formats)
    if not names_:
        raise ValueError("formats must name at least one format, received an empty list.")
    unknown = [f for f in names_ if f not in DATE_FORMATS]
    if unknown:
        raise ValueError(
            f"Unknown date format(s) {unknown}. Expected some of: "
            f"{', '.join(map(repr, DATE_FORMATS))}."
        )
    rng = _random.Random(int(seed))
    offsets = rng.sample(range(total), n)
    pairs = []
    for offset in offsets:
        day = DATE_RANGE[0] + _dt.timedelta(days=offset)
        pairs.append((DATE_FORMATS[rng.choice(names_)](day), day.isoformat()))
    return pairs


def date_splits(
    train: int, validation: int, test: int, seed: int = 0, formats: Sequence[str] | None = None
) -> dict[str, list[tuple[str, str]]]:
    """``{"train": pairs, "validation": pairs, "test": pairs}`` with no date in two splits.

    One call to :func:`dates` draws ``train + validation + test`` distinct dates, then cuts the
    list; so neither an ISO target nor a human string of one split occurs in another.
    """
    sizes = {
        "train": _check_count("train", train, 1),
        "validation": _check_count("validation", validation),
        "test": _check_count("test", test),
    }
    pairs = dates(sum(sizes.values()), seed=seed, formats=formats)
    out, start = {}, 0
    for split, size in sizes.items():
        out[split] = pairs[start : start + size]
        start += size
    return out
