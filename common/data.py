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


def _tfds_supervised(name: str, splits: dict[str, str], batch: int = 4096) -> dict[str, tuple]:
    """Load ``{our_split: tfds_split}`` as NumPy ``(x, y)`` with an actionable error on failure."""
    try:
        import tensorflow_datasets as tfds

        out = {}
        for key, tfds_split in splits.items():
            ds = tfds.load(name, split=tfds_split, as_supervised=True)
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
