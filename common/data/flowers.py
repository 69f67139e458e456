"""Flowers (lab 04): ``tf_flowers``.

Full = tensorflow-datasets' 3,670 flower photos (one ``train`` split, cut here 80/10/10 into
train/validation/test), resized to 160×160 and kept as uint8 (the pretrained models' own
``preprocess_input`` does the scaling); smoke = :func:`synthetic_flowers`, generated 64×64
pictures of five kinds of drawn flower, offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..env import Profile
from .registry import Data, register, tfds_supervised
from .registry import check_count as _check_count

FLOWER_NAMES = ["dandelion", "daisy", "tulips", "sunflowers", "roses"]  # tfds label order
FLOWERS_SIZE = 160  # full profile: a size MobileNetV2's ImageNet weights exist for
FLOWERS_SMOKE_SIZE = 64
# Smoke profile: MobileNetV2 (α = 0.35, 64×64, no top) pretrained on 2,000 other generated drawings
# by ``python -m tools.smoke_weights``, the offline stand-in for its ImageNet weights (lab 04).
SMOKE_BASE_WEIGHTS = str(Path(__file__).with_name("mobilenet_v2_035_64_drawings.weights.h5"))

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
    arrays = tfds_supervised(
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
