"""The act model: which act families a sentence performs, whatever the domain.

A one-vs-rest logistic regression over dense features (the sentence's mean static word vector,
:mod:`ptod_env.reading.vectors`; whether a concern keyword is said; counts of the pack lexicon's
phrase lists and of the reader's own cues, :mod:`ptod_env.reading.cues`) and hashed word unigrams
and bigrams in which the pack's concern keywords are masked as ``<topic>`` (so "we cap the
<topic>" is learnt, not "we cap the commission", and a third-party pack needs no retraining).
Trained on the DEV set only (:func:`ptod_env.reading.build.train`), deterministically (full-batch
Adam from zeros); stored in ``ptod_env/reading/data/act_model.npz``.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from ptod_env import acts as A
from ptod_env.acts import AgentAct

MODEL_FILE = Path(__file__).resolve().parent / "data" / "act_model.npz"
CLASSES = ("greet", "probe_open", "probe", "answer", "offer", "pitch", "empathize", "close", "small_talk")
"""Act families a sentence can perform. ``probe`` (a question about one concern) becomes
``probe(topic)`` and ``answer`` (a statement about one) ``address(topic)`` once the pack's data
names the topic; without a topic they fall back to ``probe_open`` and ``pitch``."""
BUCKETS = 4096
TOPIC = "<topic>"


def act_class(act: AgentAct) -> str:
    """The family a labelled act trains."""
    if act.act == A.ADDRESS:
        return "answer"
    return act.act


def ngrams(words: Sequence[str], question: bool) -> list[int]:
    """Hashed unigrams and bigrams, with start and end marks (a question ends in ``<q>``)."""
    seq = ["<s>", *words, "<q>" if question else "</s>"]
    return [_bucket(f"u {w}") for w in words] + [_bucket(f"b {a} {b}") for a, b in itertools.pairwise(seq)]


@lru_cache(maxsize=65536)
def _bucket(gram: str) -> int:
    return zlib.crc32(gram.encode()) % BUCKETS


class ActModel:
    """Sigmoid scores per family from ``(dense vector, hashed n-grams)``.

    Args:
        weights: ``(dims + BUCKETS, len(CLASSES))``; the dense rows first.
        bias: ``(len(CLASSES),)``.
    """

    def __init__(self, weights: np.ndarray, bias: np.ndarray):
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.dims = self.weights.shape[0] - BUCKETS
        self._dense = np.ascontiguousarray(self.weights[: self.dims])
        self._hashed = self.weights[self.dims :]

    def logits(self, dense: np.ndarray, hashed: Sequence[int]) -> np.ndarray:
        """Log-odds per family (a score of 0.5 is a logit of 0)."""
        z = dense @ self._dense + self.bias
        if hashed:
            z += self._hashed.take(hashed, axis=0).sum(axis=0)
        return z

    def probabilities(self, dense: np.ndarray, hashed: Sequence[int]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(dense, hashed)))

    def save(self, path: Path = MODEL_FILE) -> None:
        np.savez_compressed(path, weights=self.weights.astype(np.float16), bias=self.bias)


@cache
def shipped_act_model() -> ActModel:
    """The shipped act model, loaded once per process."""
    with np.load(MODEL_FILE) as data:
        return ActModel(data["weights"], data["bias"])


def fit(
    samples: Sequence[tuple[np.ndarray, Sequence[int]]],
    targets: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    l2: float = 1e-3,
    steps: int = 400,
    lr: float = 0.05,
) -> ActModel:
    """One-vs-rest logistic regression on ``(dense, hashed)`` samples and 0/1 ``targets``
    ``(len(samples), len(CLASSES))``, each sample counting ``weights[i]`` times (default once), by
    full-batch Adam from zero weights (deterministic)."""
    dense = np.stack([d for d, _ in samples]).astype(np.float64)
    rows = np.concatenate([np.full(len(h), i) for i, (_, h) in enumerate(samples)]).astype(np.int64)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for _, h in samples])
    y = np.asarray(targets, dtype=np.float64)
    share = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    share = (share / share.sum())[:, None]
    params = [np.zeros((dense.shape[1], y.shape[1])), np.zeros((BUCKETS, y.shape[1])), np.zeros(y.shape[1])]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        w_dense, w_hashed, bias = params
        z = dense @ w_dense + bias
        np.add.at(z, rows, w_hashed[cols])
        error = (1.0 / (1.0 + np.exp(-z)) - y) * share
        g_hashed = np.zeros_like(w_hashed)
        np.add.at(g_hashed, cols, error[rows])
        grads = (dense.T @ error + 2 * l2 * w_dense, g_hashed + 2 * l2 * w_hashed, error.sum(axis=0))
        for param, grad, (m, v) in zip(params, grads, moments, strict=True):
            m *= b1
            m += (1 - b1) * grad
            v *= b2
            v += (1 - b2) * grad * grad
            param -= lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + eps)
    return ActModel(np.vstack(params[:2]), params[2])
