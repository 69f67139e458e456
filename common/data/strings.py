"""Images of digit strings of varying length for a CTC recogniser (lab 09).

Single-digit images (MNIST, or scikit-learn's digits) are drawn at random and pasted side by
side on a blank canvas of one fixed width, so every string image of a call has the same shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIGIT_STRING_PAD = -1  # the value that pads label rows after a string's last digit


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def digit_string_width(digit_width: int, max_len: int, gap: int = 0) -> int:
    """Canvas width of :func:`digit_strings`: room for ``max_len`` digits and the widest gaps."""
    return max_len * digit_width + (max_len - 1) * gap


def digit_strings(
    images: Any,
    labels: Any,
    n: int,
    min_len: int = 1,
    max_len: int = 5,
    seed: int = 0,
    gap: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` images of digit strings built from single-digit ``images``.

    Each string draws a length uniformly from ``min_len … max_len``, then that many digit images
    (with replacement) from ``images``. The digits are pasted left to right with a random gap of
    ``0 … gap`` background pixels between neighbours, and the whole string starts at a random
    offset on a canvas :func:`digit_string_width` pixels wide. The background is 0.

    Args:
        images: ``(m, h, w)`` or ``(m, h, w, c)`` digit images, background 0.
        labels: ``(m,)`` integer class of each image (``0 … 9`` for digits).
        n: how many strings to make (≥ 1).
        min_len, max_len: shortest and longest string (1 ≤ min_len ≤ max_len).
        seed: the same arguments and seed always give the same strings.
        gap: the largest extra spacing between two digits, in pixels (≥ 0).

    Returns:
        ``(x, y, lengths)``: ``x`` float32 ``(n, h, width)`` or ``(n, h, width, c)``;
        ``y`` int32 ``(n, max_len)``, the digits of each string followed by
        :data:`DIGIT_STRING_PAD` (-1); ``lengths`` int32 ``(n,)``, the number of digits.

    Raises:
        ValueError: an argument has the wrong shape, type or range (the message says which).
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must be shaped (m, h, w) or (m, h, w, channels), received shape {images.shape}."
        )
    if len(images) == 0:
        raise ValueError("images is empty: expected at least one digit image.")
    if labels.shape != (len(images),):
        raise ValueError(
            f"labels must be shaped ({len(images)},), one per image, received shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, received dtype {labels.dtype}.")
    if labels.min() < 0:
        raise ValueError(
            f"labels must be ≥ 0 ({DIGIT_STRING_PAD} pads the label rows), received {labels.min()}."
        )
    for name, value, low in (("n", n, 1), ("min_len", min_len, 1), ("gap", gap, 0)):
        if not _is_int(value) or value < low:
            raise ValueError(f"{name} must be an integer ≥ {low}, received {value!r}.")
    if not _is_int(max_len) or max_len < min_len:
        raise ValueError(f"max_len must be an integer ≥ min_len={min_len}, received {max_len!r}.")
    if not _is_int(seed):
        raise ValueError(f"seed must be an integer, received {seed!r}.")

    rng = np.random.default_rng(int(seed))
    h, w = images.shape[1:3]
    width = digit_string_width(w, max_len, gap)
    x = np.zeros((n, h, width) + images.shape[3:], dtype="float32")
    y = np.full((n, max_len), DIGIT_STRING_PAD, dtype="int32")
    lengths = rng.integers(min_len, max_len + 1, size=n).astype("int32")
    for i, length in enumerate(lengths):
        picks = rng.integers(0, len(images), size=length)
        gaps = rng.integers(0, gap + 1, size=length - 1)
        used = length * w + int(gaps.sum())
        col = int(rng.integers(0, width - used + 1))
        for k, j in enumerate(picks):
            x[i, :, col : col + w] = images[j]
            col += w + (int(gaps[k]) if k < length - 1 else 0)
        y[i, :length] = labels[picks]
    return x, y, lengths
