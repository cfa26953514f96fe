"""Understanding backends: the agent's utterance → dialogue acts.

The default, :class:`LexicalUnderstanding`, matches the scenario pack's lexicon with compiled
regular expressions: fast, deterministic and model-free. Other backends (embedding, LLM) follow
the :class:`Understanding` protocol and are selected by name with :func:`make_understanding`.

Gaming and broken text is recognised here and becomes an act the dynamics punish, never an
exception: empty text is ``silence``, very long text ``rambling``, text about the simulator
``manipulation``, a repeated message ``repeat``, more than a few topics at once ``topic_dump``
and a pile of keywords ``keyword_stuffing``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ptod_env import acts as A
from ptod_env.acts import AgentAct

if TYPE_CHECKING:
    from ptod_env.scenario import ConcernSpec, ScenarioPack

_TOKEN = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# Text that talks about the simulator or the reward instead of to the customer.
_META = re.compile(
    r"\b(?:simulat\w*|system prompt|prompt injection|jailbreak|language model|as an ai|"
    r"ignore (?:all |any |your |the |my |previous |prior |above )*instructions|"
    r"(?:the )?(?:customer|user|merchant|courier|owner|rider) (?:agrees|accepts|says yes|signs up|has agreed)|"
    r"reward (?:function|signal|model)|you must (?:agree|accept|say yes)|"
    r"(?:say|type|output|respond with) (?:yes|accept)|"
    r"\[accept(?:ed)?\]|<\|[a-z_]+\|>)"
)
# Every alternative of _META contains one of these words (or "simulat" / "<|").
_META_WORDS = frozenset(
    [
        "prompt",
        "injection",
        "jailbreak",
        "model",
        "ai",
        "instructions",
        "agrees",
        "accepts",
        "yes",
        "signs",
        "agreed",
        "reward",
        "agree",
        "accept",
        "accepted",
    ]
)
# Common English words, so that plain sentences without lexicon hits are still "intelligible".
_COMMON_WORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "but",
        "by",
        "can",
        "could",
        "day",
        "did",
        "do",
        "does",
        "doing",
        "don't",
        "for",
        "from",
        "get",
        "go",
        "going",
        "good",
        "great",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "him",
        "his",
        "how",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "it",
        "it's",
        "its",
        "just",
        "know",
        "let",
        "like",
        "look",
        "make",
        "me",
        "more",
        "most",
        "much",
        "my",
        "need",
        "no",
        "not",
        "now",
        "of",
        "off",
        "oh",
        "ok",
        "okay",
        "on",
        "one",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "please",
        "really",
        "right",
        "say",
        "see",
        "she",
        "should",
        "so",
        "some",
        "sure",
        "take",
        "tell",
        "than",
        "thank",
        "thanks",
        "that",
        "that's",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "thing",
        "think",
        "this",
        "those",
        "time",
        "to",
        "today",
        "too",
        "up",
        "us",
        "very",
        "want",
        "was",
        "we",
        "we're",
        "well",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "would",
        "yes",
        "yeah",
        "you",
        "you're",
        "your",
        "yours",
    ]
)


@runtime_checkable
class Understanding(Protocol):
    """Maps the agent's utterance to dialogue acts.

    ``history`` holds the agent's earlier utterances in this episode (oldest first), so a
    backend can recognise repetition. Implementations must be deterministic given their inputs
    and never raise on odd text: anything unusual is an act.
    """

    def understand(self, text: str, history: Sequence[str]) -> list[AgentAct]: ...


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens ("what's", "dine-in" and "24" are one token each)."""
    return _TOKEN.findall(text.lower())


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """Lower-case words only: what two messages must share to count as the same message."""
    return " ".join(tokens(text))


