"""common.data digit-string generator (lab 09): shapes, contents, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from common import data


def _glyphs(h: int = 4, w: int = 3, channels: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Ten easy-to-recognise "digit images": image k is filled with the value k + 1."""
    images = np.stack([np.full((h, w), k + 1.0, dtype="float32") for k in range(10)])
    if channels:
        images = images[..., None]
    return images, np.arange(10)


def _read_back(row: np.ndarray, w: int) -> list[int]:
    """Recover the digits of a generated row of ``_glyphs`` from its columns."""
    cols = row[0] if row.ndim == 2 else row[0, :, 0]
    digits, col = [], 0
    while col < len(cols):
        if cols[col] > 0:
            digits.append(int(cols[col]) - 1)
            col += w
        else:
            col += 1
    return digits


def test_shapes_dtypes_and_padding():
    images, labels = _glyphs()
    x, y, lengths = data.digit_strings(images, labels, n=50, min_len=2, max_len=6, seed=0, gap=2)
    width = data.digit_string_width(3, 6, 2)
    assert width == 6 * 3 + 5 * 2
    assert x.shape == (50, 4, width) and x.dtype == np.float32
    assert y.shape == (50, 6) and y.dtype == np.int32
    assert lengths.shape == (50,) and lengths.dtype == np.int32
    assert lengths.min() >= 2 and lengths.max() <= 6
    assert set(np.unique(lengths)) == {2, 3, 4, 5, 6}  # every length occurs in 50 draws
    for row, length in zip(y, lengths):
        assert (row[:length] >= 0).all() and (row[length:] == data.DIGIT_STRING_PAD).all()


def test_channels_are_kept():
    images, labels = _glyphs(channels=True)
    x, _, _ = data.digit_strings(images, labels, n=3, max_len=2)
    assert x.shape == (3, 4, 6, 1)


def test_images_show_the_labelled_digits_in_order():
    images, labels = _glyphs(w=3)
    x, y, lengths = data.digit_strings(images, labels, n=40, min_len=1, max_len=5, seed=3, gap=3)
    for img, row, length in zip(x, y, lengths):
        assert _read_back(img, 3) == row[:length].tolist()
        # every pixel is background or one whole glyph: the sum is the sum of the glyphs
        assert img.sum() == pytest.approx(sum(images[d].sum() for d in row[:length]))


def test_gaps_stay_within_bounds():
    images, labels = _glyphs(w=2)
    x, _, lengths = data.digit_strings(images, labels, n=30, min_len=3, max_len=3, seed=1, gap=4)
    for img in x:
        filled = np.flatnonzero(img[0] > 0)
        spans = np.split(filled, np.flatnonzero(np.diff(filled) > 1) + 1)
        # glyphs with a zero gap merge into one span, so check the blank runs in between
        between = [b[0] - a[-1] - 1 for a, b in zip(spans, spans[1:])]
        assert all(0 < g <= 4 for g in between)
        assert filled[-1] - filled[0] + 1 <= 3 * 2 + 2 * 4


def test_no_gap_places_digits_edge_to_edge():
    images, labels = _glyphs(w=3)
    x, y, _ = data.digit_strings(images, labels, n=5, min_len=4, max_len=4, gap=0)
    assert x.shape[2] == 12  # exactly four glyphs wide, no free space
    for img, row in zip(x, y):
        assert _read_back(img, 3) == row.tolist()


def test_same_seed_same_strings_other_seed_different():
    images, labels = _glyphs()
    a = data.digit_strings(images, labels, n=20, max_len=4, seed=7, gap=1)
    b = data.digit_strings(images, labels, n=20, max_len=4, seed=7, gap=1)
    c = data.digit_strings(images, labels, n=20, max_len=4, seed=8, gap=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])


def test_labels_come_from_the_given_label_array():
    images, _ = _glyphs()
    labels = np.array([3] * 10)  # every image labelled 3
    _, y, lengths = data.digit_strings(images, labels, n=10, max_len=3)
    for row, length in zip(y, lengths):
        assert row[:length].tolist() == [3] * length


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be an integer ≥ 1, received 0"),
        ({"n": 2.5}, "n must be an integer ≥ 1"),
        ({"n": True}, "n must be an integer ≥ 1"),
        ({"min_len": 0}, "min_len must be an integer ≥ 1"),
        ({"min_len": 4, "max_len": 3}, "max_len must be an integer ≥ min_len=4, received 3"),
        ({"max_len": 2.0}, "max_len must be an integer"),
        ({"gap": -1}, "gap must be an integer ≥ 0, received -1"),
        ({"seed": "0"}, "seed must be an integer, received '0'"),
    ],
)
def test_bad_arguments_say_what_was_expected(kwargs, message):
    images, labels = _glyphs()
    args = {"n": 3, "min_len": 1, "max_len": 3} | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        data.digit_strings(images, labels, **args)


def test_bad_images_and_labels():
    images, labels = _glyphs()
    with pytest.raises(ValueError, match=r"images must be shaped \(m, h, w\)"):
        data.digit_strings(images[0], labels, n=2)
    with pytest.raises(ValueError, match="images is empty"):
        data.digit_strings(images[:0], labels[:0], n=2)
    with pytest.raises(ValueError, match=r"labels must be shaped \(10,\), one per image"):
        data.digit_strings(images, labels[:9], n=2)
    with pytest.raises(ValueError, match="labels must be integers, received dtype float"):
        data.digit_strings(images, labels.astype("float32"), n=2)
    with pytest.raises(ValueError, match="labels must be ≥ 0"):
        data.digit_strings(images, labels - 1, n=2)
