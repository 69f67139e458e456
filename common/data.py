"""Datasets the labs use, behind one call: ``common.data.load(name)``.

Every dataset comes back as a :class:`Data` with NumPy arrays for the train, validation and
test splits, its class names and a one-line ``source`` that says where it came from.
``Data.dataset(split, batch_size)`` turns a split into a cached, shuffled, batched and
prefetched ``tf.data.Dataset``.

Profiles (``LAB_PROFILE``):

* ``full``: the real dataset through tensorflow-datasets. A failed download raises
  :class:`DatasetUnavailableError` with what to do; it never falls back to other data.
* ``smoke``: offline data shipped with the project's dependencies. MNIST and Fashion-MNIST
  are stood in for by scikit-learn's bundled handwritten digits, resized to 28×28 so the
  same model code runs; ``Data.source`` and the printed line say so.

Pre-fetch every registered tfds dataset with ``make data`` (``python -m common.data``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .env import Profile
from .env import profile as current_profile

SPLITS = ("train", "validation", "test")


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be loaded in the full profile (offline, blocked download, …)."""


@dataclass
class Data:
    """Arrays for the three splits plus what a notebook needs to know about them."""

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def title(self) -> str:
        """The name for plot titles: ``name``, marked when the data is a smoke stand-in."""
        return (
            f"{self.name} (smoke stand-in)"
            if self.source.startswith("smoke stand-in")
            else self.name
        )

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``train``, ``validation`` or ``test``."""
        pairs = {
            "train": (self.x_train, self.y_train),
            "validation": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }
        if name not in pairs:
            raise ValueError(f"Unknown split {name!r}. Expected one of: {', '.join(SPLITS)}.")
        return pairs[name]

    def dataset(
        self, split: str, batch_size: int = 64, shuffle: bool | None = None, seed: int = 0
    ) -> Any:
        """A ``tf.data.Dataset`` of ``(x, y)`` batches; shuffled by default for ``train``."""
        x, y = self.split(split)
        return to_dataset(
            x, y, batch_size, shuffle=split == "train" if shuffle is None else shuffle, seed=seed
        )

    def __repr__(self) -> str:
        return (
            f"Data({self.name!r}: train {len(self.x_train)}, validation {len(self.x_val)}, "
            f"test {len(self.x_test)}; x {self.input_shape} {self.x_train.dtype}; "
            f"{self.num_classes} classes; source: {self.source})"
        )


def to_dataset(x: Any, y: Any, batch_size: int = 64, shuffle: bool = True, seed: int = 0) -> Any:
    """Arrays → cached, (shuffled), batched, prefetched ``tf.data.Dataset``."""
    import tensorflow as tf

    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}.")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class _Entry:
    loader: Callable[[Profile], Data]
    tfds_name: str | None  # what ``make data`` pre-fetches
    description: str


_REGISTRY: dict[str, _Entry] = {}


def register(name: str, *, tfds_name: str | None = None, description: str = "") -> Callable:
    """Decorator that adds a ``loader(profile) -> Data`` under ``name``."""

    def wrap(loader: Callable[[Profile], Data]) -> Callable[[Profile], Data]:
        _REGISTRY[name] = _Entry(loader, tfds_name, description)
        return loader

    return wrap


def names() -> list[str]:
    """The dataset names :func:`load` accepts."""
    return sorted(_REGISTRY)


def load(name: str, profile: Profile | str | None = None, verbose: bool = True) -> Data:
    """Load dataset ``name`` for the current (or the given) profile.

    Raises:
        ValueError: ``name`` is not a known dataset (the message lists the valid ones).
        DatasetUnavailableError: the full profile could not download the data.
    """
    if name not in _REGISTRY:
        raise ValueError(f"Unknown dataset {name!r}. Expected one of: {', '.join(names())}.")
    if profile is None:
        prof = current_profile()
    elif isinstance(profile, str):
        prof = Profile(profile)
        if profile not in ("full", "smoke"):
            raise ValueError(f"Unknown profile {profile!r}. Expected one of: full, smoke.")
    else:
        prof = profile
    data = _REGISTRY[name].loader(prof)
    if verbose:
        print(data)
    return data


# --------------------------------------------------------------------------- sources


def _digits_arrays(seed: int = 0) -> tuple[np.ndarray, ...]:
    """scikit-learn's 1,797 bundled 8×8 digits, split 60/20/20 stratified, scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=seed
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed
    )
    return x_train, y_train, x_val, y_val, x_test, y_test


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a ``(n, h, w, c)`` batch to ``(n, size, size, c)``, values kept in [0, 1]."""
    import tensorflow as tf

    out = tf.image.resize(x, (size, size), method="bilinear").numpy()
    return np.clip(out, 0.0, 1.0).astype("float32")


DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def _tfds_supervised(
    name: str, splits: dict[str, str], batch: int = 4096, map_fn: Any = None
) -> dict[str, tuple]:
    """Load ``{our_split: tfds_split}`` as NumPy ``(x, y)`` with an actionable error on failure.

    ``map_fn(image, label) -> (image, label)`` is applied per example before batching (used
    to resize photos of varying size to one shape).
    """
    try:
        import tensorflow_datasets as tfds

        out = {}
        for key, tfds_split in splits.items():
            ds = tfds.load(name, split=tfds_split, as_supervised=True)
            if map_fn is not None:
                ds = ds.map(map_fn)
            xs, ys = [], []
            for x, y in tfds.as_numpy(ds.batch(batch)):
                xs.append(x)
                ys.append(y)
            if not xs:
                raise ValueError(f"split {tfds_split!r} is empty")
            out[key] = (np.concatenate(xs), np.concatenate(ys).astype("int64"))
        return out
    except Exception as err:  # noqa: BLE001 - re-raised with what to do about it
        raise DatasetUnavailableError(
            f"Could not load {name!r} with tensorflow-datasets ({type(err).__name__}: {err}). "
            "If this machine is offline, run with LAB_PROFILE=smoke for the small offline data, "
            "or pre-fetch the datasets once while online with `make data` "
            "(python -m common.data)."
        ) from err


def _mnist_like(name: str, class_names: list[str], prof: Profile) -> Data:
    if prof.smoke:
        x_tr, y_tr, x_va, y_va, x_te, y_te = _digits_arrays()
        return Data(
            name,
            "smoke stand-in: scikit-learn's bundled digits (8×8 resized to 28×28), offline",
            resize_images(x_tr, 28), y_tr, resize_images(x_va, 28), y_va,
            resize_images(x_te, 28), y_te, DIGIT_NAMES,
        )  # fmt: skip
    arrays = _tfds_supervised(
        name, {"train": "train[:90%]", "validation": "train[90%:]", "test": "test"}
    )
    scaled = {k: ((x.astype("float32") / 255.0), y) for k, (x, y) in arrays.items()}
    return Data(
        name,
        f"tensorflow-datasets '{name}' (train 54,000 / validation 6,000 / test 10,000)",
        *scaled["train"], *scaled["validation"], *scaled["test"], class_names,
    )  # fmt: skip


@register("digits", description="scikit-learn's 8×8 handwritten digits (offline, both profiles)")
def _load_digits(prof: Profile) -> Data:
    x_tr, y_tr, x_va, y_va, x_te, y_te = _digits_arrays()
    return Data(
        "digits", "scikit-learn's bundled digits (8×8, 1,797 images), offline",
        x_tr, y_tr, x_va, y_va, x_te, y_te, DIGIT_NAMES,
    )  # fmt: skip


@register("mnist", tfds_name="mnist", description="MNIST handwritten digits, 28×28")
def _load_mnist(prof: Profile) -> Data:
    return _mnist_like("mnist", DIGIT_NAMES, prof)


@register("fashion_mnist", tfds_name="fashion_mnist", description="Fashion-MNIST, 28×28")
def _load_fashion(prof: Profile) -> Data:
    return _mnist_like("fashion_mnist", FASHION_NAMES, prof)


# --------------------------------------------------------------------------- make data


def fetch(selected: list[str] | None = None) -> None:
    """Download and prepare the tfds datasets (all registered ones by default)."""
    import tensorflow_datasets as tfds

    wanted = selected or [n for n in names() if _REGISTRY[n].tfds_name]
    for name in wanted:
        if name not in _REGISTRY:
            raise ValueError(f"Unknown dataset {name!r}. Expected one of: {', '.join(names())}.")
        entry = _REGISTRY[name]
        if entry.tfds_name is None:
            print(f"{name}: ships with the project's dependencies, nothing to fetch")
            continue
        print(f"{name}: fetching tfds '{entry.tfds_name}' …", flush=True)
        tfds.builder(entry.tfds_name).download_and_prepare()
    print("done")


if __name__ == "__main__":  # pragma: no cover - exercised by `make data` online
    fetch(sys.argv[1:] or None)


# --------------------------------------------------------------------------- dates (lab 07)
#
# Human-written dates → ISO dates, a small translation task that runs offline. Everything is
# generated with the standard library; month and weekday names are spelled here rather than
# taken from ``strftime`` (``%b``, ``%A`` depend on the machine's locale).

import datetime as _dt
import random as _random
from collections.abc import Iterable, Sequence

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


def _check_count(name: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer ≥ {low}, received {value!r}.")
    return int(value)


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


class CharVocab:
    """Characters ↔ integer ids, with ``<PAD>`` = 0, ``<START>`` = 1 and ``<END>`` = 2.

    >>> vocab = CharVocab.from_texts(["2026-11-21"])
    >>> vocab.encode("21", start=True, end=True)
    [1, 6, 5, 2]
    >>> vocab.decode([6, 5, 2, 0])
    '21'
    """

    PAD, START, END = "<PAD>", "<START>", "<END>"
    SPECIALS = (PAD, START, END)

    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(
                f"CharVocab expects single characters, received {bad[:5]!r}"
                f"{' …' if len(bad) > 5 else ''}."
            )
        self.tokens: list[str] = list(self.SPECIALS) + sorted(set(chars))
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharVocab:
        """The vocabulary of every character that occurs in ``texts``."""
        if isinstance(texts, str):
            raise TypeError("from_texts expects a list of strings, received one string.")
        return cls(c for text in texts for c in text)

    pad_id, start_id, end_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        chars = "".join(self.tokens[len(self.SPECIALS) :])
        return f"CharVocab({len(self)} tokens: <PAD> <START> <END> + {chars!r})"

    def encode(self, text: str, start: bool = False, end: bool = False) -> list[int]:
        """Ids of ``text``'s characters, optionally framed by ``<START>`` / ``<END>``.

        Raises:
            ValueError: a character is not in the vocabulary (the message names it).
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a string, received {type(text).__name__}: {text!r}.")
        ids = []
        for position, char in enumerate(text):
            if char not in self.index:
                known = "".join(self.tokens[len(self.SPECIALS) :])
                raise ValueError(
                    f"Unknown character {char!r} at position {position} of {text!r}. "
                    f"Expected one of the vocabulary's characters: {known!r}."
                )
            ids.append(self.index[char])
        return ([self.start_id] if start else []) + ids + ([self.end_id] if end else [])

    def encode_batch(
        self,
        texts: Sequence[str],
        length: int | None = None,
        start: bool = False,
        end: bool = False,
    ) -> np.ndarray:
        """``(len(texts), length)`` int32 ids, padded with ``<PAD>`` at the end.

        ``length`` defaults to the longest encoded text.

        Raises:
            ValueError: an encoded text is longer than ``length``, or a character is unknown.
        """
        if isinstance(texts, str):
            raise TypeError("encode_batch expects a list of strings, received one string.")
        rows = [self.encode(t, start=start, end=end) for t in texts]
        longest = max((len(r) for r in rows), default=0)
        if length is None:
            length = longest
        length = _check_count("length", length)
        if longest > length:
            raise ValueError(
                f"length={length} is too short: the longest encoded text has {longest} tokens "
                f"({'with' if start or end else 'without'} <START>/<END>)."
            )
        out = np.full((len(rows), length), self.pad_id, dtype="int32")
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return out

    def decode(self, ids: Iterable[int], stop_at_end: bool = True) -> str:
        """Text of ``ids``: ``<PAD>`` and ``<START>`` are skipped, ``<END>`` stops (by default).

        Raises:
            ValueError: an id is outside ``0 … len(vocab) - 1``.
        """
        chars = []
        for i in np.asarray(ids, dtype=np.int64).reshape(-1).tolist():
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"Unknown token id {i}. Expected ids 0 … {len(self.tokens) - 1}.")
            if i == self.end_id and stop_at_end:
                break
            if i >= len(self.SPECIALS):
                chars.append(self.tokens[i])
        return "".join(chars)