class PhraseIndex:
    """Finds phrases (word sequences) in tokenized text by n-gram lookup.

    Much faster than one alternation regex per phrase list, and every phrase is matched on
    whole tokens. ``find`` reports every phrase at every position; ``find_longest`` reports the
    longest phrase starting at each position and skips the tokens it covers (so "setup fee"
    hides "setup").
    """

    def __init__(self, phrases: Iterable[tuple[str, Any]]):
        """``phrases``: ``(phrase, label)`` pairs; a phrase may carry several labels."""
        self._labels: dict[tuple[str, ...], list[Any]] = {}
        for phrase, label in phrases:
            key = tuple(tokens(phrase))
            if key and label not in self._labels.get(key, ()):
                self._labels.setdefault(key, []).append(label)
        # Phrase lengths by first word, longest first: most words start no phrase at all.
        lengths: dict[str, set[int]] = {}
        for key in self._labels:
            lengths.setdefault(key[0], set()).add(len(key))
        self._lengths = {word: sorted(ns, reverse=True) for word, ns in lengths.items()}

    def find(self, words: Sequence[str]) -> list[Any]:
        """The labels of every phrase occurrence, overlapping ones included."""
        found: list[Any] = []
        for i, word in enumerate(words):
            for n in self._lengths.get(word, ()):
                found += self._labels.get(tuple(words[i : i + n]), ())
        return found

    def find_longest(self, words: Sequence[str]) -> list[tuple[str, Any]]:
        """``(phrase, label)`` pairs, longest match first at each position, non-overlapping."""
        found: list[tuple[str, Any]] = []
        covered = 0
        for i, word in enumerate(words):
            if i < covered or word not in self._lengths:
                continue
            for n in self._lengths[word]:
                labels = self._labels.get(tuple(words[i : i + n]))
                if labels:
                    phrase = " ".join(words[i : i + n])
                    found += [(phrase, label) for label in labels]
                    covered = i + n
                    break
        return found


def topic_index(concerns: Iterable[ConcernSpec]) -> PhraseIndex:
    """Keyword → concern id over a concern bank (the evidence a listener picks topics up from)."""
    return PhraseIndex((kw, spec.id) for spec in concerns for kw in spec.keywords)


