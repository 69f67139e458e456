"""Characters ↔ integer ids with ``<PAD>``, ``<START>`` and ``<END>`` (lab 07)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .registry import check_count as _check_count


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
