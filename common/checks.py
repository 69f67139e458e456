"""Assertion helpers for check cells.

Each helper raises :class:`CheckFailure` (an ``AssertionError``) whose message says what was
checked, what was expected, what was received, and a hint; on success it prints one line
``✓ <what>`` so the student sees at once what passed.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

# When set, every helper below appends one JSON line per check to this file: {"what",
# "expected", "received", "passed"}. `make verify-full` (tools/verify_full.py) reads it to
# write the table of thresholds and values; nothing is written when it is unset.
RECORD_ENV = "LAB_CHECK_RECORD"


class CheckFailure(AssertionError):
    """A check did not hold; the message says expected, received and a hint."""


def _record(what: str, expected: str | None, received: str | None, ok: bool) -> None:
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    line = {"what": what, "expected": expected, "received": received, "passed": ok}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")


def _fail(what: str, expected: str, received: str, hint: str = "") -> None:
    _record(what, expected, received, False)
    lines = [f"{what}", f"  expected: {expected}", f"  received: {received}"]
    if hint:
        lines.append(f"  hint: {hint}")
    raise CheckFailure("\n".join(lines))


_CALL_RE = re.compile(r"([A-Za-z_][\w.]*)\(")


def _none_hint(what: str) -> str:
    """The hint for a ``None`` received: a function that does not ``return`` its value is the
    usual cause (checks call the student's functions), so say so, naming the call when
    ``what`` shows one (``"rnn_forward(x, h0) output"``)."""
    call = _CALL_RE.search(what)
    if call:
        return f"{call.group(1)}(...) returned None: does it end with `return <the value>`?"
    return (
        "if it comes from your function, end the function with `return <the value>` "
        "(a function without `return` gives None)"
    )


def passed(what: str) -> None:
    _record(what, None, None, True)
    print(f"✓ {what}")


def _describe(x: Any) -> str:
    arr = np.asarray(x)
    if arr.ndim == 0:
        return repr(arr.item())
    body = np.array2string(arr, precision=5, threshold=12, edgeitems=3)
    return f"array of shape {arr.shape}, dtype {arr.dtype}: {body}"


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def check_shape(
    x: Any, expected: tuple[int | None, ...], what: str = "shape", hint: str = ""
) -> None:
    """``x.shape`` equals ``expected``; ``None`` in ``expected`` matches any size."""
    if x is None:
        _fail(what, f"an array of shape {tuple(expected)}", "None", hint or _none_hint(what))
    shape = tuple(getattr(x, "shape", np.shape(x)))
    ok = len(shape) == len(expected) and all(e is None or e == s for s, e in zip(shape, expected))
    if not ok:
        _fail(what, f"shape {tuple(expected)}", f"shape {shape}", hint)
    passed(what)


def check_close(
    actual: Any,
    expected: Any,
    what: str = "values",
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str = "",
) -> None:
    """``actual`` matches ``expected`` elementwise (``np.testing.assert_allclose`` semantics)."""
    if actual is None:
        _fail(what, _describe(_to_numpy(expected)), "None", hint or _none_hint(what))
    a = _to_numpy(actual).astype("float64")
    e = _to_numpy(expected).astype("float64")
    if a.shape != e.shape:
        _fail(what, f"shape {e.shape}", f"shape {a.shape}", hint or "check the axes of your result")
    if not np.all(np.isfinite(a)) and np.all(np.isfinite(e)):
        _fail(what, _describe(e), _describe(a) + " (contains NaN or inf)", hint)
    if not np.allclose(a, e, rtol=rtol, atol=atol):
        diff = np.abs(a - e)
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
        _fail(
            what,
            _describe(e),
            f"{_describe(a)}\n  largest difference {diff.max():.3g} at index {idx} "
            f"(tolerance rtol={rtol:g}, atol={atol:g})",
            hint,
        )
    passed(what)


def check_equal(actual: Any, expected: Any, what: str = "value", hint: str = "") -> None:
    """``actual == expected`` (arrays compared elementwise, exactly)."""
    if actual is None and expected is not None:
        _fail(what, _describe(_to_numpy(expected)), "None", hint or _none_hint(what))
    a, e = _to_numpy(actual), _to_numpy(expected)
    same = a.shape == e.shape and bool(np.all(a == e))
    if not same:
        _fail(what, _describe(e), _describe(a), hint)
    passed(what)


def check_between(
    value: Any,
    low: float | None = None,
    high: float | None = None,
    what: str = "value",
    hint: str = "",
) -> None:
    """``low <= value <= high`` (either bound may be ``None``)."""
    if value is None:
        _fail(what, _range(low, high), "None", hint or _none_hint(what))
    v = float(_to_numpy(value))
    if not np.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
        _fail(what, _range(low, high), f"{v:.6g}", hint)
    _record(what, _range(low, high), f"{v:.4g}", True)
    print(f"✓ {what} = {v:.4g} ({_range(low, high)})")


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    if low is not None:
        return f"at least {low:g}"
    if high is not None:
        return f"at most {high:g}"
    return "a finite number"


def check_type(
    obj: Any, cls: type | tuple[type, ...], what: str = "object", hint: str = ""
) -> None:
    """``isinstance(obj, cls)``."""
    if not isinstance(obj, cls):
        names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        if obj is None:
            hint = hint or _none_hint(what)
        _fail(what, f"an instance of {names}", f"{type(obj).__name__}: {obj!r:.80}", hint)
    passed(what)


def check_true(
    condition: Any, what: str, expected: str = "True", received: str = "False", hint: str = ""
) -> None:
    """A condition that has no better helper; say in words what was expected and received."""
    if not bool(condition):
        _fail(what, expected, received, hint)
    passed(what)


def run_student(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, run where the student's code runs; returns its result.

    In a notebook that is right here. When an instructor grades, the check cells run in a
    separate judge process that reaches the student's functions and objects only through a
    link to the student's kernel (``tools/grading/README.md``); there the grader swaps this
    function for one that runs ``fn`` inside that kernel and sends the result back by value.
    A check uses it for work that must happen beside the student's code, such as tracing the
    student's function with ``tf.function``.
    """
    return fn(*args, **kwargs)
