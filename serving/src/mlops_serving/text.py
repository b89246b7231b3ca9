"""The word tokenizer of text networks: one implementation, run by training and serving.

Keras's ``TextVectorization`` cannot be exported to ONNX (``model.export`` writes a
graph onnxruntime rejects, without an error), so a text network is trained on token
ids and the ids are computed outside the graph, by this module, in both places: the
platform imports it when it fits a network, and the service when it answers. The
fitted vocabulary travels in the bundle (the layout document of the ONNX graph).

Tokens: ASCII letters lowercased (``str.lower`` would also fold e.g. U+212A KELVIN SIGN
into ``k``), then words and numbers with an optional apostrophe suffix
(``[a-z0-9]+(?:'[a-z]+)?``, the same pattern the linear text models use). Ids: 0 pads,
1 is a word outside the vocabulary, 2.. the vocabulary in order, then hashed word
pairs (CRC-32, stable across processes, unlike ``hash``) in ``bigram_buckets`` slots.
A sequence holds the first ``max_words`` words' ids, then their pairs' ids, padded or
cut to ``length``.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

PATTERN = r"[a-z0-9]+(?:'[a-z]+)?"
_WORDS = re.compile(PATTERN)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
PAD, OOV = 0, 1


def words(text: str) -> list[str]:
    return _WORDS.findall(text.translate(_ASCII_LOWER))


@dataclass(frozen=True)
class Tokenizer:
    vocabulary: tuple[str, ...]
    length: int = 800
    max_words: int = 400
    bigram_buckets: int = 0

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        max_vocabulary: int = 30_000,
        min_documents: int = 2,
        **kwargs: Any,
    ) -> Tokenizer:
        """The ``max_vocabulary`` words in most texts (at least ``min_documents``);
        ties broken alphabetically so a refit on the same texts is identical."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(set(words(text)))
        ranked = sorted(
            (w for w, n in counts.items() if n >= min_documents),
            key=lambda w: (-counts[w], w),
        )
        return cls(vocabulary=tuple(ranked[:max_vocabulary]), **kwargs)

    @property
    def size(self) -> int:
        """Embedding rows needed: pad, out-of-vocabulary, words, pair buckets."""
        return 2 + len(self.vocabulary) + self.bigram_buckets

    def _index(self) -> dict[str, int]:
        index = self.__dict__.get("_index_cache")
        if index is None:
            index = {w: i + 2 for i, w in enumerate(self.vocabulary)}
            object.__setattr__(self, "_index_cache", index)
        return index

    def ids(self, text: str) -> list[int]:
        ws = words(text)[: self.max_words]
        index = self._index()
        out = [index.get(w, OOV) for w in ws]
        if self.bigram_buckets:
            base = 2 + len(self.vocabulary)
            out += [
                base + zlib.crc32(f"{a} {b}".encode()) % self.bigram_buckets
                for a, b in pairwise(ws)
            ]
        return out[: self.length]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``[n, length]`` int32 ids, padded with 0."""
        out = np.zeros((len(texts), self.length), dtype=np.int32)
        for i, text in enumerate(texts):
            row = self.ids(text)
            out[i, : len(row)] = row
        return out

    def document(self) -> dict[str, Any]:
        return {
            "type": "words",
            "pattern": PATTERN,
            "length": self.length,
            "max_words": self.max_words,
            "bigram_buckets": self.bigram_buckets,
            "vocabulary": list(self.vocabulary),
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Tokenizer:
        if doc.get("type") != "words" or doc.get("pattern") != PATTERN:
            raise ValueError(
                f"tokenizer {doc.get('type')!r} with pattern {doc.get('pattern')!r} "
                f"is not this package's ('words', {PATTERN!r})"
            )
        return cls(
            vocabulary=tuple(doc["vocabulary"]),
            length=int(doc["length"]),
            max_words=int(doc["max_words"]),
            bigram_buckets=int(doc["bigram_buckets"]),
        )
