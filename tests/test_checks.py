"""common.checks: pass quietly with a ✓ line, fail with expected / received / hint."""

from __future__ import annotations

import numpy as np
import pytest

from common import checks


def test_check_close_passes_and_prints(capsys):
    checks.check_close([1.0, 2.0], np.array([1.0, 2.0 + 1e-9]), "two values")
    assert "✓ two values" in capsys.readouterr().out


def test_check_close_failure_says_expected_received_and_where():
    with pytest.raises(checks.CheckFailure) as err:
        checks.check_close([1.0, 2.5], [1.0, 2.0], "my values", hint="look at index 1")
    text = str(err.value)
    assert "my values" in text and "expected:" in text and "received:" in text
    assert "largest difference 0.5 at index (1,)" in text and "hint: look at index 1" in text


def test_check_close_shape_mismatch_and_none_and_nan():
    with pytest.raises(AssertionError, match=r"shape \(3,\)"):
        checks.check_close(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError, match="received: None"):
        checks.check_close(None, np.zeros(3))
    with pytest.raises(AssertionError, match="NaN or inf"):
        checks.check_close([np.nan], [1.0])


def test_check_close_accepts_tensors():
    import tensorflow as tf

    checks.check_close(tf.constant([1.0, 2.0]), [1.0, 2.0])


def test_check_shape_with_wildcards():
    checks.check_shape(np.zeros((4, 3)), (None, 3))
    with pytest.raises(
        AssertionError, match=r"(?s)expected: shape \(4, 2\).*received: shape \(4, 3\)"
    ):
        checks.check_shape(np.zeros((4, 3)), (4, 2))
    with pytest.raises(AssertionError, match="received: None"):
        checks.check_shape(None, (1,))


def test_check_equal_and_between_and_type_and_true():
    checks.check_equal(3, 3)
    with pytest.raises(AssertionError, match="expected: 4"):
        checks.check_equal(3, 4)
    checks.check_between(0.9, low=0.8, what="accuracy")
    with pytest.raises(AssertionError, match="(?s)at least 0.95.*received: 0.9"):
        checks.check_between(0.9, low=0.95, what="accuracy")
    with pytest.raises(AssertionError, match="between 0 and 1"):
        checks.check_between(float("nan"), 0, 1)
    with pytest.raises(AssertionError, match="an instance of int or float"):
        checks.check_type("x", (int, float))
    with pytest.raises(AssertionError, match="(?s)expected: sorted.*received: unsorted"):
        checks.check_true(False, "order", "sorted", "unsorted")


def test_check_failure_is_an_assertion_error():
    assert issubclass(checks.CheckFailure, AssertionError)
