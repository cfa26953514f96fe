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
    return [bucket(f"u {w}") for w in words] + [bucket(f"b {a} {b}") for a, b in itertools.pairwise(seq)]


@lru_cache(maxsize=65536)
def bucket(gram: str, buckets: int = BUCKETS) -> int:
    """The hash bucket of an n-gram (deterministic across processes)."""
    return zlib.crc32(gram.encode()) % buckets


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
    l2: float = 1e-4,
    steps: int = 800,
    lr: float = 0.05,
) -> ActModel:
    """One-vs-rest logistic regression on ``(dense, hashed)`` samples and 0/1 ``targets``
    ``(len(samples), len(CLASSES))``, each sample counting ``weights[i]`` times (default once), by
    full-batch Adam from zero weights (deterministic)."""
    weights, bias = fit_linear(samples, targets, buckets=BUCKETS, weights=weights, l2=l2, steps=steps, lr=lr)
    return ActModel(weights, bias)


def fit_linear(
    samples: Sequence[tuple[np.ndarray, Sequence[int]]],
    targets: np.ndarray,
    *,
    buckets: int,
    softmax: bool = False,
    weights: np.ndarray | None = None,
    l2: float = 1e-3,
    steps: int = 400,
    lr: float = 0.05,
) -> tuple[np.ndarray, np.ndarray]:
    """A linear model over ``(dense, hashed)`` samples fitted to ``targets`` ``(len(samples),
    classes)``: one-vs-rest sigmoids on 0/1 targets, or one softmax over the classes
    (``softmax=True``, one-hot targets); each sample counting ``weights[i]`` times (default once);
    by full-batch Adam from zero weights (deterministic). Returns ``(weights, bias)``, the weights
    ``(dims + buckets, classes)`` with the dense rows first."""
    dense = np.stack([d for d, _ in samples]).astype(np.float64)
    counts = np.array([len(h) for _, h in samples])
    rows = np.repeat(np.arange(len(samples)), counts)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for _, h in samples])
    # Sums over each sample's n-grams as one reduceat over the samples that have any.
    filled = np.flatnonzero(counts)
    starts = np.cumsum(counts)[filled] - counts[filled]
    y = np.asarray(targets, dtype=np.float64)
    share = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    share = (share / share.sum())[:, None]
    params = [np.zeros((dense.shape[1], y.shape[1])), np.zeros((buckets, y.shape[1])), np.zeros(y.shape[1])]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        w_dense, w_hashed, bias = params
        z = dense @ w_dense + bias
        if len(cols):
            z[filled] += np.add.reduceat(w_hashed[cols], starts, axis=0)
        if softmax:
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
        else:
            p = 1.0 / (1.0 + np.exp(-z))
        error = (p - y) * share
        spread = error[rows]
        g_hashed = np.stack([np.bincount(cols, spread[:, c], minlength=buckets) for c in range(y.shape[1])], axis=1)
        grads = (dense.T @ error + 2 * l2 * w_dense, g_hashed + 2 * l2 * w_hashed, error.sum(axis=0))
        for param, grad, (m, v) in zip(params, grads, moments, strict=True):
            m *= b1
            m += (1 - b1) * grad
            v *= b2
            v += (1 - b2) * grad * grad
            param -= lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + eps)
    return np.vstack(params[:2]), params[2]
