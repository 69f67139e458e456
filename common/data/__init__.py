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

from . import dates as _dates_module  # noqa: F401  (each family module registers itself)
from . import flowers as _flowers_module  # noqa: F401
from . import images as _images_module  # noqa: F401
from . import reviews as _reviews_module  # noqa: F401
from . import speech as _speech_module  # noqa: F401
from .dates import (
    DATE_FORMATS,
    DATE_RANGE,
    MONTH_NAMES,
    WEEKDAY_NAMES,
    date_splits,
    dates,
    format_date,
)
from .flowers import (
    FLOWER_NAMES,
    FLOWERS_SIZE,
    FLOWERS_SMOKE_SIZE,
    SMOKE_BASE_WEIGHTS,
    synthetic_flowers,
)
from .images import DIGIT_NAMES, FASHION_NAMES, resize_images
from .registry import (
    SPLITS,
    Data,
    DatasetUnavailableError,
    fetch,
    load,
    names,
    register,
    to_dataset,
)
from .reviews import IMDB_CLASS_NAMES, review_set
from .speech import (
    DIGIT_WORDS,
    SPEECH_MAX_LEN,
    SPEECH_RATE,
    spoken_digit_strings,
    synthetic_spoken_digits,
)
from .strings import DIGIT_STRING_PAD, digit_string_width, digit_strings
from .vocab import CharVocab

__all__ = [
    "CharVocab", "DATE_FORMATS", "DATE_RANGE", "DIGIT_NAMES", "DIGIT_STRING_PAD", "Data",
    "DatasetUnavailableError", "FASHION_NAMES", "FLOWERS_SIZE", "FLOWERS_SMOKE_SIZE",
    "FLOWER_NAMES", "IMDB_CLASS_NAMES", "MONTH_NAMES", "SMOKE_BASE_WEIGHTS", "SPLITS",
    "WEEKDAY_NAMES", "date_splits",
    "dates", "digit_string_width", "digit_strings", "fetch", "format_date", "load", "names",
    "register", "resize_images", "review_set", "synthetic_flowers", "to_dataset",
    "DIGIT_WORDS", "SPEECH_MAX_LEN", "SPEECH_RATE", "spoken_digit_strings", "synthetic_spoken_digits",
]  # fmt: skip
