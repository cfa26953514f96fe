"""Static word vectors distilled from all-MiniLM-L6-v2: numpy at read time, no model.

Each entry of MiniLM's word-piece vocabulary (whole words and ``##`` continuation pieces) was
embedded alone by the model, the table reduced by PCA and stored as float16
(``ptod_env/reading/data/word_vectors.npz``, built by ``python -m ptod_env.reading.build``). A
word not in the table is split into word pieces, greedy longest match first, as MiniLM's own
tokenizer does, so typos and rare words still land near their parts.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Sequence
from functools import cache, lru_cache, reduce
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
VECTORS_FILE = DATA / "word_vectors.npz"


class WordVectors:
    """Unit word vectors by word, with a word-piece fallback for unknown words.

    Args:
        words: the table's entries; continuation pieces start with ``##``.
        vectors: ``(len(words), dims)`` array.

    Attributes:
        fingerprint: a hash of ``words`` and ``vectors`` as given (dtype, shape, values): what is
            fitted on the table is stored under it.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray):
        # The table's identity as given (words, dtype, shape, values), for what is fitted on it.
        given = np.ascontiguousarray(vectors)
        digest = hashlib.sha256("\n".join(words).encode())
        digest.update(f"{given.dtype.str} {given.shape}".encode())
        digest.update(given.tobytes())
        self.fingerprint = digest.hexdigest()
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = vectors / np.maximum(norms, 1e-8)
        self.index = {word: i for i, word in enumerate(words)}
        self.dims = self.vectors.shape[1]
        self.words = frozenset(w for w in words if not w.startswith("##"))
        self.vector = lru_cache(maxsize=65536)(self._vector)

    def _pieces(self, word: str) -> list[int] | None:
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else f"##{word[start:end]}"
                if piece in self.index:
                    pieces.append(self.index[piece])
                    start = end
                    break
            else:
                return None
        return pieces

    def _vector(self, word: str) -> np.ndarray | None:
        if word in self.index:
            return self.vectors[self.index[word]]
        pieces = self._pieces(word.replace("'", ""))
        if not pieces:
            return None
        mean = self.vectors[pieces].mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-8)

    def mean(self, words: Sequence[str]) -> np.ndarray:
        """The normalised mean vector of ``words`` (zeros when none has a vector)."""
        found = [v for v in map(self.vector, words) if v is not None]
        if not found:
            return np.zeros(self.dims, dtype=np.float32)
        # Summed one by one and normed by hand: for a handful of 64-float rows, numpy's call
        # overhead is most of the cost.
        total = reduce(operator.add, found)
        return total / max(math.sqrt(float(total @ total)), 1e-8)


@cache
def shipped_word_vectors() -> WordVectors:
    """The shipped table, loaded once per process."""
    with np.load(VECTORS_FILE) as data:
        return WordVectors(str(data["words"]).split("\n"), data["vectors"])
