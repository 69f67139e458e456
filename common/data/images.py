"""Images of handwritten digits and clothes: ``digits``, ``mnist``, ``fashion_mnist``.

Full profile: tensorflow-datasets' MNIST / Fashion-MNIST. Smoke: scikit-learn's bundled 8×8
digits, resized to 28×28 so the same model code runs, and named a stand-in.
"""

from __future__ import annotations

import numpy as np

from ..env import Profile
from .registry import Data, register, tfds_supervised


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


def _mnist_like(name: str, class_names: list[str], prof: Profile) -> Data:
    if prof.smoke:
        x_tr, y_tr, x_va, y_va, x_te, y_te = _digits_arrays()
        return Data(
            name,
            "smoke stand-in: scikit-learn's bundled digits (8×8 resized to 28×28), offline",
            resize_images(x_tr, 28), y_tr, resize_images(x_va, 28), y_va,
            resize_images(x_te, 28), y_te, DIGIT_NAMES,
        )  # fmt: skip
    arrays = tfds_supervised(
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
