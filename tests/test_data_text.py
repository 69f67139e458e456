"""common.data text section: the generated review set (smoke) and tfds imdb_reviews (full, mocked)."""

from __future__ import annotations

import numpy as np
import pytest

from common import data
from common.data import reviews


def _words(text: str) -> list[str]:
    return text.replace(".", " ").replace(",", " ").replace(";", " ").split()


def test_review_set_types_shapes_and_balance():
    texts, labels = data.review_set(400, seed=0)
    assert texts.shape == (400,) and texts.dtype == object
    assert all(isinstance(t, str) and t for t in texts)
    assert labels.shape == (400,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == {0, 1}
    assert 0.4 < labels.mean() < 0.6


def test_review_set_is_deterministic_per_seed():
    a_texts, a_labels = data.review_set(50, seed=3)
    b_texts, b_labels = data.review_set(50, seed=3)
    c_texts, _ = data.review_set(50, seed=4)
    assert list(a_texts) == list(b_texts) and np.array_equal(a_labels, b_labels)
    assert list(a_texts) != list(c_texts)


def test_every_review_negates_exactly_one_of_two_opposite_opinions():
    texts, labels = data.review_set(300, seed=1)
    positive, negative = set(reviews._REVIEW_POSITIVE), set(reviews._REVIEW_NEGATIVE)
    negators = set(reviews._REVIEW_NEGATORS)
    for text, label in zip(texts, labels):
        words = _words(text)
        pos = [i for i, w in enumerate(words) if w in positive]
        neg = [i for i, w in enumerate(words) if w in negative]
        assert len(pos) == 1 and len(neg) == 1, text
        assert sum(w in negators for w in words) == 1, text

        # A negator one or two words before an adjective negates it ("not dull", "never really dull").
        negated = [any(w in negators for w in words[max(0, i - 2) : i]) for i in (pos[0], neg[0])]
        assert negated[0] != negated[1], text
        # The label is carried by the adjective that is NOT negated.
        assert label == (0 if negated[0] else 1), text


def test_word_counts_alone_are_at_chance_but_word_pairs_are_not():
    """A bag-of-words classifier is at chance; adding word pairs (order) solves the set."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    train_x, train_y = data.review_set(3000, seed=5)
    test_x, test_y = data.review_set(1000, seed=6)
    scores = {}
    for ngrams in [(1, 1), (1, 2)]:
        vectorizer = CountVectorizer(ngram_range=ngrams)
        classifier = LogisticRegression(max_iter=2000)
        classifier.fit(vectorizer.fit_transform(train_x), train_y)
        scores[ngrams] = classifier.score(vectorizer.transform(test_x), test_y)
    assert 0.4 < scores[(1, 1)] < 0.6, scores
    assert scores[(1, 2)] > 0.9, scores


@pytest.mark.parametrize(
    ("n", "seed", "message"),
    [
        (0, 0, "n must be a positive integer, received 0"),
        (-3, 0, "n must be a positive integer, received -3"),
        (2.5, 0, "n must be a positive integer, received 2.5"),
        (True, 0, "n must be a positive integer, received True"),
        (5, -1, "seed must be a non-negative integer, received -1"),
        (5, "a", "seed must be a non-negative integer, received 'a'"),
    ],
)
def test_review_set_rejects_bad_arguments(n, seed, message):
    with pytest.raises(ValueError, match=message):
        data.review_set(n, seed=seed)


def test_smoke_profile_is_the_generated_set_and_says_so(capsys):
    d = data.load("imdb_reviews", profile="smoke")
    assert "smoke stand-in" in d.source and "smoke stand-in" in capsys.readouterr().out
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (2000, 500, 1000)
    assert d.class_names == ["negative", "positive"] and d.num_classes == 2
    assert d.x_train.dtype == object and isinstance(d.x_train[0], str)
    assert d.y_train.dtype == np.int64
    assert len(set(d.x_train)) == 2000 and not set(d.x_test) & set(d.x_train)  # no duplicates


def test_smoke_texts_go_through_tf_data_and_text_vectorization():
    import keras

    d = data.load("imdb_reviews", profile="smoke", verbose=False)
    x, y = next(iter(d.dataset("train", batch_size=8)))
    assert x.dtype.name == "string" and x.shape == (8,) and y.dtype.name == "int64"
    vectorizer = keras.layers.TextVectorization(max_tokens=200, output_sequence_length=30)
    vectorizer.adapt(d.x_train)
    tokens = vectorizer(d.x_test[:5]).numpy()
    assert tokens.shape == (5, 30) and tokens.max() < 200
    assert "not" in vectorizer.get_vocabulary()


def test_full_profile_loads_imdb_through_tfds_as_python_strings():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=30):
        d = data.load("imdb_reviews", profile="full", verbose=False)
    assert len(d.x_train) == len(d.x_val) == len(d.x_test) == 30
    assert d.x_train.dtype == object and all(isinstance(t, str) for t in d.x_train)
    assert d.y_train.dtype == np.int64 and set(np.unique(d.y_test)) <= {0, 1}
    assert d.class_names == ["negative", "positive"] and "tensorflow-datasets" in d.source
