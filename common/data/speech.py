"""Spoken digit strings for end-to-end speech recognition (lab 10): ``spoken_digit``.

Full = tensorflow-datasets' ``spoken_digit`` (the Free Spoken Digit Dataset: recordings of single
digits by a few speakers, 8 kHz). Smoke = :func:`synthetic_spoken_digits`, an offline stand-in
from a small source–filter synthesiser. In both, single digits are joined by
:func:`spoken_digit_strings` into strings of a few digits with short random pauses, and the
splits hold **different speakers**, so the test set is spoken by voices the model never heard.

Every string of a split is padded with silence (plus the faint background noise) to one length,
so ``x`` is a ``(n, samples)`` float32 array; ``y`` holds the digits followed by
:data:`~common.data.strings.DIGIT_STRING_PAD` (-1), as for lab 09's images of digit strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..env import Profile
from .registry import Data, import_tfds, register, unavailable
from .registry import check_count as _check_count
from .strings import DIGIT_STRING_PAD

SPEECH_RATE = 8000  # samples per second, FSDD's rate and the stand-in's
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPEECH_MAX_LEN = 3  # digits per string, both profiles
_MAX_DIGIT_SECONDS = 0.8  # full profile: longer FSDD recordings are cut (a few are over 1 s)

# The stand-in's "phonetics": each digit is a list of segments
# (kind, seconds, a, b, c, d, amplitude). kind "v": voiced, formants F1 a→c, F2 b→d (Hz) over the
# segment; "n": noise, a band centred on a Hz, b Hz wide (fricatives, bursts); "s": silence
# (a stop's closure). Rough formant values of the English vowels and consonants involved.
_DIGIT_SEGMENTS: tuple[tuple[tuple[Any, ...], ...], ...] = (
    (  # zero: z-ee-r-oh
        ("n", 0.08, 3400, 900, 0, 0, 0.3),
        ("v", 0.08, 300, 2300, 300, 2200, 1.0),
        ("v", 0.07, 450, 1300, 450, 1300, 0.8),
        ("v", 0.14, 500, 900, 450, 800, 1.0),
    ),
    (  # one: w-uh-n
        ("v", 0.06, 300, 700, 350, 800, 0.7),
        ("v", 0.14, 640, 1200, 620, 1250, 1.0),
        ("v", 0.08, 250, 1700, 250, 1700, 0.4),
    ),
    (  # two: t-oo
        ("s", 0.03, 0, 0, 0, 0, 0.0),
        ("n", 0.03, 3000, 1500, 0, 0, 0.5),
        ("v", 0.20, 320, 1300, 300, 1100, 1.0),
    ),
    (  # three: th-r-ee
        ("n", 0.10, 3000, 2000, 0, 0, 0.15),
        ("v", 0.07, 450, 1300, 400, 1500, 0.8),
        ("v", 0.15, 300, 2300, 280, 2400, 1.0),
    ),
    (  # four: f-aw-r
        ("n", 0.10, 2000, 2500, 0, 0, 0.2),
        ("v", 0.15, 570, 840, 550, 900, 1.0),
        ("v", 0.10, 450, 1300, 450, 1250, 0.8),
    ),
    (  # five: f-ai-v
        ("n", 0.10, 2000, 2500, 0, 0, 0.2),
        ("v", 0.20, 730, 1100, 300, 2200, 1.0),
        ("v", 0.06, 250, 1500, 250, 1500, 0.4),
    ),
    (  # six: s-i-k-s
        ("n", 0.12, 3500, 600, 0, 0, 0.5),
        ("v", 0.10, 400, 2000, 420, 1900, 1.0),
        ("s", 0.04, 0, 0, 0, 0, 0.0),
        ("n", 0.03, 1800, 600, 0, 0, 0.4),
        ("n", 0.10, 3500, 600, 0, 0, 0.5),
    ),
    (  # seven: s-e-v-e-n
        ("n", 0.10, 3500, 600, 0, 0, 0.5),
        ("v", 0.10, 550, 1800, 550, 1750, 1.0),
        ("v", 0.05, 250, 1500, 250, 1500, 0.5),
        ("v", 0.07, 500, 1500, 500, 1500, 0.8),
        ("v", 0.07, 250, 1700, 250, 1700, 0.4),
    ),
    (  # eight: ay-t
        ("v", 0.20, 500, 1800, 300, 2300, 1.0),
        ("s", 0.04, 0, 0, 0, 0, 0.0),
        ("n", 0.03, 3000, 1500, 0, 0, 0.5),
    ),
    (  # nine: n-ai-n
        ("v", 0.07, 250, 1700, 250, 1700, 0.4),
        ("v", 0.20, 730, 1100, 300, 2200, 1.0),
        ("v", 0.08, 250, 1700, 250, 1700, 0.4),
    ),
)
_BANDWIDTHS = (90.0, 110.0, 170.0)  # of F1, F2, F3 (Hz)


def _fade(n: int, rate: int) -> np.ndarray:
    """An amplitude envelope that rises and falls over 8 ms at each end of a segment."""
    ramp = min(n // 2, int(0.008 * rate))
    env = np.ones(n)
    if ramp > 0:
        up = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        env[:ramp], env[n - ramp :] = up, up[::-1]
    return env


def _say_digit(
    digit: int, voice: dict[str, float], rng: np.random.Generator, rate: int
) -> np.ndarray:
    """One utterance of ``digit``: harmonics of a drifting pitch shaped by moving formants."""
    pieces = []
    scale, pitch = voice["formant_scale"], voice["pitch"] * rng.uniform(0.9, 1.1)
    speed = voice["speed"] * rng.uniform(0.85, 1.18)
    for kind, seconds, a, b, c, d, amp in _DIGIT_SEGMENTS[digit]:
        n = max(8, int(seconds * speed * rate))
        if kind == "s":
            pieces.append(np.zeros(n))
            continue
        if kind == "n":
            spectrum = np.fft.rfft(rng.normal(size=n))
            freqs = np.fft.rfftfreq(n, 1.0 / rate)
            spectrum *= np.exp(-0.5 * ((freqs - a * scale) / (0.5 * b)) ** 2)
            noise = np.fft.irfft(spectrum, n)
            pieces.append(amp * noise / (np.abs(noise).max() + 1e-9) * _fade(n, rate))
            continue
        s = np.linspace(0.0, 1.0, n)[:, None]
        f0 = pitch * (1.0 + voice["intonation"] * (0.5 - s[:, 0]))  # falling or rising pitch
        phase = 2 * np.pi * np.cumsum(f0) / rate + rng.uniform(0, 2 * np.pi)
        harmonics = np.arange(1, int(0.48 * rate / pitch) + 1)[None, :]
        freq = harmonics * f0[:, None]
        formants = ((a + (c - a) * s) * scale, (b + (d - b) * s) * scale, 2500.0 * scale + 0 * s)
        gain = sum(
            1.0 / (1.0 + ((freq - f) / bw) ** 2) for f, bw in zip(formants, _BANDWIDTHS)
        ) / np.sqrt(harmonics)
        gain *= freq < 0.48 * rate
        wave = (gain * np.sin(harmonics * phase[:, None])).sum(axis=1)
        pieces.append(amp * wave / (np.abs(wave).max() + 1e-9) * _fade(n, rate))
    out = np.concatenate(pieces)
    out *= rng.uniform(0.3, 1.0) / (np.abs(out).max() + 1e-9)  # loudness
    return out + rng.normal(0.0, rng.uniform(0.002, 0.02), size=len(out))  # recording noise


def synthetic_spoken_digits(
    n: int, speakers: Any = (0,), seed: int = 0, rate: int = SPEECH_RATE
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """``n`` generated utterances of single digits, an offline stand-in for FSDD.

    A source–filter synthesiser: a pitch (90–240 Hz, per speaker, varied per utterance, rising or
    falling) excites formant resonances that move through each digit's vowel and consonant
    patterns (``_DIGIT_SEGMENTS``); fricatives and bursts are band-passed noise, stop closures
    silence. Each speaker (an integer) has its own pitch, vocal-tract length (all formants scaled
    by 0.88–1.15) and speaking rate, drawn from the speaker's id, so the same ids always give the
    same voices; every utterance also varies its pitch, speed (±15 %), loudness and noise. It is
    not speech, only speech-like enough for the same code to run offline.

    Args:
        n: how many utterances (≥ 1); digits and speakers are drawn uniformly.
        speakers: the integer ids (≥ 0) of the voices to draw from.
        seed: the same arguments and seed always give the same utterances.
        rate: samples per second (≥ 8000, so that the formants fit below the Nyquist frequency).

    Returns:
        ``(waves, digits, speaker_ids)``: a list of ``n`` float32 1-D arrays of varying length
        (about 0.3–0.6 s), int64 ``(n,)`` digits and int64 ``(n,)`` speaker ids.

    Raises:
        ValueError: a bad ``n``, ``seed``, ``rate`` or speaker list (the message says which).
    """
    n, seed = _check_count("n", n, 1), _check_count("seed", seed, 0)
    rate = _check_count("rate", rate, 8000)
    ids = np.asarray(speakers)
    if ids.ndim != 1 or len(ids) == 0 or not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0:
        raise ValueError(
            f"speakers must be a non-empty list of integer ids ≥ 0, received {speakers!r}."
        )
    voices = {}
    for sid in np.unique(ids):
        vr = np.random.default_rng([int(sid), 12345])
        voices[int(sid)] = {
            "pitch": vr.uniform(90, 240),
            "formant_scale": vr.uniform(0.88, 1.15),
            "speed": vr.uniform(0.85, 1.15),
            "intonation": vr.uniform(-0.3, 0.3),
        }
    rng = np.random.default_rng(seed)
    digits = rng.integers(0, 10, size=n)
    who = ids[rng.integers(0, len(ids), size=n)].astype("int64")
    waves = [
        _say_digit(int(d), voices[int(s)], rng, rate).astype("float32") for d, s in zip(digits, who)
    ]
    return waves, digits.astype("int64"), who


def spoken_digit_strings(
    waves: Any,
    digits: Any,
    n: int,
    min_len: int = 1,
    max_len: int = SPEECH_MAX_LEN,
    seed: int = 0,
    rate: int = SPEECH_RATE,
    pause: tuple[float, float] = (0.05, 0.15),
    noise: float = 0.003,
    max_digit_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` waveforms of digit strings spoken by joining single-digit ``waves``.

    Each string draws a length uniformly from ``min_len … max_len`` and that many utterances
    (with replacement); it starts after a random lead-in of up to ``pause[1]`` seconds, with a
    pause of ``pause[0] … pause[1]`` seconds between neighbours. All strings of one call are
    padded with silence to one length (the longest string's end plus ``pause[1]`` seconds), and
    Gaussian background noise of standard deviation ``noise`` covers the whole canvas.

    Args:
        waves: a sequence of 1-D arrays, one utterance each.
        digits: the digit (0–9) each utterance says.
        n, min_len, max_len: how many strings, and their shortest and longest length in digits.
        seed: the same arguments and seed always give the same strings.
        rate: samples per second of ``waves``.
        pause: shortest and longest pause in seconds (0 ≤ low ≤ high).
        noise: standard deviation of the background noise (≥ 0).
        max_digit_samples: utterances longer than this are cut to it (``None``: no cut).

    Returns:
        ``(x, y, lengths)``: float32 ``(n, samples)``; int32 ``(n, max_len)``, the digits followed
        by :data:`DIGIT_STRING_PAD` (-1); int32 ``(n,)`` the number of digits.

    Raises:
        ValueError: an argument has the wrong shape, type or range (the message says which).
    """
    waves = [np.asarray(w, dtype="float32") for w in waves]
    digits = np.asarray(digits)
    if len(waves) == 0 or any(w.ndim != 1 or len(w) == 0 for w in waves):
        raise ValueError(
            "waves must be a non-empty sequence of non-empty 1-D arrays (one utterance each), "
            f"received {len(waves)} item(s) with shapes {[w.shape for w in waves[:3]]}…"
        )
    if digits.shape != (len(waves),) or not np.issubdtype(digits.dtype, np.integer):
        raise ValueError(
            f"digits must be {len(waves)} integers, one per wave, received {digits.dtype} "
            f"shape {digits.shape}."
        )
    if digits.min() < 0 or digits.max() > 9:
        raise ValueError(f"digits must be 0–9, received values {digits.min()}…{digits.max()}.")
    n, min_len, seed = (
        _check_count("n", n, 1),
        _check_count("min_len", min_len, 1),
        _check_count("seed", seed, 0),
    )
    max_len = _check_count(f"max_len (≥ min_len={min_len})", max_len, min_len)
    rate = _check_count("rate", rate, 1)
    if len(pause) != 2 or not 0 <= pause[0] <= pause[1]:
        raise ValueError(
            f"pause must be (low, high) seconds with 0 ≤ low ≤ high, received {pause!r}."
        )
    if not noise >= 0:
        raise ValueError(f"noise must be ≥ 0, received {noise!r}.")
    if max_digit_samples is not None:
        max_digit_samples = _check_count("max_digit_samples", max_digit_samples, 1)
        waves = [w[:max_digit_samples] for w in waves]

    rng = np.random.default_rng(seed)
    gap = int(pause[1] * rate)
    lengths = rng.integers(min_len, max_len + 1, size=n).astype("int32")
    placements = []  # per string: [(start sample, utterance index), …]
    for length in lengths:
        picks = rng.integers(0, len(waves), size=length)
        col, placed = int(rng.integers(0, gap + 1)), []
        for k, j in enumerate(picks):
            if k:
                col += int(rng.integers(int(pause[0] * rate), gap + 1))
            placed.append((col, int(j)))
            col += len(waves[j])
        placements.append(placed)
    # one length for all: the longest string of this call, then a pause's worth of silence
    width = max(start + len(waves[j]) for placed in placements for start, j in placed) + gap
    x = np.zeros((n, width), dtype="float32")
    if noise:
        x += rng.normal(0.0, noise, size=(n, width)).astype("float32")
    y = np.full((n, max_len), DIGIT_STRING_PAD, dtype="int32")
    for i, placed in enumerate(placements):
        for start, j in placed:
            x[i, start : start + len(waves[j])] += waves[j]
        y[i, : len(placed)] = digits[[j for _, j in placed]]
    return x, y, lengths


