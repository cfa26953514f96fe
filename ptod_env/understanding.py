"""Understanding backends: the agent's utterance → dialogue acts.

The default, :class:`LexicalUnderstanding`, matches the scenario pack's lexicon with compiled
regular expressions: fast, deterministic and model-free. Other backends (embedding, LLM) follow
the :class:`Understanding` protocol and are selected by name with :func:`make_understanding`.

Gaming and broken text is recognised here and becomes an act the dynamics punish, never an
exception: empty text is ``silence``, very long text ``rambling``, text about the simulator or a
false claim that the user already agreed ``manipulation``, a repeated message ``repeat``, more
than a few topics at once ``topic_dump`` and a pile of keywords ``keyword_stuffing``.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ptod_env import acts as A
from ptod_env.acts import AgentAct

if TYPE_CHECKING:
    from ptod_env.scenario import ConcernSpec, ScenarioPack

# Word characters of any script; an apostrophe joins contractions ("don't"). Hyphens split words,
# so "sign-up" reads as "sign up" and "dine-in" as "dine in", in keywords and in text alike.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# Characters that render as nothing (zero-width spaces and joiners, soft hyphen, bidi controls,
# byte-order mark): "sign\u200bup" must read as "signup", not as two unknown fragments.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufe00-\ufe0f\ufeff\ufff9-\ufffb]"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'"})
# Text that talks about the simulator or the reward instead of to the customer. Sales talk that
# merely uses the words ("if you say yes today", "once a rider signs up") is not in it.
_META = re.compile(
    r"\b(?:simulator|simulated (?:user|customer|person)|this simulation|system prompt|prompt injection|jailbreak|"
    r"language model|as an ai\b|"
    r"ignore (?:all |any |your |the |my |previous |prior |above |earlier )*(?:instructions|rules|prompts?)|"
    r"the (?:customer|user|merchant|courier|owner|rider) (?:now )?"
    r"(?:agrees|accepts|has agreed|has accepted|says yes)\b|"
    r"the (?:customer|user) (?:signs up|is convinced)|"
    r"reward (?:function|signal|model)|you must (?:agree|accept|say yes)|"
    r"(?:type|output|respond with|reply with|answer with|print) [\"']?(?:yes|accept)\b)|"
    r"\[accept(?:ed)?\]|<\|[a-z_]+\|>"
)
# A claim that the user has already agreed. The user has never agreed before the call ends
# (acceptance ends it), so the claim is a lie told to extract a yes: "You've already agreed, so
# let's finalise", "As you said yes earlier...", "Great, since we're agreed...". Closes that ask
# or assume conditionally ("Shall I put you down?", "Once you agree, we send the kit", "If you're
# happy, I'll send the contract") and thanks for agreeing to the call itself are not claims.
# What may not follow "agreed" / "accepted" / "said yes" in such a claim: "to talk", "with you",
# "that fees are high", "an order" (a rider accepts orders).
_CLAIM_TAIL = (
    r"(?! (?:with|that|to (?:talk|chat|speak|meet|hear|listen|have|take|give|a |the call|this call|my call)|"
    r"an? (?!(?:minute|moment|second|while) ago)|orders?\b|deliver|jobs?\b|trips?\b|"
    r"(?:the|this|that|my|our|your|each|every) (?:orders?|deliver|jobs?|trips?|requests?|call|ride)))"
)
_AGREED = rf"(?:(?:agreed|said yes|accepted){_CLAIM_TAIL}|given (?:me |us )?(?:the go.ahead|your consent))"
_FALSE_AGREEMENT = re.compile(
    rf"(?<!have )(?<!had )(?<!did )(?<!if )(?<!unless )(?<!whether )\byou(?:'ve| have)? already {_AGREED}|"
    rf"(?<!soon )(?<!long )\b(?:as|since|because|now that|given that|seeing as|like) (?:you|we)(?:'ve| have| had)? "
    rf"(?:already |just |both |all )?{_AGREED}|"
    rf"\byou {_AGREED}(?: to [a-z ]+?)? (?:earlier|before|already|just now|a (?:minute|moment|second) ago|last time)\b|"
    r"\bas agreed\b|"
    r"\b(?:since|as|now that|given that|seeing as) (?:we're|we are|we've|we have) "
    r"(?:all |both )?(?:agreed|got a deal|a deal)|"
    r"\b(?:we're|we are) (?:all |both )?agreed\b[^.?!]*(?:[.!]|$)|"
    r"\b(?:i'll|i will|let me|i'm going to|i'm gonna) (?:just )?take that as a yes|"
    rf"\bthanks? (?:you )?for (?:agreeing|saying yes|accepting){_CLAIM_TAIL}|"
    r"\b(?:per|as per|following|based on|going by) your (?:earlier |verbal |previous )?"
    r"(?:agreement|consent|yes|go.ahead)\b"
)
STUFFED_SHARE = 0.1
"""A keyword said 3+ times is stuffing when it is at least this share of the message's words."""
_MANIPULATION = (AgentAct(A.MANIPULATION),)
# Every alternative of _META and _FALSE_AGREEMENT contains one of these words (or "<|" or "[").
_META_WORDS = frozenset(
    [
        "simulator",
        "simulated",
        "simulation",
        "prompt",
        "prompts",
        "injection",
        "jailbreak",
        "model",
        "ai",
        "instructions",
        "rules",
        "agrees",
        "accepts",
        "yes",
        "agreed",
        "accepted",
        "reward",
        "agree",
        "accept",
        "signs",
        "convinced",
        "agreeing",
        "accepting",
        "agreement",
        "consent",
        "ahead",
        "deal",
    ]
)
# Common English words, so that plain sentences without lexicon hits are still "intelligible".
COMMON_WORDS = frozenset(
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
        "'s",
    ]
)
# Interjections and chat spellings a person says on the phone, known even to a pack-only reader.
COMMON_WORDS |= frozenset(
    [
        "gotcha",
        "cheers",
        "yep",
        "yup",
        "nope",
        "nah",
        "yeah",
        "hmm",
        "hm",
        "mhm",
        "uh",
        "um",
        "huh",
        "oh",
        "ah",
        "aw",
        "aww",
        "oof",
        "ugh",
        "wow",
        "yay",
        "hiya",
        "heya",
        "ok",
        "okay",
        "okey",
        "dokey",
        "alright",
        "lol",
        "haha",
        "sorry",
        "cool",
        "great",
        "brilliant",
        "awesome",
        "perfect",
        "lovely",
        "absolutely",
        "totally",
        "definitely",
        "sure",
        "certainly",
        "exactly",
        "indeed",
        "fantastic",
        "wonderful",
        "excellent",
        "nice",
        "fine",
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


@lru_cache(maxsize=8192)
def plain_text(text: str) -> str:
    """``text`` as a reader sees it: NFKC-normalised (fullwidth letters become ASCII), invisible
    characters removed, curly apostrophes straightened, lower-cased."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_APOSTROPHES).lower()


def tokens(text: str) -> list[str]:
    """Word tokens of :func:`plain_text`. Contractions stay one token ("don't"), a possessive or
    "is" splits off ("landlord's" → "landlord", "'s"), hyphens separate words ("dine-in" → "dine",
    "in"), so a keyword matches its possessive and hyphenated forms."""
    return list(_tokens(text))


@lru_cache(maxsize=16384)
def _tokens(text: str) -> tuple[str, ...]:
    # Cached: the reader, the quality judge and the repeat check each tokenise the same lines.
    words = []
    for word in _TOKEN.findall(plain_text(text)):
        if word.endswith("'s") and len(word) > 2:
            words += [word[:-2], "'s"]
        else:
            words.append(word)
    return tuple(words)


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
                # A slice past the end is shorter than n: it would count a shorter phrase again.
                if i + n <= len(words):
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


LEXICON_CATEGORIES = ("greet", "probe_open", "empathize", "offer", "close", "pitch", "small_talk", "address_markers")
"""The pack lexicon's phrase lists that name an act (``question_words`` aside)."""


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
        self._lexicon = PhraseIndex((p, c) for c in LEXICON_CATEGORIES for p in lex[c])
        self._question_words = frozenset(w for phrase in lex["question_words"] for w in tokens(phrase))
        self._topics = topic_index(pack.concerns)
        vocabulary = set(COMMON_WORDS)
        for text in pack.corpus():
            vocabulary.update(tokens(text))
        self._vocabulary = frozenset(vocabulary)
        self._reading = lru_cache(maxsize=16384)(self._read_text)

    def understand(self, text: str, history: Sequence[str] = ()) -> list[AgentAct]:
        if not isinstance(text, str):
            raise TypeError(f"utterance must be str, got {type(text).__name__}")
        if not text.strip():
            return [AgentAct(A.SILENCE)]
        if len(text) > self.rules.max_utterance_chars:
            return [AgentAct(A.RAMBLING)]
        reading = self._reading(text)
        if reading == _MANIPULATION:
            return [AgentAct(A.MANIPULATION)]
        norm = normalize(text)
        if norm and any(norm == normalize(h) for h in history):
            return [AgentAct(A.REPEAT)]
        return list(reading)

    def _read_text(self, text: str) -> tuple[AgentAct, ...]:
        """What ``text`` says, whatever came before it (cached: agents repeat their lines)."""
        low = plain_text(text)
        words = tokens(text)
        # The manipulation regexes are the costliest checks; run them only when a word they need is there.
        if (not _META_WORDS.isdisjoint(words) or "<|" in low or "[" in low) and (
            _META.search(low) or _FALSE_AGREEMENT.search(low)
        ):
            return _MANIPULATION
        if not words or len([w for w in words if w in self._vocabulary]) < 0.4 * len(words):
            return (AgentAct(A.UNINTELLIGIBLE),)

        sentences = self.sentences(text)
        hits = [hit for *_, sentence_hits in sentences for hit in sentence_hits]
        if hits:
            # The keyword count first: a backend's own count of named concerns may cost more.
            if len({topic for _, topic in hits}) >= self.rules.topic_dump_threshold and (
                len(self._named_topics(sentences)) >= self.rules.topic_dump_threshold
            ):
                return (AgentAct(A.TOPIC_DUMP),)
            if self._stuffed(hits, sentences, len(words)):
                return (AgentAct(A.KEYWORD_STUFFING),)

        said = tuple(dict.fromkeys(topic for _, topic in hits))
        per_sentence: list[list[AgentAct]] = []
        before: list[str] = []
        for sentence, sentence_words, sentence_hits in sentences:
            per_sentence.append(self._sentence_acts(sentence, sentence_words, sentence_hits, said, before))
            before = sentence_words
        found = self._message_acts(sentences, per_sentence)
        unique = list(dict.fromkeys(found))
        topical = {a.act for a in unique if a.topic is not None}
        # An untargeted pitch or offer adds nothing when the same message has a topical one.
        unique = [a for a in unique if not (a.topic is None and a.act in topical)]
        return tuple(unique) or (AgentAct(A.SMALL_TALK),)

    def _message_acts(self, sentences: list, per_sentence: list[list[AgentAct]]) -> list[AgentAct]:
        """The acts of a message from its sentences' acts: here all of them."""
        return [act for acts in per_sentence for act in acts]

    @staticmethod
    def _stuffed(hits: list[tuple[str, str]], sentences: list, length: int) -> bool:
        """Keyword stuffing: a keyword 3+ times in one sentence, or 3+ times in a message where it
        is one word in ten or more, or keywords making up most of the message. Two real answers
        about one concern say its keyword three times in thirty words; a pile says it densely."""
        said = [kw for kw, _ in hits]
        most = max(map(said.count, set(said)))
        in_one = max(max(map(k.count, set(k))) for k in ([kw for kw, _ in h] for *_, h in sentences) if k)
        return (
            in_one >= 3
            or (most >= 3 and most >= STUFFED_SHARE * length)
            or (len(hits) >= 5 and len(hits) > 0.3 * length)
        )

    def _named_topics(self, sentences: list[tuple[str, list[str], list[tuple[str, str]]]]) -> set[str]:
        """The concerns a message names, for the topic-dump rule: here every concern whose keyword
        it says."""
        return {topic for *_, hits in sentences for _, topic in hits}

    def sentences(self, text: str) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
        """``(sentence, words, keyword hits)`` per sentence of ``text``; a hit is ``(keyword, concern id)``."""
        found = []
        parts = _SENTENCE.findall(plain_text(text))
        for sentence in parts:
            # One sentence has the whole text's words (only sentence marks lie outside it).
            words = tokens(text if len(parts) == 1 else sentence)
            found.append((sentence.strip(), words, self._topics.find_longest(words)))
        return found

    def _sentence_acts(
        self,
        sentence: str,
        words: list[str],
        hits: list[tuple[str, str]],
        _said: tuple[str, ...] = (),
        _before: Sequence[str] = (),
    ) -> list[AgentAct]:
        """The acts of one sentence; ``_said``: the concerns whose keywords the whole message says;
        ``_before``: the words of the sentence before it in the message."""
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
    "natural": lambda: importlib.import_module("ptod_env.reading").NaturalUnderstanding,
    "lexical": lambda: LexicalUnderstanding,
    # Optional backends live in ptod_env.backends and import their dependencies only when chosen.
    "embedding": lambda: importlib.import_module("ptod_env.backends.embedding").EmbeddingUnderstanding,
    "llm": lambda: importlib.import_module("ptod_env.backends.llm_understanding").LLMUnderstanding,
}


DEFAULT_UNDERSTANDING = "natural"
"""The backend an env uses unless told otherwise (:class:`ptod_env.reading.NaturalUnderstanding`)."""


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
