"""Build lab 04's smoke stand-in for MobileNetV2's ImageNet weights.

``python -m tools.smoke_weights [--out PATH] [--epochs N]`` → ``common/data/`` +
:data:`common.data.SMOKE_BASE_WEIGHTS`.

Offline there are no ImageNet weights, so in the smoke profile lab 04's MobileNetV2
(α = 0.35, 64×64) would start from random weights, and its accuracy checks could only ask for
"runs and is scored". This script pretrains that same base on a *source* set of generated
flower drawings (:func:`common.data.synthetic_flowers` with seed 10: 2,000 drawings that
share no picture with the lab's seeds 1–3) with a linear head, the way ImageNet pretraining
gives the full profile a base, and saves the base's weights (about 2 MB). Transfer then works
in smoke for the same reason it does in full: the base has learned features of the domain.

The run is deterministic (seed 100, TensorFlow's op determinism, one thread per op pool), so
running it again rewrites the same weights. After training, every BatchNormalization layer's
moving statistics are set from one pass over 1,000 source drawings (momentum 0 for that
pass): with Keras's momentum of 0.999 a short training leaves them far from the data.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

SEED = 100  # the run's seed (weights, shuffles, augmentation)
SOURCE_SEED = 10  # synthetic_flowers' seed for the source drawings (the lab uses 1, 2 and 3)
SOURCE_SIZE = 2000
EPOCHS = 8
BATCH = 64
ALPHA = 0.35  # lab 04's smoke MobileNetV2


def build(epochs: int = EPOCHS) -> tuple:
    """(base, source accuracy of base + head on its last epoch) after pretraining."""
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    import keras

    from common.data import FLOWERS_SMOKE_SIZE, synthetic_flowers

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    images, labels = synthetic_flowers(SOURCE_SIZE, seed=SOURCE_SEED)
    shape = (FLOWERS_SMOKE_SIZE, FLOWERS_SMOKE_SIZE, 3)
    base = keras.applications.MobileNetV2(
        input_shape=shape, include_top=False, weights=None, alpha=ALPHA
    )
    inputs = keras.Input(shape)
    x = keras.layers.RandomFlip("horizontal", seed=SEED)(inputs)
    x = keras.applications.mobilenet_v2.preprocess_input(x)
    x = keras.layers.GlobalAveragePooling2D()(base(x))
    outputs = keras.layers.Dense(5, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        images.astype("float32"), labels, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=2
    )
    calibrate_batch_norm(base, keras.applications.mobilenet_v2.preprocess_input(
        images[:1000].astype("float32")
    ))  # fmt: skip
    return base, float(np.round(history.history["accuracy"][-1], 4))


def calibrate_batch_norm(base, images) -> None:
    """Set every BatchNormalization layer's moving mean and variance from one batch."""
    import keras

    norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    base(images, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


def main(argv: list[str] | None = None) -> int:
    from common.data import SMOKE_BASE_WEIGHTS

    parser = argparse.ArgumentParser(prog="python -m tools.smoke_weights", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(SMOKE_BASE_WEIGHTS))
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    if not args.out.name.endswith(".weights.h5"):
        parser.error(f"--out must end with .weights.h5 (Keras's weights format), got {args.out}")
    start = time.perf_counter()
    base, accuracy = build(args.epochs)
    base.save_weights(args.out)
    print(
        f"{args.out}: {args.out.stat().st_size:,} bytes; source accuracy on the last epoch "
        f"{accuracy}; {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