def _speaker_split(speakers: np.ndarray) -> dict[str, np.ndarray]:
    """Speakers sorted by name: the last → test, the one before → validation, the rest → train."""
    names = sorted(set(speakers.tolist()))
    if len(names) < 3:
        raise ValueError(f"a speaker split needs at least 3 speakers, received {names}.")
    groups = {"train": names[:-2], "validation": names[-2:-1], "test": names[-1:]}
    return {k: np.isin(speakers, v) for k, v in groups.items()}


def _fsdd_recordings() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Every FSDD recording (peak-normalised float32), its digit and its speaker's name."""
    tfds = import_tfds()  # a package conflict is named as one, not as "offline"
    try:
        waves, digits, speakers = [], [], []
        for ex in tfds.as_numpy(tfds.load("spoken_digit", split="train")):
            wave = np.asarray(ex["audio"], dtype="float32").reshape(-1)
            waves.append(0.9 * wave / max(float(np.abs(wave).max()), 1e-9))
            digits.append(int(ex["label"]))
            name = ex["audio/filename"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            parts = name.rsplit("/", 1)[-1].split("_")  # "7_jackson_32.wav"
            speakers.append(parts[1] if len(parts) >= 3 else parts[0])
        if not waves:
            raise ValueError("split 'train' is empty")
        return waves, np.asarray(digits, dtype="int64"), np.asarray(speakers)
    except Exception as err:  # noqa: BLE001 - re-raised with what to do about it
        raise unavailable("spoken_digit", err) from err


# Smoke: 12 synthetic voices; 8 speak the training strings, 2 the validation, 2 the test strings.
_SMOKE_SPEAKERS = {"train": range(0, 8), "validation": range(8, 10), "test": range(10, 12)}
_SMOKE_SIZES = {"train": 640, "validation": 128, "test": 128}
_FULL_SIZES = {"train": 4000, "validation": 500, "test": 500}


@register(
    "spoken_digit",
    tfds_name="spoken_digit",
    description="strings of 1–3 spoken digits, 8 kHz waveforms, unseen test speakers "
    "(smoke: synthesised speech-like digits)",
)
def _load_spoken_digit(prof: Profile) -> Data:
    arrays = []
    if prof.smoke:
        for i, split in enumerate(("train", "validation", "test")):
            waves, digits, _ = synthetic_spoken_digits(
                {"train": 400, "validation": 100, "test": 100}[split],
                list(_SMOKE_SPEAKERS[split]), seed=10 + i,
            )  # fmt: skip
            arrays += spoken_digit_strings(waves, digits, _SMOKE_SIZES[split], seed=20 + i)[:2]
        source = (
            "smoke stand-in: synthesised speech-like digits (a source–filter model, 12 voices: "
            "8 train / 2 validation / 2 test), strings of 1–3 digits, 8 kHz, train 640 / "
            "validation 128 / test 128; not recordings, offline"
        )
    else:
        waves, digits, speakers = _fsdd_recordings()
        masks = _speaker_split(speakers)
        for i, split in enumerate(("train", "validation", "test")):
            keep = np.flatnonzero(masks[split])
            arrays += spoken_digit_strings(
                [waves[j] for j in keep], digits[keep], _FULL_SIZES[split], seed=20 + i,
                max_digit_samples=int(_MAX_DIGIT_SECONDS * SPEECH_RATE),
            )[:2]  # fmt: skip
        names = {k: sorted(set(speakers[m].tolist())) for k, m in masks.items()}
        source = (
            "tensorflow-datasets 'spoken_digit' (FSDD, 8 kHz) joined into strings of 1–3 digits; "
            f"speakers train {', '.join(names['train'])} / validation "
            f"{', '.join(names['validation'])} / test {', '.join(names['test'])}; strings train "
            f"{_FULL_SIZES['train']} / validation {_FULL_SIZES['validation']} / test "
            f"{_FULL_SIZES['test']}"
        )
    return Data("spoken_digit", source, *arrays, [str(d) for d in range(10)])
