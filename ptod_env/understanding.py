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
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ptod_env import acts as A
from ptod_env.acts import AgentAct

if TYPE_CHECKING:
    from ptod_env.scenario import ScenarioPack

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# Text that talks about the simulator or the reward instead of to the customer.
_META = re.compile(
    r"\b(?:simulat\w*|system prompt|prompt injection|jailbreak|language model|as an ai|"
    r"ignore (?:all |any |your |the |my |previous |prior |above )*instructions|"
    r"(?:the )?(?:customer|user|merchant|courier|owner|rider) (?:agrees|accepts|says yes|signs up|has agreed)|"
    r"reward (?:function|signal|model)|you must (?:agree|accept|say yes)|(?:say|type|output|respond with) (?:yes|accept)|"
    r"\[accept(?:ed)?\]|<\|[a-z_]+\|>)"
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


def _phrase_regex(phrases: Sequence[str]) -> re.Pattern[str]:
    ordered = sorted({p.strip().lower() for p in phrases}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, p.split())) for p in ordered)
    return re.compile(rf"(?<![a-z])(?:{body})(?![a-z])")


def normalize(text: str) -> str:
    """Lower-case words only: what two messages must share to count as the same message."""
    return " ".join(_WORD.findall(text.lower()))


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
        self._phrases = {
            act: _phrase_regex(lex[act])
            for act in ("greet", "probe_open", "empathize", "offer", "close", "pitch", "small_talk")
        }
        self._address = _phrase_regex(lex["address_markers"])
        self._question_start = _phrase_regex(lex["question_words"])
        self._topic_of = {kw: spec.id for spec in pack.concerns for kw in spec.keywords}
        self._topics = _phrase_regex(list(self._topic_of))
        self._keyword_key = {kw: " ".join(kw.split()) for kw in self._topic_of}
        vocabulary = set(_COMMON_WORDS)
        for text in pack.corpus():
            vocabulary.update(_WORD.findall(text.lower()))
        self._vocabulary = frozenset(vocabulary)

    def understand(self, text: str, history: Sequence[str] = ()) -> list[AgentAct]:
        if not isinstance(text, str):
            raise TypeError(f"utterance must be str, got {type(text).__name__}")
        if not text.strip():
            return [AgentAct(A.SILENCE)]
        if len(text) > self.rules.max_utterance_chars:
            return [AgentAct(A.RAMBLING)]
        low = text.lower()
        if _META.search(low):
            return [AgentAct(A.MANIPULATION)]
        norm = normalize(low)
        if norm and any(norm == normalize(h) for h in history):
            return [AgentAct(A.REPEAT)]
        words = norm.split()
        if not words or sum(w in self._vocabulary for w in words) < 0.4 * len(words):
            return [AgentAct(A.UNINTELLIGIBLE)]

        hits = [" ".join(m.split()) for m in self._topics.findall(low)]
        if hits:
            if len({self._topic_of[h] for h in hits}) >= self.rules.topic_dump_threshold:
                return [AgentAct(A.TOPIC_DUMP)]
            if Counter(hits).most_common(1)[0][1] >= 3 or (len(hits) >= 5 and len(hits) > 0.3 * len(words)):
                return [AgentAct(A.KEYWORD_STUFFING)]

        found: list[AgentAct] = []
        for sentence in _SENTENCE.findall(low):
            found += self._sentence_acts(sentence.strip())
        seen: set[AgentAct] = set()
        unique = [a for a in found if not (a in seen or seen.add(a))]
        topical = {a.act for a in unique if a.topic is not None}
        # An untargeted pitch or offer adds nothing when the same sentence set already has a topical one.
        unique = [a for a in unique if not (a.topic is None and a.act in topical)]
        return unique or [AgentAct(A.SMALL_TALK)]

    def _sentence_acts(self, sentence: str) -> list[AgentAct]:
        acts = [AgentAct(act) for act in ("greet", "empathize", "small_talk") if self._phrases[act].search(sentence)]
        question = sentence.endswith("?") or bool(self._question_start.match(sentence))
        topics = list(dict.fromkeys(self._topic_of[" ".join(m.split())] for m in self._topics.findall(sentence)))
        if topics:
            if question:
                kind = A.PROBE
            elif self._phrases["offer"].search(sentence):
                kind = A.OFFER
            elif self._address.search(sentence):
                kind = A.ADDRESS
            else:
                kind = A.PITCH
            acts += [AgentAct(kind, t) for t in topics]
        elif self._phrases["probe_open"].search(sentence):
            acts.append(AgentAct(A.PROBE_OPEN))
        if not topics:
            for act in ("offer", "pitch"):
                if self._phrases[act].search(sentence):
                    acts.append(AgentAct(act))
        if self._phrases["close"].search(sentence):
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