class LexicalUnderstanding:
    """Lexicon- and keyword-based understanding (the default backend).

    Per sentence: topic keywords in a question are a ``probe`` of that topic; in a statement with
    an address marker ("we", "you keep", "there is no"...) an ``address``, or an ``offer`` when an
    offer phrase is present; otherwise a ``pitch`` of the topic. Untargeted acts come from the
    lexicon's phrase lists.
    """

    def __init__(self, pack: ScenarioPack):
        self.rules = pack.rules
        lex = pack.lexicon
        categories = ("greet", "probe_open", "empathize", "offer", "close", "pitch", "small_talk", "address_markers")
        self._lexicon = PhraseIndex((p, c) for c in categories for p in lex[c])
        self._question_words = frozenset(w for phrase in lex["question_words"] for w in tokens(phrase))
        self._topics = topic_index(pack.concerns)
        vocabulary = set(_COMMON_WORDS)
        for text in pack.corpus():
            vocabulary.update(tokens(text))
        self._vocabulary = frozenset(vocabulary)

    def understand(self, text: str, history: Sequence[str] = ()) -> list[AgentAct]:
        if not isinstance(text, str):
            raise TypeError(f"utterance must be str, got {type(text).__name__}")
        if not text.strip():
            return [AgentAct(A.SILENCE)]
        if len(text) > self.rules.max_utterance_chars:
            return [AgentAct(A.RAMBLING)]
        low = text.lower()
        norm = normalize(low)
        words = norm.split()
        # The meta-text regex is the costliest check; run it only when a word it needs is there.
        if (not _META_WORDS.isdisjoint(words) or "simulat" in low or "<|" in low) and _META.search(low):
            return [AgentAct(A.MANIPULATION)]
        if norm and any(norm == normalize(h) for h in history):
            return [AgentAct(A.REPEAT)]
        if not words or len([w for w in words if w in self._vocabulary]) < 0.4 * len(words):
            return [AgentAct(A.UNINTELLIGIBLE)]

        sentences = []
        for sentence in _SENTENCE.findall(low):
            sentence_words = tokens(sentence)
            sentences.append((sentence.strip(), sentence_words, self._topics.find_longest(sentence_words)))
        hits = [hit for *_, sentence_hits in sentences for hit in sentence_hits]
        if hits:
            if len({topic for _, topic in hits}) >= self.rules.topic_dump_threshold:
                return [AgentAct(A.TOPIC_DUMP)]
            keywords = [kw for kw, _ in hits]
            if max(map(keywords.count, set(keywords))) >= 3 or (len(hits) >= 5 and len(hits) > 0.3 * len(words)):
                return [AgentAct(A.KEYWORD_STUFFING)]

        found: list[AgentAct] = []
        for sentence, sentence_words, sentence_hits in sentences:
            found += self._sentence_acts(sentence, sentence_words, sentence_hits)
        seen: set[AgentAct] = set()
        unique = [a for a in found if not (a in seen or seen.add(a))]
        topical = {a.act for a in unique if a.topic is not None}
        # An untargeted pitch or offer adds nothing when the same message has a topical one.
        unique = [a for a in unique if not (a.topic is None and a.act in topical)]
        return unique or [AgentAct(A.SMALL_TALK)]

    def _sentence_acts(self, sentence: str, words: list[str], hits: list[tuple[str, str]]) -> list[AgentAct]:
        present = set(self._lexicon.find(words))
        acts = [AgentAct(act) for act in ("greet", "empathize", "small_talk") if act in present]
        question = sentence.endswith("?") or (bool(words) and words[0] in self._question_words)
        topics = list(dict.fromkeys(topic for _, topic in hits))
        if topics:
            if question:
                kind = A.PROBE
            elif "offer" in present:
                kind = A.OFFER
            elif "address_markers" in present:
                kind = A.ADDRESS
            else:
                kind = A.PITCH
            acts += [AgentAct(kind, t) for t in topics]
        else:
            if "probe_open" in present:
                acts.append(AgentAct(A.PROBE_OPEN))
            acts += [AgentAct(act) for act in ("offer", "pitch") if act in present]
        if "close" in present:
            acts.append(AgentAct(A.CLOSE))
        return acts


UnderstandingFactory = Callable[..., Understanding]
_FACTORIES: dict[str, Callable[[], UnderstandingFactory]] = {
    "lexical": lambda: LexicalUnderstanding,
    # Optional backends live in ptod_env.backends and import their dependencies only when chosen.
    "embedding": lambda: importlib.import_module("ptod_env.backends.embedding").EmbeddingUnderstanding,
    "llm": lambda: importlib.import_module("ptod_env.backends.llm_understanding").LLMUnderstanding,
}


def register_understanding(name: str, loader: Callable[[], UnderstandingFactory]) -> None:
    """Make a backend selectable by name. ``loader`` returns the factory lazily, so optional
    dependencies are imported only when the backend is used."""
    _FACTORIES[name] = loader


def understanding_names() -> tuple[str, ...]:
    return tuple(_FACTORIES)


def make_understanding(spec: str | Understanding, pack: ScenarioPack, **kwargs: Any) -> Understanding:
    """Build an understanding backend from a name (``"lexical"``...) or pass an instance through."""
    if isinstance(spec, str):
        if spec not in _FACTORIES:
            raise ValueError(f"unknown understanding backend {spec!r}; choose from {list(_FACTORIES)}")
        return _FACTORIES[spec]()(pack, **kwargs)
    if isinstance(spec, Understanding):
        if kwargs:
            raise ValueError("understanding_kwargs are only used with a backend name, not an instance")
        return spec
    raise TypeError(f"understanding must be a backend name or an Understanding instance, got {type(spec).__name__}")
