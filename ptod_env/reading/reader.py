"""The default understanding backend: natural English read by a small model, topics by the pack.

Per sentence, the act model (:mod:`ptod_env.reading.model`, pack-independent, trained on the DEV
lines) scores the act families; the pack's own data decides the topic. A concern classifier
fitted on the pack's phrasings (and on lines that name no concern) ranks the concerns: when a
keyword is said, its first concern (keyword concerns it ranks close behind stay too); when none
is, the concern it is sure of, or none when it is sure there is none, and failing both the
concern whose phrasing lines lie nearest, whose phrasings share the most words with the
sentence, or lie nearest in the static word-vector space. A concern's phrasings are the pack's
own (label, description, keywords, hints, voices, probes, answers) and labelled lines about it
(for a shipped pack, its DEV lines; any pack may pass its own). A probe that names no concern
itself ("Is that what's worrying you?") is about what the message said before it; a question
that the next sentence answers ("Worried about the cut? It's 12%, flat.") is part of the answer,
not a probe. A probe with a topic is a ``probe`` of it, without one an open probe; an answer with
a topic is an ``address``, without one a ``pitch``. Every fault (silence, rambling, manipulation,
repeat, unintelligible, topic dump, keyword stuffing) is ruled by the lexical backend's screen,
which this class reuses; only its vocabulary of known words is larger (every whole word of the
vector table).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import warnings
import weakref
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ptod_env import acts as A
from ptod_env.acts import AgentAct
from ptod_env.reading.cues import CUES
from ptod_env.reading.labelled import concern_phrasings, dev_lines, untargeted_lines
from ptod_env.reading.model import CLASSES, TOPIC, ActModel, bucket, fit_linear, ngrams, shipped_act_model
from ptod_env.reading.vectors import DATA, WordVectors, shipped_word_vectors
from ptod_env.speech import line_fields
from ptod_env.understanding import COMMON_WORDS, LEXICON_CATEGORIES, LexicalUnderstanding, PhraseIndex, tokens

if TYPE_CHECKING:
    from ptod_env.scenario import ScenarioPack

ACT_THRESHOLD = 0.5
"""A family is read when its score reaches this; failing that, the best-scoring family."""
CAREFUL = frozenset({"answer", "offer", "close"})
"""Families read as the best-scoring one only from :data:`CAREFUL_THRESHOLD`: crediting an answer
or a close needs clearer evidence than small talk does."""
CAREFUL_THRESHOLD = 0.2
_ACT_LOGIT = math.log(ACT_THRESHOLD / (1 - ACT_THRESHOLD))
_CAREFUL_LOGIT = math.log(CAREFUL_THRESHOLD / (1 - CAREFUL_THRESHOLD))
UNSAID_ANSWER_THRESHOLD = 0.75
"""A sentence that says no concern keyword is read as an answer only from this score: "The
tournament final is on Sunday" sounds like a statement of fact, and the topic reader finds
Sundays in how people talk about working hours."""
_UNSAID_ANSWER_LOGIT = math.log(UNSAID_ANSWER_THRESHOLD / (1 - UNSAID_ANSWER_THRESHOLD))
TOPIC_SIMILARITY = 0.65
"""Least cosine similarity between a sentence's content words and a concern's nearest phrasing
for the concern to be its topic when no keyword is said, and the least lead over the next concern
(:data:`TOPIC_MARGIN`). Chosen on the DEV set."""
TOPIC_MARGIN = 0.03
SHARED_WORDS = 2.5
"""Least weight of words a sentence shares with a concern's phrasings (and lead over the next
concern, :data:`SHARED_MARGIN`) for it to be the topic when no keyword is said."""
SHARED_MARGIN = 0.5
NEAR_WORD = 0.7
"""Least cosine similarity for an unshared word to count as a concern's phrasing word."""
GENERIC_SHARE = 0.5
"""A word used by the phrasings of at least this share of the concerns ("worried", "feel") says
nothing about which one a sentence means: the vector similarity leaves it out."""
NEAREST_K = 3
NEAREST_SIMILARITY = 0.25
"""Least mean similarity of a sentence to a concern's nearest phrasing lines (and lead over the
next concern, :data:`NEAREST_MARGIN`) for it to be the topic when no keyword is said."""
NEAREST_MARGIN = 0.08
CONCERN_PROBABILITY = 0.5
"""Least probability the concern classifier gives a concern (and lead over the next class,
:data:`CONCERN_MARGIN`) for it to be the topic of a sentence that says no keyword."""
CONCERN_MARGIN = 0.2
UNTARGETED_PROBABILITY = 0.8
"""A sentence without a keyword that the concern classifier puts in its "no concern" class with
at least this probability has no topic (a pitch, an open probe, an untargeted offer)."""
KEYWORD_NEAREST_WEIGHT = 4.0
"""When a sentence says a keyword, the concern ranked first is the one with the best classifier
probability (over the concerns alone) plus this times its nearest phrasing lines' similarity
(round 5: the two disagree on paraphrases, and together they are right more often than either)."""
PROBE_NEAREST_WEIGHT = 2.0
"""A probe that says no keyword and that the classifier is not sure of takes the concern with the
best probability plus this times its nearest lines' similarity, rather than none (an open probe):
the act model has already heard a question about something in particular."""
KEYWORD_SHARE = 0.5
"""When a sentence says a keyword, its topic is the concern ranked first (above), and each
concern whose keyword it says stays a topic too when its probability is at least this share of
the first one's ("The app routes you along bike lanes" is about road safety, not the app)."""
SHARED_SHARE = 0.75
"""Of the concerns left then, one stays only if the weight of words the sentence shares with its
phrasings is at least this share of the best one's: "Do you need to cash out your earnings
fast?" is about getting paid quickly, not about income."""
CONCERN_BUCKETS = 8192
"""Hash buckets of the concern classifier's stemmed unigrams and bigrams."""
_JOINERS = frozenset({"and", "plus", "or", "also"})
"""Words that join clauses: each clause of a targeted sentence may name its own concern."""
_CLAUSE = re.compile(rf"[,;:]|\b(?:{'|'.join(sorted(_JOINERS))})\b")
"""Where the topic-dump rule splits a sentence into clauses: the joining words, and punctuation."""
CLAUSE_SHARE = 0.1
"""A concern the classifier is sure of in one clause is a topic too when the whole sentence gives
it at least this share of its first concern's probability ("a road safety course plus a helmet
and lights at no cost" is about safety, not vehicle costs)."""
CONCERN_FIT = {"l2": 1e-4, "steps": 500, "lr": 0.05}
"""The concern classifier's fit: full-batch Adam from zeros (:func:`~ptod_env.reading.model.fit_linear`)."""
CONCERN_MODELS_FILE = DATA / "concern_models.npz"
"""The shipped packs' concern classifiers, fitted by ``python -m ptod_env.reading.build`` and
stored under their :attr:`TopicReader.concern_model_key`."""
CONCERN_MODEL_FORMAT = 1
"""Part of every concern model's key: bump it when the code of the classifier's features or fit
changes (the data and settings are in the key already), so every stored model goes stale."""
REBUILD = "python -m ptod_env.reading.build --concerns-only"
"""The command that rebuilds :data:`CONCERN_MODELS_FILE`, as messages about it say."""


