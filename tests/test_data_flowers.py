"""common.data tf_flowers (lab 04): the generated smoke stand-in, the tfds path (mocked), errors."""

from __future__ import annotations

import numpy as np
import pytest

from common import data


def test_smoke_stand_in_shapes_classes_and_source(capsys):
    d = data.load("tf_flowers", profile="smoke")
    size = data.FLOWERS_SMOKE_SIZE
    assert d.input_shape == (size, size, 3) and d.x_train.dtype == np.uint8
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (200, 100, 100)
    assert d.class_names == ["dandelion", "daisy", "tulips", "sunflowers", "roses"]
    for y in (d.y_train, d.y_val, d.y_test):
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(5))
    assert "smoke stand-in" in d.source and "not photographs" in d.source
    assert "smoke stand-in" in capsys.readouterr().out
    assert not np.array_equal(d.x_train[:100], d.x_val)  # splits come from different seeds


def test_synthetic_flowers_is_deterministic_and_varied():
    x1, y1 = data.synthetic_flowers(12, size=48, seed=5)
    x2, y2 = data.synthetic_flowers(12, size=48, seed=5)
    x3, _ = data.synthetic_flowers(12, size=48, seed=6)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == (12, 48, 48, 3) and x1.dtype == np.uint8
    assert not np.array_equal(x1, x3)
    assert x1.min() < 60 and x1.max() > 200  # dark background and bright petals


def test_synthetic_flowers_classes_differ_in_colour():
    x, y = data.synthetic_flowers(200, seed=0)
    mean_rgb = np.stack([x[y == c].reshape(-1, 3).mean(0) for c in range(5)])
    distances = np.linalg.norm(mean_rgb[:, None] - mean_rgb[None], axis=-1)
    assert distances[~np.eye(5, dtype=bool)].min() > 3.0  # no two classes share a palette


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be an integer ≥ 1, received 0"),
        ({"n": 2.5}, "n must be an integer ≥ 1, received 2.5"),
        ({"n": 4, "size": 16}, "size must be an integer ≥ 32, received 16"),
        ({"n": 4, "seed": -1}, "seed must be an integer ≥ 0, received -1"),
        ({"n": True}, "n must be an integer"),
    ],
)
def test_synthetic_flowers_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.synthetic_flowers(**kwargs)


def test_full_profile_loads_through_tfds_resized_uint8():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):  # mocked photos have random sizes
        d = data.load("tf_flowers", profile="full", verbose=False)
    size = data.FLOWERS_SIZE
    assert d.input_shape == (size, size, 3) and d.x_train.dtype == np.uint8
    assert len(d.x_train) == len(d.x_val) == len(d.x_test) == 12
    assert d.y_train.dtype == np.int64 and d.y_train.max() < 5
    assert d.class_names[0] == "dandelion" and "tensorflow-datasets 'tf_flowers'" in d.source


def test_smoke_base_weights_are_a_pretrained_stand_in():
    """Lab 04's smoke base (tools/smoke_weights.py): loads into the lab's MobileNetV2 and its
    pooled features separate the lab's own drawings (never seen in pretraining) far above chance,
    where the same network with random weights does not."""
    import keras

    from common.data.flowers import SMOKE_BASE_WEIGHTS

    size = data.FLOWERS_SMOKE_SIZE
    x_train, y_train = data.synthetic_flowers(200, seed=1)  # the lab's train and test splits
    x_test, y_test = data.synthetic_flowers(100, seed=3)

    def nearest_mean_accuracy(weights):
        base = keras.applications.MobileNetV2(
            input_shape=(size, size, 3), include_top=False, weights=weights, alpha=0.35
        )
        features = keras.Sequential([base, keras.layers.GlobalAveragePooling2D()])
        prep = keras.applications.mobilenet_v2.preprocess_input

        def embed(x):
            return features.predict(prep(x.astype("float32")), batch_size=100, verbose=0)

        f_train, f_test = embed(x_train), embed(x_test)
        means = np.stack([f_train[y_train == c].mean(0) for c in range(5)])
        guess = np.argmin(((f_test[:, None] - means[None]) ** 2).sum(-1), axis=1)
        return float(np.mean(guess == y_test))

    keras.utils.set_random_seed(0)
    stand_in, random = nearest_mean_accuracy(SMOKE_BASE_WEIGHTS), nearest_mean_accuracy(None)
    # measured: 0.94 against 0.42 (0.54 with another random draw); chance 0.2
    assert stand_in >= 0.85 and stand_in - random >= 0.25, (stand_in, random)
