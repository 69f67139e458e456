"""Run a notebook's ``full``-profile code path offline, for one training step.

``activate()`` is executed as the first cell of a copy of a solution notebook (see
``test_full_profile.py``). It

* sets ``LAB_PROFILE=full``;
* mocks tensorflow-datasets with ``tfds.testing.mock_data`` (random examples with the real
  feature specs, so shapes and dtypes are the real ones);
* caps ``keras.Model.fit`` at one epoch of one step (and one validation step);
* builds ``keras.applications`` models with ``weights=None``, since pretrained weights cannot
  be downloaded here (the weights path itself is documented in the labs, not testable offline);
* replaces every ``keras.applications.*.decode_predictions`` (it downloads ImageNet's class
  index) with an offline stand-in that returns the same ``(class_id, name, probability)`` rows,
  and ``keras.utils.get_file("imagenet_class_index.json", …)`` (a lab reading the index itself)
  with a stand-in index of the same form and the same names.

With ``auto_precision="mixed_float16"`` it also takes a T4's path on this CPU: every
``common.setup(precision="auto")`` resolves to mixed precision, as on a GPU with compute
capability ≥ 7.0 (``LAB_AUTO_PRECISION``); ``CHOSEN_PRECISIONS`` lists what each call chose.

What it proves: the full profile's data loading, model building and training calls run; a
full-profile typo (or a float16/float32 mismatch) cannot wait for a student on Colab to find
it. Accuracy checks are expected to fail on random data, so the test accepts
``AssertionError`` in check cells only.
"""

from __future__ import annotations

import functools
import os

MOCK_EXAMPLES = 96
_ACTIVE: list = []  # keeps the mock's context alive: a collected generator would undo it
CHOSEN_PRECISIONS: list[str] = []  # what each common.setup() call resolved its precision to


def activate(num_examples: int = MOCK_EXAMPLES, auto_precision: str | None = None) -> None:
    os.environ["LAB_PROFILE"] = "full"
    if auto_precision:
        os.environ["LAB_AUTO_PRECISION"] = auto_precision
    import keras
    import tensorflow_datasets as tfds

    from common import env

    choose = env.choose_precision

    @functools.wraps(choose)
    def recorded(*args, **kwargs):
        CHOSEN_PRECISIONS.append(choose(*args, **kwargs))
        return CHOSEN_PRECISIONS[-1]

    env.choose_precision = recorded

    mock = tfds.testing.mock_data(num_examples=num_examples)
    mock.__enter__()  # stays active for the kernel's lifetime
    _ACTIVE.append(mock)

    original_fit = keras.Model.fit

    @functools.wraps(original_fit)
    def one_step_fit(self, *args, **kwargs):
        kwargs["epochs"] = 1
        kwargs["initial_epoch"] = 0
        kwargs["steps_per_epoch"] = 1
        if kwargs.get("validation_data") is not None or kwargs.get("validation_split"):
            kwargs["validation_steps"] = 1
        return original_fit(self, *args, **kwargs)

    keras.Model.fit = one_step_fit

    for name in dir(keras.applications):
        ctor = getattr(keras.applications, name)
        if callable(ctor) and name[:1].isupper():
            setattr(keras.applications, name, _without_weights(ctor))
        module = getattr(keras.applications, name)
        if hasattr(module, "decode_predictions"):
            module.decode_predictions = _offline_decode_predictions
    keras.utils.get_file = _offline_get_file(keras.utils.get_file)


def _offline_get_file(get_file):
    """``get_file`` that serves ImageNet's class index from a stand-in file (offline); any other
    download goes through (and fails offline, as it should, naming the file)."""

    @functools.wraps(get_file)
    def fetch(fname=None, origin=None, *args, **kwargs):
        if fname == "imagenet_class_index.json":
            import json
            import tempfile

            index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
            path = os.path.join(tempfile.mkdtemp(), fname)
            with open(path, "w") as fh:
                json.dump(index, fh)
            return path
        return get_file(fname, origin, *args, **kwargs)

    return fetch


def _without_weights(ctor):
    @functools.wraps(ctor)
    def build(*args, **kwargs):
        if kwargs.get("weights", "imagenet") is not None:
            kwargs["weights"] = None
        return ctor(*args, **kwargs)

    return build


def _offline_decode_predictions(preds, top=5):
    """``decode_predictions`` without ImageNet's class-index download: ids stand in for names."""
    import numpy as np

    preds = np.asarray(preds)
    rows = []
    for p in preds:
        best = np.argsort(p)[::-1][:top]
        rows.append([(f"n{i:08d}", f"class_{i}", float(p[i])) for i in best])
    return rows