# Packs are not hashable: by id, with a weak reference to tell a reused id from the same pack.
_TOPIC_READERS: dict[int, tuple[weakref.ref, TopicReader]] = {}


@cache
def shipped_phrasings(pack_name: str) -> dict[str, list[str]]:
    """How the DEV lines phrase each concern of the shipped pack ``pack_name`` (none for another
    pack: a third-party pack's own phrasings suffice, or pass ``phrasings=``)."""
    return concern_phrasings(dev_lines(), pack_name)


@cache
def shipped_untargeted(pack_name: str) -> list[str]:
    """The DEV lines of the shipped pack ``pack_name`` that name no concern (none for another pack)."""
    return untargeted_lines(dev_lines(), pack_name)


def shipped_topic_reader(pack: ScenarioPack) -> TopicReader:
    """The topic reader of ``pack`` with the shipped vectors and phrasings, built once per pack
    (every env of a vector env shares it)."""
    held = _TOPIC_READERS.get(id(pack))
    if held is None or held[0]() is not pack:
        held = _TOPIC_READERS[id(pack)] = (
            weakref.ref(pack),
            TopicReader(pack, shipped_word_vectors(), shipped_phrasings(pack.name), shipped_untargeted(pack.name)),
        )
        weakref.finalize(pack, _TOPIC_READERS.pop, id(pack), None)
    return held[1]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stem, the same for text and pack words ("lock", "locked", "locks")."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith(("ss", "us", "is")):
            return word[: -len(suffix)] + keep
    return word


