"""common.data spoken_digit (lab 10): the synthesiser, the digit-string joiner, the tfds path."""

from __future__ import annotations

import numpy as np
import pytest

from common import data
from common.data import speech


def test_synthetic_digits_shapes_dtypes_and_speakers():
    waves, digits, who = data.synthetic_spoken_digits(40, speakers=[3, 5], seed=1)
    assert len(waves) == 40 and digits.shape == (40,) and who.shape == (40,)
    assert digits.dtype == np.int64 and who.dtype == np.int64
    assert set(who.tolist()) == {3, 5} and digits.min() >= 0 and digits.max() <= 9
    seconds = np.array([len(w) for w in waves]) / data.SPEECH_RATE
    assert seconds.min() > 0.15 and seconds.max() < 0.8, seconds
    for w in waves:
        assert w.dtype == np.float32 and w.ndim == 1
        assert 0.25 < np.abs(w).max() < 1.1  # loudness 0.3–1.0 plus the recording noise


def test_synthetic_digits_are_deterministic_and_vary_with_the_seed():
    a = data.synthetic_spoken_digits(6, speakers=[0, 1], seed=4)
    b = data.synthetic_spoken_digits(6, speakers=[0, 1], seed=4)
    c = data.synthetic_spoken_digits(6, speakers=[0, 1], seed=5)
    for u, v in zip(a[0], b[0]):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a[1], b[1])
    assert not all(len(u) == len(v) and np.array_equal(u, v) for u, v in zip(a[0], c[0]))


def _band_energies(wave: np.ndarray, bands: int = 24) -> np.ndarray:
    power = np.abs(np.fft.rfft(wave, n=8192)) ** 2
    return np.log(np.array([p.sum() for p in np.array_split(power, bands)]) + 1e-9)


def test_digits_are_recognisable_across_unseen_voices():
    """A nearest-centroid classifier of average spectra, trained on some voices, reads others.

    The stand-in is only useful if the digits differ by their sound, consistently across
    speakers: far above chance (0.1) on voices it never saw.
    """
    train_w, train_d, _ = data.synthetic_spoken_digits(300, speakers=range(6), seed=0)
    test_w, test_d, _ = data.synthetic_spoken_digits(100, speakers=[6, 7], seed=1)
    feats = np.stack([_band_energies(w) for w in train_w])
    mean, std = feats.mean(0), feats.std(0)
    centroids = np.stack([((feats - mean) / std)[train_d == d].mean(0) for d in range(10)])
    test = (np.stack([_band_energies(w) for w in test_w]) - mean) / std
    guess = np.argmin(((test[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (guess == test_d).mean() > 0.35


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be an integer ≥ 1, received 0"),
        ({"n": 1.5}, "n must be an integer ≥ 1"),
        ({"n": 2, "seed": -1}, "seed must be an integer ≥ 0, received -1"),
        ({"n": 2, "rate": 4000}, "rate must be an integer ≥ 8000, received 4000"),
        ({"n": 2, "speakers": []}, "speakers must be a non-empty list of integer ids"),
        ({"n": 2, "speakers": [-1]}, "speakers must be a non-empty list of integer ids ≥ 0"),
        ({"n": 2, "speakers": ["a"]}, "speakers must be a non-empty list"),
    ],
)
def test_synthetic_digits_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.synthetic_spoken_digits(**kwargs)


def _constant_waves() -> tuple[list[np.ndarray], np.ndarray]:
    """Ten "utterances" of different lengths whose every sample is digit + 1."""
    return [np.full(50 + 10 * d, d + 1.0, dtype="float32") for d in range(10)], np.arange(10)


def _read_back(row: np.ndarray) -> list[int]:
    """The digits of a noiseless string of :func:`_constant_waves`, from its non-zero runs."""
    on = np.flatnonzero(row != 0)
    runs = np.split(on, np.flatnonzero(np.diff(on) > 1) + 1)
    return [int(row[r[0]]) - 1 for r in runs if len(r)]


def test_strings_shapes_padding_and_contents():
    waves, digits = _constant_waves()
    x, y, lengths = data.spoken_digit_strings(
        waves, digits, n=60, min_len=1, max_len=4, seed=2, rate=1000, pause=(0.01, 0.03), noise=0
    )
    assert x.dtype == np.float32 and x.ndim == 2 and len(x) == 60
    assert y.shape == (60, 4) and y.dtype == np.int32 and lengths.dtype == np.int32
    assert set(np.unique(lengths)) == {1, 2, 3, 4}
    for row, label, length in zip(x, y, lengths):
        assert (label[length:] == data.DIGIT_STRING_PAD).all()
        assert _read_back(row) == label[:length].tolist()
        # every utterance is pasted whole, and after the last one there is a pause of silence
        assert (row != 0).sum() == sum(len(waves[d]) for d in label[:length])
    last_sound = max(np.flatnonzero(row != 0)[-1] for row in x)
    assert x.shape[1] == last_sound + 1 + 30  # the longest string, then pause[1] of silence


def test_strings_pauses_stay_within_bounds_and_noise_covers_the_canvas():
    waves, digits = _constant_waves()
    x, _, _ = data.spoken_digit_strings(
        waves, digits, n=30, min_len=3, max_len=3, seed=1, rate=1000, pause=(0.02, 0.05), noise=0
    )
    for row in x:
        on = np.flatnonzero(row != 0)
        gaps = np.diff(on)[np.diff(on) > 1] - 1
        assert len(gaps) == 2 and gaps.min() >= 20 and gaps.max() <= 50
        assert on[0] <= 50  # lead-in at most pause[1]
    noisy, _, _ = data.spoken_digit_strings(waves, digits, n=3, rate=1000, noise=0.01)
    assert (noisy != 0).all() and 0.005 < noisy[:, -10:].std() < 0.02


def test_strings_are_deterministic_and_cut_long_utterances():
    waves, digits = _constant_waves()
    a = data.spoken_digit_strings(waves, digits, n=10, seed=3, rate=1000)
    b = data.spoken_digit_strings(waves, digits, n=10, seed=3, rate=1000)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    x, y, lengths = data.spoken_digit_strings(
        waves, digits, n=10, seed=3, rate=1000, noise=0, max_digit_samples=60
    )
    for row, label, length in zip(x, y, lengths):
        assert (row != 0).sum() == sum(min(60, 50 + 10 * d) for d in label[:length])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be an integer ≥ 1, received 0"),
        ({"min_len": 0}, "min_len must be an integer ≥ 1"),
        (
            {"min_len": 3, "max_len": 2},
            r"max_len \(≥ min_len=3\) must be an integer ≥ 3, received 2",
        ),
        ({"pause": (0.2, 0.1)}, r"pause must be \(low, high\) seconds with 0 ≤ low ≤ high"),
        ({"noise": -0.1}, "noise must be ≥ 0, received -0.1"),
        ({"max_digit_samples": 0}, "max_digit_samples must be an integer ≥ 1"),
    ],
)
def test_strings_reject_bad_arguments(kwargs, message):
    waves, digits = _constant_waves()
    with pytest.raises(ValueError, match=message):
        data.spoken_digit_strings(waves, digits, **({"n": 2} | kwargs))


