"""A student's function that forgets `return` gives None: the hint says to `return` it."""

from __future__ import annotations

import numpy as np
import pytest

from common import checks


@pytest.mark.parametrize(
    "call",
    [
        lambda what: checks.check_close(None, np.zeros(3), what=what),
        lambda what: checks.check_shape(None, (3,), what=what),
        lambda what: checks.check_equal(None, 3, what=what),
        lambda what: checks.check_between(None, 0.0, 1.0, what=what),
        lambda what: checks.check_type(None, int, what=what),
    ],
)
def test_none_from_a_named_call_asks_for_a_return(call):
    with pytest.raises(AssertionError) as err:
        call("rnn_forward(x, h0) output")
    assert "hint: rnn_forward(...) returned None: does it end with `return" in str(err.value)
    with pytest.raises(AssertionError) as err:
        call("the fitted weights")
    assert "end the function with `return <the value>`" in str(err.value)


def test_an_explicit_hint_wins():
    with pytest.raises(AssertionError, match="hint: mine"):
        checks.check_close(None, np.zeros(3), what="f(x)", hint="mine")
