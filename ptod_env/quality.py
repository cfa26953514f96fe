"""The understanding layer's judgement of what an act is worth to the listener: its *quality*.

Understanding backends say which acts an utterance performs and about which concern; this module
then reads, as a person would, whether the words give the user anything. It works on the text and
the conversation so far, so it serves every backend (lexical, embedding, LLM) alike, and the env
applies it to whatever the backend returned (:meth:`ProactiveSalesEnv.decide`). What each quality
is worth is the dynamics' business (:mod:`ptod_env.dynamics`).

Qualities (``AgentAct.quality``):

- topical statements (``address``, ``offer`` / ``pitch`` with a topic):
  ``substantive`` (a concrete commitment, fact or option, about that concern),
  ``generic`` (gives something, but nothing about that concern, or the very content already given
  for another concern in this call), ``mention`` (names the topic, gives nothing),
  ``acknowledgement`` ("we hear you about..."), ``refusal`` ("we will not change...") or
  ``echo`` (the user's own words handed back);
- ``probe``: ``echo`` when the question is the user's own words, else None;
- untargeted ``offer``: ``substantive`` (a concrete incentive) or ``empty``;
- ``empathize``: ``responsive`` (fresh words) or ``formulaic`` (a formula already used this call).

The reading is lexical and deliberately structural: substance needs a *giving* construction (we +
an action, an option for the user, the absence of a cost, a quantity stated as a fact) **and**
words specific to the concern (from the scenario pack's own text about it, excluding the words
that name it). Keywords alone, numbers alone, or the same filler for every concern do not pass.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from ptod_env import acts as A
from ptod_env.acts import (
    ACKNOWLEDGEMENT,
    ECHO,
    EMPTY,
    FORMULAIC,
    GENERIC,
    MENTION,
    REFUSAL,
    RESPONSIVE,
    SUBSTANTIVE,
    AgentAct,
)
from ptod_env.scenario import ScenarioPack
from ptod_env.understanding import plain_text, tokens, topic_index


def word_set(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (easier to read than a list)."""
    return frozenset(text.split())


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_STOPWORDS = word_set(
    """a about above after again all also am an and any are as at be because been before being
    both but by can could did do does doing don't down during each even far few for from further
    had has have having he her here hers him his how i i'd i'll i'm i've if in into is it it's its
    just let me more most much my no nor not now of off on once only or other our ours out over own
    same she should so some such than that that's the their them then there there's these they
    this those through to too under until up very was we we'll we're were what when where which
    while who why will with would you you'll you're your yours yourself
    anyone anything everything nothing something else enough know need real seem thing things way
    like make made come take right us people mean sure see say look whole little good great new
    big small always never alway might must get getting got keep go goes turn put start part place
    kind sort matter important problem concern worry worried help use time call really actually
    exactly simply honestly pretty completely single back well also even still lot lots many every
    each able want okay yes yeah"""
)
_NUMBER_WORDS = word_set(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred hundreds thousand thousands half first second third"""
)
_UNITS = word_set(
    """percent minute minutes hour hours day days daily week weeks weekly month months monthly
    year years yearly euro euros dollar dollars cent cents"""
)
_NOT_CONTENT = _STOPWORDS | _NUMBER_WORDS
# "we <verb>" that only reports the speaker's attention, not an action for the user.
_ACK_VERBS = word_set(
    """hear heard understand understood know knew see saw get got appreciate feel felt recognise
    recognize realise realize note noted care value respect hope think believe want like
    acknowledge sympathise sympathize empathise empathize agree totally completely really
    definitely are were have love adore admire assure reassure promise wish worry mind"""
)
# "we <verb>" that promises *that* something will be done, not *what*: "we take care of the X",
# "our team handles X", "we'll sort it out". A person hears a generic commitment, not an answer.
_VAGUE_VERBS = word_set(
    """handle handles handled handling sort sorts sorted sorting deal deals dealt dealing look looks
    manage manages managed managing tackle tackles tackled fix fixes fixed solve solves solved resolve
    resolves resolved address addresses addressed promise promises"""
)
_ACK_CUES = frozenset({"hear", "understand", "know", "appreciate", "noted", "concern", "concerns", "valid", "point"})
_SUBJECTS = frozenset({"we", "we'll", "we're", "we've", "our", "i'll"})
_ABSENT = frozenset({"no", "zero", "without", "never"})
# What a platform does to cost the user something ("we don't charge any setup fee").
_COST_VERBS = word_set("charge take ask require bill deduct hold lock tie force keep")
_AUXILIARIES = frozenset({"also", "even", "will", "can", "team", "do", "does", "just", "always", "simply"})
_SPEAKERS = frozenset({"we", "i", "our", "we'll", "i'll", "can't", "won't", "cannot"})
_NEGATIONS = frozenset({"not", "no", "never", "cannot", "can't", "won't", "don't", "doesn't", "isn't", "aren't"})
_NOT_GIVING = _ACK_VERBS | _NEGATIONS | _VAGUE_VERBS
# Verbs whose negation declines help; other verbs negated ("we never penalise") are promises.
_HELP_VERBS = word_set(
    """change changing lower lowering reduce reducing offer offering help helping do doing make
    budge negotiate adjust waive cover covering give giving compensate pay paying provide
    guarantee move bend accommodate promise fix handle support discuss alter match
    anything"""
)
_REFUSAL_PHRASES = (
    "nothing we can do",
    "nothing i can do",
    "not negotiable",
    "non negotiable",
    "no exceptions",
    "take it or leave it",
    "how it is",
    "not our problem",
    "your problem",
    "deal with it",
    "no way",
    "not possible",
    "out of the question",
    "stays as it is",
    "stay as they are",
)
_OPTION = re.compile(
    r"\b(?:you(?:'re| are|'ll be| will be) able to|"
    r"you (?:can|could|may)(?! (?:relax|rest|trust|count|be|feel|stop|forget|believe|imagine|enjoy|sleep|"
    r"breathe|smile|calm|expect|hope|worry|look forward)\b)|you (?:choose|decide|set|keep|stay|pick|pause|"
    r"control|go|ride|cancel|see|start|"
    r"limit|exclude|include|also)|(?:you|you'll|you will) get(?!(?: [a-z']+){0,5} (?:sorted|handled|covered|"
    r"fixed|done|taken care))|you're free|you are free|free to|your choice|"
    r"option|optional|opt (?:in|out)|up to you|you(?:'re| are) (?:covered|insured|protected|paid|free)|"
    # an instruction the user can follow: "just hit pause", "simply stay offline"
    r"(?:just|simply) (?!a|an|the|want|like|know|need|say|think|wanted|fine|one)[a-z]+|"
    # the product or the team doing something: "the app creates", "our team sets up"
    r"(?:the|our) (?:app|platform|team|service|system|couriers|riders) "
    r"(?!is|are|was|were|has|have|handles|sorts|deals|looks|takes care|manages|fixes|ensures)[a-z]+s)\b"
)
# "no hassle", "no worries", "without any stress": the absence of a feeling, not of a cost.
_ABSENCE = re.compile(
    r"\b(?:no|zero|without|never|nobody|nothing) (?:any )?(?!(?:way|worries|worry|problem|problems|idea|thanks|"
    r"hassle|stress|fuss|trouble|headache|headaches|bother|issue|issues|concern|concerns)\b)[a-z]"
)
_FACT_WORDS = frozenset({"is", "are", "costs", "cost", "takes", "pays", "per", "within", "under", "only", "just"})
_FACT_WORDS |= frozenset({"capped", "cap", "at", "every", "each", "lands", "arrives", "same", "limit", "limited"})
_EMPATHY_CUES = (
    "i understand",
    "i hear you",
    "that makes sense",
    "i get that",
    "i get it",
    "that's fair",
    "that is fair",
    "understandable",
    "i can imagine",
    "sorry to hear",
    "i appreciate",
    "right to",
    "good point",
)


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A crude plural/verb-s stem, enough to match "margins" with "margin"."""
    if word[-1:] != "s":
        return word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=16384)