def test_strings_reject_bad_waves_and_digits():
    waves, digits = _constant_waves()
    with pytest.raises(ValueError, match="waves must be a non-empty sequence of non-empty 1-D"):
        data.spoken_digit_strings([], [], n=2)
    with pytest.raises(ValueError, match="waves must be a non-empty sequence"):
        data.spoken_digit_strings([np.zeros((3, 3))], [1], n=2)
    with pytest.raises(ValueError, match="digits must be 10 integers, one per wave"):
        data.spoken_digit_strings(waves, digits[:9], n=2)
    with pytest.raises(ValueError, match="digits must be 0–9, received values 0…10"):
        data.spoken_digit_strings(waves, digits + np.eye(10, dtype=int)[-1], n=2)


def test_speaker_split_keeps_test_speakers_unseen():
    speakers = np.array(["theo", "jackson", "george", "theo", "nicolas", "lucas", "george"])
    masks = speech._speaker_split(speakers)
    assert speakers[masks["test"]].tolist() == ["theo", "theo"]
    assert speakers[masks["validation"]].tolist() == ["nicolas"]
    assert set(speakers[masks["train"]]) == {"george", "jackson", "lucas"}
    assert (masks["train"] ^ masks["validation"] ^ masks["test"]).all()  # each in exactly one
    with pytest.raises(ValueError, match="at least 3 speakers"):
        speech._speaker_split(np.array(["a", "b", "a"]))


def test_smoke_stand_in_shapes_source_and_speakers(capsys):
    d = data.load("spoken_digit", profile="smoke")
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (640, 128, 128)
    for x, y in (d.split(s) for s in data.SPLITS):
        assert x.dtype == np.float32 and x.ndim == 2 and 1.0 < x.shape[1] / data.SPEECH_RATE < 2.5
        assert y.shape == (len(x), data.SPEECH_MAX_LEN) and y.dtype == np.int32
        assert (y[:, 0] >= 0).all() and y.max() <= 9
    assert d.class_names == [str(i) for i in range(10)]
    assert "smoke stand-in" in d.source and "not recordings" in d.source
    assert d.title == "spoken_digit (smoke stand-in)"
    assert "smoke stand-in" in capsys.readouterr().out
    # the three splits are spoken by disjoint voices
    assert set(speech._SMOKE_SPEAKERS["test"]).isdisjoint(speech._SMOKE_SPEAKERS["train"])
    assert set(speech._SMOKE_SPEAKERS["validation"]).isdisjoint(speech._SMOKE_SPEAKERS["train"])


def test_full_profile_loads_through_tfds(monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(speech, "_FULL_SIZES", {"train": 20, "validation": 5, "test": 5})
    with tfds.testing.mock_data(num_examples=12):  # random audio and random file names
        d = data.load("spoken_digit", profile="full", verbose=False)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (20, 5, 5)
    assert d.x_train.dtype == np.float32 and np.abs(d.x_train).max() <= 0.95  # peak-normalised
    assert d.y_train.shape == (20, data.SPEECH_MAX_LEN) and d.y_train.max() <= 9
    assert "tensorflow-datasets 'spoken_digit'" in d.source and "speakers train" in d.source
    assert d.title == "spoken_digit"


def test_full_profile_failure_is_actionable(monkeypatch):
    import tensorflow_datasets as tfds

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(data.DatasetUnavailableError, match="LAB_PROFILE=smoke.*make data"):
        data.load("spoken_digit", profile="full", verbose=False)
