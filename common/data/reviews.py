"""Movie reviews (lab 06): ``imdb_reviews``.

Full = tensorflow-datasets' IMDB reviews (25,000 train / 25,000 test, labelled
negative/positive); smoke = :func:`review_set`, template-generated reviews built so that word
order decides the label (a bag of words is at chance, a sequence model is not).
"""

from __future__ import annotations

import numpy as np

from ..env import Profile
from .registry import Data, register, tfds_supervised

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
    arrays = tfds_supervised(
        "imdb_reviews", {"train": "train[:90%]", "validation": "train[90%:]", "test": "test"}
    )
    texts = {k: (_decode_texts(x), y) for k, (x, y) in arrays.items()}
    return Data(
        "imdb_reviews",
        "tensorflow-datasets 'imdb_reviews' (train 22,500 / validation 2,500 / test 25,000)",
        *texts["train"], *texts["validation"], *texts["test"], IMDB_CLASS_NAMES,
    )  # fmt: skip
