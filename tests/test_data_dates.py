"""common.data dates generator and CharVocab (lab 07): formats, determinism, splits, errors."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from common import data

DAY = dt.date(2026, 11, 21)  # a Saturday


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("d Mon yyyy", "21 Nov 2026"),
        ("Weekday, Month d, yyyy", "Saturday, November 21, 2026"),
        ("mm/dd/yy", "11/21/26"),
        ("Month d, yyyy", "November 21, 2026"),
        ("d Month yyyy", "21 November 2026"),
        ("Mon d, yyyy", "Nov 21, 2026"),
        ("m/d/yyyy", "11/21/2026"),
        ("dd.mm.yyyy", "21.11.2026"),
        ("Dow d Mon yy", "Sat 21 Nov 26"),
        ("the dth of Month yyyy", "the 21st of November 2026"),
        ("d mon yy", "21 nov 26"),
    ],
)
def test_every_format_writes_the_documented_example(fmt, expected):
    assert data.format_date(DAY, fmt) == expected


def test_formats_pad_and_ordinals():
    early = dt.date(1970, 3, 2)
    assert data.format_date(early, "mm/dd/yy") == "03/02/70"
    assert data.format_date(early, "m/d/yyyy") == "3/2/1970"
    assert data.format_date(early, "dd.mm.yyyy") == "02.03.1970"
    assert data.format_date(dt.date(2008, 1, 5), "Dow d Mon yy") == "Sat 5 Jan 08"
    ordinals = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th"}
    ordinals |= {21: "21st", 22: "22nd", 23: "23rd", 31: "31st"}
    for day, word in ordinals.items():
        text = data.format_date(dt.date(2000, 1, day), "the dth of Month yyyy")
        assert text == f"the {word} of January 2000"


def test_two_digit_years_follow_the_posix_pivot():
    for human, iso in data.dates(3000, seed=3, formats=["mm/dd/yy"]):
        parsed = dt.datetime.strptime(human, "%m/%d/%y").date()  # %y: 69–99 → 19xx
        assert parsed.isoformat() == iso


def test_pairs_are_consistent_and_in_range():
    low, high = (d.isoformat() for d in data.DATE_RANGE)
    pairs = data.dates(500, seed=1)
    assert len(pairs) == 500
    formats_seen = set()
    for human, iso in pairs:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", iso) and low <= iso <= high
        day = dt.date.fromisoformat(iso)
        matches = [f for f in data.DATE_FORMATS if data.format_date(day, f) == human]
        assert matches, f"{human!r} is not {iso} in any format"
        formats_seen.update(matches)
    assert formats_seen == set(data.DATE_FORMATS)  # 500 draws reach every format


def test_same_seed_same_pairs_other_seed_other_pairs():
    assert data.dates(200, seed=7) == data.dates(200, seed=7)
    assert data.dates(200, seed=7) != data.dates(200, seed=8)
    assert data.date_splits(50, 10, 10, seed=2) == data.date_splits(50, 10, 10, seed=2)


def test_dates_are_distinct_and_formats_can_be_restricted():
    pairs = data.dates(5000, seed=0, formats=["d Mon yyyy", "dd.mm.yyyy"])
    isos = [iso for _, iso in pairs]
    assert len(set(isos)) == len(isos)
    assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}|\d\d\.\d\d\.\d{4}", h) for h, _ in pairs)


def test_splits_have_the_sizes_asked_for_and_no_leakage():
    splits = data.date_splits(3000, 400, 500, seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 3000, "validation": 400, "test": 500}
    for key in ("human", "iso"):
        column = 0 if key == "human" else 1
        sets = {name: {p[column] for p in pairs} for name, pairs in splits.items()}
        assert not sets["train"] & sets["validation"], key
        assert not sets["train"] & sets["test"], key
        assert not sets["validation"] & sets["test"], key


def test_every_date_of_the_range_can_be_drawn_once():
    total = (data.DATE_RANGE[1] - data.DATE_RANGE[0]).days + 1
    pairs = data.dates(total, seed=0, formats=["m/d/yyyy"])
    assert len({iso for _, iso in pairs}) == total
    assert data.dates(0) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": -1}, r"n must be an integer ≥ 0, received -1"),
        ({"n": 2.5}, r"n must be an integer ≥ 0, received 2\.5"),
        ({"n": True}, r"n must be an integer"),
        ({"n": 10**6}, r"n must be at most 36,\d{3} .*received 1,000,000"),
        ({"n": 3, "seed": "zero"}, r"seed must be an integer, received 'zero'"),
        (
            {"n": 3, "formats": ["dd/mm/yyyy"]},
            r"Unknown date format\(s\) \['dd/mm/yyyy'\]\. Expected",
        ),
        ({"n": 3, "formats": []}, r"formats must name at least one format"),
    ],
)
def test_dates_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.dates(**kwargs)


def test_splits_and_format_date_bad_arguments():
    with pytest.raises(ValueError, match=r"train must be an integer ≥ 1, received 0"):
        data.date_splits(0, 10, 10)
    with pytest.raises(ValueError, match=r"validation must be an integer ≥ 0, received -5"):
        data.date_splits(10, -5, 10)
    with pytest.raises(ValueError, match=r"Unknown date format 'yyyy'\. Expected one of: 'd Mon"):
        data.format_date(DAY, "yyyy")
    with pytest.raises(TypeError, match=r"Expected a datetime\.date, received str"):
        data.format_date("2026-11-21", "d Mon yyyy")


# --------------------------------------------------------------------------- CharVocab


def test_vocab_specials_come_first_and_characters_sorted():
    vocab = data.CharVocab.from_texts(["2026-11-21", "1999-01-01"])
    assert vocab.tokens == ["<PAD>", "<START>", "<END>", "-", "0", "1", "2", "6", "9"]
    assert (vocab.pad_id, vocab.start_id, vocab.end_id) == (0, 1, 2)
    assert len(vocab) == 9 and "<PAD> <START> <END>" in repr(vocab)


def test_vocab_round_trip_on_dates():
    pairs = data.dates(300, seed=4)
    humans = [h for h, _ in pairs]
    vocab = data.CharVocab.from_texts(humans)
    for text in humans:
        assert vocab.decode(vocab.encode(text)) == text
        assert vocab.decode(vocab.encode(text, start=True, end=True)) == text
    batch = vocab.encode_batch(humans, start=True, end=True)
    assert batch.dtype == np.int32 and batch.shape == (300, max(map(len, humans)) + 2)
    assert (batch[:, 0] == vocab.start_id).all()
    assert [vocab.decode(row) for row in batch] == humans


def test_encode_batch_pads_at_the_end():
    vocab = data.CharVocab("ab")
    batch = vocab.encode_batch(["a", "abba"], length=6, end=True)
    np.testing.assert_array_equal(batch, [[3, 2, 0, 0, 0, 0], [3, 4, 4, 3, 2, 0]])
    assert vocab.encode_batch([], length=3).shape == (0, 3)


def test_decode_stops_at_end_unless_asked_not_to():
    vocab = data.CharVocab("ab")
    assert vocab.decode([1, 3, 2, 4, 4]) == "a"
    assert vocab.decode([1, 3, 2, 4, 4], stop_at_end=False) == "abb"
    assert vocab.decode(np.array([[3, 0, 4]])) == "ab"  # any shape, PAD skipped


def test_vocab_errors_say_what_was_expected():
    vocab = data.CharVocab.from_texts(["0123456789-"])
    with pytest.raises(
        ValueError, match=r"Unknown character '/' at position 2 of '11/21'\. Expected"
    ):
        vocab.encode("11/21")
    with pytest.raises(ValueError, match=r"Unknown token id 99\. Expected ids 0 … 13"):
        vocab.decode([3, 99])
    with pytest.raises(ValueError, match=r"Unknown token id -1"):
        vocab.decode([-1])
    with pytest.raises(ValueError, match=r"length=3 is too short: the longest encoded text has 5"):
        vocab.encode_batch(["123", "12345"], length=3)
    with pytest.raises(ValueError, match=r"single characters, received \['ab'\]"):
        data.CharVocab(["a", "ab"])
    with pytest.raises(TypeError, match=r"encode expects a string, received int"):
        vocab.encode(12)
    with pytest.raises(TypeError, match=r"one string"):
        data.CharVocab.from_texts("2026-11-21")
    with pytest.raises(TypeError, match=r"one string"):
        vocab.encode_batch("2026")