# --------------------------------------------------------------------------- digit strings (lab 09)
#
# Images of digit strings of varying length for a CTC recogniser: single-digit images (MNIST,
# or scikit-learn's digits) are drawn at random and pasted side by side on a blank canvas of
# one fixed width, so every string image of a call has the same shape.

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


# --------------------------------------------------------------------------- movie reviews (lab 06)
#
# ``imdb_reviews``: full = tensorflow-datasets' IMDB reviews (25,000 train / 25,000 test,
# labelled negative/positive); smoke = :func:`review_set`, template-generated reviews built so
# that word order decides the label (a bag of words is at chance, a sequence model is not).

IMDB_CLASS_NAMES = ["negative", "positive"]

_REVIEW_SUBJECTS = (
    "the film", "the movie", "the story", "the acting", "the plot", "the script",
    "the ending", "the music", "the cast", "the dialogue", "the pacing", "the camera work",
)  # fmt: skip
_REVIEW_VERBS = ("was", "is", "felt", "seemed")
_REVIEW_NEGATED_VERBS = ("was", "is")  # "was not dull", never "felt not dull"
_REVIEW_POSITIVE = (
    "great", "wonderful", "brilliant", "moving", "funny",
    "clever", "beautiful", "gripping", "charming", "superb",
)  # fmt: skip
_REVIEW_NEGATIVE = (
    "boring", "awful", "dull", "terrible", "clumsy",
    "predictable", "weak", "tedious", "messy", "bland",
)  # fmt: skip
_REVIEW_NEGATORS = ("not", "never")
_REVIEW_INTENSIFIERS = ("really", "very", "quite", "truly")
_REVIEW_LINKS = ("and", "and also", "; moreover,", ". also,")
_REVIEW_FILLERS = (
    "i saw it last weekend", "we watched it at home", "it runs about two hours",
    "my friend picked it", "i went in with no expectations", "it came out last year",
    "the cinema was almost empty", "i watched it twice", "it is based on a novel",
)  # fmt: skip