def root(word: str) -> str:
    """A looser stem for matching a word with its company in the pack's lines ("covered" with
    "covers", "included" with "includes"): the first five letters of its stem."""
    return stem(word)[:5]


@lru_cache(maxsize=8192)
def _roots(sentences: tuple[tuple[str, ...], ...]) -> frozenset[str]:
    return frozenset(w[:5] for sentence in sentences for w in _stems(sentence))


@lru_cache(maxsize=8192)
def words_of(text: str) -> tuple[str, ...]:
    """Tokens with "%" read as "percent"."""
    return tuple(tokens(text.replace("%", " percent ")))


@lru_cache(maxsize=8192)
def content(words: tuple[str, ...]) -> frozenset[str]:
    """The stems of the words that carry content (no function words, no numbers)."""
    return frozenset(map(stem, [w for w in words if w not in _NOT_CONTENT and not w.isdigit()]))


@lru_cache(maxsize=8192)
def _trigrams(text: str) -> frozenset[tuple[str, ...]]:
    return _sentence_trigrams(words_of(text))


@lru_cache(maxsize=8192)
def _sentence_trigrams(words: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    return frozenset(zip(words, words[1:], words[2:], strict=False))


@lru_cache(maxsize=8192)
def _padded(text: str) -> str:
    return f" {' '.join(words_of(text))} "


class QualityJudge:
    """Judges the quality of acts in one scenario pack (build once per pack)."""

    def __init__(self, pack: ScenarioPack):
        self.pack = pack
        self._topics = topic_index(pack.concerns)
        self._topic_hits: dict[tuple[str, ...], frozenset[str]] = {}
        self._empathy_cues = tuple(dict.fromkeys((*_EMPATHY_CUES, *pack.lexicon.get("empathize", ()))))
        vocab: dict[str, set[str]] = {}
        self._keywords: dict[str, frozenset[tuple[str, ...]]] = {}
        self._company: dict[str, dict[str, frozenset[str]]] = {}
        names: dict[str, frozenset[str]] = {}
        for spec in pack.concerns:
            names[spec.id] = content(tuple(w for kw in spec.keywords for w in words_of(kw)))
            self._keywords[spec.id] = frozenset(_stems(words_of(kw)) for kw in spec.keywords)
            # How the pack says each remedy: a word specific to the concern counts when the answer
            # uses it with a word it keeps company with there ("cap" with "percent" or "order").
            remedies = [
                frozenset(root(w) for w in words_of(line) if w not in _STOPWORDS and stem(w) not in names[spec.id])
                for line in (*spec.probes, *spec.answers)
            ]
            # For each word of those lines, the words it shares a line with.
            self._company[spec.id] = {
                word: frozenset().union(*(line - {word} for line in remedies if word in line))
                for word in frozenset().union(*remedies)
            }
            # What is said *about* a remedy (how the pack asks about and answers the concern), not
            # the user's complaint (hints, voices, description): repeating a worry gives nothing.
            text = " ".join((spec.label, *spec.probes, *spec.answers))
            vocab[spec.id] = set(content(words_of(text)))
        spread = Counter(w for ws in vocab.values() for w in ws)
        # A word used for many concerns says nothing about any one of them.
        limit = max(2, len(pack.concerns) // 4)
        self._specific = {cid: frozenset(w for w in ws if spread[w] <= limit) - names[cid] for cid, ws in vocab.items()}
        self._names = names
        # Any concern's words: what is left of an answer without them is its frame.
        self._topical = frozenset().union(*self._specific.values(), *names.values())
        # The lines users voice their worries in: handing them back is an echo, whoever said them.
        self._complaints = frozenset().union(
            *(_trigrams(line) for spec in pack.concerns for line in (*spec.hints, *spec.voices))
        )

    def judge(self, acts: Sequence[AgentAct], text: str, turns: Sequence[tuple[str, str]]) -> list[AgentAct]:
        """``acts`` with their quality set. ``turns``: the conversation before ``text`` as
        ``(speaker, text)`` pairs, speaker ``"Agent"`` or ``"User"``."""
        if not any(a.act in _JUDGED for a in acts):
            return list(acts)
        turns = [(speaker, readable(t) if speaker == "Agent" else t) for speaker, t in turns]
        said = _Said(text, turns, self._complaints)
        return [a._replace(quality=self._quality(a, said)) if a.act in _JUDGED else a for a in acts]

    def _quality(self, act: AgentAct, said: _Said) -> str | None:
        if act.act == A.EMPATHIZE:
            return self._empathy(said)
        if act.act == A.PROBE:
            # A question in the words users voice worries in is a fair question; in this user's own
            # words, an echo.
            return ECHO if said.echoed(said.questions or said.sentences, complaints=False) else None
        if act.topic is None:
            if act.act != A.OFFER:
                return None
            # An incentive for no concern in particular is worth something only with a figure on it.
            untargeted = [s for s in said.statements if not self._hits(s)]
            return SUBSTANTIVE if any(gives(s) and quantified(s) for s in untargeted) else EMPTY
        return self._answer(act.topic, said)

    def _answer(self, topic: str, said: _Said) -> str:
        own = [s for s in said.statements if self._about(s, topic)] or said.statements
        if not own:
            return MENTION
        if any(refuses(s) for s in own):
            return REFUSAL
        novel = [without_reassurance(said.novel(s)) for s in own]
        if any(gives(s) for s in novel):
            names = self._names.get(topic, frozenset())
            # Substance is the agent's own: words the user already said do not count as given.
            mine = frozenset().union(*(self._stated(s, topic) for s in novel))
            listed = _comma_listed(said.text, self._topical) if mine else frozenset()
            specific = {w for w in mine - listed if not said.user_said(w)}
            given = bool(specific and self._accompanied(specific, own, listed, topic))
            given = given or any(denies_cost(s, names) for s in novel)
            if given and not said.reused_frame(own, self._topical):
                return SUBSTANTIVE
            return GENERIC
        if said.echoed(own):
            return ECHO
        if any(_ACK_CUES & set(s) for s in own):
            return ACKNOWLEDGEMENT
        return MENTION

    def _accompanied(self, words: set[str], own: Sequence[tuple[str, ...]], listed: frozenset[str], topic: str) -> bool:
        """Whether the concern's ``words`` in the answer (``own``, its sentences) come with the
        company the pack keeps them in: another word of a pack line that says this remedy ("cap"
        with "percent" or "order"), or one another, side by side ("the money lands"; "the cap,
        menu" is a list). One word alone in a giving frame is the topic dressed
        up ("we cover the cap on the commission"). ``listed``: list items, nobody's company."""
        context = _roots(tuple(own))
        if listed:
            context -= {root(w) for w in listed}
        company = self._company.get(topic, {})
        if any(not company.get(root(w), frozenset()).isdisjoint(context) for w in words):
            return True
        return any(a in words and b in words for s in own for a, b in itertools.pairwise(_stems(s)))

    def _stated(self, sentence: tuple[str, ...], topic: str) -> frozenset[str]:
        return stated(
            sentence,
            self._specific.get(topic, frozenset()),
            self._keywords.get(topic, frozenset()),
            self._topical,
        )

    def _about(self, sentence: tuple[str, ...], topic: str) -> bool:
        hits = self._hits(sentence)
        return topic in hits or not hits

    def _hits(self, sentence: tuple[str, ...]) -> frozenset[str]:
        hits = self._topic_hits.get(sentence)
        if hits is None:
            if len(self._topic_hits) > 8192:
                self._topic_hits.clear()
            hits = self._topic_hits[sentence] = frozenset(cid for _, cid in self._topics.find_longest(sentence))
        return hits

    def _empathy(self, said: _Said) -> str:
        padded = _padded(said.text)
        cues = [f" {cue} " for cue in self._empathy_cues if f" {cue} " in padded]
        if not cues:
            # No known formula: the opening words are the formula.
            cues = [f" {' '.join((said.statements or said.sentences or [()])[0][:4])} "]
        earlier = [_padded(t) for speaker, t in said.turns if speaker == "Agent"]
        used = any(cue.strip() and cue in line for cue in cues for line in earlier)
        return FORMULAIC if used else RESPONSIVE


_JUDGED = frozenset({A.ADDRESS, A.OFFER, A.PITCH, A.PROBE, A.EMPATHIZE})


class _Said:
    """One utterance split into sentences, with what the user has said before."""

    def __init__(self, text: str, turns: Sequence[tuple[str, str]], complaints: frozenset[tuple[str, ...]]):
        self.text = text
        self.turns = turns
        self.sentences, self.questions, self.statements = _sentences(text)
        self.user_lines = tuple(t for speaker, t in turns if speaker == "User")
        self.complaints = complaints
        self._novel: dict[tuple[tuple[str, ...], bool], tuple[str, ...]] = {}

    @functools.cached_property
    def heard(self) -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
        """The user's content words and word trigrams so far (:func:`_heard`)."""
        return _heard(self.user_lines)

    def user_said(self, word: str) -> bool:
        """Whether the user has used this (stemmed content) word in the call."""
        return word in self.heard[0]

    def novel(self, sentence: tuple[str, ...], complaints: bool = True) -> tuple[str, ...]:
        """The sentence without the stretches (three words or more) copied from the user, or
        (with ``complaints``) from the lines users voice their worries in."""
        found = self._novel.get((sentence, complaints))
        if found is None:
            heard = self.heard[1]
            pack = self.complaints if complaints else frozenset()
            mine = _sentence_trigrams(sentence)
            if mine.isdisjoint(heard) and mine.isdisjoint(pack):
                return sentence
            covered = [False] * len(sentence)
            for i in range(len(sentence) - 2):
                if sentence[i : i + 3] in heard or sentence[i : i + 3] in pack:
                    covered[i : i + 3] = [True] * 3
            found = tuple(w for w, c in zip(sentence, covered, strict=True) if not c)
            self._novel[sentence, complaints] = found
        return found

    def echoed(self, sentences: Sequence[tuple[str, ...]], complaints: bool = True) -> bool:
        """Most of these words are the user's own (or, with ``complaints``, the pack's complaint
        lines')."""
        total = sum(len(s) for s in sentences)
        copied = sum(len(s) - len(self.novel(s, complaints)) for s in sentences)
        return total > 0 and copied >= 0.4 * total

    def reused_frame(self, own: Sequence[tuple[str, ...]], topical: frozenset[str]) -> bool:
        """An earlier sentence of the agent's in this call had the same frame: the same words once
        every concern's own words are set aside (one formula filled with each concern's words in
        turn, "we take care of the X for you"). Same: at least :data:`SAME_FRAME` of the two
        frames' words shared (Jaccard)."""
        mine = frame(tuple(w for s in own for w in s), topical)
        if len(mine) < 4:
            return False
        return any(
            len(mine & theirs) >= SAME_FRAME * len(mine | theirs)
            for speaker, line in self.turns
            if speaker == "Agent"
            for theirs in (frame(sentence, topical) for sentence in _sentences(line)[2])
        )


SAME_FRAME = 0.75


@lru_cache(maxsize=4096)
def _heard(user_lines: tuple[str, ...]) -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
    """The user's lines so far as (their content words, their word trigrams); cached, since the
    same call's lines come back every turn with one more."""
    if not user_lines:
        return frozenset(), frozenset()
    # Built on the call's earlier lines (cached the turn before), so each turn adds one line's worth.
    words, trigrams = _heard(user_lines[:-1])
    return words | content(words_of(user_lines[-1])), trigrams | _trigrams(user_lines[-1])


@lru_cache(maxsize=8192)
def frame(words: tuple[str, ...], topical: frozenset[str]) -> frozenset[str]:
    """The words (function words included: they carry a formula's shape) of a stretch of text
    that belong to no concern."""
    return frozenset(map(stem, words)) - topical


@lru_cache(maxsize=8192)
def stated(
    sentence: tuple[str, ...],
    specific: frozenset[str],
    keywords: frozenset[tuple[str, ...]],
    topical: frozenset[str],
) -> frozenset[str]:
    """The concern's ``specific`` words as this sentence uses them, less those that only name the
    topic: a bare list of concern words ("the cap and menu and percent", :func:`_listed`) or a
    word that follows one of the concern's ``keywords`` ("the commission cap") is the topic said
    again, not something given. ``topical``: every concern's words."""
    stems = _stems(sentence)
    candidates = [i for i, word in enumerate(stems) if word in specific]
    if not candidates:
        return frozenset()
    listed = _listed(stems, topical)
    ends = _last_words(keywords)
    return frozenset(
        stems[i]
        for i in candidates
        if i not in listed
        and not (i and stems[i - 1] in ends and any(stems[max(0, i - len(k)) : i] == k for k in keywords))
    )


@lru_cache(maxsize=256)
def _last_words(phrases: frozenset[tuple[str, ...]]) -> frozenset[str]:
    return frozenset(phrase[-1] for phrase in phrases if phrase)


@lru_cache(maxsize=8192)
def _stems(words: tuple[str, ...]) -> tuple[str, ...]:
    """Words as the judge compares them: content words stemmed, function words as they are."""
    return tuple(w if w in _STOPWORDS else stem(w) for w in words)


_CONJUNCTIONS = frozenset({"and", "or", "plus", "nor"})
_DETERMINERS = frozenset({"the", "a", "an", "your", "our", "their", "its", "any", "all", "some"})


def _listed(stems: Sequence[str], topical: frozenset[str]) -> frozenset[int]:
    """Positions of topical words in a bare list: topical words joined by a conjunction, the first
    of each pair a word on its own ("the cap and menu", "cap or the percent"). A list whose items
    are phrases ("a daily allowance and the insurance") is left alone: its words qualify each other."""
    listed: set[int] = set()
    previous, joined = None, False
    for i, word in enumerate(stems):
        if word in topical:
            if previous is not None and joined:
                listed.update((previous, i))
            # A new item starts here unless it continues a phrase ("daily allowance").
            previous = i if i == 0 or stems[i - 1] not in topical else None
            joined = False
        elif word in _CONJUNCTIONS:
            joined = previous is not None
        elif word not in _DETERMINERS:
            previous, joined = None, False
    return frozenset(listed)


_HIDDEN = re.compile(r"\w\?\w")


@lru_cache(maxsize=8192)
def readable(line: str) -> str:
    """A transcript line as it was meant: the transcript shows characters outside the charset
    (zero-width ones included) as "?", which would make a line sprinkled with them look new."""
    return line.replace("?", "") if _HIDDEN.search(line) else line


@lru_cache(maxsize=8192)
def _sentences(text: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], list[tuple[str, ...]]]:
    """(all sentences, questions, statements) of a text, each as its words."""
    parts = [(words_of(part), part.strip().endswith("?")) for part in _SENTENCE.findall(text)]
    parts = [(words, question) for words, question in parts if words]
    return [w for w, _ in parts], [w for w, q in parts if q], [w for w, q in parts if not q]


@lru_cache(maxsize=8192)
def _comma_listed(text: str, topical: frozenset[str]) -> frozenset[str]:
    """Single topical words on both sides of a comma ("the cap, menu at no cost"): list items (the
    words of a sentence have lost their commas, so :func:`_listed` cannot see these). A phrase on
    either side ("any day, the money lands") is no list item."""
    listed = set()
    text = text.lower() if text.isascii() else plain_text(text)
    comma = text.find(",")
    while comma >= 0:
        if stem(text[text.rfind(" ", 0, comma) + 1 : comma].strip(_PUNCTUATION)) not in topical:
            comma = text.find(",", comma + 1)
            continue
        left = [stem(w.strip(_PUNCTUATION)) for w in text[max(0, comma - 60) : comma].split()[-2:]]
        right = [w.strip(_PUNCTUATION) for w in text[comma + 1 : comma + 80].split()[:6]]
        right = [stem(w) for w in right if w not in _DETERMINERS and w not in _CONJUNCTIONS][:2]
        # A single word each side: the word before the left one and after the right one are not topical.
        single = (len(left) < 2 or left[0] not in topical) and (len(right) < 2 or right[1] not in topical)
        if single and left and right and left[-1] in topical and right[0] in topical:
            listed.update((left[-1], right[0]))
        comma = text.find(",", comma + 1)
    return frozenset(listed)


_PUNCTUATION = ".,;:!?\"'()[]"


@lru_cache(maxsize=8192)
def gives(sentence: tuple[str, ...]) -> bool:
    """Whether a sentence gives the listener something: a commitment (we + an action), an option,
    the absence of a cost, or a quantity stated as a fact."""
    text = " ".join(sentence)
    if _OPTION.search(text) or _ABSENCE.search(text):
        return True
    for i, word in enumerate(sentence):
        if word in _SUBJECTS:
            following = [w for w in sentence[i + 1 : i + 4] if w not in _AUXILIARIES]
            if following and following[0] in _NEGATIONS:
                # "we never penalise", "we don't charge": a promise not to do harm.
                following = following[1:]
            if following and following[0] not in _NOT_GIVING and tuple(following[:2]) != ("take", "care"):
                return True
    return (
        quantified(sentence) and any(w in _UNITS or w.isdigit() for w in sentence) and bool(_FACT_WORDS & set(sentence))
    )


_REASSURANCE = re.compile(
    r"\b(?:100|hundred) percent (?:covered|guaranteed|sure|safe|certain|handled|sorted|secure|protected|done|"
    r"reliable|right|yours)\b"
)


@lru_cache(maxsize=8192)
def without_reassurance(sentence: tuple[str, ...]) -> tuple[str, ...]:
    """The sentence without a figure of speech that only reassures ("100% covered"): it states no
    quantity of anything."""
    text = " ".join(sentence)
    return tuple(_REASSURANCE.sub(" ", text).split()) if "percent" in sentence else sentence


@lru_cache(maxsize=8192)
def quantified(sentence: tuple[str, ...]) -> bool:
    return any(w.isdigit() or w in _NUMBER_WORDS for w in sentence)


def denies_cost(sentence: tuple[str, ...], names: frozenset[str]) -> bool:
    """Whether a sentence says the very thing the concern is about is absent ("no signup fee",
    "we don't charge any setup fee")."""
    return any(
        word in _ABSENT and names & {stem(w) for w in sentence[i + 1 : i + 3]} for i, word in enumerate(sentence)
    ) or any(
        word in _NEGATIONS
        and sentence[i + 1 : i + 2]
        and sentence[i + 1] in _COST_VERBS
        and names & {stem(w) for w in sentence[i + 2 : i + 6]}
        for i, word in enumerate(sentence)
    )


@lru_cache(maxsize=8192)
def refuses(sentence: tuple[str, ...]) -> bool:
    """Whether a sentence declines to do anything about the matter: a speaker's negated offer of
    help ("we will not change...", "we can't lower...") or a flat no ("not negotiable")."""
    text = " ".join(sentence)
    if any(phrase in text for phrase in _REFUSAL_PHRASES):
        return True
    for i, word in enumerate(sentence):
        if word in _NEGATIONS and _SPEAKERS & set(sentence[max(0, i - 3) : i + 1]):
            following = [w for w in sentence[i + 1 : i + 4] if w not in ("be", "going", "to", "able", "ever")]
            if following and following[0] in _HELP_VERBS:
                return True
    return False


_JUDGES: dict[int, tuple[ScenarioPack, QualityJudge]] = {}


def judge(acts: Sequence[AgentAct], text: str, turns: Sequence[tuple[str, str]], pack: ScenarioPack) -> list[AgentAct]:
    """Set the quality of each act in ``acts``, read from ``text`` (the agent's utterance) and
    ``turns`` (the conversation before it). Works on any understanding backend's acts; acts that
    carry no quality judgement (greet, close, faults...) come back unchanged."""
    cached = _JUDGES.get(id(pack))
    if cached is None or cached[0] is not pack:
        if len(_JUDGES) >= 32:
            _JUDGES.pop(next(iter(_JUDGES)))
        cached = _JUDGES[id(pack)] = (pack, QualityJudge(pack))
    return cached[1].judge(acts, text, turns)
