"""Messages in grades.csv (tools/grading/report.py `_cap`): cut in the expected part, never
in the student's received value."""

from __future__ import annotations

import numpy as np
import pytest

from common import checks
from tools.grading.report import MESSAGE_LIMIT, _cap


def failure(actual, expected, **kwargs) -> str:
    with pytest.raises(checks.CheckFailure) as err:
        checks.check_close(actual, expected, **kwargs)
    return f"CheckFailure: {err.value}"


@pytest.mark.parametrize(
    "actual, expected",
    [
        (np.ones(100), np.arange(100.0)),
        (np.ones((40, 40)) * 2, np.arange(1600.0).reshape(40, 40)),
        (np.ones(3), np.linspace(0, 1, 3) * 1e-9 + 7),
    ],
    ids=["1d", "2d", "short"],
)
def test_long_message_keeps_the_received_value_whole(actual, expected):
    what = "the gradient of the loss with respect to every weight of the dense layer"
    message = failure(actual, expected, what=what, hint="use tape.gradient(loss, variables)")
    capped = _cap(message)
    assert len(capped) <= MESSAGE_LIMIT and "\n" not in capped
    received = message[message.index("received: ") :].split("\n  hint:")[0]
    received_line = "; ".join(line.strip() for line in received.splitlines() if line.strip())
    if len(received_line) < MESSAGE_LIMIT - 40:
        assert received_line in capped  # the student's value, to its last character
    assert capped.startswith("CheckFailure: ")
    assert "received: array of shape" in capped


def test_short_message_unchanged_and_plain_text_cut_at_the_end():
    assert _cap("CheckFailure: x\n  expected: 1\n  received: 2") == (
        "CheckFailure: x; expected: 1; received: 2"
    )
    long = "NameError: " + "x" * 400
    assert _cap(long) == long[: MESSAGE_LIMIT - 1] + "…"