def review_set(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` template-generated movie reviews and their labels (0 negative, 1 positive).

    Every review states two opinions about two aspects of a film: one with a positive
    adjective, one with a negative adjective, and exactly one of the two is negated
    ("not", "never"). Both opinions then agree: "the plot was not dull and the music was
    superb" is positive, "the plot was dull and the music was not superb" is negative. The
    two reviews contain the same words, so counting words gives chance accuracy; a model must
    see which adjective the negation precedes. Neutral filler sentences vary the length.

    Returns:
        ``(texts, labels)``: an object array of ``n`` Python ``str`` and an int64 array.

    Raises:
        ValueError: ``n`` is not a positive integer or ``seed`` is not a non-negative integer.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"review_set: n must be a positive integer, received {n!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"review_set: seed must be a non-negative integer, received {seed!r}.")
    rng = np.random.default_rng(int(seed))
    texts, labels = [], np.empty(int(n), dtype="int64")
    for k in range(int(n)):
        label = int(rng.integers(2))
        positive = str(rng.choice(_REVIEW_POSITIVE))
        negative = str(rng.choice(_REVIEW_NEGATIVE))
        # The adjective that carries the label stays plain; the other one is negated.
        plain, flipped = (positive, negative) if label else (negative, positive)
        subjects = rng.choice(len(_REVIEW_SUBJECTS), size=2, replace=False)
        clauses = []
        for subject, adjective, negate in (
            (subjects[0], plain, False),
            (subjects[1], flipped, True),
        ):
            verbs = _REVIEW_NEGATED_VERBS if negate else _REVIEW_VERBS
            words = [_REVIEW_SUBJECTS[subject], str(rng.choice(verbs))]
            if negate:
                words.append(str(rng.choice(_REVIEW_NEGATORS)))
            if rng.random() < 0.3:
                words.append(str(rng.choice(_REVIEW_INTENSIFIERS)))
            words.append(adjective)
            clauses.append(" ".join(words))
        if rng.random() < 0.5:
            clauses.reverse()
        link = str(rng.choice(_REVIEW_LINKS))
        text = clauses[0] + ("" if link[0] in ";." else " ") + link + " " + clauses[1]
        fillers = rng.choice(len(_REVIEW_FILLERS), size=int(rng.integers(0, 3)), replace=False)
        for f in fillers:
            sentence = _REVIEW_FILLERS[f]
            text = f"{sentence}. {text}" if rng.random() < 0.5 else f"{text}. {sentence}"
        texts.append(text + ".")
        labels[k] = label
    return np.array(texts, dtype=object), labels


def _decode_texts(x: np.ndarray) -> np.ndarray:
    """tfds text (bytes) → an object array of Python ``str``."""
    return np.array(
        [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in x], dtype=object
    )


@register(
    "imdb_reviews",
    tfds_name="imdb_reviews",
    description="IMDB movie reviews, negative/positive (smoke: generated reviews)",
)
def _load_imdb_reviews(prof: Profile) -> Data:
    if prof.smoke:
        return Data(
            "imdb_reviews",
            "smoke stand-in: template-generated movie reviews (train 2,000 / validation 500 / "
            "test 1,000), offline; each review negates one of two opinions, so word order "
            "decides the label and a bag of words is at chance",
            *review_set(2000, seed=1), *review_set(500, seed=2), *review_set(1000, seed=3),
            IMDB_CLASS_NAMES,
        )  # fmt: skip
    arrays = _tfds_supervised(
        "imdb_reviews", {"train": "train[:90%]", "validation": "train[90%:]", "test": "test"}
    )
    texts = {k: (_decode_texts(x), y) for k, (x, y) in arrays.items()}
    return Data(
        "imdb_reviews",
        "tensorflow-datasets 'imdb_reviews' (train 22,500 / validation 2,500 / test 25,000)",
        *texts["train"], *texts["validation"], *texts["test"], IMDB_CLASS_NAMES,
    )  # fmt: skip


# --------------------------------------------------------------------------- flowers (lab 04)
#
# ``tf_flowers``: full = tensorflow-datasets' 3,670 flower photos (one ``train`` split, cut
# here 80/10/10 into train/validation/test), resized to 160×160 and kept as uint8 (the
# pretrained models' own ``preprocess_input`` does the scaling); smoke = :func:`synthetic_flowers`,
# generated 64×64 pictures of five kinds of drawn flower, offline.

FLOWER_NAMES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]  # tfds label order
FLOWERS_SIZE = 160  # full profile: a size MobileNetV2's ImageNet weights exist for
FLOWERS_SMOKE_SIZE = 64

# Per class: number of petals, petal RGB, centre RGB, centre radius (fraction of the flower's
# radius), petal sharpness (exponent of the petal outline; small = round, large = thin).
_FLOWER_STYLES = (
    (14, (250, 215, 40), (235, 190, 30), 0.25, 1.0),  # dandelion: many yellow petals
    (9, (245, 245, 240), (245, 200, 40), 0.30, 2.0),  # daisy: white petals, yellow centre
    (3, (235, 70, 110), (200, 50, 80), 0.15, 0.6),  # tulips: three broad pink petals
    (18, (250, 170, 20), (95, 55, 20), 0.50, 1.5),  # sunflowers: big brown centre
    (5, (185, 20, 45), (120, 10, 30), 0.20, 0.8),  # roses: five round dark-red petals
)


def synthetic_flowers(n: int, size: int = FLOWERS_SMOKE_SIZE, seed: int = 0) -> tuple:
    """``n`` generated flower pictures and labels, an offline stand-in for ``tf_flowers``.

    Each picture is a drawn flower (petal count, colours and centre depend on the class,
    :data:`FLOWER_NAMES` order) at a random place, size, rotation and shade, over a noisy
    green-to-brown background. These are not photographs: they only let the same code run.

    Returns:
        ``(images, labels)``: uint8 ``(n, size, size, 3)`` and int64 ``(n,)``.

    Raises:
        ValueError: ``n`` not a positive integer, ``size`` below 32 (the smallest input
            ``keras.applications`` models accept), or ``seed`` not a non-negative integer.
    """
    n, size = _check_count("synthetic_flowers: n", n, 1), _check_count("size", size, 32)
    rng = np.random.default_rng(_check_count("seed", seed, 0))
    yy, xx = (g.astype("float32") + 0.5 for g in np.mgrid[0:size, 0:size])
    fade = (yy / size)[..., None]
    labels = rng.integers(0, len(FLOWER_NAMES), size=n)
    images = np.empty((n, size, size, 3), dtype="uint8")
    for i, label in enumerate(labels):
        petals, petal_rgb, centre_rgb, centre_frac, sharpness = _FLOWER_STYLES[label]
        top = rng.uniform(60, 140, 3) * (0.6, 1.0, 0.5)
        bottom = rng.uniform(20, 90, 3) * (0.5, 1.0, 0.4)
        img = (1 - fade) * top + fade * bottom + rng.normal(0, 12, (size, size, 3))
        radius = rng.uniform(0.25, 0.42) * size
        cx, cy = rng.uniform(0.8 * radius, size - 0.8 * radius, 2)
        r = np.hypot(xx - cx, yy - cy) / radius
        theta = np.arctan2(yy - cy, xx - cx) + rng.uniform(0, 2 * np.pi)
        outline = 0.45 + 0.55 * np.abs(np.cos(petals * theta / 2)) ** sharpness
        colour = np.clip(np.array(petal_rgb) * rng.uniform(0.8, 1.1) + rng.normal(0, 10, 3), 0, 255)
        petal = r < outline
        img[petal] = colour * (0.75 + 0.25 * (1 - r[petal, None]))  # lighter towards the centre
        img[r < centre_frac] = np.clip(np.array(centre_rgb) + rng.normal(0, 10, 3), 0, 255)
        images[i] = np.clip(img, 0, 255).astype("uint8")
    return images, labels.astype("int64")


def _resize_uint8(size: int) -> Any:
    """A tf.data map function: resize a photo to ``size``², rounded back to uint8."""
    import tensorflow as tf

    def resize(image: Any, label: Any) -> tuple:
        image = tf.image.resize(image, (size, size), antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    return resize


@register(
    "tf_flowers",
    tfds_name="tf_flowers",
    description="3,670 flower photos, 5 classes, 160×160 uint8 (smoke: generated drawings)",
)
def _load_tf_flowers(prof: Profile) -> Data:
    if prof.smoke:
        return Data(
            "tf_flowers",
            f"smoke stand-in: generated drawings of 5 kinds of flower ({FLOWERS_SMOKE_SIZE}×"
            f"{FLOWERS_SMOKE_SIZE}, train 200 / validation 100 / test 100), not photographs, offline",
            *synthetic_flowers(200, seed=1), *synthetic_flowers(100, seed=2),
            *synthetic_flowers(100, seed=3), list(FLOWER_NAMES),
        )  # fmt: skip
    arrays = _tfds_supervised(
        "tf_flowers",
        {"train": "train[:80%]", "validation": "train[80%:90%]", "test": "train[90%:]"},
        batch=256,
        map_fn=_resize_uint8(FLOWERS_SIZE),
    )
    return Data(
        "tf_flowers",
        "tensorflow-datasets 'tf_flowers' (3,670 photos cut 80/10/10: train 2,936 / validation "
        f"367 / test 367), resized to {FLOWERS_SIZE}×{FLOWERS_SIZE}, uint8 0–255",
        *arrays["train"], *arrays["validation"], *arrays["test"], list(FLOWER_NAMES),
    )  # fmt: skip