class TopicReader:
    """The concern a sentence is about, from the pack's phrasings.

    Four pieces of evidence: a concern classifier fitted on the pack's phrasings (on first use,
    once per reader: the stored one when :data:`CONCERN_MODELS_FILE` holds its
    :attr:`concern_model_key`, as for the shipped packs, else fitted then); the sentence's
    similarity to each concern's nearest phrasing lines (stems weighted by inverse line
    frequency); the words it shares with each concern's phrasings, stemmed and weighted by how
    few concerns use them (a keyword counts double); and the cosine similarity of its content
    words to the concern's nearest phrasing.

    Args:
        pack: the scenario pack (its concerns' own phrasings, its pitches and open probes).
        vectors: the static word vectors.
        phrasings: more phrasings per concern id (labelled lines that probe or answer it).
        untargeted: lines that name no concern (pitches, open probes, untargeted offers), beside
            the pack's own pitches and open probes.
    """

    def __init__(
        self,
        pack: ScenarioPack,
        vectors: WordVectors,
        phrasings: Mapping[str, Sequence[str]] | None = None,
        untargeted: Sequence[str] = (),
    ):
        self.vectors = vectors
        self.stop = COMMON_WORDS | set(tokens(f"{pack.company} {pack.product}"))
        self.ids = [spec.id for spec in pack.concerns]
        self._keyword_concerns = [(keyword, i) for i, spec in enumerate(pack.concerns) for keyword in spec.keywords]
        self._keywords = PhraseIndex(self._keyword_concerns)
        phrasings = phrasings or {}
        fields = line_fields(pack, "Sam")
        # The classifier's lines: (class, text), the last class being "no concern".
        self._examples = [
            (len(self.ids), text)
            for text in (
                *untargeted,
                *(line.format(**fields) for kind in (A.PITCH, A.PROBE_OPEN) for line in pack.agent_lines.get(kind, ())),
            )
        ]
        rows, owners, vocab = [], [], []
        lines: list[tuple[int, frozenset[str]]] = []
        for spec in pack.concerns:
            concern = self.ids.index(spec.id)
            self._examples += [(concern, text) for text in (spec.label, spec.description, *spec.keywords)]
            for text in (*spec.hints, *spec.voices, *spec.probes, *spec.answers, *phrasings.get(spec.id, ())):
                self._examples.append((concern, text))
                if stems := frozenset(map(stem, self.content(tokens(text)))):
                    lines.append((self.ids.index(spec.id), stems))
            texts = (
                spec.label,
                spec.description,
                *spec.keywords,
                *spec.hints,
                *spec.voices,
                *spec.probes,
                *spec.answers,
                *phrasings.get(spec.id, ()),
            )
            words: dict[str, float] = {}
            for text in texts:
                content = self.content(tokens(text))
                words.update(dict.fromkeys(map(stem, content), 1.0))
                vector = self.vectors.mean(content)
                if vector.any():
                    rows.append(vector)
                    owners.append(self.ids.index(spec.id))
            for keyword in spec.keywords:
                words.update(dict.fromkeys(map(stem, self.content(tokens(keyword))), 2.0))
            vocab.append(words)
        spread = {w: sum(w in v for v in vocab) for v in vocab for w in v}
        self._generic = frozenset(w for w, n in spread.items() if n >= GENERIC_SHARE * len(vocab))
        self.weights = {w: np.array([v.get(w, 0.0) * np.log(len(vocab) / spread[w]) for v in vocab]) for w in spread}
        self.prototypes = np.stack(rows)
        # Each concern's phrasings are consecutive rows: where each concern's run starts.
        owners = np.array(owners)
        self._runs = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        self._run_owner = owners[self._runs]
        # The phrasings' words with a vector, for words a sentence says that no phrasing uses.
        near = [(w, v) for w in self.weights if (v := self.vectors.vector(w)) is not None]
        self._near_vectors = np.stack([v for _, v in near])
        self._near_weights = np.stack([self.weights[w] for w, _ in near])
        self._word_weight = lru_cache(maxsize=65536)(self._stem_weight)
        self._probabilities = lru_cache(maxsize=16384)(self._sentence_probabilities)
        self._index_lines(lines)

    def _index_lines(self, lines: list[tuple[int, frozenset[str]]]) -> None:
        """Each phrasing line as its stems weighted by inverse line frequency: per stem, the lines
        that say it and its weight in each (rows of unit length)."""
        frequency: dict[str, int] = {}
        for _, stems in lines:
            for w in stems:
                frequency[w] = frequency.get(w, 0) + 1
        self._idf = {w: math.log(len(lines) / n) for w, n in frequency.items()}
        norms = [math.sqrt(sum(self._idf[w] ** 2 for w in stems)) or 1.0 for _, stems in lines]
        postings: dict[str, tuple[list[int], list[float]]] = {}
        # Lines sorted by concern, so each concern's lines are one run.
        order = sorted(range(len(lines)), key=lambda j: lines[j][0])
        for row, j in enumerate(order):
            for w in lines[j][1]:
                entry = postings.setdefault(w, ([], []))
                entry[0].append(row)
                entry[1].append(self._idf[w] / norms[j])
        self._postings = {w: (np.array(rows), np.array(weights)) for w, (rows, weights) in postings.items()}
        owners = np.array([lines[j][0] for j in order], dtype=np.int64)
        self._line_count = len(lines)
        # Each concern's lines as one row of a table, padded with the index of an extra -inf.
        runs = [np.flatnonzero(owners == c) for c in range(len(self.ids))]
        self._line_owners = np.array([c for c, rows in enumerate(runs) if len(rows)], dtype=np.int64)
        runs = [rows for rows in runs if len(rows)]
        self._line_table = np.full((len(runs), max(map(len, runs), default=0)), len(lines), dtype=np.int64)
        for i, rows in enumerate(runs):
            self._line_table[i, : len(rows)] = rows
        self._line_counts = np.minimum([len(rows) for rows in runs], NEAREST_K)

    def concern_features(self, words: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """The concern classifier's input: ``(dense, hashed n-grams)``: the content words' mean
        vector, how often each concern's keywords are said (log), and the content words' stems
        as hashed unigrams and bigrams."""
        content = self.content(list(words))
        stems = [stem(w) for w in content]
        said = np.zeros(len(self.ids), dtype=np.float32)
        for _, concern in self._keywords.find_longest(list(words)):
            said[concern] += 1
        dense = np.concatenate([self.vectors.mean(content), np.log1p(said)])
        grams = [f"u {w}" for w in stems] + [f"b {a} {b}" for a, b in itertools.pairwise(stems)]
        return dense, [bucket(gram, CONCERN_BUCKETS) for gram in grams]

    @cached_property
    def concern_model_key(self) -> str:
        """A hash of exactly what the concern classifier's fit depends on: its lines (class, text)
        in order, the concern ids, the keywords and stop words its features use, the word vectors'
        :attr:`~ptod_env.reading.vectors.WordVectors.fingerprint`, :data:`CONCERN_BUCKETS`,
        :data:`CONCERN_FIT` and :data:`CONCERN_MODEL_FORMAT`."""
        determinants = {
            "format": CONCERN_MODEL_FORMAT,
            "buckets": CONCERN_BUCKETS,
            "fit": CONCERN_FIT,
            "vectors": self.vectors.fingerprint,
            "concerns": self.ids,
            "keywords": self._keyword_concerns,
            "stop": sorted(self.stop),
            "examples": self._examples,
        }
        return hashlib.sha256(json.dumps(determinants, ensure_ascii=False).encode()).hexdigest()

    @cached_property
    def _classifier(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The concern classifier's dense weights, hashed weights and bias: the stored model of the
        same key when there is one (a shipped pack), else fitted here."""
        weights, bias = self.stored_concern_model(CONCERN_MODELS_FILE) or self.fit_concern_classifier()
        return weights[:-CONCERN_BUCKETS], weights[-CONCERN_BUCKETS:], bias

    def stored_concern_model(self, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """The concern classifier ``(weights, bias)`` stored in ``path`` under this reader's
        :attr:`concern_model_key`, or None when there is none. A file that is missing, unreadable
        or holds arrays of other shapes warns and holds none: the reader then fits the classifier
        itself, as for any other pack."""
        key, classes = self.concern_model_key, len(self.ids) + 1
        shapes = ((self.vectors.dims + len(self.ids) + CONCERN_BUCKETS, classes), (classes,))
        try:
            with np.load(path) as stored:
                if f"{key}_weights" not in stored.files:
                    return None
                weights, bias = stored[f"{key}_weights"], stored[f"{key}_bias"]
            if (weights.shape, bias.shape) != shapes or not weights.dtype == bias.dtype == np.float32:
                found = f"{weights.dtype} {weights.shape}, {bias.dtype} {bias.shape}"
                raise ValueError(f"arrays of {found}, not float32 {shapes}")
        except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error) as error:
            warnings.warn(
                f"cannot read the stored concern models in {path} ({error}): fitting the concern classifier "
                f"instead, a few seconds per pack. Rebuild the file with {REBUILD}",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        return weights, bias

    def fit_concern_classifier(self) -> tuple[np.ndarray, np.ndarray]:
        """A multinomial logistic regression over the concern ids and "no concern", fitted on the
        phrasings (deterministic: full-batch Adam from zeros, fixed steps). Returns float32
        ``(weights, bias)``: weights ``(dense features + CONCERN_BUCKETS, concerns + 1)``, the
        dense rows first."""
        samples = [self.concern_features(tokens(text)) for _, text in self._examples]
        targets = np.zeros((len(samples), len(self.ids) + 1))
        targets[np.arange(len(samples)), [c for c, _ in self._examples]] = 1.0
        weights, bias = fit_linear(samples, targets, buckets=CONCERN_BUCKETS, softmax=True, **CONCERN_FIT)
        return weights.astype(np.float32), bias.astype(np.float32)

    def concern_probabilities(self, words: Sequence[str]) -> np.ndarray:
        """Per concern, then "no concern" last: the classifier's probability (read-only: one
        sentence's topic rules ask for it several times, and get the same array)."""
        return self._probabilities(tuple(words))

    def _sentence_probabilities(self, words: tuple[str, ...]) -> np.ndarray:
        dense_weights, hashed_weights, bias = self._classifier
        dense, hashed = self.concern_features(words)
        z = dense @ dense_weights + bias
        if hashed:
            z += hashed_weights.take(hashed, axis=0).sum(axis=0)
        p = np.exp(z - z.max())
        p /= p.sum()
        p.flags.writeable = False
        return p

    def nearest_lines(self, words: list[str]) -> np.ndarray:
        """Per concern: the mean cosine similarity (stems weighted by inverse line frequency) of
        the sentence to its :data:`NEAREST_K` nearest phrasing lines."""
        query = {w: self._idf[w] for w in dict.fromkeys(map(stem, self.content(words))) if w in self._idf}
        best = np.zeros(len(self.ids))
        norm = math.sqrt(sum(v * v for v in query.values()))
        if not norm:
            return best
        sims = np.zeros(self._line_count + 1)
        sims[-1] = -np.inf
        for w, weight in query.items():
            rows, line_weights = self._postings[w]
            sims[rows] += weight / norm * line_weights
        table = sims[self._line_table]
        k = min(NEAREST_K, table.shape[1])
        nearest = np.partition(table, -k, axis=1)[:, -k:]
        best[self._line_owners] = np.where(np.isfinite(nearest), nearest, 0.0).sum(axis=1) / self._line_counts
        return best

    def content(self, words: list[str]) -> list[str]:
        return [w for w in words if w not in self.stop and len(w) > 2 and not w.isdigit()]

    def shared_words(self, words: list[str]) -> np.ndarray:
        """Per concern: the weight of the sentence's words found in its phrasings; a word no
        phrasing uses counts as its nearest phrasing word when they are close (cosine ≥
        :data:`NEAR_WORD`), scaled by that similarity."""
        total = np.zeros(len(self.ids))
        for w in dict.fromkeys(map(stem, self.content(words))):
            weight = self._word_weight(w)
            if weight is not None:
                total += weight
        return total

    def _stem_weight(self, w: str) -> np.ndarray | None:
        if w in self.weights:
            return self.weights[w]
        if NEAR_WORD <= 1 and (vector := self.vectors.vector(w)) is not None:
            sims = self._near_vectors @ vector
            nearest = int(sims.argmax())
            if sims[nearest] >= NEAR_WORD:
                return self._near_weights[nearest] * sims[nearest]
        return None

    def similarity(self, words: list[str]) -> np.ndarray:
        """Per concern: the cosine similarity of the sentence's words (generic ones left out) to
        its nearest phrasing."""
        vector = self.vectors.mean([w for w in self.content(words) if stem(w) not in self._generic])
        best = np.full(len(self.ids), -1.0)
        if vector.any():
            best[self._run_owner] = np.maximum.reduceat(self.prototypes @ vector, self._runs)
        return best


class NaturalUnderstanding(LexicalUnderstanding):
    """Reads what a person means: act families by a small trained model, topics from the pack.

    Args:
        pack: the scenario pack (keywords and phrasings for topics; the fault screen's lexicon).
        act_model: the act model; default: the shipped one.
        word_vectors: the static word vectors; default: the shipped ones.
    """

    def __init__(
        self,
        pack: ScenarioPack,
        *,
        act_model: ActModel | None = None,
        word_vectors: WordVectors | None = None,
        phrasings: Mapping[str, Sequence[str]] | None = None,
        untargeted: Sequence[str] | None = None,
    ):
        super().__init__(pack)
        self.vectors = word_vectors or shipped_word_vectors()
        self.model = act_model or shipped_act_model()
        self._vocabulary = self._vocabulary | self.vectors.words
        if phrasings is None and word_vectors is None:
            self.topics = shipped_topic_reader(pack)
        else:
            said = shipped_phrasings(pack.name) if phrasings is None else phrasings
            general = shipped_untargeted(pack.name) if untargeted is None else untargeted
            self.topics = TopicReader(pack, self.vectors, said, general)
        # The pack lexicon's phrase lists and the reader's own cues, each phrase labelled with its
        # slot among the dense features' counts: one scan of the sentence finds them all.
        lexicon = pack.lexicon
        slots = [(phrase, i) for i, c in enumerate(LEXICON_CATEGORIES) for phrase in lexicon[c]]
        slots += [(phrase, len(LEXICON_CATEGORIES) + i) for i, c in enumerate(CUES) for phrase in CUES[c]]
        self._cues = PhraseIndex(slots)
        self._cue_count = len(LEXICON_CATEGORIES) + len(CUES)
        self._read = lru_cache(maxsize=16384)(self._read_sentence)

    def features(self, sentence: str, words: list[str], hits: list[tuple[str, str]]) -> tuple[np.ndarray, list[int]]:
        """The act model's input for one sentence: ``(dense, hashed n-grams)``."""
        masked = f" {' '.join(words)} "
        for phrase, _ in hits:
            masked = masked.replace(f" {phrase} ", f" {TOPIC} ")
        counts = [0] * self._cue_count
        for slot in self._cues.find(words):
            counts[slot] += 1
        question = sentence.rstrip().endswith("?")
        dims = self.vectors.dims
        dense = np.empty(dims + 2 + self._cue_count, dtype=np.float32)
        dense[:dims] = self.vectors.mean(words)
        # Whether a concern keyword is said, and whether the sentence asks (the n-grams mark a
        # question only together with its last word).
        dense[dims] = bool(hits)
        dense[dims + 1] = question
        dense[dims + 2 :] = np.log1p(counts)
        return dense, ngrams(masked.split(), question)

    def _classified_topic(self, words: list[str]) -> tuple[str | None, bool]:
        """The concern the classifier is sure of, and whether it is sure there is none."""
        p = self.topics.concern_probabilities(words)
        first, second = np.argsort(-p, kind="stable")[:2]
        if first == len(self.topics.ids):
            return None, p[first] >= UNTARGETED_PROBABILITY
        if p[first] >= CONCERN_PROBABILITY and p[first] - p[second] >= CONCERN_MARGIN:
            return self.topics.ids[first], False
        return None, False

    def _keyword_topics(self, words: list[str], said: list[str]) -> list[str]:
        p = self.topics.concern_probabilities(words)[: len(self.topics.ids)]
        first = self._blended_first(words, self.topics.nearest_lines(words), KEYWORD_NEAREST_WEIGHT)
        topics = [self.topics.ids[first]] + [
            t for t in said if t != self.topics.ids[first] and p[self.topics.ids.index(t)] >= KEYWORD_SHARE * p[first]
        ]
        if len(topics) > 1:
            shared = self.topics.shared_words(words)
            weight = {t: shared[self.topics.ids.index(t)] for t in topics}
            topics = [t for t in topics if weight[t] >= SHARED_SHARE * max(weight.values())]
        return topics

    def _blended_first(self, words: list[str], nearest: np.ndarray, weight: float) -> int:
        """The concern ranked first by the classifier's probability (over the concerns alone)
        plus ``weight`` times the similarity of the sentence's nearest phrasing lines."""
        p = self.topics.concern_probabilities(words)[: len(self.topics.ids)]
        return int(np.argmax(p / p.sum() + weight * nearest))

    def _named_topics(self, sentences: list[tuple[str, list[str], list[tuple[str, str]]]]) -> set[str]:
        """The concerns a message names, for the topic-dump rule: per clause (split at commas and
        joining words), the keyword concerns the classifier keeps. "You can cash out your earnings
        after every shift" names getting paid, not steady earnings and hours; "We cap commission,
        fix the kitchen rush, and cover packaging and reviews" names four."""
        named = set()
        for sentence, *_ in sentences:
            for clause in _CLAUSE.split(sentence):
                words = tokens(clause)
                if said := list(dict.fromkeys(t for _, t in self._topics.find_longest(words))):
                    named.update(self._keyword_topics(words, said))
        return named

    def _similar_topic(
        self, words: list[str], probe: bool = False, said: tuple[str, ...] = (), before: tuple[str, ...] = ()
    ) -> str | None:
        """The topic of a probe or answer that says no keyword. A ``probe`` that names no concern
        itself ("Fuel is brutal right now, I know. Is that what's worrying you?") asks about the
        message: the one concern its keywords name (``said``), else, when the sentence ``before``
        it names one, the best blend of evidence (:data:`PROBE_NEAREST_WEIGHT`) over both
        sentences. Any other probe takes the concern with the best blend of its own evidence unless
        the classifier is sure it names none."""
        if probe and (said or before) and self._names_none(words):
            if said:
                return said[0]
            if not self._names_none(list(before)):
                message = [*before, *words]
                return self.topics.ids[
                    self._blended_first(message, self.topics.nearest_lines(message), PROBE_NEAREST_WEIGHT)
                ]
        classified, untargeted = self._classified_topic(words)
        if classified or untargeted:
            return classified
        nearest = self.topics.nearest_lines(words)
        if probe:
            return self.topics.ids[self._blended_first(words, nearest, PROBE_NEAREST_WEIGHT)]
        order = np.argsort(-nearest, kind="stable")
        if nearest[order[0]] >= NEAREST_SIMILARITY and nearest[order[0]] - nearest[order[1]] >= NEAREST_MARGIN:
            return self.topics.ids[order[0]]
        shared = self.topics.shared_words(words)
        order = np.argsort(-shared, kind="stable")
        if shared[order[0]] >= SHARED_WORDS and shared[order[0]] - shared[order[1]] >= SHARED_MARGIN:
            return self.topics.ids[order[0]]
        similarity = self.topics.similarity(words)
        order = np.argsort(-similarity, kind="stable")
        if similarity[order[0]] >= TOPIC_SIMILARITY and similarity[order[0]] - similarity[order[1]] >= TOPIC_MARGIN:
            return self.topics.ids[order[0]]
        return None

    def _names_none(self, words: list[str]) -> bool:
        """Whether the concern classifier finds "no concern" likelier than any one concern."""
        p = self.topics.concern_probabilities(words)
        return bool(p[-1] >= p[:-1].max())

    def _clause_topics(self, words: list[str]) -> list[str]:
        """The concerns the classifier is sure of in each clause of a sentence joined by "and" /
        "plus" / "or" ("Pick your own hours and cash out every night") and that the whole
        sentence does not rule out (:data:`CLAUSE_SHARE`)."""
        clauses, current = [], []
        for w in words:
            if w in _JOINERS:
                clauses.append(current)
                current = []
            else:
                current.append(w)
        clauses.append(current)
        clauses = [c for c in clauses if len(self.topics.content(c)) >= 2]
        if len(clauses) < 2:
            return []
        found = [t for c in clauses if (t := self._classified_topic(c)[0])]
        if not found:
            return []
        whole = self.topics.concern_probabilities(words)[: len(self.topics.ids)]
        return [t for t in found if whole[self.topics.ids.index(t)] >= CLAUSE_SHARE * whole.max()]

    def families(self, sentence: str, words: list[str], hits: list[tuple[str, str]]) -> list[str]:
        """The act families the model reads in one sentence."""
        logits = self.model.logits(*self.features(sentence, words, hits))
        found = [
            c
            for c, z in zip(CLASSES, logits.tolist(), strict=True)
            if z >= (_UNSAID_ANSWER_LOGIT if c == "answer" and not hits else _ACT_LOGIT)
        ]
        best = int(logits.argmax())
        if not found and (CLASSES[best] not in CAREFUL or logits[best] >= _CAREFUL_LOGIT):
            found = [CLASSES[best]]
        return found

    def _message_acts(self, sentences: list, per_sentence: list[list[AgentAct]]) -> list[AgentAct]:
        """The acts of a message from its sentences' acts. A question about a concern that the next
        sentence answers by itself opens the answer ("Worried about the cut? It's 12%, flat."): it
        is no probe. An answer that takes its topic from the question only ("Is the commission a
        worry? There's a special rate for you.") leaves the probe a probe."""
        acts = [list(a) for a in per_sentence]
        for i in range(len(acts) - 1):
            answered = {a.topic for a in acts[i + 1] if a.act in (A.ADDRESS, A.OFFER) and a.topic}
            answered = {t for t in answered if self._names_itself(sentences[i + 1], t)}
            acts[i] = [a for a in acts[i] if not (a.act == A.PROBE and a.topic in answered)]
        return [act for a in acts for act in a]

    def _names_itself(self, sentence: tuple[str, list[str], list[tuple[str, str]]], topic: str) -> bool:
        """Whether a sentence names ``topic`` on its own: says one of its keywords, or the concern
        classifier ranks it first (above "no concern")."""
        _, words, hits = sentence
        if any(t == topic for _, t in hits):
            return True
        return int(self.topics.concern_probabilities(words).argmax()) == self.topics.ids.index(topic)

    def _sentence_acts(
        self,
        sentence: str,
        words: list[str],
        hits: list[tuple[str, str]],
        said: tuple[str, ...] = (),
        before: Sequence[str] = (),
    ) -> list[AgentAct]:
        return list(self._read(sentence, tuple(words), tuple(hits), said if len(said) == 1 else (), tuple(before)))

    def _read_sentence(
        self,
        sentence: str,
        words: tuple[str, ...],
        hits: tuple[tuple[str, str], ...],
        said: tuple[str, ...],
        before: tuple[str, ...] = (),
    ) -> tuple:
        """The acts of one sentence; ``said``: the one concern the rest of the message names by
        keyword, if any ("Margins are tight, I know. How much of each sale can you give up?");
        ``before``: the words of the sentence before it in the message."""
        families = self.families(sentence, list(words), list(hits))
        topics = list(dict.fromkeys(topic for _, topic in hits))
        targeted = {"probe", "answer", "offer"} & set(families)
        if targeted and topics:
            topics = self._keyword_topics(list(words), topics)
        elif targeted:
            # An offer takes a topic only when the classifier is sure of it: most offers are
            # untargeted ("a free month for you").
            if "probe" in families or "answer" in families:
                similar = self._similar_topic(list(words), probe="answer" not in families, said=said, before=before)
            else:
                similar = self._classified_topic(list(words))[0]
            topics = [similar] if similar else list(said)
        if targeted and len(topics) <= 1:
            topics += [t for t in self._clause_topics(list(words)) if t not in topics]
        acts = []
        for family in families:
            if family == "probe":
                acts += [AgentAct(A.PROBE, t) for t in topics] if topics else [AgentAct(A.PROBE_OPEN)]
            elif family == "answer":
                acts += [AgentAct(A.ADDRESS, t) for t in topics] if topics else [AgentAct(A.PITCH)]
            elif family == "offer":
                acts += [AgentAct(A.OFFER, t) for t in topics] if topics else [AgentAct(A.OFFER)]
            else:
                acts.append(AgentAct(family))
        # An answer that is also an offer counts once, as the offer.
        offered = {a.topic for a in acts if a.act == A.OFFER and a.topic}
        return tuple(a for a in acts if not (a.act == A.ADDRESS and a.topic in offered))
